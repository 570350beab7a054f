/*
 * fuzz_scope.c - libFuzzer target for the scope parameter of /token, which
 * any client, logged in or not, can send.
 *
 * Properties: no crash or leak; at most `max` scopes; every accepted
 * repository name passes ref_name_check and every scope has actions of its
 * type only; a scope formatted for a challenge parses back to itself; the
 * access claim built from the scopes allows exactly their actions.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/scope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_scope(const struct auth_scope *s, const json_t *access)
{
	struct auth_scope back[1];
	char buf[REF_NAME_MAX + 64];

	if (s->type == AUTH_SCOPE_REPOSITORY) {
		if (ref_name_check(s->name) != BERR_OK || s->actions == 0 || (s->actions & ~AUTH_ACT_REPO))
			abort();
		if (auth_access_actions(access, s->name) != s->actions)
			abort();
	} else if (s->type == AUTH_SCOPE_REGISTRY) {
		if (strcmp(s->name, "catalog") != 0 || s->actions != AUTH_ACT_CATALOG ||
		    auth_access_actions(access, NULL) != AUTH_ACT_CATALOG)
			abort();
	} else {
		abort();
	}
	if (auth_scope_format(buf, sizeof(buf), s) < 0)
		abort();
	if (auth_scope_parse(back, 0, 1, buf) != 1 || back[0].type != s->type ||
	    strcmp(back[0].name, s->name) != 0 || back[0].actions != s->actions)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_scope v[AUTH_SCOPE_MAX];
	size_t n, i, max = size ? (size_t)(data[0] % AUTH_SCOPE_MAX) + 1 : 1;
	char *s = malloc(size + 1);
	json_t *access;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	n = auth_scope_parse(v, 0, max, size ? s + 1 : s);
	if (n > max)
		abort();
	access = auth_access_claim(v, n);
	if (access == NULL || json_array_size(access) != n)
		abort();
	for (i = 0; i < n; i++)
		check_scope(&v[i], access);
	json_decref(access);
	free(s);
	return 0;
}
