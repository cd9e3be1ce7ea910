/* sio_client.c: the Socket.IO side of one Engine.IO session (the reference
 * server's Client).
 *
 * Role: decode each Engine.IO message into a Socket.IO packet
 * (socket.io-protocol README, "Packet encoding"), complete BINARY_EVENT /
 * BINARY_ACK packets with the binary messages that follow them, and route
 * each complete packet (Client.ondecoded):
 *   - no socket for its namespace and a CONNECT: connect the namespace
 *     (CONNECT_ERROR {"message":"Invalid namespace"} if it does not exist);
 *   - a socket and anything but CONNECT / CONNECT_ERROR: that socket;
 *   - anything else: close the session ("invalid state").
 * A packet that does not decode, a binary message nobody announced, or text
 * while attachments are awaited closes the session the way the reference's
 * Client.onerror does: the engine is asked to close and the sockets learn
 * the engine's reason ("forced close") when it does.
 *
 * States:
 *   OPEN     messages are processed; a connect timer runs until the first
 *            namespace connects (closing the session when it fires first);
 *   CLOSING  (closing = 1) close requested: input ignored, sends refused;
 *   ENDED    (ended = 1) Engine.IO on_close ran: sockets are disconnected,
 *            es is gone, and the struct is freed as soon as no frame of
 *            ours is on the stack (busy == 0). This is the deferred free
 *            of DESIGN §11.7: application callbacks run inside our frames
 *            and may close the server, which may end this session while we
 *            still hold c.
 * The connect timer is allocated apart from the client and freed in its
 * close callback, so it may outlive the client. */
#include "sio_client.h"

#include <string.h>

#include "sio_group.h"
#include "sio_int.h"
#include "sio_log.h"
#include "sio_mem.h"
#include "sio_restore.h"
#include "sio_namespace.h"
#include "sio_server.h"
#include "sio_socket.h"

struct sio_connect_timer {
  uv_timer_t t;
  sio_client *c; /* NULL once released */
};

static void client_free(sio_client *c);

static void client_enter(sio_client *c) { c->busy++; }

static void client_leave(sio_client *c) {
  if (--c->busy == 0 && c->ended)
    client_free(c);
}

/* CLOSING: sends are refused from now on, broadcasts' included, which
 * reach the session through each socket's out pointer without visiting
 * the client. */
static void set_closing(sio_client *c) {
  sio_queue *q;
  c->closing = 1;
  sio_queue_foreach(q, &c->sockets) {
    sio_socket *s = sio_container_of(q, sio_socket, client_link);
    s->out = NULL;
  }
}

/* --------------------------------------------------------- connect timer */

static void timer_closed(uv_handle_t *h) {
  sio_free(sio_container_of((uv_timer_t *)h, sio_connect_timer, t));
}

static void timer_release(sio_client *c) {
  sio_connect_timer *tm = c->timer;
  if (!tm)
    return;
  c->timer = NULL;
  tm->c = NULL;
  uv_timer_stop(&tm->t);
  uv_close((uv_handle_t *)&tm->t, timer_closed);
}

static void on_connect_timeout(uv_timer_t *t) {
  sio_connect_timer *tm = sio_container_of(t, sio_connect_timer, t);
  sio_client *c = tm->c;
  if (!c)
    return;
  timer_release(c);
  if (sio_queue_empty(&c->sockets)) {
    SIO_LOGD("session %s: no namespace joined in time",
             c->es ? eio_socket_sid(c->es) : "?");
    sio_client_close(c);
  }
}

/* ------------------------------------------------------------- lifecycle */

int sio_client_new(sio_client **out, sio_server *srv, eio_socket *es) {
  sio_client *c = sio_calloc(1, sizeof(*c));
  *out = NULL;
  if (!c)
    return SIO_ERR_NOMEM;
  c->srv = srv;
  c->es = es;
  {
    uv_timeval64_t tv;
    if (uv_gettimeofday(&tv) == 0)
      c->issued_ms = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
  }
  sio_queue_init(&c->sockets);
  sio_queue_init(&c->restoring);
  if (srv->opts.connect_timeout) {
    sio_connect_timer *tm = sio_malloc(sizeof(*tm));
    if (!tm) {
      sio_free(c);
      return SIO_ERR_NOMEM;
    }
    uv_timer_init(srv->loop, &tm->t);
    tm->c = c;
    uv_timer_start(&tm->t, on_connect_timeout, srv->opts.connect_timeout, 0);
    c->timer = tm;
  }
  sio_queue_insert_tail(&srv->clients, &c->link);
  srv->stats.clients++;
  if (srv->group)
    sio_group_note_load(srv);
  eio_socket_set_data(es, c);
  *out = c;
  return 0;
}

static void reader_drop(sio_client *c) {
  if (c->reader) {
    sio_binary_reader_deinit(c->reader);
    sio_free(c->reader);
    c->reader = NULL;
  }
}

