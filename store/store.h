/*
 * store.h - berth's content-addressed disk store.
 *
 * The store is the only state of a berth deployment.  Several pools on several
 * hosts may share one store directory over NFS or CephFS, so every change is
 * published with an atomic rename() or an O_EXCL create, never with a lock
 * that only holds within one host, and every object is published only after
 * everything it depends on is durable (fsync of the file, rename, fsync of the
 * parent directory).  A crash at any point can leave unreferenced garbage
 * (for the collector) but never a visible object that is corrupt or dangling.
 *
 * On-disk layout (root = the configured store directory; store/layout.c is
 * the only code that spells it, and its table of a repository's directories
 * is the only list of them):
 *
 *   root/
 *     blobs/sha256/ab/ab12...ef          blob bytes, named by digest, mode 0644
 *     blobs/sha512/cd/cd34...            (manifests are stored here too)
 *     repos/<name...>/_blobs/sha256/<hex>      link: blob is in this repository
 *     repos/<name...>/_manifests/sha256/<hex>  link: manifest is in this repository;
 *                                              file content = its media type
 *     repos/<name...>/_tags/<tag>              file content = "sha256:<hex>\n"
 *     repos/<name...>/_referrers/<alg>/<subject-hex>/<alg>-<hex>
 *                          the manifest <alg>:<hex> of this repository has
 *                          "subject" <alg>:<subject-hex>; content = its
 *                          referrer descriptor (JSON: mediaType, digest, size,
 *                          artifactType?, annotations?)
 *     repos/<name...>/_parents/<alg>/<child-hex>/<alg>-<hex>
 *                          the index / manifest list <alg>:<hex> of this
 *                          repository names the child manifest
 *                          <alg>:<child-hex>; content = the index's media type
 *     repos/<name...>/_locks/repo             administrator's lock on the repository
 *     repos/<name...>/_locks/tag-<tag>        ... on one tag
 *     repos/<name...>/_locks/<alg>-<hex>      ... on one manifest; content of
 *                          each: "flags no-write no-delete\n" (either or
 *                          both), "since <RFC 3339 UTC>\n", optional "by
 *                          <user>\n" and "reason <text>\n".  Written with
 *                          fs_write_atomic, removed by unlink + fsync of the
 *                          directory (store/locks.c has the semantics)
 *     uploads/<uuid>/state               session: repo, offset, hash state, times
 *     uploads/<uuid>/data                bytes received so far
 *     uploads/<uuid>/lock                O_EXCL: a request is working on it
 *     tmp/                               temporaries, renamed into place
 *     gc/lock                            the collector's lock (store/lease.c): one
 *                                        `berthctl gc` at a time on all hosts
 *     gc/epoch                           created at each collection's start: its
 *                                        mtime is T0, read from the file server
 *     gc/trash/<alg>-<hex>               a blob being removed: put back if a
 *                                        writer touched it meanwhile (or if the
 *                                        collector died), else unlinked
 *     gc/report.json                     the last completed collection's figures
 *                                        (store/stats.c), which /metrics shows
 *     repos/.../.gc.<name>               a link / referrer or parent entry being
 *                                        removed, the same way (readers skip
 *                                        dot names)
 *     quarantine/<alg>-<hex>.<rnd>       corrupt blobs moved aside by fsck --repair
 *     quarantine/<name>.<rnd>            ... and other files found under blobs/
 *
 * A repository name's components match [a-z0-9]+..., so the "_blobs",
 * "_manifests" and "_tags" directories can never clash with a nested
 * repository ("team/app" lives in repos/team/app/ beside repos/team/_blobs).
 * A repository exists when its _blobs or _manifests directory exists.
 *
 * Ordering that keeps the store consistent:
 *   blob bytes -> repo blob link -> manifest bytes (as blob)
 *     -> referrer / parent entries -> manifest link -> tag
 * and deletion runs it backwards: tags -> manifest link -> its entries.
 * A referrer or parent entry counts only while the manifest it names is
 * linked: one left behind by a crash (or by a PUT still on its way to the
 * link) is ignored by readers and is garbage for the collector.
 *
 * Online garbage collection (store/gc.c has the whole protocol): whoever
 * makes a blob reachable - a link into a repository, a manifest naming it -
 * sets the blob's mtime (and its link's) to now before publishing, and
 * touches it again after; the second touch failing means the collector took
 * it, and the writer withdraws and fails.  The collector removes only what
 * it did not mark and whose mtime is older than its epoch minus the grace,
 * and re-checks the mtime after moving it to its trash.  Mtimes come from
 * the file server's clock on both sides, so host clocks do not matter.
 */
