/*
** corrbg.c - a correlator's pushes in a background thread (see corrbg.h).
** The push itself is corr_push, OpenMP team and all: a thread of its own
** becomes the master of its own team.
*/
#include <string.h>

#include "corrbg.h"

static void *corrbg_run(void *arg)
{
	corrbg *b = arg;
	b->rc = corr_push(b->c, b->frames, b->dt, b->n, b->rows, b->cols,
			  b->err);
	return NULL;
}

int corrbg_wait(corrbg *b, char *err)
{
	if (!b->busy)
		return 0;
	pthread_join(b->thr, NULL);
	b->busy = 0;
	if (b->rc != 0) {
		b->rc = 0;
		return err_set(err, "%s", b->err);
	}
	return 0;
}

int corrbg_push(corrbg *b, corr *c, const void *frames, arr_dtype dt,
		size_t n, size_t rows, size_t cols, char *err)
{
	int e;
	if (corrbg_wait(b, err) != 0)
		return -1;
	b->c = c;
	b->frames = frames;
	b->dt = dt;
	b->n = n;
	b->rows = rows;
	b->cols = cols;
	b->rc = 0;
	b->err[0] = '\0';
	if ((e = pthread_create(&b->thr, NULL, corrbg_run, b)) != 0)
		return err_set(err, "corr: cannot start a thread (%s)",
			       strerror(e));
	b->busy = 1;
	return 0;
}
