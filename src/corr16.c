/*
** corr16.c - exact integer kernel for level 0 of the multi-tau correlator
** (see corr16.h).
**
** Rows. U holds the sequence u[0..K+n-1] of a tile's pixels: the K frames
** before the batch (from the caller's ring) and the n new ones, as uint16.
** E[q] interleaves u[2q] and u[2q+1] pixel by pixel, O[q] interleaves
** u[2q+1] and u[2q+2]; a 256-bit vector of E holds 8 consecutive pixels,
** two frames each (corr16_pair_row). For the new frames u[2q], u[2q+1] (q >= K/2) the
** lag-k partner pair is E[q - k/2] for even k and O[q - (k+1)/2] for odd
** k, and one multiply-add of E[q] with it is the sum of both products.
** Multiplying by ones instead gives u[2q] + u[2q+1]: the frame sums, and
** the next level's frames when the pairs are aligned with them (frame
** numbers even first, i.e. M even); for odd M the aligned pairs are O's.
*/
#include <string.h>

#include "corr16.h"

#ifndef CORR16_PF
#define CORR16_PF 16		/* frames ahead to prefetch */
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CORR16_X86 1
#define CORR16_T __attribute__((target("avx2")))
#endif

size_t corr16_work(size_t P, size_t n)
{
	return 3 * (CORR16_K + n + 2) * P;
}

int corr16_available(void)
{
#ifdef CORR16_X86
	return __builtin_cpu_supports("avx2");
#else
	return 0;
#endif
}

#ifdef CORR16_X86

static CORR16_T uint32_t corr16_hsum(__m256i v)
{
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(v),
				  _mm256_extracti128_si256(v, 1));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
	return (uint32_t)_mm_cvtsi128_si32(s);
}

/* the K frames before the batch: kept as uint16 by the last batch that
** ran here, or else from the ring; 1 unless every value is an integer in
** [0, CORR16_MAX) (a dark-subtracted or float frame may have left
** something else) */
static int corr16_history(const corr16_job *j, uint16_t *U)
{
	size_t P = j->P, K = CORR16_K;
	if (*j->hist_ok) {
		memcpy(U, j->hist, K * P * sizeof *U);
		return 0;
	}
	for (size_t i = 0; i < K; i++) {
		const double *r = j->ring + ((j->M - K + i) % K) * P;
		uint16_t *u = U + i * P;
		for (size_t p = 0; p < P; p++) {
			double v = r[p];
			if (!(v >= 0 && v < CORR16_MAX))
				return 1;
			u[p] = (uint16_t)v;
			if ((double)u[p] != v)
				return 1;
		}
	}
	return 0;
}

/* the new frames into U rows K.. (zero-padded), their sums, and 1 when a
** count reaches CORR16_MAX. Frames lie a frame apart, so they are
** prefetched a few ahead (the hardware prefetcher does not follow). A
** contiguous tile's whole groups of 16 go straight from the frame. */
static CORR16_T int corr16_frames(const corr16_job *j, uint16_t *U)
{
	size_t P = j->P, nv = j->nv, nw = j->contig ? nv / 16 * 16 : 0;
	const __m256i one = _mm256_set1_epi16(1);
	__m256i mx = _mm256_setzero_si256();
	for (size_t r = 0; r < j->n; r++) {
		uint16_t *u = U + (CORR16_K + r) * P;
		__m256i sum = _mm256_setzero_si256();
		const uint16_t *f = j->src[r], *g = f + j->pix[0];
		size_t p = 0;
		if (r + CORR16_PF < j->n && j->contig) {
			const char *nx = (const char *)(j->src[r + CORR16_PF] +
							j->pix[0]);
			for (size_t o = 0; o < 2 * nv; o += 64)
				__builtin_prefetch(nx + o);
			__builtin_prefetch(nx + 2 * nv - 1);
		}
		for (; p < nw; p += 16) {
			__m256i v = _mm256_loadu_si256((const __m256i *)(g + p));
			_mm256_store_si256((__m256i *)(u + p), v);
			mx = _mm256_max_epu16(mx, v);
			sum = _mm256_add_epi32(sum, _mm256_madd_epi16(v, one));
		}
		if (p < P) {	/* the rest, gathered, zero-padded */
			for (size_t i = p; i < nv; i++)
				u[i] = j->contig ? g[i] : f[j->pix[i]];
			memset(u + (nv > p ? nv : p), 0,
			       (P - (nv > p ? nv : p)) * sizeof *u);
		}
		for (; p < P; p += 16) {
			__m256i v = _mm256_load_si256((const __m256i *)(u + p));
			mx = _mm256_max_epu16(mx, v);
			sum = _mm256_add_epi32(sum, _mm256_madd_epi16(v, one));
		}
		j->rowsum[r] = (double)corr16_hsum(sum);
	}
	/* all lanes below the limit: saturating subtraction leaves zeros */
	mx = _mm256_subs_epu16(mx, _mm256_set1_epi16(CORR16_MAX - 1));
	return !_mm256_testz_si256(mx, mx);
}

