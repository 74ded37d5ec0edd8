/*
** array.c - ionflow's n-dimensional numeric array core (see array.h).
**
** Every elementwise operation, copy and reduction runs through one strided
** iterator (arr_iter) that merges axes which are laid out contiguously, so
** a contiguous array of any shape is a single run. Inside a run, values
** go through small double blocks; f64 runs with unit stride are used in
** place, which is the fast path for contiguous data.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "intr.h"
#include "mem.h"
#include "num.h"

#define ARR_ALIGN MEM_ALIGN	/* the buffer header's room */
#define ARR_BLOCK 512		/* elements converted through double at once */
#define ARR_MAXOP 3
#define ARR_CHUNK (1 << 18)	/* elements memcpy'd between interrupt polls */

/* ------------------------------------------------------------------ */
/* dtypes */

static const struct {
	const char *name;
	size_t size;
} arr_types[ARR_NTYPES] = {
	{"f64", 8}, {"f32", 4}, {"i32", 4}, {"u16", 2}, {"u32", 4}, {"u8", 1}
};

static const struct {
	const char *name;
	arr_dtype dt;
} arr_aliases[] = {
	{"f64", ARR_F64}, {"float64", ARR_F64}, {"double", ARR_F64},
	{"f32", ARR_F32}, {"float32", ARR_F32}, {"float", ARR_F32},
	{"i32", ARR_I32}, {"int32", ARR_I32},
	{"u16", ARR_U16}, {"uint16", ARR_U16},
	{"u32", ARR_U32}, {"uint32", ARR_U32},
	{"u8", ARR_U8}, {"uint8", ARR_U8},
};

static int arr_dtype_valid(arr_dtype dt)
{
	return (unsigned)dt < (unsigned)ARR_NTYPES;
}

size_t arr_dtype_size(arr_dtype dt)
{
	return arr_dtype_valid(dt) ? arr_types[dt].size : 0;
}

const char *arr_dtype_name(arr_dtype dt)
{
	return arr_dtype_valid(dt) ? arr_types[dt].name : "?";
}

int arr_dtype_parse(const char *name, arr_dtype *dt, char *err)
{
	size_t i;
	if (name == NULL)
		return err_set(err, "missing dtype name");
	for (i = 0; i < sizeof arr_aliases / sizeof arr_aliases[0]; i++)
		if (strcmp(name, arr_aliases[i].name) == 0) {
			*dt = arr_aliases[i].dt;
			return 0;
		}
	return err_set(err, "unknown dtype '%.40s' (expected f64, f32, i32, "
		       "u16, u32 or u8)", name);
}

int arr_dtype_is_float(arr_dtype dt)
{
	return dt == ARR_F64 || dt == ARR_F32;
}

/* the representable range of an integer dtype (exact in double) */
static void arr_int_range(arr_dtype dt, double *lo, double *hi)
{
	switch (dt) {
	case ARR_I32: *lo = -2147483648.0; *hi = 2147483647.0; break;
	case ARR_U16: *lo = 0; *hi = 65535.0; break;
	case ARR_U32: *lo = 0; *hi = 4294967295.0; break;
	case ARR_U8: *lo = 0; *hi = 255.0; break;
	default: *lo = -HUGE_VAL; *hi = HUGE_VAL; break;
	}
}

/* Why one function: every path that turns a double into an integer
** element (copy, assign, fill, set) must agree on rounding and errors. */
static int arr_convert_error(double v, arr_dtype dt, char *err)
{
	double lo, hi;
	if (isnan(v))
		return err_set(err, "cannot convert NaN to %s",
			       arr_dtype_name(dt));
	arr_int_range(dt, &lo, &hi);
	return err_set(err, "value %.15g out of range for %s (%.0f to %.0f)",
		       v, arr_dtype_name(dt), lo, hi);
}

static int arr_check_value(double v, arr_dtype dt, char *err)
{
	double lo, hi, r;
	if (arr_dtype_is_float(dt))
		return 0;
	arr_int_range(dt, &lo, &hi);
	r = round(v);
	if (!(r >= lo && r <= hi))
		return arr_convert_error(v, dt, err);
	return 0;
}

/* ------------------------------------------------------------------ */
/* shapes, allocation, references */

