/*
** lh5.c - the Lua binding of the HDF5 core (see h5.h).
**
**   local f = h5.open("scan.h5")             -- read-only
**   f:list("/entry"), f:info(p), f:read(p [, sel]), f:attr(p, name)
**   for i, frame in h5.frames("scan.h5", "/entry/data/data") do ... end
**   local w = h5.create("result.h5")         -- atomic: tmp + rename
**   w:write("/xpcs/multitau/delay_list", d); w:close()
**
** Indices in Lua are 1-based; the core is 0-based. Core results that own
** memory are handed to a holder userdata first, so that a Lua error while
** building tables cannot leak them.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "h5.h"
#include "larray.h"
#include "lbind.h"

#define LH5_FILE "ionflow.h5.file"
#define LH5_FRAMES "ionflow.h5.frames"
#define LH5_WRITER "ionflow.h5.writer"
#define LH5_HOLD "ionflow.h5.hold"

typedef struct lh5_file { h5_file *f; } lh5_file;
typedef struct lh5_frames {
	h5_frames *fr;
	int blocks;		/* yield whole blocks instead of frames */
} lh5_frames;
typedef struct lh5_writer { h5_writer *w; } lh5_writer;

/* ---------------------------------------------------------------- */
/* holders: core memory owned by a userdata until it is released     */
/* ---------------------------------------------------------------- */

typedef struct lh5_hold {
	h5_value v;
	h5_entry *e;
	size_t ne;
	char **names;
	size_t nn;
} lh5_hold;

static void lh5_hold_free(lh5_hold *h)
{
	h5_value_free(&h->v);
	h5_list_free(h->e, h->ne);
	h5_names_free(h->names, h->nn);
	memset(h, 0, sizeof *h);
}

static int lh5_hold_gc(lua_State *L)
{
	lh5_hold_free(luaL_checkudata(L, 1, LH5_HOLD));
	return 0;
}

static lh5_hold *lh5_hold_new(lua_State *L)
{
	lh5_hold *h = lua_newuserdatauv(L, sizeof *h, 0);
	memset(h, 0, sizeof *h);
	luaL_setmetatable(L, LH5_HOLD);
	return h;
}

/* ---------------------------------------------------------------- */
/* arguments                                                        */
/* ---------------------------------------------------------------- */

static lh5_file *lh5_checkfile(lua_State *L, int i)
{
	lh5_file *u = luaL_checkudata(L, i, LH5_FILE);
	if (u->f == NULL)
		luaL_argerror(L, i, "h5 file is closed");
	return u;
}

static lh5_writer *lh5_checkwriter(lua_State *L, int i)
{
	lh5_writer *u = luaL_checkudata(L, i, LH5_WRITER);
	if (u->w == NULL)
		luaL_argerror(L, i, "h5 writer is closed");
	return u;
}

/* a list of integers (or a single integer) in field k of table t; returns
** its length, -1 when absent */
static int lh5_intlist(lua_State *L, int t, const char *k, lua_Integer *out,
		       const char *fname)
{
	int n = -1, isint, j;
	int ty = lua_getfield(L, t, k);
	if (ty == LUA_TNUMBER) {
		out[0] = lua_tointegerx(L, -1, &isint);
		if (!isint)
			luaL_error(L, "%s: '%s' must hold integers", fname, k);
		n = 1;
	} else if (ty == LUA_TTABLE) {
		n = (int)luaL_len(L, -1);
		if (n > H5_MAXDIM)
			luaL_error(L, "%s: '%s' has more than %d axes", fname,
				   k, H5_MAXDIM);
		for (j = 0; j < n; j++) {
			lua_geti(L, -1, j + 1);
			out[j] = lua_tointegerx(L, -1, &isint);
			if (!isint)
				luaL_error(L, "%s: %s[%d] must be an integer",
					   fname, k, j + 1);
			lua_pop(L, 1);
		}
	} else if (ty != LUA_TNIL) {
		luaL_error(L, "%s: '%s' must be a list of integers", fname, k);
	}
	lua_pop(L, 1);
	return n;
}

/* {first=, count=, step=} (1-based, per axis) into a 0-based h5_sel,
** checked against the dataset's shape so that errors speak Lua's indices */
static void lh5_sel(lua_State *L, int t, const h5_info *info, h5_sel *s,
		    const char *fname, const char *what)
{
	lua_Integer fi[H5_MAXDIM], co[H5_MAXDIM], st[H5_MAXDIM];
	int nf, nc, ns, d, nd;
	luaL_checktype(L, t, LUA_TTABLE);
	nf = lh5_intlist(L, t, "first", fi, fname);
	nc = lh5_intlist(L, t, "count", co, fname);
	ns = lh5_intlist(L, t, "step", st, fname);
	nd = nf > nc ? nf : nc;
	nd = ns > nd ? ns : nd;
	if (nd < 0)
		nd = 0;
	if (nd > info->ndim)
		luaL_error(L, "%s: %s: selection has %d axes, the dataset %d",
			   fname, what, nd, info->ndim);
	memset(s, 0, sizeof *s);
	s->ndim = nd;
	for (d = 0; d < nd; d++) {
		lua_Integer f = d < nf ? fi[d] : 1, c = d < nc ? co[d] : -1;
		lua_Integer p = d < ns ? st[d] : 1, n = (lua_Integer)info->shape[d];
		if (f < 1 || p < 1)
			luaL_error(L, "%s: %s: axis %d: first and step must be"
				   " >= 1", fname, what, d + 1);
		if (c < 0) {
			if (f > n + 1)
				luaL_error(L, "%s: %s: axis %d: first %I is"
					   " beyond its size %I", fname, what,
					   d + 1, f, n);
		} else if (c > 0 && f + (c - 1) * p > n) {
			luaL_error(L, "%s: %s: axis %d: %I elements from %I"
				   " step %I run past its size %I", fname, what,
				   d + 1, c, f, p, n);
		}
		s->first[d] = (size_t)(f - 1);
		s->count[d] = c < 0 ? H5_ALL : (size_t)c;
		s->step[d] = (size_t)p;
	}
}

