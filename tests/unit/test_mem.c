/*
 * test_mem.c - mem_grow() doubles, refuses overflow and leaves the array
 * alone when it fails; mem_strcpy() never writes past its buffer.  Also the
 * error contexts of util/err.c: a detail belongs to the context it was
 * recorded in, and berr_detail_for() shows only the detail of its code.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"
#include "tests/unit/unit.h"

static void grow(void)
{
	int *v = NULL;
	size_t cap = 0, i;

	CHECK(mem_grow(&v, &cap, 1, sizeof(*v), 8, "ints") == BERR_OK);
	CHECK_INT((int)cap, 8);
	for (i = 0; i < 1000; i++) {
		if (mem_grow(&v, &cap, i + 1, sizeof(*v), 8, "ints") != BERR_OK)
			break;
		v[i] = (int)i;
	}
	CHECK_INT((int)cap, 1024);
	CHECK_INT(v[999], 999);
	CHECK(mem_grow(&v, &cap, SIZE_MAX / 2, sizeof(*v), 8, "ints") == BERR_INTERNAL);
	CHECK(strstr(berr_detail(), "ints") != NULL);
	CHECK_INT((int)cap, 1024); /* untouched on failure */
	CHECK_INT(v[999], 999);
	CHECK(mem_grow(&v, &cap, SIZE_MAX, 1, 8, "bytes") == BERR_INTERNAL);
	free(v);
}

static void copy(void)
{
	char buf[4];

	CHECK_INT(mem_strcpy(buf, sizeof(buf), "abc"), 0);
	CHECK_STR(buf, "abc");
	CHECK_INT(mem_strcpy(buf, sizeof(buf), "abcd"), -1);
	CHECK_STR(buf, "abc");
	CHECK_INT(mem_strcpy(buf, sizeof(buf), ""), 0);
	CHECK_STR(buf, "");
	CHECK_INT(mem_strcpy(buf, 0, "x"), -1);
}

static void contexts(void)
{
	struct berr_ctx req, quiet;

	berr_enter(&req);
	CHECK(berr_detail_for(BERR_BLOB_UNKNOWN) == NULL);
	berr_set(BERR_BLOB_UNKNOWN, "blob %s", "sha256:aa");
	CHECK_STR(berr_detail_for(BERR_BLOB_UNKNOWN), "blob sha256:aa");
	CHECK(berr_detail_for(BERR_NAME_UNKNOWN) == NULL); /* not the code handed */

	/* a probe in its own context leaves the request's detail alone */
	berr_enter(&quiet);
	berr_set(BERR_DIGEST_INVALID, "probe");
	CHECK_STR(berr_detail(), "probe");
	berr_leave(&quiet);
	CHECK_STR(berr_detail_for(BERR_BLOB_UNKNOWN), "blob sha256:aa");

	/* ... unless it is passed on */
	berr_enter(&quiet);
	CHECK(berr_pass(&quiet, berr_set(BERR_DENIED, "locked")) == BERR_DENIED);
	CHECK_STR(berr_detail_for(BERR_DENIED), "locked");
	/* a detail may quote the one before it */
	berr_set(BERR_DENIED, "outer: %s", berr_detail());
	CHECK_STR(berr_detail(), "outer: locked");
	berr_leave(&req);
	CHECK(berr_detail_for(BERR_DENIED) == NULL); /* the base context */
}

int main(void)
{
	grow();
	copy();
	contexts();
	return unit_done();
}
