/*
** speckle.c - synthetic heterodyne XPCS frames (see speckle.h for the model).
*/
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#else
static inline int omp_get_thread_num(void) { return 0; }
#endif
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_multifit.h>

#include "intr.h"
#include "num.h"
#include "progress.h"
#include "speckle.h"

#define SPK_TILE 32		/* pixels per tile: 64 bytes of u16 per frame */
#define SPK_SLOTS 1024		/* hash counters per (pixel, frame) */

#define SPK_NTAB 4096		/* 16 KB of float quantiles: stays in L1 */
static float spk_table[SPK_NTAB];
static double spk_recip[201];		/* 1/k for Poisson inversion */
static pthread_once_t spk_table_once = PTHREAD_ONCE_INIT;

uint64_t speckle_hash(uint64_t seed, uint64_t counter)
{
	return num_mix64(num_mix64(seed) + counter * NUM_GOLDEN64);
}

/* 4096 normal quantiles at mid-probabilities, rescaled to unit variance:
** four normals per 64-bit hash by an L1-resident table look-up is what
** makes the simulator fast. The OU fields are sums of many such
** innovations (tau0 >> frame time) and so Gaussian; a single draw has
** kurtosis 2.9915 instead of 3, which matters only when tau0 is below a
** few frame times (then the contrast is low by about 0.2 %). */
static void spk_table_init(void)
{
	double s2 = 0, tab[SPK_NTAB];
	for (int k = 1; k <= 200; k++)
		spk_recip[k] = 1.0 / k;
	for (unsigned i = 0; i < SPK_NTAB; i++) {
		tab[i] = gsl_cdf_ugaussian_Pinv((i + 0.5) / SPK_NTAB);
		s2 += tab[i] * tab[i];
	}
	s2 = sqrt(s2 / SPK_NTAB);
	for (unsigned i = 0; i < SPK_NTAB; i++)
		spk_table[i] = (float)(tab[i] / s2);
}

double speckle_normal_table(unsigned idx)
{
	pthread_once(&spk_table_once, spk_table_init);
	return spk_table[idx % SPK_NTAB];
}

/* Poisson by inversion for small means, Hoermann's PTRS transformed
** rejection for lam >= 10 (constant expected cost for any mean) */
uint64_t speckle_poisson(double lam, uint64_t seed, uint64_t counter)
{
	pthread_once(&spk_table_once, spk_table_init);
	if (!(lam > 0))
		return 0;
	if (lam < 10) {
		double u = num_uniform(speckle_hash(seed, counter * 64));
		double p = exp(-lam), F = p;
		uint64_t k = 0;
		while (u > F && k < 200) {
			k++;
			p *= lam * spk_recip[k];
			F += p;
		}
		return k;
	}
	double slam = sqrt(lam), loglam = log(lam);
	double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
	double inva = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2);
	for (uint64_t att = 0;; att++) {
		uint64_t r = speckle_hash(seed, counter * 64 + (att & 63));
		if (att >= 64)
			r = speckle_hash(r, att);
		double U = ((r >> 32) + 0.5) / 4294967296.0 - 0.5;
		double V = ((r & 0xFFFFFFFFu) + 0.5) / 4294967296.0;
		double us = 0.5 - fabs(U);
		double k = floor((2 * a / us + b) * U + lam + 0.43);
		if (us >= 0.07 && V <= vr)
			return (uint64_t)k;
		if (k < 0 || (us < 0.013 && V > us))
			continue;
		if (log(V) + log(inva) - log(a / (us * us) + b) <=
		    -lam + k * loglam - lgamma(k + 1))
			return (uint64_t)k;
	}
}

int speckle_poisson_u16(uint16_t *out, size_t n, double mean, uint64_t seed,
			char *err)
{
	if (!(mean >= 0 && mean <= SPECKLE_POISSON_U16_MAX))
		return err_set(err, "speckle: Poisson mean must be 0..%d for "
			       "u16 counts (got %g)", SPECKLE_POISSON_U16_MAX,
			       mean);
	#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++) {
		uint64_t k = speckle_poisson(mean, seed, i);
		out[i] = (uint16_t)(k < 65535 ? k : 65535);
	}
	return 0;
}

