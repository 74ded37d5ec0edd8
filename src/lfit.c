/*
** lfit.c - Lua binding of the fitting cores (fit.h, hetero.h).
**
**   fit.curve(model, x, y, {p0=, lower=, upper=, weights= | sigma=,
**             fixed=, names=, max_iter=, scale_errors=, vectorized=,
**             frame_time=, dpl=, spread=})
**   fit.heterodyne(tau, g2 [, err] [, {fit_baseline=, baseline=, gamma=,
**             tau_min=, tau_max=, omega_max=, spread=, pixels={bin=,
**             qx=, qy=, w=}, flow_angle_deg=, global={share=,
**             by_group=, group=}}])
**   fit.velocity{omega=, omega_err=, resolved= | fits=, ring=, q=,
**             qx=, qy= | phi_deg=, flow_angle_deg=, fit_angle=,
**             qxx=, qyy=, qxy=, pixels={bin=, qx=, qy=, w=},
**             master={tau=, g2=, err=}}
**   fit.lsq{f = function(p) return residuals end, p0=, names=, lower=,
**             upper=, bounds=, fixed= | free=, step=, forward=,
**             max_iter=, scale_errors=}   -- least squares over any f
**   fit.profile{...as fit.lsq..., param=, values=}  -- chi2(param)
**   fit.eval(model, params, x [, {spread=, frame_time=, dpl=}])
**             -- a native model at x
**   fit.models   -- names and parameter names of the native models
**   fit.missing(tau, g2 [, err])  -- is a g2 point missing data?
*/
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "fit.h"
#include "hetero.h"
#include "larray.h"
#include "lbind.h"

#define LFIT_NOTE "only the speed |v| is observable: omega = |q.v| is even " \
	"in v, so the flow direction is known up to 180 degrees"

/* index i made absolute, after checking it holds an array or a table
** (larray_from_arg's own message would not name fname) */
static int lfit_numeric_arg(lua_State *L, int i, const char *fname)
{
	i = lua_absindex(L, i);
	if (!larray_test(L, i) && !lua_istable(L, i))
		luaL_error(L, "%s: expected an array or a table of numbers", fname);
	return i;
}

/* a contiguous f64 copy (or view) of the array or table at index i; the
** array stays on the Lua stack (or at i) for as long as it is used */
static arr *lfit_arr(lua_State *L, int i, const char *fname)
{
	return larray_f64(L, lfit_numeric_arg(L, i, fname), fname);
}

/* a vector: a 1-D array, a list, or a row or column matrix */
static const double *lfit_vec(lua_State *L, int i, size_t *n,
			      const char *fname, const char *what)
{
	const double *v = larray_vector(L, lfit_numeric_arg(L, i, fname), 1,
					fname, n);
	if (v == NULL)
		luaL_error(L, "%s: '%s' must be 1-D", fname, what);
	return v;
}

/* an optional field of table t as a vector of exactly n values */
static const double *lfit_field_vec(lua_State *L, int t, const char *k,
				    size_t n, const char *fname)
{
	size_t m;
	if (lua_getfield(L, t, k) == LUA_TNIL) {
		lua_pop(L, 1);
		return NULL;
	}
	const double *v = lfit_vec(L, -1, &m, fname, k);
	if (m != n)
		luaL_error(L, "%s: '%s' has %d values, %d expected", fname, k,
			   (int)m, (int)n);
	return v;
}

/* the same for an array of any shape with n elements (g2 tables) */
static const double *lfit_field_any(lua_State *L, int t, const char *k,
				    size_t n, const char *fname)
{
	if (lua_getfield(L, t, k) == LUA_TNIL) {
		lua_pop(L, 1);
		return NULL;
	}
	arr *a = lfit_arr(L, -1, fname);
	if (arr_size(a) != n)
		luaL_error(L, "%s: '%s' has %d values, %d expected", fname, k,
			   (int)arr_size(a), (int)n);
	return (const double *)a->data;
}

static double *lfit_buf(lua_State *L, size_t n)
{
	return lua_newuserdatauv(L, sizeof(double) * (n ? n : 1), 0);
}

/* ---- fit.curve ---- */

