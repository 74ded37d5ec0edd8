/*
** fit.c - nonlinear least squares with bounds and fixed parameters on
** GSL's gsl_multifit_nlinear, and the native XPCS models (see fit.h).
*/
#include <complex.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multifit_nlinear.h>

#include "fit.h"

/* the solver's view: free parameters u, mapped to the model's p */
typedef struct fit_ctx {
	const fit_problem *pb;
	size_t nfree;
	size_t *idx;		/* free parameter k is model parameter idx[k] */
	double *lo, *hi;	/* per model parameter, +-INFINITY when none */
	double *p;		/* model parameters (fixed ones preset) */
	double *ym;		/* model values, n */
	double *J;		/* model Jacobian, n x np */
	double *sw;		/* sqrt(weight), n */
	double *plast, *ylast;	/* the last point evaluated and its values */
	int have_last;
	int numeric;		/* the model asked for finite differences */
	int nfev;
	int failed;		/* the model reported an error */
	char *err;
	int nsmall;		/* trailing iterations of negligible change
				   (fit_iter) */
	double chi2_prev;
} fit_ctx;

/* A fit that reaches the iteration limit is often at its minimum, in a
** flat valley (tau0 against gamma, beta against h) where the solver's
** step test (relative steps below xtol = 1e-10) keeps failing while the
** chi-square creeps down by 1e-9 to 1e-5 per iteration (simulated
** heterodyne bins: 200 or 1000 iterations, the same values to the third
** digit). A change of parameters by one standard error changes the
** chi-square by about chi2_red; FIT_STALL_N iterations in a row, each
** lowering it by less than FIT_STALL_CHI2 of that, count as converged. */
#define FIT_STALL_N 10
#define FIT_STALL_CHI2 1e-4

static pthread_once_t fit_gsl_once = PTHREAD_ONCE_INIT;

/* GSL's default handler aborts the process; ionflow reports instead */
static void fit_gsl_init(void)
{
	gsl_set_error_handler_off();
}

/* MINUIT's transforms: smooth, monotone on each branch, and onto the
** feasible interval, so the unconstrained solver cannot leave it */
static double fit_u2p(double u, double lo, double hi)
{
	if (isfinite(lo) && isfinite(hi))
		return lo + (hi - lo) * (sin(u) + 1) / 2;
	if (isfinite(lo))
		return lo - 1 + sqrt(u * u + 1);
	if (isfinite(hi))
		return hi + 1 - sqrt(u * u + 1);
	return u;
}

static double fit_dpdu(double u, double lo, double hi)
{
	if (isfinite(lo) && isfinite(hi))
		return (hi - lo) * cos(u) / 2;
	if (isfinite(lo))
		return u / sqrt(u * u + 1);
	if (isfinite(hi))
		return -u / sqrt(u * u + 1);
	return 1;
}

/* the inverse, for a start strictly inside the bounds: a start exactly on
** a bound would have zero slope dp/du and never move */
static double fit_p2u(double p, double lo, double hi)
{
	if (isfinite(lo) && isfinite(hi)) {
		double s = 2 * (p - lo) / (hi - lo) - 1;
		if (s > 1 - 1e-8) s = 1 - 1e-8;
		if (s < -1 + 1e-8) s = -1 + 1e-8;
		return asin(s);
	}
	if (isfinite(lo)) {
		double d = p - lo + 1;
		if (d < 1 + 1e-8) d = 1 + 1e-8;
		return sqrt(d * d - 1);
	}
	if (isfinite(hi)) {
		double d = hi - p + 1;
		if (d < 1 + 1e-8) d = 1 + 1e-8;
		return sqrt(d * d - 1);
	}
	return p;
}

static void fit_set_p(fit_ctx *c, const gsl_vector *u)
{
	for (size_t k = 0; k < c->nfree; k++) {
		size_t j = c->idx[k];
		c->p[j] = fit_u2p(gsl_vector_get(u, k), c->lo[j], c->hi[j]);
	}
}

static const char *fit_pname(const fit_problem *pb, size_t j, char *buf)
{
	if (pb->names != NULL && pb->names[j] != NULL)
		return pb->names[j];
	snprintf(buf, 32, "p[%zu]", j + 1);
	return buf;
}

/* the finite-difference step of parameter j at value pj */
static double fit_fd_step(const fit_problem *pb, size_t j, double pj)
{
	if (pb->step != NULL && pb->step[j] > 0 && isfinite(pb->step[j]))
		return pb->step[j];
	return 1e-6 * (fabs(pj) > 1e-6 ? fabs(pj) : 1e-6);
}

/* the model at c->p into y, remembered as the last point evaluated */
static int fit_eval(fit_ctx *c, double *y)
{
	const fit_problem *pb = c->pb;
	c->nfev++;
	if (pb->model(c->p, pb->np, pb->x, pb->n, y, NULL, pb->ctx, c->err) < 0)
		return -1;
	memcpy(c->plast, c->p, pb->np * sizeof(double));
	if (y != c->ylast)
		memcpy(c->ylast, y, pb->n * sizeof(double));
	c->have_last = 1;
	return 0;
}

/* the model at c->p into c->ym, reusing the last evaluation when the
** solver asks for the Jacobian at the point it has just evaluated (a model
** run can cost a second) */
static int fit_base(fit_ctx *c)
{
	const fit_problem *pb = c->pb;
	if (c->have_last && memcmp(c->plast, c->p, pb->np * sizeof(double)) == 0) {
		memcpy(c->ym, c->ylast, pb->n * sizeof(double));
		return 0;
	}
	return fit_eval(c, c->ym);
}

