/*
** test_cell.c - the continuum model against closed-form solutions.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_interp.h>

#include "cell.h"
#include "intr.h"
#include "tap.h"

#define F CELL_F
#define R CELL_R

/* c - c0 of the constant-current, constant-property, V_salt = 0 problem
** (zero anion flux, D dc/dx = -t-0 i / F at both ends), from the cosine
** series: (g/D) [ (L/2 - x) - (4L/pi^2) sum_odd e^{-n^2 pi^2 D t/L^2}
** cos(n pi x / L) / n^2 ], g = t-0 i / F */
static double series(double x, double t, double L, double D, double tm,
		     double i)
{
	double g = tm * i / F, s = 0;
	int n;
	for (n = 1; n < 20001; n += 2)
		s += exp(-n * n * M_PI * M_PI * D * t / (L * L)) *
			cos(n * M_PI * x / L) / ((double)n * n);
	return (g / D) * ((L / 2 - x) - 4 * L / (M_PI * M_PI) * s);
}

/* a constant-property parameter set holding one value for the whole run */
static void setup(cell_params *p, cell_segment *seg, cell_hold hold,
		  double value)
{
	cell_params_init(p);
	p->L = 1e-3;
	p->c0 = 1000;
	p->T = 363.15;
	p->D = cell_const_prop(1e-11);
	p->tp = cell_const_prop(0.2);
	p->kappa = cell_const_prop(0.05);
	p->V_salt = 0;
	memset(seg, 0, sizeof *seg);
	seg->hold = hold;
	seg->value = value;
	seg->t_end = INFINITY;
	p->seg = seg;
	p->nseg = 1;
}

/* max |c - series| over the cell centres at time t for N cells */
static double series_error(size_t N, double refine, double t)
{
	cell_params p;
	cell_segment seg;
	cell_out o = {0};
	char err[ERR_LEN] = "";
	double *xf = malloc((N + 1) * sizeof(double));
	double *xc = malloc(N * sizeof(double)), *c = malloc(N * sizeof(double));
	double worst = 0, I = 1.0;
	size_t j;
	setup(&p, &seg, CELL_HOLD_I, I);
	p.N = N;
	p.refine = refine;
	p.rtol = 1e-10;
	p.atol = 1e-10 * p.c0;
	cell_grid(N, p.L, refine, xf, err);
	for (j = 0; j < N; j++)
		xc[j] = 0.5 * (xf[j] + xf[j + 1]);
	o.c = c;
	if (cell_run(&p, &t, 1, xc, N, &o, err) != 0) {
		diag("%s", err);
		worst = NAN;
	} else {
		for (j = 0; j < N; j++) {
			double want = p.c0 + series(xc[j], t, p.L, 1e-11, 0.8, I);
			worst = fmax(worst, fabs(c[j] - want));
		}
	}
	free(xf);
	free(xc);
	free(c);
	return worst;
}

static void test_series(void)
{
	double t = 0.05 * 1e-6 / 1e-11, e1, e2, e3, r1, r2, amp;
	amp = fabs(series(0, t, 1e-3, 1e-11, 0.8, 1.0));
	e1 = series_error(25, 1, t);
	e2 = series_error(50, 1, t);
	e3 = series_error(100, 1, t);
	r1 = e1 / e2;
	r2 = e2 / e3;
	diag("series: amplitude %.4g, errors N=25 %.3g, 50 %.3g, 100 %.3g "
	     "mol/m^3", amp, e1, e2, e3);
	ok(e3 < 1e-3 * amp, "series solution: N = 100 error %.2g below 1e-3 of "
	   "the amplitude", e3);
	ok(r1 > 3.5 && r1 < 4.5 && r2 > 3.5 && r2 < 4.5,
	   "second-order convergence in N (ratios %.3f, %.3f)", r1, r2);
	e1 = series_error(40, 3, t);
	e2 = series_error(80, 3, t);
	ok(e1 / e2 > 3.5 && e1 / e2 < 4.5,
	   "refined grid (ratio 3) also second order (ratio %.3f)", e1 / e2);
}

