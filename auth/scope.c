/*
 * scope.c - see scope.h.  The parser works on a copy of one resource scope
 * at a time, bounded by REF_NAME_MAX plus a little, so nothing a client
 * sends can make it allocate; a scope too long to be valid is skipped.
 */
#include <stdio.h>
#include <string.h>

#include "auth/scope.h"

static const struct {
	const char *name;
	unsigned bit;
} repo_actions[] = {
	{ "pull", AUTH_ACT_PULL },
	{ "push", AUTH_ACT_PUSH },
	{ "delete", AUTH_ACT_DELETE },
	{ "*", AUTH_ACT_REPO },
};

/* The action bits of "pull,push,..." (unknown actions count for nothing). */
static unsigned parse_actions(enum auth_scope_type type, const char *s)
{
	unsigned bits = 0;
	size_t i;

	while (*s) {
		size_t n = strcspn(s, ",");

		if (type == AUTH_SCOPE_REGISTRY) {
			if (n == 1 && s[0] == '*')
				bits |= AUTH_ACT_CATALOG;
		} else {
			for (i = 0; i < sizeof(repo_actions) / sizeof(repo_actions[0]); i++)
				if (strlen(repo_actions[i].name) == n &&
				    memcmp(repo_actions[i].name, s, n) == 0)
					bits |= repo_actions[i].bit;
		}
		s += n;
		if (*s == ',')
			s++;
	}
	return bits;
}

/* Type, optionally with a "(class)" suffix as in "repository(plugin)". */
static int parse_type(const char *s, size_t n, enum auth_scope_type *type)
{
	const char *paren = memchr(s, '(', n);

	if (paren != NULL) {
		size_t k;

		if (s[n - 1] != ')' || paren + 1 >= s + n - 1)
			return -1;
		for (k = (size_t)(paren - s) + 1; k < n - 1; k++)
			if (!((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= '0' && s[k] <= '9')))
				return -1;
		n = (size_t)(paren - s);
	}
	if (n == 10 && memcmp(s, "repository", 10) == 0)
		*type = AUTH_SCOPE_REPOSITORY;
	else if (n == 8 && memcmp(s, "registry", 8) == 0)
		*type = AUTH_SCOPE_REGISTRY;
	else
		return -1;
	return 0;
}

/* One resource scope (NUL-terminated copy in buf) into *out; -1 to skip. */
static int parse_one(char *buf, struct auth_scope *out)
{
	char *first = strchr(buf, ':'), *last = strrchr(buf, ':');
	size_t namelen;

	if (first == NULL || first == last)
		return -1;
	if (parse_type(buf, (size_t)(first - buf), &out->type) < 0)
		return -1;
	namelen = (size_t)(last - first - 1);
	if (namelen == 0 || namelen > REF_NAME_MAX)
		return -1;
	memcpy(out->name, first + 1, namelen);
	out->name[namelen] = '\0';
	if (out->type == AUTH_SCOPE_REPOSITORY && ref_name_check(out->name) != BERR_OK)
		return -1;
	if (out->type == AUTH_SCOPE_REGISTRY && strcmp(out->name, "catalog") != 0)
		return -1;
	out->actions = parse_actions(out->type, last + 1);
	return out->actions ? 0 : -1;
}

size_t auth_scope_parse(struct auth_scope *v, size_t n, size_t max, const char *param)
{
	/* type + ':' + name + ':' + "pull,push,delete,*" with room to spare */
	char buf[REF_NAME_MAX + 128];
	const char *p = param;

	while (p && *p) {
		size_t len = strcspn(p, " +"), i;
		struct auth_scope s;

		if (len > 0 && len < sizeof(buf)) {
			memcpy(buf, p, len);
			buf[len] = '\0';
			if (parse_one(buf, &s) == 0) {
				for (i = 0; i < n; i++)
					if (v[i].type == s.type && strcmp(v[i].name, s.name) == 0)
						break;
				if (i < n)
					v[i].actions |= s.actions;
				else if (n < max)
					v[n++] = s;
			}
		}
		p += len;
		while (*p == ' ' || *p == '+')
			p++;
	}
	return n;
}

