/*
 * test_notify.c - util/notify.c against real AF_UNIX datagram sockets, as
 * systemd would receive it: a socket file and an abstract "@" name, each
 * getting READY=1 (with MAINPID and STATUS), RELOADING=1 (with
 * MONOTONIC_USEC), STOPPING=1, and the sender's credentials (what
 * NotifyAccess=main checks).  Without NOTIFY_SOCKET nothing is sent and
 * nothing fails; a malformed or dead NOTIFY_SOCKET is an error with a
 * detail, never a crash.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/notify.h"
#include "tests/unit/unit.h"

/* A receiving socket like systemd's: datagrams, credentials passed. */
static int receiver(const char *name)
{
	struct sockaddr_un sa;
	struct timeval tv = { .tv_sec = 2 };
	socklen_t len;
	int one = 1, fd;
	size_t n = strlen(name);

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, name, n);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	if (name[0] == '@') {
		sa.sun_path[0] = '\0';
		len--;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, len) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		perror(name);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* One datagram into buf (NUL-terminated); *pid: the sender's, from the
 * kernel.  -1 when nothing came (flags MSG_DONTWAIT: nothing waiting). */
static int receive(int fd, char *buf, size_t size, pid_t *pid, int flags)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = size - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	ssize_t n = recvmsg(fd, &mh, flags);

	*pid = 0;
	if (n < 0)
		return -1;
	buf[n] = '\0';
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred cred;
			memcpy(&cred, CMSG_DATA(c), sizeof(cred));
			*pid = cred.pid;
		}
	return (int)n;
}

/* The three messages berthd sends in its life, in order, to `name`. */
static void lifecycle(const char *name)
{
	char buf[1024], want[128];
	pid_t pid;
	int fd = receiver(name);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	setenv("NOTIFY_SOCKET", name, 1);

	CHECK_INT(notify_ready("api on /run/berth/api.sock (4 workers)"), BERR_OK);
	CHECK(receive(fd, buf, sizeof(buf), &pid, 0) > 0);
	snprintf(want, sizeof(want), "READY=1\nMAINPID=%d\nSTATUS=api on /run/berth/api.sock (4 workers)",
		 (int)getpid());
	CHECK_STR(buf, want);
	CHECK_INT(pid, getpid());

	CHECK_INT(notify_reloading(), BERR_OK);
	CHECK(receive(fd, buf, sizeof(buf), &pid, 0) > 0);
	CHECK(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
	CHECK(strtoull(buf + 27, NULL, 10) > 0);
	CHECK(strstr(buf, "\nSTATUS=reloading") != NULL);

	CHECK_INT(notify_ready(NULL), BERR_OK);
	CHECK(receive(fd, buf, sizeof(buf), &pid, 0) > 0);
	snprintf(want, sizeof(want), "READY=1\nMAINPID=%d", (int)getpid());
	CHECK_STR(buf, want);

	CHECK_INT(notify_stopping(), BERR_OK);
	CHECK(receive(fd, buf, sizeof(buf), &pid, 0) > 0);
	CHECK(strncmp(buf, "STOPPING=1\n", 11) == 0);

	/* exactly those: nothing else was queued */
	CHECK_INT(receive(fd, buf, sizeof(buf), &pid, MSG_DONTWAIT), -1);
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

static void path_socket(void)
{
	char dir[] = "/tmp/berth-notify.XXXXXX", path[128];

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/notify", dir);
	lifecycle(path);
	unlink(path);
	rmdir(dir);
}

static void abstract_socket(void)
{
	char name[96];

	snprintf(name, sizeof(name), "@berth-test-notify/%d", (int)getpid());
	lifecycle(name);
}

/* Outside systemd: no socket, no error, nothing sent. */
static void unset(void)
{
	unsetenv("NOTIFY_SOCKET");
	CHECK_INT(notify_ready(NULL), BERR_OK);
	CHECK_INT(notify_send("READY=1"), BERR_OK);
	setenv("NOTIFY_SOCKET", "", 1);
	CHECK_INT(notify_stopping(), BERR_OK);
	unsetenv("NOTIFY_SOCKET");
}

static void bad_names(void)
{
	char dir[] = "/tmp/berth-notify.XXXXXX", path[128], longname[200];

	setenv("NOTIFY_SOCKET", "run/notify", 1); /* relative */
	CHECK_INT(notify_send("READY=1"), BERR_INTERNAL);
	CHECK(strstr(berr_detail(), "neither a path nor an @abstract name") != NULL);
	setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
	CHECK_INT(notify_send("READY=1"), BERR_INTERNAL);
	setenv("NOTIFY_SOCKET", "@", 1);
	CHECK_INT(notify_send("READY=1"), BERR_INTERNAL);

	memset(longname, 'x', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	setenv("NOTIFY_SOCKET", longname, 1);
	CHECK_INT(notify_send("READY=1"), BERR_INTERNAL);
	CHECK(strstr(berr_detail(), "longer than") != NULL);

	/* a socket file nobody listens on any more */
	if (mkdtemp(dir)) {
		snprintf(path, sizeof(path), "%s/gone", dir);
		setenv("NOTIFY_SOCKET", path, 1);
		CHECK_INT(notify_send("READY=1"), BERR_INTERNAL);
		CHECK(strstr(berr_detail(), path) != NULL);
		rmdir(dir);
	}
	unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
	path_socket();
	abstract_socket();
	unset();
	bad_names();
	return unit_done();
}
