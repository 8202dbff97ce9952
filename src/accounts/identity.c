/* From an Authgear account to a Unix account (see identity.h). */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "accounts/identity.h"
#include "accounts/host_groups.h"
#include "accounts/index_write.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/strv.h"
#include "common/index.h"
#include "common/names.h"
#include "common/uid.h"

#define IMPORT_MAX (16 * 1024 * 1024)
#define HOME_MAX 4096
#define LOG_LIST_MAX 1024 /* a list joined for one log line */

static struct ag_id_range config_range(const struct ag_config *cfg)
{
	struct ag_id_range r;

	if (!cfg->uid_range || !ag_id_range_parse(cfg->uid_range, &r))
		ag_id_range_parse(AG_UID_RANGE_DEFAULT, &r);
	return r;
}

/* The UID [uids] pins for name, or 0. */
static uint32_t config_pin(const struct ag_config *cfg, const char *name)
{
	uint32_t uid;
	const char *v = ag_config_table_get(ag_config_table(cfg, "uids"), name);

	return v && ag_id_parse(v, &uid) ? uid : 0;
}

bool ag_identity_reserved(const char *name, const struct ag_idmap_probe *probe)
{
	uint32_t uid;

	if (!probe)
		probe = &ag_idmap_system_probe;
	if (strcmp(name, "root") == 0)
		return true;
	return probe->user_uid(probe->ctx, name, &uid) > 0 && (uid < AG_UID_MIN_ALLOWED || uid == AG_UID_NOBODY);
}

enum ag_err ag_identity_groups_for_roles(const struct ag_config *cfg, char *const *roles, size_t n_roles,
					 char ***groups, size_t *n_groups)
{
	const struct ag_config_table *t = ag_config_table(cfg, "roles");
	struct ag_strv out = { 0 };

	for (size_t i = 0; t && i < t->n_entries && !out.failed; i++)
		for (size_t r = 0; r < n_roles; r++)
			if (strcmp(t->entries[i].key, roles[r]) == 0) {
				ag_name_list_each(t->entries[i].value, ag_strv_add_unique, &out);
				break;
			}
	if (out.failed) {
		ag_strv_free(out.v, out.n);
		return AG_ERR_NOMEM;
	}
	*groups = out.v;
	*n_groups = out.n;
	return AG_OK;
}

bool ag_identity_grantable(const struct ag_config *cfg, const char *group)
{
	return ag_config_grants(cfg, group);
}

/* Bound, or pinned by authgear-pam pin/import; false when the store cannot
 * be read (a pattern match is then decided without it). */
static bool in_store(const struct ag_config *cfg, const struct ag_log *log, const char *user)
{
	struct ag_store *store = NULL;
	struct ag_store_user u;
	bool found = false;

	/* one row, not the whole store: every login asks */
	if (ag_store_open(cfg->state_dir, log, &store) == AG_OK && ag_store_user(store, user, &u, &found) == AG_OK) {
		found = found && (u.sub || u.uid);
		ag_store_user_clear(&u);
	} else {
		found = false;
	}
	ag_store_close(store);
	return found;
}

/* What another source already gives the name a pattern matched: an account
 * (other than our own provisional entry, whose UID is the first candidate)
 * or a group (files, LDAP, or one we serve); NULL: nothing. */
static const char *host_has(const struct ag_config *cfg, const struct ag_idmap_probe *probe, const char *user)
{
	struct ag_id_range range = config_range(cfg);
	uint32_t id;
	int r;

	if (ag_config_group_name(cfg, user))
		return "a group of [roles] or primary_group";
	r = probe->user_uid(probe->ctx, user, &id);
	if (r < 0)
		return "an account in a user database that failed to answer";
	if (r > 0 && id != ag_id_first(AG_ID_USER, user, &range))
		return "an account";
	r = probe->group_gid(probe->ctx, user, &id);
	if (r < 0)
		return "a group in a group database that failed to answer";
	if (r > 0)
		return "a group";
	return NULL;
}

bool ag_identity_is_ours(const struct ag_config *cfg, const struct ag_log *log, const char *user,
			 const struct ag_idmap_probe *probe)
{
	const char *has;

	if (!probe)
		probe = &ag_idmap_system_probe;
	if (!ag_name_valid(user) || ag_identity_reserved(user, probe))
		return false; /* root and the host's system accounts are never ours */
	/* The admin's deliberate choices: a listed name (a migration keeps its
	 * host UID), a pin; bound names stay ours after they leave the list. */
	if (ag_name_listed(cfg->users, user) || config_pin(cfg, user) || in_store(cfg, log, user))
		return true;
	if (!ag_name_allowed(cfg->users, user))
		return false;
	has = host_has(cfg, probe, user);
	if (has) {
		ag_log(log, LOG_INFO,
		       "%s matches a pattern of users, but this host already has %s of that name; "
		       "not an Authgear user (list it by name to migrate it)",
		       user, has);
		return false;
	}
	return true;
}

/* Add the IDs the configuration gives out (except user's own) to taken. */
static enum ag_err config_taken(const struct ag_config *cfg, const char *user, struct ag_idset *taken)
{
	const struct ag_config_table *uids = ag_config_table(cfg, "uids");
	enum ag_err err = AG_OK;
	uint32_t id;

	for (size_t i = 0; uids && i < uids->n_entries && err == AG_OK; i++)
		if ((!user || strcmp(uids->entries[i].key, user) != 0) && ag_id_parse(uids->entries[i].value, &id))
			err = ag_idset_add(taken, id);
	return err;
}

/* The IDs shown by the index, from the configuration: a change of any of
 * these rebuilds it (store.h, ag_store_indexer.view). */
