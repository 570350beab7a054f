/*
 * signer.c - the signing-key process and its client (see signer.h).
 *
 *   master ──fork──> signer: load key, bind socket, "ok" on a pipe, serve
 *      └──fork──> workers ──SOCK_SEQPACKET──> signer
 *
 * SOCK_SEQPACKET keeps message boundaries, so one recv() is one request
 * and a message longer than the buffer is seen as such (MSG_TRUNC) instead
 * of being split.  The signer serves every connection from one poll()
 * loop with non-blocking sockets: a worker that connects and stalls holds
 * one slot, not the signer.  Signing takes ~50 µs, so one process is plenty.
 *
 * After fork the signer drops what it inherited from the master: signal
 * handlers (reset to default, or the master's code would run here), blocked
 * signals and file descriptors (listening sockets, logs) other than 0-2.
 * It asks to be sent SIGTERM when the master dies and re-checks getppid()
 * on every poll timeout, so it never outlives the pool.  The start, the
 * detaching and the socket are shared with the directory process
 * (auth/privsep.c).
 *
 * Started as root with a run-as account, the signer is the one process
 * that keeps root (with the key file, 0600 root): it never drops, and its
 * socket belongs to the account, whose workers alone (and root) may ask.
 *
 * Run on its own (auth_signer_run, signer = external) it is the same loop
 * without a parent: systemd starts it under an account of its own that
 * owns the key, in the group the workers run in.  The group is then what
 * admits them: a socket of mode 0660 in that group, and a peer check that
 * takes the group too.  No root is needed anywhere, and a worker taken
 * over still cannot read the key: it is another uid's 0600 file.
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

#include <openssl/crypto.h>

#include "auth/b64url.h"
#include "auth/privsep.h"
#include "auth/signer.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/notify.h"

#define SIGNER_CONNS 128          /* simultaneous worker connections */
#define SIGNER_REPLY_MAX 4096
#define SIGNER_TIMEOUT_S 5

static volatile sig_atomic_t signer_stop;
static int signer_alone;          /* auth_signer_run: peers of our group too */

static void on_term(int sig)
{
	(void)sig;
	signer_stop = 1;
}

/* ------------------------------------------------------------- the signer */

/* A sign request must be "<b64url>.<b64url>", nothing else. */
static int looks_like_signing_input(const char *s, size_t n)
{
	size_t i, dots = 0, dot = 0;

	if (n < 3 || n > AUTH_SIGNER_INPUT_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			dots++;
			dot = i;
		} else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			     (c >= '0' && c <= '9') || c == '-' || c == '_')) {
			return 0;
		}
	}
	return dots == 1 && dot > 0 && dot < n - 1;
}

struct signer {
	EVP_PKEY *key;
	char kid[AUTH_KID_LEN + 1];
	char *pem;
	char req[1 + AUTH_JWT_MAX];
	char reply[SIGNER_REPLY_MAX];
};

/* Answer one request of n bytes (n may exceed the buffer: truncated). */
static size_t signer_answer(struct signer *sg, size_t n)
{
	char sig[AUTH_ES256_SIG_B64_LEN + 1];

	if (n > sizeof(sg->req))
		return (size_t)snprintf(sg->reply, sizeof(sg->reply), "erequest too large");
	if (n == 1 && sg->req[0] == 'P')
		return (size_t)snprintf(sg->reply, sizeof(sg->reply), "o%s\n%s", sg->kid, sg->pem);
	if (n < 1 || sg->req[0] != 'S')
		return (size_t)snprintf(sg->reply, sizeof(sg->reply), "eunknown request");
	if (!looks_like_signing_input(sg->req + 1, n - 1))
		return (size_t)snprintf(sg->reply, sizeof(sg->reply), "enot a JWS signing input");
	if (auth_es256_sign(sg->key, sg->req + 1, n - 1, sig) != BERR_OK)
		return (size_t)snprintf(sg->reply, sizeof(sg->reply), "e%s", berr_detail());
	return (size_t)snprintf(sg->reply, sizeof(sg->reply), "o%s", sig);
}

