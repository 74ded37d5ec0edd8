/*
** fuzz_csv.c - the CSV reader (lua/ionflow/csv.lua) in an embedded Lua
** state: csv.read on a file made of the input, with the header detected
** and forced. Lua errors are the reader's way to refuse a file; what
** must not happen is a crash, or a table whose columns do not all hold
** nrows numbers (checked here, abort() if not).
**
** The Lua interpreter is a system library without coverage
** instrumentation, so libFuzzer would fuzz blind: a line hook feeds it
** the (previous line, line) pairs the Lua code runs through as extra
** counters instead. In the replay build the section is unused.
*/
#include <stdlib.h>

#include <lauxlib.h>
#include <lualib.h>

#include "fuzz.h"

#ifndef FUZZ_TOP
#define FUZZ_TOP "."
#endif

#define FUZZ_CSV_NCOUNT 4096

__attribute__((section("__libfuzzer_extra_counters"), used))
static uint8_t fuzz_csv_count[FUZZ_CSV_NCOUNT];

static void fuzz_csv_hook(lua_State *L, lua_Debug *ar)
{
	static unsigned prev = 0;
	unsigned line = (unsigned)ar->currentline;
	(void)L;
	fuzz_csv_count[(prev * 7919u + line) % FUZZ_CSV_NCOUNT]++;
	prev = line;
}

static lua_State *fuzz_csv_state(void)
{
	static lua_State *L = NULL;
	if (L != NULL)
		return L;
	L = luaL_newstate();
	if (L == NULL)
		abort();
	luaL_openlibs(L);
	lua_sethook(L, fuzz_csv_hook, LUA_MASKLINE, 0);
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
