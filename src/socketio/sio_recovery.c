/* sio_recovery.c: connection state recovery stores (see sio_recovery.h).
 *
 * Packets: a FIFO of encoded broadcasts, each tagged with the offset the
 * clients received as the event's last argument, plus a map from offset to
 * entry. Restoring walks the FIFO from the entry after the client's offset
 * and selects packets the way a broadcast selects sockets: no rooms means
 * everyone; otherwise one of the packet's rooms must be among the
 * session's rooms, and none of its except rooms.
 * Sessions: a FIFO by disconnection time plus a map from pid. Both FIFOs
 * are ordered by time, so expiry and the bounds drop from the head. */
#include "sio_recovery.h"

#include <string.h>

#include "sio_int.h"
#include "sio_mem.h"

typedef struct rec_packet {
  sio_queue q;
  char offset[SIO_OFFSET_MAX];
  uint64_t at;
  sio_outpkt pkt;
  char **rooms; /* nrooms + nexcept strings, rooms first */
  size_t nrooms, nexcept;
} rec_packet;

typedef struct rec_session {
  sio_queue q;
  char pid[24];
  char sid[24];
  char *owner; /* NULL: none */
  char floor[SIO_OFFSET_MAX]; /* "" or the oldest offset still accepted */
  uint64_t at;
  char **rooms;
  size_t nrooms;
} rec_session;

static void strv_free(char **v, size_t n) {
  size_t i;
  if (!v)
    return;
  for (i = 0; i < n; i++)
    sio_free(v[i]);
  sio_free(v);
}

static char **strv_copy(const char *const *a, size_t na, const char *const *b,
                        size_t nb) {
  char **v = sio_calloc(na + nb ? na + nb : 1, sizeof(char *));
  size_t i;
  if (!v)
    return NULL;
  for (i = 0; i < na + nb; i++) {
    v[i] = sio_strdup(i < na ? a[i] : b[i - na]);
    if (!v[i]) {
      strv_free(v, i);
      return NULL;
    }
  }
  return v;
}

void sio_recovery_init(sio_recovery *r, const sio_recovery_limits *lim) {
  memset(r, 0, sizeof(*r));
  if (lim)
    r->lim = *lim;
  if (!r->lim.max_disconnection_ms)
    r->lim.max_disconnection_ms = 120000;
  if (!r->lim.max_packets)
    r->lim.max_packets = 100000;
  if (!r->lim.max_bytes)
    r->lim.max_bytes = 64u << 20;
  if (!r->lim.max_sessions)
    r->lim.max_sessions = 100000;
  if (!r->lim.max_missed)
    r->lim.max_missed = 1000;
  if (!r->lim.max_missed_bytes)
    r->lim.max_missed_bytes = 1u << 20;
  sio_queue_init(&r->packets);
  sio_queue_init(&r->sessions);
  sio_map_init(&r->by_offset);
  sio_map_init(&r->by_pid);
}

static void packet_drop(sio_recovery *r, rec_packet *p) {
  sio_queue_remove(&p->q);
  sio_map_remove(&r->by_offset, p->offset, strlen(p->offset));
  r->npackets--;
  r->bytes -= p->pkt.bytes;
  sio_outpkt_release(&p->pkt);
  strv_free(p->rooms, p->nrooms + p->nexcept);
  sio_free(p);
}

static void session_drop(sio_recovery *r, rec_session *s) {
  sio_queue_remove(&s->q);
  sio_map_remove(&r->by_pid, s->pid, strlen(s->pid));
  r->nsessions--;
  strv_free(s->rooms, s->nrooms);
  sio_free(s->owner);
  sio_free(s);
}

static void free_restored(sio_recovery *r) {
  rec_session *s = r->restored;
  if (s) {
    strv_free(s->rooms, s->nrooms);
    sio_free(s->owner);
    sio_free(s);
    r->restored = NULL;
  }
}

void sio_recovery_deinit(sio_recovery *r) {
  while (!sio_queue_empty(&r->packets))
    packet_drop(r, sio_container_of(sio_queue_head(&r->packets), rec_packet,
                                    q));
  while (!sio_queue_empty(&r->sessions))
    session_drop(r, sio_container_of(sio_queue_head(&r->sessions),
                                     rec_session, q));
  free_restored(r);
  sio_map_deinit(&r->by_offset);
  sio_map_deinit(&r->by_pid);
}

void sio_recovery_next_offset(sio_recovery *r, char out[SIO_OFFSET_MAX]) {
  sio_recovery_format_offset(++r->next_offset, out);
}

