/*
 * test_access.c - the registry's decision table (auth/access.h), in
 * process, without HTTP: claims shaped as the token service issues them
 * (auth/login.c), a policy file and a tokens file in a temporary
 * directory, and every row of the table: a token covering the action, a
 * token without the repository, a token naming the repository but not the
 * action with the policy saying yes and no, a repository token whose own
 * scopes say yes, no credential, auth = none, anonymous pull, the base
 * route and the catalog.
 */
#include <stdlib.h>
#include <unistd.h>

#include "auth/access.h"
#include "auth/users.h"
#include "util/config.h"
#include "util/fs.h"
#include "tests/unit/unit.h"

static char dir[] = "/tmp/berth-test-access.XXXXXX";
static char policy[256], tokens[256];

static const char policy_text[] =
	"anonymous          public/**   pull\n"
	"authenticated      ${user}/**  pull,push,delete\n"
	"group:dev          team/*      pull,push\n"
	"authenticated      **          catalog\n";

/* Claims as auth_issue_access() makes them: subject, kind, groups and one
 * access entry per requested repository (actions possibly empty). */
static json_t *claims(const char *kind, const char *sub, const char *group,
		      const char *repo, const char *a1, const char *a2)
{
	json_t *acts = json_array(), *groups = json_array(), *access = json_array();

	if (a1)
		json_array_append_new(acts, json_string(a1));
	if (a2)
		json_array_append_new(acts, json_string(a2));
	if (group)
		json_array_append_new(groups, json_string(group));
	if (repo)
		json_array_append_new(access, json_pack("{s:s, s:s, s:o}", "type", "repository",
							"name", repo, "actions", acts));
	else
		json_decref(acts);
	return json_pack("{s:s, s:s, s:{s:s, s:o}, s:o}", "iss", "berth", "sub", sub,
			 "berth", "kind", kind, "groups", groups, "access", access);
}

static void test_token_covers(struct auth_ctx *a)
{
	struct auth_decision d;
	json_t *c = claims("local", "alice", NULL, "alice/app", "pull", "push");

	CHECK_INT(auth_decide(a, c, "alice/app", AUTH_PULL, &d), AUTH_ALLOWED);
	CHECK_INT(auth_decide(a, c, "alice/app", AUTH_PUSH, &d), AUTH_ALLOWED);
	CHECK_STR(d.detail, "");
	/* the base route: any valid token */
	CHECK_INT(auth_decide(a, c, NULL, AUTH_PULL, &d), AUTH_ALLOWED);
	CHECK(auth_visible(a, c, "alice/app"));
	json_decref(c);
}

static void test_token_lacks_repo(struct auth_ctx *a)
{
	struct auth_decision d;
	json_t *c = claims("local", "alice", NULL, "alice/app", "pull", NULL);

	/* the policy would grant it, but the token does not name it: ask */
	CHECK_INT(auth_decide(a, c, "alice/other", AUTH_PUSH, &d), AUTH_INSUFFICIENT_SCOPE);
	CHECK_STR(d.scope, "repository:alice/other:pull,push");
	CHECK_STR(d.detail, "the token does not grant pull,push on alice/other");
	/* the policy would not grant it: still ask (the token service says no) */
	CHECK_INT(auth_decide(a, c, "secret/x", AUTH_PULL, &d), AUTH_INSUFFICIENT_SCOPE);
	CHECK_STR(d.scope, "repository:secret/x:pull");
	CHECK_INT(auth_decide(a, c, NULL, AUTH_CATALOG, &d), AUTH_INSUFFICIENT_SCOPE);
	CHECK_STR(d.scope, "registry:catalog:*");
	CHECK_STR(d.detail, "the token does not grant pull on the catalog");
	/* visible: what the policy lets the subject pull, token or not */
	CHECK(auth_visible(a, c, "alice/other"));
	CHECK(!auth_visible(a, c, "secret/x"));
	json_decref(c);
}

static void test_token_lacks_action(struct auth_ctx *a)
{
	struct auth_decision d;
	json_t *c = claims("local", "alice", NULL, "alice/app", "pull", "push");
	json_t *dev = claims("ldap", "dave", "dev", "team/app", "pull", NULL);
	json_t *none = claims("local", "bob", NULL, "alice/app", NULL, NULL);

	/* policy yes: ask for what the token has there plus the action */
	CHECK_INT(auth_decide(a, c, "alice/app", AUTH_DELETE, &d), AUTH_INSUFFICIENT_SCOPE);
	CHECK_STR(d.scope, "repository:alice/app:pull,push,delete");
	CHECK_STR(d.detail, "the token does not grant delete on alice/app: fetch a token for "
		  "repository:alice/app:pull,push,delete");
	CHECK_INT(auth_decide(a, dev, "team/app", AUTH_PUSH, &d), AUTH_INSUFFICIENT_SCOPE);
	CHECK_STR(d.scope, "repository:team/app:pull,push");
	/* policy no: 403 */
	CHECK_INT(auth_decide(a, dev, "team/app", AUTH_DELETE, &d), AUTH_DENIED);
	CHECK_STR(d.detail, "requested access to team/app (delete) is denied");
	CHECK_INT(auth_decide(a, none, "alice/app", AUTH_PUSH, &d), AUTH_DENIED);
	CHECK_STR(d.detail, "requested access to alice/app (pull,push) is denied");
	CHECK_INT(auth_decide(a, none, "alice/app", AUTH_PULL, &d), AUTH_DENIED);
	json_decref(c);
	json_decref(dev);
	json_decref(none);
}

