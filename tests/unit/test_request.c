/*
 * test_request.c - fcgi/request.c and fcgi/errors.c in-process, through the
 * transport seam (struct req_io): an environment array, a body the test
 * hands out (from memory, a pipe or a socket) and an answer captured in
 * memory.  Covers parsing (method, path, query, Content-Length, base URL),
 * parameters, query and form values, body reads with their deadlines, the
 * collected headers (never glued, rolled back, kept or dropped by an error
 * answer), the answer's head and the error answer's detail, which belongs
 * to the request and to the code answered.
 */
#include <ctype.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "fcgi/request.h"
#include "tests/unit/req_fixture.h"
#include "tests/unit/unit.h"
#include "util/config.h"

static struct config cfg;

/* A request over `env` with `body` (NULL: none). */
static enum berr start(struct req *r, char **env, const char *body)
{
	return req_init(r, fake_io(env, body, body ? strlen(body) : 0), &cfg, NULL);
}

/* Every line of the head is "Name: value" (the first one "Status: …") with
 * a name of letters, digits and '-'. */
static int head_well_formed(void)
{
	const char *end = strstr(fk.out, "\r\n\r\n"), *p = fk.out;

	if (!end)
		return 0;
	while (p < end) {
		const char *eol = strstr(p, "\r\n"), *colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon || colon == p || colon[1] != ' ')
			return 0;
		for (const char *c = p; c < colon; c++)
			if (!(isalnum((unsigned char)*c) || *c == '-'))
				return 0;
		p = eol + 2;
	}
	return 1;
}

static void test_init(void)
{
	char *env[] = { "REQUEST_METHOD=HEAD", "REQUEST_URI=/v2/a/b/tags/list?n=2&last=x",
			"CONTENT_LENGTH=12", "HTTP_HOST=reg.example:5443", "HTTPS=on", NULL };
	char *bare[] = { NULL };
	char *scheme[] = { "REQUEST_SCHEME=http", "SERVER_NAME=srv", "REQUEST_URI=", NULL };
	char *inject[] = { "HTTP_HOST=evil\r\nX: y", NULL };
	struct req r;

	CHECK_INT(start(&r, env, NULL), BERR_OK);
	CHECK_STR(r.method, "HEAD");
	CHECK_INT(r.head, 1);
	CHECK_STR(r.path, "/v2/a/b/tags/list");
	CHECK_STR(r.query, "n=2&last=x");
	CHECK_INT(r.content_length, 12);
	CHECK_STR(r.base, "https://reg.example:5443");
	req_release(&r);
	CHECK(r.path == NULL && r.query == NULL);

	CHECK_INT(start(&r, bare, NULL), BERR_OK);
	CHECK_STR(r.method, "GET");
	CHECK_INT(r.head, 0);
	CHECK_STR(r.path, "/");
	CHECK_STR(r.query, "");
	CHECK_INT(r.content_length, -1);
	CHECK_STR(r.base, "http://localhost");
	req_release(&r);

	CHECK_INT(start(&r, scheme, NULL), BERR_OK);
	CHECK_STR(r.base, "http://srv");
	CHECK_STR(r.path, "/");
	req_release(&r);

	CHECK_INT(start(&r, inject, NULL), BERR_OK);
	CHECK_STR(r.base, "http://localhost"); /* no header injection through Host */
	req_release(&r);
}

static void bad_length(const char *cl)
{
	char var[64];
	char *env[] = { var, NULL };
	struct req r;

	snprintf(var, sizeof(var), "CONTENT_LENGTH=%s", cl);
	CHECK_INT(start(&r, env, NULL), BERR_SIZE_INVALID);
	/* still good for an answer */
	resp_error(&r, BERR_SIZE_INVALID);
	CHECK(strncmp(fk.out, "Status: 400 Bad Request\r\n", 25) == 0);
	CHECK(strstr(out_body(), "invalid Content-Length") != NULL);
	req_release(&r);
}

static void test_content_length(void)
{
	char *zero[] = { "CONTENT_LENGTH=0", NULL }, *empty[] = { "CONTENT_LENGTH=", NULL };
	char *big[] = { "CONTENT_LENGTH=1099511627776", NULL };
	struct req r;

	CHECK_INT(start(&r, zero, NULL), BERR_OK);
	CHECK_INT(r.content_length, 0);
	req_release(&r);
	CHECK_INT(start(&r, empty, NULL), BERR_OK);
	CHECK_INT(r.content_length, -1);
	req_release(&r);
	CHECK_INT(start(&r, big, NULL), BERR_OK);
	CHECK_INT(r.content_length, 1099511627776LL);
	req_release(&r);
	bad_length("-1");
	bad_length("12a");
	bad_length(" 12");
	bad_length("+5");
	bad_length("9223372036854775808");
	bad_length("99999999999999999999");
}

