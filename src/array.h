/*
** array.h - ionflow's n-dimensional numeric array (plain C core, no Lua).
**
** An arr is a small value struct: dtype, shape, strides and a data pointer
** into a reference-counted buffer. Views (slices, a frame of a stack) share
** the buffer and hold a reference, so the buffer lives as long as any view.
** An arr whose buf is NULL borrows memory it does not own (arr_wrap).
**
** Strides are in elements, not bytes, and may be negative or zero.
** Indices are 0-based here; the Lua binding adds the 1-based convention.
** Every function that can fail follows err.h: 0 / -1 and a message in err.
*/
#ifndef ionflow_array_h
#define ionflow_array_h

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define ARR_MAXDIM 8

typedef enum {
	ARR_F64, ARR_F32, ARR_I32, ARR_U16, ARR_U32, ARR_U8, ARR_NTYPES
} arr_dtype;

typedef struct arr_buf {
	void *data;		/* 64-byte aligned */
	size_t nbytes;
	long refs;
} arr_buf;

typedef struct arr {
	arr_dtype dtype;
	int ndim;			/* 0 .. ARR_MAXDIM; 0 is a scalar */
	size_t shape[ARR_MAXDIM];
	ptrdiff_t strides[ARR_MAXDIM];	/* in elements */
	char *data;			/* address of element (0, ..., 0) */
	arr_buf *buf;			/* NULL when borrowed */
} arr;

typedef enum {
	ARR_ADD, ARR_SUB, ARR_MUL, ARR_DIV, ARR_POW, ARR_FMIN, ARR_FMAX
} arr_op;

typedef enum {
	ARR_NEG, ARR_ABS, ARR_SQRT, ARR_EXP, ARR_LOG, ARR_SIN, ARR_COS,
	ARR_FLOOR, ARR_CEIL
} arr_unop;

typedef enum { ARR_SUM, ARR_MEAN, ARR_MIN, ARR_MAX } arr_red;

/* dtypes: size in bytes, short name ("f64", "u16", ...), and parsing of
** "float64"/"f64"/"double", "float32"/"f32"/"float", "int32"/"i32",
** "uint16"/"u16", "uint32"/"u32", "uint8"/"u8" */
size_t arr_dtype_size(arr_dtype dt);
const char *arr_dtype_name(arr_dtype dt);
int arr_dtype_parse(const char *name, arr_dtype *dt, char *err);
int arr_dtype_is_float(arr_dtype dt);

/* a new zero-filled C-contiguous array; shape entries may be 0 */
int arr_alloc(arr *a, arr_dtype dt, int ndim, const size_t *shape, char *err);
/* the same without zeroing, for arrays about to be overwritten whole */
int arr_alloc_uninit(arr *a, arr_dtype dt, int ndim, const size_t *shape,
		     char *err);
/* borrow caller memory as a C-contiguous array; no reference is held */
void arr_wrap(arr *a, arr_dtype dt, int ndim, const size_t *shape, void *data);
/* drop a's reference (freeing the buffer on the last one) and zero a */
void arr_release(arr *a);
/* make dst another reference to src's buffer (dst is overwritten) */
void arr_retain(arr *dst, const arr *src);

size_t arr_size(const arr *a);			/* number of elements */
/* a 64-bit key of a's dtype, shape and values (a contiguous) for caches:
** equal arrays give equal keys, others differ but by chance (SplitMix64
** mixing, not a cryptographic hash) */
uint64_t arr_hash(const arr *a);
int arr_is_contiguous(const arr *a);		/* C order, no gaps */
int arr_same_shape(const arr *a, const arr *b);
void *arr_ptr(const arr *a, const size_t *idx);	/* idx has ndim entries */
/* "2000x128x128 u16" into buf of n bytes (shape only, no brackets) */
void arr_describe(const arr *a, char *buf, size_t n);

/* element access through double, for bindings and tests (slow path);
** arr_set converts as arr_copy does and fails on NaN or out-of-range
** values for integer dtypes */
double arr_get(const arr *a, const size_t *idx);
int arr_set(arr *a, const size_t *idx, double v, char *err);
/* the k-th element in C order (0 <= k < arr_size) */
double arr_get_flat(const arr *a, size_t k);

/* views sharing the buffer. arr_slice keeps the axis with elements
** start, start+step, ... < stop (0-based, step > 0, bounds checked);
** arr_take drops the axis at index i (a frame out of a stack);
** arr_reshape needs a contiguous source and the same element count. */
int arr_slice(arr *dst, const arr *src, int axis, size_t start, size_t stop,
	      size_t step, char *err);
int arr_take(arr *dst, const arr *src, int axis, size_t i, char *err);
int arr_reshape(arr *dst, const arr *src, int ndim, const size_t *shape,
		char *err);

/* a new contiguous copy of src converted to dt. Float to integer rounds
** to nearest; NaN or a value outside the integer range is an error. */
int arr_copy(arr *dst, const arr *src, arr_dtype dt, char *err);
/* copy src's values into the existing array dst of the same shape */
int arr_assign(arr *dst, const arr *src, char *err);

int arr_fill(arr *a, double v, char *err);
/* n values from lo to hi inclusive (n >= 1; n == 1 gives lo) */
int arr_linspace(arr *dst, double lo, double hi, size_t n, char *err);
/* lo, lo+step, ... < hi (step != 0) as float64 */
int arr_arange(arr *dst, double lo, double hi, double step, char *err);

/* elementwise: out is a new array of the shared shape. Its dtype is f32
** when every array operand is f32, otherwise f64 (integer data are
** promoted, never wrapped or truncated). */
int arr_binop(arr *out, const arr *a, const arr *b, arr_op op, char *err);
/* scalar s on the left (s op a) when scalar_left, else a op s */
int arr_scalop(arr *out, const arr *a, double s, arr_op op, int scalar_left,
	       char *err);
int arr_unary(arr *out, const arr *a, arr_unop op, char *err);

/* reductions in double precision (compensated sums). Over all elements
** into *res, or along one axis into a new f64 array without that axis.
** MIN and MAX of an empty set are errors; MEAN of an empty set is NaN.
** NaN propagates through every reduction. */
int arr_reduce(const arr *a, arr_red op, double *res, char *err);
int arr_reduce_axis(arr *out, const arr *a, int axis, arr_red op, char *err);

#endif
