/* test_sio_server.c: the Socket.IO server end to end over loopback. Each
 * test runs a sio_server on 127.0.0.1, port 0, on its own loop, drives it
 * with raw Engine.IO/Socket.IO text over the minimal WebSocket client of
 * tests/helpers/ws_client.c, and ends with every handle closed and
 * uv_loop_close() == 0. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "sio/sio.h"
#include "sio_buf.h"
#include "sio_mem.h"
#include "sio_packet.h"
#include "ws_client.h"

#define WS_PATH "/socket.io/?EIO=4&transport=websocket"
#define T 2000 /* ms: generous deadline for anything that should happen */
#define MAXS 8

typedef struct fixture {
  uv_loop_t loop;
  sio_server *srv;
  int port;
  int server_closed;
  /* behaviour */
  int emit_on_connect;
  int refuse;     /* on "/admin": 1 default refusal, 2 custom error */
  int connect_ms; /* connect timeout, 0: default */
  /* records */
  int authorize_calls;
  int auth_was_null;
  char auth[128];
  int connections;
  int disconnects;
  char reason[64];
  int events;
  char event[64];
  char args[256];
  size_t nbins;
  uint8_t bin0[16];
  size_t bin0_len;
  int64_t ack_id;
  int ack_calls;
  int ack_status;
  char ack_args[128];
  size_t ack_nbins;
  sio_socket *socks[MAXS]; /* referenced, in connection order */
  int nsocks;
} fixture;

static void json_text(char *out, size_t n, json_object *v) {
  sio_buf b;
  sio_buf_init(&b);
  if (v && sio_json_append(&b, v) == 0)
    snprintf(out, n, "%s", b.data);
  else
    snprintf(out, n, "%s", v ? "?" : "(null)");
  sio_buf_deinit(&b);
}

static int is_admin(sio_socket *s) {
  return strcmp(sio_namespace_name(sio_socket_namespace(s)), "/admin") == 0;
}

static int on_authorize(sio_socket *s, json_object *auth, json_object **err,
                        void *ud) {
  fixture *f = ud;
  f->authorize_calls++;
  f->auth_was_null = auth == NULL;
  json_text(f->auth, sizeof(f->auth), auth);
  ck_assert_int_eq(sio_socket_connected(s), 0);
  ck_assert_int_eq(sio_socket_emit(s, "early", NULL, NULL, 0), SIO_ERR_CLOSED);
  if (is_admin(s) && f->refuse == 1)
    return -1;
  if (is_admin(s) && f->refuse == 2) {
    *err = json_tokener_parse(
        "{\"message\":\"unauthorized\",\"data\":{\"code\":\"forbidden\"}}");
    return -1;
  }
  /* Joining during authorization is allowed, as in the reference. */
  ck_assert_int_eq(sio_socket_join(s, "authorized"), 0);
  return 0;
}

static void on_connection(sio_socket *s, void *ud) {
  fixture *f = ud;
  f->connections++;
  ck_assert_int_eq(sio_socket_connected(s), 1);
  if (f->nsocks < MAXS) {
    sio_socket_ref(s);
    f->socks[f->nsocks++] = s;
  }
  if (f->emit_on_connect) {
    json_object *a = json_tokener_parse("[1]");
    ck_assert_int_eq(sio_socket_emit(s, "hello", a, NULL, 0), 0);
    json_object_put(a);
  }
}

static void on_event(sio_socket *s, const char *event, json_object *args,
                     const sio_bin *bins, size_t nbins, int64_t ack_id,
                     void *ud) {
  fixture *f = ud;
  f->events++;
  snprintf(f->event, sizeof(f->event), "%s", event);
  json_text(f->args, sizeof(f->args), args);
  f->nbins = nbins;
  f->ack_id = ack_id;
  f->bin0_len = 0;
  if (nbins && bins[0].len <= sizeof(f->bin0)) {
    memcpy(f->bin0, bins[0].data, bins[0].len);
    f->bin0_len = bins[0].len;
  }
  if (strcmp(event, "echo") == 0)
    ck_assert_int_eq(sio_socket_emit(s, "echo-back", args, bins, nbins), 0);
  else if (strcmp(event, "ack-me") == 0 && ack_id >= 0)
    ck_assert_int_eq(sio_socket_ack(s, ack_id, args, bins, nbins), 0);
  else if (strcmp(event, "bye") == 0)
    sio_socket_disconnect(s, 0);
  else if (strcmp(event, "bye-all") == 0)
    sio_socket_disconnect(s, 1);
  else if (strcmp(event, "shutdown") == 0)
    sio_server_close(sio_socket_server(s), NULL, NULL);
}

static void on_disconnect(sio_socket *s, const char *reason, void *ud) {
  fixture *f = ud;
  f->disconnects++;
  snprintf(f->reason, sizeof(f->reason), "%s", reason);
  ck_assert_int_eq(sio_socket_connected(s), 0);
  ck_assert_int_eq(sio_socket_emit(s, "late", NULL, NULL, 0), SIO_ERR_CLOSED);
}

