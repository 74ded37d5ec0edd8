/*
** os.c - directories and child processes without a shell (os.h).
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "intr.h"
#include "os.h"

extern char **environ;

/* ------------------------------------------------------------ directories */

static int os_mkdir_one(const char *dir, const char *path, char *err)
{
	struct stat st;
	if (mkdir(dir, 0777) == 0)
		return 0;
	if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	if (errno == EEXIST)
		return err_set(err, "cannot create directory '%s': '%s' exists "
			       "and is not a directory", path, dir);
	return err_set(err, "cannot create directory '%s': %s (at '%s')", path,
		       strerror(errno), dir);
}

int os_mkdir_p(const char *path, char err[ERR_LEN])
{
	size_t n = path ? strlen(path) : 0;
	char *p;
	int rc = 0;
	if (n == 0)
		return err_set(err, "empty directory name");
	if (!(p = err_malloc(n + 1, 1, err)))
		return -1;
	memcpy(p, path, n + 1);
	/* each prefix that ends before a slash, then the whole path */
	for (size_t i = 1; i <= n && rc == 0; i++) {
		if (i < n && p[i] != '/')
			continue;
		if (p[i - 1] == '/')	/* "a//b" or a trailing slash */
			continue;
		p[i] = '\0';
		rc = os_mkdir_one(p, path, err);
		if (i < n)
			p[i] = '/';
	}
	free(p);
	return rc;
}

