/*
** test_corr.c - the streaming multi-tau against a brute-force evaluation
** of its definition (corr.h), closed forms, and bad input.
*/
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "corr.h"
#include "corr16.h"
#include "intr.h"
#include "tap.h"
#include "twotime.h"

static uint64_t rng_state = 12345;

static double urand(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng_state >> 11) * (1.0 / 9007199254740992.0);
}

static double nrand(void)
{
	double u = urand(), v = urand();
	return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

static double prand(double mean)	/* Poisson by inversion, small mean */
{
	double L = exp(-mean), p = 1;
	int k = 0;
	do {
		k++;
		p *= urand();
	} while (p > L);
	return k - 1;
}

/* ---- reference: the definition, evaluated directly, per static bin ---- */

typedef struct ref {
	size_t ntau;
	double tau[256];
	double g2s[256][16];	/* per static bin */
} ref;

static void ref_multitau(const double *I, size_t N, size_t npix,
			 const int32_t *smap, size_t nstat, int dpl, ref *R)
{
	double *C = malloc(N * npix * sizeof *C);
	size_t M = N;
	memcpy(C, I, N * npix * sizeof *C);
	R->ntau = 0;
	for (int l = 0; M >= 2; l++) {
		int k0 = l == 0 ? 1 : dpl + 1;
		for (int k = k0; k <= 2 * dpl; k++) {
			double G[16] = {0}, IP[16] = {0}, IF[16] = {0};
			double n[16] = {0};
			if ((size_t)k >= M)
				continue;
			for (size_t p = 0; p < npix; p++) {
				int s = smap[p] - 1;
				if (s < 0)
					continue;
				n[s]++;
				for (size_t t = 0; t + k < M; t++) {
					G[s] += C[t * npix + p] *
						C[(t + k) * npix + p];
					IP[s] += C[t * npix + p];
					IF[s] += C[(t + k) * npix + p];
				}
			}
			for (size_t s = 0; s < nstat; s++) {
				double np = (double)(M - k) * n[s];
				R->g2s[R->ntau][s] = n[s] > 0 ?
					(G[s] / np) / ((IP[s] / np) *
						       (IF[s] / np)) : NAN;
			}
			R->tau[R->ntau++] = k * ldexp(1.0, l);
		}
		/* next level: sums of pairs */
		for (size_t j = 0; j < M / 2; j++)
			for (size_t p = 0; p < npix; p++)
				C[j * npix + p] = C[2 * j * npix + p] +
						  C[(2 * j + 1) * npix + p];
		M /= 2;
	}
	free(C);
}

/* a data stack in any dtype from doubles */
static void *to_dtype(const double *v, size_t n, arr_dtype dt)
{
	static const size_t sz[] = {8, 4, 4, 2, 4, 1};
	char *b = malloc(n * sz[dt]);
	for (size_t i = 0; i < n; i++) {
		switch (dt) {
		case ARR_F64: ((double *)b)[i] = v[i]; break;
		case ARR_F32: ((float *)b)[i] = (float)v[i]; break;
		case ARR_I32: ((int32_t *)b)[i] = (int32_t)v[i]; break;
		case ARR_U16: ((uint16_t *)b)[i] = (uint16_t)v[i]; break;
		case ARR_U32: ((uint32_t *)b)[i] = (uint32_t)v[i]; break;
		case ARR_U8: ((uint8_t *)b)[i] = (uint8_t)v[i]; break;
		default: break;
		}
	}
	return b;
}

/* push a stack in uneven chunks, so that batch and level boundaries fall
** everywhere */
static int push_chunks(corr *c, const void *data, arr_dtype dt, size_t N,
		       size_t rows, size_t cols, char *err)
{
	static const size_t sz[] = {8, 4, 4, 2, 4, 1};
	static const size_t chunk[] = {1, 7, 3, 70, 5, 129, 2, 64};
	size_t f = 0, i = 0, fb = rows * cols * sz[dt];
	while (f < N) {
		size_t n = chunk[i++ % 8];
		if (n > N - f)
			n = N - f;
		if (corr_push(c, (const char *)data + f * fb, dt, n, rows, cols,
			      err))
			return -1;
		f += n;
	}
	return 0;
}

static double max_rel(const corr_res *r, const ref *R, size_t nstat)
{
	double m = 0;
	if (r->ntau != R->ntau)
		return INFINITY;
	for (size_t i = 0; i < R->ntau; i++) {
		if (r->tau[i] != R->tau[i])
			return INFINITY;
		for (size_t s = 0; s < nstat; s++) {
			double a = r->g2_static[i * r->nstat + s];
			double b = R->g2s[i][s];
			double e = fabs(a - b) / fabs(b);
			if (isnan(a) != isnan(b))
				return INFINITY;
			if (!isnan(a) && e > m)
				m = e;
		}
	}
	return m;
}

static void make_map(qmap *m, size_t rows, size_t cols, int32_t *map,
		     size_t nb)
{
	char err[ERR_LEN];
	if (qmap_from_map(m, rows, cols, map, nb, NULL, NULL, err))
		diag("make_map: %s", err);
}

/* ---------------------------------------------------------------- tests */

static void test_dtypes(void)
{
	static const arr_dtype dts[] = {ARR_U8, ARR_U16, ARR_U32, ARR_I32,
					ARR_F32, ARR_F64};
	static const size_t Ns[] = {37, 101, 255, 2, 9};
	size_t rows = 5, cols = 7, np = rows * cols;
	int32_t map[35];
	for (size_t p = 0; p < np; p++)
		map[p] = (p % 5 == 3) ? 0 : (int32_t)(p % 3) + 1;
	for (size_t d = 0; d < 6; d++) {
		for (size_t in = 0; in < 5; in++) {
			size_t N = Ns[in];
			double *I = malloc(N * np * sizeof *I);
			char err[ERR_LEN];
			void *raw;
			qmap m;
			corr *c;
			corr_opts o;
			corr_res r;
			ref R;
			for (size_t i = 0; i < N * np; i++)
				I[i] = floor(urand() * 200);
			raw = to_dtype(I, N * np, dts[d]);
			make_map(&m, rows, cols, map, 0);
			corr_opts_default(&o);
			ref_multitau(I, N, np, map, 3, 4, &R);
			if (corr_new(&c, &m, NULL, &o, err) ||
			    push_chunks(c, raw, dts[d], N, rows, cols, err) ||
			    corr_result(c, &r, err)) {
				ok(0, "dtype %d N=%zu: %s", (int)dts[d], N,
				   err);
			} else {
				double e = max_rel(&r, &R, 3);
				ok(e < 1e-12, "dtype %d, %zu frames: %zu delays "
				   "match brute force (max rel err %.2g)",
				   (int)dts[d], N, r.ntau, e);
				corr_res_free(&r);
			}
			corr_free(c);
			qmap_free(&m);
			free(raw);
			free(I);
		}
	}
}

/* many tiles, a mask that breaks contiguity, static bins nested in
** dynamic bins (dynamic g2 = mean of its static g2) */
static void test_tiles_nested(void)
{
	size_t rows = 24, cols = 40, np = rows * cols, N = 131;
	int32_t smap[960], dmap[960];
	double *I = malloc(N * np * sizeof *I);
	char err[ERR_LEN];
	qmap ms, md;
	corr *c;
	corr_opts o;
	corr_res r;
	ref R;
	for (size_t p = 0; p < np; p++) {
		size_t row = p / cols, col = p % cols;
		int bad = (row == 3 && col > 10) || (col == 17);
		smap[p] = bad ? 0 : (int32_t)(col / 10) + 1;	/* 4 static */
		dmap[p] = bad ? 0 : (int32_t)(col / 20) + 1;	/* 2 dynamic */
	}
	for (size_t i = 0; i < N * np; i++)
		I[i] = prand(3.0 + (double)(i % np) / 300.0);
	make_map(&ms, rows, cols, smap, 0);
	make_map(&md, rows, cols, dmap, 0);
	corr_opts_default(&o);
	ref_multitau(I, N, np, smap, 4, 4, &R);
	if (corr_new(&c, &md, &ms, &o, err) ||
	    push_chunks(c, I, ARR_F64, N, rows, cols, err) ||
	    corr_result(c, &r, err)) {
		ok(0, "nested: %s", err);
		return;
	}
	ok(max_rel(&r, &R, 4) < 1e-12, "4 tiles, holes: static g2 = brute "
	   "force (%.2g)", max_rel(&r, &R, 4));
	{
		double e = 0;
		for (size_t i = 0; i < r.ntau; i++)
			for (int d = 0; d < 2; d++) {
				double want = 0.5 * (R.g2s[i][2 * d] +
						     R.g2s[i][2 * d + 1]);
				double got = r.g2[i * 2 + d];
				if (fabs(got - want) > e)
					e = fabs(got - want);
			}
		ok(e < 1e-12, "dynamic g2 = mean of its static g2 (%.2g)", e);
	}
	ok(r.ntau == corr_delays(&o, N, NULL, 0), "corr_delays counts %zu",
	   r.ntau);
	{
		double tau[64];
		size_t n = corr_delays(&o, 10000, tau, 64);
		int good = n == 48 && tau[47] == 8192;	/* as APS */
		static const double want[] = {1, 2, 3, 4, 5, 6, 7, 8, 10, 12,
					      14, 16, 20, 24, 28, 32};
		for (int i = 0; i < 16; i++)
			good = good && tau[i] == want[i];
		ok(good, "APS delay list for 10000 frames (%zu delays, last "
		   "%g)", n, tau[n - 1]);
	}
	corr_res_free(&r);
	corr_free(c);
	qmap_free(&ms);
	qmap_free(&md);
	free(I);
}

/* every frame equal: g2 = 1 exactly and no spread. (The intensity is
** uniform inside each static bin: the symmetric normalisation per static
** bin gives <I^2>/<I>^2 > 1 for a bin of unequal constant pixels.) */
static void test_constant(void)
{
	size_t rows = 16, cols = 16, np = 256, N = 300;
	int32_t map[256];
	uint16_t *f = malloc(N * np * sizeof *f);
	char err[ERR_LEN];
	qmap m;
	corr *c;
	corr_opts o;
	corr_res r;
	double e = 0, ee = 0;
	for (size_t p = 0; p < np; p++)
		map[p] = (int32_t)(p / 64) + 1;
	for (size_t i = 0; i < N * np; i++)
		f[i] = (uint16_t)(100 + 10 * ((i % np) / 64));
	make_map(&m, rows, cols, map, 0);
	corr_opts_default(&o);
	if (corr_new(&c, &m, NULL, &o, err) ||
	    corr_push(c, f, ARR_U16, N, rows, cols, err) ||
	    corr_result(c, &r, err)) {
		ok(0, "constant: %s", err);
		return;
	}
	for (size_t i = 0; i < r.ntau * 4; i++) {
		double m = ldexp(1.0, r.level[i / 4]);
		size_t pairs = (size_t)(floor(N / m) - r.tau[i / 4] / m);
		if (fabs(r.g2[i] - 1) > e)
			e = fabs(r.g2[i] - 1);
		if (pairs < 2 ? !isnan(r.g2_err[i]) :
		    !(r.g2_err[i] >= 0) || r.g2_err[i] > ee)
			ee = pairs < 2 ? INFINITY : r.g2_err[i];
	}
	ok(e < 1e-14, "constant frames: g2 = 1 at all %zu delays (%.2g)",
	   r.ntau, e);
	ok(ee < 1e-14, "constant frames: error 0, NaN with a single pair "
	   "(%.2g)", ee);
	is_num(r.image[137], 120, 1e-12, "time-averaged image");
	is_num(r.iq[1], 110, 1e-12, "I(q) of bin 2");
	is_num(r.ivt[5], 115, 1e-12, "intensity vs frame");
	corr_res_free(&r);
	corr_free(c);
	qmap_free(&m);
	free(f);
}

/* Poisson noise around a constant mean: g2 = 1 within the errors */
static void test_poisson(void)
{
	size_t rows = 32, cols = 32, np = 1024, N = 1500;
	int32_t map[1024];
	uint16_t *f = malloc(N * np * sizeof *f);
	char err[ERR_LEN];
	qmap m;
	corr *c;
	corr_opts o;
	corr_res r;
	double worst = 0;
	size_t out = 0;
	for (size_t p = 0; p < np; p++)
		map[p] = (int32_t)(p / 256) + 1;
	for (size_t i = 0; i < N * np; i++)
		f[i] = (uint16_t)prand(2.0);
	make_map(&m, rows, cols, map, 0);
	corr_opts_default(&o);
	if (corr_new(&c, &m, NULL, &o, err) ||
	    corr_push(c, f, ARR_U16, N, rows, cols, err) ||
	    corr_result(c, &r, err)) {
		ok(0, "poisson: %s", err);
		return;
	}
	for (size_t i = 0; i < r.ntau * 4; i++) {
		double z = fabs(r.g2[i] - 1) / r.g2_err[i];
		if (z > worst)
			worst = z;
		if (z > 2)
			out++;
	}
	ok(worst < 4.5, "Poisson mean 2: |g2 - 1| < 4.5 sigma everywhere "
	   "(worst %.2f sigma over %zu values)", worst, r.ntau * 4);
	ok(out < r.ntau * 4 / 8, "about 5%% beyond 2 sigma (%zu of %zu)",
	   out, r.ntau * 4);
	ok(r.g2_err[0] > 1e-4 && r.g2_err[0] < 0.01, "error at tau=1 is "
	   "plausible (%.3g)", r.g2_err[0]);
	corr_res_free(&r);
	corr_free(c);
	qmap_free(&m);
	free(f);
}

/* complex Gaussian field with |f(tau)| = a^tau (AR(1)): g2 = 1 + a^(2 tau)
** per frame; a level-l delay averages frames in blocks of m = 2^l, so its
** expectation is 1 + m^-2 sum_{i,j<m} a^(2 |k m + j - i|) */
static double expect_g2(double a, double tau, int level)
{
	int m = 1 << level, k = (int)(tau / m);
	double s = 0;
	for (int i = 0; i < m; i++)
		for (int j = 0; j < m; j++)
			s += pow(a, 2.0 * abs(k * m + j - i));
	return 1 + s / ((double)m * m);
}

static void test_exponential(void)
{
	size_t rows = 32, cols = 64, np = 2048, N = 1200;
	double a = exp(-1.0 / 6), sq = sqrt(1 - a * a);
	double *re = malloc(np * sizeof *re), *im = malloc(np * sizeof *im);
	float *f = malloc(N * np * sizeof *f);
	int32_t map[2048];
	char err[ERR_LEN];
	qmap m;
	corr *c;
	corr_opts o;
	corr_res r;
	double worst = 0;
	for (size_t p = 0; p < np; p++) {
		map[p] = 1;
		re[p] = nrand() * sqrt(0.5);
		im[p] = nrand() * sqrt(0.5);
	}
	for (size_t t = 0; t < N; t++)
		for (size_t p = 0; p < np; p++) {
			re[p] = a * re[p] + sq * sqrt(0.5) * nrand();
			im[p] = a * im[p] + sq * sqrt(0.5) * nrand();
			f[t * np + p] = (float)(re[p] * re[p] + im[p] * im[p]);
		}
	make_map(&m, rows, cols, map, 0);
	corr_opts_default(&o);
	if (corr_new(&c, &m, NULL, &o, err) ||
	    corr_push(c, f, ARR_F32, N, rows, cols, err) ||
	    corr_result(c, &r, err)) {
		ok(0, "exponential: %s", err);
		return;
	}
	for (size_t i = 0; i < r.ntau; i++) {
		double want = expect_g2(a, r.tau[i], r.level[i]);
		double z = fabs(r.g2[i] - want) / r.g2_err[i];
		if (r.tau[i] <= 64 && z > worst)
			worst = z;
	}
	ok(worst < 4.5, "exponential field, tau0 = 6 frames: g2 = 1 + "
	   "|f|^2 (block-averaged at coarse levels) within 4.5 sigma to tau "
	   "= 64 (worst %.2f)", worst);
	is_num(r.g2[0], 1 + a * a, 0.03, "g2(1) = 1 + exp(-2/6)");
	corr_res_free(&r);
	corr_free(c);
	qmap_free(&m);
	free(re);
	free(im);
	free(f);
}

/* build a reference for the selected frames of I (rows listed in sel) */
static void ref_select(const double *I, size_t np, const size_t *sel,
		       size_t n, const int32_t *map, size_t nstat, ref *R,
		       const double *dark, int normalize)
{
	double *J = malloc(n * np * sizeof *J);
	for (size_t t = 0; t < n; t++) {
		double s = 0, nu = 0;
		for (size_t p = 0; p < np; p++) {
			J[t * np + p] = I[sel[t] * np + p] - (dark ? dark[p] : 0);
			if (map[p] > 0) {
				s += J[t * np + p];
				nu++;
			}
		}
		if (normalize)
			for (size_t p = 0; p < np; p++)
				J[t * np + p] /= s / nu;
	}
	ref_multitau(J, n, np, map, nstat, 4, R);
	free(J);
}

static void test_options(void)
{
	size_t rows = 6, cols = 9, np = 54, N = 150, sel[150], n;
	int32_t map[54];
	double *I = malloc(N * np * sizeof *I), dark[54];
	char err[ERR_LEN];
	qmap m;
	corr *c;
	corr_opts o;
	corr_res r;
	ref R;
	for (size_t p = 0; p < np; p++) {
		map[p] = p == 7 ? 0 : (int32_t)(p % 2) + 1;
		dark[p] = floor(urand() * 5);
	}
	for (size_t i = 0; i < N * np; i++)
		I[i] = 10 + floor(urand() * 50);
	make_map(&m, rows, cols, map, 0);

	/* frame range and stride */
	corr_opts_default(&o);
	o.first = 3;
	o.last = 140;
	o.stride = 2;
	for (n = 0; 3 + 2 * n < 140; n++)
		sel[n] = 3 + 2 * n;
	ref_select(I, np, sel, n, map, 2, &R, NULL, 0);
	if (!corr_new(&c, &m, NULL, &o, err) &&
	    !push_chunks(c, I, ARR_F64, N, rows, cols, err) &&
	    !corr_result(c, &r, err)) {
		ok(max_rel(&r, &R, 2) < 1e-12 && r.nframes == n &&
		   r.frame_index[1] == 5, "first/last/stride: %zu frames = "
		   "brute force", r.nframes);
		corr_res_free(&r);
	} else
		ok(0, "range: %s", err);
	corr_free(c);

	/* dark subtraction and per-frame normalisation */
	for (n = 0; n < N; n++)
		sel[n] = n;
	for (int norm = 0; norm < 3; norm++) {	/* 2: normalised, no dark */
		corr_opts_default(&o);
		o.dark = norm < 2 ? dark : NULL;
		o.normalize = norm > 0;
		ref_select(I, np, sel, N, map, 2, &R, o.dark, norm > 0);
		if (!corr_new(&c, &m, NULL, &o, err) &&
		    !push_chunks(c, I, ARR_F64, N, rows, cols, err) &&
		    !corr_result(c, &r, err)) {
			ok(max_rel(&r, &R, 2) < 1e-12, "%s = brute force "
			   "(%.2g)", norm == 0 ? "dark" : norm == 1 ?
			   "dark + normalisation" : "normalisation, no dark",
			   max_rel(&r, &R, 2));
			if (!norm) {
				double s = 0;
				for (size_t p = 0; p < np; p++)
					if (map[p] > 0)
						s += I[4 * np + p] - dark[p];
				is_num(r.ivt[4], s / 53, 1e-9, "intensity of "
				       "frame 5, dark-subtracted");
			}
			corr_res_free(&r);
		} else
			ok(0, "dark: %s", err);
		corr_free(c);
	}
	/* normalisation without a dark (it read a dark that was not there:
	** a crash, for float and integer frames alike) */
	for (int dt = 0; dt < 2; dt++) {
		void *raw = dt ? to_dtype(I, N * np, ARR_U16) : NULL;
		corr_opts_default(&o);
		o.normalize = 1;
		ref_select(I, np, sel, N, map, 2, &R, NULL, 1);
		if (!corr_new(&c, &m, NULL, &o, err) &&
		    !push_chunks(c, dt ? raw : I, dt ? ARR_U16 : ARR_F64, N,
				 rows, cols, err) &&
		    !corr_result(c, &r, err)) {
			ok(max_rel(&r, &R, 2) < 1e-12, "normalisation without "
			   "a dark, %s frames = brute force (%.2g)",
			   dt ? "u16" : "f64", max_rel(&r, &R, 2));
			corr_res_free(&r);
		} else
			ok(0, "normalisation: %s", err);
		corr_free(c);
		free(raw);
	}

	/* outlier rejection: frame 77 is 20x too bright */
	{
		double *J = malloc(N * np * sizeof *J);
		memcpy(J, I, N * np * sizeof *J);
		for (size_t p = 0; p < np; p++)
			J[77 * np + p] *= 20;
		corr_opts_default(&o);
		o.reject_sigma = 6;
		for (n = 0; n < N - 1; n++)
			sel[n] = n < 77 ? n : n + 1;
		ref_select(J, np, sel, N - 1, map, 2, &R, NULL, 0);
		if (!corr_new(&c, &m, NULL, &o, err) &&
		    !push_chunks(c, J, ARR_F64, N, rows, cols, err) &&
		    !corr_result(c, &r, err)) {
			ok(r.nrejected == 1 && r.rejected[0] == 77,
			   "frame 78 rejected (%zu rejected)", r.nrejected);
			ok(max_rel(&r, &R, 2) < 1e-12, "g2 = brute force "
			   "without it");
			corr_res_free(&r);
		} else
			ok(0, "reject: %s", err);
		corr_free(c);
		free(J);
	}

	/* the dtype may change between pushes (staged frames are flushed) */
	corr_opts_default(&o);
	for (n = 0; n < N; n++)
		sel[n] = n;
	ref_select(I, np, sel, N, map, 2, &R, NULL, 0);
	if (!corr_new(&c, &m, NULL, &o, err)) {
		void *u16 = to_dtype(I, 50 * np, ARR_U16);
		void *u8 = to_dtype(I + 50 * np, 3 * np, ARR_U8);
		int rc = corr_push(c, u16, ARR_U16, 50, rows, cols, err) ||
			 corr_push(c, u8, ARR_U8, 3, rows, cols, err) ||
			 corr_push(c, I + 53 * np, ARR_F64, N - 53, rows, cols,
				   err) || corr_result(c, &r, err);
		ok(!rc && max_rel(&r, &R, 2) < 1e-12, "u16, u8, f64 pushes "
		   "in one stream = brute force");
		if (!rc)
			corr_res_free(&r);
		free(u16);
		free(u8);
	}
	corr_free(c);

	/* I(q) per segment of 40 frames */
	corr_opts_default(&o);
	o.segment_frames = 40;
	if (!corr_new(&c, &m, NULL, &o, err) &&
	    !push_chunks(c, I, ARR_F64, N, rows, cols, err) &&
	    !corr_result(c, &r, err)) {
		double s = 0, cnt = 0;
		for (size_t t = 80; t < 120; t++)
			for (size_t p = 0; p < np; p++)
				if (map[p] == 2) {
					s += I[t * np + p];
					cnt++;
				}
		ok(r.nseg == 3, "3 segments of 40 in 150 frames");
		is_num(r.iq_seg[2 * 2 + 1], s / cnt, 1e-9, "I of bin 2 in "
		       "segment 3");
		corr_res_free(&r);
	} else
		ok(0, "segments: %s", err);
	corr_free(c);
	qmap_free(&m);
	free(I);
}

static void test_bad_input(void)
{
	size_t rows = 4, cols = 5, np = 20, N = 60;
	int32_t map[20], zero[20];
	double *I = malloc(N * np * sizeof *I);
	char err[ERR_LEN];
	qmap m, mz;
	corr *c;
	corr_opts o;
	corr_res r;
	ref R;
	size_t sel[60];
	for (size_t p = 0; p < np; p++) {
		map[p] = (int32_t)(p % 3) + 1;	/* bin 4: no pixels */
		zero[p] = 0;
	}
	for (size_t i = 0; i < N * np; i++)
		I[i] = floor(urand() * 30);
	qmap_from_map(&m, rows, cols, map, 4, NULL, NULL, err);
	corr_opts_default(&o);

	ok(corr_new(&c, &m, NULL, &o, err) == 0, "new");
	ok(corr_push(c, I, ARR_F64, 1, rows, cols, err) == 0, "one frame");
	ok(corr_result(c, &r, err) == -1 && strstr(err, "first delay"),
	   "1 frame: error '%s'", err);
	ok(corr_push(c, I, ARR_F64, 1, rows + 1, cols, err) == -1 &&
	   strstr(err, "5x5") && strstr(err, "4x5"),
	   "shape mismatch: '%s'", err);
	corr_free(c);

	/* NaN in a float frame: error, nothing changes, the rest goes on */
	{
		double *J = malloc(N * np * sizeof *J);
		size_t n = 0;
		memcpy(J, I, N * np * sizeof *J);
		J[22 * np + 13] = NAN;
		ok(corr_new(&c, &m, NULL, &o, err) == 0, "new");
		corr_push(c, J, ARR_F64, 20, rows, cols, err);
		ok(corr_push(c, J + 20 * np, ARR_F64, 5, rows, cols, err) ==
		   -1 && strstr(err, "frame 23") && strstr(err, "row 3, col 4"),
		   "NaN frame: '%s'", err);
		corr_push(c, J + 25 * np, ARR_F64, N - 25, rows, cols, err);
		for (size_t t = 0; t < N; t++)
			if (t < 20 || t >= 25)
				sel[n++] = t;
		ref_select(I, np, sel, n, map, 4, &R, NULL, 0);
		if (!corr_result(c, &r, err)) {
			ok(max_rel(&r, &R, 3) < 1e-12, "the chunk with the NaN "
			   "left no trace");
			ok(isnan(r.g2[0 * 4 + 3]) && isnan(r.g2_err[3]) &&
			   isnan(r.iq[3]), "empty bin 4: g2, error, I are NaN");
			ok(!isnan(r.g2[0]) && !isnan(r.g2_err[0]),
			   "bin 1 is a number");
			corr_res_free(&r);
		} else
			ok(0, "after NaN: %s", err);
		corr_free(c);
		free(J);
	}

	/* Ctrl-C: the push stops with "interrupted"; afterwards it goes on */
	ok(corr_new(&c, &m, NULL, &o, err) == 0, "new");
	intr_raise();
	{
		size_t sel2[60], n2 = 0;
		int rc = corr_push(c, I, ARR_F64, N, rows, cols, err);
		ok(rc == -1 && strstr(err, "interrupted"), "interrupt: '%s'",
		   err);
		intr_clear();
		ok(corr_push(c, I, ARR_F64, N, rows, cols, err) == 0 &&
		   corr_result(c, &r, err) == 0, "after the interrupt the "
		   "correlator goes on");
		for (size_t t = 0; t < N; t++)
			sel2[n2++] = t;
		ref_select(I, np, sel2, n2, map, 4, &R, NULL, 0);
		ok(r.nframes == N && max_rel(&r, &R, 3) < 1e-12, "the "
		   "interrupted push took nothing (%zu frames)", r.nframes);
		corr_res_free(&r);
	}
	corr_free(c);

	/* everything masked */
	qmap_from_map(&mz, rows, cols, zero, 3, NULL, NULL, err);
	ok(corr_new(&c, &mz, NULL, &o, err) == -1 && strstr(err, "masked"),
	   "fully masked partition: '%s'", err);
	qmap_free(&mz);
	o.dpl = 0;
	ok(corr_new(&c, &m, NULL, &o, err) == -1 && strstr(err, "dpl"),
	   "dpl 0: '%s'", err);
	corr_opts_default(&o);
	o.stride = 0;
	ok(corr_new(&c, &m, NULL, &o, err) == -1 && strstr(err, "stride"),
	   "stride 0: '%s'", err);
	qmap_free(&m);
	free(I);
}

/* two-time matrix and its diagonal average against direct sums */
static void test_twotime(void)
{
	size_t rows = 4, cols = 6, np = 24, N = 31;
	int32_t map[24];
	double *I = malloc(N * np * sizeof *I), C[31 * 31], g2[31];
	int32_t sel[2] = {2, 1};
	char err[ERR_LEN];
	qmap m;
	twotime *tt;
	double e = 0, eg = 0;
	for (size_t p = 0; p < np; p++)
		map[p] = p < 10 ? 1 : p < 20 ? 2 : 0;
	for (size_t i = 0; i < N * np; i++)
		I[i] = 1 + floor(urand() * 9);
	make_map(&m, rows, cols, map, 0);
	ok(twotime_new(&tt, &m, sel, 2, 1, 100, err) == 0, "twotime new");
	ok(twotime_push(tt, I, ARR_F64, 13, rows, cols, err) == 0 &&
	   twotime_push(tt, I + 13 * np, ARR_F64, N - 13, rows, cols, err) ==
	   0 && twotime_frames(tt) == N, "31 frames kept");
	ok(twotime_result(tt, 0, C, g2, 0, 0, err) == 0, "result of bin 2");
	for (size_t a = 0; a < N; a++)
		for (size_t b = 0; b < N; b++) {
			double s = 0, ma = 0, mb = 0;
			for (size_t p = 10; p < 20; p++) {
				s += I[a * np + p] * I[b * np + p];
				ma += I[a * np + p];
				mb += I[b * np + p];
			}
			s = (s / 10) / ((ma / 10) * (mb / 10));
			if (fabs(C[a * N + b] - s) > e)
				e = fabs(C[a * N + b] - s);
		}
	ok(e < 1e-13, "C(t1, t2) = direct sums (%.2g)", e);
	for (size_t d = 0; d < N; d++) {
		double s = 0;
		for (size_t a = 0; a + d < N; a++)
			s += C[a * N + a + d];
		if (fabs(g2[d] - s / (double)(N - d)) > eg)
			eg = fabs(g2[d] - s / (double)(N - d));
	}
	ok(eg < 1e-14, "g2 = diagonal means (%.2g)", eg);
	ok(twotime_result(tt, 1, C, g2, 5, 10, err) == 0 &&
	   !isnan(g2[25]) && isnan(g2[30]), "age window 6..10: delays "
	   "beyond reach are NaN");
	ok(twotime_result(tt, 2, C, g2, 0, 0, err) == -1 &&
	   strstr(err, "beyond"), "bin index checked: '%s'", err);
	twotime_free(tt);

	/* downsampling by 3: C of the frame averages */
	ok(twotime_new(&tt, &m, sel, 1, 3, 10, err) == 0, "downsample 3");
	ok(twotime_push(tt, I, ARR_F64, 30, rows, cols, err) == 0 &&
	   twotime_frames(tt) == 10, "30 frames -> 10");
	ok(twotime_push(tt, I, ARR_F64, 3, rows, cols, err) == -1 &&
	   strstr(err, "downsample more"), "max_frames bound: '%s'", err);
	twotime_result(tt, 0, C, NULL, 0, 0, err);
	{
		double s = 0, ma = 0, mb = 0;
		for (size_t p = 10; p < 20; p++) {
			double x = 0, y = 0;
			for (int f = 0; f < 3; f++) {
				x += I[(3 + f) * np + p] / 3;
				y += I[(21 + f) * np + p] / 3;
			}
			s += x * y;
			ma += x;
			mb += y;
		}
		is_num(C[1 * 10 + 7], (s / 10) / (ma / 10 * mb / 10), 1e-13,
		       "C of downsampled frames 2 and 8");
	}
	twotime_free(tt);
	qmap_free(&m);
	free(I);
}

/* the same static g2 to the last bit (NaN where the other has NaN) */
static int same_g2s(const corr_res *a, const corr_res *b)
{
	int same = a->ntau == b->ntau && a->nstat == b->nstat;
	for (size_t i = 0; same && i < a->ntau * a->nstat; i++)
		same = a->g2_static[i] == b->g2_static[i] ||
		       (isnan(a->g2_static[i]) && isnan(b->g2_static[i]));
	return same;
}

/* The int16 tests' pair: the same N frames I, as dtype dt (raw) into c
** and as doubles into c2, their partition and the brute-force reference.
** 1 (err set) when a correlator cannot be made; int16_close frees it all,
** I included, either way. */
typedef struct int16_pair {
	double *I;
	void *raw;
	qmap m;
	corr *c, *c2;
	ref R;
} int16_pair;

static int int16_open(int16_pair *x, double *I, size_t N, size_t rows,
		      size_t cols, int32_t *map, arr_dtype dt,
		      corr_kernel kern, char *err)
{
	corr_opts o;
	x->I = I;
	x->c = x->c2 = NULL;
	x->raw = to_dtype(I, N * rows * cols, dt);
	make_map(&x->m, rows, cols, map, 0);
	corr_opts_default(&o);
	o.kernel = kern;
	ref_multitau(I, N, rows * cols, map, 3, 4, &x->R);
	return corr_new(&x->c, &x->m, NULL, &o, err) ||
	       corr_new(&x->c2, &x->m, NULL, &o, err);
}

static void int16_close(int16_pair *x)
{
	corr_free(x->c);
	corr_free(x->c2);
	qmap_free(&x->m);
	free(x->raw);
	free(x->I);
}

/* The integer level-0 kernel (corr16) must give the numbers of the double
** path: uint16 stacks against brute force and against the same frames as
** doubles, with and without holes in the tiles, with counts too large for
** it in one batch, and with non-integer float frames in between (the ring
** then holds fractions and the integer kernel must stand aside). N spans
** several batches (of up to 512 frames) after the ones these touch, so
** that the integer kernel's share is a majority whatever the batch size. */
static void test_int16_case(const char *name, const int32_t *map,
			    size_t rows, size_t cols, int spikes, int floats,
			    int big, corr_kernel kern, arr_dtype dt)
{
	static const size_t sz[] = {8, 4, 4, 2, 4, 1};
	size_t np = rows * cols, N = 4700, fb = np * sz[dt];
	size_t fe = 300 + (size_t)floats;
	double *I = malloc(N * np * sizeof *I);
	char err[ERR_LEN];
	int16_pair x;
	corr *c, *c2;
	corr_res r, r2;
	int fail;
	static const char *const dtn[] = {"f64", "f32", "i32", "u16", "u32",
					  "u8"};
	for (size_t i = 0; i < N * np; i++)	/* big: the largest counts */
		I[i] = big ? 2047 - (double)((i * 7919) % 13) :
			     prand(2.0 + (double)(i % 7));
	if (spikes)	/* frame 525: some counts past 2047 (1), negative
			** (2), past 2^16 (3) */
		for (size_t p = 0; p < np; p += 5)
			I[525 * np + p] = spikes == 2 ? -3 - (double)(p % 4) :
					  (spikes == 3 ? 65536 : 3000) +
					  (double)p;
	if (floats)	/* frames 300..fe - 1 get fractions */
		for (size_t i = 300 * np; i < fe * np; i++)
			I[i] += 0.25;
	fail = int16_open(&x, I, N, rows, cols, (int32_t *)map, dt, kern, err);
	c = x.c;
	c2 = x.c2;
	for (size_t f = 0; !fail && f < N;) {
		size_t n = 64 + f % 7;
		if (n > N - f)
			n = N - f;
		if (floats && f < fe && f + n > 300)
			n = f < 300 ? 300 - f : fe - f;
		if (floats && f >= 300 && f < fe) {
			float *fl = to_dtype(I + f * np, n * np, ARR_F32);
			fail = corr_push(c, fl, ARR_F32, n, rows, cols, err);
			free(fl);
		} else {
			fail = corr_push(c, (char *)x.raw + f * fb, dt, n,
					 rows, cols, err);
		}
		fail = fail || corr_push(c2, I + f * np, ARR_F64, n, rows, cols,
					 err);
		f += n;
	}
	if (fail || corr_result(c, &r, err) || corr_result(c2, &r2, err)) {
		ok(0, "int16 %s: %s", name, err);
	} else {
		double e = max_rel(&r, &x.R, 3);
		int same = same_g2s(&r, &r2);
		ok(e < 1e-12, "int16 %s %s %s: brute force (max rel err %.2g)",
		   corr_kernel_name(c), dtn[dt], name, e);
		ok(same, "int16 %s %s %s: integer and double frames give "
		   "identical numbers", corr_kernel_name(c), dtn[dt], name);
		/* every level that a batch gives pairs of frames, but for
		** the largest counts only while sums of 2^l stay below
		** 2^15 (levels 0..4); none above */
		int top = 0;
		while (corr_batch_frames(c) >> (top + 1) >= 2)
			top++;
		if (big)
			top = 4;
		ok(corr_int_share(c, top + 1) == 0, "int16 %s %s %s: level %d "
		   "(the first above) takes the double kernel",
		   corr_kernel_name(c), dtn[dt], name, top + 1);
		/* (a fraction or a spike stays in the K-frame history of a
		** deep level for K 2^l frames: those levels need only run it
		** at all) */
		for (int l = 0; l <= top; l++)
			ok(corr_int_share(c, l) > (l < 5 ? 0.5 : 0) &&
			   corr_int_share(c2, l) == 0,
			   "int16 %s %s %s: integer kernel ran for %.0f %% of "
			   "the tile batches of level %d (double frames: "
			   "%.0f %%)", corr_kernel_name(c), dtn[dt], name,
			   100 * corr_int_share(c, l), l,
			   100 * corr_int_share(c2, l));
		corr_res_free(&r);
		corr_res_free(&r2);
	}
	int16_close(&x);
}

/* every integer kernel this CPU runs (AVX2, and AVX-512 where it has it;
** under valgrind, which hides AVX-512, only AVX2) */
static void test_int16(void)
{
	size_t rows = 12, cols = 40, np = rows * cols;
	int32_t full[480], holes[480];
	int best = corr16_isa();
	if (best == CORR16_NONE) {
		diag("no AVX2: the integer kernel is not tested here");
		return;
	}
	if (best != CORR16_AVX512)
		diag("no AVX-512 VNNI: only the AVX2 integer kernel is tested");
	for (size_t p = 0; p < np; p++) {
		full[p] = (int32_t)(p % 3) + 1;
		holes[p] = (p % 11 == 4) ? 0 : (int32_t)(p / 160) + 1;
	}
	for (int k = CORR_KERNEL_AVX2; k <= CORR_KERNEL_AVX512; k++) {
		corr_kernel kern = (corr_kernel)k;
		if (k == CORR_KERNEL_AVX512 && best != CORR16_AVX512)
			break;
		test_int16_case("full", full, rows, cols, 0, 0, 0, kern,
				ARR_U16);
		test_int16_case("holes", holes, rows, cols, 0, 0, 0, kern,
				ARR_U16);
		test_int16_case("spikes", full, rows, cols, 1, 0, 0, kern,
				ARR_U16);
		test_int16_case("floats between", holes, rows, cols, 0, 10, 0,
				kern, ARR_U16);
		/* 11 float frames: the integer levels then run with an odd
		** number of frames before them (their next level's pairs
		** straddle rows) */
		test_int16_case("odd frames before", full, rows, cols, 0, 11, 0,
				kern, ARR_U16);
		/* counts of 2035..2047: the 32-bit sums of level 4 pass 2^31
		** within a pair or two, and every level moves them out often */
		test_int16_case("largest counts", full, rows, cols, 0, 0, 1,
				kern, ARR_U16);
		/* other integer dtypes: converted to uint16 on the way in,
		** counts past 2047 (or negative) leave their batch to the
		** double kernel */
		test_int16_case("holes", holes, rows, cols, 0, 0, 0, kern,
				ARR_U8);
		test_int16_case("full", full, rows, cols, 0, 0, 0, kern,
				ARR_U32);
		test_int16_case("spikes", holes, rows, cols, 3, 0, 0, kern,
				ARR_U32);
		test_int16_case("largest counts", full, rows, cols, 0, 0, 1,
				kern, ARR_U32);
		test_int16_case("negative", full, rows, cols, 2, 0, 0, kern,
				ARR_I32);
	}
}

/* A batch with an odd number of frames at some level (the last batch of
** a run, or a short run: 333 frames in one batch are odd at levels 0, 2,
** 3, 4) runs the integer kernel too, with a zero frame after its last,
** instead of the double kernel and its ring of 64 bytes per pixel and
** level; the numbers stay those of brute force and of double frames. */
static void test_int16_odd(void)
{
	static const size_t Ns[] = {333, 512 + 333, 512 + 104};
	size_t rows = 12, cols = 40, np = rows * cols;
	int32_t map[480];
	char err[ERR_LEN];
	if (corr16_isa() == CORR16_NONE)
		return;
	for (size_t p = 0; p < np; p++)
		map[p] = (int32_t)(p % 3) + 1;
	for (size_t in = 0; in < sizeof Ns / sizeof *Ns; in++) {
		size_t N = Ns[in];
		double *I = malloc(N * np * sizeof *I);
		int16_pair x;
		corr_res r, r2;
		int fail, all = 1, same;
		for (size_t i = 0; i < N * np; i++)
			I[i] = prand(2.0 + (double)(i % 5));
		fail = int16_open(&x, I, N, rows, cols, map, ARR_U16,
				  CORR_KERNEL_AUTO, err) ||
		       corr_push(x.c, x.raw, ARR_U16, N, rows, cols, err) ||
		       corr_push(x.c2, I, ARR_F64, N, rows, cols, err) ||
		       corr_result(x.c, &r, err) ||
		       corr_result(x.c2, &r2, err);
		if (fail) {
			ok(0, "int16 odd batches, %zu frames: %s", N, err);
		} else {
			same = same_g2s(&r, &r2);
			for (size_t i = 0; same && i < r.nframes; i++)
				same = r.ivt[i] == r2.ivt[i];
			ok(max_rel(&r, &x.R, 3) < 1e-12 && same, "int16 odd "
			   "batches, %zu frames: brute force (max rel err "
			   "%.2g), identical to double frames", N,
			   max_rel(&r, &x.R, 3));
			/* levels 0..5 have frames in every batch */
			for (int l = 0; l <= 5; l++)
				all = all && corr_int_share(x.c, l) == 1;
			ok(all, "int16 odd batches, %zu frames: levels 0-5 "
			   "ran the integer kernel in every batch (%.0f %% "
			   ".. %.0f %%)", N, 100 * corr_int_share(x.c, 0),
			   100 * corr_int_share(x.c, 5));
			corr_res_free(&r);
			corr_res_free(&r2);
		}
		int16_close(&x);
	}
}

/* ------------------------------------------- the error of g2 (corr.h) */

/* run the correlator on a u16 stack; static map may be NULL */
static int run_u16(const uint16_t *f, size_t N, size_t rows, size_t cols,
		   int32_t *dmap, int32_t *smap, corr_res *r, char *err)
{
	qmap md, ms;
	corr *c = NULL;
	corr_opts o;
	int rc;
	make_map(&md, rows, cols, dmap, 0);
	if (smap)
		make_map(&ms, rows, cols, smap, 0);
	corr_opts_default(&o);
	rc = corr_new(&c, &md, smap ? &ms : NULL, &o, err) ||
	     push_chunks(c, f, ARR_U16, N, rows, cols, err) ||
	     corr_result(c, r, err) ? -1 : 0;
	corr_free(c);
	qmap_free(&md);
	if (smap)
		qmap_free(&ms);
	return rc;
}

/* corr.h's bound on the future-mean approximation: lag k of level l
** with M_l frames of mean mu 2^l counts has k mu 2^l / (M_l - k) */
static double approx_ratio(const corr_res *r, size_t i, size_t N, double mu)
{
	double m = ldexp(1.0, r->level[i]), k = r->tau[i] / m;
	double Ml = floor((double)N / m);
	return Ml <= 8 ? 0 : k * mu * m / (Ml - k);	/* M_l <= K: exact */
}

/* RMS of (g2 - want_d) / err over all dynamic bins and the delays up to
** level lmax whose approx_ratio lies in [lo, hi); counts values that are
** not finite */
static double z_rms(const corr_res *r, const double *want, int lmax,
		    size_t N, double mu, double lo, double hi, size_t *n,
		    size_t *bad)
{
	double s = 0;
	*n = *bad = 0;
	for (size_t i = 0; i < r->ntau; i++) {
		double a = approx_ratio(r, i, N, mu);
		if (r->level[i] > lmax || a < lo || a >= hi)
			continue;
		for (size_t d = 0; d < r->ndyn; d++) {
			double z = (r->g2[i * r->ndyn + d] - want[d]) /
				   r->g2_err[i * r->ndyn + d];
			if (!isfinite(z)) {
				(*bad)++;
				continue;
			}
			s += z * z;
			(*n)++;
		}
	}
	return *n ? sqrt(s / (double)*n) : NAN;
}

/* Poisson counts whose mean mu0 x_p carries a frozen pattern x_p (1..10,
** log-uniform: a static speckle, pixel means varying x10). Over many
** frames the static-bin normalisation gives g2_s -> <x^2>_s / <x>_s^2,
** not 1 (the pattern does not decorrelate); (g2 - that) / err must be
** standard normal. The error of corr.h leaves out the fluctuation of that
** baseline (common to all delays, relative size ~ mean counts per frame
** of the level), so the check runs at dim intensity. The old error, the
** pixel spread of G_p / (<IP>_s <IF>_s), contains the pattern itself. */
static void test_err_speckle(void)
{
	size_t rows = 64, cols = 64, np = rows * cols, N = 3000, nd = 64;
	int32_t map[4096];
	double *x = malloc(np * sizeof *x), want[64], s1[64] = {0};
	double s2[64] = {0}, cnt[64] = {0};
	uint16_t *f = malloc(N * np * sizeof *f);
	char err[ERR_LEN];
	corr_res r;
	size_t n, bad;
	rng_state = 777;
	for (size_t p = 0; p < np; p++) {
		size_t d = p / 64;
		map[p] = (int32_t)d + 1;
		x[p] = pow(10.0, urand());
		s1[d] += x[p];
		s2[d] += x[p] * x[p];
		cnt[d]++;
	}
	for (size_t d = 0; d < nd; d++)
		want[d] = s2[d] * cnt[d] / (s1[d] * s1[d]);
	for (size_t t = 0; t < N; t++)
		for (size_t p = 0; p < np; p++)
			f[t * np + p] = (uint16_t)prand(0.01 * x[p]);
	if (run_u16(f, N, rows, cols, map, NULL, &r, err)) {
		ok(0, "speckle: %s", err);
		goto out;
	}
	double rms = z_rms(&r, want, 1, N, 0.04, 0, 1, &n, &bad);
	ok(n >= 200 && bad == 0 && fabs(rms - 1) < 0.15, "frozen x10 "
	   "speckle, mean 0.04 counts: (g2 - <x^2>/<x>^2) / err has RMS 1 +- "
	   "0.15 over %zu values at levels 0-1 (%.3f; %zu not finite)", n,
	   rms, bad);
	rms = z_rms(&r, want, 99, N, 0.04, 0, 1e300, &n, &bad);
	diag("all levels: RMS %.3f over %zu values", rms, n);
	corr_res_free(&r);
out:
	free(f);
	free(x);
}

/* constant mean: (g2 - 1) / err ~ N(0, 1) at every delay, with one
** static bin per dynamic bin and with static bins nested in them */
static void test_err_poisson(void)
{
	size_t rows = 48, cols = 64, np = rows * cols, N = 2500;
	int32_t dmap[3072], smap[3072];
	uint16_t *f = malloc(N * np * sizeof *f);
	double one[12];
	char err[ERR_LEN];
	corr_res r;
	size_t n, bad;
	rng_state = 4242;
	for (size_t p = 0; p < np; p++) {
		dmap[p] = (int32_t)(p / 256) + 1;	/* 12 bins */
		smap[p] = (int32_t)(p / 64) + 1;	/* 4 in each */
	}
	for (size_t d = 0; d < 12; d++)
		one[d] = 1;
	for (size_t i = 0; i < N * np; i++)
		f[i] = (uint16_t)prand(0.3);
	for (int nest = 0; nest < 2; nest++) {
		if (run_u16(f, N, rows, cols, dmap, nest ? smap : NULL, &r,
			    err)) {
			ok(0, "poisson err: %s", err);
			continue;
		}
		double rms = z_rms(&r, one, 99, N, 0.3, 0, 0.3, &n, &bad);
		ok(n >= 200 && bad == 0 && fabs(rms - 1) < 0.15, "Poisson "
		   "mean 0.3%s: (g2 - 1) / err has RMS 1 +- 0.15 over %zu "
		   "values, delays with k I_l / (M_l - k) < 0.3 (%.3f)",
		   nest ? ", nested static bins" : "", n, rms);
		/* each pixel's own future mean: right at the deep levels too */
		rms = z_rms(&r, one, 99, N, 0.3, 0.3, 1e300, &n, &bad);
		ok(n >= 150 && fabs(rms - 1) < 0.15, "beyond, to the last "
		   "levels: RMS 1 +- 0.15 (%.3f over %zu values; %zu NaN at a "
		   "single pair)", rms, n, bad);
		corr_res_free(&r);
	}
	free(f);
}

/* the error by its definition, directly: levels of pair sums, per pixel
** G_p, IP_p, IF_p, the residuals about the weighted mean per static bin,
** effective pixels */
static void ref_err(const double *I, size_t N, size_t npix,
		    const int32_t *smap, const int32_t *s2d, size_t nstat,
		    size_t ndyn, double *out, size_t maxtau)
{
	double *C = malloc(N * npix * sizeof *C);
	size_t M = N, it = 0;
	memcpy(C, I, N * npix * sizeof *C);
	for (int l = 0; M >= 2; l++) {
		int k0 = l == 0 ? 1 : 5;
		for (int k = k0; k <= 8; k++) {
			double G[16] = {0};
			double W[16] = {0}, W2[16] = {0}, E[16] = {0};
			double ns[16] = {0}, *gp, *ip, *fu;
			double g2s[16], ev[16] = {0}, ne[16] = {0};
			double nb[16] = {0}, sum[16] = {0};
			size_t npair = M - (size_t)k;
			if ((size_t)k >= M)
				continue;
			gp = malloc(3 * npix * sizeof *gp);
			ip = gp + npix;
			fu = ip + npix;
			for (size_t p = 0; p < npix; p++) {
				int s = smap[p] - 1;
				double a = 0, b = 0, g = 0;
				if (s < 0)
					continue;
				for (size_t t = 0; t < npair; t++) {
					g += C[t * npix + p] *
					     C[(t + k) * npix + p];
					a += C[t * npix + p];
					b += C[(t + k) * npix + p];
				}
				gp[p] = g / npair;
				ip[p] = a / npair;
				fu[p] = b / npair;
				G[s] += g / npair;
				ns[s]++;
			}
			for (size_t p = 0; p < npix; p++) {
				int s = smap[p] - 1;
				if (s < 0)
					continue;
				W[s] += ip[p] * fu[p];
				W2[s] += ip[p] * fu[p] * ip[p] * fu[p];
			}
			for (size_t p = 0; p < npix; p++) {
				int s = smap[p] - 1;
				double e;
				if (s < 0)
					continue;
				e = gp[p] - G[s] / W[s] * ip[p] * fu[p];
				E[s] += e * e;
			}
			for (size_t s = 0; s < nstat; s++) {
				/* bin means: IP from the pixels, IF exact */
				double a = 0, b = 0, den;
				for (size_t p = 0; p < npix; p++)
					if (smap[p] - 1 == (int)s) {
						a += ip[p];
					}
				for (size_t p = 0; p < npix; p++)
					if (smap[p] - 1 == (int)s) {
						double bb = 0;
						for (size_t t = (size_t)k;
						     t < M; t++)
							bb += C[t * npix + p];
						b += bb / npair;
					}
				den = a / ns[s] * b / ns[s];
				g2s[s] = G[s] / ns[s] / den;
				int d = s2d[s] - 1;
				ev[d] += E[s] / (ns[s] * den * ns[s] * den);
				ne[d] += W[s] * W[s] / W2[s];
				nb[d]++;
				sum[d] += g2s[s];
			}
			for (size_t d = 0; d < ndyn && it < maxtau; d++)
				out[it * ndyn + d] = npair < 2 ? NAN :
					sqrt(ev[d] * ne[d] / (ne[d] - nb[d])) /
					nb[d];
			free(gp);
			it++;
		}
		for (size_t j = 0; j < M / 2; j++)
			for (size_t p = 0; p < npix; p++)
				C[j * npix + p] = C[2 * j * npix + p] +
						  C[(2 * j + 1) * npix + p];
		M /= 2;
	}
	free(C);
}

/* a tiny stack: the error against its definition evaluated directly, to
** round-off */
static void test_err_brute(void)
{
	size_t rows = 32, cols = 32, np = 1024, N = 203, nt;
	int32_t dmap[1024], smap[1024], s2d[4] = {1, 1, 2, 2};
	double *I = malloc(N * np * sizeof *I), ref[256 * 2];
	uint16_t *f = malloc(N * np * sizeof *f);
	char err[ERR_LEN];
	corr_res r;
	double e = 0;
	rng_state = 99;
	for (size_t p = 0; p < np; p++) {
		smap[p] = (int32_t)(p % 4) + 1;
		dmap[p] = s2d[p % 4];
	}
	for (size_t t = 0; t < N; t++)
		for (size_t p = 0; p < np; p++) {
			I[t * np + p] = prand(0.05 + 0.1 * (double)(p % 7));
			f[t * np + p] = (uint16_t)I[t * np + p];
		}
	if (run_u16(f, N, rows, cols, dmap, smap, &r, err)) {
		ok(0, "brute err: %s", err);
		goto out;
	}
	nt = r.ntau < 256 ? r.ntau : 256;
	ref_err(I, N, np, smap, s2d, 4, 2, ref, nt);
	for (size_t i = 0; i < nt * 2; i++) {
		double a = r.g2_err[i];
		if (isnan(a) != isnan(ref[i]))
			e = INFINITY;
		else if (!isnan(a) && fabs(a - ref[i]) > e * ref[i])
			e = fabs(a - ref[i]) / ref[i];
	}
	ok(e < 1e-10, "error = its definition evaluated directly on a "
	   "32 x 32 x %zu stack, %zu delays x 2 bins (max rel diff %.2g)", N,
	   nt, e);
	corr_res_free(&r);
out:
	free(I);
	free(f);
}

/* sparse photon counting, mean 0.05: finite errors or NaN, never Inf;
** a bin that never sees a photon gives NaN for g2 and its error */
static void test_err_sparse(void)
{
	size_t rows = 16, cols = 32, np = 512, N = 300;
	int32_t map[512];
	uint16_t *f = malloc(N * np * sizeof *f);
	char err[ERR_LEN];
	corr_res r;
	size_t nan = 0, inf = 0, fin = 0;
	rng_state = 5;
	for (size_t p = 0; p < np; p++)
		map[p] = (int32_t)(p / 64) + 1;		/* 8 bins */
	for (size_t t = 0; t < N; t++)
		for (size_t p = 0; p < np; p++)
			f[t * np + p] = p / 64 == 7 ? 0 :
				(uint16_t)prand(p / 64 == 6 ? 0.002 : 0.05);
	if (run_u16(f, N, rows, cols, map, NULL, &r, err)) {
		ok(0, "sparse: %s", err);
		goto out;
	}
	for (size_t i = 0; i < r.ntau * 8; i++) {
		double v = r.g2_err[i];
		if (isinf(v) || isinf(r.g2[i]))
			inf++;
		else if (isnan(v))
			nan++;
		else
			fin++;
		if (isnan(r.g2[i]) && !isnan(v))
			inf += 1000;	/* an error for a missing value */
	}
	ok(inf == 0 && fin > r.ntau * 6, "sparse (0.05 and 0.002 counts): "
	   "%zu finite errors, %zu NaN, no Inf", fin, nan);
	ok(isnan(r.g2[7]) && isnan(r.g2_err[7]), "a bin without photons: "
	   "g2 and its error NaN");
	corr_res_free(&r);
out:
	free(f);
}

/* runs of 2^16 frames and more: levels 16 and up exist (F1: the level
** past the integer kernel's last wrote out of bounds at 65 536 frames),
** for the integer and double kernels and delays per level 2, 4 and 8 */
static void test_long_runs(void)
{
	static const size_t Ns[] = {65535, 65536, 100000};
	static const int dpls[] = {4, 2, 8};
	static const arr_dtype dts[] = {ARR_U16, ARR_F64};
	size_t rows = 1, cols = 3, np = 3;
	int32_t map[3] = {1, 1, 2};
	for (size_t in = 0; in < 3; in++) {
		size_t N = Ns[in];
		double *I = malloc(N * np * sizeof *I);
		rng_state = 77 + in;
		for (size_t i = 0; i < N * np; i++)
			I[i] = prand(3.0);
		for (size_t id = 0; id < 3; id++) {
			ref R;
			ref_multitau(I, N, np, map, 2, dpls[id], &R);
			for (size_t d = 0; d < 2; d++) {
				void *raw = to_dtype(I, N * np, dts[d]);
				char err[ERR_LEN];
				qmap m;
				corr *c = NULL;
				corr_opts o;
				corr_res r;
				make_map(&m, rows, cols, map, 0);
				corr_opts_default(&o);
				o.dpl = dpls[id];
				o.lags0 = 2 * dpls[id];
				o.nthreads = 1;	/* 3 pixels: one tile */
				if (corr_new(&c, &m, NULL, &o, err) ||
				    push_chunks(c, raw, dts[d], N, rows, cols,
						err) ||
				    corr_result(c, &r, err)) {
					ok(0, "%zu frames, dpl %d: %s", N,
					   dpls[id], err);
				} else {
					double e = max_rel(&r, &R, 2);
					ok(e < 1e-12, "%zu frames, dpl %d, dtype "
					   "%d: %zu delays = brute force (max "
					   "rel err %.2g)", N, dpls[id],
					   (int)dts[d], r.ntau, e);
					corr_res_free(&r);
				}
				corr_free(c);
				qmap_free(&m);
				free(raw);
			}
		}
		free(I);
	}
}

/* the largest relative difference of two arrays (NaN must match NaN) */
static double rel_diff(const double *a, const double *b, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++) {
		double e;
		if (isnan(a[i]) || isnan(b[i])) {
			if (isnan(a[i]) != isnan(b[i]))
				return INFINITY;
			continue;
		}
		e = a[i] == b[i] ? 0 : fabs(a[i] - b[i]) / fabs(b[i]);
		if (e > m)
			m = e;
	}
	return m;
}

