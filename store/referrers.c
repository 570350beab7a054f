/*
 * referrers.c - the referrers index and the parent index of a repository
 * (layout: store.h), and store_referrers_list().
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
 * read-modify-write is needed: each entry is published with an atomic rename
 * like every other link.  Entries are written BEFORE the manifest's link and
 * removed AFTER it, so whenever a manifest is visible its entries exist; an
 * entry whose manifest is not linked (a crash, a PUT on its way, a delete
 * that died half way) means nothing and readers skip it.  Empty subject
 * directories are left in place: removing one could race with a writer
 * between its mkdir and its rename.  The collector may sweep both.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>

#include "store/fs.h"
#include "store/ref.h"
#include "store/store.h"
#include "util/log.h"

#define ENTRY_MAX (MANIFEST_MAX_SIZE + 4096) /* descriptor: annotations + a little */

/* root/repos/<name>/<kind>/<key alg>/<key hex>[/<d alg>-<d hex>] (d may be NULL). */
static enum berr entry_path(struct store *s, const char *name, const char *kind,
			    const struct digest *key, const struct digest *d,
			    char *out, size_t outlen)
{
	char check[PATH_MAX];
	enum berr rc;

	if (name == NULL || ref_name_check(name) != BERR_OK)
		return berr_set(BERR_NAME_INVALID, "invalid repository name");
	rc = store_blob_path(s, key, check, sizeof(check)); /* validates the digests */
	if (rc == BERR_OK && d)
		rc = store_blob_path(s, d, check, sizeof(check));
	if (rc)
		return rc;
	if (d == NULL)
		return fs_path(out, outlen, "%s/repos/%s/%s/%s/%s", s->root, name, kind,
			       digest_alg_name(key->alg), key->hex);
	return fs_path(out, outlen, "%s/repos/%s/%s/%s/%s/%s-%s", s->root, name, kind,
		       digest_alg_name(key->alg), key->hex, digest_alg_name(d->alg), d->hex);
}

static enum berr write_entry(struct store *s, const char *path, const char *content,
			     size_t len, int only_missing)
{
	char tmpdir[PATH_MAX];
	enum berr rc;

	if (only_missing && fs_exists(path))
		return BERR_OK;
	rc = fs_path(tmpdir, sizeof(tmpdir), "%s/tmp", s->root);
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

enum berr store_manifest_entries_write(struct store *s, const char *name,
				       const struct manifest *m, const char *media_type,
				       const struct digest *d, size_t len, int only_missing)
{
	char path[PATH_MAX], *desc = NULL;
	enum berr rc = BERR_OK;
	size_t i;

	if (m->has_subject) {
		rc = entry_path(s, name, "_referrers", &m->subject.digest, d, path, sizeof(path));
		if (rc == BERR_OK && !(only_missing && fs_exists(path)))
			rc = referrer_descriptor(m, media_type, d, len, &desc);
		if (rc == BERR_OK && desc)
			rc = write_entry(s, path, desc, strlen(desc), 0);
		free(desc);
	}
	for (i = 0; rc == BERR_OK && i < m->nrefs; i++) {
		if (m->refs[i].kind != MREF_MANIFEST)
			continue;
		rc = entry_path(s, name, "_parents", &m->refs[i].digest, d, path, sizeof(path));
		if (rc == BERR_OK)
			rc = write_entry(s, path, media_type, strlen(media_type), only_missing);
	}
	return rc;
}

static enum berr remove_entry(const char *path)
{
	if (unlink(path) != 0)
		return errno == ENOENT ? BERR_OK : berr_sys("removing", path);
	return fs_fsync_parent(path);
}

enum berr store_manifest_entries_remove(struct store *s, const char *name,
					const struct manifest *m, const struct digest *d)
{
	char path[PATH_MAX];
	enum berr rc = BERR_OK;
	size_t i;

	if (m->has_subject) {
		rc = entry_path(s, name, "_referrers", &m->subject.digest, d, path, sizeof(path));
		if (rc == BERR_OK)
			rc = remove_entry(path);
	}
	for (i = 0; rc == BERR_OK && i < m->nrefs; i++) {
		if (m->refs[i].kind != MREF_MANIFEST)
			continue;
		rc = entry_path(s, name, "_parents", &m->refs[i].digest, d, path, sizeof(path));
		if (rc == BERR_OK)
			rc = remove_entry(path);
	}
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

/* "<alg>-<hex>" -> digest; nonzero for temporaries and anything else. */
static int entry_digest(const char *ent, struct digest *d)
{
	char buf[DIGEST_STR_MAX + 8], *dash;

	if (ent[0] == '.' || strlen(ent) >= sizeof(buf))
		return -1;
	strcpy(buf, ent);
	dash = strchr(buf, '-');
	if (dash == NULL)
		return -1;
	*dash = ':';
	if (digest_parse(d, buf) != BERR_OK) {
		berr_clear();
		return -1;
	}
	return 0;
}

/* The descriptor in entry `path` of referrer `d`, or NULL (with *rc still
 * BERR_OK) when the entry is stale, vanished or damaged. */
static json_t *load_referrer(struct store *s, const char *name, const char *path,
			     const struct digest *d, enum berr *rc)
{
	char *buf = NULL, dstr[DIGEST_STR_MAX];
	json_error_t jerr;
	json_t *o = NULL;
	size_t len;

	*rc = BERR_OK;
	if (store_manifest_linked(s, name, d, NULL, 0) != BERR_OK) {
		berr_clear(); /* stale: deleted, crashed, or a PUT not yet published */
		return NULL;
	}
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
	struct referrer *nv;
	struct dirent *de;
	struct digest d;
	enum berr rc = BERR_OK;
	size_t cap = 0;
	json_t *o;
	DIR *dh;

	if (!(dh = opendir(dir)))
		return errno == ENOENT || errno == ENOTDIR ? BERR_OK : berr_sys("opendir", dir);
	while (rc == BERR_OK && (de = readdir(dh))) {
		if (entry_digest(de->d_name, &d) != 0)
			continue;
		rc = fs_path(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (rc || !(o = load_referrer(s, name, path, &d, &rc)))
			continue;
		if (!type_matches(o, artifact_type)) {
			json_decref(o);
			continue;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			if (!(nv = realloc(*v, cap * sizeof(**v)))) {
				json_decref(o);
				rc = berr_set(BERR_INTERNAL, "out of memory listing %s", dir);
				break;
			}
			*v = nv;
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
	rc = entry_path(s, name, "_referrers", subject, NULL, dir, sizeof(dir));
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
