/*
 * ctl_fsck.c - `berthctl fsck [--quick] [--repair] [--json]` (ctl_fsck.h).
 *
 * The check itself is store/fsck.c's: every blob re-hashed (--quick: not),
 * every repository link, manifest reference and tag followed, read-only.
 * This file prints each problem as it is reported (one line, or an entry of
 * the JSON document), keeps its kind and object, and exits 1 if any problem
 * is counted ("stale-tag" is reported but not counted, see store/fsck.c).
 *
 * --repair acts on what was reported, through the same store/ functions the
 * API uses: a corrupt or misplaced blob is moved to quarantine/ (never
 * deleted), dangling blob and manifest links and dangling or stale tags are
 * removed, a manifest that cannot be pulled (invalid, or a reference
 * missing) is deleted with its tags, and missing referrer / parent entries
 * are written again.  Repairs can reveal more (a quarantined layer breaks
 * its manifests), so fsck checks again after them, at most four rounds,
 * until a round has nothing left to repair; the exit code and the counts
 * are those of the last check.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fs.h"
#include "store/fsck.h"
#include "ctl/ctl.h"
#include "ctl/ctl_fsck.h"

const char ctl_fsck_usage[] =
	"fsck [--quick] [--repair] [--json]\n  check the store: re-hash every blob "
	"(--quick: don't), follow every link,\n  reference and tag; exit 1 if anything is wrong.  "
	"--repair moves corrupt blobs\n  to quarantine/, removes dangling links and tags, deletes "
	"manifests that\n  cannot be pulled, writes missing referrer/parent entries again";

/* One reported problem, kept for --repair. */
struct problem {
	char *kind, *object;
};

/* fsck_cb's context: printing, and the problems of the current round. */
struct fsck_out {
	int json;
	json_t *problems;
	struct problem *v;
	size_t n, cap;
};

static void fsck_cb(void *ctx, const char *kind, const char *object, const char *detail)
{
	struct fsck_out *o = ctx;
	struct problem *nv;

	if (o->json)
		json_array_append_new(o->problems, json_pack("{s:s, s:s, s:s}", "kind", kind,
							     "object", object, "detail", detail));
	else
		printf("%-24s %s: %s\n", kind, object, detail);
	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 16;
		if (!(nv = realloc(o->v, o->cap * sizeof(*nv))))
			return;
		o->v = nv;
	}
	o->v[o->n].kind = strdup(kind);
	o->v[o->n].object = strdup(object);
	if (o->v[o->n].kind && o->v[o->n].object)
		o->n++;
}

static void fsck_forget(struct fsck_out *o)
{
	size_t i;

	for (i = 0; i < o->n; i++) {
		free(o->v[i].kind);
		free(o->v[i].object);
	}
	o->n = 0;
}

/* "repo@alg:hex" -> name (in buf) and digest. */
static int split_at(const char *object, char *buf, size_t len, struct digest *d)
{
	char *at;

	if (snprintf(buf, len, "%s", object) >= (int)len || !(at = strrchr(buf, '@')))
		return -1;
	*at = '\0';
	return digest_parse(d, at + 1) == BERR_OK ? 0 : -1;
}

static enum berr quarantine(struct store *st, const char *from, const char *base, char *to,
			    size_t tolen)
{
	char dir[PATH_MAX], rnd[9];
	enum berr rc;

	rc = fs_path(dir, sizeof(dir), "%s/quarantine", st->root);
	if (rc == BERR_OK)
		rc = fs_mkdir_p(dir);
	if (rc == BERR_OK)
		rc = fs_random_hex(rnd, 4);
	if (rc == BERR_OK)
		rc = fs_path(to, tolen, "%s/%s.%s", dir, base, rnd);
	if (rc == BERR_OK && rename(from, to) != 0)
		rc = berr_sys("moving to quarantine", from);
	return rc;
}

/* Re-write the referrer / parent entries a linked manifest lacks. */
static enum berr rewrite_entries(struct store *st, const char *name, const struct digest *d)
{
	char mt[256], *buf = NULL;
	struct manifest m;
	size_t len;
	enum berr rc;

	rc = store_manifest_linked(st, name, d, mt, sizeof(mt));
	if (rc == BERR_OK)
		rc = store_blob_read(st, d, MANIFEST_MAX_SIZE, &buf, &len);
	if (rc == BERR_OK && (rc = manifest_parse(&m, mt, buf, len)) == BERR_OK) {
		rc = store_manifest_entries_write(st, name, &m, mt, d, len, 1);
		manifest_release(&m);
	}
	free(buf);
	return rc;
}

/* One repair; *action says what was done (NULL: nothing to do for it). */
static enum berr repair_one(struct store *st, const struct problem *p, char *action, size_t len)
{
	char name[PATH_MAX], path[PATH_MAX], to[PATH_MAX], *colon;
	const char *base;
	struct digest d;
	enum berr rc = BERR_OK;

