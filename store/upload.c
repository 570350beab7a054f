/*
 * upload.c - blob upload sessions that any worker on any host can continue.
 *
 * A session is a directory uploads/<id>/ holding:
 *   data   the bytes received so far (may be longer than `offset` after a crash)
 *   state  "key=value" lines: repo, offset, created, updated, hash (the saved
 *          SHA-256 context at `offset`), replaced atomically on every commit
 *   lock   present while a request works on the session
 *
 * Commit = fdatasync(data), then replace state.  So the state never claims
 * bytes that are not durable, and whoever opens the session next cuts data
 * back to the committed offset and resumes hashing from the saved context:
 * no request ever re-reads the data to hash it (only a sha512 finish does,
 * once).  A session is created complete in tmp/ and renamed into uploads/,
 * and removed by renaming it into tmp/ before deleting it, so a half-made or
 * half-deleted session is never visible.
 *
 * Finish = compare digests, commit, rename data into blobs/ (or drop it if
 * the blob exists), link it into the repository, remove the session.  If the
 * process dies after the rename, the next open finds `data` gone: finish then
 * checks that the blob is this session's content (same SHA-256 as the saved
 * state and same size) and only links it.
 *
 * Locking works across hosts sharing the store over NFS, without flock/fcntl:
 * uploads/<id>/lock is an NFS-safe lock file (store/lease.c has the scheme,
 * shared with the garbage collector's gc/lock).  A lock is stale when its
 * holder on this host is dead or its mtime is older than lock_stale.  The
 * holder touches it at most every 20 s while appending, and gives up
 * (BERR_BUSY) rather than write after 3/4 of lock_stale without touching it,
 * which leaves a margin for clock skew between hosts: a lock that another
 * host may consider stale is never written under.
 *
 * Finishing makes the new blob reachable under the collector's protocol
 * (store/gc.c): the data file's mtime is set to now before it is renamed into
 * blobs/, and store_blob_link() touches the blob again after linking it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"
#include "store/layout.h"
#include "store/lease.h"
#include "oci/ref.h"
#include "store/store.h"
#include "util/log.h"

#define TMP_MAX_AGE 3600        /* seconds before sweep removes a temporary */
#define REHASH_BUF (64 * 1024)
#define STATE_TEXT_MAX (512 + HASHER_STATE_MAX)
/* Not an error code: "the file is not there" from fs_read_str(). */
#define ABSENT BERR__COUNT

struct ustate {
	char repo[256];
	int64_t offset;
	time_t created;
	time_t updated;
	char hash[HASHER_STATE_MAX];
};

static void upload_reset(struct upload *u, struct store *s)
{
	memset(u, 0, sizeof(*u));
	u->datafd = -1;
	u->store = s;
	stage_init(&u->stage, s->direct_io);
}

static long refresh_every(const struct store *s)
{
	long r = s->lock_stale / 6;

	return r > 20 ? 20 : r < 1 ? 1 : r;
}

static int expired(const struct store *s, time_t updated, time_t now)
{
	return updated + s->upload_ttl < now;
}

/* uploads/<id>[/file]; the id is checked before it becomes a path
 * (store/layout.c). */
static enum berr session_path(struct store *s, const char *id, enum layout_upload which,
			      char *out, size_t outlen)
{
	return layout_upload(s, id, which, out, outlen);
}

/* `file` of the session being built or removed in directory `dir`. */
static enum berr session_file(const char *dir, enum layout_upload which, char *out,
			      size_t outlen)
{
	return fs_path(out, outlen, "%s/%s", dir, layout_upload_file(which));
}

/* ---- the state file ---- */

static int parse_i64(const char *v, int64_t *out)
{
	char *end;
	long long x;

	errno = 0;
	x = strtoll(v, &end, 10);
	if (errno || end == v || *end != '\0' || x < 0)
		return -1;
	*out = x;
	return 0;
}

