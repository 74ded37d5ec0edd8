/*
** h5filt.c - LZF, LZ4 and bitshuffle HDF5 filters in-process (h5filt.h).
**
** Chunk formats, as their reference plugins write them:
**   LZF (h5py): the bare liblzf stream; cd_values = {filter revision 4,
**     LZF version 0x0105, uncompressed chunk bytes}. An incompressible
**     chunk is stored as is (the filter is optional).
**   LZ4 (HDF5 plugin): u64 big-endian uncompressed bytes, u32 big-endian
**     block bytes, then per block a u32 big-endian stored length and the
**     LZ4 block, or the block raw when the stored length equals its size.
**   bitshuffle: cd_values = {major, minor, element bytes, block elements
**     (0: default), compression (0 none, 2 LZ4)}. With LZ4 the chunk has
**     the 12-byte header as above (block size in bytes), then each block of
**     the element stream (full blocks, then the rest rounded down to 8
**     elements) as u32 big-endian length + LZ4 block of its bit-transpose;
**     the last (elements mod 8) elements follow raw.
*/
#include <errno.h>
#include <stdio.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>
#include <lz4.h>
#include <lzf.h>
#include <zlib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "err.h"
#include "h5filt.h"

#define H5FILT_RATIO 256	/* no codec here expands more than this */
#define H5FILT_SLACK 1024
#define H5FILT_LZF_REV 4	/* h5py's filter revision and LZF version */
#define H5FILT_LZF_VER 0x0105
#define H5FILT_BS_TARGET 8192	/* bitshuffle's default block, bytes */
#define H5FILT_BS_MIN 128	/* ... and its floor, elements */
#define H5FILT_BS_LZ4 2
#define H5FILT_BS_ZSTD 3

static size_t h5filt_want = 0;

void h5filt_expect(size_t chunk_bytes) { h5filt_want = chunk_bytes; }

/* why the last decode on this thread failed: HDF5's error stack is not
** for threads, so the decoders only write it here; the HDF5 callbacks
** push it (h5filt_pushed), h5filt_decode copies it into its caller's */
static _Thread_local char h5filt_msg[ERR_LEN];

/* returns 0, a decoder's "failed" */
static size_t h5filt_fail(const char *name, const char *msg, size_t a,
			  size_t b)
{
	snprintf(h5filt_msg, sizeof h5filt_msg, "%s chunk: %s (%zu, %zu)",
		 name, msg, a, b);
	return 0;
}

/* an HDF5 callback's result: a failure goes on HDF5's error stack (h5.c
** shows the innermost message) */
static size_t h5filt_pushed(size_t n)
{
	if (n == 0)
		H5Epush2(H5E_DEFAULT, __FILE__, "h5filt", __LINE__,
			 H5E_ERR_CLS, H5E_PLINE, H5E_CANTFILTER, "%s",
			 h5filt_msg);
	return n;
}

/* the decoded size a chunk claims, checked before anything is allocated:
** want when known (the dataset's chunk bytes), and never more than the
** codec can expand nbytes into */
static int h5filt_size_ok(const char *name, size_t claim, size_t nbytes,
			  size_t want)
{
	if (want != 0 && claim != want)
		return (int)h5filt_fail(name, "decoded size is not the"
					" dataset's chunk size", claim, want);
	if (claim / H5FILT_RATIO > nbytes + H5FILT_SLACK)
		return (int)h5filt_fail(name, "claims more data than its"
					" stream can hold", claim, nbytes);
	return 1;
}

/* swap in the decoded buffer as HDF5 expects */
static size_t h5filt_done(void **buf, size_t *buf_size, void *out,
			  size_t alloc, size_t n)
{
	free(*buf);
	*buf = out;
	*buf_size = alloc;
	return n;
}

static uint64_t h5filt_be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	int i;
	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* ---------------------------------------------------------------- */
/* LZF                                                              */
/* ---------------------------------------------------------------- */

/* h5py's parameters: the chunk's byte size in slot 2 */
static herr_t h5filt_lzf_local(hid_t dcpl, hid_t type, hid_t space)
{
	unsigned flags, cd[3] = {0, 0, 0};
	size_t ncd = 3, bytes, i;
	hsize_t ch[H5S_MAX_RANK];
	int r;
	(void)space;
	if (H5Pget_filter_by_id2(dcpl, H5FILT_LZF, &flags, &ncd, cd, 0, NULL,
				 NULL) < 0)
		return -1;
	r = H5Pget_chunk(dcpl, H5S_MAX_RANK, ch);
	if (r < 0 || (bytes = H5Tget_size(type)) == 0)
		return -1;
	for (i = 0; i < (size_t)r; i++)
		bytes *= (size_t)ch[i];
	cd[0] = H5FILT_LZF_REV;
	cd[1] = H5FILT_LZF_VER;
	cd[2] = bytes > UINT_MAX ? 0 : (unsigned)bytes;
	return H5Pmodify_filter(dcpl, H5FILT_LZF, flags, 3, cd);
}

