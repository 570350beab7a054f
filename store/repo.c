/*
 * repo.c - writing repositories: blob links, manifest links and tags.
 *
 * A repository is a directory of links under root/repos/<name>/ (drawn in
 * store.h, spelled by store/layout.c).  A link is a small file whose existence says "this digest is in
 * this repository"; a manifest link holds the media type, a tag holds
 * "<alg>:<hex>\n".  Each is written to root/tmp, fsynced and renamed into
 * place, so two clients setting the same tag at once both succeed and the tag
 * ends up naming one of the two manifests, whole.
 *
 * The lookups (is it linked, what does a tag name) are store/lookup.c's,
 * below this file and store/referrers.c, which both use them.
 *
 * A manifest PUT also records its referrer / parent entries (store/referrers.c)
 * before its link, and two checks after publishing close the races with a
 * concurrent delete (store/delete.c) without a lock: an index re-checks its
 * children, a tag re-checks its manifest.  Each side writes first and looks
 * second, so of two racing operations at least one sees the other.
 *
 * Every write that makes a blob reachable follows the collector's protocol
 * (store/gc.c): touch the blob (and the repository's link to it) before
 * publishing, publish, touch again.  The second touch is the re-check: if
 * it finds the blob gone, the collector took it, and we withdraw what we
 * published and fail (BLOB_UNKNOWN / MANIFEST_BLOB_UNKNOWN: push it again).
 *
 * store_manifest_check_sizes() compares each descriptor's size with the
 * stored blob (a stat, no read): a manifest with a wrong size would be
 * served as pushed and fail every pull.  It tells a size only for what is
 * in the repository, so a push cannot probe other repositories' blobs.
 *
 * Names and tags arrive already checked against the spec's grammar;
 * store/layout.c checks them again before any path is built of them.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"
#include "store/layout.h"
#include "store/store.h"

static enum berr write_link(struct store *s, const char *path, const char *content)
{
	char tmpdir[PATH_MAX];
	enum berr rc;

	rc = layout_tmp_dir(s, tmpdir, sizeof(tmpdir));
	if (rc)
		return rc;
	return fs_write_atomic(tmpdir, path, content, strlen(content));
}

/* The collector took the blob while we published a reference to it. */
static enum berr swept(const struct digest *d, const char *name, const char *what)
{
	char dstr[DIGEST_STR_MAX];

	return berr_set(what ? BERR_MANIFEST_BLOB_UNKNOWN : BERR_BLOB_UNKNOWN,
			"blob %s was removed by the garbage collector while %s was being "
			"stored in repository %s; push it again", digest_format(d, dstr),
			what ? what : "its link", name);
}

enum berr store_blob_link(struct store *s, const char *name, const struct digest *d)
{
	char path[PATH_MAX];
	enum berr rc;
	int made = 0;

	rc = layout_link(s, name, LAYOUT_BLOBS, d, path, sizeof(path));
	if (rc == BERR_OK)
		rc = store_blob_touch(s, d);
	if (rc)
		return rc;
	/* An old link is touched too, or the collector could take it as unused. */
	rc = fs_exists(path) ? store_touch(path, BERR_BLOB_UNKNOWN) : BERR_BLOB_UNKNOWN;
	if (rc == BERR_BLOB_UNKNOWN) {
		rc = write_link(s, path, "");
		made = 1;
	}
	if (rc)
		return rc;
	rc = store_blob_touch(s, d);
	if (rc != BERR_BLOB_UNKNOWN)
		return rc;
	if (made && unlink(path) == 0)
		fs_fsync_parent(path);
	return swept(d, name, NULL);
}

enum berr store_manifest_check_refs(struct store *s, const char *name,
				    const struct manifest *m)
{
	char dstr[DIGEST_STR_MAX];
	const struct manifest_ref *r;
	enum berr rc;
	size_t i;

	for (i = 0; i < m->nrefs; i++) {
		r = &m->refs[i];
		if (r->external)
			continue;
		if (r->kind == MREF_MANIFEST)
			rc = store_manifest_linked(s, name, &r->digest, NULL, 0);
		else
			rc = store_blob_linked(s, name, &r->digest);
		if (rc == BERR_MANIFEST_UNKNOWN || rc == BERR_BLOB_UNKNOWN ||
		    rc == BERR_DIGEST_INVALID)
			return berr_set(BERR_MANIFEST_BLOB_UNKNOWN, "%s %s is not in repository %s",
					r->kind == MREF_MANIFEST ? "manifest" :
					r->kind == MREF_CONFIG ? "config blob" : "layer",
					digest_format(&r->digest, dstr), name);
		if (rc)
			return rc;
	}
	return BERR_OK;
}