void sio_recovery_format_offset(uint64_t v, char out[SIO_OFFSET_MAX]) {
  static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  char tmp[SIO_OFFSET_MAX];
  size_t n = 0, i;
  do {
    tmp[n++] = digits[v % 36];
    v /= 36;
  } while (v && n < sizeof(tmp) - 1);
  for (i = 0; i < n; i++)
    out[i] = tmp[n - 1 - i];
  out[n] = '\0';
}

/* dst = src with dst's own references to every buffer. dst's attachment
 * array is its inline one or its own allocation, so dst must not move
 * afterwards (an array of copies is sized once). Returns 0 or
 * SIO_ERR_NOMEM (dst owns nothing). */
int sio_recovery_store(sio_recovery *r, const char *offset,
                       const sio_outpkt *pkt, const sio_broadcast_opts *o,
                       uint64_t now_ms) {
  rec_packet *p;
  if (strlen(offset) >= SIO_OFFSET_MAX)
    return SIO_ERR_INVAL;
  free_restored(r);
  p = sio_calloc(1, sizeof(*p));
  if (!p)
    return SIO_ERR_NOMEM;
  strcpy(p->offset, offset);
  p->at = now_ms;
  if (o && (o->nrooms || o->nexcept)) {
    p->rooms = strv_copy(o->rooms, o->nrooms, o->except, o->nexcept);
    if (!p->rooms) {
      sio_free(p);
      return SIO_ERR_NOMEM;
    }
    p->nrooms = o->nrooms;
    p->nexcept = o->nexcept;
  }
  if (sio_map_put(&r->by_offset, p->offset, strlen(p->offset), p)) {
    strv_free(p->rooms, p->nrooms + p->nexcept);
    sio_free(p);
    return SIO_ERR_NOMEM;
  }
  if (sio_outpkt_copy_ref(&p->pkt, pkt)) {
    sio_map_remove(&r->by_offset, p->offset, strlen(p->offset));
    strv_free(p->rooms, p->nrooms + p->nexcept);
    sio_free(p);
    return SIO_ERR_NOMEM;
  }
  sio_queue_insert_tail(&r->packets, &p->q);
  r->npackets++;
  r->bytes += p->pkt.bytes;
  while (r->npackets > r->lim.max_packets || r->bytes > r->lim.max_bytes)
    packet_drop(r, sio_container_of(sio_queue_head(&r->packets), rec_packet,
                                    q));
  return 0;
}

int sio_recovery_persist(sio_recovery *r, const char *pid, const char *sid,
                         const char *owner, const char *floor,
                         const char *const *rooms, size_t nrooms,
                         uint64_t now_ms) {
  rec_session *s;
  rec_session *old;
  if (strlen(pid) >= sizeof(s->pid) || strlen(sid) >= sizeof(s->sid) ||
      (floor && strlen(floor) >= sizeof(s->floor)))
    return SIO_ERR_INVAL;
  free_restored(r);
  old = sio_map_get(&r->by_pid, pid, strlen(pid));
  if (old)
    session_drop(r, old);
  s = sio_calloc(1, sizeof(*s));
  if (!s)
    return SIO_ERR_NOMEM;
  strcpy(s->pid, pid);
  strcpy(s->sid, sid);
  if (floor)
    strcpy(s->floor, floor);
  s->at = now_ms;
  s->rooms = strv_copy(rooms, nrooms, NULL, 0);
  s->owner = owner && owner[0] ? sio_strdup(owner) : NULL;
  if (!s->rooms || (owner && owner[0] && !s->owner) ||
      sio_map_put(&r->by_pid, s->pid, strlen(s->pid), s)) {
    strv_free(s->rooms, nrooms);
    sio_free(s->owner);
    sio_free(s);
    return SIO_ERR_NOMEM;
  }
  s->nrooms = nrooms;
  sio_queue_insert_tail(&r->sessions, &s->q);
  r->nsessions++;
  while (r->nsessions > r->lim.max_sessions)
    session_drop(r, sio_container_of(sio_queue_head(&r->sessions),
                                     rec_session, q));
  return 0;
}

static int has_room(char *const *rooms, size_t n, const char *room) {
  size_t i;
  for (i = 0; i < n; i++)
    if (strcmp(rooms[i], room) == 0)
      return 1;
  return 0;
}

/* Whether a broadcast to p would have reached a socket in rooms[0..n). */
static int selects(const rec_packet *p, char *const *rooms, size_t n) {
  size_t i;
  int in = p->nrooms == 0;
  for (i = 0; i < p->nrooms && !in; i++)
    in = has_room(rooms, n, p->rooms[i]);
  for (i = 0; i < p->nexcept && in; i++)
    in = !has_room(rooms, n, p->rooms[p->nrooms + i]);
  return in;
}

/* Offsets are base-36 counters without leading zeros: a shorter one is
 * older, and among equal lengths the text orders them. */
