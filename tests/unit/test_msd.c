/* test_msd.c - FFT MSDs against brute force; D, Onsager coefficients and
** t+ of synthetic (correlated) random walks against their closed forms. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msd.h"
#include "tap.h"
#include "traj.h"

#define KB 1.380649e-23

static double brute_msd(const double *x, size_t n, size_t m)
{
	double s = 0;
	size_t k;
	for (k = 0; k + m < n; k++)
		s += (x[k + m] - x[k]) * (x[k + m] - x[k]);
	return s / (double)(n - m);
}

static void series(void)
{
	double x[300], out[300], worst = 0;
	size_t k;
	char err[ERR_LEN] = "";
	srand(3);
	x[0] = 5;
	for (k = 1; k < 300; k++)
		x[k] = x[k - 1] + (double)rand() / RAND_MAX - 0.5;
	ok(msd_series(x, 300, out, 300, err) == 0, "msd_series");
	for (k = 0; k < 300; k++)
		worst = fmax(worst, fabs(out[k] - brute_msd(x, 300, k)));
	ok(worst < 1e-9, "FFT MSD == brute force over all origins (max %g)",
	   worst);
	ok(msd_series(x, 1, out, 1, err) < 0, "one value is refused");
}

static traj_synth spec(size_t nc, size_t na, size_t ns, size_t nf)
{
	traj_synth s;
	memset(&s, 0, sizeof s);
	s.ncat = nc;
	s.nan = na;
	s.nsolv = ns;
	s.nframes = nf;
	s.dt = 1e-12;
	s.box = 4e-9;
	s.d_cat = 1e-10;
	s.d_an = 3e-10;
	s.d_common = 0.6e-10;
	s.s_common = 1;
	s.d_solv = 2e-10;
	s.seed = 7;
	return s;
}

/* group sums of block series: X[g][d][k] (block of B <= 32 frames) */
static void group_sums(const double *all, const int *grp, size_t n,
		       size_t B, double X[3][3][32])
{
	size_t i, k;
	int d;
	memset(X, 0, 3 * sizeof *X);
	for (i = 0; i < n; i++)
		for (d = 0; d < 3; d++)
			for (k = 0; k < B; k++)
				X[grp[i]][d][k] += all[(i * 3 + d) * 64 + k];
}

/* largest difference between r's block b, lag m and brute force; all
** points at the block's first frame, series of 64 frames per particle */
static double brute_block(const double *all, const int *grp, size_t n,
			  const msd_res *r, size_t b, size_t m, double *scale)
{
	size_t B = 32, nl = r->nlag, i, k;
	double X[3][3][32], worst = 0;
	int g, h, d;
	group_sums(all, grp, n, B, X);
	for (g = 0; g < 3; g++) {
		double self = 0;
		for (i = 0; i < n; i++)
			for (d = 0; grp[i] == g && d < 3; d++)
				self += brute_msd(all + (i * 3 + d) * 64, B, m) /
					(double)r->count[g];
		worst = fmax(worst, fabs(self - r->self[(b * 3 + g) * nl + m]));
		*scale = fmax(*scale, self);
		for (h = 0; h < 3; h++) {
			double c = 0;
			for (d = 0; d < 3; d++)
				for (k = 0; k + m < B; k++)
					c += (X[g][d][k + m] - X[g][d][k]) *
						(X[h][d][k + m] - X[h][d][k]);
			c /= (double)(B - m);
			worst = fmax(worst, fabs(c - r->coll[((b * 3 + g) * 3 +
							      h) * nl + m]));
		}
	}
	return worst;
}

