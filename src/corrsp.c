/*
** corrsp.c - sparse level 0 of the multi-tau correlator (see corrsp.h).
**
** Events are 32-bit words, pixel (within the tile) in the high half and
** count in the low half; a frame's are found tile by tile
** (corrsp_scan_frame), pixels increasing. The window holds each pixel's counts of
** frames g - 8 .. g - 1 in slots g % 8: when frame g's events are taken,
** slot g % 8 still holds frame g - 8 (lag 8); then frame g - 8's entries
** are cleared (by its events, or whole for a frame of the history) and
** frame g's written.
*/
#include <string.h>

#include "corrsp.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CORRSP_X86 1
#endif


/* a tile's events (nv pixels from pix) of frame f, any dtype and
** layout; its largest count into *top */
static void corrsp_scan_any(const void *f, int es, const size_t *pix,
			    size_t nv, uint32_t *ev, size_t *ne, uint32_t *top)
{
	size_t k = *ne;
	uint32_t mx = *top;
	for (size_t q = 0; q < nv; q++) {
		size_t p = pix[q];
		uint32_t v = es == 1 ? ((const uint8_t *)f)[p] :
			     es == 2 ? ((const uint16_t *)f)[p] :
			     ((const uint32_t *)f)[p];
		if (v == 0)
			continue;
		mx = v > mx ? v : mx;
		ev[k++] = (uint32_t)q << 16 | (v < CORRSP_MAX ? v : 0);
	}
	*ne = k;
	*top = mx;
}

#ifndef CORRSP_EVPF
#define CORRSP_EVPF 8		/* frames of events ahead to prefetch */
#endif
#ifndef CORRSP_AHEAD
#define CORRSP_AHEAD 1024	/* counts ahead to prefetch (the hardware
				   prefetcher alone streamed a third as fast) */
#endif

#ifdef CORRSP_X86
/* contiguous uint16 counts, 32 at a time, without a branch per event (a
** loop over the nonzero lanes mispredicted about once per 32 pixels and
** cost more than the dense kernel): each half's lanes become event words,
** compressed by the mask of nonzero lanes and stored whole (the scratch
** has 32 words of slack), the count advancing by the lanes kept */
static __attribute__((target("avx512f,avx512bw"))) void
corrsp_scan_avx512(const uint16_t *g, size_t nv, uint32_t *ev, size_t *ne,
		   uint32_t *top)
{
	size_t k = *ne;
	__m512i mx = _mm512_setzero_si512();
	__m512i iota = _mm512_slli_epi32(_mm512_set_epi32(15, 14, 13, 12, 11,
				10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), 16);
	for (size_t p = 0; p < nv; p += 32) {
		__mmask32 lm = nv - p >= 32 ? 0xffffffffu :
			       (__mmask32)((1u << (nv - p)) - 1);
		__m512i x;
		__builtin_prefetch(g + p + CORRSP_AHEAD);
		x = _mm512_maskz_loadu_epi16(lm, g + p);
		uint32_t m = _mm512_test_epi16_mask(x, x);
		__m512i base = _mm512_add_epi32(iota,
				_mm512_set1_epi32((int)(p << 16)));
		__m512i lo = _mm512_or_si512(base, _mm512_cvtepu16_epi32(
					_mm512_castsi512_si256(x)));
		__m512i hi = _mm512_or_si512(_mm512_add_epi32(base,
				_mm512_set1_epi32(16 << 16)),
				_mm512_cvtepu16_epi32(
					_mm512_extracti64x4_epi64(x, 1)));
		mx = _mm512_max_epu16(mx, x);
		_mm512_storeu_si512((void *)(ev + k),
				    _mm512_maskz_compress_epi32(
					    (__mmask16)m, lo));
		k += (size_t)__builtin_popcount(m & 0xffffu);
		_mm512_storeu_si512((void *)(ev + k),
				    _mm512_maskz_compress_epi32(
					    (__mmask16)(m >> 16), hi));
		k += (size_t)__builtin_popcount(m >> 16);
	}
	*ne = k;
	{
		__m256i h = _mm256_max_epu16(_mm512_castsi512_si256(mx),
					     _mm512_extracti64x4_epi64(mx, 1));
		__m128i q = _mm_max_epu16(_mm256_castsi256_si128(h),
					  _mm256_extracti128_si256(h, 1));
		q = _mm_xor_si128(q, _mm_set1_epi16(-1));
		uint32_t t = 0xffffu -
			     (uint32_t)_mm_extract_epi16(_mm_minpos_epu16(q), 0);
		*top = t > *top ? t : *top;
	}
}
#endif