static int state_field(struct ustate *st, const char *key, const char *val)
{
	int64_t t;

	if (strcmp(key, "repo") == 0)
		return snprintf(st->repo, sizeof(st->repo), "%s", val) < (int)sizeof(st->repo) ? 0 : -1;
	if (strcmp(key, "hash") == 0)
		return snprintf(st->hash, sizeof(st->hash), "%s", val) < (int)sizeof(st->hash) ? 0 : -1;
	if (strcmp(key, "offset") == 0)
		return parse_i64(val, &st->offset);
	if (strcmp(key, "created") == 0 || strcmp(key, "updated") == 0) {
		if (parse_i64(val, &t) != 0)
			return -1;
		*(key[0] == 'c' ? &st->created : &st->updated) = (time_t)t;
	}
	return 0; /* unknown keys are for later versions */
}

static enum berr state_read(struct store *s, const char *id, struct ustate *st)
{
	char path[PATH_MAX], text[STATE_TEXT_MAX], *line, *save = NULL, *eq;
	enum berr rc;

	memset(st, 0, sizeof(*st));
	st->offset = -1;
	rc = session_path(s, id, LAYOUT_UPLOAD_STATE, path, sizeof(path));
	if (rc)
		return rc;
	rc = fs_read_str(path, text, sizeof(text), NULL, ABSENT);
	if (rc == ABSENT)
		return berr_set(BERR_BLOB_UPLOAD_UNKNOWN, "upload %s is unknown", id);
	if (rc)
		return rc;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		eq = strchr(line, '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		if (state_field(st, line, eq + 1) != 0)
			return berr_set(BERR_INTERNAL, "%s: bad value for %s", path, line);
	}
	if (st->repo[0] == '\0' || st->offset < 0 || st->hash[0] == '\0')
		return berr_set(BERR_INTERNAL, "%s: damaged session state", path);
	return BERR_OK;
}

/* Replace `dir`/state: temp file in the session directory, fsync, rename. */
static enum berr state_write(struct upload *u, const char *dir, int64_t offset,
			     const struct hasher *h, time_t now)
{
	char path[PATH_MAX], hex[HASHER_STATE_MAX], text[STATE_TEXT_MAX];
	enum berr rc;
	int n;

	rc = hasher_save(h, hex, sizeof(hex));
	if (rc == BERR_OK)
		rc = session_file(dir, LAYOUT_UPLOAD_STATE, path, sizeof(path));
	if (rc)
		return rc;
	n = snprintf(text, sizeof(text),
		     "repo=%s\noffset=%" PRId64 "\ncreated=%lld\nupdated=%lld\nhash=%s\n",
		     u->repo, offset, (long long)u->created, (long long)now, hex);
	if (n < 0 || (size_t)n >= sizeof(text))
		return berr_set(BERR_INTERNAL, "session state too long");
	return fs_write_atomic(dir, path, text, (size_t)n);
}

/* ---- the lock (store/lease.c) ---- */

/* Take uploads/<id>/lock (dir = the session directory). */
static enum berr lock_take(struct upload *u, const char *dir)
{
	char what[64];
	enum berr rc;

	snprintf(what, sizeof(what), "upload %s", u->id);
	rc = store_lease_token_new(u->lock_token, sizeof(u->lock_token));
	if (rc == BERR_OK)
		rc = store_lease_take(dir, u->lock_token, u->store->lock_stale, what,
				     BERR_BLOB_UPLOAD_UNKNOWN, NULL, 0, NULL);
	if (rc == BERR_BUSY)
		return berr_set(BERR_BUSY, "upload %s is in use by another request", u->id);
	if (rc)
		return rc;
	u->locked = 1;
	u->lock_touched = time(NULL);
	return BERR_OK;
}

/* Still ours?  Then refresh its mtime so nobody judges it stale. */
static enum berr lock_refresh(struct upload *u)
{
	char lock[PATH_MAX], what[64];
	enum berr rc;

	rc = session_path(u->store, u->id, LAYOUT_UPLOAD_LOCK, lock, sizeof(lock));
	if (rc)
		return rc;
	snprintf(what, sizeof(what), "upload %s", u->id);
	rc = store_lease_refresh(lock, u->lock_token, what);
	if (rc == BERR_OK)
		u->lock_touched = time(NULL);
	return rc;
}