static size_t h5filt_lzf_encode(size_t nbytes, size_t *buf_size, void **buf)
{
	void *out;
	unsigned n;
	if (nbytes > UINT_MAX || (out = malloc(nbytes)) == NULL)
		return 0;
	/* 0 when it does not fit: the optional filter leaves the chunk raw */
	n = lzf_compress(*buf, (unsigned)nbytes, out, (unsigned)nbytes);
	if (n == 0) {
		free(out);
		return 0;
	}
	return h5filt_done(buf, buf_size, out, nbytes, n);
}

/* exactly want bytes into out (want checked by h5filt_size_ok first) */
static int h5filt_lzf_into(const void *in, size_t nbytes, void *out,
			   size_t want)
{
	unsigned n;
	if (nbytes > UINT_MAX || want > UINT_MAX)
		return (int)h5filt_fail("lzf", "stream too long", nbytes, want);
	errno = 0;
	n = lzf_decompress(in, (unsigned)nbytes, out, (unsigned)want);
	if (n == want && want != 0)
		return 1;
	if (n != 0)
		return (int)h5filt_fail("lzf", "decoded size is not the chunk"
					" size", n, want);
	return (int)h5filt_fail("lzf", errno == E2BIG ? "decodes to more "
				"than the chunk size" : "corrupt stream",
				nbytes, want);
}

/* The size to decode into: the dataset's chunk when known, else the one
** the writer stored, else grown from the stream's size on E2BIG. */
static size_t h5filt_lzf_decode(size_t ncd, const unsigned cd[],
				size_t nbytes, size_t *buf_size, void **buf)
{
	size_t want = h5filt_want ? h5filt_want
		    : ncd >= 3 && cd[2] != 0 ? cd[2] : 0;
	size_t cap = nbytes * H5FILT_RATIO + H5FILT_SLACK, size;
	void *out;
	if (want != 0) {
		if (!h5filt_size_ok("lzf", want, nbytes, want))
			return 0;
		if ((out = malloc(want)) == NULL)
			return h5filt_fail("lzf", "out of memory", want, 0);
		if (!h5filt_lzf_into(*buf, nbytes, out, want)) {
			free(out);
			return 0;
		}
		return h5filt_done(buf, buf_size, out, want, want);
	}
	if (nbytes > UINT_MAX)
		return h5filt_fail("lzf", "stream too long", nbytes, 0);
	for (size = nbytes * 4;; size *= 2) {
		unsigned n;
		if (size > UINT_MAX)
			size = UINT_MAX;
		if ((out = malloc(size ? size : 1)) == NULL)
			return h5filt_fail("lzf", "out of memory", size, 0);
		errno = 0;
		n = lzf_decompress(*buf, (unsigned)nbytes, out, (unsigned)size);
		if (n != 0)
			return h5filt_done(buf, buf_size, out, size, n);
		free(out);
		if (errno != E2BIG)
			return h5filt_fail("lzf", "corrupt stream", nbytes, 0);
		if (size >= cap || size >= UINT_MAX)
			return h5filt_fail("lzf", "decodes to more than the"
					   " chunk size", nbytes, size);
	}
}

static size_t h5filt_lzf(unsigned flags, size_t ncd, const unsigned cd[],
			 size_t nbytes, size_t *buf_size, void **buf)
{
	if (flags & H5Z_FLAG_REVERSE)
		return h5filt_pushed(h5filt_lzf_decode(ncd, cd, nbytes,
						       buf_size, buf));
	return h5filt_lzf_encode(nbytes, buf_size, buf);
}

/* ---------------------------------------------------------------- */
/* LZ4 blocks (shared by LZ4 and bitshuffle)                        */
/* ---------------------------------------------------------------- */

