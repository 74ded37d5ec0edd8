/*
** corr16.c - exact integer kernel for the first levels of the multi-tau
** correlator (see corr16.h).
**
** Rows. U holds the sequence u[0..K+n-1] of a tile's pixels: the K frames
** before the batch (from the caller's ring) and the n new ones, as uint16.
** E[q] interleaves u[2q] and u[2q+1] pixel by pixel; a 256-bit vector of E
** holds 8 consecutive pixels, two frames each (corr16_pair_row). For the
** new frames u[2q], u[2q+1] (q >= K/2) the lag-k partner pair is
** E[q - k/2] for even k; for odd k it straddles two rows and is blended
** from them in registers (CORR16_ODD). One multiply-add of E[q] with the
** partner is the sum of both products. Multiplying by ones instead gives
** u[2q] + u[2q+1]: the frame sums, and the next level's frames when the
** pairs are aligned with them (frame numbers even first, i.e. M even); for
** odd M the aligned pairs are the blended ones.
** Levels above 0 have lags 5..8 only: the same kernel without the first
** four partners.
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
	return 2 * (CORR16_K + n + 2) * P;	/* U and E */
}

uint16_t *corr16_rows(uint16_t *work, size_t P)
{
	return work + CORR16_K * P;
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
** [0, CORR16_MAX << level) (a dark-subtracted or float frame, or a count
** too large for the integer kernel, may have left something else) */
static int corr16_history(const corr16_job *j, uint16_t *U)
{
	size_t P = j->P, K = CORR16_K;
	double top = (double)((size_t)CORR16_MAX << j->level);
	if (*j->hist_ok) {
		memcpy(U, j->hist, K * P * sizeof *U);
		return 0;
	}
	for (size_t i = 0; i < K; i++) {
		const double *r = j->ring + ((j->M - K + i) % K) * P;
		uint16_t *u = U + i * P;
		for (size_t p = 0; p < P; p++) {
			double v = r[p];
			if (!(v >= 0 && v < top))
				return 1;
			u[p] = (uint16_t)v;
			if ((double)u[p] != v)
				return 1;
		}
	}
	return 0;
}

/* dst row (2P values) interleaving rows a and b pixel by pixel. The
** interleave works within 128-bit lanes, so the 64-bit quarters (pixels
** 0-3, 4-7, 8-11, 12-15) are first put in the order 0-3, 8-11, 4-7,
** 12-15: then the low interleave holds pixels 0-7, the high one 8-15, and
** each column of the kernel is 8 consecutive pixels, one cache line of
** doubles in the rows it writes. */
static inline __attribute__((always_inline)) CORR16_T void
corr16_pair_vec(__m256i a, __m256i b, uint16_t *dst)
{
	__m256i va = _mm256_permute4x64_epi64(a, 0xd8);
	__m256i vb = _mm256_permute4x64_epi64(b, 0xd8);
	_mm256_store_si256((__m256i *)dst, _mm256_unpacklo_epi16(va, vb));
	_mm256_store_si256((__m256i *)(dst + 16),
			   _mm256_unpackhi_epi16(va, vb));
}

static CORR16_T void corr16_pair_row(const uint16_t *a, const uint16_t *b,
				     uint16_t *dst, size_t P)
{
	for (size_t p = 0; p < P; p += 16)
		corr16_pair_vec(_mm256_load_si256((const __m256i *)(a + p)),
				_mm256_load_si256((const __m256i *)(b + p)),
				dst + 2 * p);
}

/* 1 when a lane of mx (the counts' maximum) reaches CORR16_MAX: the
** saturating subtraction leaves zeros when all are below */
static CORR16_T int corr16_over(__m256i mx)
{
	mx = _mm256_subs_epu16(mx, _mm256_set1_epi16(CORR16_MAX - 1));
	return !_mm256_testz_si256(mx, mx);
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
	return corr16_over(mx);
}

/* A tile whose pixels fill it and lie contiguously in the frames (most of
** them) goes from the frames straight into pair rows: the new frames'
** rows of U are written only for the last K (the next batch's history),
** and E is not built from U afterwards. The rest as corr16_frames. */
static CORR16_T int corr16_frame_pairs(const corr16_job *j, uint16_t *U,
				       uint16_t *E)
{
	size_t P = j->P, K = CORR16_K;
	const __m256i one = _mm256_set1_epi16(1);
	__m256i mx = _mm256_setzero_si256();
	for (size_t r = 0; r < j->n; r += 2) {
		const uint16_t *ga = j->src[r] + j->pix[0];
		const uint16_t *gb = j->src[r + 1] + j->pix[0];
		uint16_t *ua = U + (K + r) * P, *ub = ua + P;
		uint16_t *e = E + (K + r) / 2 * 2 * P;
		__m256i sa = _mm256_setzero_si256(), sb = sa;
		int keep = r + K >= j->n;
		for (size_t f = r + CORR16_PF; f < r + CORR16_PF + 2 && f < j->n;
		     f++) {
			const char *nx = (const char *)(j->src[f] + j->pix[0]);
			for (size_t o = 0; o < 2 * P; o += 64)
				__builtin_prefetch(nx + o);
		}
		for (size_t p = 0; p < P; p += 16) {
			__m256i va = _mm256_loadu_si256((const __m256i *)(ga + p));
			__m256i vb = _mm256_loadu_si256((const __m256i *)(gb + p));
			if (keep) {
				_mm256_store_si256((__m256i *)(ua + p), va);
				_mm256_store_si256((__m256i *)(ub + p), vb);
			}
			mx = _mm256_max_epu16(mx, _mm256_max_epu16(va, vb));
			sa = _mm256_add_epi32(sa, _mm256_madd_epi16(va, one));
			sb = _mm256_add_epi32(sb, _mm256_madd_epi16(vb, one));
			corr16_pair_vec(va, vb, e + 2 * p);
		}
		j->rowsum[r] = (double)corr16_hsum(sa);
		j->rowsum[r + 1] = (double)corr16_hsum(sb);
	}
	return corr16_over(mx);
}

/* 8 unsigned 32-bit lanes as doubles (the sums of products may pass
** 2^31: as signed they would read negative, and 2^32 puts them right) */
static CORR16_T __m256d corr16_u32(__m128i v)
{
	__m256d d = _mm256_cvtepi32_pd(v);
	__m256d neg = _mm256_cmp_pd(d, _mm256_setzero_pd(), _CMP_LT_OQ);
	return _mm256_add_pd(d, _mm256_and_pd(neg,
					      _mm256_set1_pd(4294967296.0)));
}

/* the 8 lanes of column c (pixels 8c..8c+7) added to (or stored in) a row
** of doubles */
static CORR16_T void corr16_put(double *row, size_t c, __m256i v, int add)
{
	double *r = row + 8 * c;
	__m256d a = corr16_u32(_mm256_castsi256_si128(v));
	__m256d b = corr16_u32(_mm256_extracti128_si256(v, 1));
	if (add) {
		a = _mm256_add_pd(a, _mm256_load_pd(r));
		b = _mm256_add_pd(b, _mm256_load_pd(r + 4));
	}
	_mm256_store_pd(r, a);
	_mm256_store_pd(r + 4, b);
}

/* the next level's row r, column c: 8 pair sums, as uint16 into its work
** or as doubles */
static inline __attribute__((always_inline)) CORR16_T void
corr16_next(const corr16_job *j, size_t r, size_t c, __m256i v, int UP)
{
	if (UP) {
		__m256i w = _mm256_permute4x64_epi64(_mm256_packus_epi32(v, v),
						     0x08);
		_mm_store_si128((__m128i *)(j->up + r * j->P + 8 * c),
				_mm256_castsi256_si128(w));
	} else {
		corr16_put(j->nx + r * j->P, c, v, 0);
	}
}

#define CORR16_LD(R, Q) _mm256_load_si256((const __m256i *)((R) + (Q) * w))
/* Odd lags pair u[2q], u[2q+1] with u[2q-2m+1], u[2q-2m+2], which straddle
** two rows of E: the halves of E[q-m+1] and E[q-m] blended give them in
** swapped order, (u[2q-2m+2], u[2q-2m+1]) per pixel, and x with its halves
** swapped (xs) multiplies them right, with no rows of odd pairs to build */
#define CORR16_ODD(A, B) _mm256_blend_epi16(A, B, 0xaa)
#define CORR16_SWAP(X) _mm256_shuffle_epi8(X, _mm256_set_epi8(		\
	13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2,		\
	13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2))
