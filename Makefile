# closeloop — one non-recursive Makefile. Objects go to build/<mode>/.
#   make            release build of ./closeloopd and ./closeloop
#   make run        packages, build, private PostgreSQL, migrate, token, serve
#   make test       packages, sanitizer build, unit + integration tests
#   make bench      release build, load on loopback, prints figures
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= release
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
CC      ?= cc

PKGS    := libpq libcurl jansson libmicrohttpd libcrypto libcmark libical cairo fontconfig
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

# The tree: src/<area>/<module>.c with include/closeloop/<area>/<module>.h.
#   util/   shared basics (errors, log, buffers, UTF-8, validation, config, crypto,
#           JWT, the libcurl client)      db/    PostgreSQL pool, migrations
#   http/   the HTTP server (libmicrohttpd), paths, request metrics
#   api/    the JSON API and its route files      report/ the figures kept in the background,
#           the managers' digests (content, chart, the digester)
#   sync/   the sync core and one provider per tracker
#   mail/   outbound mail: MIME composition, SMTP through libcurl, the queue's worker
#           and the kinds of mail it renders
#   notify/ chat: Slack and Teams webhooks, the chat queue's worker and its kinds
#   cal/    iCalendar through libical (review invitations and calendar feeds)
#   review/ the review meeting: the scheduler, agenda, summary, invitation mails
#   daemon/ closeloopd      cli/   closeloop: arguments, verbs, requests, help, completion;
#           cli/show/ how answers are printed (tables, views, the dashboard, figures)
# Every module but the two main()s goes into one archive; each program and each unit
# test links its own object against it, so the linker takes only what is used.
DAEMON_MAIN := src/daemon/closeloopd.c
CLI_MAIN    := src/cli/closeloop.c
LIB_SRCS    := $(filter-out $(DAEMON_MAIN) $(CLI_MAIN),$(wildcard src/*/*.c src/*/*/*.c))
# The CLI may use util/ and cli/ only (kept honest by linking it without the rest).
CLI_LIB_SRCS := $(wildcard src/util/*.c) $(filter-out $(CLI_MAIN),$(wildcard src/cli/*.c src/cli/*/*.c))

obj = $(patsubst src/%.c,$(OUT)/%.o,$(1))

UNIT_SRCS := $(wildcard tests/unit/*/test_*.c tests/unit/*/*/test_*.c)
UNIT_BINS := $(foreach t,$(UNIT_SRCS),$(OUT)/tests/$(basename $(notdir $(t))))

.PHONY: all run test unit integration bench install clean format format-check deps debug fuzz \
        completion unit-bins man
MAN_PAGES := $(OUT)/man/closeloop.1 $(OUT)/man/closeloopd.8 $(OUT)/man/closeloopd.ini.5

all: $(BINDIR)/closeloopd $(BINDIR)/closeloop $(MAN_PAGES)

debug:
	$(MAKE) BUILD=debug all

# The man pages are written by the programs from the tables --help comes from.
$(OUT)/man/closeloop.1: $(BINDIR)/closeloop
	@mkdir -p $(dir $@)
	$(Q)$(BINDIR)/closeloop __man > $@.tmp && mv $@.tmp $@

$(OUT)/man/closeloopd.8: $(BINDIR)/closeloopd
	@mkdir -p $(dir $@)
	$(Q)$(BINDIR)/closeloopd man 8 > $@.tmp && mv $@.tmp $@

$(OUT)/man/closeloopd.ini.5: $(BINDIR)/closeloopd
	@mkdir -p $(dir $@)
	$(Q)$(BINDIR)/closeloopd man 5 > $@.tmp && mv $@.tmp $@

