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
	return tap_done();
}
