/*
 * health.c - the store's half of /readyz (see health.h): room on the
 * filesystem, then one small file through tmp/.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "store/health.h"
#include "store/layout.h"
#include "store/store.h"
#include "util/fs.h"

uint64_t store_probe_floor(uint64_t total)
{
	uint64_t part = total / 100 * STORE_PROBE_FREE_PERCENT;

	return part < STORE_PROBE_FREE_BYTES ? part : STORE_PROBE_FREE_BYTES;
}

/* "12 KiB", "16.0 MiB": sizes as an operator reads them. */
static const char *size_str(uint64_t n, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
		v /= 1024;
		u++;
	}
	if (u < 2)
		snprintf(buf, len, "%.0f %s", v, unit[u]);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	return buf;
}

static enum berr probe_space(const char *dir)
{
	char a[32], t[32], f[32];
	struct statvfs vs;
	uint64_t avail, total;

	if (statvfs(dir, &vs) != 0)
		return berr_set(BERR_INTERNAL, "not writable (tmp/: %s)", strerror(errno));
	avail = (uint64_t)vs.f_bavail * vs.f_frsize;
	total = (uint64_t)vs.f_blocks * vs.f_frsize;
	if (avail < store_probe_floor(total) || (total > 0 && avail == 0))
		return berr_set(BERR_STORAGE_FULL, "full (%s free of %s, at least %s needed)",
				size_str(avail, a, sizeof(a)), size_str(total, t, sizeof(t)),
				size_str(store_probe_floor(total), f, sizeof(f)));
	/* f_files is 0 where the filesystem has no inode limit (btrfs, NFS) */
	if (vs.f_files > 0 && vs.f_favail == 0)
		return berr_set(BERR_STORAGE_FULL, "full (no inode left)");
	return BERR_OK;
}

/* Create, write and remove tmp/readyz.<random>. */
static enum berr probe_write(struct store *s)
{
	char path[PATH_MAX], rnd[17];
	const char *name;
	enum berr rc;
	int fd, e;
	ssize_t n;

	if ((rc = fs_random_hex(rnd, 8)) || (rc = layout_tmp(s, "readyz", rnd, path, sizeof(path))))
		return rc;
	name = strrchr(path, '/') + 1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, FS_FILE_MODE);
	if (fd < 0) {
		e = errno;
		goto fail;
	}
	n = write(fd, "readyz\n", 7);
	e = n == 7 ? 0 : n < 0 ? errno : ENOSPC;
	if (close(fd) != 0 && e == 0)
		e = errno;
	if (unlink(path) != 0 && e == 0)
		e = errno;
	if (e == 0)
		return BERR_OK;
fail:
	if (e == ENOSPC || e == EDQUOT)
		return berr_set(BERR_STORAGE_FULL, "full (tmp/%s: %s)", name, strerror(e));
	return berr_set(BERR_INTERNAL, "not writable (tmp/%s: %s)", name, strerror(e));
}

enum berr store_probe_writable(struct store *s)
{
	char dir[PATH_MAX];
	enum berr rc;

	if ((rc = layout_tmp_dir(s, dir, sizeof(dir))) || (rc = probe_space(dir)))
		return rc;
	return probe_write(s);
}