/* ---------------------------------------------------------------- */
/* values and tables out                                            */
/* ---------------------------------------------------------------- */

/* push a core value; takes over its memory (the holder frees the rest) */
static void lh5_pushvalue(lua_State *L, h5_value *v)
{
	size_t k;
	switch (v->kind) {
	case H5_VINT: lua_pushinteger(L, (lua_Integer)v->i); break;
	case H5_VNUM: lua_pushnumber(L, v->d); break;
	case H5_VSTR: lua_pushstring(L, v->s); break;
	case H5_VSTRS:
		lua_createtable(L, (int)v->nstrs, 0);
		for (k = 0; k < v->nstrs; k++) {
			lua_pushstring(L, v->strs[k]);
			lua_rawseti(L, -2, (lua_Integer)k + 1);
		}
		break;
	case H5_VARR: larray_push(L, &v->a); break;
	default: lua_pushnil(L); break;
	}
}

static void lh5_pushsizes(lua_State *L, int n, const size_t *v)
{
	int d;
	lua_createtable(L, n, 0);
	for (d = 0; d < n; d++) {
		lua_pushinteger(L, (lua_Integer)v[d]);
		lua_rawseti(L, -2, d + 1);
	}
}

static const char *lh5_kind(h5_kind k)
{
	return k == H5_GROUP ? "group" : k == H5_DATASET ? "dataset" : "other";
}

/* the info table: kind, shape, dtype, read_as, chunks, filters, ... */
static void lh5_pushinfo(lua_State *L, const h5_info *info)
{
	size_t n = 1;
	int d;
	lua_createtable(L, 0, 10);
	lua_pushstring(L, lh5_kind(info->kind));
	lua_setfield(L, -2, "kind");
	lua_pushinteger(L, (lua_Integer)info->nattrs);
	lua_setfield(L, -2, "nattrs");
	if (info->kind == H5_GROUP) {
		lua_pushinteger(L, (lua_Integer)info->nlinks);
		lua_setfield(L, -2, "nmembers");
	}
	if (info->kind != H5_DATASET)
		return;
	lh5_pushsizes(L, info->ndim, info->shape);
	lua_setfield(L, -2, "shape");
	lua_pushinteger(L, info->ndim);
	lua_setfield(L, -2, "ndim");
	for (d = 0; d < info->ndim; d++)
		n *= info->shape[d];
	lua_pushinteger(L, (lua_Integer)n);
	lua_setfield(L, -2, "size");
	lua_pushstring(L, info->dtype);
	lua_setfield(L, -2, "dtype");
	if (info->numeric || info->is_string) {
		lua_pushstring(L, info->is_string ? "string"
				  : arr_dtype_name(info->read_as));
		lua_setfield(L, -2, "read_as");
	}
	if (info->chunked) {
		lh5_pushsizes(L, info->ndim, info->chunk);
		lua_setfield(L, -2, "chunks");
	}
	if (info->filters[0] != '\0') {
		lua_pushstring(L, info->filters);
		lua_setfield(L, -2, "filters");
	}
}

/* ---------------------------------------------------------------- */
/* the file object                                                  */
/* ---------------------------------------------------------------- */

static int lh5_open(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	const char *mode = luaL_optstring(L, 2, "r");
	char err[ERR_LEN];
	lh5_file *u;
	if (strcmp(mode, "r") != 0)
		return luaL_error(L, "h5.open: mode '%s': files are opened"
				  " read-only (\"r\"); use h5.create to write",
				  mode);
	u = lua_newuserdatauv(L, sizeof *u, 0);
	u->f = NULL;
	luaL_setmetatable(L, LH5_FILE);
	if (h5_open(&u->f, path, err) != 0)
		return lbind_error(L, "h5.open", err);
	return 1;
}

static int lh5_file_close(lua_State *L)
{
	lh5_file *u = luaL_checkudata(L, 1, LH5_FILE);
	h5_close(u->f);
	u->f = NULL;
	return 0;
}

static int lh5_file_tostring(lua_State *L)
{
	lh5_file *u = luaL_checkudata(L, 1, LH5_FILE);
	if (u->f == NULL)
		lua_pushliteral(L, "h5.file (closed)");
	else
		lua_pushfstring(L, "h5.file (%s)", h5_file_path(u->f));
	return 1;
}

static int lh5_file_path(lua_State *L)
{
	lua_pushstring(L, h5_file_path(lh5_checkfile(L, 1)->f));
	return 1;
}

static int lh5_exists(lua_State *L)
{
	lh5_file *u = lh5_checkfile(L, 1);
	lua_pushboolean(L, h5_exists(u->f, luaL_checkstring(L, 2)));
	return 1;
}

