/*
 * privs.h - running berthd's processes as an unprivileged account.
 *
 * Started as root with `user` set in berth.conf, the master keeps root (it
 * binds sockets and forks the signer, which keeps the only copy of the
 * token signing key), and every process that touches requests or the
 * store's contents - workers, the sweeper, the directory process - drops
 * to that account right after fork, before it reads anything a client
 * sent.  Started as anyone else, nothing changes.
 */
#ifndef BERTH_PRIVS_H
#define BERTH_PRIVS_H

#include "util/config.h"
#include "util/err.h"

/* In a freshly forked child: become cfg->user (its uid, primary gid and
 * supplementary groups) when running as root and `user` is set; no-op
 * otherwise.  On failure the child must exit: it must never serve as root
 * by accident. */
enum berr privs_drop(const struct config *cfg);

#endif
