/* The NSS index: the public part of the store (state_dir/nss.index, 0644),
 * holding exactly what getpwnam/getgrnam may reveal (no sub, no secret), in
 * a compact binary file that the NSS module maps read-only.
 *
 * Layout (native byte order: the file never leaves the host that wrote it;
 * byte_order tells a reader that it was written elsewhere):
 *
 *   header    struct ag_index_header, 128 bytes
 *   users     struct ag_index_user[n], sorted by name
 *   user_names  hash table of u32 slots (user index + 1, 0 = empty), a power
 *             of two with at least one empty slot; linear probing on the
 *             32-bit FNV-1a hash of the name
 *   user_uids   the same kind of hash table, on ag_index_id_hash(UID)
 *   groups, group_names, group_gids   the same for groups (GIDs)
 *   ids       u32 pool: each user's supplementary GIDs, each group's members
 *             (user indices)
 *   pins      struct ag_index_pin[n] sorted by name: UIDs pinned ahead of a
 *             first login, shown by provisional entries
 *   strings   NUL-terminated strings; the last byte of the section is NUL
 *
 * The header (version 3) ends with the generation of the store it was built
 * from, and the delta fields below; the reader still accepts versions 1
 * (128 bytes) and 2 (136: no delta fields).
 *
 * The delta (state_dir/nss.index.delta, 0644): a small file of the same
 * format, flag AG_INDEX_FLAG_DELTA, holding the users (whole records) and
 * their groups added or changed since the base, tagged with the base's
 * generation (base_generation). A lookup asks the delta first, then the
 * base; a base user or group whose name the delta has is shadowed by it. A
 * group's members are the base's (less the users the delta shadows) plus
 * the delta's. Only what this can express goes into a delta (new users,
 * changed groups of a user, new groups); anything else, or a delta past its
 * bound, is a full rebuild (base replaced, delta removed). A delta whose
 * base_generation is not the base's is stale (a crash between the base's
 * rename and the delta's removal) and ignored; a malformed one answers
 * AG_INDEX_CORRUPT like a malformed base.
 *
 * The writer (index_write.c) replaces the file atomically, and just before
 * that sets `superseded` in the old file, so a reader that mapped it knows to
 * map the new one without a system call per lookup.
 *
 * The reader (index_read.c) is libc only and is compiled into the NSS
 * module. It checks the header and section bounds once (O(1)), and every
 * index and offset again when it uses it, so a corrupt file gives
 * AG_INDEX_CORRUPT, never a read outside the file.
 */
#ifndef AG_INDEX_H
#define AG_INDEX_H

#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AG_INDEX_FILE "nss.index"
#define AG_INDEX_DELTA_SUFFIX ".delta"
#define AG_INDEX_DELTA_FILE AG_INDEX_FILE AG_INDEX_DELTA_SUFFIX
#define AG_INDEX_DEFAULT_PATH "/var/lib/authgear/" AG_INDEX_FILE

#define AG_INDEX_MAGIC "AGNSSIX"   /* 8 bytes with its NUL */
#define AG_INDEX_VERSION 3u         /* 3 adds the delta fields, 2 the generation; 1 and 2 are still read */
#define AG_INDEX_HEADER_V1_SIZE 128u
#define AG_INDEX_HEADER_V2_SIZE 136u
#define AG_INDEX_BYTE_ORDER 0x01020304u
#define AG_INDEX_SIZE_MAX (1u << 30)
#define AG_INDEX_NONE 0xffffffffu  /* no string */

#define AG_INDEX_GROUP_LOCAL 1u    /* the group exists on the host: only members are ours */
#define AG_INDEX_FLAG_DELTA 1u     /* header flags: this file is a delta */

struct ag_index_section {
	uint32_t off;   /* bytes from the start of the file */
	uint32_t count; /* elements (bytes for strings, slots for hash tables) */
};

struct ag_index_header {
	char magic[8];
	uint32_t version;
	uint32_t byte_order;
	uint32_t header_size;
	uint32_t superseded;  /* 0; 1 once a newer file replaced this one */
	uint64_t file_size;
	/* what provisional entries need (the module's settings when it wrote) */
	uint32_t uid_min, uid_max;
	uint32_t primary_gid; /* 0: user-private groups (GID = UID) */
	uint32_t allow;       /* string: the `users` allow-list, or NONE */
	uint32_t home;        /* string: home template, %u = name */
	uint32_t shell;       /* string */
	struct ag_index_section users, user_names, user_uids;
	struct ag_index_section groups, group_names, group_gids;
	struct ag_index_section ids, pins, strings;
	/* version 2: the store's generation this index was built from (a
	 * writer that finds another one rebuilds it: store.h) */
	uint64_t generation;
	/* version 3 */
	uint64_t base_generation; /* a delta: the generation of its base; a base: 0 */
	uint32_t flags;           /* AG_INDEX_FLAG_DELTA */
	/* a base: the low 32 bits of the generation of the delta installed on
	 * it, written in place after each delta's rename (0: none), so a
	 * reader knows to map the new delta without a system call per lookup */
	uint32_t delta_hint;
};

struct ag_index_user {
	uint32_t name;        /* string */
	uint32_t hash;        /* (uint32_t)ag_fnv1a64(name) */
	uint32_t uid, gid;
	uint32_t home, shell; /* strings */
	uint32_t gids_first, gids_count; /* supplementary GIDs in ids */
};

struct ag_index_group {
	uint32_t name, hash, gid, flags;
	uint32_t members_first, members_count; /* user indices in ids */
};

struct ag_index_pin {
	uint32_t name, uid;
};

