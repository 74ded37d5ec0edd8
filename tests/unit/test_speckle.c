/*
** test_speckle.c - the heterodyne speckle simulator against paper Eq. 1.
**
** The pixel-ensemble g2 of simulated frames, computed here by a direct
** correlation normalised by the true mean intensity, must equal
**   1 + beta [(1-h)^2 + h^2 f^2 + 2 h (1-h) f <cos(omega_p tau)>_p]
** with beta = 1/modes, f the moving field's correlation and omega_p each
** pixel's q.v, within the statistical error estimated from the spread over
** pixels.
*/
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "geom.h"
#include "speckle.h"
#include "tap.h"

static const size_t lags[] = {1, 2, 3, 5, 8, 13, 20, 30, 50, 80, 120, 200};
#define NLAG (sizeof lags / sizeof *lags)

static speckle_params base_params(double *vel, size_t nframes, double v)
{
	speckle_params p;
	memset(&p, 0, sizeof p);
	p.geom = (geom){.energy_keV = 10, .distance = 5, .pixel_x = 75e-6,
		.pixel_y = 75e-6, .center_x = 31.5, .center_y = 31.5,
		.rows = 64, .cols = 64};
	p.nframes = nframes;
	p.frame_time = 0.05;
	for (size_t t = 0; t < nframes; t++)
		vel[t] = v;
	p.velocity = vel;
	p.flow_angle = 0.3;
	p.tau0 = 1.0;
	p.gamma = 1;
	p.h = 0.5;
	p.modes = 4;
	p.mean_counts = 5;
	p.poisson = 0;
	p.seed = 42;
	return p;
}

/* per-pixel time averages G[l][i] = <I(t) I(t+lag)>_t / I0^2 */
static double *direct_corr(const speckle_params *p, const float *fr)
{
	size_t npix = p->geom.rows * p->geom.cols, T = p->nframes;
	double I0 = p->mean_counts, *G = malloc(sizeof(double) * NLAG * npix);
	#pragma omp parallel for
	for (size_t i = 0; i < npix; i++)
		for (size_t l = 0; l < NLAG; l++) {
			double acc = 0;
			size_t k = lags[l];
			for (size_t t = 0; t + k < T; t++)
				acc += (double)fr[t * npix + i] * fr[(t + k) * npix + i];
			G[l * npix + i] = acc / (T - k) / (I0 * I0);
		}
	return G;
}

/* Eq. 1 for the pixel ensemble, beta scaled by bscale */
static double eq1_ensemble(const speckle_params *p, const speckle_mix *mix,
			   const double *K, size_t k, double bscale)
{
	size_t npix = p->geom.rows * p->geom.cols;
	double tau = k * p->frame_time, f = speckle_field_corr(mix, tau);
	double beta = bscale / p->modes, h = p->h, C = 0;
	for (size_t i = 0; i < npix; i++)
		C += cos(K[i] * p->velocity[0] * tau);
	C /= npix;
	return 1 + beta * ((1 - h) * (1 - h) + h * h * f * f +
			   2 * h * (1 - h) * f * C);
}

/* z-scores of the ensemble g2 against Eq. 1 with beta scaled by bscale:
** zfull for g2 itself, zdiff for g2(lag) - g2(last lag), which cancels
** the frozen static speckle's pixel-to-pixel scatter and so tests the
** dynamic terms precisely */
static void check_eq1(const speckle_params *p, const double *G,
		      double bscale, double *zfull, double *zdiff)
{
	speckle_mix mix;
	char err[ERR_LEN] = "";
	size_t npix = p->geom.rows * p->geom.cols;
	double *K = malloc(sizeof(double) * npix);
	const double *Gr = G + (NLAG - 1) * npix;
	speckle_check(p, &mix, err);
	for (size_t r = 0; r < p->geom.rows; r++)
		for (size_t c = 0; c < p->geom.cols; c++) {
			geom_px px;
			geom_pixel(&p->geom, (double)r, (double)c, &px);
			K[r * p->geom.cols + c] = px.qx * cos(p->flow_angle) +
						  px.qy * sin(p->flow_angle);
		}
	double wref = eq1_ensemble(p, &mix, K, lags[NLAG - 1], bscale);
	*zfull = *zdiff = 0;
	for (size_t l = 0; l < NLAG; l++) {
		const double *Gl = G + l * npix;
		double want = eq1_ensemble(p, &mix, K, lags[l], bscale);
		double m = 0, d = 0, s2 = 0, d2 = 0;
		for (size_t i = 0; i < npix; i++) {
			m += Gl[i];
			d += Gl[i] - Gr[i];
		}
		m /= npix;
		d /= npix;
		for (size_t i = 0; i < npix; i++) {
			s2 += (Gl[i] - m) * (Gl[i] - m);
			d2 += (Gl[i] - Gr[i] - d) * (Gl[i] - Gr[i] - d);
		}
		double z = (m - want) / sqrt(s2 / (npix - 1) / npix);
		if (fabs(z) > *zfull)
			*zfull = fabs(z);
		if (l + 1 < NLAG) {
			z = (d - (want - wref)) / sqrt(d2 / (npix - 1) / npix);
			if (fabs(z) > *zdiff)
				*zdiff = fabs(z);
		}
	}
	free(K);
}

