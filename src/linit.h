/*
** linit.h - opening ionflow's native modules into a Lua state.
*/
#ifndef ionflow_linit_h
#define ionflow_linit_h

#include <lua.h>

/* open every native module: each becomes a global (array, h5, ...) and is
** also in package.loaded under its name and "ionflow.<name>" */
void linit_openlibs(lua_State *L);

/* pushes a table of every native module by name (array, h5, ...) */
void linit_pushmodules(lua_State *L);

/* Lua-written modules (lua/ionflow/<name>.lua: units, csv, plot, ...)
** load on first use of their global name, through a metatable of _G;
** nothing is done when _G already has a metatable (another host's) */
void linit_lazyglobals(lua_State *L);

#endif
