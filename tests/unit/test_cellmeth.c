/*
** test_cellmeth.c - the simulated Bruce-Vincent and Balsara-Newman
** experiments against their closed forms for constant properties.
*/
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cellmeth.h"
#include "tap.h"

#define F CELL_F
#define R CELL_R

/* constant properties; V_salt as given */
static void setup(cell_params *p, double tp, double kappa, double Tf,
		  double Vs)
{
	cell_params_init(p);
	p->L = 1e-3;
	p->c0 = 1000;
	p->T = 363.15;
	p->D = cell_const_prop(1e-11);
	p->tp = cell_const_prop(tp);
	p->kappa = cell_const_prop(kappa);
	p->Tf = cell_const_prop(Tf);
	p->V_salt = Vs;
	p->rtol = 1e-9;
}

/* the small-step closed form: bulk and concentration resistances, derived
** here from the steady profile dc/dx = -(1 - c V_salt) t-0 i / (F D) and
** V_conc = (2RT/F) t-0 Tf dc / c0 */
static void closed(const cell_params *p, double tp, double Tf, double *Rb,
		   double *Rc)
{
	double tm = 1 - tp, D = 1e-11;
	double dc_per_i = (1 - p->c0 * p->V_salt) * tm * p->L / (F * D);
	*Rb = p->L / p->kappa.value;
	*Rc = 2 * R * p->T / F * tm * Tf * dc_per_i / p->c0;
}

/* ideal solution, constant D, no R_int: Iss / I0 = Rb / (Rb + Rc) */
static void test_bv_closed(void)
{
	double Tfs[2] = {1, 2.5}, Vss[2] = {0, 1.35e-4};
	int k;
	for (k = 0; k < 2; k++) {
		cell_params p;
		cellmeth_bv r;
		char err[ERR_LEN] = "";
		double Rb, Rc;
		setup(&p, 0.3, 0.05, Tfs[k], Vss[k]);
		memset(&r, 0, sizeof r);
		r.dV = 1e-4;
		if (!ok(cellmeth_bruce_vincent(&p, &r, err) == 0, "BV run: %s",
			err))
			continue;
		closed(&p, 0.3, Tfs[k], &Rb, &Rc);
		is_num(r.I0, r.dV / Rb, 1e-12 * r.I0, "I0 = dV kappa / L "
		       "(Tf %.1f)", Tfs[k]);
		is_num(r.ratio, Rb / (Rb + Rc), 1e-3 * Rb / (Rb + Rc),
		       "Tf = %.1f, V_salt = %g: Iss / I0 = %.6f, closed form "
		       "%.6f", Tfs[k], Vss[k], r.ratio, Rb / (Rb + Rc));
		is_num(r.tp, r.ratio, 1e-12, "without R_int t+_BV is the ratio");
		is_num(r.c0.tp_bv_small, Rb / (Rb + Rc), 1e-12,
		       "the reported closed form is Rb / (Rb + Rc)");
	}
}

/* R_int(t) with R_int(0) = R0, growing when grow */
static void film(cell_params *p, int grow)
{
	p->R_int = 0.01;
	p->Rt.R_growth = grow ? 0.02 : 0;
	p->Rt.t_growth = 1e5;
	p->Rt.p_growth = 0.5;
	p->i0_pos = p->i0_neg = 2;
}

/* a film and charge-transfer kinetics: the raw ratio is far from the
** closed form, the corrected t+_BV is on it; a film still growing at t_ss
** leaves the profile lagging behind the falling current (not a steady
** state), a small error the correction cannot remove */
static void test_bv_film(void)
{
	int grow;
	for (grow = 0; grow < 2; grow++) {
		cell_params p;
		cellmeth_bv r;
		char err[ERR_LEN] = "";
		double Rb, Rc, want, Rk;
		setup(&p, 0.3, 0.05, 2, 1.35e-4);
		film(&p, grow);
		memset(&r, 0, sizeof r);
		r.dV = 1e-4;
		if (!ok(cellmeth_bruce_vincent(&p, &r, err) == 0, "BV with a "
			"film: %s", err))
			continue;
		closed(&p, 0.3, 2, &Rb, &Rc);
		want = Rb / (Rb + Rc);
		Rk = 2 * R * p.T / (F * 2);
		is_num(r.R0, 0.01 + Rk, 1e-12, "R0 = R_int(0) + RT/(F i0) per "
		       "electrode");
		is_num(r.Rss, 0.01 + (grow ? 0.02 * sqrt(r.t_ss / 1e5) : 0) + Rk,
		       1e-12, "Rss = R_int(t_ss) + the charge-transfer "
		       "resistances");
		ok(fabs(r.ratio - want) > 0.05, "the raw ratio %.4f is off the "
		   "closed form %.4f", r.ratio, want);
		if (!grow)
			is_num(r.tp, want, 1e-3 * want, "constant film: the "
			       "corrected t+_BV = %.6f is Rb / (Rb + Rc) = %.6f",
			       r.tp, want);
		else
			ok(fabs(r.tp - want) < 0.01 * want && r.tp != want,
			   "growing film: t+_BV = %.6f within 1 %% of %.6f, not "
			   "on it (no steady state)", r.tp, want);
	}
}

