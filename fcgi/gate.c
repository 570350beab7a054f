/*
 * gate.c - see gate.h: the HTTP half of authorization.  auth/access.h
 * decides (a verdict, and the scope a client should ask for); this file
 * reads the request's Authorization header, keeps the verified claims with
 * the request (r->auth_claims: one verification per request, however many
 * questions a handler asks), and turns a refusal into an answer:
 *
 *   AUTH_UNAUTHENTICATED     401 UNAUTHORIZED + Bearer challenge
 *   AUTH_INSUFFICIENT_SCOPE  401 + challenge with error="insufficient_scope"
 *   AUTH_DENIED              403 DENIED
 *
 * The challenge names the realm (auth_realm, else this host's /token), the
 * service and the scope, as docker and the distribution spec read it.
 */
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "fcgi/gate.h"
#include "fcgi/request.h"
#include "util/mem.h"

/* The Bearer challenge, asking for `scope` ("" names none). */
static void challenge(struct req *r, const char *scope, const char *error)
{
	char realm[600];

	if (r->cfg->auth_realm && *r->cfg->auth_realm)
		snprintf(realm, sizeof(realm), "%s", r->cfg->auth_realm);
	else
		snprintf(realm, sizeof(realm), "%s/token", r->base);
	resp_header(r, "WWW-Authenticate", "Bearer realm=\"%s\",service=\"%s\"%s%s%s%s%s%s",
		    realm, r->cfg->auth_service, *scope ? ",scope=\"" : "", scope,
		    *scope ? "\"" : "", error ? ",error=\"" : "", error ? error : "",
		    error ? "\"" : "");
}

/* Verify the request's credential once; the outcome is kept in r.  The
 * verification runs in its own error context: a refused token is an
 * answer (kept in r->auth_error for the 401), not this request's error. */
static void verify_once(struct req *r, struct auth_ctx *a)
{
	struct berr_ctx probe;
	json_t *claims = NULL;

	if (r->auth_state)
		return;
	berr_enter(&probe);
	if (auth_claims_verify(a, req_param(r, "HTTP_AUTHORIZATION"), &claims) == BERR_OK) {
		r->auth_claims = claims;
		r->auth_state = 1;
	} else {
		(void)mem_strcpy(r->auth_error, sizeof(r->auth_error), probe.detail); /* cut: fine */
		r->auth_state = -1;
	}
	berr_leave(&probe);
}

enum berr gate_check(struct req *r, const char *repo, enum auth_action action)
{
	struct auth_decision d;
	struct auth_ctx *a;
	enum berr err;

	if ((err = auth_ctx_get(r->cfg, &a)))
		return err;
	verify_once(r, a);
	switch (auth_decide(a, r->auth_claims, repo, action, &d)) {
	case AUTH_ALLOWED:
		return BERR_OK;
	case AUTH_UNAUTHENTICATED:
		challenge(r, d.scope, NULL);
		return berr_set(BERR_UNAUTHORIZED, "%s", r->auth_error[0] ? r->auth_error : d.detail);
	case AUTH_INSUFFICIENT_SCOPE:
		challenge(r, d.scope, "insufficient_scope");
		return berr_set(BERR_UNAUTHORIZED, "%s", d.detail);
	default:
		return berr_set(BERR_DENIED, "%s", d.detail);
	}
}

int gate_visible(struct req *r, const char *repo)
{
	struct auth_ctx *a;
	struct berr_ctx probe;
	int visible = 0;

	/* a registry whose keys cannot be loaded shows nothing: not this
	 * list's error */
	berr_enter(&probe);
	if (auth_ctx_get(r->cfg, &a) == BERR_OK) {
		verify_once(r, a);
		visible = auth_visible(a, r->auth_claims, repo);
	}
	berr_leave(&probe);
	return visible;
}