# The migrations and the SQL function files are compiled into the daemon.
SQL_FILES := $(sort $(wildcard sql/*.sql))
SQL_FUNCS := $(sort $(wildcard sql/functions/*.sql))
$(OUT)/migrations_data.c: $(SQL_FILES) $(SQL_FUNCS) contrib/embed-sql.sh
	@mkdir -p $(dir $@)
	$(Q)sh contrib/embed-sql.sh $@ $(SQL_FILES) -- $(SQL_FUNCS)

$(OUT)/migrations_data.o: $(OUT)/migrations_data.c
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) $(MODE_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(OUT)/libcloseloop.a: $(call obj,$(LIB_SRCS)) $(OUT)/migrations_data.o
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUT)/libcloseloop-cli.a: $(call obj,$(CLI_LIB_SRCS))
	$(Q)rm -f $@ && ar rcs $@ $^

$(BINDIR)/closeloopd: $(call obj,$(DAEMON_MAIN)) $(OUT)/libcloseloop.a
	@echo "  LD      $@"
	$(Q)$(CC) $(MODE_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(BINDIR)/closeloop: $(call obj,$(CLI_MAIN)) $(OUT)/libcloseloop-cli.a
	@echo "  LD      $@"
	$(Q)$(CC) $(MODE_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(OUT)/%.o: src/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) $(MODE_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

# One binary per tests/unit/<area>/test_<module>.c, linked against the archive.
define unit_rule
$(OUT)/tests/$(basename $(notdir $(1))): $(1) $(OUT)/libcloseloop.a
	@mkdir -p $$(dir $$@)
	@echo "  TEST    $$@"
	$$(Q)$$(CC) $$(CFLAGS) $$(MODE_CFLAGS) $$(PKG_CFLAGS) -Itests/support -o $$@ $$< $(OUT)/libcloseloop.a $$(MODE_LDFLAGS) $$(PKG_LIBS) $$(LDLIBS) -lcmocka
endef
$(foreach t,$(UNIT_SRCS),$(eval $(call unit_rule,$(t))))

# Fuzz targets (libFuzzer, clang): the library again, built for fuzzing into an archive, so
# that each target links only what it uses. `make fuzz` builds them; tests/fuzz/run.sh runs
# them (a short, bounded run is part of `make test`; FUZZ_SECONDS=600 for a long one).
FUZZ_CC    ?= clang
FUZZ_OUT   := build/fuzz
FUZZ_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
              -fno-sanitize-recover=all
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(FUZZ_OUT)/%,$(FUZZ_SRCS))
FUZZ_OBJS  := $(patsubst src/%.c,$(FUZZ_OUT)/obj/%.o,$(LIB_SRCS))

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
	$(Q)$(FUZZ_CC) $(CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) -Itests/support -o $@ $< \
		$(FUZZ_OUT)/libcloseloop.a $(PKG_LIBS) $(LDLIBS)

# The bash and zsh completions are written by the CLI from its verb table (a unit test
# keeps the committed copies equal to what the CLI writes).
completion: $(BINDIR)/closeloop
	$(BINDIR)/closeloop completion bash > contrib/closeloop.bash-completion
	$(BINDIR)/closeloop completion zsh > contrib/_closeloop

deps:
	@sh contrib/deps.sh

run: deps
	$(MAKE) all
	@sh contrib/run.sh

test: deps
	$(MAKE) format-check
	$(MAKE) -j$(JOBS) BUILD=debug all unit-bins
	$(MAKE) -j$(JOBS) fuzz
	@sh tests/run.sh build/debug

unit-bins: $(UNIT_BINS)

man: $(MAN_PAGES)

bench: deps
	$(MAKE) all $(OUT)/bench/bench_invite $(OUT)/bench/bench_digest
	@sh tests/bench/run.sh

# Benchmark tools linked against the archive (tests/bench/*.c).
$(OUT)/bench/%: tests/bench/%.c $(OUT)/libcloseloop.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(MODE_CFLAGS) $(PKG_CFLAGS) -o $@ $< $(OUT)/libcloseloop.a $(MODE_LDFLAGS) $(PKG_LIBS) $(LDLIBS)

# PREFIX/bin: both programs; PREFIX/share/man: their pages; bash and zsh completion where
# bash-completion and zsh look under PREFIX; the systemd unit (pointing at PREFIX/bin) in
# PREFIX/lib/systemd/system; the sample config and the SQL under PREFIX/share.
MAN_DIR  = $(DESTDIR)$(PREFIX)/share/man
UNIT_DIR = $(DESTDIR)$(PREFIX)/lib/systemd/system

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/closeloop/sql/functions \
		$(MAN_DIR)/man1 $(MAN_DIR)/man5 $(MAN_DIR)/man8 $(UNIT_DIR) \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/doc/closeloop
	install -m 0755 $(BINDIR)/closeloopd $(BINDIR)/closeloop $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(OUT)/man/closeloop.1 $(MAN_DIR)/man1/
	install -m 0644 $(OUT)/man/closeloopd.ini.5 $(MAN_DIR)/man5/
	install -m 0644 $(OUT)/man/closeloopd.8 $(MAN_DIR)/man8/
	install -m 0644 contrib/closeloop.bash-completion \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/closeloop
	install -m 0644 contrib/_closeloop $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_closeloop
	sed 's|/usr/local/bin/|$(PREFIX)/bin/|g' contrib/closeloopd.service > $(UNIT_DIR)/closeloopd.service
	chmod 0644 $(UNIT_DIR)/closeloopd.service
	install -m 0644 contrib/closeloopd.ini.example $(DESTDIR)$(PREFIX)/share/doc/closeloop/
	install -m 0644 sql/*.sql $(DESTDIR)$(PREFIX)/share/closeloop/sql/
	install -m 0644 sql/functions/*.sql $(DESTDIR)$(PREFIX)/share/closeloop/sql/functions/

FORMAT_FILES = $(wildcard src/*/*.c src/*/*/*.c include/closeloop/*/*.h include/closeloop/*/*/*.h tests/unit/*/*.c tests/unit/*/*/*.c tests/fuzz/*.c tests/bench/*.c \
                           tests/support/*.h)

format:
	clang-format -i $(FORMAT_FILES)

# Fails when a file is not laid out as `make format` would (CI runs it in `make test`).
format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES) && echo "format-check: clean"

clean:
	rm -rf build closeloopd closeloop

-include $(shell find build -name '*.d' 2>/dev/null)
