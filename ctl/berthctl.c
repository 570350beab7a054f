/*
 * berthctl.c - the administrators' tool.  It works on the store and the
 * auth files directly (no running pool needed) and reads the same
 * berth.conf as berthd.  This file only dispatches:
 *
 *   store commands  gc, repo, tag, du, uploads         ctl/ctl_store.c
 *   fsck            fsck                               ctl/ctl_fsck.c (via ctl_store.c)
 *   locks           lock, unlock                       ctl/ctl_lock.c (via ctl_store.c)
 *   auth commands   user, token                        ctl/ctl_auth.c
 *   directory       ldap test                          ctl/ctl_ldap.c
 *   policy          policy explain                     ctl/ctl_policy.c
 *   audit log       audit (and the records of changes) ctl/ctl_audit.c
 *   what they share (errors, exit codes, --json)       ctl/ctl.c
 *
 * Exit codes: 0 success, 1 a problem (not found, fsck found something,
 * another gc running), 2 usage or configuration error, 3 the store could
 * not be read or written.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "util/config.h"
#include "ctl/ctl_audit.h"
#include "ctl/ctl_auth.h"
#include "ctl/ctl_ldap.h"
#include "ctl/ctl_policy.h"
#include "ctl/ctl_store.h"
#include "util/log.h"
#include "util/privs.h"

#define DEFAULT_CONF "/etc/berth/berth.conf"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: berthctl [-c FILE] COMMAND [ARGS]   (COMMAND --help for details)\n"
		"\n"
		"  -c FILE   configuration (default " DEFAULT_CONF ")\n"
		"\n"
		"commands:\n");
	ctl_store_usage(f);
	ctl_audit_usage(f);
	fprintf(f,
		"  user add|passwd|rm NAME, user ls   local users (bcrypt)\n"
		"  token create NAME --scope S [--expires 90d], token ls, token revoke NAME\n"
		"                                     repository-scoped access tokens\n"
		"  ldap test USER                     what the directory says of USER, and\n"
		"                                     what the policy grants USER\n"
		"  policy explain SUBJECT REPO ACTION which rule grants or denies\n"
		"  help                               this text\n"
		"\n"
		"exit codes: 0 ok, 1 problem found / not found, 2 usage or config error,\n"
		"            3 store unreadable\n");
}

static int is_help(const char *s)
{
	return strcmp(s, "help") == 0 || strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0;
}

/* Commands that need the configuration but not the store. */
static int is_auth_cmd(const char *cmd)
{
	return strcmp(cmd, "user") == 0 || strcmp(cmd, "token") == 0 ||
	       strcmp(cmd, "ldap") == 0 || strcmp(cmd, "policy") == 0 || strcmp(cmd, "audit") == 0;
}

static int run(const char *path, int argc, char **argv)
{
	const char *cmd = argv[0];
	struct config cfg;
	struct store st;
	int rc;

	if (config_load(&cfg, path)) {
		fprintf(stderr, "berthctl: %s\n", berr_detail());
		return 2;
	}
	ctl_audit_open(&cfg); /* who runs it: before privileges are dropped */
	if (privs_ctl(&cfg, cmd)) { /* as root: become `user` */
		fprintf(stderr, "berthctl: %s\n", berr_detail());
		config_release(&cfg);
		return 2;
	}
	if (is_auth_cmd(cmd)) {
		if (strcmp(cmd, "ldap") == 0)
			rc = ctl_ldap_main(&cfg, argc, argv);
		else if (strcmp(cmd, "policy") == 0)
			rc = ctl_policy_main(&cfg, argc, argv);
		else if (strcmp(cmd, "audit") == 0)
			rc = ctl_audit_main(&cfg, argc, argv);
		else
			rc = ctl_auth_main(&cfg, argc, argv);
		config_release(&cfg);
		return rc;
	}
	if (store_open(&st, cfg.store)) {
		fprintf(stderr, "berthctl: store %s: %s\n", cfg.store, berr_detail());
		config_release(&cfg);
		return 3;
	}
	st.upload_ttl = cfg.upload_ttl;
	rc = ctl_store_main(&cfg, &st, argc, argv);
	store_close(&st);
	config_release(&cfg);
	return rc;
}

int main(int argc, char **argv)
{
	const char *path = DEFAULT_CONF;
	const char *cmd;
	int opt;

	log_set_name("berthctl");
	log_set_level(LOG_LVL_WARN);
	while ((opt = getopt(argc, argv, "+c:h")) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	if (is_help(cmd)) {
		usage(stdout);
		return 0;
	}
	if (!is_auth_cmd(cmd) && !ctl_store_handles(cmd)) {
		fprintf(stderr, "berthctl: unknown command \"%s\" (try berthctl help)\n", cmd);
		return 2;
	}
	/* COMMAND ... --help needs no configuration */
	for (int i = optind + 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 && ctl_store_handles(cmd))
			return ctl_store_main(NULL, NULL, argc - optind, argv + optind);
	return run(path, argc - optind, argv + optind);
}
