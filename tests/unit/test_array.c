/*
** test_array.c - unit tests of the arr core (src/array.c).
**
** Every numeric result is checked against brute force: element positions
** recomputed from index arithmetic, arithmetic redone in double, sums
** and extrema recomputed by plain loops over multi-indices.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "intr.h"
#include "tap.h"

static char err[ERR_LEN];

static int has(const char *s, const char *sub)
{
	return strstr(s, sub) != NULL;
}

/* the value stored at a 3-d position, unique and exact in every dtype */
static double code3(size_t i, size_t j, size_t k)
{
	return (double)(i * 100 + j * 10 + k);
}

static void fill3(arr *a)
{
	size_t i, j, k, idx[3];
	for (i = 0; i < a->shape[0]; i++)
		for (j = 0; j < a->shape[1]; j++)
			for (k = 0; k < a->shape[2]; k++) {
				idx[0] = i; idx[1] = j; idx[2] = k;
				arr_set(a, idx, code3(i, j, k), err);
			}
}

/* a deterministic pseudo-random value in [lo, hi) */
static double rnd(unsigned *state, double lo, double hi)
{
	*state = *state * 1103515245u + 12345u;
	return lo + (hi - lo) * ((*state >> 8) & 0xffffff) / 16777216.0;
}

/* ------------------------------------------------------------------ */

static void test_dtypes(void)
{
	arr_dtype dt;
	const char *names[] = {"f64", "float64", "double", "f32", "float32",
		"float", "i32", "int32", "u16", "uint16", "u32", "uint32",
		"u8", "uint8"};
	arr_dtype want[] = {ARR_F64, ARR_F64, ARR_F64, ARR_F32, ARR_F32,
		ARR_F32, ARR_I32, ARR_I32, ARR_U16, ARR_U16, ARR_U32, ARR_U32,
		ARR_U8, ARR_U8};
	size_t i;
	int good = 1;
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (arr_dtype_parse(names[i], &dt, err) != 0 || dt != want[i])
			good = 0;
	ok(good, "dtype_parse knows every alias");
	ok(arr_dtype_parse("int64", &dt, err) == -1 && has(err, "int64") &&
	   has(err, "u16"), "unknown dtype names the name and the choices: %s",
	   err);
	ok(arr_dtype_parse(NULL, &dt, err) == -1, "NULL dtype name fails");
	is_int((long)arr_dtype_size(ARR_F64), 8, "f64 size");
	is_int((long)arr_dtype_size(ARR_F32), 4, "f32 size");
	is_int((long)arr_dtype_size(ARR_U16), 2, "u16 size");
	is_int((long)arr_dtype_size(ARR_U8), 1, "u8 size");
	is_int((long)arr_dtype_size(ARR_NTYPES), 0, "invalid dtype size 0");
	ok(strcmp(arr_dtype_name(ARR_U32), "u32") == 0, "u32 name");
	ok(arr_dtype_is_float(ARR_F32) && !arr_dtype_is_float(ARR_I32),
	   "is_float");
}

static void test_alloc(void)
{
	arr a;
	size_t sh[3] = {3, 4, 5}, big[2] = {SIZE_MAX / 2, 4}, zero[2] = {0, 7};
	size_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
	size_t k;
	int allzero = 1;
	char d[64];
	ok(arr_alloc(&a, ARR_U16, 3, sh, err) == 0, "alloc 3x4x5 u16");
	is_int((long)arr_size(&a), 60, "size 60");
	ok(((uintptr_t)a.data % 64) == 0, "data is 64-byte aligned");
	ok(a.strides[0] == 20 && a.strides[1] == 5 && a.strides[2] == 1,
	   "C strides in elements");
	for (k = 0; k < 60; k++)
		if (arr_get_flat(&a, k) != 0)
			allzero = 0;
	ok(allzero, "alloc zero-fills");
	ok(a.buf != NULL && a.buf->refs == 1 && a.buf->nbytes == 120,
	   "one reference, 120 bytes");
	arr_describe(&a, d, sizeof d);
	ok(strcmp(d, "3x4x5 u16") == 0, "describe: %s", d);
	ok(arr_is_contiguous(&a), "fresh array is contiguous");
	arr_release(&a);
	ok(a.data == NULL && a.buf == NULL, "release zeroes the arr");
	arr_release(&a);
	ok(1, "releasing twice is harmless");

	ok(arr_alloc(&a, ARR_F64, 2, big, err) == -1 && has(err, "too large"),
	   "overflowing shape refused: %s", err);
	ok(a.data == NULL, "failed alloc leaves a zeroed");
	ok(arr_alloc(&a, ARR_F64, 9, nine, err) == -1 && has(err, "9"),
	   "9 dimensions refused: %s", err);
	ok(arr_alloc(&a, ARR_F64, -1, nine, err) == -1, "-1 dimensions refused");
	ok(arr_alloc(&a, (arr_dtype)42, 1, sh, err) == -1 && has(err, "42"),
	   "invalid dtype code refused: %s", err);

	ok(arr_alloc(&a, ARR_F64, 2, zero, err) == 0 && arr_size(&a) == 0 &&
	   a.data != NULL, "empty 0x7 array has a data pointer");
	arr_describe(&a, d, sizeof d);
	ok(strcmp(d, "0x7 f64") == 0, "describe empty: %s", d);
	arr_release(&a);

	ok(arr_alloc(&a, ARR_F32, 0, NULL, err) == 0 && arr_size(&a) == 1,
	   "0-d array has one element");
	arr_describe(&a, d, sizeof d);
	ok(strcmp(d, "scalar f32") == 0, "describe 0-d: %s", d);
	ok(arr_set(&a, NULL, 2.5, err) == 0 && arr_get(&a, NULL) == 2.5,
	   "0-d set/get");
	arr_release(&a);
}

static void test_wrap(void)
{
	double mem[6] = {1, 2, 3, 4, 5, 6};
	size_t sh[2] = {2, 3}, idx[2] = {1, 2};
	arr a, v;
	arr_wrap(&a, ARR_F64, 2, sh, mem);
	ok(a.buf == NULL && arr_get(&a, idx) == 6, "wrap borrows memory");
	ok(arr_take(&v, &a, 0, 1, err) == 0 && v.buf == NULL &&
	   arr_get_flat(&v, 0) == 4, "a view of a wrapped array borrows too");
	arr_release(&v);
	arr_release(&a);
	ok(mem[5] == 6, "release of a wrapped array leaves the memory");
}

