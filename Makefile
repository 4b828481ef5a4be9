# weir - build, test, run, install.
#
#   make               build/libweir.a, build/libweir.so, build/weir
#   make run           run every scenario under scenarios/ (TAP)
#   make test          unit tests, scenarios and conformance through prove: once plain, once
#                      under ASan+UBSan (make test-plain / make test-asan run one of them)
#   make bench         benchmarks (see docs/performance.md); make bench-deps installs the
#                      optional comparison peers of bench/echo (uvloop, libuv, libevent)
#   make conformance   regenerate tests/conformance/generated from CPython 3.13
#   make install       PREFIX=/usr/local DESTDIR=

CC ?= cc
MAKEFLAGS += --no-print-directory
BUILD ?= build
PREFIX ?= /usr/local
PYTHON313 ?= $(HOME)/.pyenv/versions/3.13.0/bin/python3

WARN := -Wall -Wextra -Werror
CPPFLAGS_WEIR := -Iinclude -I. -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L
OPT ?= -O2 -g
# SAN=1: AddressSanitizer + UndefinedBehaviorSanitizer (used by test-asan).
ifeq ($(SAN),1)
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
SANLD := -fsanitize=address,undefined
endif
CFLAGS_ALL := -std=c11 $(WARN) $(OPT) -fPIC $(CPPFLAGS_WEIR) $(CFLAGS)
LDFLAGS_ALL := $(SANLD) $(LDFLAGS)
# -pthread for net/resolve.c's resolver threads (part of libc since glibc 2.34, not before).
LDLIBS_ALL := $(LDLIBS) -lssl -lcrypto -pthread

