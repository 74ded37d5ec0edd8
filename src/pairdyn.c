/*
** pairdyn.c - nearest-anion residence and cation-anion displacement
** correlations (see pairdyn.h).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "intr.h"
#include "pairdyn.h"

typedef struct pd_origin {
	size_t frame;
	int active;
	double *x;		/* ions (cations then anions) x 3 */
	int *near;		/* per cation: nearest anion */
	size_t *pi, *pj;	/* pairs within the cutoff */
	size_t npair, cap;
} pd_origin;

typedef struct pd_state {
	size_t nc, na, norig, nlag;
	size_t *ion;		/* atom index of ion k (cations first) */
	int *near;		/* this frame */
	pd_origin *o;
	double *same, *same_n, *dot, *ii, *jj, *pn;
	double pairs;
} pd_state;

/* squared minimum-image distance in the frame's box (a triclinic one
** with its tilt; plain distance without a box) */
static double pd_dist2(const double *a, const double *b,
		       const traj_frame *fr)
{
	double x[3];
	int d, per[3];
	for (d = 0; d < 3; d++) {
		x[d] = a[d] - b[d];
		per[d] = fr->box[d] > 0;
	}
	if (fr->tilt[0] == 0 && fr->tilt[1] == 0 && fr->tilt[2] == 0) {
		for (d = 0; d < 3; d++)	/* (the common case, inline) */
			if (per[d])
				x[d] -= fr->box[d] * nearbyint(x[d] / fr->box[d]);
	} else
		traj_minimage(fr->box, fr->tilt, per, x);
	return x[0] * x[0] + x[1] * x[1] + x[2] * x[2];
}

static void pd_free_state(pd_state *s)
{
	size_t k;
	for (k = 0; s->o && k < s->norig; k++) {
		free(s->o[k].x);
		free(s->o[k].near);
		free(s->o[k].pi);
		free(s->o[k].pj);
	}
	free(s->o);
	free(s->ion);
	free(s->near);
	free(s->same);
	free(s->same_n);
	free(s->dot);
	free(s->ii);
	free(s->jj);
	free(s->pn);
}

static int pd_init(pd_state *s, const traj_info *inf, const pd_opts *o,
		   char *err)
{
	size_t i, k = 0, n = inf->natoms;
	int g;
	memset(s, 0, sizeof *s);
	for (i = 0; i < n; i++) {
		if (o->group[i] == 0)
			s->nc++;
		else if (o->group[i] == 1)
			s->na++;
	}
	if (s->nc == 0 || s->na == 0)
		return err_set(err, "pairdyn: need cations and anions");
	s->norig = o->max_lag / o->stride + 1;
	s->nlag = o->max_lag + 1;
	s->ion = err_calloc(s->nc + s->na, sizeof *s->ion, err);
	s->near = err_calloc(s->nc, sizeof *s->near, err);
	s->o = err_calloc(s->norig, sizeof *s->o, err);
	s->same = err_calloc(s->nlag, sizeof(double), err);
	s->same_n = err_calloc(s->nlag, sizeof(double), err);
	s->dot = err_calloc(s->nlag, sizeof(double), err);
	s->ii = err_calloc(s->nlag, sizeof(double), err);
	s->jj = err_calloc(s->nlag, sizeof(double), err);
	s->pn = err_calloc(s->nlag, sizeof(double), err);
	if (!s->ion || !s->near || !s->o || !s->same || !s->same_n ||
	    !s->dot || !s->ii || !s->jj || !s->pn)
		return -1;
	for (g = 0; g < 2; g++)
		for (i = 0; i < n; i++)
			if (o->group[i] == g)
				s->ion[k++] = i;
	for (k = 0; k < s->norig; k++) {
		s->o[k].x = err_calloc(3 * (s->nc + s->na), sizeof(double),
				       err);
		s->o[k].near = err_calloc(s->nc, sizeof(int), err);
		if (!s->o[k].x || !s->o[k].near)
			return -1;
	}
	return 0;
}

/* each cation's nearest anion in this frame */
static void pd_nearest(pd_state *s, const double *pos, const traj_frame *fr)
{
	long i;
	#pragma omp parallel for schedule(static) if (s->nc * s->na > 100000)
	for (i = 0; i < (long)s->nc; i++) {
		const double *a = pos + 3 * s->ion[i];
		double best = INFINITY;
		size_t j;
		for (j = 0; j < s->na; j++) {
			double d2 = pd_dist2(a, pos + 3 * s->ion[s->nc + j],
					     fr);
			if (d2 < best)
				best = d2, s->near[i] = (int)j;
		}
	}
}

static int pd_add_pair(pd_origin *o, size_t i, size_t j, char *err)
{
	if (o->npair == o->cap) {
		size_t nc = o->cap ? 2 * o->cap : 64;
		size_t *a = realloc(o->pi, nc * sizeof *a);
		size_t *b = a ? realloc(o->pj, nc * sizeof *b) : NULL;
		if (a)
			o->pi = a;
		if (b)
			o->pj = b;
		if (!a || !b)
			return err_set(err, "pairdyn: out of memory");
		o->cap = nc;
	}
	o->pi[o->npair] = i;
	o->pj[o->npair++] = j;
	return 0;
}

