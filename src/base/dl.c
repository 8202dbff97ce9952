/* Loading optional libraries (see dl.h). */
#include "config.h"

#include <dlfcn.h>

#include "base/dl.h"

enum ag_err ag_dl_load(const char *soname, const char *package, const struct ag_dl_sym *syms, size_t n,
		       char *why, size_t why_len)
{
	/* RTLD_LOCAL: the library's symbols stay out of the global scope the
	 * PAM stack's other modules resolve against. */
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	const char *e;

	if (!h)
		return ag_why(why, why_len, AG_ERR_CONFIG, "cannot load %s (is %s installed?): %s", soname,
			      package, (e = dlerror()) ? e : "unknown error");
	for (size_t i = 0; i < n; i++) {
		dlerror();
		*syms[i].slot = dlsym(h, syms[i].name);
		if (*syms[i].slot)
			continue;
		e = dlerror();
		for (size_t j = 0; j < n; j++)
			*syms[j].slot = NULL;
		dlclose(h);
		return ag_why(why, why_len, AG_ERR_CONFIG, "%s lacks %s (%s too old?)%s%s", soname,
			      syms[i].name, package, e ? ": " : "", e ? e : "");
	}
	return AG_OK;
}