static void lock_release(struct upload *u)
{
	char lock[PATH_MAX];

	if (!u->locked)
		return;
	u->locked = 0;
	if (session_path(u->store, u->id, LAYOUT_UPLOAD_LOCK, lock, sizeof(lock)) == BERR_OK)
		store_lease_release(lock, u->lock_token);
}

/* ---- creating, opening, removing ---- */

/* Rename the session into tmp/, then delete it there. */
static enum berr upload_remove(struct upload *u)
{
	char dir[PATH_MAX], dead[PATH_MAX], rnd[17], name[REF_UPLOAD_ID_LEN + 20];
	enum berr rc;

	stage_release(&u->stage); /* joins the helper before its fd goes */
	if (u->datafd >= 0)
		close(u->datafd);
	u->datafd = -1;
	rc = session_path(u->store, u->id, LAYOUT_UPLOAD_DIR, dir, sizeof(dir));
	if (rc == BERR_OK)
		rc = fs_random_hex(rnd, 8);
	if (rc == BERR_OK)
		rc = fs_path(name, sizeof(name), "%s.%s", u->id, rnd);
	if (rc == BERR_OK)
		rc = layout_tmp(u->store, "dead", name, dead, sizeof(dead));
	if (rc)
		return rc;
	if (rename(dir, dead) != 0)
		return errno == ENOENT ? BERR_OK : berr_sys("renaming session", dir);
	u->locked = 0; /* the lock went with it */
	if (fs_fsync_parent(dir) != BERR_OK || fs_remove_tree(dead) != BERR_OK)
		log_warn("upload %s: left %s for the sweeper", u->id, dead);
	return BERR_OK;
}

/* Build the session in tmp/upload.<id> and rename it into uploads/. */
static enum berr upload_build(struct upload *u, const char *tmpdir, const char *dir)
{
	char path[PATH_MAX];
	enum berr rc;
	int taken;

	if (mkdir(tmpdir, FS_DIR_MODE) != 0 || chmod(tmpdir, FS_DIR_MODE) != 0)
		return berr_sys("mkdir", tmpdir);
	rc = store_lease_token_new(u->lock_token, sizeof(u->lock_token));
	if (rc == BERR_OK)
		rc = session_file(tmpdir, LAYOUT_UPLOAD_LOCK, path, sizeof(path));
	if (rc == BERR_OK)
		rc = store_lease_create(tmpdir, path, u->lock_token, BERR_BLOB_UPLOAD_UNKNOWN,
				       "upload session", &taken);
	if (rc == BERR_OK)
		rc = session_file(tmpdir, LAYOUT_UPLOAD_DATA, path, sizeof(path));
	if (rc)
		return rc;
	u->datafd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, FS_FILE_MODE);
	if (u->datafd < 0 || fchmod(u->datafd, FS_FILE_MODE) != 0)
		return berr_sys("creating", path);
	rc = state_write(u, tmpdir, 0, &u->hash, u->created);
	if (rc == BERR_OK)
		rc = fs_fsync_dir(tmpdir);
	if (rc)
		return rc;
	if (rename(tmpdir, dir) != 0)
		return berr_sys("renaming session into", dir);
	return fs_fsync_parent(dir);
}

enum berr store_upload_create(struct store *s, const char *name, struct upload *u)
{
	char tmpdir[PATH_MAX], dir[PATH_MAX];
	enum berr rc;

	upload_reset(u, s);
	rc = ref_name_check(name);
	if (rc)
		return rc;
	snprintf(u->repo, sizeof(u->repo), "%s", name);
	rc = ref_upload_id_new(u->id);
	if (rc == BERR_OK)
		rc = session_path(s, u->id, LAYOUT_UPLOAD_DIR, dir, sizeof(dir));
	if (rc == BERR_OK)
		rc = layout_tmp(s, "upload", u->id, tmpdir, sizeof(tmpdir));
	if (rc)
		return rc;
	hasher_init(&u->hash, DIGEST_SHA256);
	u->committed = u->hash;
	u->created = u->updated = time(NULL);
	rc = upload_build(u, tmpdir, dir);
	if (rc) {
		if (u->datafd >= 0)
			close(u->datafd);
		fs_remove_tree(tmpdir);
		upload_reset(u, s);
		return rc;
	}
	u->locked = 1;
	u->lock_touched = time(NULL);
	return BERR_OK;
}

