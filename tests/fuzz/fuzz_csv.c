/*
** fuzz_csv.c - the CSV reader (lua/ionflow/csv.lua) in an embedded Lua
** state: csv.read on a file made of the input, with the header detected
** and forced. Lua errors are the reader's way to refuse a file; what
** must not happen is a crash, or a table whose columns do not all hold
** nrows numbers (checked here, abort() if not).
*/
#include <stdlib.h>

#include <lauxlib.h>
#include <lualib.h>

#include "fuzz.h"

#ifndef FUZZ_TOP
#define FUZZ_TOP "."
#endif

static lua_State *fuzz_csv_state(void)
{
	static lua_State *L = NULL;
	if (L != NULL)
		return L;
	L = luaL_newstate();
	if (L == NULL)
		abort();
	luaL_openlibs(L);
	if (luaL_dostring(L, "package.path = '" FUZZ_TOP "/lua/?.lua;' .."
			  " package.path; csv = require 'ionflow.csv'") != 0)
		abort();
	return L;
}

/* the table returned by csv.read is consistent */
static const char fuzz_csv_check[] =
	"local path, header = ...\n"
	"local ok, t = pcall(csv.read, path, {header = header})\n"
	"if not ok then return end\n"
	"assert(math.type(t.nrows) == 'integer' and t.nrows >= 1)\n"
	"assert(#t.columns >= 1)\n"
	"for _, c in ipairs(t.columns) do\n"
	"  assert(#c == t.nrows)\n"
	"  for i = 1, t.nrows do assert(type(c[i]) == 'number') end\n"
	"end\n"
	"if t.names then assert(#t.names == #t.columns) end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size, "in.csv");
	lua_State *L = fuzz_csv_state();
	int h;
	if (path == NULL)
		return 0;
	for (h = 0; h < 3; h++) {
		if (luaL_loadstring(L, fuzz_csv_check) != 0)
			abort();
		lua_pushstring(L, path);
		if (h == 2)
			lua_pushnil(L);
		else
			lua_pushboolean(L, h);
		if (lua_pcall(L, 2, 0, 0) != 0)
			abort();	/* the table is inconsistent */
	}
	lua_settop(L, 0);
	lua_gc(L, LUA_GCCOLLECT);
	return 0;
}
