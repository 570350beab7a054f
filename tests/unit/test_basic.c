/*
 * test_basic.c - auth_basic_parse(): the Basic credentials of /token.
 * What docker, podman and curl send parses; every other spelling of the
 * same bytes (whitespace, '=' inside, missing padding), a NUL, a missing
 * ':' and parts too long for their buffers are refused, outputs untouched.
 * The cases under "refused" were accepted before the parser was strict.
 */
#include "auth/basic.h"
#include "tests/unit/unit.h"

static void ok(const char *hdr, const char *user, const char *pass)
{
	char u[256] = "", p[300] = "";

	CHECK_INT(auth_basic_parse(hdr, u, sizeof(u), p, sizeof(p)), 1);
	CHECK_STR(u, user);
	CHECK_STR(p, pass);
}

static void refused(const char *hdr, int want)
{
	char u[256] = "U", p[300] = "P";

	CHECK_INT(auth_basic_parse(hdr, u, sizeof(u), p, sizeof(p)), want);
	CHECK_STR(u, "U");
	CHECK_STR(p, "P");
}

int main(void)
{
	char u[4] = "U", p[4] = "P";

	ok("Basic YWRtaW46czNjcmV0", "admin", "s3cret");       /* admin:s3cret */
	ok("basic YWI6Y2RlZmc=", "ab", "cdefg");                /* one '=' */
	ok("BASIC dTpwOnE=", "u", "p:q");                       /* ':' in the password */
	ok("Basic YTo=", "a", "");                              /* empty password */
	ok("Basic OmI=", "", "b");                              /* empty user */
	refused(NULL, 0);
	refused("Bearer abc", 0);
	refused("Basic", 0);
	refused("Basic ", -1);                                  /* nothing: no ':' */
	refused("Basic bm9jb2xvbg==", -1);                      /* "nocolon" */
	refused("Basic YQBiOmM=", -1);                          /* "a\0b:c" */
	refused("Basic YWI6Y2Rlc=c=", -1);                      /* '=' inside */
	refused("Basic     YTpi", -1);                          /* leading blanks */
	refused("Basic YTpi    ", -1);                          /* trailing blanks */
	refused("Basic YTp\ni", -1);                            /* a newline */
	refused("Basic YWI6Y2RlZmc", -1);                       /* padding missing */
	refused("Basic YTpi====", -1);                          /* too much padding */
	CHECK_INT(auth_basic_parse("Basic YWJjZDpi", u, sizeof(u), p, sizeof(p)), -1); /* user "abcd" */
	CHECK(u[0] == 'U' && p[0] == 'P');                      /* nothing written */
	CHECK_INT(auth_basic_parse("Basic YTpiY2Rl", u, sizeof(u), p, sizeof(p)), -1); /* pass "bcde" */
	CHECK(u[0] == 'U' && p[0] == 'P');
	CHECK_INT(auth_basic_parse("Basic YWJjOmJjZA==", u, sizeof(u), p, sizeof(p)), 1);
	CHECK_STR(u, "abc");
	CHECK_STR(p, "bcd");
	return unit_done();
}
