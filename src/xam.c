/*
** xam.c - Beer-Lambert conversion of XAM raster scans (see xam.h).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "intr.h"
#include "num.h"
#include "xam.h"

/* the counting error of A: I, I0 and D Poisson, D entering both the
** numerator and the denominator, so its two terms partly cancel */
static double xam_var_A(double I, double I0, double D)
{
	double a = 1.0 / (I - D), b = 1.0 / (I0 - D);
	return I * a * a + I0 * b * b + D * (a - b) * (a - b);
}

static int xam_check_point(size_t i, double I, double I0, double D,
			   int has_dark, char *err)
{
	if (!isfinite(I) || I < 0)
		return err_set(err, "row %zu: column counts = %g must be a "
			       "non-negative number", i + 1, I);
	if (!isfinite(I0) || I0 <= 0)
		return err_set(err, "row %zu: column monitor = %g must be "
			       "positive", i + 1, I0);
	if (has_dark && (!isfinite(D) || D < 0))
		return err_set(err, "row %zu: column dark = %g must be a "
			       "non-negative number", i + 1, D);
	if (I - D <= 0)
		return err_set(err, "row %zu: column counts = %g%s leaves no "
			       "transmitted signal (zero transmission)", i + 1, I,
			       has_dark ? " minus dark" : "");
	if (I0 - D <= 0)
		return err_set(err, "row %zu: column monitor = %g is not above "
			       "the dark counts %g", i + 1, I0, D);
	return 0;
}

int xam_absorbance(const double *counts, const double *monitor,
		   const double *dark, size_t n, double *A, double *sA,
		   char *err)
{
	for (size_t i = 0; i < n; i++) {
		double D = dark ? dark[i] : 0.0;
		if (xam_check_point(i, counts[i], monitor[i], D, dark != NULL, err))
			return -1;
		A[i] = -log((counts[i] - D) / (monitor[i] - D));
		sA[i] = sqrt(xam_var_A(counts[i], monitor[i], D));
	}
	return 0;
}

double xam_contrast(double sigma_salt, double sigma_solvent, double V_salt,
		    double V_solvent)
{
	return sigma_salt - V_salt / V_solvent * sigma_solvent;
}

static int xam_sign(double v) { return (v > 0) - (v < 0); }

int xam_group_scans(const double *x, size_t n, size_t *scan,
		    size_t *nscans, char *err)
{
	size_t k = 0;
	int dir = 0;	/* direction of the current scan, 0 until its 2nd point */
	if (n == 0)
		return err_set(err, "no points");
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(x[i]))
			return err_set(err, "row %zu: column x_m is not a finite number", i + 1);
		if (i > 0) {
			int s = xam_sign(x[i] - x[i - 1]);
			if (s == 0 || (dir != 0 && s != dir)) {
				k++;
				dir = 0;
			} else {
				dir = s;
			}
		}
		scan[i] = k;
	}
	*nscans = k + 1;
	return 0;
}

int xam_interp(const double *xs, const double *v, const double *sv,
	       size_t m, double x, double *out, double *sout)
{
	int up;
	size_t lo, hi;
	if (m == 0)
		return -1;
	if (m == 1) {
		if (x != xs[0])
			return -1;
		*out = v[0];
		if (sout)
			*sout = sv ? sv[0] : 0;
		return 0;
	}
	up = xs[m - 1] > xs[0];
	if (up ? (x < xs[0] || x > xs[m - 1]) : (x > xs[0] || x < xs[m - 1]))
		return -1;
	lo = num_bracket(xs, m, x);
	hi = lo + 1;
	{
		double w = (x - xs[lo]) / (xs[hi] - xs[lo]);
		*out = (1 - w) * v[lo] + w * v[hi];
		if (sout)
			*sout = sv ? sqrt((1 - w) * (1 - w) * sv[lo] * sv[lo] +
					  w * w * sv[hi] * sv[hi]) : 0;
	}
	return 0;
}