/* corr_sums: three correlators on blocks of rows of the same frames, their
** sums added between the steps, give the result of one correlator over all
** pixels (static bins cut by the blocks, a bin empty in one block) */
static void test_sums_split(void)
{
	enum { ROWS = 24, COLS = 40, NP = ROWS * COLS, N = 157, NPART = 3 };
	static const size_t cut[NPART + 1] = {0, 5, 16, 24};
	int32_t smap[NP], dmap[NP];
	uint16_t *I = malloc((size_t)N * NP * sizeof *I);
	char err[ERR_LEN];
	qmap ms, md, ps[NPART], pd[NPART];
	corr *c, *pc[NPART];
	corr_sums *S[NPART];
	corr_opts o;
	corr_res r, q;
	int fail = 0;
	for (size_t p = 0; p < NP; p++) {
		size_t row = p / COLS, col = p % COLS;
		int bad = (row == 3 && col > 10) || col == 17;
		/* static bins 1..4 by column, bin 5 only in rows >= 18 */
		smap[p] = bad ? 0 : row >= 18 && col < 6 ? 5
			: (int32_t)(col / 10) + 1;
		dmap[p] = bad ? 0 : smap[p] == 5 ? 1 : (int32_t)(col / 20) + 1;
	}
	for (size_t i = 0; i < (size_t)N * NP; i++)
		I[i] = (uint16_t)prand(0.5 + (double)(i % NP) / 500.0);
	make_map(&ms, ROWS, COLS, smap, 5);
	make_map(&md, ROWS, COLS, dmap, 2);
	corr_opts_default(&o);
	o.segment_frames = 40;
	if (corr_new(&c, &md, &ms, &o, err) ||
	    push_chunks(c, I, ARR_U16, N, ROWS, COLS, err) ||
	    corr_result(c, &r, err)) {
		ok(0, "split: whole: %s", err);
		return;
	}
	for (int k = 0; k < NPART; k++) {
		size_t nr = cut[k + 1] - cut[k], n = nr * COLS;
		uint16_t *sub = malloc((size_t)N * n * sizeof *sub);
		for (size_t f = 0; f < N; f++)
			memcpy(sub + f * n, I + f * NP + cut[k] * COLS,
			       n * sizeof *sub);
		make_map(&ps[k], nr, COLS, smap + cut[k] * COLS, 5);
		make_map(&pd[k], nr, COLS, dmap + cut[k] * COLS, 2);
		fail |= corr_new(&pc[k], &pd[k], &ps[k], &o, err) ||
			push_chunks(pc[k], sub, ARR_U16, N, nr, COLS, err) ||
			corr_sums_new(pc[k], &S[k], err);
		free(sub);
	}
	/* the sums of every part into every part's buffer, twice */
	for (int step = 0; step < 2 && !fail; step++) {
		size_t n, m;
		double *sum;
		corr_sums_buf(S[0], &n);
		sum = calloc(n, sizeof *sum);
		for (int k = 0; k < NPART; k++) {
			double *b = corr_sums_buf(S[k], &m);
			fail |= m != n;
			for (size_t i = 0; i < n && m == n; i++)
				sum[i] += b[i];
		}
		for (int k = 0; k < NPART && !fail; k++)
			memcpy(corr_sums_buf(S[k], &m), sum, n * sizeof *sum);
		free(sum);
		for (int k = 0; k < NPART && !fail; k++) {
			corr_res tmp;
			fail |= corr_sums_step(pc[k], S[k], step ? &tmp : NULL,
					       err) != 0;
			if (step && k == 0)
				q = tmp;
			else if (step)
				corr_res_free(&tmp);
		}
	}
	if (fail) {
		ok(0, "split: parts: %s", err);
		return;
	}
	ok(q.ntau == r.ntau && q.ndyn == r.ndyn && q.nseg == r.nseg &&
	   q.nframes == r.nframes, "split: the same delays, bins, segments");
	ok(rel_diff(q.g2, r.g2, r.ntau * r.ndyn) < 1e-12, "split: g2 as one "
	   "correlator's (%.2g)", rel_diff(q.g2, r.g2, r.ntau * r.ndyn));
	ok(rel_diff(q.g2_err, r.g2_err, r.ntau * r.ndyn) < 1e-12, "split: "
	   "errors (%.2g)", rel_diff(q.g2_err, r.g2_err, r.ntau * r.ndyn));
	ok(rel_diff(q.g2_static, r.g2_static, r.ntau * r.nstat) < 1e-12,
	   "split: static g2 (%.2g)",
	   rel_diff(q.g2_static, r.g2_static, r.ntau * r.nstat));
	ok(rel_diff(q.iq, r.iq, r.nstat) < 1e-12 &&
	   rel_diff(q.iq_seg, r.iq_seg, r.nseg * r.nstat) < 1e-12 &&
	   rel_diff(q.ivt, r.ivt, r.nframes) < 1e-12,
	   "split: I(q), its segments, the frame means");
	{
		size_t fin = 0;
		for (size_t i = 0; i < r.ntau * r.ndyn; i++)
			fin += isfinite(r.g2_err[i]) != 0;
		ok(fin + 2 >= r.ntau * r.ndyn, "split: %zu of %zu errors "
		   "finite (compared)", fin, r.ntau * r.ndyn);
	}
	corr_res_free(&q);
	corr_res_free(&r);
	for (int k = 0; k < NPART; k++) {
		corr_sums_free(S[k]);
		corr_free(pc[k]);
		qmap_free(&ps[k]);
		qmap_free(&pd[k]);
	}
	corr_free(c);
	qmap_free(&ms);
	qmap_free(&md);
	free(I);
}

