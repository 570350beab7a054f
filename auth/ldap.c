/*
 * ldap.c - directory logins with libldap (see ldap.h).
 *
 * A login is, in order:
 *   1. refuse an empty password or an unusable user name (no traffic);
 *   2. have a connection: reuse the process's, or open one to the first URI
 *      that answers (failover in ldap_uri order), with StartTLS if asked,
 *      and bind it as the service account (ldap_bind_dn) or anonymously.
 *      That first bind is also the liveness probe: a server that accepts
 *      TCP but never answers costs ldap_timeout, then the next URI is tried;
 *   3. find the user's DN: search ldap_user_base with ldap_user_filter (the
 *      name escaped per RFC 4515; exactly one entry must match), or fill
 *      ldap_user_dn_template (the name escaped per RFC 4514);
 *   4. simple-bind as that DN with the password: the only proof accepted;
 *   5. bind back as the service account (when there is one) and read the
 *      groups: memberOf values of the user entry, groups whose member /
 *      uniqueMember is the DN, or posixGroups whose memberUid is the name.
 * The entry is read with the search (or, with a DN template, after the
 * bind): the value of ldap_user_attr is the user's name from then on, so
 * "ALICE" or " alice" logs in as "alice" and memberUid searches use it.
 * The same read fetches the account's state for refresh tokens:
 * pwdChangedTime and pwdAccountLockedTime (operational: asked for by
 * name), pwdLastSet and userAccountControl (AD).
 * When the reused connection turns out broken (LDAP_SERVER_DOWN, timeouts:
 * the server restarted, an idle timeout closed it), it is dropped and the
 * login is tried once more on a fresh one.
 *
 * Time bounds: every operation is bounded by ldap_timeout (LDAP_OPT_TIMEOUT,
 * used by the synchronous calls) and every connect by ldap_network_timeout,
 * so a login costs at most about (network + operation timeout) per URI,
 * twice when a reused connection broke.  TLS options are set on each handle
 * and applied with LDAP_OPT_X_TLS_NEWCTX, so they never leak into global
 * state; certificates are always verified (LDAP_OPT_X_TLS_DEMAND).
 *
 * One hole in those bounds, found by test_ldap.c: Debian's libldap (GnuTLS
 * backend) retries gnutls_handshake() on a non-blocking socket without
 * waiting, so an ldaps:// server that accepts TCP and then says nothing
 * spins the worker forever, timeouts or not.  Hence the watchdog: from the
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
 *
 * libldap may write to a socket the server closed: the pool must ignore
 * SIGPIPE (a FastCGI worker does anyway).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ldap.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "auth/ldap.h"
#include "util/fs.h"
#include "util/log.h"

#define BAD_LOGIN "invalid username or password"
#define USER_MAX 256
#define GROUPS_MAX 4096

enum group_mode { GROUPS_NONE, GROUPS_MEMBEROF, GROUPS_MEMBER, GROUPS_MEMBERUID };

/* What one attempt came to. */
enum outcome { OK = 0, BAD = -1, DOWN = -2, FAILED = -3 };

/* Bounds a fresh connection's setup (see the top of the file). */
struct watchdog {
	ldap_conncb cb;         /* registered with LDAP_OPT_CONNECT_CB */
	int armed;              /* setting up a connection: watch its socket */
	int connected;          /* a socket was connected (TLS failures are after it) */
	int fired;              /* the budget ran out: the socket was shut down */
	int running;
	int sock;               /* dup of the connection's socket */
	int efd;                /* eventfd: "stand down" */
	int budget_ms;
	pthread_t thread;
};

struct auth_ldap {
	char **uris;
	size_t nuris;
	int starttls;
	char *ca_file;
	char *bind_dn;          /* NULL: anonymous searches */
	char *bind_pw;
	char *user_base;
	char *user_filter;
	char *dn_template;      /* set: direct bind, no user search */
	enum group_mode mode;
	char *group_base;
	char *group_attr;
	char *memberof_attr;
	char *user_attr;        /* the naming attribute: the user's real name */
	struct timeval net_tv;
	struct timeval op_tv;

	struct watchdog wd;
	LDAP *ld;               /* the process's connection, NULL when none */
	size_t uri;             /* index of the URI ld is connected to */
	int as_user;            /* ld was last bound as a user, not the service */
	int unavailable;
	char why[512];          /* what failed, for the detail */
};