static void arr_shape_str(int ndim, const size_t *shape, char *buf, size_t n)
{
	size_t used = 0;
	int k;
	if (n == 0)
		return;
	buf[0] = '\0';
	if (ndim == 0) {
		snprintf(buf, n, "scalar");
		return;
	}
	for (k = 0; k < ndim && used < n; k++) {
		int w = snprintf(buf + used, n - used, "%s%zu", k ? "x" : "",
				 shape[k]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

/* The element count of a shape, refusing products that overflow or would
** not be addressable with ptrdiff_t byte offsets. */
static int arr_shape_count(int ndim, const size_t *shape, size_t esize,
			   size_t *count, char *err)
{
	size_t n = 1, limit = (size_t)PTRDIFF_MAX / (esize ? esize : 1);
	int k, zero = 0;
	char s[128];
	if (ndim < 0 || ndim > ARR_MAXDIM)
		return err_set(err, "%d dimensions (0 to %d allowed)", ndim,
			       ARR_MAXDIM);
	for (k = 0; k < ndim; k++)
		if (shape[k] == 0)
			zero = 1;
	if (zero) {
		*count = 0;
		return 0;
	}
	for (k = 0; k < ndim; k++) {
		if (n > limit / shape[k]) {
			arr_shape_str(ndim, shape, s, sizeof s);
			return err_set(err, "shape %s is too large (element "
				       "count overflows)", s);
		}
		n *= shape[k];
	}
	*count = n;
	return 0;
}

static void arr_cstrides(arr *a)
{
	ptrdiff_t s = 1;
	int k;
	for (k = a->ndim - 1; k >= 0; k--) {
		a->strides[k] = s;
		s *= (ptrdiff_t)a->shape[k];
	}
}

/* The buffer header and the data share one aligned block: the header
** takes the first ARR_ALIGN bytes so the data stay aligned. */
static int arr_alloc_common(arr *a, arr_dtype dt, int ndim,
			    const size_t *shape, int zero, char *err)
{
	size_t n, nbytes, padded;
	arr_buf *b;
	char s[128];
	memset(a, 0, sizeof *a);
	if (!arr_dtype_valid(dt))
		return err_set(err, "invalid dtype code %d", (int)dt);
	if (arr_shape_count(ndim, shape, arr_types[dt].size, &n, err) < 0)
		return -1;
	nbytes = n * arr_types[dt].size;
	if (nbytes > SIZE_MAX - 2 * ARR_ALIGN) {
		arr_shape_str(ndim, shape, s, sizeof s);
		return err_set(err, "shape %s is too large", s);
	}
	padded = (nbytes + ARR_ALIGN - 1) / ARR_ALIGN * ARR_ALIGN;
	b = mem_alloc(ARR_ALIGN + (padded ? padded : ARR_ALIGN), zero, NULL);
	if (b == NULL) {
		arr_shape_str(ndim, shape, s, sizeof s);
		return err_set(err, "out of memory allocating %zu bytes for a "
			       "%s %s array", nbytes, s, arr_types[dt].name);
	}
	b->data = (char *)b + ARR_ALIGN;
	b->nbytes = nbytes;
	b->refs = 1;
	a->dtype = dt;
	a->ndim = ndim;
	if (ndim > 0)
		memcpy(a->shape, shape, (size_t)ndim * sizeof *shape);
	arr_cstrides(a);
	a->data = b->data;
	a->buf = b;
	return 0;
}

int arr_alloc(arr *a, arr_dtype dt, int ndim, const size_t *shape, char *err)
{
	return arr_alloc_common(a, dt, ndim, shape, 1, err);
}

int arr_alloc_uninit(arr *a, arr_dtype dt, int ndim, const size_t *shape,
		     char *err)
{
	return arr_alloc_common(a, dt, ndim, shape, 0, err);
}

void arr_wrap(arr *a, arr_dtype dt, int ndim, const size_t *shape, void *data)
{
	memset(a, 0, sizeof *a);
	a->dtype = dt;
	a->ndim = ndim < 0 ? 0 : ndim > ARR_MAXDIM ? ARR_MAXDIM : ndim;
	if (a->ndim > 0)
		memcpy(a->shape, shape, (size_t)a->ndim * sizeof *shape);
	arr_cstrides(a);
	a->data = data;
}

/* Reference counts change atomically: a core may take views of one
** buffer from several OpenMP threads. */
static void arr_ref(arr_buf *b)
{
	if (b != NULL)
		__atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
}

void arr_release(arr *a)
{
	if (a == NULL)
		return;
	if (a->buf != NULL &&
	    __atomic_sub_fetch(&a->buf->refs, 1, __ATOMIC_ACQ_REL) <= 0)
		mem_free(a->buf);
	memset(a, 0, sizeof *a);
}

void arr_retain(arr *dst, const arr *src)
{
	if (dst == src)
		return;
	*dst = *src;
	arr_ref(dst->buf);
}

/* a view derived from src: copy the struct, add a reference unless the
** view replaces src itself (dst == src keeps src's reference) */
static void arr_view_finish(arr *dst, const arr *src, const arr *view)
{
	int same = dst == src;
	*dst = *view;
	if (!same)
		arr_ref(dst->buf);
}

size_t arr_size(const arr *a)
{
	size_t n = 1;
	int k;
	for (k = 0; k < a->ndim; k++)
		n *= a->shape[k];
	return n;
}

uint64_t arr_hash(const arr *a)
{
	size_t nb = arr_size(a) * arr_dtype_size(a->dtype), k;
	const unsigned char *p = (const unsigned char *)a->data;
	uint64_t h = num_mix64((uint64_t)a->dtype + NUM_GOLDEN64), w;
	h = num_mix64(h ^ (uint64_t)a->ndim);
	for (int d = 0; d < a->ndim; d++)
		h = num_mix64(h ^ (uint64_t)a->shape[d]);
	/* two lanes of 8-byte words, for twice the mixing throughput */
	uint64_t h2 = num_mix64(h + NUM_GOLDEN64);
	for (k = 0; k + 16 <= nb; k += 16) {
		uint64_t w2;
		memcpy(&w, p + k, 8);
		memcpy(&w2, p + k + 8, 8);
		h = num_mix64(h ^ w);
		h2 = num_mix64(h2 ^ w2);
	}
	for (; k < nb; k++)
		h = num_mix64(h ^ p[k]);
	return num_mix64(h ^ (h2 + NUM_GOLDEN64) ^ (uint64_t)nb);
}

int arr_is_contiguous(const arr *a)
{
	ptrdiff_t want = 1;
	int k;
	if (arr_size(a) == 0)
		return 1;
	for (k = a->ndim - 1; k >= 0; k--) {
		if (a->shape[k] != 1 && a->strides[k] != want)
			return 0;
		want *= (ptrdiff_t)a->shape[k];
	}
	return 1;
}

int arr_same_shape(const arr *a, const arr *b)
{
	int k;
	if (a->ndim != b->ndim)
		return 0;
	for (k = 0; k < a->ndim; k++)
		if (a->shape[k] != b->shape[k])
			return 0;
	return 1;
}

void *arr_ptr(const arr *a, const size_t *idx)
{
	ptrdiff_t off = 0;
	int k;
	for (k = 0; k < a->ndim; k++)
		off += (ptrdiff_t)idx[k] * a->strides[k];
	return a->data + off * (ptrdiff_t)arr_dtype_size(a->dtype);
}

void arr_describe(const arr *a, char *buf, size_t n)
{
	char s[128];
	arr_shape_str(a->ndim, a->shape, s, sizeof s);
	snprintf(buf, n, "%s %s", s, arr_dtype_name(a->dtype));
}

/* ------------------------------------------------------------------ */
/* block conversion between elements and doubles */

#define ARR_LOAD(T) do { \
	const T *q = (const T *)p; \
	if (s == 1) \
		for (i = 0; i < n; i++) v[i] = (double)q[i]; \
	else \
		for (i = 0; i < n; i++) v[i] = (double)q[(ptrdiff_t)i * s]; \
} while (0)

/* n elements at p (stride s elements) into v */
static void arr_load(arr_dtype dt, const char *p, ptrdiff_t s, size_t n,
		     double *v)
{
	size_t i;
	switch (dt) {
	case ARR_F64: ARR_LOAD(double); break;
	case ARR_F32: ARR_LOAD(float); break;
	case ARR_I32: ARR_LOAD(int32_t); break;
	case ARR_U16: ARR_LOAD(uint16_t); break;
	case ARR_U32: ARR_LOAD(uint32_t); break;
	case ARR_U8: ARR_LOAD(uint8_t); break;
	default: for (i = 0; i < n; i++) v[i] = NAN; break;
	}
}

#define ARR_STOREF(T) do { \
	T *q = (T *)p; \
	if (s == 1) \
		for (i = 0; i < n; i++) q[i] = (T)v[i]; \
	else \
		for (i = 0; i < n; i++) q[(ptrdiff_t)i * s] = (T)v[i]; \
} while (0)

/* round half away from zero through a 64-bit integer: the range test
** comes first, so the conversion is exact and no libm call is needed */
#define ARR_STOREI(T) do { \
	T *q = (T *)p; \
	for (i = 0; i < n; i++) { \
		double x = v[i], f; \
		long long r; \
		if (!(x > lo - 1 && x < hi + 1)) \
			return arr_convert_error(x, dt, err); \
		r = (long long)x; \
		f = x - (double)r; \
		r += (f >= 0.5) - (f <= -0.5); \
		if (r < (long long)lo || r > (long long)hi) \
			return arr_convert_error(x, dt, err); \
		q[(ptrdiff_t)i * s] = (T)r; \
	} \
} while (0)

