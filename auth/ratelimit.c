/*
 * ratelimit.c - failed-login delays (ratelimit.h) as directories of empty
 * files:
 *
 *   <state_dir>/logins/
 *     p-<sha256("p\0" account "\0" address)>/   failures of one account from
 *       1767225600.9f3c01a2b4c5d6e7               one address: one empty file
 *       1767225631.0b1c2d3e4f506172               per failure, <unix time>.<random>
 *     u-<sha256("u\0" account)>/                 failures of one account from
 *                                                anywhere, named the same way
 *     s-<sha256("s\0" address)>/                 accounts that failed from one
 *       3b1f0c9d2e4a5b6c                          address: one file per account
 *                                                (16 hex of its u- hash), mtime =
 *                                                its latest failure there
 *     familiar/<sha256("f\0" account "\0" address)>   mtime = the latest
 *                                                success of account from address
 *
 * Why this shape: workers of one pool and pools on other hosts may share
 * state_dir (NFS included), and no lock may be taken.  Creating a file with
 * a unique name (O_CREAT|O_EXCL) is atomic on every filesystem, NFS too, so
 * concurrent failures never overwrite each other the way a read-modify-write
 * counter would: the count is exact.  The spray set and the familiar marks
 * are idempotent (create, then set the mtime), so racing writers agree.
 * Names are hashed: directory user names may hold '/', blanks and UTF-8,
 * and the state should not list who failed to log in.
 *
 * The leaky bucket of the pair and account rules is computed from the
 * failure times, oldest first: level = max(0, level - elapsed / window) + 1
 * per failure, capped at threshold + 2 + log2(delay_max), where the delay
 * stops growing.  Because of that cap, failures older than cap windows no
 * longer change the level (two buckets that differ in their past converge
 * once either has drained), so they are deleted on the way: a key holds at
 * most the failures of its last cap windows, and while throttled about one
 * per window.
 *
 * Accuracy: check-then-fail is not atomic: N logins in flight at once may
 * all pass the check before any of them records its failure, so an
 * attacker gets up to (concurrent requests) more tries at each step.  Times
 * come from each host's clock; skew between hosts shifts windows by the
 * skew.
 *
 * Cost: a check reads at most three small directories and stats one file;
 * a success removes one directory and touches one file (at most once a day).
 */
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
#include "auth/users.h"
#include "util/fs.h"
#include "util/mem.h"

#define KEY_MAX 512
#define HEX_LEN (2 * SHA256_DIGEST_LENGTH)
#define FAMILIAR_REFRESH 86400  /* rewrite a familiar mark at most daily */

enum berr auth_ratelimit_init_dir(struct auth_ratelimit *rl, const char *state_dir,
				  int limit, long window)
{
	char fam[PATH_MAX];
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
	rl->delay_max = 900;
	rl->spray_limit = 10;
	rl->account_limit = 50;
	rl->familiar = AUTH_RATELIMIT_FAMILIAR;
	if ((rc = fs_path(fam, sizeof fam, "%s/familiar", rl->dir)) || (rc = fs_mkdir_p(fam))) {
		auth_ratelimit_release(rl);
		return rc;
	}
	return BERR_OK;
}

enum berr auth_ratelimit_init(struct auth_ratelimit *rl, const struct config *cfg)
{
	enum berr rc = auth_ratelimit_init_dir(rl, cfg->state_dir, cfg->login_fail_limit,
					       cfg->login_fail_window);

	if (rc == BERR_OK) {
		rl->delay_max = cfg->login_delay_max;
		rl->spray_limit = cfg->login_spray_limit;
		rl->account_limit = cfg->login_account_limit;
	}
	return rc;
}

void auth_ratelimit_release(struct auth_ratelimit *rl)
{
	free(rl->dir);
	rl->dir = NULL;
}

/* ---------------------------------------------------------------- keys */

