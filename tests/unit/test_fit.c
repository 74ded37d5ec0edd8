/*
** test_fit.c - the least-squares core: recovery of Eq. 1 parameters from
** noiseless and noisy curves, bounds, fixed parameters, error coverage
** over many seeds, determinism, numerical Jacobians and bad input.
*/
#include <math.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "fit.h"
#include "tap.h"

#define NT 120

/* multi-tau-like delays: 1..16 frames, then 8 per octave up to 4000 */
static size_t delays(double *tau, double dt)
{
	size_t n = 0;
	for (int k = 1; k <= 16; k++)
		tau[n++] = k * dt;
	for (double f = 18; f <= 4000 && n < NT; f *= pow(2, 1.0 / 8))
		tau[n++] = floor(f) * dt;
	return n;
}

static const double truth[6] = {1.0, 0.2, 0.5, 8.0, 1.0, 1.3};

static void noiseless(void)
{
	double tau[NT], y[NT], p0[6] = {1.0, 0.15, 0.4, 5.0, 0.9, 1.25};
	double lo[6] = {0.5, 0, 0, 1e-3, 0.2, 0}, hi[6] = {1.5, 2, 1, 1e4, 3, 60};
	size_t n = delays(tau, 0.05);
	char err[ERR_LEN] = "";
	fit_result r;
	fit_model_heterodyne(truth, 6, tau, n, y, NULL, NULL, err);
	fit_problem pb = {.model = fit_model_heterodyne, .np = 6, .n = n,
		.x = tau, .y = y, .p0 = p0, .lower = lo, .upper = hi,
		.scale_errors = -1};
	ok(fit_run(&pb, &r, err) == 0, "noiseless Eq. 1 fit runs (%s)", err);
	static const char *nm[6] = {"baseline", "beta", "h", "tau0", "gamma", "omega"};
	for (int j = 0; j < 6; j++)
		is_num(r.p[j], truth[j], 1e-6 * fabs(truth[j]),
		       "noiseless: %s recovered to 1e-6", nm[j]);
	ok(r.chi2 < 1e-20, "noiseless chi2 ~ 0 (%g)", r.chi2);
	ok(r.status == FIT_CONVERGED || r.status == FIT_NOPROGRESS,
	   "status %s", r.status_text);
	fit_result_free(&r);
}

static void bounds_and_fixed(void)
{
	double tau[NT], y[NT], p0[6] = {1.0, 0.12, 0.4, 5.0, 1.0, 1.25};
	double lo[6] = {0.5, 0, 0, 1e-3, 0.2, 0}, hi[6] = {1.5, 0.15, 1, 1e4, 3, 60};
	int fixed[6] = {1, 0, 0, 0, 1, 0};
	size_t n = delays(tau, 0.05);
	char err[ERR_LEN] = "";
	fit_result r;
	fit_model_heterodyne(truth, 6, tau, n, y, NULL, NULL, err);
	fit_problem pb = {.model = fit_model_heterodyne, .np = 6, .n = n,
		.x = tau, .y = y, .p0 = p0, .lower = lo, .upper = hi,
		.scale_errors = -1};
	ok(fit_run(&pb, &r, err) == 0, "fit with beta <= 0.15 runs");
	ok(r.p[1] <= 0.15 && r.p[1] > 0.149, "beta stays within its upper "
	   "bound and ends on it (%.9g)", r.p[1]);
	ok(r.at_bound[1] && !r.at_bound[3], "beta flagged at its bound, tau0 not");
	for (int j = 0; j < 6; j++)
		ok(r.p[j] >= lo[j] && r.p[j] <= hi[j], "parameter %d inside bounds", j);
	fit_result_free(&r);

	pb.upper = NULL;
	pb.lower = NULL;
	pb.fixed = fixed;
	p0[4] = 1.0;		/* gamma fixed at the truth */
	ok(fit_run(&pb, &r, err) == 0, "fit with baseline and gamma fixed");
	ok(r.p[0] == 1.0 && r.p[4] == 1.0, "fixed parameters keep their values");
	ok(r.err[0] == 0 && r.err[4] == 0, "fixed parameters have error 0");
	is_num(r.p[3], truth[3], 1e-6 * truth[3], "tau0 recovered with fixed gamma");
	is_num(r.p[5], truth[5], 1e-7, "omega recovered with fixed gamma");
	is_int((long)r.dof, (long)n - 4, "dof counts only free parameters");
	fit_result_free(&r);
}

