/* test_app_sdnotify.c: the sd_notify datagrams reach a socket bound where
 * $NOTIFY_SOCKET says (a path and the abstract namespace), nothing is sent
 * without it, the variables are not passed on, and $WATCHDOG_USEC is taken
 * only for this pid. */
#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "app_sdnotify.h"
#include "check_suites.h"

/* Binds a datagram socket at name ("/path" or "@abstract"). */
static int listen_at(const char *name) {
  struct sockaddr_un a;
  socklen_t len;
  size_t n = strlen(name);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ck_assert_int_ge(fd, 0);
  memset(&a, 0, sizeof(a));
  a.sun_family = AF_UNIX;
  memcpy(a.sun_path, name, n);
  if (name[0] == '@')
    a.sun_path[0] = '\0';
  else
    n++;
  len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, len), 0);
  return fd;
}

static void expect_datagram(int fd, const char *want) {
  char buf[256];
  struct timeval tv = {2, 0};
  ssize_t n;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  n = recv(fd, buf, sizeof(buf) - 1, 0);
  ck_assert_int_gt(n, 0);
  buf[n] = '\0';
  ck_assert_str_eq(buf, want);
}

START_TEST(path_socket) {
  char dir[] = "/tmp/sio-sdnotify-XXXXXX", path[64];
  int fd;
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/notify", dir);
  fd = listen_at(path);
  setenv("NOTIFY_SOCKET", path, 1);
  app_sd_init();
  ck_assert_ptr_null(getenv("NOTIFY_SOCKET")); /* not inherited */
  ck_assert_int_eq(app_sd_notify("READY=1\nSTATUS=listening"), 1);
  expect_datagram(fd, "READY=1\nSTATUS=listening");
  ck_assert_int_eq(app_sd_notify("STOPPING=1"), 1);
  expect_datagram(fd, "STOPPING=1");
  close(fd);
  unlink(path);
  /* the manager went away: an error, not a crash or a block */
  ck_assert_int_eq(app_sd_notify("WATCHDOG=1"), -1);
  rmdir(dir);
}
END_TEST

START_TEST(abstract_socket) {
  char name[64];
  int fd;
  snprintf(name, sizeof(name), "@sio-sdnotify-test-%ld", (long)getpid());
  fd = listen_at(name);
  setenv("NOTIFY_SOCKET", name, 1);
  app_sd_init();
  ck_assert_int_eq(app_sd_notify("RELOADING=1"), 1);
  expect_datagram(fd, "RELOADING=1");
  close(fd);
}
END_TEST

START_TEST(without_a_manager) {
  unsetenv("NOTIFY_SOCKET");
  app_sd_init();
  ck_assert_int_eq(app_sd_notify("READY=1"), 0);
  setenv("NOTIFY_SOCKET", "relative/path", 1); /* neither / nor @ */
  app_sd_init();
  ck_assert_int_eq(app_sd_notify("READY=1"), 0);
}
END_TEST

START_TEST(watchdog) {
  char pid[32];
  unsetenv("NOTIFY_SOCKET");
  setenv("WATCHDOG_USEC", "30000000", 1);
  unsetenv("WATCHDOG_PID");
  app_sd_init();
  ck_assert_uint_eq(app_sd_watchdog_usec(), 30000000);
  ck_assert_ptr_null(getenv("WATCHDOG_USEC"));
  /* meant for another process */
  snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
  setenv("WATCHDOG_USEC", "30000000", 1);
  setenv("WATCHDOG_PID", pid, 1);
  app_sd_init();
  ck_assert_uint_eq(app_sd_watchdog_usec(), 0);
  snprintf(pid, sizeof(pid), "%ld", (long)getpid());
  setenv("WATCHDOG_USEC", "5000000", 1);
  setenv("WATCHDOG_PID", pid, 1);
  app_sd_init();
  ck_assert_uint_eq(app_sd_watchdog_usec(), 5000000);
  setenv("WATCHDOG_USEC", "5s", 1); /* not a number */
  app_sd_init();
  ck_assert_uint_eq(app_sd_watchdog_usec(), 0);
}
END_TEST

Suite *app_sdnotify_suite(void) {
  Suite *s = suite_create("app_sdnotify");
  TCase *tc = tcase_create("protocol");
  tcase_add_test(tc, path_socket);
  tcase_add_test(tc, abstract_socket);
  tcase_add_test(tc, without_a_manager);
  tcase_add_test(tc, watchdog);
  suite_add_tcase(s, tc);
  return s;
}
