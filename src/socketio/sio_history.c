/* sio_history.c: the rooms' event history (see sio_history.h).
 *
 * An event is one record: its id, sequence number, time and packet, on a
 * FIFO of every record in sequence order (expiry pops its head) and in a
 * map from id. Each room holds a ring of pointers to its records, also in
 * sequence order; a record counts the rings holding it and goes when the
 * last lets it go (count bound or expiry). A room remembers the newest
 * sequence its count bound dropped, which is what decides "complete".
 * A read finds, in each asked room, the first record after the presented
 * one (binary search: rings are sorted) and merges the rooms by sequence,
 * skipping a record met twice. */
#include "sio_history.h"

#include <string.h>

#include "sio_int.h"
#include "sio_map.h"
#include "sio_mem.h"
#include "sio_queue.h"

#define DEFAULT_MAX_EVENTS 1000
#define DEFAULT_MAX_AGE_MS 300000
#define MAX_ID_LEN 256

typedef struct hrec {
  sio_queue q;
  uint64_t seq;
  uint64_t at;
  size_t refs; /* rings holding it */
  struct hroom **rooms; /* the rooms it was kept in (nrooms) */
  size_t nrooms;
  sio_outpkt pkt;
  char id[];
} hrec;

typedef struct hroom hroom;
struct hroom {
  hrec **ring;
  size_t cap, head, len;
  uint64_t trimmed; /* newest sequence the count bound dropped, 0: none */
  char name[];
};

struct sio_history {
  sio_history_limits lim;
  uint64_t next_seq;
  sio_queue recs; /* oldest first */
  sio_map by_id;  /* id -> hrec */
  sio_map rooms;  /* name -> hroom */
  size_t nrecs;
  size_t bytes;
};

sio_history *sio_history_new(const sio_history_limits *lim) {
  sio_history *h = sio_calloc(1, sizeof(*h));
  if (!h)
    return NULL;
  if (lim)
    h->lim = *lim;
  if (!h->lim.max_events)
    h->lim.max_events = DEFAULT_MAX_EVENTS;
  if (!h->lim.max_age_ms)
    h->lim.max_age_ms = DEFAULT_MAX_AGE_MS;
  h->next_seq = 1;
  sio_queue_init(&h->recs);
  sio_map_init(&h->by_id);
  sio_map_init(&h->rooms);
  return h;
}

static void rec_put(sio_history *h, hrec *r) {
  if (--r->refs)
    return;
  sio_queue_remove(&r->q);
  sio_map_remove(&h->by_id, r->id, strlen(r->id));
  h->nrecs--;
  h->bytes -= r->pkt.bytes;
  sio_outpkt_release(&r->pkt);
  sio_free(r->rooms);
  sio_free(r);
}

static hrec *ring_at(const hroom *rm, size_t i) {
  return rm->ring[(rm->head + i) % rm->cap];
}

static hrec *ring_pop(hroom *rm) {
  hrec *r = rm->ring[rm->head];
  rm->head = (rm->head + 1) % rm->cap;
  rm->len--;
  return r;
}

/* Room for one more record, the ring growing up to max slots. */
static int ring_reserve(hroom *rm, size_t max) {
  if (rm->len == rm->cap && rm->cap < max) {
    size_t ncap = rm->cap ? rm->cap * 2 : 4, i;
    hrec **nr;
    if (ncap > max)
      ncap = max;
    nr = sio_malloc(ncap * sizeof(*nr));
    if (!nr)
      return SIO_ERR_NOMEM;
    for (i = 0; i < rm->len; i++)
      nr[i] = ring_at(rm, i);
    sio_free(rm->ring);
    rm->ring = nr;
    rm->cap = ncap;
    rm->head = 0;
  }
  return 0;
}

/* After ring_reserve, and a pop when the ring is at max. */
static void ring_push(hroom *rm, hrec *r) {
  rm->ring[(rm->head + rm->len) % rm->cap] = r;
  rm->len++;
}