/* Hash data [0, len) with `alg`, touching the lock as we go so that a long
 * read (a rehash, a sha512 finish of a huge blob) never lets it go stale. */
static enum berr upload_hash_data(struct upload *u, enum digest_alg alg, int64_t len,
				  struct hasher *h)
{
	unsigned char *buf;
	enum berr rc = BERR_OK;
	int64_t off = 0;
	ssize_t n;

	buf = malloc(REHASH_BUF);
	if (buf == NULL)
		return berr_sys("allocating", "hash buffer");
	hasher_init(h, alg);
	while (rc == BERR_OK && off < len) {
		n = pread(u->datafd, buf, (size_t)(len - off < REHASH_BUF ? len - off : REHASH_BUF),
			  (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? berr_sys("reading", "upload data") :
				berr_set(BERR_INTERNAL, "upload %s: data shrank", u->id);
			break;
		}
		hasher_update(h, buf, (size_t)n);
		off += n;
		if (time(NULL) - u->lock_touched >= refresh_every(u->store))
			rc = lock_refresh(u);
	}
	free(buf);
	return rc;
}

static int hash_matches_offset(const struct hasher *h, int64_t offset)
{
	return h->alg == DIGEST_SHA256 && hasher_length(h) == offset;
}

/* Open data, cut what a crashed writer left past the offset, load the hash. */
static enum berr upload_load(struct upload *u, const char *dir, const struct ustate *st)
{
	char path[PATH_MAX];
	struct stat sb;
	enum berr rc;

	rc = session_file(dir, LAYOUT_UPLOAD_DATA, path, sizeof(path));
	if (rc)
		return rc;
	if (hasher_load(&u->hash, st->hash) != BERR_OK || !hash_matches_offset(&u->hash, u->offset))
		u->hash.alg = DIGEST_NONE;
	u->datafd = open(path, O_RDWR | O_CLOEXEC);
	if (u->datafd < 0 && errno == ENOENT && u->hash.alg != DIGEST_NONE) {
		u->data_gone = 1; /* published by a finish that died; see finish */
		u->committed = u->hash;
		return BERR_OK;
	}
	if (u->datafd < 0 || fstat(u->datafd, &sb) != 0)
		return berr_sys("opening", path);
	if (sb.st_size < u->offset) {
		log_err("upload %s: data has %lld bytes, state says %" PRId64,
			u->id, (long long)sb.st_size, u->offset);
		upload_remove(u);
		return berr_set(BERR_BLOB_UPLOAD_UNKNOWN, "upload %s lost its data", u->id);
	}
	if (sb.st_size > u->offset && ftruncate(u->datafd, (off_t)u->offset) != 0)
		return berr_sys("truncating", path);
	if (u->hash.alg == DIGEST_NONE) {
		log_warn("upload %s: saved hash state unusable, hashing the data again", u->id);
		rc = upload_hash_data(u, DIGEST_SHA256, u->offset, &u->hash);
	}
	u->committed = u->hash;
	return rc;
}

enum berr store_upload_open(struct store *s, const char *name, const char *id,
			    struct upload *u)
{
	char dir[PATH_MAX];
	struct ustate st;
	enum berr rc;

	upload_reset(u, s);
	rc = session_path(s, id, LAYOUT_UPLOAD_DIR, dir, sizeof(dir));
	if (rc == BERR_OK)
		rc = state_read(s, id, &st);
	if (rc)
		return rc;
	if (strcmp(st.repo, name) != 0)
		return berr_set(BERR_BLOB_UPLOAD_UNKNOWN, "upload %s is unknown in repository %s",
				id, name);
	snprintf(u->id, sizeof(u->id), "%.36s", id);
	snprintf(u->repo, sizeof(u->repo), "%s", name);
	rc = lock_take(u, dir);
	if (rc == BERR_OK)
		rc = state_read(s, id, &st); /* fresh, now that it cannot change */
	if (rc == BERR_OK && expired(s, st.updated, time(NULL))) {
		upload_remove(u);
		rc = berr_set(BERR_BLOB_UPLOAD_UNKNOWN, "upload %s has expired", id);
	}
	if (rc == BERR_OK) {
		u->offset = st.offset;
		u->created = st.created;
		u->updated = st.updated;
		rc = upload_load(u, dir, &st);
	}
	if (rc)
		store_upload_close(u);
	return rc;
}

enum berr store_upload_info(struct store *s, const char *id, struct upload *u)
{
	struct ustate st;
	enum berr rc;

