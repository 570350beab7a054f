/*
 * privsep.h - what berth's two secret-holding processes share: the signer
 * (auth/signer.h, the token signing key) and the directory process
 * (auth/directory.h, the LDAP bind password).
 *
 * Each is forked by the master before the workers, forgets what it
 * inherited (signal handlers, blocked signals, descriptors), becomes
 * non-dumpable, listens on a unix SOCK_SEQPACKET socket that only its own
 * uid may open (mode 0600; given to the run-as account when berthd started
 * as root with `user` set, util/privs.h), and tells the master through a pipe whether it
 * came up ("ok") or why not ("e<reason>"), so that a bad key or password
 * file is reported by the call that started it.
 *
 *   pid_t pid;
 *   privsep_start("signer", signer_main, &args, &pid);      in the master
 *
 *   static void signer_main(void *arg, pid_t parent, int ready) {   in the child
 *           privsep_detach("berth-signer", ready, on_term);
 *           ... load the secret, privsep_listen(...) ...
 *           privsep_ready(ready, err ? berr_detail() : NULL);
 *           ... serve; privsep_unlisten(path, ino); _exit(0);
 *   }
 */
#ifndef BERTH_AUTH_PRIVSEP_H
#define BERTH_AUTH_PRIVSEP_H

#include <sys/types.h>
#include <sys/un.h>

#include "util/err.h"

/* `path` as a unix socket address; `what` names the socket in errors. */
enum berr privsep_addr(const char *what, const char *path, struct sockaddr_un *sa);

/* Bind and listen on `path` (SOCK_SEQPACKET, non-blocking, close-on-exec,
 * mode 0600); a stale socket there is replaced, any other file is an
 * error.  *ino identifies our socket file for privsep_unlisten(). */
enum berr privsep_listen(const char *what, const char *path, int backlog, int *fd,
			 ino_t *ino);
/* 1 when the peer of a connection accepted on such a socket may use it:
 * our own uid, root, or the run-as account. */
int privsep_peer_ok(int fd);
/* Remove `path` if it is still the socket we made (a newer process may have
 * replaced it during a restart). */
void privsep_unlisten(const char *path, ino_t ino);

/* In the child: default signal handlers (SIGPIPE and SIGHUP ignored,
 * SIGTERM and SIGINT to on_term), nothing blocked, every descriptor but
 * 0-2 and keep_fd closed, named `name`, not dumpable, umask 077. */
void privsep_detach(const char *name, int keep_fd, void (*on_term)(int));

/* Fork, run child_main(arg, parent pid, ready fd) in the child (it must not
 * return), and wait for its word on the ready pipe: BERR_OK with *pid, or
 * BERR_INTERNAL "<what>: <reason>" once the child has been reaped. */
enum berr privsep_start(const char *what, void (*child_main)(void *, pid_t, int), void *arg,
			pid_t *pid);
/* In the child: say "ok" (errmsg NULL) or why it could not start, and
 * close the pipe. */
void privsep_ready(int ready, const char *errmsg);

#endif