/* dst row (2P values) interleaving rows a and b pixel by pixel. The
** interleave works within 128-bit lanes, so the 64-bit quarters (pixels
** 0-3, 4-7, 8-11, 12-15) are first put in the order 0-3, 8-11, 4-7,
** 12-15: then the low interleave holds pixels 0-7, the high one 8-15, and
** each column of the kernel is 8 consecutive pixels, one cache line of
** doubles in the rows it writes. */
static CORR16_T void corr16_pair_row(const uint16_t *a, const uint16_t *b,
				     uint16_t *dst, size_t P)
{
	for (size_t p = 0; p < P; p += 16) {
		__m256i va = _mm256_permute4x64_epi64(
			_mm256_load_si256((const __m256i *)(a + p)), 0xd8);
		__m256i vb = _mm256_permute4x64_epi64(
			_mm256_load_si256((const __m256i *)(b + p)), 0xd8);
		_mm256_store_si256((__m256i *)(dst + 2 * p),
				   _mm256_unpacklo_epi16(va, vb));
		_mm256_store_si256((__m256i *)(dst + 2 * p + 16),
				   _mm256_unpackhi_epi16(va, vb));
	}
}

/* the 8 int32 lanes of column c (pixels 8c..8c+7) added to (or stored
** in) a row of doubles */
static CORR16_T void corr16_put(double *row, size_t c, __m256i v, int add)
{
	double *r = row + 8 * c;
	__m256d a = _mm256_cvtepi32_pd(_mm256_castsi256_si128(v));
	__m256d b = _mm256_cvtepi32_pd(_mm256_extracti128_si256(v, 1));
	if (add) {
		a = _mm256_add_pd(a, _mm256_load_pd(r));
		b = _mm256_add_pd(b, _mm256_load_pd(r + 4));
	}
	_mm256_store_pd(r, a);
	_mm256_store_pd(r + 4, b);
}

#define CORR16_LD(R, Q) _mm256_load_si256((const __m256i *)((R) + (Q) * w))
#define CORR16_MA(A, X, Y) A = _mm256_add_epi32(A, _mm256_madd_epi16(X, Y))

/* one column (8 pixels) down all new pairs: accumulators in registers */
static CORR16_T void corr16_column(const corr16_job *j, const uint16_t *E,
				   const uint16_t *O, size_t c)
{
	size_t P = j->P, w = 2 * P, np = j->n / 2;
	const uint16_t *e = E + c * 16, *o = O + c * 16;
	const __m256i one = _mm256_set1_epi16(1);
	__m256i a1 = _mm256_setzero_si256(), a2 = a1, a3 = a1, a4 = a1;
	__m256i a5 = a1, a6 = a1, a7 = a1, a8 = a1, s = a1;
	int odd = (int)(j->M & 1);
	for (size_t q = 4; q < 4 + np; q++) {
		__m256i x = CORR16_LD(e, q), o1 = CORR16_LD(o, q - 1), x1;
		CORR16_MA(a1, x, o1);
		CORR16_MA(a2, x, CORR16_LD(e, q - 1));
		CORR16_MA(a3, x, CORR16_LD(o, q - 2));
		CORR16_MA(a4, x, CORR16_LD(e, q - 2));
		CORR16_MA(a5, x, CORR16_LD(o, q - 3));
		CORR16_MA(a6, x, CORR16_LD(e, q - 3));
		CORR16_MA(a7, x, CORR16_LD(o, q - 4));
		CORR16_MA(a8, x, CORR16_LD(e, q - 4));
		x1 = _mm256_madd_epi16(x, one);
		s = _mm256_add_epi32(s, x1);
		if (odd)
			x1 = _mm256_madd_epi16(o1, one);
		corr16_put(j->nx + (q - 4) * P, c, x1, 0);
	}
	corr16_put(j->G + 0 * P, c, a1, 1);
	corr16_put(j->G + 1 * P, c, a2, 1);
	corr16_put(j->G + 2 * P, c, a3, 1);
	corr16_put(j->G + 3 * P, c, a4, 1);
	corr16_put(j->G + 4 * P, c, a5, 1);
	corr16_put(j->G + 5 * P, c, a6, 1);
	corr16_put(j->G + 6 * P, c, a7, 1);
	corr16_put(j->G + 7 * P, c, a8, 1);
	corr16_put(j->S, c, s, 1);
}

static CORR16_T int corr16_run(const corr16_job *j)
{
	size_t P = j->P, K = CORR16_K, nu = K + j->n, ne = nu / 2;
	uint16_t *U = j->work, *E = U + nu * P, *O = E + ne * 2 * P;
	if (corr16_history(j, U) || corr16_frames(j, U))
		return 1;
	for (size_t q = 0; q < ne; q++)
		corr16_pair_row(U + 2 * q * P, U + (2 * q + 1) * P,
				E + q * 2 * P, P);
	for (size_t q = 0; q + 1 < ne; q++)
		corr16_pair_row(U + (2 * q + 1) * P, U + (2 * q + 2) * P,
				O + q * 2 * P, P);
	for (size_t c = 0; c < P / 8; c++)
		corr16_column(j, E, O, c);
	memcpy(j->hist, U + j->n * P, K * P * sizeof *U);
	*j->hist_ok = 1;
	return 0;
}

int corr16_level0(const corr16_job *j)
{
	if (!corr16_available() || j->P % 16 || j->n % 2 || j->n == 0 ||
	    j->n > 2 * CORR16_PAIRS || j->M < CORR16_K)
		return 1;
	return corr16_run(j);
}

#else

int corr16_level0(const corr16_job *j)
{
	(void)j;
	return 1;
}

#endif
