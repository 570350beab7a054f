/*
 * test_signer_alone.c - the signer as a service of its own (auth_signer_run,
 * `berthd --signer`, signer = external): READY=1 and STOPPING=1 to
 * NOTIFY_SOCKET, a 0660 socket, signing for a client, exit 0 with its
 * socket gone on SIGTERM.  As root it also runs the signer under another
 * uid and shows the peer check: a client of the signer's group is served,
 * one outside it is not (even with the socket opened to everybody).
 * And the key that selects it: `signer` in berth.conf, and the start check
 * that does not look for a key berthd will never read.
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth/check.h"
#include "auth/signer.h"
#include "util/config.h"
#include "tests/unit/unit.h"

#define SIGNER_UID 65531
#define SIGNER_GID 65530          /* the "berth" group of this test */
#define CLIENT_UID 65529
#define OTHER_GID  65528

static char dir[64], sub[96], key[160], sock[192], nsock[160];

/* The next datagram on the notify socket, within 10 s ("" if none). */
static void next_note(int nfd, char *buf, size_t cap)
{
	struct pollfd p = { nfd, POLLIN, 0 };
	ssize_t n;

	buf[0] = '\0';
	if (poll(&p, 1, 10000) != 1 || (n = recv(nfd, buf, cap - 1, 0)) < 0)
		return;
	buf[n] = '\0';
}

static pid_t start_alone(int nfd, int other_uid)
{
	char note[256];
	pid_t pid = fork();

	if (pid == 0) {
		setenv("NOTIFY_SOCKET", nsock, 1);
		if (other_uid && (setgroups(0, NULL) < 0 || setgid(SIGNER_GID) < 0 ||
				  setuid(SIGNER_UID) < 0))
			_exit(3);
		_exit(auth_signer_run(key, sock) == BERR_OK ? 0 : 1);
	}
	next_note(nfd, note, sizeof(note));
	CHECK(strstr(note, "READY=1") != NULL);
	return pid;
}

/* In a child with uid/gid (0: keep): 0 if a signature came back. */
static int sign_as(uid_t uid, gid_t gid)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		char *sig = NULL;

		if (uid && (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0))
			_exit(3);
		_exit(auth_signer_sign(sock, "eyJhIjoxfQ.eyJiIjoyfQ", &sig) == BERR_OK && sig ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void stop_alone(pid_t pid, int nfd)
{
	char note[256];
	int status;

	kill(pid, SIGTERM);
	next_note(nfd, note, sizeof(note));
	CHECK(strstr(note, "STOPPING=1") != NULL);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(access(sock, F_OK) < 0 && errno == ENOENT);
}

static void test_same_uid(int nfd)
{
	struct stat st;
	EVP_PKEY *pub = NULL;
	char kid[AUTH_KID_LEN + 1];
	pid_t pid = start_alone(nfd, 0);

	CHECK(stat(sock, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0660);
	CHECK(stat(key, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(auth_signer_public_key(sock, &pub, kid) == BERR_OK && pub);
	EVP_PKEY_free(pub);
	CHECK_INT(sign_as(0, 0), 0);
	stop_alone(pid, nfd);
	unlink(key);
}

/* As root: the signer runs as SIGNER_UID:SIGNER_GID in a directory of its
 * own, as berth-signer.service runs it. */
static void test_group(int nfd)
{
	struct stat st;
	pid_t pid;

	CHECK(chmod(dir, 0711) == 0);
	CHECK(mkdir(sub, 0750) == 0 && chown(sub, SIGNER_UID, SIGNER_GID) == 0);
	snprintf(key, sizeof(key), "%s/key.pem", sub);
	snprintf(sock, sizeof(sock), "%s/signer.sock", sub);
	pid = start_alone(nfd, 1);
	CHECK(stat(key, &st) == 0 && st.st_uid == SIGNER_UID && (st.st_mode & 0777) == 0600);
	CHECK(stat(sock, &st) == 0 && st.st_gid == SIGNER_GID && (st.st_mode & 0777) == 0660);
	CHECK_INT(sign_as(CLIENT_UID, SIGNER_GID), 0);   /* a worker: the group */
	CHECK_INT(sign_as(0, 0), 0);                     /* root */
	CHECK_INT(sign_as(CLIENT_UID, OTHER_GID), 1);    /* the file mode stops it */
	/* opened to all: the signer's peer check still refuses the stranger */
	CHECK(chmod(sub, 0755) == 0 && chmod(sock, 0666) == 0);
	CHECK_INT(sign_as(CLIENT_UID, OTHER_GID), 1);
	CHECK_INT(sign_as(CLIENT_UID, SIGNER_GID), 0);
	stop_alone(pid, nfd);
}

/* Load berth.conf with `extra` after an auth = token setup whose key
 * lies in a directory that does not exist. */
static enum berr load_conf(struct config *c, const char *extra)
{
	char conf[160];
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/berth.conf", dir);
	if (!(f = fopen(conf, "we")))
		return BERR_INTERNAL;
	fprintf(f, "store = %s\nauth = token\nsigning_key = %s/nowhere/key.pem\n%s", dir, dir,
		extra);
	fclose(f);
	return config_load(c, conf);
}

static void test_config_key(void)
{
	struct config c;

	CHECK(load_conf(&c, "") == BERR_OK);
	CHECK_STR(c.signer, "internal");
	CHECK(auth_config_check(&c) == BERR_INTERNAL);  /* the key cannot be made */
	CHECK(strstr(berr_detail(), "signing_key") != NULL);
	config_release(&c);
	CHECK(load_conf(&c, "signer = external\n") == BERR_OK);
	CHECK_STR(c.signer, "external");
	CHECK(auth_config_check(&c) == BERR_OK);        /* the signer's, not berthd's */
	config_release(&c);
	CHECK(load_conf(&c, "signer = sometimes\n") == BERR_INTERNAL);
	CHECK(strstr(berr_detail(), "\"signer\" must be internal or external") != NULL);
	CHECK(load_conf(&c, "signer =\n") == BERR_INTERNAL);
}

int main(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char cmd[128];
	int nfd;

	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/berth-test-alone.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(sub, sizeof(sub), "%s/signer", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(sock, sizeof(sock), "%s/signer.sock", dir);
	snprintf(nsock, sizeof(nsock), "%s/notify.sock", dir);
	strcpy(sa.sun_path, nsock);
	nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(bind(nfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && chmod(nsock, 0666) == 0);

	test_config_key();
	test_same_uid(nfd);
	if (geteuid() == 0)
		test_group(nfd);
	else
		printf("# not root: the group check under another uid not run\n");

	close(nfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return unit_done();
}
