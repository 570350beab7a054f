/*
 * lease.c - NFS-safe lock files, "leases" (lease.h), shared by upload
 * sessions and the garbage collector: mutual exclusion between processes
 * and hosts.  Not to be confused with store/locks.c, the administrators'
 * locks (no-write / no-delete) on repositories, tags and manifests.
 *
 * Locking works across hosts sharing the store over NFS, without flock/fcntl:
 *  - The lock file is made by writing "host pid time nonce\n" to a temporary
 *    and link()ing it to DIR/lock: link() fails with EEXIST when the name is
 *    taken (the classic NFS-safe O_EXCL), and the lock is never seen empty.
 *    The nonce makes our content unique, so "is it still mine" is a string
 *    compare.
 *  - A lock is stale when its holder is on this host and its pid is dead, or
 *    when its mtime is older than `stale` seconds.  Holders refresh the mtime
 *    (store_lease_refresh) well before that; how often is the caller's policy.
 *  - Breaking a stale lock is serialised by a second lock, DIR/lock.break,
 *    made the same way.  Under it the breaker re-reads the lock, and only if
 *    it is still the very lock it judged stale (same content, still stale)
 *    unlinks it and creates its own by link(); a plain acquirer racing in
 *    between wins fairly through the same link().  Two breakers therefore
 *    never both succeed.  The one remaining window: a breaker that dies while
 *    holding lock.break leaves it to be judged stale the same way, and two
 *    processes clearing that dead lock.break at the same instant could both
 *    break; that takes a crash inside a few-microsecond section plus two
 *    racing takers, and we accept it.
 *  - Host identity is gethostname(): hosts sharing a store need distinct names.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"
#include "store/lease.h"
#include "util/log.h"

/* Not an error code: "the file is not there" from fs_read_str(). */
#define ABSENT BERR__COUNT

enum lock_result { LOCK_GOT, LOCK_BUSY, LOCK_RETRY };

