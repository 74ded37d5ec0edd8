/*
** hetero.c - heterodyne fits with a deterministic omega scan, global fits
** across bins and the velocity from omega(q, chi) (see hetero.h).
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hetero.h"
#include "intr.h"
#include "num.h"

#define HET_NTAU0 10		/* tau0 grid of the scan */
#define HET_DOMEGA 1.02		/* ratio between scanned omegas */
#define HET_NCAND 3		/* local minima refined */
#define HET_SLOPE_Z 5		/* significance of omega versus |q cos chi| */
#define HET_MIN_COS 0.25	/* bins closer to chi = 90 degrees are left out */
#define HET_MASTER_Z 5		/* master speed vs omega(q, chi): standard errors */
#define HET_MASTER_REL 0.1	/* ... and relative difference, both exceeded */
#define HET_START_MIN 3		/* resolved bins for a group's own start */
#define HET_JUDGE_Z 3		/* joint value vs the bins' spread: robust sd */
#define HET_JUDGE_MIN 5		/* ... judged when this many bins have one */
#define HET_MIN_POINTS 8	/* fewer usable points: no data */
#define HET_BETA_MAX 1		/* contrast: speckle visibility <= 1 */
#define HET_NSHARE FIT_HET_OMEGA	/* Eq. 1 parameters a global fit can share:
				   all but omega, which comes last */

/* the finite points inside the delay range, with weights */
typedef struct het_data {
	size_t m;
	double *x, *y, *w;	/* w all 1 when unweighted */
	int weighted;
	double tmin, tmax;
} het_data;

static void het_data_free(het_data *d)
{
	free(d->x);
	free(d->y);
	free(d->w);
	memset(d, 0, sizeof *d);
}

static int het_data_make(const double *tau, const double *g2,
			 const double *g2err, size_t n, const hetero_opts *o,
			 het_data *d, char *err)
{
	memset(d, 0, sizeof *d);
	d->x = err_malloc(n ? n : 1, sizeof(double), err);
	d->y = d->x ? err_malloc(n ? n : 1, sizeof(double), err) : NULL;
	d->w = d->y ? err_malloc(n ? n : 1, sizeof(double), err) : NULL;
	d->weighted = g2err != NULL;
	if (d->w == NULL) {
		het_data_free(d);
		return -1;
	}
	d->tmin = INFINITY;
	d->tmax = 0;
	for (size_t i = 0; i < n; i++) {
		if (fit_g2_missing(tau[i], g2[i], g2err ? g2err[i] : 1,
				   g2err != NULL))
			continue;
		if ((o->tau_min > 0 && tau[i] < o->tau_min) ||
		    (o->tau_max > 0 && tau[i] > o->tau_max))
			continue;
		d->x[d->m] = tau[i];
		d->y[d->m] = g2[i];
		d->w[d->m] = g2err ? 1 / (g2err[i] * g2err[i]) : 1;
		d->m++;
		if (tau[i] < d->tmin) d->tmin = tau[i];
		if (tau[i] > d->tmax) d->tmax = tau[i];
	}
	if (d->m < HET_MIN_POINTS) {
		het_data_free(d);
		return err_set(err, "%zu usable points (tau > 0, g2 finite and "
			       "not 0, error > 0, inside the delay range); %d "
			       "needed", d->m, HET_MIN_POINTS);
	}
	return 0;
}

/* weighted least squares for g2 = A + B E^2 + C c E (c = cos omega tau):
** 3 x 3 normal equations by Cramer's rule; returns chi2 or INFINITY */
static double het_linear(const het_data *d, const double *E, const double *c,
			 double abc[3])
{
	double N[6], r[3], yy = 0;
	double n0 = 0, n1 = 0, n2 = 0, n3 = 0, n4 = 0, n5 = 0, r0 = 0, r1 = 0, r2 = 0;
	const double *wv = d->w, *yv = d->y;
	size_t m = d->m;
	#pragma omp simd reduction(+:n0,n1,n2,n3,n4,n5,r0,r1,r2,yy)
	for (size_t i = 0; i < m; i++) {
		double w = wv[i];
		double b1 = E[i] * E[i], b2 = c[i] * E[i], y = yv[i];
		n0 += w; n1 += w * b1; n2 += w * b2;
		n3 += w * b1 * b1; n4 += w * b1 * b2; n5 += w * b2 * b2;
		r0 += w * y; r1 += w * y * b1; r2 += w * y * b2;
		yy += w * y * y;
	}
	N[0] = n0; N[1] = n1; N[2] = n2; N[3] = n3; N[4] = n4; N[5] = n5;
	r[0] = r0; r[1] = r1; r[2] = r2;
	double a = N[0], b = N[1], cc = N[2], dd = N[3], e = N[4], f = N[5];
	double det = a * (dd * f - e * e) - b * (b * f - e * cc) + cc * (b * e - dd * cc);
	if (!(fabs(det) > 1e-300))
		return INFINITY;
	abc[0] = (r[0] * (dd * f - e * e) - b * (r[1] * f - e * r[2]) +
		  cc * (r[1] * e - dd * r[2])) / det;
	abc[1] = (a * (r[1] * f - e * r[2]) - r[0] * (b * f - e * cc) +
		  cc * (b * r[2] - r[1] * cc)) / det;
	abc[2] = (a * (dd * r[2] - r[1] * e) - b * (b * r[2] - r[1] * cc) +
		  r[0] * (b * e - dd * cc)) / det;
	return yy - (abc[0] * r[0] + abc[1] * r[1] + abc[2] * r[2]);
}

typedef struct het_cand {
	double chi2, omega, tau0, abc[3];
} het_cand;

/* Eq. 1 start values from the linear coefficients: B = beta h^2,
** C = 2 beta h (1-h), A = b + beta (1-h)^2 */
static void het_start(const het_cand *c, const hetero_opts *o, double gamma,
		      double *p)
{
	double A = c->abc[0], B = c->abc[1], C = c->abc[2];
	double h = B > 0 && C > 0 ? 1 / (1 + C / (2 * B)) : (C > 0 ? 0.1 : 0.9);
	if (h < 0.02) h = 0.02;
	if (h > 0.98) h = 0.98;
	double beta = B > 0 ? B / (h * h) : (C > 0 ? C / (2 * h * (1 - h)) : 0.1);
	if (!(beta > 1e-4)) beta = 1e-4;
	if (beta > 1.9) beta = 1.9;
	double b = A - beta * (1 - h) * (1 - h);
	if (!o->fit_baseline || !(b > 0.55 && b < 1.45))
		b = o->baseline > 0 ? o->baseline : 1;
	p[FIT_HET_B] = b;
	p[FIT_HET_BETA] = beta;
	p[FIT_HET_H] = h;
	p[FIT_HET_TAU0] = c->tau0;
	p[FIT_HET_GAMMA] = gamma;
	p[FIT_HET_OMEGA] = c->omega;
}

/* insert a candidate into the sorted list of the best HET_NCAND */
static void het_keep(het_cand *best, int *nb, const het_cand *c)
{
	int i;
	if (*nb < HET_NCAND) {
		i = (*nb)++;
	} else {
		i = HET_NCAND - 1;
		if (c->chi2 >= best[i].chi2)
			return;
	}
	best[i] = *c;
	for (; i > 0 && best[i].chi2 < best[i - 1].chi2; i--) {
		het_cand t = best[i];
		best[i] = best[i - 1];
		best[i - 1] = t;
	}
}

/* the best tau0 at one omega (cosines c given); omega > 0 requires C > 0,
** since a cosine of the wrong sign is not Eq. 1 */
static void het_scan_omega(const het_data *d, const double *E,
			   const double *t0s, const double *c, double om,
			   het_cand *cur)
{
	cur->chi2 = INFINITY;
	cur->omega = om;
	for (int j = 0; j < HET_NTAU0; j++) {
		double abc[3] = {0, 0, 0};
		double chi = het_linear(d, E + j * d->m, c, abc);
		if (om > 0 && !(abc[2] > 0))
			continue;
		if (chi < cur->chi2) {
			cur->chi2 = chi;
			cur->tau0 = t0s[j];
			memcpy(cur->abc, abc, sizeof abc);
		}
	}
}

/* the damping of the cosine in the scan: the within-bin spread's Gaussian
** envelope and the multi-tau average over nb frames of a pure cosine,
** (sin(nb u) / (nb sin u))^2 with u = omega dt / 2 (the decay's share of
** fit_eq1_spread's factor is left to the nonlinear fit) */
static double het_scan_damp(double srel, double om, double x, double nb,
			    double dt)
{
	double a = srel * om * x, f = exp(-0.5 * a * a);
	if (nb > 1) {
		double u = 0.5 * om * dt, sn = sin(u);
		double r = fabs(sn) > 1e-12 ? sin(nb * u) / (nb * sn) : 1;
		f *= r * r;
	}
	return f;
}

/* the scan: for each omega the best tau0; local minima over omega kept.
** omega runs over octaves from a quarter period in the delay range, with
** steps of 3 % of each octave's start, so that inside an octave the
** cosines follow the recurrence cos(w + s) = 2 cos(s) cos(w) - cos(w - s)
** (exact restart at every octave) instead of one libm call per point.
** cand0 receives the omega = 0 (no oscillation) candidate. */
static int het_scan(const het_data *d, double gamma, double omega_hi,
		    const hetero_opts *o, het_cand *best, int *nbest,
		    het_cand *cand0, char *err)
{
	double srel = o->srel;
	size_t m = d->m;
	double *E = err_malloc(HET_NTAU0 * m, sizeof(double), err);
	double *c = E ? err_malloc(6 * m, sizeof(double), err) : NULL;
	double t0s[HET_NTAU0], prev2 = INFINITY, prev1 = INFINITY;
	het_cand c1 = {INFINITY, 0, 0, {0}}, cur;
	if (c == NULL) {
		free(E);
		return -1;
	}
	double *cp = c + m, *k2 = c + 2 * m, *cn = c + 3 * m, *cg = c + 4 * m;
	double *nb = c + 5 * m;	/* frames averaged per delay (fit_mt) */
	int avg = 0;
	for (size_t i = 0; i < m; i++) {
		nb[i] = fit_mt_frames(&o->mt, d->x[i]);
		avg |= nb[i] > 1;
	}
	for (int j = 0; j < HET_NTAU0; j++) {
		t0s[j] = d->tmin * pow(10 * d->tmax / d->tmin, (double)j / (HET_NTAU0 - 1));
		for (size_t i = 0; i < m; i++)
			E[j * m + i] = exp(-pow(d->x[i] / t0s[j], gamma));
	}
	*nbest = 0;
	for (size_t i = 0; i < m; i++)
		c[i] = 1;
	het_scan_omega(d, E, t0s, c, 0, cand0);
	for (double ob = M_PI / (2 * d->tmax); ob <= omega_hi; ob *= 2) {
		double st = 0.03 * ob;
		for (int s = 0; s < 34; s++) {
			double om = ob + s * st;
			if (om > omega_hi)
				break;
			if (s == 0) {
				for (size_t i = 0; i < m; i++) {
					c[i] = cos(om * d->x[i]);
					cp[i] = cos((om - st) * d->x[i]);
					k2[i] = 2 * cos(st * d->x[i]);
				}
			} else {
				for (size_t i = 0; i < m; i++) {
					cn[i] = k2[i] * c[i] - cp[i];
					cp[i] = c[i];
					c[i] = cn[i];
				}
			}
			if (srel > 0 || avg) {
				for (size_t i = 0; i < m; i++)
					cg[i] = c[i] * het_scan_damp(srel, om,
						d->x[i], nb[i], o->mt.dt);
			}
			het_scan_omega(d, E, t0s, srel > 0 || avg ? cg : c, om,
				       &cur);
			/* a local minimum over omega is the previous point */
			if (prev1 <= prev2 && prev1 < cur.chi2 && isfinite(prev1))
				het_keep(best, nbest, &c1);
			prev2 = prev1;
			prev1 = cur.chi2;
			c1 = cur;
		}
	}
	if (isfinite(prev1) && prev1 <= prev2)
		het_keep(best, nbest, &c1);
	free(E);
	free(c);
	return 0;
}

