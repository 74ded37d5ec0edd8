/*
** imm.c - APS IMM reader (see imm.h).
*/
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imm.h"
#include "intr.h"
#include "os.h"

static uint32_t imm_u32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static int32_t imm_i32(const uint8_t *b)
{
	uint32_t u = imm_u32(b);
	int32_t v;
	memcpy(&v, &u, 4);
	return v;
}

void imm_header_decode(const uint8_t *b, imm_header *h)
{
	uint64_t u = (uint64_t)imm_u32(b + 128) |
		     (uint64_t)imm_u32(b + 132) << 32;
	h->compression = imm_i32(b + 4);
	h->rows = imm_i32(b + 108);
	h->cols = imm_i32(b + 112);
	h->bytes = imm_i32(b + 116);
	memcpy(&h->elapsed, &u, 8);
	h->dlen = imm_u32(b + 152);
	h->buffer_number = imm_i32(b + 160);
}

static int imm_pread(imm_file *m, void *buf, size_t n, off_t at, size_t f,
		     const char *what, char *err)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(m->fd, (char *)buf + got, n - got,
				  at + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return err_set(err, "%s: frame %zu: cannot read its %s:"
				       " %s", m->path, f, what,
				       r < 0 ? strerror(errno)
					     : "file shrank while reading");
		got += (size_t)r;
	}
	return 0;
}

static size_t imm_payload_bytes(const imm_file *m, const imm_header *h)
{
	return (size_t)h->dlen * (m->sparse ? 6 : 2);
}

/* the header of frame f at offset at, checked against the first */
static int imm_header_at(imm_file *m, off_t at, size_t f, imm_header *h,
			 char *err)
{
	uint8_t b[IMM_HEADER];
	off_t left = m->size - at;
	if (left < IMM_HEADER)
		return err_set(err, "%s: frame %zu: truncated header (%lld of"
			       " %d bytes)", m->path, f, (long long)left,
			       IMM_HEADER);
	if (at > 0 && at == m->ahead)	/* read with the last payload */
		memcpy(b, m->payload + m->ahead_ix, IMM_HEADER);
	else if (imm_pread(m, b, IMM_HEADER, at, f, "header", err) != 0)
		return -1;
	imm_header_decode(b, h);
	if (h->compression != (m->sparse ? IMM_SPARSE : IMM_DENSE))
		return err_set(err, "%s: frame %zu: header field compression ="
			       " %ld, the first frame has %d", m->path, f,
			       (long)h->compression,
			       m->sparse ? IMM_SPARSE : IMM_DENSE);
	if ((size_t)h->rows != m->rows || (size_t)h->cols != m->cols ||
	    h->rows <= 0 || h->cols <= 0)
		return err_set(err, "%s: frame %zu: header fields rows, cols ="
			       " %ld, %ld, the first frame has %zu, %zu",
			       m->path, f, (long)h->rows, (long)h->cols,
			       m->rows, m->cols);
	if (!m->sparse && (size_t)h->dlen != m->rows * m->cols)
		return err_set(err, "%s: frame %zu: header field dlen = %lu,"
			       " a dense %zux%zu frame has %zu pixels",
			       m->path, f, (unsigned long)h->dlen, m->rows,
			       m->cols, m->rows * m->cols);
	if (m->sparse && (size_t)h->dlen > m->rows * m->cols)
		return err_set(err, "%s: frame %zu: header field dlen = %lu is"
			       " more than the %zu pixels of a %zux%zu frame",
			       m->path, f, (unsigned long)h->dlen,
			       m->rows * m->cols, m->rows, m->cols);
	if ((off_t)imm_payload_bytes(m, h) > left - IMM_HEADER)
		return err_set(err, "%s: frame %zu: truncated: header field"
			       " dlen = %lu needs %zu payload bytes, %lld are"
			       " left", m->path, f, (unsigned long)h->dlen,
			       imm_payload_bytes(m, h),
			       (long long)(left - IMM_HEADER));
	return 0;
}

/* the kind and shape from the first header, before any other check */
static int imm_first(imm_file *m, char *err)
{
	uint8_t b[IMM_HEADER];
	imm_header h;
	if (m->size < IMM_HEADER)
		return err_set(err, "%s: frame 0: truncated header (%lld of %d"
			       " bytes)", m->path, (long long)m->size,
			       IMM_HEADER);
	if (imm_pread(m, b, IMM_HEADER, 0, 0, "header", err) != 0)
		return -1;
	imm_header_decode(b, &h);
	if (h.compression != IMM_DENSE && h.compression != IMM_SPARSE)
		return err_set(err, "%s: frame 0: header field compression = %ld"
			       " (0 dense or 6 sparse)", m->path,
			       (long)h.compression);
	if (h.rows <= 0 || h.rows > IMM_MAXSIDE || h.cols <= 0 ||
	    h.cols > IMM_MAXSIDE ||
	    (size_t)h.rows * (size_t)h.cols > IMM_MAXPIX)
		return err_set(err, "%s: frame 0: header fields rows, cols = %ld,"
			       " %ld (each 1..%d, at most %zu pixels)", m->path,
			       (long)h.rows, (long)h.cols, IMM_MAXSIDE,
			       IMM_MAXPIX);
	if (h.compression == IMM_DENSE && h.bytes != 2)
		return err_set(err, "%s: frame 0: header field bytes = %ld (only"
			       " 2-byte pixels are read)", m->path,
			       (long)h.bytes);
	m->sparse = h.compression == IMM_SPARSE;
	m->rows = (size_t)h.rows;
	m->cols = (size_t)h.cols;
	return 0;
}