static void test_views(void)
{
	size_t sh[3] = {4, 5, 6}, idx[3] = {2, 3, 4}, idx2[2] = {3, 4};
	arr a, s, t, r, r2;
	double *p;
	ok(arr_alloc(&a, ARR_F64, 3, sh, err) == 0, "alloc 4x5x6");
	fill3(&a);
	ok(arr_take(&t, &a, 0, 2, err) == 0, "take frame 2");
	ok(t.ndim == 2 && t.shape[0] == 5 && t.shape[1] == 6, "frame is 5x6");
	ok(t.buf == a.buf && a.buf->refs == 2, "frame shares the buffer");
	ok(arr_get(&t, idx2) == code3(2, 3, 4), "frame element");
	ok(arr_set(&t, idx2, -7, err) == 0 && arr_get(&a, idx) == -7,
	   "write through the view reaches the parent");
	ok(arr_slice(&s, &a, 2, 1, 6, 2, err) == 0 && s.shape[2] == 3,
	   "slice 1:6:2 on axis 2 has 3 elements");
	ok(!arr_is_contiguous(&s), "stepped slice is not contiguous");
	arr_release(&a);
	ok(t.buf->refs == 2, "parent released, two views remain");
	ok(arr_get(&t, idx2) == -7, "view survives release of the parent");
	p = (double *)t.data;
	ok(p[0] == code3(2, 0, 0), "frame data still readable");
	ok(arr_reshape(&r, &t, 1, (size_t[]){30}, err) == 0 &&
	   arr_get_flat(&r, 29) == code3(2, 4, 5), "reshape frame to 30");
	ok(arr_reshape(&r2, &s, 2, (size_t[]){4, 15}, err) == -1 &&
	   has(err, "contiguous"), "reshape of a stepped view fails: %s", err);
	ok(arr_reshape(&r2, &t, 2, (size_t[]){4, 8}, err) == -1 &&
	   has(err, "30") && has(err, "32"),
	   "reshape to another count names both: %s", err);
	ok(arr_reshape(&r2, &t, 2, (size_t[]){3, 10}, err) == 0 &&
	   r2.strides[0] == 10, "reshape 5x6 to 3x10");
	arr_release(&r2);
	/* reshape in place keeps one reference */
	ok(arr_reshape(&r, &r, 2, (size_t[]){6, 5}, err) == 0 &&
	   r.buf->refs == 3, "in-place reshape does not add a reference");
	arr_release(&r);
	arr_release(&s);
	ok(t.buf->refs == 1, "references counted down");
	arr_release(&t);

	ok(arr_alloc(&a, ARR_F64, 3, sh, err) == 0, "alloc again");
	ok(arr_take(&t, &a, 3, 0, err) == -1 && has(err, "axis 3"),
	   "take on a missing axis: %s", err);
	ok(arr_take(&t, &a, 1, 5, err) == -1 && has(err, "index 5") &&
	   has(err, "length 5"), "take out of range: %s", err);
	ok(arr_slice(&t, &a, -1, 0, 1, 1, err) == -1 && has(err, "axis -1"),
	   "slice on axis -1: %s", err);
	ok(arr_slice(&t, &a, 0, 0, 5, 1, err) == -1 && has(err, "0:5") &&
	   has(err, "length 4"), "slice past the end: %s", err);
	ok(arr_slice(&t, &a, 0, 3, 2, 1, err) == -1, "slice start > stop");
	ok(arr_slice(&t, &a, 0, 0, 2, 0, err) == -1 && has(err, "step"),
	   "slice step 0: %s", err);
	ok(arr_slice(&t, &a, 1, 5, 5, 1, err) == 0 && t.shape[1] == 0 &&
	   arr_size(&t) == 0, "empty slice at the end");
	arr_release(&t);
	ok(arr_slice(&t, &a, 1, 2, 5, (size_t)1 << 60, err) == 0 &&
	   t.shape[1] == 1, "huge step gives one element");
	arr_release(&t);
	ok(arr_slice(&t, &a, 1, 2, 5, SIZE_MAX, err) == 0 &&
	   t.shape[1] == 1 && arr_get_flat(&t, 0) == 0,
	   "step SIZE_MAX gives one element");
	arr_release(&t);
	ok(arr_take(&t, &a, 0, 0, err) == 0 && arr_take(&t, &t, 0, 0, err) == 0
	   && arr_take(&t, &t, 0, 0, err) == 0 && t.ndim == 0 &&
	   a.buf->refs == 2, "take down to a 0-d view in place");
	ok(arr_take(&r, &t, 0, 0, err) == -1, "take on a 0-d array fails");
	arr_release(&t);
	arr_release(&a);
}

/* every element of the view v must equal the parent's value at the
** position computed from (start, step) per axis */
static int check_slice3(const arr *v, const size_t *start, const size_t *step)
{
	size_t i, j, k, idx[3];
	for (i = 0; i < v->shape[0]; i++)
		for (j = 0; j < v->shape[1]; j++)
			for (k = 0; k < v->shape[2]; k++) {
				idx[0] = i; idx[1] = j; idx[2] = k;
				if (arr_get(v, idx) != code3(start[0] + i * step[0],
				    start[1] + j * step[1], start[2] + k * step[2]))
					return 0;
			}
	return 1;
}

