/*
 * ctl_lock.h - berthctl's lock commands, dispatched from ctl/ctl_store.c:
 *
 *   berthctl lock NAME[:TAG|@DIGEST] [--no-write] [--no-delete] [--reason TEXT] [--json]
 *   berthctl lock ls [NAME] [--json]
 *   berthctl unlock NAME[:TAG|@DIGEST] [--json]
 *
 * Exit codes as ctl_store.h: 0 ok, 1 not found / not locked, 2 usage error
 * (also a malformed name, tag or digest), 3 the store could not be read or
 * written.
 */
#ifndef BERTH_CTL_LOCK_H
#define BERTH_CTL_LOCK_H

#include <stdio.h>

#include "store/store.h"
#include "util/config.h"

/* Nonzero for "lock" and "unlock". */
int ctl_lock_handles(const char *cmd);
/* Their lines for berthctl's usage text. */
void ctl_lock_usage(FILE *f);
/* Run argv[0] ("lock" or "unlock"); `st` NULL: only --help is possible. */
int ctl_lock_main(const struct config *cfg, struct store *st, int argc, char **argv);

#endif