static int xam_check_opts(const xam_opts *o, char *err)
{
	if (!isfinite(o->c0) || o->c0 < 0)
		return err_set(err, "c0 = %g must be a non-negative concentration", o->c0);
	if (!isfinite(o->thickness) || o->thickness <= 0)
		return err_set(err, "thickness = %g m must be positive", o->thickness);
	if (!isfinite(o->contrast) || o->contrast == 0)
		return err_set(err, "contrast = %g m^2/mol must be finite and non-zero",
			       o->contrast);
	return 0;
}

void xam_result_free(xam_result *r)
{
	free(r->scan);
	free(r->A);
	free(r->sA);
	free(r->c);
	free(r->sc);
	free(r->first);
	free(r->count);
	free(r->t_mean);
	memset(r, 0, sizeof *r);
}

static int xam_result_alloc(xam_result *r, size_t n, char *err)
{
	memset(r, 0, sizeof *r);
	r->n = n;
	if (!(r->scan = err_calloc(n, sizeof *r->scan, err)) ||
	    !(r->A = err_calloc(n, sizeof(double), err)) ||
	    !(r->sA = err_calloc(n, sizeof(double), err)) ||
	    !(r->c = err_calloc(n, sizeof(double), err)) ||
	    !(r->sc = err_calloc(n, sizeof(double), err)))
		return -1;
	return 0;
}

/* per-scan bookkeeping: points of a scan are contiguous by construction */
static int xam_scans_index(xam_result *r, const double *t, char *err)
{
	size_t k = r->nscans;
	if (!(r->first = err_calloc(k, sizeof *r->first, err)) ||
	    !(r->count = err_calloc(k, sizeof *r->count, err)) ||
	    !(r->t_mean = err_calloc(k, sizeof(double), err)))
		return -1;
	for (size_t i = 0; i < r->n; i++) {
		size_t s = r->scan[i];
		if (r->count[s]++ == 0)
			r->first[s] = i;
		r->t_mean[s] += t[i];
	}
	for (size_t s = 0; s < k; s++)
		r->t_mean[s] /= (double)r->count[s];
	return 0;
}

/* c of one point against the reference profile. A position a hair
** outside the reference (encoder jitter, 1 % of a step) takes the end
** value; farther out is an error, as the reference says nothing there. */
static int xam_point(const xam_opts *o, const xam_result *r, size_t i,
		     const double *x, char *err)
{
	size_t f = r->first[o->reference], m = r->count[o->reference];
	const double *xr = x + f;
	double lo = fmin(xr[0], xr[m - 1]), hi = fmax(xr[0], xr[m - 1]);
	double tol = 0.01 * (hi - lo) / (double)(m - 1), xi = x[i], Ar, sAr;
	if (xi < lo && xi >= lo - tol)
		xi = lo;
	if (xi > hi && xi <= hi + tol)
		xi = hi;
	if (xam_interp(xr, r->A + f, r->sA + f, m, xi, &Ar, &sAr))
		return err_set(err, "row %zu (scan %zu): x_m = %g is outside the "
			       "reference scan %zu, which covers %g to %g m", i + 1,
			       r->scan[i] + 1, x[i], o->reference + 1, lo, hi);
	r->c[i] = o->c0 + (r->A[i] - Ar) / (o->thickness * o->contrast);
	r->sc[i] = sqrt(r->sA[i] * r->sA[i] + sAr * sAr) /
		   fabs(o->thickness * o->contrast);
	return 0;
}

static int xam_check_times(const double *t, size_t n, char *err)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(t[i]))
			return err_set(err, "row %zu: column time_s is not a finite number", i + 1);
	return 0;
}