/* Monte Carlo: Gaussian noise of known sigma, weights 1/sigma^2; the
** 1-sigma intervals must cover the truth about 68.3 % of the time and the
** mean reduced chi-square must be 1 */
static void coverage(void)
{
	enum { NS = 300 };
	double tau[NT], y0[NT], y[NT], w[NT];
	double lo[6] = {0.5, 0, 0, 1e-3, 0.2, 0}, hi[6] = {1.5, 2, 1, 1e4, 3, 60};
	int cover[6] = {0}, nok = 0;
	double chi = 0, bias[6] = {0};
	size_t n = delays(tau, 0.05);
	char err[ERR_LEN] = "";
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	fit_model_heterodyne(truth, 6, tau, n, y0, NULL, NULL, err);
	for (int s = 0; s < NS; s++) {
		double sig = 0.004, p0[6] = {1.0, 0.18, 0.45, 7.0, 1.1, 1.28};
		gsl_rng_set(rng, 1000 + s);
		for (size_t i = 0; i < n; i++) {
			double si = sig * (1 + 2 * (double)i / n);
			y[i] = y0[i] + gsl_ran_gaussian(rng, si);
			w[i] = 1 / (si * si);
		}
		fit_problem pb = {.model = fit_model_heterodyne, .np = 6,
			.n = n, .x = tau, .y = y, .weights = w, .p0 = p0,
			.lower = lo, .upper = hi, .scale_errors = -1};
		fit_result r;
		if (fit_run(&pb, &r, err))
			continue;
		nok++;
		chi += r.chi2_red;
		for (int j = 0; j < 6; j++) {
			cover[j] += fabs(r.p[j] - truth[j]) <= r.err[j];
			bias[j] += (r.p[j] - truth[j]) / r.err[j];
		}
		fit_result_free(&r);
	}
	gsl_rng_free(rng);
	is_int(nok, NS, "all %d noisy fits succeed", NS);
	/* binomial sd of the covered fraction: sqrt(.683 .317 / 300) = 2.7 % */
	for (int j = 0; j < 6; j++) {
		double f = (double)cover[j] / NS;
		ok(f > 0.683 - 4 * 0.027 && f < 0.683 + 4 * 0.027,
		   "parameter %d: 1-sigma errors cover the truth in %.1f %% of "
		   "seeds (68.3 expected)", j, 100 * f);
		ok(fabs(bias[j] / NS) < 4 / sqrt(NS), "parameter %d unbiased "
		   "(mean pull %.3f)", j, bias[j] / NS);
	}
	/* sd of the mean of chi2_red: sqrt(2/dof/NS) ~ 0.0075 */
	is_num(chi / NS, 1.0, 4 * sqrt(2.0 / (n - 6) / NS),
	       "mean reduced chi-square is 1");
}

static void determinism_and_scaling(void)
{
	double tau[NT], y[NT], p0[6] = {1.0, 0.18, 0.45, 7.0, 1.1, 1.28};
	size_t n = delays(tau, 0.05);
	char err[ERR_LEN] = "";
	gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
	fit_model_heterodyne(truth, 6, tau, n, y, NULL, NULL, err);
	for (size_t i = 0; i < n; i++)
		y[i] += gsl_ran_gaussian(rng, 0.003);
	gsl_rng_free(rng);
	fit_problem pb = {.model = fit_model_heterodyne, .np = 6, .n = n,
		.x = tau, .y = y, .p0 = p0, .scale_errors = -1};
	fit_result a, b;
	fit_run(&pb, &a, err);
	fit_run(&pb, &b, err);
	ok(memcmp(a.p, b.p, 6 * sizeof(double)) == 0 &&
	   memcmp(a.err, b.err, 6 * sizeof(double)) == 0,
	   "the same input gives bit-identical parameters and errors");
	/* unweighted: errors scaled by chi2_red, i.e. sigma estimated from
	** the residuals, so they match the weighted errors at sigma 0.003 */
	double w[NT];
	for (size_t i = 0; i < n; i++)
		w[i] = 1 / (0.003 * 0.003);
	pb.weights = w;
	fit_result_free(&b);
	fit_run(&pb, &b, err);
	for (int j = 1; j < 6; j++)
		ok(fabs(a.err[j] / b.err[j] - 1) < 0.25, "unweighted error of "
		   "%d is the residual-scaled one (ratio %.3f)", j,
		   a.err[j] / b.err[j]);
	fit_result_free(&a);
	fit_result_free(&b);
}

/* a model without derivatives (as from Lua): numerical Jacobian */
static int plain_homodyne(const double *p, size_t np, const double *x,
			  size_t n, double *y, double *J, void *ctx, char *err)
{
	(void)ctx;
	if (J != NULL)
		return 1;
	return fit_model_homodyne(p, np, x, n, y, NULL, NULL, err);
}

static int failing(const double *p, size_t np, const double *x, size_t n,
		   double *y, double *J, void *ctx, char *err)
{
	(void)p; (void)np; (void)x; (void)n; (void)y; (void)J; (void)ctx;
	return err_set(err, "boom");
}

