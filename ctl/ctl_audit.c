/*
 * ctl_audit.c - see ctl_audit.h.
 *
 * berthctl audit reads the file line by line and never trusts it whole: a
 * line that does not parse (the torn tail a crash left, or anything else)
 * is skipped and counted, and the count is said on stderr, so a reader
 * knows the answer is complete or not.  Records are shown in file order,
 * which is the order they were committed on this host.
 */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "ctl/ctl_audit.h"
#include "store/gc.h"
#include "util/audit.h"

static char actor[64];

static const char usage_audit[] =
	"audit [--since DUR] [--user U] [--repo R] [--file PATH] [--json]\n"
	"who changed what, from the audit log (audit_log): pushes, deletes,\n"
	"mounts, locks, users, tokens, logins, repo rm and what gc removed.\n"
	"--since 7d: only the last 7 days (s, m, h, d, w); --file: another\n"
	"file (a rotated one); --json: the records as JSON lines";

void ctl_audit_open(const struct config *cfg)
{
	const char *sudo = getenv("SUDO_USER");
	struct passwd *pw = getpwuid(getuid());

	if (getuid() == 0 && sudo && *sudo)
		snprintf(actor, sizeof(actor), "%s", sudo);
	else if (pw)
		snprintf(actor, sizeof(actor), "%s", pw->pw_name);
	else
		snprintf(actor, sizeof(actor), "uid %u", (unsigned)getuid());
	audit_open(cfg->audit_log);
}

void ctl_audit_note(const char *action, const char *repo, const char *tag,
		    const char *digest, const char *detail)
{
	struct audit_event ev = {
		.action = action,
		.actor = { .user = actor, .address = "berthctl" },
		.repository = repo, .tag = tag, .digest = digest, .detail = detail,
	};

	audit_event(&ev);
}

void ctl_audit_gc(const char *kind, const char *object, long long bytes)
{
	char detail[64], repo[512] = "";
	const char *digest = NULL, *at;

	if (!kind || !object || (strcmp(kind, "blob") && strcmp(kind, "manifest") &&
				 strcmp(kind, "repository")))
		return;
	if (strncmp(object, "sha256:", 7) == 0 || strncmp(object, "sha512:", 7) == 0)
		digest = object;
	else if ((at = strchr(object, '@')) && (size_t)(at - object) < sizeof(repo)) {
		snprintf(repo, sizeof(repo), "%.*s", (int)(at - object), object);
		digest = at + 1;
	} else
		snprintf(repo, sizeof(repo), "%s", object);
	snprintf(detail, sizeof(detail), "%s, %lld bytes", kind, bytes > 0 ? bytes : 0);
	ctl_audit_note("gc_removed", repo[0] ? repo : NULL, NULL, digest, detail);
}

void ctl_audit_usage(FILE *f)
{
	ctl_usage_line(f, usage_audit);
}

static void print_row(const struct audit_rec *r)
{
	const char *what = *r->tag ? r->tag : r->digest;
	char tagdig[256];

	if (*r->tag && *r->digest)
		snprintf(tagdig, sizeof(tagdig), "%s@%s", r->tag, r->digest);
	else
		snprintf(tagdig, sizeof(tagdig), "%s", what);
	printf("%-24s %-15s %-12s %-15s %-24s %s%s%s\n", r->time, r->action,
	       *r->user ? r->user : "-", *r->address ? r->address : "-",
	       *r->repository ? r->repository : "-", *tagdig ? tagdig : "-",
	       *r->detail ? "  " : "", r->detail);
}

/* Print the records of `f` that match; returns how many lines were skipped. */
static long show(FILE *f, const struct audit_filter *flt, int json, long *shown)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long bad = 0;

	while ((n = getline(&line, &cap, f)) > 0) {
		struct audit_rec r;

		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (n == 0)
			continue;
		if (audit_parse_line(line, (size_t)n, &r)) {
			bad++;
			continue;
		}
		if (audit_match(&r, flt)) {
			if (json)
				printf("%s\n", line);
			else
				print_row(&r);
			(*shown)++;
		}
		audit_rec_release(&r);
	}
	free(line);
	return bad;
}

int ctl_audit_main(const struct config *cfg, int argc, char **argv)
{
	static const char *const names[] = { "--since=", "--user=", "--repo=", "--file=", NULL };
	const char *v[4] = { NULL };
	struct audit_filter flt = { 0 };
	struct ctl_args a;
	const char *path;
	long dur, bad, shown = 0;
	FILE *f;
	int ex;

	if ((ex = ctl_parse_args("audit", argc, argv, names, v, 0, &a)))
		return ex;
	if (a.help || !cfg)
		return ctl_help(usage_audit);
	if (v[0] && (dur = gc_parse_duration(v[0])) < 0)
		return ctl_fail(CTL_EX_USAGE, "audit", "--since %s: not a duration (7d, 12h, 30m)", v[0]);
	if (v[0])
		flt.since = time(NULL) - dur;
	flt.user = v[1];
	flt.repo = v[2];
	path = v[3] ? v[3] : cfg->audit_log;
	if (!path || !*path || strcmp(path, "off") == 0)
		return ctl_fail(CTL_EX_USAGE, "audit", "audit_log is not set in %s", cfg->path);
	if (!(f = fopen(path, "re"))) {
		if (errno == ENOENT && !v[3])
			return CTL_EX_OK; /* nothing was changed yet */
		return ctl_fail(CTL_EX_STORE, "audit", "%s: %s", path, strerror(errno));
	}
	if (!a.json)
		printf("%-24s %-15s %-12s %-15s %-24s %s\n", "TIME", "ACTION", "USER", "ADDRESS",
		       "REPOSITORY", "TAG/DIGEST  DETAIL");
	bad = show(f, &flt, a.json, &shown);
	fclose(f);
	fflush(stdout); /* the table first, then what was skipped */
	if (bad)
		fprintf(stderr, "berthctl audit: %ld line%s of %s skipped: not a record (a torn "
			"last line after a crash?)\n", bad, bad == 1 ? "" : "s", path);
	return CTL_EX_OK;
}