static int lh5_info(lua_State *L)
{
	lh5_file *u = lh5_checkfile(L, 1);
	const char *path = luaL_checkstring(L, 2);
	char err[ERR_LEN];
	h5_info info;
	if (h5_info_get(u->f, path, &info, err) != 0)
		return lbind_error(L, "h5.info", err);
	lh5_pushinfo(L, &info);
	lua_pushstring(L, path);
	lua_setfield(L, -2, "path");
	return 1;
}

/* entries of a listing as a Lua list of info tables with name and path */
static void lh5_pushentries(lua_State *L, const h5_entry *e, size_t n)
{
	size_t i;
	lua_createtable(L, (int)n, 0);
	for (i = 0; i < n; i++) {
		lh5_pushinfo(L, &e[i].info);
		lua_pushstring(L, e[i].name);
		lua_setfield(L, -2, "name");
		lua_pushstring(L, e[i].path);
		lua_setfield(L, -2, "path");
		if (e[i].broken) {
			lua_pushboolean(L, 1);
			lua_setfield(L, -2, "broken");
		}
		if (e[i].again != NULL) {
			lua_pushstring(L, e[i].again);
			lua_setfield(L, -2, "again");
		}
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
}

/* f:list([group] [, {recursive=true}]) */
static int lh5_list(lua_State *L)
{
	lh5_file *u = lh5_checkfile(L, 1);
	const char *g = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "/";
	int oi = lua_type(L, 2) == LUA_TTABLE ? 2 : 3;
	int rec = lbind_optbool(L, oi, "recursive", 0, "h5.list");
	char err[ERR_LEN];
	lh5_hold *h = lh5_hold_new(L);
	if (h5_list(u->f, g, rec, &h->e, &h->ne, err) != 0)
		return lbind_error(L, "h5.list", err);
	lh5_pushentries(L, h->e, h->ne);
	lh5_hold_free(h);
	return 1;
}

/* read into the holder at the top, then push the value */
static int lh5_read_file(lua_State *L, h5_file *f, const char *dset, int seli,
			 const char *fname)
{
	char err[ERR_LEN], what[600];
	h5_sel sel, *sp = NULL;
	lh5_hold *h;
	if (!lua_isnoneornil(L, seli)) {
		h5_info info;
		if (h5_info_get(f, dset, &info, err) != 0)
			return lbind_error(L, fname, err);
		snprintf(what, sizeof what, "%s:%s", h5_file_path(f), dset);
		if (info.kind != H5_DATASET)
			return luaL_error(L, "%s: %s: is a %s, not a dataset",
					  fname, what, lh5_kind(info.kind));
		lh5_sel(L, seli, &info, &sel, fname, what);
		sp = &sel;
	}
	h = lh5_hold_new(L);
	if (h5_read_value(f, dset, sp, &h->v, err) != 0)
		return lbind_error(L, fname, err);
	lh5_pushvalue(L, &h->v);
	lh5_hold_free(h);
	return 1;
}

static int lh5_read(lua_State *L)
{
	lh5_file *u = lh5_checkfile(L, 1);
	return lh5_read_file(L, u->f, luaL_checkstring(L, 2), 3, "h5.read");
}

static int lh5_attr(lua_State *L)
{
	lh5_file *u = lh5_checkfile(L, 1);
	const char *path = luaL_checkstring(L, 2), *name = luaL_checkstring(L, 3);
	char err[ERR_LEN];
	lh5_hold *h = lh5_hold_new(L);
	if (h5_attr_read(u->f, path, name, &h->v, err) != 0)
		return lbind_error(L, "h5.attr", err);
	lh5_pushvalue(L, &h->v);
	lh5_hold_free(h);
	return 1;
}

/* all attributes as a table; those of unsupported types go into a second
** table, name -> reason, instead of failing the whole call */
static int lh5_attrs(lua_State *L)
{
	lh5_file *u = lh5_checkfile(L, 1);
	const char *path = luaL_optstring(L, 2, "/");
	char err[ERR_LEN];
	lh5_hold *h = lh5_hold_new(L);
	size_t i;
	int t, bad;
	if (h5_attr_names(u->f, path, &h->names, &h->nn, err) != 0)
		return lbind_error(L, "h5.attrs", err);
	lua_newtable(L);
	t = lua_gettop(L);
	lua_newtable(L);
	bad = lua_gettop(L);
	for (i = 0; i < h->nn; i++) {
		if (h5_attr_read(u->f, path, h->names[i], &h->v, err) != 0) {
			lua_pushstring(L, err);
			lua_setfield(L, bad, h->names[i]);
			continue;
		}
		lh5_pushvalue(L, &h->v);
		h5_value_free(&h->v);
		lua_setfield(L, t, h->names[i]);
	}
	lh5_hold_free(h);
	return 2;
}

/* ---------------------------------------------------------------- */
/* frames                                                           */
/* ---------------------------------------------------------------- */

static int lh5_frames_gc(lua_State *L)
{
	lh5_frames *u = luaL_checkudata(L, 1, LH5_FRAMES);
	h5_frames_close(u->fr);
	u->fr = NULL;
	return 0;
}

/* The frame views handed out from the current block are closed before it
** is refilled in place (larray_views_release): memory stays one block
** however many frames pass. A view the user derived from a frame still
** holds the buffer, and the core then reads into a new one instead of
** overwriting it. */

/* the generic-for step: 1-based frame index and the frame (a view), or
** with blocks the index of a block's first frame and the block */
static int lh5_frames_step(lua_State *L)
{
	lh5_frames *u = luaL_checkudata(L, 1, LH5_FRAMES);
	char err[ERR_LEN];
	size_t idx, alloc;
	arr frame;
	int r;
	if (u->fr == NULL)
		return 0;
	if (h5_frames_block_done(u->fr))
		larray_views_release(L, 1);
	r = u->blocks ? h5_frames_next_block(u->fr, &frame, &idx, &alloc, err)
		      : h5_frames_next(u->fr, &frame, &idx, &alloc, err);
	if (r != 1) {	/* end or error: release the file now */
		h5_frames_close(u->fr);
		u->fr = NULL;
		return r == 0 ? 0 : lbind_error(L, "h5.frames", err);
	}
	/* a new buffer is invisible to Lua's collector; a step sized by it
	** lets old blocks (held by dead derived views) be freed in time */
	if (alloc > 0)
		lua_gc(L, LUA_GCSTEP, (int)(alloc / 1024 < 1 << 30 ?
					    alloc / 1024 : 1 << 30));
	lua_pushinteger(L, (lua_Integer)idx + 1);
	larray_push(L, &frame);
	larray_views_keep(L, 1);
	return 2;
}

/* h5.frames(path|file, dset [, {first=, count=, step=, block=,
** blocks=}]) */
static int lh5_frames_new(lua_State *L)
{
	const char *dset = luaL_checkstring(L, 2), *fname = "h5.frames";
	lua_Integer first = 1, count = -1, step = 1, block = 0;
	int blocks = 0;
	char err[ERR_LEN], what[600];
	h5_file *own = NULL, *f;
	lh5_frames *u;
	h5_info info;
	int rc;
	if (!lua_isnoneornil(L, 3))
		luaL_checktype(L, 3, LUA_TTABLE);
	first = lbind_optint(L, 3, "first", first, LUA_MININTEGER,
				LUA_MAXINTEGER, fname);
	count = lbind_optint(L, 3, "count", count, LUA_MININTEGER,
				LUA_MAXINTEGER, fname);
	step = lbind_optint(L, 3, "step", step, LUA_MININTEGER,
				LUA_MAXINTEGER, fname);
	block = lbind_optint(L, 3, "block", block, LUA_MININTEGER,
				LUA_MAXINTEGER, fname);
	blocks = lbind_optbool(L, 3, "blocks", 0, fname);
	if (first < 1 || step < 1 || block < 0)
		return luaL_error(L, "%s: first and step must be >= 1, block"
				  " >= 0", fname);
	u = lua_newuserdatauv(L, sizeof *u, 1);
	u->fr = NULL;
	u->blocks = blocks;
	luaL_setmetatable(L, LH5_FRAMES);
	lua_newtable(L);
	lua_setiuservalue(L, -2, 1);
	if (lua_type(L, 1) == LUA_TSTRING) {
		if (h5_open(&own, lua_tostring(L, 1), err) != 0)
			return lbind_error(L, fname, err);
		f = own;
	} else {
		f = lh5_checkfile(L, 1)->f;
	}
	rc = h5_info_get(f, dset, &info, err);
	snprintf(what, sizeof what, "%s:%s", h5_file_path(f), dset);
	if (rc == 0 && info.kind == H5_DATASET && info.ndim >= 2) {
		lua_Integer nf = (lua_Integer)info.shape[0];
		if (count < 0 && first > nf + 1)
			rc = err_set(err, "%s: first frame %lld is beyond the"
				     " %lld frames", what, (long long)first,
				     (long long)nf);
		else if (count > 0 && first + (count - 1) * step > nf)
			rc = err_set(err, "%s: frames %lld..%lld step %lld run"
				     " past the %lld frames", what,
				     (long long)first,
				     (long long)(first + (count - 1) * step),
				     (long long)step, (long long)nf);
	}
	if (rc == 0)
		rc = h5_frames_open(&u->fr, f, dset, (size_t)(first - 1),
				    count < 0 ? H5_ALL : (size_t)count,
				    (size_t)step, (size_t)block, err);
	h5_close(own);		/* the stream keeps its own handles */
	if (rc != 0)
		return lbind_error(L, fname, err);
	lua_pushcfunction(L, lh5_frames_step);
	lua_insert(L, -2);
	lua_pushnil(L);
	lua_pushvalue(L, -2);	/* closing value: break closes the stream */
	return 4;
}

static int lh5_file_frames(lua_State *L)
{
	lh5_checkfile(L, 1);
	return lh5_frames_new(L);
}

/* h5.read(path, dset [, sel]) */
static int lh5_read_path(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1), *dset = luaL_checkstring(L, 2);
	char err[ERR_LEN];
	lh5_file *u;
	int n;
	lua_settop(L, 3);	/* the selection stays argument 3 */
	u = lua_newuserdatauv(L, sizeof *u, 0);
	u->f = NULL;
	luaL_setmetatable(L, LH5_FILE);
	if (h5_open(&u->f, path, err) != 0)
		return lbind_error(L, "h5.read", err);
	n = lh5_read_file(L, u->f, dset, 3, "h5.read");
	h5_close(u->f);
	u->f = NULL;
	return n;
}