/* non-negative least squares by a simple active-set scheme: solve the
** unconstrained problem on the free set (GSL's SVD solver copes with the
** ill-conditioned exponential basis), drop the most negative weight,
** repeat. Tiny (n <= SPECKLE_MAXMIX), run once per simulation. */
static void spk_nnls(size_t nr, int n, const double *A, const double *b,
		     double *w)
{
	int active[SPECKLE_MAXMIX], na = n;
	for (int j = 0; j < n; j++) {
		active[j] = j;
		w[j] = 0;
	}
	gsl_matrix *X = gsl_matrix_alloc(nr, n), *C = gsl_matrix_alloc(n, n);
	gsl_vector *y = gsl_vector_alloc(nr), *c = gsl_vector_alloc(n);
	if (!X || !C || !y || !c)
		goto done;
	for (size_t i = 0; i < nr; i++)
		gsl_vector_set(y, i, b[i]);
	while (na > 0) {
		gsl_matrix_view Xv = gsl_matrix_submatrix(X, 0, 0, nr, na);
		gsl_matrix_view Cv = gsl_matrix_submatrix(C, 0, 0, na, na);
		gsl_vector_view cv = gsl_vector_subvector(c, 0, na);
		gsl_multifit_linear_workspace *w2 = gsl_multifit_linear_alloc(nr, na);
		double chi2;
		size_t rank;
		for (size_t i = 0; i < nr; i++)
			for (int l = 0; l < na; l++)
				gsl_matrix_set(&Xv.matrix, i, l,
					       A[i * n + active[l]]);
		if (w2 == NULL)
			goto done;
		gsl_multifit_linear_tsvd(&Xv.matrix, y, 1e-12, &cv.vector,
					 &Cv.matrix, &chi2, &rank, w2);
		gsl_multifit_linear_free(w2);
		int worst = -1;
		double wv = 0;
		for (int l = 0; l < na; l++)
			if (gsl_vector_get(c, l) < wv) {
				wv = gsl_vector_get(c, l);
				worst = l;
			}
		if (worst < 0) {
			for (int l = 0; l < na; l++)
				w[active[l]] = gsl_vector_get(c, l);
			break;
		}
		active[worst] = active[--na];
	}
done:
	gsl_matrix_free(X);
	gsl_matrix_free(C);
	gsl_vector_free(y);
	gsl_vector_free(c);
}

/* one candidate mixture: rates log-spaced from 10^lo to 10^hi over tau0,
** weights by NNLS on a log grid of delays (with a heavy row forcing
** f(0) = 1), renormalised to sum 1; returns the max error */
static double spk_mixture_try(double tau0, double gamma, double lo,
			      double hi, speckle_mix *m)
{
	enum { NT = 240 };
	int n = SPECKLE_MAXMIX;
	double *A = malloc(sizeof(double) * (NT + 1) * SPECKLE_MAXMIX);
	double b[NT + 1];
	memset(m, 0, sizeof *m);
	m->n = n;
	m->max_err = INFINITY;
	if (A == NULL)
		return INFINITY;
	for (int j = 0; j < n; j++)
		m->rate[j] = pow(10, lo + (hi - lo) * j / (n - 1)) / tau0;
	for (int i = 0; i <= NT; i++) {
		double tau = i == NT ? 0 : tau0 * pow(10, -3 + 6.0 * i / NT);
		double wt = i == NT ? 100 : 1;
		b[i] = wt * exp(-pow(tau / tau0, gamma));
		for (int j = 0; j < n; j++)
			A[i * n + j] = wt * exp(-m->rate[j] * tau);
	}
	spk_nnls(NT + 1, n, A, b, m->w);
	free(A);
	double s = 0;
	for (int j = 0; j < n; j++)
		s += m->w[j];
	if (!(s > 0))
		return INFINITY;
	for (int j = 0; j < n; j++)
		m->w[j] /= s;
	m->max_err = 0;
	for (int i = 0; i < NT; i++) {
		double tau = tau0 * pow(10, -3 + 6.0 * i / NT);
		double d = fabs(speckle_field_corr(m, tau) -
				exp(-pow(tau / tau0, gamma)));
		if (d > m->max_err)
			m->max_err = d;
	}
	return m->max_err;
}

