/*
 * ldap.h - logins against an LDAP directory (OpenLDAP, Active Directory, ...).
 *
 * One struct auth_ldap per worker: it holds the settings and the worker's
 * connection, which is kept between requests and rebuilt when it breaks.
 * Not thread-safe (workers are single-threaded processes).
 *
 *   struct auth_ldap *l;
 *   auth_ldap_new(cfg, &l);                     once, at worker start
 *   rc = auth_ldap_login(l, user, pass, &groups, &ngroups);
 *   ...  auth_ldap_groups_free(groups, ngroups);
 *   auth_ldap_free(l);
 *
 * Results of auth_ldap_login:
 *   BERR_OK              the password is right; groups filled in
 *   BERR_UNAUTHORIZED    "invalid username or password" (never says which),
 *                        or "directory unavailable: <uri>: <reason>" when no
 *                        server could be asked (auth_ldap_unavailable() is
 *                        then 1: not a failed login for the rate limit)
 *   BERR_INTERNAL        out of memory
 */
#ifndef BERTH_AUTH_LDAP_H
#define BERTH_AUTH_LDAP_H

#include <stddef.h>

#include "util/config.h"
#include "util/err.h"

struct auth_ldap;

/* Check the ldap_* settings of `cfg` and build the handle (no connection is
 * made yet).  BERR_INTERNAL with a detail naming the bad setting. */
enum berr auth_ldap_new(const struct config *cfg, struct auth_ldap **out);
void auth_ldap_free(struct auth_ldap *l);

/* Authenticate `user` with `password` and list the user's groups (a
 * malloc'd array of malloc'd names, deduplicated; *groups NULL and *ngroups 0
 * when there are none or group_mode is none).  An empty password or a user
 * name that is empty, too long (> 256 bytes) or holds control characters is
 * refused before the directory is asked.  The caller must refuse a user name
 * with an embedded NUL when it decodes the credentials (a C string cannot
 * carry it here). */
enum berr auth_ldap_login(struct auth_ldap *l, const char *user, const char *password,
			  char ***groups, size_t *ngroups);
/* 1 if the last auth_ldap_login failed because no directory server answered. */
int auth_ldap_unavailable(const struct auth_ldap *l);
/* The groups of `user` now, looked up with the service account (no user
 * bind): for refresh tokens.  BERR_UNAUTHORIZED "the user is not in the
 * directory" if the user is gone (or, with a DN template and no
 * ldap_bind_dn, cannot be read anonymously); unavailability as for login. */
enum berr auth_ldap_lookup(struct auth_ldap *l, const char *user, char ***groups,
			   size_t *ngroups);
void auth_ldap_groups_free(char **groups, size_t ngroups);

/* RFC 4515 assertion-value escaping of `len` bytes of `in` (NUL bytes
 * allowed): '*', '(', ')', '\\', NUL, every other control character and
 * every byte >= 0x80 become \XX (lowercase hex).  Escaping non-ASCII bytes
 * too is valid (the server reassembles the UTF-8) and keeps a malformed
 * sequence from confusing a filter parser.  Returns a malloc'd string. */
char *auth_ldap_filter_escape(const char *in, size_t len);
/* RFC 4514 attribute-value escaping for building a DN: '"', '+', ',', ';',
 * '<', '>', '\\', '=', a leading ' ' or '#', a trailing ' ' become "\c";
 * NUL and other control characters \XX.  Returns a malloc'd string. */
char *auth_ldap_dn_escape(const char *in, size_t len);
/* `tmpl` with each "%s" replaced by `value` (already escaped) and "%%" by
 * '%'; NULL if the template holds another '%' sequence. */
char *auth_ldap_template(const char *tmpl, const char *value);

#endif