static int het_nonlinear(const het_data *d, const hetero_opts *o,
			 const double *p0, double omega_hi, int fix_omega,
			 fit_result *res, char *err)
{
	double lo[FIT_HET_NP] = {0.5, 0, 0, d->tmin / 20, 0.2, 0};
	double hi[FIT_HET_NP] = {1.5, HET_BETA_MAX, 1, 1000 * d->tmax, 3,
				 2 * omega_hi};
	int fixed[FIT_HET_NP] = {!o->fit_baseline, 0, 0, 0, o->fix_gamma, fix_omega};
	static const char *const names[FIT_HET_NP] =
		{"baseline", "beta", "h", "tau0", "gamma", "omega"};
	double p[FIT_HET_NP];
	memcpy(p, p0, sizeof p);
	for (int j = 0; j < FIT_HET_NP; j++) {
		if (p[j] < lo[j]) p[j] = lo[j];
		if (p[j] > hi[j]) p[j] = hi[j];
	}
	fit_eq1_opts eo = {.srel = o->srel, .mt = o->mt, .nnodes = o->nnodes,
			   .node_r = o->node_r, .node_w = o->node_w};
	fit_problem pb = {.model = fit_model_heterodyne_spread,
		.ctx = &eo, .np = FIT_HET_NP, .n = d->m,
		.x = d->x, .y = d->y, .weights = d->weighted ? d->w : NULL,
		.p0 = p, .lower = lo,
		.upper = hi, .fixed = fixed, .names = names, .max_iter = 200,
		.scale_errors = 2};	/* see het_judge */
	return fit_run(&pb, res, err);
}

/* the cross-term amplitude 2 h (1-h) beta and its standard error */
static void het_cross(const fit_result *r, double *a, double *sa)
{
	double h = r->p[FIT_HET_H], be = r->p[FIT_HET_BETA];
	double gh = 2 * (1 - 2 * h) * be, gb = 2 * h * (1 - h);
	const double *C = r->cov;
	double v = gh * gh * C[FIT_HET_H * FIT_HET_NP + FIT_HET_H] +
		   gb * gb * C[FIT_HET_BETA * FIT_HET_NP + FIT_HET_BETA] +
		   2 * gh * gb * C[FIT_HET_H * FIT_HET_NP + FIT_HET_BETA];
	*a = 2 * h * (1 - h) * be;
	*sa = v > 0 ? sqrt(v) : 0;
}

/* lag-1 autocorrelation of the weighted residuals in delay order. Multi-
** tau g2 from a finite measurement has errors correlated between nearby
** delays (all delays see the same few relaxation times), so least squares
** treats n points as if they were independent and a spare cosine can fit
** a smooth noise wiggle. With rho the residuals' lag-1 correlation, an
** AR(1) noise has n (1 - rho) / (1 + rho) effective points: the errors
** are inflated and the chi-square gains deflated by that factor. */
static double het_rho(const het_data *d, const fit_result *r,
		      const hetero_opts *o)
{
	double *ym = malloc(sizeof(double) * d->m), num = 0, den = 0, prev = 0;
	fit_eq1_opts eo = {.srel = o->srel, .mt = o->mt, .nnodes = o->nnodes,
			   .node_r = o->node_r, .node_w = o->node_w};
	if (ym == NULL || fit_eq1_spread(r->p, &eo, d->x, d->m, ym, NULL, FIT_HET_NP)) {
		free(ym);
		return 0;
	}
	for (size_t i = 0; i < d->m; i++) {
		double e = sqrt(d->w[i]) * (ym[i] - d->y[i]);
		den += e * e;
		if (i > 0)
			num += e * prev;
		prev = e;
	}
	free(ym);
	double rho = den > 0 ? num / den : 0;
	return rho < 0 ? 0 : (rho > 0.98 ? 0.98 : rho);
}

/* is omega resolved? at least half a period where the heterodyne term
** lives (up to 3 relaxation "units", e^{-3}), omega and the cross term
** significant, and a clear gain over the fit without oscillation (chi2
** difference above 25 in units of the residual variance). The correlator's
** errors are absolute (the standard error of the per-pixel g2, see
** corr.h), so they are scaled up by the reduced chi-square when the data
** scatter more than that, never down: multi-tau noise is correlated
** between delays and smooth, a six-parameter Eq. 1 absorbs much of it
** (chi2_red ~ 0.05 on a 500-frame window at rest), and dividing by that
** chi2_red made a cosine through the noise look 4-5x more significant
** than it is. Unweighted fits scale by chi2_red. Both are inflated by the
** residuals' lag-1 correlation (het_rho). */
static void het_judge(const het_data *d, const fit_result *r, double chi0,
		      const hetero_opts *o, hetero_result *out)
{
	double om = r->p[FIT_HET_OMEGA], t0 = r->p[FIT_HET_TAU0];
	double g = r->p[FIT_HET_GAMMA];
	double teff = t0 * pow(3, 1 / g), a, sa;
	double rho = het_rho(d, r, o), infl = (1 + rho) / (1 - rho);
	for (int j = 0; j < FIT_HET_NP; j++)
		out->err[j] = r->err[j] * sqrt(infl);
	out->rho = rho;
	double se = out->err[FIT_HET_OMEGA];
	if (teff > d->tmax)
		teff = d->tmax;
	out->periods = om * teff / (2 * M_PI);
	het_cross(r, &a, &sa);
	sa *= sqrt(infl);
	double scale = d->weighted && !(r->chi2_red > 1) ? 1 : r->chi2_red;
	double gain = (chi0 - r->chi2) / (scale > 0 ? scale : 1);
	out->resolved = 0;
	if (!(om > 0) || out->periods < 0.5)
		out->reason = "less than half a period within the delay range";
	else if (!(se > 0) || om < 3 * se)
		out->reason = "omega not significant (below 3 standard errors)";
	else if (!(a > 3 * sa))
		out->reason = "no significant heterodyne term";
	else if (!(gain > 25))
		out->reason = "oscillation not significant against a pure decay";
	else {
		out->resolved = 1;
		out->reason = "resolved";
	}
}

/* at a bound that counts: beta (0 or 1), tau0 (a decay faster than the
** first delay or slower than 1000 times the last), gamma, omega's upper
** end and a free baseline; h = 0 or 1 is a physical limit (no static
** or no moving part), not a failure */
static fit_verdict het_verdict(const fit_result *r, const hetero_opts *o)
{
	const int counts[FIT_HET_NP] = {o->fit_baseline, 1, 0, 1, 1, 1};
	return fit_judge(r, counts);
}

int hetero_fit(const double *tau, const double *g2, const double *g2err,
	       size_t n, const hetero_opts *o, hetero_result *out, char *err)
{
	het_data d;
	het_cand best[HET_NCAND], cand0;
	int nbest = 0;
	fit_result r, rb;
	double gamma = o->fix_gamma ? o->gamma : 1;
	memset(out, 0, sizeof *out);
	out->verdict = FIT_NOT_CONVERGED;
	if (o->fix_gamma && !(gamma > 0.2 && gamma <= 3))
		return err_set(err, "fixed gamma must be in (0.2, 3] (got %g)",
			       gamma);
	if (!(o->srel >= 0 && o->srel < 10))
		return err_set(err, "spread must be in [0, 10) (got %g)", o->srel);
	if (het_data_make(tau, g2, g2err, n, o, &d, err)) {
		out->verdict = FIT_NO_DATA;
		return -1;
	}
	/* the scan and the candidates with the envelope; the pixels' own
	** distribution (nodes) only refines the best: it costs a model
	** evaluation per node */
	hetero_opts os = *o;
	os.nnodes = 0;
	double omega_hi = o->omega_max > 0 ? o->omega_max : M_PI / (2 * d.tmin);
	if (het_scan(&d, gamma, omega_hi, &os, best, &nbest, &cand0, err)) {
		het_data_free(&d);
		return -1;
	}
	/* the no-oscillation fit: the reference for significance, and the
	** answer when nothing oscillates */
	double p[FIT_HET_NP], chi0;
	het_start(&cand0, &os, gamma, p);
	p[FIT_HET_OMEGA] = 0;
	if (het_nonlinear(&d, &os, p, omega_hi, 1, &rb, err)) {
		het_data_free(&d);
		return err_prefix(err, "heterodyne fit");
	}
	chi0 = rb.chi2;
	/* secondary minima are refined only when the scan found them
	** comparably good: a far worse minimum cannot win and costs the most
	** iterations */
	for (int k = 0; k < nbest; k++) {
		if (k > 0 && best[k].chi2 > 3 * best[0].chi2 + 10)
			break;
		het_start(&best[k], &os, gamma, p);
		if (het_nonlinear(&d, &os, p, omega_hi, 0, &r, err))
			continue;	/* another candidate may do */
		if (r.chi2 < rb.chi2) {
			fit_result_free(&rb);
			rb = r;
		} else {
			fit_result_free(&r);
		}
	}
	/* the refinement replaces the envelope's fit only when it converged:
	** every number reported comes from a converged fit */
	if (o->nnodes > 0 && rb.p[FIT_HET_OMEGA] > 0 &&
	    het_nonlinear(&d, o, rb.p, omega_hi, 0, &r, err) == 0) {
		if (isfinite(r.chi2) && (r.status == FIT_CONVERGED ||
					 rb.status != FIT_CONVERGED)) {
			fit_result_free(&rb);
			rb = r;
		} else {
			fit_result_free(&r);
		}
	}
	memcpy(out->p, rb.p, sizeof out->p);
	out->chi2_red = rb.chi2_red;
	out->status = rb.status;
	out->chi2_q = rb.chi2_q;
	out->runs_z = rb.runs_z;
	out->n = d.m;
	het_judge(&d, &rb, chi0, o, out);
	out->verdict = het_verdict(&rb, o);
	fit_result_free(&rb);
	het_data_free(&d);
	return 0;
}

/* one column of the APS layout into contiguous buffers, then a fit */
static void het_fit_column(const double *tau, const double *g2,
			   const double *g2err, size_t n, size_t nb, size_t k,
			   const hetero_opts *o, double *y, double *e,
			   hetero_result *out, char *msg)
{
	for (size_t i = 0; i < n; i++) {
		y[i] = g2[i * nb + k];
		if (g2err)
			e[i] = g2err[i * nb + k];
	}
	hetero_opts ob = *o;
	if (o->srel_bins)
		ob.srel = o->srel_bins[k];
	if (o->nnodes_bins) {
		ob.nnodes = o->nnodes_bins[k];
		ob.node_r = o->node_r_bins[k];
		ob.node_w = o->node_w_bins[k];
	}
	if (hetero_fit(tau, y, g2err ? e : NULL, n, &ob, out, msg) == 0)
		return;
	int verdict = out->verdict;
	memset(out, 0, sizeof *out);
	out->verdict = verdict;
	out->rho = out->periods = NAN;
	for (int j = 0; j < FIT_HET_NP; j++)
		out->p[j] = out->err[j] = NAN;
	out->chi2_red = NAN;
	out->resolved = 0;
	out->reason = "fit failed";
}

