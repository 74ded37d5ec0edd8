/*
** h5.h - HDF5 input and output for ionflow (plain C core, no Lua).
**
** Reading: files are opened read-only; datasets are read whole or as a
** hyperslab into an arr, converted to the nearest arr dtype (see
** h5_read); attributes and scalar datasets come back as h5_value (integer,
** number, string, list of strings or array); frame stacks are streamed a
** block of frames per HDF5 call (h5_frames_*).
**
** Writing: h5_create writes into "<path>.tmp-<pid>-XXXXXX" in the
** target's directory and h5_commit renames it into place, so an
** interrupted run never leaves a half-written result; h5_abort (or
** process exit without commit, or h5_unlink_temps from a signal handler)
** removes the temporary file. A writer killed outright leaves it behind:
** the next h5_create of the same path removes such files once their
** writer is gone. A path that is open for reading in this process is
** never overwritten, nor an existing file unless asked.
**
** HDF5's own error printing is turned off; its most specific message is
** appended to ours. Every function follows err.h: 0 / -1 and one line in
** err naming the file and the object. Indices are 0-based here.
*/
#ifndef ionflow_h5_h
#define ionflow_h5_h

#include <stddef.h>

#include "array.h"
#include "err.h"

#define H5_MAXDIM 32		/* HDF5's own rank limit */
#define H5_ALL ((size_t)-1)	/* as a count: "as many as there are" */

typedef struct h5_file h5_file;
typedef struct h5_frames h5_frames;
typedef struct h5_writer h5_writer;

typedef enum { H5_GROUP, H5_DATASET, H5_OTHER } h5_kind;

/* what an object is. dtype is the file's type ("u16", "i64", "f16",
** "str", "enum", "compound", ...); numeric datasets are read as read_as
** (see h5_read), strings as text (is_string). */
typedef struct h5_info {
	h5_kind kind;
	int ndim;			/* datasets; 0 for a scalar */
	size_t shape[H5_MAXDIM];
	char dtype[24];
	int numeric, is_string;		/* readable as arr / as text */
	arr_dtype read_as;		/* when numeric */
	int chunked;
	size_t chunk[H5_MAXDIM];	/* when chunked */
	char filters[96];		/* "shuffle,gzip", "lz4", "" */
	size_t nlinks;			/* groups: number of members */
	size_t nattrs;
} h5_info;

typedef struct h5_entry {
	char *name;		/* link name */
	char *path;		/* full path in the file */
	int depth;		/* 0 for members of the listed group */
	int broken;		/* a link whose target cannot be resolved */
	char *again;		/* recursive listings: a group listed before
				** (by another hard link) at this path, whose
				** members are not listed twice; else NULL */
	h5_info info;
} h5_entry;

/* A hyperslab: on each of the first ndim axes, count elements from first
** with the given step (step 0 is taken as 1, count H5_ALL as "to the
** end"); axes past ndim are taken whole. */
typedef struct h5_sel {
	int ndim;
	size_t first[H5_MAXDIM], count[H5_MAXDIM], step[H5_MAXDIM];
} h5_sel;

typedef enum {
	H5_VNONE, H5_VINT, H5_VNUM, H5_VSTR, H5_VSTRS, H5_VARR
} h5_vkind;

/* a scalar, a string, a 1-D list of strings or an array. Values that
** h5_* functions return own their memory (free with h5_value_free);
** values passed in for writing are only read. */
typedef struct h5_value {
	h5_vkind kind;
	long long i;		/* H5_VINT */
	double d;		/* H5_VNUM */
	char *s;		/* H5_VSTR */
	char **strs;		/* H5_VSTRS */
	size_t nstrs;
	arr a;			/* H5_VARR */
} h5_value;

void h5_value_free(h5_value *v);

/* ---- reading ---- */

int h5_open(h5_file **f, const char *path, char *err);
void h5_close(h5_file *f);		/* NULL is fine */
const char *h5_file_path(const h5_file *f);

/* 1 if path names an object (links followed), else 0 */
int h5_exists(h5_file *f, const char *path);
int h5_info_get(h5_file *f, const char *path, h5_info *info, char *err);
/* the members of group (recursively when asked), sorted by name, in
** depth-first order; free with h5_list_free. Recursion follows hard
** links only and enters each group once (see h5_entry.again), so that
** cycles of hard links end; it polls the interrupt flag. */
int h5_list(h5_file *f, const char *group, int recursive, h5_entry **out,
	    size_t *n, char *err);
void h5_list_free(h5_entry *e, size_t n);

/* A numeric dataset (whole when sel is NULL) into a new arr. The file's
** type maps to: u8 u16 u32 i32 f32 f64 as themselves; i8 i16 -> i32;
** f16 -> f32; long double -> f64; i64 u64 -> f64 (refused when a value
** is beyond 2^53, which f64 cannot hold exactly); enums (h5py's bool)
** through their integer base type. Anything else is refused. */
int h5_read(h5_file *f, const char *dset, const h5_sel *sel, arr *out,
	    char *err);