/* ------------------------------------ the sparse level 0 (corrsp.h) */

/* one correlator over a stack pushed in uneven chunks */
static int sparse_run(const void *raw, arr_dtype dt, size_t N, size_t rows,
		      size_t cols, const int32_t *map, corr_sparse sp,
		      corr_kernel kern, corr_res *r, double *share, char *err)
{
	qmap m;
	corr *c = NULL;
	corr_opts o;
	int rc;
	make_map(&m, rows, cols, (int32_t *)map, 0);
	corr_opts_default(&o);
	o.sparse = sp;
	o.kernel = kern;
	rc = corr_new(&c, &m, NULL, &o, err) ||
	     push_chunks(c, raw, dt, N, rows, cols, err) ||
	     corr_result(c, r, err);
	*share = c ? corr_sparse_share(c) : 0;
	corr_free(c);
	qmap_free(&m);
	return rc;
}

/* every number of two results the same to the last bit (NaN = NaN) */
static int same_bits(const corr_res *a, const corr_res *b)
{
	const double *x[] = {a->g2, a->g2_err, a->g2_static, a->image, a->ivt};
	const double *y[] = {b->g2, b->g2_err, b->g2_static, b->image, b->ivt};
	size_t n[] = {a->ntau * a->ndyn, a->ntau * a->ndyn,
		      a->ntau * a->nstat, a->npix, a->nframes};
	if (a->ntau != b->ntau || a->nframes != b->nframes)
		return 0;
	for (int k = 0; k < 5; k++)
		for (size_t i = 0; i < n[k]; i++)
			if (memcmp(&x[k][i], &y[k][i], sizeof(double)) &&
			    !(isnan(x[k][i]) && isnan(y[k][i])))
				return 0;
	return 1;
}

