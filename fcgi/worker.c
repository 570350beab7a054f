/*
 * worker.c - a pool worker: accept a FastCGI request, serve it, repeat.
 *
 * Shutdown is graceful by construction: SIGTERM only sets a flag and wakes
 * poll() through a pipe, so a request that was accepted always runs to its
 * end, and an idle worker leaves at once.  The listening socket is
 * non-blocking: when several idle workers wake for one connection, the
 * losers' accept fails with EAGAIN and they go back to poll().
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "fcgi/handlers.h"
#include "fcgi/pool.h"
#include "util/log.h"

static volatile sig_atomic_t stopping;
static int wake[2] = { -1, -1 };

static void on_term(int sig)
{
	int e = errno;

	(void)sig;
	stopping = 1;
	if (write(wake[1], "x", 1) < 0) {
		/* the flag alone will do */
	}
	errno = e;
}

static void worker_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;   /* no SA_RESTART: poll() returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);   /* Ctrl-C reaches the master, which stops us */
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
}

static void serve(FCGX_Request *fr, const struct config *cfg, struct store *st)
{
	struct req r;
	enum berr err;

	berr_clear();
	err = req_init(&r, fr, cfg, st);
	if (err)
		resp_error(&r, err);
	else
		dispatch(&r);
	if (!r.sent)
		resp_error(&r, berr_set(BERR_INTERNAL, "no answer was produced"));
	req_release(&r);
}

void pool_worker_run(int fd, const struct config *cfg, struct store *st)
{
	struct pollfd pfd[2];
	FCGX_Request fr;
	pid_t parent = getppid();

	if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_err("worker: pipe: %s", strerror(errno));
		_exit(1);
	}
	worker_signals();
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(0);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_err("worker: libfcgi initialisation failed");
		_exit(1);
	}
	pfd[0].fd = fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = wake[0];
	pfd[1].events = POLLIN;
	while (!stopping) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno != EINTR)
				log_err("worker: poll: %s", strerror(errno));
			continue;
		}
		if (stopping || (pfd[1].revents & POLLIN))
			break;
		if (FCGX_Accept_r(&fr) < 0)
			continue; /* another worker took it, or a signal */
		serve(&fr, cfg, st);
		FCGX_Finish_r(&fr);
	}
	FCGX_Free(&fr, 0);
	_exit(0);
}
