/*
 * h_health.c - GET/HEAD /healthz and /readyz: what a load balancer asks.
 *
 *   /healthz  200 "ok" whenever a worker answers.  It touches neither the
 *             store nor auth: it says the pool is up, not that it can
 *             serve everything (a balancer that restarts on it must not
 *             restart a pool whose disk is full).
 *   /readyz   200 when this host can take pushes and logins: the store is
 *             writable and not full (store/health.h), and with auth = token
 *             the signer answers (auth/health.h); 503 otherwise.  The body
 *             is text/plain, one line per check ("store: ok", "signer: down
 *             (no answer within 1000 ms)"), so the cause is in the answer.
 *             A directory (ldap_uri) that is down is reported on its own
 *             line but does not make the host unready: holders of tokens
 *             and local users are still served.
 *
 * Both are unauthenticated (no gate_check): a balancer has no token, and
 * the answers name no path, user or repository.  Each check runs in an
 * error context of its own, so a probe's failure becomes a line of the
 * answer and never the request's error.  A worker logs when what it
 * answers changes (ready -> not ready and back), not on every probe.
 */
#include <stdio.h>
#include <string.h>

#include "auth/health.h"
#include "fcgi/handlers.h"
#include "store/health.h"
#include "util/log.h"

#define HEALTH_CTYPE "text/plain; charset=utf-8"

static int ready_last = 1;   /* what this worker answered last */

static void health_headers(struct req *r)
{
	/* a balancer or a proxy between must ask again, never reuse */
	resp_header(r, "Cache-Control", "no-store");
}

enum berr h_healthz(struct req *r)
{
	health_headers(r);
	resp_send(r, 200, HEALTH_CTYPE, "ok\n", 3);
	return BERR_OK;
}

/* Append "name: ok" or "name: <detail>" to body; returns the check's code. */
static enum berr check_line(char *body, size_t cap, size_t *len, const char *name,
			    enum berr (*probe)(void *), void *arg)
{
	struct berr_ctx ctx;
	enum berr rc;
	int n;

	berr_enter(&ctx);
	rc = probe(arg);
	berr_leave(&ctx);
	n = snprintf(body + *len, cap - *len, "%s: %s\n", name,
		     rc ? (ctx.detail[0] ? ctx.detail : "failed") : "ok");
	if (n > 0)
		*len += (size_t)n < cap - *len ? (size_t)n : cap - *len - 1;
	return rc;
}

static enum berr probe_store(void *arg)
{
	return store_probe_writable(((struct req *)arg)->store);
}

static enum berr probe_signer(void *arg)
{
	return auth_probe_signer(((struct req *)arg)->cfg->signer_socket, AUTH_PROBE_SIGNER_MS);
}

static enum berr probe_directory(void *arg)
{
	return auth_probe_directory(((struct req *)arg)->cfg->directory_socket, AUTH_PROBE_DIR_MS);
}

/* One log line (records are one line each): the checks joined by "; ". */
static void log_change(int ready, const char *body)
{
	char line[1024];
	size_t i, n = 0;

	for (i = 0; body[i] && n + 3 < sizeof(line); i++) {
		if (body[i] != '\n') {
			line[n++] = body[i];
		} else if (body[i + 1]) {
			line[n++] = ';';
			line[n++] = ' ';
		}
	}
	line[n] = '\0';
	if (ready)
		log_info("readyz: ready again: %s", line);
	else
		log_warn("readyz: not ready: %s", line);
}

enum berr h_readyz(struct req *r)
{
	const struct config *c = r->cfg;
	int token = c->auth && strcmp(c->auth, "token") == 0;
	char body[1024];
	size_t len = 0;
	int ready = 1;

	body[0] = '\0';
	if (check_line(body, sizeof(body), &len, "store", probe_store, r))
		ready = 0;
	if (token && check_line(body, sizeof(body), &len, "signer", probe_signer, r))
		ready = 0;
	/* reported, never a reason to be unready */
	if (token && c->ldap_uri && c->ldap_uri[0])
		check_line(body, sizeof(body), &len, "directory", probe_directory, r);
	if (ready != ready_last)
		log_change(ready, body);
	ready_last = ready;
	health_headers(r);
	resp_send(r, ready ? 200 : 503, HEALTH_CTYPE, body, len);
	return BERR_OK;
}