/* Is `r` (present in the store) in repository `name`?  Asked only when its
 * size is wrong, so that a size never tells about a blob of another
 * repository: absent here, store_manifest_check_refs names it. */
static int ref_in_repo(struct store *s, const char *name, const struct manifest_ref *r)
{
	struct berr_ctx probe;
	enum berr rc;

	berr_enter(&probe);
	rc = r->kind == MREF_MANIFEST ? store_manifest_linked(s, name, &r->digest, NULL, 0) :
					store_blob_linked(s, name, &r->digest);
	berr_leave(&probe);
	return rc == BERR_OK;
}

enum berr store_manifest_check_sizes(struct store *s, const char *name,
				     const struct manifest *m)
{
	char dstr[DIGEST_STR_MAX];
	const struct manifest_ref *r;
	struct berr_ctx probe;
	int64_t size;
	enum berr rc;
	size_t i;

	for (i = 0; i < m->nrefs; i++) {
		r = &m->refs[i];
		if (r->external)
			continue;
		berr_enter(&probe);
		rc = store_blob_stat(s, &r->digest, &size);
		if (rc == BERR_BLOB_UNKNOWN) {
			berr_leave(&probe); /* absent: store_manifest_check_refs names it */
			continue;
		}
		if (berr_pass(&probe, rc))
			return rc;
		if (r->size != size && ref_in_repo(s, name, r))
			return berr_set(BERR_MANIFEST_INVALID, "manifest invalid: %s %s has size "
					"%lld, but the stored one is %lld bytes",
					r->kind == MREF_MANIFEST ? "manifest" :
					r->kind == MREF_CONFIG ? "config blob" : "layer",
					digest_format(&r->digest, dstr), (long long)r->size,
					(long long)size);
	}
	return BERR_OK;
}

/* Called after an index's link is published.  A delete of one of its
 * children checks the parent entries before and after removing the child's
 * link; if it unlinked the child after our store_manifest_check_refs() but
 * looked at the entries before our link existed, we see the child gone here
 * and withdraw the index: the index is then refused, the delete stands, and
 * no index stays visible with a missing child. */
static enum berr children_still_linked(struct store *s, const char *name,
				       const struct manifest *m, const struct digest *d,
				       const char *link)
{
	char cs[DIGEST_STR_MAX], ds[DIGEST_STR_MAX];
	size_t i;

	for (i = 0; i < m->nrefs; i++) {
		if (m->refs[i].kind != MREF_MANIFEST)
			continue;
		if (store_manifest_linked(s, name, &m->refs[i].digest, NULL, 0) == BERR_OK)
			continue;
		if (unlink(link) != 0 && errno != ENOENT)
			return berr_sys("removing", link);
		fs_fsync_parent(link);
		return berr_set(BERR_MANIFEST_BLOB_UNKNOWN,
				"manifest %s was deleted from repository %s while index %s "
				"was being stored; push it again, then the index",
				digest_format(&m->refs[i].digest, cs), name, digest_format(d, ds));
	}
	return BERR_OK;
}

/* Touch what manifest `d` of `name` makes reachable: its own bytes, its
 * blobs and their links, its children's bytes.  BERR_MANIFEST_BLOB_UNKNOWN
 * if one of them is gone. */
static enum berr refs_touch(struct store *s, const char *name, const struct manifest *m,
			    const struct digest *d)
{
	char path[PATH_MAX];
	const struct manifest_ref *r;
	enum berr rc;
	size_t i;

	rc = store_blob_touch(s, d);
	if (rc == BERR_BLOB_UNKNOWN)
		return swept(d, name, "the manifest itself");
	for (i = 0; rc == BERR_OK && i < m->nrefs; i++) {
		r = &m->refs[i];
		if (r->external)
			continue;
		rc = store_blob_touch(s, &r->digest);
		if (rc == BERR_OK && r->kind != MREF_MANIFEST) {
			rc = layout_link(s, name, LAYOUT_BLOBS, &r->digest, path, sizeof(path));
			if (rc == BERR_OK)
				rc = store_touch(path, BERR_BLOB_UNKNOWN);
		}
		if (rc == BERR_BLOB_UNKNOWN)
			return swept(&r->digest, name, "a manifest naming it");
	}
	return rc;
}

