/*
** qmap.c - masks and q/phi partitions.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qmap.h"

void qmap_qrange(const double *q, const uint8_t *mask, size_t n,
		 int logscale, double *lo, double *hi)
{
	*lo = INFINITY;
	*hi = -INFINITY;
	for (size_t i = 0; i < n; i++) {
		if ((mask && !mask[i]) || !isfinite(q[i]) ||
		    (logscale && !(q[i] > 0)))
			continue;
		if (q[i] < *lo) *lo = q[i];
		if (q[i] > *hi) *hi = q[i];
	}
}

int qmap_edges(double lo, double hi, size_t n, int logscale, double *e,
	       char *err)
{
	if (n == 0)
		return err_set(err, "qmap: number of bins must be >= 1");
	if (!(isfinite(lo) && isfinite(hi) && hi > lo))
		return err_set(err, "qmap: edges need lo < hi (got %g, %g)",
			       lo, hi);
	if (logscale && !(lo > 0))
		return err_set(err, "qmap: logarithmic edges need lo > 0 "
			       "(got %g)", lo);
	for (size_t i = 0; i <= n; i++) {
		double f = (double)i / (double)n;
		e[i] = logscale ? lo * pow(hi / lo, f) : lo + (hi - lo) * f;
	}
	e[n] = hi;
	return 0;
}

static int qmap_check_edges(const double *e, size_t n, const char *what,
			    char *err)
{
	if (n == 0 || e == NULL)
		return err_set(err, "qmap: %s edges are empty", what);
	for (size_t i = 0; i <= n; i++) {
		if (!isfinite(e[i]))
			return err_set(err, "qmap: %s edge %zu is not finite",
				       what, i + 1);
		if (i > 0 && !(e[i] > e[i - 1]))
			return err_set(err, "qmap: %s edges must increase "
				       "(edge %zu)", what, i + 1);
	}
	return 0;
}

/* index of the bin holding v in edges e[0..n] (last edge closed), or -1.
** The halving takes a conditional move, not a branch: the pixels' values
** are in no order, and a mispredicted branch at every step cost more
** than the search. */
static long qmap_find(const double *e, size_t n, double v)
{
	const double *b = e;
	size_t len = n;
	if (!(v >= e[0] && v <= e[n]))
		return -1;
	if (v == e[n])
		return (long)n - 1;
	while (len > 1) {	/* invariant b[0] <= v < b[len] */
		size_t half = len / 2;
		b = b[half] <= v ? b + half : b;
		len -= half;
	}
	return (long)(b - e);
}

/* phi wrapped (or folded) into the window that starts at the first edge:
** d - period for d in [period, 2 period) is exact, as fmod is, and d +
** period for d in [-period, 0) is the value fmod's path adds too; fmod
** only beyond */
static double qmap_wrap_phi(double phi, double e0, int fold)
{
	double period = fold ? 180.0 : 360.0;
	double d = phi - e0;
	if (d < 0 && d >= -period) {
		d += period;
	} else if (d >= period && d < 2 * period) {
		d -= period;
	} else if (!(d >= 0 && d < period)) {
		d = fmod(d, period);
		if (d < 0)
			d += period;
	}
	return e0 + d;
}

static int qmap_alloc(qmap *m, size_t rows, size_t cols, size_t nbins,
		      char *err)
{
	memset(m, 0, sizeof *m);
	m->rows = rows;
	m->cols = cols;
	m->npix = rows * cols;
	m->nbins = nbins;
	if (rows == 0 || cols == 0)
		return err_set(err, "qmap: shape %zux%zu is empty", rows, cols);
	m->map = err_calloc(m->npix, sizeof *m->map, err);
	m->count = err_calloc(nbins, sizeof *m->count, err);
	m->q_mean = err_calloc(nbins, sizeof *m->q_mean, err);
	m->phi_mean = err_calloc(nbins, sizeof *m->phi_mean, err);
	if (!m->map || !m->count || !m->q_mean || !m->phi_mean) {
		qmap_free(m);
		return -1;
	}
	return 0;
}

