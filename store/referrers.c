/*
 * referrers.c - the referrers index and the parent index of a repository
 * (drawn in store.h, spelled by store/layout.c), and store_referrers_list().
 *
 * The referrers API asks "which manifests of this repository have subject
 * X?".  Answering by reading every manifest would cost a scan per request,
 * so each manifest with a subject leaves one small file under its subject:
 *
 *   _referrers/<alg>/<subject-hex>/<alg>-<referrer-hex>   its descriptor
 *
 * and each index leaves one file under each of its children:
 *
 *   _parents/<alg>/<child-hex>/<alg>-<index-hex>          the index's type
 *
 * One file per pair means concurrent PUTs from any number of processes or
 * hosts never write the same file with different content, so no lock and no
 * read-modify-write is needed: each entry is published atomically, a
 * referrer entry with a rename like every other link, the parent entries of
 * an index as hard links to one fsynced file holding its media type (their
 * content is the same), each distinct child once however often the index
 * names it (manifest_parse drops repeats), and each directory fsynced once
 * after all its names are in.  An index of 2,000 children thus costs about
 * 2,000 directory fsyncs, not 6,000 fsyncs and 4,000 renames, and one that
 * names one child 20,000 times costs a handful.  Entries are written BEFORE the manifest's link and
 * removed AFTER it, so whenever a manifest is visible its entries exist; an
 * entry whose manifest is not linked (a crash, a PUT on its way, a delete
 * that died half way) means nothing and readers skip it.  Empty subject
 * directories are left in place: removing one could race with a writer
 * between its mkdir and its link or rename.  The collector may sweep both.
 * A PUT killed part way leaves entries of an unlinked index (garbage, like
 * before) and maybe its shared file in tmp/, which store_sweep removes.
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
#include <jansson.h>

#include "store/layout.h"
#include "store/store.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

#define ENTRY_MAX (MANIFEST_MAX_SIZE + 4096) /* descriptor: annotations + a little */

static enum berr write_entry(struct store *s, const char *path, const char *content,
			     size_t len, int only_missing)
{
	char tmpdir[PATH_MAX];
	enum berr rc;

	if (only_missing && fs_exists(path))
		return BERR_OK;
	rc = layout_tmp_dir(s, tmpdir, sizeof(tmpdir));
	if (rc)
		return rc;
	return fs_write_atomic(tmpdir, path, content, len);
}

/* The referrer descriptor of manifest `d` (distribution-spec 1.1): the
 * artifactType falls back to the config's media type. */
static enum berr referrer_descriptor(const struct manifest *m, const char *media_type,
				     const struct digest *d, size_t len, char **out)
{
	const char *at = m->artifact_type ? m->artifact_type : m->config_media_type;
	char dstr[DIGEST_STR_MAX];
	json_error_t jerr;
	json_t *o, *an;

	*out = NULL;
	o = json_pack("{s:s, s:s, s:I}", "mediaType", media_type, "digest",
		      digest_format(d, dstr), "size", (json_int_t)len);
	if (o == NULL)
		return berr_set(BERR_INTERNAL, "out of memory building a referrer descriptor");
	if (at && json_object_set_new(o, "artifactType", json_string(at)) != 0)
		goto oom;
	if (m->annotations) {
		an = json_loads(m->annotations, 0, &jerr);
		if (!json_is_object(an) || json_object_set_new(o, "annotations", an) != 0) {
			json_decref(an);
			json_decref(o);
			return berr_set(BERR_INTERNAL, "annotations of %s: %s", dstr,
					an ? "not an object" : jerr.text);
		}
	}
	*out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (*out == NULL)
		return berr_set(BERR_INTERNAL, "out of memory building a referrer descriptor");
	return BERR_OK;
oom:
	json_decref(o);
	return berr_set(BERR_INTERNAL, "out of memory building a referrer descriptor");
}

static enum berr remove_entry(const char *path)
{
	if (unlink(path) != 0)
		return errno == ENOENT ? BERR_OK : berr_sys("removing", path);
	return fs_fsync_parent(path);
}

