/*
 * ctl_ldap.c - "berthctl ldap test USER" (see ctl_ldap.h).
 *
 * berthctl is the administrator's tool, run by whoever may read berth.conf
 * and the bind password file, so it talks to the directory itself with
 * auth/ldap.c (the same code the directory process runs, so the same
 * search, the same canonical name and the same groups) instead of asking
 * a running berthd: it works before berthd is started, which is when
 * LDAP settings get debugged.  libldap's own words go to stderr through
 * the log, as berthd would log them.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/ldap.h"
#include "auth/policy.h"
#include "ctl/ctl.h"
#include "ctl/ctl_ldap.h"

#define CMD "ldap test"
#define USAGE "ldap test USER [--json]"

static void print_time(FILE *f, const char *label, time_t t)
{
	char buf[64];
	struct tm tm;

	if (t == 0) {
		fprintf(f, "%-17s not kept by the directory\n", label);
		return;
	}
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	fprintf(f, "%-17s %s\n", label, buf);
}

/* What the policy grants `u`, as auth_policy_print_grants prints it, in a
 * malloc'd string (NULL when there is no policy). */
static char *grants_text(const struct config *cfg, const struct auth_ldap_user *u, size_t *n)
{
	struct auth_subject who = {
		.user = u->name,
		.groups = (const char *const *)u->groups,
		.ngroups = u->ngroups,
		.authenticated = 1,
	};
	struct auth_policy *p = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	*n = 0;
	if (!cfg->policy_file || auth_policy_load(cfg->policy_file, &p)) {
		if (cfg->policy_file)
			fprintf(stderr, "berthctl %s: policy: %s\n", CMD, berr_detail());
		return NULL;
	}
	if ((f = open_memstream(&text, &len)) != NULL) {
		*n = auth_policy_print_grants(p, &who, f);
		fclose(f);
	}
	auth_policy_free(p);
	return text;
}

static void print_text(const struct config *cfg, const struct auth_ldap_user *u)
{
	size_t i, n;
	char *grants = grants_text(cfg, u, &n);

	printf("%-17s %s\n", "dn:", u->dn ? u->dn : "");
	printf("%-17s %s\n", "name:", u->name);
	printf("%-17s %zu\n", "groups:", u->ngroups);
	for (i = 0; i < u->ngroups; i++)
		printf("  %s\n", u->groups[i]);
	print_time(stdout, "password changed:", u->pwd_changed);
	printf("%-17s %s\n", "account:", u->disabled ? "disabled or locked" : "enabled");
	printf("%-17s %zu rule%s\n", "policy grants:", n, n == 1 ? "" : "s");
	if (grants)
		fputs(grants, stdout);
	free(grants);
}

static void print_json(const struct config *cfg, const struct auth_ldap_user *u)
{
	json_t *doc = json_object(), *groups = json_array(), *rules = json_array();
	size_t i, n;
	char *grants = grants_text(cfg, u, &n), *line, *save = NULL;

	for (i = 0; i < u->ngroups; i++)
		json_array_append_new(groups, json_string(u->groups[i]));
	for (line = grants ? strtok_r(grants, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save))
		json_array_append_new(rules, json_string(line));
	json_object_set_new(doc, "dn", json_string(u->dn ? u->dn : ""));
	json_object_set_new(doc, "name", json_string(u->name));
	json_object_set_new(doc, "groups", groups);
	json_object_set_new(doc, "password_changed",
			    u->pwd_changed ? json_integer((json_int_t)u->pwd_changed) : json_null());
	json_object_set_new(doc, "disabled", json_boolean(u->disabled));
	json_object_set_new(doc, "grants", rules);
	ctl_json_print(doc);
	free(grants);
}

int ctl_ldap_main(const struct config *cfg, int argc, char **argv)
{
	static const char *const names[] = { NULL };
	struct auth_ldap_user u = { 0 };
	struct auth_ldap *l = NULL;
	struct ctl_args a;
	enum berr rc;
	int ex;

	if (argc < 2 || strcmp(argv[1], "test") != 0)
		return ctl_fail(CTL_EX_USAGE, "ldap", "usage: berthctl %s", USAGE);
	if ((ex = ctl_parse_args(CMD, argc - 1, argv + 1, names, NULL, 1, &a)))
		return ex;
	if (a.help)
		return ctl_help(USAGE);
	if (a.npos != 1)
		return ctl_fail(CTL_EX_USAGE, CMD, "usage: berthctl %s", USAGE);
	if (!cfg->ldap_uri || !cfg->ldap_uri[0])
		return ctl_fail(CTL_EX_USAGE, CMD, "ldap_uri is not set in %s", cfg->path);
	if (auth_ldap_new(cfg, &l))
		return ctl_fail(CTL_EX_USAGE, CMD, "%s", berr_detail());
	rc = auth_ldap_lookup_user(l, a.pos[0], &u);
	if (rc && auth_ldap_unavailable(l)) {
		ex = ctl_fail(3, CMD, "the directory could not be reached: %s", berr_detail());
	} else if (rc == BERR_UNAUTHORIZED && !auth_ldap_broken(l)) {
		ex = ctl_fail(CTL_EX_PROBLEM, CMD, "%s: not found in the directory (or found more "
			      "than once, or without a usable %s; see above)", a.pos[0],
			      cfg->ldap_user_attr ? cfg->ldap_user_attr : "uid");
	} else if (rc) {
		ex = ctl_fail(3, CMD, "%s", berr_detail());
	} else {
		if (a.json)
			print_json(cfg, &u);
		else
			print_text(cfg, &u);
		ex = CTL_EX_OK;
	}
	auth_ldap_user_release(&u);
	auth_ldap_free(l);
	return ex;
}
