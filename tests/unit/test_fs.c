/*
 * test_fs.c - the one durable publish primitive (util/fs.c) and the writers
 * built on it.  What a caller relies on: a replace puts the new bytes under
 * the name, a create-only publish keeps whatever was there first and says so,
 * the final mode is the one asked for whatever the umask, a missing parent
 * directory is made, the temp file is gone after success and stays after a
 * failure, and a temp file beside a secret is never readable by others.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"
#include "tests/unit/unit.h"

static char root[256];

/* A fsynced temp file in root/tmp holding `s`; its name to out. */
static void tmp_with(const char *s, char *out, size_t outlen)
{
	char dir[PATH_MAX];
	int fd = -1;

	snprintf(dir, sizeof(dir), "%s/tmp", root);
	CHECK_INT(fs_tmp_create(dir, "t", out, outlen, &fd), BERR_OK);
	if (fd < 0)
		return;
	CHECK_INT(fs_write_all(fd, s, strlen(s), out), BERR_OK);
	CHECK_INT(fsync(fd), 0);
	close(fd);
}

/* The content of `path` ("" when unreadable) into buf. */
static const char *content(const char *path, char *buf, size_t size)
{
	if (fs_read_str(path, buf, size, NULL, BERR_BLOB_UNKNOWN) != BERR_OK)
		buf[0] = '\0';
	return buf;
}

static int mode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static void replace(void)
{
	char tmp[PATH_MAX], path[PATH_MAX], buf[64];
	int existed = -1;

	snprintf(path, sizeof(path), "%s/a/b/replaced", root); /* a/b missing */
	tmp_with("one", tmp, sizeof(tmp));
	CHECK_INT(fs_publish(tmp, path, FS_FILE_MODE, FS_REPLACE, &existed), BERR_OK);
	CHECK_STR(content(path, buf, sizeof(buf)), "one");
	CHECK_INT(existed, 0);
	CHECK(!fs_exists(tmp));
	CHECK_INT(mode_of(path), FS_FILE_MODE);

	tmp_with("two", tmp, sizeof(tmp));
	CHECK_INT(fs_publish(tmp, path, FS_SECRET_MODE, FS_REPLACE, &existed), BERR_OK);
	CHECK_STR(content(path, buf, sizeof(buf)), "two");
	CHECK_INT(existed, 0);
	CHECK_INT(mode_of(path), FS_SECRET_MODE);
	CHECK(!fs_exists(tmp));
}

static void create_only(void)
{
	char tmp[PATH_MAX], path[PATH_MAX], buf[64];
	int existed = -1;

	snprintf(path, sizeof(path), "%s/c/d/created", root);
	tmp_with("first", tmp, sizeof(tmp));
	CHECK_INT(fs_publish(tmp, path, FS_FILE_MODE, FS_CREATE, &existed), BERR_OK);
	CHECK_INT(existed, 0);
	CHECK_STR(content(path, buf, sizeof(buf)), "first");
	CHECK(!fs_exists(tmp));

	/* Another writer comes second: EEXIST is success, the first stays. */
	tmp_with("second", tmp, sizeof(tmp));
	CHECK_INT(fs_publish(tmp, path, FS_FILE_MODE, FS_CREATE, &existed), BERR_OK);
	CHECK_INT(existed, 1);
	CHECK_STR(content(path, buf, sizeof(buf)), "first");
	CHECK(!fs_exists(tmp));

	/* NULL: the caller does not ask */
	tmp_with("third", tmp, sizeof(tmp));
	CHECK_INT(fs_publish(tmp, path, FS_FILE_MODE, FS_CREATE, NULL), BERR_OK);
	CHECK_STR(content(path, buf, sizeof(buf)), "first");
}

