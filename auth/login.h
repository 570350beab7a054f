/*
 * login.h - who is asking, and what they may have: the token service's core.
 *
 * A login (Basic credentials or a refresh token) yields an identity: a local
 * user, a directory (LDAP) user with its groups, a repository token, or the
 * anonymous caller.  What a token for that identity may carry is the policy
 * file's answer (plus, for a repository token, the scopes it was created
 * with), intersected with what the client asked for.
 *
 * Each worker keeps one auth_ctx (policy, verification keys, failed-login
 * limits) for its whole life; the policy file is reread when it changes.
 * Directory logins go to the directory process (auth/directory.h), which
 * alone holds the bind password and the LDAP connections.
 */
#ifndef BERTH_AUTH_LOGIN_H
#define BERTH_AUTH_LOGIN_H

#include <stddef.h>
#include <time.h>
#include <jansson.h>

#include "auth/scope.h"
#include "util/config.h"
#include "util/err.h"

enum auth_kind { AUTH_ANONYMOUS = 0, AUTH_LOCAL, AUTH_LDAP, AUTH_TOKEN };

struct auth_identity {
	enum auth_kind kind;
	char name[80];       /* user name or token name; "" when anonymous */
	char **groups;       /* directory groups (owned), NULL-terminated */
	size_t ngroups;
	char **scopes;       /* repository token's scopes (owned), NULL-terminated */
};

struct auth_ctx;

/* The worker's context, created on first use from `cfg`; with auth = token
 * it holds the verification keys (from the signer) or this fails. */
enum berr auth_ctx_get(const struct config *cfg, struct auth_ctx **out);
/* A context of its own for `cfg`, without keys (in-process tests, tools
 * that decide without verifying); auth_ctx_free() releases it. */
enum berr auth_ctx_new(const struct config *cfg, struct auth_ctx **out);
void auth_ctx_free(struct auth_ctx *a);
const struct config *auth_ctx_config(const struct auth_ctx *a);
/* Does this registry check credentials at all (auth = token)? */
int auth_required(const struct config *cfg);

/* Check Basic credentials.  Order: a repository token of that name, a local
 * user, then the directory (id->name is then the directory's spelling; a
 * directory account that spells a local user's name is refused).  Failed
 * logins other than a repository token's feed the delays of
 * auth/ratelimit.h: a delayed login is BERR_TOOMANYREQUESTS (*retry_after
 * set).  Bad credentials: BERR_UNAUTHORIZED "invalid username or password";
 * a directory that is down: "the directory is unavailable; try again
 * later".  Every failure is logged with the account, address and reason. */
enum berr auth_login_password(struct auth_ctx *a, const char *user, const char *password,
			      const char *addr, struct auth_identity *id, long *retry_after);
/* A refresh token: verified, not revoked (berthctl user revoke, passwd,
 * rm), and its subject still exists (its groups are looked up again; a
 * directory user's password has not changed since and the account is not
 * disabled), so it never carries more than the subject has now. */
enum berr auth_login_refresh(struct auth_ctx *a, const char *token, struct auth_identity *id);
void auth_identity_release(struct auth_identity *id);

/* Actions (AUTH_ACT_*) `id` may have on `repo` (NULL: the catalog). */
unsigned auth_identity_actions(struct auth_ctx *a, const struct auth_identity *id,
			       const char *repo);

/* Issue an access token for `id` covering what it may have of req[0..n);
 * every requested repository appears in the access claim, with an empty
 * action list when nothing is granted, so the registry can tell "denied"
 * from "ask for another token".  *token is malloc'd. */
enum berr auth_issue_access(struct auth_ctx *a, const struct auth_identity *id,
			    const struct auth_scope *req, size_t n, time_t now, char **token,
			    json_t **granted);
/* A refresh token for `id`; an anonymous caller gets none (BERR_OK and
 * *token NULL): there is no login to stand for. */
enum berr auth_issue_refresh(struct auth_ctx *a, const struct auth_identity *id, time_t now,
			     char **token);

/* Verify a bearer token presented to the registry: ES256, issuer, audience,
 * time; refresh tokens are refused here.  *claims is a new reference. */
enum berr auth_verify_access(struct auth_ctx *a, const char *token, json_t **claims);
/* Policy answer for the subject of verified access-token claims. */
unsigned auth_claims_policy_actions(struct auth_ctx *a, const json_t *claims, const char *repo);

#endif