/* the entries of the directory open as dfd, then the directory itself
** (by name in its parent pdfd); links are never followed */
static int os_rm_at(int pdfd, const char *name, const char *top, char *err)
{
	int fd;
	DIR *d;
	struct dirent *e;
	if (unlinkat(pdfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return err_set(err, "cannot remove '%s' in '%s': %s", name, top,
			       strerror(errno));
	fd = openat(pdfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return err_set(err, "cannot open '%s' in '%s': %s", name, top,
			       strerror(errno));
	}
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (os_rm_at(dirfd(d), e->d_name, top, err)) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	if (unlinkat(pdfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
		return err_set(err, "cannot remove directory '%s' in '%s': %s",
			       name, top, strerror(errno));
	return 0;
}

int os_rmtree(const char *path, char err[ERR_LEN])
{
	if (!path || !*path)
		return err_set(err, "empty path");
	return os_rm_at(AT_FDCWD, path, path, err);
}

static int os_namecmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void os_listdir_free(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

char **os_listdir(const char *path, size_t *n, char err[ERR_LEN])
{
	DIR *d = opendir(path);
	struct dirent *e;
	char **names = NULL, **grown;
	size_t cap = 0;
	*n = 0;
	if (d == NULL) {
		err_set(err, "%s: %s", path, strerror(errno));
		return NULL;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			if ((grown = realloc(names, cap * sizeof *names)) == NULL)
				goto nomem;
			names = grown;
		}
		if ((names[*n] = strdup(e->d_name)) == NULL)
			goto nomem;
		(*n)++;
	}
	closedir(d);
	if (names == NULL && (names = malloc(sizeof *names)) == NULL)
		goto nomem_closed;
	qsort(names, *n, sizeof *names, os_namecmp);
	return names;
nomem:
	closedir(d);
nomem_closed:
	os_listdir_free(names, *n);
	*n = 0;
	err_set(err, "%s: out of memory", path);
	return NULL;
}

/* ------------------------------------------------------ inputs and outputs */

typedef struct os_fileid {
	dev_t dev;
	ino_t ino;
	int own;	/* written by this process after it was read */
	struct timespec ctime;	/* of an own file when written: a later
				   file with the inode of a removed one is
				   not ours */
} os_fileid;

static os_fileid *os_files;
static size_t os_nfiles, os_capfiles;

static os_fileid *os_find(const struct stat *st)
{
	for (size_t i = 0; i < os_nfiles; i++)
		if (os_files[i].dev == st->st_dev && os_files[i].ino == st->st_ino)
			return &os_files[i];
	return NULL;
}

static void os_note(const char *path, int own)
{
	struct stat st;
	os_fileid *f;
	if (!path || stat(path, &st) != 0)
		return;
	if ((f = os_find(&st)) != NULL) {
		f->own = own;
		f->ctime = st.st_ctim;
		return;
	}
	if (os_nfiles == os_capfiles) {
		size_t nc = os_capfiles ? 2 * os_capfiles : 16;
		os_fileid *nf = realloc(os_files, nc * sizeof *nf);
		if (!nf)
			return;
		os_files = nf;
		os_capfiles = nc;
	}
	os_files[os_nfiles++] = (os_fileid){st.st_dev, st.st_ino, own,
					    st.st_ctim};
}

/* an own record still describes the file we wrote */
static int os_own(const os_fileid *f, const struct stat *st)
{
	return f->own && f->ctime.tv_sec == st->st_ctim.tv_sec &&
	       f->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

void os_input_add(const char *path)
{
	struct stat st;
	os_fileid *f;
	/* reading back a file of our own keeps it ours */
	if (path && stat(path, &st) == 0 && (f = os_find(&st)) && os_own(f, &st))
		return;
	os_note(path, 0);
}

void os_output_add(const char *path) { os_note(path, 1); }

int os_is_input(const char *path)
{
	struct stat st;
	os_fileid *f;
	if (!path || stat(path, &st) != 0)
		return 0;
	f = os_find(&st);
	return f != NULL && !f->own;	/* a stale own record was not read */
}

/* ------------------------------------------------------------- processes */

static int os_status(int ws)
{
	if (WIFEXITED(ws))
		return WEXITSTATUS(ws);
	return WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : 255;
}

/* appends what fd has to the buffer (up to maxout kept); 0 at EOF */
static int os_drain(int fd, char **buf, size_t *len, size_t *cap,
		    size_t maxout)
{
	char tmp[65536];
	ssize_t k = read(fd, tmp, sizeof tmp);
	if (k <= 0)
		return k < 0 && (errno == EINTR || errno == EAGAIN) ? 1 : 0;
	if (*len < maxout) {
		size_t take = (size_t)k < maxout - *len ? (size_t)k :
			      maxout - *len;
		if (*len + take + 1 > *cap) {
			size_t nc = (*len + take + 1) * 2;
			char *nb = realloc(*buf, nc);
			if (!nb)
				return 0;
			*buf = nb;
			*cap = nc;
		}
		memcpy(*buf + *len, tmp, take);
		*len += take;
	}
	return 1;
}

/* the child's streams, its signals back at their defaults */
static int os_spawn_setup(posix_spawn_file_actions_t *fa,
			  posix_spawnattr_t *at, int in_r, int out_w)
{
	int keep = out_w < 0;	/* our own stdout and stderr */
	sigset_t none, dfl;
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGTERM);
	return posix_spawn_file_actions_init(fa) ||
	       posix_spawn_file_actions_adddup2(fa, in_r, 0) ||
	       (!keep && posix_spawn_file_actions_adddup2(fa, out_w, 1)) ||
	       (!keep && posix_spawn_file_actions_adddup2(fa, out_w, 2)) ||
	       posix_spawnattr_init(at) ||
	       posix_spawnattr_setsigmask(at, &none) ||
	       posix_spawnattr_setsigdefault(at, &dfl) ||
	       posix_spawnattr_setflags(at, POSIX_SPAWN_SETSIGMASK |
					    POSIX_SPAWN_SETSIGDEF);
}

/* feeds the input and collects the output until both are done; a pending
** interrupt ends the child */
static int os_pump(pid_t pid, int in_w, int out_r, const char *in,
		   size_t inlen, char **buf, size_t *len, size_t maxout,
		   char *err)
{
	size_t cap = 0, done = 0;
	int open_out = out_r >= 0;
	if (in_w >= 0 && inlen == 0) {
		close(in_w);
		in_w = -1;
	}
	while (open_out || in_w >= 0) {
		struct pollfd pf[2] = {{open_out ? out_r : -1, POLLIN, 0},
					{in_w, POLLOUT, 0}};
		if (intr_pending()) {
			kill(pid, SIGTERM);
			if (in_w >= 0)
				close(in_w);
			return err_set(err, "interrupted");
		}
		if (poll(pf, 2, 100) < 0 && errno != EINTR)
			break;
		if (open_out && (pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
			open_out = os_drain(out_r, buf, len, &cap, maxout);
		if (in_w >= 0 && (pf[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t k = write(in_w, in + done, inlen - done);
			if (k > 0)
				done += (size_t)k;
			if ((k < 0 && errno != EINTR && errno != EAGAIN) ||
			    done == inlen) {	/* all fed, or it stopped reading */
				close(in_w);
				in_w = -1;
			}
		}
	}
	return 0;
}

/* 1 when name would be found and run by execvp */
static int os_runnable(const char *name)
{
	const char *path = getenv("PATH");
	char buf[4096];
	if (strchr(name, '/'))
		return access(name, X_OK) == 0;
	path = path ? path : "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		if (n > 0 && n + strlen(name) + 2 <= sizeof buf) {
			memcpy(buf, path, n);
			buf[n] = '/';
			strcpy(buf + n + 1, name);
			if (access(buf, X_OK) == 0)
				return 1;
		}
		path += n + (path[n] == ':');
	}
	return 0;
}

int os_run(char *const argv[], const char *in, size_t inlen, char **out,
	   size_t maxout, int *status, char err[ERR_LEN])
{
	int pin[2] = {-1, -1}, pout[2] = {-1, -1}, rc = -1, ws = 0;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t pipe_set, old;
	size_t len = 0;
	char *dummy = NULL;
	pid_t pid;
	int keep = out == NULL;
	out = keep ? &dummy : out;
	*out = NULL;
	*status = -1;
	if (!argv || !argv[0] || !*argv[0])
		return err_set(err, "no program to run");
	/* (posix_spawnp reports a failed exec, but not under every
	** emulation of vfork, valgrind's among them) */
	if (!os_runnable(argv[0]))
		return err_set(err, "cannot start %s: not found or not "
			       "executable", argv[0]);
	if (pipe2(pin, O_CLOEXEC) || (!keep && pipe2(pout, O_CLOEXEC))) {
		err_set(err, "cannot run %s: %s", argv[0], strerror(errno));
		goto out;
	}
	if (os_spawn_setup(&fa, &at, pin[0], pout[1])) {
		err_set(err, "cannot run %s: spawn set-up failed", argv[0]);
		goto out;
	}
	rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		rc = err_set(err, "cannot start %s: %s", argv[0], strerror(rc));
		goto out;
	}
	close(pin[0]);
	if (pout[1] >= 0)
		close(pout[1]);
	pin[0] = pout[1] = -1;
	/* a child that stops reading must not kill us with SIGPIPE: block it
	** while we write and discard what was raised */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	fcntl(pin[1], F_SETFL, O_NONBLOCK);
	rc = os_pump(pid, pin[1], pout[0], in, in ? inlen : 0, out, &len,
		     maxout, err);
	pin[1] = -1;	/* closed by os_pump */
	{
		struct timespec zero = {0, 0};
		while (sigtimedwait(&pipe_set, NULL, &zero) > 0)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	*status = os_status(ws);
	if (!keep && !*out && (*out = malloc(1)) == NULL)
		rc = err_set(err, "out of memory");
	if (*out)
		(*out)[len] = '\0';
out:
	for (int i = 0; i < 2; i++) {
		if (pin[i] >= 0)
			close(pin[i]);
		if (pout[i] >= 0)
			close(pout[i]);
	}
	if (rc != 0 || keep) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

int os_spawn(char *const argv[], const char *remove_after,
	     char err[ERR_LEN])
{
	pid_t a;
	int ws;
	if (!argv || !argv[0] || !*argv[0])
		return err_set(err, "no program to run");
	if (!os_runnable(argv[0]))
		return err_set(err, "cannot start %s: not found or not "
			       "executable", argv[0]);
	/* a child that leaves at once, so that nothing is left to reap; its
	** child waits for the program and removes the file */
	if ((a = fork()) < 0)
		return err_set(err, "cannot start %s: %s", argv[0],
			       strerror(errno));
	if (a == 0) {
		sigset_t none;
		pid_t b;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGINT, SIG_IGN);	/* the REPL's Ctrl-C is not its */
		setsid();
		if (fork() != 0)
			_exit(0);
		if ((b = fork()) == 0) {
			int fd = open("/dev/null", O_RDWR);
			if (fd >= 0) {
				dup2(fd, 0);
				dup2(fd, 1);
				dup2(fd, 2);
			}
			signal(SIGINT, SIG_DFL);
			execvp(argv[0], argv);
			_exit(127);
		}
		if (b > 0)
			while (waitpid(b, &ws, 0) < 0 && errno == EINTR)
				;
		if (remove_after)
			unlink(remove_after);
		_exit(0);
	}
	while (waitpid(a, &ws, 0) < 0 && errno == EINTR)
		;
	return 0;
}
