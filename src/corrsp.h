/*
** corrsp.h - level 0 of the multi-tau correlator from the photons of
** mostly-zero integer frames (core; used by corr.c).
**
** At 0.01-0.1 photons per pixel and frame, most of a dense level-0 pass
** multiplies zeros. Here a tile's batch of frames is scanned once for its
** nonzero counts (events), and the sums are formed from them: S and the
** frame sums add each event, a lag's sum of products adds v v' for the
** events of the same pixel k frames apart, and the next level's frames
** (pair sums) get each event added into their rows. The pixel's last
** CORRSP_K frames live in a small window (pixel-major, 16 bytes a pixel,
** in L1), so an event finds its lagged partners with one load; entries
** are cleared by the events that wrote them. Counts, products and sums
** are integers added exactly in doubles: the numbers equal those of the
** dense kernels to the last bit. The level's ring is read from and left
** in corr16's uint16 history, so the dense kernels may take the next batch.
**
** It applies when every count of the batch and of the history is below
** CORRSP_MAX (the level above then holds sums below 2^16), the level has
** an even number of frames before the batch and an even batch (pairs stay
** aligned with the rows), and the events fit the scratch (a tile batch
** with more than cap events is left to the dense kernels).
*/
#ifndef ionflow_corrsp_h
#define ionflow_corrsp_h

#include <stddef.h>
#include <stdint.h>

#define CORRSP_K 8		/* lags 1..8 */
#define CORRSP_MAX 32768	/* counts must be below this */

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

typedef struct corrsp_job {
	int isa;		/* nonzero: AVX2 */
	size_t P;		/* pixels per row */
	size_t nv;		/* used pixels of the row (<= P) */
	size_t n;		/* new frames (even) */
	size_t M;		/* frames before them (even) */
	const uint32_t *const *fev;	/* frame r's events of this tile:
				   fev[r] + toff[r tstride] .. + 1] */
	size_t tstride;
	const uint32_t *toff;
	uint32_t top;		/* the batch's largest count */
	const double *ring;	/* CORRSP_K x P: frame g in row g % K, read
				   when !*hist_ok */
	uint16_t *hist;		/* CORRSP_K x P, oldest first, when *hist_ok;
				   rewritten */
	uint8_t *hist_ok;	/* set on success */
	double *G;		/* 8 rows of P: sums of products, lags 1..8 */
	double *S;		/* P: sums of the frames */
	uint16_t *up;		/* n / 2 rows of P: the next level's frames
				   as uint16; or NULL: */
	double *nx;		/* the same as doubles */
	double *head;		/* nhead rows of P: the first new frames as
				   doubles (for the caller's head sums) */
	size_t nhead;
	double *rowsum;		/* n: the sum of each new frame (written) */
	uint16_t *win;		/* scratch: CORRSP_K x P */
	uint32_t *acc;		/* scratch: (CORRSP_K + 1) x P */
} corrsp_job;

/* 0: done; 1: it does not apply (nothing written but the scratch) */
int corrsp_level0(corrsp_job *j);

#endif