/* one stored block: 4-byte length then the data, into exactly n bytes
** of dst; raw blocks (length n) only where the format has them */
static int h5filt_lz4_block(const char *name, const unsigned char **p,
			    const unsigned char *end, char *dst, size_t n,
			    int raw_ok)
{
	size_t len;
	int got;
	if (end - *p < 4)
		return (int)h5filt_fail(name, "block header past the end",
					(size_t)(end - *p), 4);
	len = (size_t)h5filt_be(*p, 4);
	*p += 4;
	if (len > (size_t)(end - *p))
		return (int)h5filt_fail(name, "block runs past the end", len,
					(size_t)(end - *p));
	if (raw_ok && len == n) {
		memcpy(dst, *p, n);
	} else {
		if (len > INT_MAX || n > INT_MAX)
			return (int)h5filt_fail(name, "block too large", len, n);
		got = LZ4_decompress_safe((const char *)*p, dst, (int)len,
					  (int)n);
		if (got < 0 || (size_t)got != n)
			return (int)h5filt_fail(name, "corrupt block", len, n);
	}
	*p += len;
	return 1;
}

/* the 12-byte header: decoded bytes (want, when known) and block bytes */
static int h5filt_header(const char *name, const unsigned char *in,
			 size_t nbytes, size_t want, size_t *total,
			 size_t *block)
{
	uint64_t t, b;
	if (nbytes < 12)
		return (int)h5filt_fail(name, "shorter than its header",
					nbytes, 12);
	t = h5filt_be(in, 8);
	b = h5filt_be(in + 8, 4);
	if (t > SIZE_MAX / 2)
		return (int)h5filt_fail(name, "impossible size", (size_t)-1, 0);
	*total = (size_t)t;
	*block = (size_t)b;
	return h5filt_size_ok(name, *total, nbytes, want);
}

/* the blocks after the header (p .. end) into out's total bytes */
static int h5filt_lz4_blocks(const unsigned char *p, const unsigned char *end,
			     char *out, size_t total, size_t block)
{
	if (block == 0 && total > 0)
		return (int)h5filt_fail("lz4", "block size 0", total, 0);
	for (size_t at = 0; at < total; at += block) {
		size_t n = total - at < block ? total - at : block;
		if (!h5filt_lz4_block("lz4", &p, end, out + at, n, 1))
			return 0;
	}
	return 1;
}

static size_t h5filt_lz4(unsigned flags, size_t ncd, const unsigned cd[],
			 size_t nbytes, size_t *buf_size, void **buf)
{
	size_t total, block;
	char *out;
	(void)ncd;
	(void)cd;
	if (!(flags & H5Z_FLAG_REVERSE))
		return h5filt_pushed(h5filt_fail("lz4", "ionflow only decodes"
						 " LZ4", 0, 0));
	if (!h5filt_header("lz4", *buf, nbytes, h5filt_want, &total, &block))
		return h5filt_pushed(0);
	if ((out = malloc(total ? total : 1)) == NULL)
		return h5filt_pushed(h5filt_fail("lz4", "out of memory", total,
						 0));
	if (!h5filt_lz4_blocks((unsigned char *)*buf + 12,
			       (unsigned char *)*buf + nbytes, out, total,
			       block)) {
		free(out);
		return h5filt_pushed(0);
	}
	return h5filt_done(buf, buf_size, out, total ? total : 1, total);
}

/* ---------------------------------------------------------------- */
/* bitshuffle                                                       */
/* ---------------------------------------------------------------- */

/* transpose the 8x8 bit matrix whose row r is byte r of x (bit c of
** row r is bit 8r+c) in three rounds of swaps */
static uint64_t h5filt_t8(uint64_t x)
{
	uint64_t t;
	t = (x ^ (x >> 7)) & 0x00AA00AA00AA00AAULL;
	x ^= t ^ (t << 7);
	t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCCULL;
	x ^= t ^ (t << 14);
	t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0ULL;
	x ^= t ^ (t << 28);
	return x;
}

/* Bit i of byte b of element e goes to bit (e mod 8) of byte e/8 of row
** 8b+i, rows of n/8 bytes: eight elements' byte b are one 8x8 matrix. The
** 8x8 bit transpose is its own inverse, so unshuffling is the same walk
** with the element and row sides exchanged. Columns (bytes of a row) k0
** and after. */
static void h5filt_bitwalk(const unsigned char *in, unsigned char *out,
			   size_t n, size_t esize, int inverse, size_t k0)
{
	size_t nk = n / 8, b, k;
	int j;
	for (b = 0; b < esize; b++)
		for (k = k0; k < nk; k++) {
			size_t ie = (8 * k) * esize + b, ir = (8 * b) * nk + k;
			size_t src = inverse ? ir : ie, dst = inverse ? ie : ir;
			size_t ss = inverse ? nk : esize, ds = inverse ? esize : nk;
			uint64_t w = 0;
			for (j = 0; j < 8; j++)
				w |= (uint64_t)in[src + (size_t)j * ss] << (8 * j);
			w = h5filt_t8(w);
			for (j = 0; j < 8; j++)
				out[dst + (size_t)j * ds] =
					(unsigned char)(w >> (8 * j));
		}
}

