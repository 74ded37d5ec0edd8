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
**   fit.eval(model, params, x [, {spread=, frame_time=, dpl=}])
**             -- a native model at x
**   fit.models   -- names and parameter names of the native models
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

static double lfit_optnum(lua_State *L, int t, const char *k, double def,
			  const char *fname)
{
	double v = def;
	if (t == 0)
		return def;
	if (lua_getfield(L, t, k) != LUA_TNIL) {
		if (!lua_isnumber(L, -1))
			luaL_error(L, "%s: '%s' must be a number", fname, k);
		v = lua_tonumber(L, -1);
	}
	lua_pop(L, 1);
	return v;
}

static int lfit_optbool(lua_State *L, int t, const char *k, int def)
{
	int v = def;
	if (t == 0)
		return def;
	if (lua_getfield(L, t, k) != LUA_TNIL)
		v = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return v;
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
	for (size_t j = 0; j < np; j++)
		out[j] = def;
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
	lua_pushinteger(L, r->niter);
	lua_setfield(L, -2, "niter");
	lua_pushinteger(L, r->nfev);
	lua_setfield(L, -2, "nfev");
	lua_pushstring(L, r->status_text);
	lua_setfield(L, -2, "status");
	lua_pushboolean(L, r->status == FIT_CONVERGED);
	lua_setfield(L, -2, "converged");
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
	mt->dt = lfit_optnum(L, o, "frame_time", 0, fname);
	double dpl = lfit_optnum(L, o, "dpl", 4, fname);
	if (!(mt->dt >= 0 && isfinite(mt->dt)))
		luaL_error(L, "%s: frame_time must be positive (got %f)", fname,
			   (lua_Number)mt->dt);
	if (!(dpl >= 1 && dpl <= 1024 && dpl == floor(dpl)))
		luaL_error(L, "%s: dpl must be an integer 1..1024 (got %f)",
			   fname, (lua_Number)dpl);
	mt->dpl = (int)dpl;
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
	eo->srel = lfit_optnum(L, o, "spread", 0, fname);
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
			return larray_error(L, fname, err);
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
		lc.vectorized = lfit_optbool(L, 4, "vectorized", 0);
		if (lfit_has(L, 4, "frame_time") || lfit_has(L, 4, "dpl") ||
		    lfit_has(L, 4, "spread"))
			return luaL_error(L, "%s: frame_time, dpl and spread "
					  "apply to the native heterodyne and "
					  "homodyne models only", fname);
	}
	double *p0 = lfit_buf(L, np), *lo = lfit_buf(L, np), *hi = lfit_buf(L, np);
	int *fixed = lua_newuserdatauv(L, sizeof(int) * np, 0);
	lfit_params(L, 4, "p0", np, names, p0, 0, 1, fname);
	lfit_params(L, 4, "lower", np, names, lo, -INFINITY, 0, fname);
	lfit_params(L, 4, "upper", np, names, hi, INFINITY, 0, fname);
	lfit_fixed(L, 4, np, names, fixed, fname);
	const double *w = lfit_field_vec(L, 4, "weights", n, fname);
	const double *sg = lfit_field_vec(L, 4, "sigma", n, fname);
	if (sg) {
		double *ws = lfit_buf(L, n);
		for (size_t i = 0; i < n; i++)
			ws[i] = 1 / (sg[i] * sg[i]);
		w = ws;
	}
	int sc = lfit_scale_errors(L, 4, fname);
	fit_problem pb = {.model = fn, .ctx = ctx, .np = np, .n = n, .x = x,
		.y = y, .weights = w, .p0 = p0, .lower = lo, .upper = hi,
		.fixed = fixed, .names = names,
		.max_iter = (int)lfit_optnum(L, 4, "max_iter", 0, fname),
		.scale_errors = sc};
	fit_result r;
	if (fit_run(&pb, &r, err) != 0)
		return larray_error(L, fname, err);
	lfit_push_result(L, &r, names);
	fit_result_free(&r);
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
}

