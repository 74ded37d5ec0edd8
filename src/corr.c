/*
** corr.c - streaming multi-tau correlator (see corr.h for the definitions).
**
** Layout for speed: the used pixels are listed once (pix[]); they are cut
** into tiles of P pixels, and every per-pixel array of a level is stored
** tile after tile (ring of the last K frames: K rows of P, G: nlag rows of
** P, S: P), so a tile's whole state is contiguous. Frames are
** gathered into batches of up to T (copied into a stage only when a push
** ends with an incomplete batch). A batch is processed tile by tile
** (OpenMP over tiles): the tile's pixels of the batch are converted to
** double once into a work buffer, then for each vector of pixels the lag
** accumulators stay in registers while the kernel runs down the rows.
** Coarse-grained rows of the next level are built from pairs of this
** level's new rows in the same tile pass, so every level is advanced while
** the data are in cache. The kernels and the tile pass are compiled twice,
** for AVX2+FMA (chosen at run time when the CPU has it) and for the
** baseline, so the binary stays portable.
*/
#pragma GCC optimize("fp-contract=fast")

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "corr.h"
#include "corr16.h"
#include "corrsp.h"
#include "intr.h"
#include "mem.h"
#include "num.h"

/* A tile's state of every level (about 100 bytes per pixel and level) is
** read and written once per batch, so longer batches spend less on it, up
** to where a batch's rows leave the cache: 512 frames was the best of
** 256-1024. A correlator that may run the integer kernel sizes its tiles
** by that kernel's rows of pairs (uint16, a quarter of the doubles), which
** gives each frame a longer contiguous run per tile. A correlator fed
** with events (o.events) has no rows of level 0, and its state is most of
** what a batch moves: its batches are longer, its tiles sized as for 512
** frames. The measurements behind these choices: bench/corr.lua, history
** in bench/README.md. */
#ifndef CORR_TF
#define CORR_TF 512		/* most frames per batch of frames */
#endif
#ifndef CORR_T
#define CORR_T 1024		/* most frames per batch of events */
#endif
#ifndef CORR_STAGE
#define CORR_STAGE (256u << 20)	/* bytes of frames staged for a batch */
#endif
#ifndef CORR_PF
#define CORR_PF 4		/* frames ahead to prefetch */
#endif
#ifndef CORR_PMAX
#define CORR_PMAX 1024		/* most pixels per tile */
#endif
#ifndef CORR_TILE
#define CORR_TILE (800u << 10)	/* bytes of a tile's level-0 rows: as
				   doubles, or as uint16 when the integer
				   kernel may run */
#endif
#define CORR_REF 256		/* frames in the rejection reference */
/* auto, measured with bench/corr.lua (bench/README.md): level 0 from
** frames runs sparse below a mean of CORR_SPARSE_MEAN counts per pixel
** and frame (from pushed events, always), a level above while the share
** of its pixel-frames with photons stays below CORR_SPARSE_OCC (bounded
** by 2^l times level 0's): the integer kernel takes a level above 0 at
** about 0.1 ns a pixel-frame, the sparse path 3-6 ns an event */
#ifndef CORR_SPARSE_MEAN
#define CORR_SPARSE_MEAN 0.002	/* (from frames the scan reads every count:
				   at 0.01 the sparse level 0 ran 0-20 %
				   slower per CPU-s, at 0.002 9 % faster) */
#endif
#define CORR_PF_THREADS 64	/* threads whose work is populated */
#ifndef CORR_SPARSE_OCC
#define CORR_SPARSE_OCC 0.03
#endif
#define CORR_SPLEV 8		/* levels that may run sparse, at most */
#ifndef CORR_TEAM_MIN
#define CORR_TEAM_MIN 1e6	/* least work (pixel-frames) for a team */
#endif

/* What each thread adds up during a run, in its own cache lines: shared
** sums taken with atomics had the two cores trading the lines of every
** frame's sum at every tile (a quarter of the second thread's speed). */
typedef struct corr_tls {
	double rowsum[CORR_T];	/* per frame of the run: sum over pixels */
	size_t n16[CORR16_LEVELS];	/* tile batches by corr16 */
	size_t nsp[CORR_SPLEV];	/* tile batches by corrsp, per level */
} __attribute__((aligned(64))) corr_tls;

/* consecutive pixels q .. q + n - 1 of a tile in static bin s: sums over
** a bin's pixels are taken run by run in registers (vectorised), not
** pixel by pixel into the bin's memory, a chain of dependent additions */
typedef struct corr_span {
	uint32_t q, n;
	int32_t s;
} corr_span;

typedef struct corr_level {
	int nlag, kmax;
	int lag[CORR_MAXLAG];
	double *hist;		/* ntile x kmax x P: ring of the last kmax */
	double *G;		/* ntile x nlag x P: sum of products */
	double *S;		/* ntile x P: sum of frames */
	double *head;		/* nthr x kmax x nstat: binned sums of frames
				   0..kmax-1, one block per thread */
	float *headp;		/* ntile x nlag x P: each pixel's sum of its
				   first lag[i] frames (its "future" mean) */
	size_t M;		/* frames of this level so far */
} corr_level;

struct corr {
	corr_opts o;
	size_t rows, cols, npix;
	size_t npx, P, ntile;
	size_t *pix;		/* detector index of each used pixel */
	int32_t *sbin;		/* 0-based static bin of each used pixel */
	corr_span *run;		/* runs of a tile's pixels in one static bin: */
	size_t *rfirst;		/* tile t's are run[rfirst[t] .. rfirst[t+1]) */
	size_t nrun;
	size_t nstat, ndyn;
	int32_t *s2d;		/* dynamic bin (1-based, 0 none) per static */
	size_t *scount;		/* used pixels per static bin */
	uint8_t *contig;	/* tile's pixels are contiguous */
	double *dark;		/* per used pixel (zeros without dark) */
	double *zero;		/* P zeros: a frame before the first */
	int has_dark;
	int nlev;		/* levels allocated */
	corr_level lev[CORR_MAXLEV];
	double *img;		/* per used pixel: sum of dark-subtracted frames
				   when normalising (else lev[0].S is it) */
	size_t T;		/* frames per batch */
	char *stage;		/* T staged frames of stage_dt */
	arr_dtype stage_dt;
	size_t nb;		/* frames waiting for the next batch */
	size_t nstaged;		/* the first nstaged of them are in stage */
	const void *bfr[CORR_T];
	size_t bidx[CORR_T];
	double bmean[CORR_T];	/* the caller's mean of each, NaN: none */
	size_t seen, accepted;
	double *ivt;		/* per accepted frame: mean intensity */
	size_t *fidx;		/* per accepted frame: stream index */
	size_t ivt_cap;
	size_t *rej, nrej, rej_cap;
	double *seg;		/* nseg x nstat */
	size_t nseg, seg_cap;
	double *seg_base;	/* nstat: binned img at the last boundary */
	int nthr;
	double **work;		/* per thread */
	corr_tls *tls;		/* per thread */
	int use16;		/* levels below n16lev may take corr16's
				   integer kernel */
	int n16lev;
	uint16_t **work16;	/* per thread, for corr16: one block per level
				   at woff16[l] */
	size_t woff16[CORR16_LEVELS];
	uint16_t *hist16[CORR16_LEVELS];	/* ntile x K x P: the level's
				   last K frames as uint16, valid where h16ok */
	uint8_t *h16ok[CORR16_LEVELS];
	uint8_t *stale[CORR16_LEVELS];	/* the double ring lags behind hist16
				   (corr16 ran last): corr_ring_sync */
	size_t n16[CORR16_LEVELS], ntb;	/* tile batches by corr16, in all */
	uint32_t **spw;		/* per thread, for corrsp: its windows,
				   sums and events of the levels above
				   (NULL until a batch takes the
				   sparse path: corr_sparse_work) */
	size_t spevw;		/* words of one level's events there */
	uint32_t *spev;		/* spcap words: the events of a run */
	const uint32_t *spfev[CORR_T];	/* each frame's, in spev */
	uint32_t *sptoff;	/* T x (ntile + 1): their tiles' offsets */
	size_t spcap;		/* events a thread's frames may have */
	uint32_t sptop;		/* the run's largest count */
	int sp_lev;		/* this run's levels 0 .. sp_lev - 1 take
				   corrsp (as far as they apply) */
	size_t nsp[CORR_SPLEV];	/* tile batches by corrsp, per level */
	/* pushed events (corr_push_events), staged like the scan's */
	uint32_t *evmap;	/* per detector pixel: tile << 10 | pixel in
				   it, UINT32_MAX if unused */
	uint32_t *evimg;	/* npix: a frame's counts (unsorted events) */
	size_t evn;		/* frames of events waiting (then nb = 0) */
	size_t evused;		/* their words in spev */
	uint32_t evtop;		/* their largest count */
	int ev_run;		/* this run's level 0 comes from them */
	size_t sp_r0;		/* the run's first frame in spfev, sptoff */
	size_t woff[CORR_MAXLEV + 2];	/* + a scratch level for the top's pairs */
	mem_pf *pf;		/* the state's pages populated in the
				   background (mem.h), or NULL */
};

typedef double v4d __attribute__((vector_size(32), aligned(32)));

/* frames of counts the integer kernel (corr16) may take */
static int corr_int_dtype(arr_dtype dt)
{
	return dt == ARR_U8 || dt == ARR_U16 || dt == ARR_U32 || dt == ARR_I32;
}

/* array.h's sizes, kept here so that the core links without array.c */
static size_t corr_dtype_size(arr_dtype dt)
{
	static const size_t sz[ARR_NTYPES] = {8, 4, 4, 2, 4, 1};
	return sz[dt];
}

/* ---------------------------------------------------------------- kernel */

/* The kernel: for each block of VW 4-pixel vectors, every lag's
** accumulators live in registers while the rows of the tile go by; x is
** loaded once per row and each lagged row once per lag. NL and VW are
** constants in the specialised copies so that the loops unroll; VW = 2 for
** 4 lags keeps 8 independent FMA chains in flight (the FMA latency would
** otherwise bound the row loop). P is a multiple of 8.
** The next level's rows come out of the same pass: the level's frame M + j
** (X row K + j) closes a pair when M + j is odd, and the pair's sum goes to
** the next level's row (M + j) / 2 - M / 2 of nx. The rows are taken two
** at a time from the first even frame on, so the pair is in registers and
** the loop has no branch on parity. */
#define CORR_KERN_ROW(NL, VW, R, XV)					\
	{								\
		const double *xr = X + (R) * P + b;			\
		_Pragma("GCC unroll 4")					\
		for (int v = 0; v < (VW); v++) {			\
			v4d x = *(const v4d *)(xr + 4 * v);		\
			s[v] += x;					\
			_Pragma("GCC unroll 32")			\
			for (int i = 0; i < (NL); i++)			\
				acc[i][v] += x * *(const v4d *)		\
					(xr + 4 * v - off[i]);		\
			XV[v] = x;					\
		}							\
	}

#define CORR_KERN_PAIR(VW, A, B)					\
	{								\
		_Pragma("GCC unroll 4")					\
		for (int v = 0; v < (VW); v++)				\
			*(v4d *)(nx + o * P + b + 4 * v) = A[v] + B[v];	\
		o++;							\
	}

#define CORR_KERN_BODY(NL, VW)						\
	size_t off[CORR_MAXLAG];					\
	for (int i = 0; i < (NL); i++)					\
		off[i] = (size_t)lag[i] * P;				\
	for (size_t b = 0; b < P; b += 4 * (VW)) {			\
		v4d acc[CORR_MAXLAG][VW], s[VW], x0[VW], x1[VW];	\
		size_t o = 0, r = K;					\
		_Pragma("GCC unroll 4")					\
		for (int v = 0; v < (VW); v++) {			\
			s[v] = *(const v4d *)(S + b + 4 * v);		\
			_Pragma("GCC unroll 32")			\
			for (int i = 0; i < (NL); i++)			\
				acc[i][v] = *(const v4d *)(G + (size_t)i * P \
							    + b + 4 * v); \
		}							\
		if (M & 1) {						\
			_Pragma("GCC unroll 4")				\
			for (int v = 0; v < (VW); v++)			\
				x0[v] = *(const v4d *)(X + (K - 1) * P + b \
						       + 4 * v);	\
			CORR_KERN_ROW(NL, VW, r, x1)			\
			CORR_KERN_PAIR(VW, x0, x1)			\
			r++;						\
		}							\
		for (; r + 1 < K + n; r += 2) {				\
			CORR_KERN_ROW(NL, VW, r, x0)			\
			CORR_KERN_ROW(NL, VW, r + 1, x1)		\
			CORR_KERN_PAIR(VW, x0, x1)			\
		}							\
		if (r < K + n)						\
			CORR_KERN_ROW(NL, VW, r, x0)			\
		_Pragma("GCC unroll 4")					\
		for (int v = 0; v < (VW); v++) {			\
			*(v4d *)(S + b + 4 * v) = s[v];			\
			_Pragma("GCC unroll 32")			\
			for (int i = 0; i < (NL); i++)			\
				*(v4d *)(G + (size_t)i * P + b + 4 * v) = \
					acc[i][v];			\
		}							\
	}

#define CORR_KERN_ARGS const double *restrict X, size_t K, size_t n,	\
	size_t P, const int *lag, int nl, double *restrict G,		\
	double *restrict S, size_t M, double *restrict nx
#define CORR_KERN_PASS X, K, n, P, lag, nl, G, S, M, nx

#define CORR_KERN_DEF(name, attr)					\
	static attr void name##_4(CORR_KERN_ARGS)			\
	{ (void)nl; CORR_KERN_BODY(4, 2) }				\
	static attr void name##_8(CORR_KERN_ARGS)			\
	{ (void)nl; CORR_KERN_BODY(8, 1) }				\
	static attr void name##_n(CORR_KERN_ARGS)			\
	{ CORR_KERN_BODY(nl, 1) }					\
	static attr void name(CORR_KERN_ARGS)				\
	{								\
		if (nl == 8)						\
			name##_8(CORR_KERN_PASS);			\
		else if (nl == 4)					\
			name##_4(CORR_KERN_PASS);			\
		else							\
			name##_n(CORR_KERN_PASS);			\
	}

#if defined(__x86_64__) && defined(__GNUC__)
CORR_KERN_DEF(corr_kern_avx2, __attribute__((target("avx2,fma"))))
#define CORR_HAVE_AVX2 1
#endif
CORR_KERN_DEF(corr_kern_base, )

typedef void (*corr_kern_fn)(CORR_KERN_ARGS);

