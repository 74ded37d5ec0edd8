/*
** larray.c - the Lua binding of arr (see larray.h and array.h).
**
** Arguments are checked here and turned into core calls; numerics live
** in array.c. A new result is pushed as an empty userdata first and the
** core writes into it, so a Lua error (memory, bad argument) can never
** leak a buffer: the userdata's __gc releases whatever it holds.
*/
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "array.h"
#include "larray.h"
#include "lbind.h"

#define LARRAY_GC_MIN (64 * 1024)	/* report buffers above this size */
#define LARRAY_SHOW_MAX 20		/* __tostring lists at most this many */

static void larray_makemeta(lua_State *L);

/* ------------------------------------------------------------------ */
/* the exported helpers */

/* Lua only sees the userdata's few bytes; a GC step sized by the buffer
** makes the collector run as if Lua itself had allocated it. A buffer
** with one reference was just made; views of old buffers are not counted
** again. */
void larray_account(lua_State *L, const arr *a)
{
	size_t kib;
	if (a->buf == NULL || a->buf->refs != 1 ||
	    a->buf->nbytes <= LARRAY_GC_MIN)
		return;
	kib = a->buf->nbytes / 1024;
	lua_gc(L, LUA_GCSTEP, kib > INT_MAX ? INT_MAX : (int)kib);
}

arr *larray_push_empty(lua_State *L)
{
	arr *a = lua_newuserdatauv(L, sizeof(arr), 0);
	memset(a, 0, sizeof *a);
	if (luaL_getmetatable(L, LARRAY_MT) == LUA_TNIL) {
		lua_pop(L, 1);
		larray_makemeta(L);
		luaL_getmetatable(L, LARRAY_MT);
	}
	lua_setmetatable(L, -2);
	return a;
}

arr *larray_test(lua_State *L, int i)
{
	arr *a = luaL_testudata(L, i, LARRAY_MT);
	return a != NULL && a->data != NULL ? a : NULL;
}

arr *larray_check(lua_State *L, int i)
{
	arr *a = luaL_checkudata(L, i, LARRAY_MT);
	if (a->data == NULL)
		luaL_argerror(L, i, "array has been closed");
	return a;
}

static arr *larray_new_common(lua_State *L, arr_dtype dt, int ndim,
			      const size_t *shape, int zero)
{
	char err[ERR_LEN];
	arr *a = larray_push_empty(L);
	int rc = zero ? arr_alloc(a, dt, ndim, shape, err)
		: arr_alloc_uninit(a, dt, ndim, shape, err);
	if (rc < 0)
		lbind_error(L, "array", err);
	larray_account(L, a);
	return a;
}

arr *larray_new(lua_State *L, arr_dtype dt, int ndim, const size_t *shape)
{
	return larray_new_common(L, dt, ndim, shape, 1);
}

arr *larray_new_uninit(lua_State *L, arr_dtype dt, int ndim,
		       const size_t *shape)
{
	return larray_new_common(L, dt, ndim, shape, 0);
}

arr *larray_push(lua_State *L, arr *a)
{
	arr *u = lua_newuserdatauv(L, sizeof(arr), 0);
	*u = *a;
	memset(a, 0, sizeof *a);
	if (luaL_getmetatable(L, LARRAY_MT) == LUA_TNIL) {
		lua_pop(L, 1);
		larray_makemeta(L);
		luaL_getmetatable(L, LARRAY_MT);
	}
	lua_setmetatable(L, -2);
	larray_account(L, u);
	return u;
}

/* ------------------------------------------------------------------ */
/* nested tables */