/* steady state at constant current with V_salt > 0: J = 0 everywhere, so
** 1 - c V_salt = A e^{k x}, k = V_salt t-0 i / (F D), A from salt balance */
static void test_exponential(void)
{
	cell_params p;
	cell_segment seg;
	cell_out o = {0};
	char err[ERR_LEN] = "";
	enum { NX = 7 };
	double x[NX], c[NX], J[NX], t, Vs = 1.35e-4, k, A, worst = 0, span;
	double D = 1e-11, tm = 0.8, I = 0.5 / 1e-3 * F * D / (1.35e-4 * tm);
	int m;
	setup(&p, &seg, CELL_HOLD_I, I);
	p.V_salt = Vs;
	p.c0 = 0.5 / Vs;
	p.rtol = 1e-9;
	p.N = 400;
	k = Vs * tm * I / (F * D);
	A = (1 - p.c0 * Vs) * k * p.L / expm1(k * p.L);
	t = 4 * p.L * p.L / D;
	for (m = 0; m < NX; m++)
		x[m] = p.L * m / (NX - 1);
	o.c = c;
	o.J = J;
	if (!ok(cell_run(&p, &t, 1, x, NX, &o, err) == 0, "steady run: %s", err))
		return;
	span = (1 - A) / Vs - (1 - A * exp(k * p.L)) / Vs;
	for (m = 0; m < NX; m++) {
		double want = (1 - A * exp(k * x[m])) / Vs;
		worst = fmax(worst, fabs(c[m] - want));
	}
	diag("exponential steady state: kL = %.3f, span %.4g, max error %.3g "
	     "mol/m^3", k * p.L, span, worst);
	ok(worst < 1e-4 * span, "V_salt > 0 steady profile is the exponential "
	   "(error %.2g of the span)", worst / span);
	/* what remains of J is the time-integration error (rtol 1e-9) */
	ok(fabs(J[NX / 2]) < 1e-6 * tm * I / F, "anion flux vanishes in the "
	   "steady state (J = %.3g vs t-0 i / F = %.3g)", J[NX / 2], tm * I / F);
}

/* ideal binary salt: kappa = F^2 c0 D / (2 R T t+ t-) makes the
** Bruce-Vincent ratio exactly t+ at small V (no interfacial resistance) */
static void test_bruce_vincent(void)
{
	double tps[] = {0.1, 0.3, 0.7};
	int n;
	for (n = 0; n < 3; n++) {
		cell_params p;
		cell_segment seg;
		cell_out o = {0};
		char err[ERR_LEN] = "";
		double tp = tps[n], kap, times[2], cur[2], D = 1e-11, iss;
		setup(&p, &seg, CELL_HOLD_V, 1e-4);
		kap = F * F * p.c0 * D / (2 * R * p.T * tp * (1 - tp));
		p.tp = cell_const_prop(tp);
		p.kappa = cell_const_prop(kap);
		p.rtol = 1e-8;
		times[0] = 0;
		times[1] = 4 * p.L * p.L / D;
		o.i = cur;
		if (!ok(cell_run(&p, times, 2, NULL, 0, &o, err) == 0,
			"Bruce-Vincent run: %s", err))
			continue;
		is_num(cur[0], 1e-4 * kap / p.L, 1e-12 * cur[0],
		       "i_0 = V kappa / L");
		is_num(cur[1] / cur[0], tp, 2e-4, "i_ss / i_0 = t+ = %.1f", tp);
		cell_steady_current(1e-4, p.L, p.c0, p.T, D, tp, kap, 0, &iss,
				    err);
		is_num(cur[1] / iss, 1, 1e-5, "i_ss equals the closed-form "
		       "steady current (t+ = %.1f)", tp);
	}
}

/* large-V steady state, V = i (R_int + L/kappa) + (2RT/F) t-0 ln(...) */
static double large_v(size_t N, double *want)
{
	cell_params p;
	cell_segment seg;
	cell_out o = {0};
	char err[ERR_LEN] = "";
	double t, cur, D = 1e-11;
	setup(&p, &seg, CELL_HOLD_V, 0.3);
	p.R_int = 2e-3;
	p.kappa = cell_const_prop(0.02);
	p.N = N;
	p.rtol = 1e-9;
	t = 4 * p.L * p.L / D;
	o.i = &cur;
	if (cell_run(&p, &t, 1, NULL, 0, &o, err) != 0) {
		diag("%s", err);
		return NAN;
	}
	cell_steady_current(0.3, p.L, p.c0, p.T, D, 0.2, 0.02, 2e-3, want, err);
	return cur;
}

static void test_large_v(void)
{
	double want, i1 = large_v(100, &want), i2 = large_v(200, &want);
	double a = 0.8 * want * 1e-3 / (2 * F * 1e-11);
	diag("large V: c(L)/c0 = %.3f, i(100) %.8g, i(200) %.8g, closed form "
	     "%.8g A/m^2", 1 - a / 1000, i1, i2, want);
	ok(a / 1000 > 0.5, "the steady state is far from linear response");
	/* the discrete steady profile is exactly linear and the half-cell
	** terms integrate it exactly, so only the time error remains */
	is_num(i2 / want, 1, 1e-7, "large-V steady current matches the "
	       "closed form (N = 200)");
	is_num(i1 / want, 1, 1e-7, "and at N = 100");
}

