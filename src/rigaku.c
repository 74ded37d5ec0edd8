/*
** rigaku.c - Rigaku sparse .bin module reader (see rigaku.h).
*/
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "intr.h"
#include "os.h"
#include "rigaku.h"

#define RIG_COUNT(w) ((uint16_t)((w) & 0xFFFu))
#define RIG_PIXEL(w) ((uint32_t)(((w) >> 16) & 0xFFFFFu))
#define RIG_FLAG(w) ((int)(((w) >> 36) & 1u))
#define RIG_FRAME(w) ((w) >> 40)

/* the files are little-endian whatever the host */
static uint64_t rig_le64(uint64_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return __builtin_bswap64(w);
#else
	return w;
#endif
}

int rig_open(rig_module *m, const char *path, size_t rows, size_t cols,
	     char *err)
{
	struct stat st;
	m->fd = -1;
	m->path = NULL;
	if (rows == 0 || cols == 0 || rows > RIG_MAXPIX / cols)
		return err_set(err, "%s: a %zux%zu module has more pixels than"
			       " the 20 index bits hold", path, rows, cols);
	if ((m->path = strdup(path)) == NULL)
		return err_set(err, "%s: out of memory", path);
	if ((m->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(m->fd, &st) != 0)
		return err_set(err, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return err_set(err, "%s: not a regular file", path);
	os_input_add(path);	/* no result of this run may replace it */
	if (st.st_size % 8 != 0)
		return err_set(err, "%s: truncated: %lld bytes is not a whole"
			       " number of 8-byte words (the last word has"
			       " %d bytes)", path, (long long)st.st_size,
			       (int)(st.st_size % 8));
	m->nwords = (uint64_t)st.st_size / 8;
	m->pos = 0;
	m->bn = m->bi = 0;
	m->rows = rows;
	m->cols = cols;
	m->nframes = 0;
	m->prev = 0;
	m->flag = -1;
	return 0;
}

void rig_close(rig_module *m)
{
	if (m->fd >= 0)
		close(m->fd);
	free(m->path);
	m->fd = -1;
	m->path = NULL;
}

void rig_set_frames(rig_module *m, size_t nframes) { m->nframes = nframes; }

int rig_frames_seen(rig_module *m, uint64_t *n, char *err)
{
	uint64_t w;
	*n = 0;
	if (m->nwords == 0)
		return 0;
	if (pread(m->fd, &w, 8, (off_t)(m->nwords - 1) * 8) != 8)
		return err_set(err, "%s: cannot read the last word: %s",
			       m->path, strerror(errno));
	*n = RIG_FRAME(rig_le64(w)) + 1;
	return 0;
}

/* refill buf from word m->pos on; 0 words left is not an error */
static int rig_fill(rig_module *m, char *err)
{
	uint64_t left = m->nwords - m->pos;
	size_t want = left < RIG_BUFWORDS ? (size_t)left : RIG_BUFWORDS, k;
	size_t got = 0;
	while (got < want * 8) {
		ssize_t r = pread(m->fd, (char *)m->buf + got, want * 8 - got,
				  (off_t)(m->pos * 8 + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return err_set(err, "%s: word %llu: %s", m->path,
				       (unsigned long long)m->pos,
				       r < 0 ? strerror(errno)
					     : "file shrank while reading");
		got += (size_t)r;
	}
	for (k = 0; k < want; k++)
		m->buf[k] = rig_le64(m->buf[k]);
	m->bn = want;
	m->bi = 0;
	return 0;
}

/* every field of word w (at m->pos) against the file so far */
static int rig_check(rig_module *m, uint64_t w, char *err)
{
	uint64_t f = RIG_FRAME(w);
	uint32_t p = RIG_PIXEL(w);
	if (f < m->prev)
		return err_set(err, "%s: word %llu: frame %llu after frame %llu"
			       " (words must be sorted by frame)", m->path,
			       (unsigned long long)m->pos,
			       (unsigned long long)f,
			       (unsigned long long)m->prev);
	if (f >= m->nframes)
		return err_set(err, "%s: word %llu: frame %llu is past the"
			       " %zu frames of the run", m->path,
			       (unsigned long long)m->pos,
			       (unsigned long long)f, m->nframes);
	if (p >= m->rows * m->cols)
		return err_set(err, "%s: word %llu (frame %llu): pixel index"
			       " %lu is past the %zux%zu module", m->path,
			       (unsigned long long)m->pos,
			       (unsigned long long)f, (unsigned long)p,
			       m->rows, m->cols);
	if (m->flag < 0)
		m->flag = RIG_FLAG(w);
	else if (RIG_FLAG(w) != m->flag)
		return err_set(err, "%s: word %llu (frame %llu): module flag"
			       " (bit 36) is %d, the file's first word has %d",
			       m->path, (unsigned long long)m->pos,
			       (unsigned long long)f, RIG_FLAG(w), m->flag);
	m->prev = f;
	return 0;
}

#if defined(__x86_64__) && defined(__GNUC__)
/* 8 words a step while all are frame f's; returns where it stopped (the
** scalar loop takes the rest) and ORs a bad field into *bad */
static __attribute__((target("avx512f"))) size_t
rig_run8(const uint64_t *buf, size_t i, size_t e, uint64_t f, uint64_t npx,
	 uint64_t flag, uint32_t *pix, uint16_t *cnt, uint64_t *bad)
{
	const __m512i fv = _mm512_set1_epi64((long long)f);
	const __m512i lim = _mm512_set1_epi64((long long)npx);
	const __m512i fl = _mm512_set1_epi64((long long)flag);
	const __m512i pm = _mm512_set1_epi64(0xFFFFF), cm =
		_mm512_set1_epi64(0xFFF), one = _mm512_set1_epi64(1);
	__mmask8 no = 0;
	size_t j = i;
	for (; j + 8 <= e; j += 8) {
		__m512i w = _mm512_loadu_si512((const void *)(buf + j));
		__m512i p = _mm512_and_si512(_mm512_srli_epi64(w, 16), pm);
		if (_mm512_cmpneq_epu64_mask(_mm512_srli_epi64(w, 40), fv))
			break;
		no |= _mm512_cmpge_epu64_mask(p, lim) |
		      _mm512_cmpneq_epu64_mask(_mm512_and_si512(
				_mm512_srli_epi64(w, 36), one), fl);
		_mm256_storeu_si256((__m256i *)(void *)(pix + (j - i)),
				    _mm512_cvtepi64_epi32(p));
		_mm_storeu_si128((__m128i *)(void *)(cnt + (j - i)),
				 _mm512_cvtepi64_epi16(_mm512_and_si512(w, cm)));
	}
	*bad |= no;
	return j;
}
#endif

/* Words bi.. of frame f (already checked as a frame: in order and in the
** run) decoded while they fit: only the pixel and the flag vary, tested
** for the whole run at once. 0: the run is taken (up to a word of another
** frame, the buffer's end or cap); 1: one of them is bad (nothing taken:
** rig_check then names it). */
static int rig_run(rig_module *m, uint64_t f, uint32_t *pix, uint16_t *cnt,
		   size_t cap, size_t *n)
{
	size_t i = m->bi, e = m->bn, k = *n, j = i;
	uint64_t npx = (uint64_t)m->rows * m->cols, bad = 0;
	uint64_t flag = (uint64_t)m->flag;
	if (e - i > cap - k)
		e = i + (cap - k);
#if defined(__x86_64__) && defined(__GNUC__)
	if (__builtin_cpu_supports("avx512f"))
		j = rig_run8(m->buf, i, e, f, npx, flag, pix + k, cnt + k, &bad);
#endif
	for (; j < e; j++) {
		uint64_t w = m->buf[j];
		if (RIG_FRAME(w) != f)
			break;
		bad |= (RIG_PIXEL(w) >= npx) | ((uint64_t)RIG_FLAG(w) ^ flag);
		pix[k + (j - i)] = RIG_PIXEL(w);
		cnt[k + (j - i)] = RIG_COUNT(w);
	}
	if (bad)
		return 1;
	*n = k + (j - i);
	m->pos += j - i;
	m->bi = j;
	return 0;
}

int rig_frame_into(rig_module *m, uint64_t f, uint32_t *pix, uint16_t *cnt,
		   size_t cap, size_t *n, char *err)
{
	int slow = 0;	/* a run had a bad word: word by word up to it */
	for (;;) {
		uint64_t w;
		if (m->bi == m->bn) {
			if (m->pos >= m->nwords)
				return 0;
			if (intr_pending())
				return err_set(err, "%s: interrupted", m->path);
			if (rig_fill(m, err) != 0)
				return -1;
		}
		w = m->buf[m->bi];
		if (rig_check(m, w, err) != 0)
			return -1;
		if (RIG_FRAME(w) > f)
			return 0;	/* a later frame's: left for then */
		if (RIG_FRAME(w) == f && *n == cap)
			return 1;	/* (w is checked again then) */
		/* (the first word of a run checked alone: then the run) */
		if (RIG_FRAME(w) == f && !slow &&
		    !(slow = rig_run(m, f, pix, cnt, cap, n)))
			continue;
		if (RIG_FRAME(w) == f) {
			pix[*n] = RIG_PIXEL(w);
			cnt[(*n)++] = RIG_COUNT(w);
		}
		m->bi++;
		m->pos++;
	}
}