static void on_ack(sio_socket *s, int status, json_object *args,
                   const sio_bin *bins, size_t nbins, void *ud) {
  fixture *f = ud;
  (void)s;
  (void)bins;
  f->ack_calls++;
  f->ack_status = status;
  f->ack_nbins = nbins;
  json_text(f->ack_args, sizeof(f->ack_args), args);
}

static void fixture_start(fixture *f) {
  static const sio_namespace_handlers h = {on_authorize, on_connection,
                                           on_event, on_disconnect};
  sio_options *o;
  ck_assert_int_eq(uv_loop_init(&f->loop), 0);
  ck_assert_int_eq(sio_options_new(&o), 0);
  sio_options_set_ping(o, 20000, 20000);
  if (f->connect_ms)
    sio_options_set_connect_timeout(o, (uint32_t)f->connect_ms);
  ck_assert_int_eq(sio_server_new(&f->srv, &f->loop, o), 0);
  sio_options_del(o);
  sio_namespace_set_handlers(sio_server_of(f->srv, "/"), &h, f);
  sio_namespace_set_handlers(sio_server_of(f->srv, "/admin"), &h, f);
  ck_assert_ptr_null(sio_server_of(f->srv, "nope"));
  ck_assert_int_eq(sio_server_listen(f->srv, "127.0.0.1:0"), 0);
  f->port = sio_server_port(f->srv, 0);
  ck_assert_int_gt(f->port, 0);
}

static void on_server_closed(sio_server *s, void *ud) {
  fixture *f = ud;
  (void)s;
  f->server_closed++;
}

/* Closes the server (unless a test did) and the clients, runs the loop dry
 * and checks that nothing was left open. */
static void fixture_stop(fixture *f, ws_client *const *cs, int n) {
  int i;
  for (i = 0; i < f->nsocks; i++)
    sio_socket_unref(f->socks[i]);
  f->nsocks = 0;
  if (f->srv) {
    sio_server_close(f->srv, on_server_closed, f);
    f->srv = NULL;
  }
  for (i = 0; i < n; i++)
    ws_client_close(cs[i]);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&f->loop), 0);
}

/* Opens a WebSocket session and checks the Engine.IO open packet. */
static void open_session(fixture *f, ws_client *c) {
  const ws_msg *m;
  ck_assert_int_eq(ws_client_open(c, &f->loop, f->port, WS_PATH), 0);
  m = ws_client_recv(c, T);
  ck_assert_ptr_nonnull(m);
  ck_assert_msg(m->data[0] == '0', "open packet: %s", m->data);
}

/* Sends CONNECT (text after "4") and reads the reply; copies the sid out
 * of a successful `40[nsp,]{"sid":"..."}` into sid. Returns the reply. */
static const char *connect_ns(ws_client *c, const char *pkt, char sid[21]) {
  static char reply[256];
  const ws_msg *m;
  const char *p;
  char out[128];
  snprintf(out, sizeof(out), "4%s", pkt);
  ck_assert_int_eq(ws_client_send_text(c, out), 0);
  m = ws_client_recv(c, T);
  ck_assert_ptr_nonnull(m);
  snprintf(reply, sizeof(reply), "%s", m->data);
  p = strstr(reply, "{\"sid\":\"");
  if (sid && p && strncmp(reply, "40", 2) == 0) {
    memcpy(sid, p + 8, 20);
    sid[20] = 0;
  }
  return reply;
}

static void expect(ws_client *c, const char *text) {
  ck_assert(ws_client_expect(c, text, T));
}

static void expect_binary(ws_client *c, const char *bytes, size_t n) {
  const ws_msg *m = ws_client_recv(c, T);
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(m->binary, 1);
  ck_assert_uint_eq(m->len, n);
  ck_assert_int_eq(memcmp(m->data, bytes, n), 0);
}

/* Nothing arrives for a while: the next message is the marker we send
 * ourselves through the server. */
static void expect_nothing_before_mark(fixture *f, ws_client *c,
                                       sio_socket *s) {
  (void)f;
  ck_assert_int_eq(sio_socket_emit(s, "mark", NULL, NULL, 0), 0);
  expect(c, "42[\"mark\"]");
}

