/* A set of UIDs or GIDs: an open-addressing hash set, so checking each of
 * 100,000 IDs against the others stays linear (UID allocation, [uids] pins,
 * import). */
#ifndef AG_IDSET_H
#define AG_IDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct ag_idset {
	uint32_t *slots;  /* id + 1; 0 = empty (IDs are never 0xffffffff here) */
	size_t n, cap;    /* cap: a power of two */
};

enum ag_err ag_idset_add(struct ag_idset *set, uint32_t id);
bool ag_idset_has(struct ag_idset *set, uint32_t id);
void ag_idset_free(struct ag_idset *set);

#endif
