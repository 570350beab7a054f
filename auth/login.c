/*
 * login.c - identities, grants and tokens for the token service (login.h).
 *
 * Tokens are JWTs signed by the signer process (auth/signer.c), which alone
 * reads the private key; this code, which runs in workers that parse
 * request bodies, only ever holds public keys.  Besides the registered
 * claims, a token carries a private "berth" claim: the kind of subject and
 * its directory groups, so the registry can answer policy questions about
 * the caller (which repositories the catalog shows) without a directory
 * round trip.  A refresh token is the same kind of JWT with
 * "berth":{"refresh":true}; it is refused where an access token is expected
 * and the other way round.
 */
#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "auth/access.h"
#include "auth/directory.h"
#include "auth/jwt.h"
#include "auth/keyring.h"
#include "auth/login.h"
#include "auth/policy.h"
#include "auth/ratelimit.h"
#include "auth/signer.h"
#include "auth/users.h"
#include "util/log.h"
#include "util/metrics.h"

#define LEEWAY 60

struct auth_ctx {
	const struct config *cfg;
	struct auth_keyring *kr;
	struct auth_policy *policy;
	struct timespec policy_mtime;
	struct dir_state *ldap; /* non-NULL: ldap_uri is set, logins go to the
				 * directory process, which alone holds the
				 * bind password (auth/directory.h) */
	struct auth_ratelimit rl;
	int have_rl;
};

/* What a worker knows of the directory process. */
struct dir_state {
	int unavailable;        /* the last call found no directory server */
};

/* 1 when the last directory login or lookup failed because no directory
 * server answered (or the directory process did not): not a failed login. */
static int dir_unavailable(const struct dir_state *d)
{
	return d && d->unavailable;
}

static const char *kind_names[] = { "anonymous", "local", "ldap", "token" };

static enum berr load_keys(struct auth_ctx *a)
{
	struct auth_keyring *kr;
	struct berr_ctx load;
	enum berr err;

	if (a->kr && a->kr->n)
		return BERR_OK;
	if (!(kr = auth_keyring_new()))
		return berr_set(BERR_INTERNAL, "out of memory");
	/* the details are for the log; the client learns only that it failed */
	berr_enter(&load);
	err = auth_keyring_add_signer(kr, a->cfg->signer_socket);
	if (!err && a->cfg->verify_keys)
		err = auth_keyring_add_files(kr, a->cfg->verify_keys);
	berr_leave(&load);
	if (err) {
		log_err("token keys: %s", load.detail);
		auth_keyring_free(kr);
		return berr_set(BERR_INTERNAL, "the token signing service is not available");
	}
	auth_keyring_free(a->kr);
	a->kr = kr;
	return BERR_OK;
}

/* Reread the policy when its file changed; keep the old one if the new is
 * broken.  Called where the policy is read (token issuing, catalog
 * filtering), not on every bearer-token check. */
static void refresh_policy(struct auth_ctx *a)
{
	struct auth_policy *p;
	struct berr_ctx load;
	struct stat st;
	enum berr err;

	if (!a->cfg->policy_file || stat(a->cfg->policy_file, &st) < 0)
		return;
	if (a->policy && st.st_mtim.tv_sec == a->policy_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == a->policy_mtime.tv_nsec)
		return;
	berr_enter(&load); /* a broken policy is the operator's, not the request's */
	err = auth_policy_load(a->cfg->policy_file, &p);
	berr_leave(&load);
	if (err) {
		log_err("policy: %s (keeping the previous policy)", load.detail);
		return;
	}
	auth_policy_free(a->policy);
	a->policy = p;
	a->policy_mtime = st.st_mtim;
}

enum berr auth_ctx_new(const struct config *cfg, struct auth_ctx **out)
{
	struct auth_ctx *a;
	struct berr_ctx rl;

