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

typedef uint16_t corrsp_v8s __attribute__((vector_size(16)));
typedef uint32_t corrsp_v8w __attribute__((vector_size(32)));


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

#ifndef CORRSP_RECPF
#define CORRSP_RECPF 8		/* events ahead whose records to prefetch */
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

/* The pixel's record (one cache line, so that an event touches one):
** its 8 lags' sums of products, its sum of counts, and its window: w[i]
** is its count of frame last - i (frames numbered from 8 before the
** batch). An event of frame g finds its partner at lag k in lane k - d,
** d = g - last: the window shifted by d - 1 lanes (zeros shifted in, all
** zeros from d = 9 on) is the vector of lags 1..8; shifted once more with
** the count in lane 0 it is the new window. Loads and stores of a record
** are whole vectors of the same addresses (a window written a count at a
** time and read as a vector stalled on every store-to-load forwarding),
** and nothing is cleared frame by frame. */
typedef struct corrsp_rec {
	uint32_t acc[8];
	uint16_t w[8];
	uint32_t last, s;
	uint32_t pad[2];
} __attribute__((aligned(64))) corrsp_rec;

/* 1 unless the level's history (frames M - 8 .. M - 1, zeros before the
** first) is integers in [0, CORRSP_MAX); it is left in j->hist (from the
** double ring when that is where it is), its largest value in *top */
static int corrsp_window(const corrsp_job *j, uint32_t *top)
{
	size_t P = j->P, K = CORRSP_K;
	uint16_t mx = 0;
	if (*j->hist_ok) {	/* (a loop of its own: it vectorises) */
		const uint16_t *h = j->hist;
		for (size_t q = 0; q < K * P; q++)
			mx = h[q] > mx ? h[q] : mx;
		*top = mx;
		return 0;
	}
	for (size_t i = 0; i < K; i++) {
		const double *r = j->ring + ((j->M + i) % K) * P;
		uint16_t *h = j->hist + i * P;
		for (size_t q = 0; q < P; q++) {
			double v = j->M + i < K ? 0 : r[q];
			if (!(v >= 0 && v < CORRSP_MAX) ||
			    (double)(uint16_t)v != v)
				return 1;
			h[q] = (uint16_t)v;
			mx = h[q] > mx ? h[q] : mx;
		}
	}
	*top = mx;
	return 0;
}

/* the start (end = 0) or end (1) of frame r's events of the tile */
static inline const uint32_t *corrsp_ev(const corrsp_job *j, size_t r,
					int end)
{
	if (j->fev == NULL)
		return j->evb + j->toff[r + (size_t)end];
	return j->fev[r] + j->toff[r * j->tstride + (size_t)end];
}

/* byte shuffles: lane i of the result is byte m[i] of x, 0 where m[i]
** has its top bit set */
#ifdef CORRSP_X86
#define CORRSP_TGT __attribute__((target("avx2")))
typedef __m128i corrsp_v16;
#define CORRSP_SHUF(x, m) _mm_shuffle_epi8(x, m)
#define CORRSP_LD(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define CORRSP_ST(p, v) _mm_storeu_si128((__m128i *)(void *)(p), v)
#define CORRSP_LANE0(x, v) _mm_or_si128(x, _mm_cvtsi32_si128((int)(v)))
#else
#define CORRSP_TGT
typedef struct { uint8_t b[16]; } corrsp_v16;
static inline corrsp_v16 corrsp_shuf(corrsp_v16 x, corrsp_v16 m)
{
	corrsp_v16 r;
	for (int i = 0; i < 16; i++)
		r.b[i] = m.b[i] & 0x80 ? 0 : x.b[m.b[i] & 15];
	return r;
}
#define CORRSP_SHUF(x, m) corrsp_shuf(x, m)
#define CORRSP_LD(p) (*(const corrsp_v16 *)(const void *)(p))
#define CORRSP_ST(p, v) (*(corrsp_v16 *)(void *)(p) = (v))
static inline corrsp_v16 corrsp_lane0(corrsp_v16 x, uint32_t v)
{
	x.b[0] = (uint8_t)v;	/* (little-endian lanes) */
	x.b[1] = (uint8_t)(v >> 8);
	return x;
}
#define CORRSP_LANE0(x, v) corrsp_lane0(x, v)
#endif

/* shift[d]: 16-bit lanes moved up by d (d = 0..8: lane i from lane
** i - d, zeros below; 8: all zeros) */
static uint8_t corrsp_shift[10][16] __attribute__((aligned(16)));
static int corrsp_shift_ok;

