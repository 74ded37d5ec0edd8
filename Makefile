# ionflow - build, test, install.
#
#   make                 build ./ionflow and ./ionflow.so (require "ionflow"
#                        from a stock lua5.4)
#   make check           run the test suite (TAP, through prove)
#   make check SANITIZE=1  the same under AddressSanitizer + UBSan
#   make check VALGRIND=1  the same under valgrind (every ionflow process,
#                        also those the Python tests start; about 45 min)
#   make demo            the main job on built-in data, into demo-out/
#   make sample          scan_0042.h5 (+ its qmap): a simulated raw XPCS run
#   make bench           benchmarks (throughput, not timed tests)
#   make fuzz            libFuzzer on each tests/fuzz/fuzz_*.c harness
#                        (clang; FUZZ_SECONDS per target, default 60)
#   make deps            install the Debian packages ionflow needs
#   make MPI=1           the same with MPI (mpicc, into build/mpi; make deps
#                        then installs OpenMPI too)
#   make install PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
BINDIR   = $(PREFIX)/bin
DATADIR  = $(PREFIX)/share/ionflow
MANDIR   = $(PREFIX)/share/man
# where a stock lua5.4 looks for C and Lua modules of this prefix
LUA_CDIR = $(PREFIX)/lib/lua/5.4
LUA_LDIR = $(PREFIX)/share/lua/5.4

CC      ?= cc
# quiet by default: one short line per step; make V=1 shows the commands
ifeq ($(V),1)
Q =
say = @:
else
Q = @
say = @printf '  %-7s %s\n'
endif
PKGS     = lua5.4 gsl readline liblzf liblz4 zlib
# recursive (=) on purpose: evaluated when first compiling, after the deps
# step has installed what a fresh machine lacks
HDF5_PC  = $(shell pkg-config --exists hdf5 && echo hdf5 || echo hdf5-serial)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) $(HDF5_PC) libxrl)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) $(HDF5_PC) libxrl)
# the Lua module takes Lua from its host and has no REPL
MOD_LIBS   = $(shell pkg-config --libs gsl liblzf liblz4 zlib $(HDF5_PC) libxrl)
# The programs (not ionflow.so, whose archives would need -fPIC) take
# HDF5 and GSL from the static archives of their -dev packages when
# present: the shared libhdf5 brings its S3 driver's curl, TLS, Kerberos
# and LDAP, 30 libraries whose loading made 17 ms of a run's first 26.
# (A filter plugin linked to the shared libhdf5, such as blosc's, loads
# that copy beside it; its decoding needs none of its state.) STATIC=0
# links them shared.
STATIC  ?= 1
lib_a    = $(firstword $(wildcard $(patsubst -L%,%/$(1),$(filter -L%,$(2))) \
	   /usr/lib/$(shell $(CC) -dumpmachine)/$(1)))
static_libs = $(patsubst -lhdf5,$(or $(call lib_a,libhdf5.a,$(1)),-lhdf5) \
	   $(if $(call lib_a,libhdf5.a,$(1)),-lsz -lz),$(patsubst \
	   -lgsl,$(or $(call lib_a,libgsl.a,$(1)),-lgsl),$(patsubst \
	   -lgslcblas,$(or $(call lib_a,libgslcblas.a,$(1)),-lgslcblas),$(1))))
BIN_LIBS = $(if $(filter 1,$(STATIC)),$(call static_libs,$(PKG_LIBS)),$(PKG_LIBS))

CFLAGS  ?= -O2 -g
# position-independent once for both the binary and ionflow.so (no
# interposition: calls inside the library stay direct)
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -fopenmp -fno-math-errno \
	   -fPIC -fno-semantic-interposition
# the Lua modules are found at run time from the binary's place
CPPFLAGS += $(PKG_CFLAGS) -Isrc
LDLIBS  += $(BIN_LIBS) -lm
LDFLAGS += -fopenmp

# MPI=1: compiled by mpicc with the mpi module over MPI (without it the
# module is a rank-0-of-1 stub and nothing links MPI)
ifeq ($(MPI),1)
CC       = mpicc
CFLAGS  += -DIONFLOW_MPI
DEPS_OPT = --mpi
BUILD   ?= build/mpi
endif

