/*
 * test_h_dispatch.c - the handlers in-process: requests go through
 * req_init() and dispatch() as a worker serves them (fcgi/worker.c), over
 * the test transport (req_fixture.h), with auth = none and a store in a
 * temporary directory.  What a client would see: statuses, error codes,
 * the headers of an answer and of an error answer (none of the success's
 * on a 404, the session's on a 416), a blob pushed monolithically and in
 * chunks, a manifest pushed and pulled, a reference that can be no tag,
 * an over-long Content-Range, a mount that falls back to a session.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fcgi/handlers.h"
#include "oci/digest.h"
#include "tests/unit/req_fixture.h"
#include "tests/unit/unit.h"
#include "util/config.h"

static struct config cfg;
static struct store st;
static char tmp[] = "/tmp/berth-test-dispatch.XXXXXX";

/* One request, served as worker.c serves it; returns the status.  `extra`:
 * more FastCGI parameters ("HTTP_CONTENT_RANGE=0-4"), NULL-terminated. */
static int serve(const char *method, const char *uri, const char *body, char *const *extra)
{
	char m[32], u[1024], cl[40], *env[16];
	size_t n = 0, len = body ? strlen(body) : 0;
	struct req r;
	enum berr err;

	snprintf(m, sizeof(m), "REQUEST_METHOD=%s", method);
	snprintf(u, sizeof(u), "REQUEST_URI=%s", uri);
	snprintf(cl, sizeof(cl), "CONTENT_LENGTH=%zu", len);
	env[n++] = m;
	env[n++] = u;
	env[n++] = "HTTP_HOST=reg";
	if (body)
		env[n++] = cl;
	for (; extra && *extra && n < 15; extra++)
		env[n++] = *extra;
	env[n] = NULL;
	err = req_init(&r, fake_io(env, body, len), &cfg, &st);
	if (err)
		resp_error(&r, err);
	else
		dispatch(&r);
	if (!r.sent)
		resp_error(&r, berr_set(BERR_INTERNAL, "no answer was produced"));
	req_release(&r);
	return out_status();
}

/* The error code of the captured answer's body. */
static int has_code(const char *code)
{
	char want[64];

	snprintf(want, sizeof(want), "{\"errors\":[{\"code\":\"%s\"", code);
	return strncmp(out_body(), want, strlen(want)) == 0;
}

static void digest_of(const char *s, char *out)
{
	struct digest d;

	digest_buf(DIGEST_SHA256, s, strlen(s), &d);
	digest_format(&d, out);
}

/* Push `blob` to `repo` in one POST; returns its digest in ds. */
static void push_blob(const char *repo, const char *blob, char *ds)
{
	char uri[512];

	digest_of(blob, ds);
	snprintf(uri, sizeof(uri), "/v2/%s/blobs/uploads/?digest=%s", repo, ds);
	CHECK_INT(serve("POST", uri, blob, NULL), 201);
}

static void test_base(void)
{
	char *bad_length[] = { "CONTENT_LENGTH=12x", NULL };

	CHECK_INT(serve("GET", "/v2/", NULL, NULL), 200);
	CHECK_STR(out_body(), "{}");
	CHECK_STR(out_header("Content-Type"), "application/json");
	CHECK_STR(out_header("Docker-Distribution-API-Version"), "registry/2.0");
	CHECK_INT(serve("HEAD", "/v2/", NULL, NULL), 200);
	CHECK_STR(out_body(), "");
	CHECK_INT(serve("DELETE", "/v2/", NULL, NULL), 405);
	CHECK(has_code("UNSUPPORTED"));
	CHECK_STR(out_header("Allow"), "GET, HEAD");
	CHECK_INT(serve("GET", "/nothing/here", NULL, NULL), 404);
	CHECK_INT(serve("GET", "/v2/", NULL, bad_length), 400);
	CHECK(has_code("SIZE_INVALID"));
	CHECK_INT(serve("GET", "/v2/Bad/Name/tags/list", NULL, NULL), 400);
	CHECK(has_code("NAME_INVALID"));
	CHECK_INT(serve("GET", "/v2/t/app/tags/list?n=abc", NULL, NULL), 400);
	CHECK(has_code("PAGINATION_NUMBER_INVALID"));
}

