/* sio_group.c: the loops of one process as one server (server.threads).
 *
 * Role: each loop runs a sio_server of its own; the group knows them by
 * index (under a mutex, taken only to post to another loop) and carries
 * three things between them, always as letters in the receiving server's
 * mailbox (sio_server_post), never by touching another loop's objects:
 * - connections: a request for a session of another loop is handed over
 *   by the engine (eio_server_set_loops) and adopted by the owner;
 * - broadcasts: encoded once on the loop that makes them, framed and
 *   shared (sio_rcbuf_share), then each other loop receives a transit
 *   reference with the selection and fans the same bytes out to its own
 *   sockets, keeping them for recovery and replay as its own;
 * - cluster calls (fetchSockets, socketsJoin, serverCount, acks...): the
 *   loops adapter (src/adapter/sio_adapter_loops.c, sio_server_use_loops),
 *   a peer of the Redis ones over <sio/adapter.h>, sends its messages
 *   with sio_group_post.
 * A server that has an adapter of its own (Redis) is one instance of the
 * fleet: only connections move between the loops.
 *
 * Lifetime: a server leaves its slot when it starts closing (before its
 * mailbox closes), and every post happens under the lock, so no letter is
 * ever posted to a freed server. */
#include "sio_group.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "eio_server.h"
#include "sio_int.h"
#include "sio_log.h"
#include "sio_mem.h"
#include "sio_map.h"
#include "sio_namespace.h"
#include "sio_queue.h"

#define GROUP_MAX 64

struct sio_group {
  unsigned n;
  uv_mutex_t lock;
  /* sessions open per loop, written by that loop only, read by every
   * loop at a handshake (UINT32_MAX: no server there) */
  struct {
    _Alignas(64) atomic_uint n;
  } load[GROUP_MAX];
  /* every loop's connections, for a max_connections of the process */
  _Alignas(64) atomic_uint conns;
  /* guarded by lock: */
  sio_server *members[GROUP_MAX];
  unsigned joined;
  uint64_t seq;      /* the last recovery offset given */
  sio_map sessions;  /* nsp NUL pid -> grp_session */
  sio_queue by_age;  /* grp_session, oldest first */
};

/* A recovery session kept for the process: one allocation, strings after
 * the struct. */
typedef struct grp_session {
  sio_queue q;
  uint64_t at;
  const char *key, *pid, *sid, *owner, *floor;
  size_t keylen, nrooms;
  const char **rooms;
} grp_session;

int sio_group_new(sio_group **out, unsigned nloops) {
  sio_group *g;
  unsigned i;
  if (!out || nloops < 1 || nloops > GROUP_MAX)
    return SIO_ERR_INVAL;
  g = sio_calloc(1, sizeof(*g));
  if (!g)
    return SIO_ERR_NOMEM;
  if (uv_mutex_init(&g->lock)) {
    sio_free(g);
    return SIO_ERR_NOMEM;
  }
  g->n = nloops;
  for (i = 0; i < GROUP_MAX; i++)
    atomic_init(&g->load[i].n, UINT32_MAX);
  atomic_init(&g->conns, 0);
  sio_map_init(&g->sessions);
  sio_queue_init(&g->by_age);
  *out = g;
  return 0;
}

unsigned sio_group_size(const sio_group *g) { return g ? g->n : 0; }

void sio_group_free(sio_group *g) {
  if (!g)
    return;
  while (!sio_queue_empty(&g->by_age)) {
    sio_queue *q = sio_queue_head(&g->by_age);
    sio_queue_remove(q);
    sio_free(sio_container_of(q, grp_session, q));
  }
  sio_map_deinit(&g->sessions);
  uv_mutex_destroy(&g->lock);
  sio_free(g);
}

/* With the lock held. */
static int post_locked(sio_group *g, unsigned index, sio_post_fn fn,
                       void *ud) {
  return g->members[index] ? sio_server_post(g->members[index], fn, ud)
                           : SIO_ERR_CLOSED;
}

int sio_group_post(sio_group *g, unsigned index, sio_post_fn fn, void *ud) {
  int rv;
  if (!g || !fn || index >= g->n)
    return SIO_ERR_INVAL;
  uv_mutex_lock(&g->lock);
  rv = post_locked(g, index, fn, ud);
  uv_mutex_unlock(&g->lock);
  return rv;
}