/* column j of the Jacobian by differences: central (two calls, inside the
** bounds) or forward from c->ym (one call, backward at an upper bound) */
static int fit_fd_column(fit_ctx *c, size_t j, double *y1, double *y2)
{
	const fit_problem *pb = c->pb;
	size_t n = pb->n, np = pb->np;
	double pj = c->p[j], h = fit_fd_step(pb, j, pj), a = pj - h, b = pj + h;
	if (pb->fd_forward) {
		a = pj;
		if (b > c->hi[j])
			b = pj - h < c->lo[j] ? (c->lo[j] + c->hi[j]) / 2 : pj - h;
	} else {
		if (b > c->hi[j]) b = pj;
		if (a < c->lo[j]) a = pj;
	}
	if (!(b != a))
		return err_set(c->err, "no room for a difference step in "
			       "parameter %zu (bounds %g, %g)", j + 1,
			       c->lo[j], c->hi[j]);
	if (!pb->fd_forward) {
		c->p[j] = a;
		c->nfev++;
		if (pb->model(c->p, np, pb->x, n, y1, NULL, pb->ctx, c->err) < 0)
			goto fail;
	} else {
		memcpy(y1, c->ym, n * sizeof(double));
	}
	c->p[j] = b;
	c->nfev++;
	if (pb->model(c->p, np, pb->x, n, y2, NULL, pb->ctx, c->err) < 0)
		goto fail;
	c->p[j] = pj;
	for (size_t i = 0; i < n; i++)
		c->J[i * np + j] = (y2[i] - y1[i]) / (b - a);
	return 0;
fail:
	c->p[j] = pj;
	return -1;
}

/* the model Jacobian in p (analytic when the model has it, else finite
** differences, fit_fd_column) into c->J */
static int fit_jac_p(fit_ctx *c)
{
	const fit_problem *pb = c->pb;
	size_t n = pb->n, np = pb->np;
	if (!c->numeric) {
		int r = pb->model(c->p, np, pb->x, n, c->ym, c->J, pb->ctx,
				  c->err);
		if (r <= 0)
			return r;
		c->numeric = 1;	/* asks for differences: it will again */
	}
	if (pb->fd_forward && fit_base(c))
		return -1;
	double *y1 = malloc(sizeof(double) * n * 2), *y2 = y1 + n;
	if (y1 == NULL)
		return err_set(c->err, "out of memory");
	for (size_t k = 0; k < c->nfree; k++)
		if (fit_fd_column(c, c->idx[k], y1, y2)) {
			free(y1);
			return -1;
		}
	free(y1);
	return 0;
}

/* weighted residuals; a model value that is not finite at a trial point
** becomes a huge residual so that the trust region rejects the step */
static int fit_f(const gsl_vector *u, void *params, gsl_vector *f)
{
	fit_ctx *c = params;
	const fit_problem *pb = c->pb;
	fit_set_p(c, u);
	if (fit_eval(c, c->ym) < 0) {
		c->failed = 1;
		return GSL_EBADFUNC;
	}
	for (size_t i = 0; i < pb->n; i++) {
		double r = c->sw[i] * (c->ym[i] - pb->y[i]);
		gsl_vector_set(f, i, isfinite(r) ? r : 1e100);
	}
	return GSL_SUCCESS;
}

static int fit_df(const gsl_vector *u, void *params, gsl_matrix *Ju)
{
	fit_ctx *c = params;
	const fit_problem *pb = c->pb;
	fit_set_p(c, u);
	if (fit_jac_p(c)) {
		c->failed = 1;
		return GSL_EBADFUNC;
	}
	for (size_t k = 0; k < c->nfree; k++) {
		size_t j = c->idx[k];
		double d = fit_dpdu(gsl_vector_get(u, k), c->lo[j], c->hi[j]);
		for (size_t i = 0; i < pb->n; i++) {
			double v = c->sw[i] * c->J[i * pb->np + j] * d;
			gsl_matrix_set(Ju, i, k, isfinite(v) ? v : 0);
		}
	}
	return GSL_SUCCESS;
}

static void fit_ctx_free(fit_ctx *c)
{
	free(c->idx); free(c->lo); free(c->hi); free(c->p);
	free(c->ym); free(c->J); free(c->sw);
	free(c->plast); free(c->ylast);
}

