/*
 * locks.c - administrators' locks on repositories, tags and manifests
 * (store.h; `berthctl lock`, like ACR's --write-enabled / --delete-enabled
 * false).  Not to be confused with store/lease.c, the mutual-exclusion lock
 * files of upload sessions and the collector.
 *
 * A lock is one small file in repos/<name>/_locks/ ("repo", "tag-<tag>",
 * "<alg>-<hex>") holding its flags, when it was set and optionally by whom
 * and why.  It is written with fs_write_atomic (so a reader sees the old
 * lock or the new one, whole: `lock` on a locked item replaces its flags
 * without a moment unlocked) and removed with unlink + fsync of the
 * directory.  No flock: hosts sharing the store over NFS see the files.
 * A lock file that cannot be parsed counts as locked both ways.
 *
 * What each lock refuses (BERR_DENIED, 403 DENIED, the detail naming the
 * lock and the berthctl command that lifts it):
 *   repository no-write   every manifest PUT into it, blob uploads (POST,
 *                         which also covers mounts, and the PATCH / PUT of
 *                         a session started before the lock)
 *   repository no-delete  every DELETE in it (manifests, tags, blobs);
 *                         `berthctl repo rm` without --force; gc
 *                         --untagged keeps its manifests
 *   tag no-write          a manifest PUT to that tag, even of the content
 *                         it already names (as ACR does); other tags and
 *                         PUTs by digest go on
 *   tag no-delete         DELETE of the tag, DELETE of the manifest it
 *                         names (that would remove the tag), `berthctl tag
 *                         rm` and `repo rm` without --force
 *   manifest no-delete    DELETE of that manifest (deleting one of its tags
 *                         is fine: the manifest stays); gc --untagged keeps
 *                         it once untagged
 *   manifest no-write     meaningless: content-addressed bytes cannot be
 *                         overwritten.  store_lock_set refuses it
 *                         (BERR_UNSUPPORTED) and berthctl says why, so
 *                         nobody believes it protects something.
 * Creating a lock does not need the other flag: `berthctl lock` without
 * flags sets both (on a manifest: no-delete).
 *
 * Where the checks live: at the entry points (fcgi/h_manifest.c,
 * h_upload.c, h_blob.c; ctl/ctl_store.c; store/gc_repo.c), not inside
 * store_manifest_put / store_manifest_delete.  Those are building blocks
 * that fsck --repair (deleting what cannot be pulled), the collector and
 * berthctl --force must be able to use past a lock; and a lock is policy,
 * like auth, which the handlers also check before calling the store.
 * The check reads one or a few small files before the operation; a lock
 * set while an operation is already past its check does not stop that one
 * operation (there is no lock-free way to close that instant, and a lock
 * is an administrator's decision, not a race to win).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oci/ref.h"
#include "store/layout.h"
#include "store/store.h"
#include "util/fs.h"
#include "util/mem.h"

/* Not an error code: "the file is not there" from fs_read_str(). */
#define ABSENT BERR__COUNT
#define LOCK_FILE_MAX 1024

static enum berr check_target(const char *name, const char *tag, const struct digest *d)
{
	char ds[DIGEST_STR_MAX];
	struct digest check;

	if (name == NULL || ref_name_check(name) != BERR_OK)
		return berr_set(BERR_NAME_INVALID, "invalid repository name");
	if (tag && *tag && ref_tag_check(tag) != BERR_OK)
		return berr_set(BERR_MANIFEST_INVALID, "invalid tag");
	/* a path is built from d->hex: only a digest that parses back */
	if (d && d->alg != DIGEST_NONE && ((d->alg != DIGEST_SHA256 && d->alg != DIGEST_SHA512) ||
					   digest_parse(&check, digest_format(d, ds)) != BERR_OK))
		return berr_set(BERR_DIGEST_INVALID, "invalid digest");
	return BERR_OK;
}

static int is_digest(const struct digest *d)
{
	return d && d->alg != DIGEST_NONE;
}

/* repos/<name>/_locks/<file> of the repository (tag and d NULL or empty),
 * a tag or a digest; the name and tag are checked first (store/layout.c). */
static enum berr lock_path(struct store *s, const char *name, const char *tag,
			   const struct digest *d, char *out, size_t outlen)
{
	enum berr rc = check_target(name, tag, d);

	return rc ? rc : layout_lock(s, name, tag, d, out, outlen);
}

static void format_time(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, outlen, "%lld", (long long)t);
}

static time_t parse_time(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return end && *end == '\0' ? timegm(&tm) : 0;
}

