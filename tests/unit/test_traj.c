/* test_traj.c - trajectory input: H5MD and LAMMPS writers and readers
** round-trip a synthetic trajectory; wrapped == unwrapped; clear errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5.h"
#include "msd.h"
#include "tap.h"
#include "traj.h"

static char dir[64];

static traj_synth synth_spec(void)
{
	traj_synth s;
	memset(&s, 0, sizeof s);
	s.ncat = 6;
	s.nan = 5;
	s.nsolv = 4;
	s.nframes = 40;
	s.dt = 2e-12;
	s.box = 1.5e-9;		/* small: atoms cross the box often */
	s.d_cat = 2e-9;
	s.d_an = 3e-9;
	s.d_common = 1e-9;
	s.s_common = 1;
	s.d_solv = 4e-9;
	s.seed = 42;
	return s;
}

static char *tmp(const char *name)
{
	static char p[8][128];
	static int i;
	i = (i + 1) % 8;
	snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
	return p[i];
}

/* largest |difference| between a file's frames and the synthetic source */
static double max_diff(const char *path, const traj_opts *o, size_t *nf,
		       int *types_ok, char *err)
{
	traj_synth s = synth_spec();
	traj *a = NULL, *b = NULL;
	traj_frame fa, fb;
	double worst = -1;
	size_t k;
	*nf = 0;
	if (traj_open(&a, path, o, err) != 0 || traj_open_synth(&b, &s, err))
		goto out;
	*types_ok = traj_get_info(a)->natoms == traj_get_info(b)->natoms &&
		memcmp(traj_types(a), traj_types(b),
		       traj_get_info(a)->natoms * sizeof(int)) == 0;
	worst = 0;
	while (traj_next(a, &fa, err) == 1 && traj_next(b, &fb, err) == 1) {
		for (k = 0; k < 3 * traj_get_info(a)->natoms; k++)
			worst = fmax(worst, fabs(fa.pos[k] - fb.pos[k]));
		worst = fmax(worst, fabs(fa.time - fb.time) * 1e3);
		(*nf)++;
	}
out:
	traj_close(a);
	traj_close(b);
	return worst;
}

static int write_synth(const char *path, int h5md, int how, char *err)
{
	traj_synth s = synth_spec();
	traj *t;
	int r;
	if (traj_open_synth(&t, &s, err) != 0)
		return -1;
	r = h5md ? traj_write_h5md(path, t, how, err)
		: traj_write_lammps(path, t, (traj_out)how, 1e-15, err);
	traj_close(t);
	return r;
}

static void round_trips(void)
{
	static const char *names[3] = {"wrapped+images", "wrapped",
				       "unwrapped"};
	char err[ERR_LEN] = "";
	size_t nf;
	int how, tok = 0;
	double d;
	for (how = 0; how < 3; how++) {
		char *p = tmp(how == 0 ? "a.dump" : how == 1 ? "b.dump"
			      : "c.dump");
		ok(write_synth(p, 0, how, err) == 0, "write LAMMPS %s: %s",
		   names[how], err);
		d = max_diff(p, NULL, &nf, &tok, err);
		ok(d >= 0 && d < 1e-21 && nf == 40 && tok,
		   "LAMMPS %s == original unwrapped (max diff %g m, %zu "
		   "frames)", names[how], d, nf);
	}
	ok(write_synth(tmp("w.h5"), 1, 1, err) == 0, "write H5MD wrapped: %s",
	   err);
	d = max_diff(tmp("w.h5"), NULL, &nf, &tok, err);
	ok(d >= 0 && d < 1e-21 && nf == 40 && tok,
	   "H5MD wrapped == original unwrapped (max diff %g m)", d);
	ok(write_synth(tmp("u.h5"), 1, 0, err) == 0, "write H5MD unwrapped");
	d = max_diff(tmp("u.h5"), NULL, &nf, &tok, err);
	ok(d >= 0 && d < 1e-21 && nf == 40, "H5MD unwrapped == original");
}