struct strv {
	char **v;
	size_t n;
};

/* What one attempt found out about the user (groups go to a strv). */
struct found {
	char name[AUTH_LDAP_NAME_MAX];
	int have_name;          /* the entry was read and name[] is its value */
	time_t pwd_changed;
	int disabled;
};

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

/* ---------------------------------------------------------------- settings */

static char *dup_or_null(const char *s)
{
	return s && s[0] ? strdup(s) : NULL;
}

static enum berr split_uris(struct auth_ldap *l, const char *list)
{
	char *copy = strdup(list), *save = NULL, *u;
	enum berr rc = BERR_OK;

	if (copy == NULL)
		return berr_sys("allocating", "ldap_uri");
	for (u = strtok_r(copy, " ,\t", &save); u; u = strtok_r(NULL, " ,\t", &save)) {
		char **nv;
		if (strncmp(u, "ldap://", 7) && strncmp(u, "ldaps://", 8) && strncmp(u, "ldapi://", 8)) {
			rc = berr_set(BERR_INTERNAL, "ldap_uri: \"%s\" is not ldap://, ldaps:// "
				      "or ldapi://", u);
			break;
		}
		if ((nv = realloc(l->uris, (l->nuris + 1) * sizeof *nv)) == NULL ||
		    (nv[l->nuris] = strdup(u)) == NULL) {
			if (nv)
				l->uris = nv;
			rc = berr_sys("allocating", "ldap_uri");
			break;
		}
		l->uris = nv;
		l->nuris++;
	}
	free(copy);
	if (rc == BERR_OK && l->nuris == 0)
		rc = berr_set(BERR_INTERNAL, "ldap_uri is not set");
	return rc;
}

static enum berr read_bind_password(struct auth_ldap *l, const struct config *cfg)
{
	size_t len;
	enum berr rc;

	if (cfg->ldap_bind_password_file && cfg->ldap_bind_password_file[0]) {
		rc = fs_read_small(cfg->ldap_bind_password_file, 4096, &l->bind_pw, &len,
				   BERR_NAME_UNKNOWN);
		if (rc == BERR_NAME_UNKNOWN)
			return berr_set(BERR_INTERNAL, "ldap_bind_password_file %s does not exist",
					cfg->ldap_bind_password_file);
		if (rc)
			return rc;
		while (len > 0 && (l->bind_pw[len - 1] == '\n' || l->bind_pw[len - 1] == '\r'))
			l->bind_pw[--len] = '\0';
	} else if (cfg->ldap_bind_password) {
		l->bind_pw = strdup(cfg->ldap_bind_password);
	}
	if (l->bind_dn && (l->bind_pw == NULL || l->bind_pw[0] == '\0'))
		return berr_set(BERR_INTERNAL, "ldap_bind_dn is set but its password is empty "
				"(set ldap_bind_password or ldap_bind_password_file)");
	return BERR_OK;
}

static enum berr parse_group_mode(struct auth_ldap *l, const struct config *cfg)
{
	const char *m = cfg->ldap_group_mode ? cfg->ldap_group_mode : "none";

	if (strcmp(m, "none") == 0)
		l->mode = GROUPS_NONE;
	else if (strcmp(m, "memberof") == 0)
		l->mode = GROUPS_MEMBEROF;
	else if (strcmp(m, "member") == 0)
		l->mode = GROUPS_MEMBER;
	else if (strcmp(m, "memberuid") == 0)
		l->mode = GROUPS_MEMBERUID;
	else
		return berr_set(BERR_INTERNAL, "ldap_group_mode \"%s\": want none, memberof, "
				"member or memberuid", m);
	if ((l->mode == GROUPS_MEMBER || l->mode == GROUPS_MEMBERUID) && l->group_base == NULL)
		return berr_set(BERR_INTERNAL, "ldap_group_mode %s needs ldap_group_base", m);
	if (l->group_attr == NULL || l->memberof_attr == NULL || l->user_attr == NULL)
		return berr_set(BERR_INTERNAL, "ldap_group_attr and ldap_memberof_attr must not "
				"be empty");
	return BERR_OK;
}