/* a partition in which no pixel is in any bin: every result of it would
** be NaN, so building one is an error */
static int qmap_all_empty(const qmap *m)
{
	for (size_t b = 0; b < m->nbins; b++)
		if (m->count[b] > 0)
			return 0;
	return 1;
}

static double *qmap_dup(const double *v, size_t n, char *err)
{
	double *d = err_malloc(n, sizeof *d, err);
	if (d)
		memcpy(d, v, n * sizeof *d);
	return d;
}

int qmap_build(qmap *m, size_t rows, size_t cols, const double *q,
	       const double *phi, const uint8_t *mask, const double *qe,
	       size_t nq, const double *pe, size_t nphi, int fold, char *err)
{
	if (qmap_check_edges(qe, nq, "q", err) ||
	    qmap_check_edges(pe, nphi, "phi", err))
		return -1;
	if (pe[nphi] - pe[0] > (fold ? 180.0 : 360.0))
		return err_set(err, "qmap: phi edges span %g degrees, more than "
			       "%s", pe[nphi] - pe[0],
			       fold ? "180 (folded)" : "360");
	if (nq > qmap_max_bins(rows * cols) / nphi)
		return err_set(err, "qmap: %zu x %zu bins is more than %zu (the "
			       "larger of the pixel count and %d)", nq, nphi,
			       qmap_max_bins(rows * cols), QMAP_MINBOUND);
	if (qmap_alloc(m, rows, cols, nq * nphi, err))
		return -1;
	m->nq = nq;
	m->nphi = nphi;
	m->fold = fold;
	m->q_edges = qmap_dup(qe, nq + 1, err);
	m->phi_edges = qmap_dup(pe, nphi + 1, err);
	if (!m->q_edges || !m->phi_edges) {
		qmap_free(m);
		return -1;
	}
	#pragma omp parallel for schedule(static) if (m->npix > 65536)
	for (size_t i = 0; i < m->npix; i++) {
		long iq, ip;
		m->map[i] = 0;
		if ((mask && !mask[i]) || !isfinite(q[i]) || !isfinite(phi[i]))
			continue;
		iq = qmap_find(qe, nq, q[i]);
		ip = qmap_find(pe, nphi, qmap_wrap_phi(phi[i], pe[0], fold));
		if (iq >= 0 && ip >= 0)
			m->map[i] = (int32_t)(iq * (long)nphi + ip + 1);
	}
	qmap_stats(m, q, phi);
	if (qmap_all_empty(m)) {
		qmap_free(m);
		return err_set(err, "qmap: every bin is empty (no unmasked "
			       "pixel has q in %g..%g 1/m and phi in %g..%g "
			       "degrees)", qe[0], qe[nq], pe[0], pe[nphi]);
	}
	return 0;
}

size_t qmap_max_bins(size_t npix)
{
	return npix > QMAP_MINBOUND ? npix : QMAP_MINBOUND;
}

int qmap_map_from_doubles(int32_t *dst, const double *src, size_t rows,
			  size_t cols, char *err)
{
	size_t npix = rows * cols;
	for (size_t i = 0; i < npix; i++) {
		double v = src[i];
		if (!(v >= 0 && v <= INT32_MAX && v == floor(v)))
			return err_set(err, "qmap: bin number %.17g at pixel "
				       "(row %zu, col %zu) is not an integer "
				       "0..%ld", v, i / cols + 1, i % cols + 1,
				       (long)INT32_MAX);
		dst[i] = (int32_t)v;
	}
	return 0;
}