/* ---------------------------------------------------------------- */
/* tree                                                             */
/* ---------------------------------------------------------------- */

static void lh5_tree_shape(luaL_Buffer *b, const h5_info *in)
{
	char s[64];
	int d;
	if (in->ndim == 0) {
		luaL_addstring(b, "scalar");
		return;
	}
	for (d = 0; d < in->ndim; d++) {
		snprintf(s, sizeof s, "%s%zu", d ? "x" : "", in->shape[d]);
		luaL_addstring(b, s);
	}
}

/* a short value for scalars and small strings, shown in the tree */
static void lh5_tree_value(lua_State *L, luaL_Buffer *b, h5_file *f,
			   const char *path, const char *attr)
{
	char err[ERR_LEN], s[96];
	h5_value v;
	int rc = attr ? h5_attr_read(f, path, attr, &v, err)
		      : h5_read_value(f, path, NULL, &v, err);
	(void)L;
	if (rc != 0)
		return;
	s[0] = '\0';
	if (v.kind == H5_VINT)
		snprintf(s, sizeof s, " = %lld", v.i);
	else if (v.kind == H5_VNUM)
		snprintf(s, sizeof s, " = %.10g", v.d);
	else if (v.kind == H5_VSTR)
		snprintf(s, sizeof s, strlen(v.s) > 60 ? " = \"%.57s...\""
			 : " = \"%s\"", v.s);
	else if (v.kind == H5_VSTRS && v.nstrs <= 8) {
		size_t k, l;
		snprintf(s, sizeof s, " = {");
		for (k = 0; k < v.nstrs; k++) {
			l = strlen(s);
			snprintf(s + l, sizeof s - l, "%s\"%s\"", k ? ", " : "",
				 v.strs[k]);
		}
		l = strlen(s);
		snprintf(s + l, sizeof s - l, "}");
	} else if (v.kind == H5_VARR && arr_size(&v.a) <= 4) {
		size_t k, n = arr_size(&v.a), l;
		snprintf(s, sizeof s, " = {");
		for (k = 0; k < n; k++) {
			l = strlen(s);
			snprintf(s + l, sizeof s - l, "%s%.6g", k ? ", " : "",
				 arr_get_flat(&v.a, k));
		}
		l = strlen(s);
		snprintf(s + l, sizeof s - l, "}");
	}
	h5_value_free(&v);
	luaL_addstring(b, s);
}

