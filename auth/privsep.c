/*
 * privsep.c - see privsep.h.  The signer's way of starting a process that
 * holds a secret, shared with the directory process.
 *
 * Started as root with a run-as account (util/privs.h), the socket file
 * is given to that account and keeps mode 0600: the workers, which run as
 * it, may connect, and nobody else but root.  The peer check then admits
 * the account, besides the process's own uid.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/privsep.h"
#include "util/privs.h"
#include "util/log.h"
#include "util/mem.h"

enum berr privsep_addr(const char *what, const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (!path || !*path || mem_strcpy(sa->sun_path, sizeof(sa->sun_path), path) < 0)
		return berr_set(BERR_INTERNAL, "%s socket %s: no path, or longer than %zu bytes",
				what, path ? path : "", sizeof(sa->sun_path) - 1);
	return BERR_OK;
}

enum berr privsep_listen(const char *what, const char *path, int backlog, int *out,
			 ino_t *ino)
{
	struct sockaddr_un sa;
	struct stat st;
	enum berr err;
	int fd;

	if ((err = privsep_addr(what, path, &sa)))
		return err;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return berr_set(BERR_INTERNAL, "%s socket %s: exists and is not a socket",
					what, path);
		if (unlink(path) < 0)
			return berr_sys("remove stale socket", path);
	}
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return berr_sys("socket", path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, backlog) < 0 || stat(path, &st) < 0) {
		err = berr_sys("bind socket", path);
		close(fd);
		return err;
	}
	if ((err = privs_give(path))) {
		close(fd);
		return err;
	}
	*ino = st.st_ino;
	*out = fd;
	return BERR_OK;
}

int privsep_peer_ok(int fd)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	uid_t uid;
	gid_t gid;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
		return 0;
	return cred.uid == geteuid() || cred.uid == 0 ||
	       (privs_owner(&uid, &gid) && cred.uid == uid);
}

void privsep_unlisten(const char *path, ino_t ino)
{
	struct stat st;

	if (ino && lstat(path, &st) == 0 && st.st_ino == ino)
		unlink(path);
}

void privsep_detach(const char *name, int keep_fd, void (*on_term)(int))
{
	struct sigaction sa;
	sigset_t none;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);  /* peers (and LDAP servers) may hang up */
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (keep_fd > 3)
		close_range(3, (unsigned)keep_fd - 1, 0);
	close_range((unsigned)keep_fd + 1, ~0U, 0);
	prctl(PR_SET_NAME, name, 0, 0, 0);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	log_set_name(name);
	umask(077);
}

void privsep_ready(int ready, const char *errmsg)
{
	char msg[600];
	ssize_t w;

	if (errmsg)
		snprintf(msg, sizeof(msg), "e%s", errmsg);
	else
		snprintf(msg, sizeof(msg), "ok");
	w = write(ready, msg, strlen(msg));
	(void)w;
	close(ready);
}

enum berr privsep_start(const char *what, void (*child_main)(void *, pid_t, int), void *arg,
			pid_t *pid)
{
	char msg[600];
	size_t got = 0;
	pid_t parent = getpid(), child;
	int p[2];

	*pid = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return berr_sys("pipe for", what);
	fflush(NULL);
	if ((child = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return berr_sys("fork", what);
	}
	if (child == 0) {
		close(p[0]);
		child_main(arg, parent, p[1]);
		_exit(1);
	}
	close(p[1]);
	for (;;) {
		ssize_t n = read(p[0], msg + got, sizeof(msg) - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (got += (size_t)n) == sizeof(msg) - 1)
			break;
	}
	close(p[0]);
	msg[got] = '\0';
	if (strcmp(msg, "ok") == 0) {
		*pid = child;
		return BERR_OK;
	}
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	return berr_set(BERR_INTERNAL, "%s: %s", what, got > 1 ? msg + 1 : "exited before it was ready");
}
