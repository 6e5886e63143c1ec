# lux — one plain Makefile. `make` builds build/lux; `make test` runs every test layer;
# `make run` serves examples/ on http://127.0.0.1:8080.

CC      ?= cc
FUZZCC  ?= clang
PKGS    := libpcre2-8 openssl zlib libbrotlienc libzstd lua5.4 libnghttp2 sqlite3
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# Where `make install` puts things; the module directory is compiled in (lux -m overrides it).
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MODULEDIR  := $(LIBDIR)/lux/modules

WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wno-missing-field-initializers -Wstrict-prototypes
CFLAGS  ?= -O2 -g
MODULEDIR_DEF := -DLUX_MODULE_DIR='"$(MODULEDIR)"'
ALL_CFLAGS := -std=c17 -D_GNU_SOURCE -Iinclude -Isrc $(WARN) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP \
    $(MODULEDIR_DEF)
LIBS    := $(PKG_LIBS) -lbz2 -lcrypt -lpthread -ldl
# The module directory is compiled into module_load.c: rebuild it when PREFIX changes.
MODULEDIR_STAMP := build/moduledir.stamp
$(shell mkdir -p build && (echo '$(MODULEDIR)' | cmp -s - $(MODULEDIR_STAMP) || \
    echo '$(MODULEDIR)' > $(MODULEDIR_STAMP)))
# Loadable modules resolve lux's functions in the binary: export the public API (every lux_*
# function include/lux/ declares) and nothing else.
DYNLIST := build/lux.dynlist
EXPORT  := -Wl,--dynamic-list=$(DYNLIST)

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

$(1)/obj/src/core/module_load.o: $$(MODULEDIR_STAMP)

$(1)/liblux.a: $$(patsubst %.c,$(1)/obj/%.o,$$(LIB_SRC))
	@rm -f $$@
	ar rcs $$@ $$^

$(1)/lux: $(1)/obj/src/main.o $(1)/liblux.a $$(DYNLIST)
	$(or $(3),$$(CC)) $(2) $$(EXPORT) -o $$@ $$(filter-out $$(DYNLIST),$$^) $$(LIBS)

$(1)/lux-test: $(1)/obj/src/main.o $$(patsubst %.c,$(1)/obj/%.o,$$(TESTMOD_SRC)) $(1)/liblux.a \
    $$(DYNLIST)
	$(or $(3),$$(CC)) $(2) $$(EXPORT) -o $$@ $$(filter-out $$(DYNLIST),$$^) $$(LIBS)

$(1)/tests/%: $(1)/obj/tests/unit/%.o $(1)/liblux.a
	@mkdir -p $$(dir $$@)
	$(or $(3),$$(CC)) $(2) -o $$@ $$^ $$(LIBS)

-include $$(shell find $(1)/obj -name '*.d' 2>/dev/null)
endef

$(DYNLIST): $(wildcard include/lux/*.h)
	@mkdir -p $(dir $@)
	@{ echo "{"; grep -ohP '\blux_[a-z0-9_]+(?= *\([^*])' include/lux/*.h | sort -u | \
	    sed 's/.*/    &;/'; echo "};"; } > $@

$(eval $(call flavour,build,))
$(eval $(call flavour,build/asan,$(SAN_FLAGS)))
$(eval $(call flavour,build/tsan,$(TSAN_FLAGS),$(TSANCC)))

UNIT_BINS      := $(patsubst tests/unit/%.c,build/tests/%,$(UNIT_SRC))
UNIT_BINS_ASAN := $(patsubst tests/unit/%.c,build/asan/tests/%,$(UNIT_SRC))
FUZZ_BINS      := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))

.PHONY: all asan tsan unit fuzz fuzz-long soak-backends test run bench deps deps-test deps-bench clean format \
    man install uninstall plugins install-dev
# Objects of test binaries are not intermediates to delete: keep them for incremental builds.
.SECONDARY:
all: build/lux build/lux-test

asan: build/asan/lux build/asan/lux-test $(UNIT_BINS_ASAN)
unit: $(UNIT_BINS)
tsan: build/tsan/lux

# libFuzzer drivers: the library built once more with clang and the fuzzer's coverage
# instrumentation (fuzzer-no-link), each driver linked against it.
FUZZ_CFLAGS := -std=c17 -D_GNU_SOURCE -Iinclude -Isrc $(PKG_CFLAGS) -g -O1 -MMD -MP \
    -fsanitize=fuzzer-no-link,address,undefined $(MODULEDIR_DEF)
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

# SOAK_REQUESTS requests with random backend faults over mod_proxy, mod_fastcgi and mod_scgi at
# once against the ASan build, then descriptors and sanitizer checked; SOAK_SEED=N repeats a run.
SOAK_REQUESTS ?= 10000
soak-backends: asan
	@python3 tests/integration/soak_backends.py --bin build/asan/lux --asan \
	    --requests $(SOAK_REQUESTS) $(if $(SOAK_SEED),--seed $(SOAK_SEED))