int xam_convert(const xam_opts *o, const double *t, const double *x,
		const double *counts, const double *monitor,
		const double *dark, size_t n, xam_result *r, char *err)
{
	if (xam_result_alloc(r, n, err) || xam_check_opts(o, err) ||
	    xam_check_times(t, n, err) ||
	    xam_absorbance(counts, monitor, dark, n, r->A, r->sA, err) ||
	    xam_group_scans(x, n, r->scan, &r->nscans, err) ||
	    xam_scans_index(r, t, err))
		return -1;
	if (o->reference >= r->nscans)
		return err_set(err, "reference scan %zu does not exist (the data "
			       "hold %zu scans)", o->reference + 1, r->nscans);
	if (r->count[o->reference] < 2)
		return err_set(err, "reference scan %zu has only one point",
			       o->reference + 1);
	for (size_t i = 0; i < n; i++) {
		if ((i & 4095) == 0 && intr_pending())
			return err_set(err, "interrupted");
		if (r->scan[i] == o->reference) {
			r->c[i] = o->c0;
			r->sc[i] = 0;
		} else if (xam_point(o, r, i, x, err)) {
			return -1;
		}
	}
	return 0;
}

int xam_calibrate(const double *xr, const double *Ar, const double *sAr,
		  size_t nr, const double *x1, const double *A1,
		  const double *sA1, size_t n1, double delta_c,
		  double thickness, double lo, double hi, double *contrast,
		  double *sd, char *err)
{
	double sw = 0, swd = 0;
	size_t used = 0;
	if (!isfinite(delta_c) || delta_c == 0)
		return err_set(err, "delta_c = %g must be non-zero", delta_c);
	if (!isfinite(thickness) || thickness <= 0)
		return err_set(err, "thickness = %g m must be positive", thickness);
	for (size_t i = 0; i < n1; i++) {
		double a, sa, w;
		if (!(x1[i] >= lo && x1[i] <= hi))
			continue;
		if (xam_interp(xr, Ar, sAr, nr, x1[i], &a, &sa))
			return err_set(err, "point %zu of the calibration scan "
				       "(x = %g m) is outside the reference scan", i + 1, x1[i]);
		w = 1.0 / (sA1[i] * sA1[i] + sa * sa);
		if (!isfinite(w))
			return err_set(err, "point %zu of the calibration scan has "
				       "no counting error", i + 1);
		sw += w;
		swd += w * (A1[i] - a);
		used++;
	}
	if (used == 0)
		return err_set(err, "no calibration point lies in [%g, %g] m", lo, hi);
	*contrast = swd / sw / (thickness * delta_c);
	*sd = 1.0 / sqrt(sw) / fabs(thickness * delta_c);
	return 0;
}

static double xam_median3(double a, double b, double c)
{
	return fmax(fmin(a, b), fmin(fmax(a, b), c));
}

/* level crossing between points j (below) and k (above) */
static double xam_cross(const double *x, const double *s, size_t j, size_t k,
			double th)
{
	return x[j] + (th - s[j]) / (s[k] - s[j]) * (x[k] - x[j]);
}

/* longest run of s > th; returns its length */
static size_t xam_longest_run(const double *s, size_t n, double th,
			      size_t *start)
{
	size_t best = 0, len = 0;
	for (size_t i = 0; i < n; i++) {
		len = s[i] > th ? len + 1 : 0;
		if (len > best) {
			best = len;
			*start = i + 1 - len;
		}
	}
	return best;
}

static int xam_edges_smoothed(const double *x, const double *s, size_t n,
			      double *left, double *right, char *err)
{
	double lo = s[0], hi = s[0], th, e1, e2;
	size_t a = 0, len;
	for (size_t i = 1; i < n; i++) {
		lo = fmin(lo, s[i]);
		hi = fmax(hi, s[i]);
	}
	if (!(hi > lo))
		return err_set(err, "the absorbance profile is flat: no electrode "
			       "in the scan");
	th = 0.5 * (lo + hi);
	len = xam_longest_run(s, n, th, &a);
	if (a == 0)
		return err_set(err, "the scan starts inside the electrolyte (x = %g m): "
			       "no electrode edge on that side", x[0]);
	if (a + len == n)
		return err_set(err, "the scan ends inside the electrolyte (x = %g m): "
			       "no electrode edge on that side", x[n - 1]);
	e1 = xam_cross(x, s, a - 1, a, th);
	e2 = xam_cross(x, s, a + len, a + len - 1, th);
	*left = fmin(e1, e2);
	*right = fmax(e1, e2);
	return 0;
}

