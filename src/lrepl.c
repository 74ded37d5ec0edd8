/*
** lrepl.c - the interactive read-eval-print loop.
**
** It behaves like the REPL of Lua 5.4's own `lua`: a line is first tried
** as an expression ("return <line>;") whose values are printed, then as a
** statement; a chunk that is incomplete (its syntax error is at <eof>)
** continues on the next line. On a terminal, lines are read with GNU
** readline (editing, history in a file, completion of Lua names).
**
** Signals. Readline's own signal handlers are turned off (rl_catch_signals
** = 0) and readline is driven through its callback interface from a
** pselect() loop, so that this file alone decides what SIGINT means:
** while reading, it discards the line (and any pending continuation
** lines) and gives a fresh prompt; while a chunk runs, lrun_docall
** installs its own handler that stops Lua code and C loops. Between the
** two, a soft handler only records the signal, so that no Ctrl-C ever
** kills the session by accident.
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include <lauxlib.h>

#include "lrepl.h"
#include "lrun.h"

#define LREPL_PROMPT "ionflow> "
#define LREPL_PROMPT2 "      >> "
#define LREPL_HISTMAX 1000	/* entries kept in the history file */
#define LREPL_EOFMARK "<eof>"

/* what reading one line gave */
typedef enum lrepl_got { LREPL_LINE, LREPL_EOF, LREPL_INTR } lrepl_got;

/* the session: how lines are read and where history goes */
typedef struct lrepl {
	lua_State *L;
	int tty;		/* stdin is a terminal: readline and prompts */
	char *histfile;		/* NULL: no history file */
	struct sigaction oldint, oldwinch, oldtstp;
} lrepl;

/* Set by the handlers below; the loop in lrepl_rlread reacts to them
** outside signal context, which is where readline may be called. */
static volatile sig_atomic_t lrepl_gotint, lrepl_gotwinch, lrepl_gotstop;

static void lrepl_onsignal(int sig)
{
	if (sig == SIGINT)
		lrepl_gotint = 1;
	else if (sig == SIGWINCH)
		lrepl_gotwinch = 1;
	else if (sig == SIGTSTP)
		lrepl_gotstop = 1;
}

/* the state completion works on (readline's callbacks have no user data) */
static lua_State *lrepl_L = NULL;

/* ---------------------------------------------------------------------
** Reading lines
** ------------------------------------------------------------------- */

/* the line handed over by readline's callback, and whether it came */
static char *lrepl_rlline;
static int lrepl_rldone;

static void lrepl_online(char *line)
{
	lrepl_rlline = line;
	lrepl_rldone = 1;
	rl_callback_handler_remove();
}

/* Ctrl-C while editing: forget the line, leave the terminal sane, show
** "^C" (when the terminal would) and move to a fresh line. */
static void lrepl_rlabort(void)
{
	rl_free_line_state();
	rl_callback_sigcleanup();
	rl_echo_signal_char(SIGINT);
	rl_cleanup_after_signal();
	rl_callback_handler_remove();
	fputc('\n', rl_outstream);
	fflush(rl_outstream);
}

/* Ctrl-Z while editing: give the terminal back in its normal mode, stop
** for real, and take it again (with a redraw) after `fg`. */
static void lrepl_rlsuspend(const sigset_t *blocked)
{
	struct sigaction dfl, mine;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	rl_cleanup_after_signal();
	sigaction(SIGTSTP, &dfl, &mine);
	sigprocmask(SIG_UNBLOCK, blocked, NULL);
	raise(SIGTSTP);
	sigprocmask(SIG_BLOCK, blocked, NULL);
	sigaction(SIGTSTP, &mine, NULL);
	rl_reset_after_signal();
	rl_forced_update_display();
}

/* A Ctrl-C that came while the signal was blocked (readline busy with
** type-ahead) is waiting; take it now, so that it is not delivered after
** the line was accepted and then forgotten. */
static int lrepl_intpending(void)
{
	sigset_t pend, only;
	int sig;
	if (sigpending(&pend) != 0 || !sigismember(&pend, SIGINT))
		return 0;
	sigemptyset(&only);
	sigaddset(&only, SIGINT);
	sigwait(&only, &sig);
	return 1;
}

