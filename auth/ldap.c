/*
 * ldap.c - directory logins with libldap (see ldap.h).
 *
 * A login is, in order:
 *   1. refuse an empty password or an unusable user name (no traffic);
 *   2. have a connection: reuse the worker's, or open one to the first URI
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

#include "auth/ldap.h"
#include "store/fs.h"
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
	struct timeval net_tv;
	struct timeval op_tv;

	struct watchdog wd;
	LDAP *ld;               /* the worker's connection, NULL when none */
	size_t uri;             /* index of the URI ld is connected to */
	int as_user;            /* ld was last bound as a user, not the service */
	int unavailable;
	char why[512];          /* what failed, for the detail */
};

struct strv {
	char **v;
	size_t n;
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
	if (rc == 0)
		shutdown(w->sock, SHUT_RDWR);   /* ends a stuck handshake */
	return NULL;
}

/* LDAP_OPT_CONNECT_CB: the socket of a new connection exists. */
static int watchdog_add(LDAP *ld, Sockbuf *sb, LDAPURLDesc *srv, struct sockaddr *addr,
			struct ldap_conncb *ctx)
{
	struct watchdog *w = ctx->lc_arg;
	ber_socket_t fd = -1;

	(void)ld, (void)srv, (void)addr;
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

/* ---------------------------------------------------------------- escaping */

char *auth_ldap_filter_escape(const char *in, size_t len)
{
	char *out = malloc(3 * len + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '*' || c == '(' || c == ')' || c == '\\' || c < 0x20 || c >= 0x7f)
			o += sprintf(o, "\\%02x", c);
		else
			*o++ = (char)c;
	}
	*o = '\0';
	return out;
}

char *auth_ldap_dn_escape(const char *in, size_t len)
{
	char *out = malloc(3 * len + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c < 0x20 || c == 0x7f)
			o += sprintf(o, "\\%02x", c);
		else if (strchr("\"+,;<>\\=", c) || (i == 0 && (c == ' ' || c == '#')) ||
			 (i == len - 1 && c == ' '))
			o += sprintf(o, "\\%c", c);
		else
			*o++ = (char)c;
	}
	*o = '\0';
	return out;
}

