/*
** lrun.c - calling Lua with tracebacks and Ctrl-C, and making the state.
*/
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "h5.h"
#include "intr.h"
#include "linit.h"
#include "lrun.h"
#include "progress.h"

#ifndef IONFLOW_LUADIR
#define IONFLOW_LUADIR "/usr/local/share/ionflow/lua"
#endif

const char *lrun_progname = "ionflow";

/* the state being run, for the signal handler (Lua code is single-threaded) */
static lua_State *lrun_active = NULL;

/* a SIGTERM came: the program unwinds as for Ctrl-C, then ends */
static volatile sig_atomic_t lrun_term = 0;

int lrun_terminated(void) { return lrun_term != 0; }

/* SIGTERM outside a call (at the prompt, while starting): remove the
** temporary files of unfinished results, then die by the signal */
static void lrun_sigterm_idle(int sig)
{
	lrun_term = 1;
	h5_unlink_temps();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* A script that catches the "interrupted" error and leaves by os.exit
** (as the scripts do with their failures) would end with its own status:
** after a SIGTERM, exit() ends by the signal instead, once the other exit
** handlers (registered later, so run first) have removed the temporary
** files. A batch runner then sees "killed", not "failed". */
static void lrun_atexit_term(void)
{
	if (!lrun_term)
		return;
	signal(SIGTERM, SIG_DFL);
	raise(SIGTERM);
}

void lrun_sigterm_init(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = lrun_sigterm_idle;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	atexit(lrun_atexit_term);
}

/* The hook that turns a pending Ctrl-C into an error inside Lua code. It is
** set from the signal handler, which is the one thing lua_sethook allows. */
static void lrun_stophook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	lua_sethook(L, NULL, 0, 0);
	luaL_error(L, "interrupted");
}

/* First Ctrl-C: ask Lua (hook) and C loops (intr_flag) to stop. A second
** one while the first is pending restores the default action, so a stuck
** program can still be killed from the keyboard. SIGTERM (kill, a batch
** system's time limit) is handled the same way, so that writers remove
** their temporary files as the error unwinds; the program then ends
** (lrun_terminated). A second SIGTERM removes them at once and kills.
** The hook is a count hook only, firing at the next instruction of Lua
** code: a call hook would also fire when a C primitive that saw the flag
** raises its own error (the message handler is a call), and replace that
** error, which names the primitive, by a bare "interrupted". */
static void lrun_sigint(int sig)
{
	int mask = LUA_MASKCOUNT;
	if (sig == SIGTERM) {
		if (lrun_term) {
			h5_unlink_temps();
			signal(sig, SIG_DFL);
			raise(sig);
		}
		lrun_term = 1;
	}
	if (intr_pending())
		signal(sig, SIG_DFL);
	intr_raise();
	if (lrun_active != NULL)
		lua_sethook(lrun_active, lrun_stophook, mask, 1);
}

static int lrun_msghandler(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);
	if (msg == NULL) {
		if (luaL_callmeta(L, 1, "__tostring") &&
		    lua_type(L, -1) == LUA_TSTRING)
			return 1;
		msg = lua_pushfstring(L, "(error object is a %s value)",
				      luaL_typename(L, 1));
	}
	luaL_traceback(L, L, msg, 1);
	return 1;
}

/* The handler is installed without SA_RESTART (as Lua's own lua.c does):
** a Ctrl-C also ends a blocking read or wait in the chunk (io.read at the
** REPL) instead of waiting for it; the caller's handler, flags included,
** is put back afterwards. */
int lrun_docall(lua_State *L, int narg, int nres)
{
	int status, base = lua_gettop(L) - narg;
	struct sigaction sa, old, oldterm;
	lua_pushcfunction(L, lrun_msghandler);
	lua_insert(L, base);
	intr_clear();
	lrun_active = L;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = lrun_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old);
	sigaction(SIGTERM, &sa, &oldterm);
	status = lua_pcall(L, narg, nres, base);
	sigaction(SIGINT, &old, NULL);
	sigaction(SIGTERM, &oldterm, NULL);
	lrun_active = NULL;
	lua_sethook(L, NULL, 0, 0);
	intr_clear();
	progress_reset();	/* a bar an interrupted primitive left */
	lua_remove(L, base);
	return status;
}