/* hex sha256 of kind NUL a [NUL b] (a canonicalised when it is an account). */
static void key_hash(char kind, const char *a, const char *b, char hex[HEX_LEN + 1])
{
	unsigned char buf[2 * KEY_MAX + 3], md[SHA256_DIGEST_LENGTH];
	size_t n = 2, la = strnlen(a, KEY_MAX);

	buf[0] = (unsigned char)kind;
	buf[1] = '\0';
	memcpy(buf + n, a, la);
	n += la;
	if (b) {
		size_t lb = strnlen(b, KEY_MAX);
		buf[n++] = '\0';
		memcpy(buf + n, b, lb);
		n += lb;
	}
	SHA256(buf, n, md);
	for (size_t i = 0; i < sizeof md; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static enum berr key_path(const struct auth_ratelimit *rl, char kind, const char *a,
			  const char *b, char *out, size_t outlen)
{
	char hex[HEX_LEN + 1];

	key_hash(kind, a, b, hex);
	if (kind == 'f')
		return fs_path(out, outlen, "%s/familiar/%s", rl->dir, hex);
	return fs_path(out, outlen, "%s/%c-%s", rl->dir, kind, hex);
}

static int present(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* The level of the bucket with `threshold` free failures beyond which
 * delays grow: threshold + 2 + ceil(log2(delay_max)). */
static double bucket_cap(const struct auth_ratelimit *rl, int threshold)
{
	int bits = 0;

	while (bits < 40 && (1L << bits) < rl->delay_max)
		bits++;
	return (double)threshold + 2 + bits;
}

/* Seconds to wait after the latest failure at `level`. */
static long bucket_delay(const struct auth_ratelimit *rl, double level, int threshold)
{
	double excess = level - threshold;
	long k;

	if (excess <= 1e-9)
		return 0;
	k = (long)(excess - 1e-9);          /* ceil */
	if ((double)k < excess - 1e-9)
		k++;
	if (k - 1 >= 40 || (1L << (k - 1)) > rl->delay_max)
		return rl->delay_max;
	return 1L << (k - 1);
}

static int cmp_time(const void *a, const void *b)
{
	time_t x = *(const time_t *)a, y = *(const time_t *)b;

	return (x > y) - (x < y);
}

/* The failure times of `key` younger than `cutoff`, sorted, in *times
 * (malloc'd); older ones are removed (racing removers: ENOENT is fine). */
static enum berr bucket_times(const char *key, time_t cutoff, time_t **times, size_t *n)
{
	size_t cap = 0;
	struct dirent *de;
	char path[PATH_MAX];
	enum berr rc;
	DIR *d;

	*times = NULL;
	*n = 0;
	if ((d = opendir(key)) == NULL)
		return errno == ENOENT ? BERR_OK : berr_sys("opening", key);
	while ((de = readdir(d)) != NULL) {
		char *end;
		long long t = strtoll(de->d_name, &end, 10);
		if (de->d_name[0] == '.' || *end != '.')
			continue;
		if (t <= (long long)cutoff) {
			if (fs_path(path, sizeof path, "%s/%s", key, de->d_name) == BERR_OK)
				unlink(path);
			continue;
		}
		if ((rc = mem_grow(times, &cap, *n + 1, sizeof **times, 16, key))) {
			closedir(d);
			free(*times);
			*times = NULL;
			return rc;
		}
		(*times)[(*n)++] = (time_t)t;
	}
	closedir(d);
	qsort(*times, *n, sizeof **times, cmp_time);
	return BERR_OK;
}

/* Seconds from `now` until `key` (a bucket with `threshold` free failures)
 * may be tried again; 0: now. */
static enum berr bucket_wait(const struct auth_ratelimit *rl, const char *key, int threshold,
			     time_t now, long *wait)
{
	double cap = bucket_cap(rl, threshold), level = 0;
	time_t *times = NULL;
	size_t n = 0;
	enum berr rc;

	*wait = 0;
	if ((rc = bucket_times(key, now - (time_t)(cap * (double)rl->window), &times, &n)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			level -= (double)(times[i] - times[i - 1]) / (double)rl->window;
		if (level < 0)
			level = 0;
		if ((level += 1) > cap)
			level = cap;
	}
	if (n > 0)
		*wait = (long)(times[n - 1] + bucket_delay(rl, level, threshold) - now);
	if (*wait < 0)
		*wait = 0;
	free(times);
	return BERR_OK;
}

/* Seconds from `now` until the spray rule lets address key `key` be used
 * again (for accounts it is not familiar with). */
static enum berr spray_wait(const struct auth_ratelimit *rl, const char *key, time_t now,
			    long *wait)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	time_t newest = 0;
	long distinct = 0, delay;
	DIR *d;

	*wait = 0;
	if ((d = opendir(key)) == NULL)
		return errno == ENOENT ? BERR_OK : berr_sys("opening", key);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, 0) != 0)
			continue;
		if (st.st_mtime <= now - rl->window) {
			if (fs_path(path, sizeof path, "%s/%s", key, de->d_name) == BERR_OK)
				unlink(path);
			continue;
		}
		distinct++;
		if (st.st_mtime > newest)
			newest = st.st_mtime;
	}
	closedir(d);
	if (distinct > rl->spray_limit) {
		delay = distinct - rl->spray_limit - 1 >= 40 ? rl->delay_max
			: 1L << (distinct - rl->spray_limit - 1);
		if (delay > rl->delay_max)
			delay = rl->delay_max;
		if ((*wait = (long)(newest + delay - now)) < 0)
			*wait = 0;
	}
	return BERR_OK;
}