START_TEST(connect_then_on_connection_emit) {
  fixture f = {0};
  ws_client c;
  ws_client *cs[] = {&c};
  char sid[21] = "", expect_reply[64];
  sio_socket *s;
  f.emit_on_connect = 1;
  fixture_start(&f);
  open_session(&f, &c);
  connect_ns(&c, "0", sid);
  snprintf(expect_reply, sizeof(expect_reply), "40{\"sid\":\"%s\"}", sid);
  ck_assert_uint_eq(strlen(sid), 20);
  /* The emit made inside on_connection follows the CONNECT reply. */
  expect(&c, "42[\"hello\",1]");
  ck_assert_int_eq(f.authorize_calls, 1);
  ck_assert_int_eq(f.auth_was_null, 1);
  ck_assert_int_eq(f.connections, 1);
  s = f.socks[0];
  ck_assert_str_eq(sio_socket_id(s), sid);
  ck_assert_uint_eq(sio_namespace_socket_count(sio_server_of(f.srv, "/")), 1);
  ck_assert_int_eq(sio_socket_in_room(s, sid), 1);
  ck_assert_int_eq(sio_socket_in_room(s, "authorized"), 1);
  ck_assert_str_eq(sio_socket_transport(s), "websocket");
  ck_assert_str_eq(sio_socket_query(s, "EIO"), "4");
  ck_assert_ptr_nonnull(sio_socket_header(s, "Host"));
  ck_assert_str_eq(sio_socket_remote_addr(s), "127.0.0.1");
  ck_assert_ptr_eq(sio_socket_server(s), f.srv);

  /* A CONNECT with an auth payload hands it to on_authorize. */
  connect_ns(&c, "0/admin,{\"token\":\"abc\"}", sid);
  expect(&c, "42/admin,[\"hello\",1]");
  ck_assert_int_eq(f.auth_was_null, 0);
  ck_assert_str_eq(f.auth, "{\"token\":\"abc\"}");
  ck_assert_uint_eq(sio_namespace_socket_count(sio_server_of(f.srv, "/admin")),
                    1);
  fixture_stop(&f, cs, 1);
  ck_assert_int_eq(f.server_closed, 1);
  ck_assert_int_eq(f.disconnects, 2);
  ck_assert_str_eq(f.reason, "server shutting down");
}
END_TEST

START_TEST(events_and_client_acks) {
  fixture f = {0};
  ws_client c;
  ws_client *cs[] = {&c};
  fixture_start(&f);
  open_session(&f, &c);
  connect_ns(&c, "0", NULL);
  ws_client_send_text(&c, "42[\"echo\",1,\"2\",{\"3\":[true]}]");
  expect(&c, "42[\"echo-back\",1,\"2\",{\"3\":[true]}]");
  ck_assert_str_eq(f.event, "echo");
  ck_assert_str_eq(f.args, "[1,\"2\",{\"3\":[true]}]");
  ck_assert_int_eq(f.ack_id, -1);
  ws_client_send_text(&c, "42456[\"ack-me\",1,\"2\",{\"3\":[false]}]");
  expect(&c, "43456[1,\"2\",{\"3\":[false]}]");
  ck_assert_int_eq(f.ack_id, 456);
  ck_assert_int_eq(f.events, 2);
  /* Ack helpers reject a bad id and a closed socket. */
  ck_assert_int_eq(sio_socket_ack(f.socks[0], -1, NULL, NULL, 0),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_socket_emit(f.socks[0], "disconnect", NULL, NULL, 0),
                   SIO_ERR_INVAL);
  ck_assert_int_eq(sio_socket_ack(f.socks[0], 5, NULL, NULL, 0), 0);
  expect(&c, "435[]");
  fixture_stop(&f, cs, 1);
}
END_TEST

START_TEST(numeric_event_name) {
  fixture f = {0};
  ws_client c;
  ws_client *cs[] = {&c};
  fixture_start(&f);
  open_session(&f, &c);
  connect_ns(&c, "0", NULL);
  /* Numeric event names reach the application as JavaScript's text. */
  ws_client_send_text(&c, "42[7,\"x\"]");
  ws_client_pump(&c, 50);
  ck_assert_int_eq(f.events, 1);
  ck_assert_str_eq(f.event, "7");
  ck_assert_str_eq(f.args, "[\"x\"]");
  ws_client_send_text(&c, "42[2.5]");
  ws_client_pump(&c, 50);
  ck_assert_str_eq(f.event, "2.5");
  ck_assert_str_eq(f.args, "[]");
  ws_client_send_text(&c, "42[-3e2]");
  ws_client_pump(&c, 50);
  ck_assert_str_eq(f.event, "-300");
  fixture_stop(&f, cs, 1);
}
END_TEST

