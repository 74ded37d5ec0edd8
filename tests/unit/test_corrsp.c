/*
** test_corrsp.c - corrsp_stage, the staging of pushed events, against a
** plain reference written from its contract (corrsp.h): random frames of
** increasing pixels over maps with unused pixels, tiles of every size up
** to 1024, counts of 0 and up to 65535, frames that stop increasing, on
** every instruction set this CPU has. (The sparse levels themselves are
** tested through corr, bit for bit with the dense kernels, in
** test_corr.c.)
*/
#include <stdint.h>
#include <string.h>

#include "corrsp.h"
#include "tap.h"

static uint64_t rs = 12345;

static uint32_t rnd(uint32_t n)
{
	rs = rs * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rs >> 33) % n;
}

/* the contract, one event at a time */
static size_t ref_stage(const uint32_t *map, uint32_t pix0,
			const uint32_t *pix, const uint16_t *cnt, size_t n,
			size_t ntile, uint32_t *ev, uint32_t *to, size_t *k,
			uint32_t *top)
{
	size_t ne = 0;
	uint32_t tp = *top;
	for (size_t i = 1; i < n; i++)
		if (pix[i] <= pix[i - 1])
			return i;
	for (size_t t = 0; t <= ntile; t++) {
		to[t] = (uint32_t)ne;
		for (size_t i = 0; i < n; i++) {
			uint32_t m = map[pix[i] - pix0];
			if (m == UINT32_MAX || cnt[i] == 0 || m >> 10 != t)
				continue;
			ev[ne++] = (m & 1023u) << 16 | cnt[i];
			tp = cnt[i] > tp ? cnt[i] : tp;
		}
	}
	*k = ne;
	*top = tp;
	return n;
}

/* one random case: npix detector pixels, tiles of P used ones */
static int one_case(int isa, size_t npix, size_t P, double used, double occ,
		    int break_at, char *why, size_t wlen)
{
	uint32_t *map = malloc(npix * sizeof *map);
	uint32_t *pix = malloc((npix + 1) * sizeof *pix);
	uint16_t *cnt = malloc((npix + 1) * sizeof *cnt);
	uint32_t *ev = malloc((npix + 64) * sizeof *ev);
	uint32_t *er = malloc((npix + 64) * sizeof *er);
	uint32_t *to = malloc((npix / P + 3) * sizeof *to);
	uint32_t *tr = malloc((npix / P + 3) * sizeof *tr);
	uint32_t pix0 = rnd(2), top = rnd(3), topr = top;
	size_t nu = 0, n = 0, k = 0, kr = 0, ntile, got, want;
	int good = 1;
	for (size_t p = 0; p < npix; p++) {
		if (rnd(1000) < used * 1000) {
			map[p] = (uint32_t)(nu / P) << 10 | (uint32_t)(nu % P);
			nu++;
		} else {
			map[p] = UINT32_MAX;
		}
	}
	ntile = (nu + P - 1) / P;
	for (size_t p = 0; p < npix; p++)
		if (rnd(100000) < occ * 100000) {
			pix[n] = (uint32_t)p + pix0;
			cnt[n++] = rnd(10) == 0 ? 0 : rnd(20) == 0 ?
				   (uint16_t)(60000 + rnd(5536)) :
				   (uint16_t)(1 + rnd(3));
		}
	if (break_at && n > 2) {	/* a pixel not above the one before */
		size_t b = 1 + rnd((uint32_t)n - 1);
		pix[b] = pix[b - 1] - (uint32_t)rnd(2) * (pix[b - 1] > pix0);
	}
	memset(to, 0xee, (ntile + 1) * sizeof *to);
	want = ref_stage(map, pix0, pix, cnt, n, ntile, er, tr, &kr, &topr);
	got = corrsp_stage(isa, map, pix0, pix, cnt, n, ntile, ev, to, &k,
			   &top);
	if (got != want) {
		snprintf(why, wlen, "returned %zu, not %zu", got, want);
		good = 0;
	} else if (want == n &&
		   (k != kr || top != topr || memcmp(ev, er, k * sizeof *ev) ||
		    memcmp(to, tr, (ntile + 1) * sizeof *to))) {
		snprintf(why, wlen, "%zu events (want %zu), top %u (want %u), "
			 "words or tile offsets differ", k, kr, top, topr);
		good = 0;
	}
	free(map);
	free(pix);
	free(cnt);
	free(ev);
	free(er);
	free(to);
	free(tr);
	return good;
}

static void test_stage(int isa, const char *name)
{
	static const size_t Ps[] = {32, 64, 96, 768, 1024};
	static const double occs[] = {0.002, 0.05, 0.3, 1.0};
	char why[160] = "";
	int cases = 0, good = 0, breaks = 0, gb = 0;
	for (int r = 0; r < 40; r++)
		for (size_t ip = 0; ip < 5; ip++)
			for (size_t io = 0; io < 4; io++) {
				size_t npix = 1 + rnd(5000);
				double used = rnd(2) ? 1.0 : 0.3 + 0.7 *
					      rnd(1000) / 1000.0;
				int br = rnd(4) == 0;
				int g = one_case(isa, npix, Ps[ip], used,
						 occs[io], br, why, sizeof why);
				cases++;
				good += g;
				breaks += br;
				gb += br && g;
			}
	ok(good == cases, "corrsp_stage %s: %d of %d random frames (%d of "
	   "them with a pixel out of order: %d right) as the reference%s%s",
	   name, good, cases, breaks, gb, good == cases ? "" : ": ", why);
}

/* an empty frame and one event: every tile's offset 0, or 1 after it */
static void test_edges(int isa, const char *name)
{
	uint32_t map[4] = {0, 1, 1u << 10, UINT32_MAX}, pix[1] = {2};
	uint32_t ev[64], to[3] = {9, 9, 9}, top = 0;
	uint16_t cnt[1] = {5};
	size_t k = 7;
	ok(corrsp_stage(isa, map, 0, pix, cnt, 0, 2, ev, to, &k, &top) == 0 &&
	   k == 0 && to[0] == 0 && to[1] == 0 && to[2] == 0 && top == 0,
	   "corrsp_stage %s: an empty frame leaves every tile empty", name);
	ok(corrsp_stage(isa, map, 0, pix, cnt, 1, 2, ev, to, &k, &top) == 1 &&
	   k == 1 && to[0] == 0 && to[1] == 0 && to[2] == 1 && top == 5 &&
	   ev[0] == 5, "corrsp_stage %s: one event in the second tile", name);
}

int main(void)
{
	int avx512 = 0;
#if defined(__x86_64__) && defined(__GNUC__)
	avx512 = __builtin_cpu_supports("avx512f");
#endif
	test_stage(0, "scalar");
	test_edges(0, "scalar");
	if (avx512) {
		test_stage(2, "AVX-512");
		test_edges(2, "AVX-512");
	} else {
		diag("no AVX-512: only the scalar staging is tested");
	}
	return tap_done();
}
