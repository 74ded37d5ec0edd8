/*
** fuzz_qmap.c - the partition core (src/qmap.c). The input is a small
** detector: rows and cols (1..16 each), nbins, then one signed byte per
** pixel as its bin number (qmap_from_map), a mask bit per pixel, and
** the q/phi maps and edges of a grid partition (qmap_build) taken from
** the same bytes, so that NaN, negative and huge numbers all occur.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "qmap.h"

typedef struct fuzz_in {
	const uint8_t *p;
	size_t n;
} fuzz_in;

static uint8_t fuzz_byte(fuzz_in *in)
{
	uint8_t b = 0;
	if (in->n > 0) {
		b = *in->p++;
		in->n--;
	}
	return b;
}

/* a double from 8 bytes (any bit pattern), or a tame one from 1 byte */
static double fuzz_double(fuzz_in *in)
{
	uint8_t k = fuzz_byte(in);
	double d;
	size_t i;
	if (k & 1)
		return (double)(int8_t)fuzz_byte(in) / 8.0;
	for (i = 0; i < sizeof d; i++)
		((uint8_t *)&d)[i] = fuzz_byte(in);
	return d;
}

static void fuzz_qmap_map(fuzz_in *in, size_t rows, size_t cols)
{
	char err[ERR_LEN];
	size_t npix = rows * cols, i, nbins = fuzz_byte(in) % 8;
	int32_t *map = malloc(npix * sizeof *map);
	uint8_t *mask = malloc(npix);
	double *q = malloc(npix * sizeof *q), *out;
	qmap m;
	if (map == NULL || mask == NULL || q == NULL)
		goto done;
	for (i = 0; i < npix; i++) {
		map[i] = (int8_t)fuzz_byte(in);
		mask[i] = fuzz_byte(in) & 1;
		q[i] = fuzz_double(in);
	}
	memset(&m, 0, sizeof m);
	if (qmap_from_map(&m, rows, cols, map, nbins, q, NULL, err) == 0) {
		qmap_apply_mask(&m, mask, q, NULL, err);
		out = malloc((m.nbins ? m.nbins : 1) * sizeof *out);
		if (out != NULL)
			qmap_bin_mean(&m, q, out);
		free(out);
		qmap_free(&m);
	}
done:
	free(map);
	free(mask);
	free(q);
}

static void fuzz_qmap_grid(fuzz_in *in, size_t rows, size_t cols)
{
	char err[ERR_LEN];
	size_t npix = rows * cols, i, nq = 1 + fuzz_byte(in) % 6;
	size_t nphi = 1 + fuzz_byte(in) % 6;
	double *q = malloc(npix * sizeof *q), *phi = malloc(npix * sizeof *phi);
	double qe[8], pe[8];
	int fold = fuzz_byte(in) & 1;
	qmap m;
	if (q == NULL || phi == NULL)
		goto done;
	for (i = 0; i < npix; i++) {
		q[i] = fuzz_double(in);
		phi[i] = fuzz_double(in);
	}
	for (i = 0; i <= nq; i++)
		qe[i] = fuzz_double(in);
	for (i = 0; i <= nphi; i++)
		pe[i] = fuzz_double(in);
	memset(&m, 0, sizeof m);
	if (qmap_build(&m, rows, cols, q, phi, NULL, qe, nq, pe, nphi, fold,
		       err) == 0) {
		qmap_stats(&m, q, phi);
		qmap_free(&m);
	}
	if (qmap_edges(qe[0], qe[1], nq, fold, qe, err) != 0) { /* fine */ }
done:
	free(q);
	free(phi);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_in in = {data, size};
	size_t rows = 1 + fuzz_byte(&in) % 16, cols = 1 + fuzz_byte(&in) % 16;
	if (fuzz_byte(&in) & 1)
		fuzz_qmap_grid(&in, rows, cols);
	else
		fuzz_qmap_map(&in, rows, cols);
	return 0;
}
