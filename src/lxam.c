/*
** lxam.c - Lua binding of the XAM core (xam.h): module `xam`.
**
**   local s = xam.convert{time = t, x = x, counts = I, monitor = I0,
**                         dark = D, c0 = 1870, thickness = 1e-3,
**                         contrast = k, reference = 1}
**   s:nscans(), s:scan(k), s:points(), s:t_mean(), s:grid(), s:at(t),
**   s:edges([k]); xam.absorbance, xam.edges, xam.salt_balance, ...
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "larray.h"
#include "lbind.h"
#include "xam.h"

#define LXAM_MT "ionflow.xam.scans"

typedef struct lxam_scans {
	xam_result r;
	double *t, *x;		/* copies of the input columns */
	double *T, *X, *C, *SC;	/* the common grid, made on first use */
	size_t npos;
} lxam_scans;

/* a required column of the options table at t; the value (and any copy)
** stays on the stack */
static const double *lxam_column(lua_State *L, int t, const char *k,
				 const char *fname, size_t *n)
{
	const double *d;
	luaL_checkstack(L, 3, "too many columns");
	d = lbind_optdoubles(L, t, k, n, fname);
	if (d == NULL)
		luaL_error(L, "%s: missing column '%s'", fname, k);
	return d;
}

static arr *lxam_push_vec(lua_State *L, const double *v, size_t n)
{
	arr *a = larray_new_uninit(L, ARR_F64, 1, &n);
	if (n)
		memcpy(a->data, v, n * sizeof *v);
	return a;
}

static void lxam_setnum(lua_State *L, const char *k, double v)
{
	lua_pushnumber(L, v);
	lua_setfield(L, -2, k);
}

/* ---- free functions ---- */

static int lxam_absorbance(lua_State *L)
{
	char err[ERR_LEN];
	size_t n, m, nd = 0;
	const double *I, *I0, *D = NULL;
	arr *A, *sA;
	lua_settop(L, 3);	/* argument slots stay put as copies are pushed */
	I = larray_doubles(L, 1, "xam.absorbance: counts", &n);
	I0 = larray_doubles(L, 2, "xam.absorbance: monitor", &m);
	if (!lua_isnil(L, 3))
		D = larray_doubles(L, 3, "xam.absorbance: dark", &nd);
	if (m != n || (D && nd != n))
		return luaL_error(L, "xam.absorbance: counts, monitor and dark "
				  "differ in length (%d, %d, %d)", (int)n, (int)m, (int)nd);
	A = larray_new(L, ARR_F64, 1, &n);
	sA = larray_new(L, ARR_F64, 1, &n);
	if (xam_absorbance(I, I0, D, n, (double *)A->data, (double *)sA->data, err))
		return lbind_error(L, "xam.absorbance", err);
	return 2;
}

static int lxam_contrast(lua_State *L)
{
	double v = xam_contrast(luaL_checknumber(L, 1), luaL_checknumber(L, 2),
				luaL_checknumber(L, 3), luaL_checknumber(L, 4));
	if (!isfinite(v))
		return luaL_error(L, "xam.contrast: not finite (is V_solvent zero?)");
	lua_pushnumber(L, v);
	return 1;
}

static int lxam_group_scans(lua_State *L)
{
	char err[ERR_LEN];
	size_t n, ns;
	const double *x = larray_doubles(L, 1, "xam.group_scans: x", &n);
	size_t *s = malloc((n ? n : 1) * sizeof *s);
	arr *a;
	if (s == NULL)
		return luaL_error(L, "xam.group_scans: out of memory");
	if (xam_group_scans(x, n, s, &ns, err)) {
		free(s);
		return lbind_error(L, "xam.group_scans", err);
	}
	a = larray_new(L, ARR_F64, 1, &n);	/* cannot fail without raising */
	for (size_t i = 0; i < n; i++)
		((double *)a->data)[i] = (double)(s[i] + 1);
	free(s);
	lua_pushinteger(L, (lua_Integer)ns);
	return 2;
}

static int lxam_edges(lua_State *L)
{
	char err[ERR_LEN];
	size_t n, m;
	double l, r;
	const double *x, *A;
	lua_settop(L, 2);
	x = larray_doubles(L, 1, "xam.edges: x", &n);
	A = larray_doubles(L, 2, "xam.edges: A", &m);
	if (m != n)
		return luaL_error(L, "xam.edges: x and A differ in length");
	if (xam_edges(x, A, n, &l, &r, err))
		return lbind_error(L, "xam.edges", err);
	lua_pushnumber(L, l);
	lua_pushnumber(L, r);
	return 2;
}

