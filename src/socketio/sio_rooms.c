/* sio_rooms.c: the room index of one namespace (PURE: no libuv).
 *
 * Role: answer "who is in room X", "which rooms is socket S in" and "who
 * gets a broadcast to rooms R except E" (socket.io-protocol README does not
 * specify rooms; behaviour follows the reference in-memory adapter: a
 * socket starts in the room named by its id, rooms vanish when empty,
 * broadcasts are a deduplicated union minus the except rooms).
 *
 * Layout: two seeded maps (member id -> member, room name -> room). A room
 * holds an array of (member, index-in-member) entries; a member holds an
 * array of (room, index-in-room) slots. Removing either side swaps the last
 * entry into the hole and fixes the moved entry's back index, so every
 * operation is O(1) apart from the map lookups. The own-id room is virtual
 * (see sio_rooms.h): resolving a room name means the stored room of that
 * name, if any, plus the member whose id is that name, if it did not leave
 * its own room.
 *
 * There is no state machine; a member is either added (in the member map)
 * or not. */
#include "sio_rooms.h"

#include <string.h>

#include "sio_int.h"
#include "sio_mem.h"

typedef struct sio_room_ent {
  sio_room_member *m;
  uint32_t slot; /* index in m->slots */
} sio_room_ent;

struct sio_room {
  sio_room_ent *ents;
  uint32_t n;
  uint32_t cap;
  uint32_t namelen;
  char name[]; /* namelen bytes + NUL */
};

void sio_rooms_init(sio_rooms *r) {
  sio_map_init(&r->members);
  sio_map_init(&r->rooms);
  r->epoch = 0;
}

static void room_free(sio_room *room) {
  sio_free(room->ents);
  sio_free(room);
}

void sio_rooms_deinit(sio_rooms *r) {
  size_t it = 0;
  const sio_map_entry *e;
  while (sio_map_next(&r->rooms, &it, &e))
    room_free(e->val);
  sio_map_deinit(&r->rooms);
  sio_map_deinit(&r->members);
  r->epoch = 0;
}

void sio_room_member_init(sio_room_member *m) { memset(m, 0, sizeof(*m)); }

int sio_rooms_add_member(sio_rooms *r, sio_room_member *m, const char *id) {
  int rv;
  if (m->flags & SIO_ROOM_MEMBER_ADDED)
    return SIO_ERR_STATE;
  rv = sio_map_put(&r->members, id, strlen(id), m);
  if (rv)
    return rv;
  m->id = id;
  m->flags |= SIO_ROOM_MEMBER_ADDED | SIO_ROOM_MEMBER_OWN;
  return 0;
}

int sio_rooms_rekey_member(sio_rooms *r, sio_room_member *m, const char *id) {
  int rv;
  if (!(m->flags & SIO_ROOM_MEMBER_ADDED))
    return SIO_ERR_STATE;
  rv = sio_map_put(&r->members, id, strlen(id), m);
  if (rv)
    return rv;
  sio_map_remove(&r->members, m->id, strlen(m->id));
  m->id = id;
  return 0;
}

sio_room_member *sio_rooms_find_member(const sio_rooms *r, const char *id,
                                       size_t len) {
  return sio_map_get(&r->members, id, len);
}

static int is_own(const sio_room_member *m, const char *room, size_t len) {
  return strlen(m->id) == len && memcmp(m->id, room, len) == 0;
}

/* Index of room in m's slots, or -1. */
static long slot_of(const sio_room_member *m, const sio_room *room) {
  uint32_t i;
  for (i = 0; i < m->nslots; i++)
    if (m->slots[i].room == room)
      return (long)i;
  return -1;
}