START_TEST(server_acks_answer_timeout_cancel) {
  fixture f = {0};
  ws_client c;
  ws_client *cs[] = {&c};
  json_object *a = json_tokener_parse("[\"x\"]");
  sio_socket *s;
  fixture_start(&f);
  open_session(&f, &c);
  connect_ns(&c, "0", NULL);
  s = f.socks[0];
  ck_assert_int_eq(sio_socket_emit_ack(s, "q", a, NULL, 0, 0, on_ack, &f), 0);
  expect(&c, "420[\"q\",\"x\"]");
  ws_client_send_text(&c, "4399[]"); /* unknown id: ignored */
  ws_client_send_text(&c, "430[\"a\",2]");
  ws_client_send_text(&c, "42[\"echo\"]");
  expect(&c, "42[\"echo-back\"]");
  ck_assert_int_eq(f.ack_calls, 1);
  ck_assert_int_eq(f.ack_status, 0);
  ck_assert_str_eq(f.ack_args, "[\"a\",2]");

  /* No answer within 50 ms: SIO_ERR_TIMEOUT, and a late answer is
   * ignored. */
  ck_assert_int_eq(sio_socket_emit_ack(s, "q2", NULL, NULL, 0, 50, on_ack, &f),
                   0);
  expect(&c, "421[\"q2\"]");
  ws_client_pump(&c, 150);
  ck_assert_int_eq(f.ack_calls, 2);
  ck_assert_int_eq(f.ack_status, SIO_ERR_TIMEOUT);
  ws_client_send_text(&c, "431[]");
  ws_client_send_text(&c, "42[\"echo\"]");
  expect(&c, "42[\"echo-back\"]");
  ck_assert_int_eq(f.ack_calls, 2);

  /* A binary answer. */
  ck_assert_int_eq(sio_socket_emit_ack(s, "q3", NULL, NULL, 0, 0, on_ack, &f),
                   0);
  expect(&c, "422[\"q3\"]");
  ws_client_send_text(&c, "461-2[{\"_placeholder\":true,\"num\":0}]");
  ws_client_send(&c, 1, "\x09\x08", 2);
  ws_client_send_text(&c, "42[\"echo\"]");
  expect(&c, "42[\"echo-back\"]");
  ck_assert_int_eq(f.ack_calls, 3);
  ck_assert_int_eq(f.ack_status, 0);
  ck_assert_uint_eq(f.ack_nbins, 1);

  /* Pending at disconnect: SIO_ERR_CANCELED, after on_disconnect. */
  ck_assert_int_eq(
      sio_socket_emit_ack(s, "q4", NULL, NULL, 0, 1000, on_ack, &f), 0);
  expect(&c, "423[\"q4\"]");
  ws_client_send_text(&c, "41");
  ws_client_pump(&c, 50);
  ck_assert_int_eq(f.disconnects, 1);
  ck_assert_str_eq(f.reason, "client namespace disconnect");
  ck_assert_int_eq(f.ack_calls, 4);
  ck_assert_int_eq(f.ack_status, SIO_ERR_CANCELED);
  /* Once closed, emits fail and register nothing. */
  ck_assert_int_eq(sio_socket_connected(s), 0);
  ck_assert_int_eq(sio_socket_emit(s, "x", NULL, NULL, 0), SIO_ERR_CLOSED);
  ck_assert_int_eq(sio_socket_emit_ack(s, "x", NULL, NULL, 0, 10, on_ack, &f),
                   SIO_ERR_CLOSED);
  ck_assert_int_eq(sio_socket_join(s, "r"), SIO_ERR_CLOSED);
  ck_assert_int_eq(sio_socket_leave(s, "r"), SIO_ERR_NOTFOUND);
  ws_client_pump(&c, 30);
  ck_assert_int_eq(f.ack_calls, 4);
  json_object_put(a);
  fixture_stop(&f, cs, 1);
}
END_TEST

/* Out of memory while encoding: the call fails cleanly, no callback is
 * registered, nothing half-sent, and the session goes on. */
START_TEST(emit_out_of_memory) {
  fixture f = {0};
  ws_client c;
  ws_client *cs[] = {&c};
  sio_bin b = {(const uint8_t *)"\x01", 1};
  long n;
  fixture_start(&f);
  open_session(&f, &c);
  connect_ns(&c, "0", NULL);
  /* Allocations 0 and 1 of an emit with one attachment are its header and
   * attachment buffers, before anything is queued. */
  for (n = 0; n < 2; n++) {
    sio_mem_fail_after(n);
    ck_assert_int_eq(sio_socket_emit(f.socks[0], "x", NULL, &b, 1),
                     SIO_ERR_NOMEM);
    sio_mem_fail_after(-1);
  }
  sio_mem_fail_after(0);
  ck_assert_int_eq(
      sio_socket_emit_ack(f.socks[0], "x", NULL, NULL, 0, 10, on_ack, &f),
      SIO_ERR_NOMEM);
  ck_assert_int_eq(sio_namespace_broadcast(sio_server_of(f.srv, "/"), NULL, "x",
                                           NULL, NULL, 0),
                   SIO_ERR_NOMEM);
  sio_mem_fail_after(-1);
  ck_assert_int_eq(sio_socket_emit(f.socks[0], "ok", NULL, NULL, 0), 0);
  expect(&c, "42[\"ok\"]");
  ws_client_pump(&c, 30);
  ck_assert_int_eq(f.ack_calls, 0);
  fixture_stop(&f, cs, 1);
}
END_TEST

