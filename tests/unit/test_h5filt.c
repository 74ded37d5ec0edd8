/*
** test_h5filt.c - the built-in HDF5 filters: bitshuffle's transform
** against a bit-by-bit reference, and the filters registered at HDF5's
** first use (reading real files is tests/h5/test_filters.py's job).
*/
#include <stdlib.h>
#include <string.h>

#include <lzf.h>
#include <zlib.h>

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
	h5filt_pipe lzf = {.id = H5FILT_LZF}, other = {.id = 32001};
	char err[ERR_LEN] = "";
	unsigned zn;
	size_t bad = 99, k;
	int rc;
	for (k = 0; k < N; k++)
		src[k] = (unsigned char)(k % 7 == 0 ? k / 7 : 3);
	zn = lzf_compress(src, N, z, N);
	ok(zn > 0 && zn < N &&
	   h5filt_decode(&lzf, 0, z, zn, out, N, err) == 0 &&
	   memcmp(out, src, N) == 0, "lzf: a chunk decoded into its place");
	ok(h5filt_decode(&lzf, 0, z, zn, out, N - 8, err) == -1 &&
	   strstr(err, "lzf chunk") != NULL, "lzf: a chunk of another size "
	   "is an error: %s", err);
	ok(h5filt_decode(&other, 0, z, zn, out, N, err) == -1 &&
	   !h5filt_known(32001) && h5filt_known(H5FILT_BSHUF),
	   "a filter not built in is refused: %s", err);
	for (k = 0; k < J; k++)
		jobs[k] = (h5filt_job){z, zn, out + k * N, N, 0};
	jobs[1] = (h5filt_job){src, N, out + N, N, 1};	/* stored raw */
	memset(out, 0, J * N);
	ok(h5filt_decode_all(&lzf, jobs, J, &bad, err) == 0 &&
	   bad == J && memcmp(out, src, N) == 0 &&
	   memcmp(out + N, src, N) == 0 &&
	   memcmp(out + (J - 1) * N, src, N) == 0,
	   "decode_all: %d chunks (one stored raw) in their places", J);
	jobs[4].nbytes = zn - 9;	/* cut short */
	jobs[2] = (h5filt_job){src, N - 1, out + 2 * N, N, 1};
	rc = h5filt_decode_all(&lzf, jobs, J, &bad, err);
	ok(rc == -1 && bad == 2 && strstr(err, "unfiltered") != NULL,
	   "decode_all: the first failing chunk and why: %zu, %s", bad, err);
	free(src);
	free(z);
	free(out);
}

/* HDF5's byte shuffle as HDF5 defines it: byte b of element i at
** b * (n / es) + i, the bytes of a partial element last, as they were */
static void test_unshuffle(void)
{
	static const size_t sizes[] = {1, 2, 3, 4, 8};
	static const size_t lens[] = {0, 1, 7, 64, 1001, 4096};
	for (size_t s = 0; s < 5; s++)
		for (size_t l = 0; l < 6; l++) {
			size_t es = sizes[s], n = lens[l], ne = n / es, i, b;
			unsigned char *in = malloc(n + 1), *sh = malloc(n + 1),
				      *back = malloc(n + 1);
			for (i = 0; i < n; i++)
				in[i] = (unsigned char)rand();
			for (i = 0; i < ne; i++)
				for (b = 0; b < es; b++)
					sh[b * ne + i] = in[i * es + b];
			memcpy(sh + ne * es, in + ne * es, n - ne * es);
			h5filt_unshuffle(sh, back, n, es);
			ok(memcmp(back, in, n) == 0, "unshuffle: %zu bytes of "
			   "%zu-byte elements", n, es);
			free(in);
			free(sh);
			free(back);
		}
}

/* a zlib stream of n bytes of src, by zlib itself (the reference) */
static size_t deflated(const unsigned char *src, size_t n,
		       unsigned char *z, size_t cap)
{
	uLongf zn = cap;
	return compress2(z, &zn, src, n, 6) == Z_OK ? zn : 0;
}

