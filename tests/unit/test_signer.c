/*
 * test_signer.c - the signing-key process: start it, sign from another
 * process, verify with public keys only, survive garbage, die with its
 * parent.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth/signer.h"
#include "tests/unit/unit.h"

static char dir[64], key[128], sock[128];

static json_t *claims_now(void)
{
	time_t now = time(NULL);

	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "iss", "berth", "sub", "alice",
			 "aud", "registry", "exp", (json_int_t)now + 300, "nbf", (json_int_t)now,
			 "iat", (json_int_t)now);
}

/* A raw request on a fresh connection; the reply's first byte (or -1). */
static int raw_request(const void *req, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { 5, 0 };
	char reply[8192];
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	strcpy(sa.sun_path, sock);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len) {
		close(fd);
		return -2;
	}
	n = recv(fd, reply, sizeof(reply), 0);
	close(fd);
	return n > 0 ? reply[0] : -3;
}

static void test_sign_verify(struct auth_keyring *kr)
{
	json_t *claims = claims_now(), *got = NULL;
	char *tok = NULL;
	int status;
	pid_t child;

	CHECK(kr->priv == NULL && kr->n == 1);
	CHECK_INT(strlen(kr->priv_kid), AUTH_KID_LEN);
	CHECK(auth_jwt_sign_remote(sock, kr->priv_kid, claims, &tok) == BERR_OK && tok);
	CHECK(tok && auth_jwt_verify(kr, tok, strlen(tok), "berth", "registry", time(NULL), 0,
				     &got) == BERR_OK);
	json_decref(got);
	free(tok);

	/* from a forked worker, reusing its own connection for several tokens */
	if ((child = fork()) == 0) {
		int i, bad = 0;

		for (i = 0; i < 20; i++) {
			tok = NULL;
			got = NULL;
			if (auth_jwt_sign_remote(sock, kr->priv_kid, claims, &tok) != BERR_OK ||
			    auth_jwt_verify(kr, tok, strlen(tok), "berth", "registry", time(NULL), 0,
					    &got) != BERR_OK)
				bad++;
			json_decref(got);
			free(tok);
		}
		_exit(bad);
	}
	CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	json_decref(claims);
}

static void test_garbage(struct auth_keyring *kr)
{
	char *big = malloc(AUTH_JWT_MAX + 100);
	json_t *claims = claims_now();
	char *tok = NULL, *sig = NULL;

	memset(big, 'A', AUTH_JWT_MAX + 100);
	big[0] = 'S';
	CHECK_INT(raw_request("X", 1), 'e');
	CHECK_INT(raw_request("S", 1), 'e');
	CHECK_INT(raw_request("Sabc", 4), 'e');                 /* no '.' */
	CHECK_INT(raw_request("Sa.b.c", 6), 'e');               /* two '.' */
	CHECK_INT(raw_request("S.abc", 5), 'e');
	CHECK_INT(raw_request("Sab+/.cd", 8), 'e');             /* not base64url */
	CHECK_INT(raw_request("Sab\0.cd", 7), 'e');
	CHECK_INT(raw_request("PP", 2), 'e');
	CHECK_INT(raw_request(big, AUTH_JWT_MAX + 100), 'e');   /* too large */
	big[10] = '.';
	CHECK_INT(raw_request(big, AUTH_SIGNER_INPUT_MAX + 2), 'e');
	CHECK_INT(raw_request(big, AUTH_SIGNER_INPUT_MAX + 1), 'o');
	CHECK_INT(raw_request("P", 1), 'o');
	CHECK(auth_signer_sign(sock, "not.a+jws", &sig) == BERR_INTERNAL && sig == NULL);
	CHECK(strstr(berr_detail(), "not a JWS signing input") != NULL);
	/* a connection that says nothing and one that leaves: nobody else waits */
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int idle = socket(AF_UNIX, SOCK_SEQPACKET, 0);

		strcpy(sa.sun_path, sock);
		CHECK(connect(idle, (struct sockaddr *)&sa, sizeof(sa)) == 0);
		CHECK(auth_jwt_sign_remote(sock, kr->priv_kid, claims, &tok) == BERR_OK);
		close(idle);
		free(tok);
	}
	CHECK(auth_jwt_sign_remote(sock, kr->priv_kid, claims, &tok) == BERR_OK);
	free(tok);
	free(big);
	json_decref(claims);
}

/* After a restart of the signer the kept connection is re-opened. */
static void test_restart(struct auth_keyring *kr, pid_t *pid)
{
	json_t *claims = claims_now();
	char *tok = NULL;
	int status;

	kill(*pid, SIGTERM);
	CHECK(waitpid(*pid, &status, 0) == *pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(access(sock, F_OK) < 0 && errno == ENOENT); /* it removed its socket */
	CHECK(auth_jwt_sign_remote(sock, kr->priv_kid, claims, &tok) == BERR_INTERNAL);
	CHECK(auth_signer_start(key, sock, pid) == BERR_OK);
	CHECK(auth_jwt_sign_remote(sock, kr->priv_kid, claims, &tok) == BERR_OK);
	free(tok);
	json_decref(claims);
}

/* The signer exits when the process that started it dies. */
static void test_parent_death(void)
{
	char sock2[160];
	int p[2], i, gone = 0;
	pid_t mid, spid = -1;

	snprintf(sock2, sizeof(sock2), "%s/orphan.sock", dir);
	CHECK(pipe(p) == 0);
	if ((mid = fork()) == 0) {
		pid_t s = -1;

		auth_signer_start(key, sock2, &s);
		if (write(p[1], &s, sizeof(s)) != (ssize_t)sizeof(s))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	CHECK(read(p[0], &spid, sizeof(spid)) == (ssize_t)sizeof(spid) && spid > 0);
	close(p[0]);
	waitpid(mid, NULL, 0);
	for (i = 0; i < 50 && !gone; i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		gone = access(sock2, F_OK) < 0;
		nanosleep(&ts, NULL);
	}
	CHECK(gone);
}

static void test_errors(void)
{
	char path[160];
	pid_t pid;

	snprintf(path, sizeof(path), "%s/no-such-dir/key.pem", dir);
	CHECK(auth_signer_start(path, sock, &pid) == BERR_INTERNAL && pid == -1);
	CHECK(strstr(berr_detail(), "signer: create signing key") != NULL);
	snprintf(path, sizeof(path), "%s/regular-file", dir);
	fclose(fopen(path, "w"));
	CHECK(auth_signer_start(key, path, &pid) == BERR_INTERNAL);
	CHECK(strstr(berr_detail(), "not a socket") != NULL);
	CHECK(auth_signer_sign(path, "a.b", &(char *){ NULL }) == BERR_INTERNAL);
}

int main(void)
{
	struct auth_keyring *kr = auth_keyring_new();
	struct stat st;
	pid_t pid = -1;
	char cmd[128];
	int status;

	snprintf(dir, sizeof(dir), "/tmp/berth-test-signer.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(sock, sizeof(sock), "%s/signer.sock", dir);

	CHECK(auth_signer_start(key, sock, &pid) == BERR_OK && pid > 0);
	CHECK(stat(sock, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);
	CHECK(stat(key, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(auth_keyring_add_signer(kr, sock) == BERR_OK);
	test_sign_verify(kr);
	test_garbage(kr);
	test_restart(kr, &pid);
	test_parent_death();
	test_errors();

	kill(pid, SIGTERM);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
	auth_keyring_free(kr);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return unit_done();
}
