/*
 * test_audit.c - the audit log's writer and reader (util/audit.h): records
 * land whole, one per line, in a file created 0640 in a directory created
 * for it; a torn last line is skipped by the reader and does not swallow
 * the next record; a reopen after a rename writes to the new file; the
 * filter of berthctl audit keeps what --since, --user and --repo ask for.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "util/audit.h"
#include "util/fs.h"

static char dir[256];

/* The lines of `path` into lines[] (malloc'd); returns how many. */
static int read_lines(const char *path, char **lines, int max)
{
	char buf[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC), n = 0;
	ssize_t len;
	char *p, *nl;

	if (fd < 0)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len < 0)
		return -1;
	buf[len] = '\0';
	for (p = buf; *p && n < max; p = nl + 1) {
		if (!(nl = strchr(p, '\n'))) {
			lines[n++] = strdup(p); /* a last line without its newline */
			break;
		}
		lines[n++] = strndup(p, (size_t)(nl - p));
	}
	return n;
}

static void free_lines(char **lines, int n)
{
	for (int i = 0; i < n; i++)
		free(lines[i]);
}

static void test_record_fields(void)
{
	struct audit_event ev = {
		.action = "push",
		.actor = { .user = "alice", .address = "192.0.2.7", .request_id = "abc123" },
		.repository = "team/app", .tag = "1.0", .digest = "sha256:00ff", .detail = NULL,
	};
	json_t *rec = audit_record(&ev, "2026-12-08T00:50:00.123Z", "hostA");
	char *line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
	struct audit_rec r;

	CHECK(line != NULL);
	CHECK_INT(audit_parse_line(line, strlen(line), &r), 0);
	CHECK_STR(r.action, "push");
	CHECK_STR(r.user, "alice");
	CHECK_STR(r.address, "192.0.2.7");
	CHECK_STR(r.request_id, "abc123");
	CHECK_STR(r.repository, "team/app");
	CHECK_STR(r.tag, "1.0");
	CHECK_STR(r.digest, "sha256:00ff");
	CHECK_STR(r.host, "hostA");
	CHECK_STR(r.detail, "");                 /* absent: not written */
	CHECK(strstr(line, "detail") == NULL);
	CHECK_INT(r.when, 1796691000);            /* 2026-12-08T00:50:00Z */
	audit_rec_release(&r);
	free(line);
	json_decref(rec);
}

static void test_parse_rejects(void)
{
	static const char *bad[] = {
		"{\"time\":\"2026-12-08T00:50:00Z\",\"action\":\"pu",   /* torn mid-string */
		"{\"time\":\"2026-12-08T00:50:00Z\",\"action\":\"push\"", /* torn before } */
		"[\"push\"]", "{\"time\":\"x\"}", "garbage", "",
		"{\"action\":\"push\",\"action\":\"tag\"}",               /* duplicate key */
	};
	struct audit_rec r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(audit_parse_line(bad[i], strlen(bad[i]), &r), -1);
	CHECK_INT(audit_parse_time("2026-12-08T00:50:00Z"), 1796691000);
	CHECK_INT(audit_parse_time("2026-12-08T00:50:00.999Z"), 1796691000);
	CHECK_INT(audit_parse_time("2026-12-08 00:50:00"), -1);
	CHECK_INT(audit_parse_time("2026-12-08T00:50:00+01:00"), -1);
}

static struct audit_rec rec_of(const char *json)
{
	struct audit_rec r;

	if (audit_parse_line(json, strlen(json), &r))
		memset(&r, 0, sizeof(r));
	return r;
}

static void test_filter(void)
{
	struct audit_rec a = rec_of("{\"time\":\"2026-12-08T00:00:00Z\",\"action\":\"push\","
				    "\"actor\":{\"user\":\"alice\"},\"repository\":\"team/app\"}");
	struct audit_rec b = rec_of("{\"time\":\"2026-12-01T00:00:00Z\",\"action\":\"lock\","
				    "\"actor\":{\"user\":\"root\"},\"repository\":\"team/db\"}");
	struct audit_rec c = rec_of("{\"time\":\"bad\",\"action\":\"login_failed\","
				    "\"actor\":{\"user\":\"mallory\"}}");
	struct audit_filter all = { 0 }, alice = { .user = "alice" };
	struct audit_filter app = { .repo = "team/app" }, db_alice = { .user = "alice", .repo = "team/db" };
	struct audit_filter recent = { .since = audit_parse_time("2026-12-05T00:00:00Z") };

	CHECK(a.doc && b.doc && c.doc);
	CHECK(audit_match(&a, &all) && audit_match(&b, &all) && audit_match(&c, &all));
	CHECK(audit_match(&a, &alice) && !audit_match(&b, &alice) && !audit_match(&c, &alice));
	CHECK(audit_match(&a, &app) && !audit_match(&b, &app) && !audit_match(&c, &app));
	CHECK(!audit_match(&a, &db_alice) && !audit_match(&b, &db_alice));
	/* --since: a record whose time does not parse is not shown as recent */
	CHECK(audit_match(&a, &recent) && !audit_match(&b, &recent) && !audit_match(&c, &recent));
	audit_rec_release(&a);
	audit_rec_release(&b);
	audit_rec_release(&c);
}

