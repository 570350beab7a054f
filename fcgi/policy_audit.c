/*
 * policy_audit.c - one audit record per change of the policy file.
 *
 * The policy is a file an administrator edits; every worker rereads it on
 * its own when its mtime changes (auth/login.c), so a record written there
 * would appear once per worker.  The master watches it instead: one stat()
 * every few seconds, and only when the file's identity (inode, size, mtime)
 * changed is it read and hashed.  A change of content is recorded as
 * `policy_change` with the new and the previous SHA-256 in the detail (a
 * touch that changes nothing records nothing); the first look after start
 * records `policy_loaded`, so the audit log also tells which policy a host
 * started with, edits made while it was down included.
 *
 * The record is written by a short-lived child that drops to the run-as
 * account first, as the sweeper does: the master is root, and an audit file
 * created by root could not be appended to by the workers.  The child is
 * reaped by the master's ordinary reap loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fcgi/policy_audit.h"
#include "util/audit.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/privs.h"

#define POLICY_AUDIT_EVERY 5        /* seconds between looks */
#define POLICY_AUDIT_MAX (1 << 20)  /* the policy loader's bound is lower */

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The file's SHA-256 into out ("" when it cannot be read: missing). */
static void file_digest(const char *path, char out[DIGEST_STR_MAX])
{
	struct berr_ctx quiet;
	struct digest d;
	char *buf = NULL;
	size_t len = 0;

	out[0] = '\0';
	berr_enter(&quiet);
	if (fs_read_small(path, POLICY_AUDIT_MAX, &buf, &len, BERR_NAME_UNKNOWN) == BERR_OK) {
		digest_buf(DIGEST_SHA256, buf, len, &d);
		digest_format(&d, out);
	}
	berr_leave(&quiet);
	free(buf);
}

static void write_record(const struct config *cfg, const char *action, const char *detail)
{
	pid_t pid = fork();

	if (pid != 0) {
		if (pid < 0)
			log_warn("policy audit: fork: %s", strerror(errno));
		return;
	}
	if (privs_drop(cfg)) {
		log_err("policy audit: %s", berr_detail());
		_exit(1);
	}
	audit_open(cfg->audit_log);
	struct audit_event ev = {
		.action = action,
		.actor = { .user = NULL, .address = "berthd", .request_id = NULL },
		.detail = detail,
	};
	audit_event(&ev);
	_exit(0);
}

void policy_audit_tick(struct policy_audit *pa, const struct config *cfg, time_t now)
{
	char digest[DIGEST_STR_MAX], detail[3 * DIGEST_STR_MAX + 64];
	struct stat st;

	if (!cfg->audit_log || !cfg->audit_log[0] || !cfg->policy_file || now < pa->next)
		return;
	pa->next = now + POLICY_AUDIT_EVERY;
	if (stat(cfg->policy_file, &st) != 0)
		memset(&st, 0, sizeof(st));
	if (pa->seen && same_file(&st, &pa->st))
		return;
	file_digest(cfg->policy_file, digest);
	if (!pa->seen) {
		snprintf(detail, sizeof(detail), "%s %s", cfg->policy_file,
			 digest[0] ? digest : "(missing)");
		write_record(cfg, "policy_loaded", detail);
	} else if (strcmp(digest, pa->digest) != 0) {
		snprintf(detail, sizeof(detail), "%s %s (was %s)", cfg->policy_file,
			 digest[0] ? digest : "(missing)", pa->digest[0] ? pa->digest : "(missing)");
		write_record(cfg, "policy_change", detail);
	}
	pa->st = st;
	pa->seen = 1;
	mem_strcpy(pa->digest, sizeof(pa->digest), digest);
}
