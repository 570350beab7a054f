/*
 * ctl_auth.h - berthctl's "user" and "token" commands: local users and
 * repository tokens (auth/users.h), managed without a running pool.
 *
 *   berthctl user add NAME [--password-stdin]
 *   berthctl user passwd NAME [--password-stdin]
 *   berthctl user rm NAME
 *   berthctl user ls [--json]
 *   berthctl user revoke NAME          (local or directory user; passwd and rm
 *                                       revoke too: auth_user_revoke())
 *   berthctl token create NAME --scope SCOPE [--scope SCOPE ...] [--expires 90d|12h|never]
 *   berthctl token ls [--json]
 *   berthctl token revoke NAME
 *
 * Exit codes: 0 ok, 1 not found / already exists / could not be done,
 * 2 usage or configuration error.
 */
#ifndef BERTH_CTL_AUTH_H
#define BERTH_CTL_AUTH_H

#include "util/config.h"

/* argv[0] is "user" or "token"; returns the exit code. */
int ctl_auth_main(const struct config *cfg, int argc, char **argv);

#endif