enum berr store_manifest_put(struct store *s, const char *name, const struct manifest *m,
			     const char *media_type, const void *buf, size_t len,
			     const struct digest *want, const char *tag,
			     struct digest *out)
{
	char path[PATH_MAX], got_s[DIGEST_STR_MAX], want_s[DIGEST_STR_MAX];
	struct digest d;
	enum berr rc;
	int existed = 0;

	if (want && want->alg != DIGEST_SHA256 && want->alg != DIGEST_SHA512)
		return berr_set(BERR_DIGEST_INVALID, "unsupported digest algorithm");
	if (media_type == NULL || media_type[0] == '\0' || strpbrk(media_type, "\r\n"))
		media_type = manifest_type_name(m->type);
	rc = store_manifest_check_refs(s, name, m);
	if (rc)
		return rc;
	digest_buf(want ? want->alg : DIGEST_SHA256, buf, len, &d);
	if (want && !digest_equal(&d, want))
		return berr_set(BERR_DIGEST_INVALID, "computed %s does not match %s",
				digest_format(&d, got_s), digest_format(want, want_s));
	if (tag)
		rc = layout_tag(s, name, tag, path, sizeof(path)); /* refuse a bad tag early */
	if (rc == BERR_OK)
		rc = layout_link(s, name, LAYOUT_MANIFESTS, &d, path, sizeof(path));
	if (rc == BERR_OK)
		rc = store_blob_put_known(s, &d, buf, len);
	if (rc == BERR_OK)
		rc = refs_touch(s, name, m, &d);
	if (rc == BERR_OK)
		rc = store_manifest_entries_write(s, name, m, media_type, &d, len, 0);
	if (rc == BERR_OK) {
		existed = fs_exists(path);
		rc = write_link(s, path, media_type);
	}
	if (rc == BERR_OK)
		rc = children_still_linked(s, name, m, &d, path);
	/* The re-check of the collector's protocol: a blob it took after our
	 * first touch is gone now, and the manifest must not stay visible. */
	if (rc == BERR_OK && (rc = refs_touch(s, name, m, &d)) == BERR_MANIFEST_BLOB_UNKNOWN &&
	    !existed && unlink(path) == 0)
		fs_fsync_parent(path);
	/* A delete of this same digest that ran between our entries and our
	 * link may have removed the entries again: put back what is missing. */
	if (rc == BERR_OK)
		rc = store_manifest_entries_write(s, name, m, media_type, &d, len, 1);
	if (rc == BERR_OK && tag)
		rc = store_tag_set(s, name, tag, &d);
	if (rc == BERR_OK && out)
		*out = d;
	return rc;
}

/* Remove the tag file at `path` if it still holds `line` (a tag set to
 * another manifest in between is left alone, but for the instant between
 * the read and the unlink, which no lock-free store can close). */
static void tag_take_back(const char *path, const char *line)
{
	char now[DIGEST_STR_MAX + 8];

	if (fs_read_str(path, now, sizeof(now), NULL, BERR_MANIFEST_UNKNOWN) == BERR_OK &&
	    strcmp(now, line) == 0 && unlink(path) == 0)
		fs_fsync_parent(path);
}

enum berr store_tag_set(struct store *s, const char *name, const char *tag,
			const struct digest *d)
{
	char path[PATH_MAX], line[DIGEST_STR_MAX + 1];
	enum berr rc;
	size_t n;

	rc = layout_tag(s, name, tag, path, sizeof(path));
	if (rc == BERR_OK)
		rc = store_manifest_linked(s, name, d, NULL, 0); /* never a dangling tag */
	if (rc)
		return rc;
	digest_format(d, line);
	n = strlen(line);
	line[n] = '\n';
	line[n + 1] = '\0';
	rc = write_link(s, path, line);
	if (rc)
		return rc;
	/* A delete of `d` removes tags, then the link, then looks at the tags
	 * again.  Checking the link after writing the tag closes the gap from
	 * this side: either we see the link gone and take our tag back, or the
	 * delete's second look happens after our write and removes it. */
	if (store_manifest_linked(s, name, d, NULL, 0) == BERR_OK)
		return BERR_OK;
	tag_take_back(path, line);
	return berr_set(BERR_MANIFEST_UNKNOWN, "manifest %s was deleted from repository %s "
			"while tag %s was being set", digest_format(d, line), name, tag);
}
