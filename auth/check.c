/*
 * check.c - every authentication setting checked before it is used (the
 * contract is in check.h).
 *
 * The point is when an error shows: a setting that cannot work must stop
 * `berthd -t`, the start, or a SIGHUP reload, with the key and the file
 * named, not turn into a 401 at the next login (which also counts as a
 * failed login against the user).  So each check here asks only the local
 * system (the file exists, is a regular file, can be read; a directory can
 * be written) and never the network: the directory may well be down at
 * start, and that is a state, not a configuration error.
 *
 * The LDAP checks are written out here, with messages in one form ("KEY:
 * what is wrong"), and then auth_ldap_new() is asked as well, so that a
 * check the login code grows later is enforced at start too.  It makes no
 * connection; its handle is freed at once (with the password it read).
 *
 * berthd runs the checks as the user it runs as, which is the user that
 * will open these files; access(2) answers for that user.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/check.h"
#include "auth/ldap.h"
#include "auth/policy.h"

/* ------------------------------------------------------------- files */

/* `path` (the value of `key`) is a regular file this process can read. */
static enum berr file_readable(const char *key, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return berr_set(BERR_INTERNAL, "%s: %s %s", key, path,
				errno == ENOENT ? "does not exist" : strerror(errno));
	if (!S_ISREG(st.st_mode))
		return berr_set(BERR_INTERNAL, "%s: %s is not a regular file", key, path);
	if (access(path, R_OK) < 0)
		return berr_set(BERR_INTERNAL, "%s: %s cannot be read: %s", key, path,
				strerror(errno));
	return BERR_OK;
}

/* As file_readable, but a file that does not exist (yet) is fine: users
 * and tokens files are created by berthctl on first use. */
static enum berr file_readable_if_present(const char *key, const char *path)
{
	if (path == NULL || (access(path, F_OK) < 0 && errno == ENOENT))
		return BERR_OK;
	return file_readable(key, path);
}

/* A directory in which this process can create files. */
static enum berr dir_writable(const char *key, const char *dir, const char *why)
{
	struct stat st;

	if (stat(dir, &st) < 0)
		return berr_set(BERR_INTERNAL, "%s: %s: the directory %s %s", key, why, dir,
				errno == ENOENT ? "does not exist" : strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return berr_set(BERR_INTERNAL, "%s: %s: %s is not a directory", key, why, dir);
	if (access(dir, W_OK | X_OK) < 0)
		return berr_set(BERR_INTERNAL, "%s: %s: the directory %s is not writable: %s",
				key, why, dir, strerror(errno));
	return BERR_OK;
}

/* The signing key is read if it exists, else created (0600) by the
 * signer: then its directory must take a new file. */
static enum berr check_signing_key(const char *path)
{
	char *dir, *slash;
	enum berr err;

	if (path == NULL || *path == '\0')
		return berr_set(BERR_INTERNAL, "signing_key: not set (auth = token needs it)");
	if (access(path, F_OK) == 0 || errno != ENOENT)
		return file_readable("signing_key", path);
	if ((dir = strdup(path)) == NULL)
		return berr_set(BERR_INTERNAL, "signing_key: out of memory");
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	err = dir_writable("signing_key", slash ? dir : ".",
			   "the key does not exist and cannot be created");
	free(dir);
	return err;
}

/* verify_keys: comma-separated PEM files, each of which must be there. */
static enum berr check_verify_keys(const char *list)
{
	char *copy, *save = NULL, *k;
	enum berr err = BERR_OK;

	if (list == NULL)
		return BERR_OK;
	if ((copy = strdup(list)) == NULL)
		return berr_set(BERR_INTERNAL, "verify_keys: out of memory");
	for (k = strtok_r(copy, ", \t", &save); k && !err; k = strtok_r(NULL, ", \t", &save))
		err = file_readable("verify_keys", k);
	free(copy);
	return err;
}

static enum berr check_state_dir(const char *dir)
{
	struct stat st;

	if (dir == NULL)
		return BERR_OK;
	if (stat(dir, &st) < 0 && errno == ENOENT)
		return berr_set(BERR_INTERNAL, "state_dir: %s does not exist", dir);
	return dir_writable("state_dir", dir, "failed-login counters and revocations live here");
}

/* A policy that does not parse would leave every worker on its previous
 * policy (or none): say so now, with the line. */
static enum berr check_policy(const char *path)
{
	struct auth_policy *p = NULL;
	struct berr_ctx load;
	enum berr err;