/* POST, PATCH (and a refused one), PUT. */
static void test_chunked(void)
{
	char ds[DIGEST_STR_MAX], uuid[64], uri[512];
	char *range0[] = { "HTTP_CONTENT_RANGE=0-4", NULL };
	char *huge[] = { "HTTP_CONTENT_RANGE=5-9223372036854775807", NULL };
	char *gap[] = { "HTTP_CONTENT_RANGE=7-7", NULL };

	CHECK_INT(serve("POST", "/v2/t/app/blobs/uploads/", NULL, NULL), 202);
	CHECK(out_header("Docker-Upload-UUID") != NULL);
	snprintf(uuid, sizeof(uuid), "%s", out_header("Docker-Upload-UUID") ? out_header("Docker-Upload-UUID") : "");
	CHECK_STR(out_header("Range"), "0-0");
	snprintf(uri, sizeof(uri), "/v2/t/app/blobs/uploads/%s", uuid);
	CHECK_INT(serve("PATCH", uri, "hello", range0), 202);
	CHECK_STR(out_header("Range"), "0-4");
	/* an end whose length overflows: 416 with where the session stands */
	CHECK_INT(serve("PATCH", uri, "x", huge), 416);
	CHECK(has_code("BLOB_UPLOAD_INVALID"));
	CHECK_STR(out_header("Range"), "0-4");
	CHECK(out_header("Location") && strstr(out_header("Location"), uuid));
	CHECK_INT(serve("PATCH", uri, "x", gap), 416);
	CHECK_STR(out_header("Range"), "0-4");
	CHECK_INT(serve("PATCH", uri, " world", NULL), 202);
	CHECK_STR(out_header("Range"), "0-10");
	digest_of("hello world", ds);
	snprintf(uri, sizeof(uri), "/v2/t/app/blobs/uploads/%s?digest=%s", uuid, ds);
	CHECK_INT(serve("PUT", uri, NULL, NULL), 201);
	CHECK_STR(out_header("Docker-Content-Digest"), ds);
	snprintf(uri, sizeof(uri), "/v2/t/app/blobs/%s", ds);
	CHECK_INT(serve("HEAD", uri, NULL, NULL), 200);
	CHECK_STR(out_header("Content-Length"), "11");
	CHECK_INT(serve("GET", uri, NULL, NULL), 200);
	CHECK(out_header("X-Accel-Redirect") != NULL);
}

/* A mount that cannot be done falls back to a session, quietly; one that
 * can is a 201. */
static void test_mount(void)
{
	char ds[DIGEST_STR_MAX], uri[512];

	push_blob("t/app", "mounted bytes", ds);
	snprintf(uri, sizeof(uri), "/v2/t/other/blobs/uploads/?mount=%s&from=no/such", ds);
	CHECK_INT(serve("POST", uri, NULL, NULL), 202);
	CHECK(out_header("Docker-Content-Digest") == NULL);
	CHECK(out_header("Docker-Upload-UUID") != NULL);
	CHECK_STR(berr_detail(), ""); /* the request's context was left: nothing leaked out */
	snprintf(uri, sizeof(uri), "/v2/t/other/blobs/uploads/?mount=%s&from=t/app", ds);
	CHECK_INT(serve("POST", uri, NULL, NULL), 201);
	CHECK_STR(out_header("Docker-Content-Digest"), ds);
}

