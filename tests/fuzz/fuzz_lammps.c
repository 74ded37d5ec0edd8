/*
** fuzz_lammps.c - the LAMMPS dump reader (src/traj.c): open a dump made
** of the input and read every frame, as wrapped and as unwrapped input.
*/
#include "fuzz_traj_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size, "in.dump");
	if (path == NULL)
		return 0;
	fuzz_traj_read(path, 0);
	fuzz_traj_read(path, 1);
	return 0;
}