static const char *const corr_kernel_names[] = {"auto", "base", "avx2",
						"avx512"};

/* the best kernel of this CPU; the binary stays portable */
static corr_kernel corr_kernel_best(void)
{
#ifdef CORR_HAVE_AVX2
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return corr16_isa() == CORR16_AVX512 ? CORR_KERNEL_AVX512 :
		       CORR_KERNEL_AVX2;
#endif
	return CORR_KERNEL_BASE;
}

const char *corr_kernel_name(const corr *c)
{
	return corr_kernel_names[c ? c->o.kernel : corr_kernel_best()];
}

int corr_kernel_parse(const char *name)
{
	for (int k = 0; k < 4; k++)
		if (strcmp(name, corr_kernel_names[k]) == 0)
			return k;
	return -1;
}

/* the double kernel of a correlator's choice */
static corr_kern_fn corr_kern(const corr *c)
{
#ifdef CORR_HAVE_AVX2
	if (c->o.kernel != CORR_KERNEL_BASE)
		return corr_kern_avx2;
#endif
	(void)c;
	return corr_kern_base;
}

/* o->kernel made definite: AUTO becomes the best, and one the CPU does
** not run is an error */
static int corr_kernel_pick(corr_opts *o, char *err)
{
	corr_kernel best = corr_kernel_best();
	if ((int)o->kernel < 0 || o->kernel > CORR_KERNEL_AVX512)
		return err_set(err, "corr: unknown kernel %d", (int)o->kernel);
	if (o->kernel == CORR_KERNEL_AUTO)
		o->kernel = best;
	else if (o->kernel > best)
		return err_set(err, "corr: kernel %s needs a CPU that has it "
			       "(this one runs %s at best)",
			       corr_kernel_names[o->kernel],
			       corr_kernel_names[best]);
	return 0;
}

/* Threads for a parallel loop over `work` pixel-frames (or pixel-delays).
** Waking a team costs microseconds, and when another process holds a
** core the whole team waits for a descheduled member at every barrier:
** windows of a few frames on a small detector spent 20 s instead of 0.1 s
** so. Work that one thread does in about a millisecond stays on one. */
static int corr_team(const corr *c, double work)
{
	return work < CORR_TEAM_MIN ? 1 : c->nthr;
}

/* ----------------------------------------------------------- set-up */

void corr_opts_default(corr_opts *o)
{
	memset(o, 0, sizeof *o);
	o->dpl = 4;
	o->lags0 = 8;
	o->stride = 1;
}

static void corr_level_lags(const corr_opts *o, int l, corr_level *L)
{
	L->nlag = 0;
	if (l == 0)
		for (int k = 1; k <= o->lags0; k++)
			L->lag[L->nlag++] = k;
	else
		for (int k = o->dpl + 1; k <= 2 * o->dpl; k++)
			L->lag[L->nlag++] = k;
	L->kmax = L->lag[L->nlag - 1];
}

static int corr_check_opts(const corr_opts *o, char *err)
{
	if (o->dpl < 1 || 2 * o->dpl > CORR_MAXLAG)
		return err_set(err, "corr: dpl must be 1..%d (got %d)",
			       CORR_MAXLAG / 2, o->dpl);
	if (o->lags0 < 1 || o->lags0 > 2 * o->dpl)
		return err_set(err, "corr: lags0 must be 1..2 dpl = %d (got "
			       "%d)", 2 * o->dpl, o->lags0);
	if (o->stride < 1)
		return err_set(err, "corr: stride must be >= 1");
	if (o->last && o->last <= o->first)
		return err_set(err, "corr: frame range is empty (first %zu, "
			       "last %zu)", o->first + 1, o->last);
	if (o->reject_sigma < 0 || !isfinite(o->reject_sigma))
		return err_set(err, "corr: reject_sigma must be >= 0");
	return 0;
}

/* Zeroed blocks (mem.h): the large ones are fresh mappings in huge pages,
** faulted in (and cleared) by the threads that first use them, during the
** first batch. A memset here had the kernel clear every page of a fresh
** 1.3 GB of state and then wrote it again, on one thread: a fifth of a
** 1 Mpx x 1000-frame run. */
static void *corr_zalloc(size_t bytes, char *err)
{
	void *p = mem_alloc(bytes, 1, err);
	if (p == NULL)
		err_prefix(err, "corr");
	return p;
}

/* n doubles */
static void *corr_aligned(size_t n, char *err)
{
	if (n > SIZE_MAX / 16)
		return err_set(err, "corr: allocation of %zu doubles "
			       "overflows", n), NULL;
	return corr_zalloc(n * sizeof(double), err);
}

/* the runs of every tile (two passes: count, then fill) */
static int corr_runs(corr *c, char *err)
{
	size_t nr = 0;
	for (int fill = 0; fill < 2; fill++) {
		nr = 0;
		for (size_t t = 0; t < c->ntile; t++) {
			size_t b = t * c->P;
			size_t nv = c->npx - b < c->P ? c->npx - b : c->P;
			if (fill)
				c->rfirst[t] = nr;
			for (size_t q = 0; q < nv; q++) {
				if (q > 0 && c->sbin[b + q] == c->sbin[b + q - 1]) {
					if (fill)
						c->run[nr - 1].n++;
					continue;
				}
				if (fill)
					c->run[nr] = (corr_span){(uint32_t)q, 1,
								c->sbin[b + q]};
				nr++;
			}
		}
		if (fill)
			c->rfirst[c->ntile] = c->nrun = nr;
		else if (!(c->run = err_malloc(nr, sizeof *c->run, err)) ||
			 !(c->rfirst = err_malloc(c->ntile + 1,
						  sizeof *c->rfirst, err)))
			return -1;
	}
	return 0;
}

/* the used pixels: in a static bin that lies in a dynamic bin */
static int corr_pixels(corr *c, const qmap *dyn, const qmap *st, char *err)
{
	size_t n = 0;
	for (size_t i = 0; i < c->npix; i++)
		if (st->map[i] > 0 && c->s2d[st->map[i] - 1] > 0)
			n++;
	if (n == 0)
		return err_set(err, "corr: the partition has no pixels "
			       "(everything masked)");
	c->npx = n;
	c->P = CORR_TILE / ((c->use16 ? sizeof(uint16_t) : sizeof(double)) *
			    ((c->T < CORR_TF ? c->T : CORR_TF) +
			     (size_t)c->o.lags0));
	c->P = c->P < CORR16_P ? CORR16_P : c->P > CORR_PMAX ? CORR_PMAX :
	       c->P / CORR16_P * CORR16_P;
	if (n < c->P)
		c->P = (n + CORR16_P - 1) / CORR16_P * CORR16_P;
	c->ntile = (n + c->P - 1) / c->P;
	c->pix = err_malloc(n, sizeof *c->pix, err);
	c->sbin = err_malloc(n, sizeof *c->sbin, err);
	c->scount = err_calloc(c->nstat, sizeof *c->scount, err);
	c->contig = err_calloc(c->ntile, 1, err);
	if (c->o.normalize)
		c->img = corr_aligned(c->ntile * c->P, err);
	c->dark = corr_aligned(c->ntile * c->P, err);
	c->zero = corr_aligned(c->P, err);
	if (!c->zero || !c->pix || !c->sbin || !c->scount || !c->contig ||
	    (c->o.normalize && !c->img) || !c->dark)
		return -1;
	n = 0;
	for (size_t i = 0; i < c->npix; i++) {
		int32_t s = st->map[i];
		if (s > 0 && c->s2d[s - 1] > 0) {
			c->pix[n] = i;
			c->sbin[n] = s - 1;
			c->scount[s - 1]++;
			if (c->o.dark && !isfinite(c->o.dark[i]))
				return err_set(err, "corr: the dark image is "
					       "%g at pixel (row %zu, col %zu)",
					       c->o.dark[i], i / c->cols + 1,
					       i % c->cols + 1);
			if (c->o.dark)
				c->dark[n] = c->o.dark[i];
			n++;
		}
	}
	for (size_t t = 0; t < c->ntile; t++) {
		size_t b = t * c->P, nv = c->npx - b < c->P ? c->npx - b : c->P;
		c->contig[t] = c->pix[b + nv - 1] - c->pix[b] == nv - 1;
	}
	(void)dyn;
	return corr_runs(c, err);
}

/* a level's arrays appear when its first frame does, so that memory
** follows the number of frames actually seen */
static int corr_add_level(corr *c, char *err)
{
	int l = c->nlev;
	corr_level *L = &c->lev[l];
	size_t tp = c->ntile * c->P, nlag, k16, bytes;
	char *b;
	corr_level_lags(&c->o, l, L);
	nlag = (size_t)L->nlag;
	k16 = l < c->n16lev ? CORR16_K : 0;
	/* one block, so that even a small detector's level takes whole huge
	** pages: G, S, headp, the uint16 ring of an integer level, and last
	** the double ring, whose pages such a level never touches (tp is a
	** multiple of 32: every part stays 64-byte aligned) */
	bytes = tp * ((nlag + 1 + (size_t)L->kmax) * sizeof(double) +
		      nlag * sizeof(float) + k16 * sizeof(uint16_t));
	L->head = err_calloc((size_t)c->nthr * (size_t)L->kmax * c->nstat,
			     sizeof(double), err);
	if (!L->head || !(b = corr_zalloc(bytes, err))) {
		free(L->head);
		memset(L, 0, sizeof *L);
		return -1;
	}
	L->G = (double *)b;
	L->S = L->G + nlag * tp;
	L->headp = (float *)(L->S + tp);
	/* only integer levels (l < n16lev <= CORR16_LEVELS) have a uint16
	** ring: levels go to CORR_MAXLEV, hist16 has CORR16_LEVELS slots */
	if (k16)
		c->hist16[l] = (uint16_t *)(L->headp + nlag * tp);
	L->hist = (double *)((char *)(L->headp + nlag * tp) +
			     k16 * tp * sizeof(uint16_t));
	c->nlev++;
	return 0;
}

/* corrsp's scratch per thread (the pixels' records, the events of the
** levels above 0), made when a batch first takes the sparse path: dense
** data never pays for it (zeroed, it was a third of a small detector's
** correlator set-up); level 0's events come later (corr_sparse_scan) */
static int corr_sparse_work(corr *c, char *err)
{
	size_t words;
	uint32_t **w;
	if (c->spw != NULL)
		return 0;
	c->spevw = (c->T / 2 + 2) * c->P + 64;
	words = CORRSP_REC * c->P + 2 * c->spevw + 2 * (c->T / 2 + 2);
	if (!(w = err_calloc((size_t)c->nthr, sizeof *w, err)))
		return -1;
	for (int t = 0; t < c->nthr; t++)	/* (sized in doubles) */
		if (!(w[t] = corr_aligned(words / 2 + 1, err))) {
			while (t-- > 0)
				mem_free(w[t]);
			free(w);
			return -1;
		}
	c->spw = w;
	return 0;
}

/* per-thread work: for each level, K + rows of a batch at that level */
static int corr_work(corr *c, char *err)
{
	corr_level tmp;
	size_t off = 0;
	for (int l = 0; l <= CORR_MAXLEV; l++) {
		corr_level_lags(&c->o, l, &tmp);
		c->woff[l] = off;
		off += ((size_t)tmp.kmax + (c->T >> (l < 20 ? l : 20)) + 2) *
		       c->P;
	}
	c->woff[CORR_MAXLEV + 1] = off;
	c->work = err_calloc((size_t)c->nthr, sizeof *c->work, err);
	c->tls = aligned_alloc(64, (size_t)c->nthr * sizeof *c->tls);
	if (!c->work || !c->tls)
		return c->tls ? -1 : err_set(err, "corr: out of memory");
	for (int t = 0; t < c->nthr; t++)
		if (!(c->work[t] = corr_aligned(off, err)))
			return -1;
	if (!c->use16)
		return 0;
	/* above level 0 the kernel has lags 5..8 only; a level takes it
	** while a batch gives it pairs of frames */
	c->n16lev = 1;
	while (c->o.dpl == CORR16_K / 2 && c->n16lev < CORR16_LEVELS &&
	       c->T >> c->n16lev >= 2)
		c->n16lev++;
	off = 0;
	for (int l = 0; l < c->n16lev; l++) {
		size_t n = corr16_work(c->P, c->T >> l);
		c->woff16[l] = off;
		off += (n + 31) / 32 * 32;	/* 64-byte aligned blocks */
		if (!(c->h16ok[l] = err_calloc(c->ntile, 1, err)) ||
		    !(c->stale[l] = err_calloc(c->ntile, 1, err)))
			return -1;
	}
	if (!(c->work16 = err_calloc((size_t)c->nthr, sizeof *c->work16, err)))
		return -1;
	for (int t = 0; t < c->nthr; t++)	/* (sized in doubles: 4 u16 each) */
		if (!(c->work16[t] = corr_aligned(off / 4 + 1, err)))
			return -1;
	return 0;
}

/* the bytes of level l's block to populate: an integer level's double
** ring (last in its block) is touched only if the level ever falls back
** to the double kernel (up to 47 % of the state, left unbacked) */
static size_t corr_pf_bytes(const corr *c, int l)
{
	const corr_level *L = &c->lev[l];
	return l < c->n16lev ? (size_t)((char *)L->hist - (char *)L->G)
			     : SIZE_MAX;
}

/* With the last frame known, every level the run can use is made now and
** its pages, with the threads' work, are populated in the background
** while the caller reads its first frames (mem_prefault): first touches
** of fresh memory are the largest cost of a fresh correlator here. */
static int corr_level_idle(const corr *c, int l);

static int corr_prefault(corr *c, char *err)
{
	void *b[CORR_MAXLEV + 2 * CORR_PF_THREADS];
	size_t len[CORR_MAXLEV + 2 * CORR_PF_THREADS], n = 0;
	if (!c->o.last)
		return 0;
	while (c->nlev < CORR_MAXLEV && !corr_level_idle(c, c->nlev))
		if (corr_add_level(c, err))
			return -1;
	b[n] = c->lev[0].G;	/* level 0 and the threads' work first */
	len[n++] = corr_pf_bytes(c, 0);
	for (int t = 0; t < c->nthr && t < CORR_PF_THREADS; t++) {
		b[n] = c->work[t];
		len[n++] = SIZE_MAX;
		if (c->work16) {
			b[n] = c->work16[t];
			len[n++] = SIZE_MAX;
		}
	}
	for (int l = 1; l < c->nlev; l++) {
		b[n] = c->lev[l].G;
		len[n++] = corr_pf_bytes(c, l);
	}
	c->pf = mem_prefault(b, len, n);
	return 0;
}

