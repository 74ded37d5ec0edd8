/*
** test_hetero.c - robust heterodyne fits, global fits and the velocity:
** synthetic Eq. 1 curves with noise, omega(q, chi) with noise, and an end
** to end run (speckle simulator -> a small direct multi-tau written here
** -> per-bin fits -> velocity) that must recover v within 2 %.
*/
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "fit.h"
#include "geom.h"
#include "hetero.h"
#include "speckle.h"
#include "tap.h"

#define NT 140
#define NRING 4
#define NSECT 18
#define NBIN (NRING * NSECT)

static size_t delays(double *tau, double dt, double fmax)
{
	size_t n = 0;
	for (int k = 1; k <= 16; k++)
		tau[n++] = k * dt;
	for (double f = 18; f <= fmax && n < NT; f *= pow(2, 1.0 / 8))
		tau[n++] = floor(f) * dt;
	return n;
}

static void curve(const double *p, const double *tau, size_t n, double sig,
		  gsl_rng *r, double *y, double *e)
{
	char err[ERR_LEN] = "";
	fit_model_heterodyne(p, 6, tau, n, y, NULL, NULL, err);
	for (size_t i = 0; i < n; i++) {
		e[i] = sig;
		y[i] += r ? gsl_ran_gaussian(r, sig) : 0;
	}
}

static const hetero_opts defopts = {.baseline = 1, .gamma = 1};

static void single_bins(void)
{
	double tau[NT], y[NT], e[NT];
	size_t n = delays(tau, 0.05, 4000);
	char err[ERR_LEN] = "";
	hetero_result r, r2;
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	/* omega far from any start value: the scan must find it */
	double oms[] = {0.3, 1.1, 4.7, 12.0};
	for (size_t j = 0; j < sizeof oms / sizeof *oms; j++) {
		double p[6] = {1, 0.2, 0.4, 10, 1, oms[j]};
		curve(p, tau, n, 0.002, rng, y, e);
		int rc = hetero_fit(tau, y, e, n, &defopts, &r, err);
		ok(rc == 0, "omega %g: fit runs (%s)", oms[j], err);
		ok(r.resolved, "omega %g: resolved (%s, %.1f periods)", oms[j],
		   r.reason, r.periods);
		ok(fabs(r.p[5] - oms[j]) < 4 * r.err[5] && r.err[5] < 0.02 * oms[j],
		   "omega %g recovered: %.4f +/- %.4f", oms[j], r.p[5], r.err[5]);
		ok(fabs(r.p[1] - 0.2) < 4 * r.err[1] && fabs(r.p[2] - 0.4) <
		   4 * r.err[2] && fabs(r.p[3] - 10) < 4 * r.err[3],
		   "omega %g: beta %.4f+/-%.4f, h %.4f+/-%.4f, tau0 %.3f+/-%.3f "
		   "within 4 errors", oms[j], r.p[1], r.err[1], r.p[2], r.err[2],
		   r.p[3], r.err[3]);
		hetero_fit(tau, y, e, n, &defopts, &r2, err);
		ok(memcmp(r.p, r2.p, sizeof r.p) == 0 &&
		   memcmp(r.err, r2.err, sizeof r.err) == 0,
		   "omega %g: the same g2 twice gives the same answer", oms[j]);
	}
	/* v = 0: no oscillation over many seeds must never be "resolved" */
	int spurious = 0;
	for (int s = 0; s < 100; s++) {
		double p[6] = {1, 0.2, 0.5, 10, 1, 0};
		gsl_rng_set(rng, 500 + s);
		curve(p, tau, n, 0.003, rng, y, e);
		hetero_fit(tau, y, e, n, &defopts, &r, err);
		spurious += r.resolved;
	}
	is_int(spurious, 0, "v = 0: no spurious oscillation in 100 noisy bins");
	/* too slow: a quarter period over the decay range */
	{
		double p[6] = {1, 0.2, 0.5, 10, 1, 0.04};
		curve(p, tau, n, 0.002, rng, y, e);
		hetero_fit(tau, y, e, n, &defopts, &r, err);
		ok(!r.resolved && strstr(r.reason, "half a period"),
		   "omega 0.04 rad/s with tau0 10 s: not resolved (%s)", r.reason);
	}
	/* h = 1: pure homodyne; no heterodyne term, and the homodyne model
	** fits it */
	{
		double p[6] = {1, 0.2, 1.0, 10, 1, 2.0};
		curve(p, tau, n, 0.002, rng, y, e);
		hetero_fit(tau, y, e, n, &defopts, &r, err);
		ok(!r.resolved, "h = 1: omega not resolved (%s)", r.reason);
		double p0[4] = {1, 0.15, 5, 1}, w[NT];
		for (size_t i = 0; i < n; i++)
			w[i] = 1 / (e[i] * e[i]);
		fit_problem pb = {.model = fit_model_homodyne, .np = 4, .n = n,
			.x = tau, .y = y, .weights = w, .p0 = p0, .scale_errors = -1};
		fit_result fr;
		int rc = fit_run(&pb, &fr, err);
		if (rc)
			diag("homodyne fit: %s", err);
		ok(rc == 0 && fabs(fr.p[1] - 0.2) < 4 * fr.err[1]
		   && fabs(fr.p[2] - 10) < 4 * fr.err[2] && fr.chi2_red < 1.6,
		   "h = 1: homodyne model fits (beta %.4f, tau0 %.3f, chi2 %.2f)",
		   fr.p[1], fr.p[2], fr.chi2_red);
		fit_result_free(&fr);
	}
	/* an empty (masked) bin */
	for (size_t i = 0; i < n; i++)
		y[i] = NAN;
	int rc = hetero_fit(tau, y, e, n, &defopts, &r, err);
	ok(rc == -1 && strstr(err, "usable points"), "an all-NaN bin is an "
	   "error: %s", err);
	gsl_rng_free(rng);
}

