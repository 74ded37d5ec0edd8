/*
** lcell.c - Lua binding of the continuum cell model (cell.h): module `cell`.
**
**   local r = cell.run{L = 3e-3, c0 = 1870, V = 0.3, params = "pnb",
**                      t_end = 1100 * 60, N = 200}
**   r.t, r.i, r.V, r.c (nt x nx), r.v0_lab, ...      (arrays, SI units)
**   cell.steady_current{V =, L =, c0 =, D =, tp =, kappa =, R_int =}
**   cell.grid(N, L [, refine]), cell.interp(cs, vs, c)
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
#include "cellmeth.h"
#include "larray.h"
#include "lbind.h"
#include "num.h"

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
	double scale;		/* the result is multiplied by it */
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
	lcell_fn rf;		/* R_int(t) as a Lua function */
	lcell_ttab rt;		/* R_int(t) as a table */
	double *stops;		/* the tables' times: steps land on them */
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
	free(x->rt.t);
	free(x->rt.v);
	x->rt.t = x->rt.v = NULL;
	free(x->stops);
	x->stops = NULL;
	if (x->rf.L && x->rf.ref != LUA_NOREF)
		luaL_unref(L, LUA_REGISTRYINDEX, x->rf.ref);
	x->rf.ref = LUA_NOREF;
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
	x->rf.ref = LUA_NOREF;
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
	return v * f->scale;
}

/* a batch of calls (lcell_call_vec): the function, the arguments, the
** results, and the node being evaluated */
typedef struct lcell_batch {
	lcell_fn *f;
	const double *c;
	double *v;
	size_t n, at;
	int bad;
} lcell_batch;

/* the body of a batch, run protected: one call per node, stopping at the
** first that gives no finite number (lcell_call's checks and messages) */
static int lcell_batch_body(lua_State *L)
{
	lcell_batch *b = lua_touserdata(L, 1);
	lcell_fn *f = b->f;
	lua_rawgeti(L, LUA_REGISTRYINDEX, f->ref);
	for (b->at = 0; b->at < b->n; b->at++) {
		double v;
		int isnum;
		lua_pushvalue(L, 2);
		lua_pushnumber(L, b->c[b->at]);
		lua_call(L, 1, 1);
		v = lua_tonumberx(L, -1, &isnum);
		lua_pop(L, 1);
		if (!isnum || !isfinite(v)) {
			if (!isnum)
				snprintf(f->msg, sizeof f->msg, "%s returned a "
					 "non-number", f->what);
			else
				snprintf(f->msg, sizeof f->msg, "%s returned "
					 "%g", f->what, v);
			b->bad = 1;
			return 0;
		}
		b->v[b->at] = v * f->scale;
	}
	return 0;
}

/* The function at n concentrations (cell_fvec): one protected call around
** the batch rather than one per node, which is most of a call's cost.
** A failure leaves NaN from the failing node on and its message. */
static int lcell_call_vec(void *ud, const double *c, size_t n, double *v)
{
	lcell_fn *f = ud;
	lua_State *L = f->L;
	lcell_batch b = {f, c, v, n, 0, 0};
	size_t j;
	lua_pushcfunction(L, lcell_batch_body);
	lua_pushlightuserdata(L, &b);
	if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
		const char *m = lua_tostring(L, -1);
		snprintf(f->msg, sizeof f->msg, "%s", m ? m : "error object");
		lua_pop(L, 1);
		b.bad = 1;
	}
	if (!b.bad)
		return 0;
	for (j = b.at; j < n; j++)
		v[j] = NAN;
	return -1;
}

static const char *lcell_why(void *ud)
{
	return ((lcell_fn *)ud)->msg;
}

/* linear interpolation of a protocol table; outside it: NaN and why */
static double lcell_ttab_eval(void *ud, double t)
{
	lcell_ttab *tt = ud;
	if (!(t >= tt->t[0] && t <= tt->t[tt->n - 1])) {
		snprintf(tt->msg, sizeof tt->msg, "t = %g s is outside the "
			 "protocol table (%g to %g s)", t, tt->t[0],
			 tt->t[tt->n - 1]);
		return NAN;
	}
	return num_lerp(tt->t, tt->v, tt->n, t);	/* the shared one */
}

static const char *lcell_ttab_why(void *ud)
{
	return ((lcell_ttab *)ud)->msg;
}

