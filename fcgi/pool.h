/*
 * pool.h - the listening sockets and the worker side of the pool.
 */
#ifndef BERTH_POOL_H
#define BERTH_POOL_H

#include "store/store.h"
#include "util/config.h"
#include "util/err.h"

/* Before the first pool_listen(), in the master: look up the run-as
 * account (util/privs.h); refuse when the pid file names a live berthd, and
 * when it names one that is gone, take over what it left (listen.c). */
enum berr pool_takeover(const struct config *cfg);

/* Listen on `addr`: a path (unix socket, created with `mode`) or HOST:PORT.
 * The socket is non-blocking so idle workers can wait in poll() and still
 * notice SIGTERM; a unix path held by a live server is refused, one whose
 * listener (a dead master) is gone is replaced, and the socket is given to
 * the run-as account. */
enum berr pool_listen(const char *addr, int backlog, int mode, int *fd);
/* Remove a unix socket's file (no-op for TCP). */
void pool_unlisten(const char *addr);

/* Serve requests from `fd` until SIGTERM; never returns. */
void pool_worker_run(int fd, const struct config *cfg, struct store *st) __attribute__((noreturn));

#endif
