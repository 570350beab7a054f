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

enum kind { K_STR, K_INT, K_LONG, K_MODE, K_LEVEL };

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
	{ "workers",          K_INT,   OFF(workers), 1, 1024 },
	{ "upload_workers",   K_INT,   OFF(upload_workers), 1, 1024 },
	{ "backlog",          K_INT,   OFF(backlog), 1, 65535 },
	{ "socket_mode",      K_MODE,  OFF(socket_mode), 0, 0777 },
	{ "upload_ttl",       K_LONG,  OFF(upload_ttl), 60, 365L * 86400 },
	{ "sweep_interval",   K_LONG,  OFF(sweep_interval), 10, 7L * 86400 },
	{ "shutdown_timeout", K_LONG,  OFF(shutdown_timeout), 1, 86400 },
	{ "blob_location",    K_STR,   OFF(blob_location), 0, 0 },
	{ "max_manifest",     K_LONG,  OFF(max_manifest), 1024, 64L << 20 },
	{ "log_level",        K_LEVEL, OFF(log_level), 0, 0 },
	{ "pidfile",          K_STR,   OFF(pidfile), 0, 0 },
};

static void set_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->socket = strdup("/run/berth/api.sock");
	c->workers = 4;
	c->upload_workers = 8;
	c->backlog = 1024;
	c->socket_mode = 0660;
	c->upload_ttl = 86400;
	c->sweep_interval = 3600;
	c->shutdown_timeout = 60;
	c->blob_location = strdup("/_berth/blobs/");
	c->max_manifest = 4L << 20;
	c->log_level = LOG_LVL_INFO;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	if (e - s >= 2 && s[0] == '"' && e[-1] == '"') {
		e[-1] = '\0';
		s++;
	}
	return s;
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
	size_t i;

	if ((eq = strchr(s, '#')))
		*eq = '\0';
	s = trim(s);
	if (!*s)
		return BERR_OK;
	if (!(eq = strchr(s, '=')))
		return berr_set(BERR_INTERNAL, "%s:%d: expected \"key = value\"", file, line);
	*eq = '\0';
	name = trim(s);
	val = trim(eq + 1);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].name, name) == 0)
			return set_value(c, &keys[i], val, file, line);
	return berr_set(BERR_INTERNAL, "%s:%d: unknown key \"%s\"", file, line, name);
}

enum berr config_load(struct config *c, const char *path)
{
	enum berr err = BERR_OK;
	char buf[4096];
	int line = 0;
	FILE *f;

	set_defaults(c);
	c->path = strdup(path);
	if (!(f = fopen(path, "r"))) {
		err = berr_set(BERR_INTERNAL, "%s: %s", path, strerror(errno));
		goto out;
	}
	while (fgets(buf, sizeof(buf), f)) {
		line++;
		if ((err = parse_line(c, buf, path, line)))
			goto out;
	}
	if (!c->store)
		err = berr_set(BERR_INTERNAL, "%s: \"store\" is required", path);
	else if (!c->socket)
		err = berr_set(BERR_INTERNAL, "%s: \"socket\" is required", path);
	else if (!c->blob_location || c->blob_location[0] != '/')
		err = berr_set(BERR_INTERNAL, "%s: \"blob_location\" must start with /", path);
out:
	if (f)
		fclose(f);
	if (err)
		config_release(c);
	return err;
}

void config_release(struct config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->store);
	free(c->socket);
	free(c->upload_socket);
	free(c->blob_location);
	free(c->pidfile);
	memset(c, 0, sizeof(*c));
}
