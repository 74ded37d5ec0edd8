/*
** lspeckle.c - Lua binding of the heterodyne speckle simulator (speckle.h).
**
**   frames, truth = speckle.simulate{energy_keV=, distance=, pixel=,
**       center={x, y}, shape={rows, cols}, frames=, frame_time=,
**       velocity= (m/s: number, function(t) or per-frame array),
**       segments={{t=, v=}, ...}, flow_angle_deg=, tau0=, gamma=, h=,
**       modes= | beta=, mean_counts=, poisson=true, seed=, dtype="u16"}
*/
#include <math.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "larray.h"
#include "lbind.h"
#include "speckle.h"

#define LSPK "speckle.simulate"

/* a pair from {x, y} or {x=, y=} (or {rows, cols}) */
static void lspk_pair(lua_State *L, int t, const char *k, const char *a,
		      const char *b, double *x, double *y)
{
	if (lua_getfield(L, t, k) == LUA_TTABLE) {
		int c = lua_gettop(L);
		if (lua_getfield(L, c, a) == LUA_TNIL) {
			lua_pop(L, 1);
			lua_rawgeti(L, c, 1);
		}
		if (lua_getfield(L, c, b) == LUA_TNIL) {
			lua_pop(L, 1);
			lua_rawgeti(L, c, 2);
		}
		if (!lua_isnumber(L, -2) || !lua_isnumber(L, -1))
			luaL_error(L, "%s: '%s' must hold two numbers", LSPK, k);
		*x = lua_tonumber(L, -2);
		*y = lua_tonumber(L, -1);
		lua_pop(L, 2);
	} else if (!lua_isnil(L, -1)) {
		luaL_error(L, "%s: '%s' must be a table", LSPK, k);
	}
	lua_pop(L, 1);
}

/* geometry as xpcs.geometry takes it (so its table can be passed too) */
static void lspk_geom(lua_State *L, int t, geom *g)
{
	double px, r = NAN, c = NAN;
	if (lua_getfield(L, t, "geometry") == LUA_TTABLE) {
		lspk_geom(L, lua_gettop(L), g);
		lua_pop(L, 1);
		return;
	}
	lua_pop(L, 1);
	g->energy_keV = lbind_checknum(L, t, "energy_keV", LSPK);
	g->distance = lbind_checknum(L, t, "distance", LSPK);
	px = lbind_optnum(L, t, "pixel", NAN, LSPK);
	g->pixel_x = (isnan(px) ? lbind_checknum(L, t, "pixel_x", LSPK)
		: lbind_optnum(L, t, "pixel_x", px, LSPK));
	g->pixel_y = (isnan(px) ? lbind_checknum(L, t, "pixel_y", LSPK)
		: lbind_optnum(L, t, "pixel_y", px, LSPK));
	r = lbind_optnum(L, t, "rows", NAN, LSPK);
	c = lbind_optnum(L, t, "cols", NAN, LSPK);
	lspk_pair(L, t, "shape", "rows", "cols", &r, &c);
	if (!(r >= 1 && c >= 1 && r == floor(r) && c == floor(c) &&
	      r <= 65536 && c <= 65536))
		luaL_error(L, "%s: 'shape' {rows, cols} of integers 1..65536 is "
			   "required", LSPK);
	g->rows = (size_t)r;
	g->cols = (size_t)c;
	g->center_x = lbind_optnum(L, t, "center_x", (c - 1) / 2, LSPK);
	g->center_y = lbind_optnum(L, t, "center_y", (r - 1) / 2, LSPK);
	lspk_pair(L, t, "center", "x", "y", &g->center_x, &g->center_y);
}

