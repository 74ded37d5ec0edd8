/*
** sys.h - small facts about the running process and machine: a monotonic
** clock for benchmarks, an interruptible sleep, thread count, memory use.
** Plain C, no Lua (the binding is lsys.c).
*/
#ifndef ionflow_sys_h
#define ionflow_sys_h

#include <stddef.h>

#include "err.h"

struct progress;

/* the one place the program's version is written down */
#define IONFLOW_VERSION "0.1.0"

/* seconds on a monotonic clock (arbitrary origin), nanosecond resolution */
double sys_time(void);

/* sleep s seconds (finite, >= 0); returns -1 with "interrupted" as soon as
** intr_pending() is seen (checked at least every 20 ms); p (may be NULL)
** shows the elapsed time as progress */
int sys_sleep(double s, struct progress *p, char err[ERR_LEN]);

/* the number of threads an OpenMP parallel region would use */
int sys_nproc(void);

/* 1 when fd is a terminal, 0 otherwise (also for a bad fd) */
int sys_isatty(int fd);

/* resident set size now and its peak, in bytes */
int sys_rss(size_t *now, size_t *peak, char err[ERR_LEN]);

#endif