static void corrsp_shift_init(void)
{
	if (corrsp_shift_ok)
		return;
	for (int d = 0; d < 10; d++)
		for (int i = 0; i < 16; i++)
			corrsp_shift[d][i] = i - 2 * d >= 0 ?
					     (uint8_t)(i - 2 * d) : 0x80;
	corrsp_shift_ok = 1;	/* (the same bytes from every thread) */
}

#ifdef CORRSP_X86
static __attribute__((target("avx512f,avx512bw,avx512vbmi2"))) size_t
corrsp_events_avx512(const uint16_t *f, size_t n, uint32_t *pix,
		     uint16_t *cnt)
{
	size_t k = 0;
	__m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5,
					4, 3, 2, 1, 0);
	for (size_t p = 0; p < n; p += 32) {
		__mmask32 lm = n - p >= 32 ? 0xffffffffu :
			       (__mmask32)((1u << (n - p)) - 1);
		__m512i x = _mm512_maskz_loadu_epi16(lm, f + p);
		__mmask32 m = _mm512_test_epi16_mask(x, x);
		__m512i b = _mm512_add_epi32(iota, _mm512_set1_epi32((int)p));
		if (m == 0)
			continue;
		_mm512_mask_compressstoreu_epi16(cnt + k, m, x);
		_mm512_storeu_si512((void *)(pix + k),
			_mm512_maskz_compress_epi32((__mmask16)m, b));
		_mm512_storeu_si512((void *)(pix + k +
			(size_t)__builtin_popcount(m & 0xffffu)),
			_mm512_maskz_compress_epi32((__mmask16)(m >> 16),
				_mm512_add_epi32(b, _mm512_set1_epi32(16))));
		k += (size_t)__builtin_popcount(m);
	}
	return k;
}
#endif