/* every particle's series kept in memory, MSDs by brute force */
static void against_brute(msd_frame frame)
{
	traj_synth s = spec(5, 4, 3, 64);
	size_t n = 12, B = 32, nlag = B / 2 + 1, i, k, m, b;
	int grp[12], d;
	double mass[12], *all = malloc(64 * n * 3 * sizeof *all);
	double werr = 0, wscale = 0;
	traj *t;
	traj_frame fr;
	msd_acc *a;
	msd_opts o;
	msd_res r;
	char err[ERR_LEN] = "";
	traj_open_synth(&t, &s, err);
	for (i = 0; i < n; i++) {
		grp[i] = traj_types(t)[i] - 1;
		mass[i] = 1.0 + (double)grp[i] * 10;
	}
	memset(&o, 0, sizeof o);
	o.ngroups = 3;
	o.group = grp;
	o.mass = mass;
	o.frame = frame;
	o.ref_group = 2;
	o.block = B;
	o.nblocks = 2;
	msd_new(&a, n, &o, err);
	for (k = 0; traj_next(t, &fr, err) == 1; k++) {
		double R[3] = {0, 0, 0}, M = 0;
		for (i = 0; i < n; i++)
			if (frame == MSD_BARY || (frame == MSD_GROUPCOM &&
						  grp[i] == 2)) {
				M += mass[i];
				for (d = 0; d < 3; d++)
					R[d] += mass[i] * fr.pos[3 * i + d];
			}
		for (i = 0; i < n; i++)
			for (d = 0; d < 3; d++)
				all[(i * 3 + d) * 64 + k] = fr.pos[3 * i + d] -
					(M > 0 ? R[d] / M : 0);
		msd_add(a, fr.pos, fr.time, fr.box, err);
	}
	ok(msd_finish(a, &r, err) == 0 && r.nblocks == 2 && r.nlag == nlag,
	   "two blocks (frame %d)", (int)frame);
	for (b = 0; b < 2; b++)
		for (m = 0; m < nlag; m++)
			werr = fmax(werr, brute_block(all + b * B, grp, n, &r,
						      b, m, &wscale));
	ok(werr < 1e-12 * wscale * 100, "self and collective MSDs == brute "
	   "force (frame %d, max err %g of %g)", (int)frame, werr, wscale);
	if (frame == MSD_GROUPCOM) {
		double w = 0;
		for (m = 0; m < nlag; m++)
			w = fmax(w, fabs(r.coll[(2 * 3 + 2) * nlag + m]));
		ok(w < 1e-12 * wscale, "solvent frame: the solvent's summed "
		   "displacement is zero (%g)", w);
	}
	msd_res_free(&r);
	msd_free(a);
	traj_close(t);
	free(all);
}

/* run the synthetic walks through msd_run and msd_transport */
static int analyse(const traj_synth *s, msd_frame frame, size_t nblocks,
		   const double *mass_by_type, size_t fit_hi, msd_res *r,
		   msd_tout *o)
{
	traj *t;
	size_t n = s->ncat + s->nan + s->nsolv, i;
	int *grp = calloc(n, sizeof *grp), rc;
	double *mass = calloc(n, sizeof *mass);
	msd_opts opt;
	msd_tin in;
	char err[ERR_LEN] = "";
	traj_open_synth(&t, s, err);
	for (i = 0; i < n; i++) {
		grp[i] = traj_types(t)[i] - 1;
		mass[i] = mass_by_type ? mass_by_type[grp[i]] : 1;
	}
	memset(&opt, 0, sizeof opt);
	opt.ngroups = s->nsolv ? 3 : 2;
	opt.group = grp;
	opt.mass = mass;
	opt.frame = frame;
	opt.nblocks = nblocks;
	rc = msd_run(t, &opt, 0, NULL, r, err);
	memset(&in, 0, sizeof in);
	in.cat = 0;
	in.an = 1;
	in.z_cat = 1;
	in.z_an = -1;
	in.temperature = 300;
	if (fit_hi > 0) {	/* lags 1 .. fit_hi frames */
		in.t_lo = s->dt;
		in.t_hi = (double)fit_hi * s->dt;
	}
	if (rc == 0)
		rc = msd_transport(r, &in, o, err);
	if (rc != 0)
		diag("%s", err);
	traj_close(t);
	free(grp);
	free(mass);
	return rc;
}

static int within(msd_val v, double want, double nsig)
{
	return isfinite(v.e) && v.e > 0 && fabs(v.v - want) <= nsig * v.e;
}

static void brownian(void)
{
	traj_synth s = spec(150, 150, 0, 6000);
	msd_res r;
	msd_tout o;
	s.d_common = 0;
	ok(analyse(&s, MSD_LAB, 6, NULL, 0, &r, &o) == 0, "Brownian run");
	ok(within(o.d[0], s.d_cat, 3) && o.d[0].e < 0.05 * s.d_cat,
	   "D+ %.4g +- %.2g, true %.4g", o.d[0].v, o.d[0].e, s.d_cat);
	ok(within(o.d[1], s.d_an, 3) && o.d[1].e < 0.05 * s.d_an,
	   "D- %.4g +- %.2g, true %.4g", o.d[1].v, o.d[1].e, s.d_an);
	ok(within(o.t_app, 0.25, 3), "t_app %.4f +- %.4f, true 0.25",
	   o.t_app.v, o.t_app.e);
	ok(o.lo >= 1 && o.hi == r.nlag / 2, "fit range %zu..%zu lags", o.lo,
	   o.hi);
	diag("Brownian: D+ %.4g +- %.2g (true %.4g), D- %.4g +- %.2g (true "
	     "%.4g)", o.d[0].v, o.d[0].e, s.d_cat, o.d[1].v, o.d[1].e,
	     s.d_an);
	msd_res_free(&r);
}

