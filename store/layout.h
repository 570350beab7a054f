/*
 * layout.h - the one module that spells the store's on-disk tree.
 *
 * store/store.h draws the tree (root/blobs, repos, uploads, tmp, gc,
 * quarantine and a repository's _blobs, _manifests, _tags, _referrers,
 * _parents, _locks); this module is the only code that turns that drawing
 * into paths.  Every builder checks what it is given (repository name, tag,
 * digest, upload id) before a path is made of it, and fails on truncation
 * (fs_path), so no caller ever builds a path from unchecked input or gets a
 * cut one.  The reverse direction lives here too: a file name found in a
 * link or entry directory turns back into a digest, silently, because a
 * listing meets temporaries and dot names that are not errors.
 *
 * A repository's own directories are one table, layout_subs[], in the order
 * a whole repository is taken down (the publishing order backwards: tags,
 * manifests, their entries, blob links, then the locks that guarded them).
 * Each row says by flags what it is, and each user picks its subset by flag
 * instead of keeping its own list.
 */
#ifndef BERTH_LAYOUT_H
#define BERTH_LAYOUT_H

#include <stddef.h>
#include "oci/digest.h"
#include "util/err.h"

struct store;

enum layout_sub {
	LAYOUT_TAGS,       /* _tags/<tag>: "<alg>:<hex>\n" */
	LAYOUT_MANIFESTS,  /* _manifests/<alg>/<hex>: the media type */
	LAYOUT_REFERRERS,  /* _referrers/<alg>/<subject-hex>/<alg>-<hex> */
	LAYOUT_PARENTS,    /* _parents/<alg>/<child-hex>/<alg>-<hex> */
	LAYOUT_BLOBS,      /* _blobs/<alg>/<hex>: empty */
	LAYOUT_LOCKS,      /* _locks/repo, tag-<tag>, <alg>-<hex> */
	LAYOUT_SUB_COUNT
};

#define LAYOUT_LINKS 1u    /* holds <alg>/<hex> links; one makes a repository exist */
#define LAYOUT_ENTRIES 2u  /* holds <alg>/<key-hex>/<alg>-<hex> entries */
#define LAYOUT_NAMED 4u    /* its presence makes a directory a repository
			    * (catalog); the collector watches it for idleness */