size_t corrsp_events(const uint16_t *f, size_t n, uint32_t *pix,
		     uint16_t *cnt)
{
	size_t k = 0;
#ifdef CORRSP_X86
	if (__builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vbmi2"))
		return corrsp_events_avx512(f, n, pix, cnt);
#endif
	for (size_t p = 0; p < n; p++) {
		pix[k] = (uint32_t)p;
		cnt[k] = f[p];
		k += f[p] != 0;
	}
	return k;
}

/* the state of a frame's staging (corrsp_stage) */
typedef struct corrsp_stg {
	size_t k;	/* events written */
	size_t t;	/* the first tile whose offset is not yet set */
	uint32_t top;
} corrsp_stg;

/* events i .. n - 1, one at a time; returns where the pixels stop
** increasing, or n */
static size_t corrsp_stage_any(const uint32_t *map, uint32_t pix0,
			       const uint32_t *pix, const uint16_t *cnt,
			       size_t i, size_t n, uint32_t *ev, uint32_t *to,
			       corrsp_stg *st)
{
	size_t k = st->k, t = st->t;
	uint32_t tp = st->top;
	for (; i < n; i++) {
		uint32_t m = map[pix[i] - pix0], tt = m >> 10;
		if (i && pix[i] <= pix[i - 1])
			break;
		if (m == UINT32_MAX || cnt[i] == 0)
			continue;
		for (; t <= tt; t++)
			to[t] = (uint32_t)k;
		ev[k++] = (m & 1023u) << 16 | cnt[i];
		tp = cnt[i] > tp ? cnt[i] : tp;
	}
	st->k = k;
	st->t = t;
	st->top = tp;
	return i;
}

#ifdef CORRSP_X86
/* 16 events a step: the map gathered, the kept lanes compressed into
** words, a tile's offset set where a kept lane starts one (tiles do not
** decrease along increasing pixels). Stops before a step whose pixels do
** not all increase, for the scalar loop to find where. (Per event, the
** scalar loop's lookup, tests and branches cost about as much as the
** sparse level's whole update of the pixel's record.) */
static __attribute__((target("avx512f"))) size_t
corrsp_stage_avx512(const uint32_t *map, uint32_t pix0, const uint32_t *pix,
		    const uint16_t *cnt, size_t n, uint32_t *ev, uint32_t *to,
		    corrsp_stg *st)
{
	size_t i = 0, k = st->k, t = st->t;
	__m512i prev = _mm512_setzero_si512(), mx = _mm512_setzero_si512();
	const __m512i none = _mm512_set1_epi32(-1), p0 = _mm512_set1_epi32(
		(int)pix0), low = _mm512_set1_epi32(1023);
	for (; i + 16 <= n; i += 16) {
		__m512i p = _mm512_loadu_si512((const void *)(pix + i));
		/* lane j: pixel i + j - 1 (lane 0 of the first step passes) */
		__m512i pp = _mm512_alignr_epi32(p, prev, 15);
		__mmask16 up = _mm512_cmpgt_epu32_mask(p, pp) | (i == 0);
		if (up != 0xffff)
			break;
		prev = p;
		__m512i m = _mm512_i32gather_epi32(_mm512_sub_epi32(p, p0),
						   (const void *)map, 4);
		__m512i c = _mm512_cvtepu16_epi32(_mm256_loadu_si256(
				(const __m256i *)(const void *)(cnt + i)));
		__mmask16 keep = _mm512_cmpneq_epi32_mask(m, none) &
				 _mm512_test_epi32_mask(c, c);
		__m512i tl = _mm512_srli_epi32(m, 10);
		__mmask16 nt = _mm512_mask_cmpge_epu32_mask(keep, tl,
					_mm512_set1_epi32((int)t));
		uint32_t tv[16];
		if (nt)
			_mm512_storeu_si512((void *)tv, tl);
		while (nt) {	/* lane j starts tiles t .. tl[j] */
			unsigned j = (unsigned)__builtin_ctz(nt);
			for (; t <= tv[j]; t++)
				to[t] = (uint32_t)(k + (size_t)__builtin_popcount(
					keep & ((1u << j) - 1)));
			nt = _mm512_mask_cmpge_epu32_mask(keep, tl,
					_mm512_set1_epi32((int)t));
		}
		mx = _mm512_mask_max_epu32(mx, keep, mx, c);
		_mm512_storeu_si512((void *)(ev + k), _mm512_maskz_compress_epi32(
			keep, _mm512_or_si512(_mm512_slli_epi32(
				_mm512_and_si512(m, low), 16), c)));
		k += (size_t)__builtin_popcount(keep);
	}
	{
		uint32_t tp = _mm512_reduce_max_epu32(mx);
		st->top = tp > st->top ? tp : st->top;
	}
	st->k = k;
	st->t = t;
	return i;
}
#endif

size_t corrsp_stage(int isa, const uint32_t *map, uint32_t pix0,
		    const uint32_t *pix, const uint16_t *cnt, size_t n,
		    size_t ntile, uint32_t *ev, uint32_t *to, size_t *k,
		    uint32_t *top)
{
	corrsp_stg st = {0, 0, *top};
	size_t i = 0;
#ifdef CORRSP_X86
	if (isa == 2)
		i = corrsp_stage_avx512(map, pix0, pix, cnt, n, ev, to, &st);
#else
	(void)isa;
#endif
	i = corrsp_stage_any(map, pix0, pix, cnt, i, n, ev, to, &st);
	if (i < n)
		return i;
	for (; st.t <= ntile; st.t++)
		to[st.t] = (uint32_t)st.k;
	*k = st.k;
	*top = st.top;
	return n;
}

/* 8 vectors of 8 uint16 transposed (x[i] lane k <-> x[k] lane i) */
#ifdef CORRSP_X86
static inline CORRSP_TGT void corrsp_t8(__m128i *x)
{
	__m128i a[8], b[8];
	for (int i = 0; i < 4; i++) {
		a[2 * i] = _mm_unpacklo_epi16(x[2 * i], x[2 * i + 1]);
		a[2 * i + 1] = _mm_unpackhi_epi16(x[2 * i], x[2 * i + 1]);
	}
	for (int i = 0; i < 2; i++) {
		b[4 * i] = _mm_unpacklo_epi32(a[4 * i], a[4 * i + 2]);
		b[4 * i + 1] = _mm_unpackhi_epi32(a[4 * i], a[4 * i + 2]);
		b[4 * i + 2] = _mm_unpacklo_epi32(a[4 * i + 1], a[4 * i + 3]);
		b[4 * i + 3] = _mm_unpackhi_epi32(a[4 * i + 1], a[4 * i + 3]);
	}
	for (int i = 0; i < 4; i++) {
		x[2 * i] = _mm_unpacklo_epi64(b[i], b[4 + i]);
		x[2 * i + 1] = _mm_unpackhi_epi64(b[i], b[4 + i]);
	}
}
#endif

/* The records from the history: w[i] = frame M - 1 - i (hist row 7 - i),
** 8 pixels at a time by a transpose (P is a multiple of 32). Once per
** level and batch, but levels with few frames a batch pay it per few
** events: element by element it cost more than their events. */
static CORRSP_TGT void corrsp_load(const corrsp_job *j, corrsp_rec *rec)
{
	size_t P = j->P, K = CORRSP_K;
	for (size_t q = 0; q < P; q += 8) {
#ifdef CORRSP_X86
		__m128i x[8];
		for (size_t i = 0; i < K; i++)
			x[i] = CORRSP_LD(j->hist + (K - 1 - i) * P + q);
		corrsp_t8(x);
		for (size_t p = 0; p < 8; p++) {
			corrsp_rec *r = rec + q + p;
			_mm256_storeu_si256((__m256i *)(void *)r->acc,
					   _mm256_setzero_si256());
			CORRSP_ST(r->w, x[p]);
			r->last = (uint32_t)K - 1;
			r->s = 0;
		}
#else
		for (size_t p = 0; p < 8; p++) {
			corrsp_rec *r = rec + q + p;
			memset(r, 0, sizeof *r);
			for (size_t i = 0; i < K; i++)
				r->w[i] = j->hist[(K - 1 - i) * P + q + p];
			r->last = (uint32_t)K - 1;
		}
#endif
	}
}

/* The history back from the records: frame g = n + i (the batch's last
** 8) into row i, i.e. each window shifted to end at frame n + 7 and
** transposed back; then the sums into the level's doubles. */
static CORRSP_TGT void corrsp_store(const corrsp_job *j,
				    const corrsp_rec *rec)
{
	size_t P = j->P, K = CORRSP_K, l0 = j->level ? K / 2 : 0;
	size_t nl = K - l0, end = j->n + K - 1;
	for (size_t q = 0; q < P; q += 8) {
#ifdef CORRSP_X86
		__m128i x[8];
		for (size_t p = 0; p < 8; p++) {
			const corrsp_rec *r = rec + q + p;
			size_t d = end - r->last;
			x[p] = CORRSP_SHUF(CORRSP_LD(r->w),
				CORRSP_LD(corrsp_shift[d < 8 ? d : 8]));
		}
		corrsp_t8(x);	/* x[i]: frame end - i */
		for (size_t i = 0; i < K; i++)
			CORRSP_ST(j->hist + (K - 1 - i) * P + q, x[i]);
#else
		for (size_t p = 0; p < 8; p++) {
			const corrsp_rec *r = rec + q + p;
			for (size_t i = 0; i < K; i++) {
				size_t g = j->n + i;
				j->hist[i * P + q + p] = r->last >= g &&
					r->last - g < K ? r->w[r->last - g] : 0;
			}
		}
#endif
	}
	for (size_t i = 0; i < nl; i++)	/* (exact: integers) */
		for (size_t q = 0; q < j->nv; q++)
			j->G[i * P + q] += rec[q].acc[l0 + i];
	for (size_t q = 0; q < j->nv; q++)
		j->S[q] += rec[q].s;
}

/* what a frame's events leave for the next level */
enum { CORRSP_TO_NONE, CORRSP_TO_EV, CORRSP_TO_UP, CORRSP_TO_NX };

/* Frame r's events (see corrsp_rec). The pairs closed by the frame go to
** the next level (TO, a constant in each copy of the loop, so that the
** loop keeps only its own pointers in registers): as events (EV: frame
** r's pixels with frame r - 1's count added, then frame r - 1's pixels
** that frame r lacks, each stored and kept when the pixel's last frame is
** not r: no branch), or added into its frames (UP: uint16 pair rows, NX:
** doubles). Returns the next level's events so far. */
static inline CORRSP_TGT __attribute__((always_inline)) size_t
corrsp_frame_body(const corrsp_job *j, size_t r, corrsp_rec *rec, size_t k,
		  int TO)
{
	size_t P = j->P, h = r / 2;	/* h: the next level's frame */
	uint32_t g = (uint32_t)r + CORRSP_K;
	const uint32_t *e = corrsp_ev(j, r, 0), *end = corrsp_ev(j, r, 1);
	/* (its pair row, see corr16_job's up: pixel q at up[2 q]) */
	uint16_t *up = TO == CORRSP_TO_UP ? j->up + (CORRSP_K + h) / 2 * 2 *
		       P + h % 2 : NULL;
	double *nx = TO == CORRSP_TO_NX ? j->nx + h * P : NULL;
	uint32_t *o = TO == CORRSP_TO_EV ? j->nev : NULL;
	uint64_t sum = 0;
	for (; e < end; e++) {
		uint32_t q = *e >> 16, v = *e & 0xffffu;
		corrsp_rec *x = rec + q;
		/* (the buffers have slack past the events, of any value) */
		uint32_t qa = e[CORRSP_RECPF] >> 16;
		__builtin_prefetch(rec + (qa < P ? qa : 0), 1);
		uint32_t d = g - x->last;
		corrsp_v16 w = CORRSP_LD(x->w), lag, nw;
		corrsp_v8w a, lw;
		corrsp_v8s ls;
		d = d > 9 ? 9 : d;
		lag = CORRSP_SHUF(w, CORRSP_LD(corrsp_shift[d - 1]));
		nw = CORRSP_SHUF(lag, CORRSP_LD(corrsp_shift[1]));
		memcpy(&ls, &lag, sizeof ls);
		memcpy(&a, x->acc, sizeof a);
		lw = __builtin_convertvector(ls, corrsp_v8w);
		a += lw * v;
		memcpy(x->acc, &a, sizeof a);
		/* (the count joins the vector: a store of it alone into the
		** window would stall the next load of it) */
		CORRSP_ST(x->w, CORRSP_LANE0(nw, v));
		x->last = g;
		x->s += v;
		sum += v;
		if (TO == CORRSP_TO_EV)
			o[k++] = *e + ls[0];	/* frame r - 1's count */
		else if (TO == CORRSP_TO_UP)
			up[2 * q] = (uint16_t)(up[2 * q] + v);
		else if (TO == CORRSP_TO_NX)
			nx[q] += v;
	}
	if (j->rowsum)
		j->rowsum[r] = (double)sum;
	if (TO == CORRSP_TO_EV) {
		end = corrsp_ev(j, r - 1, 1);
		for (e = corrsp_ev(j, r - 1, 0); e < end; e++) {
			o[k] = *e;
			k += rec[*e >> 16].last != g;
		}
		j->noff[r / 2 + 1] = (uint32_t)k;
	}
	return k;
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

static CORRSP_TGT size_t corrsp_frames(const corrsp_job *j, corrsp_rec *rec)
{
	size_t k = 0;
	int to = j->nev ? CORRSP_TO_EV : j->up ? CORRSP_TO_UP :
		 j->nx ? CORRSP_TO_NX : CORRSP_TO_NONE;
	for (size_t r = 0; r < CORRSP_EVPF && r < j->n; r++)
		corrsp_ev_prefetch(j, r);
	for (size_t r = 0; r < j->n; r++) {
		corrsp_ev_prefetch(j, r + CORRSP_EVPF);
		switch (to == CORRSP_TO_EV && !(r & 1) ? CORRSP_TO_NONE : to) {
		case CORRSP_TO_EV:
			k = corrsp_frame_body(j, r, rec, k, CORRSP_TO_EV);
			break;
		case CORRSP_TO_UP:
			k = corrsp_frame_body(j, r, rec, k, CORRSP_TO_UP);
			break;
		case CORRSP_TO_NX:
			k = corrsp_frame_body(j, r, rec, k, CORRSP_TO_NX);
			break;
		default:
			k = corrsp_frame_body(j, r, rec, k, CORRSP_TO_NONE);
		}
	}
	return k;
}

int corrsp_prepare(corrsp_job *j)
{
	uint32_t top, wtop;
	if (j->n == 0 || j->n % 2 || j->M % 2 || j->nv > 65535 ||
	    j->top >= CORRSP_MAX || corrsp_window(j, &wtop))
		return 1;
	top = wtop > j->top ? wtop : j->top;
	/* counts below 2^15, and a pixel's n products below 2^32 */
	return top >= CORRSP_MAX || (uint64_t)j->n * top * top > UINT32_MAX;
}

size_t corrsp_level(corrsp_job *j)
{
	size_t P = j->P, n = j->n, k;
	corrsp_rec *rec = (corrsp_rec *)(void *)j->acc;
	corrsp_shift_init();
	if (j->up)	/* the pair rows of the n / 2 frames */
		memset(j->up + CORRSP_K * P, 0,
		       (n / 2 + 1) / 2 * 2 * P * sizeof *j->up);
	else if (j->nx)
		memset(j->nx, 0, n / 2 * P * sizeof *j->nx);
	if (j->nev)
		j->noff[0] = 0;
	for (size_t r = 0; r < j->nhead; r++) {
		double *h = j->head + r * P;
		memset(h, 0, P * sizeof *h);
		for (const uint32_t *e = corrsp_ev(j, r, 0);
		     e < corrsp_ev(j, r, 1); e++)
			h[*e >> 16] = *e & 0xffffu;
	}
	corrsp_load(j, rec);
	k = corrsp_frames(j, rec);
	corrsp_store(j, rec);
	*j->hist_ok = 1;
	return k;
}
