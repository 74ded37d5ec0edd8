/*
** test_qmap.c - detector geometry (exact 2 theta) and q/phi partitions
** against closed forms and independent lattice counts.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geom.h"
#include "qmap.h"
#include "tap.h"

/* lambda = 1 Angstrom exactly with this energy */
#define E_1A (GEOM_HC_KEV_M / 1e-10)

static void test_geometry(void)
{
	geom g = {E_1A, 1.0, 1e-3, 1e-3, 10, 20, 41, 31};
	geom_px p;
	char err[ERR_LEN] = "";
	double t30 = tan(M_PI / 6) / 1e-3;
	ok(geom_check(&g, err) == 0, "valid geometry");
	is_num(geom_wavelength(&g), 1e-10, 1e-25, "lambda = 1 A");
	/* a point at 2 theta = 30 degrees exactly, along +x */
	geom_pixel(&g, 20, 10 + t30, &p);
	is_num(p.tth, M_PI / 6, 1e-15, "2 theta = 30 deg");
	is_num(p.q / (4 * M_PI * sin(M_PI / 12) / 1e-10), 1, 1e-14,
	       "q = 4 pi sin(15 deg) / lambda (exact, not small-angle)");
	is_num(p.phi_deg, 0, 1e-12, "phi = 0 along +x");
	is_num(sqrt(p.qx * p.qx + p.qy * p.qy + p.qz * p.qz) / p.q, 1, 1e-14,
	       "|(qx, qy, qz)| = q");
	is_num(hypot(p.qx, p.qy) / (p.q * cos(M_PI / 12)), 1, 1e-14,
	       "in-plane |q| = q cos theta");
	geom_pixel(&g, 20 - 5, 10, &p);
	is_num(p.phi_deg, 90, 1e-12, "a row above the centre: phi = 90");
	ok(p.ux == 0 && p.uy == 1, "in-plane direction up (0, 1)");
	geom_pixel(&g, 20, 10 - 5, &p);
	is_num(p.phi_deg, 180, 1e-12, "left of the centre: phi = 180");
	geom_pixel(&g, 20 + 5, 10, &p);
	is_num(p.phi_deg, -90, 1e-12, "below: phi = -90");
	geom_pixel(&g, 20 - 3, 10 + 3, &p);
	is_num(p.phi_deg, 45, 1e-12, "up-right diagonal: phi = 45");
	geom_pixel(&g, 20, 10, &p);
	ok(p.q == 0 && p.ux == 0 && p.uy == 0, "beam centre: q = 0, no "
	   "direction");
	/* tiny angle: q = k r / D to first order, no cancellation */
	g.center_x = 0;
	geom_pixel(&g, 20, 1e-6, &p);
	g.center_x = 10;
	is_num(p.q / (2 * M_PI / 1e-10 * 1e-9), 1, 1e-12, "q at 1 nm off "
	       "axis keeps full precision");

	g.distance = 0;
	ok(geom_check(&g, err) == -1 && strstr(err, "distance"),
	   "zero distance: '%s'", err);
	g.distance = 1;
	g.energy_keV = -1;
	ok(geom_check(&g, err) == -1 && strstr(err, "energy"),
	   "negative energy: '%s'", err);
	g.energy_keV = E_1A;
	g.pixel_y = NAN;
	ok(geom_check(&g, err) == -1 && strstr(err, "pixel"),
	   "NaN pixel size: '%s'", err);
	g.pixel_y = 1e-3;
	g.rows = 0;
	ok(geom_check(&g, err) == -1 && strstr(err, "shape"),
	   "empty shape: '%s'", err);
	{
		double q[1];
		ok(geom_maps(&g, q, NULL, NULL, NULL, err) == -1,
		   "geom_maps checks the geometry");
	}
}

