/*
** twotime.h - two-time intensity correlation of chosen bins (core).
**
**   C(t1, t2) = <I(t1) I(t2)>_p / (<I(t1)>_p <I(t2)>_p)
**
** with means over the pixels p of one bin, so every frame pair is
** normalised by its own intensities (non-stationary data). Frames may be
** averaged in groups of `ds` first (downsampling). The one-time g2 follows
** by averaging C along its diagonals, g2(tau) = <C(t, t + tau)>_t, over
** all ages t or over an age window (age-resolved g2).
**
** Memory, stated and bounded: the pixels of the chosen bins are kept for
** every (downsampled) frame, 8 x pixels x frames bytes, plus the n x n
** matrix of the bin asked for (8 n^2 bytes). More than max_frames
** downsampled frames is an error that says to downsample more.
*/
#ifndef ionflow_twotime_h
#define ionflow_twotime_h

#include <stddef.h>
#include <stdint.h>

#include "array.h"
#include "err.h"
#include "qmap.h"

typedef struct twotime twotime;

/* bins: nsel 1-based bin numbers of part; ds >= 1; max_frames >= 2 */
int twotime_new(twotime **out, const qmap *part, const int32_t *bins,
		size_t nsel, size_t ds, size_t max_frames, char *err);
/* n frames of rows x cols, C-contiguous, dtype dt; a float NaN/Inf in a
** chosen pixel is an error and nothing is kept of that call */
int twotime_push(twotime *t, const void *frames, arr_dtype dt, size_t n,
		 size_t rows, size_t cols, char *err);
size_t twotime_frames(const twotime *t);	/* downsampled frames kept */
size_t twotime_memory(const twotime *t);	/* bytes */
/* C (n x n, n = twotime_frames) of the k-th chosen bin (0-based), and
** g2[tau] for tau = 0..n-1 averaged over ages a in [age0, age1) (pass
** 0, 0 for all); g2 entries without a pair are NaN. Either output may be
** NULL. A bin whose frames have zero mean intensity gives NaN there. */
int twotime_result(twotime *t, size_t k, double *C, double *g2,
		   size_t age0, size_t age1, char *err);
/* The same from sums that parts of the bin's pixels (MPI ranks: blocks
** of rows, the same frames) add up before the normalisation:
**   twotime_sums(t, k, S, s, &np, err);   -- this part's sums, S n x n
**   ... S, s and np summed over the parts ...
**   twotime_norm(n, S, s, np, g2, age0, age1, err);  -- S becomes C
** S[i n + j] = sum_p x_i x_j over the bin's pixels p, s[i] = sum_p x_i,
** np their number (0 for a part without the bin's pixels). */
int twotime_sums(const twotime *t, size_t k, double *S, double *s,
		 double *np, char *err);
int twotime_norm(size_t n, double *S, const double *s, double np,
		 double *g2, size_t age0, size_t age1, char *err);
void twotime_free(twotime *t);

#endif