/* 0 to keep the connection, -1 to close it. */
static int signer_conn(struct signer *sg, int fd)
{
	ssize_t n = recv(fd, sg->req, sizeof(sg->req), MSG_TRUNC | MSG_DONTWAIT);
	size_t len;

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0)
		return -1; /* peer closed (an empty message is impossible to tell apart) */
	len = signer_answer(sg, (size_t)n);
	if (len >= sizeof(sg->reply))
		len = sizeof(sg->reply) - 1;
	return send(fd, sg->reply, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* The standalone signer also admits its group: the workers' account. */
static int peer_ok(int fd)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);

	if (privsep_peer_ok(fd))
		return 1;
	return signer_alone && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 &&
	       cred.gid == getegid();
}

static void signer_accept(int lfd, struct pollfd *fds, nfds_t *n)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (!peer_ok(fd) || *n >= SIGNER_CONNS + 1) {
		close(fd);
		return;
	}
	fds[*n].fd = fd;
	fds[*n].events = POLLIN;
	fds[*n].revents = 0;
	(*n)++;
}

static void signer_serve(struct signer *sg, int lfd, pid_t parent)
{
	struct pollfd fds[SIGNER_CONNS + 1];
	nfds_t n = 1, i;

	fds[0].fd = lfd;
	fds[0].events = POLLIN;
	while (!signer_stop && (!parent || getppid() == parent)) {
		if (poll(fds, n, 1000) <= 0)
			continue;
		for (i = n; i-- > 1;) {
			if (!fds[i].revents)
				continue;
			if ((fds[i].revents & POLLIN) && signer_conn(sg, fds[i].fd) == 0 &&
			    !(fds[i].revents & (POLLHUP | POLLERR | POLLNVAL)))
				continue;
			close(fds[i].fd);
			fds[i] = fds[--n];
		}
		if (fds[0].revents & POLLIN)
			signer_accept(lfd, fds, &n);
	}
	for (i = 1; i < n; i++)
		close(fds[i].fd);
}

struct signer_args {
	const char *key_path;
	const char *sock_path;
};

static void signer_main(void *arg, pid_t parent, int ready)
{
	const struct signer_args *args = arg;
	static struct signer sg;
	ino_t ino = 0;
	int lfd = -1;

	privsep_detach("berth-signer", ready, on_term);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0 || getppid() != parent)
		_exit(1);
	if (auth_key_load_or_create(args->key_path, &sg.key) || auth_key_kid(sg.key, sg.kid) ||
	    auth_key_public_pem(sg.key, &sg.pem) ||
	    privsep_listen("signer", args->sock_path, 64, &lfd, &ino)) {
		privsep_ready(ready, berr_detail());
		EVP_PKEY_free(sg.key);
		_exit(1);
	}
	privsep_ready(ready, NULL);
	log_info("signer ready on %s, key %s", args->sock_path, sg.kid);
	signer_serve(&sg, lfd, parent);
	close(lfd);
	privsep_unlisten(args->sock_path, ino);
	EVP_PKEY_free(sg.key);  /* clears the private scalar */
	OPENSSL_cleanse(&sg, sizeof(sg));
	_exit(0);
}

enum berr auth_signer_start(const char *key_path, const char *sock_path, pid_t *pid)
{
	struct signer_args args = { key_path, sock_path };

	return privsep_start("signer", signer_main, &args, pid);
}

static void alone_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
}

enum berr auth_signer_run(const char *key_path, const char *sock_path)
{
	static struct signer sg;
	enum berr err;
	ino_t ino = 0;
	int lfd = -1;