static uint64_t config_view(const struct ag_config *cfg)
{
	const char *const parts[] = { cfg->users, cfg->home, cfg->shell, cfg->uid_range, cfg->primary_group };
	static const char *const tables[] = { "roles", "uids" };
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
		h = (h ^ ag_fnv1a64(parts[i] ? parts[i] : "\1", parts[i] ? strlen(parts[i]) + 1 : 1)) *
		    1099511628211ull;
	for (size_t t = 0; t < sizeof tables / sizeof *tables; t++) {
		const struct ag_config_table *tab = ag_config_table(cfg, tables[t]);

		for (size_t i = 0; tab && i < tab->n_entries; i++) {
			h = (h ^ ag_fnv1a64(tab->entries[i].key, strlen(tab->entries[i].key) + 1)) * 1099511628211ull;
			h = (h ^ ag_fnv1a64(tab->entries[i].value, strlen(tab->entries[i].value) + 1)) *
			    1099511628211ull;
		}
		h = (h ^ (t + 1)) * 1099511628211ull;
	}
	return h & 0x7fffffffffffffffull; /* kept as a SQLite integer */
}

/* The IDs the current index shows for name as a provisional entry (what
 * sshd saw before PAM ran); false when it shows none. */
static bool provisional_ids(const char *state_dir, const char *name, uint32_t *uid, uint32_t *gid)
{
	char path[PATH_MAX], buf[8192];
	struct ag_index_mapped m;
	struct passwd pw;
	bool shown = false;

	if (snprintf(path, sizeof path, "%s/%s", state_dir, AG_INDEX_FILE) >= (int)sizeof path ||
	    !ag_index_map(path, &m))
		return false;
	if (ag_index_provisional(&m.ix, name, &pw, buf, sizeof buf) == AG_INDEX_OK) {
		*uid = (uint32_t)pw.pw_uid;
		*gid = (uint32_t)pw.pw_gid;
		shown = true;
	}
	ag_index_unmap(&m);
	return shown;
}

bool ag_identity_index_names(const char *index_path, const char *name)
{
	struct ag_index_mapped m;
	bool named;

	if (!ag_index_map(index_path, &m))
		return false;
	named = ag_index_names(&m.ix, name);
	ag_index_unmap(&m);
	return named;
}

bool ag_identity_index_pattern_only(const char *index_path, const char *name)
{
	struct ag_index_mapped m;
	struct passwd pw;
	char buf[8192];
	bool only;

	if (!ag_index_map(index_path, &m))
		return false;
	only = ag_index_provisional_for(&m.ix, name, true, &pw, buf, sizeof buf) == AG_INDEX_OK &&
	       ag_index_provisional_for(&m.ix, name, false, &pw, buf, sizeof buf) == AG_INDEX_NOTFOUND;
	ag_index_unmap(&m);
	return only;
}

struct login_ctx {
	const struct ag_config *cfg;
	const struct ag_log *log;
	const struct ag_idmap_probe *probe;
	const char *state_dir;
	bool provisional_differs; /* out: refuse this first login */
	const char *user, *sub;
	time_t now;
	char *const *roles;
	size_t n_roles;
	const enum ag_store_factor *factor; /* NULL: leave the remembered one */
	char **groups;
	size_t n_groups;
	struct ag_id_range range;
	struct ag_idset taken;
	bool taken_loaded;
	const struct ag_token_cache *tokens; /* NULL: none to cache */
};

/* The IDs given out, read only when one must be chosen (a first login, a
 * new group): a repeat login does not read every user. */
static enum ag_err need_taken(struct login_ctx *c, struct ag_store_tx *tx)
{
	enum ag_err err;

	if (c->taken_loaded)
		return AG_OK;
	err = ag_store_tx_taken(tx, c->user, &c->taken);
	if (err == AG_OK)
		err = config_taken(c->cfg, c->user, &c->taken);
	c->taken_loaded = err == AG_OK;
	return err;
}

/* The UID of a first login; *host: taken from a host entry of the same
 * name (which programs saw instead of our provisional entry). */
static enum ag_err first_uid(struct login_ctx *c, struct ag_store_tx *tx, struct ag_store_user *u, bool *host)
{
	uint32_t pin = config_pin(c->cfg, c->user), host_uid;
	char holder[AG_NAME_MAX + 1];
	bool held;
	enum ag_err err;
	int r;

	if (pin) {
		err = ag_store_tx_uid_holder(tx, pin, c->user, holder, &held);
		if (err != AG_OK)
			return err;
		if (held) {
			ag_log(c->log, LOG_ERR, "account: [uids] pins %s to UID %u, which %s already has; refusing",
			       c->user, pin, holder);
			return AG_ERR_CONFIG;
		}
		u->uid = pin;
		ag_log(c->log, LOG_NOTICE, "account: %s gets UID %u from [uids]", c->user, pin);
		return AG_OK;
	}
	err = need_taken(c, tx);
	if (err != AG_OK)
		return err;
	/* A host entry of the same name (files, LDAP) that is not our
	 * provisional one: keep its UID, so its files stay its own. */
	r = c->probe->user_uid(c->probe->ctx, c->user, &host_uid);
	if (r < 0) {
		ag_log(c->log, LOG_ERR, "account: cannot look %s up in the other user databases", c->user);
		return AG_ERR_IO;
	}
	if (r > 0 && host_uid != ag_id_first(AG_ID_USER, c->user, &c->range) && !ag_id_reserved(host_uid) &&
	    !ag_idset_has(&c->taken, host_uid)) {
		u->uid = host_uid;
		*host = true;
		ag_log(c->log, LOG_NOTICE, "account: %s already has UID %u on this host; pinned", c->user, host_uid);
		return AG_OK;
	}
	err = ag_idmap_uid(c->user, &c->range, &c->taken, !c->cfg->primary_group, c->probe, c->log, &u->uid);
	if (err == AG_OK)
		ag_log(c->log, LOG_NOTICE, "account: %s gets UID %u", c->user, u->uid);
	return err;
}

/* The store's record of group name, created on first use: a host group keeps
 * its GID; another gets one from the hash sequence. *ok false: not grantable
 * (logged). */
