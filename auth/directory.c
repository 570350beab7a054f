/*
 * directory.c - the directory process and its client (see directory.h).
 *
 *   berthd ──fork──> directory: auth_ldap_new (reads the bind password),
 *      │              bind the socket, "ok" on a pipe, then fork N children
 *      │                 └── child: accept, one request, LDAP, one reply, close
 *      └──fork──> token workers ──connect per call──> directory.sock
 *
 * The protocol is drawn in directory.h.
 *
 * Replies never carry URIs or libldap text: the children log the details.
 * Each child holds one LDAP connection and serves one request at a time,
 * so at most directory_workers LDAP operations are in flight; more
 * requests wait in the listen backlog, and their clients give up after
 * dir_wait() and answer "unavailable".  A connection per call
 * (not one per worker) keeps an idle token worker from holding a child.
 *
 * Like the signer (and with the same code, auth/privsep.c), the process
 * forgets the master's signal handlers, mask and descriptors, is
 * non-dumpable (no ptrace, no core: the bind password
 * stays here), and exits when berthd dies or on SIGTERM, taking its
 * children along (they get SIGTERM when it dies).  A child that dies is
 * restarted, at most once a second per slot.  On a reload berthd starts a
 * new directory process first (it replaces the socket file), then stops
 * the old one, which removes the socket only if it is still its own.
 *
 * Started as root with a run-as account (util/privs.h), the process reads
 * the bind password file (which may be root's alone) and binds its socket
 * as root, then drops to the account before it talks to any directory or
 * client: a flaw in libldap's parsing of a server's answer then yields
 * that account, not root.  Its socket is left behind when it exits (the
 * run directory is root's); the next start replaces it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/directory.h"
#include "auth/ldap.h"
#include "auth/privsep.h"
#include "util/privs.h"
#include "util/log.h"
#include "util/metrics.h"

#define DIR_USER_MAX 256
#define DIR_PASSWORD_MAX 1024
#define DIR_REQ_MAX (2 + DIR_USER_MAX + DIR_PASSWORD_MAX + 2)
#define DIR_REPLY_MAX (128 * 1024)
#define DIR_CHILDREN_MAX 64
#define UNAVAILABLE "the directory is unavailable; try again later"
#define BAD_LOGIN "invalid username or password"
#define NOT_THERE "the user is not in the directory"

static volatile sig_atomic_t dir_stop;

static void on_term(int sig)
{
	(void)sig;
	dir_stop = 1;
}

/* ------------------------------------------------------------- the process */

/* Append a NUL-terminated field; 0 when it does not fit. */
static int put(char *buf, size_t cap, size_t *len, const char *s)
{
	size_t n = strlen(s) + 1;

	if (*len + n > cap)
		return 0;
	memcpy(buf + *len, s, n);
	*len += n;
	return 1;
}

static size_t reply_ok(const struct auth_ldap_user *u, const char *user, char *buf, size_t cap)
{
	char num[32];
	size_t len = 1, i;

	buf[0] = 'o';
	snprintf(num, sizeof num, "%lld", (long long)u->pwd_changed);
	put(buf, cap, &len, u->name);
	put(buf, cap, &len, num);
	put(buf, cap, &len, u->disabled ? "1" : "0");
	for (i = 0; i < u->ngroups; i++)
		if (!put(buf, cap, &len, u->groups[i])) {
			log_warn("directory: %s: %zu groups do not fit in a reply; keeping the first %zu",
				 user, u->ngroups, i);
			break;
		}
	return len;
}

