/* The host's groups listed once (see host_groups.h). */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <stdlib.h>

#include "accounts/host_groups.h"

/* A group's entry (its member list included) larger than this stops the
 * list: a [roles] group of 1,000,000 members with 32-byte names fits. */
#define ENTRY_MAX (64 * 1024 * 1024)

int ag_host_groups_each(void (*fn)(const char *name, uint32_t gid, void *ctx), void *ctx)
{
	size_t len = 16384;
	char *buf = malloc(len);
	int result = -1;

	if (!buf)
		return -1;
	setgrent();
	for (;;) {
		struct group gr, *grr = NULL;
		int rc = getgrent_r(&gr, buf, len, &grr);

		if (rc == ERANGE && len < ENTRY_MAX) {
			/* the same entry again (getgrent_r keeps its place) */
			char *bigger = realloc(buf, len * 2);

			if (!bigger)
				break;
			buf = bigger;
			len *= 2;
			continue;
		}
		if (rc == ENOENT || (rc == 0 && !grr)) {
			result = 1;
			break;
		}
		if (rc != 0)
			break;
		fn(grr->gr_name, (uint32_t)grr->gr_gid, ctx);
	}
	endgrent();
	free(buf);
	return result;
}