/* A stack through the sparse path (forced), the dense kernels (sparse
** off) and brute force: the same numbers to the last bit as the dense
** path, and the definition's. */
static void sparse_case(const char *name, const double *I, size_t N,
			size_t rows, size_t cols, const int32_t *map,
			size_t nstat, arr_dtype dt, corr_kernel kern,
			int expect_sparse)
{
	size_t np = rows * cols;
	void *raw = to_dtype(I, N * np, dt);
	char err[ERR_LEN];
	corr_res rs, rd;
	double shs, shd;
	ref R;
	ref_multitau(I, N, np, map, nstat, 4, &R);
	if (sparse_run(raw, dt, N, rows, cols, map, CORR_SPARSE_ON, kern, &rs,
		       &shs, err) ||
	    sparse_run(raw, dt, N, rows, cols, map, CORR_SPARSE_OFF, kern, &rd,
		       &shd, err)) {
		ok(0, "sparse %s: %s", name, err);
	} else {
		double e = max_rel(&rs, &R, nstat);
		static const char *const kn[] = {"auto", "base", "avx2",
						 "avx512"};
		ok(e < 1e-12, "sparse %s %s: brute force (max rel err %.2g)",
		   kn[kern], name, e);
		ok(same_bits(&rs, &rd), "sparse %s %s: g2, errors, image and "
		   "frame means equal the dense path's to the last bit",
		   kn[kern], name);
		ok(expect_sparse ? shs > 0.5 && shd == 0 : shs == 0,
		   "sparse %s %s: the sparse path took %.0f %% of the tile "
		   "batches (off: %.0f %%)", kn[kern], name, 100 * shs,
		   100 * shd);
		corr_res_free(&rs);
		corr_res_free(&rd);
	}
	free(raw);
}