/* polarize at constant current, then rest at I = 0: the difference
** c(0) - c(L) decays as exp(-pi^2 D t / L^2) */
static void test_restricted(void)
{
	cell_params p;
	cell_segment seg[2];
	cell_out o = {0};
	char err[ERR_LEN] = "";
	double D = 1e-11, tau, times[3], x[2], c[6], cur[3], r1, r2, rate;
	setup(&p, seg, CELL_HOLD_I, 1.0);
	p.V_salt = 1.35e-4;	/* no effect at rest with constant D */
	tau = p.L * p.L / D;
	seg[0].t_end = 0.3 * tau;
	seg[1] = seg[0];
	seg[1].value = 0;
	seg[1].t_end = INFINITY;
	p.nseg = 2;
	p.rtol = 1e-9;
	p.atol = 1e-12 * p.c0;
	times[0] = 0.3 * tau + 0.4 * tau;
	times[1] = times[0] + 0.1 * tau;
	times[2] = times[0] + 0.2 * tau;
	x[0] = 0;
	x[1] = p.L;
	o.c = c;
	o.i = cur;
	if (!ok(cell_run(&p, times, 3, x, 2, &o, err) == 0, "rest run: %s", err))
		return;
	r1 = log((c[0] - c[1]) / (c[2] - c[3])) / (0.1 * tau);
	r2 = log((c[2] - c[3]) / (c[4] - c[5])) / (0.1 * tau);
	rate = M_PI * M_PI * D / (p.L * p.L);
	is_num(cur[1], 0, 0, "no current while resting");
	is_num(r1 / rate, 1, 1e-4, "restricted diffusion decays at "
	       "pi^2 D / L^2");
	is_num(r2 / rate, 1, 1e-4, "and keeps that single rate");
}

/* strongly concentration-dependent properties */
static double d_of_c(void *ud, double c) { (void)ud; return 1e-11 * pow(c / 1000, 3); }
static double tp_of_c(void *ud, double c) { (void)ud; return 0.6 - 0.5 * (c - 1000) / 1000; }
static double k_of_c(void *ud, double c) { (void)ud; return 0.05 * (c / 1000) * exp(-(c - 1000) / 500); }
static double tf_of_c(void *ud, double c) { (void)ud; return 1 + 0.5 * c / 1000; }

static void test_conservation(void)
{
	cell_params p;
	cell_segment seg[2];
	cell_out o = {0};
	char err[ERR_LEN] = "";
	enum { NT = 12 };
	double times[NT], salt[NT], V[NT], cur[NT], worst = 0;
	int k;
	setup(&p, seg, CELL_HOLD_V, 0.3);
	p.D.f = d_of_c;
	p.tp.f = tp_of_c;
	p.kappa.f = k_of_c;
	p.Tf.f = tf_of_c;
	p.V_salt = 1.35e-4;
	p.R_int = 1e-3;
	p.i0_pos = 2;
	p.i0_neg = 5;
	p.refine = 4;
	p.N = 150;
	seg[0].t_end = 0.5 * p.L * p.L / 1e-11;
	seg[1] = seg[0];
	seg[1].hold = CELL_HOLD_I;
	seg[1].value = 0;
	seg[1].t_end = INFINITY;
	p.nseg = 2;
	for (k = 0; k < NT; k++)
		times[k] = k * 0.1 * p.L * p.L / 1e-11;
	o.salt = salt;
	o.V = V;
	o.i = cur;
	if (!ok(cell_run(&p, times, NT, NULL, 0, &o, err) == 0,
		"c-dependent run: %s (%zu steps)", err, o.steps))
		return;
	for (k = 0; k < NT; k++)
		worst = fmax(worst, fabs(salt[k] / salt[0] - 1));
	diag("conservation: %zu steps, %zu rejected, %zu Newton; worst drift "
	     "%.3g; i(0) %.4g, i(end of polarization) %.4g A/m^2", o.steps,
	     o.rejected, o.newton, worst, cur[0], cur[5]);
	ok(worst < 1e-10, "salt conserved to 1e-10 relative (%.2g)", worst);
	is_num(salt[0], 1000 * p.L, 1e-12, "salt at t = 0 is c0 L");
	is_num(V[3], 0.3, 1e-9, "the voltage held is the model's voltage");
	ok(cur[5] < 0.9 * cur[0], "the current decays under polarization");
}

