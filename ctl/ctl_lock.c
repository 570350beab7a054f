/*
 * ctl_lock.c - `berthctl lock`, `lock ls` and `unlock` (ctl_lock.h): the
 * administrators' locks on repositories, tags and manifests.  What a lock
 * refuses, and where that is checked, is store/locks.c's business; this
 * file parses NAME[:TAG|@DIGEST], checks that the target exists and prints.
 *
 * `lock ls` lists; a repository really called "ls" is locked with
 * `berthctl lock -- ls`.  Output, errors and exit codes follow
 * ctl/ctl_store.c (and use ctl/ctl.c's helpers): one line per thing for
 * people, one JSON document with --json, "berthctl CMD: what failed: why"
 * on stderr.  Its argument parser is its own: "--" and the lock flags.
 */
#include <jansson.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oci/ref.h"
#include "ctl/ctl.h"
#include "ctl/ctl_audit.h"
#include "ctl/ctl_lock.h"

static const char usage_lock[] =
	"lock NAME[:TAG|@DIGEST] [--no-write] [--no-delete] [--reason TEXT] [--json]\n"
	"  lock a repository, a tag or a manifest.  --no-write refuses pushes into\n"
	"  the repository (manifests, blob uploads, mounts) or to the tag;\n"
	"  --no-delete refuses API deletes, tag rm and repo rm (unless --force) and\n"
	"  keeps the manifests from gc --untagged.  Neither flag: both (a manifest:\n"
	"  --no-delete; its content cannot change).  Locking a locked item replaces\n"
	"  its flags at once.  A repository called \"ls\": berthctl lock -- ls";
static const char usage_ls[] =
	"lock ls [NAME] [--json]\n  every lock (of one repository): flags, since when, by whom, why";
static const char usage_unlock[] =
	"unlock NAME[:TAG|@DIGEST] [--json]\n  remove a lock";

struct args {
	int json, help, no_write, no_delete;
	const char *reason;
	const char *pos[2];
	int npos;
};

/* argv[first..]; `locking`: the lock flags are allowed.  After "--"
 * everything is positional. */
static int parse_args(const char *cmd, int argc, char **argv, int first, int locking,
		      int maxpos, struct args *a)
{
	int i, opts = 1;

	memset(a, 0, sizeof(*a));
	for (i = first; i < argc; i++) {
		const char *s = argv[i];

		if (opts && strcmp(s, "--") == 0)
			opts = 0;
		else if (opts && strcmp(s, "--json") == 0)
			a->json = 1;
		else if (opts && (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0))
			a->help = 1;
		else if (opts && locking && strcmp(s, "--no-write") == 0)
			a->no_write = 1;
		else if (opts && locking && strcmp(s, "--no-delete") == 0)
			a->no_delete = 1;
		else if (opts && locking && strcmp(s, "--reason") == 0) {
			if (i + 1 >= argc)
				return ctl_fail(CTL_EX_USAGE, cmd, "--reason needs a value");
			a->reason = argv[++i];
		} else if (opts && s[0] == '-')
			return ctl_fail(CTL_EX_USAGE, cmd, "unknown option %s (see --help)", s);
		else if (a->npos >= maxpos)
			return ctl_fail(CTL_EX_USAGE, cmd, "unexpected argument \"%s\" (see --help)",
					s);
		else
			a->pos[a->npos++] = s;
	}
	return CTL_EX_OK;
}

struct target {
	char name[REF_NAME_MAX + 1];
	char tag[REF_TAG_MAX + 1];
	struct digest d;          /* alg DIGEST_NONE unless NAME@DIGEST */
};