/* "[2][3]" for the 1-based position idx[0..depth-1] */
static void larray_pos(const size_t *idx, int depth, char *buf, size_t n)
{
	size_t used = 0;
	int d;
	buf[0] = '\0';
	for (d = 0; d < depth && used < n; d++) {
		int w = snprintf(buf + used, n - used, "[%zu]", idx[d] + 1);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

/* The shape of a nested table, read along its first elements. The table
** is at the top of the stack and stays there. */
static int larray_table_shape(lua_State *L, int argi, size_t *shape)
{
	int ndim = 0, pushed = 0, t;
	size_t idx[ARR_MAXDIM] = {0};
	char pos[96];
	for (;;) {
		if (ndim == ARR_MAXDIM)
			luaL_argerror(L, argi, lua_pushfstring(L, "table nested "
				      "deeper than %d levels", ARR_MAXDIM));
		shape[ndim++] = lua_rawlen(L, -1);
		if (shape[ndim - 1] == 0)
			break;
		t = lua_rawgeti(L, -1, 1);
		pushed++;
		if (t == LUA_TNUMBER)
			break;
		if (t != LUA_TTABLE) {
			larray_pos(idx, ndim, pos, sizeof pos);
			luaL_argerror(L, argi, lua_pushfstring(L, "element %s "
				      "is a %s, expected a number or a table",
				      pos, lua_typename(L, t)));
		}
	}
	lua_pop(L, pushed);
	return ndim;
}

/* Writes the nested table at the top of the stack into a (C order),
** checking that every sub-table has the length the shape says. */
static void larray_table_fill(lua_State *L, int argi, arr *a, int depth,
			      size_t *idx)
{
	size_t n = lua_rawlen(L, -1), j;
	char pos[96], err[ERR_LEN];
	if (n != a->shape[depth]) {
		larray_pos(idx, depth, pos, sizeof pos);
		luaL_argerror(L, argi, lua_pushfstring(L, "ragged table: "
			      "%s%s has %d elements, expected %d",
			      depth ? "element " : "the table", pos, (int)n,
			      (int)a->shape[depth]));
	}
	for (j = 0; j < n; j++) {
		int t = lua_rawgeti(L, -1, (lua_Integer)j + 1);
		idx[depth] = j;
		if (depth == a->ndim - 1) {
			if (t != LUA_TNUMBER) {
				larray_pos(idx, depth + 1, pos, sizeof pos);
				luaL_argerror(L, argi, lua_pushfstring(L,
					      "ragged table: element %s is a "
					      "%s, expected a number", pos,
					      lua_typename(L, t)));
			}
			if (arr_set(a, idx, lua_tonumber(L, -1), err) < 0) {
				larray_pos(idx, depth + 1, pos, sizeof pos);
				luaL_argerror(L, argi, lua_pushfstring(L,
					      "element %s: %s", pos, err));
			}
		} else {
			if (t != LUA_TTABLE) {
				larray_pos(idx, depth + 1, pos, sizeof pos);
				luaL_argerror(L, argi, lua_pushfstring(L,
					      "ragged table: element %s is a "
					      "%s, expected a table", pos,
					      lua_typename(L, t)));
			}
			larray_table_fill(L, argi, a, depth + 1, idx);
		}
		lua_pop(L, 1);
	}
}

/* a new array of dtype dt from the nested table at argi, pushed */
static arr *larray_from_table(lua_State *L, int argi, arr_dtype dt)
{
	size_t shape[ARR_MAXDIM], idx[ARR_MAXDIM] = {0};
	int ndim;
	arr *a;
	lua_pushvalue(L, argi);
	ndim = larray_table_shape(L, argi, shape);
	lua_pop(L, 1);
	a = larray_new_uninit(L, dt, ndim, shape);
	lua_pushvalue(L, argi);
	larray_table_fill(L, argi, a, 0, idx);
	lua_pop(L, 1);
	return a;
}

arr *larray_from_arg(lua_State *L, int i, arr_dtype dt)
{
	arr *a;
	i = lua_absindex(L, i);
	a = larray_test(L, i);
	if (a != NULL)
		return a;
	if (lua_type(L, i) == LUA_TTABLE)
		return larray_from_table(L, i, dt);
	if (luaL_testudata(L, i, LARRAY_MT) != NULL)
		larray_check(L, i);	/* a closed array: say so */
	luaL_typeerror(L, i, "array or table of numbers");
	return NULL;
}

/* a itself when it is contiguous f64, else a copy pushed on the stack */
static arr *larray_f64_of(lua_State *L, arr *a, const char *name)
{
	char err[ERR_LEN];
	arr c;
	if (a->dtype == ARR_F64 && arr_is_contiguous(a))
		return a;
	if (arr_copy(&c, a, ARR_F64, err))
		lbind_error(L, name, err);
	return larray_push(L, &c);
}

arr *larray_f64(lua_State *L, int i, const char *name)
{
	return larray_f64_of(L, larray_from_arg(L, i, ARR_F64), name);
}

/* a row or column matrix holds a vector as well as a 1-D array does; the
** shape is checked before any copy is made */
const double *larray_vector(lua_State *L, int i, int squeeze,
			    const char *name, size_t *n)
{
	arr *a = larray_from_arg(L, i, ARR_F64);
	int big = 0;
	for (int d = 0; d < a->ndim; d++)
		big += a->shape[d] > 1;
	if (squeeze ? big > 1 : a->ndim != 1)
		return NULL;
	a = larray_f64_of(L, a, name);
	*n = arr_size(a);
	return (const double *)a->data;
}

const double *larray_doubles(lua_State *L, int i, const char *name,
			     size_t *n)
{
	const double *v = larray_vector(L, i, 0, name, n);
	if (v == NULL)
		luaL_error(L, "%s must be 1-D (a list of numbers)", name);
	return v;
}

/* ------------------------------------------------------------------ */
/* argument helpers */

static arr_dtype larray_opt_dtype(lua_State *L, int i, arr_dtype def)
{
	arr_dtype dt = def;
	char err[ERR_LEN];
	if (lua_isnoneornil(L, i))
		return def;
	if (arr_dtype_parse(luaL_checkstring(L, i), &dt, err) < 0)
		luaL_argerror(L, i, err);
	return dt;
}

/* a non-negative integer from the value at the top of the stack */
static size_t larray_dim_value(lua_State *L, int argi, int entry)
{
	int isint = 0;
	lua_Integer v = 0;
	if (lua_type(L, -1) == LUA_TNUMBER)
		v = lua_tointegerx(L, -1, &isint);
	if (!isint || v < 0) {
		const char *got = lua_type(L, -1) == LUA_TNUMBER
			? luaL_tolstring(L, -1, NULL) : luaL_typename(L, -1);
		if (entry > 0)
			luaL_argerror(L, argi, lua_pushfstring(L, "shape "
				      "entry %d is %s, expected a non-negative "
				      "integer", entry, got));
		luaL_argerror(L, argi, lua_pushfstring(L, "shape is %s, "
			      "expected a non-negative integer or a table",
			      got));
	}
	return (size_t)v;
}

/* a shape: a number (1-d) or a table of numbers; returns ndim */
static int larray_shape_arg(lua_State *L, int argi, size_t *shape)
{
	size_t n, k;
	if (lua_type(L, argi) == LUA_TNUMBER) {
		lua_pushvalue(L, argi);
		shape[0] = larray_dim_value(L, argi, 0);
		lua_pop(L, 1);
		return 1;
	}
	if (lua_type(L, argi) != LUA_TTABLE)
		luaL_typeerror(L, argi, "shape (number or table)");
	n = lua_rawlen(L, argi);
	if (n > ARR_MAXDIM)
		luaL_argerror(L, argi, lua_pushfstring(L, "shape has %d "
			      "entries, at most %d allowed", (int)n,
			      ARR_MAXDIM));
	for (k = 0; k < n; k++) {
		lua_rawgeti(L, argi, (lua_Integer)k + 1);
		shape[k] = larray_dim_value(L, argi, (int)k + 1);
		lua_pop(L, 1);
	}
	return (int)n;
}

static lua_Integer larray_int_arg(lua_State *L, int argi)
{
	int isint = 0;
	lua_Integer v = lua_tointegerx(L, argi, &isint);
	if (!isint) {
		if (lua_type(L, argi) == LUA_TNUMBER)
			luaL_argerror(L, argi, lua_pushfstring(L, "index %f is "
				      "not an integer", lua_tonumber(L, argi)));
		luaL_typeerror(L, argi, "integer");
	}
	return v;
}

/* a 1-based index (negative counts from the end) as 0-based, or an
** error naming the index, the dimension and its length */
static size_t larray_index_value(lua_State *L, const char *fname,
				 lua_Integer i, int dim, size_t n)
{
	lua_Integer len = (lua_Integer)n;
	if (i >= 1 && i <= len)
		return (size_t)(i - 1);
	if (i < 0 && i >= -len)	/* not -i: math.mininteger has no negation */
		return (size_t)(len + i);
	luaL_error(L, "%s: index %I out of range for dimension %d of "
		   "length %I", fname, i, dim, len);
	return 0;
}

/* a 1-based axis (negative counts from the end) as 0-based */
static int larray_axis_arg(lua_State *L, int argi, const arr *a)
{
	lua_Integer ax = larray_int_arg(L, argi);
	if (ax < 0)
		ax += a->ndim + 1;
	if (ax < 1 || ax > a->ndim)
		luaL_argerror(L, argi, lua_pushfstring(L, "axis %I out of "
			      "range for a %d-d array", larray_int_arg(L, argi),
			      a->ndim));
	return (int)ax - 1;
}

/* ------------------------------------------------------------------ */
/* construction */

static int larray_zeros(lua_State *L)
{
	size_t shape[ARR_MAXDIM];
	int ndim = larray_shape_arg(L, 1, shape);
	larray_new(L, larray_opt_dtype(L, 2, ARR_F64), ndim, shape);
	return 1;
}

static int larray_fill_new(lua_State *L, int shapei, double v, int dti,
			   const char *fname)
{
	size_t shape[ARR_MAXDIM];
	char err[ERR_LEN];
	int ndim = larray_shape_arg(L, shapei, shape);
	arr *a = larray_new_uninit(L, larray_opt_dtype(L, dti, ARR_F64), ndim,
				   shape);
	if (arr_fill(a, v, err) < 0)
		lbind_error(L, fname, err);
	return 1;
}

static int larray_ones(lua_State *L)
{
	return larray_fill_new(L, 1, 1.0, 2, "array.ones");
}

static int larray_full(lua_State *L)
{
	return larray_fill_new(L, 1, luaL_checknumber(L, 2), 3, "array.full");
}

static int larray_linspace(lua_State *L)
{
	double lo = luaL_checknumber(L, 1), hi = luaL_checknumber(L, 2);
	lua_Integer n = larray_int_arg(L, 3);
	char err[ERR_LEN];
	arr *a;
	if (n < 1)
		luaL_argerror(L, 3, lua_pushfstring(L, "n is %I, expected at "
			      "least 1", n));
	a = larray_push_empty(L);
	if (arr_linspace(a, lo, hi, (size_t)n, err) < 0)
		lbind_error(L, "array.linspace", err);
	larray_account(L, a);
	return 1;
}

static int larray_arange(lua_State *L)
{
	double lo = 0, hi, step = 1;
	char err[ERR_LEN];
	arr *a;
	if (lua_isnoneornil(L, 2)) {
		hi = luaL_checknumber(L, 1);
	} else {
		lo = luaL_checknumber(L, 1);
		hi = luaL_checknumber(L, 2);
		step = luaL_optnumber(L, 3, 1.0);
	}
	a = larray_push_empty(L);
	if (arr_arange(a, lo, hi, step, err) < 0)
		lbind_error(L, "array.arange", err);
	larray_account(L, a);
	return 1;
}

static int larray_from(lua_State *L)
{
	char err[ERR_LEN];
	arr *src = larray_test(L, 1), *a;
	if (lua_type(L, 1) == LUA_TNUMBER) {
		a = larray_new_uninit(L, larray_opt_dtype(L, 2, ARR_F64), 0,
				      NULL);
		if (arr_set(a, NULL, lua_tonumber(L, 1), err) < 0)
			luaL_argerror(L, 1, err);
		return 1;
	}
	if (src != NULL) {
		arr_dtype dt = larray_opt_dtype(L, 2, src->dtype);
		a = larray_push_empty(L);
		if (arr_copy(a, src, dt, err) < 0)
			lbind_error(L, "array.from", err);
		larray_account(L, a);
		return 1;
	}
	luaL_checktype(L, 1, LUA_TTABLE);
	larray_from_table(L, 1, larray_opt_dtype(L, 2, ARR_F64));
	return 1;
}

static int larray_isarray(lua_State *L)
{
	lua_pushboolean(L, luaL_testudata(L, 1, LARRAY_MT) != NULL);
	return 1;
}

/* ------------------------------------------------------------------ */
/* fields, indexing, printing */

/* an element as a Lua value: integer dtypes give Lua integers */
static void larray_push_elem(lua_State *L, const arr *a, const size_t *idx)
{
	double v = arr_get(a, idx);
	if (arr_dtype_is_float(a->dtype))
		lua_pushnumber(L, v);
	else
		lua_pushinteger(L, (lua_Integer)v);
}

static void larray_push_shape(lua_State *L, const arr *a)
{
	int k;
	lua_createtable(L, a->ndim, 0);
	for (k = 0; k < a->ndim; k++) {
		lua_pushinteger(L, (lua_Integer)a->shape[k]);
		lua_rawseti(L, -2, k + 1);
	}
}

/* a[i]: the number of a 1-d array, else the view without the first axis */
static int larray_index_int(lua_State *L, arr *a)
{
	char err[ERR_LEN];
	size_t i;
	arr *v;
	if (a->ndim == 0)
		return luaL_error(L, "array: cannot index a 0-d array");
	i = larray_index_value(L, "array", larray_int_arg(L, 2), 1,
			       a->shape[0]);
	if (a->ndim == 1) {
		larray_push_elem(L, a, &i);
		return 1;
	}
	v = larray_push_empty(L);
	if (arr_take(v, a, 0, i, err) < 0)
		lbind_error(L, "array", err);
	return 1;
}

static int larray_index(lua_State *L)
{
	arr *a = luaL_checkudata(L, 1, LARRAY_MT);
	const char *k;
	if (lua_type(L, 2) == LUA_TNUMBER)
		return larray_index_int(L, larray_check(L, 1));
	if (lua_type(L, 2) != LUA_TSTRING)
		return 0;
	k = lua_tostring(L, 2);
	if (a->data != NULL) {
		if (strcmp(k, "shape") == 0) {
			larray_push_shape(L, a);
			return 1;
		} else if (strcmp(k, "ndim") == 0) {
			lua_pushinteger(L, a->ndim);
			return 1;
		} else if (strcmp(k, "dtype") == 0) {
			lua_pushstring(L, arr_dtype_name(a->dtype));
			return 1;
		} else if (strcmp(k, "size") == 0) {
			lua_pushinteger(L, (lua_Integer)arr_size(a));
			return 1;
		}
	}
	lua_pushvalue(L, 2);
	lua_rawget(L, lua_upvalueindex(1));
	return 1;
}

/* put value at stack index vi into the array (or view) a */
static void larray_store(lua_State *L, arr *a, int vi, const char *fname)
{
	char err[ERR_LEN];
	if (lua_type(L, vi) == LUA_TNUMBER) {
		if (arr_fill(a, lua_tonumber(L, vi), err) < 0)
			lbind_error(L, fname, err);
		return;
	}
	if (lua_type(L, vi) != LUA_TTABLE && larray_test(L, vi) == NULL)
		luaL_error(L, "%s: cannot store a %s in an array", fname,
			   luaL_typename(L, vi));
	if (arr_assign(a, larray_from_arg(L, vi, a->dtype), err) < 0)
		lbind_error(L, fname, err);
}

/* a[i] = v: an element of a 1-d array, or a whole frame of an n-d one */
static int larray_newindex(lua_State *L)
{
	arr *a = larray_check(L, 1), *v;
	char err[ERR_LEN];
	size_t i;
	if (lua_type(L, 2) != LUA_TNUMBER)
		return luaL_error(L, "array: cannot set field '%s' of an array",
				  luaL_tolstring(L, 2, NULL));
	if (a->ndim == 0)
		return luaL_error(L, "array: cannot index a 0-d array");
	i = larray_index_value(L, "array", larray_int_arg(L, 2), 1,
			       a->shape[0]);
	if (a->ndim == 1) {
		if (lua_type(L, 3) != LUA_TNUMBER)
			return luaL_error(L, "array: element %I of a 1-d array "
					  "must be a number, got a %s",
					  lua_tointeger(L, 2),
					  luaL_typename(L, 3));
		if (arr_set(a, &i, lua_tonumber(L, 3), err) < 0)
			lbind_error(L, "array", err);
		return 0;
	}
	v = larray_push_empty(L);
	if (arr_take(v, a, 0, i, err) < 0)
		lbind_error(L, "array", err);
	larray_store(L, v, 3, "array");
	return 0;
}

static int larray_len(lua_State *L)
{
	arr *a = larray_check(L, 1);
	if (a->ndim == 0)
		return luaL_error(L, "array: a 0-d array has no length");
	lua_pushinteger(L, (lua_Integer)a->shape[0]);
	return 1;
}

/* "array(2000x128x128 u16)", with the values when there are few */
static int larray_tostring(lua_State *L)
{
	arr *a = luaL_checkudata(L, 1, LARRAY_MT);
	char d[200], num[64];
	luaL_Buffer b;
	size_t n, k, row;
	if (a->data == NULL) {
		lua_pushliteral(L, "array(closed)");
		return 1;
	}
	arr_describe(a, d, sizeof d);
	luaL_buffinit(L, &b);
	luaL_addstring(&b, "array(");
	luaL_addstring(&b, d);
	n = arr_size(a);
	if (n > 0 && n <= LARRAY_SHOW_MAX) {
		row = a->ndim > 0 ? a->shape[a->ndim - 1] : 1;
		luaL_addchar(&b, ':');
		for (k = 0; k < n; k++) {
			snprintf(num, sizeof num, "%s%.7g",
				 k > 0 && k % row == 0 ? ", " : " ",
				 arr_get_flat(a, k));
			luaL_addstring(&b, num);
		}
	}
	luaL_addchar(&b, ')');
	luaL_pushresult(&b);
	return 1;
}

static int larray_gc(lua_State *L)
{
	arr *a = luaL_checkudata(L, 1, LARRAY_MT);
	arr_release(a);
	return 0;
}

/* ------------------------------------------------------------------ */
/* element access and views */

/* indices from argument 2 on, one per axis */
static void larray_indices(lua_State *L, const arr *a, size_t *idx,
			   const char *fname)
{
	int k;
	for (k = 0; k < a->ndim; k++)
		idx[k] = larray_index_value(L, fname, larray_int_arg(L, k + 2),
					    k + 1, a->shape[k]);
}

static int larray_get(lua_State *L)
{
	arr *a = larray_check(L, 1);
	size_t idx[ARR_MAXDIM];
	if (lua_gettop(L) - 1 != a->ndim)
		return luaL_error(L, "array.get: %d indices for a %d-d array",
				  lua_gettop(L) - 1, a->ndim);
	larray_indices(L, a, idx, "array.get");
	larray_push_elem(L, a, idx);
	return 1;
}

static int larray_set(lua_State *L)
{
	arr *a = larray_check(L, 1);
	size_t idx[ARR_MAXDIM];
	char err[ERR_LEN];
	if (lua_gettop(L) - 2 != a->ndim)
		return luaL_error(L, "array.set: %d indices for a %d-d array "
				  "(call a:set(i, ..., value))",
				  lua_gettop(L) - 2, a->ndim);
	larray_indices(L, a, idx, "array.set");
	if (arr_set(a, idx, luaL_checknumber(L, a->ndim + 2), err) < 0)
		lbind_error(L, "array.set", err);
	return 0;
}

/* a:slice(axis, first [, last [, step]]): 1-based, inclusive */
static int larray_slice(lua_State *L)
{
	arr *a = larray_check(L, 1), *v;
	int axis = larray_axis_arg(L, 2, a);
	lua_Integer n = (lua_Integer)a->shape[axis];
	lua_Integer first = larray_int_arg(L, 3);
	lua_Integer last = lua_isnoneornil(L, 4) ? n : larray_int_arg(L, 4);
	lua_Integer step = lua_isnoneornil(L, 5) ? 1 : larray_int_arg(L, 5);
	char err[ERR_LEN];
	lua_Integer f = first < 0 ? n + 1 + first : first;
	lua_Integer l = last < 0 ? n + 1 + last : last;
	if (f < 1 || f > n + 1)
		luaL_argerror(L, 3, lua_pushfstring(L, "first index %I out of "
			      "range for dimension %d of length %I", first,
			      axis + 1, n));
	if (l < f - 1 || l > n)
		luaL_argerror(L, 4, lua_pushfstring(L, "last index %I out of "
			      "range for dimension %d of length %I (first is "
			      "%I)", last, axis + 1, n, first));
	if (step < 1)
		luaL_argerror(L, 5, lua_pushfstring(L, "step is %I, expected "
			      "a positive integer", step));
	v = larray_push_empty(L);
	if (arr_slice(v, a, axis, (size_t)f - 1, (size_t)l, (size_t)step,
		      err) < 0)
		lbind_error(L, "array.slice", err);
	return 1;
}

static int larray_frame(lua_State *L)
{
	arr *a = larray_check(L, 1), *v;
	char err[ERR_LEN];
	size_t i;
	if (a->ndim == 0)
		return luaL_error(L, "array.frame: a 0-d array has no frames");
	i = larray_index_value(L, "array.frame", larray_int_arg(L, 2), 1,
			       a->shape[0]);
	v = larray_push_empty(L);
	if (arr_take(v, a, 0, i, err) < 0)
		lbind_error(L, "array.frame", err);
	return 1;
}

/* a:reshape(shape) or a:reshape(n1, n2, ...); one entry may be -1 */
static int larray_reshape(lua_State *L)
{
	arr *a = larray_check(L, 1), *v, *src = a;
	size_t shape[ARR_MAXDIM], known = 1;
	int ndim = 0, k, infer = -1, top = lua_gettop(L);
	char err[ERR_LEN];
	if (lua_type(L, 2) == LUA_TTABLE) {
		int n = (int)lua_rawlen(L, 2);
		if (n > ARR_MAXDIM)
			luaL_argerror(L, 2, "too many dimensions");
		for (k = 0; k < n; k++)
			lua_rawgeti(L, 2, k + 1);
		ndim = n;
	} else {
		ndim = top - 1;
		if (ndim > ARR_MAXDIM)
			luaL_argerror(L, 2, "too many dimensions");
		for (k = 0; k < ndim; k++)
			lua_pushvalue(L, k + 2);
	}
	for (k = 0; k < ndim; k++) {	/* values are at top+1 .. top+ndim */
		int isint = 0;
		lua_Integer e = lua_tointegerx(L, top + 1 + k, &isint);
		if (!isint || e < -1 || lua_type(L, top + 1 + k) != LUA_TNUMBER)
			luaL_argerror(L, 2, lua_pushfstring(L, "shape entry %d "
				      "is not a non-negative integer (or -1)",
				      k + 1));
		if (e == -1) {
			if (infer >= 0)
				luaL_argerror(L, 2, "more than one -1 in shape");
			infer = k;
			shape[k] = 1;
		} else {
			shape[k] = (size_t)e;
			known *= shape[k];
		}
	}
	lua_settop(L, top);
	if (infer >= 0)
		shape[infer] = known ? arr_size(a) / known : 0;
	if (!arr_is_contiguous(a)) {
		src = larray_push_empty(L);
		if (arr_copy(src, a, a->dtype, err) < 0)
			lbind_error(L, "array.reshape", err);
		larray_account(L, src);
	}
	v = larray_push_empty(L);
	if (arr_reshape(v, src, ndim, shape, err) < 0)
		lbind_error(L, "array.reshape", err);
	return 1;
}

static int larray_copy_to(lua_State *L, arr_dtype dt, const char *fname)
{
	arr *a = larray_check(L, 1), *c;
	char err[ERR_LEN];
	c = larray_push_empty(L);
	if (arr_copy(c, a, dt, err) < 0)
		lbind_error(L, fname, err);
	larray_account(L, c);
	return 1;
}

static int larray_copy(lua_State *L)
{
	arr *a = larray_check(L, 1);
	return larray_copy_to(L, larray_opt_dtype(L, 2, a->dtype),
			      "array.copy");
}

static int larray_astype(lua_State *L)
{
	larray_check(L, 1);
	luaL_checkstring(L, 2);
	return larray_copy_to(L, larray_opt_dtype(L, 2, ARR_F64),
			      "array.astype");
}

static int larray_contiguous(lua_State *L)
{
	arr *a = larray_check(L, 1);
	if (arr_is_contiguous(a)) {
		lua_settop(L, 1);
		return 1;
	}
	return larray_copy_to(L, a->dtype, "array.contiguous");
}

/* a:hash(): arr_hash as 16 hex digits (a key for caches) */
static int larray_hash(lua_State *L)
{
	arr *a = larray_check(L, 1);
	char buf[24];
	if (!arr_is_contiguous(a)) {
		larray_copy_to(L, a->dtype, "array.hash");
		a = larray_check(L, -1);
	}
	snprintf(buf, sizeof buf, "%016llx", (unsigned long long)arr_hash(a));
	lua_pushstring(L, buf);
	return 1;
}

/* nested tables, C order; the element at idx[0..depth-1] */
static void larray_push_table(lua_State *L, const arr *a, int depth,
			      size_t *idx)
{
	size_t j, n = a->shape[depth];
	luaL_checkstack(L, 4, "array.totable");
	lua_createtable(L, n > INT_MAX ? INT_MAX : (int)n, 0);
	for (j = 0; j < n; j++) {
		idx[depth] = j;
		if (depth == a->ndim - 1)
			larray_push_elem(L, a, idx);
		else
			larray_push_table(L, a, depth + 1, idx);
		lua_rawseti(L, -2, (lua_Integer)j + 1);
	}
}

static int larray_totable(lua_State *L)
{
	arr *a = larray_check(L, 1);
	size_t idx[ARR_MAXDIM];
	if (a->ndim == 0) {
		larray_push_elem(L, a, idx);
		return 1;
	}
	larray_push_table(L, a, 0, idx);
	return 1;
}

static int larray_fill(lua_State *L)
{
	arr *a = larray_check(L, 1);
	char err[ERR_LEN];
	if (arr_fill(a, luaL_checknumber(L, 2), err) < 0)
		lbind_error(L, "array.fill", err);
	lua_settop(L, 1);
	return 1;
}

static int larray_assign(lua_State *L)
{
	arr *a = larray_check(L, 1);
	luaL_argexpected(L, !lua_isnoneornil(L, 2), 2, "array, table or number");
	if (lua_type(L, 2) != LUA_TNUMBER && lua_type(L, 2) != LUA_TTABLE &&
	    larray_test(L, 2) == NULL)
		luaL_typeerror(L, 2, "array, table or number");
	larray_store(L, a, 2, "array.assign");
	lua_settop(L, 1);
	return 1;
}

/* ------------------------------------------------------------------ */
/* reductions */

static int larray_reduce(lua_State *L, arr_red op, const char *fname)
{
	arr *a = larray_check(L, 1), *o;
	char err[ERR_LEN];
	double r;
	if (lua_isnoneornil(L, 2)) {
		if (arr_reduce(a, op, &r, err) < 0)
			lbind_error(L, fname, err);
		lua_pushnumber(L, r);
		return 1;
	}
	{
		int axis = larray_axis_arg(L, 2, a);
		o = larray_push_empty(L);
		if (arr_reduce_axis(o, a, axis, op, err) < 0)
			lbind_error(L, fname, err);
		larray_account(L, o);
	}
	return 1;
}

static int larray_sum(lua_State *L) { return larray_reduce(L, ARR_SUM, "array.sum"); }
static int larray_mean(lua_State *L) { return larray_reduce(L, ARR_MEAN, "array.mean"); }
static int larray_min(lua_State *L) { return larray_reduce(L, ARR_MIN, "array.min"); }
static int larray_max(lua_State *L) { return larray_reduce(L, ARR_MAX, "array.max"); }

/* ------------------------------------------------------------------ */
/* arithmetic */

static const char *const larray_op_fnames[] = {
	"array.add", "array.sub", "array.mul", "array.div", "array.pow",
	"array.minimum", "array.maximum"
};

/* a op b where each is an array, a table (converted to f64) or a number,
** at least one of them an array */
static int larray_arith(lua_State *L, arr_op op)
{
	const char *fname = larray_op_fnames[op];
	arr *a = larray_test(L, 1), *b = larray_test(L, 2), *o;
	char err[ERR_LEN];
	int rc;
	lua_settop(L, 2);
	if (a == NULL && b == NULL)
		return luaL_error(L, "%s: expected an array operand, got %s "
				  "and %s", fname, luaL_typename(L, 1),
				  luaL_typename(L, 2));
	if (a != NULL && lua_type(L, 2) == LUA_TTABLE)
		b = larray_from_arg(L, 2, ARR_F64);
	else if (b != NULL && lua_type(L, 1) == LUA_TTABLE)
		a = larray_from_arg(L, 1, ARR_F64);
	if ((a == NULL && lua_type(L, 1) != LUA_TNUMBER) ||
	    (b == NULL && lua_type(L, 2) != LUA_TNUMBER))
		return luaL_error(L, "%s: cannot combine %s and %s", fname,
				  a ? "an array" : luaL_typename(L, 1),
				  b ? "an array" : luaL_typename(L, 2));
	o = larray_push_empty(L);
	if (a != NULL && b != NULL)
		rc = arr_binop(o, a, b, op, err);
	else if (a != NULL)
		rc = arr_scalop(o, a, lua_tonumber(L, 2), op, 0, err);
	else
		rc = arr_scalop(o, b, lua_tonumber(L, 1), op, 1, err);
	if (rc < 0) {	/* the core names the operation too: say it once */
		const char *m = err, *dot = strchr(fname, '.') + 1;
		size_t k = strlen(dot);
		if (strncmp(err, dot, k) == 0 && err[k] == ':')
			m = err + k + 2;
		lbind_error(L, fname, m);
	}
	larray_account(L, o);
	return 1;
}

static int larray_add(lua_State *L) { return larray_arith(L, ARR_ADD); }
static int larray_sub(lua_State *L) { return larray_arith(L, ARR_SUB); }
static int larray_mul(lua_State *L) { return larray_arith(L, ARR_MUL); }
static int larray_div(lua_State *L) { return larray_arith(L, ARR_DIV); }
static int larray_pow(lua_State *L) { return larray_arith(L, ARR_POW); }
static int larray_minimum(lua_State *L) { return larray_arith(L, ARR_FMIN); }
static int larray_maximum(lua_State *L) { return larray_arith(L, ARR_FMAX); }

static int larray_unop(lua_State *L, arr_unop op, const char *fname)
{
	arr *a = larray_test(L, 1), *o;
	char err[ERR_LEN];
	if (a == NULL)
		luaL_typeerror(L, 1, "array");
	o = larray_push_empty(L);
	if (arr_unary(o, a, op, err) < 0)
		lbind_error(L, fname, err);
	larray_account(L, o);
	return 1;
}

static int larray_unm(lua_State *L) { return larray_unop(L, ARR_NEG, "array.unm"); }
static int larray_sqrt(lua_State *L) { return larray_unop(L, ARR_SQRT, "array.sqrt"); }
static int larray_exp(lua_State *L) { return larray_unop(L, ARR_EXP, "array.exp"); }
static int larray_log(lua_State *L) { return larray_unop(L, ARR_LOG, "array.log"); }
static int larray_abs(lua_State *L) { return larray_unop(L, ARR_ABS, "array.abs"); }
static int larray_sin(lua_State *L) { return larray_unop(L, ARR_SIN, "array.sin"); }
static int larray_cos(lua_State *L) { return larray_unop(L, ARR_COS, "array.cos"); }
static int larray_floor(lua_State *L) { return larray_unop(L, ARR_FLOOR, "array.floor"); }
static int larray_ceil(lua_State *L) { return larray_unop(L, ARR_CEIL, "array.ceil"); }

/* ------------------------------------------------------------------ */
/* registration */

static const luaL_Reg larray_methods[] = {
	{"get", larray_get}, {"set", larray_set},
	{"slice", larray_slice}, {"frame", larray_frame},
	{"reshape", larray_reshape}, {"copy", larray_copy},
	{"astype", larray_astype}, {"contiguous", larray_contiguous},
	{"hash", larray_hash},
	{"totable", larray_totable}, {"fill", larray_fill},
	{"assign", larray_assign},
	{"sum", larray_sum}, {"mean", larray_mean},
	{"min", larray_min}, {"max", larray_max},
	{NULL, NULL}
};

static const luaL_Reg larray_funcs[] = {
	{"zeros", larray_zeros}, {"ones", larray_ones}, {"full", larray_full},
	{"linspace", larray_linspace}, {"arange", larray_arange},
	{"from", larray_from}, {"isarray", larray_isarray},
	{"sqrt", larray_sqrt}, {"exp", larray_exp}, {"log", larray_log},
	{"abs", larray_abs}, {"sin", larray_sin}, {"cos", larray_cos},
	{"floor", larray_floor}, {"ceil", larray_ceil},
	{"minimum", larray_minimum}, {"maximum", larray_maximum},
	{NULL, NULL}
};

static const luaL_Reg larray_meta[] = {
	{"__newindex", larray_newindex}, {"__len", larray_len},
	{"__tostring", larray_tostring}, {"__gc", larray_gc},
	{"__close", larray_gc},
	{"__add", larray_add}, {"__sub", larray_sub}, {"__mul", larray_mul},
	{"__div", larray_div}, {"__pow", larray_pow}, {"__unm", larray_unm},
	{NULL, NULL}
};

/* the metatable; __index holds the method table as its upvalue */
static void larray_makemeta(lua_State *L)
{
	if (!luaL_newmetatable(L, LARRAY_MT)) {
		lua_pop(L, 1);
		return;
	}
	luaL_setfuncs(L, larray_meta, 0);
	luaL_newlib(L, larray_methods);
	lua_pushcclosure(L, larray_index, 1);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
}

/* glibc serves each large block with a fresh mmap (or trims the heap top
** as soon as a block is freed), so every new array result page-faults
** its whole buffer in again: 70 % of the time of `a + b` on 512 KiB
** arrays went to the kernel. Blocks up to 32 MiB (glibc's own dynamic
** ceiling) now come from the heap, and up to 128 MiB of freed heap top
** is kept for reuse; the collector still bounds the live set. */
static void larray_tune_malloc(void)
{
#ifdef __GLIBC__
	static int done = 0;
	if (done)
		return;
	done = 1;
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
#endif
}

int luaopen_ionflow_array(lua_State *L)
{
	larray_tune_malloc();
	larray_makemeta(L);
	luaL_newlib(L, larray_funcs);
	luaL_setfuncs(L, larray_methods, 0);	/* array.sum(a) etc. too */
	return 1;
}

void larray_views_keep(lua_State *L, int ui)
{
	ui = lua_absindex(L, ui);
	lua_getiuservalue(L, ui, 1);
	lua_pushvalue(L, -2);
	lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
	lua_pop(L, 1);
}

void larray_views_release(lua_State *L, int ui)
{
	lua_Integer k, n;
	ui = lua_absindex(L, ui);
	lua_getiuservalue(L, ui, 1);
	n = (lua_Integer)lua_rawlen(L, -1);
	for (k = 1; k <= n; k++) {
		arr *a;
		lua_rawgeti(L, -1, k);
		a = luaL_testudata(L, -1, LARRAY_MT);
		if (a != NULL)
			arr_release(a);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	lua_newtable(L);
	lua_setiuservalue(L, ui, 1);
}