/* Answer the request req[0..n) into buf; returns the reply's length. */
static size_t dir_answer(struct auth_ldap *l, char *req, size_t n, char *buf, size_t cap)
{
	struct auth_ldap_user u;
	const char *user = req + 1, *pw = NULL;
	size_t ulen, len = 1;
	enum berr rc;

	if (n < 3 || req[n - 1] != '\0' || (req[0] != 'L' && req[0] != 'U') ||
	    (ulen = strlen(user)) > DIR_USER_MAX || (req[0] == 'L' && 2 + ulen >= n)) {
		log_warn("directory: malformed request (%zu bytes)", n);
		buf[0] = 'e';
		return 1;
	}
	if (req[0] == 'L') {
		pw = user + ulen + 1;
		rc = auth_ldap_login_user(l, user, pw, &u);
	} else {
		rc = auth_ldap_lookup_user(l, user, &u);
	}
	if (rc == BERR_OK) {
		len = reply_ok(&u, user, buf, cap);
	} else if (rc == BERR_UNAUTHORIZED && auth_ldap_unavailable(l)) {
		log_err("directory: %s of %s: %s", req[0] == 'L' ? "login" : "lookup", user, berr_detail());
		buf[0] = 'u';
	} else if (rc == BERR_UNAUTHORIZED && !auth_ldap_broken(l)) {
		buf[0] = 'b';
		put(buf, cap, &len, u.name);
	} else {
		log_err("directory: %s of %s: %s", req[0] == 'L' ? "login" : "lookup", user, berr_detail());
		buf[0] = 'e';
	}
	auth_ldap_user_release(&u);
	return len;
}

/* One connection: one request, one reply. */
static void dir_serve_one(struct auth_ldap *l, int fd, char *req, char *reply)
{
	struct timeval tv = { 5, 0 };
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;
	size_t len;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	n = recv(fd, req, DIR_REQ_MAX, MSG_TRUNC);
	if (n <= 0)
		return;
	if ((size_t)n > DIR_REQ_MAX) {
		reply[0] = 'e';
		len = 1;
	} else {
		/* a client that gave up while this waited in the backlog is gone:
		 * spare the directory the work */
		if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)))
			goto out;
		len = dir_answer(l, req, (size_t)n, reply, DIR_REPLY_MAX);
	}
	if (send(fd, reply, len, MSG_NOSIGNAL) != (ssize_t)len)
		log_info("directory: the client left before its answer");
out:
	explicit_bzero(req, DIR_REQ_MAX);   /* the user's password */
}

static void child_main(struct auth_ldap *l, int lfd, pid_t parent)
{
	static char req[DIR_REQ_MAX], reply[DIR_REPLY_MAX];
	struct pollfd p = { .fd = lfd, .events = POLLIN };

	/* SIGTERM ends a child at once, even inside a hung LDAP operation:
	 * it keeps nothing that needs saving */
	signal(SIGTERM, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0 || getppid() != parent)
		_exit(1);
	while (!dir_stop && getppid() == parent) {
		int fd;

		if (poll(&p, 1, 1000) <= 0)
			continue;
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;   /* another child took it */
		if (privsep_peer_ok(fd))
			dir_serve_one(l, fd, req, reply);
		close(fd);
	}
	auth_ldap_free(l);
	_exit(0);
}

static pid_t spawn_child(struct auth_ldap *l, int lfd)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0)
		child_main(l, lfd, parent);
	if (pid < 0)
		log_err("directory: fork: %s", strerror(errno));
	return pid;
}

/* Keep n children running until told to stop or berthd is gone. */
static void supervise(struct auth_ldap *l, int lfd, pid_t parent, int n)
{
	pid_t kids[DIR_CHILDREN_MAX] = { 0 };
	time_t due[DIR_CHILDREN_MAX] = { 0 };
	int i, status;
	pid_t pid;

	while (!dir_stop && getppid() == parent) {
		time_t now = time(NULL);

		for (i = 0; i < n; i++)
			if (kids[i] <= 0 && now >= due[i]) {
				kids[i] = spawn_child(l, lfd);
				due[i] = now + 1;
			}
		sleep(1);   /* SIGTERM or SIGCHLD end it early */
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			for (i = 0; i < n; i++)
				if (kids[i] == pid) {
					kids[i] = 0;
					if (!dir_stop)
						log_warn("directory: child %d exited (status %d); restarting it",
							 (int)pid, status);
				}
	}
	for (i = 0; i < n; i++)
		if (kids[i] > 0)
			kill(kids[i], SIGTERM);
	for (i = 0; i < n; i++)
		if (kids[i] > 0)
			waitpid(kids[i], NULL, 0);
}