int sio_rooms_join(sio_rooms *r, sio_room_member *m, const char *name,
                   size_t len) {
  sio_room *room;
  int created = 0;
  if (!(m->flags & SIO_ROOM_MEMBER_ADDED))
    return SIO_ERR_STATE;
  if (len > INT32_MAX)
    return SIO_ERR_INVAL;
  if (is_own(m, name, len)) {
    m->flags |= SIO_ROOM_MEMBER_OWN;
    return 0;
  }
  room = sio_map_get(&r->rooms, name, len);
  if (room && slot_of(m, room) >= 0)
    return 0;
  /* Grow both arrays first so that nothing changes on failure. */
  if (m->nslots == m->capslots) {
    uint32_t ncap = m->capslots ? m->capslots * 2 : 2;
    sio_room_slot *ns = sio_realloc(m->slots, ncap * sizeof(*ns));
    if (!ns)
      return SIO_ERR_NOMEM;
    m->slots = ns;
    m->capslots = ncap;
  }
  if (!room) {
    room = sio_malloc(sizeof(*room) + len + 1);
    if (!room)
      return SIO_ERR_NOMEM;
    room->ents = NULL;
    room->n = room->cap = 0;
    room->namelen = (uint32_t)len;
    memcpy(room->name, name, len);
    room->name[len] = 0;
    if (sio_map_put(&r->rooms, name, len, room)) {
      sio_free(room);
      return SIO_ERR_NOMEM;
    }
    created = 1;
  }
  if (room->n == room->cap) {
    uint32_t ncap = room->cap ? room->cap * 2 : 4;
    sio_room_ent *ne;
    if (ncap < room->cap)
      ne = NULL;
    else
      ne = sio_realloc(room->ents, (size_t)ncap * sizeof(*ne));
    if (!ne) {
      if (created) {
        sio_map_remove(&r->rooms, name, len);
        room_free(room);
      }
      return SIO_ERR_NOMEM;
    }
    room->ents = ne;
    room->cap = ncap;
  }
  room->ents[room->n].m = m;
  room->ents[room->n].slot = m->nslots;
  m->slots[m->nslots].room = room;
  m->slots[m->nslots].idx = room->n;
  room->n++;
  m->nslots++;
  return 0;
}

/* Removes m's slot si and the matching room entry; frees an emptied room. */
static void unlink_slot(sio_rooms *r, sio_room_member *m, uint32_t si) {
  sio_room *room = m->slots[si].room;
  uint32_t ri = m->slots[si].idx, last;
  /* Room side: move the last entry into ri. */
  last = room->n - 1;
  if (ri != last) {
    room->ents[ri] = room->ents[last];
    room->ents[ri].m->slots[room->ents[ri].slot].idx = ri;
  }
  room->n--;
  /* Member side: move the last slot into si. */
  last = m->nslots - 1;
  if (si != last) {
    m->slots[si] = m->slots[last];
    m->slots[si].room->ents[m->slots[si].idx].slot = si;
  }
  m->nslots--;
  if (room->n == 0) {
    sio_map_remove(&r->rooms, room->name, room->namelen);
    room_free(room);
  }
}

int sio_rooms_leave(sio_rooms *r, sio_room_member *m, const char *name,
                    size_t len) {
  sio_room *room;
  long si;
  if (!(m->flags & SIO_ROOM_MEMBER_ADDED))
    return SIO_ERR_NOTFOUND;
  if (is_own(m, name, len)) {
    if (!(m->flags & SIO_ROOM_MEMBER_OWN))
      return SIO_ERR_NOTFOUND;
    m->flags &= ~(uint32_t)SIO_ROOM_MEMBER_OWN;
    return 0;
  }
  room = sio_map_get(&r->rooms, name, len);
  if (!room)
    return SIO_ERR_NOTFOUND;
  si = slot_of(m, room);
  if (si < 0)
    return SIO_ERR_NOTFOUND;
  unlink_slot(r, m, (uint32_t)si);
  return 0;
}

void sio_rooms_remove_member(sio_rooms *r, sio_room_member *m) {
  if (!(m->flags & SIO_ROOM_MEMBER_ADDED))
    return;
  while (m->nslots)
    unlink_slot(r, m, m->nslots - 1);
  sio_free(m->slots);
  m->slots = NULL;
  m->capslots = 0;
  sio_map_remove(&r->members, m->id, strlen(m->id));
  m->flags = 0;
}

