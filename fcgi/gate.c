/*
 * gate.c - see gate.h.  With `auth = none` every request may do anything.
 * With `auth = token` a request needs a bearer token from berth's token
 * service (fcgi/h_token.c), verified here with public keys only:
 *
 *   no token, or a bad one          401 UNAUTHORIZED + WWW-Authenticate challenge
 *   token lacks this repository     401 + challenge with error="insufficient_scope"
 *                                   (the client fetches a token for it)
 *   token names the repository but  the policy is asked now, for the token's
 *   not this action                 subject: if it would grant the action,
 *                                   401 insufficient_scope asking for what the
 *                                   token has there plus the action; only a
 *                                   policy "no" is 403 DENIED
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
#include <time.h>
#include <jansson.h>

#include "fcgi/gate.h"
#include "auth/login.h"
#include "auth/users.h"
#include "fcgi/request.h"

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

/* The Bearer challenge with `scope` (a scope="…" parameter or ""). */
static void challenge(struct req *r, const char *scope, const char *error)
{
	char realm[600];

	if (r->cfg->auth_realm && *r->cfg->auth_realm)
		snprintf(realm, sizeof(realm), "%s", r->cfg->auth_realm);
	else
		snprintf(realm, sizeof(realm), "%s/token", r->base);
	resp_header(r, "WWW-Authenticate", "Bearer realm=\"%s\",service=\"%s\"%s%s%s%s", realm,
		    r->cfg->auth_service, scope, error ? ",error=\"" : "", error ? error : "",
		    error ? "\"" : "");
}

void gate_challenge(struct req *r, const char *repo, enum auth_action action,
		    const char *error)
{
	char scope[400] = "";

	if (action == AUTH_CATALOG)
		snprintf(scope, sizeof(scope), ",scope=\"registry:catalog:*\"");
	else if (repo)
		snprintf(scope, sizeof(scope), ",scope=\"repository:%s:%s\"", repo, action_scope(action));
	challenge(r, scope, error);
}

/* Verify the request's bearer token once; the outcome is kept in r. */
static void verify_once(struct req *r, struct auth_ctx *a)
{
	const char *h = req_param(r, "HTTP_AUTHORIZATION");
	json_t *claims = NULL;

	if (r->auth_state)
		return;
	r->auth_state = -1;
	if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
		snprintf(r->auth_error, sizeof(r->auth_error), "authentication required");
		return;
	}
	if (auth_verify_access(a, h + 7, &claims)) {
		snprintf(r->auth_error, sizeof(r->auth_error), "%s", berr_detail());
		return;
	}
	r->auth_claims = claims;
	r->auth_state = 1;
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
 * file, only on the insufficient-scope path. */
static unsigned repotoken_actions(const struct config *cfg, const char *name, const char *repo)
{
	struct auth_repotoken *t = NULL;
	unsigned acts;

	if (auth_repotoken_find(cfg->tokens_file, name, time(NULL), &t))
		return 0;
	acts = auth_scopes_actions(t->scopes, repo);
	auth_repotoken_free(t);
	return acts;
}

/* What the token service would give the subject of the verified claims on
 * `repo` if it asked now. */
static unsigned subject_may(struct req *r, struct auth_ctx *a, const char *repo)
{
	const json_t *berth = json_object_get(r->auth_claims, "berth");
	const char *kind = json_string_value(json_object_get(berth, "kind"));
	const char *sub = json_string_value(json_object_get(r->auth_claims, "sub"));
	unsigned acts = auth_claims_policy_actions(a, r->auth_claims, repo);

	if (kind && sub && strcmp(kind, "token") == 0)
		acts |= repotoken_actions(r->cfg, sub, repo);
	return acts;
}

/* The token names `repo` but lacks `want`: 401 insufficient_scope for the
 * union of what it has there and `want` if the subject may have it now,
 * else 403 DENIED. */
static enum berr scope_or_denied(struct req *r, struct auth_ctx *a, const char *repo,
				 enum auth_action action, unsigned have)
{
	struct auth_scope need = { .type = AUTH_SCOPE_REPOSITORY };
	char scope[REF_NAME_MAX + 64], param[REF_NAME_MAX + 80];
	unsigned want = action_bit(action);

	if (!(subject_may(r, a, repo) & want))
		return berr_set(BERR_DENIED, "requested access to %s (%s) is denied", repo,
				action_scope(action));
	snprintf(need.name, sizeof(need.name), "%s", repo);
	need.actions = have | want | (action == AUTH_PUSH ? AUTH_ACT_PULL : 0);
	if (auth_scope_format(scope, sizeof(scope), &need) < 0) { /* cannot happen: names fit */
		gate_challenge(r, repo, action, "insufficient_scope");
		return berr_set(BERR_UNAUTHORIZED, "the token does not grant %s on %s",
				action_scope(action), repo);
	}
	snprintf(param, sizeof(param), ",scope=\"%s\"", scope);
	challenge(r, param, "insufficient_scope");
	return berr_set(BERR_UNAUTHORIZED, "the token does not grant %s on %s: fetch a token "
			"for %s", action_scope(action), repo, scope);
}

enum berr gate_check(struct req *r, const char *repo, enum auth_action action)
{
	struct auth_ctx *a;
	json_t *access;
	unsigned have;
	enum berr err;

	if (strcmp(r->cfg->auth, "token") != 0)
		return BERR_OK;
	if ((err = auth_ctx_get(r->cfg, &a)))
		return err;
	verify_once(r, a);
	if (r->auth_state < 0) {
		gate_challenge(r, repo, action, NULL);
		return berr_set(BERR_UNAUTHORIZED, "%s", r->auth_error);
	}
	if (!repo && action != AUTH_CATALOG)
		return BERR_OK; /* /v2/: any valid token */
	access = json_object_get(r->auth_claims, "access");
	have = auth_access_actions(access, repo);
	if (have & action_bit(action))
		return BERR_OK;
	if (repo && claim_names(access, repo))
		return scope_or_denied(r, a, repo, action, have);
	gate_challenge(r, repo, action, "insufficient_scope");
	return berr_set(BERR_UNAUTHORIZED, "the token does not grant %s on %s",
			action_scope(action), repo ? repo : "the catalog");
}

int gate_visible(struct req *r, const char *repo)
{
	struct auth_ctx *a;

	if (strcmp(r->cfg->auth, "token") != 0)
		return 1;
	if (auth_ctx_get(r->cfg, &a))
		return 0;
	verify_once(r, a);
	if (r->auth_state < 0)
		return 0;
	if (auth_access_actions(json_object_get(r->auth_claims, "access"), repo) & AUTH_ACT_PULL)
		return 1;
	return (auth_claims_policy_actions(a, r->auth_claims, repo) & AUTH_ACT_PULL) != 0;
}
