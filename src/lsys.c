/*
** lsys.c - the `sys` module: clock, interruptible sleep, threads, memory,
** terminal test, version, and progress bars for Lua loops (the glue
** between a Lua callback and a core's progress is in lbind.c).
*/
#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lbind.h"
#include "lsys.h"
#include "os.h"
#include "sys.h"

#define LSYS_BAR_MT "ionflow.progress"

static int lsys_time(lua_State *L)
{
	lua_pushnumber(L, sys_time());
	return 1;
}

/* sys.sleep(s [, progress]): the test vehicle for Ctrl-C inside C code */
static int lsys_sleep(lua_State *L)
{
	char err[ERR_LEN];
	double s = luaL_checknumber(L, 1);
	lbind_progress lp;
	int rc;
	lbind_progress_arg(L, 2, &lp);
	if (lua_isnoneornil(L, 2))
		progress_set_output(&lp.p, NULL);	/* no bar unless asked */
	rc = sys_sleep(s, &lp.p, err);
	lbind_progress_finish(L, &lp);
	if (rc != 0)
		return luaL_error(L, "sys.sleep: %s", err);
	return 0;
}

static int lsys_nproc(lua_State *L)
{
	lua_pushinteger(L, sys_nproc());
	return 1;
}

/* sys.isatty(fd | file) */
static int lsys_isatty(lua_State *L)
{
	luaL_Stream *s = luaL_testudata(L, 1, LUA_FILEHANDLE);
	int fd;
	if (s != NULL) {
		if (s->closef == NULL)
			return luaL_argerror(L, 1, "attempt to use a closed file");
		fd = fileno(s->f);
	} else {
		lua_Integer i = luaL_checkinteger(L, 1);
		fd = (i < 0 || i > 1 << 20) ? -1 : (int)i;
	}
	lua_pushboolean(L, sys_isatty(fd));
	return 1;
}

static int lsys_rss(lua_State *L)
{
	char err[ERR_LEN];
	size_t now, peak;
	if (sys_rss(&now, &peak, err) != 0)
		return luaL_error(L, "sys.rss: %s", err);
	lua_pushinteger(L, (lua_Integer)now);
	lua_pushinteger(L, (lua_Integer)peak);
	return 2;
}

/* an argument vector from a table of strings {prog, arg1, ...} at idx;
** the strings are left on the stack, which keeps them alive */
static const char **lsys_argv(lua_State *L, int idx, const char *fn)
{
	lua_Integer n;
	const char **argv;
	luaL_checktype(L, idx, LUA_TTABLE);
	n = luaL_len(L, idx);
	if (n < 1 || n > 4096)
		luaL_error(L, "%s: the argument vector must hold 1 to 4096 "
			   "strings (got %d)", fn, (int)n);
	argv = lua_newuserdatauv(L, (size_t)(n + 1) * sizeof *argv, 0);
	luaL_checkstack(L, (int)n, fn);
	for (lua_Integer i = 1; i <= n; i++) {
		if (lua_rawgeti(L, idx, i) != LUA_TSTRING)
			luaL_error(L, "%s: argument %d of the vector is a %s, "
				   "not a string", fn, (int)i,
				   luaL_typename(L, -1));
		argv[i - 1] = lua_tostring(L, -1);
	}
	argv[n] = NULL;
	return argv;
}

/* sys.mkdir(path): mkdir -p without a shell */
static int lsys_mkdir(lua_State *L)
{
	char err[ERR_LEN];
	if (os_mkdir_p(luaL_checkstring(L, 1), err))
		return luaL_error(L, "sys.mkdir: %s", err);
	lua_pushboolean(L, 1);
	return 1;
}

/* sys.rmtree(path): rm -r without a shell, links not followed */
static int lsys_rmtree(lua_State *L)
{
	char err[ERR_LEN];
	if (os_rmtree(luaL_checkstring(L, 1), err))
		return luaL_error(L, "sys.rmtree: %s", err);
	lua_pushboolean(L, 1);
	return 1;
}

