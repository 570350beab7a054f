/*
 * config.c - reads berth.conf (format and keys: config.h).
 *
 * Parsing fills a fresh struct; the caller swaps it in only when the whole
 * file was good, so a SIGHUP with a broken file keeps the running config.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

enum kind { K_STR, K_INT, K_LONG, K_MODE, K_LEVEL, K_BOOL };

struct key {
	const char *name;
	enum kind kind;
	size_t off;
	long min, max;
};

#define OFF(f) offsetof(struct config, f)
static const struct key keys[] = {
	{ "store",            K_STR,   OFF(store), 0, 0 },
	{ "socket",           K_STR,   OFF(socket), 0, 0 },
	{ "upload_socket",    K_STR,   OFF(upload_socket), 0, 0 },
	{ "token_socket",     K_STR,   OFF(token_socket), 0, 0 },
	{ "workers",          K_INT,   OFF(workers), 1, 1024 },
	{ "upload_workers",   K_INT,   OFF(upload_workers), 1, 1024 },
	{ "upload_workers_min", K_INT, OFF(upload_workers_min), 1, 1024 },
	{ "upload_idle_timeout", K_LONG, OFF(upload_idle_timeout), 1, 86400 },
	{ "upload_client_workers", K_INT, OFF(upload_client_workers), 0, 1024 },
	{ "upload_min_rate",  K_LONG,  OFF(upload_min_rate), 0, 1L << 30 },
	{ "upload_rate_window", K_LONG, OFF(upload_rate_window), 1, 3600 },
	{ "read_timeout",     K_LONG,  OFF(read_timeout), 1, 3600 },
	{ "manifest_max_descriptors", K_LONG, OFF(manifest_max_descriptors), 1, 1000000 },
	{ "user",             K_STR,   OFF(user), 0, 0 },
	{ "token_workers",    K_INT,   OFF(token_workers), 1, 1024 },
	{ "backlog",          K_INT,   OFF(backlog), 1, 65535 },
	{ "socket_mode",      K_MODE,  OFF(socket_mode), 0, 0777 },
	{ "upload_ttl",       K_LONG,  OFF(upload_ttl), 60, 365L * 86400 },
	{ "sweep_interval",   K_LONG,  OFF(sweep_interval), 10, 7L * 86400 },
	{ "shutdown_timeout", K_LONG,  OFF(shutdown_timeout), 1, 86400 },
	{ "blob_location",    K_STR,   OFF(blob_location), 0, 0 },
	{ "max_manifest",     K_LONG,  OFF(max_manifest), 1024, CONFIG_MANIFEST_MAX },
	{ "delete_enabled",   K_BOOL,  OFF(delete_enabled), 0, 1 },
	{ "delete_force",     K_BOOL,  OFF(delete_force), 0, 1 },
	{ "upload_direct_io", K_BOOL,  OFF(upload_direct_io), 0, 1 },
	{ "log_level",        K_LEVEL, OFF(log_level), 0, 0 },
	{ "pidfile",          K_STR,   OFF(pidfile), 0, 0 },
	{ "access_log",       K_STR,   OFF(access_log), 0, 0 },
	{ "audit_log",        K_STR,   OFF(audit_log), 0, 0 },
	{ "auth",             K_STR,   OFF(auth), 0, 0 },
	{ "auth_service",     K_STR,   OFF(auth_service), 0, 0 },
	{ "auth_issuer",      K_STR,   OFF(auth_issuer), 0, 0 },
	{ "auth_realm",       K_STR,   OFF(auth_realm), 0, 0 },
	{ "token_ttl",        K_LONG,  OFF(token_ttl), 10, 86400 },
	{ "refresh_ttl",      K_LONG,  OFF(refresh_ttl), 60, 365L * 86400 },
	{ "signing_key",      K_STR,   OFF(signing_key), 0, 0 },
	{ "verify_keys",      K_STR,   OFF(verify_keys), 0, 0 },
	{ "signer_socket",    K_STR,   OFF(signer_socket), 0, 0 },
	{ "signer",           K_STR,   OFF(signer), 0, 0 },
	{ "users_file",       K_STR,   OFF(users_file), 0, 0 },
	{ "tokens_file",      K_STR,   OFF(tokens_file), 0, 0 },
	{ "policy_file",      K_STR,   OFF(policy_file), 0, 0 },
	{ "state_dir",        K_STR,   OFF(state_dir), 0, 0 },
	{ "login_fail_limit", K_INT,   OFF(login_fail_limit), 1, 1000000 },
	{ "login_fail_window", K_LONG, OFF(login_fail_window), 1, 86400 },
	{ "login_delay_max",  K_LONG,  OFF(login_delay_max), 1, 86400 },
	{ "login_spray_limit", K_INT,  OFF(login_spray_limit), 1, 1000000 },
	{ "login_account_limit", K_INT, OFF(login_account_limit), 1, 1000000 },
	{ "login_cache_ttl",  K_LONG,  OFF(login_cache_ttl), 0, 86400 },
	{ "ldap_uri",         K_STR,   OFF(ldap_uri), 0, 0 },
	{ "ldap_starttls",    K_BOOL,  OFF(ldap_starttls), 0, 1 },
	{ "ldap_ca_file",     K_STR,   OFF(ldap_ca_file), 0, 0 },
	{ "ldap_bind_dn",     K_STR,   OFF(ldap_bind_dn), 0, 0 },
	{ "ldap_bind_password", K_STR, OFF(ldap_bind_password), 0, 0 },
	{ "ldap_bind_password_file", K_STR, OFF(ldap_bind_password_file), 0, 0 },
	{ "ldap_user_base",   K_STR,   OFF(ldap_user_base), 0, 0 },
	{ "ldap_user_filter", K_STR,   OFF(ldap_user_filter), 0, 0 },
	{ "ldap_user_dn_template", K_STR, OFF(ldap_user_dn_template), 0, 0 },
	{ "ldap_user_attr",   K_STR,   OFF(ldap_user_attr), 0, 0 },
	{ "ldap_group_mode",  K_STR,   OFF(ldap_group_mode), 0, 0 },
	{ "ldap_group_base",  K_STR,   OFF(ldap_group_base), 0, 0 },
	{ "ldap_group_attr",  K_STR,   OFF(ldap_group_attr), 0, 0 },
	{ "ldap_memberof_attr", K_STR, OFF(ldap_memberof_attr), 0, 0 },
	{ "ldap_network_timeout", K_LONG, OFF(ldap_network_timeout), 1, 300 },
	{ "ldap_timeout",     K_LONG,  OFF(ldap_timeout), 1, 300 },
	{ "directory_socket", K_STR,   OFF(directory_socket), 0, 0 },
	{ "directory_workers", K_INT,  OFF(directory_workers), 1, 64 },
};

static void set_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->socket = strdup("/run/berth/api.sock");
	c->workers = 4;
	c->upload_workers = 32;
	c->upload_workers_min = 4;
	c->upload_idle_timeout = 30;
	c->upload_client_workers = 8;
	c->upload_min_rate = 1024;
	c->upload_rate_window = 60;
	c->read_timeout = 60;
	c->manifest_max_descriptors = 4096;
	c->token_workers = 2;
	c->backlog = 1024;
	c->socket_mode = 0660;
	c->upload_ttl = 86400;
	c->sweep_interval = 3600;
	c->shutdown_timeout = 60;
	c->blob_location = strdup("/_berth/blobs/");
	c->signer = strdup("internal");
	c->max_manifest = CONFIG_MANIFEST_DEFAULT;
	c->log_level = LOG_LVL_INFO;
	c->delete_enabled = 1;
	c->upload_direct_io = 1;
	c->auth = strdup("none");
	c->auth_service = strdup("berth");
	c->auth_issuer = strdup("berth");
	c->token_ttl = 300;
	c->refresh_ttl = 30L * 86400;
	c->login_fail_limit = 5;
	c->login_fail_window = 900;
	c->login_delay_max = 900;
	c->login_spray_limit = 10;
	c->login_account_limit = 50;
	c->login_cache_ttl = 300;
	c->ldap_user_filter = strdup("(uid=%s)");
	c->ldap_group_mode = strdup("none");
	c->ldap_group_attr = strdup("cn");
	c->ldap_memberof_attr = strdup("memberOf");
	c->ldap_user_attr = strdup("uid");
	c->directory_workers = 2;
	c->ldap_network_timeout = 5;
	c->ldap_timeout = 5;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* A double-quoted value at s (after its '"'), unescaped in place: \" and
 * \\ are the only escapes, so a password can hold any character and no
 * backslash in a DN changes meaning silently.  After the closing quote
 * only blanks and a comment may follow. */