/* the function at the top of the stack becomes f (popped) */
static void lcell_fn_set(lua_State *L, lcell_fn *f, const char *what)
{
	f->L = L;
	f->scale = 1;
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

/* how a property table continues past its rows: opts field extrapolate */
static int lcell_extrap(lua_State *L, int v, const char *name)
{
	int mode = CELL_EXTRAP_ERROR;
	lua_getfield(L, v, "extrapolate");
	if (lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), "constant") == 0)
		mode = CELL_EXTRAP_CONSTANT;
	else if (lua_isstring(L, -1) &&
		 strcmp(lua_tostring(L, -1), "linear") == 0)
		mode = CELL_EXTRAP_LINEAR;
	else if (!lua_isnil(L, -1) && !(lua_isstring(L, -1) &&
		 strcmp(lua_tostring(L, -1), "error") == 0))
		luaL_error(L, "cell.run: %s table: extrapolate must be 'error', "
			   "'constant' or 'linear'", name);
	lua_pop(L, 1);
	return mode;
}

/* a table property {c =, v =} times scale into slot */
static void lcell_prop_table(lua_State *L, int v, const char *name,
			     lcell_ctx *x, int slot, double scale)
{
	char err[ERR_LEN];
	size_t nc, nv, k;
	int top = lua_gettop(L), rc;
	const double *c = lcell_numbers(L, v, "c", name, &nc);
	const double *vv = lcell_numbers(L, v, "v", name, &nv);
	double *sv;
	if (nc != nv)
		luaL_error(L, "cell.run: %s table: %d concentrations but %d "
			   "values", name, (int)nc, (int)nv);
	sv = lua_newuserdatauv(L, (nv ? nv : 1) * sizeof(double), 0);
	for (k = 0; k < nv; k++)
		sv[k] = scale * vv[k];
	rc = cell_table_init(&x->tab[slot], name, c, sv, nc, err);
	if (rc != 0)
		lbind_error(L, "cell.run", err);
	lua_settop(L, top);
	x->tab[slot].clamp = lcell_extrap(L, v, name);
}

/* a property from the value at index v: number, function or table, its
** values multiplied by scale */
static void lcell_prop(lua_State *L, int v, const char *name, lcell_ctx *x,
		       int slot, double scale, cell_prop *out)
{
	v = lua_absindex(L, v);
	if (lua_type(L, v) == LUA_TNUMBER) {
		*out = cell_const_prop(scale * lua_tonumber(L, v));
	} else if (lua_isfunction(L, v)) {
		lua_pushvalue(L, v);
		lcell_fn_set(L, &x->pf[slot], name);
		x->pf[slot].scale = scale;
		out->f = lcell_call;
		out->df = NULL;
		out->fdf = NULL;
		out->fv = lcell_call_vec;
		out->ud = &x->pf[slot];
		out->why = lcell_why;
	} else if (lua_istable(L, v)) {
		lcell_prop_table(L, v, name, x, slot, scale);
		*out = cell_table_prop(&x->tab[slot]);
	} else {
		luaL_error(L, "cell.run: property %s must be a number, a "
			   "function of c or a table {c = ..., v = ...}", name);
	}
}

