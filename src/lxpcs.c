/*
** lxpcs.c - the Lua binding of the XPCS cores (geom.h, qmap.h, corr.h).
**
**   local g = xpcs.geometry{energy_keV=11, distance=5, pixel=75e-6,
**                           center={x=128, y=120}, shape={256, 256}}
**   local m = xpcs.maps(g)                      -- m.q (1/m), m.phi (deg)
**   local p = xpcs.partition{q=m.q, phi=m.phi, q_bins=10, phi_bins=8}
**   local c = xpcs.correlator{dynamic=p}
**   for i, f in h5.frames(path, "/entry/data/data") do c:push(f) end
**   local r = c:result()                        -- r.tau, r.g2, r.g2_err
**
** Beam centres are detector coordinates in pixels, 0-based as in the APS
** metadata; bins, rows, columns and frames are 1-based indices.
*/
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "corr.h"
#include "corrsp.h"
#include "corrbg.h"
#include "geom.h"
#include "larray.h"
#include "lbind.h"
#include "progress.h"
#include "qmap.h"
#include "speckle.h"
#include "twotime.h"

#define LXPCS_PART "ionflow.xpcs.partition"
#define LXPCS_CORR "ionflow.xpcs.correlator"
#define LXPCS_TT "ionflow.xpcs.twotime"
/* bounds of size options: far above real runs (10^5 frames at 50 kHz),
** far below what overflows or hangs (threads=100000 started 100000) */
#define LXPCS_MAXFRAMES 1000000000
#define LXPCS_MAXTHREADS 1024

typedef struct lxpcs_part { qmap m; } lxpcs_part;
typedef struct lxpcs_corr {
	corr *c;
	progress prog;
	int bar;
	size_t rows, cols;
	corrbg bg;		/* push_async in flight */
	arr held;		/* its frames, kept alive until it is done */
} lxpcs_corr;

/* ------------------------------------------------------------ helpers */

/* a contiguous copy of an array argument in dtype dt with npix elements
** (npix 0: any size); left on the stack so that Lua owns it */
/* (cols > 0: the detector has npix / cols rows of cols pixels, and a 2-D
** array must have that shape: a transposed mask has the right size and
** the wrong pixels) */
static arr *lxpcs_arr(lua_State *L, int i, arr_dtype dt, size_t npix,
		      size_t cols, const char *what, const char *fname)
{
	arr *a = larray_test(L, i), tmp;
	char err[ERR_LEN];
	if (a == NULL)
		luaL_error(L, "%s: '%s' must be an array", fname, what);
	if (npix && arr_size(a) != npix)
		luaL_error(L, "%s: '%s' has %d elements, the detector %d",
			   fname, what, (int)arr_size(a), (int)npix);
	if (npix && cols && a->ndim == 2 && a->shape[1] != cols)
		luaL_error(L, "%s: '%s' is %dx%d, the detector %dx%d", fname,
			   what, (int)a->shape[0], (int)a->shape[1],
			   (int)(npix / cols), (int)cols);
	if (a->dtype == dt && arr_is_contiguous(a)) {	/* (read only) */
		lua_pushvalue(L, i);
		return a;
	}
	if (arr_copy(&tmp, a, dt, err) != 0)
		lbind_error(L, fname, err);
	return larray_push(L, &tmp);
}

static arr *lxpcs_field_arr(lua_State *L, int t, const char *k,
			    arr_dtype dt, size_t npix, size_t cols,
			    int required, const char *fname)
{
	arr *a;
	lua_getfield(L, t, k);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		if (required)
			luaL_error(L, "%s: field '%s' is required", fname, k);
		return NULL;
	}
	a = lxpcs_arr(L, lua_gettop(L), dt, npix, cols, k, fname);
	lua_replace(L, -2);
	return a;
}

static void lxpcs_push_vec(lua_State *L, const double *v, size_t n)
{
	arr *a = larray_new(L, ARR_F64, 1, &n);
	if (n)
		memcpy(a->data, v, n * sizeof *v);
}

static void lxpcs_push_mat(lua_State *L, const double *v, size_t r,
			   size_t c)
{
	size_t sh[2] = {r, c};
	arr *a = larray_new(L, ARR_F64, 2, sh);
	if (r != 0 && c != 0)
		memcpy(a->data, v, r * c * sizeof *v);
}

/* ----------------------------------------------------------- geometry */

static void lxpcs_geom_get(lua_State *L, int t, geom *g, const char *fname)
{
	double px;
	char err[ERR_LEN];
	luaL_checktype(L, t, LUA_TTABLE);
	g->energy_keV = lbind_checknum(L, t, "energy_keV", fname);
	g->distance = lbind_checknum(L, t, "distance", fname);
	px = lbind_optnum(L, t, "pixel", NAN, fname);
	g->pixel_x = (isnan(px) ? lbind_checknum(L, t, "pixel_x", fname)
		: lbind_optnum(L, t, "pixel_x", px, fname));
	g->pixel_y = (isnan(px) ? lbind_checknum(L, t, "pixel_y", fname)
		: lbind_optnum(L, t, "pixel_y", px, fname));
	g->center_x = lbind_optnum(L, t, "center_x", NAN, fname);
	g->center_y = lbind_optnum(L, t, "center_y", NAN, fname);
	if (lua_getfield(L, t, "center") == LUA_TTABLE) {
		int c = lua_gettop(L);
		lua_getfield(L, c, "x");
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			lua_rawgeti(L, c, 1);
		}
		g->center_x = luaL_optnumber(L, -1, NAN);
		lua_getfield(L, c, "y");
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			lua_rawgeti(L, c, 2);
		}
		g->center_y = luaL_optnumber(L, -1, NAN);
		lua_pop(L, 2);
	}
	lua_pop(L, 1);
	g->rows = (size_t)lbind_optnum(L, t, "rows", 0, fname);
	g->cols = (size_t)lbind_optnum(L, t, "cols", 0, fname);
	if (lua_getfield(L, t, "shape") == LUA_TTABLE) {
		lua_rawgeti(L, -1, 1);
		lua_rawgeti(L, -2, 2);
		g->rows = (size_t)luaL_optinteger(L, -2, 0);
		g->cols = (size_t)luaL_optinteger(L, -1, 0);
		lua_pop(L, 2);
	}
	lua_pop(L, 1);
	if (geom_check(g, err) != 0)
		lbind_error(L, fname, err);
}

static void lxpcs_geom_push(lua_State *L, const geom *g)
{
	lua_createtable(L, 0, 10);
	lua_pushnumber(L, g->energy_keV); lua_setfield(L, -2, "energy_keV");
	lua_pushnumber(L, g->distance); lua_setfield(L, -2, "distance");
	lua_pushnumber(L, g->pixel_x); lua_setfield(L, -2, "pixel_x");
	lua_pushnumber(L, g->pixel_y); lua_setfield(L, -2, "pixel_y");
	lua_pushnumber(L, g->center_x); lua_setfield(L, -2, "center_x");
	lua_pushnumber(L, g->center_y); lua_setfield(L, -2, "center_y");
	lua_pushinteger(L, (lua_Integer)g->rows); lua_setfield(L, -2, "rows");
	lua_pushinteger(L, (lua_Integer)g->cols); lua_setfield(L, -2, "cols");
	lua_pushnumber(L, geom_wavelength(g));
	lua_setfield(L, -2, "wavelength");
}

/* xpcs.geometry{energy_keV=, distance=, pixel= | pixel_x=, pixel_y=,
** center={x=, y=}, shape={rows, cols}} -> checked table */
static int lxpcs_geometry(lua_State *L)
{
	geom g;
	lxpcs_geom_get(L, 1, &g, "xpcs.geometry");
	lxpcs_geom_push(L, &g);
	return 1;
}

