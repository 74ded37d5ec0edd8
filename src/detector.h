/*
** detector.h - raw detector frame streams, whatever the file format
** (plain C core, no Lua).
**
** One stream API over the formats of APS 8-ID-I (facts and sources:
** shared/formats/detector-formats.md):
**   "hdf5"       a frame stack (frames x rows x cols) in an HDF5 file,
**                /entry/data/data unless named; read by h5_frames
**   "rigaku"     Rigaku 500k sparse words, NAME.bin (rigaku.h)
**   "rigaku3m"   Rigaku 3M: NAME.bin.000 .. .005, six modules assembled
**                on a 3 x 2 grid with gaps (det_opts: gap, order)
**   "imm"        APS IMM, dense or sparse (imm.h)
** The format is chosen from the file (HDF5 signature, .bin / .bin.00N
** suffix, else IMM) unless det_opts.format names it.
**
** Frames come as h5_frames gives them: one at a time as views into a
** block of frames, or a block at a time; a block buffer is reused once
** its views are let go, so memory is one or two blocks whatever the run's
** length. Raw formats give uint16 frames (a Rigaku count has 12 bits, an
** IMM pixel 16); sparse sources (Rigaku, sparse IMM) are made dense per
** block, and also give their events (det_next_events) for consumers that
** take them sparse.
**
** Rigaku files have no words for frames without photons, so their frame
** count is never taken silently from the last word: the caller gives it
** (det_opts.frames) or asks for the last word's (frames_last).
*/
#ifndef ionflow_detector_h
#define ionflow_detector_h

#include <stddef.h>
#include <stdint.h>

#include "array.h"
#include "err.h"

#define DET_MODULES 6		/* Rigaku 3M */
#define DET_ALL ((size_t)-1)

typedef struct det_stream det_stream;

typedef struct det_opts {
	const char *format;	/* NULL: from the file */
	const char *dataset;	/* HDF5: NULL for /entry/data/data */
	size_t frames;		/* Rigaku: the run's frame count (0: unknown);
				   others: checked against the file's */
	int frames_last;	/* Rigaku: the last word's frame + 1 */
	size_t module_rows, module_cols;	/* Rigaku module: 512 x 1024 */
	size_t gap_rows, gap_cols;		/* 3M gaps: 70, 52 */
	int order[DET_MODULES];	/* 3M: grid slot p (row-major, 3 rows x 2
				   columns) shows file .bin.00<order[p]>:
				   5 0 4 1 3 2 */
	size_t first, count, step;	/* 0-based; count DET_ALL: to the end */
	size_t block;		/* frames per block, 0: about 8 MiB */
	size_t row0, nrows;	/* only these rows of every frame (nrows 0:
				   all): HDF5 reads their hyperslab, Rigaku
				   the modules that show in them (frames and
				   events are then nrows x cols); IMM
				   ignores it */
	int hold;		/* HDF5: blocks are held while the next is
				   read (h5_frames_hold) */
} det_opts;

typedef struct det_info {
	char format[16];	/* "hdf5", "rigaku", "rigaku3m", "imm" */
	int sparse;		/* events available (det_next_events) */
	size_t frames;		/* 0 with frames_known 0: not given */
	int frames_known;
	size_t frames_seen;	/* Rigaku: last word's frame + 1 (max over
				   the modules) */
	size_t rows, cols;
	arr_dtype dtype;
	char dataset[256];	/* HDF5 */
} det_info;

/* the photons of one frame: n pixels (row * cols + col of the assembled
** frame) and their counts; valid until the next call on the stream */
typedef struct det_events {
	size_t frame;		/* 0-based, in the file */
	size_t n;
	const uint32_t *pixel;
	const uint16_t *count;
} det_events;

void det_opts_init(det_opts *o);
/* the format a path is read as ("hdf5", ...), from its name and bytes */
int det_sniff(const char *path, const det_opts *o, char *fmt, size_t n,
	      char *err);
/* what det_open would stream (frames 0 when the count is unknown) */
int det_info_get(const char *path, const det_opts *o, det_info *info,
		 char *err);

int det_open(det_stream **s, const char *path, const det_opts *o, char *err);
const det_info *det_stream_info(const det_stream *s);
size_t det_count(const det_stream *s);	/* frames in the stream */
size_t det_block(const det_stream *s);	/* frames per block */
/* 1 and the next frame (a view into the current block) with its 0-based
** index in the file, 0 at the end, -1 on error; *allocated as h5_frames */
int det_next(det_stream *s, arr *frame, size_t *index, size_t *allocated,
	     char *err);
/* 1 and the rest of the current block (or the next block) as one view */
int det_next_block(det_stream *s, arr *block, size_t *index,
		   size_t *allocated, char *err);
/* 1 when the next det_next reads a new block */
int det_block_done(const det_stream *s);
/* 1 and the next frame's events (sparse sources only; not between frames
** of a block already read), 0 at the end, -1 on error */
int det_next_events(det_stream *s, det_events *ev, char *err);
/* the events of up to nmax frames (0: 512) (det_next_events) one frame
** after the other: per[f] events of frame frame0 + f (in the selection's
** order), pixel (numbered from pix0) and count n of them in all; the
** buffers are grown as needed and kept for the next call */
typedef struct det_evblock {
	uint32_t pix0;		/* the first pixel's number (set by the
				   caller: 0, or 1 for 1-based numbers) */
	size_t frame0;		/* 0-based, in the file */
	size_t nframes, n;
	uint32_t *pixel;
	uint16_t *count;
	size_t *per;
	size_t cap, ccap, fcap;	/* (allocated elements) */
} det_evblock;
/* 1 and at least one frame, 0 at the end, -1 on error (b then holds
** nothing) */
int det_next_events_block(det_stream *s, size_t nmax, det_evblock *b,
			  char *err);
void det_evblock_free(det_evblock *b);
void det_close(det_stream *s);		/* NULL is fine */

#endif