static enum ag_err ensure_group(struct login_ctx *c, struct ag_store_tx *tx, const char *name, struct ag_store_group *g,
				bool *ok)
{
	uint32_t host_gid = 0, gid;
	bool found;
	enum ag_err err;
	int r;

	*ok = false;
	err = ag_store_tx_group(tx, name, g, &found);
	if (err != AG_OK)
		return err;
	r = c->probe->group_gid(c->probe->ctx, name, &host_gid);
	if (r < 0) {
		ag_log(c->log, LOG_ERR, "account: cannot look group %s up in the other group databases", name);
		return AG_ERR_IO;
	}
	if (r > 0 && host_gid == 0) {
		ag_log(c->log, LOG_ERR, "account: group %s has GID 0 on this host; never granted", name);
		return AG_OK;
	}
	if (found) {
		if (r > 0 && host_gid != g->gid) {
			ag_log(c->log, LOG_NOTICE,
			       "account: group %s exists on this host with GID %u (was %u); using it", name, host_gid,
			       g->gid);
			g->gid = host_gid;
			g->local = true;
			err = ag_store_tx_put_group(tx, g);
		}
		*ok = err == AG_OK;
		return err;
	}
	if (r > 0) {
		g->gid = host_gid;
		g->local = true;
		err = ag_store_tx_put_group(tx, g);
		if (err == AG_OK)
			ag_log(c->log, LOG_NOTICE, "account: group %s is a host group (GID %u); adding members", name,
			       host_gid);
		*ok = err == AG_OK;
		return err;
	}
	err = need_taken(c, tx);
	if (err == AG_OK)
		err = ag_idmap_gid(name, &c->range, &c->taken, c->probe, c->log, &gid);
	if (err == AG_OK)
		err = ag_idset_add(&c->taken, gid);
	if (err == AG_OK) {
		g->gid = gid;
		g->local = false;
		err = ag_store_tx_put_group(tx, g);
	}
	if (err == AG_OK)
		ag_log(c->log, LOG_NOTICE, "account: group %s gets GID %u", name, gid);
	*ok = err == AG_OK;
	return err;
}

/* What a build of the index reads besides the store: the configuration
 * and the host's group databases (host_groups_win). */
struct index_ctx {
	const struct ag_config *cfg;
	const struct ag_idmap_probe *probe;
};

static enum ag_err build_index(struct ag_store_tx *tx, uint64_t generation, void *ctx, void **data, size_t *len);
static enum ag_err build_index_delta(struct ag_store_tx *tx, uint64_t generation, const struct ag_index *base,
				     char *const *names, size_t n, void *ctx, void **data, size_t *len);

/* Every change goes through one store transaction; the index is rebuilt in
 * it when something it shows changed. probe: NULL for the system's. */
static enum ag_err edit(struct ag_store *s, const struct ag_config *cfg, const struct ag_idmap_probe *probe,
			ag_store_tx_fn fn, void *ctx)
{
	struct index_ctx ic = { cfg, probe ? probe : &ag_idmap_system_probe };
	struct ag_store_indexer ix = { build_index, build_index_delta, &ic, config_view(cfg) };

	return ag_store_write(s, fn, ctx, &ix);
}

/* A host group (files, LDAP) named like user, other than user's own private
 * group (GID = UID), wins over that private group: getgrgid of the private
 * GID answering the name would give user the host group's name, and sudo's
 * %group rules and sshd's AllowGroups match by name. The group is recorded
 * as a host group, which the index never serves under user's private GID
 * (index_bytes); the record stays when the host group goes. found, gid: the
 * host's answer for the name (getgrnam's, ours included); no answer leaves
 * things as they are. */
static enum ag_err host_group_wins(struct ag_store_tx *tx, const struct ag_log *log, const char *user, uint32_t uid,
				   bool found, uint32_t gid)
{
	struct ag_store_group g;
	bool have;
	enum ag_err err;

	if (!found || gid == uid)
		return AG_OK;
	if (gid == 0) {
		ag_log(log, LOG_ERR,
		       "account: this host has a group %s with GID 0, the name of user %s; the NSS index is "
		       "not written until one of them is renamed",
		       user, user);
		return AG_ERR_CONFIG;
	}
	err = ag_store_tx_gid_holder(tx, gid, g.name, &have);
	if (err != AG_OK || have)
		return err; /* one of ours (the index still shows a former [roles] group of that name) */
	err = ag_store_tx_group(tx, user, &g, &have);
	if (err != AG_OK || (have && g.local && g.gid == gid))
		return err;
	g.gid = gid;
	g.local = true;
	err = ag_store_tx_put_group(tx, &g);
	if (err != AG_OK)
		return err;
	ag_store_tx_reindex(tx);
	ag_log(log, LOG_WARNING,
	       "account: this host has a group %s (GID %u); user %s's private group (GID %u) no "
	       "longer answers by that name (rename one of them)",
	       user, gid, user, uid);
	return AG_OK;
}

/* host_group_wins for one user, asking the host for its name; a source
 * that fails to answer leaves things as they are. */
static enum ag_err yield_private_group(struct ag_store_tx *tx, const struct ag_idmap_probe *probe,
				       const struct ag_log *log, const char *user, uint32_t uid)
{
	uint32_t gid = 0;
	int r = probe->group_gid(probe->ctx, user, &gid);

	if (r < 0)
		ag_log(log, LOG_WARNING, "account: cannot look group %s up in the other group databases", user);
	return host_group_wins(tx, log, user, uid, r > 0, gid);
}

/* A login goes on only for a bound name that is not also a group's. */
static enum ag_err login_allowed(const struct login_ctx *c, const struct ag_store_user *u)
{
	if (!u->sub) {
		ag_log(c->log, LOG_ERR, "account: %s is not bound; no UID given", c->user);
		return AG_ERR_INVALID_ARG;
	}
	if (ag_config_group_name(c->cfg, c->user)) {
		/* bound by a pattern before groups were reserved */
		ag_log(c->log, LOG_ERR,
		       "account: %s is also the name of a group of [roles] or primary_group; a user may "
		       "not take a group's name (authgear-pam forget %s, or rename the group); refusing",
		       c->user, c->user);
		return AG_ERR_CONFIG;
	}
	return AG_OK;
}

/* The store's record of primary_group; a primary group we may not use
 * refuses the login. */
static enum ag_err ensure_primary(struct login_ctx *c, struct ag_store_tx *tx, struct ag_store_group *g)
{
	bool ok;
	enum ag_err err = ensure_group(c, tx, c->cfg->primary_group, g, &ok);

	return err == AG_OK && !ok ? AG_ERR_CONFIG : err;
}

