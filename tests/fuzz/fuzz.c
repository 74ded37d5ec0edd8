/*
** fuzz.c - helpers shared by the fuzz harnesses (see fuzz.h).
*/
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz.h"

#define FUZZ_MAX_BYTES ((size_t)64 << 20)

const char *fuzz_file(const uint8_t *data, size_t size, const char *tag)
{
	static char path[512];
	const char *dir = getenv("TMPDIR");
	FILE *f;
	snprintf(path, sizeof path, "%s/ionflow-fuzz-%ld-%s",
		 dir && dir[0] ? dir : "/tmp", (long)getpid(), tag);
	f = fopen(path, "wb");
	if (f == NULL)
		return NULL;
	if (size > 0 && fwrite(data, 1, size, f) != size) {
		fclose(f);
		return NULL;
	}
	if (fclose(f) != 0)
		return NULL;
	return path;
}

int fuzz_too_big(size_t bytes) { return bytes > FUZZ_MAX_BYTES; }