static void lfit_het_opts(lua_State *L, int o, hetero_opts *ho,
			  const char *fname)
{
	memset(ho, 0, sizeof *ho);
	ho->fit_baseline = lfit_optbool(L, o, "fit_baseline", 0);
	ho->baseline = lfit_optnum(L, o, "baseline", 1, fname);
	ho->gamma = lfit_optnum(L, o, "gamma", NAN, fname);
	ho->fix_gamma = !isnan(ho->gamma);
	if (!ho->fix_gamma)
		ho->gamma = 1;
	ho->tau_min = lfit_optnum(L, o, "tau_min", 0, fname);
	ho->tau_max = lfit_optnum(L, o, "tau_max", 0, fname);
	ho->omega_max = lfit_optnum(L, o, "omega_max", 0, fname);
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

/* column pointers of the APS layout for the global core */
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
	hg.fixed[0] = !lfit_optbool(L, g, "fit_baseline", 0);
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
	double *cols = lfit_buf(L, 2 * n * nb);
	const double **tp = lua_newuserdatauv(L, sizeof(double *) * nb * 3, 0);
	size_t *ns = lua_newuserdatauv(L, sizeof(size_t) * nb, 0);
	for (size_t k = 0; k < nb; k++) {
		for (size_t i = 0; i < n; i++) {
			cols[k * n + i] = g2[i * nb + k];
			cols[(nb + k) * n + i] = e ? e[i * nb + k] : 1;
		}
		tp[k] = tau;
		tp[nb + k] = cols + k * n;
		tp[2 * nb + k] = cols + (nb + k) * n;
		ns[k] = n;
	}
	hg.tau = tp;
	hg.g2 = tp + nb;
	hg.g2err = e ? tp + 2 * nb : NULL;
	hg.n = ns;
	hg.start = start;
	hg.mt = ho->mt;
	if (ho->srel_bins) {
		hg.srel = ho->srel_bins;
	} else if (ho->srel > 0) {
		double *sr = lfit_buf(L, nb);
		for (size_t k = 0; k < nb; k++)
			sr[k] = ho->srel;
		hg.srel = sr;
	}
	if (hetero_fit_global(&hg, out, NULL, NULL, chi2, err) != 0)
		return larray_error(L, fname, err);
	return 0;
}

/* the pixels of the master bins as nodes for fit_eq1_nodes: each bin's
** ratios r = q cos chi / <q cos chi> over its pixels, sorted and pooled
** into at most LFIT_NODES groups of about equal weight (node = the
** group's weighted mean, weight = its share), which keeps the bin's mean
** exactly and its spread and skew closely. Pixel weights (pixels.w) are
** those of the bin's g2: with a static partition every static bin counts
** once (xpcsio.bin_moments), so a pixel weighs 1 / its static bin's
** pixels; without them all pixels weigh alike. The ratios are to the
** weighted mean of the bin's own pixels, so that the nodes and the bin's
** omega describe the same mean. */
#define LFIT_NODES 24
typedef struct lfit_pix {
	size_t npix;
	const double *bin, *qx, *qy;	/* bin numbers 1.. (0: excluded) */
	const double *w;		/* pixel weights, or NULL */
} lfit_pix;

typedef struct lfit_rw {
	double r, w;
} lfit_rw;

static int lfit_cmp(const void *a, const void *b)
{
	double x = ((const lfit_rw *)a)->r, y = ((const lfit_rw *)b)->r;
	return x < y ? -1 : x > y;
}

/* K groups of about equal weight from n sorted (r, w) pairs */
static size_t lfit_group(const lfit_rw *v, size_t n, double *R, double *W)
{
	double tot = 0;
	for (size_t j = 0; j < n; j++)
		tot += v[j].w;
	size_t K = n < LFIT_NODES ? n : LFIT_NODES, g = 0;
	if (!(tot > 0))
		return 0;
	double cum = 0, sw = 0, swr = 0;
	for (size_t j = 0; j < n; j++) {
		sw += v[j].w;
		swr += v[j].w * v[j].r;
		cum += v[j].w;
		if (cum >= tot * (double)(g + 1) / (double)K * (1 - 1e-12) ||
		    j == n - 1) {
			if (sw > 0) {
				R[g] = swr / sw;
				W[g] = sw / tot;
				g++;
			}
			sw = swr = 0;
			if (g == K)
				break;
		}
	}
	return g;
}