/* the sparse tests' two partitions of a 40 x 50 frame (3 tiles of up to
** 768 pixels): every pixel in 3 interleaved bins, and bins by position
** with every 13th pixel left out */
static void sp_maps(int32_t *full, int32_t *holes, size_t np)
{
	for (size_t p = 0; p < np; p++) {
		full[p] = (int32_t)(p % 3) + 1;
		holes[p] = (p % 13 == 5) ? 0 : (int32_t)(p / 700) + 1;
	}
}

/* bursts of large counts in frames 1000..1039 */
static void sp_bursts(double *I, size_t np)
{
	for (size_t t = 1000; t < 1040; t++)
		for (size_t p = 3; p < np; p += 97)
			I[t * np + p] = (double)(t % 50) + 2;
}

static void test_sparse(void)
{
	size_t rows = 40, cols = 50, np = rows * cols, N = 2300;
	double *I = malloc(N * np * sizeof *I);
	int32_t full[2000], holes[2000];
	static const double means[] = {0.01, 0.05, 0.1};
	if (corr16_isa() == CORR16_NONE) {
		diag("no AVX2: the sparse path is not tested here");
		free(I);
		return;
	}
	sp_maps(full, holes, np);
	for (int k = CORR_KERNEL_AVX2; k <= CORR_KERNEL_AVX512; k++) {
		if (k == CORR_KERNEL_AVX512 && corr16_isa() != CORR16_AVX512)
			break;
		for (int im = 0; im < 3; im++) {
			char name[96];
			rng_state = 500 + (uint64_t)im;
			for (size_t i = 0; i < N * np; i++)
				I[i] = prand(means[im]);
			/* pixels that never fire, and bursts of large counts */
			for (size_t t = 0; t < N; t++)
				for (size_t p = 0; p < 40; p++)
					I[t * np + 7 * p] = 0;
			sp_bursts(I, np);
			snprintf(name, sizeof name, "u16 mean %g", means[im]);
			sparse_case(name, I, N, rows, cols, full, 3, ARR_U16,
				    (corr_kernel)k, 1);
			snprintf(name, sizeof name, "u16 mean %g, holes",
				 means[im]);
			sparse_case(name, I, N, rows, cols, holes, 3, ARR_U16,
				    (corr_kernel)k, 1);
		}
		/* other integer dtypes (the scalar scan) */
		sparse_case("u8 mean 0.1", I, N, rows, cols, full, 3, ARR_U8,
			    (corr_kernel)k, 1);
		sparse_case("u32 mean 0.1, holes", I, N, rows, cols, holes, 3,
			    ARR_U32, (corr_kernel)k, 1);
		/* dense counts forced through it */
		for (size_t i = 0; i < N * np; i++)
			I[i] = prand(4.0);
		sparse_case("dense counts (mean 4)", I, N, rows, cols, full, 3,
			    ARR_U16, (corr_kernel)k, 1);
		/* a negative int32 count: its batch goes to the dense
		** kernels; counts past 2^15 (too large for it) likewise */
		I[700 * np + 11] = -2;
		I[1300 * np + 12] = 40000;
		sparse_case("i32 with a negative and a huge count", I, N, rows,
			    cols, holes, 3, ARR_I32, (corr_kernel)k, 1);
	}
	free(I);
}