void h5filt_bitshuffle(const unsigned char *in, unsigned char *out,
		       size_t n, size_t esize)
{
	h5filt_bitwalk(in, out, n, esize, 0, 0);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* Unshuffling with AVX-512 and GFNI, 64 columns of every byte plane at a
** time: the scalar walk loads and stores a byte at a time and was 80 %
** of reading a bitshuffle-LZ4 file. */
#define H5FILT_V __attribute__((target("avx512f,avx512bw,gfni")))

/* the 8 rows of a byte plane (p: row 0 at column k0, rows nk bytes
** apart), 64 columns: three rounds of unpacks make the qwords whose byte
** s is row 7 - s's byte of one column; register t then holds in its
** 128-bit lane L the columns 16L + 2t and 16L + 2t + 1 */
static H5FILT_V void h5filt_gather8(const unsigned char *p, size_t nk,
				    __m512i r[8])
{
	__m512i v[8], a[8], b[8];
	for (int i = 0; i < 8; i++)
		v[i] = _mm512_loadu_si512(p + (size_t)(7 - i) * nk);
	for (int i = 0; i < 4; i++) {		/* row pairs, 2 bytes */
		a[2 * i] = _mm512_unpacklo_epi8(v[2 * i], v[2 * i + 1]);
		a[2 * i + 1] = _mm512_unpackhi_epi8(v[2 * i], v[2 * i + 1]);
	}
	for (int h = 0; h < 2; h++)		/* rows 7..4, 3..0: 4 bytes */
		for (int i = 0; i < 2; i++) {
			b[4 * h + 2 * i] = _mm512_unpacklo_epi16(
				a[4 * h + i], a[4 * h + i + 2]);
			b[4 * h + 2 * i + 1] = _mm512_unpackhi_epi16(
				a[4 * h + i], a[4 * h + i + 2]);
		}
	for (int i = 0; i < 4; i++) {		/* all 8 rows */
		r[2 * i] = _mm512_unpacklo_epi32(b[i], b[i + 4]);
		r[2 * i + 1] = _mm512_unpackhi_epi32(b[i], b[i + 4]);
	}
}

/* lane L of a, b, c, d, in that order, to out + L * step */
static H5FILT_V void h5filt_lanes4(__m512i a, __m512i b, __m512i c,
				   __m512i d, unsigned char *out, size_t step)
{
	__m512i x0 = _mm512_shuffle_i64x2(a, b, 0x44);
	__m512i x1 = _mm512_shuffle_i64x2(a, b, 0xee);
	__m512i x2 = _mm512_shuffle_i64x2(c, d, 0x44);
	__m512i x3 = _mm512_shuffle_i64x2(c, d, 0xee);
	_mm512_storeu_si512(out, _mm512_shuffle_i64x2(x0, x2, 0x88));
	_mm512_storeu_si512(out + step, _mm512_shuffle_i64x2(x0, x2, 0xdd));
	_mm512_storeu_si512(out + 2 * step, _mm512_shuffle_i64x2(x1, x3, 0x88));
	_mm512_storeu_si512(out + 3 * step, _mm512_shuffle_i64x2(x1, x3, 0xdd));
}

/* columns k0 .. k0 + 63 (512 elements) of elements of 1, 2 or 4 bytes.
** With x's byte i = 1 << i, GF2P8AFFINEQB makes byte i of a qword whose
** byte s is row 7 - s into: bit m = bit i of row m, i.e. element i's
** byte of this plane (the 8x8 bit transpose). The planes' bytes are then
** interleaved into elements by unpacks. */
static H5FILT_V void h5filt_unshuf64(const unsigned char *in,
				     unsigned char *out, size_t nk,
				     size_t esize, size_t k0)
{
	const __m512i x = _mm512_set1_epi64(0x8040201008040201LL);
	__m512i g[4][8], r[8];
	for (size_t b = 0; b < esize; b++) {
		h5filt_gather8(in + 8 * b * nk + k0, nk, r);
		for (int t = 0; t < 8; t++)
			g[b][t] = _mm512_gf2p8affine_epi64_epi8(x, r[t], 0);
	}
	out += 8 * esize * k0;
	if (esize == 1) {
		for (int h = 0; h < 2; h++)
			h5filt_lanes4(g[0][4 * h], g[0][4 * h + 1],
				      g[0][4 * h + 2], g[0][4 * h + 3],
				      out + 64 * h, 128);
	} else if (esize == 2) {
		for (int s = 0; s < 4; s++)
			h5filt_lanes4(
				_mm512_unpacklo_epi8(g[0][2 * s], g[1][2 * s]),
				_mm512_unpackhi_epi8(g[0][2 * s], g[1][2 * s]),
				_mm512_unpacklo_epi8(g[0][2 * s + 1],
						     g[1][2 * s + 1]),
				_mm512_unpackhi_epi8(g[0][2 * s + 1],
						     g[1][2 * s + 1]),
				out + 64 * s, 256);
	} else {
		for (int t = 0; t < 8; t++) {
			__m512i l01 = _mm512_unpacklo_epi8(g[0][t], g[1][t]);
			__m512i h01 = _mm512_unpackhi_epi8(g[0][t], g[1][t]);
			__m512i l23 = _mm512_unpacklo_epi8(g[2][t], g[3][t]);
			__m512i h23 = _mm512_unpackhi_epi8(g[2][t], g[3][t]);
			h5filt_lanes4(_mm512_unpacklo_epi16(l01, l23),
				      _mm512_unpackhi_epi16(l01, l23),
				      _mm512_unpacklo_epi16(h01, h23),
				      _mm512_unpackhi_epi16(h01, h23),
				      out + 64 * t, 512);
		}
	}
}

/* columns done by the vector walk (the rest: the scalar one) */
static size_t h5filt_unshuf_simd(const unsigned char *in, unsigned char *out,
				 size_t n, size_t esize)
{
	size_t nk = n / 8, k;
	if ((esize != 1 && esize != 2 && esize != 4) || nk < 64 ||
	    !__builtin_cpu_supports("avx512bw") ||
	    !__builtin_cpu_supports("gfni"))
		return 0;
	for (k = 0; k + 64 <= nk; k += 64)
		h5filt_unshuf64(in, out, nk, esize, k);
	return k;
}
#else
static size_t h5filt_unshuf_simd(const unsigned char *in, unsigned char *out,
				 size_t n, size_t esize)
{
	(void)in; (void)out; (void)n; (void)esize;
	return 0;
}
#endif

void h5filt_bitunshuffle(const unsigned char *in, unsigned char *out,
			 size_t n, size_t esize)
{
	h5filt_bitwalk(in, out, n, esize, 1,
		       h5filt_unshuf_simd(in, out, n, esize));
}

typedef struct h5filt_bs {
	size_t esize, block;	/* bytes per element, elements per block */
	int lz4;
} h5filt_bs;

static int h5filt_bs_params(size_t ncd, const unsigned cd[], h5filt_bs *s)
{
	unsigned comp = ncd > 4 ? cd[4] : 0;
	if (ncd < 3 || cd[2] == 0 || cd[2] > 4096)
		return (int)h5filt_fail("bitshuffle", "bad element size",
					ncd < 3 ? 0 : cd[2], ncd);
	if (comp == H5FILT_BS_ZSTD)
		return (int)h5filt_fail("bitshuffle", "zstd compression is not"
					" built into ionflow (only LZ4)",
					comp, 0);
	if (comp != 0 && comp != H5FILT_BS_LZ4)
		return (int)h5filt_fail("bitshuffle", "unknown compression",
					comp, 0);
	s->esize = cd[2];
	s->lz4 = comp == H5FILT_BS_LZ4;
	s->block = ncd > 3 ? cd[3] : 0;
	if (s->block == 0) {
		s->block = H5FILT_BS_TARGET / s->esize / 8 * 8;
		if (s->block < H5FILT_BS_MIN)
			s->block = H5FILT_BS_MIN;
	}
	return 1;
}

/* the blocks of n elements from p into out (see the top of the file) */
static int h5filt_bs_blocks(const h5filt_bs *s, const unsigned char *p,
			    const unsigned char *end, unsigned char *out,
			    size_t n)
{
	size_t at, rest = n % 8 * s->esize;
	unsigned char *tmp = malloc(s->block * s->esize);
	if (tmp == NULL)
		return (int)h5filt_fail("bitshuffle", "out of memory",
					s->block, s->esize);
	for (at = 0; at + 8 <= n; at += s->block) {
		size_t m = n - at < s->block ? n - at : s->block;
		m -= m % 8;
		if (s->lz4) {
			if (!h5filt_lz4_block("bitshuffle", &p, end,
					      (char *)tmp, m * s->esize, 0)) {
				free(tmp);
				return 0;
			}
		} else {
			memcpy(tmp, p, m * s->esize);	/* sizes checked */
			p += m * s->esize;
		}
		h5filt_bitunshuffle(tmp, out + at * s->esize, m, s->esize);
	}
	free(tmp);
	if ((size_t)(end - p) < rest)
		return (int)h5filt_fail("bitshuffle", "last elements past the"
					" end", rest, (size_t)(end - p));
	memcpy(out + (n - n % 8) * s->esize, p, rest);
	return 1;
}

/* the decoded bytes of a chunk (its header's with LZ4, else its own),
** checked against want when known; *p moved past the header */
static int h5filt_bs_total(h5filt_bs *s, const unsigned char **p,
			   size_t nbytes, size_t want, size_t *total)
{
	size_t bbytes;
	*total = nbytes;
	if (s->lz4) {
		if (!h5filt_header("bitshuffle", *p, nbytes, want, total,
				   &bbytes))
			return 0;
		if (bbytes == 0 || bbytes % s->esize != 0 ||
		    (s->block = bbytes / s->esize) % 8 != 0)
			return (int)h5filt_fail("bitshuffle", "bad block size",
						bbytes, s->esize);
		*p += 12;
	} else if (want != 0 && *total != want) {
		return (int)h5filt_fail("bitshuffle", "chunk is not the "
					"dataset's chunk size", *total, want);
	}
	if (*total % s->esize != 0)
		return (int)h5filt_fail("bitshuffle", "not whole elements",
					*total, s->esize);
	return 1;
}

static size_t h5filt_bshuf(unsigned flags, size_t ncd, const unsigned cd[],
			   size_t nbytes, size_t *buf_size, void **buf)
{
	const unsigned char *p = *buf, *end = p + nbytes;
	unsigned char *out;
	size_t total;
	h5filt_bs s;
	if (!(flags & H5Z_FLAG_REVERSE))
		return h5filt_pushed(h5filt_fail("bitshuffle", "ionflow only "
						 "decodes bitshuffle", 0, 0));
	if (!h5filt_bs_params(ncd, cd, &s) ||
	    !h5filt_bs_total(&s, &p, nbytes, h5filt_want, &total))
		return h5filt_pushed(0);
	if ((out = malloc(total ? total : 1)) == NULL)
		return h5filt_pushed(h5filt_fail("bitshuffle", "out of memory",
						 total, 0));
	if (!h5filt_bs_blocks(&s, p, end, out, total / s.esize)) {
		free(out);
		return h5filt_pushed(0);
	}
	return h5filt_done(buf, buf_size, out, total ? total : 1, total);
}

/* ---------------------------------------------------------------- */
/* one chunk into its place, with no HDF5 call (h5.c's threads)      */
/* ---------------------------------------------------------------- */

int h5filt_known(int id)
{
	return id == H5FILT_LZF || id == H5FILT_LZ4 || id == H5FILT_BSHUF ||
	       id == H5FILT_DEFLATE;
}

/* HDF5's deflate: one zlib stream of exactly want bytes (HDF5 1.10 itself
** takes a stream that ends short and reads past its buffer) */
static int h5filt_inflate(const void *in, size_t nbytes, void *out,
			  size_t want)
{
	z_stream z;
	int rc;
	if (nbytes > UINT_MAX || want > UINT_MAX)
		return (int)h5filt_fail("deflate", "chunk too large", nbytes,
					want);
	memset(&z, 0, sizeof z);
	if (inflateInit(&z) != Z_OK)
		return (int)h5filt_fail("deflate", "out of memory", want, 0);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)nbytes;
	z.next_out = out;
	z.avail_out = (uInt)want;
	rc = inflate(&z, Z_FINISH);
	inflateEnd(&z);
	if (rc == Z_STREAM_END && z.total_out == want)
		return 1;
	if (rc == Z_STREAM_END)
		return (int)h5filt_fail("deflate", "decoded size is not the "
					"chunk size", z.total_out, want);
	if (rc == Z_BUF_ERROR && z.avail_out == 0 && z.avail_in > 0)
		return (int)h5filt_fail("deflate", "decodes to more than the "
					"chunk size", nbytes, want);
	return (int)h5filt_fail("deflate", rc == Z_BUF_ERROR ? "stream cut "
				"short" : "corrupt stream", nbytes, want);
}