/* per-frame velocity from a number, a function of time, an array or
** segments {{t=, v=}, ...} (v from time t on); written into vel */
static void lspk_velocity(lua_State *L, int t, const speckle_params *p,
			  double *vel)
{
	size_t n = p->nframes;
	int tp = lua_getfield(L, t, "velocity");
	if (tp == LUA_TNUMBER) {
		double v = lua_tonumber(L, -1);
		for (size_t i = 0; i < n; i++)
			vel[i] = v;
	} else if (tp == LUA_TFUNCTION) {
		for (size_t i = 0; i < n; i++) {
			lua_pushvalue(L, -1);
			lua_pushnumber(L, (double)i * p->frame_time);
			lua_call(L, 1, 1);
			if (!lua_isnumber(L, -1))
				luaL_error(L, "%s: velocity(t) must return a number "
					   "(frame %d)", LSPK, (int)i + 1);
			vel[i] = lua_tonumber(L, -1);
			lua_pop(L, 1);
		}
	} else if (tp != LUA_TNIL && !(tp == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
		if (tp != LUA_TTABLE && !larray_test(L, -1))
			luaL_error(L, "%s: velocity must be a number (m/s), a "
				   "function of time or a per-frame array", LSPK);
		arr *a = larray_from_arg(L, lua_gettop(L), ARR_F64);
		if (arr_size(a) != n)
			luaL_error(L, "%s: velocity has %d values for %d frames",
				   LSPK, (int)arr_size(a), (int)n);
		for (size_t i = 0; i < n; i++)
			vel[i] = arr_get_flat(a, i);
	} else {
		lua_pop(L, 1);
		if (lua_getfield(L, t, "segments") != LUA_TTABLE)
			luaL_error(L, "%s: 'velocity' or 'segments' is required",
				   LSPK);
		for (size_t i = 0; i < n; i++)
			vel[i] = 0;
		lua_Integer ns = luaL_len(L, -1);
		for (lua_Integer s = 1; s <= ns; s++) {
			lua_rawgeti(L, -1, s);
			if (!lua_istable(L, -1))
				luaL_error(L, "%s: segment %d must be {t=, v=}", LSPK,
					   (int)s);
			double t0 = lbind_checknum(L, lua_gettop(L), "t", LSPK);
			double v = lbind_checknum(L, lua_gettop(L), "v", LSPK);
			for (size_t i = 0; i < n; i++)
				if ((double)i * p->frame_time >= t0)
					vel[i] = v;
			lua_pop(L, 1);
		}
	}
}

static void lspk_params(lua_State *L, int t, speckle_params *p)
{
	memset(p, 0, sizeof *p);
	lspk_geom(L, t, &p->geom);
	double nf = lbind_checknum(L, t, "frames", LSPK);
	if (!(nf >= 1 && nf == floor(nf) && nf <= 16777216))
		luaL_error(L, "%s: 'frames' must be an integer 1..16777216", LSPK);
	p->nframes = (size_t)nf;
	p->frame_time = lbind_checknum(L, t, "frame_time", LSPK);
	double deg = lbind_optnum(L, t, "flow_angle_deg", 0, LSPK);
	p->flow_angle = lbind_optnum(L, t, "flow_angle", deg * M_PI / 180, LSPK);
	p->tau0 = lbind_checknum(L, t, "tau0", LSPK);
	p->gamma = lbind_optnum(L, t, "gamma", 1, LSPK);
	p->h = lbind_checknum(L, t, "h", LSPK);
	double beta = lbind_optnum(L, t, "beta", NAN, LSPK);
	double modes = lbind_optnum(L, t, "modes", isnan(beta) ? 1 : round(1 / beta), LSPK);
	if (!isnan(beta) && !(beta > 0 && fabs(1 / beta - round(1 / beta)) < 1e-6))
		luaL_error(L, "%s: beta %f is not 1/modes for a whole number of "
			   "modes (use modes=)", LSPK, beta);
	if (!isnan(beta) && fabs(1 / beta - modes) > 1e-6)
		luaL_error(L, "%s: beta %f and modes %d disagree (beta = 1/modes)",
			   LSPK, beta, (int)modes);
	if (!(modes >= 1 && modes <= SPECKLE_MAXMODES && modes == floor(modes)))
		luaL_error(L, "%s: 'modes' must be an integer 1..%d", LSPK,
			   SPECKLE_MAXMODES);
	p->modes = (int)modes;
	p->mean_counts = lbind_checknum(L, t, "mean_counts", LSPK);
	p->poisson = lbind_optbool(L, t, "poisson", 1, LSPK);
	double seed = lbind_optnum(L, t, "seed", 1, LSPK);
	if (!(seed >= 0 && seed == floor(seed) && seed < 9007199254740992.0))
		luaL_error(L, "%s: 'seed' must be a non-negative integer", LSPK);
	p->seed = (uint64_t)seed;
}

static void lspk_setnum(lua_State *L, const char *k, double v)
{
	lua_pushnumber(L, v);
	lua_setfield(L, -2, k);
}

/* the truth table returned with the frames */
static void lspk_truth(lua_State *L, const speckle_params *p,
		       const speckle_mix *mix, int velidx)
{
	size_t n = p->nframes;
	lua_createtable(L, 0, 32);
	lspk_setnum(L, "energy_keV", p->geom.energy_keV);
	lspk_setnum(L, "distance", p->geom.distance);
	lspk_setnum(L, "pixel_x", p->geom.pixel_x);
	lspk_setnum(L, "pixel_y", p->geom.pixel_y);
	lspk_setnum(L, "center_x", p->geom.center_x);
	lspk_setnum(L, "center_y", p->geom.center_y);
	lua_pushinteger(L, (lua_Integer)p->geom.rows);
	lua_setfield(L, -2, "rows");
	lua_pushinteger(L, (lua_Integer)p->geom.cols);
	lua_setfield(L, -2, "cols");
	lua_pushinteger(L, (lua_Integer)n);
	lua_setfield(L, -2, "frames");
	lspk_setnum(L, "frame_time", p->frame_time);
	lspk_setnum(L, "flow_angle", p->flow_angle);
	lspk_setnum(L, "flow_angle_deg", p->flow_angle * 180 / M_PI);
	lspk_setnum(L, "tau0", p->tau0);
	lspk_setnum(L, "gamma", p->gamma);
	lspk_setnum(L, "h", p->h);
	lspk_setnum(L, "beta", 1.0 / p->modes);
	lua_pushinteger(L, p->modes);
	lua_setfield(L, -2, "modes");
	lspk_setnum(L, "mean_counts", p->mean_counts);
	lua_pushboolean(L, p->poisson);
	lua_setfield(L, -2, "poisson");
	lua_pushinteger(L, (lua_Integer)p->seed);
	lua_setfield(L, -2, "seed");
	lua_pushvalue(L, velidx);
	lua_setfield(L, -2, "velocity");
	int constant = 1;
	for (size_t i = 1; i < n; i++)
		constant &= p->velocity[i] == p->velocity[0];
	if (constant)
		lspk_setnum(L, "v", p->velocity[0]);
	size_t sh[1] = {n};
	arr *x = larray_new_uninit(L, ARR_F64, 1, sh);
	speckle_displacement(p, (double *)x->data);
	lua_setfield(L, -2, "displacement");
	lua_createtable(L, 0, 3);
	lua_createtable(L, mix->n, 0);
	for (int j = 0; j < mix->n; j++) {
		lua_pushnumber(L, mix->rate[j]);
		lua_rawseti(L, -2, j + 1);
	}
	lua_setfield(L, -2, "rates");
	lua_createtable(L, mix->n, 0);
	for (int j = 0; j < mix->n; j++) {
		lua_pushnumber(L, mix->w[j]);
		lua_rawseti(L, -2, j + 1);
	}
	lua_setfield(L, -2, "weights");
	lspk_setnum(L, "max_err", mix->max_err);
	lua_setfield(L, -2, "mixture");
	lua_pushliteral(L, "g2 = 1 + beta[(1-h)^2 + h^2 f^2 + 2h(1-h) f "
			"cos(q.v tau)], f = exp(-(tau/tau0)^gamma); h is the "
			"moving fraction");
	lua_setfield(L, -2, "model");
}

static int lspk_simulate(lua_State *L)
{
	speckle_params p;
	speckle_mix mix;
	arr_dtype dt = ARR_U16;
	char err[ERR_LEN];
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	lspk_params(L, 1, &p);
	if (lua_getfield(L, 1, "dtype") != LUA_TNIL &&
	    arr_dtype_parse(luaL_checkstring(L, -1), &dt, err) != 0)
		return lbind_error(L, LSPK, err);
	lua_pop(L, 1);
	size_t vs[1] = {p.nframes};
	arr *vel = larray_new_uninit(L, ARR_F64, 1, vs);	/* index 2 */
	lspk_velocity(L, 1, &p, (double *)vel->data);
	lua_settop(L, 2);
	p.velocity = (const double *)vel->data;
	if (speckle_check(&p, &mix, err) != 0)
		return lbind_error(L, LSPK, err);
	size_t sh[3] = {p.nframes, p.geom.rows, p.geom.cols};
	arr *fr = larray_new_uninit(L, dt, 3, sh);	/* index 3 */
	lbind_progress lp;
	lua_getfield(L, 1, "progress");			/* index 4 */
	lbind_progress_arg(L, 4, &lp);
	p.prog = &lp.p;
	int rc = speckle_simulate(&p, fr->data, dt, err);
	lbind_progress_finish(L, &lp);
	if (rc != 0)
		return lbind_error(L, LSPK, err);
	lua_settop(L, 3);	/* opts, velocities, frames */
	lspk_truth(L, &p, &mix, 2);
	return 2;
}

static const luaL_Reg lspk_funcs[] = {
	{"simulate", lspk_simulate}, {NULL, NULL}
};

int luaopen_ionflow_speckle(lua_State *L)
{
	luaL_newlib(L, lspk_funcs);
	return 1;
}