/* 4 rings x 18 sectors of Eq. 1 curves; omega = q v cos chi */
typedef struct synth {
	double q[NBIN], qx[NBIN], qy[NBIN], om[NBIN];
	int ring[NBIN], group[NBIN];
	double g2[NT * NBIN], e[NT * NBIN];
} synth;

static void synth_make(synth *S, const double *tau, size_t n, double v,
		       double alpha, double sig, gsl_rng *rng)
{
	double y[NT], e[NT];
	for (int rg = 0; rg < NRING; rg++)
		for (int s = 0; s < NSECT; s++) {
			int k = rg * NSECT + s;
			double q = (0.006 + 0.004 * rg) * 1e10;
			double phi = (-180 + 10 + 20 * s) * M_PI / 180;
			S->q[k] = q;
			S->qx[k] = q * cos(phi);
			S->qy[k] = q * sin(phi);
			S->ring[k] = S->group[k] = rg;
			S->om[k] = fabs(v * q * cos(phi - alpha));
			double p[6] = {1, 0.2, 0.5, 12 / (1 + rg), 1, S->om[k]};
			curve(p, tau, n, sig, rng, y, e);
			for (size_t i = 0; i < n; i++) {
				S->g2[i * NBIN + k] = y[i];
				S->e[i * NBIN + k] = e[i];
			}
		}
}