/* Frames per batch: what CORR_STAGE holds as uint16 frames, or as events
** (half a byte per pixel-frame at most, corr_sparse_buf) when the
** correlator is fed with events */
static size_t corr_batch_len(const corr_opts *o, size_t npix)
{
	size_t T = o->events ? 2 * CORR_STAGE / npix : CORR_STAGE / (2 * npix),
	       top = o->events ? CORR_T : CORR_TF;
	return T < 16 ? 16 : T > top ? top : T;
}

int corr_new(corr **out, const qmap *dyn, const qmap *st, const corr_opts *o,
	     char *err)
{
	corr *c;
	corr_opts oo = *o;
	*out = NULL;
	if (corr_check_opts(o, err) || corr_kernel_pick(&oo, err))
		return -1;
	if (st == NULL)
		st = dyn;
	if (!(c = err_calloc(1, sizeof *c, err)))
		return -1;
	c->o = oo;
	c->rows = dyn->rows;
	c->cols = dyn->cols;
	c->npix = dyn->npix;
	c->nstat = st->nbins;
	c->ndyn = dyn->nbins;
	c->T = corr_batch_len(o, c->npix);
#ifdef _OPENMP
	c->nthr = o->nthreads > 0 ? o->nthreads : omp_get_max_threads();
#else
	c->nthr = 1;
#endif
	c->use16 = !o->dark && !o->normalize && o->lags0 == CORR16_K &&
		   c->o.kernel != CORR_KERNEL_BASE && corr16_available();
	if (!(c->s2d = err_calloc(c->nstat, sizeof *c->s2d, err)) ||
	    qmap_nest(st, dyn, c->s2d, err) || corr_pixels(c, dyn, st, err) ||
	    !(c->seg_base = err_calloc(c->nstat, sizeof(double), err)) ||
	    corr_work(c, err) || corr_add_level(c, err) ||
	    corr_prefault(c, err)) {
		corr_free(c);
		return -1;
	}
	c->has_dark = c->o.dark != NULL;
	c->o.dark = NULL;	/* copied into c->dark; not kept */
	*out = c;
	return 0;
}

void corr_free(corr *c)
{
	if (c == NULL)
		return;
	mem_prefault_end(c->pf);
	for (int l = 0; l < c->nlev; l++) {
		corr_level *L = &c->lev[l];
		mem_free(L->G);	/* (the level's block) */
		free(L->head);
	}
	if (c->work)
		for (int t = 0; t < c->nthr; t++)
			mem_free(c->work[t]);
	free(c->work);
	free(c->tls);
	if (c->work16)
		for (int t = 0; t < c->nthr; t++)
			mem_free(c->work16[t]);
	free(c->work16);
	if (c->spw)
		for (int t = 0; t < c->nthr; t++)
			mem_free(c->spw[t]);
	free(c->spw);
	mem_free(c->spev);
	free(c->sptoff);
	free(c->evmap);
	free(c->evimg);
	for (int l = 0; l < CORR16_LEVELS; l++) {
		free(c->h16ok[l]);
		free(c->stale[l]);
	}
	free(c->pix); free(c->sbin); free(c->s2d); free(c->scount);
	free(c->run); free(c->rfirst);
	free(c->contig); mem_free(c->dark); mem_free(c->img);
	mem_free(c->zero);
	free(c->ivt); free(c->fidx); free(c->rej);
	free(c->seg); free(c->seg_base); free(c->stage);
	free(c);
}

/* Back to no frames, keeping every allocation (a window's correlator
** reused for the next window, instead of a new one whose state is faulted
** in again). Each level's sums, first-frame sums and uint16 ring are
** zeroed; its double ring is not: nothing reads a slot of it before the
** level's frames have been written there again. */
void corr_reset(corr *c)
{
	size_t tp = c->ntile * c->P;
	for (int l = 0; l < c->nlev; l++) {
		corr_level *L = &c->lev[l];
		size_t nlag = (size_t)L->nlag;
		size_t k16 = l < c->n16lev ? CORR16_K : 0;
		/* (G, S, headp and the uint16 ring lie in that order) */
		memset(L->G, 0, tp * ((nlag + 1) * sizeof(double) +
				      nlag * sizeof(float) +
				      k16 * sizeof(uint16_t)));
		memset(L->head, 0, (size_t)c->nthr * (size_t)L->kmax *
		       c->nstat * sizeof(double));
		L->M = 0;
	}
	for (int l = 0; l < c->n16lev; l++) {
		memset(c->h16ok[l], 0, c->ntile);
		memset(c->stale[l], 0, c->ntile);
	}
	if (c->img)
		memset(c->img, 0, tp * sizeof(double));
	memset(c->seg_base, 0, c->nstat * sizeof(double));
	memset(c->n16, 0, sizeof c->n16);
	c->ntb = 0;
	memset(c->nsp, 0, sizeof c->nsp);
	c->nb = c->nstaged = 0;
	c->evn = c->evused = 0;
	c->evtop = 0;
	c->seen = c->accepted = 0;
	c->nrej = c->nseg = 0;
}

size_t corr_memory(const corr *c)
{
	size_t b = sizeof *c, tp = c->ntile * c->P * sizeof(double);
	for (int l = 0; l < c->nlev; l++) {
		const corr_level *L = &c->lev[l];
		b += tp * (size_t)(L->kmax + L->nlag + 1) + tp / 2 *
		     (size_t)L->nlag + (size_t)c->nthr *
		     (size_t)L->kmax * c->nstat * sizeof(double);
	}
	b += 2 * tp + c->npx * (sizeof(size_t) + sizeof(int32_t));
	b += (size_t)c->nthr * c->woff[CORR_MAXLEV + 1] * sizeof(double);
	b += (size_t)c->nthr * sizeof *c->tls;
	for (int l = 0; c->use16 && l < c->n16lev; l++)
		b += ((size_t)c->nthr * corr16_work(c->P, c->T >> l) +
		      (l < c->nlev ? c->ntile * CORR16_K * c->P : 0)) *
		     sizeof(uint16_t) + 2 * c->ntile;
	if (c->spw)
		b += ((size_t)c->nthr * (CORRSP_REC * c->P + 2 * c->spevw
					 + 2 * (c->T / 2 + 2)) +
		      (c->spev ? c->spcap + c->T * (c->ntile + 1) : 0)) *
		     sizeof(uint32_t);
	b += c->nrun * sizeof *c->run + (c->ntile + 1) * sizeof *c->rfirst;
	if (c->evmap)
		b += c->npix * sizeof *c->evmap +
		     c->ntile * c->P * sizeof *c->evimg;
	b += c->ivt_cap * (sizeof(double) + sizeof(size_t));
	return b;
}

size_t corr_frames(const corr *c)
{
	return c->accepted;
}

size_t corr_batch_frames(const corr *c)
{
	return c->T;
}

double corr_int_share(const corr *c, int level)
{
	if (level < 0 || level >= CORR16_LEVELS || c->ntb == 0)
		return 0;
	return (double)c->n16[level] / (double)c->ntb;
}

double corr_sparse_share(const corr *c)
{
	return corr_sparse_share_at(c, 0);
}

double corr_sparse_share_at(const corr *c, int level)
{
	if (level < 0 || level >= CORR_SPLEV || c->ntb == 0)
		return 0;
	return (double)c->nsp[level] / (double)c->ntb;
}

/* ------------------------------------------------------------- streaming */

/* the per-pixel time sums of the dark-subtracted, unscaled frames */
static const double *corr_img(const corr *c)
{
	return c->img ? c->img : c->lev[0].S;
}

/* schedule of one run: new frames per level (a level's frames pair up
** as (0,1), (2,3), ...; an odd last frame waits in the ring) */
typedef struct corr_sched {
	size_t nn[CORR_MAXLEV + 1];
	int top;		/* last level with new frames */
} corr_sched;

/* Whether level l can never have a pair of frames: with the last frame
** known (o.last), at most n used frames come and level l gets at most
** n >> l of them; at or below its smallest lag it adds no delay to the
** result, nor do the levels above it. Such a level is not made: each
** costs as much fresh state as level 1 (a fifth of the state of 2000
** frames), and the first touch of fresh memory is a run's largest cost
** on this machine. Its pairs go to scratch, as the top level's do. */
static int corr_level_idle(const corr *c, int l)
{
	size_t n;
	corr_level L;
	if (!c->o.last || l == 0)
		return 0;
	n = (c->o.last - c->o.first + c->o.stride - 1) / c->o.stride;
	corr_level_lags(&c->o, l, &L);
	return (l < 64 ? n >> l : 0) <= (size_t)L.lag[0];
}

static int corr_schedule(corr *c, size_t m, corr_sched *s, char *err)
{
	memset(s, 0, sizeof *s);
	s->nn[0] = m;
	for (int l = 0; l < CORR_MAXLEV; l++) {
		size_t M;
		if (s->nn[l] == 0)
			break;
		if (l == c->nlev && corr_level_idle(c, l))
			break;
		if (l == c->nlev && corr_add_level(c, err))
			return -1;
		s->top = l;
		M = c->lev[l].M;
		s->nn[l + 1] = l + 1 < CORR_MAXLEV ?
			       (M + s->nn[l]) / 2 - M / 2 : 0;
	}
	return 0;
}

/* the tile's pixels of frame fr, dark-subtracted (dk may be NULL), times
** sc (1 unless normalising, when img is given), into row; unscaled values
** are added to img when there is one. The loops vectorise (omp simd); the
** frame's sum is taken afterwards from the row (corr_row_sum). */
#define CORR_CONV_LOOP(VAL)						\
	if (dk == NULL && img == NULL) {	/* no dark, scale 1 */	\
		_Pragma("omp simd")					\
		for (size_t i = 0; i < nv; i++)				\
			row[i] = (double)(VAL);				\
	} else if (img) {						\
		_Pragma("omp simd")					\
		for (size_t i = 0; i < nv; i++) {			\
			double d = (double)(VAL) - dk[i];		\
			img[i] += d;					\
			row[i] = d * sc;				\
		}							\
	} else {							\
		_Pragma("omp simd")					\
		for (size_t i = 0; i < nv; i++)				\
			row[i] = ((double)(VAL) - dk[i]) * sc;		\
	}

#define CORR_CONV(T)							\
	{								\
		const T *f = (const T *)fr, *src = f + pix[0];		\
		if (contig) {						\
			CORR_CONV_LOOP(src[i])				\
		} else {						\
			CORR_CONV_LOOP(f[pix[i]])			\
		}							\
	}

static inline __attribute__((always_inline))
void corr_convert(const void *fr, arr_dtype dt, const size_t *pix,
			   size_t nv, int contig, const double *dk, double sc,
			   double *img, double *row)
{
	switch (dt) {
	case ARR_U8: CORR_CONV(uint8_t) break;
	case ARR_U16: CORR_CONV(uint16_t) break;
	case ARR_U32: CORR_CONV(uint32_t) break;
	case ARR_I32: CORR_CONV(int32_t) break;
	case ARR_F32: CORR_CONV(float) break;
	case ARR_F64: CORR_CONV(double) break;
	default: break;
	}
}

/* sum of a converted row (P values, zero-padded, 64-byte aligned), in
** vector accumulators: an "omp simd" reduction in the conversion loop
** cost a spill and a serial sum per frame, a fifth of the whole pass */
static inline __attribute__((always_inline))
double corr_row_sum(const double *row, size_t P)
{
	v4d a = {0, 0, 0, 0}, b = {0, 0, 0, 0};
	for (size_t i = 0; i < P; i += 8) {
		a += *(const v4d *)(row + i);
		b += *(const v4d *)(row + i + 4);
	}
	a += b;
	return (a[0] + a[1]) + (a[2] + a[3]);
}

/* binned sums of a level's first kmax frames, for the "future" means;
** each thread adds into its own block (no atomics: at the start every
** level passes here once per pixel and frame) */
static void corr_head(corr *c, corr_level *L, size_t t, const double *X,
		      size_t n, size_t nv)
{
	size_t K = (size_t)L->kmax, P = c->P, me = 0;
#ifdef _OPENMP
	me = (size_t)omp_get_thread_num();
#endif
	for (size_t r = 0; r < n && L->M + r < K; r++) {
		double *h = L->head + (me * K + L->M + r) * c->nstat;
		const double *row = X + (K + r) * P;
		float *hp = L->headp + t * (size_t)L->nlag * P;
		float *cum = hp + (size_t)(L->nlag - 1) * P;
		for (size_t k = c->rfirst[t]; k < c->rfirst[t + 1]; k++) {
			const corr_span *u = &c->run[k];
			double sum = 0;
			#pragma omp simd reduction(+:sum)
			for (size_t i = u->q; i < (size_t)u->q + u->n; i++)
				sum += row[i];
			h[u->s] += sum;
		}
		/* the largest lag (K) takes every frame here: its sum is the
		** running one, and a shorter lag's sum is a copy of it once
		** its frames are in (the same float additions, in the same
		** order, as adding each frame to every lag's sum) */
		#pragma omp simd
		for (size_t i = 0; i < nv; i++)
			cum[i] += (float)row[i];
		for (int j = 0; j + 1 < L->nlag; j++)
			if (L->M + r + 1 == (size_t)L->lag[j])
				memcpy(hp + (size_t)j * P, cum, nv * sizeof *cum);
	}
}

/* a new row whose lagged rows lie anywhere (ring, new rows, before the
** start): one pass per lag, vectorised over the tile */
static inline __attribute__((always_inline))
void corr_row(const double *x, const double *const *lp, int nl, size_t P,
	      double *restrict G, double *restrict S)
{
	#pragma omp simd
	for (size_t b = 0; b < P; b++)
		S[b] += x[b];
	for (int i = 0; i < nl; i++) {
		const double *y = lp[i];
		double *g = G + (size_t)i * P;
		#pragma omp simd
		for (size_t b = 0; b < P; b++)
			g[b] += x[b] * y[b];
	}
}

/* the pairs closed by a level's new rows, for the row-by-row path (the
** kernel makes them itself): see CORR_KERN_BODY */
static void corr_pairs(const double *nw, const double *ring, size_t K,
		       size_t M, size_t n, size_t P, double *restrict nx)
{
	size_t o = 0;
	for (size_t j = 0; j < n; j++) {
		const double *x = nw + j * P, *y;
		if (((M + j) & 1) == 0)
			continue;
		y = j ? x - P : ring + ((M - 1) % K) * P;
		#pragma omp simd
		for (size_t b = 0; b < P; b++)
			nx[o * P + b] = x[b] + y[b];
		o++;
	}
}

