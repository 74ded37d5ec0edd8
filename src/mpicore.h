/*
** mpicore.h - the few MPI calls ionflow makes (core of src/mpi.c; the
** header is not named mpi.h, which would hide MPI's own).
**
** Built with IONFLOW_MPI (make MPI=1, mpicc) it talks to MPI_COMM_WORLD;
** without it, or when the process was not started by a launcher (mpirun,
** srun), or when it is a child of a rank (a program a rank ran with
** os_run: it inherits the launcher's environment but is no rank), it is
** rank 0 of 1 and every collective is a no-op, so that scripts run
** unchanged. MPI is started lazily, at the first call, and finished at
** exit. Plain C, no Lua (the binding is lmpi.c, the `mpi` module).
*/
#ifndef ionflow_mpicore_h
#define ionflow_mpicore_h

#include <stddef.h>

#include "err.h"

typedef enum { MPICORE_SUM, MPICORE_MAX, MPICORE_MIN } mpicore_op;

/* starts MPI if this process is a launched rank (idempotent) */
int mpicore_init(char err[ERR_LEN]);
int mpicore_rank(void);
int mpicore_size(void);
/* 1 when built with MPI */
int mpicore_built(void);
/* 1 when a collective can block on other ranks (size > 1) */
int mpicore_active(void);
int mpicore_barrier(char err[ERR_LEN]);
/* x[0..n) combined over all ranks with op, in place on every rank */
int mpicore_allreduce(double *x, size_t n, mpicore_op op, char err[ERR_LEN]);
/* collective: 1 when every rank passes ok != 0, else 0 with *bad the
** lowest rank that did not (what every rank checks before a result is
** committed: a rank that failed or was interrupted stops the write) */
int mpicore_agree(int ok, int *bad, char err[ERR_LEN]);
/* n bytes of rank 0's buf to every rank (n must be the same everywhere) */
int mpicore_bcast(void *buf, size_t n, char err[ERR_LEN]);
/* MPI_Finalize now, on every rank together (collective): afterwards each
** rank is alone again (rank kept, collectives no-ops, exits its own) */
int mpicore_finalize(char err[ERR_LEN]);
/* ends every rank of the job with code after this one failed (flushes
** stdio first); returns only when there is no job to end */
void mpicore_abort(int code);

#endif
