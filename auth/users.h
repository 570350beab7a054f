/*
 * users.h - logins that need no directory: local users and repository tokens.
 *
 * Local users file (config users_file), one user per line, '#' comments:
 *
 *   # berth local users: NAME:BCRYPT-HASH
 *   admin:$2b$10$...
 *
 * Repository tokens file (config tokens_file), one token per line, fields
 * separated by single spaces, '#' comments:
 *
 *   # NAME SHA256-HEX CREATED EXPIRES REVOKED SCOPE [SCOPE ...]
 *   ci-app 3f2a... 1767225600 1774999999 0 repository:ci/app:pull,push
 *
 * CREATED and EXPIRES are Unix seconds (EXPIRES 0 = never), REVOKED is 0 or
 * 1.  The secret itself (32 random bytes, handed out once as
 * "berth_<base64url>") is never stored, only the SHA-256 of those 32 bytes.
 *
 * Both files are small and read whole on every login, so an administrator's
 * change takes effect on the next request without a reload.  Changes are
 * written to a temporary file in the same directory (mode 0600, owner of the
 * previous file kept), fsynced and renamed over the old one, so a reader sees
 * the old file or the new one, never half of either.  Concurrent writers
 * (two berthctl at once) are kept apart by "<file>.lock", created with
 * O_EXCL (works on NFS too); the loser is told to retry.
 */
#ifndef BERTH_AUTH_USERS_H
#define BERTH_AUTH_USERS_H

#include <stddef.h>
#include <time.h>

#include "util/err.h"

#define AUTH_BCRYPT_COST 10       /* ~60-100 ms per login on a 2020s core */
#define AUTH_NAME_MAX 64
#define AUTH_PASSWORD_MAX 72      /* bcrypt ignores anything after 72 bytes */
#define AUTH_TOKEN_PREFIX "berth_"
#define AUTH_TOKEN_SECRET_BYTES 32

/* 1 if `name` is a valid user or token name: 1-64 of [A-Za-z0-9._-], not
 * starting with '-'. */
int auth_name_valid(const char *name);

/* The account name that counters and revocations are keyed on: `in`
 * without leading and trailing blanks, ASCII letters lowercased (UTF-8
 * bytes kept), into out[size] (truncated to fit).  Its length; 0 when
 * nothing is left. */
size_t auth_name_canonical(const char *in, char *out, size_t size);

/* ---------------------------------------------------------------- users */

/* Check `password` for `user`.  BERR_OK, or BERR_UNAUTHORIZED "invalid
 * username or password" whether the user is unknown or the password wrong:
 * an unknown user costs one bcrypt against a dummy hash, like a known one,
 * so timing does not tell which.  A missing file is "no users".
 * BERR_INTERNAL for an unreadable file. */
enum berr auth_users_verify(const char *path, const char *user, const char *password);

/* The same, remembering a successful check in this process for `ttl`
 * seconds (0: not at all) so that a storm of logins with the same
 * credentials costs one bcrypt.  An entry is keyed by HMAC-SHA256(a random
 * key of this process, user NUL password), never the password, and holds
 * the bcrypt hash it was checked against: a hit needs the file to hold
 * exactly that hash for `user` still, so `user passwd` and `user rm` end it
 * at once, on every host.  At most AUTH_USERS_CACHE entries. */
#define AUTH_USERS_CACHE 64
enum berr auth_users_verify_cached(const char *path, const char *user, const char *password,
				   long ttl, time_t now);
/* Hits and misses (bcrypt runs) of that cache in this process so far. */
void auth_users_cache_stats(unsigned long *hits, unsigned long *misses);

/* Add (`create` = 1; BERR_DENIED "user NAME exists" if present) or change
 * the password of (`create` = 0; BERR_NAME_UNKNOWN if absent) `user`.
 * `cost` is the bcrypt cost (4..31; 0 means AUTH_BCRYPT_COST).  Passwords
 * must be 1..AUTH_PASSWORD_MAX bytes (BERR_UNAUTHORIZED otherwise, with a
 * detail saying why). */
enum berr auth_users_set(const char *path, const char *user, const char *password,
			 int cost, int create);
