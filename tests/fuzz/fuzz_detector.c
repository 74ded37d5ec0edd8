/*
** fuzz_detector.c - the raw detector readers (src/rigaku.c, src/imm.c
** through src/detector.c) on a file made of the input. The first byte
** chooses the reader (even: a Rigaku .bin of 8 x 16 pixel modules, with
** the frame count from the second byte or, when it is 0, from the last
** word; odd: IMM), the rest is the file. Every frame is streamed in
** blocks of two, then the events of a sparse source are read again, frame
** by frame and in blocks of three (det_next_events_block): both must give
** the same events.
*/
#include <stdlib.h>
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

/* a sum of the events of a frame stream that any change would alter */
static uint64_t fuzz_mix(uint64_t h, size_t frame, const uint32_t *pix,
			 const uint16_t *cnt, size_t n, uint32_t pix0)
{
	h = h * 1000003u + frame;
	for (size_t k = 0; k < n; k++)
		h = (h * 31u + (pix[k] - pix0)) * 31u + cnt[k];
	return h;
}

static void fuzz_det_events(const char *path, const det_opts *o)
{
	char err[ERR_LEN];
	det_stream *s;
	det_events ev;
	det_evblock b = {.pix0 = 1};
	uint64_t h1 = 0, h2 = 0;
	int r1 = 0, r2;
	if (det_open(&s, path, o, err) != 0)
		return;
	if (!det_stream_info(s)->sparse) {
		det_close(s);
		return;
	}
	while ((r1 = det_next_events(s, &ev, err)) == 1)
		h1 = fuzz_mix(h1, ev.frame, ev.pixel, ev.count, ev.n, 0);
	det_close(s);
	if (det_open(&s, path, o, err) != 0)
		abort();	/* (it opened a moment ago) */
	while ((r2 = det_next_events_block(s, 3, &b, err)) == 1)
		for (size_t f = 0, k = 0; f < b.nframes; k += b.per[f++])
			/* (no buffers before a block's first photon) */
			h2 = fuzz_mix(h2, b.frame0 + f * o->step,
				      b.per[f] ? b.pixel + k : NULL,
				      b.per[f] ? b.count + k : NULL, b.per[f], 1);
	det_evblock_free(&b);
	det_close(s);
	/* the same events up to the same error, or the same end */
	if (r1 != r2 || (r1 == 0 && h1 != h2))
		abort();
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
