/*
** test_xam.c - Beer-Lambert conversion of XAM scans: closed forms, scan
** grouping, and a synthetic experiment made from a known c(x, t) (counts
** from xraylib cross sections, Poisson noise, a drifting monitor, dark
** counts) converted back within the propagated errors.
*/
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "chem.h"
#include "tap.h"
#include "xam.h"
#include "xray.h"

static void test_absorbance(void)
{
	char err[ERR_LEN] = "";
	double I[3] = {500, 1000, 300}, I0[3] = {1000, 1000, 900}, D[3] = {0, 0, 100};
	double A[3], sA[3];
	ok(xam_absorbance(I, I0, D, 3, A, sA, err) == 0, "absorbance");
	is_num(A[0], log(2), 1e-15, "A = ln 2 at half transmission");
	is_num(sA[0], sqrt(1.0 / 500 + 1.0 / 1000), 1e-15, "Poisson error of A");
	is_num(A[1], 0, 1e-15, "A = 0 at full transmission");
	is_num(A[2], -log(200.0 / 800), 1e-15, "dark subtracted from both");
	/* brute force: var A = sum over I, I0, D of (dA/dn)^2 n */
	{
		double h = 1e-3, dI = (log(800.0 / (300 + h - 100)) - log(800.0 / (300 - h - 100))) / (2 * h);
		double dI0 = (log((900 + h - 100) / 200.0) - log((900 - h - 100) / 200.0)) / (2 * h);
		double dD = (-log((300 - 100 - h) / (900 - 100 - h)) + log((300 - 100 + h) / (900 - 100 + h))) / (2 * h);
		is_num(sA[2], sqrt(dI * dI * 300 + dI0 * dI0 * 900 + dD * dD * 100), 1e-8,
		       "error with dark matches numerical derivatives");
	}
	I[1] = 0;
	ok(xam_absorbance(I, I0, NULL, 3, A, sA, err) == -1 && strstr(err, "row 2") &&
	   strstr(err, "counts"), "zero counts names row and column (%s)", err);
	I[1] = -5;
	ok(xam_absorbance(I, I0, NULL, 3, A, sA, err) == -1 && strstr(err, "row 2") &&
	   strstr(err, "counts = -5"), "negative counts (%s)", err);
	I[1] = 1000;
	I0[2] = 0;
	ok(xam_absorbance(I, I0, NULL, 3, A, sA, err) == -1 && strstr(err, "row 3") &&
	   strstr(err, "monitor"), "zero monitor names row 3 (%s)", err);
	I0[2] = 900;
	D[0] = 600;
	ok(xam_absorbance(I, I0, D, 3, A, sA, err) == -1 && strstr(err, "row 1") &&
	   strstr(err, "dark"), "dark above counts (%s)", err);
}

static void test_grouping(void)
{
	char err[ERR_LEN] = "";
	double a[6] = {0, 1, 2, 0, 1, 2}, b[6] = {0, 1, 2, 2, 1, 0};
	double c[7] = {0, 1, 2, 1, 0, 1, 2};
	size_t s[7], n;
	xam_group_scans(a, 6, s, &n, err);
	ok(n == 2 && s[2] == 0 && s[3] == 1, "raster: restart at the first position");
	xam_group_scans(b, 6, s, &n, err);
	ok(n == 2 && s[2] == 0 && s[3] == 1, "snake with a repeated end point");
	xam_group_scans(c, 7, s, &n, err);
	ok(n == 3 && s[2] == 0 && s[3] == 1 && s[4] == 1 && s[5] == 2,
	   "snake without repeat: reversal starts a scan");
	c[4] = NAN;
	ok(xam_group_scans(c, 7, s, &n, err) == -1 && strstr(err, "row 5") &&
	   strstr(err, "x_m"), "NaN position (%s)", err);
}

