/*
** test_h5filt.c - the built-in HDF5 filters: bitshuffle's transform
** against a bit-by-bit reference, and the filters registered at HDF5's
** first use (reading real files is tests/h5/test_filters.py's job).
*/
#include <stdlib.h>
#include <string.h>

#include <lzf.h>

#include "err.h"
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
	static const size_t counts[] = {8, 64, 136, 1024, 1032, 4104};
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

/* h5filt_decode and h5filt_decode_all (h5.c's threads): chunks into
** their places, a wrong size, a raw chunk and an unknown filter */
static void test_decode(void)
{
	enum { N = 4096, J = 6 };
	unsigned char *src = malloc(N), *z = malloc(N), *out = malloc(J * N);
	h5filt_job jobs[J];
	char err[ERR_LEN] = "";
	unsigned zn;
	size_t bad = 99, k;
	int rc;
	for (k = 0; k < N; k++)
		src[k] = (unsigned char)(k % 7 == 0 ? k / 7 : 3);
	zn = lzf_compress(src, N, z, N);
	ok(zn > 0 && zn < N &&
	   h5filt_decode(H5FILT_LZF, 0, NULL, z, zn, out, N, err) == 0 &&
	   memcmp(out, src, N) == 0, "lzf: a chunk decoded into its place");
	ok(h5filt_decode(H5FILT_LZF, 0, NULL, z, zn, out, N - 8, err) == -1 &&
	   strstr(err, "lzf chunk") != NULL, "lzf: a chunk of another size "
	   "is an error: %s", err);
	ok(h5filt_decode(32001, 0, NULL, z, zn, out, N, err) == -1 &&
	   !h5filt_known(32001) && h5filt_known(H5FILT_BSHUF),
	   "a filter not built in is refused: %s", err);
	for (k = 0; k < J; k++)
		jobs[k] = (h5filt_job){z, zn, out + k * N, N, 0};
	jobs[1] = (h5filt_job){src, N, out + N, N, 1};	/* stored raw */
	memset(out, 0, J * N);
	ok(h5filt_decode_all(H5FILT_LZF, 0, NULL, jobs, J, &bad, err) == 0 &&
	   bad == J && memcmp(out, src, N) == 0 &&
	   memcmp(out + N, src, N) == 0 &&
	   memcmp(out + (J - 1) * N, src, N) == 0,
	   "decode_all: %d chunks (one stored raw) in their places", J);
	jobs[4].nbytes = zn - 9;	/* cut short */
	jobs[2] = (h5filt_job){src, N - 1, out + 2 * N, N, 1};
	rc = h5filt_decode_all(H5FILT_LZF, 0, NULL, jobs, J, &bad, err);
	ok(rc == -1 && bad == 2 && strstr(err, "unfiltered") != NULL,
	   "decode_all: the first failing chunk and why: %zu, %s", bad, err);
	free(src);
	free(z);
	free(out);
}

int main(void)
{
	test_transform();
	test_decode();
	ok(h5_filter_avail(H5FILT_LZF) && h5_filter_avail(H5FILT_LZ4) &&
	   h5_filter_avail(H5FILT_BSHUF), "lzf, lz4 and bitshuffle registered"
	   " at HDF5's first use");
	ok(h5filt_package(32001) != NULL && h5filt_package(32015) == NULL,
	   "the Debian package of a filter, or none");
	return tap_done();
}
