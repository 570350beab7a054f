/*
 * ldap.h - logins against an LDAP directory (OpenLDAP, Active Directory, ...).
 *
 * One struct auth_ldap per process that talks to the directory (the
 * children of auth/directory.c, and berthctl): it holds the settings, the
 * bind password and one connection, which is kept between requests and
 * rebuilt when it breaks.  Not thread-safe.
 *
 * The user is who the directory says: the value of ldap_user_attr on the
 * entry found, exactly as stored, is the user's name (auth_ldap_user.name);
 * what was typed only finds the entry.  An entry with no or several values
 * of it is refused (and the log says why).
 *
 *   struct auth_ldap *l;
 *   auth_ldap_new(cfg, &l);                     once, at process start
 *   rc = auth_ldap_login(l, user, pass, &groups, &ngroups);
 *   ...  auth_ldap_groups_free(groups, ngroups);
 *   auth_ldap_free(l);
 *
 * Results of auth_ldap_login:
 *   BERR_OK              the password is right; groups filled in
 *   BERR_UNAUTHORIZED    "invalid username or password" (never says which),
 *                        or "directory unavailable: <uri>: <reason>" when no
 *                        server could be asked (auth_ldap_unavailable() is
 *                        then 1: not a failed login for the rate limit).
 *                        These details are for the log, never for a client.
 *                        A TLS failure is logged as such, with the reason
 *                        the certificate was refused where it can be told.
 *   BERR_INTERNAL        out of memory
 */
#ifndef BERTH_AUTH_LDAP_H
#define BERTH_AUTH_LDAP_H

#include <stddef.h>
#include <time.h>

#include "util/config.h"
#include "util/err.h"

struct auth_ldap;

#define AUTH_LDAP_NAME_MAX 256

/* What the directory says about a user.  Release with
 * auth_ldap_user_release() whatever the result. */
struct auth_ldap_user {
	char *dn;                       /* the entry's DN (malloc'd) */
	char name[AUTH_LDAP_NAME_MAX];  /* ldap_user_attr's value; "" unknown */
	char **groups;                  /* as auth_ldap_login's groups */
	size_t ngroups;
	time_t pwd_changed;             /* pwdChangedTime or pwdLastSet; 0: not kept */
	int disabled;                   /* userAccountControl ACCOUNTDISABLE, or
					 * pwdAccountLockedTime present */
};

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
/* The same, filling *u: the name also when the password was wrong but the
 * entry was found (failed-login counters key on it). */
enum berr auth_ldap_login_user(struct auth_ldap *l, const char *user, const char *password,
			       struct auth_ldap_user *u);
/* 1 if the last auth_ldap_login failed because no directory server answered. */
int auth_ldap_unavailable(const struct auth_ldap *l);
/* 1 if the last login or lookup failed on the directory's side (a search
 * that failed, an entry that could not be read: "directory error: …"),
 * neither bad credentials nor an unknown user nor an unreachable server. */
int auth_ldap_broken(const struct auth_ldap *l);
/* The groups of `user` now, looked up with the service account (no user
 * bind): for refresh tokens.  BERR_UNAUTHORIZED "the user is not in the
 * directory" if the user is gone (or, with a DN template and no
 * ldap_bind_dn, cannot be read anonymously); unavailability as for login. */
enum berr auth_ldap_lookup(struct auth_ldap *l, const char *user, char ***groups,
			   size_t *ngroups);
/* The entry, name, state and groups of `user` now (refresh tokens,
 * berthctl ldap test); results as auth_ldap_lookup. */
enum berr auth_ldap_lookup_user(struct auth_ldap *l, const char *user, struct auth_ldap_user *u);
void auth_ldap_user_release(struct auth_ldap_user *u);
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