#ifndef BERTH_STORE_H
#define BERTH_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "oci/digest.h"
#include "oci/manifest.h"
#include "store/stage.h"
#include "util/err.h"

struct store {
	char *root;           /* owned, absolute, no trailing slash */
	long upload_ttl;      /* seconds an idle upload session lives */
	long lock_stale;      /* seconds after which a session lock is stale */
	int direct_io;        /* uploads write full stage buffers with O_DIRECT
			       * (store/stage.c); 0 = always the page cache */
};

/* Creates root/{blobs,repos,uploads,tmp} if missing.  `root` is copied (made
 * absolute).  Defaults: upload_ttl 86400 s, lock_stale 120 s, direct_io on; set them after. */
enum berr store_open(struct store *s, const char *root);
void store_close(struct store *s);

/* ---- blobs ---- */
/* Size of the blob, or BERR_BLOB_UNKNOWN. */
enum berr store_blob_stat(struct store *s, const struct digest *d, int64_t *size);
/* "sha256/ab/ab12..." relative to root/blobs (for X-Accel-Redirect). */
void store_blob_relpath(const struct digest *d, char *out, size_t outlen);
/* Publish bytes held in memory under their digest (computed with `alg`). */
enum berr store_blob_put_buf(struct store *s, enum digest_alg alg,
			     const void *buf, size_t len, struct digest *out);
/* Absolute path of the blob file (it may not exist); BERR_DIGEST_INVALID if
 * `d` is not a well-formed sha256/sha512 digest. */
enum berr store_blob_path(struct store *s, const struct digest *d, char *out, size_t outlen);
/* Publish `len` bytes whose digest `d` the caller has computed. */
enum berr store_blob_put_known(struct store *s, const struct digest *d,
			       const void *buf, size_t len);
/* Read a whole (small) blob; *buf is malloc'd.  BERR_BLOB_UNKNOWN if absent,
 * BERR_TOO_LARGE if bigger than `max`. */
enum berr store_blob_read(struct store *s, const struct digest *d, size_t max,
			  char **buf, size_t *len);

/* ---- repositories and links (lookups: store/lookup.c) ---- */
/* `name` must already have passed ref_name_check(). */
int store_repo_exists(struct store *s, const char *name);
/* What a repository holds, by its files (dangling ones too). */
struct store_repo_counts {
	long tags, manifests, blob_links, locks;
};
enum berr store_repo_count(struct store *s, const char *name, struct store_repo_counts *c);
/* 0 = linked; BERR_BLOB_UNKNOWN if not linked into `name` or the blob is gone. */
enum berr store_blob_linked(struct store *s, const char *name, const struct digest *d);
/* The same, with the blob's size (from the stat that checks it is there). */
enum berr store_blob_linked_size(struct store *s, const char *name, const struct digest *d,
				 int64_t *size);
/* Links an existing blob into `name` (BERR_BLOB_UNKNOWN if the blob is absent). */
enum berr store_blob_link(struct store *s, const char *name, const struct digest *d);

/* ---- manifests and tags ---- */
/* 0 and its media type (when mt != NULL) if the manifest is in `name`;
 * BERR_MANIFEST_UNKNOWN otherwise (also when its bytes are gone). */
enum berr store_manifest_linked(struct store *s, const char *name,
				const struct digest *d, char *mt, size_t mtlen);
/* Every reference of `m` present in `name`?  BERR_MANIFEST_BLOB_UNKNOWN with
 * the first missing digest in the detail.  External (urls) layers are skipped. */
enum berr store_manifest_check_refs(struct store *s, const char *name,
				    const struct manifest *m);
/* Does each descriptor's size match the stored blob (a child manifest: its
 * stored bytes)?  One stat each, no reads.  BERR_MANIFEST_INVALID naming the
 * digest, the size given and the size stored.  Absent and external (urls)
 * ones are skipped: store_manifest_check_refs answers for those.  The PUT
 * handler calls it before store_manifest_put (store/repo.c). */
