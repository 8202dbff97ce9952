/* Fuzz target: the configuration parser, strict and lenient. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "base/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(void *ctx, int priority, const char *line)
{
}

static const struct ag_log fuzz_log = { .sink = quiet };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ag_config *cfg = NULL;

	for (int mode = AG_CONFIG_STRICT; mode <= AG_CONFIG_LENIENT; mode++) {
		if (ag_config_parse("fuzz.conf", (const char *)data, size, mode, &fuzz_log, &cfg, NULL, 0) == AG_OK) {
			/* what the parser accepted must hold its own rules */
			if (!cfg->issuer || !cfg->client_id || !cfg->redirect_uri || cfg->timeout < 1 ||
			    cfg->timeout > 300)
				__builtin_trap();
			for (size_t i = 0; i < cfg->n_tables; i++)
				(void)ag_config_table_get(&cfg->tables[i], "x");
		}
		ag_config_free(cfg);
		cfg = NULL;
	}
	return 0;
}
