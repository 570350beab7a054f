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
 * The connection itself (failover, StartTLS, the service bind, the
 * watchdog that bounds a stuck TLS handshake, and TLS failures told
 * plainly) is ldap_conn.c's.
 *
 * libldap may write to a socket the server closed: the pool must ignore
 * SIGPIPE (a FastCGI worker does anyway).
 */
#include <ctype.h>
#include <errno.h>
#include <ldap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "auth/ldap.h"
#include "auth/ldap_conn.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

#define BAD_LOGIN "invalid username or password"
#define USER_MAX 256
#define GROUPS_MAX 4096

struct strv {
	char **v;
	size_t n, cap;
};

/* What one attempt found out about the user (groups go to a strv). */
struct found {
	char name[AUTH_LDAP_NAME_MAX];
	int have_name;          /* the entry was read and name[] is its value */
	time_t pwd_changed;
	int disabled;
};

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
		if (strncmp(u, "ldap://", 7) && strncmp(u, "ldaps://", 8) && strncmp(u, "ldapi://", 8)) {
			rc = berr_set(BERR_INTERNAL, "ldap_uri: \"%s\" is not ldap://, ldaps:// "
				      "or ldapi://", u);
			break;
		}
		if ((rc = mem_grow(&l->uris, &l->uris_cap, l->nuris + 1, sizeof *l->uris, 4,
				   "ldap_uri")))
			break;
		if ((l->uris[l->nuris] = strdup(u)) == NULL) {
			rc = berr_sys("allocating", "ldap_uri");
			break;
		}
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
	auth_ldap_conn_watch(l);
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

