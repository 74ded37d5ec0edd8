/*
** err.c - error messages and checked allocation shared by the cores.
*/
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

int err_set(char *err, const char *fmt, ...)
{
	va_list ap;
	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, ERR_LEN, fmt, ap);
	va_end(ap);
	return -1;
}

int err_prefix(char *err, const char *fmt, ...)
{
	char old[ERR_LEN];
	va_list ap;
	size_t n;
	if (err == NULL)
		return -1;
	memcpy(old, err, ERR_LEN);
	old[ERR_LEN - 1] = '\0';
	va_start(ap, fmt);
	vsnprintf(err, ERR_LEN, fmt, ap);
	va_end(ap);
	/* append as much of the old message as fits; the cut is intended */
	n = strlen(err);
	if (n + 2 < ERR_LEN) {
		size_t room = ERR_LEN - n - 3, len = strlen(old);
		memcpy(err + n, ": ", 2);
		memcpy(err + n + 2, old, len < room ? len : room);
		err[n + 2 + (len < room ? len : room)] = '\0';
	}
	return -1;
}

void *err_calloc(size_t n, size_t size, char *err)
{
	void *p;
	if (size != 0 && n > SIZE_MAX / size) {
		err_set(err, "allocation of %zu x %zu bytes overflows", n, size);
		return NULL;
	}
	p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		err_set(err, "out of memory allocating %zu bytes", n * size);
	return p;
}

void *err_malloc(size_t n, size_t size, char *err)
{
	void *p;
	if (size != 0 && n > SIZE_MAX / size) {
		err_set(err, "allocation of %zu x %zu bytes overflows", n, size);
		return NULL;
	}
	p = malloc(n != 0 && size != 0 ? n * size : 1);
	if (p == NULL)
		err_set(err, "out of memory allocating %zu bytes", n * size);
	return p;
}
