/*
** bench/bandwidth.c - the memory-bandwidth bound of the correlator on this
** machine: how fast a dense uint16 frame stack streams from memory, read
** once and summed (the least any correlator must do with each count), on
** one thread and on all. Compiled and run by bench/run.lua (make bench);
** not part of ionflow.
**
**   cc -O3 -march=native -fopenmp bench/bandwidth.c -o bw && ./bw [MB]
*/
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

/* the sum of n counts: one pass, vectorised, nothing kept */
static uint64_t stream(const uint16_t *a, size_t n, int threads)
{
	uint64_t tot = 0;
	#pragma omp parallel for simd num_threads(threads) \
		reduction(+:tot) schedule(static)
	for (size_t i = 0; i < n; i++)
		tot += a[i];
	return tot;
}

int main(int argc, char **argv)
{
	size_t mb = argc > 1 ? strtoull(argv[1], NULL, 10) : 2048;
	size_t n = mb << 19, bytes = n * sizeof(uint16_t);
	int all = omp_get_max_threads();
	uint16_t *a = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED) {
		perror("bandwidth: mmap");
		return 1;
	}
	madvise(a, bytes, MADV_HUGEPAGE);
	#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		a[i] = (uint16_t)(i * 2654435761u >> 29);
	for (int th = 1; th <= all; th += all > 1 ? all - 1 : 1) {
		double best = 0;
		uint64_t chk = 0;
		for (int rep = 0; rep < 5; rep++) {
			double t0 = omp_get_wtime(), t;
			chk += stream(a, n, th);
			t = omp_get_wtime() - t0;
			if (bytes / t > best)
				best = bytes / t;
		}
		printf("stream of %zu MB uint16 on %d thread%s: %.1f GB/s = "
		       "%.1f G pixel-frames/s (best of 5; check %llu)\n", mb,
		       th, th > 1 ? "s" : "", best / 1e9, best / 2e9,
		       (unsigned long long)(chk % 1000));
		if (all == 1)
			break;
	}
	munmap(a, bytes);
	return 0;
}