/* The parent entries of one index, written as a batch.  Every entry of an
 * index has the same content (its media type), so the content is written
 * and fsynced once, in one temporary file, and each entry is a hard link
 * to it: link() publishes a name atomically, like rename(), and the bytes
 * behind it are already durable.  Then each directory that gained a name
 * is fsynced once.  A filesystem without hard links gets a copy per entry
 * (fsync, rename), still with one directory fsync per directory.  When
 * store_manifest_entries_write() returns, every entry is durable: the
 * manifest's link, written next, never precedes its entries on disk.  This
 * is the one publish in the store that does not go through fs_publish():
 * that one takes a temporary per name and fsyncs the directory per name,
 * which is exactly the cost the batch avoids. */
struct batch {
	struct store *s;
	const char *content;
	char tmp[PATH_MAX];   /* the shared file, "" until needed */
	int no_links;         /* link() refused: copies from now on */
	int new_dir[2];       /* a key directory was made under _parents/<alg> */
	char alg_dir[2][PATH_MAX];
};

/* Temporary file holding the content, fsynced; its name in b->tmp. */
static enum berr batch_file(struct batch *b, char *tmp, size_t tmplen)
{
	char tmpdir[PATH_MAX];
	enum berr rc;
	int fd;

	rc = layout_tmp_dir(b->s, tmpdir, sizeof(tmpdir));
	if (rc == BERR_OK)
		rc = fs_tmp_create(tmpdir, "e", tmp, tmplen, &fd);
	if (rc)
		return rc;
	rc = fs_write_all(fd, b->content, strlen(b->content), tmp);
	if (rc == BERR_OK && fsync(fd) != 0)
		rc = berr_sys("fsync", tmp);
	if (close(fd) != 0 && rc == BERR_OK)
		rc = berr_sys("closing", tmp);
	if (rc) {
		unlink(tmp);
		tmp[0] = '\0';
	}
	return rc;
}

static void batch_end(struct batch *b)
{
	if (b->tmp[0])
		unlink(b->tmp);
	b->tmp[0] = '\0';
}

/* Make the key directory `dir` (its parent _parents/<alg> is fsynced once
 * at the end, not here).  Rare paths go through fs_mkdir_p. */
static enum berr batch_mkdir(struct batch *b, const char *dir, int alg)
{
	char *slash;

	if (mkdir(dir, FS_DIR_MODE) == 0) {
		if (chmod(dir, FS_DIR_MODE) != 0)
			return berr_sys("chmod", dir);
		if (!b->new_dir[alg]) {
			slash = strrchr(dir, '/');
			if (fs_path(b->alg_dir[alg], sizeof(b->alg_dir[alg]), "%.*s",
				    (int)(slash - dir), dir))
				return BERR_INTERNAL;
			b->new_dir[alg] = 1;
		}
		return BERR_OK;
	}
	if (errno == EEXIST)
		return BERR_OK;
	if (errno != ENOENT)
		return berr_sys("mkdir", dir);
	return fs_mkdir_p(dir); /* first entry of the repository: fsyncs on its way */
}

/* Publish one entry at `path` (in key directory `dir`), not yet durable:
 * *named = 1 when `dir` is to be fsynced.  An existing entry is touched
 * instead (the collector's protocol: it is in use again), and its directory
 * fsynced too: a PUT killed before its fsync may have left it, in memory
 * only.  With only_missing, an existing entry is left alone. */
static enum berr batch_put(struct batch *b, const char *path, const char *dir, int alg,
			   int only_missing, int *named)
{
	char copy[PATH_MAX];
	enum berr rc;
	int tries;

	*named = 0;
	for (tries = 0; tries < 4; tries++) {
		if (!b->no_links && !b->tmp[0] && (rc = batch_file(b, b->tmp, sizeof(b->tmp))))
			return rc;
		if (b->no_links) {
			if ((rc = batch_file(b, copy, sizeof(copy))))
				return rc;
			*named = rename(copy, path) == 0;
			if (!*named) {
				int e = errno;

				unlink(copy);
				errno = e;
			}
		} else {
			*named = link(b->tmp, path) == 0;
		}
		if (*named)
			return BERR_OK;
		if (errno == EEXIST && only_missing)
			return BERR_OK;
		if (errno == EEXIST && utimensat(AT_FDCWD, path, NULL, 0) == 0) {
			*named = 1;
			return BERR_OK;
		}
		if (errno == EMLINK)
			batch_end(b); /* the shared file has all the links it may: a new one */
		else if (errno == EPERM || errno == EOPNOTSUPP || errno == ENOSYS)
			b->no_links = 1;
		else if (errno == ENOENT && (rc = batch_mkdir(b, dir, alg)))
			return rc;
		else if (errno != ENOENT)
			return berr_sys("linking", path);
	}
	return berr_sys("linking", path);
}

