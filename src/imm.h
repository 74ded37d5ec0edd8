/*
** imm.h - APS legacy IMM frame files, dense and sparse (plain C core, no
** Lua). Format facts: shared/formats/detector-formats.md, part B.
**
** A file is frames back to back, each a 1024-byte little-endian header
** and its payload: dlen uint16 pixels (compression 0, dense, row-major)
** or dlen int32 pixel indices then dlen uint16 counts (compression 6,
** sparse). The first header decides the kind and the shape; every later
** header must agree. The frame count is the number of headers (empty
** sparse frames are bare headers), found by one pass over the headers at
** open; no per-frame table is kept, so memory does not grow with the
** file. Errors name the file, the frame and the header field.
*/
#ifndef ionflow_imm_h
#define ionflow_imm_h

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

#define IMM_HEADER 1024
#define IMM_DENSE 0
#define IMM_SPARSE 6
#define IMM_MAXSIDE 65536		/* rows, cols */
#define IMM_MAXPIX ((size_t)1 << 28)	/* rows x cols */

/* the header fields the readers use (byte offset in the header) */
typedef struct imm_header {
	int32_t compression;	/* 4 */
	int32_t rows, cols;	/* 108, 112 */
	int32_t bytes;		/* 116: bytes per pixel */
	double elapsed;		/* 128: time stamp, s */
	uint32_t dlen;		/* 152: payload elements */
	int32_t buffer_number;	/* 160: the camera's frame number */
} imm_header;

typedef struct imm_file {
	int fd;
	char *path;
	off_t size;
	int sparse;
	size_t rows, cols, nframes;
	off_t off;		/* header of frame `next` */
	size_t next;
	imm_header h;		/* of frame `next` when has_h */
	int has_h;
	uint8_t *payload;	/* one frame's payload (and the next header,
				   read with it: one read a frame) */
	size_t cap;
	off_t ahead;		/* the offset of that header, or 0 */
	size_t ahead_ix;	/* and where it is in payload */
} imm_file;

/* a sparse frame's entries: n pixels (0 .. rows*cols-1) and counts, in
** the reader's buffer until its next call */
typedef struct imm_sparse {
	size_t n;
	const uint32_t *pixel;
	const uint16_t *count;
} imm_sparse;

/* decode the fields of a 1024-byte header */
void imm_header_decode(const uint8_t *b, imm_header *h);
/* open, check the first header and count the frames */
int imm_open(imm_file *m, const char *path, char *err);
/* frame f (f never decreases between calls): a dense file's pixels into
** out (rows*cols uint16), a sparse file's entries into *sp (each pixel
** checked, the whole frame in one read and one loop) */
int imm_frame(imm_file *m, size_t f, uint16_t *out, imm_sparse *sp,
	      char *err);
void imm_close(imm_file *m);

#endif