/* maps.ux or maps.uy, first asked: both made from the geometry kept in
** the upvalue, then stored in the table (rawset: asked once) */
static int lxpcs_maps_index(lua_State *L)
{
	const geom *g = lua_touserdata(L, lua_upvalueindex(1));
	const char *k = lua_tostring(L, 2);
	size_t sh[2] = {g->rows, g->cols};
	arr *ux, *uy;
	char err[ERR_LEN];
	if (k == NULL || (strcmp(k, "ux") != 0 && strcmp(k, "uy") != 0))
		return 0;
	ux = larray_new_uninit(L, ARR_F64, 2, sh);
	uy = larray_new_uninit(L, ARR_F64, 2, sh);
	if (geom_maps(g, NULL, NULL, (double *)ux->data, (double *)uy->data,
		      err) != 0)
		return lbind_error(L, "xpcs.maps", err);
	lua_setfield(L, 1, "uy");
	lua_setfield(L, 1, "ux");
	lua_rawget(L, 1);
	return 1;
}

/* xpcs.maps(geometry) -> {q=, phi=, ux=, uy=} (rows x cols, f64); ux and
** uy when first read (a partition needs q and phi only: at 1 Mpx the two
** more maps were 16 MB of fresh pages for nothing) */
static int lxpcs_maps(lua_State *L)
{
	geom *g;
	size_t sh[2];
	arr *q, *phi;
	char err[ERR_LEN];
	g = lua_newuserdatauv(L, sizeof *g, 0);
	lxpcs_geom_get(L, 1, g, "xpcs.maps");
	sh[0] = g->rows;
	sh[1] = g->cols;
	lua_createtable(L, 0, 4);
	q = larray_new_uninit(L, ARR_F64, 2, sh);
	lua_setfield(L, -2, "q");
	phi = larray_new_uninit(L, ARR_F64, 2, sh);
	lua_setfield(L, -2, "phi");
	if (geom_maps(g, (double *)q->data, (double *)phi->data, NULL, NULL,
		      err) != 0)
		return lbind_error(L, "xpcs.maps", err);
	lua_createtable(L, 0, 1);
	lua_pushvalue(L, -3);		/* the geometry's copy */
	lua_pushcclosure(L, lxpcs_maps_index, 1);
	lua_setfield(L, -2, "__index");
	lua_setmetatable(L, -2);
	return 1;
}

/* xpcs.pixel(geometry, row, col) -> {q=, phi=, tth=, qx=, qy=, qz=, ux=,
** uy=} for the 1-based pixel (fractional values allowed) */
static int lxpcs_pixel(lua_State *L)
{
	geom g;
	geom_px p;
	lxpcs_geom_get(L, 1, &g, "xpcs.pixel");
	geom_pixel(&g, luaL_checknumber(L, 2) - 1, luaL_checknumber(L, 3) - 1,
		   &p);
	lua_createtable(L, 0, 8);
	lua_pushnumber(L, p.q); lua_setfield(L, -2, "q");
	lua_pushnumber(L, p.phi_deg); lua_setfield(L, -2, "phi");
	lua_pushnumber(L, p.tth); lua_setfield(L, -2, "tth");
	lua_pushnumber(L, p.qx); lua_setfield(L, -2, "qx");
	lua_pushnumber(L, p.qy); lua_setfield(L, -2, "qy");
	lua_pushnumber(L, p.qz); lua_setfield(L, -2, "qz");
	lua_pushnumber(L, p.ux); lua_setfield(L, -2, "ux");
	lua_pushnumber(L, p.uy); lua_setfield(L, -2, "uy");
	return 1;
}

/* ---------------------------------------------------------- partition */

static lxpcs_part *lxpcs_checkpart(lua_State *L, int i)
{
	lxpcs_part *u = luaL_checkudata(L, i, LXPCS_PART);
	if (u->m.map == NULL)
		luaL_argerror(L, i, "partition is empty");
	return u;
}

static lxpcs_part *lxpcs_newpart(lua_State *L)
{
	lxpcs_part *u = lua_newuserdatauv(L, sizeof *u, 0);
	memset(u, 0, sizeof *u);
	luaL_setmetatable(L, LXPCS_PART);
	return u;
}

/* edges from a field list, or from n bins over [lo, hi] */
static double *lxpcs_edges(lua_State *L, int t, const char *ek,
			   const char *nk, double lo, double hi, int logs,
			   size_t *n, const char *fname)
{
	double *e;
	char err[ERR_LEN];
	if (lua_getfield(L, t, ek) == LUA_TTABLE) {
		size_t k, m = lua_rawlen(L, -1);
		if (m < 2)
			luaL_error(L, "%s: '%s' needs >= 2 edges", fname, ek);
		e = lua_newuserdatauv(L, m * sizeof *e, 0);
		for (k = 0; k < m; k++) {
			lua_rawgeti(L, -2, (lua_Integer)k + 1);
			if (!lua_isnumber(L, -1))
				luaL_error(L, "%s: %s[%d] is not a number",
					   fname, ek, (int)k + 1);
			e[k] = lua_tonumber(L, -1);
			lua_pop(L, 1);
		}
		lua_replace(L, -2);
		*n = m - 1;
		return e;
	}
	lua_pop(L, 1);
	*n = (size_t)lbind_optint(L, t, nk, 1, 1, 1000000, fname);
	e = lua_newuserdatauv(L, (*n + 1) * sizeof *e, 0);
	if (qmap_edges(lo, hi, *n, logs, e, err) != 0)
		lbind_error(L, fname, err);
	return e;
}

/* xpcs.partition{q=, phi=, mask=, q_bins= | q_edges=, q_min=, q_max=,
** log=, phi_bins= | phi_edges=, fold=} or {map=, q=, phi=, nbins=} */
static int lxpcs_partition(lua_State *L)
{
	const char *fname = "xpcs.partition";
	arr *q, *phi, *mask, *map;
	size_t rows, cols, npix, nq, nphi;
	double *qe, *pe, lo, hi;
	uint8_t *m8 = NULL;
	lxpcs_part *u;
	char err[ERR_LEN];
	int logs, fold;
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "map");
	map = larray_test(L, -1);
	lua_pop(L, 1);
	lua_getfield(L, 1, map ? "map" : "q");
	q = larray_test(L, -1);
	lua_pop(L, 1);
	if (q == NULL || q->ndim != 2)
		return luaL_error(L, "%s: '%s' must be a 2-D array", fname,
				  map ? "map" : "q");
	rows = q->shape[0];
	cols = q->shape[1];
	npix = rows * cols;
	q = lxpcs_field_arr(L, 1, "q", ARR_F64, npix, cols, map == NULL,
			    fname);
	phi = lxpcs_field_arr(L, 1, "phi", ARR_F64, npix, cols, map == NULL,
			      fname);
	if (map) {
		/* (the core bounds it by the pixels, naming the map) */
		lua_Integer nb = lbind_optint(L, 1, "nbins", 0, 0,
					      LUA_MAXINTEGER, fname);
		int32_t *m32 = lua_newuserdatauv(L, npix * sizeof *m32, 0);
		map = lxpcs_field_arr(L, 1, "map", ARR_F64, npix, cols, 1,
				      fname);
		if (qmap_map_from_doubles(m32, (double *)map->data, rows, cols,
					  err) != 0)
			return lbind_error(L, fname, err);
		u = lxpcs_newpart(L);
		if (qmap_from_map(&u->m, rows, cols, m32, (size_t)nb,
				  q ? (double *)q->data : NULL,
				  phi ? (double *)phi->data : NULL, err) != 0)
			return lbind_error(L, fname, err);
		return 1;
	}
	mask = lxpcs_field_arr(L, 1, "mask", ARR_F64, npix, cols, 0,
			       fname);
	logs = lbind_optbool(L, 1, "log", 0, fname);
	fold = lbind_optbool(L, 1, "fold", 0, fname);
	if (mask) {
		m8 = lua_newuserdatauv(L, npix, 0);
		for (size_t i = 0; i < npix; i++)
			m8[i] = ((double *)mask->data)[i] != 0;
	}
	qmap_qrange((double *)q->data, m8, npix, logs, &lo, &hi);
	lo = lbind_optnum(L, 1, "q_min", lo, fname);
	hi = lbind_optnum(L, 1, "q_max", hi, fname);
	if (!isfinite(lo) || !isfinite(hi))
		return luaL_error(L, "%s: no unmasked pixel to bin", fname);
	if (hi == lo)
		hi = lo * (1 + 1e-12) + 1e-300;
	qe = lxpcs_edges(L, 1, "q_edges", "q_bins", lo, hi, logs, &nq, fname);
	pe = lxpcs_edges(L, 1, "phi_edges", "phi_bins",
			 lbind_optnum(L, 1, "phi_min", fold ? -90 : -180, fname),
			 lbind_optnum(L, 1, "phi_max", fold ? 90 : 180, fname),
			 0, &nphi, fname);
	u = lxpcs_newpart(L);
	if (qmap_build(&u->m, rows, cols, (double *)q->data,
		       (double *)phi->data, m8, qe, nq, pe, nphi, fold, err))
		return lbind_error(L, fname, err);
	return 1;
}