/* The IDs of a first login. When the provisional entry showed other IDs
 * before, programs may hold them: c->provisional_differs refuses this
 * login, so that the next one starts with the pinned IDs. */
static enum ag_err first_login(struct login_ctx *c, struct ag_store_tx *tx, struct ag_store_user *u)
{
	struct ag_store_group g;
	uint32_t shown_uid, shown_gid;
	bool shown = provisional_ids(c->state_dir, c->user, &shown_uid, &shown_gid), host = false;
	enum ag_err err = first_uid(c, tx, u, &host);

	if (err == AG_OK && c->cfg->primary_group)
		err = ensure_primary(c, tx, &g);
	if (err != AG_OK)
		return err;
	if (shown && !host && (shown_uid != u->uid || shown_gid != (c->cfg->primary_group ? g.gid : u->uid))) {
		ag_log(c->log, LOG_WARNING,
		       "account: before its first login %s was shown UID %u GID %u, now it has "
		       "UID %u; this login is refused so that the next one starts with the "
		       "pinned IDs",
		       c->user, shown_uid, shown_gid, u->uid);
		c->provisional_differs = true;
	}
	return AG_OK;
}

/* u->groups from this login's roles: the primary group's record first,
 * then each group [roles] grants that may be granted; their names joined
 * into list for the log. */
static enum ag_err grant_groups(struct login_ctx *c, struct ag_store_tx *tx, struct ag_store_user *u,
				struct ag_buf *list)
{
	struct ag_store_group g;
	struct ag_strv granted = { 0 };
	enum ag_err err = AG_OK;
	bool ok;

	if (c->cfg->primary_group)
		err = ensure_primary(c, tx, &g);
	for (size_t i = 0; i < c->n_groups && err == AG_OK; i++) {
		const char *name = c->groups[i];

		/* (a user of that name loses its private group in the index, never
		 * the [roles] group its members) */
		err = ensure_group(c, tx, name, &g, &ok);
		if (err == AG_OK && ok && !ag_strv_add_unique(name, &granted))
			err = AG_ERR_NOMEM;
		if (ok)
			ag_buf_join(list, ",", name);
	}
	if (err == AG_OK && !ag_strv_set(&u->groups, &u->n_groups, granted.v, granted.n))
		err = AG_ERR_NOMEM;
	ag_strv_free(granted.v, granted.n);
	return err;
}

static enum ag_err login_edit(struct ag_store_tx *tx, struct ag_store_user *u, void *vctx)
{
	struct login_ctx *c = vctx;
	struct ag_buf list = AG_BUF_INIT(LOG_LIST_MAX);
	enum ag_err err = login_allowed(c, u);
	uint32_t pin;

	if (err != AG_OK)
		return err;
	if (!u->uid) {
		err = first_login(c, tx, u);
		if (err != AG_OK)
			return err;
	} else if ((pin = config_pin(c->cfg, c->user)) && pin != u->uid) {
		ag_log(c->log, LOG_WARNING,
		       "account: [uids] pins %s to %u, but its UID has been %u since its first "
		       "login; keeping %u (authgear-pam forget resets it)",
		       c->user, pin, u->uid, u->uid);
	}
	err = c->taken_loaded ? ag_idset_add(&c->taken, u->uid) : AG_OK;
	/* (reindex does this for every user, host_groups_win) */
	if (err == AG_OK && !c->cfg->primary_group)
		err = yield_private_group(tx, c->probe, c->log, c->user, u->uid);
	if (err == AG_OK)
		err = grant_groups(c, tx, u, &list);
	if (err == AG_OK && !ag_strv_set(&u->roles, &u->n_roles, c->roles, c->n_roles))
		err = AG_ERR_NOMEM;
	if (err == AG_OK)
		ag_log(c->log, LOG_INFO, "account: %s uid=%u groups=%s", c->user, u->uid, ag_buf_shown(&list));
	ag_buf_free(&list);
	return err;
}

/* The login's one transaction: bind, UID, groups, the throttle. */
static enum ag_err login_tx(struct ag_store_tx *tx, void *vctx)
{
	struct login_ctx *c = vctx;
	enum ag_err err = ag_store_tx_login_user(tx, c->user, c->sub, c->now, login_edit, c);

	if (err == AG_OK && c->factor)
		err = ag_store_tx_set_last_factor(tx, c->user, *c->factor);
	if (err == AG_OK)
		err = ag_store_tx_throttle_clear(tx);
	if (err == AG_OK && c->tokens)
		err = ag_tokens_tx_put(tx, c->user, c->tokens);
	return err;
}

enum ag_err ag_identity_login(struct ag_store *s, const struct ag_config *cfg, const struct ag_log *log,
			      const char *user, const char *sub, char *const *roles, size_t n_roles,
			      const enum ag_store_factor *factor, const struct ag_idmap_probe *probe,
			      const struct ag_token_cache *tokens, bool *sign_in_again)
{
	struct login_ctx c = { .cfg = cfg,
			       .log = log,
			       .probe = probe ? probe : &ag_idmap_system_probe,
			       .state_dir = ag_store_state_dir(s),
			       .user = user,
			       .sub = sub,
			       .now = time(NULL),
			       .factor = factor,
			       .roles = roles,
			       .n_roles = n_roles,
			       .range = config_range(cfg),
			       .tokens = tokens };
	enum ag_err err;

	if (sign_in_again)
		*sign_in_again = false;
	if (!ag_name_valid(user))
		return AG_ERR_INVALID_ARG;
	err = ag_identity_groups_for_roles(cfg, roles, n_roles, &c.groups, &c.n_groups);
	if (err == AG_OK)
		err = edit(s, cfg, c.probe, login_tx, &c);
	if (err == AG_OK && c.provisional_differs) {
		if (sign_in_again)
			*sign_in_again = true;
		err = AG_ERR_DENIED;
	}
	ag_strv_free(c.groups, c.n_groups);
	ag_idset_free(&c.taken);
	return err;
}

/* --- the NSS index from the store -------------------------------------------- */

