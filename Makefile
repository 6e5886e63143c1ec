# lux — one plain Makefile. `make` builds build/lux; `make test` runs every test layer;
# `make run` serves examples/ on http://127.0.0.1:8080.

CC      ?= cc
FUZZCC  ?= clang
PKGS    := libpcre2-8 openssl libnghttp2
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wno-missing-field-initializers -Wstrict-prototypes
CFLAGS  ?= -O2 -g
ALL_CFLAGS := -std=c17 -D_GNU_SOURCE -Iinclude -Isrc $(WARN) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP
LIBS    := $(PKG_LIBS) -lpthread

SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# ThreadSanitizer needs its own build (it cannot share a binary with ASan); clang's runtime
# comes with libclang-rt-14-dev, which the test dependencies already install.
TSANCC    ?= clang
TSAN_FLAGS := -O1 -g -fsanitize=thread -fno-omit-frame-pointer

SRC      := $(shell find src -name '*.c' | sort)
LIB_SRC  := $(filter-out src/main.c,$(SRC))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
# Test-only modules (tests/modules/): linked into the test binary lux-test, never into lux.
TESTMOD_SRC := $(wildcard tests/modules/*.c)

# One tree per flavour: build/ (release), build/asan/ (ASan + UBSan), build/tsan/ (TSan).
# $(1) the tree, $(2) extra compile and link flags, $(3) the compiler (default $(CC)).
define flavour
$(1)/obj/%.o: %.c
	@mkdir -p $$(dir $$@)
	@echo "  CC $(1) $$<"
	@$(or $(3),$$(CC)) $$(ALL_CFLAGS) $(2) -c $$< -o $$@

$(1)/liblux.a: $$(patsubst %.c,$(1)/obj/%.o,$$(LIB_SRC))
	@rm -f $$@
	ar rcs $$@ $$^

$(1)/lux: $(1)/obj/src/main.o $(1)/liblux.a
	$(or $(3),$$(CC)) $(2) -o $$@ $$^ $$(LIBS)

$(1)/lux-test: $(1)/obj/src/main.o $$(patsubst %.c,$(1)/obj/%.o,$$(TESTMOD_SRC)) $(1)/liblux.a
	$(or $(3),$$(CC)) $(2) -o $$@ $$^ $$(LIBS)

$(1)/tests/%: $(1)/obj/tests/unit/%.o $(1)/liblux.a
	@mkdir -p $$(dir $$@)
	$(or $(3),$$(CC)) $(2) -o $$@ $$^ $$(LIBS)

-include $$(shell find $(1)/obj -name '*.d' 2>/dev/null)
endef

$(eval $(call flavour,build,))
$(eval $(call flavour,build/asan,$(SAN_FLAGS)))
$(eval $(call flavour,build/tsan,$(TSAN_FLAGS),$(TSANCC)))

UNIT_BINS      := $(patsubst tests/unit/%.c,build/tests/%,$(UNIT_SRC))
UNIT_BINS_ASAN := $(patsubst tests/unit/%.c,build/asan/tests/%,$(UNIT_SRC))
FUZZ_BINS      := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))

.PHONY: all asan tsan unit fuzz fuzz-long test run bench deps deps-test deps-bench clean format
# Objects of test binaries are not intermediates to delete: keep them for incremental builds.
.SECONDARY:
all: build/lux build/lux-test

asan: build/asan/lux build/asan/lux-test $(UNIT_BINS_ASAN)
unit: $(UNIT_BINS)
tsan: build/tsan/lux

# libFuzzer drivers: the library built once more with clang and the fuzzer's coverage
# instrumentation (fuzzer-no-link), each driver linked against it.
FUZZ_CFLAGS := -std=c17 -D_GNU_SOURCE -Iinclude -Isrc $(PKG_CFLAGS) -g -O1 -MMD -MP \
    -fsanitize=fuzzer-no-link,address,undefined
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC build/fuzz $<"
	@$(FUZZCC) $(FUZZ_CFLAGS) -c $< -o $@
build/fuzz/liblux.a: $(patsubst %.c,build/fuzz/obj/%.o,$(LIB_SRC))
	@rm -f $@
	ar rcs $@ $^
build/fuzz/%: tests/fuzz/%.c build/fuzz/liblux.a
	$(FUZZCC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< build/fuzz/liblux.a $(LIBS)
-include $(shell find build/fuzz/obj -name '*.d' 2>/dev/null)
fuzz: $(FUZZ_BINS)
# Every driver for FUZZ_MINUTES minutes, two at a time; FUZZ_MERGE=1 keeps new inputs that add
# coverage in tests/fuzz/corpus/ (otherwise they stay in build/fuzz-long/).
FUZZ_MINUTES ?= 10
fuzz-long: fuzz
	@FUZZ_MINUTES=$(FUZZ_MINUTES) sh tests/fuzz/long.sh

deps:
	@sh tools/deps.sh run
deps-test:
	@sh tools/deps.sh test
deps-bench:
	@sh tools/deps.sh bench

test: deps-test
	@$(MAKE) --no-print-directory -j2 all unit asan tsan fuzz
	@sh tests/run

run: deps
	@$(MAKE) --no-print-directory all
	./build/lux -D -f examples/lux.conf

bench: deps-bench all
	@sh bench/run

format:
	clang-format -i $(SRC) $(shell find src include tests -name '*.h') $(UNIT_SRC) $(FUZZ_SRC) \
	    $(TESTMOD_SRC)

clean:
	rm -rf build