/* a milder c-dependent problem for the convergence study (the one above
** depletes so strongly that N <= 200 is not yet asymptotic), with a
** strongly c-dependent thermodynamic factor */
static double d2_of_c(void *ud, double c) { (void)ud; return 1e-11 * (1 + 0.3 * (c - 1000) / 1000); }
static double tp2_of_c(void *ud, double c) { (void)ud; return 0.3 - 0.2 * (c - 1000) / 1000; }
static double k2_of_c(void *ud, double c) { (void)ud; return 0.05 * c / 1000; }
static double tf2_of_c(void *ud, double c) { (void)ud; return 1 + 1.5 * (c / 1000) * (c / 1000); }

/* the current and the electrode concentrations c(0), c(L) at t_end, at
** constant V with a growing film R_int(t) */
static int nonconst_run(size_t N, double q[3])
{
	cell_params p;
	cell_segment seg;
	cell_out o = {0};
	char err[ERR_LEN] = "";
	double t = 5000, x[2] = {0, 1e-3}, c[2];
	setup(&p, &seg, CELL_HOLD_V, 0.2);
	p.D.f = d2_of_c;
	p.tp.f = tp2_of_c;
	p.kappa.f = k2_of_c;
	p.Tf.f = tf2_of_c;
	p.V_salt = 1.35e-4;
	p.R_int = 1e-3;
	p.Rt.R_growth = 2e-3;
	p.Rt.t_growth = t;
	p.Rt.p_growth = 0.5;
	p.N = N;
	p.rtol = 1e-11;
	p.atol = 1e-11 * p.c0;
	o.i = &q[0];
	o.c = c;
	if (cell_run(&p, &t, 1, x, 2, &o, err) != 0) {
		diag("%s", err);
		return -1;
	}
	q[1] = c[0];
	q[2] = c[1];
	return 0;
}

/* second order in N with every property c-dependent, Tf(c) included:
** successive differences of the current and of the electrode
** concentrations shrink fourfold */
static void test_convergence_nonconst(void)
{
	const char *what[3] = {"current", "c(0)", "c(L)"};
	size_t Ns[4] = {20, 40, 80, 160}, k;
	double q[4][3];
	for (k = 0; k < 4; k++)
		if (nonconst_run(Ns[k], q[k]) != 0) {
			ok(0, "c-dependent run with N = %zu", Ns[k]);
			return;
		}
	for (k = 0; k < 3; k++) {
		double r1 = (q[0][k] - q[1][k]) / (q[1][k] - q[2][k]);
		double r2 = (q[1][k] - q[2][k]) / (q[2][k] - q[3][k]);
		ok(r1 > 3.5 && r1 < 4.5 && r2 > 3.5 && r2 < 4.5,
		   "Tf(c), D(c), t+0(c), kappa(c), R_int(t): %s second order "
		   "in N (difference ratios %.3f, %.3f)", what[k], r1, r2);
	}
}

/* frames: v0 = -V_salt J, vm = -eps v0, lab = interface + v_int */
static void test_frames(void)
{
	cell_params p;
	cell_segment seg;
	cell_out o = {0};
	char err[ERR_LEN] = "";
	double t[2] = {0, 3000}, x[3] = {0.25e-3, 0.5e-3, 0.9e-3};
	double c[6], J[6], v0[6], vm[6], v0l[6], vml[6], vr[6], vi[2], cur[2];
	double Vs = 1.35e-4, eps;
	int m;
	setup(&p, &seg, CELL_HOLD_I, 9.0);
	p.V_salt = Vs;
	p.c0 = 1870;
	o.c = c; o.J = J; o.v0 = v0; o.vm = vm; o.v0_lab = v0l; o.vm_lab = vml;
	o.vm_rel = vr; o.v_int = vi; o.i = cur;
	if (!ok(cell_run(&p, t, 2, x, 3, &o, err) == 0, "frames run: %s", err))
		return;
	is_num(J[1], -0.8 * 9.0 / F, 1e-15, "t = 0: J = -t-0 i / F");
	is_num(v0[1], Vs * 0.8 * 9.0 / F, 1e-20, "t = 0: v0 = V_salt t-0 i / F");
	is_num(vi[0], -(9.0 / F) * 6.941e-3 / 534, 1e-22,
	       "interface velocity -(i/F) M_Li / rho_Li");
	for (m = 3; m < 6; m++) {
		eps = (1 - c[m] * Vs) / (Vs * c[m]);
		is_num(vm[m] / v0[m], -eps, 1e-9, "vm = -eps v0 at x = %.2f mm "
		       "(paper Eq. 3)", x[m - 3] * 1e3);
	}
	is_num(v0l[4] - v0[4], vi[1], 1e-22, "lab frame adds the interface "
	       "velocity (solvent)");
	is_num(vml[4] - vm[4], vi[1], 1e-22, "lab frame adds the interface "
	       "velocity (anion)");
	is_num(vr[4], vm[4] - v0[4], 1e-20, "anion relative to solvent = J/c");
}

