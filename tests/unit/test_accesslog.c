/*
 * test_accesslog.c - the access log's view of a request (fcgi/accesslog.h):
 * the status, body bytes sent and received are what crossed the transport,
 * whichever way the answer was written (resp_send, resp_error); an
 * X-Accel-Redirect answer is recognised; the line written is one JSON
 * object with the request id nginx passed.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "fcgi/accesslog.h"
#include "tests/unit/req_fixture.h"
#include "tests/unit/unit.h"
#include "util/config.h"
#include "util/fs.h"

static struct config cfg;

static const char *str(json_t *rec, const char *key)
{
	return json_string_value(json_object_get(rec, key));
}

static long long num(json_t *rec, const char *key)
{
	return json_integer_value(json_object_get(rec, key));
}

static void test_put_counted(void)
{
	char *env[] = { "REQUEST_METHOD=PUT", "REQUEST_URI=/v2/team/app/manifests/v1",
			"CONTENT_LENGTH=5", "REMOTE_ADDR=192.0.2.1",
			"BERTH_REQUEST_ID=0123456789abcdef0123456789abcdef", NULL };
	struct req_io tio = *fake_io(env, "hello", 5);
	struct accesslog al;
	struct req r;
	char *body = NULL;
	size_t len;
	json_t *rec;

	accesslog_begin(&al, &tio);
	CHECK_INT(req_init(&r, &tio, &cfg, NULL), BERR_OK);
	CHECK_INT(route_parse(r.path, &r.route), BERR_OK); /* what dispatch() does */
	CHECK_INT(req_read_all(&r, 1024, &body, &len), BERR_OK);
	resp_send(&r, 201, "text/plain", "ok", 2);
	rec = accesslog_record(&al, &r, 7);
	CHECK(rec != NULL);
	CHECK_INT(out_status(), 201); /* the client got the answer through the wrapper */
	CHECK_STR(out_body(), "ok");
	CHECK_INT(num(rec, "status"), 201);
	CHECK_INT(num(rec, "bytes_sent"), 2);
	CHECK_INT(num(rec, "bytes_received"), 5);
	CHECK_INT(num(rec, "duration_ms"), 7);
	CHECK_STR(str(rec, "method"), "PUT");
	CHECK_STR(str(rec, "route"), "manifest");
	CHECK_STR(str(rec, "repository"), "team/app");
	CHECK_STR(str(rec, "reference"), "v1");
	CHECK_STR(str(rec, "remote_addr"), "192.0.2.1");
	CHECK_STR(str(rec, "request_id"), "0123456789abcdef0123456789abcdef");
	CHECK(json_object_get(rec, "user") == NULL); /* no token: no user */
	CHECK(str(rec, "time") && strlen(str(rec, "time")) == 24);
	json_decref(rec);
	free(body);
	req_release(&r);
}

static void test_error_counted(void)
{
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/v2/a/b/c/nothing-here", NULL };
	struct req_io tio = *fake_io(env, NULL, 0);
	struct accesslog al;
	struct req r;
	json_t *rec;

	accesslog_begin(&al, &tio);
	CHECK_INT(req_init(&r, &tio, &cfg, NULL), BERR_OK);
	resp_error(&r, berr_set(BERR_NAME_UNKNOWN, "no such repository"));
	rec = accesslog_record(&al, &r, 0);
	CHECK_INT(num(rec, "status"), 404);
	CHECK_INT(num(rec, "bytes_sent"), (long long)strlen(out_body()));
	CHECK(num(rec, "bytes_sent") > 0);
	CHECK_INT(num(rec, "bytes_received"), 0);
	CHECK(json_object_get(rec, "request_id") == NULL); /* nginx sent none */
	json_decref(rec);
	req_release(&r);
}

/* One line per request in access_log, JSON, in order. */
static void test_lines_written(const char *dir)
{
	char path[512], buf[4096];
	char *env[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/v2/", "BERTH_REQUEST_ID=r1", NULL };
	struct accesslog al;
	struct req r;
	ssize_t n;
	int fd, lines = 0;

	snprintf(path, sizeof(path), "%s/log/access.log", dir);
	cfg.access_log = path;
	for (int i = 0; i < 2; i++) {
		struct req_io tio = *fake_io(env, NULL, 0);

		accesslog_begin(&al, &tio);
		CHECK_INT(req_init(&r, &tio, &cfg, NULL), BERR_OK);
		resp_send(&r, 200, "application/json", "{}", 2);
		accesslog_end(&al, &r);
		req_release(&r);
	}
	cfg.access_log = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	for (char *p = buf, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
		json_t *rec = json_loadb(p, (size_t)(nl - p), 0, NULL);

		CHECK(rec != NULL);
		CHECK_STR(rec ? str(rec, "request_id") : NULL, "r1");
		CHECK_INT(rec ? num(rec, "status") : 0, 200);
		json_decref(rec);
		lines++;
	}
	CHECK_INT(lines, 2);
}

int main(void)
{
	char dir[64];

	cfg.read_timeout = 60;
	cfg.max_manifest = 4096;
	snprintf(dir, sizeof(dir), "/tmp/berth-test-accesslog.%d", (int)getpid());
	if (mkdir(dir, 0700) < 0) {
		perror(dir);
		return 1;
	}
	test_put_counted();
	test_error_counted();
	test_lines_written(dir);
	fs_remove_tree(dir);
	return unit_done();
}
