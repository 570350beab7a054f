/*
 * ctl_policy.c - berthctl policy explain (see ctl_policy.h).
 *
 * Administrators debug access with a tool, not with docker: this answers
 * the question the token service asks (auth_policy_explain() gives the
 * same answer as auth_policy_actions(), which issues tokens) and names the
 * rule, by file and line, that grants; when nothing grants, it says so
 * (default deny) and lists the rules that name the subject but miss the
 * repository or the action, which is where a typo usually hides.
 *
 * A repository token also has the scopes it was created with (berthctl
 * token create --scope); the token service adds them to the policy's
 * answer, so this does too, and says when they are what grants.
 *
 * The policy file is read as the pool reads it; nothing is written, no
 * directory is asked (groups are given with --group: `berthctl ldap test`
 * shows which groups the directory reports).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/policy.h"
#include "auth/scope.h"
#include "auth/users.h"
#include "oci/ref.h"
#include "ctl/ctl.h"
#include "ctl/ctl_policy.h"

#define MAX_GROUPS 64
#define MAX_HITS 256

static const char USAGE[] =
	"usage: berthctl policy explain SUBJECT REPOSITORY ACTION [--group G ...] [--json]\n"
	"\n"
	"Which rule of the policy file (policy_file) grants ACTION on REPOSITORY to\n"
	"SUBJECT, or that none does.  SUBJECT: user:NAME, token:NAME or anonymous;\n"
	"--group G (repeatable) gives a user's directory groups.  ACTION: pull,\n"
	"push, delete or catalog (REPOSITORY is then ignored; write -).\n"
	"exit codes: 0 granted, 1 denied, 2 usage or configuration error\n";

struct explain {
	const char *subject;        /* as typed */
	const char *repo;
	const char *action;
	unsigned act;               /* AUTH_ACT_* */
	const char *groups[MAX_GROUPS];
	struct auth_subject who;
	int json;
};

static const char *const verdict_names[] = {
	[AUTH_RULE_GRANTS] = "grants",
	[AUTH_RULE_OTHER_ACTION] = "other action",
	[AUTH_RULE_OTHER_REPO] = "other repository",
	[AUTH_RULE_NO_USER] = "no ${user} for this subject",
};

static int parse_action(const char *s, unsigned *act)
{
	static const struct { const char *name; unsigned bit; } acts[] = {
		{ "pull", AUTH_ACT_PULL }, { "push", AUTH_ACT_PUSH },
		{ "delete", AUTH_ACT_DELETE }, { "catalog", AUTH_ACT_CATALOG },
	};

	for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++)
		if (strcmp(s, acts[i].name) == 0) {
			*act = acts[i].bit;
			return 0;
		}
	return -1;
}

static int parse_subject(struct explain *e)
{
	const char *s = e->subject;

	if (strcmp(s, "anonymous") == 0)
		return 0;
	e->who.authenticated = 1;
	if (strncmp(s, "user:", 5) == 0 && s[5])
		e->who.user = s + 5;
	else if (strncmp(s, "token:", 6) == 0 && s[6])
		e->who.token_name = s + 6;
	else
		return -1;
	return 0;
}

/* argv[1] is "explain"; 0, or the exit code after saying why. */
static int parse_args(int argc, char **argv, struct explain *e)
{
	const char *pos[3];
	int npos = 0, i;

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			e->json = 1;
		} else if (strcmp(argv[i], "--group") == 0 && i + 1 < argc) {
			if (e->who.ngroups == MAX_GROUPS)
				return ctl_fail(CTL_EX_USAGE, "policy", "more than %d --group", MAX_GROUPS);
			e->groups[e->who.ngroups++] = argv[++i];
		} else if (strncmp(argv[i], "--group=", 8) == 0 && e->who.ngroups < MAX_GROUPS) {
			e->groups[e->who.ngroups++] = argv[i] + 8;
		} else if (strcmp(argv[i], "--group") == 0) {
			return ctl_fail(CTL_EX_USAGE, "policy", "--group needs a group name");
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return ctl_fail(CTL_EX_USAGE, "policy", "unknown option %s (see --help)", argv[i]);
		} else if (npos < 3) {
			pos[npos++] = argv[i];
		} else {
			return ctl_fail(CTL_EX_USAGE, "policy", "too many arguments (see --help)");
		}
	}
	if (npos != 3)
		return ctl_fail(CTL_EX_USAGE, "policy", "explain needs SUBJECT REPOSITORY ACTION "
				"(see --help)");
	e->subject = pos[0], e->repo = pos[1], e->action = pos[2];
	e->who.groups = e->groups;
	if (parse_subject(e) < 0)
		return ctl_fail(CTL_EX_USAGE, "policy", "subject \"%s\": want user:NAME, token:NAME "
				"or anonymous", e->subject);
	if (e->who.ngroups && !e->who.user)
		return ctl_fail(CTL_EX_USAGE, "policy", "--group is for user:NAME subjects");
	if (parse_action(e->action, &e->act) < 0)
		return ctl_fail(CTL_EX_USAGE, "policy", "action \"%s\": want pull, push, delete or "
				"catalog", e->action);
	if (e->act != AUTH_ACT_CATALOG && ref_name_check(e->repo))
		return ctl_fail(CTL_EX_USAGE, "policy", "\"%s\" is not a repository name", e->repo);
	return 0;
}