struct index_parts {
	struct ag_index_in_user *users;
	char **homes;
	size_t n_users;
	struct ag_index_in_group *groups;
	uint32_t **members;
	size_t n_groups;
	struct ag_index_in_pin *pins;
	size_t n_pins;
};

static void parts_free(struct index_parts *p)
{
	for (size_t i = 0; i < p->n_users; i++)
		free(p->homes[i]);
	for (size_t i = 0; i < p->n_groups; i++)
		free(p->members[i]);
	free(p->homes);
	free(p->users);
	free(p->members);
	free(p->groups);
	free(p->pins);
}

static bool has_group(const struct ag_store_user *u, const char *group)
{
	for (size_t i = 0; i < u->n_groups; i++)
		if (strcmp(u->groups[i], group) == 0)
			return true;
	return false;
}

static const char *user_name_at(const void *p, size_t i)
{
	return ((const struct index_parts *)p)->users[i].name;
}

/* The user index (into p->users, sorted by name like the store) of name, or -1. */
static long user_pos(const struct index_parts *p, const char *name)
{
	return ag_name_search(p->n_users, name, user_name_at, p);
}

static bool parts_alloc(struct index_parts *p, const struct ag_store_db *db, const struct ag_config_table *uids)
{
	size_t max_groups = db->n_groups + db->n_users, max_pins = db->n_users + (uids ? uids->n_entries : 0);

	p->users = calloc(db->n_users + 1, sizeof *p->users);
	p->homes = calloc(db->n_users + 1, sizeof *p->homes);
	p->groups = calloc(max_groups + 1, sizeof *p->groups);
	p->members = calloc(max_groups + 1, sizeof *p->members);
	p->pins = calloc(max_pins + 1, sizeof *p->pins);
	return p->users && p->homes && p->groups && p->members && p->pins;
}

/* Users: bound, with a UID; gid is their primary GID. */
static enum ag_err index_users(struct index_parts *p, const struct ag_store_db *db, const struct ag_config *cfg,
			       const struct ag_store_group *primary, const struct ag_log *log)
{
	for (size_t i = 0; i < db->n_users; i++) {
		const struct ag_store_user *u = &db->users[i];
		struct ag_index_in_user *o = &p->users[p->n_users];
		char home[HOME_MAX];

		if (!u->sub || !u->uid || strcmp(u->name, "root") == 0)
			continue;
		if (!ag_name_expand(cfg->home, u->name, home, sizeof home)) {
			ag_log(log, LOG_ERR, "index: home template does not fit for %s", u->name);
			return AG_ERR_CONFIG;
		}
		if (!(p->homes[p->n_users] = strdup(home)))
			return AG_ERR_NOMEM;
		o->name = u->name;
		o->uid = u->uid;
		o->gid = !cfg->primary_group ? u->uid : (primary ? primary->gid : u->uid);
		o->home = p->homes[p->n_users];
		o->shell = cfg->shell;
		p->n_users++;
	}
	return AG_OK;
}

/* Each user's private group (when there is no primary_group). */
static void index_private_groups(struct index_parts *p, const struct ag_store_db *db, const struct ag_config *cfg,
				 const struct ag_log *log)
{
	for (size_t i = 0; i < p->n_users; i++) {
		const struct ag_store_group *host = ag_store_db_group(db, p->users[i].name);

		if (ag_config_group_name(cfg, p->users[i].name)) {
			/* the [roles] group keeps its name: sudo's %group rules and
			 * sshd's AllowGroups match by name */
			ag_log(log, LOG_WARNING,
			       "index: user %s has the name of a group of [roles]; its private group "
			       "is left out",
			       p->users[i].name);
			continue;
		}
		if (host && host->local) {
			/* the same for a host group (yield_private_group) */
			ag_log(log, LOG_INFO,
			       "index: user %s has the name of a host group; its private group is left out",
			       p->users[i].name);
			continue;
		}
		p->groups[p->n_groups++] =
			(struct ag_index_in_group){ p->users[i].name, p->users[i].uid, false, NULL, 0 };
	}
}

/* The groups [roles] can grant (and the shared primary group) with their
 * members. */
static enum ag_err index_store_groups(struct index_parts *p, const struct ag_store_db *db, const struct ag_config *cfg,
				      const struct ag_store_group *primary)
{
	for (size_t i = 0; i < db->n_groups; i++) {
		const struct ag_store_group *g = &db->groups[i];
		struct ag_index_in_group *o = &p->groups[p->n_groups];
		bool is_primary = primary && g == primary, grantable = ag_identity_grantable(cfg, g->name);

		if (!grantable && !is_primary)
			continue; /* no longer in [roles]: its GID stays pinned, the group is not served */
		p->members[p->n_groups] = malloc((p->n_users + 1) * sizeof **p->members);
		if (!p->members[p->n_groups])
			return AG_ERR_NOMEM;
		o->name = g->name;
		o->gid = g->gid;
		o->local = g->local;
		o->members = p->members[p->n_groups];
		for (size_t u = 0; grantable && u < db->n_users; u++) {
			long pos;

			if (has_group(&db->users[u], g->name) && (pos = user_pos(p, db->users[u].name)) >= 0)
				p->members[p->n_groups][o->n_members++] = (uint32_t)pos;
		}
		p->n_groups++;
	}
	return AG_OK;
}

/* Pins for provisional entries: [uids] first (it wins at login), then the
 * store's pinned users not bound yet. */
static void index_pins(struct index_parts *p, const struct ag_store_db *db, const struct ag_config_table *uids)
{
	for (size_t i = 0; uids && i < uids->n_entries; i++) {
		uint32_t uid;

		if (ag_id_parse(uids->entries[i].value, &uid))
			p->pins[p->n_pins++] = (struct ag_index_in_pin){ uids->entries[i].key, uid };
	}
	for (size_t i = 0; i < db->n_users; i++)
		if (!db->users[i].sub && db->users[i].uid)
			p->pins[p->n_pins++] = (struct ag_index_in_pin){ db->users[i].name, db->users[i].uid };
}

/* The index file for db and cfg (*data: caller frees); with base, a delta
 * of it holding db's users (and their groups) alone. */