/* One line of the file: "key value"; unknown keys are for later versions. */
static void parse_line(char *line, struct store_lock *l, int *has_flags)
{
	char *val = strchr(line, ' '), *w, *save = NULL;

	if (!val)
		return;
	*val++ = '\0';
	if (strcmp(line, "flags") == 0) {
		*has_flags = 1;
		for (w = strtok_r(val, " ,", &save); w; w = strtok_r(NULL, " ,", &save)) {
			if (strcmp(w, "no-write") == 0)
				l->flags |= STORE_LOCK_NO_WRITE;
			else if (strcmp(w, "no-delete") == 0)
				l->flags |= STORE_LOCK_NO_DELETE;
		}
	} else if (strcmp(line, "since") == 0) {
		l->since = parse_time(val);
	} else if (strcmp(line, "by") == 0) {
		snprintf(l->by, sizeof(l->by), "%s", val);
	} else if (strcmp(line, "reason") == 0) {
		snprintf(l->reason, sizeof(l->reason), "%s", val);
	}
}

/* Read the lock at `path` into *l (name / tag / digest left as they are). */
static enum berr read_lock(const char *path, struct store_lock *l, int *found)
{
	char buf[LOCK_FILE_MAX], *line, *save = NULL;
	enum berr rc;
	int has_flags = 0;

	*found = 0;
	l->flags = 0;
	l->since = 0;
	l->by[0] = l->reason[0] = '\0';
	rc = fs_read_str(path, buf, sizeof(buf), NULL, ABSENT);
	if (rc == ABSENT)
		return BERR_OK;
	if (rc)
		return rc;
	*found = 1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		parse_line(line, l, &has_flags);
	if (!has_flags || l->flags == 0) /* damaged: refuse both rather than neither */
		l->flags = STORE_LOCK_NO_WRITE | STORE_LOCK_NO_DELETE;
	return BERR_OK;
}

static void fill_target(struct store_lock *l, const char *name, const char *tag,
			const struct digest *d)
{
	snprintf(l->name, sizeof(l->name), "%s", name);
	snprintf(l->tag, sizeof(l->tag), "%s", is_digest(d) || !tag ? "" : tag);
	memset(&l->digest, 0, sizeof(l->digest));
	if (is_digest(d))
		l->digest = *d;
}

