/*
** tap.h - a minimal TAP producer for ionflow's C unit tests.
**
** Each test file is one program: tap_done() at the end (it prints the plan),
** ok()/is_num()/is_int() per assertion. Output goes to stdout for prove.
** Header-only on purpose: every test binary gets its own counters.
*/
#ifndef ionflow_tap_h
#define ionflow_tap_h

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_n = 0, tap_failed = 0;


static int tap_vok(int cond, const char *fmt, va_list ap)
{
	tap_n++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

static int ok(int cond, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), unused));
static int ok(int cond, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = tap_vok(cond, fmt, ap);
	va_end(ap);
	return r;
}

static void diag(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), unused));
static void diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("# ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
}

/* |got - want| <= tol (absolute), with a diagnostic on failure; NaN never
** passes unless both are NaN */
static int is_num(double got, double want, double tol, const char *fmt, ...)
	__attribute__((format(printf, 4, 5), unused));
static int is_num(double got, double want, double tol, const char *fmt, ...)
{
	va_list ap;
	int cond = (isnan(got) && isnan(want)) || fabs(got - want) <= tol;
	va_start(ap, fmt);
	tap_vok(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag("got %.17g, want %.17g (tol %g)", got, want, tol);
	return cond;
}

static int is_int(long got, long want, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), unused));
static int is_int(long got, long want, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tap_vok(got == want, fmt, ap);
	va_end(ap);
	if (got != want)
		diag("got %ld, want %ld", got, want);
	return got == want;
}

/* end of the test program: the plan, and a non-zero exit on failure */
static int tap_done(void) __attribute__((unused));
static int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
