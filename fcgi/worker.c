/*
 * worker.c - a pool worker: accept a FastCGI request, serve it, repeat.
 *
 * Shutdown is graceful by construction: SIGTERM stays blocked while a
 * request is served (so no read of a streaming body is ever interrupted) and
 * is let in only while the worker waits in epoll_pwait(); there it sets a flag and
 * the worker leaves.  A request that was accepted always runs to its end,
 * and an idle worker leaves at once.  Idle workers wait with
 * EPOLLEXCLUSIVE, so a new connection wakes one of them, not all; the
 * listening socket is non-blocking all the same, and a worker whose
 * accept() loses a race (EAGAIN) just waits again.
 *
 * This is the one file that knows libfcgi: it hands each request to
 * request.c as a struct req_io (the FastCGI parameters, a body reader and
 * an answer writer over libfcgi's streams).
 */
#include <errno.h>
#include <limits.h>
#include <sys/epoll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <jansson.h>

#include "fcgi/accesslog.h"
#include "fcgi/handlers.h"
#include "fcgi/pool.h"
#include "fcgi/scoreboard.h"
#include "util/audit.h"
#include "util/log.h"
#include "util/metrics.h"

#define CLAIM_RETRY_AFTER 5 /* seconds a client over its upload share waits */

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static void worker_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;   /* delivered only inside epoll_pwait(), which returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);   /* Ctrl-C reaches the master, which stops us */
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	audit_catch_reopen(); /* SIGUSR1: logs reopen before their next line */
}

enum berr pool_claim_upload(struct req *r)
{
	const char *user = NULL;
	enum berr err;

	if (r->auth_claims)
		user = json_string_value(json_object_get(r->auth_claims, "sub"));
	err = sb_claim(req_param(r, "REMOTE_ADDR"), user ? user : "", r->cfg->upload_client_workers);
	if (err) {
		const char *why = berr_detail_for(err);

		log_info("upload refused: %s", why ? why : berr_message(err));
		resp_header(r, "Retry-After", "%d", CLAIM_RETRY_AFTER);
	}
	return err;
}

/* struct req_io over libfcgi: FCGX_GetStr waits for all n bytes or the end. */
static int fcgx_read(void *ctx, void *buf, int n, int *err)
{
	FCGX_Request *fr = ctx;
	int got = FCGX_GetStr(buf, n, fr->in);

	*err = got < n ? FCGX_GetError(fr->in) : 0;
	return got;
}

static void fcgx_write(void *ctx, const void *buf, size_t n)
{
	FCGX_Request *fr = ctx;
	const char *p = buf;

	while (n > 0) {
		int chunk = n > INT_MAX ? INT_MAX : (int)n;
		if (FCGX_PutStr(p, chunk, fr->out) != chunk)
			return; /* the client went away: libfcgi drops the rest */
		p += chunk;
		n -= (size_t)chunk;
	}
}

/* One request, in its own error context (req_init to req_release). */
static void serve(FCGX_Request *fr, const struct config *cfg, struct store *st)
{
	struct req_io io = { .env = fr->envp, .fd = fr->ipcFd, .read = fcgx_read,
			     .write = fcgx_write, .ctx = fr };
	struct accesslog al;
	struct req r;
	enum berr err;

	accesslog_begin(&al, &io);
	err = req_init(&r, &io, cfg, st);
	if (err)
		resp_error(&r, err);
	else
		dispatch(&r);
	if (!r.sent)
		resp_error(&r, berr_set(BERR_INTERNAL, "no answer was produced"));
	accesslog_end(&al, &r);
	metrics_request(route_kind_name(r.route.kind), r.method, al.status, &al.start);
	req_release(&r);
}

void pool_worker_run(int fd, const struct config *cfg, struct store *st)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE };
	sigset_t term, waiting;
	int ep;
	FCGX_Request fr;
	pid_t parent = getppid();

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGUSR1); /* as SIGTERM: never interrupts a body read */
	sigprocmask(SIG_BLOCK, &term, &waiting);
	sigdelset(&waiting, SIGTERM);
	sigdelset(&waiting, SIGUSR1);
	worker_signals();
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(0);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_err("worker: libfcgi initialisation failed");
		_exit(1);
	}
	ev.data.fd = fd;
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		log_err("worker: epoll: %s", strerror(errno));
		_exit(1);
	}
	while (!stopping) {
		if (epoll_pwait(ep, &ev, 1, -1, &waiting) < 0) {
			if (errno != EINTR)
				log_err("worker: poll: %s", strerror(errno));
			continue;
		}
		if (stopping)
			break;
		if (FCGX_Accept_r(&fr) < 0)
			continue; /* another worker took it, or a signal */
		sb_set_busy(1);
		serve(&fr, cfg, st);
		FCGX_Finish_r(&fr);
		sb_unclaim();
		sb_set_busy(0);
	}
	FCGX_Free(&fr, 0);
	_exit(0);
}
