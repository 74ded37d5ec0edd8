/*
** test_progress.c - the progress bar: forced output into a memory stream,
** a fake clock for the throttling, the line format, callbacks.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "progress.h"
#include "tap.h"

static double fake_now = 0;
static double fake_clock(void) { return fake_now; }

/* how many times s occurs in text */
static int count(const char *text, const char *s)
{
	int n = 0;
	const char *p = text;
	while ((p = strstr(p, s)) != NULL) {
		n++;
		p += strlen(s);
	}
	return n;
}

typedef struct calls { int n; double last_done, last_total; int stop_at; }
	calls;

static int on_progress(void *ud, const char *label, double done,
		       double total)
{
	calls *c = ud;
	(void)label;
	c->n++;
	c->last_done = done;
	c->last_total = total;
	return c->stop_at > 0 && c->n >= c->stop_at;
}

/* a progress drawing into a fresh memory stream on the fake clock */
static FILE *forced(progress *p, char **buf, size_t *len)
{
	FILE *f = open_memstream(buf, len);
	progress_init(p);
	progress_set_output(p, f);
	p->clock = fake_clock;
	p->width = 60;
	fake_now = 100;
	return f;
}

static void test_null(void)
{
	progress_begin(NULL, "x", 10);
	ok(progress_update(NULL, 5) == 0, "update(NULL) is a no-op");
	ok(progress_end(NULL) == 0, "end(NULL) is a no-op");
}

static void test_throttle(void)
{
	progress p;
	char *buf = NULL;
	size_t len = 0;
	int i;
	FILE *f = forced(&p, &buf, &len);
	progress_begin(&p, "corr", 10000);
	fake_now += 0.05;
	progress_update(&p, 50);
	fflush(f);
	is_int((long)len, 0, "nothing drawn in the first 0.3 s");
	for (i = 1; i <= 10000; i++) {	/* 10 s in steps of 1 ms */
		fake_now = 100 + i * 1e-3;
		progress_update(&p, i);
	}
	fflush(f);
	i = count(buf, "\r");
	ok(i >= 90 && i <= 100, "about 10 draws per second over 9.7 s (%d)", i);
	ok(strstr(buf, "corr [") != NULL, "the line starts with the label");
	ok(strstr(strrchr(buf, '\r'), "% 1k/s ETA 0:00") != NULL,
	   "last draw: rate 1000/s, no time left (%s)", strrchr(buf, '\r') + 1);
	progress_end(&p);
	fclose(f);
	ok(len >= 4 && strcmp(buf + len - 4, "\r\033[K") == 0,
	   "end erases the line");
	free(buf);
}

static void test_short_run(void)
{
	progress p;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = forced(&p, &buf, &len);
	progress_begin(&p, "quick", 3);
	fake_now += 0.11;
	progress_update(&p, 1);
	fake_now += 0.11;
	progress_update(&p, 2);
	progress_end(&p);
	fclose(f);
	is_int((long)len, 0, "a run shorter than the delay leaves no trace");
	free(buf);
}

static void test_format(void)
{
	progress p;
	char line[512], *bar;
	progress_init(&p);
	p.clock = fake_clock;
	p.width = 60;
	fake_now = 0;
	progress_begin(&p, "model", 100);
	p.done = 50;
	progress_format(&p, 10, line, sizeof line);
	ok(strstr(line, " 50% 5/s ETA 0:10") != NULL, "50%% at 5/s: 10 s left");
	ok(strlen(line) <= 60, "the line fits the width (%zu)", strlen(line));
	bar = strchr(line, '[');
	ok(bar != NULL && count(bar, "#") == (int)(strchr(bar, ']') - bar - 1) / 2,
	   "half the bar is full");
	p.done = 1.5e6;
	p.total = 3e9;
	progress_format(&p, 1, line, sizeof line);
	ok(strstr(line, "1.5M/s ETA 0:33:19") != NULL ||
	   strstr(line, "1.5M/s ETA 33:19") != NULL, "SI rate, long ETA: %s", line);
	p.total = 3e10;
	progress_format(&p, 1, line, sizeof line);
	ok(strstr(line, "ETA 5:33:19") != NULL, "hours in the ETA: %s", line);
	p.width = 30;
	p.total = 100;
	p.done = 10;
	progress_format(&p, 1, line, sizeof line);
	ok(strchr(line, '[') == NULL, "no bar on a narrow terminal: %s", line);
	progress_begin(&p, "frames", 0);
	p.done = 2500;
	progress_format(&p, 5, line, sizeof line);
	ok(strcmp(line, "frames 2.5k 500/s 0:05 elapsed") == 0,
	   "unknown total: count, rate, elapsed (%s)", line);
	p.done = 0;
	p.total = 10;
	progress_format(&p, 5, line, sizeof line);
	ok(strstr(line, "ETA --:--") != NULL, "no rate yet: unknown ETA");
	progress_end(&p);
}