static void lh5_tree_attrs(lua_State *L, luaL_Buffer *b, h5_file *f,
			   const char *path, int depth)
{
	char err[ERR_LEN], **names;
	size_t n, i;
	int k;
	if (h5_attr_names(f, path, &names, &n, err) != 0)
		return;
	for (i = 0; i < n; i++) {
		for (k = 0; k <= depth; k++)
			luaL_addstring(b, "  ");
		luaL_addstring(b, "@");
		luaL_addstring(b, names[i]);
		lh5_tree_value(L, b, f, path, names[i]);
		luaL_addchar(b, '\n');
	}
	h5_names_free(names, n);
}

static void lh5_tree_entry(lua_State *L, luaL_Buffer *b, h5_file *f,
			   const h5_entry *e, int attrs)
{
	const h5_info *in = &e->info;
	char s[160];
	int k;
	for (k = 0; k <= e->depth; k++)
		luaL_addstring(b, "  ");
	luaL_addstring(b, e->name);
	if (e->broken) {
		luaL_addstring(b, "  (broken link)\n");
		return;
	}
	if (in->kind == H5_GROUP && e->again != NULL) {
		luaL_addstring(b, "/  (= ");
		luaL_addstring(b, e->again);
		luaL_addstring(b, ", listed above)\n");
	} else if (in->kind == H5_GROUP) {
		luaL_addstring(b, "/\n");
	} else if (in->kind == H5_DATASET) {
		luaL_addstring(b, "  ");
		lh5_tree_shape(b, in);
		luaL_addchar(b, ' ');
		luaL_addstring(b, in->dtype);
		if (in->chunked) {
			h5_info c = *in;
			memcpy(c.shape, in->chunk, sizeof c.shape);
			luaL_addstring(b, "  chunks ");
			lh5_tree_shape(b, &c);
		}
		if (in->filters[0] != '\0') {
			snprintf(s, sizeof s, "  %s", in->filters);
			luaL_addstring(b, s);
		}
		if (in->ndim == 0 || (in->is_string && in->ndim <= 1))
			lh5_tree_value(L, b, f, e->path, NULL);
		luaL_addchar(b, '\n');
	} else {
		luaL_addstring(b, "  (other object)\n");
	}
	if (attrs)
		lh5_tree_attrs(L, b, f, e->path, e->depth + 1);
}

