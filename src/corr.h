/*
** corr.h - streaming multi-tau intensity autocorrelation for XPCS (core).
**
** Frames arrive in chunks (corr_push) and are never stored: memory depends
** on the number of used pixels and of levels, not on the number of frames.
**
** Multi-tau scheme. Level 0 is the frame series I_0[t]; level l is the
** series of sums of 2^l consecutive frames, I_l[j] = I_{l-1}[2j] +
** I_{l-1}[2j+1], with M_l = floor(M_{l-1} / 2) frames (a trailing odd frame
** waits for its partner). Each level has a list of lags k (in its own
** frames); the delay is tau = k 2^l frames. For a pixel and a lag
**   G   = 1/(M-k) sum_{t=0}^{M-k-1} I[t] I[t+k]
**   IP  = 1/(M-k) sum_{t=0}^{M-k-1} I[t]        ("past")
**   IF  = 1/(M-k) sum_{t=k}^{M-1}   I[t]        ("future")
** and per static bin s (means over its pixels)
**   g2_s = <G>_s / (<IP>_s <IF>_s)       (symmetric normalisation).
** A dynamic bin's g2 is the mean of g2_s over its static bins with finite
** g2_s. A bin with no pixels, or whose static bins have no intensity,
** gives NaN; a lag reaches the result only if it has at least one pair
** (k < M_l).
**
** Error. g2_s is a weighted sum of the per-pixel normalised
** g2_p = G_p / (IP_p IF_p), with weights w_p = IP_p IF_p, so a frozen
** intensity pattern (static speckle, heterodyne reference) divides out of
** g2_p and does not enter the error. var(g2_s) is estimated from the
** residuals e_p = G_p - gw w_p about the weighted mean gw = sum G / sum w:
**   var(g2_s) = sum_p e_p^2 / (n <IP>_s <IF>_s)^2,
** and var(g2) = sum_s var(g2_s) / S^2 over the S static bins averaged,
** times N / (N - S), N the effective pixels (sum w)^2 / sum w^2 summed
** over those bins. e_p needs no division by a pixel's mean: a pixel
** without photons (sparse data) has weight 0 and adds nothing, and no
** error is ever Inf. NaN when N - S < 1 or with a single pair per pixel
** (k = M_l - 1: every g2_p is then 1). IP_p and IF_p are the pixel's
** own: S_p minus its last k frames (still in the ring) or its first k
** frames (kept per pixel and lag while a level's first K_l frames go by,
** in single precision: they only enter the error). Not included:
** the fluctuation of the baseline <I^2>_s / <I>_s^2 that a frozen
** pattern inside a static bin gives (common to all delays, relative
** variance ~ the counts per level frame), and the correlation between
** nearby delays.
**
** Default lags (dpl = 4, "delays per level", equal to the APS 8-ID-I
** list): level 0: 1..2 dpl; level l >= 1: dpl+1..2 dpl, i.e. delays
** 1..8, 10,12,14,16, 20,24,28,32, ...
**
** Options: frame range and stride of the offered stream, a dark image
** subtracted from every frame, per-frame normalisation by the frame's mean
** over the used pixels, and rejection of frames whose mean deviates from
** the running median by more than reject_sigma robust standard deviations
** (1.4826 MAD, over the last 256 accepted frames and the current chunk).
** A rejected frame is dropped from the series (the following frames move
** up by one): meant for rare isolated bad frames; their stream indices are
** reported. A float frame holding NaN or Inf in a used pixel is an error
** and leaves the correlator unchanged.
**
** Also in the same pass: the time-averaged image, the mean intensity of
** every accepted frame, and I(q) per static bin over segments of
** segment_frames accepted frames.
**
** Memory per used pixel: for each level l, (K_l + nlag_l + 1) doubles and
** nlag_l floats with K_l the largest lag of the level, 8 uint16 for a
** level that may run the integer kernel (corr16.h), plus one double; e.g.
** 10000 frames, dpl 4: about 2.3 kB per pixel, of which the double ring
** of an integer level (64 bytes) is mapped but never touched.
** corr_memory() gives the total. The sparse levels (corrsp.h) add a
** buffer of events, half a byte per pixel-frame of a batch (two with
** CORR_SPARSE_ON), reserved when it first runs and touched as far as the
** events fill it, and per thread 64 bytes per pixel of a tile and two
** levels' events of a tile.
*/
#ifndef ionflow_corr_h
#define ionflow_corr_h

#include <stddef.h>
#include <stdint.h>

#include "array.h"
#include "err.h"
#include "progress.h"
#include "qmap.h"

