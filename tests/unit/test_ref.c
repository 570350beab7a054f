/*
 * test_ref.c - repository name, tag and upload id grammar.
 */
#include "oci/ref.h"
#include "tests/unit/unit.h"

static void name_ok(const char *s)
{
	enum berr rc = ref_name_check(s);

	if (rc == BERR_OK) {
		unit_pass++;
	} else {
		unit_fail++;
		fprintf(stderr, "FAIL name \"%s\" refused: %s\n", s, berr_detail());
	}
}

static void name_bad(const char *s, const char *detail_part)
{
	enum berr rc = ref_name_check(s);

	if (rc == BERR_NAME_INVALID && (!detail_part || strstr(berr_detail(), detail_part))) {
		unit_pass++;
	} else {
		unit_fail++;
		fprintf(stderr, "FAIL name \"%s\": rc %d detail \"%s\", want \"%s\"\n",
			s, rc, berr_detail(), detail_part ? detail_part : "");
	}
}

static void test_names(void)
{
	char buf[300];

	name_ok("a");
	name_ok("0");
	name_ok("library/alpine");
	name_ok("team/app/api");
	name_ok("a.b");
	name_ok("a_b");
	name_ok("a__b");
	name_ok("a-b");
	name_ok("a--b");
	name_ok("a---b");
	name_ok("a.b-c_d__e/f0/9");
	name_ok("registry.example.com/x");

	name_bad("", "empty");
	name_bad("a..b", "'.' may not repeat");
	name_bad("a___b", "at most two '_'");
	name_bad("a._b", "followed by a letter or digit");
	name_bad("../x", "must start with a letter or digit");
	name_bad("x/../y", "must start with a letter or digit");
	name_bad("a/", "must not end with '/'");
	name_bad("/a", "empty path component");
	name_bad("a//b", "empty path component");
	name_bad("A", "upper case");
	name_bad("library/Alpine", "upper case");
	name_bad("aB", "upper case");
	name_bad("a%2fb", "character '%' is not allowed");
	name_bad("a b", "0x20");
	name_bad("a\\b", "0x5c");
	name_bad("a-", "followed by a letter or digit");
	name_bad("a.", "followed by a letter or digit");
	name_bad("-a", "must start");
	name_bad(".a", "must start");
	name_bad("_a", "must start");
	name_bad("a:b", "':'");
	name_bad("caf\xc3\xa9", "0xc3");
	CHECK_INT(ref_name_check(NULL), BERR_NAME_INVALID);

	/* An embedded NUL is a bad byte, not the end of the name. */
	CHECK_INT(ref_name_check_n("ab\0cd", 5), BERR_NAME_INVALID);
	CHECK(strstr(berr_detail(), "0x00") != NULL);
	CHECK_INT(ref_name_check_n("ab\0", 3), BERR_NAME_INVALID);
	CHECK_INT(ref_name_check_n("abcd", 2), BERR_OK);
	CHECK_INT(ref_name_check_n("ab", 0), BERR_NAME_INVALID);

	/* Length: 255 bytes is the limit, 256 is one too many. */
	memset(buf, 'a', sizeof(buf));
	buf[255] = '\0';
	name_ok(buf);
	buf[127] = '/';
	name_ok(buf);
	buf[255] = 'a';
	buf[256] = '\0';
	name_bad(buf, "256 bytes");
	buf[299] = '\0';
	CHECK_INT(ref_name_check_n(buf, 299), BERR_NAME_INVALID);
}

