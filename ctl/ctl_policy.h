/*
 * ctl_policy.h - berthctl's "policy" command: which rule of the policy file
 * grants or denies an action.
 *
 *   berthctl policy explain SUBJECT REPOSITORY ACTION [--group G ...] [--json]
 *
 * SUBJECT is user:NAME, token:NAME or anonymous; ACTION is pull, push,
 * delete or catalog (REPOSITORY is then ignored).
 *
 * Exit codes: 0 granted, 1 denied, 2 usage or configuration error.
 */
#ifndef BERTH_CTL_POLICY_H
#define BERTH_CTL_POLICY_H

#include "util/config.h"

/* argv[0] is "policy"; returns the exit code. */
int ctl_policy_main(const struct config *cfg, int argc, char **argv);

#endif
