/*
** rigaku.h - one module of a Rigaku 500k / 3M sparse .bin stream (plain C
** core, no Lua). Format facts: shared/formats/detector-formats.md, part A.
**
** A file is a bare stream of little-endian 64-bit words, one per pixel
** with photons in a frame: bits 0-11 the count, 16-35 the pixel index
** (row * cols + col of the module, row-major as boost_corr reads it), bit
** 36 a module flag (boost_corr drops it when every word of a file has it:
** here it must be the same in every word), 40-63 the 0-based frame.
** Words are sorted by frame; a frame without photons has no words, so the
** frame count is not in the file and comes from the caller.
**
** The reader walks the file once, forward, through a fixed buffer: memory
** does not depend on the file's length. Every word is checked (order,
** frame range, pixel range, flag) before use, and an error names the
** file, the word, the frame and the field.
*/
#ifndef ionflow_rigaku_h
#define ionflow_rigaku_h

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define RIG_ROWS 512		/* boost_corr's module: 512 x 1024 */
#define RIG_COLS 1024
#define RIG_MAXPIX ((size_t)1 << 20)	/* 20 index bits besides the flag */
#define RIG_BUFWORDS 32768

typedef struct rig_module {
	int fd;
	char *path;
	uint64_t nwords;	/* whole words in the file */
	uint64_t pos;		/* index of the word at buf[bi] */
	uint64_t buf[RIG_BUFWORDS];
	size_t bn, bi;		/* words in buf, next one */
	size_t rows, cols;	/* module shape */
	size_t nframes;		/* the true frame count (caller's) */
	uint64_t prev;		/* frame of the last word checked */
	int flag;		/* bit 36 of the first word */
} rig_module;

/* open path for reading; a length that is not whole words is an error */
int rig_open(rig_module *m, const char *path, size_t rows, size_t cols,
	     char *err);
/* the frame of the last word + 1 (0 for an empty file): what the file
** shows of its frame count, trailing empty frames not included */
int rig_frames_seen(rig_module *m, uint64_t *n, char *err);
/* set the true frame count (no word may name a frame past it) */
void rig_set_frames(rig_module *m, size_t nframes);
/* The words of frame f (f never decreases between calls) appended from
** *n on to pix (module pixels, 0 .. rows*cols-1) and cnt while they fit
** cap; the words of earlier frames are checked and passed over. A run of
** words is checked and decoded in one tight loop (a call per word cost
** more than the correlation of its photons). 0: the frame is done; 1:
** cap is reached (call again with more room for the rest); -1: error. */
int rig_frame_into(rig_module *m, uint64_t f, uint32_t *pix, uint16_t *cnt,
		   size_t cap, size_t *n, char *err);
void rig_close(rig_module *m);

#endif