/* tables: Steffen through the nodes, monotone, errors outside */
static void test_tables(void)
{
	cell_table t;
	char err[ERR_LEN] = "";
	double c[] = {1000, 1500, 2000, 2500}, v[] = {1, 2, 2, 5};
	double bad[] = {1000, 1500, 1500, 2500}, gap[] = {1, NAN, 2, 3};
	double x, prev = 0;
	int mono = 1;
	ok(cell_table_init(&t, "D", bad, v, 4, err) == -1 &&
	   strstr(err, "increase") != NULL, "table: repeated c refused (%s)", err);
	ok(cell_table_init(&t, "t+0", c, gap, 4, err) == -1 &&
	   strstr(err, "row 2") != NULL, "table: a gap is refused (%s)", err);
	if (!ok(cell_table_init(&t, "D", c, v, 4, err) == 0, "table: %s", err))
		return;
	is_num(cell_table_eval(&t, 1500), 2, 1e-15, "table passes its nodes");
	for (x = 1000; x <= 2500; x += 7) {
		double y = cell_table_eval(&t, x);
		if (y < prev - 1e-14 || (x >= 1500 && x <= 2000 && fabs(y - 2) > 1e-12))
			mono = 0;
		prev = y;
	}
	ok(mono, "Steffen interpolation is monotone (flat between equal nodes)");
	ok(isnan(cell_table_eval(&t, 2600)) &&
	   strstr(cell_table_why(&t), "outside the D table") != NULL,
	   "outside the table: NaN and '%s'", cell_table_why(&t));
	t.clamp = CELL_EXTRAP_LINEAR;
	is_num(cell_table_eval(&t, 2600), 5 + 100 * cell_table_deriv(&t, 2500),
	       1e-12, "linear extrapolation continues the end slope");
	is_num(cell_table_deriv(&t, 900), cell_table_deriv(&t, 1000), 0,
	       "and has the end slope below the table");
	t.clamp = CELL_EXTRAP_CONSTANT;
	is_num(cell_table_eval(&t, 900), 1, 0, "constant extrapolation");
	cell_table_free(&t);
}

/* the table's own Hermite evaluation against GSL's Steffen spline,
** value and slope, at points visited in a scrambled order (the search
** hint must not matter) */
static void test_steffen(void)
{
	enum { N = 9 };
	double c[N], v[N], worst = 0, worstd = 0;
	cell_table t;
	char err[ERR_LEN] = "";
	gsl_interp *in = gsl_interp_alloc(gsl_interp_steffen, N);
	gsl_interp_accel *acc = gsl_interp_accel_alloc();
	int k;
	for (k = 0; k < N; k++) {
		c[k] = 500 + 300 * k + 40 * sin(k);
		v[k] = exp(-c[k] / 1500) * (1 + 0.3 * cos(0.9 * k));
	}
	gsl_interp_init(in, c, v, N);
	if (!ok(cell_table_init(&t, "D", c, v, N, err) == 0, "table: %s", err))
		return;
	for (k = 0; k < 2000; k++) {
		double x = c[0] + (c[N - 1] - c[0]) * fmod(k * 0.618034, 1.0), d;
		double y = cell_table_fdf(&t, x, &d);
		worst = fmax(worst, fabs(y - gsl_interp_eval(in, c, v, x, acc)));
		worstd = fmax(worstd, fabs(d - gsl_interp_eval_deriv(in, c, v, x,
								   acc)));
	}
	ok(worst < 1e-14 && worstd < 1e-16, "Hermite evaluation equals GSL's "
	   "Steffen spline (value %.2g, slope %.2g)", worst, worstd);
	cell_table_free(&t);
	gsl_interp_free(in);
	gsl_interp_accel_free(acc);
}

/* a table as a plain function of c (the per-node path of any property) */
static cell_prop per_node(cell_table *t)
{
	cell_prop p = {cell_table_eval, cell_table_deriv, t, cell_table_why,
		       0.0, NULL, NULL};
	return p;
}