	if (!(a = calloc(1, sizeof(*a))))
		return berr_set(BERR_INTERNAL, "out of memory");
	a->cfg = cfg;
	*out = a;
	if (!auth_required(cfg))
		return BERR_OK;
	/* without a state directory there are no login limits: not an error */
	berr_enter(&rl);
	if (cfg->state_dir && auth_ratelimit_init(&a->rl, cfg) == BERR_OK)
		a->have_rl = 1;
	else if (cfg->state_dir)
		log_warn("login limits: %s (not applied)", rl.detail);
	berr_leave(&rl);
	if (cfg->ldap_uri && cfg->ldap_uri[0] && !(a->ldap = calloc(1, sizeof(*a->ldap))))
		log_err("ldap: out of memory");
	return BERR_OK;
}

void auth_ctx_free(struct auth_ctx *a)
{
	if (!a)
		return;
	auth_keyring_free(a->kr);
	auth_policy_free(a->policy);
	free(a->ldap);
	if (a->have_rl)
		auth_ratelimit_release(&a->rl);
	free(a);
}

int auth_required(const struct config *cfg)
{
	return cfg->auth && strcmp(cfg->auth, "token") == 0;
}

const struct config *auth_ctx_config(const struct auth_ctx *a)
{
	return a->cfg;
}

enum berr auth_ctx_get(const struct config *cfg, struct auth_ctx **out)
{
	static struct auth_ctx *ctx;
	enum berr err;

	if (!ctx && (err = auth_ctx_new(cfg, &ctx)))
		return err;
	*out = ctx;
	return auth_required(cfg) ? load_keys(ctx) : BERR_OK;
}

void auth_identity_release(struct auth_identity *id)
{
	auth_strv_free(id->groups);
	auth_strv_free(id->scopes);
	memset(id, 0, sizeof(*id));
}

