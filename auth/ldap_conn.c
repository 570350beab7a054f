/*
 * ldap_conn.c - the directory client's connection (see ldap_conn.h): open
 * the first URI of ldap_uri that answers, StartTLS if asked, bind as the
 * service account (or anonymously); that first bind is also the liveness
 * probe.  auth/ldap.c runs logins and lookups on the connection.
 *
 * The time bounds (ldap_timeout, ldap_network_timeout: see ldap.c) have
 * one hole, found by test_ldap.c: Debian's libldap (GnuTLS backend)
 * retries gnutls_handshake() on a non-blocking socket without waiting, so
 * an ldaps:// server that accepts TCP and then says nothing spins the
 * worker forever, timeouts or not.  Hence the watchdog: from the
 * moment a fresh connection's socket exists (LDAP_OPT_CONNECT_CB) until its
 * first bind is done, a thread waits out the connect + StartTLS + bind
 * budget and then shutdown()s the socket, which ends any handshake.  It
 * holds a dup() of the descriptor, so it can never hit a reused number.
 *
 * TLS failures: libldap (GnuTLS) reports a refused certificate as "Can't
 * contact LDAP server" with the diagnostic "(unknown error code)".  A TLS
 * URI whose socket connected (the connect callback saw it) and then failed
 * failed in the handshake; tls_diagnose() then connects once more without
 * demanding a valid certificate, sends nothing but the handshake, and
 * checks the certificate with OpenSSL against ldap_ca_file and the URI's
 * host, so the log can say "unable to get local issuer certificate" or
 * "hostname mismatch" instead.  Only for the log, after a failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <ldap.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "auth/ldap_conn.h"
#include "util/log.h"

/* ---------------------------------------------------------------- watchdog */

static void *watchdog_main(void *arg)
{
	struct watchdog *w = arg;
	struct pollfd p = { .fd = w->efd, .events = POLLIN };
	int rc;

	do
		rc = poll(&p, 1, w->budget_ms);
	while (rc < 0 && errno == EINTR);
	if (rc == 0) {
		w->fired = 1;   /* read after pthread_join */
		shutdown(w->sock, SHUT_RDWR);   /* ends a stuck handshake */
	}
	return NULL;
}

/* LDAP_OPT_CONNECT_CB: the socket of a new connection exists. */
static int watchdog_add(LDAP *ld, Sockbuf *sb, LDAPURLDesc *srv, struct sockaddr *addr,
			struct ldap_conncb *ctx)
{
	struct watchdog *w = ctx->lc_arg;
	ber_socket_t fd = -1;