int imm_open(imm_file *m, const char *path, char *err)
{
	struct stat st;
	off_t at = 0;
	imm_header h;
	memset(m, 0, sizeof *m);
	m->fd = -1;
	if ((m->path = strdup(path)) == NULL)
		return err_set(err, "%s: out of memory", path);
	if ((m->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(m->fd, &st) != 0)
		return err_set(err, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return err_set(err, "%s: not a regular file", path);
	os_input_add(path);	/* no result of this run may replace it */
	m->size = st.st_size;
	if (imm_first(m, err) != 0)
		return -1;
	/* the count: one pass over the headers, each checked */
	while (at < m->size) {
		if (m->nframes % 4096 == 0 && intr_pending())
			return err_set(err, "%s: interrupted", path);
		if (imm_header_at(m, at, m->nframes, &h, err) != 0)
			return -1;
		at += IMM_HEADER + (off_t)imm_payload_bytes(m, &h);
		m->nframes++;
	}
	m->cap = m->sparse ? 0 : m->rows * m->cols * 2;
	if (m->cap && (m->payload = err_malloc(m->cap, 1, err)) == NULL)
		return err_prefix(err, "%s", path);
	return 0;
}

void imm_close(imm_file *m)
{
	if (m->fd >= 0)
		close(m->fd);
	free(m->path);
	free(m->payload);
	memset(m, 0, sizeof *m);
	m->fd = -1;
}

/* A sparse frame's entries in place in the payload: n pixel indices
** (uint32), then n counts (uint16), little-endian. Every index is tested
** in one loop without an exit (it vectorises); the first one past the
** frame is then named. */
static int imm_sparse_payload(imm_file *m, size_t f, imm_sparse *sp,
			      char *err)
{
	size_t n = m->h.dlen, npix = m->rows * m->cols;
	off_t at = m->off + IMM_HEADER, next = at + (off_t)(n * 6);
	/* (the next frame's header comes with the payload when there is
	** one: a read a frame instead of two, which here cost a third of
	** the reading) */
	size_t len = n * 6 + (m->size - next >= IMM_HEADER ? IMM_HEADER : 0);
	uint32_t *pix;
	uint16_t *cnt;
	uint32_t top = 0;
	m->ahead = 0;
	if (len > m->cap) {
		uint8_t *p = realloc(m->payload, len);
		if (p == NULL)
			return err_set(err, "%s: frame %zu: out of memory",
				       m->path, f);
		m->payload = p;
		m->cap = len;
	}
	if (imm_pread(m, m->payload, len, at, f, "payload", err) != 0)
		return -1;
	if (len > n * 6) {
		m->ahead = next;
		m->ahead_ix = n * 6;
	}
	pix = (uint32_t *)(void *)m->payload;	/* (malloc'd: aligned) */
	cnt = (uint16_t *)(void *)(m->payload + 4 * n);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	for (size_t k = 0; k < n; k++) {
		pix[k] = imm_u32(m->payload + 4 * k);
		cnt[k] = (uint16_t)(m->payload[4 * n + 2 * k] |
				    m->payload[4 * n + 2 * k + 1] << 8);
	}
#endif
	for (size_t k = 0; k < n; k++)
		top = pix[k] > top ? pix[k] : top;
	for (size_t k = 0; top >= npix && k < n; k++)
		if (pix[k] >= npix)
			return err_set(err, "%s: frame %zu: pixel index %lu (entry"
				       " %zu of %zu) is past the %zux%zu frame",
				       m->path, f, (unsigned long)pix[k], k, n,
				       m->rows, m->cols);
	sp->n = n;
	sp->pixel = pix;
	sp->count = cnt;
	return 0;
}

static int imm_dense_payload(imm_file *m, size_t f, uint16_t *out, char *err)
{
	size_t n = m->rows * m->cols;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* the file's byte order: straight into the frame */
	return imm_pread(m, out, n * 2, m->off + IMM_HEADER, f, "payload",
			 err);
#else
	size_t k;
	if (imm_pread(m, m->payload, n * 2, m->off + IMM_HEADER, f, "payload",
		      err) != 0)
		return -1;
	for (k = 0; k < n; k++)
		out[k] = (uint16_t)(m->payload[2 * k] |
				    m->payload[2 * k + 1] << 8);
	return 0;
#endif
}

int imm_frame(imm_file *m, size_t f, uint16_t *out, imm_sparse *sp,
	      char *err)
{
	if (f >= m->nframes || f < m->next)
		return err_set(err, "%s: frame %zu out of order or past the %zu"
			       " frames", m->path, f, m->nframes);
	for (;;) {
		if (!m->has_h) {
			if (imm_header_at(m, m->off, m->next, &m->h, err) != 0)
				return -1;
			m->has_h = 1;
		}
		if (m->next == f)
			break;
		m->off += IMM_HEADER + (off_t)imm_payload_bytes(m, &m->h);
		m->next++;
		m->has_h = 0;
	}
	if ((m->sparse ? imm_sparse_payload(m, f, sp, err)
		       : imm_dense_payload(m, f, out, err)) != 0)
		return -1;
	m->off += IMM_HEADER + (off_t)imm_payload_bytes(m, &m->h);
	m->next++;
	m->has_h = 0;
	return 0;
}