json_t *auth_scope_actions_json(enum auth_scope_type type, unsigned actions)
{
	json_t *a = json_array();
	size_t i;

	if (a == NULL)
		return NULL;
	if (type == AUTH_SCOPE_REGISTRY) {
		if (actions & AUTH_ACT_CATALOG)
			json_array_append_new(a, json_string("*"));
		return a;
	}
	for (i = 0; i < 3; i++) /* pull, push, delete: never "*" in a claim */
		if (actions & repo_actions[i].bit)
			json_array_append_new(a, json_string(repo_actions[i].name));
	return a;
}

int auth_scope_format(char *buf, size_t size, const struct auth_scope *s)
{
	json_t *a = auth_scope_actions_json(s->type, s->actions);
	size_t i, len;
	int n;

	if (a == NULL)
		return -1;
	n = snprintf(buf, size, "%s:%s:", s->type == AUTH_SCOPE_REGISTRY ? "registry" : "repository",
		     s->name);
	for (i = 0; n >= 0 && (size_t)n < size && i < json_array_size(a); i++) {
		len = (size_t)n;
		n = snprintf(buf + len, size - len, "%s%s", i ? "," : "",
			     json_string_value(json_array_get(a, i)));
		n = n < 0 ? n : n + (int)len;
	}
	json_decref(a);
	return n < 0 || (size_t)n >= size ? -1 : n;
}

json_t *auth_access_claim(const struct auth_scope *v, size_t n)
{
	json_t *access = json_array();
	size_t i;

	for (i = 0; access && i < n; i++) {
		json_t *acts, *entry;

		if (v[i].actions == 0)
			continue;
		acts = auth_scope_actions_json(v[i].type, v[i].actions);
		entry = acts ? json_pack("{s:s, s:s, s:o}", "type",
					 v[i].type == AUTH_SCOPE_REGISTRY ? "registry" : "repository",
					 "name", v[i].name, "actions", acts) : NULL;
		if (entry == NULL || json_array_append_new(access, entry) < 0) {
			json_decref(access);
			return NULL;
		}
	}
	return access;
}

int auth_access_allows(const json_t *access, const char *type, const char *name,
		       const char *action)
{
	size_t i, j;

	for (i = 0; json_is_array(access) && i < json_array_size(access); i++) {
		const json_t *e = json_array_get(access, i);
		const json_t *t = json_object_get(e, "type"), *nm = json_object_get(e, "name");
		const json_t *acts = json_object_get(e, "actions");

		if (!json_is_string(t) || !json_is_string(nm) || !json_is_array(acts) ||
		    strcmp(json_string_value(t), type) != 0 || strcmp(json_string_value(nm), name) != 0)
			continue;
		for (j = 0; j < json_array_size(acts); j++) {
			const char *a = json_string_value(json_array_get(acts, j));

			if (a && (strcmp(a, action) == 0 || strcmp(a, "*") == 0))
				return 1;
		}
	}
	return 0;
}

unsigned auth_access_actions(const json_t *access, const char *name)
{
	unsigned bits = 0;
	size_t i;

	if (name == NULL)
		return auth_access_allows(access, "registry", "catalog", "*") ? AUTH_ACT_CATALOG : 0;
	for (i = 0; i < 3; i++)
		if (auth_access_allows(access, "repository", name, repo_actions[i].name))
			bits |= repo_actions[i].bit;
	return bits;
}

unsigned auth_scopes_actions(char *const *scopes, const char *repo)
{
	struct auth_scope sc[AUTH_SCOPE_MAX];
	unsigned acts = 0;
	size_t n = 0;

	for (size_t i = 0; scopes && scopes[i]; i++)
		n = auth_scope_parse(sc, n, AUTH_SCOPE_MAX, scopes[i]);
	for (size_t i = 0; i < n; i++) {
		if (!repo && sc[i].type == AUTH_SCOPE_REGISTRY)
			acts |= sc[i].actions & AUTH_ACT_CATALOG;
		else if (repo && sc[i].type == AUTH_SCOPE_REPOSITORY && strcmp(sc[i].name, repo) == 0)
			acts |= sc[i].actions;
	}
	return acts;
}
