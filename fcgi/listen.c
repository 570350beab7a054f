/*
 * listen.c - the pool's listening sockets (pool.h), and taking over from a
 * master that died.
 *
 * A master killed with SIGKILL leaves its pid file and its socket files
 * behind, and its workers live on for a while: each gets SIGTERM (its
 * parent-death signal), an idle one leaves at once, a busy one finishes
 * the request it serves - a PATCH may stream for minutes - and then
 * leaves.  Such a worker still holds the old listening socket, so a
 * connect() to the path succeeds and the path looks "in use".  What tells
 * a live pool from a dead one is who listens: SO_PEERCRED on a connection
 * names the process that called listen(), the master.  If it is gone, the
 * socket is stale: the new master unlinks the path and binds a new socket
 * there.  New connections go to the new inode; the old workers finish on
 * the old one and exit; no request is cut.  A socket whose listener is
 * alive is refused as before (two pools on one socket would steal each
 * other's requests), and so is a pid file that names a live berthd.
 *
 * Before any of that, with a run-as account (util/privs.h), the store's
 * directories are made by the account (a child that drops, then opens the
 * store): made by the master, they would be root's.
 *
 * Unix sockets are given to the run-as account (util/privs.h), so that
 * nginx's workers, running as that account, may connect (socket_mode
 * 0660).  A TCP port still held by a dead master's busy worker cannot be
 * shared safely (SO_REUSEPORT would hand new connections to a worker that
 * is leaving): after a takeover the bind is retried until it is free, for
 * at most shutdown_timeout seconds.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fcgi/pool.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/privs.h"

static long tcp_wait;   /* seconds a TCP bind may wait for a dead master's workers */

static int is_unix(const char *addr)
{
	return addr[0] == '/' || addr[0] == '.' || !strrchr(addr, ':');
}

/* 1 when pid is a live process other than us whose program is berthd. */
static int live_berthd(pid_t pid)
{
	char path[64], comm[64] = "";
	FILE *f;

	if (pid <= 0 || pid == getpid() || (kill(pid, 0) < 0 && errno == ESRCH))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (!(f = fopen(path, "re")))
		return 0;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	return strcmp(comm, "berthd") == 0;
}

/* The pid a pid file names, or 0. */
static pid_t pidfile_pid(const char *path)
{
	char buf[32] = "";
	long v;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || !isdigit((unsigned char)buf[0]))
		return 0;
	v = strtol(buf, NULL, 10);
	return v > 0 && v < INT_MAX ? (pid_t)v : 0;
}

/* With a run-as account, the store's skeleton (store_open's directories)
 * is made by that account, not by the master as root: else the workers
 * could not write into it.  A store the account cannot write is refused
 * here, with its remedy, rather than by every push. */
static enum berr store_as_account(const struct config *cfg)
{
	struct store st;
	uid_t uid;
	gid_t gid;
	int status;
	pid_t pid;

	if (!privs_owner(&uid, &gid))
		return BERR_OK;
	if ((pid = fork()) < 0)
		return berr_sys("fork", "to open the store");
	if (pid == 0) {
		if (privs_drop(cfg) || store_open(&st, cfg->store) ||
		    access(st.root, W_OK) < 0)
			_exit(1);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return berr_sys("waitpid", "store check");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return berr_set(BERR_INTERNAL, "store %s: not writable by user %s (chown -R %s: it)",
				cfg->store, cfg->user, cfg->user);
	return BERR_OK;
}

enum berr pool_takeover(const struct config *cfg)
{
	enum berr err;
	pid_t old;

	if ((err = privs_init(cfg)) || (err = store_as_account(cfg)))
		return err;
	if (!cfg->pidfile || !(old = pidfile_pid(cfg->pidfile)))
		return BERR_OK;
	if (live_berthd(old))
		return berr_set(BERR_INTERNAL, "berthd %d (pid file %s) is running", (int)old,
				cfg->pidfile);
	log_warn("taking over from berthd %d (pid file %s), which is gone: its sockets are "
		 "replaced, its workers finish their requests", (int)old, cfg->pidfile);
	unlink(cfg->pidfile);
	tcp_wait = cfg->shutdown_timeout > 0 ? cfg->shutdown_timeout : 60;
	return BERR_OK;
}

/* A socket file at path: BERR_OK when it is stale (and now removed). */
static enum berr replace_stale(const char *path, const struct sockaddr_un *sa)
{
	struct ucred cred = { 0 };
	socklen_t clen = sizeof(cred);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return berr_sys("socket", path);
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 || cred.pid <= 0 ||
		    cred.pid == getpid() || kill(cred.pid, 0) == 0 || errno != ESRCH) {
			close(fd);
			return berr_set(BERR_INTERNAL, "%s is in use by another server (pid %d)",
					path, (int)cred.pid);
		}
		log_warn("%s: its master %d is gone (workers finishing requests hold it): "
			 "replacing it", path, (int)cred.pid);
	}
	close(fd);
	if (unlink(path) < 0 && errno != ENOENT)
		return berr_sys("remove stale socket", path);
	return BERR_OK;
}

static enum berr listen_unix(const char *path, int backlog, int mode, int *out)
{
	struct sockaddr_un sa;
	struct stat st;
	enum berr err;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (mem_strcpy(sa.sun_path, sizeof(sa.sun_path), path) < 0)
		return berr_set(BERR_INTERNAL, "socket path too long: %s", path);
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (err = replace_stale(path, &sa)))
		return err;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return berr_sys("socket", path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, (mode_t)mode) < 0 ||
	    listen(fd, backlog) < 0) {
		err = berr_sys("listen on", path);
		close(fd);
		return err;
	}
	if ((err = privs_give(path))) {
		close(fd);
		return err;
	}
	*out = fd;
	return BERR_OK;
}

/* bind(), retried while a dead master's workers still hold the port. */
static int bind_tcp(int fd, const struct addrinfo *ai, const char *addr)
{
	time_t until = time(NULL) + tcp_wait;
	int said = 0;

	while (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EADDRINUSE || time(NULL) >= until)
			return -1;
		if (!said++)
			log_warn("%s is still held by the old master's workers: waiting up to %ld s",
				 addr, tcp_wait);
		usleep(100 * 1000);
	}
	return 0;
}

static enum berr listen_tcp(const char *addr, int backlog, int *out)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	struct addrinfo hints, *ai = NULL;
	int fd = -1, one = 1, rc;
	size_t hl = (size_t)(colon - addr);

	if (hl >= sizeof(host))
		return berr_set(BERR_INTERNAL, "bad socket address %s", addr);
	memcpy(host, addr, hl);
	host[hl] = '\0';
	if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') { /* [::1]:9000 */
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(*host ? host : NULL, colon + 1, &hints, &ai)) != 0)
		return berr_set(BERR_INTERNAL, "socket address %s: %s", addr, gai_strerror(rc));
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind_tcp(fd, ai, addr) < 0 || listen(fd, backlog) < 0) {
		enum berr err = berr_sys("listen on", addr);
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return err;
	}
	freeaddrinfo(ai);
	*out = fd;
	return BERR_OK;
}

enum berr pool_listen(const char *addr, int backlog, int mode, int *fd)
{
	enum berr err;

	err = is_unix(addr) ? listen_unix(addr, backlog, mode, fd) : listen_tcp(addr, backlog, fd);
	if (!err && fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK) < 0)
		err = berr_sys("fcntl", addr);
	return err;
}

void pool_unlisten(const char *addr)
{
	if (addr && is_unix(addr))
		unlink(addr);
}
