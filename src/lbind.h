/*
** lbind.h - what every binding needs, in the manner of Lua's lauxlib:
** raising a core's error, reading options tables, and the progress glue.
**
** Option readers take the options table at stack index t; t == 0, none
** or nil means no table was given (every option takes its default). Their
** errors name the function (fname) and the option:
**     "fit.curve: option 'dpl' must be an integer in 1..1024"
** A reader leaves the stack as it found it, except lbind_optdoubles (see
** there).
**
**     lbind_progress lp;
**     lbind_progress_arg(L, 4, &lp);     -- argument 4: nil, bool or function
**     rc = corr_run(..., &lp.p, err);
**     lbind_progress_finish(L, &lp);     -- re-raises the callback's error
**     if (rc != 0) return lbind_error(L, "corr.multitau", err);
*/
#ifndef ionflow_lbind_h
#define ionflow_lbind_h

#include <stddef.h>

#include <lua.h>

#include "progress.h"

/* raise a Lua error carrying a core's message err, prefixed by fname
** (no prefix when fname is NULL or empty); does not return */
int lbind_error(lua_State *L, const char *fname, const char *err);

/* option k, a number; def when absent */
double lbind_optnum(lua_State *L, int t, const char *k, double def,
		    const char *fname);
/* option k, a number; an error when absent */
double lbind_checknum(lua_State *L, int t, const char *k, const char *fname);
/* option k, an integer in lo..hi (the error names the bounds); def when
** absent (def itself is not checked) */
lua_Integer lbind_optint(lua_State *L, int t, const char *k, lua_Integer def,
			 lua_Integer lo, lua_Integer hi, const char *fname);
/* option k, any value taken as a boolean (nil and false are false);
** def when absent */
int lbind_optbool(lua_State *L, int t, const char *k, int def,
		  const char *fname);
/* option k, a string; def when absent. The string stays valid while the
** options table holds it. */
const char *lbind_optstr(lua_State *L, int t, const char *k,
			 const char *def, const char *fname);
/* option k, one of the NULL-terminated names; its index, or the index of
** def when absent (def must be one of the names) */
int lbind_optenum(lua_State *L, int t, const char *k, const char *def,
		  const char *const names[], const char *fname);
/* option k, a 1-D array or a list of numbers, as contiguous doubles and
** their count n; NULL (n = 0) when absent. The value (and any converted
** copy) is left on the stack until the calling function returns. */
const double *lbind_optdoubles(lua_State *L, int t, const char *k,
			       size_t *n, const char *fname);

/* option k, a list of exactly n integers >= min, into out; 0 when absent,
** 1 when read */
int lbind_optints(lua_State *L, int t, const char *k, int n,
		  lua_Integer *out, lua_Integer min, const char *fname);

/* progress reporting for a core that takes a `progress *` */
typedef struct lbind_progress {
	progress p;
	lua_State *L;
	int ref;	/* registry ref of {fn, error} or LUA_NOREF */
	int failed;	/* the callback raised an error */
} lbind_progress;

/* Configure lp->p from argument idx: none or nil = automatic bar (stderr
** when a terminal), false = no bar, true = bar on stderr even when it is
** not a terminal, a function = no bar, fn(done, total, label) is called
** about ten times a second and once at the end (total is nil when
** unknown); an error in fn, or fn returning false, stops the primitive. */
void lbind_progress_arg(lua_State *L, int idx, lbind_progress *lp);

/* After the core returned: release the function; if it raised an error,
** raise that error again (then this does not return). */
void lbind_progress_finish(lua_State *L, lbind_progress *lp);

#endif
