/*
** lrepl.c - placeholder REPL: reads lines and runs them (to be replaced by
** the readline front end).
*/
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "lrepl.h"
#include "lrun.h"

void lrepl_run(lua_State *L)
{
	char line[4096];
	while (fputs("> ", stdout), fflush(stdout), fgets(line, sizeof line, stdin)) {
		int status = luaL_loadbuffer(L, line, strlen(line), "=stdin");
		if (status == LUA_OK)
			status = lrun_docall(L, 0, 0);
		lrun_report(L, status);
	}
}
