/*
 * test_router.c - routing of raw request paths (fcgi/router.c).
 */
#include "fcgi/router.h"
#include "tests/unit/unit.h"

static void expect(const char *path, enum berr err, enum route_kind kind,
		   const char *name, const char *ref)
{
	struct route rt;
	enum berr got = route_parse(path, &rt);

	CHECK_INT(got, err);
	if (err)
		return;
	CHECK_INT(rt.kind, kind);
	if (name)
		CHECK_STR(rt.name, name);
	if (ref)
		CHECK_STR(rt.ref, ref);
}

int main(void)
{
	const char *d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	char path[600];

	expect("/v2/", BERR_OK, ROUTE_BASE, NULL, NULL);
	expect("/v2", BERR_OK, ROUTE_BASE, NULL, NULL);
	expect("/token", BERR_OK, ROUTE_TOKEN, NULL, NULL);
	expect("/v2/_catalog", BERR_OK, ROUTE_CATALOG, NULL, NULL);
	expect("/v2/team/app/api/manifests/latest", BERR_OK, ROUTE_MANIFEST, "team/app/api", "latest");
	snprintf(path, sizeof(path), "/v2/a/blobs/%s", d);
	expect(path, BERR_OK, ROUTE_BLOB, "a", d);
	expect("/v2/a/blobs/uploads/", BERR_OK, ROUTE_UPLOAD_START, "a", NULL);
	expect("/v2/a/blobs/uploads", BERR_OK, ROUTE_UPLOAD_START, "a", NULL);
	expect("/v2/a/b/blobs/uploads/0b9e0b7e-4d3c-4a5b-9c1d-2e3f4a5b6c7d", BERR_OK,
	       ROUTE_UPLOAD, "a/b", "0b9e0b7e-4d3c-4a5b-9c1d-2e3f4a5b6c7d");
	expect("/v2/a/tags/list", BERR_OK, ROUTE_TAGS, "a", NULL);
	snprintf(path, sizeof(path), "/v2/a/referrers/%s", d);
	expect(path, BERR_OK, ROUTE_REFERRERS, "a", d);
	/* names may contain the endpoint words: the endpoint is read from the right */
	expect("/v2/a/blobs/manifests/latest", BERR_OK, ROUTE_MANIFEST, "a/blobs", "latest");
	expect("/v2/manifests/manifests/v1", BERR_OK, ROUTE_MANIFEST, "manifests", "v1");
	expect("/v2/x/tags/manifests/list", BERR_OK, ROUTE_MANIFEST, "x/tags", "list");
	/* bad names never get further */
	expect("/v2/../etc/manifests/latest", BERR_NAME_INVALID, 0, NULL, NULL);
	expect("/v2/a%2Fb/manifests/latest", BERR_NAME_INVALID, 0, NULL, NULL);
	expect("/v2/a%00/manifests/latest", BERR_NAME_INVALID, 0, NULL, NULL);
	expect("/v2/Upper/manifests/latest", BERR_NAME_INVALID, 0, NULL, NULL);
	expect("/v2//manifests/latest", BERR_OK, ROUTE_NONE, NULL, NULL);
	expect("/v2/a//b/manifests/latest", BERR_NAME_INVALID, 0, NULL, NULL);
	/* not an endpoint */
	expect("/v2/a", BERR_OK, ROUTE_NONE, NULL, NULL);
	expect("/v2/a/manifests/", BERR_OK, ROUTE_NONE, NULL, NULL);
	expect("/other", BERR_OK, ROUTE_NONE, NULL, NULL);
	/* over-long references */
	memset(path, 'a', sizeof(path));
	memcpy(path, "/v2/a/manifests/", 16);
	path[sizeof(path) - 1] = '\0';
	expect(path, BERR_MANIFEST_INVALID, 0, NULL, NULL);
	return unit_done();
}