static enum berr unquote(char *s, const char *key, const char *file, int line)
{
	char *out = s, *r = s;

	for (; *r && *r != '"'; r++) {
		if (*r == '\\') {
			if (r[1] != '"' && r[1] != '\\')
				return berr_set(BERR_INTERNAL, "%s:%d: %s: in a quoted value only \\\" "
						"and \\\\ may follow a backslash", file, line, key);
			r++;
		}
		*out++ = *r;
	}
	if (*r != '"')
		return berr_set(BERR_INTERNAL, "%s:%d: %s: the quoted value has no closing \"",
				file, line, key);
	r += 1 + strspn(r + 1, " \t\r\n");
	if (*r && *r != '#')
		return berr_set(BERR_INTERNAL, "%s:%d: %s: text after the closing quote",
				file, line, key);
	*out = '\0';
	return BERR_OK;
}

/* An unquoted value: a '#' after a blank starts a comment; a '#' glued to
 * the value is refused, since a secret such as svc#pass would otherwise be
 * cut to "svc" without a word. */
static enum berr uncomment(char *s, const char *key, const char *file, int line)
{
	char *h = strchr(s, '#');

	if (h == NULL)
		return BERR_OK;
	if (h == s || h[-1] == ' ' || h[-1] == '\t') {
		*h = '\0';
		return BERR_OK;
	}
	return berr_set(BERR_INTERNAL, "%s:%d: %s: '#' inside a value; put the value in "
			"double quotes (%s = \"...\"), or a blank before a comment",
			file, line, key, key);
}