/* Parent entries of index `d` under each child of `m`. */
static enum berr write_parents(struct store *s, const char *name, const struct manifest *m,
			       const char *media_type, const struct digest *d, int only_missing)
{
	struct batch b = { .s = s, .content = media_type };
	char path[PATH_MAX], dir[PATH_MAX];
	unsigned char *named;
	enum berr rc = BERR_OK;
	size_t i;
	int alg, n;

	if (!(named = calloc(m->nrefs + 1, 1)))
		return berr_set(BERR_INTERNAL, "out of memory writing parent entries");
	for (i = 0; rc == BERR_OK && i < m->nrefs; i++) {
		if (m->refs[i].kind != MREF_MANIFEST)
			continue;
		alg = m->refs[i].digest.alg == DIGEST_SHA512;
		rc = layout_entry(s, name, LAYOUT_PARENTS, &m->refs[i].digest, d, path, sizeof(path));
		if (rc || (only_missing && fs_exists(path)))
			continue;
		rc = layout_entry(s, name, LAYOUT_PARENTS, &m->refs[i].digest, NULL, dir, sizeof(dir));
		if (rc == BERR_OK)
			rc = batch_put(&b, path, dir, alg, only_missing, &n);
		named[i] = rc == BERR_OK && n;
	}
	batch_end(&b);
	for (i = 0; rc == BERR_OK && i < m->nrefs; i++)
		if (named[i] && (rc = layout_entry(s, name, LAYOUT_PARENTS, &m->refs[i].digest, NULL,
						 dir, sizeof(dir))) == BERR_OK)
			rc = fs_fsync_dir(dir);
	for (alg = 0; rc == BERR_OK && alg < 2; alg++)
		if (b.new_dir[alg])
			rc = fs_fsync_dir(b.alg_dir[alg]);
	free(named);
	return rc;
}

enum berr store_manifest_entries_write(struct store *s, const char *name,
				       const struct manifest *m, const char *media_type,
				       const struct digest *d, size_t len, int only_missing)
{
	char path[PATH_MAX], *desc = NULL;
	enum berr rc = BERR_OK;

	if (m->has_subject) {
		rc = layout_entry(s, name, LAYOUT_REFERRERS, &m->subject.digest, d, path, sizeof(path));
		if (rc == BERR_OK && !(only_missing && fs_exists(path)))
			rc = referrer_descriptor(m, media_type, d, len, &desc);
		if (rc == BERR_OK && desc)
			rc = write_entry(s, path, desc, strlen(desc), 0);
		free(desc);
	}
	if (rc == BERR_OK)
		rc = write_parents(s, name, m, media_type, d, only_missing);
	return rc;
}

/* Unlink every entry first, then fsync each directory that lost one. */
enum berr store_manifest_entries_remove(struct store *s, const char *name,
					const struct manifest *m, const struct digest *d)
{
	char path[PATH_MAX];
	unsigned char *gone;
	enum berr rc = BERR_OK;
	size_t i;

	if (m->has_subject) {
		rc = layout_entry(s, name, LAYOUT_REFERRERS, &m->subject.digest, d, path, sizeof(path));
		if (rc == BERR_OK)
			rc = remove_entry(path);
	}
	if (rc || !(gone = calloc(m->nrefs + 1, 1)))
		return rc ? rc : berr_set(BERR_INTERNAL, "out of memory removing parent entries");
	for (i = 0; rc == BERR_OK && i < m->nrefs; i++) {
		if (m->refs[i].kind != MREF_MANIFEST)
			continue;
		rc = layout_entry(s, name, LAYOUT_PARENTS, &m->refs[i].digest, d, path, sizeof(path));
		if (rc == BERR_OK && unlink(path) == 0)
			gone[i] = 1;
		else if (rc == BERR_OK && errno != ENOENT && errno != ENOTDIR)
			rc = berr_sys("removing", path);
	}
	for (i = 0; rc == BERR_OK && i < m->nrefs; i++)
		if (gone[i] && (rc = layout_entry(s, name, LAYOUT_PARENTS, &m->refs[i].digest, d, path,
						sizeof(path))) == BERR_OK)
			rc = fs_fsync_parent(path);
	free(gone);
	return rc;
}

/* ---- listing ---- */