/* rings whose q edges correspond to pixel radii k + 1/2: the pixel counts
** are lattice counts done with integers, independent of any q formula */
static void test_rings(void)
{
	size_t n = 201, np = n * n;
	geom g = {E_1A, 2.0, 1e-4, 1e-4, 100, 100, 201, 201};
	double *q = malloc(np * sizeof *q), *phi = malloc(np * sizeof *phi);
	static const int rk[] = {0, 10, 20, 40, 70};
	double qe[5], pe[5] = {-180, -90, 0, 90, 180}, k = 2 * M_PI / 1e-10;
	double pall[2] = {-180, 180};
	char err[ERR_LEN] = "";
	qmap m;
	geom_maps(&g, q, phi, NULL, NULL, err);
	for (int i = 0; i < 5; i++)
		qe[i] = 2 * k * sin(atan((rk[i] + 0.5) * 1e-4 / 2.0) / 2);
	ok(qmap_build(&m, n, n, q, phi, NULL, qe, 4, pall, 1, 0, err) == 0,
	   "rings built");
	for (int b = 0; b < 4; b++) {
		long lo = 2 * rk[b] + 1, hi = 2 * rk[b + 1] + 1, cnt = 0;
		double sq = 0, area;
		for (long i = -100; i <= 100; i++)
			for (long j = -100; j <= 100; j++) {
				long r4 = 4 * (i * i + j * j);
				if (r4 >= lo * lo && r4 < hi * hi) {
					cnt++;
					sq += hypot((double)i, (double)j);
				}
			}
		is_int((long)m.count[b], cnt, "ring %d: %ld pixels (lattice "
		       "count)", b + 1, cnt);
		area = M_PI * ((rk[b + 1] + 0.5) * (rk[b + 1] + 0.5) -
			       (rk[b] + 0.5) * (rk[b] + 0.5));
		ok(fabs(cnt - area) < 0.05 * area, "ring %d: about the annulus "
		   "area %.0f", b + 1, area);
		/* mean q = mean over the same lattice points of k r/D, up to
		** the (2 theta)^2 corrections of the exact formula (< 1e-5) */
		is_num(m.q_mean[b] / (k * 1e-4 / 2.0 * sq / (double)cnt), 1,
		       2e-5, "ring %d: mean q = k <r> / D to O(theta^2)",
		       b + 1);
	}
	qmap_free(&m);

	/* four sectors: 90-degree symmetry gives equal counts */
	ok(qmap_build(&m, n, n, q, phi, NULL, qe + 1, 1, pe, 4, 0, err) == 0,
	   "ring 2 x 4 sectors");
	ok(m.count[0] == m.count[1] && m.count[1] == m.count[2] &&
	   m.count[2] == m.count[3] && m.count[0] * 4 == 964,
	   "4 equal sectors of 241 (%zu %zu %zu %zu)", m.count[0],
	   m.count[1], m.count[2], m.count[3]);
	/* each sector holds one axis (its lower edge): means are 45 - 1.87 */
	is_num(m.phi_mean[0], -135 - 1.8688, 1e-3, "sector 1 mean phi");
	is_num(m.phi_mean[2], 45 - 1.8688, 1e-3, "sector 3 mean phi");
	is_num(m.phi_mean[3], 135 - 1.8688, 1e-3, "sector 4 mean phi");
	ok(m.map[100 * n + 115] == 3 && m.map[100 * n + 85] == 1 &&
	   m.map[85 * n + 100] == 4 && m.map[115 * n + 100] == 2,
	   "phi 0 in sector 3, 180 (= -180) in 1, 90 in 4, -90 in 2");
	qmap_free(&m);

	/* folding: [-90, 90) in 2 sectors holds opposite sectors together */
	{
		double fe[3] = {-90, 0, 90};
		ok(qmap_build(&m, n, n, q, phi, NULL, qe + 1, 1, fe, 2, 1,
			      err) == 0, "folded sectors");
		ok(m.count[0] == 482 && m.count[1] == 482, "folded halves "
		   "482 + 482 (%zu, %zu)", m.count[0], m.count[1]);
		ok(m.map[100 * n + 115] == 2 && m.map[100 * n + 85] == 2 &&
		   m.map[85 * n + 100] == 1 && m.map[115 * n + 100] == 1,
		   "phi 0 and 180 share a bin; 90 and -90 the other");
		ok(m.phi_mean[0] > -90 && m.phi_mean[0] < 0, "folded mean "
		   "phi %.2f in the first half", m.phi_mean[0]);
		qmap_free(&m);
		ok(qmap_build(&m, n, n, q, phi, NULL, qe + 1, 1, pe, 4, 1,
			      err) == -1 && strstr(err, "180"),
		   "folding needs edges within 180 degrees: '%s'", err);
	}

	/* a mask removes pixels; an empty grid cell is NaN */
	{
		uint8_t *mask = malloc(np);
		double img[4];
		double *ones = malloc(np * sizeof *ones);
		memset(mask, 1, np);
		qmap_mask_rect(mask, n, n, 0, 200, 100, 200, 0);
		for (size_t i = 0; i < np; i++)
			ones[i] = 2.5;
		ok(qmap_build(&m, n, n, q, phi, mask, qe + 1, 1, pe, 4, 0,
			      err) == 0, "masked build");
		ok(m.count[1] == 0 && m.count[2] == 0 && m.count[0] == 241 &&
		   m.count[3] == 231, "columns >= 100 masked: sectors 2, 3 "
		   "empty, 4 lost its 10 axis pixels");
		ok(isnan(m.q_mean[2]) && isnan(m.phi_mean[1]),
		   "empty bins have NaN means");
		qmap_bin_mean(&m, ones, img);
		ok(img[0] == 2.5 && isnan(img[2]), "bin mean 2.5, NaN when "
		   "empty");
		qmap_free(&m);
		free(mask);
		free(ones);
	}
	free(q);
	free(phi);
}

