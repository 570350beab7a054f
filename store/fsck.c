/*
 * fsck.c - see fsck.h.  Two passes: the blob area (each file's bytes must hash
 * to its name), then each repository (links must reach blobs, manifests must
 * parse and have every reference present, tags must reach linked manifests).
 * Memory stays small: one directory level and one manifest at a time.
 *
 * The referrers / parents indexes (store/referrers.c) are checked from the
 * manifests' side: a linked manifest with a subject must have its entry
 * under the subject ("missing-referrer-entry"), a linked index one under
 * each child ("missing-parent-entry").  Entries whose manifest is not linked
 * are garbage readers ignore, not problems.
 *
 * A tag file naming a manifest that is not linked in its repository is
 * reported as "stale-tag" but not counted as a problem: it is what a
 * process that died inside a tag PUT racing a delete of the same manifest
 * leaves (store/delete.c), store_tag_resolve() answers MANIFEST_UNKNOWN for
 * it exactly as for an absent tag, and nothing corrupt becomes visible (only
 * its name in tags/list).  A tag whose manifest is linked but whose bytes
 * are gone stays a "dangling-tag" problem.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"
#include "store/fsck.h"
#include "oci/ref.h"

struct walk {
	struct store *s;
	int rehash;
	fsck_report_fn report;
	void *ctx;
	struct fsck_counts *c;
};

static void problem(struct walk *w, const char *kind, const char *object, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void problem(struct walk *w, const char *kind, const char *object, const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	w->c->problems++;
	w->report(w->ctx, kind, object, detail);
}

static void check_blob(struct walk *w, const char *alg, const char *fan, const char *hex)
{
	char path[PATH_MAX], ds[DIGEST_STR_MAX + 8];
	struct digest d, got;
	int64_t size = 0;
	int fd;

	snprintf(ds, sizeof(ds), "%s:%s", alg, hex);
	snprintf(path, sizeof(path), "%s/blobs/%s/%s/%s", w->s->root, alg, fan, hex);
	w->c->blobs++;
	if (digest_parse(&d, ds) || strncmp(fan, hex, 2) != 0 || strlen(fan) != 2) {
		problem(w, "misplaced-blob", path, "file name is not the digest of a blob in its fan-out directory");
		return;
	}
	if (!w->rehash)
		return;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		problem(w, "unreadable", ds, "%s", strerror(errno));
		return;
	}
	if (digest_fd(d.alg, fd, &got, &size))
		problem(w, "unreadable", ds, "%s", berr_detail());
	else if (!digest_equal(&d, &got))
		problem(w, "corrupt-blob", ds, "content hashes to %s:%s", digest_alg_name(got.alg), got.hex);
	w->c->bytes += size;
	close(fd);
}

typedef void (*entry_fn)(struct walk *w, const char *dir, const char *name, void *arg);

/* Call fn for every entry of dir except "." / ".."; absent dir is fine. */
static void each_entry(struct walk *w, const char *dir, entry_fn fn, void *arg)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d) {
		if (errno != ENOENT)
			problem(w, "unreadable", dir, "%s", strerror(errno));
		return;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			fn(w, dir, de->d_name, arg);
	closedir(d);
}

static void blob_file(struct walk *w, const char *dir, const char *name, void *arg)
{
	const char **alg_fan = arg;

	check_blob(w, alg_fan[0], alg_fan[1], name);
}

static void blob_fan(struct walk *w, const char *dir, const char *name, void *arg)
{
	char sub[PATH_MAX];
	const char *alg_fan[2] = { arg, name };

	snprintf(sub, sizeof(sub), "%s/%s", dir, name);
	each_entry(w, sub, blob_file, alg_fan);
}

static void blob_alg(struct walk *w, const char *dir, const char *name, void *arg)
{
	char sub[PATH_MAX];

	snprintf(sub, sizeof(sub), "%s/%s", dir, name);
	each_entry(w, sub, blob_fan, (void *)name);
}

/* ---- repositories ---- */

struct repo_ctx {
	const char *name;
	const char *kind; /* "_blobs" or "_manifests" */
	const char *alg;
};

/* 1 if repos/<repo>/<kind>/<key>/<d> exists. */
static int entry_exists(struct walk *w, const char *repo, const char *kind,
			const struct digest *key, const struct digest *d)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/repos/%s/%s/%s/%s/%s-%s", w->s->root, repo, kind,
		     digest_alg_name(key->alg), key->hex, digest_alg_name(d->alg), d->hex) >=
	    (int)sizeof(path))
		return 0;
	return fs_exists(path);
}

static void check_entries(struct walk *w, const char *repo, const struct digest *d,
			  const struct manifest *m, const char *obj)
{
	char ds[DIGEST_STR_MAX];
	size_t i;

	if (m->has_subject && !entry_exists(w, repo, "_referrers", &m->subject.digest, d))
		problem(w, "missing-referrer-entry", obj,
			"subject %s does not list it: the referrers API misses it; push it again",
			digest_format(&m->subject.digest, ds));
	for (i = 0; i < m->nrefs; i++)
		if (m->refs[i].kind == MREF_MANIFEST &&
		    !entry_exists(w, repo, "_parents", &m->refs[i].digest, d))
			problem(w, "missing-parent-entry", obj,
				"child %s does not name it as parent: the child could be "
				"deleted from under it; push the index again",
				digest_format(&m->refs[i].digest, ds));
}

