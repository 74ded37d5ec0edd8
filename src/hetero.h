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
	int verdict;		/* fit_verdict of the bin's fit */
	double chi2_q, runs_z;	/* its tests (fit_result) */
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
	int unjudged[FIT_HET_NP];	/* 1: a shared value not compared with
					   the bins' own fits (biased ones) */
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
	const int *verdict;	/* the bins' fit_verdict, or NULL: only
				   FIT_OK bins enter the velocity */
} hetero_bins;

/* a bin's mean qx, qy (1/m) from the given ones or, where they are NULL,
** from its mean |q| and azimuth phi (degrees) */
void hetero_bins_qxy(const double *q, const double *qx, const double *qy,
		     const double *phi_deg, size_t nb, double *oqx,
		     double *oqy);

#define HETERO_MAXRING 256

typedef struct hetero_ring {
	double q;		/* mean |q| of the ring's bins, 1/m */
	double qv, qv_err;	/* slope of omega versus |cos chi|, rad/s */
	double v, v_err;	/* speed from omega versus <q cos chi>, m/s */
	double chi2_red;
	size_t nused;		/* resolved ok bins */
	int verdict;		/* FIT_OK when it has a speed, else
				   FIT_NO_DATA (fewer than 2 such bins) */
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

/* ---- the master-curve fit (paper Figure 2e) and its inputs ---- */

/* the pixels of the bins: bin number (1..; 0 or not a bin of the fit:
** left out), in-plane q components (1/m, geom.h's frame) and weights
** (NULL: all 1); arrays of npix values */
typedef struct hetero_pixels {
	size_t npix;
	const double *bin, *qx, *qy, *w;
} hetero_pixels;

#define HETERO_NODES 24	/* nodes per bin (fit_eq1_nodes) */

/* the pixels of the mb bins use[0..mb-1] (bin numbers use[i] + 1 in
** px->bin; use NULL: bins 0..mb-1) as nodes for fit_eq1_nodes: each bin's ratios r = q cos chi /
** <q cos chi> along the flow angle alpha (rad), sorted and pooled into at
** most HETERO_NODES groups of about equal weight (node = the group's
** weighted mean, weight = its share), which keeps the bin's mean exactly
** and its spread and skew closely. Pixel weights are those of the bin's
** g2: with a static partition every static bin counts once
** (xpcsio.bin_moments), so a pixel weighs 1 / its static bin's pixels.
** The ratios are to the weighted mean of the bin's own pixels, so that
** the nodes and the bin's omega describe the same mean. Out: qc[i] the
** bin's weighted mean of q cos chi (NaN, and no nodes, for a sector
** across chi = 90 degrees: hetero_bins), nn[i] its node count, nr[i] and
** nw[i] its nodes, which point into the caller's nodes (2 HETERO_NODES
** mb doubles). Fails only when out of memory. */
int hetero_nodes(const hetero_pixels *px, const size_t *use, size_t mb,
		 double alpha, double *qc, size_t *nn, const double **nr,
		 const double **nw, double *nodes, char *err);

/* hetero_fit_global on the bins use[0..g->nb-1] (use NULL: 0..g->nb-1)
** of an APS-layout g2: n delays tau, g2[i * ld + k] and g2err the same
** (NULL: unweighted). g's tau, g2, g2err and n are set here; when g->srel
** is NULL and srel > 0, every bin gets the spread srel. */
int hetero_fit_global_aps(const hetero_global *g, const double *tau,
			  const double *g2, const double *g2err, size_t n,
			  size_t ld, const size_t *use, double srel,
			  hetero_result *out, double *v, double *v_err,
			  double *chi2_red, char *err);

/* the master-curve fit: the bins' g2 with omega_k = v |<q cos chi>_k|,
** beta, h, gamma shared, tau0 per ring, a baseline per bin unless
** fit_baseline is 0 (hetero_master_fit explains why). Its bins are those
** with a finite per-bin fit away from chi = 90 degrees (|<q cos chi>| >=
** min_cos <q>, as for the velocity). */
typedef struct hetero_master {
	const hetero_bins *b;	/* the bins of hetero_velocity_fit */
	double alpha;		/* flow angle, rad */
	const hetero_result *start;	/* b->nb per-bin fits */
	const double *tau;	/* n delays, s */
	const double *g2, *g2err;	/* n x b->nb (APS layout); err or NULL */
	size_t n;
	const double *qxx, *qyy, *qxy;	/* b->nb second moments of q (1/m^2)
					   for the within-bin spread, or NULL */
	const hetero_pixels *px;	/* NULL or no pixels: no nodes */
	int fit_baseline;
	double tau_max;		/* s; < 0: hetero_master_taumax */
	fit_mt mt;
	double v_ref, v_ref_err;	/* the omega(q, chi) speed, m/s */
} hetero_master;

typedef struct hetero_master_result {
	size_t nbins;		/* bins in the fit */
	size_t *bin;		/* caller's b->nb: input bin of each */
	hetero_result *out;	/* caller's b->nb: their parameters */
	double v, v_err, chi2_red;
	double rho;		/* lag-1 correlation of the residuals */
	const char *why;	/* NULL: v may be reported; else why not */
	const char *warning;	/* NULL, or beta and h not separated */
	int verdict;		/* fit_verdict of the shared fit (beta, h,
				   gamma, v; FIT_NO_DATA: not run) */
} hetero_master_result;

/* the speed is reported (why NULL) only when hetero_master_check accepts
** it against v_ref and the shared values agree with the bins' own fits.
** Fails only when out of memory; a fit that fails says so in why. */
int hetero_master_fit(const hetero_master *m, hetero_master_result *r,
		      char *err);

/* the longest delay of the master fit by default: half the longest delay
** with a finite g2 in the bins use[0..mb-1] of the n x nb g2 */
double hetero_master_taumax(const double *tau, size_t n, const double *g2,
			    size_t nb, const size_t *use, size_t mb);

/* median periods (omega tau_eff / 2 pi) of the resolved per-bin fits
** st[0..b->nb-1] away from chi = 90 degrees along alpha (NaN if none):
** near the resolution limit the omega(q, chi) speed is biased */
double hetero_median_periods(const hetero_bins *b, double alpha,
			     const hetero_result *st);

#define HETERO_MIN_PERIODS 1.5	/* below: hetero_limit_warning */

/* writes into msg (ERR_LEN bytes) and returns 1 when a resolved speed
** comes from bins of median per periods below HETERO_MIN_PERIODS */
int hetero_limit_warning(int resolved, double per, char *msg);

#endif
