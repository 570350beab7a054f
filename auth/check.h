/*
 * check.h - every authentication setting checked before it is used.
 *
 * berthd calls auth_config_check() at start, for `berthd -t`, and on SIGHUP
 * before it swaps a new configuration in: a setting that cannot work (an
 * unknown ldap_group_mode, a bind password file or CA file that is missing
 * or unreadable, a policy file that does not parse, ...) is reported there
 * with the key and the reason, instead of showing up at the next login as a
 * 401.  A refused reload keeps the running configuration.
 */
#ifndef BERTH_AUTH_CHECK_H
#define BERTH_AUTH_CHECK_H

#include "util/config.h"
#include "util/err.h"

/* BERR_OK, or BERR_INTERNAL with "KEY: what is wrong" in berr_detail().
 * Makes no network connection (the directory may be down at start). */
enum berr auth_config_check(const struct config *cfg);

#endif
