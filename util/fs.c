/*
 * fs.c - crash-safe filesystem helpers (see fs.h).
 *
 * The publishing recipe is libgit2's filebuf / git's object-file: write a
 * temporary file on the same filesystem, fsync it, rename() it over the final
 * name, fsync the directory that holds the name.  rename() is atomic on local
 * filesystems and on NFS/CephFS, so a reader sees the old file or the new one,
 * never a torn one; the fsyncs make the order survive a power cut.  Directories
 * created on the way are fsynced into their parents too, otherwise a fresh
 * fan-out directory (and everything renamed into it) could vanish in a crash.
 *
 * Create-only publishing is git's finalize_object_file(): link() the temp
 * file to the final name, which fails with EEXIST, atomically, on every
 * filesystem that has hard links, NFS included; "exists, then rename" would
 * let two writers both believe they won.  Without hard links (some FUSE and
 * SMB mounts) rename(RENAME_NOREPLACE) is as good where the kernel offers it;
 * the last resort is the racy check, harmless for content-addressed data
 * whose every copy holds the same bytes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/log.h"

enum berr fs_path(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen)
			out[0] = '\0';
		return berr_set(BERR_INTERNAL, "path too long (store root too deep?)");
	}
	return BERR_OK;
}

enum berr fs_random_hex(char *out, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[32];
	size_t i;
	ssize_t n;

	if (nbytes > sizeof(b))
		return berr_set(BERR_INTERNAL, "fs_random_hex: %zu bytes asked", nbytes);
	do
		n = getrandom(b, nbytes, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 || (size_t)n != nbytes)
		return berr_sys("getrandom", NULL);
	for (i = 0; i < nbytes; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * nbytes] = '\0';
	return BERR_OK;
}

/* Directory part of `path` ("." when there is none). */
static enum berr parent_of(const char *path, char *out, size_t outlen)
{
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		n--;
	while (n > 0 && path[n - 1] != '/')
		n--;
	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n == 0)
		return fs_path(out, outlen, ".");
	return fs_path(out, outlen, "%.*s", (int)n, path);
}

enum berr fs_fsync_dir(const char *dir)
{
	enum berr rc = BERR_OK;
	int fd;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berr_sys("opening directory", dir);
	/* Some filesystems cannot fsync a directory; nothing more we can do there. */
	if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
		rc = berr_sys("fsync", dir);
	close(fd);
	return rc;
}

enum berr fs_fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	enum berr rc;

	rc = parent_of(path, dir, sizeof(dir));
	if (rc)
		return rc;
	return fs_fsync_dir(dir);
}

static enum berr dir_created(const char *path)
{
	if (chmod(path, FS_DIR_MODE) != 0)
		return berr_sys("chmod", path);
	return fs_fsync_parent(path);
}

/* 0 if `path` is a directory now (made by us or already there), else -1 with
 * errno set (ENOENT: a parent is missing), or -2 when dir_created() failed
 * (its code in *rc, its detail set). */
static int mkdir_one(const char *path, enum berr *rc)
{
	struct stat st;

	if (mkdir(path, FS_DIR_MODE) == 0)
		return (*rc = dir_created(path)) == BERR_OK ? 0 : -2;
	if (errno != EEXIST)
		return -1;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	errno = ENOTDIR;
	return -1;
}

enum berr fs_mkdir_p(const char *path)
{
	char parent[PATH_MAX];
	enum berr rc;
	int r;

	r = mkdir_one(path, &rc);
	if (r == 0 || r == -2)
		return r ? rc : BERR_OK; /* -2: dir_created() said why */
	if (errno != ENOENT)
		return berr_sys("mkdir", path);
	rc = parent_of(path, parent, sizeof(parent));
	if (rc)
		return rc;
	if (strcmp(parent, path) == 0 || strcmp(parent, ".") == 0)
		return berr_sys("mkdir", path);
	rc = fs_mkdir_p(parent);
	if (rc)
		return rc;
	r = mkdir_one(path, &rc);
	if (r == -1)
		return berr_sys("mkdir", path);
	return r ? rc : BERR_OK;
}

int fs_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Create "<base>.<random>" with O_EXCL and `mode` (set again with fchmod:
 * the umask must not weaken or widen it); its name to path, its fd to *fd. */
static enum berr tmp_open(const char *base, mode_t mode, char *path, size_t pathlen, int *fd)
{
	char rnd[17];
	enum berr rc;
	int tries;

	*fd = -1;
	for (tries = 0; tries < 8; tries++) {
		rc = fs_random_hex(rnd, 8);
		if (rc == BERR_OK)
			rc = fs_path(path, pathlen, "%s.%s", base, rnd);
		if (rc)
			return rc;
		*fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		if (*fd >= 0)
			break;
		if (errno != EEXIST)
			return berr_sys("creating", path);
	}
	if (*fd < 0)
		return berr_sys("creating", path);
	if (fchmod(*fd, mode) != 0) {
		rc = berr_sys("chmod", path);
		close(*fd);
		*fd = -1;
		unlink(path);
		return rc;
	}
	return BERR_OK;
}