/* A level's n new rows (X rows K..K+n-1); nx receives the next level's
** new rows. The last K frames of the level live in a
** ring (frame g in slot g mod K). With enough new rows the ring is
** unrolled in front of them and the register kernel runs once; a level
** that gets only a row or two per batch (the deep levels) instead finds
** its lagged rows through pointers, so it costs a row's work and not K
** rows of copying. Only the last min(n, K) rows go back to the ring. */
static inline __attribute__((always_inline))
void corr_level_rows(corr *c, corr_level *L, size_t t, double *X, size_t n,
		     double *nx, corr_kern_fn kern)
{
	size_t P = c->P, K = (size_t)L->kmax, M = L->M;
	size_t nv = c->npx - t * P < P ? c->npx - t * P : P;
	double *nw = X + K * P, *ring = L->hist + t * K * P;
	double *G = L->G + t * (size_t)L->nlag * P, *S = L->S + t * P;
	const double *lp[CORR_MAXLAG];
	if (2 * n >= K) {
		for (size_t j = 0; j < K; j++) {
			if (M + j >= K)
				memcpy(X + j * P, ring + ((M + j - K) % K) * P,
				       P * sizeof *X);
			else
				memset(X + j * P, 0, P * sizeof *X);
		}
		kern(X, K, n, P, L->lag, L->nlag, G, S, M, nx);
	} else {
		for (size_t j = 0; j < n; j++) {
			for (int i = 0; i < L->nlag; i++) {
				size_t k = (size_t)L->lag[i];
				if (j >= k)
					lp[i] = nw + (j - k) * P;
				else if (M + j >= k)
					lp[i] = ring + ((M + j - k) % K) * P;
				else
					lp[i] = c->zero;
			}
			corr_row(nw + j * P, lp, L->nlag, P, G, S);
		}
		corr_pairs(nw, ring, K, M, n, P, nx);
	}
	if (M < K)
		corr_head(c, L, t, X, n, nv);
	for (size_t j = n > K ? n - K : 0; j < n; j++)
		memcpy(ring + ((M + j) % K) * P, nw + j * P, P * sizeof *nw);
}

/* level l's pairs go to the next level as uint16 (both run corr16) */
static int corr_up16(const corr *c, int l, const corr_sched *s)
{
	return l + 1 < c->n16lev && l + 1 <= s->top;
}

/* The double ring of an integer level is brought up to date only when
** something reads it (the double kernel, the result): corr16 keeps the
** level's last K frames as uint16, and converting them every batch cost
** 64 bytes per pixel and level of writes. */
static void corr_ring_sync(corr *c, int l, size_t t)
{
	corr_level *L = &c->lev[l];
	size_t P = c->P, K = CORR16_K;
	const uint16_t *h;
	double *ring;
	if (l >= c->n16lev || !c->stale[l][t])
		return;
	h = c->hist16[l] + t * K * P;	/* frames M - K .. M - 1 */
	ring = L->hist + t * K * P;
	for (size_t i = 0; i < K; i++) {
		double *d = ring + ((L->M - K + i) % K) * P;
		for (size_t p = 0; p < P; p++)
			d[p] = h[i * P + p];
	}
	c->stale[l][t] = 0;
}

/* the first n of the m new frames of level l that are in its corr16 work
** as uint16 (left there by the level below, or by corr16 itself) into
** X's new rows, for the double kernel or the head sums */
static void corr_rows16(const corr *c, int l, const uint16_t *w16, size_t m,
			size_t n, double *nw)
{
	for (size_t r = 0; r < n; r++)
		corr16_frame(w16 + c->woff16[l], c->P, l, m, r, nw + r * c->P);
}

/* Level l of a tile by corr16's integer kernel: level 0 from the frames,
** the levels above from the uint16 rows the level below wrote into their
** work (when it ran here too: `below`). Its pairs go to the next level as
** uint16 pair rows when that one may run here as well, else as doubles
** into nx. *top: in, a bound on the values the level below wrote for this
** one; out, on those this one wrote for the next. 1 when it does not
** apply (then nothing has changed): see corr16.h */
static int corr_tile16(corr *c, int l, size_t t, const void *const *fr,
		       arr_dtype dt, const corr_sched *s, corr_tls *tl,
		       double *X, double *nx, uint16_t *w16, int below,
		       unsigned *top)
{
	corr_level *L = &c->lev[l];
	size_t P = c->P, b = t * P, K = CORR16_K, m = s->nn[l];
	double sums[CORR_T];
	const void *src[CORR_T];
	corr16_job j;
	if (l >= c->n16lev || (l > 0 && !below))
		return 1;
	j = (corr16_job){
		.isa = c->o.kernel == CORR_KERNEL_AVX512 ? CORR16_AVX512 :
		       CORR16_AVX2,
		.level = l, .P = P, .nv = c->npx - b < P ? c->npx - b : P,
		.n = m, .M = L->M, .ring = L->hist + t * K * P,
		.src = src, .esize = (int)corr_dtype_size(dt),
		.G = L->G + t * (size_t)L->nlag * P,
		.S = L->S + t * P, .nx = nx, .rowsum = sums,
		.work = w16 + c->woff16[l], .pix = c->pix + b,
		.contig = c->contig[t], .hist = c->hist16[l] + t * K * P,
		.hist_ok = c->h16ok[l] + t,
		.up = corr_up16(c, l, s) ?
		      corr16_pairs(w16 + c->woff16[l + 1]) : NULL,
		.up_top = top, .intop = *top
	};
	if (l == 0)
		for (size_t r = 0; r < m; r++)
			src[r] = fr[r];
	if (corr16_level(&j))
		return 1;
	if (L->M < (size_t)L->kmax) {	/* the level's first frames */
		size_t nh = (size_t)L->kmax - L->M;
		nh = nh < m ? nh : m;
		corr_rows16(c, l, w16, m, nh, X + (size_t)L->kmax * P);
		corr_head(c, L, t, X, nh, j.nv);
	}
	c->stale[l][t] = 1;
	tl->n16[l]++;
	for (size_t r = 0; l == 0 && r < m; r++)
		tl->rowsum[r] += sums[r];
	return 0;
}

/* the pointers into a thread's corrsp scratch (corr_sparse_work) */
typedef struct corr_spw {
	uint32_t *acc;		/* CORRSP_REC x P: the pixels' records */
	uint32_t *ev[2];	/* events of a level above, spevw words each */
	uint32_t *off[2];	/* their frames' offsets, T / 2 + 2 each */
} corr_spw;

static corr_spw corr_spw_of(const corr *c, uint32_t *w)
{
	size_t P = c->P;
	corr_spw z;
	z.acc = w;
	z.ev[0] = z.acc + CORRSP_REC * P;
	z.ev[1] = z.ev[0] + c->spevw;
	z.off[0] = z.ev[1] + c->spevw;
	z.off[1] = z.off[0] + c->T / 2 + 2;
	return z;
}

/* Levels 0, 1, ... of a tile from photons (corrsp.h): level 0 from the
** run's events, each level above from the merged events of the one
** below, as many as the run asks for (sp_lev) and apply; the last one's
** pairs go to the next level as uint16 when that one runs corr16, else
** as doubles into its rows (a bound on the uint16 values into *top). Returns
** the levels done (0: nothing has changed). */
static int corr_tile_sp(corr *c, size_t t, const corr_sched *s, corr_tls *tl,
			double *w, uint16_t *w16, uint32_t *spw,
			unsigned *top)
{
	size_t P = c->P, b = t * P, K = CORRSP_K;
	size_t nv = c->npx - b < P ? c->npx - b : P;
	corr_spw z = corr_spw_of(c, spw);
	corrsp_job j[CORR_SPLEV];
	double sums[CORR_T];
	uint32_t ptop = c->sptop;
	int nl = 0;
	for (int l = 0; l < c->sp_lev && l <= s->top && l < c->n16lev; l++) {
		corr_level *L = &c->lev[l];
		size_t m = s->nn[l], nh = L->M < K ? K - L->M : 0;
		j[l] = (corrsp_job){
			.isa = c->o.kernel != CORR_KERNEL_BASE, .level = l,
			.P = P, .nv = nv, .n = m, .M = L->M,
			.fev = l ? NULL : c->spfev + c->sp_r0,
			.evb = l ? z.ev[(l - 1) & 1] : NULL,
			.toff = l ? z.off[(l - 1) & 1] :
				c->sptoff + c->sp_r0 * (c->ntile + 1) + t,
			.tstride = c->ntile + 1, .top = ptop,
			.ring = L->hist + t * K * P,
			.hist = c->hist16[l] + t * K * P,
			.hist_ok = c->h16ok[l] + t,
			.G = L->G + t * (size_t)L->nlag * P, .S = L->S + t * P,
			.head = w + c->woff[l] + K * P,
			.nhead = nh < m ? nh : m, .rowsum = l ? NULL : sums,
			.acc = z.acc};
		if (corrsp_prepare(&j[l]))
			break;
		nl++;
		ptop = 2 * (ptop > 1 ? ptop : 1);	/* this level's pairs */
	}
	for (int l = 0; l < nl; l++) {
		corr_level *L = &c->lev[l];
		if (l + 1 < nl) {
			j[l].nev = z.ev[l & 1];
			j[l].noff = z.off[l & 1];
		} else if (corr_up16(c, l, s)) {
			j[l].up = corr16_pairs(w16 + c->woff16[l + 1]);
		} else {	/* (the top level's pairs: scratch) */
			size_t kn = l + 1 < c->nlev ?
				    (size_t)c->lev[l + 1].kmax : 0;
			j[l].nx = w + c->woff[l + 1] + kn * P;
		}
		corrsp_level(&j[l]);
		if (j[l].nhead)
			corr_head(c, L, t, w + c->woff[l], j[l].nhead, nv);
		c->stale[l][t] = 1;
		tl->nsp[l]++;
	}
	for (size_t r = 0; nl > 0 && r < s->nn[0]; r++)
		tl->rowsum[r] += sums[r];
	*top = ptop;	/* (the last level's pair sums are below it) */
	return nl;
}

/* level 0's rows converted from the frames (the double path) */
static inline __attribute__((always_inline))
void corr_tile_rows(corr *c, size_t t, const void *const *fr, arr_dtype dt,
		    size_t m, const double *scale, double *rowsum, double *nw)
{
	size_t P = c->P, b = t * P;
	size_t nv = c->npx - b < P ? c->npx - b : P;
	size_t dsz = corr_dtype_size(dt), span = nv * dsz;
	for (size_t r = 0; r < m; r++) {
		double sum;
		/* the frames of a batch lie a frame apart: the hardware
		** prefetcher does not follow them */
		if (r + CORR_PF < m && c->contig[t]) {
			const char *nx = (const char *)fr[r + CORR_PF] +
					 c->pix[b] * dsz;
			for (size_t o = 0; o < span; o += 64)
				__builtin_prefetch(nx + o);
			__builtin_prefetch(nx + span - 1);
		}
		/* (normalising takes the img branch, which subtracts dk:
		** c->dark holds zeros there when there is no dark) */
		corr_convert(fr[r], dt, c->pix + b, nv, c->contig[t],
			     c->has_dark || c->img ? c->dark + b : NULL,
			     scale[r], c->img ? c->img + b : NULL, nw + r * P);
		if (nv < P)
			memset(nw + r * P + nv, 0, (P - nv) * sizeof *nw);
		/* (used only when not normalising, i.e. scale 1) */
		sum = corr_row_sum(nw + r * P, P);
		rowsum[r] += sum;
	}
}

/* level 0's rows from pushed events (when corrsp does not apply: an odd
** run, say): the double path */
static void corr_tile_evrows(corr *c, size_t t, size_t m, double *rowsum,
			     double *nw)
{
	size_t P = c->P, nt = c->ntile + 1;
	for (size_t r = 0; r < m; r++) {
		const uint32_t *e = c->spfev[c->sp_r0 + r];
		const uint32_t *to = c->sptoff + (c->sp_r0 + r) * nt + t;
		double *row = nw + r * P, sum = 0;
		memset(row, 0, P * sizeof *row);
		for (uint32_t k = to[0]; k < to[1]; k++) {
			row[e[k] >> 16] = e[k] & 0xffffu;
			sum += e[k] & 0xffffu;
		}
		rowsum[r] += sum;
	}
}

/* A tile's state of every level (ring, sums of products, sums: about a
** kilobyte per pixel in all) is touched once per batch, so it comes from
** memory; the kernels would wait for each line as they reach it. Asking
** for all of it first lets the misses overlap with level 0's work. */
static void corr_state_prefetch(const corr *c, size_t t, int top)
{
	size_t P = c->P;
	for (int l = 0; l <= top; l++) {
		const corr_level *L = &c->lev[l];
		/* an integer level's ring is its uint16 copy */
		int h16 = l < c->n16lev && c->h16ok[l][t];
		const char *r[3] = {
			h16 ? (const char *)(c->hist16[l] + t * CORR16_K * P) :
			      (const char *)(L->hist + t * (size_t)L->kmax * P),
			(const char *)(L->G + t * (size_t)L->nlag * P),
			(const char *)(L->S + t * P)};
		size_t len[3] = {(size_t)L->kmax * P *
				 (h16 ? sizeof(uint16_t) : sizeof(double)),
				 (size_t)L->nlag * P * sizeof(double),
				 P * sizeof(double)};
		for (int i = 0; i < 3; i++)
			for (size_t o = 0; o < len[i]; o += 64)
				__builtin_prefetch(r[i] + o, 1, 2);
	}
}

static int corr_thread(void)
{
#ifdef _OPENMP
	return omp_get_thread_num();
#else
	return 0;
#endif
}

