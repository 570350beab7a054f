/*
 * delete.c - deleting manifests, tags and blob links (store.h).
 *
 * Deletion runs the publishing order backwards, so the invariants readers
 * rely on hold at every instant and after a crash at any point:
 *
 *   tags naming the manifest -> the manifest's link -> its referrer entry
 *   (under its subject) and parent entries (under its children)
 *
 * "No tag names a missing manifest" and "a visible manifest has its entries"
 * follow.  A crash part way leaves only entries of an unlinked manifest,
 * which readers ignore (store/referrers.c).  Removal is unlink + fsync of
 * the directory; nothing is locked, because several hosts share the store.
 *
 * Races with writers in other processes, and how each is closed (every side
 * writes first and checks second, so of two racing operations at least one
 * sees the other):
 *  - tag PUT vs. this delete: store_tag_set() checks the link after writing
 *    the tag and takes the tag back if it is gone; we look at the tags a
 *    second time after removing the link.  What remains: a process that
 *    dies between writing the tag and its check leaves a tag file naming an
 *    unlinked manifest.  store_tag_resolve() answers MANIFEST_UNKNOWN for it
 *    (only tags/list still shows the name); fsck reports it as "stale-tag",
 *    not as a problem.
 *  - index PUT naming this manifest as a child: the index writes its parent
 *    entry, checks the child, links itself, checks the child again.  We look
 *    at the parent entries before and after removing our link; a parent that
 *    became linked in between makes us put the link and its tags back and
 *    refuse.  Both may fail together (the client retries); neither leaves an
 *    index with a missing child for longer than the instant between its
 *    link and its second check.
 *  - PUT of this same manifest again: it may re-link it while we remove the
 *    entries; we re-check the link at the end and put back missing entries,
 *    and the PUT does the same after its link.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/layout.h"
#include "store/store.h"
#include "util/fs.h"
#include "util/mem.h"

/* unlink + fsync of the directory; *gone = 0 when there was nothing. */
static enum berr remove_file(const char *path, int *gone)
{
	*gone = 0;
	if (unlink(path) != 0)
		return errno == ENOENT || errno == ENOTDIR ? BERR_OK : berr_sys("removing", path);
	*gone = 1;
	return fs_fsync_parent(path);
}

struct names {
	char **v;
	size_t n, cap;
};

static void names_release(struct names *t)
{
	store_tag_list_free(t->v, t->n);
	memset(t, 0, sizeof(*t));
}

static enum berr names_add(struct names *t, const char *name)
{
	enum berr rc = mem_grow(&t->v, &t->cap, t->n + 1, sizeof(*t->v), 8, "tag names");

	if (rc)
		return rc;
	if (!(t->v[t->n] = strdup(name)))
		return berr_set(BERR_INTERNAL, "out of memory");
	t->n++;
	return BERR_OK;
}

/* Removes every tag of `name` whose file names `d`; their names go to
 * `removed` (may be NULL).  Tags naming other manifests are not touched. */
static enum berr remove_tags(struct store *s, const char *name, const struct digest *d,
			     struct names *removed)
{
	char dir[PATH_MAX], path[PATH_MAX], want[DIGEST_STR_MAX], buf[DIGEST_STR_MAX + 8];
	struct dirent *de;
	enum berr rc;
	int gone;
	DIR *dh;

