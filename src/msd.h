/*
** msd.h - mean-square displacements, Onsager coefficients and
** transference numbers from a trajectory (plain C core, no Lua).
**
** Design (memory): the trajectory is cut into nblocks consecutive blocks
** of `block` frames. While a block streams in, the accumulator keeps the
** unwrapped positions of the selected particles for that block only
** (nsel x 3 x block doubles) and the summed positions of each group. When
** the block is full it computes, by FFT over all time origins of the
** block (O(N T log T)):
**   self MSD of group g:   (1/N_g) sum_i <|r_i(t+tau) - r_i(t)|^2>
**   collective MSDs:       <dX_g(tau) . dX_h(tau)>, X_g = sum_{i in g} r_i
** for lags 0 .. block/2, then forgets the positions. Blocks give the
** errors (standard error of the per-block results). Positions are taken
** in a reference frame: lab, barycentric (mass-weighted centre of all
** atoms subtracted every frame) or the centre of mass of one group (the
** solvent). Frames must be evenly spaced in time.
*/
#ifndef ionflow_msd_h
#define ionflow_msd_h

#include <stddef.h>

#include "err.h"
#include "progress.h"
#include "traj.h"

#define MSD_MAXG 4

typedef struct msd_acc msd_acc;

typedef enum { MSD_LAB, MSD_BARY, MSD_GROUPCOM } msd_frame;

typedef struct msd_opts {
	int ngroups;		/* 1 .. MSD_MAXG */
	const int *group;	/* per atom: group 0..ngroups-1, or -1 */
	const double *mass;	/* per atom (any unit); NULL: all 1 */
	msd_frame frame;
	int ref_group;		/* MSD_GROUPCOM: the reference group */
	size_t block;		/* frames per block, >= 8 */
	size_t nblocks;		/* >= 1 */
} msd_opts;

typedef struct msd_res {
	int ngroups;
	size_t nblocks, nlag;	/* lags 0 .. nlag-1 frames */
	double dt;		/* s between frames */
	size_t count[MSD_MAXG];	/* particles per group */
	double *self;		/* [b][g][lag]: m^2 */
	double *coll;		/* [b][g][h][lag]: m^2, symmetric in g, h */
	double volume;		/* mean box volume, m^3 (NaN: no box) */
	size_t frames_used;
	size_t bytes;		/* peak memory of the accumulator */
	double seconds;		/* wall time spent in msd_add */
} msd_res;

/* the MSD of n values of one series x (stride 1) at lags 0..nlag-1 by
** FFT; out[m] = (1/(n-m)) sum_k (x[k+m]-x[k])^2. For tests and users. */
int msd_series(const double *x, size_t n, double *out, size_t nlag,
	       char *err);

int msd_new(msd_acc **a, size_t natoms, const msd_opts *o, char *err);
/* one frame: positions natoms x 3 (unwrapped, m), time (s), box edges
** (m, NaN without a box). Returns 1 while more frames are wanted, 0 when
** every block is full (later frames are not needed), -1 on error. */
int msd_add(msd_acc *a, const double *pos, double time, const double box[3],
	    char *err);
/* the results of the full blocks (at least one) */
int msd_finish(msd_acc *a, msd_res *r, char *err);
void msd_free(msd_acc *a);			/* NULL is fine */
void msd_res_free(msd_res *r);

/* stream a trajectory through an accumulator: skip frames, then as many
** blocks as opts asks (block 0: the frames left divided by nblocks);
** prog (NULL: none) counts frames */
int msd_run(traj *t, const msd_opts *o, size_t skip, progress *prog,
	    msd_res *r, char *err);

/* ---- analysis ---- */

typedef struct msd_val { double v, e; } msd_val;	/* e NaN: unknown */

/* least-squares slope of y(m dt) = a + s m dt over lags lo..hi */
double msd_slope(const double *y, size_t lo, size_t hi, double dt);
/* Lags [lo, hi] where y grows linearly: hi = nlag/2 (a quarter of a
** block), lo the first lag on a doubling ladder from which the local
** log-log slope stays within 0.15 of 1. */
int msd_fit_range(const double *y, size_t nlag, size_t *lo, size_t *hi,
		  char *err);

typedef struct msd_tin {
	int cat, an;		/* groups */
	double z_cat, z_an;	/* charges (units of e) */
	double temperature;	/* K; <= 0: no L or sigma in SI */
	double t_lo, t_hi;	/* fit range (s); 0, 0: automatic */
} msd_tin;

typedef struct msd_tout {
	msd_val d[MSD_MAXG];		/* self-diffusion, m^2/s */
	msd_val l_pp, l_mm, l_pm;	/* Onsager, 1/(J m s) = mol^2... */
	msd_val l_pp_self, l_mm_self;	/* N D / (V kB T) */
	msd_val l_pp_dist, l_mm_dist;	/* L - self */
	msd_val sigma, sigma_ne;	/* S/m */
	msd_val ionicity, t_app, t_plus;
	double fit_lo, fit_hi;		/* s */
	size_t lo, hi;			/* lags */
	int not_diffusive;		/* automatic range found no linear
					** regime (the fit is then doubtful) */
} msd_tout;

int msd_transport(const msd_res *r, const msd_tin *in, msd_tout *out,
		  char *err);

#endif
