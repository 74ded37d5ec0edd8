/*
** replay.c - runs a fuzz harness without libFuzzer: each argument is an
** input file or a directory of them (not recursive). Used by `make check`
** to replay the seeds and the regression files under the project's own
** compiler and, with SANITIZE=1, its sanitizers. Exit 0 when every input
** ran; a crash ends the process by its signal, as it would in a real run.
*/
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;
	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "replay: %s: cannot read\n", path);
		if (f)
			fclose(f);
		return -1;
	}
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "replay: %s: cannot read\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

static int replay_dir(const char *dir, size_t *count)
{
	char path[4096];
	struct dirent *d;
	DIR *dp = opendir(dir);
	int rc = 0;
	if (dp == NULL) {
		fprintf(stderr, "replay: %s: cannot open\n", dir);
		return -1;
	}
	while ((d = readdir(dp)) != NULL) {
		struct stat st;
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, d->d_name);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (replay_file(path) != 0)
			rc = -1;
		(*count)++;
	}
	closedir(dp);
	return rc;
}

int main(int argc, char **argv)
{
	size_t count = 0;
	int i, rc = 0;
	for (i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i], &count) != 0)
				rc = 1;
		} else if (replay_file(argv[i]) == 0) {
			count++;
		} else {
			rc = 1;
		}
	}
	printf("replayed %zu inputs\n", count);
	return rc;
}
