/*
 * privs.c - see privs.h.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "util/privs.h"

enum berr privs_drop(const struct config *cfg)
{
	struct passwd *pw;

	if (geteuid() != 0 || !cfg->user || !cfg->user[0])
		return BERR_OK;
	errno = 0;
	if (!(pw = getpwnam(cfg->user)))
		return berr_set(BERR_INTERNAL, "user %s: %s", cfg->user,
				errno ? strerror(errno) : "no such account");
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		return berr_sys("cannot become", cfg->user);
	if (setuid(0) == 0)
		return berr_set(BERR_INTERNAL, "could regain root after dropping to %s", cfg->user);
	return BERR_OK;
}