/* What woke pselect (r, errno e): signals first, then input. Returns
** LREPL_LINE to go on reading, LREPL_INTR after Ctrl-C, LREPL_EOF when
** the terminal went away. */
static lrepl_got lrepl_rlstep(int r, int e, const sigset_t *blocked)
{
	if (lrepl_gotwinch) {
		lrepl_gotwinch = 0;
		rl_resize_terminal();
	}
	if (lrepl_gotstop) {
		lrepl_gotstop = 0;
		lrepl_rlsuspend(blocked);
	}
	if (lrepl_gotint || (r > 0 && lrepl_intpending())) {
		lrepl_gotint = 0;
		lrepl_rlabort();
		return LREPL_INTR;
	}
	if (r > 0) {
		rl_callback_read_char();
	} else if (r < 0 && e != EINTR) {
		rl_callback_handler_remove();
		return LREPL_EOF;
	}
	return LREPL_LINE;
}

/* One line through readline's callback interface. The signals the loop
** reacts to are blocked except inside pselect, so one arriving just
** before the wait is not lost until the next key press. */
static lrepl_got lrepl_rlread(const char *prompt, char **line)
{
	sigset_t blocked, orig, waitmask;
	int fd = fileno(rl_instream);
	lrepl_got got = LREPL_LINE;
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGINT);
	sigaddset(&blocked, SIGWINCH);
	sigaddset(&blocked, SIGTSTP);
	sigprocmask(SIG_BLOCK, &blocked, &orig);
	waitmask = orig;
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGWINCH);
	sigdelset(&waitmask, SIGTSTP);
	lrepl_gotint = lrepl_gotstop = 0;
	lrepl_rldone = 0;
	lrepl_rlline = NULL;
	rl_callback_handler_install(prompt, lrepl_online);
	while (!lrepl_rldone && got == LREPL_LINE) {
		fd_set fds;
		int r;
		FD_ZERO(&fds);
		FD_SET(fd, &fds);
		r = pselect(fd + 1, &fds, NULL, NULL, NULL, &waitmask);
		got = lrepl_rlstep(r, errno, &blocked);
	}
	sigprocmask(SIG_SETMASK, &orig, NULL);
	if (got == LREPL_LINE && lrepl_rlline == NULL)
		got = LREPL_EOF;
	*line = lrepl_rlline;
	return got;
}

/* One line from a pipe or file (REPL forced with -i): no prompt, no
** editing. A Ctrl-C interrupts the read (no SA_RESTART) like a line. */
static lrepl_got lrepl_plainread(char **line)
{
	size_t cap = 0;
	ssize_t n;
	*line = NULL;
	lrepl_gotint = 0;
	n = getline(line, &cap, stdin);
	if (n < 0) {
		free(*line);
		*line = NULL;
		if (lrepl_gotint || (ferror(stdin) && errno == EINTR)) {
			clearerr(stdin);
			return LREPL_INTR;
		}
		return LREPL_EOF;
	}
	if (n > 0 && (*line)[n - 1] == '\n')
		(*line)[n - 1] = '\0';
	return LREPL_LINE;
}

/* The prompt: the global _PROMPT / _PROMPT2 when set (as in lua.c), else
** ours. The string stays on the Lua stack while it is used. */
static const char *lrepl_prompt(lua_State *L, int first)
{
	const char *p;
	if (lua_getglobal(L, first ? "_PROMPT" : "_PROMPT2") == LUA_TNIL) {
		lua_pop(L, 1);
		lua_pushstring(L, first ? LREPL_PROMPT : LREPL_PROMPT2);
	}
	p = lua_tostring(L, -1);
	if (p == NULL) {
		lua_pop(L, 1);
		lua_pushstring(L, first ? LREPL_PROMPT : LREPL_PROMPT2);
		p = lua_tostring(L, -1);
	}
	return p;
}

static lrepl_got lrepl_read(lrepl *r, int first, char **line)
{
	lrepl_got got;
	if (!r->tty)
		return lrepl_plainread(line);
	got = lrepl_rlread(lrepl_prompt(r->L, first), line);
	lua_pop(r->L, 1);
	return got;
}

/* ---------------------------------------------------------------------
** History
** ------------------------------------------------------------------- */