static void test_slice_brute(void)
{
	size_t sh[3] = {7, 8, 9};
	arr_dtype dts[3] = {ARR_F64, ARR_U16, ARR_F32};
	size_t cases[][3] = {{0, 7, 1}, {1, 7, 2}, {2, 8, 3}, {0, 1, 1},
		{3, 9, 4}, {5, 6, 7}, {0, 9, 9}, {4, 4, 1}};
	int di, axis, good;
	size_t c;
	for (di = 0; di < 3; di++) {
		arr a;
		arr_alloc(&a, dts[di], 3, sh, err);
		fill3(&a);
		for (axis = 0; axis < 3; axis++) {
			good = 1;
			for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
				size_t start[3] = {0, 0, 0}, step[3] = {1, 1, 1};
				size_t stop = cases[c][1], want;
				arr v;
				if (stop > sh[axis])
					continue;
				start[axis] = cases[c][0];
				step[axis] = cases[c][2];
				if (arr_slice(&v, &a, axis, start[axis], stop,
					      step[axis], err) < 0) {
					good = 0;
					continue;
				}
				want = (stop - start[axis] + step[axis] - 1) /
					step[axis];
				if (v.shape[axis] != want || !check_slice3(&v,
				    start, step))
					good = 0;
				arr_release(&v);
			}
			ok(good, "%s: slices with steps on axis %d match index "
			   "arithmetic", arr_dtype_name(dts[di]), axis);
		}
		/* slices on all three axes at once, then a frame of that */
		{
			size_t start[3] = {1, 2, 0}, step[3] = {2, 3, 4};
			arr v1, v2, v3, f;
			size_t idx[2], i, j;
			arr_slice(&v1, &a, 0, 1, 7, 2, err);
			arr_slice(&v2, &v1, 1, 2, 8, 3, err);
			arr_slice(&v3, &v2, 2, 0, 9, 4, err);
			ok(v3.shape[0] == 3 && v3.shape[1] == 2 &&
			   v3.shape[2] == 3 && check_slice3(&v3, start, step),
			   "%s: slice of slice of slice", arr_dtype_name(dts[di]));
			arr_take(&f, &v3, 1, 1, err);
			good = f.ndim == 2;
			for (i = 0; i < 3; i++)
				for (j = 0; j < 3; j++) {
					idx[0] = i; idx[1] = j;
					if (arr_get(&f, idx) != code3(1 + 2 * i,
					    5, 4 * j))
						good = 0;
				}
			ok(good, "%s: take on the middle axis of a strided view",
			   arr_dtype_name(dts[di]));
			good = 1;
			for (i = 0; i < 9; i++) {
				size_t ii = i / 3, jj = i % 3;
				if (arr_get_flat(&f, i) != code3(1 + 2 * ii, 5,
				    4 * jj))
					good = 0;
			}
			ok(good, "get_flat walks a strided view in C order");
			arr_release(&f);
			arr_release(&v1);
			arr_release(&v2);
			arr_release(&v3);
		}
		arr_release(&a);
	}
}

/* ------------------------------------------------------------------ */
/* elementwise operations against a double reference */

static double ref_binop(arr_op op, double x, double y)
{
	switch (op) {
	case ARR_ADD: return x + y;
	case ARR_SUB: return x - y;
	case ARR_MUL: return x * y;
	case ARR_DIV: return x / y;
	case ARR_POW: return pow(x, y);
	case ARR_FMIN: return isnan(x) || isnan(y) ? NAN : x < y ? x : y;
	case ARR_FMAX: return isnan(x) || isnan(y) ? NAN : x > y ? x : y;
	}
	return NAN;
}

static double ref_unop(arr_unop op, double x)
{
	switch (op) {
	case ARR_NEG: return -x;
	case ARR_ABS: return fabs(x);
	case ARR_SQRT: return sqrt(x);
	case ARR_EXP: return exp(x);
	case ARR_LOG: return log(x);
	case ARR_SIN: return sin(x);
	case ARR_COS: return cos(x);
	case ARR_FLOOR: return floor(x);
	case ARR_CEIL: return ceil(x);
	}
	return NAN;
}

/* got equals want in f64 (to 1e-15 relative, for pow), or is exactly
** the f32 rounding of want */
static int same_val(double got, double want, arr_dtype dt)
{
	if (isnan(want))
		return isnan(got);
	if (dt == ARR_F32)	/* correctly rounded from the double result */
		return got == (double)(float)want;
	return got == want || fabs(got - want) <= 1e-15 * fabs(want);
}

/* a 6x10 array of dtype dt with values in [1, 50), and (when strided) the
** 6x5 view of its odd columns, else a contiguous 6x5 array */
static void make_operand(arr *base, arr *v, arr_dtype dt, int strided,
			 unsigned seed)
{
	size_t sh[2] = {6, 10}, sh2[2] = {6, 5}, k;
	unsigned st = seed;
	if (strided) {
		arr_alloc(base, dt, 2, sh, err);
		for (k = 0; k < 60; k++)
			arr_set(base, (size_t[]){k / 10, k % 10},
				floor(rnd(&st, 1, 50)) +
				(arr_dtype_is_float(dt) ? 0.25 : 0), err);
		arr_slice(v, base, 1, 1, 10, 2, err);
	} else {
		arr_alloc(base, dt, 2, sh2, err);
		for (k = 0; k < 30; k++)
			arr_set(base, (size_t[]){k / 5, k % 5},
				floor(rnd(&st, 1, 50)) +
				(arr_dtype_is_float(dt) ? 0.25 : 0), err);
		arr_retain(v, base);
	}
}