	alone_signals();
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	umask(077);
	signer_alone = 1;
	if ((err = auth_key_load_or_create(key_path, &sg.key)) ||
	    (err = auth_key_kid(sg.key, sg.kid)) || (err = auth_key_public_pem(sg.key, &sg.pem)) ||
	    (err = privsep_listen("signer", sock_path, 64, &lfd, &ino)))
		goto out;
	if (chmod(sock_path, 0660) < 0) {
		err = berr_sys("chmod", sock_path);
		goto out;
	}
	log_info("signer ready on %s, key %s", sock_path, sg.kid);
	notify_ready("signing");
	signer_serve(&sg, lfd, 0);
	notify_stopping();
out:
	if (lfd >= 0) {
		close(lfd);
		privsep_unlisten(sock_path, ino);
	}
	EVP_PKEY_free(sg.key);
	free(sg.pem);
	OPENSSL_cleanse(&sg, sizeof(sg));
	return err;
}

/* ------------------------------------------------------------- the client */

static struct {
	int fd;
	pid_t pid;                /* the process that opened fd (not a fork of it) */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
} conn = { -1, 0, "" };

static enum berr signer_connect(const char *path, int *out)
{
	struct timeval tv = { SIGNER_TIMEOUT_S, 0 };
	struct sockaddr_un sa;
	enum berr err;
	int fd;

	if ((err = privsep_addr("signer", path, &sa)))
		return err;
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0)
		return berr_sys("socket", path);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = berr_sys("connect to the token signer", path);
		close(fd);
		return err;
	}
	*out = fd;
	return BERR_OK;
}

static void conn_drop(void)
{
	if (conn.fd >= 0 && conn.pid == getpid())
		close(conn.fd);
	conn.fd = -1;
}

/* One request, one reply (0-terminated in reply[], length in *rlen).
 * `keep`: use and keep the per-process connection; else a fresh one. */
static enum berr signer_call(const char *path, int keep, const char *req, size_t len,
			     char *reply, size_t cap, size_t *rlen)
{
	enum berr err = BERR_OK;
	int attempt, hung, fd = -1;

	for (attempt = 0; attempt < 2; attempt++) {
		ssize_t n;

		if (keep && conn.fd >= 0 && conn.pid == getpid() && strcmp(conn.path, path) == 0) {
			fd = conn.fd;
		} else {
			if (keep)
				conn_drop();
			if ((err = signer_connect(path, &fd)))
				return err;
			if (keep && mem_strcpy(conn.path, sizeof(conn.path), path) == 0) {
				conn.fd = fd;
				conn.pid = getpid();
			}
		}
		n = send(fd, req, len, MSG_NOSIGNAL) == (ssize_t)len ? recv(fd, reply, cap, MSG_TRUNC) : -1;
		if (n > 0) {
			if ((size_t)n >= cap)
				err = berr_set(BERR_INTERNAL, "token signer: reply too long");
			else
				reply[*rlen = (size_t)n] = '\0';
			if (!keep)
				close(fd);
			return err;
		}
		if (n == 0)
			errno = ECONNRESET;
		hung = errno == EAGAIN || errno == EWOULDBLOCK;
		err = hung ? berr_set(BERR_INTERNAL, "token signer %s: no answer within %d s",
				      path, SIGNER_TIMEOUT_S)
			   : berr_sys("token signer", path);
		if (keep)
			conn_drop();
		else
			close(fd);
		if (hung)
			break; /* a hung signer: do not wait twice */
	}
	return err;
}

enum berr auth_signer_sign(const char *sock_path, const char *signing_input, char **sig)
{
	char reply[SIGNER_REPLY_MAX], *req;
	unsigned char raw[AUTH_ES256_SIG_LEN + 3];
	size_t len = strlen(signing_input), rlen = 0, rawlen;
	enum berr err;