int hetero_fit_bins(const double *tau, const double *g2, const double *g2err,
		    size_t n, size_t nb, const hetero_opts *o,
		    hetero_result *out, char (*reasons)[ERR_LEN], char *err)
{
	int bad = 0;
	#pragma omp parallel
	{
		double *y = malloc(sizeof(double) * (n + 1));
		double *e = malloc(sizeof(double) * (n + 1));
		char msg[ERR_LEN];
		if (y == NULL || e == NULL) {
			#pragma omp atomic write
			bad = 1;
		}
		#pragma omp for schedule(dynamic, 1)
		for (size_t k = 0; k < nb; k++) {
			if (intr_omp_skip(&bad, 2))
				continue;
			msg[0] = '\0';
			het_fit_column(tau, g2, g2err, n, nb, k, o, y, e,
				       &out[k], msg);
			if (reasons && msg[0] && isnan(out[k].p[1]))
				snprintf(reasons[k], ERR_LEN, "fit failed: %s", msg);
			else if (reasons)
				snprintf(reasons[k], ERR_LEN, "%s", out[k].reason);
		}
		free(y);
		free(e);
	}
	if (bad == 1)
		return err_set(err, "out of memory");
	if (bad == 2)
		return err_set(err, "interrupted");
	return 0;
}

/* ---- global fits ---- */

typedef struct het_gctx {
	const hetero_global *g;
	size_t *off;		/* first point of each bin, nb + 1 */
	size_t *map;		/* nb x FIT_HET_NP: global index of each Eq. 1 parameter */
	size_t vidx;		/* index of v when omega is tied */
	double vs;		/* v = p[vidx] vs: the solver sees v / v0 ~ 1,
				   not ~1e-9 m/s, which its bound transform
				   (sqrt(u^2 + 1)) handles badly */
	int profile;		/* baselines per bin profiled out (below) */
	const double *y, *w;	/* the data and weights (w NULL: all 1) */
} het_gctx;

/* A free baseline per bin is linear and touches only its bin, so it is
** profiled out (variable projection) rather than solved for: the model
** of bin k is m_k(p) + b_k(p), b_k the weighted mean of y - m_k over the
** bin, and the Jacobian is m_k's minus its weighted mean over the bin
** (exact, since the baseline's column does not depend on p). The
** minimum and the covariance of the other parameters are those of the
** fit with the baselines free, but the solver sees a dozen parameters
** instead of a hundred and more: the master fit of the 8 x 18
** bins went from seconds to a fraction of one, which makes several
** starts affordable. */
/* bin k's weighted mean of y - m (its profiled baseline), and in *sw the
** sum of its weights (the mean is NaN when that is not positive) */
static double het_offset(const het_gctx *c, size_t k, const double *m,
			 double *sw)
{
	double sr = 0;
	*sw = 0;
	for (size_t i = c->off[k]; i < c->off[k + 1]; i++) {
		double w = c->w ? c->w[i] : 1;
		*sw += w;
		sr += w * (c->y[i] - m[i]);
	}
	return *sw > 0 ? sr / *sw : NAN;
}

static void het_profile(const het_gctx *c, size_t k, double *ym, double *J,
			size_t np)
{
	size_t i0 = c->off[k], i1 = c->off[k + 1];
	double sw, b = het_offset(c, k, ym, &sw), sj[FIT_HET_NP] = {0};
	if (!(sw > 0))
		return;
	for (size_t i = i0; J && i < i1; i++)
		for (int j = 1; j < FIT_HET_NP; j++)
			sj[j] += (c->w ? c->w[i] : 1) * J[i * np + c->map[k * FIT_HET_NP + j]];
	for (size_t i = i0; i < i1; i++) {
		ym[i] += b;
		for (int j = 1; J && j < FIT_HET_NP; j++)
			J[i * np + c->map[k * FIT_HET_NP + j]] -= sj[j] / sw;
	}
}

/* the concatenated points: x carries the delays, bins by offsets */
static int het_global_model(const double *p, size_t np, const double *x,
			    size_t n, double *y, double *J, void *ctx,
			    char *err)
{
	het_gctx *c = ctx;
	const hetero_global *g = c->g;
	double loc[FIT_HET_NP], Jl[FIT_HET_NP * 512];
	(void)n; (void)err;
	if (J)
		memset(J, 0, sizeof(double) * n * np);
	for (size_t k = 0; k < g->nb; k++) {
		size_t i0 = c->off[k], m = c->off[k + 1] - i0;
		for (int j = 0; j < FIT_HET_NP; j++)
			loc[j] = p[c->map[k * FIT_HET_NP + j]];
		if (c->profile)
			loc[FIT_HET_B] = 0;
		if (g->qc)
			loc[FIT_HET_OMEGA] = p[c->vidx] * c->vs * fabs(g->qc[k]);
		fit_eq1_opts eo = {.srel = g->srel ? g->srel[k] : 0,
				   .mt = g->mt};
		for (size_t s = 0; s < m; s += 512) {
			size_t mm = m - s < 512 ? m - s : 512;
			if (g->nnodes && g->nnodes[k] > 0)
				fit_eq1_nodes(loc, g->node_r[k], g->node_w[k],
					      g->nnodes[k], &g->mt, x + i0 + s,
					      mm, y + i0 + s, J ? Jl : NULL, FIT_HET_NP);
			else
				fit_eq1_spread(loc, &eo, x + i0 + s, mm,
					       y + i0 + s, J ? Jl : NULL, FIT_HET_NP);
			if (J == NULL)
				continue;
			for (size_t i = 0; i < mm; i++) {
				double *Ji = J + (i0 + s + i) * np;
				for (int j = 0; j < HET_NSHARE; j++)
					Ji[c->map[k * FIT_HET_NP + j]] += Jl[i * FIT_HET_NP + j];
				if (g->qc)
					Ji[c->vidx] += Jl[i * FIT_HET_NP + FIT_HET_OMEGA] * c->vs *
						       fabs(g->qc[k]);
				else
					Ji[c->map[k * FIT_HET_NP + FIT_HET_OMEGA]] += Jl[i * FIT_HET_NP + FIT_HET_OMEGA];
			}
		}
		if (c->profile)
			het_profile(c, k, y, J, np);
	}
	return 0;
}

/* parameter layout: shared, per group or per bin for each Eq. 1 param */
static int het_layout(const hetero_global *g, het_gctx *c, size_t *np,
		      int *ngroups, char *err)
{
	size_t k, idx = 0;
	int ng = 0;
	for (k = 0; k < g->nb; k++) {
		if (g->group && (g->group[k] < 0))
			return err_set(err, "group of bin %zu is negative", k + 1);
		if (g->group && g->group[k] + 1 > ng)
			ng = g->group[k] + 1;
	}
	for (int j = 0; j < HET_NSHARE; j++) {
		if (g->share[j] == 2 && g->group == NULL)
			return err_set(err, "sharing by group needs the groups");
		if (g->share[j] == 1) {
			for (k = 0; k < g->nb; k++)
				c->map[k * FIT_HET_NP + j] = idx;
			idx++;
		} else if (g->share[j] == 2) {
			for (k = 0; k < g->nb; k++)
				c->map[k * FIT_HET_NP + j] = idx + (size_t)g->group[k];
			idx += (size_t)ng;
		} else {
			for (k = 0; k < g->nb; k++)
				c->map[k * FIT_HET_NP + j] = idx + k;
			idx += g->nb;
		}
	}
	if (g->qc) {
		c->vidx = idx++;
		for (k = 0; k < g->nb; k++)
			c->map[k * FIT_HET_NP + FIT_HET_OMEGA] = c->vidx;
	} else {
		for (k = 0; k < g->nb; k++)
			c->map[k * FIT_HET_NP + FIT_HET_OMEGA] = idx + k;
		idx += g->nb;
	}
	*np = idx;
	*ngroups = ng;
	return 0;
}

/* the per-bin start values of parameter j: those mapped to slot s (or
** to any slot when s is SIZE_MAX), of resolved bins only when res */
static size_t het_start_values(const hetero_global *g, const het_gctx *c,
			       size_t s, int j, int res, double *buf)
{
	size_t nv = 0;
	for (size_t k = 0; k < g->nb; k++)
		if ((s == SIZE_MAX || c->map[k * FIT_HET_NP + j] == s) &&
		    isfinite(g->start[k].p[j]) && (!res || g->start[k].resolved))
			buf[nv++] = g->start[k].p[j];
	return nv;
}

/* start values: the median of the per-bin values mapped to each slot,
** of resolved bins only: an unresolved bin's omega is free to trade its
** cosine's curvature for the decay, so its tau0 and gamma are
** unconstrained. A slot with fewer than HET_START_MIN resolved bins (an
** inner ring at a low speed, whose bins mostly hold less than half a
** period) takes the median over the resolved bins of all slots: the
** median of one or two values is no protection against one bin's
** degenerate fit. Issue setup, 20 A/s, seed 23: the second ring had two
** resolved bins, one with tau0 15 s, one with h 0.96, tau0 34000 s and
** gamma 0.24 (a long flat decay standing in for the homodyne term); the
** start 17000 s led the master fit to beta 0.047, h 0.50 for 0.1 and
** 0.2 (chi2_red 4.6 against 1.0-1.1 on other seeds). Only when no bin is
** resolved do unresolved ones count. */
static int het_global_start(const hetero_global *g, het_gctx *c,
			    size_t np, double *p0, int *fixed, char *err)
{
	double *buf = err_malloc(g->nb, sizeof(double), err);
	if (buf == NULL)
		return -1;
	for (size_t s = 0; s < np; s++) {
		int j = -1;
		for (size_t k = 0; k < g->nb && j < 0; k++)
			for (int jj = 0; jj < FIT_HET_NP; jj++)
				if (c->map[k * FIT_HET_NP + jj] == s && !(g->qc && jj == FIT_HET_OMEGA))
					j = jj;
		if (j < 0) {	/* the shared speed: below */
			p0[s] = NAN;
			fixed[s] = 0;
			continue;
		}
		size_t nv = het_start_values(g, c, s, j, 1, buf);
		if (nv < HET_START_MIN)
			nv = het_start_values(g, c, SIZE_MAX, j, 1, buf);
		if (nv == 0)
			nv = het_start_values(g, c, s, j, 0, buf);
		p0[s] = num_median(buf, nv);
		fixed[s] = g->fixed[j];
	}
	if (g->qc) {
		double v0 = g->v0;
		if (!(v0 > 0)) {
			size_t nv = 0;
			for (size_t k = 0; k < g->nb; k++)
				if (g->start[k].resolved && g->qc[k] != 0)
					buf[nv++] = g->start[k].p[FIT_HET_OMEGA] /
						    fabs(g->qc[k]);
			v0 = num_median(buf, nv);
		}
		free(buf);
		if (!(v0 > 0))
			return err_set(err, "no resolved bin to start the speed "
				       "from; give v0");
		c->vs = v0;
		p0[c->vidx] = 1;
		fixed[c->vidx] = 0;
		return 0;
	}
	free(buf);
	return 0;
}

static int het_global_bounds(const hetero_global *g, const het_gctx *c,
			     size_t np, double *lo, double *hi)
{
	/* tau0 and omega get lower bounds only: the sin transform of a
	** two-sided bound spanning many decades is badly scaled */
	static const double l[FIT_HET_NP] = {0.5, 0, 0, 0, 0.2, 0};
	static const double h[FIT_HET_NP] = {1.5, HET_BETA_MAX, 1, INFINITY, 3,
					     INFINITY};
	for (size_t s = 0; s < np; s++) {
		lo[s] = -INFINITY;
		hi[s] = INFINITY;
	}
	for (size_t k = 0; k < g->nb; k++)
		for (int j = 0; j < FIT_HET_NP; j++) {
			lo[c->map[k * FIT_HET_NP + j]] = l[j];
			hi[c->map[k * FIT_HET_NP + j]] = h[j];
		}
	if (g->qc) {
		lo[c->vidx] = 0;
		hi[c->vidx] = INFINITY;
	}
	return 0;
}