/* The model evaluates table properties for all faces at once, inline
** (interpolant, constant and linear continuation, the straight line of two
** rows); a run through the per-node calls of the same tables must give
** the same numbers, here with the salt pushed past the D and t+0 rows. */
static void test_table_paths(void)
{
	enum { NT = 6, NX = 7, NTAB = 4 };
	static const double cD[] = {850, 925, 1000, 1075, 1150};
	static const double vD[] = {1.4e-11, 1.1e-11, 1e-11, 0.8e-11, 0.9e-11};
	static const double cT[] = {900, 1000, 1100}, vT[] = {0.3, 0.2, 0.25};
	static const double cK[] = {100, 600, 1200, 2000, 3000};
	static const double vK[] = {0.01, 0.04, 0.05, 0.045, 0.03};
	static const double cF[] = {0, 1000}, vF[] = {1, 2};
	cell_table tab[2][NTAB];
	cell_params p[2];
	cell_segment seg[2];
	cell_out o[2];
	char err[ERR_LEN] = "";
	double times[NT], x[NX], cur[2][NT], V[2][NT], c[2][NT * NX];
	double J[2][NT * NX], lo = INFINITY, hi = 0;
	int r, k, same = 1;
	for (k = 0; k < NT; k++)
		times[k] = k * 0.3e5;
	for (k = 0; k < NX; k++)
		x[k] = 1e-3 * k / (NX - 1);
	for (r = 0; r < 2; r++) {
		setup(&p[r], &seg[r], CELL_HOLD_V, 0.05);
		p[r].V_salt = 1.35e-4;
		p[r].refine = 3;
		cell_table_init(&tab[r][0], "D", cD, vD, 5, err);
		cell_table_init(&tab[r][1], "t+0", cT, vT, 3, err);
		cell_table_init(&tab[r][2], "kappa", cK, vK, 5, err);
		cell_table_init(&tab[r][3], "Tf", cF, vF, 2, err);
		tab[r][0].clamp = tab[r][1].clamp = CELL_EXTRAP_CONSTANT;
		tab[r][2].clamp = tab[r][3].clamp = CELL_EXTRAP_LINEAR;
		p[r].D = r ? per_node(&tab[r][0]) : cell_table_prop(&tab[r][0]);
		p[r].tp = r ? per_node(&tab[r][1]) : cell_table_prop(&tab[r][1]);
		p[r].kappa = r ? per_node(&tab[r][2]) :
			cell_table_prop(&tab[r][2]);
		p[r].Tf = r ? per_node(&tab[r][3]) : cell_table_prop(&tab[r][3]);
		memset(&o[r], 0, sizeof o[r]);
		o[r].i = cur[r];
		o[r].V = V[r];
		o[r].c = c[r];
		o[r].J = J[r];
		if (!ok(cell_run(&p[r], times, NT, x, NX, &o[r], err) == 0,
			"table run %s: %s", r ? "per node" : "per array", err))
			return;
	}
	for (k = 0; k < NT * NX; k++) {
		lo = fmin(lo, c[0][k]);
		hi = fmax(hi, c[0][k]);
		same &= c[0][k] == c[1][k] && J[0][k] == J[1][k];
	}
	for (k = 0; k < NT; k++)
		same &= cur[0][k] == cur[1][k] && V[0][k] == V[1][k];
	ok(lo < cD[0] && hi > cD[4], "the salt leaves the D rows (%.0f to %.0f "
	   "mol/m^3)", lo, hi);
	ok(same && o[0].steps == o[1].steps && o[0].newton == o[1].newton,
	   "tables per array = per node, bit for bit (%zu steps, %zu Newton)",
	   o[0].steps, o[0].newton);
	for (r = 0; r < 2; r++)
		for (k = 0; k < NTAB; k++)
			cell_table_free(&tab[r][k]);
}

/* a law of c as a property with a batch call (cell_fvec) or without; NaN
** above a limit, with a reason */
typedef struct law { double a, b, limit; size_t calls; } law;

static double law_f(void *ud, double c)
{
	law *l = ud;
	l->calls++;
	return c > l->limit ? NAN : l->a * (1 + l->b * (c / 1000 - 1));
}

static int law_fv(void *ud, const double *c, size_t n, double *v)
{
	size_t j;
	for (j = 0; j < n; j++) {
		v[j] = law_f(ud, c[j]);
		if (isnan(v[j])) {
			for (; j < n; j++)
				v[j] = NAN;
			return -1;
		}
	}
	return 0;
}

static const char *law_why(void *ud) { (void)ud; return "above the limit"; }

static cell_prop law_prop(law *l, int batch)
{
	cell_prop p = {law_f, NULL, l, law_why, 0.0, NULL,
		       batch ? law_fv : NULL};
	return p;
}

