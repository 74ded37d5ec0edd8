/*
** lmd.c - Lua binding of trajectory input and MD transport analysis
** (traj.h, msd.h): module `md`.
**
**   local t = md.open("run.h5" [, {group=, length_unit=, time_unit=,
**                                  unwrapped=, truncated=, type_column=}])
**   t:info(), t:next() -> i, time_s, positions (N x 3, m), box {x, y, z
**                          [, xy=, xz=, yz= when triclinic]}
**   md.synthetic{ncat=, nan=, nsolv=, frames=, dt=, box=, D_cat=, D_an=,
**                D_common=, s_common=, D_solv=, seed=}    (same object)
**   md.write_h5md(path, t [, {wrap=true}])
**   md.write_lammps(path, t [, {style="images"|"wrapped"|"unwrapped",
**                               timestep=1e-15}])
**   local r = md.transport(path | t, {cation=1, anion=2, solvent=3,
**       temperature=363, frame="barycentric"|"solvent"|"lab",
**       masses={[1]=6.94, ...}, blocks=5, skip=0, fit={lo_s, hi_s}})
**   md.msd(x) -> MSD of one series over all time origins (FFT)
**   md.pairs(path | t, {cation=, anion=, cutoff=, max_lag=, stride=})
**       -> nearest-anion residence and cation-anion displacement
**          correlation within the cutoff
**
** Results are SI; a value that cannot be computed (no error bar from a
** single block, no temperature) is absent rather than NaN.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "larray.h"
#include "lbind.h"
#include "msd.h"
#include "pairdyn.h"
#include "traj.h"

#define LMD_TRAJ "ionflow.md.traj"
#define LMD_RES "ionflow.md.res"
/* bounds of count options (frames of a trajectory, particles of a
** synthetic one): far above real runs, far below what overflows */
#define LMD_MAXFRAMES 1000000000
#define LMD_MAXATOMS 100000000

typedef struct lmd_traj { traj *t; } lmd_traj;
typedef struct lmd_res { msd_res r; } lmd_res;

static int lmd_traj_close(lua_State *L)
{
	lmd_traj *u = luaL_checkudata(L, 1, LMD_TRAJ);
	traj_close(u->t);
	u->t = NULL;
	return 0;
}

static int lmd_res_gc(lua_State *L)
{
	lmd_res *u = luaL_checkudata(L, 1, LMD_RES);
	msd_res_free(&u->r);
	return 0;
}

static lmd_traj *lmd_traj_new(lua_State *L)
{
	lmd_traj *u = lua_newuserdatauv(L, sizeof *u, 0);
	u->t = NULL;
	luaL_setmetatable(L, LMD_TRAJ);
	return u;
}

static traj *lmd_checktraj(lua_State *L, int i)
{
	lmd_traj *u = luaL_checkudata(L, i, LMD_TRAJ);
	if (u->t == NULL)
		luaL_argerror(L, i, "trajectory is closed");
	return u->t;
}

/* md.open(path [, opts]) */
static int lmd_open(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	traj_opts o;
	char err[ERR_LEN], group[128] = "", tcol[64] = "";
	lmd_traj *u;
	memset(&o, 0, sizeof o);
	if (!lua_isnoneornil(L, 2)) {
		luaL_checktype(L, 2, LUA_TTABLE);
		if (lua_getfield(L, 2, "group") == LUA_TSTRING) {
			snprintf(group, sizeof group, "%s",
				 lua_tostring(L, -1));
			o.group = group;
		}
		lua_pop(L, 1);
		if (lua_getfield(L, 2, "type_column") == LUA_TSTRING) {
			snprintf(tcol, sizeof tcol, "%s", lua_tostring(L, -1));
			o.type_column = tcol;
		}
		lua_pop(L, 1);
		o.length_scale = lbind_optnum(L, 2, "length_unit", 0,
				"md.open");
		o.time_scale = lbind_optnum(L, 2, "time_unit", 0, "md.open");
		o.unwrapped = lbind_optbool(L, 2, "unwrapped", 0, "md.open");
		o.truncated = lbind_optbool(L, 2, "truncated", 0, "md.open");
		if (o.length_scale < 0 || o.time_scale < 0)
			return luaL_error(L, "md.open: units must be > 0");
	}
	u = lmd_traj_new(L);
	if (traj_open(&u->t, path, &o, err) != 0)
		return lbind_error(L, "md.open", err);
	return 1;
}