static void many_bins_and_global(void)
{
	double tau[NT];
	size_t n = delays(tau, 0.05, 4000);
	char err[ERR_LEN] = "";
	synth *S = malloc(sizeof *S);
	hetero_result *res = malloc(sizeof(hetero_result) * NBIN);
	hetero_result *glob = malloc(sizeof(hetero_result) * NBIN);
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	double v = 1e-8;	/* 100 A/s */
	synth_make(S, tau, n, v, 0, 0.003, rng);
	double t0 = omp_get_wtime();
	ok(hetero_fit_bins(tau, S->g2, S->e, n, NBIN, &defopts, res, NULL, err)
	   == 0, "72 bins fitted");
	double dt = omp_get_wtime() - t0;
	diag("72 heterodyne fits (18 sectors x 4 rings, %zu delays): %.3f s "
	     "on %d threads", n, dt, omp_get_max_threads());
	/* speed is for make bench (bench/fit.lua), not a timed test */
	int nres = 0, bad = 0;
	for (int k = 0; k < NBIN; k++) {
		if (!res[k].resolved)
			continue;
		nres++;
		bad += fabs(res[k].p[5] - S->om[k]) > 4 * res[k].err[5];
	}
	ok(nres >= 56, "most bins resolved (%d of 72; sectors near chi = 90 "
	   "degrees have no oscillation)", nres);
	is_int(bad, 0, "every resolved omega within 4 errors of the truth");

	/* global over the inner two rings (36 bins; the dense Jacobian makes
	** the cost grow as bins^3): beta, h, gamma shared, tau0 per ring,
	** omega per bin */
	hetero_global g = {.nb = 2 * NSECT, .share = {1, 1, 1, 2, 1},
		.fixed = {1, 0, 0, 0, 0, 0}, .group = S->group, .start = res};
	const double *tp[NBIN], *gp[NBIN], *ep[NBIN];
	double cols[NBIN][NT], ecols[NBIN][NT];
	size_t ns[NBIN];
	for (int k = 0; k < NBIN; k++) {
		for (size_t i = 0; i < n; i++) {
			cols[k][i] = S->g2[i * NBIN + k];
			ecols[k][i] = S->e[i * NBIN + k];
		}
		tp[k] = tau;
		gp[k] = cols[k];
		ep[k] = ecols[k];
		ns[k] = n;
	}
	g.tau = tp;
	g.g2 = gp;
	g.g2err = ep;
	g.n = ns;
	double chi, vg, vge;
	int rc;
	t0 = omp_get_wtime();
	rc = hetero_fit_global(&g, glob, NULL, NULL, &chi, err);
	ok(rc == 0, "global fit with shared beta, h, gamma runs (%s)", err);
	diag("global fit (36 omegas, 2 tau0, 3 shared): %.3f s", omp_get_wtime() - t0);
	ok(fabs(glob[0].p[1] - 0.2) < 4 * glob[0].err[1] &&
	   fabs(glob[0].p[2] - 0.5) < 4 * glob[0].err[2] &&
	   glob[0].err[1] < res[20].err[1],
	   "shared beta %.5f +/- %.5f and h %.5f +/- %.5f: truth within 4 "
	   "errors, tighter than one bin's", glob[0].p[1], glob[0].err[1],
	   glob[0].p[2], glob[0].err[2]);
	ok(fabs(glob[NSECT].p[3] - 6) < 4 * glob[NSECT].err[3],
	   "ring 2 tau0 %.4f +/- %.4f (truth 6)", glob[NSECT].p[3],
	   glob[NSECT].err[3]);
	is_num(chi, 1, 4 * sqrt(2.0 / (2 * NSECT * n)), "global chi2_red ~ 1 (%.4f)", chi);

	/* master curve: omega_k = v |<q cos chi>_k| */
	double qc[NBIN];
	for (int k = 0; k < NBIN; k++)
		qc[k] = S->qx[k];
	g.qc = qc;
	g.nb = NBIN;
	t0 = omp_get_wtime();
	rc = hetero_fit_global(&g, glob, &vg, &vge, &chi, err);
	ok(rc == 0, "master-curve global fit runs (%s)", err);
	diag("master-curve fit of 72 bins: %.3f s", omp_get_wtime() - t0);
	ok(fabs(vg - v) < 4 * vge && vge < 0.002 * v, "master-curve speed "
	   "%.3f +/- %.3f A/s (truth 100)", vg * 1e10, vge * 1e10);
	free(S);
	free(res);
	free(glob);
	gsl_rng_free(rng);
}