/* Remove `user`; BERR_NAME_UNKNOWN if absent. */
enum berr auth_users_remove(const char *path, const char *user);
/* 1 if `user` is in the file, 0 if not (or the file is unreadable). */
int auth_users_exists(const char *path, const char *user);
/* The user names, in file order: a NULL-terminated array, free with
 * auth_strv_free(). */
enum berr auth_users_list(const char *path, char ***names, size_t *count);

void auth_strv_free(char **v);

/* ---------------------------------------------------------------- revocation */

/* End every refresh token of `name` (a local or directory user) issued at
 * or before `now`, on every host that shares state_dir: sets the mtime of
 * <state_dir>/revoked/user-<hex sha256 of auth_name_canonical(name)> (a
 * hash: directory names may hold '/', blanks and UTF-8). */
enum berr auth_user_revoke(const char *state_dir, const char *name, time_t now);
/* 1 if tokens of `name` issued at `iat` are revoked by that file, or by the
 * <state_dir>/revoked/user-<name> files of earlier versions. */
int auth_user_revoked(const char *state_dir, const char *name, time_t iat);

/* ---------------------------------------------------------------- tokens */

struct auth_repotoken {
	char *name;
	char hash[65];          /* hex SHA-256 of the 32-byte secret */
	time_t created;
	time_t expires;         /* 0: never */
	int revoked;
	char **scopes;          /* NULL-terminated, e.g. "repository:ci/app:pull,push" */
	size_t nscopes;
};

/* Create token `name` with `nscopes` scopes (each checked for shape:
 * "repository:NAME:ACTIONS" or "registry:catalog:*"), expiring at `expires`
 * (0: never).  The secret, "berth_" + 43 base64url characters, goes to
 * `secret` (at least AUTH_TOKEN_STR_SIZE bytes) and is not kept anywhere.
 * BERR_DENIED "token NAME exists" if the name is taken, revoked or not. */
#define AUTH_TOKEN_STR_SIZE 64
enum berr auth_repotoken_create(const char *path, const char *name, char *const *scopes,
				size_t nscopes, time_t now, time_t expires, char *secret,
				size_t secret_size);

/* A login as token `name` with password `secret`.  BERR_OK and the token
 * (scopes included; free with auth_repotoken_free) in *out when the hash
 * matches (constant-time compare), it has not expired at `now` and is not
 * revoked; else BERR_UNAUTHORIZED "invalid username or password", or "token
 * NAME has expired" / "token NAME has been revoked" once the secret has been
 * shown to be right.  `out` may be NULL. */
enum berr auth_repotoken_verify(const char *path, const char *name, const char *secret,
				time_t now, struct auth_repotoken **out);
/* The same, saying in *state why a login failed (for the log: a revoked or
 * expired token is only told apart once the secret was shown right). */
enum auth_repotoken_state {
	AUTH_TOKEN_VALID,
	AUTH_TOKEN_BAD_SECRET,       /* or no such token, or the file unreadable */
	AUTH_TOKEN_REVOKED,
	AUTH_TOKEN_EXPIRED,
};
enum berr auth_repotoken_check(const char *path, const char *name, const char *secret,
			       time_t now, struct auth_repotoken **out,
			       enum auth_repotoken_state *state);

/* Token `name` as it stands at `now`, without its secret (a refresh, the
 * insufficient-scope check, berthctl).  BERR_UNAUTHORIZED "token NAME no
 * longer exists" / "token NAME is revoked or expired"; *out is freed with
 * auth_repotoken_free. */
enum berr auth_repotoken_find(const char *path, const char *name, time_t now,
			      struct auth_repotoken **out);

/* Mark `name` revoked (kept in the file so the name stays taken and the
 * listing shows it).  BERR_NAME_UNKNOWN if absent; revoking twice is fine. */
enum berr auth_repotoken_revoke(const char *path, const char *name);

/* Every token in file order; free with auth_repotoken_list_free. */
enum berr auth_repotoken_list(const char *path, struct auth_repotoken **list, size_t *count);
void auth_repotoken_list_free(struct auth_repotoken *list, size_t count);
void auth_repotoken_free(struct auth_repotoken *t);

/* 1 if `scope` has a shape a token may carry. */
int auth_repotoken_scope_valid(const char *scope);

#endif