/* correlated walks: L+- = N s Dc / (V kB T) by construction. A summed
** displacement is one random walk per group, so its slope is noisy: the
** fit uses the short lags 1..16 frames (the walks are diffusive from the
** first frame) and 20 blocks. */
static void correlated(double sgn)
{
	traj_synth s = spec(100, 100, 0, 20000);
	msd_res r;
	msd_tout o;
	double N = 100, vkt = s.box * s.box * s.box * KB * 300;
	double lpp, lmm, lpm, tp, ta = 0.25;
	s.s_common = sgn;
	lpp = N * s.d_cat / vkt;
	lmm = N * s.d_an / vkt;
	lpm = N * sgn * s.d_common / vkt;
	tp = (lpp - lpm) / (lpp + lmm - 2 * lpm);
	ok(analyse(&s, MSD_LAB, 20, NULL, 16, &r, &o) == 0, "correlated run");
	ok(within(o.l_pp, lpp, 3), "L++ %.4g +- %.2g, true %.4g", o.l_pp.v,
	   o.l_pp.e, lpp);
	ok(within(o.l_mm, lmm, 3), "L-- %.4g +- %.2g, true %.4g", o.l_mm.v,
	   o.l_mm.e, lmm);
	ok(within(o.l_pm, lpm, 3), "L+- %.4g +- %.2g, true %.4g", o.l_pm.v,
	   o.l_pm.e, lpm);
	ok(within(o.t_plus, tp, 3), "t+ %.4f +- %.4f, true %.4f", o.t_plus.v,
	   o.t_plus.e, tp);
	ok(within(o.t_app, ta, 3), "t_app %.4f +- %.4f, true %.4f",
	   o.t_app.v, o.t_app.e, ta);
	{
		double diff = o.t_plus.v - o.t_app.v, want = tp - ta;
		double e = hypot(o.t_plus.e, o.t_app.e);
		ok(fabs(diff - want) <= 3 * e && fabs(want) > 3 * e,
		   "t+ - t_app = %.4f +- %.4f, predicted %.4f", diff, e, want);
	}
	ok(within(o.l_pp_dist, 0, 3), "no cation-cation distinct part "
	   "(%.3g +- %.2g)", o.l_pp_dist.v, o.l_pp_dist.e);
	ok(within(o.ionicity, (lpp + lmm - 2 * lpm) / (lpp + lmm), 3),
	   "ionicity %.4f +- %.4f, true %.4f", o.ionicity.v, o.ionicity.e,
	   (lpp + lmm - 2 * lpm) / (lpp + lmm));
	diag("correlated s=%+.0f: t+ %.4f +- %.4f (true %.4f), t_app %.4f +- "
	     "%.4f (true %.4f), L+- %.4g +- %.2g (true %.4g)", sgn, o.t_plus.v,
	     o.t_plus.e, tp, o.t_app.v, o.t_app.e, ta, o.l_pm.v, o.l_pm.e,
	     lpm);
	msd_res_free(&r);
}

/* momentum-like constraint: in the barycentric frame of ions only,
** m+ dX+ + m- dX- = 0, so m+ L++ = -m- L+- exactly */
static void barycentric(void)
{
	traj_synth s = spec(20, 20, 0, 400);
	double mass[2] = {7, 280};
	msd_res r;
	msd_tout o;
	ok(analyse(&s, MSD_BARY, 2, mass, 0, &r, &o) == 0, "barycentric run");
	ok(fabs(mass[0] * o.l_pp.v + mass[1] * o.l_pm.v) <
	   1e-9 * mass[0] * o.l_pp.v, "m+ L++ + m- L+- = 0 (%.3g vs %.3g)",
	   mass[0] * o.l_pp.v, mass[1] * o.l_pm.v);
	ok(fabs(mass[1] * o.l_mm.v + mass[0] * o.l_pm.v) <
	   1e-9 * mass[1] * o.l_mm.v, "m- L-- + m+ L+- = 0");
	msd_res_free(&r);
}