struct referrer {
	char digest[DIGEST_STR_MAX];
	json_t *desc;
};

static int cmp_referrer(const void *a, const void *b)
{
	return strcmp(((const struct referrer *)a)->digest, ((const struct referrer *)b)->digest);
}

/* The descriptor in entry `path` of referrer `d`, or NULL (with *rc still
 * BERR_OK) when the entry is stale, vanished or damaged. */
static json_t *load_referrer(struct store *s, const char *name, const char *path,
			     const struct digest *d, enum berr *rc)
{
	char *buf = NULL, dstr[DIGEST_STR_MAX];
	struct berr_ctx probe;
	json_error_t jerr;
	json_t *o = NULL;
	size_t len;
	int linked;

	*rc = BERR_OK;
	berr_enter(&probe);
	linked = store_manifest_linked(s, name, d, NULL, 0) == BERR_OK;
	berr_leave(&probe);
	if (!linked)
		return NULL; /* stale: deleted, crashed, or a PUT not yet published */
	*rc = fs_read_small(path, ENTRY_MAX, &buf, &len, BERR_MANIFEST_UNKNOWN);
	if (*rc == BERR_MANIFEST_UNKNOWN) {
		*rc = BERR_OK; /* removed under us by a delete */
		return NULL;
	}
	if (*rc)
		return NULL;
	o = json_loadb(buf, len, 0, &jerr);
	free(buf);
	if (!json_is_object(o) || !json_is_string(json_object_get(o, "digest")) ||
	    strcmp(json_string_value(json_object_get(o, "digest")), digest_format(d, dstr)) != 0) {
		log_err("%s: damaged referrer entry (%s); fsck, then push the referrer again",
			path, o ? "wrong digest or not an object" : jerr.text);
		json_decref(o);
		return NULL;
	}
	return o;
}

static int type_matches(json_t *desc, const char *artifact_type)
{
	json_t *at;

	if (artifact_type == NULL)
		return 1;
	at = json_object_get(desc, "artifactType");
	return json_is_string(at) && strcmp(json_string_value(at), artifact_type) == 0;
}

/* Reads the subject's directory into v[*n] (grown as needed). */
static enum berr read_referrers(struct store *s, const char *name, const char *dir,
				const char *artifact_type, struct referrer **v, size_t *n)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct digest d;
	enum berr rc = BERR_OK;
	size_t cap = 0;
	json_t *o;
	DIR *dh;

	if (!(dh = opendir(dir)))
		return errno == ENOENT || errno == ENOTDIR ? BERR_OK : berr_sys("opendir", dir);
	while (rc == BERR_OK && (de = readdir(dh))) {
		if (layout_entry_digest(de->d_name, &d) != 0)
			continue;
		rc = fs_path(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (rc || !(o = load_referrer(s, name, path, &d, &rc)))
			continue;
		if (!type_matches(o, artifact_type)) {
			json_decref(o);
			continue;
		}
		if ((rc = mem_grow(v, &cap, *n + 1, sizeof(**v), 16, "referrers"))) {
			json_decref(o);
			break;
		}
		digest_format(&d, (*v)[*n].digest);
		(*v)[(*n)++].desc = o;
	}
	closedir(dh);
	return rc;
}

enum berr store_referrers_list(struct store *s, const char *name, const struct digest *subject,
			       const char *artifact_type, json_t **out)
{
	char dir[PATH_MAX];
	struct referrer *v = NULL;
	json_t *arr = NULL;
	enum berr rc;
	size_t n = 0, i;

	*out = NULL;
	rc = layout_entry(s, name, LAYOUT_REFERRERS, subject, NULL, dir, sizeof(dir));
	if (rc == BERR_OK)
		rc = read_referrers(s, name, dir, artifact_type, &v, &n);
	if (rc)
		goto out;
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_referrer);
	if (!(arr = json_array())) {
		rc = berr_set(BERR_INTERNAL, "out of memory listing referrers");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (json_array_append_new(arr, v[i].desc) != 0) {
			rc = berr_set(BERR_INTERNAL, "out of memory listing referrers");
			i++;
			break;
		}
	}
	for (; i < n; i++)
		json_decref(v[i].desc);
	n = 0;
	if (rc == BERR_OK) {
		*out = arr;
		arr = NULL;
	}
out:
	for (i = 0; i < n; i++)
		json_decref(v[i].desc);
	free(v);
	json_decref(arr);
	return rc;
}