static int lxam_position(lua_State *L)
{
	static const char *const names[] = {"left", "right", "centre", "center", NULL};
	static const xam_origin o[] = {XAM_FROM_LEFT, XAM_FROM_RIGHT,
				       XAM_FROM_CENTRE, XAM_FROM_CENTRE};
	int k = luaL_checkoption(L, 4, "centre", names);
	lua_pushnumber(L, xam_position(luaL_checknumber(L, 1), luaL_checknumber(L, 2),
				       luaL_checknumber(L, 3), o[k]));
	return 1;
}

static int lxam_salt_balance(lua_State *L)
{
	char err[ERR_LEN];
	size_t n, m, k;
	xam_balance b;
	const double *x, *c, *sc;
	double left = luaL_checknumber(L, 4), right = luaL_checknumber(L, 5);
	double c0 = luaL_checknumber(L, 6);
	lua_settop(L, 6);
	x = larray_doubles(L, 1, "xam.salt_balance: x", &n);
	c = larray_doubles(L, 2, "xam.salt_balance: c", &m);
	sc = larray_doubles(L, 3, "xam.salt_balance: sc", &k);
	if (m != n || k != n)
		return luaL_error(L, "xam.salt_balance: x, c and sc differ in length");
	if (xam_salt_balance(x, c, sc, n, left, right, c0, &b, err))
		return lbind_error(L, "xam.salt_balance", err);
	lua_createtable(L, 0, 5);
	lxam_setnum(L, "total", b.total);
	lxam_setnum(L, "sd_total", b.sd_total);
	lxam_setnum(L, "expected", b.expected);
	lxam_setnum(L, "excess", b.excess);
	lua_pushinteger(L, (lua_Integer)b.used);
	lua_setfield(L, -2, "used");
	return 1;
}

/* calibrate{x_ref=, A_ref=, sA_ref=, x=, A=, sA=, delta_c=, thickness=, lo=, hi=} */
static int lxam_calibrate(lua_State *L)
{
	const char *fn = "xam.calibrate";
	char err[ERR_LEN];
	size_t nr, n, n2, n3, n4, n5;
	const double *xr, *Ar, *sAr, *x, *A, *sA;
	double k, sk, dc, d, lo, hi;
	luaL_checktype(L, 1, LUA_TTABLE);
	xr = lxam_column(L, 1, "x_ref", fn, &nr);
	Ar = lxam_column(L, 1, "A_ref", fn, &n2);
	sAr = lxam_column(L, 1, "sA_ref", fn, &n3);
	x = lxam_column(L, 1, "x", fn, &n);
	A = lxam_column(L, 1, "A", fn, &n4);
	sA = lxam_column(L, 1, "sA", fn, &n5);
	if (n2 != nr || n3 != nr || n4 != n || n5 != n)
		return luaL_error(L, "%s: columns of a scan differ in length", fn);
	dc = lbind_checknum(L, 1, "delta_c", fn);
	d = lbind_checknum(L, 1, "thickness", fn);
	lo = lbind_optnum(L, 1, "lo", -HUGE_VAL, fn);
	hi = lbind_optnum(L, 1, "hi", HUGE_VAL, fn);
	if (xam_calibrate(xr, Ar, sAr, nr, x, A, sA, n, dc, d, lo, hi, &k, &sk, err))
		return lbind_error(L, fn, err);
	lua_pushnumber(L, k);
	lua_pushnumber(L, sk);
	return 2;
}

/* ---- the scans object ---- */

static lxam_scans *lxam_check(lua_State *L, int i)
{
	lxam_scans *s = luaL_checkudata(L, i, LXAM_MT);
	if (s->r.first == NULL)
		luaL_argerror(L, i, "xam scans have been closed");
	return s;
}

static void lxam_free_grid(lxam_scans *s)
{
	free(s->T);
	free(s->X);
	free(s->C);
	free(s->SC);
	s->T = s->X = s->C = s->SC = NULL;
}

static int lxam_gc(lua_State *L)
{
	lxam_scans *s = luaL_checkudata(L, 1, LXAM_MT);
	xam_result_free(&s->r);
	free(s->t);
	free(s->x);
	s->t = s->x = NULL;
	lxam_free_grid(s);
	return 0;
}

static double *lxam_dup(const double *v, size_t n)
{
	double *d = malloc((n ? n : 1) * sizeof *d);
	if (d && n)
		memcpy(d, v, n * sizeof *d);
	return d;
}

static void lxam_opts(lua_State *L, xam_opts *o, const char *fn)
{
	double ref = lbind_optnum(L, 1, "reference", 1, fn);
	o->c0 = lbind_checknum(L, 1, "c0", fn);
	o->thickness = lbind_checknum(L, 1, "thickness", fn);
	o->contrast = lbind_checknum(L, 1, "contrast", fn);
	if (!(ref >= 1 && ref == floor(ref) && ref < 1e15))
		luaL_error(L, "%s: option 'reference' = %f must be a scan number "
			   "(1, 2, ...)", fn, ref);
	o->reference = (size_t)ref - 1;
}