	*sig = NULL;
	if (len > AUTH_SIGNER_INPUT_MAX)
		return berr_set(BERR_INTERNAL, "token longer than %d bytes (too many scopes?)", AUTH_JWT_MAX);
	if ((req = malloc(len + 1)) == NULL)
		return berr_set(BERR_INTERNAL, "token signer: out of memory");
	req[0] = 'S';
	memcpy(req + 1, signing_input, len);
	err = signer_call(sock_path, 1, req, len + 1, reply, sizeof(reply), &rlen);
	free(req);
	if (err)
		return err;
	if (reply[0] == 'e')
		return berr_set(BERR_INTERNAL, "token signer: %s", reply + 1);
	if (reply[0] != 'o' || rlen - 1 != AUTH_ES256_SIG_B64_LEN ||
	    auth_b64url_decode(raw, &rawlen, reply + 1, rlen - 1) < 0 || rawlen != AUTH_ES256_SIG_LEN)
		return berr_set(BERR_INTERNAL, "token signer: malformed reply");
	if ((*sig = strdup(reply + 1)) == NULL)
		return berr_set(BERR_INTERNAL, "token signer: out of memory");
	return BERR_OK;
}

enum berr auth_signer_public_key(const char *sock_path, EVP_PKEY **pub, char kid[AUTH_KID_LEN + 1])
{
	char reply[SIGNER_REPLY_MAX], mine[AUTH_KID_LEN + 1];
	size_t rlen = 0;
	enum berr err;

	*pub = NULL;
	if ((err = signer_call(sock_path, 0, "P", 1, reply, sizeof(reply), &rlen)))
		return err;
	if (reply[0] == 'e')
		return berr_set(BERR_INTERNAL, "token signer: %s", reply + 1);
	if (reply[0] != 'o' || rlen < AUTH_KID_LEN + 2 || reply[AUTH_KID_LEN + 1] != '\n')
		return berr_set(BERR_INTERNAL, "token signer: malformed reply");
	if ((err = auth_key_from_public_pem(reply + AUTH_KID_LEN + 2, rlen - AUTH_KID_LEN - 2, pub)))
		return err;
	/* the kid is ours to compute; the signer's must agree */
	if ((err = auth_key_kid(*pub, mine)) || memcmp(mine, reply + 1, AUTH_KID_LEN) != 0) {
		EVP_PKEY_free(*pub);
		*pub = NULL;
		return err ? err : berr_set(BERR_INTERNAL, "token signer: key id does not match its key");
	}
	memcpy(kid, mine, sizeof(mine));
	return BERR_OK;
}

enum berr auth_keyring_add_signer(struct auth_keyring *kr, const char *sock_path)
{
	EVP_PKEY *pub = NULL;
	size_t i;
	enum berr err;

	if ((err = auth_signer_public_key(sock_path, &pub, kr->priv_kid)) ||
	    (err = auth_keyring_add(kr, pub, "signer key"))) {
		EVP_PKEY_free(pub);
		return err;
	}
	EVP_PKEY_free(pub);
	for (i = 1; i < kr->n; i++) {
		if (strcmp(kr->keys[i].kid, kr->priv_kid) == 0) {
			struct auth_key t = kr->keys[0];

			kr->keys[0] = kr->keys[i];
			kr->keys[i] = t;
		}
	}
	return BERR_OK;
}

enum berr auth_jwt_sign_remote(const char *sock_path, const char *kid, const json_t *claims,
			       char **token)
{
	char *in = NULL, *sig = NULL, *t;
	size_t n;
	enum berr err;

	*token = NULL;
	if ((err = auth_jwt_signing_input(kid, claims, &in)) ||
	    (err = auth_signer_sign(sock_path, in, &sig)))
		goto out;
	n = strlen(in);
	if ((t = realloc(in, n + 1 + AUTH_ES256_SIG_B64_LEN + 1)) == NULL) {
		err = berr_set(BERR_INTERNAL, "token: out of memory");
		goto out;
	}
	in = NULL;
	t[n] = '.';
	memcpy(t + n + 1, sig, AUTH_ES256_SIG_B64_LEN + 1);
	*token = t;
out:
	free(in);
	free(sig);
	return err;
}