int sio_rooms_contains(const sio_rooms *r, const sio_room_member *m,
                       const char *name, size_t len) {
  const sio_room *room;
  if (!(m->flags & SIO_ROOM_MEMBER_ADDED))
    return 0;
  if (is_own(m, name, len))
    return (m->flags & SIO_ROOM_MEMBER_OWN) != 0;
  room = sio_map_get(&r->rooms, name, len);
  return room && slot_of(m, room) >= 0;
}

void sio_rooms_foreach_of(const sio_room_member *m,
                          void (*cb)(const char *room, void *ud), void *ud) {
  uint32_t i;
  if (!(m->flags & SIO_ROOM_MEMBER_ADDED))
    return;
  if (m->flags & SIO_ROOM_MEMBER_OWN)
    cb(m->id, ud);
  for (i = 0; i < m->nslots; i++)
    cb(m->slots[i].room->name, ud);
}

size_t sio_rooms_room_size(const sio_rooms *r, const char *name, size_t len) {
  const sio_room *room = sio_map_get(&r->rooms, name, len);
  const sio_room_member *own = sio_map_get(&r->members, name, len);
  size_t n = room ? room->n : 0;
  /* Other members may have joined a stored room named like this member's
   * id; the owner itself never sits in that stored room (joining its own
   * id sets its OWN bit), so nobody is counted twice. */
  if (own && (own->flags & SIO_ROOM_MEMBER_OWN))
    n++;
  return n;
}

void sio_rooms_foreach_room(const sio_rooms *r,
                            void (*cb)(const char *room, size_t nmembers,
                                       void *ud),
                            void *ud) {
  size_t it = 0;
  const sio_map_entry *e;
  while (sio_map_next(&r->rooms, &it, &e)) {
    const sio_room *room = e->val;
    cb(room->name, room->n, ud);
  }
}

/* Starts a selection: a fresh epoch no member carries yet. */
static uint32_t next_epoch(sio_rooms *r) {
  if (++r->epoch == 0) {
    size_t it = 0;
    const sio_map_entry *e;
    while (sio_map_next(&r->members, &it, &e))
      ((sio_room_member *)e->val)->mark = 0;
    r->epoch = 1;
  }
  return r->epoch;
}

/* Calls fn on each member of the named room (stored and own-id). */
static void for_room(sio_rooms *r, const char *name,
                     void (*fn)(sio_room_member *m, void *ctx), void *ctx) {
  size_t len = strlen(name);
  sio_room *room = sio_map_get(&r->rooms, name, len);
  sio_room_member *own = sio_map_get(&r->members, name, len);
  uint32_t i;
  if (own && (own->flags & SIO_ROOM_MEMBER_OWN))
    fn(own, ctx);
  if (room)
    for (i = 0; i < room->n; i++)
      fn(room->ents[i].m, ctx);
}

typedef struct select_ctx {
  uint32_t epoch;
  size_t count;
  void (*visit)(sio_room_member *m, void *ud);
  void *ud;
} select_ctx;

static void mark_only(sio_room_member *m, void *ctx) {
  m->mark = ((select_ctx *)ctx)->epoch;
}

static void mark_visit(sio_room_member *m, void *ctx) {
  select_ctx *c = ctx;
  if (m->mark == c->epoch)
    return;
  m->mark = c->epoch;
  c->count++;
  c->visit(m, c->ud);
}

size_t sio_rooms_select(sio_rooms *r, const char *const *rooms, size_t nrooms,
                        const char *const *except, size_t nexcept,
                        void (*visit)(sio_room_member *m, void *ud), void *ud) {
  select_ctx c;
  size_t i;
  c.epoch = next_epoch(r);
  c.count = 0;
  c.visit = visit;
  c.ud = ud;
  for (i = 0; i < nexcept; i++)
    for_room(r, except[i], mark_only, &c);
  if (nrooms) {
    for (i = 0; i < nrooms; i++)
      for_room(r, rooms[i], mark_visit, &c);
  } else {
    size_t it = 0;
    const sio_map_entry *e;
    while (sio_map_next(&r->members, &it, &e))
      mark_visit(e->val, &c);
  }
  return c.count;
}