static const char *const lxam_cols[] = {"time_s", "x_m", "counts", "monitor"};

static int lxam_convert(lua_State *L)
{
	const char *fn = "xam.convert";
	char err[ERR_LEN];
	const double *col[5];
	size_t n[5];
	xam_opts o;
	lxam_scans *s;
	luaL_checktype(L, 1, LUA_TTABLE);
	for (int k = 0; k < 4; k++) {
		col[k] = lxam_column(L, 1, lxam_cols[k], fn, &n[k]);
		if (n[k] != n[0])
			return luaL_error(L, "%s: column '%s' has %d rows, '%s' has %d", fn,
					  lxam_cols[k], (int)n[k], lxam_cols[0], (int)n[0]);
	}
	col[4] = lbind_optdoubles(L, 1, "dark", &n[4], fn);
	if (col[4] && n[4] != n[0])
		return luaL_error(L, "%s: column 'dark' has %d rows, 'time_s' has %d",
				  fn, (int)n[4], (int)n[0]);
	lxam_opts(L, &o, fn);
	s = lua_newuserdatauv(L, sizeof *s, 0);
	memset(s, 0, sizeof *s);
	luaL_setmetatable(L, LXAM_MT);
	s->t = lxam_dup(col[0], n[0]);
	s->x = lxam_dup(col[1], n[0]);
	if (s->t == NULL || s->x == NULL)
		return luaL_error(L, "%s: out of memory", fn);
	if (xam_convert(&o, col[0], col[1], col[2], col[3], col[4], n[0], &s->r, err))
		return lbind_error(L, fn, err);	/* __gc frees the rest */
	return 1;
}

static int lxam_nscans(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)lxam_check(L, 1)->r.nscans);
	return 1;
}

static size_t lxam_scan_arg(lua_State *L, const lxam_scans *s, int i, size_t def)
{
	lua_Integer k = luaL_optinteger(L, i, (lua_Integer)def + 1);
	if (k < 1 || (size_t)k > s->r.nscans)
		luaL_error(L, "xam: scan %d does not exist (the data hold %d scans)",
			   (int)k, (int)s->r.nscans);
	return (size_t)k - 1;
}

/* s:scan(k): the points of scan k as arrays, in acquisition order */
static int lxam_scan(lua_State *L)
{
	lxam_scans *s = lxam_check(L, 1);
	size_t k = lxam_scan_arg(L, s, 2, 0), f = s->r.first[k], m = s->r.count[k];
	lua_createtable(L, 0, 9);
	lxam_push_vec(L, s->t + f, m);
	lua_setfield(L, -2, "t");
	lxam_push_vec(L, s->x + f, m);
	lua_setfield(L, -2, "x");
	lxam_push_vec(L, s->r.A + f, m);
	lua_setfield(L, -2, "A");
	lxam_push_vec(L, s->r.sA + f, m);
	lua_setfield(L, -2, "sA");
	lxam_push_vec(L, s->r.c + f, m);
	lua_setfield(L, -2, "c");
	lxam_push_vec(L, s->r.sc + f, m);
	lua_setfield(L, -2, "sc");
	lxam_setnum(L, "t_mean", s->r.t_mean[k]);
	lua_pushinteger(L, (lua_Integer)f + 1);
	lua_setfield(L, -2, "first_row");
	return 1;
}

/* s:points(): every point, with its 1-based scan number */
static int lxam_points(lua_State *L)
{
	lxam_scans *s = lxam_check(L, 1);
	size_t n = s->r.n;
	arr *a;
	lua_createtable(L, 0, 7);
	a = larray_new_uninit(L, ARR_F64, 1, &n);
	for (size_t i = 0; i < n; i++)
		((double *)a->data)[i] = (double)(s->r.scan[i] + 1);
	lua_setfield(L, -2, "scan");
	lxam_push_vec(L, s->t, n);
	lua_setfield(L, -2, "t");
	lxam_push_vec(L, s->x, n);
	lua_setfield(L, -2, "x");
	lxam_push_vec(L, s->r.A, n);
	lua_setfield(L, -2, "A");
	lxam_push_vec(L, s->r.sA, n);
	lua_setfield(L, -2, "sA");
	lxam_push_vec(L, s->r.c, n);
	lua_setfield(L, -2, "c");
	lxam_push_vec(L, s->r.sc, n);
	lua_setfield(L, -2, "sc");
	return 1;
}