	digest_format(d, want);
	rc = layout_repo_sub(s, name, LAYOUT_TAGS, dir, sizeof(dir));
	if (rc)
		return rc;
	if (!(dh = opendir(dir)))
		return errno == ENOENT ? BERR_OK : berr_sys("opendir", dir);
	while (rc == BERR_OK && (de = readdir(dh))) {
		if (!layout_is_tag(de->d_name))
			continue; /* ".", "..", temporaries */
		rc = fs_path(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (rc)
			break;
		rc = fs_read_str(path, buf, sizeof(buf), NULL, BERR_MANIFEST_UNKNOWN);
		if (rc == BERR_MANIFEST_UNKNOWN) {
			rc = BERR_OK; /* deleted under us */
			continue;
		}
		if (rc)
			break;
		buf[strcspn(buf, " \t\r\n")] = '\0';
		if (strcmp(buf, want) != 0)
			continue;
		rc = remove_file(path, &gone);
		if (rc == BERR_OK && gone && removed)
			rc = names_add(removed, de->d_name);
	}
	closedir(dh);
	return rc;
}

/* BERR_DENIED if an index or manifest list naming `d` is linked in `name`. */
static enum berr check_parents(struct store *s, const char *name, const struct digest *d)
{
	char dir[PATH_MAX], ps[DIGEST_STR_MAX], ds[DIGEST_STR_MAX];
	struct berr_ctx probe;
	struct digest p;
	struct dirent *de;
	enum berr rc;
	DIR *dh;

	rc = layout_link(s, name, LAYOUT_PARENTS, d, dir, sizeof(dir));
	if (rc)
		return rc;
	if (!(dh = opendir(dir)))
		return errno == ENOENT ? BERR_OK : berr_sys("opendir", dir);
	while ((de = readdir(dh))) {
		if (layout_entry_digest(de->d_name, &p) != 0)
			continue;
		berr_enter(&probe);
		rc = store_manifest_linked(s, name, &p, NULL, 0);
		berr_leave(&probe);
		if (rc != BERR_OK)
			continue; /* stale entry: the index is gone or not yet linked */
		closedir(dh);
		return berr_set(BERR_DENIED, "manifest %s is still referenced by index %s in %s; "
				"delete the index first", digest_format(d, ds),
				digest_format(&p, ps), name);
	}
	closedir(dh);
	return BERR_OK;
}

/* Undo our unlink after an index naming `d` appeared meanwhile. */
static void restore(struct store *s, const char *name, const struct digest *d,
		    const char *link, const char *mt, const struct names *tags)
{
	char tmpdir[PATH_MAX], path[PATH_MAX];
	size_t i;

	if (layout_tmp_dir(s, tmpdir, sizeof(tmpdir)) ||
	    fs_write_atomic(tmpdir, link, mt, strlen(mt)))
		return;
	for (i = 0; i < tags->n; i++)
		if (layout_tag(s, name, tags->v[i], path, sizeof(path)) == BERR_OK &&
		    !fs_exists(path))
			store_tag_set(s, name, tags->v[i], d);
}

/* The parsed manifest (for its subject and children); an unreadable one
 * yields an empty manifest: its entries then stay behind as garbage. */
static void load_manifest(struct store *s, const struct digest *d, const char *mt,
			  struct manifest *m, size_t *len)
{
	struct berr_ctx probe;
	char *buf = NULL;

	memset(m, 0, sizeof(*m));
	berr_enter(&probe);
	if (store_blob_read(s, d, MANIFEST_MAX_SIZE, &buf, len) != BERR_OK ||
	    manifest_parse(m, mt, buf, *len) != BERR_OK)
		memset(m, 0, sizeof(*m));
	berr_leave(&probe);
	free(buf);
}

enum berr store_manifest_delete(struct store *s, const char *name, const struct digest *d,
				int force)
{
	char link[PATH_MAX], mt[256];
	struct names tags = { 0 };
	struct manifest m = { 0 };
	size_t len = 0;
	enum berr rc;
	int gone;

	rc = layout_link(s, name, LAYOUT_MANIFESTS, d, link, sizeof(link));
	if (rc == BERR_OK)
		rc = store_manifest_linked(s, name, d, mt, sizeof(mt));
	if (rc == BERR_OK && !force)
		rc = check_parents(s, name, d);
	if (rc)
		return rc;
	load_manifest(s, d, mt, &m, &len);
	rc = remove_tags(s, name, d, &tags);
	if (rc == BERR_OK)
		rc = remove_file(link, &gone);
	if (rc == BERR_OK && !force && (rc = check_parents(s, name, d)) == BERR_DENIED) {
		struct berr_ctx undo; /* its failures must not replace the refusal */

		berr_enter(&undo);
		restore(s, name, d, link, mt, &tags);
		berr_leave(&undo);
		goto out;
	}
	if (rc == BERR_OK)
		rc = remove_tags(s, name, d, NULL); /* set while we removed the link */
	if (rc == BERR_OK)
		rc = store_manifest_entries_remove(s, name, &m, d);
	if (rc == BERR_OK && fs_exists(link)) /* pushed again meanwhile */
		rc = store_manifest_entries_write(s, name, &m, mt, d, len, 1);
out:
	manifest_release(&m);
	names_release(&tags);
	return rc;
}

enum berr store_tag_delete(struct store *s, const char *name, const char *tag)
{
	char path[PATH_MAX];
	enum berr rc;
	int gone;