int qmap_from_map(qmap *m, size_t rows, size_t cols, const int32_t *map,
		  size_t nbins, const double *q, const double *phi, char *err)
{
	size_t npix = rows * cols, maxb = 0, bound = qmap_max_bins(npix);
	for (size_t i = 0; i < npix; i++) {
		if (map[i] < 0)
			return err_set(err, "qmap: bin number %ld at pixel "
				       "(row %zu, col %zu) is negative",
				       (long)map[i], i / cols + 1,
				       i % cols + 1);
		if ((size_t)map[i] > bound)
			return err_set(err, "qmap: bin number %ld at pixel "
				       "(row %zu, col %zu) is beyond %zu (the "
				       "larger of the pixel count and %d)",
				       (long)map[i], i / cols + 1,
				       i % cols + 1, bound, QMAP_MINBOUND);
		if ((size_t)map[i] > maxb)
			maxb = (size_t)map[i];
	}
	if (nbins > bound)
		return err_set(err, "qmap: %zu bins is beyond %zu (the larger "
			       "of the pixel count and %d)", nbins, bound,
			       QMAP_MINBOUND);
	if (nbins == 0)
		nbins = maxb;
	else if (maxb > nbins)
		return err_set(err, "qmap: bin number %zu exceeds the %zu bins",
			       maxb, nbins);
	if (nbins == 0)
		return err_set(err, "qmap: the map has no bins (all pixels 0)");
	if (qmap_alloc(m, rows, cols, nbins, err))
		return -1;
	memcpy(m->map, map, npix * sizeof *map);
	qmap_stats(m, q, phi);
	return 0;
}

int qmap_apply_mask(qmap *m, const uint8_t *mask, const double *q,
		    const double *phi, char *err)
{
	for (size_t i = 0; i < m->npix; i++)
		if (!mask[i])
			m->map[i] = 0;
	qmap_stats(m, q, phi);
	if (qmap_all_empty(m))
		return err_set(err, "qmap: the mask leaves every bin empty");
	return 0;
}

#define QMAP_BLOCK 16384	/* pixels whose sin, cos are made at once */

/* the sin and cos of the block's binned pixels' phi, by threads (a
** third of a 1 Mpx partition on one thread) */
static void qmap_sincos(const qmap *m, const double *phi, size_t i0,
			size_t n, double *sn, double *cs)
{
	#pragma omp parallel for schedule(static) if (n >= 4096)
	for (size_t j = 0; j < n; j++) {
		double a = phi[i0 + j] * (M_PI / 180);
		if (m->map[i0 + j] > 0) {
			sn[j] = sin(a);
			cs[j] = cos(a);
		}
	}
}

/* counts and means: a folded grid averages the folded angles (they all
** lie in one half plane); otherwise a circular mean, so that a sector
** across +-180 is not averaged to 0. The sums run in pixel order
** whatever the threads, so that every process (and MPI rank) gets the
** same bits. */
void qmap_stats(qmap *m, const double *q, const double *phi)
{
	size_t nb = m->nbins;
	double *sq = calloc(nb, sizeof *sq), *ss = calloc(nb, sizeof *ss);
	double *sc = calloc(nb, sizeof *sc), *sn = NULL;
	int circ = phi && !(m->fold && m->phi_edges);
	if (circ && sq && ss && sc)
		sn = malloc(2 * QMAP_BLOCK * sizeof *sn);
	if (circ && !sn) {	/* (out of memory: counts only) */
		free(sq);
		sq = NULL;
	}
	memset(m->count, 0, nb * sizeof *m->count);
	for (size_t i0 = 0; i0 < m->npix; i0 += QMAP_BLOCK) {
		size_t n = m->npix - i0 < QMAP_BLOCK ? m->npix - i0 : QMAP_BLOCK;
		if (sq && circ)
			qmap_sincos(m, phi, i0, n, sn, sn + QMAP_BLOCK);
		for (size_t j = 0; j < n; j++) {
			int32_t b = m->map[i0 + j];
			if (b <= 0)
				continue;
			m->count[b - 1]++;
			if (!sq)
				continue;
			if (q)
				sq[b - 1] += q[i0 + j];
			if (circ) {
				ss[b - 1] += sn[j];
				sc[b - 1] += sn[QMAP_BLOCK + j];
			} else if (phi) {
				ss[b - 1] += qmap_wrap_phi(phi[i0 + j],
							   m->phi_edges[0], 1);
			}
		}
	}
	for (size_t b = 0; b < nb; b++) {
		double n = (double)m->count[b];
		m->q_mean[b] = (q && sq && n > 0) ? sq[b] / n : NAN;
		if (!(phi && sq && n > 0))
			m->phi_mean[b] = NAN;
		else if (!circ)
			m->phi_mean[b] = ss[b] / n;
		else
			m->phi_mean[b] = atan2(ss[b], sc[b]) * (180 / M_PI);
	}
	free(sq);
	free(ss);
	free(sc);
	free(sn);
}