static void write_ev(const char *action, const char *repo)
{
	struct audit_event ev = { .action = action, .actor = { .user = "bob" }, .repository = repo };

	audit_event(&ev);
}

/* Through audit_event(): the directory is made, the file is 0640, one
 * record per line, in order. */
static void test_write_and_mode(void)
{
	char path[512], *lines[8];
	struct audit_rec r;
	struct stat st;
	int n;

	snprintf(path, sizeof(path), "%s/log/deeper/audit.log", dir);
	audit_open(path);
	write_ev("push", "r1");
	write_ev("delete_tag", "r1");
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 07777, AUDIT_FILE_MODE);
	n = read_lines(path, lines, 8);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_INT(audit_parse_line(lines[0], strlen(lines[0]), &r), 0);
		CHECK_STR(r.action, "push");
		CHECK(r.host[0] != '\0');
		CHECK(r.when > 0 && r.when <= time(NULL));
		audit_rec_release(&r);
		CHECK_INT(audit_parse_line(lines[1], strlen(lines[1]), &r), 0);
		CHECK_STR(r.action, "delete_tag");
		audit_rec_release(&r);
	}
	free_lines(lines, n > 0 ? n : 0);
	audit_open(NULL); /* off: nothing more is written */
	write_ev("push", "r2");
	n = read_lines(path, lines, 8);
	CHECK_INT(n, 2);
	free_lines(lines, n > 0 ? n : 0);
}

/* A crash mid-write left half a record: the reader skips it, and the next
 * writer starts a new line so the next record survives whole. */
static void test_torn_last_line(void)
{
	static const char torn[] = "{\"time\":\"2026-12-08T00:00:00Z\",\"action\":\"pu";
	char path[512], *lines[8];
	struct audit_rec r;
	int fd, n, good = 0, skipped = 0;

	snprintf(path, sizeof(path), "%s/torn.log", dir);
	audit_open(path);
	write_ev("push", "a");
	audit_open(NULL);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	CHECK(fd >= 0 && write(fd, torn, strlen(torn)) == (ssize_t)strlen(torn));
	close(fd);
	audit_open(path); /* a new process: its first record follows the torn line */
	write_ev("tag", "b");
	audit_open(NULL);
	n = read_lines(path, lines, 8);
	CHECK_INT(n, 3);
	for (int i = 0; i < n; i++) {
		if (audit_parse_line(lines[i], strlen(lines[i]), &r) == 0) {
			good++;
			if (good == 2)
				CHECK_STR(r.action, "tag");
			audit_rec_release(&r);
		} else {
			skipped++;
		}
	}
	CHECK_INT(good, 2);
	CHECK_INT(skipped, 1);
	free_lines(lines, n > 0 ? n : 0);
}

/* logrotate: rename, then SIGUSR1 (here: what its handler does). */
static void test_reopen_after_rename(void)
{
	char path[512], rotated[520], *lines[8];
	int n;

	snprintf(path, sizeof(path), "%s/rot.log", dir);
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	audit_open(path);
	write_ev("push", "before");
	CHECK_INT(rename(path, rotated), 0);
	write_ev("push", "still-old"); /* no signal yet: the open file */
	audit_request_reopen();
	write_ev("push", "after");
	n = read_lines(rotated, lines, 8);
	CHECK_INT(n, 2);
	free_lines(lines, n > 0 ? n : 0);
	n = read_lines(path, lines, 8);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK(strstr(lines[0], "\"repository\":\"after\"") != NULL);
	free_lines(lines, n > 0 ? n : 0);
	audit_open(NULL);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/berth-test-audit.%d", (int)getpid());
	if (mkdir(dir, 0700) < 0) {
		perror(dir);
		return 1;
	}
	test_record_fields();
	test_parse_rejects();
	test_filter();
	test_write_and_mode();
	test_torn_last_line();
	test_reopen_after_rename();
	fs_remove_tree(dir);
	return unit_done();
}