/* $IONFLOW_HISTORY (empty: none), else ~/.ionflow_history */
static char *lrepl_histpath(void)
{
	const char *env = getenv("IONFLOW_HISTORY"), *home;
	char *path;
	size_t n;
	if (env != NULL)
		return *env ? strdup(env) : NULL;
	home = getenv("HOME");
	if (home == NULL || *home == '\0')
		return NULL;
	n = strlen(home) + sizeof "/.ionflow_history";
	path = malloc(n);
	if (path != NULL)
		snprintf(path, n, "%s/.ionflow_history", home);
	return path;
}

/* Entries are written with a timestamp line before each, which is how
** readline keeps a multi-line chunk one entry across sessions. */
static void lrepl_histopen(lrepl *r)
{
	r->histfile = lrepl_histpath();
	using_history();
	history_comment_char = '#';
	history_write_timestamps = 1;
	history_multiline_entries = 1;
	stifle_history(LREPL_HISTMAX);
	if (r->histfile != NULL) {
		history_truncate_file(r->histfile, LREPL_HISTMAX);
		read_history(r->histfile);
	}
}

/* Add a chunk, skipping blanks and repeats; it reaches the file at once,
** so that os.exit() or a crash does not lose the session. */
static void lrepl_histadd(lrepl *r, const char *chunk)
{
	HIST_ENTRY *last;
	if (!r->tty || chunk[strspn(chunk, " \t\n")] == '\0')
		return;
	last = history_length > 0 ? history_get(history_base +
						  history_length - 1) : NULL;
	if (last != NULL && strcmp(last->line, chunk) == 0)
		return;
	add_history(chunk);
	if (r->histfile != NULL) {
		int fd = open(r->histfile, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			close(fd);
			append_history(1, r->histfile);
		}
	}
}

static void lrepl_histclose(lrepl *r)
{
	if (r->histfile != NULL)
		history_truncate_file(r->histfile, LREPL_HISTMAX);
	clear_history();
	free(r->histfile);
	r->histfile = NULL;
}

/* ---------------------------------------------------------------------
** Completion
** ------------------------------------------------------------------- */

static const char *const lrepl_keywords[] = {
	"and", "break", "do", "else", "elseif", "end", "false", "for",
	"function", "goto", "if", "in", "local", "nil", "not", "or",
	"repeat", "return", "then", "true", "until", "while", NULL
};

/* s[0..n) is a keyword (s need not end there) */
static int lrepl_iskeyword(const char *s, size_t n)
{
	int i;
	for (i = 0; lrepl_keywords[i] != NULL; i++)
		if (strlen(lrepl_keywords[i]) == n &&
		    memcmp(s, lrepl_keywords[i], n) == 0)
			return 1;
	return 0;
}

/* s[0..n) can follow a '.' or ':' in Lua source */
static int lrepl_isname(const char *s, size_t n)
{
	size_t i;
	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!(c == '_' || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return 0;
	}
	return !lrepl_iskeyword(s, n);
}

/* A C __index function usually looks methods up in a table held as an
** upvalue (lua_pushcclosure(L, index, 1) over the method table, as
** ionflow's array does): push the first table upvalue, or nothing and
** return 0. Lua functions are not searched: their upvalues hold _ENV. */
static int lrepl_pushupvaltable(lua_State *L, int idx)
{
	int i;
	idx = lua_absindex(L, idx);
	if (!lua_iscfunction(L, idx))
		return 0;
	for (i = 1; lua_getupvalue(L, idx, i) != NULL; i++) {
		if (lua_type(L, -1) == LUA_TTABLE)
			return 1;
		lua_pop(L, 1);
	}
	return 0;
}

/* Push the table that the metatable's __index of the value at idx leads
** to and return 1, or push nothing and return 0. Raw accesses only:
** completing a name must never run the user's code. */
static int lrepl_pushindex(lua_State *L, int idx)
{
	int found = 0;
	if (!lua_getmetatable(L, idx))
		return 0;
	lua_pushliteral(L, "__index");
	switch (lua_rawget(L, -2)) {
	case LUA_TTABLE:
		found = 1;
		break;
	case LUA_TFUNCTION:
		found = lrepl_pushupvaltable(L, -1);
		if (found)
			lua_remove(L, -2);	/* the function */
		break;
	}
	if (!found) {
		lua_pop(L, 2);
		return 0;
	}
	lua_remove(L, -2);	/* the metatable */
	return 1;
}

