/* libnss_authgear.so.2: the NSS entry points. It links only libc and never
 * touches the network: it will serve users and groups from the local index
 * under state_dir (accounts issue). Until that index exists it knows nobody,
 * so every lookup answers NOTFOUND and enumeration is empty. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <stddef.h>
#include <sys/types.h>

#define NSS_FN(name) _nss_authgear_##name

enum nss_status NSS_FN(getpwnam_r)(const char *, struct passwd *, char *, size_t, int *);
enum nss_status NSS_FN(getpwuid_r)(uid_t, struct passwd *, char *, size_t, int *);
enum nss_status NSS_FN(setpwent)(int);
enum nss_status NSS_FN(getpwent_r)(struct passwd *, char *, size_t, int *);
enum nss_status NSS_FN(endpwent)(void);
enum nss_status NSS_FN(getgrnam_r)(const char *, struct group *, char *, size_t, int *);
enum nss_status NSS_FN(getgrgid_r)(gid_t, struct group *, char *, size_t, int *);
enum nss_status NSS_FN(setgrent)(int);
enum nss_status NSS_FN(getgrent_r)(struct group *, char *, size_t, int *);
enum nss_status NSS_FN(endgrent)(void);
enum nss_status NSS_FN(initgroups_dyn)(const char *, gid_t, long int *, long int *, gid_t **,
				       long int, int *);

static enum nss_status not_found(int *errnop)
{
	*errnop = ENOENT;
	return NSS_STATUS_NOTFOUND;
}

enum nss_status NSS_FN(getpwnam_r)(const char *name, struct passwd *pw, char *buf, size_t len, int *errnop)
{
	return not_found(errnop);
}

enum nss_status NSS_FN(getpwuid_r)(uid_t uid, struct passwd *pw, char *buf, size_t len, int *errnop)
{
	return not_found(errnop);
}

enum nss_status NSS_FN(setpwent)(int stayopen)
{
	return NSS_STATUS_SUCCESS;
}

enum nss_status NSS_FN(getpwent_r)(struct passwd *pw, char *buf, size_t len, int *errnop)
{
	return not_found(errnop);
}

enum nss_status NSS_FN(endpwent)(void)
{
	return NSS_STATUS_SUCCESS;
}

enum nss_status NSS_FN(getgrnam_r)(const char *name, struct group *gr, char *buf, size_t len, int *errnop)
{
	return not_found(errnop);
}

enum nss_status NSS_FN(getgrgid_r)(gid_t gid, struct group *gr, char *buf, size_t len, int *errnop)
{
	return not_found(errnop);
}

enum nss_status NSS_FN(setgrent)(int stayopen)
{
	return NSS_STATUS_SUCCESS;
}

enum nss_status NSS_FN(getgrent_r)(struct group *gr, char *buf, size_t len, int *errnop)
{
	return not_found(errnop);
}

enum nss_status NSS_FN(endgrent)(void)
{
	return NSS_STATUS_SUCCESS;
}

enum nss_status NSS_FN(initgroups_dyn)(const char *user, gid_t group, long int *start, long int *size,
				       gid_t **groups, long int limit, int *errnop)
{
	return not_found(errnop);
}