/* do all bins have the same delays? (then delay i is the same delay in
** every bin and errors can be pooled across bins) */
static int het_same_delays(const hetero_global *g)
{
	for (size_t k = 1; k < g->nb; k++) {
		if (g->n[k] != g->n[0])
			return 0;
		for (size_t i = 0; i < g->n[0]; i++)
			if (g->tau[k][i] != g->tau[0][i])
				return 0;
	}
	return 1;
}

/* the weights of the master fit: per group (ring) and delay, the
** geometric mean of the bins' errors, the same for every bin of the
** group. A bin's own error at a delay is estimated from the same pixels
** as its g2 there and fluctuates with it (the static speckle a bin
** samples sets both its contrast and its spread), so weighting by it
** pulls the fit towards the low values: on simulated data beta 1-2 % and
** tau0 ~4 % low, several of their errors (recovery test: z rms 1.84).
** A bin factor estimated from its errors (log e = a_k + b(delay)) keeps
** part of that (rms 1.62); bins of unequal size are weighted alike
** instead, which costs efficiency, not bias (the errors are scaled by
** chi2_red). Missing points stay missing. Fills es (nb x n0), or -1
** when the bins do not share their delays. */
static int het_pool_errors(const hetero_global *g, double *es)
{
	size_t nb = g->nb, n0 = g->n[0];
	int ng = 1;
	if (!het_same_delays(g))
		return -1;
	for (size_t k = 0; k < nb; k++)
		if (g->group && g->group[k] + 1 > ng)
			ng = g->group[k] + 1;
	double *b = calloc((size_t)ng * n0, sizeof(double));
	double *cnt = calloc((size_t)ng * n0, sizeof(double));
	if (b == NULL || cnt == NULL) {
		free(b); free(cnt);
		return -1;
	}
#define HET_OKE(k, i) (!fit_g2_missing(g->tau[k][i], g->g2[k][i], \
					g->g2err[k][i], 1))
	for (size_t k = 0; k < nb; k++) {
		size_t o = (size_t)(g->group ? g->group[k] : 0) * n0;
		for (size_t i = 0; i < n0; i++)
			if (HET_OKE(k, i)) {
				b[o + i] += log(g->g2err[k][i]);
				cnt[o + i]++;
			}
	}
	for (size_t k = 0; k < nb; k++) {
		size_t o = (size_t)(g->group ? g->group[k] : 0) * n0;
		for (size_t i = 0; i < n0; i++)
			es[k * n0 + i] = HET_OKE(k, i) ?
				exp(b[o + i] / cnt[o + i]) : NAN;
	}
#undef HET_OKE
	free(b); free(cnt);
	return 0;
}

/* concatenate the bins' finite points; weights only if every bin has
** errors, pooled (het_pool_errors) when the bins share their delays */
static int het_global_data(const hetero_global *g, het_gctx *c, double **x,
			   double **y, double **w, size_t *n, char *err)
{
	size_t tot = 0;
	int weighted = g->g2err != NULL;
	for (size_t k = 0; k < g->nb; k++)
		tot += g->n[k];
	*x = err_malloc(tot + 1, sizeof(double), err);
	*y = *x ? err_malloc(tot + 1, sizeof(double), err) : NULL;
	*w = *y && weighted ? err_malloc(tot + 1, sizeof(double), err) : NULL;
	if (*y == NULL || (weighted && *w == NULL))
		return -1;
	double *es = weighted ? malloc(sizeof(double) * (tot + 1)) : NULL;
	if (es && het_pool_errors(g, es)) {
		free(es);
		es = NULL;
	}
	*n = 0;
	for (size_t k = 0; k < g->nb; k++) {
		c->off[k] = *n;
		for (size_t i = 0; i < g->n[k]; i++) {
			double t = g->tau[k][i], v = g->g2[k][i];
			double e = !weighted ? 1 : es ? es[k * g->n[0] + i] :
				   g->g2err[k][i];
			if (fit_g2_missing(t, v, e, 1) ||
			    (weighted && fit_g2_missing(t, v, g->g2err[k][i], 1)) ||
			    (g->tau_max > 0 && t > g->tau_max))
				continue;
			(*x)[*n] = t;
			(*y)[*n] = v;
			if (weighted)
				(*w)[*n] = 1 / (e * e);
			(*n)++;
		}
	}
	c->off[g->nb] = *n;
	free(es);
	return 0;
}

/* the lag-1 correlation of the weighted residuals, pooled over the bins
** (pairs never straddle two bins): the global fit's errors get the same
** AR(1) inflation as a single bin's (het_rho), so that per-bin and
** global errors mean the same thing */
static double het_global_rho(het_gctx *c, const double *x, const double *y,
			     const double *w, size_t n, const double *p,
			     size_t np)
{
	double *ym = malloc(sizeof(double) * (n ? n : 1)), num = 0, den = 0;
	char err[ERR_LEN];
	if (ym == NULL || het_global_model(p, np, x, n, ym, NULL, c, err)) {
		free(ym);
		return 0;
	}
	for (size_t k = 0; k < c->g->nb; k++) {
		double prev = 0;
		for (size_t i = c->off[k]; i < c->off[k + 1]; i++) {
			double e = (w ? sqrt(w[i]) : 1) * (ym[i] - y[i]);
			den += e * e;
			if (i > c->off[k])
				num += e * prev;
			prev = e;
		}
	}
	free(ym);
	double rho = den > 0 ? num / den : 0;
	return rho < 0 ? 0 : (rho > 0.98 ? 0.98 : rho);
}

const char *hetero_master_check(double v, double v_err, int status,
				double v_ref, double v_ref_err)
{
	if (status != FIT_CONVERGED)
		return "master-curve fit did not converge";
	if (!isfinite(v) || !(v > 0))
		return "master-curve speed is not a positive number";
	if (!isfinite(v_err) || !(v_err > 0))
		return "master-curve speed error is not finite and positive "
		       "(the speed is not constrained by the data)";
	if (!(v_err < v / 3))
		return "master-curve speed below 3 standard errors";
	if (isfinite(v_ref) && v_ref > 0) {
		double se = sqrt(v_err * v_err +
				 (isfinite(v_ref_err) ? v_ref_err * v_ref_err : 0));
		if (fabs(v - v_ref) > HET_MASTER_Z * se &&
		    fabs(v / v_ref - 1) > HET_MASTER_REL)
			return "master-curve speed disagrees with omega(q, chi) "
			       "of the resolved bins (another minimum)";
	}
	return NULL;
}

/* with the baselines profiled (het_profile), the fit counted only the
** other parameters: the degrees of freedom lose one per bin with points,
** and chi2_red and the errors (scaled by it) follow */
static void het_global_dof(const het_gctx *c, fit_result *r)
{
	size_t nbase = 0;
	if (!c->profile)
		return;
	for (size_t k = 0; k < c->g->nb; k++)
		nbase += c->off[k + 1] > c->off[k];
	if (r->dof <= nbase) {
		r->dof = 0;
		r->chi2_red = NAN;
		for (size_t s = 0; s < r->np; s++)
			r->err[s] = NAN;
		return;
	}
	double f = (double)r->dof / (double)(r->dof - nbase);
	r->dof -= nbase;
	r->chi2_red *= f;
	for (size_t s = 0; s < r->np; s++)
		r->err[s] *= sqrt(f);
	for (size_t s = 0; s < r->np * r->np; s++)
		r->cov[s] *= f;
}

/* the profiled baselines at the solution, into r->p, with their errors
** at fixed other parameters (sqrt(chi2_red / sum of weights); the
** baselines are nuisance parameters nobody reports) */
static int het_baselines(het_gctx *c, fit_result *r, const double *x,
			 size_t n, char *err)
{
	double *m0 = err_malloc(n + 1, sizeof(double), err);
	if (m0 == NULL)
		return -1;
	c->profile = 0;
	for (size_t k = 0; k < c->g->nb; k++)
		r->p[c->map[k * FIT_HET_NP + FIT_HET_B]] = 0;
	het_global_model(r->p, r->np, x, n, m0, NULL, c, err);
	c->profile = 1;
	for (size_t k = 0; k < c->g->nb; k++) {
		double sw;
		size_t s = c->map[k * FIT_HET_NP + FIT_HET_B];
		r->p[s] = het_offset(c, k, m0, &sw);
		r->err[s] = sw > 0 ? sqrt(r->chi2_red / sw) : NAN;
	}
	free(m0);
	return 0;
}

/* one fit from the start p (np values, overwritten): with a shared speed,
** first the other parameters at the start speed: from medians of per-bin
** fits, a free speed can slide into the h = 1 valley where the cross
** term, and so v, drops out */
static int het_global_solve(const hetero_global *g, const het_gctx *c,
			    fit_problem *pb, double *p, int *fixed,
			    fit_result *r, char *err)
{
	int fixed_ok = 0;
	pb->p0 = p;
	if (g->qc && !fixed[c->vidx]) {
		fixed[c->vidx] = 1;
		if (fit_run(pb, r, err) == 0) {
			fixed_ok = r->status == FIT_CONVERGED;
			for (size_t s = 0; s < pb->np; s++)
				if (isfinite(r->p[s]) && r->p[s] > pb->lower[s] &&
				    r->p[s] < pb->upper[s])
					p[s] = r->p[s];
			fit_result_free(r);
		}
		fixed[c->vidx] = 0;
	}
	if (fit_run(pb, r, err))
		return -1;
	het_global_dof(c, r);
	/* GSL stops with "maximum iterations" when no step of its first
	** iteration lowers chi2. After a converged fit at the start speed
	** that means the start is already the minimum with the speed free
	** too (recovery test, 180 A/s: the two speeds agree to 2e-6, and
	** with other rounding, e.g. under the sanitizers, the first step
	** is either a 1e-12 improvement or none) */
	if (fixed_ok && r->status == FIT_MAXITER && r->niter <= 1)
		r->status = FIT_CONVERGED;
	return 0;
}

/* do the shared values agree with the bins? Each resolved bin's own fit
** estimates every parameter that all bins share; the joint value x +/- e
** (e with the residuals' correlation, as reported) must lie inside their
** spread: |x - median| within HET_JUDGE_Z times
** sqrt(s^2 + e^2), s the bins' robust standard deviation (IQR / 1.349),
** when at least HET_JUDGE_MIN bins give one. s is the spread of single
** bins, not the error of their median (the per-bin fits fix the baseline
** and may be biased a little), and e enters because a per-bin fit with
** the baseline fixed can pin beta far tighter than the joint fit with a
** baseline per bin does; so the test only catches a joint fit in another
** minimum. Issue setup, 20 A/s, 12 seeds of 4 parameter sets: |x - med|
** <= 1.9 s when right, 5 s (beta) and 11 s (h) in the minimum at beta
** 0.047, h 0.50 for 0.1, 0.2. Returns NULL or why not. */
static const char *het_global_judge(const hetero_global *g,
				    het_gctx *c, const fit_problem *pb,
				    const fit_result *r, double *buf)
{
	static const char *const why[HET_NSHARE] = {NULL,
		"master-curve beta lies outside the spread of the bins' own "
		"fits (another minimum of the shared fit)",
		"master-curve h lies outside the spread of the bins' own fits "
		"(another minimum of the shared fit)",
		"master-curve tau0 lies outside the spread of the bins' own "
		"fits (another minimum of the shared fit)",
		"master-curve gamma lies outside the spread of the bins' own "
		"fits (another minimum of the shared fit)"};
	double rho = het_global_rho(c, pb->x, c->y, c->w, pb->n, r->p, pb->np);
	double infl = sqrt((1 + rho) / (1 - rho));
	for (int j = 1; j < HET_NSHARE; j++) {
		if (g->share[j] != 1 || g->fixed[j] || g->unjudged[j])
			continue;
		size_t nv = het_start_values(g, c, SIZE_MAX, j, 1, buf);
		if (nv < HET_JUDGE_MIN)
			continue;
		double med = num_median(buf, nv);	/* sorts buf */
		double iqr = buf[(3 * (nv - 1)) / 4] - buf[(nv - 1) / 4];
		double x = r->p[c->map[j]], e = r->err[c->map[j]] * infl;
		double sd = iqr / 1.349, e2 = isfinite(e) ? e * e : 0;
		if (fabs(x - med) > HET_JUDGE_Z * sqrt(sd * sd + e2))
			return why[j];
	}
	return NULL;
}