/* Push value.name for the value on top: its raw field, else the field of
** the tables along its __index chain (how userdata get their methods). */
static void lrepl_field(lua_State *L, const char *name)
{
	int depth;
	lua_pushvalue(L, -1);
	for (depth = 0; depth < 16; depth++) {
		if (lua_type(L, -1) == LUA_TTABLE) {
			lua_pushstring(L, name);
			if (lua_rawget(L, -2) != LUA_TNIL) {
				lua_remove(L, -2);
				return;
			}
			lua_pop(L, 1);
		}
		if (!lrepl_pushindex(L, -1))
			break;
		lua_remove(L, -2);
	}
	lua_pop(L, 1);
	lua_pushnil(L);
}

/* Add the keys of the table on top that start with part to the set at
** index set (name -> Lua type of the value). After ':' only functions
** qualify; names starting with '_' only when part does. */
static void lrepl_addkeys(lua_State *L, int set, const char *part,
			  int methods)
{
	size_t np = strlen(part);
	lua_pushnil(L);
	while (lua_next(L, -2) != 0) {
		size_t n;
		const char *k;
		if (lua_type(L, -2) == LUA_TSTRING) {
			k = lua_tolstring(L, -2, &n);
			if (n >= np && strncmp(k, part, np) == 0 &&
			    (k[0] != '_' || part[0] == '_') &&
			    lrepl_isname(k, n) &&
			    (!methods || lua_type(L, -1) == LUA_TFUNCTION)) {
				lua_pushvalue(L, -2);
				lua_pushinteger(L, lua_type(L, -2));
				lua_rawset(L, set);
			}
		}
		lua_pop(L, 1);
	}
}

/* the matching keys of the value on top and along its __index chain */
static void lrepl_allkeys(lua_State *L, int set, const char *part,
			  int methods)
{
	int depth, top = lua_gettop(L);
	lua_pushvalue(L, -1);
	for (depth = 0; depth < 16; depth++) {
		if (lua_type(L, -1) == LUA_TTABLE)
			lrepl_addkeys(L, set, part, methods);
		if (!lrepl_pushindex(L, -1))
			break;
	}
	lua_settop(L, top);
}

/* The Lua-written modules that load on first use of their global name
** (lrun.c): lua/ionflow/<name>.lua with a lower-case name. Read into a
** fixed array and the directory closed before anything can raise. */
#define LREPL_MAXMODS 128
typedef char lrepl_modname[32];

static int lrepl_lazymods(lua_State *L, lrepl_modname *names)
{
	const char *luadir;
	char path[PATH_MAX];
	struct dirent *d;
	DIR *dir;
	int n = 0;
	lua_getfield(L, LUA_REGISTRYINDEX, "ionflow.luadir");
	luadir = lua_tostring(L, -1);
	if (luadir != NULL)
		snprintf(path, sizeof path, "%s/ionflow", luadir);
	lua_pop(L, 1);	/* the registry keeps the string alive */
	if (luadir == NULL || (dir = opendir(path)) == NULL)
		return 0;
	while (n < LREPL_MAXMODS && (d = readdir(dir)) != NULL) {
		size_t len = strlen(d->d_name), i;
		if (len < 5 || len - 4 >= sizeof names[0] ||
		    strcmp(d->d_name + len - 4, ".lua") != 0 ||
		    !(d->d_name[0] >= 'a' && d->d_name[0] <= 'z'))
			continue;
		for (i = 0; i < len - 4; i++)
			if (!((d->d_name[i] >= 'a' && d->d_name[i] <= 'z') ||
			      (d->d_name[i] >= '0' && d->d_name[i] <= '9')))
				break;
		if (i == len - 4) {
			memcpy(names[n], d->d_name, len - 4);
			names[n++][len - 4] = '\0';
		}
	}
	closedir(dir);
	return n;
}