static int lxam_t_mean(lua_State *L)
{
	lxam_scans *s = lxam_check(L, 1);
	lxam_push_vec(L, s->r.t_mean, s->r.nscans);
	return 1;
}

static void lxam_make_grid(lua_State *L, lxam_scans *s, int tol_arg)
{
	char err[ERR_LEN];
	double tol = luaL_optnumber(L, tol_arg, xam_default_tol(&s->r, s->x));
	lxam_free_grid(s);
	if (xam_grid(&s->r, s->t, s->x, tol, &s->npos, &s->T, &s->X, &s->C,
		     &s->SC, err))
		lbind_error(L, "xam.grid", err);
}

static void lxam_push_mat(lua_State *L, const double *v, size_t rows, size_t cols)
{
	size_t shape[2] = {rows, cols};
	arr *a = larray_new_uninit(L, ARR_F64, 2, shape);
	if (rows > 0 && cols > 0)
		memcpy(a->data, v, rows * cols * sizeof *v);
}

/* s:grid([tol]): {x = positions, t, c, sc = nscans x npos arrays} */
static int lxam_grid(lua_State *L)
{
	lxam_scans *s = lxam_check(L, 1);
	lxam_make_grid(L, s, 2);
	lua_createtable(L, 0, 4);
	lxam_push_vec(L, s->X, s->npos);
	lua_setfield(L, -2, "x");
	lxam_push_mat(L, s->T, s->r.nscans, s->npos);
	lua_setfield(L, -2, "t");
	lxam_push_mat(L, s->C, s->r.nscans, s->npos);
	lua_setfield(L, -2, "c");
	lxam_push_mat(L, s->SC, s->r.nscans, s->npos);
	lua_setfield(L, -2, "sc");
	return 1;
}

/* s:at(time [, tol]) -> c, sc, x on the common grid */
static int lxam_at(lua_State *L)
{
	char err[ERR_LEN];
	lxam_scans *s = lxam_check(L, 1);
	double tq = luaL_checknumber(L, 2);
	arr *c, *sc;
	lxam_make_grid(L, s, 3);
	c = larray_new(L, ARR_F64, 1, &s->npos);
	sc = larray_new(L, ARR_F64, 1, &s->npos);
	if (xam_interp_time(s->T, s->C, s->SC, s->r.nscans, s->npos, tq,
			    (double *)c->data, (double *)sc->data, err))
		return lbind_error(L, "xam.at", err);
	lxam_push_vec(L, s->X, s->npos);
	return 3;
}

/* s:edges([k]): electrode edges from the absorbance of scan k */
static int lxam_scan_edges(lua_State *L)
{
	char err[ERR_LEN];
	lxam_scans *s = lxam_check(L, 1);
	size_t k = lxam_scan_arg(L, s, 2, 0), f = s->r.first[k];
	double l, r;
	if (xam_edges(s->x + f, s->r.A + f, s->r.count[k], &l, &r, err))
		return luaL_error(L, "xam.edges: scan %d: %s", (int)k + 1, err);
	lua_pushnumber(L, l);
	lua_pushnumber(L, r);
	return 2;
}

static int lxam_tostring(lua_State *L)
{
	lxam_scans *s = lxam_check(L, 1);
	lua_pushfstring(L, "xam scans (%d points, %d scans)", (int)s->r.n,
			(int)s->r.nscans);
	return 1;
}

static const luaL_Reg lxam_methods[] = {
	{"nscans", lxam_nscans},
	{"scan", lxam_scan},
	{"points", lxam_points},
	{"t_mean", lxam_t_mean},
	{"grid", lxam_grid},
	{"at", lxam_at},
	{"edges", lxam_scan_edges},
	{NULL, NULL}
};

static const luaL_Reg lxam_funcs[] = {
	{"absorbance", lxam_absorbance},
	{"contrast", lxam_contrast},
	{"group_scans", lxam_group_scans},
	{"convert", lxam_convert},
	{"edges", lxam_edges},
	{"position", lxam_position},
	{"salt_balance", lxam_salt_balance},
	{"calibrate", lxam_calibrate},
	{NULL, NULL}
};

int luaopen_ionflow_xam(lua_State *L)
{
	luaL_newmetatable(L, LXAM_MT);
	luaL_newlib(L, lxam_methods);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, lxam_gc);
	lua_setfield(L, -2, "__gc");
	lua_pushcfunction(L, lxam_gc);
	lua_setfield(L, -2, "__close");
	lua_pushcfunction(L, lxam_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pushcfunction(L, lxam_nscans);
	lua_setfield(L, -2, "__len");
	lua_pop(L, 1);
	luaL_newlib(L, lxam_funcs);
	return 1;
}
