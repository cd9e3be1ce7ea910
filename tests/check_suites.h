#ifndef CHECK_SUITES_H
#define CHECK_SUITES_H

/* Every unit suite, one line each: X(name) declares Suite *name##_suite(void)
 * and check_main.c adds it to the runner. Keep one suite per src module. */
#include <check.h>

#define CHECK_SUITES(X)                                                        \
  X(sio_buf)                                                                   \
  X(sio_map)                                                                   \
  X(sio_util)

#define CHECK_SUITE_DECL(name) Suite *name##_suite(void);
CHECK_SUITES(CHECK_SUITE_DECL)
#undef CHECK_SUITE_DECL

#endif