static int parse_level(const char *v)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	for (int i = 0; i < 4; i++)
		if (strcmp(v, names[i]) == 0)
			return i;
	return -1;
}

static enum berr set_value(struct config *c, const struct key *k, const char *v,
			   const char *file, int line)
{
	char *end = NULL, **sp;
	long n;

	switch (k->kind) {
	case K_STR:
		sp = (char **)((char *)c + k->off);
		free(*sp);
		*sp = *v ? strdup(v) : NULL;
		return BERR_OK;
	case K_BOOL:
		if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1"))
			n = 1;
		else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "0"))
			n = 0;
		else
			return berr_set(BERR_INTERNAL, "%s:%d: %s must be true or false", file, line, k->name);
		*(int *)((char *)c + k->off) = (int)n;
		return BERR_OK;
	case K_LEVEL:
		n = parse_level(v);
		if (n < 0)
			return berr_set(BERR_INTERNAL, "%s:%d: log_level must be error, warn, info or debug", file, line);
		c->log_level = (int)n;
		return BERR_OK;
	default:
		break;
	}
	errno = 0;
	n = strtol(v, &end, k->kind == K_MODE ? 8 : 10);
	if (errno || end == v || *end || n < k->min || n > k->max)
		return berr_set(BERR_INTERNAL, "%s:%d: %s must be a%s number from %ld to %ld",
				file, line, k->name, k->kind == K_MODE ? "n octal" : "",
				k->min, k->max);
	if (k->kind == K_LONG)
		*(long *)((char *)c + k->off) = n;
	else
		*(int *)((char *)c + k->off) = (int)n;
	return BERR_OK;
}

static enum berr parse_line(struct config *c, char *s, const char *file, int line)
{
	char *eq, *name, *val;
	enum berr err;
	size_t i;

