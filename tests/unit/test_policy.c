/*
 * test_policy.c - the policy file: its syntax and errors, who matches
 * which rule, the patterns, and what a token request is granted.
 */
#include <stdlib.h>
#include <unistd.h>

#include "auth/policy.h"
#include "tests/unit/unit.h"

static const char policy_text[] =
	"# berth policy\n"
	"\n"
	"anonymous            public/**        pull\n"
	"authenticated        ${user}/**       pull, push, delete   # personal namespace\n"
	"authenticated        users/${user}    *\n"
	"group:developers     team-a/*         pull,push\n"
	"group:\"Domain Admins\" **            *\n"
	"group:ops            team-a/**        pull\r\n"
	"user:carol           team-a/app-*     delete\n"
	"token:ci-app         ci/app           pull,push\n"
	"token:*              tokens/**        pull\n"
	"user:*               shared/*         pull\n"
	"authenticated        **               catalog\n";

static struct auth_policy *pol;

static const char *dev_groups[] = { "developers" };
static const char *admin_groups[] = { "staff", "Domain Admins" };
static const char *ops_groups[] = { "ops" };

static const struct auth_subject anon = { NULL, NULL, 0, NULL, 0 };
static const struct auth_subject alice = { "alice", dev_groups, 1, NULL, 1 };
static const struct auth_subject bob = { "bob", NULL, 0, NULL, 1 };
static const struct auth_subject root = { "root", admin_groups, 2, NULL, 1 };
static const struct auth_subject carol = { "carol", ops_groups, 1, NULL, 1 };
static const struct auth_subject ci = { NULL, NULL, 0, "ci-app", 1 };
static const struct auth_subject slash = { "team-a/x", NULL, 0, NULL, 1 };
static const struct auth_subject upper = { "Alice", NULL, 0, NULL, 1 };
/* a caller that is not authenticated gets nothing from names it claims */
static const struct auth_subject fake = { "alice", dev_groups, 1, "ci-app", 0 };

#define P AUTH_ACT_PULL
#define U AUTH_ACT_PUSH
#define D AUTH_ACT_DELETE
#define C AUTH_ACT_CATALOG

static void test_actions(void)
{
	CHECK_INT(auth_policy_actions(pol, &anon, "public/x"), P);
	CHECK_INT(auth_policy_actions(pol, &anon, "public/x/y"), P);
	CHECK_INT(auth_policy_actions(pol, &anon, "public"), 0);   /* ** is one or more */
	CHECK_INT(auth_policy_actions(pol, &anon, "publicx/y"), 0);
	CHECK_INT(auth_policy_actions(pol, &anon, "team-a/app"), 0);
	CHECK_INT(auth_policy_actions(pol, &anon, NULL), 0);
	CHECK_INT(auth_policy_actions(pol, &fake, "team-a/app"), 0);
	CHECK_INT(auth_policy_actions(pol, &fake, "alice/x"), 0);
	CHECK_INT(auth_policy_actions(pol, &fake, "ci/app"), 0);

	/* what anonymous may, a logged-in user may too */
	CHECK_INT(auth_policy_actions(pol, &alice, "public/x"), P);
	CHECK_INT(auth_policy_actions(pol, &alice, "alice/app"), P | U | D);
	CHECK_INT(auth_policy_actions(pol, &alice, "alice/a/b/c"), P | U | D);
	CHECK_INT(auth_policy_actions(pol, &alice, "alice"), 0);
	CHECK_INT(auth_policy_actions(pol, &alice, "bob/app"), 0);
	CHECK_INT(auth_policy_actions(pol, &alice, "users/alice"), P | U | D);
	CHECK_INT(auth_policy_actions(pol, &alice, "users/bob"), 0);
	CHECK_INT(auth_policy_actions(pol, &alice, "team-a/app"), P | U);
	CHECK_INT(auth_policy_actions(pol, &alice, "team-a/app/sub"), 0); /* * is one level */
	CHECK_INT(auth_policy_actions(pol, &alice, "team-a"), 0);
	CHECK_INT(auth_policy_actions(pol, &alice, "shared/x"), P);
	CHECK_INT(auth_policy_actions(pol, &alice, NULL), C);
	CHECK_INT(auth_policy_actions(pol, &bob, "team-a/app"), 0);
	CHECK_INT(auth_policy_actions(pol, &bob, "bob/app"), P | U | D);

	CHECK_INT(auth_policy_actions(pol, &root, "anything/at/all"), P | U | D);
	CHECK_INT(auth_policy_actions(pol, &root, NULL), C);

	CHECK_INT(auth_policy_actions(pol, &carol, "team-a/app-web"), P | D);
	CHECK_INT(auth_policy_actions(pol, &carol, "team-a/x/y"), P);
	CHECK_INT(auth_policy_actions(pol, &carol, "team-a/app"), P);   /* app-* needs the '-' */

	/* tokens: only token rules (and anonymous ones) */
	CHECK_INT(auth_policy_actions(pol, &ci, "ci/app"), P | U);
	CHECK_INT(auth_policy_actions(pol, &ci, "ci/app2"), 0);
	CHECK_INT(auth_policy_actions(pol, &ci, "tokens/a"), P);
	CHECK_INT(auth_policy_actions(pol, &ci, "public/a"), P);
	CHECK_INT(auth_policy_actions(pol, &ci, "shared/a"), 0);
	CHECK_INT(auth_policy_actions(pol, &ci, NULL), 0);

	/* ${user} is a single component, matched exactly */
	CHECK_INT(auth_policy_actions(pol, &slash, "team-a/x/app"), 0);
	CHECK_INT(auth_policy_actions(pol, &upper, "alice/app"), 0);
	CHECK_INT(auth_policy_actions(NULL, &root, "x"), 0);
}