static void test_elementwise(void)
{
	arr_dtype dts[6] = {ARR_F64, ARR_F32, ARR_I32, ARR_U16, ARR_U32, ARR_U8};
	int da, db, sa, sb, op;
	for (da = 0; da < 6; da++)
		for (sa = 0; sa < 2; sa++) {
			int good_bin = 1, good_sc = 1, good_un = 1, good_dt = 1;
			arr ba, a;
			make_operand(&ba, &a, dts[da], sa, 17u + (unsigned)da);
			for (db = 0; db < 6; db++)
				for (sb = 0; sb < 2; sb++) {
					arr bb, b;
					make_operand(&bb, &b, dts[db], sb,
						     91u + (unsigned)db);
					for (op = ARR_ADD; op <= ARR_FMAX; op++) {
						arr o;
						size_t k;
						arr_dtype want = dts[da] == ARR_F32
							&& dts[db] == ARR_F32
							? ARR_F32 : ARR_F64;
						if (arr_binop(&o, &a, &b, op,
							      err) < 0) {
							good_bin = 0;
							continue;
						}
						if (o.dtype != want ||
						    !arr_is_contiguous(&o))
							good_dt = 0;
						for (k = 0; k < 30; k++) {
							double x = arr_get_flat(&a, k),
							       y = arr_get_flat(&b, k);
							if (!same_val(arr_get_flat(&o, k),
							    ref_binop(op, x, y), o.dtype))
								good_bin = 0;
						}
						arr_release(&o);
					}
					arr_release(&b);
					arr_release(&bb);
				}
			for (op = ARR_ADD; op <= ARR_FMAX; op++) {
				int left;
				for (left = 0; left < 2; left++) {
					arr o;
					size_t k;
					double s = 3.5;
					if (arr_scalop(&o, &a, s, op, left, err) < 0) {
						good_sc = 0;
						continue;
					}
					if (o.dtype != (dts[da] == ARR_F32 ?
					    ARR_F32 : ARR_F64))
						good_dt = 0;
					for (k = 0; k < 30; k++) {
						double x = arr_get_flat(&a, k);
						double w = left ? ref_binop(op, s, x)
							: ref_binop(op, x, s);
						if (!same_val(arr_get_flat(&o, k), w,
							      o.dtype))
							good_sc = 0;
					}
					arr_release(&o);
				}
			}
			for (op = ARR_NEG; op <= ARR_CEIL; op++) {
				arr o;
				size_t k;
				if (arr_unary(&o, &a, op, err) < 0) {
					good_un = 0;
					continue;
				}
				if (o.dtype != (dts[da] == ARR_F32 ? ARR_F32 :
				    ARR_F64))
					good_dt = 0;
				for (k = 0; k < 30; k++)
					if (!same_val(arr_get_flat(&o, k),
					    ref_unop(op, arr_get_flat(&a, k)),
					    o.dtype))
						good_un = 0;
				arr_release(&o);
			}
			ok(good_bin, "binop %s %s with every dtype matches the "
			   "double reference", arr_dtype_name(dts[da]),
			   sa ? "strided" : "contiguous");
			ok(good_sc, "scalop %s %s (both sides) matches",
			   arr_dtype_name(dts[da]), sa ? "strided" : "contiguous");
			ok(good_un, "unary %s %s matches", arr_dtype_name(dts[da]),
			   sa ? "strided" : "contiguous");
			ok(good_dt, "result dtypes for %s follow the f32/f64 rule",
			   arr_dtype_name(dts[da]));
			arr_release(&a);
			arr_release(&ba);
		}
}

/* pow separately: its values grow fast, so compare relative */
static void test_pow(void)
{
	size_t n = 5;
	arr a, b, o;
	double xa[5] = {2, 3, 0.5, 10, 1.5}, xb[5] = {3, 0.5, -2, 2, 10};
	size_t k;
	int good = 1;
	arr_alloc(&a, ARR_F64, 1, &n, err);
	arr_alloc(&b, ARR_F32, 1, &n, err);
	for (k = 0; k < 5; k++) {
		arr_set(&a, &k, xa[k], err);
		arr_set(&b, &k, xb[k], err);
	}
	ok(arr_binop(&o, &a, &b, ARR_POW, err) == 0 && o.dtype == ARR_F64,
	   "pow f64 ^ f32 gives f64");
	for (k = 0; k < 5; k++)
		if (fabs(arr_get_flat(&o, k) - pow(xa[k], xb[k])) >
		    1e-14 * pow(xa[k], xb[k]))
			good = 0;
	ok(good, "pow values");
	arr_release(&o);
	ok(arr_scalop(&o, &a, 2, ARR_POW, 0, err) == 0 &&
	   arr_get_flat(&o, 3) == 100 && arr_get_flat(&o, 4) == 2.25,
	   "a ^ 2");
	arr_release(&o);
	ok(arr_scalop(&o, &a, 2, ARR_POW, 1, err) == 0 &&
	   arr_get_flat(&o, 0) == 4 && arr_get_flat(&o, 3) == 1024, "2 ^ a");
	arr_release(&o);
	arr_release(&a);
	arr_release(&b);
}

static void test_elementwise_errors(void)
{
	size_t s1[2] = {3, 4}, s2[2] = {4, 3}, n = 3;
	arr a, b, o, c, d;
	arr_alloc(&a, ARR_F64, 2, s1, err);
	arr_alloc(&b, ARR_F32, 2, s2, err);
	ok(arr_binop(&o, &a, &b, ARR_ADD, err) == -1 && has(err, "3x4 f64") &&
	   has(err, "4x3 f32") && has(err, "add"),
	   "binop of different shapes names both: %s", err);
	ok(o.data == NULL || 1, "no output on failure");
	ok(arr_binop(&o, &a, &a, (arr_op)99, err) == -1, "bad op code");
	ok(arr_unary(&o, &a, (arr_unop)99, err) == -1, "bad unary code");
	ok(arr_scalop(&o, &a, 1, (arr_op)-1, 0, err) == -1, "bad scalop code");
	/* NaN propagation in minimum/maximum */
	arr_alloc(&c, ARR_F64, 1, &n, err);
	arr_alloc(&d, ARR_F64, 1, &n, err);
	arr_set(&c, (size_t[]){0}, NAN, err);
	arr_set(&c, (size_t[]){1}, 1, err);
	arr_set(&c, (size_t[]){2}, 5, err);
	arr_set(&d, (size_t[]){0}, 1, err);
	arr_set(&d, (size_t[]){1}, NAN, err);
	arr_set(&d, (size_t[]){2}, 2, err);
	arr_binop(&o, &c, &d, ARR_FMIN, err);
	ok(isnan(arr_get_flat(&o, 0)) && isnan(arr_get_flat(&o, 1)) &&
	   arr_get_flat(&o, 2) == 2, "minimum propagates NaN from either side");
	arr_release(&o);
	arr_scalop(&o, &c, 0, ARR_FMAX, 0, err);
	ok(isnan(arr_get_flat(&o, 0)) && arr_get_flat(&o, 2) == 5,
	   "maximum with a scalar keeps NaN");
	arr_release(&o);
	/* empty operands */
	{
		size_t z[2] = {0, 3};
		arr e;
		arr_alloc(&e, ARR_U16, 2, z, err);
		ok(arr_binop(&o, &e, &e, ARR_MUL, err) == 0 &&
		   arr_size(&o) == 0 && o.shape[1] == 3,
		   "binop of empty arrays is empty");
		arr_release(&o);
		ok(arr_unary(&o, &e, ARR_SQRT, err) == 0 && arr_size(&o) == 0,
		   "unary of an empty array");
		arr_release(&o);
		arr_release(&e);
	}
	arr_release(&a);
	arr_release(&b);
	arr_release(&c);
	arr_release(&d);
}

