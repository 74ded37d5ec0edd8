/*
** cellmeth.c - Bruce-Vincent and Balsara-Newman experiments simulated on
** the cell model. See cellmeth.h for the formulas.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cellmeth.h"

/* the charge-transfer resistance of both electrodes at zero current:
** d/di of (2RT/F) asinh(i / (2 i0)) is RT / (F i0) */
static double cellmeth_rk(const cell_params *p)
{
	double rt = CELL_R * p->T / CELL_F, r = 0;
	if (p->i0_pos > 0)
		r += rt / p->i0_pos;
	if (p->i0_neg > 0)
		r += rt / p->i0_neg;
	return r;
}

int cellmeth_at_c0(const cell_params *p, cellmeth_c0 *r, char *err)
{
	double c0 = p->c0, k2 = 2 * CELL_R * p->T / CELL_F, tm, vol, R0;
	memset(r, 0, sizeof *r);
	r->D = cell_prop_value(&p->D, "D", c0, err);
	r->tp = cell_prop_value(&p->tp, "t+0", c0, err);
	r->kappa = cell_prop_value(&p->kappa, "kappa", c0, err);
	r->Tf = cell_prop_value(&p->Tf, "Tf", c0, err);
	if (!isfinite(r->D) || !isfinite(r->tp) || !isfinite(r->kappa) ||
	    !isfinite(r->Tf))
		return -1;
	if (!(r->D > 0) || !(r->kappa > 0) || !(r->Tf > 0))
		return err_set(err, "cellmeth: D, kappa and Tf at c0 must be "
			       "positive");
	R0 = cell_rint_at(p, 0, err);
	if (!isfinite(R0))
		return -1;
	tm = 1 - r->tp;
	vol = 1 - c0 * p->V_salt;
	r->Rb = p->L / r->kappa;
	r->Rc = k2 * tm * tm * r->Tf * vol * p->L / (CELL_F * r->D * c0);
	r->Rk = cellmeth_rk(p);
	r->dUdlnm = k2 * tm * r->Tf * vol;
	r->kappa_ideal = r->tp > 0 && r->tp < 1 ?
		CELL_F * CELL_F * r->D * c0 /
		(2 * CELL_R * p->T * r->tp * tm * r->Tf * vol) : NAN;
	r->tp_bv_small = r->Rb / (r->Rb + r->Rc);
	r->ratio_small = (R0 + r->Rk + r->Rb) / (R0 + r->Rk + r->Rb + r->Rc);
	return 0;
}

/* The step dV held for the whole run, or for t_pol followed by rest. The
** signal is the small difference dc ~ c0 F dV / (2RT) across the cell:
** unless the caller set atol, it is resolved to 1e-8 of that. */
static void cellmeth_protocol(cell_params *q, cell_segment seg[2],
			      double dV, double t_pol)
{
	if (q->atol == 0)
		q->atol = 1e-8 * q->c0 *
			fmin(1, fabs(dV) * CELL_F / (2 * CELL_R * q->T));
	memset(seg, 0, 2 * sizeof seg[0]);
	seg[0].hold = CELL_HOLD_V;
	seg[0].value = dV;
	seg[0].t_end = t_pol > 0 ? t_pol : INFINITY;
	seg[1].hold = CELL_HOLD_I;
	seg[1].value = 0;
	seg[1].t_end = INFINITY;
	q->seg = seg;
	q->nseg = t_pol > 0 ? 2 : 1;
}

int cellmeth_bruce_vincent(const cell_params *p, cellmeth_bv *r, char *err)
{
	cell_params q = *p;
	cell_segment seg[2];
	cell_out o;
	double t[2], I[2], R[2];
	if (!isfinite(r->dV) || r->dV == 0)
		return err_set(err, "cellmeth: the step dV = %g V must be a "
			       "nonzero number", r->dV);
	if (!(r->t_ss >= 0) || !isfinite(r->t_ss))
		return err_set(err, "cellmeth: t_ss = %g s must be >= 0",
			       r->t_ss);
	if (cellmeth_at_c0(p, &r->c0, err) != 0)
		return -1;
	if (r->t_ss == 0)
		r->t_ss = 2 * p->L * p->L / r->c0.D;
	cellmeth_protocol(&q, seg, r->dV, 0);
	memset(&o, 0, sizeof o);
	o.i = I;
	o.R_int = R;
	t[0] = 0;
	t[1] = r->t_ss;
	if (cell_run(&q, t, 2, NULL, 0, &o, err) != 0)
		return err_prefix(err, "Bruce-Vincent step of %g V", r->dV);
	r->I0 = I[0];
	r->Iss = I[1];
	r->R0 = R[0] + r->c0.Rk;
	r->Rss = R[1] + r->c0.Rk;
	r->ratio = r->Iss / r->I0;
	r->tp = r->Iss * (r->dV - r->I0 * r->R0) /
		(r->I0 * (r->dV - r->Iss * r->Rss));
	return 0;
}

