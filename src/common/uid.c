/* Unix IDs of Authgear accounts (see uid.h). libc only. */
#include "config.h"

#include <string.h>

#include "common/uid.h"

#define FNV64_OFFSET 0xcbf29ce484222325ULL
#define FNV64_PRIME 0x100000001b3ULL
#define GOLDEN64 0x9e3779b97f4a7c15ULL

uint64_t ag_fnv1a64(const void *data, uint64_t n)
{
	const unsigned char *p = data;
	uint64_t h = FNV64_OFFSET;

	for (uint64_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= FNV64_PRIME;
	}
	return h;
}

/* MurmurHash3's 64-bit finalizer: FNV-1a alone leaves similar names
 * ("dev-1", "dev-2") close together in the low bits. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* Decimal digits only, no leading zero, value <= max. */
static bool parse_u32(const char *s, size_t n, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 10 || (s[0] == '0' && n > 1))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

bool ag_id_reserved(uint32_t id)
{
	return id == AG_UID_NOBODY || id == 65535u || id == 0xffffffffu || id < AG_UID_MIN_ALLOWED;
}

bool ag_id_parse(const char *text, uint32_t *out)
{
	uint32_t v;

	if (!text || !parse_u32(text, strlen(text), AG_UID_MAX_ALLOWED, &v) || ag_id_reserved(v))
		return false;
	*out = v;
	return true;
}

bool ag_id_range_parse(const char *text, struct ag_id_range *out)
{
	const char *dash = text ? strchr(text, '-') : NULL;
	struct ag_id_range r;

	if (!dash || !parse_u32(text, (size_t)(dash - text), AG_UID_MAX_ALLOWED, &r.min) ||
	    !parse_u32(dash + 1, strlen(dash + 1), AG_UID_MAX_ALLOWED, &r.max))
		return false;
	if (r.min < AG_UID_MIN_ALLOWED || r.min >= r.max)
		return false;
	*out = r;
	return true;
}

uint32_t ag_id_candidate(enum ag_id_kind kind, const char *name, unsigned k, const struct ag_id_range *range)
{
	uint64_t h = FNV64_OFFSET, span = (uint64_t)range->max - range->min + 1;
	const unsigned char prefix[2] = { kind == AG_ID_GROUP ? 'g' : 'u', ':' };

	for (int i = 0; i < 2; i++) {
		h ^= prefix[i];
		h *= FNV64_PRIME;
	}
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= FNV64_PRIME;
	}
	return range->min + (uint32_t)(mix64(h + (uint64_t)k * GOLDEN64) % span);
}

uint32_t ag_id_first(enum ag_id_kind kind, const char *name, const struct ag_id_range *range)
{
	uint32_t c = 0;

	for (unsigned k = 0; k < AG_UID_CANDIDATES_MAX; k++) {
		c = ag_id_candidate(kind, name, k, range);
		if (!ag_id_reserved(c))
			return c;
	}
	return c;
}
