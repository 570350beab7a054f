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
 *
 * The walk runs in its own error context: it probes on purpose (is this
 * linked, does that parse), each failure becomes a problem record with
 * the detail the probe left, and none of it reaches the caller's context.
 * Paths come from store/layout.c, or are a listed directory plus a name
 * found in it.
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

#include "oci/ref.h"
#include "store/fsck.h"
#include "store/layout.h"
#include "util/fs.h"

static const char *const kind_names[FSCK_KIND_COUNT] = {
	[FSCK_CORRUPT_BLOB] = "corrupt-blob",
	[FSCK_MISPLACED_BLOB] = "misplaced-blob",
	[FSCK_MISSING_REFERRER_ENTRY] = "missing-referrer-entry",
	[FSCK_MISSING_PARENT_ENTRY] = "missing-parent-entry",
	[FSCK_STALE_TAG] = "stale-tag",
	[FSCK_DANGLING_BLOB_LINK] = "dangling-blob-link",
	[FSCK_DANGLING_MANIFEST_LINK] = "dangling-manifest-link",
	[FSCK_INVALID_MANIFEST] = "invalid-manifest",
	[FSCK_MISSING_REFERENCE] = "missing-reference",
	[FSCK_DANGLING_TAG] = "dangling-tag",
	[FSCK_UNREADABLE] = "unreadable",
};

const char *fsck_kind_name(enum fsck_kind kind)
{
	return kind < FSCK_KIND_COUNT ? kind_names[kind] : "?";
}

char *fsck_problem_object(const struct fsck_problem *p, char *out, size_t outlen)
{
	char ds[DIGEST_STR_MAX];
	int has_d = p->digest.alg != DIGEST_NONE;

	if (*p->repo && *p->tag)
		snprintf(out, outlen, "%s:%s", p->repo, p->tag);
	else if (*p->repo && has_d)
		snprintf(out, outlen, "%s@%s", p->repo, digest_format(&p->digest, ds));
	else if (has_d)
		snprintf(out, outlen, "%s", digest_format(&p->digest, ds));
	else
		snprintf(out, outlen, "%s", *p->path ? p->path : p->repo);
	return out;
}

struct walk {
	struct store *s;
	int rehash;
	fsck_report_fn report;
	void *ctx;
	struct fsck_counts *c;
};

/* What a problem is about; fields not given are "" / no digest. */
struct about {
	const char *repo, *tag, *path;
	const struct digest *d;
};

static void problem(struct walk *w, enum fsck_kind kind, struct about a, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void problem(struct walk *w, enum fsck_kind kind, struct about a, const char *fmt, ...)
{
	struct fsck_problem p = { .kind = kind };
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	p.repo = a.repo ? a.repo : "";
	p.tag = a.tag ? a.tag : "";
	p.path = a.path ? a.path : "";
	if (a.d)
		p.digest = *a.d;
	p.detail = detail;
	if (kind != FSCK_STALE_TAG)
		w->c->problems++;
	w->report(w->ctx, &p);
}

static void check_blob(struct walk *w, const char *alg, const char *fan, const char *path,
		       const char *hex)
{
	struct digest d, got;
	int64_t size = 0;
	int fd;

	w->c->blobs++;
	if (layout_link_digest(alg, hex, &d) || strncmp(fan, hex, 2) != 0 || strlen(fan) != 2) {
		problem(w, FSCK_MISPLACED_BLOB, (struct about){ .path = path },
			"file name is not the digest of a blob in its fan-out directory");
		return;
	}
	if (!w->rehash)
		return;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		problem(w, FSCK_UNREADABLE, (struct about){ .d = &d }, "%s", strerror(errno));
		return;
	}
	if (digest_fd(d.alg, fd, &got, &size))
		problem(w, FSCK_UNREADABLE, (struct about){ .d = &d }, "%s", berr_detail());
	else if (!digest_equal(&d, &got))
		problem(w, FSCK_CORRUPT_BLOB, (struct about){ .d = &d }, "content hashes to %s:%s",
			digest_alg_name(got.alg), got.hex);
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
			problem(w, FSCK_UNREADABLE, (struct about){ .path = dir }, "%s",
				strerror(errno));
		return;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			fn(w, dir, de->d_name, arg);
	closedir(d);
}