/* check the problem and set up bounds, weights and the free set */
static int fit_setup(const fit_problem *pb, fit_ctx *c, char *err)
{
	char nb[32];
	size_t n = pb->n, np = pb->np;
	memset(c, 0, sizeof *c);
	c->pb = pb;
	c->err = err;
	if (pb->model == NULL || np == 0 || pb->p0 == NULL)
		return err_set(err, "a model, its parameter count and p0 are "
			       "required");
	if (n == 0 || pb->x == NULL || pb->y == NULL)
		return err_set(err, "no data points");
	c->idx = err_calloc(np, sizeof(size_t), err);
	c->lo = c->idx ? err_calloc(np, sizeof(double), err) : NULL;
	c->hi = c->lo ? err_calloc(np, sizeof(double), err) : NULL;
	c->p = c->hi ? err_calloc(np, sizeof(double), err) : NULL;
	c->ym = c->p ? err_calloc(n, sizeof(double), err) : NULL;
	c->J = c->ym ? err_calloc(n * np, sizeof(double), err) : NULL;
	c->sw = c->J ? err_calloc(n, sizeof(double), err) : NULL;
	c->plast = c->sw ? err_calloc(np, sizeof(double), err) : NULL;
	c->ylast = c->plast ? err_calloc(n, sizeof(double), err) : NULL;
	if (c->ylast == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		double w = pb->weights ? pb->weights[i] : pb->sigma ?
			1 / (pb->sigma[i] * pb->sigma[i]) : 1;
		if (!isfinite(pb->x[i]) || !isfinite(pb->y[i]))
			return err_set(err, "point %zu is not finite (x %g, "
				       "y %g)", i + 1, pb->x[i], pb->y[i]);
		if (!(w >= 0 && isfinite(w)))
			return err_set(err, "weight %zu must be finite and >= 0 "
				       "(got %g)", i + 1, w);
		c->sw[i] = sqrt(w);
	}
	for (size_t j = 0; j < np; j++) {
		const char *nm = fit_pname(pb, j, nb);
		c->lo[j] = pb->lower && !isnan(pb->lower[j]) ? pb->lower[j] : -INFINITY;
		c->hi[j] = pb->upper && !isnan(pb->upper[j]) ? pb->upper[j] : INFINITY;
		c->p[j] = pb->p0[j];
		if (!isfinite(pb->p0[j]))
			return err_set(err, "start value of %s is not finite", nm);
		if (!(c->lo[j] < c->hi[j]) && !(pb->fixed && pb->fixed[j]))
			return err_set(err, "bounds of %s are empty (%g, %g)", nm,
				       c->lo[j], c->hi[j]);
		if (pb->p0[j] < c->lo[j] || pb->p0[j] > c->hi[j])
			return err_set(err, "start value of %s = %g is outside "
				       "its bounds [%g, %g]", nm, pb->p0[j],
				       c->lo[j], c->hi[j]);
		if (!(pb->fixed && pb->fixed[j]))
			c->idx[c->nfree++] = j;
	}
	if (n < c->nfree)
		return err_set(err, "%zu points cannot determine %zu free "
			       "parameters", n, c->nfree);
	return 0;
}

/* A parameter is pinned at a bound when the unconstrained Gauss-Newton
** step from the solution, -C Jw^T rw, would take it past the bound: the
** bound transform (sin) lets a parameter approach its bound only
** asymptotically (beta 0.9999963 after 200 iterations on a g2 of
** contrast 1.8), so a distance test alone misses it. Marks at_bound. */
static void fit_pinned(fit_ctx *c, const gsl_matrix *Jw, const gsl_matrix *C,
		       fit_result *res)
{
	const fit_problem *pb = c->pb;
	size_t n = pb->n, nf = c->nfree;
	char e2[ERR_LEN];
	double *g = calloc(nf, sizeof(double));
	if (g == NULL ||
	    pb->model(c->p, pb->np, pb->x, n, c->ym, NULL, pb->ctx, e2) < 0) {
		free(g);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		double r = c->sw[i] * (c->ym[i] - pb->y[i]);
		for (size_t b = 0; b < nf; b++)
			g[b] += gsl_matrix_get(Jw, i, b) * r;
	}
	for (size_t a = 0; a < nf; a++) {
		double step = 0;
		size_t j = c->idx[a];
		if (!isfinite(c->lo[j]) && !isfinite(c->hi[j]))
			continue;
		for (size_t b = 0; b < nf; b++)
			step -= gsl_matrix_get(C, a, b) * g[b];
		double to = c->p[j] + step;
		if (isfinite(step) && (to < c->lo[j] || to > c->hi[j]))
			res->at_bound[j] = 1;
	}
	free(g);
}

/* covariance of the free parameters from the weighted Jacobian in p at
** the solution; GSL's QR-based inverse drops exactly dependent columns */
static int fit_covariance(fit_ctx *c, fit_result *res, char *err)
{
	const fit_problem *pb = c->pb;
	size_t n = pb->n, np = pb->np, nf = c->nfree;
	if (nf == 0)
		return 0;
	if (fit_jac_p(c))
		return -1;
	gsl_matrix *Jw = gsl_matrix_alloc(n, nf), *C = gsl_matrix_alloc(nf, nf);
	if (Jw == NULL || C == NULL) {
		gsl_matrix_free(Jw);
		gsl_matrix_free(C);
		return err_set(err, "out of memory for the covariance");
	}
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < nf; k++)
			gsl_matrix_set(Jw, i, k, c->sw[i] * c->J[i * np + c->idx[k]]);
	gsl_multifit_nlinear_covar(Jw, 1e-13, C);
	fit_pinned(c, Jw, C, res);
	double scale = 1;
	int sc = pb->scale_errors;
	if (sc == 1 || (sc != 0 && !pb->weights && !pb->sigma))
		scale = res->dof > 0 ? res->chi2_red : NAN;
	else if (sc == 2 && res->dof > 0 && res->chi2_red > 1)
		scale = res->chi2_red;	/* more scatter than the errors say */
	for (size_t a = 0; a < nf; a++) {
		for (size_t b = 0; b < nf; b++)
			res->cov[c->idx[a] * np + c->idx[b]] =
				gsl_matrix_get(C, a, b) * scale;
		double v = gsl_matrix_get(C, a, a) * scale;
		res->err[c->idx[a]] = v >= 0 ? sqrt(v) : NAN;
	}
	gsl_matrix_free(Jw);
	gsl_matrix_free(C);
	return 0;
}

static int fit_result_alloc(fit_result *res, size_t np, char *err)
{
	memset(res, 0, sizeof *res);
	res->np = np;
	res->p = err_calloc(np, sizeof(double), err);
	res->err = res->p ? err_calloc(np, sizeof(double), err) : NULL;
	res->cov = res->err ? err_calloc(np * np, sizeof(double), err) : NULL;
	res->at_bound = res->cov ? err_calloc(np, sizeof(int), err) : NULL;
	res->fixed = res->at_bound ? err_calloc(np, sizeof(int), err) : NULL;
	return res->fixed ? 0 : -1;
}

