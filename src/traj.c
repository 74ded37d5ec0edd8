/*
** traj.c - trajectory input: H5MD, LAMMPS dumps, synthetic random walks.
** See traj.h. Frames are read one at a time (H5MD through h5_frames,
** which reads a block of frames per HDF5 call); nothing grows with the
** number of frames except the H5MD time column (8 bytes a frame).
*/
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5.h"
#include "intr.h"
#include "num.h"
#include "os.h"
#include "traj.h"

#define TRAJ_MAXCOL 64
/* particles: ten times the largest runs, far below what overflows (the
** per-particle buffers are then allocated, and their failure names the
** file too) */
#define TRAJ_MAXATOMS 1000000000

struct traj {
	traj_info info;
	char *path;
	int *types;
	double *mass;		/* H5MD /particles/<g>/mass, or NULL */
	double *pos;		/* unwrapped output, natoms x 3 */
	double *prevw;		/* previous wrapped positions (min image) */
	double *work;		/* H5MD: a wrapped frame and its images */
	double box[3], lo[3];	/* edges lx, ly, lz and the lower corner */
	double tilt[3];		/* xy, xz, yz (0 for an orthogonal box) */
	size_t next;		/* frames handed out */
	double last_time;
	/* H5MD */
	h5_file *hf;
	h5_frames *fpos, *fimg, *fbox, *fspec;
	size_t nbox;		/* values per box: 3 edges or a 3x3 matrix */
	double *times;		/* a column of times, or NULL: */
	double t_off, t_dt;	/* frame k at t_off + t_dt k */
	double box_fixed[9];
	/* LAMMPS */
	FILE *fp;
	char *line;
	size_t cap;
	long long lineno;
	long long *ids;		/* sorted ids of the first frame */
	int ids_dense;		/* ids are 1..natoms */
	unsigned char *seen;
	int pending;		/* the first frame was read on open */
	double pending_time;
	char cut[160];		/* where a truncated dump was cut, or "" */
	char type_column[32];	/* the column of types ("" = type) */
	long long row0;		/* line number before the atom rows */
	long long *rid;		/* the frame's ids and types, per row */
	int *rtype;
	/* synthetic */
	traj_synth syn;
	uint64_t rng;
};

/* ---------------------------------------------------------------- */
/* common                                                           */
/* ---------------------------------------------------------------- */

static traj *traj_alloc(const char *path, char *err)
{
	traj *t = err_calloc(1, sizeof *t, err);
	if (t == NULL)
		return NULL;
	t->path = strdup(path);
	if (t->path == NULL) {
		free(t);
		err_set(err, "traj: out of memory");
		return NULL;
	}
	t->last_time = -INFINITY;
	return t;
}

/* per-atom buffers once the atom count is known */
static int traj_alloc_atoms(traj *t, size_t n, char *err)
{
	if (n > TRAJ_MAXATOMS)
		return err_set(err, "%s: %zu particles, more than %d", t->path,
			       n, TRAJ_MAXATOMS);
	t->info.natoms = n;
	t->types = err_calloc(n ? n : 1, sizeof *t->types, err);
	t->pos = err_calloc(n ? 3 * n : 1, sizeof *t->pos, err);
	t->prevw = err_calloc(n ? 3 * n : 1, sizeof *t->prevw, err);
	if (t->types && t->pos && t->prevw)
		return 0;
	return err_prefix(err, "%s: %zu atoms", t->path, n);
}

void traj_close(traj *t)
{
	if (t == NULL)
		return;
	h5_frames_close(t->fpos);
	h5_frames_close(t->fimg);
	h5_frames_close(t->fbox);
	h5_frames_close(t->fspec);
	h5_close(t->hf);
	if (t->fp)
		fclose(t->fp);
	free(t->line);
	free(t->ids);
	free(t->rid);
	free(t->rtype);
	free(t->seen);
	free(t->times);
	free(t->types);
	free(t->mass);
	free(t->pos);
	free(t->prevw);
	free(t->work);
	free(t->path);
	free(t);
}

const traj_info *traj_get_info(const traj *t) { return &t->info; }
const int *traj_types(const traj *t) { return t->types; }
const double *traj_masses(const traj *t) { return t->mass; }
const char *traj_path(const traj *t) { return t->path; }
const char *traj_warning(const traj *t) { return t->cut[0] ? t->cut : NULL; }

void traj_minimage(const double box[3], const double tilt[3],
		   const int periodic[3], double d[3])
{
	/* fractional coordinates along a, b, c of the cell whose rows are
	** a = (lx, 0, 0), b = (xy, ly, 0), c = (xz, yz, lz), rounded to the
	** nearest lattice vector on the periodic axes */
	double s[3], n[3];
	int k;
	s[2] = box[2] > 0 ? d[2] / box[2] : 0;
	s[1] = box[1] > 0 ? (d[1] - s[2] * tilt[2]) / box[1] : 0;
	s[0] = box[0] > 0 ? (d[0] - s[1] * tilt[0] - s[2] * tilt[1]) / box[0]
		: 0;
	for (k = 0; k < 3; k++)
		n[k] = periodic[k] && box[k] > 0 ? nearbyint(s[k]) : 0;
	d[0] -= n[0] * box[0] + n[1] * tilt[0] + n[2] * tilt[1];
	d[1] -= n[1] * box[1] + n[2] * tilt[2];
	d[2] -= n[2] * box[2];
}

/* r + ia a + ib b + ic c for image flags img (a, b, c the cell rows) */
static void traj_add_images(const double box[3], const double tilt[3],
			    const double img[3], double r[3])
{
	r[0] += img[0] * box[0] + img[1] * tilt[0] + img[2] * tilt[1];
	r[1] += img[1] * box[1] + img[2] * tilt[2];
	r[2] += img[2] * box[2];
}

/* Turn wrapped coordinates w (natoms x 3, SI) into continuous ones. The
** first frame is taken as is; later frames add the minimum-image step
** (with the box's tilt), which assumes no atom crosses half a box between
** frames. */
static void traj_unwrap_minimage(traj *t, const double *w, int first)
{
	size_t i, n = t->info.natoms;
	int d;
	for (i = 0; i < n; i++) {
		double s[3];
		for (d = 0; d < 3; d++)
			s[d] = w[3 * i + (size_t)d] - t->prevw[3 * i + (size_t)d];
		if (!first && isfinite(s[0]) && isfinite(s[1]) &&
		    isfinite(s[2]))	/* (a NaN stays on its own axis) */
			traj_minimage(t->box, t->tilt, t->info.periodic, s);
		for (d = 0; d < 3; d++) {
			size_t k = 3 * i + (size_t)d;
			t->pos[k] = first ? w[k] : t->pos[k] + s[d];
			t->prevw[k] = w[k];
		}
	}
}

/* ---------------------------------------------------------------- */
/* H5MD                                                             */
/* ---------------------------------------------------------------- */

typedef struct traj_unitdef { const char *n; double f; } traj_unitdef;

/* m (or s) per unit named in a unit attribute; 0 when unknown */
static double traj_unit(const char *u, int is_time)
{
	static const traj_unitdef len[] = {
		{"m", 1}, {"cm", 1e-2}, {"mm", 1e-3}, {"um", 1e-6},
		{"nm", 1e-9}, {"A", 1e-10}, {"Angstrom", 1e-10},
		{"angstrom", 1e-10}, {"\xc3\x85", 1e-10}, {"pm", 1e-12},
		{NULL, 0}
	}, tim[] = {
		{"s", 1}, {"ms", 1e-3}, {"us", 1e-6}, {"ns", 1e-9},
		{"ps", 1e-12}, {"fs", 1e-15}, {NULL, 0}
	};
	const traj_unitdef *tab = is_time ? tim : len;
	int k;
	for (k = 0; tab[k].n != NULL; k++)
		if (strcmp(tab[k].n, u) == 0)
			return tab[k].f;
	return 0;
}