	(void)ld, (void)srv, (void)addr;
	w->connected = 1;
	if (!w->armed || w->running || ber_sockbuf_ctrl(sb, LBER_SB_OPT_GET_FD, &fd) != 1 ||
	    fd < 0)
		return 0;
	if ((w->sock = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return 0;
	if ((w->efd = eventfd(0, EFD_CLOEXEC)) < 0) {
		close(w->sock);
		return 0;
	}
	if (pthread_create(&w->thread, NULL, watchdog_main, w) != 0) {
		log_warn("ldap: cannot start the connection watchdog: %s", strerror(errno));
		close(w->efd);
		close(w->sock);
		return 0;
	}
	w->running = 1;
	return 0;
}

static void watchdog_del(LDAP *ld, Sockbuf *sb, struct ldap_conncb *ctx)
{
	(void)ld, (void)sb, (void)ctx;
}

static void watchdog_stop(struct watchdog *w)
{
	uint64_t one = 1;

	w->armed = 0;
	if (!w->running)
		return;
	if (write(w->efd, &one, sizeof one) < 0)
		log_warn("ldap: stopping the watchdog: %s", strerror(errno));
	pthread_join(w->thread, NULL);
	close(w->efd);
	close(w->sock);
	w->running = 0;
}


/* ---------------------------------------------------------------- connection */

/* Codes that say the connection or the server is gone, not the request. */
int auth_ldap_conn_down(int rc)
{
	return rc < 0 || rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY;
}

static int set_options(struct auth_ldap *l, LDAP *ld, const char *uri);

/* Check the server's certificate as libldap would, with OpenSSL, into
 * `why`: verification against ldap_ca_file (or the system's CAs) and the
 * URI's host name or address. */
static void cert_verdict(struct auth_ldap *l, const struct berval *der, const char *host,
			 char *why, size_t len)
{
	const unsigned char *p = (const unsigned char *)der->bv_val;
	X509 *cert = d2i_X509(NULL, &p, (long)der->bv_len);
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *vp;
	int err;

	if (!cert || !st || !ctx ||
	    (l->ca_file ? X509_STORE_load_locations(st, l->ca_file, NULL)
			: X509_STORE_set_default_paths(st)) != 1 ||
	    X509_STORE_CTX_init(ctx, st, cert, NULL) != 1)
		goto out;
	vp = X509_STORE_CTX_get0_param(ctx);
	if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1)
		X509_VERIFY_PARAM_set1_host(vp, host, 0);
	if (X509_verify_cert(ctx) == 1) {
		snprintf(why, len, "the certificate verifies here; see the server's TLS log");
		goto out;
	}
	err = X509_STORE_CTX_get_error(ctx);
	snprintf(why, len, "%s (%s)", X509_verify_cert_error_string(err),
		 l->ca_file ? l->ca_file : "no ldap_ca_file: the system's CAs");
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	X509_free(cert);
}

/* After a TLS failure: connect once more without insisting on the
 * certificate (nothing is sent but the handshake), fetch it and tell why
 * it was refused.  Only for the log; `why` stays "" when that fails too. */
static void tls_diagnose(struct auth_ldap *l, const char *uri, char *why, size_t len)
{
	int allow = LDAP_OPT_X_TLS_ALLOW, client = 0, rc;
	struct berval der = { 0, NULL };
	LDAPURLDesc *lud = NULL;
	LDAP *ld = NULL;

	why[0] = '\0';
	if (ldap_url_parse(uri, &lud) != LDAP_SUCCESS || !lud->lud_host ||
	    ldap_initialize(&ld, uri) != LDAP_SUCCESS || set_options(l, ld, uri) != LDAP_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &allow) != LDAP_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &client) != LDAP_SUCCESS)
		goto out;
	l->wd.armed = 1;        /* the same bound on a stuck handshake */
	rc = strncmp(uri, "ldaps://", 8) == 0 ? ldap_connect(ld) : ldap_start_tls_s(ld, NULL, NULL);
	watchdog_stop(&l->wd);
	if (rc == LDAP_SUCCESS && ldap_get_option(ld, LDAP_OPT_X_TLS_PEERCERT, &der) == LDAP_OPT_SUCCESS &&
	    der.bv_val)
		cert_verdict(l, &der, lud->lud_host, why, len);
	else
		snprintf(why, len, "no TLS session even without verification (%s)",
			 ldap_err2string(rc));
out:
	watchdog_stop(&l->wd);
	ber_memfree(der.bv_val);
	if (ld)
		ldap_unbind_ext_s(ld, NULL, NULL);
	ldap_free_urldesc(lud);
}

static int uses_tls(const struct auth_ldap *l, const char *uri)
{
	return strncmp(uri, "ldaps://", 8) == 0 || (l->starttls && strncmp(uri, "ldap://", 7) == 0);
}

/* libldap's diagnostic for the last failure on `ld` ("" when none, or
 * when it is the GnuTLS backend's "(unknown error code)", which says
 * nothing). */
static void diagnostic(LDAP *ld, char *buf, size_t len)
{
	char *msg = NULL;

	buf[0] = '\0';
	if (ld && ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg) == LDAP_OPT_SUCCESS &&
	    msg && strcmp(msg, "(unknown error code)") != 0)
		snprintf(buf, len, "%s", msg);
	ldap_memfree(msg);
}

/* Log what failed and keep it in l->why.  A connection that reached the
 * server's port and then failed on a TLS URI failed in the handshake:
 * almost always the certificate (unknown CA, wrong name, expired), which
 * libldap reports only as "Can't contact LDAP server" - say so, and why
 * when tls_diagnose() can tell. */
static void note_failure_ld(struct auth_ldap *l, LDAP *ld, const char *uri, const char *what,
			    int rc)
{
	char diag[256], tls[256] = "", line[800];
	size_t n = strlen(l->why);

	diagnostic(ld, diag, sizeof diag);
	if (l->wd.fired) {
		snprintf(line, sizeof line, "%s: no answer within %d ms (connect, TLS handshake "
			 "and first bind)", what, l->wd.budget_ms);
	} else if (uses_tls(l, uri) && l->wd.connected &&
		   (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR)) {
		tls_diagnose(l, uri, tls, sizeof tls);
		snprintf(line, sizeof line, "%s: TLS handshake failed, certificate not accepted: %s%s%s",
			 what, tls[0] ? tls : "check ldap_ca_file and the server's certificate name",
			 diag[0] ? "; " : "", diag);
	} else {
		snprintf(line, sizeof line, "%s: %s%s%s%s", what, ldap_err2string(rc),
			 diag[0] ? " (" : "", diag, diag[0] ? ")" : "");
	}
	snprintf(l->why + n, sizeof l->why - n, "%s%s: %s", n ? "; " : "", uri, line);
	log_warn("ldap %s: %s", uri, line);
}