enum berr store_manifest_check_sizes(struct store *s, const char *name,
				     const struct manifest *m);
/* Store `buf` as a manifest of `name` with `media_type`: checks refs, writes
 * the bytes as a blob (digest algorithm of `want` when given, else sha256; a
 * mismatch with `want` is BERR_DIGEST_INVALID), links it, then points `tag`
 * (may be NULL) at it.  *out receives the digest. */
enum berr store_manifest_put(struct store *s, const char *name, const struct manifest *m,
			     const char *media_type, const void *buf, size_t len,
			     const struct digest *want, const char *tag,
			     struct digest *out);
/* Resolve a tag of `name`: BERR_MANIFEST_UNKNOWN if absent, or if it names a
 * manifest that is not (any longer) linked. */
/* The digest a tag names, unchecked: BERR_MANIFEST_UNKNOWN if the tag is
 * absent.  For a caller that checks the manifest with store_manifest_linked
 * itself (a GET wants its media type anyway). */
enum berr store_tag_read(struct store *s, const char *name, const char *tag,
			 struct digest *out);
enum berr store_tag_resolve(struct store *s, const char *name, const char *tag,
			    struct digest *out);
/* Point `tag` at `d` (atomically replaces the previous target). */
enum berr store_tag_set(struct store *s, const char *name, const char *tag,
			const struct digest *d);

/* Tags of `name` in lexical (byte) order, after `last` (NULL: from the
 * start), at most `n` (n < 0: all).  *out is a malloc'd array of malloc'd
 * strings; *more is set when tags remain beyond the page.  BERR_NAME_UNKNOWN
 * if the repository does not exist.  (store/tags.c) */
enum berr store_tag_list(struct store *s, const char *name, const char *last, long n,
			 char ***out, size_t *count, int *more);
void store_tag_list_free(char **tags, size_t count);

/* ---- deletion, referrers, catalog (store/delete.c, store/referrers.c,
 *      store/catalog.c) ---- */
/* Delete the manifest `d` from `name`: first every tag of `name` naming it,
 * then its link, then its referrers / parent entries.  BERR_MANIFEST_UNKNOWN
 * if it is not linked.  While `d` is a child of an index or manifest list
 * still linked in `name`, the delete is refused with BERR_DENIED (detail
 * names the index) unless `force`. */
enum berr store_manifest_delete(struct store *s, const char *name, const struct digest *d,
				int force);
/* Remove only the tag.  BERR_MANIFEST_UNKNOWN if `name` has no such tag. */
enum berr store_tag_delete(struct store *s, const char *name, const char *tag);
/* Unlink the blob from `name` (the bytes stay for other repositories and the
 * collector).  BERR_BLOB_UNKNOWN if it is not linked. */
enum berr store_blob_unlink(struct store *s, const char *name, const struct digest *d);

/* ---- an administrator's surgery (store/delete.c, store/blob.c) ---- */
/* Remove only the manifest link of `d` (unlink + fsync of its directory):
 * for a link whose manifest bytes are gone (fsck --repair), where
 * store_manifest_delete has nothing to read.  BERR_MANIFEST_UNKNOWN if absent. */
enum berr store_manifest_unlink(struct store *s, const char *name, const struct digest *d);
/* Remove the whole repository: each of its directories, in the publishing
 * order backwards (layout_subs[]), is renamed into tmp/ (fsync of the
 * repository's directory) and deleted there; then its directory and the
 * parents that only held it.  Locks are not checked here (the caller does:
 * store_lock_check_repo_remove).  *c (may be NULL) gets what it held.
 * BERR_NAME_UNKNOWN if it does not exist.  Blobs stay for the collector. */
enum berr store_repo_remove(struct store *s, const char *name, struct store_repo_counts *c);
/* Move a blob (one that fails its digest) to quarantine/<alg>-<hex>.<rnd>,
 * or any other file under blobs/ to quarantine/<its name>.<rnd>: rename,
 * then fsync of both directories.  The new path goes to `to`. */
enum berr store_blob_quarantine(struct store *s, const struct digest *d, char *to, size_t tolen);
enum berr store_stray_quarantine(struct store *s, const char *path, char *to, size_t tolen);

