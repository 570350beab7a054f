/*
 * access.c - see access.h.  With `auth = token` a request needs a bearer
 * token from berth's token service, verified with public keys only, and
 * the decision runs:
 *
 *   no token, or a bad one          UNAUTHENTICATED, asking for repo:action
 *   token lacks this repository     INSUFFICIENT_SCOPE for repo:action
 *                                   (the client fetches a token for it)
 *   token names the repository but  the policy is asked now, for the token's
 *   not this action                 subject: if it would grant the action,
 *                                   INSUFFICIENT_SCOPE asking for what the
 *                                   token has there plus the action; only a
 *                                   policy "no" is DENIED
 *
 * Why ask the policy at request time: a token carries what the client asked
 * for, not all it may have.  A client that asked for pull,push and then
 * deletes (docker, containerd, distribution's own clients do) must be told
 * to fetch a wider token, as distribution does; a 403 would tell it the
 * delete is forbidden, which it is not.  The policy is only consulted on
 * this miss path, never for a request the token already covers, and the
 * answer matches what the token service would issue (the same policy, the
 * same subject, a repository token's own scopes), so a client that follows
 * the challenge gets the action and cannot loop.
 *
 * Every requested repository appears in a token's access claim, with an
 * empty action list when nothing was granted; that is what tells the last
 * two cases apart.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/access.h"
#include "auth/users.h"

enum berr auth_claims_verify(struct auth_ctx *a, const char *authorization, json_t **claims)
{
	*claims = NULL;
	if (!auth_required(auth_ctx_config(a)))
		return BERR_OK;
	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return berr_set(BERR_UNAUTHORIZED, "authentication required");
	return auth_verify_access(a, authorization + 7, claims);
}

/* The actions a client asks for, as a scope spells them. */
static const char *action_scope(enum auth_action action)
{
	switch (action) {
	case AUTH_PUSH: return "pull,push";
	case AUTH_DELETE: return "delete";
	default: return "pull";
	}
}

static unsigned action_bit(enum auth_action action)
{
	switch (action) {
	case AUTH_PUSH: return AUTH_ACT_PUSH;
	case AUTH_DELETE: return AUTH_ACT_DELETE;
	case AUTH_CATALOG: return AUTH_ACT_CATALOG;
	default: return AUTH_ACT_PULL;
	}
}

/* The scope that covers `action` on `repo` alone. */
static void plain_scope(struct auth_decision *d, const char *repo, enum auth_action action)
{
	if (action == AUTH_CATALOG)
		snprintf(d->scope, sizeof(d->scope), "registry:catalog:*");
	else if (repo)
		snprintf(d->scope, sizeof(d->scope), "repository:%s:%s", repo, action_scope(action));
	else
		d->scope[0] = '\0';
}

/* Does the access claim mention `repo` at all? */
static int claim_names(const json_t *access, const char *repo)
{
	size_t i;
	json_t *e;

	json_array_foreach(access, i, e) {
		const char *t = json_string_value(json_object_get(e, "type"));
		const char *n = json_string_value(json_object_get(e, "name"));
		if (t && n && strcmp(t, "repository") == 0 && strcmp(n, repo) == 0)
			return 1;
	}
	return 0;
}

/* The scopes a repository token was created with, on `repo`: what the
 * token service adds to the policy's answer for it.  Read from the tokens
 * file, only on the insufficient-scope path; a token that is gone grants
 * nothing, which is an answer, not an error (its own error context). */
static unsigned repotoken_actions(const struct config *cfg, const char *name, const char *repo)
{
	struct auth_repotoken *t = NULL;
	struct berr_ctx probe;
	unsigned acts = 0;

	berr_enter(&probe);
	if (auth_repotoken_find(cfg->tokens_file, name, time(NULL), &t) == BERR_OK) {
		acts = auth_scopes_actions(t->scopes, repo);
		auth_repotoken_free(t);
	}
	berr_leave(&probe);
	return acts;
}