static void test_interp(void)
{
	double xs[3] = {3, 2, 0}, v[3] = {30, 20, 0}, sv[3] = {1, 2, 3}, o, so;
	ok(xam_interp(xs, v, sv, 3, 1, &o, &so) == 0, "descending profile");
	is_num(o, 10, 1e-14, "linear value");
	is_num(so, sqrt(0.25 * 4 + 0.25 * 9), 1e-14, "interpolated error");
	ok(xam_interp(xs, v, sv, 3, 3.5, &o, &so) == -1, "outside is refused");
}

/* ---- the synthetic experiment ---- */

#define NPOS 81
#define NSCAN 12
#define STEP 50e-6

typedef struct synth {
	double sig_s, sig_e, Vs, Ve, mu_li, d, c0, xl, xr, t0, rate;
	double t[NPOS * NSCAN], x[NPOS * NSCAN], I[NPOS * NSCAN];
	double I0[NPOS * NSCAN], D[NPOS * NSCAN], ctrue[NPOS * NSCAN];
} synth;

static double synth_c(const synth *s, double x, double t)
{
	double a = t > s->t0 ? s->rate * (t - s->t0) : 0;
	if (x <= s->xl || x >= s->xr)
		return s->c0;	/* electrode: nothing changes */
	return s->c0 + a * cos(M_PI * (x - s->xl) / (s->xr - s->xl));
}

/* the absorbance of the full model: salt and the solvent it leaves room
** for, or lithium metal, plus windows; not the contrast formula */
static double synth_A(const synth *s, double x, double c)
{
	if (x <= s->xl || x >= s->xr)
		return 0.3 + s->d * 534.0 * s->mu_li;
	return 0.3 + s->d * (c * s->sig_s + (1 - c * s->Vs) / s->Ve * s->sig_e);
}

static int synth_make(synth *s, gsl_rng *rng)
{
	char err[ERR_LEN] = "";
	if (xray_molar_attenuation("LiC2F6NO4S2", 20, &s->sig_s, NULL, err) ||
	    xray_molar_attenuation("C2H4O", 20, &s->sig_e, NULL, err) ||
	    xray_mass_attenuation("Li", 20, &s->mu_li, err)) {
		diag("%s", err);
		return -1;
	}
	s->Vs = 224e-30 * CHEM_AVOGADRO;
	s->Ve = 66.4e-30 * CHEM_AVOGADRO;
	s->d = 1e-3;
	s->c0 = 1870;
	s->xl = 0.4137e-3;
	s->xr = s->xl + 3e-3;
	s->t0 = 1000;
	s->rate = 600.0 / 11000;
	for (int k = 0; k < NSCAN; k++)
		for (int j = 0; j < NPOS; j++) {
			int i = k * NPOS + j, p = k % 2 ? NPOS - 1 - j : j;
			double inc, A;
			s->t[i] = 1000.0 * k + 10.0 * j;
			s->x[i] = p * STEP;
			s->ctrue[i] = synth_c(s, s->x[i], s->t[i]);
			A = synth_A(s, s->x[i], s->ctrue[i]);
			inc = 1e6 * (1 + 0.3 * sin(2 * M_PI * s->t[i] / 7000));
			s->D[i] = gsl_ran_poisson(rng, 200);
			s->I0[i] = gsl_ran_poisson(rng, 0.5 * inc + 200);
			s->I[i] = gsl_ran_poisson(rng, 0.8 * inc * exp(-A) + 200);
		}
	return 0;
}

static void test_roundtrip(const synth *s, const xam_result *r)
{
	double chi2 = 0, zsum = 0;
	int n = 0, in2 = 0;
	for (size_t i = 0; i < r->n; i++) {
		double z;
		if (r->scan[i] == 0)
			continue;
		z = (r->c[i] - s->ctrue[i]) / r->sc[i];
		chi2 += z * z;
		zsum += z;
		in2 += fabs(z) < 2;
		n++;
	}
	diag("round trip: %d points, chi2/N = %.3f, mean z = %.3f, %.1f %% within 2 sigma, "
	     "typical sigma_c = %.1f mol/m^3", n, chi2 / n, zsum / n, 100.0 * in2 / n,
	     r->sc[NPOS + NPOS / 2]);
	ok(chi2 / n > 0.75 && chi2 / n < 1.25, "c(x, t) back within the propagated errors "
	   "(chi2/N = %.3f)", chi2 / n);
	ok(fabs(zsum / n) < 0.35, "no bias (mean z = %.3f)", zsum / n);
	ok(in2 > 0.9 * n && in2 < 0.99 * n, "about 95 %% within 2 sigma");
}

