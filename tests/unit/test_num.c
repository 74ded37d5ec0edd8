/* num.h: the shared median (against counting order statistics, far past
** the 4096 values an older copy was capped at), SplitMix64 (against the
** reference sequence of Vigna's splitmix64.c) and linear interpolation
** (exact on straight lines; ends, ties and decreasing nodes) */
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "num.h"
#include "tap.h"

/* the value v[j] with exactly k values below it (no ties in the data) */
static double nth(const double *v, size_t n, size_t k)
{
	for (size_t j = 0; j < n; j++) {
		size_t below = 0;
		for (size_t i = 0; i < n; i++)
			below += v[i] < v[j];
		if (below == k)
			return v[j];
	}
	return NAN;
}

static void test_median(void)
{
	static double v[10001], w[10001];
	static const size_t ns[] = {1, 2, 7, 8, 4097, 10001};
	uint64_t s = 42;
	for (size_t t = 0; t < 6; t++) {
		size_t n = ns[t];
		double want;
		for (size_t i = 0; i < n; i++)
			v[i] = w[i] = num_uniform(num_splitmix64(&s)) - 0.5;
		want = n % 2 ? nth(w, n, n / 2)
			: (nth(w, n, n / 2 - 1) + nth(w, n, n / 2)) / 2;
		ok(num_median(v, n) == want, "median of %zu values: the middle "
		   "order statistic(s), counted", n);
	}
	ok(isnan(num_median(v, 0)), "median of nothing is NaN");
}

static void test_splitmix(void)
{
	static const uint64_t ref[3] = {6457827717110365317ULL,
		3203168211198807973ULL, 9817491932198370423ULL};
	uint64_t s = 1234567, s0;
	int same = 1;
	for (int i = 0; i < 3; i++) {
		uint64_t r = num_splitmix64(&s);
		if (r != ref[i])
			diag("word %d: %" PRIu64 ", reference %" PRIu64, i, r,
			     ref[i]);
		same &= r == ref[i];
	}
	ok(same, "SplitMix64 from 1234567: the reference sequence");
	s0 = 99;
	s = 99;
	ok(num_splitmix64(&s) == num_mix64(s0 + NUM_GOLDEN64),
	   "a step is the finaliser of the state advanced by the golden ratio");
	ok(num_uniform(0) == 0x1.0p-54 && num_uniform(1ULL << 11) ==
	   1.5 * 0x1.0p-53, "uniform deviates: the middle of their cell");
	ok(num_uniform(UINT64_MAX - (1ULL << 11)) < 1 &&
	   num_uniform(UINT64_MAX) == 1, "below 1 but for the top word");
}

static void test_interp(void)
{
	double xs[6] = {0, 0.5, 1, 1, 2.5, 4}, ys[6], dn[6];
	int exact = 1;
	for (int i = 0; i < 6; i++)
		ys[i] = 3 * xs[i] - 1;
	for (double x = 0; x <= 4; x += 0.125)
		exact &= fabs(num_lerp(xs, ys, 6, x) - (3 * x - 1)) < 1e-12;
	ok(exact, "a straight line is interpolated exactly, a tie included");
	ok(num_lerp(xs, ys, 6, -1) == ys[0] && num_lerp(xs, ys, 6, 9) == ys[5],
	   "outside the nodes: the end values");
	ok(num_lerp(xs, ys, 1, 7) == ys[0], "one node: its value");
	ok(num_bracket(xs, 6, 1) == 3, "a tie goes to the last node not past x");
	for (int i = 0; i < 6; i++)
		dn[i] = 10 - 2 * i;
	ok(num_bracket(dn, 6, 5) == 2 && num_bracket(dn, 6, 10) == 0 &&
	   num_bracket(dn, 6, 0) == 4, "decreasing nodes are bracketed too");
}

int main(void)
{
	test_median();
	test_splitmix();
	test_interp();
	return tap_done();
}