static size_t strv_len(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

static char **strv_copy(char *const *v, size_t n)
{
	char **out = calloc(n + 1, sizeof(*out));

	for (size_t i = 0; out && i < n; i++)
		if (!(out[i] = strdup(v[i]))) {
			auth_strv_free(out);
			return NULL;
		}
	return out;
}

/* The directory's answer into `id`: its spelling of the name (typed
 * "ALICE " logs in as "alice"), also when the password was wrong, so that
 * failed-login counters key on the account and not on the spelling. */
static enum berr dir_identity(struct auth_ctx *a, enum berr err, struct auth_dir_user *u,
			      struct auth_identity *id)
{
	a->ldap->unavailable = u->unavailable;
	if (u->name[0] && strlen(u->name) >= sizeof(id->name)) {
		log_warn("ldap: the name %s is longer than %zu bytes: refused", u->name,
			 sizeof(id->name) - 1);
		err = err ? err : berr_set(BERR_UNAUTHORIZED, "invalid username or password");
	} else if (u->name[0]) {
		snprintf(id->name, sizeof(id->name), "%s", u->name);
	}
	if (err)
		return err;
	id->kind = AUTH_LDAP;
	id->groups = u->groups;
	id->ngroups = u->ngroups;
	u->groups = NULL;
	u->ngroups = 0;
	if (!id->groups && !(id->groups = calloc(1, sizeof(char *))))
		return berr_set(BERR_INTERNAL, "out of memory");
	return BERR_OK;
}

/* 1 if `name` is also a local user's, in any letter case.  Policy rules
 * name users (user:admin) without saying where they live, so a directory
 * account that spells a local user's name must not log in as that user:
 * whoever can create directory accounts would otherwise get the local
 * admin's rights. */
static int shadows_local_user(const struct config *cfg, const char *name)
{
	char **names = NULL;
	size_t n = 0;
	int clash = 0;

	if (!cfg->users_file || auth_users_list(cfg->users_file, &names, &n))
		return 0;
	for (size_t i = 0; i < n && !clash; i++)
		clash = strcasecmp(names[i], name) == 0;
	auth_strv_free(names);
	return clash;
}

static enum berr login_ldap(struct auth_ctx *a, const char *user, const char *password,
			    struct auth_identity *id)
{
	struct auth_dir_user u;
	enum berr err;

	if (!a->ldap)
		return berr_set(BERR_UNAUTHORIZED, "invalid username or password");
	err = auth_directory_login(a->cfg, user, password, &u);
	err = dir_identity(a, err, &u, id);
	auth_dir_user_release(&u);
	if (err == BERR_OK && shadows_local_user(a->cfg, id->name)) {
		log_warn("login of directory user %s refused: a local user has that name", id->name);
		err = berr_set(BERR_UNAUTHORIZED, "invalid username or password");
	}
	return err;
}

/* 1 if this login is a repository token's: login_any() then checks the
 * password against the tokens file alone (SHA-256 of a 256-bit secret),
 * never bcrypt and never the directory, so no limit needs to apply. */
static int token_login(const struct config *cfg, const char *user, const char *password)
{
	return cfg->tokens_file && auth_name_valid(user) &&
	       strncmp(password, AUTH_TOKEN_PREFIX, strlen(AUTH_TOKEN_PREFIX)) == 0;
}

/* *asked_ldap tells whether this attempt reached the directory, so that
 * "directory unavailable" is never inferred from an earlier attempt; *why
 * is a failure's reason for the log. */
static enum berr login_any(struct auth_ctx *a, const char *user, const char *password,
			   struct auth_identity *id, int *asked_ldap, const char **why)
{
	const struct config *cfg = a->cfg;
	struct auth_repotoken *tok = NULL;
	int local_name = auth_name_valid(user);
	enum berr err;

	*asked_ldap = 0;
	*why = "empty password";
	if (!*password)
		return berr_set(BERR_UNAUTHORIZED, "an empty password is not a login");
	if (token_login(cfg, user, password)) {
		enum auth_repotoken_state st;

		if ((err = auth_repotoken_check(cfg->tokens_file, user, password, time(NULL), &tok,
						&st))) {
			*why = st == AUTH_TOKEN_REVOKED ? "revoked repository token"
			     : st == AUTH_TOKEN_EXPIRED ? "expired repository token"
			     : "wrong secret or no such repository token (not counted)";
			return err;
		}
		id->kind = AUTH_TOKEN;
		id->scopes = strv_copy(tok->scopes, strv_len(tok->scopes));
		auth_repotoken_free(tok);
		return id->scopes ? BERR_OK : berr_set(BERR_INTERNAL, "out of memory");
	}
	if (local_name && cfg->users_file && auth_users_exists(cfg->users_file, user)) {
		*why = "bad password";
		if ((err = auth_users_verify_cached(cfg->users_file, user, password,
						    cfg->login_cache_ttl, time(NULL))))
			return err;
		id->kind = AUTH_LOCAL;
		return BERR_OK;
	}
	*why = "unknown user";
	if (!a->ldap && cfg->users_file) /* same work for unknown users: no enumeration */
		auth_users_verify(cfg->users_file, local_name ? user : "-", password);
	*asked_ldap = a->ldap != NULL;
	if (a->ldap)
		*why = "the directory refused the name or password";
	return login_ldap(a, user, password, id);
}

/* A name that may be tried at all: local users and tokens follow
 * auth_name_valid(); directory names may also hold '@', blanks and UTF-8
 * (jürgen, user@corp), but no control characters and no ':'. */
static int login_name_ok(const char *user)
{
	size_t n = strlen(user);

	if (n == 0 || n >= sizeof(((struct auth_identity *)0)->name))
		return 0;
	for (const unsigned char *p = (const unsigned char *)user; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == ':')
			return 0;
	return 1;
}

/* Record the outcome of a login that the limits apply to, in an error
 * context of its own so the answer's detail stays (a state directory that
 * cannot be written is logged and otherwise ignored: failing open beats
 * locking everyone out). */
static void limits_record(struct auth_ctx *a, enum berr err, const char *canon,
			  const char *addr, time_t now)
{
	struct berr_ctx rec;

	berr_enter(&rec);
	if ((err ? auth_ratelimit_fail(&a->rl, canon, addr, now)
		 : auth_ratelimit_success(&a->rl, canon, addr, now)))
		log_warn("login limits: %s", rec.detail);
	berr_leave(&rec);
}

/* Is `name` (from `addr`) held back now?  BERR_TOOMANYREQUESTS with its
 * detail and *retry_after; any other failure of the limits is logged and
 * lets the login through (failing open, as in limits_record). */
static enum berr limits_check(struct auth_ctx *a, const char *name, const char *addr,
			      time_t now, long *retry_after)
{
	struct berr_ctx chk;
	enum berr err;

	berr_enter(&chk);
	err = auth_ratelimit_check(&a->rl, name, addr, now, retry_after);
	if (err == BERR_TOOMANYREQUESTS)
		return berr_pass(&chk, err);
	berr_leave(&chk);
	if (err)
		log_warn("login limits: %s (not applied to this login)", chk.detail);
	return BERR_OK;
}

enum berr auth_login_password(struct auth_ctx *a, const char *user, const char *password,
			      const char *addr, struct auth_identity *id, long *retry_after)
{
	char typed[sizeof(id->name)], canon[sizeof(id->name)];
	time_t now = time(NULL);
	const char *why = "";
	int asked_ldap = 0, limited;
	enum berr err;

	memset(id, 0, sizeof(*id));
	*retry_after = 0;
	if (!login_name_ok(user))
		return berr_set(BERR_UNAUTHORIZED, "invalid username or password");
	addr = addr ? addr : "unknown";
	/* Repository tokens cannot be guessed: never limited, never counted,
	 * so nobody can stop the CI that holds one. */
	limited = a->have_rl && !token_login(a->cfg, user, password);
	auth_name_canonical(user, typed, sizeof(typed));
	if (limited && limits_check(a, typed, addr, now, retry_after)) {
		log_info("login of %s from %s throttled for %ld s: %s", typed, addr, *retry_after,
			 berr_detail());
		metrics_login(METRICS_SRC_NONE, BERR_TOOMANYREQUESTS, 0);
		return BERR_TOOMANYREQUESTS;
	}
	snprintf(id->name, sizeof(id->name), "%s", user);
	err = login_any(a, user, password, id, &asked_ldap, &why);
	/* the directory's spelling of the account, when it told us */
	if (!auth_name_canonical(id->name, canon, sizeof(canon)))
		snprintf(canon, sizeof(canon), "%s", typed);
	if (err == BERR_UNAUTHORIZED && asked_ldap && dir_unavailable(a->ldap)) {
		/* not the caller's fault: not counted; the details are for the log */
		log_err("login of %s from %s not counted: directory unavailable: %s", canon, addr,
			berr_detail());
		berr_set(err, "the directory is unavailable; try again later");
	} else if (limited && (err == BERR_OK || err == BERR_UNAUTHORIZED) &&
		   strcmp(canon, typed) != 0 &&
		   limits_check(a, canon, addr, now, retry_after) == BERR_TOOMANYREQUESTS) {
		/* another spelling of a throttled account: refused whatever the
		 * password was (429 tells nothing about it), and not counted */
		log_info("login of %s (typed %s) from %s throttled for %ld s: %s", canon, typed,
			 addr, *retry_after, berr_detail());
		err = BERR_TOOMANYREQUESTS;
	} else if (err == BERR_UNAUTHORIZED) {
		log_info("login of %s from %s failed: %s", canon, addr, why);
		if (limited)
			limits_record(a, err, canon, addr, now);
	} else if (err == BERR_OK && limited) {
		limits_record(a, err, canon, addr, now);
	}
	metrics_login(token_login(a->cfg, user, password) ? METRICS_SRC_TOKEN : asked_ldap ?
		      METRICS_SRC_DIRECTORY : METRICS_SRC_LOCAL, err, asked_ldap && dir_unavailable(a->ldap));
	if (err)
		auth_identity_release(id);
	return err;
}

/* ---- what an identity may do ---- */

static unsigned subject_actions(struct auth_ctx *a, enum auth_kind kind, const char *name,
				char *const *groups, size_t ngroups, const char *repo)
{
	struct auth_subject who = {
		.user = (kind == AUTH_LOCAL || kind == AUTH_LDAP) ? name : NULL,
		.groups = (const char *const *)groups,
		.ngroups = ngroups,
		.token_name = kind == AUTH_TOKEN ? name : NULL,
		.authenticated = kind != AUTH_ANONYMOUS,
	};

	refresh_policy(a);
	return auth_policy_actions(a->policy, &who, repo);
}

unsigned auth_identity_actions(struct auth_ctx *a, const struct auth_identity *id,
			       const char *repo)
{
	unsigned acts = subject_actions(a, id->kind, id->name, id->groups, id->ngroups, repo);

	if (id->kind == AUTH_TOKEN)
		acts |= auth_scopes_actions(id->scopes, repo);
	return acts;
}

/* ---- tokens ---- */

static json_t *base_claims(struct auth_ctx *a, const struct auth_identity *id, time_t now,
			   long ttl)
{
	unsigned char rnd[16];
	char jti[33];
	json_t *groups = json_array();

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return NULL;
	for (int i = 0; i < 16; i++)
		snprintf(jti + 2 * i, 3, "%02x", rnd[i]);
	refresh_policy(a);
	/* only the groups the policy names: a directory user may be in hundreds,
	 * and the token must stay small enough for an HTTP header */
	for (size_t i = 0; i < id->ngroups; i++)
		if (auth_policy_uses_group(a->policy, id->groups[i]))
			json_array_append_new(groups, json_string(id->groups[i]));
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:{s:s, s:o}}",
			 "iss", a->cfg->auth_issuer, "sub", id->name, "aud", a->cfg->auth_service,
			 "exp", (json_int_t)(now + ttl), "nbf", (json_int_t)(now - 1),
			 "iat", (json_int_t)now, "jti", jti,
			 "berth", "kind", kind_names[id->kind], "groups", groups);
}

