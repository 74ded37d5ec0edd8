/*
** sys.c - process and machine facts for scripts and benchmarks (sys.h).
*/
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "intr.h"
#include "progress.h"
#include "sys.h"

double sys_time(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Sleep in slices so that Ctrl-C is seen within a slice even when the
** signal arrived just before nanosleep started (then it is not EINTR). */
int sys_sleep(double s, progress *p, char err[ERR_LEN])
{
	const double slice = 0.02;
	double t0 = sys_time(), left;
	if (!isfinite(s) || s < 0)
		return err_set(err, "duration must be a finite number >= 0, "
			       "got %g", s);
	progress_begin(p, "sleep", s);
	while ((left = s - (sys_time() - t0)) > 0) {
		double d = left < slice ? left : slice;
		struct timespec ts;
		if (intr_pending()) {
			progress_end(p);
			return err_set(err, "interrupted");
		}
		ts.tv_sec = (time_t)d;
		ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
		if (progress_update(p, sys_time() - t0) != 0) {
			progress_end(p);
			return err_set(err, "stopped by the progress callback");
		}
	}
	if (progress_end(p) != 0)
		return err_set(err, "stopped by the progress callback");
	return intr_pending() ? err_set(err, "interrupted") : 0;
}

int sys_nproc(void)
{
#ifdef _OPENMP
	return omp_get_max_threads();
#else
	return 1;
#endif
}

int sys_isatty(int fd)
{
	return fd >= 0 && isatty(fd) == 1;
}

/* the peak RSS of this program's image in bytes (VmHWM), 0 when unknown.
** getrusage's ru_maxrss is not it: Linux keeps the largest across exec,
** so a child started by a large process reports its parent's. */
static size_t sys_hwm(void)
{
	char line[128];
	unsigned long kb = 0;
	FILE *f = fopen("/proc/self/status", "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %lu kB", &kb) == 1)
			break;
	fclose(f);
	return (size_t)kb * 1024;
}

/* Current RSS from /proc/self/statm (pages), the peak from VmHWM (or
** getrusage where there is none), which also counts memory already
** returned to the system. */
int sys_rss(size_t *now, size_t *peak, char err[ERR_LEN])
{
	unsigned long size = 0, res = 0;
	struct rusage ru;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/statm", "r");
	if (f == NULL)
		return err_set(err, "/proc/self/statm: %s", strerror(errno));
	if (fscanf(f, "%lu %lu", &size, &res) != 2) {
		fclose(f);
		return err_set(err, "/proc/self/statm: unexpected contents");
	}
	fclose(f);
	*now = (size_t)res * (size_t)(page > 0 ? page : 4096);
	if ((*peak = sys_hwm()) == 0) {
		if (getrusage(RUSAGE_SELF, &ru) != 0)
			return err_set(err, "getrusage: %s", strerror(errno));
		*peak = (size_t)ru.ru_maxrss * 1024;
	}
	if (*peak < *now)
		*peak = *now;
	return 0;
}
