/*
 * notify.h - telling a service manager (systemd) how berthd is doing.
 *
 * The sd_notify(3) protocol without libsystemd: one datagram of
 * newline-separated KEY=VALUE lines to the AF_UNIX socket named by
 * $NOTIFY_SOCKET (a path, or an abstract name written with a leading '@').
 * berthd runs as `Type=notify`: systemd starts the units that need it,
 * and `systemctl start` returns, only after READY=1, so "started" means
 * the pools accept requests rather than "the process exists".
 *
 * Without $NOTIFY_SOCKET (a shell, `make run`, the tests) every call does
 * nothing and succeeds.  A failure to send never stops berthd: it is
 * logged as a warning (systemd then times the start out and says so).
 */
#ifndef BERTH_NOTIFY_H
#define BERTH_NOTIFY_H

#include "util/err.h"

/* Send `state` ("READY=1", "STATUS=…", several lines joined by '\n') as one
 * datagram.  BERR_OK when sent or when there is no $NOTIFY_SOCKET;
 * BERR_INTERNAL (detail set, a warning logged) when the variable names no
 * usable socket or the send fails. */
enum berr notify_send(const char *state);

/* The pools are up: READY=1 with MAINPID (the master; workers never
 * notify) and a STATUS line for `systemctl status`, `status` may be NULL. */
enum berr notify_ready(const char *status);

/* A SIGHUP reload begins: RELOADING=1 with MONOTONIC_USEC (what newer
 * systemd wants with it); notify_ready() ends it, refused or not. */
enum berr notify_reloading(void);

/* SIGTERM: the graceful stop begins (STOPPING=1). */
enum berr notify_stopping(void);

#endif