/* the exponential mixture for exp(-(tau/tau0)^gamma): the best of a few
** rate grids, since the width of the stretched exponential's rate spectrum
** grows quickly as gamma falls below 1 */
static void spk_mixture(double tau0, double gamma, speckle_mix *m)
{
	static const double los[] = {-0.6, -1, -1.5, -2, -3, -4, -6, -8, -11};
	static const double his[] = {0.4, 0.7, 1, 1.5, 2.5, 3.5};
	speckle_mix t;
	memset(m, 0, sizeof *m);
	if (gamma == 1) {
		m->n = 1;
		m->rate[0] = 1 / tau0;
		m->w[0] = 1;
		return;
	}
	m->max_err = INFINITY;
	for (size_t a = 0; a < sizeof los / sizeof *los; a++)
		for (size_t b = 0; b < sizeof his / sizeof *his; b++)
			if (spk_mixture_try(tau0, gamma, los[a], his[b], &t) <
			    m->max_err)
				*m = t;
}

double speckle_field_corr(const speckle_mix *mix, double tau)
{
	double f = 0;
	for (int j = 0; j < mix->n; j++)
		f += mix->w[j] * exp(-mix->rate[j] * fabs(tau));
	return f;
}

int speckle_check(const speckle_params *p, speckle_mix *mix, char *err)
{
	if (geom_check(&p->geom, err))
		return -1;
	if (p->geom.rows * p->geom.cols > ((size_t)1 << 26))
		return err_set(err, "shape %zux%zu is too large for the "
			       "simulator", p->geom.rows, p->geom.cols);
	if (p->nframes < 1 || p->nframes > (1u << 24))
		return err_set(err, "frames must be 1..16777216 (got %zu)",
			       p->nframes);
	if (!(p->frame_time > 0 && isfinite(p->frame_time)))
		return err_set(err, "frame_time must be positive (got %g s)",
			       p->frame_time);
	if (!(p->tau0 > 0 && isfinite(p->tau0)))
		return err_set(err, "tau0 must be positive (got %g s)", p->tau0);
	if (!(p->gamma > 0 && p->gamma <= 1))
		return err_set(err, "gamma must be in (0, 1] (got %g): a "
			       "compressed exponential is not a mixture of "
			       "Ornstein-Uhlenbeck fields", p->gamma);
	if (!(p->h >= 0 && p->h <= 1))
		return err_set(err, "h must be in [0, 1] (got %g)", p->h);
	if (p->modes < 1 || p->modes > SPECKLE_MAXMODES)
		return err_set(err, "modes must be 1..%d (got %d)",
			       SPECKLE_MAXMODES, p->modes);
	if (!(p->mean_counts > 0 && isfinite(p->mean_counts)))
		return err_set(err, "mean_counts must be positive (got %g)",
			       p->mean_counts);
	if (!isfinite(p->flow_angle))
		return err_set(err, "flow_angle must be finite");
	if (p->velocity == NULL)
		return err_set(err, "velocity is missing");
	for (size_t t = 0; t < p->nframes; t++)
		if (!isfinite(p->velocity[t]))
			return err_set(err, "velocity at frame %zu is not "
				       "finite", t + 1);
	spk_mixture(p->tau0, p->gamma, mix);
	return 0;
}

void speckle_displacement(const speckle_params *p, double *x)
{
	x[0] = 0;
	for (size_t t = 1; t < p->nframes; t++)
		x[t] = x[t - 1] + p->velocity[t - 1] * p->frame_time;
}

/* per-thread field state of one tile */
typedef struct spk_state {
	int M, J;
	double *sr, *si;	/* static field, [pix][M] */
	double *ar, *ai;	/* moving OU components, [pix][M][J] */
	double *rho, *sig;	/* per component: AR(1) factor, innovation sd */
} spk_state;

/* four normals per hash word, handed out in order */
typedef struct spk_rng {
	uint64_t seed, ctr, word;
	int left;
} spk_rng;

