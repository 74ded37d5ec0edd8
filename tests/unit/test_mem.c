/* mem.h: aligned blocks, zeroed on request, large ones mapped; every
** block is written end to end (ASan, valgrind) and released */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "err.h"
#include "mem.h"
#include "tap.h"

static int all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* blocks written while the background thread populates them keep
** every byte written; small blocks and NULL are skipped */
static void test_prefault(void)
{
	char err[ERR_LEN];
	size_t n = 24 * MEM_LARGE + 77, bad = 0, zero = 0;
	unsigned char *a = mem_alloc(n, 1, err), *b = mem_alloc(n, 1, err);
	unsigned char *s = mem_alloc(100, 1, err);
	void *blk[] = {a, NULL, s, b};
	mem_pf *pf;
	if (!a || !b || !s) {
		ok(0, "prefault: %s", err);
		return;
	}
	pf = mem_prefault(blk, NULL, 4);
	for (size_t i = 0; i < n; i += 1000)	/* while it runs */
		a[i] = (unsigned char)(1 + i % 251);
	memset(b + n / 2, 0x5a, n - n / 2);
	mem_prefault_end(pf);
	for (size_t i = 0; i < n; i++) {
		if (i % 1000 == 0)
			bad += a[i] != (unsigned char)(1 + i % 251);
		else
			zero += a[i] != 0;
		bad += b[i] != (i >= n / 2 ? 0x5a : 0);
	}
	ok(bad == 0 && zero == 0, "prefault: every byte written while the "
	   "pages were populated is kept, the rest zero (%zu, %zu wrong)",
	   bad, zero);
	mem_prefault_end(NULL);
	ok(mem_prefault(blk + 1, NULL, 2) == NULL, "prefault: nothing to do for "
	   "NULL and small blocks");
	mem_free(a);
	mem_free(b);
	mem_free(s);
}

/* pages of [p, p + n) resident (mincore), -1 when it cannot tell */
static long resident(const unsigned char *p, size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)p / pg * pg;
	size_t np = ((uintptr_t)p + n - a + pg - 1) / pg;
	unsigned char *v = malloc(np);
	long r = 0;
	if (v == NULL || mincore((void *)a, np * pg, v) != 0) {
		free(v);
		return -1;
	}
	for (size_t i = 0; i < np; i++)
		r += v[i] & 1;
	free(v);
	return r;
}

/* a block populated only as far as asked: the rest stays unbacked, and
** the whole block still reads zero and takes writes */
static void test_prefault_part(void)
{
	char err[ERR_LEN];
	size_t n = 32 * MEM_LARGE, half = n / 2;
	unsigned char *a = mem_alloc(n, 1, err);
	void *blk[] = {a};
	size_t len[] = {half};
	long head, tail;
	if (!a) {
		ok(0, "prefault part: %s", err);
		return;
	}
	mem_prefault_end(mem_prefault(blk, len, 1));
	head = resident(a, half);
	tail = resident(a + 3 * n / 4, n / 4);
	if (head < 0) {
		diag("prefault part: mincore unavailable, not checked");
	} else {
		long want = (long)(half / (size_t)sysconf(_SC_PAGESIZE));
#ifdef MADV_POPULATE_WRITE
		ok(head >= want && tail == 0, "prefault part: the first "
		   "half resident (%ld of %ld pages), the last quarter not "
		   "(%ld)", head, want, tail);
#else
		ok(tail == 0, "prefault part: nothing populated (%ld)", tail);
#endif
	}
	ok(all_zero(a, n), "prefault part: the block reads zero");
	memset(a + n - 100, 7, 100);
	ok(a[n - 1] == 7 && a[n - 101] == 0, "prefault part: writes past "
	   "the populated part land");
	mem_free(a);
}

int main(void)
{
	static const size_t sizes[] = {0, 1, 63, 64, 4096, MEM_LARGE - 200,
				       MEM_LARGE, 3 * MEM_LARGE + 5};
	char err[ERR_LEN];
	for (int z = 0; z <= 1; z++) {
		for (size_t i = 0; i < 8; i++) {
			size_t n = sizes[i];
			unsigned char *p = mem_alloc(n, z, err);
			ok(p != NULL && (uintptr_t)p % MEM_ALIGN == 0,
			   "%zu bytes (zero %d): a block aligned to %d", n, z,
			   MEM_ALIGN);
			if (p == NULL) {
				ok(0, "(no block)");
				continue;
			}
			/* mapped blocks come zeroed whether asked or not */
			if (z || n >= MEM_LARGE)
				ok(all_zero(p, n), "%zu bytes: zeroed", n);
			else
				ok(1, "%zu bytes: not asked to be zeroed", n);
			memset(p, 0xa5, n);
			mem_free(p);
		}
	}
	mem_free(NULL);
	ok(1, "mem_free(NULL) does nothing");
	ok(mem_alloc(SIZE_MAX - 8, 1, err) == NULL &&
	   strstr(err, "too large") != NULL, "an impossible size: %s", err);
	test_prefault();
	test_prefault_part();
	return tap_done();
}