static enum berr check_user_lookup(const struct auth_ldap *l)
{
	if (l->dn_template) {
		if (strstr(l->dn_template, "%s") == NULL)
			return berr_set(BERR_INTERNAL, "ldap_user_dn_template must contain %%s");
		return BERR_OK;
	}
	if (l->user_base == NULL)
		return berr_set(BERR_INTERNAL, "set ldap_user_base (search) or "
				"ldap_user_dn_template (direct bind)");
	if (l->user_filter == NULL || strstr(l->user_filter, "%s") == NULL ||
	    l->user_filter[0] != '(')
		return berr_set(BERR_INTERNAL, "ldap_user_filter must be a filter in "
				"parentheses containing %%s, e.g. (uid=%%s)");
	return BERR_OK;
}

enum berr auth_ldap_new(const struct config *cfg, struct auth_ldap **out)
{
	struct auth_ldap *l = calloc(1, sizeof *l);
	enum berr rc;

	*out = NULL;
	if (l == NULL)
		return berr_sys("allocating", "auth_ldap");
	l->starttls = cfg->ldap_starttls;
	l->ca_file = dup_or_null(cfg->ldap_ca_file);
	l->bind_dn = dup_or_null(cfg->ldap_bind_dn);
	l->user_base = dup_or_null(cfg->ldap_user_base);
	l->user_filter = dup_or_null(cfg->ldap_user_filter);
	l->dn_template = dup_or_null(cfg->ldap_user_dn_template);
	l->group_base = dup_or_null(cfg->ldap_group_base);
	l->group_attr = dup_or_null(cfg->ldap_group_attr);
	l->memberof_attr = dup_or_null(cfg->ldap_memberof_attr);
	l->user_attr = strdup(cfg->ldap_user_attr && cfg->ldap_user_attr[0] ? cfg->ldap_user_attr
									      : "uid");
	l->net_tv.tv_sec = cfg->ldap_network_timeout > 0 ? cfg->ldap_network_timeout : 5;
	l->op_tv.tv_sec = cfg->ldap_timeout > 0 ? cfg->ldap_timeout : 5;
	l->wd.cb.lc_add = watchdog_add;
	l->wd.cb.lc_del = watchdog_del;
	l->wd.cb.lc_arg = &l->wd;
	/* connect, then StartTLS and the first bind, with a little slack */
	l->wd.budget_ms = (int)(l->net_tv.tv_sec + 2 * l->op_tv.tv_sec) * 1000 + 500;
	if ((rc = split_uris(l, cfg->ldap_uri ? cfg->ldap_uri : "")) ||
	    (rc = read_bind_password(l, cfg)) || (rc = parse_group_mode(l, cfg)) ||
	    (rc = check_user_lookup(l)))
		goto out;
	if (l->ca_file && !fs_exists(l->ca_file))
		rc = berr_set(BERR_INTERNAL, "ldap_ca_file %s does not exist", l->ca_file);
out:
	if (rc)
		auth_ldap_free(l);
	else
		*out = l;
	return rc;
}

static void conn_drop(struct auth_ldap *l)
{
	if (l->ld)
		ldap_unbind_ext_s(l->ld, NULL, NULL);
	l->ld = NULL;
	l->as_user = 0;
}

void auth_ldap_free(struct auth_ldap *l)
{
	if (l == NULL)
		return;
	conn_drop(l);
	for (size_t i = 0; i < l->nuris; i++)
		free(l->uris[i]);
	free(l->uris);
	if (l->bind_pw) {
		explicit_bzero(l->bind_pw, strlen(l->bind_pw));
		free(l->bind_pw);
	}
	free(l->ca_file);
	free(l->bind_dn);
	free(l->user_base);
	free(l->user_filter);
	free(l->dn_template);
	free(l->group_base);
	free(l->group_attr);
	free(l->memberof_attr);
	free(l->user_attr);
	free(l);
}

int auth_ldap_unavailable(const struct auth_ldap *l)
{
	return l->unavailable;
}

void auth_ldap_groups_free(char **groups, size_t ngroups)
{
	for (size_t i = 0; groups && i < ngroups; i++)
		free(groups[i]);
	free(groups);
}

/* ---------------------------------------------------------------- connection */

/* Codes that say the connection or the server is gone, not the request. */
static int is_down(int rc)
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

static void note_failure(struct auth_ldap *l, const char *uri, const char *what, int rc)
{
	note_failure_ld(l, l->ld, uri, what, rc);
}