	upload_reset(u, s);
	rc = state_read(s, id, &st);
	if (rc)
		return rc;
	snprintf(u->id, sizeof(u->id), "%.36s", id);
	snprintf(u->repo, sizeof(u->repo), "%s", st.repo);
	u->offset = st.offset;
	u->created = st.created;
	u->updated = st.updated;
	if (hasher_load(&u->hash, st.hash) != BERR_OK)
		hasher_init(&u->hash, DIGEST_SHA256);
	u->committed = u->hash;
	return BERR_OK;
}

enum berr store_upload_peek(struct store *s, const char *name, const char *id,
			    struct upload *u)
{
	enum berr rc = store_upload_info(s, id, u);

	if (rc)
		return rc;
	if (strcmp(u->repo, name) != 0 || expired(s, u->updated, time(NULL)))
		return berr_set(BERR_BLOB_UPLOAD_UNKNOWN, "upload %s is unknown in repository %s",
				id, name);
	return BERR_OK;
}

/* ---- writing ---- */

/* The stage opens `data` by name for O_DIRECT. */
static enum berr stage_path(struct upload *u)
{
	if (u->stage.path[0])
		return BERR_OK;
	return session_path(u->store, u->id, LAYOUT_UPLOAD_DATA, u->stage.path, sizeof(u->stage.path));
}

enum berr store_upload_append(struct upload *u, const void *buf, size_t n)
{
	long idle;
	enum berr rc;

	if (!u->locked)
		return berr_set(BERR_INTERNAL, "upload %s is not open", u->id);
	if (n == 0)
		return BERR_OK;
	if (u->data_gone)
		return berr_set(BERR_BLOB_UPLOAD_INVALID,
				"upload %s is already complete: finish it with PUT", u->id);
	idle = (long)(time(NULL) - u->lock_touched);
	if (idle >= u->store->lock_stale * 3 / 4)
		return berr_set(BERR_BUSY, "upload %s: idle for %ld s, the session lock lapsed",
				u->id, idle);
	if (idle >= refresh_every(u->store)) {
		rc = lock_refresh(u);
		if (rc)
			return rc;
	}
	if ((rc = stage_path(u)))
		return rc;
	rc = stage_write(&u->stage, u->datafd, u->offset + u->pending, buf, n, &u->hash);
	if (rc) {
		/* Staged bytes are lost with the error: back to the committed
		 * offset, with no stray bytes past it. */
		if (store_upload_rollback(u) != BERR_OK)
			log_warn("upload %s: truncate after failed write failed", u->id);
		return rc;
	}
	u->pending += (int64_t)n;
	return BERR_OK;
}

/* Everything appended is on `data` (and in the hash).  A filesystem that
 * refused O_DIRECT is not asked again by this process.  On a failure the
 * session is rolled back: the hash may hold bytes the file does not. */
static enum berr flush(struct upload *u)
{
	enum berr rc = stage_flush(&u->stage);

	if (u->stage.refused) {
		log_info("%s: no direct I/O on this filesystem (%s); uploads go through "
			 "the page cache", u->store->root, strerror(u->stage.refused));
		u->stage.refused = 0;
		u->store->direct_io = 0;
	}
	if (rc && store_upload_rollback(u) != BERR_OK)
		log_warn("upload %s: truncate after failed write failed", u->id);
	return rc;
}

void *store_upload_space(struct upload *u, size_t *cap)
{
	if (!u->locked || u->data_gone || stage_path(u) != BERR_OK)
		return NULL;
	return stage_space(&u->stage, u->datafd, u->offset + u->pending, &u->hash, cap);
}

enum berr store_upload_commit(struct upload *u)
{
	char dir[PATH_MAX];
	time_t now = time(NULL);
	enum berr rc;