/* sys.dir(path): the names in a directory, sorted, without "." and ".." */
static int lsys_dir(lua_State *L)
{
	char err[ERR_LEN], **names;
	size_t n;
	if ((names = os_listdir(luaL_checkstring(L, 1), &n, err)) == NULL)
		return luaL_error(L, "sys.dir: %s", err);
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		lua_pushstring(L, names[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	os_listdir_free(names, n);
	return 1;
}

/* sys.run({prog, args...} [, {stdin = s, max_output = n, capture = b}]):
** the program runs with that argument vector, no shell; returns its exit
** code and its standard output and error together (capture = false: they
** go to ours, and the second result is nil). Fails when it cannot start. */
static int lsys_run(lua_State *L)
{
	char err[ERR_LEN], *out;
	const char **argv, *in = NULL;
	size_t inlen = 0, maxout = 64 << 20;
	int status, capture = 1;
	lua_settop(L, 2);
	if (!lua_isnil(L, 2)) {
		luaL_checktype(L, 2, LUA_TTABLE);
		if (lua_getfield(L, 2, "stdin") != LUA_TNIL)
			in = luaL_checklstring(L, -1, &inlen);
		if (lua_getfield(L, 2, "max_output") != LUA_TNIL) {
			lua_Integer m = luaL_checkinteger(L, -1);
			luaL_argcheck(L, m >= 0, 2, "max_output must be >= 0");
			maxout = (size_t)m;
		}
		if (lua_getfield(L, 2, "capture") != LUA_TNIL)
			capture = lua_toboolean(L, -1);
	}
	argv = lsys_argv(L, 1, "sys.run");
	if (os_run((char *const *)argv, in, inlen, capture ? &out : NULL,
		   maxout, &status, err))
		return luaL_error(L, "sys.run: %s", err);
	lua_pushinteger(L, status);
	if (capture)
		lua_pushstring(L, out);
	else
		lua_pushnil(L);
	free(capture ? out : NULL);
	return 2;
}

/* sys.spawn({prog, args...} [, {remove = path}]): starts it detached and
** returns at once; path is removed when it ends */
static int lsys_spawn(lua_State *L)
{
	char err[ERR_LEN];
	const char **argv, *rm = NULL;
	lua_settop(L, 2);
	if (!lua_isnil(L, 2)) {
		luaL_checktype(L, 2, LUA_TTABLE);
		if (lua_getfield(L, 2, "remove") != LUA_TNIL)
			rm = luaL_checkstring(L, -1);
	}
	argv = lsys_argv(L, 1, "sys.spawn");
	if (os_spawn((char *const *)argv, rm, err))
		return luaL_error(L, "sys.spawn: %s", err);
	lua_pushboolean(L, 1);
	return 1;
}

/* sys.note_input(path): a file read by Lua code (csv.read) that no
** result of this run may replace; sys.note_output(path): a file this run
** wrote (it may replace it again); sys.is_input(path) asks */
static int lsys_note_input(lua_State *L)
{
	os_input_add(luaL_checkstring(L, 1));
	return 0;
}

static int lsys_note_output(lua_State *L)
{
	os_output_add(luaL_checkstring(L, 1));
	return 0;
}

static int lsys_is_input(lua_State *L)
{
	lua_pushboolean(L, os_is_input(luaL_checkstring(L, 1)));
	return 1;
}

/* sys.progress(label, total [, out]): a bar for loops written in Lua; out
** as in lbind_progress_arg (nil: automatic, true: forced, function) */
static int lsys_bar_new(lua_State *L)
{
	const char *label = luaL_checkstring(L, 1);
	double total = luaL_optnumber(L, 2, 0);
	lbind_progress *lp;
	lua_settop(L, 3);
	lp = lua_newuserdatauv(L, sizeof *lp, 0);
	lbind_progress_arg(L, 3, lp);
	luaL_setmetatable(L, LSYS_BAR_MT);
	progress_begin(&lp->p, label, total);
	return 1;
}

static int lsys_bar_update(lua_State *L)
{
	lbind_progress *lp = luaL_checkudata(L, 1, LSYS_BAR_MT);
	double done = luaL_checknumber(L, 2);
	lp->L = L;
	if (progress_update(&lp->p, done) != 0 && lp->failed) {
		progress_end(&lp->p);
		lbind_progress_finish(L, lp);
	}
	lua_pushboolean(L, !lp->p.stopped);
	return 1;
}

/* bar:close(), also __close: erase the bar, release the function and raise
** its error if it had one */
static int lsys_bar_close(lua_State *L)
{
	lbind_progress *lp = luaL_checkudata(L, 1, LSYS_BAR_MT);
	lp->L = L;
	progress_end(&lp->p);
	lbind_progress_finish(L, lp);
	return 0;
}

/* __gc never raises: a forgotten bar is erased, its function released */
static int lsys_bar_gc(lua_State *L)
{
	lbind_progress *lp = luaL_checkudata(L, 1, LSYS_BAR_MT);
	progress_set_callback(&lp->p, NULL, NULL);
	progress_end(&lp->p);
	if (lp->ref != LUA_NOREF)
		luaL_unref(L, LUA_REGISTRYINDEX, lp->ref);
	lp->ref = LUA_NOREF;
	return 0;
}

static int lsys_bar_tostring(lua_State *L)
{
	lbind_progress *lp = luaL_checkudata(L, 1, LSYS_BAR_MT);
	lua_pushfstring(L, "progress '%s' (%f of %f)", lp->p.label,
			(lua_Number)lp->p.done, (lua_Number)lp->p.total);
	return 1;
}

static const luaL_Reg lsys_bar_methods[] = {
	{"update", lsys_bar_update},
	{"close", lsys_bar_close},
	{NULL, NULL}
};

static const luaL_Reg lsys_funcs[] = {
	{"time", lsys_time},
	{"sleep", lsys_sleep},
	{"nproc", lsys_nproc},
	{"isatty", lsys_isatty},
	{"rss", lsys_rss},
	{"progress", lsys_bar_new},
	{"mkdir", lsys_mkdir},
	{"rmtree", lsys_rmtree},
	{"dir", lsys_dir},
	{"run", lsys_run},
	{"spawn", lsys_spawn},
	{"note_input", lsys_note_input},
	{"note_output", lsys_note_output},
	{"is_input", lsys_is_input},
	{NULL, NULL}
};

int luaopen_ionflow_sys(lua_State *L)
{
	luaL_newmetatable(L, LSYS_BAR_MT);
	luaL_newlib(L, lsys_bar_methods);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, lsys_bar_close);
	lua_setfield(L, -2, "__close");
	lua_pushcfunction(L, lsys_bar_gc);
	lua_setfield(L, -2, "__gc");
	lua_pushcfunction(L, lsys_bar_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pop(L, 1);
	luaL_newlib(L, lsys_funcs);
	lua_pushliteral(L, IONFLOW_VERSION);
	lua_setfield(L, -2, "version");
	return 1;
}
