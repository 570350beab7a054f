/*
 * ctl_audit.h - berthctl and the audit log: the records berthctl's own
 * changes write (lock, unlock, users, tokens, repo rm, gc), and
 * `berthctl audit`, which answers "who pushed this, and when?".
 */
#ifndef BERTH_CTL_AUDIT_H
#define BERTH_CTL_AUDIT_H

#include <stdio.h>

#include "util/config.h"

/* Before berthctl drops privileges: remember who runs it (SUDO_USER when
 * root, else the login name) and the configured audit_log.  The file itself
 * is opened at the first record, as the account berthctl runs as. */
void ctl_audit_open(const struct config *cfg);
/* Record a change berthctl made (after it committed). */
void ctl_audit_note(const char *action, const char *repo, const char *tag,
		    const char *digest, const char *detail);

/* gc removed `object` (kind as gc.h names it): blobs, manifests and
 * repositories are recorded (links and index entries follow from them). */
void ctl_audit_gc(const char *kind, const char *object, long long bytes);

void ctl_audit_usage(FILE *f);
/* berthctl audit [--since DUR] [--user U] [--repo R] [--file PATH] [--json] */
int ctl_audit_main(const struct config *cfg, int argc, char **argv);

#endif
