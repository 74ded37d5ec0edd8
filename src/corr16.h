/*
** corr16.h - exact integer kernel for the first levels of the multi-tau
** correlator (core; used by corr.c).
**
** Photon-counting and most integrating detectors deliver small counts. A
** level's batch runs here when every value of it and of the K = 8 frames
** before it is below CORR16_MAX = 2^15: the products of level 0 (lags
** 1..8) and of the levels above (lags 5..8) are then formed with signed
** 16-bit multiply-adds. Two frames of a pixel are interleaved, so one
** instruction gives I[t] I[t+k] + I[t+1] I[t+k+1] for 8 or 16 pixels.
** Level 0 reads uint8, uint16, uint32 or int32 counts; a level above reads
** the uint16 rows of pair sums the level below wrote for it (below 2^16,
** and below 2^15 for most data: level l holds sums of 2^l counts). Frames
** before the first are zeros, so a level runs here from its first batch.
** The 32-bit sums are moved into the double accumulators before they
** could pass 2^32 (every 2^31 / top^2 pairs, top the largest value of the
** level's batch and history). The results are integers, added exactly:
** the numbers equal those of the double kernel. It needs AVX2 or AVX-512
** with VNNI (corr16_isa); otherwise, or with larger values, the caller
** runs its double kernel.
*/
#ifndef ionflow_corr16_h
#define ionflow_corr16_h

#include <stddef.h>
#include <stdint.h>

#define CORR16_MAX 32768	/* a level's values must be below this */
#define CORR16_K 8		/* ring: lags 1..8 on level 0, 5..8 above */
#define CORR16_P 32		/* pixels per row: a multiple of this */
#define CORR16_LEVELS 16	/* levels that may run here, at most */

/* instruction sets of the kernel */
enum { CORR16_NONE, CORR16_AVX2, CORR16_AVX512 };

typedef struct corr16_job {
	int isa;		/* the kernel to run (the best the CPU has
				   if it lacks this one; NONE: none) */
	int level;		/* 0: lags 1..8 from frames; else 5..8 from
				   the rows in work (written by the level
				   below through its `up`) */
	size_t P;		/* pixels per row, a multiple of CORR16_P */
	size_t nv;		/* used pixels of the row (<= P) */
	size_t n;		/* new frames of the level (work has
				   room for one more: an odd n runs with a
				   zero frame after the last) */
	size_t M;		/* frames before them */
	const double *ring;	/* CORR16_K x P: frame g in row g % K */
	uint16_t *hist;		/* CORR16_K x P: the same frames as uint16,
				   oldest first, when *hist_ok; rewritten */
	uint8_t *hist_ok;	/* hist holds them (set on success) */
	const void *const *src;	/* level 0: the n frames, of */
	int esize;		/* 1: uint8, 2: uint16, 4: uint32 or int32
				   counts (negative ones read as too large) */
	const size_t *pix;	/* level 0: the tile's pixels (indices) */
	int contig;		/* level 0: pix[i] = pix[0] + i */
	double *G;		/* 8 (level 0) or 4 rows of P: sums of
				   products, one row per lag */
	double *S;		/* P: sum of the frames */
	uint16_t *up;		/* the next level's work (corr16_pairs), where
				   its new frames go as uint16 pair rows
				   (frame r in row (K + r) / 2, pixel p's
				   lane 2p + r % 2); or NULL: */
	double *nx;		/* its new rows as doubles, n / 2 of P */
	unsigned *up_top;	/* the largest value written to up (or
				   NULL) */
	unsigned intop;		/* above 0: a bound on the new frames'
				   values (from the level below) */
	double *rowsum;		/* level 0: sum of each new frame (written) */
	uint16_t *work;		/* corr16_work(P, n) elements */
} corr16_job;

int corr16_isa(void);		/* the best this CPU runs */
int corr16_available(void);	/* corr16_isa() != CORR16_NONE */
size_t corr16_work(size_t P, size_t n);
/* where in a level's work the level below writes its new frames (up) */
uint16_t *corr16_pairs(uint16_t *work);
/* a level's new frame r (of n) as doubles into dst (P values): level 0's
** as corr16_level read them, a level above's as the level below wrote
** them */
void corr16_frame(const uint16_t *work, size_t P, int level, size_t n,
		  size_t r, double *dst);
/* 0: done (G, S, up or nx, rowsum, hist updated; the double ring is the
** caller's; level 0's new frames are in work, see corr16_frame, except
** for a tile read straight from contiguous uint16 frames with M >= K);
** 1: it does not apply (a value >=
** CORR16_MAX, a history that is not small integers, n 0): nothing
** written but work */
int corr16_level(const corr16_job *j);

#endif
