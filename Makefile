# berth - a private container registry (OCI distribution-spec 1.1) behind nginx.
#
#   make            build berthd and berthctl
#   make run        start nginx + the pool on https://127.0.0.1:5443 (PORT=, DATA=, LISTEN=0.0.0.0)
#   make test       unit + integration tests, ends with "N passed, N failed"
#   make check      the same, built with AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz       build the libFuzzer targets (clang) and run each briefly (FUZZ_TIME=20 s)
#   make soak       an hour of mixed load, gc and worker kills on the real stack (SOAK_TIME=3600)
#   make install    PREFIX=/usr/local DESTDIR=  (berthd, berthctl, units, man pages,
#                   nginx snippet; /etc/berth/berth.conf only where absent)
#   make uninstall  the same PREFIX/DESTDIR: removes what install put there
#                   but the configuration (and never the data)
#   make deb        berth_$(VERSION)_amd64.deb into $(BUILD) (util/mkdeb.sh, debian/)

CC      ?= gcc
PREFIX  ?= /usr/local
BUILD   ?= build
PORT    ?= 5443
DATA    ?= $(CURDIR)/var
LISTEN  ?= 127.0.0.1

WARN    = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
          -Wformat=2 -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 $(WARN) -I. -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64
ifeq ($(DEVELOPER),1)
CFLAGS  += -Werror
endif
ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=$(SANITIZE)
endif
# berth_build_info on /metrics (util/metrics.c): the release, and the commit built
VERSION ?= 0.1.0
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
$(BUILD)/util/metrics.o: CFLAGS += -DBERTH_VERSION='"$(VERSION)"' -DBERTH_COMMIT='"$(COMMIT)"'
LDLIBS  = -pthread -lfcgi -ljansson -lcrypto -lssl -lldap -llber -lcrypt