START_TEST(binary_events_and_acks) {
  fixture f = {0};
  ws_client c;
  ws_client *cs[] = {&c};
  fixture_start(&f);
  open_session(&f, &c);
  connect_ns(&c, "0", NULL);
  ws_client_send_text(&c, "451-[\"echo\",{\"_placeholder\":true,\"num\":0}]");
  ws_client_send(&c, 1, "\x01\x02\x03", 3);
  expect(&c, "451-[\"echo-back\",{\"_placeholder\":true,\"num\":0}]");
  expect_binary(&c, "\x01\x02\x03", 3);
  ck_assert_uint_eq(f.nbins, 1);
  ck_assert_uint_eq(f.bin0_len, 3);

  ws_client_send_text(&c,
                      "452-789[\"ack-me\",{\"_placeholder\":true,\"num\":0},"
                      "{\"_placeholder\":true,\"num\":1}]");
  ws_client_send(&c, 1, "\x01\x02\x03", 3);
  ws_client_send(&c, 1, "\x04\x05\x06", 3);
  expect(&c, "462-789[{\"_placeholder\":true,\"num\":0},"
             "{\"_placeholder\":true,\"num\":1}]");
  expect_binary(&c, "\x01\x02\x03", 3);
  expect_binary(&c, "\x04\x05\x06", 3);

  /* Server-built placeholders. */
  {
    json_object *args = json_object_new_array();
    sio_bin b = {(const uint8_t *)"\xff\x00", 2};
    json_object_array_add(args, sio_placeholder_new(0));
    ck_assert_int_eq(sio_socket_emit(f.socks[0], "blob", args, &b, 1), 0);
    expect(&c, "451-[\"blob\",{\"_placeholder\":true,\"num\":0}]");
    expect_binary(&c, "\xff\x00", 2);
    json_object_put(args);
  }
  /* A binary message nobody announced ends the session. */
  ws_client_send(&c, 1, "\x01", 1);
  ck_assert(ws_client_wait_closed(&c, T));
  ws_client_pump(&c, 20);
  ck_assert_int_eq(f.disconnects, 1);
  ck_assert_str_eq(f.reason, "forced close");
  fixture_stop(&f, cs, 1);
}
END_TEST

START_TEST(namespaces_and_refusals) {
  fixture f = {0};
  ws_client c;
  ws_client *cs[] = {&c};
  char sid1[21], sid2[21];
  fixture_start(&f);
  open_session(&f, &c);
  ck_assert_str_eq(connect_ns(&c, "0/nope,", NULL),
                   "44/nope,{\"message\":\"Invalid namespace\"}");
  ck_assert_str_eq(connect_ns(&c, "0/random", NULL),
                   "44/random,{\"message\":\"Invalid namespace\"}");
  f.refuse = 1;
  ck_assert_str_eq(connect_ns(&c, "0/admin,", NULL),
                   "44/admin,{\"message\":\"Not authorized\"}");
  f.refuse = 2;
  ck_assert_str_eq(connect_ns(&c, "0/admin,", NULL),
                   "44/admin,{\"message\":\"unauthorized\",\"data\":"
                   "{\"code\":\"forbidden\"}}");
  ck_assert_int_eq(f.connections, 0);
  ck_assert_uint_eq(sio_namespace_socket_count(sio_server_of(f.srv, "/admin")),
                    0);
  /* The session survived the refusals. */
  f.refuse = 0;
  connect_ns(&c, "0", sid1);
  connect_ns(&c, "0/admin,", sid2);
  ck_assert_str_ne(sid1, sid2);
  ck_assert_int_eq(f.connections, 2);
  /* Leaving /admin keeps the session and "/". */
  ws_client_send_text(&c, "41/admin,");
  ws_client_send_text(&c, "42[\"echo\",\"main\"]");
  expect(&c, "42[\"echo-back\",\"main\"]");
  ck_assert_int_eq(f.disconnects, 1);
  ck_assert_str_eq(f.reason, "client namespace disconnect");
  ck_assert_uint_eq(sio_namespace_socket_count(sio_server_of(f.srv, "/admin")),
                    0);
  /* ... and /admin can be joined again, with a new id. */
  connect_ns(&c, "0/admin,", sid1);
  ck_assert_str_ne(sid1, sid2);
  /* An event for a namespace without a socket is an invalid state. */
  ws_client_send_text(&c, "42/other,[\"x\"]");
  ck_assert(ws_client_wait_closed(&c, T));
  ws_client_pump(&c, 20);
  ck_assert_int_eq(f.disconnects, 3);
  ck_assert_str_eq(f.reason, "forced server close");
  fixture_stop(&f, cs, 1);
}
END_TEST

