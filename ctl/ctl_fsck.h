/*
 * ctl_fsck.h - `berthctl fsck`, dispatched from ctl/ctl_store.c's command
 * table:
 *
 *   berthctl fsck [--quick] [--repair] [--json]
 *
 * Exit codes as ctl_store.h: 0 the store is consistent, 1 problems remain,
 * 2 usage error, 3 the store could not be read.
 */
#ifndef BERTH_CTL_FSCK_H
#define BERTH_CTL_FSCK_H

#include "store/store.h"
#include "util/config.h"

/* Its usage and help text (the table's entry). */
extern const char ctl_fsck_usage[];
/* Run it: argv[0] is "fsck". */
int ctl_fsck_run(const struct config *cfg, struct store *st, int argc, char **argv);

#endif
