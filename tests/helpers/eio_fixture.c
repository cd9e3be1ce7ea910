/* eio_fixture.c: the scripted eio_server of the engine's loop-level
 * suites (eio_fixture.h). */
#include "eio_fixture.h"

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rawclient.h"
#include "sio/sio.h"
#include "sio_int.h"


static void on_open(eio_socket *es, void *ud) {
  ((fx *)ud)->opens++;
  (void)es;
}

void fx_send_text(eio_socket *es, const char *t) {
  sio_rcbuf *rc = sio_rcbuf_new_copy(t, strlen(t));
  eio_socket_send(es, rc);
  sio_rcbuf_unref(rc);
}

/* "kill": two packets then a server close; "quiet": a close with nothing
 * queued; anything else is echoed. */
static void on_message(eio_socket *es, int binary, const uint8_t *data,
                       size_t len, void *ud) {
  fx *f = ud;
  f->messages++;
  (void)binary;
  if (len == 4 && memcmp(data, "kill", 4) == 0) {
    fx_send_text(es, "4bye");
    fx_send_text(es, "4bye2");
    eio_socket_close(es, NULL);
  } else if (len == 5 && memcmp(data, "quiet", 5) == 0) {
    eio_socket_close(es, NULL);
  } else {
    char buf[256];
    snprintf(buf, sizeof(buf), "4%.*s", (int)len, (const char *)data);
    fx_send_text(es, buf);
  }
}

static void on_close(eio_socket *es, const char *reason, void *ud) {
  fx *f = ud;
  if (f->closes < 8)
    snprintf(f->reasons[f->closes], sizeof(f->reasons[0]), "%s", reason);
  f->closes++;
  (void)es;
}

static void server_closed(void *ud) { ((fx *)ud)->closed = 1; }
static void done(void *ud) {
  fx *f = ud;
  eio_server_stats(f->srv, &f->stats);
  f->sessions = eio_server_session_count(f->srv);
  eio_server_close(f->srv, server_closed, f);
}
static void thread_fn(void *ud) {
  fx *f = ud;
  f->scenario(f);
}

eio_options fx_default_opts(void) {
  eio_options o = {0};
  o.path = "/engine.io/";
  o.ping_interval = 5000; /* no ping in the way of the scripted answers */
  o.ping_timeout = 300;   /* and the bound of a closed session's last GET */
  o.max_payload = 1000;
  o.transports = SIO_TRANSPORT_POLLING | SIO_TRANSPORT_WEBSOCKET;
  o.cors_origins = "*";
  return o;
}

void fx_run(fx *f, const eio_options *o, void (*scenario)(fx *f)) {
  eio_callbacks cbs = {on_open, on_message, on_close, NULL};
  memset(f, 0, sizeof(*f));
  f->scenario = scenario;
  ck_assert_int_eq(uv_loop_init(&f->loop), 0);
  ck_assert_int_eq(eio_server_new(&f->srv, &f->loop, o, &cbs, f), 0);
  ck_assert_int_eq(eio_server_listen(f->srv, "127.0.0.1:0"), 0);
  f->port = eio_server_port(f->srv, 0);
  ck_assert_int_gt(f->port, 0);
  rc_run(&f->loop, thread_fn, done, f);
  ck_assert_int_eq(f->closed, 1);
  ck_assert_int_eq(uv_loop_close(&f->loop), 0);
}

/* Opens a polling session; its sid in sid, its polling URL in u. */
void fx_handshake(fx *f, char sid[32], char u[128]) {
  rc_eio_handshake(f->port, sid, u);
}


/* Sends a GET on a new connection without reading the answer (parked). */
int fx_park_get(fx *f, const char *u) {
  char req[256];
  int fd = rc_connect(f->port), n;
  ck_assert_int_ge(fd, 0);
  n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", u);
  ck_assert_int_eq(rc_send(fd, req, (size_t)n), 0);
  usleep(50000); /* parked: nothing is queued, so no answer can come */
  return fd;
}

void fx_expect_get(fx *f, const char *u, int status, const char *body) {
  rc_response r;
  ck_assert_int_eq(rc_fetch(f->port, "GET", u, NULL, &r), status);
  ck_assert_str_eq(r.body, body);
}
