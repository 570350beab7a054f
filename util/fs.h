/*
 * fs.h - filesystem helpers for the store: crash-safe publishing.
 *
 * Everything the store makes visible goes through here, so the rules live in
 * one place: a new file is written under a temporary name on the same
 * filesystem, fsynced, renamed into place, and its parent directory is
 * fsynced; a directory created on the way is fsynced into its own parent.
 * Modes are set explicitly (files FS_FILE_MODE, directories FS_DIR_MODE)
 * because nginx reads blobs as another user and the umask is not ours to
 * trust.  No function here takes a lock: several hosts may share the store.
 *
 * All functions return BERR_OK or an error code; system errors go through
 * berr_sys() ("<what> <path>: <strerror>", logged).  Functions given an
 * `absent` code return it, without logging or setting a detail, when the
 * path does not exist (ENOENT / ENOTDIR), so callers can say what is missing.
 */
#ifndef BERTH_FS_H
#define BERTH_FS_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>
#include "util/err.h"

#define FS_FILE_MODE 0644
#define FS_DIR_MODE 0755

/* snprintf into out; BERR_INTERNAL (detail "path too long") on truncation. */
enum berr fs_path(char *out, size_t outlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Fill out (2 * nbytes + 1 bytes) with random lowercase hex. */
enum berr fs_random_hex(char *out, size_t nbytes);

/* mkdir -p with FS_DIR_MODE; an existing directory is fine. */
enum berr fs_mkdir_p(const char *path);
enum berr fs_fsync_dir(const char *dir);
/* fsync the directory holding `path`. */
enum berr fs_fsync_parent(const char *path);

/* 1 if `path` exists (lstat), 0 if not or on error. */
int fs_exists(const char *path);

/* Create a new, empty file "<dir>/<prefix>.<random>" with O_EXCL and
 * FS_FILE_MODE; its name goes to `path`, its descriptor (O_RDWR) to *fd. */
enum berr fs_tmp_create(const char *dir, const char *prefix, char *path, size_t pathlen,
			int *fd);
enum berr fs_write_all(int fd, const void *buf, size_t n, const char *what);
enum berr fs_pwrite_all(int fd, const void *buf, size_t n, off_t off, const char *what);

/* Rename `tmp` (already fsynced) to `path`, creating path's parent directories
 * if needed, then fsync path's parent.  With keep_existing, an existing `path`
 * wins and `tmp` is removed instead (content-addressed data: same bytes). */
enum berr fs_publish(const char *tmp, const char *path, int keep_existing);

/* Write `len` bytes to `path` atomically: temp file in `tmpdir` (same
 * filesystem), write, fsync, rename, fsync parent.  Readers see the old
 * content or the new one, whole, never a mix. */
enum berr fs_write_atomic(const char *tmpdir, const char *path, const void *buf, size_t len);
/* The same for content-addressed data: an existing `path` (same bytes) wins. */
enum berr fs_write_new(const char *tmpdir, const char *path, const void *buf, size_t len);

/* Read a whole file of at most `max` bytes into a malloc'd buffer (NUL
 * terminated, *len excludes the NUL).  Larger: BERR_TOO_LARGE. */
enum berr fs_read_small(const char *path, size_t max, char **buf, size_t *len,
			enum berr absent);
/* Read a small text file into buf[size], NUL terminated; a file that does not
 * fit is BERR_INTERNAL.  Stores its mtime in *mtime when not NULL. */
enum berr fs_read_str(const char *path, char *buf, size_t size, time_t *mtime,
		      enum berr absent);

/* rm -rf without following symlinks; a missing path is fine. */
enum berr fs_remove_tree(const char *path);

#endif