static void test_grant(void)
{
	struct auth_scope req[AUTH_SCOPE_MAX], out[AUTH_SCOPE_MAX];
	size_t n = auth_scope_parse(req, 0, AUTH_SCOPE_MAX,
		"repository:team-a/app:* repository:alice/x:pull,push repository:secret/x:pull "
		"registry:catalog:* repository:public/img:pull,push");
	size_t k = auth_grant(pol, &alice, req, n, out);

	CHECK_INT(n, 5);
	CHECK_INT(k, 4);
	CHECK_STR(out[0].name, "team-a/app");
	CHECK_INT(out[0].actions, P | U);            /* * asked, pull+push allowed */
	CHECK_STR(out[1].name, "alice/x");
	CHECK_INT(out[1].actions, P | U);
	CHECK_INT(out[2].type, AUTH_SCOPE_REGISTRY);
	CHECK_INT(out[2].actions, C);
	CHECK_STR(out[3].name, "public/img");
	CHECK_INT(out[3].actions, P);                /* asked push too: silently less */

	CHECK_INT(auth_grant(pol, &anon, req, n, out), 1);
	CHECK_STR(out[0].name, "public/img");
	CHECK_INT(auth_grant(pol, &alice, req, 0, out), 0);
}

static void bad(const char *text, const char *want)
{
	struct auth_policy *p = NULL;
	enum berr rc = auth_policy_parse("pol", text, &p);

	if (rc == BERR_INTERNAL && p == NULL && strstr(berr_detail(), want)) {
		unit_pass++;
	} else {
		unit_fail++;
		fprintf(stderr, "FAIL policy \"%s\": rc %d \"%s\", want \"%s\"\n", text, rc,
			berr_detail(), want);
		auth_policy_free(p);
	}
}

static void test_errors(void)
{
	struct auth_policy *p = NULL;
	char path[] = "/tmp/berth-test-policy.XXXXXX";
	int fd;

	bad("usr:alice ** pull\n", "pol:1: unknown subject \"usr:alice\"");
	bad("\n\nuser: ** pull\n", "pol:3: subject \"user:\" has no name");
	bad("user:a\n", "pol:1: expected SUBJECT REPOSITORIES ACTIONS");
	bad("user:a team/*\n", "pol:1: no actions");
	bad("user:a team/* pull,fly\n", "unknown action \"fly\"");
	bad("user:a team/* catalog\n", "catalog is registry-wide");
	bad("user:a Team/* pull\n", "upper case");
	bad("user:a team/**x pull\n", "** must be a whole path component");
	bad("user:a team/*** pull\n", "** must be a whole path component");
	bad("user:a /team pull\n", "empty path component");
	bad("user:a team/ pull\n", "empty path component");
	bad("user:a team//x pull\n", "empty path component");
	bad("user:a ${home}/x pull\n", "the only variable is ${user}");
	bad("user:a te:am pull\n", "':' cannot be in a repository name");
	bad("group:\"Domain Admins ** pull\n", "unterminated quote");
	bad("ok:1 x pull\n", "pol:1:");

	CHECK(auth_policy_parse("pol", "", &p) == BERR_OK && auth_policy_rules(p) == 0);
	CHECK_INT(auth_policy_actions(p, &root, "x"), 0);     /* default deny */
	auth_policy_free(p);
	CHECK(auth_policy_parse("pol", "# only a comment\n  \n", &p) == BERR_OK);
	auth_policy_free(p);

	CHECK(auth_policy_load("/nonexistent/policy", &p) == BERR_INTERNAL && p == NULL);
	CHECK(strstr(berr_detail(), "/nonexistent/policy") != NULL);
	fd = mkstemp(path);
	CHECK(write(fd, policy_text, sizeof(policy_text) - 1) == (ssize_t)sizeof(policy_text) - 1);
	close(fd);
	CHECK(auth_policy_load(path, &p) == BERR_OK && auth_policy_rules(p) == 11);
	auth_policy_free(p);
	unlink(path);
}