/* a new origin: positions, nearest anions, pairs within the cutoff */
static int pd_open_origin(pd_state *s, pd_origin *o, size_t f,
			  const double *pos, const traj_frame *fr,
			  double cut2, char *err)
{
	size_t k, i, j;
	o->frame = f;
	o->active = 1;
	o->npair = 0;
	for (k = 0; k < s->nc + s->na; k++)
		memcpy(o->x + 3 * k, pos + 3 * s->ion[k], 3 * sizeof(double));
	memcpy(o->near, s->near, s->nc * sizeof *s->near);
	for (i = 0; i < s->nc; i++)
		for (j = 0; j < s->na; j++)
			if (pd_dist2(o->x + 3 * i, o->x + 3 * (s->nc + j), fr)
			    < cut2 && pd_add_pair(o, i, s->nc + j, err) != 0)
				return -1;
	s->pairs += (double)o->npair;
	return 0;
}

/* the contributions of one open origin at lag l */
static void pd_accumulate(pd_state *s, const pd_origin *o, size_t l,
			  const double *pos)
{
	size_t i, p;
	double same = 0, dot = 0, ii = 0, jj = 0;
	for (i = 0; i < s->nc; i++)
		same += o->near[i] == s->near[i];
	for (p = 0; p < o->npair; p++) {
		const double *xi = pos + 3 * s->ion[o->pi[p]];
		const double *xj = pos + 3 * s->ion[o->pj[p]];
		const double *yi = o->x + 3 * o->pi[p], *yj = o->x + 3 * o->pj[p];
		int d;
		for (d = 0; d < 3; d++) {
			double a = xi[d] - yi[d], b = xj[d] - yj[d];
			dot += a * b;
			ii += a * a;
			jj += b * b;
		}
	}
	s->same[l] += same;
	s->same_n[l] += (double)s->nc;
	s->dot[l] += dot;
	s->ii[l] += ii;
	s->jj[l] += jj;
	s->pn[l] += (double)o->npair;
}

static int pd_results(pd_state *s, size_t nframes, double dt, pd_res *r,
		      char *err)
{
	size_t l, n = nframes < s->nlag ? nframes : s->nlag;
	r->nlag = n;
	r->dt = dt;
	r->same = err_calloc(n, sizeof(double), err);
	r->corr = err_calloc(n, sizeof(double), err);
	r->dot = err_calloc(n, sizeof(double), err);
	if (!r->same || !r->corr || !r->dot)
		return -1;
	for (l = 0; l < n; l++) {
		r->same[l] = s->same[l] / s->same_n[l];
		r->corr[l] = s->ii[l] > 0 && s->jj[l] > 0
			? s->dot[l] / sqrt(s->ii[l] * s->jj[l]) : NAN;
		r->dot[l] = s->pn[l] > 0 ? s->dot[l] / s->pn[l] : NAN;
		if (l > 0)
			r->tau_res += 0.5 * (r->same[l] + r->same[l - 1]) * dt;
	}
	r->pairs = r->norigins ? s->pairs / (double)r->norigins : 0;
	return 0;
}

void pd_res_free(pd_res *r)
{
	free(r->same);
	free(r->corr);
	free(r->dot);
	r->same = r->corr = r->dot = NULL;
}

/* one frame: nearest anions, a new origin when due, every open origin */
static int pd_frame(pd_state *s, const pd_opts *o, const traj_frame *fr,
		    size_t f, pd_res *r, char *err)
{
	size_t k;
	pd_nearest(s, fr->pos, fr);
	if (f % o->stride == 0) {
		pd_origin *og = &s->o[(f / o->stride) % s->norig];
		if (pd_open_origin(s, og, f, fr->pos, fr,
				   o->cutoff * o->cutoff, err) != 0)
			return -1;
		r->norigins++;
	}
	for (k = 0; k < s->norig; k++) {
		pd_origin *og = &s->o[k];
		if (og->active && f - og->frame <= o->max_lag)
			pd_accumulate(s, og, f - og->frame, fr->pos);
		else
			og->active = 0;
	}
	return 0;
}

int pd_run(traj *t, const pd_opts *o, progress *prog, pd_res *r,
	   char *err)
{
	pd_state s;
	traj_frame fr;
	size_t f = 0;
	double t0 = 0, dt = 0;
	int rc = 0, k;
	memset(r, 0, sizeof *r);
	if (o->max_lag < 1 || o->stride < 1 || !(o->cutoff > 0))
		return err_set(err, "pairdyn: max_lag and stride must be >= 1 "
			       "frame and the cutoff > 0");
	if (pd_init(&s, traj_get_info(t), o, err) != 0) {
		pd_free_state(&s);
		return -1;
	}
	if (prog)
		progress_begin(prog, "md pairs",
			       (double)traj_get_info(t)->nframes);
	while (rc == 0 && (k = traj_next(t, &fr, err)) == 1) {
		if (f == 0)
			t0 = fr.time;
		else if (f == 1)
			dt = fr.time - t0;
		else if (fabs(fr.time - t0 - (double)f * dt) > 1e-6 * dt *
			 (double)f)
			rc = err_set(err, "pairdyn: frame %zu: frames must be "
				     "evenly spaced in time", f + 1);
		if (rc == 0)
			rc = pd_frame(&s, o, &fr, f++, r, err);
		if (rc == 0 && prog && progress_update(prog, (double)f) != 0)
			rc = err_set(err, "stopped by the progress callback");
	}
	if (prog && progress_end(prog) != 0 && rc == 0)
		rc = err_set(err, "stopped by the progress callback");
	if (rc == 0 && k < 0)
		rc = -1;
	if (rc == 0 && f < 2)
		rc = err_set(err, "pairdyn: need at least 2 frames");
	if (rc == 0)
		rc = pd_results(&s, f, dt, r, err);
	if (rc != 0)
		pd_res_free(r);
	pd_free_state(&s);
	return rc;
}