static void test_params(void)
{
	char *env[] = { "HTTP_ACCEPT=a/b", "HTTP_ACCEPT_ENCODING=gzip", "HTTP_ACCEPT=c/d",
			"HTTP_ACCEPT", "HTTP_ACCEPT=e/f", "X=1=2", NULL };
	char out[64], small[8];
	struct req r;

	start(&r, env, NULL);
	CHECK_STR(req_param(&r, "HTTP_ACCEPT"), "a/b");
	CHECK_STR(req_param(&r, "HTTP_ACCEPT_ENCODING"), "gzip");
	CHECK_STR(req_param(&r, "X"), "1=2");
	CHECK(req_param(&r, "HTTP_ACC") == NULL);
	CHECK(req_param(&r, "NOPE") == NULL);
	CHECK_STR(req_param_all(&r, "HTTP_ACCEPT", out, sizeof(out)), "a/b, c/d, e/f");
	CHECK_STR(req_param_all(&r, "NOPE", out, sizeof(out)), "");
	/* what does not fit is left out whole */
	CHECK_STR(req_param_all(&r, "HTTP_ACCEPT", small, sizeof(small)), "a/b");
	req_release(&r);
}

static int collect(void *ctx, const char *value)
{
	char *acc = ctx;
	size_t n = strlen(acc);

	snprintf(acc + n, 128 - n, "[%s]", value);
	return strcmp(value, "stop") == 0;
}

static void test_query(void)
{
	char *env[] = { "REQUEST_URI=/v2/_catalog?n=10&last=a%2Fb&x=%41+B&empty=&flag&bad=%zz&nul=%00",
			NULL };
	char out[32], tiny[3], acc[128] = "";
	struct req r;

	start(&r, env, NULL);
	CHECK_INT(req_query(&r, "n", out, sizeof(out)), 1);
	CHECK_STR(out, "10");
	CHECK_INT(req_query(&r, "last", out, sizeof(out)), 1);
	CHECK_STR(out, "a/b");
	CHECK_INT(req_query(&r, "x", out, sizeof(out)), 1);
	CHECK_STR(out, "A B");
	CHECK_INT(req_query(&r, "empty", out, sizeof(out)), 1);
	CHECK_STR(out, "");
	CHECK_INT(req_query(&r, "flag", out, sizeof(out)), 1);
	CHECK_STR(out, "");
	CHECK_INT(req_query(&r, "bad", out, sizeof(out)), -1);
	CHECK_INT(req_query(&r, "nul", out, sizeof(out)), -1);
	CHECK_INT(req_query(&r, "missing", out, sizeof(out)), 0);
	CHECK_INT(req_query(&r, "las", out, sizeof(out)), 0);
	/* too long for out: -1 and out untouched (no prefix passes for it) */
	memcpy(tiny, "##", 3);
	CHECK_INT(req_query(&r, "last", tiny, sizeof(tiny)), -1);
	CHECK_STR(tiny, "##");
	req_release(&r);

	CHECK_INT(http_param_each("scope=a&x=1&scope=b+c&scope=stop&scope=d", "scope", collect, acc), 1);
	CHECK_STR(acc, "[a][b c][stop]");
	acc[0] = '\0';
	CHECK_INT(http_param_each("scope=a&scope=%4", "scope", collect, acc), -1);
	CHECK_STR(acc, "[a]");
	acc[0] = '\0';
	CHECK_INT(http_param_each("", "scope", collect, acc), 0);
	CHECK_INT(http_param_each(NULL, "scope", collect, acc), 0);
	CHECK_INT(http_param_get("grant_type=password&username=al%69ce", "username", out, sizeof(out)), 1);
	CHECK_STR(out, "alice");
	CHECK_INT(http_param_get("a=1", "b", out, sizeof(out)), 0);
}