static void test_no_blowup(void)
{
	/* many wildcards against a long name: linear, not exponential */
	char name[256];
	struct auth_policy *p = NULL;
	const struct auth_subject *who = &alice;

	memset(name, 'a', 250);
	memcpy(name + 250, "/b", 3);
	CHECK(auth_policy_parse("pol", "anonymous *a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*c/** pull\n"
			       "anonymous **/**/**/**/**/**/**/**/**/**/**/**/**/**/c pull\n", &p) == BERR_OK);
	CHECK_INT(auth_policy_actions(p, who, name), 0);
	auth_policy_free(p);
}

/* Only groups some rule names travel in tokens. */
static void test_uses_group(void)
{
	struct auth_policy *p = NULL;

	CHECK(auth_policy_parse("pol", "group:devs team/** pull\nuser:bob ** pull\n", &p) == BERR_OK);
	CHECK(auth_policy_uses_group(p, "devs"));
	CHECK(!auth_policy_uses_group(p, "readers"));
	CHECK(!auth_policy_uses_group(p, "bob"));
	auth_policy_free(p);
	CHECK(auth_policy_parse("pol", "group:* public/** pull\n", &p) == BERR_OK);
	CHECK(auth_policy_uses_group(p, "anything"));
	auth_policy_free(p);
	CHECK(!auth_policy_uses_group(NULL, "devs"));
}

/* explain gives the same answer as auth_policy_actions, for everyone. */
static void test_explain_agrees(void)
{
	static const struct auth_subject *const who[] = {
		&anon, &alice, &bob, &root, &carol, &ci, &slash, &upper, &fake,
	};
	static const char *const repos[] = {
		"public/x", "alice/app", "bob/app", "users/alice", "team-a/app", "team-a/app-web",
		"team-a/x/y", "ci/app", "tokens/a/b", "shared/x", "elsewhere", NULL,
	};
	static const unsigned acts[] = { P, U, D, C };
	struct auth_policy_hit hits[16];
	size_t i, j, k, bad = 0;
	int granted;

	for (i = 0; i < sizeof(who) / sizeof(who[0]); i++)
		for (j = 0; j < sizeof(repos) / sizeof(repos[0]); j++)
			for (k = 0; k < 4; k++) {
				unsigned want = auth_policy_actions(pol, who[i], acts[k] == C ? NULL
								    : repos[j]) & acts[k];

				if (acts[k] != C && repos[j] == NULL)
					continue;
				auth_policy_explain(pol, who[i], repos[j], acts[k], &granted, hits, 16);
				bad += !granted != !want;
			}
	CHECK_INT(bad, 0);
}