static enum ag_err index_bytes(const struct ag_store_db *db, const struct ag_config *cfg, const struct ag_log *log,
			       uint64_t generation, const struct ag_index *base, void **data, size_t *len)
{
	const struct ag_config_table *uids = ag_config_table(cfg, "uids");
	const struct ag_store_group *primary = cfg->primary_group ? ag_store_db_group(db, cfg->primary_group) : NULL;
	struct index_parts p = { 0 };
	struct ag_index_input in = { 0 };
	enum ag_err err = AG_ERR_NOMEM;

	*data = NULL;
	if (!parts_alloc(&p, db, uids))
		goto out;
	err = index_users(&p, db, cfg, primary, log);
	if (err != AG_OK)
		goto out;
	if (!cfg->primary_group)
		index_private_groups(&p, db, cfg, log);
	err = index_store_groups(&p, db, cfg, primary);
	if (err != AG_OK)
		goto out;
	index_pins(&p, db, uids);
	in.users = p.users;
	in.n_users = p.n_users;
	in.groups = p.groups;
	in.n_groups = p.n_groups;
	in.pins = p.pins;
	in.n_pins = p.n_pins;
	in.allow = cfg->users;
	in.range = config_range(cfg);
	in.primary_gid = primary ? primary->gid : 0;
	in.home_template = cfg->home;
	in.shell = cfg->shell;
	in.generation = generation;
	err = base ? ag_index_build_delta(&in, base, log, data, len) : ag_index_build(&in, log, data, len);
out:
	parts_free(&p);
	return err;
}

/* A bound user whose name the host's list gives another GID. */
struct host_winner {
	char name[AG_NAME_MAX + 1];
	uint32_t uid, gid;
};

struct host_check {
	const struct ag_host_groups *host;
	struct host_winner *v;
	size_t n, cap;
};

static enum ag_err check_bound(const char *name, uint32_t uid, void *ctx)
{
	struct host_check *h = ctx;
	uint32_t gid;

	if (!ag_host_groups_gid(h->host, name, &gid) || gid == uid)
		return AG_OK;
	if (h->n == h->cap) {
		size_t grow = h->cap ? h->cap * 2 : 16;
		struct host_winner *v = realloc(h->v, grow * sizeof *v);

		if (!v)
			return AG_ERR_NOMEM;
		h->v = v;
		h->cap = grow;
	}
	snprintf(h->v[h->n].name, sizeof h->v[h->n].name, "%s", name);
	h->v[h->n].uid = uid;
	h->v[h->n].gid = gid;
	h->n++;
	return AG_OK;
}

/* host_group_wins for every bound user: a host group can appear under any
 * user's name at any time. The host's groups are listed once and each
 * bound user's name looked up in that list (one getgrnam per user cost
 * 100,000 users 38 s), so only reindex runs it (authgear-pam reindex, and
 * the package's path unit when /etc/group changes): a login and an account
 * check apply the rule to their own user (login_edit). A list that stopped
 * early still answers for the groups it gave. */
static enum ag_err host_groups_win(struct ag_store_tx *tx, const struct index_ctx *ic)
{
	const struct ag_log *log = ag_store_tx_log(tx);
	struct ag_host_groups host;
	struct host_check h = { &host, NULL, 0, 0 };
	bool complete;
	enum ag_err err;

	if (ic->cfg->primary_group)
		return AG_OK; /* no private groups */
	err = ag_host_groups_list(&host, &complete);
	if (err != AG_OK)
		return err;
	if (!complete)
		ag_log(log, LOG_WARNING,
		       "account: the list of this host's groups stopped early (a source failed?); "
		       "the names it did not reach are left as they are");
	err = ag_store_tx_each_bound(tx, check_bound, &h);
	for (size_t i = 0; err == AG_OK && i < h.n; i++)
		err = host_group_wins(tx, log, h.v[i].name, h.v[i].uid, true, h.v[i].gid);
	free(h.v);
	ag_host_groups_free(&host);
	return err;
}

static enum ag_err build_index(struct ag_store_tx *tx, uint64_t generation, void *ctx, void **data, size_t *len)
{
	const struct index_ctx *ic = ctx;
	struct ag_store_db db = { 0 };
	enum ag_err err = AG_OK;

	if (err == AG_OK)
		err = ag_store_tx_read(tx, &db);
	if (err == AG_OK)
		err = index_bytes(&db, ic->cfg, ag_store_tx_log(tx), generation, NULL, data, len);
	ag_store_db_free(&db);
	return err;
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Group name's record into db once (when the store has it). */
static enum ag_err delta_group(struct ag_store_tx *tx, struct ag_store_db *db, const char *name)
{
	bool found;
	enum ag_err err;

	if (ag_store_db_group(db, name))
		return AG_OK;
	err = ag_store_tx_group(tx, name, &db->groups[db->n_groups], &found);
	if (err == AG_OK && found)
		db->n_groups++;
	return err;
}

/* The delta: the part of the store index_bytes reads for the named users,
 * and only that (a first login at any size reads a few rows). */
static enum ag_err build_index_delta(struct ag_store_tx *tx, uint64_t generation, const struct ag_index *base,
				     char *const *names, size_t n, void *ctx, void **data, size_t *len)
{
	const struct index_ctx *ic = ctx;
	struct ag_store_db db = { 0 };
	char **sorted = malloc((n ? n : 1) * sizeof *sorted);
	size_t max_groups = 1 + n;
	enum ag_err err = sorted ? AG_OK : AG_ERR_NOMEM;

	if (sorted)
		memcpy(sorted, names, n * sizeof *sorted);
	if (err == AG_OK && n)
		qsort(sorted, n, sizeof *sorted, by_str); /* db's users are sorted by name */
	db.users = calloc(n + 1, sizeof *db.users);
	if (!db.users)
		err = AG_ERR_NOMEM;
	for (size_t i = 0; i < n && err == AG_OK; i++) {
		bool found;

		err = ag_store_tx_user(tx, sorted[i], &db.users[db.n_users], &found);
		if (err != AG_OK)
			break;
		db.n_users++;
		if (!found || !db.users[db.n_users - 1].sub || !db.users[db.n_users - 1].uid)
			err = AG_ERR_UNSUPPORTED; /* no longer a bound user: a full rebuild */
		else
			max_groups += db.users[db.n_users - 1].n_groups;
	}
	if (err == AG_OK && !(db.groups = calloc(max_groups, sizeof *db.groups)))
		err = AG_ERR_NOMEM;
	/* the users' groups, the primary group, and groups named like them
	 * (a host group there hides the private group) */
	if (err == AG_OK && ic->cfg->primary_group)
		err = delta_group(tx, &db, ic->cfg->primary_group);
	for (size_t i = 0; i < db.n_users && err == AG_OK; i++) {
		err = delta_group(tx, &db, db.users[i].name);
		for (size_t g = 0; g < db.users[i].n_groups && err == AG_OK; g++)
			err = delta_group(tx, &db, db.users[i].groups[g]);
	}
	if (err == AG_OK)
		err = index_bytes(&db, ic->cfg, ag_store_tx_log(tx), generation, base, data, len);
	ag_store_db_free(&db);
	free(sorted);
	return err;
}

/* --- administration ------------------------------------------------------- */

static enum ag_err forget_tx(struct ag_store_tx *tx, void *ctx)
{
	bool found;
	enum ag_err err = ag_store_tx_remove_user(tx, ctx, &found);

