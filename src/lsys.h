/*
** lsys.h - the Lua side of progress reporting, for every binding whose
** primitive takes a `progress *` (see progress.h).
**
**     lsys_progress lp;
**     lsys_progress_arg(L, 4, &lp);      -- argument 4: nil, bool or function
**     rc = corr_run(..., &lp.p, err);
**     lsys_progress_finish(L, &lp);      -- re-raises the callback's error
**     if (rc != 0) return larray_error(L, "corr.multitau", err);
*/
#ifndef ionflow_lsys_h
#define ionflow_lsys_h

#include <lua.h>

#include "progress.h"

typedef struct lsys_progress {
	progress p;
	lua_State *L;
	int ref;	/* registry ref of {fn, error} or LUA_NOREF */
	int failed;	/* the callback raised an error */
} lsys_progress;

/* Configure lp->p from argument idx: none or nil = automatic bar (stderr
** when a terminal), false = no bar, true = bar on stderr even when it is
** not a terminal, a function = no bar, fn(done, total, label) is called
** about ten times a second and once at the end (total is nil when
** unknown); an error in fn, or fn returning false, stops the primitive. */
void lsys_progress_arg(lua_State *L, int idx, lsys_progress *lp);

/* After the core returned: release the function; if it raised an error,
** raise that error again (then this does not return). */
void lsys_progress_finish(lua_State *L, lsys_progress *lp);

int luaopen_ionflow_sys(lua_State *L);

#endif
