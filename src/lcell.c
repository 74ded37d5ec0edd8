/*
** lcell.c - Lua binding of the continuum cell model (cell.h): module `cell`.
**
**   local r = cell.run{L = 3e-3, c0 = 1870, V = 0.3, params = "pnb",
**                      t_end = 1100 * 60, N = 200}
**   r.t, r.i, r.V, r.c (nt x nx), r.v0_lab, ...      (arrays, SI units)
**   cell.steady_current{V =, L =, c0 =, D =, tp =, kappa =, R_int =}
**   cell.grid(N, L [, refine]), cell.interp(cs, vs, c)
**   cell.lsq{f = function(p) return residuals end, p0 = {...}}  (GSL fit)
**
** Properties (D, tp, kappa, Tf) are numbers, Lua functions of c (mol/m^3)
** or tables {c = {...}, v = {...}} interpolated monotonically (Steffen).
** Named parameter sets come from lua/ionflow/cellparams.lua.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "cell.h"
#include "fit.h"
#include "larray.h"
#include "lsys.h"

#define LCELL_CTX "ionflow.cell.ctx"
#define LCELL_MAXSEG 64
/* outputs: at most this many times, and times x positions per field (a
** few fields of nt x nx doubles: 10^8 is 0.8 GB each) */
#define LCELL_MAXTIMES 10000000
#define LCELL_MAXOUT 50000000.0

/* a Lua function called from the core: errors are caught and kept */
typedef struct lcell_fn {
	lua_State *L;
	int ref;
	char what[32];
	char msg[ERR_LEN];
} lcell_fn;

/* everything the core borrows during a run, freed by __gc even when an
** argument error is raised half-way */
/* a V(t) or I(t) table, interpolated linearly in time */
typedef struct lcell_ttab {
	double *t, *v;
	size_t n;
	char msg[ERR_LEN];
} lcell_ttab;

typedef struct lcell_ctx {
	lcell_ttab tt[LCELL_MAXSEG];
	cell_table tab[4];
	lcell_fn pf[4];
	lcell_fn sf[LCELL_MAXSEG];
	cell_segment seg[LCELL_MAXSEG];
	size_t nseg;
} lcell_ctx;

static int lcell_ctx_gc(lua_State *L)
{
	lcell_ctx *x = luaL_checkudata(L, 1, LCELL_CTX);
	size_t k;
	for (k = 0; k < 4; k++) {
		cell_table_free(&x->tab[k]);
		if (x->pf[k].L && x->pf[k].ref != LUA_NOREF)
			luaL_unref(L, LUA_REGISTRYINDEX, x->pf[k].ref);
		x->pf[k].ref = LUA_NOREF;
	}
	for (k = 0; k < LCELL_MAXSEG; k++) {
		free(x->tt[k].t);
		free(x->tt[k].v);
		x->tt[k].t = x->tt[k].v = NULL;
		if (x->sf[k].L && x->sf[k].ref != LUA_NOREF)
			luaL_unref(L, LUA_REGISTRYINDEX, x->sf[k].ref);
		x->sf[k].ref = LUA_NOREF;
	}
	return 0;
}

