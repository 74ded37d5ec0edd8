/*
** fuzz_traj_common.h - one trajectory read to the end (traj.c), shared
** by the LAMMPS and H5MD harnesses, which differ only in their seeds.
*/
#ifndef ionflow_fuzz_traj_common_h
#define ionflow_fuzz_traj_common_h

#include "fuzz.h"
#include "traj.h"

static void fuzz_traj_read(const char *path, int unwrapped)
{
	char err[ERR_LEN];
	traj_opts o = {0};
	traj_frame fr;
	traj *t;
	size_t k;
	o.unwrapped = unwrapped;
	if (traj_open(&t, path, &o, err) != 0)
		return;
	for (k = 0; k < 1000 && traj_next(t, &fr, err) == 1; k++)
		;
	traj_close(t);
}

#endif
