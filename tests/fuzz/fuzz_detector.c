/*
** fuzz_detector.c - the raw detector readers (src/rigaku.c, src/imm.c
** through src/detector.c) on a file made of the input. The first byte
** chooses the reader (even: a Rigaku .bin of 8 x 16 pixel modules, with
** the frame count from the second byte or, when it is 0, from the last
** word; odd: IMM), the rest is the file. Every frame is streamed in
** blocks of two, then the events of a sparse source are read again.
*/
#include <string.h>

#include "detector.h"
#include "fuzz.h"

static void fuzz_det_frames(const char *path, const det_opts *o)
{
	char err[ERR_LEN];
	det_stream *s;
	size_t idx, alloc;
	arr blk;
	if (det_open(&s, path, o, err) != 0)
		return;
	while (det_next_block(s, &blk, &idx, &alloc, err) == 1)
		arr_release(&blk);
	det_close(s);
}

static void fuzz_det_events(const char *path, const det_opts *o)
{
	char err[ERR_LEN];
	det_stream *s;
	det_events ev;
	if (det_open(&s, path, o, err) != 0)
		return;
	if (det_stream_info(s)->sparse)
		while (det_next_events(s, &ev, err) == 1)
			;
	det_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path;
	det_opts o;
	det_info in;
	char err[ERR_LEN];
	if (size < 2)
		return 0;
	det_opts_init(&o);
	o.block = 2;
	if (data[0] % 2 == 0) {
		o.format = "rigaku";
		o.module_rows = 8;
		o.module_cols = 16;
		o.frames = data[1];
		o.frames_last = data[1] == 0;
	} else {
		o.format = "imm";
	}
	path = fuzz_file(data + 2, size - 2, "detector");
	if (path == NULL)
		return 0;
	/* a frame count or shape too big to stream in a harness is skipped
	** (the reader would only be slow, not wrong) */
	if (det_info_get(path, &o, &in, err) == 0 &&
	    fuzz_too_big(in.rows * in.cols * 2 * (in.frames + 1)))
		return 0;
	fuzz_det_frames(path, &o);
	fuzz_det_events(path, &o);
	return 0;
}