/* The hash of a UID or GID for the user_uids and group_gids tables. */
static inline uint32_t ag_index_id_hash(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	return x ^ (x >> 16);
}

/* --- reader ----------------------------------------------------------- */

/* The index the NSS module reads: AG_INDEX_DEFAULT_PATH (test-hooks builds:
 * AUTHGEAR_NSS_INDEX when set to an absolute path, through secure_getenv). */
const char *ag_index_path(void);

enum ag_index_status {
	AG_INDEX_OK,
	AG_INDEX_NOTFOUND,
	AG_INDEX_ERANGE,   /* the caller's buffer is too small */
	AG_INDEX_CORRUPT,
};

struct ag_index_file {
	const unsigned char *base;
	size_t size;
	const struct ag_index_header *h; /* NULL: none */
};

/* A base and its delta. Records are numbered base first (0 .. base users
 * - 1), then the delta's. */
struct ag_index {
	struct ag_index_file f; /* the base */
	struct ag_index_file d; /* the delta; d.h NULL: none */
};

/* Check an index of size bytes at base (8-byte aligned), without a delta.
 * On failure *why says what is wrong ("bad magic", "truncated: ...", ...). */
bool ag_index_open(const void *base, size_t size, struct ag_index *ix, const char **why);

/* Add the delta of size bytes at base to an opened index: AG_INDEX_OK;
 * AG_INDEX_NOTFOUND when it belongs to another base (stale: ignored);
 * AG_INDEX_CORRUPT (with *why) when it is malformed. Only OK attaches it. */
enum ag_index_status ag_index_attach_delta(struct ag_index *ix, const void *base, size_t size, const char **why);

/* Whether a writer has replaced the base, or installed another delta on
 * it, since they were mapped. */
bool ag_index_superseded(const struct ag_index *ix);

/* Record numbers for enumeration: 0 .. n - 1. A base record the delta
 * shadows fills as AG_INDEX_NOTFOUND (skip it). */
uint32_t ag_index_n_users(const struct ag_index *ix);
uint32_t ag_index_n_groups(const struct ag_index *ix);
/* The name of group k of the delta alone (k < its group count), or NULL. */
const char *ag_index_delta_group_name(const struct ag_index *ix, uint32_t k);

enum ag_index_status ag_index_user_by_name(const struct ag_index *ix, const char *name, uint32_t *idx);
enum ag_index_status ag_index_user_by_uid(const struct ag_index *ix, uint32_t uid, uint32_t *idx);
enum ag_index_status ag_index_group_by_name(const struct ag_index *ix, const char *name, uint32_t *idx);
enum ag_index_status ag_index_group_by_gid(const struct ag_index *ix, uint32_t gid, uint32_t *idx);

/* Fill pw / gr from record idx; strings (and gr_mem) go into buf. */
enum ag_index_status ag_index_fill_passwd(const struct ag_index *ix, uint32_t idx, struct passwd *pw, char *buf,
					  size_t len);
enum ag_index_status ag_index_fill_group(const struct ag_index *ix, uint32_t idx, struct group *gr, char *buf,
					 size_t len);
/* Whether group idx is a host-local group (not listed by getgrent). */
enum ag_index_status ag_index_group_local(const struct ag_index *ix, uint32_t idx, bool *local);
/* Group idx's GID (without filling its members). */
enum ag_index_status ag_index_group_gid(const struct ag_index *ix, uint32_t idx, uint32_t *gid);

/* User idx's supplementary GIDs: *gids points into the index. */
enum ag_index_status ag_index_user_gids(const struct ag_index *ix, uint32_t idx, const uint32_t **gids,
					uint32_t *n);

/* A provisional entry for a name that is not bound: allowed by the
 * allow-list the index carries, valid, not root. UID: the pinned one, else
 * the first hash candidate. NOTFOUND for any other name. */
enum ag_index_status ag_index_provisional(const struct ag_index *ix, const char *name, struct passwd *pw,
					  char *buf, size_t len);

/* The same, where a name only a pattern of the allow-list matches counts
 * only when by_pattern is true; a name listed by itself or pinned always
 * does. The NSS module answers pattern matches only to sshd (its lookup
 * before PAM runs), so useradd and `getent passwd x || useradd x` see
 * that such a name does not exist yet. */
enum ag_index_status ag_index_provisional_for(const struct ag_index *ix, const char *name, bool by_pattern,
					      struct passwd *pw, char *buf, size_t len);

/* Whether this process is sshd (sshd, sshd-session, sshd-auth: the
 * executable's name), the one caller that gets provisional entries of names
 * only a pattern matches (the by_pattern of ag_index_provisional_for). */
bool ag_index_caller_is_sshd(void);

/* Whether the index names name by itself: a bound user, a pin, or an entry
 * of the allow-list equal to it (not a pattern match). */
bool ag_index_names(const struct ag_index *ix, const char *name);

/* The same entries by UID, so getpwnam and getpwuid agree (id(1) asks
 * both): only names the index can lead back to, the pinned names and the
 * plain names (not patterns) of the allow-list. NOTFOUND otherwise. */
enum ag_index_status ag_index_provisional_by_uid(const struct ag_index *ix, uint32_t uid, struct passwd *pw,
						 char *buf, size_t len);

/* The user-private group (GID = UID, no members) of a provisional entry, by
 * name and by GID; NOTFOUND with a shared primary_group. */
enum ag_index_status ag_index_provisional_group(const struct ag_index *ix, const char *name, struct group *gr,
						char *buf, size_t len);
enum ag_index_status ag_index_provisional_group_by_gid(const struct ag_index *ix, uint32_t gid, struct group *gr,
						       char *buf, size_t len);

#endif