/* dir/name into sub; a path too long to build is a problem of its own. */
static int sub_path(struct walk *w, const char *dir, const char *name, char *sub, size_t len)
{
	if (fs_path(sub, len, "%s/%s", dir, name) == BERR_OK)
		return 0;
	problem(w, FSCK_UNREADABLE, (struct about){ .path = dir }, "%s/%s: path too long",
		dir, name);
	return -1;
}

static void blob_file(struct walk *w, const char *dir, const char *name, void *arg)
{
	const char **alg_fan = arg;
	char path[PATH_MAX];

	if (sub_path(w, dir, name, path, sizeof(path)) == 0)
		check_blob(w, alg_fan[0], alg_fan[1], path, name);
}

static void blob_fan(struct walk *w, const char *dir, const char *name, void *arg)
{
	char sub[PATH_MAX];
	const char *alg_fan[2] = { arg, name };

	if (sub_path(w, dir, name, sub, sizeof(sub)) == 0)
		each_entry(w, sub, blob_file, alg_fan);
}

static void blob_alg(struct walk *w, const char *dir, const char *name, void *arg)
{
	char sub[PATH_MAX];

	if (sub_path(w, dir, name, sub, sizeof(sub)) == 0)
		each_entry(w, sub, blob_fan, (void *)name);
}

/* ---- repositories ---- */

struct repo_ctx {
	const char *name;
	enum layout_sub sub; /* LAYOUT_BLOBS or LAYOUT_MANIFESTS */
	const char *alg;
};

/* 1 if the entry of `d` under `key` exists. */
static int entry_exists(struct walk *w, const char *repo, enum layout_sub sub,
			const struct digest *key, const struct digest *d)
{
	char path[PATH_MAX];

	return layout_entry(w->s, repo, sub, key, d, path, sizeof(path)) == BERR_OK &&
	       fs_exists(path);
}

static void check_entries(struct walk *w, const char *repo, const struct digest *d,
			  const struct manifest *m)
{
	struct about a = { .repo = repo, .d = d };
	char ds[DIGEST_STR_MAX];
	size_t i;

	if (m->has_subject && !entry_exists(w, repo, LAYOUT_REFERRERS, &m->subject.digest, d))
		problem(w, FSCK_MISSING_REFERRER_ENTRY, a,
			"subject %s does not list it: the referrers API misses it; push it again",
			digest_format(&m->subject.digest, ds));
	for (i = 0; i < m->nrefs; i++)
		if (m->refs[i].kind == MREF_MANIFEST &&
		    !entry_exists(w, repo, LAYOUT_PARENTS, &m->refs[i].digest, d))
			problem(w, FSCK_MISSING_PARENT_ENTRY, a,
				"child %s does not name it as parent: the child could be "
				"deleted from under it; push the index again",
				digest_format(&m->refs[i].digest, ds));
}

static void check_manifest(struct walk *w, const char *repo, const struct digest *d)
{
	struct about a = { .repo = repo, .d = d };
	struct manifest m = { 0 };
	char mt[256], *buf = NULL;
	size_t len;

	w->c->manifests++;
	if (store_manifest_linked(w->s, repo, d, mt, sizeof(mt))) {
		problem(w, FSCK_DANGLING_MANIFEST_LINK, a, "%s", berr_detail());
		return;
	}
	if (store_blob_read(w->s, d, 64u << 20, &buf, &len)) {
		problem(w, FSCK_DANGLING_MANIFEST_LINK, a, "%s", berr_detail());
		return;
	}
	if (manifest_parse(&m, mt, buf, len))
		problem(w, FSCK_INVALID_MANIFEST, a, "%s", berr_detail());
	else if (store_manifest_check_refs(w->s, repo, &m))
		problem(w, FSCK_MISSING_REFERENCE, a, "%s", berr_detail());
	else
		check_entries(w, repo, d, &m);
	manifest_release(&m);
	free(buf);
}

