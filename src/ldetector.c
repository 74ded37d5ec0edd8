/*
** ldetector.c - the Lua binding of the raw detector streams (detector.h).
**
**   detector.info("run.bin", {frames = 100000}), detector.format(path)
**   for i, frame in detector.frames("run.bin.000", {frames = n}) do ... end
**   for i, block in detector.frames("raw.h5", {blocks = true}) do ... end
**   for i, pix, cnt in detector.events("run.imm") do ... end
**   for i, pix, cnt, per in detector.events("run.bin", {blocks = true,
**                                                        frames = n}) do
**
** Frame numbers and pixel indices are 1-based here, 0-based in the core.
** Frames are views valid until the next step, as those of h5.frames.
*/
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "detector.h"
#include "larray.h"
#include "lbind.h"

#define LDET_FRAMES "ionflow.detector.frames"

typedef struct ldet_frames {
	det_stream *s;
	int blocks;		/* yield whole blocks instead of frames */
	size_t block;		/* events: frames a block (0: the core's) */
	det_evblock evb;	/* events: a block's, reused */
} ldet_frames;

static const char *const ldet_keys[] = {
	"format", "dataset", "frames", "first", "count", "step", "block",
	"blocks", "gap", "order", "module", "rows", "hold", NULL
};

/* an unknown option is a typo that would silently change nothing */
static void ldet_checkkeys(lua_State *L, int t, const char *fname)
{
	lua_pushnil(L);
	while (lua_next(L, t) != 0) {
		const char *k = lua_type(L, -2) == LUA_TSTRING ?
				lua_tostring(L, -2) : NULL;
		int j;
		for (j = 0; k != NULL && ldet_keys[j] != NULL; j++)
			if (strcmp(k, ldet_keys[j]) == 0)
				break;
		if (k == NULL || ldet_keys[j] == NULL)
			luaL_error(L, "%s: unknown option '%s'", fname,
				   k ? k : luaL_typename(L, -2));
		lua_pop(L, 1);
	}
}

/* the options table at t into o (1-based first becomes 0-based) */
static void ldet_opts(lua_State *L, int t, det_opts *o, const char *fname)
{
	lua_Integer v[DET_MODULES];
	int j;
	det_opts_init(o);
	if (lua_isnoneornil(L, t))
		return;
	luaL_checktype(L, t, LUA_TTABLE);
	ldet_checkkeys(L, t, fname);
	o->format = lbind_optstr(L, t, "format", NULL, fname);
	o->dataset = lbind_optstr(L, t, "dataset", NULL, fname);
	if (lua_getfield(L, t, "frames") == LUA_TSTRING) {
		if (strcmp(lua_tostring(L, -1), "last") != 0)
			luaL_error(L, "%s: option 'frames' must be a count or"
				   " \"last\"", fname);
		o->frames_last = 1;
		lua_pop(L, 1);
	} else {
		lua_pop(L, 1);
		o->frames = (size_t)lbind_optint(L, t, "frames", 0, 1, LUA_MAXINTEGER, fname);
	}
	o->first = (size_t)(lbind_optint(L, t, "first", 1, 1, LUA_MAXINTEGER, fname) - 1);
	o->count = (size_t)lbind_optint(L, t, "count", -1, -1, LUA_MAXINTEGER, fname);
	o->step = (size_t)lbind_optint(L, t, "step", 1, 1, LUA_MAXINTEGER, fname);
	o->block = (size_t)lbind_optint(L, t, "block", 0, 0, LUA_MAXINTEGER, fname);
	o->hold = lbind_optbool(L, t, "hold", 0, fname);
	if (lbind_optints(L, t, "gap", 2, v, 0, fname)) {
		o->gap_rows = (size_t)v[0];
		o->gap_cols = (size_t)v[1];
	}
	if (lbind_optints(L, t, "module", 2, v, 1, fname)) {
		o->module_rows = (size_t)v[0];
		o->module_cols = (size_t)v[1];
	}
	if (lbind_optints(L, t, "rows", 2, v, 1, fname)) {
		if (v[1] < v[0])
			luaL_error(L, "%s: option 'rows' needs first <= last",
				   fname);
		o->row0 = (size_t)v[0] - 1;
		o->nrows = (size_t)(v[1] - v[0] + 1);
	}
	if (lbind_optints(L, t, "order", DET_MODULES, v, 0, fname))
		for (j = 0; j < DET_MODULES; j++)	/* as the suffixes */
			o->order[j] = v[j] > DET_MODULES ? -1 : (int)v[j];
}