/* n doubles into elements at p (stride s); integers round to nearest
** (halves away from zero) and fail on NaN or out-of-range values, having
** written the elements before the bad one */
static int arr_store(arr_dtype dt, char *p, ptrdiff_t s, size_t n,
		     const double *v, char *err)
{
	size_t i;
	double lo, hi;
	arr_int_range(dt, &lo, &hi);
	switch (dt) {
	case ARR_F64: ARR_STOREF(double); break;
	case ARR_F32: ARR_STOREF(float); break;
	case ARR_I32: ARR_STOREI(int32_t); break;
	case ARR_U16: ARR_STOREI(uint16_t); break;
	case ARR_U32: ARR_STOREI(uint32_t); break;
	case ARR_U8: ARR_STOREI(uint8_t); break;
	default: return err_set(err, "invalid dtype code %d", (int)dt);
	}
	return 0;
}

static int arr_check_block(arr_dtype dt, const double *v, size_t n, char *err)
{
	double lo, hi;
	size_t i;
	if (arr_dtype_is_float(dt))
		return 0;
	arr_int_range(dt, &lo, &hi);
	for (i = 0; i < n; i++) {
		double r = round(v[i]);
		if (!(r >= lo && r <= hi))
			return arr_convert_error(v[i], dt, err);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* the strided iterator */

/* Walks up to ARR_MAXOP arrays of one shape in C order, run by run. Axes
** of length 1 are dropped and neighbouring axes merged when every operand
** steps through them as one, so contiguous operands give a single run. */
typedef struct arr_iter {
	int nop, ndim;		/* outer axes after merging */
	size_t len;		/* elements per run */
	size_t shape[ARR_MAXDIM];
	size_t idx[ARR_MAXDIM];
	ptrdiff_t step[ARR_MAXOP][ARR_MAXDIM];	/* bytes, outer axes */
	ptrdiff_t inner[ARR_MAXOP];		/* elements, within a run */
	char *p[ARR_MAXOP];			/* start of the current run */
} arr_iter;

/* returns the number of elements; 0 means there is nothing to visit */
static size_t arr_iter_init(arr_iter *it, int nop, const arr *const *ops)
{
	const arr *a = ops[0];
	size_t shape[ARR_MAXDIM];
	ptrdiff_t st[ARR_MAXOP][ARR_MAXDIM];
	int n = 0, k, o, d;
	memset(it, 0, sizeof *it);
	it->nop = nop;
	for (o = 0; o < nop; o++)
		it->p[o] = ops[o]->data;
	if (arr_size(a) == 0)
		return 0;
	/* merged axes, innermost first */
	for (k = a->ndim - 1; k >= 0; k--) {
		int merge = n > 0;
		if (a->shape[k] == 1)
			continue;
		for (o = 0; o < nop && merge; o++)
			if (ops[o]->strides[k] !=
			    st[o][n - 1] * (ptrdiff_t)shape[n - 1])
				merge = 0;
		if (merge) {
			shape[n - 1] *= a->shape[k];
			continue;
		}
		shape[n] = a->shape[k];
		for (o = 0; o < nop; o++)
			st[o][n] = ops[o]->strides[k];
		n++;
	}
	if (n == 0) {
		it->len = 1;
		return 1;
	}
	it->len = shape[0];
	for (o = 0; o < nop; o++)
		it->inner[o] = st[o][0];
	it->ndim = n - 1;
	for (d = 0; d < n - 1; d++) {	/* outer axes, outermost first */
		int src = n - 1 - d;
		it->shape[d] = shape[src];
		for (o = 0; o < nop; o++)
			it->step[o][d] = st[o][src] *
				(ptrdiff_t)arr_dtype_size(ops[o]->dtype);
	}
	return arr_size(a);
}

/* advance to the next run; 0 when all runs have been visited */
static int arr_iter_next(arr_iter *it)
{
	int d, o;
	for (d = it->ndim - 1; d >= 0; d--) {
		if (++it->idx[d] < it->shape[d]) {
			for (o = 0; o < it->nop; o++)
				it->p[o] += it->step[o][d];
			return 1;
		}
		it->idx[d] = 0;
		for (o = 0; o < it->nop; o++)
			it->p[o] -= it->step[o][d] *
				(ptrdiff_t)(it->shape[d] - 1);
	}
	return 0;
}

static int arr_interrupted(char *err)
{
	return err_set(err, "interrupted");
}

/* ------------------------------------------------------------------ */
/* element access */

double arr_get(const arr *a, const size_t *idx)
{
	double v;
	arr_load(a->dtype, arr_ptr(a, idx), 1, 1, &v);
	return v;
}

int arr_set(arr *a, const size_t *idx, double v, char *err)
{
	return arr_store(a->dtype, arr_ptr(a, idx), 1, 1, &v, err);
}

double arr_get_flat(const arr *a, size_t k)
{
	size_t idx[ARR_MAXDIM];
	int d;
	for (d = a->ndim - 1; d >= 0; d--) {
		size_t n = a->shape[d] ? a->shape[d] : 1;
		idx[d] = k % n;
		k /= n;
	}
	return arr_get(a, idx);
}

/* ------------------------------------------------------------------ */
/* views */

static int arr_check_axis(const arr *a, int axis, char *err)
{
	if (axis < 0 || axis >= a->ndim)
		return err_set(err, "axis %d out of range for a %d-d array "
			       "(0 to %d)", axis, a->ndim, a->ndim - 1);
	return 0;
}

int arr_slice(arr *dst, const arr *src, int axis, size_t start, size_t stop,
	      size_t step, char *err)
{
	arr v;
	size_t n, count;
	if (arr_check_axis(src, axis, err) < 0)
		return -1;
	n = src->shape[axis];
	if (step == 0)
		return err_set(err, "slice step must be positive, got 0");
	if (start > stop || stop > n)
		return err_set(err, "slice %zu:%zu out of range for axis %d "
			       "of length %zu", start, stop, axis, n);
	count = stop == start ? 0 : (stop - start - 1) / step + 1;
	v = *src;
	if (count > 0)
		v.data += (ptrdiff_t)start * src->strides[axis] *
			(ptrdiff_t)arr_dtype_size(src->dtype);
	v.shape[axis] = count;
	/* with two or more elements the new stride stays inside the buffer;
	** with fewer it never matters, and multiplying could overflow */
	if (count > 1)
		v.strides[axis] = src->strides[axis] * (ptrdiff_t)step;
	arr_view_finish(dst, src, &v);
	return 0;
}

int arr_take(arr *dst, const arr *src, int axis, size_t i, char *err)
{
	arr v;
	int k;
	if (arr_check_axis(src, axis, err) < 0)
		return -1;
	if (i >= src->shape[axis])
		return err_set(err, "index %zu out of range for axis %d of "
			       "length %zu", i, axis, src->shape[axis]);
	v = *src;
	v.data += (ptrdiff_t)i * src->strides[axis] *
		(ptrdiff_t)arr_dtype_size(src->dtype);
	for (k = axis; k < src->ndim - 1; k++) {
		v.shape[k] = src->shape[k + 1];
		v.strides[k] = src->strides[k + 1];
	}
	v.ndim--;
	v.shape[v.ndim] = 0;
	v.strides[v.ndim] = 0;
	arr_view_finish(dst, src, &v);
	return 0;
}

int arr_reshape(arr *dst, const arr *src, int ndim, const size_t *shape,
		char *err)
{
	arr v;
	size_t n;
	char s1[160], s2[128];
	if (arr_shape_count(ndim, shape, arr_dtype_size(src->dtype), &n,
			    err) < 0)
		return -1;
	if (n != arr_size(src)) {
		arr_describe(src, s1, sizeof s1);
		arr_shape_str(ndim, shape, s2, sizeof s2);
		return err_set(err, "cannot reshape %s (%zu elements) to %s "
			       "(%zu elements)", s1, arr_size(src), s2, n);
	}
	if (!arr_is_contiguous(src)) {
		arr_describe(src, s1, sizeof s1);
		return err_set(err, "reshape needs a contiguous array, got a "
			       "strided view %s", s1);
	}
	v = *src;
	v.ndim = ndim;
	memset(v.shape, 0, sizeof v.shape);
	if (ndim > 0)
		memcpy(v.shape, shape, (size_t)ndim * sizeof *shape);
	arr_cstrides(&v);
	arr_view_finish(dst, src, &v);
	return 0;
}

/* ------------------------------------------------------------------ */
/* copies */

/* the byte range [lo, hi) that a touches, for overlap tests */
static void arr_extent(const arr *a, const char **lo, const char **hi)
{
	ptrdiff_t mn = 0, mx = 0, es = (ptrdiff_t)arr_dtype_size(a->dtype);
	int k;
	for (k = 0; k < a->ndim; k++) {
		ptrdiff_t e = a->strides[k] * (ptrdiff_t)(a->shape[k] - 1);
		if (e < 0)
			mn += e;
		else
			mx += e;
	}
	*lo = a->data + mn * es;
	*hi = a->data + (mx + 1) * es;
}

static int arr_overlap(const arr *a, const arr *b)
{
	const char *alo, *ahi, *blo, *bhi;
	if (arr_size(a) == 0 || arr_size(b) == 0)
		return 0;
	arr_extent(a, &alo, &ahi);
	arr_extent(b, &blo, &bhi);
	return alo < bhi && blo < ahi;
}

/* every value of src is representable in dt (so a later store cannot
** fail half way) */
static int arr_check_all(const arr *src, arr_dtype dt, char *err)
{
	const arr *ops[1] = {src};
	arr_iter it;
	double v[ARR_BLOCK];
	size_t off, m;
	if (arr_dtype_is_float(dt) || dt == src->dtype)
		return 0;
	if (arr_iter_init(&it, 1, ops) == 0)
		return 0;
	do {
		for (off = 0; off < it.len; off += m) {
			if (intr_pending())
				return arr_interrupted(err);
			m = it.len - off < ARR_BLOCK ? it.len - off : ARR_BLOCK;
			arr_load(src->dtype, it.p[0] + (ptrdiff_t)off *
				 it.inner[0] * (ptrdiff_t)arr_dtype_size(src->dtype),
				 it.inner[0], m, v);
			if (arr_check_block(dt, v, m, err) < 0)
				return -1;
		}
	} while (arr_iter_next(&it));
	return 0;
}

/* src into dst (same shape, no overlap), converting element types */
static int arr_transfer(arr *dst, const arr *src, char *err)
{
	const arr *ops[2] = {dst, src};
	arr_iter it;
	double v[ARR_BLOCK];
	size_t off, m, ds = arr_dtype_size(dst->dtype),
		ss = arr_dtype_size(src->dtype);
	if (arr_iter_init(&it, 2, ops) == 0)
		return 0;
	do {
		if (dst->dtype == src->dtype && it.inner[0] == 1 &&
		    it.inner[1] == 1) {
			for (off = 0; off < it.len; off += m) {
				if (intr_pending())
					return arr_interrupted(err);
				m = it.len - off < ARR_CHUNK ? it.len - off
					: ARR_CHUNK;
				memcpy(it.p[0] + off * ds, it.p[1] + off * ss,
				       m * ds);
			}
			continue;
		}
		for (off = 0; off < it.len; off += m) {
			if (intr_pending())
				return arr_interrupted(err);
			m = it.len - off < ARR_BLOCK ? it.len - off : ARR_BLOCK;
			arr_load(src->dtype, it.p[1] + (ptrdiff_t)off *
				 it.inner[1] * (ptrdiff_t)ss, it.inner[1], m, v);
			if (arr_store(dst->dtype, it.p[0] + (ptrdiff_t)off *
				      it.inner[0] * (ptrdiff_t)ds, it.inner[0],
				      m, v, err) < 0)
				return -1;
		}
	} while (arr_iter_next(&it));
	return 0;
}

int arr_copy(arr *dst, const arr *src, arr_dtype dt, char *err)
{
	arr out;
	if (arr_alloc_uninit(&out, dt, src->ndim, src->shape, err) < 0)
		return -1;
	if (arr_transfer(&out, src, err) < 0) {
		arr_release(&out);
		return -1;
	}
	*dst = out;
	return 0;
}

int arr_assign(arr *dst, const arr *src, char *err)
{
	char s1[160], s2[160];
	arr tmp;
	int rc;
	if (!arr_same_shape(dst, src)) {
		arr_describe(dst, s1, sizeof s1);
		arr_describe(src, s2, sizeof s2);
		return err_set(err, "cannot assign %s to %s: shapes differ",
			       s2, s1);
	}
	if (arr_check_all(src, dst->dtype, err) < 0)
		return -1;
	if (!arr_overlap(dst, src))
		return arr_transfer(dst, src, err);
	/* overlapping views of one buffer: go through a private copy */
	if (arr_copy(&tmp, src, src->dtype, err) < 0)
		return -1;
	rc = arr_transfer(dst, &tmp, err);
	arr_release(&tmp);
	return rc;
}

int arr_fill(arr *a, double v, char *err)
{
	const arr *ops[1] = {a};
	arr_iter it;
	double blk[ARR_BLOCK];
	size_t off, m, i, es = arr_dtype_size(a->dtype);
	if (arr_check_value(v, a->dtype, err) < 0)
		return -1;
	for (i = 0; i < ARR_BLOCK; i++)
		blk[i] = v;
	if (arr_iter_init(&it, 1, ops) == 0)
		return 0;
	do {
		for (off = 0; off < it.len; off += m) {
			if (intr_pending())
				return arr_interrupted(err);
			m = it.len - off < ARR_BLOCK ? it.len - off : ARR_BLOCK;
			if (arr_store(a->dtype, it.p[0] + (ptrdiff_t)off *
				      it.inner[0] * (ptrdiff_t)es, it.inner[0],
				      m, blk, err) < 0)
				return -1;
		}
	} while (arr_iter_next(&it));
	return 0;
}

int arr_linspace(arr *dst, double lo, double hi, size_t n, char *err)
{
	double *v, step;
	size_t i;
	if (n < 1)
		return err_set(err, "linspace needs n >= 1, got %zu", n);
	if (!isfinite(lo) || !isfinite(hi))
		return err_set(err, "linspace bounds must be finite, got %g "
			       "and %g", lo, hi);
	if (arr_alloc_uninit(dst, ARR_F64, 1, &n, err) < 0)
		return -1;
	v = (double *)dst->data;
	step = n > 1 ? (hi - lo) / (double)(n - 1) : 0;
	for (i = 0; i < n; i++)
		v[i] = lo + (double)i * step;
	if (n > 1)
		v[n - 1] = hi;
	return 0;
}

int arr_arange(arr *dst, double lo, double hi, double step, char *err)
{
	double c, *v;
	size_t n, i;
	if (!isfinite(lo) || !isfinite(hi) || !isfinite(step))
		return err_set(err, "arange arguments must be finite, got %g, "
			       "%g, %g", lo, hi, step);
	if (step == 0)
		return err_set(err, "arange step must not be 0");
	c = ceil((hi - lo) / step);
	if (!(c < 1e15))
		return err_set(err, "arange(%g, %g, %g) would have too many "
			       "elements", lo, hi, step);
	n = c > 0 ? (size_t)c : 0;
	if (arr_alloc_uninit(dst, ARR_F64, 1, &n, err) < 0)
		return -1;
	v = (double *)dst->data;
	for (i = 0; i < n; i++)
		v[i] = lo + (double)i * step;
	return 0;
}

/* ------------------------------------------------------------------ */
/* elementwise arithmetic */

static const char *const arr_op_names[] = {
	"add", "sub", "mul", "div", "pow", "minimum", "maximum"
};

/* min/max that propagate NaN, unlike C's fmin/fmax */
static inline double arr_min2(double x, double y)
{
	return (x != x || y != y) ? x + y : (y < x ? y : x);
}

static inline double arr_max2(double x, double y)
{
	return (x != x || y != y) ? x + y : (y > x ? y : x);
}

static void arr_binblock(arr_op op, const double *a, const double *b,
			 double *o, size_t n)
{
	size_t i;
	switch (op) {
	case ARR_ADD: for (i = 0; i < n; i++) o[i] = a[i] + b[i]; break;
	case ARR_SUB: for (i = 0; i < n; i++) o[i] = a[i] - b[i]; break;
	case ARR_MUL: for (i = 0; i < n; i++) o[i] = a[i] * b[i]; break;
	case ARR_DIV: for (i = 0; i < n; i++) o[i] = a[i] / b[i]; break;
	case ARR_POW: for (i = 0; i < n; i++) o[i] = pow(a[i], b[i]); break;
	case ARR_FMIN:
		for (i = 0; i < n; i++) o[i] = arr_min2(a[i], b[i]);
		break;
	case ARR_FMAX:
		for (i = 0; i < n; i++) o[i] = arr_max2(a[i], b[i]);
		break;
	}
}

/* the scalar versions keep s out of memory so loops vectorise */
static void arr_scalblock(arr_op op, const double *a, double s, int left,
			  double *o, size_t n)
{
	size_t i;
	switch (op) {
	case ARR_ADD: for (i = 0; i < n; i++) o[i] = a[i] + s; break;
	case ARR_MUL: for (i = 0; i < n; i++) o[i] = a[i] * s; break;
	case ARR_SUB:
		if (left) for (i = 0; i < n; i++) o[i] = s - a[i];
		else for (i = 0; i < n; i++) o[i] = a[i] - s;
		break;
	case ARR_DIV:
		if (left) for (i = 0; i < n; i++) o[i] = s / a[i];
		else for (i = 0; i < n; i++) o[i] = a[i] / s;
		break;
	case ARR_POW:
		if (left) for (i = 0; i < n; i++) o[i] = pow(s, a[i]);
		else if (s == 2) for (i = 0; i < n; i++) o[i] = a[i] * a[i];
		else for (i = 0; i < n; i++) o[i] = pow(a[i], s);
		break;
	case ARR_FMIN: for (i = 0; i < n; i++) o[i] = arr_min2(a[i], s); break;
	case ARR_FMAX: for (i = 0; i < n; i++) o[i] = arr_max2(a[i], s); break;
	}
}

static void arr_unblock(arr_unop op, const double *a, double *o, size_t n)
{
	size_t i;
	switch (op) {
	case ARR_NEG: for (i = 0; i < n; i++) o[i] = -a[i]; break;
	case ARR_ABS: for (i = 0; i < n; i++) o[i] = fabs(a[i]); break;
	case ARR_SQRT: for (i = 0; i < n; i++) o[i] = sqrt(a[i]); break;
	case ARR_EXP: for (i = 0; i < n; i++) o[i] = exp(a[i]); break;
	case ARR_LOG: for (i = 0; i < n; i++) o[i] = log(a[i]); break;
	case ARR_SIN: for (i = 0; i < n; i++) o[i] = sin(a[i]); break;
	case ARR_COS: for (i = 0; i < n; i++) o[i] = cos(a[i]); break;
	case ARR_FLOOR: for (i = 0; i < n; i++) o[i] = floor(a[i]); break;
	case ARR_CEIL: for (i = 0; i < n; i++) o[i] = ceil(a[i]); break;
	}
}

/* what an elementwise map computes */
typedef struct arr_kernel {
	int kind;		/* 0 binary, 1 with a scalar, 2 unary */
	int op;
	double s;
	int left;
} arr_kernel;

/* a block of operand k at element offset off: in place when it is f64
** with unit stride (the contiguous fast path), else converted into tmp */
static const double *arr_block_in(const arr_iter *it, int k, arr_dtype dt,
				  size_t off, size_t m, double *tmp)
{
	const char *p = it->p[k] + (ptrdiff_t)off * it->inner[k] *
		(ptrdiff_t)arr_dtype_size(dt);
	if (dt == ARR_F64 && it->inner[k] == 1)
		return (const double *)p;
	arr_load(dt, p, it->inner[k], m, tmp);
	return tmp;
}

/* Whether a run can stay in float: f32 in and out with unit strides, and
** an operation whose float result equals the double result rounded to
** float (+ - * / sqrt need 53 >= 2 * 24 + 2 bits for that; negation,
** abs, floor and ceil are exact), with a scalar that float holds exactly */
static int arr_f32_ok(const arr_iter *it, const arr *a, const arr *b,
		      const arr *out, const arr_kernel *kn)
{
	if (out->dtype != ARR_F32 || a->dtype != ARR_F32 ||
	    it->inner[0] != 1 || it->inner[1] != 1)
		return 0;
	if (kn->kind == 0)
		return b->dtype == ARR_F32 && it->inner[2] == 1 &&
			kn->op <= ARR_DIV;
	if (kn->kind == 1)
		return kn->op <= ARR_DIV && (double)(float)kn->s == kn->s;
	return kn->op != ARR_EXP && kn->op != ARR_LOG && kn->op != ARR_SIN &&
		kn->op != ARR_COS;
}

static void arr_f32scal(const arr_kernel *kn, const float *a, float *o,
			size_t n)
{
	float s = (float)kn->s;
	size_t i;
	switch (kn->op) {
	case ARR_ADD: for (i = 0; i < n; i++) o[i] = a[i] + s; break;
	case ARR_MUL: for (i = 0; i < n; i++) o[i] = a[i] * s; break;
	case ARR_SUB:
		if (kn->left) for (i = 0; i < n; i++) o[i] = s - a[i];
		else for (i = 0; i < n; i++) o[i] = a[i] - s;
		break;
	default:
		if (kn->left) for (i = 0; i < n; i++) o[i] = s / a[i];
		else for (i = 0; i < n; i++) o[i] = a[i] / s;
		break;
	}
}

static void arr_f32block(const arr_kernel *kn, const float *a, const float *b,
			 float *o, size_t n)
{
	size_t i;
	if (kn->kind == 1) {
		arr_f32scal(kn, a, o, n);
	} else if (kn->kind == 0) {
		switch (kn->op) {
		case ARR_ADD: for (i = 0; i < n; i++) o[i] = a[i] + b[i]; break;
		case ARR_SUB: for (i = 0; i < n; i++) o[i] = a[i] - b[i]; break;
		case ARR_MUL: for (i = 0; i < n; i++) o[i] = a[i] * b[i]; break;
		default: for (i = 0; i < n; i++) o[i] = a[i] / b[i]; break;
		}
	} else {
		switch (kn->op) {
		case ARR_NEG: for (i = 0; i < n; i++) o[i] = -a[i]; break;
		case ARR_ABS: for (i = 0; i < n; i++) o[i] = fabsf(a[i]); break;
		case ARR_SQRT: for (i = 0; i < n; i++) o[i] = sqrtf(a[i]); break;
		case ARR_FLOOR: for (i = 0; i < n; i++) o[i] = floorf(a[i]); break;
		default: for (i = 0; i < n; i++) o[i] = ceilf(a[i]); break;
		}
	}
}

/* one block of a run through doubles: inputs in place when f64 with
** unit stride, the output written in place when it is such an f64 */
static void arr_map_block(const arr_iter *it, arr *out, const arr *a,
			  const arr *b, const arr_kernel *kn, size_t off,
			  size_t m)
{
	double ta[ARR_BLOCK], tb[ARR_BLOCK], to[ARR_BLOCK];
	const double *pa, *pb;
	char *po = it->p[0] + (ptrdiff_t)off * it->inner[0] *
		(ptrdiff_t)arr_dtype_size(out->dtype);
	double *o = (out->dtype == ARR_F64 && it->inner[0] == 1)
		? (double *)po : to;
	pa = arr_block_in(it, 1, a->dtype, off, m, ta);
	if (kn->kind == 0) {
		pb = arr_block_in(it, 2, b->dtype, off, m, tb);
		arr_binblock((arr_op)kn->op, pa, pb, o, m);
	} else if (kn->kind == 1) {
		arr_scalblock((arr_op)kn->op, pa, kn->s, kn->left, o, m);
	} else {
		arr_unblock((arr_unop)kn->op, pa, o, m);
	}
	if (o == to)	/* float output: cannot fail */
		arr_store(out->dtype, po, it->inner[0], m, to, NULL);
}

/* Runs a kernel over out (new, contiguous, f64 or f32) and its inputs */
static int arr_map(arr *out, const arr *a, const arr *b,
		   const arr_kernel *kn, char *err)
{
	const arr *ops[3] = {out, a, b};
	arr_iter it;
	size_t off, m;
	int f32;
	if (arr_iter_init(&it, b ? 3 : 2, ops) == 0)
		return 0;
	do {
		f32 = arr_f32_ok(&it, a, b, out, kn);
		for (off = 0; off < it.len; off += m) {
			if (intr_pending())
				return arr_interrupted(err);
			m = it.len - off < ARR_BLOCK ? it.len - off : ARR_BLOCK;
			if (f32)
				arr_f32block(kn, (const float *)it.p[1] + off,
					     b ? (const float *)it.p[2] + off
					     : NULL, (float *)it.p[0] + off, m);
			else
				arr_map_block(&it, out, a, b, kn, off, m);
		}
	} while (arr_iter_next(&it));
	return 0;
}

static int arr_map_new(arr *out, const arr *a, const arr *b, arr_dtype dt,
		       const arr_kernel *kn, char *err)
{
	arr o;
	if (arr_alloc_uninit(&o, dt, a->ndim, a->shape, err) < 0)
		return -1;
	if (arr_map(&o, a, b, kn, err) < 0) {
		arr_release(&o);
		return -1;
	}
	*out = o;
	return 0;
}

int arr_binop(arr *out, const arr *a, const arr *b, arr_op op, char *err)
{
	arr_kernel kn = {0, (int)op, 0, 0};
	char s1[160], s2[160];
	if ((unsigned)op > (unsigned)ARR_FMAX)
		return err_set(err, "invalid operation code %d", (int)op);
	if (!arr_same_shape(a, b)) {
		arr_describe(a, s1, sizeof s1);
		arr_describe(b, s2, sizeof s2);
		return err_set(err, "%s: shapes differ (%s and %s)",
			       arr_op_names[op], s1, s2);
	}
	return arr_map_new(out, a, b, a->dtype == ARR_F32 &&
			   b->dtype == ARR_F32 ? ARR_F32 : ARR_F64, &kn, err);
}

int arr_scalop(arr *out, const arr *a, double s, arr_op op, int scalar_left,
	       char *err)
{
	arr_kernel kn = {1, (int)op, s, scalar_left != 0};
	if ((unsigned)op > (unsigned)ARR_FMAX)
		return err_set(err, "invalid operation code %d", (int)op);
	return arr_map_new(out, a, NULL,
			   a->dtype == ARR_F32 ? ARR_F32 : ARR_F64, &kn, err);
}

int arr_unary(arr *out, const arr *a, arr_unop op, char *err)
{
	arr_kernel kn = {2, (int)op, 0, 0};
	if ((unsigned)op > (unsigned)ARR_CEIL)
		return err_set(err, "invalid operation code %d", (int)op);
	return arr_map_new(out, a, NULL,
			   a->dtype == ARR_F32 ? ARR_F32 : ARR_F64, &kn, err);
}

/* ------------------------------------------------------------------ */
/* reductions */

static const char *const arr_red_names[] = {"sum", "mean", "min", "max"};

/* Neumaier's compensated running sum: c collects the low-order bits that
** s loses, whichever of s and x is larger */
static void arr_neumaier(const double *v, size_t n, double *sum, double *comp)
{
	double s = *sum, c = *comp;
	size_t i;
	for (i = 0; i < n; i++) {
		double x = v[i], t = s + x;
		if (fabs(s) >= fabs(x))
			c += (s - t) + x;
		else
			c += (x - t) + s;
		s = t;
	}
	*sum = s;
	*comp = c;
}

/* an infinite or NaN sum makes the compensation NaN: keep the plain sum */
static double arr_neumaier_result(double s, double c)
{
	return isfinite(s) ? s + c : s;
}

/* running min or max that turns NaN as soon as one value is NaN */
static double arr_minmax_block(const double *v, size_t n, double acc, int max)
{
	size_t i;
	int nan = 0;
	if (max)
		for (i = 0; i < n; i++) {
			nan |= v[i] != v[i];
			acc = v[i] > acc ? v[i] : acc;
		}
	else
		for (i = 0; i < n; i++) {
			nan |= v[i] != v[i];
			acc = v[i] < acc ? v[i] : acc;
		}
	return nan ? NAN : acc;
}

int arr_reduce(const arr *a, arr_red op, double *res, char *err)
{
	const arr *ops[1] = {a};
	arr_iter it;
	double tmp[ARR_BLOCK], s = 0, c = 0, acc;
	size_t n, off, m;
	if ((unsigned)op > (unsigned)ARR_MAX)
		return err_set(err, "invalid reduction code %d", (int)op);
	n = arr_iter_init(&it, 1, ops);
	if (n == 0) {
		if (op == ARR_MIN || op == ARR_MAX)
			return err_set(err, "%s of an empty array",
				       arr_red_names[op]);
		*res = op == ARR_SUM ? 0.0 : NAN;
		return 0;
	}
	acc = op == ARR_MIN ? HUGE_VAL : -HUGE_VAL;
	do {
		for (off = 0; off < it.len; off += m) {
			if (intr_pending())
				return arr_interrupted(err);
			const double *v;
			m = it.len - off < ARR_BLOCK ? it.len - off : ARR_BLOCK;
			v = arr_block_in(&it, 0, a->dtype, off, m, tmp);
			if (op == ARR_SUM || op == ARR_MEAN)
				arr_neumaier(v, m, &s, &c);
			else if (acc == acc)
				acc = arr_minmax_block(v, m, acc, op == ARR_MAX);
		}
	} while (arr_iter_next(&it));
	if (op == ARR_SUM)
		*res = arr_neumaier_result(s, c);
	else if (op == ARR_MEAN)
		*res = arr_neumaier_result(s, c) / (double)n;
	else
		*res = acc;
	return 0;
}

/* one slab (the sub-array after the reduced axis at one position) folded
** into acc/comp, element by element in C order */
static void arr_fold_slab(const arr *slab, arr_red op, int first,
			  double *acc, double *comp)
{
	const arr *ops[1] = {slab};
	arr_iter it;
	double tmp[ARR_BLOCK];
	size_t off, m, j = 0, i;
	if (arr_iter_init(&it, 1, ops) == 0)
		return;
	do {
		for (off = 0; off < it.len; off += m, j += m) {
			const double *v;
			m = it.len - off < ARR_BLOCK ? it.len - off : ARR_BLOCK;
			v = arr_block_in(&it, 0, slab->dtype, off, m, tmp);
			if (first) {
				memcpy(acc + j, v, m * sizeof *v);
				continue;
			}
			if (op == ARR_SUM || op == ARR_MEAN) {
				for (i = 0; i < m; i++) {
					double s = acc[j + i], x = v[i];
					double t = s + x;
					if (fabs(s) >= fabs(x))
						comp[j + i] += (s - t) + x;
					else
						comp[j + i] += (x - t) + s;
					acc[j + i] = t;
				}
			} else if (op == ARR_MIN) {
				for (i = 0; i < m; i++)
					acc[j + i] = arr_min2(acc[j + i], v[i]);
			} else {
				for (i = 0; i < m; i++)
					acc[j + i] = arr_max2(acc[j + i], v[i]);
			}
		}
	} while (arr_iter_next(&it));
}

/* Reduction along an inner axis: walk the slabs after the axis in memory
** order and accumulate elementwise, so contiguous data is read linearly. */
static int arr_reduce_slabs(arr *out, const arr *a, int axis, arr_red op,
			    size_t outer, size_t inner, char *err)
{
	double *comp, *acc;
	arr slab;
	size_t o, k, j, n = a->shape[axis];
	ptrdiff_t es = (ptrdiff_t)arr_dtype_size(a->dtype);
	int d;
	comp = err_calloc(inner, sizeof *comp, err);
	if (comp == NULL)
		return -1;
	memset(&slab, 0, sizeof slab);
	slab.dtype = a->dtype;
	slab.ndim = a->ndim - axis - 1;
	for (d = 0; d < slab.ndim; d++) {
		slab.shape[d] = a->shape[axis + 1 + d];
		slab.strides[d] = a->strides[axis + 1 + d];
	}
	for (o = 0; o < outer; o++) {
		char *base = a->data;
		size_t r = o;
		for (d = axis - 1; d >= 0; d--) {	/* outer multi-index */
			base += (ptrdiff_t)(r % a->shape[d]) * a->strides[d] * es;
			r /= a->shape[d];
		}
		acc = (double *)out->data + o * inner;
		memset(comp, 0, inner * sizeof *comp);
		for (k = 0; k < n; k++) {
			if (intr_pending()) {
				free(comp);
				return arr_interrupted(err);
			}
			slab.data = base + (ptrdiff_t)k * a->strides[axis] * es;
			arr_fold_slab(&slab, op, k == 0, acc, comp);
		}
		if (op == ARR_SUM || op == ARR_MEAN)
			for (j = 0; j < inner; j++) {
				acc[j] = arr_neumaier_result(acc[j], comp[j]);
				if (op == ARR_MEAN)
					acc[j] /= (double)n;
			}
	}
	free(comp);
	return 0;
}

/* Reduction along the last (or only non-trivial trailing) axis: each
** output element is a full reduction of a 1-d line. */
static int arr_reduce_lines(arr *out, const arr *a, int axis, arr_red op,
			    size_t outer, char *err)
{
	arr line;
	size_t o;
	ptrdiff_t es = (ptrdiff_t)arr_dtype_size(a->dtype);
	int d;
	memset(&line, 0, sizeof line);
	line.dtype = a->dtype;
	line.ndim = 1;
	line.shape[0] = a->shape[axis];
	line.strides[0] = a->strides[axis];
	for (o = 0; o < outer; o++) {
		char *base = a->data;
		size_t r = o;
		for (d = axis - 1; d >= 0; d--) {
			base += (ptrdiff_t)(r % a->shape[d]) * a->strides[d] * es;
			r /= a->shape[d];
		}
		line.data = base;
		if (arr_reduce(&line, op, (double *)out->data + o, err) < 0)
			return -1;
	}
	return 0;
}

int arr_reduce_axis(arr *out, const arr *a, int axis, arr_red op, char *err)
{
	size_t oshape[ARR_MAXDIM], outer = 1, inner = 1, n;
	arr o;
	int d, rc;
	if ((unsigned)op > (unsigned)ARR_MAX)
		return err_set(err, "invalid reduction code %d", (int)op);
	if (arr_check_axis(a, axis, err) < 0)
		return -1;
	n = a->shape[axis];
	for (d = 0; d < a->ndim; d++) {
		if (d < axis)
			outer *= a->shape[d];
		else if (d > axis)
			inner *= a->shape[d];
		if (d != axis)
			oshape[d < axis ? d : d - 1] = a->shape[d];
	}
	if (n == 0 && (op == ARR_MIN || op == ARR_MAX) && outer * inner > 0)
		return err_set(err, "%s along axis %d of length 0",
			       arr_red_names[op], axis);
	if (arr_alloc_uninit(&o, ARR_F64, a->ndim - 1, oshape, err) < 0)
		return -1;
	if (outer * inner == 0)
		rc = 0;
	else if (n == 0)
		rc = arr_fill(&o, op == ARR_SUM ? 0.0 : NAN, err);
	else if (inner == 1)
		rc = arr_reduce_lines(&o, a, axis, op, outer, err);
	else
		rc = arr_reduce_slabs(&o, a, axis, op, outer, inner, err);
	if (rc < 0) {
		arr_release(&o);
		return -1;
	}
	*out = o;
	return 0;
}