static void failure_keeps_tmp(void)
{
	char tmp[PATH_MAX], path[PATH_MAX], block[PATH_MAX];

	/* The parent "directory" is a file: nothing can be made there. */
	snprintf(block, sizeof(block), "%s/blocker", root);
	CHECK_INT(fs_write_atomic(root, block, "x", 1), BERR_OK);
	snprintf(path, sizeof(path), "%s/blocker/name", root);
	tmp_with("kept", tmp, sizeof(tmp));
	CHECK_INT(fs_publish(tmp, path, FS_FILE_MODE, FS_REPLACE, NULL), BERR_INTERNAL);
	CHECK(fs_exists(tmp));
	CHECK_INT(fs_publish(tmp, path, FS_FILE_MODE, FS_CREATE, NULL), BERR_INTERNAL);
	CHECK(fs_exists(tmp));
	unlink(tmp);
}

static void writers(void)
{
	char path[PATH_MAX], dir[PATH_MAX], buf[64];
	int existed = -1;
	mode_t old = umask(0);

	snprintf(dir, sizeof(dir), "%s/tmp", root);
	snprintf(path, sizeof(path), "%s/new/blob", root);
	CHECK_INT(fs_write_new(dir, path, "same", 4), BERR_OK);
	CHECK_INT(fs_write_new(dir, path, "diff", 4), BERR_OK);
	CHECK_STR(content(path, buf, sizeof(buf)), "same");
	CHECK_INT(mode_of(path), FS_FILE_MODE); /* umask 0 widened nothing */

	snprintf(path, sizeof(path), "%s/state", root);
	CHECK_INT(fs_write_atomic(dir, path, "v1", 2), BERR_OK);
	CHECK_INT(fs_write_atomic(dir, path, "v2", 2), BERR_OK);
	CHECK_STR(content(path, buf, sizeof(buf)), "v2");

	/* A secret beside its name (tmpdir NULL), create-only like a new key. */
	snprintf(dir, sizeof(dir), "%s/keys", root);
	CHECK_INT(fs_mkdir_p(dir), BERR_OK);
	snprintf(path, sizeof(path), "%s/keys/signing.pem", root);
	CHECK_INT(fs_write_file(NULL, path, "k1", 2, FS_SECRET_MODE, FS_CREATE, &existed),
		  BERR_OK);
	CHECK_INT(existed, 0);
	CHECK_INT(mode_of(path), FS_SECRET_MODE);
	CHECK_INT(fs_write_file(NULL, path, "k2", 2, FS_SECRET_MODE, FS_CREATE, &existed),
		  BERR_OK);
	CHECK_INT(existed, 1);
	CHECK_STR(content(path, buf, sizeof(buf)), "k1");
	/* replaced like the users file, keeping the owner (ours: a no-op) */
	CHECK_INT(fs_write_file(NULL, path, "k3", 2, FS_SECRET_MODE,
				FS_REPLACE | FS_KEEP_OWNER, NULL), BERR_OK);
	CHECK_STR(content(path, buf, sizeof(buf)), "k3");
	CHECK_INT(mode_of(path), FS_SECRET_MODE);
	umask(old);
}

/* The temp file beside a secret has the secret's mode from its creation. */
static void beside(void)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int fd = -1;
	mode_t old = umask(0);

	snprintf(path, sizeof(path), "%s/users", root);
	CHECK_INT(fs_tmp_beside(path, FS_SECRET_MODE, tmp, sizeof(tmp), &fd), BERR_OK);
	CHECK(strncmp(tmp, path, strlen(path)) == 0 && strstr(tmp, ".tmp.") != NULL);
	CHECK_INT(mode_of(tmp), FS_SECRET_MODE);
	CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
	if (fd >= 0)
		close(fd);
	CHECK_INT(fs_publish(tmp, path, FS_SECRET_MODE, FS_REPLACE, NULL), BERR_OK);
	CHECK(fs_exists(path) && !fs_exists(tmp));
	umask(old);
}

int main(void)
{
	char dir[PATH_MAX];

	snprintf(root, sizeof(root), "%s/berth-test-fs.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/tmp", root);
	CHECK_INT(fs_mkdir_p(dir), BERR_OK);
	replace();
	create_only();
	failure_keeps_tmp();
	writers();
	beside();
	CHECK_INT(fs_remove_tree(root), BERR_OK);
	return unit_done();
}
