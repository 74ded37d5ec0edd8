/*
** qmap.h - masks and q-ring x phi-sector partitions of a detector (core).
**
** A partition ("qmap") gives each pixel a bin number: 0 = excluded, bins
** 1..nbins, as in the APS 8-ID-I qmap layout. A partition built here is a
** full grid of nq rings x nphi sectors with bin = iq * nphi + iphi + 1
** (q-major, as pySimpleMask combines q and phi), so an empty grid cell is a
** bin with no pixels: its statistics are NaN, never 0. A partition read
** from a file keeps the file's numbering and knows no grid.
**
** Masks are uint8 arrays of the detector's shape: 1 = use, 0 = masked.
** Angles are degrees, q is 1/m, rows/cols 0-based; rectangles inclusive.
*/
#ifndef ionflow_qmap_h
#define ionflow_qmap_h

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct qmap {
	size_t rows, cols, npix;
	int32_t *map;		/* npix bin numbers, 0 = excluded */
	size_t nbins;
	size_t nq, nphi;	/* grid (0, 0 when read from a map) */
	double *q_edges;	/* nq + 1, or NULL */
	double *phi_edges;	/* nphi + 1, or NULL */
	int fold;		/* opposite sectors folded together */
	size_t *count;		/* nbins: pixels in each bin */
	double *q_mean;		/* nbins: mean q, NaN when empty or unknown */
	double *phi_mean;	/* nbins: mean phi (degrees), NaN likewise */
} qmap;

/* the q range of the finite q of the pixels in mask (NULL: all), only
** q > 0 with logscale; lo > hi (infinite) when there is none */
void qmap_qrange(const double *q, const uint8_t *mask, size_t n,
		 int logscale, double *lo, double *hi);

/* n + 1 bin edges from lo to hi, linear or logarithmic (lo > 0) */
int qmap_edges(double lo, double hi, size_t n, int logscale, double *edges,
	       char *err);

/* grid partition from per-pixel q and phi maps and a mask (NULL = all).
** q edges (nq + 1, increasing) and phi edges (nphi + 1, increasing, span
** <= 360 degrees; phi is wrapped into [e0, e0 + 360)). With fold, phi is
** folded into [e0, e0 + 180) first, so a sector and its opposite share a
** bin (cos chi and cos(chi + 180) give the same g2); the edges must then
** span <= 180 degrees. A value on the last edge belongs to the last bin;
** pixels outside the edges, masked, or with non-finite q are excluded. */
int qmap_build(qmap *m, size_t rows, size_t cols, const double *q,
	       const double *phi, const uint8_t *mask, const double *q_edges,
	       size_t nq, const double *phi_edges, size_t nphi, int fold,
	       char *err);

/* Bin numbers (and grid sizes) are bounded by the larger of the pixel
** count and QMAP_MINBOUND: per-bin state is allocated for every number up
** to the largest, and a map with one pixel numbered 2^31 - 1 must not
** take 14 GB and minutes before anything else happens. */
#define QMAP_MINBOUND 65536
size_t qmap_max_bins(size_t npix);

/* bin numbers given as doubles (any dtype read from a file) into dst: each
** must be an integer 0..INT32_MAX (a fractional bin is an error naming the
** pixel, not a rounded bin) */
int qmap_map_from_doubles(int32_t *dst, const double *src, size_t rows,
			  size_t cols, char *err);

/* a partition from an integer bin map (e.g. an APS qmap file); nbins = 0
** takes the largest bin number. Negative numbers and numbers (or nbins)
** beyond qmap_max_bins are errors naming the pixel. q/phi (may be NULL)
** give the bin means. */
int qmap_from_map(qmap *m, size_t rows, size_t cols, const int32_t *map,
		  size_t nbins, const double *q, const double *phi,
		  char *err);

/* exclude the pixels where mask == 0 and recompute the statistics */
int qmap_apply_mask(qmap *m, const uint8_t *mask, const double *q,
		    const double *phi, char *err);

/* count, mean q and mean phi of every bin (phi: circular mean, or the mean
** of folded values for a folded grid) */
void qmap_stats(qmap *m, const double *q, const double *phi);

/* mean of img over each bin into out[nbins] (NaN for empty bins) */
void qmap_bin_mean(const qmap *m, const double *img, double *out);

/* which dynamic bin holds each static bin: s2d[nstatic] (0 = none). A static
** bin whose pixels fall in two dynamic bins, or partly outside, is an error
** naming it; the shapes must agree. */
int qmap_nest(const qmap *stat, const qmap *dyn, int32_t *s2d, char *err);

void qmap_free(qmap *m);

/* mask rules: each sets mask = 0 where the rule says "bad" */
void qmap_mask_above(uint8_t *mask, const double *img, size_t npix,
		     double threshold);		/* img > thr or NaN */
void qmap_mask_dead(uint8_t *mask, const double *total, size_t npix);
/* set mask = value on rows r0..r1, cols c0..c1 (inclusive, clipped) */
void qmap_mask_rect(uint8_t *mask, size_t rows, size_t cols, long r0,
		    long r1, long c0, long c1, uint8_t value);
/* set mask = value on pixels whose centre lies inside the polygon of n
** vertices (xy = col0, row0, col1, row1, ...; even-odd rule) */
int qmap_mask_polygon(uint8_t *mask, size_t rows, size_t cols,
		      const double *xy, size_t n, uint8_t value, char *err);

#endif
