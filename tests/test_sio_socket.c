/* test_sio_socket.c: the Socket's state machine (sio_socket.c) over
 * loopback: PENDING (emits refused, owner settable), CONNECTED, and the
 * ways to CLOSED (client DISCONNECT, server disconnect with and without
 * the transport, a dropped transport) with acknowledgements still
 * pending. Asserts what the WebSocket client receives and what the
 * application's callbacks see. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "sio/sio.h"
#include "ws_client.h"

#define WS_PATH "/socket.io/?EIO=4&transport=websocket"
#define T 2000

typedef struct fixture {
  uv_loop_t loop;
  sio_server *srv;
  int port;
  int recovery;
  sio_socket *sock; /* referenced */
  int disconnects;
  char reason[64];
  int acks, canceled, after_close; /* ack callbacks */
  int pending_seen; /* ack callbacks that saw the socket still connected */
} fixture;

static int on_authorize(sio_socket *s, json_object *auth, json_object **err,
                        void *ud) {
  (void)auth;
  (void)err;
  (void)ud;
  /* PENDING: no emit, but the owner may be set */
  ck_assert_int_eq(sio_socket_emit(s, "early", NULL, NULL, 0), SIO_ERR_CLOSED);
  ck_assert_int_eq(sio_socket_set_owner(s, "u"), 0);
  ck_assert_int_eq(sio_socket_set_owner(s, NULL), 0);
  ck_assert_int_eq(sio_socket_set_owner(s, "u"), 0);
  return 0;
}

static void on_connection(sio_socket *s, void *ud) {
  fixture *f = ud;
  sio_socket_ref(s);
  f->sock = s;
}

static void on_disconnect(sio_socket *s, const char *reason, void *ud) {
  fixture *f = ud;
  (void)s;
  f->disconnects++;
  snprintf(f->reason, sizeof(f->reason), "%s", reason);
}

static void on_ack(sio_socket *s, int status, json_object *args,
                   const sio_bin *bins, size_t nbins, void *ud) {
  fixture *f = ud;
  (void)args;
  (void)bins;
  (void)nbins;
  f->acks++;
  if (status == SIO_ERR_CANCELED)
    f->canceled++;
  if (f->disconnects)
    f->after_close++;
  if (sio_socket_connected(s))
    f->pending_seen++;
}

static void fixture_start(fixture *f) {
  static const sio_namespace_handlers h = {on_authorize, on_connection, NULL,
                                           on_disconnect};
  sio_options *o;
  ck_assert_int_eq(uv_loop_init(&f->loop), 0);
  ck_assert_int_eq(sio_options_new(&o), 0);
  sio_options_set_ping(o, 20000, 20000);
  if (f->recovery)
    sio_options_set_recovery(o, 1, 60000);
  ck_assert_int_eq(sio_server_new(&f->srv, &f->loop, o), 0);
  sio_options_del(o);
  sio_namespace_set_handlers(sio_server_of(f->srv, "/"), &h, f);
  ck_assert_int_eq(sio_server_listen(f->srv, "127.0.0.1:0"), 0);
  f->port = sio_server_port(f->srv, 0);
}

static void fixture_stop(fixture *f, ws_client *c) {
  if (f->sock)
    sio_socket_unref(f->sock);
  sio_server_close(f->srv, NULL, NULL);
  if (c)
    ws_client_close(c);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&f->loop), 0);
}

/* Connects "/" and returns the CONNECT reply (static). */
static const char *connect_root(fixture *f, ws_client *c) {
  static char reply[256];
  const ws_msg *m;
  ck_assert_int_eq(ws_client_open(c, &f->loop, f->port, WS_PATH), 0);
  m = ws_client_recv(c, T);
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(m->data[0], '0');
  ck_assert_int_eq(ws_client_send_text(c, "40"), 0);
  m = ws_client_recv(c, T);
  ck_assert_ptr_nonnull(m);
  snprintf(reply, sizeof(reply), "%s", m->data);
  ck_assert_ptr_nonnull(f->sock);
  return reply;
}

/* Two server-asked acks the client never answers; the client reads both
 * requests. */
static void ask_twice(fixture *f, ws_client *c, int first_id) {
  char want[32];
  int before = f->acks;
  ck_assert_int_eq(
      sio_socket_emit_ack(f->sock, "q", NULL, NULL, 0, 60000, on_ack, f), 0);
  ck_assert_int_eq(
      sio_socket_emit_ack(f->sock, "q", NULL, NULL, 0, 60000, on_ack, f), 0);
  /* ack ids count per namespace, as in the reference */
  snprintf(want, sizeof(want), "42%d[\"q\"]", first_id);
  ck_assert(ws_client_expect(c, want, T));
  snprintf(want, sizeof(want), "42%d[\"q\"]", first_id + 1);
  ck_assert(ws_client_expect(c, want, T));
  ck_assert_int_eq(f->acks, before);
}

static void wait_disconnect(fixture *f) {
  int i;
  for (i = 0; i < 2000 && !f->disconnects; i++)
    uv_run(&f->loop, UV_RUN_NOWAIT), uv_sleep(1);
  ck_assert_int_eq(f->disconnects, 1);
}

