/* Sets of UIDs or GIDs (see idset.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "base/idset.h"

static size_t id_slot(uint32_t id, size_t cap)
{
	uint32_t x = id;

	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	return x & (cap - 1);
}

enum ag_err ag_idset_add(struct ag_idset *set, uint32_t id)
{
	size_t j;

	if (id == UINT32_MAX)
		return AG_OK; /* (uid_t)-1 is reserved anyway */
	if ((set->n + 1) * 2 > set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 64;
		uint32_t *slots = calloc(cap, sizeof *slots);

		if (!slots)
			return AG_ERR_NOMEM;
		for (size_t i = 0; i < set->cap; i++)
			if (set->slots[i]) {
				for (j = id_slot(set->slots[i] - 1, cap); slots[j]; j = (j + 1) & (cap - 1))
					;
				slots[j] = set->slots[i];
			}
		free(set->slots);
		set->slots = slots;
		set->cap = cap;
	}
	for (j = id_slot(id, set->cap); set->slots[j]; j = (j + 1) & (set->cap - 1))
		if (set->slots[j] == id + 1)
			return AG_OK;
	set->slots[j] = id + 1;
	set->n++;
	return AG_OK;
}

bool ag_idset_has(struct ag_idset *set, uint32_t id)
{
	if (!set || set->n == 0)
		return false;
	for (size_t j = id_slot(id, set->cap); set->slots[j]; j = (j + 1) & (set->cap - 1))
		if (set->slots[j] == id + 1)
			return true;
	return false;
}

void ag_idset_free(struct ag_idset *set)
{
	free(set->slots);
	memset(set, 0, sizeof *set);
}
