/* app_sdnotify.c: see app_sdnotify.h. The protocol is a datagram of
 * newline-separated KEY=VALUE lines; a manager that is not listening (no
 * $NOTIFY_SOCKET) simply means nothing is sent. */
#include "app_sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct sockaddr_un notify_addr;
static socklen_t notify_len; /* 0: no manager listening */
static uint64_t watchdog_usec;

void app_sd_init(void) {
  const char *path = getenv("NOTIFY_SOCKET");
  const char *wd = getenv("WATCHDOG_USEC");
  const char *wpid = getenv("WATCHDOG_PID");
  size_t n;
  notify_len = 0;
  watchdog_usec = 0;
  if (path && (path[0] == '/' || path[0] == '@') &&
      (n = strlen(path)) < sizeof(notify_addr.sun_path)) {
    memset(&notify_addr, 0, sizeof(notify_addr));
    notify_addr.sun_family = AF_UNIX;
    memcpy(notify_addr.sun_path, path, n);
    if (path[0] == '@') /* abstract: a leading NUL, no terminator */
      notify_addr.sun_path[0] = '\0';
    else
      n++;
    notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
  }
  if (wd && (!wpid || strtol(wpid, NULL, 10) == (long)getpid())) {
    char *end;
    unsigned long long v = strtoull(wd, &end, 10);
    if (end != wd && *end == '\0')
      watchdog_usec = v;
  }
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
}

int app_sd_notify(const char *state) {
  int fd, rv, saved;
  if (!notify_len)
    return 0;
  fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -1;
  rv = (int)sendto(fd, state, strlen(state), MSG_NOSIGNAL,
                   (const struct sockaddr *)&notify_addr, notify_len);
  saved = errno;
  close(fd);
  errno = saved;
  return rv < 0 ? -1 : 1;
}

uint64_t app_sd_watchdog_usec(void) { return watchdog_usec; }
