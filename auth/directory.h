/*
 * directory.h - privilege separation for the directory (LDAP) service
 * account, in the manner of auth/signer.h.
 *
 * The bind password and the LDAP connections live in the directory
 * process, which berthd starts when ldap_uri is set.  It parses no HTTP:
 * token workers ask it over a unix SOCK_SEQPACKET socket
 * (cfg->directory_socket, mode 0600, peer uid checked) to check a login or
 * to look a user up, and get back only what a token needs: the user's name
 * as the directory spells it, the groups, and the account's state.  It runs
 * cfg->directory_workers children, each with one LDAP connection and one
 * request at a time, so a slow or hung directory holds at most that many
 * LDAP operations and never an API worker.
 *
 * Protocol (SOCK_SEQPACKET, one connection per call: one request, one
 * reply; every field NUL-terminated; user <= 256 bytes, password <= 1024,
 * a reply <= 128 KiB, groups beyond that dropped with a warning):
 *
 *   request  'L' user '\0' password '\0'     check a login
 *   request  'U' user '\0'                   look a user up (no password)
 *   reply    'o' name '\0' pwd_changed '\0' disabled '\0' group '\0' ...
 *   reply    'b' [name] '\0'    wrong password (name: the entry was found)
 *                                or no such user
 *   reply    'u'                no directory server answered
 *   reply    'e'                anything else (the details are logged)
 *
 * Replies carry no URIs and no libldap text.  A client waits at most
 * (URIs x (ldap_network_timeout + 2 ldap_timeout) + 8 ldap_timeout + 2) s,
 * then answers "unavailable" itself: a hung directory costs a token worker
 * that long, never more, and never touches the API workers.
 *
 * What this protects: a memory disclosure or heap read in a worker that
 * parses request bodies cannot reveal the bind password (the directory
 * process is also non-dumpable).  It does not protect against code
 * execution as the same uid.  A bind password written inline in berth.conf
 * (ldap_bind_password) is read by the master with the file; the workers
 * wipe their copy when they start (fcgi/berthd.c), but
 * ldap_bind_password_file keeps it out of the master too.
 */
#ifndef BERTH_AUTH_DIRECTORY_H
#define BERTH_AUTH_DIRECTORY_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "util/config.h"
#include "util/err.h"

struct auth_dir_user {
	char name[256];       /* ldap_user_attr's value on the entry ("" unknown) */
	char **groups;        /* malloc'd names, NULL-terminated (may be NULL) */
	size_t ngroups;
	time_t pwd_changed;   /* pwdChangedTime / pwdLastSet; 0: not kept */
	int disabled;         /* AD ACCOUNTDISABLE, OpenLDAP pwdAccountLockedTime */
	int unavailable;      /* 1: no directory server answered (not a bad login) */
};

/* Fork the directory process for `cfg`: it reads the bind password, binds
 * cfg->directory_socket and only then is this call answered (errors with
 * their reason).  It exits when its parent dies or on SIGTERM. */
enum berr auth_directory_start(const struct config *cfg, pid_t *pid);

/* Check `password` for `user`.  BERR_OK with *u filled; BERR_UNAUTHORIZED
 * "invalid username or password" (u->name set when the user exists), or
 * with u->unavailable = 1 and detail "the directory is unavailable; try
 * again later" when no server answered.  Internal details are logged by
 * the directory process, never returned. */
enum berr auth_directory_login(const struct config *cfg, const char *user,
			       const char *password, struct auth_dir_user *u);
/* The user's groups and state now, without a password (refresh tokens,
 * berthctl).  BERR_UNAUTHORIZED "the user is not in the directory" when
 * gone; unavailability as for login. */
enum berr auth_directory_lookup(const struct config *cfg, const char *user,
				struct auth_dir_user *u);
void auth_dir_user_release(struct auth_dir_user *u);

#endif