static void test_tags(void)
{
	char buf[200];

	CHECK_INT(ref_tag_check("latest"), BERR_OK);
	CHECK_INT(ref_tag_check("v1.2.3-rc.1_build"), BERR_OK);
	CHECK_INT(ref_tag_check("_x"), BERR_OK);
	CHECK_INT(ref_tag_check("A"), BERR_OK);
	CHECK_INT(ref_tag_check("9"), BERR_OK);
	CHECK_INT(ref_tag_check("1.0--.."), BERR_OK);

	CHECK_INT(ref_tag_check(""), BERR_MANIFEST_INVALID);
	CHECK_INT(ref_tag_check(NULL), BERR_MANIFEST_INVALID);
	CHECK_INT(ref_tag_check(".hidden"), BERR_MANIFEST_INVALID);
	CHECK_INT(ref_tag_check("-x"), BERR_MANIFEST_INVALID);
	CHECK_INT(ref_tag_check("a/b"), BERR_MANIFEST_INVALID);
	CHECK(strstr(berr_detail(), "'/'") != NULL);
	CHECK_INT(ref_tag_check("a:b"), BERR_MANIFEST_INVALID);
	CHECK_INT(ref_tag_check("a b"), BERR_MANIFEST_INVALID);
	CHECK_INT(ref_tag_check("sha256:abc"), BERR_MANIFEST_INVALID);
	CHECK_INT(ref_tag_check("a+b"), BERR_MANIFEST_INVALID);
	CHECK_INT(ref_tag_check_n("ab\0c", 4), BERR_MANIFEST_INVALID);

	memset(buf, 'x', sizeof(buf));
	buf[128] = '\0';
	CHECK_INT(ref_tag_check(buf), BERR_OK);
	buf[128] = 'x';
	buf[129] = '\0';
	CHECK_INT(ref_tag_check(buf), BERR_MANIFEST_INVALID);
	CHECK(strstr(berr_detail(), "129 bytes") != NULL);
	buf[199] = '\0';
	CHECK_INT(ref_tag_check(buf), BERR_MANIFEST_INVALID);
}

static void test_upload_ids(void)
{
	char id[REF_UPLOAD_ID_LEN + 1], id2[REF_UPLOAD_ID_LEN + 1];
	int i, ok = 1;

	CHECK_INT(ref_upload_id_check("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"), BERR_OK);
	CHECK_INT(ref_upload_id_check(NULL), BERR_BLOB_UPLOAD_UNKNOWN);
	CHECK_INT(ref_upload_id_check(""), BERR_BLOB_UPLOAD_UNKNOWN);
	CHECK_INT(ref_upload_id_check("0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9"), BERR_BLOB_UPLOAD_UNKNOWN);
	CHECK_INT(ref_upload_id_check("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f"), BERR_BLOB_UPLOAD_UNKNOWN);
	CHECK_INT(ref_upload_id_check("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f99"), BERR_BLOB_UPLOAD_UNKNOWN);
	CHECK_INT(ref_upload_id_check("0f1e2d3c4b5a-4978-8695-a4b3c2d1e0f9-"), BERR_BLOB_UPLOAD_UNKNOWN);
	CHECK_INT(ref_upload_id_check("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0g9"), BERR_BLOB_UPLOAD_UNKNOWN);
	CHECK_INT(ref_upload_id_check("../../../../../../../../etc/passwd.."), BERR_BLOB_UPLOAD_UNKNOWN);

	for (i = 0; i < 200; i++) {
		CHECK_INT(ref_upload_id_new(id), BERR_OK);
		if (ref_upload_id_check(id) != BERR_OK || strlen(id) != REF_UPLOAD_ID_LEN ||
		    id[14] != '4' || !strchr("89ab", id[19]))
			ok = 0;
	}
	CHECK(ok);
	CHECK_INT(ref_upload_id_new(id2), BERR_OK);
	CHECK(strcmp(id, id2) != 0);
}

/* The predicates agree with the checks and leave no detail behind. */
static void test_quiet(void)
{
	berr_set(BERR_BLOB_UNKNOWN, "the caller's own detail");
	CHECK_INT(ref_name_valid("team/app"), 1);
	CHECK_INT(ref_name_valid("team//app"), 0);
	CHECK_INT(ref_name_valid("Team"), 0);
	CHECK_INT(ref_name_valid(NULL), 0);
	CHECK_INT(ref_tag_valid("v1.0"), 1);
	CHECK_INT(ref_tag_valid(".hidden"), 0);
	CHECK_INT(ref_tag_valid("sha256:abc"), 0);
	CHECK_INT(ref_upload_id_valid("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"), 1);
	CHECK_INT(ref_upload_id_valid("_uploads"), 0);
	CHECK_STR(berr_detail_for(BERR_BLOB_UNKNOWN), "the caller's own detail");
}

int main(void)
{
	test_names();
	test_tags();
	test_upload_ids();
	test_quiet();
	return unit_done();
}