/* nodes of the mb bins use[0..mb-1] (bin numbers use[i] + 1 in
** px->bin); qc[i] receives the bin's weighted mean of q cos chi (NaN,
** and no nodes, for a sector across chi = 90 degrees) */
static void lfit_nodes(lua_State *L, const lfit_pix *px, const size_t *use,
		       size_t mb, double *qc, double ca, double sa, size_t *nn,
		       const double **nr, const double **nw)
{
	size_t *of = lua_newuserdatauv(L, sizeof(size_t) * (mb + 1), 0);
	size_t maxbin = 0;
	for (size_t i = 0; i < mb; i++)
		if (use[i] + 1 > maxbin)
			maxbin = use[i] + 1;
	int *bs = lua_newuserdatauv(L, sizeof(int) * (maxbin + 1), 0);
	for (size_t k = 0; k <= maxbin; k++)
		bs[k] = -1;
	for (size_t i = 0; i < mb; i++)
		bs[use[i] + 1] = (int)i;
	for (size_t i = 0; i <= mb; i++)
		of[i] = 0;
	for (size_t p = 0; p < px->npix; p++) {
		double bv = px->bin[p];
		if (bv >= 1 && bv <= (double)maxbin && bs[(size_t)bv] >= 0)
			of[bs[(size_t)bv] + 1]++;
	}
	for (size_t i = 0; i < mb; i++)
		of[i + 1] += of[i];
	lfit_rw *v = lua_newuserdatauv(L, sizeof(lfit_rw) * (of[mb] + 1), 0);
	double *node = lfit_buf(L, 2 * LFIT_NODES * mb + 1);
	size_t *fill = lua_newuserdatauv(L, sizeof(size_t) * (mb + 1), 0);
	memcpy(fill, of, sizeof(size_t) * (mb + 1));
	size_t *perm = lua_newuserdatauv(L, sizeof(size_t) * (of[mb] + 1), 0);
	for (size_t p = 0; p < px->npix; p++) {
		double bv = px->bin[p], w = px->w ? px->w[p] : 1;
		if (!(bv >= 1 && bv <= (double)maxbin) || bs[(size_t)bv] < 0)
			continue;
		size_t i = (size_t)bs[(size_t)bv];
		double x = px->qx[p] * ca + px->qy[p] * sa;
		perm[fill[i]] = p;
		v[fill[i]].r = isfinite(x) ? x : 0;
		v[fill[i]++].w = isfinite(x) && w > 0 && isfinite(w) ? w : 0;
	}
	for (size_t i = 0; i < mb; i++) {
		size_t cnt = of[i + 1] - of[i];
		lfit_rw *vi = v + of[i];
		double *R = node + 2 * LFIT_NODES * i, *W = R + LFIT_NODES;
		double sw = 0, swx = 0, swq = 0;
		for (size_t j = 0; j < cnt; j++) {
			size_t pj = perm[of[i] + j];
			sw += vi[j].w;
			swx += vi[j].w * vi[j].r;
			swq += vi[j].w * hypot(px->qx[pj], px->qy[pj]);
		}
		qc[i] = sw > 0 ? swx / sw : NAN;
		/* a sector near chi = 90 degrees holds omegas of both signs:
		** its omega is not v <q cos chi> (hetero.h), and it keeps the
		** envelope of its spread */
		if (!(fabs(qc[i]) >= 0.25 * swq / sw))
			qc[i] = NAN;
		nn[i] = 0;
		nr[i] = R;
		nw[i] = W;
		if (!(isfinite(qc[i]) && qc[i] != 0))
			continue;
		for (size_t j = 0; j < cnt; j++)
			vi[j].r /= qc[i];
		qsort(vi, cnt, sizeof *vi, lfit_cmp);
		nn[i] = lfit_group(vi, cnt, R, W);
	}
}