/* the same quadrature applied to the true c at the measured points and
** times: a scan takes 800 s while c changes, so a raw scan does not
** conserve salt by itself, but its conversion must match the truth */
static double synth_quadrature(const synth *s, size_t f, double left, double right)
{
	xam_balance b;
	double sc[NPOS];
	char err[ERR_LEN] = "";
	for (int j = 0; j < NPOS; j++)
		sc[j] = 1;
	xam_salt_balance(s->x + f, s->ctrue + f, sc, NPOS, left, right, s->c0, &b, err);
	return b.total;
}

static void test_edges_balance(const synth *s, const xam_result *r)
{
	char err[ERR_LEN] = "";
	double left = 0, right = 0;
	xam_balance b;
	int good = 1;
	ok(xam_edges(s->x, r->A, NPOS, &left, &right, err) == 0, "edges (%s)", err);
	ok(fabs(left - s->xl) < STEP, "left edge %.1f um, true %.1f um",
	   left * 1e6, s->xl * 1e6);
	ok(fabs(right - s->xr) < STEP, "right edge %.1f um, true %.1f um",
	   right * 1e6, s->xr * 1e6);
	is_num(xam_position(s->xr - 1e-3, left, right, XAM_FROM_RIGHT), 1e-3, STEP,
	       "position from the right electrode");
	is_num(xam_position(s->xl + 1.5e-3, left, right, XAM_FROM_CENTRE), 0, STEP,
	       "position from the centre");
	for (size_t k = 1; k < r->nscans; k++) {
		size_t f = r->first[k];
		double want = synth_quadrature(s, f, left, right);
		xam_salt_balance(s->x + f, r->c + f, r->sc + f, NPOS, left, right,
				 s->c0, &b, err);
		if (fabs(b.total - want) > 3 * b.sd_total) {
			good = 0;
			diag("scan %zu: total %.5f, truth %.5f +/- %.5f mol/m^2", k + 1,
			     b.total, want, b.sd_total);
		}
	}
	ok(good, "integral of every scan matches the truth within errors");
}

/* at a common time a profile holds c0 times the gap */
static void test_balance_at(const synth *s, const double *X, const double *c,
			    const double *sc, double tq)
{
	char err[ERR_LEN] = "";
	xam_balance b;
	ok(xam_salt_balance(X, c, sc, NPOS, s->xl, s->xr, s->c0, &b, err) == 0,
	   "balance at %.0f s (%s)", tq, err);
	ok(fabs(b.excess) < 3 * b.sd_total, "salt balance at %.0f s: excess %.4f +/- "
	   "%.4f of %.4f mol/m^2", tq, b.excess, b.sd_total, b.expected);
}

static void test_time(const synth *s, const xam_result *r)
{
	char err[ERR_LEN] = "";
	double *T, *X, *C, *SC, c[NPOS], sc[NPOS], chi2 = 0;
	size_t npos;
	ok(xam_grid(r, s->t, s->x, 1e-9, &npos, &T, &X, &C, &SC, err) == 0 &&
	   npos == NPOS, "common grid of snake scans (%s)", err);
	ok(X[NPOS] < X[NPOS + 1], "grid rows ascend in x");
	ok(xam_interp_time(T, C, SC, NSCAN, npos, 6543, c, sc, err) == 0, "interpolate (%s)", err);
	for (size_t k = 0; k < npos; k++) {
		double z = (c[k] - synth_c(s, X[k], 6543)) / sc[k];
		chi2 += z * z;
	}
	ok(chi2 / npos < 1.6, "c at a common time within errors (chi2/N = %.3f)", chi2 / npos);
	for (size_t k = 2; k + 1 < NSCAN; k += 4) {
		xam_interp_time(T, C, SC, NSCAN, npos, r->t_mean[k], c, sc, err);
		test_balance_at(s, X, c, sc, r->t_mean[k]);
	}
	ok(xam_interp_time(T, C, SC, NSCAN, npos, 20000, c, sc, err) == -1 &&
	   strstr(err, "20000 s"), "time outside the scans (%s)", err);
	free(T);
	free(X);
	free(C);
	free(SC);
}

