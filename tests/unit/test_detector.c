/*
** test_detector.c - the raw detector core: the Rigaku 3M grid (each
** module's pixel lands where the format notes put it), the events API
** that a sparse consumer uses, frames given or asked for, and the error
** paths, on files written here word by word.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detector.h"
#include "imm.h"
#include "rigaku.h"
#include "tap.h"

static char dir[64];

static const char *tpath(const char *name)
{
	static char buf[8][256];
	static int k = 0;
	k = (k + 1) % 8;
	snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
	return buf[k];
}

static uint64_t word(uint64_t frame, uint64_t pixel, uint64_t count)
{
	return frame << 40 | pixel << 16 | count;
}

/* little-endian words (the test host is little-endian: x86, arm64) */
static void put(const char *path, const uint64_t *w, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (n)
		fwrite(w, 8, n, f);
	fclose(f);
}

/* a 3M set of 2 x 3 modules, gap (1, 2): 8 x 8 pixels. File k holds one
** photon in frame 1 at module pixel k (row k / 3, col k % 3), count
** 10 + k; file 4 is empty; frames 0 and 2 have no words anywhere. */
static void test_grid(void)
{
	/* slot p of the 3 x 2 grid shows file order[p] = 5 0 4 1 3 2 */
	static const int slot_of_file[6] = {1, 3, 5, 4, 2, 0};
	char err[ERR_LEN], name[32];
	det_stream *s;
	det_events ev;
	det_opts o;
	arr fr;
	size_t idx, alloc, k;
	int file, r, right = 1;
	for (file = 0; file < 6; file++) {
		uint64_t w = word(1, (uint64_t)file, 10 + (uint64_t)file);
		snprintf(name, sizeof name, "g.bin.%03d", file);
		put(tpath(name), &w, file == 4 ? 0 : 1);
	}
	det_opts_init(&o);
	o.module_rows = 2;
	o.module_cols = 3;
	o.gap_rows = 1;
	o.gap_cols = 2;
	o.frames = 3;
	r = det_open(&s, tpath("g.bin.002"), &o, err);
	ok(r == 0, "a 3M set opens from any of its files (%s)", r ? err : "");
	if (r != 0)
		return;
	ok(det_stream_info(s)->rows == 8 && det_stream_info(s)->cols == 8 &&
	   det_stream_info(s)->frames_seen == 2,
	   "3 x 2 modules of 2 x 3 with gaps 1, 2: 8 x 8; last word frame 1");
	r = det_next_events(s, &ev, err);
	ok(r == 1 && ev.frame == 0 && ev.n == 0, "frame 0: no photons");
	r = det_next_events(s, &ev, err);
	ok(r == 1 && ev.frame == 1 && ev.n == 5, "frame 1: five photons");
	for (k = 0; r == 1 && k < ev.n; k++) {
		int c = ev.count[k] - 10, p = slot_of_file[c];
		size_t row = (size_t)(p / 2) * 3 + (size_t)c / 3;
		size_t col = (size_t)(p % 2) * 5 + (size_t)c % 3;
		if (ev.pixel[k] != row * 8 + col)
			right = 0;
	}
	ok(right, "each file's photon at its slot's corner + its pixel");
	r = det_next(s, &fr, &idx, &alloc, err);
	ok(r == 1 && idx == 2 && fr.ndim == 2 && fr.shape[0] == 8,
	   "frames and events share the stream: frame 2 next, dense");
	ok(det_next_events(s, &ev, err) == 0, "then the end");
	arr_release(&fr);
	det_close(s);

	o.gap_rows = 70000;
	ok(det_open(&s, tpath("g.bin.000"), &o, err) != 0 &&
	   strstr(err, "too large") != NULL, "an impossible gap (%s)", err);
	o.gap_rows = 1;
	o.module_rows = 1 << 20;
	o.module_cols = 1;
	o.gap_cols = 1 << 16;
	ok(det_open(&s, tpath("g.bin.000"), &o, err) != 0 &&
	   strstr(err, "too large") != NULL, "a frame past 2^32 pixels (%s)",
	   err);
	o.module_rows = 2;
	o.module_cols = 3;
	o.gap_cols = 2;
	o.order[0] = 0;		/* 0 twice */
	ok(det_open(&s, tpath("g.bin.000"), &o, err) != 0 &&
	   strstr(err, "module order") != NULL, "an order naming a file twice"
	   " is refused (%s)", err);
}

