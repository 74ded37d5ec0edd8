/*
** detector.c - raw detector frame streams (see detector.h): the choice of
** reader, the Rigaku 3M assembly, and the blocks of dense frames that
** every raw reader fills.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "detector.h"
#include "h5.h"
#include "imm.h"
#include "intr.h"
#include "mem.h"
#include "rigaku.h"

#define DET_BLOCK_BYTES ((size_t)8 << 20)
#define DET_EV_BLOCK 512		/* frames of events a block */
#define DET_DATASET "/entry/data/data"
#define DET_MAXGAP 65536

struct det_stream {
	det_info info;
	char *path;
	h5_frames *h5;			/* "hdf5": all reading is h5's */
	rig_module *mod;		/* "rigaku*": nmod modules */
	int nmod, nalloc;
	size_t r0[DET_MODULES], c0[DET_MODULES];  /* module corner */
	imm_file imm;			/* "imm" */
	int has_imm;
	size_t first, count, step, block, next;
	arr blk, spare;			/* as h5_frames: current, spare */
	size_t blk_j0, blk_n;
	/* the events of one frame, in assembled pixels */
	uint32_t *ev_pix;
	uint16_t *ev_cnt;
	size_t ev_n, ev_cap, ev_max;
	int ev_over;			/* more events than pixels */
	size_t row0, nrows;		/* Rigaku: the rows streamed (nrows
					   0: all); events and frames are
					   those rows' */
};

/* the rows of the frames and events a stream gives */
static size_t det_rows(const det_stream *s)
{
	return s->nrows ? s->nrows : s->info.rows;
}

void det_opts_init(det_opts *o)
{
	static const int order[DET_MODULES] = {5, 0, 4, 1, 3, 2};
	memset(o, 0, sizeof *o);
	o->module_rows = RIG_ROWS;
	o->module_cols = RIG_COLS;
	o->gap_rows = 70;
	o->gap_cols = 52;
	memcpy(o->order, order, sizeof order);
	o->count = DET_ALL;
	o->step = 1;
}

/* ---------------------------------------------------------------- */
/* which reader                                                     */
/* ---------------------------------------------------------------- */