static void client_free(sio_client *c) {
  reader_drop(c);
  sio_free(c);
}

/* Disconnects every socket with reason. Callbacks may disconnect other
 * sockets of c too: always take the current head. */
static void close_sockets(sio_client *c, const char *reason) {
  client_enter(c);
  while (!sio_queue_empty(&c->sockets)) {
    sio_socket *s =
        sio_container_of(sio_queue_head(&c->sockets), sio_socket, client_link);
    sio_socket_close(s, reason);
  }
  client_leave(c);
}

void sio_client_on_close(sio_client *c, const char *reason) {
  if (c->ended)
    return;
  SIO_LOGD("session %s closed: %s", c->es ? eio_socket_sid(c->es) : "?",
           reason);
  client_enter(c);
  c->ended = 1;
  set_closing(c);
  timer_release(c);
  close_sockets(c, reason);
  sio_restore_cancel(c);
  reader_drop(c);
  sio_queue_remove(&c->link);
  c->srv->stats.clients--;
  if (c->srv->group)
    sio_group_note_load(c->srv);
  if (c->es)
    eio_socket_set_data(c->es, NULL);
  c->es = NULL;
  client_leave(c);
}

void sio_client_close(sio_client *c) {
  if (c->closing)
    return;
  client_enter(c);
  set_closing(c);
  timer_release(c);
  reader_drop(c);
  eio_socket_close(c->es, NULL);
  close_sockets(c, "forced server close");
  client_leave(c);
}

void sio_client_disconnect_all(sio_client *c) {
  client_enter(c);
  while (!sio_queue_empty(&c->sockets)) {
    sio_socket *s =
        sio_container_of(sio_queue_head(&c->sockets), sio_socket, client_link);
    sio_socket_send_disconnect(s);
    sio_socket_close(s, "server namespace disconnect");
  }
  sio_client_close(c);
  client_leave(c);
}

void sio_client_shutdown(sio_client *c) {
  client_enter(c);
  set_closing(c);
  timer_release(c);
  close_sockets(c, "server shutting down");
  client_leave(c);
}

/* Client.onerror: a protocol violation. The engine closes the session and
 * its on_close tells the sockets why. */
static void fail(sio_client *c, const char *why, int err) {
  (void)why;
  (void)err;
  if (c->closing)
    return;
  SIO_LOGD("session %s: %s (%s), closing", eio_socket_sid(c->es), why,
           sio_err_name(err));
  c->srv->stats.parse_errors++;
  set_closing(c);
  timer_release(c);
  reader_drop(c);
  eio_socket_close(c->es, NULL);
}

/* ---------------------------------------------------------------- input */

sio_socket *sio_client_find_socket(const sio_client *c, const char *nsp,
                                   size_t len) {
  sio_queue *q;
  sio_queue_foreach(q, &c->sockets) {
    sio_socket *s = sio_container_of(q, sio_socket, client_link);
    if (s->ns->namelen == len && memcmp(s->ns->name, nsp, len) == 0)
      return s;
  }
  return NULL;
}

void sio_client_connected(sio_client *c) { timer_release(c); }

static int invalid_namespace(sio_client *c, const char *nsp, size_t len) {
  json_object *o = json_object_new_object();
  json_object *m = json_object_new_string("Invalid namespace");
  char *name = sio_strndup(nsp, len);
  sio_outpkt p;
  int rv = SIO_ERR_NOMEM;
  if (!o || !m || !name || json_object_object_add(o, "message", m)) {
    json_object_put(m);
    goto out;
  }
  rv = sio_outpkt_control(&p, sio_server_scratch(c->srv),
                          SIO_PACKET_CONNECT_ERROR, name, o);
  if (rv == 0) {
    rv = sio_client_send(c, &p);
    sio_outpkt_release(&p);
  }
out:
  json_object_put(o);
  sio_free(name);
  return rv == SIO_ERR_NOMEM ? rv : 0;
}

/* Client.ondecoded. */
static void dispatch(sio_client *c, sio_packet *pkt, const sio_bin *bins,
                     size_t nbins) {
  sio_socket *s = sio_client_find_socket(c, pkt->nsp, pkt->nsp_len);
  sio_namespace *ns =
      s ? NULL : sio_server_find_nsp(c->srv, pkt->nsp, pkt->nsp_len);
  /* a CONNECT still being answered (sio_restore.c) is a socket that is
   * not connected yet: nothing more may come for it */
  int restoring = ns && sio_restore_pending(c, ns);
  c->srv->stats.packets_in++;
  if (!s && !restoring && pkt->type == SIO_PACKET_CONNECT) {
    int rv = ns ? sio_namespace_connect(ns, c, pkt->data)
                : invalid_namespace(c, pkt->nsp, pkt->nsp_len);
    if (rv) {
      SIO_LOGW("session %s: cannot answer CONNECT (%s), closing",
               c->es ? eio_socket_sid(c->es) : "?", sio_err_name(rv));
      sio_client_close(c);
    }
  } else if (s && pkt->type != SIO_PACKET_CONNECT &&
             pkt->type != SIO_PACKET_CONNECT_ERROR) {
    sio_socket_on_packet(s, pkt, bins, nbins);
  } else {
    SIO_LOGD("session %s: invalid state (packet type %d), closing",
             eio_socket_sid(c->es), (int)pkt->type);
    sio_client_close(c);
  }
}