static int lxpcs_part_gc(lua_State *L)
{
	lxpcs_part *u = luaL_checkudata(L, 1, LXPCS_PART);
	qmap_free(&u->m);
	return 0;
}

static void lxpcs_push_sizes(lua_State *L, const size_t *v, size_t n)
{
	arr *a = larray_new(L, ARR_F64, 1, &n);
	for (size_t i = 0; i < n; i++)
		((double *)a->data)[i] = (double)v[i];
}

/* p.map, p.count, p.q_mean, p.phi_mean, p.q_edges, p.phi_edges, p.nbins,
** p.nq, p.nphi, p.rows, p.cols, p.fold */
static int lxpcs_part_index(lua_State *L)
{
	lxpcs_part *u = lxpcs_checkpart(L, 1);
	const char *k = luaL_checkstring(L, 2);
	qmap *m = &u->m;
	if (!strcmp(k, "map")) {
		size_t sh[2] = {m->rows, m->cols};
		arr *a = larray_new(L, ARR_I32, 2, sh);
		memcpy(a->data, m->map, m->npix * sizeof *m->map);
	} else if (!strcmp(k, "count"))
		lxpcs_push_sizes(L, m->count, m->nbins);
	else if (!strcmp(k, "q_mean"))
		lxpcs_push_vec(L, m->q_mean, m->nbins);
	else if (!strcmp(k, "phi_mean"))
		lxpcs_push_vec(L, m->phi_mean, m->nbins);
	else if (!strcmp(k, "q_edges") && m->q_edges)
		lxpcs_push_vec(L, m->q_edges, m->nq + 1);
	else if (!strcmp(k, "phi_edges") && m->phi_edges)
		lxpcs_push_vec(L, m->phi_edges, m->nphi + 1);
	else if (!strcmp(k, "nbins"))
		lua_pushinteger(L, (lua_Integer)m->nbins);
	else if (!strcmp(k, "nq"))
		lua_pushinteger(L, (lua_Integer)m->nq);
	else if (!strcmp(k, "nphi"))
		lua_pushinteger(L, (lua_Integer)m->nphi);
	else if (!strcmp(k, "rows"))
		lua_pushinteger(L, (lua_Integer)m->rows);
	else if (!strcmp(k, "cols"))
		lua_pushinteger(L, (lua_Integer)m->cols);
	else if (!strcmp(k, "fold"))
		lua_pushboolean(L, m->fold);
	else if (!strcmp(k, "bin_mean") || !strcmp(k, "nest")) {
		luaL_getmetatable(L, LXPCS_PART);
		lua_getfield(L, -1, k);
	} else
		lua_pushnil(L);
	return 1;
}

/* p:bin_mean(image) -> mean of image over each bin (NaN when empty) */
static int lxpcs_part_binmean(lua_State *L)
{
	lxpcs_part *u = lxpcs_checkpart(L, 1);
	arr *img = lxpcs_arr(L, 2, ARR_F64, u->m.npix, u->m.cols, "image",
			     "partition:bin_mean");
	arr *o = larray_new(L, ARR_F64, 1, &u->m.nbins);
	qmap_bin_mean(&u->m, (double *)img->data, (double *)o->data);
	return 1;
}

/* st:nest(dyn) -> for each bin of st, the bin of dyn that holds it (0
** none); a bin of st that spans two bins of dyn is an error naming it */
static int lxpcs_part_nest(lua_State *L)
{
	lxpcs_part *st = lxpcs_checkpart(L, 1), *dy = lxpcs_checkpart(L, 2);
	char err[ERR_LEN];
	int32_t *s2d = lua_newuserdatauv(L, st->m.nbins * sizeof *s2d + 1, 0);
	arr *o;
	if (qmap_nest(&st->m, &dy->m, s2d, err) != 0)
		return lbind_error(L, "partition:nest", err);
	o = larray_new(L, ARR_I32, 1, &st->m.nbins);
	memcpy(o->data, s2d, st->m.nbins * sizeof *s2d);
	return 1;
}

static int lxpcs_part_tostring(lua_State *L)
{
	lxpcs_part *u = luaL_checkudata(L, 1, LXPCS_PART);
	if (u->m.map == NULL)
		lua_pushliteral(L, "xpcs partition (empty)");
	else
		lua_pushfstring(L, "xpcs partition %dx%d, %d bins (%d q x %d "
				"phi)", (int)u->m.rows, (int)u->m.cols,
				(int)u->m.nbins, (int)u->m.nq, (int)u->m.nphi);
	return 1;
}

/* --------------------------------------------------------------- masks */