static void eq1_cases(void)
{
	size_t T = 1000, npix = 64 * 64;
	double *vel = malloc(sizeof(double) * T);
	float *fr = malloc(sizeof(float) * T * npix);
	char err[ERR_LEN] = "";
	struct { double v, h, gamma; int modes, poisson; const char *name; } cs[] = {
		{1e-8, 0.5, 1, 4, 0, "h 0.5, 4 modes, v 100 A/s"},
		{2e-8, 0.3, 1, 2, 1, "h 0.3, 2 modes, Poisson counts"},
		{1e-8, 0.7, 0.6, 2, 0, "gamma 0.6 (OU mixture)"},
		{0, 1.0, 1, 3, 0, "pure homodyne h = 1"},
		{0, 0.4, 1, 2, 0, "no flow, 2 modes"},
	};
	for (size_t c = 0; c < sizeof cs / sizeof *cs; c++) {
		speckle_params p = base_params(vel, T, cs[c].v);
		p.h = cs[c].h;
		p.gamma = cs[c].gamma;
		p.modes = cs[c].modes;
		p.poisson = cs[c].poisson;
		p.seed = 7 + c;
		if (!ok(speckle_simulate(&p, fr, ARR_F32, err) == 0,
			"simulate %s (%s)", cs[c].name, err))
			continue;
		double zf, zd, zf3, zd3, *G = direct_corr(&p, fr);
		check_eq1(&p, G, 1, &zf, &zd);
		ok(zf < 4 && zd < 4, "%s: ensemble g2 = Eq. 1 at %zu lags (max "
		   "|z| %.2f, of differences %.2f)", cs[c].name, NLAG, zf, zd);
		check_eq1(&p, G, 1.05, &zf3, &zd3);
		ok(zd3 > 4, "%s: a 5 %% error in beta would be seen "
			   "(max |z| of differences %.1f)", cs[c].name, zd3);
		free(G);
		double s = 0;
		for (size_t i = 0; i < T * npix; i++)
			s += fr[i];
		/* the static speckle is frozen, so the mean over a finite
		** detector scatters by about sqrt(1/modes/npix) */
		is_num(s / (T * npix) / p.mean_counts, 1, 4 * sqrt(1.0 / npix),
		       "%s: mean intensity", cs[c].name);
	}
	free(vel);
	free(fr);
}

static void determinism(void)
{
	size_t T = 200, npix = 64 * 64;
	double *vel = malloc(sizeof(double) * T);
	uint16_t *a = malloc(2 * T * npix), *b = malloc(2 * T * npix);
	char err[ERR_LEN] = "";
	speckle_params p = base_params(vel, T, 5e-8);
	p.poisson = 1;
	omp_set_num_threads(1);
	speckle_simulate(&p, a, ARR_U16, err);
	omp_set_num_threads(2);
	speckle_simulate(&p, b, ARR_U16, err);
	ok(memcmp(a, b, 2 * T * npix) == 0, "frames do not depend on the "
	   "number of threads");
	p.seed = 43;
	speckle_simulate(&p, b, ARR_U16, err);
	ok(memcmp(a, b, 2 * T * npix) != 0, "another seed, other frames");
	/* timing, for the record (not a timed test) */
	double t0 = omp_get_wtime();
	speckle_simulate(&p, a, ARR_U16, err);
	double dt = omp_get_wtime() - t0;
	diag("64x64x200, 4 modes, Poisson: %.3f s, %.1f M pixel-frames/s on "
	     "%d threads", dt, npix * T / dt / 1e6, omp_get_max_threads());
	free(vel);
	free(a);
	free(b);
}

/* Poisson sampler: mean and variance for small and large means */
static void poisson(void)
{
	double lams[] = {0.3, 4.0, 9.9, 10.1, 57.0, 800.0};
	for (size_t j = 0; j < sizeof lams / sizeof *lams; j++) {
		double s = 0, s2 = 0, lam = lams[j];
		int n = 200000;
		for (int i = 0; i < n; i++) {
			double k = (double)speckle_poisson(lam, 3, (uint64_t)i);
			s += k;
			s2 += k * k;
		}
		double m = s / n, v = s2 / n - m * m;
		is_num(m, lam, 4 * sqrt(lam / n), "Poisson(%g) mean", lam);
		is_num(v, lam, 4 * lam * sqrt(2.0 / n + 1.0 / (lam * n)),
		       "Poisson(%g) variance", lam);
	}
	double s = 0, s4 = 0;
	for (unsigned i = 0; i < 4096; i++) {
		double z = speckle_normal_table(i);
		s += z * z;
		s4 += z * z * z * z;
	}
	is_num(s / 4096, 1, 1e-6, "normal table has unit variance");
	is_num(s4 / 4096, 3, 0.01, "normal table kurtosis 3 (%.4f)", s4 / 4096);
}

