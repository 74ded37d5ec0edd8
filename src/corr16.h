/*
** corr16.h - exact integer kernel for level 0 of the multi-tau correlator
** (core; used by corr.c).
**
** Photon-counting and most integrating detectors deliver small counts. When
** every count of a batch (and of the K = 8 frames before it) is below
** CORR16_MAX, the products of level 0 (lags 1..8) are formed with 16-bit
** multiply-adds: two frames of a pixel are interleaved, so one instruction
** gives I[t] I[t+k] + I[t+1] I[t+k+1] for 8 pixels, and 32-bit sums over a
** batch of up to CORR16_PAIRS pairs cannot overflow. The results are
** integers, added to the double accumulators exactly: the numbers equal
** those of the double kernel. It needs AVX2 (corr16_available); otherwise,
** or with larger counts, the caller runs its double kernel.
*/
#ifndef ionflow_corr16_h
#define ionflow_corr16_h

#include <stddef.h>
#include <stdint.h>

#define CORR16_MAX 2048		/* counts must be below this */
#ifndef CORR16_PAIRS
#define CORR16_PAIRS 256	/* most frame pairs per call: 2 x 2047^2 x 256
				   < 2^31, the 32-bit sums cannot overflow */
#endif
#define CORR16_K 8		/* lags 1..8 */

typedef struct corr16_job {
	size_t P;		/* pixels per row, a multiple of 16 */
	size_t nv;		/* used pixels of the row (<= P) */
	size_t n;		/* new frames, even, <= 2 CORR16_PAIRS */
	size_t M;		/* frames before them (>= CORR16_K) */
	const double *ring;	/* CORR16_K x P: frame g in row g % K */
	uint16_t *hist;		/* CORR16_K x P: the same frames as uint16,
				   oldest first, when *hist_ok; rewritten */
	uint8_t *hist_ok;	/* hist holds them (set on success) */
	const uint16_t *const *src;	/* n: the frames */
	const size_t *pix;	/* nv: the tile's pixels (frame indices) */
	int contig;		/* pix[i] = pix[0] + i */
	double *G;		/* CORR16_K x P: sums of products, lag k in
				   row k - 1 */
	double *S;		/* P: sum of the frames */
	double *nx;		/* level 1 rows, (M + n) / 2 - M / 2 of P */
	double *rowsum;		/* n: sum of each new frame (written) */
	uint16_t *work;		/* corr16_work(P, n) elements */
} corr16_job;

int corr16_available(void);
size_t corr16_work(size_t P, size_t n);
/* 0: done (G, S, nx, rowsum updated; the ring is the caller's); 1: a
** count >= CORR16_MAX, nothing written but work */
int corr16_level0(const corr16_job *j);

#endif