/* xpcs.mask(shape | array [, {above=, image=, dead=, rects={{r0,r1,c0,c1}},
** polygons={{{x,y},...}}, keep=}]) -> u8 (1 = use). With an array the
** mask starts from it (non-zero = use); rectangles use 1-based inclusive
** rows and columns; polygon vertices are {col, row}, 1-based. */
static int lxpcs_mask(lua_State *L)
{
	const char *fname = "xpcs.mask";
	size_t sh[2], npix;
	arr *m, *base = larray_test(L, 1);
	uint8_t *d;
	char err[ERR_LEN];
	if (base) {
		if (base->ndim != 2)
			return luaL_error(L, "%s: the mask must be 2-D", fname);
		sh[0] = base->shape[0];
		sh[1] = base->shape[1];
	} else {
		luaL_checktype(L, 1, LUA_TTABLE);
		lua_rawgeti(L, 1, 1);
		lua_rawgeti(L, 1, 2);
		sh[0] = (size_t)luaL_checkinteger(L, -2);
		sh[1] = (size_t)luaL_checkinteger(L, -1);
		lua_pop(L, 2);
	}
	npix = sh[0] * sh[1];
	if (npix == 0)
		return luaL_error(L, "%s: empty shape", fname);
	lua_settop(L, 2);
	m = larray_new(L, ARR_U8, 2, sh);	/* index 3 */
	d = (uint8_t *)m->data;
	if (base) {
		arr *b = lxpcs_arr(L, 1, ARR_F64, npix, 0, "mask", fname);
		for (size_t i = 0; i < npix; i++)
			d[i] = ((double *)b->data)[i] != 0;
		lua_pop(L, 1);
	} else
		memset(d, 1, npix);
	if (lua_isnil(L, 2))
		return 1;
	luaL_checktype(L, 2, LUA_TTABLE);
	if (lua_getfield(L, 2, "above"), !lua_isnil(L, -1)) {
		double thr = luaL_checknumber(L, -1);
		arr *img = lxpcs_field_arr(L, 2, "image", ARR_F64, npix,
					   sh[1], 1, fname);
		qmap_mask_above(d, (double *)img->data, npix, thr);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	if (lua_getfield(L, 2, "dead"), !lua_isnil(L, -1)) {
		arr *tot = lxpcs_arr(L, lua_gettop(L), ARR_F64, npix, sh[1],
				     "dead", fname);
		qmap_mask_dead(d, (double *)tot->data, npix);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	if (lua_getfield(L, 2, "rects") == LUA_TTABLE) {
		for (lua_Integer k = 1; k <= (lua_Integer)lua_rawlen(L, -1);
		     k++) {
			long v[4];
			lua_rawgeti(L, -1, k);
			luaL_checktype(L, -1, LUA_TTABLE);
			for (int j = 0; j < 4; j++) {
				lua_rawgeti(L, -1, j + 1);
				v[j] = (long)luaL_checkinteger(L, -1) - 1;
				lua_pop(L, 1);
			}
			qmap_mask_rect(d, sh[0], sh[1], v[0], v[1], v[2], v[3],
				       0);
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
	if (lua_getfield(L, 2, "polygons") == LUA_TTABLE) {
		for (lua_Integer k = 1; k <= (lua_Integer)lua_rawlen(L, -1);
		     k++) {
			size_t nv;
			double *xy;
			lua_rawgeti(L, -1, k);
			luaL_checktype(L, -1, LUA_TTABLE);
			nv = lua_rawlen(L, -1);
			xy = lua_newuserdatauv(L, 2 * nv * sizeof *xy + 1, 0);
			for (size_t j = 0; j < nv; j++) {
				lua_rawgeti(L, -2, (lua_Integer)j + 1);
				luaL_checktype(L, -1, LUA_TTABLE);
				lua_rawgeti(L, -1, 1);
				lua_rawgeti(L, -2, 2);
				xy[2 * j] = luaL_checknumber(L, -2) - 1;
				xy[2 * j + 1] = luaL_checknumber(L, -1) - 1;
				lua_pop(L, 3);
			}
			if (qmap_mask_polygon(d, sh[0], sh[1], xy, nv, 0, err))
				return lbind_error(L, fname, err);
			lua_pop(L, 2);
		}
	}
	lua_pop(L, 1);
	lua_settop(L, 3);
	return 1;
}

/* ---------------------------------------------------------- correlator */

/* every method first waits for a push_async in flight and reports its
** error, so nothing touches the correlator while it runs */
static lxpcs_corr *lxpcs_checkcorr(lua_State *L, int i)
{
	lxpcs_corr *u = luaL_checkudata(L, i, LXPCS_CORR);
	char err[ERR_LEN];
	int rc;
	if (u->c == NULL)
		luaL_argerror(L, i, "correlator is closed");
	rc = corrbg_wait(&u->bg, err);
	arr_release(&u->held);
	if (rc != 0)
		lbind_error(L, "correlator:push_async", err);
	return u;
}

/* the correlator's kernel = "auto" | "base" | "avx2" | "avx512" */
static void lxpcs_kernel_opt(lua_State *L, corr_opts *o, const char *fname)
{
	int k = -1;
	lua_getfield(L, 1, "kernel");
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return;
	}
	if (lua_type(L, -1) != LUA_TSTRING ||
	    (k = corr_kernel_parse(lua_tostring(L, -1))) < 0)
		luaL_error(L, "%s: kernel must be \"auto\", \"base\", "
			   "\"avx2\" or \"avx512\" (got %s)", fname,
			   luaL_tolstring(L, -1, NULL));
	o->kernel = (corr_kernel)k;
	lua_pop(L, 1);
}

/* the correlator's sparse = "auto" | true | false */
static void lxpcs_sparse_opt(lua_State *L, corr_opts *o, const char *fname)
{
	int t = lua_getfield(L, 1, "sparse");
	if (t == LUA_TBOOLEAN)
		o->sparse = lua_toboolean(L, -1) ? CORR_SPARSE_ON :
			    CORR_SPARSE_OFF;
	else if (t == LUA_TSTRING && strcmp(lua_tostring(L, -1), "auto") == 0)
		o->sparse = CORR_SPARSE_AUTO;
	else if (t != LUA_TNIL)
		luaL_error(L, "%s: sparse must be \"auto\", true or false "
			   "(got %s)", fname, luaL_tolstring(L, -1, NULL));
	lua_pop(L, 1);
}

/* xpcs.correlator{dynamic=, static=, dpl=, lags0=, first=, last=,
** stride=, dark=, normalize=, reject_sigma=, segment_frames=, threads=,
** kernel=, sparse=, sparse_levels=, events=, progress=, total=} */
static int lxpcs_correlator(lua_State *L)
{
	const char *fname = "xpcs.correlator";
	lxpcs_part *dy, *st = NULL;
	corr_opts o;
	lxpcs_corr *u;
	arr *dark = NULL;
	char err[ERR_LEN];
	lua_Integer first, last;
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	lua_getfield(L, 1, "dynamic");
	dy = lxpcs_checkpart(L, 2);
	lua_getfield(L, 1, "static");
	if (!lua_isnil(L, 3))
		st = lxpcs_checkpart(L, 3);
	corr_opts_default(&o);
	o.dpl = (int)lbind_optint(L, 1, "dpl", 4, 1, CORR_MAXLAG / 2, fname);
	o.lags0 = (int)lbind_optint(L, 1, "lags0", 2 * o.dpl, 1, 2 * o.dpl,
				    fname);
	first = lbind_optint(L, 1, "first", 1, 1, LXPCS_MAXFRAMES, fname);
	last = lbind_optint(L, 1, "last", 0, 0, LXPCS_MAXFRAMES, fname);
	o.first = (size_t)first - 1;
	o.last = (size_t)last;
	o.stride = (size_t)lbind_optint(L, 1, "stride", 1, 1, LXPCS_MAXFRAMES,
					fname);
	o.normalize = lbind_optbool(L, 1, "normalize", 0, fname);
	o.reject_sigma = lbind_optnum(L, 1, "reject_sigma", 0, fname);
	o.segment_frames = (size_t)lbind_optint(L, 1, "segment_frames", 0, 0,
						LXPCS_MAXFRAMES, fname);
	o.nthreads = (int)lbind_optint(L, 1, "threads", 0, 0, LXPCS_MAXTHREADS, fname);
	lxpcs_kernel_opt(L, &o, fname);
	lxpcs_sparse_opt(L, &o, fname);
	o.sparse_levels = (int)lbind_optint(L, 1, "sparse_levels", 0, 0, 64,
					    fname);
	o.events = lbind_optbool(L, 1, "events", 0, fname);
	dark = lxpcs_field_arr(L, 1, "dark", ARR_F64, dy->m.npix,
			       dy->m.cols, 0, fname);
	if (dark)
		o.dark = (double *)dark->data;
	u = lua_newuserdatauv(L, sizeof *u, 0);
	memset(u, 0, sizeof *u);
	luaL_setmetatable(L, LXPCS_CORR);
	progress_init(&u->prog);
	lua_getfield(L, 1, "progress");
	if (lua_isboolean(L, -1) && !lua_toboolean(L, -1))
		u->prog.mode = PROGRESS_OFF;
	lua_pop(L, 1);
	o.prog = &u->prog;
	if (corr_new(&u->c, &dy->m, st ? &st->m : NULL, &o, err) != 0)
		return lbind_error(L, fname, err);
	u->rows = dy->m.rows;
	u->cols = dy->m.cols;
	progress_begin(&u->prog, "multitau",
		       (double)lbind_optint(L, 1, "total", 0, 0,
					    LXPCS_MAXFRAMES, fname));
	u->bar = 1;
	return 1;
}

/* The frames argument of c:push and t:push: a frame (rows x cols) or a
** stack (n x rows x cols) of any dtype, made contiguous (a copy stays on
** the stack), with the optional 1-based first/count of a stack at 3 and 4.
** Fills *f with the address of the first chosen frame and the sizes. */
typedef struct lxpcs_stack {
	const arr *a;		/* the stack (a contiguous copy if need be) */
	const char *data;
	arr_dtype dtype;
	size_t count, rows, cols;
} lxpcs_stack;

static void lxpcs_getframes(lua_State *L, const char *fname, lxpcs_stack *f)
{
	arr *a = larray_check(L, 2);
	lua_Integer n, f0, cnt;
	char err[ERR_LEN];
	if (a->ndim != 2 && a->ndim != 3)
		luaL_error(L, "%s: frames are %d-D, expected rows x cols or "
			   "frames x rows x cols", fname, (int)a->ndim);
	if (!arr_is_contiguous(a)) {
		arr tmp;
		if (arr_copy(&tmp, a, a->dtype, err) != 0)
			lbind_error(L, fname, err);
		a = larray_push(L, &tmp);
	}
	n = a->ndim == 3 ? (lua_Integer)a->shape[0] : 1;
	f->rows = a->shape[a->ndim - 2];
	f->cols = a->shape[a->ndim - 1];
	f0 = luaL_optinteger(L, 3, 1);
	cnt = luaL_optinteger(L, 4, n - (f0 - 1));
	if (f0 < 1 || cnt < 0 || f0 - 1 + cnt > n)
		luaL_error(L, "%s: frames %d..%d of a stack of %d", fname,
			   (int)f0, (int)(f0 - 1 + cnt), (int)n);
	f->a = a;
	f->dtype = a->dtype;
	f->count = (size_t)cnt;
	f->data = a->data + (size_t)(f0 - 1) * f->rows * f->cols *
		  arr_dtype_size(a->dtype);
}

/* an integer array argument of a 1-D array of dtype dt, contiguous */
static const arr *lxpcs_vec(lua_State *L, int i, arr_dtype dt,
			    const char *what, const char *fname)
{
	const arr *a = larray_check(L, i);
	if (a->dtype != dt || a->ndim != 1 || !arr_is_contiguous(a))
		luaL_error(L, "%s: %s must be a contiguous 1-D %s array (as "
			   "detector.events gives)", fname, what,
			   dt == ARR_U32 ? "u32" : "u16");
	return a;
}

/* c:push_events(pixels, counts [, per_frame]): the photons of one frame
** (or of #per_frame frames, per_frame[f] events each, one after the
** other), pixels 1-based (row - 1) * cols + col, as detector.events */
static int lxpcs_push_events(lua_State *L)
{
	const char *fname = "correlator:push_events";
	lxpcs_corr *u = lxpcs_checkcorr(L, 1);
	const arr *pa = lxpcs_vec(L, 2, ARR_U32, "pixels", fname);
	const arr *ca = lxpcs_vec(L, 3, ARR_U16, "counts", fname);
	size_t n = pa->shape[0], nf = 1, *off;
	const uint32_t *pix;
	char err[ERR_LEN];
	int rc, given = !lua_isnoneornil(L, 4);
	if (ca->shape[0] != n)
		luaL_error(L, "%s: %I pixels but %I counts", fname,
			   (lua_Integer)n, (lua_Integer)ca->shape[0]);
	lua_settop(L, 4);
	if (given) {
		luaL_checktype(L, 4, LUA_TTABLE);
		nf = (size_t)luaL_len(L, 4);
	}
	off = lua_newuserdatauv(L, (nf + 1) * sizeof *off, 0);
	off[0] = 0;
	off[nf] = n;
	for (size_t f = 0; given && f < nf; f++) {
		lua_Integer k;
		lua_geti(L, 4, (lua_Integer)f + 1);
		k = lua_tointeger(L, -1);
		if (!lua_isinteger(L, -1) || k < 0 || (size_t)k > n - off[f])
			luaL_error(L, "%s: per_frame[%I] must be an integer "
				   "count of events within the %I given",
				   fname, (lua_Integer)f + 1, (lua_Integer)n);
		lua_pop(L, 1);
		off[f + 1] = off[f] + (size_t)k;
	}
	if (off[nf] != n)
		luaL_error(L, "%s: per_frame adds up to %I events, but %I "
			   "are given", fname, (lua_Integer)off[nf],
			   (lua_Integer)n);
	pix = (const uint32_t *)pa->data;
	rc = corr_push_events(u->c, nf, off, pix, 1,
			      (const uint16_t *)ca->data, err);
	if (rc != 0)
		return lbind_error(L, fname, err);
	lua_settop(L, 1);
	return 1;
}

/* c:push(frames [, first, count [, means]]): means (an f64 array, one
** per frame of the stack) the whole detector's frame means, for a
** correlator of a part (corr_push_means) */
static int lxpcs_push(lua_State *L)
{
	lxpcs_corr *u = lxpcs_checkcorr(L, 1);
	lxpcs_stack f;
	char err[ERR_LEN];
	const double *mean = NULL;
	arr *m;
	lua_settop(L, 5);
	lxpcs_getframes(L, "correlator:push", &f);
	if (!lua_isnil(L, 5)) {
		size_t n = f.a->ndim == 3 ? f.a->shape[0] : 1,
		       f0 = (size_t)luaL_optinteger(L, 3, 1) - 1;
		m = larray_check(L, 5);
		if (m->dtype != ARR_F64 || m->ndim != 1 || m->shape[0] != n ||
		    m->strides[0] != 1)
			return luaL_error(L, "correlator:push: means must be a "
					  "contiguous f64 array of the %d "
					  "frames' means", (int)n);
		mean = (const double *)m->data + f0;
	}
	if (corr_push_means(u->c, f.data, f.dtype, f.count, f.rows, f.cols,
			    mean, err) != 0)
		return lbind_error(L, "correlator:push", err);
	lua_settop(L, 1);
	return 1;
}

/* c:frame_sums(frames) -> f64 array: each frame's dark-subtracted sum
** over the used pixels; c:pixels(): their number (corr_frame_sums) */
static int lxpcs_frame_sums(lua_State *L)
{
	lxpcs_corr *u = lxpcs_checkcorr(L, 1);
	lxpcs_stack f;
	char err[ERR_LEN];
	arr *out;
	lua_settop(L, 2);
	lxpcs_getframes(L, "correlator:frame_sums", &f);
	out = larray_new_uninit(L, ARR_F64, 1, &f.count);
	if (corr_frame_sums(u->c, f.data, f.dtype, f.count, f.rows, f.cols,
			    (double *)out->data, err) != 0)
		return lbind_error(L, "correlator:frame_sums", err);
	return 1;
}

static int lxpcs_pixels(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)corr_used_pixels(
				lxpcs_checkcorr(L, 1)->c));
	return 1;
}

/* c:push_async(frames [, first, count]): the push runs in a background
** thread; the frames are held (and must not be changed) until the next
** call on c, which waits for it and raises its error */
static int lxpcs_push_async(lua_State *L)
{
	lxpcs_corr *u = lxpcs_checkcorr(L, 1);
	lxpcs_stack f;
	char err[ERR_LEN];
	lxpcs_getframes(L, "correlator:push_async", &f);
	if (f.a->buf == NULL) {	/* borrowed memory: no reference to hold */
		if (corr_push(u->c, f.data, f.dtype, f.count, f.rows, f.cols,
			      err) != 0)
			return lbind_error(L, "correlator:push_async", err);
	} else {
		arr_retain(&u->held, f.a);
		if (corrbg_push(&u->bg, u->c, f.data, f.dtype, f.count, f.rows,
				f.cols, err) != 0) {
			arr_release(&u->held);
			return lbind_error(L, "correlator:push_async", err);
		}
	}
	lua_settop(L, 1);
	return 1;
}

static void lxpcs_setarr(lua_State *L, const char *k, const double *v,
			 size_t r, size_t c, int mat)
{
	if (mat)
		lxpcs_push_mat(L, v, r, c);
	else
		lxpcs_push_vec(L, v, r);
	lua_setfield(L, -2, k);
}

#define LXPCS_RES "ionflow.xpcs.result"

static int lxpcs_res_gc(lua_State *L)
{
	corr_res_free(luaL_checkudata(L, 1, LXPCS_RES));
	return 0;
}

#define LXPCS_SUMS "ionflow.xpcs.sums"

static int lxpcs_sums_gc(lua_State *L)
{
	corr_sums **S = luaL_checkudata(L, 1, LXPCS_SUMS);
	corr_sums_free(*S);
	*S = NULL;
	return 0;
}

/* corr_sums' three steps, reduce(buf) -> the sum of every part's buf
** between them (fn: its stack index) */
static int lxpcs_reduced(lua_State *L, lxpcs_corr *u, int fn, corr_res *r)
{
	char err[ERR_LEN];
	corr_sums **S = lua_newuserdatauv(L, sizeof *S, 0);
	*S = NULL;
	luaL_setmetatable(L, LXPCS_SUMS);
	if (corr_sums_new(u->c, S, err) != 0)
		return lbind_error(L, "correlator:result", err);
	for (int step = 0; step < 2; step++) {
		size_t n;
		double *b = corr_sums_buf(*S, &n);
		arr *a = larray_new_uninit(L, ARR_F64, 1, &n), *got;
		memcpy(a->data, b, n * sizeof *b);
		lua_pushvalue(L, fn);
		lua_insert(L, -2);
		lua_call(L, 1, 1);
		got = larray_test(L, -1);
		if (got == NULL || got->ndim != 1 || got->shape[0] != n ||
		    got->dtype != ARR_F64)
			return luaL_error(L, "correlator:result: reduce must "
					  "return an f64 array of %d sums",
					  (int)n);
		for (size_t i = 0; i < n; i++)
			b[i] = *(double *)(got->data +
					   (ptrdiff_t)i * got->strides[0] * 8);
		lua_pop(L, 1);
		if (corr_sums_step(u->c, *S, step ? r : NULL, err) != 0)
			return lbind_error(L, "correlator:result", err);
	}
	corr_sums_free(*S);
	*S = NULL;
	lua_pop(L, 1);
	return 0;
}

/* c:result([reduce]) -> {tau=, level=, g2=, g2_err=, g2_static=, image=, iq=,
** iq_segments=, ivt=, frame_index=, rejected=, nframes=}: g2 is delays x
** dynamic bins; frame indices are 1-based stream indices. With reduce
** (correlators on parts of the pixels, MPI ranks), the sums each step
** needs pass through reduce(array) -> their sum over every part */
static int lxpcs_result(lua_State *L)
{
	lxpcs_corr *u = lxpcs_checkcorr(L, 1);
	corr_res *r;
	char err[ERR_LEN];
	size_t sh[2] = {u->rows, u->cols};
	arr *a;
	lua_settop(L, 2);
	if (!lua_isnil(L, 2))
		luaL_checktype(L, 2, LUA_TFUNCTION);
	r = lua_newuserdatauv(L, sizeof *r, 0);	/* 3: frees r on error */
	memset(r, 0, sizeof *r);
	luaL_setmetatable(L, LXPCS_RES);
	if (!lua_isnil(L, 2))
		lxpcs_reduced(L, u, 2, r);
	else if (corr_result(u->c, r, err) != 0)
		return lbind_error(L, "correlator:result", err);
	if (u->bar) {
		progress_end(&u->prog);
		u->bar = 0;
	}
	lua_createtable(L, 0, 14);
	lxpcs_setarr(L, "tau", r->tau, r->ntau, 0, 0);
	a = larray_new(L, ARR_F64, 1, &r->ntau);
	for (size_t i = 0; i < r->ntau; i++)
		((double *)a->data)[i] = r->level[i];
	lua_setfield(L, -2, "level");
	lxpcs_setarr(L, "g2", r->g2, r->ntau, r->ndyn, 1);
	lxpcs_setarr(L, "g2_err", r->g2_err, r->ntau, r->ndyn, 1);
	lxpcs_setarr(L, "g2_static", r->g2_static, r->ntau, r->nstat, 1);
	a = larray_new(L, ARR_F64, 2, sh);
	memcpy(a->data, r->image, r->npix * sizeof(double));
	lua_setfield(L, -2, "image");
	lxpcs_setarr(L, "iq", r->iq, r->nstat, 0, 0);
	if (r->nseg > 0)
		lxpcs_setarr(L, "iq_segments", r->iq_seg, r->nseg, r->nstat, 1);
	lxpcs_setarr(L, "ivt", r->ivt, r->nframes, 0, 0);
	a = larray_new(L, ARR_F64, 1, &r->nframes);
	for (size_t i = 0; i < r->nframes; i++)
		((double *)a->data)[i] = (double)r->frame_index[i] + 1;
	lua_setfield(L, -2, "frame_index");
	lua_createtable(L, (int)r->nrejected, 0);
	for (size_t i = 0; i < r->nrejected; i++) {
		lua_pushinteger(L, (lua_Integer)r->rejected[i] + 1);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "rejected");
	lua_pushinteger(L, (lua_Integer)r->nframes);
	lua_setfield(L, -2, "nframes");
	corr_res_free(r);
	return 1;
}

static int lxpcs_frames(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)corr_frames(lxpcs_checkcorr(L, 1)->c));
	return 1;
}