static void room_free(sio_history *h, hroom *rm) {
  sio_map_remove(&h->rooms, rm->name, strlen(rm->name));
  sio_free(rm->ring);
  sio_free(rm);
}

void sio_history_expire(sio_history *h, uint64_t now_ms) {
  while (!sio_queue_empty(&h->recs)) {
    hrec *r = sio_container_of(sio_queue_head(&h->recs), hrec, q);
    size_t i, n = r->nrooms;
    hroom **rms = r->rooms;
    if (now_ms < r->at || now_ms - r->at <= h->lim.max_age_ms)
      return;
    /* The oldest record heads every ring still holding it; its last
     * rec_put frees it, so its room list is detached first. */
    r->rooms = NULL;
    r->refs++;
    for (i = 0; i < n; i++) {
      hroom *rm = rms[i];
      if (rm->len && rm->ring[rm->head] == r) {
        ring_pop(rm);
        rec_put(h, r);
        if (!rm->len)
          room_free(h, rm);
      }
    }
    sio_free(rms);
    rec_put(h, r);
  }
}

static hroom *room_get(sio_history *h, const char *name, int create) {
  size_t len = strlen(name);
  hroom *rm = sio_map_get(&h->rooms, name, len);
  if (rm || !create)
    return rm;
  rm = sio_calloc(1, sizeof(*rm) + len + 1);
  if (!rm)
    return NULL;
  memcpy(rm->name, name, len + 1);
  if (sio_map_put(&h->rooms, rm->name, len, rm)) {
    sio_free(rm);
    return NULL;
  }
  return rm;
}

/* 1 when rooms[i] also appears before i */
static int seen_before(const char *const *rooms, size_t i) {
  size_t j;
  for (j = 0; j < i; j++)
    if (strcmp(rooms[j], rooms[i]) == 0)
      return 1;
  return 0;
}

int sio_history_append(sio_history *h, const char *id,
                       const char *const *rooms, size_t nrooms,
                       const sio_outpkt *pkt, uint64_t now_ms) {
  size_t idlen = id ? strlen(id) : 0, i;
  hrec *r;
  if (!h || !idlen || idlen > MAX_ID_LEN || !nrooms || !rooms || !pkt)
    return SIO_ERR_INVAL;
  sio_history_expire(h, now_ms);
  if (sio_map_get(&h->by_id, id, idlen))
    return SIO_ERR_EXISTS;
  /* Every room and ring slot first, so that failing leaves nothing. */
  r = sio_calloc(1, sizeof(*r) + idlen + 1);
  if (!r)
    return SIO_ERR_NOMEM;
  r->rooms = sio_calloc(nrooms, sizeof(*r->rooms));
  if (!r->rooms)
    goto nomem;
  memcpy(r->id, id, idlen + 1);
  for (i = 0; i < nrooms; i++) {
    hroom *rm;
    if (!rooms[i] || seen_before(rooms, i))
      continue;
    rm = room_get(h, rooms[i], 1);
    if (!rm)
      goto nomem;
    r->rooms[r->nrooms++] = rm;
    if (ring_reserve(rm, h->lim.max_events))
      goto nomem;
  }
  if (sio_outpkt_copy_ref(&r->pkt, pkt))
    goto nomem;
  if (sio_map_put(&h->by_id, r->id, idlen, r)) {
    sio_outpkt_release(&r->pkt);
    goto nomem;
  }
  r->seq = h->next_seq++;
  r->at = now_ms;
  sio_queue_insert_tail(&h->recs, &r->q);
  h->nrecs++;
  h->bytes += r->pkt.bytes;
  r->refs = 1; /* held by this call while the rings take it */
  for (i = 0; i < r->nrooms; i++) {
    hroom *rm = r->rooms[i];
    if (rm->len == h->lim.max_events) {
      hrec *old = ring_pop(rm);
      rm->trimmed = old->seq;
      rec_put(h, old);
    }
    ring_push(rm, r);
    r->refs++;
  }
  rec_put(h, r);
  return 0;
nomem:
  for (i = 0; i < r->nrooms; i++)
    if (!r->rooms[i]->len)
      room_free(h, r->rooms[i]);
  sio_free(r->rooms);
  sio_free(r);
  return SIO_ERR_NOMEM;
}

