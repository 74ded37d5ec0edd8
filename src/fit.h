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
	const double *sigma;	/* without weights: errors per point
				   (weights 1/sigma^2), or NULL */
	const double *p0;	/* start, np entries */
	const double *lower;	/* NULL or np entries (-INFINITY = none) */
	const double *upper;	/* NULL or np entries (+INFINITY = none) */
	const int *fixed;	/* NULL or np flags */
	const char *const *names;	/* NULL or np names, for messages */
	int max_iter;		/* 0: 200 */
	double xtol, gtol, ftol;	/* 0: 1e-10, 1e-10, 0 */
	int g2;			/* 1: y is a g2; points fit_g2_missing
				   (x the delay) are left out */
	int scale_errors;	/* -1: auto (scale by chi2_red when no
				   weights), 0: absolute, 1: always scale,
				   2: absolute errors, scaled up by chi2_red
				   when it exceeds 1 (always without weights) */
	/* finite differences for models without derivatives: step NULL
	** (or an entry 0) takes 1e-6 max(|p|, 1e-6); a model that is itself
	** a numerical solution (an adaptive integrator) needs steps well
	** above its tolerance. fd_forward: one model call per parameter
	** (p + h, or p - h at an upper bound) instead of two. */
	const double *step;
	int fd_forward;
} fit_problem;

typedef enum {
	FIT_CONVERGED = 0, FIT_MAXITER = 1, FIT_NOPROGRESS = 2
} fit_status;

/* what a fit is worth, for a user (fit_verdict_name gives the words):
** ok; at bound (a parameter that counts sits on a bound of its physical
** range: the data ask for an impossible value); poor fit (the model does
** not describe the points: chi-square far beyond its absolute errors, or
** residual signs in runs far longer than chance; or the points do not
** determine a parameter that counts: no finite, positive error); no data
** (too few usable points; set by callers); not converged (the solver
** stopped without converging). The first that applies, in the order at
** bound (a parameter pinned at a bound also stalls the solver), not
** converged, poor fit, ok. */
typedef enum {
	FIT_OK = 0, FIT_AT_BOUND, FIT_POOR, FIT_NO_DATA, FIT_NOT_CONVERGED
} fit_verdict;

#define FIT_POOR_Q 1e-6		/* chi-square upper tail below, */
#define FIT_POOR_CHI2 2		/* and chi2_red above: poor (beyond chance,
				   and by more than the errors' own
				   uncertainty, which multi-tau errors have) */
#define FIT_RUNS_Z 6		/* runs of residual signs: standard errors */

typedef struct fit_result {
	size_t np;
	double *p, *err;	/* np entries */
	double *cov;		/* np x np, zero rows for fixed parameters */
	int *at_bound;		/* 1 when a parameter sits on a bound */
	int *fixed;		/* 1 when it was held fixed */
	double chi2, chi2_red;
	size_t dof;
	size_t n;		/* points used */
	int niter, nfev;
	fit_status status;
	const char *status_text;
	double chi2_q;		/* P(chi2 this large) with the weights as
				   absolute errors (none: NaN) */
	double runs_z;		/* runs of residual signs in point order
				   against chance, standard errors (< 0:
				   fewer, longer runs); NaN below 10 points */
	fit_verdict verdict;	/* every free parameter's bound counts */
} fit_result;

/* solve; res is allocated by fit_run and released by fit_result_free.
** Returns -1 with a message for bad input, a failing model or a
** singular problem; a fit that stops at the iteration limit returns 0 with
** status FIT_MAXITER. */
int fit_run(const fit_problem *pb, fit_result *res, char *err);
void fit_result_free(fit_result *res);

/* the verdict on r, where only the parameters j with counts[j] set count
** when at a bound (NULL: every free one) */
fit_verdict fit_judge(const fit_result *r, const int *counts);
const char *fit_verdict_name(fit_verdict v);
const char *fit_status_name(fit_status s);	/* the solver's words */
/* the verdict named name (fit_verdict_name's words), or -1 */
int fit_verdict_parse(const char *name);

/* is a g2 point missing data? A delay that is not positive and finite, a
** g2 that is not finite or exactly 0 (no photon pairs at that delay: the
** APS correlator writes g2 = 0 with error 0), or an error (has_err) that
** is not positive and finite. Every g2 fitter leaves such points out. */
int fit_g2_missing(double tau, double g2, double err, int has_err);

/* the correlation matrix of an np x np covariance: corr[a][b] =
** cov[a][b] / sqrt(cov[a][a] cov[b][b]); rows of a parameter with no
** variance (fixed) are 0 with 1 on the diagonal */
void fit_corr(const double *cov, size_t np, double *corr);