static void test_edges(void)
{
	double e[6], lin[4];
	char err[ERR_LEN] = "";
	ok(qmap_edges(1e-3, 1e-1, 5, 1, e, err) == 0, "log edges");
	is_num(e[1] / e[0], e[5] / e[4], 1e-12, "constant ratio");
	is_num(e[5], 1e-1, 0, "last edge exact");
	ok(qmap_edges(0, 1e-1, 5, 1, e, err) == -1 && strstr(err, "lo > 0"),
	   "log edges need lo > 0: '%s'", err);
	ok(qmap_edges(1, 1, 3, 0, lin, err) == -1, "lo < hi needed");
	{
		double q[4] = {0, 1, 2, 3}, phi[4] = {0, 0, 0, 0};
		double qe[3] = {0, 2, 1}, pe[2] = {-180, 180};
		double qe2[3] = {0, 1.5, 3};
		qmap m;
		ok(qmap_build(&m, 2, 2, q, phi, NULL, qe, 2, pe, 1, 0, err) ==
		   -1 && strstr(err, "increase"), "edges must increase: '%s'",
		   err);
		ok(qmap_build(&m, 2, 2, q, phi, NULL, qe2, 2, pe, 1, 0, err) ==
		   0 && m.map[3] == 2 && m.map[0] == 1 && m.count[1] == 2,
		   "a value on the last edge is in the last bin");
		qmap_free(&m);
	}
}