/* Functions with a batch call give the numbers of the per-node calls,
** forward-difference slopes included, and the same error when a value
** is missing part-way through an array (the first failing node's). */
static void test_batch_calls(void)
{
	enum { NT = 5, NX = 5 };
	cell_params p[2];
	cell_segment seg[2];
	cell_out o[2];
	law lD[2], lk[2];
	char err[2][ERR_LEN] = {"", ""};
	double times[NT], x[NX], cur[2][NT], c[2][NT * NX];
	int r, k, same = 1, rc[2];
	for (k = 0; k < NT; k++)
		times[k] = k * 0.3e5;
	for (k = 0; k < NX; k++)
		x[k] = 1e-3 * k / (NX - 1);
	for (r = 0; r < 2; r++) {
		setup(&p[r], &seg[r], CELL_HOLD_V, 0.05);
		lD[r] = (law){1e-11, -0.4, INFINITY, 0};
		lk[r] = (law){0.05, 0.8, INFINITY, 0};
		p[r].D = law_prop(&lD[r], r);
		p[r].kappa = law_prop(&lk[r], r);
		memset(&o[r], 0, sizeof o[r]);
		o[r].i = cur[r];
		o[r].c = c[r];
		if (!ok(cell_run(&p[r], times, NT, x, NX, &o[r], err[r]) == 0,
			"law run %s: %s", r ? "batch" : "per node", err[r]))
			return;
	}
	for (k = 0; k < NT * NX; k++)
		same &= c[0][k] == c[1][k];
	for (k = 0; k < NT; k++)
		same &= cur[0][k] == cur[1][k];
	ok(same && o[0].steps == o[1].steps && o[0].newton == o[1].newton &&
	   lD[0].calls == lD[1].calls, "batch calls = per-node calls, bit "
	   "for bit (%zu steps, %zu calls of D)", o[0].steps, lD[0].calls);
	for (r = 0; r < 2; r++) {
		lD[r].limit = 1100;	/* reached near x = 0 */
		rc[r] = cell_run(&p[r], times, NT, x, NX, &o[r], err[r]);
	}
	ok(rc[0] == -1 && rc[1] == -1 && strcmp(err[0], err[1]) == 0 &&
	   strstr(err[1], "above the limit"), "a value missing part-way: the "
	   "same error (%s)", err[1]);
}

/* Outputs at positions in any order (the interpolation walks on from the
** last position's bracket): the same numbers as the positions sorted,
** cell centres, faces and the electrodes included. */
static void test_position_order(void)
{
	enum { NX = 9 };
	cell_params p;
	cell_segment seg;
	cell_out o[2];
	char err[ERR_LEN] = "";
	double xf[41], xs[NX], xp[NX], t[2] = {2e4, 5e4};
	double c[2][2 * NX], J[2][2 * NX];
	static const int perm[NX] = {4, 8, 0, 3, 3, 7, 1, 6, 2};
	int r, k, m, same = 1;
	setup(&p, &seg, CELL_HOLD_V, 0.05);
	p.N = 40;
	p.refine = 2;
	cell_grid(p.N, p.L, p.refine, xf, err);
	xs[0] = 0;
	xs[1] = 0.5 * (xf[0] + xf[1]);		/* a cell centre */
	xs[2] = xf[7];				/* a face */
	xs[3] = 0.31e-3;
	xs[4] = xf[20];
	xs[5] = 0.77e-3;
	xs[6] = 0.5 * (xf[39] + xf[40]);	/* the last centre */
	xs[7] = 0.999e-3;
	xs[8] = p.L;
	for (k = 0; k < NX; k++)
		xp[k] = xs[perm[k]];
	for (r = 0; r < 2; r++) {
		memset(&o[r], 0, sizeof o[r]);
		o[r].c = c[r];
		o[r].J = J[r];
		if (!ok(cell_run(&p, t, 2, r ? xp : xs, NX, &o[r], err) == 0,
			"positions %s: %s", r ? "scrambled" : "sorted", err))
			return;
	}
	for (k = 0; k < 2; k++)
		for (m = 0; m < NX; m++) {
			size_t a = k * NX + perm[m], b = k * NX + m;
			same &= c[0][a] == c[1][b] && J[0][a] == J[1][b];
		}
	ok(same, "outputs at scrambled positions = sorted, bit for bit");
}