/* one tile through every level for the m frames of a run: level 0's rows
** come from the frames, each level's pass writes the next one's */
static inline __attribute__((always_inline)) void corr_tile_body(corr *c,
		      size_t t, const void *const *fr, arr_dtype dt, size_t m,
		      const double *scale, corr_tls *tl, const corr_sched *s,
		      double *w, uint16_t *w16, corr_kern_fn kern)
{
	size_t P = c->P;
	int below = 0;		/* the level below ran corr16 (or corrsp) */
	int l0 = 0;		/* levels done by corrsp */
	unsigned top = 0;	/* a bound on what the level below wrote */
	corr_state_prefetch(c, t, s->top);
	if (c->sp_lev > 0 &&
	    (l0 = corr_tile_sp(c, t, s, tl, w, w16, c->spw[corr_thread()],
			       &top)))
		below = corr_up16(c, l0 - 1, s);
	for (int l = l0; l <= s->top; l++) {
		corr_level *L = &c->lev[l];
		/* the top level's pairs go to scratch (the next level's
		** rows, which this run does not use) */
		size_t kn = l + 1 < c->nlev ? (size_t)c->lev[l + 1].kmax : 0;
		double *X = w + c->woff[l], *nx = w + c->woff[l + 1] + kn * P;
		double *nw = X + (size_t)L->kmax * P;
		if (w16 && (l > 0 || (corr_int_dtype(dt) && !c->ev_run)) &&
		    corr_tile16(c, l, t, fr, dt, s, tl, X, nx, w16, below,
				&top) == 0) {
			below = corr_up16(c, l, s);
			continue;
		}
		if (l == 0 && c->ev_run)
			corr_tile_evrows(c, t, m, tl->rowsum, nw);
		else if (l == 0)
			corr_tile_rows(c, t, fr, dt, m, scale, tl->rowsum, nw);
		else if (below)
			corr_rows16(c, l, w16, s->nn[l], s->nn[l], nw);
		below = 0;
		if (l < c->n16lev) {
			corr_ring_sync(c, l, t);
			c->h16ok[l][t] = 0;
		}
		corr_level_rows(c, L, t, X, s->nn[l], nx, kern);
	}
}

#define CORR_TILE_ARGS corr *c, size_t t, const void *const *fr,	\
	arr_dtype dt, size_t m, const double *scale, corr_tls *tl,	\
	const corr_sched *s, double *w, uint16_t *w16
#define CORR_TILE_CALL(kern) corr_tile_body(c, t, fr, dt, m, scale,	\
	tl, s, w, w16, kern)

/* the tile pass (conversion, pairs, kernel) compiled for each target */
#ifdef CORR_HAVE_AVX2
static __attribute__((target("avx2,fma"))) void corr_tile_avx2(
	CORR_TILE_ARGS)
{
	CORR_TILE_CALL(corr_kern_avx2);
}
#endif

static void corr_tile_base(CORR_TILE_ARGS)
{
	CORR_TILE_CALL(corr_kern_base);
}

typedef void (*corr_tile_fn)(CORR_TILE_ARGS);

static corr_tile_fn corr_tile_pick(const corr *c)
{
#ifdef CORR_HAVE_AVX2
	if (corr_kern(c) == corr_kern_avx2)
		return corr_tile_avx2;
#endif
	return corr_tile_base;
}

static int corr_grow(void **p, size_t *cap, size_t need, size_t el,
		     char *err)
{
	if (mem_grow(p, cap, need, el))
		return err_set(err, "corr: out of memory (%zu frames)", need);
	return 0;
}

static double corr_frame_sum(const corr *c, const void *fr, arr_dtype dt,
			     size_t *bad);

/* whether a run's level 0 tries the sparse path: integer frames, pairs
** aligned (corrsp.h), and for AUTO a mean count per pixel and frame below
** CORR_SPARSE_MEAN (the mean bounds the share of nonzero counts): that of
** the last 64 frames, or of the run's first and last frames at the start */
static int corr_sparse_pick(const corr *c, const void *const *fr,
			    arr_dtype dt, size_t m)
{
	double sum = 0, n = 0;
	if (c->o.sparse == CORR_SPARSE_OFF || !corr_int_dtype(dt) || m % 2 ||
	    c->lev[0].M % 2)
		return 0;
	if (c->o.sparse == CORR_SPARSE_ON)
		return 1;
	if (c->accepted >= 64) {
		for (size_t i = c->accepted - 64; i < c->accepted; i++)
			sum += c->ivt[i];
		n = 64;
	} else {
		size_t bad;
		sum = (corr_frame_sum(c, fr[0], dt, &bad) +
		       corr_frame_sum(c, fr[m - 1], dt, &bad)) /
		      (double)c->npx;
		n = 2;
	}
	return sum / n < CORR_SPARSE_MEAN;
}

/* the buffer of a batch's events (sized for the worst case, an eighth
** of the pixels a frame with AUTO, all of them with ON; never cleared:
** pages are touched as far as events fill them); nonzero when out of
** memory */
static int corr_sparse_buf(corr *c)
{
	char err[ERR_LEN];
	size_t per = c->o.sparse == CORR_SPARSE_ON ? c->npx : c->npx / 8;
	if (c->spev)
		return 0;
	c->spcap = c->T * (per + 32) + 32 * (size_t)c->nthr + 64;
	c->sptoff = malloc(c->T * (c->ntile + 1) * sizeof *c->sptoff);
	c->spev = c->sptoff ? mem_alloc(c->spcap * sizeof *c->spev, 0, err) :
		  NULL;
	return c->spev == NULL;
}

/* The run's events, frame by frame in parallel, each thread's frames
** one after the other in its share of spev (so that the pages touched
** are those the events fill: the buffer is sized for the worst case, an
** eighth of the pixels a frame with AUTO, all of them with ON, and is
** never cleared). 0 (the dense kernels) when there are more, or a count
** is too large. */
static size_t corr_sparse_scan(corr *c, const void *const *fr,
			       arr_dtype dt, size_t m)
{
	uint32_t top = 0;
	size_t tot = 0;
	size_t nt = c->ntile + 1;
	if (corr_sparse_buf(c))
		return SIZE_MAX;	/* (the dense kernels need none) */
	#pragma omp parallel reduction(max:top) reduction(+:tot) \
		num_threads(corr_team(c, (double)m * (double)c->npx))
	{
		int me = corr_thread(), nth = 1;
		size_t used = 0, r0, r1, cap;
		uint32_t *ev;
#ifdef _OPENMP
		nth = omp_get_num_threads();
#endif
		cap = c->spcap / (size_t)nth;	/* (a team may be smaller) */
		ev = c->spev + (size_t)me * cap;
		r0 = m * (size_t)me / (size_t)nth;
		r1 = m * (size_t)(me + 1) / (size_t)nth;
		for (size_t r = r0; r < r1 && top < CORRSP_MAX; r++) {
			corrsp_scan_in in = {
				.frame = fr[r], .esize = (int)corr_dtype_size(dt),
				.pix = c->pix, .npx = c->npx, .P = c->P,
				.ntile = c->ntile, .contig = c->contig,
				.isa = c->o.kernel == CORR_KERNEL_AVX512 ? 2 : 0,
				.ev = ev + used, .cap = cap - used,
				.toff = c->sptoff + r * nt};
			uint32_t v = corrsp_scan_frame(&in);
			c->spfev[r] = ev + used;
			used += v == UINT32_MAX ? 0 : in.toff[c->ntile];
			top = v > top ? v : top;
		}
		tot += used;
	}
	c->sptop = top;
	return top < CORRSP_MAX ? tot : SIZE_MAX;
}

/* How many levels the run takes sparse, given level 0's nev events
** (SIZE_MAX: none, the scan failed). ON: sparse_levels, or every level
** that may; AUTO: level 0 (chosen before) and each level above whose
** occupancy stays below CORR_SPARSE_OCC, bounded by 2^l times level 0's
** (a pair's pixels are at most both frames'), at most sparse_levels. */
static int corr_sparse_levels(const corr *c, size_t m, size_t nev)
{
	int n, lim = c->n16lev < CORR_SPLEV ? c->n16lev : CORR_SPLEV;
	double occ;
	if (nev == SIZE_MAX)
		return 0;
	if (c->o.sparse_levels > 0 && c->o.sparse_levels < lim)
		lim = c->o.sparse_levels;
	if (c->o.sparse == CORR_SPARSE_ON)
		return lim;
	occ = (double)nev / ((double)m * (double)c->npx);
	for (n = 1; n < lim && 2 * occ < CORR_SPARSE_OCC; n++)
		occ *= 2;
	return n;
}

/* m accepted frames through every tile and level */
static int corr_run(corr *c, const void *const *fr, const size_t *idx,
		    arr_dtype dt, size_t m, const double *scale,
		    const double *sums, char *err)
{
	corr_sched s;
	corr_tile_fn tile = corr_tile_pick(c);
	size_t cap = c->ivt_cap;
	if (corr_grow((void **)&c->ivt, &cap, c->accepted + m, sizeof *c->ivt,
		      err))
		return -1;
	cap = c->ivt_cap;
	if (corr_grow((void **)&c->fidx, &cap, c->accepted + m,
		      sizeof *c->fidx, err))
		return -1;
	c->ivt_cap = cap;
	if (corr_schedule(c, m, &s, err))
		return -1;
	if (c->ev_run) {	/* (level 0 sparse wherever it applies) */
		size_t nt = c->ntile + 1, nev = 0;
		for (size_t r = c->sp_r0; r < c->sp_r0 + m; r++)
			nev += c->sptoff[r * nt + c->ntile];
		c->sptop = c->evtop;
		c->sp_lev = corr_sparse_levels(c, m, nev);
		c->sp_lev = c->sp_lev < 1 ? 1 : c->sp_lev;
	} else {
		c->sp_r0 = 0;
		c->sp_lev = 0;
		if (corr_sparse_pick(c, fr, dt, m)) {
			if (corr_sparse_work(c, err))
				return -1;
			c->sp_lev = corr_sparse_levels(c, m,
					corr_sparse_scan(c, fr, dt, m));
		}
	}
	memset(c->tls, 0, (size_t)c->nthr * sizeof *c->tls);
	#pragma omp parallel for schedule(dynamic, 1) \
		num_threads(corr_team(c, (double)m * (double)c->npx))
	for (size_t t = 0; t < c->ntile; t++) {
		int me = 0;
#ifdef _OPENMP
		me = omp_get_thread_num();
#endif
		tile(c, t, fr, dt, m, scale, &c->tls[me], &s, c->work[me],
		     c->use16 ? c->work16[me] : NULL);
	}
	c->ntb += c->ntile;
	for (int l = 0; l <= s.top; l++)
		c->lev[l].M += s.nn[l];
	for (int th = 1; th < c->nthr; th++) {	/* (in thread order) */
		for (size_t r = 0; r < m; r++)
			c->tls[0].rowsum[r] += c->tls[th].rowsum[r];
	}
	for (int th = 0; th < c->nthr; th++) {
		for (int l = 0; l < CORR16_LEVELS; l++)
			c->n16[l] += c->tls[th].n16[l];
		for (int l = 0; l < CORR_SPLEV; l++)
			c->nsp[l] += c->tls[th].nsp[l];
	}
	for (size_t r = 0; r < m; r++) {
		c->ivt[c->accepted + r] = (sums ? sums[r] :
					   c->tls[0].rowsum[r]) /
					  (double)c->npx;
		c->fidx[c->accepted + r] = idx[r];
	}
	c->accepted += m;
	return 0;
}

/* sum over the used pixels of the dark-subtracted frame, and whether every
** value is finite */
static double corr_frame_sum(const corr *c, const void *fr, arr_dtype dt,
			     size_t *bad)
{
	double sum = 0;
	*bad = SIZE_MAX;
	for (size_t i = 0; i < c->npx; i++) {
		size_t p = c->pix[i];
		double v;
		switch (dt) {
		case ARR_U8: v = ((const uint8_t *)fr)[p]; break;
		case ARR_U16: v = ((const uint16_t *)fr)[p]; break;
		case ARR_U32: v = ((const uint32_t *)fr)[p]; break;
		case ARR_I32: v = ((const int32_t *)fr)[p]; break;
		case ARR_F32: v = ((const float *)fr)[p]; break;
		default: v = ((const double *)fr)[p]; break;
		}
		if (!isfinite(v) && *bad == SIZE_MAX)
			*bad = p;
		sum += v - c->dark[i];
	}
	return sum;
}

/* keep[r] = 0 for frames whose mean is an outlier against the median and
** MAD of the recent accepted frames plus this batch */
static void corr_reject(const corr *c, const double *mean, size_t nb,
			int *keep)
{
	double ref[CORR_REF + CORR_T], dev[CORR_REF + CORR_T], med, mad;
	size_t n = 0, h = c->accepted < CORR_REF ? c->accepted : CORR_REF;
	for (size_t i = c->accepted - h; i < c->accepted; i++)
		ref[n++] = c->ivt[i];
	for (size_t r = 0; r < nb; r++)
		ref[n++] = mean[r];
	for (size_t r = 0; r < nb; r++)
		keep[r] = 1;
	if (n < 8)
		return;
	med = num_median(ref, n);
	for (size_t i = 0; i < n; i++)
		dev[i] = fabs(ref[i] - med);
	mad = num_median(dev, n);
	if (!(mad > 0))
		return;
	for (size_t r = 0; r < nb; r++)
		if (fabs(mean[r] - med) > c->o.reject_sigma * 1.4826 * mad)
			keep[r] = 0;
}

/* the binned time-sum at a segment boundary gives that segment's I(q) */
static int corr_segment(corr *c, size_t len, char *err)
{
	double *cur = err_calloc(c->nstat, sizeof *cur, err), *row;
	if (!cur || corr_grow((void **)&c->seg, &c->seg_cap,
			      (c->nseg + 1) * c->nstat, sizeof(double), err)) {
		free(cur);
		return -1;
	}
	for (size_t i = 0; i < c->npx; i++)
		cur[c->sbin[i]] += corr_img(c)[i];
	row = c->seg + c->nseg * c->nstat;
	for (size_t s = 0; s < c->nstat; s++) {
		row[s] = c->scount[s] ? (cur[s] - c->seg_base[s]) /
			 ((double)len * (double)c->scount[s]) : NAN;
		c->seg_base[s] = cur[s];
	}
	c->nseg++;
	free(cur);
	return 0;
}

/* one batch of offered frames: sums (when needed), rejection, scaling,
** then runs cut at segment boundaries */
static int corr_batch(corr *c, const void **fr, size_t *idx,
		      size_t nb, arr_dtype dt, char *err)
{
	double sums[CORR_T], mean[CORR_T], scale[CORR_T];
	int keep[CORR_T], need = c->o.normalize || c->o.reject_sigma > 0;
	size_t na = 0, done = 0;
	if (need) {
		#pragma omp parallel for \
			num_threads(corr_team(c, (double)nb * (double)c->npx))
		for (size_t r = 0; r < nb; r++) {
			size_t bad;
			if (!isnan(c->bmean[r])) {	/* (fr is c->bfr) */
				mean[r] = c->bmean[r];
				sums[r] = mean[r] * (double)c->npx;
				continue;
			}
			sums[r] = corr_frame_sum(c, fr[r], dt, &bad);
			mean[r] = sums[r] / (double)c->npx;
		}
	}
	if (c->o.reject_sigma > 0)
		corr_reject(c, mean, nb, keep);
	else
		for (size_t r = 0; r < nb; r++)
			keep[r] = 1;
	for (size_t r = 0; r < nb; r++) {
		if (!keep[r]) {
			if (corr_grow((void **)&c->rej, &c->rej_cap,
				      c->nrej + 1, sizeof *c->rej, err))
				return -1;
			c->rej[c->nrej++] = idx[r];
			continue;
		}
		if (c->o.normalize && !(mean[r] > 0))
			return err_set(err, "corr: frame %zu has mean intensity "
				       "%g: cannot normalise", idx[r] + 1,
				       mean[r]);
		fr[na] = fr[r];
		sums[na] = sums[r];
		scale[na] = c->o.normalize ? 1.0 / mean[r] : 1.0;
		idx[na] = idx[r];
		na++;
	}
	while (done < na) {
		size_t m = na - done, sl = c->o.segment_frames;
		if (sl && m > sl - c->accepted % sl)
			m = sl - c->accepted % sl;
		if (corr_run(c, fr + done, idx + done, dt, m, scale + done,
			     need ? sums + done : NULL, err))
			return -1;
		done += m;
		if (sl && c->accepted % sl == 0 && corr_segment(c, sl, err))
			return -1;
	}
	return 0;
}