static void mixture_and_truth(void)
{
	double vel[4] = {1e-8, 1e-8, -2e-8, 0}, x[4];
	char err[ERR_LEN] = "";
	speckle_params p = base_params(vel, 4, 0);
	vel[0] = 1e-8; vel[1] = 1e-8; vel[2] = -2e-8; vel[3] = 0;
	speckle_displacement(&p, x);
	ok(x[0] == 0 && fabs(x[2] - 1e-9) < 1e-24 && fabs(x[3] + 0) < 1e-24,
	   "displacement integrates piecewise velocity");
	for (double g = 0.3; g < 0.95; g += 0.1) {
		speckle_mix m;
		p.gamma = g;
		speckle_check(&p, &m, err);
		ok(m.max_err < 2e-3, "gamma %.1f: OU mixture within %.1e of the "
		   "stretched exponential", g, m.max_err);
	}
	speckle_mix m;
	p.gamma = 1;
	speckle_check(&p, &m, err);
	ok(m.n == 1 && m.rate[0] == 1 / p.tau0, "gamma 1 is one OU field");
}

static void bad_input(void)
{
	double vel[10] = {0};
	uint16_t out[10 * 64 * 64];
	char err[ERR_LEN] = "";
	speckle_params p = base_params(vel, 10, 0);
	p.gamma = 1.5;
	ok(speckle_simulate(&p, out, ARR_U16, err) == -1 && strstr(err, "gamma"),
	   "gamma > 1 refused: %s", err);
	p.gamma = 1;
	p.h = 1.2;
	ok(speckle_simulate(&p, out, ARR_U16, err) == -1 && strstr(err, "h "),
	   "h > 1 refused: %s", err);
	p.h = 0.5;
	p.modes = 0;
	ok(speckle_simulate(&p, out, ARR_U16, err) == -1 && strstr(err, "modes"),
	   "0 modes refused: %s", err);
	p.modes = 2;
	p.geom.distance = 0;
	ok(speckle_simulate(&p, out, ARR_U16, err) == -1 && strstr(err, "distance"),
	   "zero distance refused: %s", err);
	p.geom.distance = 5;
	vel[4] = NAN;
	ok(speckle_simulate(&p, out, ARR_U16, err) == -1 &&
	   strstr(err, "frame 5"), "NaN velocity named: %s", err);
	vel[4] = 0;
	p.mean_counts = 1e6;
	p.poisson = 1;
	ok(speckle_simulate(&p, out, ARR_U16, err) == -1 && strstr(err, "overflow"),
	   "counts overflowing u16: %s", err);
	p.mean_counts = 5;
	ok(speckle_simulate(&p, out, ARR_I32, err) == -1 && strstr(err, "dtype"),
	   "unsupported dtype: %s", err);
}

/* the u16 frames of xpcs.poisson: the same draws as speckle_poisson,
** whatever the number of threads, Poisson by a chi-square test against
** the pmf, and a mean out of range refused by value */
static void poisson_u16(void)
{
	enum { N = 100000, KMAX = 12 };
	static uint16_t a[N], b[N];
	double count[KMAX + 1] = {0}, chi2 = 0, pk = exp(-4.0), tail = 1;
	char err[512];
	int same = 1, nt = omp_get_max_threads();
	omp_set_num_threads(1);
	ok(speckle_poisson_u16(a, N, 4.0, 7, err) == 0, "u16 counts, 1 thread");
	omp_set_num_threads(nt > 1 ? nt : 2);
	speckle_poisson_u16(b, N, 4.0, 7, err);
	omp_set_num_threads(nt);
	for (size_t i = 0; i < N; i++) {
		same &= a[i] == b[i] && a[i] == speckle_poisson(4.0, 7, i);
		count[a[i] < KMAX ? a[i] : KMAX]++;
	}
	ok(same, "u16 counts: speckle_poisson's, for any number of threads");
	for (int k = 0; k <= KMAX; k++) {	/* the last cell: k >= KMAX */
		double e = N * (k < KMAX ? pk : tail);
		chi2 += (count[k] - e) * (count[k] - e) / e;
		tail -= pk;
		pk *= 4.0 / (k + 1);
	}
	/* 13 cells, 12 degrees of freedom: the 99.9 % quantile is 32.9 */
	ok(chi2 < 32.9, "u16 counts are Poisson(4): chi2 %.1f on 12 dof", chi2);
	ok(speckle_poisson_u16(a, 4, -1, 1, err) != 0 && strstr(err, "-1"),
	   "a negative mean is refused by value (%s)", err);
	ok(speckle_poisson_u16(a, 4, NAN, 1, err) != 0, "a NaN mean is refused");
	ok(speckle_poisson_u16(a, 4, 1e5, 1, err) != 0 && strstr(err, "100000"),
	   "a mean past the u16 range is refused (%s)", err);
}

int main(void)
{
	eq1_cases();
	determinism();
	poisson();
	poisson_u16();
	mixture_and_truth();
	bad_input();
	return tap_done();
}