void h5filt_unshuffle(const unsigned char *in, unsigned char *out,
		      size_t n, size_t es)
{
	size_t ne = es ? n / es : 0;
	if (es == 2) {	/* (detector counts: the usual case) */
		size_t i = 0;
#ifdef __SSE2__
		for (; i + 16 <= ne; i += 16) {	/* (16 pixels a step) */
			__m128i lo = _mm_loadu_si128((const void *)(in + i));
			__m128i hi = _mm_loadu_si128((const void *)(in + ne + i));
			_mm_storeu_si128((void *)(out + 2 * i),
					 _mm_unpacklo_epi8(lo, hi));
			_mm_storeu_si128((void *)(out + 2 * i + 16),
					 _mm_unpackhi_epi8(lo, hi));
		}
#endif
		for (; i < ne; i++) {
			out[2 * i] = in[i];
			out[2 * i + 1] = in[ne + i];
		}
	} else {
		for (size_t b = 0; b < es; b++)
			for (size_t i = 0; i < ne; i++)
				out[i * es + b] = in[b * ne + i];
	}
	memcpy(out + ne * es, in + ne * es, n - ne * es);
}

/* the codec alone (bit 0 of skip: it was skipped, the chunk is as
** stored) */
static int h5filt_codec(const h5filt_pipe *pp, unsigned skip,
			const void *in, size_t nbytes, void *out, size_t want)
{
	const unsigned char *p = in, *end = p + nbytes;
	size_t total, block;
	h5filt_bs s;
	if (skip & 1) {
		if (nbytes != want)
			return (int)h5filt_fail("unfiltered", "stored size is "
						"not the chunk size", nbytes,
						want);
		memcpy(out, in, want);
		return 1;
	}
	switch (pp->id) {
	case H5FILT_LZF:
		return h5filt_size_ok("lzf", want, nbytes, want) &&
		       h5filt_lzf_into(in, nbytes, out, want);
	case H5FILT_LZ4:
		return h5filt_header("lz4", p, nbytes, want, &total, &block) &&
		       h5filt_lz4_blocks(p + 12, end, out, total, block);
	case H5FILT_BSHUF:
		return h5filt_bs_params(pp->ncd, pp->cd, &s) &&
		       h5filt_bs_total(&s, &p, nbytes, want, &total) &&
		       h5filt_bs_blocks(&s, p, end, out, total / s.esize);
	case H5FILT_DEFLATE:
		return h5filt_inflate(in, nbytes, out, want);
	default:
		return (int)h5filt_fail("h5filt", "not a filter built in",
					(size_t)pp->id, 0);
	}
}