	return err == AG_OK && !found ? AG_ERR_NOT_OURS : err;
}

enum ag_err ag_identity_forget(struct ag_store *s, const struct ag_config *cfg, const struct ag_log *log,
			       const char *user)
{
	enum ag_err err;

	if (!ag_name_valid(user))
		return AG_ERR_INVALID_ARG;
	err = edit(s, cfg, NULL, forget_tx, (void *)user);
	if (err == AG_OK)
		ag_log(log, LOG_NOTICE, "account: %s forgotten (binding, UID and groups removed)", user);
	return err;
}

struct pin_one {
	const char *user;
	uint32_t uid;
	const struct ag_config *cfg;
	char *why;
	size_t why_len;
};

/* [uids] as a set, for checking many pins against it. */
static enum ag_err config_pins(const struct ag_config *cfg, struct ag_idset *set)
{
	return config_taken(cfg, NULL, set);
}

/* Pin one UID inside a transaction. cfg_uids: the UIDs [uids] gives out. */
static enum ag_err pin_apply(struct ag_store_tx *tx, const struct pin_one *p, struct ag_idset *cfg_uids,
			     const char *where)
{
	const struct ag_config_table *uids = ag_config_table(p->cfg, "uids");
	char holder[AG_NAME_MAX + 1];
	struct ag_store_user u;
	bool held, found;
	enum ag_err err;
	uint32_t id;

	err = ag_store_tx_uid_holder(tx, p->uid, p->user, holder, &held);
	if (err == AG_OK && held)
		return ag_why(p->why, p->why_len, AG_ERR_DENIED, "%sUID %u already belongs to %s", where, p->uid,
			      holder);
	for (size_t i = 0; err == AG_OK && ag_idset_has(cfg_uids, p->uid) && uids && i < uids->n_entries; i++)
		if (strcmp(uids->entries[i].key, p->user) != 0 && ag_id_parse(uids->entries[i].value, &id) &&
		    id == p->uid)
			return ag_why(p->why, p->why_len, AG_ERR_DENIED, "%sUID %u is pinned to %s in [uids]", where,
				      p->uid, uids->entries[i].key);
	if (err == AG_OK)
		err = ag_store_tx_gid_holder(tx, p->uid, holder, &held);
	if (err == AG_OK && held)
		return ag_why(p->why, p->why_len, AG_ERR_DENIED, "%s%u is the GID of group %s", where, p->uid, holder);
	if (err == AG_OK)
		err = ag_store_tx_user(tx, p->user, &u, &found);
	if (err != AG_OK)
		return err;
	if (u.uid && u.uid != p->uid) {
		err = ag_why(p->why, p->why_len, AG_ERR_DENIED,
			     "%s%s already has UID %u (UIDs never change; authgear-pam forget %s first)", where,
			     p->user, u.uid, p->user);
	} else {
		u.uid = p->uid;
		err = ag_store_tx_put_user(tx, &u);
	}
	ag_store_user_clear(&u);
	return err;
}

static enum ag_err pin_tx(struct ag_store_tx *tx, void *ctx)
{
	struct ag_idset cfg_uids = { 0 };
	enum ag_err err = config_pins(((struct pin_one *)ctx)->cfg, &cfg_uids);

	if (err == AG_OK)
		err = pin_apply(tx, ctx, &cfg_uids, "");
	ag_idset_free(&cfg_uids);
	return err;
}

static bool name_ok_for_pin(const char *user)
{
	return ag_name_valid(user) && strcmp(user, "root") != 0;
}

enum ag_err ag_identity_pin(struct ag_store *s, const struct ag_config *cfg, const struct ag_log *log, const char *user,
			    uint32_t uid, char *why, size_t why_len)
{
	struct pin_one p = { user, uid, cfg, why, why_len };
	enum ag_err err;

	if (!name_ok_for_pin(user))
		return ag_why(why, why_len, AG_ERR_INVALID_ARG, "'%.40s' is not a valid user name", user);
	if (ag_id_reserved(uid))
		return ag_why(why, why_len, AG_ERR_INVALID_ARG, "UID %u is reserved", uid);
	err = edit(s, cfg, NULL, pin_tx, &p);
	if (err == AG_OK)
		ag_log(log, LOG_NOTICE, "account: %s pinned to UID %u", user, uid);
	return err;
}

struct import_line {
	char *name;
	uint32_t uid;
	unsigned line;
};

struct import_ctx {
	const struct ag_config *cfg;
	const char *path;
	struct import_line *v;
	size_t n;
	char *why;
	size_t why_len;
};

static enum ag_err import_tx(struct ag_store_tx *tx, void *vctx)
{
	struct import_ctx *c = vctx;
	struct ag_idset cfg_uids = { 0 };
	enum ag_err err = config_pins(c->cfg, &cfg_uids);

