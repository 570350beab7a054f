/*
 * ctl_ldap.h - berthctl's "ldap" command: debug directory logins with a
 * tool instead of with docker.
 *
 *   berthctl ldap test USER [--json]
 *
 * Binds as the service account (ldap_bind_dn), finds USER the way a login
 * does, and prints the entry's DN, the user's name as the directory spells
 * it (ldap_user_attr), the groups found, the account's state (password
 * changed, disabled) where the directory keeps it, and what the policy
 * grants the user.  No password of USER is needed or asked for.
 *
 * Exit codes: 0 found, 1 not found, 2 usage or configuration error,
 * 3 the directory could not be reached.
 */
#ifndef BERTH_CTL_LDAP_H
#define BERTH_CTL_LDAP_H

#include "util/config.h"

/* argv[0] is "ldap"; returns the exit code. */
int ctl_ldap_main(const struct config *cfg, int argc, char **argv);

#endif
