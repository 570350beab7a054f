/*
 * policy_audit.h - the audit record of a policy change, written once per
 * host by the master (see policy_audit.c).
 */
#ifndef BERTH_POLICY_AUDIT_H
#define BERTH_POLICY_AUDIT_H

#include <sys/stat.h>
#include <time.h>

#include "oci/digest.h"
#include "util/config.h"

struct policy_audit {
	struct stat st;                 /* the file as last looked at */
	int seen;                       /* st and digest are set */
	char digest[DIGEST_STR_MAX];    /* "" when the file was missing */
	time_t next;                    /* when to look again */
};

/* Look at cfg->policy_file at most every few seconds; when its content
 * changed since the last look (or on the first look: `policy_loaded`),
 * write one audit record from a child that has dropped privileges. */
void policy_audit_tick(struct policy_audit *pa, const struct config *cfg, time_t now);

#endif
