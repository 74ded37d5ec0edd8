/*
** corrsp.h - the first levels of the multi-tau correlator from the
** photons of mostly-zero integer frames (core; used by corr.c).
**
** At 0.01-0.1 photons per pixel and frame, most of a dense pass
** multiplies zeros. Here a batch of frames is scanned once for its
** nonzero counts (events), and the sums are formed from them: S and the
** frame sums add each event, a lag's sum of products adds v v' for the
** events of the same pixel k frames apart, and the next level's frames
** (pair sums) are the merged events of two frames, or rows the dense
** kernels take. Each pixel has a record (one cache line: its lags' sums
** and its last CORRSP_K counts, see corrsp.c), so an event finds its
** lagged partners and adds all its products with a few vector
** instructions, and nothing is done per pixel and frame. Counts, products
** and sums are integers added exactly in doubles: the numbers equal those
** of the dense kernels to the last bit. A level's ring is read from and
** left in corr16's uint16 history, so the dense kernels may take the
** next batch.
**
** A level applies when every count of the batch and of the history is
** below CORRSP_MAX (the level above then holds sums below 2^16), it has
** an even number of frames before the batch and an even batch (pairs stay
** aligned with the rows), and (level 0) the events fit the scratch (a
** batch with more is left to the dense kernels). Levels above 0 use lags
** 5..8 of the same records.
*/
#ifndef ionflow_corrsp_h
#define ionflow_corrsp_h

#include <stddef.h>
#include <stdint.h>

#define CORRSP_K 8		/* lags 1..8 */
#define CORRSP_MAX 32768	/* counts must be below this */
#define CORRSP_REC 16		/* scratch words per pixel */

/* one frame's events, tile after tile: toff[t] .. toff[t + 1] are tile
** t's (pixel within the tile in the high half, count in the low half) */
typedef struct corrsp_scan_in {
	const void *frame;
	int esize;		/* 1, 2 or 4 (uint32 or int32) */
	const size_t *pix;	/* the used pixels (detector indices) */
	size_t npx, P, ntile;	/* tiles of P pixels */
	const uint8_t *contig;	/* per tile: its pixels are contiguous */
	int isa;		/* 2: AVX-512 BW, else scalar */
	uint32_t *ev;		/* cap words (32 past the events written) */
	size_t cap;
	uint32_t *toff;		/* ntile + 1 */
} corrsp_scan_in;

/* the frame's largest count; UINT32_MAX when the events overflow cap */
uint32_t corrsp_scan_frame(const corrsp_scan_in *s);

/* One level of a tile for a batch, from its events: level 0's come from
** corrsp_scan_frame (or from pushed events), a level above's from the
** level below (corrsp_level's nev), pairs of frames merged: the union of
** the two frames' pixels, counts added (occupancy roughly doubles per
** level, so a few levels pay before the dense kernels take over). */
typedef struct corrsp_job {
	int isa;		/* nonzero: AVX2 */
	int level;		/* 0: lags 1..8 (8 rows of G); above: 5..8 (4) */
	size_t P;		/* pixels per row */
	size_t nv;		/* used pixels of the row (<= P) */
	size_t n;		/* new frames (even) */
	size_t M;		/* frames before them (even) */
	const uint32_t *const *fev;	/* frame r's events of this tile:
				   fev[r] + toff[r tstride] .. + 1]; fev NULL:
				   evb + toff[r] .. toff[r + 1] */
	const uint32_t *evb;
	size_t tstride;
	const uint32_t *toff;
	uint32_t top;		/* a bound on the batch's counts */
	const double *ring;	/* CORRSP_K x P: frame g in row g % K, read
				   when !*hist_ok */
	uint16_t *hist;		/* CORRSP_K x P, oldest first, when *hist_ok;
				   rewritten */
	uint8_t *hist_ok;	/* set on success */
	double *G;		/* 8 or 4 rows of P: sums of products */
	double *S;		/* P: sums of the frames */
	uint32_t *nev;		/* the next level's events (n / 2 P words),
				   offsets into noff (n / 2 + 1); or NULL: */
	uint32_t *noff;
	uint16_t *up;		/* the next level's frames as uint16, in
				   corr16's pair rows (corr16_pairs; K is
				   CORR16_K), each below 2 top; or NULL: */
	double *nx;		/* the same as doubles */
	double *head;		/* nhead rows of P: the first new frames as
				   doubles (for the caller's head sums) */
	size_t nhead;
	double *rowsum;		/* n: the sum of each new frame (written), or
				   NULL */
	uint32_t *acc;		/* scratch: CORRSP_REC x P words, 64-byte
				   aligned (a record per pixel) */
} corrsp_job;

/* A uint16 frame of n pixels as events (for corr_push_events): the
** nonzero pixels, increasing, into pix (0-based) and their counts into
** cnt, both with room for n + 32; returns how many. 32 pixels a step by
** AVX-512 compress where the CPU has it. */
size_t corrsp_events(const uint16_t *f, size_t n, uint32_t *pix,
		     uint16_t *cnt);

/* One frame's pushed events, pixels increasing, staged as
** corrsp_scan_frame leaves a frame's: map[p - pix0] is pixel p's tile
** << 10 | place in it, UINT32_MAX for a pixel not used (its events are
** dropped, as are counts of 0); ev gets the words (room for the events +
** 16), to[0 .. ntile] the tiles' offsets, *k how many, *top is raised to
** their largest count. Every pix[i] - pix0 must index map. Returns n, or
** the index of the first pixel not above the one before it (the outputs
** are then partial: the caller stages that frame another way). isa 2:
** AVX-512 (16 events a step), else scalar. */
size_t corrsp_stage(int isa, const uint32_t *map, uint32_t pix0,
		    const uint32_t *pix, const uint16_t *cnt, size_t n,
		    size_t ntile, uint32_t *ev, uint32_t *to, size_t *k,
		    uint32_t *top);

/* 0: the level may run here; 1: it does not apply. Nothing is written
** but hist where *hist_ok is 0 (the double ring's frames go there) */
int corrsp_prepare(corrsp_job *j);
/* the level, after corrsp_prepare said 0; returns the events written
** to nev (0 without) */
size_t corrsp_level(corrsp_job *j);

#endif