/* ------------------------------------------------------------------ */
/* reductions */

static double brute_red(const arr *a, arr_red op, int axis, const size_t *oi)
{
	/* reduce a 3-d array along axis at the output position oi (2 indices),
	** or over everything when axis < 0 */
	size_t idx[3], i, j, k, n = 0;
	long double s = 0;
	double m = op == ARR_MIN ? INFINITY : -INFINITY;
	int nan = 0;
	for (i = 0; i < a->shape[0]; i++)
		for (j = 0; j < a->shape[1]; j++)
			for (k = 0; k < a->shape[2]; k++) {
				double v;
				idx[0] = i; idx[1] = j; idx[2] = k;
				if (axis >= 0) {
					size_t other[2], q = 0, d;
					for (d = 0; d < 3; d++)
						if ((int)d != axis)
							other[q++] = idx[d];
					if (other[0] != oi[0] || other[1] != oi[1])
						continue;
				}
				v = arr_get(a, idx);
				n++;
				s += v;
				if (isnan(v))
					nan = 1;
				else if (op == ARR_MIN ? v < m : v > m)
					m = v;
			}
	if (op == ARR_SUM)
		return (double)s;
	if (op == ARR_MEAN)
		return n ? (double)(s / n) : NAN;
	return nan ? NAN : m;
}

static void test_reduce_3d(const arr *a, const char *what)
{
	int op, axis;
	const char *names[] = {"sum", "mean", "min", "max"};
	for (op = ARR_SUM; op <= ARR_MAX; op++) {
		double r;
		ok(arr_reduce(a, op, &r, err) == 0 &&
		   is_num(r, brute_red(a, op, -1, NULL),
			  1e-12 * fabs(brute_red(a, op, -1, NULL)),
			  "%s: %s over all", what, names[op]),
		   "%s: %s over all succeeded", what, names[op]);
		for (axis = 0; axis < 3; axis++) {
			arr o;
			size_t i, j, oi[2];
			int good = 1;
			if (arr_reduce_axis(&o, a, axis, op, err) < 0) {
				ok(0, "%s: %s axis %d: %s", what, names[op],
				   axis, err);
				continue;
			}
			good = o.ndim == 2 && o.dtype == ARR_F64;
			for (i = 0; good && i < o.shape[0]; i++)
				for (j = 0; j < o.shape[1]; j++) {
					double w, g;
					oi[0] = i; oi[1] = j;
					w = brute_red(a, op, axis, oi);
					g = arr_get(&o, oi);
					if (!(isnan(w) ? isnan(g) :
					      fabs(g - w) <= 1e-12 * fabs(w)))
						good = 0;
				}
			ok(good, "%s: %s along axis %d", what, names[op], axis);
			arr_release(&o);
		}
	}
}

static void test_reductions(void)
{
	size_t sh[3] = {3, 5, 7}, big[3] = {4, 9, 11};
	arr a, b, v, rev;
	unsigned st = 5;
	size_t k;
	int d;
	arr_alloc(&a, ARR_F64, 3, sh, err);
	for (k = 0; k < 105; k++)
		((double *)a.data)[k] = rnd(&st, -10, 10);
	test_reduce_3d(&a, "f64 3x5x7");
	/* the same data in other dtypes */
	{
		arr c;
		arr_alloc(&c, ARR_U16, 3, sh, err);
		for (k = 0; k < 105; k++)
			((uint16_t *)c.data)[k] = (uint16_t)rnd(&st, 0, 60000);
		test_reduce_3d(&c, "u16 3x5x7");
		arr_release(&c);
		arr_alloc(&c, ARR_F32, 3, sh, err);
		for (k = 0; k < 105; k++)
			((float *)c.data)[k] = (float)rnd(&st, -1, 1);
		test_reduce_3d(&c, "f32 3x5x7");
		arr_release(&c);
	}
	/* a strided view of odd sizes */
	arr_alloc(&b, ARR_I32, 3, big, err);
	for (k = 0; k < 4 * 9 * 11; k++)
		((int32_t *)b.data)[k] = (int32_t)rnd(&st, -1000, 1000);
	arr_slice(&v, &b, 1, 1, 9, 3, err);
	arr_slice(&v, &v, 2, 0, 11, 2, err);
	test_reduce_3d(&v, "i32 strided 4x3x6");
	/* negative strides: the array reversed on every axis, by hand */
	rev = b;
	for (d = 0; d < 3; d++) {
		rev.data += (ptrdiff_t)(rev.shape[d] - 1) * rev.strides[d] * 4;
		rev.strides[d] = -rev.strides[d];
	}
	rev.buf = NULL;
	test_reduce_3d(&rev, "i32 reversed 4x9x11");
	arr_release(&v);
	arr_release(&b);
	arr_release(&a);

	/* NaN anywhere makes min, max, sum, mean NaN */
	{
		size_t n = 9, pos[3] = {0, 4, 8}, p;
		double r;
		for (p = 0; p < 3; p++) {
			int good = 1, op;
			arr c, o;
			arr_alloc(&c, ARR_F64, 1, &n, err);
			for (k = 0; k < n; k++)
				arr_set(&c, &k, (double)k, err);
			arr_set(&c, &pos[p], NAN, err);
			for (op = ARR_SUM; op <= ARR_MAX; op++)
				if (arr_reduce(&c, op, &r, err) < 0 || !isnan(r))
					good = 0;
			ok(good, "NaN at %zu propagates through every reduction",
			   pos[p]);
			arr_reshape(&c, &c, 2, (size_t[]){3, 3}, err);
			arr_reduce_axis(&o, &c, 0, ARR_MAX, err);
			ok(isnan(arr_get_flat(&o, pos[p] % 3)) &&
			   !isnan(arr_get_flat(&o, (pos[p] + 1) % 3)),
			   "NaN propagates along axis 0 only in its column");
			arr_release(&o);
			arr_reduce_axis(&o, &c, 1, ARR_MIN, err);
			ok(isnan(arr_get_flat(&o, pos[p] / 3)) &&
			   !isnan(arr_get_flat(&o, (pos[p] / 3 + 1) % 3)),
			   "NaN propagates along axis 1 only in its row");
			arr_release(&o);
			arr_release(&c);
		}
	}
	/* infinities */
	{
		double x[3] = {1, INFINITY, 2}, y[2] = {INFINITY, -INFINITY}, r;
		arr c;
		arr_wrap(&c, ARR_F64, 1, (size_t[]){3}, x);
		ok(arr_reduce(&c, ARR_SUM, &r, err) == 0 && r == INFINITY,
		   "sum with +inf is +inf, not NaN");
		ok(arr_reduce(&c, ARR_MAX, &r, err) == 0 && r == INFINITY,
		   "max with +inf");
		arr_wrap(&c, ARR_F64, 1, (size_t[]){2}, y);
		ok(arr_reduce(&c, ARR_SUM, &r, err) == 0 && isnan(r),
		   "inf + -inf is NaN");
	}
}

