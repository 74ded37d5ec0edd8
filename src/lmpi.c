/*
** lmpi.c - the `mpi` module: rank, size and collectives for scripts that
** divide their own work (the core is mpi.c, see mpicore.h).
**
**   mpi.rank(), mpi.size()          -- 0 and 1 without a launcher
**   mpi.barrier()
**   mpi.allreduce(x, "sum")         -- a new f64 array; "max", "min"
**   v = mpi.bcast(v)                -- rank 0's number, string or array
**   ok, bad = mpi.agree([ok])       -- every rank ok and not interrupted?
**   mpi.finalize()                  -- all together; then exits are own
**
** Once MPI runs with more than one rank, os.exit with a failure status
** ends the whole job (MPI_Abort), as a script error does in main.c: a
** rank that stops alone would leave the others waiting forever.
*/
#include <stdint.h>
#include <string.h>

#include <lua.h>
#include <lauxlib.h>

#include "intr.h"
#include "larray.h"
#include "lbind.h"
#include "mpicore.h"

/* os.exit(code) once ranks depend on each other: a failure ends them all */
static int lmpi_exit(lua_State *L)
{
	int code = lua_isboolean(L, 1) ? !lua_toboolean(L, 1)
		 : (int)luaL_optinteger(L, 1, 0);
	if (code != 0)
		mpicore_abort(code);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 0);
	return 0;
}

static void lmpi_start(lua_State *L)
{
	char err[ERR_LEN];
	static int hooked;
	if (mpicore_init(err))
		lbind_error(L, NULL, err);
	if (hooked || !mpicore_active())
		return;
	hooked = 1;
	if (lua_getglobal(L, "os") == LUA_TTABLE) {
		lua_getfield(L, -1, "exit");
		lua_pushcclosure(L, lmpi_exit, 1);
		lua_setfield(L, -2, "exit");
	}
	lua_pop(L, 1);
}

static int lmpi_rank(lua_State *L)
{
	lmpi_start(L);
	lua_pushinteger(L, mpicore_rank());
	return 1;
}

static int lmpi_size(lua_State *L)
{
	lmpi_start(L);
	lua_pushinteger(L, mpicore_size());
	return 1;
}

static int lmpi_barrier(lua_State *L)
{
	char err[ERR_LEN];
	lmpi_start(L);
	if (mpicore_barrier(err))
		return lbind_error(L, NULL, err);
	return 0;
}

/* mpi.allreduce(x [, op]): x (an array of any shape or a list of numbers)
** combined over the ranks, as a new f64 array of x's shape */
static int lmpi_allreduce(lua_State *L)
{
	static const char *const ops[] = {"sum", "max", "min", NULL};
	char err[ERR_LEN];
	arr *x, *out;
	int op;
	lmpi_start(L);
	x = larray_f64(L, 1, "mpi.allreduce");
	op = luaL_checkoption(L, 2, "sum", ops);
	out = larray_new_uninit(L, ARR_F64, x->ndim, x->shape);
	if (arr_assign(out, x, err) ||
	    mpicore_allreduce((double *)out->data, arr_size(out),
			      (mpicore_op)op, err))
		return lbind_error(L, "mpi.allreduce", err);
	return 1;
}

/* mpi.agree([ok]) -> true, or false and the lowest rank that passed a
** false ok or had a pending interrupt (SIGTERM, Ctrl-C): every rank
** learns that a result must not be committed */
static int lmpi_agree(lua_State *L)
{
	char err[ERR_LEN];
	int ok = lua_isnone(L, 1) || lua_toboolean(L, 1), bad, all;
	lmpi_start(L);
	all = mpicore_agree(ok && !intr_pending(), &bad, err);
	if (all < 0)
		return lbind_error(L, NULL, err);
	lua_pushboolean(L, all);
	if (all)
		return 1;
	lua_pushinteger(L, bad);
	return 2;
}

/* what mpi.bcast sends first: the kind of value and its size */
enum { LMPI_NIL, LMPI_BOOL, LMPI_INT, LMPI_NUM, LMPI_STR, LMPI_ARR };
typedef struct lmpi_head {
	int64_t kind, n, dtype, ndim, shape[ARR_MAXDIM];
	double num;
} lmpi_head;