int lrun_report(lua_State *L, int status)
{
	if (status != LUA_OK) {
		const char *msg = lua_tostring(L, -1);
		fprintf(stderr, "%s: %s\n", lrun_progname,
			msg ? msg : "(error object is not a string)");
		fflush(stderr);
		lua_pop(L, 1);
	}
	return status;
}

/* push the elements of the global arg (1..n) and return n */
static int lrun_pushargs(lua_State *L)
{
	int i, n;
	if (lua_getglobal(L, "arg") != LUA_TTABLE) {
		lua_pop(L, 1);
		return 0;
	}
	n = (int)luaL_len(L, -1);
	luaL_checkstack(L, n + 3, "too many arguments to script");
	for (i = 1; i <= n; i++)
		lua_rawgeti(L, -i, i);
	lua_remove(L, -i);
	return n;
}

int lrun_script(lua_State *L, const char *fname)
{
	int status = luaL_loadfile(L, fname);
	if (status == LUA_OK) {
		int n = lrun_pushargs(L);
		status = lrun_docall(L, n, LUA_MULTRET);
	}
	return lrun_report(L, status);
}

/* The directory of the Lua-written modules, found from the binary's own
** place, so that an installed tree can move and `make install` need not
** recompile: lua/ of a source tree holding the binary (./ionflow at its
** top, or build/<flavour>/ionflow two levels down), or share/ionflow/lua
** beside the bin/ it is installed in. Writes it into dir and returns 1 if
** found. */
static int lrun_srctree(char *dir, size_t n)
{
	char exe[PATH_MAX], probe[PATH_MAX + 64];
	const char *up[] = {"", "/..", "/../..", "/../share/ionflow"};
	ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
	char *slash;
	size_t k;
	if (len <= 0)
		return 0;
	exe[len] = '\0';
	if ((slash = strrchr(exe, '/')) == NULL)
		return 0;
	*slash = '\0';
	for (k = 0; k < sizeof up / sizeof up[0]; k++) {
		snprintf(probe, sizeof probe, "%s%s/lua/ionflow/units.lua",
			 exe, up[k]);
		if (access(probe, R_OK) == 0) {
			char canon[PATH_MAX];
			snprintf(probe, sizeof probe, "%s%s/lua", exe, up[k]);
			snprintf(dir, n, "%s", realpath(probe, canon) ? canon :
				 probe);
			return 1;
		}
	}
	return 0;
}

/* package.path: $IONFLOW_PATH first, then the modules' directory found
** from the binary (else the default install place), then Lua's default
** path. */
static void lrun_setpath(lua_State *L)
{
	char dir[PATH_MAX + 64];
	const char *env = getenv("IONFLOW_PATH");
	const char *luadir = IONFLOW_LUADIR;
	luaL_Buffer b;
	if (lrun_srctree(dir, sizeof dir))
		luadir = dir;
	lua_getglobal(L, "package");
	luaL_buffinit(L, &b);
	if (env != NULL && *env != '\0') {
		luaL_addstring(&b, env);
		luaL_addchar(&b, ';');
	}
	lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", luadir, luadir);
	luaL_addvalue(&b);
	lua_getfield(L, -2, "path");
	luaL_addvalue(&b);
	luaL_pushresult(&b);
	lua_setfield(L, -2, "path");
	lua_pushstring(L, luadir);
	lua_setfield(L, LUA_REGISTRYINDEX, "ionflow.luadir");
	lua_pop(L, 1);
}

static int lrun_openall(lua_State *L)
{
	luaL_openlibs(L);
	lrun_setpath(L);
	linit_openlibs(L);
	linit_lazyglobals(L);
	return 0;
}

lua_State *lrun_newstate(const char *progname)
{
	lua_State *L = luaL_newstate();
	if (progname != NULL)
		lrun_progname = progname;
	if (L == NULL)
		return NULL;
	lua_pushcfunction(L, lrun_openall);
	if (lrun_report(L, lrun_docall(L, 0, 0)) != LUA_OK) {
		lua_close(L);
		return NULL;
	}
	return L;
}