/* omega(q, chi) with noise: the speed and its error over many seeds */
static void velocity(void)
{
	enum { NS = 300 };
	double v = 1e-8, pulls = 0, pull2 = 0, ang_pull = 0;
	double q[NBIN], qx[NBIN], qy[NBIN], om[NBIN], oe[NBIN];
	int ring[NBIN], res[NBIN], nfail = 0;
	char err[ERR_LEN] = "";
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	hetero_velocity *out = malloc(sizeof *out);
	for (int s = 0; s < NS; s++) {
		double alpha = s % 2 ? 0.0 : 0.6;	/* radians */
		gsl_rng_set(rng, 77 + s);
		for (int k = 0; k < NBIN; k++) {
			int rg = k / NSECT, sc = k % NSECT;
			double phi = (-180 + 10 + 20 * sc) * M_PI / 180;
			q[k] = (0.006 + 0.004 * rg) * 1e10;
			qx[k] = q[k] * cos(phi);
			qy[k] = q[k] * sin(phi);
			ring[k] = rg;
			oe[k] = 0.01 + 0.01 * rg;
			om[k] = fabs(v * (qx[k] * cos(alpha) + qy[k] * sin(alpha))) +
				gsl_ran_gaussian(rng, oe[k]);
			res[k] = om[k] > 3 * oe[k];
		}
		hetero_bins b = {NBIN, om, oe, res, ring, q, qx, qy, 0, NULL};
		if (hetero_velocity_fit(&b, alpha, 0, out, err) != 0) {
			nfail++;
			continue;
		}
		double pl = (out->v - v) / out->v_err;
		pulls += pl;
		pull2 += pl * pl;
		if (s == 0) {
			ok(out->nrings == 4 && out->ring[2].nused > 10,
			   "per-ring fits (%zu rings, ring 3 used %zu bins)",
			   out->nrings, out->ring[2].nused);
			ok(fabs(out->v_q - v) < 4 * out->v_q_err &&
			   fabs(out->v_rings - v) < 4 * out->v_rings_err,
			   "omega(q) speed %.3f +/- %.3f, ring spread %.3f +/- "
			   "%.3f A/s", out->v_q * 1e10, out->v_q_err * 1e10,
			   out->v_rings * 1e10, out->v_rings_err * 1e10);
			ok(fabs(out->ring[1].qv - v * q[NSECT]) < 4 * out->ring[1].qv_err,
			   "ring 2 slope of omega versus cos chi = q v");
		}
		if (s < 40) {
			hetero_bins b2 = b;
			if (hetero_velocity_fit(&b2, alpha + 0.2, 1, out, err) == 0)
				ang_pull += fabs(out->flow_angle - alpha) /
					    out->flow_angle_err < 4;
		}
	}
	is_int(nfail, 0, "every velocity fit succeeds");
	double mp = pulls / NS, sp = sqrt(pull2 / NS - mp * mp);
	ok(fabs(mp) < 4 / sqrt(NS), "speed unbiased (mean pull %.3f)", mp);
	ok(sp > 0.8 && sp < 1.15, "speed error is right (sd of pulls %.3f)", sp);
	is_num(ang_pull, 40, 2, "fitted flow angle within 4 errors in 40 seeds");
	/* bad input */
	for (int k = 0; k < NBIN; k++)
		res[k] = 0;
	hetero_bins b = {NBIN, om, oe, res, ring, q, qx, qy, 0, NULL};
	int rc = hetero_velocity_fit(&b, 0, 0, out, err);
	ok(rc == 0 && !out->resolved && strstr(out->reason, "fewer than 3") &&
	   isnan(out->v), "no resolved bin: not resolved, no speed (%s)",
	   rc == 0 ? out->reason : err);
	free(out);
	gsl_rng_free(rng);
}

/* ---- end to end: simulate, correlate (direct multi-tau), fit ---- */

#define E2E_N 80
#define E2E_T 2000
#define MT_L0 16		/* lags 1..16 at level 0, then 8 per level */

/* a small direct multi-tau: per pixel, intensities coarse-grained by 2
** per level; lags 1..16 at level 0 and 9..16 (in level units) above.
** Per bin: g2 = <I(t) I(t+tau)>_{t,pix} / (<I>_past <I>_future) (the
** frozen static speckle's contrast across pixels is part of Eq. 1), error
** from the spread of the per-pixel normalised g2 over the bin's pixels. */
typedef struct mt_out {
	size_t nlag;
	double tau[NT];
	double *g2, *err;	/* nlag x nb */
} mt_out;