	for (size_t i = 0; i < c->n && err == AG_OK; i++) {
		struct pin_one p = { c->v[i].name, c->v[i].uid, c->cfg, c->why, c->why_len };
		char where[PATH_MAX + 32];

		snprintf(where, sizeof where, "%s:%u: ", c->path, c->v[i].line);
		err = pin_apply(tx, &p, &cfg_uids, where); /* a failure: nothing is written */
	}
	ag_idset_free(&cfg_uids);
	return err;
}

static int by_name(const void *a, const void *b)
{
	const struct import_line *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int by_uid(const void *a, const void *b)
{
	const struct import_line *x = a, *y = b;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return (x->line > y->line) - (x->line < y->line);
}

static int by_line(const void *a, const void *b)
{
	const struct import_line *x = a, *y = b;

	return (x->line > y->line) - (x->line < y->line);
}

/* Duplicates within the file are errors: sorted once by name and once by
 * UID (an import of 100,000 lines is not quadratic); the first duplicate
 * in file order is reported. */
static enum ag_err import_duplicates(struct import_ctx *c)
{
	const struct import_line *dup = NULL, *first = NULL;
	bool name = false;

	if (c->n == 0)
		return AG_OK; /* only comments and blank lines: c->v is NULL, which qsort must not get */
	qsort(c->v, c->n, sizeof *c->v, by_name);
	for (size_t i = 1; i < c->n; i++)
		if (strcmp(c->v[i].name, c->v[i - 1].name) == 0 && (!dup || c->v[i].line < dup->line)) {
			dup = &c->v[i];
			first = &c->v[i - 1];
			name = true;
			while (i + 1 < c->n && strcmp(c->v[i + 1].name, c->v[i].name) == 0)
				i++;
		}
	if (dup)
		return ag_why(c->why, c->why_len, AG_ERR_PARSE, "%s:%u: %s is listed again (line %u)", c->path,
			      dup->line, dup->name, first->line);
	qsort(c->v, c->n, sizeof *c->v, by_uid);
	for (size_t i = 1; i < c->n; i++)
		if (c->v[i].uid == c->v[i - 1].uid && (!dup || c->v[i].line < dup->line)) {
			dup = &c->v[i];
			first = &c->v[i - 1];
			while (i + 1 < c->n && c->v[i + 1].uid == c->v[i].uid)
				i++;
		}
	(void)name;
	if (dup)
		return ag_why(c->why, c->why_len, AG_ERR_PARSE, "%s:%u: UID %u is listed again (line %u)", c->path,
			      dup->line, dup->uid, first->line);
	qsort(c->v, c->n, sizeof *c->v, by_line);
	return AG_OK;
}

/* Parse "name:uid" lines. */
static enum ag_err import_parse(struct import_ctx *c, char *buf, size_t len)
{
	unsigned line = 0;
	size_t cap = 0;
	char *p = buf, *end = buf + len;

	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p)), *colon, *s = p;
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		uint32_t uid;

		line++;
		p += n + (nl ? 1 : 0);
		s[n] = '\0';
		if (n && s[n - 1] == '\r')
			s[--n] = '\0';
		if (memchr(s, '\0', n))
			return ag_why(c->why, c->why_len, AG_ERR_PARSE, "%s:%u: NUL byte", c->path, line);
		s += strspn(s, " \t");
		if (!*s || *s == '#')
			continue;
		colon = strchr(s, ':');
		if (!colon)
			return ag_why(c->why, c->why_len, AG_ERR_PARSE, "%s:%u: expected name:uid", c->path, line);
		*colon = '\0';
		if (!name_ok_for_pin(s))
			return ag_why(c->why, c->why_len, AG_ERR_PARSE, "%s:%u: '%.40s' is not a valid user name",
				      c->path, line, s);
		if (!ag_id_parse(colon + 1, &uid))
			return ag_why(c->why, c->why_len, AG_ERR_PARSE, "%s:%u: %s: not a UID from %u to %u (not %u)",
				      c->path, line, s, AG_UID_MIN_ALLOWED, AG_UID_MAX_ALLOWED, AG_UID_NOBODY);
		if (c->n == cap) {
			struct import_line *v = realloc(c->v, (cap = cap ? cap * 2 : 64) * sizeof *v);
			if (!v)
				return AG_ERR_NOMEM;
			c->v = v;
		}
		c->v[c->n++] = (struct import_line){ s, uid, line };
	}
	return import_duplicates(c);
}

enum ag_err ag_identity_import(struct ag_store *s, const struct ag_config *cfg, const struct ag_log *log,
			       const char *path, char *why, size_t why_len)
{
	struct import_ctx c = { .cfg = cfg, .path = path, .why = why, .why_len = why_len };
	char *buf = NULL;
	size_t len = 0;
	enum ag_err err;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return ag_why(why, why_len, AG_ERR_IO, "%s: cannot open", path);
	buf = malloc(IMPORT_MAX + 1);
	if (!buf) {
		fclose(f);
		return AG_ERR_NOMEM;
	}
	len = fread(buf, 1, IMPORT_MAX + 1, f);
	err = ferror(f) ? ag_why(why, why_len, AG_ERR_IO, "%s: cannot read", path) : AG_OK;
	fclose(f);
	if (err == AG_OK && len > IMPORT_MAX)
		err = ag_why(why, why_len, AG_ERR_TOO_LARGE, "%s: larger than %d bytes", path, IMPORT_MAX);
	if (err == AG_OK)
		err = import_parse(&c, buf, len);
	if (err == AG_OK)
		err = edit(s, cfg, NULL, import_tx, &c);
	if (err == AG_OK)
		ag_log(log, LOG_NOTICE, "account: %zu UIDs pinned from %s", c.n, path);
	free(c.v);
	free(buf);
	return err;
}

/* A rebuild, which also looks for host groups that have appeared under the
 * name of any bound user (host_groups_win). */
static enum ag_err reindex_tx(struct ag_store_tx *tx, void *ctx)
{
	ag_store_tx_reindex(tx);
	return host_groups_win(tx, ctx);
}

enum ag_err ag_identity_reindex(struct ag_store *s, const struct ag_config *cfg, const struct ag_log *log)
{
	struct index_ctx ic = { cfg, &ag_idmap_system_probe };

	return edit(s, cfg, NULL, reindex_tx, &ic);
}
