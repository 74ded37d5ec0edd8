/*
** err.h - the error convention of every ionflow core.
**
** A core never raises: it returns 0 on success and -1 on failure, and on
** failure it writes one line into a caller-supplied buffer of ERR_LEN bytes.
** The Lua binding turns that line into a Lua error; C tests print it.
*/
#ifndef ionflow_err_h
#define ionflow_err_h

#include <stddef.h>

#define ERR_LEN 512

/* printf into err (which may be NULL); always returns -1 so that a core can
** write `return err_set(err, "...")` */
int err_set(char *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* prefix an existing message: "<prefix>: <old message>" */
int err_prefix(char *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* calloc/malloc that report failure in err; sizes are checked for overflow */
void *err_calloc(size_t n, size_t size, char *err);
void *err_malloc(size_t n, size_t size, char *err);

#endif