static int one_line(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

enum berr store_lock_set(struct store *s, const struct store_lock *l)
{
	char path[PATH_MAX], tmpdir[PATH_MAX], buf[LOCK_FILE_MAX], when[32];
	const struct digest *d = is_digest(&l->digest) ? &l->digest : NULL;
	enum berr rc;
	int n;

	rc = lock_path(s, l->name, d ? NULL : l->tag, d, path, sizeof(path));
	if (rc)
		return rc;
	if ((l->flags & (STORE_LOCK_NO_WRITE | STORE_LOCK_NO_DELETE)) == 0)
		return berr_set(BERR_INTERNAL, "a lock needs no-write, no-delete or both");
	if (d && (l->flags & STORE_LOCK_NO_WRITE))
		return berr_set(BERR_UNSUPPORTED, "a manifest's content cannot change, so no-write "
				"does not apply to a digest (lock a tag or the repository)");
	if (!one_line(l->by) || !one_line(l->reason))
		return berr_set(BERR_MANIFEST_INVALID, "the reason must be one line of text");
	format_time(l->since ? l->since : time(NULL), when, sizeof(when));
	n = snprintf(buf, sizeof(buf), "flags%s%s\nsince %s\n%s%s%s%s%s%s",
		     l->flags & STORE_LOCK_NO_WRITE ? " no-write" : "",
		     l->flags & STORE_LOCK_NO_DELETE ? " no-delete" : "", when,
		     l->by[0] ? "by " : "", l->by, l->by[0] ? "\n" : "",
		     l->reason[0] ? "reason " : "", l->reason, l->reason[0] ? "\n" : "");
	if (n < 0 || (size_t)n >= sizeof(buf))
		return berr_set(BERR_INTERNAL, "lock file too long");
	rc = layout_tmp_dir(s, tmpdir, sizeof(tmpdir));
	if (rc)
		return rc;
	return fs_write_atomic(tmpdir, path, buf, (size_t)n);
}

enum berr store_lock_get(struct store *s, const char *name, const char *tag,
			 const struct digest *d, struct store_lock *out, int *found)
{
	char path[PATH_MAX];
	enum berr rc;

	*found = 0;
	rc = lock_path(s, name, tag, d, path, sizeof(path));
	if (rc)
		return rc;
	fill_target(out, name, tag, d);
	return read_lock(path, out, found);
}

enum berr store_lock_clear(struct store *s, const char *name, const char *tag,
			   const struct digest *d, struct store_lock *old, int *found)
{
	struct store_lock tmp;
	char path[PATH_MAX];
	enum berr rc;

	*found = 0;
	rc = lock_path(s, name, tag, d, path, sizeof(path));
	if (rc == BERR_OK && old) {
		fill_target(old, name, tag, d);
		rc = read_lock(path, old, found);
	} else if (rc == BERR_OK) {
		rc = read_lock(path, &tmp, found);
	}
	if (rc || !*found)
		return rc;
	if (unlink(path) != 0) {
		if (errno == ENOENT) { /* someone else unlocked it meanwhile */
			*found = 0;
			return BERR_OK;
		}
		return berr_sys("removing", path);
	}
	return fs_fsync_parent(path);
}

/* ---- listing ---- */

struct lockv {
	struct store_lock *v;
	size_t n, cap;
};

static enum berr list_repo(struct store *s, const char *name, struct lockv *out)
{
	char dir[PATH_MAX], path[PATH_MAX], tag[129];
	struct store_lock *l;
	struct dirent *de;
	struct digest d;
	enum berr rc;
	DIR *dh;
	int found;

	rc = layout_repo_sub(s, name, LAYOUT_LOCKS, dir, sizeof(dir));
	if (rc)
		return rc;
	if (!(dh = opendir(dir)))
		return errno == ENOENT || errno == ENOTDIR ? BERR_OK : berr_sys("opendir", dir);
	while (rc == BERR_OK && (de = readdir(dh))) {
		if (de->d_name[0] == '.' || layout_lock_name(de->d_name, tag, sizeof(tag), &d))
			continue;
		if ((rc = mem_grow(&out->v, &out->cap, out->n + 1, sizeof(*out->v), 8, "locks")))
			break;
		l = &out->v[out->n];
		fill_target(l, name, tag, &d);
		rc = fs_path(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (rc == BERR_OK)
			rc = read_lock(path, l, &found);
		if (rc == BERR_OK && found)
			out->n++;
	}
	closedir(dh);
	return rc;
}

static int lock_rank(const struct store_lock *l)
{
	return is_digest(&l->digest) ? 2 : l->tag[0] ? 1 : 0;
}

static int cmp_lock(const void *a, const void *b)
{
	const struct store_lock *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c == 0)
		c = lock_rank(x) - lock_rank(y);
	if (c == 0)
		c = strcmp(x->tag, y->tag);
	if (c == 0)
		c = (int)x->digest.alg - (int)y->digest.alg;
	if (c == 0)
		c = strcmp(x->digest.hex, y->digest.hex);
	return c;
}

enum berr store_lock_list(struct store *s, const char *name, struct store_lock **out,
			  size_t *count)
{
	struct lockv v = { 0 };
	char **names = NULL;
	size_t n = 0, i;
	enum berr rc;
	int more;

	*out = NULL;
	*count = 0;
	if (name) {
		rc = check_target(name, NULL, NULL);
		if (rc == BERR_OK)
			rc = list_repo(s, name, &v);
	} else {
		rc = store_catalog(s, NULL, -1, &names, &n, &more);
		for (i = 0; rc == BERR_OK && i < n; i++)
			rc = list_repo(s, names[i], &v);
		store_tag_list_free(names, n);
	}
	if (rc) {
		free(v.v);
		return rc;
	}
	if (v.n > 1)
		qsort(v.v, v.n, sizeof(*v.v), cmp_lock);
	*out = v.v;
	*count = v.n;
	return BERR_OK;
}

int store_lock_any(struct store *s, const char *name)
{
	struct store_lock *v = NULL;
	struct berr_ctx probe;
	enum berr rc;
	size_t n = 0;

	berr_enter(&probe);
	rc = store_lock_list(s, name, &v, &n);
	berr_leave(&probe);
	if (rc != BERR_OK)
		return 1; /* cannot tell: keep what it guards */
	free(v);
	return n > 0;
}

char *store_lock_format(const struct store_lock *l, char *out, size_t outlen)
{
	char ds[DIGEST_STR_MAX];

	if (is_digest(&l->digest))
		snprintf(out, outlen, "%s@%s", l->name, digest_format(&l->digest, ds));
	else if (l->tag[0])
		snprintf(out, outlen, "%s:%s", l->name, l->tag);
	else
		snprintf(out, outlen, "%s", l->name);
	return out;
}

/* ---- the checks ---- */

/* BERR_DENIED naming the lock; `prefix` (may be "") says why it applies. */
static enum berr deny(const struct store_lock *l, const char *prefix)
{
	char ref[REF_NAME_MAX + DIGEST_STR_MAX + 2], when[32];

	store_lock_format(l, ref, sizeof(ref));
	format_time(l->since, when, sizeof(when));
	return berr_set(BERR_DENIED, "%s%s%s is locked (%s%s%s, since %s%s%s): unlock it with "
			"berthctl unlock %s", prefix, lock_rank(l) == 0 ? "repository " : "", ref,
			l->flags & STORE_LOCK_NO_WRITE ? "no-write" : "",
			l->flags == (STORE_LOCK_NO_WRITE | STORE_LOCK_NO_DELETE) ? ", " : "",
			l->flags & STORE_LOCK_NO_DELETE ? "no-delete" : "", when,
			l->reason[0] ? "; reason: " : "", l->reason, ref);
}

/* BERR_DENIED if the lock of (tag, d) exists and has `flag`. */
static enum berr check_one(struct store *s, const char *name, const char *tag,
			   const struct digest *d, unsigned flag, const char *prefix)
{
	struct store_lock l;
	enum berr rc;
	int found;

	rc = store_lock_get(s, name, tag, d, &l, &found);
	if (rc == BERR_OK && found && (l.flags & flag))
		return deny(&l, prefix);
	return rc;
}

enum berr store_lock_check_write(struct store *s, const char *name, const char *tag)
{
	enum berr rc = check_one(s, name, NULL, NULL, STORE_LOCK_NO_WRITE, "");

	if (rc == BERR_OK && tag && *tag)
		rc = check_one(s, name, tag, NULL, STORE_LOCK_NO_WRITE, "");
	return rc;
}

/* Is `tag` of `name` (its file) pointing at `d`? */
static int tag_names(struct store *s, const char *name, const char *tag, const struct digest *d)
{
	char path[PATH_MAX], buf[DIGEST_STR_MAX + 8];
	struct berr_ctx probe;
	struct digest t;
	int same;

	berr_enter(&probe);
	same = layout_tag(s, name, tag, path, sizeof(path)) == BERR_OK &&
	       fs_read_str(path, buf, sizeof(buf), NULL, ABSENT) == BERR_OK &&
	       (buf[strcspn(buf, " \t\r\n")] = '\0', digest_parse(&t, buf) == BERR_OK) &&
	       digest_equal(&t, d);
	berr_leave(&probe);
	return same;
}

/* Deleting manifest `d` removes the tags naming it: a no-delete lock on any
 * of them refuses. */
static enum berr check_tags_of(struct store *s, const char *name, const struct digest *d)
{
	char ds[DIGEST_STR_MAX], why[REF_NAME_MAX + DIGEST_STR_MAX + REF_TAG_MAX + 32];
	struct store_lock *v = NULL;
	enum berr rc;
	size_t n = 0, i;

	rc = store_lock_list(s, name, &v, &n);
	for (i = 0; rc == BERR_OK && i < n; i++) {
		if (!v[i].tag[0] || !(v[i].flags & STORE_LOCK_NO_DELETE) ||
		    !tag_names(s, name, v[i].tag, d))
			continue;
		snprintf(why, sizeof(why), "%s@%s is tagged %s, and ", name, digest_format(d, ds),
			 v[i].tag);
		rc = deny(&v[i], why);
	}
	free(v);
	return rc;
}

enum berr store_lock_check_delete(struct store *s, const char *name, const char *tag,
				  const struct digest *d)
{
	enum berr rc = check_one(s, name, NULL, NULL, STORE_LOCK_NO_DELETE, "");

	if (rc == BERR_OK && tag && *tag)
		rc = check_one(s, name, tag, NULL, STORE_LOCK_NO_DELETE, "");
	if (rc == BERR_OK && is_digest(d))
		rc = check_one(s, name, NULL, d, STORE_LOCK_NO_DELETE, "");
	if (rc == BERR_OK && is_digest(d))
		rc = check_tags_of(s, name, d);
	return rc;
}

enum berr store_lock_check_repo_remove(struct store *s, const char *name)
{
	struct store_lock *v = NULL;
	enum berr rc;
	size_t n = 0, i;

	rc = store_lock_list(s, name, &v, &n);
	for (i = 0; rc == BERR_OK && i < n; i++)
		if (v[i].flags & STORE_LOCK_NO_DELETE)
			rc = deny(&v[i], "");
	free(v);
	return rc;
}