static void test_explain(void)
{
	struct auth_policy_hit h[16];
	int granted = -1;

	/* the granting rule is named by line and text */
	CHECK_INT(auth_policy_explain(pol, &alice, "team-a/app", U, &granted, h, 16), 6);
	CHECK_INT(granted, 1);
	CHECK_INT(h[3].line, 6);
	CHECK_INT(h[3].verdict, AUTH_RULE_GRANTS);
	CHECK_STR(h[3].text, "group:developers     team-a/*         pull,push");
	CHECK_INT(h[0].line, 3);
	CHECK_INT(h[0].verdict, AUTH_RULE_OTHER_REPO);
	CHECK_INT(h[5].line, 13);
	CHECK_INT(h[5].verdict, AUTH_RULE_OTHER_ACTION);
	CHECK_STR(auth_policy_file(pol), "test");

	/* denied: the rules about bob, none of which grants */
	CHECK_INT(auth_policy_explain(pol, &bob, "alice/x", U, &granted, h, 16), 5);
	CHECK_INT(granted, 0);
	CHECK_INT(h[1].line, 4);
	CHECK_INT(h[1].verdict, AUTH_RULE_OTHER_REPO);
	/* right repository, wrong action */
	CHECK_INT(auth_policy_explain(pol, &carol, "team-a/app-web", U, &granted, h, 16), 7);
	CHECK_INT(granted, 0);
	CHECK_INT(h[3].line, 8);
	CHECK_INT(h[3].verdict, AUTH_RULE_OTHER_ACTION);
	CHECK_INT(h[4].line, 9);
	CHECK_INT(h[4].verdict, AUTH_RULE_OTHER_ACTION);
	/* ${user} cannot stand for "Alice" */
	CHECK_INT(auth_policy_explain(pol, &upper, "alice/x", P, &granted, h, 16), 5);
	CHECK_INT(granted, 0);
	CHECK_INT(h[1].verdict, AUTH_RULE_NO_USER);
	CHECK_INT(h[2].verdict, AUTH_RULE_NO_USER);
	/* tokens, the catalog, anonymous */
	CHECK_INT(auth_policy_explain(pol, &ci, "ci/app", U, &granted, h, 16), 3);
	CHECK_INT(granted, 1);
	CHECK_INT(h[1].line, 10);
	CHECK_INT(auth_policy_explain(pol, &alice, NULL, C, &granted, h, 16), 6);
	CHECK_INT(granted, 1);
	CHECK_INT(h[5].verdict, AUTH_RULE_GRANTS);
	CHECK_INT(auth_policy_explain(pol, &anon, "team-a/app", P, &granted, h, 16), 1);
	CHECK_INT(granted, 0);
	/* a short array: the count is still all of them; granted still right */
	CHECK_INT(auth_policy_explain(pol, &alice, "team-a/app", P, &granted, h, 1), 6);
	CHECK_INT(granted, 1);
	CHECK_INT(auth_policy_explain(NULL, &alice, "team-a/app", P, &granted, h, 16), 0);
	CHECK_INT(granted, 0);
}

/* print_grants into a string; returns its count. */
static size_t grants_of(const struct auth_subject *who, char **text)
{
	size_t size = 0, n;
	FILE *f = open_memstream(text, &size);

	n = auth_policy_print_grants(pol, who, f);
	fclose(f);
	return n;
}

static void test_print_grants(void)
{
	char *t = NULL;

	CHECK_INT(grants_of(&bob, &t), 5);
	CHECK(strstr(t, "test:3: anonymous            public/**        pull\n") != NULL);
	CHECK(strstr(t, "test:4: authenticated        ${user}/**       pull, push, delete   "
		      "# personal namespace  (here: bob/**)\n") != NULL);
	CHECK(strstr(t, "test:5: authenticated        users/${user}    *  (here: users/bob)\n"));
	CHECK(strstr(t, "test:12: user:*") != NULL);
	CHECK(strstr(t, "test:6:") == NULL);
	free(t);
	CHECK_INT(grants_of(&root, &t), 6);    /* with the group "Domain Admins" */
	CHECK(strstr(t, "test:7: group:\"Domain Admins\" **            *\n") != NULL);
	free(t);
	CHECK_INT(grants_of(&upper, &t), 3);   /* no ${user} rule for "Alice" */
	CHECK(strstr(t, "${user}") == NULL);
	free(t);
	CHECK_INT(grants_of(&anon, &t), 1);
	CHECK_STR(t, "test:3: anonymous            public/**        pull\n");
	free(t);
	CHECK_INT(grants_of(&ci, &t), 3);
	CHECK(strstr(t, "test:8: group:ops") == NULL);   /* \r dropped, and not ci's */
	free(t);
	CHECK_INT(grants_of(&fake, &t), 1);    /* not authenticated: only anonymous */
	free(t);
}

int main(void)
{
	CHECK(auth_policy_parse("test", policy_text, &pol) == BERR_OK);
	if (pol == NULL) {
		fprintf(stderr, "%s\n", berr_detail());
		return unit_done();
	}
	CHECK_INT(auth_policy_rules(pol), 11);
	test_actions();
	test_grant();
	test_errors();
	test_no_blowup();
	test_uses_group();
	test_explain();
	test_explain_agrees();
	test_print_grants();
	auth_policy_free(pol);
	return unit_done();
}
