/*
 * test_scope.c - token scopes as docker, podman and skopeo send them, the
 * access claim they become, and what such a claim allows.
 */
#include "auth/scope.h"
#include "tests/unit/unit.h"

static struct auth_scope v[AUTH_SCOPE_MAX];

static size_t parse1(const char *param)
{
	return auth_scope_parse(v, 0, AUTH_SCOPE_MAX, param);
}

static void test_parse(void)
{
	size_t n;

	CHECK_INT(parse1("repository:team/app:pull,push"), 1);
	CHECK_INT(v[0].type, AUTH_SCOPE_REPOSITORY);
	CHECK_STR(v[0].name, "team/app");
	CHECK_INT(v[0].actions, AUTH_ACT_PULL | AUTH_ACT_PUSH);

	CHECK_INT(parse1("repository:a:*"), 1);
	CHECK_INT(v[0].actions, AUTH_ACT_REPO);
	CHECK_INT(parse1("repository:a:delete"), 1);
	CHECK_INT(v[0].actions, AUTH_ACT_DELETE);
	CHECK_INT(parse1("registry:catalog:*"), 1);
	CHECK_INT(v[0].type, AUTH_SCOPE_REGISTRY);
	CHECK_INT(v[0].actions, AUTH_ACT_CATALOG);
	CHECK_INT(parse1("repository(plugin):vieux/sshfs:pull"), 1);
	CHECK_STR(v[0].name, "vieux/sshfs");

	/* several in one parameter (POST form), merged duplicates, '+' too */
	n = parse1("repository:a/b:pull repository:c:push  repository:a/b:push+registry:catalog:*");
	CHECK_INT(n, 3);
	CHECK_STR(v[0].name, "a/b");
	CHECK_INT(v[0].actions, AUTH_ACT_PULL | AUTH_ACT_PUSH);
	CHECK_STR(v[1].name, "c");
	CHECK_INT(v[2].type, AUTH_SCOPE_REGISTRY);

	/* several parameters (GET, as docker sends a mount: source pull + target push) */
	n = parse1("repository:src/app:pull");
	n = auth_scope_parse(v, n, AUTH_SCOPE_MAX, "repository:dst/app:pull,push");
	CHECK_INT(n, 2);
	CHECK_STR(v[1].name, "dst/app");
}

/* Asking for what we do not know is never an error: it is dropped. */
static void test_parse_ignored(void)
{
	CHECK_INT(parse1(""), 0);
	CHECK_INT(parse1(NULL), 0);
	CHECK_INT(parse1("repository:a:fly"), 0);
	CHECK_INT(parse1("repository:a:fly,pull"), 1);
	CHECK_INT(v[0].actions, AUTH_ACT_PULL);
	CHECK_INT(parse1("repository:a:"), 0);
	CHECK_INT(parse1("repository::pull"), 0);
	CHECK_INT(parse1("repository:a"), 0);
	CHECK_INT(parse1("repository"), 0);
	CHECK_INT(parse1("::"), 0);
	CHECK_INT(parse1("artifact:a:pull"), 0);
	CHECK_INT(parse1("registry:catalog:pull"), 0);
	CHECK_INT(parse1("registry:other:*"), 0);
	CHECK_INT(parse1("repository:Team/App:pull"), 0);
	CHECK_INT(parse1("repository:../etc:pull"), 0);
	CHECK_INT(parse1("repository:a//b:pull"), 0);
	CHECK_INT(parse1("repository(Plugin):a:pull"), 0);
	CHECK_INT(parse1("repository(:a:pull"), 0);
	CHECK_INT(parse1("repository():a:pull"), 0);
	/* a host:port in front (some clients): the name is split at the last ':' */
	CHECK_INT(parse1("repository:localhost:5000/team/app:pull"), 0);
	CHECK_INT(parse1("repository:registry.example.com/team/app:pull"), 1);
	CHECK_STR(v[0].name, "registry.example.com/team/app");
	/* good ones around bad ones survive */
	CHECK_INT(parse1("junk repository:a:pull ::: repository:A:pull"), 1);

	/* the cap */
	{
		char buf[4096] = "";
		int i;

		for (i = 0; i < AUTH_SCOPE_MAX + 10; i++)
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "repository:r%d:pull ", i);
		CHECK_INT(parse1(buf), AUTH_SCOPE_MAX);
	}
	/* a name longer than any valid one */
	{
		char buf[600];

		memset(buf, 'a', sizeof(buf));
		memcpy(buf, "repository:", 11);
		memcpy(buf + sizeof(buf) - 6, ":pull", 6);
		CHECK_INT(parse1(buf), 0);
	}
}

static void test_format(void)
{
	char buf[300];

	parse1("repository:team/app:push,pull,*");
	CHECK_INT(auth_scope_format(buf, sizeof(buf), &v[0]), (int)strlen("repository:team/app:pull,push,delete"));
	CHECK_STR(buf, "repository:team/app:pull,push,delete");
	parse1("registry:catalog:*");
	auth_scope_format(buf, sizeof(buf), &v[0]);
	CHECK_STR(buf, "registry:catalog:*");
	parse1("repository:team/app:pull");
	CHECK_INT(auth_scope_format(buf, 10, &v[0]), -1);
}

static void test_access(void)
{
	size_t n = parse1("repository:team/app:pull,push registry:catalog:* repository:x:pull");
	json_t *access, *want;

	v[2].actions = 0; /* a scope the policy took everything from */
	access = auth_access_claim(v, n);
	want = json_loads("[{\"type\":\"repository\",\"name\":\"team/app\",\"actions\":[\"pull\",\"push\"]},"
			  "{\"type\":\"registry\",\"name\":\"catalog\",\"actions\":[\"*\"]}]", 0, NULL);
	CHECK(json_equal(access, want));

	CHECK(auth_access_allows(access, "repository", "team/app", "pull"));
	CHECK(auth_access_allows(access, "repository", "team/app", "push"));
	CHECK(!auth_access_allows(access, "repository", "team/app", "delete"));
	CHECK(!auth_access_allows(access, "repository", "team/app2", "pull"));
	CHECK(!auth_access_allows(access, "repository", "team", "pull"));
	CHECK(!auth_access_allows(access, "repository", "x", "pull"));
	CHECK(auth_access_allows(access, "registry", "catalog", "*"));
	CHECK(!auth_access_allows(access, "repository", "catalog", "pull"));
	CHECK_INT(auth_access_actions(access, "team/app"), AUTH_ACT_PULL | AUTH_ACT_PUSH);
	CHECK_INT(auth_access_actions(access, NULL), AUTH_ACT_CATALOG);
	CHECK_INT(auth_access_actions(access, "other"), 0);
	json_decref(access);
	json_decref(want);

	/* claims of odd shape allow nothing and crash nothing */
	access = json_loads("[1, {\"type\":1}, {\"type\":\"repository\",\"name\":\"a\",\"actions\":\"pull\"},"
			    "{\"type\":\"repository\",\"name\":\"a\",\"actions\":[1,null]}]", 0, NULL);
	CHECK(!auth_access_allows(access, "repository", "a", "pull"));
	CHECK(!auth_access_allows(NULL, "repository", "a", "pull"));
	json_decref(access);
	access = auth_access_claim(v, 0);
	CHECK(json_is_array(access) && json_array_size(access) == 0);
	json_decref(access);
}

int main(void)
{
	test_parse();
	test_parse_ignored();
	test_format();
	test_access();
	return unit_done();
}