static int det_ends(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* 0..5 for NAME.bin.000 .. .005, -1 otherwise */
static int det_module_suffix(const char *path)
{
	size_t n = strlen(path);
	if (n < 8 || strncmp(path + n - 8, ".bin.00", 7) != 0 ||
	    path[n - 1] < '0' || path[n - 1] > '5')
		return -1;
	return path[n - 1] - '0';
}

/* the HDF5 signature, at 0 or 512 x 2^k as the superblock may be */
static int det_is_hdf5(const char *path, char *err)
{
	static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n',
					     0x1a, '\n'};
	unsigned char b[8];
	off_t at = 0;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), yes = 0;
	if (fd < 0 || fstat(fd, &st) != 0) {
		err_set(err, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (!yes && at + 8 <= st.st_size) {
		yes = pread(fd, b, 8, at) == 8 && memcmp(b, sig, 8) == 0;
		at = at == 0 ? 512 : at * 2;
	}
	close(fd);
	return yes;
}

int det_sniff(const char *path, const det_opts *o, char *fmt, size_t n,
	      char *err)
{
	static const char *const known[] = {"hdf5", "rigaku", "rigaku3m",
					    "imm", NULL};
	const char *f = o ? o->format : NULL;
	int k, h;
	if (f != NULL && *f != '\0') {
		for (k = 0; known[k] != NULL; k++)
			if (strcmp(f, known[k]) == 0)
				break;
		if (known[k] == NULL)
			return err_set(err, "%s: unknown format '%s' (hdf5,"
				       " rigaku, rigaku3m, imm)", path, f);
	} else if (det_module_suffix(path) >= 0) {
		f = "rigaku3m";
	} else if (det_ends(path, ".bin")) {
		f = "rigaku";
	} else {
		if ((h = det_is_hdf5(path, err)) < 0)
			return -1;
		f = h ? "hdf5" : "imm";
	}
	snprintf(fmt, n, "%s", f);
	return 0;
}

/* ---------------------------------------------------------------- */
/* opening                                                          */
/* ---------------------------------------------------------------- */

static int det_open_hdf5(det_stream *s, const det_opts *o, int stream,
			 char *err)
{
	const char *ds = o->dataset ? o->dataset : DET_DATASET;
	h5_file *f;
	h5_info in;
	int rc = 0;
	if (h5_open(&f, s->path, err) != 0)
		return -1;
	snprintf(s->info.dataset, sizeof s->info.dataset, "%s", ds);
	if (h5_info_get(f, ds, &in, err) != 0)
		rc = -1;
	else if (in.kind != H5_DATASET || in.ndim != 3 || !in.numeric)
		rc = err_set(err, "%s:%s: a frame stack must be a numeric 3-D"
			     " dataset (frames x rows x cols)", s->path, ds);
	if (rc == 0) {
		s->info.frames = in.shape[0];
		s->info.frames_known = 1;
		s->info.rows = in.shape[1];
		s->info.cols = in.shape[2];
		s->info.dtype = in.read_as;
		if (stream)
			rc = h5_frames_open(&s->h5, f, ds, o->first, o->count,
					    o->step, o->block, err);
		if (stream && rc == 0 && o->nrows > 0)
			rc = h5_frames_rows(s->h5, o->row0, o->nrows, err);
		if (stream && rc == 0 && o->hold)
			h5_frames_hold(s->h5);
	}
	h5_close(f);
	return rc;
}

/* the six module files of a 3M set and their places on the grid */
static int det_open_3m(det_stream *s, const det_opts *o, char *err)
{
	size_t n = strlen(s->path), mr = o->module_rows, mc = o->module_cols;
	int seen[DET_MODULES] = {0}, p;
	char *name;
	/* the assembled pixel index is a uint32 (det_events) */
	if (o->gap_rows > DET_MAXGAP || o->gap_cols > DET_MAXGAP ||
	    (3 * mr + 2 * o->gap_rows) * (2 * mc + o->gap_cols) > UINT32_MAX)
		return err_set(err, "%s: a 3M frame of 3 x 2 modules of %zux%zu"
			       " with gaps %zu, %zu is too large", s->path, mr,
			       mc, o->gap_rows, o->gap_cols);
	for (p = 0; p < DET_MODULES; p++) {
		if (o->order[p] < 0 || o->order[p] >= DET_MODULES ||
		    seen[o->order[p]]++)
			return err_set(err, "%s: module order must name each of"
				       " .bin.000 .. .bin.005 once", s->path);
	}
	if ((name = err_malloc(n + 1, 1, err)) == NULL)
		return -1;
	memcpy(name, s->path, n + 1);
	for (p = 0; p < DET_MODULES; p++) {
		rig_module *m = &s->mod[o->order[p]];
		name[n - 1] = (char)('0' + o->order[p]);
		s->nmod = p + 1;
		if (rig_open(m, name, mr, mc, err) != 0) {
			free(name);
			return -1;
		}
		s->r0[o->order[p]] = (size_t)(p / 2) * (mr + o->gap_rows);
		s->c0[o->order[p]] = (size_t)(p % 2) * (mc + o->gap_cols);
	}
	free(name);
	s->info.rows = 3 * mr + 2 * o->gap_rows;
	s->info.cols = 2 * mc + o->gap_cols;
	return 0;
}

/* the run's frame count: given, or the last word's when asked */
static int det_rigaku_frames(det_stream *s, const det_opts *o, char *err)
{
	uint64_t seen = 0, k;
	int m;
	for (m = 0; m < s->nmod; m++) {
		if (rig_frames_seen(&s->mod[m], &k, err) != 0)
			return -1;
		if (k > seen)
			seen = k;
	}
	s->info.frames_seen = (size_t)seen;
	if (o->frames > 0 && seen > o->frames) {
		for (m = 0; m < s->nmod; m++)
			if (rig_frames_seen(&s->mod[m], &k, err) == 0 &&
			    k == seen)
				break;
		return err_set(err, "%s: the last word is in frame %llu, past"
			       " the %zu frames of the run", s->mod[m].path,
			       (unsigned long long)(seen - 1), o->frames);
	}
	if (o->frames > 0 || o->frames_last) {
		s->info.frames = o->frames > 0 ? o->frames : (size_t)seen;
		s->info.frames_known = 1;
	}
	for (m = 0; m < s->nmod; m++)
		rig_set_frames(&s->mod[m], s->info.frames);
	return 0;
}

static int det_open_rigaku(det_stream *s, const det_opts *o, int three,
			   char *err)
{
	int k;
	if ((s->mod = err_calloc(three ? DET_MODULES : 1, sizeof *s->mod,
				 err)) == NULL)
		return -1;
	s->nalloc = three ? DET_MODULES : 1;
	for (k = 0; k < s->nalloc; k++)
		s->mod[k].fd = -1;
	if (three) {
		if (det_module_suffix(s->path) < 0)
			return err_set(err, "%s: a Rigaku 3M set is named by one"
				       " of its files, NAME.bin.000 .. .005",
				       s->path);
		if (det_open_3m(s, o, err) != 0)
			return -1;
	} else {
		s->nmod = 1;
		if (rig_open(&s->mod[0], s->path, o->module_rows,
			     o->module_cols, err) != 0)
			return -1;
		s->info.rows = o->module_rows;
		s->info.cols = o->module_cols;
	}
	s->info.sparse = 1;
	s->info.dtype = ARR_U16;
	/* a part of the rows (an MPI rank's): only the modules that show in
	** them are read, and only their pixels in them kept */
	if (o->nrows > 0) {
		if (o->row0 + o->nrows > s->info.rows)
			return err_set(err, "%s: rows %zu..%zu of %zu", s->path,
				       o->row0 + 1, o->row0 + o->nrows,
				       s->info.rows);
		s->row0 = o->row0;
		s->nrows = o->nrows;
	}
	return det_rigaku_frames(s, o, err);
}

static int det_open_imm(det_stream *s, char *err)
{
	s->has_imm = 1;
	if (imm_open(&s->imm, s->path, err) != 0)
		return -1;
	s->info.sparse = s->imm.sparse;
	s->info.rows = s->imm.rows;
	s->info.cols = s->imm.cols;
	s->info.frames = s->imm.nframes;
	s->info.frames_known = 1;
	s->info.dtype = ARR_U16;
	return 0;
}

/* the frames to stream and the block length, as h5_frames takes them */
static int det_select(det_stream *s, const det_opts *o, char *err)
{
	size_t nf = s->info.frames, fbytes;
	if (!s->info.frames_known)
		return err_set(err, "%s: the frame count is not in a Rigaku file"
			       " (frames without photons have no words, the"
			       " last word is in frame %zu): give the run's"
			       " frame count, or ask for the last word's", s->path,
			       s->info.frames_seen ? s->info.frames_seen - 1 : 0);
	if (o->step == 0)
		return err_set(err, "%s: frame step must be >= 1", s->path);
	if (o->count == DET_ALL) {
		if (o->first > nf)
			return err_set(err, "%s: first frame %zu is beyond the"
				       " %zu frames", s->path, o->first, nf);
		s->count = (nf - o->first + o->step - 1) / o->step;
	} else {
		if (o->count > 0 && (o->first >= nf ||
				     (o->count - 1) > (nf - 1 - o->first) / o->step))
			return err_set(err, "%s: %zu frames from %zu step %zu run"
				       " past the %zu frames", s->path, o->count,
				       o->first, o->step, nf);
		s->count = o->count;
	}
	s->first = o->first;
	s->step = o->step;
	fbytes = det_rows(s) * s->info.cols * arr_dtype_size(s->info.dtype);
	s->block = o->block ? o->block : DET_BLOCK_BYTES / fbytes;
	if (s->block == 0)
		s->block = 1;
	if (s->block > s->count && s->count > 0)
		s->block = s->count;
	s->ev_max = det_rows(s) * s->info.cols;
	return 0;
}

static int det_start(det_stream **out, const char *path, const det_opts *o,
		     int stream, char *err)
{
	det_opts def;
	det_stream *s;
	int rc;
	*out = NULL;
	if (o == NULL) {
		det_opts_init(&def);
		o = &def;
	}
	if ((s = err_calloc(1, sizeof *s, err)) == NULL)
		return -1;
	s->imm.fd = -1;
	if ((s->path = strdup(path)) == NULL) {
		free(s);
		return err_set(err, "%s: out of memory", path);
	}
	rc = det_sniff(path, o, s->info.format, sizeof s->info.format, err);
	if (rc == 0 && strcmp(s->info.format, "hdf5") == 0)
		rc = det_open_hdf5(s, o, stream, err);
	else if (rc == 0 && strcmp(s->info.format, "imm") == 0)
		rc = det_open_imm(s, err);
	else if (rc == 0)
		rc = det_open_rigaku(s, o, strcmp(s->info.format, "rigaku3m")
					      == 0, err);
	/* a count given for a file that holds its own must agree with it */
	if (rc == 0 && o->frames > 0 && s->mod == NULL &&
	    o->frames != s->info.frames)
		rc = err_set(err, "%s: %zu frames given, the file has %zu",
			     path, o->frames, s->info.frames);
	if (rc == 0 && stream && s->h5 == NULL)
		rc = det_select(s, o, err);
	if (rc != 0) {
		det_close(s);
		return -1;
	}
	*out = s;
	return 0;
}

int det_info_get(const char *path, const det_opts *o, det_info *info,
		 char *err)
{
	det_stream *s;
	if (det_start(&s, path, o, 0, err) != 0)
		return -1;
	*info = s->info;
	det_close(s);
	return 0;
}

int det_open(det_stream **s, const char *path, const det_opts *o, char *err)
{
	return det_start(s, path, o, 1, err);
}

void det_close(det_stream *s)
{
	int m;
	if (s == NULL)
		return;
	h5_frames_close(s->h5);
	for (m = 0; m < s->nalloc; m++)
		rig_close(&s->mod[m]);
	free(s->mod);
	if (s->has_imm)
		imm_close(&s->imm);
	arr_release(&s->blk);
	arr_release(&s->spare);
	free(s->ev_pix);
	free(s->ev_cnt);
	free(s->path);
	free(s);
}

const det_info *det_stream_info(const det_stream *s) { return &s->info; }

size_t det_count(const det_stream *s)
{
	return s->h5 ? h5_frames_count(s->h5) : s->count;
}

size_t det_block(const det_stream *s)
{
	return s->h5 ? h5_frames_block(s->h5) : s->block;
}

/* ---------------------------------------------------------------- */
/* events                                                           */
/* ---------------------------------------------------------------- */

/* room for more events, up to limit: 0 grown, 1 at the limit (more
** entries than pixels: repeated ones), 2 out of memory (ev_over set) */
static int det_ev_grow(det_stream *s, size_t limit)
{
	size_t cap = s->ev_cap ? 2 * s->ev_cap : 4096;
	uint32_t *np;
	uint16_t *nc;
	if (s->ev_cap >= limit)
		return s->ev_over = 1;
	if (cap > limit)
		cap = limit;
	np = realloc(s->ev_pix, cap * sizeof *np);
	if (np != NULL)
		s->ev_pix = np;
	nc = np ? realloc(s->ev_cnt, cap * sizeof *nc) : NULL;
	if (nc == NULL)
		return s->ev_over = 2;
	s->ev_cnt = nc;
	s->ev_cap = cap;
	return 0;
}

/* an IMM file's sparse frame f (more entries than pixels: repeated ones) */
static int det_ev_imm(det_stream *s, size_t f, char *err)
{
	imm_sparse sp;
	if (imm_frame(&s->imm, f, NULL, &sp, err) != 0)
		return -1;
	while (s->ev_cap < sp.n)
		if (det_ev_grow(s, s->ev_max))
			return 0;	/* (ev_over says why) */
	if (sp.n > 0) {	/* (no buffers yet before the first photon) */
		memcpy(s->ev_pix, sp.pixel, sp.n * sizeof *sp.pixel);
		memcpy(s->ev_cnt, sp.count, sp.n * sizeof *sp.count);
	}
	s->ev_n = sp.n;
	return 0;
}

/* module m's events from k0 on, module pixels to the frame's, those
** outside the rows streamed dropped */
static void det_ev_place(det_stream *s, int m, size_t k0)
{
	const rig_module *md = &s->mod[m];
	size_t k = k0;
	for (size_t i = k0; i < s->ev_n; i++) {
		size_t r = s->r0[m] + s->ev_pix[i] / md->cols,
		       c = s->c0[m] + s->ev_pix[i] % md->cols;
		if (s->nrows && (r < s->row0 || r >= s->row0 + s->nrows))
			continue;	/* not in the rows streamed */
		s->ev_pix[k] = (uint32_t)((r - s->row0) * s->info.cols + c);
		s->ev_cnt[k++] = s->ev_cnt[i];
	}
	s->ev_n = k;
}

/* module m's words of frame f into s->ev_* (a module's frame has at most
** one word per pixel: more are repeated pixels) */
static int det_ev_module(det_stream *s, int m, size_t f, char *err)
{
	rig_module *md = &s->mod[m];
	size_t k0 = s->ev_n, most = k0 + md->rows * md->cols;
	int r;
	while ((r = rig_frame_into(md, f, s->ev_pix, s->ev_cnt, s->ev_cap,
				   &s->ev_n, err)) == 1)
		if (det_ev_grow(s, most))
			return 0;	/* (ev_over says why) */
	if (r < 0)
		return -1;
	if (!(s->r0[m] == 0 && s->c0[m] == 0 && md->cols == s->info.cols &&
	      s->nrows == 0))
		det_ev_place(s, m, k0);
	return 0;
}

/* the events of frame f (0-based in the file) into s->ev_* */
static int det_events_of(det_stream *s, size_t f, char *err)
{
	int m;
	s->ev_n = 0;
	s->ev_over = 0;
	if (s->has_imm) {
		if (det_ev_imm(s, f, err) != 0)
			return -1;
	} else {
		for (m = 0; m < s->nmod && !s->ev_over; m++) {
			/* (a module outside the rows streamed is not read) */
			if (s->nrows && (s->r0[m] >= s->row0 + s->nrows ||
					 s->r0[m] + s->mod[m].rows <= s->row0))
				continue;
			if (det_ev_module(s, m, f, err) != 0)
				return -1;
		}
	}
	if (s->ev_over == 1)
		return err_set(err, "%s: frame %zu has more photon entries than"
			       " its %zu pixels (repeated pixels)", s->path, f,
			       s->ev_max);
	if (s->ev_over)
		return err_set(err, "%s: frame %zu: out of memory", s->path, f);
	return 0;
}

int det_next_events(det_stream *s, det_events *ev, char *err)
{
	size_t f;
	memset(ev, 0, sizeof *ev);
	if (!s->info.sparse || s->h5 != NULL)
		return err_set(err, "%s: a dense %s file has no photon"
			       " events", s->path, s->info.format);
	if (s->blk.buf != NULL && s->next < s->blk_j0 + s->blk_n)
		return err_set(err, "%s: events cannot be taken between the"
			       " frames of a block already read", s->path);
	if (s->next >= s->count)
		return 0;
	if (intr_pending())
		return err_set(err, "%s: interrupted", s->path);
	f = s->first + s->next * s->step;
	if (det_events_of(s, f, err) != 0)
		return -1;
	ev->frame = f;
	ev->n = s->ev_n;
	ev->pixel = s->ev_pix;
	ev->count = s->ev_cnt;
	s->next++;
	return 1;
}

int det_next_events_block(det_stream *s, size_t nmax, det_evblock *b,
			  char *err)
{
	det_events ev;
	int r = 1;
	b->nframes = b->n = 0;
	if (nmax == 0)
		nmax = DET_EV_BLOCK;
	if (mem_grow((void **)&b->per, &b->fcap, nmax, sizeof *b->per))
		return err_set(err, "%s: out of memory", s->path);
	while (b->nframes < nmax && (r = det_next_events(s, &ev, err)) == 1) {
		if (mem_grow((void **)&b->pixel, &b->cap, b->n + ev.n,
			     sizeof *b->pixel) ||
		    mem_grow((void **)&b->count, &b->ccap, b->n + ev.n,
			     sizeof *b->count)) {
			b->nframes = b->n = 0;
			return err_set(err, "%s: out of memory", s->path);
		}
		if (b->nframes == 0)
			b->frame0 = ev.frame;
		#pragma omp simd	/* (-O2 alone leaves it scalar) */
		for (size_t k = 0; k < ev.n; k++)
			b->pixel[b->n + k] = ev.pixel[k] + b->pix0;
		if (ev.n > 0)	/* (no buffers yet before the first photon) */
			memcpy(b->count + b->n, ev.count,
			       ev.n * sizeof *ev.count);
		b->per[b->nframes++] = ev.n;
		b->n += ev.n;
	}
	if (r < 0) {
		b->nframes = b->n = 0;
		return -1;
	}
	return b->nframes > 0;
}

void det_evblock_free(det_evblock *b)
{
	free(b->pixel);
	free(b->count);
	free(b->per);
	memset(b, 0, sizeof *b);
}

/* ---------------------------------------------------------------- */
/* dense blocks                                                     */
/* ---------------------------------------------------------------- */

/* a buffer for the next block, reused when no view holds it (as
** h5_frames: the old one, else the spare, else a new one) */
static int det_buffer(det_stream *s, size_t *allocated, char *err)
{
	size_t shape[3];
	arr t;
	*allocated = 0;
	if (s->blk.buf != NULL && s->blk.buf->refs == 1)
		return 0;
	if (s->spare.buf != NULL && s->spare.buf->refs == 1) {
		t = s->blk;
		s->blk = s->spare;
		s->spare = t;
		return 0;
	}
	arr_release(&s->spare);
	s->spare = s->blk;
	memset(&s->blk, 0, sizeof s->blk);
	shape[0] = s->block;
	shape[1] = det_rows(s);
	shape[2] = s->info.cols;
	if (arr_alloc_uninit(&s->blk, ARR_U16, 3, shape, err) != 0)
		return err_prefix(err, "%s", s->path);
	*allocated = s->blk.buf ? s->blk.buf->nbytes : 0;
	return 0;
}

/* frame f of the file into out (rows x cols uint16) */
static int det_dense(det_stream *s, size_t f, uint16_t *out, char *err)
{
	size_t k, npix = det_rows(s) * s->info.cols;
	if (s->has_imm && !s->imm.sparse)
		return imm_frame(&s->imm, f, out, NULL, err);
	if (det_events_of(s, f, err) != 0)
		return -1;
	memset(out, 0, npix * sizeof *out);
	/* a repeated pixel overwrites, as boost_corr reads it */
	for (k = 0; k < s->ev_n; k++)
		out[s->ev_pix[k]] = s->ev_cnt[k];
	return 0;
}

static int det_fill(det_stream *s, size_t *allocated, char *err)
{
	size_t n = s->count - s->next, k;
	size_t npix = det_rows(s) * s->info.cols;
	if (intr_pending())
		return err_set(err, "%s: interrupted", s->path);
	if (n > s->block)
		n = s->block;
	if (det_buffer(s, allocated, err) != 0)
		return -1;
	for (k = 0; k < n; k++)
		if (det_dense(s, s->first + (s->next + k) * s->step,
			      (uint16_t *)s->blk.data + k * npix, err) != 0)
			return -1;
	s->blk_j0 = s->next;
	s->blk_n = n;
	return 0;
}

static int det_ready(det_stream *s, size_t *allocated, char *err)
{
	*allocated = 0;
	if (s->next >= s->count)
		return 0;
	if (s->blk.buf == NULL || s->next >= s->blk_j0 + s->blk_n)
		if (det_fill(s, allocated, err) != 0)
			return -1;
	return 1;
}

int det_block_done(const det_stream *s)
{
	if (s->h5)
		return h5_frames_block_done(s->h5);
	return s->next < s->count &&
	       (s->blk.buf == NULL || s->next >= s->blk_j0 + s->blk_n);
}

int det_next(det_stream *s, arr *frame, size_t *index, size_t *allocated,
	     char *err)
{
	int r;
	if (s->h5)
		return h5_frames_next(s->h5, frame, index, allocated, err);
	memset(frame, 0, sizeof *frame);
	if ((r = det_ready(s, allocated, err)) != 1)
		return r;
	if (arr_take(frame, &s->blk, 0, s->next - s->blk_j0, err) != 0)
		return -1;
	*index = s->first + s->next * s->step;
	s->next++;
	return 1;
}

int det_next_block(det_stream *s, arr *block, size_t *index,
		   size_t *allocated, char *err)
{
	int r;
	if (s->h5)
		return h5_frames_next_block(s->h5, block, index, allocated,
					    err);
	memset(block, 0, sizeof *block);
	if ((r = det_ready(s, allocated, err)) != 1)
		return r;
	if (arr_slice(block, &s->blk, 0, s->next - s->blk_j0, s->blk_n, 1,
		      err) != 0)
		return -1;
	*index = s->first + s->next * s->step;
	s->next = s->blk_j0 + s->blk_n;
	return 1;
}