#define CORR_MAXLEV 48
#define CORR_MAXLAG 32

/* kernels a correlator may run: AUTO takes the best the CPU has; the
** others ask for one (corr_new fails when the CPU lacks it), to compare
** them or to test each on one machine. BASE: the portable double kernel
** only; AVX2: the AVX2+FMA double kernel and corr16's AVX2 integer
** kernel; AVX512: corr16's AVX-512 VNNI integer kernel with the AVX2
** double kernel. */
typedef enum corr_kernel {
	CORR_KERNEL_AUTO, CORR_KERNEL_BASE, CORR_KERNEL_AVX2,
	CORR_KERNEL_AVX512
} corr_kernel;

/* the first levels from the photons of mostly-zero integer frames
** (corrsp.h): AUTO level 0 when a batch's mean count per pixel is low
** (sampled frames, or the frames before) or the frames came as events,
** and each level above while its occupancy is low; ON every level it
** applies to (up to sparse_levels); OFF never */
typedef enum corr_sparse {
	CORR_SPARSE_AUTO, CORR_SPARSE_ON, CORR_SPARSE_OFF
} corr_sparse;

typedef struct corr_opts {
	int dpl;		/* delays per level (default 4) */
	int lags0;		/* lags at level 0 (default 2 dpl) */
	size_t first;		/* first stream frame used (0-based) */
	size_t last;		/* one past the last used; 0 = no end.
				   Known, it lets the last frames run where
				   they are (no stage), leaves out levels
				   that could never hold a pair, and makes
				   the rest at once, populated in the
				   background (mem_prefault) */
	size_t stride;		/* use every stride-th frame (default 1) */
	const double *dark;	/* rows x cols image subtracted, or NULL */
	int normalize;		/* divide frames by their mean intensity */
	double reject_sigma;	/* > 0: drop outlier frames */
	size_t segment_frames;	/* I(q) segment length (accepted frames) */
	int nthreads;		/* 0 = OpenMP's default */
	corr_kernel kernel;	/* default CORR_KERNEL_AUTO */
	corr_sparse sparse;	/* default CORR_SPARSE_AUTO */
	int sparse_levels;	/* most levels run sparse (0: as many as
				   pay, or with ON as many as apply) */
	int events;		/* fed by corr_push_events: batches of up to
				   1024 frames (corr_batch_frames), whose
				   events a batch stages, instead of 512 */
	progress *prog;		/* updated with accepted frames; the
				   caller begins and ends it; NULL none */
} corr_opts;

typedef struct corr corr;

typedef struct corr_res {
	size_t ntau, ndyn, nstat;
	double *tau;		/* ntau delays, in used (strided) frames */
	int *level;		/* ntau: multi-tau level of each delay */
	double *g2;		/* ntau x ndyn, NaN for empty bins */
	double *g2_err;		/* ntau x ndyn */
	double *g2_static;	/* ntau x nstat */
	size_t npix;		/* rows * cols */
	double *image;		/* time-averaged image, NaN off the used pixels */
	double *iq;		/* nstat: time-averaged I per static bin */
	size_t nseg;
	double *iq_seg;		/* nseg x nstat */
	size_t nframes;		/* accepted frames */
	double *ivt;		/* nframes: mean intensity of each frame */
	size_t *frame_index;	/* nframes: its 0-based stream index */
	size_t nrejected;
	size_t *rejected;	/* stream indices of rejected frames */
} corr_res;

void corr_opts_default(corr_opts *o);
/* stat may be NULL (static = dynamic partition); both must have the same
** shape and every static bin must lie inside one dynamic bin */
int corr_new(corr **out, const qmap *dyn, const qmap *stat,
	     const corr_opts *o, char *err);
/* n frames of rows x cols, C-contiguous, of dtype dt. Frames are taken
** in batches; with a pending Ctrl-C (intr.h) the push fails with
** "interrupted": at its start nothing of it is taken, between batches the
** batches already run are kept and the rest of the call is dropped. */
int corr_push(corr *c, const void *frames, arr_dtype dt, size_t n,
	      size_t rows, size_t cols, char *err);
/* A correlator that holds a part of the detector (an MPI rank's rows)
** normalises and rejects frames by the whole detector's frame means, as
** one correlator over all pixels does, when they are given:
**   corr_frame_sums(c, frames, dt, n, rows, cols, sum, err);
**       -- sum[f]: frame f's dark-subtracted sum over this part's used
**          pixels (corr_used_pixels of them)
**   ... sums and used pixels added over the parts: mean = sum / pixels ...
**   corr_push_means(c, frames, dt, n, rows, cols, mean, err);
** mean[f] for every frame of the push (NULL: corr_push, the part's own
** means). */
int corr_frame_sums(const corr *c, const void *frames, arr_dtype dt,
		    size_t n, size_t rows, size_t cols, double *sum,
		    char *err);