static void test_maps_and_masks(void)
{
	int32_t map[12] = {1, 1, 2, 0, 3, 3, 2, 0, 1, 5, 5, 5};
	int32_t bad[12] = {1, 1, -2, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	int32_t dyn[12] = {1, 1, 2, 0, 2, 2, 2, 0, 1, 3, 3, 3};
	int32_t s2d[6];
	double q[12], img[12];
	char err[ERR_LEN] = "";
	qmap m, d;
	for (int i = 0; i < 12; i++) {
		q[i] = i;
		img[i] = i == 5 ? 100 : 1;
	}
	ok(qmap_from_map(&m, 3, 4, map, 0, q, NULL, err) == 0 &&
	   m.nbins == 5 && m.count[0] == 3 && m.count[3] == 0,
	   "from map: 5 bins, bin 1 has 3 pixels, bin 4 none");
	is_num(m.q_mean[0], (0 + 1 + 8) / 3.0, 1e-15, "bin 1 mean q");
	ok(isnan(m.q_mean[3]) && isnan(m.phi_mean[0]), "NaN: empty bin, "
	   "unknown phi");
	ok(qmap_from_map(&d, 3, 4, dyn, 0, NULL, NULL, err) == 0, "dynamic");
	ok(qmap_nest(&m, &d, s2d, err) == 0 && s2d[0] == 1 && s2d[2] == 2 &&
	   s2d[4] == 3 && s2d[3] == 0, "static bins nest in dynamic bins");
	qmap_free(&d);
	dyn[5] = 1;
	qmap_from_map(&d, 3, 4, dyn, 0, NULL, NULL, err);
	ok(qmap_nest(&m, &d, s2d, err) == -1 && strstr(err, "static bin 3"),
	   "a static bin across dynamic bins: '%s'", err);
	qmap_free(&d);
	qmap_from_map(&d, 4, 3, dyn, 0, NULL, NULL, err);
	ok(qmap_nest(&m, &d, s2d, err) == -1 && strstr(err, "3x4"),
	   "shape mismatch: '%s'", err);
	qmap_free(&d);
	qmap_free(&m);
	ok(qmap_from_map(&m, 3, 4, bad, 0, NULL, NULL, err) == -1 &&
	   strstr(err, "row 1, col 3"), "negative bin: '%s'", err);
	ok(qmap_from_map(&m, 3, 4, map, 4, NULL, NULL, err) == -1 &&
	   strstr(err, "exceeds"), "bin beyond nbins: '%s'", err);

	{
		uint8_t mk[12];
		double tot[12] = {1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1};
		double tri[6] = {0, 0, 3, 0, 0, 2};	/* (col,row) */
		memset(mk, 1, 12);
		qmap_mask_above(mk, img, 12, 50);
		ok(mk[5] == 0 && mk[4] == 1, "threshold masks the hot pixel");
		qmap_mask_dead(mk, tot, 12);
		ok(mk[1] == 0 && mk[10] == 0 && mk[0] == 1, "dead pixels");
		memset(mk, 1, 12);
		ok(qmap_mask_polygon(mk, 3, 4, tri, 3, 0, err) == 0, "polygon");
		/* inside: centres strictly inside the triangle (0,0),(3,0),
		** (0,2): (col 1,row 1) yes; (col 2, row 1) no */
		ok(mk[1 * 4 + 1] == 0 && mk[1 * 4 + 2] == 1 &&
		   mk[2 * 4 + 3] == 1, "polygon covers the right pixels");
		ok(qmap_mask_polygon(mk, 3, 4, tri, 2, 0, err) == -1,
		   "a polygon needs 3 vertices");
		memset(mk, 1, 12);
		qmap_mask_rect(mk, 3, 4, -5, 0, 2, 99, 0);
		ok(mk[2] == 0 && mk[3] == 0 && mk[1] == 1 && mk[6] == 1,
		   "rectangle clipped to the detector");
	}
}

/* F6, F12, F16: bin numbers bounded (not 14 GB of per-bin state for one
** pixel numbered 2^31 - 1), not fractional, and a grid in which every bin
** is empty is an error */
static void test_map_bounds(void)
{
	int32_t map[12] = {1, 1, 2, 0, 3, 3, 2, 0, 1, 5, 5, 5};
	double fmap[12] = {1, 1, 2, 0, 3, 3, 2.5, 0, 1, 5, 5, 5};
	int32_t m32[12];
	double q[12], phi[12], qe[3] = {100, 200, 300}, pe[2] = {-180, 180};
	char err[ERR_LEN] = "";
	qmap m;
	map[7] = INT32_MAX;
	ok(qmap_from_map(&m, 3, 4, map, 0, NULL, NULL, err) == -1 &&
	   strstr(err, "2147483647 at pixel (row 2, col 4) is beyond 65536"),
	   "bin 2^31 - 1: an error naming the pixel and bound: '%s'", err);
	map[7] = 65536;
	ok(qmap_from_map(&m, 3, 4, map, 0, NULL, NULL, err) == 0 &&
	   m.nbins == 65536, "bin 65536 on 12 pixels is within the bound");
	qmap_free(&m);
	map[7] = 0;
	ok(qmap_from_map(&m, 3, 4, map, (size_t)1 << 31, NULL, NULL, err)
	   == -1 && strstr(err, "beyond 65536"), "nbins 2^31: '%s'", err);
	ok(qmap_max_bins(2000000) == 2000000, "bound: the pixel count when "
	   "larger");
	ok(qmap_map_from_doubles(m32, fmap, 3, 4, err) == -1 &&
	   strstr(err, "2.5 at pixel (row 2, col 3) is not an integer"),
	   "a fractional bin is an error, not rounded: '%s'", err);
	fmap[6] = 2;
	ok(qmap_map_from_doubles(m32, fmap, 3, 4, err) == 0 && m32[6] == 2 &&
	   m32[11] == 5, "integral doubles convert");
	fmap[6] = 3e9;
	ok(qmap_map_from_doubles(m32, fmap, 3, 4, err) == -1,
	   "a bin beyond int32 is an error: '%s'", err);
	for (int i = 0; i < 12; i++) {
		q[i] = 1000 + i;
		phi[i] = 0;
	}
	ok(qmap_build(&m, 3, 4, q, phi, NULL, qe, 2, pe, 1, 0, err) == -1 &&
	   strstr(err, "every bin is empty"), "no pixel in any bin: '%s'",
	   err);
	{
		double qe2[1001], pe2[101];
		qmap_edges(1000, 1012, 1000, 0, qe2, err);
		qmap_edges(-180, 180, 100, 0, pe2, err);
		ok(qmap_build(&m, 3, 4, q, phi, NULL, qe2, 1000, pe2, 100, 0,
			      err) == -1 && strstr(err, "1000 x 100 bins is "
						   "more than 65536"),
		   "a grid beyond the bound: '%s'", err);
	}
}

/* the q range the partitions bin by default: finite q of masked-in
** pixels, only positive ones for log bins */
static void test_qrange(void)
{
	const double q[6] = {NAN, 3, -1, 2, 0.5, INFINITY};
	const uint8_t mask[6] = {1, 1, 1, 0, 1, 1}, none[6] = {0};
	double lo, hi;
	qmap_qrange(q, mask, 6, 0, &lo, &hi);
	ok(lo == -1 && hi == 3, "qrange: finite q of the used pixels "
	   "(%g..%g)", lo, hi);
	qmap_qrange(q, mask, 6, 1, &lo, &hi);
	ok(lo == 0.5 && hi == 3, "qrange, log: positive q only (%g..%g)",
	   lo, hi);
	qmap_qrange(q, NULL, 6, 0, &lo, &hi);
	ok(lo == -1 && hi == 3, "qrange without a mask (%g..%g)", lo, hi);
	qmap_qrange(q, none, 6, 0, &lo, &hi);
	ok(lo > hi, "qrange of no pixel: empty (%g..%g)", lo, hi);
}

/* the bins of many values by a linear scan of the edges and phi wrapped
** by fmod alone: the reference for qmap_build's search and wrap */
static long ref_bin(const double *e, size_t n, double v)
{
	if (!(v >= e[0] && v <= e[n]))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (v >= e[i] && (v < e[i + 1] || (i == n - 1 && v == e[n])))
			return (long)i;
	return -1;
}

static double ref_wrap(double phi, double e0, double period)
{
	double d = fmod(phi - e0, period);
	if (d < 0)
		d += period;
	return e0 + d;
}

static void test_bins_brute(void)
{
	enum { N = 20000 };
	static const size_t nqs[] = {1, 2, 3, 7, 10, 64};
	double *q = malloc(N * sizeof *q), *phi = malloc(N * sizeof *phi);
	uint64_t st = 12345;
	char err[ERR_LEN];
	for (size_t k = 0; k < sizeof nqs / sizeof *nqs; k++) {
		size_t nq = nqs[k], bad = 0, nphi = 5;
		int fold = (int)(k % 2);
		double qe[65], pe[6], period = fold ? 180 : 360;
		qmap m;
		qmap_edges(1e-3, 2e-2, nq, (int)(k % 3 == 0), qe, err);
		for (size_t i = 0; i <= nphi; i++)	/* uneven sectors */
			pe[i] = -70 + (fold ? 170.0 : 350.0) *
				(double)(i * i) / (double)(nphi * nphi);
		for (size_t i = 0; i < N; i++) {
			st = st * 6364136223846793005u + 1442695040888963407u;
			double u = (double)(st >> 11) / 9007199254740992.0;
			/* values on the edges, past them, and spread */
			q[i] = i % 5 == 0 ? qe[i / 5 % (nq + 1)] :
			       i % 7 == 0 ? qe[nq] * (1 + u * 1e-3) :
			       qe[0] * 0.9 + (qe[nq] * 1.1 - qe[0] * 0.9) * u;
			phi[i] = i % 3 == 0 ? pe[i / 3 % (nphi + 1)] +
				 period * (double)((long)(i % 7) - 3) :
				 -900 + 1800 * u;
		}
		if (qmap_build(&m, 1, N, q, phi, NULL, qe, nq, pe, nphi, fold,
			       err) != 0) {
			ok(0, "bins brute force, %zu q bins: %s", nq, err);
			continue;
		}
		for (size_t i = 0; i < N; i++) {
			long iq = ref_bin(qe, nq, q[i]);
			long ip = ref_bin(pe, nphi, ref_wrap(phi[i], pe[0],
							     period));
			int32_t want = iq >= 0 && ip >= 0 ?
				       (int32_t)(iq * (long)nphi + ip + 1) : 0;
			bad += m.map[i] != want;
		}
		ok(bad == 0, "bins of %d values (%zu q bins, %zu sectors%s) "
		   "as a linear scan and fmod give them: %zu differ", N, nq,
		   nphi, fold ? ", folded" : "", bad);
		qmap_free(&m);
	}
	free(q);
	free(phi);
}

int main(void)
{
	test_qrange();
	test_geometry();
	test_rings();
	test_edges();
	test_maps_and_masks();
	test_map_bounds();
	test_bins_brute();
	return tap_done();
}