/* one pixel over 2^16 frames and more: every level, rows of one used
** pixel in a tile of 32 */
/* The last frame known (o.last): levels that could never hold a pair are
** not made. The result must be the one without o.last to the last bit,
** and brute force's, for frame counts on either side of where a level
** becomes useful (a level l >= 1 needs more than 5 frames of its own),
** with a first frame and a stride; and the state smaller once levels
** are left out. */
static void test_last(void)
{
	static const size_t Ns[] = {2, 3, 11, 12, 13, 23, 24, 25, 47, 48, 97,
				    200, 1000};
	const size_t rows = 5, cols = 9, np = rows * cols;
	int32_t map[5 * 9];
	size_t bad = 0, badref = 0, smaller = 0, larger = 0;
	qmap m;
	for (size_t i = 0; i < np; i++)
		map[i] = (int32_t)(1 + i % 3);
	make_map(&m, rows, cols, map, 0);
	for (size_t k = 0; k < sizeof Ns / sizeof *Ns; k++)
		for (size_t st = 1; st <= 2; st++) {
			size_t N = Ns[k] * st + 3, n = Ns[k];
			double *I = malloc(N * np * sizeof *I), *sel;
			uint16_t *raw;
			corr *a = NULL, *b = NULL;
			corr_res ra, rb;
			corr_opts o;
			char err[ERR_LEN];
			ref R;
			for (size_t i = 0; i < N * np; i++)
				I[i] = prand(3.0);
			raw = to_dtype(I, N * np, ARR_U16);
			corr_opts_default(&o);
			o.first = 3;
			o.stride = st;
			if (corr_new(&a, &m, NULL, &o, err) ||
			    push_chunks(a, raw, ARR_U16, N, rows, cols, err) ||
			    corr_result(a, &ra, err)) {
				ok(0, "last: %s", err);
				return;
			}
			o.last = N;
			if (corr_new(&b, &m, NULL, &o, err) ||
			    push_chunks(b, raw, ARR_U16, N, rows, cols, err) ||
			    corr_result(b, &rb, err)) {
				ok(0, "last: %s", err);
				return;
			}
			bad += !same_bits(&ra, &rb) || rb.nframes != n;
			sel = malloc(n * np * sizeof *sel);
			for (size_t f = 0; f < n; f++)
				memcpy(sel + f * np, I + (3 + f * st) * np,
				       np * sizeof *sel);
			ref_multitau(sel, n, np, map, 3, 4, &R);
			badref += !(max_rel(&rb, &R, 3) < 1e-12);
			smaller += corr_memory(b) < corr_memory(a);
			larger += corr_memory(b) > corr_memory(a);
			corr_res_free(&ra);
			corr_res_free(&rb);
			corr_free(a);
			corr_free(b);
			free(I);
			free(raw);
			free(sel);
		}
	ok(bad == 0, "last frame known: the same result to the last bit "
	   "(%zu of 26 differ)", bad);
	ok(badref == 0, "last frame known: brute force (%zu of 26 differ)",
	   badref);
	ok(smaller >= 10 && larger == 0, "last frame known: the state is "
	   "smaller in %zu of 26 runs, larger in none", smaller);
	qmap_free(&m);
}