static int offset_older(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  return la != lb ? la < lb : strcmp(a, b) < 0;
}

static int same_owner(const char *a, const char *b) {
  return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Moves the rooms keep accepts (and the id room) to the front of s->rooms,
 * in their order; returns how many. The others stay behind them, so the
 * session is whole again if the restore fails. */
static size_t keep_rooms(rec_session *s, sio_recovery_keep_cb keep, void *ud) {
  size_t i, k = 0;
  for (i = 0; i < s->nrooms; i++) {
    char *room = s->rooms[i];
    if (strcmp(room, s->sid) == 0 || !keep || keep(room, ud)) {
      s->rooms[i] = s->rooms[k];
      s->rooms[k++] = room;
    }
  }
  return k;
}

void sio_recovered_release(sio_recovered *out) {
  size_t i;
  if (!out)
    return;
  for (i = 0; i < out->nmissed; i++)
    sio_outpkt_release(&out->missed[i]);
  sio_free(out->missed);
  out->missed = NULL;
  out->nmissed = 0;
}

int sio_recovery_restore(sio_recovery *r, const char *pid, const char *offset,
                         const char *owner, uint64_t now_ms,
                         sio_recovery_keep_cb keep, void *keep_ud,
                         sio_recovered *out) {
  rec_session *s;
  rec_packet *from;
  sio_queue *q;
  size_t nkept, n = 0, bytes = 0;
  memset(out, 0, sizeof(*out));
  free_restored(r);
  s = sio_map_get(&r->by_pid, pid, strlen(pid));
  if (!s)
    return SIO_ERR_NOTFOUND;
  if (now_ms - s->at > r->lim.max_disconnection_ms) {
    session_drop(r, s);
    return SIO_ERR_NOTFOUND;
  }
  /* Another user presenting this pid learns nothing, not even whether it
   * exists; the session stays for its owner. */
  if (!same_owner(s->owner, owner))
    return SIO_ERR_NOTFOUND;
  /* An offset from before the last restore: what it would replay went
   * out already (the report: one old pid/offset replayed again and
   * again). */
  if (s->floor[0] && offset_older(offset, s->floor))
    return SIO_ERR_NOTFOUND;
  from = sio_map_get(&r->by_offset, offset, strlen(offset));
  if (!from)
    return SIO_ERR_NOTFOUND; /* too old: the client starts afresh */
  nkept = keep_rooms(s, keep, keep_ud);
  /* Count first: the copies go into one array of the exact size. */
  for (q = from->q.next; q != &r->packets; q = q->next) {
    rec_packet *p = sio_container_of(q, rec_packet, q);
    if (!selects(p, s->rooms, nkept))
      continue;
    n++;
    bytes += p->pkt.bytes;
    if (n > r->lim.max_missed || bytes > r->lim.max_missed_bytes) {
      /* More than a reconnection should replay: the client starts afresh
       * (and refetches), and this session is done. */
      session_drop(r, s);
      return SIO_ERR_LIMIT;
    }
  }
  if (n) {
    out->missed = sio_calloc(n, sizeof(*out->missed));
    if (!out->missed)
      return SIO_ERR_NOMEM;
  }
  strcpy(out->floor, from->offset);
  for (q = from->q.next; q != &r->packets && out->nmissed < n; q = q->next) {
    rec_packet *p = sio_container_of(q, rec_packet, q);
    if (!selects(p, s->rooms, nkept))
      continue;
    if (sio_outpkt_copy_ref(&out->missed[out->nmissed], &p->pkt)) {
      sio_recovered_release(out);
      return SIO_ERR_NOMEM;
    }
    out->nmissed++;
    strcpy(out->floor, p->offset);
  }
  /* take the session out of the store; it lives until the next call */
  sio_queue_remove(&s->q);
  sio_map_remove(&r->by_pid, s->pid, strlen(s->pid));
  r->nsessions--;
  r->restored = s;
  out->sid = s->sid;
  out->rooms = (const char *const *)s->rooms;
  out->nrooms = nkept;
  return 0;
}

void sio_recovery_expire(sio_recovery *r, uint64_t now_ms) {
  uint64_t ttl = r->lim.max_disconnection_ms;
  while (!sio_queue_empty(&r->packets)) {
    rec_packet *p =
        sio_container_of(sio_queue_head(&r->packets), rec_packet, q);
    if (now_ms - p->at <= ttl)
      break;
    packet_drop(r, p);
  }
  while (!sio_queue_empty(&r->sessions)) {
    rec_session *s =
        sio_container_of(sio_queue_head(&r->sessions), rec_session, q);
    if (now_ms - s->at <= ttl)
      break;
    session_drop(r, s);
  }
}