static void link_file(struct walk *w, const char *dir, const char *name, void *arg)
{
	struct repo_ctx *rc = arg;
	char path[PATH_MAX];
	struct digest d;

	if (name[0] == '.')
		return; /* a temporary being renamed into place */
	if (layout_link_digest(rc->alg, name, &d)) {
		if (sub_path(w, dir, name, path, sizeof(path)) == 0)
			problem(w, FSCK_UNREADABLE, (struct about){ .repo = rc->name, .path = path },
				"link name is not a digest");
		return;
	}
	if (rc->sub == LAYOUT_MANIFESTS) {
		check_manifest(w, rc->name, &d);
		return;
	}
	w->c->blob_links++;
	if (store_blob_linked(w->s, rc->name, &d))
		problem(w, FSCK_DANGLING_BLOB_LINK, (struct about){ .repo = rc->name, .d = &d },
			"the blob is missing");
}

static void link_alg(struct walk *w, const char *dir, const char *name, void *arg)
{
	struct repo_ctx rc = *(struct repo_ctx *)arg;
	char sub[PATH_MAX];

	rc.alg = name;
	if (sub_path(w, dir, name, sub, sizeof(sub)) == 0)
		each_entry(w, sub, link_file, &rc);
}

/* The tag file holds a digest whose link is absent from the repository. */
static int tag_is_stale(struct walk *w, const char *dir, const char *tag, const char *repo)
{
	char path[PATH_MAX], buf[DIGEST_STR_MAX + 8];
	struct digest d;

	if (fs_path(path, sizeof(path), "%s/%s", dir, tag) != BERR_OK ||
	    fs_read_str(path, buf, sizeof(buf), NULL, BERR_MANIFEST_UNKNOWN) != BERR_OK)
		return 0;
	buf[strcspn(buf, " \t\r\n")] = '\0';
	if (!digest_parse_quiet(&d, buf) ||
	    layout_link(w->s, repo, LAYOUT_MANIFESTS, &d, path, sizeof(path)) != BERR_OK)
		return 0;
	return !fs_exists(path);
}

static void tag_file(struct walk *w, const char *dir, const char *name, void *arg)
{
	const char *repo = arg;
	struct digest d;

	if (!layout_is_tag(name))
		return; /* temporaries */
	w->c->tags++;
	if (store_tag_resolve(w->s, repo, name, &d) == BERR_OK)
		return;
	if (tag_is_stale(w, dir, name, repo))
		problem(w, FSCK_STALE_TAG, (struct about){ .repo = repo, .tag = name },
			"names a manifest that is not linked (left by a tag PUT that died "
			"racing a delete); resolves as unknown; not counted as a problem, "
			"delete the tag to drop it");
	else
		problem(w, FSCK_DANGLING_TAG, (struct about){ .repo = repo, .tag = name }, "%s",
			berr_detail());
}

static void walk_repo(struct walk *w, const char *dir, const char *name);

static void repo_entry(struct walk *w, const char *dir, const char *name, void *arg)
{
	const char *repo = arg;
	char sub[PATH_MAX], child[REF_NAME_MAX + 2];
	struct repo_ctx rc = { repo, LAYOUT_BLOBS, NULL };
	size_t i;

	if (sub_path(w, dir, name, sub, sizeof(sub)))
		return;
	for (i = 0; i < LAYOUT_SUB_COUNT; i++)
		if (strcmp(name, layout_subs[i].dir) == 0)
			break;
	if (i < LAYOUT_SUB_COUNT && (layout_subs[i].flags & LAYOUT_LINKS)) {
		rc.sub = (enum layout_sub)i;
		each_entry(w, sub, link_alg, &rc);
	} else if (i == LAYOUT_TAGS) {
		each_entry(w, sub, tag_file, (void *)repo);
	} else if (name[0] != '_' && name[0] != '.') {
		if (snprintf(child, sizeof(child), "%s%s%s", repo, *repo ? "/" : "", name) >=
		    (int)sizeof(child) || !layout_is_name(child)) {
			problem(w, FSCK_UNREADABLE, (struct about){ .path = sub },
				"not a repository name");
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
	struct berr_ctx probes;
	char dir[PATH_MAX];
	enum berr rc;

	memset(counts, 0, sizeof(*counts));
	rc = layout_blobs_dir(s, dir, sizeof(dir));
	if (rc)
		return rc;
	berr_enter(&probes);
	each_entry(&w, dir, blob_alg, NULL);
	rc = layout_repos_dir(s, dir, sizeof(dir));
	if (rc == BERR_OK)
		walk_repo(&w, dir, "");
	return berr_pass(&probes, rc);
}