	if (!u->locked)
		return berr_set(BERR_INTERNAL, "upload %s is not open", u->id);
	if (u->data_gone)
		return BERR_OK;
	rc = session_path(u->store, u->id, LAYOUT_UPLOAD_DIR, dir, sizeof(dir));
	if (rc == BERR_OK)
		rc = lock_refresh(u);
	if (rc)
		return rc;
	if ((rc = flush(u)))
		return rc;
	if (fdatasync(u->datafd) != 0)
		return berr_sys("fdatasync", "upload data");
	rc = state_write(u, dir, u->offset + u->pending, &u->hash, now);
	if (rc)
		return rc;
	u->offset += u->pending;
	u->pending = 0;
	u->committed = u->hash;
	u->updated = now;
	return BERR_OK;
}

enum berr store_upload_rollback(struct upload *u)
{
	stage_drop(&u->stage);
	if (u->datafd >= 0 && ftruncate(u->datafd, (off_t)u->offset) != 0)
		return berr_sys("truncating", "upload data");
	u->hash = u->committed;
	u->pending = 0;
	return BERR_OK;
}

/* ---- finishing ---- */

static enum berr mismatch(const struct digest *got, const struct digest *want)
{
	char g[DIGEST_STR_MAX], w[DIGEST_STR_MAX];

	return berr_set(BERR_DIGEST_INVALID, "computed %s does not match %s",
			digest_format(got, g), digest_format(want, w));
}

/* The data went to blobs/ before a crash: link it if it is this session's. */
static enum berr finish_published(struct upload *u, const struct digest *want)
{
	char path[PATH_MAX], w[DIGEST_STR_MAX];
	struct digest mine, theirs;
	int64_t size = -1;
	enum berr rc;
	int fd;

	hasher_peek(&u->hash, &mine);
	if (want->alg == DIGEST_SHA256 && !digest_equal(&mine, want))
		return mismatch(&mine, want);
	rc = store_blob_path(u->store, want, path, sizeof(path));
	if (rc)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && want->alg == DIGEST_SHA256) {
		upload_remove(u);
		return berr_set(BERR_BLOB_UPLOAD_UNKNOWN, "upload %s lost its data", u->id);
	}
	if (fd < 0)
		return berr_set(BERR_DIGEST_INVALID, "upload %s was already stored; it is not %s",
				u->id, digest_format(want, w));
	rc = digest_fd(DIGEST_SHA256, fd, &theirs, &size);
	close(fd);
	if (rc)
		return rc;
	if (size != u->offset || !digest_equal(&theirs, &mine))
		return berr_set(BERR_DIGEST_INVALID, "upload %s was already stored; it is not %s",
				u->id, digest_format(want, w));
	rc = store_blob_link(u->store, u->repo, want);
	if (rc == BERR_OK)
		rc = upload_remove(u);
	return rc;
}

/* Move data to blobs/<alg>/<xx>/<hex>, or drop it if that blob exists. */
static enum berr finish_publish(struct upload *u, const struct digest *d)
{
	char data[PATH_MAX], blob[PATH_MAX];
	enum berr rc;

	rc = session_path(u->store, u->id, LAYOUT_UPLOAD_DATA, data, sizeof(data));
	if (rc == BERR_OK)
		rc = store_blob_path(u->store, d, blob, sizeof(blob));
	if (rc)
		return rc;
	/* Fresh mtime: the collector never takes a blob made after its epoch. */
	if (fchmod(u->datafd, FS_FILE_MODE) != 0 || futimens(u->datafd, NULL) != 0 ||
	    fsync(u->datafd) != 0)
		return berr_sys("syncing", data);
	rc = fs_publish(data, blob, FS_FILE_MODE, FS_CREATE, NULL);
	if (rc == BERR_OK)
		rc = fs_fsync_parent(data);
	return rc;
}

enum berr store_upload_finish(struct upload *u, const struct digest *want)
{
	struct hasher h;
	struct digest got;
	int64_t total = u->offset + u->pending;
	enum berr rc;

