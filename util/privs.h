/*
 * privs.h - running berth's processes as an unprivileged account.
 *
 * Started as root with `user` set in berth.conf, the master keeps root: it
 * binds the sockets (and hands them to the account: nginx's workers, which
 * run as that account too, must connect), and it forks the signer, which
 * keeps root and the only copy of the token signing key.  Every process
 * that touches requests or the store's contents - workers, the sweeper,
 * the directory process (once it has read the bind password) - drops to
 * the account right after fork, before it reads anything a client sent.
 * berthctl started as root drops to it too (privs_ctl), so that nothing it
 * creates in the store or the state directory is root's: a later push,
 * gc or worker could not change it.  Started as anyone else, nothing
 * changes.
 *
 * The account is looked up once, when the master starts (privs_init):
 * the sockets belong to it, so changing `user` needs a restart, like the
 * sockets themselves.
 */
#ifndef BERTH_PRIVS_H
#define BERTH_PRIVS_H

#include <sys/types.h>

#include "util/config.h"
#include "util/err.h"

/* In the master, before any socket is made: look up cfg->user when
 * running as root (an unknown account refuses the start).  Running as
 * root without `user`, it logs a warning: everything then runs as root. */
enum berr privs_init(const struct config *cfg);

/* The account privs_init found: 1 with its uid and primary gid, or 0
 * (not root, or no `user`): sockets and files then keep their owner. */
int privs_owner(uid_t *uid, gid_t *gid);

/* Give `path` (a socket or file the master just made) to the account;
 * no-op without one. */
enum berr privs_give(const char *path);

/* In a freshly forked child: become the account (its uid, primary gid
 * and supplementary groups) when running as root and `user` is set; no-op
 * otherwise.  The account privs_init found wins over a later cfg->user
 * (a reload cannot move the sockets).  On failure the child must exit: it
 * must never serve as root by accident. */
enum berr privs_drop(const struct config *cfg);

/* berthctl: run as root with `user` set, become that account before
 * `cmd` touches the store or the auth files.  `ldap test` keeps root: it
 * reads the bind password, which may be root's alone, and writes nothing. */
enum berr privs_ctl(const struct config *cfg, const char *cmd);

#endif