/* argument 1 of transport and pairs: a trajectory, or a path opened here
** with the options table at 2 (replacing the path on the stack) */
static traj *lmd_traj_or_path(lua_State *L)
{
	luaL_checktype(L, 2, LUA_TTABLE);
	if (lua_type(L, 1) == LUA_TSTRING) {
		lua_pushcfunction(L, lmd_open);
		lua_pushvalue(L, 1);
		lua_pushvalue(L, 2);
		lua_call(L, 2, 1);
		lua_replace(L, 1);
	}
	return lmd_checktraj(L, 1);
}

/* md.synthetic{...}: correlated random walks (see traj.h) */
static int lmd_synthetic(lua_State *L)
{
	traj_synth s;
	char err[ERR_LEN];
	lmd_traj *u;
	const char *fn = "md.synthetic";
	luaL_checktype(L, 1, LUA_TTABLE);
	memset(&s, 0, sizeof s);
	s.ncat = (size_t)lbind_optint(L, 1, "ncat", 0, 0, LMD_MAXATOMS, fn);
	s.nan = (size_t)lbind_optint(L, 1, "nan", 0, 0, LMD_MAXATOMS, fn);
	s.nsolv = (size_t)lbind_optint(L, 1, "nsolv", 0, 0, LMD_MAXATOMS, fn);
	s.nframes = (size_t)lbind_optint(L, 1, "frames", 0, 0, LMD_MAXFRAMES, fn);
	s.dt = lbind_optnum(L, 1, "dt", 1e-12, fn);
	s.box = lbind_optnum(L, 1, "box", 3e-9, fn);
	s.d_cat = lbind_optnum(L, 1, "D_cat", 1e-10, fn);
	s.d_an = lbind_optnum(L, 1, "D_an", 1e-10, fn);
	s.d_common = lbind_optnum(L, 1, "D_common", 0, fn);
	s.s_common = lbind_optnum(L, 1, "s_common", 1, fn);
	s.d_solv = lbind_optnum(L, 1, "D_solv", 1e-10, fn);
	s.pair_dist = lbind_optnum(L, 1, "pair_dist", 0, fn);
	s.seed = (unsigned long long)lbind_optint(L, 1, "seed", 1, 0,
			(lua_Integer)9007199254740992LL, fn);
	u = lmd_traj_new(L);
	if (traj_open_synth(&u->t, &s, err) != 0)
		return lbind_error(L, "md.synthetic", err);
	return 1;
}

static const char *lmd_format_name(traj_format f)
{
	return f == TRAJ_H5MD ? "h5md" : f == TRAJ_LAMMPS ? "lammps"
		: "synthetic";
}

/* t:info() */
static int lmd_info(lua_State *L)
{
	traj *t = lmd_checktraj(L, 1);
	const traj_info *inf = traj_get_info(t);
	const int *ty = traj_types(t);
	size_t k;
	static const char *wraps[] = {"unwrapped", "images", "minimum image"};
	lua_createtable(L, 0, 10);
	lua_pushstring(L, lmd_format_name(inf->format));
	lua_setfield(L, -2, "format");
	lua_pushstring(L, traj_path(t));
	lua_setfield(L, -2, "path");
	lua_pushinteger(L, (lua_Integer)inf->natoms);
	lua_setfield(L, -2, "natoms");
	lua_pushinteger(L, (lua_Integer)inf->nframes);
	lua_setfield(L, -2, "nframes");
	lua_pushstring(L, wraps[inf->wrap]);
	lua_setfield(L, -2, "unwrapping");
	lua_pushboolean(L, inf->has_box);
	lua_setfield(L, -2, "has_box");
	lua_pushboolean(L, inf->triclinic);
	lua_setfield(L, -2, "triclinic");
	lua_pushnumber(L, inf->length_scale);
	lua_setfield(L, -2, "length_unit");
	lua_pushnumber(L, inf->time_scale);
	lua_setfield(L, -2, "time_unit");
	if (inf->group[0]) {
		lua_pushstring(L, inf->group);
		lua_setfield(L, -2, "group");
	}
	if (traj_warning(t)) {
		lua_pushstring(L, traj_warning(t));
		lua_setfield(L, -2, "warning");
	}
	lua_createtable(L, (int)inf->natoms, 0);
	for (k = 0; k < inf->natoms; k++) {
		lua_pushinteger(L, ty[k]);
		lua_rawseti(L, -2, (lua_Integer)k + 1);
	}
	lua_setfield(L, -2, "types");
	return 1;
}

