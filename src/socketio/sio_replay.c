/* sio_replay.c: replay from the last event id (sio_socket_replay).
 *
 * A socket with a replay pending has a sio_replay: a FIFO of requests,
 * the head one running, and the broadcasts that reached the socket since
 * the first request (held, with their history ids). Each request runs at
 * the end of a loop iteration (never inside the call that made it):
 *
 *   read the history -> FOUND callback -> send the events found -> DONE
 *   callback -> next request, or: send the held broadcasts whose id no
 *   request of the batch replayed, and drop the sio_replay
 *
 * Holding from the first request to the last is what orders things: an
 * event published while a replay is pending is both in the history read
 * and held, and goes out once, in the replay. While the callbacks and the
 * replayed events run ("sending"), broadcasts to the socket go straight
 * out: they are what the application emits there (connection.established
 * before the events, an ack after them).
 *
 * The history is the namespace's own (sio_history, read at once) or, when
 * the adapter keeps one for the cluster, the adapter's: then the read is
 * asynchronous and the socket's broadcasts stay held until it answers.
 *
 * The sio_replay holds a reference to its socket. A socket that
 * disconnects cancels it (sio_socket_close, after on_disconnect, as
 * pending acks are): held packets are dropped and every request still
 * waiting gets its DONE with SIO_ERR_CANCELED. Once the socket's client
 * started closing nothing more runs: its close follows. */
#include "sio_replay.h"

#include <string.h>

#include "sio_client.h"
#include "sio_history.h"
#include "sio_int.h"
#include "sio_log.h"
#include "sio_map.h"
#include "sio_mem.h"
#include "sio_namespace.h"
#include "sio_queue.h"
#include "sio_server.h"
#include "sio_socket.h"

#define MAX_WAITING 8
#define MAX_HELD 1024
#define MAX_HELD_BYTES (1u << 20)

typedef struct replay_req {
  sio_queue q;
  char **rooms;
  size_t nrooms;
  char *since;
  sio_replay_cb cb;
  void *ud;
} replay_req;

typedef struct held_pkt {
  sio_queue q;
  sio_outpkt pkt;
  char *id; /* NULL: not in any history */
} held_pkt;

/* A read the adapter has not answered yet; outlives its replay when that
 * is cancelled first (rp NULL then). */
typedef struct replay_read {
  sio_replay *rp;
} replay_read;

struct sio_replay {
  sio_socket *s; /* referenced */
  replay_read *reading;
  sio_queue reqs;
  size_t nreqs;
  sio_queue held;
  size_t nheld, held_bytes;
  sio_map replayed; /* ids sent by this batch's replays (values unused) */
  sio_defer defer;
  int sending;
};

static void req_free(replay_req *r) {
  size_t i;
  for (i = 0; i < r->nrooms; i++)
    sio_free(r->rooms[i]);
  sio_free(r->rooms);
  sio_free(r->since);
  sio_free(r);
}

static void held_free(held_pkt *h) {
  sio_outpkt_release(&h->pkt);
  sio_free(h->id);
  sio_free(h);
}

/* Frees rp and detaches it from its socket; what is queued is dropped,
 * each request still waiting told SIO_ERR_CANCELED. */
static void replay_free(sio_replay *rp) {
  sio_queue *q;
  sio_defer_cancel(&rp->defer);
  if (rp->reading)
    rp->reading->rp = NULL;
  rp->s->replay = NULL; /* a callback replaying again is refused */
  while (!sio_queue_empty(&rp->reqs)) {
    replay_req *r;
    q = sio_queue_head(&rp->reqs);
    sio_queue_remove(q);
    r = sio_container_of(q, replay_req, q);
    r->cb(rp->s, SIO_REPLAY_DONE, SIO_ERR_CANCELED, 0, 0, r->ud);
    req_free(r);
  }
  while (!sio_queue_empty(&rp->held)) {
    q = sio_queue_head(&rp->held);
    sio_queue_remove(q);
    held_free(sio_container_of(q, held_pkt, q));
  }
  sio_map_deinit(&rp->replayed);
  sio_socket_unref(rp->s);
  sio_free(rp);
}

/* Sends one packet to s as a broadcast would. Returns 0, or -1 when the
 * socket's client can no longer take packets. */
static int send_to(sio_socket *s, const sio_outpkt *p) {
  int partial, rv;
  if (s->state != SIO_SOCKET_CONNECTED || !s->out)
    return -1;
  rv = sio_outpkt_send(p, s->out, &partial);
  if (rv) {
    sio_client_send_failed(s->client, rv, partial);
    return -1;
  }
  s->ns->srv->stats.packets_out++;
  s->ns->srv->stats.bytes_out += p->bytes;
  return 0;
}

