/*
** twotime.c - two-time correlation of chosen bins (see twotime.h).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "intr.h"
#include "twotime.h"

struct twotime {
	size_t rows, cols, npix;
	size_t nsel, npx;	/* chosen bins, their pixels */
	size_t *pix;		/* detector index, grouped by bin */
	size_t *start;		/* nsel + 1: first pixel of each bin */
	size_t ds, max_frames;
	double *X;		/* frames x npx (downsampled) */
	size_t nf;		/* frames kept */
	double *acc;		/* npx: the group being averaged */
	size_t nacc;
};

int twotime_new(twotime **out, const qmap *m, const int32_t *bins,
		size_t nsel, size_t ds, size_t max_frames, char *err)
{
	twotime *t;
	size_t n = 0;
	*out = NULL;
	if (nsel == 0)
		return err_set(err, "twotime: no bins chosen");
	if (ds < 1 || max_frames < 2)
		return err_set(err, "twotime: downsample must be >= 1 and "
			       "max_frames >= 2");
	for (size_t k = 0; k < nsel; k++)
		if (bins[k] < 1 || (size_t)bins[k] > m->nbins)
			return err_set(err, "twotime: bin %ld is not in 1..%zu",
				       (long)bins[k], m->nbins);
		else
			n += m->count[bins[k] - 1];
	if (!(t = err_calloc(1, sizeof *t, err)))
		return -1;
	t->rows = m->rows;
	t->cols = m->cols;
	t->npix = m->npix;
	t->nsel = nsel;
	t->npx = n;
	t->ds = ds;
	t->max_frames = max_frames;
	t->pix = err_malloc(n ? n : 1, sizeof *t->pix, err);
	t->start = err_malloc(nsel + 1, sizeof *t->start, err);
	t->acc = err_calloc(n ? n : 1, sizeof *t->acc, err);
	if (!t->pix || !t->start || !t->acc) {
		twotime_free(t);
		return -1;
	}
	n = 0;
	for (size_t k = 0; k < nsel; k++) {
		t->start[k] = n;
		for (size_t i = 0; i < m->npix; i++)
			if (m->map[i] == bins[k])
				t->pix[n++] = i;
	}
	t->start[nsel] = n;
	*out = t;
	return 0;
}

void twotime_free(twotime *t)
{
	if (t == NULL)
		return;
	free(t->pix);
	free(t->start);
	free(t->X);
	free(t->acc);
	free(t);
}

size_t twotime_frames(const twotime *t)
{
	return t->nf;
}

size_t twotime_memory(const twotime *t)
{
	return (t->nf + 1) * t->npx * sizeof(double) + sizeof *t;
}

static double twotime_val(const void *fr, arr_dtype dt, size_t p)
{
	switch (dt) {
	case ARR_U8: return ((const uint8_t *)fr)[p];
	case ARR_U16: return ((const uint16_t *)fr)[p];
	case ARR_U32: return ((const uint32_t *)fr)[p];
	case ARR_I32: return ((const int32_t *)fr)[p];
	case ARR_F32: return ((const float *)fr)[p];
	default: return ((const double *)fr)[p];
	}
}

/* the number of frames this push will complete, checked against the
** bound before anything is kept */
static int twotime_check(const twotime *t, const char *base, size_t fsz,
			 arr_dtype dt, size_t n, char *err)
{
	size_t done = (t->nacc + n) / t->ds;
	if (t->nf + done > t->max_frames)
		return err_set(err, "twotime: more than %zu (downsampled) "
			       "frames; downsample more or raise max_frames",
			       t->max_frames);
	if (dt == ARR_F32 || dt == ARR_F64)
		for (size_t f = 0; f < n; f++)
			for (size_t i = 0; i < t->npx; i++)
				if (!isfinite(twotime_val(base + f * fsz, dt,
							  t->pix[i])))
					return err_set(err, "twotime: frame "
						"%zu of this push has a non-"
						"finite value at row %zu, col "
						"%zu", f + 1,
						t->pix[i] / t->cols + 1,
						t->pix[i] % t->cols + 1);
	return 0;
}