/* the unit attribute of an object as a scale (fallback when absent) */
static int traj_h5_unit(traj *t, const char *obj, int is_time,
			double fallback, double *scale, char *err)
{
	h5_value v;
	*scale = fallback;
	if (h5_attr_read(t->hf, obj, "unit", &v, err) != 0)
		return 0;	/* no unit attribute */
	if (v.kind == H5_VSTR) {
		double f = traj_unit(v.s, is_time);
		if (f == 0) {
			err_set(err, "%s: %s: unknown unit '%s' (give "
				"%s explicitly)", t->path, obj, v.s,
				is_time ? "time_unit" : "length_unit");
			h5_value_free(&v);
			return -1;
		}
		*scale = f;
	}
	h5_value_free(&v);
	return 0;
}

/* the particles group: the one given, or the only one in the file */
static int traj_h5_group(traj *t, const char *want, char *err)
{
	h5_entry *e = NULL;
	size_t n = 0, k, ngroups = 0;
	if (want != NULL) {
		snprintf(t->info.group, sizeof t->info.group, "%s", want);
		return 0;
	}
	if (h5_list(t->hf, "/particles", 0, &e, &n, err) != 0)
		return err_set(err, "%s: not an H5MD file (no /particles "
			       "group)", t->path);
	for (k = 0; k < n; k++)
		if (e[k].info.kind == H5_GROUP) {
			if (ngroups++ == 0)
				snprintf(t->info.group, sizeof t->info.group,
					 "%s", e[k].name);
		}
	h5_list_free(e, n);
	if (ngroups != 1)
		return err_set(err, "%s: /particles has %zu groups: name one "
			       "(option group)", t->path, ngroups);
	return 0;
}

/* time of each frame: a column of times, or a scalar interval (kept as
** such: an array of the frames' count, which a damaged file may give as
** anything, was allocated and filled here) */
static int traj_h5_times(traj *t, const char *g, size_t nf, char *err)
{
	char p[256];
	h5_value v;
	size_t k;
	double offset = 0;
	snprintf(p, sizeof p, "/particles/%s/position/time", g);
	if (!h5_exists(t->hf, p))
		return err_set(err, "%s: no dataset %s (frame times)",
			       t->path, p);
	if (h5_read_value(t->hf, p, NULL, &v, err) != 0)
		return err_prefix(err, "%s", t->path);
	if (v.kind == H5_VINT || v.kind == H5_VNUM) {
		h5_value o;
		double dt = v.kind == H5_VINT ? (double)v.i : v.d;
		if (h5_attr_read(t->hf, p, "offset", &o, err) == 0) {
			offset = o.kind == H5_VINT ? (double)o.i
				: o.kind == H5_VNUM ? o.d : 0;
			h5_value_free(&o);
		}
		t->t_off = offset;
		t->t_dt = dt;
	} else if (v.kind == H5_VARR && arr_size(&v.a) == nf) {
		/* (nf values read: the allocation is no larger) */
		t->times = err_calloc(nf ? nf : 1, sizeof *t->times, err);
		if (t->times == NULL) {
			h5_value_free(&v);
			return err_prefix(err, "%s", t->path);
		}
		for (k = 0; k < nf; k++)
			t->times[k] = arr_get_flat(&v.a, k);
	} else {
		h5_value_free(&v);
		return err_set(err, "%s: %s: expected %zu times or a scalar "
			       "interval", t->path, p, nf);
	}
	h5_value_free(&v);
	return 0;
}

/* A box as H5MD stores it, 3 edges or a 3x3 matrix whose rows are the
** cell vectors a, b, c (MDAnalysis and other writers store 3x3 even for
** orthogonal boxes), into edges and tilts (file units). A matrix must be
** in the restricted triclinic form (a along x, b in the xy plane), as
** MDAnalysis and LAMMPS write it; a rotated cell is refused. */
static int traj_h5_cell(traj *t, const double *v, size_t n, const char *what,
			char *err)
{
	double big = 0;
	int k;
	if (n == 3) {
		memcpy(t->box, v, 3 * sizeof *v);
		t->tilt[0] = t->tilt[1] = t->tilt[2] = 0;
		return 0;
	}
	for (k = 0; k < 9; k++)
		big = fmax(big, fabs(v[k]));
	/* float32 writers: zeros may come back as rounding noise */
	if (fabs(v[1]) > 1e-6 * big || fabs(v[2]) > 1e-6 * big ||
	    fabs(v[5]) > 1e-6 * big)
		return err_set(err, "%s: %s: frame %zu: the box vectors a = (%g, "
			       "%g, %g), b = (%g, %g, %g) are not in the "
			       "restricted triclinic form (a along x, b in the "
			       "xy plane): rotate the trajectory", t->path,
			       what, t->next + 1, v[0], v[1], v[2], v[3], v[4],
			       v[5]);
	t->box[0] = v[0];
	t->box[1] = v[4];
	t->box[2] = v[8];
	t->tilt[0] = v[3];
	t->tilt[1] = v[6];
	t->tilt[2] = v[7];
	if (v[3] != 0 || v[6] != 0 || v[7] != 0)
		t->info.triclinic = 1;
	return 0;
}

/* the first box of a series, read on open: whether the box is triclinic
** (and in a form we take) is known before streaming starts */
static int traj_h5_first_box(traj *t, const char *pv, char *err)
{
	h5_sel sel;
	arr a;
	double cell[9];
	size_t k;
	int r;
	if (t->info.nframes == 0)
		return 0;
	memset(&sel, 0, sizeof sel);
	sel.ndim = 1;
	sel.count[0] = 1;
	if (h5_read(t->hf, pv, &sel, &a, err) != 0)
		return err_prefix(err, "%s", t->path);
	for (k = 0; k < t->nbox && k < arr_size(&a); k++)
		cell[k] = arr_get_flat(&a, k) * t->info.length_scale;
	r = arr_size(&a) == t->nbox ? traj_h5_cell(t, cell, t->nbox,
						   "box/edges/value", err)
		: err_set(err, "%s: %s: unexpected box size", t->path, pv);
	arr_release(&a);
	return r;
}

/* box edges: fixed dataset [3] or [3 x 3], or a time series edges/value
** [T x 3] or [T x 3 x 3] */
static int traj_h5_box(traj *t, const char *g, int need, char *err)
{
	char p[256], pv[270];
	h5_info inf;
	h5_value v;
	int d;
	snprintf(p, sizeof p, "/particles/%s/box/edges", g);
	snprintf(pv, sizeof pv, "%s/value", p);
	for (d = 0; d < 3; d++)
		t->info.periodic[d] = 1;
	if (!h5_exists(t->hf, p)) {
		if (need)
			return err_set(err, "%s: no box (%s) to unwrap the "
				       "positions (if they are unwrapped, say "
				       "unwrapped=true)", t->path, p);
		for (d = 0; d < 3; d++)
			t->box[d] = NAN, t->info.periodic[d] = 0;
		return 0;
	}
	t->info.has_box = 1;
	snprintf(pv, sizeof pv, "/particles/%s/box", g);
	if (h5_attr_read(t->hf, pv, "boundary", &v, err) == 0) {
		if (v.kind == H5_VSTRS && v.nstrs == 3)
			for (d = 0; d < 3; d++)
				t->info.periodic[d] =
					strcmp(v.strs[d], "periodic") == 0;
		h5_value_free(&v);
	}
	if (h5_info_get(t->hf, p, &inf, err) != 0)
		return err_prefix(err, "%s", t->path);
	if (inf.kind == H5_GROUP) {
		snprintf(pv, sizeof pv, "%s/value", p);
		if (h5_info_get(t->hf, pv, &inf, err) != 0)
			return err_prefix(err, "%s", t->path);
		if (!(inf.kind == H5_DATASET && inf.numeric &&
		      ((inf.ndim == 2 && inf.shape[1] == 3) ||
		       (inf.ndim == 3 && inf.shape[1] == 3 &&
			inf.shape[2] == 3))))
			return err_set(err, "%s: %s: expected frames x 3 edges "
				       "or frames x 3 x 3 box vectors", t->path,
				       pv);
		t->nbox = inf.ndim == 2 ? 3 : 9;
		if (h5_frames_open(&t->fbox, t->hf, pv, 0, H5_ALL, 1, 0,
				   err) != 0)
			return err_prefix(err, "%s", t->path);
		if (h5_frames_count(t->fbox) < t->info.nframes)
			return err_set(err, "%s: %s has %zu frames, positions "
				       "%zu", t->path, pv,
				       h5_frames_count(t->fbox),
				       t->info.nframes);
		return traj_h5_first_box(t, pv, err);
	}
	if (h5_read(t->hf, p, NULL, &v.a, err) != 0)
		return err_prefix(err, "%s", t->path);
	t->nbox = arr_size(&v.a);
	if (t->nbox != 3 && !(t->nbox == 9 && v.a.ndim == 2)) {
		arr_release(&v.a);
		return err_set(err, "%s: %s: expected 3 edges or 3 x 3 box "
			       "vectors", t->path, p);
	}
	for (d = 0; d < (int)t->nbox; d++)
		t->box_fixed[d] = arr_get_flat(&v.a, (size_t)d) *
			t->info.length_scale;
	arr_release(&v.a);
	return traj_h5_cell(t, t->box_fixed, t->nbox, "box/edges", err);
}

