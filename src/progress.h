/*
** progress.h - a progress bar on stderr for long primitives.
**
** A core that runs for seconds (a correlation, a long model run) takes a
** `progress *` (NULL = none) and reports through it:
**
**     progress_begin(p, "multitau", n_frames);
**     for (f = 0; f < n_frames; f++) {
**         ... work ...
**         if (progress_update(p, f + 1) != 0)
**             return err_set(err, "stopped by the progress callback");
**     }
**     progress_end(p);
**
** The bar is drawn only when stderr is a terminal (or the output was forced
** with progress_set_output, for tests), at most every 0.1 s and not during
** the first 0.3 s (short calls never flash a bar). It shows the label, the
** fraction, the rate and the remaining time, and is erased by progress_end.
** $IONFLOW_PROGRESS=0 turns bars off, =1 forces them on stderr.
**
** A binding may also set a callback (a Lua function, through lbind.h); it is
** throttled like the bar, and a non-zero return stops the primitive.
**
** All calls must come from one thread: the one that called progress_begin
** (in OpenMP code, outside the parallel region or from `omp master`). A
** zeroed struct is a valid, default-configured progress.
*/
#ifndef ionflow_progress_h
#define ionflow_progress_h

#include <stdio.h>

#define PROGRESS_LABEL_LEN 48

/* return 0 to go on, non-zero to ask the primitive to stop */
typedef int (*progress_fn)(void *ud, const char *label, double done,
			   double total);

typedef enum progress_mode {
	PROGRESS_AUTO = 0,	/* stderr when it is a terminal (and env) */
	PROGRESS_FORCED,	/* always into out */
	PROGRESS_OFF		/* never draw (a callback still runs) */
} progress_mode;

typedef struct progress {
	/* configuration, kept across begin/end */
	progress_mode mode;
	FILE *out;		/* PROGRESS_FORCED: where to draw */
	int width;		/* columns; 0 = terminal width or 80 */
	progress_fn fn;		/* optional callback */
	void *ud;
	double (*clock)(void);	/* seconds; NULL = monotonic clock */
	/* state of the current run */
	char label[PROGRESS_LABEL_LEN];
	double total, done;
	double t0, tlast;	/* begin, last draw or callback */
	FILE *draw;		/* where this run draws, NULL = nowhere */
	int drawn;		/* a bar is on screen */
	int running;
	int stopped;		/* the callback asked to stop */
} progress;

/* minimum seconds between two draws or callbacks, and before the first */
#define PROGRESS_INTERVAL 0.1
#define PROGRESS_DELAY 0.3

/* zero the struct: automatic output, no callback */
void progress_init(progress *p);
/* draw into out whatever it is (NULL: never draw) */
void progress_set_output(progress *p, FILE *out);
/* call fn(ud, label, done, total) while running, throttled, and once at end */
void progress_set_callback(progress *p, progress_fn fn, void *ud);

/* start a run of total units (total <= 0: unknown, no fraction or ETA) */
void progress_begin(progress *p, const char *label, double total);
/* done units so far; returns -1 once the callback has asked to stop */
int progress_update(progress *p, double done);
/* erase the bar; the callback sees the final count. Returns as update. */
int progress_end(progress *p);

/* After a top-level call returned (normally or by an error): erase a bar
** a primitive left on screen without progress_end and free the screen
** line for the next run. The interpreter calls it; cores need not. */
void progress_reset(void);

/* format the bar line (no newline) into buf, for p at time now; exposed
** for tests */
void progress_format(const progress *p, double now, char *buf, size_t n);

#endif