/* D from H5MD and from LAMMPS of the same trajectory agree */
static void same_numbers(void)
{
	char err[ERR_LEN] = "";
	const char *paths[2] = {tmp("w.h5"), tmp("a.dump")};
	double dval[2][3];
	int f, g;
	for (f = 0; f < 2; f++) {
		traj *t = NULL;
		msd_res r;
		msd_opts o;
		int grp[15];
		size_t i;
		memset(&o, 0, sizeof o);
		if (traj_open(&t, paths[f], NULL, err) != 0) {
			ok(0, "open %s: %s", paths[f], err);
			return;
		}
		for (i = 0; i < 15; i++)
			grp[i] = traj_types(t)[i] - 1;
		o.ngroups = 3;
		o.group = grp;
		o.nblocks = 2;
		o.frame = MSD_BARY;
		ok(msd_run(t, &o, 0, NULL, &r, err) == 0, "msd_run %s: %s",
		   paths[f], err);
		for (g = 0; g < 3; g++)
			dval[f][g] = msd_slope(r.self + g * r.nlag, 1, 8, r.dt);
		msd_res_free(&r);
		traj_close(t);
	}
	for (g = 0; g < 3; g++)
		ok(fabs(dval[0][g] - dval[1][g]) <= 1e-9 * fabs(dval[0][g]),
		   "group %d: H5MD and LAMMPS slopes %.12g, %.12g", g + 1,
		   dval[0][g], dval[1][g]);
}

static void write_text(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	fputs(s, f);
	fclose(f);
}

/* open and read every frame: 0 if all is well, else -1 and err */
static int read_all(const char *path, const traj_opts *o, char *err)
{
	traj *t;
	traj_frame fr;
	int r;
	if (traj_open(&t, path, o, err) != 0)
		return -1;
	while ((r = traj_next(t, &fr, err)) == 1)
		;
	traj_close(t);
	return r;
}

static void expect_error(const char *path, const traj_opts *o,
			 const char *want, const char *name)
{
	char err[ERR_LEN] = "";
	int r = read_all(path, o, err);
	ok(r < 0 && strstr(err, want) != NULL, "%s: %s", name, err);
}

#define HEAD(step, n) "ITEM: TIMESTEP\n" #step "\nITEM: NUMBER OF ATOMS\n" \
	#n "\nITEM: BOX BOUNDS pp pp pp\n0 10\n0 10\n0 10\n"

#define ROWS2 "ITEM: ATOMS id type x y z\n"

/* F10: ids and types are integers in range (a type of 1.9 must not
** become 1), types do not change; F8: NaN or Inf positions are errors
** naming the frame and atom */
static void bad_lammps_fields(const char *p)
{
	static const struct { const char *rows, *want, *name; } c[] = {
		{"1 1.9 1 1 1\n2 2 2 2 2\n", "line 10: atom type '1.9'",
		 "fractional type"},
		{"1 1 1 1 1\n2.5 2 2 2 2\n", "line 11: atom id '2.5'",
		 "fractional id"},
		{"1 0 1 1 1\n2 2 2 2 2\n", "atom type '0'", "type 0"},
		{"1 1e0 1 1 1\n2 2 2 2 2\n", "atom type '1e0'",
		 "type with an exponent"},
		{"1 0x2 1 1 1\n2 2 2 2 2\n", "atom type '0x2'", "hex type"},
		{"1 3000000000 1 1 1\n2 2 2 2 2\n", "atom type '3000000000'",
		 "type beyond int"},
		{"99999999999999999999 1 1 1 1\n2 2 2 2 2\n",
		 "atom id '99999999999999999999'", "id beyond 2^63"},
		{"1 1 1 1 1\n-2 2 2 2 2\n", "atom id '-2'", "negative id"},
		{"1 1 nan 1 1\n2 2 2 2 2\n", "frame 1: atom id 1: x position "
		 "is not finite", "NaN position"},
		{"1 1 1 1 1\n2 2 2 2 -inf\n", "frame 1: atom id 2: z position "
		 "is not finite", "Inf position"},
	};
	char buf[1024];
	size_t k;
	for (k = 0; k < sizeof c / sizeof c[0]; k++) {
		snprintf(buf, sizeof buf, HEAD(0, 2) ROWS2 "%s", c[k].rows);
		write_text(p, buf);
		expect_error(p, NULL, c[k].want, c[k].name);
	}
	/* sparse ids: the atom is named by its id, not its slot */
	write_text(p, HEAD(0, 2) ROWS2 "7 1 1 1 1\n9 2 2 2 2\n"
		   HEAD(1, 2) ROWS2 "9 2 2 2 2\n7 1 1 inf 1\n");
	expect_error(p, NULL, "frame 2: atom id 7: y position is not finite",
		     "Inf in frame 2 names the atom id");
	write_text(p, HEAD(0, 2) ROWS2 "1 1 1 1 1\n2 2 2 2 2\n"
		   HEAD(1, 2) ROWS2 "2 1 2 2 2\n1 1 1 1 1\n");
	expect_error(p, NULL, "line 21: frame 2: atom id 2 has type 1, in "
		     "the first frame 2", "type changing between frames");
}