static inline double spk_normal(spk_rng *r)
{
	if (r->left == 0) {
		r->word = speckle_hash(r->seed, r->ctr++);
		r->left = 4;
	}
	r->left--;
	double z = spk_table[r->word & (SPK_NTAB - 1)];
	r->word >>= 16;
	return z;
}

static void spk_rng_at(spk_rng *r, uint64_t seed, size_t pix, size_t t,
		       size_t nframes)
{
	r->seed = seed;
	r->ctr = ((uint64_t)pix * (nframes + 1) + t) * SPK_SLOTS;
	r->left = 0;
}

/* draw the static field and the stationary start of the moving field */
static void spk_init_pixel(spk_state *s, int ip, size_t pix,
			   const speckle_params *p, const speckle_mix *mix)
{
	spk_rng r;
	int M = s->M, J = s->J;
	double ss = sqrt((1 - p->h) * p->mean_counts / M / 2);
	spk_rng_at(&r, p->seed, pix, p->nframes, p->nframes);
	for (int k = 0; k < M; k++) {
		s->sr[ip * M + k] = ss * spk_normal(&r);
		s->si[ip * M + k] = ss * spk_normal(&r);
		for (int j = 0; j < J; j++) {
			double sd = sqrt(p->h * p->mean_counts * mix->w[j] / M / 2);
			size_t o = ((size_t)ip * M + k) * J + j;
			s->ar[o] = sd * spk_normal(&r);
			s->ai[o] = sd * spk_normal(&r);
		}
	}
}

/* the intensity of one pixel from its mode sums when the moving field is
** rotated by (zr, zi) = exp(i phase): |S|^2 + |B|^2 + 2 Re(z conj(S) B) */
static inline double spk_intensity(const spk_state *s, int ip, double zr,
				   double zi)
{
	int M = s->M, J = s->J;
	double bb = 0, ss = 0, cr = 0, ci = 0;
	for (int k = 0; k < M; k++) {
		double br = 0, bi = 0;
		const double *ar = s->ar + ((size_t)ip * M + k) * J;
		const double *ai = s->ai + ((size_t)ip * M + k) * J;
		for (int j = 0; j < J; j++) {
			br += ar[j];
			bi += ai[j];
		}
		double sr = s->sr[ip * M + k], si = s->si[ip * M + k];
		bb += br * br + bi * bi;
		ss += sr * sr + si * si;
		cr += sr * br + si * bi;	/* Re(conj(S) B) */
		ci += sr * bi - si * br;	/* Im(conj(S) B) */
	}
	return ss + bb + 2 * (zr * cr - zi * ci);
}

/* advance the M x J complex OU components of one pixel by one frame:
** a <- rho a + sig n, four table normals per hash word */
static inline void spk_advance(spk_state *s, int ip, uint64_t key,
			       uint64_t ctr)
{
	size_t n = (size_t)s->M * s->J, o = (size_t)ip * n;
	double *restrict ar = s->ar + o, *restrict ai = s->ai + o;
	const double *rho = s->rho, *sig = s->sig;
	int J = s->J, j = 0;
	uint64_t w = 0;
	for (size_t m = 0; m < n; m++) {
		if ((m & 1) == 0)
			w = num_mix64(key + (ctr++) * NUM_GOLDEN64);
		else
			w >>= 32;
		ar[m] = rho[j] * ar[m] + sig[j] * spk_table[w & (SPK_NTAB - 1)];
		ai[m] = rho[j] * ai[m] +
			sig[j] * spk_table[(w >> 16) & (SPK_NTAB - 1)];
		if (++j == J)
			j = 0;
	}
}

