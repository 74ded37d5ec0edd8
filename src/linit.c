/*
** linit.c - the list of ionflow's native modules (cf. Lua's linit.c).
** A new binding adds its luaopen_ionflow_<name> here, and nowhere else.
*/
#include <lauxlib.h>

#include "linit.h"

int luaopen_ionflow_array(lua_State *L);
int luaopen_ionflow_sys(lua_State *L);
int luaopen_ionflow_chem(lua_State *L);
int luaopen_ionflow_xam(lua_State *L);
int luaopen_ionflow_h5(lua_State *L);
int luaopen_ionflow_cell(lua_State *L);
int luaopen_ionflow_xpcs(lua_State *L);
int luaopen_ionflow_fit(lua_State *L);
int luaopen_ionflow_speckle(lua_State *L);
int luaopen_ionflow_md(lua_State *L);
int luaopen_ionflow_detector(lua_State *L);
int luaopen_ionflow_mpi(lua_State *L);


static const luaL_Reg linit_modules[] = {
	{"array", luaopen_ionflow_array},
	{"sys", luaopen_ionflow_sys},
	{"chem", luaopen_ionflow_chem},
	{"xam", luaopen_ionflow_xam},
	{"h5", luaopen_ionflow_h5},
	{"cell", luaopen_ionflow_cell},
	{"xpcs", luaopen_ionflow_xpcs},
	{"fit", luaopen_ionflow_fit},
	{"speckle", luaopen_ionflow_speckle},
	{"md", luaopen_ionflow_md},
	{"detector", luaopen_ionflow_detector},
	{"mpi", luaopen_ionflow_mpi},
	{NULL, NULL}
};

void linit_openlibs(lua_State *L)
{
	const luaL_Reg *m;
	for (m = linit_modules; m->func != NULL; m++) {
		luaL_requiref(L, m->name, m->func, 1);	/* global too */
		luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
		lua_pushfstring(L, "ionflow.%s", m->name);
		lua_pushvalue(L, -3);
		lua_settable(L, -3);
		lua_pop(L, 2);
	}
	/* the simulator lives in its own module (speckle) but belongs to the
	** XPCS workflow too, where the issue and users look for it */
	lua_getglobal(L, "xpcs");
	lua_getglobal(L, "speckle");
	lua_getfield(L, -1, "simulate");
	lua_setfield(L, -3, "simulate");
	lua_pop(L, 2);
}

void linit_pushmodules(lua_State *L)
{
	const luaL_Reg *m;
	lua_newtable(L);
	for (m = linit_modules; m->func != NULL; m++) {
		lua_getglobal(L, m->name);
		lua_setfield(L, -2, m->name);
	}
}

/* only lower-case names are looked up, each once; a _G that has a
** metatable already (another host's) is left alone. Here too the program
** wires the layers together: cell.run{params = NAME} finds its set through
** ionflow.cellparams, loaded on first use (the cell binding knows no Lua
** module). */
static const char linit_lazy[] =
	"cell.paramsets = function(...)\n"
	"  return require('ionflow.cellparams').get(...)\n"
	"end\n"
	"if getmetatable(_G) ~= nil then return end\n"
	"local searched = {}\n"
	"setmetatable(_G, {__index = function(t, k)\n"
	"  if type(k) ~= 'string' or searched[k] or not k:match('^[a-z][a-z0-9]*$') then return nil end\n"
	"  searched[k] = true\n"
	"  local name = 'ionflow.' .. k\n"
	"  if not package.searchpath(name, package.path) then return nil end\n"
	"  local m = require(name)\n"
	"  rawset(t, k, m)\n"
	"  return m\n"
	"end})\n";

void linit_lazyglobals(lua_State *L)
{
	if (luaL_loadbuffer(L, linit_lazy, sizeof linit_lazy - 1, "=ionflow")
	    != LUA_OK)
		lua_error(L);
	lua_call(L, 0, 0);
}