/* 1 if `user` logged in from `addr` within rl->familiar before `now`. */
static int familiar(const struct auth_ratelimit *rl, const char *user, const char *addr,
		    time_t now)
{
	char path[PATH_MAX];
	struct stat st;

	return present(addr) && key_path(rl, 'f', user, addr, path, sizeof path) == BERR_OK &&
	       stat(path, &st) == 0 && st.st_mtime > now - rl->familiar;
}

/* ---------------------------------------------------------------- check */

enum berr auth_ratelimit_check(const struct auth_ratelimit *rl, const char *user,
			       const char *addr, time_t now, long *retry_after)
{
	static const char *const why[] = {
		"for this account from this address",
		"for this account",
		"for different accounts from this address",
	};
	char canon[KEY_MAX + 1], key[PATH_MAX];
	long wait[3] = { 0, 0, 0 };
	int worst = 0, known = 0;
	enum berr rc;

	*retry_after = 0;
	if (auth_name_canonical(user ? user : "", canon, sizeof canon) == 0)
		return BERR_OK;
	if (present(addr) &&
	    ((rc = key_path(rl, 'p', canon, addr, key, sizeof key)) ||
	     (rc = bucket_wait(rl, key, rl->limit, now, &wait[0]))))
		return rc;
	if (wait[0] == 0)
		known = familiar(rl, canon, addr, now);
	if (wait[0] == 0 && !known &&
	    ((rc = key_path(rl, 'u', canon, NULL, key, sizeof key)) ||
	     (rc = bucket_wait(rl, key, rl->account_limit, now, &wait[1]))))
		return rc;
	if (wait[0] == 0 && !known && present(addr) &&
	    ((rc = key_path(rl, 's', addr, NULL, key, sizeof key)) ||
	     (rc = spray_wait(rl, key, now, &wait[2]))))
		return rc;
	for (int i = 1; i < 3; i++)
		if (wait[i] > wait[worst])
			worst = i;
	if (wait[worst] == 0)
		return BERR_OK;
	*retry_after = wait[worst];
	return berr_set(BERR_TOOMANYREQUESTS, "too many failed logins %s; retry in %ld s",
			why[worst], wait[worst]);
}

/* ---------------------------------------------------------------- record */

/* Make directory `key` and create `name` in it (O_EXCL when `excl`); a
 * sweep or a success may remove the directory in between: then again, once.
 * The new file's descriptor in *fd. */
static enum berr create_in(const char *key, const char *name, int excl, int *fd)
{
	char path[PATH_MAX];
	enum berr rc;

	*fd = -1;
	if ((rc = fs_path(path, sizeof path, "%s/%s", key, name)))
		return rc;
	for (int attempt = 0; attempt < 2 && *fd < 0; attempt++) {
		if (mkdir(key, 0700) != 0 && errno != EEXIST)
			return berr_sys("mkdir", key);
		*fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (excl ? O_EXCL : 0), 0600);
		if (*fd < 0 && errno != ENOENT)
			return berr_sys("creating", path);
	}
	return *fd < 0 ? berr_sys("creating", path) : BERR_OK;
}

static enum berr bucket_add(const struct auth_ratelimit *rl, char kind, const char *a,
			    const char *b, time_t now)
{
	char key[PATH_MAX], name[64], rnd[17];
	enum berr rc;
	int fd;

	if ((rc = key_path(rl, kind, a, b, key, sizeof key)) || (rc = fs_random_hex(rnd, 8)))
		return rc;
	snprintf(name, sizeof name, "%lld.%s", (long long)now, rnd);
	if ((rc = create_in(key, name, 1, &fd)))
		return rc;
	close(fd);
	return BERR_OK;
}

/* Create or refresh a file whose mtime says when (now). */
static enum berr mark(const char *key, const char *name, time_t now)
{
	struct timespec ts[2] = { { now, 0 }, { now, 0 } };
	enum berr rc;
	int fd;

	if ((rc = create_in(key, name, 0, &fd)))
		return rc;
	if (futimens(fd, ts) != 0)
		rc = berr_sys("setting the time of a file in", key);
	close(fd);
	return rc;
}

