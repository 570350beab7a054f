# berth - a private container registry (OCI distribution-spec 1.1) behind nginx.
#
#   make            build berthd and berthctl
#   make run        start nginx + the pool on https://127.0.0.1:5443 (PORT=, DATA=)
#   make test       unit + integration tests, ends with "N passed, N failed"
#   make check      the same, built with AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz       build the libFuzzer targets (clang) and run each briefly (FUZZ_TIME=20 s)
#   make soak       an hour of mixed load, gc and worker kills on the real stack (SOAK_TIME=3600)
#   make install    PREFIX=/usr/local DESTDIR=

CC      ?= gcc
PREFIX  ?= /usr/local
BUILD   ?= build
PORT    ?= 5443
DATA    ?= $(CURDIR)/var

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
	@BUILD=$(BUILD) PORT=$(PORT) DATA=$(DATA) sh util/run.sh

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

install: $(BUILD)/berthd $(BUILD)/berthctl
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/berth/nginx
	install -m 0755 $(BUILD)/berthd $(BUILD)/berthctl $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 nginx/* $(DESTDIR)$(PREFIX)/share/berth/nginx/

clean:
	rm -rf build build-san build-fuzz
