/*
** corr16.c - exact integer kernel for the first levels of the multi-tau
** correlator (see corr16.h).
**
** Rows. U holds the sequence u[0..K+n-1] of a tile's pixels: the K frames
** before the batch (from the caller's ring) and the n new ones, as uint16.
** E[q] interleaves u[2q] and u[2q+1] pixel by pixel; a vector of E holds
** consecutive pixels, two frames each. For the new frames u[2q], u[2q+1]
** (q >= K/2) the lag-k partner pair is E[q - k/2] for even k; for odd k
** it straddles two rows and is blended from them in registers. One
** multiply-add of E[q] with the partner is the sum of both products.
** Multiplying by ones instead gives u[2q] + u[2q+1]: the frame sums, and
** the next level's frames when the pairs are aligned with them (frame
** numbers even first, i.e. M even); for odd M the aligned pairs are the
** blended ones.
** Levels above 0 have lags 5..8 only: the same kernel without the first
** four partners. Their new frames arrive as pair rows: the level below
** (its columns here, or corrsp's last sparse level) writes each pair of
** its pair sums into E straight away, two frames joined in a 32-bit lane,
** so a level above builds E only for its history and never holds U.
** Work: E first (where the level below writes), U after E's largest
** extent.
**
** The kernel (corr16k.h) is compiled twice: for AVX2 (8 pixels a column,
** multiply-add then add) and for AVX-512 with VNNI (16 pixels a column,
** one vpdpwssd per lag and pair of frames, 32 registers so that nothing
** spills); the best the CPU runs is taken unless the caller asks for one.
*/
#include <string.h>

#include "corr16.h"

#ifndef CORR16_PF
#define CORR16_PF 16		/* frames ahead to prefetch */
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CORR16_X86 1
#endif

/* E (pair rows) at the start, where the level below writes; U (rows)
** after the most pair rows a level of n frames has (one more frame when
** n is odd, and the pair the level below writes past its last) */
size_t corr16_work(size_t P, size_t n)
{
	return 2 * (CORR16_K + n + 3) * P;
}

uint16_t *corr16_pairs(uint16_t *work)
{
	return work;
}

static uint16_t *corr16_u(uint16_t *work, size_t P, size_t n)
{
	return work + (CORR16_K + n + 3) * P;
}

void corr16_frame(const uint16_t *work, size_t P, int level, size_t n,
		  size_t r, double *dst)
{
	size_t K = CORR16_K;
	if (level == 0) {
		const uint16_t *u = corr16_u((uint16_t *)work, P, n) +
				    (K + r) * P;
		for (size_t p = 0; p < P; p++)
			dst[p] = u[p];
	} else {
		const uint16_t *e = work + (K + r) / 2 * 2 * P + (K + r) % 2;
		for (size_t p = 0; p < P; p++)
			dst[p] = e[2 * p];
	}
}

