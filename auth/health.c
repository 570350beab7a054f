/*
 * health.c - the probes of health.h: one request on a fresh SOCK_SEQPACKET
 * connection with send and receive deadlines (for a unix socket the send
 * deadline bounds connect() too, when the listener's backlog is full).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "auth/health.h"
#include "util/mem.h"

/* One request, the reply's first byte in *kind.  0, or -1 with the detail
 * "down (...)" recorded. */
static int probe_call(const char *sock_path, const void *req, size_t len, int timeout_ms,
		      char *kind)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	char reply[256];
	const char *step = "connect";
	ssize_t n = -1;
	int fd, e = 0;

	if (!sock_path || !*sock_path || mem_strcpy(sa.sun_path, sizeof(sa.sun_path), sock_path) < 0) {
		berr_set(BERR_INTERNAL, "down (no usable socket path)");
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0) {
		berr_set(BERR_INTERNAL, "down (socket: %s)", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		step = "send";
		if (send(fd, req, len, MSG_NOSIGNAL) == (ssize_t)len) {
			step = "receive";
			/* MSG_TRUNC: a reply longer than the buffer is fine, only
			 * its first byte counts */
			n = recv(fd, reply, sizeof(reply), MSG_TRUNC);
		}
	}
	e = errno;
	close(fd);
	if (n > 0) {
		*kind = reply[0];
		return 0;
	}
	if (n == 0)
		berr_set(BERR_INTERNAL, "down (closed the connection without an answer)");
	else if (e == EAGAIN || e == EWOULDBLOCK || e == EINPROGRESS)
		berr_set(BERR_INTERNAL, "down (no answer within %d ms)", timeout_ms);
	else
		berr_set(BERR_INTERNAL, "down (%s: %s)", step, strerror(e));
	return -1;
}

enum berr auth_probe_signer(const char *sock_path, int timeout_ms)
{
	char kind;

	if (probe_call(sock_path, "P", 1, timeout_ms, &kind) < 0)
		return BERR_INTERNAL;
	if (kind != 'o')
		return berr_set(BERR_INTERNAL, "down (it answered with an error; see berthd's log)");
	return BERR_OK;
}

enum berr auth_probe_directory(const char *sock_path, int timeout_ms)
{
	static const char req[] = "U" AUTH_PROBE_DIR_USER;   /* with its '\0' */
	char kind;

	if (probe_call(sock_path, req, sizeof(req), timeout_ms, &kind) < 0)
		return BERR_INTERNAL;
	switch (kind) {
	case 'o':
	case 'b':
		return BERR_OK;
	case 'u':
		return berr_set(BERR_INTERNAL, "down (no directory server answered)");
	default:
		return berr_set(BERR_INTERNAL, "down (the directory process failed; see berthd's log)");
	}
}
