/*
** pairdyn.h - cation-anion pair dynamics from a trajectory (plain C core,
** no Lua): how long a cation keeps its nearest anion, and whether a
** cation and the anions near it move together or against each other
** (the picture of the paper's Figure 5c).
**
** Streaming: time origins every `stride` frames; an origin stays open for
** max_lag frames and holds the positions of the ions, each cation's
** nearest anion and the cation-anion pairs closer than the cutoff at the
** origin. Memory: (max_lag/stride + 1) x (3 N + pairs) numbers. The
** nearest-anion search is O(N+ N-) per frame (minimum image in the box).
*/
#ifndef ionflow_pairdyn_h
#define ionflow_pairdyn_h

#include <stddef.h>

#include "err.h"
#include "progress.h"
#include "traj.h"

typedef struct pd_opts {
	const int *group;	/* per atom: 0 cation, 1 anion, -1 neither */
	double cutoff;		/* m: pairs for the displacement correlation */
	size_t max_lag;		/* frames, >= 1 */
	size_t stride;		/* frames between origins, >= 1 */
} pd_opts;

typedef struct pd_res {
	size_t nlag;		/* lags 0 .. max_lag frames */
	double dt;		/* s */
	double *same;		/* P(nearest anion at t0+tau == at t0) */
	double *corr;		/* sum dri.drj / sqrt(sum dri^2 sum drj^2) */
	double *dot;		/* mean dri.drj over pairs (m^2) */
	double tau_res;		/* residence time: integral of same (s) */
	double pairs;		/* mean pairs within the cutoff per origin */
	size_t norigins;
} pd_res;

/* prog (NULL: none) counts frames */
int pd_run(traj *t, const pd_opts *o, progress *prog, pd_res *r,
	   char *err);
void pd_res_free(pd_res *r);

#endif