static int lxpcs_memory(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)corr_memory(lxpcs_checkcorr(L, 1)->c));
	return 1;
}

/* c:reset(): no frames again, the memory kept */
static int lxpcs_reset(lua_State *L)
{
	corr_reset(lxpcs_checkcorr(L, 1)->c);
	lua_settop(L, 1);
	return 1;
}

static int lxpcs_batch(lua_State *L)
{
	lua_pushinteger(L,
			(lua_Integer)corr_batch_frames(lxpcs_checkcorr(L, 1)->c));
	return 1;
}

static int lxpcs_corr_kernel(lua_State *L)
{
	lua_pushstring(L, corr_kernel_name(lxpcs_checkcorr(L, 1)->c));
	return 1;
}

static int lxpcs_int_share(lua_State *L)
{
	lxpcs_corr *u = lxpcs_checkcorr(L, 1);
	lua_pushnumber(L, corr_int_share(u->c, (int)luaL_optinteger(L, 2, 0)));
	return 1;
}

static int lxpcs_sparse_share(lua_State *L)
{
	lxpcs_corr *u = lxpcs_checkcorr(L, 1);
	lua_pushnumber(L, corr_sparse_share_at(u->c,
					       (int)luaL_optinteger(L, 2, 0)));
	return 1;
}

