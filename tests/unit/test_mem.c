/* mem.h: aligned blocks, zeroed on request, large ones mapped; every
** block is written end to end (ASan, valgrind) and released */
#include <stdint.h>
#include <string.h>

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
	pf = mem_prefault(blk, 4);
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
	ok(mem_prefault(blk + 1, 2) == NULL, "prefault: nothing to do for "
	   "NULL and small blocks");
	mem_free(a);
	mem_free(b);
	mem_free(s);
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
	return tap_done();
}