static enum berr sign(struct auth_ctx *a, json_t *claims, char **token)
{
	enum berr err;

	if (!claims)
		return berr_set(BERR_INTERNAL, "out of memory");
	err = auth_jwt_sign_remote(a->cfg->signer_socket, a->kr->priv_kid, claims, token);
	json_decref(claims);
	return err;
}

enum berr auth_issue_access(struct auth_ctx *a, const struct auth_identity *id,
			    const struct auth_scope *req, size_t n, time_t now, char **token,
			    json_t **granted)
{
	json_t *claims = base_claims(a, id, now, a->cfg->token_ttl);
	json_t *access = json_array();

	for (size_t i = 0; i < n; i++) {
		const char *repo = req[i].type == AUTH_SCOPE_REPOSITORY ? req[i].name : NULL;
		unsigned acts = auth_identity_actions(a, id, repo) & req[i].actions;
		if (req[i].type == AUTH_SCOPE_REGISTRY && !acts)
			continue;
		json_array_append_new(access, json_pack("{s:s, s:s, s:o}",
			"type", req[i].type == AUTH_SCOPE_REPOSITORY ? "repository" : "registry",
			"name", req[i].name, "actions", auth_scope_actions_json(req[i].type, acts)));
	}
	if (claims)
		json_object_set(claims, "access", access);
	*granted = access;
	return sign(a, claims, token);
}