static void test_frames(void)
{
	uint64_t w[3] = {word(0, 5, 1), word(4, 6, 2), word(2, 7, 3)};
	char err[ERR_LEN];
	det_stream *s;
	det_events ev;
	det_opts o;
	det_info in;
	det_opts_init(&o);
	o.module_rows = 4;
	o.module_cols = 4;
	put(tpath("f.bin"), w, 2);
	ok(det_info_get(tpath("f.bin"), &o, &in, err) == 0 && !in.frames_known
	   && in.frames_seen == 5 && in.sparse, "info: count unknown, 5 seen");
	ok(det_open(&s, tpath("f.bin"), &o, err) != 0 &&
	   strstr(err, "frame count") != NULL, "no count: refused (%s)", err);
	o.frames_last = 1;
	ok(det_open(&s, tpath("f.bin"), &o, err) == 0 && det_count(s) == 5,
	   "frames_last: the last word's frame + 1");
	det_close(s);
	o.frames_last = 0;
	o.frames = 9;
	o.first = 4;
	ok(det_open(&s, tpath("f.bin"), &o, err) == 0 && det_count(s) == 5 &&
	   det_next_events(s, &ev, err) == 1 && ev.frame == 4 && ev.n == 1 &&
	   ev.pixel[0] == 6 && det_next_events(s, &ev, err) == 1 &&
	   ev.frame == 5 && ev.n == 0, "frames 4.. of 9: the words are"
	   " skipped to frame 4; empty frames past the last word");
	det_close(s);
	put(tpath("u.bin"), w, 3);
	o.first = 0;
	ok(det_open(&s, tpath("u.bin"), &o, err) == 0, "unsorted file opens");
	while (det_next_events(s, &ev, err) == 1)
		;
	ok(strstr(err, "word 2: frame 2 after frame 4") != NULL,
	   "and a word out of order is named (%s)", err);
	det_close(s);
	{	/* frame 1 with 17 words for a 4 x 4 module: a pixel twice */
		uint64_t d[19];
		d[0] = word(0, 1, 1);
		for (int k = 0; k < 17; k++)
			d[1 + k] = word(1, (uint64_t)(k % 16), 1);
		d[18] = word(2, 3, 1);
		put(tpath("u.bin"), d, 19);
		o.frames = 3;
		ok(det_open(&s, tpath("u.bin"), &o, err) == 0 &&
		   det_next_events(s, &ev, err) == 1 && ev.n == 1 &&
		   det_next_events(s, &ev, err) == -1 &&
		   strstr(err, "frame 1 has more photon entries than its 16 "
			  "pixels") != NULL, "a frame with more words than "
		   "pixels is refused (%s)", err);
		det_close(s);
	}
}

static void test_imm(void)
{
	uint8_t h[IMM_HEADER];
	char err[ERR_LEN];
	det_stream *s;
	det_events ev;
	det_opts o;
	FILE *f;
	memset(h, 0, sizeof h);
	h[4] = 0;		/* dense */
	h[108] = 2;		/* 2 x 2 */
	h[112] = 2;
	h[116] = 2;
	h[152] = 4;
	f = fopen(tpath("d.imm"), "wb");
	fwrite(h, 1, sizeof h, f);
	fwrite("\1\0\2\0\3\0\4\0", 1, 8, f);
	fclose(f);
	ok(det_open(&s, tpath("d.imm"), NULL, err) == 0 &&
	   det_next_events(s, &ev, err) == -1 && strstr(err, "dense") != NULL,
	   "a dense IMM file has no events (%s)", err);
	det_close(s);
	det_opts_init(&o);
	o.frames = 2;
	ok(det_open(&s, tpath("d.imm"), &o, err) != 0 &&
	   strstr(err, "2 frames given, the file has 1") != NULL,
	   "a frame count that disagrees with an IMM file's (%s)", err);
	h[116] = 4;
	f = fopen(tpath("b.imm"), "wb");
	fwrite(h, 1, sizeof h, f);
	fclose(f);
	ok(det_open(&s, tpath("b.imm"), NULL, err) != 0 &&
	   strstr(err, "frame 0: header field bytes = 4") != NULL,
	   "4-byte dense pixels are refused, named (%s)", err);
	put(tpath("e.imm"), NULL, 0);
	ok(det_open(&s, tpath("e.imm"), NULL, err) != 0 &&
	   strstr(err, "truncated header") != NULL, "an empty IMM file (%s)",
	   err);
}