void auth_ldap_conn_failed(struct auth_ldap *l, const char *uri, const char *what, int rc)
{
	note_failure_ld(l, l->ld, uri, what, rc);
}

int auth_ldap_conn_bind(LDAP *ld, const char *dn, const char *pw)
{
	struct berval cred;

	cred.bv_val = (char *)(pw ? pw : "");
	cred.bv_len = pw ? strlen(pw) : 0;
	return ldap_sasl_bind_s(ld, dn ? dn : "", LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
}

/* Bind as the service account, or anonymously when there is none.  An
 * anonymous bind that the server refuses still proves it answers. */
int auth_ldap_conn_bind_service(struct auth_ldap *l)
{
	int rc = auth_ldap_conn_bind(l->ld, l->bind_dn, l->bind_pw);

	if (rc == LDAP_SUCCESS || (l->bind_dn == NULL && !auth_ldap_conn_down(rc))) {
		l->as_user = 0;
		return LDAP_SUCCESS;
	}
	return rc;
}

static int set_options(struct auth_ldap *l, LDAP *ld, const char *uri)
{
	int v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, client = 0, rc;

	if ((rc = ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3)) ||
	    (rc = ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF)) ||
	    (rc = ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON)) ||
	    (rc = ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &l->net_tv)) ||
	    (rc = ldap_set_option(ld, LDAP_OPT_TIMEOUT, &l->op_tv)) ||
	    (rc = ldap_set_option(ld, LDAP_OPT_CONNECT_CB, &l->wd.cb)))
		return rc;
	if (strncmp(uri, "ldapi://", 8) == 0)
		return LDAP_SUCCESS;
	if ((rc = ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand)))
		return rc;
	if (l->ca_file && (rc = ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, l->ca_file)))
		return rc;
	return ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &client);
}

/* Open URI i, StartTLS if asked, bind as the service: l->ld on success. */
static int conn_open_one(struct auth_ldap *l, size_t i)
{
	const char *uri = l->uris[i];
	LDAP *ld = NULL;
	int rc;

	if ((rc = ldap_initialize(&ld, uri)) != LDAP_SUCCESS) {
		auth_ldap_conn_failed(l, uri, "initialize", rc);
		return rc;
	}
	if ((rc = set_options(l, ld, uri)) != LDAP_SUCCESS) {
		auth_ldap_conn_failed(l, uri, "setting options", rc);
		goto fail;
	}
	l->wd.armed = 1;
	l->wd.connected = 0;
	l->wd.fired = 0;
	if (l->starttls && strncmp(uri, "ldap://", 7) == 0 &&
	    (rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS) {
		watchdog_stop(&l->wd);
		note_failure_ld(l, ld, uri, "StartTLS", rc);
		goto fail;
	}
	l->ld = ld;
	l->uri = i;
	rc = auth_ldap_conn_bind_service(l);
	watchdog_stop(&l->wd);
	if (rc != LDAP_SUCCESS) {
		note_failure_ld(l, ld, uri, l->bind_dn ? "bind as ldap_bind_dn" : "anonymous bind", rc);
		l->ld = NULL;
		goto fail;
	}
	if (i > 0)
		log_info("ldap: connected to %s (failover)", uri);
	return LDAP_SUCCESS;
fail:
	watchdog_stop(&l->wd);
	ldap_unbind_ext_s(ld, NULL, NULL);
	return rc;
}

/* A connection to the first URI that answers. */
enum outcome auth_ldap_conn_open(struct auth_ldap *l)
{
	for (size_t i = 0; i < l->nuris; i++)
		if (conn_open_one(l, i) == LDAP_SUCCESS)
			return AUTH_LDAP_OK;
	return AUTH_LDAP_DOWN;
}

void auth_ldap_conn_drop(struct auth_ldap *l)
{
	if (l->ld)
		ldap_unbind_ext_s(l->ld, NULL, NULL);
	l->ld = NULL;
	l->as_user = 0;
}

void auth_ldap_conn_watch(struct auth_ldap *l)
{
	l->wd.cb.lc_add = watchdog_add;
	l->wd.cb.lc_del = watchdog_del;
	l->wd.cb.lc_arg = &l->wd;
	/* connect, then StartTLS and the first bind, with a little slack */
	l->wd.budget_ms = (int)(l->net_tv.tv_sec + 2 * l->op_tv.tv_sec) * 1000 + 500;
}