	s = trim(s);
	if (!*s || *s == '#')
		return BERR_OK;
	if (!(eq = strchr(s, '=')))
		return berr_set(BERR_INTERNAL, "%s:%d: expected \"key = value\"", file, line);
	*eq = '\0';
	name = trim(s);
	val = eq + 1 + strspn(eq + 1, " \t");
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].name, name) == 0)
			break;
	if (i == sizeof(keys) / sizeof(keys[0]))
		return berr_set(BERR_INTERNAL, "%s:%d: unknown key \"%s\"", file, line, name);
	if (*val == '"')
		err = unquote(++val, name, file, line);
	else if ((err = uncomment(val, name, file, line)) == BERR_OK)
		val = trim(val);
	if (err)
		return err;
	return set_value(c, &keys[i], val, file, line);
}

/* /NAME in the directory of a unix `socket`, else in /run/berth/. */
static enum berr default_beside_socket(struct config *c, const char *name, char **out)
{
	const char *slash = c->socket[0] == '/' ? strrchr(c->socket, '/') : NULL;
	size_t dl = slash ? (size_t)(slash - c->socket) : strlen("/run/berth");

	if (!(*out = malloc(dl + strlen(name) + 1)))
		return berr_set(BERR_INTERNAL, "out of memory");
	memcpy(*out, slash ? c->socket : "/run/berth", dl);
	mem_strcpy(*out + dl, strlen(name) + 1, name); /* fits: sized above */
	return BERR_OK;
}

enum berr config_load(struct config *c, const char *path)
{
	enum berr err = BERR_OK;
	char buf[4096], iobuf[BUFSIZ];
	int line = 0;
	FILE *f;

	set_defaults(c);
	c->path = strdup(path);
	if (!(f = fopen(path, "re"))) {
		err = berr_set(BERR_INTERNAL, "%s: %s", path, strerror(errno));
		goto out;
	}
	/* our own stdio buffer, wiped below: the file may hold a bind password,
	 * and the workers forked later must not find it in freed memory */
	setvbuf(f, iobuf, _IOFBF, sizeof(iobuf));
	while (fgets(buf, sizeof(buf), f)) {
		line++;
		if (!strchr(buf, '\n') && !feof(f)) {
			err = berr_set(BERR_INTERNAL, "%s:%d: line longer than %zu bytes", path, line,
				       sizeof(buf) - 2);
			goto out;
		}
		if ((err = parse_line(c, buf, path, line)))
			goto out;
	}
	if (!c->store)
		err = berr_set(BERR_INTERNAL, "%s: \"store\" is required", path);
	else if (!c->socket)
		err = berr_set(BERR_INTERNAL, "%s: \"socket\" is required", path);
	else if (!c->blob_location || c->blob_location[0] != '/')
		err = berr_set(BERR_INTERNAL, "%s: \"blob_location\" must start with /", path);
	else if (!c->auth || (strcmp(c->auth, "none") && strcmp(c->auth, "token")))
		err = berr_set(BERR_INTERNAL, "%s: \"auth\" must be none or token", path);
	else if (!c->signer || (strcmp(c->signer, "internal") && strcmp(c->signer, "external")))
		err = berr_set(BERR_INTERNAL, "%s: \"signer\" must be internal or external", path);
	else if (strcmp(c->auth, "token") == 0 && !c->signing_key)
		err = berr_set(BERR_INTERNAL, "%s: auth = token needs \"signing_key\"", path);
	if (!err && !c->signer_socket)
		err = default_beside_socket(c, "/signer.sock", &c->signer_socket);
	if (!err && !c->directory_socket)
		err = default_beside_socket(c, "/directory.sock", &c->directory_socket);
out:
	if (f)
		fclose(f);
	explicit_bzero(iobuf, sizeof(iobuf));
	explicit_bzero(buf, sizeof(buf));
	if (err)
		config_release(c);
	return err;
}

void config_release(struct config *c)
{
	if (!c)
		return;
	free(c->path);
	if (c->ldap_bind_password)
		explicit_bzero(c->ldap_bind_password, strlen(c->ldap_bind_password));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].kind == K_STR)
			free(*(char **)((char *)c + keys[i].off));
	memset(c, 0, sizeof(*c));
}
