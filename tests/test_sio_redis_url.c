/* test_sio_redis_url.c: the Redis URL forms (sio_redis_url.h). */
#include <check.h>
#include <string.h>

#include "check_suites.h"
#include "sio/sio_errno.h"
#include "sio_redis_url.h"

START_TEST(test_url_parse) {
  sio_redis_url u;
  ck_assert_int_eq(sio_redis_url_parse("redis://127.0.0.1:6380/2", &u), 0);
  ck_assert_str_eq(u.host, "127.0.0.1");
  ck_assert_int_eq(u.port, 6380);
  ck_assert_int_eq(u.db, 2);
  ck_assert_ptr_null(u.password);
  sio_redis_url_clear(&u);
  ck_assert_int_eq(sio_redis_url_parse("redis://:s%40cret@redis.local", &u), 0);
  ck_assert_str_eq(u.host, "redis.local");
  ck_assert_int_eq(u.port, 6379);
  ck_assert_str_eq(u.password, "s@cret");
  ck_assert_ptr_null(u.user);
  sio_redis_url_clear(&u);
  ck_assert_int_eq(sio_redis_url_parse("redis://bob:pw@[::1]:7000/0", &u), 0);
  ck_assert_str_eq(u.host, "::1");
  ck_assert_str_eq(u.user, "bob");
  ck_assert_str_eq(u.password, "pw");
  ck_assert_int_eq(u.port, 7000);
  sio_redis_url_clear(&u);
  ck_assert_int_eq(sio_redis_url_parse("redis://pw@h", &u), 0);
  ck_assert_str_eq(u.password, "pw");
  sio_redis_url_clear(&u);
  ck_assert_int_eq(
      sio_redis_url_parse("unix:///run/redis.sock?db=3&password=x", &u), 0);
  ck_assert_ptr_null(u.host);
  ck_assert_str_eq(u.path, "/run/redis.sock");
  ck_assert_int_eq(u.db, 3);
  ck_assert_str_eq(u.password, "x");
  sio_redis_url_clear(&u);
  ck_assert_int_eq(sio_redis_url_parse("redis+unix:///tmp/r.sock", &u), 0);
  ck_assert_str_eq(u.path, "/tmp/r.sock");
  sio_redis_url_clear(&u);
  ck_assert_int_eq(sio_redis_url_parse("http://h", &u), SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_url_parse("redis://", &u), SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_url_parse("redis://h:0", &u), SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_url_parse("redis://h:70000", &u), SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_url_parse("redis://h:12x", &u), SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_url_parse("redis://h/x", &u), SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_url_parse("redis://:%zz@h", &u), SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_url_parse("redis://:%00@h", &u), SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_url_parse("redis://[::1", &u), SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_url_parse("unix://", &u), SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_url_parse(NULL, &u), SIO_ERR_INVAL);
}
END_TEST

START_TEST(test_url_tls_sentinel_cluster) {
  sio_redis_url u;
  ck_assert_int_eq(
      sio_redis_url_parse("rediss://app:p%3Aw@cache.example:6380/1", &u), 0);
  ck_assert_int_eq(u.topology, SIO_REDIS_STANDALONE);
  ck_assert_int_eq(u.tls, 1);
  ck_assert_str_eq(u.host, "cache.example");
  ck_assert_int_eq(u.port, 6380);
  ck_assert_str_eq(u.user, "app");
  ck_assert_str_eq(u.password, "p:w");
  ck_assert_int_eq(u.db, 1);
  ck_assert_uint_eq(u.nnodes, 1);
  sio_redis_url_clear(&u);

  ck_assert_int_eq(
      sio_redis_url_parse(
          "redis+sentinel://:pw@10.0.0.1,10.0.0.2:26380,[::1]/mymaster/2", &u),
      0);
  ck_assert_int_eq(u.topology, SIO_REDIS_SENTINEL);
  ck_assert_int_eq(u.tls, 0);
  ck_assert_uint_eq(u.nnodes, 3);
  ck_assert_str_eq(u.nodes[0].host, "10.0.0.1");
  ck_assert_int_eq(u.nodes[0].port, 26379); /* the sentinel default */
  ck_assert_str_eq(u.nodes[1].host, "10.0.0.2");
  ck_assert_int_eq(u.nodes[1].port, 26380);
  ck_assert_str_eq(u.nodes[2].host, "::1");
  ck_assert_str_eq(u.master_name, "mymaster");
  ck_assert_int_eq(u.db, 2);
  ck_assert_str_eq(u.password, "pw");
  sio_redis_url_clear(&u);

  ck_assert_int_eq(sio_redis_url_parse("rediss+sentinel://h/m", &u), 0);
  ck_assert_int_eq(u.tls, 1);
  ck_assert_str_eq(u.master_name, "m");
  ck_assert_int_eq(u.db, 0);
  sio_redis_url_clear(&u);

  ck_assert_int_eq(sio_redis_url_parse(
                       "redis+cluster://u:p@127.0.0.1:7000,127.0.0.1:7001", &u),
                   0);
  ck_assert_int_eq(u.topology, SIO_REDIS_CLUSTER);
  ck_assert_uint_eq(u.nnodes, 2);
  ck_assert_int_eq(u.nodes[1].port, 7001);
  ck_assert_str_eq(u.user, "u");
  sio_redis_url_clear(&u);
  ck_assert_int_eq(sio_redis_url_parse("rediss+cluster://h", &u), 0);
  ck_assert_int_eq(u.tls, 1);
  ck_assert_int_eq(u.nodes[0].port, 6379);
  sio_redis_url_clear(&u);

  /* what must be refused */
  ck_assert_int_eq(sio_redis_url_parse("redis://a,b", &u), SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_url_parse("redis+sentinel://h", &u),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_url_parse("redis+sentinel://h/", &u),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_url_parse("redis+sentinel://h/m/x", &u),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_url_parse("redis+sentinel://h,,k/m", &u),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_url_parse("redis+cluster://h/1", &u),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_url_parse("redis+cluster://h?db=2", &u),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_url_parse("redis+cluster://h:1,h:99999", &u),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_url_parse("redis+cluster://", &u), SIO_ERR_INVAL);
  ck_assert_int_eq(sio_redis_url_parse("rediss+unix:///x", &u), SIO_ERR_INVAL);
  sio_redis_url_clear(NULL);
}
END_TEST

Suite *sio_redis_url_suite(void) {
  Suite *s = suite_create("sio_redis_url");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_url_parse);
  tcase_add_test(tc, test_url_tls_sentinel_cluster);
  suite_add_tcase(s, tc);
  return s;
}