enum berr auth_issue_refresh(struct auth_ctx *a, const struct auth_identity *id, time_t now,
			     char **token)
{
	json_t *claims;

	*token = NULL;
	if (id->kind == AUTH_ANONYMOUS)
		return BERR_OK;
	claims = base_claims(a, id, now, a->cfg->refresh_ttl);
	if (claims)
		json_object_set_new(json_object_get(claims, "berth"), "refresh", json_true());
	return sign(a, claims, token);
}

static int is_refresh(const json_t *claims)
{
	return json_is_true(json_object_get(json_object_get(claims, "berth"), "refresh"));
}

/* Verified access tokens, per worker: a client sends the same token with
 * every request until it expires, and checking an ES256 signature costs
 * more than serving a manifest.  A hit still honours exp. */
#define TOKEN_CACHE 8
static struct {
	char *token;
	json_t *claims;
	json_int_t exp;
} token_cache[TOKEN_CACHE];
static unsigned token_cache_next;

static json_t *cache_lookup(const char *token, time_t now)
{
	for (int i = 0; i < TOKEN_CACHE; i++)
		if (token_cache[i].token && strcmp(token_cache[i].token, token) == 0 &&
		    token_cache[i].exp > now - LEEWAY)
			return json_incref(token_cache[i].claims);
	return NULL;
}