START_TEST(server_side_disconnects) {
  fixture f = {0};
  ws_client c;
  ws_client *cs[] = {&c};
  char sid1[21], sid2[21];
  fixture_start(&f);
  open_session(&f, &c);
  connect_ns(&c, "0", sid1);
  sio_socket_disconnect(f.socks[0], 0);
  expect(&c, "41");
  ck_assert_str_eq(f.reason, "server namespace disconnect");
  ck_assert_uint_eq(sio_namespace_socket_count(sio_server_of(f.srv, "/")), 0);
  /* Same session, new socket. */
  connect_ns(&c, "0", sid2);
  ck_assert_str_ne(sid1, sid2);
  /* From inside an event handler. */
  ws_client_send_text(&c, "42[\"bye\"]");
  expect(&c, "41");
  ck_assert_int_eq(f.disconnects, 2);
  connect_ns(&c, "0", NULL);
  connect_ns(&c, "0/admin,", NULL);
  /* close_transport: every namespace gets DISCONNECT, then the session
   * closes. */
  ws_client_send_text(&c, "42[\"bye-all\"]");
  expect(&c, "41");
  expect(&c, "41/admin,");
  ck_assert(ws_client_wait_closed(&c, T));
  ck_assert_int_eq(f.disconnects, 4);
  ck_assert_str_eq(f.reason, "server namespace disconnect");
  fixture_stop(&f, cs, 1);
}
END_TEST

START_TEST(protocol_errors_close_the_session) {
  fixture f = {0};
  ws_client c1, c2, c3;
  ws_client *cs[] = {&c1, &c2, &c3};
  fixture_start(&f);
  open_session(&f, &c1);
  connect_ns(&c1, "0", NULL);
  ws_client_send_text(&c1, "4abc");
  ck_assert(ws_client_wait_closed(&c1, T));
  ws_client_pump(&c1, 20);
  ck_assert_int_eq(f.disconnects, 1);
  ck_assert_str_eq(f.reason, "forced close");

  open_session(&f, &c2);
  connect_ns(&c2, "0", NULL);
  ws_client_send_text(&c2, "40"); /* CONNECT again: invalid state */
  ck_assert(ws_client_wait_closed(&c2, T));
  ck_assert_int_eq(f.disconnects, 2);
  ck_assert_str_eq(f.reason, "forced server close");

  open_session(&f, &c3);
  ws_client_send_text(&c3, "42[\"echo\"]"); /* no CONNECT first */
  ck_assert(ws_client_wait_closed(&c3, T));
  ck_assert_int_eq(f.events, 0);
  fixture_stop(&f, cs, 3);
}
END_TEST

static int count_bcast(fixture *f, const char *const *rooms, size_t nrooms,
                       const char *const *except, size_t nexcept, int flags) {
  sio_broadcast_opts o;
  json_object *a = json_tokener_parse("[1]");
  int n;
  o.rooms = rooms;
  o.nrooms = nrooms;
  o.except = except;
  o.nexcept = nexcept;
  o.flags = flags;
  n = sio_namespace_broadcast(sio_server_of(f->srv, "/"), &o, "b", a, NULL, 0);
  json_object_put(a);
  return n;
}

START_TEST(broadcast_rooms_except_binary) {
  fixture f = {0};
  ws_client c[3];
  ws_client *cs[] = {&c[0], &c[1], &c[2]};
  char sid[3][21];
  const char *r1[] = {"r1"}, *r12[] = {"r1", "r2"}, *ex[1];
  int i;
  fixture_start(&f);
  for (i = 0; i < 3; i++) {
    open_session(&f, &c[i]);
    connect_ns(&c[i], "0", sid[i]);
  }
  ck_assert_int_eq(sio_socket_join(f.socks[0], "r1"), 0);
  ck_assert_int_eq(sio_socket_join(f.socks[1], "r1"), 0);
  ck_assert_int_eq(sio_socket_join(f.socks[1], "r2"), 0);
  ck_assert_int_eq(sio_socket_join(f.socks[2], "r2"), 0);

  ck_assert_int_eq(count_bcast(&f, NULL, 0, NULL, 0, 0), 3);
  for (i = 0; i < 3; i++)
    expect(&c[i], "42[\"b\",1]");

  ck_assert_int_eq(count_bcast(&f, r1, 1, NULL, 0, 0), 2);
  expect(&c[0], "42[\"b\",1]");
  expect(&c[1], "42[\"b\",1]");
  expect_nothing_before_mark(&f, &c[2], f.socks[2]);

  /* Union, each socket once, minus an own-id room. */
  ex[0] = sid[0];
  ck_assert_int_eq(count_bcast(&f, r12, 2, ex, 1, 0), 2);
  expect(&c[1], "42[\"b\",1]");
  expect(&c[2], "42[\"b\",1]");
  expect_nothing_before_mark(&f, &c[0], f.socks[0]);
  expect_nothing_before_mark(&f, &c[1], f.socks[1]);

  /* Everyone except a room; volatile reaches writable sessions. */
  ex[0] = "r2";
  ck_assert_int_eq(count_bcast(&f, NULL, 0, ex, 1, SIO_BCAST_VOLATILE), 1);
  expect(&c[0], "42[\"b\",1]");

  /* Binary broadcast to one socket's own room. */
  {
    const char *to[1];
    json_object *args = json_object_new_array();
    sio_bin b = {(const uint8_t *)"\x07", 1};
    to[0] = sid[2];
    sio_broadcast_opts o = {to, 1, NULL, 0, SIO_BCAST_LOCAL};
    json_object_array_add(args, sio_placeholder_new(0));
    ck_assert_int_eq(sio_namespace_broadcast(sio_server_of(f.srv, "/"), &o,
                                             "bin", args, &b, 1),
                     1);
    json_object_put(args);
    expect(&c[2], "451-[\"bin\",{\"_placeholder\":true,\"num\":0}]");
    expect_binary(&c[2], "\x07", 1);
  }
  ck_assert_int_eq(sio_namespace_broadcast(sio_server_of(f.srv, "/"), NULL,
                                           "connect", NULL, NULL, 0),
                   SIO_ERR_INVAL);

  /* A client that goes away: "transport close", counts drop. */
  ws_client_close(&c[1]);
  ws_client_pump(&c[0], 50);
  ck_assert_int_eq(f.disconnects, 1);
  ck_assert_str_eq(f.reason, "transport close");
  ck_assert_uint_eq(sio_namespace_socket_count(sio_server_of(f.srv, "/")), 2);
  ck_assert_int_eq(count_bcast(&f, r12, 2, NULL, 0, 0), 2);
  fixture_stop(&f, cs, 3);
}
END_TEST

