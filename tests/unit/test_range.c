/*
 * test_range.c - Content-Range of upload chunks and the session's Range.
 */
#include "fcgi/range.h"
#include "tests/unit/unit.h"

static void ok(const char *s, int64_t want_start, int64_t want_end)
{
	int64_t a = -1, b = -1;
	enum berr rc = range_parse_content_range(s, &a, &b);

	if (rc == BERR_OK && a == want_start && b == want_end) {
		unit_pass++;
	} else {
		unit_fail++;
		fprintf(stderr, "FAIL Content-Range \"%s\": rc %d %lld-%lld (%s)\n",
			s, rc, (long long)a, (long long)b, berr_detail());
	}
}

static void bad(const char *s)
{
	int64_t a = 77, b = 88;
	enum berr rc = range_parse_content_range(s, &a, &b);

	/* Refused, and the outputs untouched. */
	if (rc == BERR_RANGE_INVALID && a == 77 && b == 88) {
		unit_pass++;
	} else {
		unit_fail++;
		fprintf(stderr, "FAIL Content-Range \"%s\" accepted (rc %d)\n", s ? s : "(null)", rc);
	}
}

static void test_parse(void)
{
	ok("0-99", 0, 99);
	ok("bytes 0-99", 0, 99);
	ok("bytes 0-99/200", 0, 99);
	ok("bytes 0-99/*", 0, 99);
	ok("bytes=0-99", 0, 99);
	ok("100-199", 100, 199);
	ok("5-5", 5, 5);
	ok(" 0-99 ", 0, 99);
	ok("0-9223372036854775806", 0, INT64_MAX - 1);
	ok("9223372036854775806-9223372036854775806", INT64_MAX - 1, INT64_MAX - 1);
	ok("bytes 0-9223372036854775806/9223372036854775807", 0, INT64_MAX - 1);
	ok("007-010", 7, 10);

	bad(NULL);
	bad("");
	bad(" ");
	bad("-5");
	bad("5-");
	bad("-");
	bad("9-3");
	bad("a-b");
	bad("0-9223372036854775808");
	/* an end whose length (end - start + 1) or next offset overflows */
	bad("0-9223372036854775807");
	bad("9223372036854775807-9223372036854775807");
	bad("bytes 5-9223372036854775807/*");
	bad("99999999999999999999-100000000000000000000");
	bad("1 0-99");
	bad("0-9 9");
	bad("0 -99");
	bad("0- 99");
	bad("0-99x");
	bad("0-99/");
	bad("0-99/abc");
	bad("0-99/50");  /* end beyond the total */
	bad("0-99/100x");
	bad("bytes");
	bad("bytes ");
	bad("bytes=");
	bad("bytes0-99");
	bad("BYTES 0-99x");
	bad("+0-99");
	bad("0-+99");
	bad("0--99");
	bad("0-99,200-299");
	bad("0x10-0x20");
	CHECK_INT(range_parse_content_range("0-99,", &(int64_t){0}, &(int64_t){0}), BERR_RANGE_INVALID);
	CHECK(strstr(berr_detail(), "unexpected characters") != NULL);
	CHECK_INT(range_parse_content_range("0-9223372036854775807", &(int64_t){0}, &(int64_t){0}),
		  BERR_RANGE_INVALID);
	CHECK(strstr(berr_detail(), "end offset too large") != NULL);
}

static void test_format(void)
{
	char buf[32];

	range_format_session(0, buf, sizeof(buf));
	CHECK_STR(buf, "0-0");
	range_format_session(1, buf, sizeof(buf));
	CHECK_STR(buf, "0-0");
	range_format_session(100, buf, sizeof(buf));
	CHECK_STR(buf, "0-99");
	range_format_session(4294967296LL, buf, sizeof(buf));
	CHECK_STR(buf, "0-4294967295");
	range_format_session(INT64_MAX, buf, sizeof(buf));
	CHECK_STR(buf, "0-9223372036854775806");
	range_format_session(-5, buf, sizeof(buf));
	CHECK_STR(buf, "0-0");
	range_format_session(100, buf, 3); /* truncates, stays terminated */
	CHECK_STR(buf, "0-");
	buf[0] = 'z';
	range_format_session(100, buf, 0);
	CHECK_INT(buf[0], 'z');
}

int main(void)
{
	test_parse();
	test_format();
	return unit_done();
}
