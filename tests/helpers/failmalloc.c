/* failmalloc.c: fail-the-Nth-allocation driver over sio_mem_fail_after. */
#include "failmalloc.h"

#include <check.h>

#include "sio_mem.h"

long failmalloc_run(failmalloc_fn fn, void *ud) {
  long n, i;
  sio_mem_fail_after(-1);
  ck_assert_int_eq(fn(ud), 0);
  n = sio_mem_fail_after(-1);
  for (i = 0; i < n; i++) {
    int rv;
    sio_mem_fail_after(i);
    rv = fn(ud);
    sio_mem_fail_after(-1);
    ck_assert_msg(rv <= 0, "allocation %ld: unexpected result %d", i, rv);
  }
  return n;
}