	action[0] = '\0';
	if (strcmp(p->kind, "corrupt-blob") == 0 && digest_parse(&d, p->object) == BERR_OK) {
		snprintf(name, sizeof(name), "%s-%s", digest_alg_name(d.alg), d.hex);
		rc = store_blob_path(st, &d, path, sizeof(path));
		if (rc == BERR_OK && (rc = quarantine(st, path, name, to, sizeof(to))) == BERR_OK)
			snprintf(action, len, "moved to %s", to);
	} else if (strcmp(p->kind, "misplaced-blob") == 0) {
		base = strrchr(p->object, '/');
		rc = quarantine(st, p->object, base ? base + 1 : p->object, to, sizeof(to));
		if (rc == BERR_OK)
			snprintf(action, len, "moved to %s", to);
	} else if (strcmp(p->kind, "dangling-blob-link") == 0 && !split_at(p->object, name, sizeof(name), &d)) {
		if ((rc = store_blob_unlink(st, name, &d)) == BERR_OK)
			snprintf(action, len, "link removed");
	} else if (strcmp(p->kind, "dangling-manifest-link") == 0 &&
		   !split_at(p->object, name, sizeof(name), &d)) {
		rc = fs_path(path, sizeof(path), "%s/repos/%s/_manifests/%s/%s", st->root, name,
			     digest_alg_name(d.alg), d.hex);
		if (rc == BERR_OK && unlink(path) != 0 && errno != ENOENT)
			rc = berr_sys("removing", path);
		if (rc == BERR_OK)
			snprintf(action, len, "link removed");
	} else if ((strcmp(p->kind, "invalid-manifest") == 0 ||
		    strcmp(p->kind, "missing-reference") == 0) &&
		   !split_at(p->object, name, sizeof(name), &d)) {
		rc = store_manifest_delete(st, name, &d, 1);
		if (rc == BERR_OK)
			snprintf(action, len, "manifest and its tags deleted (it cannot be pulled)");
	} else if ((strcmp(p->kind, "missing-referrer-entry") == 0 ||
		    strcmp(p->kind, "missing-parent-entry") == 0) &&
		   !split_at(p->object, name, sizeof(name), &d)) {
		if ((rc = rewrite_entries(st, name, &d)) == BERR_OK)
			snprintf(action, len, "entries written again");
	} else if ((strcmp(p->kind, "dangling-tag") == 0 || strcmp(p->kind, "stale-tag") == 0) &&
		   snprintf(name, sizeof(name), "%s", p->object) < (int)sizeof(name) &&
		   (colon = strrchr(name, ':'))) {
		*colon = '\0';
		rc = store_tag_delete(st, name, colon + 1);
		if (rc == BERR_MANIFEST_UNKNOWN)
			rc = BERR_OK; /* gone meanwhile */
		if (rc == BERR_OK)
			snprintf(action, len, "tag removed");
	}
	berr_clear();
	return rc;
}

int ctl_fsck_run(const struct config *cfg, struct store *st, int argc, char **argv)
{
	static const char *const names[] = { "--quick", "--repair", NULL };
	const char *v[2] = { 0 };
	struct fsck_out o = { 0 };
	struct fsck_counts c, first;
	json_t *repairs = NULL;
	char action[PATH_MAX + 64];
	long repaired = 0, failed = 0;
	struct ctl_args a;
	size_t i;
	int ex, round;

	if ((ex = ctl_parse_args("fsck", argc, argv, names, v, 0, &a)))
		return ex;
	if (a.help)
		return ctl_help(ctl_fsck_usage);
	o.json = a.json;
	if (a.json) {
		o.problems = json_array();
		repairs = json_array();
	}
	for (round = 0; round < 4; round++) {
		fsck_forget(&o);
		if (store_fsck(st, !v[0], fsck_cb, &o, &c)) {
			ex = ctl_fail(CTL_EX_STORE, "fsck", "%s", berr_detail());
			goto out;
		}
		if (round == 0)
			first = c;
		if (!v[1] || o.n == 0)
			break;
		/* Repairs can reveal more (a quarantined layer breaks its
		 * manifests): go round until nothing is left to do. */
		for (i = 0, ex = 0; i < o.n; i++) {
			enum berr rc = repair_one(st, &o.v[i], action, sizeof(action));

			if (rc == BERR_OK && !action[0])
				continue;
			if (rc)
				snprintf(action, sizeof(action), "repair failed: %s", berr_detail());
			ex++;
			repaired += rc == BERR_OK;
			failed += rc != BERR_OK;
			if (a.json)
				json_array_append_new(repairs, json_pack("{s:s, s:s, s:s}", "kind",
					o.v[i].kind, "object", o.v[i].object, "action", action));
			else
				printf("%-24s %s: %s\n", "repair", o.v[i].object, action);
		}
		if (ex == 0)
			break;
		if (!a.json)
			printf("fsck: checking again after the repairs\n");
	}
	if (a.json) {
		json_t *doc = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
			"blobs", (json_int_t)c.blobs, "bytes", (json_int_t)c.bytes,
			"repositories", (json_int_t)c.repos, "blob_links", (json_int_t)c.blob_links,
			"manifests", (json_int_t)c.manifests, "tags", (json_int_t)c.tags,
			"problem_count", (json_int_t)c.problems, "problems", o.problems);
		o.problems = NULL;
		if (v[1]) {
			json_object_set_new(doc, "problems_before_repair", json_integer(first.problems));
			json_object_set_new(doc, "repaired", json_integer(repaired));
			json_object_set_new(doc, "repair_failed", json_integer(failed));
			json_object_set(doc, "repairs", repairs);
		}
		ctl_json_print(doc);
	} else {
		if (v[1])
			printf("fsck: %ld problem%s found, %ld repaired, %ld repairs failed\n",
			       first.problems, first.problems == 1 ? "" : "s", repaired, failed);
		printf("fsck: %ld blobs (%lld bytes%s), %ld repositories, %ld blob links, "
		       "%ld manifests, %ld tags: %ld problem%s\n", c.blobs, c.bytes,
		       v[0] ? " not re-hashed" : " re-hashed", c.repos, c.blob_links,
		       c.manifests, c.tags, c.problems, c.problems == 1 ? "" : "s");
	}
	ex = c.problems ? CTL_EX_PROBLEM : CTL_EX_OK;
out:
	fsck_forget(&o);
	free(o.v);
	json_decref(o.problems);
	json_decref(repairs);
	return ex;
}