#define CORR16_MA(A, X, Y) A = _mm256_add_epi32(A, _mm256_madd_epi16(X, Y))

/* One column (8 pixels) down all new pairs, the lags' sums in registers:
** NL = 8 for lags 1..8 (level 0), 4 for lags 5..8; UP: the next level's
** rows as uint16. The sums go to the double rows every `chunk` pairs,
** before 32 bits could overflow. */
static inline __attribute__((always_inline)) CORR16_T void
corr16_column(const corr16_job *j, const uint16_t *E, size_t c, int NL,
	      int UP)
{
	size_t P = j->P, w = 2 * P, end = 4 + j->n / 2;
	size_t chunk = (size_t)CORR16_CHUNK >> (2 * j->level);
	const uint16_t *e = E + c * 16;
	const __m256i one = _mm256_set1_epi16(1), z = _mm256_setzero_si256();
	double *G = j->G, *G5 = G + (size_t)(NL - 4) * P;	/* lag 5's row */
	__m256i s = z;
	int odd = (int)(j->M & 1);
	for (size_t q0 = 4; q0 < end; q0 += chunk) {
		size_t q1 = end - q0 > chunk ? q0 + chunk : end;
		__m256i a1 = z, a2 = z, a3 = z, a4 = z;
		__m256i a5 = z, a6 = z, a7 = z, a8 = z;
		/* the four rows before x stay in registers */
		__m256i e1 = CORR16_LD(e, q0 - 1), e2 = CORR16_LD(e, q0 - 2);
		__m256i e3 = CORR16_LD(e, q0 - 3), e4 = CORR16_LD(e, q0 - 4);
		_Pragma("GCC unroll 4")
		for (size_t q = q0; q < q1; q++) {
			__m256i x = CORR16_LD(e, q), xs = CORR16_SWAP(x), x1;
			if (NL == 8) {
				CORR16_MA(a1, xs, CORR16_ODD(x, e1));
				CORR16_MA(a2, x, e1);
				CORR16_MA(a3, xs, CORR16_ODD(e1, e2));
				CORR16_MA(a4, x, e2);
			}
			CORR16_MA(a5, xs, CORR16_ODD(e2, e3));
			CORR16_MA(a6, x, e3);
			CORR16_MA(a7, xs, CORR16_ODD(e3, e4));
			CORR16_MA(a8, x, e4);
			x1 = _mm256_madd_epi16(x, one);
			s = _mm256_add_epi32(s, x1);
			if (odd)	/* frames 2q - 1, 2q of the rows */
				x1 = _mm256_madd_epi16(CORR16_ODD(x, e1), one);
			corr16_next(j, q - 4, c, x1, UP);
			e4 = e3;
			e3 = e2;
			e2 = e1;
			e1 = x;
		}
		if (NL == 8) {
			corr16_put(G + 0 * P, c, a1, 1);
			corr16_put(G + 1 * P, c, a2, 1);
			corr16_put(G + 2 * P, c, a3, 1);
			corr16_put(G + 3 * P, c, a4, 1);
		}
		corr16_put(G5 + 0 * P, c, a5, 1);
		corr16_put(G5 + 1 * P, c, a6, 1);
		corr16_put(G5 + 2 * P, c, a7, 1);
		corr16_put(G5 + 3 * P, c, a8, 1);
	}
	corr16_put(j->S, c, s, 1);
}