/* Wald-Wolfowitz runs test on the signs of the residuals f (zeros left
** out): a model that misses the shape leaves long runs of one sign. An
** exact fit (residuals at rounding level against the data y, weights sw)
** has no signs to go by: NaN. */
static double fit_runs_z(const double *f, const double *y, const double *sw,
			 size_t n)
{
	double np = 0, nm = 0, runs = 0, ff = 0, yy = 0;
	int prev = 0;
	for (size_t i = 0; i < n; i++) {
		ff += f[i] * f[i];
		yy += sw[i] * sw[i] * y[i] * y[i];
	}
	if (!(ff > 1e-24 * yy))
		return NAN;
	for (size_t i = 0; i < n; i++) {
		int s = f[i] > 0 ? 1 : f[i] < 0 ? -1 : 0;
		if (s == 0)
			continue;
		np += s > 0;
		nm += s < 0;
		runs += s != prev;
		prev = s;
	}
	double m = np + nm, mu = 2 * np * nm / m + 1;
	double var = (mu - 1) * (mu - 2) / (m - 1);
	if (m < 10 || !(var > 0))
		return NAN;
	return (runs - mu) / sqrt(var);
}

/* chi-square, flags and status of the final point */
static void fit_finish(fit_ctx *c, fit_result *res, const double *f)
{
	const fit_problem *pb = c->pb;
	double chi2 = 0;
	res->runs_z = fit_runs_z(f, pb->y, c->sw, pb->n);
	for (size_t i = 0; i < pb->n; i++)
		chi2 += f[i] * f[i];
	res->chi2 = chi2;
	res->dof = pb->n - c->nfree;
	res->n = pb->n;
	res->chi2_red = res->dof > 0 ? chi2 / res->dof : NAN;
	for (size_t j = 0; j < pb->np; j++) {
		/* relative to the parameter's scale: a bound at 0 is reached
		** only asymptotically through the sin transform (p - lo goes as
		** the square of u's distance), so |p| alone would never flag it */
		double w = c->hi[j] - c->lo[j];
		double tol = 1e-7 * (isfinite(w) ? fmax(w, fabs(c->p[j])) :
				     fabs(c->p[j]) + 1e-12);
		res->p[j] = c->p[j];
		res->fixed[j] = pb->fixed && pb->fixed[j];
		res->at_bound[j] = !(pb->fixed && pb->fixed[j]) &&
			(fabs(c->p[j] - c->lo[j]) <= tol ||
			 fabs(c->p[j] - c->hi[j]) <= tol);
	}
}

/* no free parameter: evaluate the model once */
static int fit_all_fixed(fit_ctx *c, fit_result *res, char *err)
{
	const fit_problem *pb = c->pb;
	double *f = err_calloc(pb->n, sizeof(double), err);
	if (f == NULL)
		return -1;
	if (pb->model(c->p, pb->np, pb->x, pb->n, c->ym, NULL, pb->ctx, err) < 0) {
		free(f);
		return -1;
	}
	for (size_t i = 0; i < pb->n; i++)
		f[i] = c->sw[i] * (c->ym[i] - pb->y[i]);
	fit_finish(c, res, f);
	free(f);
	res->status = FIT_CONVERGED;
	res->status_text = "converged";
	return isfinite(res->chi2) ? 0 :
		err_set(err, "model is not finite at the fixed parameters");
}

/* the driver's callback after every iteration: counts the trailing
** iterations of negligible progress (above) */
static void fit_iter(const size_t iter, void *params,
		     const gsl_multifit_nlinear_workspace *w)
{
	fit_ctx *c = params;
	const fit_problem *pb = c->pb;
	gsl_vector *f = gsl_multifit_nlinear_residual(w);
	double chi2 = 0, dof = (double)(pb->n - c->nfree);
	(void)iter;
	gsl_blas_ddot(f, f, &chi2);
	if (dof > 0 && c->chi2_prev - chi2 < FIT_STALL_CHI2 * chi2 / dof)
		c->nsmall++;
	else
		c->nsmall = 0;
	c->chi2_prev = chi2;
}

