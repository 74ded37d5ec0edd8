/*
** mem.h - aligned memory blocks, the large ones in huge pages (core).
**
** Frame stacks, HDF5 read buffers and correlator state run to hundreds of
** megabytes, and each page of a fresh block costs a fault on first touch.
** Blocks of MEM_LARGE bytes and more are therefore fresh anonymous
** mappings advised into transparent huge pages (one fault per 2 MB
** instead of 512): in a VM a first touch in 4 kB pages can cost more than
** the HDF5 read that fills the block (bench/README.md). A mapping is
** zero already, so zeroing it costs nothing here: its pages are cleared
** by the kernel when, and by whichever thread, first touches them.
** Smaller blocks come from aligned_alloc.
*/
#ifndef ionflow_mem_h
#define ionflow_mem_h

#include <stddef.h>

#define MEM_ALIGN 64			/* every block is aligned so */
#define MEM_LARGE ((size_t)2 << 20)	/* blocks this large are mapped */

/* a block of n bytes (zeroed when zero != 0); NULL with a message in err
** when out of memory */
void *mem_alloc(size_t n, int zero, char *err);
/* releases a block of mem_alloc (NULL: nothing) */
void mem_free(void *p);

/* *p (of *cap elements of el bytes, malloc'd or NULL) grown to at least
** need elements, doubling: 0, or -1 when out of memory (*p unchanged) */
int mem_grow(void **p, size_t *cap, size_t need, size_t el);

/* Fresh pages in the background. A run's fresh state is faulted in by
** the threads that first write it, while single-threaded stages before
** (the first block read, the set-up) leave a core idle. mem_prefault
** starts a thread that populates the pages of the n mapped blocks of
** mem_alloc, in order, writable (MADV_POPULATE_WRITE: as a write would,
** without writing, so that whoever writes them at the same time loses
** nothing): block i's first bytes[i] bytes (bytes NULL: whole blocks),
** so that a part a run may never touch stays unbacked; small blocks and
** kernels without it are skipped. NULL when nothing is started.
** mem_prefault_end waits for it and frees it; the blocks must stay
** allocated until then. */
typedef struct mem_pf mem_pf;
mem_pf *mem_prefault(void *const *blocks, const size_t *bytes, size_t n);
void mem_prefault_end(mem_pf *pf);

#endif