int xam_edges(const double *x, const double *A, size_t n, double *left,
	      double *right, char *err)
{
	double *s;
	int rc;
	if (n < 5)
		return err_set(err, "need at least 5 points to find edges, got %zu", n);
	for (size_t i = 0; i < n; i++)
		if (!isfinite(x[i]) || !isfinite(A[i]))
			return err_set(err, "point %zu is not a finite number", i + 1);
	for (size_t i = 1; i < n; i++)
		if (xam_sign(x[i] - x[i - 1]) != xam_sign(x[1] - x[0]) || x[i] == x[i - 1])
			return err_set(err, "positions are not monotonic at point %zu", i + 1);
	if (!(s = err_malloc(n, sizeof *s, err)))
		return -1;
	/* a 3-point median removes single outliers (a zinger, a dead
	** reading) that would otherwise set the extreme levels */
	s[0] = A[0];
	s[n - 1] = A[n - 1];
	for (size_t i = 1; i + 1 < n; i++)
		s[i] = xam_median3(A[i - 1], A[i], A[i + 1]);
	rc = xam_edges_smoothed(x, s, n, left, right, err);
	free(s);
	return rc;
}

double xam_position(double x, double left, double right, xam_origin o)
{
	switch (o) {
	case XAM_FROM_LEFT:
		return x - left;
	case XAM_FROM_RIGHT:
		return right - x;
	default:
		return x - 0.5 * (left + right);
	}
}

static int xam_cmp_x(const void *a, const void *b)
{
	const double *p = *(const double *const *)a, *q = *(const double *const *)b;
	return (*p > *q) - (*p < *q);
}

/* trapezoid weights of sorted inside points, ends held to the edges */
static void xam_balance_sum(const double *const *px, const double *x,
			    const double *c, const double *sc, size_t m,
			    double left, double right, xam_balance *b)
{
	double var = 0;
	b->total = 0;
	for (size_t k = 0; k < m; k++) {
		size_t i = (size_t)(px[k] - x);
		double xl = k == 0 ? left : 0.5 * (*px[k - 1] + *px[k]);
		double xr = k + 1 == m ? right : 0.5 * (*px[k] + *px[k + 1]);
		double w = xr - xl;
		b->total += w * c[i];
		var += w * w * sc[i] * sc[i];
	}
	b->sd_total = sqrt(var);
}

int xam_salt_balance(const double *x, const double *c, const double *sc,
		     size_t n, double left, double right, double c0,
		     xam_balance *b, char *err)
{
	const double **px;
	size_t m = 0;
	memset(b, 0, sizeof *b);
	if (!(isfinite(left) && isfinite(right) && left < right))
		return err_set(err, "edges %g, %g m do not enclose a cell", left, right);
	if (!(px = err_calloc(n, sizeof *px, err)))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!(x[i] > left && x[i] < right))
			continue;
		if (!isfinite(c[i]) || !isfinite(sc[i])) {
			free(px);
			return err_set(err, "point %zu: concentration is not a finite number", i + 1);
		}
		px[m++] = x + i;
	}
	if (m < 2) {
		free(px);
		return err_set(err, "fewer than 2 points inside the cell (%g to %g m)",
			       left, right);
	}
	qsort(px, m, sizeof *px, xam_cmp_x);
	xam_balance_sum(px, x, c, sc, m, left, right, b);
	free(px);
	b->used = m;
	b->expected = c0 * (right - left);
	b->excess = b->total - b->expected;
	return 0;
}

/* index of the k-th point of scan s in ascending x */
static size_t xam_sorted_index(const xam_result *r, const double *x,
			       size_t s, size_t k)
{
	size_t f = r->first[s], m = r->count[s];
	return (m > 1 && x[f + m - 1] < x[f]) ? f + m - 1 - k : f + k;
}