static void other_models(void)
{
	double tau[NT], y[NT], t4[4] = {1.0, 0.25, 3.0, 0.7};
	double p4[4] = {1.0, 0.2, 1.0, 1.0}, lo4[4] = {0, 0, 1e-3, 0.1};
	double hi4[4] = {2, 1, 1e3, 2};
	size_t n = delays(tau, 0.05);
	char err[ERR_LEN] = "";
	fit_result r;
	fit_model_homodyne(t4, 4, tau, n, y, NULL, NULL, err);
	fit_problem pb = {.model = plain_homodyne, .np = 4, .n = n, .x = tau,
		.y = y, .p0 = p4, .lower = lo4, .upper = hi4, .scale_errors = -1};
	ok(fit_run(&pb, &r, err) == 0, "homodyne fit, numerical Jacobian");
	for (int j = 0; j < 4; j++)
		is_num(r.p[j], t4[j], 1e-6, "homodyne parameter %d", j);
	fit_result_free(&r);

	double t5[5] = {1.0, 0.1, 0.5, 0.15, 20}, p5[5] = {1, 0.12, 0.3, 0.1, 10};
	fit_model_double_exp(t5, 5, tau, n, y, NULL, NULL, err);
	fit_problem pd = {.model = fit_model_double_exp, .np = 5, .n = n,
		.x = tau, .y = y, .p0 = p5, .scale_errors = -1};
	ok(fit_run(&pd, &r, err) == 0, "double exponential fit");
	for (int j = 0; j < 5; j++)
		is_num(r.p[j], t5[j], 1e-6 * fabs(t5[j]) + 1e-9,
		       "double exponential parameter %d", j);
	fit_result_free(&r);

	/* analytic Jacobian of Eq. 1 against central differences */
	double p[6] = {1.01, 0.2, 0.3, 4.0, 0.8, 2.0}, J[6 * NT], y1[NT], y2[NT];
	double maxrel = 0;
	fit_model_heterodyne(p, 6, tau, n, y, J, NULL, err);
	for (int j = 0; j < 6; j++) {
		double q[6], h = 1e-6 * fabs(p[j]);
		memcpy(q, p, sizeof q);
		q[j] = p[j] + h;
		fit_model_heterodyne(q, 6, tau, n, y2, NULL, NULL, err);
		q[j] = p[j] - h;
		fit_model_heterodyne(q, 6, tau, n, y1, NULL, NULL, err);
		for (size_t i = 0; i < n; i++) {
			double fd = (y2[i] - y1[i]) / (2 * h);
			double d = fabs(fd - J[i * 6 + j]) / (fabs(fd) + 1e-3);
			if (d > maxrel)
				maxrel = d;
		}
	}
	ok(maxrel < 1e-5, "Eq. 1 analytic Jacobian matches differences (%.2g)",
	   maxrel);
}

static void bad_input(void)
{
	double tau[NT], y[NT], p0[6] = {1.0, 0.18, 0.45, 7.0, 1.1, 1.28};
	double lo[6] = {0.5, 0, 0, 1e-3, 0.2, 0}, hi[6] = {1.5, 0.1, 1, 1e4, 3, 60};
	size_t n = delays(tau, 0.05);
	char err[ERR_LEN] = "";
	fit_result r;
	const char *names[6] = {"baseline", "beta", "h", "tau0", "gamma", "omega"};
	fit_model_heterodyne(truth, 6, tau, n, y, NULL, NULL, err);
	fit_problem pb = {.model = fit_model_heterodyne, .np = 6, .n = n,
		.x = tau, .y = y, .p0 = p0, .lower = lo, .upper = hi,
		.names = names, .scale_errors = -1};
	ok(fit_run(&pb, &r, err) == -1 && strstr(err, "beta") &&
	   strstr(err, "outside"), "start outside bounds names it: %s", err);
	hi[1] = -1;
	p0[1] = -1;
	lo[1] = -1;
	ok(fit_run(&pb, &r, err) == -1 && strstr(err, "empty"),
	   "empty bounds: %s", err);
	hi[1] = 2;
	lo[1] = 0;
	p0[1] = 0.18;
	pb.n = 5;
	ok(fit_run(&pb, &r, err) == -1 && strstr(err, "5 points"),
	   "too few points: %s", err);
	pb.n = n;
	y[3] = NAN;
	ok(fit_run(&pb, &r, err) == -1 && strstr(err, "point 4"),
	   "NaN data named: %s", err);
	y[3] = 1.2;
	pb.model = failing;
	ok(fit_run(&pb, &r, err) == -1 && strstr(err, "boom"),
	   "a failing model reports its message: %s", err);
	size_t np;
	fit_model_fn fn;
	const char *const *nm;
	ok(fit_native("heterodyne", &fn, &np, &nm, err) == 0 && np == 6 &&
	   fn == fit_model_heterodyne && strcmp(nm[5], "omega") == 0,
	   "native model lookup");
	ok(fit_native("nope", &fn, &np, &nm, err) == -1 && strstr(err, "nope"),
	   "unknown native model: %s", err);
}

int main(void)
{
	noiseless();
	bounds_and_fixed();
	coverage();
	determinism_and_scaling();
	other_models();
	bad_input();
	return tap_done();
}
