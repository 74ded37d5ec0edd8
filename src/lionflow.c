/*
** lionflow.c - ionflow as a C module of a stock Lua 5.4 (ionflow.so):
**
**   local ionflow = require "ionflow"
**   print(ionflow.xpcs, ionflow.cell, ionflow.xpcsio)
**
** It opens the same native modules as the ionflow binary (each also a
** global and in package.loaded as "ionflow.<name>", since the Lua-written
** modules use them so), puts the Lua-written modules found beside the
** library on package.path, and returns a table of the native modules whose
** other fields load the Lua-written ones on first use (ionflow.xpcsio is
** require "ionflow.xpcsio"). Not in the binary: its main() is lrun's.
*/
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "linit.h"
#include "sys.h"	/* IONFLOW_VERSION */

int luaopen_ionflow(lua_State *L);

/* The Lua-written modules beside the library: lua/ at the top of a source
** tree (./ionflow.so there), or share/lua/5.4 of the prefix it is
** installed in (lib/lua/5.4/ionflow.so), which stock Lua searches only for
** /usr/local. Writes the directory into dir; 1 if found. */
static int lionflow_luadir(char *dir, size_t n)
{
	const char *up[] = {"/lua", "/../../../share/lua/5.4"};
	char so[PATH_MAX], probe[PATH_MAX + 64], *slash;
	Dl_info info;
	if (!dladdr((void *)luaopen_ionflow, &info) || !info.dli_fname ||
	    !realpath(info.dli_fname, so) || !(slash = strrchr(so, '/')))
		return 0;
	*slash = '\0';
	for (size_t k = 0; k < sizeof up / sizeof up[0]; k++) {
		snprintf(probe, sizeof probe, "%s%s/ionflow/units.lua", so,
			 up[k]);
		if (access(probe, R_OK) == 0) {
			snprintf(dir, n, "%s%s", so, up[k]);
			return 1;
		}
	}
	return 0;
}

static void lionflow_setpath(lua_State *L)
{
	char dir[PATH_MAX + 64];
	if (!lionflow_luadir(dir, sizeof dir))
		return;
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "path");
	lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir,
			lua_tostring(L, -1));
	lua_setfield(L, -3, "path");
	lua_pop(L, 2);
}

/* ionflow.<name> for a name not native: require "ionflow.<name>" */
static int lionflow_index(lua_State *L)
{
	const char *k = luaL_checkstring(L, 2);
	lua_getglobal(L, "require");
	lua_pushfstring(L, "ionflow.%s", k);
	lua_call(L, 1, 1);
	lua_pushvalue(L, 2);
	lua_pushvalue(L, -2);
	lua_rawset(L, 1);
	return 1;
}

/* Lua unloads a C module when its state closes, but HDF5 and the OpenMP
** runtime it brought in keep exit handlers and threads that would then
** point into unmapped code (a crash at exit): the library stays loaded. */
static void lionflow_pin(void)
{
	Dl_info info;
	if (dladdr((void *)luaopen_ionflow, &info) && info.dli_fname)
		dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

int luaopen_ionflow(lua_State *L)
{
	lionflow_pin();
	lionflow_setpath(L);
	linit_openlibs(L);
	linit_lazyglobals(L);
	linit_pushmodules(L);
	lua_newtable(L);
	lua_pushcfunction(L, lionflow_index);
	lua_setfield(L, -2, "__index");
	lua_setmetatable(L, -2);
	lua_pushliteral(L, "ionflow " IONFLOW_VERSION);
	lua_setfield(L, -2, "_VERSION");
	return 1;
}