/* t:next() -> index, time, positions, box; nothing at the end */
static int lmd_next(lua_State *L)
{
	traj *t = lmd_checktraj(L, 1);
	traj_frame fr;
	char err[ERR_LEN];
	size_t sh[2];
	arr *a;
	int r = traj_next(t, &fr, err), d;
	if (r < 0)
		return lbind_error(L, "md next", err);
	if (r == 0)
		return 0;
	sh[0] = traj_get_info(t)->natoms;
	sh[1] = 3;
	lua_pushinteger(L, (lua_Integer)fr.index + 1);
	lua_pushnumber(L, fr.time);
	a = larray_new_uninit(L, ARR_F64, 2, sh);
	memcpy(a->data, fr.pos, 3 * sh[0] * sizeof(double));
	lua_createtable(L, 3, 0);
	for (d = 0; d < 3; d++) {
		if (isnan(fr.box[d]))
			break;
		lua_pushnumber(L, fr.box[d]);
		lua_rawseti(L, -2, d + 1);
	}
	if (fr.tilt[0] != 0 || fr.tilt[1] != 0 || fr.tilt[2] != 0) {
		static const char *nm[3] = {"xy", "xz", "yz"};
		for (d = 0; d < 3; d++) {
			lua_pushnumber(L, fr.tilt[d]);
			lua_setfield(L, -2, nm[d]);
		}
	}
	return 4;
}

/* md.write_h5md(path, t [, {wrap=}]) */
static int lmd_write_h5md(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	traj *t = lmd_checktraj(L, 2);
	char err[ERR_LEN];
	int wrap = lua_istable(L, 3) ? lbind_optbool(L, 3, "wrap", 1,
			"md.write_h5md") : 1;
	if (traj_write_h5md(path, t, wrap, err) != 0)
		return lbind_error(L, "md.write_h5md", err);
	return 0;
}

/* md.write_lammps(path, t [, {style=, timestep=}]) */
static int lmd_write_lammps(lua_State *L)
{
	static const char *styles[] = {"images", "wrapped", "unwrapped", NULL};
	const char *path = luaL_checkstring(L, 1);
	traj *t = lmd_checktraj(L, 2);
	char err[ERR_LEN];
	int how = 0;
	double step = 1e-15;
	if (lua_istable(L, 3)) {
		how = lbind_optenum(L, 3, "style", "images", styles,
				    "md.write_lammps");
		step = lbind_optnum(L, 3, "timestep", 1e-15, "md.write_lammps");
	}
	if (traj_write_lammps(path, t, (traj_out)how, step, err) != 0)
		return lbind_error(L, "md.write_lammps", err);
	return 0;
}

/* md.msd(x [, nlag]) for one series (1-D array or table) */
static int lmd_msd(lua_State *L)
{
	lua_Integer want = luaL_optinteger(L, 2, 0);
	arr *x = larray_from_arg(L, 1, ARR_F64), c, *o;
	char err[ERR_LEN];
	size_t n, nlag;
	if (x->ndim != 1)
		return luaL_argerror(L, 1, "expected a 1-D series");
	n = x->shape[0];
	nlag = want > 0 ? (size_t)want : n;
	if (want < 0 || nlag > n)
		return luaL_argerror(L, 2, "nlag must be 1 .. #x");
	if (arr_copy(&c, x, ARR_F64, err) != 0)
		return lbind_error(L, "md.msd", err);
	o = larray_push_empty(L);
	if (arr_alloc(o, ARR_F64, 1, &nlag, err) != 0 ||
	    msd_series((const double *)c.data, n, (double *)o->data, nlag,
		       err) != 0) {
		arr_release(&c);
		return lbind_error(L, "md.msd", err);
	}
	arr_release(&c);
	larray_account(L, o);
	return 1;
}