/* NAME, NAME:TAG or NAME@DIGEST; a malformed one is a usage error. */
static int parse_target(const char *cmd, const char *ref, struct target *t)
{
	char buf[REF_NAME_MAX + DIGEST_STR_MAX + 2], *at, *colon;

	memset(t, 0, sizeof(*t));
	if (snprintf(buf, sizeof(buf), "%s", ref) >= (int)sizeof(buf))
		return ctl_fail(CTL_EX_USAGE, cmd, "\"%.40s...\" is too long for NAME[:TAG|@DIGEST]",
				ref);
	if ((at = strchr(buf, '@'))) {
		*at = '\0';
		if (digest_parse(&t->d, at + 1) != BERR_OK)
			return ctl_fail(CTL_EX_USAGE, cmd, "\"%s\" is not a valid digest: %s", at + 1,
					berr_detail());
		if (t->d.alg != DIGEST_SHA256 && t->d.alg != DIGEST_SHA512)
			return ctl_fail(CTL_EX_USAGE, cmd, "\"%s\": only sha256 and sha512 digests",
					at + 1);
	} else if ((colon = strrchr(buf, ':')) && !strchr(colon, '/')) {
		*colon = '\0';
		if (!ref_tag_valid(colon + 1))
			return ctl_fail(CTL_EX_USAGE, cmd, "\"%s\" is not a valid tag", colon + 1);
		snprintf(t->tag, sizeof(t->tag), "%s", colon + 1);
	}
	if (!ref_name_valid(buf) || strlen(buf) > REF_NAME_MAX)
		return ctl_fail(CTL_EX_USAGE, cmd, "\"%s\" is not a valid repository name", buf);
	snprintf(t->name, sizeof(t->name), "%s", buf);
	return CTL_EX_OK;
}

static const struct digest *target_digest(const struct target *t)
{
	return t->d.alg != DIGEST_NONE ? &t->d : NULL;
}

/* The repository, tag or manifest must exist to be locked. */
static int check_exists(const char *cmd, struct store *st, const struct target *t)
{
	enum berr rc = BERR_OK;
	struct digest ignored;

	if (!store_repo_exists(st, t->name))
		return ctl_fail(CTL_EX_PROBLEM, cmd, "repository %s is not known", t->name);
	if (t->d.alg != DIGEST_NONE)
		rc = store_manifest_linked(st, t->name, &t->d, NULL, 0);
	else if (t->tag[0])
		rc = store_tag_resolve(st, t->name, t->tag, &ignored);
	if (rc == BERR_MANIFEST_UNKNOWN)
		return ctl_fail(CTL_EX_PROBLEM, cmd, "%s", berr_detail());
	if (rc)
		return ctl_fail(CTL_EX_STORE, cmd, "%s", berr_detail());
	return CTL_EX_OK;
}

/* Does the locked tag or manifest still exist (a forced delete, fsck
 * --repair may have removed it)? */
static int target_present(struct store *st, const struct store_lock *l)
{
	struct berr_ctx probe; /* a missing target is an answer, not an error */
	struct digest ignored;
	int ok;

	berr_enter(&probe);
	if (l->digest.alg != DIGEST_NONE)
		ok = store_manifest_linked(st, l->name, &l->digest, NULL, 0) == BERR_OK;
	else if (l->tag[0])
		ok = store_tag_resolve(st, l->name, l->tag, &ignored) == BERR_OK;
	else
		ok = store_repo_exists(st, l->name);
	berr_leave(&probe);
	return ok;
}

static const char *flags_str(unsigned flags)
{
	if (flags == (STORE_LOCK_NO_WRITE | STORE_LOCK_NO_DELETE))
		return "no-write, no-delete";
	return flags & STORE_LOCK_NO_WRITE ? "no-write" : "no-delete";
}

static const char *since_str(time_t t, char *out, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, len, "%lld", (long long)t);
	return out;
}

static json_t *lock_json(struct store *st, const struct store_lock *l)
{
	char ref[REF_NAME_MAX + DIGEST_STR_MAX + 2], ds[DIGEST_STR_MAX], when[32];
	int digest = l->digest.alg != DIGEST_NONE;

	return json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:b, s:b, s:s, s:s?, s:s?, s:b}",
		"lock", store_lock_format(l, ref, sizeof(ref)), "repository", l->name,
		"kind", digest ? "manifest" : l->tag[0] ? "tag" : "repository",
		"tag", l->tag[0] ? l->tag : NULL, "digest", digest ? digest_format(&l->digest, ds) : NULL,
		"no_write", (l->flags & STORE_LOCK_NO_WRITE) != 0,
		"no_delete", (l->flags & STORE_LOCK_NO_DELETE) != 0,
		"since", since_str(l->since, when, sizeof(when)), "by", l->by[0] ? l->by : NULL,
		"reason", l->reason[0] ? l->reason : NULL, "present", target_present(st, l));
}

