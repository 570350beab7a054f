/*
 * listen.c - the pool's listening sockets (pool.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fcgi/pool.h"

static int is_unix(const char *addr)
{
	return addr[0] == '/' || addr[0] == '.' || !strrchr(addr, ':');
}

static enum berr listen_unix(const char *path, int backlog, int mode, int *out)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return berr_set(BERR_INTERNAL, "socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return berr_sys("socket", path);
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(fd);
			return berr_set(BERR_INTERNAL, "%s is in use by another server", path);
		}
		close(fd);
		unlink(path);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			return berr_sys("socket", path);
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, (mode_t)mode) < 0 ||
	    listen(fd, backlog) < 0) {
		enum berr err = berr_sys("listen on", path);
		close(fd);
		return err;
	}
	*out = fd;
	return BERR_OK;
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
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
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