static void on_chld(int sig)
{
	(void)sig;  /* only to interrupt sleep() */
}

static void dir_main(void *arg, pid_t parent, int ready)
{
	const struct config *cfg = arg;
	struct auth_ldap *l = NULL;
	struct sigaction sa;
	ino_t ino = 0;
	int lfd = -1, n;

	privsep_detach("berth-directory", ready, on_term);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0 || getppid() != parent)
		_exit(1);
	/* The bind password file may be root's alone: read it, bind the
	 * socket (given to the run-as account), and only then drop. */
	if (auth_ldap_new(cfg, &l) ||
	    privsep_listen("directory", cfg->directory_socket, 128, &lfd, &ino) ||
	    privs_drop(cfg)) {
		privsep_ready(ready, berr_detail());
		auth_ldap_free(l);
		_exit(1);
	}
	/* a change of uid cleared the parent-death signal */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0 || getppid() != parent)
		_exit(1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_chld;
	sigaction(SIGCHLD, &sa, NULL);
	privsep_ready(ready, NULL);
	n = cfg->directory_workers > 0 ? cfg->directory_workers : 2;
	if (n > DIR_CHILDREN_MAX)
		n = DIR_CHILDREN_MAX;
	log_info("directory ready on %s: %d connections to %s", cfg->directory_socket, n, cfg->ldap_uri);
	supervise(l, lfd, parent, n);
	close(lfd);
	privsep_unlisten(cfg->directory_socket, ino);
	auth_ldap_free(l);      /* clears the bind password */
	_exit(0);
}

enum berr auth_directory_start(const struct config *cfg, pid_t *pid)
{
	return privsep_start("directory", dir_main, (void *)cfg, pid);
}

/* ------------------------------------------------------------- the client */

/* How long a client waits: every URI's connect and first operations, the
 * operations of a login (search, bind, bind back, group search), all once
 * more on a reconnect, and some slack. */
static long dir_wait(const struct config *cfg)
{
	long net = cfg->ldap_network_timeout > 0 ? cfg->ldap_network_timeout : 5;
	long op = cfg->ldap_timeout > 0 ? cfg->ldap_timeout : 5;
	long nuris = 0;
	const char *p = cfg->ldap_uri ? cfg->ldap_uri : "";

	for (; (p = strstr(p, "://")); p += 3)
		nuris++;
	if (nuris == 0)
		nuris = 1;
	return nuris * (net + 2 * op) + 2 * 4 * op + 2;
}

/* One request, one reply on a fresh connection: 'u' when the directory
 * process is not there or does not answer in time. */
static enum berr dir_call(const struct config *cfg, const char *req, size_t len, char *reply,
			  size_t cap, size_t *rlen)
{
	struct timeval tv = { dir_wait(cfg), 0 };
	struct sockaddr_un sa;
	ssize_t n = -1;
	int fd;

	*rlen = 1;
	reply[0] = 'u';
	if (privsep_addr("directory", cfg->directory_socket, &sa) ||
	    (fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0)
		return BERR_OK;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		log_err("directory: connect to %s: %s", cfg->directory_socket, strerror(errno));
	else if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len ||
		 (n = recv(fd, reply, cap, MSG_TRUNC)) <= 0)
		log_err("directory %s: %s", cfg->directory_socket,
			n == 0 ? "closed the connection" : errno == EAGAIN ?
			"no answer in time" : strerror(errno));
	close(fd);
	if (n <= 0 || (size_t)n >= cap) {
		reply[0] = 'u';
		n = 1;
	}
	reply[n] = '\0';
	*rlen = (size_t)n;
	return BERR_OK;
}

