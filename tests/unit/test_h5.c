/*
** test_h5.c - the HDF5 core: round trips of every dtype, hyperslabs,
** conversions of other HDF5 types, frame streaming, the atomic writer and
** the error paths, with no HDF5 identifier left open.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "array.h"
#include "h5.h"
#include "intr.h"
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

static int file_exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

/* number of files in dir whose name contains ".tmp-" */
static int count_tmp(void)
{
	char cmd[300];
	FILE *p;
	int n = -1;
	snprintf(cmd, sizeof cmd, "ls -a %s | grep -c '\\.tmp-'", dir);
	p = popen(cmd, "r");
	if (p != NULL) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

/* value k of a test array as dtype dt would hold it */
static double pattern(arr_dtype dt, size_t k)
{
	switch (dt) {
	case ARR_F64: return 0.5 + (double)k * 1e-3 - 7.0;
	case ARR_F32: return 0.25 * (double)k - 3.0;
	case ARR_I32: return (double)k * 1000.0 - 200000.0;
	case ARR_U16: return (double)((k * 977) % 65536);
	case ARR_U32: return 4000000000.0 - (double)k;
	default: return (double)(k % 256);
	}
}

static void fill_pattern(arr *a)
{
	size_t k, n = arr_size(a), idx[ARR_MAXDIM];
	char err[ERR_LEN] = "";
	for (k = 0; k < n; k++) {
		size_t r = k;
		int d;
		for (d = a->ndim - 1; d >= 0; d--) {
			idx[d] = r % a->shape[d];
			r /= a->shape[d];
		}
		arr_set(a, idx, pattern(a->dtype, k), err);
	}
}

static void test_roundtrip(void)
{
	size_t shape[3] = {3, 4, 5};
	char err[ERR_LEN] = "", name[32];
	h5_writer *w;
	h5_file *f;
	h5_wopts o;
	int dt;
	memset(&o, 0, sizeof o);
	ok(h5_create(&w, tpath("rt.h5"), 0, err) == 0, "create: %s", err);
	ok(!file_exists(tpath("rt.h5")), "target absent before commit");
	ok(count_tmp() == 1, "one temporary file while writing");
	for (dt = 0; dt < ARR_NTYPES; dt++) {
		h5_value v;
		memset(&v, 0, sizeof v);
		v.kind = H5_VARR;
		arr_alloc(&v.a, (arr_dtype)dt, 3, shape, err);
		fill_pattern(&v.a);
		o.compress = dt % 2 ? 4 : 0;
		o.shuffle = 1;
		snprintf(name, sizeof name, "/a/b/%s", arr_dtype_name(dt));
		ok(h5_write(w, name, &v, &o, err) == 0, "write %s: %s", name,
		   err);
		arr_release(&v.a);
	}
	{
		h5_value v;
		char *strs[] = {"q", "phi", "ü"};
		memset(&v, 0, sizeof v);
		v.kind = H5_VINT; v.i = -1234567890123LL;
		ok(h5_write(w, "/s/int", &v, NULL, err) == 0, "write int");
		v.kind = H5_VNUM; v.d = 8.25e-9;
		ok(h5_write(w, "/s/num", &v, NULL, err) == 0, "write num");
		ok(h5_write_attr(w, "/s/num", "units", &(h5_value){.kind = H5_VSTR,
		   .s = "m"}, err) == 0, "write attr: %s", err);
		ok(h5_write_attr(w, "/new/grp", "n", &v, err) == 0,
		   "attr on a missing object makes a group");
		v.kind = H5_VSTR; v.s = "hello";
		ok(h5_write(w, "/s/str", &v, NULL, err) == 0, "write str");
		v.kind = H5_VSTRS; v.strs = strs; v.nstrs = 3; v.s = NULL;
		ok(h5_write(w, "/s/strs", &v, NULL, err) == 0, "write strs");
		ok(h5_write(w, "/s/strs", &v, NULL, err) != 0 &&
		   strstr(err, "already written") != NULL, "no second write: %s",
		   err);
		ok(h5_group(w, "/s/str", err) != 0 && strstr(err, "not a group"),
		   "group over a dataset refused: %s", err);
	}
	ok(h5_commit(w, err) == 0, "commit: %s", err);
	ok(file_exists(tpath("rt.h5")), "target exists after commit");
	is_int(count_tmp(), 0, "no temporary file after commit");

	ok(h5_open(&f, tpath("rt.h5"), err) == 0, "open: %s", err);
	for (dt = 0; dt < ARR_NTYPES; dt++) {
		arr a, want;
		size_t k, bad = 0;
		h5_info info;
		snprintf(name, sizeof name, "/a/b/%s", arr_dtype_name(dt));
		ok(h5_read(f, name, NULL, &a, err) == 0, "read %s", name);
		ok(a.dtype == (arr_dtype)dt && a.ndim == 3 && a.shape[0] == 3 &&
		   a.shape[2] == 5, "%s dtype and shape kept", name);
		arr_alloc(&want, (arr_dtype)dt, 3, shape, err);
		fill_pattern(&want);
		for (k = 0; k < 60; k++)
			bad += arr_get_flat(&a, k) != arr_get_flat(&want, k);
		is_int((long)bad, 0, "%s values round trip", name);
		h5_info_get(f, name, &info, err);
		ok(strcmp(info.dtype, arr_dtype_name(dt)) == 0 &&
		   info.read_as == (arr_dtype)dt, "%s info dtype %s", name,
		   info.dtype);
		if (dt % 2)
			ok(info.chunked && strstr(info.filters, "gzip"),
			   "%s compressed (%s)", name, info.filters);
		arr_release(&a);
		arr_release(&want);
	}
	{
		h5_value v;
		ok(h5_read_value(f, "/s/int", NULL, &v, err) == 0 &&
		   v.kind == H5_VINT && v.i == -1234567890123LL, "int exact");
		ok(h5_read_value(f, "/s/num", NULL, &v, err) == 0 &&
		   v.kind == H5_VNUM && v.d == 8.25e-9, "number exact");
		ok(h5_attr_read(f, "/s/num", "units", &v, err) == 0 &&
		   v.kind == H5_VSTR && strcmp(v.s, "m") == 0, "attr string");
		h5_value_free(&v);
		ok(h5_read_value(f, "s/str", NULL, &v, err) == 0 &&
		   v.kind == H5_VSTR && strcmp(v.s, "hello") == 0, "string");
		h5_value_free(&v);
		ok(h5_read_value(f, "/s/strs", NULL, &v, err) == 0 &&
		   v.kind == H5_VSTRS && v.nstrs == 3 &&
		   strcmp(v.strs[2], "ü") == 0, "list of strings");
		h5_value_free(&v);
		ok(h5_attr_read(f, "/s/num", "nope", &v, err) != 0 &&
		   strstr(err, "no attribute 'nope'"), "missing attr: %s", err);
	}
	h5_close(f);
}

static void test_hyperslab(void)
{
	size_t shape[3] = {7, 6, 5}, k;
	char err[ERR_LEN] = "";
	h5_writer *w;
	h5_file *f;
	h5_value v;
	h5_sel s;
	arr full, part;
	size_t bad = 0, i, j;
	memset(&v, 0, sizeof v);
	v.kind = H5_VARR;
	arr_alloc(&v.a, ARR_F64, 3, shape, err);
	for (k = 0; k < 210; k++)
		((double *)v.a.data)[k] = (double)k;
	h5_create(&w, tpath("hs.h5"), 0, err);
	h5_write(w, "x", &v, NULL, err);
	arr_release(&v.a);
	h5_commit(w, err);
	h5_open(&f, tpath("hs.h5"), err);
	memset(&s, 0, sizeof s);
	s.ndim = 2;
	s.first[0] = 1; s.count[0] = 3; s.step[0] = 2;	/* 1, 3, 5 */
	s.first[1] = 4; s.count[1] = H5_ALL; s.step[1] = 1;	/* 4, 5 */
	ok(h5_read(f, "/x", NULL, &full, err) == 0, "full read");
	ok(h5_read(f, "/x", &s, &part, err) == 0, "hyperslab read: %s", err);
	ok(part.ndim == 3 && part.shape[0] == 3 && part.shape[1] == 2 &&
	   part.shape[2] == 5, "hyperslab shape 3x2x5");
	for (i = 0; i < 3; i++)
		for (j = 0; j < 2; j++)
			for (k = 0; k < 5; k++) {
				size_t a[3] = {i, j, k};
				size_t b[3] = {1 + 2 * i, 4 + j, k};
				bad += arr_get(&part, a) != arr_get(&full, b);
			}
	is_int((long)bad, 0, "hyperslab equals the full read's elements");
	arr_release(&part);
	arr_release(&full);
	s.count[0] = 4;		/* 1, 3, 5, 7: past the end */
	ok(h5_read(f, "/x", &s, &part, err) != 0 && strstr(err, "run past"),
	   "out-of-range hyperslab: %s", err);
	s.ndim = 4;
	ok(h5_read(f, "/x", &s, &part, err) != 0 && strstr(err, "axes"),
	   "too many axes: %s", err);
	ok(h5_read(f, "/nope/x", NULL, &part, err) != 0 &&
	   strstr(err, "'/' has no 'nope'") && strstr(err, "hs.h5"),
	   "missing dataset names file and path: %s", err);
	ok(h5_read(f, "/", NULL, &part, err) != 0 && strstr(err, "group"),
	   "a group is not a dataset: %s", err);
	h5_close(f);
}

/* datasets of HDF5 types ionflow has no dtype for, made with the C API */
static void make_types(const char *path)
{
	hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	hsize_t n = 4;
	hid_t sp = H5Screate_simple(1, &n, NULL), d, e;
	int8_t i8[4] = {-128, -1, 0, 127};
	int16_t i16[4] = {-32768, -1, 0, 32767};
	int64_t i64[4] = {-(1LL << 53), -1, 0, 1LL << 53};
	int64_t big[4] = {0, 0, (1LL << 53) + 1, 0};
	uint64_t u64 = 18446744073709551615ULL;
	uint8_t bools[4] = {0, 1, 1, 0}, t = 1, fa = 0;
	struct { int a; double b; } cmp[4];
	hid_t ct;
	d = H5Dcreate2(f, "i8", H5T_STD_I8LE, sp, H5P_DEFAULT, H5P_DEFAULT,
		       H5P_DEFAULT);
	H5Dwrite(d, H5T_NATIVE_INT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, i8);
	H5Dclose(d);
	d = H5Dcreate2(f, "i16", H5T_STD_I16BE, sp, H5P_DEFAULT, H5P_DEFAULT,
		       H5P_DEFAULT);
	H5Dwrite(d, H5T_NATIVE_INT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, i16);
	H5Dclose(d);
	d = H5Dcreate2(f, "i64", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT,
		       H5P_DEFAULT);
	H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, i64);
	H5Dclose(d);
	d = H5Dcreate2(f, "big", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT,
		       H5P_DEFAULT);
	H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, big);
	H5Dclose(d);
	e = H5Tenum_create(H5T_NATIVE_INT8);
	H5Tenum_insert(e, "FALSE", &fa);
	H5Tenum_insert(e, "TRUE", &t);
	d = H5Dcreate2(f, "bool", e, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dwrite(d, e, H5S_ALL, H5S_ALL, H5P_DEFAULT, bools);
	H5Dclose(d);
	H5Tclose(e);
	ct = H5Tcreate(H5T_COMPOUND, sizeof cmp[0]);
	H5Tinsert(ct, "a", 0, H5T_NATIVE_INT);
	H5Tinsert(ct, "b", 8, H5T_NATIVE_DOUBLE);
	memset(cmp, 0, sizeof cmp);
	d = H5Dcreate2(f, "cmp", ct, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dwrite(d, ct, H5S_ALL, H5S_ALL, H5P_DEFAULT, cmp);
	H5Dclose(d);
	H5Tclose(ct);
	H5Sclose(sp);
	sp = H5Screate(H5S_SCALAR);
	d = H5Dcreate2(f, "u64", H5T_STD_U64LE, sp, H5P_DEFAULT, H5P_DEFAULT,
		       H5P_DEFAULT);
	H5Dwrite(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &u64);
	H5Dclose(d);
	H5Sclose(sp);
	H5Fclose(f);
}

static void test_types(void)
{
	char err[ERR_LEN] = "";
	h5_file *f;
	arr a;
	h5_value v;
	make_types(tpath("types.h5"));
	ok(h5_open(&f, tpath("types.h5"), err) == 0, "open types: %s", err);
	ok(h5_read(f, "i8", NULL, &a, err) == 0 && a.dtype == ARR_I32 &&
	   arr_get_flat(&a, 0) == -128 && arr_get_flat(&a, 3) == 127,
	   "i8 read as i32");
	arr_release(&a);
	ok(h5_read(f, "i16", NULL, &a, err) == 0 && a.dtype == ARR_I32 &&
	   arr_get_flat(&a, 0) == -32768 && arr_get_flat(&a, 1) == -1,
	   "big-endian i16 read as i32");
	arr_release(&a);
	ok(h5_read(f, "i64", NULL, &a, err) == 0 && a.dtype == ARR_F64 &&
	   arr_get_flat(&a, 0) == -9007199254740992.0 &&
	   arr_get_flat(&a, 3) == 9007199254740992.0, "i64 read as f64");
	arr_release(&a);
	ok(h5_read(f, "big", NULL, &a, err) != 0 && strstr(err, "2^53") &&
	   strstr(err, "element 2"), "i64 beyond 2^53 refused: %s", err);
	ok(h5_read(f, "bool", NULL, &a, err) == 0 && a.dtype == ARR_I32 &&
	   arr_get_flat(&a, 1) == 1 && arr_get_flat(&a, 3) == 0,
	   "enum (bool) read through its base: %s", err);
	arr_release(&a);
	ok(h5_read(f, "cmp", NULL, &a, err) != 0 && strstr(err, "compound"),
	   "compound refused: %s", err);
	ok(h5_read_value(f, "u64", NULL, &v, err) == 0 && v.kind == H5_VNUM &&
	   v.d == 18446744073709551615.0, "u64 scalar past int64 as number");
	h5_close(f);
}

/* a stack of nf frames (frame j pixel k = j*7 + k), chunked c0 frames */
static void make_stack(const char *path, size_t nf, size_t c0, int gz)
{
	size_t shape[3] = {nf, 6, 5}, k;
	char err[ERR_LEN] = "";
	h5_writer *w;
	h5_value v;
	h5_wopts o;
	memset(&v, 0, sizeof v);
	memset(&o, 0, sizeof o);
	v.kind = H5_VARR;
	arr_alloc(&v.a, ARR_U16, 3, shape, err);
	for (k = 0; k < nf * 30; k++)
		((uint16_t *)v.a.data)[k] = (uint16_t)((k / 30) * 7 + k % 30);
	o.compress = gz;
	o.nchunk = 3;
	o.chunk[0] = c0; o.chunk[1] = 6; o.chunk[2] = 5;
	h5_create(&w, path, 1, err);
	if (h5_write(w, "/entry/data/data", &v, &o, err) != 0)
		diag("%s", err);
	arr_release(&v.a);
	h5_commit(w, err);
}

/* stream and check every frame's values and index */
static void check_stream(h5_file *f, size_t first, size_t count,
			 size_t step, size_t block, size_t want_n,
			 const char *label)
{
	char err[ERR_LEN] = "";
	h5_frames *fr;
	arr fra;
	size_t idx, alloc, n = 0, bad = 0, k, expect = first;
	int r;
	if (h5_frames_open(&fr, f, "/entry/data/data", first, count, step,
			   block, err) != 0) {
		ok(0, "%s: open: %s", label, err);
		return;
	}
	while ((r = h5_frames_next(fr, &fra, &idx, &alloc, err)) == 1) {
		bad += idx != expect || fra.ndim != 2 || fra.shape[0] != 6;
		for (k = 0; k < 30; k++)
			bad += arr_get_flat(&fra, k) != (double)(idx * 7 + k);
		arr_release(&fra);
		expect += step;
		n++;
	}
	ok(r == 0, "%s: ends cleanly %s", label, r ? err : "");
	is_int((long)n, (long)want_n, "%s: frame count", label);
	is_int((long)bad, 0, "%s: every frame's values and index", label);
	h5_frames_close(fr);
}

static void test_frames(void)
{
	char err[ERR_LEN] = "";
	h5_file *f;
	h5_frames *fr;
	arr a, b;
	size_t idx, alloc;
	make_stack(tpath("stack.h5"), 103, 4, 0);
	make_stack(tpath("stackz.h5"), 103, 10, 6);
	h5_open(&f, tpath("stack.h5"), err);
	check_stream(f, 0, H5_ALL, 1, 0, 103, "all frames, default block");
	check_stream(f, 0, H5_ALL, 1, 9, 103, "block 9 on chunks of 4");
	check_stream(f, 5, 20, 3, 7, 20, "first 5 count 20 step 3");
	check_stream(f, 100, H5_ALL, 5, 2, 1, "last frames step 5");
	check_stream(f, 103, H5_ALL, 1, 0, 0, "first at the end: none");
	ok(h5_frames_open(&fr, f, "/entry/data/data", 5, 34, 3, 0, err) != 0 &&
	   strstr(err, "run past"), "frame range past the end: %s", err);
	ok(h5_frames_open(&fr, f, "/entry/data/data", 104, H5_ALL, 1, 0, err)
	   != 0 && strstr(err, "beyond"), "first beyond the end: %s", err);
	/* a frame kept across blocks stays valid: its block is not reused */
	h5_frames_open(&fr, f, "/entry/data/data", 0, H5_ALL, 1, 2, err);
	h5_frames_next(fr, &a, &idx, &alloc, err);
	ok(alloc > 0, "first block allocated");
	h5_frames_next(fr, &b, &idx, &alloc, err);
	arr_release(&b);
	h5_frames_next(fr, &b, &idx, &alloc, err);
	ok(alloc > 0 && arr_get_flat(&a, 3) == 3.0,
	   "held frame keeps its block; a new block is made");
	arr_release(&a);
	arr_release(&b);
	h5_frames_next(fr, &b, &idx, &alloc, err);
	arr_release(&b);
	h5_frames_next(fr, &b, &idx, &alloc, err);
	ok(alloc == 0 && idx == 4 && arr_get_flat(&b, 1) == 29.0,
	   "unreferenced block buffer reused");
	arr_release(&b);
	intr_raise();
	h5_frames_next(fr, &b, &idx, &alloc, err);	/* frame 5: no read */
	arr_release(&b);
	ok(h5_frames_next(fr, &b, &idx, &alloc, err) == -1 &&
	   strstr(err, "interrupted"), "Ctrl-C stops the stream: %s", err);
	intr_clear();
	arr_release(&b);
	h5_frames_close(fr);
	h5_close(f);
	h5_open(&f, tpath("stackz.h5"), err);
	check_stream(f, 0, H5_ALL, 1, 0, 103, "gzip, chunks of 10");
	check_stream(f, 3, 30, 2, 8, 30, "gzip, block 8, step 2");
	h5_close(f);
	h5_open(&f, tpath("hs.h5"), err);
	ok(h5_frames_open(&fr, f, "/x", 0, H5_ALL, 1, 0, err) == 0,
	   "a 3-D f64 dataset streams");
	h5_frames_close(fr);
	h5_close(f);
	h5_open(&f, tpath("rt.h5"), err);
	ok(h5_frames_open(&fr, f, "/s/strs", 0, H5_ALL, 1, 0, err) != 0 &&
	   strstr(err, "numbers"), "strings do not stream: %s", err);
	ok(h5_frames_open(&fr, f, "/s/int", 0, H5_ALL, 1, 0, err) != 0 &&
	   strstr(err, "rank"), "a scalar does not stream: %s", err);
	h5_close(f);
}

static void test_errors(void)
{
	char err[ERR_LEN] = "";
	h5_file *f;
	h5_writer *w;
	FILE *fp;
	char buf[4096];
	size_t n;
	ok(h5_open(&f, tpath("missing.h5"), err) != 0 &&
	   strstr(err, "missing.h5") && strstr(err, "No such file"),
	   "missing file: %s", err);
	fp = fopen(tpath("text.h5"), "w");
	fputs("not hdf5 at all\n", fp);
	fclose(fp);
	ok(h5_open(&f, tpath("text.h5"), err) != 0 &&
	   strstr(err, "not an HDF5 file"), "not HDF5: %s", err);
	/* the first 4 KiB of a real file */
	fp = fopen(tpath("stack.h5"), "rb");
	n = fread(buf, 1, sizeof buf, fp);
	fclose(fp);
	fp = fopen(tpath("trunc.h5"), "wb");
	fwrite(buf, 1, n, fp);
	fclose(fp);
	ok(h5_open(&f, tpath("trunc.h5"), err) != 0 &&
	   strstr(err, "trunc.h5") && strstr(err, "HDF5:"),
	   "truncated file: %s", err);
	ok(h5_create(&w, tpath("stack.h5"), 0, err) != 0 &&
	   strstr(err, "exists"), "no overwrite by default: %s", err);
	h5_open(&f, tpath("stack.h5"), err);
	ok(h5_create(&w, tpath("stack.h5"), 1, err) != 0 &&
	   strstr(err, "open for reading"), "open file never replaced: %s",
	   err);
	ok(h5_create(&w, tpath("nodir/x.h5"), 0, err) != 0 &&
	   strstr(err, "temporary"), "missing directory: %s", err);
	h5_close(f);
	/* a failed write leaves the target unchanged; abort removes tmp */
	ok(h5_create(&w, tpath("stack.h5"), 1, err) == 0, "overwrite allowed");
	ok(h5_write(w, "x", &(h5_value){.kind = H5_VNONE}, NULL, err) != 0,
	   "bad value refused: %s", err);
	h5_abort(w);
	is_int(count_tmp(), 0, "abort removes the temporary file");
	h5_open(&f, tpath("stack.h5"), err);
	ok(h5_exists(f, "/entry/data/data") && !h5_exists(f, "/entry/x"),
	   "target unchanged after an aborted overwrite");
	h5_close(f);
}

static void test_list(void)
{
	char err[ERR_LEN] = "";
	h5_file *f;
	h5_entry *e;
	size_t n, i;
	int found = 0;
	h5_open(&f, tpath("rt.h5"), err);
	ok(h5_list(f, "/", 1, &e, &n, err) == 0, "recursive list: %s", err);
	for (i = 0; i < n; i++)
		if (strcmp(e[i].path, "/a/b/u16") == 0 && e[i].depth == 2 &&
		    e[i].info.kind == H5_DATASET && e[i].info.ndim == 3 &&
		    e[i].info.shape[1] == 4)
			found = 1;
	ok(found, "list finds /a/b/u16 at depth 2 with its shape");
	ok(n == 15, "15 entries (got %zu)", n);
	h5_list_free(e, n);
	ok(h5_list(f, "/s/int", 0, &e, &n, err) != 0 && strstr(err,
	   "not a group"), "listing a dataset: %s", err);
	h5_close(f);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/test_h5.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	test_roundtrip();
	test_hyperslab();
	test_types();
	test_frames();
	test_errors();
	test_list();
	is_int(h5_open_ids(), 0, "no HDF5 identifier left open");
	diag("gzip %d, lz4 %d", h5_filter_avail(1),
	     h5_filter_avail(32004));
	{
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		if (system(cmd) != 0)
			diag("could not remove %s", dir);
	}
	return tap_done();
}