static void multitau(const float *fr, size_t T, size_t npix, const int *bin,
		     int nb, double dt, mt_out *o)
{
	size_t lag[NT], lev[NT], nl = 0;
	for (size_t k = 1; k <= MT_L0; k++) {
		lag[nl] = k;
		lev[nl++] = 0;
	}
	for (size_t L = 1; ((size_t)MT_L0 << L) < T / 2; L++)
		for (size_t k = 9; k <= 16; k++) {
			lag[nl] = k;
			lev[nl++] = L;
		}
	o->nlag = nl;
	for (size_t l = 0; l < nl; l++)
		o->tau[l] = lag[l] * (double)(1u << lev[l]) * dt;
	/* per pixel: G, past mean, future mean for every lag */
	double *G = calloc(nl * npix, sizeof(double));
	double *P = calloc(nl * npix, sizeof(double));
	double *F = calloc(nl * npix, sizeof(double));
	#pragma omp parallel for schedule(dynamic, 16)
	for (size_t i = 0; i < npix; i++) {
		double *x = malloc(sizeof(double) * T);
		size_t m = T;
		if (bin[i] < 0) {
			free(x);
			continue;
		}
		for (size_t t = 0; t < T; t++)
			x[t] = fr[t * npix + i];
		size_t L = 0;
		for (size_t l = 0; l < nl; l++) {
			while (L < lev[l]) {
				for (size_t t = 0; t + 1 < m; t += 2)
					x[t / 2] = (x[t] + x[t + 1]) / 2;
				m /= 2;
				L++;
			}
			double g = 0, p = 0, f = 0;
			size_t k = lag[l], cnt = m - k;
			for (size_t t = 0; t + k < m; t++) {
				g += x[t] * x[t + k];
				p += x[t];
				f += x[t + k];
			}
			G[l * npix + i] = g / cnt;
			P[l * npix + i] = p / cnt;
			F[l * npix + i] = f / cnt;
		}
		free(x);
	}
	o->g2 = calloc(nl * nb, sizeof(double));
	o->err = calloc(nl * nb, sizeof(double));
	for (size_t l = 0; l < nl; l++)
		for (int b = 0; b < nb; b++) {
			double sg = 0, sp = 0, sf = 0, cnt = 0, s1 = 0, s2 = 0;
			for (size_t i = 0; i < npix; i++)
				if (bin[i] == b) {
					double gp = G[l * npix + i] /
						(P[l * npix + i] * F[l * npix + i]);
					sg += G[l * npix + i];
					sp += P[l * npix + i];
					sf += F[l * npix + i];
					s1 += gp;
					s2 += gp * gp;
					cnt++;
				}
			double den = sp / cnt * sf / cnt, var = s2 / cnt - (s1 / cnt) * (s1 / cnt);
			o->g2[l * nb + b] = cnt > 1 ? sg / cnt / den : NAN;
			o->err[l * nb + b] = cnt > 1 ? sqrt(var * cnt / (cnt - 1) / cnt) : NAN;
		}
	free(G);
	free(P);
	free(F);
}

