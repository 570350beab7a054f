/*
 * scope.h - the resource scopes of the Docker token spec, and the "access"
 * claim they become in a token.
 *
 *   scope  := resourcescope [ ' ' resourcescope ]*
 *   resourcescope := type [ '(' class ')' ] ':' name ':' action [ ',' action ]*
 *
 * e.g. "repository:team/app:pull,push", "repository:team/app:*",
 * "registry:catalog:*".  A name may hold a ':' (clients may put a
 * host:port in front), so the type ends at the first ':' and the actions
 * start after the last one.  Asking for more is never an error: unknown
 * types, unknown actions, names that are no valid repository name (so also
 * names with a host:port) are ignored; a scope left with no action we know
 * is dropped.  The same resource asked twice is merged.
 */
#ifndef BERTH_AUTH_SCOPE_H
#define BERTH_AUTH_SCOPE_H

#include <stddef.h>
#include <jansson.h>

#include "oci/ref.h"

/* Action bits, shared with the policy (auth/policy.h). */
#define AUTH_ACT_PULL    1u
#define AUTH_ACT_PUSH    2u
#define AUTH_ACT_DELETE  4u
#define AUTH_ACT_CATALOG 8u
#define AUTH_ACT_REPO    (AUTH_ACT_PULL | AUTH_ACT_PUSH | AUTH_ACT_DELETE) /* "*" */

/* At most this many scopes per token request; more are ignored (a token
 * must stay well inside AUTH_JWT_MAX and nginx's header buffers). */
#define AUTH_SCOPE_MAX 16

enum auth_scope_type {
	AUTH_SCOPE_REPOSITORY = 1,    /* name: a repository, actions pull/push/delete */
	AUTH_SCOPE_REGISTRY,          /* name: "catalog", action AUTH_ACT_CATALOG */
};

struct auth_scope {
	enum auth_scope_type type;
	char name[REF_NAME_MAX + 1];
	unsigned actions;             /* AUTH_ACT_* */
};

/* Parse one scope parameter value (already URL-decoded; space-separated
 * scopes, '+' accepted as a separator too) and add its scopes to v[0..n),
 * which holds at most `max`.  Returns the new count.  Never fails. */
size_t auth_scope_parse(struct auth_scope *v, size_t n, size_t max, const char *param);

/* What the scope strings `scopes` (NULL-terminated, as a repository token
 * keeps them) grant on repository `repo`, or with repo NULL the catalog
 * bit.  Names are compared exactly. */
unsigned auth_scopes_actions(char *const *scopes, const char *repo);

/* "repository:team/app:pull,push" into buf; the length, or -1 if it does
 * not fit.  For the scope="…" of a WWW-Authenticate challenge. */
int auth_scope_format(char *buf, size_t size, const struct auth_scope *s);

/* Action names of the bits in `actions` for a scope of `type`, as the
 * access claim spells them (registry catalog: "*"). */
json_t *auth_scope_actions_json(enum auth_scope_type type, unsigned actions);

/* The JWT "access" claim for v[0..n): [{"type","name","actions"}, ...];
 * scopes without actions are left out.  NULL only when out of memory. */
json_t *auth_access_claim(const struct auth_scope *v, size_t n);

/* 1 if the access claim grants `action` ("pull", "push", "delete", "*")
 * on type:name ("repository", "team/app" or "registry", "catalog").
 * An entry whose actions hold "*" grants every action. */
int auth_access_allows(const json_t *access, const char *type, const char *name,
		       const char *action);
/* The AUTH_ACT_* bits the access claim grants on repository `name` (or,
 * with name NULL, AUTH_ACT_CATALOG if registry:catalog:* is granted). */
unsigned auth_access_actions(const json_t *access, const char *name);

#endif
