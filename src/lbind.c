/*
** lbind.c - the support every binding shares (see lbind.h): the core-error
** raiser, the options-table readers and the progress-callback glue. Like
** lauxlib.c it holds no numerics; it only moves values between Lua and C
** and words the errors one way for every module.
*/
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "larray.h"
#include "lbind.h"

int lbind_error(lua_State *L, const char *fname, const char *err)
{
	if (fname == NULL || *fname == '\0')
		return luaL_error(L, "%s", err);
	return luaL_error(L, "%s: %s", fname, err);
}

/* ------------------------------------------------------------------ */
/* options tables */

/* Push option k of the table at t and return its type; nil when no table
** was given. A value that is not a table is an error, not "no options":
** f(x, 3) where f(x, {n = 3}) was meant must not pass silently. */
static int lbind_getopt(lua_State *L, int t, const char *k,
			const char *fname)
{
	if (t == 0 || lua_isnoneornil(L, t)) {
		lua_pushnil(L);
		return LUA_TNIL;
	}
	if (!lua_istable(L, t))
		luaL_error(L, "%s: the options must be a table, not %s", fname,
			   luaL_typename(L, t));
	return lua_getfield(L, t, k);
}

static double lbind_tonum(lua_State *L, const char *k, const char *fname)
{
	int isnum;
	double v = lua_tonumberx(L, -1, &isnum);
	if (!isnum)
		luaL_error(L, "%s: option '%s' must be a number, not %s", fname,
			   k, luaL_typename(L, -1));
	lua_pop(L, 1);
	return v;
}

double lbind_optnum(lua_State *L, int t, const char *k, double def,
		    const char *fname)
{
	if (lbind_getopt(L, t, k, fname) == LUA_TNIL) {
		lua_pop(L, 1);
		return def;
	}
	return lbind_tonum(L, k, fname);
}

double lbind_checknum(lua_State *L, int t, const char *k, const char *fname)
{
	if (lbind_getopt(L, t, k, fname) == LUA_TNIL)
		luaL_error(L, "%s: option '%s' is required", fname, k);
	return lbind_tonum(L, k, fname);
}

/* the bounds as the error states them: none, one or both; an upper bound
** of INT_MAX only says "fits in an int" and is not worth stating */
static const char *lbind_range(lua_State *L, lua_Integer lo, lua_Integer hi)
{
	if (lo == LUA_MININTEGER && hi >= INT_MAX)
		return lua_pushliteral(L, "");
	if (hi == LUA_MAXINTEGER || hi == INT_MAX)
		return lua_pushfstring(L, " >= %I", lo);
	if (lo == LUA_MININTEGER)
		return lua_pushfstring(L, " <= %I", hi);
	return lua_pushfstring(L, " in %I..%I", lo, hi);
}

lua_Integer lbind_optint(lua_State *L, int t, const char *k, lua_Integer def,
			 lua_Integer lo, lua_Integer hi, const char *fname)
{
	int isint;
	lua_Integer v;
	if (lbind_getopt(L, t, k, fname) == LUA_TNIL) {
		lua_pop(L, 1);
		return def;
	}
	v = lua_tointegerx(L, -1, &isint);
	if (!isint || v < lo || v > hi) {
		const char *range = lbind_range(L, lo, hi);
		luaL_error(L, "%s: option '%s' must be an integer%s, not %s",
			   fname, k, range, luaL_tolstring(L, -2, NULL));
	}
	lua_pop(L, 1);
	return v;
}

int lbind_optbool(lua_State *L, int t, const char *k, int def,
		  const char *fname)
{
	int v = def;
	if (lbind_getopt(L, t, k, fname) != LUA_TNIL)
		v = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return v;
}

const char *lbind_optstr(lua_State *L, int t, const char *k,
			 const char *def, const char *fname)
{
	const char *s;
	int ty = lbind_getopt(L, t, k, fname);
	if (ty == LUA_TNIL) {
		lua_pop(L, 1);
		return def;
	}
	if (ty != LUA_TSTRING)
		luaL_error(L, "%s: option '%s' must be a string, not %s", fname,
			   k, luaL_typename(L, -1));
	s = lua_tostring(L, -1);
	lua_pop(L, 1);	/* the table still holds the string */
	return s;
}