static int corr_use(const corr *c, size_t si)
{
	if (si < c->o.first || (c->o.last && si >= c->o.last))
		return 0;
	return (si - c->o.first) % c->o.stride == 0;
}

/* float frames are checked before anything changes, so that a NaN leaves
** the correlator as it was */
static int corr_check_finite(const corr *c, const char *base, size_t fsz,
			     arr_dtype dt, size_t n, char *err)
{
	if (dt != ARR_F32 && dt != ARR_F64)
		return 0;
	for (size_t f = 0; f < n; f++) {
		size_t bad;
		if (!corr_use(c, c->seen + f))
			continue;
		corr_frame_sum(c, base + f * fsz, dt, &bad);
		if (bad != SIZE_MAX)
			return err_set(err, "corr: frame %zu has a non-finite "
				       "value at row %zu, col %zu",
				       c->seen + f + 1, bad / c->cols + 1,
				       bad % c->cols + 1);
	}
	return 0;
}

/* the waiting frames as one batch */
static int corr_flush_events(corr *c, char *err);

static int corr_flush(corr *c, char *err)
{
	size_t nb = c->nb;
	if (c->evn)
		return corr_flush_events(c, err);
	c->nb = c->nstaged = 0;
	if (nb == 0)
		return 0;
	if (intr_pending())
		return err_set(err, "interrupted");
	if (corr_batch(c, c->bfr, c->bidx, nb, c->stage_dt, err))
		return -1;
	if (c->o.prog && progress_update(c->o.prog, (double)c->accepted))
		return err_set(err, "interrupted");
	return 0;
}

/* frames still waiting when push returns are copied into the stage: the
** caller's buffer is not ours to keep. The staged ones are a prefix. */
static int corr_stage(corr *c, size_t fsz, char *err)
{
	size_t cap = CORR_STAGE / fsz;	/* wide dtypes stage fewer frames */
	if (c->nb > cap)
		return corr_flush(c, err);
	if (c->stage == NULL &&
	    !(c->stage = err_malloc(c->T < cap ? c->T : cap, fsz, err)))
		return -1;
	/* a copy from memory to memory: both cores' bandwidth for a block,
	** but a parallel region per frame when frames come one at a time
	** (h5.frames) costs more than the copy, and far more when another
	** process holds a core (the team waits for a descheduled thread) */
	#pragma omp parallel for schedule(static) num_threads(c->nthr) \
		if (c->nb - c->nstaged >= 8)
	for (size_t i = c->nstaged; i < c->nb; i++) {
		memcpy(c->stage + i * fsz, c->bfr[i], fsz);
		c->bfr[i] = c->stage + i * fsz;
	}
	c->nstaged = c->nb;
	return 0;
}

int corr_push(corr *c, const void *frames, arr_dtype dt, size_t n,
	      size_t rows, size_t cols, char *err)
{
	return corr_push_means(c, frames, dt, n, rows, cols, NULL, err);
}

int corr_frame_sums(const corr *c, const void *frames, arr_dtype dt,
		    size_t n, size_t rows, size_t cols, double *sum,
		    char *err)
{
	size_t fsz = c->npix * corr_dtype_size(dt), bad;
	if (rows != c->rows || cols != c->cols)
		return err_set(err, "corr: frames are %zux%zu but the partition "
			       "is %zux%zu", rows, cols, c->rows, c->cols);
	if ((int)dt < 0 || dt >= ARR_NTYPES)
		return err_set(err, "corr: unsupported frame dtype");
	for (size_t f = 0; f < n; f++)
		sum[f] = corr_frame_sum(c, (const char *)frames + f * fsz, dt,
					&bad);
	return 0;
}

size_t corr_used_pixels(const corr *c)
{
	return c->npx;
}

int corr_push_means(corr *c, const void *frames, arr_dtype dt, size_t n,
		    size_t rows, size_t cols, const double *mean, char *err)
{
	const char *base = frames;
	size_t fsz;
	if (rows != c->rows || cols != c->cols)
		return err_set(err, "corr: frames are %zux%zu but the partition "
			       "is %zux%zu", rows, cols, c->rows, c->cols);
	if ((int)dt < 0 || dt >= ARR_NTYPES)
		return err_set(err, "corr: unsupported frame dtype");
	if (intr_pending())	/* nothing of this push is taken */
		return err_set(err, "interrupted");
	fsz = c->npix * corr_dtype_size(dt);
	if (corr_check_finite(c, base, fsz, dt, n, err) ||
	    (c->evn && corr_flush_events(c, err)))
		return -1;
	if (c->nb > 0 && dt != c->stage_dt && corr_flush(c, err))
		return -1;
	if (c->stage && dt != c->stage_dt) {
		free(c->stage);
		c->stage = NULL;
	}
	c->stage_dt = dt;
	for (size_t f = 0; f < n; f++) {
		if (corr_use(c, c->seen + f)) {
			c->bfr[c->nb] = base + f * fsz;
			c->bmean[c->nb] = mean ? mean[f] : NAN;
			c->bidx[c->nb++] = c->seen + f;
		}
		if (c->nb == c->T && corr_flush(c, err)) {
			c->seen += f + 1;
			return -1;
		}
	}
	c->seen += n;
	/* past the last frame used nothing can join them: run them now,
	** where they are, rather than copy them into a fresh stage */
	if (c->o.last && c->seen >= c->o.last)
		return corr_flush(c, err);
	return corr_stage(c, fsz, err);
}

/* ------------------------------------------------------ pushed events */

/* The waiting frames of events as runs (cut at segment boundaries, as
** corr_batch cuts frames). */
static int corr_flush_events(corr *c, char *err)
{
	static const double one[CORR_T] = {0};	/* (scale: unused) */
	size_t n = c->evn, done = 0, sl = c->o.segment_frames;
	int rc = 0;
	if (n == 0)
		return 0;
	if (intr_pending()) {
		c->evn = c->evused = 0;
		c->evtop = 0;
		return err_set(err, "interrupted");
	}
	c->ev_run = 1;
	while (rc == 0 && done < n) {
		size_t m = n - done;
		if (sl && m > sl - c->accepted % sl)
			m = sl - c->accepted % sl;
		c->sp_r0 = done;
		rc = corr_run(c, NULL, c->bidx + done, ARR_U16, m, one, NULL,
			      err);
		done += m;
		if (rc == 0 && sl && c->accepted % sl == 0)
			rc = corr_segment(c, sl, err);
	}
	c->ev_run = 0;
	c->sp_r0 = 0;
	c->evn = c->evused = 0;
	c->evtop = 0;
	if (rc == 0 && c->o.prog &&
	    progress_update(c->o.prog, (double)c->accepted))
		return err_set(err, "interrupted");
	return rc;
}

/* detector pixel -> tile << 10 | pixel within it (P <= 1024), once */
static int corr_evmap(corr *c, char *err)
{
	if (c->evmap)
		return 0;
	if (!(c->evmap = err_malloc(c->npix, sizeof *c->evmap, err)) ||
	    !(c->evimg = err_calloc(c->ntile * c->P, sizeof *c->evimg, err)))
		return -1;
	for (size_t i = 0; i < c->npix; i++)
		c->evmap[i] = UINT32_MAX;
	for (size_t r = 0; r < c->npx; r++)
		c->evmap[c->pix[r]] = (uint32_t)(r / c->P) << 10 |
				      (uint32_t)(r % c->P);
	return 0;
}

/* A frame's events in any order, repeats added (corr_ev_stage): counted
** into img, an image of the used pixels, then placed by a counting sort
** on their tiles (work proportional to the events and the tiles, not the
** pixels); img is left zero. 0, or 2 for a sum past 65535. */
static int corr_ev_image(const corr *c, uint32_t *ev, uint32_t *img,
			 uint32_t *to, const uint32_t *pix, uint32_t pix0,
			 const uint16_t *cnt, size_t n, size_t *kout,
			 uint32_t *top)
{
	const uint32_t *map = c->evmap - pix0;	/* (pixels >= pix0) */
	uint32_t tp = *top;
	memset(to, 0, (c->ntile + 1) * sizeof *to);
	for (size_t i = 0; i < n; i++) {	/* the pixels per tile in to */
		uint32_t m = map[pix[i]];
		uint32_t *v = img + (m >> 10) * c->P + (m & 1023u);
		if (m == UINT32_MAX || cnt[i] == 0)
			continue;
		to[(m >> 10) + 1] += *v == 0;
		*v += cnt[i];
	}
	for (size_t t = 0; t < c->ntile; t++)	/* tile starts, then cursors */
		to[t + 1] += to[t];
	for (size_t i = 0; i < n; i++) {	/* each pixel once, emptied */
		uint32_t m = map[pix[i]], v;
		if (m == UINT32_MAX)
			continue;
		v = img[(m >> 10) * c->P + (m & 1023u)];
		if (v == 0)
			continue;
		img[(m >> 10) * c->P + (m & 1023u)] = 0;
		ev[to[m >> 10]++] = (m & 1023u) << 16 | (v & 0xffffu);
		tp = v > tp ? v : tp;
	}
	for (size_t t = c->ntile; t > 0; t--)	/* cursors back to starts */
		to[t] = to[t - 1];
	to[0] = 0;
	*kout = to[c->ntile];
	*top = tp;
	return tp > 0xffffu ? 2 : 0;
}

/* A frame's events as the scan leaves them (tile after tile, pixels
** within a tile in any order, no pixel twice) into ev (room for min(n,
** npx) + 64 words) and slot s's tile offsets. Pixels in increasing order
** go straight (corrsp_stage); others (or repeated ones) through img
** (corr_ev_image). A count of 2^15 or more is staged too (its batch then
** runs level 0 by the double kernel, from the events: batches stay
** whole, so the next may run sparse). 0: staged, *k events, *top raised
** to their largest; 2: a sum of repeated events past 65535; 3: not
** increasing and no img given. */
static int corr_ev_stage(const corr *c, size_t s, uint32_t *ev, uint32_t *img,
			 const uint32_t *pix, uint32_t pix0,
			 const uint16_t *cnt, size_t n, size_t *kout,
			 uint32_t *top)
{
	uint32_t *to = c->sptoff + s * (c->ntile + 1);
	if (corrsp_stage(c->o.kernel == CORR_KERNEL_AVX512 ? 2 : 0, c->evmap,
			 pix0, pix, cnt, n, c->ntile, ev, to, kout, top) == n)
		return 0;
	if (img == NULL)
		return 3;
	return corr_ev_image(c, ev, img, to, pix, pix0, cnt, n, kout, top);
}

/* A stage that a batch's events overflow (dense data pushed as events)
** doubles, up to every pixel of a batch, so that batches stay whole (a
** batch cut short would end the sparse path). 0: it grew. */
static int corr_ev_grow(corr *c)
{
	char err[ERR_LEN];
	size_t cap = 2 * c->spcap, most = c->T * (c->npx + 64) + 64 +
		     32 * (size_t)c->nthr;
	uint32_t *nw;
	if (c->spcap >= most)
		return 1;
	cap = cap < most ? cap : most;
	if (!(nw = mem_alloc(cap * sizeof *nw, 0, err)))
		return 1;
	memcpy(nw, c->spev, c->evused * sizeof *nw);
	for (size_t r = 0; r < c->evn; r++)
		c->spfev[r] = nw + (c->spfev[r] - c->spev);
	mem_free(c->spev);
	c->spev = nw;
	c->spcap = cap;
	return 0;
}

/* one frame into the stage: 0 staged, 1 the stage is full, 2 as above */
static int corr_ev_frame(corr *c, const uint32_t *pix, uint32_t pix0,
			 const uint16_t *cnt, size_t n)
{
	size_t k;
	int r;
	while (c->evused + (n < c->npx ? n : c->npx) + 64 > c->spcap)
		if (corr_ev_grow(c))
			return 1;
	r = corr_ev_stage(c, c->evn, c->spev + c->evused, c->evimg, pix, pix0,
			  cnt, n, &k, &c->evtop);
	if (r)
		return r;
	c->spfev[c->evn] = c->spev + c->evused;
	c->evused += k;
	return 0;
}

/* The used frames from f on that fit the batch and the stage, staged in
** parallel, each at a place of its own (its events are at most min(n,
** npx)), then taken in order up to the first that needs the image or
** is past 65535 (the caller takes that one alone). Returns the frames
** taken; 0 when fewer than 2 fit. */
static size_t corr_ev_chunk(corr *c, size_t f, size_t n, const size_t *off,
			    const uint32_t *pix, uint32_t pix0,
			    const uint16_t *cnt)
{
	size_t base[CORR_T], kk[CORR_T], g = f, used = c->evused, m, i;
	uint32_t tp[CORR_T];
	int rc[CORR_T];
	while (g < n && g - f < c->T - c->evn &&
	       corr_use(c, c->seen + (g - f))) {
		size_t ne = off[g + 1] - off[g];
		size_t w = (ne < c->npx ? ne : c->npx) + 64;
		if (used + w > c->spcap && corr_ev_grow(c))
			break;
		if (used + w > c->spcap)
			continue;	/* (grown: try again) */
		base[g - f] = used;
		used += w;
		g++;
	}
	if ((m = g - f) < 2)
		return 0;
	#pragma omp parallel for schedule(dynamic, 8) \
		num_threads(corr_team(c, 16.0 * (double)(off[g] - off[f])))
	for (size_t j = 0; j < m; j++) {
		tp[j] = 0;
		rc[j] = corr_ev_stage(c, c->evn + j, c->spev + base[j], NULL,
				      pix + off[f + j], pix0, cnt + off[f + j],
				      off[f + j + 1] - off[f + j], &kk[j],
				      &tp[j]);
	}
	for (i = 0; i < m && rc[i] == 0; i++) {
		c->spfev[c->evn] = c->spev + base[i];
		c->evtop = tp[i] > c->evtop ? tp[i] : c->evtop;
		c->bidx[c->evn++] = c->seen++;
	}
	if (i)
		c->evused = base[i - 1] + kk[i - 1];
	return i;
}