/* F9: a dump cut mid-frame is an error naming the cut, or with the
** truncated option the complete frames and a warning */
static void truncated_lammps(const char *p)
{
	static const char *cut[] = {
		"ITEM: TIMESTEP\n2\nITEM: NUMB",	/* in the header */
		"ITEM: TIMESTEP\n2\nITEM: NUMBER OF ATOMS\n2\n"
		"ITEM: BOX BOUNDS pp pp pp\n0 10\n0 10\n0 10\n" ROWS2
		"1 1 1 1 1\n",				/* a row missing */
		"ITEM: TIMESTEP\n2\nITEM: NUMBER OF ATOMS\n2\n"
		"ITEM: BOX BOUNDS pp pp pp\n0 10\n0 10\n0 10\n" ROWS2
		"1 1 1 1 1\n2 2 2 2 2.",		/* mid-number */
	};
	char buf[1024], err[ERR_LEN];
	const char *full = HEAD(0, 2) ROWS2 "1 1 1 1 1\n2 2 2 2 2\n"
		HEAD(1, 2) ROWS2 "1 1 1 1 1\n2 2 2 2 2\n";
	traj_opts o;
	size_t k;
	memset(&o, 0, sizeof o);
	o.truncated = 1;
	for (k = 0; k < 3; k++) {
		traj *t = NULL;
		traj_frame fr;
		int n = 0, r;
		snprintf(buf, sizeof buf, "%s%s", full, cut[k]);
		write_text(p, buf);
		expect_error(p, NULL, "inside frame 3", "cut mid-frame: error");
		if (traj_open(&t, p, &o, err) != 0) {
			ok(0, "truncated option opens: %s", err);
			continue;
		}
		while ((r = traj_next(t, &fr, err)) == 1)
			n++;
		ok(r == 0 && n == 2 && traj_get_info(t)->nframes == 2,
		   "truncated option: the 2 complete frames (%d)", n);
		ok(traj_warning(t) && strstr(traj_warning(t), "frames 1..2"),
		   "warning names the frames used: %s", traj_warning(t));
		traj_close(t);
	}
	snprintf(buf, sizeof buf, HEAD(0, 2) ROWS2 "1 1 1 1 1\n%s",
		 HEAD(1, 2) ROWS2 "1 1 1 1 1\n2 2 2 2 2\n");
	write_text(p, buf);
	expect_error(p, &o, "frame 1 (line 1) has 10 lines, expected 11",
		     "a short frame before the last is an error even so");
}

static void bad_lammps(void)
{
	char *p = tmp("bad.dump");
	write_text(p, HEAD(0, 2) "ITEM: ATOMS id type x y z\n1 1 1 1 1\n"
		   "2 2 2 2 2\n" HEAD(10, 3) "ITEM: ATOMS id type x y z\n"
		   "1 1 1 1 1\n2 2 2 2 2\n3 1 3 3 3\n");
	expect_error(p, NULL, "particle count must not change",
		     "changing atom count");
	write_text(p, HEAD(10, 1) "ITEM: ATOMS id type x y z\n1 1 1 1 1\n"
		   HEAD(5, 1) "ITEM: ATOMS id type x y z\n1 1 1 1 1\n");
	expect_error(p, NULL, "time must increase", "non-monotonic time");
	write_text(p, HEAD(0, 2) "ITEM: ATOMS id type x y z\n1 1 1 1 1\n"
		   "2 2 2 oops 2\n");
	expect_error(p, NULL, "line 11", "bad number names the line");
	write_text(p, HEAD(0, 2) "ITEM: ATOMS id type x y z\n1 1 1 1 1\n");
	expect_error(p, NULL, "end of file", "truncated frame");
	write_text(p, HEAD(0, 1) "ITEM: ATOMS id type vx vy vz\n1 1 1 1 1\n");
	expect_error(p, NULL, "no x y z", "no position columns");
	write_text(p, "hello\n");
	expect_error(p, NULL, "TIMESTEP", "not a dump");
	bad_lammps_fields(p);
	truncated_lammps(p);
	expect_error(tmp("missing.dump"), NULL, "missing.dump",
		     "missing file named");
}