/* h5.tree(path|file [, group] [, {attrs=true, print=false}]) */
static int lh5_tree(lua_State *L)
{
	const char *g = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "/";
	int oi = lua_type(L, 2) == LUA_TTABLE ? 2 : 3;
	int attrs = lbind_optbool(L, oi, "attrs", 0, "h5.tree");
	int print = lbind_optbool(L, oi, "print", 1, "h5.tree");
	char err[ERR_LEN];
	lh5_file *own = NULL;
	h5_file *f;
	lh5_hold *h;
	luaL_Buffer b;
	size_t i;
	int rc;
	if (lua_type(L, 1) == LUA_TSTRING) {
		lh5_file *u = lua_newuserdatauv(L, sizeof *u, 0);
		u->f = NULL;
		luaL_setmetatable(L, LH5_FILE);	/* closed by __gc on error */
		if (h5_open(&u->f, lua_tostring(L, 1), err) != 0)
			return lbind_error(L, "h5.tree", err);
		f = u->f;
		own = u;
	} else {
		f = lh5_checkfile(L, 1)->f;
	}
	h = lh5_hold_new(L);
	rc = h5_list(f, g, 1, &h->e, &h->ne, err);
	if (rc != 0)
		return lbind_error(L, "h5.tree", err);
	luaL_buffinit(L, &b);
	luaL_addstring(&b, h5_file_path(f));
	luaL_addstring(&b, strcmp(g, "/") ? " " : "\n");
	if (strcmp(g, "/") != 0) {
		luaL_addstring(&b, g);
		luaL_addchar(&b, '\n');
	}
	if (attrs)
		lh5_tree_attrs(L, &b, f, g, -1);
	for (i = 0; i < h->ne; i++)
		lh5_tree_entry(L, &b, f, &h->e[i], attrs);
	luaL_pushresult(&b);
	if (own != NULL) {
		h5_close(own->f);
		own->f = NULL;
	}
	if (!print)
		return 1;
	fwrite(lua_tostring(L, -1), 1, luaL_len(L, -1), stdout);
	fflush(stdout);
	return 0;
}

/* ---------------------------------------------------------------- */
/* the writer                                                       */
/* ---------------------------------------------------------------- */

/* h5.create(path [, {overwrite=true}]) */
static int lh5_create(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	char err[ERR_LEN];
	lh5_writer *u;
	int over = lbind_optbool(L, 2, "overwrite", 0, "h5.create");
	u = lua_newuserdatauv(L, sizeof *u, 0);
	u->w = NULL;
	luaL_setmetatable(L, LH5_WRITER);
	if (h5_create(&u->w, path, over, err) != 0)
		return lbind_error(L, "h5.create", err);
	return 1;
}

/* the array to write for the value at i: an array as is or converted to
** dt, a table or (with a dtype) a number as a new array on the stack */
static arr *lh5_toarr(lua_State *L, int i, int isnum, int dt,
		      const char *fname)
{
	char err[ERR_LEN];
	arr *a, c;
	if (isnum) {
		size_t idx = 0;
		a = larray_new(L, (arr_dtype)dt, 0, NULL);
		if (arr_set(a, &idx, lua_tonumber(L, i), err) != 0)
			lbind_error(L, fname, err);
		return a;
	}
	a = larray_from_arg(L, i, dt < 0 ? ARR_F64 : (arr_dtype)dt);
	if (dt < 0 || a->dtype == (arr_dtype)dt)
		return a;
	if (arr_copy(&c, a, (arr_dtype)dt, err) != 0)
		lbind_error(L, fname, err);
	return larray_push(L, &c);
}

/* a Lua value at i as an h5_value to write (borrowed: strings and arrays
** stay owned by Lua; a converted table is left on the stack). dt < 0
** keeps an array's dtype. */
static void lh5_tovalue(lua_State *L, int i, h5_value *v, int dt,
			const char *fname)
{
	arr *a;
	memset(v, 0, sizeof *v);
	switch (lua_type(L, i)) {
	case LUA_TNUMBER:
		if (lua_isinteger(L, i) && dt < 0) {
			v->kind = H5_VINT;
			v->i = (long long)lua_tointeger(L, i);
		} else {
			v->kind = H5_VNUM;
			v->d = lua_tonumber(L, i);
		}
		if (dt >= 0)
			break;
		return;
	case LUA_TBOOLEAN:
		v->kind = H5_VINT;
		v->i = lua_toboolean(L, i);
		return;
	case LUA_TSTRING:
		v->kind = H5_VSTR;
		v->s = (char *)lua_tostring(L, i);
		return;
	case LUA_TTABLE:
		if (lua_geti(L, i, 1) == LUA_TSTRING) {
			size_t k, n = (size_t)luaL_len(L, i);
			lua_pop(L, 1);
			v->kind = H5_VSTRS;
			v->nstrs = n;
			v->strs = lua_newuserdatauv(L, (n ? n : 1) * sizeof(char *), 0);
			for (k = 0; k < n; k++) {
				lua_geti(L, i, (lua_Integer)k + 1);
				if (lua_type(L, -1) != LUA_TSTRING)
					luaL_error(L, "%s: list of strings has"
						   " a %s at [%d]", fname,
						   luaL_typename(L, -1),
						   (int)k + 1);
				v->strs[k] = (char *)lua_tostring(L, -1);
				lua_pop(L, 1);	/* the table keeps it */
			}
			return;
		}
		lua_pop(L, 1);
		break;
	case LUA_TUSERDATA:
		if (larray_test(L, i) != NULL)
			break;
		/* FALLTHROUGH */
	default:
		luaL_error(L, "%s: cannot write a %s (numbers, strings, lists"
			   " of strings, arrays and tables of numbers)", fname,
			   luaL_typename(L, i));
	}
	a = lh5_toarr(L, i, v->kind == H5_VNUM, dt, fname);
	memset(v, 0, sizeof *v);
	v->kind = H5_VARR;
	v->a = *a;		/* borrowed: never released here */
}

