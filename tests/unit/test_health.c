/*
 * test_health.c - what /healthz and /readyz answer, and the probes under
 * them: the store's (a writable tmp/, the free-space floor), the signer's
 * (a real signer, one that is gone, one that never answers) and the
 * directory's (a stand-in that answers as the directory process would).
 * The handlers run in-process through dispatch() as in test_h_dispatch.c.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth/health.h"
#include "auth/signer.h"
#include "fcgi/handlers.h"
#include "store/health.h"
#include "tests/unit/req_fixture.h"
#include "tests/unit/unit.h"
#include "util/config.h"

static struct config cfg;
static struct store st;
static char tmp[] = "/tmp/berth-test-health.XXXXXX";
static char root[256], sock[256], key[256];

static int serve(const char *method, const char *uri)
{
	char m[32], u[256], *env[4];
	struct req r;
	enum berr err;

	snprintf(m, sizeof(m), "REQUEST_METHOD=%s", method);
	snprintf(u, sizeof(u), "REQUEST_URI=%s", uri);
	env[0] = m;
	env[1] = u;
	env[2] = "HTTP_HOST=reg";
	env[3] = NULL;
	err = req_init(&r, fake_io(env, NULL, 0), &cfg, &st);
	if (err)
		resp_error(&r, err);
	else
		dispatch(&r);
	req_release(&r);
	return out_status();
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The detail a probe recorded, read in a context of our own. */
static enum berr probe(enum berr (*fn)(void *), void *arg, char *detail, size_t len)
{
	struct berr_ctx ctx;
	enum berr rc;

	berr_enter(&ctx);
	rc = fn(arg);
	berr_leave(&ctx);
	snprintf(detail, len, "%s", rc ? ctx.detail : "");
	return rc;
}

static enum berr store_fn(void *arg) { return store_probe_writable(arg); }
static enum berr signer_fn(void *arg) { return auth_probe_signer(arg, 300); }
static enum berr dir_fn(void *arg) { return auth_probe_directory(arg, 300); }