/* least-squares slope of y on x (n >= 2 points) */
static double cellmeth_slope(const double *x, const double *y, size_t n)
{
	double mx = 0, my = 0, sxx = 0, sxy = 0;
	size_t k;
	for (k = 0; k < n; k++) {
		mx += x[k];
		my += y[k];
	}
	mx /= (double)n;
	my /= (double)n;
	for (k = 0; k < n; k++) {
		sxx += (x[k] - mx) * (x[k] - mx);
		sxy += (x[k] - mx) * (y[k] - my);
	}
	return sxy / sxx;
}

/* the increasing values of a (na) and b (nb) merged into m, unique */
static size_t cellmeth_merge(const double *a, size_t na, const double *b,
			     size_t nb, double *m)
{
	size_t i = 0, j = 0, n = 0;
	while (i < na || j < nb) {
		double v = j >= nb || (i < na && a[i] < b[j]) ? a[i++] : b[j++];
		if (n == 0 || v > m[n - 1])
			m[n++] = v;
	}
	return n;
}

/* restricted diffusion: polarize for t_pol, cut the current, fit ln V
** over the window; D from the slope -pi^2 D / L^2. The steps land on
** the window's times: the small signal is read from the integrator's own
** states, not from interpolation between them. */
static int cellmeth_restricted(const cell_params *p, cellmeth_bn *r,
			       char *err)
{
	cell_params q = *p;
	cell_segment seg[2];
	cell_out o;
	double tau = p->L * p->L / (M_PI * M_PI * r->bv.c0.D), *t, *V, *lv;
	size_t k, n = r->nfit;
	int rc = 0;
	t = err_malloc(4 * n + p->ntstop, sizeof(double), err);
	if (t == NULL)
		return -1;
	V = t + n;
	lv = V + n;
	for (k = 0; k < n; k++)
		t[k] = r->t_pol + tau * (r->w0 + (r->w1 - r->w0) * (double)k /
					 (double)(n - 1));
	cellmeth_protocol(&q, seg, r->dV, r->t_pol);
	q.tstop = lv + n;
	q.ntstop = cellmeth_merge(t, n, p->tstop, p->ntstop, lv + n);
	memset(&o, 0, sizeof o);
	o.V = V;
	if (cell_run(&q, t, n, NULL, 0, &o, err) != 0) {
		free(t);
		return err_prefix(err, "restricted diffusion");
	}
	for (k = 0; k < n && rc == 0; k++) {
		if (!(V[k] * V[0] > 0))
			rc = err_set(err, "restricted diffusion: the "
				     "open-circuit voltage changes sign or "
				     "vanishes at t = %g s (window too late?)",
				     t[k]);
		lv[k] = log(fabs(V[k]));
	}
	if (rc == 0) {
		r->V1 = V[0];
		r->D = -cellmeth_slope(t, lv, n) * p->L * p->L /
			(M_PI * M_PI);
	}
	free(t);
	return rc;
}

int cellmeth_balsara_newman(const cell_params *p, cellmeth_bn *r, char *err)
{
	cellmeth_c0 *c0 = &r->bv.c0;
	if (r->w0 == 0 && r->w1 == 0) {
		r->w0 = 1;
		r->w1 = 4;
	}
	if (r->nfit == 0)
		r->nfit = 41;
	if (!(r->w0 >= 0) || !(r->w1 > r->w0) || !isfinite(r->w1) ||
	    r->nfit < 2)
		return err_set(err, "cellmeth: the restricted-diffusion window "
			       "needs 0 <= w0 < w1 and >= 2 samples");
	if (!(r->t_pol >= 0) || !isfinite(r->t_pol))
		return err_set(err, "cellmeth: t_pol = %g s must be >= 0",
			       r->t_pol);
	r->bv.dV = r->dV;
	r->bv.t_ss = r->t_pol;
	if (cellmeth_bruce_vincent(p, &r->bv, err) != 0)
		return -1;
	r->t_pol = r->bv.t_ss;
	if (cellmeth_restricted(p, r, err) != 0)
		return -1;
	r->rho = r->bv.tp;
	r->kappa = c0->kappa;
	r->dUdlnm = c0->dUdlnm;
	r->tp = 1 - (1 / r->rho - 1) * CELL_F * r->D * p->c0 /
		(r->kappa * r->dUdlnm);
	return 0;
}