static void cache_store(const char *token, json_t *claims)
{
	unsigned i = token_cache_next++ % TOKEN_CACHE;
	char *copy = strdup(token);

	if (!copy)
		return;
	free(token_cache[i].token);
	json_decref(token_cache[i].claims);
	token_cache[i].token = copy;
	token_cache[i].claims = json_incref(claims);
	token_cache[i].exp = json_integer_value(json_object_get(claims, "exp"));
}

enum berr auth_verify_access(struct auth_ctx *a, const char *token, json_t **claims)
{
	time_t now = time(NULL);
	enum berr err;

	if ((*claims = cache_lookup(token, now)))
		return BERR_OK;
	err = auth_jwt_verify(a->kr, token, strlen(token), a->cfg->auth_issuer,
			      a->cfg->auth_service, now, LEEWAY, claims);
	if (!err && is_refresh(*claims)) {
		json_decref(*claims);
		*claims = NULL;
		return berr_set(BERR_UNAUTHORIZED, "a refresh token is not an access token");
	}
	if (!err)
		cache_store(token, *claims);
	return err;
}

static enum auth_kind claims_kind(const json_t *claims)
{
	const char *k = json_string_value(json_object_get(json_object_get(claims, "berth"), "kind"));

	for (int i = 1; k && i < 4; i++)
		if (strcmp(k, kind_names[i]) == 0)
			return (enum auth_kind)i;
	return AUTH_ANONYMOUS;
}

unsigned auth_claims_policy_actions(struct auth_ctx *a, const json_t *claims, const char *repo)
{
	json_t *g = json_object_get(json_object_get(claims, "berth"), "groups");
	const char *sub = json_string_value(json_object_get(claims, "sub"));
	char *groups[64];
	size_t n = 0, i;
	json_t *v;

	json_array_foreach(g, i, v)
		if (json_is_string(v) && n < 64)
			groups[n++] = (char *)json_string_value(v);
	return subject_actions(a, claims_kind(claims), sub ? sub : "", groups, n, repo);
}

/* Revoked: state_dir/revoked/<jti>, or its subject revoked at or after the
 * token was issued (berthctl user revoke, user passwd, user rm:
 * auth_user_revoke() in auth/users.c, keyed on the canonical name). */
static int revoked(struct auth_ctx *a, const json_t *claims)
{
	const char *jti = json_string_value(json_object_get(claims, "jti"));
	const char *sub = json_string_value(json_object_get(claims, "sub"));
	json_int_t iat = json_integer_value(json_object_get(claims, "iat"));
	char path[4096];
	struct stat st;

	if (!a->cfg->state_dir)
		return 0;
	if (jti && strspn(jti, "0123456789abcdef") == strlen(jti) &&
	    snprintf(path, sizeof(path), "%s/revoked/%s", a->cfg->state_dir, jti) < (int)sizeof(path) &&
	    stat(path, &st) == 0)
		return 1;
	return sub && auth_user_revoked(a->cfg->state_dir, sub, (time_t)iat);
}

/* A directory user's refresh: the groups now, and no refresh once the
 * password changed at or after the token was issued, or the account was
 * disabled or locked (as far as the directory keeps that). */