/* HDF5's deflate, and shuffle before it: decoded to the exact chunk
** size, with every other size an error (HDF5 1.10 takes a stream that
** ends short and reads past its buffer) */
static void test_deflate(void)
{
	enum { N = 6000 };	/* 3000 uint16 */
	unsigned char *src = malloc(N), *sh = malloc(N), *z = malloc(2 * N),
		      *out = malloc(N + 64), *dmg = malloc(2 * N);
	h5filt_pipe gz = {.id = H5FILT_DEFLATE, .ncd = 1, .cd = {6}}, sgz = gz;
	h5filt_job jobs[3];
	char err[ERR_LEN] = "";
	size_t zn, hn, bad = 9, i;
	int rc;
	sgz.shuffle = 2;
	for (i = 0; i < N / 2; i++) {
		unsigned v = (unsigned)(i * i % 1021);
		src[2 * i] = (unsigned char)v;
		src[2 * i + 1] = (unsigned char)(v >> 8);
		sh[i] = (unsigned char)v;
		sh[N / 2 + i] = (unsigned char)(v >> 8);
	}
	zn = deflated(src, N, z, 2 * N);
	ok(h5filt_known(H5FILT_DEFLATE) && zn > 0 &&
	   h5filt_decode(&gz, 0, z, zn, out, N, err) == 0 &&
	   memcmp(out, src, N) == 0, "deflate: a chunk decoded (%zu -> %d "
	   "bytes)", zn, N);
	ok(h5filt_decode(&gz, 0, z, zn, out, N + 64, err) == -1 &&
	   strstr(err, "decoded size is not") != NULL,
	   "deflate: a stream that ends short of the chunk: %s", err);
	ok(h5filt_decode(&gz, 0, z, zn, out, N - 2, err) == -1 &&
	   strstr(err, "more than the chunk") != NULL,
	   "deflate: a stream longer than the chunk: %s", err);
	ok(h5filt_decode(&gz, 0, z, zn / 2, out, N, err) == -1 &&
	   strstr(err, "deflate chunk") != NULL,
	   "deflate: a stream cut in half: %s", err);
	memcpy(dmg, z, zn);
	for (i = 0; i < 8; i++)
		dmg[zn / 3 + i] ^= 0x5a;
	ok(h5filt_decode(&gz, 0, dmg, zn, out, N, err) == -1,
	   "deflate: a damaged stream: %s", err);
	hn = deflated(sh, N, z + zn, 2 * N - zn);
	ok(hn > 0 && h5filt_decode(&sgz, 0, z + zn, hn, out, N, err) == 0 &&
	   memcmp(out, src, N) == 0, "shuffle, then deflate: undone");
	/* mask bit 1: deflate skipped for this chunk, bit 0: shuffle */
	ok(h5filt_decode(&sgz, 2, sh, N, out, N, err) == 0 &&
	   memcmp(out, src, N) == 0 &&
	   h5filt_decode(&sgz, 1, z, zn, out, N, err) == 0 &&
	   memcmp(out, src, N) == 0 &&
	   h5filt_decode(&sgz, 3, src, N, out, N, err) == 0 &&
	   memcmp(out, src, N) == 0, "skipped filters by the chunk's mask");
	/* HDF5's checksum after them: verified (as HDF5 stores it, and with
	** its halves swapped as before 1.6.3), then dropped; a wrong one, or
	** a chunk shorter than a checksum, is an error; mask bit 2 skips it */
	{
		h5filt_pipe f = sgz;
		uint32_t v = h5filt_fletcher32(z + zn, hn), w = v << 16 | v >> 16;
		unsigned char *c = z + zn + hn;
		f.fletcher = 1;
		for (i = 0; i < 4; i++)
			c[i] = (unsigned char)(v >> 8 * i);
		rc = h5filt_decode(&f, 0, z + zn, hn + 4, out, N, err);
		ok(rc == 0 && memcmp(out, src, N) == 0, "shuffle, deflate, "
		   "fletcher32: verified and undone");
		for (i = 0; i < 4; i++)
			c[i] = (unsigned char)(w >> 8 * i);
		ok(h5filt_decode(&f, 0, z + zn, hn + 4, out, N, err) == 0,
		   "fletcher32 with its halves swapped (HDF5 < 1.6.3)");
		c[1] ^= 1;
		ok(h5filt_decode(&f, 0, z + zn, hn + 4, out, N, err) == -1 &&
		   strstr(err, "checksum does not match") != NULL,
		   "fletcher32: a wrong checksum: %s", err);
		ok(h5filt_decode(&f, 0, c, 3, out, N, err) == -1 &&
		   strstr(err, "shorter") != NULL, "fletcher32: 3 bytes: %s",
		   err);
		ok(h5filt_decode(&f, 4, z + zn, hn, out, N, err) == 0 &&
		   memcmp(out, src, N) == 0, "fletcher32 skipped by the mask");
	}
	{	/* by the definition: big-endian 16-bit words, a last odd
		** byte as a high half; b sums the running a */
		static const unsigned char q[] = {1, 2, 3, 4};
		ok(h5filt_fletcher32(q, 4) == 0x05080406u &&
		   h5filt_fletcher32(q, 3) == 0x05040402u &&
		   h5filt_fletcher32(q, 0) == 0, "fletcher32 of 4, 3 and 0 "
		   "bytes");
	}
	jobs[0] = (h5filt_job){z + zn, hn, out, N, 0};
	jobs[1] = (h5filt_job){sh, N, out, N, 2};
	jobs[2] = (h5filt_job){z + zn, hn - 3, out, N, 0};
	ok(h5filt_decode_all(&sgz, jobs, 3, &bad, err) == -1 && bad == 2,
	   "decode_all: a shuffled chunk cut short is named: %s", err);
	free(src);
	free(sh);
	free(z);
	free(out);
	free(dmg);
}

int main(void)
{
	test_transform();
	test_decode();
	test_unshuffle();
	test_deflate();
	ok(h5_filter_avail(H5FILT_LZF) && h5_filter_avail(H5FILT_LZ4) &&
	   h5_filter_avail(H5FILT_BSHUF), "lzf, lz4 and bitshuffle registered"
	   " at HDF5's first use");
	ok(h5filt_package(32001) != NULL && h5filt_package(32015) == NULL,
	   "the Debian package of a filter, or none");
	return tap_done();
}
