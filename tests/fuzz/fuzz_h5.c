/*
** fuzz_h5.c - the HDF5 layer (src/h5.c) on a file made of the input:
** open it, list it recursively, and read every dataset (whole, and as a
** frame stream when it has rank >= 2) and every attribute.
*/
#include <stdio.h>

#include "fuzz.h"
#include "h5.h"

static void fuzz_h5_attrs(h5_file *f, const char *path)
{
	char err[ERR_LEN], **names;
	size_t n, i;
	if (h5_attr_names(f, path, &names, &n, err) != 0)
		return;
	for (i = 0; i < n; i++) {
		h5_value v;
		if (h5_attr_read(f, path, names[i], &v, err) == 0)
			h5_value_free(&v);
	}
	h5_names_free(names, n);
}

static void fuzz_h5_frames(h5_file *f, const char *path)
{
	char err[ERR_LEN];
	h5_frames *fr;
	size_t i, idx, alloc;
	arr frame;
	if (h5_frames_open(&fr, f, path, 0, H5_ALL, 1, 2, err) != 0)
		return;
	for (i = 0; i < 8 && h5_frames_next(fr, &frame, &idx, &alloc,
					    err) == 1; i++)
		arr_release(&frame);
	h5_frames_close(fr);
}

static void fuzz_h5_dataset(h5_file *f, const h5_entry *e)
{
	char err[ERR_LEN];
	size_t bytes = 8;
	h5_value v;
	int d;
	for (d = 0; d < e->info.ndim; d++) {
		if (e->info.shape[d] != 0 &&
		    bytes > ((size_t)1 << 40) / e->info.shape[d])
			return;
		bytes *= e->info.shape[d];
	}
	if (fuzz_too_big(bytes))
		return;
	if (h5_read_value(f, e->path, NULL, &v, err) == 0)
		h5_value_free(&v);
	if (e->info.ndim >= 2 && e->info.numeric)
		fuzz_h5_frames(f, e->path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size, "in.h5");
	char err[ERR_LEN];
	h5_entry *e;
	h5_file *f;
	size_t n, i;
	if (path == NULL || h5_open(&f, path, err) != 0)
		return 0;
	fuzz_h5_attrs(f, "/");
	if (h5_list(f, "/", 1, &e, &n, err) == 0) {
		for (i = 0; i < n; i++) {
			if (e[i].broken)
				continue;
			fuzz_h5_attrs(f, e[i].path);
			if (e[i].info.kind == H5_DATASET)
				fuzz_h5_dataset(f, &e[i]);
		}
		h5_list_free(e, n);
	}
	h5_close(f);
	return 0;
}
