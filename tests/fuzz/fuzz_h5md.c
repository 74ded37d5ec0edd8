/*
** fuzz_h5md.c - the H5MD reader (src/traj.c over src/h5.c): open an
** HDF5 file made of the input as a trajectory and read every frame.
*/
#include "fuzz_traj_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size, "in.h5");
	if (path == NULL)
		return 0;
	fuzz_traj_read(path, 0);
	return 0;
}