/* F8, F10 in H5MD: a NaN position names the frame and particle; a
** fractional species is an error */
static void bad_h5md_values(const char *p)
{
	char err[ERR_LEN] = "";
	h5_writer *w;
	h5_value v;
	double pos[2 * 2 * 3] = {0, 0, 0, 1, 1, 1, NAN, 0, 0, 1.1, 1, 1};
	double tm[2] = {0, 1}, edges[3] = {5, 5, 5}, sp[2] = {1, 2};
	size_t sh[3] = {2, 2, 3};
	int k;
	for (k = 0; k < 2; k++) {
		memset(&v, 0, sizeof v);
		v.kind = H5_VARR;
		h5_create(&w, p, 1, err);
		arr_wrap(&v.a, ARR_F64, 3, sh, pos);
		h5_write(w, "/particles/all/position/value", &v, NULL, err);
		arr_wrap(&v.a, ARR_F64, 1, sh, tm);
		h5_write(w, "/particles/all/position/time", &v, NULL, err);
		arr_wrap(&v.a, ARR_F64, 1, sh + 2, edges);
		h5_write(w, "/particles/all/box/edges", &v, NULL, err);
		arr_wrap(&v.a, ARR_F64, 1, sh + 1, sp);
		h5_write(w, "/particles/all/species", &v, NULL, err);
		ok(h5_commit(w, err) == 0, "write H5MD %d", k);
		if (k == 0)
			expect_error(p, NULL, "frame 2: atom 1: x position is "
				     "not finite", "H5MD NaN position named");
		pos[6] = 0.1;
		sp[1] = 1.5;
	}
	expect_error(p, NULL, "species of particle 2 is 1.5",
		     "H5MD fractional species");
}

/* an H5MD file without a box: an error unless declared unwrapped */
static void bad_h5md(void)
{
	char err[ERR_LEN] = "";
	h5_writer *w;
	h5_value v;
	double pos[2 * 2 * 3] = {0, 0, 0, 1, 1, 1, 0.1, 0, 0, 1.1, 1, 1};
	double tm[2] = {0, 1};
	size_t sh[3] = {2, 2, 3};
	traj_opts o;
	char *p = tmp("nobox.h5");
	memset(&v, 0, sizeof v);
	v.kind = H5_VARR;
	h5_create(&w, p, 1, err);
	arr_wrap(&v.a, ARR_F64, 3, sh, pos);
	h5_write(w, "/particles/all/position/value", &v, NULL, err);
	arr_wrap(&v.a, ARR_F64, 1, sh, tm);
	h5_write(w, "/particles/all/position/time", &v, NULL, err);
	ok(h5_commit(w, err) == 0, "write box-less H5MD");
	expect_error(p, NULL, "no box", "missing box");
	memset(&o, 0, sizeof o);
	o.unwrapped = 1;
	ok(read_all(p, &o, err) == 0, "declared unwrapped: no box needed");
	tm[1] = 0;
	h5_create(&w, p, 1, err);
	arr_wrap(&v.a, ARR_F64, 3, sh, pos);
	h5_write(w, "/particles/all/position/value", &v, NULL, err);
	arr_wrap(&v.a, ARR_F64, 1, sh, tm);
	h5_write(w, "/particles/all/position/time", &v, NULL, err);
	h5_commit(w, err);
	expect_error(p, &o, "time must increase", "H5MD non-monotonic time");
	expect_error(tmp("u.h5"), &(traj_opts){.group = "nope"}, "nope",
		     "missing particles group named");
	bad_h5md_values(p);
	ok(h5_open_ids() == 0, "no HDF5 identifiers leak");
}

int main(void)
{
	char cmd[160];
	snprintf(dir, sizeof dir, "/tmp/test_traj.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	round_trips();
	same_numbers();
	bad_lammps();
	bad_h5md();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return tap_done();
}