int corr16_isa(void)
{
#ifdef CORR16_X86
	if (__builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vnni"))
		return CORR16_AVX512;
	if (__builtin_cpu_supports("avx2"))
		return CORR16_AVX2;
#endif
	return CORR16_NONE;
}

int corr16_available(void)
{
	return corr16_isa() != CORR16_NONE;
}

#ifdef CORR16_X86

/* the K frames before the batch: kept as uint16 by the last batch that
** ran here, or else from the ring (zeros before the first frame); 1
** unless every value is an integer in [0, CORR16_MAX) (a dark-subtracted
** or float frame, or a value too large for the integer kernel, may have
** left something else) */
static int corr16_history(const corr16_job *j, uint16_t *U)
{
	size_t P = j->P, K = CORR16_K;
	if (*j->hist_ok) {
		memcpy(U, j->hist, K * P * sizeof *U);
		return 0;
	}
	for (size_t i = 0; i < K; i++) {
		const double *r = j->ring + ((j->M + i) % K) * P;
		uint16_t *u = U + i * P;
		if (j->M + i < K) {	/* frame M - K + i < 0 */
			memset(u, 0, P * sizeof *u);
			continue;
		}
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

/* pairs of frames whose sums of products (each pair adds at most
** 2 top^2) stay below 2^32 in a 32-bit lane: the accumulators are moved
** into doubles that often. From the values actually present, so that
** photon-counting data rarely move them, and the deep levels (sums of
** many frames) do not move them every other pair. */
static size_t corr16_chunk(unsigned top)
{
	uint64_t worst = 2 * (uint64_t)top * top;
	uint64_t n = worst ? UINT32_MAX / worst : 1u << 20;
	return n > (1u << 20) ? 1u << 20 : n < 1 ? 1 : (size_t)n;
}

/* n bytes of a frame, a frame or two ahead of use */
static inline void corr16_prefetch(const void *f, size_t n)
{
	const char *p = (const char *)f;
	for (size_t o = 0; o < n; o += 64)
		__builtin_prefetch(p + o);
	__builtin_prefetch(p + n - 1);
}

/* The tile's pixels p.. of frame f as uint16 into u (zeros past the used
** pixels): a count of CORR16_MAX or more (whose low bits are all that u
** keeps) shows only in the returned largest value (int32 counts read as
** uint32, so a negative one is too large). The loops vectorise (omp
** simd). */
#define CORR16_GATHER(T)						\
	{								\
		const T *s = (const T *)f + (j->contig ? j->pix[0] : 0); \
		if (j->contig) {					\
			_Pragma("omp simd reduction(max:top)")		\
			for (size_t i = p; i < nv; i++) {		\
				uint32_t v = (uint32_t)s[i];		\
				top = v > top ? v : top;		\
				u[i] = (uint16_t)v;			\
			}						\
		} else {						\
			for (size_t i = p; i < nv; i++) {		\
				uint32_t v = (uint32_t)s[j->pix[i]];	\
				top = v > top ? v : top;		\
				u[i] = (uint16_t)v;			\
			}						\
		}							\
	}

static unsigned corr16_gather(const corr16_job *j, const void *f, size_t p,
			      uint16_t *u)
{
	size_t nv = j->nv;
	uint32_t top = 0;
	if (j->esize == 1)
		CORR16_GATHER(uint8_t)
	else if (j->esize == 2)
		CORR16_GATHER(uint16_t)
	else
		CORR16_GATHER(uint32_t)
	if (nv > p)
		p = nv;
	memset(u + p, 0, (j->P - p) * sizeof *u);
	return top < CORR16_MAX ? (unsigned)top : CORR16_MAX;
}

/* ------------------------------------------------------------- AVX2 */

#define C16_T __attribute__((target("avx2")))

static C16_T uint32_t corr16_hsum_avx2(__m256i v)
{
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(v),
				  _mm256_extracti128_si256(v, 1));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
	return (uint32_t)_mm_cvtsi128_si32(s);
}

/* The interleave works within 128-bit lanes, so the 64-bit quarters
** (pixels 0-3, 4-7, 8-11, 12-15) are first put in the order 0-3, 8-11,
** 4-7, 12-15: then the low interleave holds pixels 0-7, the high one
** 8-15, in pixel order. */
static inline __attribute__((always_inline)) C16_T void
corr16_pair_avx2(__m256i a, __m256i b, uint16_t *dst)
{
	__m256i va = _mm256_permute4x64_epi64(a, 0xd8);
	__m256i vb = _mm256_permute4x64_epi64(b, 0xd8);
	_mm256_store_si256((__m256i *)dst, _mm256_unpacklo_epi16(va, vb));
	_mm256_store_si256((__m256i *)(dst + 16),
			   _mm256_unpackhi_epi16(va, vb));
}

/* the largest unsigned 16-bit lane (minpos finds the smallest of the
** complements) */
static C16_T unsigned corr16_hmax128(__m128i m)
{
	m = _mm_xor_si128(m, _mm_set1_epi16(-1));
	return 0xffffu - (unsigned)_mm_extract_epi16(_mm_minpos_epu16(m), 0);
}

static C16_T unsigned corr16_hmax_avx2(__m256i v)
{
	return corr16_hmax128(_mm_max_epu16(_mm256_castsi256_si128(v),
					    _mm256_extracti128_si256(v, 1)));
}

/* 8 unsigned 32-bit lanes as doubles (the sums of products may pass
** 2^31: as signed they would read negative, and 2^32 puts them right) */
static C16_T __m256d corr16_u32_avx2(__m128i v)
{
	__m256d d = _mm256_cvtepi32_pd(v);
	__m256d neg = _mm256_cmp_pd(d, _mm256_setzero_pd(), _CMP_LT_OQ);
	return _mm256_add_pd(d, _mm256_and_pd(neg,
					      _mm256_set1_pd(4294967296.0)));
}

static inline __attribute__((always_inline)) C16_T void
corr16_put_avx2(double *r, __m256i v, int add)
{
	__m256d a = corr16_u32_avx2(_mm256_castsi256_si128(v));
	__m256d b = corr16_u32_avx2(_mm256_extracti128_si256(v, 1));
	if (add) {
		a = _mm256_add_pd(a, _mm256_load_pd(r));
		b = _mm256_add_pd(b, _mm256_load_pd(r + 4));
	}
	_mm256_store_pd(r, a);
	_mm256_store_pd(r + 4, b);
}

/* frame h of 16 pixels from their pair-row vectors a, b: the halves
** packed (within 128-bit lanes, hence the permute) */
static inline __attribute__((always_inline)) C16_T __m256i
corr16_half_avx2(__m256i a, __m256i b, int h)
{
	__m256i m = _mm256_set1_epi32(0xffff);
	a = h ? _mm256_srli_epi32(a, 16) : _mm256_and_si256(a, m);
	b = h ? _mm256_srli_epi32(b, 16) : _mm256_and_si256(b, m);
	return _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xd8);
}

#define C16_FN(name) corr16_##name##_avx2
#define C16_V __m256i
#define C16_W 16
#define C16_LD(p) _mm256_load_si256((const __m256i *)(p))
#define C16_LDU(p) _mm256_loadu_si256((const __m256i *)(p))
#define C16_ST(p, v) _mm256_store_si256((__m256i *)(p), v)
#define C16_ZERO _mm256_setzero_si256()
#define C16_ONE _mm256_set1_epi16(1)
#define C16_DP(a, x, y) _mm256_add_epi32(a, _mm256_madd_epi16(x, y))
#define C16_SUM2(x) _mm256_madd_epi16(x, C16_ONE)
#define C16_ODD(a, b) _mm256_blend_epi16(a, b, 0xaa)
#define C16_SWAP(x) _mm256_shuffle_epi8(x, _mm256_set_epi8(		\
	13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2,		\
	13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2))