static int fit_solve(fit_ctx *c, fit_result *res, char *err)
{
	const fit_problem *pb = c->pb;
	gsl_multifit_nlinear_fdf fdf;
	gsl_multifit_nlinear_parameters fp = gsl_multifit_nlinear_default_parameters();
	gsl_multifit_nlinear_workspace *w;
	gsl_vector *u0 = gsl_vector_alloc(c->nfree);
	int info = 0, st, rc = -1;
	if (u0 == NULL)
		return err_set(err, "out of memory");
	for (size_t k = 0; k < c->nfree; k++) {
		size_t j = c->idx[k];
		gsl_vector_set(u0, k, fit_p2u(pb->p0[j], c->lo[j], c->hi[j]));
	}
	c->chi2_prev = INFINITY;
	fdf.f = fit_f;
	fdf.df = fit_df;
	fdf.fvv = NULL;
	fdf.n = pb->n;
	fdf.p = c->nfree;
	fdf.params = c;
	fp.trs = gsl_multifit_nlinear_trs_lm;
	/* many parameters (global fits): the normal equations by Cholesky
	** cost n p^2 / 2 once per Jacobian, where GSL's unblocked
	** Householder QR costs several times that on every trial step */
	if (c->nfree > 12)
		fp.solver = gsl_multifit_nlinear_solver_cholesky;
	w = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &fp, pb->n,
				       c->nfree);
	if (w == NULL) {
		gsl_vector_free(u0);
		return err_set(err, "out of memory for the solver");
	}
	st = gsl_multifit_nlinear_init(u0, &fdf, w);
	if (st == GSL_SUCCESS) {
		gsl_vector *f0 = gsl_multifit_nlinear_residual(w);
		for (size_t i = 0; i < pb->n; i++)
			if (gsl_vector_get(f0, i) == 1e100) {
				st = GSL_EDOM;
				err_set(err, "model is not finite at the start "
					"(point %zu)", i + 1);
				break;
			}
	}
	if (st == GSL_SUCCESS)
		st = gsl_multifit_nlinear_driver(
			pb->max_iter > 0 ? (size_t)pb->max_iter : 200,
			pb->xtol > 0 ? pb->xtol : 1e-10,
			pb->gtol > 0 ? pb->gtol : 1e-10,
			pb->ftol > 0 ? pb->ftol : 0, fit_iter, c, &info, w);
	if (st == GSL_EMAXITER && c->nsmall >= FIT_STALL_N)
		st = GSL_SUCCESS;
	if (c->failed) {
		err_prefix(err, "model");
	} else if (st == GSL_SUCCESS || st == GSL_EMAXITER || st == GSL_ENOPROG) {
		gsl_vector *u = gsl_multifit_nlinear_position(w);
		gsl_vector *f = gsl_multifit_nlinear_residual(w);
		fit_set_p(c, u);
		fit_finish(c, res, f->data);
		res->niter = (int)gsl_multifit_nlinear_niter(w);
		res->status = st == GSL_SUCCESS ? FIT_CONVERGED :
			st == GSL_EMAXITER ? FIT_MAXITER : FIT_NOPROGRESS;
		res->status_text = fit_status_name(res->status);
		rc = 0;
	} else if (st != GSL_EDOM) {
		err_set(err, "solver failed: %s", gsl_strerror(st));
	}
	gsl_multifit_nlinear_free(w);
	gsl_vector_free(u0);
	return rc;
}

static int fit_run_all(const fit_problem *pb, fit_result *res, char *err);

/* a g2 problem without its missing points (fit_g2_missing) */
static int fit_run_g2(const fit_problem *pb, fit_result *res, char *err)
{
	fit_problem q = *pb;
	size_t m = 0;
	const double *e = pb->sigma;
	double *x = err_malloc(pb->n + 1, sizeof(double), err);
	double *y = x ? err_malloc(pb->n + 1, sizeof(double), err) : NULL;
	double *w = y ? err_malloc(pb->n + 1, sizeof(double), err) : NULL;
	int rc = -1;
	if (w == NULL)
		goto done;
	for (size_t i = 0; i < pb->n; i++) {
		double s = e ? e[i] : pb->weights ? 1 / sqrt(pb->weights[i]) : 1;
		if (fit_g2_missing(pb->x[i], pb->y[i], s, e || pb->weights))
			continue;
		x[m] = pb->x[i];
		y[m] = pb->y[i];
		w[m++] = e ? 1 / (e[i] * e[i]) : pb->weights ? pb->weights[i] : 1;
	}
	q.x = x;
	q.y = y;
	q.n = m;
	q.weights = e || pb->weights ? w : NULL;
	q.sigma = NULL;
	q.g2 = 0;
	rc = fit_run_all(&q, res, err);
done:
	free(x); free(y); free(w);
	return rc;
}

int fit_run(const fit_problem *pb, fit_result *res, char *err)
{
	if (pb->g2)
		return fit_run_g2(pb, res, err);
	return fit_run_all(pb, res, err);
}

static int fit_run_all(const fit_problem *pb, fit_result *res, char *err)
{
	fit_ctx c;
	int rc;
	pthread_once(&fit_gsl_once, fit_gsl_init);
	if (fit_result_alloc(res, pb->np, err))
		return -1;
	if (fit_setup(pb, &c, err)) {
		fit_ctx_free(&c);
		fit_result_free(res);
		return -1;
	}
	rc = c.nfree == 0 ? fit_all_fixed(&c, res, err) : fit_solve(&c, res, err);
	if (rc == 0 && res->chi2 >= 1e199)
		rc = err_set(err, "model is not finite at the solution");
	if (rc == 0)
		rc = fit_covariance(&c, res, err);
	res->chi2_q = NAN;
	if (rc == 0 && (pb->weights || pb->sigma) && res->dof > 0)
		res->chi2_q = gsl_cdf_chisq_Q(res->chi2, (double)res->dof);
	res->verdict = rc == 0 ? fit_judge(res, NULL) : FIT_NOT_CONVERGED;
	res->nfev += c.nfev;
	fit_ctx_free(&c);
	if (rc)
		fit_result_free(res);
	return rc;
}

fit_verdict fit_judge(const fit_result *r, const int *counts)
{
	for (size_t j = 0; j < r->np; j++)
		if (r->at_bound[j] && (counts == NULL || counts[j]))
			return FIT_AT_BOUND;
	if (r->status != FIT_CONVERGED)
		return FIT_NOT_CONVERGED;
	for (size_t j = 0; j < r->np; j++)
		if (!r->fixed[j] && (counts == NULL || counts[j]) &&
		    !(r->err[j] > 0 && isfinite(r->err[j])))
			return FIT_POOR;
	/* multi-tau noise is correlated between delays, so a right model
	** leaves long runs too (lag-1 correlation 0.5-0.9); with absolute
	** errors the runs count only with more scatter than the errors */
	int absolute = !isnan(r->chi2_q);
	if ((r->chi2_q < FIT_POOR_Q && r->chi2_red > FIT_POOR_CHI2) ||
	    (r->runs_z < -FIT_RUNS_Z && (!absolute || r->chi2_red > 1)))
		return FIT_POOR;
	return FIT_OK;
}

