/*
** lrun.h - running Lua chunks the way the interpreter and REPL both need:
** with a traceback on error and Ctrl-C turned into a Lua error.
*/
#ifndef ionflow_lrun_h
#define ionflow_lrun_h

#include <lua.h>

/* call the function below narg arguments; on error leave the message (with
** traceback) on the stack and return the status. SIGINT during the call sets
** the interrupt flag and stops Lua code at the next hook. */
int lrun_docall(lua_State *L, int narg, int nres);
/* print the message on top of the stack to stderr if status is an error;
** pops it. Returns status. */
int lrun_report(lua_State *L, int status);
/* load a file (NULL = stdin) and run it with the global arg's array part
** as arguments; errors are reported, the status returned */
int lrun_script(lua_State *L, const char *fname);
/* a new state with the standard libraries, package.path set and every
** ionflow module opened; NULL only when memory is out */
lua_State *lrun_newstate(const char *progname);

/* SIGTERM: lrun_sigterm_init (at start) makes it remove the temporary
** files of unfinished results before the process dies; during
** lrun_docall it interrupts like Ctrl-C and lrun_terminated() becomes 1,
** after which the caller runs nothing more and ends the process by
** SIGTERM once its state is closed */
void lrun_sigterm_init(void);
int lrun_terminated(void);

/* the name used in messages ("ionflow") */
extern const char *lrun_progname;

#endif
