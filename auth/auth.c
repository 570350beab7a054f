/*
 * auth.c - see auth.h.  With `auth = none` every request may do anything.
 * With `auth = token` a request needs a bearer token from berth's token
 * service (fcgi/h_token.c), verified here with public keys only:
 *
 *   no token, or a bad one          401 UNAUTHORIZED + WWW-Authenticate challenge
 *   token lacks this repository     401 + challenge with error="insufficient_scope"
 *                                   (the client fetches a token for it)
 *   token names the repository but  403 DENIED: the token service already
 *   not this action                 asked the policy, which said no
 *
 * Every requested repository appears in a token's access claim, with an
 * empty action list when nothing was granted; that is what tells the last
 * two cases apart.
 */
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "auth/auth.h"
#include "auth/login.h"
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

void auth_challenge(struct req *r, const char *repo, enum auth_action action,
		    const char *error)
{
	char realm[600], scope[400] = "";

	if (r->cfg->auth_realm && *r->cfg->auth_realm)
		snprintf(realm, sizeof(realm), "%s", r->cfg->auth_realm);
	else
		snprintf(realm, sizeof(realm), "%s/token", r->base);
	if (action == AUTH_CATALOG)
		snprintf(scope, sizeof(scope), ",scope=\"registry:catalog:*\"");
	else if (repo)
		snprintf(scope, sizeof(scope), ",scope=\"repository:%s:%s\"", repo, action_scope(action));
	resp_header(r, "WWW-Authenticate", "Bearer realm=\"%s\",service=\"%s\"%s%s%s%s", realm,
		    r->cfg->auth_service, scope, error ? ",error=\"" : "", error ? error : "",
		    error ? "\"" : "");
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

enum berr auth_check(struct req *r, const char *repo, enum auth_action action)
{
	struct auth_ctx *a;
	json_t *access;
	enum berr err;

	if (strcmp(r->cfg->auth, "token") != 0)
		return BERR_OK;
	if ((err = auth_ctx_get(r->cfg, &a)))
		return err;
	verify_once(r, a);
	if (r->auth_state < 0) {
		auth_challenge(r, repo, action, NULL);
		return berr_set(BERR_UNAUTHORIZED, "%s", r->auth_error);
	}
	if (!repo && action != AUTH_CATALOG)
		return BERR_OK; /* /v2/: any valid token */
	access = json_object_get(r->auth_claims, "access");
	if (auth_access_actions(access, repo) & action_bit(action))
		return BERR_OK;
	if (repo && claim_names(access, repo))
		return berr_set(BERR_DENIED, "requested access to %s (%s) is denied", repo,
				action_scope(action));
	auth_challenge(r, repo, action, "insufficient_scope");
	return berr_set(BERR_UNAUTHORIZED, "the token does not grant %s on %s",
			action_scope(action), repo ? repo : "the catalog");
}

int auth_visible(struct req *r, const char *repo)
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