void auth_ldap_free(struct auth_ldap *l)
{
	if (l == NULL)
		return;
	auth_ldap_conn_drop(l);
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

int auth_ldap_broken(const struct auth_ldap *l)
{
	return l->broken;
}

void auth_ldap_groups_free(char **groups, size_t ngroups)
{
	for (size_t i = 0; groups && i < ngroups; i++)
		free(groups[i]);
	free(groups);
}

/* ---------------------------------------------------------------- groups */

static enum berr strv_add(struct strv *s, const char *val, size_t len)
{
	enum berr rc;

	if (len == 0 || s->n >= GROUPS_MAX)
		return BERR_OK;
	for (size_t i = 0; i < s->n; i++)
		if (strlen(s->v[i]) == len && strncasecmp(s->v[i], val, len) == 0)
			return BERR_OK;
	if ((rc = mem_grow(&s->v, &s->cap, s->n + 1, sizeof *s->v, 8, "groups")))
		return rc;
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
	enum outcome out = AUTH_LDAP_FAILED;
	int rc;

	esc = l->mode == GROUPS_MEMBER ? auth_ldap_filter_escape(dn, strlen(dn))
				       : auth_ldap_filter_escape(user, strlen(user));
	if (esc == NULL)
		return AUTH_LDAP_FAILED;
	if ((l->mode == GROUPS_MEMBER &&
	     asprintf(&filter, "(|(member=%s)(uniqueMember=%s))", esc, esc) < 0) ||
	    (l->mode == GROUPS_MEMBERUID && asprintf(&filter, "(memberUid=%s)", esc) < 0)) {
		filter = NULL;
		goto done;
	}
	rc = search(l, l->group_base, LDAP_SCOPE_SUBTREE, filter, attrs, GROUPS_MAX, &res);
	if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
		auth_ldap_conn_failed(l, l->uris[l->uri], "group search", rc);
		out = auth_ldap_conn_down(rc) ? AUTH_LDAP_DOWN : AUTH_LDAP_FAILED;
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
	out = AUTH_LDAP_OK;
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
	enum outcome out = AUTH_LDAP_BAD;
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
	out = AUTH_LDAP_OK;
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

	if (out != AUTH_LDAP_OK)
		return out;
	state_read(l->ld, e, u);
	if (l->mode == GROUPS_MEMBEROF && memberof_values(l->ld, e, l->memberof_attr,
							  l->group_attr, s))
		return AUTH_LDAP_FAILED;
	return AUTH_LDAP_OK;
}

/* Read the entry u->dn (direct-bind mode): AUTH_LDAP_BAD if it does not exist or
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
		out = AUTH_LDAP_BAD;
	} else if (rc != LDAP_SUCCESS) {
		auth_ldap_conn_failed(l, l->uris[l->uri], "reading the user's entry", rc);
		out = auth_ldap_conn_down(rc) ? AUTH_LDAP_DOWN : AUTH_LDAP_FAILED;
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
	enum outcome out = AUTH_LDAP_FAILED;
	int rc;

	entry_attrs(l, attrs);
	if (esc == NULL || (filter = auth_ldap_template(l->user_filter, esc)) == NULL)
		goto done;
	rc = search(l, l->user_base, LDAP_SCOPE_SUBTREE, filter, attrs, 2, &res);
	if (rc == LDAP_SIZELIMIT_EXCEEDED || (rc == LDAP_SUCCESS && ldap_count_entries(l->ld, res) != 1)) {
		log_info("ldap: user search %s: %d entries, want exactly 1", filter,
			 rc == LDAP_SUCCESS ? ldap_count_entries(l->ld, res) : 2);
		out = AUTH_LDAP_BAD;
		goto done;
	}
	if (rc != LDAP_SUCCESS) {
		auth_ldap_conn_failed(l, l->uris[l->uri], "user search", rc);
		out = auth_ldap_conn_down(rc) ? AUTH_LDAP_DOWN : AUTH_LDAP_FAILED;
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
		return AUTH_LDAP_FAILED;
	u->dn = auth_ldap_template(l->dn_template, esc);
	free(esc);
	return u->dn ? AUTH_LDAP_OK : AUTH_LDAP_FAILED;
}

/* Groups by search, for the modes that search for them. */
static enum outcome groups_searched(struct auth_ldap *l, struct auth_ldap_user *u, struct strv *s)
{
	if (l->mode == GROUPS_MEMBER || l->mode == GROUPS_MEMBERUID)
		return group_search(l, u->dn, u->name, s);
	return AUTH_LDAP_OK;
}

/* Steps 3-5 on the current connection. */
static enum outcome login_once(struct auth_ldap *l, const char *user, const char *password,
			       struct auth_ldap_user *u, struct strv *s)
{
	enum outcome out;
	int rc;

	if (l->as_user && l->dn_template == NULL && (rc = auth_ldap_conn_bind_service(l)) != LDAP_SUCCESS) {
		auth_ldap_conn_failed(l, l->uris[l->uri], "bind as ldap_bind_dn", rc);
		return auth_ldap_conn_down(rc) ? AUTH_LDAP_DOWN : AUTH_LDAP_FAILED;
	}
	if ((out = user_dn(l, user, u, s)) != AUTH_LDAP_OK)
		return out;
	l->as_user = 1;
	rc = auth_ldap_conn_bind(l->ld, u->dn, password);
	if (rc != LDAP_SUCCESS) {
		if (auth_ldap_conn_down(rc))
			auth_ldap_conn_failed(l, l->uris[l->uri], "user bind", rc);
		return auth_ldap_conn_down(rc) ? AUTH_LDAP_DOWN : AUTH_LDAP_BAD;
	}
	if (l->bind_dn && (rc = auth_ldap_conn_bind_service(l)) != LDAP_SUCCESS) {
		auth_ldap_conn_failed(l, l->uris[l->uri], "bind as ldap_bind_dn", rc);
		return auth_ldap_conn_down(rc) ? AUTH_LDAP_DOWN : AUTH_LDAP_FAILED;
	}
	if (l->dn_template && (out = dn_read(l, u, s)) != AUTH_LDAP_OK)
		return out == AUTH_LDAP_BAD ? AUTH_LDAP_FAILED : out;  /* the password was right: not a bad login */
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
	if (l->as_user && (rc = auth_ldap_conn_bind_service(l)) != LDAP_SUCCESS) {
		auth_ldap_conn_failed(l, l->uris[l->uri], "bind as ldap_bind_dn", rc);
		return auth_ldap_conn_down(rc) ? AUTH_LDAP_DOWN : AUTH_LDAP_FAILED;
	}
	if ((out = user_dn(l, user, u, s)) != AUTH_LDAP_OK)
		return out;
	if (l->dn_template && (out = dn_read(l, u, s)) != AUTH_LDAP_OK)
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
	enum outcome out = AUTH_LDAP_DOWN;
	int reused;

	for (int attempt = 0; attempt < 2; attempt++) {
		reused = l->ld != NULL;
		if (!reused && (out = auth_ldap_conn_open(l)) != AUTH_LDAP_OK)
			break;
		user_reset(u, s);
		if ((out = op(l, user, password, u, s)) != AUTH_LDAP_DOWN)
			break;
		auth_ldap_conn_drop(l);
		if (!reused)
			break;
		log_info("ldap: connection to %s broke; reconnecting", l->uris[l->uri]);
	}
	return out;
}

/* The answer for an outcome other than AUTH_LDAP_OK. */
static enum berr outcome_error(struct auth_ldap *l, enum outcome out, const char *bad)
{
	if (out == AUTH_LDAP_BAD)
		return berr_set(BERR_UNAUTHORIZED, "%s", bad);
	if (out == AUTH_LDAP_DOWN) {
		l->unavailable = 1;
		return berr_set(BERR_UNAUTHORIZED, "directory unavailable: %s",
				l->why[0] ? l->why : "no server answered");
	}
	auth_ldap_conn_drop(l);   /* unknown state: start clean next time */
	l->broken = 1;
	return berr_set(BERR_UNAUTHORIZED, "directory error: %s",
			l->why[0] ? l->why : "the entry could not be read (see the log)");
}

static enum berr run(struct auth_ldap *l, ldap_op op, const char *user, const char *password,
		     const char *bad, struct auth_ldap_user *u)
{
	struct strv s = { NULL, 0, 0 };
	enum outcome out = run_op(l, op, user, password, u, &s);

	if (out == AUTH_LDAP_OK) {
		u->groups = s.v;
		u->ngroups = s.n;
		return BERR_OK;
	}
	auth_ldap_groups_free(s.v, s.n);
	if (out != AUTH_LDAP_BAD) {       /* the name is only kept for a wrong password */
		free(u->dn);
		memset(u, 0, sizeof *u);
	}
	return outcome_error(l, out, bad);
}

static void begin(struct auth_ldap *l, struct auth_ldap_user *u)
{
	memset(u, 0, sizeof *u);
	l->unavailable = 0;
	l->broken = 0;
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