uint32_t h5filt_fletcher32(const void *data, size_t n)
{
	const unsigned char *d = data;
	uint32_t a = 0, b = 0;
	for (size_t w = n / 2; w > 0;) {
		size_t k = w > 360 ? 360 : w;	/* (no overflow in 360) */
		w -= k;
		for (; k > 0; k--, d += 2) {
			a += (uint32_t)d[0] << 8 | d[1];
			b += a;
		}
		a = (a & 0xffff) + (a >> 16);
		b = (b & 0xffff) + (b >> 16);
	}
	if (n % 2) {
		a += (uint32_t)d[0] << 8;
		b += a;
		a = (a & 0xffff) + (a >> 16);
		b = (b & 0xffff) + (b >> 16);
	}
	a = (a & 0xffff) + (a >> 16);
	b = (b & 0xffff) + (b >> 16);
	return b << 16 | a;
}

/* the stored chunk's checksum verified and dropped from *nbytes */
static int h5filt_fletcher_ok(const unsigned char *in, size_t *nbytes)
{
	uint32_t f, s;
	if (*nbytes < 4)
		return (int)h5filt_fail("fletcher32", "shorter than its "
					"checksum", *nbytes, 4);
	*nbytes -= 4;
	f = h5filt_fletcher32(in, *nbytes);
	s = (uint32_t)in[*nbytes] | (uint32_t)in[*nbytes + 1] << 8 |
	    (uint32_t)in[*nbytes + 2] << 16 | (uint32_t)in[*nbytes + 3] << 24;
	if (s != f && s != (f << 16 | f >> 16))
		return (int)h5filt_fail("fletcher32", "checksum does not "
					"match: the chunk is damaged", s, f);
	return 1;
}