size_t corr_used_pixels(const corr *c);
int corr_push_means(corr *c, const void *frames, arr_dtype dt, size_t n,
		    size_t rows, size_t cols, const double *mean, char *err);

/* n frames given by their photons: frame f's are pix[off[f] ..
** off[f + 1]) (detector pixels, row * cols + col, plus pix0: 0, or 1 for
** 1-based numbers as detector.events gives) with counts cnt[...];
** a pixel given twice in a frame has the sum, one outside the used
** pixels is ignored. The same result as pushing the dense frames (to the
** last bit). Their levels run the sparse path (corrsp.h) wherever it
** applies, without a frame ever being made dense; with sparse OFF, dark,
** normalisation or rejection, or a count of 2^15 or more, the frames are
** made dense and pushed. A pixel past the frame is an error, found
** before anything is taken. */
int corr_push_events(corr *c, size_t n, const size_t *off,
		     const uint32_t *pix, uint32_t pix0, const uint16_t *cnt,
		     char *err);
/* the result so far (may be called repeatedly); needs >= 2 frames */
int corr_result(corr *c, corr_res *r, char *err);
void corr_res_free(corr_res *r);

/* A result of correlators that each hold part of the pixels (MPI ranks:
** blocks of rows, the same frames, partitions with the same bins), equal
** to one correlator's over all pixels up to the order of the additions:
**   corr_sums_new(c, &S, err);          -- step 1: buf = this part's sums
**   buf = corr_sums_buf(S, &n);         -- add every part's buf into it
**   corr_sums_step(c, S, NULL, err);    -- step 2: buf = residual sums
**   buf = corr_sums_buf(S, &n);         -- add every part's again
**   corr_sums_step(c, S, &r, err);      -- r: g2, errors, I(q), ivt
**   corr_sums_free(S);
** Step 1's buf holds, per delay and static bin, the sums over pixels the
** normalisation needs (G, past and future intensity, the error weights)
** and the used pixels, binned time-summed image, segments and frame sums;
** step 2's the squared residuals about each bin's weighted mean, which
** needs the summed step 1. r's image is this part's (NaN elsewhere);
** frame_index, rejected as this part saw them (normalisation and
** rejection see only the part's pixels unless the whole detector's frame
** means are given: corr_push_means).
** corr_result is the same three steps with nothing added. */
typedef struct corr_sums corr_sums;
int corr_sums_new(corr *c, corr_sums **S, char *err);
double *corr_sums_buf(corr_sums *S, size_t *n);
int corr_sums_step(corr *c, corr_sums *S, corr_res *r, char *err);
void corr_sums_free(corr_sums *S);
void corr_free(corr *c);
/* back to no frames with the same partitions and options, keeping the
** memory (cheaper than corr_free and corr_new: nothing is faulted in
** again) */
void corr_reset(corr *c);
size_t corr_memory(const corr *c);	/* bytes held */
size_t corr_frames(const corr *c);	/* frames accepted so far */
/* frames per batch: a push of whole batches (with none waiting) is read
** in place; frames left waiting when a push returns are copied into a
** stage, so a reader should hand over blocks of this many frames */
size_t corr_batch_frames(const corr *c);
/* the share of tile batches whose level `level` ran corr16's integer
** kernel (integer frames, the level's values below CORR16_MAX, no dark
** or normalisation; levels above 0 also need dpl 4); 0 for other levels */
double corr_int_share(const corr *c, int level);
/* the share of tile batches whose level 0 ran the sparse path
** (corrsp.h: integer frames that the integer kernel may take, mostly
** zero, or any with CORR_SPARSE_ON; or pushed events) */
double corr_sparse_share(const corr *c);
/* the same for level `level` (levels above 0 run sparse from the merged
** events of the level below, while their occupancy is low) */
double corr_sparse_share_at(const corr *c, int level);
/* the delays (in frames) the options give for nframes frames */
size_t corr_delays(const corr_opts *o, size_t nframes, double *tau,
		   size_t max);
/* the best kernel of this CPU (AUTO) or the one a correlator runs:
** "avx512", "avx2" or "base"; corr_kernel_parse is its inverse (AUTO for
** "auto"), -1 for an unknown name */
const char *corr_kernel_name(const corr *c);
int corr_kernel_parse(const char *name);

#endif
