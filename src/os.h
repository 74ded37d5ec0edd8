/*
** os.h - what ionflow asks of the operating system without a shell:
** making and removing directories, running a program with an argument
** vector. No path or user string is ever handed to /bin/sh: a name with
** quotes, `$(...)` or spaces is just a name here. Plain C, no Lua (the
** binding is lsys.c, as sys.mkdir, sys.rmtree, sys.run and sys.spawn).
*/
#ifndef ionflow_os_h
#define ionflow_os_h

#include <stddef.h>

#include "err.h"

/* mkdir -p: every missing directory of path is made (mode 0777 less the
** umask); an existing directory is fine, an existing non-directory is an
** error naming it */
int os_mkdir_p(const char *path, char err[ERR_LEN]);

/* rm -r of path without following symbolic links (a link is removed, not
** its target); a missing path is fine */
int os_rmtree(const char *path, char err[ERR_LEN]);

/* The names in directory path (not "." and ".."), sorted bytewise, as a
** malloc'd array of *n malloc'd strings (free with os_listdir_free);
** NULL with err set when it cannot be read. */
char **os_listdir(const char *path, size_t *n, char err[ERR_LEN]);
void os_listdir_free(char **names, size_t n);

/* Runs argv[0] (looked up in PATH when it has no slash) with argv, feeds
** it `in` (inlen bytes, may be NULL) on its standard input and collects its
** standard output and error together into *out (malloc'd, NUL-terminated,
** at most maxout bytes kept; the rest is read and dropped), or, when out
** is NULL, lets it write to this process's standard output and error. *status is the
** exit code, or 128 + the signal that ended it. Returns -1 only when the
** program cannot be started (err says why). */
int os_run(char *const argv[], const char *in, size_t inlen, char **out,
	   size_t maxout, int *status, char err[ERR_LEN]);

/* Starts argv in the background, detached (its own session, standard
** streams on /dev/null) and returns at once; when it ends, the file
** remove_after (may be NULL) is removed. -1 when it cannot be started. */
int os_spawn(char *const argv[], const char *remove_after,
	     char err[ERR_LEN]);

/* The files this process has read, so that no result replaces one: every
** reader notes its file (by device and inode, so that another name of the
** same file is caught), every writer asks before it replaces a file. A
** file this process wrote itself (os_output_add after it is in place) may
** be replaced again even when it was read back. Failing to note a file
** (out of memory) only weakens the guard, so os_input_add returns nothing. */
void os_input_add(const char *path);
void os_output_add(const char *path);
/* 1 when path exists and is a file this process read and did not write */
int os_is_input(const char *path);

#endif