unsigned sio_group_joined(sio_group *g) {
  unsigned n;
  if (!g)
    return 0;
  uv_mutex_lock(&g->lock);
  n = g->joined;
  uv_mutex_unlock(&g->lock);
  return n;
}

/* ------------------------------------------------- connections */

typedef struct handoff_letter {
  sio_handoff h;
  uint8_t *bytes;
  size_t len;
} handoff_letter;

static void handoff_run(sio_server *s, void *ud) {
  handoff_letter *l = ud;
  if (s)
    eio_server_adopt(s->eio, &l->h, l->bytes, l->len); /* drops h on error */
  else
    sio_handoff_drop(&l->h);
  sio_free(l->bytes);
  sio_free(l);
}

static int route(void *ud, unsigned loop, sio_handoff *h, uint8_t *bytes,
                 size_t len) {
  sio_server *s = ud;
  handoff_letter *l = sio_malloc(sizeof(*l));
  int rv;
  if (!l)
    return SIO_ERR_NOMEM;
  l->h = *h;
  l->bytes = bytes;
  l->len = len;
  rv = sio_group_post(s->group, loop, handoff_run, l);
  if (rv)
    sio_free(l); /* the engine drops h and frees bytes */
  return rv;
}

/* ------------------------------------------------- balance */

void sio_group_note_load(const sio_server *s) {
  atomic_store_explicit(&s->group->load[s->group_index].n,
                        (unsigned)s->stats.clients, memory_order_relaxed);
}

/* The loop for a new session: this one unless it holds more than the
 * least loaded one by a margin (8 sessions and an eighth), so that the
 * kernel's spread of direct connections, already even, costs no
 * hand-offs, while sessions that arrive over a balancer's few keep-alive
 * connections are spread too. */
static int pick(void *ud) {
  sio_server *s = ud;
  sio_group *g = s->group;
  unsigned i, best = s->group_index, own, min;
  own = atomic_load_explicit(&g->load[s->group_index].n,
                             memory_order_relaxed);
  min = own;
  for (i = 0; i < g->n; i++) {
    unsigned n = atomic_load_explicit(&g->load[i].n, memory_order_relaxed);
    if (n < min) {
      min = n;
      best = i;
    }
  }
  return own > min + 8 + min / 8 ? (int)best : (int)s->group_index;
}

/* ------------------------------------------------- membership */

int sio_group_join(sio_group *g, unsigned index, sio_server *s) {
  int rv;
  if (!g || !s || index >= g->n)
    return SIO_ERR_INVAL;
  if (s->group)
    return SIO_ERR_EXISTS;
  if (s->closing || eio_server_port(s->eio, 0) >= 0)
    return SIO_ERR_STATE;
  uv_mutex_lock(&g->lock);
  rv = g->members[index] ? SIO_ERR_EXISTS : 0;
  uv_mutex_unlock(&g->lock);
  if (rv)
    return rv;
  if (g->n > 1) {
    rv = eio_server_set_loops(s->eio, index, g->n, route, s);
    if (rv)
      return rv;
    eio_server_set_balance(s->eio, pick);
    eio_server_set_conn_counter(s->eio, &g->conns);
  }
  /* the loops adapter (sio_server_use_loops) asks for the broadcasts'
   * encoded packets; an adapter of its own (Redis) carries them itself */
  s->group_relays = g->n > 1 && s->has_adapter &&
                    (s->adapter.flags & SIO_ADAPTER_LOOPS);
  /* this thread's references to shared buffers count in its own slot */
  sio_rcbuf_thread_slot(index);
  s->group = g;
  s->group_index = index;
  uv_mutex_lock(&g->lock);
  g->members[index] = s;
  g->joined++;
  uv_mutex_unlock(&g->lock);
  sio_group_note_load(s);
  return 0;
}

void sio_group_leave(sio_server *s) {
  sio_group *g = s->group;
  if (!g)
    return;
  uv_mutex_lock(&g->lock);
  if (g->members[s->group_index] == s) {
    g->members[s->group_index] = NULL;
    g->joined--;
    atomic_store_explicit(&g->load[s->group_index].n, UINT32_MAX,
                          memory_order_relaxed);
  }
  uv_mutex_unlock(&g->lock);
  s->group_relays = 0;
}