	if (path == NULL)
		return BERR_OK;
	if ((err = file_readable("policy_file", path)))
		return err;
	berr_enter(&load);
	err = auth_policy_load(path, &p);
	berr_leave(&load);
	if (err)
		return berr_set(BERR_INTERNAL, "policy_file: %s", load.detail);
	auth_policy_free(p);
	return BERR_OK;
}

/* ------------------------------------------------------------- LDAP */

/* Each URI of the list: a scheme libldap speaks, and no StartTLS on a
 * connection that is TLS already. */
static enum berr check_ldap_uris(const struct config *cfg)
{
	char *copy, *save = NULL, *u;
	enum berr err = BERR_OK;
	int n = 0;

	if ((copy = strdup(cfg->ldap_uri)) == NULL)
		return berr_set(BERR_INTERNAL, "ldap_uri: out of memory");
	for (u = strtok_r(copy, ", \t", &save); u && !err; u = strtok_r(NULL, ", \t", &save)) {
		n++;
		if (strncmp(u, "ldap://", 7) && strncmp(u, "ldaps://", 8) && strncmp(u, "ldapi://", 8))
			err = berr_set(BERR_INTERNAL, "ldap_uri: \"%.200s\" is not ldap://, ldaps:// "
				       "or ldapi://", u);
		else if (cfg->ldap_starttls && strncmp(u, "ldaps://", 8) == 0)
			err = berr_set(BERR_INTERNAL, "ldap_starttls: %.200s is TLS already; StartTLS "
				       "is for ldap:// (set ldap_starttls = false, or use ldap://)", u);
	}
	free(copy);
	if (!err && n == 0)
		err = berr_set(BERR_INTERNAL, "ldap_uri: no URI in \"%s\"", cfg->ldap_uri);
	return err;
}

static int empty(const char *s)
{
	return s == NULL || *s == '\0';
}

static enum berr check_ldap_groups(const struct config *cfg)
{
	static const char *const modes[] = { "none", "memberof", "member", "memberuid" };
	const char *m = cfg->ldap_group_mode ? cfg->ldap_group_mode : "none";
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(m, modes[i]) == 0)
			break;
	if (i == sizeof(modes) / sizeof(modes[0]))
		return berr_set(BERR_INTERNAL, "ldap_group_mode: \"%.64s\" is not one of none, "
				"memberof, member, memberuid", m);
	if ((strcmp(m, "member") == 0 || strcmp(m, "memberuid") == 0) && empty(cfg->ldap_group_base))
		return berr_set(BERR_INTERNAL, "ldap_group_base: not set, and ldap_group_mode = %s "
				"searches for groups below it", m);
	if (strcmp(m, "memberof") == 0 && empty(cfg->ldap_memberof_attr))
		return berr_set(BERR_INTERNAL, "ldap_memberof_attr: empty, and ldap_group_mode = "
				"memberof reads it");
	if (strcmp(m, "none") != 0 && empty(cfg->ldap_group_attr))
		return berr_set(BERR_INTERNAL, "ldap_group_attr: empty, and ldap_group_mode = %s "
				"names groups by it", m);
	return BERR_OK;
}

/* A template with %s, and no other '%' sequence but %%. */
static enum berr check_template(const char *key, const char *tmpl, const char *example)
{
	char *t;

	if (strstr(tmpl, "%s") == NULL)
		return berr_set(BERR_INTERNAL, "%s: \"%.200s\" has no %%s for the user name (e.g. "
				"%s)", key, tmpl, example);
	if ((t = auth_ldap_template(tmpl, "x")) == NULL)
		return berr_set(BERR_INTERNAL, "%s: \"%.200s\": only %%s and %%%% may follow a "
				"'%%'", key, tmpl);
	free(t);
	return BERR_OK;
}

/* How a user is found: a DN template (direct bind), or a search below a
 * base with a filter; and the attribute that names the user. */
static enum berr check_ldap_user(const struct config *cfg)
{
	const char *attr = cfg->ldap_user_attr;
	enum berr err;