static void test_sparse_long(void)
{
	size_t N = 70001;
	double *I = malloc(N * sizeof *I);
	int32_t map[1] = {1};
	if (corr16_isa() == CORR16_NONE) {
		free(I);
		return;
	}
	rng_state = 4242;
	for (size_t i = 0; i < N; i++)
		I[i] = prand(0.05) + (i % 9000 < 30 ? 3 : 0);
	sparse_case("1 pixel, 70001 frames", I, N, 1, 1, map, 1, ARR_U16,
		    CORR_KERNEL_AUTO, 1);
	free(I);
}

/* ------------------------------------ pushed events (corr_push_events) */

/* a stack's frames as events, made awkward on purpose: every 5th frame's
** events in reverse order, every 7th with a pixel's count split over two
** events, pixels given 1-based */
typedef struct evstack {
	size_t *off;		/* N + 1 */
	uint32_t *pix;
	uint16_t *cnt;
} evstack;

static void ev_make(const double *I, size_t N, size_t np, evstack *E)
{
	size_t k = 0;
	E->off = malloc((N + 1) * sizeof *E->off);
	E->pix = malloc((N * np * 2 + 1) * sizeof *E->pix);
	E->cnt = malloc((N * np * 2 + 1) * sizeof *E->cnt);
	for (size_t f = 0; f < N; f++) {
		size_t k0 = k;
		E->off[f] = k;
		for (size_t p = 0; p < np; p++) {
			double v = I[f * np + p];
			if (v == 0)
				continue;
			if (f % 7 == 3 && v >= 2) {	/* split in two */
				E->pix[k] = (uint32_t)p + 1;
				E->cnt[k++] = 1;
				v -= 1;
			}
			E->pix[k] = (uint32_t)p + 1;
			E->cnt[k++] = (uint16_t)v;
		}
		for (size_t i = 0; f % 5 == 1 && i < (k - k0) / 2; i++) {
			uint32_t tp = E->pix[k0 + i];
			uint16_t tc = E->cnt[k0 + i];
			E->pix[k0 + i] = E->pix[k - 1 - i];
			E->cnt[k0 + i] = E->cnt[k - 1 - i];
			E->pix[k - 1 - i] = tp;
			E->cnt[k - 1 - i] = tc;
		}
	}
	E->off[N] = k;
}

