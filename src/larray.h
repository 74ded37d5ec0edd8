/*
** larray.h - the Lua face of arr (see array.h), used by every binding.
**
** An array userdata embeds an arr; its buffer is reference counted, so a
** view is a second userdata holding another reference. Allocations of big
** buffers are reported to Lua's collector with an incremental GC step, so
** that a loop making frames does not let memory balloon.
*/
#ifndef ionflow_larray_h
#define ionflow_larray_h

#include <lua.h>
#include <lauxlib.h>

#include "array.h"

#define LARRAY_MT "ionflow.array"

/* the arr at stack index i, or a Lua argument error */
arr *larray_check(lua_State *L, int i);
/* the arr at stack index i, or NULL when it is not an array */
arr *larray_test(lua_State *L, int i);
/* push a new zeroed array (Lua error on failure); returns its arr */
arr *larray_new(lua_State *L, arr_dtype dt, int ndim, const size_t *shape);
/* the same, uninitialised, for arrays the caller overwrites whole */
arr *larray_new_uninit(lua_State *L, arr_dtype dt, int ndim,
		       const size_t *shape);
/* push an array userdata that takes over a's reference (a is zeroed) */
arr *larray_push(lua_State *L, arr *a);
/* an array from the argument at i: an array (returned as is, no copy)
** or a nested Lua table of numbers, converted to a new array of dtype dt
** that is left on the stack above the arguments */
arr *larray_from_arg(lua_State *L, int i, arr_dtype dt);
/* the argument at i (a 1-D array or a list of numbers) as contiguous
** doubles; a converted copy, when one is needed, stays on the stack until
** the calling function returns. name is used in error messages. */
const double *larray_doubles(lua_State *L, int i, const char *name,
			     size_t *n);
/* the argument at i (an array or a nested table of numbers) as a
** contiguous f64 arr of any shape: the array itself, or a converted copy
** left on the stack; name prefixes a copy error */
arr *larray_f64(lua_State *L, int i, const char *name);
/* what larray_doubles does, but returning NULL (no error) when the
** argument is not 1-D, so a caller can word its own error; with squeeze
** any shape with at most one axis longer than 1 is taken as a vector */
const double *larray_vector(lua_State *L, int i, int squeeze,
			    const char *name, size_t *n);

/* push an array userdata holding an empty (zeroed) arr for a core to fill:
** `arr *o = larray_push_empty(L); if (core(o, ..., err) < 0) lbind_error(...)`
** cannot leak, as the userdata releases whatever o holds when collected */
arr *larray_push_empty(lua_State *L);
/* report a freshly made buffer of a to the collector (larray_new and
** larray_push do this; call it after filling a larray_push_empty) */
void larray_account(lua_State *L, const arr *a);

int luaopen_ionflow_array(lua_State *L);

/* Views lent by a streaming reader (h5.frames, detector.frames) are kept
** in a table, the first user value of the reader's userdata at ui:
** larray_views_keep adds the array on top of the stack to it,
** larray_views_release closes every view in it (their arrays then raise
** "array has been closed") and starts an empty one, so that the block
** buffer they point into can be refilled in place. */
void larray_views_keep(lua_State *L, int ui);
void larray_views_release(lua_State *L, int ui);

#endif
