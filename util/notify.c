/*
 * notify.c - see notify.h.
 *
 * Why no libsystemd: the protocol is one sendto() and berth keeps its
 * dependencies to what it cannot write in a page.  The socket is made per
 * message (a handful in a process's life: start, each reload, stop), so
 * nothing stays open across fork() into the workers.  The kernel attaches
 * the sender's credentials itself when systemd asks for them (SO_PASSCRED
 * on its end), which is how NotifyAccess=main recognises the master.
 *
 * $NOTIFY_SOCKET forms (sd_notify(3)): "/path" is a socket file; "@name"
 * is Linux's abstract namespace (the '@' becomes a NUL byte and the
 * address length, not a terminator, ends the name).  Newer systemd also
 * knows "vsock:…" for virtual machines; berthd does not run as a VM's
 * init, so that form is refused with a warning rather than half-done.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/notify.h"

/* The address $NOTIFY_SOCKET names, and its length. */
static enum berr notify_addr(const char *name, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n = strlen(name);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (n < 2 || (name[0] != '/' && name[0] != '@'))
		return berr_set(BERR_INTERNAL, "NOTIFY_SOCKET=%s: neither a path nor an @abstract name",
				name);
	if (n >= sizeof(sa->sun_path))
		return berr_set(BERR_INTERNAL, "NOTIFY_SOCKET=%s: longer than %zu bytes", name,
				sizeof(sa->sun_path) - 1);
	memcpy(sa->sun_path, name, n);
	if (name[0] == '@') {
		sa->sun_path[0] = '\0';
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	return BERR_OK;
}

enum berr notify_send(const char *state)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t len = 0;
	enum berr err = BERR_OK;
	size_t n = strlen(state);
	ssize_t sent;
	int fd = -1;

	if (!name || !name[0])
		return BERR_OK;
	if ((err = notify_addr(name, &sa, &len)))
		goto out;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		err = berr_set(BERR_INTERNAL, "notify socket: %s", strerror(errno));
		goto out;
	}
	sent = sendto(fd, state, n, MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	if (sent < 0 || (size_t)sent != n)
		err = berr_set(BERR_INTERNAL, "notify %s: %s", name,
			       sent < 0 ? strerror(errno) : "short datagram");
out:
	if (fd >= 0)
		close(fd);
	if (err)
		log_warn("service manager not told \"%.*s\": %s", (int)strcspn(state, "\n"), state,
			 berr_detail());
	return err;
}

enum berr notify_ready(const char *status)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%d%s%.400s", (int)getpid(),
		 status ? "\nSTATUS=" : "", status ? status : "");
	return notify_send(msg);
}

enum berr notify_reloading(void)
{
	struct timespec ts;
	char msg[128];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
		 (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	return notify_send(msg);
}

enum berr notify_stopping(void)
{
	return notify_send("STOPPING=1\nSTATUS=stopping: waiting for in-flight requests");
}