static void check_manifest(struct walk *w, const char *repo, const struct digest *d)
{
	char mt[256], ds[DIGEST_STR_MAX], obj[REF_NAME_MAX + DIGEST_STR_MAX + 2];
	struct manifest m = { 0 };
	char *buf = NULL;
	size_t len;

	digest_format(d, ds);
	snprintf(obj, sizeof(obj), "%s@%s", repo, ds);
	w->c->manifests++;
	if (store_manifest_linked(w->s, repo, d, mt, sizeof(mt))) {
		problem(w, "dangling-manifest-link", obj, "%s", berr_detail());
		return;
	}
	if (store_blob_read(w->s, d, 64u << 20, &buf, &len)) {
		problem(w, "dangling-manifest-link", obj, "%s", berr_detail());
		return;
	}
	if (manifest_parse(&m, mt, buf, len))
		problem(w, "invalid-manifest", obj, "%s", berr_detail());
	else if (store_manifest_check_refs(w->s, repo, &m))
		problem(w, "missing-reference", obj, "%s", berr_detail());
	else
		check_entries(w, repo, d, &m, obj);
	manifest_release(&m);
	free(buf);
}

static void link_file(struct walk *w, const char *dir, const char *name, void *arg)
{
	struct repo_ctx *rc = arg;
	char ds[DIGEST_STR_MAX + 8], obj[REF_NAME_MAX + DIGEST_STR_MAX + 2];
	struct digest d;

	if (name[0] == '.')
		return; /* a temporary being renamed into place */
	snprintf(ds, sizeof(ds), "%s:%s", rc->alg, name);
	snprintf(obj, sizeof(obj), "%s@%s", rc->name, ds);
	if (digest_parse(&d, ds)) {
		problem(w, "unreadable", obj, "link name is not a digest");
		return;
	}
	if (strcmp(rc->kind, "_manifests") == 0) {
		check_manifest(w, rc->name, &d);
		return;
	}
	w->c->blob_links++;
	if (store_blob_linked(w->s, rc->name, &d))
		problem(w, "dangling-blob-link", obj, "the blob is missing");
}

static void link_alg(struct walk *w, const char *dir, const char *name, void *arg)
{
	struct repo_ctx rc = *(struct repo_ctx *)arg;
	char sub[PATH_MAX];

	rc.alg = name;
	snprintf(sub, sizeof(sub), "%s/%s", dir, name);
	each_entry(w, sub, link_file, &rc);
}

/* The tag file holds a digest whose link is absent from the repository. */
static int tag_is_stale(struct walk *w, const char *dir, const char *tag, const char *repo)
{
	char path[PATH_MAX], buf[DIGEST_STR_MAX + 8];
	struct digest d;

	if (snprintf(path, sizeof(path), "%s/%s", dir, tag) >= (int)sizeof(path) ||
	    fs_read_str(path, buf, sizeof(buf), NULL, BERR_MANIFEST_UNKNOWN) != BERR_OK)
		return 0;
	buf[strcspn(buf, " \t\r\n")] = '\0';
	if (digest_parse(&d, buf) != BERR_OK ||
	    snprintf(path, sizeof(path), "%s/repos/%s/_manifests/%s/%s", w->s->root, repo,
		     digest_alg_name(d.alg), d.hex) >= (int)sizeof(path))
		return 0;
	return !fs_exists(path);
}

static void tag_file(struct walk *w, const char *dir, const char *name, void *arg)
{
	const char *repo = arg;
	char obj[REF_NAME_MAX + REF_TAG_MAX + 2];
	struct digest d;

	if (ref_tag_check(name)) {
		berr_clear();
		return; /* temporaries */
	}
	w->c->tags++;
	snprintf(obj, sizeof(obj), "%s:%s", repo, name);
	if (store_tag_resolve(w->s, repo, name, &d) == BERR_OK)
		return;
	if (tag_is_stale(w, dir, name, repo))
		w->report(w->ctx, "stale-tag", obj, "names a manifest that is not linked (left by "
			  "a tag PUT that died racing a delete); resolves as unknown; "
			  "not counted as a problem, delete the tag to drop it");
	else
		problem(w, "dangling-tag", obj, "%s", berr_detail());
}

static void walk_repo(struct walk *w, const char *dir, const char *name);

static void repo_entry(struct walk *w, const char *dir, const char *name, void *arg)
{
	const char *repo = arg;
	char sub[PATH_MAX], child[REF_NAME_MAX + 2];
	struct repo_ctx rc = { repo, name, NULL };

	snprintf(sub, sizeof(sub), "%s/%s", dir, name);
	if (strcmp(name, "_blobs") == 0 || strcmp(name, "_manifests") == 0) {
		each_entry(w, sub, link_alg, &rc);
	} else if (strcmp(name, "_tags") == 0) {
		each_entry(w, sub, tag_file, (void *)repo);
	} else if (name[0] != '_' && name[0] != '.') {
		if (snprintf(child, sizeof(child), "%s%s%s", repo, *repo ? "/" : "", name) >=
		    (int)sizeof(child) || ref_name_check(child)) {
			berr_clear();
			problem(w, "unreadable", sub, "not a repository name");
			return;
		}
		walk_repo(w, sub, child);
	}
}

static void walk_repo(struct walk *w, const char *dir, const char *name)
{
	if (*name && store_repo_exists(w->s, name))
		w->c->repos++;
	each_entry(w, dir, repo_entry, (void *)name);
}

enum berr store_fsck(struct store *s, int rehash, fsck_report_fn report, void *ctx,
		     struct fsck_counts *counts)
{
	struct walk w = { s, rehash, report, ctx, counts };
	char dir[PATH_MAX];

	memset(counts, 0, sizeof(*counts));
	snprintf(dir, sizeof(dir), "%s/blobs", s->root);
	each_entry(&w, dir, blob_alg, NULL);
	snprintf(dir, sizeof(dir), "%s/repos", s->root);
	walk_repo(&w, dir, "");
	return BERR_OK;
}
