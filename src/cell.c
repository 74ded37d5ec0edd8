/*
** cell.c - the continuum model of a polarized Li | polymer electrolyte | Li
** cell. See cell.h for the equations and man/ionflow-lua.7 (CELL) for the
** derivation.
*/
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_interp.h>

#include "cell.h"
#include "intr.h"
#include "num.h"

/* TR-BDF2 (Hosea and Shampine 1996): gamma = 2 - sqrt 2, d = gamma / 2,
** w = sqrt 2 / 4; both implicit stages have the diagonal coefficient d */
#define CELL_GAMMA (2.0 - M_SQRT2)
#define CELL_D (1.0 - M_SQRT1_2)
#define CELL_W (M_SQRT2 / 4.0)

/* ---------------------------------------------------------------- tables */

/* Steffen's node slopes from GSL (which needs at least 3 points; two
** points are a straight line) */
static int cell_table_slopes(cell_table *t)
{
	size_t k, n = t->n;
	gsl_interp *in;
	gsl_interp_accel *acc;
	int rc = 0;
	if (n == 2) {
		t->d[0] = t->d[1] = (t->v[1] - t->v[0]) / (t->c[1] - t->c[0]);
		return 0;
	}
	in = gsl_interp_alloc(gsl_interp_steffen, n);
	acc = gsl_interp_accel_alloc();
	if (in == NULL || acc == NULL ||
	    gsl_interp_init(in, t->c, t->v, n) != GSL_SUCCESS)
		rc = -1;
	for (k = 0; rc == 0 && k < n; k++)
		t->d[k] = gsl_interp_eval_deriv(in, t->c, t->v, t->c[k], acc);
	if (in)
		gsl_interp_free(in);
	if (acc)
		gsl_interp_accel_free(acc);
	return rc;
}

/* The cubic Hermite interpolant of each interval as a polynomial in
** s = (c - c_k) / h: 1/h, y_k, and the coefficients of s, s^2, s^3 (no
** division per evaluation) */
static void cell_table_poly(cell_table *t)
{
	size_t k;
	for (k = 0; k + 1 < t->n; k++) {
		double h = t->c[k + 1] - t->c[k], y0 = t->v[k], y1 = t->v[k + 1];
		double m0 = h * t->d[k], m1 = h * t->d[k + 1], *q = t->q + 5 * k;
		q[0] = 1 / h;
		q[1] = y0;
		q[2] = m0;
		q[3] = 3 * (y1 - y0) - 2 * m0 - m1;
		q[4] = 2 * (y0 - y1) + m0 + m1;
	}
}

int cell_table_init(cell_table *t, const char *name, const double *c,
		    const double *v, size_t n, char *err)
{
	size_t k;
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "%s", name ? name : "table");
	if (n < 2)
		return err_set(err, "%s table: needs at least 2 rows, got %zu",
			       t->name, n);
	for (k = 0; k < n; k++) {
		if (!isfinite(c[k]) || !isfinite(v[k]))
			return err_set(err, "%s table: row %zu is not a finite "
				       "number (a gap?)", t->name, k + 1);
		if (k > 0 && !(c[k] > c[k - 1]))
			return err_set(err, "%s table: concentrations must "
				       "increase strictly (row %zu)", t->name,
				       k + 1);
	}
	t->c = err_malloc(n, sizeof(double), err);
	t->v = err_malloc(n, sizeof(double), err);
	t->d = err_malloc(n, sizeof(double), err);
	t->q = err_malloc(5 * (n - 1), sizeof(double), err);
	if (t->c == NULL || t->v == NULL || t->d == NULL || t->q == NULL) {
		cell_table_free(t);
		return -1;
	}
	memcpy(t->c, c, n * sizeof(double));
	memcpy(t->v, v, n * sizeof(double));
	t->n = n;
	if (cell_table_slopes(t) != 0) {
		cell_table_free(t);
		return err_set(err, "%s table: cannot set up the interpolation",
			       name);
	}
	cell_table_poly(t);
	return 0;
}

void cell_table_free(cell_table *t)
{
	free(t->c);
	free(t->v);
	free(t->d);
	free(t->q);
	t->c = t->v = t->d = t->q = NULL;
	t->n = 0;
}

/* outside the table is an error, not an extrapolation: a transport model
** silently extended past its data would be presented as a result */
static int cell_table_inside(cell_table *t, double c)
{
	if (c >= t->c[0] && c <= t->c[t->n - 1])
		return 1;
	snprintf(t->msg, sizeof t->msg, "c = %.6g mol/L is outside the %s "
		 "table (%.6g to %.6g mol/L)", c / 1000, t->name,
		 t->c[0] / 1000, t->c[t->n - 1] / 1000);
	return 0;
}

/* the interval k with c[k] <= c <= c[k+1] (c inside the table): the last
** one or a neighbour (successive calls sweep the grid), else bisection */
static size_t cell_table_find(cell_table *t, double c)
{
	size_t k = t->last, lo = 0, hi = t->n - 1;
	if (c >= t->c[k] && c <= t->c[k + 1])
		return k;
	if (k + 2 < t->n && c >= t->c[k + 1] && c <= t->c[k + 2])
		return t->last = k + 1;
	if (k > 0 && c >= t->c[k - 1] && c <= t->c[k])
		return t->last = k - 1;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (t->c[mid] <= c)
			lo = mid;
		else
			hi = mid;
	}
	return t->last = lo;
}

/* the cubic of interval k (value, and slope into *d) at c */
static inline double cell_table_cubic(const cell_table *t, size_t k, double c,
				      double *d)
{
	const double *q = t->q + 5 * k;
	double s = (c - t->c[k]) * q[0];
	*d = (q[2] + s * (2 * q[3] + 3 * q[4] * s)) * q[0];
	return q[1] + s * (q[2] + s * (q[3] + s * q[4]));
}

/* the cubic Hermite interpolant (value, and slope into *d) at c inside */
static double cell_table_hermite(cell_table *t, double c, double *d)
{
	return cell_table_cubic(t, cell_table_find(t, c), c, d);
}

double cell_table_fdf(void *ud, double c, double *d)
{
	cell_table *t = ud;
	int out = c < t->c[0] || c > t->c[t->n - 1];
	/* a straight line (a law a + b c as two rows): no search */
	if (t->n == 2 && isfinite(c) && (!out || t->clamp == CELL_EXTRAP_LINEAR)) {
		*d = t->d[0];
		return t->v[0] + t->d[0] * (c - t->c[0]);
	}
	if (out && isfinite(c) && t->clamp == CELL_EXTRAP_CONSTANT) {
		*d = 0;
		return c < t->c[0] ? t->v[0] : t->v[t->n - 1];
	}
	if (out && isfinite(c) && t->clamp == CELL_EXTRAP_LINEAR) {
		size_t k = c < t->c[0] ? 0 : t->n - 1;
		*d = t->d[k];
		return t->v[k] + t->d[k] * (c - t->c[k]);
	}
	if (!cell_table_inside(t, c)) {
		*d = NAN;
		return NAN;
	}
	return cell_table_hermite(t, c, d);
}

double cell_table_eval(void *ud, double c)
{
	double d;
	return cell_table_fdf(ud, c, &d);
}

double cell_table_deriv(void *ud, double c)
{
	double d;
	cell_table_fdf(ud, c, &d);
	return d;
}

const char *cell_table_why(void *ud)
{
	return ((cell_table *)ud)->msg;
}

cell_prop cell_table_prop(cell_table *t)
{
	cell_prop p = {cell_table_eval, cell_table_deriv, t, cell_table_why,
		       0.0, cell_table_fdf, NULL};
	return p;
}

cell_prop cell_const_prop(double value)
{
	cell_prop p = {NULL, NULL, NULL, NULL, value, NULL, NULL};
	return p;
}

double cell_prop_value(const cell_prop *pr, const char *name, double c,
		       char *err)
{
	double v = pr->f ? pr->f(pr->ud, c) : pr->value;
	if (!isfinite(v)) {
		const char *why = pr->why ? pr->why(pr->ud) : NULL;
		err_set(err, "%s(c = %.6g mol/L) is not a finite number%s%s",
			name, c / 1000, why && *why ? ": " : "",
			why ? why : "");
	}
	return v;
}

/* ---------------------------------------------------------- parameters */