/* detector.info(path [, opts]) */
static int ldet_info(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1), *fname = "detector.info";
	char err[ERR_LEN];
	det_opts o;
	det_info in;
	ldet_opts(L, 2, &o, fname);
	if (det_info_get(path, &o, &in, err) != 0)
		return lbind_error(L, fname, err);
	lua_createtable(L, 0, 9);
	lua_pushstring(L, in.format);
	lua_setfield(L, -2, "format");
	if (in.frames_known) {
		lua_pushinteger(L, (lua_Integer)in.frames);
		lua_setfield(L, -2, "frames");
	}
	if (in.sparse && strcmp(in.format, "imm") != 0) {
		lua_pushinteger(L, (lua_Integer)in.frames_seen);
		lua_setfield(L, -2, "frames_seen");
	}
	lua_pushinteger(L, (lua_Integer)in.rows);
	lua_setfield(L, -2, "rows");
	lua_pushinteger(L, (lua_Integer)in.cols);
	lua_setfield(L, -2, "cols");
	lua_pushstring(L, arr_dtype_name(in.dtype));
	lua_setfield(L, -2, "dtype");
	lua_pushboolean(L, in.sparse);
	lua_setfield(L, -2, "sparse");
	if (in.dataset[0]) {
		lua_pushstring(L, in.dataset);
		lua_setfield(L, -2, "dataset");
	}
	return 1;
}

/* detector.format(path [, opts]): the reader a file gets */
static int ldet_format(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1), *fname = "detector.format";
	char err[ERR_LEN], fmt[16];
	det_opts o;
	ldet_opts(L, 2, &o, fname);
	if (det_sniff(path, &o, fmt, sizeof fmt, err) != 0)
		return lbind_error(L, fname, err);
	lua_pushstring(L, fmt);
	return 1;
}

static int ldet_frames_gc(lua_State *L)
{
	ldet_frames *u = luaL_checkudata(L, 1, LDET_FRAMES);
	/* views into evb hold no reference: closed before it goes (a dense
	** block's views keep their buffer and stay valid) */
	if (u->evb.pixel != NULL || u->evb.count != NULL)
		larray_views_release(L, 1);
	det_evblock_free(&u->evb);
	det_close(u->s);
	u->s = NULL;
	return 0;
}

static int ldet_frames_step(lua_State *L)
{
	ldet_frames *u = luaL_checkudata(L, 1, LDET_FRAMES);
	char err[ERR_LEN];
	size_t idx, alloc;
	arr frame;
	int r;
	if (u->s == NULL)
		return 0;
	if (det_block_done(u->s))
		larray_views_release(L, 1);
	r = u->blocks ? det_next_block(u->s, &frame, &idx, &alloc, err)
		      : det_next(u->s, &frame, &idx, &alloc, err);
	if (r != 1) {
		det_close(u->s);
		u->s = NULL;
		return r == 0 ? 0 : lbind_error(L, "detector.frames", err);
	}
	/* a new buffer is invisible to the collector (see lh5.c) */
	if (alloc > 0)
		lua_gc(L, LUA_GCSTEP, (int)(alloc / 1024 < 1 << 30 ?
					    alloc / 1024 : 1 << 30));
	lua_pushinteger(L, (lua_Integer)idx + 1);
	larray_push(L, &frame);
	larray_views_keep(L, 1);
	return 2;
}

/* n pixel indices (1-based) and counts as fresh arrays */
static void ldet_push_events(lua_State *L, const uint32_t *pix,
			     const uint16_t *cnt, size_t n)
{
	arr *p = larray_new_uninit(L, ARR_U32, 1, &n);
	arr *c = larray_new_uninit(L, ARR_U16, 1, &n);
	for (size_t k = 0; k < n; k++) {
		((uint32_t *)p->data)[k] = pix[k] + 1;
		((uint16_t *)c->data)[k] = cnt[k];
	}
}

/* a view of n elements of data, closed at the next step (evb is refilled
** in place) */
static void ldet_view(lua_State *L, arr_dtype dt, size_t n, void *data)
{
	arr a;
	if (n == 0) {	/* (no buffer yet: an empty array of its own) */
		larray_new_uninit(L, dt, 1, &n);
		return;
	}
	arr_wrap(&a, dt, 1, &n, data);
	larray_push(L, &a);
	larray_views_keep(L, 1);
}