/* kappa = F^2 D c0 / (2RT t+ t- Tf (1 - c0 V_salt)): t+_BV = t+0 */
static void test_bv_ideal(void)
{
	cell_params p;
	cellmeth_bv r;
	char err[ERR_LEN] = "";
	double tp = 0.25, Tf = 1.8, Vs = 1.35e-4;
	double kap = F * F * 1e-11 * 1000 /
		(2 * R * 363.15 * tp * (1 - tp) * Tf * (1 - 1000 * Vs));
	setup(&p, tp, kap, Tf, Vs);
	memset(&r, 0, sizeof r);
	r.dV = 1e-4;
	if (!ok(cellmeth_bruce_vincent(&p, &r, err) == 0, "BV ideal: %s", err))
		return;
	is_num(r.tp, tp, 1e-3 * tp, "ideal kappa: t+_BV = %.6f = t+0", r.tp);
	is_num(r.c0.kappa_ideal, kap, 1e-12 * kap, "kappa_ideal reported");
}

/* Balsara-Newman recovers t+0 and D for constant properties, with Tf,
** V_salt, a (constant) film and kinetics */
static void test_bn(void)
{
	double tps[3] = {-0.2, 0.3, 0.7};
	int k;
	for (k = 0; k < 3; k++) {
		cell_params p;
		cellmeth_bn r;
		char err[ERR_LEN] = "";
		setup(&p, tps[k], 0.05, 2.2, 1.35e-4);
		film(&p, 0);
		memset(&r, 0, sizeof r);
		r.dV = 1e-4;
		if (!ok(cellmeth_balsara_newman(&p, &r, err) == 0, "BN run: %s",
			err))
			continue;
		is_num(r.D, 1e-11, 1e-3 * 1e-11, "restricted diffusion D = %.6g "
		       "(t+0 %.1f)", r.D, tps[k]);
		is_num(r.dUdlnm, 2 * R * p.T / F * (1 - tps[k]) * 2.2 *
		       (1 - 1000 * 1.35e-4), 1e-12, "dU/dln m = (2RT/F) t-0 Tf "
		       "(1 - c0 V_salt)");
		is_num(r.tp, tps[k], 1e-3, "t+0_BN = %.6f recovers t+0 = %.1f",
		       r.tp, tps[k]);
	}
}

static void test_errors(void)
{
	cell_params p;
	cellmeth_bv r;
	cellmeth_bn b;
	char err[ERR_LEN] = "";
	setup(&p, 0.3, 0.05, 1, 0);
	memset(&r, 0, sizeof r);
	ok(cellmeth_bruce_vincent(&p, &r, err) == -1 &&
	   strstr(err, "dV") != NULL, "dV = 0 is an error: %s", err);
	memset(&b, 0, sizeof b);
	b.dV = 1e-3;
	b.w0 = 3;
	b.w1 = 2;
	ok(cellmeth_balsara_newman(&p, &b, err) == -1 &&
	   strstr(err, "window") != NULL, "an empty window is an error: %s",
	   err);
	p.D = cell_const_prop(-1);
	memset(&r, 0, sizeof r);
	r.dV = 1e-3;
	ok(cellmeth_bruce_vincent(&p, &r, err) == -1, "negative D: %s", err);
	setup(&p, 0.3, 0.05, 1, 0);
	memset(&r, 0, sizeof r);
	r.dV = 5;
	ok(cellmeth_bruce_vincent(&p, &r, err) == -1 &&
	   strstr(err, "Bruce-Vincent") != NULL, "a step beyond the limiting "
	   "current names the experiment: %s", err);
}

int main(void)
{
	test_bv_closed();
	test_bv_film();
	test_bv_ideal();
	test_bn();
	test_errors();
	return tap_done();
}
