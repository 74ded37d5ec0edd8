/*
** hetero.h - robust heterodyne XPCS fits (paper Eq. 1) and the velocity
** from omega(q, chi) (paper Eq. 2, Figure 2).
**
** The cosine makes the least-squares surface of Eq. 1 multimodal. A fit
** therefore starts with a deterministic scan: on a grid of omega (steps of
** 1.5 to 3 % between a quarter period over the delay range and a quarter
** period per shortest delay) and of tau0, g2 = A + B e^{-2x} + C cos(omega
** tau) e^{-x} is linear in A, B, C, so each grid point is a tiny weighted
** linear least-squares problem (variable projection). The best few minima
** seed full nonlinear fits (fit.h); the lowest chi-square wins. omega is
** reported as "resolved" only when at least half a period fits inside the
** delay range over which the heterodyne term survives, and omega exceeds
** three standard errors; otherwise the bin says why not.
**
** Only |omega| is observable (cos is even), so only the speed is: the sign
** of v and a flow angle alpha versus alpha + 180 degrees cannot be told.
*/
#ifndef ionflow_hetero_h
#define ionflow_hetero_h

#include <stddef.h>

#include "err.h"
#include "fit.h"

typedef struct hetero_opts {
	int fit_baseline;	/* 0: baseline fixed (Eq. 1 has 1) */
	double baseline;	/* its value when fixed; 0 means 1 */
	int fix_gamma;		/* 1: gamma fixed at .gamma */
	double gamma;
	double tau_min, tau_max;	/* delay range used, s (0: all) */
	double omega_max;	/* rad/s, 0: pi / (2 shortest delay) */
	double srel;		/* within-bin spread of omega relative to
				   omega (sd(q cos chi) / |<q cos chi>|):
				   the cross term gets e^{-(srel omega
				   tau)^2/2} (fit_eq1_spread); 0: none */
	const double *srel_bins;	/* hetero_fit_bins: per bin, or NULL */
	size_t nnodes;		/* > 0: the bin's distribution of omega /
				   omega_bin as nodes node_r with weights
				   node_w (fit_eq1_nodes) for the nonlinear
				   fit; the scan keeps srel's envelope */
	const double *node_r, *node_w;
	const size_t *nnodes_bins;	/* hetero_fit_bins: per bin, or NULL */
	const double *const *node_r_bins, *const *node_w_bins;
	fit_mt mt;		/* multi-tau averaging of the correlator
				   (fit.h; dt 0: g2 at instants) */
} hetero_opts;

typedef struct hetero_result {
	double p[FIT_HET_NP], err[FIT_HET_NP];	/* fit.h order */
	double chi2_red;
	size_t n;		/* points used */
	int status;		/* fit_status of the chosen fit */
	int resolved;		/* omega resolved (see above) */
	double periods;		/* omega tau_eff / 2 pi */
	double rho;		/* lag-1 correlation of the residuals; the
				   errors include sqrt((1+rho)/(1-rho)) */
	const char *reason;	/* "resolved" or why not */
} hetero_result;

/* one bin: n delays tau (s), g2 and its errors (NULL: unweighted, errors
** from the residuals). NaN points are skipped. */
int hetero_fit(const double *tau, const double *g2, const double *g2err,
	       size_t n, const hetero_opts *o, hetero_result *r, char *err);

/* nb bins of an APS-layout g2 (n delays x nb bins, g2[i * nb + k]; g2err
** the same or NULL), OpenMP over bins. A bin that cannot be fitted (empty,
** masked, too few points) gets NaN parameters, resolved = 0 and its reason
** (the message, copied into reasons[k] of ERR_LEN bytes when reasons is
** not NULL); only running out of memory fails the call. */
int hetero_fit_bins(const double *tau, const double *g2, const double *g2err,
		    size_t n, size_t nb, const hetero_opts *o,
		    hetero_result *out, char (*reasons)[ERR_LEN], char *err);

