/*
** bench/bandwidth.c - the memory-bandwidth bound of the correlator on this
** machine: how fast a dense uint16 frame stack streams from memory, read
** once and summed (the least any correlator must do with each count), on
** one thread and on all. With "touch MB": how fast a new process gets
** fresh memory, MB of a fresh mapping in huge pages first written by all
** threads (the kernel clears each page; in a VM the host may also have to
** back it: the least a run that needs MB of fresh memory waits). Compiled
** and run by bench/corr.lua (make bench); not part of ionflow.
**
**   cc -O3 -march=native -fopenmp bench/bandwidth.c -o bw && ./bw [MB]
**   ./bw touch MB
*/
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* a fresh mapping of n bytes advised into huge pages, as ionflow's large
** blocks are (src/mem.c); NULL with a message */
static void *fresh(size_t n)
{
	void *a = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED) {
		perror("bandwidth: mmap");
		return NULL;
	}
	madvise(a, n, MADV_HUGEPAGE);
	return a;
}

/* MB of fresh memory first written by all threads, a byte a page (each
** 2 MB page faults once and is cleared whole) */
static int touch(size_t mb)
{
	size_t bytes = mb << 20;
	int all = omp_get_max_threads();
	double t0, t;
	char *a = fresh(bytes);
	if (a == NULL)
		return 1;
	t0 = omp_get_wtime();
	#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < bytes; i += 4096)
		a[i] = 1;
	t = omp_get_wtime() - t0;
	printf("fresh memory: %zu MB first written on %d thread%s in %.3f s "
	       "= %.2f GB/s\n", mb, all, all > 1 ? "s" : "", t,
	       (double)bytes / t / 1e9);
	munmap(a, bytes);
	return 0;
}

int main(int argc, char **argv)
{
	size_t mb;
	if (argc > 2 && strcmp(argv[1], "touch") == 0)
		return touch(strtoull(argv[2], NULL, 10));
	mb = argc > 1 ? strtoull(argv[1], NULL, 10) : 2048;
	size_t n = mb << 19, bytes = n * sizeof(uint16_t);
	int all = omp_get_max_threads();
	uint16_t *a = fresh(bytes);
	if (a == NULL)
		return 1;
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