# The library: each folder is a layer (docs/architecture.md).
LIB_DIRS := core runner sim net
LIB_C := $(sort $(wildcard $(addsuffix /*.c,$(LIB_DIRS))))
LIB_S := $(sort $(wildcard $(addsuffix /*.S,$(LIB_DIRS))))
LIB_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_C)) $(patsubst %.S,$(BUILD)/obj/%.o,$(LIB_S))

TOOL_C := $(sort $(wildcard tools/*.c))
TOOL_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(TOOL_C))

UNIT_C := $(sort $(wildcard tests/unit/*.c))
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%.t,$(UNIT_C))

EXAMPLE_C := $(sort $(wildcard examples/*.c))
EXAMPLE_BIN := $(patsubst examples/%.c,$(BUILD)/examples/%,$(EXAMPLE_C))

BENCH_C := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_C))

SCENARIOS := $(sort $(shell find scenarios -name '*.scn' 2>/dev/null))
CONFORMANCE := $(sort $(wildcard tests/conformance/generated/*.scn))

.PHONY: all lib run test test-plain test-asan check bench bench-deps conformance install clean \
        format format-check
.SUFFIXES:

all: $(BUILD)/libweir.a $(BUILD)/libweir.so $(BUILD)/weir $(EXAMPLE_BIN)

lib: $(BUILD)/libweir.a

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/libweir.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/libweir.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libweir.so.0 -o $@ $^ $(LDFLAGS_ALL) $(LDLIBS_ALL)

$(BUILD)/weir: $(TOOL_OBJ) $(BUILD)/libweir.a
	$(CC) -o $@ $(TOOL_OBJ) $(BUILD)/libweir.a $(LDFLAGS_ALL) $(LDLIBS_ALL)

$(BUILD)/tests/%.t: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/libweir.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(BUILD)/libweir.a $(LDFLAGS_ALL) $(LDLIBS_ALL)

$(BUILD)/examples/%: examples/%.c $(BUILD)/libweir.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libweir.a $(LDFLAGS_ALL) $(LDLIBS_ALL)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libweir.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libweir.a $(LDFLAGS_ALL) $(LDLIBS_ALL)

-include $(LIB_OBJ:.o=.d) $(TOOL_OBJ:.o=.d)

run: $(BUILD)/weir
	$(BUILD)/weir run $(SCENARIOS)

# The test list: unit test binaries, hand-written scenarios, conformance scenarios.
# tests/tap-exec runs a .scn file with build/weir and anything else as an executable.
# The fuzz targets built with this compiler and a replay main() instead of libFuzzer, so
# `make check` replays every corpus (tests/fuzz-replay.sh) without clang.
FUZZ_REPLAY := $(BUILD)/fuzz-replay/.built
$(FUZZ_REPLAY): $(LIB_C) $(LIB_S) $(wildcard fuzz/*.c fuzz/*.h fuzz/build.sh) examples/fuzz_http_head.c
	CC=$(CC) CXX= CFLAGS="$(OPT)" LIB_FUZZING_ENGINE=standalone OUT=$(BUILD)/fuzz-replay \
	    WORK=$(BUILD)/fuzz-replay/obj fuzz/build.sh
	touch $@

check: all $(UNIT_BIN) $(EXAMPLE_BIN) $(FUZZ_REPLAY)
	WEIR_BUILD=$(BUILD) prove --exec tests/tap-exec $(UNIT_BIN) tests/examples.sh tests/interop.sh \
	    tests/sim-sweep.sh \
	    tests/fuzz-replay.sh tests/install.sh $(SCENARIOS) \
	    $(CONFORMANCE)

test-plain:
	$(MAKE) check

test-asan:
	$(MAKE) BUILD=build/asan SAN=1 check

# Sequential on purpose: the ASan run's prove summary is the last thing printed.
test:
	$(MAKE) test-plain
	$(MAKE) test-asan

bench: $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$b"; BUILD=$(BUILD) PYTHON313=$(PYTHON313) $$b || exit 1; done

# Optional peers for bench/echo (uvloop, libuv, libevent); the bench installs nothing itself.
bench-deps:
	apt-get update
	apt-get install -y python3-uvloop libuv1-dev libevent-dev

conformance:
	$(PYTHON313) tests/conformance/gen.py --seed 1 --count 5000 --out tests/conformance/generated

install: all
	install -d $(DESTDIR)$(PREFIX)/include/weir $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	           $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/weir/*.h $(DESTDIR)$(PREFIX)/include/weir/
	install -m 644 $(BUILD)/libweir.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libweir.so $(DESTDIR)$(PREFIX)/lib/libweir.so.0
	ln -sf libweir.so.0 $(DESTDIR)$(PREFIX)/lib/libweir.so
	install -m 755 $(BUILD)/weir $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|0.1.0|g' weir.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/weir.pc

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

# ---- fuzzing (fuzz/README.md) ----------------------------------------------------------------
# Kept as one block at the end; fuzz/build.sh does the building (OSS-Fuzz style).
#   make fuzz         build/fuzz/<target> with clang: libFuzzer + ASan + UBSan
#   make fuzz-smoke   replay each seed corpus, then fuzz each target for FUZZ_SECONDS (30);
#                     new inputs go to build/fuzz/work/<target>, crashes to build/fuzz/artifacts
FUZZ_CC ?= clang
FUZZ_CFLAGS ?=
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := reader_ops chunking scenario_parse sim_schedule fuzz_http_head tls_peer

.PHONY: fuzz fuzz-smoke

fuzz:
	CC=$(FUZZ_CC) CXX= CFLAGS="$(FUZZ_CFLAGS)" LIB_FUZZING_ENGINE= OUT=$(BUILD)/fuzz \
	    WORK=$(BUILD)/fuzz/obj fuzz/build.sh

fuzz-smoke: fuzz
	@set -e; for t in $(FUZZ_TARGETS); do \
	    log=$(BUILD)/fuzz/$$t.log; \
	    echo "== $$t: replaying fuzz/corpus/$$t"; \
	    $(BUILD)/fuzz/$$t fuzz/corpus/$$t/* > $$log 2>&1 || { tail -60 $$log; exit 1; }; \
	    echo "== $$t: fuzzing for $(FUZZ_SECONDS) s"; \
	    mkdir -p $(BUILD)/fuzz/work/$$t $(BUILD)/fuzz/artifacts; \
	    $(BUILD)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -dict=fuzz/$$t.dict \
	        -artifact_prefix=$(BUILD)/fuzz/artifacts/$$t- -print_final_stats=1 \
	        $(BUILD)/fuzz/work/$$t fuzz/corpus/$$t > $$log 2>&1 || { tail -60 $$log; exit 1; }; \
	    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' $$log; \
	done

# make fuzz-coverage: line coverage of core/ reached by the corpora (fuzz/coverage.sh: clang
# source-based coverage, the standalone replay main, llvm-profdata + llvm-cov report), plus
# build/fuzz/work/<target> when a fuzz-smoke run left inputs there. Needs clang, llvm-profdata
# and llvm-cov of the same version. Output in $(BUILD)/fuzz-coverage/.
.PHONY: fuzz-coverage
fuzz-coverage:
	CC=$(FUZZ_CC) OUT=$(BUILD)/fuzz-coverage FUZZ_WORK=$(BUILD)/fuzz/work fuzz/coverage.sh