/* every free parameter constrained (finite, positive error)? A group's
** tau0 running off to 1e11 s has none */
static int het_global_finite(const fit_problem *pb, const fit_result *r)
{
	for (size_t s = 0; s < pb->np; s++)
		if (!pb->fixed[s] && !(r->err[s] > 0 && isfinite(r->err[s])))
			return 0;
	return 1;
}

/* the alternative starts, a = 0..HET_NALT-1: every group's slot at the
** median of all resolved bins (no group's own start), and with it h at
** 0.2, 0.5, 0.8 with beta such that the cross term's amplitude
** 2 beta h (1 - h), which the oscillation fixes, stays that of the
** start */
#define HET_NALT 4
static void het_global_alt(const hetero_global *g, const het_gctx *c,
			   size_t np, const double *p0, int a, double *p,
			   double *buf)
{
	memcpy(p, p0, sizeof(double) * np);
	for (int j = 1; j < HET_NSHARE; j++) {
		if (g->share[j] != 2)
			continue;
		size_t nv = het_start_values(g, c, SIZE_MAX, j, 1, buf);
		double m = num_median(buf, nv);
		for (size_t k = 0; k < g->nb && isfinite(m); k++)
			p[c->map[k * FIT_HET_NP + j]] = m;
	}
	if (a == 0 || g->share[FIT_HET_BETA] != 1 || g->share[FIT_HET_H] != 1 ||
	    g->fixed[FIT_HET_BETA] || g->fixed[FIT_HET_H])
		return;
	double b0 = p0[c->map[FIT_HET_BETA]], h0 = p0[c->map[FIT_HET_H]];
	double h = 0.2 + 0.3 * (a - 1), cross = b0 * h0 * (1 - h0);
	double beta = cross / (h * (1 - h));
	p[c->map[FIT_HET_H]] = h;
	p[c->map[FIT_HET_BETA]] = beta < HET_BETA_MAX ? beta :
		0.95 * HET_BETA_MAX;
}

/* the fit from the medians; if it did not converge, its shared values
** disagree with the bins or a parameter is unconstrained, a few
** deterministic other starts (het_global_alt), keeping the converged fit
** of lowest chi-square. *note: NULL, or why the kept fit's shared values
** are not to be trusted. */
static int het_global_multi(const hetero_global *g, het_gctx *c,
			    fit_problem *pb, const double *p0, int *fixed,
			    fit_result *r, const char **note, char *err)
{
	size_t np = pb->np;
	double *p = err_malloc(2 * np + g->nb + 1, sizeof(double), err);
	if (p == NULL)
		return -1;
	double *buf = p + np;
	memcpy(p, p0, sizeof(double) * np);
	if (het_global_solve(g, c, pb, p, fixed, r, err)) {
		free(p);
		return -1;
	}
	*note = het_global_judge(g, c, pb, r, buf);
	for (int a = 0; a < HET_NALT && (*note || r->status != FIT_CONVERGED ||
					 !het_global_finite(pb, r)); a++) {
		fit_result ra;
		char e2[ERR_LEN];
		het_global_alt(g, c, np, p0, a, p, buf);
		for (size_t s = 0; s < np; s++)
			p[s] = p[s] < pb->lower[s] ? pb->lower[s] :
			       p[s] > pb->upper[s] ? pb->upper[s] : p[s];
		if (het_global_solve(g, c, pb, p, fixed, &ra, e2))
			continue;
		int conv = ra.status == FIT_CONVERGED, conv0 = r->status == FIT_CONVERGED;
		if ((conv && !conv0) || (conv == conv0 && ra.chi2 < r->chi2)) {
			fit_result_free(r);
			*r = ra;
			*note = het_global_judge(g, c, pb, r, buf);
		} else {
			fit_result_free(&ra);
		}
	}
	pb->p0 = p0;
	free(p);
	return 0;
}

/* bin k's verdict in the global fit r: its parameters' slots, those of
** het_verdict (a shared h on a bound is no failure), and the speed */
static fit_verdict het_global_verdict(const het_gctx *c, const fit_result *r,
				      size_t k)
{
	int counts[FIT_HET_NP] = {1, 1, 0, 1, 1, 1};
	fit_verdict v = fit_judge(r, NULL);
	if (v != FIT_AT_BOUND)
		return v;
	for (int j = 0; j < FIT_HET_NP; j++) {
		size_t s = c->g->qc && j == FIT_HET_OMEGA ? c->vidx :
			c->map[k * FIT_HET_NP + j];
		if (counts[j] && r->at_bound[s])
			return FIT_AT_BOUND;
	}
	fit_result q = *r;	/* none of its own: judged without bounds */
	q.np = 0;
	return fit_judge(&q, NULL);
}

int hetero_fit_global(const hetero_global *g, hetero_result *out, double *v,
		      double *v_err, double *chi2_red, char *err)
{
	het_gctx c = {.g = g, .vs = 1};
	double *x = NULL, *y = NULL, *w = NULL, *p0 = NULL, *lo = NULL, *hi = NULL;
	int *fixed = NULL, ng = 0, rc = -1;
	size_t np = 0, n = 0;
	fit_result r;
	const char *note = NULL;
	if (g->nb == 0)
		return err_set(err, "no bins");
	c.off = err_calloc(g->nb + 1, sizeof(size_t), err);
	c.map = c.off ? err_calloc(g->nb * FIT_HET_NP, sizeof(size_t), err) : NULL;
	if (c.map == NULL || het_layout(g, &c, &np, &ng, err))
		goto done;
	p0 = err_calloc(np, sizeof(double), err);
	lo = p0 ? err_calloc(np, sizeof(double), err) : NULL;
	hi = lo ? err_calloc(np, sizeof(double), err) : NULL;
	fixed = hi ? err_calloc(np, sizeof(int), err) : NULL;
	if (fixed == NULL || het_global_start(g, &c, np, p0, fixed, err) ||
	    het_global_bounds(g, &c, np, lo, hi) ||
	    het_global_data(g, &c, &x, &y, &w, &n, err))
		goto done;
	c.y = y;
	c.w = w;
	c.profile = g->share[FIT_HET_B] == 0 && !g->fixed[FIT_HET_B];
	for (size_t k = 0; c.profile && k < g->nb; k++) {
		fixed[c.map[k * FIT_HET_NP + FIT_HET_B]] = 1;	/* het_profile */
		p0[c.map[k * FIT_HET_NP + FIT_HET_B]] = 0;
	}
	for (size_t s = 0; s < np; s++) {
		if (!isfinite(p0[s])) {
			err_set(err, "global fit: no start for parameter %zu", s + 1);
			goto done;
		}
		if (p0[s] < lo[s]) p0[s] = lo[s];
		if (p0[s] > hi[s]) p0[s] = hi[s];
	}
	fit_problem pb = {.model = het_global_model, .ctx = &c, .np = np,
		.n = n, .x = x, .y = y, .weights = w, .p0 = p0, .lower = lo,
		.upper = hi, .fixed = fixed, .max_iter = 300, .scale_errors = 1};
	if (het_global_multi(g, &c, &pb, p0, fixed, &r, &note, err)) {
		err_prefix(err, "global fit");
		goto done;
	}
	double rho = het_global_rho(&c, x, y, w, n, r.p, np);
	double infl = sqrt((1 + rho) / (1 - rho));
	if (c.profile && het_baselines(&c, &r, x, n, err))
		goto done;
	for (size_t s = 0; s < np; s++)
		r.err[s] *= infl;
	for (size_t k = 0; k < g->nb; k++) {
		hetero_result *o = &out[k];
		memset(o, 0, sizeof *o);
		for (int j = 0; j < FIT_HET_NP; j++) {
			o->p[j] = r.p[c.map[k * FIT_HET_NP + j]];
			o->err[j] = r.err[c.map[k * FIT_HET_NP + j]];
		}
		if (g->qc) {
			o->p[FIT_HET_OMEGA] = r.p[c.vidx] * c.vs * fabs(g->qc[k]);
			o->err[FIT_HET_OMEGA] = r.err[c.vidx] * c.vs * fabs(g->qc[k]);
		}
		o->rho = rho;
		o->chi2_red = r.chi2_red;
		o->status = r.status;
		o->verdict = het_global_verdict(&c, &r, k);
		o->chi2_q = r.chi2_q;
		o->runs_z = r.runs_z;
		o->n = c.off[k + 1] - c.off[k];
		o->resolved = g->start[k].resolved;
		o->reason = g->start[k].reason;
	}
	if (v) *v = g->qc ? r.p[c.vidx] * c.vs : NAN;
	if (v_err) *v_err = g->qc ? r.err[c.vidx] * c.vs : NAN;
	if (chi2_red) *chi2_red = r.chi2_red;
	if (g->status) *g->status = r.status;
	if (g->note) *g->note = note;
	fit_result_free(&r);
	rc = 0;
done:
	free(c.off); free(c.map); free(x); free(y); free(w);
	free(p0); free(lo); free(hi); free(fixed);
	return rc;
}

/* ---- velocity ---- */

/* weighted zero-intercept line y = s x for weights w (1/sigma^2) plus an
** extra variance t2 common to all points */
static double het_line0_at(const double *x, const double *y, const double *w,
			   size_t n, double t2, double *s, double *sxx_out)
{
	double sxx = 0, sxy = 0, chi = 0;
	for (size_t i = 0; i < n; i++) {
		double wi = 1 / (1 / w[i] + t2);
		sxx += wi * x[i] * x[i];
		sxy += wi * x[i] * y[i];
	}
	*s = sxy / sxx;
	*sxx_out = sxx;
	for (size_t i = 0; i < n; i++) {
		double wi = 1 / (1 / w[i] + t2);
		chi += wi * (y[i] - *s * x[i]) * (y[i] - *s * x[i]);
	}
	return chi;
}

/* weighted zero-intercept line y = s x: slope, error and chi2_red. When
** the points scatter more than their errors allow (chi2_red > 1), an
** extra variance common to all points is added until chi2_red = 1 (a
** random-effects fit): bins whose tiny errors are too optimistic then no
** longer dominate, and the error of s is honest. chi2r is the reduced
** chi-square before that correction. */
static int het_line0(const double *x, const double *y, const double *w,
		     size_t n, double *s, double *se, double *chi2r)
{
	double sxx, lo = 0, hi, chi;
	if (n == 0)
		return -1;
	chi = het_line0_at(x, y, w, n, 0, s, &sxx);
	if (!(sxx > 0))
		return -1;
	*chi2r = n > 1 ? chi / (double)(n - 1) : NAN;
	*se = sqrt(1 / sxx);
	if (n < 3 || !(*chi2r > 1))
		return 0;
	double wmax = 0;
	for (size_t i = 0; i < n; i++)
		if (1 / w[i] > wmax)
			wmax = 1 / w[i];
	hi = wmax;
	while (het_line0_at(x, y, w, n, hi, s, &sxx) > (double)(n - 1) && hi < 1e300)
		hi *= 4;
	for (int it = 0; it < 100; it++) {
		double mid = (lo + hi) / 2;
		if (het_line0_at(x, y, w, n, mid, s, &sxx) > (double)(n - 1))
			lo = mid;
		else
			hi = mid;
	}
	het_line0_at(x, y, w, n, hi, s, &sxx);
	*se = sqrt(1 / sxx);
	return 0;
}