/* The scope of token `name`'s own (berthctl token create) that grants
 * e->act, into buf; 1 if there is one. */
static int token_scope_grants(const struct config *cfg, const struct explain *e, char *buf,
			      size_t size)
{
	struct auth_repotoken *t = NULL;
	const char *repo = e->act == AUTH_ACT_CATALOG ? NULL : e->repo;
	int found = 0;

	if (!e->who.token_name ||
	    auth_repotoken_find(cfg->tokens_file, e->who.token_name, time(NULL), &t))
		return 0;
	for (size_t j = 0; t->scopes && t->scopes[j] && !found; j++) {
		char *one[2] = { t->scopes[j], NULL };
		if ((found = (auth_scopes_actions(one, repo) & e->act) != 0))
			snprintf(buf, size, "%s", t->scopes[j]);
	}
	auth_repotoken_free(t);
	return found;
}

static void print_text(const struct explain *e, const char *file, int granted,
		       const char *by_scope, const struct auth_policy_hit *hits, size_t nhits)
{
	const char *on = e->act == AUTH_ACT_CATALOG ? "the catalog" : e->repo;

	if (granted && e->act == AUTH_ACT_CATALOG)
		printf("granted: %s may list the catalog\n", e->subject);
	else if (granted)
		printf("granted: %s may %s %s\n", e->subject, e->action, on);
	else if (nhits == 0)
		printf("denied: no rule of %s names %s (default deny)\n", file, e->subject);
	else
		printf("denied: no rule grants %s %s on %s (default deny)\n", e->subject,
		       e->action, on);
	if (by_scope)
		printf("  granted by the token's own scope %s (berthctl token ls)\n", by_scope);
	for (size_t i = 0; i < nhits && i < MAX_HITS; i++)
		printf("  %s:%d: %s: %s\n", file, hits[i].line, verdict_names[hits[i].verdict],
		       hits[i].text);
}

static void print_json(const struct explain *e, const char *file, int granted,
		       const char *by_scope, const struct auth_policy_hit *hits, size_t nhits)
{
	json_t *rules = json_array(), *doc;

	for (size_t i = 0; i < nhits && i < MAX_HITS; i++)
		json_array_append_new(rules, json_pack("{s:s, s:i, s:s, s:s}", "file", file,
			"line", hits[i].line, "rule", hits[i].text,
			"verdict", verdict_names[hits[i].verdict]));
	doc = json_pack("{s:s, s:s?, s:s, s:b, s:s, s:o}", "subject", e->subject,
			"repository", e->act == AUTH_ACT_CATALOG ? NULL : e->repo,
			"action", e->action, "granted", granted, "policy", file, "rules", rules);
	if (doc && by_scope)
		json_object_set_new(doc, "token_scope", json_string(by_scope));
	ctl_json_print(doc);
}

static int explain(const struct config *cfg, const struct explain *e)
{
	struct auth_policy *p = NULL;
	struct auth_policy_hit *hits = calloc(MAX_HITS, sizeof(*hits));
	char scope[REF_NAME_MAX + 64];
	size_t nhits;
	int granted, by_scope = 0;

	if (hits == NULL)
		return ctl_fail(CTL_EX_PROBLEM, "policy", "out of memory");
	if (auth_policy_load(cfg->policy_file, &p)) {
		free(hits);
		return ctl_fail(CTL_EX_USAGE, "policy", "%s", berr_detail());
	}
	nhits = auth_policy_explain(p, &e->who, e->act == AUTH_ACT_CATALOG ? NULL : e->repo,
				    e->act, &granted, hits, MAX_HITS);
	if (!granted && token_scope_grants(cfg, e, scope, sizeof(scope)))
		granted = by_scope = 1;
	if (e->json)
		print_json(e, cfg->policy_file, granted, by_scope ? scope : NULL, hits, nhits);
	else
		print_text(e, cfg->policy_file, granted, by_scope ? scope : NULL, hits, nhits);
	auth_policy_free(p);
	free(hits);
	return granted ? CTL_EX_OK : CTL_EX_PROBLEM;
}

int ctl_policy_main(const struct config *cfg, int argc, char **argv)
{
	struct explain e;
	int rc;

	memset(&e, 0, sizeof(e));
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		if (argc < 2) {
			fputs(USAGE, stderr);
			return CTL_EX_USAGE;
		}
		fputs(USAGE, stdout);
		return CTL_EX_OK;
	}
	if (strcmp(argv[1], "explain") != 0)
		return ctl_fail(CTL_EX_USAGE, "policy", "unknown subcommand \"%s\" (see --help)",
				argv[1]);
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(USAGE, stdout);
			return CTL_EX_OK;
		}
	if ((rc = parse_args(argc, argv, &e)))
		return rc;
	if (cfg->policy_file == NULL || *cfg->policy_file == '\0')
		return ctl_fail(CTL_EX_USAGE, "policy", "policy_file is not set in %s", cfg->path);
	return explain(cfg, &e);
}
