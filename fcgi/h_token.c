/*
 * h_token.c - the token service: GET and POST /token, as the Docker token
 * authentication specification and its OAuth2 variant describe them.
 *
 *   GET /token?service=&scope=…&account=&offline_token=true
 *       with Basic credentials, or none for an anonymous token
 *       (docker login sends no scope at all and must still get a token);
 *   POST /token (form) grant_type=password (username, password) or
 *       grant_type=refresh_token (refresh_token), with scope, service,
 *       client_id, access_type=offline.
 *
 * The answer grants the intersection of what was asked and what the caller
 * may have: asking for more is never an error, it just yields less.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "auth/basic.h"
#include "auth/login.h"
#include "fcgi/accesslog.h"
#include "fcgi/handlers.h"
#include "util/metrics.h"

#define FORM_MAX (64 * 1024)

struct scopes {
	struct auth_scope v[AUTH_SCOPE_MAX];
	size_t n;
};

static int add_scope(void *ctx, const char *value)
{
	struct scopes *s = ctx;

	s->n = auth_scope_parse(s->v, s->n, AUTH_SCOPE_MAX, value);
	return 0;
}

/* Basic credentials from the Authorization header: 1 present, 0 absent,
 * -1 malformed (auth/basic.h).  Unless 1, pass holds nothing: not even a
 * piece of a password that was cut short. */
static int basic_credentials(struct req *r, char *user, size_t ul, char *pass, size_t pl)
{
	int rc = auth_basic_parse(req_param(r, "HTTP_AUTHORIZATION"), user, ul, pass, pl);

	if (rc != 1)
		OPENSSL_cleanse(pass, pl);
	return rc;
}

static void rfc3339(time_t t, char *out, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static enum berr answer(struct req *r, struct auth_ctx *a, const struct auth_identity *id,
			const struct scopes *sc, int offline, const char *refresh_in)
{
	char *token = NULL, *refresh = NULL, *body, issued[32];
	json_t *granted = NULL, *doc;
	time_t now = time(NULL);
	enum berr err;

	if ((err = auth_issue_access(a, id, sc->v, sc->n, now, &token, &granted)))
		goto out;
	/* a refresh grant keeps the refresh token it presented */
	if (offline && !refresh_in && (err = auth_issue_refresh(a, id, now, &refresh)))
		goto out;
	rfc3339(now, issued, sizeof(issued));
	doc = json_pack("{s:s, s:s, s:I, s:s}", "token", token, "access_token", token,
			"expires_in", (json_int_t)r->cfg->token_ttl, "issued_at", issued);
	if (refresh)
		json_object_set_new(doc, "refresh_token", json_string(refresh));
	body = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	resp_header(r, "Cache-Control", "no-store");
	metrics_tokens(refresh != NULL);
	resp_send(r, 200, "application/json", body, body ? strlen(body) : 0);
	free(body);
out:
	json_decref(granted);
	free(token);
	free(refresh);
	return err;
}

static enum berr login_failed(struct req *r, enum berr err, long retry_after)
{
	if (err == BERR_TOOMANYREQUESTS && retry_after > 0)
		resp_header(r, "Retry-After", "%ld", retry_after);
	if (err == BERR_UNAUTHORIZED)
		resp_header(r, "WWW-Authenticate", "Basic realm=\"%s\"", r->cfg->auth_service);
	return err;
}

static const char *client_addr(struct req *r)
{
	const char *a = req_param(r, "REMOTE_ADDR");

	return a ? a : "unknown";
}

static enum berr check_service(struct req *r, const char *params)
{
	char service[256];
	int q = http_param_get(params, "service", service, sizeof(service));

	if (q < 0 || (q > 0 && strcmp(service, r->cfg->auth_service) != 0))
		return berr_set(BERR_UNSUPPORTED, "this token service serves \"%s\"",
				r->cfg->auth_service);
	return BERR_OK;
}

static enum berr token_get(struct req *r, struct auth_ctx *a)
{
	struct auth_identity id = { 0 };
	struct scopes sc = { .n = 0 };
	char user[256], pass[300], off[8];
	long retry = 0;
	int basic;
	enum berr err;

	if ((err = check_service(r, r->query)))
		return err;
	http_param_each(r->query, "scope", add_scope, &sc);
	basic = basic_credentials(r, user, sizeof(user), pass, sizeof(pass));
	if (basic < 0)
		err = login_failed(r, berr_set(BERR_UNAUTHORIZED, "malformed Basic credentials"), 0);
	else if (basic && (err = auth_login_password(a, user, pass, client_addr(r), &id, &retry)))
		err = login_failed(r, err, retry);
	accesslog_audit_login(r, basic > 0 ? user : NULL, err);
	OPENSSL_cleanse(pass, sizeof(pass)); /* on every path */
	if (!err)
		err = answer(r, a, &id, &sc, http_param_get(r->query, "offline_token", off,
							    sizeof(off)) > 0 && strcmp(off, "true") == 0,
			     NULL);
	auth_identity_release(&id);
	return err;
}

static enum berr token_post(struct req *r, struct auth_ctx *a)
{
	struct auth_identity id = { 0 };
	struct scopes sc = { .n = 0 };
	char grant[32], user[256], pass[300], at[16], *form = NULL, *refresh = NULL;
	size_t len;
	long retry = 0;
	enum berr err;

	if ((err = req_read_all(r, FORM_MAX, &form, &len)))
		return err;
	if ((err = check_service(r, form)))
		goto out;
	http_param_each(form, "scope", add_scope, &sc);
	if (http_param_get(form, "grant_type", grant, sizeof(grant)) <= 0) {
		err = berr_set(BERR_UNSUPPORTED, "grant_type is required (password or refresh_token)");
	} else if (strcmp(grant, "password") == 0) {
		if (http_param_get(form, "username", user, sizeof(user)) <= 0 ||
		    http_param_get(form, "password", pass, sizeof(pass)) <= 0)
			err = login_failed(r, berr_set(BERR_UNAUTHORIZED, "username and password are required"), 0);
		else if ((err = auth_login_password(a, user, pass, client_addr(r), &id, &retry)))
			err = login_failed(r, err, retry);
		accesslog_audit_login(r, http_param_get(form, "username", user, sizeof(user)) > 0 ? user : NULL, err);
		OPENSSL_cleanse(pass, sizeof(pass));
	} else if (strcmp(grant, "refresh_token") == 0) {
		if (!(refresh = malloc(len + 1)) ||
		    http_param_get(form, "refresh_token", refresh, len + 1) <= 0)
			err = berr_set(BERR_UNAUTHORIZED, "refresh_token is required");
		else
			err = auth_login_refresh(a, refresh, &id);
	} else {
		err = berr_set(BERR_UNSUPPORTED, "grant_type %s is not supported", grant);
	}
	if (!err)
		err = answer(r, a, &id, &sc, http_param_get(form, "access_type", at, sizeof(at)) > 0 &&
			     strcmp(at, "offline") == 0, refresh);
out:
	auth_identity_release(&id);
	free(refresh);
	if (form)
		OPENSSL_cleanse(form, len);
	free(form);
	return err;
}

enum berr h_token(struct req *r)
{
	struct auth_ctx *a;
	enum berr err;

	if (strcmp(r->cfg->auth, "token") != 0)
		return berr_set(BERR_NAME_UNKNOWN, "this registry does not use token authentication");
	if ((err = auth_ctx_get(r->cfg, &a)))
		return err;
	return strcmp(r->method, "POST") == 0 ? token_post(r, a) : token_get(r, a);
}
