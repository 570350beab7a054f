/*
 * ctl.c - berthctl's shared helpers (ctl.h).  They fix what every command
 * looks like from outside: errors as one "berthctl CMD: what failed: why"
 * line on stderr, one JSON document on stdout with --json, the same help
 * footer and exit codes; the command files only decide what to say.
 */
#include <stdarg.h>
#include <string.h>

#include "ctl/ctl.h"

int ctl_fail(int code, const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "berthctl %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int ctl_exit_for(enum berr rc)
{
	switch (rc) {
	case BERR_OK: return CTL_EX_OK;
	case BERR_NAME_INVALID: case BERR_MANIFEST_INVALID: case BERR_DIGEST_INVALID:
		return CTL_EX_USAGE;
	case BERR_NAME_UNKNOWN: case BERR_MANIFEST_UNKNOWN: case BERR_BLOB_UNKNOWN:
	case BERR_BLOB_UPLOAD_UNKNOWN: case BERR_BUSY: case BERR_DENIED:
		return CTL_EX_PROBLEM;
	default: return CTL_EX_STORE;
	}
}

int ctl_help(const char *usage)
{
	printf("usage: berthctl %s\n", usage);
	printf("exit codes: 0 ok, 1 problem or not found, 2 usage error, 3 store unreadable\n");
	return CTL_EX_OK;
}

void ctl_usage_line(FILE *f, const char *usage)
{
	const char *p;

	fputs("  ", f);
	for (p = usage; *p; p++) {
		fputc(*p, f);
		if (*p == '\n')
			fputs("    ", f);
	}
	fputc('\n', f);
}

void ctl_json_print(json_t *doc)
{
	json_dumpf(doc, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(doc);
}

const char *ctl_human(long long n, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%lld B", n);
	else
		snprintf(buf, len, "%.1f %s", v, unit[i]);
	return buf;
}

int ctl_parse_args(const char *cmd, int argc, char **argv, const char *const *names,
		   const char **vals, int maxpos, struct ctl_args *a)
{
	int i, k;

	memset(a, 0, sizeof(*a));
	for (i = 1; i < argc; i++) {
		const char *s = argv[i];

		if (strcmp(s, "--json") == 0) {
			a->json = 1;
			continue;
		}
		if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
			a->help = 1;
			continue;
		}
		for (k = 0; names && names[k]; k++) {
			size_t n = strlen(names[k]);
			int valued = names[k][n - 1] == '=';

			if (strncmp(s, names[k], valued ? n - 1 : n) != 0 || s[valued ? n - 1 : n])
				continue;
			if (valued) {
				if (i + 1 >= argc)
					return ctl_fail(CTL_EX_USAGE, cmd, "%s needs a value", s);
				vals[k] = argv[++i];
			} else {
				vals[k] = s;
			}
			break;
		}
		if (names && names[k])
			continue;
		if (s[0] == '-')
			return ctl_fail(CTL_EX_USAGE, cmd, "unknown option %s (see --help)", s);
		if (a->npos >= maxpos)
			return ctl_fail(CTL_EX_USAGE, cmd, "unexpected argument \"%s\" (see --help)",
					s);
		a->pos[a->npos++] = s;
	}
	return CTL_EX_OK;
}
