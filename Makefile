# cutover - one hand-written Makefile (see README.md).
#
#   make               the cutover binary
#   make check         unit tests, integration tests (real lab servers), fuzz smoke
#   make demo          install missing packages, build, start the lab, run an audit
#   make SANITIZE=1    build everything with ASan + UBSan (objects in build-san/)
#   make fuzz          libFuzzer targets with clang (objects in build-fuzz/)
#   make install       PREFIX=/usr/local DESTDIR=

VERSION   := 0.1.0
PREFIX    ?= /usr/local
DESTDIR   ?=
CC        ?= cc
PYTHON    ?= /usr/bin/python3
PKGS      := libcares libevent libevent_openssl openssl libcurl libcjson sqlite3 expat
FUZZ_SECONDS ?= 10

ifeq ($(SANITIZE),1)
BUILD     ?= build-san
SANFLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT       := -O1
else
BUILD     ?= build
SANFLAGS  :=
OPT       := -O2
endif

# On a fresh machine `make check`/`make demo` parse this before contrib/deps.sh
# has installed the libraries; their recipes then run sub-makes that see them.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lresolv -lm
WARN       := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
              -Wformat=2 -Wno-format-nonliteral
CPPFLAGS   += -D_GNU_SOURCE -DCUTOVER_VERSION='"$(VERSION)"' -I.
CPPFLAGS   += -DCUTOVER_DATADIR='"$(PREFIX)/share/cutover"'
CFLAGS     ?= -g $(OPT)
ALL_CFLAGS := -std=c11 $(WARN) $(CFLAGS) $(SANFLAGS) $(PKG_CFLAGS) -MMD -MP
ALL_LDFLAGS := $(LDFLAGS) $(SANFLAGS)