/* The referrers of `subject` in `name`: a JSON array (new reference, caller
 * json_decref()s) of descriptors {mediaType, digest, size, artifactType?,
 * annotations?} of every manifest linked in `name` whose "subject" is
 * `subject`, ordered by digest.  `artifact_type` (may be NULL) filters on
 * artifactType.  An unknown subject or repository yields an empty array.
 * Kept current by store_manifest_put / store_manifest_delete without scanning
 * the repository: one small file per (subject, referrer) pair. */
struct json_t;
enum berr store_referrers_list(struct store *s, const char *name, const struct digest *subject,
			       const char *artifact_type, struct json_t **out);

/* Repository names in lexical order after `last` (NULL: from the start), at
 * most n (n < 0: all); same ownership and *more as store_tag_list. */
enum berr store_catalog(struct store *s, const char *last, long n, char ***out,
			size_t *count, int *more);
/* Find some repository that has the blob linked and for which
 * may_pull(ctx, repo) returns nonzero; its name goes to out.
 * BERR_BLOB_UNKNOWN if there is none. */
enum berr store_blob_find_repo(struct store *s, const struct digest *d,
			       int (*may_pull)(void *ctx, const char *repo), void *ctx,
			       char *out, size_t outlen);

/* Internal to store/ (store/referrers.c, store/tags.c): */
/* Record the referrer entry of manifest `d` (when `m` has a subject) and its
 * parent entries (one per child, when `m` is an index), `len` being its byte
 * length and `media_type` the type it is stored with.  With only_missing,
 * entries that already exist are left alone (cheap repair after a race). */
enum berr store_manifest_entries_write(struct store *s, const char *name,
				       const struct manifest *m, const char *media_type,
				       const struct digest *d, size_t len, int only_missing);
/* Remove the entries store_manifest_entries_write made (absent ones are fine). */
enum berr store_manifest_entries_remove(struct store *s, const char *name,
					const struct manifest *m, const struct digest *d);
/* The writers' half of the collector's protocol (store/gc.c, store/blob.c):
 * set the mtime of `path` (of the blob `d`) to the file server's now.  A
 * path that stays absent for a few ms (a collector may be restoring it) is
 * `absent` (BERR_BLOB_UNKNOWN, "blob ... is unknown"), without a detail
 * for store_touch. */
enum berr store_touch(const char *path, enum berr absent);
enum berr store_blob_touch(struct store *s, const struct digest *d);
/* Page of a sorted, malloc'd array of malloc'd strings: keeps the entries
 * after `last`, at most n (n < 0: all), frees the rest, sets *more.  Takes
 * ownership of `all` (also on error: none). */
void store_names_page(char **all, size_t total, const char *last, long n,
		      char ***out, size_t *count, int *more);

/* ---- locks (store/locks.c: what each lock refuses, and where the checks
 *      live) ---- */
#define STORE_LOCK_NO_WRITE 1u
#define STORE_LOCK_NO_DELETE 2u
#define STORE_LOCK_REASON_MAX 200

struct store_lock {
	char name[256];         /* repository */
	char tag[129];          /* a tag's lock: the tag; else "" */
	struct digest digest;   /* a manifest's lock: its digest; else alg DIGEST_NONE */
	unsigned flags;         /* STORE_LOCK_NO_WRITE | STORE_LOCK_NO_DELETE */
	time_t since;
	char by[64];            /* who set it ("" if not recorded) */
	char reason[STORE_LOCK_REASON_MAX + 1]; /* one line, may be "" */
};

/* Set the lock of the repository (tag "" and no digest), of a tag or of a
 * manifest digest, atomically replacing one that is there.  flags must be
 * nonzero; a manifest's lock takes only STORE_LOCK_NO_DELETE (its content
 * cannot change): NO_WRITE on it is BERR_UNSUPPORTED.  Nothing here checks
 * that the repository, tag or manifest exists: the caller does. */
enum berr store_lock_set(struct store *s, const struct store_lock *l);
/* Read one lock (tag and d may be NULL); *found = 0 when there is none. */
enum berr store_lock_get(struct store *s, const char *name, const char *tag,
			 const struct digest *d, struct store_lock *out, int *found);
/* Remove one lock; *found says whether there was one (and `old`, when not
 * NULL, receives it). */
enum berr store_lock_clear(struct store *s, const char *name, const char *tag,
			   const struct digest *d, struct store_lock *old, int *found);
/* Every lock of `name` (NULL: of every repository), ordered by repository,
 * then repository / tags / manifests, then tag or digest.  *out is one
 * malloc'd array (free()). */