	rc = layout_tag(s, name, tag, path, sizeof(path));
	if (rc == BERR_OK)
		rc = remove_file(path, &gone);
	if (rc == BERR_OK && !gone)
		rc = berr_set(BERR_MANIFEST_UNKNOWN, "tag %s is not in repository %s", tag, name);
	return rc;
}

enum berr store_blob_unlink(struct store *s, const char *name, const struct digest *d)
{
	char path[PATH_MAX], ds[DIGEST_STR_MAX];
	enum berr rc;
	int gone;

	rc = layout_link(s, name, LAYOUT_BLOBS, d, path, sizeof(path));
	if (rc == BERR_OK)
		rc = remove_file(path, &gone);
	if (rc == BERR_OK && !gone)
		rc = berr_set(BERR_BLOB_UNKNOWN, "blob %s is not in repository %s",
			      digest_format(d, ds), name);
	return rc;
}

/* ---- an administrator's surgery (berthctl repo rm, fsck --repair) ---- */

enum berr store_manifest_unlink(struct store *s, const char *name, const struct digest *d)
{
	char path[PATH_MAX], ds[DIGEST_STR_MAX];
	enum berr rc;
	int gone;

	rc = layout_link(s, name, LAYOUT_MANIFESTS, d, path, sizeof(path));
	if (rc == BERR_OK)
		rc = remove_file(path, &gone);
	if (rc == BERR_OK && !gone)
		rc = berr_set(BERR_MANIFEST_UNKNOWN, "manifest %s is not in repository %s",
			      digest_format(d, ds), name);
	return rc;
}

/* Rename one of the repository's own directories into tmp/, make that
 * durable (fsync of the repository's directory), then remove it there:
 * readers see it whole or gone, and a crash leaves it to the sweeper. */
static enum berr drop_dir(struct store *s, const char *name, enum layout_sub sub)
{
	char dir[PATH_MAX], dead[PATH_MAX], rnd[17];
	enum berr rc;

	rc = layout_repo_sub(s, name, sub, dir, sizeof(dir));
	if (rc == BERR_OK)
		rc = fs_random_hex(rnd, 8);
	if (rc == BERR_OK)
		rc = layout_tmp(s, "dead.repo", rnd, dead, sizeof(dead));
	if (rc)
		return rc;
	if (rename(dir, dead) != 0)
		return errno == ENOENT ? BERR_OK : berr_sys("moving aside", dir);
	rc = fs_fsync_parent(dir);
	if (rc == BERR_OK)
		rc = fs_remove_tree(dead);
	return rc;
}

enum berr store_repo_remove(struct store *s, const char *name, struct store_repo_counts *c)
{
	enum berr rc;
	size_t i;

	if (!store_repo_exists(s, name))
		return berr_set(BERR_NAME_UNKNOWN, "repository %s is not known", name);
	rc = c ? store_repo_count(s, name, c) : BERR_OK;
	/* layout_subs[] is in the publishing order backwards: tags,
	 * manifests, their entries, blob links, and the locks last, once
	 * nothing they guard is left. */
	for (i = 0; rc == BERR_OK && i < LAYOUT_SUB_COUNT; i++)
		rc = drop_dir(s, name, (enum layout_sub)i);
	if (rc == BERR_OK)
		layout_repo_rmdir(s, name); /* and parents that only held it */
	return rc;
}
