/*
** linit.h - opening ionflow's native modules into a Lua state.
*/
#ifndef ionflow_linit_h
#define ionflow_linit_h

#include <lua.h>

/* open every native module: each becomes a global (array, h5, ...) and is
** also in package.loaded under its name and "ionflow.<name>" */
void linit_openlibs(lua_State *L);

#endif
