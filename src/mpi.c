/*
** mpi.c - rank, size and the collectives ionflow needs, over MPI when
** built with IONFLOW_MPI, else a rank-0-of-1 stub (see mpicore.h).
*/
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef IONFLOW_MPI
#include <mpi.h>
#endif

#include "intr.h"
#include "mpicore.h"

/* 0: not yet asked, 1: MPI running, 2: no MPI, 3: MPI finished */
static int mpicore_started;
static int mpicore_r, mpicore_n = 1;

int mpicore_built(void)
{
#ifdef IONFLOW_MPI
	return 1;
#else
	return 0;
#endif
}

#ifdef IONFLOW_MPI
/* the variable a rank sets to its pid, so that programs it runs (which
** inherit the launcher's environment) know they are not ranks */
#define MPICORE_PARENT "IONFLOW_MPI_RANK_PID"

static int mpicore_launched(void)
{
	const char *p = getenv(MPICORE_PARENT);
	if (p && atol(p) != (long)getpid())
		return 0;
	return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") ||
	       getenv("PMI_RANK") || getenv("PMI_SIZE");
}

static void mpicore_finish(void)
{
	int fin = 0;
	if (mpicore_started == 1 && MPI_Finalized(&fin) == MPI_SUCCESS && !fin)
		MPI_Finalize();
}

static int mpicore_check(int rc, const char *what, char err[ERR_LEN])
{
	char msg[MPI_MAX_ERROR_STRING];
	int len = 0;
	if (rc == MPI_SUCCESS)
		return 0;
	if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
		snprintf(msg, sizeof msg, "error %d", rc);
	return err_set(err, "mpi.%s: rank %d: %s", what, mpicore_r, msg);
}

/* A collective started (rc) and waited for here, not in a blocking call:
** a rank whose peer died waits for ever inside MPI, where a SIGTERM (the
** launcher ending the job) cannot stop it cleanly; polling, it returns
** "interrupted" at once, and its error unwinds (temporary files removed)
** before the job ends. */
static int mpicore_wait(int rc, MPI_Request *rq, const char *what,
			char err[ERR_LEN])
{
	int done = 0;
	if (mpicore_check(rc, what, err))
		return -1;
	for (;;) {
		if (mpicore_check(MPI_Test(rq, &done, MPI_STATUS_IGNORE),
				  what, err))
			return -1;
		if (done)
			return 0;
		if (intr_pending())
			return err_set(err, "mpi.%s: rank %d: interrupted while "
				       "waiting for the other ranks",
				       what, mpicore_r);
		sched_yield();
	}
}
#endif

int mpicore_init(char err[ERR_LEN])
{
	(void)err;
	if (mpicore_started)
		return 0;
	mpicore_started = 2;
#ifdef IONFLOW_MPI
	if (mpicore_launched()) {
		int provided;
		char pid[32];
		if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided)
		    != MPI_SUCCESS)
			return err_set(err, "mpi: MPI_Init failed");
		mpicore_started = 1;
		/* errors come back as codes, so that the message names the call */
		MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
		MPI_Comm_rank(MPI_COMM_WORLD, &mpicore_r);
		MPI_Comm_size(MPI_COMM_WORLD, &mpicore_n);
		snprintf(pid, sizeof pid, "%ld", (long)getpid());
		setenv(MPICORE_PARENT, pid, 1);
		atexit(mpicore_finish);
	}
#endif
	return 0;
}

int mpicore_rank(void) { return mpicore_r; }
int mpicore_size(void) { return mpicore_n; }
int mpicore_active(void) { return mpicore_started == 1 && mpicore_n > 1; }

int mpicore_barrier(char err[ERR_LEN])
{
	(void)err;
#ifdef IONFLOW_MPI
	MPI_Request rq;
	if (mpicore_started == 1)
		return mpicore_wait(MPI_Ibarrier(MPI_COMM_WORLD, &rq), &rq,
				    "barrier", err);
#endif
	return 0;
}

int mpicore_allreduce(double *x, size_t n, mpicore_op op, char err[ERR_LEN])
{
	(void)x; (void)n; (void)op; (void)err;
#ifdef IONFLOW_MPI
	if (mpicore_started == 1) {
		MPI_Op o = op == MPICORE_SUM ? MPI_SUM
			 : op == MPICORE_MAX ? MPI_MAX : MPI_MIN;
		/* in chunks: MPI counts are ints */
		for (size_t at = 0; at < n; at += INT_MAX / 2) {
			size_t k = n - at < INT_MAX / 2 ? n - at : INT_MAX / 2;
			MPI_Request rq;
			if (mpicore_wait(MPI_Iallreduce(MPI_IN_PLACE, x + at,
					(int)k, MPI_DOUBLE, o, MPI_COMM_WORLD,
					&rq), &rq, "allreduce", err))
				return -1;
		}
	}
#endif
	return 0;
}

int mpicore_agree(int ok, int *bad, char err[ERR_LEN])
{
	int first = ok ? mpicore_n : mpicore_r;
	(void)err;
#ifdef IONFLOW_MPI
	MPI_Request rq;
	if (mpicore_started == 1 &&
	    mpicore_wait(MPI_Iallreduce(MPI_IN_PLACE, &first, 1, MPI_INT,
			 MPI_MIN, MPI_COMM_WORLD, &rq), &rq, "agree", err))
		return -1;
#endif
	*bad = first < mpicore_n ? first : -1;
	return first == mpicore_n;
}

int mpicore_bcast(void *buf, size_t n, char err[ERR_LEN])
{
	(void)buf; (void)n; (void)err;
#ifdef IONFLOW_MPI
	if (mpicore_started == 1) {
		for (size_t at = 0; at < n; at += INT_MAX / 2) {
			size_t k = n - at < INT_MAX / 2 ? n - at : INT_MAX / 2;
			MPI_Request rq;
			if (mpicore_wait(MPI_Ibcast((char *)buf + at, (int)k,
					MPI_BYTE, 0, MPI_COMM_WORLD, &rq), &rq,
					"bcast", err))
				return -1;
		}
	}
#endif
	return 0;
}

int mpicore_finalize(char err[ERR_LEN])
{
	(void)err;
#ifdef IONFLOW_MPI
	if (mpicore_started == 1) {
		mpicore_finish();
		mpicore_started = 3;
	}
#endif
	return 0;
}

void mpicore_abort(int code)
{
#ifdef IONFLOW_MPI
	if (mpicore_active()) {
		fflush(stdout);
		fflush(stderr);
		MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
	}
#endif
	(void)code;
}
