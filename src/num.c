/*
** num.c - the shared small numerics (see num.h).
*/
#include <math.h>
#include <stdlib.h>

#include "num.h"

static int num_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double num_median(double *v, size_t n)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof *v, num_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

size_t num_bracket(const double *xs, size_t n, double x)
{
	int up = xs[n - 1] > xs[0];
	size_t lo = 0, hi = n - 1;
	while (hi - lo > 1) {	/* xs[lo] .. xs[hi] keep x between them */
		size_t mid = lo + (hi - lo) / 2;
		if (up ? xs[mid] <= x : xs[mid] >= x)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

double num_lerp(const double *xs, const double *ys, size_t n, double x)
{
	size_t lo;
	if (x <= xs[0])
		return ys[0];
	if (x >= xs[n - 1])
		return ys[n - 1];
	lo = num_bracket(xs, n, x);
	return ys[lo] + (ys[lo + 1] - ys[lo]) * (x - xs[lo]) /
		(xs[lo + 1] - xs[lo]);
}
