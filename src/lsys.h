/*
** lsys.h - the `sys` module (clock, sleep, threads, memory, progress bars
** for Lua loops). The progress glue for bindings is in lbind.h.
*/
#ifndef ionflow_lsys_h
#define ionflow_lsys_h

#include <lua.h>

int luaopen_ionflow_sys(lua_State *L);

#endif