/* ------------------------------------------------- broadcasts */

static void outpkt_each(sio_outpkt *p, void (*fn)(sio_rcbuf *)) {
  size_t i;
  fn(p->head);
  for (i = 0; i < p->natts; i++)
    fn(p->atts[i]);
}

int sio_group_share(const sio_server *s, sio_outpkt *pkt) {
  size_t i;
  int rv;
  eio_frame_ahead(pkt->head);
  rv = sio_rcbuf_share(pkt->head, s->group->n);
  for (i = 0; !rv && i < pkt->natts; i++) {
    eio_frame_ahead(pkt->atts[i]);
    rv = sio_rcbuf_share(pkt->atts[i], s->group->n);
  }
  /* buffers shared before a failure stay shared: harmless, as the loop
   * that holds them is the only one that ever will */
  return rv;
}

typedef struct relay_letter {
  sio_outpkt pkt, kept;
  int has_kept;     /* kept holds a packet of its own */
  int kept_is_pkt;  /* the history keeps pkt itself */
  sio_broadcast_opts o;
  const char *nsp, *offset, *history_id;
} relay_letter;

static void transit_ref(sio_rcbuf *b) { sio_rcbuf_transit_ref(b); }

/* dst: src's buffers, each with a transit reference of its own. */
static int outpkt_transit(sio_outpkt *dst, const sio_outpkt *src) {
  size_t i;
  *dst = *src;
  dst->atts = dst->inline_atts;
  if (src->natts > SIO_OUTPKT_INLINE) {
    dst->atts = sio_malloc(src->natts * sizeof(*dst->atts));
    if (!dst->atts)
      return SIO_ERR_NOMEM;
  }
  for (i = 0; i < src->natts; i++)
    dst->atts[i] = src->atts[i];
  outpkt_each(dst, transit_ref);
  return 0;
}

static void outpkt_free_atts(sio_outpkt *p) {
  if (p->atts != p->inline_atts)
    sio_free(p->atts);
}

static void relay_free(relay_letter *l, int arrived) {
  outpkt_each(&l->pkt, arrived ? sio_rcbuf_unref : sio_rcbuf_transit_drop);
  outpkt_free_atts(&l->pkt);
  if (l->has_kept) {
    outpkt_each(&l->kept, arrived ? sio_rcbuf_unref : sio_rcbuf_transit_drop);
    outpkt_free_atts(&l->kept);
  }
  sio_free(l);
}

static void relay_run(sio_server *s, void *ud) {
  relay_letter *l = ud;
  sio_namespace *ns;
  if (!s) {
    relay_free(l, 0);
    return;
  }
  outpkt_each(&l->pkt, sio_rcbuf_transit_arrive);
  if (l->has_kept)
    outpkt_each(&l->kept, sio_rcbuf_transit_arrive);
  ns = s->closing ? NULL : sio_server_find_nsp(s, l->nsp, strlen(l->nsp));
  if (ns)
    sio_broadcast_relayed(ns, &l->o, &l->pkt,
                          l->has_kept      ? &l->kept
                          : l->kept_is_pkt ? &l->pkt
                                           : NULL,
                          l->offset, l->history_id);
  relay_free(l, 1);
}

static size_t strs_size(const char *const *v, size_t n) {
  size_t i, size = n * sizeof(char *);
  for (i = 0; i < n; i++)
    size += strlen(v[i]) + 1;
  return size;
}

static char *put_str(char **p, const char *s) {
  size_t n = strlen(s) + 1;
  char *d = *p;
  memcpy(d, s, n);
  *p += n;
  return d;
}

/* A letter for one loop: transit references and copies of every string
 * (pointer arrays first, then the text, so the arrays stay aligned). */
