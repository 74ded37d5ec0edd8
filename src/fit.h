/*
** fit.h - weighted nonlinear least squares on GSL's gsl_multifit_nlinear
** (trust region, Levenberg-Marquardt), with bounds, fixed parameters,
** covariance errors and native XPCS models.
**
** Bounds are enforced by a smooth change of variables (MINUIT's: sin for
** two bounds, sqrt(u^2 + 1) for one), so the solver works unconstrained and
** the result is always inside [lower, upper]. Errors come from the
** covariance (J^T W J)^-1 evaluated in the original parameters at the
** solution, so a bound does not distort them; a parameter at a bound is
** flagged. Fixed parameters are left out of the solve and get error 0.
*/
#ifndef ionflow_fit_h
#define ionflow_fit_h

#include <stddef.h>

#include "err.h"

/* model: y[i] = f(x[i]; p) for i < n; J (n x np, row-major) may be NULL,
** and a model without analytic derivatives returns 1 when asked for J
** (the core then differentiates numerically). Returns 0, 1 or -1 on
** failure (message in err). */
typedef int (*fit_model_fn)(const double *p, size_t np, const double *x,
			    size_t n, double *y, double *J, void *ctx,
			    char *err);

typedef struct fit_problem {
	fit_model_fn model;
	void *ctx;
	size_t np;		/* number of parameters */
	size_t n;		/* number of points */
	const double *x, *y;
	const double *weights;	/* 1/sigma^2 per point, or NULL (all 1) */
	const double *p0;	/* start, np entries */
	const double *lower;	/* NULL or np entries (-INFINITY = none) */
	const double *upper;	/* NULL or np entries (+INFINITY = none) */
	const int *fixed;	/* NULL or np flags */
	const char *const *names;	/* NULL or np names, for messages */
	int max_iter;		/* 0: 200 */
	double xtol, gtol, ftol;	/* 0: 1e-10, 1e-10, 0 */
	int scale_errors;	/* -1: auto (scale by chi2_red when no
				   weights), 0: absolute, 1: always scale */
} fit_problem;

typedef enum {
	FIT_CONVERGED = 0, FIT_MAXITER = 1, FIT_NOPROGRESS = 2
} fit_status;

typedef struct fit_result {
	size_t np;
	double *p, *err;	/* np entries */
	double *cov;		/* np x np, zero rows for fixed parameters */
	int *at_bound;		/* 1 when a parameter sits on a bound */
	double chi2, chi2_red;
	size_t dof;
	int niter, nfev;
	fit_status status;
	const char *status_text;
} fit_result;

/* solve; res is allocated by fit_run and released by fit_result_free.
** Returns -1 with a message for bad input, a failing model or a
** singular problem; a fit that stops at the iteration limit returns 0 with
** status FIT_MAXITER. */
int fit_run(const fit_problem *pb, fit_result *res, char *err);
void fit_result_free(fit_result *res);

/* native models, x = delay tau (s):
** heterodyne (paper Eq. 1), p = {baseline, beta, h, tau0, gamma, omega}:
**   b + beta [(1-h)^2 + h^2 e^{-2 (tau/tau0)^gamma}
**             + 2 h (1-h) cos(omega tau) e^{-(tau/tau0)^gamma}]
** homodyne stretched exponential, p = {baseline, beta, tau0, gamma}:
**   b + beta e^{-2 (tau/tau0)^gamma}
** double exponential, p = {baseline, a1, tau1, a2, tau2}:
**   b + a1 e^{-tau/tau1} + a2 e^{-tau/tau2} */
enum { FIT_HET_B, FIT_HET_BETA, FIT_HET_H, FIT_HET_TAU0, FIT_HET_GAMMA,
       FIT_HET_OMEGA, FIT_HET_NP };
int fit_model_heterodyne(const double *p, size_t np, const double *x,
			 size_t n, double *y, double *J, void *ctx, char *err);
/* Eq. 1 for a bin whose pixels' omegas spread (standard deviation srel
** omega, Gaussian): the cross term gets e^{-(srel omega tau)^2 / 2}.
** J (n rows of stride ld) may be NULL. srel = 0 is Eq. 1. The _spread
** model takes ctx = pointer to srel (NULL: 0). */
int fit_eq1_spread(const double *p, double srel, const double *x, size_t n,
		   double *y, double *J, size_t ld);
/* Eq. 1 for a bin of K pixel groups with omegas omega r_j and weights
** wt_j (sum 1): cos(omega tau) becomes sum_j wt_j cos(omega r_j tau) */
int fit_eq1_nodes(const double *p, const double *r, const double *wt,
		  size_t K, const double *x, size_t n, double *y, double *J,
		  size_t ld);
int fit_model_heterodyne_spread(const double *p, size_t np, const double *x,
				size_t n, double *y, double *J, void *ctx,
				char *err);
int fit_model_homodyne(const double *p, size_t np, const double *x,
		       size_t n, double *y, double *J, void *ctx, char *err);
int fit_model_double_exp(const double *p, size_t np, const double *x,
			 size_t n, double *y, double *J, void *ctx, char *err);

/* a native model by name ("heterodyne", "homodyne", "double_exp"):
** its function, parameter count and parameter names; -1 if unknown */
int fit_native(const char *name, fit_model_fn *fn, size_t *np,
	       const char *const **names, char *err);

#endif