/* What the token service would give the subject of `claims` on `repo` if
 * it asked now. */
static unsigned subject_may(struct auth_ctx *a, const json_t *claims, const char *repo)
{
	const json_t *berth = json_object_get(claims, "berth");
	const char *kind = json_string_value(json_object_get(berth, "kind"));
	const char *sub = json_string_value(json_object_get(claims, "sub"));
	unsigned acts = auth_claims_policy_actions(a, claims, repo);

	if (kind && sub && strcmp(kind, "token") == 0)
		acts |= repotoken_actions(auth_ctx_config(a), sub, repo);
	return acts;
}

static enum auth_verdict verdict(struct auth_decision *d, enum auth_verdict v)
{
	d->verdict = v;
	return v;
}

/* The token names `repo` but lacks the action: INSUFFICIENT_SCOPE for the
 * union of what it has there and the action if the subject may have it
 * now, else DENIED. */
static enum auth_verdict scope_or_denied(struct auth_ctx *a, const json_t *claims,
					 const char *repo, enum auth_action action,
					 unsigned have, struct auth_decision *d)
{
	struct auth_scope need = { .type = AUTH_SCOPE_REPOSITORY };
	unsigned want = action_bit(action);

	if (!(subject_may(a, claims, repo) & want)) {
		snprintf(d->detail, sizeof(d->detail), "requested access to %s (%s) is denied",
			 repo, action_scope(action));
		return verdict(d, AUTH_DENIED);
	}
	snprintf(need.name, sizeof(need.name), "%s", repo);
	need.actions = have | want | (action == AUTH_PUSH ? AUTH_ACT_PULL : 0);
	if (auth_scope_format(d->scope, sizeof(d->scope), &need) < 0) { /* cannot happen: names fit */
		plain_scope(d, repo, action);
		snprintf(d->detail, sizeof(d->detail), "the token does not grant %s on %s",
			 action_scope(action), repo);
	} else {
		snprintf(d->detail, sizeof(d->detail), "the token does not grant %s on %s: "
			 "fetch a token for %s", action_scope(action), repo, d->scope);
	}
	return verdict(d, AUTH_INSUFFICIENT_SCOPE);
}

enum auth_verdict auth_decide(struct auth_ctx *a, const json_t *claims, const char *repo,
			      enum auth_action action, struct auth_decision *d)
{
	const json_t *access;
	unsigned have;

	d->scope[0] = d->detail[0] = '\0';
	if (!auth_required(auth_ctx_config(a)))
		return verdict(d, AUTH_ALLOWED);
	if (!claims) {
		plain_scope(d, repo, action);
		snprintf(d->detail, sizeof(d->detail), "authentication required");
		return verdict(d, AUTH_UNAUTHENTICATED);
	}
	if (!repo && action != AUTH_CATALOG)
		return verdict(d, AUTH_ALLOWED); /* /v2/: any valid token */
	access = json_object_get(claims, "access");
	have = auth_access_actions(access, repo);
	if (have & action_bit(action))
		return verdict(d, AUTH_ALLOWED);
	if (repo && claim_names(access, repo))
		return scope_or_denied(a, claims, repo, action, have, d);
	plain_scope(d, repo, action);
	snprintf(d->detail, sizeof(d->detail), "the token does not grant %s on %s",
		 action_scope(action), repo ? repo : "the catalog");
	return verdict(d, AUTH_INSUFFICIENT_SCOPE);
}

int auth_visible(struct auth_ctx *a, const json_t *claims, const char *repo)
{
	if (!auth_required(auth_ctx_config(a)))
		return 1;
	if (!claims)
		return 0;
	if (auth_access_actions(json_object_get(claims, "access"), repo) & AUTH_ACT_PULL)
		return 1;
	return (auth_claims_policy_actions(a, claims, repo) & AUTH_ACT_PULL) != 0;
}
