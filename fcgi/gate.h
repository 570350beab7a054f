/*
 * gate.h - the single question every handler asks before it acts:
 * may this request do `action` on repository `repo`?
 *
 * With `auth = none` every request may; with `auth = token` the request's
 * bearer token (issued by the token service after a login against local
 * users, repository tokens or LDAP, and the policy file) decides, through
 * auth/access.h; this is the HTTP half.  A refusal is BERR_UNAUTHORIZED
 * (the WWW-Authenticate challenge is already added to the answer) or
 * BERR_DENIED.
 */
#ifndef BERTH_GATE_H
#define BERTH_GATE_H

#include "auth/access.h"
#include "util/err.h"

struct req;

/* `repo` is NULL for registry-wide actions (the base route, the catalog). */
enum berr gate_check(struct req *r, const char *repo, enum auth_action action);
/* May the caller pull `repo` at all, whatever its token names?  For lists
 * that show only what the caller can read (the catalog, mount without from). */
int gate_visible(struct req *r, const char *repo);

#endif