/* parameter values from a list or, with names, a table keyed by them;
** missing entries keep def (required: error naming the parameter) */
static void lfit_params(lua_State *L, int t, const char *k, size_t np,
			const char *const *names, double *out, double def,
			int required, const char *fname)
{
	for (size_t j = 0; j < np && !isnan(def); j++)
		out[j] = def;	/* NaN: out holds the defaults */
	if (lua_getfield(L, t, k) == LUA_TNIL) {
		lua_pop(L, 1);
		if (required)
			luaL_error(L, "%s: '%s' is required", fname, k);
		return;
	}
	int v = lua_gettop(L);
	if (!lua_istable(L, v))
		luaL_error(L, "%s: '%s' must be a table", fname, k);
	for (size_t j = 0; j < np; j++) {
		int tp = lua_rawgeti(L, v, (lua_Integer)j + 1);
		if (tp == LUA_TNIL && names && names[j]) {
			lua_pop(L, 1);
			tp = lua_getfield(L, v, names[j]);
		}
		if (tp == LUA_TNUMBER)
			out[j] = lua_tonumber(L, -1);
		else if (tp != LUA_TNIL || required)
			luaL_error(L, "%s: %s of parameter %s must be a number",
				   fname, k, names && names[j] ? names[j] : "?");
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

/* fixed = {true, false, ...} or {"gamma", ...} or {gamma = true} */
static void lfit_fixed(lua_State *L, int t, size_t np,
		       const char *const *names, int *fixed, const char *fname)
{
	for (size_t j = 0; j < np; j++)
		fixed[j] = 0;
	if (lua_getfield(L, t, "fixed") == LUA_TNIL) {
		lua_pop(L, 1);
		return;
	}
	int v = lua_gettop(L);
	luaL_argexpected(L, lua_istable(L, v), v, "table of fixed parameters");
	lua_pushnil(L);
	while (lua_next(L, v)) {
		int found = -1;
		if (lua_type(L, -2) == LUA_TNUMBER && lua_type(L, -1) == LUA_TSTRING) {
			const char *nm = lua_tostring(L, -1);
			for (size_t j = 0; j < np; j++)
				if (names && names[j] && !strcmp(names[j], nm))
					found = (int)j;
			if (found < 0)
				luaL_error(L, "%s: fixed: no parameter '%s'", fname, nm);
			fixed[found] = 1;
		} else if (lua_type(L, -2) == LUA_TNUMBER) {
			lua_Integer i = lua_tointeger(L, -2);
			if (i < 1 || (size_t)i > np)
				luaL_error(L, "%s: fixed: index %d out of 1..%d", fname,
					   (int)i, (int)np);
			fixed[i - 1] = lua_toboolean(L, -1);
		} else if (lua_type(L, -2) == LUA_TSTRING) {
			const char *nm = lua_tostring(L, -2);
			for (size_t j = 0; j < np; j++)
				if (names && names[j] && !strcmp(names[j], nm))
					found = (int)j;
			if (found < 0)
				luaL_error(L, "%s: fixed: no parameter '%s'", fname, nm);
			fixed[found] = lua_toboolean(L, -1);
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

/* a Lua model called from inside the solver: every call is protected, so
** a Lua error never unwinds through GSL; its message becomes the fit's */
typedef struct lfit_lua {
	lua_State *L;
	int fn, xarr, vectorized;
} lfit_lua;

static int lfit_call_model(const double *p, size_t np, const double *x,
			   size_t n, double *y, double *J, void *ctx,
			   char *err)
{
	lfit_lua *c = ctx;
	lua_State *L = c->L;
	if (J != NULL)
		return 1;	/* no derivatives: the core differences */
	lua_createtable(L, (int)np, 0);
	for (size_t j = 0; j < np; j++) {
		lua_pushnumber(L, p[j]);
		lua_rawseti(L, -2, (lua_Integer)j + 1);
	}
	int pt = lua_gettop(L);
	if (c->vectorized) {
		lua_pushvalue(L, c->fn);
		lua_pushvalue(L, pt);
		lua_pushvalue(L, c->xarr);
		if (lua_pcall(L, 2, 1, 0) != LUA_OK)
			goto fail;
		arr *a = larray_test(L, -1);
		if ((a && arr_size(a) != n) || (!a && (!lua_istable(L, -1) ||
		    (size_t)lua_rawlen(L, -1) != n))) {
			lua_settop(L, pt - 1);
			return err_set(err, "vectorized model must return an "
				       "array or table of %zu numbers", n);
		}
		for (size_t i = 0; i < n; i++) {
			if (a && arr_size(a) == n) {
				y[i] = arr_get_flat(a, i);
			} else if (lua_istable(L, -1)) {
				lua_rawgeti(L, -1, (lua_Integer)i + 1);
				y[i] = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : NAN;
				lua_pop(L, 1);
			} else {
				lua_settop(L, pt - 1);
				return err_set(err, "vectorized model must return an "
					       "array or table of %zu numbers", n);
			}
		}
		lua_settop(L, pt - 1);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		lua_pushvalue(L, c->fn);
		lua_pushvalue(L, pt);
		lua_pushnumber(L, x[i]);
		if (lua_pcall(L, 2, 1, 0) != LUA_OK)
			goto fail;
		if (!lua_isnumber(L, -1)) {
			err_set(err, "returned %s, not a number, at x = %g",
				luaL_typename(L, -1), x[i]);
			lua_settop(L, pt - 1);
			return -1;
		}
		y[i] = lua_tonumber(L, -1);
		lua_pop(L, 1);
	}
	lua_settop(L, pt - 1);
	return 0;
fail:
	err_set(err, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "error");
	lua_settop(L, pt - 1);
	return -1;
}

/* a number, or nil when it is NaN (never a fake value) */
static void lfit_setnum(lua_State *L, const char *k, double v)
{
	if (isnan(v))
		return;
	lua_pushnumber(L, v);
	lua_setfield(L, -2, k);
}

/* the verdict (fit_verdict) and the tests behind it */
static void lfit_push_tests(lua_State *L, int verdict, double q, double rz)
{
	lua_pushstring(L, fit_verdict_name(verdict));
	lua_setfield(L, -2, "status");
	lfit_setnum(L, "chi2_q", q);
	lfit_setnum(L, "runs_z", rz);
}

static void lfit_push_result(lua_State *L, const fit_result *r,
			     const char *const *names)
{
	size_t np = r->np;
	lua_createtable(L, 0, 16);
	lua_createtable(L, (int)np, 0);
	for (size_t j = 0; j < np; j++) {
		lua_pushnumber(L, r->p[j]);
		lua_rawseti(L, -2, (lua_Integer)j + 1);
	}
	lua_setfield(L, -2, "p");
	lua_createtable(L, (int)np, 0);
	for (size_t j = 0; j < np; j++) {
		lua_pushnumber(L, r->err[j]);
		lua_rawseti(L, -2, (lua_Integer)j + 1);
	}
	lua_setfield(L, -2, "err");
	lua_createtable(L, (int)np, 0);
	for (size_t a = 0; a < np; a++) {
		lua_createtable(L, (int)np, 0);
		for (size_t b = 0; b < np; b++) {
			lua_pushnumber(L, r->cov[a * np + b]);
			lua_rawseti(L, -2, (lua_Integer)b + 1);
		}
		lua_rawseti(L, -2, (lua_Integer)a + 1);
	}
	lua_setfield(L, -2, "cov");
	lua_createtable(L, (int)np, 0);
	for (size_t j = 0; j < np; j++) {
		lua_pushboolean(L, r->at_bound[j]);
		lua_rawseti(L, -2, (lua_Integer)j + 1);
	}
	lua_setfield(L, -2, "at_bound");
	for (size_t j = 0; names && j < np; j++) {
		if (names[j] == NULL)
			continue;
		lua_pushnumber(L, r->p[j]);
		lua_setfield(L, -2, names[j]);
		lua_pushfstring(L, "%s_err", names[j]);
		lua_pushnumber(L, r->err[j]);
		lua_settable(L, -3);
	}
	lua_pushnumber(L, r->chi2);
	lua_setfield(L, -2, "chi2");
	lua_pushnumber(L, r->chi2_red);
	lua_setfield(L, -2, "chi2_red");
	lua_pushinteger(L, (lua_Integer)r->dof);
	lua_setfield(L, -2, "dof");
	lua_pushinteger(L, (lua_Integer)r->n);
	lua_setfield(L, -2, "n");
	lua_pushinteger(L, r->niter);
	lua_setfield(L, -2, "niter");
	lua_pushinteger(L, r->nfev);
	lua_setfield(L, -2, "nfev");
	lua_pushstring(L, r->status_text);
	lua_setfield(L, -2, "solver");
	lua_pushboolean(L, r->status == FIT_CONVERGED);
	lua_setfield(L, -2, "converged");
	lfit_push_tests(L, r->verdict, r->chi2_q, r->runs_z);
}

/* parameter names of a Lua model (opts.names), kept alive on the stack */
static const char **lfit_names(lua_State *L, int o, size_t np)
{
	const char **nm = lua_newuserdatauv(L, sizeof(char *) * (np + 1), 0);
	for (size_t j = 0; j <= np; j++)
		nm[j] = NULL;
	if (o == 0 || lua_getfield(L, o, "names") != LUA_TTABLE) {
		if (o)
			lua_pop(L, 1);
		return nm;
	}
	for (size_t j = 0; j < np; j++) {
		lua_rawgeti(L, -1, (lua_Integer)j + 1);
		nm[j] = lua_tostring(L, -1);	/* interned, held by the table */
		lua_pop(L, 1);
	}
	lua_insert(L, -2);	/* names table below the userdata */
	return nm;
}

/* frame_time (s between correlated frames) and dpl of a multi-tau
** correlator, for the averaging of its delays (fit_mt) */
static void lfit_mt_opts(lua_State *L, int o, fit_mt *mt, const char *fname)
{
	mt->dt = lbind_optnum(L, o, "frame_time", 0, fname);
	double dpl = lbind_optnum(L, o, "dpl", 4, fname);
	if (!(mt->dt >= 0 && isfinite(mt->dt)))
		luaL_error(L, "%s: frame_time must be positive (got %f)", fname,
			   (lua_Number)mt->dt);
	if (!(dpl >= 1 && dpl <= 1024 && dpl == floor(dpl)))
		luaL_error(L, "%s: dpl must be an integer 1..1024 (got %f)",
			   fname, (lua_Number)dpl);
	mt->dpl = (int)dpl;
	mt->smooth = 0;
}

/* is field k of the options at index o (0: none) given? */
static int lfit_has(lua_State *L, int o, const char *k)
{
	int has = o != 0 && lua_getfield(L, o, k) != LUA_TNIL;
	if (o != 0)
		lua_pop(L, 1);
	return has;
}

/* the context of native model *fn from the options at index o (0: none),
** for fit.curve and fit.eval: frame_time and dpl give Eq. 1 and the
** homodyne model the multi-tau averaging of a correlator (fit_mt), spread
** Eq. 1 its within-bin envelope, which then runs as
** fit_model_heterodyne_spread. A model that has no use for an option
** refuses it rather than ignore it. */
static void *lfit_native_ctx(lua_State *L, int o, fit_model_fn *fn,
			     fit_eq1_opts *eo, const char *fname)
{
	memset(eo, 0, sizeof *eo);
	eo->srel = lbind_optnum(L, o, "spread", 0, fname);
	if (!(eo->srel >= 0 && eo->srel < 10))
		luaL_error(L, "%s: spread must be in [0, 10)", fname);
	lfit_mt_opts(L, o, &eo->mt, fname);
	if (*fn == fit_model_heterodyne) {
		*fn = fit_model_heterodyne_spread;
		return eo;
	}
	if (lfit_has(L, o, "spread"))
		luaL_error(L, "%s: spread applies to the heterodyne model only "
			   "(the envelope of its cross term)", fname);
	if (*fn == fit_model_homodyne)
		return &eo->mt;
	if (lfit_has(L, o, "frame_time") || lfit_has(L, o, "dpl"))
		luaL_error(L, "%s: frame_time and dpl apply to the native "
			   "heterodyne and homodyne models only", fname);
	return NULL;
}

/* scale_errors: true (always by chi2_red), false (absolute), "up"
** (absolute, scaled up by chi2_red when it exceeds 1, as fit.heterodyne's
** errors) or nil (by chi2_red without weights, else absolute) */
static int lfit_scale_errors(lua_State *L, int o, const char *fname)
{
	int tp = lua_getfield(L, o, "scale_errors"), sc = -1;
	if (tp == LUA_TSTRING && strcmp(lua_tostring(L, -1), "up") == 0)
		sc = 2;
	else if (tp == LUA_TBOOLEAN)
		sc = lua_toboolean(L, -1);
	else if (tp != LUA_TNIL)
		luaL_error(L, "%s: scale_errors must be true, false or \"up\"",
			   fname);
	lua_pop(L, 1);
	return sc;
}

static int lfit_curve(lua_State *L)
{
	const char *fname = "fit.curve";
	fit_model_fn fn;
	const char *const *names = NULL;
	size_t np, n, ny;
	char err[ERR_LEN];
	lfit_lua lc = {L, 1, 2, 0};
	luaL_checktype(L, 4, LUA_TTABLE);
	lua_settop(L, 4);
	const double *x = lfit_vec(L, 2, &n, fname, "x");
	const double *y = lfit_vec(L, 3, &ny, fname, "y");
	if (n != ny)
		return luaL_error(L, "%s: x has %d points, y has %d", fname,
				  (int)n, (int)ny);
	void *ctx = &lc;
	fit_eq1_opts eo;
	if (lua_type(L, 1) == LUA_TSTRING) {
		if (fit_native(lua_tostring(L, 1), &fn, &np, &names, err) != 0)
			return lbind_error(L, fname, err);
		ctx = lfit_native_ctx(L, 4, &fn, &eo, fname);
	} else {
		luaL_checktype(L, 1, LUA_TFUNCTION);
		if (lua_getfield(L, 4, "p0") != LUA_TTABLE)
			return luaL_error(L, "%s: 'p0' (a list of start values) is "
					  "required", fname);
		np = (size_t)luaL_len(L, -1);
		lua_pop(L, 1);
		if (np == 0)
			return luaL_error(L, "%s: 'p0' is empty", fname);
		fn = lfit_call_model;
		names = (const char *const *)lfit_names(L, 4, np);
		lc.vectorized = lbind_optbool(L, 4, "vectorized", 0, fname);
		if (lfit_has(L, 4, "frame_time") || lfit_has(L, 4, "dpl") ||
		    lfit_has(L, 4, "spread"))
			return luaL_error(L, "%s: frame_time, dpl and spread "
					  "apply to the native heterodyne and "
					  "homodyne models only", fname);
	}
	double *p0 = lfit_buf(L, np), *lo = lfit_buf(L, np), *hi = lfit_buf(L, np);
	int *fixed = lua_newuserdatauv(L, sizeof(int) * np, 0);
	lfit_params(L, 4, "p0", np, names, p0, 0, 1, fname);
	for (size_t j = 0; j < np; j++) {
		lo[j] = -INFINITY;
		hi[j] = INFINITY;
	}
	if (fn != lfit_call_model)	/* physical ranges by default */
		fit_native_range(lua_tostring(L, 1), lo, hi);
	lfit_params(L, 4, "lower", np, names, lo, NAN, 0, fname);
	lfit_params(L, 4, "upper", np, names, hi, NAN, 0, fname);
	lfit_fixed(L, 4, np, names, fixed, fname);
	const double *w = lfit_field_vec(L, 4, "weights", n, fname);
	const double *sg = lfit_field_vec(L, 4, "sigma", n, fname);
	int sc = lfit_scale_errors(L, 4, fname);
	fit_problem pb = {.model = fn, .ctx = ctx, .np = np, .n = n, .x = x,
		.y = y, .weights = sg ? NULL : w, .sigma = sg, .p0 = p0, .lower = lo, .upper = hi,
		.fixed = fixed, .names = names,
		.max_iter = (int)lbind_optnum(L, 4, "max_iter", 0, fname),
		.scale_errors = sc, .g2 = fn != lfit_call_model &&
		fn != fit_model_double_exp};
	fit_result r;
	if (fit_run(&pb, &r, err) != 0)
		return lbind_error(L, fname, err);
	lfit_push_result(L, &r, names);
	fit_result_free(&r);
	return 1;
}

/* ---- fit.lsq, fit.profile ---- */

/* a residual function f(p) -> list or array of n weighted residuals, the
** model of a problem whose data are all zero */
typedef struct lfit_res {
	lua_State *L;
	int fn;
	size_t n;
} lfit_res;

/* f(p) at the top of the stack: its values count, or an error */
static size_t lfit_res_count(lua_State *L)
{
	arr *a = larray_test(L, -1);
	if (a != NULL)
		return arr_size(a);
	if (lua_istable(L, -1))
		return (size_t)lua_rawlen(L, -1);
	return (size_t)-1;
}

static int lfit_call_res(const double *p, size_t np, const double *x,
			 size_t n, double *y, double *J, void *ctx, char *err)
{
	lfit_res *c = ctx;
	lua_State *L = c->L;
	int top = lua_gettop(L);
	(void)x;
	if (J != NULL)
		return 1;	/* the core differences */
	lua_pushvalue(L, c->fn);
	lua_createtable(L, (int)np, 0);
	for (size_t j = 0; j < np; j++) {
		lua_pushnumber(L, p[j]);
		lua_rawseti(L, -2, (lua_Integer)j + 1);
	}
	if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
		err_set(err, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) :
			"error in the residual function");
		lua_settop(L, top);
		return -1;
	}
	size_t m = lfit_res_count(L);
	if (m != n) {
		lua_settop(L, top);
		if (m == (size_t)-1)
			return err_set(err, "the residual function must return "
				       "a list or an array");
		return err_set(err, "the residual function returned %zu "
			       "values, then %zu", n, m);
	}
	arr *a = larray_test(L, -1);
	for (size_t i = 0; i < n; i++) {
		if (a != NULL) {
			y[i] = arr_get_flat(a, i);
		} else {
			lua_rawgeti(L, -1, (lua_Integer)i + 1);
			y[i] = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : NAN;
			lua_pop(L, 1);
		}
	}
	lua_settop(L, top);
	return 0;
}

/* the parameter named or numbered by the value at index v, or -1 */
static int lfit_which(lua_State *L, int v, size_t np,
		      const char *const *names)
{
	if (lua_type(L, v) == LUA_TNUMBER) {
		lua_Integer i = lua_tointeger(L, v);
		return i >= 1 && (size_t)i <= np ? (int)i - 1 : -1;
	}
	if (lua_type(L, v) == LUA_TSTRING)
		for (size_t j = 0; names && j < np; j++)
			if (names[j] && !strcmp(names[j], lua_tostring(L, v)))
				return (int)j;
	return -1;
}

/* bounds = {{lo, hi}, ...} or {name = {lo, hi}}: over lower and upper */
static void lfit_bounds(lua_State *L, int o, size_t np,
			const char *const *names, double *lo, double *hi,
			const char *fname)
{
	if (lua_getfield(L, o, "bounds") == LUA_TNIL) {
		lua_pop(L, 1);
		return;
	}
	int b = lua_gettop(L);
	if (!lua_istable(L, b))
		luaL_error(L, "%s: bounds must be a table of {lower, upper}",
			   fname);
	lua_pushnil(L);
	while (lua_next(L, b)) {
		int j = lfit_which(L, -2, np, names);
		if (j < 0)
			luaL_error(L, "%s: bounds: no parameter %s", fname,
				   luaL_tolstring(L, -2, NULL));
		if (!lua_istable(L, -1))
			luaL_error(L, "%s: bounds of %s must be {lower, upper}",
				   fname, names && names[j] ? names[j] : "?");
		lua_rawgeti(L, -1, 1);
		lua_rawgeti(L, -2, 2);
		if (!lua_isnumber(L, -2) || !lua_isnumber(L, -1))
			luaL_error(L, "%s: bounds of %s must be two numbers",
				   fname, names && names[j] ? names[j] : "?");
		lo[j] = lua_tonumber(L, -2);
		hi[j] = lua_tonumber(L, -1);
		lua_pop(L, 3);
	}
	lua_pop(L, 1);
}

/* free = {true, false, ...}, {"a", "b"} or {a = true}: the complement of
** fixed (a parameter not named in a list of names is fixed) */
static void lfit_free(lua_State *L, int o, size_t np,
		      const char *const *names, int *fixed, const char *fname)
{
	if (lua_getfield(L, o, "free") == LUA_TNIL) {
		lua_pop(L, 1);
		return;
	}
	int v = lua_gettop(L);
	if (!lua_istable(L, v))
		luaL_error(L, "%s: free must be a table", fname);
	lua_rawgeti(L, v, 1);
	int bynames = lua_type(L, -1) == LUA_TSTRING;
	lua_pop(L, 1);
	for (size_t j = 0; j < np; j++)
		fixed[j] = bynames;
	lua_pushnil(L);
	while (lua_next(L, v)) {
		int j = lfit_which(L, bynames ? -1 : -2, np, names);
		if (j < 0)
			luaL_error(L, "%s: free: no parameter %s", fname,
				   luaL_tolstring(L, bynames ? -1 : -2, NULL));
		fixed[j] = bynames ? 0 : !lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

/* the problem of fit.lsq and fit.profile from the options at index 1;
** its buffers stay on the Lua stack */
static void lfit_lsq_problem(lua_State *L, lfit_res *rc, fit_problem *pb,
			     const char *fname)
{
	size_t np;
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	if (lua_getfield(L, 1, "f") != LUA_TFUNCTION)	/* 2 */
		luaL_error(L, "%s: f must be a function of the parameter list",
			   fname);
	if (lua_getfield(L, 1, "p0") != LUA_TTABLE)
		luaL_error(L, "%s: 'p0' (a list of start values) is required",
			   fname);
	np = (size_t)lua_rawlen(L, -1);
	lua_pop(L, 1);
	if (np == 0)
		luaL_error(L, "%s: 'p0' is empty", fname);
	const char *const *names = (const char *const *)lfit_names(L, 1, np);
	double *p0 = lfit_buf(L, np), *lo = lfit_buf(L, np);
	double *hi = lfit_buf(L, np), *st = lfit_buf(L, np);
	int *fixed = lua_newuserdatauv(L, sizeof(int) * np, 0);
	lfit_params(L, 1, "p0", np, names, p0, 0, 1, fname);
	lfit_params(L, 1, "lower", np, names, lo, -INFINITY, 0, fname);
	lfit_params(L, 1, "upper", np, names, hi, INFINITY, 0, fname);
	lfit_params(L, 1, "step", np, names, st, 0, 0, fname);
	lfit_bounds(L, 1, np, names, lo, hi, fname);
	lfit_fixed(L, 1, np, names, fixed, fname);
	lfit_free(L, 1, np, names, fixed, fname);
	for (size_t j = 0; j < np; j++)
		if (!(st[j] >= 0 && isfinite(st[j])))
			luaL_error(L, "%s: step of parameter %d must be a "
				   "positive number", fname, (int)j + 1);
	rc->L = L;
	rc->fn = 2;
	/* the first call fixes the number of residuals */
	lua_pushvalue(L, 2);
	lua_createtable(L, (int)np, 0);
	for (size_t j = 0; j < np; j++) {
		lua_pushnumber(L, p0[j]);
		lua_rawseti(L, -2, (lua_Integer)j + 1);
	}
	lua_call(L, 1, 1);
	rc->n = lfit_res_count(L);
	lua_pop(L, 1);
	if (rc->n == (size_t)-1 || rc->n == 0)
		luaL_error(L, "%s: f(p0) must return a non-empty list or array "
			   "of residuals", fname);
	/* unit weights: the residuals carry their own, and the core's
	** error scaling then treats them as absolute */
	double *zero = lfit_buf(L, rc->n), *one = lfit_buf(L, rc->n);
	for (size_t i = 0; i < rc->n; i++) {
		zero[i] = 0;
		one[i] = 1;
	}
	memset(pb, 0, sizeof *pb);
	pb->model = lfit_call_res;
	pb->ctx = rc;
	pb->np = np;
	pb->n = rc->n;
	pb->x = zero;
	pb->y = zero;
	pb->weights = one;
	pb->p0 = p0;
	pb->lower = lo;
	pb->upper = hi;
	pb->fixed = fixed;
	pb->names = names;
	pb->step = st;
	pb->fd_forward = lbind_optbool(L, 1, "forward", 0, fname);
	pb->max_iter = (int)lbind_optnum(L, 1, "max_iter", 0, fname);
	pb->xtol = lbind_optnum(L, 1, "xtol", 0, fname);
	pb->gtol = lbind_optnum(L, 1, "gtol", 0, fname);
	pb->ftol = lbind_optnum(L, 1, "ftol", 0, fname);
	pb->scale_errors = lfit_scale_errors(L, 1, fname);
	if (pb->scale_errors < 0)
		pb->scale_errors = 0;	/* residuals are in units of sigma */
}

/* fit.lsq{f =, p0 =, ...}: see man/ionflow-lua.7 */
static int lfit_lsq(lua_State *L)
{
	const char *fname = "fit.lsq";
	lfit_res rc;
	fit_problem pb;
	fit_result r;
	char err[ERR_LEN];
	lfit_lsq_problem(L, &rc, &pb, fname);
	if (fit_run(&pb, &r, err) != 0)
		return lbind_error(L, fname, err);
	lfit_push_result(L, &r, pb.names);
	double *corr = malloc(sizeof(double) * r.np * r.np);
	if (corr == NULL) {
		fit_result_free(&r);
		return luaL_error(L, "%s: out of memory", fname);
	}
	fit_corr(r.cov, r.np, corr);
	lua_createtable(L, (int)r.np, 0);
	for (size_t a = 0; a < r.np; a++) {
		lua_createtable(L, (int)r.np, 0);
		for (size_t b = 0; b < r.np; b++) {
			lua_pushnumber(L, corr[a * r.np + b]);
			lua_rawseti(L, -2, (lua_Integer)b + 1);
		}
		lua_rawseti(L, -2, (lua_Integer)a + 1);
	}
	lua_setfield(L, -2, "corr");
	lua_createtable(L, (int)r.np, 0);
	for (size_t j = 0; j < r.np; j++) {
		lua_pushboolean(L, !pb.fixed[j]);
		lua_rawseti(L, -2, (lua_Integer)j + 1);
	}
	lua_setfield(L, -2, "free");
	lua_pushinteger(L, (lua_Integer)pb.n);
	lua_setfield(L, -2, "n");
	free(corr);
	fit_result_free(&r);
	return 1;
}

/* fit.profile{f =, p0 =, ..., param = name or index, values = {...}} */
static int lfit_profile(lua_State *L)
{
	const char *fname = "fit.profile";
	lfit_res rc;
	fit_problem pb;
	char err[ERR_LEN];
	size_t nv;
	lfit_lsq_problem(L, &rc, &pb, fname);
	lua_getfield(L, 1, "param");
	int j = lfit_which(L, -1, pb.np, pb.names);
	if (j < 0)
		return luaL_error(L, "%s: param must name or number a "
				  "parameter", fname);
	lua_pop(L, 1);
	lua_getfield(L, 1, "values");
	int vi = lua_gettop(L);
	const double *v = lfit_vec(L, vi, &nv, fname, "values");
	double *chi2 = lfit_buf(L, nv), *p = lfit_buf(L, nv * pb.np);
	if (fit_profile(&pb, (size_t)j, v, nv, chi2, p, err) != 0)
		return lbind_error(L, fname, err);
	lua_createtable(L, 0, 3);
	lua_pushvalue(L, vi);
	lua_setfield(L, -2, "values");
	lua_createtable(L, (int)nv, 0);
	for (size_t k = 0; k < nv; k++) {
		lua_pushnumber(L, chi2[k]);
		lua_rawseti(L, -2, (lua_Integer)k + 1);
	}
	lua_setfield(L, -2, "chi2");
	lua_createtable(L, (int)nv, 0);
	for (size_t k = 0; k < nv; k++) {
		lua_createtable(L, (int)pb.np, 0);
		for (size_t m = 0; m < pb.np; m++) {
			lua_pushnumber(L, p[k * pb.np + m]);
			lua_rawseti(L, -2, (lua_Integer)m + 1);
		}
		lua_rawseti(L, -2, (lua_Integer)k + 1);
	}
	lua_setfield(L, -2, "p");
	return 1;
}

/* ---- fit.heterodyne ---- */

static const char *const lfit_het_names[FIT_HET_NP] =
	{"baseline", "beta", "h", "tau0", "gamma", "omega"};

static void lfit_push_het(lua_State *L, const hetero_result *r)
{
	lua_createtable(L, 0, 20);
	for (int j = 0; j < FIT_HET_NP; j++) {
		lua_pushnumber(L, r->p[j]);
		lua_setfield(L, -2, lfit_het_names[j]);
		lua_pushfstring(L, "%s_err", lfit_het_names[j]);
		lua_pushnumber(L, r->err[j]);
		lua_settable(L, -3);
	}
	lua_pushnumber(L, r->chi2_red);
	lua_setfield(L, -2, "chi2_red");
	lua_pushinteger(L, (lua_Integer)r->n);
	lua_setfield(L, -2, "n");
	lua_pushboolean(L, r->resolved);
	lua_setfield(L, -2, "resolved");
	lua_pushstring(L, r->reason ? r->reason : "fit failed");
	lua_setfield(L, -2, "reason");
	lua_pushnumber(L, r->periods);
	lua_setfield(L, -2, "periods");
	lua_pushnumber(L, r->rho);
	lua_setfield(L, -2, "rho");
	lua_pushboolean(L, r->status == FIT_CONVERGED);
	lua_setfield(L, -2, "converged");
	lua_pushstring(L, fit_status_name(r->status));
	lua_setfield(L, -2, "solver");
	lfit_push_tests(L, r->verdict, r->chi2_q, r->runs_z);
}

static void lfit_het_opts(lua_State *L, int o, hetero_opts *ho,
			  const char *fname)
{
	memset(ho, 0, sizeof *ho);
	ho->fit_baseline = lbind_optbool(L, o, "fit_baseline", 0, fname);
	ho->baseline = lbind_optnum(L, o, "baseline", 1, fname);
	ho->gamma = lbind_optnum(L, o, "gamma", NAN, fname);
	ho->fix_gamma = !isnan(ho->gamma);
	if (!ho->fix_gamma)
		ho->gamma = 1;
	ho->tau_min = lbind_optnum(L, o, "tau_min", 0, fname);
	ho->tau_max = lbind_optnum(L, o, "tau_max", 0, fname);
	ho->omega_max = lbind_optnum(L, o, "omega_max", 0, fname);
	lfit_mt_opts(L, o, &ho->mt, fname);
}

static int lfit_param_index(lua_State *L, const char *nm, const char *fname)
{
	for (int j = 0; j < FIT_HET_NP - 1; j++)
		if (!strcmp(nm, lfit_het_names[j]))
			return j;
	return luaL_error(L, "%s: global: '%s' cannot be shared (baseline, "
			  "beta, h, tau0, gamma)", fname, nm);
}

/* share lists: names shared by all bins, names shared by group */
static void lfit_share(lua_State *L, int g, const char *k, int mode,
		       int *share, const char *fname)
{
	if (lua_getfield(L, g, k) == LUA_TTABLE) {
		lua_Integer m = luaL_len(L, -1);
		for (lua_Integer i = 1; i <= m; i++) {
			lua_rawgeti(L, -1, i);
			share[lfit_param_index(L, luaL_checkstring(L, -1), fname)] = mode;
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
}

/* the global fit of fit.heterodyne's global = {...} */
static int lfit_het_global(lua_State *L, int g, const double *tau,
			   const double *g2, const double *e, size_t n,
			   size_t nb, hetero_result *start, hetero_result *out,
			   double *chi2, const hetero_opts *ho,
			   const char *fname)
{
	char err[ERR_LEN];
	hetero_global hg;
	memset(&hg, 0, sizeof hg);
	hg.nb = nb;
	lfit_share(L, g, "share", 1, hg.share, fname);
	lfit_share(L, g, "by_group", 2, hg.share, fname);
	hg.fixed[0] = !lbind_optbool(L, g, "fit_baseline", 0, fname);
	int *grp = lua_newuserdatauv(L, sizeof(int) * nb, 0);
	const double *gv = lfit_field_vec(L, g, "group", nb, fname);
	for (size_t k = 0; k < nb; k++) {
		if (gv && !(gv[k] >= 1 && gv[k] <= INT_MAX &&
			    gv[k] == floor(gv[k])))
			luaL_error(L, "%s: group of bin %d must be a positive "
				   "integer", fname, (int)k + 1);
		grp[k] = gv ? (int)gv[k] - 1 : 0;	/* (checked first) */
	}
	hg.group = grp;
	hg.start = start;
	hg.mt = ho->mt;
	hg.srel = ho->srel_bins;
	if (hetero_fit_global_aps(&hg, tau, g2, e, n, nb, NULL, ho->srel, out,
				  NULL, NULL, chi2, err) != 0)
		return lbind_error(L, fname, err);
	return 0;
}

/* t.pixels = {bin =, qx =, qy = [, w =]} (arrays of one size) into px;
** none: px->npix = 0. The arrays stay on the stack. */
static void lfit_get_pixels(lua_State *L, int t, hetero_pixels *px,
			    const char *fname)
{
	memset(px, 0, sizeof *px);
	if (t == 0 || lua_getfield(L, t, "pixels") != LUA_TTABLE) {
		if (t)
			lua_pop(L, 1);
		return;
	}
	int pt = lua_gettop(L);
	if (lua_getfield(L, pt, "bin") == LUA_TNIL ||
	    lua_getfield(L, pt, "qx") == LUA_TNIL ||
	    lua_getfield(L, pt, "qy") == LUA_TNIL)
		luaL_error(L, "%s: pixels needs bin, qx and qy", fname);
	int hw = lua_getfield(L, pt, "w") != LUA_TNIL;
	arr *a[4];
	size_t sz[4] = {0, 0, 0, 0};
	for (int j = 0; j < 3 + hw; j++) {
		a[j] = lfit_arr(L, pt + 1 + j, fname);
		sz[j] = arr_size(a[j]);
	}
	if (sz[1] != sz[0] || sz[2] != sz[0] || (hw && sz[3] != sz[0]))
		luaL_error(L, "%s: pixels.bin, qx, qy (and w) have %d, %d, %d "
			   "(and %d) values", fname, (int)sz[0], (int)sz[1],
			   (int)sz[2], (int)sz[3]);
	px->npix = arr_size(a[0]);
	px->bin = (const double *)a[0]->data;
	px->qx = (const double *)a[1]->data;
	px->qy = (const double *)a[2]->data;
	px->w = hw ? (const double *)a[3]->data : NULL;
}

static int lfit_heterodyne(lua_State *L)
{
	const char *fname = "fit.heterodyne";
	size_t n, nb = 1;
	char err[ERR_LEN];
	hetero_opts ho;
	int o = 0;
	lua_settop(L, 4);
	if (lua_istable(L, 4))
		o = 4;
	else if (lua_type(L, 3) == LUA_TTABLE && luaL_len(L, 3) == 0)
		o = 3;	/* fit.heterodyne(tau, g2, opts) */
	const double *tau = lfit_vec(L, 1, &n, fname, "tau");
	arr *ga = lfit_arr(L, 2, fname);
	if (ga->ndim == 2)
		nb = ga->shape[1];
	if (ga->ndim > 2 || arr_size(ga) != n * nb)
		return luaL_error(L, "%s: g2 must be n_tau (%d) or n_tau x n_bins",
				  fname, (int)n);
	const double *g2 = (const double *)ga->data, *e = NULL;
	if (o != 3 && !lua_isnil(L, 3)) {
		arr *ea = lfit_arr(L, 3, fname);
		if (arr_size(ea) != n * nb)
			return luaL_error(L, "%s: err must have the shape of g2", fname);
		e = (const double *)ea->data;
	}
	lfit_het_opts(L, o, &ho, fname);
	if (o && lua_getfield(L, o, "spread") == LUA_TNUMBER) {
		ho.srel = lua_tonumber(L, -1);
		lua_pop(L, 1);
	} else if (o) {
		lua_pop(L, 1);
		ho.srel_bins = lfit_field_vec(L, o, "spread", nb, fname);
	}
	for (size_t k = 0; ho.srel_bins && k < nb; k++)
		if (!(ho.srel_bins[k] >= 0 && ho.srel_bins[k] < 10))
			return luaL_error(L, "%s: spread of bin %d must be in "
					  "[0, 10)", fname, (int)k + 1);
	if (!(ho.srel >= 0 && ho.srel < 10))
		return luaL_error(L, "%s: spread must be in [0, 10)", fname);
	/* pixels = {bin =, qx =, qy =, w =}: each bin's own distribution of
	** q cos chi along flow_angle_deg in the nonlinear fits */
	hetero_pixels px;
	lfit_get_pixels(L, o, &px, fname);
	if (px.npix) {
		double al = lbind_optnum(L, o, "flow_angle_deg", 0, fname) * M_PI / 180;
		size_t *nn = lua_newuserdatauv(L, sizeof(size_t) * nb, 0);
		const double **nr = lua_newuserdatauv(L, sizeof(double *) * 2 * nb, 0);
		double *qcb = lfit_buf(L, nb);
		double *nodes = lfit_buf(L, 2 * HETERO_NODES * nb);
		if (hetero_nodes(&px, NULL, nb, al, qcb, nn, nr, nr + nb, nodes,
				 err) != 0)
			return lbind_error(L, fname, err);
		ho.nnodes_bins = nn;
		ho.node_r_bins = nr;
		ho.node_w_bins = nr + nb;
	}
	hetero_result *res = lua_newuserdatauv(L, sizeof(hetero_result) * nb, 0);
	char (*why)[ERR_LEN] = lua_newuserdatauv(L, (size_t)ERR_LEN * nb, 0);
	if (hetero_fit_bins(tau, g2, e, n, nb, &ho, res, why, err) != 0)
		return lbind_error(L, fname, err);
	int single = ga->ndim < 2;
	double chi2 = NAN;
	hetero_result *gout = NULL;
	if (o && lua_getfield(L, o, "global") == LUA_TTABLE) {
		int g = lua_gettop(L);
		gout = lua_newuserdatauv(L, sizeof(hetero_result) * nb, 0);
		lfit_het_global(L, g, tau, g2, e, n, nb, res, gout, &chi2, &ho,
				fname);
	} else if (o) {
		lua_pop(L, 1);
	}
	if (single && gout == NULL) {
		if (isnan(res[0].p[1]))
			return luaL_error(L, "%s: %s", fname, why[0]);
		lfit_push_het(L, &res[0]);
		return 1;
	}
	lua_createtable(L, (int)nb, 1);
	for (size_t k = 0; k < nb; k++) {
		lfit_push_het(L, gout ? &gout[k] : &res[k]);
		lua_pushstring(L, why[k]);
		lua_setfield(L, -2, "reason");
		lua_rawseti(L, -2, (lua_Integer)k + 1);
	}
	if (gout) {
		lua_pushnumber(L, chi2);
		lua_setfield(L, -2, "chi2_red");
	}
	return 1;
}

/* ---- fit.velocity ---- */

/* the verdict of fit table f (fit.heterodyne's status; none: ok) */
static int lfit_fit_verdict(lua_State *L, int f, size_t k, const char *fname)
{
	int v = FIT_OK;
	if (lua_getfield(L, f, "status") != LUA_TNIL) {
		const char *s = lua_tostring(L, -1);
		v = s ? fit_verdict_parse(s) : -1;
		if (v < 0)
			luaL_error(L, "%s: fits[%d].status must be ok, at bound, "
				   "poor fit, no data or not converged", fname,
				   (int)k + 1);
	}
	lua_pop(L, 1);
	return v;
}

/* per-bin omega, its error, the flag and the verdict from a list of fit
** tables */
static void lfit_from_fits(lua_State *L, int t, size_t nb, double *om,
			   double *oe, int *rs, int *vd, hetero_result *st,
			   const char *fname)
{
	for (size_t k = 0; k < nb; k++) {
		if (lua_rawgeti(L, t, (lua_Integer)k + 1) != LUA_TTABLE)
			luaL_error(L, "%s: fits[%d] is not a fit table", fname,
				   (int)k + 1);
		int f = lua_gettop(L);
		om[k] = lbind_optnum(L, f, "omega", NAN, fname);
		oe[k] = lbind_optnum(L, f, "omega_err", NAN, fname);
		rs[k] = lbind_optbool(L, f, "resolved", 0, fname);
		vd[k] = lfit_fit_verdict(L, f, k, fname);
		memset(&st[k], 0, sizeof st[k]);
		for (int j = 0; j < FIT_HET_NP; j++)
			st[k].p[j] = lbind_optnum(L, f, lfit_het_names[j], NAN, fname);
		st[k].resolved = rs[k];
		st[k].periods = lbind_optnum(L, f, "periods", NAN, fname);
		st[k].reason = rs[k] ? "resolved" : "not resolved";
		lua_pop(L, 1);
	}
}

static void lfit_push_velocity(lua_State *L, const hetero_velocity *v)
{
	lua_createtable(L, 0, 20);
	lua_pushboolean(L, v->resolved); lua_setfield(L, -2, "resolved");
	lua_pushstring(L, v->reason); lua_setfield(L, -2, "reason");
	lfit_setnum(L, "slope_z", v->slope_z);
	if (!v->resolved) {
		lua_pushinteger(L, (lua_Integer)v->nused);
		lua_setfield(L, -2, "nused");
		lua_pushliteral(L, LFIT_NOTE); lua_setfield(L, -2, "note");
		return;
	}
	lua_pushnumber(L, v->v); lua_setfield(L, -2, "v");
	lua_pushnumber(L, v->v_err); lua_setfield(L, -2, "v_err");
	lua_pushnumber(L, v->v * 1e10); lua_setfield(L, -2, "v_A_per_s");
	lua_pushnumber(L, v->v_err * 1e10); lua_setfield(L, -2, "v_err_A_per_s");
	lua_pushnumber(L, v->chi2_red); lua_setfield(L, -2, "chi2_red");
	lua_pushinteger(L, (lua_Integer)v->nused); lua_setfield(L, -2, "nused");
	lua_pushinteger(L, (lua_Integer)v->nrejected);
	lua_setfield(L, -2, "nrejected");
	lua_pushnumber(L, v->flow_angle * 180 / M_PI);
	lua_setfield(L, -2, "flow_angle_deg");
	lua_pushnumber(L, v->flow_angle_err * 180 / M_PI);
	lua_setfield(L, -2, "flow_angle_err_deg");
	lfit_setnum(L, "v_q", v->v_q);
	lfit_setnum(L, "v_q_err", v->v_q_err);
	lfit_setnum(L, "v_rings", v->v_rings);
	lfit_setnum(L, "v_rings_err", v->v_rings_err);
	lua_pushliteral(L, LFIT_NOTE); lua_setfield(L, -2, "note");
	lua_createtable(L, (int)v->nrings, 0);
	for (size_t r = 0; r < v->nrings; r++) {
		const hetero_ring *R = &v->ring[r];
		lua_createtable(L, 0, 7);
		lfit_setnum(L, "q", R->q);
		lfit_setnum(L, "qv", R->qv);
		lfit_setnum(L, "qv_err", R->qv_err);
		lfit_setnum(L, "v", R->v);
		lfit_setnum(L, "v_err", R->v_err);
		lfit_setnum(L, "chi2_red", R->chi2_red);
		lua_pushinteger(L, (lua_Integer)R->nused);
		lua_setfield(L, -2, "nused");
		lua_pushstring(L, fit_verdict_name(R->verdict));
		lua_setfield(L, -2, "status");
		lua_rawseti(L, -2, (lua_Integer)r + 1);
	}
	lua_setfield(L, -2, "rings");
}

static void lfit_master_push(lua_State *L, const hetero_bins *b,
			     const hetero_master_result *r)
{
	const hetero_result *o = r->out;
	lua_createtable(L, 0, 16);
	lua_pushboolean(L, r->why == NULL); lua_setfield(L, -2, "resolved");
	lua_pushstring(L, r->why ? r->why : "resolved");
	lua_setfield(L, -2, "reason");
	lua_pushinteger(L, (lua_Integer)r->nbins); lua_setfield(L, -2, "nbins");
	lfit_setnum(L, "chi2_red", r->chi2_red);
	lfit_setnum(L, "rho", r->rho);
	lua_pushstring(L, fit_verdict_name(r->verdict));
	lua_setfield(L, -2, "status");
	if (r->why)	/* no number where the fit says nothing */
		return;
	lua_pushnumber(L, r->v); lua_setfield(L, -2, "v");
	lua_pushnumber(L, r->v_err); lua_setfield(L, -2, "v_err");
	lua_pushnumber(L, r->v * 1e10); lua_setfield(L, -2, "v_A_per_s");
	lua_pushnumber(L, r->v_err * 1e10); lua_setfield(L, -2, "v_err_A_per_s");
	for (int j = FIT_HET_BETA; j <= FIT_HET_GAMMA; j++) {
		if (j == FIT_HET_TAU0)
			continue;	/* per ring: below */
		lua_pushnumber(L, o[0].p[j]);
		lua_setfield(L, -2, lfit_het_names[j]);
		lua_pushfstring(L, "%s_err", lfit_het_names[j]);
		lua_pushnumber(L, o[0].err[j]);
		lua_settable(L, -3);
	}
	if (r->warning) {
		lua_pushstring(L, r->warning);
		lua_setfield(L, -2, "warning");
	}
	/* tau0 per ring (1-based ring numbers of the input) */
	lua_newtable(L);
	lua_newtable(L);
	for (size_t i = 0; i < r->nbins; i++) {
		lua_Integer ring = b->ring[r->bin[i]] + 1;
		lua_pushnumber(L, o[i].p[FIT_HET_TAU0]);
		lua_rawseti(L, -3, ring);
		lua_pushnumber(L, o[i].err[FIT_HET_TAU0]);
		lua_rawseti(L, -2, ring);
	}
	lua_setfield(L, -3, "tau0_err");
	lua_setfield(L, -2, "tau0");
}

/* the master-curve fit (hetero_master_fit) of the bins' g2 in master =
** {tau =, g2 =, err =, tau_max =, fit_baseline =, frame_time =, dpl =},
** started from the per-bin fits st and the omega(q, chi) speed vr +/- vre */
static void lfit_master(lua_State *L, int m, const hetero_bins *b,
			double alpha, hetero_result *st, double vr,
			double vre, const double *const mom[3],
			const hetero_pixels *px, const char *fname)
{
	size_t n, nb = b->nb;
	char err[ERR_LEN];
	int mt = lua_absindex(L, m);
	if (lua_getfield(L, mt, "tau") == LUA_TNIL)
		luaL_error(L, "%s: master needs tau, g2 (n_tau x n_bins) and "
			   "optionally err", fname);
	hetero_master hm = {.b = b, .alpha = alpha, .start = st,
		.qxx = mom[0], .qyy = mom[1], .qxy = mom[2], .px = px,
		.v_ref = vr, .v_ref_err = vre};
	hm.tau = lfit_vec(L, -1, &n, fname, "master.tau");
	hm.n = n;
	hm.g2 = lfit_field_any(L, mt, "g2", n * nb, fname);
	hm.g2err = lfit_field_any(L, mt, "err", n * nb, fname);
	if (hm.g2 == NULL)
		luaL_error(L, "%s: master.g2 is required", fname);
	lfit_mt_opts(L, mt, &hm.mt, fname);
	hm.fit_baseline = lbind_optbool(L, mt, "fit_baseline", 1, fname);
	hm.tau_max = lbind_optnum(L, mt, "tau_max", -1, fname);
	hetero_master_result r = {
		.bin = lua_newuserdatauv(L, sizeof(size_t) * (nb + 1), 0),
		.out = lua_newuserdatauv(L, sizeof(hetero_result) * (nb + 1), 0)};
	if (hetero_master_fit(&hm, &r, err) != 0)
		lbind_error(L, fname, err);
	lfit_master_push(L, b, &r);
}

/* periods and the core's warning near the resolution limit */
static void lfit_limit(lua_State *L, const hetero_velocity *v, double per)
{
	char msg[ERR_LEN];
	lfit_setnum(L, "periods", per);
	if (!hetero_limit_warning(v->resolved, per, msg))
		return;
	lua_pushstring(L, msg);
	lua_setfield(L, -2, "warning");
}

static int lfit_velocity(lua_State *L)
{
	const char *fname = "fit.velocity";
	char err[ERR_LEN];
	size_t nb;
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	if (lua_getfield(L, 1, "q") == LUA_TNIL)
		return luaL_error(L, "%s: 'q' (mean |q| per bin, 1/m) is required",
				  fname);
	const double *q = lfit_vec(L, -1, &nb, fname, "q");
	double *om = lfit_buf(L, nb), *oe = lfit_buf(L, nb);
	double *qx = lfit_buf(L, nb), *qy = lfit_buf(L, nb);
	int *rs = lua_newuserdatauv(L, sizeof(int) * nb, 0);
	int *ring = lua_newuserdatauv(L, sizeof(int) * nb, 0);
	int *vd = lua_newuserdatauv(L, sizeof(int) * nb, 0);
	hetero_result *st = lua_newuserdatauv(L, sizeof(hetero_result) * nb, 0);
	int have_fits = lua_getfield(L, 1, "fits") == LUA_TTABLE;
	if (have_fits) {
		lfit_from_fits(L, lua_gettop(L), nb, om, oe, rs, vd, st, fname);
	} else {
		const double *o1 = lfit_field_vec(L, 1, "omega", nb, fname);
		const double *o2 = lfit_field_vec(L, 1, "omega_err", nb, fname);
		if (!o1 || !o2)
			return luaL_error(L, "%s: 'fits' or 'omega' and 'omega_err' "
					  "are required", fname);
		memcpy(om, o1, sizeof(double) * nb);
		memcpy(oe, o2, sizeof(double) * nb);
		for (size_t k = 0; k < nb; k++)
			rs[k] = isfinite(om[k]);
		if (lua_getfield(L, 1, "resolved") == LUA_TTABLE)
			for (size_t k = 0; k < nb; k++) {
				lua_rawgeti(L, -1, (lua_Integer)k + 1);
				rs[k] = lua_toboolean(L, -1);
				lua_pop(L, 1);
			}
	}
	const double *rg = lfit_field_vec(L, 1, "ring", nb, fname);
	for (size_t k = 0; k < nb; k++) {
		if (rg && !(rg[k] >= 1 && rg[k] <= INT_MAX &&
			    rg[k] == floor(rg[k])))
			return luaL_error(L, "%s: ring of bin %d must be a positive "
					  "integer", fname, (int)k + 1);
		ring[k] = rg ? (int)rg[k] - 1 : 0;	/* (checked first) */
	}
	const double *ax = lfit_field_vec(L, 1, "qx", nb, fname);
	const double *ay = lfit_field_vec(L, 1, "qy", nb, fname);
	const double *ph = lfit_field_vec(L, 1, "phi_deg", nb, fname);
	if (!(ax && ay) && !ph)
		return luaL_error(L, "%s: 'qx' and 'qy' (bin means, 1/m) or "
				  "'phi_deg' are required", fname);
	hetero_bins_qxy(q, ax, ay, ph, nb, qx, qy);
	/* optional second moments <qx^2>, <qy^2>, <qx qy> per bin (1/m^2):
	** the within-bin spread of q cos chi for the master-curve fit */
	const double *mom[3] = {lfit_field_vec(L, 1, "qxx", nb, fname),
		lfit_field_vec(L, 1, "qyy", nb, fname),
		lfit_field_vec(L, 1, "qxy", nb, fname)};
	if ((mom[0] || mom[1] || mom[2]) && !(mom[0] && mom[1] && mom[2]))
		return luaL_error(L, "%s: 'qxx', 'qyy' and 'qxy' go together",
				  fname);
	/* optional pixels = {bin = p.map, qx = m.q * m.ux, qy = m.q * m.uy,
	** w = }: the master fit then averages Eq. 1 over each bin's pixels */
	hetero_pixels px;
	lfit_get_pixels(L, 1, &px, fname);
	double deg = lbind_optnum(L, 1, "flow_angle_deg", 0, fname);
	double alpha = lbind_optnum(L, 1, "flow_angle", deg * M_PI / 180, fname);
	int fit_angle = lbind_optbool(L, 1, "fit_angle", 0, fname);
	hetero_bins b = {nb, om, oe, rs, ring, q, qx, qy,
		lbind_optnum(L, 1, "min_cos", 0, fname), have_fits ? vd : NULL};
	hetero_velocity *out = lua_newuserdatauv(L, sizeof *out, 0);
	if (hetero_velocity_fit(&b, alpha, fit_angle, out, err) != 0)
		return lbind_error(L, fname, err);
	double per = have_fits ? hetero_median_periods(&b, out->flow_angle, st)
		: NAN;
	int top = lua_gettop(L);
	if (lua_getfield(L, 1, "master") == LUA_TTABLE && out->resolved) {
		if (!have_fits)
			return luaL_error(L, "%s: master needs 'fits' (start values)",
					  fname);
		lfit_master(L, -1, &b, out->flow_angle, st, out->v, out->v_err,
			    mom, &px, fname);
		int mres = lua_gettop(L);
		lfit_push_velocity(L, out);
		lfit_limit(L, out, per);
		lua_pushvalue(L, mres);
		lua_setfield(L, -2, "master");
		return 1;
	}
	lua_settop(L, top);
	lfit_push_velocity(L, out);
	lfit_limit(L, out, per);
	return 1;
}

/* fit.eval(model, params, x): a native model at the points x, params
** as a list or keyed by parameter name (as fit.curve's p0); returns an
** array for an array x, a table for a table x. The optional 4th argument
** {spread = s, frame_time = dt, dpl = 4} gives Eq. 1 the within-bin
** envelope and the multi-tau averaging, the homodyne model the averaging
** (lfit_native_ctx). */
/* fit.eval's window: "levels" (the correlator's, a step where the
** multi-tau level changes; the default) or "smooth" (fit_mt_frames) */
static int lfit_window(lua_State *L, int o, const char *fname)
{
	int tp = lua_getfield(L, o, "window"), smooth = 0;
	if (tp == LUA_TSTRING && strcmp(lua_tostring(L, -1), "smooth") == 0)
		smooth = 1;
	else if (tp != LUA_TNIL && !(tp == LUA_TSTRING &&
		 strcmp(lua_tostring(L, -1), "levels") == 0))
		return luaL_error(L, "%s: window must be \"levels\" or "
				  "\"smooth\"", fname);
	lua_pop(L, 1);
	return smooth;
}

static int lfit_eval(lua_State *L)
{
	const char *fname = "fit.eval";
	fit_model_fn fn;
	const char *const *names;
	size_t np, n;
	char err[ERR_LEN];
	lua_settop(L, 4);
	const char *model = luaL_checkstring(L, 1);
	luaL_checktype(L, 2, LUA_TTABLE);
	if (fit_native(model, &fn, &np, &names, err) != 0)
		return lbind_error(L, fname, err);
	const double *x = lfit_vec(L, 3, &n, fname, "x");
	double *p = lfit_buf(L, np);
	lua_newtable(L);	/* {p0 = params} for lfit_params */
	lua_pushvalue(L, 2);
	lua_setfield(L, -2, "p0");
	lfit_params(L, lua_gettop(L), "p0", np, names, p, 0, 1, fname);
	fit_eq1_opts eo;
	void *ctx = lfit_native_ctx(L, lua_istable(L, 4) ? 4 : 0, &fn, &eo,
				    fname);
	if (lua_istable(L, 4))
		eo.mt.smooth = lfit_window(L, 4, fname);
	arr y;
	size_t shape[1] = {n};
	if (arr_alloc(&y, ARR_F64, 1, shape, err) != 0)
		return lbind_error(L, fname, err);
	arr *ya = larray_push(L, &y);
	if (fn(p, np, x, n, (double *)ya->data, NULL, ctx, err) != 0)
		return lbind_error(L, fname, err);
	if (lua_istable(L, 3)) {	/* a table in, a table out */
		lua_createtable(L, (int)n, 0);
		for (size_t i = 0; i < n; i++) {
			lua_pushnumber(L, ((double *)ya->data)[i]);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
	}
	return 1;
}

/* fit.missing(tau, g2 [, err]): is this g2 point missing data
** (fit_g2_missing)? The rule every g2 fitter applies. */
static int lfit_missing(lua_State *L)
{
	double tau = luaL_checknumber(L, 1), g2 = luaL_checknumber(L, 2);
	int has = !lua_isnoneornil(L, 3);
	lua_pushboolean(L, fit_g2_missing(tau, g2, has ? luaL_checknumber(L, 3)
						: 1, has));
	return 1;
}

static void lfit_push_models(lua_State *L)
{
	static const char *const models[] = {"heterodyne", "homodyne",
					     "double_exp"};
	lua_createtable(L, 0, 3);
	for (int m = 0; m < 3; m++) {
		fit_model_fn fn;
		size_t np;
		const char *const *nm;
		char err[ERR_LEN];
		fit_native(models[m], &fn, &np, &nm, err);
		lua_createtable(L, (int)np, 0);
		for (size_t j = 0; j < np; j++) {
			lua_pushstring(L, nm[j]);
			lua_rawseti(L, -2, (lua_Integer)j + 1);
		}
		lua_setfield(L, -2, models[m]);
	}
}

static const luaL_Reg lfit_funcs[] = {
	{"curve", lfit_curve}, {"heterodyne", lfit_heterodyne},
	{"velocity", lfit_velocity}, {"eval", lfit_eval},
	{"missing", lfit_missing}, {"lsq", lfit_lsq},
	{"profile", lfit_profile}, {NULL, NULL}
};

int luaopen_ionflow_fit(lua_State *L)
{
	luaL_newlib(L, lfit_funcs);
	lfit_push_models(L);
	lua_setfield(L, -2, "models");
	return 1;
}