static void end_to_end(void)
{
	size_t npix = E2E_N * E2E_N;
	double *vel = malloc(sizeof(double) * E2E_T), v = 1e-8, alpha = 0.35;
	float *fr = malloc(sizeof(float) * E2E_T * npix);
	int *bin = malloc(sizeof(int) * npix);
	char err[ERR_LEN] = "";
	speckle_params p;
	memset(&p, 0, sizeof p);
	p.geom = (geom){.energy_keV = 10, .distance = 1.0, .pixel_x = 75e-6,
		.pixel_y = 75e-6, .center_x = 39.5, .center_y = 39.5,
		.rows = E2E_N, .cols = E2E_N};
	p.nframes = E2E_T;
	p.frame_time = 0.05;
	for (size_t t = 0; t < E2E_T; t++)
		vel[t] = v;
	p.velocity = vel;
	p.flow_angle = alpha;
	p.tau0 = 10;
	p.gamma = 1;
	p.h = 0.5;
	p.modes = 4;
	p.mean_counts = 5;
	p.poisson = 1;
	p.seed = 2020;
	double t0 = omp_get_wtime();
	ok(speckle_simulate(&p, fr, ARR_F32, err) == 0, "simulate %dx%dx%d "
	   "(%s)", E2E_N, E2E_N, E2E_T, err);
	diag("simulation: %.2f s", omp_get_wtime() - t0);
	/* 4 narrow rings from q = 0.0055 to 0.014 1/A, 18 sectors; means of q,
	** qx, qy as a qmap gives them */
	double q[NBIN] = {0}, qx[NBIN] = {0}, qy[NBIN] = {0}, cnt[NBIN] = {0};
	int ring[NBIN];
	for (size_t r = 0; r < E2E_N; r++)
		for (size_t c = 0; c < E2E_N; c++) {
			geom_px px;
			size_t i = r * E2E_N + c;
			geom_pixel(&p.geom, (double)r, (double)c, &px);
			double qa = px.q * 1e-10;
			/* rings 0.001 1/A wide from 0.0055, 0.008, 0.0105, 0.013:
			** narrow rings keep the spread of omega in a bin small */
			int rg = (int)floor((qa - 0.0055) / 0.0025);
			if (qa - 0.0055 - 0.0025 * rg > 0.001)
				rg = -1;
			int sc = (int)floor((px.phi_deg + 180) / 20);
			if (sc == NSECT) sc = 0;
			bin[i] = rg >= 0 && rg < NRING ? rg * NSECT + sc : -1;
			if (bin[i] < 0)
				continue;
			q[bin[i]] += px.q;
			qx[bin[i]] += px.qx;
			qy[bin[i]] += px.qy;
			cnt[bin[i]]++;
		}
	for (int k = 0; k < NBIN; k++) {
		q[k] /= cnt[k];
		qx[k] /= cnt[k];
		qy[k] /= cnt[k];
		ring[k] = k / NSECT;
	}
	mt_out mt;
	t0 = omp_get_wtime();
	multitau(fr, E2E_T, npix, bin, NBIN, p.frame_time, &mt);
	diag("direct multi-tau (%zu delays): %.2f s", mt.nlag, omp_get_wtime() - t0);
	hetero_result *res = malloc(sizeof(hetero_result) * NBIN);
	t0 = omp_get_wtime();
	ok(hetero_fit_bins(mt.tau, mt.g2, mt.err, mt.nlag, NBIN, &defopts, res,
			   NULL, err) == 0, "fits of the simulated g2");
	diag("72 fits of simulated g2: %.3f s", omp_get_wtime() - t0);
	double om[NBIN], oe[NBIN];
	int rs[NBIN], nres = 0;
	double mb = 0, mh = 0, mt0 = 0, mg = 0, sb = 0, sh = 0, st0 = 0, sg = 0;
	for (int k = 0; k < NBIN; k++) {
		om[k] = res[k].p[5];
		oe[k] = res[k].err[5];
		rs[k] = res[k].resolved;
		if (!rs[k])
			continue;
		nres++;
		mb += res[k].p[1]; sb += res[k].p[1] * res[k].p[1];
		mh += res[k].p[2]; sh += res[k].p[2] * res[k].p[2];
		mt0 += res[k].p[3]; st0 += res[k].p[3] * res[k].p[3];
		mg += res[k].p[4]; sg += res[k].p[4] * res[k].p[4];
	}
	ok(nres > 40, "%d of 72 simulated bins resolved", nres);
	/* bin to bin scatter: the standard error of the mean over bins */
	mb /= nres; mh /= nres; mt0 /= nres; mg /= nres;
	sb = sqrt((sb / nres - mb * mb) / (nres - 1));
	sh = sqrt((sh / nres - mh * mh) / (nres - 1));
	st0 = sqrt((st0 / nres - mt0 * mt0) / (nres - 1));
	sg = sqrt((sg / nres - mg * mg) / (nres - 1));
	diag("mean over bins: beta %.4f +/- %.4f, h %.4f +/- %.4f, tau0 %.3f +/- "
	     "%.3f, gamma %.3f +/- %.3f", mb, sb, mh, sh, mt0, st0, mg, sg);
	ok(fabs(mb - 0.25) < 4 * sb && fabs(mh - 0.5) < 4 * sh,
	   "beta and h recovered: mean over bins within 4 standard errors");
	hetero_bins b = {NBIN, om, oe, rs, ring, q, qx, qy, 0, NULL};
	hetero_velocity *out = malloc(sizeof *out);
	ok(hetero_velocity_fit(&b, alpha, 0, out, err) == 0, "velocity (%s)", err);
	diag("v = %.2f +/- %.2f A/s (truth 100), omega(q) %.2f +/- %.2f, rings "
	     "%.2f +/- %.2f", out->v * 1e10, out->v_err * 1e10, out->v_q * 1e10,
	     out->v_q_err * 1e10, out->v_rings * 1e10, out->v_rings_err * 1e10);
	ok(fabs(out->v / v - 1) < 0.02, "speed within 2 %% of the truth "
	   "(%.2f A/s)", out->v * 1e10);
	ok(fabs(out->v - v) < 3 * out->v_err, "its error covers the truth "
	   "(%.2f sigma)", (out->v - v) / out->v_err);
	diag("chi2_red of the velocity fit at the true angle: %.2f", out->chi2_red);
	int rc = hetero_velocity_fit(&b, 0, 1, out, err);
	diag("chi2_red with the angle fitted: %.2f", out->chi2_red);
	ok(rc == 0 && fabs(out->flow_angle - alpha) < 4 * out->flow_angle_err &&
	   fabs(out->v / v - 1) < 0.02, "flow angle fitted: %.3f +/- %.3f deg "
	   "(truth %.2f), v %.2f A/s", out->flow_angle * 180 / M_PI,
	   out->flow_angle_err * 180 / M_PI, alpha * 180 / M_PI, out->v * 1e10);
	free(out);
	free(res);
	free(mt.g2);
	free(mt.err);
	free(vel);
	free(fr);
	free(bin);
}

