/*
 * test_config.c - berth.conf's syntax: comments, quoted values and their
 * escapes, and the '#' glued to a value that must be refused rather than
 * silently cutting a password short; the bound of max_manifest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/config.h"
#include "tests/unit/unit.h"

static char path[] = "/tmp/berth-test-config-XXXXXX";

/* Load "store = /s\n" + body; the error detail (or "") in *why. */
static enum berr load(struct config *c, const char *body, const char **why)
{
	FILE *f = fopen(path, "we");
	enum berr err;

	fprintf(f, "store = /s\n%s", body);
	fclose(f);
	err = config_load(c, path);
	*why = err ? berr_detail() : "";
	return err;
}

/* The value of ldap_bind_password after loading one line of it. */
static void check_password(const char *line, const char *want)
{
	struct config c;
	const char *why;
	char body[512];

	snprintf(body, sizeof(body), "%s\n", line);
	if (load(&c, body, &why) != BERR_OK) {
		CHECK_STR(why, "(loaded)");
		return;
	}
	CHECK_STR(c.ldap_bind_password ? c.ldap_bind_password : "(unset)", want);
	config_release(&c);
}

static void check_refused(const char *body, const char *want)
{
	struct config c;
	const char *why;

	CHECK_INT(load(&c, body, &why), BERR_INTERNAL);
	CHECK(strstr(why, want) != NULL);
	if (!strstr(why, want))
		fprintf(stderr, "  got \"%s\", want \"%s\" in it\n", why, want);
}

static void test_comments(void)
{
	struct config c;
	const char *why;

	check_password("ldap_bind_password = secret", "secret");
	check_password("ldap_bind_password = secret # the service account", "secret");
	check_password("ldap_bind_password = secret\t# tab before the comment", "secret");
	check_password("ldap_bind_password =   two words  ", "two words");
	check_password("ldap_bind_password = # nothing but a comment", "(unset)");
	check_password("  # ldap_bind_password = commented#out", "(unset)");
	check_password("ldap_bind_password = a\"b", "a\"b");   /* a quote inside stays */

	CHECK_INT(load(&c, "# comment\n\n   \nworkers = 7 # seven\n", &why), BERR_OK);
	CHECK_INT(c.workers, 7);
	CHECK_STR(c.store, "/s");
	config_release(&c);
}

static void test_quotes(void)
{
	check_password("ldap_bind_password = \"svc#pass\"", "svc#pass");
	check_password("ldap_bind_password = \"svc#pass\"   # comment after", "svc#pass");
	check_password("ldap_bind_password = \"  blanks kept  \"", "  blanks kept  ");
	check_password("ldap_bind_password = \"say \\\"hi\\\"\"", "say \"hi\"");
	check_password("ldap_bind_password = \"back\\\\slash\"", "back\\slash");
	check_password("ldap_bind_password = \"\\\\\\\"\"", "\\\"");
	check_password("ldap_bind_password = \"\"", "(unset)");
	check_password("ldap_bind_password=\"x=y # z\"", "x=y # z");
}

static void test_refused(void)
{
	check_refused("workers = 2\nldap_bind_password = svc#pass\n",
		      ":3: ldap_bind_password: '#' inside a value; put the value in double quotes "
		      "(ldap_bind_password = \"...\")");
	check_refused("ldap_bind_password = \"svc#pass\n", ":2: ldap_bind_password: the quoted "
		      "value has no closing \"");
	check_refused("ldap_bind_password = \"a\\b\"\n", ":2: ldap_bind_password: in a quoted "
		      "value only \\\" and \\\\ may follow a backslash");
	check_refused("ldap_bind_password = \"a\" b\n", ":2: ldap_bind_password: text after "
		      "the closing quote");
	check_refused("ldap_bind_password = \"a\\\"\n", "has no closing");
	check_refused("ldap_bind_pasword = x\n", ":2: unknown key \"ldap_bind_pasword\"");
	check_refused("just words\n", ":2: expected \"key = value\"");
}

/* max_manifest: the default, the bound, and one past it.  The bound is the
 * parser's (test_manifest.c parses a document of exactly that size), so no
 * value the file may hold is one the parser refuses. */
static void test_max_manifest(void)
{
	struct config c;
	const char *why;
	char body[64];

	CHECK_INT(load(&c, "", &why), BERR_OK);
	CHECK_INT(c.max_manifest, 4194304);
	config_release(&c);
	snprintf(body, sizeof(body), "max_manifest = %ld\n", CONFIG_MANIFEST_MAX);
	CHECK_INT(load(&c, body, &why), BERR_OK);
	CHECK_INT(c.max_manifest, 67108864);
	config_release(&c);
	snprintf(body, sizeof(body), "max_manifest = %ld\n", CONFIG_MANIFEST_MAX + 1);
	check_refused(body, ":2: max_manifest must be a number from 1024 to 67108864");
	check_refused("max_manifest = 1023\n", "from 1024 to");
}

static void test_long_line(void)
{
	char *body = malloc(6000);

	memcpy(body, "ldap_bind_password = ", 21);
	memset(body + 21, 'x', 5000);
	memcpy(body + 5021, "\n", 2);
	check_refused(body, ":2: line longer than");
	free(body);
}

int main(void)
{
	int fd = mkstemp(path);

	if (fd < 0)
		return 1;
	close(fd);
	test_comments();
	test_quotes();
	test_refused();
	test_max_manifest();
	test_long_line();
	unlink(path);
	return unit_done();
}