	if (!u->locked)
		return berr_set(BERR_INTERNAL, "upload %s is not open", u->id);
	if (want == NULL || (want->alg != DIGEST_SHA256 && want->alg != DIGEST_SHA512))
		return berr_set(BERR_DIGEST_INVALID, "unsupported digest algorithm");
	if (u->data_gone)
		return finish_published(u, want);
	if ((rc = flush(u)))
		return rc;
	if (ftruncate(u->datafd, (off_t)total) != 0)
		return berr_sys("truncating", "upload data");
	if (want->alg == DIGEST_SHA256) {
		hasher_peek(&u->hash, &got);
	} else {
		rc = upload_hash_data(u, want->alg, total, &h);
		if (rc)
			return rc;
		hasher_final(&h, &got);
	}
	if (!digest_equal(&got, want))
		return mismatch(&got, want);
	/* The state now names the whole content: a crash from here on is
	 * resumed by finish_published() or by finishing again. */
	rc = store_upload_commit(u);
	if (rc == BERR_OK)
		rc = finish_publish(u, want);
	if (rc == BERR_OK)
		rc = store_blob_link(u->store, u->repo, want);
	if (rc == BERR_OK)
		rc = upload_remove(u);
	return rc;
}

enum berr store_upload_cancel(struct upload *u)
{
	if (!u->locked)
		return berr_set(BERR_INTERNAL, "upload %s is not open", u->id);
	return upload_remove(u);
}

void store_upload_close(struct upload *u)
{
	struct berr_ctx cleanup;

	if (u == NULL)
		return;
	/* Closing is cleanup: its own context keeps the error that led here. */
	berr_enter(&cleanup);
	if (u->store) /* else never opened: `stage` was not set up either */
		stage_release(&u->stage); /* joins the helper before its fd goes */
	if (u->datafd >= 0)
		close(u->datafd);
	u->datafd = -1;
	if (u->store)
		lock_release(u);
	u->locked = 0;
	berr_leave(&cleanup);
}

/* ---- sweeping ---- */

static void sweep_session(struct store *s, const char *id, time_t now, int *n)
{
	char dir[PATH_MAX];
	struct upload u;
	struct ustate st;
	struct stat sb;
	enum berr rc;

	upload_reset(&u, s);
	if (session_path(s, id, LAYOUT_UPLOAD_DIR, dir, sizeof(dir)) != BERR_OK)
		return;
	rc = state_read(s, id, &st);
	if (rc == BERR_OK ? !expired(s, st.updated, now) :
	    (stat(dir, &sb) != 0 || !expired(s, sb.st_mtime, now)))
		return;
	snprintf(u.id, sizeof(u.id), "%.36s", id);
	if (lock_take(&u, dir) != BERR_OK)
		return; /* in use (or gone): not idle */
	rc = state_read(s, id, &st);
	if ((rc != BERR_OK || expired(s, st.updated, now)) && upload_remove(&u) == BERR_OK) {
		log_info("upload %s: expired, removed", id);
		(*n)++;
	}
	store_upload_close(&u);
}

/* Sweep uploads/ (sessions) or tmp/ (temporaries). */
static enum berr sweep_dir(struct store *s, int sessions, time_t now, int *n)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	enum berr rc;
	DIR *d;

	rc = sessions ? layout_uploads_dir(s, dir, sizeof(dir)) : layout_tmp_dir(s, dir, sizeof(dir));
	if (rc)
		return rc;
	d = opendir(dir);
	if (d == NULL)
		return berr_sys("opening", dir);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (sessions) {
			if (ref_upload_id_valid(de->d_name))
				sweep_session(s, de->d_name, now, n);
			continue;
		}
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
		    sb.st_mtime + TMP_MAX_AGE >= now ||
		    fs_path(path, sizeof(path), "%s/%s", dir, de->d_name) != BERR_OK)
			continue;
		if (fs_remove_tree(path) == BERR_OK)
			(*n)++;
	}
	closedir(d);
	return BERR_OK;
}

enum berr store_sweep(struct store *s, time_t now, int *removed)
{
	enum berr rc;
	int n = 0;

	rc = sweep_dir(s, 1, now, &n);
	if (rc == BERR_OK)
		rc = sweep_dir(s, 0, now, &n);
	if (removed)
		*removed = n;
	return rc;
}
