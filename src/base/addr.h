/* Where a login comes from: lists of `console` and address ranges
 * (device_from), matched against PAM_RHOST.
 *
 * A list holds words separated by commas and/or spaces: `console` (no
 * remote host: PAM_RHOST unset or empty), an IPv4 or IPv6 address, or a
 * CIDR range (192.0.2.0/24, 2001:db8::/32). A remote host that is not a
 * literal address (sshd with UseDNS yes hands over a name) matches no range:
 * a name is whatever its DNS says. */
#ifndef AG_ADDR_H
#define AG_ADDR_H

#include <stdbool.h>

/* Whether list is a valid non-empty list of such words. */
bool ag_addr_list_valid(const char *list);

/* Whether rhost (NULL or "" for the console) is in list. */
bool ag_addr_list_match(const char *list, const char *rhost);

#endif