/* is name one of those modules? */
static int lrepl_islazy(lua_State *L, const char *name)
{
	lrepl_modname names[LREPL_MAXMODS];
	int i, n = lrepl_lazymods(L, names);
	for (i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return 1;
	return 0;
}

/* Replace the value on top (the globals) by the one the names in
** text[0..last) lead to; returns 0, or -1 when there is nothing there.
** A first name that is a not yet loaded ionflow module is loaded, as
** using it at the prompt would do ("units.<TAB>"). */
static int lrepl_walk(lua_State *L, const char *text, const char *last)
{
	const char *s = text;
	while (s < last) {
		const char *e = strpbrk(s, ".:");
		if ((*e == ':' && e != last) || !lrepl_isname(s, (size_t)(e - s)))
			return -1;
		lua_pushlstring(L, s, (size_t)(e - s));
		lua_insert(L, -2);
		lrepl_field(L, lua_tostring(L, -2));
		if (lua_isnil(L, -1) && s == text &&
		    lrepl_islazy(L, lua_tostring(L, -3))) {
			lua_pop(L, 1);
			lua_getglobal(L, lua_tostring(L, -2));
		}
		lua_remove(L, -2);
		lua_remove(L, -2);
		if (lua_isnil(L, -1))
			return -1;
		s = e + 1;
	}
	return 0;
}

/* add the lazy modules starting with part to the set (as tables) */
static void lrepl_addlazy(lua_State *L, int set, const char *part)
{
	lrepl_modname names[LREPL_MAXMODS];
	int i, n = lrepl_lazymods(L, names);
	for (i = 0; i < n; i++) {
		if (strncmp(names[i], part, strlen(part)) != 0)
			continue;
		if (lua_getfield(L, set, names[i]) == LUA_TNIL) {
			lua_pushinteger(L, LUA_TTABLE);
			lua_setfield(L, set, names[i]);
		}
		lua_pop(L, 1);
	}
}

/* Protected: the completions of the word text ("pri", "sys.ti", "s:up")
** as an array, with field kind = the Lua type of the value when there is
** exactly one (LUA_TNONE for a keyword). */
static int lrepl_candidates(lua_State *L)
{
	const char *text = luaL_checkstring(L, 1), *last = NULL, *p, *part;
	int set, res, n = 0, kind = LUA_TNIL;
	for (p = strpbrk(text, ".:"); p != NULL; p = strpbrk(p + 1, ".:"))
		last = p;
	part = last != NULL ? last + 1 : text;
	lua_newtable(L);
	set = lua_gettop(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
	if (last == NULL) {
		int i;
		for (i = 0; lrepl_keywords[i] != NULL; i++) {
			if (strncmp(lrepl_keywords[i], part, strlen(part)) == 0) {
				lua_pushinteger(L, LUA_TNONE);
				lua_setfield(L, set, lrepl_keywords[i]);
			}
		}
		lrepl_addlazy(L, set, part);
	} else if (lrepl_walk(L, text, last) != 0) {
		lua_settop(L, set);
	}
	if (lua_gettop(L) > set)
		lrepl_allkeys(L, set, part, last != NULL && *last == ':');
	lua_settop(L, set);
	lua_newtable(L);
	res = lua_gettop(L);
	lua_pushnil(L);
	while (lua_next(L, set) != 0) {
		kind = (int)lua_tointeger(L, -1);
		lua_pop(L, 1);
		lua_pushlstring(L, text, (size_t)(part - text));
		lua_pushvalue(L, -2);
		lua_concat(L, 2);
		lua_rawseti(L, res, ++n);
	}
	if (n == 1) {
		lua_pushinteger(L, kind);
		lua_setfield(L, res, "kind");
	}
	return 1;
}

/* readline's generator over the array on top of lrepl_L's stack */
static char *lrepl_generator(const char *text, int state)
{
	static lua_Integer i;
	char *m = NULL;
	(void)text;
	if (state == 0)
		i = 0;
	if (lua_rawgeti(lrepl_L, -1, ++i) == LUA_TSTRING)
		m = strdup(lua_tostring(lrepl_L, -1));
	lua_pop(lrepl_L, 1);
	return m;
}

/* What follows a single completion: '(' after a function, '.' after a
** table, ' ' after a keyword; nothing otherwise. */
static int lrepl_appendchar(int kind)
{
	switch (kind) {
	case LUA_TFUNCTION: return '(';
	case LUA_TTABLE: return '.';
	case LUA_TNONE: return ' ';
	default: return '\0';
	}
}

#define LREPL_BREAKS " \t\n\"'><=;+-*/%^~#&|{}()[],"

/* Word boundaries for this completion: Lua's operators, but inside an
** open string literal only the quotes, so that a path stays one word. */
static char *lrepl_wordbreaks(void)
{
	char q = '\0';
	int i;
	for (i = 0; i < rl_point && rl_line_buffer[i] != '\0'; i++) {
		char c = rl_line_buffer[i];
		if (q != '\0' && c == '\\' && i + 1 < rl_point)
			i++;
		else if (q != '\0' && c == q)
			q = '\0';
		else if (q == '\0' && (c == '"' || c == '\''))
			q = c;
	}
	return q != '\0' ? "\"'" : LREPL_BREAKS;
}

/* Inside a string literal complete file names (h5.open("da<TAB>"),
** elsewhere Lua names. Never falls back to readline's own completion. */
static char **lrepl_complete(const char *text, int start, int end)
{
	lua_State *L = lrepl_L;
	char **m = NULL;
	int top;
	(void)start;
	(void)end;
	if (rl_completion_quote_character != '\0') {
		rl_completion_append_character = '\0';
		return rl_completion_matches(text,
					     rl_filename_completion_function);
	}
	rl_attempted_completion_over = 1;
	if (L == NULL || !lua_checkstack(L, 8))
		return NULL;
	top = lua_gettop(L);
	lua_pushcfunction(L, lrepl_candidates);
	lua_pushstring(L, text);
	if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) {
		lua_getfield(L, -1, "kind");
		rl_completion_append_character =
			lrepl_appendchar(lua_isinteger(L, -1) ?
					 (int)lua_tointeger(L, -1) : LUA_TNIL);
		lua_pop(L, 1);
		m = rl_completion_matches(text, lrepl_generator);
	}
	lua_settop(L, top);
	return m;
}

/* ---------------------------------------------------------------------
** Evaluating
** ------------------------------------------------------------------- */

/* a syntax error at the end of the chunk: more lines may complete it */
static int lrepl_incomplete(lua_State *L, int status)
{
	size_t n, k = sizeof LREPL_EOFMARK - 1;
	const char *msg;
	if (status != LUA_ERRSYNTAX)
		return 0;
	msg = lua_tolstring(L, -1, &n);
	return msg != NULL && n >= k && strcmp(msg + n - k, LREPL_EOFMARK) == 0;
}

/* try the line as an expression: on success its function is on the stack */
static int lrepl_addreturn(lua_State *L, const char *line)
{
	const char *ret = lua_pushfstring(L, "return %s;", line);
	int status = luaL_loadbuffer(L, ret, strlen(ret), "=stdin");
	lua_remove(L, -2);
	if (status != LUA_OK)
		lua_pop(L, 1);
	return status;
}

/* Read and compile one chunk: a function (LUA_OK) or an error message on
** the stack. Returns -1 at end of input (nothing pushed) and -2 when the
** user pressed Ctrl-C (nothing pushed). */
static int lrepl_loadchunk(lrepl *r)
{
	lua_State *L = r->L;
	char *line;
	int status;
	lrepl_got got = lrepl_read(r, 1, &line);
	if (got != LREPL_LINE)
		return got == LREPL_EOF ? -1 : -2;
	if (lrepl_addreturn(L, line) == LUA_OK) {
		lrepl_histadd(r, line);
		free(line);
		return LUA_OK;
	}
	lua_pushstring(L, line);
	free(line);
	for (;;) {
		size_t n;
		const char *chunk = lua_tolstring(L, -1, &n);
		status = luaL_loadbuffer(L, chunk, n, "=stdin");
		if (!lrepl_incomplete(L, status))
			break;
		got = lrepl_read(r, 0, &line);
		if (got == LREPL_INTR) {
			lua_pop(L, 2);
			return -2;
		}
		if (got == LREPL_EOF)
			break;	/* report the incomplete chunk */
		lua_pop(L, 1);	/* the message */
		lua_pushliteral(L, "\n");
		lua_pushstring(L, line);
		free(line);
		lua_concat(L, 3);
	}
	lrepl_histadd(r, lua_tostring(L, -2));
	lua_remove(L, -2);
	return status;
}

/* one value as text: a table through ionflow.pretty (its fields, nested
** to a depth, long runs of numbers summarised), the rest by tostring */
static const char *lrepl_text(lua_State *L, int i, size_t *len)
{
	if (lua_type(L, i) == LUA_TTABLE && !luaL_getmetafield(L, i, "__tostring")) {
		lua_getglobal(L, "require");
		lua_pushliteral(L, "ionflow.pretty");
		if (lua_pcall(L, 1, 1, 0) == LUA_OK &&
		    lua_getfield(L, -1, "format") == LUA_TFUNCTION) {
			lua_pushvalue(L, i);
			if (lua_pcall(L, 1, 1, 0) == LUA_OK &&
			    lua_type(L, -1) == LUA_TSTRING) {
				lua_replace(L, -2);
				return lua_tolstring(L, -1, len);
			}
		}
		lua_pop(L, 2);
	} else if (lua_type(L, i) == LUA_TTABLE)
		lua_pop(L, 1);	/* the __tostring found */
	return luaL_tolstring(L, i, len);
}

/* protected: print the arguments, tab separated */
static int lrepl_show(lua_State *L)
{
	int i, n = lua_gettop(L);
	for (i = 1; i <= n; i++) {
		size_t len;
		const char *s = lrepl_text(L, i, &len);
		if (i > 1)
			fputc('\t', stdout);
		fwrite(s, 1, len, stdout);
		lua_pop(L, 1);
	}
	fputc('\n', stdout);
	fflush(stdout);
	return 0;
}

/* print what the chunk returned (the values above base) */
static void lrepl_results(lua_State *L, int base)
{
	int n = lua_gettop(L) - base;
	if (n <= 0)
		return;
	if (!lua_checkstack(L, LUA_MINSTACK))
		return;
	lua_pushcfunction(L, lrepl_show);
	lua_insert(L, base + 1);
	lrun_report(L, lrun_docall(L, n, 0));
}

/* ---------------------------------------------------------------------
** The session
** ------------------------------------------------------------------- */

/* Readline's settings: no signal handlers of its own (see the top of the
** file), Lua's word boundaries, our completion. */
static void lrepl_rlinit(void)
{
	rl_readline_name = "ionflow";
	rl_catch_signals = 0;
	rl_catch_sigwinch = 0;
	rl_instream = stdin;
	rl_outstream = stdout;
	rl_attempted_completion_function = lrepl_complete;
	rl_completer_word_break_characters = LREPL_BREAKS;
	rl_completion_word_break_hook = lrepl_wordbreaks;
	rl_completer_quote_characters = "\"'";
}

static void lrepl_open(lrepl *r, lua_State *L)
{
	struct sigaction sa;
	memset(r, 0, sizeof *r);
	r->L = L;
	r->tty = isatty(STDIN_FILENO);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = lrepl_onsignal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &r->oldint);
	if (r->tty) {
		sigaction(SIGWINCH, &sa, &r->oldwinch);
		sigaction(SIGTSTP, &sa, &r->oldtstp);
		lrepl_L = L;
		lrepl_rlinit();
		lrepl_histopen(r);
	}
}