static int lxpcs_corr_gc(lua_State *L)
{
	lxpcs_corr *u = luaL_checkudata(L, 1, LXPCS_CORR);
	char err[ERR_LEN];
	(void)corrbg_wait(&u->bg, err);	/* closing: its error is moot */
	arr_release(&u->held);
	if (u->bar) {
		progress_end(&u->prog);
		u->bar = 0;
	}
	corr_free(u->c);
	u->c = NULL;
	return 0;
}

static int lxpcs_corr_tostring(lua_State *L)
{
	lxpcs_corr *u = luaL_checkudata(L, 1, LXPCS_CORR);
	if (u->c == NULL)
		lua_pushliteral(L, "xpcs correlator (closed)");
	else
		lua_pushfstring(L, "xpcs correlator %dx%d, %d frames, %d MB",
				(int)u->rows, (int)u->cols,
				(int)corr_frames(u->c),
				(int)(corr_memory(u->c) >> 20));
	return 1;
}

/* ------------------------------------------------------------ two-time */

typedef struct lxpcs_tt { twotime *t; size_t rows, cols, nsel; } lxpcs_tt;

static lxpcs_tt *lxpcs_checktt(lua_State *L, int i)
{
	lxpcs_tt *u = luaL_checkudata(L, i, LXPCS_TT);
	if (u->t == NULL)
		luaL_argerror(L, i, "two-time correlator is closed");
	return u;
}