int twotime_push(twotime *t, const void *frames, arr_dtype dt, size_t n,
		 size_t rows, size_t cols, char *err)
{
	static const size_t sz[] = {8, 4, 4, 2, 4, 1};
	const char *base = frames;
	size_t fsz, need;
	double *nx;
	if (rows != t->rows || cols != t->cols)
		return err_set(err, "twotime: frames are %zux%zu but the "
			       "partition is %zux%zu", rows, cols, t->rows,
			       t->cols);
	if ((int)dt < 0 || dt >= ARR_NTYPES)
		return err_set(err, "twotime: unsupported dtype");
	fsz = t->npix * sz[dt];
	if (twotime_check(t, base, fsz, dt, n, err))
		return -1;
	need = t->nf + (t->nacc + n) / t->ds;
	if (need > t->nf) {
		nx = realloc(t->X, need * t->npx * sizeof *nx + 1);
		if (nx == NULL)
			return err_set(err, "twotime: out of memory for %zu "
				       "frames", need);
		t->X = nx;
	}
	for (size_t f = 0; f < n; f++) {
		const char *fr = base + f * fsz;
		if (intr_pending())
			return err_set(err, "interrupted");
		for (size_t i = 0; i < t->npx; i++)
			t->acc[i] += twotime_val(fr, dt, t->pix[i]);
		if (++t->nacc == t->ds) {
			double *row = t->X + t->nf * t->npx;
			for (size_t i = 0; i < t->npx; i++) {
				row[i] = t->acc[i] / (double)t->ds;
				t->acc[i] = 0;
			}
			t->nacc = 0;
			t->nf++;
		}
	}
	return 0;
}

/* the pixel sums of bin k: S[i n + j] = sum_p x_i[p] x_j[p] (all of it,
** mirrored), s[i] = sum_p x_i[p], *np its pixels */
int twotime_sums(const twotime *t, size_t k, double *S, double *s,
		 double *np, char *err)
{
	size_t n = t->nf, a, m;
	if (k >= t->nsel)
		return err_set(err, "twotime: bin index %zu beyond the %zu "
			       "chosen", k + 1, t->nsel);
	a = t->start[k];
	m = t->start[k + 1] - a;
	for (size_t i = 0; i < n; i++) {
		const double *x = t->X + i * t->npx + a;
		s[i] = 0;
		for (size_t p = 0; p < m; p++)
			s[i] += x[p];
	}
	#pragma omp parallel for schedule(dynamic, 8)
	for (size_t i = 0; i < n; i++) {
		const double *x = t->X + i * t->npx + a;
		for (size_t j = i; j < n; j++) {
			const double *y = t->X + j * t->npx + a;
			double v = 0;
			for (size_t p = 0; p < m; p++)
				v += x[p] * y[p];
			S[i * n + j] = S[j * n + i] = v;
		}
	}
	*np = (double)m;
	return 0;
}

/* C in place of S: each pair's mean product over the means' product */
int twotime_norm(size_t n, double *S, const double *s, double np,
		 double *g2, size_t age0, size_t age1, char *err)
{
	double *C = S;
	if (n < 2)
		return err_set(err, "twotime: %zu frame%s kept, need >= 2", n,
			       n == 1 ? "" : "s");
	if (age1 == 0 || age1 > n)
		age1 = n;
	if (age0 >= age1)
		return err_set(err, "twotime: empty age window %zu..%zu",
			       age0 + 1, age1);
	#pragma omp parallel for schedule(dynamic, 8)
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			double v = np > 0 ? C[i * n + j] / np /
				   ((s[i] / np) * (s[j] / np)) : NAN;
			C[i * n + j] = isfinite(v) ? v : NAN;
		}
	if (g2)
		for (size_t d = 0; d < n; d++) {
			double sum = 0;
			size_t c = 0;
			for (size_t i = age0; i < age1 && i + d < n; i++) {
				sum += C[i * n + i + d];
				c++;
			}
			g2[d] = c ? sum / (double)c : NAN;
		}
	return 0;
}

int twotime_result(twotime *t, size_t k, double *C, double *g2,
		   size_t age0, size_t age1, char *err)
{
	size_t n = t->nf;
	double *own = NULL, *s, np;
	int rc;
	if (k >= t->nsel)
		return err_set(err, "twotime: bin index %zu beyond the %zu "
			       "chosen", k + 1, t->nsel);
	if (n < 2)
		return err_set(err, "twotime: %zu frame%s kept, need >= 2", n,
			       n == 1 ? "" : "s");
	if (C == NULL && !(own = C = malloc(n * n * sizeof *C)))
		return err_set(err, "twotime: out of memory for %zux%zu", n, n);
	if (!(s = malloc(n * sizeof *s))) {
		free(own);
		return err_set(err, "twotime: out of memory");
	}
	rc = twotime_sums(t, k, C, s, &np, err) ||
	     twotime_norm(n, C, s, np, g2, age0, age1, err) ? -1 : 0;
	free(s);
	free(own);
	return rc;
}
