/*
 * test_ldap_escape.c - RFC 4515 filter escaping, RFC 4514 DN escaping and
 * the %s templates of auth/ldap.c: what a hostile user name turns into.
 */
#include <stdint.h>
#include <stdlib.h>

#include "auth/ldap.h"
#include "unit.h"

static void check_filter(const char *in, size_t len, const char *want)
{
	char *got = auth_ldap_filter_escape(in, len);

	CHECK_STR(got, want);
	free(got);
}

static void check_dn(const char *in, const char *want)
{
	char *got = auth_ldap_dn_escape(in, strlen(in));

	CHECK_STR(got, want);
	free(got);
}

static void test_filter(void)
{
	check_filter("alice", 5, "alice");
	check_filter("", 0, "");
	check_filter("*", 1, "\\2a");
	check_filter("(", 1, "\\28");
	check_filter(")", 1, "\\29");
	check_filter("\\", 1, "\\5c");
	check_filter("a\0b", 3, "a\\00b");
	check_filter(")(uid=*", 7, "\\29\\28uid=\\2a");
	check_filter("*)(|(objectClass=*", 18, "\\2a\\29\\28|\\28objectClass=\\2a");
	check_filter("j\xc3\xbcrgen", 7, "j\\c3\\bcrgen");     /* UTF-8 ü */
	check_filter("\xff\xfe", 2, "\\ff\\fe");                /* not UTF-8 at all */
	check_filter("tab\there\n", 9, "tab\\09here\\0a");
	check_filter("a.b-c_d@x", 9, "a.b-c_d@x");
	check_filter("cn=Dave \\28QA\\29,dc=x", 21, "cn=Dave \\5c28QA\\5c29,dc=x");
	/* a length whose escaped size would wrap size_t: refused before any
	 * allocation or write (the input is never read) */
	CHECK(auth_ldap_filter_escape("x", SIZE_MAX / 2) == NULL);
	CHECK(auth_ldap_dn_escape("x", SIZE_MAX / 3 + 1) == NULL);
}

static void test_dn(void)
{
	check_dn("alice", "alice");
	check_dn("a,b", "a\\,b");
	check_dn("a+b=c", "a\\+b\\=c");
	check_dn("\"<x>;\\", "\\\"\\<x\\>\\;\\\\");
	check_dn(" lead", "\\ lead");
	check_dn("trail ", "trail\\ ");
	check_dn("#hash", "\\#hash");
	check_dn("mid#dle mid", "mid#dle mid");
	check_dn("nl\nx", "nl\\0ax");
	check_dn("j\xc3\xbcrgen", "j\xc3\xbcrgen");
}

static void test_template(void)
{
	char *s;

	s = auth_ldap_template("(uid=%s)", "alice");
	CHECK_STR(s, "(uid=alice)");
	free(s);
	s = auth_ldap_template("(|(uid=%s)(mail=%s))", "a\\2a");
	CHECK_STR(s, "(|(uid=a\\2a)(mail=a\\2a))");
	free(s);
	s = auth_ldap_template("(uid=%s)(x=100%%)", "b");
	CHECK_STR(s, "(uid=b)(x=100%)");
	free(s);
	s = auth_ldap_template("(uid=%d)", "b");
	CHECK(s == NULL);
	free(s);
	s = auth_ldap_template("(uid=%s)%", "b");
	CHECK(s == NULL);
	free(s);
}

int main(void)
{
	test_filter();
	test_dn();
	test_template();
	return unit_done();
}
