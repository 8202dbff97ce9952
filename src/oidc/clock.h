/* The one clock of a login: wall time (token times, caches, lockout, the
 * store's timestamps) and a monotonic clock (step durations, the device
 * login's deadlines and poll intervals), with the sleep that waits on it.
 * ag_clock_system is the real one; a test sets its own (a seam). */
#ifndef AG_CLOCK_H
#define AG_CLOCK_H

#include <time.h>

struct ag_clock {
	time_t (*wall)(void *ctx);                   /* seconds since the epoch */
	double (*mono_ms)(void *ctx);                /* milliseconds, monotonic */
	void (*sleep_until_ms)(void *ctx, double ms); /* until mono_ms() reaches ms */
	void *ctx;
};

extern const struct ag_clock ag_clock_system;

/* The readings of c; NULL is ag_clock_system. */
time_t ag_clock_wall(const struct ag_clock *c);
double ag_clock_ms(const struct ag_clock *c);
void ag_clock_sleep_until(const struct ag_clock *c, double ms);

#endif