/* The pipeline undone: the checksum checked, the codec into out (or into
** a scratch buffer, then unshuffled into out: HDF5's shuffle leaves one
** element, or bytes of one, as they are). Bit i of mask: filter i of the
** pipeline was skipped. */
static int h5filt_pipe_run(const h5filt_pipe *p, unsigned mask,
			   const void *in, size_t nbytes, void *out,
			   size_t want)
{
	unsigned sh = p->shuffle ? mask & 1 : 1;	/* (1: no shuffle) */
	unsigned rest = p->shuffle ? mask >> 1 : mask;	/* codec, checksum */
	unsigned char *t;
	int ok;
	if (p->fletcher && !(rest & 2) && !h5filt_fletcher_ok(in, &nbytes))
		return 0;
	if (sh || p->shuffle <= 1 || want / p->shuffle <= 1)
		return h5filt_codec(p, rest & 1, in, nbytes, out, want);
	if ((t = malloc(want ? want : 1)) == NULL)
		return (int)h5filt_fail("shuffle", "out of memory", want, 0);
	ok = h5filt_codec(p, rest & 1, in, nbytes, t, want);
	if (ok)
		h5filt_unshuffle(t, out, want, p->shuffle);
	free(t);
	return ok;
}

int h5filt_decode(const h5filt_pipe *p, unsigned mask, const void *in,
		  size_t nbytes, void *out, size_t want, char *err)
{
	int ok;
	h5filt_msg[0] = '\0';
	ok = h5filt_pipe_run(p, mask, in, nbytes, out, want);
	if (!ok)
		err_set(err, "%s", h5filt_msg);
	return ok ? 0 : -1;
}