/* The transport drops with acks pending: each callback fires once, with
 * SIO_ERR_CANCELED, after on_disconnect, on a socket no longer
 * connected. */
START_TEST(transport_drop_cancels_pending_acks) {
  fixture f = {0};
  ws_client c;
  fixture_start(&f);
  connect_root(&f, &c);
  ask_twice(&f, &c, 0);
  ws_client_close(&c);
  wait_disconnect(&f);
  ck_assert_str_eq(f.reason, "transport close");
  ck_assert_int_eq(f.acks, 2);
  ck_assert_int_eq(f.canceled, 2);
  ck_assert_int_eq(f.after_close, 2);
  ck_assert_int_eq(f.pending_seen, 0);
  ck_assert_int_eq(sio_socket_emit(f.sock, "late", NULL, NULL, 0),
                   SIO_ERR_CLOSED);
  fixture_stop(&f, NULL);
}
END_TEST

/* The client leaves the namespace with acks pending: reason "client
 * namespace disconnect", the acks are canceled, a late answer is
 * ignored, and the session stays open. */
START_TEST(client_disconnect_cancels_acks_and_ignores_late_answer) {
  fixture f = {0};
  ws_client c;
  fixture_start(&f);
  connect_root(&f, &c);
  ask_twice(&f, &c, 0);
  ck_assert_int_eq(ws_client_send_text(&c, "41"), 0);
  wait_disconnect(&f);
  ck_assert_str_eq(f.reason, "client namespace disconnect");
  ck_assert_int_eq(f.canceled, 2);
  /* the answer arrives after the socket closed: no third callback, and a
   * packet for a namespace it is not in closes the session */
  ck_assert_int_eq(ws_client_send_text(&c, "430[]"), 0);
  ck_assert_int_eq(ws_client_wait_closed(&c, T), 1);
  ck_assert_int_eq(f.acks, 2);
  fixture_stop(&f, &c);
}
END_TEST

/* The server disconnects the namespace: the client receives DISCONNECT
 * ("41") and the session stays; with close_transport it receives "41" and
 * then the connection closes. Pending acks are canceled either way. */
START_TEST(server_disconnect_tells_client) {
  fixture f = {0};
  ws_client c;
  fixture_start(&f);
  connect_root(&f, &c);
  ask_twice(&f, &c, 0);
  sio_socket_disconnect(f.sock, 0);
  ck_assert_int_eq(f.disconnects, 1);
  ck_assert_str_eq(f.reason, "server namespace disconnect");
  ck_assert_int_eq(f.canceled, 2);
  ck_assert(ws_client_expect(&c, "41", T));
  /* the session is still there: it can connect again */
  sio_socket_unref(f.sock);
  f.sock = NULL;
  ck_assert_int_eq(ws_client_send_text(&c, "40"), 0);
  {
    const ws_msg *m = ws_client_recv(&c, T);
    ck_assert_ptr_nonnull(m);
    ck_assert_msg(strncmp(m->data, "40{\"sid\":", 9) == 0, "%s", m->data);
  }
  ck_assert_ptr_nonnull(f.sock);
  ask_twice(&f, &c, 2);
  sio_socket_disconnect(f.sock, 1);
  ck_assert(ws_client_expect(&c, "41", T));
  ck_assert_int_eq(ws_client_wait_closed(&c, T), 1);
  ck_assert_int_eq(f.canceled, 4);
  fixture_stop(&f, &c);
}
END_TEST

/* Recovery off (the default): the CONNECT reply has no pid and an event
 * carries exactly its own arguments; on, it has a pid and broadcasts
 * carry a trailing offset. */
START_TEST(recovery_off_by_default_no_pid_no_offset) {
  fixture f = {0};
  ws_client c;
  json_object *args;
  const char *reply;
  int on;
  for (on = 0; on < 2; on++) {
    memset(&f, 0, sizeof(f));
    f.recovery = on;
    fixture_start(&f);
    reply = connect_root(&f, &c);
    ck_assert_msg((strstr(reply, "\"pid\"") != NULL) == on, "%s", reply);
    args = json_tokener_parse("[{\"n\":1}]");
    ck_assert_int_ge(sio_namespace_broadcast(sio_server_of(f.srv, "/"), NULL,
                                             "env", args, NULL, 0),
                     0);
    json_object_put(args);
    if (!on) {
      ck_assert(ws_client_expect(&c, "42[\"env\",{\"n\":1}]", T));
    } else {
      const ws_msg *m = ws_client_recv(&c, T);
      ck_assert_ptr_nonnull(m);
      ck_assert_msg(strncmp(m->data, "42[\"env\",{\"n\":1},\"", 18) == 0, "%s",
                    m->data);
    }
    fixture_stop(&f, &c);
  }
}
END_TEST

Suite *sio_socket_suite(void) {
  Suite *s = suite_create("sio_socket");
  TCase *tc = tcase_create("states");
  tcase_set_timeout(tc, 20);
  tcase_add_test(tc, transport_drop_cancels_pending_acks);
  tcase_add_test(tc, client_disconnect_cancels_acks_and_ignores_late_answer);
  tcase_add_test(tc, server_disconnect_tells_client);
  tcase_add_test(tc, recovery_off_by_default_no_pid_no_offset);
  suite_add_tcase(s, tc);
  return s;
}