START_TEST(connect_timeout_closes_idle_session) {
  fixture f = {0};
  ws_client c1, c2;
  ws_client *cs[] = {&c1, &c2};
  f.connect_ms = 100;
  fixture_start(&f);
  open_session(&f, &c1);
  open_session(&f, &c2);
  connect_ns(&c2, "0", NULL);
  ck_assert(ws_client_wait_closed(&c1, T));
  /* A session that connected a namespace in time stays. */
  ws_client_pump(&c2, 150);
  ws_client_send_text(&c2, "42[\"echo\"]");
  expect(&c2, "42[\"echo-back\"]");
  ck_assert_int_eq(f.connections, 1);
  fixture_stop(&f, cs, 2);
}
END_TEST

START_TEST(server_close_from_handler) {
  fixture f = {0};
  ws_client c1, c2;
  ws_client *cs[] = {&c1, &c2};
  sio_socket *held;
  fixture_start(&f);
  open_session(&f, &c1);
  open_session(&f, &c2);
  connect_ns(&c1, "0", NULL);
  connect_ns(&c2, "0/admin,", NULL);
  held = f.socks[0];
  sio_socket_ref(held);
  ws_client_send_text(&c1, "42[\"shutdown\"]");
  ck_assert(ws_client_wait_closed(&c1, T));
  ck_assert(ws_client_wait_closed(&c2, T));
  ck_assert_int_eq(f.disconnects, 2);
  ck_assert_str_eq(f.reason, "server shutting down");
  /* The application's reference outlives the server. */
  ck_assert_int_eq(sio_socket_connected(held), 0);
  ck_assert_int_eq(sio_socket_emit(held, "x", NULL, NULL, 0), SIO_ERR_CLOSED);
  f.srv = NULL; /* closed by the handler */
  fixture_stop(&f, cs, 2);
  sio_socket_unref(held);
}
END_TEST

/* Option setters refuse what they cannot honour. */
START_TEST(options_refuse_invalid_values) {
  sio_options *o;
  ck_assert_int_eq(sio_options_new(&o), 0);
  ck_assert_int_eq(sio_options_set_tls_min_version(o, "1.3"), 0);
  ck_assert_int_eq(sio_options_set_tls_min_version(o, "1.2"), 0);
  ck_assert_int_eq(sio_options_set_tls_min_version(o, "1.1"), SIO_ERR_INVAL);
  ck_assert_int_eq(sio_options_set_tls_min_version(o, "1.3x"), SIO_ERR_INVAL);
  ck_assert_int_eq(sio_options_set_tls_min_version(o, NULL), SIO_ERR_INVAL);
  ck_assert_int_eq(sio_options_set_tls(o, "cert.pem", NULL, NULL),
                   SIO_ERR_INVAL);
  sio_options_del(o);
}
END_TEST

/* ------------------------------------------------------ sio_server_post */

/* Two threads post 5000 functions each: every one runs once, on the
 * loop's thread, in each poster's order. */
typedef struct pst {
  uv_loop_t loop;
  sio_server *srv;
  uv_timer_t guard;
  uv_thread_t loop_thread;
  int next[2], ran, wrong, disorder, canceled;
} pst;

typedef struct pst_item {
  pst *p;
  int poster, seq;
} pst_item;