static void ev_free(evstack *E)
{
	free(E->off);
	free(E->pix);
	free(E->cnt);
}

/* the events pushed in uneven chunks, every 4th chunk as dense frames
** (mixed) when raw is given */
static int ev_push(corr *c, const evstack *E, const uint16_t *raw, size_t N,
		   size_t rows, size_t cols, char *err)
{
	static const size_t chunk[] = {1, 7, 3, 70, 5, 129, 2, 600};
	size_t f = 0, i = 0, np = rows * cols;
	while (f < N) {
		size_t n = chunk[i % 8], off[701];
		if (n > N - f)
			n = N - f;
		for (size_t j = 0; j <= n; j++)
			off[j] = E->off[f + j] - E->off[f];
		if (raw && i % 4 == 2 ?
		    corr_push(c, raw + f * np, ARR_U16, n, rows, cols, err) :
		    corr_push_events(c, n, off, E->pix + E->off[f], 1,
				     E->cnt + E->off[f], err))
			return -1;
		f += n;
		i++;
	}
	return 0;
}

/* one correlator: dense frames (E NULL) or events */
static int ev_run(const evstack *E, const uint16_t *raw, int mixed,
		  size_t N, size_t rows, size_t cols, const int32_t *map,
		  const corr_opts *o, corr_res *r, double *sh, char *err)
{
	qmap m;
	corr *c = NULL;
	int rc;
	make_map(&m, rows, cols, (int32_t *)map, 0);
	rc = corr_new(&c, &m, NULL, o, err) ||
	     (E ? ev_push(c, E, mixed ? raw : NULL, N, rows, cols, err) :
		  push_chunks(c, raw, ARR_U16, N, rows, cols, err)) ||
	     corr_result(c, r, err);
	for (int l = 0; c && l < 3; l++)
		sh[l] = corr_sparse_share_at(c, l);
	corr_free(c);
	qmap_free(&m);
	return rc;
}

static void ev_case(const char *name, const double *I, const evstack *E,
		    size_t N, size_t rows, size_t cols, const int32_t *map,
		    const corr_opts *o, int mixed, int want_sparse)
{
	uint16_t *raw = to_dtype(I, N * rows * cols, ARR_U16);
	char err[ERR_LEN];
	corr_res rd, re;
	double shd[3] = {0}, she[3] = {0};
	corr_opts od = *o;	/* (the reference in batches of frames) */
	od.events = 0;
	if (ev_run(NULL, raw, 0, N, rows, cols, map, &od, &rd, shd, err) ||
	    ev_run(E, raw, mixed, N, rows, cols, map, o, &re, she, err)) {
		ok(0, "events %s: %s", name, err);
	} else {
		ok(same_bits(&re, &rd), "events %s: g2, errors, image and "
		   "frame means equal those of the dense frames to the last "
		   "bit", name);
		ok(want_sparse ? she[0] > (mixed ? 0.1 : 0.5) : she[0] == 0,
		   "events %s: "
		   "levels 0-2 sparse in %.0f, %.0f, %.0f %% of the tile "
		   "batches", name, 100 * she[0], 100 * she[1], 100 * she[2]);
		corr_res_free(&rd);
		corr_res_free(&re);
	}
	free(raw);
}

static void test_events(void)
{
	size_t rows = 40, cols = 50, np = rows * cols, N = 2300;
	double *I = malloc(N * np * sizeof *I);
	int32_t full[2000], holes[2000];
	static const double means[] = {0.01, 0.05, 0.5};
	corr_opts o;
	evstack E;
	if (corr16_isa() == CORR16_NONE) {
		free(I);
		return;
	}
	sp_maps(full, holes, np);
	for (int ev = 0; ev < 2; ev++) {	/* the batch length */
		qmap m;
		corr *c = NULL;
		char err[ERR_LEN];
		make_map(&m, rows, cols, full, 0);
		corr_opts_default(&o);
		o.events = ev;
		if (corr_new(&c, &m, NULL, &o, err) != 0)
			ok(0, "events = %d: %s", ev, err);
		else
			ok(corr_batch_frames(c) == (ev ? 1024u : 512u),
			   "events = %d: batches of %zu frames", ev,
			   corr_batch_frames(c));
		corr_free(c);
		qmap_free(&m);
	}
	for (int im = 0; im < 3; im++) {
		char name[96];
		ref R;
		corr_res r;
		rng_state = 900 + (uint64_t)im;
		for (size_t i = 0; i < N * np; i++)
			I[i] = prand(means[im]);
		sp_bursts(I, np);
		for (size_t t = 600; t < 610; t++)	/* empty frames */
			for (size_t p = 0; p < np; p++)
				I[t * np + p] = 0;
		ev_make(I, N, np, &E);
		for (int sp = 0; sp < 3; sp++) {
			static const corr_sparse sps[] = {CORR_SPARSE_AUTO,
				CORR_SPARSE_ON, CORR_SPARSE_OFF};
			static const char *const spn[] = {"auto", "on", "off"};
			corr_opts_default(&o);
			o.sparse = sps[sp];
			snprintf(name, sizeof name, "mean %g, sparse %s",
				 means[im], spn[sp]);
			ev_case(name, I, &E, N, rows, cols, holes, &o, 0,
				sp < 2);
		}
		corr_opts_default(&o);
		o.sparse_levels = 3;
		o.sparse = CORR_SPARSE_ON;
		snprintf(name, sizeof name, "mean %g, 3 levels, mixed with "
			 "dense pushes", means[im]);
		ev_case(name, I, &E, N, rows, cols, full, &o, 1, 1);
		/* batches of 1024 frames (2300: two and a part) */
		o.events = 1;
		snprintf(name, sizeof name, "mean %g, 3 levels, mixed, "
			 "events = 1", means[im]);
		ev_case(name, I, &E, N, rows, cols, full, &o, 1, 1);
		corr_opts_default(&o);
		o.events = 1;
		snprintf(name, sizeof name, "mean %g, events = 1", means[im]);
		ev_case(name, I, &E, N, rows, cols, holes, &o, 0, 1);
		/* brute force, for the events alone */
		corr_opts_default(&o);
		o.sparse = CORR_SPARSE_ON;
		ref_multitau(I, N, np, full, 3, 4, &R);
		{
			char err[ERR_LEN];
			double sh[3];
			if (ev_run(&E, NULL, 0, N, rows, cols, full, &o, &r, sh,
				   err)) {
				ok(0, "events brute force: %s", err);
			} else {
				double e = max_rel(&r, &R, 3);
				ok(e < 1e-12, "events mean %g, every level "
				   "sparse: brute force (max rel err %.2g)",
				   means[im], e);
				corr_res_free(&r);
			}
		}
		ev_free(&E);
	}
	/* options: frame range and stride, segments; rejection (like dark
	** and normalisation) takes the dense frames made of the events */
	rng_state = 77;
	for (size_t i = 0; i < N * np; i++)
		I[i] = prand(0.05);
	I[1500 * np + 40] = 40000;	/* too large: that frame dense */
	for (size_t i = 600 * np; i < 610 * np; i++)
		I[i] = 0;
	ev_make(I, N, np, &E);
	corr_opts_default(&o);
	o.first = 3;
	o.last = 2201;
	o.stride = 2;
	ev_case("first 4, last 2201, stride 2", I, &E, N, rows, cols, holes,
		&o, 0, 1);
	corr_opts_default(&o);
	o.segment_frames = 334;
	ev_case("segments of 334, a count of 40000", I, &E, N, rows, cols,
		holes, &o, 0, 1);
	o.segment_frames = 333;	/* (odd runs: dense from the first on) */
	ev_case("segments of 333", I, &E, N, rows, cols, holes, &o, 1, 1);
	corr_opts_default(&o);
	o.reject_sigma = 5;
	ev_case("outlier rejection (dense)", I, &E, N, rows, cols, holes, &o,
		0, 0);
	/* a pixel past the frame: an error, and nothing taken */
	{
		qmap m;
		corr *c = NULL;
		char err[ERR_LEN];
		size_t off[3] = {0, 1, 2};
		uint32_t pix[2] = {5, 2001};
		uint16_t cnt[2] = {1, 1};
		corr_opts_default(&o);
		make_map(&m, rows, cols, full, 0);
		if (corr_new(&c, &m, NULL, &o, err) == 0) {
			int rc = corr_push_events(c, 2, off, pix, 1, cnt, err);
			ok(rc != 0 && strstr(err, "frame 2") &&
			   strstr(err, "2001") && corr_frames(c) == 0 &&
			   c != NULL, "events: a pixel past the frame is "
			   "named (%s)", err);
			pix[1] = 0;
			rc = corr_push_events(c, 2, off, pix, 1, cnt, err);
			ok(rc != 0 && strstr(err, "pixel 0"), "events: pixel 0 "
			   "of 1-based numbers is refused (%s)", err);
		}
		corr_free(c);
		qmap_free(&m);
	}
	ev_free(&E);
	free(I);
}

int main(void)
{
	diag("kernel: %s", corr_kernel_name(NULL));
	test_dtypes();
	test_tiles_nested();
	test_constant();
	test_poisson();
	test_exponential();
	test_err_poisson();
	test_err_speckle();
	test_err_brute();
	test_err_sparse();
	test_options();
	test_bad_input();
	test_twotime();
	test_int16();
	test_int16_odd();
	test_long_runs();
	test_sums_split();
	test_sparse();
	test_sparse_long();
	test_last();
	test_events();
	return tap_done();
}