/* the common case of one OU component (gamma = 1): advance and sum the
** modes in one pass, two modes per hash word */
static inline double spk_step1(spk_state *s, int ip, uint64_t key,
			       uint64_t ctr, int advance, double zr, double zi)
{
	int M = s->M;
	double *restrict ar = s->ar + (size_t)ip * M;
	double *restrict ai = s->ai + (size_t)ip * M;
	const double *sr = s->sr + (size_t)ip * M, *si = s->si + (size_t)ip * M;
	double rho = s->rho[0], sig = s->sig[0];
	double bb = 0, ss = 0, cr = 0, ci = 0;
	uint64_t w = 0;
	for (int k = 0; k < M; k++) {
		if (advance) {
			if ((k & 1) == 0)
				w = num_mix64(key + (ctr++) * NUM_GOLDEN64);
			else
				w >>= 32;
			ar[k] = rho * ar[k] + sig * spk_table[w & (SPK_NTAB - 1)];
			ai[k] = rho * ai[k] +
				sig * spk_table[(w >> 16) & (SPK_NTAB - 1)];
		}
		double br = ar[k], bi = ai[k];
		bb += br * br + bi * bi;
		ss += sr[k] * sr[k] + si[k] * si[k];
		cr += sr[k] * br + si[k] * bi;
		ci += sr[k] * bi - si[k] * br;
	}
	return ss + bb + 2 * (zr * cr - zi * ci);
}

static int spk_store(void *out, arr_dtype dt, size_t idx, double I,
		     const speckle_params *p, size_t pix, size_t t)
{
	double v = I;
	if (p->poisson)
		v = (double)speckle_poisson(I, p->seed ^ 0x5DEECE66DULL,
					    (uint64_t)pix * p->nframes + t);
	switch (dt) {
	case ARR_F64: ((double *)out)[idx] = v; return 0;
	case ARR_F32: ((float *)out)[idx] = (float)v; return 0;
	case ARR_U16:
		if (v > 65535) return -1;
		((uint16_t *)out)[idx] = (uint16_t)(v + 0.5); return 0;
	case ARR_U32:
		if (v > 4294967295.0) return -1;
		((uint32_t *)out)[idx] = (uint32_t)(v + 0.5); return 0;
	default: return -1;
	}
}

static int spk_state_alloc(spk_state *s, int M, const speckle_mix *mix,
			   const speckle_params *p)
{
	int J = mix->n;
	size_t nf = (size_t)SPK_TILE * M * J;
	s->M = M;
	s->J = J;
	s->sr = malloc(sizeof(double) * SPK_TILE * M);
	s->si = malloc(sizeof(double) * SPK_TILE * M);
	s->ar = malloc(sizeof(double) * nf);
	s->ai = malloc(sizeof(double) * nf);
	s->rho = malloc(sizeof(double) * J);
	s->sig = malloc(sizeof(double) * J);
	if (!s->sr || !s->si || !s->ar || !s->ai || !s->rho || !s->sig)
		return -1;
	for (int j = 0; j < J; j++) {
		double rho = exp(-mix->rate[j] * p->frame_time);
		s->rho[j] = rho;
		s->sig[j] = sqrt((1 - rho * rho) * p->h * p->mean_counts *
				 mix->w[j] / M / 2);
	}
	return 0;
}

static void spk_state_free(spk_state *s)
{
	free(s->sr); free(s->si); free(s->ar); free(s->ai);
	free(s->rho); free(s->sig);
}

/* one tile of pixels through all frames; returns 0, -1 (overflow).
** The phase factor exp(i K X(t)) is carried as a rotor multiplied by the
** per-frame step exp(i K dX), recomputed with sincos only when dX changes
** and every 64 frames (so rounding never accumulates). */
static int spk_tile(spk_state *s, size_t p0, size_t np, const double *K,
		    const double *X, const speckle_params *p, void *out,
		    arr_dtype dt, const speckle_mix *mix)
{
	size_t npix = p->geom.rows * p->geom.cols;
	double zr[SPK_TILE], zi[SPK_TILE], wr[SPK_TILE], wi[SPK_TILE];
	double dx_prev = NAN;
	uint64_t key = num_mix64(p->seed);
	for (size_t i = 0; i < np; i++)
		spk_init_pixel(s, (int)i, p0 + i, p, mix);
	for (size_t t = 0; t < p->nframes; t++) {
		double dx = t > 0 ? X[t] - X[t - 1] : 0;
		int exact = t % 64 == 0, newstep = dx != dx_prev;
		for (size_t i = 0; i < np && (exact || newstep); i++) {
			if (exact) {
				zr[i] = cos(K[p0 + i] * X[t]);
				zi[i] = sin(K[p0 + i] * X[t]);
			}
			if (newstep) {
				wr[i] = cos(K[p0 + i] * dx);
				wi[i] = sin(K[p0 + i] * dx);
			}
		}
		for (size_t i = 0; i < np && !exact; i++) {
			double a = zr[i] * wr[i] - zi[i] * wi[i];
			zi[i] = zr[i] * wi[i] + zi[i] * wr[i];
			zr[i] = a;
		}
		dx_prev = dx;
		for (size_t i = 0; i < np; i++) {
			uint64_t ctr = ((uint64_t)(p0 + i) * (p->nframes + 1) + t) *
				       SPK_SLOTS;
			double I;
			if (s->J == 1) {
				I = spk_step1(s, (int)i, key, ctr, t > 0, zr[i], zi[i]);
			} else {
				if (t > 0)
					spk_advance(s, (int)i, key, ctr);
				I = spk_intensity(s, (int)i, zr[i], zi[i]);
			}
			if (spk_store(out, dt, t * npix + p0 + i, I, p, p0 + i, t))
				return -1;
		}
	}
	return 0;
}