const char *fit_status_name(fit_status s)
{
	return s == FIT_CONVERGED ? "converged" : s == FIT_MAXITER ?
		"maximum iterations reached" : "no further progress";
}

const char *fit_verdict_name(fit_verdict v)
{
	static const char *const names[] = {"ok", "at bound", "poor fit",
		"no data", "not converged"};
	return v <= FIT_NOT_CONVERGED ? names[v] : "?";
}

int fit_verdict_parse(const char *name)
{
	for (int v = FIT_OK; v <= FIT_NOT_CONVERGED; v++)
		if (strcmp(name, fit_verdict_name((fit_verdict)v)) == 0)
			return v;
	return -1;
}

int fit_g2_missing(double tau, double g2, double err, int has_err)
{
	return !(tau > 0 && isfinite(tau)) || !isfinite(g2) || g2 == 0 ||
	       (has_err && !(err > 0 && isfinite(err)));
}

void fit_result_free(fit_result *res)
{
	free(res->p);
	free(res->err);
	free(res->cov);
	free(res->at_bound);
	free(res->fixed);
	memset(res, 0, sizeof *res);
}

void fit_corr(const double *cov, size_t np, double *corr)
{
	for (size_t a = 0; a < np; a++)
		for (size_t b = 0; b < np; b++) {
			double d = cov[a * np + a] * cov[b * np + b];
			corr[a * np + b] = a == b ? 1 :
				d > 0 ? cov[a * np + b] / sqrt(d) : 0;
		}
}

int fit_profile(const fit_problem *pb, size_t j, const double *values,
		size_t nv, double *chi2, double *p, char *err)
{
	fit_problem q = *pb;
	double *start;
	int *fixed;
	char why[ERR_LEN];
	if (j >= pb->np || pb->p0 == NULL)
		return err_set(err, "no parameter %zu to scan (%zu parameters)",
			       j + 1, pb->np);
	start = err_calloc(pb->np, sizeof(double), err);
	fixed = start ? err_calloc(pb->np, sizeof(int), err) : NULL;
	if (fixed == NULL) {
		free(start);
		return -1;
	}
	memcpy(start, pb->p0, pb->np * sizeof(double));
	for (size_t k = 0; k < pb->np; k++)
		fixed[k] = (pb->fixed && pb->fixed[k]) || k == j;
	q.p0 = start;
	q.fixed = fixed;
	for (size_t k = 0; k < nv; k++) {
		fit_result r;
		start[j] = values[k];
		chi2[k] = NAN;
		if (p != NULL)
			for (size_t m = 0; m < pb->np; m++)
				p[k * pb->np + m] = NAN;
		if (fit_run(&q, &r, why) != 0)
			continue;
		chi2[k] = r.chi2;
		if (p != NULL)
			memcpy(p + k * pb->np, r.p, pb->np * sizeof(double));
		memcpy(start, r.p, pb->np * sizeof(double));
		fit_result_free(&r);
	}
	free(start);
	free(fixed);
	return 0;
}

/* the envelope x = (tau/tau0)^gamma and its log-derivative ln(tau/tau0);
** tau <= 0 gives x = 0 with no dependence on tau0 or gamma */
static inline void fit_stretch(double tau, double tau0, double gamma,
			       double *x, double *lg)
{
	if (tau <= 0) {
		*x = 0;
		*lg = 0;
		return;
	}
	*lg = log(tau / tau0);
	*x = exp(gamma * *lg);
}

/* the smooth window at x frames of delay: B up to the last delay of its
** level (2 dpl B), then B 2^S(u) with S(u) = 3u^2 - 2u^3 (zero slope at
** both ends) for u from 0 to 1 across the gap to (2 dpl + 2) B, where
** the next level's window 2B starts */
static double fit_mt_frames_smooth(double x, int dpl)
{
	double B = 1, last = 2.0 * dpl;
	while (x > last * 2 * B && B < 1e15)
		B *= 2;
	if (x <= last * B)
		return B;
	if (x >= (last + 2) * B)
		return 2 * B;
	double u = log(x / (last * B)) / log((last + 2) / last);
	return B * exp2(u * u * (3 - 2 * u));
}

double fit_mt_frames(const fit_mt *mt, double tau)
{
	if (mt == NULL || !(mt->dt > 0) || !(tau > 0))
		return 1;
	int dpl = mt->dpl > 0 ? mt->dpl : 4;
	if (mt->smooth)
		return fit_mt_frames_smooth(tau / mt->dt, dpl);
	double k = floor(tau / mt->dt + 0.5), B = 1;
	while (k > 2 * dpl && B < 1e15) {	/* k = (dpl+1..2dpl) B */
		k = floor(k / 2 + 0.25);
		B *= 2;
	}
	return B;
}