static void on_text(sio_client *c, const uint8_t *data, size_t len) {
  sio_packet pkt;
  int rv;
  if (c->reader && c->reader->active) {
    fail(c, "text message while attachments were awaited", SIO_ERR_PROTO);
    return;
  }
  rv = sio_packet_decode(&pkt, (const char *)data, len, NULL);
  if (rv) {
    fail(c, "undecodable packet", rv);
    return;
  }
  if ((pkt.type == SIO_PACKET_BINARY_EVENT ||
       pkt.type == SIO_PACKET_BINARY_ACK) &&
      pkt.nattach > 0) {
    if (!c->reader) {
      c->reader = sio_malloc(sizeof(*c->reader));
      if (!c->reader) {
        sio_packet_clear(&pkt);
        fail(c, "out of memory", SIO_ERR_NOMEM);
        return;
      }
      /* a packet's attachments together are bounded like one message */
      sio_binary_reader_init(c->reader, c->srv->opts.max_payload);
    }
    /* The reader copies pkt.nsp, which points into data. */
    rv = sio_binary_reader_start(c->reader, &pkt);
    if (rv) {
      sio_packet_clear(&pkt);
      fail(c, "bad binary packet", rv);
    }
    return;
  }
  dispatch(c, &pkt, NULL, 0);
  sio_packet_clear(&pkt);
}

static void on_binary(sio_client *c, const uint8_t *data, size_t len) {
  sio_binary_reader *r = c->reader;
  sio_packet pkt;
  sio_bin_part *parts;
  sio_bin stack_bins[16], *bins = stack_bins;
  size_t nparts, i;
  int rv;
  if (!r || !r->active) {
    fail(c, "binary message while none was announced", SIO_ERR_PROTO);
    return;
  }
  rv = sio_binary_reader_add(r, data, len);
  if (rv < 0) {
    fail(c, "bad attachment", rv);
    return;
  }
  if (rv == 0)
    return;
  /* Detach the reader from c before dispatching: a callback may end the
   * session, and pkt.nsp points into the reader. */
  c->reader = NULL;
  sio_binary_reader_take(r, &pkt, &parts, &nparts);
  if (nparts > SIO_ARRLEN(stack_bins)) {
    bins = sio_malloc(nparts * sizeof(*bins));
    if (!bins) {
      fail(c, "out of memory", SIO_ERR_NOMEM);
      goto out;
    }
  }
  for (i = 0; i < nparts; i++) {
    bins[i].data = parts[i].data;
    bins[i].len = parts[i].len;
  }
  dispatch(c, &pkt, bins, nparts);
  if (bins != stack_bins)
    sio_free(bins);
out:
  sio_packet_clear(&pkt);
  sio_binary_parts_free(parts, nparts);
  sio_binary_reader_deinit(r);
  sio_free(r);
}

void sio_client_on_message(sio_client *c, int binary, const uint8_t *data,
                           size_t len) {
  if (c->closing || c->ended)
    return;
  client_enter(c);
  c->srv->stats.bytes_in += len;
  if (binary)
    on_binary(c, data, len);
  else
    on_text(c, data, len);
  client_leave(c);
}

/* --------------------------------------------------------------- output */

int sio_client_send(sio_client *c, const sio_outpkt *p) {
  int partial, rv;
  if (c->closing || !c->es)
    return SIO_ERR_CLOSED;
  rv = sio_outpkt_send(p, c->es, &partial);
  if (rv == 0) {
    c->srv->stats.packets_out++;
    c->srv->stats.bytes_out += p->bytes;
    return 0;
  }
  sio_client_send_failed(c, rv, partial);
  return rv;
}

void sio_client_close_slow(sio_client *c) {
  if (!c || c->closing || !c->es)
    return;
  set_closing(c);
  eio_socket_close(c->es, "transport error");
}

void sio_client_send_failed(sio_client *c, int rv, int partial) {
  if (c->closing || !c->es)
    return;
  if (rv == SIO_ERR_LIMIT || rv == SIO_ERR_CLOSED) {
    /* The engine is closing the session; its on_close follows. */
    set_closing(c);
  } else if (partial) {
    /* A header without all its attachments would desynchronise the peer's
     * decoder: the session cannot continue. */
    set_closing(c);
    eio_socket_close(c->es, NULL);
  }
}