static void test_repository_token(struct auth_ctx *a)
{
	char *scopes[] = { "repository:ci/app:pull,push", "repository:ci/lib:pull" };
	char secret[AUTH_TOKEN_STR_SIZE];
	struct auth_decision d;
	json_t *c = claims("token", "ci", NULL, "ci/app", "pull", NULL);
	json_t *gone = claims("token", "nobody", NULL, "ci/app", "pull", NULL);

	CHECK_INT(auth_repotoken_create(tokens, "ci", scopes, 2, time(NULL), 0, secret,
					sizeof(secret)), BERR_OK);
	/* the policy grants tokens nothing: the token's own scopes do */
	CHECK_INT(auth_decide(a, c, "ci/app", AUTH_PULL, &d), AUTH_ALLOWED);
	CHECK_INT(auth_decide(a, c, "ci/app", AUTH_PUSH, &d), AUTH_INSUFFICIENT_SCOPE);
	CHECK_STR(d.scope, "repository:ci/app:pull,push");
	CHECK_INT(auth_decide(a, c, "ci/app", AUTH_DELETE, &d), AUTH_DENIED);
	/* a token no longer in the file grants nothing, and says nothing */
	CHECK_INT(auth_decide(a, gone, "ci/app", AUTH_PUSH, &d), AUTH_DENIED);
	CHECK(berr_detail_for(BERR_UNAUTHORIZED) == NULL);
	CHECK_INT(auth_repotoken_revoke(tokens, "ci"), BERR_OK);
	CHECK_INT(auth_decide(a, c, "ci/app", AUTH_PUSH, &d), AUTH_DENIED);
	json_decref(c);
	json_decref(gone);
}

static void test_anonymous(struct auth_ctx *a)
{
	struct auth_decision d;
	json_t *c = claims("anonymous", "", NULL, "public/app", "pull", NULL);
	json_t *cp = NULL;

	CHECK_INT(auth_decide(a, c, "public/app", AUTH_PULL, &d), AUTH_ALLOWED);
	/* no login can push under public/: 403, not a loop of challenges */
	CHECK_INT(auth_decide(a, c, "public/app", AUTH_PUSH, &d), AUTH_DENIED);
	CHECK(auth_visible(a, c, "public/other"));
	CHECK(!auth_visible(a, c, "alice/app"));
	json_decref(c);

	/* no credential at all: 401 asking for the scope of the action */
	CHECK_INT(auth_decide(a, NULL, "public/app", AUTH_PULL, &d), AUTH_UNAUTHENTICATED);
	CHECK_STR(d.scope, "repository:public/app:pull");
	CHECK_STR(d.detail, "authentication required");
	CHECK_INT(auth_decide(a, NULL, NULL, AUTH_PULL, &d), AUTH_UNAUTHENTICATED);
	CHECK_STR(d.scope, "");
	CHECK_INT(auth_decide(a, NULL, NULL, AUTH_CATALOG, &d), AUTH_UNAUTHENTICATED);
	CHECK_STR(d.scope, "registry:catalog:*");
	CHECK(!auth_visible(a, NULL, "public/app"));
	CHECK_INT(auth_claims_verify(a, NULL, &cp), BERR_UNAUTHORIZED);
	CHECK_STR(berr_detail_for(BERR_UNAUTHORIZED), "authentication required");
	CHECK_INT(auth_claims_verify(a, "Basic YTpi", &cp), BERR_UNAUTHORIZED);
	CHECK(cp == NULL);
}

static void test_auth_none(struct config *cfg)
{
	struct auth_decision d;
	struct auth_ctx *a = NULL;
	json_t *c = (json_t *)1;

	cfg->auth = "none";
	CHECK_INT(auth_ctx_new(cfg, &a), BERR_OK);
	CHECK_INT(auth_claims_verify(a, "Bearer garbage", &c), BERR_OK);
	CHECK(c == NULL);
	CHECK_INT(auth_decide(a, NULL, "secret/x", AUTH_DELETE, &d), AUTH_ALLOWED);
	CHECK_INT(auth_decide(a, NULL, NULL, AUTH_CATALOG, &d), AUTH_ALLOWED);
	CHECK(auth_visible(a, NULL, "secret/x"));
	auth_ctx_free(a);
	cfg->auth = "token";
}

int main(void)
{
	struct config cfg = { 0 };
	struct auth_ctx *a = NULL;

	if (!mkdtemp(dir))
		return 1;
	snprintf(policy, sizeof(policy), "%s/policy", dir);
	snprintf(tokens, sizeof(tokens), "%s/tokens", dir);
	if (fs_write_atomic(dir, policy, policy_text, sizeof(policy_text) - 1))
		return 1;
	cfg.auth = "token";
	cfg.auth_service = cfg.auth_issuer = "berth";
	cfg.policy_file = policy;
	cfg.tokens_file = tokens;

	CHECK_INT(auth_ctx_new(&cfg, &a), BERR_OK);
	test_token_covers(a);
	test_token_lacks_repo(a);
	test_token_lacks_action(a);
	test_repository_token(a);
	test_anonymous(a);
	auth_ctx_free(a);
	test_auth_none(&cfg);

	fs_remove_tree(dir);
	return unit_done();
}