static int lh5_dtype_opt(lua_State *L, int t, const char *fname)
{
	char err[ERR_LEN];
	arr_dtype dt;
	int r = -1;
	if (lua_isnoneornil(L, t))
		return -1;
	if (lua_getfield(L, t, "dtype") != LUA_TNIL) {
		if (arr_dtype_parse(luaL_checkstring(L, -1), &dt, err) != 0)
			lbind_error(L, fname, err);
		r = (int)dt;
	}
	lua_pop(L, 1);
	return r;
}

/* write options: compress=true|level|"lzf", shuffle=, chunks={...} */
static void lh5_wopts(lua_State *L, int t, h5_wopts *o, const char *fname)
{
	lua_Integer ch[H5_MAXDIM];
	int n, d;
	memset(o, 0, sizeof *o);
	if (lua_isnoneornil(L, t))
		return;
	luaL_checktype(L, t, LUA_TTABLE);
	lua_getfield(L, t, "compress");
	if (lua_isboolean(L, -1))
		o->compress = lua_toboolean(L, -1) ? 4 : 0;
	else if (lua_type(L, -1) == LUA_TSTRING) {
		if (strcmp(lua_tostring(L, -1), "lzf") != 0)
			luaL_error(L, "%s: compress must be true, false, a gzip"
				   " level 0..9 or \"lzf\"", fname);
		o->lzf = 1;
	} else if (!lua_isnil(L, -1)) {
		int isint;
		o->compress = (int)lua_tointegerx(L, -1, &isint);
		if (!isint || o->compress < 0 || o->compress > 9)
			luaL_error(L, "%s: compress must be true, false, a gzip"
				   " level 0..9 or \"lzf\"", fname);
	}
	lua_pop(L, 1);
	o->shuffle = lbind_optbool(L, t, "shuffle", 1, fname);
	n = lh5_intlist(L, t, "chunks", ch, fname);
	if (n > 0) {
		o->nchunk = n;
		for (d = 0; d < n; d++) {
			if (ch[d] < 1)
				luaL_error(L, "%s: chunks[%d] must be >= 1",
					   fname, d + 1);
			o->chunk[d] = (size_t)ch[d];
		}
	}
}

static void lh5_write_attrs(lua_State *L, h5_writer *w, const char *obj,
			    int t, const char *fname)
{
	char err[ERR_LEN];
	h5_value v;
	int top = lua_gettop(L);
	luaL_checktype(L, t, LUA_TTABLE);
	lua_pushnil(L);
	while (lua_next(L, t) != 0) {
		int vi = lua_gettop(L);
		if (lua_type(L, -2) != LUA_TSTRING)
			luaL_error(L, "%s: attribute names must be strings",
				   fname);
		lh5_tovalue(L, vi, &v, -1, fname);
		if (h5_write_attr(w, obj, lua_tostring(L, vi - 1), &v, err) != 0)
			lbind_error(L, fname, err);
		lua_settop(L, vi - 1);	/* keep the key */
	}
	lua_settop(L, top);
}

/* w:write(dset, value [, {compress=, shuffle=, chunks=, dtype=, attrs=}]) */
static int lh5_write(lua_State *L)
{
	lh5_writer *u = lh5_checkwriter(L, 1);
	const char *dset = luaL_checkstring(L, 2), *fname = "h5.write";
	char err[ERR_LEN];
	h5_wopts o;
	h5_value v;
	int dt;
	luaL_checkany(L, 3);
	lua_settop(L, 4);
	lh5_wopts(L, 4, &o, fname);
	dt = lh5_dtype_opt(L, 4, fname);
	lh5_tovalue(L, 3, &v, dt, fname);
	if (h5_write(u->w, dset, &v, &o, err) != 0)
		return lbind_error(L, fname, err);
	if (!lua_isnil(L, 4) && lua_getfield(L, 4, "attrs") != LUA_TNIL)
		lh5_write_attrs(L, u->w, dset, lua_gettop(L), fname);
	lua_settop(L, 1);
	return 1;		/* the writer, for chaining */
}

/* w:attr(obj, name, value) or w:attr(obj, {name=value, ...}) */
static int lh5_wattr(lua_State *L)
{
	lh5_writer *u = lh5_checkwriter(L, 1);
	const char *obj = luaL_checkstring(L, 2), *fname = "h5.attr";
	char err[ERR_LEN];
	h5_value v;
	if (lua_type(L, 3) == LUA_TTABLE && lua_isnone(L, 4)) {
		lh5_write_attrs(L, u->w, obj, 3, fname);
	} else {
		const char *name = luaL_checkstring(L, 3);
		luaL_checkany(L, 4);
		lh5_tovalue(L, 4, &v, -1, fname);
		if (h5_write_attr(u->w, obj, name, &v, err) != 0)
			return lbind_error(L, fname, err);
	}
	lua_settop(L, 1);
	return 1;
}

static int lh5_wgroup(lua_State *L)
{
	lh5_writer *u = lh5_checkwriter(L, 1);
	char err[ERR_LEN];
	if (h5_group(u->w, luaL_checkstring(L, 2), err) != 0)
		return lbind_error(L, "h5.group", err);
	if (lua_type(L, 3) == LUA_TTABLE)
		lh5_write_attrs(L, u->w, lua_tostring(L, 2), 3, "h5.group");
	lua_settop(L, 1);
	return 1;
}