enum berr auth_ratelimit_fail(const struct auth_ratelimit *rl, const char *user,
			      const char *addr, time_t now)
{
	char canon[KEY_MAX + 1], key[PATH_MAX], acct[HEX_LEN + 1];
	enum berr rc = BERR_OK, rc2;

	if (auth_name_canonical(user ? user : "", canon, sizeof canon) == 0)
		return BERR_OK;
	if ((rc2 = bucket_add(rl, 'u', canon, NULL, now)))
		rc = rc2;
	if (!present(addr))
		return rc;
	if ((rc2 = bucket_add(rl, 'p', canon, addr, now)))
		rc = rc2;
	key_hash('u', canon, NULL, acct);
	acct[16] = '\0';
	if ((rc2 = key_path(rl, 's', addr, NULL, key, sizeof key)) ||
	    (rc2 = mark(key, acct, now)))
		rc = rc2;
	return rc;
}

/* Remove the entries of `key` last changed at or before `cutoff` (by the
 * time in their name, or by mtime), then the directory if it is empty
 * (ENOTEMPTY: a failure arrived meanwhile, keep). */
static enum berr key_prune(const char *key, time_t cutoff, int by_mtime, int keep_dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	long long t;
	DIR *d;

	if ((d = opendir(key)) == NULL)
		return errno == ENOENT ? BERR_OK : berr_sys("opening", key);
	while ((de = readdir(d)) != NULL) {
		char *end;
		if (de->d_name[0] == '.')
			continue;
		if (by_mtime)
			t = fstatat(dirfd(d), de->d_name, &st, 0) == 0 ? (long long)st.st_mtime : 0;
		else if ((t = strtoll(de->d_name, &end, 10)), *end != '.')
			continue;
		if (t <= (long long)cutoff &&
		    fs_path(path, sizeof path, "%s/%s", key, de->d_name) == BERR_OK)
			unlink(path);
	}
	closedir(d);
	if (!keep_dir && rmdir(key) != 0 && errno != ENOTEMPTY && errno != EEXIST &&
	    errno != ENOENT)
		return berr_sys("removing", key);
	return BERR_OK;
}

enum berr auth_ratelimit_success(const struct auth_ratelimit *rl, const char *user,
				 const char *addr, time_t now)
{
	char canon[KEY_MAX + 1], key[PATH_MAX], dir[PATH_MAX], *slash;
	struct stat st;
	enum berr rc;

	if (auth_name_canonical(user ? user : "", canon, sizeof canon) == 0 || !present(addr))
		return BERR_OK;
	if ((rc = key_path(rl, 'p', canon, addr, key, sizeof key)) ||
	    (rc = key_prune(key, (time_t)LLONG_MAX, 0, 0)) ||
	    (rc = key_path(rl, 'f', canon, addr, key, sizeof key)))
		return rc;
	/* A storm of logins should not rewrite the mark each time. */
	if (stat(key, &st) == 0 && st.st_mtime <= now && st.st_mtime > now - FAMILIAR_REFRESH)
		return BERR_OK;
	snprintf(dir, sizeof dir, "%s", key);
	slash = strrchr(dir, '/');
	*slash = '\0';
	return mark(dir, slash + 1, now);
}

/* ---------------------------------------------------------------- sweep */

enum berr auth_ratelimit_sweep(const struct auth_ratelimit *rl, time_t now)
{
	char key[PATH_MAX];
	struct dirent *de;
	enum berr rc = BERR_OK;
	time_t cutoff;
	DIR *d;

	if ((d = opendir(rl->dir)) == NULL)
		return errno == ENOENT ? BERR_OK : berr_sys("opening", rl->dir);
	while ((de = readdir(d)) != NULL) {
		char k = de->d_name[0];
		if (!strchr("puas", k) || de->d_name[1] != '-')
			continue;
		cutoff = now - rl->window;      /* s-, and a- of berth before the redesign */
		if (k == 'p' || k == 'u')
			cutoff = now - (time_t)(bucket_cap(rl, k == 'p' ? rl->limit
								       : rl->account_limit) *
						(double)rl->window);
		if (fs_path(key, sizeof key, "%s/%s", rl->dir, de->d_name) == BERR_OK &&
		    key_prune(key, cutoff, k == 's', 0) != BERR_OK)
			rc = BERR_INTERNAL;
	}
	closedir(d);
	if (fs_path(key, sizeof key, "%s/familiar", rl->dir) == BERR_OK &&
	    key_prune(key, now - rl->familiar, 1, 1) != BERR_OK)
		rc = BERR_INTERNAL;
	return rc;
}