void cell_params_init(cell_params *p)
{
	memset(p, 0, sizeof *p);
	p->T = 363.15;
	p->tp = cell_const_prop(0.0);
	p->Tf = cell_const_prop(1.0);
	p->V_salt = 224e-30 * CELL_NA;
	p->V_EO = 66.4e-30 * CELL_NA;
	p->M_Li = 6.941e-3;
	p->rho_Li = 534.0;
	p->N = 200;
	p->refine = 1.0;
	p->rtol = 1e-6;
	p->max_steps = 1000000;
}

/* Faces x = L (xi - a sin(2 pi xi) / (2 pi)), xi = k / N: a smooth map, so
** the scheme stays second order, with cells (1 - a) L / N at the
** electrodes and (1 + a) L / N in the middle. */
int cell_grid(size_t N, double L, double refine, double *xf, char *err)
{
	size_t k;
	double a;
	if (N < 3)
		return err_set(err, "cell: N = %zu finite volumes, need >= 3", N);
	if (!(L > 0) || !isfinite(L))
		return err_set(err, "cell: L = %g m must be positive", L);
	if (!(refine >= 1) || !isfinite(refine))
		return err_set(err, "cell: refine = %g must be >= 1", refine);
	a = (refine - 1) / (refine + 1);
	for (k = 0; k <= N; k++) {
		double xi = (double)k / (double)N;
		xf[k] = L * (xi - a * sin(2 * M_PI * xi) / (2 * M_PI));
	}
	xf[0] = 0;
	xf[N] = L;
	return 0;
}

/* ----------------------------------------------------------- workspace */

typedef struct cell_ws {
	const cell_params *p;
	size_t N;
	double twoRT_F, Vs, i_scale, atol, c_min;
	double *xf, *xc, *dx, *dl, *wt;	/* grid: N+1, N, N, N-1, N-1 */
	double *idx, *idl;		/* 1 / dx, 1 / dl */
	double *y, *z, *fn, *fg, *f1, *b, *zg, *e, *ew;
	double *cf, *Dv, *Dd, *Gv, *Gd, *Hv, *Hd, *phi;
	double *kv, *kd;
	double *yo, *fo, *yi;		/* the last step's start; dense output */
	double bD[2], bDd[2], bG[2], bGd[2], bH[2], bHd[2];
	double *la, *da, *ua, *ec, *pr, *cp, *u, *v, *r;
	double *im;			/* reciprocal pivots (cell_factor) */
	double *Pf, *Qf, *Ef;		/* d phi / d(z_j, z_j+1, i), faces */
	double *iz;			/* 1 / z (cell_volt_bulk) */
	double *ch;			/* c + h of a batch's slopes */
	double den;			/* the bordered system's last pivot */
	double rsum, conc;		/* cell_volt_bulk's sums */
	double s;			/* d V / d i (or 1 at constant I) */
	size_t seg;			/* current protocol segment */
	size_t newton;			/* Newton iterations */
	int t0;				/* the uniform state at t = 0+ */
	double t, i, h, D0;		/* time, current, next step, D(c0) */
	double t_old, i_old;		/* the last step's start */
	size_t stop;			/* next breakpoint p->tstop[stop] */
	double eta;			/* Newton's last contraction estimate */
	double Rt;			/* R_int at the time being solved */
	int fails;			/* consecutive rejected steps */
	char msg[ERR_LEN];		/* the last property failure */
	double *mem;
} cell_ws;

static void cell_ws_free(cell_ws *w)
{
	free(w->mem);
	w->mem = NULL;
}

static int cell_ws_alloc(cell_ws *w, const cell_params *p, char *err)
{
	size_t N = p->N, off = 0;
	double **vec[] = {&w->xc, &w->dx, &w->y, &w->z, &w->fn, &w->fg,
			  &w->f1, &w->b, &w->zg, &w->e, &w->ew, &w->kv, &w->kd,
			  &w->la, &w->da, &w->ua, &w->ec, &w->pr, &w->cp,
			  &w->u, &w->v, &w->dl, &w->wt, &w->cf, &w->Dv,
			  &w->Dd, &w->Gv, &w->Gd, &w->Hv, &w->Hd, &w->yo,
			  &w->fo, &w->yi, &w->idx, &w->idl, &w->im, &w->Pf,
			  &w->Qf, &w->Ef, &w->iz, &w->ch};
	size_t nvec = sizeof vec / sizeof vec[0], k;
	memset(w, 0, sizeof *w);
	w->p = p;
	w->N = N;
	/* every vector gets N + 1 slots; xf, phi and r are N + 1 long */
	w->mem = err_calloc((nvec + 3) * (N + 1), sizeof(double), err);
	if (w->mem == NULL)
		return -1;
	for (k = 0; k < nvec; k++, off += N + 1)
		*vec[k] = w->mem + off;
	w->xf = w->mem + off;
	w->phi = w->mem + off + (N + 1);
	w->r = w->mem + off + 2 * (N + 1);
	return 0;
}

static int cell_ws_grid(cell_ws *w, char *err)
{
	size_t j, N = w->N;
	if (cell_grid(N, w->p->L, w->p->refine, w->xf, err) != 0)
		return -1;
	for (j = 0; j < N; j++) {
		w->xc[j] = 0.5 * (w->xf[j] + w->xf[j + 1]);
		w->dx[j] = w->xf[j + 1] - w->xf[j];
		w->idx[j] = 1 / w->dx[j];
	}
	for (j = 0; j + 1 < N; j++) {
		w->dl[j] = w->xc[j + 1] - w->xc[j];
		w->idl[j] = 1 / w->dl[j];
		w->wt[j] = (w->xc[j + 1] - w->xf[j + 1]) / w->dl[j];
	}
	return 0;
}

/* ---------------------------------------------------------- properties */

/* the forward difference's step at c (cell_prop_at's) */
static double cell_fd_step(const cell_ws *w, double c)
{
	return 1e-6 * (fabs(c) + 1e-3 * w->p->c0) + 1e-12;
}

/* Value (and derivative when dv != NULL) of a property at c. A failure
** leaves its reason in w->msg and returns -1; the caller decides whether
** a smaller step may avoid it. positive: the value must be > 0. */
static int cell_prop_at(cell_ws *w, const cell_prop *pr, const char *name,
			double c, int positive, double *v, double *dv)
{
	double f, d = 0;
	if (pr->f == NULL) {
		f = pr->value;
	} else if (dv && pr->fdf) {
		f = pr->fdf(pr->ud, c, &d);
	} else {
		f = pr->f(pr->ud, c);
	}
	if (pr->f != NULL && !pr->fdf && isfinite(f) && dv) {
		if (pr->df) {
			d = pr->df(pr->ud, c);
		} else {
			/* a forward difference: the slope only enters the
			** Newton matrix, so its O(h) error costs nothing but
			** saves a call (a Lua function's, often) */
			double h = cell_fd_step(w, c);
			d = (pr->f(pr->ud, c + h) - f) / h;
		}
	}
	if (!isfinite(f) || !isfinite(d)) {
		const char *why = pr->why ? pr->why(pr->ud) : NULL;
		snprintf(w->msg, sizeof w->msg, "%s(c = %.6g mol/L) is not a "
			 "finite number%s%s", name, c / 1000,
			 why && *why ? ": " : "", why ? why : "");
		return -1;
	}
	if (positive && !(f > 0)) {
		snprintf(w->msg, sizeof w->msg, "%s(c = %.6g mol/L) = %g is "
			 "not positive", name, c / 1000, f);
		return -1;
	}
	*v = f;
	if (dv)
		*dv = d;
	return 0;
}

/* The reason a property failed at c (value f, slope d) into w->msg. */
static void cell_prop_why(cell_ws *w, const cell_prop *pr, const char *name,
			  double c, double f, double d, int positive)
{
	if (!isfinite(f) || !isfinite(d)) {
		const char *why = pr->why ? pr->why(pr->ud) : NULL;
		snprintf(w->msg, sizeof w->msg, "%s(c = %.6g mol/L) is not a "
			 "finite number%s%s", name, c / 1000,
			 why && *why ? ": " : "", why ? why : "");
	} else if (positive && !(f > 0)) {
		snprintf(w->msg, sizeof w->msg, "%s(c = %.6g mol/L) = %g is "
			 "not positive", name, c / 1000, f);
	}
}