/* commit: rename into place; returns the final path */
static int lh5_wclose(lua_State *L)
{
	lh5_writer *u = luaL_checkudata(L, 1, LH5_WRITER);
	char err[ERR_LEN];
	h5_writer *w = u->w;
	if (w == NULL)
		return 0;		/* closing twice is harmless */
	lua_pushstring(L, h5_writer_path(w));
	u->w = NULL;
	if (h5_commit(w, err) != 0)
		return lbind_error(L, "h5.close", err);
	return 1;
}

static int lh5_wabort(lua_State *L)
{
	lh5_writer *u = luaL_checkudata(L, 1, LH5_WRITER);
	h5_abort(u->w);
	u->w = NULL;
	return 0;
}

/* to-be-closed: commit on normal exit of the scope, abort on error */
static int lh5_wtbc(lua_State *L)
{
	if (!lua_isnoneornil(L, 2))
		return lh5_wabort(L);
	return lh5_wclose(L);
}

static int lh5_wtostring(lua_State *L)
{
	lh5_writer *u = luaL_checkudata(L, 1, LH5_WRITER);
	if (u->w == NULL)
		lua_pushliteral(L, "h5.writer (closed)");
	else
		lua_pushfstring(L, "h5.writer (%s, writing %s)",
				h5_writer_path(u->w), h5_writer_tmp(u->w));
	return 1;
}

static int lh5_wpath(lua_State *L)
{
	lh5_writer *u = lh5_checkwriter(L, 1);
	lua_pushstring(L, h5_writer_path(u->w));
	lua_pushstring(L, h5_writer_tmp(u->w));
	return 2;
}

/* ---------------------------------------------------------------- */
/* module                                                           */
/* ---------------------------------------------------------------- */

static int lh5_nopen(lua_State *L)
{
	lua_pushinteger(L, h5_open_ids());
	return 1;
}

static int lh5_filter(lua_State *L)
{
	static const struct { const char *name; int id; } known[] = {
		{"gzip", 1}, {"szip", 4}, {"bzip2", 307}, {"lzf", 32000},
		{"blosc", 32001}, {"lz4", 32004}, {"bitshuffle", 32008},
		{"zfp", 32013}, {"zstd", 32015}, {NULL, 0}
	};
	int id = -1, k;
	if (lua_type(L, 1) == LUA_TNUMBER) {
		id = (int)luaL_checkinteger(L, 1);
	} else {
		const char *n = luaL_checkstring(L, 1);
		for (k = 0; known[k].name != NULL; k++)
			if (strcmp(n, known[k].name) == 0)
				id = known[k].id;
		if (id < 0)
			return luaL_error(L, "h5.filter_available: unknown"
					  " filter '%s'", n);
	}
	lua_pushboolean(L, h5_filter_avail(id));
	return 1;
}

static void lh5_meta(lua_State *L, const char *name, const luaL_Reg *m,
		     const luaL_Reg *meta)
{
	luaL_newmetatable(L, name);
	luaL_setfuncs(L, meta, 0);
	if (m != NULL) {
		lua_newtable(L);
		luaL_setfuncs(L, m, 0);
		lua_setfield(L, -2, "__index");
	}
	lua_pushliteral(L, "locked");
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 1);
}

static const luaL_Reg lh5_file_methods[] = {
	{"list", lh5_list}, {"info", lh5_info}, {"read", lh5_read},
	{"attr", lh5_attr}, {"attrs", lh5_attrs}, {"exists", lh5_exists},
	{"frames", lh5_file_frames}, {"tree", lh5_tree},
	{"path", lh5_file_path}, {"close", lh5_file_close}, {NULL, NULL}
};
static const luaL_Reg lh5_file_meta[] = {
	{"__gc", lh5_file_close}, {"__close", lh5_file_close},
	{"__tostring", lh5_file_tostring}, {NULL, NULL}
};
static const luaL_Reg lh5_writer_methods[] = {
	{"write", lh5_write}, {"attr", lh5_wattr}, {"group", lh5_wgroup},
	{"close", lh5_wclose}, {"abort", lh5_wabort}, {"path", lh5_wpath},
	{NULL, NULL}
};
static const luaL_Reg lh5_writer_meta[] = {
	{"__gc", lh5_wabort}, {"__close", lh5_wtbc},
	{"__tostring", lh5_wtostring}, {NULL, NULL}
};
static const luaL_Reg lh5_frames_meta[] = {
	{"__gc", lh5_frames_gc}, {"__close", lh5_frames_gc}, {NULL, NULL}
};
static const luaL_Reg lh5_hold_meta[] = {
	{"__gc", lh5_hold_gc}, {NULL, NULL}
};
static const luaL_Reg lh5_funcs[] = {
	{"open", lh5_open}, {"read", lh5_read_path}, {"frames", lh5_frames_new},
	{"create", lh5_create}, {"tree", lh5_tree}, {"nopen", lh5_nopen},
	{"filter_available", lh5_filter}, {NULL, NULL}
};

int luaopen_ionflow_h5(lua_State *L)
{
	lh5_meta(L, LH5_FILE, lh5_file_methods, lh5_file_meta);
	lh5_meta(L, LH5_WRITER, lh5_writer_methods, lh5_writer_meta);
	lh5_meta(L, LH5_FRAMES, NULL, lh5_frames_meta);
	lh5_meta(L, LH5_HOLD, NULL, lh5_hold_meta);
	luaL_newlib(L, lh5_funcs);
	return 1;
}