void qmap_bin_mean(const qmap *m, const double *img, double *out)
{
	double *s = calloc(m->nbins, sizeof *s);
	for (size_t b = 0; b < m->nbins; b++)
		out[b] = NAN;
	if (!s)
		return;
	for (size_t i = 0; i < m->npix; i++)
		if (m->map[i] > 0)
			s[m->map[i] - 1] += img[i];
	for (size_t b = 0; b < m->nbins; b++)
		if (m->count[b] > 0)
			out[b] = s[b] / (double)m->count[b];
	free(s);
}

int qmap_nest(const qmap *st, const qmap *dy, int32_t *s2d, char *err)
{
	if (st->rows != dy->rows || st->cols != dy->cols)
		return err_set(err, "qmap: static partition %zux%zu does not "
			       "match dynamic %zux%zu", st->rows, st->cols,
			       dy->rows, dy->cols);
	for (size_t b = 0; b < st->nbins; b++)
		s2d[b] = -1;
	for (size_t i = 0; i < st->npix; i++) {
		int32_t s = st->map[i], d = dy->map[i];
		if (s <= 0)
			continue;
		if (s2d[s - 1] < 0)
			s2d[s - 1] = d;
		else if (s2d[s - 1] != d)
			return err_set(err, "qmap: static bin %ld spans dynamic "
				       "bins %ld and %ld (pixel row %zu, col "
				       "%zu)", (long)s, (long)s2d[s - 1],
				       (long)d, i / st->cols + 1,
				       i % st->cols + 1);
	}
	for (size_t b = 0; b < st->nbins; b++)
		if (s2d[b] < 0)
			s2d[b] = 0;
	return 0;
}

void qmap_free(qmap *m)
{
	free(m->map);
	free(m->count);
	free(m->q_mean);
	free(m->phi_mean);
	free(m->q_edges);
	free(m->phi_edges);
	memset(m, 0, sizeof *m);
}

void qmap_mask_above(uint8_t *mask, const double *img, size_t npix,
		     double thr)
{
	for (size_t i = 0; i < npix; i++)
		if (!(img[i] <= thr))
			mask[i] = 0;
}

void qmap_mask_dead(uint8_t *mask, const double *total, size_t npix)
{
	for (size_t i = 0; i < npix; i++)
		if (total[i] == 0)
			mask[i] = 0;
}

void qmap_mask_rect(uint8_t *mask, size_t rows, size_t cols, long r0,
		    long r1, long c0, long c1, uint8_t value)
{
	if (r0 < 0) r0 = 0;
	if (c0 < 0) c0 = 0;
	if (r1 >= (long)rows) r1 = (long)rows - 1;
	if (c1 >= (long)cols) c1 = (long)cols - 1;
	for (long r = r0; r <= r1; r++)
		for (long c = c0; c <= c1; c++)
			mask[(size_t)r * cols + (size_t)c] = value;
}

/* even-odd crossing test of the pixel centre against each edge */
static int qmap_inside(const double *xy, size_t n, double x, double y)
{
	int in = 0;
	for (size_t i = 0, j = n - 1; i < n; j = i++) {
		double xi = xy[2 * i], yi = xy[2 * i + 1];
		double xj = xy[2 * j], yj = xy[2 * j + 1];
		if ((yi > y) != (yj > y) &&
		    x < (xj - xi) * (y - yi) / (yj - yi) + xi)
			in = !in;
	}
	return in;
}

int qmap_mask_polygon(uint8_t *mask, size_t rows, size_t cols,
		      const double *xy, size_t n, uint8_t value, char *err)
{
	if (n < 3)
		return err_set(err, "qmap: a polygon needs >= 3 vertices "
			       "(got %zu)", n);
	for (size_t i = 0; i < 2 * n; i++)
		if (!isfinite(xy[i]))
			return err_set(err, "qmap: polygon vertex %zu is not "
				       "finite", i / 2 + 1);
	for (size_t r = 0; r < rows; r++)
		for (size_t c = 0; c < cols; c++)
			if (qmap_inside(xy, n, (double)c, (double)r))
				mask[r * cols + c] = value;
	return 0;
}