static void test_callback(void)
{
	progress p;
	calls c = {0, 0, 0, 0};
	int i, rc = 0;
	progress_init(&p);
	progress_set_output(&p, NULL);
	progress_set_callback(&p, on_progress, &c);
	p.clock = fake_clock;
	fake_now = 0;
	progress_begin(&p, "cb", 1000);
	for (i = 1; i <= 1000; i++) {
		fake_now = i * 1e-3;
		progress_update(&p, i);
	}
	progress_end(&p);
	ok(c.n >= 10 && c.n <= 11, "callback throttled to 10/s (%d calls in 1 s)",
	   c.n);
	ok(c.last_done == 1000 && c.last_total == 1000,
	   "the last call sees the final count");

	memset(&c, 0, sizeof c);
	c.stop_at = 3;
	progress_begin(&p, "cb", 1000);
	for (i = 1; i <= 1000 && rc == 0; i++) {
		fake_now = 10 + i * 1e-3;
		rc = progress_update(&p, i);
	}
	ok(rc == -1 && c.n == 3, "a non-zero return stops the run (%d calls)",
	   c.n);
	ok(progress_update(&p, i) == -1, "and keeps it stopped");
	ok(progress_end(&p) == -1 && c.n == 3, "end reports the stop");
	progress_begin(&p, "again", 10);
	ok(progress_update(&p, 1) == 0, "a new run starts afresh");
	progress_end(&p);
}

static void test_nested(void)
{
	progress outer, inner;
	char *buf = NULL, *buf2 = NULL;
	size_t len = 0, len2 = 0;
	FILE *f = forced(&outer, &buf, &len), *g = forced(&inner, &buf2, &len2);
	progress_begin(&outer, "outer", 10);
	progress_begin(&inner, "inner", 10);
	fake_now += 1;
	progress_update(&inner, 5);
	progress_update(&outer, 5);
	progress_end(&inner);
	progress_end(&outer);
	fclose(f);
	fclose(g);
	ok(len2 == 0 && strstr(buf, "outer") != NULL,
	   "an inner run stays quiet while the outer one draws");
	free(buf);
	free(buf2);
}

static void test_reset(void)
{
	progress p, q;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = forced(&p, &buf, &len);
	progress_begin(&p, "left", 10);
	fake_now += 1;
	progress_update(&p, 5);		/* drawn, never ended */
	progress_reset();
	fflush(f);
	ok(len >= 4 && strcmp(buf + len - 4, "\r\033[K") == 0,
	   "reset erases a bar left on screen");
	progress_init(&q);
	progress_set_output(&q, f);
	progress_begin(&q, "next", 10);
	ok(q.draw == f, "and the next run may draw");
	progress_end(&q);
	progress_end(&p);
	fclose(f);
	free(buf);
}

static void test_env(void)
{
	progress p;
	progress_init(&p);
	setenv("IONFLOW_PROGRESS", "0", 1);
	progress_begin(&p, "env", 10);
	ok(p.draw == NULL, "IONFLOW_PROGRESS=0: no bar");
	progress_end(&p);
	setenv("IONFLOW_PROGRESS", "1", 1);
	progress_begin(&p, "env", 10);
	ok(p.draw == stderr, "IONFLOW_PROGRESS=1: bar on stderr");
	progress_end(&p);
	unsetenv("IONFLOW_PROGRESS");
}

int main(void)
{
	test_null();
	test_throttle();
	test_short_run();
	test_format();
	test_callback();
	test_nested();
	test_reset();
	test_env();
	return tap_done();
}