/* a table at n concentrations, the numbers of cell_table_fdf: inline the
** interpolant inside the rows, the constant continuation beyond them and
** a two-row law continued linearly; cell_table_fdf for the rest (errors
** outside the rows, NaN) */
static void cell_table_vec(cell_table *t, const double *c, size_t n,
			   double *v, double *d)
{
	double lo = t->c[0], hi = t->c[t->n - 1], dk;
	size_t j, k;
	if (t->n == 2 && t->clamp == CELL_EXTRAP_LINEAR) {
		/* a law a + b c everywhere (cell_table_fdf's straight line;
		** NaN stays NaN) */
		for (j = 0; j < n; j++)
			v[j] = t->v[0] + t->d[0] * (c[j] - t->c[0]);
		for (j = 0; d && j < n; j++)
			d[j] = t->d[0];
		return;
	}
	for (j = 0; j < n; j++) {
		double x = c[j];
		if (t->n > 2 && x >= lo && x <= hi) {
			k = t->last;	/* the hint, tested here (inline) */
			if (!(x >= t->c[k] && x <= t->c[k + 1]))
				k = cell_table_find(t, x);
			v[j] = cell_table_cubic(t, k, x, &dk);
		} else if (t->clamp == CELL_EXTRAP_CONSTANT && t->n > 2 &&
			   (x < lo || x > hi) && isfinite(x)) {
			/* beyond the rows, continued as a constant (a set's
			** D and t+0 in a depleted or saturated cell) */
			v[j] = x < lo ? t->v[0] : t->v[t->n - 1];
			dk = 0;
		} else {
			v[j] = cell_table_fdf(t, x, &dk);
		}
		if (d)
			d[j] = dk;
	}
}

/* A function's values at the n concentrations c through its batch call
** (pr->fv) into v, and slopes into dv unless NULL: the forward difference
** of cell_prop_at, the shifted concentrations in a second batch. The
** same numbers as node by node; 1 when a value is missing (the caller
** then goes node by node, for the first failing node's reason). */
static int cell_prop_batch(cell_ws *w, const cell_prop *pr, const double *c,
			   size_t n, double *v, double *dv)
{
	size_t j;
	if (pr->fv(pr->ud, c, n, v) != 0)
		return 1;
	if (dv == NULL)
		return 0;
	for (j = 0; j < n; j++)
		w->ch[j] = c[j] + cell_fd_step(w, c[j]);
	if (pr->fv(pr->ud, w->ch, n, dv) != 0)
		return 1;
	for (j = 0; j < n; j++)
		dv[j] = (dv[j] - v[j]) / cell_fd_step(w, c[j]);
	return 0;
}

/* The property at n concentrations c into v (slopes into dv unless NULL):
** a constant and a table without a call per node, a function with a batch
** call in two calls, other functions node by node (cell_prop_at). A
** failure leaves the reason at the first failing node in w->msg and
** returns -1. */
static int cell_prop_vec(cell_ws *w, const cell_prop *pr, const char *name,
			 const double *c, size_t n, int positive, double *v,
			 double *dv)
{
	size_t j;
	int bad = 0;
	if (pr->f == NULL) {
		for (j = 0; j < n; j++)
			v[j] = pr->value;
		if (dv)
			memset(dv, 0, n * sizeof(double));
	} else if (pr->fdf == cell_table_fdf) {
		cell_table_vec(pr->ud, c, n, v, dv);
	} else if (!pr->fv || pr->fdf || pr->df ||
		   cell_prop_batch(w, pr, c, n, v, dv) != 0) {
		for (j = 0; j < n; j++)
			if (cell_prop_at(w, pr, name, c[j], positive, &v[j],
					 dv ? &dv[j] : NULL) != 0)
				return -1;
		return 0;
	}
	/* x - x is 0 unless x is infinite or NaN: no branch per node */
	for (j = 0; j < n; j++)
		bad |= (v[j] - v[j] != 0) | (positive & !(v[j] > 0));
	for (j = 0; dv && j < n; j++)
		bad |= dv[j] - dv[j] != 0;
	if (!bad)
		return 0;
	for (j = 0; j < n; j++) {
		double d = dv ? dv[j] : 0;
		if (!isfinite(v[j]) || (positive && !(v[j] > 0)) ||
		    !isfinite(d)) {
			if (pr->f && pr->fdf)	/* a table's reason here */
				v[j] = pr->fdf(pr->ud, c[j], &d);
			cell_prop_why(w, pr, name, c[j], v[j], d, positive);
			return -1;
		}
	}
	return 0;
}

/* the arrays D, G = (1 - c V_salt) t-0 and H = t-0 Tf at some nodes, with
** their slopes (the faces, or the two electrode cells) */
typedef struct cell_gh {
	double *D, *Dd, *G, *Gd, *H, *Hd;
} cell_gh;

/* D, G and H at the n concentrations c into o (slopes when deriv; t+0 and
** Tf pass through G and H) */
static int cell_GH(cell_ws *w, const double *c, size_t n, int deriv,
		   const cell_gh *o)
{
	const cell_params *p = w->p;
	size_t j;
	for (j = 0; j < n; j++) {
		double vol = 1 - c[j] * w->Vs;
		if (!(c[j] > 0) || !(vol > 0)) {
			snprintf(w->msg, sizeof w->msg, "concentration %.6g "
				 "mol/L outside (0, 1/V_salt)%s", c[j] / 1000,
				 c[j] > 0 ? "" : ": salt depleted (current at "
				 "or above the limiting current?)");
			return -1;
		}
	}
	if (cell_prop_vec(w, &p->D, "D", c, n, 1, o->D,
			  deriv ? o->Dd : NULL) != 0 ||
	    cell_prop_vec(w, &p->tp, "t+0", c, n, 0, o->G,
			  deriv ? o->Gd : NULL) != 0 ||
	    cell_prop_vec(w, &p->Tf, "Tf", c, n, 1, o->H,
			  deriv ? o->Hd : NULL) != 0)
		return -1;
	for (j = 0; j < n; j++) {
		double tp = o->G[j], Tf = o->H[j], vol = 1 - c[j] * w->Vs;
		o->G[j] = vol * (1 - tp);
		o->H[j] = (1 - tp) * Tf;
		if (deriv) {
			double tpd = o->Gd[j], Tfd = o->Hd[j];
			o->Gd[j] = -w->Vs * (1 - tp) - vol * tpd;
			o->Hd[j] = -tpd * Tf + (1 - tp) * Tfd;
		}
	}
	return 0;
}

/* ---------------------------------------------------------- model terms */

/* The rows of I - dh df/dz (la, da, ua) and the column -dh df/di (ec)
** from the face properties at z: each face's flux derivatives first (Pf,
** Qf, Ef at the face's index + 1, zero at the electrodes, where the flux
** is), then each cell's row from its two faces. */
static void cell_jac(cell_ws *w, const double *z, double i, double dh)
{
	size_t j, N = w->N;
	double iF = i / CELL_F, *P = w->Pf, *Q = w->Qf, *E = w->Ef;
	P[0] = Q[0] = E[0] = P[N] = Q[N] = E[N] = 0;
	for (j = 0; j + 1 < N; j++) {
		double g = (z[j + 1] - z[j]) * w->idl[j], wt = w->wt[j];
		double dP = w->Dd[j] * g + w->Gd[j] * iF, a = w->Dv[j] * w->idl[j];
		P[j + 1] = dP * wt - a;		/* d phi / d z_j */
		Q[j + 1] = dP * (1 - wt) + a;	/* d phi / d z_j+1 */
		E[j + 1] = w->Gv[j] / CELL_F;	/* d phi / d i */
	}
	/* f_j = (phi_j+1 - phi_j) / dx_j */
	for (j = 0; j < N; j++) {
		double hj = dh * w->idx[j];
		w->la[j] = hj * P[j];
		w->da[j] = 1 - hj * (P[j + 1] - Q[j]);
		w->ua[j] = -hj * Q[j + 1];
		w->ec[j] = -hj * (E[j + 1] - E[j]);
	}
}

