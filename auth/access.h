/*
 * access.h - the registry's question, answered without HTTP: may the
 * caller do `action` on repository `repo`?
 *
 * Two steps.  A credential (the bearer token of a request) is verified
 * into claims once per request; then each question is decided from the
 * claims alone, with the policy and the repository tokens asked only on
 * the path where the token falls short.  The answer is a verdict and, for
 * a 401, the scope a client should fetch a token for; fcgi/gate.c turns it
 * into a status, a WWW-Authenticate challenge and an error code:
 *
 *   verdict                  HTTP (fcgi/gate.c)
 *   AUTH_ALLOWED             go on
 *   AUTH_UNAUTHENTICATED     401 + challenge for `scope` (no token, or a bad one)
 *   AUTH_INSUFFICIENT_SCOPE  401 + challenge with error="insufficient_scope"
 *   AUTH_DENIED              403 DENIED
 *
 * With `auth = none` every question is AUTH_ALLOWED and no credential is
 * read.
 */
#ifndef BERTH_AUTH_ACCESS_H
#define BERTH_AUTH_ACCESS_H

#include <jansson.h>

#include "auth/login.h"
#include "oci/ref.h"
#include "util/err.h"

enum auth_action {
	AUTH_PULL = 1,
	AUTH_PUSH,
	AUTH_DELETE,
	AUTH_CATALOG,
};

enum auth_verdict {
	AUTH_ALLOWED = 0,
	AUTH_UNAUTHENTICATED,
	AUTH_INSUFFICIENT_SCOPE,
	AUTH_DENIED,
};

struct auth_decision {
	enum auth_verdict verdict;
	/* what to ask the token service for: "repository:team/app:pull,push",
	 * "registry:catalog:*"; "" when there is nothing to name (/v2/) */
	char scope[REF_NAME_MAX + 64];
	/* why, for the error's detail ("" when allowed) */
	char detail[BERR_DETAIL_MAX];
};

/* Verify the credential of an Authorization header value (NULL: none
 * sent): "Bearer <token>", an access token of this service.  *claims gets
 * a new reference (json_decref it).  With auth = none, BERR_OK and *claims
 * NULL.  A refusal is BERR_UNAUTHORIZED with a detail saying why. */
enum berr auth_claims_verify(struct auth_ctx *a, const char *authorization, json_t **claims);

/* The answer for `action` on `repo` (NULL for registry-wide actions: the
 * base route, the catalog) for the holder of `claims` (NULL: no valid
 * credential).  Returns d->verdict. */
enum auth_verdict auth_decide(struct auth_ctx *a, const json_t *claims, const char *repo,
			      enum auth_action action, struct auth_decision *d);

/* May the holder of `claims` pull `repo` at all, whatever the token names?
 * For lists that show only what the caller can read (the catalog, a mount
 * without from). */
int auth_visible(struct auth_ctx *a, const json_t *claims, const char *repo);

#endif