enum berr store_lock_list(struct store *s, const char *name, struct store_lock **out,
			  size_t *count);
/* Does the repository hold any lock (the collector keeps its directory)? */
int store_lock_any(struct store *s, const char *name);
/* "team/app", "team/app:v1" or "team/app@sha256:..." */
char *store_lock_format(const struct store_lock *l, char *out, size_t outlen);
/* BERR_OK, or BERR_DENIED with a detail naming the lock and how to lift it,
 * when a no-write lock of the repository or of `tag` (may be NULL: a push by
 * digest, a blob upload) forbids the write. */
enum berr store_lock_check_write(struct store *s, const char *name, const char *tag);
/* The same for deletes: of the tag `tag`, of the manifest `d` (refused by
 * its own lock and by the lock of any tag naming it: deleting it removes
 * them), or with both NULL of one blob link (only the repository's lock). */
enum berr store_lock_check_delete(struct store *s, const char *name, const char *tag,
				  const struct digest *d);
/* Removing the whole repository: refused by any no-delete lock in it. */
enum berr store_lock_check_repo_remove(struct store *s, const char *name);

/* ---- upload sessions ---- */
struct upload {
	char id[37];
	char repo[256];
	int64_t offset;        /* bytes committed (state file) */
	int64_t pending;       /* bytes appended since the last commit */
	struct hasher hash;    /* sha256 over bytes [0, offset + pending) */
	time_t created;
	time_t updated;
	int datafd;            /* -1 when closed */
	int locked;            /* we hold uploads/<id>/lock */
	time_t lock_touched;
	struct store *store;
	/* private to store/upload.c */
	struct hasher committed; /* hash state at `offset`, restored by rollback */
	char lock_token[192];    /* our lock file's content: "host pid time nonce\n" */
	int data_gone;           /* data already published by a finish that died
				  * before removing the session: finish just links */
	struct stage stage;      /* appended bytes not yet on `data` (stage.h) */
};

/* New session for repository `name`; the session is returned open and locked. */
enum berr store_upload_create(struct store *s, const char *name, struct upload *u);
/* Open and lock an existing session of `name`.  BERR_BLOB_UPLOAD_UNKNOWN if it
 * does not exist, belongs to another repository or has expired (an expired one
 * is removed).  BERR_BUSY if another live request holds it.  Data beyond the
 * committed offset (left by a crashed writer) is cut off. */
enum berr store_upload_open(struct store *s, const char *name, const char *id,
			    struct upload *u);
/* Read-only look at a session (for GET status): no lock taken. */
enum berr store_upload_peek(struct store *s, const char *name, const char *id,
			    struct upload *u);
/* Like peek for any session whatever its repository and age (berthctl
 * uploads ls); BERR_BLOB_UPLOAD_UNKNOWN if it has no state (yet). */
enum berr store_upload_info(struct store *s, const char *id, struct upload *u);
/* Append bytes: written to data and fed to the hash.  Not durable until commit. */
enum berr store_upload_append(struct upload *u, const void *buf, size_t n);
/* Where up to *cap bytes of the body may be read so that appending them from
 * there costs no copy (inside the stage's buffer), or NULL: use your own. */
void *store_upload_space(struct upload *u, size_t *cap);
/* Make appended bytes part of the session: state file replaced atomically. */
enum berr store_upload_commit(struct upload *u);
/* Forget bytes appended since the last commit (truncate data, restore hash). */
enum berr store_upload_rollback(struct upload *u);
/* Finish: the digest of everything appended must equal `want` (other
 * algorithms than sha256 re-read the data once), else BERR_DIGEST_INVALID and
 * nothing is stored (caller may rollback).  Publishes the blob (fsync, rename),
 * links it into the repository and removes the session. */
enum berr store_upload_finish(struct upload *u, const struct digest *want);
/* Remove the session and its data. */
enum berr store_upload_cancel(struct upload *u);
/* Release the lock and descriptors (safe on a finished / cancelled / zeroed upload). */
void store_upload_close(struct upload *u);

/* Remove sessions idle longer than upload_ttl and temporaries older than an
 * hour.  Returns the number of entries removed via *removed (may be NULL). */
enum berr store_sweep(struct store *s, time_t now, int *removed);

#endif