/* Push the parameter set: opts.params as a table, or a name (or FILE.lua)
** given to cell.paramsets, the resolver a Lua module installs
** (ionflow.cellparams does when loaded): the binding knows no module of
** the Lua layer above it. */
static int lcell_paramset(lua_State *L, int o)
{
	int t = lua_getfield(L, o, "params");
	if (t == LUA_TNIL) {
		lua_pop(L, 1);
		lua_newtable(L);
	} else if (t == LUA_TSTRING) {
		if (lua_getfield(L, lua_upvalueindex(1), "paramsets") !=
		    LUA_TFUNCTION)
			luaL_error(L, "cell.run: params '%s' is a name, and no "
				   "resolver of names is installed: require "
				   "\"ionflow.cellparams\" first, or pass a "
				   "table", lua_tostring(L, -2));
		lua_pushvalue(L, -2);
		lua_call(L, 1, 1);
		if (!lua_istable(L, -1))
			luaL_error(L, "cell.run: cell.paramsets('%s') returned "
				   "%s, not a table", lua_tostring(L, -2),
				   luaL_typename(L, -1));
		lua_replace(L, -2);
	} else if (t != LUA_TTABLE) {
		luaL_error(L, "cell.run: params must be a name or a table, "
			   "not %s", luaL_typename(L, -1));
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
	const char *scales[4] = {"D_scale", NULL, "kappa_scale", "Tf_scale"};
	cell_prop *dst[4] = {&p->D, &p->tp, &p->kappa, &p->Tf};
	int k;
	for (k = 0; k < 4; k++) {
		double sc = scales[k] ? lbind_optnum(L, o, scales[k], 1, "cell.run") : 1;
		int v;
		if (!(sc > 0) || !isfinite(sc))
			luaL_error(L, "cell.run: %s = %f must be positive",
				   scales[k], sc);
		v = lcell_pick(L, o, ps, names[k]);
		if (lua_isnil(L, v)) {
			if (k == 3) {
				lua_pop(L, 1);
				p->Tf = cell_const_prop(sc);	/* Tf = 1 */
				continue;
			}
			luaL_error(L, "cell.run: no %s (give params = NAME or "
				   "%s = number, function or table)", shown[k],
				   names[k]);
		}
		lcell_prop(L, v, shown[k], x, k, sc, dst[k]);
		lua_pop(L, 1);
	}
	/* molar volumes: the options, else the set, else the paper's */
	p->V_salt = lbind_optnum(L, o, "V_salt",
				 lbind_optnum(L, ps, "V_salt", p->V_salt,
					      "cell.run"), "cell.run");
	p->V_EO = lbind_optnum(L, o, "V_EO",
			       lbind_optnum(L, ps, "V_EO", p->V_EO, "cell.run"),
			       "cell.run");
}

/* a table {t = ..., v = ...} of a quantity of time at index tv into tt */
static void lcell_ttab_load(lua_State *L, int tv, const char *where,
			    lcell_ttab *tt)
{
	size_t nt, nv, j;
	int top = lua_gettop(L);
	const double *ts = lcell_numbers(L, tv, "t", where, &nt);
	const double *vs = lcell_numbers(L, tv, "v", where, &nv);
	if (nt != nv || nt < 2)
		luaL_error(L, "cell.run: %s: the t and v lists of a time table "
			   "need the same length >= 2", where);
	for (j = 0; j < nt; j++)
		if (!isfinite(ts[j]) || !isfinite(vs[j]) ||
		    (j > 0 && !(ts[j] > ts[j - 1])))
			luaL_error(L, "cell.run: %s: row %d of the time table: "
				   "times must increase and values be finite",
				   where, (int)j + 1);
	tt->t = malloc(nt * sizeof(double));
	tt->v = malloc(nt * sizeof(double));
	if (tt->t == NULL || tt->v == NULL)
		luaL_error(L, "cell.run: out of memory");
	memcpy(tt->t, ts, nt * sizeof(double));
	memcpy(tt->v, vs, nt * sizeof(double));
	tt->n = nt;
	lua_settop(L, top);
}

/* R_int from the options (first) or the set: a number (ohm m^2), a
** function of t (s), a table {t =, v =} interpolated in time, or the
** growth law {R0 =, dR =, t1 =, p =}: R0 + dR (t / t1)^p */
static void lcell_rint(lua_State *L, int o, int ps, lcell_ctx *x,
		       cell_params *p)
{
	int v = lcell_pick(L, o, ps, "R_int");
	if (lua_isnil(L, v)) {
		p->R_int = 0;
	} else if (lua_type(L, v) == LUA_TNUMBER) {
		p->R_int = lua_tonumber(L, v);
	} else if (lua_isfunction(L, v)) {
		lua_pushvalue(L, v);
		lcell_fn_set(L, &x->rf, "R_int(t)");
		p->Rt.fn = lcell_call;
		p->Rt.ud = &x->rf;
		p->Rt.why = lcell_why;
	} else if (lua_istable(L, v) && lua_getfield(L, v, "R0") != LUA_TNIL) {
		lua_pop(L, 1);
		p->R_int = lbind_optnum(L, v, "R0", NAN, "cell.run");
		p->Rt.R_growth = lbind_optnum(L, v, "dR", 0, "cell.run");
		p->Rt.t_growth = lbind_optnum(L, v, "t1", 3600, "cell.run");
		p->Rt.p_growth = lbind_optnum(L, v, "p", 1, "cell.run");
	} else if (lua_istable(L, v)) {
		lua_pop(L, 1);
		lcell_ttab_load(L, v, "R_int", &x->rt);
		p->Rt.fn = lcell_ttab_eval;
		p->Rt.ud = &x->rt;
		p->Rt.why = lcell_ttab_why;
	} else {
		luaL_error(L, "cell.run: R_int must be a number (ohm m^2), a "
			   "function of t, a table {t =, v =} or a growth law "
			   "{R0 =, dR =, t1 =, p =}");
	}
	lua_settop(L, v - 1);
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
		lcell_ttab_load(L, lua_absindex(L, v), where, &x->tt[k]);
		g->fn = lcell_ttab_eval;
		g->ud = &x->tt[k];
		g->why = lcell_ttab_why;
	} else {
		luaL_error(L, "cell.run: %s: %s must be a number, a function "
			   "of t or a table {t = ..., v = ...}", where,
			   hasv ? "V" : "I");
	}
	lua_pop(L, 2);
	g->t_end = INFINITY;
}

