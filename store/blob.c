/*
 * blob.c - the content-addressed blob store and opening the store.
 *
 * A blob lives at root/blobs/<alg>/<first 2 hex>/<hex> (drawn in store.h,
 * spelled by store/layout.c).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/fs.h"
#include "store/layout.h"
#include "store/store.h"

enum berr store_blob_path(struct store *s, const struct digest *d, char *out, size_t outlen)
{
	return layout_blob(s, d, out, outlen);
}

void store_blob_relpath(const struct digest *d, char *out, size_t outlen)
{
	layout_blob_rel(d, out, outlen);
}

enum berr store_open(struct store *s, const char *root)
{
	enum berr rc;

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
	rc = layout_create(s->root);
	if (rc)
		store_close(s);
	return rc;
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
		rc = layout_tmp_dir(s, tmpdir, sizeof(tmpdir));
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

/* ---- quarantine (fsck --repair) ---- */

/* Move `from` to quarantine/<base>.<random>: rename, then fsync both
 * directories, so that after a crash the file is in one place or the other
 * and never in both or neither. */
static enum berr quarantine(struct store *s, const char *from, const char *base, char *to,
			    size_t tolen)
{
	char dir[PATH_MAX], rnd[9];
	enum berr rc;

	rc = layout_quarantine_dir(s, dir, sizeof(dir));
	if (rc == BERR_OK)
		rc = fs_mkdir_p(dir);
	if (rc == BERR_OK)
		rc = fs_random_hex(rnd, 4);
	if (rc == BERR_OK)
		rc = layout_quarantine(s, base, rnd, to, tolen);
	if (rc)
		return rc;
	if (rename(from, to) != 0)
		return berr_sys("moving to quarantine", from);
	rc = fs_fsync_parent(to);
	if (rc == BERR_OK)
		rc = fs_fsync_parent(from);
	return rc;
}

enum berr store_blob_quarantine(struct store *s, const struct digest *d, char *to, size_t tolen)
{
	char path[PATH_MAX], base[DIGEST_STR_MAX + 8];
	enum berr rc;

	rc = store_blob_path(s, d, path, sizeof(path));
	if (rc == BERR_OK)
		rc = layout_entry_name(d, base, sizeof(base));
	if (rc)
		return rc;
	return quarantine(s, path, base, to, tolen);
}

enum berr store_stray_quarantine(struct store *s, const char *path, char *to, size_t tolen)
{
	const char *base = strrchr(path, '/');
	struct stat sb;

	if (!layout_in_blobs(s, path) || base == NULL || lstat(path, &sb) != 0 ||
	    !S_ISREG(sb.st_mode))
		return berr_set(BERR_INTERNAL, "%s is not a file of the blob area", path);
	return quarantine(s, path, base + 1, to, tolen);
}