static void test_bad_convert(synth *s, const xam_opts *o)
{
	char err[ERR_LEN] = "";
	xam_result r;
	xam_opts p = *o;
	double keep = s->x[3 * NPOS + 5];
	s->x[3 * NPOS + 5] = 4.2e-3;	/* scan 4 leaves the reference's range */
	s->x[3 * NPOS + 4] = 4.25e-3;
	ok(xam_convert(o, s->t, s->x, s->I, s->I0, s->D, NPOS * NSCAN, &r, err) == -1 &&
	   strstr(err, "outside the reference scan 1"), "reference does not cover (%s)", err);
	xam_result_free(&r);
	s->x[3 * NPOS + 5] = keep;
	s->x[3 * NPOS + 4] = keep + STEP;
	p.reference = 40;
	ok(xam_convert(&p, s->t, s->x, s->I, s->I0, s->D, NPOS * NSCAN, &r, err) == -1 &&
	   strstr(err, "reference scan 41"), "no such reference (%s)", err);
	xam_result_free(&r);
	p = *o;
	p.thickness = 0;
	ok(xam_convert(&p, s->t, s->x, s->I, s->I0, s->D, NPOS * NSCAN, &r, err) == -1 &&
	   strstr(err, "thickness"), "zero thickness (%s)", err);
	xam_result_free(&r);
	keep = s->I0[100];
	s->I0[100] = 0;
	ok(xam_convert(o, s->t, s->x, s->I, s->I0, s->D, NPOS * NSCAN, &r, err) == -1 &&
	   strstr(err, "row 101") && strstr(err, "monitor"), "zero monitor (%s)", err);
	xam_result_free(&r);
	s->I0[100] = keep;
}

static void test_calibrate(const synth *s, const xam_result *r, double contrast)
{
	char err[ERR_LEN] = "";
	/* a uniform second reference at c1 made from the same model */
	double A1[NPOS], sA1[NPOS], k, sk;
	for (int j = 0; j < NPOS; j++) {
		A1[j] = r->A[j] + synth_A(s, s->x[j], 2200) - synth_A(s, s->x[j], s->c0);
		sA1[j] = r->sA[j];
	}
	ok(xam_calibrate(s->x, r->A, r->sA, NPOS, s->x, A1, sA1, NPOS, 330, s->d,
			 s->xl + 1e-4, s->xr - 1e-4, &k, &sk, err) == 0, "calibrate (%s)", err);
	is_num(k, contrast, 1e-9 * contrast, "empirical contrast equals the computed one");
}

int main(void)
{
	static synth s;
	char err[ERR_LEN] = "";
	xam_result r;
	xam_opts o;
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	gsl_rng_set(rng, 20200);
	test_absorbance();
	test_grouping();
	test_interp();
	if (synth_make(&s, rng) == 0) {
		o.c0 = s.c0;
		o.thickness = s.d;
		o.contrast = xam_contrast(s.sig_s, s.sig_e, s.Vs, s.Ve);
		o.reference = 0;
		diag("contrast %.5g m^2/mol at 20 keV", o.contrast);
		ok(xam_convert(&o, s.t, s.x, s.I, s.I0, s.D, NPOS * NSCAN, &r, err) == 0,
		   "convert (%s)", err);
		is_int((long)r.nscans, NSCAN, "scans found");
		is_num(r.t_mean[1], 1000 + 400, 1e-9, "mean time of scan 2");
		test_roundtrip(&s, &r);
		test_edges_balance(&s, &r);
		test_time(&s, &r);
		test_calibrate(&s, &r, o.contrast);
		xam_result_free(&r);
		test_bad_convert(&s, &o);
	}
	gsl_rng_free(rng);
	return tap_done();
}