/* t.pixels = {bin =, qx =, qy = [, w =]} (arrays of one size) into px;
** none: px->npix = 0. The arrays stay on the stack. */
static void lfit_get_pixels(lua_State *L, int t, lfit_pix *px,
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
	lfit_pix px;
	lfit_get_pixels(L, o, &px, fname);
	if (px.npix) {
		double al = lfit_optnum(L, o, "flow_angle_deg", 0, fname) * M_PI / 180;
		size_t *use = lua_newuserdatauv(L, sizeof(size_t) * nb, 0);
		size_t *nn = lua_newuserdatauv(L, sizeof(size_t) * nb, 0);
		const double **nr = lua_newuserdatauv(L, sizeof(double *) * 2 * nb, 0);
		double *qcb = lfit_buf(L, nb);
		for (size_t k = 0; k < nb; k++)
			use[k] = k;
		lfit_nodes(L, &px, use, nb, qcb, cos(al), sin(al), nn, nr, nr + nb);
		ho.nnodes_bins = nn;
		ho.node_r_bins = nr;
		ho.node_w_bins = nr + nb;
	}
	hetero_result *res = lua_newuserdatauv(L, sizeof(hetero_result) * nb, 0);
	char (*why)[ERR_LEN] = lua_newuserdatauv(L, (size_t)ERR_LEN * nb, 0);
	if (hetero_fit_bins(tau, g2, e, n, nb, &ho, res, why, err) != 0)
		return larray_error(L, fname, err);
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

/* per-bin omega, its error and the flag from a list of fit tables */
static void lfit_from_fits(lua_State *L, int t, size_t nb, double *om,
			   double *oe, int *rs, hetero_result *st,
			   const char *fname)
{
	for (size_t k = 0; k < nb; k++) {
		if (lua_rawgeti(L, t, (lua_Integer)k + 1) != LUA_TTABLE)
			luaL_error(L, "%s: fits[%d] is not a fit table", fname,
				   (int)k + 1);
		int f = lua_gettop(L);
		om[k] = lfit_optnum(L, f, "omega", NAN, fname);
		oe[k] = lfit_optnum(L, f, "omega_err", NAN, fname);
		rs[k] = lfit_optbool(L, f, "resolved", 0);
		memset(&st[k], 0, sizeof st[k]);
		for (int j = 0; j < FIT_HET_NP; j++)
			st[k].p[j] = lfit_optnum(L, f, lfit_het_names[j], NAN, fname);
		st[k].resolved = rs[k];
		st[k].periods = lfit_optnum(L, f, "periods", NAN, fname);
		st[k].reason = rs[k] ? "resolved" : "not resolved";
		lua_pop(L, 1);
	}
}

/* a number, or nil when it is NaN (never a fake value) */
static void lfit_setnum(lua_State *L, const char *k, double v)
{
	if (isnan(v))
		return;
	lua_pushnumber(L, v);
	lua_setfield(L, -2, k);
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
		lua_rawseti(L, -2, (lua_Integer)r + 1);
	}
	lua_setfield(L, -2, "rings");
}

/* the master-curve bins: a per-bin fit ran (finite start) and the bin
** is away from chi = 90 degrees (|<q cos chi>| >= min_cos <q>, as for
** the velocity: a sector straddling 90 degrees oscillates at <|q cos
** chi|> v, not at |<q cos chi>| v). Rings are renumbered 0.. over the
** rings that keep a bin, so that every tau0 has data. */
static size_t lfit_master_bins(const hetero_bins *b, double alpha,
			       const hetero_result *start, size_t *use,
			       int *grp, int *gring)
{
	double mc = b->min_cos > 0 ? b->min_cos : 0.25;
	int map[HETERO_MAXRING], ng = 0;
	size_t m = 0;
	for (int r = 0; r < HETERO_MAXRING; r++)
		map[r] = -1;
	for (size_t k = 0; k < b->nb; k++) {
		double qc = b->qx[k] * cos(alpha) + b->qy[k] * sin(alpha);
		if (!isfinite(qc) || !isfinite(b->q[k]) ||
		    fabs(qc) < mc * b->q[k] || !isfinite(start[k].p[FIT_HET_BETA]))
			continue;
		if (map[b->ring[k]] < 0) {
			gring[ng] = b->ring[k];
			map[b->ring[k]] = ng++;
		}
		grp[m] = map[b->ring[k]];
		use[m++] = k;
	}
	return m;
}

