/*
 * blob.c - the content-addressed blob store and opening the store.
 *
 * A blob lives at root/blobs/<alg>/<first 2 hex>/<hex> (layout: store.h).
 * Its name is its digest, so a blob that is there is always right: it was
 * written to root/tmp, fsynced and renamed into place only after its digest
 * was known.  Publishing a blob that already exists is therefore a success
 * that discards the new copy; two writers racing on the same digest both
 * succeed, whichever rename lands last replaces identical bytes atomically.
 *
 * Blob files are 0644 and directories 0755 whatever the umask: nginx serves
 * the bytes itself (X-Accel-Redirect) and may run as another user.
 *
 * store_touch() / store_blob_touch() are the writers' half of the online
 * collector's protocol (store/gc.c): whoever makes a blob reachable sets its
 * mtime to now before publishing the reference and again after, and the
 * second touch doubles as the check that the collector did not take it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/fs.h"
#include "store/store.h"

/* Paths are only ever built from a digest whose characters we checked here. */
static int digest_sane(const struct digest *d)
{
	size_t i, n;

	if (d == NULL || (d->alg != DIGEST_SHA256 && d->alg != DIGEST_SHA512))
		return 0;
	n = digest_hex_len(d->alg);
	if (strnlen(d->hex, sizeof(d->hex)) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (!((d->hex[i] >= '0' && d->hex[i] <= '9') || (d->hex[i] >= 'a' && d->hex[i] <= 'f')))
			return 0;
	return 1;
}

enum berr store_blob_path(struct store *s, const struct digest *d, char *out, size_t outlen)
{
	if (!digest_sane(d)) {
		if (outlen)
			out[0] = '\0';
		return berr_set(BERR_DIGEST_INVALID, "malformed digest");
	}
	return fs_path(out, outlen, "%s/blobs/%s/%.2s/%s", s->root,
		       digest_alg_name(d->alg), d->hex, d->hex);
}

void store_blob_relpath(const struct digest *d, char *out, size_t outlen)
{
	if (!digest_sane(d) ||
	    fs_path(out, outlen, "%s/%.2s/%s", digest_alg_name(d->alg), d->hex, d->hex) != BERR_OK) {
		if (outlen)
			out[0] = '\0';
	}
}

enum berr store_open(struct store *s, const char *root)
{
	static const char *const dirs[] = {
		"blobs", "blobs/sha256", "blobs/sha512", "repos", "uploads", "tmp",
	};
	char path[PATH_MAX];
	enum berr rc;
	size_t i;

	memset(s, 0, sizeof(*s));
	s->upload_ttl = 86400;
	s->lock_stale = 120;
	s->direct_io = 1;
	rc = fs_mkdir_p(root);
	if (rc)
		return rc;
	s->root = realpath(root, NULL);
	if (s->root == NULL)
		return berr_sys("resolving store directory", root);
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		rc = fs_path(path, sizeof(path), "%s/%s", s->root, dirs[i]);
		if (rc == BERR_OK)
			rc = fs_mkdir_p(path);
		if (rc) {
			store_close(s);
			return rc;
		}
	}
	return BERR_OK;
}

void store_close(struct store *s)
{
	if (s == NULL)
		return;
	free(s->root);
	s->root = NULL;
}

enum berr store_blob_stat(struct store *s, const struct digest *d, int64_t *size)
{
	char path[PATH_MAX], dstr[DIGEST_STR_MAX];
	struct stat st;
	enum berr rc;

	rc = store_blob_path(s, d, path, sizeof(path));
	if (rc)
		return rc;
	if (stat(path, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return berr_set(BERR_BLOB_UNKNOWN, "blob %s is unknown",
					digest_format(d, dstr));
		return berr_sys("stat", path);
	}
	if (!S_ISREG(st.st_mode))
		return berr_set(BERR_INTERNAL, "%s is not a regular file", path);
	if (size)
		*size = (int64_t)st.st_size;
	return BERR_OK;
}

enum berr store_blob_put_known(struct store *s, const struct digest *d,
			       const void *buf, size_t len)
{
	char path[PATH_MAX], tmpdir[PATH_MAX];
	enum berr rc;

	rc = store_blob_path(s, d, path, sizeof(path));
	if (rc == BERR_OK)
		rc = fs_path(tmpdir, sizeof(tmpdir), "%s/tmp", s->root);
	if (rc)
		return rc;
	if (fs_exists(path))
		return BERR_OK;
	return fs_write_new(tmpdir, path, buf, len);
}

enum berr store_blob_put_buf(struct store *s, enum digest_alg alg,
			     const void *buf, size_t len, struct digest *out)
{
	struct digest d;
	enum berr rc;

	if (alg != DIGEST_SHA256 && alg != DIGEST_SHA512)
		return berr_set(BERR_DIGEST_INVALID, "unsupported digest algorithm");
	digest_buf(alg, buf, len, &d);
	rc = store_blob_put_known(s, &d, buf, len);
	if (rc == BERR_OK && out)
		*out = d;
	return rc;
}

enum berr store_blob_read(struct store *s, const struct digest *d, size_t max,
			  char **buf, size_t *len)
{
	char path[PATH_MAX], dstr[DIGEST_STR_MAX];
	enum berr rc;

	*buf = NULL;
	*len = 0;
	rc = store_blob_path(s, d, path, sizeof(path));
	if (rc)
		return rc;
	rc = fs_read_small(path, max, buf, len, BERR_BLOB_UNKNOWN);
	if (rc == BERR_BLOB_UNKNOWN)
		berr_set(rc, "blob %s is unknown", digest_format(d, dstr));
	return rc;
}

/* A collector that moved a touched blob to its trash puts it back within a
 * few system calls; riding that out spares the writer a needless failure. */
#define TOUCH_TRIES 3
#define TOUCH_WAIT_NS (5 * 1000 * 1000)

enum berr store_touch(const char *path, enum berr absent)
{
	struct timespec wait = { 0, TOUCH_WAIT_NS };
	int i;

	for (i = 0; i < TOUCH_TRIES; i++) {
		/* NULL times: the file server's clock, the one the collector's
		 * epoch comes from, whatever this host's clock says. */
		if (utimensat(AT_FDCWD, path, NULL, 0) == 0)
			return BERR_OK;
		if (errno != ENOENT && errno != ENOTDIR)
			return berr_sys("touching", path);
		if (i + 1 < TOUCH_TRIES)
			nanosleep(&wait, NULL);
	}
	return absent;
}

enum berr store_blob_touch(struct store *s, const struct digest *d)
{
	char path[PATH_MAX], dstr[DIGEST_STR_MAX];
	enum berr rc;

	rc = store_blob_path(s, d, path, sizeof(path));
	if (rc)
		return rc;
	rc = store_touch(path, BERR_BLOB_UNKNOWN);
	if (rc == BERR_BLOB_UNKNOWN)
		berr_set(rc, "blob %s is unknown", digest_format(d, dstr));
	return rc;
}