#define LAYOUT_CONTENT 8u  /* content the collector takes down with an empty
			    * repository (not the administrators' locks) */

struct layout_sub_row {
	const char *dir;   /* "_tags", ... */
	unsigned flags;
};
extern const struct layout_sub_row layout_subs[LAYOUT_SUB_COUNT];

/* The algorithms a link or entry directory is split by ("sha256", "sha512"). */
#define LAYOUT_ALG_COUNT 2
extern const enum digest_alg layout_algs[LAYOUT_ALG_COUNT];

/* ---- the top of the tree ---- */
/* Creates blobs/<alg>, repos, uploads and tmp under `root` (mkdir -p). */
enum berr layout_create(const char *root);
enum berr layout_blobs_dir(struct store *s, char *out, size_t outlen);
/* blobs/<alg> */
enum berr layout_blob_alg_dir(struct store *s, enum digest_alg alg, char *out, size_t outlen);
enum berr layout_repos_dir(struct store *s, char *out, size_t outlen);
enum berr layout_uploads_dir(struct store *s, char *out, size_t outlen);
enum berr layout_tmp_dir(struct store *s, char *out, size_t outlen);
/* tmp/<prefix>.<rest>: a temporary directory or file name of the store's own. */
enum berr layout_tmp(struct store *s, const char *prefix, const char *rest, char *out,
		     size_t outlen);
enum berr layout_quarantine_dir(struct store *s, char *out, size_t outlen);
/* quarantine/<base>.<rnd>: where a file moved aside goes (base: no '/'). */
enum berr layout_quarantine(struct store *s, const char *base, const char *rnd, char *out,
			    size_t outlen);
/* 1 if `path` names a file somewhere under blobs/ (no "." or ".." part). */
int layout_in_blobs(struct store *s, const char *path);

enum layout_gc { LAYOUT_GC_DIR, LAYOUT_GC_LOCK, LAYOUT_GC_EPOCH, LAYOUT_GC_TRASH, LAYOUT_GC_REPORT };
enum berr layout_gc(struct store *s, enum layout_gc which, char *out, size_t outlen);

/* ---- blobs ---- */
/* blobs/<alg>/<xx>/<hex>; BERR_DIGEST_INVALID ("malformed digest") unless
 * `d` is a well-formed sha256 / sha512 digest. */
enum berr layout_blob(struct store *s, const struct digest *d, char *out, size_t outlen);
/* The same relative to blobs/ (for X-Accel-Redirect); "" if d is malformed. */
void layout_blob_rel(const struct digest *d, char *out, size_t outlen);
/* 1 if `d` is a digest paths may be built from (sha256 / sha512, lowercase hex). */
int layout_digest_sane(const struct digest *d);

/* ---- a repository ---- */
/* repos/<name>; BERR_NAME_INVALID unless `name` passes ref_name_check. */
enum berr layout_repo(struct store *s, const char *name, char *out, size_t outlen);
/* repos/<name>/<sub> */
enum berr layout_repo_sub(struct store *s, const char *name, enum layout_sub sub, char *out,
			  size_t outlen);
/* repos/<name>/<sub>/<alg> (a LINKS or ENTRIES directory) */
enum berr layout_alg_dir(struct store *s, const char *name, enum layout_sub sub,
			 enum digest_alg alg, char *out, size_t outlen);
/* repos/<name>/<sub>/<alg>/<hex>: a link (_blobs, _manifests) or the key
 * directory of entries (_referrers, _parents). */
enum berr layout_link(struct store *s, const char *name, enum layout_sub sub,
		      const struct digest *d, char *out, size_t outlen);
/* repos/<name>/<sub>/<key alg>/<key hex>/<alg>-<hex> (d NULL: layout_link of key). */
enum berr layout_entry(struct store *s, const char *name, enum layout_sub sub,
		       const struct digest *key, const struct digest *d, char *out,
		       size_t outlen);
/* repos/<name>/_tags/<tag>; BERR_MANIFEST_INVALID ("invalid tag") for a bad tag. */
enum berr layout_tag(struct store *s, const char *name, const char *tag, char *out,
		     size_t outlen);
/* repos/<name>/_locks/repo, tag-<tag> or <alg>-<hex> (tag and d NULL / empty:
 * the repository's). */
enum berr layout_lock(struct store *s, const char *name, const char *tag,
		      const struct digest *d, char *out, size_t outlen);
/* What a file name of _locks/ stands for: 0 and (tag, d) filled, or -1. */
int layout_lock_name(const char *file, char *tag, size_t taglen, struct digest *d);

/* rmdir repos/<name>, then each parent directory that only held it ("team"
 * of "team/app"), up to repos/.  1 if repos/<name> is gone afterwards. */
int layout_repo_rmdir(struct store *s, const char *name);

/* ---- upload sessions ---- */
enum layout_upload { LAYOUT_UPLOAD_DIR, LAYOUT_UPLOAD_STATE, LAYOUT_UPLOAD_DATA,
		     LAYOUT_UPLOAD_LOCK };
/* uploads/<id>[/state|data|lock]; the id is checked (BERR_BLOB_UPLOAD_UNKNOWN). */
enum berr layout_upload(struct store *s, const char *id, enum layout_upload which, char *out,
			size_t outlen);
/* The file name of `which` inside any session directory ("state", ...). */
const char *layout_upload_file(enum layout_upload which);

/* ---- names back to digests (silent: no error detail) ---- */
/* "<alg>-<hex>": the name of an entry, a lock, and of a blob in gc/trash
 * or quarantine/. */
enum berr layout_entry_name(const struct digest *d, char *out, size_t outlen);
/* "<alg>-<hex>" (an entry, a trash or lock name) -> digest; -1 if not one. */
int layout_entry_digest(const char *name, struct digest *d);
/* A link file `name` in the directory of algorithm `alg` ("sha256") ->
 * digest; -1 if not one (dot names, temporaries, strays). */
int layout_link_digest(const char *alg, const char *name, struct digest *d);
/* Silent grammar checks for listings. */
int layout_is_tag(const char *name);
int layout_is_name(const char *name);

#endif
