/*
** lrepl.h - the interactive read-eval-print loop (readline front end).
*/
#ifndef ionflow_lrepl_h
#define ionflow_lrepl_h

#include <lua.h>

/* run the REPL on the terminal until end of input; returns when the user
** types Ctrl-D or calls os.exit */
void lrepl_run(lua_State *L);

#endif