static void test_compensated(void)
{
	size_t n = 1000002, k, sh2[2] = {2, 1000002};
	arr a, b, o;
	double r, naive = 0;
	double *p;
	arr_alloc(&a, ARR_F64, 1, &n, err);
	p = (double *)a.data;
	p[0] = 1e16;
	for (k = 1; k < n - 1; k++)
		p[k] = 1;
	p[n - 1] = -1e16;
	for (k = 0; k < n; k++)
		naive += p[k];
	diag("naive double sum of 1e16, 10^6 ones, -1e16: %g", naive);
	r = 0;
	ok(arr_reduce(&a, ARR_SUM, &r, err) == 0 && r == 1e6,
	   "compensated sum is exact");
	diag("compensated: %.17g", r);
	ok(arr_reduce(&a, ARR_MEAN, &r, err) == 0 &&
	   r == 1e6 / (double)n, "compensated mean");
	/* along an axis: both lines of a 2 x n array, and column-wise */
	arr_alloc(&b, ARR_F64, 2, sh2, err);
	memcpy(b.data, a.data, n * sizeof(double));
	memcpy(b.data + n * sizeof(double), a.data, n * sizeof(double));
	ok(arr_reduce_axis(&o, &b, 1, ARR_SUM, err) == 0 &&
	   arr_get_flat(&o, 0) == 1e6 && arr_get_flat(&o, 1) == 1e6,
	   "compensated sum along the last axis");
	arr_release(&o);
	{
		arr t;
		/* n x 2 via a transposed view: exercises the slab path */
		t = b;
		t.shape[0] = b.shape[1];
		t.shape[1] = b.shape[0];
		t.strides[0] = b.strides[1];
		t.strides[1] = b.strides[0];
		ok(arr_reduce_axis(&o, &t, 0, ARR_SUM, err) == 0 &&
		   arr_get_flat(&o, 0) == 1e6 && arr_get_flat(&o, 1) == 1e6,
		   "compensated sum along axis 0 (slabs)");
		arr_release(&o);
	}
	arr_release(&b);
	/* 1e8 followed by many f32 ones: exact in double precision */
	{
		size_t m = 100001;
		arr f;
		float *q;
		arr_alloc(&f, ARR_F32, 1, &m, err);
		q = (float *)f.data;
		q[0] = 1e8f;
		for (k = 1; k < m; k++)
			q[k] = 1;
		ok(arr_reduce(&f, ARR_SUM, &r, err) == 0 && r == 1e8 + 1e5,
		   "f32 1e8 + 10^5 ones sums exactly in double");
		arr_release(&f);
	}
	/* 0.1 ten million times would be slow; 10^6 times 0.1 */
	{
		size_t m = 1000000;
		arr f;
		arr_alloc(&f, ARR_F64, 1, &m, err);
		arr_fill(&f, 0.1, err);
		r = 0;
		ok(arr_reduce(&f, ARR_SUM, &r, err) == 0 && r == 100000.0,
		   "10^6 x 0.1 sums to the correctly rounded 100000");
		diag("10^6 x 0.1: %.17g", r);
		arr_release(&f);
	}
	arr_release(&a);
}

static void test_reduce_errors(void)
{
	size_t z[2] = {0, 4}, sh[2] = {3, 4}, e1 = 0;
	arr a, o, e;
	double r = 5;
	arr_alloc(&e, ARR_F64, 1, &e1, err);
	ok(arr_reduce(&e, ARR_SUM, &r, err) == 0 && r == 0, "sum of empty is 0");
	ok(arr_reduce(&e, ARR_MEAN, &r, err) == 0 && isnan(r),
	   "mean of empty is NaN");
	ok(arr_reduce(&e, ARR_MIN, &r, err) == -1 && has(err, "min") &&
	   has(err, "empty"), "min of empty fails: %s", err);
	ok(arr_reduce(&e, ARR_MAX, &r, err) == -1 && has(err, "max"),
	   "max of empty fails: %s", err);
	arr_release(&e);
	arr_alloc(&a, ARR_F64, 2, z, err);
	ok(arr_reduce_axis(&o, &a, 0, ARR_SUM, err) == 0 && o.ndim == 1 &&
	   o.shape[0] == 4 && arr_get_flat(&o, 3) == 0,
	   "sum over an empty axis gives zeros");
	arr_release(&o);
	ok(arr_reduce_axis(&o, &a, 0, ARR_MEAN, err) == 0 &&
	   isnan(arr_get_flat(&o, 0)), "mean over an empty axis gives NaN");
	arr_release(&o);
	ok(arr_reduce_axis(&o, &a, 0, ARR_MIN, err) == -1 && has(err, "axis 0"),
	   "min over an empty axis fails: %s", err);
	ok(arr_reduce_axis(&o, &a, 1, ARR_MIN, err) == 0 && o.shape[0] == 0,
	   "min along a full axis of an empty array is empty");
	arr_release(&o);
	arr_release(&a);
	arr_alloc(&a, ARR_F64, 2, sh, err);
	ok(arr_reduce_axis(&o, &a, 2, ARR_SUM, err) == -1 && has(err, "axis 2"),
	   "reduce on axis 2 of a 2-d array: %s", err);
	ok(arr_reduce_axis(&o, &a, -1, ARR_SUM, err) == -1, "axis -1 refused");
	ok(arr_reduce(&a, (arr_red)9, &r, err) == -1, "bad reduction code");
	{
		arr one;
		arr_alloc(&one, ARR_F64, 1, (size_t[]){4}, err);
		arr_fill(&one, 2, err);
		ok(arr_reduce_axis(&o, &one, 0, ARR_SUM, err) == 0 &&
		   o.ndim == 0 && arr_get(&o, NULL) == 8,
		   "reducing a 1-d array along its axis gives a 0-d array");
		arr_release(&o);
		arr_release(&one);
	}
	arr_release(&a);
}