/* s can still be served: connected, its client not closing (then the
 * socket's close, which cancels rp, is on its way) and rp not cancelled. */
static int still_here(const sio_socket *s, const sio_replay *rp) {
  return s->state == SIO_SOCKET_CONNECTED && s->out && s->replay == rp;
}

static void run(sio_defer *d);

/* The last request is done: the held broadcasts not replayed follow. */
static void release_held(sio_replay *rp) {
  sio_socket *s = rp->s;
  while (!sio_queue_empty(&rp->held)) {
    held_pkt *h = sio_container_of(sio_queue_head(&rp->held), held_pkt, q);
    int dup = h->id && sio_map_get(&rp->replayed, h->id, strlen(h->id));
    sio_queue_remove(&h->q);
    if (!dup && send_to(s, &h->pkt) != 0) {
      held_free(h);
      break;
    }
    held_free(h);
  }
  replay_free(rp);
}

/* The head request's history is read (rv 0 with *res, or the error that
 * left it unread): FOUND, the events, DONE, then the next request or the
 * held broadcasts. Takes res. */
static void deliver(sio_replay *rp, int rv, sio_history_result *res) {
  sio_socket *s = rp->s;
  replay_req *r = sio_container_of(sio_queue_head(&rp->reqs), replay_req, q);
  size_t i, sent = 0;
  if (!still_here(s, rp)) {
    sio_history_result_release(res);
    return; /* going away: its close cancels rp */
  }
  sio_socket_ref(s); /* the callbacks may disconnect it */
  rp->sending = 1;
  r->cb(s, SIO_REPLAY_FOUND, rv, res->n, rv ? 0 : res->complete, r->ud);
  for (i = 0; i < res->n && still_here(s, rp); i++) {
    if (send_to(s, &res->ev[i].pkt) != 0)
      break;
    sent++;
    if (sio_map_put(&rp->replayed, res->ev[i].id, strlen(res->ev[i].id), rp) ==
        SIO_ERR_NOMEM)
      SIO_LOGW("socket %s: replay may repeat an event (out of memory)", s->id);
  }
  s->ns->srv->stats.replayed += sent;
  if (still_here(s, rp))
    r->cb(s, SIO_REPLAY_DONE, rv, res->n, rv ? 0 : res->complete, r->ud);
  sio_history_result_release(res);
  if (still_here(s, rp)) {
    rp->sending = 0;
    sio_queue_remove(&r->q);
    rp->nreqs--;
    req_free(r);
    if (rp->nreqs)
      eio_server_defer(s->ns->srv->eio, &rp->defer, run);
    else
      release_held(rp);
  }
  sio_socket_unref(s);
}

/* The adapter's answer, copied into a result (the packets get buffers of
 * their own, as the broadcasts' do). */
static void read_done(void *ud, int status, const sio_adapter_history_event *ev,
                      size_t n, int complete) {
  replay_read *rr = ud;
  sio_replay *rp = rr->rp;
  sio_history_result res;
  size_t i;
  sio_free(rr);
  if (!rp)
    return; /* cancelled meanwhile */
  rp->reading = NULL;
  memset(&res, 0, sizeof(res));
  if (!status && n) {
    res.ev = sio_calloc(n, sizeof(*res.ev));
    for (i = 0; res.ev && i < n; i++, res.n++) {
      res.ev[i].id = sio_strdup(ev[i].id);
      if (!res.ev[i].id ||
          sio_outpkt_from_text(&res.ev[i].pkt, ev[i].pkt, ev[i].len)) {
        sio_free(res.ev[i].id);
        break;
      }
    }
    if (res.n < n) {
      sio_history_result_release(&res);
      status = SIO_ERR_NOMEM;
    }
  }
  res.complete = !status && complete;
  deliver(rp, status, &res);
}