/* xpcs.twotime{partition=, bins={...}, downsample=1, max_frames=20000} */
static int lxpcs_twotime(lua_State *L)
{
	const char *fname = "xpcs.twotime";
	lxpcs_part *p;
	lxpcs_tt *u;
	int32_t *bins;
	size_t n;
	lua_Integer ds, mf;
	char err[ERR_LEN];
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	lua_getfield(L, 1, "partition");
	p = lxpcs_checkpart(L, 2);
	if (lua_getfield(L, 1, "bins") != LUA_TTABLE)
		return luaL_error(L, "%s: 'bins' must be a list of bin numbers",
				  fname);
	n = lua_rawlen(L, 3);
	bins = lua_newuserdatauv(L, (n ? n : 1) * sizeof *bins, 0);
	for (size_t k = 0; k < n; k++) {
		lua_Integer b;
		lua_rawgeti(L, 3, (lua_Integer)k + 1);
		b = luaL_checkinteger(L, -1);
		/* (the core names a bin outside the partition) */
		bins[k] = b < 0 || b > INT32_MAX ? -1 : (int32_t)b;
		lua_pop(L, 1);
	}
	ds = lbind_optint(L, 1, "downsample", 1, 1, LXPCS_MAXFRAMES, fname);
	mf = lbind_optint(L, 1, "max_frames", 20000, 2, LXPCS_MAXFRAMES, fname);
	u = lua_newuserdatauv(L, sizeof *u, 0);
	memset(u, 0, sizeof *u);
	luaL_setmetatable(L, LXPCS_TT);
	if (twotime_new(&u->t, &p->m, bins, n, (size_t)ds, (size_t)mf,
			err) != 0)
		return lbind_error(L, fname, err);
	u->rows = p->m.rows;
	u->cols = p->m.cols;
	u->nsel = n;
	return 1;
}

/* t:push(frames [, first, count]) as correlator:push */
static int lxpcs_tt_push(lua_State *L)
{
	lxpcs_tt *u = lxpcs_checktt(L, 1);
	lxpcs_stack f;
	char err[ERR_LEN];
	lxpcs_getframes(L, "twotime:push", &f);
	if (twotime_push(u->t, f.data, f.dtype, f.count, f.rows, f.cols,
			 err) != 0)
		return lbind_error(L, "twotime:push", err);
	lua_settop(L, 1);
	return 1;
}

/* the two-time sums of the k-th bin through reduce(array) -> their sum
** over every part (fn: its stack index): S (n x n), s (n) and the pixel
** count in one f64 array; leaves the summed array on the stack and
** points *S, *s, *np into it */
static void lxpcs_tt_reduced(lua_State *L, lxpcs_tt *u, size_t k, int fn,
			     double **S, double **s, double *np)
{
	size_t n = twotime_frames(u->t), len = n * n + n + 1;
	arr *a = larray_new_uninit(L, ARR_F64, 1, &len), *got;
	double *b = (double *)a->data;
	char err[ERR_LEN];
	if (twotime_sums(u->t, k, b, b + n * n, b + n * n + n, err) != 0)
		lbind_error(L, "twotime:result", err);
	lua_pushvalue(L, fn);
	lua_insert(L, -2);
	lua_call(L, 1, 1);
	got = larray_test(L, -1);
	if (got == NULL || got->ndim != 1 || got->shape[0] != len ||
	    got->dtype != ARR_F64 || got->strides[0] != 1)
		luaL_error(L, "twotime:result: reduce must return a contiguous "
			   "f64 array of %d sums", (int)len);
	b = (double *)got->data;
	*S = b;
	*s = b + n * n;
	*np = b[n * n + n];
}

/* t:result(k [, {age={first, last}, reduce=fn}]) -> {C=n x n, g2=n,
** tau=n} for the k-th chosen bin; tau in (downsampled) frames from 0,
** ages 1-based. With reduce (two-time correlators on parts of the
** pixels, MPI ranks), the sums pass through reduce(array) -> their sum
** over every part before the normalisation */
static int lxpcs_tt_result(lua_State *L)
{
	lxpcs_tt *u = lxpcs_checktt(L, 1);
	lua_Integer k = luaL_checkinteger(L, 2);
	size_t n = twotime_frames(u->t), sh[2] = {n, n}, a0 = 0, a1 = 0;
	arr *C, *g2, *tau;
	char err[ERR_LEN];
	int fn = 0;
	if (k < 1 || (size_t)k > u->nsel)
		return luaL_error(L, "twotime:result: bin index %d not in "
				  "1..%d", (int)k, (int)u->nsel);
	lua_settop(L, 3);
	if (lua_istable(L, 3) && lua_getfield(L, 3, "age") == LUA_TTABLE) {
		lua_rawgeti(L, -1, 1);
		lua_rawgeti(L, -2, 2);
		a0 = (size_t)luaL_checkinteger(L, -2) - 1;
		a1 = (size_t)luaL_checkinteger(L, -1);
		lua_pop(L, 3);
		if (a1 == 0)
			return luaL_error(L, "twotime:result: empty age window");
	}
	lua_settop(L, 3);
	if (lua_istable(L, 3) && lua_getfield(L, 3, "reduce") != LUA_TNIL) {
		luaL_checktype(L, 4, LUA_TFUNCTION);
		fn = 4;
	}
	lua_createtable(L, 0, 3);
	C = larray_new_uninit(L, ARR_F64, 2, sh);
	lua_setfield(L, -2, "C");
	g2 = larray_new_uninit(L, ARR_F64, 1, &n);
	lua_setfield(L, -2, "g2");
	tau = larray_new(L, ARR_F64, 1, &n);
	for (size_t i = 0; i < n; i++)
		((double *)tau->data)[i] = (double)i;
	lua_setfield(L, -2, "tau");
	if (fn) {
		double *S, *s, np;
		lxpcs_tt_reduced(L, u, (size_t)k - 1, fn, &S, &s, &np);
		memcpy(C->data, S, n * n * sizeof *S);
		if (twotime_norm(n, (double *)C->data, s, np,
				 (double *)g2->data, a0, a1, err) != 0)
			return lbind_error(L, "twotime:result", err);
		lua_pop(L, 1);
	} else if (twotime_result(u->t, (size_t)k - 1, (double *)C->data,
				  (double *)g2->data, a0, a1, err) != 0)
		return lbind_error(L, "twotime:result", err);
	return 1;
}

static int lxpcs_tt_frames(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)twotime_frames(lxpcs_checktt(L, 1)->t));
	return 1;
}

static int lxpcs_tt_memory(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)twotime_memory(lxpcs_checktt(L, 1)->t));
	return 1;
}

static int lxpcs_tt_gc(lua_State *L)
{
	lxpcs_tt *u = luaL_checkudata(L, 1, LXPCS_TT);
	twotime_free(u->t);
	u->t = NULL;
	return 0;
}