#define C16_MAX(a, b) _mm256_max_epu16(a, b)
#define C16_HMAX(v) corr16_hmax_avx2(v)
#define C16_HSUM(v) corr16_hsum_avx2(v)
#define C16_PAIR(a, b, dst) corr16_pair_avx2(a, b, dst)
#define C16_PUT(row, v, add) corr16_put_avx2(row, v, add)
#define C16_JOIN(a, b) _mm256_or_si256(a, _mm256_slli_epi32(b, 16))
#define C16_HALF(a, b, h) corr16_half_avx2(a, b, h)
#include "corr16k.h"
#undef C16_T
#undef C16_FN
#undef C16_V
#undef C16_W
#undef C16_LD
#undef C16_LDU
#undef C16_ST
#undef C16_ZERO
#undef C16_ONE
#undef C16_DP
#undef C16_SUM2
#undef C16_ODD
#undef C16_SWAP
#undef C16_MAX
#undef C16_HMAX
#undef C16_HSUM
#undef C16_PAIR
#undef C16_PUT
#undef C16_JOIN
#undef C16_HALF

/* ------------------------------------------------------ AVX-512 VNNI */

#define C16_T __attribute__((target("avx512f,avx512bw,avx512vnni")))

/* lane 2i of the low half of an interleave takes a[i], lane 2i + 1 b[i]
** (index 32 + i); the high half the same for pixels 16..31 */
static const uint16_t corr16_ilo[32] __attribute__((aligned(64))) = {
	0, 32, 1, 33, 2, 34, 3, 35, 4, 36, 5, 37, 6, 38, 7, 39,
	8, 40, 9, 41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47};
static const uint16_t corr16_ihi[32] __attribute__((aligned(64))) = {
	16, 48, 17, 49, 18, 50, 19, 51, 20, 52, 21, 53, 22, 54, 23, 55,
	24, 56, 25, 57, 26, 58, 27, 59, 28, 60, 29, 61, 30, 62, 31, 63};

/* lane i takes lane 2i of a, b (b's from 32): a frame's lanes of two pair
** rows' vectors (plus 1 for the other frame) */
static const uint16_t corr16_even[32] __attribute__((aligned(64))) = {
	0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30,
	32, 34, 36, 38, 40, 42, 44, 46, 48, 50, 52, 54, 56, 58, 60, 62};