static lcell_ctx *lcell_ctx_new(lua_State *L)
{
	lcell_ctx *x = lua_newuserdatauv(L, sizeof *x, 0);
	size_t k;
	memset(x, 0, sizeof *x);
	for (k = 0; k < 4; k++)
		x->pf[k].ref = LUA_NOREF;
	for (k = 0; k < LCELL_MAXSEG; k++)
		x->sf[k].ref = LUA_NOREF;
	if (luaL_newmetatable(L, LCELL_CTX)) {
		lua_pushcfunction(L, lcell_ctx_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	return x;
}

/* call the function with one number; NaN and a kept message on failure */
static double lcell_call(void *ud, double arg)
{
	lcell_fn *f = ud;
	lua_State *L = f->L;
	double v;
	int isnum;
	lua_rawgeti(L, LUA_REGISTRYINDEX, f->ref);
	lua_pushnumber(L, arg);
	if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
		const char *m = lua_tostring(L, -1);
		snprintf(f->msg, sizeof f->msg, "%s", m ? m : "error object");
		lua_pop(L, 1);
		return NAN;
	}
	v = lua_tonumberx(L, -1, &isnum);
	lua_pop(L, 1);
	if (!isnum) {
		snprintf(f->msg, sizeof f->msg, "%s returned a non-number",
			 f->what);
		return NAN;
	}
	if (!isfinite(v))
		snprintf(f->msg, sizeof f->msg, "%s returned %g", f->what, v);
	return v;
}

static const char *lcell_why(void *ud)
{
	return ((lcell_fn *)ud)->msg;
}

/* linear interpolation of a protocol table; outside it: NaN and why */
static double lcell_ttab_eval(void *ud, double t)
{
	lcell_ttab *tt = ud;
	size_t lo = 0, hi = tt->n - 1;
	if (!(t >= tt->t[0] && t <= tt->t[tt->n - 1])) {
		snprintf(tt->msg, sizeof tt->msg, "t = %g s is outside the "
			 "protocol table (%g to %g s)", t, tt->t[0],
			 tt->t[tt->n - 1]);
		return NAN;
	}
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (tt->t[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	if (hi == lo)
		return tt->v[lo];
	return tt->v[lo] + (tt->v[hi] - tt->v[lo]) * (t - tt->t[lo]) /
		(tt->t[hi] - tt->t[lo]);
}

static const char *lcell_ttab_why(void *ud)
{
	return ((lcell_ttab *)ud)->msg;
}

/* the function at the top of the stack becomes f (popped) */
static void lcell_fn_set(lua_State *L, lcell_fn *f, const char *what)
{
	f->L = L;
	snprintf(f->what, sizeof f->what, "%s", what);
	f->msg[0] = '\0';
	f->ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* n numbers of field k of the table at t (a table or a 1-D array) */
static const double *lcell_numbers(lua_State *L, int t, const char *k,
				   const char *what, size_t *n)
{
	const double *v;
	lua_getfield(L, t, k);
	if (lua_isnil(L, -1))
		luaL_error(L, "cell.run: %s table needs field '%s'", what, k);
	v = larray_vector(L, lua_gettop(L), 0, "cell.run", n);
	if (v == NULL)
		luaL_error(L, "cell.run: %s.%s must be a list of numbers", what,
			   k);
	return v;
}

/* a property from the value at index v: number, function or table */
static void lcell_prop(lua_State *L, int v, const char *name, lcell_ctx *x,
		       int slot, cell_prop *out)
{
	char err[ERR_LEN];
	v = lua_absindex(L, v);
	if (lua_type(L, v) == LUA_TNUMBER) {
		*out = cell_const_prop(lua_tonumber(L, v));
	} else if (lua_isfunction(L, v)) {
		lua_pushvalue(L, v);
		lcell_fn_set(L, &x->pf[slot], name);
		out->f = lcell_call;
		out->df = NULL;
		out->ud = &x->pf[slot];
		out->why = lcell_why;
	} else if (lua_istable(L, v)) {
		size_t nc, nv;
		int top = lua_gettop(L);
		const double *c = lcell_numbers(L, v, "c", name, &nc);
		const double *vv = lcell_numbers(L, v, "v", name, &nv);
		if (nc != nv)
			luaL_error(L, "cell.run: %s table: %d concentrations "
				   "but %d values", name, (int)nc, (int)nv);
		if (cell_table_init(&x->tab[slot], name, c, vv, nc, err) != 0)
			larray_error(L, "cell.run", err);
		lua_settop(L, top);
		lua_getfield(L, v, "extrapolate");
		if (lua_isstring(L, -1) &&
		    strcmp(lua_tostring(L, -1), "constant") == 0)
			x->tab[slot].clamp = 1;
		else if (!lua_isnil(L, -1) && !(lua_isstring(L, -1) &&
			 strcmp(lua_tostring(L, -1), "error") == 0))
			luaL_error(L, "cell.run: %s table: extrapolate must be "
				   "'error' or 'constant'", name);
		lua_pop(L, 1);
		*out = cell_table_prop(&x->tab[slot]);
	} else {
		luaL_error(L, "cell.run: property %s must be a number, a "
			   "function of c or a table {c = ..., v = ...}", name);
	}
}

/* option k of the table at t: a number, or def when absent (NaN def:
** required) */
static double lcell_num(lua_State *L, int t, const char *k, double def)
{
	double v;
	int isnum;
	lua_getfield(L, t, k);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		if (isnan(def))
			luaL_error(L, "cell.run: option '%s' is required", k);
		return def;
	}
	v = lua_tonumberx(L, -1, &isnum);
	if (!isnum)
		luaL_error(L, "cell.run: option '%s' must be a number", k);
	lua_pop(L, 1);
	return v;
}

/* an integer option in [lo, hi], the bound in the message */
static double lcell_count(lua_State *L, int t, const char *k, double def,
			  double lo, double hi, const char *fname)
{
	double v = lcell_num(L, t, k, def);
	char m[160];
	if (!(v >= lo && v <= hi && v == floor(v))) {
		snprintf(m, sizeof m, "%s: %s must be an integer %.0f..%.0f "
			 "(got %g)", fname, k, lo, hi, v);
		luaL_error(L, "%s", m);
	}
	return v;
}

/* Push the parameter set: opts.params as a table, or a name looked up in
** ionflow.cellparams (a file name ending in .lua is run and must return a
** table). */
static int lcell_paramset(lua_State *L, int o)
{
	int t = lua_getfield(L, o, "params");
	if (t == LUA_TNIL) {
		lua_pop(L, 1);
		lua_newtable(L);
	} else if (t == LUA_TSTRING) {
		lua_getglobal(L, "require");
		lua_pushstring(L, "ionflow.cellparams");
		lua_call(L, 1, 1);
		lua_getfield(L, -1, "get");
		lua_pushvalue(L, -3);
		lua_call(L, 1, 1);
		lua_replace(L, -3);
		lua_pop(L, 1);
	} else if (t != LUA_TTABLE) {
		luaL_error(L, "cell.run: params must be a name or a table");
	}
	return lua_gettop(L);
}

/* field k from the options (first) or the parameter set */
static int lcell_pick(lua_State *L, int o, int ps, const char *k)
{
	if (lua_getfield(L, o, k) != LUA_TNIL)
		return lua_gettop(L);
	lua_pop(L, 1);
	lua_getfield(L, ps, k);
	return lua_gettop(L);
}

static void lcell_props(lua_State *L, int o, int ps, lcell_ctx *x,
			cell_params *p)
{
	const char *names[4] = {"D", "tp", "kappa", "Tf"};
	const char *shown[4] = {"D", "t+0", "kappa", "Tf"};
	cell_prop *dst[4] = {&p->D, &p->tp, &p->kappa, &p->Tf};
	int k;
	for (k = 0; k < 4; k++) {
		int v = lcell_pick(L, o, ps, names[k]);
		if (lua_isnil(L, v)) {
			if (k == 3) {
				lua_pop(L, 1);
				continue;	/* Tf = 1 */
			}
			luaL_error(L, "cell.run: no %s (give params = NAME or "
				   "%s = number, function or table)", shown[k],
				   names[k]);
		}
		lcell_prop(L, v, shown[k], x, k, dst[k]);
		lua_pop(L, 1);
	}
	/* molar volumes: the options, else the set, else the paper's */
	p->V_salt = lcell_num(L, o, "V_salt", lcell_num(L, ps, "V_salt",
							p->V_salt));
	p->V_EO = lcell_num(L, o, "V_EO", lcell_num(L, ps, "V_EO", p->V_EO));
}

/* one protocol segment from the table at s: V or I, number or function */
static void lcell_segment(lua_State *L, int s, lcell_ctx *x, size_t k,
			  const char *where)
{
	cell_segment *g = &x->seg[k];
	int hasv = lua_getfield(L, s, "V") != LUA_TNIL;
	int hasi = lua_getfield(L, s, "I") != LUA_TNIL;
	int v;
	if (hasv == hasi)
		luaL_error(L, "cell.run: %s: give exactly one of V and I", where);
	v = hasv ? -2 : -1;
	g->hold = hasv ? CELL_HOLD_V : CELL_HOLD_I;
	if (lua_type(L, v) == LUA_TNUMBER) {
		g->value = lua_tonumber(L, v);
	} else if (lua_isfunction(L, v)) {
		lua_pushvalue(L, v);
		lcell_fn_set(L, &x->sf[k], hasv ? "V(t)" : "I(t)");
		g->fn = lcell_call;
		g->ud = &x->sf[k];
		g->why = lcell_why;
	} else if (lua_istable(L, v)) {
		size_t nt, nv, j;
		int top = lua_gettop(L), tv = lua_absindex(L, v);
		const double *ts = lcell_numbers(L, tv, "t", where, &nt);
		const double *vs = lcell_numbers(L, tv, "v", where, &nv);
		lcell_ttab *tt = &x->tt[k];
		if (nt != nv || nt < 2)
			luaL_error(L, "cell.run: %s: the t and v lists of a "
				   "protocol table need the same length >= 2",
				   where);
		for (j = 0; j < nt; j++)
			if (!isfinite(ts[j]) || !isfinite(vs[j]) ||
			    (j > 0 && !(ts[j] > ts[j - 1])))
				luaL_error(L, "cell.run: %s: row %d of the "
					   "protocol table: times must increase "
					   "and values be finite", where,
					   (int)j + 1);
		tt->t = malloc(nt * sizeof(double));
		tt->v = malloc(nt * sizeof(double));
		if (tt->t == NULL || tt->v == NULL)
			luaL_error(L, "cell.run: out of memory");
		memcpy(tt->t, ts, nt * sizeof(double));
		memcpy(tt->v, vs, nt * sizeof(double));
		tt->n = nt;
		lua_settop(L, top);
		g->fn = lcell_ttab_eval;
		g->ud = tt;
		g->why = lcell_ttab_why;
	} else {
		luaL_error(L, "cell.run: %s: %s must be a number, a function "
			   "of t or a table {t = ..., v = ...}", where,
			   hasv ? "V" : "I");
	}
	lua_pop(L, 2);
	g->t_end = INFINITY;
}

static void lcell_protocol(lua_State *L, int o, lcell_ctx *x, cell_params *p)
{
	if (lua_getfield(L, o, "protocol") == LUA_TTABLE) {
		int t = lua_gettop(L);
		size_t n = (size_t)luaL_len(L, t), k;
		char where[64];
		if (n == 0 || n > LCELL_MAXSEG)
			luaL_error(L, "cell.run: protocol needs 1 to %d segments",
				   LCELL_MAXSEG);
		for (k = 0; k < n; k++) {
			snprintf(where, sizeof where, "protocol[%zu]", k + 1);
			if (lua_rawgeti(L, t, (lua_Integer)k + 1) != LUA_TTABLE)
				luaL_error(L, "cell.run: %s must be a table "
					   "{t_end =, V = or I =}", where);
			lcell_segment(L, lua_gettop(L), x, k, where);
			if (k + 1 < n)
				x->seg[k].t_end = lcell_num(L, lua_gettop(L),
							    "t_end", NAN);
			lua_pop(L, 1);
		}
		x->nseg = n;
	} else {
		if (!lua_isnil(L, -1))
			luaL_error(L, "cell.run: protocol must be a list of "
				   "segments");
		lcell_segment(L, o, x, 0, "options");
		x->nseg = 1;
	}
	lua_pop(L, 1);
	p->seg = x->seg;
	p->nseg = x->nseg;
}

/* a new float64 array stored as field k of the table at r */
static double *lcell_out(lua_State *L, int r, const char *k, int ndim,
			 size_t n0, size_t n1)
{
	size_t shape[2] = {n0, n1};
	arr *a = larray_new(L, ARR_F64, ndim, shape);
	lua_setfield(L, r, k);
	return (double *)a->data;
}

static void lcell_set(lua_State *L, int r, const char *k, double v)
{
	lua_pushnumber(L, v);
	lua_setfield(L, r, k);
}

/* the output times: opts.times (s) or n_times from 0 to t_end */
static const double *lcell_times(lua_State *L, int o, size_t *nt)
{
	if (lua_getfield(L, o, "times") != LUA_TNIL) {
		char err[ERR_LEN];
		arr *a = larray_from_arg(L, lua_gettop(L), ARR_F64), c;
		if (a->ndim != 1 || a->shape[0] == 0)
			luaL_error(L, "cell.run: times must be a non-empty list");
		if (arr_copy(&c, a, ARR_F64, err))
			larray_error(L, "cell.run", err);
		a = larray_push(L, &c);
		*nt = a->shape[0];
		return (const double *)a->data;
	} else {
		double t_end = lcell_num(L, o, "t_end", NAN);
		lua_Integer n, k;
		size_t shape[1];
		arr *a;
		if (!(t_end > 0) || !isfinite(t_end))
			luaL_error(L, "cell.run: t_end must be positive");
		n = (lua_Integer)lcell_count(L, o, "n_times", 101, 2,
					     LCELL_MAXTIMES, "cell.run");
		shape[0] = (size_t)n;
		a = larray_new(L, ARR_F64, 1, shape);
		for (k = 0; k < n; k++)
			((double *)a->data)[k] = t_end * (double)k / (double)(n - 1);
		*nt = (size_t)n;
		return (const double *)a->data;
	}
}

/* output positions: opts.positions (m) or the cell centres */
static const double *lcell_positions(lua_State *L, int o,
				     const cell_params *p, size_t *nx)
{
	char err[ERR_LEN];
	arr *a, c;
	if (lua_getfield(L, o, "positions") == LUA_TNIL) {
		size_t shape[1] = {p->N}, j;
		double *xf = malloc((p->N + 1) * sizeof(double)), *xc;
		if (xf == NULL)
			luaL_error(L, "cell.run: out of memory");
		if (cell_grid(p->N, p->L, p->refine, xf, err) != 0) {
			free(xf);
			larray_error(L, "cell.run", err);
		}
		a = larray_new(L, ARR_F64, 1, shape);
		xc = (double *)a->data;
		for (j = 0; j < p->N; j++)
			xc[j] = 0.5 * (xf[j] + xf[j + 1]);
		free(xf);
		*nx = p->N;
		return xc;
	}
	a = larray_from_arg(L, lua_gettop(L), ARR_F64);
	if (a->ndim != 1)
		luaL_error(L, "cell.run: positions must be a list of numbers");
	if (arr_copy(&c, a, ARR_F64, err))
		larray_error(L, "cell.run", err);
	a = larray_push(L, &c);
	*nx = a->shape[0];
	return (const double *)a->data;
}

static void lcell_options(lua_State *L, int o, cell_params *p)
{
	double N, i0;
	p->L = lcell_num(L, o, "L", NAN);
	p->c0 = lcell_num(L, o, "c0", NAN);
	p->T = lcell_num(L, o, "T", p->T);
	p->R_int = lcell_num(L, o, "R_int", 0);
	i0 = lcell_num(L, o, "i0", 0);
	p->i0_pos = lcell_num(L, o, "i0_pos", i0);
	p->i0_neg = lcell_num(L, o, "i0_neg", i0);
	p->M_Li = lcell_num(L, o, "M_Li", p->M_Li);
	p->rho_Li = lcell_num(L, o, "rho_Li", p->rho_Li);
	N = lcell_num(L, o, "N", 200);
	if (!(N >= 3 && N <= 1e7) || N != floor(N))
		luaL_error(L, "cell.run: N must be an integer >= 3");
	p->N = (size_t)N;
	p->refine = lcell_num(L, o, "refine", 1);
	p->rtol = lcell_num(L, o, "rtol", p->rtol);
	p->atol = lcell_num(L, o, "atol", 0);
	p->h0 = lcell_num(L, o, "h0", 0);
	p->hmax = lcell_num(L, o, "hmax", 0);
	p->c_min = lcell_num(L, o, "c_min", 0);
	p->max_steps = (size_t)lcell_count(L, o, "max_steps", 1e6, 1, 1e12,
					   "cell.run");
	if (!(p->L > 0) || !(p->c0 > 0))
		luaL_error(L, "cell.run: L and c0 must be positive");
}

/* cell.run{...}: see the file header and man/sections/cell.man */
static int lcell_run(lua_State *L)
{
	cell_params p;
	cell_out out;
	lcell_ctx *x;
	lsys_progress lp;
	char err[ERR_LEN];
	const double *times, *pos;
	size_t nt, nx, k;
	int o = 1, ps, r, rc, ti, xi;
	double drift = 0, *salt;
	luaL_checktype(L, 1, LUA_TTABLE);
	cell_params_init(&p);
	memset(&out, 0, sizeof out);
	lcell_options(L, o, &p);
	x = lcell_ctx_new(L);
	ps = lcell_paramset(L, o);
	lcell_props(L, o, ps, x, &p);
	lcell_protocol(L, o, x, &p);
	times = lcell_times(L, o, &nt);
	ti = lua_gettop(L);
	pos = lcell_positions(L, o, &p, &nx);
	xi = lua_gettop(L);
	if ((double)nt * (double)nx > LCELL_MAXOUT)
		return luaL_error(L, "cell.run: %d times x %d positions is more "
				  "than %d outputs per field", (int)nt, (int)nx,
				  (int)LCELL_MAXOUT);
	lua_newtable(L);
	r = lua_gettop(L);
	lua_pushvalue(L, ti);
	lua_setfield(L, r, "t");
	lua_pushvalue(L, xi);
	lua_setfield(L, r, "x");
	out.i = lcell_out(L, r, "i", 1, nt, 0);
	out.V = lcell_out(L, r, "V", 1, nt, 0);
	out.V_ohm = lcell_out(L, r, "V_ohm", 1, nt, 0);
	out.V_int = lcell_out(L, r, "V_int", 1, nt, 0);
	out.V_conc = lcell_out(L, r, "V_conc", 1, nt, 0);
	out.salt = lcell_out(L, r, "salt", 1, nt, 0);
	out.v_int = lcell_out(L, r, "v_int", 1, nt, 0);
	out.c = lcell_out(L, r, "c", 2, nt, nx);
	out.J = lcell_out(L, r, "J", 2, nt, nx);
	out.v0 = lcell_out(L, r, "v0", 2, nt, nx);
	out.vm = lcell_out(L, r, "vm", 2, nt, nx);
	out.v0_lab = lcell_out(L, r, "v0_lab", 2, nt, nx);
	out.vm_lab = lcell_out(L, r, "vm_lab", 2, nt, nx);
	out.vm_rel = lcell_out(L, r, "vm_rel", 2, nt, nx);
	lua_getfield(L, o, "progress");
	lsys_progress_arg(L, lua_gettop(L), &lp);
	p.prog = &lp.p;
	rc = cell_run(&p, times, nt, pos, nx, &out, err);
	lsys_progress_finish(L, &lp);
	lua_pop(L, 1);
	if (rc != 0)
		return larray_error(L, "cell.run", err);
	salt = out.salt;
	for (k = 0; k < nt; k++)
		drift = fmax(drift, fabs(salt[k] / salt[0] - 1));
	lcell_set(L, r, "salt_drift", drift);
	lcell_set(L, r, "steps", (double)out.steps);
	lcell_set(L, r, "rejected", (double)out.rejected);
	lcell_set(L, r, "newton", (double)out.newton);
	lcell_set(L, r, "N", (double)p.N);
	lcell_set(L, r, "L", p.L);
	lcell_set(L, r, "c0", p.c0);
	lcell_set(L, r, "T", p.T);
	lcell_set(L, r, "V_salt", p.V_salt);
	lcell_set(L, r, "V_EO", p.V_EO);
	lua_getfield(L, ps, "name");
	lua_setfield(L, r, "params");
	lua_getfield(L, ps, "note");
	lua_setfield(L, r, "note");
	lua_pushvalue(L, r);
	return 1;
}

/* cell.steady_current{V, L, c0, T, D, tp, kappa, R_int}: the closed form */
static int lcell_steady(lua_State *L)
{
	char err[ERR_LEN];
	double i;
	luaL_checktype(L, 1, LUA_TTABLE);
	if (cell_steady_current(lcell_num(L, 1, "V", NAN),
				lcell_num(L, 1, "L", NAN),
				lcell_num(L, 1, "c0", NAN),
				lcell_num(L, 1, "T", 363.15),
				lcell_num(L, 1, "D", NAN),
				lcell_num(L, 1, "tp", NAN),
				lcell_num(L, 1, "kappa", NAN),
				lcell_num(L, 1, "R_int", 0), &i, err) != 0)
		return larray_error(L, "cell.steady_current", err);
	lua_pushnumber(L, i);
	return 1;
}

/* cell.grid(N, L [, refine]): the N + 1 face positions */
static int lcell_grid(lua_State *L)
{
	char err[ERR_LEN];
	lua_Integer N = luaL_checkinteger(L, 1);
	double Lc = luaL_checknumber(L, 2), ref = luaL_optnumber(L, 3, 1);
	size_t shape[1];
	arr *a;
	if (N < 3 || N > 10000000)
		return luaL_argerror(L, 1, "N must be >= 3");
	shape[0] = (size_t)N + 1;
	a = larray_new(L, ARR_F64, 1, shape);
	if (cell_grid((size_t)N, Lc, ref, (double *)a->data, err) != 0)
		return larray_error(L, "cell.grid", err);
	return 1;
}

/* cell.interp(cs, vs, c): the Steffen interpolation the model uses, at a
** number c or at each element of a list */
static int lcell_interp(lua_State *L)
{
	lcell_ctx *x;
	char err[ERR_LEN];
	size_t n, k;
	lua_settop(L, 3);
	x = lcell_ctx_new(L);		/* 4: frees the table */
	lua_newtable(L);		/* 5 */
	lua_pushvalue(L, 1);
	lua_setfield(L, 5, "c");
	lua_pushvalue(L, 2);
	lua_setfield(L, 5, "v");
	{
		const double *c = lcell_numbers(L, 5, "c", "interp", &n);
		size_t nv;
		const double *v = lcell_numbers(L, 5, "v", "interp", &nv);
		if (nv != n)
			return luaL_error(L, "cell.interp: %d concentrations "
					  "but %d values", (int)n, (int)nv);
		if (cell_table_init(&x->tab[0], "interp", c, v, n, err) != 0)
			return larray_error(L, "cell.interp", err);
	}
	if (lua_type(L, 3) == LUA_TNUMBER) {
		double y = cell_table_eval(&x->tab[0], lua_tonumber(L, 3));
		if (isnan(y))
			return luaL_error(L, "cell.interp: %s",
					  cell_table_why(&x->tab[0]));
		lua_pushnumber(L, y);
		return 1;
	}
	luaL_checktype(L, 3, LUA_TTABLE);
	n = (size_t)luaL_len(L, 3);
	lua_createtable(L, (int)n, 0);
	for (k = 1; k <= n; k++) {
		double y;
		lua_rawgeti(L, 3, (lua_Integer)k);
		y = cell_table_eval(&x->tab[0], luaL_checknumber(L, -1));
		lua_pop(L, 1);
		if (isnan(y))
			return luaL_error(L, "cell.interp: %s",
					  cell_table_why(&x->tab[0]));
		lua_pushnumber(L, y);
		lua_rawseti(L, -2, (lua_Integer)k);
	}
	return 1;
}

/* ------------------------------------------------ least squares */

/* a residual function of parameters, for GSL least squares over model
** runs: fn(p) returns the list of (weighted) residuals */
typedef struct lcell_lsq {
	lua_State *L;
	int ref;
	size_t n;
	const double *step, *upper;
	int calls;
} lcell_lsq;

/* one call of the Lua residual function into y (n values) */
static int lcell_lsq_eval(lcell_lsq *q, const double *p, size_t np,
			  double *y, char *err)
{
	lua_State *L = q->L;
	size_t k, n;
	lua_rawgeti(L, LUA_REGISTRYINDEX, q->ref);
	lua_createtable(L, (int)np, 0);
	for (k = 0; k < np; k++) {
		lua_pushnumber(L, p[k]);
		lua_rawseti(L, -2, (lua_Integer)k + 1);
	}
	q->calls++;
	if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
		err_set(err, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) :
			"error in the residual function");
		lua_pop(L, 1);
		return -1;
	}
	if (larray_test(L, -1) != NULL) {
		arr *a = larray_test(L, -1);
		n = arr_size(a);
		if (n != q->n) {
			lua_pop(L, 1);
			return err_set(err, "the residual function returned %zu "
				       "values, then %zu", q->n, n);
		}
		for (k = 0; k < n; k++)
			y[k] = arr_get_flat(a, k);
	} else if (lua_istable(L, -1)) {
		n = (size_t)luaL_len(L, -1);
		if (n != q->n) {
			lua_pop(L, 1);
			return err_set(err, "the residual function returned %zu "
				       "values, then %zu", q->n, n);
		}
		for (k = 0; k < n; k++) {
			lua_rawgeti(L, -1, (lua_Integer)k + 1);
			y[k] = lua_tonumber(L, -1);
			lua_pop(L, 1);
		}
	} else {
		lua_pop(L, 1);
		return err_set(err, "the residual function must return a list");
	}
	lua_pop(L, 1);
	return 0;
}

/* fit.h model: residuals, and a forward-difference Jacobian with steps
** large enough to rise above the adaptive integrator's noise */
static int lcell_lsq_model(const double *p, size_t np, const double *x,
			   size_t n, double *y, double *J, void *ctx, char *err)
{
	lcell_lsq *q = ctx;
	double pp[16], *y2;
	size_t j, i;
	(void)x;
	if (lcell_lsq_eval(q, p, np, y, err) != 0)
		return -1;
	if (J == NULL)
		return 0;
	y2 = malloc(n * sizeof(double));
	if (y2 == NULL)
		return err_set(err, "out of memory");
	for (j = 0; j < np; j++) {
		double h = q->step[j];
		memcpy(pp, p, np * sizeof(double));
		if (p[j] + h > q->upper[j])
			h = -h;
		pp[j] = p[j] + h;
		if (lcell_lsq_eval(q, pp, np, y2, err) != 0) {
			free(y2);
			return -1;
		}
		for (i = 0; i < n; i++)
			J[i * np + j] = (y2[i] - y[i]) / h;
	}
	free(y2);
	return 0;
}

/* a list field of numbers (np of them) or def */
static void lcell_lsq_list(lua_State *L, const char *k, size_t np, double *v,
			   double def)
{
	size_t j;
	int t = lua_getfield(L, 1, k);
	for (j = 0; j < np; j++) {
		v[j] = def;
		if (t == LUA_TTABLE) {
			lua_rawgeti(L, -1, (lua_Integer)j + 1);
			if (!lua_isnil(L, -1))
				v[j] = luaL_checknumber(L, -1);
			lua_pop(L, 1);
		} else if (t != LUA_TNIL) {
			luaL_error(L, "cell.lsq: %s must be a list of numbers", k);
		}
	}
	lua_pop(L, 1);
}

/* the fit result as a Lua table */
static void lcell_lsq_push(lua_State *L, const fit_result *res, int calls)
{
	size_t j, np = res->np;
	int t;
	lua_newtable(L);
	t = lua_gettop(L);
	lua_createtable(L, (int)np, 0);
	lua_createtable(L, (int)np, 0);
	lua_createtable(L, (int)np, 0);
	for (j = 0; j < np; j++) {
		lua_pushnumber(L, res->p[j]);
		lua_rawseti(L, t + 1, (lua_Integer)j + 1);
		lua_pushnumber(L, res->err[j]);
		lua_rawseti(L, t + 2, (lua_Integer)j + 1);
		lua_pushboolean(L, res->at_bound[j]);
		lua_rawseti(L, t + 3, (lua_Integer)j + 1);
	}
	lua_setfield(L, t, "at_bound");
	lua_setfield(L, t, "err");
	lua_setfield(L, t, "p");
	lcell_set(L, t, "chi2", res->chi2);
	lcell_set(L, t, "chi2_red", res->chi2_red);
	lcell_set(L, t, "dof", (double)res->dof);
	lcell_set(L, t, "niter", res->niter);
	lcell_set(L, t, "nfev", res->nfev);
	lcell_set(L, t, "runs", calls);
	lua_pushstring(L, res->status_text ? res->status_text : "");
	lua_setfield(L, t, "status");
}

/* cell.lsq{f = fn(p) -> residuals, p0 =, lower =, upper =, step =,
** names =, max_iter =}: GSL nonlinear least squares (fit.h) */
static int lcell_lsq_run(lua_State *L)
{
	lcell_lsq q;
	fit_problem pb;
	fit_result res;
	char err[ERR_LEN];
	double p0[16], lo[16], hi[16], st[16], *zero, *y;
	const char *names[16];
	size_t np, j;
	int rc;
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	if (lua_getfield(L, 1, "f") != LUA_TFUNCTION)	/* 2 */
		return luaL_error(L, "cell.lsq: f must be a function of p");
	memset(&q, 0, sizeof q);
	q.L = L;
	lua_getfield(L, 1, "p0");
	if (!lua_istable(L, -1))
		return luaL_error(L, "cell.lsq: p0 must be a list");
	np = (size_t)luaL_len(L, -1);
	lua_pop(L, 1);
	if (np < 1 || np > 16)
		return luaL_error(L, "cell.lsq: 1 to 16 parameters");
	lcell_lsq_list(L, "p0", np, p0, NAN);
	lcell_lsq_list(L, "lower", np, lo, -INFINITY);
	lcell_lsq_list(L, "upper", np, hi, INFINITY);
	for (j = 0; j < np; j++)
		st[j] = 1e-3 * fmax(fabs(p0[j]), 1e-2);
	lcell_lsq_list(L, "step", np, st, NAN);
	for (j = 0; j < np; j++) {
		if (isnan(st[j]))
			st[j] = 1e-3 * fmax(fabs(p0[j]), 1e-2);
		names[j] = NULL;
	}
	if (lua_getfield(L, 1, "names") == LUA_TTABLE)
		for (j = 0; j < np; j++) {
			lua_rawgeti(L, -1, (lua_Integer)j + 1);
			names[j] = lua_tostring(L, -1);	/* kept by the table */
			lua_pop(L, 1);
		}
	q.step = st;
	q.upper = hi;
	lua_pushvalue(L, 2);
	q.ref = luaL_ref(L, LUA_REGISTRYINDEX);
	/* the first call fixes the number of residuals */
	lua_rawgeti(L, LUA_REGISTRYINDEX, q.ref);
	lua_createtable(L, (int)np, 0);
	for (j = 0; j < np; j++) {
		lua_pushnumber(L, p0[j]);
		lua_rawseti(L, -2, (lua_Integer)j + 1);
	}
	if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
		luaL_unref(L, LUA_REGISTRYINDEX, q.ref);
		return lua_error(L);
	}
	q.n = larray_test(L, -1) ? arr_size(larray_test(L, -1)) :
		(lua_istable(L, -1) ? (size_t)luaL_len(L, -1) : 0);
	lua_pop(L, 1);
	if (q.n < np) {
		luaL_unref(L, LUA_REGISTRYINDEX, q.ref);
		return luaL_error(L, "cell.lsq: the residual function must "
				  "return at least %d values", (int)np);
	}
	zero = lua_newuserdatauv(L, 2 * q.n * sizeof(double), 0);
	y = zero + q.n;
	for (j = 0; j < q.n; j++)
		zero[j] = y[j] = (double)j;
	memset(&pb, 0, sizeof pb);
	pb.model = lcell_lsq_model;
	pb.ctx = &q;
	pb.np = np;
	pb.n = q.n;
	pb.x = y;
	for (j = 0; j < q.n; j++)
		zero[j] = 0;
	pb.y = zero;
	pb.p0 = p0;
	pb.lower = lo;
	pb.upper = hi;
	pb.names = names;
	pb.max_iter = (int)lcell_count(L, 1, "max_iter", 50, 1, 100000,
				       "cell.lsq");
	pb.xtol = lcell_num(L, 1, "xtol", 1e-6);
	pb.gtol = lcell_num(L, 1, "gtol", 1e-8);
	pb.scale_errors = -1;
	rc = fit_run(&pb, &res, err);
	luaL_unref(L, LUA_REGISTRYINDEX, q.ref);
	if (rc != 0)
		return larray_error(L, "cell.lsq", err);
	lcell_lsq_push(L, &res, q.calls);
	fit_result_free(&res);
	return 1;
}

static const luaL_Reg lcell_funcs[] = {
	{"lsq", lcell_lsq_run},
	{"run", lcell_run},
	{"steady_current", lcell_steady},
	{"grid", lcell_grid},
	{"interp", lcell_interp},
	{NULL, NULL}
};

int luaopen_ionflow_cell(lua_State *L)
{
	luaL_newlib(L, lcell_funcs);
	lua_pushnumber(L, CELL_F);
	lua_setfield(L, -2, "F");
	lua_pushnumber(L, CELL_R);
	lua_setfield(L, -2, "R");
	return 1;
}