static void lmpi_describe(lua_State *L, lmpi_head *h, arr **a)
{
	memset(h, 0, sizeof *h);
	switch (lua_type(L, 1)) {
	case LUA_TNIL: case LUA_TNONE: h->kind = LMPI_NIL; break;
	case LUA_TBOOLEAN: h->kind = LMPI_BOOL; h->n = lua_toboolean(L, 1); break;
	case LUA_TNUMBER:
		if (lua_isinteger(L, 1)) {
			h->kind = LMPI_INT;
			h->n = lua_tointeger(L, 1);
		} else {
			h->kind = LMPI_NUM;
			h->num = lua_tonumber(L, 1);
		}
		break;
	case LUA_TSTRING:
		h->kind = LMPI_STR;
		h->n = (int64_t)lua_rawlen(L, 1);
		break;
	default:
		if ((*a = larray_test(L, 1)) == NULL)
			luaL_argerror(L, 1, "mpi.bcast: a number, string, "
				      "boolean, nil or array expected");
		h->kind = LMPI_ARR;
		h->dtype = (*a)->dtype;
		h->ndim = (*a)->ndim;
		for (int i = 0; i < (*a)->ndim; i++)
			h->shape[i] = (int64_t)(*a)->shape[i];
		h->n = (int64_t)(arr_size(*a) * arr_dtype_size((*a)->dtype));
	}
}

/* mpi.bcast(v): rank 0's v on every rank (the others' v is ignored) */
static int lmpi_bcast(lua_State *L)
{
	char err[ERR_LEN];
	lmpi_head h;
	arr *a = NULL, *out;
	size_t shape[ARR_MAXDIM];
	int root;
	lmpi_start(L);
	root = mpicore_rank() == 0;
	if (root)
		lmpi_describe(L, &h, &a);
	if (mpicore_bcast(&h, sizeof h, err))
		return lbind_error(L, NULL, err);
	switch (h.kind) {
	case LMPI_NIL: lua_pushnil(L); return 1;
	case LMPI_BOOL: lua_pushboolean(L, (int)h.n); return 1;
	case LMPI_INT: lua_pushinteger(L, (lua_Integer)h.n); return 1;
	case LMPI_NUM: lua_pushnumber(L, h.num); return 1;
	case LMPI_STR: {
		luaL_Buffer b;
		char *p = luaL_buffinitsize(L, &b, (size_t)h.n);
		if (root)
			memcpy(p, lua_tostring(L, 1), (size_t)h.n);
		if (mpicore_bcast(p, (size_t)h.n, err))
			return lbind_error(L, NULL, err);
		luaL_pushresultsize(&b, (size_t)h.n);
		return 1;
	}
	}
	for (int i = 0; i < h.ndim; i++)
		shape[i] = (size_t)h.shape[i];
	out = larray_new_uninit(L, (arr_dtype)h.dtype, (int)h.ndim, shape);
	if ((root && arr_assign(out, a, err)) ||
	    mpicore_bcast(out->data, (size_t)h.n, err))
		return lbind_error(L, "mpi.bcast", err);
	return 1;
}

/* mpi.finalize(): every rank together; then each exits on its own, with
** its own status (after a batch, when all is said) */
static int lmpi_finalize(lua_State *L)
{
	char err[ERR_LEN];
	lmpi_start(L);
	if (mpicore_finalize(err))
		return lbind_error(L, NULL, err);
	return 0;
}

static int lmpi_built(lua_State *L)
{
	lua_pushboolean(L, mpicore_built());
	return 1;
}

static const luaL_Reg lmpi_funcs[] = {
	{"rank", lmpi_rank},
	{"size", lmpi_size},
	{"barrier", lmpi_barrier},
	{"allreduce", lmpi_allreduce},
	{"bcast", lmpi_bcast},
	{"agree", lmpi_agree},
	{"built", lmpi_built},
	{"finalize", lmpi_finalize},
	{NULL, NULL}
};

int luaopen_ionflow_mpi(lua_State *L)
{
	luaL_newlib(L, lmpi_funcs);
	return 1;
}