/* one frame of events as a dense uint32 frame through corr_push (with
** options the sparse path does not serve, or a count too large) */
static int corr_ev_dense(corr *c, const uint32_t *pix, uint32_t pix0,
			 const uint16_t *cnt, size_t n, char *err)
{
	uint32_t *f = err_calloc(c->npix, sizeof *f, err);
	int rc;
	if (f == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		f[pix[i] - pix0] += cnt[i];
	rc = corr_push(c, f, ARR_U32, 1, c->rows, c->cols, err);
	free(f);
	return rc;
}

/* Every event inside the frame, checked before anything is taken: all
** at once by threads and vectors (the events come from memory once more
** here), the frame and event named only when one is outside. */
static int corr_ev_check(const corr *c, size_t n, const size_t *off,
			 const uint32_t *pix, uint32_t pix0, char *err)
{
	size_t ne;
	uint32_t lim = c->npix < UINT32_MAX ? (uint32_t)c->npix : UINT32_MAX;
	int bad = 0;
	for (size_t f = 0; f < n; f++)
		if (off[f + 1] < off[f])
			return err_set(err, "corr: events of frame %zu end "
				       "before they start", f + 1);
	ne = off[n] - off[0];
	/* (pix - pix0 wraps to a value >= lim for a pixel below pix0, as
	** long as pix0 + lim does not pass 2^32; the exact test below) */
	if ((uint64_t)pix0 + lim > UINT32_MAX)
		bad = 1;
	#pragma omp parallel for simd reduction(|:bad) \
		num_threads(corr_team(c, (double)ne))
	for (size_t i = off[0]; i < off[n]; i++)
		bad |= pix[i] - pix0 >= lim;
	for (size_t f = 0; bad && f < n; f++)
		for (size_t i = off[f]; i < off[f + 1]; i++)
			if (pix[i] < pix0 || pix[i] - pix0 >= c->npix)
				return err_set(err, "corr: event %zu of frame "
					       "%zu is at pixel %u, outside "
					       "the %zux%zu frame (pixels "
					       "from %u)", i - off[f] + 1,
					       f + 1, pix[i], c->rows,
					       c->cols, pix0);
	return 0;
}

int corr_push_events(corr *c, size_t n, const size_t *off,
		     const uint32_t *pix, uint32_t pix0, const uint16_t *cnt,
		     char *err)
{
	int dense = c->o.sparse == CORR_SPARSE_OFF ||
		    c->o.normalize || c->o.reject_sigma > 0 || c->has_dark;
	if (intr_pending())
		return err_set(err, "interrupted");
	if (corr_ev_check(c, n, off, pix, pix0, err))
		return -1;
	if (!dense && (corr_sparse_work(c, err) || corr_evmap(c, err) ||
		       (corr_sparse_buf(c) &&
			err_set(err, "corr: out of memory (events)"))))
		return -1;
	if (c->nb && corr_flush(c, err))	/* (frames pushed before) */
		return -1;
	for (size_t f = 0; f < n; f++) {
		const uint32_t *p = pix + off[f];
		const uint16_t *q = cnt + off[f];
		size_t ne = off[f + 1] - off[f], nc;
		int r = 2;
		if (dense || !corr_use(c, c->seen)) {
			if (dense && corr_use(c, c->seen)) {
				if (corr_ev_dense(c, p, pix0, q, ne, err))
					return -1;
				continue;
			}
			c->seen++;
			continue;
		}
		if (c->nb && corr_flush(c, err))	/* (a dense one before) */
			return -1;
		if ((nc = corr_ev_chunk(c, f, n, off, pix, pix0, cnt)) > 0) {
			f += nc - 1;
			if (c->evn == c->T && corr_flush_events(c, err))
				return -1;
			continue;
		}
		if ((r = corr_ev_frame(c, p, pix0, q, ne)) == 1) {
			if (corr_flush_events(c, err))
				return -1;
			r = corr_ev_frame(c, p, pix0, q, ne);
		}
		if (r == 2) {	/* (flushes the events before it) */
			if (corr_ev_dense(c, p, pix0, q, ne, err))
				return -1;
			continue;
		}
		c->bidx[c->evn++] = c->seen++;
		if (c->evn == c->T && corr_flush_events(c, err))
			return -1;
	}
	return 0;
}

/* -------------------------------------------------------------- results */

size_t corr_delays(const corr_opts *o, size_t nframes, double *tau,
		   size_t max)
{
	size_t n = 0, M = nframes;
	corr_level L;
	for (int l = 0; l < CORR_MAXLEV && M >= 2; l++, M /= 2) {
		corr_level_lags(o, l, &L);
		for (int i = 0; i < L.nlag; i++)
			if ((size_t)L.lag[i] < M) {
				if (tau && n < max)
					tau[n] = (double)L.lag[i] *
						 ldexp(1.0, l);
				n++;
			}
	}
	return n;
}

typedef struct corr_bins {
	/* G..H: the sums over pixels (corr_sums exports them), E too */
	double *G, *S, *tail, *U, *U2, *H, *g2s, *den, *E;
	double *dsum, *dn, *ev, *neff, *ns;
	double inp;		/* 1 / (M - k): pairs per pixel */
} corr_bins;

/* A level's delays are taken together, tile by tile: the ring, S and the
** per-lag rows of a tile are read once for all of them (per delay, the
** ring alone had been read k rows at a time: the result was memory-bound
** at about 110 bytes per pixel and delay). nl: the level's lags in the
** result (those below M). */
typedef struct corr_lres {
	const corr_level *L;
	int nl;
	corr_bins b[CORR_MAXLAG];
	double *tl;		/* nl x P: a tile's tails */
	double *blk;		/* everything above, in one block */
} corr_lres;

/* a tile's tails: each pixel's sum of its level's last k frames for the
** result's lags, newest first (the same additions in the same order as
** summing k rows for each lag); from the ring, or from the uint16 copy
** where the integer kernel ran last (so that the result writes no ring,
** whose pages an integer level never touches otherwise) */
static void corr_tails(const corr *c, corr_lres *R, size_t t, size_t nv)
{
	const corr_level *L = R->L;
	int l = (int)(L - c->lev);
	size_t P = c->P, K = (size_t)L->kmax, kk = (size_t)L->lag[R->nl - 1];
	const double *ring = L->hist + t * K * P;
	const uint16_t *h16 = l < c->n16lev && c->stale[l][t] ?
			      c->hist16[l] + t * CORR16_K * P : NULL;
	double *cum = R->tl + (size_t)(R->nl - 1) * P;
	#pragma omp simd
	for (size_t q = 0; q < nv; q++)
		cum[q] = 0;
	for (size_t j = 1, i = 0; j <= kk; j++) {
		if (h16) {	/* frame M - j in row K - j */
			const uint16_t *rr = h16 + (CORR16_K - j) * P;
			#pragma omp simd
			for (size_t q = 0; q < nv; q++)
				cum[q] += rr[q];
		} else {
			const double *rr = ring + ((L->M - j) % K) * P;
			#pragma omp simd
			for (size_t q = 0; q < nv; q++)
				cum[q] += rr[q];
		}
		for (; (int)i + 1 < R->nl && (size_t)L->lag[i] == j; i++)
			memcpy(R->tl + i * P, cum, nv * sizeof *cum);
	}
}

/* lag i's rows of tile t: per pixel its G, S, tail and first-frames sum
** (pixel q's normalised values: G_p = g[q] inp, IP_p = (S[q] - tl[q])
** inp, and u_p = IP_p IF_p with IF_p = (S[q] - hp[q]) inp) */
typedef struct corr_rows {
	const double *g, *S, *tl;
	const float *hp;
	double inp;		/* 1 / the lag's pairs */
} corr_rows;

/* pixel q's weight u_p = IP_p IF_p (IF_p from its first frames, kept in
** single precision: it only enters the error) */
static inline double corr_u(const corr_rows *w, size_t q)
{
	double sm = w->S[q];
	return (sm - w->tl[q]) * w->inp * (sm - (double)w->hp[q]) * w->inp;
}

static corr_rows corr_lag_rows(const corr *c, const corr_lres *R, int i,
			       size_t t)
{
	const corr_level *L = R->L;
	size_t P = c->P, o = (t * (size_t)L->nlag + (size_t)i) * P;
	return (corr_rows){L->G + o, L->S + t * P, R->tl + (size_t)i * P,
			   L->headp + o, R->b[i].inp};
}

/* the static-bin sums of G, S, the tails, u and u^2 for every lag */
static void corr_level_sums(const corr *c, corr_lres *R)
{
	size_t P = c->P;
	for (size_t t = 0; t < c->ntile; t++) {
		size_t nv = c->npx - t * P < P ? c->npx - t * P : P;
		corr_tails(c, R, t, nv);
		for (int i = 0; i < R->nl; i++) {
			corr_bins *b = &R->b[i];
			corr_rows w = corr_lag_rows(c, R, i, t);
			for (size_t k = c->rfirst[t]; k < c->rfirst[t + 1]; k++) {
				const corr_span *r = &c->run[k];
				size_t q0 = r->q, q1 = q0 + r->n;
				double sg = 0, ss = 0, st = 0, su = 0, su2 = 0;
				#pragma omp simd reduction(+:sg, ss, st, su, su2)
				for (size_t q = q0; q < q1; q++) {
					double u = corr_u(&w, q);
					sg += w.g[q];
					ss += w.S[q];
					st += w.tl[q];
					su += u;
					su2 += u * u;
				}
				b->G[r->s] += sg;
				b->S[r->s] += ss;
				b->tail[r->s] += st;
				b->U[r->s] += su;
				b->U2[r->s] += su2;
			}
		}
	}
}

/* The error of a static bin's g2_s = <G>/(<IP><IF>) (corr.h). With
** w_p = IP_p IF_p and the pixel's own normalised g2_p = G_p / w_p,
** g2_s = sum_p w_p g2_p / (n <IP><IF>): a weighted sum of per-pixel g2,
** whose frozen intensity pattern is divided out. The spread is taken
** about the weighted mean gw = sum G_p / sum w_p through the residuals
** e_p = G_p - gw w_p = w_p (g2_p - gw), which need no division by a
** pixel's mean: a pixel without intensity has weight 0 and adds nothing
** (sparse data give no Inf). E_s = sum e_p^2, in a second pass over the
** tiles that works each pixel's values out again. */
static void corr_level_spread(const corr *c, corr_lres *R)
{
	size_t P = c->P;
	for (size_t t = 0; t < c->ntile; t++) {
		size_t nv = c->npx - t * P < P ? c->npx - t * P : P;
		corr_tails(c, R, t, nv);
		for (int i = 0; i < R->nl; i++) {
			corr_bins *b = &R->b[i];
			corr_rows w = corr_lag_rows(c, R, i, t);
			for (size_t k = c->rfirst[t]; k < c->rfirst[t + 1]; k++) {
				const corr_span *r = &c->run[k];
				size_t q0 = r->q, q1 = q0 + r->n;
				double gw = b->G[r->s] / b->U[r->s], se = 0;
				if (!isfinite(b->g2s[r->s]))
					continue;
				#pragma omp simd reduction(+:se)
				for (size_t q = q0; q < q1; q++) {
					double e = w.g[q] * w.inp -
						   gw * corr_u(&w, q);
					se += e * e;
				}
				b->E[r->s] += se;
			}
		}
	}
}

/* lag i's static g2 from its sums, and the dynamic means */
/* per static bin: the sum over threads and the first k frames of the
** level's heads (the frames a lag's "future" mean leaves out) */
static void corr_lag_heads(const corr *c, const corr_level *L, int i,
			   corr_bins *b)
{
	size_t k = (size_t)L->lag[i];
	for (size_t s = 0; s < c->nstat; s++) {
		double h = 0;
		for (int th = 0; th < c->nthr; th++)
			for (size_t j = 0; j < k; j++)
				h += L->head[((size_t)th * (size_t)L->kmax + j) *
					     c->nstat + s];
		b->H[s] = h;
	}
}

/* cnt: the used pixels per static bin, s2d: its dynamic bin (of every
** part, when merged: a part may lack some static bins) */
static void corr_lag_bins(const corr *c, const corr_level *L, int i,
			  corr_bins *b, const double *cnt, const int32_t *s2d,
			  double *g2s_out)
{
	size_t k = (size_t)L->lag[i], np = L->M - k;
	for (size_t s = 0; s < c->nstat; s++) {
		double n = cnt[s], h = b->H[s], ip, fu;
		ip = (b->S[s] - b->tail[s]) / ((double)np * n);
		fu = (b->S[s] - h) / ((double)np * n);
		b->den[s] = ip * fu;
		b->g2s[s] = b->G[s] / ((double)np * n) / b->den[s];
		if (!(n > 0) || !isfinite(b->g2s[s]))
			b->g2s[s] = NAN;
		g2s_out[s] = b->g2s[s];
		if (s2d[s] > 0 && isfinite(b->g2s[s])) {
			b->dsum[s2d[s] - 1] += b->g2s[s];
			b->dn[s2d[s] - 1] += 1;
		}
		b->G[s] /= (double)np;	/* sum over pixels of G_p */
	}
}

/* lag i's dynamic g2 and its error:
** var(g2_d) = sum_s var(g2_s) / S_d^2, var(g2_s) = E_s / (n <IP><IF>)^2,
** scaled by N / (N - S_d) with N the effective pixels (W^2 / W2 per
** static bin, summed over the S_d static bins) for the means taken out;
** NaN when N - S_d < 1, or with a single pair per pixel (np = 1: then
** every g2_p is 1 by construction) */
static void corr_lag_final(const corr *c, const corr_level *L, int i,
			   corr_bins *b, const double *cnt,
			   const int32_t *s2d, double *g2, double *err)
{
	size_t np = L->M - (size_t)L->lag[i];
	for (size_t s = 0; s < c->nstat; s++) {
		double nd;
		if (!isfinite(b->g2s[s]) || s2d[s] < 1)
			continue;
		nd = cnt[s] * b->den[s];
		b->ev[s2d[s] - 1] += b->E[s] / (nd * nd);
		if (b->U2[s] > 0)
			b->neff[s2d[s] - 1] += b->U[s] * b->U[s] / b->U2[s];
		b->ns[s2d[s] - 1] += 1;
	}
	for (size_t d = 0; d < c->ndyn; d++) {
		double dof = b->neff[d] - b->ns[d];
		g2[d] = b->dn[d] > 0 ? b->dsum[d] / b->dn[d] : NAN;
		err[d] = b->dn[d] > 0 && dof >= 1 && np >= 2 ?
			 sqrt(b->ev[d] * b->neff[d] / dof) / b->dn[d] : NAN;
	}
}

/* the nl delays of level l that the result holds, from result row it0 */
/* A result in three steps, so that correlators holding parts of the
** pixels (MPI ranks) can add their sums between them: (1) per level and
** lag the sums over pixels G, S, tail, U, U2, H per static bin (and the
** counts, images, segments, frame sums); (2) with the sums of all parts,
** the residual sums E about each bin's weighted mean; (3) g2 and errors.
** corr_result runs them with nothing added between. */
struct corr_sums {
	int nl[CORR_MAXLEV];	/* each level's lags in the result */
	size_t it0[CORR_MAXLEV];	/* and the row of its first */
	corr_lres *R;		/* per level */
	corr_res r;		/* being filled */
	double *cnt;		/* nstat: used pixels per static bin */
	int32_t *s2d;		/* nstat: its dynamic bin */
	double *buf;		/* what a part exports (corr_sums_buf) */
	size_t n1, n2;		/* its length in steps 1 and 2 */
	int phase;		/* 1, 2: what buf holds; 3: done */
};

#define CORR_NSUM 6	/* G S tail U U2 H, adjacent in a lag's block */

static int corr_level_alloc(const corr *c, corr_lres *R, int l, int nl)
{
	size_t ns = c->nstat, nd = c->ndyn, per = 9 * ns + 5 * nd;
	R->L = &c->lev[l];
	R->nl = nl;
	R->blk = calloc((size_t)nl * (per + c->P), sizeof *R->blk);
	if (R->blk == NULL)
		return -1;
	for (int i = 0; i < nl; i++) {
		corr_bins *b = &R->b[i];
		double *x = R->blk + (size_t)i * per;
		b->G = x; b->S = x + ns; b->tail = x + 2 * ns; b->U = x + 3 * ns;
		b->U2 = x + 4 * ns; b->H = x + 5 * ns; b->E = x + 6 * ns;
		b->g2s = x + 7 * ns; b->den = x + 8 * ns;
		b->dsum = x + 9 * ns;
		b->dn = b->dsum + nd; b->ev = b->dn + nd; b->neff = b->ev + nd;
		b->ns = b->neff + nd;
		b->inp = 1 / (double)(R->L->M - (size_t)R->L->lag[i]);
	}
	R->tl = R->blk + (size_t)nl * per;
	return 0;
}

static int corr_res_alloc(const corr *c, corr_res *r, char *err)
{
	size_t nt = r->ntau;
	r->tau = err_calloc(nt, sizeof *r->tau, err);
	r->level = err_calloc(nt, sizeof *r->level, err);
	r->g2 = err_calloc(nt * c->ndyn, sizeof(double), err);
	r->g2_err = err_calloc(nt * c->ndyn, sizeof(double), err);
	r->g2_static = err_calloc(nt * c->nstat, sizeof(double), err);
	r->image = err_calloc(c->npix, sizeof(double), err);
	r->iq = err_calloc(c->nstat, sizeof(double), err);
	r->iq_seg = err_calloc(c->nseg * c->nstat + 1, sizeof(double), err);
	r->ivt = err_calloc(c->accepted, sizeof(double), err);
	r->frame_index = err_calloc(c->accepted, sizeof(size_t), err);
	r->rejected = err_calloc(c->nrej + 1, sizeof(size_t), err);
	if (!r->tau || !r->level || !r->g2 || !r->g2_err || !r->g2_static ||
	    !r->image || !r->iq || !r->iq_seg || !r->ivt || !r->frame_index ||
	    !r->rejected)
		return -1;
	return 0;
}

void corr_sums_free(corr_sums *S)
{
	if (S == NULL)
		return;
	for (int l = 0; S->R && l < CORR_MAXLEV; l++)
		free(S->R[l].blk);
	free(S->R);
	free(S->cnt);
	free(S->s2d);
	free(S->buf);
	corr_res_free(&S->r);
	free(S);
}

/* the part's own image, counts, segments and frame means into S->r */
static void corr_res_static(const corr *c, corr_sums *S)
{
	corr_res *r = &S->r;
	for (size_t i = 0; i < c->npix; i++)
		r->image[i] = NAN;
	for (size_t p = 0; p < c->npx; p++)
		r->image[c->pix[p]] = corr_img(c)[p] / (double)c->accepted;
	for (size_t s = 0; s < c->nstat; s++) {
		S->cnt[s] = (double)c->scount[s];
		S->s2d[s] = c->s2d[s];
	}
	if (c->nseg)
		memcpy(r->iq_seg, c->seg, c->nseg * c->nstat * sizeof(double));
	if (c->accepted) {
		memcpy(r->ivt, c->ivt, c->accepted * sizeof(double));
		memcpy(r->frame_index, c->fidx, c->accepted * sizeof(size_t));
	}
	if (c->nrej)
		memcpy(r->rejected, c->rej, c->nrej * sizeof(size_t));
}

/* I(q): each static bin's time-summed intensity over its pixels and frames */
static void corr_res_iq(const corr *c, const double *sum, corr_sums *S)
{
	for (size_t s = 0; s < c->nstat; s++)
		S->r.iq[s] = S->cnt[s] > 0 ?
			     sum[s] / ((double)c->accepted * S->cnt[s]) : NAN;
}

static void corr_bin_image(const corr *c, double *sum)
{
	for (size_t p = 0; p < c->npx; p++)
		sum[c->sbin[p]] += corr_img(c)[p];
}

static void corr_sums_move(const corr *c, corr_sums *S, int copy);

int corr_sums_new(corr *c, corr_sums **out, char *err)
{
	corr_sums *S;
	corr_res *r;
	int failed = 0;
	*out = NULL;
	if (corr_flush(c, err))
		return -1;
	if (c->lev[0].M < 2)
		return err_set(err, "corr: %zu frame%s accepted, fewer than "
			       "the 2 the first delay needs", c->lev[0].M,
			       c->lev[0].M == 1 ? "" : "s");
	if ((S = err_calloc(1, sizeof *S, err)) == NULL)
		return -1;
	r = &S->r;
	for (int l = 0; l < c->nlev; l++) {
		S->nl[l] = 0;
		S->it0[l] = r->ntau;
		for (int i = 0; i < c->lev[l].nlag; i++)	/* (increasing) */
			if ((size_t)c->lev[l].lag[i] < c->lev[l].M) {
				S->nl[l]++;
				r->ntau++;
			}
	}
	r->ndyn = c->ndyn;
	r->nstat = c->nstat;
	r->npix = c->npix;
	r->nseg = c->nseg;
	r->nframes = c->accepted;
	r->nrejected = c->nrej;
	/* step 1's export: the lags' sums, counts, binned image, segments
	** times counts, frame sums, used pixels */
	S->n1 = r->ntau * CORR_NSUM * c->nstat + 3 * c->nstat +
		c->nseg * c->nstat + c->accepted + 1;
	S->n2 = r->ntau * c->nstat;
	S->R = calloc(CORR_MAXLEV, sizeof *S->R);
	S->cnt = calloc(c->nstat + 1, sizeof *S->cnt);
	S->s2d = calloc(c->nstat + 1, sizeof *S->s2d);
	S->buf = calloc(S->n1 > S->n2 ? S->n1 : S->n2, sizeof *S->buf);
	if (!S->R || !S->cnt || !S->s2d || !S->buf || corr_res_alloc(c, r, err)) {
		corr_sums_free(S);
		return err_set(err, "corr: out of memory for the result");
	}
	/* one level per task (level 0 first: it has the most lags) */
	#pragma omp parallel for schedule(dynamic, 1) reduction(|:failed) \
		num_threads(corr_team(c, (double)r->ntau * (double)c->npx))
	for (int l = 0; l < c->nlev; l++) {
		corr_lres *R = &S->R[l];
		for (int i = 0; i < S->nl[l]; i++) {
			r->tau[S->it0[l] + (size_t)i] = c->lev[l].lag[i] *
							 ldexp(1.0, l);
			r->level[S->it0[l] + (size_t)i] = l;
		}
		if (S->nl[l] == 0)
			continue;
		if (corr_level_alloc(c, R, l, S->nl[l])) {
			failed = 1;
			continue;
		}
		corr_level_sums(c, R);
		for (int i = 0; i < S->nl[l]; i++)
			corr_lag_heads(c, R->L, i, &R->b[i]);
	}
	if (failed) {
		corr_sums_free(S);
		return err_set(err, "corr: out of memory for the result");
	}
	corr_res_static(c, S);
	S->phase = 1;
	corr_sums_move(c, S, 1);
	*out = S;
	return 0;
}

/* the export of step 1 or 2 (copy = 1) or its sum back (copy = 0) */
static void corr_sums_move(const corr *c, corr_sums *S, int copy)
{
	size_t ns = c->nstat, at = 0;
	for (int l = 0; l < c->nlev; l++)
		for (int i = 0; i < S->nl[l]; i++) {
			corr_bins *b = &S->R[l].b[i];
			double *x = S->phase == 1 ? b->G : b->E;
			size_t n = S->phase == 1 ? CORR_NSUM * ns : ns;
			if (copy)
				memcpy(S->buf + at, x, n * sizeof *x);
			else
				memcpy(x, S->buf + at, n * sizeof *x);
			at += n;
		}
	if (S->phase != 1)
		return;
	if (copy) {
		double *img = S->buf + at + ns, *sd = img + ns, *seg = sd + ns,
		       *fr = seg + c->nseg * ns;
		memcpy(S->buf + at, S->cnt, ns * sizeof *S->cnt);
		/* summed over the parts, s2d x count gives s2d x the total */
		for (size_t s = 0; s < ns; s++)
			sd[s] = (double)S->s2d[s] * S->cnt[s];
		memset(img, 0, ns * sizeof *img);
		corr_bin_image(c, img);
		for (size_t j = 0; j < c->nseg; j++)
			for (size_t s = 0; s < ns; s++)
				seg[j * ns + s] = c->scount[s] ?
					c->seg[j * ns + s] * S->cnt[s] : 0;
		for (size_t t = 0; t < c->accepted; t++)
			fr[t] = c->ivt[t] * (double)c->npx;
		fr[c->accepted] = (double)c->npx;
	}
}

double *corr_sums_buf(corr_sums *S, size_t *n)
{
	*n = S->phase == 1 ? S->n1 : S->phase == 2 ? S->n2 : 0;
	return S->buf;
}

/* step 1's sums back from buf (merged: every part's): counts, I(q),
** segments and frame means from them */
static void corr_sums_take(const corr *c, corr_sums *S, int merged)
{
	size_t ns = c->nstat, at = S->r.ntau * CORR_NSUM * ns;
	double *sum = S->buf + at + ns, *sd = sum + ns, *seg = sd + ns,
	       *fr = seg + c->nseg * ns;
	corr_sums_move(c, S, 0);
	if (!merged) {
		memset(sum, 0, ns * sizeof *sum);
		corr_bin_image(c, sum);
		corr_res_iq(c, sum, S);
		return;
	}
	memcpy(S->cnt, S->buf + at, ns * sizeof *S->cnt);
	for (size_t s = 0; s < ns; s++)
		S->s2d[s] = S->cnt[s] > 0 ? (int32_t)lround(sd[s] / S->cnt[s]) : 0;
	corr_res_iq(c, sum, S);
	for (size_t j = 0; j < c->nseg; j++)
		for (size_t s = 0; s < ns; s++)
			S->r.iq_seg[j * ns + s] = S->cnt[s] > 0 ?
				seg[j * ns + s] / S->cnt[s] : NAN;
	for (size_t t = 0; t < c->accepted; t++)
		S->r.ivt[t] = fr[t] / fr[c->accepted];
}

/* step 2: with the (summed) sums, g2 per static bin and the residuals */
static void corr_sums_step2(const corr *c, corr_sums *S)
{
	#pragma omp parallel for schedule(dynamic, 1) \
		num_threads(corr_team(c, (double)S->r.ntau * (double)c->npx))
	for (int l = 0; l < c->nlev; l++) {
		corr_lres *R = &S->R[l];
		for (int i = 0; i < S->nl[l]; i++)
			corr_lag_bins(c, R->L, i, &R->b[i], S->cnt, S->s2d,
				      S->r.g2_static + (S->it0[l] + (size_t)i) *
				      c->nstat);
		if (S->nl[l] > 0)
			corr_level_spread(c, R);
	}
}

static void corr_sums_step3(const corr *c, corr_sums *S, corr_res *r)
{
	for (int l = 0; l < c->nlev; l++)
		for (int i = 0; i < S->nl[l]; i++) {
			size_t row = S->it0[l] + (size_t)i;
			corr_lag_final(c, S->R[l].L, i, &S->R[l].b[i], S->cnt,
				       S->s2d, S->r.g2 + row * c->ndyn,
				       S->r.g2_err + row * c->ndyn);
		}
	*r = S->r;
	memset(&S->r, 0, sizeof S->r);
	S->phase = 3;
}

int corr_sums_step(corr *c, corr_sums *S, corr_res *r, char *err)
{
	if (S->phase == 1) {
		corr_sums_take(c, S, 1);
		corr_sums_step2(c, S);
		S->phase = 2;
		corr_sums_move(c, S, 1);
		return 0;
	}
	if (S->phase != 2 || r == NULL)
		return err_set(err, "corr: the sums are used up");
	corr_sums_move(c, S, 0);
	corr_sums_step3(c, S, r);
	return 0;
}

int corr_result(corr *c, corr_res *r, char *err)
{
	corr_sums *S;
	memset(r, 0, sizeof *r);
	if (corr_sums_new(c, &S, err))
		return -1;
	corr_sums_take(c, S, 0);
	corr_sums_step2(c, S);
	corr_sums_step3(c, S, r);
	corr_sums_free(S);
	return 0;
}

void corr_res_free(corr_res *r)
{
	free(r->tau); free(r->level); free(r->g2); free(r->g2_err);
	free(r->g2_static); free(r->image); free(r->iq); free(r->iq_seg);
	free(r->ivt); free(r->frame_index); free(r->rejected);
	memset(r, 0, sizeof *r);
}