/* the projection of each pixel's in-plane q onto the flow direction */
static double *spk_projections(const speckle_params *p, char *err)
{
	const geom *g = &p->geom;
	double *K = err_malloc(g->rows * g->cols, sizeof(double), err);
	if (K == NULL)
		return NULL;
	double ca = cos(p->flow_angle), sa = sin(p->flow_angle);
	for (size_t r = 0; r < g->rows; r++)
		for (size_t c = 0; c < g->cols; c++) {
			geom_px px;
			geom_pixel(g, (double)r, (double)c, &px);
			K[r * g->cols + c] = px.qx * ca + px.qy * sa;
		}
	return K;
}

int speckle_simulate(const speckle_params *p, void *out, arr_dtype dt,
		     char *err)
{
	speckle_mix mix;
	if (speckle_check(p, &mix, err))
		return -1;
	if (dt != ARR_U16 && dt != ARR_U32 && dt != ARR_F32 && dt != ARR_F64)
		return err_set(err, "dtype must be u16, u32, f32 or f64");
	pthread_once(&spk_table_once, spk_table_init);
	size_t npix = p->geom.rows * p->geom.cols;
	size_t ntile = (npix + SPK_TILE - 1) / SPK_TILE;
	double *K = spk_projections(p, err);
	double *X = K ? err_malloc(p->nframes, sizeof(double), err) : NULL;
	if (X == NULL) {
		free(K);
		return -1;
	}
	speckle_displacement(p, X);
	int bad = 0;	/* 1 overflow, 2 memory, 3 interrupted */
	size_t ndone = 0;	/* tiles done, for the progress bar */
	progress_begin(p->prog, "speckle", (double)ntile);
	#pragma omp parallel
	{
		spk_state s;
		memset(&s, 0, sizeof s);
		if (spk_state_alloc(&s, p->modes, &mix, p)) {
			#pragma omp atomic write
			bad = 2;
		}
		#pragma omp for schedule(dynamic, 4)
		for (size_t it = 0; it < ntile; it++) {
			if (intr_omp_skip(&bad, 3))
				continue;
			size_t p0 = it * SPK_TILE;
			size_t np = npix - p0 < SPK_TILE ? npix - p0 : SPK_TILE;
			if (spk_tile(&s, p0, np, K, X, p, out, dt, &mix)) {
				#pragma omp atomic write
				bad = 1;
			}
			#pragma omp atomic update
			ndone++;
			/* the bar is drawn by the thread that began it */
			if (omp_get_thread_num() == 0) {
				size_t d;
				#pragma omp atomic read
				d = ndone;
				if (progress_update(p->prog, (double)d) != 0) {
					#pragma omp atomic write
					bad = 3;
				}
			}
		}
		spk_state_free(&s);
	}
	free(K);
	free(X);
	if (bad == 0)
		progress_update(p->prog, (double)ntile);
	progress_end(p->prog);
	if (bad == 1)
		return err_set(err, "counts overflow the %s dtype (mean_counts "
			       "%g too high)", dt == ARR_U16 ? "u16" : "u32",
			       p->mean_counts);
	if (bad == 2)
		return err_set(err, "out of memory for the field state");
	if (bad == 3)
		return err_set(err, "interrupted");
	return 0;
}
