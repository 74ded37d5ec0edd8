/* test_pairdyn.c - pair dynamics of bound synthetic ion pairs: rigid pairs
** keep their partner and move as one; pairs sharing a common step have the
** displacement correlation s Dc / sqrt(D+ D-). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pairdyn.h"
#include "tap.h"
#include "traj.h"

static traj_synth spec(double dc, double s, double dp, double dm)
{
	traj_synth p;
	memset(&p, 0, sizeof p);
	p.ncat = p.nan = 40;
	p.nframes = 3000;
	p.dt = 1e-12;
	p.box = 200e-9;		/* dilute: only the partner is near */
	p.d_cat = dp;
	p.d_an = dm;
	p.d_common = dc;
	p.s_common = s;
	p.pair_dist = 0.3e-9;
	p.seed = 9;
	return p;
}

static int run(const traj_synth *p, size_t max_lag, pd_res *r, char *err)
{
	traj *t;
	int grp[80], rc;
	size_t k;
	pd_opts o;
	if (traj_open_synth(&t, p, err) != 0)
		return -1;
	for (k = 0; k < 80; k++)
		grp[k] = traj_types(t)[k] - 1;
	memset(&o, 0, sizeof o);
	o.group = grp;
	o.cutoff = 0.5e-9;
	o.max_lag = max_lag;
	o.stride = 1;
	rc = pd_run(t, &o, NULL, r, err);
	traj_close(t);
	return rc;
}

static void rigid(void)
{
	traj_synth p = spec(1e-10, 1, 1e-10, 1e-10);
	pd_res r;
	char err[ERR_LEN] = "";
	size_t l;
	double wsame = 0, wcorr = 0;
	ok(run(&p, 10, &r, err) == 0, "rigid pairs: %s", err);
	for (l = 0; l < r.nlag; l++)
		wsame = fmax(wsame, fabs(r.same[l] - 1));
	for (l = 1; l < r.nlag; l++)
		wcorr = fmax(wcorr, fabs(r.corr[l] - 1));
	ok(r.nlag == 11 && wsame == 0, "the partner stays the nearest anion");
	ok(wcorr < 1e-9, "displacements identical: corr = 1 (%g)", wcorr);
	ok(fabs(r.pairs - 40) < 1e-12, "40 pairs within the cutoff (%g)",
	   r.pairs);
	ok(fabs(r.tau_res - 10e-12) < 1e-20, "residence over the whole lag "
	   "range (%g s)", r.tau_res);
	ok(isnan(r.corr[0]), "lag 0: correlation undefined (NaN)");
	pd_res_free(&r);
}

static void correlated(double s)
{
	traj_synth p = spec(0.6e-10, s, 1e-10, 3e-10);
	pd_res r;
	char err[ERR_LEN] = "";
	double want = s * 0.6 / sqrt(3.0);
	ok(run(&p, 8, &r, err) == 0, "correlated pairs s=%+.0f", s);
	ok(fabs(r.corr[1] - want) < 0.03 && fabs(r.corr[8] - want) < 0.03,
	   "corr %.4f, %.4f (lags 1, 8), want s Dc/sqrt(D+ D-) = %.4f",
	   r.corr[1], r.corr[8], want);
	ok(r.same[8] > 0.99, "dilute: the partner stays the nearest anion "
	   "(%.3f)", r.same[8]);
	pd_res_free(&r);
}

/* free ions in a dense box change their nearest anion: the probability
** of keeping it falls with the lag, and so does the residence integral */
static void dense(void)
{
	traj_synth p = spec(0, 1, 3e-9, 3e-9);
	pd_res r;
	char err[ERR_LEN] = "";
	p.box = 3e-9;
	p.pair_dist = 0;
	p.nframes = 400;
	ok(run(&p, 20, &r, err) == 0, "dense free ions");
	ok(r.same[0] == 1 && r.same[1] < 1 && r.same[20] < r.same[5] &&
	   r.same[5] < r.same[1], "P(same nearest) %.3f, %.3f, %.3f at lags "
	   "1, 5, 20", r.same[1], r.same[5], r.same[20]);
	ok(r.tau_res < 20e-12 && r.tau_res > 0, "residence %.3g s below the "
	   "lag range", r.tau_res);
	ok(fabs(r.corr[10]) < 0.1, "independent ions: corr %.3f near 0",
	   r.corr[10]);
	pd_res_free(&r);
}

static void errors(void)
{
	traj_synth p = spec(0, 1, 1e-10, 1e-10);
	pd_res r;
	char err[ERR_LEN] = "";
	traj *t;
	int grp[80];
	pd_opts o;
	memset(grp, 0, sizeof grp);
	traj_open_synth(&t, &p, err);
	memset(&o, 0, sizeof o);
	o.group = grp;
	o.cutoff = 1e-9;
	o.max_lag = 5;
	o.stride = 1;
	ok(pd_run(t, &o, NULL, &r, err) < 0 && strstr(err, "cations and anions"),
	   "no anions: %s", err);
	o.cutoff = 0;
	ok(pd_run(t, &o, NULL, &r, err) < 0 && strstr(err, "cutoff"),
	   "zero cutoff: %s", err);
	traj_close(t);
}

int main(void)
{
	rigid();
	correlated(1);
	correlated(-1);
	dense();
	errors();
	return tap_done();
}
