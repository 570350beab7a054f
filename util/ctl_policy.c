/* ctl_policy.c - see ctl_policy.h.  (Scaffold: being written.) */
#include <stdio.h>

#include "util/ctl_policy.h"

int ctl_policy_main(const struct config *cfg, int argc, char **argv)
{
	(void)cfg, (void)argc, (void)argv;
	fprintf(stderr, "berthctl: policy: not yet\n");
	return 2;
}