static void lfit_master_push(lua_State *L, const hetero_result *out,
			     const int *grp, const int *gring, size_t m,
			     double v, double ve, double chi2, const char *why)
{
	lua_createtable(L, 0, 16);
	lua_pushboolean(L, why == NULL); lua_setfield(L, -2, "resolved");
	lua_pushstring(L, why ? why : "resolved"); lua_setfield(L, -2, "reason");
	lua_pushinteger(L, (lua_Integer)m); lua_setfield(L, -2, "nbins");
	lfit_setnum(L, "chi2_red", chi2);
	lfit_setnum(L, "rho", m ? out[0].rho : NAN);
	if (why)	/* no number where the fit says nothing */
		return;
	lua_pushnumber(L, v); lua_setfield(L, -2, "v");
	lua_pushnumber(L, ve); lua_setfield(L, -2, "v_err");
	lua_pushnumber(L, v * 1e10); lua_setfield(L, -2, "v_A_per_s");
	lua_pushnumber(L, ve * 1e10); lua_setfield(L, -2, "v_err_A_per_s");
	lua_pushnumber(L, out[0].p[1]); lua_setfield(L, -2, "beta");
	lua_pushnumber(L, out[0].err[1]); lua_setfield(L, -2, "beta_err");
	lua_pushnumber(L, out[0].p[2]); lua_setfield(L, -2, "h");
	lua_pushnumber(L, out[0].err[2]); lua_setfield(L, -2, "h_err");
	/* a flat valley of beta h (1 - h) = const: numbers with errors
	** that say so, and a warning in words */
	if (!(out[0].err[1] < out[0].p[1] / 3) ||
	    !(out[0].err[2] < out[0].p[2] / 3)) {
		lua_pushliteral(L, "beta and h are not separated by these data "
				"(one of them below 3 standard errors): the cross "
				"term fixes beta h (1 - h), the homodyne term beta "
				"h^2 is too weak to split it");
		lua_setfield(L, -2, "warning");
	}
	lua_pushnumber(L, out[0].p[4]); lua_setfield(L, -2, "gamma");
	lua_pushnumber(L, out[0].err[4]); lua_setfield(L, -2, "gamma_err");
	/* tau0 per ring (1-based ring numbers of the input) */
	lua_newtable(L);
	lua_newtable(L);
	for (size_t i = 0; i < m; i++) {
		lua_pushnumber(L, out[i].p[FIT_HET_TAU0]);
		lua_rawseti(L, -3, gring[grp[i]] + 1);
		lua_pushnumber(L, out[i].err[FIT_HET_TAU0]);
		lua_rawseti(L, -2, gring[grp[i]] + 1);
	}
	lua_setfield(L, -3, "tau0_err");
	lua_setfield(L, -2, "tau0");
}