/* Who runs us: the sudo caller when there is one, else our user. */
static void who(char *out, size_t len)
{
	const char *sudo = getenv("SUDO_USER");
	struct passwd *pw = getpwuid(getuid());
	const char *p;

	if (getuid() == 0 && sudo && *sudo)
		snprintf(out, len, "%s", sudo);
	else if (pw)
		snprintf(out, len, "%s", pw->pw_name);
	else
		snprintf(out, len, "uid %u", (unsigned)getuid());
	for (p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			out[0] = '\0'; /* not worth recording */
}

static int cmd_lock(struct store *st, int argc, char **argv)
{
	struct store_lock l, old;
	struct target t;
	struct args a;
	char ref[REF_NAME_MAX + DIGEST_STR_MAX + 2];
	enum berr rc;
	int ex, had;

	if ((ex = parse_args("lock", argc, argv, 1, 1, 1, &a)))
		return ex;
	if (a.help || !st)
		return ctl_help(usage_lock);
	if (a.npos != 1)
		return ctl_fail(CTL_EX_USAGE, "lock",
				"what? (berthctl lock NAME[:TAG|@DIGEST], see --help)");
	if ((ex = parse_target("lock", a.pos[0], &t)))
		return ex;
	if (t.d.alg != DIGEST_NONE && a.no_write)
		return ctl_fail(CTL_EX_USAGE, "lock", "--no-write does not apply to a manifest: its "
				"content cannot change (lock a tag or the repository)");
	if (a.reason && (strlen(a.reason) > STORE_LOCK_REASON_MAX || strpbrk(a.reason, "\r\n\t")))
		return ctl_fail(CTL_EX_USAGE, "lock", "--reason: one line of at most %d bytes",
				STORE_LOCK_REASON_MAX);
	if ((ex = check_exists("lock", st, &t)))
		return ex;
	memset(&l, 0, sizeof(l));
	snprintf(l.name, sizeof(l.name), "%s", t.name);
	snprintf(l.tag, sizeof(l.tag), "%s", t.tag);
	l.digest = t.d;
	l.flags = (a.no_write ? STORE_LOCK_NO_WRITE : 0) | (a.no_delete ? STORE_LOCK_NO_DELETE : 0);
	if (l.flags == 0)
		l.flags = t.d.alg != DIGEST_NONE ? STORE_LOCK_NO_DELETE :
			  STORE_LOCK_NO_WRITE | STORE_LOCK_NO_DELETE;
	l.since = time(NULL);
	who(l.by, sizeof(l.by));
	snprintf(l.reason, sizeof(l.reason), "%s", a.reason ? a.reason : "");
	rc = store_lock_get(st, t.name, t.tag, target_digest(&t), &old, &had);
	if (rc == BERR_OK)
		rc = store_lock_set(st, &l);
	if (rc)
		return ctl_fail(rc == BERR_UNSUPPORTED || rc == BERR_MANIFEST_INVALID ?
				CTL_EX_USAGE : CTL_EX_STORE, "lock", "%s", berr_detail());
	ctl_audit_note("lock", t.name, t.tag[0] ? t.tag : NULL, NULL, store_lock_format(&l, ref, sizeof(ref)));
	if (a.json) {
		ctl_json_print(json_pack("{s:o, s:o}", "locked", lock_json(st, &l),
					 "replaced", had ? lock_json(st, &old) : json_null()));
		return CTL_EX_OK;
	}
	printf("locked %s (%s)", store_lock_format(&l, ref, sizeof(ref)), flags_str(l.flags));
	if (had)
		printf("; it was locked (%s) before", flags_str(old.flags));
	putchar('\n');
	return CTL_EX_OK;
}

static int cmd_unlock(struct store *st, int argc, char **argv)
{
	struct store_lock old;
	struct target t;
	struct args a;
	char ref[REF_NAME_MAX + DIGEST_STR_MAX + 2];
	enum berr rc;
	int ex, had;

	if ((ex = parse_args("unlock", argc, argv, 1, 0, 1, &a)))
		return ex;
	if (a.help || !st)
		return ctl_help(usage_unlock);
	if (a.npos != 1)
		return ctl_fail(CTL_EX_USAGE, "unlock",
				"what? (berthctl unlock NAME[:TAG|@DIGEST])");
	if ((ex = parse_target("unlock", a.pos[0], &t)))
		return ex;
	/* A lock is removed even when its target is gone (forced delete). */
	rc = store_lock_clear(st, t.name, t.tag, target_digest(&t), &old, &had);
	if (rc)
		return ctl_fail(CTL_EX_STORE, "unlock", "%s", berr_detail());
	if (!had && !store_repo_exists(st, t.name))
		return ctl_fail(CTL_EX_PROBLEM, "unlock", "repository %s is not known", t.name);
	if (!had)
		return ctl_fail(CTL_EX_PROBLEM, "unlock", "%s%s is not locked", t.tag[0] || t.d.alg ?
				"" : "repository ", a.pos[0]);
	ctl_audit_note("unlock", t.name, t.tag[0] ? t.tag : NULL, NULL, store_lock_format(&old, ref, sizeof(ref)));
	if (a.json)
		ctl_json_print(json_pack("{s:o}", "unlocked", lock_json(st, &old)));
	else
		printf("unlocked %s (it was %s)\n", store_lock_format(&old, ref, sizeof(ref)),
		       flags_str(old.flags));
	return CTL_EX_OK;
}

static int cmd_lock_ls(struct store *st, int argc, char **argv)
{
	char ref[REF_NAME_MAX + DIGEST_STR_MAX + 2], when[32];
	struct store_lock *v = NULL;
	struct args a;
	json_t *arr = NULL;
	size_t n = 0, i;
	int ex;

	if ((ex = parse_args("lock ls", argc, argv, 2, 0, 1, &a)))
		return ex;
	if (a.help || !st)
		return ctl_help(usage_ls);
	if (a.npos == 1 && !ref_name_valid(a.pos[0]))
		return ctl_fail(CTL_EX_USAGE, "lock ls", "\"%s\" is not a valid repository name",
				a.pos[0]);
	if (store_lock_list(st, a.npos ? a.pos[0] : NULL, &v, &n))
		return ctl_fail(CTL_EX_STORE, "lock ls", "%s", berr_detail());
	if (a.npos == 1 && n == 0 && !store_repo_exists(st, a.pos[0]))
		return ctl_fail(CTL_EX_PROBLEM, "lock ls", "repository %s is not known", a.pos[0]);
	if (a.json)
		arr = json_array();
	else if (n)
		printf("%-50s %-20s %-20s %-12s %s\n", "LOCK", "FLAGS", "SINCE", "BY", "REASON");
	for (i = 0; i < n; i++) {
		int present = target_present(st, &v[i]);

		if (a.json) {
			json_array_append_new(arr, lock_json(st, &v[i]));
			continue;
		}
		printf("%-50s %-20s %-20s %-12s %s%s\n", store_lock_format(&v[i], ref, sizeof(ref)),
		       flags_str(v[i].flags), since_str(v[i].since, when, sizeof(when)),
		       v[i].by[0] ? v[i].by : "-", v[i].reason[0] ? v[i].reason : "-",
		       present ? "" : " (its target is gone)");
	}
	free(v);
	if (a.json)
		ctl_json_print(json_pack("{s:o}", "locks", arr));
	return CTL_EX_OK;
}

int ctl_lock_handles(const char *cmd)
{
	return cmd && (strcmp(cmd, "lock") == 0 || strcmp(cmd, "unlock") == 0);
}

void ctl_lock_usage(FILE *f)
{
	ctl_usage_line(f, usage_lock);
	ctl_usage_line(f, usage_ls);
	ctl_usage_line(f, usage_unlock);
}

int ctl_lock_main(const struct config *cfg, struct store *st, int argc, char **argv)
{
	(void)cfg;
	if (argc < 1 || !ctl_lock_handles(argv[0]))
		return ctl_fail(CTL_EX_USAGE, argc ? argv[0] : "",
				"unknown command (try berthctl help)");
	if (strcmp(argv[0], "unlock") == 0)
		return cmd_unlock(st, argc, argv);
	if (argc >= 2 && strcmp(argv[1], "ls") == 0)
		return cmd_lock_ls(st, argc, argv);
	return cmd_lock(st, argc, argv);
}