/* Index of the first record of rm after seq. */
static size_t first_after(const hroom *rm, uint64_t seq) {
  size_t lo = 0, hi = rm->len;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (ring_at(rm, mid)->seq <= seq)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

void sio_history_result_release(sio_history_result *out) {
  size_t i;
  if (!out)
    return;
  for (i = 0; i < out->n; i++) {
    sio_free(out->ev[i].id);
    sio_outpkt_release(&out->ev[i].pkt);
  }
  sio_free(out->ev);
  out->ev = NULL;
  out->n = 0;
}

int sio_history_read(sio_history *h, const char *const *rooms, size_t nrooms,
                     const char *since, uint64_t now_ms,
                     sio_history_result *out) {
  hrec *from;
  hroom **rms = NULL;
  size_t *cur = NULL, i, total = 0;
  uint64_t last = 0;
  memset(out, 0, sizeof(*out));
  if (!h || !since || (nrooms && !rooms))
    return SIO_ERR_INVAL;
  sio_history_expire(h, now_ms);
  from = sio_map_get(&h->by_id, since, strlen(since));
  if (!from)
    return 0; /* unknown or aged out: nothing is known to be missed */
  out->complete = 1;
  if (!nrooms)
    return 0;
  rms = sio_calloc(nrooms, sizeof(*rms));
  cur = sio_calloc(nrooms, sizeof(*cur));
  if (!rms || !cur)
    goto nomem;
  for (i = 0; i < nrooms; i++) {
    if (!rooms[i] || seen_before(rooms, i))
      continue;
    rms[i] = room_get(h, rooms[i], 0);
    if (!rms[i])
      continue; /* nothing kept: nothing newer was dropped either */
    if (rms[i]->trimmed > from->seq)
      out->complete = 0;
    cur[i] = first_after(rms[i], from->seq);
    total += rms[i]->len - cur[i];
  }
  if (total) {
    out->ev = sio_calloc(total, sizeof(*out->ev));
    if (!out->ev)
      goto nomem;
  }
  for (;;) {
    hrec *best = NULL;
    size_t bi = 0;
    for (i = 0; i < nrooms; i++) {
      hrec *r;
      if (!rms[i] || cur[i] == rms[i]->len)
        continue;
      r = ring_at(rms[i], cur[i]);
      if (!best || r->seq < best->seq) {
        best = r;
        bi = i;
      }
    }
    if (!best)
      break;
    cur[bi]++;
    if (best->seq == last)
      continue; /* the same event through another room */
    last = best->seq;
    out->ev[out->n].id = sio_strdup(best->id);
    if (!out->ev[out->n].id)
      goto nomem;
    if (sio_outpkt_copy_ref(&out->ev[out->n].pkt, &best->pkt)) {
      sio_free(out->ev[out->n].id);
      goto nomem;
    }
    out->n++;
  }
  sio_free(rms);
  sio_free(cur);
  return 0;
nomem:
  sio_free(rms);
  sio_free(cur);
  sio_history_result_release(out);
  out->complete = 0;
  return SIO_ERR_NOMEM;
}

size_t sio_history_events(const sio_history *h) { return h ? h->nrecs : 0; }
size_t sio_history_bytes(const sio_history *h) { return h ? h->bytes : 0; }

void sio_history_free(sio_history *h) {
  size_t i;
  const sio_map_entry *e;
  if (!h)
    return;
  for (i = 0; sio_map_next(&h->rooms, &i, &e);) {
    hroom *rm = e->val;
    while (rm->len)
      rec_put(h, ring_pop(rm));
    sio_free(rm->ring);
    sio_free(rm);
  }
  sio_map_deinit(&h->rooms);
  sio_map_deinit(&h->by_id);
  sio_free(h);
}