/* Profile likelihood of parameter j: for each of the nv values, j is
** fixed there and the other free parameters refitted, each fit starting
** from the previous one's solution (the values should be ordered, and
** the scan starts from pb->p0). chi2[k] gets the minimum chi-square and
** p (nv x np, may be NULL) the parameters; a fit that fails gives NaN
** there and the scan goes on from the last good point. Returns -1 only
** for bad input (then err says why). */
int fit_profile(const fit_problem *pb, size_t j, const double *values,
		size_t nv, double *chi2, double *p, char *err);

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
/* Multi-tau averaging. A multi-tau correlator's delay tau = k 2^l frames
** at level l >= 1 correlates sums of B = 2^l consecutive frames, so its
** g2 is the triangle-weighted mean of the instantaneous g2 over delays
** tau + d dt, |d| < B (weights B - |d|). For the oscillating cross term
** this is a low-pass filter (about sinc^2(omega B dt / 2)) that a fit of
** Eq. 1 takes for a faster decay: on exact multi-tau g2 with omega = 2
** rad/s, tau0 = 10 s came out 6.7 s and gamma 1.40. dt is the time between
** correlated frames (0: no averaging), dpl the correlator's delays per
** level (0: 4); levels start after 2 dpl delays. */
typedef struct fit_mt {
	double dt;
	int dpl;
	int smooth;	/* 1: a window that varies smoothly with delay
			   (fit_mt_frames), for drawing the model */
} fit_mt;
/* frames averaged at delay tau (s): 1, or 2^l; with smooth, the same at
** the correlator's delays and a C1 ramp from B to 2B across each gap
** between the last delay of one level (2 dpl B frames) and the first of
** the next ((2 dpl + 2) B), so a curve drawn between the delays has no
** steps where the level changes */
double fit_mt_frames(const fit_mt *mt, double tau);

/* options of the bin-averaged Eq. 1: srel is the relative spread of omega
** inside a bin (Gaussian, standard deviation srel omega): the cross term
** gets e^{-(srel omega tau)^2 / 2}; mt the multi-tau averaging. Within an
** averaging window the decay is taken as locally exponential (exact for
** gamma = 1), giving the factors D(s)^2, D(s) = sinh(B s/2) / (B sinh(s/2))
** with s = (-kappa + i omega) dt for the cross term and s = -2 kappa dt for
** the squared decay (kappa = d x / d tau). */
typedef struct fit_eq1_opts {
	double srel;
	fit_mt mt;
	size_t nnodes;		/* > 0: the bin's omegas omega r_j with
				   weights w_j (fit_eq1_nodes) instead of
				   the Gaussian envelope of srel */
	const double *node_r, *node_w;
} fit_eq1_opts;

/* Eq. 1 at n delays x; J (n rows of stride ld) may be NULL. o NULL or
** all zero is Eq. 1 itself. The Jacobian leaves out the slow dependence
** of the multi-tau factors on tau0 and gamma. */
int fit_eq1_spread(const double *p, const fit_eq1_opts *o, const double *x,
		   size_t n, double *y, double *J, size_t ld);
/* Eq. 1 for a bin of K pixel groups with omegas omega r_j and weights
** wt_j (sum 1): cos(omega tau) becomes sum_j wt_j cos(omega r_j tau);
** mt as above (NULL: none) */
int fit_eq1_nodes(const double *p, const double *r, const double *wt,
		  size_t K, const fit_mt *mt, const double *x, size_t n,
		  double *y, double *J, size_t ld);
/* ctx = const fit_eq1_opts * (NULL: plain Eq. 1) */
int fit_model_heterodyne_spread(const double *p, size_t np, const double *x,
				size_t n, double *y, double *J, void *ctx,
				char *err);
/* the homodyne model (Eq. 1 with h = 1); ctx = const fit_mt * for the
** multi-tau averaging of its decay (NULL: none), which like Eq. 1's is
** exact for gamma = 1 and leaves its slow dependence on tau0 and gamma out
** of the Jacobian */
int fit_model_homodyne(const double *p, size_t np, const double *x,
		       size_t n, double *y, double *J, void *ctx, char *err);
int fit_model_double_exp(const double *p, size_t np, const double *x,
			 size_t n, double *y, double *J, void *ctx, char *err);

/* a native model by name ("heterodyne", "homodyne", "double_exp"):
** its function, parameter count and parameter names; -1 if unknown */
/* the physical range of each parameter of native model name into lo and
** hi (np entries; unknown model: left as they are): contrast beta and
** the heterodyne fraction h in [0, 1], tau0, gamma and omega >= 0 */
void fit_native_range(const char *name, double *lo, double *hi);
int fit_native(const char *name, fit_model_fn *fn, size_t *np,
	       const char *const **names, char *err);

#endif