/* Frame after frame (each read in order, so that the memory streams: a
** tile's rows of 512 frames a frame apart, read tile by tile, came at a
** quarter of the rate) */
uint32_t corrsp_scan_frame(const corrsp_scan_in *s)
{
	size_t ne = 0;
	uint32_t top = 0;
	for (size_t t = 0; t < s->ntile; t++) {
		size_t b = t * s->P, nv = s->npx - b < s->P ? s->npx - b : s->P;
		if (ne + nv + 32 > s->cap)
			return UINT32_MAX;
		s->toff[t] = (uint32_t)ne;
#ifdef CORRSP_X86
		if (s->isa == 2 && s->contig[t] && s->esize == 2)
			corrsp_scan_avx512((const uint16_t *)s->frame +
					   s->pix[b], nv, s->ev, &ne, &top);
		else
#endif
			corrsp_scan_any(s->frame, s->esize, s->pix + b, nv,
					s->ev, &ne, &top);
	}
	s->toff[s->ntile] = (uint32_t)ne;
	return top;
}

/* the window from the history (frames M - 8 .. M - 1, zeros before the
** first) and its largest count; 1 unless they are all integers in
** [0, CORRSP_MAX) */
static int corrsp_window(const corrsp_job *j, uint32_t *top)
{
	size_t P = j->P, K = CORRSP_K;
	uint32_t mx = 0;
	for (size_t i = 0; i < K; i++) {
		size_t s = (j->M + i) % K;	/* frame M - K + i */
		const double *r = j->ring + s * P;
		const uint16_t *h = j->hist + i * P;
		for (size_t q = 0; q < P; q++) {
			double v;
			if (*j->hist_ok) {
				j->win[q * K + s] = h[q];
				mx = h[q] > mx ? h[q] : mx;
				continue;
			}
			v = j->M + i < K ? 0 : r[q];
			if (!(v >= 0 && v < CORRSP_MAX) ||
			    (double)(uint16_t)v != v)
				return 1;
			j->win[q * K + s] = (uint16_t)v;
			mx = (uint32_t)v > mx ? (uint32_t)v : mx;
		}
	}
	*top = mx;
	return 0;
}

/* the start (end = 0) or end (1) of frame r's events of the tile */
static inline const uint32_t *corrsp_ev(const corrsp_job *j, size_t r,
					int end)
{
	return j->fev[r] + j->toff[r * j->tstride + (size_t)end];
}

typedef uint16_t corrsp_v8s __attribute__((vector_size(16)));
typedef uint32_t corrsp_v8w __attribute__((vector_size(32)));

/* the window's lanes reordered by a run-time index vector: one instruction
** with GCC's __builtin_shuffle; clang (the fuzz build) has only the
** constant-index form, so there the lanes are moved one by one */
#if defined(__clang__)
static inline corrsp_v8s corrsp_perm(corrsp_v8s w, corrsp_v8s p)
{
	corrsp_v8s r;
	for (int i = 0; i < 8; i++)
		r[i] = w[p[i] & 7];
	return r;
}
#else
#define corrsp_perm(w, p) __builtin_shuffle(w, p)
#endif

/* Frame r's events into the batch's accumulators (see the top of the
** file). acc holds per pixel its 8 lags' sums of products (pixel-major,
** so that an event adds all 8 at once: the window's slots put in lag
** order by one shuffle, times the count) and then its sum of counts;
** 32-bit sums, which the caller has checked cannot overflow. The
** products of an event with empty slots add zeros: no branch. */
static inline __attribute__((always_inline)) void
corrsp_frame_body(const corrsp_job *j, size_t r, uint32_t *acc)
{
	size_t P = j->P, K = CORRSP_K, g = j->M + r, s = g % K;
	const uint32_t *e = corrsp_ev(j, r, 0), *end = corrsp_ev(j, r, 1);
	uint16_t *up = j->up ? j->up + r / 2 * P : NULL;
	double *nx = j->up ? NULL : j->nx + r / 2 * P;
	uint32_t *sacc = acc + K * P;
	corrsp_v8s perm;
	uint64_t sum = 0;
	for (size_t i = 0; i < K; i++)	/* lag i + 1 is in slot g - i - 1 */
		perm[i] = (uint16_t)((g + K - i - 1) % K);
	for (; e < end; e++) {
		size_t q = *e >> 16;
		uint32_t v = *e & 0xffffu;
		corrsp_v8s w, wl;
		corrsp_v8w a;
		memcpy(&w, j->win + q * K, sizeof w);
		wl = corrsp_perm(w, perm);
		memcpy(&a, acc + q * K, sizeof a);
		a += __builtin_convertvector(wl, corrsp_v8w) * v;
		memcpy(acc + q * K, &a, sizeof a);
		sacc[q] += v;
		sum += v;
		if (up)
			up[q] = (uint16_t)(up[q] + v);
		else
			nx[q] += v;
	}
	j->rowsum[r] = (double)sum;
	if (r >= K) {		/* frame g - 8's entries */
		for (e = corrsp_ev(j, r - K, 0); e < corrsp_ev(j, r - K, 1);
		     e++)
			j->win[(*e >> 16) * K + s] = 0;
	} else {
		for (size_t q = 0; q < P; q++)
			j->win[q * K + s] = 0;
	}
	for (e = corrsp_ev(j, r, 0); e < end; e++)
		j->win[(*e >> 16) * K + s] = (uint16_t)(*e & 0xffffu);
}