/* ballistic at short lags (MSD ~ t^2), diffusive later (~ t): the fit
** starts where the log-log slope is within 0.15 of 1 */
static void fit_range(void)
{
	double y[2001];
	size_t m, lo, hi;
	char err[ERR_LEN] = "";
	for (m = 0; m <= 2000; m++)
		y[m] = (double)m * (double)m / (1.0 + (double)m / 8.0);
	ok(msd_fit_range(y, 2001, &lo, &hi, err) == 0, "diffusive regime "
	   "found");
	ok(hi == 1000 && lo == 64, "fit range %zu .. %zu lags (want 64 .. "
	   "1000: slope at 32..64 is %.3f, at 64..128 %.3f)", lo, hi,
	   log(y[64] / y[32]) / log(2.0), log(y[128] / y[64]) / log(2.0));
	for (m = 0; m <= 2000; m++)
		y[m] = (double)m * (double)m;
	m = (size_t)msd_fit_range(y, 2001, &lo, &hi, err);
	ok(m == 1 && lo == 500, "never diffusive: flagged, fit from hi/2 "
	   "(%zu)", lo);
}

static void errors(void)
{
	char err[ERR_LEN] = "";
	int grp[3] = {0, 1, 5};
	double pos[9] = {0}, box[3] = {1, 1, 1};
	msd_opts o;
	msd_acc *a = NULL;
	msd_res r;
	msd_tin in;
	msd_tout out;
	memset(&o, 0, sizeof o);
	o.ngroups = 2;
	o.group = grp;
	o.block = 8;
	o.nblocks = 1;
	ok(msd_new(&a, 3, &o, err) < 0 && strstr(err, "atom 2"),
	   "group out of range: %s", err);
	grp[2] = -1;
	o.block = 4;
	ok(msd_new(&a, 3, &o, err) < 0 && strstr(err, "8 frames"),
	   "short block: %s", err);
	o.block = 8;
	ok(msd_new(&a, 3, &o, err) == 0, "msd_new");
	msd_add(a, pos, 0, box, err);
	msd_add(a, pos, 1, box, err);
	ok(msd_add(a, pos, 2.5, box, err) < 0 && strstr(err, "evenly"),
	   "uneven frames: %s", err);
	msd_free(a);
	msd_new(&a, 3, &o, err);
	msd_add(a, pos, 0, box, err);
	ok(msd_finish(a, &r, err) < 0 && strstr(err, "fewer than one block"),
	   "too few frames: %s", err);
	msd_free(a);
	/* finite positions whose squares overflow (a damaged file): an
	** error naming the block, not NaN MSDs shown as missing values */
	grp[2] = 1;
	ok(msd_new(&a, 3, &o, err) == 0, "msd_new (3 atoms, 2 groups)");
	{
		int k, rc = 1;
		for (k = 0; k < 8 && rc > 0; k++) {
			pos[4] = k == 5 ? 7e298 : 0;
			rc = msd_add(a, pos, k, box, err);
		}
		ok(rc < 0 && strstr(err, "block 1") &&
		   strstr(err, "not finite") && strstr(err, "7e+298"),
		   "a displacement whose square overflows: %s", err);
	}
	msd_free(a);
	pos[4] = 0;
	box[0] = box[1] = box[2] = 1e120;
	ok(msd_new(&a, 3, &o, err) == 0, "msd_new");
	{
		int k;
		for (k = 0; k < 8; k++)
			msd_add(a, pos, k, box, err);
	}
	ok(msd_finish(a, &r, err) < 0 && strstr(err, "volume is inf"),
	   "a box volume that overflows: %s", err);
	msd_free(a);
	grp[2] = -1;
	box[0] = box[1] = box[2] = 1;
	{
		traj_synth s = spec(10, 10, 0, 100);
		msd_tout o2;
		analyse(&s, MSD_LAB, 1, NULL, 0, &r, &o2);
		ok(!isfinite(o2.d[0].e), "one block: no error bar");
		memset(&in, 0, sizeof in);
		in.cat = 0;
		in.an = 1;
		in.z_cat = 1;
		in.z_an = -1;
		in.t_lo = 1e-12;
		in.t_hi = 1e-9;
		ok(msd_transport(&r, &in, &out, err) < 0 &&
		   strstr(err, "fit range"), "fit range beyond lags: %s", err);
		in.an = 0;
		ok(msd_transport(&r, &in, &out, err) < 0, "same group refused");
		msd_res_free(&r);
	}
}

int main(void)
{
	series();
	against_brute(MSD_LAB);
	against_brute(MSD_BARY);
	against_brute(MSD_GROUPCOM);
	brownian();
	correlated(1);
	correlated(-1);
	barycentric();
	fit_range();
	errors();
	return tap_done();
}
