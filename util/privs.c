/*
 * privs.c - see privs.h.
 *
 * The order of a drop is the usual one: supplementary groups, then the
 * gid, then the uid (after setuid the others can no longer be changed),
 * and then a check that root cannot be regained.  A process that drops
 * loses its parent-death signal (the kernel clears it when credentials
 * change): whoever relies on one sets it after the drop.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "util/mem.h"
#include "util/privs.h"

static struct {
	int set;
	uid_t uid;
	gid_t gid;
	char name[64];
} runas;

static enum berr lookup(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd *pw;

	errno = 0;
	if (!(pw = getpwnam(name)))
		return berr_set(BERR_INTERNAL, "user %s: %s", name,
				errno ? strerror(errno) : "no such account (useradd --system it)");
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return BERR_OK;
}

enum berr privs_init(const struct config *cfg)
{
	enum berr err;

	if (geteuid() != 0)
		return BERR_OK;
	if (!cfg->user || !cfg->user[0]) {
		log_warn("running as root without `user` in %s: the workers run as root too; "
			 "set user = berth", cfg->path ? cfg->path : "berth.conf");
		return BERR_OK;
	}
	if (mem_strcpy(runas.name, sizeof(runas.name), cfg->user) != 0)
		return berr_set(BERR_INTERNAL, "user %s: name too long", cfg->user);
	if ((err = lookup(cfg->user, &runas.uid, &runas.gid)))
		return err;
	runas.set = 1;
	return BERR_OK;
}

int privs_owner(uid_t *uid, gid_t *gid)
{
	if (!runas.set)
		return 0;
	*uid = runas.uid;
	*gid = runas.gid;
	return 1;
}

enum berr privs_give(const char *path)
{
	if (runas.set && lchown(path, runas.uid, runas.gid) < 0)
		return berr_sys("chown", path);
	return BERR_OK;
}

static enum berr become(const char *name, uid_t uid, gid_t gid)
{
	if (initgroups(name, gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
		return berr_sys("cannot become", name);
	if (uid != 0 && setuid(0) == 0)
		return berr_set(BERR_INTERNAL, "could regain root after dropping to %s", name);
	return BERR_OK;
}

enum berr privs_drop(const struct config *cfg)
{
	uid_t uid;
	gid_t gid;
	enum berr err;

	if (geteuid() != 0)
		return BERR_OK;
	if (runas.set) {
		if (cfg->user && strcmp(cfg->user, runas.name) != 0)
			log_warn("user changed to %s: that needs a restart; staying %s", cfg->user,
				 runas.name);
		return become(runas.name, runas.uid, runas.gid);
	}
	if (!cfg->user || !cfg->user[0])
		return BERR_OK;
	if ((err = lookup(cfg->user, &uid, &gid)))
		return err;
	return become(cfg->user, uid, gid);
}

enum berr privs_ctl(const struct config *cfg, const char *cmd)
{
	if (cmd && strcmp(cmd, "ldap") == 0)
		return BERR_OK;
	return privs_drop(cfg);
}
