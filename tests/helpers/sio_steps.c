/* sio_steps.c: see sio_steps.h. */
#include "sio_steps.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "sio/sio_json.h"

static void pump_done(uv_timer_t *t) { (void)t; }

void steps_pump(uv_loop_t *loop, uint32_t ms) {
  uv_timer_t t;
  uv_timer_init(loop, &t);
  uv_timer_start(&t, pump_done, ms, 0);
  while (uv_is_active((uv_handle_t *)&t))
    uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
}

void steps_connect(ws_client *c, uv_loop_t *loop, int port, const char *nsp) {
  const ws_msg *m;
  char pkt[64];
  ck_assert_int_eq(ws_client_open(c, loop, port, STEPS_WS_PATH), 0);
  c->auto_pong = 1;
  m = ws_client_recv(c, STEPS_T);
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(m->data[0], '0');
  snprintf(pkt, sizeof(pkt), "40%s%s", nsp ? nsp : "", nsp ? "," : "");
  ck_assert_int_eq(ws_client_send_text(c, pkt), 0);
  m = ws_client_recv(c, STEPS_T);
  ck_assert_ptr_nonnull(m);
  ck_assert_msg(strncmp(m->data, "40", 2) == 0, "connect reply %s", m->data);
}

void steps_expect(ws_client *c, const char *want) {
  ck_assert_msg(ws_client_expect(c, want, STEPS_T), "expected %s", want);
}

void steps_expect_nothing(ws_client *c, uint32_t ms) {
  const ws_msg *m = ws_client_recv(c, ms);
  ck_assert_msg(m == NULL, "unexpected message %s", m ? m->data : "");
}

json_object *steps_json(const char *s) {
  json_object *o = NULL;
  ck_assert_int_eq(sio_json_parse(s, strlen(s), 0, &o), 0);
  return o;
}
