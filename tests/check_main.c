/* check_main.c: runs every unit suite in one Check runner (CK_FORK on, so a
 * crash fails one test). Set CK_RUN_SUITE / CK_RUN_CASE to narrow a run. */
#include <stdio.h>
#include <stdlib.h>

#include "check_suites.h"

int main(void) {
  SRunner *sr = srunner_create(NULL);
  int failed;
#define CHECK_SUITE_ADD(name) srunner_add_suite(sr, name##_suite());
  CHECK_SUITES(CHECK_SUITE_ADD)
#undef CHECK_SUITE_ADD
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