static void test_manifest(void)
{
	char dc[DIGEST_STR_MAX], dl[DIGEST_STR_MAX], dm[DIGEST_STR_MAX], doc[1024], path[PATH_MAX];
	char rel[DIGEST_STR_MAX + 16];
	char *ct[] = { "CONTENT_TYPE=application/vnd.oci.image.manifest.v1+json", NULL };
	char *accept[] = { "HTTP_ACCEPT=application/vnd.oci.image.manifest.v1+json", NULL };
	struct digest d;

	push_blob("t/app", "{\"architecture\":\"amd64\",\"os\":\"linux\"}", dc);
	push_blob("t/app", "layer bytes", dl);
	snprintf(doc, sizeof(doc),
		 "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		 "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
		 "\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":"
		 "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":%zu}]}",
		 dc, strlen("{\"architecture\":\"amd64\",\"os\":\"linux\"}"), dl, strlen("layer bytes"));
	digest_of(doc, dm);
	CHECK_INT(serve("PUT", "/v2/t/app/manifests/v1", doc, ct), 201);
	CHECK_STR(out_header("Docker-Content-Digest"), dm);
	CHECK_INT(serve("GET", "/v2/t/app/manifests/v1", NULL, accept), 200);
	CHECK_STR(out_body(), doc);
	CHECK(out_header("ETag") != NULL);

	/* a reference that can be no tag: 404 to read, 400 to write */
	CHECK_INT(serve("GET", "/v2/t/app/manifests/.INVALID_MANIFEST_NAME", NULL, NULL), 404);
	CHECK(has_code("MANIFEST_UNKNOWN"));
	CHECK_INT(serve("HEAD", "/v2/t/app/manifests/-dash", NULL, NULL), 404);
	CHECK_INT(serve("PUT", "/v2/t/app/manifests/.INVALID_MANIFEST_NAME", doc, ct), 400);
	CHECK(has_code("MANIFEST_INVALID"));
	CHECK_INT(serve("DELETE", "/v2/t/app/manifests/.INVALID_MANIFEST_NAME", NULL, NULL), 400);
	CHECK(has_code("MANIFEST_INVALID"));
	CHECK_INT(serve("GET", "/v2/t/app/manifests/md5:abc", NULL, NULL), 400);
	CHECK(has_code("DIGEST_INVALID"));

	/* its bytes gone after the link was found: the 404 carries none of
	 * the headers of the answer it replaced */
	CHECK_INT(digest_parse(&d, dm), BERR_OK);
	store_blob_relpath(&d, rel, sizeof(rel));
	snprintf(path, sizeof(path), "%s/blobs/%s", st.root, rel);
	CHECK_INT(unlink(path), 0);
	CHECK_INT(serve("GET", "/v2/t/app/manifests/v1", NULL, accept), 404);
	CHECK(has_code("MANIFEST_UNKNOWN"));
	CHECK(out_header("ETag") == NULL);
	CHECK(out_header("Docker-Content-Digest") == NULL);
	CHECK_INT(serve("HEAD", "/v2/t/app/manifests/v1", NULL, accept), 404);
	CHECK(out_header("ETag") == NULL);
	CHECK(out_header("Docker-Content-Digest") == NULL);
}

static void test_catalog(void)
{
	CHECK_INT(serve("GET", "/v2/_catalog", NULL, NULL), 200);
	CHECK(strstr(out_body(), "\"t/app\"") != NULL);
	CHECK_INT(serve("GET", "/v2/_catalog?n=1", NULL, NULL), 200);
	CHECK(out_header("Link") != NULL);
	CHECK_INT(serve("GET", "/v2/t/app/tags/list", NULL, NULL), 200);
	CHECK_STR(out_body(), "{\"name\":\"t/app\",\"tags\":[\"v1\"]}");
}

int main(void)
{
	char conf[PATH_MAX], root[PATH_MAX], cmd[PATH_MAX + 16];
	FILE *f;

	if (!mkdtemp(tmp))
		return 2;
	snprintf(conf, sizeof(conf), "%s/berth.conf", tmp);
	snprintf(root, sizeof(root), "%s/store", tmp);
	if (!(f = fopen(conf, "we")))
		return 2;
	fprintf(f, "store = %s\n", root);
	fclose(f);
	if (config_load(&cfg, conf) || store_open(&st, root)) {
		fprintf(stderr, "setup: %s\n", berr_detail());
		return 2;
	}
	test_base();
	test_chunked();
	test_mount();
	test_manifest();
	test_catalog();
	store_close(&st);
	config_release(&cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp);
	return unit_done();
}