static int xam_grid_alloc(size_t cells, double **T, double **X, double **C,
			  double **SC, char *err)
{
	*T = err_malloc(cells, sizeof(double), err);
	*X = *T ? err_malloc(cells, sizeof(double), err) : NULL;
	*C = *X ? err_malloc(cells, sizeof(double), err) : NULL;
	*SC = *C ? err_malloc(cells, sizeof(double), err) : NULL;
	if (*SC)
		return 0;
	free(*T);
	free(*X);
	free(*C);
	*T = *X = *C = NULL;
	return -1;
}

static int xam_grid_fail(double **T, double **X, double **C, double **SC)
{
	free(*T);
	free(*X);
	free(*C);
	free(*SC);
	*T = *X = *C = *SC = NULL;
	return -1;
}

int xam_grid(const xam_result *r, const double *t, const double *x,
	     double tol, size_t *npos, double **T, double **X, double **C,
	     double **SC, char *err)
{
	size_t m, k0, ks;
	if (r->nscans == 0 || r->count == NULL || r->count[0] == 0)
		return err_set(err, "no scans");
	m = r->count[0];
	if (xam_grid_alloc(r->nscans * m, T, X, C, SC, err))
		return -1;
	for (size_t s = 0; s < r->nscans; s++) {
		if (r->count[s] != m) {
			err_set(err, "scan %zu has %zu points, scan 1 has %zu: "
				"not a common grid", s + 1, r->count[s], m);
			return xam_grid_fail(T, X, C, SC);
		}
		for (size_t k = 0; k < m; k++) {
			k0 = xam_sorted_index(r, x, 0, k);
			ks = xam_sorted_index(r, x, s, k);
			if (fabs(x[ks] - x[k0]) > tol) {
				err_set(err, "scan %zu point at x = %g m differs from "
					"scan 1 (x = %g m) by more than %g m", s + 1,
					x[ks], x[k0], tol);
				return xam_grid_fail(T, X, C, SC);
			}
			(*T)[s * m + k] = t[ks];
			(*X)[s * m + k] = x[ks];
			(*C)[s * m + k] = r->c[ks];
			(*SC)[s * m + k] = r->sc[ks];
		}
	}
	*npos = m;
	return 0;
}

/* the scans j, j+1 whose times at position k bracket tq */
static int xam_bracket(const double *T, size_t nscans, size_t npos, size_t k,
		       double tq, size_t *j, char *err)
{
	for (size_t s = 0; s + 1 < nscans; s++) {
		double a = T[s * npos + k], b = T[(s + 1) * npos + k];
		if (!(b > a))
			return err_set(err, "times at position %zu do not increase "
				       "from scan %zu to %zu", k + 1, s + 1, s + 2);
		if (tq >= a && tq <= b) {
			*j = s;
			return 0;
		}
	}
	return err_set(err, "time %g s is outside the scans at position %zu "
		       "(%g to %g s)", tq, k + 1, T[k], T[(nscans - 1) * npos + k]);
}

int xam_interp_time(const double *T, const double *C, const double *SC,
		    size_t nscans, size_t npos, double tq, double *c,
		    double *sc, char *err)
{
	if (nscans < 2)
		return err_set(err, "need at least 2 scans to interpolate in time");
	if (!isfinite(tq))
		return err_set(err, "time is not a finite number");
	for (size_t k = 0; k < npos; k++) {
		size_t j = 0, a, b;
		double w;
		if (xam_bracket(T, nscans, npos, k, tq, &j, err))
			return -1;
		a = j * npos + k;
		b = a + npos;
		w = (tq - T[a]) / (T[b] - T[a]);
		c[k] = (1 - w) * C[a] + w * C[b];
		sc[k] = sqrt((1 - w) * (1 - w) * SC[a] * SC[a] + w * w * SC[b] * SC[b]);
	}
	return 0;
}

double xam_default_tol(const xam_result *r, const double *x)
{
	double step = INFINITY;
	size_t f = r->first[0];
	for (size_t i = f + 1; i < f + r->count[0]; i++)
		step = fmin(step, fabs(x[i] - x[i - 1]));
	return isfinite(step) ? 0.25 * step : 0;
}