/* the columns, with the kernel's constants folded in */
#define CORR16_COLUMNS(NAME, NL, UP)					\
	static CORR16_T void NAME(const corr16_job *j, const uint16_t *E) \
	{								\
		for (size_t c = 0; c < j->P / 8; c++)			\
			corr16_column(j, E, c, NL, UP);			\
	}
CORR16_COLUMNS(corr16_columns8, 8, 0)
CORR16_COLUMNS(corr16_columns8u, 8, 1)
CORR16_COLUMNS(corr16_columns4, 4, 0)
CORR16_COLUMNS(corr16_columns4u, 4, 1)

static CORR16_T int corr16_run(const corr16_job *j)
{
	size_t P = j->P, K = CORR16_K, nu = K + j->n, ne = nu / 2;
	uint16_t *U = j->work, *E = U + nu * P;
	int direct = j->level == 0 && j->contig && j->nv == P;
	size_t built = direct ? K / 2 : ne;	/* E rows still to build */
	if (corr16_history(j, U))
		return 1;
	if (j->level == 0 && (direct ? corr16_frame_pairs(j, U, E) :
				       corr16_frames(j, U)))
		return 1;
	for (size_t q = 0; q < built; q++)
		corr16_pair_row(U + 2 * q * P, U + (2 * q + 1) * P,
				E + q * 2 * P, P);
	if (j->level == 0)
		(j->up ? corr16_columns8u : corr16_columns8)(j, E);
	else
		(j->up ? corr16_columns4u : corr16_columns4)(j, E);
	memcpy(j->hist, U + j->n * P, K * P * sizeof *U);
	*j->hist_ok = 1;
	return 0;
}

int corr16_level(const corr16_job *j)
{
	if (!corr16_available() || j->P % 16 || j->n % 2 || j->n == 0 ||
	    j->M < CORR16_K || j->level < 0 || j->level >= CORR16_LEVELS)
		return 1;
	return corr16_run(j);
}

#else

int corr16_level(const corr16_job *j)
{
	(void)j;
	return 1;
}

#endif