char *auth_ldap_template(const char *tmpl, const char *value)
{
	size_t n = 0, vlen = strlen(value);
	const char *p;
	char *out, *o;

	for (p = tmpl; *p; p++) {
		if (*p != '%') {
			n++;
			continue;
		}
		if (p[1] == 's')
			n += vlen;
		else if (p[1] == '%')
			n++;
		else
			return NULL;
		p++;
	}
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	for (p = tmpl, o = out; *p; p++) {
		if (*p != '%') {
			*o++ = *p;
			continue;
		}
		if (*++p == 's') {
			memcpy(o, value, vlen);
			o += vlen;
		} else {
			*o++ = '%';
		}
	}
	*o = '\0';
	return out;
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
	if (l->group_attr == NULL || l->memberof_attr == NULL)
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

static void note_failure(struct auth_ldap *l, const char *uri, const char *what, int rc)
{
	size_t n = strlen(l->why);

	snprintf(l->why + n, sizeof l->why - n, "%s%s: %s: %s", n ? "; " : "", uri, what,
		 ldap_err2string(rc));
	log_warn("ldap %s: %s: %s", uri, what, ldap_err2string(rc));
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
	if (l->starttls && strncmp(uri, "ldap://", 7) == 0 &&
	    (rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS) {
		note_failure(l, uri, "StartTLS", rc);
		goto fail;
	}
	l->ld = ld;
	l->uri = i;
	rc = bind_service(l);
	watchdog_stop(&l->wd);
	if (rc != LDAP_SUCCESS) {
		note_failure(l, uri, l->bind_dn ? "bind as ldap_bind_dn" : "anonymous bind", rc);
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

/* Read the entry `dn` (direct-bind mode): BAD if it does not exist, and
 * its memberOf-style groups in memberof mode. */
static enum outcome memberof_read(struct auth_ldap *l, const char *dn, struct strv *s)
{
	char *attrs[] = { l->mode == GROUPS_MEMBEROF ? l->memberof_attr : LDAP_NO_ATTRS, NULL };
	LDAPMessage *res = NULL, *e;
	int rc = search(l, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 1, &res);
	enum outcome out = OK;

	if (rc == LDAP_NO_SUCH_OBJECT || (rc == LDAP_SUCCESS && ldap_first_entry(l->ld, res) == NULL)) {
		out = BAD;
	} else if (rc != LDAP_SUCCESS) {
		note_failure(l, l->uris[l->uri], "reading the user's entry", rc);
		out = is_down(rc) ? DOWN : FAILED;
	} else if (l->mode == GROUPS_MEMBEROF && (e = ldap_first_entry(l->ld, res)) != NULL &&
		   memberof_values(l->ld, e, l->memberof_attr, l->group_attr, s)) {
		out = FAILED;
	}
	ldap_msgfree(res);
	return out;
}

/* ---------------------------------------------------------------- login */

/* The DN of `user` by search (exactly one entry) into *dn, and its memberOf
 * groups when that is the mode. */
static enum outcome find_user(struct auth_ldap *l, const char *user, char **dn,
			      struct strv *s)
{
	char *attrs[] = { l->mode == GROUPS_MEMBEROF ? l->memberof_attr : LDAP_NO_ATTRS, NULL };
	char *esc = auth_ldap_filter_escape(user, strlen(user)), *filter = NULL, *d;
	LDAPMessage *res = NULL, *e;
	enum outcome out = FAILED;
	int rc;

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
	if ((d = ldap_get_dn(l->ld, e)) == NULL || (*dn = strdup(d)) == NULL) {
		ldap_memfree(d);
		goto done;
	}
	ldap_memfree(d);
	out = OK;
	if (l->mode == GROUPS_MEMBEROF && memberof_values(l->ld, e, l->memberof_attr,
							  l->group_attr, s))
		out = FAILED;
done:
	ldap_msgfree(res);
	free(filter);
	free(esc);
	return out;
}

static enum outcome user_dn(struct auth_ldap *l, const char *user, char **dn, struct strv *s)
{
	char *esc;

	*dn = NULL;
	if (l->dn_template == NULL)
		return find_user(l, user, dn, s);
	if ((esc = auth_ldap_dn_escape(user, strlen(user))) == NULL)
		return FAILED;
	*dn = auth_ldap_template(l->dn_template, esc);
	free(esc);
	return *dn ? OK : FAILED;
}

/* Steps 3-5 on the current connection. */
static enum outcome login_once(struct auth_ldap *l, const char *user, const char *password,
			       struct strv *s)
{
	enum outcome out;
	char *dn = NULL;
	int rc;

	if (l->as_user && l->dn_template == NULL && (rc = bind_service(l)) != LDAP_SUCCESS) {
		note_failure(l, l->uris[l->uri], "bind as ldap_bind_dn", rc);
		return is_down(rc) ? DOWN : FAILED;
	}
	if ((out = user_dn(l, user, &dn, s)) != OK)
		goto done;
	l->as_user = 1;
	rc = simple_bind(l->ld, dn, password);
	if (rc != LDAP_SUCCESS) {
		if (is_down(rc))
			note_failure(l, l->uris[l->uri], "user bind", rc);
		out = is_down(rc) ? DOWN : BAD;
		goto done;
	}
	if (l->bind_dn && l->mode != GROUPS_NONE && (rc = bind_service(l)) != LDAP_SUCCESS) {
		note_failure(l, l->uris[l->uri], "bind as ldap_bind_dn", rc);
		out = is_down(rc) ? DOWN : FAILED;
		goto done;
	}
	if (l->mode == GROUPS_MEMBEROF && l->dn_template)
		out = memberof_read(l, dn, s);
	else if (l->mode == GROUPS_MEMBER || l->mode == GROUPS_MEMBERUID)
		out = group_search(l, dn, user, s);
done:
	free(dn);
	return out;
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

/* Groups of `user` as the service account, no password (refresh tokens). */
static enum outcome lookup_once(struct auth_ldap *l, const char *user, const char *password,
				struct strv *s)
{
	enum outcome out;
	char *dn = NULL;
	int rc;

	(void)password;
	if (l->as_user && (rc = bind_service(l)) != LDAP_SUCCESS) {
		note_failure(l, l->uris[l->uri], "bind as ldap_bind_dn", rc);
		return is_down(rc) ? DOWN : FAILED;
	}
	if ((out = user_dn(l, user, &dn, s)) != OK)
		goto done;
	if (l->dn_template)
		out = memberof_read(l, dn, s);  /* does the entry still exist? */
	if (out == OK && (l->mode == GROUPS_MEMBER || l->mode == GROUPS_MEMBERUID))
		out = group_search(l, dn, user, s);
done:
	free(dn);
	return out;
}

typedef enum outcome (*ldap_op)(struct auth_ldap *, const char *, const char *, struct strv *);

/* Run `op` on the worker's connection, opening one if needed, and once
 * more on a fresh connection when the reused one turns out broken. */
static enum outcome run_op(struct auth_ldap *l, ldap_op op, const char *user,
			   const char *password, struct strv *s)
{
	enum outcome out = DOWN;
	int reused;

	for (int attempt = 0; attempt < 2; attempt++) {
		reused = l->ld != NULL;
		if (!reused && (out = conn_open(l)) != OK)
			break;
		auth_ldap_groups_free(s->v, s->n);
		s->v = NULL;
		s->n = 0;
		if ((out = op(l, user, password, s)) != DOWN)
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
			l->why[0] ? l->why : "out of memory");
}

static enum berr run(struct auth_ldap *l, ldap_op op, const char *user, const char *password,
		     const char *bad, char ***groups, size_t *ngroups)
{
	struct strv s = { NULL, 0 };
	enum outcome out = run_op(l, op, user, password, &s);

	if (out == OK) {
		*groups = s.v;
		*ngroups = s.n;
		return BERR_OK;
	}
	auth_ldap_groups_free(s.v, s.n);
	return outcome_error(l, out, bad);
}

enum berr auth_ldap_login(struct auth_ldap *l, const char *user, const char *password,
			  char ***groups, size_t *ngroups)
{
	*groups = NULL;
	*ngroups = 0;
	l->unavailable = 0;
	l->why[0] = '\0';
	/* An empty password would be an unauthenticated bind, which servers
	 * answer with success: never let one reach the directory. */
	if (!user_name_ok(user) || password == NULL || password[0] == '\0')
		return berr_set(BERR_UNAUTHORIZED, BAD_LOGIN);
	return run(l, login_once, user, password, BAD_LOGIN, groups, ngroups);
}

enum berr auth_ldap_lookup(struct auth_ldap *l, const char *user, char ***groups,
			   size_t *ngroups)
{
	*groups = NULL;
	*ngroups = 0;
	l->unavailable = 0;
	l->why[0] = '\0';
	if (!user_name_ok(user))
		return berr_set(BERR_UNAUTHORIZED, "the user is not in the directory");
	return run(l, lookup_once, user, NULL, "the user is not in the directory", groups,
		   ngroups);
}
