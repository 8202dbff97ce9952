/* Unix IDs of Authgear accounts: the range they come from, the deterministic
 * hash that gives every host the same UID for a name, its collision
 * sequence, and the grammar of a UID written by an administrator.
 *
 * libc only: the NSS module compiles this file too (provisional entries
 * show the first candidate), so it must never need the core's libraries.
 *
 * The hash is part of the product's contract: changing it changes every
 * not-yet-pinned UID in a fleet. tests/unit/test_accounts.c pins golden
 * values.
 */
#ifndef AG_UID_H
#define AG_UID_H

#include <stdbool.h>
#include <stdint.h>

/* Above SSSD's default id-mapping range (200000-2000200000, AD-joined
 * hosts), below systemd's foreign UID range (2147352576-2147418111) and
 * 2^31 (signed-UID trouble), clear of its container range (524288-
 * 1879048191) and everything under 65536 (README "UIDs and GIDs"). */
#define AG_UID_RANGE_DEFAULT "2001000000-2147000000"
#define AG_UID_MIN_ALLOWED 1000u          /* below: system accounts */
#define AG_UID_MAX_ALLOWED 4294967294u    /* (uid_t)-1 is "no UID" */
#define AG_UID_NOBODY 65534u
#define AG_UID_CANDIDATES_MAX 64          /* collision sequence length tried */

enum ag_id_kind {
	AG_ID_USER,  /* UIDs (and user-private GIDs, which equal them) */
	AG_ID_GROUP, /* GIDs of groups served for roles */
};

struct ag_id_range {
	uint32_t min, max; /* inclusive */
};

/* "MIN-MAX" in decimal, AG_UID_MIN_ALLOWED <= MIN < MAX <= AG_UID_MAX_ALLOWED,
 * no signs, spaces or leading zeros. */
bool ag_id_range_parse(const char *text, struct ag_id_range *out);

/* A UID or GID an administrator writes ([uids], authgear-pam pin/import):
 * decimal without sign or leading zero, AG_UID_MIN_ALLOWED..AG_UID_MAX_ALLOWED
 * and not nobody (65534). */
bool ag_id_parse(const char *text, uint32_t *out);

/* IDs never handed out: nobody and the 16-bit (uid_t)-1. */
bool ag_id_reserved(uint32_t id);

/* The k-th candidate (k = 0, 1, ...) for name: a 64-bit FNV-1a hash of
 * "u:NAME" (users) or "g:NAME" (groups), mixed with k and reduced into range.
 * The same on every host with the same range. May be reserved: callers
 * skip those like any other taken ID. */
uint32_t ag_id_candidate(enum ag_id_kind kind, const char *name, unsigned k, const struct ag_id_range *range);

/* The first candidate that is not reserved: what a provisional entry shows. */
uint32_t ag_id_first(enum ag_id_kind kind, const char *name, const struct ag_id_range *range);

/* 64-bit FNV-1a of n bytes (also the index's name hash). */
uint64_t ag_fnv1a64(const void *data, uint64_t n);

#endif
