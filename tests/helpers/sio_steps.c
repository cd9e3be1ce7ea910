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

sio_socket *steps_connect_kept(ws_client *c, uv_loop_t *loop, int port,
                               const char *nsp, steps_sockets *k) {
  int before = k->n;
  steps_connect(c, loop, port, nsp);
  ck_assert_int_eq(k->n, before + 1);
  return k->v[before];
}

void steps_keep(steps_sockets *k, sio_socket *s) {
  if (k->n < STEPS_MAXS) {
    sio_socket_ref(s);
    k->v[k->n++] = s;
  }
}

void steps_release(steps_sockets *k) {
  int i;
  for (i = 0; i < k->n; i++)
    sio_socket_unref(k->v[i]);
  k->n = 0;
}

void steps_answer(steps_result *r, int status, size_t count) {
  r->calls++;
  r->status = status;
  r->count = count;
}

void steps_wait_answers(uv_loop_t *loop, steps_result *r, int n) {
  int i;
  for (i = 0; i < STEPS_T / 10 && r->calls < n; i++)
    steps_pump(loop, 10);
  ck_assert_int_eq(r->calls, n);
}

void steps_expect(ws_client *c, const char *want) {
  ck_assert_msg(ws_client_expect(c, want, STEPS_T), "expected %s", want);
}

void steps_expect_nothing(ws_client *c, uint32_t ms) {
  const ws_msg *m = ws_client_recv(c, ms);
  ck_assert_msg(m == NULL, "unexpected message %s", m ? m->data : "");
}

int steps_authorize_user(sio_socket *s, json_object *auth, json_object **err,
                         void *ud) {
  json_object *u;
  char room[64];
  (void)err;
  (void)ud;
  if (!auth || !json_object_object_get_ex(auth, "user", &u))
    return -1;
  snprintf(room, sizeof(room), "user:%s", json_object_get_string(u));
  ck_assert_int_eq(sio_socket_set_owner(s, json_object_get_string(u)), 0);
  ck_assert_int_eq(sio_socket_join(s, room), 0);
  return 0;
}

void steps_join_on_event(sio_socket *s, const char *event, json_object *args,
                         const sio_bin *bins, size_t nbins, int64_t ack_id,
                         void *ud) {
  (void)bins;
  (void)nbins;
  (void)ud;
  if (strcmp(event, "join") == 0)
    ck_assert_int_eq(
        sio_socket_join(
            s, json_object_get_string(json_object_array_get_idx(args, 0))),
        0);
  if (ack_id >= 0)
    sio_socket_ack(s, ack_id, NULL, NULL, 0);
}

/* Copies the string value of "key":"..." in text into out. */
static void field(const char *text, const char *key, char *out, size_t n) {
  char pat[32];
  const char *p, *q;
  out[0] = 0;
  snprintf(pat, sizeof(pat), "\"%s\":\"", key);
  p = strstr(text, pat);
  if (!p)
    return;
  p += strlen(pat);
  q = strchr(p, '"');
  if (q && (size_t)(q - p) < n)
    snprintf(out, n, "%.*s", (int)(q - p), p);
}

void steps_connect_auth(ws_client *c, uv_loop_t *loop, int port,
                        const char *auth, steps_session *out) {
  const ws_msg *m;
  char pkt[256];
  ck_assert_int_eq(ws_client_open(c, loop, port, STEPS_WS_PATH), 0);
  m = ws_client_recv(c, STEPS_T);
  ck_assert_ptr_nonnull(m);
  ck_assert_msg(m->data[0] == '0', "open packet: %s", m->data);
  snprintf(pkt, sizeof(pkt), "40%s", auth);
  ck_assert_int_eq(ws_client_send_text(c, pkt), 0);
  m = ws_client_recv(c, STEPS_T);
  ck_assert_ptr_nonnull(m);
  ck_assert_msg(strncmp(m->data, "40{", 3) == 0, "reply: %s", m->data);
  field(m->data, "sid", out->sid, sizeof(out->sid));
  field(m->data, "pid", out->pid, sizeof(out->pid));
  ck_assert_uint_eq(strlen(out->sid), 20);
  ck_assert_uint_eq(strlen(out->pid), 20);
}

void steps_resume(ws_client *c, uv_loop_t *loop, int port, const char *user,
                  const steps_session *old, const char *offset,
                  steps_session *out) {
  char auth[192];
  snprintf(auth, sizeof(auth),
           "{\"user\":\"%s\",\"pid\":\"%s\",\"offset\":\"%s\"}", user, old->pid,
           offset);
  steps_connect_auth(c, loop, port, auth, out);
}

const char *steps_expect_e(ws_client *c, int n) {
  static char off[48];
  char want[64];
  const ws_msg *m = ws_client_recv(c, STEPS_T);
  const char *q;
  ck_assert_ptr_nonnull(m);
  snprintf(want, sizeof(want), "42[\"e\",%d,\"", n);
  ck_assert_msg(strncmp(m->data, want, strlen(want)) == 0, "want %s..., got %s",
                want, m->data);
  q = m->data + strlen(want);
  snprintf(off, sizeof(off), "%.*s", (int)strcspn(q, "\""), q);
  ck_assert_msg(strchr(off, '-') != NULL, "offset %s", off);
  return off;
}

json_object *steps_json(const char *s) {
  json_object *o = NULL;
  ck_assert_int_eq(sio_json_parse(s, strlen(s), 0, &o), 0);
  return o;
}
