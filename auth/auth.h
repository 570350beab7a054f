/*
 * auth.h - the single question every handler asks before it acts:
 * may this request do `action` on repository `repo`?
 *
 * Today every request may (no authentication is configured yet); the token
 * service, LDAP and the policy file will answer here without any handler
 * changing.  A refusal is BERR_UNAUTHORIZED (no or bad credentials: the
 * caller adds the WWW-Authenticate challenge) or BERR_DENIED.
 */
#ifndef BERTH_AUTH_H
#define BERTH_AUTH_H

#include "util/err.h"

struct req;

enum auth_action {
	AUTH_PULL = 1,
	AUTH_PUSH,
	AUTH_DELETE,
	AUTH_CATALOG,
};

/* `repo` is NULL for registry-wide actions (the base route, the catalog). */
enum berr auth_check(struct req *r, const char *repo, enum auth_action action);

#endif