enum berr fs_tmp_create(const char *dir, const char *prefix, char *path, size_t pathlen,
			int *fd)
{
	char base[PATH_MAX];
	enum berr rc;

	*fd = -1;
	rc = fs_path(base, sizeof(base), "%s/%s", dir, prefix);
	return rc ? rc : tmp_open(base, FS_FILE_MODE, path, pathlen, fd);
}

enum berr fs_tmp_beside(const char *path, mode_t mode, char *tmp, size_t tmplen, int *fd)
{
	char base[PATH_MAX];
	enum berr rc;

	*fd = -1;
	rc = fs_path(base, sizeof(base), "%s.tmp", path);
	return rc ? rc : tmp_open(base, mode, tmp, tmplen, fd);
}

enum berr fs_write_all(int fd, const void *buf, size_t n, const char *what)
{
	const char *p = buf;
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return berr_sys("writing", what);
		p += w;
		n -= (size_t)w;
	}
	return BERR_OK;
}

enum berr fs_pwrite_all(int fd, const void *buf, size_t n, off_t off, const char *what)
{
	const char *p = buf;
	ssize_t w;

	while (n > 0) {
		w = pwrite(fd, p, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return berr_sys("writing", what);
		p += w;
		off += w;
		n -= (size_t)w;
	}
	return BERR_OK;
}

/* Create-only rename for filesystems without hard links: 0, or -1 with
 * errno; *existed = 1 (and tmp removed) when `path` was there. */
static int rename_noreplace(const char *tmp, const char *path, int *existed)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EEXIST && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return -1;
	if (errno == EEXIST || fs_exists(path)) {
		*existed = 1;
		return unlink(tmp) == 0 || errno == ENOENT ? 0 : -1;
	}
	return rename(tmp, path);
}

/* One attempt at making tmp visible as path: 0, or -1 with errno (ENOENT: a
 * parent directory may be missing).  A link leaves tmp for the caller. */
static int publish_once(const char *tmp, const char *path, unsigned flags, int *existed)
{
	if (!(flags & FS_CREATE))
		return rename(tmp, path);
	if (link(tmp, path) == 0)
		return 0;
	if (errno == EEXIST) {
		*existed = 1;
		return 0;
	}
	if (errno == EPERM || errno == EOPNOTSUPP)
		return rename_noreplace(tmp, path, existed);
	return -1;
}

/* Final owner (FS_KEEP_OWNER) and mode of tmp, before anyone can see it. */
static enum berr publish_attrs(const char *tmp, const char *path, mode_t mode, unsigned flags)
{
	struct stat st;

	if ((flags & FS_KEEP_OWNER) && !(flags & FS_CREATE) && stat(path, &st) == 0 &&
	    chown(tmp, st.st_uid, st.st_gid) != 0 && errno != EPERM)
		return berr_sys("chown", tmp);
	if (chmod(tmp, mode) != 0)
		return berr_sys("chmod", tmp);
	return BERR_OK;
}

enum berr fs_publish(const char *tmp, const char *path, mode_t mode, unsigned flags,
		     int *existed)
{
	char dir[PATH_MAX];
	enum berr rc;
	int found = 0;

	if (existed)
		*existed = 0;
	rc = publish_attrs(tmp, path, mode, flags);
	if (rc)
		return rc;
	if (publish_once(tmp, path, flags, &found) != 0) {
		if (errno != ENOENT)
			return berr_sys(flags & FS_CREATE ? "linking into" : "renaming into", path);
		rc = parent_of(path, dir, sizeof(dir));
		if (rc == BERR_OK)
			rc = fs_mkdir_p(dir);
		if (rc)
			return rc;
		if (publish_once(tmp, path, flags, &found) != 0)
			return berr_sys(flags & FS_CREATE ? "linking into" : "renaming into", path);
	}
	/* The name is published (ours or an equal one): tmp has done its job. */
	if ((flags & FS_CREATE) && unlink(tmp) != 0 && errno != ENOENT)
		log_warn("published %s, but could not remove %s: %s (left for the sweeper)",
			 path, tmp, strerror(errno));
	if (existed)
		*existed = found;
	return fs_fsync_parent(path);
}