int lbind_optenum(lua_State *L, int t, const char *k, const char *def,
		  const char *const names[], const char *fname)
{
	const char *s = lbind_optstr(L, t, k, def, fname);
	luaL_Buffer b;
	int i;
	for (i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	luaL_buffinit(L, &b);
	for (i = 0; names[i] != NULL; i++) {
		luaL_addstring(&b, i == 0 ? "'" : ", '");
		luaL_addstring(&b, names[i]);
		luaL_addchar(&b, '\'');
	}
	luaL_pushresult(&b);
	return luaL_error(L, "%s: option '%s' must be one of %s, not '%s'",
			  fname, k, lua_tostring(L, -1), s);
}

const double *lbind_optdoubles(lua_State *L, int t, const char *k,
			       size_t *n, const char *fname)
{
	char name[160];
	*n = 0;
	if (lbind_getopt(L, t, k, fname) == LUA_TNIL) {
		lua_pop(L, 1);
		return NULL;
	}
	snprintf(name, sizeof name, "%s: option '%s'", fname, k);
	return larray_doubles(L, lua_gettop(L), name, n);
}

/* ------------------------------------------------------------------ */
/* progress */

/* The Lua function behind a progress callback. It runs in protected mode:
** an error must not unwind through the C core that called us. The error
** value is kept in slot 2 of the ref'd table (made with room for it, so
** storing it cannot fail) and raised again by lbind_progress_finish. */
static int lbind_progress_call(void *ud, const char *label, double done,
			      double total)
{
	lbind_progress *lp = ud;
	lua_State *L = lp->L;
	int stop = 0;
	if (lp->failed || !lua_checkstack(L, 6))
		return lp->failed;
	lua_rawgeti(L, LUA_REGISTRYINDEX, lp->ref);
	lua_rawgeti(L, -1, 1);
	lua_pushnumber(L, done);
	if (total > 0)
		lua_pushnumber(L, total);
	else
		lua_pushnil(L);
	lua_pushstring(L, label);
	if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
		lua_rawseti(L, -2, 2);
		lp->failed = stop = 1;
	} else {
		stop = lua_isboolean(L, -1) && !lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return stop;
}

void lbind_progress_arg(lua_State *L, int idx, lbind_progress *lp)
{
	idx = lua_absindex(L, idx);
	progress_init(&lp->p);
	lp->L = L;
	lp->ref = LUA_NOREF;
	lp->failed = 0;
	switch (lua_type(L, idx)) {
	case LUA_TNONE:
	case LUA_TNIL:
		break;
	case LUA_TBOOLEAN:
		progress_set_output(&lp->p, lua_toboolean(L, idx) ? stderr : NULL);
		break;
	case LUA_TFUNCTION:
		lua_createtable(L, 2, 0);
		lua_pushvalue(L, idx);
		lua_rawseti(L, -2, 1);
		lp->ref = luaL_ref(L, LUA_REGISTRYINDEX);
		progress_set_output(&lp->p, NULL);
		progress_set_callback(&lp->p, lbind_progress_call, lp);
		break;
	default:
		luaL_typeerror(L, idx, "nil, boolean or function");
	}
}

void lbind_progress_finish(lua_State *L, lbind_progress *lp)
{
	if (lp->ref == LUA_NOREF)
		return;
	lua_rawgeti(L, LUA_REGISTRYINDEX, lp->ref);
	luaL_unref(L, LUA_REGISTRYINDEX, lp->ref);
	lp->ref = LUA_NOREF;
	if (lp->failed) {
		lua_rawgeti(L, -1, 2);
		lua_error(L);
	}
	lua_pop(L, 1);
}

int lbind_optints(lua_State *L, int t, const char *k, int n,
		  lua_Integer *out, lua_Integer min, const char *fname)
{
	int isint;
	if (lua_getfield(L, t, k) == LUA_TNIL) {
		lua_pop(L, 1);
		return 0;
	}
	if (!lua_istable(L, -1) || (int)lua_rawlen(L, -1) != n)
		luaL_error(L, "%s: option '%s' must be a list of %d integers",
			   fname, k, n);
	for (int j = 0; j < n; j++) {
		lua_rawgeti(L, -1, j + 1);
		out[j] = lua_tointegerx(L, -1, &isint);
		if (!isint || out[j] < min)
			luaL_error(L, "%s: option '%s' must be a list of %d"
				   " integers >= %d", fname, k, n, (int)min);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return 1;
}
