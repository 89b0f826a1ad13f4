# closeloop — one non-recursive Makefile. Objects go to build/<mode>/.
#   make            release build of ./closeloopd and ./closeloop
#   make run        packages, build, private PostgreSQL, migrate, token, serve
#   make test       packages, sanitizer build, unit + integration tests
#   make bench      release build, load on loopback, prints figures
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= release
CC      ?= cc

PKGS    := libpq libcurl jansson libmicrohttpd libcrypto
CFLAGS  := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude -MMD -MP \
           -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wpointer-arith -Wundef
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS  := -lev -lm

ifeq ($(BUILD),debug)
MODE_CFLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
MODE_LDFLAGS := -fsanitize=address,undefined
else
MODE_CFLAGS  := -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong
MODE_LDFLAGS :=
endif

OUT      := build/$(BUILD)
V        ?= 0
Q        := $(if $(filter 1,$(V)),,@)
BINDIR   := $(if $(filter debug,$(BUILD)),$(OUT),.)

# Modules shared by the daemon and the CLI.
COMMON_SRCS := src/cl.c src/log.c src/utf8.c
# CLI: its main and its own modules.
CLI_SRCS    := src/closeloop.c $(wildcard src/cli_*.c)
# Daemon: everything else.
DAEMON_SRCS := $(filter-out $(COMMON_SRCS) $(CLI_SRCS),$(wildcard src/*.c))
LIB_SRCS    := $(filter-out src/closeloopd.c,$(DAEMON_SRCS))

obj = $(patsubst src/%.c,$(OUT)/%.o,$(1))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))

.PHONY: all run test unit integration bench install clean format deps debug fuzz
all: $(BINDIR)/closeloopd $(BINDIR)/closeloop

debug:
	$(MAKE) BUILD=debug all

# The migrations and the SQL function files are compiled into the daemon.
SQL_FILES := $(sort $(wildcard sql/*.sql))
SQL_FUNCS := $(sort $(wildcard sql/functions/*.sql))
$(OUT)/migrations_data.c: $(SQL_FILES) $(SQL_FUNCS) contrib/embed-sql.sh
	@mkdir -p $(dir $@)
	$(Q)sh contrib/embed-sql.sh $@ $(SQL_FILES) -- $(SQL_FUNCS)

$(OUT)/migrations_data.o: $(OUT)/migrations_data.c
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) $(MODE_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(BINDIR)/closeloopd: $(call obj,$(DAEMON_SRCS) $(COMMON_SRCS)) $(OUT)/migrations_data.o
	@echo "  LD      $@"
	$(Q)$(CC) $(MODE_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(BINDIR)/closeloop: $(call obj,$(CLI_SRCS) $(COMMON_SRCS))
	@echo "  LD      $@"
	$(Q)$(CC) $(MODE_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(OUT)/%.o: src/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) $(MODE_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

# Each unit test links the whole library of modules; the linker keeps what it needs.
$(OUT)/tests/%: tests/unit/%.c $(call obj,$(LIB_SRCS) $(COMMON_SRCS) $(filter-out src/closeloop.c,$(CLI_SRCS))) $(OUT)/migrations_data.o
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	$(Q)$(CC) $(CFLAGS) $(MODE_CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(MODE_LDFLAGS) $(PKG_LIBS) $(LDLIBS) -lcmocka

# Fuzz targets (libFuzzer, clang): every daemon module in an archive, so that each target
# links only what it uses. `make fuzz` builds them; tests/fuzz/run.sh runs them (a short,
# bounded run is part of `make test`; FUZZ_SECONDS=600 tests/fuzz/run.sh for a long one).
FUZZ_CC    ?= clang
FUZZ_OUT   := build/fuzz
FUZZ_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
              -fno-sanitize-recover=all
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(FUZZ_OUT)/%,$(FUZZ_SRCS))
FUZZ_OBJS  := $(patsubst src/%.c,$(FUZZ_OUT)/obj/%.o,$(LIB_SRCS) $(COMMON_SRCS))

fuzz: $(FUZZ_BINS)

$(FUZZ_OUT)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $<"
	$(Q)$(FUZZ_CC) $(CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -c -o $@ $<

$(FUZZ_OUT)/obj/migrations_data.o: $(SQL_FILES) $(SQL_FUNCS) contrib/embed-sql.sh
	@mkdir -p $(dir $@)
	$(Q)sh contrib/embed-sql.sh $(FUZZ_OUT)/migrations_data.c $(SQL_FILES) -- $(SQL_FUNCS)
	$(Q)$(FUZZ_CC) $(CFLAGS) $(FUZZ_FLAGS) $(PKG_CFLAGS) -c -o $@ $(FUZZ_OUT)/migrations_data.c

$(FUZZ_OUT)/libcloseloop.a: $(FUZZ_OBJS) $(FUZZ_OUT)/obj/migrations_data.o
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OUT)/libcloseloop.a
	@echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) $(CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) -o $@ $< \
		$(FUZZ_OUT)/libcloseloop.a $(PKG_LIBS) $(LDLIBS)

deps:
	@sh contrib/deps.sh

run: deps
	$(MAKE) all
	@sh contrib/run.sh

test: deps
	$(MAKE) BUILD=debug all unit-bins
	$(MAKE) fuzz
	@sh tests/run.sh build/debug

unit-bins: $(UNIT_BINS)

bench: deps
	$(MAKE) all
	@sh tests/bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/closeloop/sql
	install -m 0755 closeloopd closeloop $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 sql/*.sql $(DESTDIR)$(PREFIX)/share/closeloop/sql/
	install -d $(DESTDIR)$(PREFIX)/share/closeloop/sql/functions
	install -m 0644 sql/functions/*.sql $(DESTDIR)$(PREFIX)/share/closeloop/sql/functions/

format:
	clang-format -i src/*.c include/closeloop/*.h tests/unit/*.c

clean:
	rm -rf build closeloopd closeloop

-include $(shell find build -name '*.d' 2>/dev/null)
