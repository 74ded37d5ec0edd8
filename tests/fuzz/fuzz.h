/*
** fuzz.h - what every fuzz harness in tests/fuzz/ shares.
**
** A harness is one file tests/fuzz/fuzz_NAME.c defining
** LLVMFuzzerTestOneInput; its seeds are in tests/fuzz/corpus/NAME/ and the
** inputs that once crashed it in tests/fuzz/regress/NAME/. The Makefile
** finds harnesses by that name alone: `make fuzz` links each with
** libFuzzer (clang), and `make check` links each with replay.c (the
** project's compiler) and runs it over its seeds and regression files.
** An input may make the code under test fail with an error (that is the
** point); it must never crash, hang or leak.
*/
#ifndef ionflow_fuzz_h
#define ionflow_fuzz_h

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a file (the readers under test take paths): a path in
** $TMPDIR (or /tmp) private to this process and tag, rewritten on each
** call. NULL when it cannot be written (the harness then skips). */
const char *fuzz_file(const uint8_t *data, size_t size, const char *tag);

/* 1 when an input's declared size is too big to read in a harness (a
** reader would try to allocate it; libFuzzer counts that as a finding
** whereas the program merely fails with "out of memory") */
int fuzz_too_big(size_t bytes);

#endif