static int lcell_cmp(const void *a, const void *b)
{
	double u = *(const double *)a, v = *(const double *)b;
	return (u > v) - (u < v);
}

/* The times of the protocol and R_int tables, sorted and unique: the
** kinks of their linear interpolation, where steps must end (an output
** time between them is interpolated, a kink would cost rejected steps). */
static void lcell_stops(lua_State *L, lcell_ctx *x, cell_params *p)
{
	size_t n = x->rt.n, k, m = 0;
	for (k = 0; k < x->nseg; k++)
		n += x->tt[k].n;
	if (n == 0)
		return;
	x->stops = malloc(n * sizeof(double));
	if (x->stops == NULL)
		luaL_error(L, "cell.run: out of memory");
	for (k = 0; k < x->nseg; k++) {
		if (x->tt[k].n == 0)	/* a segment without a table */
			continue;
		memcpy(x->stops + m, x->tt[k].t, x->tt[k].n * sizeof(double));
		m += x->tt[k].n;
	}
	if (x->rt.n)
		memcpy(x->stops + m, x->rt.t, x->rt.n * sizeof(double));
	qsort(x->stops, n, sizeof(double), lcell_cmp);
	for (k = 0, m = 0; k < n; k++)
		if (m == 0 || x->stops[k] > x->stops[m - 1])
			x->stops[m++] = x->stops[k];
	p->tstop = x->stops;
	p->ntstop = m;
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
				x->seg[k].t_end = lbind_checknum(L,
					lua_gettop(L), "t_end", "cell.run");
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
	lcell_stops(L, x, p);
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
			lbind_error(L, "cell.run", err);
		a = larray_push(L, &c);
		*nt = a->shape[0];
		return (const double *)a->data;
	} else {
		double t_end = lbind_checknum(L, o, "t_end", "cell.run");
		lua_Integer n, k;
		size_t shape[1];
		arr *a;
		if (!(t_end > 0) || !isfinite(t_end))
			luaL_error(L, "cell.run: t_end must be positive");
		n = lbind_optint(L, o, "n_times", 101, 2, LCELL_MAXTIMES,
				 "cell.run");
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
			lbind_error(L, "cell.run", err);
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
		lbind_error(L, "cell.run", err);
	a = larray_push(L, &c);
	*nx = a->shape[0];
	return (const double *)a->data;
}

static void lcell_options(lua_State *L, int o, cell_params *p)
{
	double N, i0;
	p->L = lbind_checknum(L, o, "L", "cell.run");
	p->c0 = lbind_checknum(L, o, "c0", "cell.run");
	p->T = lbind_optnum(L, o, "T", p->T, "cell.run");
	i0 = lbind_optnum(L, o, "i0", 0, "cell.run");
	p->i0_pos = lbind_optnum(L, o, "i0_pos", i0, "cell.run");
	p->i0_neg = lbind_optnum(L, o, "i0_neg", i0, "cell.run");
	p->M_Li = lbind_optnum(L, o, "M_Li", p->M_Li, "cell.run");
	p->rho_Li = lbind_optnum(L, o, "rho_Li", p->rho_Li, "cell.run");
	N = lbind_optnum(L, o, "N", 200, "cell.run");
	if (!(N >= 3 && N <= 1e7) || N != floor(N))
		luaL_error(L, "cell.run: N must be an integer >= 3");
	p->N = (size_t)N;
	p->refine = lbind_optnum(L, o, "refine", 1, "cell.run");
	p->rtol = lbind_optnum(L, o, "rtol", p->rtol, "cell.run");
	p->atol = lbind_optnum(L, o, "atol", 0, "cell.run");
	p->h0 = lbind_optnum(L, o, "h0", 0, "cell.run");
	p->hmax = lbind_optnum(L, o, "hmax", 0, "cell.run");
	p->c_min = lbind_optnum(L, o, "c_min", 0, "cell.run");
	p->max_steps = (size_t)lbind_optint(L, o, "max_steps", 1000000, 1,
					    (lua_Integer)1e12, "cell.run");
	lua_getfield(L, o, "land");
	p->land = lua_toboolean(L, -1);
	lua_pop(L, 1);
	if (!(p->L > 0) || !(p->c0 > 0))
		luaL_error(L, "cell.run: L and c0 must be positive");
}