MAINS    = fcgi/berthd.c ctl/berthctl.c
# the layers, bottom to top (README, "The source"): util oci store auth fcgi ctl
LIB_SRC  = $(filter-out $(MAINS),$(wildcard util/*.c oci/*.c store/*.c auth/*.c fcgi/*.c))
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
CTL_SRC  = $(filter-out $(MAINS),$(wildcard ctl/*.c))
CTL_OBJ  = $(CTL_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
HDRS     = $(wildcard util/*.h oci/*.h store/*.h auth/*.h fcgi/*.h ctl/*.h tests/unit/*.h)

.PHONY: all run test check fuzz install clean deps unit
# keep the unit tests' objects: no "rm" after the test summary line
.SECONDARY:

FAULT_LIB = $(BUILD)/tests/libberthfault.so

all: $(BUILD)/berthd $(BUILD)/berthctl $(UNIT_BIN) $(FAULT_LIB)

$(BUILD)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libberth.a: $(LIB_OBJ)
	rm -f $@; ar rcs $@ $^

$(BUILD)/berthd: $(BUILD)/fcgi/berthd.o $(BUILD)/libberth.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/berthctl: $(BUILD)/ctl/berthctl.o $(CTL_OBJ) $(BUILD)/libberth.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libberth.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The fault-injection shim (tests/fault/fault.c), LD_PRELOADed into berthd
# by the tests: never sanitized, and with the C library's own off_t names.
$(FAULT_LIB): tests/fault/fault.c
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -fsanitize=% -fno-sanitize-recover=% -D_FILE_OFFSET_BITS=64,$(CFLAGS)) \
		-fPIC -shared -o $@ $< -ldl

deps:
	@sh util/deps.sh

run: deps all
	@BUILD=$(BUILD) PORT=$(PORT) DATA=$(DATA) LISTEN="$(LISTEN)" sh util/run.sh

unit: all
	@BUILD=$(BUILD) sh tests/run.sh unit

test: deps all
	@BUILD=$(BUILD) sh tests/run.sh

check:
	$(MAKE) BUILD=build-san SANITIZE=address,undefined CC=gcc test

fuzz:
	@BUILD=build-fuzz sh tests/fuzz/run.sh

# Mixed load with gc and worker kills, then fsck and every push pulled back
# (bench/soak.sh); not part of `make test`.  Report in bench/results/.
.PHONY: soak
soak: $(BUILD)/berthd $(BUILD)/berthctl
	@BUILD=$(BUILD) bash bench/soak.sh

# berth against the reference registry, side by side (bench/run.sh).
.PHONY: bench
bench:
	@BUILD=$(BUILD) bash bench/run.sh

# The Filesystem Hierarchy Standard way.  With PREFIX=/usr (a package) the
# configuration is /etc/berth and the units /lib/systemd/system (where
# Debian 12 keeps them); under any other PREFIX both live below it.  The
# units and the default berth.conf name /usr/sbin and /etc/berth; they are
# rewritten to SBINDIR and SYSCONFDIR on the way.  berth.conf and the
# policy are installed only where none exists: an administrator's file is
# never overwritten.  State (/var/lib/berth, /run/berth, /var/log/berth)
# is made by systemd-tmpfiles from berth.tmpfiles, the account by
# systemd-sysusers; `make install` writes nothing outside DESTDIR/PREFIX
# but the configuration directory.
SBINDIR  ?= $(PREFIX)/sbin
DATADIR  ?= $(PREFIX)/share
MANDIR   ?= $(DATADIR)/man
DOCDIR   ?= $(DATADIR)/doc/berth
ifeq ($(PREFIX),/usr)
SYSCONFDIR     ?= /etc
SYSTEMDUNITDIR ?= /lib/systemd/system
else
SYSCONFDIR     ?= $(PREFIX)/etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
endif
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
INSTALL_SED = sed -e 's|/usr/sbin/|$(SBINDIR)/|g' -e 's|/etc/berth/|$(SYSCONFDIR)/berth/|g' \
	-e 's|/usr/share/berth/|$(DATADIR)/berth/|g' -e 's|/usr/share/doc/berth/|$(DOCDIR)/|g'
SYSTEMD_UNITS = berthd.service berth-signer.service berth-gc.service berth-gc.timer
MAN8 = docs/man/berthd.8 docs/man/berthctl.8
MAN5 = docs/man/berth.conf.5

.PHONY: uninstall
install: $(BUILD)/berthd $(BUILD)/berthctl
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DATADIR)/berth/nginx $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR)/berth
	install -m 0755 $(BUILD)/berthd $(BUILD)/berthctl $(DESTDIR)$(SBINDIR)/
	install -m 0644 nginx/* $(DESTDIR)$(DATADIR)/berth/nginx/
	sh util/mkconf.sh --snippets util/systemd/berth.conf $(DESTDIR)$(DATADIR)/berth/nginx $(DATADIR)/berth/nginx/fastcgi_params
	install -m 0644 docs/policy.example $(DESTDIR)$(DOCDIR)/
	for u in $(SYSTEMD_UNITS); do \
		$(INSTALL_SED) util/systemd/$$u >$(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp && \
		chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp && \
		mv -f $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp $(DESTDIR)$(SYSTEMDUNITDIR)/$$u || exit 1; \
	done
	install -m 0644 util/systemd/berth.tmpfiles $(DESTDIR)$(TMPFILESDIR)/berth.conf
	install -m 0644 util/systemd/berth.sysusers $(DESTDIR)$(SYSUSERSDIR)/berth.conf
	install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	for f in berth.conf policy; do \
		dst=$(DESTDIR)$(SYSCONFDIR)/berth/$$f; \
		if [ -e "$$dst" ]; then echo "install: keeping $$dst"; continue; fi; \
		$(INSTALL_SED) util/systemd/$$f >"$$dst.tmp" && chmod 0644 "$$dst.tmp" && \
		mv -f "$$dst.tmp" "$$dst" || exit 1; \
	done

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/berthd $(DESTDIR)$(SBINDIR)/berthctl
	rm -rf $(DESTDIR)$(DATADIR)/berth $(DESTDIR)$(DOCDIR)
	rm -f $(SYSTEMD_UNITS:%=$(DESTDIR)$(SYSTEMDUNITDIR)/%)
	rm -f $(DESTDIR)$(TMPFILESDIR)/berth.conf $(DESTDIR)$(SYSUSERSDIR)/berth.conf
	rm -f $(MAN8:docs/man/%=$(DESTDIR)$(MANDIR)/man8/%) $(MAN5:docs/man/%=$(DESTDIR)$(MANDIR)/man5/%)
	@echo "uninstall: kept $(DESTDIR)$(SYSCONFDIR)/berth (configuration) and the data"

# The Debian package, from a `make install DESTDIR=` tree (util/mkdeb.sh).
.PHONY: deb
deb:
	@BUILD=$(BUILD) VERSION=$(VERSION) sh util/mkdeb.sh

clean:
	rm -rf build build-san build-fuzz