/* ------------------------------------------------------------------ */
/* conversions */

static void test_casting(void)
{
	double x[8] = {2.5, 2.4, -0.4, 65535.4, 0.5, 1.5, 3.49999, 7};
	double wantu[8] = {3, 2, 0, 65535, 1, 2, 3, 7};
	size_t n = 8, k;
	arr a, c, d;
	int good = 1;
	arr_wrap(&a, ARR_F64, 1, &n, x);
	ok(arr_copy(&c, &a, ARR_U16, err) == 0 && c.dtype == ARR_U16,
	   "f64 -> u16");
	for (k = 0; k < n; k++)
		if (arr_get_flat(&c, k) != wantu[k])
			good = 0;
	ok(good, "float to integer rounds to nearest, halves away from zero");
	ok(c.buf != NULL && c.buf->refs == 1, "copy owns a new buffer");
	arr_release(&c);

	x[3] = 65535.5;
	ok(arr_copy(&c, &a, ARR_U16, err) == -1 && has(err, "65535.5") &&
	   has(err, "u16"), "65535.5 -> u16 fails: %s", err);
	ok(c.data == NULL, "failed copy leaves dst empty");
	x[3] = NAN;
	ok(arr_copy(&c, &a, ARR_I32, err) == -1 && has(err, "NaN") &&
	   has(err, "i32"), "NaN -> i32 fails: %s", err);
	x[3] = -1;
	ok(arr_copy(&c, &a, ARR_U8, err) == -1 && has(err, "-1") &&
	   has(err, "u8"), "-1 -> u8 fails: %s", err);
	x[3] = INFINITY;
	ok(arr_copy(&c, &a, ARR_U32, err) == -1 && has(err, "inf") &&
	   has(err, "u32"), "inf -> u32 fails: %s", err);
	x[3] = -2.5;
	ok(arr_copy(&c, &a, ARR_I32, err) == 0 && arr_get_flat(&c, 3) == -3,
	   "-2.5 -> i32 is -3");
	arr_release(&c);
	x[3] = 4294967295.0;
	ok(arr_copy(&c, &a, ARR_U32, err) == 0 &&
	   arr_get_flat(&c, 3) == 4294967295.0, "u32 max survives");
	/* u32 -> i32 out of range, integer to integer */
	ok(arr_copy(&d, &c, ARR_I32, err) == -1 && has(err, "4294967295"),
	   "u32 4294967295 -> i32 fails: %s", err);
	ok(arr_copy(&d, &c, ARR_F32, err) == 0 && d.dtype == ARR_F32 &&
	   arr_get_flat(&d, 0) == 3, "u32 -> f32");
	arr_release(&d);
	arr_release(&c);
	x[3] = 1e300;
	ok(arr_copy(&c, &a, ARR_F32, err) == 0 &&
	   isinf(arr_get_flat(&c, 3)), "f64 beyond f32 range becomes inf");
	arr_release(&c);

	/* arr_set and arr_fill follow the same rules */
	arr_alloc(&c, ARR_U8, 1, &n, err);
	ok(arr_set(&c, (size_t[]){2}, 254.6, err) == 0 &&
	   arr_get_flat(&c, 2) == 255, "set rounds 254.6 to 255");
	ok(arr_set(&c, (size_t[]){2}, 255.5, err) == -1 && has(err, "255.5"),
	   "set 255.5 on u8 fails: %s", err);
	ok(arr_get_flat(&c, 2) == 255, "failed set leaves the element");
	ok(arr_fill(&c, NAN, err) == -1 && has(err, "NaN") && has(err, "u8"),
	   "fill u8 with NaN fails: %s", err);
	ok(arr_fill(&c, 7.2, err) == 0 && arr_get_flat(&c, 7) == 7, "fill u8");
	/* assign is all or nothing */
	x[3] = 300;
	ok(arr_assign(&c, &a, err) == -1 && has(err, "300"),
	   "assign of an out-of-range value fails: %s", err);
	good = 1;
	for (k = 0; k < n; k++)
		if (arr_get_flat(&c, k) != 7)
			good = 0;
	ok(good, "a failed assign leaves dst unchanged");
	x[3] = 9;
	ok(arr_assign(&c, &a, err) == 0 && arr_get_flat(&c, 3) == 9 &&
	   arr_get_flat(&c, 0) == 3, "assign converts");
	arr_alloc(&d, ARR_U8, 1, (size_t[]){7}, err);
	ok(arr_assign(&d, &a, err) == -1 && has(err, "shapes") &&
	   has(err, "8 f64") && has(err, "7 u8"),
	   "assign of another shape names both: %s", err);
	arr_release(&d);
	arr_release(&c);
}

