/*
 * ctl_fsck.c - `berthctl fsck [--quick] [--repair] [--json]` (ctl_fsck.h).
 *
 * The check itself is store/fsck.c's: every blob re-hashed (--quick: not),
 * every repository link, manifest reference and tag followed, read-only.
 * This file prints each problem as it is reported (one line, or an entry of
 * the JSON document), keeps its record (kind, repository, digest, tag or
 * path), and exits 1 if any problem is counted ("stale-tag" is reported but
 * not counted, see store/fsck.c).
 *
 * --repair acts on the records, through store/ functions (the API's own,
 * and for the surgery the API never needs, the store's quarantine and
 * manifest-link removal, which keep its crash-safety): a corrupt or misplaced blob is moved to quarantine/ (never
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

#include "store/fsck.h"
#include "util/mem.h"
#include "ctl/ctl.h"
#include "ctl/ctl_fsck.h"

const char ctl_fsck_usage[] =
	"fsck [--quick] [--repair] [--json]\n  check the store: re-hash every blob "
	"(--quick: don't), follow every link,\n  reference and tag; exit 1 if anything is wrong.  "
	"--repair moves corrupt blobs\n  to quarantine/, removes dangling links and tags, deletes "
	"manifests that\n  cannot be pulled, writes missing referrer/parent entries again";

/* One reported problem, kept for --repair: the store's record, its strings
 * copied (they live for the report call only). */
struct problem {
	enum fsck_kind kind;
	struct digest digest;
	char *repo, *tag, *path, *object;
};

/* fsck_cb's context: printing, and the problems of the current round. */
struct fsck_out {
	int json;
	json_t *problems;
	struct problem *v;
	size_t n, cap;
};

static void problem_free(struct problem *p)
{
	free(p->repo);
	free(p->tag);
	free(p->path);
	free(p->object);
}

static void fsck_cb(void *ctx, const struct fsck_problem *fp)
{
	struct fsck_out *o = ctx;
	char object[PATH_MAX + 64];
	const char *kind = fsck_kind_name(fp->kind);
	struct problem *p;

	fsck_problem_object(fp, object, sizeof(object));
	if (o->json)
		json_array_append_new(o->problems, json_pack("{s:s, s:s, s:s}", "kind", kind,
							     "object", object, "detail", fp->detail));
	else
		printf("%-24s %s: %s\n", kind, object, fp->detail);
	if (mem_grow(&o->v, &o->cap, o->n + 1, sizeof(*o->v), 16, "fsck problems"))
		return;
	p = &o->v[o->n];
	p->kind = fp->kind;
	p->digest = fp->digest;
	p->repo = strdup(fp->repo);
	p->tag = strdup(fp->tag);
	p->path = strdup(fp->path);
	p->object = strdup(object);
	if (p->repo && p->tag && p->path && p->object)
		o->n++;
	else
		problem_free(p);
}

static void fsck_forget(struct fsck_out *o)
{
	size_t i;

	for (i = 0; i < o->n; i++)
		problem_free(&o->v[i]);
	o->n = 0;
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

/* One repair through the store's own operations; *action says what was
 * done ("" when there is nothing to do for that kind). */
static enum berr repair_one(struct store *st, const struct problem *p, char *action, size_t len)
{
	char to[PATH_MAX];
	enum berr rc = BERR_OK;

	action[0] = '\0';
	switch (p->kind) {
	case FSCK_CORRUPT_BLOB:
	case FSCK_MISPLACED_BLOB:
		rc = p->kind == FSCK_CORRUPT_BLOB ? store_blob_quarantine(st, &p->digest, to, sizeof(to)) :
						    store_stray_quarantine(st, p->path, to, sizeof(to));
		if (rc == BERR_OK)
			snprintf(action, len, "moved to %s", to);
		break;
	case FSCK_DANGLING_BLOB_LINK:
		if ((rc = store_blob_unlink(st, p->repo, &p->digest)) == BERR_OK)
			snprintf(action, len, "link removed");
		break;
	case FSCK_DANGLING_MANIFEST_LINK:
		rc = store_manifest_unlink(st, p->repo, &p->digest);
		if (rc == BERR_MANIFEST_UNKNOWN)
			rc = BERR_OK; /* gone meanwhile */
		if (rc == BERR_OK)
			snprintf(action, len, "link removed");
		break;
	case FSCK_INVALID_MANIFEST:
	case FSCK_MISSING_REFERENCE:
		rc = store_manifest_delete(st, p->repo, &p->digest, 1);
		if (rc == BERR_OK)
			snprintf(action, len, "manifest and its tags deleted (it cannot be pulled)");
		break;
	case FSCK_MISSING_REFERRER_ENTRY:
	case FSCK_MISSING_PARENT_ENTRY:
		if ((rc = rewrite_entries(st, p->repo, &p->digest)) == BERR_OK)
			snprintf(action, len, "entries written again");
		break;
	case FSCK_DANGLING_TAG:
	case FSCK_STALE_TAG:
		rc = store_tag_delete(st, p->repo, p->tag);
		if (rc == BERR_MANIFEST_UNKNOWN)
			rc = BERR_OK; /* gone meanwhile */
		if (rc == BERR_OK)
			snprintf(action, len, "tag removed");
		break;
	default:
		break;
	}
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
			struct berr_ctx repair; /* one repair's failure is its own line */
			enum berr rc;

			berr_enter(&repair);
			rc = repair_one(st, &o.v[i], action, sizeof(action));
			berr_leave(&repair);
			if (rc == BERR_OK && !action[0])
				continue;
			if (rc)
				snprintf(action, sizeof(action), "repair failed: %s", repair.detail);
			ex++;
			repaired += rc == BERR_OK;
			failed += rc != BERR_OK;
			if (a.json)
				json_array_append_new(repairs, json_pack("{s:s, s:s, s:s}", "kind",
					fsck_kind_name(o.v[i].kind), "object", o.v[i].object, "action", action));
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