/* global fit across nb bins. Each of baseline, beta, h, tau0, gamma is
** shared by all bins (share[j] = 1), shared within groups (share[j] = 2,
** group[k] in 0..ngroups-1, e.g. the q ring for tau0) or free per bin
** (share[j] = 0); fixed[j] keeps a parameter at its start. omega is free
** per bin unless qc != NULL, when omega_k = v |qc[k]| with one shared
** speed v (the master-curve fit of paper Figure 2e; qc in 1/m, v in m/s).
** Starts come from start[k] (per-bin fits); the shared starts are medians.
** Weights: when all bins share their delays, 1 / e^2 with e the
** geometric mean over the bins of a group (all bins without groups) of
** their g2err at that delay (a bin's own error fluctuates with its g2
** and biases the fit; see het_pool_errors), else each point's own error.
** Errors are scaled by the reduced chi-square and by the residuals'
** lag-1 correlation (pooled within bins), as in hetero_fit; the shared
** starts are medians over the resolved bins (all bins if none is).
** Results: per-bin parameters and errors in out[k]; *v and *v_err when
** qc is given; *chi2_red.
** The cosine makes the joint surface multimodal. A group's start comes
** from its own resolved bins only when it has 3 (else from all resolved
** bins). When a value shared by all bins lies outside the spread of the
** resolved bins' own fits (3 robust standard deviations of their
** median), or a free parameter has no finite error, a few deterministic
** other starts are tried (groups at the overall medians; h at 0.2, 0.5,
** 0.8 with the cross term's amplitude kept) and the lowest chi-square
** kept; if its shared values still disagree, *g->note says so. */
typedef struct hetero_global {
	size_t nb;
	const double *const *tau, *const *g2, *const *g2err;	/* per bin */
	const size_t *n;	/* points per bin */
	int share[FIT_HET_NP - 1];
	int fixed[FIT_HET_NP];
	const int *group;	/* nb entries, for share = 2 */
	const double *qc;	/* nb entries, or NULL */
	const hetero_result *start;	/* nb entries */
	double v0;		/* start speed when qc given (0: from starts) */
	int *status;		/* NULL, or receives the fit_status */
	const char **note;	/* NULL, or receives NULL or why the shared
				   values are not to be trusted (below) */
	const double *srel;	/* nb relative omega spreads, or NULL */
	const size_t *nnodes;	/* nb counts (0: none) or NULL: bin k's */
	const double *const *node_r;	/* pixel omegas are omega_k r_j */
	const double *const *node_w;	/* with weights w_j (sum 1); they
					   replace srel (fit_eq1_nodes) */
	fit_mt mt;		/* multi-tau averaging (dt 0: none) */
	double tau_max;		/* s; delays above are left out (0: none) */
} hetero_global;

int hetero_fit_global(const hetero_global *g, hetero_result *out, double *v,
		      double *v_err, double *chi2_red, char *err);

/* may a master-curve speed v +/- v_err (fit status status) be reported?
** NULL if so, else why not: not converged, error not finite and positive,
** v below 3 errors, or v more than 5 combined standard errors AND 10 %
** away from the speed v_ref +/- v_ref_err of omega(q, chi) (NaN v_ref:
** no comparison). The cosine makes the master fit multimodal: a start a
** little off can end in a minimum where the speed is unconstrained. */
const char *hetero_master_check(double v, double v_err, int status,
				double v_ref, double v_ref_err);

/* velocity from per-bin omegas. Inputs per bin: omega and its error
** (rad/s), resolved flag, ring index (0-based), mean |q| (1/m) and the
** bin's mean in-plane q components qx, qy (1/m, geom.h's frame), so that
** the projection on the flow, <q cos chi> = qx cos(alpha) + qy sin(alpha),
** is the bin's mean rather than its centre's. Bins near chi = 90 degrees
** are left out: a sector straddling it has omegas of both signs, and as
** cos is even its g2 oscillates at about <|q cos chi|> v, not
** |<q cos chi>| v. */
typedef struct hetero_bins {
	size_t nb;
	const double *omega, *omega_err;
	const int *resolved;
	const int *ring;
	const double *q, *qx, *qy;
	double min_cos;		/* bins with |<q cos chi>| < min_cos <q> are
				   left out (0: 0.25) */
} hetero_bins;

#define HETERO_MAXRING 256

typedef struct hetero_ring {
	double q;		/* mean |q| of the ring's bins, 1/m */
	double qv, qv_err;	/* slope of omega versus |cos chi|, rad/s */
	double v, v_err;	/* speed from omega versus <q cos chi>, m/s */
	double chi2_red;
	size_t nused;
} hetero_ring;

typedef struct hetero_velocity {
	double flow_angle, flow_angle_err;	/* rad; err 0 when given */
	double v, v_err;	/* all resolved bins, omega = v |<q cos chi>| */
	double chi2_red;
	double v_q, v_q_err;	/* omega(q) of the rings, zero intercept */
	double v_rings, v_rings_err;	/* mean and standard error of rings */
	size_t nrings, nused;	/* rings with a speed, bins used */
	size_t nrejected;	/* bins dropped as outliers (> 5 robust sd) */
	int resolved;		/* omega follows Eq. 2 (see reason) */
	const char *reason;
	double slope_z, intercept_z;	/* line omega = a + s |<q cos chi>|:
					   s / err(s), a / err(a) */
	hetero_ring ring[HETERO_MAXRING];
} hetero_velocity;

/* fit_angle: 0 uses flow_angle as given; 1 fits it (starting from
** flow_angle) together with v. The speed counts as resolved only if a
** line omega = a + s |<q cos chi>| through the resolved bins has a slope
** above 5 standard errors (Eq. 2): without flow, cosines fitted to noise
** give omegas that do not grow with |q cos chi|. When not resolved, the
** speeds are NaN and reason says why. */
int hetero_velocity_fit(const hetero_bins *b, double flow_angle,
			int fit_angle, hetero_velocity *out, char *err);

#endif