/* species per particle: species [N] or species/value [T x N] (first) */
static int traj_h5_species(traj *t, const char *g, char *err)
{
	char p[256];
	h5_info inf;
	h5_sel sel;
	arr a;
	size_t k, n = t->info.natoms;
	snprintf(p, sizeof p, "/particles/%s/species", g);
	if (!h5_exists(t->hf, p))
		return 0;	/* all type 0 */
	if (h5_info_get(t->hf, p, &inf, err) != 0)
		return err_prefix(err, "%s", t->path);
	memset(&sel, 0, sizeof sel);
	if (inf.kind == H5_GROUP) {
		strncat(p, "/value", sizeof p - strlen(p) - 1);
		sel.ndim = 1;
		sel.count[0] = 1;
	}
	if (h5_read(t->hf, p, sel.ndim ? &sel : NULL, &a, err) != 0)
		return err_prefix(err, "%s", t->path);
	if (arr_size(&a) != n) {
		arr_release(&a);
		return err_set(err, "%s: %s has %zu entries for %zu particles",
			       t->path, p, arr_size(&a), n);
	}
	for (k = 0; k < n; k++) {
		double v = arr_get_flat(&a, k);
		if (!(v >= INT_MIN && v <= INT_MAX && v == floor(v))) {
			arr_release(&a);
			return err_set(err, "%s: %s: species of particle %zu "
				       "is %g, not an integer", t->path, p,
				       k + 1, v);
		}
		t->types[k] = (int)v;
	}
	arr_release(&a);
	/* species per frame (one row per position frame; a series sampled
	** otherwise is read at its first row only): streamed and compared
	** with the first frame's */
	if (sel.ndim && h5_frames_open(&t->fspec, t->hf, p, 0, H5_ALL, 1, 0,
				       err) != 0)
		return err_prefix(err, "%s", t->path);
	if (t->fspec && h5_frames_count(t->fspec) != t->info.nframes) {
		h5_frames_close(t->fspec);
		t->fspec = NULL;
	}
	return 0;
}

/* per-particle masses when the file has them: mass [N], mass/value
** [T x N] (first row) or a scalar for all */
static int traj_h5_mass(traj *t, const char *g, char *err)
{
	char p[256];
	h5_info inf;
	h5_value v;
	size_t k, n = t->info.natoms;
	snprintf(p, sizeof p, "/particles/%s/mass", g);
	if (!h5_exists(t->hf, p))
		return 0;
	if (h5_info_get(t->hf, p, &inf, err) != 0)
		return err_prefix(err, "%s", t->path);
	if (inf.kind == H5_GROUP)
		strncat(p, "/value", sizeof p - strlen(p) - 1);
	if (h5_read_value(t->hf, p, NULL, &v, err) != 0)
		return err_prefix(err, "%s", t->path);
	t->mass = err_calloc(n ? n : 1, sizeof *t->mass, err);
	if (t->mass == NULL) {
		h5_value_free(&v);
		return -1;
	}
	if (v.kind == H5_VNUM || v.kind == H5_VINT)
		for (k = 0; k < n; k++)
			t->mass[k] = v.kind == H5_VNUM ? v.d : (double)v.i;
	else if (v.kind == H5_VARR && arr_size(&v.a) >= n &&
		 arr_size(&v.a) % n == 0)
		for (k = 0; k < n; k++)
			t->mass[k] = arr_get_flat(&v.a, k);
	else {
		h5_value_free(&v);
		return err_set(err, "%s: %s: expected one mass per particle",
			       t->path, p);
	}
	h5_value_free(&v);
	return 0;
}

static int traj_open_h5md(traj *t, const traj_opts *o, char *err)
{
	char p[256];
	h5_info inf;
	const char *g;
	t->info.format = TRAJ_H5MD;
	if (h5_open(&t->hf, t->path, err) != 0)
		return -1;
	if (traj_h5_group(t, o->group, err) != 0)
		return -1;
	g = t->info.group;
	snprintf(p, sizeof p, "/particles/%s/position/value", g);
	if (!h5_exists(t->hf, p))
		return err_set(err, "%s: no dataset %s", t->path, p);
	if (h5_info_get(t->hf, p, &inf, err) != 0)
		return err_prefix(err, "%s", t->path);
	if (inf.kind != H5_DATASET || inf.ndim != 3 || inf.shape[2] != 3 ||
	    !inf.numeric)
		return err_set(err, "%s: %s: expected frames x particles x 3 "
			       "numbers", t->path, p);
	t->info.nframes = inf.shape[0];
	if (traj_alloc_atoms(t, inf.shape[1], err) != 0)
		return -1;
	if (traj_h5_unit(t, p, 0, 1e-9, &t->info.length_scale, err) != 0)
		return -1;
	if (o->length_scale > 0)
		t->info.length_scale = o->length_scale;
	if (traj_h5_times(t, g, t->info.nframes, err) != 0)
		return -1;
	snprintf(p, sizeof p, "/particles/%s/position/time", g);
	if (traj_h5_unit(t, p, 1, 1e-12, &t->info.time_scale, err) != 0)
		return -1;
	if (o->time_scale > 0)
		t->info.time_scale = o->time_scale;
	snprintf(p, sizeof p, "/particles/%s/image/value", g);
	t->info.wrap = o->unwrapped ? TRAJ_UNWRAPPED
		: h5_exists(t->hf, p) ? TRAJ_IMAGES : TRAJ_MINIMAGE;
	if (t->info.wrap == TRAJ_IMAGES &&
	    h5_frames_open(&t->fimg, t->hf, p, 0, H5_ALL, 1, 0, err) != 0)
		return err_prefix(err, "%s", t->path);
	if (traj_h5_box(t, g, !o->unwrapped, err) != 0)
		return -1;
	if (traj_h5_species(t, g, err) != 0 || traj_h5_mass(t, g, err) != 0)
		return -1;
	snprintf(p, sizeof p, "/particles/%s/position/value", g);
	if (h5_frames_open(&t->fpos, t->hf, p, 0, H5_ALL, 1, 0, err) != 0)
		return err_prefix(err, "%s", t->path);
	return 0;
}

/* a frame of N x 3 numbers (any dtype) into dst, scaled */
static int traj_arr_copy(const arr *a, double *dst, size_t n, double scale,
			 const char *what, traj *t, char *err)
{
	size_t k;
	if (arr_size(a) != n)
		return err_set(err, "%s: %s: %zu values, expected %zu",
			       t->path, what, arr_size(a), n);
	if (a->dtype == ARR_F64 && arr_is_contiguous(a)) {
		const double *s = (const double *)a->data;
		for (k = 0; k < n; k++)
			dst[k] = s[k] * scale;
	} else if (a->dtype == ARR_F32 && arr_is_contiguous(a)) {
		const float *s = (const float *)a->data;
		for (k = 0; k < n; k++)
			dst[k] = s[k] * scale;
	} else
		for (k = 0; k < n; k++)
			dst[k] = arr_get_flat(a, k) * scale;
	return 0;
}

/* the next frame of a stream (positions, box or images) into dst */
static int traj_h5_read_next(traj *t, h5_frames *fs, double *dst, size_t n,
			     double scale, const char *what, char *err)
{
	arr a;
	size_t idx, alloc;
	int r = h5_frames_next(fs, &a, &idx, &alloc, err);
	if (r == 0)
		return err_set(err, "%s: %s ends before frame %zu", t->path,
			       what, t->next + 1);
	if (r < 0)
		return err_prefix(err, "%s: %s", t->path, what);
	r = traj_arr_copy(&a, dst, n, scale, what, t, err);
	arr_release(&a);
	return r;
}

