/*
 * policy.h - who may do what on which repositories (config policy_file).
 * The file format is described at the top of policy.c and in
 * docs/policy.example.  Default deny: what no rule grants is refused.
 */
#ifndef BERTH_AUTH_POLICY_H
#define BERTH_AUTH_POLICY_H

#include <stddef.h>
#include <stdio.h>

#include "auth/scope.h"
#include "util/err.h"

struct auth_policy;

/* The caller, as the token service knows it after a login.  A user login
 * has `user` (and its directory groups); a repository token login has
 * `token_name` and no user; an anonymous caller has authenticated == 0. */
struct auth_subject {
	const char *user;
	const char *const *groups;
	size_t ngroups;
	const char *token_name;
	int authenticated;
};

/* Read and check the whole file.  BERR_INTERNAL with "FILE:LINE: what is
 * wrong" in berr_detail() on the first error (nothing is half-loaded). */
enum berr auth_policy_load(const char *path, struct auth_policy **out);
/* The same from a string (`name` stands for the file in errors). */
enum berr auth_policy_parse(const char *name, const char *text, struct auth_policy **out);
void auth_policy_free(struct auth_policy *p);
size_t auth_policy_rules(const struct auth_policy *p);
/* Does any rule name `group` (or group:*)?  Groups no rule names cannot
 * change an answer, so tokens need not carry them. */
int auth_policy_uses_group(const struct auth_policy *p, const char *group);

/* AUTH_ACT_PULL|PUSH|DELETE bits `who` has on repository `repo`, or with
 * repo NULL, AUTH_ACT_CATALOG if `who` may list the catalog.  A NULL
 * policy grants nothing. */
unsigned auth_policy_actions(const struct auth_policy *p, const struct auth_subject *who,
			     const char *repo);

/* What a token may carry: for each requested scope, the actions asked for
 * that the policy allows ("*" was expanded by the scope parser to
 * pull,push,delete and so yields those the policy allows).  Scopes left
 * with nothing are dropped.  out holds n entries; returns how many. */
size_t auth_grant(const struct auth_policy *p, const struct auth_subject *who,
		  const struct auth_scope *req, size_t n, struct auth_scope *out);

/* ------------------------------------------------ explaining the answer */

/* How one rule bears on a question, for `berthctl policy explain`. */
enum auth_policy_verdict {
	AUTH_RULE_GRANTS,         /* subject, repository and action match */
	AUTH_RULE_OTHER_ACTION,   /* subject and repository match, not the action */
	AUTH_RULE_OTHER_REPO,     /* the subject matches, the repository does not */
	AUTH_RULE_NO_USER,        /* ${user} cannot stand for this caller */
};

struct auth_policy_hit {
	enum auth_policy_verdict verdict;
	int line;                 /* in auth_policy_file() */
	const char *text;         /* the rule as written; owned by the policy */
};

/* The file (or name) the policy was read from. */
const char *auth_policy_file(const struct auth_policy *p);

/* The answer of auth_policy_actions() for the one action `act` (AUTH_ACT_*;
 * repo is ignored for AUTH_ACT_CATALOG) in *granted, and why: every rule
 * whose subject matches `who`, in file order, into hits[0..max).  Returns
 * how many rules matched the subject (may exceed max); none means no rule
 * speaks of `who` at all (default deny). */
size_t auth_policy_explain(const struct auth_policy *p, const struct auth_subject *who,
			   const char *repo, unsigned act, int *granted,
			   struct auth_policy_hit *hits, size_t max);

/* Print each rule that applies to `who`, one per line as "FILE:LINE: RULE"
 * (with ${user} spelled out after it); returns how many. */
size_t auth_policy_print_grants(const struct auth_policy *p, const struct auth_subject *who,
				FILE *out);

#endif
