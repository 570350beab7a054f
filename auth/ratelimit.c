/*
 * ratelimit.c - failed-login counters as directories of empty files.
 *
 *   <state_dir>/logins/
 *     u-<sha256("user\0" + lowercased name)>/      one directory per key
 *       1767225600.9f3c01a2b4c5d6e7               one empty file per failure,
 *       1767225631.0b1c2d3e4f506172               named <unix time>.<random>
 *     a-<sha256("addr\0" + address)>/
 *
 * Why this shape: workers of one pool and pools on other hosts may share
 * state_dir (NFS included), and no lock may be taken.  Creating a file with
 * a unique name (O_CREAT|O_EXCL) is atomic on every filesystem, NFS too, so
 * concurrent failures never overwrite each other the way a read-modify-write
 * counter would: the count is exact.  An append-only file would need
 * O_APPEND, which NFS does not make atomic across hosts.
 *
 * Accuracy: counting is exact, but check-then-fail is not atomic: N logins
 * in flight at once may all pass the check before any of them records its
 * failure, so an attacker gets at most limit + (concurrent requests) tries
 * per window.  Times come from each host's clock; skew between hosts shifts
 * the window by the skew.  User names are lowercased for the key because
 * directories usually match them case-insensitively ("Alice" and "alice" are
 * the same account and share one counter).
 *
 * Cost: a check reads one or two directories of at most ~limit entries.
 * Expired entries are removed when their key is checked, and everywhere by
 * auth_ratelimit_sweep(); a success removes the user's directory.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "auth/ratelimit.h"
#include "store/fs.h"

#define KEY_MAX 512

enum berr auth_ratelimit_init_dir(struct auth_ratelimit *rl, const char *state_dir,
				  int limit, long window)
{
	enum berr rc;

	memset(rl, 0, sizeof *rl);
	if (state_dir == NULL || state_dir[0] == '\0')
		return berr_set(BERR_INTERNAL, "state_dir is not set: the failed-login limit "
				"needs a directory shared by all workers");
	if (limit < 1 || window < 1)
		return berr_set(BERR_INTERNAL, "login_fail_limit and login_fail_window must be >= 1");
	if (asprintf(&rl->dir, "%s/logins", state_dir) < 0) {
		rl->dir = NULL;
		return berr_sys("allocating", "ratelimit");
	}
	rl->limit = limit;
	rl->window = window;
	if ((rc = fs_mkdir_p(rl->dir))) {
		auth_ratelimit_release(rl);
		return rc;
	}
	return BERR_OK;
}

enum berr auth_ratelimit_init(struct auth_ratelimit *rl, const struct config *cfg)
{
	return auth_ratelimit_init_dir(rl, cfg->state_dir, cfg->login_fail_limit,
				       cfg->login_fail_window);
}

void auth_ratelimit_release(struct auth_ratelimit *rl)
{
	free(rl->dir);
	rl->dir = NULL;
}

/* <dir>/<kind>-<sha256 hex of kind NUL value> into out. */
static enum berr key_path(const struct auth_ratelimit *rl, char kind, const char *value,
			  char *out, size_t outlen)
{
	unsigned char buf[KEY_MAX + 2], md[SHA256_DIGEST_LENGTH];
	char hex[2 * SHA256_DIGEST_LENGTH + 1];
	size_t n = strlen(value);

	if (n > KEY_MAX)
		n = KEY_MAX;
	buf[0] = (unsigned char)kind;
	buf[1] = '\0';
	for (size_t i = 0; i < n; i++)
		buf[2 + i] = kind == 'u' ? (unsigned char)tolower((unsigned char)value[i])
					 : (unsigned char)value[i];
	SHA256(buf, n + 2, md);
	for (size_t i = 0; i < sizeof md; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return fs_path(out, outlen, "%s/%c-%s", rl->dir, kind, hex);
}

static int cmp_time(const void *a, const void *b)
{
	time_t x = *(const time_t *)a, y = *(const time_t *)b;

	return (x > y) - (x < y);
}

/* Failures of one key still inside the window at `now`: their count, and in
 * *retry the seconds until the count drops below the limit.  Expired records
 * are removed on the way (racing removers: ENOENT is fine). */
static enum berr key_count(const struct auth_ratelimit *rl, const char *key, time_t now,
			   size_t *count, long *retry)
{
	time_t *times = NULL, *nt;
	size_t n = 0, cap = 0;
	struct dirent *de;
	char path[PATH_MAX];
	DIR *d;

	*count = 0;
	*retry = 0;
	if ((d = opendir(key)) == NULL)
		return errno == ENOENT ? BERR_OK : berr_sys("opening", key);
	while ((de = readdir(d)) != NULL) {
		char *end;
		long long t = strtoll(de->d_name, &end, 10);
		if (de->d_name[0] == '.' || *end != '.')
			continue;
		if (t <= (long long)now - rl->window) {
			if (fs_path(path, sizeof path, "%s/%s", key, de->d_name) == BERR_OK)
				unlink(path);
			continue;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			if ((nt = realloc(times, cap * sizeof *times)) == NULL) {
				free(times);
				closedir(d);
				return berr_sys("allocating for", key);
			}
			times = nt;
		}
		times[n++] = (time_t)t;
	}
	closedir(d);
	if (n >= (size_t)rl->limit) {
		/* Oldest first: once the (n - limit + 1) oldest have expired,
		 * fewer than `limit` remain. */
		qsort(times, n, sizeof *times, cmp_time);
		*retry = (long)(times[n - (size_t)rl->limit] + rl->window - now);
		if (*retry < 1)
			*retry = 1;
	}
	free(times);
	*count = n;
	return BERR_OK;
}

static enum berr check_one(const struct auth_ratelimit *rl, char kind, const char *value,
			   time_t now, long *retry_after)
{
	char key[PATH_MAX];
	size_t n;
	long retry;
	enum berr rc;

	if (value == NULL || value[0] == '\0')
		return BERR_OK;
	if ((rc = key_path(rl, kind, value, key, sizeof key)) ||
	    (rc = key_count(rl, key, now, &n, &retry)))
		return rc;
	if (n < (size_t)rl->limit)
		return BERR_OK;
	if (retry > *retry_after)
		*retry_after = retry;
	return berr_set(BERR_TOOMANYREQUESTS, "too many failed logins %s; retry in %ld s",
			kind == 'u' ? "for this user" : "from this address", retry);
}

enum berr auth_ratelimit_check(const struct auth_ratelimit *rl, const char *user,
			       const char *addr, time_t now, long *retry_after)
{
	enum berr rc;

	*retry_after = 0;
	if ((rc = check_one(rl, 'u', user, now, retry_after)))
		return rc;
	return check_one(rl, 'a', addr, now, retry_after);
}

static enum berr fail_one(const struct auth_ratelimit *rl, char kind, const char *value,
			  time_t now)
{
	char key[PATH_MAX], path[PATH_MAX], rnd[17];
	enum berr rc;
	int fd = -1;

	if (value == NULL || value[0] == '\0')
		return BERR_OK;
	if ((rc = key_path(rl, kind, value, key, sizeof key)) ||
	    (rc = fs_random_hex(rnd, 8)) ||
	    (rc = fs_path(path, sizeof path, "%s/%lld.%s", key, (long long)now, rnd)))
		return rc;
	/* A success may remove the directory between our mkdir and our create:
	 * then make it again, once. */
	for (int attempt = 0; attempt < 2 && fd < 0; attempt++) {
		if (mkdir(key, 0700) != 0 && errno != EEXIST)
			return berr_sys("mkdir", key);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != ENOENT)
			return berr_sys("creating", path);
	}
	if (fd < 0)
		return berr_sys("creating", path);
	close(fd);
	return BERR_OK;
}