/* D(s) = sinh(B s/2) / (B sinh(s/2)) and its log-derivative
** D'/D = (B/2) coth(B s/2) - (1/2) coth(s/2), by series near s = 0
** where the two cotangents cancel */
static double complex fit_mt_d(double complex s, double B,
			       double complex *dlog)
{
	double complex u = B * s;
	if (cabs(u) < 1e-2) {
		double B2 = B * B;
		*dlog = (B2 - 1) * s / 12 - (B2 * B2 - 1) * s * s * s / 720;
		return 1 + (B2 - 1) * s * s / 24;
	}
	/* one cexp for both hyperbolic functions of B s/2 (|B s| >= 0.01
	** loses at most two digits to the difference); s/2 by its series
	** while small, as it mostly is (omega dt, kappa dt << 1) */
	double complex e = cexp(u / 2), ei = 1 / e, h = s / 2, sh, ch;
	double complex shB = 0.5 * (e - ei), chB = 0.5 * (e + ei);
	if (cabs(h) < 1e-3) {
		sh = h * (1 + h * h / 6);
		ch = 1 + h * h / 2;
	} else {
		sh = csinh(h);
		ch = ccosh(h);
	}
	*dlog = 0.5 * B * chB / shB - 0.5 * ch / sh;
	return shB / (B * sh);
}

/* the multi-tau average of cos(om tau) e^{-x(tau)} over the frames of
** delay tau, relative to e^{-x(tau)}, with its derivative by om; kappa is
** the local decay rate d x / d tau */
static double fit_mt_cross(double om, double tau, double kappa, double dt,
			   double B, double *dcdom)
{
	double c = cos(om * tau), sn = sin(om * tau);
	if (B <= 1 || kappa * B * dt > 300) {
		*dcdom = -tau * sn;
		return c;
	}
	double complex dl, D = fit_mt_d(CMPLX(-kappa * dt, om * dt), B, &dl);
	double complex ph = CMPLX(c, sn), F = D * D;
	/* d/dom [e^{i om tau} D^2] = i e^{i om tau} D^2 (tau + 2 dt D'/D) */
	*dcdom = creal(I * ph * F * (tau + 2 * dt * dl));
	return creal(ph * F);
}

/* the multi-tau factor of the squared decay e^{-2x} */
static double fit_mt_square(double kappa, double dt, double B)
{
	if (B <= 1 || kappa * B * dt > 300)
		return 1;
	double complex dl, D = fit_mt_d(-2 * kappa * dt, B, &dl);
	return creal(D * D);
}

/* Eq. 1 at one delay tau given its cross term: C stands for the (bin
** averaged) cos(omega tau) and dC for its derivative by omega, W2 for the
** multi-tau factor of the squared decay. The two bin models below differ
** only in C; the rest of the model and of its Jacobian row Ji (NULL:
** values only) is this one function. */
static double fit_eq1_at(const double *p, double tau, double C, double dC,
			 double W2, double *Ji)
{
	double be = p[1], h = p[2], t0 = p[3], g = p[4], s, lg;
	fit_stretch(tau, t0, g, &s, &lg);
	double E = exp(-s), E2 = E * E * W2;
	double br = (1 - h) * (1 - h) + h * h * E2 + 2 * h * (1 - h) * C * E;
	if (Ji != NULL) {
		double dgds = be * (-2 * h * h * E2 - 2 * h * (1 - h) * C * E);
		Ji[0] = 1;
		Ji[1] = br;
		Ji[2] = be * (-2 * (1 - h) + 2 * h * E2 +
			      2 * (1 - 2 * h) * C * E);
		Ji[3] = dgds * (-g * s / t0);
		Ji[4] = dgds * s * lg;
		Ji[5] = be * 2 * h * (1 - h) * E * dC;
	}
	return p[0] + be * br;
}

/* the local decay rate kappa = d x / d tau = gamma x / tau */
static double fit_kappa(const double *p, double tau)
{
	double s, lg;
	fit_stretch(tau, p[3], p[4], &s, &lg);
	return tau > 0 ? p[4] * s / tau : 0;
}

/* Eq. 1 whose cross term carries the envelope G = e^{-(srel omega tau)^2
** / 2}: the bin average of cos(omega_p tau) over pixels whose omegas
** spread with standard deviation srel omega (Gaussian spread), and the
** multi-tau averaging of o->mt. Jacobian rows of stride ld (6 columns
** used). */
int fit_eq1_spread(const double *p, const fit_eq1_opts *o, const double *x,
		   size_t n, double *y, double *J, size_t ld)
{
	double w = p[5], srel = o ? o->srel : 0;
	const fit_mt *mt = o && o->mt.dt > 0 ? &o->mt : NULL;
	if (o && o->nnodes > 0)
		return fit_eq1_nodes(p, o->node_r, o->node_w, o->nnodes, mt, x,
				     n, y, J, ld);
	for (size_t i = 0; i < n; i++) {
		double a = srel * x[i], dc, W2 = 1, c;
		double G = srel > 0 ? exp(-0.5 * a * a * w * w) : 1;
		if (mt) {
			double B = fit_mt_frames(mt, x[i]), k = fit_kappa(p, x[i]);
			c = fit_mt_cross(w, x[i], k, mt->dt, B, &dc);
			W2 = fit_mt_square(k, mt->dt, B);
		} else {
			c = cos(w * x[i]);
			dc = -sin(w * x[i]) * x[i];
		}
		double dC = G * (dc - c * a * a * w);
		y[i] = fit_eq1_at(p, x[i], c * G, dC, W2, J ? J + i * ld : NULL);
	}
	return 0;
}