/* a frame's row of species/value must repeat the first frame's types (a
** particle must not move from one species to another half-way); the
** work buffer's image half is free here */
static int traj_h5_species_next(traj *t, char *err)
{
	size_t k, n = t->info.natoms;
	double *sp = t->work + 3 * n;
	if (traj_h5_read_next(t, t->fspec, sp, n, 1.0, "species/value",
			      err) != 0)
		return -1;
	for (k = 0; k < n; k++)
		if (sp[k] != (double)t->types[k])
			return err_set(err, "%s: species/value: frame %zu: "
				       "particle %zu has species %g, in the "
				       "first frame %d (types must not change)",
				       t->path, t->next + 1, k + 1, sp[k],
				       t->types[k]);
	return 0;
}

/* positions of the next frame, unwrapped as the file allows: image flags,
** else minimum image (t->prevw keeps the previous wrapped frame) */
static int traj_next_h5md(traj *t, traj_frame *fr, char *err)
{
	size_t k, n3 = 3 * t->info.natoms;
	double ls = t->info.length_scale;
	if (t->next >= t->info.nframes)
		return 0;
	if (t->work == NULL &&
	    (t->work = err_malloc(n3 ? 2 * n3 : 1, sizeof *t->work, err)) ==
	    NULL)
		return -1;
	if (traj_h5_read_next(t, t->fpos, t->work, n3, ls, "position/value",
			      err) != 0)
		return -1;
	if (t->fbox != NULL) {
		double cell[9];
		if (traj_h5_read_next(t, t->fbox, cell, t->nbox, ls,
				      "box/edges/value", err) != 0 ||
		    traj_h5_cell(t, cell, t->nbox, "box/edges/value", err))
			return -1;
	}	/* (a fixed box was set, in m, on open) */
	if (t->fspec != NULL && traj_h5_species_next(t, err) != 0)
		return -1;
	if (t->info.wrap == TRAJ_IMAGES) {
		double *img = t->work + n3;
		if (traj_h5_read_next(t, t->fimg, img, n3, 1.0, "image/value",
				      err) != 0)
			return -1;
		for (k = 0; k < n3; k += 3) {
			memcpy(t->pos + k, t->work + k, 3 * sizeof *t->pos);
			traj_add_images(t->box, t->tilt, img + k, t->pos + k);
		}
	} else if (t->info.wrap == TRAJ_MINIMAGE)
		traj_unwrap_minimage(t, t->work, t->next == 0);
	else
		memcpy(t->pos, t->work, n3 * sizeof *t->work);
	fr->time = (t->times ? t->times[t->next] :
		    t->t_off + t->t_dt * (double)t->next) * t->info.time_scale;
	return 1;
}

/* ---------------------------------------------------------------- */
/* LAMMPS text dumps                                                */
/* ---------------------------------------------------------------- */

/* the next line without its newline; 0 at end of file */
static int traj_getline(traj *t)
{
	ssize_t n = getline(&t->line, &t->cap, t->fp);
	if (n < 0)
		return 0;
	while (n > 0 && (t->line[n - 1] == '\n' || t->line[n - 1] == '\r'))
		t->line[--n] = 0;
	t->lineno++;
	return 1;
}

static int traj_lmp_expect(traj *t, const char *item, char *err)
{
	if (!traj_getline(t))
		return err_set(err, "%s: line %lld: unexpected end of file "
			       "(expected ITEM: %s)", t->path, t->lineno + 1,
			       item);
	if (strncmp(t->line, "ITEM: ", 6) != 0 ||
	    strncmp(t->line + 6, item, strlen(item)) != 0)
		return err_set(err, "%s: line %lld: expected 'ITEM: %s', got "
			       "'%.60s'", t->path, t->lineno, item, t->line);
	return 0;
}

static int traj_lmp_number(traj *t, double *v, const char *what, char *err)
{
	char *end;
	if (!traj_getline(t))
		return err_set(err, "%s: unexpected end of file (expected %s)",
			       t->path, what);
	*v = strtod(t->line, &end);
	if (end == t->line)
		return err_set(err, "%s: line %lld: expected %s, got '%.60s'",
			       t->path, t->lineno, what, t->line);
	return 0;
}

/* column roles in an ATOMS header */
typedef struct traj_cols {
	int id, type, x[3], img[3], ncol;
	unsigned char used[TRAJ_MAXCOL];	/* columns read as numbers */
	int kind;		/* 0 x, 1 xs (scaled), 2 xu, 3 xsu */
} traj_cols;

