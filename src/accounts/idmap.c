/* UIDs of first logins and GIDs of new groups (see idmap.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounts/idmap.h"
#include "accounts/index_write.h"
#include "common/index.h"

#define NSS_BUF_MAX (1024 * 1024)

/* --- the host's NSS -------------------------------------------------------- */

/* The GID the index at index_path serves for group name; false when it
 * serves none. */
static bool index_group_gid(const char *index_path, const char *name, uint32_t *gid)
{
	struct ag_index_mapped m;
	uint32_t idx;
	bool served;

	if (!ag_index_map(index_path, &m))
		return false;
	served = ag_index_group_by_name(&m.ix, name, &idx) == AG_INDEX_OK &&
		 ag_index_group_gid(&m.ix, idx, gid) == AG_INDEX_OK;
	ag_index_unmap(&m);
	return served;
}

/* getpw*_r and getgr*_r report "no entry" with 0 and a NULL result, or with
 * one of these (getpwnam_r(3)). Anything else: the source failed. */
static bool no_entry(int rc)
{
	return rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM;
}

enum lookup { BY_UID, BY_GID, BY_USER, BY_GROUP };

static int nss_lookup(enum lookup what, uint32_t id, const char *name, char *name_out, size_t name_len,
		      uint32_t *id_out)
{
	size_t len = 16384;
	int found = -1;

	for (;;) {
		char *buf = malloc(len);
		struct passwd pw, *pwr = NULL;
		struct group gr, *grr = NULL;
		int rc;

		if (!buf)
			return -1;
		switch (what) {
		case BY_UID: rc = getpwuid_r((uid_t)id, &pw, buf, len, &pwr); break;
		case BY_USER: rc = getpwnam_r(name, &pw, buf, len, &pwr); break;
		case BY_GID: rc = getgrgid_r((gid_t)id, &gr, buf, len, &grr); break;
		default: rc = getgrnam_r(name, &gr, buf, len, &grr); break;
		}
		if (rc == ERANGE && len < NSS_BUF_MAX) {
			free(buf);
			len *= 2;
			continue;
		}
		/* A group too large for the cap that the NSS module serves (one
		 * [roles] group of 100,000 users): the GID is all a probe wants,
		 * and the index has it (NSS asked the module for the same name). */
		if (rc == ERANGE && what == BY_GROUP && id_out && index_group_gid(ag_index_path(), name, id_out))
			found = 1;
		if (rc == 0 && (pwr || grr)) {
			if (name_out)
				snprintf(name_out, name_len, "%s", pwr ? pwr->pw_name : grr->gr_name);
			if (id_out)
				*id_out = pwr ? (uint32_t)pwr->pw_uid : (uint32_t)grr->gr_gid;
			found = 1;
		} else if (no_entry(rc)) {
			found = 0;
		}
		free(buf);
		return found;
	}
}

static int sys_uid_owner(void *ctx, uint32_t uid, char *name, size_t len)
{
	return nss_lookup(BY_UID, uid, NULL, name, len, NULL);
}

static int sys_gid_owner(void *ctx, uint32_t gid, char *name, size_t len)
{
	return nss_lookup(BY_GID, gid, NULL, name, len, NULL);
}

static int sys_user_uid(void *ctx, const char *name, uint32_t *uid)
{
	return nss_lookup(BY_USER, 0, name, NULL, 0, uid);
}

static int sys_group_gid(void *ctx, const char *name, uint32_t *gid)
{
	return nss_lookup(BY_GROUP, 0, name, NULL, 0, gid);
}

const struct ag_idmap_probe ag_idmap_system_probe = {
	sys_uid_owner, sys_gid_owner, sys_user_uid, sys_group_gid, NULL,
};

/* --- the collision sequence --------------------------------------------------- */

static enum ag_err pick(enum ag_id_kind kind, const char *name, const struct ag_id_range *range,
			struct ag_idset *taken, bool upg, const struct ag_idmap_probe *probe, const struct ag_log *log,
			uint32_t *out)
{
	const char *what = kind == AG_ID_USER ? "UID" : "GID";

	for (unsigned k = 0; k < AG_UID_CANDIDATES_MAX; k++) {
		uint32_t c = ag_id_candidate(kind, name, k, range);
		char owner[256] = "";
		const char *why = NULL;
		int r;

		if (ag_id_reserved(c))
			why = "is reserved";
		else if (ag_idset_has(taken, c))
			why = "is taken by this host's store or configuration";
		if (!why && kind == AG_ID_USER) {
			r = probe->uid_owner(probe->ctx, c, owner, sizeof owner);
			if (r < 0)
				goto source_failed;
			if (r > 0 && strcmp(owner, name) != 0)
				why = "is taken by passwd entry";
		}
		if (!why && (kind == AG_ID_GROUP || upg)) {
			r = probe->gid_owner(probe->ctx, c, owner, sizeof owner);
			if (r < 0)
				goto source_failed;
			if (r > 0 && (kind == AG_ID_GROUP || strcmp(owner, name) != 0))
				why = "is taken by group entry";
		}
		if (!why) {
			if (k > 0)
				ag_log(log, LOG_WARNING, "idmap: %s gets %s %u (candidate %u after %u collisions)", name,
				       what, c, k, k);
			*out = c;
			return AG_OK;
		}
		ag_log(log, LOG_NOTICE, "idmap: %s: candidate %u (%s %u) %s%s%s", name, k, what, c, why,
		       owner[0] ? " " : "", owner);
		continue;
source_failed:
		ag_log(log, LOG_ERR, "idmap: %s: cannot check %s %u with the other user databases (NSS failed)", name,
		       what, c);
		return AG_ERR_IO;
	}
	ag_log(log, LOG_ERR, "idmap: %s: all %d %s candidates are taken; widen uid_range or pin one in [uids]", name,
	       AG_UID_CANDIDATES_MAX, what);
	return AG_ERR_CONFIG;
}

enum ag_err ag_idmap_uid(const char *user, const struct ag_id_range *range, struct ag_idset *taken, bool upg,
			 const struct ag_idmap_probe *probe, const struct ag_log *log, uint32_t *out)
{
	return pick(AG_ID_USER, user, range, taken, upg, probe, log, out);
}

enum ag_err ag_idmap_gid(const char *group, const struct ag_id_range *range, struct ag_idset *taken,
			 const struct ag_idmap_probe *probe, const struct ag_log *log, uint32_t *out)
{
	return pick(AG_ID_GROUP, group, range, taken, false, probe, log, out);
}