static void run(sio_defer *d) {
  sio_replay *rp = sio_container_of(d, sio_replay, defer);
  sio_socket *s = rp->s;
  sio_namespace *ns = s->ns;
  sio_server *srv = ns->srv;
  replay_req *r = sio_container_of(sio_queue_head(&rp->reqs), replay_req, q);
  sio_history_result res;
  replay_read *rr;
  int rv;
  if (!still_here(s, rp))
    return; /* going away: its close cancels rp */
  memset(&res, 0, sizeof(res));
  if (!(srv->has_adapter && srv->adapter.history_read)) {
    rv = sio_history_read(ns->history, (const char *const *)r->rooms, r->nrooms,
                          r->since, uv_now(srv->loop), &res);
    if (srv->has_adapter && (srv->adapter.flags & SIO_ADAPTER_ROOMS_ON_DEMAND))
      res.complete = 0; /* what other instances sent may not be here */
    deliver(rp, rv, &res);
    return;
  }
  rr = sio_calloc(1, sizeof(*rr));
  if (!rr) {
    deliver(rp, SIO_ERR_NOMEM, &res);
    return;
  }
  rr->rp = rp;
  rp->reading = rr;
  rv = srv->adapter.history_read(
      srv->adapter_ud, ns, (const char *const *)r->rooms, r->nrooms, r->since,
      ns->history_max_events, ns->history_max_age_ms, read_done, rr);
  if (rv) {
    rp->reading = NULL;
    sio_free(rr);
    deliver(rp, rv, &res);
  }
}

int sio_replay_hold(sio_socket *s, const sio_outpkt *pkt, const char *id,
                    int is_volatile) {
  sio_replay *rp = s->replay;
  held_pkt *h;
  if (rp->sending)
    return 0;
  if (is_volatile)
    return 1; /* it could have been dropped anyway */
  if (rp->nheld >= MAX_HELD || rp->held_bytes + pkt->bytes > MAX_HELD_BYTES)
    goto overflow;
  h = sio_calloc(1, sizeof(*h));
  if (!h)
    goto overflow;
  if ((id && !(h->id = sio_strdup(id))) || sio_outpkt_copy_ref(&h->pkt, pkt)) {
    sio_free(h->id);
    sio_free(h);
    goto overflow;
  }
  sio_queue_insert_tail(&rp->held, &h->q);
  rp->nheld++;
  rp->held_bytes += pkt->bytes;
  return 1;
overflow:
  /* Dropping the packet would lose it silently: the client goes instead,
   * as one that stopped reading does, and comes back with its last id. */
  SIO_LOGW("socket %s: too much arrived during a replay, closing", s->id);
  s->ns->srv->stats.replay_overflows++;
  sio_client_close_slow(s->client);
  return 1;
}

void sio_replay_cancel(sio_socket *s) {
  if (s->replay)
    replay_free(s->replay);
}

static char *dup_checked(const char *v, int *bad) {
  char *c = sio_strdup(v);
  if (!c)
    *bad = 1;
  return c;
}

int sio_socket_replay(sio_socket *s, const char *const *rooms, size_t nrooms,
                      const char *since, sio_replay_cb cb, void *ud) {
  sio_replay *rp;
  replay_req *r;
  size_t i;
  int bad = 0;
  if (!s || !since || !cb || (nrooms && !rooms))
    return SIO_ERR_INVAL;
  for (i = 0; i < nrooms; i++)
    if (!rooms[i])
      return SIO_ERR_INVAL;
  if (s->state != SIO_SOCKET_CONNECTED)
    return SIO_ERR_CLOSED;
  if (!s->ns->history)
    return SIO_ERR_STATE;
  if (s->replay && s->replay->nreqs >= MAX_WAITING)
    return SIO_ERR_LIMIT;
  r = sio_calloc(1, sizeof(*r));
  if (!r)
    return SIO_ERR_NOMEM;
  r->cb = cb;
  r->ud = ud;
  r->since = dup_checked(since, &bad);
  r->rooms = sio_calloc(nrooms ? nrooms : 1, sizeof(*r->rooms));
  if (!r->rooms)
    bad = 1;
  for (i = 0; i < nrooms && !bad; i++, r->nrooms++)
    r->rooms[i] = dup_checked(rooms[i], &bad);
  if (bad) {
    req_free(r);
    return SIO_ERR_NOMEM;
  }
  rp = s->replay;
  if (!rp) {
    rp = sio_calloc(1, sizeof(*rp));
    if (!rp) {
      req_free(r);
      return SIO_ERR_NOMEM;
    }
    rp->s = s;
    sio_socket_ref(s);
    sio_queue_init(&rp->reqs);
    sio_queue_init(&rp->held);
    sio_map_init(&rp->replayed);
    sio_defer_init(&rp->defer);
    s->replay = rp;
  }
  sio_queue_insert_tail(&rp->reqs, &r->q);
  if (rp->nreqs++ == 0)
    eio_server_defer(s->ns->srv->eio, &rp->defer, run);
  return 0;
}