static inline __attribute__((always_inline)) C16_T void
corr16_pair_avx512(__m512i a, __m512i b, uint16_t *dst)
{
	__m512i lo = _mm512_load_si512((const void *)corr16_ilo);
	__m512i hi = _mm512_load_si512((const void *)corr16_ihi);
	_mm512_store_si512((void *)dst, _mm512_permutex2var_epi16(a, lo, b));
	_mm512_store_si512((void *)(dst + 32),
			   _mm512_permutex2var_epi16(a, hi, b));
}

static C16_T unsigned corr16_hmax_avx512(__m512i v)
{
	__m256i h = _mm256_max_epu16(_mm512_castsi512_si256(v),
				     _mm512_extracti64x4_epi64(v, 1));
	return corr16_hmax_avx2(h);
}

/* (vcvtudq2pd reads the lanes as unsigned: sums past 2^31 come right) */
static inline __attribute__((always_inline)) C16_T void
corr16_put_avx512(double *r, __m512i v, int add)
{
	__m512d a = _mm512_cvtepu32_pd(_mm512_castsi512_si256(v));
	__m512d b = _mm512_cvtepu32_pd(_mm512_extracti64x4_epi64(v, 1));
	if (add) {
		a = _mm512_add_pd(a, _mm512_load_pd(r));
		b = _mm512_add_pd(b, _mm512_load_pd(r + 8));
	}
	_mm512_store_pd(r, a);
	_mm512_store_pd(r + 8, b);
}

#define C16_FN(name) corr16_##name##_avx512
#define C16_V __m512i
#define C16_W 32
#define C16_LD(p) _mm512_load_si512((const void *)(p))
#define C16_LDU(p) _mm512_loadu_si512((const void *)(p))
#define C16_ST(p, v) _mm512_store_si512((void *)(p), v)
#define C16_ZERO _mm512_setzero_si512()
#define C16_ONE _mm512_set1_epi16(1)
#define C16_DP(a, x, y) _mm512_dpwssd_epi32(a, x, y)
#define C16_SUM2(x) _mm512_madd_epi16(x, C16_ONE)
#define C16_ODD(a, b) _mm512_mask_blend_epi16(0xaaaaaaaau, a, b)
#define C16_SWAP(x) _mm512_rol_epi32(x, 16)
#define C16_MAX(a, b) _mm512_max_epu16(a, b)
#define C16_HMAX(v) corr16_hmax_avx512(v)
#define C16_HSUM(v) ((uint32_t)_mm512_reduce_add_epi32(v))
#define C16_PAIR(a, b, dst) corr16_pair_avx512(a, b, dst)
#define C16_PUT(row, v, add) corr16_put_avx512(row, v, add)
#define C16_JOIN(a, b) _mm512_or_si512(a, _mm512_slli_epi32(b, 16))
#define C16_HALF(a, b, h) _mm512_permutex2var_epi16(a, _mm512_add_epi16( \
	_mm512_load_si512((const void *)corr16_even),			\
	_mm512_set1_epi16((short)(h))), b)
#include "corr16k.h"

/* ---------------------------------------------------------- dispatch */

/* An odd number of frames (the last batch of a run, a level whose batch
** is odd) runs with a zero frame after the last: it adds nothing to the
** sums, and the next level's row it makes (when M is even) is not one the
** caller takes. Without it the batch would go to the double kernel, whose
** ring is 64 bytes per pixel and level of fresh memory. */
int corr16_level(const corr16_job *j)
{
	corr16_job k = *j;
	if (j->P % CORR16_P || j->n == 0 || j->level < 0 ||
	    j->level >= CORR16_LEVELS ||
	    (j->level == 0 && j->esize != 1 && j->esize != 2 && j->esize != 4))
		return 1;
	k.n += j->n % 2;
	if (j->isa == CORR16_AVX512 && corr16_isa() == CORR16_AVX512)
		return corr16_run_avx512(&k, j->n);
	if (j->isa != CORR16_NONE && corr16_isa() != CORR16_NONE)
		return corr16_run_avx2(&k, j->n);
	return 1;
}

#else

int corr16_level(const corr16_job *j)
{
	(void)j;
	return 1;
}

#endif
