/*
** main.c - the ionflow interpreter: Lua 5.4 with ionflow's primitives.
**
**   ionflow [options] [script [args]]
**
** The options and the global `arg` follow the stand-alone `lua` program,
** so that habits and scripts carry over. With no script, a terminal gets
** the REPL and a pipe is read whole as a script.
*/
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lrepl.h"
#include "lrun.h"
#include "mpicore.h"
#include "sys.h"	/* IONFLOW_VERSION */

static void main_usage(const char *badopt)
{
	if (badopt != NULL)
		fprintf(stderr, "%s: unrecognized option '%s'\n",
			lrun_progname, badopt);
	fprintf(stderr,
		"usage: %s [options] [script [args]]\n"
		"Available options are:\n"
		"  -e stat   execute string 'stat'\n"
		"  -i        enter interactive mode after executing 'script'\n"
		"  -l mod    require library 'mod' into global 'mod'\n"
		"  -v        show version information\n"
		"  --        stop handling options\n"
		"  -         stop handling options and execute stdin\n",
		lrun_progname);
}

static void main_version(void)
{
	printf("ionflow %s (%s)\n", IONFLOW_VERSION, LUA_RELEASE);
	fflush(stdout);
}

/* The parsed command line: which options were seen, and where the script
** (if any) stands in argv. */
typedef struct main_opts {
	int interactive, version, has_e, script;
} main_opts;

/* Returns 0, or -1 after printing usage for a bad option. The script index
** is 0 when there is none; it is argc when "-" or "--" ends the options
** without a script name following "--". */
static int main_parse(int argc, char **argv, main_opts *o)
{
	int i;
	memset(o, 0, sizeof *o);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || strcmp(a, "-") == 0) {
			o->script = i;
			return 0;
		}
		if (strcmp(a, "--") == 0) {
			o->script = (i + 1 < argc) ? i + 1 : 0;
			return 0;
		}
		switch (a[1]) {
		case 'i':
			if (a[2] != '\0') goto bad;
			o->interactive = o->version = 1;
			break;
		case 'v':
			if (a[2] != '\0') goto bad;
			o->version = 1;
			break;
		case 'e':
			o->has_e = 1;
			/* FALLTHROUGH */
		case 'l':
			if (a[2] == '\0' && (++i >= argc || argv[i][0] == '-')) {
				fprintf(stderr, "%s: '%s' needs argument\n",
					lrun_progname, a);
				main_usage(NULL);
				return -1;
			}
			break;
		default:
			goto bad;
		}
	}
	return 0;
bad:
	main_usage(argv[i]);
	return -1;
}

/* arg[0] is the script, arg[1..] its arguments, arg[-k] what came before */
static void main_setarg(lua_State *L, int argc, char **argv, int script)
{
	int i, base = script ? script : 0;
	lua_createtable(L, argc - base, base + 1);
	for (i = 0; i < argc; i++) {
		lua_pushstring(L, argv[i]);
		lua_rawseti(L, -2, i - base);
	}
	lua_setglobal(L, "arg");
}

static int main_dostring(lua_State *L, const char *s, const char *name)
{
	int status = luaL_loadbuffer(L, s, strlen(s), name);
	if (status == LUA_OK)
		status = lrun_docall(L, 0, 0);
	return lrun_report(L, status);
}

/* -l mod: global mod = require "mod" */
static int main_require(lua_State *L, const char *name)
{
	int status;
	lua_getglobal(L, "require");
	lua_pushstring(L, name);
	status = lrun_docall(L, 1, 1);
	if (status == LUA_OK)
		lua_setglobal(L, name);
	return lrun_report(L, status);
}

/* run -e and -l in command-line order, up to the script */
static int main_runopts(lua_State *L, char **argv, int upto)
{
	int i;
	for (i = 1; i < upto; i++) {
		const char *a = argv[i], *v;
		if (a[0] != '-' || (a[1] != 'e' && a[1] != 'l'))
			continue;
		v = a[2] != '\0' ? a + 2 : argv[++i];
		if (a[1] == 'e' ? main_dostring(L, v, "=(command line)")
				: main_require(L, v))
			return -1;
		if (lrun_terminated())
			return -1;
	}
	return 0;
}

static int main_run(lua_State *L, int argc, char **argv)
{
	main_opts o;
	int upto;
	if (main_parse(argc, argv, &o) != 0)
		return EXIT_FAILURE;
	if (o.version)
		main_version();
	main_setarg(L, argc, argv, o.script);
	upto = o.script ? o.script : argc;
	if (main_runopts(L, argv, upto) != 0)
		return EXIT_FAILURE;
	if (o.script) {
		const char *f = argv[o.script];
		if (strcmp(f, "-") == 0 && strcmp(argv[o.script - 1], "--") != 0)
			f = NULL;
		if (lrun_script(L, f) != LUA_OK || lrun_terminated())
			return EXIT_FAILURE;
	}
	if (o.interactive) {
		lrepl_run(L);
	} else if (o.script == 0 && !o.has_e && !o.version) {
		if (isatty(STDIN_FILENO)) {
			main_version();
			lrepl_run(L);
		} else if (lrun_script(L, NULL) != LUA_OK) {
			return EXIT_FAILURE;
		}
	}
	return EXIT_SUCCESS;
}

/* after a SIGTERM, once everything is cleaned up: end as the signal asked */
static void main_terminate(void)
{
	if (!lrun_terminated())
		return;
	signal(SIGTERM, SIG_DFL);
	raise(SIGTERM);
}

int main(int argc, char **argv)
{
	lua_State *L;
	int status;
	lrun_sigterm_init();
	L = lrun_newstate("ionflow");
	if (L == NULL) {
		main_terminate();
		fprintf(stderr, "ionflow: cannot create state: not enough memory\n");
		return EXIT_FAILURE;
	}
	status = lrun_terminated() ? EXIT_FAILURE : main_run(L, argc, argv);
	/* a rank that failed ends the job: the others would wait for it */
	if (status != EXIT_SUCCESS)
		mpicore_abort(status);
	lua_close(L);
	main_terminate();
	return status;
}