/* weighted line y = a + s x: slope, intercept and their errors (scaled by
** sqrt(chi2_red) when above 1) */
static int het_line(const double *x, const double *y, const double *w,
		    size_t n, double *a, double *ae, double *s, double *se)
{
	double S = 0, Sx = 0, Sy = 0, Sxx = 0, Sxy = 0, chi = 0;
	for (size_t i = 0; i < n; i++) {
		S += w[i]; Sx += w[i] * x[i]; Sy += w[i] * y[i];
		Sxx += w[i] * x[i] * x[i]; Sxy += w[i] * x[i] * y[i];
	}
	double D = S * Sxx - Sx * Sx;
	if (n < 3 || !(D > 0))
		return -1;
	*s = (S * Sxy - Sx * Sy) / D;
	*a = (Sxx * Sy - Sx * Sxy) / D;
	for (size_t i = 0; i < n; i++) {
		double r = y[i] - *a - *s * x[i];
		chi += w[i] * r * r;
	}
	double sc = chi / (n - 2) > 1 ? sqrt(chi / (n - 2)) : 1;
	*se = sqrt(S / D) * sc;
	*ae = sqrt(Sxx / D) * sc;
	return 0;
}

/* omega_k = |v (qx_k cos a + qy_k sin a)|: speed and angle together */
typedef struct het_vctx {
	const hetero_bins *b;
	const size_t *use;
} het_vctx;

static int het_vmodel(const double *p, size_t np, const double *x, size_t n,
		      double *y, double *J, void *ctx, char *err)
{
	het_vctx *c = ctx;
	(void)x; (void)err;
	for (size_t i = 0; i < n; i++) {
		size_t k = c->use[i];
		double ca = cos(p[1]), sa = sin(p[1]);
		double proj = c->b->qx[k] * ca + c->b->qy[k] * sa;
		double sg = proj < 0 ? -1 : 1;
		y[i] = p[0] * fabs(proj);
		if (J) {
			J[i * np] = fabs(proj);
			J[i * np + 1] = p[0] * sg * (-c->b->qx[k] * sa + c->b->qy[k] * ca);
		}
	}
	return 0;
}

static int het_fit_angle(const hetero_bins *b, const size_t *use, size_t nu,
			 double v0, double a0, hetero_velocity *out, char *err)
{
	het_vctx c = {b, use};
	double *y = err_malloc(nu, sizeof(double), err);
	double *w = y ? err_malloc(nu, sizeof(double), err) : NULL;
	double p0[2] = {v0, a0}, lo[2] = {0, a0 - M_PI / 2};
	double hi[2] = {INFINITY, a0 + M_PI / 2};
	fit_result r;
	int rc = -1;
	if (w == NULL)
		goto done;
	for (size_t i = 0; i < nu; i++) {
		y[i] = b->omega[use[i]];
		w[i] = 1 / (b->omega_err[use[i]] * b->omega_err[use[i]]);
	}
	fit_problem pb = {.model = het_vmodel, .ctx = &c, .np = 2, .n = nu,
		.x = y, .y = y, .weights = w, .p0 = p0, .lower = lo, .upper = hi,
		.scale_errors = 0};
	if (fit_run(&pb, &r, err)) {
		err_prefix(err, "flow angle fit");
		goto done;
	}
	double sc = r.chi2_red > 1 ? sqrt(r.chi2_red) : 1;
	out->v = r.p[0];
	out->v_err = r.err[0] * sc;
	out->flow_angle = remainder(r.p[1], M_PI);	/* alpha ~ alpha + pi */
	out->flow_angle_err = r.err[1] * sc;
	out->chi2_red = r.chi2_red;
	fit_result_free(&r);
	rc = 0;
done:
	free(y);
	free(w);
	return rc;
}

static int het_check_bins(const hetero_bins *b, char *err)
{
	if (b->nb == 0)
		return err_set(err, "no bins");
	if (!b->omega || !b->omega_err || !b->resolved || !b->ring || !b->q ||
	    !b->qx || !b->qy)
		return err_set(err, "omega, omega_err, resolved, ring, q, qx and "
			       "qy are all needed");
	for (size_t k = 0; k < b->nb; k++)
		if (b->ring[k] < 0 || b->ring[k] >= HETERO_MAXRING)
			return err_set(err, "ring of bin %zu must be 1..%d", k + 1,
				       HETERO_MAXRING);
	return 0;
}

/* per ring: omega versus <q cos chi> and versus |cos chi| */
static void het_rings(const hetero_bins *b, double ca, double sa,
		      const int *ok, double *xs, double *ys, double *ws,
		      hetero_velocity *out)
{
	int maxr = -1;
	for (size_t k = 0; k < b->nb; k++)
		if (b->ring[k] > maxr)
			maxr = b->ring[k];
	out->nrings = (size_t)(maxr + 1);
	for (int rg = 0; rg <= maxr; rg++) {
		hetero_ring *R = &out->ring[rg];
		size_t m = 0, nq = 0;
		double qs = 0, s, se, chi;
		memset(R, 0, sizeof *R);
		R->v = R->v_err = R->qv = R->qv_err = R->chi2_red = NAN;
		for (size_t k = 0; k < b->nb; k++) {
			if (b->ring[k] != rg)
				continue;
			if (isfinite(b->q[k])) {	/* empty bins have NaN q */
				qs += b->q[k];
				nq++;
			}
			if (!ok[k])
				continue;
			xs[m] = fabs(b->qx[k] * ca + b->qy[k] * sa);
			ys[m] = b->omega[k];
			ws[m] = 1 / (b->omega_err[k] * b->omega_err[k]);
			m++;
		}
		R->q = nq ? qs / nq : NAN;
		R->nused = m;
		R->verdict = FIT_NO_DATA;
		if (m < 2 || het_line0(xs, ys, ws, m, &s, &se, &chi))
			continue;
		R->verdict = FIT_OK;
		R->v = s;
		R->v_err = se;
		R->chi2_red = chi;
		/* the same line against |cos chi|: slope q v at the ring's q */
		R->qv = s * R->q;
		R->qv_err = se * R->q;
	}
}

/* omega(q) of the rings (zero intercept) and the spread between rings */
static void het_across_rings(hetero_velocity *out, double *xs, double *ys,
			     double *ws)
{
	size_t m = 0;
	double s, se, chi, mean = 0, var = 0;
	for (size_t r = 0; r < out->nrings; r++) {
		hetero_ring *R = &out->ring[r];
		if (!isfinite(R->qv) || !(R->qv_err > 0))
			continue;
		xs[m] = R->q;
		ys[m] = R->qv;
		ws[m] = 1 / (R->qv_err * R->qv_err);
		m++;
		mean += R->v;
	}
	out->v_q = out->v_q_err = out->v_rings = out->v_rings_err = NAN;
	if (m >= 1 && het_line0(xs, ys, ws, m, &s, &se, &chi) == 0) {
		out->v_q = s;
		out->v_q_err = se;
	}
	if (m >= 1)
		out->v_rings = mean / m;
	if (m >= 2) {
		for (size_t r = 0; r < out->nrings; r++)
			if (isfinite(out->ring[r].qv) && out->ring[r].qv_err > 0)
				var += (out->ring[r].v - out->v_rings) *
				       (out->ring[r].v - out->v_rings);
		out->v_rings_err = sqrt(var / (m - 1) / m);
	}
}

/* the bins that enter the velocity: resolved, fitted ok, finite, away from
** chi = 90 degrees. A sector that straddles chi = 90 holds pixels with
** omega of both signs; cos is even, so its g2 oscillates at about the
** mean of |q cos chi| while its mean q cos chi is near zero. */
static size_t het_select(const hetero_bins *b, double alpha, int *ok,
			 size_t *use)
{
	double ca = cos(alpha), sa = sin(alpha);
	double mc = b->min_cos > 0 ? b->min_cos : HET_MIN_COS;
	size_t nu = 0;
	for (size_t k = 0; k < b->nb; k++) {
		double qc = fabs(b->qx[k] * ca + b->qy[k] * sa);
		ok[k] = b->resolved[k] && isfinite(b->omega[k]) &&
			(!b->verdict || b->verdict[k] == FIT_OK) &&
			b->omega_err[k] > 0 && isfinite(b->omega_err[k]) &&
			isfinite(qc) && qc >= mc * b->q[k];
		if (ok[k])
			use[nu++] = k;
	}
	return nu;
}

/* omega = v |<q cos chi>| with zero intercept at angle alpha, and the
** line with a free intercept whose slope must be significant (Eq. 2 says
** omega grows from zero with |q cos chi|; cosines fitted to noise when
** there is no flow give omegas that do not) */
static int het_speed(const hetero_bins *b, const size_t *use, size_t nu,
		     double alpha, double *xs, double *ys, double *ws,
		     hetero_velocity *out)
{
	double ca = cos(alpha), sa = sin(alpha), s, se, chi, ia, iae, is, ise;
	for (size_t i = 0; i < nu; i++) {
		size_t k = use[i];
		xs[i] = fabs(b->qx[k] * ca + b->qy[k] * sa);
		ys[i] = b->omega[k];
		ws[i] = 1 / (b->omega_err[k] * b->omega_err[k]);
	}
	if (het_line0(xs, ys, ws, nu, &s, &se, &chi))
		return -1;
	out->v = s;
	out->v_err = se;
	out->chi2_red = chi;
	out->slope_z = out->intercept_z = NAN;
	if (het_line(xs, ys, ws, nu, &ia, &iae, &is, &ise) == 0) {
		out->slope_z = is / ise;
		out->intercept_z = ia / iae;
	}
	out->resolved = out->slope_z >= HET_SLOPE_Z;
	out->reason = out->resolved ? "resolved" : "omega does not grow with "
		"|q cos chi| (slope below 5 standard errors): no resolvable flow";
	return 0;
}

/* robust clean-up: bins whose omega is more than 5 robust standard
** deviations (1.4826 x the median absolute normalised residual, at least
** 1) off the line are dropped; a spurious per-bin fit (a cosine through
** noise) would otherwise pull the speed */
static size_t het_reject(const size_t *use0, size_t nu, const double *xs,
			 const double *ys, const double *ws, double v, int *ok,
			 size_t *use)
{
	double *z = malloc(sizeof(double) * nu), *az = malloc(sizeof(double) * nu);
	size_t m = 0;
	if (z == NULL || az == NULL) {
		free(z);
		free(az);
		return nu;
	}
	for (size_t i = 0; i < nu; i++) {
		z[i] = (ys[i] - v * xs[i]) * sqrt(ws[i]);
		az[i] = fabs(z[i]);
	}
	double mad = num_median(az, nu) * 1.4826;
	double lim = 5 * (mad > 1 ? mad : 1);
	size_t *tmp = malloc(sizeof(size_t) * nu);
	if (tmp == NULL) {
		free(z);
		free(az);
		return nu;
	}
	for (size_t i = 0; i < nu; i++) {
		if (fabs(z[i]) > lim)
			ok[use0[i]] = 0;
		else
			tmp[m++] = use0[i];
	}
	memcpy(use, tmp, sizeof(size_t) * m);
	free(tmp);
	free(z);
	free(az);
	return m;
}