/* the options, the context and the parameter set of a run (pushed: the
** context and the set, whose index is returned) */
static int lcell_setup(lua_State *L, int o, cell_params *p, lcell_ctx **x)
{
	int ps;
	cell_params_init(p);
	lcell_options(L, o, p);
	*x = lcell_ctx_new(L);
	ps = lcell_paramset(L, o);
	lcell_props(L, o, ps, *x, p);
	lcell_rint(L, o, ps, *x, p);
	return ps;
}

/* cell.run{...}: see the file header and man/ionflow-lua.7 (CELL) */
static int lcell_run(lua_State *L)
{
	cell_params p;
	cell_out out;
	lcell_ctx *x;
	lbind_progress lp;
	char err[ERR_LEN];
	const double *times, *pos;
	size_t nt, nx, k;
	int o = 1, ps, r, rc, ti, xi;
	double drift = 0, *salt;
	luaL_checktype(L, 1, LUA_TTABLE);
	memset(&out, 0, sizeof out);
	ps = lcell_setup(L, o, &p, &x);
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
	out.R_int = lcell_out(L, r, "R_int", 1, nt, 0);
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
	lbind_progress_arg(L, lua_gettop(L), &lp);
	p.prog = &lp.p;
	rc = cell_run(&p, times, nt, pos, nx, &out, err);
	lbind_progress_finish(L, &lp);
	lua_pop(L, 1);
	if (rc != 0)
		return lbind_error(L, "cell.run", err);
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

/* the properties at c0 and the small-step closed forms as fields of t */
static void lcell_c0_push(lua_State *L, int t, const cellmeth_c0 *c)
{
	lcell_set(L, t, "D_true", c->D);
	lcell_set(L, t, "tp_true", c->tp);
	lcell_set(L, t, "kappa_c0", c->kappa);
	lcell_set(L, t, "Tf_c0", c->Tf);
	lcell_set(L, t, "R_bulk", c->Rb);
	lcell_set(L, t, "R_conc", c->Rc);
	lcell_set(L, t, "R_ct", c->Rk);
	lcell_set(L, t, "dUdlnm_c0", c->dUdlnm);
	lcell_set(L, t, "kappa_ideal", c->kappa_ideal);
	lcell_set(L, t, "tp_bv_small", c->tp_bv_small);
	lcell_set(L, t, "ratio_small", c->ratio_small);
}

static void lcell_bv_push(lua_State *L, int t, const cellmeth_bv *r)
{
	lcell_set(L, t, "dV", r->dV);
	lcell_set(L, t, "t_ss", r->t_ss);
	lcell_set(L, t, "I0", r->I0);
	lcell_set(L, t, "Iss", r->Iss);
	lcell_set(L, t, "R0", r->R0);
	lcell_set(L, t, "Rss", r->Rss);
	lcell_set(L, t, "ratio", r->ratio);
	lcell_c0_push(L, t, &r->c0);
}

/* the set's name and note into the result at t (the set at ps) */
static void lcell_name_push(lua_State *L, int t, int ps)
{
	lua_getfield(L, ps, "name");
	lua_setfield(L, t, "params");
	lua_getfield(L, ps, "note");
	lua_setfield(L, t, "note");
}

/* cell.bruce_vincent{params/properties..., dV = 0.01, t_ss =}: what a
** Bruce-Vincent experiment reports (cellmeth.h) */
static int lcell_bruce_vincent(lua_State *L)
{
	cell_params p;
	cellmeth_bv r;
	lcell_ctx *x;
	char err[ERR_LEN];
	int ps, t;
	luaL_checktype(L, 1, LUA_TTABLE);
	ps = lcell_setup(L, 1, &p, &x);
	lcell_stops(L, x, &p);
	memset(&r, 0, sizeof r);
	r.dV = lbind_optnum(L, 1, "dV", 0.01, "cell.bruce_vincent");
	r.t_ss = lbind_optnum(L, 1, "t_ss", 0, "cell.bruce_vincent");
	if (cellmeth_bruce_vincent(&p, &r, err) != 0)
		return lbind_error(L, "cell.bruce_vincent", err);
	lua_newtable(L);
	t = lua_gettop(L);
	lcell_bv_push(L, t, &r);
	lcell_set(L, t, "tp", r.tp);
	lcell_name_push(L, t, ps);
	return 1;
}

/* cell.balsara_newman{params/properties..., dV = 0.01, t_pol =, window =
** {1, 4}, nfit = 41}: what a Balsara-Newman analysis reports */
static int lcell_balsara_newman(lua_State *L)
{
	cell_params p;
	cellmeth_bn r;
	lcell_ctx *x;
	char err[ERR_LEN];
	int ps, t;
	double nfit;
	luaL_checktype(L, 1, LUA_TTABLE);
	ps = lcell_setup(L, 1, &p, &x);
	lcell_stops(L, x, &p);
	memset(&r, 0, sizeof r);
	r.dV = lbind_optnum(L, 1, "dV", 0.01, "cell.balsara_newman");
	r.t_pol = lbind_optnum(L, 1, "t_pol", 0, "cell.balsara_newman");
	nfit = lbind_optnum(L, 1, "nfit", 41, "cell.balsara_newman");
	if (!(nfit >= 2 && nfit <= 1e6) || nfit != floor(nfit))
		return luaL_error(L, "cell.balsara_newman: nfit must be an "
				  "integer >= 2");
	r.nfit = (size_t)nfit;
	if (lua_getfield(L, 1, "window") == LUA_TTABLE) {
		lua_rawgeti(L, -1, 1);
		lua_rawgeti(L, -2, 2);
		r.w0 = luaL_checknumber(L, -2);
		r.w1 = luaL_checknumber(L, -1);
		lua_pop(L, 2);
	} else if (!lua_isnil(L, -1)) {
		return luaL_error(L, "cell.balsara_newman: window must be {w0, "
				  "w1} (units of L^2 / (pi^2 D))");
	}
	lua_pop(L, 1);
	if (cellmeth_balsara_newman(&p, &r, err) != 0)
		return lbind_error(L, "cell.balsara_newman", err);
	lua_newtable(L);
	t = lua_gettop(L);
	lcell_bv_push(L, t, &r.bv);
	lcell_set(L, t, "t_pol", r.t_pol);
	lcell_set(L, t, "rho", r.rho);
	lcell_set(L, t, "D", r.D);
	lcell_set(L, t, "kappa", r.kappa);
	lcell_set(L, t, "dUdlnm", r.dUdlnm);
	lcell_set(L, t, "tp", r.tp);
	lcell_set(L, t, "V1", r.V1);
	lcell_name_push(L, t, ps);
	return 1;
}

/* cell.steady_current{V, L, c0, T, D, tp, kappa, R_int}: the closed form */
static int lcell_steady(lua_State *L)
{
	const char *F = "cell.steady_current";
	char err[ERR_LEN];
	double i;
	luaL_checktype(L, 1, LUA_TTABLE);
	if (cell_steady_current(lbind_checknum(L, 1, "V", F),
				lbind_checknum(L, 1, "L", F),
				lbind_checknum(L, 1, "c0", F),
				lbind_optnum(L, 1, "T", 363.15, F),
				lbind_checknum(L, 1, "D", F),
				lbind_checknum(L, 1, "tp", F),
				lbind_checknum(L, 1, "kappa", F),
				lbind_optnum(L, 1, "R_int", 0, F), &i, err) != 0)
		return lbind_error(L, "cell.steady_current", err);
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
		return lbind_error(L, "cell.grid", err);
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
			return lbind_error(L, "cell.interp", err);
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

static const luaL_Reg lcell_funcs[] = {
	{"run", lcell_run},
	{"bruce_vincent", lcell_bruce_vincent},
	{"balsara_newman", lcell_balsara_newman},
	{"steady_current", lcell_steady},
	{"grid", lcell_grid},
	{"interp", lcell_interp},
	{NULL, NULL}
};

int luaopen_ionflow_cell(lua_State *L)
{
	/* every function has the module table as upvalue: cell.run finds
	** cell.paramsets there */
	luaL_newlibtable(L, lcell_funcs);
	lua_pushvalue(L, -1);
	luaL_setfuncs(L, lcell_funcs, 1);
	lua_pushnumber(L, CELL_F);
	lua_setfield(L, -2, "F");
	lua_pushnumber(L, CELL_R);
	lua_setfield(L, -2, "R");
	return 1;
}