/* Leave the terminal on a fresh line at Ctrl-D. Readline already did it
** when it had bracketed paste on (it ends that mode with a newline). */
static void lrepl_endline(void)
{
	const char *bp = rl_variable_value("enable-bracketed-paste");
	if (!(rl_eof_found && bp != NULL && strcmp(bp, "on") == 0))
		fputc('\n', stdout);
	fflush(stdout);
}

static void lrepl_close(lrepl *r)
{
	if (r->tty) {
		lrepl_histclose(r);
		lrepl_L = NULL;
		sigaction(SIGWINCH, &r->oldwinch, NULL);
		sigaction(SIGTSTP, &r->oldtstp, NULL);
		lrepl_endline();
	}
	sigaction(SIGINT, &r->oldint, NULL);
}

void lrepl_run(lua_State *L)
{
	lrepl r;
	int base = lua_gettop(L), status;
	lrepl_open(&r, L);
	while ((status = lrepl_loadchunk(&r)) != -1) {
		if (status == -2)
			continue;	/* Ctrl-C: a fresh prompt */
		if (status == LUA_OK)
			status = lrun_docall(L, 0, LUA_MULTRET);
		if (status == LUA_OK)
			lrepl_results(L, base);
		else
			lrun_report(L, status);
		lua_settop(L, base);
		if (lrun_terminated())
			break;
	}
	lrepl_close(&r);
	lua_settop(L, base);
}