static const char *host_name(void)
{
	static char host[HOST_NAME_MAX + 1];

	if (host[0] == '\0' && (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0'))
		snprintf(host, sizeof(host), "unknown");
	return host;
}

enum berr store_lease_token_new(char *out, size_t outlen)
{
	char nonce[17];
	enum berr rc;

	rc = fs_random_hex(nonce, 8);
	if (rc)
		return rc;
	return fs_path(out, outlen, "%s %ld %lld %s\n", host_name(), (long)getpid(),
		       (long long)time(NULL), nonce);
}

int store_lease_is_stale(long stale, const char *content, time_t mtime)
{
	char host[HOST_NAME_MAX + 1];
	long pid;

	if (time(NULL) - mtime > stale)
		return 1;
	if (sscanf(content, "%64s %ld", host, &pid) == 2 && strcmp(host, host_name()) == 0 &&
	    pid > 0 && pid <= INT_MAX && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
		return 1;
	return 0;
}

enum berr store_lease_create(const char *dir, const char *path, const char *token,
			    enum berr absent, const char *what, int *taken)
{
	char tmp[PATH_MAX];
	struct stat st;
	enum berr rc;
	int fd;

	*taken = 0;
	rc = fs_tmp_create(dir, "lk", tmp, sizeof(tmp), &fd);
	if (rc && errno == ENOENT) /* the directory was removed under us */
		return berr_set(absent, "%s is gone", what);
	if (rc)
		return rc;
	rc = fs_write_all(fd, token, strlen(token), tmp);
	close(fd);
	if (rc == BERR_OK && link(tmp, path) != 0) {
		if (errno == EEXIST)
			*taken = 1;
		/* NFS: the reply to a link() that worked may be lost; nlink tells. */
		else if (stat(tmp, &st) != 0 || st.st_nlink != 2)
			rc = berr_sys("linking lock", path);
	}
	unlink(tmp);
	return rc;
}

int store_lease_is_ours(const char *path, const char *token)
{
	char buf[STORE_LEASE_TOKEN_MAX];

	return fs_read_str(path, buf, sizeof(buf), NULL, ABSENT) == BERR_OK &&
	       strcmp(buf, token) == 0;
}

struct taker {
	const char *dir, *token, *what;
	long stale;
	enum berr absent;
};

/* Under lock.break: replace the lock we saw stale (`seen`) by ours. */
static enum berr break_locked(const struct taker *t, const char *lock, const char *seen,
			      enum lock_result *res)
{
	char now[STORE_LEASE_TOKEN_MAX];
	time_t mtime;
	enum berr rc;
	int taken;

	rc = fs_read_str(lock, now, sizeof(now), &mtime, ABSENT);
	if (rc == ABSENT) {
		*res = LOCK_RETRY;
		return BERR_OK;
	}
	if (rc)
		return rc;
	*res = LOCK_BUSY;
	if (strcmp(now, seen) != 0 || !store_lease_is_stale(t->stale, now, mtime))
		return BERR_OK;
	if (unlink(lock) != 0 && errno != ENOENT)
		return berr_sys("removing stale lock", lock);
	rc = store_lease_create(t->dir, lock, t->token, t->absent, t->what, &taken);
	if (rc == BERR_OK && !taken) {
		*res = LOCK_GOT;
		now[strcspn(now, "\n")] = '\0';
		log_warn("%s: took over stale lock \"%s\"", t->what, now);
	}
	return rc;
}

static enum berr lock_break(const struct taker *t, const char *lock, const char *seen,
			    enum lock_result *res)
{
	char brk[PATH_MAX], other[STORE_LEASE_TOKEN_MAX];
	time_t mtime;
	enum berr rc;
	int taken;

	*res = LOCK_BUSY;
	rc = fs_path(brk, sizeof(brk), "%s/lock.break", t->dir);
	if (rc == BERR_OK)
		rc = store_lease_create(t->dir, brk, t->token, t->absent, t->what, &taken);
	if (rc)
		return rc;
	if (taken) {
		rc = fs_read_str(brk, other, sizeof(other), &mtime, ABSENT);
		if (rc == ABSENT || (rc == BERR_OK && store_lease_is_stale(t->stale, other, mtime))) {
			if (rc == BERR_OK)
				unlink(brk); /* its breaker died: see the design comment */
			*res = LOCK_RETRY;
			return BERR_OK;
		}
		return rc;
	}
	rc = break_locked(t, lock, seen, res);
	if (store_lease_is_ours(brk, t->token))
		unlink(brk);
	return rc;
}

enum berr store_lease_take(const char *dir, const char *token, long stale, const char *what,
			  enum berr absent, char *holder, size_t holderlen, time_t *since)
{
	struct taker t = { dir, token, what, stale, absent };
	char lock[PATH_MAX], seen[STORE_LEASE_TOKEN_MAX];
	enum lock_result res = LOCK_RETRY;
	time_t mtime = 0;
	enum berr rc;
	int tries, taken;

	seen[0] = '\0';
	rc = fs_path(lock, sizeof(lock), "%s/lock", dir);
	for (tries = 0; rc == BERR_OK && res == LOCK_RETRY && tries < 5; tries++) {
		rc = store_lease_create(dir, lock, token, absent, what, &taken);
		if (rc || !taken) {
			res = LOCK_GOT;
			break;
		}
		rc = fs_read_str(lock, seen, sizeof(seen), &mtime, ABSENT);
		if (rc == ABSENT) {
			rc = BERR_OK; /* released meanwhile */
			continue;
		}
		if (rc == BERR_OK && !store_lease_is_stale(stale, seen, mtime))
			res = LOCK_BUSY;
		else if (rc == BERR_OK)
			rc = lock_break(&t, lock, seen, &res);
	}
	if (rc)
		return rc;
	if (res == LOCK_GOT)
		return BERR_OK;
	if (holder && holderlen)
		snprintf(holder, holderlen, "%s", seen);
	if (since)
		*since = mtime;
	return BERR_BUSY;
}

enum berr store_lease_refresh(const char *path, const char *token, const char *what)
{
	if (!store_lease_is_ours(path, token))
		return berr_set(BERR_BUSY, "%s: lock lost to another request", what);
	if (utimensat(AT_FDCWD, path, NULL, 0) != 0)
		return berr_sys("touching", path);
	return BERR_OK;
}

void store_lease_release(const char *path, const char *token)
{
	if (store_lease_is_ours(path, token))
		unlink(path);
}
