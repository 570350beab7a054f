/*
 * ctl_store.h - berthctl's store commands: gc, repo, tag, du, uploads, fsck.
 *
 *   berthctl gc [--dry-run] [--untagged] [--older-than DUR] [--grace DUR] [--json] [-v]
 *   berthctl repo ls [--json] | repo rm NAME [--force] [--json]
 *   berthctl tag ls NAME [--json] | tag rm NAME:TAG [--force] [--json]
 *   berthctl du [--json]
 *   berthctl uploads ls [--json] | uploads purge --older-than DUR [--json]
 *   berthctl fsck [--quick] [--repair] [--json]    (ctl/ctl_fsck.h)
 *   berthctl lock ... | lock ls ... | unlock ...   (ctl/ctl_lock.h)
 *
 * Exit codes: 0 ok, 1 a problem (not found, fsck problems, another gc
 * running), 2 usage error (also a malformed name or tag), 3 the store
 * could not be read or written.
 */
#ifndef BERTH_CTL_STORE_H
#define BERTH_CTL_STORE_H

#include <stdio.h>

#include "store/store.h"
#include "util/config.h"

/* Nonzero if `cmd` (argv[0] of a command) is one of the above. */
int ctl_store_handles(const char *cmd);
/* The commands' lines for berthctl's usage text. */
void ctl_store_usage(FILE *f);
/* Run the command argv[0] with its arguments.  `cfg` and `st` may be NULL
 * when the arguments ask for --help (nothing is read then). */
int ctl_store_main(const struct config *cfg, struct store *st, int argc, char **argv);

#endif
