/*
** corrbg.h - a correlator's pushes in a background thread.
**
** Reading frames (HDF5, the kernel's page-cache copy) and correlating them
** take comparable time on a few cores; with the push running in its own
** thread the caller reads the next block while the last one is
** correlated. One push is in flight at a time. The caller must keep the
** frames of a push unchanged, and call nothing on the correlator, until
** corrbg_wait (or the next corrbg_push, which waits first) has returned.
*/
#ifndef ionflow_corrbg_h
#define ionflow_corrbg_h

#include <pthread.h>

#include "corr.h"

typedef struct corrbg {
	corr *c;
	pthread_t thr;
	int busy;		/* a push is in flight */
	const void *frames;
	arr_dtype dt;
	size_t n, rows, cols;
	int rc;			/* its result */
	char err[ERR_LEN];
} corrbg;

/* wait for the push in flight, then start this one on c; -1 with the
** earlier push's error (nothing new is started) or when no thread can be
** made */
int corrbg_push(corrbg *b, corr *c, const void *frames, arr_dtype dt,
		size_t n, size_t rows, size_t cols, char *err);
/* wait for the push in flight (none: at once); 0, or -1 with its error */
int corrbg_wait(corrbg *b, char *err);

#endif