/* A tile's events of a frame are a short run (a few lines) in that
** frame's part of the buffer, away from the last frame's and written by
** either thread: each was a cache miss the hardware prefetcher does not
** foresee. They are asked for a few frames ahead. */
static inline void corrsp_ev_prefetch(const corrsp_job *j, size_t r)
{
	const char *a, *b;
	if (r >= j->n)
		return;
	a = (const char *)corrsp_ev(j, r, 0);
	b = (const char *)corrsp_ev(j, r, 1);
	for (; a < b; a += 64)
		__builtin_prefetch(a);
}

static void corrsp_frames_base(const corrsp_job *j, uint32_t *acc)
{
	for (size_t r = 0; r < CORRSP_EVPF && r < j->n; r++)
		corrsp_ev_prefetch(j, r);
	for (size_t r = 0; r < j->n; r++) {
		corrsp_ev_prefetch(j, r + CORRSP_EVPF);
		corrsp_frame_body(j, r, acc);
	}
}

#ifdef CORRSP_X86
static __attribute__((target("avx2"))) void
corrsp_frames_avx2(const corrsp_job *j, uint32_t *acc)
{
	for (size_t r = 0; r < CORRSP_EVPF && r < j->n; r++)
		corrsp_ev_prefetch(j, r);
	for (size_t r = 0; r < j->n; r++) {
		corrsp_ev_prefetch(j, r + CORRSP_EVPF);
		corrsp_frame_body(j, r, acc);
	}
}
#endif

int corrsp_level0(corrsp_job *j)
{
	size_t P = j->P, K = CORRSP_K, n = j->n;
	uint32_t top, wtop;
	if (n == 0 || n % 2 || j->M % 2 || j->nv > 65535 ||
	    corrsp_window(j, &wtop))
		return 1;
	top = wtop > j->top ? wtop : j->top;
	/* counts below 2^15, and a pixel's n products below 2^32 */
	if (top >= CORRSP_MAX || (uint64_t)n * top * top > UINT32_MAX)
		return 1;
	if (j->up)
		memset(j->up, 0, n / 2 * P * sizeof *j->up);
	else
		memset(j->nx, 0, n / 2 * P * sizeof *j->nx);
	for (size_t r = 0; r < j->nhead; r++) {
		double *h = j->head + r * P;
		memset(h, 0, P * sizeof *h);
		for (const uint32_t *e = corrsp_ev(j, r, 0);
		     e < corrsp_ev(j, r, 1); e++)
			h[*e >> 16] = *e & 0xffffu;
	}
	memset(j->acc, 0, (K + 1) * P * sizeof *j->acc);
#ifdef CORRSP_X86
	if (j->isa)
		corrsp_frames_avx2(j, j->acc);
	else
#endif
		corrsp_frames_base(j, j->acc);
	for (size_t q = 0; q < j->nv; q++) {	/* (exact: integers) */
		for (size_t i = 0; i < K; i++)
			j->G[i * P + q] += j->acc[q * K + i];
		j->S[q] += j->acc[K * P + q];
	}
	for (size_t i = 0; i < K; i++) {	/* frames M + n - K + i */
		size_t s = (j->M + n + i) % K;
		uint16_t *h = j->hist + i * P;
		for (size_t q = 0; q < P; q++)
			h[q] = j->win[q * K + s];
	}
	*j->hist_ok = 1;
	return 0;
}