/* Fluxes phi (= -(1 - c V_salt) J, zero at both electrodes), rates f and,
** when jac, the rows of I - dh df/dz and the column -dh df/di. */
static int cell_eval(cell_ws *w, const double *z, double i, int jac,
		     double dh, double *f)
{
	size_t j, N = w->N;
	double *phi = w->phi, iF = i / CELL_F;
	cell_gh gh = {w->Dv, w->Dd, w->Gv, w->Gd, w->Hv, w->Hd};
	for (j = 0; j + 1 < N; j++)
		w->cf[j] = w->wt[j] * z[j] + (1 - w->wt[j]) * z[j + 1];
	if (cell_GH(w, w->cf, N - 1, jac, &gh) != 0)
		return -1;
	for (j = 0; j + 1 < N; j++) {
		double g = (z[j + 1] - z[j]) * w->idl[j];
		phi[j + 1] = w->Dv[j] * g + w->Gv[j] * iF;
	}
	phi[0] = phi[N] = 0;
	for (j = 0; j < N; j++)
		f[j] = (phi[j + 1] - phi[j]) * w->idx[j];
	if (jac)
		cell_jac(w, z, i, dh);
	return 0;
}

/* Cell-boundary concentration at x = 0 (end 0) or L (end 1) from the
** zero-flux condition D dc/dx = -G i / F over the half cell. */
static double cell_cbound(const cell_ws *w, const double *z, double i,
			  int end)
{
	size_t k = end ? w->N - 1 : 0;
	double s = 0.5 * w->dx[k] * w->bG[end] * i / (CELL_F * w->bD[end]);
	if (w->t0)
		return z[k];
	return end ? z[k] - s : z[k] + s;
}

/* Boundary-cell properties (needed by the concentration overpotential
** and the boundary values) and kappa in every cell; their slopes too when
** deriv (the Newton matrix's constraint row). */
static int cell_cellprops(cell_ws *w, const double *z, int deriv)
{
	size_t N = w->N;
	double cb[2] = {z[0], z[N - 1]};
	cell_gh gh = {w->bD, w->bDd, w->bG, w->bGd, w->bH, w->bHd};
	if (cell_GH(w, cb, 2, deriv, &gh) != 0)
		return -1;
	return cell_prop_vec(w, &w->p->kappa, "kappa", z, N, 1, w->kv,
			     deriv ? w->kd : NULL);
}

/* both electrode concentrations above c_min (else the reason in w->msg) */
static int cell_bounds_ok(cell_ws *w, const double *z, double i)
{
	int end;
	for (end = 0; end < 2; end++) {
		double cb = cell_cbound(w, z, i, end);
		if (!(cb > w->c_min)) {
			snprintf(w->msg, sizeof w->msg, "salt depleted at the "
				 "electrode x = %s (c = %.3g mol/L): the current "
				 "is at the limiting current (V or I too large)",
				 end ? "L" : "0", cb / 1000);
			return -1;
		}
	}
	return 0;
}

double cell_rint_at(const cell_params *p, double t, char *err)
{
	const cell_rint *r = &p->Rt;
	double R;
	if (r->fn) {
		R = r->fn(r->ud, t);
		if (!isfinite(R) || R < 0) {
			const char *why = r->why ? r->why(r->ud) : NULL;
			err_set(err, "R_int(t = %g s) = %g is not a finite number "
				">= 0%s%s", t, R, why && *why ? ": " : "",
				why ? why : "");
			return NAN;
		}
		return R;
	}
	R = p->R_int;
	if (r->R_growth != 0)
		R += r->R_growth * pow(t / r->t_growth, r->p_growth);
	return R;
}

/* the interfacial resistance at time t into w->Rt (else w->msg) */
static int cell_rint_set(cell_ws *w, double t)
{
	if (w->p->Rt.fn == NULL && w->p->Rt.R_growth == 0) {
		w->Rt = w->p->R_int;
		return 0;
	}
	w->Rt = cell_rint_at(w->p, t, w->msg);
	return isfinite(w->Rt) ? 0 : -1;
}

/* interfacial overpotential i R_int(t) + symmetric Butler-Volmer terms,
** and its derivative in i (R_int(t) set by cell_rint_set) */
static double cell_vint(const cell_ws *w, double i, double *dvdi)
{
	const cell_params *p = w->p;
	double v = i * w->Rt, d = w->Rt;
	double i0[2] = {p->i0_pos, p->i0_neg};
	int k;
	for (k = 0; k < 2; k++) {
		if (i0[k] > 0) {
			v += w->twoRT_F * asinh(i / (2 * i0[k]));
			d += w->twoRT_F / sqrt(4 * i0[k] * i0[k] + i * i);
		}
	}
	if (dvdi)
		*dvdi = d;
	return v;
}

/* The bulk of the cell voltage at state z: the resistance sum dx/kappa
** (into w->rsum) and the concentration overpotential of the faces between
** cell centres (w->conc), which do not depend on i; with pr != NULL also
** their dV/dz at current i into pr. Needs cell_eval (face values) and
** cell_cellprops done at z. */
static void cell_volt_bulk(cell_ws *w, const double *z, double i,
			   double *pr)
{
	size_t j, N = w->N;
	double rsum = 0, conc = 0, k2 = w->twoRT_F;
	double *lz = w->u, *iz = w->iz;	/* (u is free here) */
	for (j = 0; j < N; j++) {
		double ik = 1 / w->kv[j];
		rsum += w->dx[j] * ik;
		lz[j] = log(z[j]);
		if (pr) {
			iz[j] = 1 / z[j];
			pr[j] = -i * w->dx[j] * w->kd[j] * ik * ik;
		}
	}
	for (j = 0; j + 1 < N; j++) {
		double lr = lz[j] - lz[j + 1], wt = w->wt[j];
		conc += w->Hv[j] * lr;
		if (pr) {
			pr[j] += k2 * (w->Hd[j] * wt * lr + w->Hv[j] * iz[j]);
			pr[j + 1] += k2 * (w->Hd[j] * (1 - wt) * lr -
					   w->Hv[j] * iz[j + 1]);
		}
	}
	w->rsum = rsum;
	w->conc = conc;
}

/* The cell voltage's parts (ohmic bulk, interfacial, concentration
** overpotential) at current i from the bulk (cell_volt_bulk at z): the
** half cells next to the electrodes and the interfaces; dV/di into w->s,
** and with pr != NULL their dV/dz added to pr. */
static void cell_volt_ends(cell_ws *w, const double *z, double i,
			   double part[3], double *pr)
{
	size_t N = w->N;
	double conc = w->conc, dint, k2 = w->twoRT_F;
	int end;
	w->s = w->rsum;
	/* half cells next to the electrodes: the profile there is linear
	** with the slope of the zero-flux condition, so the exact integral
	** of dln c is ln(c_boundary / c_cell), sign sg = +1 at x = 0 and -1
	** at x = L (c_boundary = z + sg s, s = (dx/2) G i / (F D)) */
	for (end = 0; end < 2 && !w->t0; end++) {
		size_t k = end ? N - 1 : 0;
		double sg = end ? -1 : 1, c = z[k], h = 0.5 * w->dx[k] / CELL_F;
		double D = w->bD[end], G = w->bG[end], H = w->bH[end];
		double s = h * G * i / D, cb = c + sg * s, lr = log(cb / c);
		conc += sg * H * lr;
		if (pr) {
			double sz = h * i * (w->bGd[end] * D - G * w->bDd[end]) /
				(D * D);
			pr[k] += k2 * sg * (w->bHd[end] * lr + H * ((1 + sg * sz) /
				cb - 1 / c));
		}
		w->s += k2 * H * (h * G / D) / cb;
	}
	part[0] = i * w->rsum;
	part[1] = cell_vint(w, i, &dint);
	part[2] = k2 * conc;
	w->s += dint;
}

/* the cell voltage's parts at (z, i), dV/di into w->s and with pr != NULL
** dV/dz into pr (cell_volt_bulk and cell_volt_ends) */
static void cell_volt(cell_ws *w, const double *z, double i, double part[3],
		      double *pr)
{
	cell_volt_bulk(w, z, i, pr);
	cell_volt_ends(w, z, i, part, pr);
}

/* ---------------------------------------------------------- protocol */