/* bad parameters are errors, never numbers */
static void test_errors(void)
{
	cell_params p;
	cell_segment seg;
	cell_out o = {0};
	cell_table tab;
	char err[ERR_LEN] = "";
	double t = 1e5, cur = -1, ct[] = {900, 1000, 1100}, dv[] = {1e-11, 1e-11, 1e-11};
	o.i = &cur;
	setup(&p, &seg, CELL_HOLD_V, 0.3);
	p.D = cell_const_prop(-1e-11);
	ok(cell_run(&p, &t, 1, NULL, 0, &o, err) == -1 &&
	   strstr(err, "D(c = 1 mol/L) = -1e-11 is not positive"), "negative D: %s", err);
	setup(&p, &seg, CELL_HOLD_V, 0.3);
	p.kappa = cell_const_prop(-0.1);
	ok(cell_run(&p, &t, 1, NULL, 0, &o, err) == -1 &&
	   strstr(err, "kappa") && strstr(err, "not positive"), "negative kappa: %s", err);
	setup(&p, &seg, CELL_HOLD_V, 0.3);
	cell_table_init(&tab, "D", ct, dv, 3, err);
	p.D = cell_table_prop(&tab);
	ok(cell_run(&p, &t, 1, NULL, 0, &o, err) == -1 &&
	   strstr(err, "outside the D table"), "c leaves the table: %s", err);
	cell_table_free(&tab);
	/* limiting current 2 F D c0 / (t-0 L) = 2.41 A/m^2 */
	setup(&p, &seg, CELL_HOLD_I, 3.0);
	ok(cell_run(&p, &t, 1, NULL, 0, &o, err) == -1 && strstr(err, "depleted"),
	   "current above the limiting current: %s", err);
	setup(&p, &seg, CELL_HOLD_V, 50.0);
	ok(cell_run(&p, &t, 1, NULL, 0, &o, err) == -1 && strstr(err, "depleted"),
	   "voltage driving the limiting current: %s", err);
	setup(&p, &seg, CELL_HOLD_V, 0.3);
	p.N = 2;
	ok(cell_run(&p, &t, 1, NULL, 0, &o, err) == -1 && strstr(err, "N = 2"),
	   "too few cells: %s", err);
	setup(&p, &seg, CELL_HOLD_V, NAN);
	ok(cell_run(&p, &t, 1, NULL, 0, &o, err) == -1 && strstr(err, "segment 1"),
	   "NaN voltage: %s", err);
	setup(&p, &seg, CELL_HOLD_V, 0.3);
	{
		double x = 2e-3;
		ok(cell_run(&p, &t, 1, &x, 1, &o, err) == -1 &&
		   strstr(err, "positions[1]"), "position outside the cell: %s", err);
	}
}

/* a time-dependent voltage through a segment callback, Butler-Volmer
** kinetics at t = 0, and the interrupt flag */
static double ramp(void *ud, double t) { (void)ud; return 0.01 + 1e-6 * t; }

static void test_protocol(void)
{
	cell_params p;
	cell_segment seg;
	cell_out o = {0};
	char err[ERR_LEN] = "";
	double t[2] = {0, 1000}, cur[2], V[2], Vi[2], k2, want;
	setup(&p, &seg, CELL_HOLD_V, 0);
	seg.fn = ramp;
	o.i = cur;
	o.V = V;
	o.V_int = Vi;
	if (!ok(cell_run(&p, t, 2, NULL, 0, &o, err) == 0, "V(t) run: %s", err))
		return;
	is_num(V[1], 0.011, 1e-12, "the model holds V(t) = 0.01 + 1e-6 t");
	is_num(cur[0], 0.01 * 0.05 / 1e-3, 1e-12, "i_0 = V(0) kappa / L");
	/* symmetric Butler-Volmer at t = 0+: V = i L/kappa + 2 (2RT/F)
	** asinh(i/(2 i0)); solve it here by bisection */
	setup(&p, &seg, CELL_HOLD_V, 0.05);
	p.i0_pos = p.i0_neg = 0.2;
	k2 = 2 * R * p.T / F;
	{
		double lo = 0, hi = 10;
		int it;
		for (it = 0; it < 200; it++) {
			double mid = 0.5 * (lo + hi);
			if (mid * 1e-3 / 0.05 + 2 * k2 * asinh(mid / 0.4) > 0.05)
				hi = mid;
			else
				lo = mid;
		}
		want = 0.5 * (lo + hi);
	}
	if (ok(cell_run(&p, t, 2, NULL, 0, &o, err) == 0, "BV run: %s", err)) {
		is_num(cur[0], want, 1e-12, "Butler-Volmer initial current");
		is_num(Vi[0], 2 * k2 * asinh(want / 0.4), 1e-12,
		       "V_int is the two kinetic overpotentials");
	}
	setup(&p, &seg, CELL_HOLD_V, 0.05);
	intr_raise();
	ok(cell_run(&p, t, 2, NULL, 0, &o, err) == -1 &&
	   strstr(err, "interrupted") != NULL, "Ctrl-C stops a run: %s", err);
	intr_clear();
}

int main(void)
{
	test_tables();
	test_steffen();
	test_table_paths();
	test_batch_calls();
	test_position_order();
	test_series();
	test_exponential();
	test_bruce_vincent();
	test_large_v();
	test_restricted();
	test_conservation();
	test_convergence_nonconst();
	test_frames();
	test_errors();
	test_protocol();
	return tap_done();
}