static relay_letter *relay_letter_new(sio_namespace *ns,
                                      const sio_broadcast_opts *o,
                                      const sio_outpkt *pkt,
                                      const sio_outpkt *kept,
                                      const char *offset,
                                      const char *history_id) {
  size_t size = sizeof(relay_letter) + strs_size(o->rooms, o->nrooms) +
                strs_size(o->except, o->nexcept) + strlen(ns->name) + 1 +
                (offset ? strlen(offset) + 1 : 0) +
                (history_id ? strlen(history_id) + 1 : 0),
         i;
  relay_letter *l = sio_malloc(size);
  const char **rooms, **except;
  char *p;
  if (!l)
    return NULL;
  memset(l, 0, sizeof(*l));
  rooms = (const char **)(l + 1);
  except = rooms + o->nrooms;
  p = (char *)(except + o->nexcept);
  for (i = 0; i < o->nrooms; i++)
    rooms[i] = put_str(&p, o->rooms[i]);
  for (i = 0; i < o->nexcept; i++)
    except[i] = put_str(&p, o->except[i]);
  l->o.rooms = rooms;
  l->o.nrooms = o->nrooms;
  l->o.except = except;
  l->o.nexcept = o->nexcept;
  l->o.flags = o->flags;
  l->nsp = put_str(&p, ns->name);
  l->offset = offset ? put_str(&p, offset) : NULL;
  l->history_id = history_id ? put_str(&p, history_id) : NULL;
  if (outpkt_transit(&l->pkt, pkt)) {
    sio_free(l);
    return NULL;
  }
  if (kept && kept != pkt) {
    if (outpkt_transit(&l->kept, kept)) {
      outpkt_each(&l->pkt, sio_rcbuf_transit_drop);
      outpkt_free_atts(&l->pkt);
      sio_free(l);
      return NULL;
    }
    l->has_kept = 1;
  } else if (kept) {
    l->kept_is_pkt = 1;
  }
  return l;
}

/* To every loop but this one (or this one too, with self), with the
 * group's lock held. */
static void relay_locked(sio_namespace *ns, const sio_broadcast_opts *o,
                         const sio_outpkt *pkt, const sio_outpkt *kept,
                         const char *offset, const char *history_id,
                         int self) {
  sio_server *s = ns->srv;
  sio_group *g = s->group;
  unsigned i;
  for (i = 0; i < g->n; i++) {
    relay_letter *l;
    if (i == s->group_index && !self)
      continue;
    l = relay_letter_new(ns, o, pkt, kept, offset, history_id);
    if (!l || post_locked(g, i, relay_run, l)) {
      if (l)
        relay_free(l, 0);
      s->relay_failures++;
      SIO_LOGW("broadcast on %s not handed to loop %u", ns->name, i);
    }
  }
}


void sio_group_relay(sio_namespace *ns, const sio_broadcast_opts *o,
                     const sio_outpkt *pkt, const sio_outpkt *kept,
                     const char *offset, const char *history_id) {
  sio_group *g = ns->srv->group;
  uv_mutex_lock(&g->lock);
  relay_locked(ns, o, pkt, kept, offset, history_id, 0);
  uv_mutex_unlock(&g->lock);
}

/* ------------------------------------------------- recovery */

int sio_group_sequences(const sio_namespace *ns) {
  return sio_group_relays(ns->srv) && ns->recovery != NULL;
}

void sio_group_seq_begin(sio_server *s, char offset[SIO_OFFSET_MAX]) {
  sio_group *g = s->group;
  uv_mutex_lock(&g->lock);
  sio_recovery_format_offset(++g->seq, offset);
}

void sio_group_seq_end(sio_namespace *ns, const sio_broadcast_opts *o,
                       const sio_outpkt *pkt, const sio_outpkt *kept,
                       const char *offset, const char *history_id) {
  sio_group *g = ns->srv->group;
  if (pkt)
    relay_locked(ns, o, pkt, kept, offset, history_id, 1);
  uv_mutex_unlock(&g->lock);
}

static void session_free_locked(sio_group *g, grp_session *gs) {
  sio_queue_remove(&gs->q);
  sio_map_remove(&g->sessions, gs->key, gs->keylen);
  sio_free(gs);
}

/* Drops what is past ttl_ms, and the oldest beyond max. */
static void sessions_expire_locked(sio_group *g, uint64_t now_ms,
                                   uint64_t ttl_ms, size_t max) {
  while (!sio_queue_empty(&g->by_age)) {
    grp_session *gs =
        sio_container_of(sio_queue_head(&g->by_age), grp_session, q);
    /* at is another loop's clock: it may be a little ahead of ours */
    if ((now_ms < gs->at || now_ms - gs->at <= ttl_ms) &&
        sio_map_count(&g->sessions) < max)
      break;
    session_free_locked(g, gs);
  }
}