/* the master-curve fit (paper Figure 2e): the bins' g2 with omega_k =
** v |<q cos chi>_k|, beta, h, gamma shared, tau0 per ring. The speed is
** reported only when hetero_master_check accepts it against the
** omega(q, chi) speed vr +/- vre; otherwise resolved = false and why. */
/* the longest delay of the master fit: master.tau_max (s, 0: all), by
** default half the longest delay with a finite g2 (multi-tau's last
** delay is 1/2 to 1 of the measurement T). The symmetric normalisation
** by the past and future means of the T - tau frames of a pair biases g2
** low by about the relative variance of those means, which grows as
** 1 / (T - tau): a per-bin baseline absorbs the constant part, the rest
** bends the tail down. On simulated 100 s runs with tau0 = 10 s it
** shortened tau0 by ~4 % (beta ~1 % low), several of their now correct
** errors (recovery test: z rms 1.49, max 3.2 with all delays; 1.26, 2.9
** without the last half; 1.15 without the last two thirds, but then a
** flow near one period in the delay range loses the oscillation). */
static double lfit_master_taumax(lua_State *L, int mt, const double *tau,
				 size_t n, const double *g2, size_t nb,
				 const size_t *use, size_t mb, const char *fname)
{
	double tm = lfit_optnum(L, mt, "tau_max", -1, fname), last = 0;
	if (tm >= 0)
		return tm;
	for (size_t t = 0; t < n; t++)
		for (size_t i = 0; i < mb; i++)
			if (isfinite(g2[t * nb + use[i]]) && tau[t] > last)
				last = tau[t];
	return last / 2;
}

static void lfit_master(lua_State *L, int m, const hetero_bins *b,
			double alpha, hetero_result *start, double vr,
			double vre, const double *const mom[3],
			const lfit_pix *px, const char *fname)
{
	size_t n, nb = b->nb;
	char err[ERR_LEN];
	int mt = lua_absindex(L, m);
	if (lua_getfield(L, mt, "tau") == LUA_TNIL)
		luaL_error(L, "%s: master needs tau, g2 (n_tau x n_bins) and "
			   "optionally err", fname);
	const double *tau = lfit_vec(L, -1, &n, fname, "master.tau");
	const double *g2 = lfit_field_any(L, mt, "g2", n * nb, fname);
	const double *e = lfit_field_any(L, mt, "err", n * nb, fname);
	if (g2 == NULL)
		luaL_error(L, "%s: master.g2 is required", fname);
	size_t *use = lua_newuserdatauv(L, sizeof(size_t) * nb, 0);
	int *grp = lua_newuserdatauv(L, sizeof(int) * nb, 0);
	int *gring = lua_newuserdatauv(L, sizeof(int) * HETERO_MAXRING, 0);
	hetero_result *st = lua_newuserdatauv(L, sizeof(hetero_result) * nb, 0);
	size_t mb = lfit_master_bins(b, alpha, start, use, grp, gring);
	double *qc = lfit_buf(L, mb), *cols = lfit_buf(L, 2 * n * mb);
	const double **tp = lua_newuserdatauv(L, sizeof(double *) * 3 * (mb + 1), 0);
	size_t *ns = lua_newuserdatauv(L, sizeof(size_t) * (mb + 1), 0);
	hetero_result *out = lua_newuserdatauv(L, sizeof(hetero_result) * (mb + 1), 0);
	double *srel = lfit_buf(L, mb + 1), ca = cos(alpha), sa = sin(alpha);
	for (size_t i = 0; i < mb; i++) {
		size_t k = use[i];
		qc[i] = b->qx[k] * ca + b->qy[k] * sa;
		srel[i] = 0;
		if (mom[0]) {	/* var(q cos chi) from the second moments */
			double vq = ca * ca * (mom[0][k] - b->qx[k] * b->qx[k]) +
				    sa * sa * (mom[1][k] - b->qy[k] * b->qy[k]) +
				    2 * ca * sa * (mom[2][k] - b->qx[k] * b->qy[k]);
			srel[i] = vq > 0 ? sqrt(vq) / fabs(qc[i]) : 0;
		}
		st[i] = start[k];
		for (size_t t = 0; t < n; t++) {
			cols[i * n + t] = g2[t * nb + k];
			cols[(mb + i) * n + t] = e ? e[t * nb + k] : 1;
		}
		tp[i] = tau;
		tp[mb + i] = cols + i * n;
		tp[2 * mb + i] = cols + (mb + i) * n;
		ns[i] = n;
	}
	size_t *nn = lua_newuserdatauv(L, sizeof(size_t) * (mb + 1), 0);
	const double **nr = lua_newuserdatauv(L, sizeof(double *) * 2 * (mb + 1), 0);
	const double **nw = nr + mb + 1;
	if (px->npix) {
		double *qc0 = lfit_buf(L, mb + 1);
		memcpy(qc0, qc, sizeof(double) * mb);
		lfit_nodes(L, px, use, mb, qc, ca, sa, nn, nr, nw);
		for (size_t i = 0; i < mb; i++)
			if (!isfinite(qc[i])) {	/* keep the moments' mean */
				qc[i] = qc0[i];
				nn[i] = 0;
			}
	}
	int status = FIT_MAXITER;
	const char *note = NULL;
	fit_mt avg;
	lfit_mt_opts(L, mt, &avg, fname);
	/* a baseline per bin: the constant term beta (1-h)^2 is the contrast
	** of the static speckle, which a bin samples once over its few
	** pixels (an error common to all delays), and the symmetric
	** normalisation by static-bin means lowers it by about 1/pixels of a
	** static bin; the free baseline absorbs both, so that beta and h come
	** from the decaying terms, which all bins share */
	int fb = lfit_optbool(L, mt, "fit_baseline", 1);
	hetero_global hg = {.mt = avg, .nb = mb, .tau = tp, .g2 = tp + mb,
		.g2err = e ? tp + 2 * mb : NULL, .n = ns,
		.share = {fb ? 0 : 1, 1, 1, 2, 1}, .fixed = {!fb, 0, 0, 0, 0, 0},
		.group = grp, .qc = qc,
		.start = st, .v0 = vr, .status = &status, .note = &note,
		.srel = mom[0] ? srel : NULL, .nnodes = px->npix ? nn : NULL,
		.node_r = nr, .node_w = nw};
	hg.tau_max = lfit_master_taumax(L, mt, tau, n, g2, nb, use, mb, fname);
	double v = NAN, ve = NAN, chi2 = NAN;
	const char *why = NULL;
	if (mb < 3)
		why = "fewer than 3 bins away from chi = 90 degrees";
	else if (hetero_fit_global(&hg, out, &v, &ve, &chi2, err) != 0)
		why = "master-curve fit failed";	/* singular, no start */
	else if ((why = hetero_master_check(v, ve, status, vr, vre)) == NULL)
		why = note;	/* beta, h, ... of another minimum */
	lfit_master_push(L, out, grp, gring, mb, v, ve, chi2, why);
}

