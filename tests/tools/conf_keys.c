/* Print every global configuration key the parser knows and its default,
 * "KEY<TAB>DEFAULT" a line (the default empty when there is none), for the
 * tests that keep README and the man page in step with the parser. */
#include "config.h"

#include <stdio.h>

#include "base/conf.h"

int main(void)
{
	char def[256];
	const char *name;

	for (size_t i = 0; (name = ag_config_key_name(i)); i++)
		printf("%s\t%s\n", name, ag_config_key_default(i, def, sizeof def));
	return 0;
}
