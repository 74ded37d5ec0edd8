/*
** msd.c - block-wise FFT mean-square displacements and transport
** coefficients (see msd.h for the design and its memory).
*/
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_fft_halfcomplex.h>
#include <gsl/gsl_fft_real.h>

#include "intr.h"
#include "msd.h"

#define MSD_KB 1.380649e-23		/* J/K, exact (SI 2019) */
#define MSD_E 1.602176634e-19		/* C, exact */
/* the msd_val fields lead msd_tout, so the error pass can walk them */
#define MSD_NVAL (offsetof(msd_tout, fit_lo) / sizeof(msd_val))

struct msd_acc {
	int ngroups, frame, ref_group;
	size_t natoms, nsel, block, nblocks, nlag, nfft;
	int *group;		/* per atom */
	double *mass;		/* per atom */
	size_t *sel;		/* atoms of the groups, group by group */
	int *selg;
	size_t count[MSD_MAXG];
	double *y;		/* [(j*3+d)*block + k], block-start relative */
	double *y0;		/* [j*3+d] */
	double *X;		/* [(g*3+d)*block + k] group sums */
	double *self, *coll;	/* results per block */
	size_t k, b, nframes;
	double tprev, dt;
	double vol_sum;
	size_t vol_n;
	size_t bytes;
	double seconds;		/* spent in msd_add */
};

/* ---------------------------------------------------------------- */
/* FFT helpers                                                      */
/* ---------------------------------------------------------------- */