static void test_read(void)
{
	char *env[] = { "CONTENT_LENGTH=11", NULL };
	char buf[8];
	struct req r;

	start(&r, env, "hello world");
	CHECK_INT(req_read(&r, buf, 5), 5);
	CHECK(memcmp(buf, "hello", 5) == 0);
	CHECK_INT(req_read(&r, buf, sizeof(buf)), 6);
	CHECK_INT(req_read(&r, buf, sizeof(buf)), 0);
	CHECK_INT(r.body_error, BERR_OK);
	req_release(&r);

	/* the stream breaks: -1, BLOB_UPLOAD_INVALID, no detail of its own */
	start(&r, env, "hel");
	fk.fail_errno = ECONNRESET;
	CHECK_INT(req_read(&r, buf, sizeof(buf)), -1);
	CHECK_INT(r.body_error, BERR_BLOB_UPLOAD_INVALID);
	CHECK(berr_detail_for(BERR_TOO_SLOW) == NULL);
	CHECK_INT(req_read(&r, buf, sizeof(buf)), -1); /* and stays broken */
	req_release(&r);

	/* nothing within read_timeout (the transport's EAGAIN) */
	cfg.read_timeout = 7;
	start(&r, env, "");
	fk.fail_errno = EAGAIN;
	CHECK_INT(req_read(&r, buf, sizeof(buf)), -1);
	CHECK_INT(r.body_error, BERR_TOO_SLOW);
	CHECK(berr_detail_for(BERR_TOO_SLOW) &&
	      strstr(berr_detail_for(BERR_TOO_SLOW), "no body bytes for 7 s (read_timeout)"));
	req_release(&r);
	cfg.read_timeout = 60;
}

