/*
 * test_check.c - auth_config_check(): every auth setting that cannot work
 * is refused with its key (and file) named, without any network traffic;
 * what can work passes.  The LDAP settings name servers nobody runs
 * (127.0.0.1:9, "a"): a check that tried to connect would fail the cases
 * that must pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/check.h"
#include "tests/unit/unit.h"

static char dir[] = "/tmp/berth-test-check-XXXXXX";
static char conf[512];

/* berth.conf = a working auth = token base + extra lines; the check's
 * detail, or "ok". */
static const char *check(const char *extra)
{
	static char why[1024];
	struct config c;
	FILE *f = fopen(conf, "w");

	fprintf(f, "store = %s\nauth = token\nsigning_key = %s/key.pem\n"
		"users_file = %s/users\ntokens_file = %s/tokens\npolicy_file = %s/policy\n"
		"state_dir = %s/state\n%s", dir, dir, dir, dir, dir, dir, extra);
	fclose(f);
	if (config_load(&c, conf)) {
		snprintf(why, sizeof(why), "config: %s", berr_detail());
		return why;
	}
	snprintf(why, sizeof(why), "%s", auth_config_check(&c) ? berr_detail() : "ok");
	config_release(&c);
	return why;
}

#define CHECK_HAS(got, want) do { \
	const char *g__ = (got); \
	CHECK(strstr(g__, (want)) != NULL); \
	if (!strstr(g__, (want))) \
		fprintf(stderr, "  got \"%s\"\n  want \"%s\" in it\n", g__, (want)); \
} while (0)

static void put(const char *name, const char *text)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static void test_files(void)
{
	char line[1200], want[1200];

	CHECK_STR(check(""), "ok");     /* the key does not exist yet: creatable */
	snprintf(line, sizeof(line), "signing_key = %s/nodir/key.pem\n", dir);
	snprintf(want, sizeof(want), "signing_key: the key does not exist and cannot be created: "
		 "the directory %s/nodir does not exist", dir);
	CHECK_HAS(check(line), want);
	snprintf(line, sizeof(line), "signing_key = %s/state\n", dir);
	CHECK_HAS(check(line), "is not a regular file");
	snprintf(line, sizeof(line), "users_file = %s/state\n", dir);
	snprintf(want, sizeof(want), "users_file: %s/state is not a regular file", dir);
	CHECK_HAS(check(line), want);
	snprintf(line, sizeof(line), "verify_keys = %s/policy, %s/old.pem\n", dir, dir);
	snprintf(want, sizeof(want), "verify_keys: %s/old.pem does not exist", dir);
	CHECK_HAS(check(line), want);
	snprintf(line, sizeof(line), "state_dir = %s/nostate\n", dir);
	snprintf(want, sizeof(want), "state_dir: %s/nostate does not exist", dir);
	CHECK_HAS(check(line), want);
	put("policy", "user:bob team/** pull\nuser:bob team/** fly\n");
	snprintf(want, sizeof(want), "policy_file: %s/policy:2: unknown action \"fly\"", dir);
	CHECK_HAS(check(""), want);
	put("policy", "user:bob team/** pull\n");
	CHECK_STR(check(""), "ok");
	/* auth = none reads none of it */
	snprintf(line, sizeof(line), "auth = none\nsigning_key = %s/nodir/key.pem\n", dir);
	CHECK_STR(check(line), "ok");
}

#define LDAP "ldap_uri = ldap://127.0.0.1:9\nldap_user_base = ou=people,dc=example,dc=org\n"
#define BIND "ldap_bind_dn = cn=reader,dc=example,dc=org\nldap_bind_password = pw\n"

static void test_ldap(void)
{
	char line[1200], want[1200];

	CHECK_STR(check(LDAP), "ok");                      /* anonymous search */
	CHECK_STR(check(LDAP BIND), "ok");
	CHECK_STR(check(LDAP BIND "ldap_group_mode = memberof\n"), "ok");
	CHECK_HAS(check(LDAP BIND "ldap_group_mode = members\n"),
		  "ldap_group_mode: \"members\" is not one of none, memberof, member, memberuid");
	CHECK_HAS(check(LDAP BIND "ldap_group_mode = memberuid\n"), "ldap_group_base: not set");
	CHECK_HAS(check(LDAP "ldap_bind_dn = cn=r,dc=x\n"), "ldap_bind_dn: set, but no password");
	CHECK_HAS(check(LDAP "ldap_bind_password = pw\n"), "ldap_bind_dn: not set");
	snprintf(line, sizeof(line), LDAP BIND "ldap_bind_password_file = %s/pw\n", dir);
	CHECK_HAS(check(line), "ldap_bind_password: set together with ldap_bind_password_file");
	snprintf(line, sizeof(line), LDAP "ldap_bind_dn = cn=r,dc=x\n"
		 "ldap_bind_password_file = %s/pw\n", dir);
	snprintf(want, sizeof(want), "ldap_bind_password_file: %s/pw does not exist", dir);
	CHECK_HAS(check(line), want);
	put("pw", "");
	CHECK_HAS(check(line), "is empty");
	put("pw", "svc#pass\n");
	CHECK_STR(check(line), "ok");
	snprintf(line, sizeof(line), LDAP BIND "ldap_ca_file = %s/ca.pem\n", dir);
	snprintf(want, sizeof(want), "ldap_ca_file: %s/ca.pem does not exist", dir);
	CHECK_HAS(check(line), want);
	CHECK_HAS(check("ldap_uri = ldaps://a ldap://b\nldap_starttls = true\n"
			"ldap_user_base = ou=p,dc=x\n"), "ldap_starttls: ldaps://a is TLS already");
	CHECK_HAS(check("ldap_uri = ldap://a, ftp://b\nldap_user_base = ou=p,dc=x\n"),
		  "ldap_uri: \"ftp://b\" is not ldap://, ldaps:// or ldapi://");
	CHECK_HAS(check("ldap_uri = ldap://a\n"), "ldap_user_base: not set");
	CHECK_STR(check("ldap_uri = ldap://a\nldap_user_dn_template = uid=%s,dc=x\n"), "ok");
	CHECK_HAS(check("ldap_uri = ldap://a\nldap_user_dn_template = uid=alice,dc=x\n"),
		  "ldap_user_dn_template: \"uid=alice,dc=x\" has no %s");
	CHECK_HAS(check("ldap_uri = ldap://a\nldap_user_dn_template = uid=%s%d,dc=x\n"),
		  "only %s and %% may follow");
	CHECK_HAS(check(LDAP "ldap_user_filter = uid=%s\n"), "ldap_user_filter: must be a filter");
	CHECK_HAS(check(LDAP "ldap_user_attr = \"\"\n"), "ldap_user_attr: empty");
	CHECK_HAS(check(LDAP "ldap_user_attr = \"u id\"\n"), "is not an attribute name");
	CHECK_STR(check(LDAP "ldap_user_attr = sAMAccountName\n"), "ok");
}

int main(void)
{
	char path[600];

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(conf, sizeof(conf), "%s/berth.conf", dir);
	snprintf(path, sizeof(path), "%s/state", dir);
	mkdir(path, 0700);
	put("policy", "authenticated ${user}/** *\n");
	test_files();
	test_ldap();
	if (!unit_fail) {
		char cmd[700];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return unit_done();
}