static char **parse_groups(const char *p, const char *end, size_t *n)
{
	size_t count = 0, i = 0;
	const char *q;
	char **v;

	for (q = p; q < end; q += strlen(q) + 1)
		count++;
	if ((v = calloc(count + 1, sizeof(*v))) == NULL)
		return NULL;
	for (q = p; q < end && i < count; q += strlen(q) + 1)
		if ((v[i++] = strdup(q)) == NULL) {
			auth_ldap_groups_free(v, i);
			return NULL;
		}
	*n = count;
	return v;
}

static void set_name(struct auth_dir_user *u, const char *s)
{
	size_t n = strnlen(s, sizeof(u->name) - 1);

	memcpy(u->name, s, n);
	u->name[n] = '\0';
}

/* The reply as the caller's answer. */
static enum berr dir_result(const char *reply, size_t rlen, const char *bad,
			    struct auth_dir_user *u)
{
	const char *p = reply + 1, *end = reply + rlen, *f[3];
	int i;

	switch (reply[0]) {
	case 'b':
		if (rlen > 1)
			set_name(u, p);
		return berr_set(BERR_UNAUTHORIZED, "%s", bad);
	case 'o':
		for (i = 0; i < 3; i++) {
			if (p >= end || memchr(p, '\0', (size_t)(end - p)) == NULL)
				return berr_set(BERR_INTERNAL, "directory: malformed reply");
			f[i] = p;
			p += strlen(p) + 1;
		}
		set_name(u, f[0]);
		u->pwd_changed = (time_t)strtoll(f[1], NULL, 10);
		u->disabled = f[2][0] == '1';
		if (p < end && end[-1] != '\0')
			return berr_set(BERR_INTERNAL, "directory: malformed reply");
		u->groups = parse_groups(p, end, &u->ngroups);
		return u->groups ? BERR_OK : berr_set(BERR_INTERNAL, "out of memory");
	default:    /* 'u', 'e': not the caller's fault either way */
		u->unavailable = 1;
		return berr_set(BERR_UNAUTHORIZED, "%s", UNAVAILABLE);
	}
}

static enum berr dir_ask(const struct config *cfg, char kind, const char *user,
			 const char *password, const char *bad, struct auth_dir_user *u)
{
	static char reply[DIR_REPLY_MAX + 1];
	char req[DIR_REQ_MAX];
	size_t ulen = strlen(user), plen = password ? strlen(password) : 0, len, rlen;
	uint64_t t0;
	enum berr err;

	memset(u, 0, sizeof(*u));
	if (ulen == 0 || ulen > DIR_USER_MAX || plen > DIR_PASSWORD_MAX ||
	    (kind == 'L' && plen == 0))
		return berr_set(BERR_UNAUTHORIZED, "%s", bad);
	req[0] = kind;
	memcpy(req + 1, user, ulen + 1);
	len = ulen + 2;
	if (password) {
		memcpy(req + len, password, plen + 1);
		len += plen + 1;
	}
	t0 = metrics_clock();
	dir_call(cfg, req, len, reply, sizeof(reply), &rlen);
	metrics_directory(reply[0], t0);
	explicit_bzero(req, sizeof(req));
	err = dir_result(reply, rlen, bad, u);
	if (err && !u->name[0])
		auth_dir_user_release(u);
	return err;
}

enum berr auth_directory_login(const struct config *cfg, const char *user,
			       const char *password, struct auth_dir_user *u)
{
	return dir_ask(cfg, 'L', user, password, BAD_LOGIN, u);
}

enum berr auth_directory_lookup(const struct config *cfg, const char *user,
				struct auth_dir_user *u)
{
	return dir_ask(cfg, 'U', user, NULL, NOT_THERE, u);
}

void auth_dir_user_release(struct auth_dir_user *u)
{
	int unavailable = u->unavailable;

	auth_ldap_groups_free(u->groups, u->ngroups);
	memset(u, 0, sizeof(*u));
	u->unavailable = unavailable;
}