# Example modules, built as an outside author builds them: only include/lux/, no lux sources.
PLUGIN_SRC := $(wildcard examples/plugins/*/mod_*.c)
PLUGIN_SOS := $(addprefix build/plugins/,$(notdir $(PLUGIN_SRC:.c=.so)))
PLUGIN_CFLAGS := -std=c17 -Iinclude $(WARN) -O2 -g -fPIC -shared -MMD -MP
build/plugins/%.so:
	@mkdir -p $(dir $@)
	$(CC) $(PLUGIN_CFLAGS) -o $@ $(filter %/$*.c,$(PLUGIN_SRC))
$(foreach c,$(PLUGIN_SRC),$(eval build/plugins/$(notdir $(c:.c=.so)): $(c)))
-include $(wildcard build/plugins/*.d)
plugins: $(PLUGIN_SOS)

# The module author's kit: the headers and lux.pc, so that
# `cc $$(pkg-config --cflags lux) -shared -fPIC mod_x.c -o mod_x.so` builds a module.
LUX_VERSION := $(shell sed -n 's/^\#define LUX_VERSION "\(.*\)"/\1/p' src/core/version.h)
install-dev:
	install -d $(DESTDIR)$(INCLUDEDIR)/lux $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(MODULEDIR)
	install -m 644 include/lux/*.h $(DESTDIR)$(INCLUDEDIR)/lux/
	sed -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@MODULEDIR@|$(MODULEDIR)|' \
	    -e 's|@VERSION@|$(LUX_VERSION)|' lux.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/lux.pc
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/lux.pc
deps:
	@sh tools/deps.sh run
deps-test:
	@sh tools/deps.sh test
deps-bench:
	@sh tools/deps.sh bench

test: deps-test
	@$(MAKE) --no-print-directory -j2 all unit asan tsan fuzz plugins
	@sh tests/run

run: deps
	@$(MAKE) --no-print-directory all
	./build/lux -D -f examples/lux.conf

bench: deps-bench all
	@sh bench/run

# Installation: `make install PREFIX=/usr DESTDIR=/tmp/pkg`. Paths written into the man pages
# and the systemd units follow PREFIX (configuration under /etc when PREFIX is /usr).
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR    ?= $(LIBDIR)/systemd/system
VERSION    := $(shell sed -n 's/^\#define LUX_VERSION "\(.*\)"/\1/p' src/core/version.h)
SUBST_PATHS = sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@SBINDIR@|$(SBINDIR)|g' \
    -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'
# lux.conf(5)'s directive list is generated from the directive tables of docs/configuration.md
# and docs/modules.md, so they never differ (tests/unit/test_directive_docs.c checks the tables
# against the directives lux's modules take). $(1) the output file.
DIRECTIVE_DOCS := docs/configuration.md docs/modules.md
define man_conf
	awk -f man/directives.awk $(DIRECTIVE_DOCS) > $(1).directives
	$(SUBST_PATHS) man/lux.conf.5.in | sed -e '/@DIRECTIVES@/{r $(1).directives' -e 'd' -e '}' > $(1)
	rm -f $(1).directives
endef

man: build/man/lux.8 build/man/lux.conf.5
build/man/lux.8: man/lux.8.in src/core/version.h
	@mkdir -p $(dir $@)
	$(SUBST_PATHS) $< > $@
build/man/lux.conf.5: man/lux.conf.5.in man/directives.awk $(DIRECTIVE_DOCS) src/core/version.h
	@mkdir -p $(dir $@)
	$(call man_conf,$@)

# Pages and units are written afresh here: they carry this install's paths. An existing
# configuration file is never overwritten.
install: build/lux install-dev
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(SYSCONFDIR)/lux $(DESTDIR)$(SYSCONFDIR)/logrotate.d \
	    $(DESTDIR)$(LIBDIR)/lux/modules $(DESTDIR)$(UNITDIR)
	install -m 755 build/lux $(DESTDIR)$(SBINDIR)/lux
	$(SUBST_PATHS) man/lux.8.in > $(DESTDIR)$(MANDIR)/man8/lux.8
	$(call man_conf,$(DESTDIR)$(MANDIR)/man5/lux.conf.5)
	chmod 644 $(DESTDIR)$(MANDIR)/man8/lux.8 $(DESTDIR)$(MANDIR)/man5/lux.conf.5
	$(SUBST_PATHS) deploy/systemd/lux.service.in > $(DESTDIR)$(UNITDIR)/lux.service
	install -m 644 deploy/systemd/lux.socket $(DESTDIR)$(UNITDIR)/lux.socket
	chmod 644 $(DESTDIR)$(UNITDIR)/lux.service
	install -m 644 deploy/logrotate/lux $(DESTDIR)$(SYSCONFDIR)/logrotate.d/lux
	test -e $(DESTDIR)$(SYSCONFDIR)/lux/lux.conf || \
	    install -m 644 deploy/lux.conf $(DESTDIR)$(SYSCONFDIR)/lux/lux.conf

# Leaves the configuration (and anything added to the module directory) in place.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/lux $(DESTDIR)$(MANDIR)/man8/lux.8 \
	    $(DESTDIR)$(MANDIR)/man5/lux.conf.5 $(DESTDIR)$(UNITDIR)/lux.service \
	    $(DESTDIR)$(UNITDIR)/lux.socket $(DESTDIR)$(SYSCONFDIR)/logrotate.d/lux \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/lux.pc
	rm -rf $(DESTDIR)$(INCLUDEDIR)/lux
	-rmdir $(DESTDIR)$(LIBDIR)/lux/modules $(DESTDIR)$(LIBDIR)/lux 2>/dev/null

format:
	clang-format -i $(SRC) $(shell find src include tests -name '*.h') $(UNIT_SRC) $(FUZZ_SRC) \
	    $(TESTMOD_SRC) $(PLUGIN_SRC)

clean:
	rm -rf build