static int traj_lmp_columns(traj *t, traj_cols *c, char *err)
{
	const char *tname = t->type_column[0] ? t->type_column : "type";
	static const char *names[4][3] = {
		{"x", "y", "z"}, {"xs", "ys", "zs"}, {"xu", "yu", "zu"},
		{"xsu", "ysu", "zsu"}
	};
	static const char *imgs[3] = {"ix", "iy", "iz"};
	int pos[4][3], k, d, col = 0;
	char *tok, *save = NULL;
	memset(pos, -1, sizeof pos);
	c->id = c->type = -1;
	for (d = 0; d < 3; d++)
		c->img[d] = -1;
	for (tok = strtok_r(t->line + 12, " \t", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t", &save), col++) {
		if (strcmp(tok, "id") == 0)
			c->id = col;
		else if (strcmp(tok, tname) == 0)
			c->type = col;
		for (k = 0; k < 4; k++)
			for (d = 0; d < 3; d++)
				if (strcmp(tok, names[k][d]) == 0)
					pos[k][d] = col;
		for (d = 0; d < 3; d++)
			if (strcmp(tok, imgs[d]) == 0)
				c->img[d] = col;
	}
	c->ncol = col;
	if (col > TRAJ_MAXCOL)
		return err_set(err, "%s: line %lld: more than %d columns",
			       t->path, t->lineno, TRAJ_MAXCOL);
	memset(c->used, 0, sizeof c->used);
	if (c->id < 0)
		return err_set(err, "%s: line %lld: ATOMS has no 'id' column "
			       "(atoms are matched between frames by id)",
			       t->path, t->lineno);
	if (c->type < 0)
		return err_set(err, "%s: line %lld: ATOMS has no '%s' column: "
			       "name a column of integer types with "
			       "type_column (--type-column), e.g. mol",
			       t->path, t->lineno, tname);
	/* prefer unwrapped columns, then wrapped, then scaled */
	{
		static const int order[4] = {2, 3, 0, 1};
		for (k = 0; k < 4; k++) {
			int kk = order[k];
			if (pos[kk][0] >= 0 && pos[kk][1] >= 0 &&
			    pos[kk][2] >= 0) {
				c->kind = kk;
				for (d = 0; d < 3; d++) {
					c->x[d] = pos[kk][d];
					c->used[c->x[d]] = 1;
					if (c->img[d] >= 0)
						c->used[c->img[d]] = 1;
				}
				c->used[c->id] = c->used[c->type] = 1;
				return 0;
			}
		}
	}
	return err_set(err, "%s: line %lld: ATOMS has no x y z, xs ys zs, "
		       "xu yu zu or xsu ysu zsu columns", t->path, t->lineno);
}

/* the slot (0-based order by id) of atom id, or -1 */
static long traj_lmp_slot(const traj *t, long long id)
{
	size_t lo = 0, hi = t->info.natoms;
	if (t->ids_dense)
		return id >= 1 && (size_t)id <= t->info.natoms ? (long)id - 1
			: -1;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (t->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->info.natoms && t->ids[lo] == id ? (long)lo : -1;
}

static int traj_cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

/* first frame only: the sorted id list (ids must be unique) */
static int traj_lmp_ids(traj *t, size_t n, char *err)
{
	size_t k;
	t->ids = err_calloc(n ? n : 1, sizeof *t->ids, err);
	t->seen = err_calloc(n ? n : 1, 1, err);
	if (t->ids == NULL || t->seen == NULL)
		return -1;
	memcpy(t->ids, t->rid, n * sizeof *t->ids);
	qsort(t->ids, n, sizeof *t->ids, traj_cmp_ll);
	t->ids_dense = 1;
	for (k = 0; k < n; k++) {
		if (k > 0 && t->ids[k] == t->ids[k - 1])
			return err_set(err, "%s: atom id %lld appears twice in "
				       "the first frame", t->path, t->ids[k]);
		if (t->ids[k] != (long long)k + 1)
			t->ids_dense = 0;
	}
	return 0;
}

/* an id or type field: decimal digits only (no fraction, exponent or
** hex: a type of 1.9 must not become 1) within [lo, hi] */
static int traj_lmp_int(const char *s, char **end, long long lo,
			long long hi, long long *v)
{
	long long x;
	errno = 0;
	x = strtoll(s, end, 10);
	if (*end == s || errno == ERANGE || x < lo || x > hi ||
	    (**end != 0 && !isspace((unsigned char)**end)))
		return -1;
	*v = x;
	return 0;
}

/* parse n rows of ncol numbers into rows, ids and types into t->rid and
** t->rtype */
static int traj_lmp_rows(traj *t, double *rows, const traj_cols *c,
			 size_t n, char *err)
{
	size_t k;
	int j;
	t->row0 = t->lineno;
	for (k = 0; k < n; k++) {
		char *s, *end;
		long long v;
		if (!traj_getline(t))
			return err_set(err, "%s: unexpected end of file in the "
				       "atoms of frame %zu (%zu of %zu rows)",
				       t->path, t->next + 1, k, n);
		s = t->line;
		for (j = 0; j < c->ncol; j++) {
			double *dst = &rows[k * (size_t)c->ncol + (size_t)j];
			if (j == c->id || j == c->type) {
				int id = j == c->id;
				const char *tok = s + strspn(s, " \t");
				int tl = (int)strcspn(tok, " \t");
				if (traj_lmp_int(s, &end, 1, id ? LLONG_MAX
						 : INT_MAX, &v) != 0)
					return err_set(err, "%s: line %lld: "
						       "atom %s '%.*s' is not "
						       "an integer 1..%s",
						       t->path, t->lineno,
						       id ? "id" : "type",
						       tl > 40 ? 40 : tl, tok,
						       id ? "2^63-1" : "2^31-1");
				if (id)
					t->rid[k] = v;
				else
					t->rtype[k] = (int)v;
				*dst = 0;
			} else if (c->used[j])
				*dst = strtod(s, &end);
			else {	/* a column not read (element names...) */
				end = s + strspn(s, " \t");
				end += strcspn(end, " \t");
				*dst = 0;
			}
			if (end == s || (!c->used[j] && end == s +
					 strspn(s, " \t")))
				return err_set(err, "%s: line %lld: expected "
					       "%d numbers", t->path,
					       t->lineno, c->ncol);
			s = end;
		}
	}
	return 0;
}

/* The BOX BOUNDS item (its header line is in t->line): boundary flags
** and three lines of bounds, each followed by a tilt factor when the box
** is triclinic ("xy xz yz": xy on the x line, xz on y, yz on z). LAMMPS
** writes the bounding box of a tilted cell; the cell's own bounds are
** that box less the extent of the tilts. */
static int traj_lmp_box(traj *t, char *err)
{
	char *tok, *save = NULL;
	double b[3][3], xy, xz, yz, hi[3];
	int d, k, ntilt = 0, nf = 0;
	for (tok = strtok_r(t->line + 16, " \t", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t", &save)) {
		if (!strcmp(tok, "xy") || !strcmp(tok, "xz") ||
		    !strcmp(tok, "yz"))
			ntilt++;
		else if (nf < 3)
			t->info.periodic[nf++] = strcmp(tok, "pp") == 0;
	}
	for (; nf < 3; nf++)
		t->info.periodic[nf] = 1;
	if (ntilt != 0 && ntilt != 3)
		return err_set(err, "%s: line %lld: a triclinic box needs the "
			       "tilts xy xz yz", t->path, t->lineno);
	for (d = 0; d < 3; d++) {
		char *s, *end;
		if (!traj_getline(t))
			return err_set(err, "%s: unexpected end of file in the "
				       "box", t->path);
		for (s = t->line, k = 0; k < (ntilt ? 3 : 2); k++, s = end) {
			b[d][k] = strtod(s, &end);
			if (end == s || !isfinite(b[d][k]))
				return err_set(err, "%s: line %lld: expected "
					       "%s", t->path, t->lineno,
					       ntilt ? "lo hi tilt" : "lo hi");
		}
		if (!ntilt)
			b[d][2] = 0;
	}
	xy = b[0][2];
	xz = b[1][2];
	yz = b[2][2];
	t->lo[0] = b[0][0] - fmin(fmin(0, xy), fmin(xz, xy + xz));
	hi[0] = b[0][1] - fmax(fmax(0, xy), fmax(xz, xy + xz));
	t->lo[1] = b[1][0] - fmin(0, yz);
	hi[1] = b[1][1] - fmax(0, yz);
	t->lo[2] = b[2][0];
	hi[2] = b[2][1];
	for (d = 0; d < 3; d++) {
		t->box[d] = hi[d] - t->lo[d];
		if (!(t->box[d] > 0))
			return err_set(err, "%s: line %lld: box bounds must be "
				       "lo < hi%s", t->path, t->lineno - 2 + d,
				       ntilt ? " (after the tilts)" : "");
	}
	t->tilt[0] = xy;
	t->tilt[1] = xz;
	t->tilt[2] = yz;
	if (xy != 0 || xz != 0 || yz != 0)
		t->info.triclinic = 1;
	return 0;
}

/* the header of one frame up to the ATOMS line; 0 at a clean end */
static int traj_lmp_header(traj *t, double *step, size_t *n, char *err)
{
	double v;
	do {
		if (!traj_getline(t))
			return 0;
	} while (t->line[0] == 0);
	if (strncmp(t->line, "ITEM: TIMESTEP", 14) != 0)
		return err_set(err, "%s: line %lld: expected 'ITEM: TIMESTEP', "
			       "got '%.60s'", t->path, t->lineno, t->line);
	if (traj_lmp_number(t, step, "a timestep", err) != 0 ||
	    traj_lmp_expect(t, "NUMBER OF ATOMS", err) != 0 ||
	    traj_lmp_number(t, &v, "the number of atoms", err) != 0)
		return -1;
	if (!(v >= 0) || v > TRAJ_MAXATOMS || v != floor(v))
		return err_set(err, "%s: line %lld: the number of atoms must "
			       "be an integer 0..%d", t->path, t->lineno,
			       TRAJ_MAXATOMS);
	if (!isfinite(*step))
		return err_set(err, "%s: line %lld: the timestep is not "
			       "finite", t->path, t->lineno - 2);
	*n = (size_t)v;
	if (traj_lmp_expect(t, "BOX BOUNDS", err) != 0)
		return -1;
	if (traj_lmp_box(t, err) != 0)
		return -1;
	if (traj_lmp_expect(t, "ATOMS", err) != 0)
		return -1;
	return 1;
}

/* Count frames without parsing them, and check that each has the nine
** header lines plus one line per atom: a dump cut mid-frame (a run still
** writing, a full disk) must not be analysed on the frames before the cut
** without a word. o->truncated drops an incomplete last frame instead
** (t->cut says where the file was cut). A last line without a newline
** counts as cut: its last number may have lost digits. */
static int traj_lmp_count(traj *t, const traj_opts *o, char *err)
{
	FILE *f = fopen(t->path, "r");
	char *buf = NULL;
	size_t cap = 0, n = 0, li = 0, want = 0;
	long long line = 0, start = 0;
	ssize_t len;
	int nl = 1, r = 0;
	if (f == NULL)
		return err_set(err, "%s: cannot open", t->path);
	while ((len = getline(&buf, &cap, f)) >= 0) {
		line++;
		nl = len > 0 && buf[len - 1] == '\n';
		if (strncmp(buf, "ITEM: TIMESTEP", 14) == 0) {
			if (n > 0 && li != want) {
				r = err_set(err, "%s: frame %zu (line %lld) "
					    "has %zu lines, expected %zu (9 "
					    "header lines and one per atom)",
					    t->path, n, start, li, want);
				break;
			}
			n++;
			li = 0;
			want = 9;
			start = line;
		}
		if (n == 0 || buf[0] == '\n' || buf[0] == 0)
			continue;
		if (++li == 4) {	/* the number of atoms */
			char *end;
			double v = strtod(buf, &end);
			if (end != buf && v >= 0 && v <= TRAJ_MAXATOMS &&
			    v == floor(v))
				want = 9 + (size_t)v;
		}
	}
	free(buf);
	fclose(f);
	if (r == 0 && n > 0 && (li != want || !nl)) {
		if (!o->truncated)
			return err_set(err, "%s: truncated: the file ends "
				       "(end of file at line %lld) inside "
				       "frame %zu, which has %zu of its %zu "
				       "lines%s; frames 1..%zu are complete "
				       "(option truncated / --truncated uses "
				       "them)", t->path, line, n, li, want,
				       nl ? "" : " (the last without a newline)",
				       n - 1);
		snprintf(t->cut, sizeof t->cut, "truncated at line %lld in "
			 "frame %zu: using frames 1..%zu", line, n, n - 1);
		n--;
	}
	t->info.nframes = n;
	return r;
}

static int traj_next_lammps(traj *t, traj_frame *fr, char *err);
static int traj_lmp_first(traj *t, char *err);

static int traj_open_lammps(traj *t, const traj_opts *o, char *err)
{
	if (o->type_column && strlen(o->type_column) >= sizeof t->type_column)
		return err_set(err, "%s: type column name '%.40s' is too long",
			       t->path, o->type_column);
	if (o->type_column)
		strcpy(t->type_column, o->type_column);
	t->info.format = TRAJ_LAMMPS;
	t->info.has_box = 1;
	t->info.length_scale = o->length_scale > 0 ? o->length_scale : 1e-10;
	t->info.time_scale = o->time_scale > 0 ? o->time_scale : 1e-15;
	if (traj_lmp_count(t, o, err) != 0)
		return -1;
	if (t->info.nframes == 0)
		return err_set(err, "%s: no complete frame (no 'ITEM: "
			       "TIMESTEP': not a LAMMPS dump?)", t->path);
	t->fp = fopen(t->path, "r");
	if (t->fp == NULL)
		return err_set(err, "%s: cannot open", t->path);
	return traj_lmp_first(t, err);
}

/* the position of one row (file units) into x (m): scaled coordinates
** are fractions of the cell's vectors, image flags add cell vectors */
static void traj_lmp_position(const traj *t, const double *r,
			      const traj_cols *c, double x[3])
{
	const double *L = t->box, *tl = t->tilt;
	double im[3];
	int d;
	for (d = 0; d < 3; d++)
		x[d] = r[c->x[d]];
	if (c->kind & 1) {	/* scaled */
		x[0] = t->lo[0] + x[0] * L[0] + x[1] * tl[0] + x[2] * tl[1];
		x[1] = t->lo[1] + x[1] * L[1] + x[2] * tl[2];
		x[2] = t->lo[2] + x[2] * L[2];
	}
	if (c->kind < 2) {
		for (d = 0; d < 3; d++)
			im[d] = c->img[d] >= 0 ? r[c->img[d]] : 0;
		traj_add_images(L, tl, im, x);
	}
	for (d = 0; d < 3; d++)
		x[d] *= t->info.length_scale;
}

/* atoms of one frame into slots by id, positions unwrapped; a type that
** differs from the first frame's is an error (it would move an atom from
** one species to another half-way) */
static int traj_lmp_atoms(traj *t, const double *rows, const traj_cols *c,
			  double *w, char *err)
{
	size_t k, n = t->info.natoms, nc = (size_t)c->ncol;
	int first = t->next == 0;
	memset(t->seen, 0, n);
	for (k = 0; k < n; k++) {
		const double *r = rows + k * nc;
		long s = traj_lmp_slot(t, t->rid[k]);
		if (s < 0 || t->seen[s])
			return err_set(err, "%s: line %lld: frame %zu: atom id "
				       "%lld %s", t->path, t->row0 + 1 +
				       (long long)k, t->next + 1, t->rid[k],
				       s < 0 ? "was not in the first frame"
				       : "appears twice");
		t->seen[s] = 1;
		if (first)
			t->types[s] = t->rtype[k];
		else if (t->types[s] != t->rtype[k])
			return err_set(err, "%s: line %lld: frame %zu: atom id "
				       "%lld has type %d, in the first frame "
				       "%d (types must not change)", t->path,
				       t->row0 + 1 + (long long)k, t->next + 1,
				       t->rid[k], t->rtype[k], t->types[s]);
		traj_lmp_position(t, r, c, w + 3 * (size_t)s);
	}
	return 0;
}

static int traj_next_lammps(traj *t, traj_frame *fr, char *err)
{
	double step, *rows = NULL, *w = NULL;
	size_t n = 0;
	traj_cols c;
	int r, d;
	memset(&c, 0, sizeof c);
	if (t->next >= t->info.nframes)
		return 0;	/* (a truncated last frame is not read) */
	r = traj_lmp_header(t, &step, &n, err);
	if (r <= 0)
		return r;
	if (t->next == 0) {
		if (traj_alloc_atoms(t, n, err) != 0 ||
		    !(t->rid = err_calloc(n ? n : 1, sizeof *t->rid, err)) ||
		    !(t->rtype = err_calloc(n ? n : 1, sizeof *t->rtype, err)))
			return -1;
	} else if (n != t->info.natoms)
		return err_set(err, "%s: frame %zu (timestep %.0f) has %zu "
			       "atoms, the first frame had %zu: the particle count "
			       "must not change", t->path, t->next + 1, step, n,
			       t->info.natoms);
	if (traj_lmp_columns(t, &c, err) != 0)
		return -1;
	t->info.wrap = c.kind >= 2 ? TRAJ_UNWRAPPED
		: c.img[0] >= 0 && c.img[1] >= 0 && c.img[2] >= 0 ? TRAJ_IMAGES
		: TRAJ_MINIMAGE;
	rows = err_malloc(n ? n * (size_t)c.ncol : 1, sizeof *rows, err);
	w = err_malloc(n ? 3 * n : 1, sizeof *w, err);
	r = rows && w ? 0 : -1;
	if (r == 0)
		r = traj_lmp_rows(t, rows, &c, n, err);
	if (r == 0 && t->next == 0)
		r = traj_lmp_ids(t, n, err);
	if (r == 0)
		r = traj_lmp_atoms(t, rows, &c, w, err);
	if (r == 0) {
		for (d = 0; d < 3; d++) {
			t->box[d] *= t->info.length_scale;
			t->tilt[d] *= t->info.length_scale;
		}
		if (t->info.wrap == TRAJ_MINIMAGE)
			traj_unwrap_minimage(t, w, t->next == 0);
		else
			memcpy(t->pos, w, 3 * n * sizeof *w);
	}
	free(rows);
	free(w);
	fr->time = step * t->info.time_scale;
	return r == 0 ? 1 : -1;
}

/* the first frame is read on open, so that the atom count and types are
** known before streaming starts; traj_next hands it out first */
static int traj_lmp_first(traj *t, char *err)
{
	traj_frame fr;
	int r = traj_next_lammps(t, &fr, err);
	if (r == 0)
		return err_set(err, "%s: no frames", t->path);
	if (r < 0)
		return -1;
	t->pending = 1;
	t->pending_time = fr.time;
	return 0;
}

/* ---------------------------------------------------------------- */
/* synthetic correlated random walks                                */
/* ---------------------------------------------------------------- */

/* a uniform deviate in (0, 1) from the generator's sequence */
static double traj_uniform(traj *t)
{
	return num_uniform(num_splitmix64(&t->rng));
}

int traj_open_synth(traj **out, const traj_synth *s, char *err)
{
	traj *t;
	size_t n, k;
	*out = NULL;
	if (s->ncat + s->nan + s->nsolv == 0 || s->nframes == 0)
		return err_set(err, "synthetic trajectory: no particles or no "
			       "frames");
	if (!(s->dt > 0) || !(s->box > 0) || !(s->d_cat >= 0) ||
	    !(s->d_an >= 0) || !(s->d_common >= 0) || !(s->d_solv >= 0))
		return err_set(err, "synthetic trajectory: dt and box must be "
			       "> 0 and diffusion coefficients >= 0");
	if (s->d_common > s->d_cat ||
	    s->s_common * s->s_common * s->d_common > s->d_an)
		return err_set(err, "synthetic trajectory: d_common must not "
			       "exceed d_cat, nor s_common^2 d_common d_an");
	t = traj_alloc("(synthetic)", err);
	if (t == NULL)
		return -1;
	t->info.format = TRAJ_SYNTH;
	t->info.wrap = TRAJ_UNWRAPPED;
	t->info.has_box = 1;
	t->info.nframes = s->nframes;
	t->info.length_scale = t->info.time_scale = 1;
	t->syn = *s;
	t->rng = s->seed;
	n = s->ncat + s->nan + s->nsolv;
	if (traj_alloc_atoms(t, n, err) != 0) {
		traj_close(t);
		return -1;
	}
	for (k = 0; k < 3; k++)
		t->box[k] = s->box, t->info.periodic[k] = 1;
	for (k = 0; k < n; k++) {
		t->types[k] = k < s->ncat ? 1 : k < s->ncat + s->nan ? 2 : 3;
		t->pos[3 * k] = s->box * traj_uniform(t);
		t->pos[3 * k + 1] = s->box * traj_uniform(t);
		t->pos[3 * k + 2] = s->box * traj_uniform(t);
	}
	/* bound pairs: each paired anion next to its cation */
	for (k = 0; s->pair_dist > 0 && k < s->ncat && k < s->nan; k++) {
		size_t a = s->ncat + k;
		t->pos[3 * a] = t->pos[3 * k] + s->pair_dist;
		t->pos[3 * a + 1] = t->pos[3 * k + 1];
		t->pos[3 * a + 2] = t->pos[3 * k + 2];
	}
	*out = t;
	return 0;
}

/* two independent standard normals for (frame, slot) by Box-Muller, from
** a hash of the counter: any particle's step can be drawn independently
** (in parallel) and the trajectory does not depend on the number of
** threads */
static void traj_normals(uint64_t seed, uint64_t frame, uint64_t slot,
			 double *g1, double *g2)
{
	uint64_t h1 = num_mix64(seed ^ num_mix64(frame * NUM_GOLDEN64
					       + slot));
	uint64_t h2 = num_mix64(h1 + 0x632be59bd9b4e019ULL);
	double u = num_uniform(h1);
	double v = (double)(h2 >> 11) * 0x1.0p-53;
	double r = sqrt(-2 * log(u));
	*g1 = r * cos(2 * M_PI * v);
	*g2 = r * sin(2 * M_PI * v);
}

/* one time step. A cation draws two normals per axis: its own step and
** the common step it shares with its partner anion (if any); other
** particles draw two normals for two axes. */
static void traj_synth_step(traj *t)
{
	const traj_synth *s = &t->syn;
	size_t k, n = s->ncat + s->nan + s->nsolv, nc = s->ncat;
	size_t npair = nc < s->nan ? nc : s->nan;
	double sc = sqrt(2 * s->d_common * s->dt);
	double sp = sqrt(2 * (s->d_cat - s->d_common) * s->dt);
	double sm = sqrt(2 * fmax(0, s->d_an - s->s_common * s->s_common *
				  s->d_common) * s->dt);
	double ss = sqrt(2 * s->d_solv * s->dt);
	uint64_t fr = (uint64_t)t->next, seed = num_mix64(s->seed + 1);
	double g[4];
	int d;
	for (k = 0; k < nc; k++)
		for (d = 0; d < 3; d++) {
			traj_normals(seed, fr, 3 * k + (size_t)d, g, g + 1);
			t->pos[3 * k + (size_t)d] += sp * g[0] + sc * g[1];
			if (k < npair)
				t->pos[3 * (nc + k) + (size_t)d] +=
					s->s_common * sc * g[1];
		}
	for (k = nc; k < n; k++) {
		double sd = k < nc + s->nan ? sm : ss;
		traj_normals(seed, fr, 3 * k, g, g + 1);
		traj_normals(seed, fr, 3 * k + 1, g + 2, g + 3);
		for (d = 0; d < 3; d++)
			t->pos[3 * k + (size_t)d] += sd * g[d];
	}
}

static int traj_next_synth(traj *t, traj_frame *fr)
{
	if (t->next >= t->syn.nframes)
		return 0;
	if (t->next > 0)
		traj_synth_step(t);
	fr->time = t->syn.dt * (double)t->next;
	return 1;
}

/* ---------------------------------------------------------------- */
/* dispatch                                                         */
/* ---------------------------------------------------------------- */

/* H5MD is recognised by the HDF5 signature, anything else is a dump */
static int traj_is_hdf5(const char *path)
{
	static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n',
					     0x1a, '\n'};
	unsigned char b[8];
	FILE *f = fopen(path, "rb");
	int r;
	if (f == NULL)
		return 0;
	r = fread(b, 1, 8, f) == 8 && memcmp(b, sig, 8) == 0;
	fclose(f);
	return r;
}

int traj_open(traj **out, const char *path, const traj_opts *o, char *err)
{
	traj_opts none;
	traj *t;
	FILE *f;
	int r;
	*out = NULL;
	if (o == NULL) {
		memset(&none, 0, sizeof none);
		o = &none;
	}
	f = fopen(path, "rb");
	if (f == NULL)
		return err_set(err, "%s: cannot open trajectory", path);
	fclose(f);
	os_input_add(path);	/* no result of this run may replace it */
	t = traj_alloc(path, err);
	if (t == NULL)
		return -1;
	r = traj_is_hdf5(path) ? traj_open_h5md(t, o, err)
		: traj_open_lammps(t, o, err);
	if (r != 0) {
		traj_close(t);
		return -1;
	}
	*out = t;
	return 0;
}

/* A NaN or Inf position (a blown-up run, a corrupt file) would give NaN
** MSDs that print as missing values: an error naming the frame and atom
** (LAMMPS: its id; H5MD: its 1-based index). So is a box that cannot
** unwrap. */
static int traj_check_frame(const traj *t, const traj_frame *fr, char *err)
{
	size_t k, n3 = 3 * t->info.natoms;
	int d;
	if (!isfinite(fr->time))
		return err_set(err, "%s: frame %zu: time is not finite",
			       t->path, t->next + 1);
	for (k = 0; k < n3; k++)
		if (!isfinite(t->pos[k])) {
			size_t a = k / 3;
			long long id = t->info.format != TRAJ_LAMMPS ||
				t->ids_dense ? (long long)a + 1 : t->ids[a];
			return err_set(err, "%s: frame %zu: atom %s%lld: %c "
				       "position is not finite (%g)", t->path,
				       t->next + 1, t->info.format ==
				       TRAJ_LAMMPS ? "id " : "", id,
				       "xyz"[k % 3], t->pos[k]);
		}
	for (d = 0; d < 3 && t->info.wrap != TRAJ_UNWRAPPED; d++)
		if (t->info.periodic[d] && !(isfinite(t->box[d]) &&
					     t->box[d] > 0 &&
					     isfinite(t->tilt[d])))
			return err_set(err, "%s: frame %zu: box edge %c is %g "
				       "(tilt %g)", t->path, t->next + 1,
				       "xyz"[d], t->box[d], t->tilt[d]);
	return 0;
}

int traj_next(traj *t, traj_frame *fr, char *err)
{
	int r;
	if (intr_pending())
		return err_set(err, "%s: interrupted", t->path);
	if (t->pending) {
		t->pending = 0;
		fr->time = t->pending_time;
		r = 1;
	} else
		r = t->info.format == TRAJ_H5MD ? traj_next_h5md(t, fr, err)
		: t->info.format == TRAJ_LAMMPS ? traj_next_lammps(t, fr, err)
		: traj_next_synth(t, fr);
	if (r != 1)
		return r;
	if (traj_check_frame(t, fr, err) != 0)
		return -1;
	if (!(fr->time > t->last_time))
		return err_set(err, "%s: frame %zu: time %g s does not follow "
			       "%g s (time must increase)", t->path, t->next + 1,
			       fr->time, t->last_time);
	t->last_time = fr->time;
	fr->pos = t->pos;
	fr->index = t->next++;
	memcpy(fr->box, t->box, sizeof fr->box);
	memcpy(fr->tilt, t->tilt, sizeof fr->tilt);
	if (!t->info.has_box)
		fr->box[0] = fr->box[1] = fr->box[2] = NAN;
	return 1;
}

/* ---------------------------------------------------------------- */
/* writers (small trajectories)                                     */
/* ---------------------------------------------------------------- */

static double traj_wrap1(double x, double L, double *img)
{
	double i = floor(x / L);
	if (img)
		*img = i;
	return x - i * L;
}

/* every remaining frame of src into memory: positions, times, box */
static int traj_slurp(traj *src, double **pos, double **time, size_t *nf,
		      double box[3], char *err)
{
	size_t n3 = 3 * src->info.natoms, cap = 16, k = 0;
	traj_frame fr;
	int r;
	*pos = NULL;
	*time = NULL;
	while ((r = traj_next(src, &fr, err)) == 1) {
		if (fr.tilt[0] != 0 || fr.tilt[1] != 0 || fr.tilt[2] != 0)
			return err_set(err, "traj: frame %zu has a triclinic "
				       "box: the writers take orthogonal "
				       "boxes only", fr.index + 1);
		if (k == 0 || k == cap) {
			double *p, *tt;
			if (k == cap)
				cap *= 2;
			p = realloc(*pos, cap * (n3 ? n3 : 1) * sizeof *p);
			if (p)
				*pos = p;
			tt = realloc(*time, cap * sizeof *tt);
			if (tt)
				*time = tt;
			if (!p || !tt)
				return err_set(err, "traj: out of memory");
		}
		memcpy(*pos + k * n3, fr.pos, n3 * sizeof **pos);
		(*time)[k] = fr.time;
		if (k == 0)
			memcpy(box, fr.box, 3 * sizeof *box);
		k++;
	}
	*nf = k;
	return r;
}

static int traj_w_str(h5_writer *w, const char *obj, const char *name,
		      const char *s, char *err)
{
	h5_value v;
	memset(&v, 0, sizeof v);
	v.kind = H5_VSTR;
	v.s = (char *)s;
	return h5_write_attr(w, obj, name, &v, err);
}

static int traj_w_arr(h5_writer *w, const char *dset, arr_dtype dt,
		      int ndim, const size_t *shape, void *data, char *err)
{
	h5_value v;
	memset(&v, 0, sizeof v);
	v.kind = H5_VARR;
	arr_wrap(&v.a, dt, ndim, shape, data);
	return h5_write(w, dset, &v, NULL, err);
}

static int traj_h5md_body(h5_writer *w, traj *src, double *pos,
			  double *time, size_t nf, const double box[3],
			  int wrap, char *err)
{
	size_t n = src->info.natoms, k, sh[3] = {nf, n, 3};
	double edges[3];
	int d, r = 0;
	static const char *per[3] = {"periodic", "periodic", "periodic"};
	h5_value bv;
	for (k = 0; k < nf * n * 3; k++)
		pos[k] = (wrap ? traj_wrap1(pos[k], box[k % 3], NULL) : pos[k])
			/ 1e-9;
	for (k = 0; k < nf; k++)
		time[k] /= 1e-12;
	for (d = 0; d < 3; d++)
		edges[d] = box[d] / 1e-9;
	memset(&bv, 0, sizeof bv);
	bv.kind = H5_VSTRS;
	bv.strs = (char **)per;
	bv.nstrs = 3;
	r = traj_w_arr(w, "/particles/all/position/value", ARR_F64, 3, sh,
		       pos, err);
	if (r == 0)
		r = traj_w_str(w, "/particles/all/position/value", "unit",
			       "nm", err);
	if (r == 0)
		r = traj_w_arr(w, "/particles/all/position/time", ARR_F64, 1,
			       sh, time, err);
	if (r == 0)
		r = traj_w_str(w, "/particles/all/position/time", "unit",
			       "ps", err);
	if (r == 0)
		r = traj_w_arr(w, "/particles/all/box/edges", ARR_F64, 1,
			       sh + 2, edges, err);
	if (r == 0)
		r = h5_write_attr(w, "/particles/all/box", "boundary", &bv,
				  err);
	if (r == 0)
		r = traj_w_arr(w, "/particles/all/species", ARR_I32, 1, sh + 1,
			       src->types, err);
	if (r == 0) {
		double *step = malloc((nf ? nf : 1) * sizeof *step);
		if (step == NULL)
			return err_set(err, "traj: out of memory");
		for (k = 0; k < nf; k++)
			step[k] = (double)k;
		r = traj_w_arr(w, "/particles/all/position/step", ARR_F64, 1,
			       sh, step, err);
		free(step);
	}
	return r;
}

int traj_write_h5md(const char *path, traj *src, int wrap, char *err)
{
	double *pos = NULL, *time = NULL, box[3] = {NAN, NAN, NAN};
	size_t nf = 0;
	h5_writer *w = NULL;
	int r = traj_slurp(src, &pos, &time, &nf, box, err);
	if (r == 0 && nf == 0)
		r = err_set(err, "%s: no frames to write", path);
	if (r == 0 && wrap && !(box[0] > 0 && box[1] > 0 && box[2] > 0))
		r = err_set(err, "%s: cannot wrap without a box", path);
	if (r == 0)
		r = h5_create(&w, path, 1, err);
	if (r == 0)
		r = traj_h5md_body(w, src, pos, time, nf, box, wrap, err);
	if (r == 0) {
		r = h5_commit(w, err);
		w = NULL;
	}
	h5_abort(w);
	free(pos);
	free(time);
	return r;
}

static void traj_lmp_frame(FILE *f, traj *src, const traj_frame *fr,
			   traj_out how, double step_s)
{
	size_t k, n = src->info.natoms;
	int d;
	fprintf(f, "ITEM: TIMESTEP\n%lld\nITEM: NUMBER OF ATOMS\n%zu\n"
		"ITEM: BOX BOUNDS pp pp pp\n", llround(fr->time / step_s), n);
	for (d = 0; d < 3; d++)
		fprintf(f, "0 %.17g\n", fr->box[d] / 1e-10);
	fprintf(f, "ITEM: ATOMS id type %s\n",
		how == TRAJ_OUT_UNWRAPPED ? "xu yu zu"
		: how == TRAJ_OUT_WRAPPED ? "x y z" : "x y z ix iy iz");
	/* reverse id order checks that readers sort by id */
	for (k = n; k-- > 0;) {
		double x[3], img[3];
		for (d = 0; d < 3; d++)
			x[d] = how == TRAJ_OUT_UNWRAPPED ? fr->pos[3 * k + d]
				: traj_wrap1(fr->pos[3 * k + d], fr->box[d],
					     &img[d]);
		fprintf(f, "%zu %d %.17g %.17g %.17g", k + 1, src->types[k],
			x[0] / 1e-10, x[1] / 1e-10, x[2] / 1e-10);
		if (how == TRAJ_OUT_WRAPPED_IMAGES)
			fprintf(f, " %.0f %.0f %.0f", img[0], img[1], img[2]);
		fputc('\n', f);
	}
}

int traj_write_lammps(const char *path, traj *src, traj_out how,
		      double step_s, char *err)
{
	char tmp[4200];
	traj_frame fr;
	FILE *f;
	int r;
	if (!(step_s > 0))
		return err_set(err, "%s: the timestep length must be > 0",
			       path);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return err_set(err, "%s: cannot write", tmp);
	while ((r = traj_next(src, &fr, err)) == 1) {
		if (fr.tilt[0] != 0 || fr.tilt[1] != 0 || fr.tilt[2] != 0) {
			r = err_set(err, "%s: frame %zu has a triclinic box: "
				    "the writers take orthogonal boxes only",
				    path, fr.index + 1);
			break;
		}
		if (how != TRAJ_OUT_UNWRAPPED &&
		    !(fr.box[0] > 0 && fr.box[1] > 0 && fr.box[2] > 0)) {
			r = err_set(err, "%s: cannot wrap without a box", path);
			break;
		}
		traj_lmp_frame(f, src, &fr, how, step_s);
	}
	if (fclose(f) != 0 && r == 0)
		r = err_set(err, "%s: write failed", tmp);
	if (r == 0 && rename(tmp, path) != 0)
		r = err_set(err, "%s: cannot rename into place", path);
	if (r != 0)
		remove(tmp);
	return r;
}