static size_t msd_pow2(size_t n)
{
	size_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

/* series x (n values, stride 1) zero-padded into buf and transformed
** (GSL half-complex layout) */
static void msd_fft(double *buf, const double *x, size_t n, size_t nfft)
{
	memcpy(buf, x, n * sizeof *buf);
	memset(buf + n, 0, (nfft - n) * sizeof *buf);
	gsl_fft_real_radix2_transform(buf, 1, nfft);
}

/* acc += Re(conj(A) B) at the real positions (imaginary parts stay 0),
** i.e. the cross spectrum whose inverse is a correlation sum */
static void msd_cross_acc(double *acc, const double *A, const double *B,
			  size_t nfft)
{
	size_t i, h = nfft / 2;
	acc[0] += A[0] * B[0];
	acc[h] += A[h] * B[h];
	for (i = 1; i < h; i++)
		acc[i] += A[i] * B[i] + A[nfft - i] * B[nfft - i];
}

/* From the summed correlation c[m] = sum_k x_k . y_{k+m} (+ the reverse,
** halved) and p[k] = x_k . y_k, the displacement correlation
** (1/(n-m)) sum_k (x_{k+m}-x_k).(y_{k+m}-y_k) = (Q_m - 2 c_m)/(n-m) with
** Q_m = sum_{k<n-m} (p_{k+m} + p_k), updated from lag to lag. */
static void msd_combine(const double *c, const double *p, size_t n,
			size_t nlag, double scale, double *out)
{
	double q = 0;
	size_t m;
	for (m = 0; m < n; m++)
		q += 2 * p[m];
	for (m = 0; m < nlag; m++) {
		if (m > 0)
			q -= p[m - 1] + p[n - m];
		out[m] = scale * (q - 2 * c[m]) / (double)(n - m);
	}
}

int msd_series(const double *x, size_t n, double *out, size_t nlag,
	       char *err)
{
	size_t nfft = msd_pow2(n + (nlag ? nlag : 1) - 1), k;
	double *buf, *spec, *p;
	if (n < 2 || nlag > n)
		return err_set(err, "msd_series: need n >= 2 and nlag <= n");
	buf = err_calloc(nfft, sizeof *buf, err);
	spec = err_calloc(nfft, sizeof *spec, err);
	p = err_calloc(n, sizeof *p, err);
	if (buf && spec && p) {
		msd_fft(buf, x, n, nfft);
		msd_cross_acc(spec, buf, buf, nfft);
		gsl_fft_halfcomplex_radix2_inverse(spec, 1, nfft);
		for (k = 0; k < n; k++)
			p[k] = x[k] * x[k];
		msd_combine(spec, p, n, nlag, 1.0, out);
	}
	free(buf);
	free(spec);
	free(p);
	return buf && spec && p ? 0 : -1;
}

/* ---------------------------------------------------------------- */
/* accumulator                                                      */
/* ---------------------------------------------------------------- */

void msd_free(msd_acc *a)
{
	if (a == NULL)
		return;
	free(a->group);
	free(a->mass);
	free(a->sel);
	free(a->selg);
	free(a->y);
	free(a->y0);
	free(a->X);
	free(a->self);
	free(a->coll);
	free(a);
}

void msd_res_free(msd_res *r)
{
	free(r->self);
	free(r->coll);
	r->self = r->coll = NULL;
}

static int msd_check_opts(size_t natoms, const msd_opts *o, char *err)
{
	size_t i;
	if (o->ngroups < 1 || o->ngroups > MSD_MAXG)
		return err_set(err, "msd: 1 to %d groups, not %d", MSD_MAXG,
			       o->ngroups);
	if (o->block < 8)
		return err_set(err, "msd: a block needs at least 8 frames, "
			       "not %zu", o->block);
	if (o->nblocks < 1)
		return err_set(err, "msd: nblocks must be >= 1");
	if (o->frame == MSD_GROUPCOM &&
	    (o->ref_group < 0 || o->ref_group >= o->ngroups))
		return err_set(err, "msd: reference group %d out of range",
			       o->ref_group);
	for (i = 0; i < natoms; i++) {
		if (o->group[i] < -1 || o->group[i] >= o->ngroups)
			return err_set(err, "msd: atom %zu: group %d out of "
				       "range", i, o->group[i]);
		if (o->mass && !(o->mass[i] >= 0))
			return err_set(err, "msd: atom %zu: mass must be >= 0",
				       i);
	}
	return 0;
}

/* the selected atoms, group by group, and the per-group counts */
static int msd_select(msd_acc *a, char *err)
{
	size_t i, j = 0;
	int g;
	for (i = 0; i < a->natoms; i++)
		if (a->group[i] >= 0)
			a->count[a->group[i]]++, a->nsel++;
	for (g = 0; g < a->ngroups; g++)
		if (a->count[g] == 0)
			return err_set(err, "msd: group %d has no particles",
				       g + 1);
	a->sel = err_calloc(a->nsel, sizeof *a->sel, err);
	a->selg = err_calloc(a->nsel, sizeof *a->selg, err);
	if (a->sel == NULL || a->selg == NULL)
		return -1;
	for (g = 0; g < a->ngroups; g++)
		for (i = 0; i < a->natoms; i++)
			if (a->group[i] == g)
				a->sel[j] = i, a->selg[j++] = g;
	return 0;
}

int msd_new(msd_acc **out, size_t natoms, const msd_opts *o, char *err)
{
	msd_acc *a;
	size_t i, ng;
	*out = NULL;
	if (msd_check_opts(natoms, o, err) != 0)
		return -1;
	a = err_calloc(1, sizeof *a, err);
	if (a == NULL)
		return -1;
	a->ngroups = o->ngroups;
	a->frame = o->frame;
	a->ref_group = o->ref_group;
	a->natoms = natoms;
	a->block = o->block;
	a->nblocks = o->nblocks;
	a->nlag = o->block / 2 + 1;
	/* zero padding to B + nlag - 1 keeps lags < nlag free of wrap-around */
	a->nfft = msd_pow2(o->block + a->nlag - 1);
	ng = (size_t)o->ngroups;
	a->group = err_calloc(natoms ? natoms : 1, sizeof *a->group, err);
	a->mass = err_calloc(natoms ? natoms : 1, sizeof *a->mass, err);
	if (a->group == NULL || a->mass == NULL)
		goto fail;
	for (i = 0; i < natoms; i++) {
		a->group[i] = o->group[i];
		a->mass[i] = o->mass ? o->mass[i] : 1.0;
	}
	if (msd_select(a, err) != 0)
		goto fail;
	a->y = err_malloc(a->nsel * 3, a->block * sizeof *a->y, err);
	a->y0 = err_calloc(a->nsel * 3, sizeof *a->y0, err);
	a->X = err_calloc(ng * 3, a->block * sizeof *a->X, err);
	a->self = err_calloc(a->nblocks * ng, a->nlag * sizeof(double), err);
	a->coll = err_calloc(a->nblocks * ng * ng, a->nlag * sizeof(double),
			     err);
	if (!a->y || !a->y0 || !a->X || !a->self || !a->coll)
		goto fail;
	a->bytes = (a->nsel * 3 * (a->block + 1) + ng * 3 * a->block +
		    a->nblocks * (ng + ng * ng) * a->nlag +
		    (size_t)2 * (ng + 1) * a->nfft) * sizeof(double);
	*out = a;
	return 0;
fail:
	msd_free(a);
	return -1;
}

/* the displacement of the reference frame at this instant */
static int msd_reference(const msd_acc *a, const double *pos, double R[3],
			 char *err)
{
	double m = 0;
	size_t i;
	int d;
	R[0] = R[1] = R[2] = 0;
	if (a->frame == MSD_LAB)
		return 0;
	for (i = 0; i < a->natoms; i++) {
		if (a->frame == MSD_GROUPCOM && a->group[i] != a->ref_group)
			continue;
		m += a->mass[i];
		for (d = 0; d < 3; d++)
			R[d] += a->mass[i] * pos[3 * i + (size_t)d];
	}
	if (!(m > 0))
		return err_set(err, "msd: the reference frame has zero mass");
	for (d = 0; d < 3; d++)
		R[d] /= m;
	return 0;
}

/* frames must be evenly spaced: the first interval sets dt */
static int msd_check_time(msd_acc *a, double time, char *err)
{
	if (a->nframes == 1) {
		a->dt = time - a->tprev;
		if (!(a->dt > 0))
			return err_set(err, "msd: frame 2: time does not "
				       "increase");
	} else if (a->nframes > 1 &&
		   fabs(time - a->tprev - a->dt) > 1e-6 * a->dt)
		return err_set(err, "msd: frame %zu: time step %g s differs "
			       "from the first %g s (frames must be evenly "
			       "spaced)", a->nframes + 1, time - a->tprev,
			       a->dt);
	a->tprev = time;
	a->nframes++;
	return 0;
}

static int msd_block(msd_acc *a, char *err);

static double msd_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int msd_add_frame(msd_acc *a, const double *pos, double time,
			 const double box[3], char *err);

/* the work of msd_add, timed for throughput reports */
int msd_add(msd_acc *a, const double *pos, double time, const double box[3],
	    char *err)
{
	double t0 = msd_now();
	int r = msd_add_frame(a, pos, time, box, err);
	a->seconds += msd_now() - t0;
	return r;
}

static int msd_add_frame(msd_acc *a, const double *pos, double time,
			 const double box[3], char *err)
{
	double R[3];
	size_t j, k = a->k, B = a->block;
	int d, g;
	if (a->b >= a->nblocks)
		return 0;
	if (msd_check_time(a, time, err) != 0 ||
	    msd_reference(a, pos, R, err) != 0)
		return -1;
	if (box && box[0] > 0 && box[1] > 0 && box[2] > 0) {
		a->vol_sum += box[0] * box[1] * box[2];
		a->vol_n++;
	}
	for (g = 0; g < a->ngroups; g++)
		for (d = 0; d < 3; d++)
			a->X[((size_t)g * 3 + (size_t)d) * B + k] = 0;
	for (j = 0; j < a->nsel; j++) {
		const double *x = pos + 3 * a->sel[j];
		for (d = 0; d < 3; d++) {
			size_t jd = 3 * j + (size_t)d;
			double v = x[d] - R[d];
			if (k == 0)
				a->y0[jd] = v;
			v -= a->y0[jd];
			a->y[jd * B + k] = v;
			a->X[((size_t)a->selg[j] * 3 + (size_t)d) * B + k] += v;
		}
	}
	if (++a->k == B) {
		if (msd_block(a, err) != 0)
			return -1;
		a->k = 0;
		a->b++;
	}
	return a->b < a->nblocks ? 1 : 0;
}

/* self part of one block: every particle's spectrum summed per group
** (one inverse FFT per group), in parallel over particles */
static int msd_block_self(msd_acc *a, char *err)
{
	size_t B = a->block, nf = a->nfft, ng = (size_t)a->ngroups, g;
	double *P = err_calloc(ng * nf, sizeof *P, err);
	double *S = err_calloc(ng * B, sizeof *S, err);
	int fail = P == NULL || S == NULL, stop = 0;
	if (!fail) {
		#pragma omp parallel
		{
			double *buf = malloc(nf * sizeof *buf);
			double *Pl = calloc(ng * nf, sizeof *Pl);
			double *Sl = calloc(ng * B, sizeof *Sl);
			long j;
			int bad = !buf || !Pl || !Sl;
			#pragma omp for schedule(dynamic, 4)
			for (j = 0; j < (long)a->nsel; j++) {
				size_t gg = (size_t)a->selg[j], d, k;
				if (bad || intr_pending())
					continue;
				for (d = 0; d < 3; d++) {
					const double *x =
						a->y + (3 * (size_t)j + d) * B;
					msd_fft(buf, x, B, nf);
					msd_cross_acc(Pl + gg * nf, buf, buf, nf);
					for (k = 0; k < B; k++)
						Sl[gg * B + k] += x[k] * x[k];
				}
			}
			#pragma omp critical
			{
				size_t k;
				if (bad)
					fail = 1;
				else {
					for (k = 0; k < ng * nf; k++)
						P[k] += Pl[k];
					for (k = 0; k < ng * B; k++)
						S[k] += Sl[k];
				}
			}
			free(buf);
			free(Pl);
			free(Sl);
		}
	}
	stop = intr_pending();
	if (!fail && !stop)
		for (g = 0; g < ng; g++) {
			gsl_fft_halfcomplex_radix2_inverse(P + g * nf, 1, nf);
			msd_combine(P + g * nf, S + g * B, B, a->nlag,
				    1.0 / (double)a->count[g],
				    a->self + (a->b * ng + g) * a->nlag);
		}
	free(P);
	free(S);
	if (stop)
		return err_set(err, "msd: interrupted");
	return fail ? err_set(err, "msd: out of memory") : 0;
}

/* collective part: cross correlations of the group sums */
static int msd_block_coll(msd_acc *a, char *err)
{
	size_t B = a->block, nf = a->nfft, ng = (size_t)a->ngroups;
	size_t g, h, d, k;
	double *F = err_calloc(ng * 3 * nf, sizeof *F, err);
	double *C = err_calloc(nf, sizeof *C, err);
	double *p = err_calloc(B, sizeof *p, err);
	int r = F && C && p ? 0 : -1;
	for (g = 0; r == 0 && g < ng * 3; g++)
		msd_fft(F + g * nf, a->X + g * B, B, nf);
	for (g = 0; r == 0 && g < ng; g++)
		for (h = g; h < ng; h++) {
			double *o = a->coll + ((a->b * ng + g) * ng + h) *
				a->nlag;
			memset(C, 0, nf * sizeof *C);
			memset(p, 0, B * sizeof *p);
			for (d = 0; d < 3; d++) {
				const double *x = a->X + (g * 3 + d) * B;
				const double *y = a->X + (h * 3 + d) * B;
				msd_cross_acc(C, F + (g * 3 + d) * nf,
					      F + (h * 3 + d) * nf, nf);
				for (k = 0; k < B; k++)
					p[k] += x[k] * y[k];
			}
			gsl_fft_halfcomplex_radix2_inverse(C, 1, nf);
			msd_combine(C, p, B, a->nlag, 1.0, o);
			if (h != g)
				memcpy(a->coll + ((a->b * ng + h) * ng + g) *
				       a->nlag, o, a->nlag * sizeof *o);
		}
	free(F);
	free(C);
	free(p);
	return r;
}

/* A finite position can still be too large to square (a wrapped file
** whose coordinate reads 1e300 m: its unwrapped path jumps by about the
** rounding error of that number). Its MSD is then Inf or NaN, which the
** results would show as a missing value with zero error bars: an error
** naming the block and the largest displacement instead. */
static int msd_block_check(const msd_acc *a, char *err)
{
	size_t ng = (size_t)a->ngroups, n, k;
	const double *s = a->self + a->b * ng * a->nlag;
	const double *c = a->coll + a->b * ng * ng * a->nlag;
	double big = 0;
	for (k = 0; k < ng * a->nlag; k++)
		if (!isfinite(s[k]))
			break;
	n = k == ng * a->nlag ? ng * ng * a->nlag : 0;
	for (k = 0; k < n; k++)
		if (!isfinite(c[k]))
			break;
	if (n != 0 && k == n)
		return 0;
	for (k = 0; k < 3 * a->nsel * a->block; k++)
		big = fmax(big, fabs(a->y[k]));
	return err_set(err, "msd: block %zu (frames %zu to %zu after the "
		       "skip): the mean squared displacement is not finite "
		       "(a displacement of %g m)", a->b + 1,
		       a->b * a->block + 1, (a->b + 1) * a->block, big);
}

static int msd_block(msd_acc *a, char *err)
{
	if (msd_block_self(a, err) != 0 || msd_block_coll(a, err) != 0 ||
	    msd_block_check(a, err) != 0)
		return -1;
	return 0;
}

int msd_finish(msd_acc *a, msd_res *r, char *err)
{
	size_t ng = (size_t)a->ngroups;
	memset(r, 0, sizeof *r);
	if (a->b == 0)
		return err_set(err, "msd: %zu frames, fewer than one block of "
			       "%zu", a->nframes, a->block);
	r->ngroups = a->ngroups;
	r->nblocks = a->b;
	r->nlag = a->nlag;
	r->dt = a->dt;
	memcpy(r->count, a->count, sizeof r->count);
	r->self = a->self;
	r->coll = a->coll;
	a->self = a->coll = NULL;
	r->volume = a->vol_n ? a->vol_sum / (double)a->vol_n : NAN;
	if (a->vol_n && !(isfinite(r->volume) && r->volume > 0)) {
		msd_res_free(r);
		return err_set(err, "msd: the mean box volume is %g m^3 (box "
			       "edges too large or too small)", r->volume);
	}
	r->frames_used = a->b * a->block;
	r->bytes = a->bytes;
	r->seconds = a->seconds;
	(void)ng;
	return 0;
}

int msd_run(traj *t, const msd_opts *o, size_t skip, progress *prog,
	    msd_res *r, char *err)
{
	const traj_info *inf = traj_get_info(t);
	msd_opts oo = *o;
	msd_acc *a = NULL;
	traj_frame fr;
	int k = 1, more = 1;
	memset(r, 0, sizeof *r);
	if (skip >= inf->nframes)
		return err_set(err, "%s: skip %zu leaves none of its %zu "
			       "frames", traj_path(t), skip, inf->nframes);
	if (oo.nblocks < 1)
		return err_set(err, "msd: nblocks must be >= 1");
	if (oo.block == 0)
		oo.block = (inf->nframes - skip) / oo.nblocks;
	if (oo.block < 8)
		return err_set(err, "%s: %zu frames after skipping %zu make "
			       "blocks of %zu frames (need >= 8): use fewer "
			       "blocks", traj_path(t), inf->nframes - skip,
			       skip, oo.block);
	if (msd_new(&a, inf->natoms, &oo, err) != 0)
		return -1;
	if (prog)
		progress_begin(prog, "md transport",
			       (double)(skip + oo.block * oo.nblocks));
	while (more == 1 && (k = traj_next(t, &fr, err)) == 1) {
		if (fr.index >= skip)
			more = msd_add(a, fr.pos, fr.time, fr.box, err);
		if (more >= 0 && prog &&
		    progress_update(prog, (double)fr.index + 1) != 0)
			more = err_set(err, "stopped by the progress callback");
	}
	if (prog && progress_end(prog) != 0 && k >= 0 && more >= 0)
		more = err_set(err, "stopped by the progress callback");
	if (k < 0 || more < 0) {
		msd_free(a);
		return -1;
	}
	k = msd_finish(a, r, err);
	if (k == 0 && r->nblocks < oo.nblocks)
		k = err_set(err, "%s: only %zu of %zu blocks of %zu frames",
			    traj_path(t), r->nblocks, oo.nblocks, oo.block);
	if (k != 0)
		msd_res_free(r);
	msd_free(a);
	return k;
}

/* ---------------------------------------------------------------- */
/* fits and transport coefficients                                  */
/* ---------------------------------------------------------------- */

double msd_slope(const double *y, size_t lo, size_t hi, double dt)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, n = (double)(hi - lo + 1);
	size_t m;
	for (m = lo; m <= hi; m++) {
		double x = (double)m * dt;
		sx += x;
		sy += y[m];
		sxx += x * x;
		sxy += x * y[m];
	}
	return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

int msd_fit_range(const double *y, size_t nlag, size_t *lo, size_t *hi,
		  char *err)
{
	size_t L, start = 1;
	int found = 1;
	*hi = nlag / 2;
	if (*hi < 4)
		return err_set(err, "msd: too few lags (%zu) for a fit", nlag);
	for (L = 1; 2 * L <= *hi; L *= 2) {
		double beta = y[L] > 0 && y[2 * L] > 0
			? log(y[2 * L] / y[L]) / log(2.0) : NAN;
		if (!(fabs(beta - 1) < 0.15))
			start = 2 * L;
	}
	if (start > *hi / 2) {
		start = *hi / 2;
		found = 0;
	}
	*lo = start;
	return found ? 0 : 1;
}

/* slopes (m^2/s) of one block or of the block mean */
typedef struct msd_slopes {
	double self[MSD_MAXG], coll[MSD_MAXG][MSD_MAXG];
} msd_slopes;

static void msd_slopes_of(const msd_res *r, const double *self,
			  const double *coll, size_t lo, size_t hi,
			  msd_slopes *s)
{
	size_t ng = (size_t)r->ngroups, g, h;
	for (g = 0; g < ng; g++) {
		s->self[g] = msd_slope(self + g * r->nlag, lo, hi, r->dt);
		for (h = 0; h < ng; h++)
			s->coll[g][h] = msd_slope(coll + (g * ng + h) *
						  r->nlag, lo, hi, r->dt);
	}
}

/* every derived quantity from slopes; SI where V and T are known */
static void msd_derive(const msd_res *r, const msd_tin *in,
		       const msd_slopes *s, msd_tout *o)
{
	int c = in->cat, a = in->an, g;
	double zc = in->z_cat, za = in->z_an;
	double vkt = r->volume * MSD_KB * in->temperature;
	double f = in->temperature > 0 && r->volume > 0 ? 1 / (6 * vkt) : NAN;
	double nc = (double)r->count[c], na = (double)r->count[a];
	double den = zc * zc * s->coll[c][c] + za * za * s->coll[a][a] +
		2 * zc * za * s->coll[c][a];
	double ne = nc * zc * zc * s->self[c] + na * za * za * s->self[a];
	for (g = 0; g < r->ngroups; g++)
		o->d[g].v = s->self[g] / 6;
	o->l_pp.v = f * s->coll[c][c];
	o->l_mm.v = f * s->coll[a][a];
	o->l_pm.v = f * s->coll[c][a];
	o->l_pp_self.v = f * nc * s->self[c];
	o->l_mm_self.v = f * na * s->self[a];
	o->l_pp_dist.v = o->l_pp.v - o->l_pp_self.v;
	o->l_mm_dist.v = o->l_mm.v - o->l_mm_self.v;
	o->sigma.v = MSD_E * MSD_E * f * den;
	o->sigma_ne.v = MSD_E * MSD_E * f * ne;
	o->ionicity.v = den / ne;
	o->t_app.v = nc * zc * zc * s->self[c] / ne;
	o->t_plus.v = (zc * zc * s->coll[c][c] + zc * za * s->coll[c][a]) /
		den;
}

/* standard errors of the derived values over blocks */
static void msd_block_errors(const msd_res *r, const msd_tin *in,
			     size_t lo, size_t hi, msd_tout *o)
{
	size_t ng = (size_t)r->ngroups, b, q, nq = MSD_NVAL;
	double *sum = calloc(nq, sizeof *sum), *sq = calloc(nq, sizeof *sq);
	msd_tout t;
	msd_slopes s;
	double nb = (double)r->nblocks;
	if (sum == NULL || sq == NULL || r->nblocks < 2) {
		free(sum);
		free(sq);
		return;
	}
	for (b = 0; b < r->nblocks; b++) {
		msd_slopes_of(r, r->self + b * ng * r->nlag,
			      r->coll + b * ng * ng * r->nlag, lo, hi, &s);
		memset(&t, 0, sizeof t);
		msd_derive(r, in, &s, &t);
		for (q = 0; q < nq; q++) {
			double v = ((msd_val *)&t)[q].v;
			sum[q] += v;
			sq[q] += v * v;
		}
	}
	for (q = 0; q < nq; q++) {
		double mean = sum[q] / nb;
		double var = (sq[q] - nb * mean * mean) / (nb - 1);
		((msd_val *)o)[q].e = sqrt(fmax(var, 0) / nb);
	}
	free(sum);
	free(sq);
}

/* the mean curves over blocks */
static int msd_means(const msd_res *r, double **self, double **coll,
		     char *err)
{
	size_t ng = (size_t)r->ngroups, n1 = ng * r->nlag, n2 = ng * n1, b, k;
	*self = err_calloc(n1, sizeof **self, err);
	*coll = err_calloc(n2, sizeof **coll, err);
	if (*self == NULL || *coll == NULL)
		return -1;
	for (b = 0; b < r->nblocks; b++) {
		for (k = 0; k < n1; k++)
			(*self)[k] += r->self[b * n1 + k] / (double)r->nblocks;
		for (k = 0; k < n2; k++)
			(*coll)[k] += r->coll[b * n2 + k] / (double)r->nblocks;
	}
	return 0;
}

/* 0, or 1 when the automatic range found no diffusive regime */
static int msd_range(const msd_res *r, const msd_tin *in,
		     const double *self, size_t *lo, size_t *hi, char *err)
{
	if (in->t_lo == 0 && in->t_hi == 0)
		return msd_fit_range(self + (size_t)in->cat * r->nlag, r->nlag,
				     lo, hi, err);
	double flo = ceil(in->t_lo / r->dt - 1e-9);
	double fhi = floor(in->t_hi / r->dt + 1e-9);
	/* (the lags are checked as doubles: a window of -5 or 1e300 s
	** must not reach the conversion to size_t) */
	if (!(in->t_lo > 0) || !(in->t_hi > in->t_lo) || !(flo >= 1) ||
	    !(fhi < (double)r->nlag) || !(fhi >= flo + 2))
		return err_set(err, "msd: fit range %g .. %g s must lie in "
			       "(0, %g] s with at least 3 lags (frame time "
			       "%g s)", in->t_lo, in->t_hi,
			       (double)(r->nlag - 1) * r->dt, r->dt);
	*lo = (size_t)flo;
	*hi = (size_t)fhi;
	return 0;
}

int msd_transport(const msd_res *r, const msd_tin *in, msd_tout *o,
		  char *err)
{
	double *self = NULL, *coll = NULL;
	msd_slopes s;
	size_t lo = 0, hi = 0, q;
	int rc = -1;
	memset(o, 0, sizeof *o);
	if (in->cat < 0 || in->an < 0 || in->cat >= r->ngroups ||
	    in->an >= r->ngroups || in->cat == in->an)
		return err_set(err, "msd: cation and anion must be two "
			       "different groups");
	if (in->z_cat == 0 || in->z_an == 0)
		return err_set(err, "msd: charges must not be zero");
	if (msd_means(r, &self, &coll, err) == 0 &&
	    (rc = msd_range(r, in, self, &lo, &hi, err)) >= 0) {
		o->not_diffusive = rc == 1;
		msd_slopes_of(r, self, coll, lo, hi, &s);
		msd_derive(r, in, &s, o);
		for (q = 0; q < MSD_NVAL; q++)
			((msd_val *)o)[q].e = NAN;
		msd_block_errors(r, in, lo, hi, o);
		o->lo = lo;
		o->hi = hi;
		o->fit_lo = (double)lo * r->dt;
		o->fit_hi = (double)hi * r->dt;
		rc = 0;
	} else
		rc = -1;
	free(self);
	free(coll);
	return rc;
}
