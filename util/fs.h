/*
 * fs.h - filesystem helpers: crash-safe publishing.
 *
 * Everything berth makes visible (store objects, session state, the users
 * and tokens files, the signing key) goes through fs_publish(), so the rules
 * live in one place: a new file is written under a temporary name on the
 * same filesystem, fsynced, given its final mode, renamed (replace) or linked
 * (create-only) into place, and its parent directory is fsynced; a directory
 * created on the way is fsynced into its own parent.  Modes are set
 * explicitly (files FS_FILE_MODE or FS_SECRET_MODE, directories FS_DIR_MODE)
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

/* Modes of published files: store data is read by nginx as another user;
 * secrets (signing keys, user and token files) by their owner alone. */
#define FS_SECRET_MODE 0600

/* How fs_publish() makes a file visible (flags, or'ed). */
enum fs_publish_how {
	/* rename(): the new file replaces whatever had the name. */
	FS_REPLACE = 0,
	/* link(): create-only.  An existing file wins and the temp file is
	 * dropped: for content-addressed data "another writer won with the same
	 * bytes", for a key "another process made it first" (see `existed`). */
	FS_CREATE = 1,
	/* With FS_REPLACE: give the new file the owner and group of the file it
	 * replaces (berthctl runs as root, the pool reads as its own user);
	 * refused by the system (EPERM) it is silently skipped. */
	FS_KEEP_OWNER = 2,
};

/* THE durable publish: make `tmp` (a file on the same filesystem as `path`,
 * already written and fsynced) visible as `path` with mode `mode`.  Missing
 * parent directories of `path` are created (and fsynced into theirs); after
 * the rename or link the parent of `path` is fsynced, so the name survives a
 * crash.  On success `tmp` is gone; *existed (may be NULL) is 1 when
 * FS_CREATE found `path` already there, else 0.  On failure `tmp` stays (the
 * caller removes it, or keeps it to try again).  Where the filesystem has no
 * hard links (EPERM, EOPNOTSUPP) FS_CREATE falls back to a create-only rename
 * (RENAME_NOREPLACE), and where that is missing too, to "rename unless the
 * name exists". */
enum berr fs_publish(const char *tmp, const char *path, mode_t mode, unsigned flags,
		     int *existed);

/* Create a new file "<path>.tmp.<random>" beside `path` (whose directory must
 * exist), O_EXCL, with `mode` from the start (a secret is never readable by
 * others, not even while it is written); its name goes to tmp, its
 * descriptor (O_RDWR) to *fd. */
enum berr fs_tmp_beside(const char *path, mode_t mode, char *tmp, size_t tmplen, int *fd);

/* Write `len` bytes to a new temp file (in `tmpdir`, or beside `path` when
 * tmpdir is NULL: see fs_tmp_beside), fsync it, fs_publish() it as `path` with `mode` and
 * `flags`.  The temp file never outlives a failure. */
enum berr fs_write_file(const char *tmpdir, const char *path, const void *buf, size_t len,
			mode_t mode, unsigned flags, int *existed);
/* Store data (FS_FILE_MODE), replacing: readers see the old content or the
 * new one, whole, never a mix. */
enum berr fs_write_atomic(const char *tmpdir, const char *path, const void *buf, size_t len);
/* Content-addressed store data: an existing `path` (same bytes) wins. */
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