/* the master-curve speed is reported only when it is a number with a
** finite positive error that agrees with omega(q, chi) */
static void master_check(void)
{
	ok(hetero_master_check(1e-9, 1e-11, FIT_CONVERGED, 1.01e-9, 1e-11) == NULL,
	   "master check: a good speed passes");
	ok(hetero_master_check(9.6e-9, 0, FIT_CONVERGED, 8.3e-10, 2e-11) != NULL,
	   "master check: zero error refused (the 95.98 +/- 0.00 A/s case)");
	ok(hetero_master_check(9.9e-9, 1.4e3, FIT_CONVERGED, 5.1e-10, 1e-11) != NULL,
	   "master check: huge error refused (the 98.8 +/- 1.4e13 A/s case)");
	ok(hetero_master_check(1.04e-8, 1e-11, FIT_CONVERGED, 1.5e-9, 1e-11) != NULL,
	   "master check: disagreement with omega(q, chi) refused");
	ok(hetero_master_check(1e-9, NAN, FIT_CONVERGED, NAN, NAN) != NULL,
	   "master check: NaN error refused");
	ok(hetero_master_check(1e-9, 1e-11, FIT_MAXITER, 1e-9, 1e-11) != NULL,
	   "master check: a fit that did not converge refused");
	ok(hetero_master_check(1e-9, 1e-11, FIT_CONVERGED, NAN, NAN) == NULL,
	   "master check: no reference, no comparison");
}

/* Eq. 1 with a within-bin spread of omega: srel = 0 is the plain model,
** and its Jacobian matches central differences */
static void spread_model(void)
{
	double p[6] = {1, 0.2, 0.4, 8, 0.9, 1.3}, x[5] = {0.1, 0.7, 2, 5, 11};
	double y0[5], y1[5], J[30], yp[5], ym[5];
	char err[ERR_LEN] = "";
	fit_eq1_opts o3 = {.srel = 0.3};
	fit_model_heterodyne(p, 6, x, 5, y0, NULL, NULL, err);
	fit_eq1_spread(p, NULL, x, 5, y1, NULL, 6);
	double d = 0;
	for (int i = 0; i < 5; i++)
		d = fmax(d, fabs(y0[i] - y1[i]));
	ok(d == 0, "fit_eq1_spread with srel 0 is Eq. 1");
	fit_eq1_spread(p, &o3, x, 5, y1, J, 6);
	double worst = 0;
	for (int j = 0; j < 6; j++) {
		double q[6], h = 1e-6 * fmax(fabs(p[j]), 1e-3);
		memcpy(q, p, sizeof q);
		q[j] = p[j] + h;
		fit_eq1_spread(q, &o3, x, 5, yp, NULL, 6);
		q[j] = p[j] - h;
		fit_eq1_spread(q, &o3, x, 5, ym, NULL, 6);
		for (int i = 0; i < 5; i++)
			worst = fmax(worst, fabs((yp[i] - ym[i]) / (2 * h) - J[i * 6 + j]));
	}
	ok(worst < 1e-7, "spread model: analytic Jacobian = central differences "
	   "(max diff %.2g)", worst);
	/* cross term at tau = 5: cos(6.5) e^{-(5/8)^0.9} e^{-(0.3*1.3*5)^2/2} */
	double s = pow(5 / 8.0, 0.9), E = exp(-s);
	double ref = 1 + 0.2 * (0.36 + 0.16 * E * E + 0.48 * cos(6.5) * E *
				exp(-0.5 * pow(0.3 * 1.3 * 5, 2)));
	is_num(y1[3], ref, 1e-14, "spread model: closed form at tau = 5 s");
	/* pixel nodes: one node at r = 1 is Eq. 1; the Jacobian matches
	** central differences */
	double r1 = 1, w1 = 1, rn[3] = {0.8, 1, 1.3}, wn[3] = {0.25, 0.5, 0.25};
	fit_eq1_nodes(p, &r1, &w1, 1, NULL, x, 5, y1, NULL, 6);
	d = 0;
	for (int i = 0; i < 5; i++)
		d = fmax(d, fabs(y0[i] - y1[i]));
	ok(d < 1e-15, "fit_eq1_nodes with one node is Eq. 1");
	fit_eq1_nodes(p, rn, wn, 3, NULL, x, 5, y1, J, 6);
	worst = 0;
	for (int j = 0; j < 6; j++) {
		double q[6], h = 1e-6 * fmax(fabs(p[j]), 1e-3);
		memcpy(q, p, sizeof q);
		q[j] = p[j] + h;
		fit_eq1_nodes(q, rn, wn, 3, NULL, x, 5, yp, NULL, 6);
		q[j] = p[j] - h;
		fit_eq1_nodes(q, rn, wn, 3, NULL, x, 5, ym, NULL, 6);
		for (int i = 0; i < 5; i++)
			worst = fmax(worst, fabs((yp[i] - ym[i]) / (2 * h) - J[i * 6 + j]));
	}
	ok(worst < 1e-7, "node model: analytic Jacobian = central differences "
	   "(max diff %.2g)", worst);
	double C = 0.25 * cos(0.8 * 6.5) + 0.5 * cos(6.5) + 0.25 * cos(1.3 * 6.5);
	is_num(y1[3], 1 + 0.2 * (0.36 + 0.16 * E * E + 0.48 * C * E), 1e-14,
	       "node model: closed form at tau = 5 s");
}