/* One module read by rig_frame_into: runs of 1000 words a frame (the
** decoder takes 8 at a time where the CPU can) against the words written,
** in pieces of every size; then a bad pixel or flag at places in a run
** that fall in and between its steps, named by its word. */
#define RUN_F 5
#define RUN_N 1000

static int run_read(const char *path, size_t cap, uint32_t *pix,
		    uint16_t *cnt, size_t *nf, char *err)
{
	rig_module *m = malloc(sizeof *m);
	int rc = 0;
	if (m == NULL || rig_open(m, path, 64, 64, err) != 0) {
		free(m);
		return -1;
	}
	rig_set_frames(m, RUN_F);
	for (uint64_t f = 0; f < RUN_F && rc == 0; f++) {
		size_t n = 0, c = cap;
		int r;
		while ((r = rig_frame_into(m, f, pix + f * RUN_N,
					   cnt + f * RUN_N, c, &n, err)) == 1)
			c = c + cap < RUN_N ? c + cap : RUN_N;
		rc = r;
		nf[f] = n;
	}
	rig_close(m);
	free(m);
	return rc;
}

static void test_runs(void)
{
	static uint64_t w[RUN_F * RUN_N];
	static uint32_t pix[RUN_F * RUN_N];
	static uint16_t cnt[RUN_F * RUN_N];
	static const size_t caps[] = {1, 7, 8, 9, 1000};
	static const size_t at[] = {0, 1, 7, 8, 13, 500, 999};
	char err[ERR_LEN];
	size_t nf[RUN_F];
	int good = 1, named = 1;
	for (size_t i = 0; i < RUN_F * RUN_N; i++)	/* pixels increasing */
		w[i] = word(i / RUN_N, (i % RUN_N) * 4 + i / RUN_N,
			    1 + (i * 7) % 4095) | (uint64_t)1 << 36;
	put(tpath("r.bin"), w, RUN_F * RUN_N);
	for (size_t c = 0; c < 5; c++) {
		int right = run_read(tpath("r.bin"), caps[c], pix, cnt, nf,
				     err) == 0;
		for (size_t i = 0; right && i < RUN_F * RUN_N; i++)
			right = nf[i / RUN_N] == RUN_N &&
				pix[i] == ((w[i] >> 16) & 0xFFFFF) &&
				cnt[i] == (w[i] & 0xFFF);
		good &= right;
	}
	ok(good, "Rigaku runs of %d words a frame read in pieces of 1, 7, 8, "
	   "9 and 1000 words: every pixel and count as written", RUN_N);
	for (size_t a = 0; a < 7; a++)
		for (int kind = 0; kind < 2; kind++) {
			size_t k = 2 * RUN_N + at[a];
			char want[64];
			uint64_t keep = w[k];
			w[k] = kind ? w[k] ^ (uint64_t)1 << 36 :
			       (w[k] & ~((uint64_t)0xFFFFF << 16)) |
			       (uint64_t)5000 << 16;
			put(tpath("r.bin"), w, RUN_F * RUN_N);
			w[k] = keep;
			snprintf(want, sizeof want, "word %zu (frame 2)", k);
			if (run_read(tpath("r.bin"), 1000, pix, cnt, nf, err)
			    != -1 || !strstr(err, want) ||
			    !strstr(err, kind ? "module flag" : "pixel index")) {
				named = 0;
				diag("bad %s at %zu: %s", kind ? "flag" : "pixel",
				     k, err);
			}
		}
	ok(named, "a bad pixel or flag at words 0, 1, 7, 8, 13, 500 and 999 "
	   "of a run is named by its word");
}

static void cleanup(void)
{
	static const char *const names[] = {"f.bin", "u.bin", "r.bin", "d.imm",
					    "b.imm", "e.imm", NULL};
	char name[32];
	int k;
	for (k = 0; k < 6; k++) {
		snprintf(name, sizeof name, "g.bin.%03d", k);
		unlink(tpath(name));
	}
	for (k = 0; names[k] != NULL; k++)
		unlink(tpath(names[k]));
	rmdir(dir);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/ionflow-det-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	test_grid();
	test_frames();
	test_imm();
	test_runs();
	cleanup();
	return tap_done();
}
