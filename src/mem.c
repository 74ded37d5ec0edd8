/*
** mem.c - aligned memory blocks, the large ones in huge pages (see mem.h).
**
** The MEM_ALIGN bytes before a block say how to release it: the base of
** the allocation and, for a mapping, its length.
*/
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "err.h"
#include "mem.h"

typedef struct mem_head {
	void *base;
	size_t len;		/* of the mapping; 0: from aligned_alloc */
} mem_head;

void *mem_alloc(size_t n, int zero, char *err)
{
	char *base;
	size_t len;
	if (n > SIZE_MAX / 2)
		return err_set(err, "allocation of %zu bytes is too large", n),
		       NULL;
	len = (n + 2 * MEM_ALIGN - 1) / MEM_ALIGN * MEM_ALIGN;
	if (len >= MEM_LARGE) {
		base = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (base == MAP_FAILED)
			base = NULL;
#ifdef MADV_HUGEPAGE
		else
			madvise(base, len, MADV_HUGEPAGE);
#endif
	} else if ((base = aligned_alloc(MEM_ALIGN, len)) && zero) {
		memset(base, 0, len);
	}
	if (base == NULL)
		return err_set(err, "out of memory allocating %zu bytes", n),
		       NULL;
	*(mem_head *)base = (mem_head){base, len >= MEM_LARGE ? len : 0};
	return base + MEM_ALIGN;
}

void mem_free(void *p)
{
	mem_head h;
	if (p == NULL)
		return;
	h = *(mem_head *)((char *)p - MEM_ALIGN);
	if (h.len)
		munmap(h.base, h.len);
	else
		free(h.base);
}

int mem_grow(void **p, size_t *cap, size_t need, size_t el)
{
	size_t nc = *cap ? *cap : 1024;
	void *q;
	if (need <= *cap)
		return 0;
	while (nc < need && nc <= SIZE_MAX / 2)
		nc *= 2;
	if (nc < need || el == 0 || nc > SIZE_MAX / el ||
	    !(q = realloc(*p, nc * el)))
		return -1;
	*p = q;
	*cap = nc;
	return 0;
}

struct mem_pf {
	pthread_t thr;
	size_t n;
	mem_head blk[];		/* the mappings to populate */
};

static void *mem_pf_run(void *arg)
{
	const mem_pf *pf = arg;
#ifdef MADV_POPULATE_WRITE
	for (size_t i = 0; i < pf->n; i++)
		(void)madvise(pf->blk[i].base, pf->blk[i].len,
			      MADV_POPULATE_WRITE);
#endif
	return NULL;
}

mem_pf *mem_prefault(void *const *blocks, const size_t *bytes, size_t n)
{
	mem_pf *pf = malloc(sizeof *pf + n * sizeof *pf->blk);
	if (pf == NULL)
		return NULL;
	pf->n = 0;
	for (size_t i = 0; i < n; i++) {
		mem_head h;
		if (blocks[i] == NULL)
			continue;
		h = *(mem_head *)((char *)blocks[i] - MEM_ALIGN);
		if (h.len == 0)	/* (not a mapping) */
			continue;
		/* (madvise rounds the length up to whole pages) */
		if (bytes && bytes[i] < h.len - MEM_ALIGN)
			h.len = MEM_ALIGN + bytes[i];
		if (bytes == NULL || bytes[i] > 0)
			pf->blk[pf->n++] = h;
	}
#ifdef MADV_POPULATE_WRITE
	if (pf->n > 0 && pthread_create(&pf->thr, NULL, mem_pf_run, pf) == 0)
		return pf;
#endif
	free(pf);
	return NULL;
}

void mem_prefault_end(mem_pf *pf)
{
	if (pf == NULL)
		return;
	pthread_join(pf->thr, NULL);
	free(pf);
}