static const luaL_Reg lxpcs_tt_methods[] = {
	{"push", lxpcs_tt_push}, {"result", lxpcs_tt_result},
	{"frames", lxpcs_tt_frames}, {"memory", lxpcs_tt_memory},
	{"close", lxpcs_tt_gc}, {NULL, NULL}
};

/* xpcs.delays(nframes [, {dpl=, lags0=}]) -> the delays in frames */
static int lxpcs_delays(lua_State *L)
{
	lua_Integer nf = luaL_checkinteger(L, 1);
	corr_opts o;
	size_t n;
	arr *a;
	corr_opts_default(&o);
	if (lua_istable(L, 2)) {
		o.dpl = (int)lbind_optint(L, 2, "dpl", 4, 1, CORR_MAXLAG / 2,
					  "xpcs.delays");
		o.lags0 = (int)lbind_optint(L, 2, "lags0", 2 * o.dpl, 1,
					    2 * o.dpl, "xpcs.delays");
	}
	if (nf < 0 || nf > LXPCS_MAXFRAMES || o.dpl < 1 || o.dpl > CORR_MAXLAG / 2 || o.lags0 < 1 ||
	    o.lags0 > 2 * o.dpl)
		return luaL_error(L, "xpcs.delays: frames must be 0..%d, dpl "
				  "1..%d, lags0 1..2 dpl (got %I, %d, %d)",
				  LXPCS_MAXFRAMES, CORR_MAXLAG / 2, nf, o.dpl,
				  o.lags0);
	n = corr_delays(&o, (size_t)nf, NULL, 0);
	a = larray_new(L, ARR_F64, 1, &n);
	corr_delays(&o, (size_t)nf, (double *)a->data, n);
	return 1;
}

/* xpcs.poisson(n, rows, cols, mean [, seed]) -> n x rows x cols u16 of
** Poisson counts (benchmarks, examples) */
/* xpcs.events(stack): a u16 stack's photons as pixels (u32, 1-based),
** counts (u16) and a table of events per frame, for c:push_events */
static int lxpcs_events(lua_State *L)
{
	const arr *a = larray_check(L, 1);
	const uint16_t *d;
	size_t nf, np, tot = 0, sh;
	uint32_t *pix, *po;
	uint16_t *cnt, *co;
	if (a->dtype != ARR_U16 || a->ndim != 3 || !arr_is_contiguous(a))
		return luaL_error(L, "xpcs.events: expected a contiguous u16 "
				  "stack (frames x rows x cols)");
	d = (const uint16_t *)a->data;
	nf = a->shape[0];
	np = a->shape[1] * a->shape[2];
	for (size_t i = 0; i < nf * np; i++)	/* (first the count) */
		tot += d[i] != 0;
	sh = tot;
	po = (uint32_t *)larray_new_uninit(L, ARR_U32, 1, &sh)->data;
	co = (uint16_t *)larray_new_uninit(L, ARR_U16, 1, &sh)->data;
	lua_createtable(L, (int)nf, 0);
	pix = lua_newuserdatauv(L, (np + 32) * sizeof *pix, 0);
	cnt = lua_newuserdatauv(L, (np + 32) * sizeof *cnt, 0);
	tot = 0;
	for (size_t f = 0; f < nf; f++) {
		size_t k = corrsp_events(d + f * np, np, pix, cnt);
		for (size_t i = 0; i < k; i++) {
			po[tot + i] = pix[i] + 1;
			co[tot + i] = cnt[i];
		}
		lua_pushinteger(L, (lua_Integer)k);
		lua_rawseti(L, 4, (lua_Integer)f + 1);
		tot += k;
	}
	lua_pop(L, 2);
	return 3;
}

static int lxpcs_poisson(lua_State *L)
{
	lua_Integer n = luaL_checkinteger(L, 1), r = luaL_checkinteger(L, 2);
	lua_Integer c = luaL_checkinteger(L, 3);
	double mean = luaL_checknumber(L, 4);
	lua_Integer seed = luaL_optinteger(L, 5, 1);
	size_t sh[3];
	arr *a;
	char err[ERR_LEN];
	if (n < 1 || r < 1 || c < 1 || n > LXPCS_MAXFRAMES ||
	    r > 1 << 20 || c > 1 << 20)
		return luaL_error(L, "xpcs.poisson: sizes must be 1..%d "
				  "frames and 1..%d rows and columns",
				  (int)LXPCS_MAXFRAMES, 1 << 20);
	sh[0] = (size_t)n;
	sh[1] = (size_t)r;
	sh[2] = (size_t)c;
	a = larray_new_uninit(L, ARR_U16, 3, sh);
	if (speckle_poisson_u16((uint16_t *)a->data, arr_size(a), mean,
				(uint64_t)seed, err) != 0)
		return lbind_error(L, "xpcs.poisson", err);
	return 1;
}

static int lxpcs_kernel(lua_State *L)
{
	lua_pushstring(L, corr_kernel_name(NULL));
	return 1;
}

static const luaL_Reg lxpcs_part_meta[] = {
	{"__index", lxpcs_part_index}, {"__gc", lxpcs_part_gc},
	{"__close", lxpcs_part_gc}, {"__tostring", lxpcs_part_tostring},
	{"bin_mean", lxpcs_part_binmean}, {"nest", lxpcs_part_nest},
	{NULL, NULL}
};

static const luaL_Reg lxpcs_corr_methods[] = {
	{"push", lxpcs_push}, {"push_async", lxpcs_push_async},
	{"frame_sums", lxpcs_frame_sums}, {"pixels", lxpcs_pixels},
	{"push_events", lxpcs_push_events},
	{"result", lxpcs_result},
	{"frames", lxpcs_frames}, {"memory", lxpcs_memory},
	{"int_share", lxpcs_int_share}, {"batch", lxpcs_batch},
	{"sparse_share", lxpcs_sparse_share},
	{"kernel", lxpcs_corr_kernel}, {"reset", lxpcs_reset}, {"close", lxpcs_corr_gc}, {NULL, NULL}
};

static const luaL_Reg lxpcs_corr_meta[] = {
	{"__gc", lxpcs_corr_gc}, {"__close", lxpcs_corr_gc},
	{"__tostring", lxpcs_corr_tostring}, {NULL, NULL}
};

static const luaL_Reg lxpcs_funcs[] = {
	{"geometry", lxpcs_geometry}, {"maps", lxpcs_maps},
	{"pixel", lxpcs_pixel}, {"partition", lxpcs_partition},
	{"mask", lxpcs_mask}, {"correlator", lxpcs_correlator},
	{"delays", lxpcs_delays}, {"kernel", lxpcs_kernel},
	{"poisson", lxpcs_poisson}, {"events", lxpcs_events}, {"twotime", lxpcs_twotime}, {NULL, NULL}
};

int luaopen_ionflow_xpcs(lua_State *L)
{
	luaL_newmetatable(L, LXPCS_PART);
	luaL_setfuncs(L, lxpcs_part_meta, 0);
	lua_pop(L, 1);
	luaL_newmetatable(L, LXPCS_CORR);
	luaL_setfuncs(L, lxpcs_corr_meta, 0);
	luaL_newlib(L, lxpcs_corr_methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_newmetatable(L, LXPCS_TT);
	lua_pushcfunction(L, lxpcs_tt_gc);
	lua_setfield(L, -2, "__gc");
	lua_pushcfunction(L, lxpcs_tt_gc);
	lua_setfield(L, -2, "__close");
	luaL_newlib(L, lxpcs_tt_methods);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_newmetatable(L, LXPCS_RES);
	lua_pushcfunction(L, lxpcs_res_gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
	luaL_newmetatable(L, LXPCS_SUMS);
	lua_pushcfunction(L, lxpcs_sums_gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
	luaL_newlib(L, lxpcs_funcs);
	return 1;
}