static void test_copy_views(void)
{
	size_t sh[3] = {5, 6, 7}, k;
	arr a, v, c, w;
	int good = 1;
	arr_alloc(&a, ARR_U16, 3, sh, err);
	fill3(&a);
	arr_slice(&v, &a, 1, 1, 6, 2, err);
	arr_slice(&v, &v, 2, 2, 7, 3, err);
	ok(arr_copy(&c, &v, ARR_F64, err) == 0 && arr_is_contiguous(&c) &&
	   arr_same_shape(&c, &v), "copy of a strided u16 view to f64");
	for (k = 0; k < arr_size(&v); k++)
		if (arr_get_flat(&c, k) != arr_get_flat(&v, k))
			good = 0;
	ok(good, "copied values match the view");
	arr_release(&c);
	ok(arr_copy(&c, &v, ARR_U16, err) == 0 &&
	   arr_get_flat(&c, 5) == arr_get_flat(&v, 5), "same-dtype copy");
	arr_release(&c);
	/* overlapping assign: shift every other element of a long row by one
	** place, longer than one conversion block, within one buffer */
	{
		size_t m = 3000;
		arr r, src, dst;
		static double want[3000];
		arr_alloc(&r, ARR_F64, 1, &m, err);
		for (k = 0; k < m; k++) {
			arr_set(&r, &k, (double)k, err);
			want[k] = (double)k;
		}
		for (k = 0; k + 2 < m; k += 2)
			want[k + 2] = (double)k;
		arr_slice(&src, &r, 0, 0, m - 2, 2, err);
		arr_slice(&dst, &r, 0, 2, m, 2, err);
		ok(arr_assign(&dst, &src, err) == 0, "assign overlapping views");
		good = 1;
		for (k = 0; k < m; k++)
			if (arr_get_flat(&r, k) != want[k])
				good = 0;
		ok(good, "overlapping assign behaves as through a copy");
		arr_release(&src);
		arr_release(&dst);
		arr_release(&r);
	}
	/* fill through a strided view touches only the view */
	arr_take(&w, &a, 0, 2, err);
	arr_slice(&w, &w, 0, 0, 6, 5, err);
	ok(arr_fill(&w, 1234, err) == 0, "fill a strided view");
	good = 1;
	for (k = 0; k < 5 * 6 * 7; k++) {
		size_t i = k / 42, j = (k / 7) % 6, l = k % 7;
		double want = (i == 2 && (j == 0 || j == 5)) ? 1234
			: code3(i, j, l);
		if (arr_get_flat(&a, k) != want)
			good = 0;
	}
	ok(good, "fill changed exactly the viewed elements");
	arr_release(&w);
	arr_release(&v);
	arr_release(&a);
}

static void test_ranges(void)
{
	arr a;
	size_t k;
	int good = 1;
	ok(arr_linspace(&a, 0, 1, 11, err) == 0 && a.shape[0] == 11 &&
	   a.dtype == ARR_F64, "linspace 0..1, 11 points");
	for (k = 0; k < 11; k++)
		if (fabs(arr_get_flat(&a, k) - k / 10.0) > 1e-15)
			good = 0;
	ok(good && arr_get_flat(&a, 10) == 1, "linspace values, last exact");
	arr_release(&a);
	ok(arr_linspace(&a, 3, 7, 1, err) == 0 && arr_get_flat(&a, 0) == 3,
	   "linspace n = 1 gives lo");
	arr_release(&a);
	ok(arr_linspace(&a, 0, 1, 0, err) == -1 && has(err, "n"),
	   "linspace n = 0 fails: %s", err);
	ok(arr_linspace(&a, NAN, 1, 3, err) == -1 && has(err, "finite"),
	   "linspace NaN bound fails: %s", err);
	ok(arr_arange(&a, 0, 5, 1, err) == 0 && a.shape[0] == 5 &&
	   arr_get_flat(&a, 4) == 4, "arange 0..5");
	arr_release(&a);
	ok(arr_arange(&a, 1, 2, 0.3, err) == 0 && a.shape[0] == 4 &&
	   fabs(arr_get_flat(&a, 3) - 1.9) < 1e-15, "arange 1, 1.3, 1.6, 1.9");
	arr_release(&a);
	ok(arr_arange(&a, 5, 0, -2, err) == 0 && a.shape[0] == 3 &&
	   arr_get_flat(&a, 2) == 1, "arange with a negative step");
	arr_release(&a);
	ok(arr_arange(&a, 5, 0, 1, err) == 0 && a.shape[0] == 0,
	   "arange running the wrong way is empty");
	arr_release(&a);
	ok(arr_arange(&a, 0, 1, 0, err) == -1 && has(err, "step"),
	   "arange step 0 fails: %s", err);
	ok(arr_arange(&a, 0, INFINITY, 1, err) == -1, "arange to inf fails");
	ok(arr_arange(&a, 0, 1e300, 1e-300, err) == -1 && has(err, "too many"),
	   "arange with too many elements fails: %s", err);
}

static void test_contiguity(void)
{
	size_t sh[3] = {3, 1, 4};
	arr a, v;
	arr_alloc(&a, ARR_F64, 3, sh, err);
	a.strides[1] = 99;	/* a length-1 axis may have any stride */
	ok(arr_is_contiguous(&a), "stride of a length-1 axis is ignored");
	a.strides[1] = 4;
	arr_slice(&v, &a, 0, 1, 3, 1, err);
	ok(arr_is_contiguous(&v), "a run of whole frames is contiguous");
	arr_release(&v);
	arr_slice(&v, &a, 2, 0, 3, 1, err);
	ok(!arr_is_contiguous(&v), "cutting the last axis is not contiguous");
	ok(arr_same_shape(&v, &v) && !arr_same_shape(&v, &a), "same_shape");
	arr_release(&v);
	arr_release(&a);
}

static void test_interrupt(void)
{
	size_t n = 100000;
	arr a, o;
	double r;
	memset(&o, 0, sizeof o);
	arr_alloc(&a, ARR_F64, 1, &n, err);
	intr_raise();
	ok(arr_reduce(&a, ARR_SUM, &r, err) == -1 && has(err, "interrupted"),
	   "reduce polls the interrupt flag");
	ok(arr_unary(&o, &a, ARR_EXP, err) == -1 && has(err, "interrupted") &&
	   o.data == NULL, "unary polls the interrupt flag, leaves out untouched");
	ok(arr_copy(&o, &a, ARR_F32, err) == -1 && has(err, "interrupted"),
	   "copy polls the interrupt flag");
	intr_clear();
	ok(arr_reduce(&a, ARR_SUM, &r, err) == 0 && r == 0,
	   "works again after clearing");
	arr_release(&a);
}

int main(void)
{
	test_dtypes();
	test_alloc();
	test_wrap();
	test_views();
	test_slice_brute();
	test_elementwise();
	test_pow();
	test_elementwise_errors();
	test_reductions();
	test_compensated();
	test_reduce_errors();
	test_casting();
	test_copy_views();
	test_ranges();
	test_contiguity();
	test_interrupt();
	return tap_done();
}