/* what the current segment holds at time t */
static int cell_hold_at(cell_ws *w, double t, cell_hold *hold, double *val)
{
	const cell_segment *s = &w->p->seg[w->seg];
	*hold = s->hold;
	*val = s->fn ? s->fn(s->ud, t) : s->value;
	if (!isfinite(*val)) {
		const char *why = s->why ? s->why(s->ud) : NULL;
		snprintf(w->msg, sizeof w->msg, "the %s of protocol segment "
			 "%zu at t = %g s is not a finite number%s%s",
			 *hold == CELL_HOLD_V ? "voltage" : "current",
			 w->seg + 1, t, why && *why ? ": " : "",
			 why ? why : "");
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------- linear algebra */

/* Factor the tridiagonal system (la, da, ua) bordered by the column ec,
** the row pr and the corner s: a Thomas sweep (reciprocal pivots im,
** multipliers cp) applied to the border column (v) and the last pivot den.
** -1 when singular. The factors serve every right-hand side of the same
** matrix (the Newton step and the error estimate). */
static int cell_factor(cell_ws *w)
{
	size_t j, N = w->N;
	double *cp = w->cp, *v = w->v, *im = w->im, m, den = w->s;
	m = w->da[0];
	if (!(fabs(m) > 0) || !isfinite(m))
		return -1;
	im[0] = 1 / m;
	cp[0] = w->ua[0] * im[0];
	v[0] = w->ec[0] * im[0];
	for (j = 1; j < N; j++) {
		m = w->da[j] - w->la[j] * cp[j - 1];
		if (!(fabs(m) > 0) || !isfinite(m))
			return -1;
		im[j] = 1 / m;
		cp[j] = w->ua[j] * im[j];
		v[j] = (w->ec[j] - w->la[j] * v[j - 1]) * im[j];
	}
	den -= w->pr[N - 1] * v[N - 1];
	for (j = N - 1; j-- > 0;) {
		v[j] -= cp[j] * v[j + 1];
		den -= w->pr[j] * v[j];
	}
	if (!(fabs(den) > 0) || !isfinite(den))
		return -1;
	w->den = den;
	return 0;
}

/* Solve the factored system for the right-hand side r (N + 1 values)
** into x: one Thomas sweep and the scalar equation of the last unknown. */
static void cell_backsolve(cell_ws *w, const double *r, double *x)
{
	size_t j, N = w->N;
	const double *cp = w->cp, *v = w->v, *im = w->im;
	double *u = w->u, num = r[N];
	u[0] = r[0] * im[0];
	for (j = 1; j < N; j++)
		u[j] = (r[j] - w->la[j] * u[j - 1]) * im[j];
	num -= w->pr[N - 1] * u[N - 1];
	for (j = N - 1; j-- > 0;) {
		u[j] -= cp[j] * u[j + 1];
		num -= w->pr[j] * u[j];
	}
	x[N] = num / w->den;
	for (j = 0; j < N; j++)
		x[j] = u[j] - v[j] * x[N];
}

/* weighted RMS norm of a concentration change (the error norm) */
static double cell_wrms(const cell_ws *w, const double *e, const double *z)
{
	size_t j;
	double s = 0;
	for (j = 0; j < w->N; j++) {
		double q = e[j] / (w->atol + w->p->rtol * fabs(z[j]));
		s += q * q;
	}
	return sqrt(s / (double)w->N);
}

/* ----------------------------------------------------------- Newton */

/* The constraint at (z, i): V mode g = V(z, i) - V_set, I mode
** g = i - I_set; its derivative in i in w->s, and when jac its row dg/dz
** in w->pr. Needs cell_eval done at z (with jac as here). */
static int cell_constraint(cell_ws *w, const double *z, double i, double t,
			   int jac, double *g)
{
	cell_hold hold;
	double val, part[3];
	size_t j;
	if (cell_hold_at(w, t, &hold, &val) != 0)
		return -1;
	if (hold == CELL_HOLD_I) {
		for (j = 0; j < w->N; j++)
			w->pr[j] = 0;
		w->s = 1;
		*g = i - val;
		return 0;
	}
	if (cell_rint_set(w, t) != 0 || cell_cellprops(w, z, jac) != 0 ||
	    cell_bounds_ok(w, z, i) != 0)
		return -1;
	cell_volt(w, z, i, part, jac ? w->pr : NULL);
	*g = part[0] + part[1] + part[2] - val;
	return 0;
}

/* Solve z - b - dh f(z, i) = 0 and the constraint at time t for (z, i),
** starting from the guess in (z, *i). Stops when the estimated distance
** to the solution, eta |dz| with eta = theta/(1 - theta) from the observed
** contraction theta (Hairer and Wanner's test), is a small fraction of
** the error tolerance; a good predictor often needs one iteration.
** Returns 0 when converged, 1 when a smaller step may help (no
** convergence, c out of range), -1 on a hard error (interrupt). */
static int cell_newton(cell_ws *w, const double *b, double dh, double t,
		       double *z, double *i, double *f)
{
	size_t j, N = w->N;
	int it;
	double *r = w->r, *dz = w->e, prev = 0;
	double eta = pow(fmax(w->eta, 1e-4), 0.8);
	for (it = 0; it < 10; it++) {
		double g, nrm, di;
		if (intr_pending()) {
			snprintf(w->msg, sizeof w->msg, "interrupted");
			return -1;
		}
		w->newton++;
		if (cell_eval(w, z, *i, 1, dh, f) != 0 ||
		    cell_constraint(w, z, *i, t, 1, &g) != 0)
			return 1;
		for (j = 0; j < N; j++)
			r[j] = -(z[j] - b[j] - dh * f[j]);
		r[N] = -g;
		if (cell_factor(w) != 0) {
			snprintf(w->msg, sizeof w->msg, "singular Newton "
				 "matrix at t = %g s", t);
			return 1;
		}
		cell_backsolve(w, r, dz);
		for (j = 0; j < N; j++) {
			z[j] += dz[j];
			if (!(z[j] > 0) || !isfinite(z[j])) {
				snprintf(w->msg, sizeof w->msg, "concentration "
					 "%.6g mol/L at x = %.6g mm: salt "
					 "depleted (current at or above the "
					 "limiting current?)", z[j] / 1000,
					 w->xc[j] * 1e3);
				return 1;
			}
		}
		di = dz[N];
		*i += di;
		nrm = fmax(cell_wrms(w, dz, z),
			   fabs(di) / (w->p->rtol * w->i_scale));
		if (it > 0) {
			double theta = nrm / prev;
			if (theta >= 0.9)
				break;	/* not contracting: a smaller step */
			eta = theta / (1 - theta);
		}
		if (eta * nrm <= 0.1 || nrm <= 1e-10) {
			w->eta = eta;
			return 0;
		}
		prev = nrm;
	}
	w->eta = 1;
	snprintf(w->msg, sizeof w->msg, "Newton iteration did not converge "
		 "at t = %g s", t);
	return 1;
}

/* The current consistent with the state y at time t (the constraint
** alone; y is fixed). V(i) increases with i, so a bracketed Newton
** iteration converges; where a trial current would deplete an electrode
** (or another property failure occurs) the bracket shrinks from that side. */
static int cell_consistent(cell_ws *w, const double *y, double t, double *i,
			   double *f)
{
	int it;
	double lo = -HUGE_VAL, hi = HUGE_VAL, x = *i;
	if (cell_rint_set(w, t) != 0)
		return -1;	/* no current can mend R_int(t) */
	for (it = 0; it < 200; it++) {
		double g, nx;
		if (cell_eval(w, y, x, 0, 0, f) != 0 ||
		    cell_constraint(w, y, x, t, 0, &g) != 0) {
			if (x > 0)
				hi = x;
			else
				lo = x;
			if (isfinite(lo) && isfinite(hi))
				x = 0.5 * (lo + hi);
			else
				x = x > 0 ? 0.5 * hi : 0.5 * lo;
			if (hi - lo <= 1e-15 * fabs(hi) || x == 0)
				return -1;
			continue;
		}
		if (g > 0)
			hi = x;
		else if (g < 0)
			lo = x;
		else
			break;
		nx = x - g / w->s;
		if (!isfinite(nx) || nx <= lo || nx >= hi)
			nx = isfinite(lo) && isfinite(hi) ? 0.5 * (lo + hi) : x;
		if (fabs(nx - x) <= 1e-14 * (fabs(x) + 1e-12 * w->i_scale)) {
			x = nx;
			break;
		}
		x = nx;
	}
	if (it == 200) {
		snprintf(w->msg, sizeof w->msg, "no current satisfies the "
			 "protocol at t = %g s", t);
		return -1;
	}
	*i = x;
	return cell_eval(w, y, x, 0, 0, f);
}

/* ----------------------------------------------------------- outputs */

/* compensated sum of c dx: the salt per electrode area */
static double cell_salt(const cell_ws *w, const double *z)
{
	double s = 0, comp = 0;
	size_t j;
	for (j = 0; j < w->N; j++) {
		double term = z[j] * w->dx[j] - comp, t = s + term;
		comp = (t - s) - term;
		s = t;
	}
	return s;
}

/* num_lerp in the increasing nodes xs (n of them), its bracket found by
** walking on from *k, the last one (output positions usually increase:
** one sweep per output row instead of a bisection per position); the
** same bracket and value as num_lerp */
static double cell_lerp(const double *xs, const double *ys, size_t n,
			double x, size_t *k)
{
	size_t lo = *k;
	if (x <= xs[0])
		return ys[0];
	if (x >= xs[n - 1])
		return ys[n - 1];
	if (!(lo + 1 < n && xs[lo] <= x))
		lo = num_bracket(xs, n, x);
	while (xs[lo + 1] <= x)	/* stops below n - 1: x < xs[n - 1] */
		lo++;
	*k = lo;
	return ys[lo] + (ys[lo + 1] - ys[lo]) * (x - xs[lo]) /
		(xs[lo + 1] - xs[lo]);
}

/* Write output row k for state (y, i), with the face and cell properties
** of y, R_int and the voltage's bulk already evaluated (cell_eval,
** cell_cellprops, cell_rint_set, cell_volt_bulk). Concentrations: cell
** centres plus the two boundary values; J: faces (zero at the
** electrodes). */
static void cell_output_write(cell_ws *w, const double *y, double i, size_t k,
			      const double *pos, size_t nx, cell_out *o)
{
	size_t j, N = w->N, m, kc = 0, kf = 0;
	double part[3], vint;
	double *Jf = w->cp;	/* N + 1 face values */
	const cell_params *p = w->p;
	for (j = 0; j + 1 < N; j++)	/* the fluxes at this i */
		w->phi[j + 1] = w->Dv[j] * (y[j + 1] - y[j]) / w->dl[j] +
			w->Gv[j] * i / CELL_F;
	cell_volt_ends(w, y, i, part, NULL);
	vint = -(i / CELL_F) * p->M_Li / p->rho_Li;
	if (o->i) o->i[k] = i;
	if (o->V_ohm) o->V_ohm[k] = part[0];
	if (o->V_int) o->V_int[k] = part[1];
	if (o->V_conc) o->V_conc[k] = part[2];
	if (o->R_int) o->R_int[k] = w->Rt;
	if (o->V) o->V[k] = part[0] + part[1] + part[2];
	if (o->salt) o->salt[k] = cell_salt(w, y);
	if (o->v_int) o->v_int[k] = vint;
	if (nx == 0)
		return;
	{
		/* nodes: x = 0 and the N cell centres; z and zg (N + 1 slots)
		** are free between steps */
		double *X = w->z, *C = w->zg;
		X[0] = 0;
		C[0] = cell_cbound(w, y, i, 0);
		for (j = 0; j < N; j++) {
			X[j + 1] = w->xc[j];
			C[j + 1] = y[j];
		}
		for (j = 0; j + 1 < N; j++)
			Jf[j + 1] = -w->phi[j + 1] / (1 - w->cf[j] * w->Vs);
		Jf[0] = Jf[N] = 0;
		for (m = 0; m < nx; m++) {
			double x = pos[m], c, J;
			size_t at = k * nx + m;
			if (x >= w->xc[N - 1]) {
				double cL = cell_cbound(w, y, i, 1);
				c = y[N - 1] + (cL - y[N - 1]) *
					(x - w->xc[N - 1]) / (p->L - w->xc[N - 1]);
			} else {
				c = cell_lerp(X, C, N + 1, x, &kc);
			}
			J = cell_lerp(w->xf, Jf, N + 1, x, &kf);
			if (o->c) o->c[at] = c;
			if (o->J) o->J[at] = J;
			if (o->v0) o->v0[at] = -w->Vs * J;
			if (o->vm) o->vm[at] = -w->Vs * J + J / c;
			if (o->v0_lab) o->v0_lab[at] = -w->Vs * J + vint;
			if (o->vm_lab) o->vm_lab[at] = -w->Vs * J + J / c + vint;
			if (o->vm_rel) o->vm_rel[at] = J / c;
		}
	}
}

/* output row k for the state (y, i) at time t */
static int cell_output(cell_ws *w, const double *y, double i, double t,
		       size_t k, const double *pos, size_t nx, cell_out *o)
{
	if (cell_eval(w, y, i, 0, 0, w->f1) != 0 ||
	    cell_cellprops(w, y, 0) != 0 ||
	    cell_rint_set(w, t) != 0)
		return -1;
	cell_volt_bulk(w, y, i, NULL);
	cell_output_write(w, y, i, k, pos, nx, o);
	return 0;
}

/* --------------------------------------------------------------- run */

static int cell_check(const cell_params *p, const double *times, size_t nt,
		      const double *pos, size_t nx, char *err)
{
	size_t k;
	if (!(p->c0 > 0) || !isfinite(p->c0))
		return err_set(err, "cell: c0 = %g mol/m^3 must be positive",
			       p->c0);
	if (!(p->T > 0) || !isfinite(p->T))
		return err_set(err, "cell: T = %g K must be positive", p->T);
	if (!(p->V_salt >= 0) || !(p->c0 * p->V_salt < 1))
		return err_set(err, "cell: V_salt = %g m^3/mol must be >= 0 "
			       "and c0 V_salt < 1", p->V_salt);
	if (!(p->V_EO > 0))
		return err_set(err, "cell: V_EO = %g m^3/mol must be positive",
			       p->V_EO);
	if (!(p->R_int >= 0) || !isfinite(p->R_int))
		return err_set(err, "cell: R_int = %g ohm m^2 must be >= 0",
			       p->R_int);
	if (p->Rt.fn == NULL && p->Rt.R_growth != 0 &&
	    (!(p->Rt.R_growth > 0) || !isfinite(p->Rt.R_growth) ||
	     !(p->Rt.t_growth > 0) || !isfinite(p->Rt.t_growth) ||
	     !(p->Rt.p_growth > 0) || !isfinite(p->Rt.p_growth)))
		return err_set(err, "cell: R_int growth law: R_growth = %g, "
			       "t_growth = %g s and p = %g must be positive",
			       p->Rt.R_growth, p->Rt.t_growth, p->Rt.p_growth);
	if (!(p->i0_pos >= 0) || !(p->i0_neg >= 0))
		return err_set(err, "cell: exchange currents must be >= 0");
	if (!(p->M_Li > 0) || !(p->rho_Li > 0))
		return err_set(err, "cell: M_Li and rho_Li must be positive");
	if (!(p->rtol > 0) || !(p->rtol < 1) || !(p->atol >= 0))
		return err_set(err, "cell: rtol = %g must be in (0, 1), atol "
			       ">= 0", p->rtol);
	/* (t+0 = 1, a single-ion conductor, is a limit worth running; a
	** function of c is not checked: a fit may stray past 1 in a
	** depleted cell without harm) */
	if (p->tp.f == NULL && !(p->tp.value >= -1 && p->tp.value <= 1))
		return err_set(err, "cell: t+0 = %g is outside [-1, 1]",
			       p->tp.value);
	if (p->seg == NULL || p->nseg == 0)
		return err_set(err, "cell: no protocol (hold V or I)");
	for (k = 0; k < p->nseg; k++) {
		if (!p->seg[k].fn && !isfinite(p->seg[k].value))
			return err_set(err, "cell: protocol segment %zu: value "
				       "is not finite", k + 1);
		if (k + 1 < p->nseg && (!isfinite(p->seg[k].t_end) ||
		    (k > 0 && !(p->seg[k].t_end > p->seg[k - 1].t_end)) ||
		    !(p->seg[k].t_end > 0)))
			return err_set(err, "cell: protocol segment %zu: t_end "
				       "must be positive and increasing", k + 1);
	}
	if (nt == 0)
		return err_set(err, "cell: no output times");
	for (k = 0; k < nt; k++)
		if (!(times[k] >= 0) || !isfinite(times[k]) ||
		    (k > 0 && !(times[k] >= times[k - 1])))
			return err_set(err, "cell: times[%zu] = %g: times must "
				       "be finite, >= 0 and increasing", k + 1,
				       times[k]);
	for (k = 0; k < nx; k++)
		if (!(pos[k] >= 0 && pos[k] <= p->L))
			return err_set(err, "cell: positions[%zu] = %g m is "
				       "outside [0, L = %g m]", k + 1, pos[k],
				       p->L);
	return 0;
}

/* One TR-BDF2 step of size h from (t, y, i, fn): 0 accepted into
** (z, *i1, f1) with *errn the error norm, 1 rejected for convergence (or a
** soft property failure), -1 hard error. */
static int cell_step(cell_ws *w, double t, double h, double i, double *i1,
		     double *errn)
{
	size_t j, N = w->N;
	double d = CELL_D, ig = i, dh = d * h, *e = w->ew, res;
	int rc;
	/* stage 1: trapezoidal rule to t + gamma h */
	for (j = 0; j < N; j++) {
		w->b[j] = w->y[j] + dh * w->fn[j];
		w->zg[j] = w->y[j] + CELL_GAMMA * h * w->fn[j];
	}
	rc = cell_newton(w, w->b, dh, t + CELL_GAMMA * h, w->zg, &ig, w->fg);
	if (rc != 0)
		return rc;
	for (j = 0; j < N; j++)
		w->fg[j] = (w->zg[j] - w->b[j]) / dh;
	/* stage 2: BDF2 to t + h */
	*i1 = ig + (ig - i) * (1 - CELL_GAMMA) / CELL_GAMMA;
	for (j = 0; j < N; j++) {
		w->b[j] = w->y[j] + CELL_W * h * (w->fn[j] + w->fg[j]);
		w->z[j] = w->y[j] + (w->zg[j] - w->y[j]) / CELL_GAMMA;
		if (!(w->z[j] > 0))
			w->z[j] = w->zg[j];
	}
	rc = cell_newton(w, w->b, dh, t + h, w->z, i1, w->f1);
	if (rc != 0)
		return rc;
	for (j = 0; j < N; j++)
		w->f1[j] = (w->z[j] - w->b[j]) / dh;
	/* embedded error estimate, filtered by (I - dh J)^-1 (stiffness): the
	** matrix of the last Newton iteration, factored there */
	for (j = 0; j < N; j++)
		w->r[j] = h * ((1 - 4 * CELL_W) / 3 * w->fn[j] + w->fg[j] / 3 -
			       2 * d / 3 * w->f1[j]);
	w->r[N] = 0;
	cell_backsolve(w, w->r, e);
	res = cell_wrms(w, e, w->z);
	*errn = isfinite(res) ? res : HUGE_VAL;
	return 0;
}

/* the end of the current segment (or of the run) */
static double cell_seg_end(const cell_ws *w, double t_last)
{
	if (w->seg + 1 < w->p->nseg && w->p->seg[w->seg].t_end < t_last)
		return w->p->seg[w->seg].t_end;
	return t_last;
}

/* a failed run: the message (the binding names the function: no "cell:"
** of our own, which made "cell.run: cell: interrupted"), the bar erased,
** the workspace freed */
static int cell_fail(cell_ws *w, char *err)
{
	err_set(err, "%s", w->msg);
	if (w->p->prog && w->p->prog->running)
		progress_end(w->p->prog);
	cell_ws_free(w);
	return -1;
}

/* advance past the segments that end at or before t (a new segment
** starts at its predecessor's t_end) */
static int cell_segment_switch(cell_ws *w, double t, double *i)
{
	int moved = 0;
	while (w->seg + 1 < w->p->nseg && w->p->seg[w->seg].t_end <= t) {
		w->seg++;
		moved = 1;
	}
	if (moved)
		return cell_consistent(w, w->y, t, i, w->fn) == 0 ? 1 : -1;
	return 0;
}

/* the first step after t = 0 or a protocol switch: small enough for the
** boundary layer that then starts to grow in the first cell */
static double cell_h_start(const cell_ws *w)
{
	const cell_params *p = w->p;
	return p->h0 > 0 ? p->h0 : 1e-4 * w->dx[0] * w->dx[0] / w->D0;
}

/* workspace, grid, tolerances and the uniform initial state */
static int cell_setup(cell_ws *w, const cell_params *p, char *err)
{
	size_t j;
	if (cell_ws_alloc(w, p, err) != 0)
		return -1;
	if (cell_ws_grid(w, err) != 0) {
		cell_ws_free(w);
		return -1;
	}
	w->Vs = p->V_salt;
	w->twoRT_F = 2 * CELL_R * p->T / CELL_F;
	w->atol = p->atol > 0 ? p->atol : 1e-6 * p->c0;
	w->c_min = p->c_min > 0 ? p->c_min : 1e-6 * p->c0;
	w->i_scale = 1.0;
	w->eta = 1.0;
	for (j = 0; j < w->N; j++)
		w->y[j] = p->c0;
	return 0;
}

/* Outputs at t = 0 and the consistent initial current. At t = 0+ the
** concentration is still uniform up to the electrodes, so those outputs
** carry that state (i_0 = V / (R_int + L/kappa(c0))); the integration
** starts from the discrete model's consistent current. */
static int cell_start(cell_ws *w, const double *times, size_t nt,
		      const double *pos, size_t nx, cell_out *out, size_t *k)
{
	const cell_params *p = w->p;
	cell_hold hold;
	double k0, v0;
	if (cell_prop_at(w, &p->D, "D", p->c0, 1, &w->D0, NULL) != 0 ||
	    cell_prop_at(w, &p->kappa, "kappa", p->c0, 1, &k0, NULL) != 0 ||
	    cell_hold_at(w, 0, &hold, &v0) != 0)
		return -1;
	w->i = hold == CELL_HOLD_I ? v0 : v0 * k0 / p->L;
	w->t0 = 1;
	if (cell_consistent(w, w->y, 0, &w->i, w->fn) != 0)
		return -1;
	for (*k = 0; *k < nt && times[*k] <= 0; (*k)++)
		if (cell_output(w, w->y, w->i, 0, *k, pos, nx, out) != 0)
			return -1;
	w->t0 = 0;
	if (cell_consistent(w, w->y, 0, &w->i, w->fn) != 0)
		return -1;
	w->i_scale = fmax(fabs(w->i), 1e-3);
	w->h = cell_h_start(w);
	return 0;
}

/* the accepted state must keep salt at both electrodes */
static int cell_check_state(cell_ws *w)
{
	size_t j, len;
	for (j = 0; j < w->N; j++)
		if (w->y[j] < w->c_min) {
			snprintf(w->msg, sizeof w->msg, "salt depleted: c = "
				 "%.3g mol/L at x = %.4g mm, t = %g s (below "
				 "c_min: the current is at the limiting "
				 "current)", w->y[j] / 1000, w->xc[j] * 1e3,
				 w->t);
			return -1;
		}
	if (cell_cellprops(w, w->y, 0) == 0 && cell_bounds_ok(w, w->y, w->i) == 0)
		return 0;
	len = strlen(w->msg);
	snprintf(w->msg + len, sizeof w->msg - len, " at t = %g s", w->t);
	return -1;
}

/* One attempted step towards t_stop: 0 accepted (state advanced, next
** step size chosen), 1 rejected (smaller step chosen), -1 error. */
static int cell_advance(cell_ws *w, double t_stop, cell_out *out)
{
	const cell_params *p = w->p;
	double h_try = w->h, errn, i1, fac;
	int landing = 0, rc;
	if (p->hmax > 0 && h_try > p->hmax)
		h_try = p->hmax;
	if (w->t + 1.05 * h_try >= t_stop) {
		h_try = t_stop - w->t;
		landing = 1;
	}
	if (out->steps + out->rejected >= p->max_steps) {
		snprintf(w->msg, sizeof w->msg, "more than %zu steps at t = %g s",
			 p->max_steps, w->t);
		return -1;
	}
	rc = cell_step(w, w->t, h_try, w->i, &i1, &errn);
	if (rc < 0)
		return -1;
	if (rc > 0 || errn > 1) {
		out->rejected++;
		w->h = rc > 0 ? 0.25 * h_try :
			h_try * fmax(0.2, 0.9 * pow(errn, -1.0 / 3));
		if (w->h < 1e-13 * fmax(t_stop, 1.0) || ++w->fails > 40) {
			if (rc == 0)
				snprintf(w->msg, sizeof w->msg, "step size "
					 "underflow at t = %g s", w->t);
			return -1;
		}
		return 1;
	}
	w->fails = 0;
	out->steps++;
	w->t_old = w->t;
	w->i_old = w->i;
	memcpy(w->yo, w->y, w->N * sizeof(double));
	memcpy(w->fo, w->fn, w->N * sizeof(double));
	w->t = landing ? t_stop : w->t + h_try;
	memcpy(w->y, w->z, w->N * sizeof(double));
	memcpy(w->fn, w->f1, w->N * sizeof(double));
	w->i = i1;
	fac = fmin(5.0, fmax(0.2, 0.9 * pow(fmax(errn, 1e-10), -1.0 / 3)));
	/* a step shortened to land on an output keeps the longer proposal */
	if (!landing || h_try * fac >= w->h)
		w->h = h_try * fac;
	return cell_check_state(w);
}

/* where the next step must end: the segment's (or run's) end, or an
** earlier breakpoint (a kink of a tabulated protocol) */
static double cell_next_stop(cell_ws *w, double t_last)
{
	double t_stop = cell_seg_end(w, t_last);
	const cell_params *p = w->p;
	while (w->stop < p->ntstop && p->tstop[w->stop] <= w->t)
		w->stop++;
	if (w->stop < p->ntstop && p->tstop[w->stop] < t_stop)
		t_stop = p->tstop[w->stop];
	return t_stop;
}

/* The current that satisfies the protocol at t for the state y, whose
** properties and voltage bulk are evaluated (cell_eval, cell_cellprops,
** cell_rint_set, cell_volt_bulk):
** only the interfaces and the boundary half-cells depend on i, so a scalar
** Newton iteration from a good guess *i needs no property evaluation. */
static int cell_current_at(cell_ws *w, const double *y, double t, double *i)
{
	cell_hold hold;
	double val, part[3], x = *i;
	int it;
	if (cell_hold_at(w, t, &hold, &val) != 0)
		return -1;
	if (hold == CELL_HOLD_I) {
		*i = val;
		return cell_bounds_ok(w, y, val);
	}
	for (it = 0; it < 20; it++) {
		double dx;
		if (cell_bounds_ok(w, y, x) != 0)
			return -1;
		cell_volt_ends(w, y, x, part, NULL);
		dx = -(part[0] + part[1] + part[2] - val) / w->s;
		x += dx;
		if (!isfinite(x))
			return -1;
		if (fabs(dx) <= 1e-14 * (fabs(x) + 1e-12 * w->i_scale))
			break;
	}
	if (it == 20 || cell_bounds_ok(w, y, x) != 0)
		return -1;
	*i = x;
	return 0;
}

/* Output row k at t inside the last step (t_old, t): the cubic Hermite
** interpolant of c through both ends and their rates (third order, salt
** conserved), the current made consistent with it (so V is the protocol's
** exactly). 1 when that fails (then the step is redone to land on t). */
static int cell_dense(cell_ws *w, double t, size_t k, const double *pos,
		      size_t nx, cell_out *out)
{
	size_t j;
	double h = w->t - w->t_old, s = (t - w->t_old) / h, i;
	double s2 = s * s, s3 = s2 * s;
	double a0 = 2 * s3 - 3 * s2 + 1, a1 = 3 * s2 - 2 * s3;
	double b0 = h * (s3 - 2 * s2 + s), b1 = h * (s3 - s2);
	for (j = 0; j < w->N; j++) {
		w->yi[j] = a0 * w->yo[j] + a1 * w->y[j] + b0 * w->fo[j] +
			b1 * w->fn[j];
		if (!(w->yi[j] > w->c_min))
			return 1;
	}
	i = w->i_old + s * (w->i - w->i_old);
	if (cell_eval(w, w->yi, i, 0, 0, w->f1) != 0 ||
	    cell_cellprops(w, w->yi, 0) != 0 || cell_rint_set(w, t) != 0)
		return 1;
	cell_volt_bulk(w, w->yi, i, NULL);	/* independent of the current */
	if (cell_current_at(w, w->yi, t, &i) != 0)
		return 1;
	cell_output_write(w, w->yi, i, k, pos, nx, out);
	return 0;
}

/* the last step undone: the run continues from its start */
static void cell_rewind(cell_ws *w)
{
	w->t = w->t_old;
	w->i = w->i_old;
	memcpy(w->y, w->yo, w->N * sizeof(double));
	memcpy(w->fn, w->fo, w->N * sizeof(double));
}

int cell_run(const cell_params *p, const double *times, size_t nt,
	     const double *pos, size_t nx, cell_out *out, char *err)
{
	cell_ws w;
	size_t k = 0;
	double t_last;
	int land = 0;
	if (cell_check(p, times, nt, pos, nx, err) != 0 ||
	    cell_setup(&w, p, err) != 0)
		return -1;
	out->steps = out->rejected = out->newton = 0;
	t_last = times[nt - 1];
	if (cell_start(&w, times, nt, pos, nx, out, &k) != 0)
		return cell_fail(&w, err);
	if (p->prog)
		progress_begin(p->prog, "cell", t_last);
	while (k < nt) {
		int rc;
		double t_stop;
		while (k < nt && times[k] <= w.t)
			if (cell_output(&w, w.y, w.i, w.t, k++, pos, nx,
					out) != 0)
				return cell_fail(&w, err);
		if (k >= nt)
			break;
		/* outputs inside a step are interpolated; one that cannot be
		** (a steep front) is landed on */
		t_stop = cell_next_stop(&w, t_last);
		if (land || p->land)
			t_stop = fmin(t_stop, times[k]);
		rc = cell_advance(&w, t_stop, out);
		if (rc < 0)
			return cell_fail(&w, err);
		if (rc > 0)
			continue;
		land = 0;
		while (k < nt && times[k] < w.t && !land) {
			rc = cell_dense(&w, times[k], k, pos, nx, out);
			if (rc == 0)
				k++;
			else {
				cell_rewind(&w);
				land = 1;
			}
		}
		if (land)
			continue;
		rc = cell_segment_switch(&w, w.t, &w.i);
		if (rc < 0)
			return cell_fail(&w, err);
		if (rc > 0)
			w.h = cell_h_start(&w);
		if (p->prog && progress_update(p->prog, w.t) != 0) {
			snprintf(w.msg, sizeof w.msg, "stopped by the progress "
				 "callback");
			return cell_fail(&w, err);
		}
	}
	if (p->prog)
		progress_end(p->prog);
	out->newton = w.newton;
	cell_ws_free(&w);
	return 0;
}

/* ----------------------------------------------- closed-form helper */

int cell_steady_current(double V, double L, double c0, double T, double D,
			double tp, double kappa, double R_int, double *i,
			char *err)
{
	double tm = 1 - tp, k2 = 2 * CELL_R * T / CELL_F, lo = 0, hi;
	int it;
	if (!(L > 0) || !(c0 > 0) || !(T > 0) || !(D > 0) || !(kappa > 0) ||
	    !(R_int >= 0) || !(V >= 0))
		return err_set(err, "cell_steady_current: parameters must be "
			       "positive");
	if (!(tm >= 0) || !(tm <= 1))
		return err_set(err, "cell_steady_current: needs 0 <= t+0 <= 1");
	if (tm == 0) {
		*i = V / (R_int + L / kappa);
		return 0;
	}
	hi = 2 * CELL_F * D * c0 / (tm * L);	/* limiting current */
	for (it = 0; it < 200; it++) {
		double mid = 0.5 * (lo + hi), a = tm * mid * L / (2 * CELL_F * D);
		double g = mid * (R_int + L / kappa) +
			k2 * tm * log((c0 + a) / (c0 - a)) - V;
		if (g > 0)
			hi = mid;
		else
			lo = mid;
	}
	*i = 0.5 * (lo + hi);
	return 0;
}
