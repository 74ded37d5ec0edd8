/*
** corrsp.c - sparse level 0 of the multi-tau correlator (see corrsp.h).
**
** Events are 32-bit words, pixel (within the tile) in the high half and
** count in the low half, frame after frame (eoff[r] .. eoff[r + 1] are
** frame r's, pixels increasing). The window holds each pixel's counts of
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

#define CORRSP_PF 16		/* frames ahead to prefetch */

static void corrsp_prefetch(const corrsp_job *j, size_t r)
{
	size_t es = (size_t)j->esize, len = es * j->nv;
	const char *f;
	if (r >= j->n || !j->contig)
		return;
	f = (const char *)j->src[r] + es * j->pix[0];
	for (size_t o = 0; o < len; o += 64)
		__builtin_prefetch(f + o);
	__builtin_prefetch(f + len - 1);
}

/* frame r's events, any dtype and layout; -1 for a count too large */
static int corrsp_scan_any(const corrsp_job *j, size_t r, uint32_t *ev,
			   size_t *ne)
{
	const void *f = j->src[r];
	size_t k = *ne;
	for (size_t q = 0; q < j->nv; q++) {
		size_t p = j->pix[q];
		uint32_t v = j->esize == 1 ? ((const uint8_t *)f)[p] :
			     j->esize == 2 ? ((const uint16_t *)f)[p] :
			     ((const uint32_t *)f)[p];
		if (v == 0)
			continue;
		if (v >= CORRSP_MAX)
			return -1;
		ev[k++] = (uint32_t)q << 16 | v;
	}
	*ne = k;
	return 0;
}

#ifdef CORRSP_X86
/* contiguous uint16 counts, 32 at a time: the mask of nonzero lanes
** gives the events; the largest count is checked once per frame */
static __attribute__((target("avx512f,avx512bw"))) int
corrsp_scan_avx512(const corrsp_job *j, size_t r, uint32_t *ev, size_t *ne)
{
	const uint16_t *g = (const uint16_t *)j->src[r] + j->pix[0];
	size_t k = *ne, nv = j->nv;
	__m512i mx = _mm512_setzero_si512();
	for (size_t p = 0; p < nv; p += 32) {
		__mmask32 lm = nv - p >= 32 ? 0xffffffffu :
			       (__mmask32)((1u << (nv - p)) - 1);
		__m512i x = _mm512_maskz_loadu_epi16(lm, g + p);
		uint32_t m = _mm512_test_epi16_mask(x, x);
		mx = _mm512_max_epu16(mx, x);
		while (m) {
			size_t q = p + (size_t)__builtin_ctz(m);
			m &= m - 1;
			ev[k++] = (uint32_t)q << 16 | g[q];
		}
	}
	*ne = k;
	/* (any lane >= 2^15 has its sign bit set) */
	return _mm512_movepi16_mask(mx) ? -1 : 0;
}

static __attribute__((target("avx2"))) int
corrsp_scan_avx2(const corrsp_job *j, size_t r, uint32_t *ev, size_t *ne)
{
	const uint16_t *g = (const uint16_t *)j->src[r] + j->pix[0];
	size_t k = *ne, nv = j->nv, p = 0;
	__m256i mx = _mm256_setzero_si256(), z = _mm256_setzero_si256();
	for (; p + 16 <= nv; p += 16) {
		__m256i x = _mm256_loadu_si256((const __m256i *)(g + p));
		uint32_t m = ~(uint32_t)_mm256_movemask_epi8(
				_mm256_cmpeq_epi16(x, z)) & 0x55555555u;
		mx = _mm256_max_epu16(mx, x);
		while (m) {
			size_t q = p + (size_t)__builtin_ctz(m) / 2;
			m &= m - 1;
			ev[k++] = (uint32_t)q << 16 | g[q];
		}
	}
	if (_mm256_movemask_epi8(_mm256_srai_epi16(mx, 15)))
		return -1;
	for (; p < nv; p++) {
		if (g[p] >= CORRSP_MAX)
			return -1;
		if (g[p])
			ev[k++] = (uint32_t)p << 16 | g[p];
	}
	*ne = k;
	return 0;
}
#endif