enum berr fs_write_file(const char *tmpdir, const char *path, const void *buf, size_t len,
			mode_t mode, unsigned flags, int *existed)
{
	char tmp[PATH_MAX];
	enum berr rc;
	int fd = -1;

	if (existed)
		*existed = 0;
	if (tmpdir)
		rc = fs_tmp_create(tmpdir, "w", tmp, sizeof(tmp), &fd);
	else
		rc = fs_tmp_beside(path, mode, tmp, sizeof(tmp), &fd);
	if (rc)
		return rc;
	if (tmpdir && fchmod(fd, mode) != 0) /* before a byte is written */
		rc = berr_sys("chmod", tmp);
	if (rc == BERR_OK)
		rc = fs_write_all(fd, buf, len, tmp);
	if (rc == BERR_OK && fsync(fd) != 0)
		rc = berr_sys("fsync", tmp);
	if (close(fd) != 0 && rc == BERR_OK)
		rc = berr_sys("closing", tmp);
	if (rc == BERR_OK)
		rc = fs_publish(tmp, path, mode, flags, existed);
	if (rc)
		unlink(tmp);
	return rc;
}

enum berr fs_write_atomic(const char *tmpdir, const char *path, const void *buf, size_t len)
{
	return fs_write_file(tmpdir, path, buf, len, FS_FILE_MODE, FS_REPLACE, NULL);
}

enum berr fs_write_new(const char *tmpdir, const char *path, const void *buf, size_t len)
{
	return fs_write_file(tmpdir, path, buf, len, FS_FILE_MODE, FS_CREATE, NULL);
}

static int is_absent(int e)
{
	return e == ENOENT || e == ENOTDIR;
}

/* Read from fd into p until EOF or `max` bytes; *have gets the count. */
static enum berr read_upto(int fd, char *p, size_t max, const char *path, size_t *have)
{
	ssize_t n;

	*have = 0;
	while (*have < max) {
		n = read(fd, p + *have, max - *have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berr_sys("reading", path);
		if (n == 0)
			break;
		*have += (size_t)n;
	}
	return BERR_OK;
}

enum berr fs_read_small(const char *path, size_t max, char **buf, size_t *len,
			enum berr absent)
{
	struct stat st;
	enum berr rc = BERR_OK;
	char *p = NULL;
	size_t have = 0;
	int fd;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return is_absent(errno) ? absent : berr_sys("opening", path);
	if (fstat(fd, &st) != 0) {
		rc = berr_sys("stat", path);
		goto out;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > max) {
		rc = berr_set(BERR_TOO_LARGE, "%lld bytes is more than the limit of %zu",
			      (long long)st.st_size, max);
		goto out;
	}
	p = malloc((size_t)st.st_size + 1);
	if (p == NULL) {
		rc = berr_sys("allocating for", path);
		goto out;
	}
	if ((rc = read_upto(fd, p, (size_t)st.st_size, path, &have)))
		goto out;
	p[have] = '\0';
	*buf = p;
	*len = have;
	p = NULL;
out:
	free(p);
	close(fd);
	return rc;
}

enum berr fs_read_str(const char *path, char *buf, size_t size, time_t *mtime,
		      enum berr absent)
{
	struct stat st;
	enum berr rc = BERR_OK;
	size_t have = 0;
	int fd;

	buf[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return is_absent(errno) ? absent : berr_sys("opening", path);
	if (mtime && fstat(fd, &st) != 0) {
		rc = berr_sys("stat", path);
		goto out;
	}
	if (mtime)
		*mtime = st.st_mtime;
	if ((rc = read_upto(fd, buf, size, path, &have)))
		goto out;
	if (have == size) {
		buf[size - 1] = '\0';
		rc = berr_set(BERR_INTERNAL, "%s: longer than %zu bytes", path, size - 1);
		goto out;
	}
	buf[have] = '\0';
out:
	if (rc)
		buf[0] = '\0';
	close(fd);
	return rc;
}

/* Remove `name` (relative to dirfd) and, if it is a directory, all below it.
 * `shown` names it in error messages. */
static enum berr remove_at(int dirfd, const char *name, const char *shown)
{
	char sub[PATH_MAX];
	struct dirent *de;
	enum berr rc = BERR_OK;
	DIR *dir;
	int fd, pass;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return BERR_OK;
	if (errno != EISDIR && errno != EPERM)
		return berr_sys("removing", shown);
	for (pass = 0; pass < 3; pass++) {
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return errno == ENOENT ? BERR_OK : berr_sys("opening", shown);
		dir = fdopendir(fd);
		if (dir == NULL) {
			rc = berr_sys("opening", shown);
			close(fd);
			return rc;
		}
		while (rc == BERR_OK && (de = readdir(dir)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (snprintf(sub, sizeof(sub), "%s/%s", shown, de->d_name) >= (int)sizeof(sub))
				snprintf(sub, sizeof(sub), "%s", de->d_name);
			rc = remove_at(fd, de->d_name, sub);
		}
		closedir(dir);
		if (rc)
			return rc;
		/* NFS readdir may skip entries removed under it: try another pass. */
		if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
			return BERR_OK;
		if (errno != ENOTEMPTY && errno != EEXIST)
			break;
	}
	return berr_sys("removing directory", shown);
}

enum berr fs_remove_tree(const char *path)
{
	return remove_at(AT_FDCWD, path, path);
}