int hetero_velocity_fit(const hetero_bins *b, double flow_angle,
			int fit_angle, hetero_velocity *out, char *err)
{
	int *ok = NULL, rc = -1;
	size_t *use = NULL, nu = 0;
	double *xs = NULL, *ys = NULL, *ws = NULL;
	memset(out, 0, sizeof *out);
	if (het_check_bins(b, err) || !isfinite(flow_angle))
		return isfinite(flow_angle) ? -1 :
			err_set(err, "flow_angle must be finite");
	ok = err_calloc(b->nb, sizeof(int), err);
	use = ok ? err_calloc(b->nb, sizeof(size_t), err) : NULL;
	xs = use ? err_calloc(b->nb, sizeof(double), err) : NULL;
	ys = xs ? err_calloc(b->nb, sizeof(double), err) : NULL;
	ws = ys ? err_calloc(b->nb, sizeof(double), err) : NULL;
	if (ws == NULL)
		goto done;
	double alpha = flow_angle;
	/* with a fitted angle the selection depends on it: select, fit,
	** select again at the fitted angle and refit */
	for (int pass = 0; pass < (fit_angle ? 2 : 1); pass++) {
		nu = het_select(b, alpha, ok, use);
		out->nused = nu;
		if (nu < 3) {	/* not an error: a result that says why */
			out->resolved = 0;
			out->reason = "fewer than 3 bins with a resolved omega "
				"and an ok fit away from chi = 90 degrees";
			out->flow_angle = alpha;
			out->slope_z = out->intercept_z = NAN;
			break;
		}
		if (het_speed(b, use, nu, alpha, xs, ys, ws, out)) {
			err_set(err, "the resolved bins all lie at chi = 90 degrees");
			goto done;
		}
		size_t nk = het_reject(use, nu, xs, ys, ws, out->v, ok, use);
		out->nrejected = nu - nk;
		if (nk < nu && nk >= 3) {
			nu = nk;
			out->nused = nu;
			het_speed(b, use, nu, alpha, xs, ys, ws, out);
		}
		out->flow_angle = alpha;
		if (fit_angle) {
			if (het_fit_angle(b, use, nu, out->v, alpha, out, err))
				goto done;
			alpha = out->flow_angle;
		}
	}
	het_rings(b, cos(alpha), sin(alpha), ok, xs, ys, ws, out);
	het_across_rings(out, xs, ys, ws);
	if (!out->resolved)	/* no number where there is no flow */
		out->v = out->v_err = out->v_q = out->v_q_err = out->v_rings =
			out->v_rings_err = NAN;
	rc = 0;
done:
	free(ok); free(use); free(xs); free(ys); free(ws);
	return rc;
}


/* ---- the master-curve fit and its inputs ---- */

typedef struct het_rw {
	double r, w;
} het_rw;

static int het_cmp_rw(const void *a, const void *b)
{
	double x = ((const het_rw *)a)->r, y = ((const het_rw *)b)->r;
	return x < y ? -1 : x > y;
}

/* K groups of about equal weight from n sorted (r, w) pairs */
static size_t het_group(const het_rw *v, size_t n, double *R, double *W)
{
	double tot = 0;
	for (size_t j = 0; j < n; j++)
		tot += v[j].w;
	size_t K = n < HETERO_NODES ? n : HETERO_NODES, g = 0;
	if (!(tot > 0))
		return 0;
	double cum = 0, sw = 0, swr = 0;
	for (size_t j = 0; j < n; j++) {
		sw += v[j].w;
		swr += v[j].w * v[j].r;
		cum += v[j].w;
		if (cum >= tot * (double)(g + 1) / (double)K * (1 - 1e-12) ||
		    j == n - 1) {
			if (sw > 0) {
				R[g] = swr / sw;
				W[g] = sw / tot;
				g++;
			}
			sw = swr = 0;
			if (g == K)
				break;
		}
	}
	return g;
}

/* the pixels of the bins, in bin order: of[i]..of[i + 1] are bin i's in
** v (ratio still q cos chi) and perm (their pixel indices) */
typedef struct het_pixbins {
	size_t *of, *perm;
	het_rw *v;
} het_pixbins;

static void het_pixbins_free(het_pixbins *s)
{
	free(s->of);
	free(s->perm);
	free(s->v);
}

/* entry i of a list of bins, NULL: the identity */
#define HET_USE(use, i) ((use) ? (use)[i] : (i))

/* slot[b] = i for bin number b = use[i] + 1, -1 for the others */
static int *het_bin_slots(const size_t *use, size_t mb, size_t *maxbin,
			  char *err)
{
	*maxbin = 0;
	for (size_t i = 0; i < mb; i++)
		if (HET_USE(use, i) + 1 > *maxbin)
			*maxbin = HET_USE(use, i) + 1;
	int *bs = err_malloc(*maxbin + 1, sizeof(int), err);
	if (bs == NULL)
		return NULL;
	for (size_t k = 0; k <= *maxbin; k++)
		bs[k] = -1;
	for (size_t i = 0; i < mb; i++)
		bs[HET_USE(use, i) + 1] = (int)i;
	return bs;
}

static int het_pixbins_make(const hetero_pixels *px, const size_t *use,
			    size_t mb, double ca, double sa, het_pixbins *s,
			    char *err)
{
	size_t maxbin;
	memset(s, 0, sizeof *s);
	int *bs = het_bin_slots(use, mb, &maxbin, err);
	s->of = bs ? err_calloc(mb + 1, sizeof(size_t), err) : NULL;
	if (s->of == NULL) {
		free(bs);
		return -1;
	}
	for (size_t p = 0; p < px->npix; p++) {
		double bv = px->bin[p];
		if (bv >= 1 && bv <= (double)maxbin && bs[(size_t)bv] >= 0)
			s->of[bs[(size_t)bv] + 1]++;
	}
	for (size_t i = 0; i < mb; i++)
		s->of[i + 1] += s->of[i];
	size_t *fill = err_malloc(mb + 1, sizeof(size_t), err);
	s->v = fill ? err_malloc(s->of[mb] + 1, sizeof(het_rw), err) : NULL;
	s->perm = s->v ? err_malloc(s->of[mb] + 1, sizeof(size_t), err) : NULL;
	if (s->perm == NULL) {
		free(bs);
		free(fill);
		het_pixbins_free(s);
		return -1;
	}
	memcpy(fill, s->of, sizeof(size_t) * (mb + 1));
	for (size_t p = 0; p < px->npix; p++) {
		double bv = px->bin[p], w = px->w ? px->w[p] : 1;
		if (!(bv >= 1 && bv <= (double)maxbin) || bs[(size_t)bv] < 0)
			continue;
		size_t i = (size_t)bs[(size_t)bv];
		double x = px->qx[p] * ca + px->qy[p] * sa;
		s->perm[fill[i]] = p;
		s->v[fill[i]].r = isfinite(x) ? x : 0;
		s->v[fill[i]++].w = isfinite(x) && w > 0 && isfinite(w) ? w : 0;
	}
	free(bs);
	free(fill);
	return 0;
}

int hetero_nodes(const hetero_pixels *px, const size_t *use, size_t mb,
		 double alpha, double *qc, size_t *nn, const double **nr,
		 const double **nw, double *nodes, char *err)
{
	het_pixbins s;
	if (het_pixbins_make(px, use, mb, cos(alpha), sin(alpha), &s, err))
		return -1;
	for (size_t i = 0; i < mb; i++) {
		size_t cnt = s.of[i + 1] - s.of[i];
		het_rw *vi = s.v + s.of[i];
		double *R = nodes + 2 * HETERO_NODES * i, *W = R + HETERO_NODES;
		double sw = 0, swx = 0, swq = 0;
		for (size_t j = 0; j < cnt; j++) {
			size_t pj = s.perm[s.of[i] + j];
			sw += vi[j].w;
			swx += vi[j].w * vi[j].r;
			swq += vi[j].w * hypot(px->qx[pj], px->qy[pj]);
		}
		qc[i] = sw > 0 ? swx / sw : NAN;
		/* a sector near chi = 90 degrees holds omegas of both signs:
		** its omega is not v <q cos chi> (hetero_bins), and it keeps
		** the envelope of its spread */
		if (!(fabs(qc[i]) >= HET_MIN_COS * swq / sw))
			qc[i] = NAN;
		nn[i] = 0;
		nr[i] = R;
		nw[i] = W;
		if (!(isfinite(qc[i]) && qc[i] != 0))
			continue;
		for (size_t j = 0; j < cnt; j++)
			vi[j].r /= qc[i];
		qsort(vi, cnt, sizeof *vi, het_cmp_rw);
		nn[i] = het_group(vi, cnt, R, W);
	}
	het_pixbins_free(&s);
	return 0;
}

int hetero_fit_global_aps(const hetero_global *g0, const double *tau,
			  const double *g2, const double *g2err, size_t n,
			  size_t ld, const size_t *use, double srel,
			  hetero_result *out, double *v, double *v_err,
			  double *chi2_red, char *err)
{
	hetero_global g = *g0;
	size_t nb = g.nb;
	double *cols = err_malloc(2 * n * nb + 1, sizeof(double), err);
	const double **tp = cols ? err_malloc(3 * nb + 1, sizeof(double *),
					      err) : NULL;
	size_t *ns = tp ? err_malloc(nb + 1, sizeof(size_t), err) : NULL;
	double *sr = ns && !g.srel && srel > 0 ?
		err_malloc(nb, sizeof(double), err) : NULL;
	int rc = -1;
	if (ns == NULL || (!g.srel && srel > 0 && sr == NULL))
		goto done;
	for (size_t k = 0; k < nb; k++) {
		size_t c = use ? use[k] : k;
		for (size_t i = 0; i < n; i++) {
			cols[k * n + i] = g2[i * ld + c];
			cols[(nb + k) * n + i] = g2err ? g2err[i * ld + c] : 1;
		}
		tp[k] = tau;
		tp[nb + k] = cols + k * n;
		tp[2 * nb + k] = cols + (nb + k) * n;
		ns[k] = n;
		if (sr)
			sr[k] = srel;
	}
	g.tau = tp;
	g.g2 = tp + nb;
	g.g2err = g2err ? tp + 2 * nb : NULL;
	g.n = ns;
	if (sr)
		g.srel = sr;
	rc = hetero_fit_global(&g, out, v, v_err, chi2_red, err);
done:
	free(cols);
	free(tp);
	free(ns);
	free(sr);
	return rc;
}

/* the master-curve bins: a per-bin fit ran (finite start) and the bin
** is away from chi = 90 degrees (|<q cos chi>| >= min_cos <q>, as for
** the velocity: a sector straddling 90 degrees oscillates at <|q cos
** chi|> v, not at |<q cos chi>| v). Rings are renumbered 0.. over the
** rings that keep a bin (grp), so that every tau0 has data. */
static size_t het_master_bins(const hetero_bins *b, double alpha,
			      const hetero_result *start, size_t *use,
			      int *grp)
{
	double mc = b->min_cos > 0 ? b->min_cos : HET_MIN_COS;
	int map[HETERO_MAXRING], ng = 0;
	size_t m = 0;
	for (int r = 0; r < HETERO_MAXRING; r++)
		map[r] = -1;
	for (size_t k = 0; k < b->nb; k++) {
		double qc = b->qx[k] * cos(alpha) + b->qy[k] * sin(alpha);
		if (!isfinite(qc) || !isfinite(b->q[k]) ||
		    fabs(qc) < mc * b->q[k] ||
		    !isfinite(start[k].p[FIT_HET_BETA]))
			continue;
		if (map[b->ring[k]] < 0)
			map[b->ring[k]] = ng++;
		grp[m] = map[b->ring[k]];
		use[m++] = k;
	}
	return m;
}

