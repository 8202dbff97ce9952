/* The system clock behind ag_clock (see clock.h). */
#include "config.h"

#include <errno.h>

#include "oidc/clock.h"

static time_t system_wall(void *ctx)
{
	(void)ctx;
	return time(NULL);
}

static double system_mono_ms(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* Through signals: an absolute deadline does not drift. */
static void system_sleep_until_ms(void *ctx, double ms)
{
	struct timespec ts;

	(void)ctx;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)((ms - ts.tv_sec * 1000.0) * 1e6);
	if (ts.tv_nsec >= 1000000000L)
		ts.tv_nsec = 999999999L;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

const struct ag_clock ag_clock_system = {
	.wall = system_wall,
	.mono_ms = system_mono_ms,
	.sleep_until_ms = system_sleep_until_ms,
};

time_t ag_clock_wall(const struct ag_clock *c)
{
	c = c ? c : &ag_clock_system;
	return c->wall(c->ctx);
}

double ag_clock_ms(const struct ag_clock *c)
{
	c = c ? c : &ag_clock_system;
	return c->mono_ms(c->ctx);
}

void ag_clock_sleep_until(const struct ag_clock *c, double ms)
{
	c = c ? c : &ag_clock_system;
	c->sleep_until_ms(c->ctx, ms);
}
