/*
 * fuzz_form.c - libFuzzer target for the /token POST form
 * (application/x-www-form-urlencoded), read the way fcgi/h_token.c reads
 * it: the body as a C string, the fields service, scope (every one, through
 * auth_scope_parse), grant_type, username, password, refresh_token (into a
 * buffer of the body's length + 1) and access_type, each with the handler's
 * buffer size.  Anyone can POST this before logging in.
 *
 * Properties:
 *   - a field is -1 only when malformed, never because the refresh_token
 *     buffer (body length + 1) is too small: the same field read into a
 *     buffer of 64 KiB gives the same answer;
 *   - a decoded field is never longer than the body, holds no '\0';
 *   - at most AUTH_SCOPE_MAX scopes, however many the form repeats;
 *   - the fields found, percent-encoded again into a fresh form (another
 *     order, junk fields and empty fields between), read back the same.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/scope.h"
#include "fcgi/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NFIELDS 7

/* The handler's fields and buffer sizes (h_token.c); 0: body length + 1. */
static const struct { const char *key; size_t size; } fields[NFIELDS] = {
	{ "service", 256 }, { "grant_type", 32 }, { "username", 256 }, { "password", 300 },
	{ "refresh_token", 0 }, { "access_type", 16 }, { "client_id", 256 },
};

struct form {
	int found[NFIELDS];
	char *value[NFIELDS];
	size_t nscopes;
	struct auth_scope scopes[AUTH_SCOPE_MAX];
};

static int add_scope(void *ctx, const char *value)
{
	struct form *f = ctx;

	f->nscopes = auth_scope_parse(f->scopes, f->nscopes, AUTH_SCOPE_MAX, value);
	if (f->nscopes > AUTH_SCOPE_MAX)
		abort();
	return 0;
}

static void read_form(const char *body, struct form *f)
{
	size_t len = strlen(body);

	memset(f, 0, sizeof(*f));
	http_param_each(body, "scope", add_scope, f);
	for (int i = 0; i < NFIELDS; i++) {
		size_t sz = fields[i].size ? fields[i].size : len + 1;
		char *big = malloc(64 * 1024);

		if ((f->value[i] = malloc(sz)) == NULL || big == NULL)
			abort();
		f->found[i] = http_param_get(body, fields[i].key, f->value[i], sz);
		if (f->found[i] == 1 && strlen(f->value[i]) > len)
			abort();
		if (!fields[i].size && http_param_get(body, fields[i].key, big, 64 * 1024) != f->found[i])
			abort();
		free(big);
	}
}

static char *encode(char *p, const char *key, const char *value)
{
	p += sprintf(p, "&&junk=%%41+&%s=", key);
	for (; *value; value++)
		p += sprintf(p, *value == ' ' ? "+" : "%%%02x", (unsigned char)*value);
	return p;
}

/* Re-encode what was found, last field first, and read it again. */
static void round_trip(const struct form *f, size_t len)
{
	char *body = malloc(NFIELDS * (3 * len + 32) + 1), *p = body;
	struct form g;

	if (body == NULL)
		abort();
	*p = '\0';
	for (int i = NFIELDS - 1; i >= 0; i--)
		if (f->found[i] == 1)
			p = encode(p, fields[i].key, f->value[i]);
	read_form(body, &g);
	for (int i = 0; i < NFIELDS; i++) {
		if ((f->found[i] == 1) != (g.found[i] == 1) ||
		    (f->found[i] == 1 && strcmp(f->value[i], g.value[i]) != 0))
			abort();
		free(g.value[i]);
	}
	free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = malloc(size + 1);
	struct form f;

	if (body == NULL)
		return 0;
	memcpy(body, data, size);
	body[size] = '\0';   /* a NUL inside the body ends it, as in the handler */
	read_form(body, &f);
	round_trip(&f, strlen(body));
	for (int i = 0; i < NFIELDS; i++)
		free(f.value[i]);
	free(body);
	return 0;
}