/* The symmetric normalisation by the past and future means of the T -
** tau frames of a pair biases g2 low by about the relative variance of
** those means, which grows as 1 / (T - tau): a per-bin baseline absorbs
** the constant part, the rest bends the tail down (multi-tau's last delay
** is 1/2 to 1 of the measurement T). On simulated 100 s runs with tau0 =
** 10 s it shortened tau0 by ~4 % (beta ~1 % low), several of their now
** correct errors (recovery test: z rms 1.49, max 3.2 with all delays;
** 1.26, 2.9 without the last half; 1.15 without the last two thirds, but
** then a flow near one period in the delay range loses the oscillation),
** hence half. */
double hetero_master_taumax(const double *tau, size_t n, const double *g2,
			    size_t nb, const size_t *use, size_t mb)
{
	double last = 0;
	for (size_t t = 0; t < n; t++)
		for (size_t i = 0; i < mb; i++)
			if (isfinite(g2[t * nb + use[i]]) && tau[t] > last)
				last = tau[t];
	return last / 2;
}

/* the relative spread sd(q cos chi) / |<q cos chi>| of bin k from its
** second moments (0 without them) */
static double het_master_srel(const hetero_master *m, size_t k, double qc)
{
	const hetero_bins *b = m->b;
	double ca = cos(m->alpha), sa = sin(m->alpha);
	if (!m->qxx || !m->qyy || !m->qxy)
		return 0;
	double vq = ca * ca * (m->qxx[k] - b->qx[k] * b->qx[k]) +
		    sa * sa * (m->qyy[k] - b->qy[k] * b->qy[k]) +
		    2 * ca * sa * (m->qxy[k] - b->qx[k] * b->qy[k]);
	return vq > 0 ? sqrt(vq) / fabs(qc) : 0;
}

/* the working arrays of the master fit, mb + 1 of each */
typedef struct het_mwork {
	int *grp;
	double *qc, *srel, *nodes;
	hetero_result *st;
	size_t *nn;
	const double **nr;
} het_mwork;

static void het_mwork_free(het_mwork *w)
{
	free(w->grp); free(w->qc); free(w->srel); free(w->nodes);
	free(w->st); free(w->nn); free(w->nr);
}

static int het_mwork_make(het_mwork *w, size_t nb, char *err)
{
	memset(w, 0, sizeof *w);
	w->grp = err_malloc(nb + 1, sizeof(int), err);
	w->qc = w->grp ? err_malloc(nb + 1, sizeof(double), err) : NULL;
	w->srel = w->qc ? err_malloc(nb + 1, sizeof(double), err) : NULL;
	w->nodes = w->srel ? err_malloc(2 * HETERO_NODES * nb + 1,
					sizeof(double), err) : NULL;
	w->st = w->nodes ? err_malloc(nb + 1, sizeof(hetero_result), err) : NULL;
	w->nn = w->st ? err_calloc(nb + 1, sizeof(size_t), err) : NULL;
	w->nr = w->nn ? err_malloc(2 * (nb + 1), sizeof(double *), err) : NULL;
	if (w->nr != NULL)
		return 0;
	het_mwork_free(w);
	return -1;
}

/* the bins' pixels as nodes; a bin whose pixels put it across chi = 90
** degrees keeps the moments' mean and no nodes */
static int het_master_nodes(const hetero_master *m, const size_t *use,
			    size_t mb, het_mwork *w, char *err)
{
	double *qc = err_malloc(mb + 1, sizeof(double), err);
	const double **nw = w->nr + mb + 1;
	if (qc == NULL || hetero_nodes(m->px, use, mb, m->alpha, qc, w->nn,
				       w->nr, nw, w->nodes, err)) {
		free(qc);
		return -1;
	}
	for (size_t i = 0; i < mb; i++) {
		if (isfinite(qc[i]))
			w->qc[i] = qc[i];
		else
			w->nn[i] = 0;
	}
	free(qc);
	return 0;
}

/* the shared fit's verdict: the worst over its bins (each bin's counts
** its own tau0 and baseline, and the shared beta, gamma and speed) */
static int het_master_verdict(const hetero_result *out, size_t mb)
{
	static const int rank[] = {[FIT_OK] = 0, [FIT_POOR] = 1,
		[FIT_AT_BOUND] = 2, [FIT_NO_DATA] = 3, [FIT_NOT_CONVERGED] = 4};
	int v = FIT_OK;
	for (size_t i = 0; i < mb; i++)
		if (rank[out[i].verdict] > rank[v])
			v = out[i].verdict;
	return v;
}

/* beta and h separated by the data (each above HET_SEPARATE_Z standard
** errors)? If not, the numbers with their errors say so, and the warning
** in words: the cross term fixes beta h (1 - h), the homodyne term beta
** h^2 is too weak to split it (a flat valley of the shared fit) */
#define HET_SEPARATE_Z 3
static const char *het_master_separated(const hetero_result *o)
{
	if (o->err[FIT_HET_BETA] < o->p[FIT_HET_BETA] / HET_SEPARATE_Z &&
	    o->err[FIT_HET_H] < o->p[FIT_HET_H] / HET_SEPARATE_Z)
		return NULL;
	return "beta and h are not separated by these data (one of them "
	       "below 3 standard errors): the cross term fixes beta h "
	       "(1 - h), the homodyne term beta h^2 is too weak to split it";
}

/* A baseline per bin (fit_baseline): the constant term beta (1-h)^2 is
** the contrast of the static speckle, which a bin samples once over its
** few pixels (an error common to all delays), and the symmetric
** normalisation by static-bin means lowers it by about 1/pixels of a
** static bin; the free baseline absorbs both, so that beta and h come
** from the decaying terms, which all bins share. */
int hetero_master_fit(const hetero_master *m, hetero_master_result *r,
		      char *err)
{
	const hetero_bins *b = m->b;
	het_mwork w;
	int status = FIT_MAXITER, fb = m->fit_baseline;
	const char *note = NULL;
	char ferr[ERR_LEN];
	r->nbins = 0;
	r->v = r->v_err = r->chi2_red = r->rho = NAN;
	r->why = r->warning = NULL;
	r->verdict = FIT_NO_DATA;
	if (het_check_bins(b, err) || het_mwork_make(&w, b->nb, err))
		return -1;
	size_t mb = het_master_bins(b, m->alpha, m->start, r->bin, w.grp);
	double ca = cos(m->alpha), sa = sin(m->alpha);
	for (size_t i = 0; i < mb; i++) {
		size_t k = r->bin[i];
		w.qc[i] = b->qx[k] * ca + b->qy[k] * sa;
		w.srel[i] = het_master_srel(m, k, w.qc[i]);
		w.st[i] = m->start[k];
	}
	if (m->px && m->px->npix && het_master_nodes(m, r->bin, mb, &w, err)) {
		het_mwork_free(&w);
		return -1;
	}
	hetero_global hg = {.mt = m->mt, .nb = mb,
		.share = {fb ? 0 : 1, 1, 1, 2, 1}, .fixed = {!fb, 0, 0, 0, 0, 0},
		.group = w.grp, .qc = w.qc, .start = w.st, .v0 = m->v_ref,
		.status = &status, .note = &note,
		.srel = m->qxx ? w.srel : NULL,
		.nnodes = m->px && m->px->npix ? w.nn : NULL,
		.node_r = w.nr, .node_w = w.nr + mb + 1};
	hg.tau_max = m->tau_max >= 0 ? m->tau_max :
		hetero_master_taumax(m->tau, m->n, m->g2, b->nb, r->bin, mb);
	/* near the resolution limit the bins' own gamma is biased low
	** (hetero_limit_warning), no reference for the shared one: at 2.5
	** A/s (1.0 periods) the master's 0.99 +/- 0.05 (truth 1) was refused
	** against the bins' median 0.69 */
	hg.unjudged[FIT_HET_GAMMA] = hetero_median_periods(b, m->alpha,
					m->start) < HETERO_MIN_PERIODS;
	r->nbins = mb;
	if (mb < 3) {
		r->why = "fewer than 3 bins away from chi = 90 degrees";
	} else if (hetero_fit_global_aps(&hg, m->tau, m->g2, m->g2err, m->n,
					 b->nb, r->bin, 0, r->out, &r->v,
					 &r->v_err, &r->chi2_red, ferr) != 0) {
		r->why = "master-curve fit failed";	/* singular, no start */
	} else {
		r->rho = r->out[0].rho;
		r->verdict = het_master_verdict(r->out, mb);
		r->why = hetero_master_check(r->v, r->v_err, status, m->v_ref,
					     m->v_ref_err);
		if (r->why == NULL)
			r->why = note;	/* beta, h, ... of another minimum */
	}
	het_mwork_free(&w);
	if (r->why == NULL)
		r->warning = het_master_separated(r->out);
	return 0;
}

double hetero_median_periods(const hetero_bins *b, double alpha,
			     const hetero_result *st)
{
	double mc = b->min_cos > 0 ? b->min_cos : HET_MIN_COS;
	double *buf = malloc(sizeof(double) * (b->nb + 1)), med;
	size_t m = 0;
	if (buf == NULL)
		return NAN;
	for (size_t k = 0; k < b->nb; k++) {
		double qc = b->qx[k] * cos(alpha) + b->qy[k] * sin(alpha);
		if (b->resolved[k] && isfinite(st[k].periods) &&
		    fabs(qc) >= mc * b->q[k])
			buf[m++] = st[k].periods;
	}
	med = num_median(buf, m);
	free(buf);
	return med;
}

/* Over less than about one and a half periods the cosine's curvature is
** nearly degenerate with the decay's shape: cos(omega tau) e^{-(tau /
** tau0)^gamma} with a larger omega, longer tau0 and smaller gamma fits as
** well, so each bin's free tau0 and gamma let its omega drift high.
** Measured with the multi-tau averaging and the bins' spread in the model
** (64 x 64 px, 2000 frames of 0.2 s, tau0 100 s, 4 seeds each): 2.5 A/s
** (1.0-1.1 periods) came out 2.85-2.92, 3.5 A/s (1.2-1.4) 3.67-3.76, 5 A/s
** (1.3-1.7) 5.08-5.13, 7 A/s (2.0-2.3) 7.01-7.09: every seed high, so the
** bias is the model's degeneracy, not noise. The master-curve fit shares
** tau0 per ring and gamma, beta, h over all sectors, whose omegas span
** |cos chi| from 0.25 to 1, which lifts the degeneracy (|z| <= 1.2 in the
** same runs), hence the advice. */
int hetero_limit_warning(int resolved, double per, char *msg)
{
	if (!resolved || !(per < HETERO_MIN_PERIODS))
		return 0;
	snprintf(msg, ERR_LEN, "near the resolution limit: median %.2f "
		 "periods in the delay range (< %.1f), the omega(q, chi) speed "
		 "is biased high; use the master-curve fit (master = {...})",
		 per, HETERO_MIN_PERIODS);
	return 1;
}

void hetero_bins_qxy(const double *q, const double *qx, const double *qy,
		     const double *phi_deg, size_t nb, double *oqx,
		     double *oqy)
{
	for (size_t k = 0; k < nb; k++) {
		oqx[k] = qx ? qx[k] : q[k] * cos(phi_deg[k] * M_PI / 180);
		oqy[k] = qy ? qy[k] : q[k] * sin(phi_deg[k] * M_PI / 180);
	}
}
