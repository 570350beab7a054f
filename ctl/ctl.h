/*
 * ctl.h - what berthctl's command files share (ctl/ctl_store.c,
 * ctl/ctl_fsck.c, ctl/ctl_lock.c, ctl/ctl_auth.c): exit codes, the
 * "berthctl CMD: what failed: why" error line, --help and usage lines, JSON
 * output, sizes for people and the common argument parser.  Internal to
 * berthctl; nothing else includes it.
 */
#ifndef BERTH_CTL_H
#define BERTH_CTL_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "util/err.h"

/* berthctl's exit codes (ctl/berthctl.c). */
enum { CTL_EX_OK = 0, CTL_EX_PROBLEM = 1, CTL_EX_USAGE = 2, CTL_EX_STORE = 3 };

/* "berthctl CMD: " + the message + newline on stderr; returns `code`. */
int ctl_fail(int code, const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Exit code for a store error: not found / refused 1, malformed 2, else 3. */
int ctl_exit_for(enum berr rc);

/* "usage: berthctl USAGE" and the exit codes on stdout; returns CTL_EX_OK. */
int ctl_help(const char *usage);

/* One command's usage for berthctl's usage text: indented, its continuation
 * lines indented further. */
void ctl_usage_line(FILE *f, const char *usage);

/* doc, indented, and a newline on stdout; takes the reference. */
void ctl_json_print(json_t *doc);

/* n bytes for people: "512 B", "1.5 MiB"; returns buf. */
const char *ctl_human(long long n, char *buf, size_t len);

/* What every store command takes: --json, --help, positional arguments. */
struct ctl_args {
	int json, help, bad;
	const char *pos[2];
	int npos;
};

/* Parse argv[1..]: option names[k] sets vals[k] (to the next argument
 * when the name ends in '=', e.g. "--grace=" takes "--grace 1h"); at most
 * maxpos positional arguments.  Returns CTL_EX_OK or CTL_EX_USAGE (said
 * why, as `cmd`). */
int ctl_parse_args(const char *cmd, int argc, char **argv, const char *const *names,
		   const char **vals, int maxpos, struct ctl_args *a);

#endif
