/*
** test_h5filt.c - the built-in HDF5 filters: bitshuffle's transform
** against a bit-by-bit reference, and the filters registered at HDF5's
** first use (reading real files is tests/h5/test_filters.py's job).
*/
#include <stdlib.h>
#include <string.h>

#include "h5.h"
#include "h5filt.h"
#include "tap.h"

/* the definition, one bit at a time: bit i of byte b of element e is
** bit e mod 8 of byte e/8 of row 8b+i (rows of n/8 bytes) */
static void naive(const unsigned char *in, unsigned char *out, size_t n,
		  size_t es)
{
	size_t e, b, i;
	memset(out, 0, n * es);
	for (e = 0; e < n; e++)
		for (b = 0; b < es; b++)
			for (i = 0; i < 8; i++)
				if (in[e * es + b] >> i & 1)
					out[(8 * b + i) * (n / 8) + e / 8] |=
						(unsigned char)(1u << (e % 8));
}

static void test_transform(void)
{
	static const size_t sizes[] = {1, 2, 3, 4, 8};
	static const size_t counts[] = {8, 64, 136};
	size_t s, c, k;
	srand(5);
	for (s = 0; s < sizeof sizes / sizeof *sizes; s++)
		for (c = 0; c < sizeof counts / sizeof *counts; c++) {
			size_t es = sizes[s], n = counts[c], nb = n * es;
			unsigned char *in = malloc(nb), *want = malloc(nb),
				      *got = malloc(nb), *back = malloc(nb);
			for (k = 0; k < nb; k++)
				in[k] = (unsigned char)rand();
			naive(in, want, n, es);
			h5filt_bitshuffle(in, got, n, es);
			h5filt_bitunshuffle(got, back, n, es);
			ok(memcmp(got, want, nb) == 0 &&
			   memcmp(back, in, nb) == 0,
			   "bitshuffle of %zu elements of %zu bytes: as defined,"
			   " and undone", n, es);
			free(in);
			free(want);
			free(got);
			free(back);
		}
}

int main(void)
{
	test_transform();
	ok(h5_filter_avail(H5FILT_LZF) && h5_filter_avail(H5FILT_LZ4) &&
	   h5_filter_avail(H5FILT_BSHUF), "lzf, lz4 and bitshuffle registered"
	   " at HDF5's first use");
	ok(h5filt_package(32001) != NULL && h5filt_package(32015) == NULL,
	   "the Debian package of a filter, or none");
	return tap_done();
}