/* the triangle-weighted mean over |d| < B frames of Eq. 1 at tau + d dt,
** summed frame by frame: what a multi-tau level of B-frame sums sees */
static double multitau_brute(const double *p, double tau, double dt, int B)
{
	double s = 0;
	for (int d = -(B - 1); d <= B - 1; d++) {
		double y;
		double t = tau + d * dt;
		fit_model_heterodyne(p, 6, &t, 1, &y, NULL, NULL, NULL);
		s += (B - abs(d)) * y;
	}
	return s / ((double)B * B);
}

/* multi-tau averaging: frames per delay follow the correlator's levels;
** for gamma = 1 the model equals the brute-force frame sums (the decay is
** exactly exponential within a window); the omega column of the Jacobian
** matches central differences */
static void multitau_model(void)
{
	fit_mt mt = {.dt = 0.05, .dpl = 4};
	static const double fr[] = {1, 8, 10, 16, 20, 32, 40, 64, 80, 160, 256, 320};
	static const double bn[] = {1, 1, 2, 2, 4, 4, 8, 8, 16, 32, 32, 64};
	int good = 1;
	for (int i = 0; i < 12; i++)
		good &= fit_mt_frames(&mt, fr[i] * 0.05) == bn[i];
	ok(good, "fit_mt_frames: 1 frame up to 2 dpl, then 2^level");
	double p[6] = {1, 0.25, 0.4, 6, 1, 2.5}, x[6], y[6], J[36], yp[6], ym[6];
	fit_eq1_opts o = {.srel = 0, .mt = mt};
	for (int i = 0; i < 6; i++)
		x[i] = fr[6 + i] * 0.05;
	fit_eq1_spread(p, &o, x, 6, y, J, 6);
	double worst = 0, moved = 0;
	for (int i = 0; i < 6; i++) {
		double ref = multitau_brute(p, x[i], 0.05, (int)bn[6 + i]), y0;
		fit_model_heterodyne(p, 6, &x[i], 1, &y0, NULL, NULL, NULL);
		worst = fmax(worst, fabs(y[i] - ref));
		moved = fmax(moved, fabs(y0 - ref));
	}
	ok(worst < 1e-13 && moved > 0.01, "multi-tau model = frame sums "
	   "(max diff %.2g; plain Eq. 1 off by %.3f)", worst, moved);
	double q[6], hh = 1e-6, wj = 0;
	memcpy(q, p, sizeof q);
	q[5] = p[5] + hh;
	fit_eq1_spread(q, &o, x, 6, yp, NULL, 6);
	q[5] = p[5] - hh;
	fit_eq1_spread(q, &o, x, 6, ym, NULL, 6);
	for (int i = 0; i < 6; i++)
		wj = fmax(wj, fabs((yp[i] - ym[i]) / (2 * hh) - J[i * 6 + 5]));
	ok(wj < 1e-7, "multi-tau model: d/d omega = central differences "
	   "(max diff %.2g)", wj);
}

int main(void)
{
	master_check();
	spread_model();
	multitau_model();
	single_bins();
	many_bins_and_global();
	velocity();
	end_to_end();
	return tap_done();
}