/* any dataset: rank 0 gives H5_VINT/H5_VNUM/H5_VSTR, strings of rank 1
** give H5_VSTRS, numeric data an H5_VARR (as h5_read) */
int h5_read_value(h5_file *f, const char *dset, const h5_sel *sel,
		  h5_value *v, char *err);
int h5_attr_read(h5_file *f, const char *path, const char *name,
		 h5_value *v, char *err);
/* the attribute names of an object, sorted; free with h5_names_free */
int h5_attr_names(h5_file *f, const char *path, char ***names, size_t *n,
		  char *err);
void h5_names_free(char **names, size_t n);

/* ---- streaming a frame stack (axis 0 = frame) ---- */

/* Frames first, first+step, ... (count of them, H5_ALL for all that
** exist). block is the number of frames read per HDF5 call (0: about
** 8 MiB, rounded to the dataset's chunks along axis 0). The stream keeps
** its own HDF5 handles: f may be closed afterwards. */
int h5_frames_open(h5_frames **fr, h5_file *f, const char *dset,
		   size_t first, size_t count, size_t step, size_t block,
		   char *err);
/* 1 and the next frame (a view into the current block, holding a
** reference to it) with its index in the dataset, 0 at the end, -1 on
** error (including "interrupted"). A block whose buffer is still
** referenced by earlier frames is never overwritten: a new one is made,
** and *allocated says how many bytes (0 when the old one was reused). */
int h5_frames_next(h5_frames *fr, arr *frame, size_t *index,
		   size_t *allocated, char *err);
/* the same for a whole block: 1 and the frames of the current block not
** yet handed out (or the next block) as one view of n frames (axis 0),
** with the dataset index of its first; frame and block calls may be
** mixed. A consumer that takes many frames at a time (the correlator)
** then reads them where HDF5 put them. */
int h5_frames_next_block(h5_frames *fr, arr *block, size_t *index,
			 size_t *allocated, char *err);
/* 1 when the next h5_frames_next reads a new block (the binding then
** closes the frame views it handed out, so that the buffer is reused) */
int h5_frames_block_done(const h5_frames *fr);
/* read only rows row0 .. row0 + nrows - 1 (axis 1) of every frame, a
** hyperslab (before the first read; blocks are then frames x nrows x
** ...): a part of the detector (an MPI rank's) costs only its bytes */
int h5_frames_rows(h5_frames *fr, size_t row0, size_t nrows, char *err);
/* the consumer holds each block while the next is read (a correlator's
** background push): the two buffers that then alternate are made at the
** first read, the second one's pages populated in the background while
** the first is read (mem.h); before the first read */
void h5_frames_hold(h5_frames *fr);
size_t h5_frames_count(const h5_frames *fr);	/* frames in the stream */
size_t h5_frames_block(const h5_frames *fr);	/* frames per read */
void h5_frames_close(h5_frames *fr);		/* NULL is fine */

/* ---- writing ---- */

typedef struct h5_wopts {
	int compress;		/* gzip level 1..9, 0 for none */
	int lzf;		/* LZF instead (h5py's filter 32000, fast) */
	int shuffle;		/* byte shuffle before gzip or LZF */
	int nchunk;		/* 0: automatic chunk shape when chunked */
	size_t chunk[H5_MAXDIM];
} h5_wopts;

int h5_create(h5_writer **w, const char *path, int overwrite, char *err);
const char *h5_writer_path(const h5_writer *w);
const char *h5_writer_tmp(const h5_writer *w);
/* a new dataset (parent groups made on demand); it must not exist yet.
** opts may be NULL. Arrays keep their dtype; H5_VINT is int64, H5_VNUM
** float64, strings variable-length UTF-8. */
int h5_write(h5_writer *w, const char *dset, const h5_value *v,
	     const h5_wopts *opts, char *err);
/* set (or replace) an attribute; a missing object is made as a group */
int h5_write_attr(h5_writer *w, const char *obj, const char *name,
		  const h5_value *v, char *err);
int h5_group(h5_writer *w, const char *path, char *err);
/* close the file and rename it into place; w is freed in every case
** (on failure the temporary file is removed) */
int h5_commit(h5_writer *w, char *err);
/* close and remove the temporary file; w is freed. NULL is fine. */
void h5_abort(h5_writer *w);
/* remove the temporary files of every writer not yet committed, and
** nothing else: async-signal-safe, for a handler that ends the process */
void h5_unlink_temps(void);

/* ---- diagnostics ---- */

/* HDF5 identifiers open in the whole library (files, groups, datasets,
** types, attributes): 0 when nothing leaks */
long h5_open_ids(void);
/* 1 when HDF5 can decode datasets written with this filter id
** (1 gzip, 32001 blosc, 32004 lz4, 32008 bitshuffle, ...) */
int h5_filter_avail(int id);

#endif