	if (empty(attr))
		return berr_set(BERR_INTERNAL, "ldap_user_attr: empty; it names the attribute "
				"whose value is the user's name (uid, or sAMAccountName on AD)");
	if (strspn(attr, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")
	    != strlen(attr))
		return berr_set(BERR_INTERNAL, "ldap_user_attr: \"%.64s\" is not an attribute name",
				attr);
	if (!empty(cfg->ldap_user_dn_template))
		return check_template("ldap_user_dn_template", cfg->ldap_user_dn_template,
				      "uid=%s,ou=people,dc=example,dc=org");
	if (empty(cfg->ldap_user_base))
		return berr_set(BERR_INTERNAL, "ldap_user_base: not set; set it (users are "
				"searched below it) or ldap_user_dn_template (direct bind)");
	if (empty(cfg->ldap_user_filter) || cfg->ldap_user_filter[0] != '(')
		return berr_set(BERR_INTERNAL, "ldap_user_filter: must be a filter in "
				"parentheses, e.g. (uid=%%s)");
	if ((err = check_template("ldap_user_filter", cfg->ldap_user_filter, "(uid=%s)")))
		return err;
	return BERR_OK;
}

/* The service account: a DN needs a password, from one place; a password
 * file must be there and hold something. */
static enum berr check_ldap_bind(const struct config *cfg)
{
	const char *file = cfg->ldap_bind_password_file;
	struct stat st;
	enum berr err;

	if (!empty(file) && !empty(cfg->ldap_bind_password))
		return berr_set(BERR_INTERNAL, "ldap_bind_password: set together with "
				"ldap_bind_password_file; keep one");
	if (!empty(file)) {
		if ((err = file_readable("ldap_bind_password_file", file)))
			return err;
		if (stat(file, &st) == 0 && st.st_size == 0)
			return berr_set(BERR_INTERNAL, "ldap_bind_password_file: %s is empty", file);
	}
	if (empty(cfg->ldap_bind_dn) && (!empty(file) || !empty(cfg->ldap_bind_password)))
		return berr_set(BERR_INTERNAL, "ldap_bind_dn: not set, but a bind password is: "
				"set the service account's DN");
	if (!empty(cfg->ldap_bind_dn) && empty(file) && empty(cfg->ldap_bind_password))
		return berr_set(BERR_INTERNAL, "ldap_bind_dn: set, but no password (set "
				"ldap_bind_password_file or ldap_bind_password)");
	return BERR_OK;
}

static enum berr check_ldap(const struct config *cfg)
{
	struct auth_ldap *l = NULL;
	enum berr err;

	if ((err = check_ldap_uris(cfg)) || (err = check_ldap_groups(cfg)) ||
	    (err = check_ldap_user(cfg)) || (err = check_ldap_bind(cfg)))
		return err;
	if (!empty(cfg->ldap_ca_file) && (err = file_readable("ldap_ca_file", cfg->ldap_ca_file)))
		return err;
	/* whatever else the login code will refuse, refuse it now */
	if ((err = auth_ldap_new(cfg, &l)))
		return err;
	auth_ldap_free(l);
	return BERR_OK;
}

/* ------------------------------------------------------------- all */

enum berr auth_config_check(const struct config *cfg)
{
	enum berr err;

	if (cfg->auth == NULL || (strcmp(cfg->auth, "none") && strcmp(cfg->auth, "token")))
		return berr_set(BERR_INTERNAL, "auth: \"%.64s\" is not none or token",
				cfg->auth ? cfg->auth : "");
	if (strcmp(cfg->auth, "none") == 0)
		return BERR_OK;         /* nothing below is read */
	if (((!cfg->signer || strcmp(cfg->signer, "external")) &&
	     (err = check_signing_key(cfg->signing_key))) ||
	    (err = check_verify_keys(cfg->verify_keys)) ||
	    (err = file_readable_if_present("users_file", cfg->users_file)) ||
	    (err = file_readable_if_present("tokens_file", cfg->tokens_file)) ||
	    (err = check_state_dir(cfg->state_dir)) || (err = check_policy(cfg->policy_file)))
		return err;
	if (!empty(cfg->ldap_uri) && (err = check_ldap(cfg)))
		return err;
	return BERR_OK;
}
