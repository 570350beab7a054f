/*
 * lease.h - exclusive lock files ("leases") that hold across hosts sharing
 * the store over NFS, without flock/fcntl (store/lease.c explains the
 * scheme; store/locks.c, the administrators' locks, is another thing).
 *
 * Used by upload sessions (uploads/<id>/lock) and by the garbage collector
 * (gc/lock).  A lock is a file DIR/lock whose content is a token
 * "host pid time nonce\n" unique to its holder; DIR/lock.break serialises
 * the breaking of a stale one.
 */
#ifndef BERTH_LEASE_H
#define BERTH_LEASE_H

#include <stddef.h>
#include <time.h>
#include "util/err.h"

#define STORE_LEASE_TOKEN_MAX 192

/* A new token for this process: "host pid time nonce\n". */
enum berr store_lease_token_new(char *out, size_t outlen);

/* Stale: older than `stale` seconds, or held by a dead process of this host. */
int store_lease_is_stale(long stale, const char *content, time_t mtime);

/* Make `path` (in `dir`) hold `token` unless the name is taken (*taken = 1).
 * When `dir` does not exist, returns `absent` with "<what> is gone". */
enum berr store_lease_create(const char *dir, const char *path, const char *token,
			    enum berr absent, const char *what, int *taken);

/* Is the lock file `path` still the one holding `token`? */
int store_lease_is_ours(const char *path, const char *token);

/* Take DIR/lock with `token`, breaking a stale lock (logged as "<what>: took
 * over stale lock ...").  BERR_OK; BERR_BUSY (no detail set) with the
 * holder's token in `holder` and the lock's mtime in *since (either may be
 * NULL) while someone else holds it; `absent` if DIR is gone. */
enum berr store_lease_take(const char *dir, const char *token, long stale, const char *what,
			  enum berr absent, char *holder, size_t holderlen, time_t *since);

/* Still ours?  Then set its mtime to now.  BERR_BUSY "<what>: lock lost" if not. */
enum berr store_lease_refresh(const char *path, const char *token, const char *what);

/* Remove `path` if it is still ours. */
void store_lease_release(const char *path, const char *token);

#endif