static int tmp_files(void)
{
	char cmd[PATH_MAX + 64];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s/tmp' | wc -l", root);
	if ((p = popen(cmd, "r"))) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

static void test_floor(void)
{
	CHECK(store_probe_floor(0) == 0);
	CHECK(store_probe_floor(16ull << 20) == (16ull << 20) / 100);       /* 1 % of a small disk */
	CHECK(store_probe_floor(100ull << 30) == STORE_PROBE_FREE_BYTES);  /* 64 MiB of a big one */
}

static void test_store_probe(void)
{
	char detail[BERR_DETAIL_MAX], tmpdir[PATH_MAX + 16], aside[PATH_MAX + 16];

	CHECK_INT(probe(store_fn, &st, detail, sizeof(detail)), BERR_OK);
	CHECK_INT(tmp_files(), 0);                  /* the probe file is gone */

	/* tmp/ is not a directory any more: not writable, no path shown */
	snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", root);
	snprintf(aside, sizeof(aside), "%s/tmp.aside", root);
	CHECK(rename(tmpdir, aside) == 0);
	CHECK(symlink("/nonexistent/berth", tmpdir) == 0);
	CHECK_INT(probe(store_fn, &st, detail, sizeof(detail)), BERR_INTERNAL);
	CHECK(strncmp(detail, "not writable (tmp/", 18) == 0);
	CHECK(strstr(detail, "No such file or directory") != NULL);
	CHECK(strstr(detail, root) == NULL);

	/* through the handler: 503, the cause in the body, one line per check */
	CHECK_INT(serve("GET", "/readyz"), 503);
	CHECK(strncmp(out_body(), "store: not writable (tmp/", 25) == 0);
	CHECK_STR(out_header("Content-Type"), "text/plain; charset=utf-8");
	CHECK_STR(out_header("Cache-Control"), "no-store");
	CHECK_INT(serve("GET", "/healthz"), 200);   /* healthz does not look */

	CHECK(unlink(tmpdir) == 0 && rename(aside, tmpdir) == 0);
	CHECK_INT(serve("GET", "/readyz"), 200);
	CHECK_STR(out_body(), "store: ok\n");
}

static void test_handlers(void)
{
	CHECK_INT(serve("GET", "/healthz"), 200);
	CHECK_STR(out_body(), "ok\n");
	CHECK_STR(out_header("Content-Type"), "text/plain; charset=utf-8");
	CHECK_STR(out_header("Cache-Control"), "no-store");
	CHECK_INT(serve("HEAD", "/healthz"), 200);
	CHECK_STR(out_body(), "");
	CHECK_STR(out_header("Content-Length"), "3");
	CHECK_INT(serve("POST", "/healthz"), 405);
	CHECK_STR(out_header("Allow"), "GET, HEAD");
	CHECK_INT(serve("DELETE", "/readyz"), 405);
	CHECK_STR(out_header("Allow"), "GET, HEAD");
	CHECK_INT(serve("GET", "/readyz"), 200);    /* auth = none: the store alone */
	CHECK_STR(out_body(), "store: ok\n");
	CHECK_INT(serve("HEAD", "/readyz"), 200);
	CHECK_STR(out_body(), "");
	CHECK_INT(serve("GET", "/healthz/x"), 404); /* exact paths only */
	CHECK_INT(serve("GET", "/readyz?verbose"), 200);
}

/* A listening socket nobody serves: connects succeed, answers never come. */
static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	memcpy(sa.sun_path, path, strlen(path));
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void test_signer_probe(void)
{
	char detail[BERR_DETAIL_MAX];
	double t0;
	pid_t pid = -1;
	int fd, status;

	CHECK_INT(probe(signer_fn, sock, detail, sizeof(detail)), BERR_INTERNAL);
	CHECK_STR(detail, "down (connect: No such file or directory)");

	CHECK(auth_signer_start(key, sock, &pid) == BERR_OK);
	CHECK_INT(probe(signer_fn, sock, detail, sizeof(detail)), BERR_OK);

	/* readyz with auth = token asks the signer */
	cfg.auth = "token";
	cfg.signer_socket = sock;
	CHECK_INT(serve("GET", "/readyz"), 200);
	CHECK_STR(out_body(), "store: ok\nsigner: ok\n");

	/* killed: its socket file stays, nobody listens */
	kill(pid, SIGKILL);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK_INT(probe(signer_fn, sock, detail, sizeof(detail)), BERR_INTERNAL);
	CHECK_STR(detail, "down (connect: Connection refused)");
	CHECK_INT(serve("GET", "/readyz"), 503);
	CHECK_STR(out_body(), "store: ok\nsigner: down (connect: Connection refused)\n");

	/* hung: the probe gives up at its deadline */
	fd = listen_on(sock);
	CHECK(fd >= 0);
	t0 = now_s();
	CHECK_INT(probe(signer_fn, sock, detail, sizeof(detail)), BERR_INTERNAL);
	CHECK_STR(detail, "down (no answer within 300 ms)");
	CHECK(now_s() - t0 >= 0.25 && now_s() - t0 < 2);
	close(fd);
	unlink(sock);
	cfg.auth = NULL;
	cfg.signer_socket = NULL;
}

/* A stand-in directory process: one connection, checks the request is a
 * lookup of the probe's user, answers `kind`. */
static pid_t fake_directory(int lfd, char kind)
{
	static const char want[] = "U" AUTH_PROBE_DIR_USER;
	pid_t pid = fork();
	char req[512];
	ssize_t n;
	int c;

	if (pid != 0)
		return pid;
	c = accept(lfd, NULL, NULL);
	n = recv(c, req, sizeof(req), 0);
	if (n != (ssize_t)sizeof(want) || memcmp(req, want, sizeof(want)) != 0)
		kind = '?';
	send(c, &kind, 1, MSG_NOSIGNAL);
	_exit(0);
}

static void test_directory_probe(void)
{
	static const struct { char kind; enum berr rc; const char *detail; } cases[] = {
		{ 'b', BERR_OK, "" },      /* no such user: the directory answered */
		{ 'o', BERR_OK, "" },
		{ 'u', BERR_INTERNAL, "down (no directory server answered)" },
		{ 'e', BERR_INTERNAL, "down (the directory process failed; see berthd's log)" },
	};
	char detail[BERR_DETAIL_MAX];
	size_t i;
	int lfd, status;
	pid_t pid;

	lfd = listen_on(sock);
	CHECK(lfd >= 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pid = fake_directory(lfd, cases[i].kind);
		CHECK_INT(probe(dir_fn, sock, detail, sizeof(detail)), cases[i].rc);
		CHECK_STR(detail, cases[i].detail);
		CHECK(waitpid(pid, &status, 0) == pid);
	}
	/* a directory that is down is reported, and the host stays ready */
	cfg.auth = "token";
	cfg.ldap_uri = "ldap://127.0.0.1:1";
	cfg.directory_socket = sock;
	cfg.signer_socket = key;   /* no signer there: not ready for that */
	pid = fake_directory(lfd, 'u');
	CHECK_INT(serve("GET", "/readyz"), 503);
	CHECK(strstr(out_body(), "signer: down") != NULL);
	CHECK(strstr(out_body(), "\ndirectory: down (no directory server answered)\n") != NULL);
	CHECK(waitpid(pid, &status, 0) == pid);
	close(lfd);
	unlink(sock);
	CHECK_INT(probe(dir_fn, sock, detail, sizeof(detail)), BERR_INTERNAL);
	CHECK_STR(detail, "down (connect: No such file or directory)");
	cfg.auth = NULL;
	cfg.ldap_uri = NULL;
	cfg.directory_socket = NULL;
	cfg.signer_socket = NULL;
}

int main(void)
{
	char conf[PATH_MAX], cmd[PATH_MAX + 16];
	FILE *f;

	if (!mkdtemp(tmp))
		return 2;
	snprintf(conf, sizeof(conf), "%s/berth.conf", tmp);
	snprintf(root, sizeof(root), "%s/store", tmp);
	snprintf(sock, sizeof(sock), "%s/probe.sock", tmp);
	snprintf(key, sizeof(key), "%s/key.pem", tmp);
	if (!(f = fopen(conf, "we")))
		return 2;
	fprintf(f, "store = %s\n", root);
	fclose(f);
	if (config_load(&cfg, conf) || store_open(&st, root)) {
		fprintf(stderr, "setup: %s\n", berr_detail());
		return 2;
	}
	{
		/* the fields the tests point elsewhere, restored before release */
		char *auth = cfg.auth, *signer = cfg.signer_socket, *dir = cfg.directory_socket,
		     *uri = cfg.ldap_uri;

		cfg.auth = NULL;
		test_floor();
		test_handlers();
		test_store_probe();
		test_signer_probe();
		test_directory_probe();
		cfg.auth = auth;
		cfg.signer_socket = signer;
		cfg.directory_socket = dir;
		cfg.ldap_uri = uri;
	}
	store_close(&st);
	config_release(&cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp);
	return unit_done();
}