/* every frame's events; 1 when a count is too large or they overflow the
** scratch (a frame may add nv more) */
static int corrsp_scan(corrsp_job *j)
{
	size_t ne = 0;
	int fast = j->contig && j->esize == 2;
	for (size_t r = 0; r < CORRSP_PF && r < j->n; r++)
		corrsp_prefetch(j, r);
	for (size_t r = 0; r < j->n; r++) {
		int bad;
		if (ne + j->nv > j->cap)
			return 1;
		corrsp_prefetch(j, r + CORRSP_PF);
		j->eoff[r] = (uint32_t)ne;
#ifdef CORRSP_X86
		if (fast && j->isa == 2)
			bad = corrsp_scan_avx512(j, r, j->ev, &ne);
		else if (fast && j->isa == 1)
			bad = corrsp_scan_avx2(j, r, j->ev, &ne);
		else
#endif
			bad = corrsp_scan_any(j, r, j->ev, &ne);
		if (bad)
			return 1;
	}
	j->eoff[j->n] = (uint32_t)ne;
	j->nev = ne;
	(void)fast;
	return 0;
}

/* the window from the history (frames M - 8 .. M - 1, zeros before the
** first); 1 unless they are all integers in [0, CORRSP_MAX) */
static int corrsp_window(const corrsp_job *j)
{
	size_t P = j->P, K = CORRSP_K;
	for (size_t i = 0; i < K; i++) {
		size_t s = (j->M + i) % K;	/* frame M - K + i */
		const double *r = j->ring + s * P;
		const uint16_t *h = j->hist + i * P;
		for (size_t q = 0; q < P; q++) {
			double v;
			if (*j->hist_ok) {
				j->win[q * K + s] = h[q];
				continue;
			}
			v = j->M + i < K ? 0 : r[q];
			if (!(v >= 0 && v < CORRSP_MAX) ||
			    (double)(uint16_t)v != v)
				return 1;
			j->win[q * K + s] = (uint16_t)v;
		}
	}
	return 0;
}

/* frame r's events into the sums (see the top of the file) */
static void corrsp_frame(const corrsp_job *j, size_t r)
{
	size_t P = j->P, K = CORRSP_K, g = j->M + r, s = g % K;
	const uint32_t *e = j->ev + j->eoff[r], *end = j->ev + j->eoff[r + 1];
	uint16_t *up = j->up ? j->up + r / 2 * P : NULL;
	double *nx = j->up ? NULL : j->nx + r / 2 * P;
	uint64_t sum = 0;
	for (; e < end; e++) {
		size_t q = *e >> 16;
		uint32_t v = *e & 0xffffu;
		const uint16_t *w = j->win + q * K;
		uint64_t a, b;
		memcpy(&a, w, 8);
		memcpy(&b, w + 4, 8);
		if (a | b)	/* a photon of this pixel within 8 frames */
			for (size_t i = 0; i < K; i++) {
				size_t k = (g - i) % K;	/* slot i: lag k */
				if (w[i])
					j->G[((k ? k : K) - 1) * P + q] +=
						(double)(v * w[i]);
			}
		j->S[q] += v;
		sum += v;
		if (up)
			up[q] = (uint16_t)(up[q] + v);
		else
			nx[q] += v;
	}
	j->rowsum[r] = (double)sum;
	if (r >= K) {		/* frame g - 8's entries */
		for (e = j->ev + j->eoff[r - K]; e < j->ev + j->eoff[r - K + 1];
		     e++)
			j->win[(*e >> 16) * K + s] = 0;
	} else {
		for (size_t q = 0; q < P; q++)
			j->win[q * K + s] = 0;
	}
	for (e = j->ev + j->eoff[r]; e < end; e++)
		j->win[(*e >> 16) * K + s] = (uint16_t)(*e & 0xffffu);
}

int corrsp_level0(corrsp_job *j)
{
	size_t P = j->P, K = CORRSP_K, n = j->n;
	if (n == 0 || n % 2 || j->M % 2 || j->nv > 65535 ||
	    (j->esize != 1 && j->esize != 2 && j->esize != 4))
		return 1;
	if (corrsp_scan(j) || corrsp_window(j))
		return 1;
	if (j->up)
		memset(j->up, 0, n / 2 * P * sizeof *j->up);
	else
		memset(j->nx, 0, n / 2 * P * sizeof *j->nx);
	for (size_t r = 0; r < j->nhead; r++) {
		double *h = j->head + r * P;
		memset(h, 0, P * sizeof *h);
		for (uint32_t i = j->eoff[r]; i < j->eoff[r + 1]; i++)
			h[j->ev[i] >> 16] = j->ev[i] & 0xffffu;
	}
	for (size_t r = 0; r < n; r++)
		corrsp_frame(j, r);
	for (size_t i = 0; i < K; i++) {	/* frames M + n - K + i */
		size_t s = (j->M + n + i) % K;
		uint16_t *h = j->hist + i * P;
		for (size_t q = 0; q < P; q++)
			h[q] = j->win[q * K + s];
	}
	*j->hist_ok = 1;
	return 0;
}