enum berr auth_ratelimit_fail(const struct auth_ratelimit *rl, const char *user,
			      const char *addr, time_t now)
{
	enum berr rc = fail_one(rl, 'u', user, now);
	enum berr rc2 = fail_one(rl, 'a', addr, now);

	return rc ? rc : rc2;
}

/* Remove every record of `key` (all = 1) or the expired ones, then the
 * directory if it is empty (ENOTEMPTY: a failure arrived meanwhile, keep). */
static enum berr key_prune(const struct auth_ratelimit *rl, const char *key, time_t now, int all)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(key)) == NULL)
		return errno == ENOENT ? BERR_OK : berr_sys("opening", key);
	while ((de = readdir(d)) != NULL) {
		char *end;
		long long t = strtoll(de->d_name, &end, 10);
		if (de->d_name[0] == '.' || *end != '.')
			continue;
		if ((all || t <= (long long)now - rl->window) &&
		    fs_path(path, sizeof path, "%s/%s", key, de->d_name) == BERR_OK)
			unlink(path);
	}
	closedir(d);
	if (rmdir(key) != 0 && errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT)
		return berr_sys("removing", key);
	return BERR_OK;
}

enum berr auth_ratelimit_success(const struct auth_ratelimit *rl, const char *user)
{
	char key[PATH_MAX];
	enum berr rc;

	if (user == NULL || user[0] == '\0')
		return BERR_OK;
	if ((rc = key_path(rl, 'u', user, key, sizeof key)))
		return rc;
	return key_prune(rl, key, 0, 1);
}

enum berr auth_ratelimit_sweep(const struct auth_ratelimit *rl, time_t now)
{
	char key[PATH_MAX];
	struct dirent *de;
	enum berr rc = BERR_OK;
	DIR *d;

	if ((d = opendir(rl->dir)) == NULL)
		return errno == ENOENT ? BERR_OK : berr_sys("opening", rl->dir);
	while ((de = readdir(d)) != NULL) {
		if ((de->d_name[0] != 'u' && de->d_name[0] != 'a') || de->d_name[1] != '-')
			continue;
		if (fs_path(key, sizeof key, "%s/%s", rl->dir, de->d_name) == BERR_OK &&
		    key_prune(rl, key, now, 0) != BERR_OK)
			rc = BERR_INTERNAL;
	}
	closedir(d);
	return rc;
}