/* set in a forked child (h5.c's probe): OpenMP's threads are the
** parent's, and a parallel region there would wait for them forever */
static int h5filt_one = 0;

void h5filt_single(void) { h5filt_one = 1; }

static int h5filt_serial(const h5filt_pipe *p, const h5filt_job *jobs,
			 size_t n, size_t *bad, char *err)
{
	for (size_t i = 0; i < n; i++)
		if (h5filt_decode(p, jobs[i].mask, jobs[i].in, jobs[i].nbytes,
				  jobs[i].out, jobs[i].want, err) != 0) {
			*bad = i;
			return -1;
		}
	*bad = n;
	return 0;
}

int h5filt_decode_all(const h5filt_pipe *p, const h5filt_job *jobs,
		      size_t n, size_t *bad, char *err)
{
	size_t first = n;
	if (n < 2 || h5filt_one)
		return h5filt_serial(p, jobs, n, bad, err);
	#pragma omp parallel for schedule(dynamic, 1)
	for (size_t i = 0; i < n; i++) {
		char e[ERR_LEN];
		const h5filt_job *j = &jobs[i];
		if (h5filt_decode(p, j->mask, j->in, j->nbytes, j->out,
				  j->want, e) != 0) {
			#pragma omp critical(h5filt_first)
			if (i < first) {
				first = i;
				memcpy(err, e, ERR_LEN);
			}
		}
	}
	*bad = first;
	return first < n ? -1 : 0;
}

/* ---------------------------------------------------------------- */
/* registration                                                     */
/* ---------------------------------------------------------------- */

static const H5Z_class2_t h5filt_classes[] = {
	{H5Z_CLASS_T_VERS, (H5Z_filter_t)H5FILT_LZF, 1, 1,
	 "lzf (ionflow, liblzf)", NULL, h5filt_lzf_local, h5filt_lzf},
	{H5Z_CLASS_T_VERS, (H5Z_filter_t)H5FILT_LZ4, 0, 1,
	 "lz4 (ionflow, liblz4)", NULL, NULL, h5filt_lz4},
	{H5Z_CLASS_T_VERS, (H5Z_filter_t)H5FILT_BSHUF, 0, 1,
	 "bitshuffle (ionflow, liblz4)", NULL, NULL, h5filt_bshuf},
};

int h5filt_register(void)
{
	static int done = 0, rc = 0;
	size_t i;
	if (done)
		return rc;
	done = 1;
	for (i = 0; i < sizeof h5filt_classes / sizeof *h5filt_classes; i++)
		if (H5Zregister(&h5filt_classes[i]) < 0)
			rc = -1;
	return rc;
}

const char *h5filt_package(int id)
{
	switch (id) {
	case 307: return "hdf5-filter-plugin";			/* bzip2 */
	case 32001: return "hdf5-filter-plugin-blosc-serial";
	case 32013: return "hdf5-filter-plugin-zfp-serial";
	default: return NULL;
	}
}