static size_t key_of(char *out, size_t cap, const sio_namespace *ns,
                     const char *pid) {
  size_t a = strlen(ns->name), b = strlen(pid);
  if (a + 1 + b > cap)
    return 0;
  memcpy(out, ns->name, a);
  out[a] = '\0';
  memcpy(out + a + 1, pid, b);
  return a + 1 + b;
}

int sio_group_persist_session(sio_namespace *ns, const char *pid,
                              const char *sid, const char *owner,
                              const char *floor, const char *const *rooms,
                              size_t nrooms, uint64_t now_ms) {
  sio_group *g = ns->srv->group;
  char key[512];
  size_t keylen = key_of(key, sizeof(key), ns, pid), size, i;
  grp_session *gs, *old;
  char *p;
  int rv;
  if (!keylen)
    return SIO_ERR_INVAL;
  owner = owner ? owner : "";
  floor = floor ? floor : "";
  if (strlen(floor) >= SIO_OFFSET_MAX)
    return SIO_ERR_INVAL;
  size = sizeof(*gs) + nrooms * sizeof(char *) + keylen + 1 + strlen(sid) +
         1 + strlen(owner) + 1 + strlen(floor) + 1;
  for (i = 0; i < nrooms; i++)
    size += strlen(rooms[i]) + 1;
  gs = sio_malloc(size);
  if (!gs)
    return SIO_ERR_NOMEM;
  gs->at = now_ms;
  gs->nrooms = nrooms;
  gs->rooms = (const char **)(gs + 1);
  p = (char *)(gs->rooms + nrooms);
  memcpy(p, key, keylen);
  p[keylen] = '\0';
  gs->key = p;
  gs->keylen = keylen;
  gs->pid = p + strlen(ns->name) + 1;
  p += keylen + 1;
  gs->sid = put_str(&p, sid);
  gs->owner = put_str(&p, owner);
  gs->floor = put_str(&p, floor);
  for (i = 0; i < nrooms; i++)
    gs->rooms[i] = put_str(&p, rooms[i]);
  uv_mutex_lock(&g->lock);
  sessions_expire_locked(g, now_ms, ns->recovery->lim.max_disconnection_ms,
                         ns->recovery->lim.max_sessions);
  old = sio_map_get(&g->sessions, key, keylen);
  if (old)
    session_free_locked(g, old); /* the newer one of a pid wins */
  rv = sio_map_put(&g->sessions, gs->key, keylen, gs);
  if (!rv)
    sio_queue_insert_tail(&g->by_age, &gs->q);
  uv_mutex_unlock(&g->lock);
  if (rv)
    sio_free(gs);
  return rv;
}

void sio_group_claim_session(sio_namespace *ns, const char *pid,
                             const char *owner, uint64_t now_ms) {
  sio_group *g = ns->srv->group;
  char key[512];
  size_t keylen = key_of(key, sizeof(key), ns, pid);
  grp_session *gs;
  if (!keylen)
    return;
  uv_mutex_lock(&g->lock);
  sessions_expire_locked(g, now_ms, ns->recovery->lim.max_disconnection_ms,
                         ns->recovery->lim.max_sessions + 1);
  gs = sio_map_get(&g->sessions, key, keylen);
  /* another owner learns nothing, and the session stays for its own */
  if (gs && strcmp(gs->owner, owner ? owner : "") != 0)
    gs = NULL;
  if (gs) {
    sio_queue_remove(&gs->q);
    sio_map_remove(&g->sessions, gs->key, gs->keylen);
  }
  uv_mutex_unlock(&g->lock);
  if (!gs)
    return;
  if (sio_recovery_persist(ns->recovery, gs->pid, gs->sid,
                           gs->owner[0] ? gs->owner : NULL, gs->floor,
                           gs->rooms, gs->nrooms,
                           gs->at < now_ms ? gs->at : now_ms))
    SIO_LOGW("session %s on %s not recovered: out of memory", gs->sid,
             ns->name);
  sio_free(gs);
}