static int simple_bind(LDAP *ld, const char *dn, const char *pw)
{
	struct berval cred;

	cred.bv_val = (char *)(pw ? pw : "");
	cred.bv_len = pw ? strlen(pw) : 0;
	return ldap_sasl_bind_s(ld, dn ? dn : "", LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
}

/* Bind as the service account, or anonymously when there is none.  An
 * anonymous bind that the server refuses still proves it answers. */
static int bind_service(struct auth_ldap *l)
{
	int rc = simple_bind(l->ld, l->bind_dn, l->bind_pw);

	if (rc == LDAP_SUCCESS || (l->bind_dn == NULL && !is_down(rc))) {
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
		note_failure(l, uri, "initialize", rc);
		return rc;
	}
	if ((rc = set_options(l, ld, uri)) != LDAP_SUCCESS) {
		note_failure(l, uri, "setting options", rc);
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
	rc = bind_service(l);
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
static enum outcome conn_open(struct auth_ldap *l)
{
	for (size_t i = 0; i < l->nuris; i++)
		if (conn_open_one(l, i) == LDAP_SUCCESS)
			return OK;
	return DOWN;
}

/* ---------------------------------------------------------------- groups */

static enum berr strv_add(struct strv *s, const char *val, size_t len)
{
	char **nv;

	if (len == 0 || s->n >= GROUPS_MAX)
		return BERR_OK;
	for (size_t i = 0; i < s->n; i++)
		if (strlen(s->v[i]) == len && strncasecmp(s->v[i], val, len) == 0)
			return BERR_OK;
	if ((nv = realloc(s->v, (s->n + 1) * sizeof *nv)) == NULL)
		return berr_sys("allocating", "groups");
	s->v = nv;
	if ((s->v[s->n] = strndup(val, len)) == NULL)
		return berr_sys("allocating", "groups");
	s->n++;
	return BERR_OK;
}

/* The value of the first RDN of `dn` if its attribute is `attr` ("cn=devs,
 * ou=groups,..." -> "devs"); a DN named by another attribute is skipped. */
static enum berr add_rdn_value(struct strv *s, const char *dn, const char *attr)
{
	LDAPDN parsed = NULL;
	enum berr rc = BERR_OK;
	LDAPAVA *ava;

	if (ldap_str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || parsed == NULL ||
	    parsed[0] == NULL || (ava = parsed[0][0]) == NULL)
		goto out;
	if (ava->la_attr.bv_len == strlen(attr) &&
	    strncasecmp(ava->la_attr.bv_val, attr, ava->la_attr.bv_len) == 0 &&
	    !(ava->la_flags & LDAP_AVA_BINARY))
		rc = strv_add(s, ava->la_value.bv_val, ava->la_value.bv_len);
out:
	ldap_dnfree(parsed);
	return rc;
}

static enum berr memberof_values(LDAP *ld, LDAPMessage *entry, const char *memberof_attr,
				 const char *group_attr, struct strv *s)
{
	struct berval **vals = ldap_get_values_len(ld, entry, memberof_attr);
	enum berr rc = BERR_OK;
	char *dn;

	for (size_t i = 0; vals && vals[i] && rc == BERR_OK; i++) {
		if ((dn = strndup(vals[i]->bv_val, vals[i]->bv_len)) == NULL)
			rc = berr_sys("allocating", "group DN");
		else
			rc = add_rdn_value(s, dn, group_attr);
		free(dn);
	}
	ldap_value_free_len(vals);
	return rc;
}

static int search(struct auth_ldap *l, const char *base, int scope, const char *filter,
		  char **attrs, int sizelimit, LDAPMessage **res)
{
	struct timeval tv = l->op_tv;

	*res = NULL;
	return ldap_search_ext_s(l->ld, base, scope, filter, attrs, 0, NULL, NULL, &tv,
				 sizelimit, res);
}

/* Groups whose member/uniqueMember is `dn` or whose memberUid is `user`. */
static enum outcome group_search(struct auth_ldap *l, const char *dn, const char *user,
				 struct strv *s)
{
	char *attrs[] = { l->group_attr, NULL }, *esc, *filter = NULL;
	LDAPMessage *res = NULL, *e;
	enum outcome out = FAILED;
	int rc;

	esc = l->mode == GROUPS_MEMBER ? auth_ldap_filter_escape(dn, strlen(dn))
				       : auth_ldap_filter_escape(user, strlen(user));
	if (esc == NULL)
		return FAILED;
	if ((l->mode == GROUPS_MEMBER &&
	     asprintf(&filter, "(|(member=%s)(uniqueMember=%s))", esc, esc) < 0) ||
	    (l->mode == GROUPS_MEMBERUID && asprintf(&filter, "(memberUid=%s)", esc) < 0)) {
		filter = NULL;
		goto done;
	}
	rc = search(l, l->group_base, LDAP_SCOPE_SUBTREE, filter, attrs, GROUPS_MAX, &res);
	if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
		note_failure(l, l->uris[l->uri], "group search", rc);
		out = is_down(rc) ? DOWN : FAILED;
		goto done;
	}
	for (e = ldap_first_entry(l->ld, res); e; e = ldap_next_entry(l->ld, e)) {
		struct berval **vals = ldap_get_values_len(l->ld, e, l->group_attr);
		enum berr brc = vals && vals[0] ? strv_add(s, vals[0]->bv_val, vals[0]->bv_len)
						: BERR_OK;
		ldap_value_free_len(vals);
		if (brc)
			goto done;
	}
	out = OK;
done:
	ldap_msgfree(res);
	free(filter);
	free(esc);
	return out;
}

/* ---------------------------------------------------------------- the entry */

/* GeneralizedTime (RFC 4517: YYYYMMDDHHMMSS[.frac](Z|+hhmm|-hhmm)). */
static time_t generalized_time(const struct berval *v)
{
	struct tm tm;
	char buf[40];
	const char *p;
	int hh = 0, mm = 0;
	time_t t;

	if (v->bv_len < 15 || v->bv_len >= sizeof buf)
		return 0;
	memcpy(buf, v->bv_val, v->bv_len);
	buf[v->bv_len] = '\0';
	memset(&tm, 0, sizeof tm);
	if (sscanf(buf, "%4d%2d%2d%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		   &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	for (p = buf + 14; *p == '.' || *p == ',' || isdigit((unsigned char)*p); p++)
		;
	if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d%2d", &hh, &mm) >= 1)
		t += (*p == '+' ? -1 : 1) * (time_t)(hh * 3600 + mm * 60);
	return t;
}

static struct berval *first_value(LDAP *ld, LDAPMessage *e, const char *attr, struct berval ***vals)
{
	*vals = ldap_get_values_len(ld, e, attr);
	return *vals && (*vals)[0] ? (*vals)[0] : NULL;
}

/* The account's state where the directory keeps it: OpenLDAP ppolicy's
 * pwdChangedTime and pwdAccountLockedTime, AD's pwdLastSet (100 ns ticks
 * since 1601) and userAccountControl bit 2 (ACCOUNTDISABLE). */
static void state_read(LDAP *ld, LDAPMessage *e, struct auth_ldap_user *u)
{
	struct berval **vals, *v;
	char num[32];

	if ((v = first_value(ld, e, "pwdChangedTime", &vals)))
		u->pwd_changed = generalized_time(v);
	ldap_value_free_len(vals);
	if ((v = first_value(ld, e, "pwdLastSet", &vals)) && v->bv_len < sizeof num) {
		long long ticks;

		memcpy(num, v->bv_val, v->bv_len);
		num[v->bv_len] = '\0';
		ticks = strtoll(num, NULL, 10);
		if (ticks > 116444736000000000LL && u->pwd_changed == 0)
			u->pwd_changed = (time_t)(ticks / 10000000 - 11644473600LL);
	}
	ldap_value_free_len(vals);
	if ((v = first_value(ld, e, "userAccountControl", &vals)) && v->bv_len < sizeof num) {
		memcpy(num, v->bv_val, v->bv_len);
		num[v->bv_len] = '\0';
		if (strtol(num, NULL, 10) & 2)
			u->disabled = 1;
	}
	ldap_value_free_len(vals);
	if (first_value(ld, e, "pwdAccountLockedTime", &vals))
		u->disabled = 1;
	ldap_value_free_len(vals);
}

/* The user's name as the directory spells it: exactly one value of
 * ldap_user_attr, printable, no NUL.  Anything else is refused: which
 * spelling would be the subject? */
static enum outcome name_read(struct auth_ldap *l, LDAPMessage *e, struct auth_ldap_user *u)
{
	struct berval **vals = ldap_get_values_len(l->ld, e, l->user_attr), *v;
	char *dn = ldap_get_dn(l->ld, e);
	enum outcome out = BAD;
	size_t i;

	if (!vals || !vals[0] || vals[1]) {
		log_warn("ldap: %s has %s value of %s, want exactly one: login refused", dn ? dn : "?",
			 vals && vals[0] ? "more than one" : "no", l->user_attr);
		goto out;
	}
	v = vals[0];
	for (i = 0; i < v->bv_len; i++)
		if ((unsigned char)v->bv_val[i] < 0x20 || v->bv_val[i] == 0x7f)
			break;
	if (v->bv_len == 0 || i < v->bv_len || v->bv_len >= sizeof u->name) {
		log_warn("ldap: %s: the value of %s is empty, too long or holds control characters: "
			 "login refused", dn ? dn : "?", l->user_attr);
		goto out;
	}
	memcpy(u->name, v->bv_val, v->bv_len);
	u->name[v->bv_len] = '\0';
	out = OK;
out:
	ldap_memfree(dn);
	ldap_value_free_len(vals);
	return out;
}

/* What every read of the user's entry asks for: the name, memberOf
 * groups, and the state attributes (operational ones must be named). */
static void entry_attrs(const struct auth_ldap *l, char *attrs[7])
{
	int n = 0;

	attrs[n++] = l->user_attr;
	if (l->mode == GROUPS_MEMBEROF)
		attrs[n++] = l->memberof_attr;
	attrs[n++] = (char *)"pwdChangedTime";
	attrs[n++] = (char *)"pwdLastSet";
	attrs[n++] = (char *)"userAccountControl";
	attrs[n++] = (char *)"pwdAccountLockedTime";
	attrs[n] = NULL;
}

static enum outcome entry_read(struct auth_ldap *l, LDAPMessage *e, struct auth_ldap_user *u,
			       struct strv *s)
{
	enum outcome out = name_read(l, e, u);

	if (out != OK)
		return out;
	state_read(l->ld, e, u);
	if (l->mode == GROUPS_MEMBEROF && memberof_values(l->ld, e, l->memberof_attr,
							  l->group_attr, s))
		return FAILED;
	return OK;
}

/* Read the entry u->dn (direct-bind mode): BAD if it does not exist or
 * cannot be read with this bind. */
static enum outcome dn_read(struct auth_ldap *l, struct auth_ldap_user *u, struct strv *s)
{
	char *attrs[7];
	LDAPMessage *res = NULL, *e = NULL;
	enum outcome out;
	int rc;

	entry_attrs(l, attrs);
	rc = search(l, u->dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 1, &res);
	if (rc == LDAP_NO_SUCH_OBJECT || (rc == LDAP_SUCCESS && (e = ldap_first_entry(l->ld, res)) == NULL)) {
		log_info("ldap: %s: no such entry, or not readable with this bind", u->dn);
		out = BAD;
	} else if (rc != LDAP_SUCCESS) {
		note_failure(l, l->uris[l->uri], "reading the user's entry", rc);
		out = is_down(rc) ? DOWN : FAILED;
	} else {
		out = entry_read(l, e, u, s);
	}
	ldap_msgfree(res);
	return out;
}

/* ---------------------------------------------------------------- login */

/* The DN of `user` by search (exactly one entry) into u->dn, with the
 * entry's name, state and memberOf groups. */
static enum outcome find_user(struct auth_ldap *l, const char *user, struct auth_ldap_user *u,
			      struct strv *s)
{
	char *attrs[7], *esc = auth_ldap_filter_escape(user, strlen(user)), *filter = NULL, *d;
	LDAPMessage *res = NULL, *e;
	enum outcome out = FAILED;
	int rc;

	entry_attrs(l, attrs);
	if (esc == NULL || (filter = auth_ldap_template(l->user_filter, esc)) == NULL)
		goto done;
	rc = search(l, l->user_base, LDAP_SCOPE_SUBTREE, filter, attrs, 2, &res);
	if (rc == LDAP_SIZELIMIT_EXCEEDED || (rc == LDAP_SUCCESS && ldap_count_entries(l->ld, res) != 1)) {
		log_info("ldap: user search %s: %d entries, want exactly 1", filter,
			 rc == LDAP_SUCCESS ? ldap_count_entries(l->ld, res) : 2);
		out = BAD;
		goto done;
	}
	if (rc != LDAP_SUCCESS) {
		note_failure(l, l->uris[l->uri], "user search", rc);
		out = is_down(rc) ? DOWN : FAILED;
		goto done;
	}
	e = ldap_first_entry(l->ld, res);
	if ((d = ldap_get_dn(l->ld, e)) == NULL || (u->dn = strdup(d)) == NULL) {
		ldap_memfree(d);
		goto done;
	}
	ldap_memfree(d);
	out = entry_read(l, e, u, s);
done:
	ldap_msgfree(res);
	free(filter);
	free(esc);
	return out;
}

static enum outcome user_dn(struct auth_ldap *l, const char *user, struct auth_ldap_user *u,
			    struct strv *s)
{
	char *esc;

	if (l->dn_template == NULL)
		return find_user(l, user, u, s);
	if ((esc = auth_ldap_dn_escape(user, strlen(user))) == NULL)
		return FAILED;
	u->dn = auth_ldap_template(l->dn_template, esc);
	free(esc);
	return u->dn ? OK : FAILED;
}

/* Groups by search, for the modes that search for them. */
static enum outcome groups_searched(struct auth_ldap *l, struct auth_ldap_user *u, struct strv *s)
{
	if (l->mode == GROUPS_MEMBER || l->mode == GROUPS_MEMBERUID)
		return group_search(l, u->dn, u->name, s);
	return OK;
}

/* Steps 3-5 on the current connection. */
static enum outcome login_once(struct auth_ldap *l, const char *user, const char *password,
			       struct auth_ldap_user *u, struct strv *s)
{
	enum outcome out;
	int rc;

	if (l->as_user && l->dn_template == NULL && (rc = bind_service(l)) != LDAP_SUCCESS) {
		note_failure(l, l->uris[l->uri], "bind as ldap_bind_dn", rc);
		return is_down(rc) ? DOWN : FAILED;
	}
	if ((out = user_dn(l, user, u, s)) != OK)
		return out;
	l->as_user = 1;
	rc = simple_bind(l->ld, u->dn, password);
	if (rc != LDAP_SUCCESS) {
		if (is_down(rc))
			note_failure(l, l->uris[l->uri], "user bind", rc);
		return is_down(rc) ? DOWN : BAD;
	}
	if (l->bind_dn && (rc = bind_service(l)) != LDAP_SUCCESS) {
		note_failure(l, l->uris[l->uri], "bind as ldap_bind_dn", rc);
		return is_down(rc) ? DOWN : FAILED;
	}
	if (l->dn_template && (out = dn_read(l, u, s)) != OK)
		return out == BAD ? FAILED : out;  /* the password was right: not a bad login */
	return groups_searched(l, u, s);
}

static int user_name_ok(const char *user)
{
	size_t n;

	if (user == NULL || user[0] == '\0')
		return 0;
	for (n = 0; user[n]; n++)
		if (n >= USER_MAX || (unsigned char)user[n] < 0x20 || user[n] == 0x7f)
			return 0;
	return 1;
}

/* The user's entry, state and groups as the service account, no password
 * (refresh tokens, berthctl). */
static enum outcome lookup_once(struct auth_ldap *l, const char *user, const char *password,
				struct auth_ldap_user *u, struct strv *s)
{
	enum outcome out;
	int rc;

	(void)password;
	if (l->as_user && (rc = bind_service(l)) != LDAP_SUCCESS) {
		note_failure(l, l->uris[l->uri], "bind as ldap_bind_dn", rc);
		return is_down(rc) ? DOWN : FAILED;
	}
	if ((out = user_dn(l, user, u, s)) != OK)
		return out;
	if (l->dn_template && (out = dn_read(l, u, s)) != OK)
		return out;
	return groups_searched(l, u, s);
}

typedef enum outcome (*ldap_op)(struct auth_ldap *, const char *, const char *,
				struct auth_ldap_user *, struct strv *);

static void user_reset(struct auth_ldap_user *u, struct strv *s)
{
	auth_ldap_groups_free(s->v, s->n);
	s->v = NULL;
	s->n = 0;
	free(u->dn);
	memset(u, 0, sizeof *u);
}

/* Run `op` on the process's connection, opening one if needed, and once
 * more on a fresh connection when the reused one turns out broken. */
static enum outcome run_op(struct auth_ldap *l, ldap_op op, const char *user,
			   const char *password, struct auth_ldap_user *u, struct strv *s)
{
	enum outcome out = DOWN;
	int reused;

	for (int attempt = 0; attempt < 2; attempt++) {
		reused = l->ld != NULL;
		if (!reused && (out = conn_open(l)) != OK)
			break;
		user_reset(u, s);
		if ((out = op(l, user, password, u, s)) != DOWN)
			break;
		conn_drop(l);
		if (!reused)
			break;
		log_info("ldap: connection to %s broke; reconnecting", l->uris[l->uri]);
	}
	return out;
}

/* The answer for an outcome other than OK. */
static enum berr outcome_error(struct auth_ldap *l, enum outcome out, const char *bad)
{
	if (out == BAD)
		return berr_set(BERR_UNAUTHORIZED, "%s", bad);
	if (out == DOWN) {
		l->unavailable = 1;
		return berr_set(BERR_UNAUTHORIZED, "directory unavailable: %s",
				l->why[0] ? l->why : "no server answered");
	}
	conn_drop(l);   /* unknown state: start clean next time */
	return berr_set(BERR_UNAUTHORIZED, "directory error: %s",
			l->why[0] ? l->why : "the entry could not be read (see the log)");
}

static enum berr run(struct auth_ldap *l, ldap_op op, const char *user, const char *password,
		     const char *bad, struct auth_ldap_user *u)
{
	struct strv s = { NULL, 0 };
	enum outcome out = run_op(l, op, user, password, u, &s);

	if (out == OK) {
		u->groups = s.v;
		u->ngroups = s.n;
		return BERR_OK;
	}
	auth_ldap_groups_free(s.v, s.n);
	if (out != BAD) {       /* the name is only kept for a wrong password */
		free(u->dn);
		memset(u, 0, sizeof *u);
	}
	return outcome_error(l, out, bad);
}

static void begin(struct auth_ldap *l, struct auth_ldap_user *u)
{
	memset(u, 0, sizeof *u);
	l->unavailable = 0;
	l->why[0] = '\0';
}

enum berr auth_ldap_login_user(struct auth_ldap *l, const char *user, const char *password,
			       struct auth_ldap_user *u)
{
	begin(l, u);
	/* An empty password would be an unauthenticated bind, which servers
	 * answer with success: never let one reach the directory. */
	if (!user_name_ok(user) || password == NULL || password[0] == '\0')
		return berr_set(BERR_UNAUTHORIZED, BAD_LOGIN);
	return run(l, login_once, user, password, BAD_LOGIN, u);
}

enum berr auth_ldap_lookup_user(struct auth_ldap *l, const char *user, struct auth_ldap_user *u)
{
	enum berr rc;

	begin(l, u);
	if (!user_name_ok(user))
		return berr_set(BERR_UNAUTHORIZED, "the user is not in the directory");
	rc = run(l, lookup_once, user, NULL, "the user is not in the directory", u);
	if (rc == BERR_UNAUTHORIZED && !l->unavailable)
		auth_ldap_user_release(u);
	return rc;
}

void auth_ldap_user_release(struct auth_ldap_user *u)
{
	auth_ldap_groups_free(u->groups, u->ngroups);
	free(u->dn);
	memset(u, 0, sizeof *u);
}

/* The older interface: groups only. */
static enum berr groups_only(enum berr rc, struct auth_ldap_user *u, char ***groups,
			     size_t *ngroups)
{
	*groups = rc ? NULL : u->groups;
	*ngroups = rc ? 0 : u->ngroups;
	if (!rc)
		u->groups = NULL;
	auth_ldap_user_release(u);
	return rc;
}

enum berr auth_ldap_login(struct auth_ldap *l, const char *user, const char *password,
			  char ***groups, size_t *ngroups)
{
	struct auth_ldap_user u;

	return groups_only(auth_ldap_login_user(l, user, password, &u), &u, groups, ngroups);
}

enum berr auth_ldap_lookup(struct auth_ldap *l, const char *user, char ***groups,
			   size_t *ngroups)
{
	struct auth_ldap_user u;

	return groups_only(auth_ldap_lookup_user(l, user, &u), &u, groups, ngroups);
}