static void test_read_all(void)
{
	char *cl5[] = { "CONTENT_LENGTH=5", NULL }, *cl99[] = { "CONTENT_LENGTH=99", NULL };
	char *chunked[] = { NULL };
	size_t big = 300 * 1024, len = 7;
	char *body = malloc(big + 1), *out = (char *)1;
	struct req r;

	for (size_t i = 0; i < big; i++)
		body[i] = (char)('a' + i % 26);
	body[big] = '\0';

	start(&r, cl5, "abcde");
	CHECK_INT(req_read_all(&r, 100, &out, &len), BERR_OK);
	CHECK_INT(len, 5);
	CHECK_STR(out, "abcde");
	free(out);
	req_release(&r);

	/* a chunked body of 300 KiB: the buffer grows, the bytes are exact */
	start(&r, chunked, body);
	CHECK_INT(req_read_all(&r, big, &out, &len), BERR_OK);
	CHECK_INT(len, big);
	CHECK(out && memcmp(out, body, big) == 0 && out[big] == '\0');
	free(out);
	req_release(&r);

	/* one byte over the limit, chunked: refused, and not read beyond it */
	start(&r, chunked, body);
	CHECK_INT(req_read_all(&r, big - 1, &out, &len), BERR_TOO_LARGE);
	CHECK(out == NULL && len == 0);
	CHECK_INT(fk.pos, big);
	req_release(&r);

	/* a Content-Length over the limit: refused before any read */
	start(&r, cl99, body);
	CHECK_INT(req_read_all(&r, 50, &out, &len), BERR_TOO_LARGE);
	CHECK_INT(fk.pos, 0);
	CHECK(strstr(berr_detail_for(BERR_TOO_LARGE), "99 bytes") != NULL);
	req_release(&r);

	/* an empty body */
	start(&r, chunked, "");
	CHECK_INT(req_read_all(&r, 10, &out, &len), BERR_OK);
	CHECK(out && len == 0 && out[0] == '\0');
	free(out);
	req_release(&r);

	/* broken early */
	start(&r, cl99, "abc");
	fk.fail_errno = EPIPE;
	CHECK_INT(req_read_all(&r, 1000, &out, &len), BERR_SIZE_INVALID);
	CHECK(out == NULL);
	req_release(&r);
	free(body);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The deadlines for real, without libfcgi: a pipe that stays silent
 * (upload_min_rate: the timer interrupts the read) and a socket that does
 * (read_timeout: SO_RCVTIMEO, set by req_init on io.fd). */
static void test_deadlines(void)
{
	char *env[] = { NULL };
	char buf[64];
	int p[2], sv[2];
	struct req r;
	double t0;

	if (pipe(p) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		CHECK(!"pipe or socketpair");
		return;
	}
	cfg.upload_min_rate = 1;
	cfg.upload_rate_window = 1;
	start(&r, env, NULL);
	fk.fd = p[0];
	t0 = now();
	CHECK_INT(req_read(&r, buf, sizeof(buf)), -1);
	CHECK(now() - t0 >= 0.9 && now() - t0 < 5);
	CHECK_INT(r.body_error, BERR_TOO_SLOW);
	CHECK(strstr(berr_detail_for(BERR_TOO_SLOW), "upload_min_rate") != NULL);
	req_release(&r);
	cfg.upload_min_rate = 0;

	cfg.read_timeout = 1;
	start(&r, env, NULL);
	io.fd = fk.fd = sv[0];
	req_release(&r);
	CHECK_INT(req_init(&r, &io, &cfg, NULL), BERR_OK); /* again, now with the fd */
	t0 = now();
	CHECK_INT(req_read(&r, buf, sizeof(buf)), -1);
	CHECK(now() - t0 >= 0.9 && now() - t0 < 5);
	CHECK_INT(r.body_error, BERR_TOO_SLOW);
	CHECK(strstr(berr_detail_for(BERR_TOO_SLOW), "read_timeout") != NULL);
	req_release(&r);
	cfg.read_timeout = 60;
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

static void test_send(void)
{
	char *get[] = { "HTTP_HOST=h:1", NULL }, *head[] = { "REQUEST_METHOD=HEAD", NULL };
	struct req r;

	start(&r, get, NULL);
	resp_location(&r, "/v2/%s/blobs/%s", "a/b", "x");
	resp_header(&r, "ETag", "\"%s\"", "sha256:1");
	resp_send(&r, 201, "text/plain", "body!", 5);
	CHECK_INT(r.sent, 1);
	CHECK(strncmp(fk.out, "Status: 201 Created\r\n", 21) == 0);
	CHECK_STR(out_header("Docker-Distribution-API-Version"), "registry/2.0");
	CHECK_STR(out_header("Content-Type"), "text/plain");
	CHECK_STR(out_header("Content-Length"), "5");
	CHECK_STR(out_header("Location"), "http://h:1/v2/a/b/blobs/x");
	CHECK_STR(out_header("ETag"), "\"sha256:1\"");
	CHECK_STR(out_body(), "body!");
	CHECK(head_well_formed());
	req_release(&r);

	start(&r, head, NULL);
	resp_send(&r, 200, "application/json", "{}", 2);
	CHECK_STR(out_header("Content-Length"), "2");
	CHECK_STR(out_body(), ""); /* HEAD: no body */
	req_release(&r);

	start(&r, get, NULL);
	resp_send_length(&r, 200, "application/octet-stream", -1);
	CHECK(out_header("Content-Length") == NULL);
	CHECK(strncmp(fk.out, "Status: 200 OK\r\n", 16) == 0);
	req_release(&r);

	start(&r, get, NULL);
	resp_send_length(&r, 200, NULL, 1234567890123LL);
	CHECK_STR(out_header("Content-Length"), "1234567890123");
	CHECK(out_header("Content-Type") == NULL);
	req_release(&r);
}

/* A header too long is dropped whole; the next one is whole too. */
static void test_header_too_long(void)
{
	char *env[] = { NULL };
	char big[5000];
	struct req r;
	size_t before;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	start(&r, env, NULL);
	resp_header(&r, "Location", "%s", big);
	CHECK_INT(r.hlen, 0);
	resp_header(&r, "Range", "0-%d", 1);
	resp_send(&r, 202, NULL, NULL, 0);
	CHECK(out_header("Location") == NULL);
	CHECK_STR(out_header("Range"), "0-1");
	CHECK(strstr(fk.out, "Location") == NULL);
	CHECK(head_well_formed());
	req_release(&r);

	/* fill the buffer almost up: a name that fits but a value that does
	 * not, then one that fits exactly */
	start(&r, env, NULL);
	big[sizeof(r.hdrs) - 40] = '\0';
	resp_header(&r, "X-Fill", "%s", big);
	before = r.hlen;
	CHECK(before > 0);
	resp_header(&r, "Location", "%s", "https://registry.example/v2/long/path/x");
	CHECK_INT(r.hlen, before);
	resp_header(&r, "Range", "0-1");
	CHECK_INT(r.hlen, before + strlen("Range: 0-1\r\n"));
	resp_header(&r, "Range", "0-123456789012345678"); /* no room: dropped whole */
	resp_send(&r, 202, NULL, NULL, 0);
	CHECK_STR(out_header("Range"), "0-1");
	CHECK(head_well_formed());
	req_release(&r);
	big[sizeof(r.hdrs) - 40] = 'x';
}

static void test_mark(void)
{
	char *env[] = { NULL };
	struct req r;
	size_t m;

	start(&r, env, NULL);
	resp_header(&r, "A", "1");
	m = resp_mark(&r);
	resp_header(&r, "WWW-Authenticate", "Bearer realm=\"x\"");
	resp_header(&r, "B", "2");
	resp_rollback(&r, m);
	resp_header(&r, "C", "3");
	resp_rollback(&r, r.hlen + 100); /* a mark from the future: no effect */
	resp_send(&r, 202, NULL, NULL, 0);
	CHECK_STR(out_header("A"), "1");
	CHECK(out_header("WWW-Authenticate") == NULL);
	CHECK(out_header("B") == NULL);
	CHECK_STR(out_header("C"), "3");
	req_release(&r);
}

/* An error answer: the detail recorded for its code, else none; only the
 * headers that code needs. */
static void error_with(enum berr code, const char *keep, const char *drop)
{
	char *env[] = { "REQUEST_URI=/v2/a/manifests/x", NULL };
	struct req r;

	start(&r, env, NULL);
	resp_header(&r, "ETag", "\"sha256:e\"");
	resp_header(&r, "Docker-Content-Digest", "sha256:e");
	resp_header(&r, "WWW-Authenticate", "Bearer realm=\"r\"");
	resp_header(&r, "Allow", "GET");
	resp_header(&r, "Retry-After", "5");
	resp_header(&r, "Range", "0-4");
	resp_header(&r, "Location", "/v2/a/blobs/uploads/u");
	resp_error(&r, code);
	CHECK(out_header("ETag") == NULL);
	CHECK(out_header("Docker-Content-Digest") == NULL);
	CHECK_STR(out_header("Docker-Distribution-API-Version"), "registry/2.0");
	CHECK_STR(out_header("Content-Type"), "application/json");
	if (keep)
		CHECK(out_header(keep) != NULL);
	if (drop)
		CHECK(out_header(drop) == NULL);
	CHECK(head_well_formed());
	req_release(&r);
}

static void test_error_headers(void)
{
	error_with(BERR_MANIFEST_UNKNOWN, NULL, "WWW-Authenticate");
	error_with(BERR_MANIFEST_UNKNOWN, NULL, "Location");
	error_with(BERR_UNAUTHORIZED, "WWW-Authenticate", "Allow");
	error_with(BERR_UNSUPPORTED, "Allow", "WWW-Authenticate");
	error_with(BERR_TOOMANYREQUESTS, "Retry-After", "Range");
	error_with(BERR_RANGE_INVALID, "Range", "Retry-After");
	error_with(BERR_RANGE_INVALID, "Location", "Allow");
	error_with(BERR_INTERNAL, NULL, "Retry-After");
}

static void test_error_detail(void)
{
	char *env[] = { "REQUEST_URI=/v2/a/manifests/x", NULL };
	struct req r;

	/* the request's context is its own: what happened before it stays
	 * outside, what it records is gone when it ends */
	berr_set(BERR_NAME_INVALID, "recorded before the request");
	start(&r, env, NULL);
	CHECK(berr_detail_for(BERR_NAME_INVALID) == NULL);
	CHECK_STR(berr_detail(), "");
	berr_set(BERR_MANIFEST_INVALID, "a probe that failed quietly");
	resp_error(&r, BERR_MANIFEST_UNKNOWN);
	CHECK(strncmp(fk.out, "Status: 404 Not Found\r\n", 23) == 0);
	CHECK_STR(out_body(), "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\","
		  "\"message\":\"manifest unknown to registry\",\"detail\":\"\"}]}");
	CHECK_STR(r.err.detail, "a probe that failed quietly");
	req_release(&r);
	CHECK_STR(berr_detail(), "recorded before the request");
	CHECK(berr_detail_for(BERR_NAME_INVALID) != NULL);

	start(&r, env, NULL);
	resp_error(&r, berr_set(BERR_MANIFEST_UNKNOWN, "a:b is not here"));
	CHECK(strstr(out_body(), "\"detail\":\"a:b is not here\"") != NULL);
	req_release(&r);

	/* internal: the detail is for the log */
	start(&r, env, NULL);
	resp_error(&r, berr_set(BERR_INTERNAL, "open /secret/path: EIO"));
	CHECK(strncmp(fk.out, "Status: 500 ", 12) == 0);
	CHECK(strstr(out_body(), "/secret/path") == NULL);
	CHECK(strstr(out_body(), "see the registry's log") != NULL);
	req_release(&r);

	/* a refusal's message is its detail (docker shows only the message) */
	start(&r, env, NULL);
	resp_error(&r, berr_set(BERR_UNAUTHORIZED, "token expired"));
	CHECK(strstr(out_body(), "\"message\":\"token expired\"") != NULL);
	req_release(&r);
	start(&r, env, NULL);
	resp_error(&r, BERR_UNAUTHORIZED);
	CHECK(strstr(out_body(), "\"message\":\"authentication required\"") != NULL);
	req_release(&r);
}

int main(void)
{
	cfg.read_timeout = 60;
	test_init();
	test_content_length();
	test_params();
	test_query();
	test_read();
	test_read_all();
	test_deadlines();
	test_send();
	test_header_too_long();
	test_mark();
	test_error_headers();
	test_error_detail();
	return unit_done();
}