/* the events step: frame, pixel indices (u32) and counts (u16), copies;
** blocks: the first frame, the block's pixels and counts (views valid
** until the next step) and a table of each frame's number of events */
static int ldet_events_step(lua_State *L)
{
	ldet_frames *u = luaL_checkudata(L, 1, LDET_FRAMES);
	char err[ERR_LEN];
	det_events ev;
	int r;
	if (u->s == NULL)
		return 0;
	if (u->blocks)
		larray_views_release(L, 1);
	r = u->blocks ? det_next_events_block(u->s, u->block, &u->evb, err)
		      : det_next_events(u->s, &ev, err);
	if (r != 1) {
		det_close(u->s);
		u->s = NULL;
		return r == 0 ? 0 : lbind_error(L, "detector.events", err);
	}
	if (!u->blocks) {
		lua_pushinteger(L, (lua_Integer)ev.frame + 1);
		ldet_push_events(L, ev.pixel, ev.count, ev.n);
		return 3;
	}
	lua_pushinteger(L, (lua_Integer)u->evb.frame0 + 1);
	ldet_view(L, ARR_U32, u->evb.n, u->evb.pixel);
	ldet_view(L, ARR_U16, u->evb.n, u->evb.count);
	lua_createtable(L, (int)u->evb.nframes, 0);
	for (size_t f = 0; f < u->evb.nframes; f++) {
		lua_pushinteger(L, (lua_Integer)u->evb.per[f]);
		lua_rawseti(L, -2, (lua_Integer)f + 1);
	}
	return 4;
}

/* a selection past the end, in Lua's 1-based frame numbers (the core
** counts from 0); the core checks again */
static int ldet_range(const char *path, const det_opts *o, char *err)
{
	det_info in;
	size_t nf, last;
	if (o->first == 0 && o->count == DET_ALL)
		return 0;
	if (det_info_get(path, o, &in, err) != 0 || !in.frames_known)
		return 0;	/* det_open says why */
	nf = in.frames;
	if (o->count == DET_ALL && o->first > nf)
		return err_set(err, "%s: first frame %zu is beyond the %zu"
			       " frames", path, o->first + 1, nf);
	if (o->count != DET_ALL && o->count > 0) {
		last = o->first + (o->count - 1) * o->step;
		if (o->first >= nf || (o->count - 1) > (nf - 1 - o->first) /
		    o->step)
			return err_set(err, "%s: frames %zu..%zu step %zu run"
				       " past the %zu frames", path,
				       o->first + 1, last + 1, o->step, nf);
	}
	return 0;
}

static int ldet_iter(lua_State *L, int events)
{
	const char *path = luaL_checkstring(L, 1);
	const char *fname = events ? "detector.events" : "detector.frames";
	char err[ERR_LEN];
	ldet_frames *u;
	det_opts o;
	lua_settop(L, 2);
	ldet_opts(L, 2, &o, fname);
	u = lua_newuserdatauv(L, sizeof *u, 1);
	u->s = NULL;
	u->blocks = 0;
	u->block = o.block;
	memset(&u->evb, 0, sizeof u->evb);
	u->evb.pix0 = 1;	/* (1-based pixel numbers) */
	luaL_setmetatable(L, LDET_FRAMES);
	lua_newtable(L);
	lua_setiuservalue(L, -2, 1);
	if (!lua_isnoneornil(L, 2)) {
		lua_getfield(L, 2, "blocks");
		u->blocks = lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	if (ldet_range(path, &o, err) != 0 || det_open(&u->s, path, &o, err) != 0)
		return lbind_error(L, fname, err);
	if (events && !det_stream_info(u->s)->sparse)
		return luaL_error(L, "%s: %s: a dense %s file has no photon"
				  " events", fname, path,
				  det_stream_info(u->s)->format);
	lua_pushcfunction(L, events ? ldet_events_step : ldet_frames_step);
	lua_insert(L, -2);
	lua_pushnil(L);
	lua_pushvalue(L, -2);	/* closing value: break closes the stream */
	return 4;
}

/* detector.frames(path [, opts]) */
static int ldet_frames_new(lua_State *L) { return ldet_iter(L, 0); }
/* detector.events(path [, opts]) */
static int ldet_events_new(lua_State *L) { return ldet_iter(L, 1); }

static const luaL_Reg ldet_frames_meta[] = {
	{"__gc", ldet_frames_gc}, {"__close", ldet_frames_gc}, {NULL, NULL}
};

static const luaL_Reg ldet_funcs[] = {
	{"info", ldet_info}, {"format", ldet_format},
	{"frames", ldet_frames_new},
	{"events", ldet_events_new}, {NULL, NULL}
};

int luaopen_ionflow_detector(lua_State *L)
{
	luaL_newmetatable(L, LDET_FRAMES);
	luaL_setfuncs(L, ldet_frames_meta, 0);
	lua_pop(L, 1);
	luaL_newlib(L, ldet_funcs);
	return 1;
}