/* Eq. 1 for a bin whose pixels have omegas omega r_j with weights w_j
** (sum 1): the cross term's cosine is the weighted mean of cos(omega r_j
** tau), the exact bin average for a known set of pixel projections (the
** Gaussian envelope of fit_eq1_spread is its small-spread limit) */
int fit_eq1_nodes(const double *p, const double *r, const double *wt,
		  size_t K, const fit_mt *mt, const double *x, size_t n,
		  double *y, double *J, size_t ld)
{
	double w = p[5];
	if (mt && !(mt->dt > 0))
		mt = NULL;
	for (size_t i = 0; i < n; i++) {
		double C = 0, dC = 0, W2 = 1, B = 1, k = 0;
		if (mt) {
			B = fit_mt_frames(mt, x[i]);
			k = fit_kappa(p, x[i]);
			W2 = fit_mt_square(k, mt->dt, B);
		}
		for (size_t j = 0; j < K; j++) {
			double dc, c;
			if (mt) {
				c = fit_mt_cross(w * r[j], x[i], k, mt->dt, B, &dc);
			} else {
				c = cos(w * r[j] * x[i]);
				dc = -x[i] * sin(w * r[j] * x[i]);
			}
			C += wt[j] * c;
			dC += wt[j] * r[j] * dc;
		}
		y[i] = fit_eq1_at(p, x[i], C, dC, W2, J ? J + i * ld : NULL);
	}
	return 0;
}

int fit_model_heterodyne(const double *p, size_t np, const double *x,
			 size_t n, double *y, double *J, void *ctx, char *err)
{
	(void)ctx;
	if (np != FIT_HET_NP)
		return err_set(err, "heterodyne model has 6 parameters");
	return fit_eq1_spread(p, NULL, x, n, y, J, np);
}

int fit_model_heterodyne_spread(const double *p, size_t np, const double *x,
				size_t n, double *y, double *J, void *ctx,
				char *err)
{
	if (np != FIT_HET_NP)
		return err_set(err, "heterodyne model has 6 parameters");
	return fit_eq1_spread(p, ctx, x, n, y, J, np);
}

/* the homodyne model is Eq. 1 with h = 1 (no static part, so no cross
** term): its multi-tau averaging is that of Eq. 1's squared decay, and
** one code path serves both models. ctx: const fit_mt * (NULL or dt 0:
** g2 at instants). */
int fit_model_homodyne(const double *p, size_t np, const double *x,
		       size_t n, double *y, double *J, void *ctx, char *err)
{
	const fit_mt *mt = ctx;
	if (np != 4)
		return err_set(err, "homodyne model has 4 parameters");
	if (mt && !(mt->dt > 0))
		mt = NULL;
	const double q[FIT_HET_NP] = {p[0], p[1], 1, p[2], p[3], 0};
	for (size_t i = 0; i < n; i++) {
		double W2 = 1, Ji[FIT_HET_NP];
		if (mt)
			W2 = fit_mt_square(fit_kappa(q, x[i]), mt->dt,
					   fit_mt_frames(mt, x[i]));
		y[i] = fit_eq1_at(q, x[i], 0, 0, W2, J ? Ji : NULL);
		if (J == NULL)
			continue;
		double *Jh = J + i * np;
		Jh[0] = Ji[FIT_HET_B];
		Jh[1] = Ji[FIT_HET_BETA];
		Jh[2] = Ji[FIT_HET_TAU0];
		Jh[3] = Ji[FIT_HET_GAMMA];
	}
	return 0;
}

int fit_model_double_exp(const double *p, size_t np, const double *x,
			 size_t n, double *y, double *J, void *ctx, char *err)
{
	(void)ctx;
	if (np != 5)
		return err_set(err, "double exponential model has 5 parameters");
	for (size_t i = 0; i < n; i++) {
		double e1 = exp(-x[i] / p[2]), e2 = exp(-x[i] / p[4]);
		y[i] = p[0] + p[1] * e1 + p[3] * e2;
		if (J == NULL)
			continue;
		double *Ji = J + i * np;
		Ji[0] = 1;
		Ji[1] = e1;
		Ji[2] = p[1] * e1 * x[i] / (p[2] * p[2]);
		Ji[3] = e2;
		Ji[4] = p[3] * e2 * x[i] / (p[4] * p[4]);
	}
	return 0;
}

static const char *const fit_het_names[] =
	{"baseline", "beta", "h", "tau0", "gamma", "omega"};
static const char *const fit_hom_names[] =
	{"baseline", "beta", "tau0", "gamma"};
static const char *const fit_dexp_names[] =
	{"baseline", "a1", "tau1", "a2", "tau2"};

void fit_native_range(const char *name, double *lo, double *hi)
{
	static const double het_lo[] = {-INFINITY, 0, 0, 0, 0, 0};
	static const double het_hi[] = {INFINITY, 1, 1, INFINITY, INFINITY,
					INFINITY};
	static const double hom_lo[] = {-INFINITY, 0, 0, 0};
	static const double hom_hi[] = {INFINITY, 1, INFINITY, INFINITY};
	if (strcmp(name, "heterodyne") == 0) {
		memcpy(lo, het_lo, sizeof het_lo);
		memcpy(hi, het_hi, sizeof het_hi);
	} else if (strcmp(name, "homodyne") == 0) {
		memcpy(lo, hom_lo, sizeof hom_lo);
		memcpy(hi, hom_hi, sizeof hom_hi);
	}
}

int fit_native(const char *name, fit_model_fn *fn, size_t *np,
	       const char *const **names, char *err)
{
	if (strcmp(name, "heterodyne") == 0) {
		*fn = fit_model_heterodyne; *np = 6; *names = fit_het_names;
	} else if (strcmp(name, "homodyne") == 0) {
		*fn = fit_model_homodyne; *np = 4; *names = fit_hom_names;
	} else if (strcmp(name, "double_exp") == 0) {
		*fn = fit_model_double_exp; *np = 5; *names = fit_dexp_names;
	} else {
		return err_set(err, "unknown model '%s' (heterodyne, homodyne, "
			       "double_exp)", name);
	}
	return 0;
}