# BUILD may be overridden (make BUILD=build/mine check) so that several
# people or tools can build in one tree without racing on objects
ifeq ($(SANITIZE),1)
BUILD   ?= build/san
# float-cast-overflow (not in gcc's "undefined"): a double beyond an
# integer type's range converted to it
CFLAGS  += -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined,float-cast-overflow
LDFLAGS += -fsanitize=address,undefined,float-cast-overflow
else
BUILD   ?= build/opt
endif

SRC      = $(wildcard src/*.c)
ALLOBJ   = $(patsubst src/%.c,$(BUILD)/%.o,$(SRC))
# the binary has main and the REPL; ionflow.so has its luaopen_ionflow
OBJ      = $(filter-out $(BUILD)/lionflow.o,$(ALLOBJ))
LIBOBJ   = $(filter-out $(BUILD)/main.o,$(OBJ))
MODOBJ   = $(filter-out $(BUILD)/main.o $(BUILD)/lrepl.o $(BUILD)/lrun.o,$(ALLOBJ))
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TESTS    ?= $(wildcard tests/lua/*.lua tests/*/*.py)
MANPAGES = $(wildcard man/*.1 man/*.7)

# fuzz harnesses: tests/fuzz/fuzz_NAME.c, seeds in tests/fuzz/corpus/NAME,
# past crashes in tests/fuzz/regress/NAME (see tests/fuzz/fuzz.h). make
# check replays seeds and regressions through replay.c with $(CC).
FUZZ_NAMES  = $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_COMMON = tests/fuzz/fuzz.c $(wildcard tests/fuzz/*.h)
FUZZ_DEFS   = -Itests/fuzz -DFUZZ_TOP='"$(abspath .)"'
FUZZ_REPLAY = $(patsubst %,$(BUILD)/fuzz/replay_%,$(FUZZ_NAMES))


# ionflow.so is not built with the sanitizers (a stock lua5.4 cannot load
# an ASan library)
all: ionflow $(if $(SANITIZE),,ionflow.so)

# the binary at the top is the one the tests run; it is relinked when the
# build flavour (SANITIZE or not) changes
# (copied then renamed: a running ./ionflow does not block the update)
ionflow: $(BUILD)/ionflow FORCE
	@cmp -s $< $@ || { cp $< $@.tmp && mv -f $@.tmp $@; }

$(BUILD)/ionflow: $(OBJ) $(BUILD)/.ldflags
	$(say) LINK $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $(OBJ) $(LDLIBS)

ionflow.so: $(BUILD)/ionflow.so FORCE
	@cmp -s $< $@ || { cp $< $@.tmp && mv -f $@.tmp $@; }

$(BUILD)/ionflow.so: $(MODOBJ) $(BUILD)/.ldflags
	$(say) LINK $@
	$(Q)$(CC) -shared $(LDFLAGS) -o $@ $(MODOBJ) $(MOD_LIBS) -lm

$(BUILD)/libionflow.a: $(LIBOBJ)
	$(say) AR $@
	$(Q)rm -f $@ && ar rcs $@ $(LIBOBJ)

# per-file flags after CFLAGS (OPT_<file>): the continuum model's loops
# over cells and faces gain 10 % from -O3's vectorizer (no reassociation:
# results are bit for bit those of -O2)
OPT_cell = -O3

$(BUILD)/%.o: src/%.c $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(say) CC $<
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(OPT_$*) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c tests/unit/tap.h $(BUILD)/libionflow.a
	@mkdir -p $(dir $@)
	$(say) CC $<
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libionflow.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(FUZZ_COMMON) $(BUILD)/libionflow.a
	@mkdir -p $(dir $@)
	$(say) CC $<
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(FUZZ_DEFS) -o $@ $< tests/fuzz/fuzz.c \
	  tests/fuzz/replay.c $(BUILD)/libionflow.a $(LDFLAGS) $(LDLIBS)

# objects are rebuilt when the compiler flags change
$(BUILD)/.flags: FORCE | deps
	@mkdir -p $(BUILD)
	@echo '$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS)' | cmp -s - $@ || echo '$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS)' > $@

# and the programs are relinked when the libraries change
$(BUILD)/.ldflags: FORCE | deps
	@mkdir -p $(BUILD)
	@echo '$(LDFLAGS) $(LDLIBS) $(MOD_LIBS)' | cmp -s - $@ || echo '$(LDFLAGS) $(LDLIBS) $(MOD_LIBS)' > $@

-include $(ALLOBJ:.o=.d)

# the tests run the binary of this build flavour ($(BUILD)/ionflow)
check: all $(BUILD)/ionflow $(UNIT_BIN) $(FUZZ_REPLAY) check-man
	@IONFLOW=$(abspath $(BUILD)/ionflow) IONFLOW_VALGRIND=$(VALGRIND) IONFLOW_SANITIZE=$(SANITIZE) \
	  prove --exec tests/run-test $(UNIT_BIN) $(TESTS)

check-man:
	@for m in $(MANPAGES); do \
	  out=$$(LC_ALL=C.UTF-8 groff -man -ww -z $$m 2>&1); \
	  if [ -n "$$out" ]; then echo "$$m: $$out"; exit 1; fi; done

# make fuzz: every harness, FUZZ_SECONDS each, with libFuzzer, ASan and
# UBSan (clang). New inputs go to build/fuzz/corpus/NAME (the committed
# seeds and regressions are read, never written); a crash stops the run
# and leaves build/fuzz/crash-NAME-*: minimise it (-minimize_crash=1),
# fix the bug and commit the file to tests/fuzz/regress/NAME/.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR      = build/fuzz
FUZZ_SAN      = -fsanitize=address,undefined,float-cast-overflow \
		-fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS   = -O1 -g -std=c11 -D_GNU_SOURCE -fopenmp -Wno-pass-failed $(FUZZ_SAN)
FUZZ_OBJ      = $(patsubst src/%.c,$(FUZZ_DIR)/obj/%.o,$(filter-out src/main.c,$(SRC)))
FUZZ_BIN      = $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_NAMES))

$(FUZZ_DIR)/obj/%.o: src/%.c | deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link \
	  -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/libionflow.a: $(FUZZ_OBJ)
	rm -f $@ && ar rcs $@ $(FUZZ_OBJ)

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_COMMON) $(FUZZ_DIR)/libionflow.a
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(FUZZ_DEFS) \
	  -o $@ $< tests/fuzz/fuzz.c $(FUZZ_DIR)/libionflow.a $(LDLIBS)

-include $(FUZZ_OBJ:.o=.d)

fuzz: $(FUZZ_BIN)
	@for t in $(FUZZ_NAMES); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$t tests/fuzz/regress/$$t; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  LSAN_OPTIONS=suppressions=$(abspath tests/fuzz/lsan.supp) \
	  $(FUZZ_DIR)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=30 \
	    -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_DIR)/crash-$$t- $(FUZZ_DIR)/corpus/$$t \
	    tests/fuzz/corpus/$$t tests/fuzz/regress/$$t \
	    2>$(FUZZ_DIR)/$$t.log || { tail -40 $(FUZZ_DIR)/$$t.log; exit 1; }; \
	  grep -h '^stat::number_of_executed_units' $(FUZZ_DIR)/$$t.log; \
	done

demo: ionflow
	./ionflow scripts/demo.lua -o demo-out

sample: ionflow
	./ionflow scripts/make-sample.lua -o scan_0042.h5

bench: ionflow
	./ionflow bench/run.lua

deps:
	@scripts/install-deps.sh $(DEPS_OPT)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/lua/ionflow \
	  $(DESTDIR)$(LUA_CDIR) $(DESTDIR)$(LUA_LDIR)/ionflow \
	  $(DESTDIR)$(DATADIR)/scripts $(DESTDIR)$(DATADIR)/examples \
	  $(DESTDIR)$(DATADIR)/data/steinrueck2020 \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(BUILD)/ionflow $(DESTDIR)$(BINDIR)/ionflow
	install -m 644 lua/ionflow/*.lua $(DESTDIR)$(DATADIR)/lua/ionflow/
	install -m 755 $(BUILD)/ionflow.so $(DESTDIR)$(LUA_CDIR)/ionflow.so
	install -m 644 lua/ionflow/*.lua $(DESTDIR)$(LUA_LDIR)/ionflow/
	install -m 644 scripts/*.lua $(DESTDIR)$(DATADIR)/scripts/
	install -m 644 examples/*.lua $(DESTDIR)$(DATADIR)/examples/
	install -m 644 data/README.md data/*.csv $(DESTDIR)$(DATADIR)/data/
	install -m 644 data/steinrueck2020/* $(DESTDIR)$(DATADIR)/data/steinrueck2020/
	install -m 644 man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 man/*.7 $(DESTDIR)$(MANDIR)/man7/

clean:
	rm -rf build ionflow ionflow.so demo-out

.PHONY: all check check-man fuzz demo sample bench deps install clean FORCE