static void pst_fn(sio_server *s, void *ud) {
  pst_item *it = ud;
  pst *p = it->p;
  uv_thread_t self = uv_thread_self();
  if (!s) {
    p->canceled++;
    sio_free(it);
    return;
  }
  if (s != p->srv || !uv_thread_equal(&self, &p->loop_thread))
    p->wrong++;
  if (it->seq != p->next[it->poster])
    p->disorder++;
  p->next[it->poster] = it->seq + 1;
  if (++p->ran == 10000)
    uv_timer_stop(&p->guard);
  sio_free(it);
}

typedef struct pst_arg {
  pst *p;
  int id;
} pst_arg;

static void pst_poster(void *ud) {
  pst_arg *a = ud;
  int i;
  for (i = 0; i < 5000; i++) {
    pst_item *it = sio_malloc(sizeof(*it));
    it->p = a->p;
    it->poster = a->id;
    it->seq = i;
    ck_assert_int_eq(sio_server_post(a->p->srv, pst_fn, it), 0);
  }
}

static void pst_guard(uv_timer_t *t) { (void)t; } /* keeps the loop up */

START_TEST(post_from_other_threads_runs_on_the_loop) {
  pst *p = sio_calloc(1, sizeof(*p));
  pst_arg a[2];
  uv_thread_t t[2];
  int i;
  ck_assert_int_eq(uv_loop_init(&p->loop), 0);
  p->loop_thread = uv_thread_self();
  ck_assert_int_eq(sio_server_new(&p->srv, &p->loop, NULL), 0);
  uv_timer_init(&p->loop, &p->guard);
  uv_timer_start(&p->guard, pst_guard, 10000, 0);
  for (i = 0; i < 2; i++) {
    a[i].p = p;
    a[i].id = i;
    ck_assert_int_eq(uv_thread_create(&t[i], pst_poster, &a[i]), 0);
  }
  uv_run(&p->loop, UV_RUN_DEFAULT); /* until the last ran (or 10 s) */
  for (i = 0; i < 2; i++)
    uv_thread_join(&t[i]);
  ck_assert_int_eq(p->ran, 10000);
  ck_assert_int_eq(p->wrong, 0);
  ck_assert_int_eq(p->disorder, 0);
  uv_close((uv_handle_t *)&p->guard, NULL);
  sio_server_close(p->srv, NULL, NULL);
  uv_run(&p->loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&p->loop), 0);
  sio_free(p);
}
END_TEST

/* What is still waiting when the server closes runs as fn(NULL, ud), so
 * its owner frees it; a post after the close is refused. */
START_TEST(post_pending_at_close_is_cancelled) {
  pst *p = sio_calloc(1, sizeof(*p));
  int i;
  ck_assert_int_eq(uv_loop_init(&p->loop), 0);
  p->loop_thread = uv_thread_self();
  ck_assert_int_eq(sio_server_new(&p->srv, &p->loop, NULL), 0);
  for (i = 0; i < 3; i++) {
    pst_item *it = sio_calloc(1, sizeof(*it));
    it->p = p;
    it->seq = i;
    ck_assert_int_eq(sio_server_post(p->srv, pst_fn, it), 0);
  }
  sio_server_close(p->srv, NULL, NULL);
  ck_assert_int_eq(p->canceled, 3);
  ck_assert_int_eq(p->ran, 0);
  ck_assert_int_eq(sio_server_post(p->srv, pst_fn, NULL), SIO_ERR_CLOSED);
  ck_assert_int_eq(sio_server_post(NULL, pst_fn, NULL), SIO_ERR_INVAL);
  uv_run(&p->loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&p->loop), 0);
  sio_free(p);
}
END_TEST

Suite *sio_server_suite(void) {
  Suite *s = suite_create("sio_server");
  TCase *tc = tcase_create("loopback");
  tcase_set_timeout(tc, 20);
  tcase_add_test(tc, options_refuse_invalid_values);
  tcase_add_test(tc, post_from_other_threads_runs_on_the_loop);
  tcase_add_test(tc, post_pending_at_close_is_cancelled);
  tcase_add_test(tc, connect_then_on_connection_emit);
  tcase_add_test(tc, events_and_client_acks);
  tcase_add_test(tc, numeric_event_name);
  tcase_add_test(tc, server_acks_answer_timeout_cancel);
  tcase_add_test(tc, emit_out_of_memory);
  tcase_add_test(tc, binary_events_and_acks);
  tcase_add_test(tc, namespaces_and_refusals);
  tcase_add_test(tc, server_side_disconnects);
  tcase_add_test(tc, protocol_errors_close_the_session);
  tcase_add_test(tc, broadcast_rooms_except_binary);
  tcase_add_test(tc, connect_timeout_closes_idle_session);
  tcase_add_test(tc, server_close_from_handler);
  suite_add_tcase(s, tc);
  return s;
}
