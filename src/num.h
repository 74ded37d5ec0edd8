/*
** num.h - small numerics several cores share: the median, SplitMix64 and
** linear interpolation. Plain C, no allocation, no errors: a caller checks
** its inputs first.
*/
#ifndef ionflow_num_h
#define ionflow_num_h

#include <stddef.h>
#include <stdint.h>

/* the median of v[0..n-1], which it sorts in place (NaN when n is 0); no
** cap on n: the caller owns the buffer */
double num_median(double *v, size_t n);

/* SplitMix64 (Steele, Lea and Flood 2014). num_mix64 is its finaliser, a
** strong 64-bit mixer: as a hash of a counter it gives counter-based random
** numbers, the same for any number of threads. Inline: the simulator calls
** it in its innermost loop. */
#define NUM_GOLDEN64 0x9E3779B97F4A7C15ULL

static inline uint64_t num_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* the next word of the sequential generator whose state is *s */
static inline uint64_t num_splitmix64(uint64_t *s)
{
	return num_mix64(*s += NUM_GOLDEN64);
}

/* a uniform double from the top 53 bits of a word, at the middle of its
** 2^-53 cell: in (0, 1], 1 itself only for the top word (p = 2^-53),
** where the + 0.5 rounds up */
static inline double num_uniform(uint64_t r)
{
	return ((double)(r >> 11) + 0.5) * 0x1.0p-53;
}

/* lo such that x lies in [xs[lo], xs[lo + 1]], for n >= 2 nodes that are
** monotonic (increasing or decreasing) and x within their range; found by
** bisection, so ties go to the last node not past x */
size_t num_bracket(const double *xs, size_t n, double x);

/* (xs, ys) interpolated linearly at x, for n >= 1 increasing nodes; the end
** values outside them */
double num_lerp(const double *xs, const double *ys, size_t n, double x);

#endif
