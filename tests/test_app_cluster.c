/* test_app_cluster.c: joining the cluster from the daemon's configuration
 * (app_cluster_install): what reaches sio_server_use_redis_config, and
 * the unhappy endings: a TLS file that cannot be read, a Cluster URL with
 * the classic protocol (refused), an unreachable Redis (installed,
 * degraded). The error line must name the cause and never the password. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app_config.h"
#include "app_daemon.h"
#include "app_util.h"
#include "check_suites.h"
#include "redis_proc.h"
#include "sio/sio.h"

typedef struct fx {
  uv_loop_t loop;
  struct app_config cfg;
  struct app_loop l;
  char log[4096];
} fx;

static void fx_start(fx *f, char **env) {
  struct app_msgs m = {0};
  memset(f, 0, sizeof(*f));
  ck_assert_int_eq(uv_loop_init(&f->loop), 0);
  ck_assert_int_eq(app_config_load(&f->cfg, NULL, env, NULL, &m), 0);
  app_msgs_deinit(&m);
  f->l.loop = &f->loop;
  f->l.cfg = &f->cfg;
  ck_assert_int_eq(sio_server_new(&f->l.srv, &f->loop, NULL), 0);
  f->l.ns = sio_server_of(f->l.srv, "/");
}

/* Runs app_cluster_install with stderr (the daemon's log) captured. */
static int fx_install(fx *f) {
  FILE *tmp = tmpfile();
  int saved = dup(2), rv;
  size_t n;
  ck_assert_ptr_nonnull(tmp);
  fflush(stderr);
  dup2(fileno(tmp), 2);
  rv = app_cluster_install(&f->l);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  rewind(tmp);
  n = fread(f->log, 1, sizeof(f->log) - 1, tmp);
  f->log[n] = 0;
  fclose(tmp);
  return rv;
}

static void fx_done(fx *f) {
  sio_server_close(f->l.srv, NULL, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&f->loop), 0);
  app_config_deinit(&f->cfg);
}

START_TEST(no_redis_no_adapter) {
  fx f;
  char *env[] = {"SIO_AUTH_MODE=none", NULL};
  fx_start(&f, env);
  ck_assert_int_eq(fx_install(&f), 0);
  ck_assert_str_eq(f.log, "");
  ck_assert_int_eq(sio_server_redis_connected(f.l.srv), 0);
  fx_done(&f);
}
END_TEST

START_TEST(unreadable_tls_file_is_refused) {
  fx f;
  char *env[] = {"SIO_AUTH_MODE=none",
                 "SIO_REDIS_URL=rediss://app:s3cret@127.0.0.1:6380", NULL};
  fx_start(&f, env);
  /* the file went away between the check and the start */
  free(f.cfg.redis_tls_ca_file);
  f.cfg.redis_tls_ca_file = strdup("/nonexistent/ca.pem");
  ck_assert_int_eq(fx_install(&f), -1);
  ck_assert_ptr_nonnull(strstr(f.log, "redis.tls_ca_file"));
  ck_assert_ptr_null(strstr(f.log, "s3cret"));
  fx_done(&f);
}
END_TEST

START_TEST(cluster_with_classic_is_refused) {
  fx f;
  char *env[] = {"SIO_AUTH_MODE=none",
                 "SIO_REDIS_URL=redis+cluster://app:s3cret@127.0.0.1:7000",
                 "SIO_REDIS_ADAPTER=sharded", NULL};
  char *sharded;
  fx_start(&f, env);
  /* what app_config_validate refuses, should it ever reach the start */
  sharded = f.cfg.redis_adapter;
  f.cfg.redis_adapter = "classic";
  ck_assert_int_eq(fx_install(&f), -1);
  f.cfg.redis_adapter = sharded;
  ck_assert_ptr_nonnull(
      strstr(f.log, "redis+cluster://app:***@127.0.0.1:7000"));
  ck_assert_ptr_nonnull(strstr(f.log, "classic"));
  ck_assert_ptr_null(strstr(f.log, "s3cret"));
  ck_assert_int_eq(sio_server_redis_connected(f.l.srv), 0);
  fx_done(&f);
}
END_TEST

START_TEST(unreachable_redis_installs_degraded) {
  fx f;
  char url[96];
  char *env[] = {"SIO_AUTH_MODE=none", url, "SIO_REDIS_ADAPTER=sharded", NULL};
  snprintf(url, sizeof(url), "SIO_REDIS_URL=redis://127.0.0.1:%d", free_port());
  fx_start(&f, env);
  ck_assert_int_eq(fx_install(&f), 0);
  ck_assert_ptr_nonnull(strstr(f.log, "sharded adapter"));
  uv_run(&f.loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(sio_server_redis_connected(f.l.srv), 0);
  fx_done(&f);
}
END_TEST

Suite *app_cluster_suite(void) {
  Suite *s = suite_create("app_cluster");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, no_redis_no_adapter);
  tcase_add_test(tc, unreadable_tls_file_is_refused);
  tcase_add_test(tc, cluster_with_classic_is_refused);
  tcase_add_test(tc, unreachable_redis_installs_degraded);
  suite_add_tcase(s, tc);
  return s;
}
