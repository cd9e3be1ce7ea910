#ifndef APP_SDNOTIFY_H
#define APP_SDNOTIFY_H

/* The systemd notification protocol (sd_notify(3)) without libsystemd:
 * state lines sent as one datagram to the AF_UNIX socket named by
 * $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace). Used
 * with Type=notify: READY=1 once listening, RELOADING=1 around SIGHUP,
 * STOPPING=1 when draining, STATUS= lines, and WATCHDOG=1 from the tick
 * when WatchdogSec= is set. */

#include <stdint.h>

/* Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID once, then
 * unsets them so that no child process inherits them (as
 * sd_notify(unset_environment=1) does). */
void app_sd_init(void);

/* Sends state (e.g. "READY=1\nSTATUS=listening"). Returns 1 when sent, 0
 * when not run by a service manager that listens, -1 on error (errno
 * set). Never blocks. */
int app_sd_notify(const char *state);

/* The watchdog interval asked for by the service manager in
 * microseconds, or 0 when none (or when it is meant for another pid). */
uint64_t app_sd_watchdog_usec(void);

#endif