static enum berr refresh_ldap(struct auth_ctx *a, struct auth_identity *id, json_int_t iat)
{
	struct auth_dir_user u;
	enum berr err;

	if (!a->ldap)
		return berr_set(BERR_UNAUTHORIZED, "the directory is not configured");
	err = auth_directory_lookup(a->cfg, id->name, &u);
	a->ldap->unavailable = u.unavailable;
	if (err == BERR_OK && u.pwd_changed && (json_int_t)u.pwd_changed >= iat) {
		log_info("refresh of %s refused: the password changed after the token was issued",
			 id->name);
		err = berr_set(BERR_UNAUTHORIZED, "the password has changed; log in again");
	} else if (err == BERR_OK && u.disabled) {
		log_info("refresh of %s refused: the account is disabled or locked", id->name);
		err = berr_set(BERR_UNAUTHORIZED, "the account is disabled; log in again");
	} else if (err == BERR_OK && shadows_local_user(a->cfg, id->name)) {
		log_warn("refresh of directory user %s refused: a local user has that name", id->name);
		err = berr_set(BERR_UNAUTHORIZED, "the user is not in the directory; log in again");
	} else if (err == BERR_OK && strcmp(u.name, id->name) != 0) {
		log_info("refresh of %s refused: the directory now names the user %s", id->name,
			 u.name);
		err = berr_set(BERR_UNAUTHORIZED, "the user is not in the directory; log in again");
	}
	if (err == BERR_OK) {
		id->groups = u.groups;
		id->ngroups = u.ngroups;
		u.groups = NULL;
		if (!id->groups && !(id->groups = calloc(1, sizeof(char *))))
			err = berr_set(BERR_INTERNAL, "out of memory");
	}
	auth_dir_user_release(&u);
	return err;
}

static enum berr refresh_subject(struct auth_ctx *a, struct auth_identity *id, json_int_t iat)
{
	const struct config *cfg = a->cfg;
	struct auth_repotoken *tok = NULL;
	enum berr err = BERR_OK;

	switch (id->kind) {
	case AUTH_LOCAL:
		if (!cfg->users_file || !auth_users_exists(cfg->users_file, id->name))
			err = berr_set(BERR_UNAUTHORIZED, "user %s no longer exists", id->name);
		return err;
	case AUTH_LDAP:
		return refresh_ldap(a, id, iat);
	case AUTH_TOKEN:
		if ((err = auth_repotoken_find(cfg->tokens_file, id->name, time(NULL), &tok)))
			return err;
		if (!(id->scopes = strv_copy(tok->scopes, strv_len(tok->scopes))))
			err = berr_set(BERR_INTERNAL, "out of memory");
		auth_repotoken_free(tok);
		return err;
	default:
		return berr_set(BERR_UNAUTHORIZED, "anonymous refresh tokens do not exist");
	}
}

enum berr auth_login_refresh(struct auth_ctx *a, const char *token, struct auth_identity *id)
{
	const char *sub;
	json_t *claims = NULL;
	enum berr err;

	memset(id, 0, sizeof(*id));
	err = auth_jwt_verify(a->kr, token, strlen(token), a->cfg->auth_issuer,
			      a->cfg->auth_service, time(NULL), LEEWAY, &claims);
	if (err)
		return err;
	if (!is_refresh(claims))
		err = berr_set(BERR_UNAUTHORIZED, "not a refresh token");
	else if (revoked(a, claims))
		err = berr_set(BERR_UNAUTHORIZED, "the refresh token has been revoked");
	if (!err) {
		sub = json_string_value(json_object_get(claims, "sub"));
		id->kind = claims_kind(claims);
		snprintf(id->name, sizeof(id->name), "%s", sub ? sub : "");
		err = refresh_subject(a, id, json_integer_value(json_object_get(claims, "iat")));
	}
	json_decref(claims);
	if (err)
		auth_identity_release(id);
	return err;
}
