/* ctl_ldap.c - see ctl_ldap.h.  (Scaffold: being written.) */
#include <stdio.h>

#include "util/ctl_ldap.h"

int ctl_ldap_main(const struct config *cfg, int argc, char **argv)
{
	(void)cfg, (void)argc, (void)argv;
	fprintf(stderr, "berthctl: ldap: not yet\n");
	return 2;
}