/* median periods (omega tau_eff / 2 pi) of the resolved bins away from
** chi = 90 degrees: near the resolution limit the speed is biased */
static double lfit_median_periods(const hetero_bins *b, double alpha,
				  const hetero_result *st)
{
	double mc = b->min_cos > 0 ? b->min_cos : 0.25, buf[4096];
	size_t m = 0;
	for (size_t k = 0; k < b->nb && m < 4096; k++) {
		double qc = b->qx[k] * cos(alpha) + b->qy[k] * sin(alpha);
		if (b->resolved[k] && isfinite(st[k].periods) &&
		    fabs(qc) >= mc * b->q[k])
			buf[m++] = st[k].periods;
	}
	if (m == 0)
		return NAN;
	for (size_t i = 1; i < m; i++)	/* insertion sort: few bins */
		for (size_t j = i; j > 0 && buf[j] < buf[j - 1]; j--) {
			double t = buf[j];
			buf[j] = buf[j - 1];
			buf[j - 1] = t;
		}
	return m % 2 ? buf[m / 2] : (buf[m / 2 - 1] + buf[m / 2]) / 2;
}

/* periods and, below LFIT_MIN_PERIODS, a warning. Over less than about
** one and a half periods the cosine's curvature is nearly degenerate with
** the decay's shape: cos(omega tau) e^{-(tau/tau0)^gamma} with a larger
** omega, longer tau0 and smaller gamma fits as well, so each bin's free
** tau0 and gamma let its omega drift high. Measured again with the
** multi-tau averaging and the bins' spread in the model (64 x 64 px, 2000
** frames of 0.2 s, tau0 100 s, 4 seeds each): 2.5 A/s (1.0-1.1 periods)
** came out 2.85-2.92, 3.5 A/s (1.2-1.4) 3.67-3.76, 5 A/s (1.3-1.7)
** 5.08-5.13, 7 A/s (2.0-2.3) 7.01-7.09: every seed high, so the bias is
** the model's degeneracy, not noise, and it stays. The master-curve fit
** shares tau0 per ring and gamma, beta, h over all sectors, whose omegas
** span |cos chi| from 0.25 to 1, which lifts the degeneracy: 2.40-2.59
** +/- 0.07-0.11, 3.41-3.52 +/- 0.06, 4.95-5.00 +/- 0.05 in the same runs
** (|z| <= 1.2), hence the advice. */
#define LFIT_MIN_PERIODS 1.5
static void lfit_limit(lua_State *L, const hetero_velocity *v, double per)
{
	char msg[256];
	lfit_setnum(L, "periods", per);
	if (!v->resolved || !(per < LFIT_MIN_PERIODS))
		return;
	snprintf(msg, sizeof msg, "near the resolution limit: median %.2f "
		 "periods in the delay range (< %.1f), the omega(q, chi) speed "
		 "is biased high; use the master-curve fit (master = {...})",
		 per, LFIT_MIN_PERIODS);
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
	hetero_result *st = lua_newuserdatauv(L, sizeof(hetero_result) * nb, 0);
	int have_fits = lua_getfield(L, 1, "fits") == LUA_TTABLE;
	if (have_fits) {
		lfit_from_fits(L, lua_gettop(L), nb, om, oe, rs, st, fname);
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
	for (size_t k = 0; k < nb; k++) {
		qx[k] = ax ? ax[k] : q[k] * cos(ph[k] * M_PI / 180);
		qy[k] = ay ? ay[k] : q[k] * sin(ph[k] * M_PI / 180);
	}
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
	lfit_pix px;
	lfit_get_pixels(L, 1, &px, fname);
	double deg = lfit_optnum(L, 1, "flow_angle_deg", 0, fname);
	double alpha = lfit_optnum(L, 1, "flow_angle", deg * M_PI / 180, fname);
	int fit_angle = lfit_optbool(L, 1, "fit_angle", 0);
	hetero_bins b = {nb, om, oe, rs, ring, q, qx, qy,
		lfit_optnum(L, 1, "min_cos", 0, fname)};
	hetero_velocity *out = lua_newuserdatauv(L, sizeof *out, 0);
	if (hetero_velocity_fit(&b, alpha, fit_angle, out, err) != 0)
		return larray_error(L, fname, err);
	double per = have_fits ? lfit_median_periods(&b, out->flow_angle, st) : NAN;
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
		return larray_error(L, fname, err);
	const double *x = lfit_vec(L, 3, &n, fname, "x");
	double *p = lfit_buf(L, np);
	lua_newtable(L);	/* {p0 = params} for lfit_params */
	lua_pushvalue(L, 2);
	lua_setfield(L, -2, "p0");
	lfit_params(L, lua_gettop(L), "p0", np, names, p, 0, 1, fname);
	fit_eq1_opts eo;
	void *ctx = lfit_native_ctx(L, lua_istable(L, 4) ? 4 : 0, &fn, &eo,
				    fname);
	arr y;
	size_t shape[1] = {n};
	if (arr_alloc(&y, ARR_F64, 1, shape, err) != 0)
		return larray_error(L, fname, err);
	arr *ya = larray_push(L, &y);
	if (fn(p, np, x, n, (double *)ya->data, NULL, ctx, err) != 0)
		return larray_error(L, fname, err);
	if (lua_istable(L, 3)) {	/* a table in, a table out */
		lua_createtable(L, (int)n, 0);
		for (size_t i = 0; i < n; i++) {
			lua_pushnumber(L, ((double *)ya->data)[i]);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
	}
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
	{"velocity", lfit_velocity}, {"eval", lfit_eval}, {NULL, NULL}
};

int luaopen_ionflow_fit(lua_State *L)
{
	luaL_newlib(L, lfit_funcs);
	lfit_push_models(L);
	lua_setfield(L, -2, "models");
	return 1;
}
