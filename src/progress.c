/*
** progress.c - the progress bar of long primitives (see progress.h).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

/* the run that owns the screen line: a primitive calling another one keeps
** the outer bar and the inner run stays quiet */
static const progress *progress_owner = NULL;
/* the stream a bar is on screen on, for progress_reset */
static FILE *progress_screen = NULL;

static double progress_monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double progress_now(const progress *p)
{
	return p->clock != NULL ? p->clock() : progress_monotonic();
}

void progress_init(progress *p)
{
	if (p != NULL)
		memset(p, 0, sizeof *p);
}

void progress_set_output(progress *p, FILE *out)
{
	if (p == NULL)
		return;
	p->mode = out != NULL ? PROGRESS_FORCED : PROGRESS_OFF;
	p->out = out;
}

void progress_set_callback(progress *p, progress_fn fn, void *ud)
{
	if (p == NULL)
		return;
	p->fn = fn;
	p->ud = ud;
}

/* Where a run draws. Automatic mode asks the environment first, so that a
** user can silence bars in a terminal or get them in a log. */
static FILE *progress_target(const progress *p)
{
	const char *env;
	if (p->mode == PROGRESS_FORCED)
		return p->out;
	if (p->mode == PROGRESS_OFF)
		return NULL;
	env = getenv("IONFLOW_PROGRESS");
	if (env != NULL && strcmp(env, "0") == 0)
		return NULL;
	if (env != NULL && strcmp(env, "1") == 0)
		return stderr;
	return isatty(STDERR_FILENO) ? stderr : NULL;
}

void progress_begin(progress *p, const char *label, double total)
{
	if (p == NULL)
		return;
	snprintf(p->label, sizeof p->label, "%s", label ? label : "");
	p->total = (total > 0 && isfinite(total)) ? total : 0;
	p->done = 0;
	p->t0 = p->tlast = progress_now(p);
	p->drawn = p->stopped = 0;
	p->running = 1;
	p->draw = NULL;
	if (progress_owner == NULL) {
		p->draw = progress_target(p);
		if (p->draw != NULL)
			progress_owner = p;
	}
}

/* 1234567 -> "1.23M": rates span many decades, three digits are enough */
static void progress_si(double x, char *buf, size_t n)
{
	static const char units[] = " kMGTP";
	int u = 0;
	while (fabs(x) >= 999.5 && u < 5) {
		x /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, n, "%.3g", x);
	else
		snprintf(buf, n, "%.3g%c", x, units[u]);
}

/* seconds -> "m:ss" or "h:mm:ss"; "--:--" when unknown */
static void progress_hms(double s, char *buf, size_t n)
{
	int t;
	if (!isfinite(s) || s < 0 || s > 359999) {
		snprintf(buf, n, "--:--");
		return;
	}
	t = (int)lround(s);
	if (t >= 3600)
		snprintf(buf, n, "%d:%02d:%02d", t / 3600 % 100, t / 60 % 60,
			 t % 60);
	else
		snprintf(buf, n, "%d:%02d", t / 60 % 60, t % 60);
}

static int progress_columns(const progress *p)
{
	struct winsize ws;
	const char *env;
	if (p->width > 0)
		return p->width;
	if (p->draw != NULL && ioctl(fileno(p->draw), TIOCGWINSZ, &ws) == 0 &&
	    ws.ws_col > 0)
		return ws.ws_col - 1;	/* the last column would wrap */
	env = getenv("COLUMNS");
	if (env != NULL && atoi(env) > 20)
		return atoi(env) - 1;
	return 79;
}

/* the bar of `width` cells for fraction f, written at buf */
static void progress_fill(char *buf, int width, double f)
{
	int i, full = (int)(f * width);
	buf[0] = '[';
	for (i = 0; i < width; i++)
		buf[1 + i] = i < full ? '#' : (i == full ? '>' : '.');
	buf[width + 1] = ']';
	buf[width + 2] = '\0';
}

/* The line: "label [#####>....] 45% 1.2k/s ETA 0:12", or without a known
** total "label 1.2M 3.4k/s 0:05 elapsed". The bar takes what the terminal
** width leaves over and disappears on a narrow one. */
void progress_format(const progress *p, double now, char *buf, size_t n)
{
	char rate[32], done[32], tail[96], bar[256];
	double el = now - p->t0, r = el > 0 ? p->done / el : 0;
	int cols = progress_columns(p), room;
	progress_si(r, rate, sizeof rate);
	if (p->total <= 0) {
		char t[32];
		progress_si(p->done, done, sizeof done);
		progress_hms(el, t, sizeof t);
		snprintf(buf, n, "%s %s %s/s %s elapsed", p->label, done, rate, t);
		return;
	}
	{
		double f = p->done / p->total;
		char eta[32];
		f = f < 0 ? 0 : (f > 1 ? 1 : f);
		progress_hms(r > 0 ? (p->total - p->done) / r : NAN, eta,
			     sizeof eta);
		snprintf(tail, sizeof tail, "%3.0f%% %s/s ETA %s", 100 * f,
			 rate, eta);
		room = cols - (int)strlen(p->label) - (int)strlen(tail) - 4;
		if (room > (int)sizeof bar - 3)
			room = (int)sizeof bar - 3;
		if (room >= 10) {
			progress_fill(bar, room, f);
			snprintf(buf, n, "%s %s %s", p->label, bar, tail);
		} else {
			snprintf(buf, n, "%s %s", p->label, tail);
		}
	}
}

/* one redraw: carriage return, the line, erase the rest of the old one */
static void progress_draw(progress *p, double now)
{
	char line[512];
	progress_format(p, now, line, sizeof line);
	fprintf(p->draw, "\r%s\033[K", line);
	fflush(p->draw);
	p->drawn = 1;
	progress_screen = p->draw;
}

static int progress_call(progress *p)
{
	if (p->fn != NULL && !p->stopped && p->fn(p->ud, p->label, p->done,
						  p->total) != 0)
		p->stopped = 1;
	return p->stopped ? -1 : 0;
}

int progress_update(progress *p, double done)
{
	double now;
	if (p == NULL || !p->running)
		return 0;
	p->done = done;
	if (p->stopped)
		return -1;
	if (p->draw == NULL && p->fn == NULL)
		return 0;
	now = progress_now(p);
	if (now - p->tlast < PROGRESS_INTERVAL)
		return 0;
	p->tlast = now;
	if (p->draw != NULL && now - p->t0 >= PROGRESS_DELAY)
		progress_draw(p, now);
	return progress_call(p);
}

int progress_end(progress *p)
{
	if (p == NULL || !p->running)
		return 0;
	if (p->drawn && progress_screen == p->draw) {
		fputs("\r\033[K", p->draw);
		fflush(p->draw);
		progress_screen = NULL;
	}
	if (progress_owner == p)
		progress_owner = NULL;
	p->running = p->drawn = 0;
	p->draw = NULL;
	return progress_call(p);
}

void progress_reset(void)
{
	if (progress_screen != NULL) {
		fputs("\r\033[K", progress_screen);
		fflush(progress_screen);
	}
	progress_screen = NULL;
	progress_owner = NULL;
}