LIB_SRC  := $(filter-out src/cli/main.c,$(wildcard src/*.c src/cli/*.c checks/*.c reports/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/assets.o
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FORMAT_SRC := $(wildcard src/*.[ch] src/cli/*.[ch] checks/*.[ch] reports/*.[ch] tests/unit/*.[ch] tests/fuzz/*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/tests/%)

.PHONY: all check unit integration fuzz fuzz-smoke demo install clean deps lab-up lab-down format pkgcheck lint-assets lint

all: cutover

ifeq ($(SANITIZE),1)
all: $(BUILD)/cutover
endif

cutover: $(BUILD)/cutover
	@if [ "$(BUILD)" = build ]; then cp $(BUILD)/cutover cutover; fi

$(BUILD)/cutover: $(BUILD)/src/cli/main.o $(BUILD)/libcutover.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/libcutover.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# A clear word instead of a page of missing-header errors.
pkgcheck:
	@pkg-config --exists $(PKGS) || { echo "cutover: missing libraries:" \
	    "$$(for p in $(PKGS); do pkg-config --exists $$p || printf '%s ' $$p; done)" \
	    "- run 'make deps' (or bash contrib/deps.sh) first" >&2; exit 1; }

$(BUILD)/%.o: %.c | pkgcheck
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

# The HTML report's stylesheet and script (reports/assets.h): real files
# turned into C arrays by a generator built for this machine (as curl's
# mk-file-embed), so they can be edited and linted as what they are.
ASSETS      := html_css reports/assets/report.css html_js reports/assets/report.js
EMBED_CMD    = $(CC) -std=c11 $(WARN) -O2 -o $@ reports/assets/embed.c
GEN_ASSETS   = $(dir $@)embed $(ASSETS) >$@.tmp && mv $@.tmp $@

$(BUILD)/gen/embed build-fuzz/gen/embed: reports/assets/embed.c
	@mkdir -p $(dir $@)
	$(EMBED_CMD)

$(BUILD)/gen/assets.c: $(BUILD)/gen/embed $(filter reports/%,$(ASSETS))
	$(GEN_ASSETS)

build-fuzz/gen/assets.c: build-fuzz/gen/embed $(filter reports/%,$(ASSETS))
	$(GEN_ASSETS)

$(BUILD)/gen/assets.o: $(BUILD)/gen/assets.c | pkgcheck
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

# The script must parse (node --check; nodejs is a Debian package, installed
# by contrib/deps.sh). No Debian package lints CSS.
lint-assets:
	node --check reports/assets/report.js

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libcutover.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libcutover.a \
	    $(ALL_LDFLAGS) $(PKG_LIBS) $(shell pkg-config --libs cmocka)

# ---- tests -----------------------------------------------------------------
unit: $(UNIT_BIN)
	@fail=0; for t in $(UNIT_BIN); do \
	    echo "== $$t"; $$t || fail=1; \
	done; exit $$fail

integration: $(BUILD)/cutover
	CUTOVER_BIN=$(abspath $(BUILD)/cutover) $(PYTHON) -m pytest -q tests/integration

check: deps
	$(MAKE) lint
	$(MAKE) lint-assets
	$(MAKE) unit
	$(MAKE) integration
	$(MAKE) fuzz-smoke

# The code's own rules (docs/layers.md): who may include whom, function
# length (allow-list for RFC-shaped ones), the formatting of .clang-format.
lint:
	bash .ci/layers.sh
	python3 .ci/funclen.py
	@clang-format --dry-run --Werror $(FORMAT_SRC)
	@echo "lint: formatting ok"

# ---- fuzzing (clang + libFuzzer) ---------------------------------------------
FUZZ_CC     ?= clang
FUZZ_FLAGS  := -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
FUZZ_OBJ    := $(LIB_SRC:%.c=build-fuzz/%.o) build-fuzz/gen/assets.o

FUZZ_COMPILE = $(FUZZ_CC) $(CPPFLAGS) -std=c11 $(WARN) -Wno-unknown-warning-option $(FUZZ_FLAGS) \
	    $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

build-fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_COMPILE)

build-fuzz/gen/assets.o: build-fuzz/gen/assets.c
	$(FUZZ_COMPILE)

build-fuzz/libcutover.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

build-fuzz/tests/%: tests/fuzz/%.c build-fuzz/libcutover.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -std=c11 $(WARN) $(FUZZ_FLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) \
	    -o $@ $< build-fuzz/libcutover.a $(PKG_LIBS)

fuzz: $(FUZZ_BIN)

# Each target runs FUZZ_SECONDS on its seed corpus (tests/fuzz/corpus/NAME);
# new inputs go to a scratch folder so the committed corpus stays as it is.
fuzz-smoke: $(FUZZ_BIN)
	@fail=0; for f in $(FUZZ_BIN); do \
	    n=$$(basename $$f); scratch=build-fuzz/corpus/$$n; mkdir -p $$scratch; \
	    echo "== $$n ($(FUZZ_SECONDS) s)"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=0 \
	        $$scratch tests/fuzz/corpus/$$n >build-fuzz/$$n.log 2>&1 \
	        || { fail=1; tail -40 build-fuzz/$$n.log; }; \
	    grep -E '^Done [0-9]+ runs' build-fuzz/$$n.log || true; \
	done; \
	if [ $$fail = 0 ]; then echo "fuzz: $(words $(FUZZ_BIN)) passed, 0 failed"; \
	else echo "fuzz: a target failed"; fi; exit $$fail

# ---- set-up, lab, demo -------------------------------------------------------
deps:
	@bash contrib/deps.sh

lab-up:
	@bash contrib/lab/lab.sh up

lab-down:
	@bash contrib/lab/lab.sh down

# The demo installs only what it uses (contrib/deps.sh --demo); make check all.
demo:
	@bash contrib/deps.sh --demo
	$(MAKE) cutover
	@bash contrib/demo.sh

# The container image (contrib/Dockerfile) for contrib/k8s; skipped with a
# message when neither buildah nor a docker engine is available.
IMAGE ?= cutover:$(VERSION)
.PHONY: image
image:
	@bash contrib/image.sh $(IMAGE)

install: cutover
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/cutover \
	    $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 cutover $(DESTDIR)$(PREFIX)/bin/cutover
	install -m 0644 reports/report.schema.json reports/SCHEMA.md $(DESTDIR)$(PREFIX)/share/cutover/
	install -m 0644 contrib/resolvers/public-resolvers.txt $(DESTDIR)$(PREFIX)/share/cutover/
	install -m 0644 contrib/man/cutover.1 $(DESTDIR)$(PREFIX)/share/man/man1/cutover.1

format:
	clang-format -i $(FORMAT_SRC)

clean:
	rm -rf build build-san build-fuzz cutover

-include $(shell find $(sort build build-san build-fuzz $(BUILD)) -name '*.d' 2>/dev/null)