/* ---------------------------------------------------------------- */
/* md.transport                                                     */
/* ---------------------------------------------------------------- */

/* does the option (a type or a list of types) name type ty? */
static int lmd_has_type(lua_State *L, int i, const char *k, int ty)
{
	int r = 0;
	lua_Integer j, n;
	lua_getfield(L, i, k);
	if (lua_isinteger(L, -1))
		r = lua_tointeger(L, -1) == ty;
	else if (lua_istable(L, -1)) {
		n = (lua_Integer)lua_rawlen(L, -1);
		for (j = 1; j <= n && !r; j++) {
			lua_rawgeti(L, -1, j);
			r = lua_isinteger(L, -1) && lua_tointeger(L, -1) == ty;
			lua_pop(L, 1);
		}
	} else if (!lua_isnil(L, -1))
		luaL_error(L, "md.transport: option %s must be a type (integer)"
			   " or a list of types", k);
	lua_pop(L, 1);
	return r;
}

/* groups (0 cation, 1 anion, 2 solvent) and masses per atom */
static int lmd_groups(lua_State *L, int oi, traj *t, int *grp, double *mass,
		      const char **msrc)
{
	static const char *names[3] = {"cation", "anion", "solvent"};
	const traj_info *inf = traj_get_info(t);
	const int *ty = traj_types(t);
	int g, ng = 2;
	size_t k;
	lua_getfield(L, oi, "solvent");
	if (!lua_isnil(L, -1))
		ng = 3;
	lua_pop(L, 1);
	lua_getfield(L, oi, "masses");
	*msrc = lua_istable(L, -1) ? "option" : traj_masses(t) ? "file"
		: "none (all 1)";
	for (k = 0; k < inf->natoms; k++) {
		grp[k] = -1;
		for (g = 0; g < ng; g++)
			if (lmd_has_type(L, oi, names[g], ty[k])) {
				if (grp[k] >= 0)
					luaL_error(L, "md.transport: type %d "
						   "is in two groups", ty[k]);
				grp[k] = g;
			}
		mass[k] = traj_masses(t) ? traj_masses(t)[k] : 1;
		if (lua_istable(L, -1)) {
			lua_rawgeti(L, -1, ty[k]);
			if (lua_isnumber(L, -1))
				mass[k] = lua_tonumber(L, -1);
			else if (!lua_isnil(L, -1))
				luaL_error(L, "md.transport: masses[%d] must "
					   "be a number", ty[k]);
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	return ng;
}

static void lmd_setval(lua_State *L, const char *k, msd_val v)
{
	char ke[64];
	if (isfinite(v.v)) {
		lua_pushnumber(L, v.v);
		lua_setfield(L, -2, k);
	}
	if (isfinite(v.e)) {
		snprintf(ke, sizeof ke, "%s_err", k);
		lua_pushnumber(L, v.e);
		lua_setfield(L, -2, ke);
	}
}

static void lmd_setnum(lua_State *L, const char *k, double v)
{
	if (isfinite(v)) {
		lua_pushnumber(L, v);
		lua_setfield(L, -2, k);
	}
}

/* the block mean of one curve as an array field */
static void lmd_curve(lua_State *L, const msd_res *r, const double *base,
		      size_t stride, const char *k)
{
	size_t m, b, n = r->nlag;
	arr *a = larray_new(L, ARR_F64, 1, &n);
	double *y = (double *)a->data;
	for (b = 0; b < r->nblocks; b++)
		for (m = 0; m < n; m++)
			y[m] += base[b * stride + m] / (double)r->nblocks;
	lua_setfield(L, -2, k);
}

static void lmd_results(lua_State *L, const msd_res *r, const msd_tout *o,
			int ng)
{
	static const char *gn[3] = {"cation", "anion", "solvent"};
	size_t n1 = (size_t)ng * r->nlag, n2 = (size_t)ng * n1, m;
	char k[64];
	int g;
	arr *lag;
	lua_createtable(L, 0, 48);
	for (g = 0; g < ng; g++) {
		snprintf(k, sizeof k, "D_%s", gn[g]);
		lmd_setval(L, k, o->d[g]);
		snprintf(k, sizeof k, "n_%s", gn[g]);
		lua_pushinteger(L, (lua_Integer)r->count[g]);
		lua_setfield(L, -2, k);
		snprintf(k, sizeof k, "msd_%s", gn[g]);
		lmd_curve(L, r, r->self + (size_t)g * r->nlag, n1, k);
	}
	lmd_curve(L, r, r->coll, n2, "msd_coll_pp");
	lmd_curve(L, r, r->coll + ((size_t)ng + 1) * r->nlag, n2,
		  "msd_coll_mm");
	lmd_curve(L, r, r->coll + r->nlag, n2, "msd_coll_pm");
	lmd_setval(L, "L_pp", o->l_pp);
	lmd_setval(L, "L_mm", o->l_mm);
	lmd_setval(L, "L_pm", o->l_pm);
	lmd_setval(L, "L_pp_self", o->l_pp_self);
	lmd_setval(L, "L_mm_self", o->l_mm_self);
	lmd_setval(L, "L_pp_distinct", o->l_pp_dist);
	lmd_setval(L, "L_mm_distinct", o->l_mm_dist);
	lmd_setval(L, "sigma", o->sigma);
	lmd_setval(L, "sigma_NE", o->sigma_ne);
	lmd_setval(L, "ionicity", o->ionicity);
	lmd_setval(L, "t_app", o->t_app);
	lmd_setval(L, "t_plus", o->t_plus);
	lua_pushboolean(L, !o->not_diffusive);
	lua_setfield(L, -2, "fit_diffusive");
	lmd_setnum(L, "fit_lo_s", o->fit_lo);
	lmd_setnum(L, "fit_hi_s", o->fit_hi);
	lmd_setnum(L, "volume_m3", r->volume);
	lmd_setnum(L, "dt_s", r->dt);
	lua_pushinteger(L, (lua_Integer)r->nblocks);
	lua_setfield(L, -2, "blocks");
	lua_pushinteger(L, (lua_Integer)(r->frames_used / r->nblocks));
	lua_setfield(L, -2, "block_frames");
	lua_pushinteger(L, (lua_Integer)r->frames_used);
	lua_setfield(L, -2, "frames");
	lua_pushinteger(L, (lua_Integer)r->bytes);
	lua_setfield(L, -2, "memory_bytes");
	lmd_setnum(L, "analysis_s", r->seconds);
	lag = larray_new(L, ARR_F64, 1, &r->nlag);
	for (m = 0; m < r->nlag; m++)
		((double *)lag->data)[m] = (double)m * r->dt;
	lua_setfield(L, -2, "lag_s");
}

static msd_frame lmd_frame(lua_State *L, int oi, int ng)
{
	static const char *fr[] = {"barycentric", "solvent", "lab", NULL};
	int k = 0;
	if (lua_getfield(L, oi, "frame") != LUA_TNIL)
		k = luaL_checkoption(L, -1, NULL, fr);
	lua_pop(L, 1);
	if (k == 1 && ng < 3)
		luaL_error(L, "md.transport: frame 'solvent' needs option "
			   "solvent");
	return k == 0 ? MSD_BARY : k == 1 ? MSD_GROUPCOM : MSD_LAB;
}

/* the fit range {lo_s, hi_s} into in */
static void lmd_fit(lua_State *L, int oi, msd_tin *in)
{
	if (lua_getfield(L, oi, "fit") != LUA_TNIL) {
		if (!lua_istable(L, -1))
			luaL_error(L, "md.transport: fit must be {lo_s, hi_s}");
		lua_rawgeti(L, -1, 1);
		lua_rawgeti(L, -2, 2);
		if (!lua_isnumber(L, -2) || !lua_isnumber(L, -1))
			luaL_error(L, "md.transport: fit must be {lo_s, hi_s}");
		in->t_lo = lua_tonumber(L, -2);
		in->t_hi = lua_tonumber(L, -1);
		lua_pop(L, 2);
	}
	lua_pop(L, 1);
}

/* md.transport(path | traj, opts) */
static int lmd_transport(lua_State *L)
{
	char err[ERR_LEN];
	traj *t;
	const traj_info *inf;
	msd_opts o;
	msd_tin in;
	msd_tout out;
	lmd_res *res;
	int *grp, ng;
	double *mass;
	size_t skip;
	const char *fn = "md.transport";
	const char *msrc = NULL;
	lbind_progress lp;
	int rc;
	t = lmd_traj_or_path(L);
	inf = traj_get_info(t);
	lua_getfield(L, 2, "cation");
	lua_getfield(L, 2, "anion");
	if (lua_isnil(L, -1) || lua_isnil(L, -2))
		return luaL_error(L, "md.transport: options cation and anion "
				  "(types) are required");
	lua_pop(L, 2);
	grp = lua_newuserdatauv(L, (inf->natoms + 1) * sizeof *grp, 0);
	mass = lua_newuserdatauv(L, (inf->natoms + 1) * sizeof *mass, 0);
	ng = lmd_groups(L, 2, t, grp, mass, &msrc);
	memset(&o, 0, sizeof o);
	o.ngroups = ng;
	o.group = grp;
	o.mass = mass;
	o.frame = lmd_frame(L, 2, ng);
	o.ref_group = 2;
	o.nblocks = (size_t)lbind_optint(L, 2, "blocks", 5, 1, LMD_MAXFRAMES, fn);
	o.block = (size_t)lbind_optint(L, 2, "block", 0, 0, LMD_MAXFRAMES, fn);
	skip = (size_t)lbind_optint(L, 2, "skip", 0, 0, LMD_MAXFRAMES, fn);
	memset(&in, 0, sizeof in);
	in.cat = 0;
	in.an = 1;
	in.z_cat = lbind_optnum(L, 2, "z_cation", 1, "md.transport");
	in.z_an = lbind_optnum(L, 2, "z_anion", -1, "md.transport");
	in.temperature = lbind_optnum(L, 2, "temperature", 0, "md.transport");
	lmd_fit(L, 2, &in);
	res = lua_newuserdatauv(L, sizeof *res, 0);
	memset(res, 0, sizeof *res);
	luaL_setmetatable(L, LMD_RES);
	lua_getfield(L, 2, "progress");
	lbind_progress_arg(L, lua_gettop(L), &lp);
	rc = msd_run(t, &o, skip, &lp.p, &res->r, err);
	lbind_progress_finish(L, &lp);
	lua_pop(L, 1);
	if (rc != 0 || msd_transport(&res->r, &in, &out, err) != 0) {
		/* the trajectory named, unless the reader's message has it */
		if (traj_path(t) && !strstr(err, traj_path(t)))
			err_prefix(err, "%s", traj_path(t));
		return lbind_error(L, "md.transport", err);
	}
	lmd_results(L, &res->r, &out, ng);
	lua_pushstring(L, msrc);
	lua_setfield(L, -2, "masses");
	lua_pushstring(L, o.frame == MSD_BARY ? "barycentric" : o.frame ==
		       MSD_GROUPCOM ? "solvent" : "lab");
	lua_setfield(L, -2, "frame");
	if (traj_warning(t)) {
		lua_pushfstring(L, "%s: %s", traj_path(t), traj_warning(t));
		lua_setfield(L, -2, "warning");
	}
	return 1;
}

typedef struct lmd_pd { pd_res r; } lmd_pd;

static int lmd_pd_gc(lua_State *L)
{
	pd_res_free(&((lmd_pd *)lua_touserdata(L, 1))->r);
	return 0;
}

/* a result column as an array field */
static void lmd_column(lua_State *L, const double *v, size_t n, const char *k)
{
	arr *a = larray_new(L, ARR_F64, 1, &n);
	memcpy(a->data, v, n * sizeof *v);
	lua_setfield(L, -2, k);
}

/* md.pairs(path | traj, {cation=, anion=, cutoff=, max_lag=, stride=}) */
static int lmd_pairs(lua_State *L)
{
	char err[ERR_LEN];
	traj *t;
	const traj_info *inf;
	const int *ty;
	pd_opts o;
	lmd_pd *res;
	int *grp;
	size_t k, m;
	lbind_progress lp;
	int rc;
	t = lmd_traj_or_path(L);
	inf = traj_get_info(t);
	ty = traj_types(t);
	grp = lua_newuserdatauv(L, (inf->natoms + 1) * sizeof *grp, 0);
	for (k = 0; k < inf->natoms; k++) {
		int c = lmd_has_type(L, 2, "cation", ty[k]);
		int a = lmd_has_type(L, 2, "anion", ty[k]);
		if (c && a)
			return luaL_error(L, "md.pairs: type %d is both cation "
					  "and anion", ty[k]);
		grp[k] = c ? 0 : a ? 1 : -1;
	}
	memset(&o, 0, sizeof o);
	o.group = grp;
	o.cutoff = lbind_optnum(L, 2, "cutoff", 0, "md.pairs");
	o.max_lag = (size_t)lbind_optint(L, 2, "max_lag", 100, 1, LMD_MAXFRAMES,
			      "md.pairs");
	o.stride = (size_t)lbind_optint(L, 2, "stride", 1, 1, LMD_MAXFRAMES,
			     "md.pairs");
	res = lua_newuserdatauv(L, sizeof *res, 0);
	memset(res, 0, sizeof *res);
	lua_createtable(L, 0, 1);
	lua_pushcfunction(L, lmd_pd_gc);
	lua_setfield(L, -2, "__gc");
	lua_setmetatable(L, -2);
	lua_getfield(L, 2, "progress");
	lbind_progress_arg(L, lua_gettop(L), &lp);
	rc = pd_run(t, &o, &lp.p, &res->r, err);
	lbind_progress_finish(L, &lp);
	lua_pop(L, 1);
	if (rc != 0)
		return lbind_error(L, "md.pairs", err);
	lua_createtable(L, 0, 8);
	m = res->r.nlag;
	{
		arr *a = larray_new(L, ARR_F64, 1, &m);
		for (k = 0; k < m; k++)
			((double *)a->data)[k] = (double)k * res->r.dt;
		lua_setfield(L, -2, "lag_s");
	}
	lmd_column(L, res->r.same, m, "same_nearest");
	lmd_column(L, res->r.corr, m, "corr");
	lmd_column(L, res->r.dot, m, "dot");
	lmd_setnum(L, "residence_s", res->r.tau_res);
	lmd_setnum(L, "pairs", res->r.pairs);
	lua_pushinteger(L, (lua_Integer)res->r.norigins);
	lua_setfield(L, -2, "origins");
	return 1;
}

static const luaL_Reg lmd_traj_meta[] = {
	{"__gc", lmd_traj_close}, {"__close", lmd_traj_close}, {NULL, NULL}
};
static const luaL_Reg lmd_traj_methods[] = {
	{"info", lmd_info}, {"next", lmd_next}, {"close", lmd_traj_close},
	{NULL, NULL}
};
static const luaL_Reg lmd_funcs[] = {
	{"open", lmd_open}, {"synthetic", lmd_synthetic},
	{"write_h5md", lmd_write_h5md}, {"write_lammps", lmd_write_lammps},
	{"transport", lmd_transport}, {"msd", lmd_msd}, {"pairs", lmd_pairs},
	{NULL, NULL}
};

int luaopen_ionflow_md(lua_State *L)
{
	luaL_newmetatable(L, LMD_TRAJ);
	luaL_setfuncs(L, lmd_traj_meta, 0);
	luaL_newlib(L, lmd_traj_methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_newmetatable(L, LMD_RES);
	lua_pushcfunction(L, lmd_res_gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
	luaL_newlib(L, lmd_funcs);
	return 1;
}
