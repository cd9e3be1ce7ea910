#ifndef SIO_ROOMS_H
#define SIO_ROOMS_H

/* PURE: the room <-> member index of one namespace (what the reference
 * server's in-memory adapter keeps in its `rooms` and `sids` maps).
 *
 * A member is a struct embedded by value in a socket. Each member is
 * implicitly in the room named by its own id: that room is not stored (it
 * would cost a map slot, a key copy and a room object per socket) but
 * resolved through the member table, and a bit records whether the member
 * left it. Every other membership is a pair of cross-indexed slots, one in
 * the room's member array and one in the member's room array, so join and
 * leave are O(1) and a membership costs 32 bytes. */

#include <stddef.h>
#include <stdint.h>

#include "sio_map.h"

typedef struct sio_room sio_room;
typedef struct sio_room_member sio_room_member;

/* One room in a member's room array: the room and this member's index in
 * the room's member array. */
typedef struct sio_room_slot {
  sio_room *room;
  uint32_t idx;
} sio_room_slot;

struct sio_room_member {
  const char *id;       /* borrowed, NUL-terminated; set by add_member */
  sio_room_slot *slots; /* rooms joined, own-id room excluded (owned) */
  uint32_t nslots;
  uint32_t capslots;
  uint32_t mark;  /* selection epoch, see sio_rooms_select */
  uint32_t flags; /* SIO_ROOM_MEMBER_* */
};

enum {
  SIO_ROOM_MEMBER_ADDED = 1, /* in the member table */
  SIO_ROOM_MEMBER_OWN = 2    /* in the room named by its id */
};

typedef struct sio_rooms {
  sio_map members; /* id -> sio_room_member * */
  sio_map rooms;   /* name -> sio_room * */
  uint32_t epoch;
} sio_rooms;

void sio_rooms_init(sio_rooms *r);
/* Frees every room object. Members must have been removed first (their
 * slot arrays are theirs); remaining ones are detached, not freed. */
void sio_rooms_deinit(sio_rooms *r);

/* Prepares m (embedded by value) for use: no rooms, not added. */
void sio_room_member_init(sio_room_member *m);

/* Adds m under id (borrowed: it must outlive the membership) and puts it in
 * its own-id room. Returns 0, SIO_ERR_EXISTS (id taken), SIO_ERR_STATE (m
 * already added) or SIO_ERR_NOMEM. */
int sio_rooms_add_member(sio_rooms *r, sio_room_member *m, const char *id);
/* Moves m (added) to id (borrowed, as for add_member) in the member table,
 * its own-id room with it; its other rooms are untouched. Returns 0,
 * SIO_ERR_EXISTS (id taken), SIO_ERR_STATE (m not added) or SIO_ERR_NOMEM;
 * nothing changed on failure. */
int sio_rooms_rekey_member(sio_rooms *r, sio_room_member *m, const char *id);
/* Leaves every room, frees m's slot array and removes m from the member
 * table. NULL-safe on a member never added. */
void sio_rooms_remove_member(sio_rooms *r, sio_room_member *m);
/* The member with this id, or NULL. id borrowed. */
sio_room_member *sio_rooms_find_member(const sio_rooms *r, const char *id,
                                       size_t len);
static inline size_t sio_rooms_member_count(const sio_rooms *r) {
  return sio_map_count(&r->members);
}

/* Puts m (added) in room (copied). Returns 0 (also when already in it),
 * SIO_ERR_STATE (m not added), SIO_ERR_INVAL (name longer than 2^31) or
 * SIO_ERR_NOMEM (nothing changed). */
int sio_rooms_join(sio_rooms *r, sio_room_member *m, const char *room,
                   size_t len);
/* Takes m out of room (borrowed); an emptied room is freed. Returns 0 or
 * SIO_ERR_NOTFOUND (m was not in it). */
int sio_rooms_leave(sio_rooms *r, sio_room_member *m, const char *room,
                    size_t len);
/* 1 when m is in room (borrowed), else 0. */
int sio_rooms_contains(const sio_rooms *r, const sio_room_member *m,
                       const char *room, size_t len);
/* Calls cb for each room of m, its own-id room first; names borrowed for
 * the call. cb must not change m's rooms. */
void sio_rooms_foreach_of(const sio_room_member *m,
                          void (*cb)(const char *room, void *ud), void *ud);
/* Number of members in room (own-id rooms included). */
size_t sio_rooms_room_size(const sio_rooms *r, const char *room, size_t len);
/* Calls cb for each stored room name (own-id rooms are not listed). */
void sio_rooms_foreach_room(const sio_rooms *r,
                            void (*cb)(const char *room, size_t nmembers,
                                       void *ud),
                            void *ud);

/* Visits the union of rooms (all members when nrooms is 0) minus every
 * member of an except room, each member once. Arrays and names borrowed.
 * visit must not add, remove, join or leave anything. Returns the number of
 * members visited. Never fails: deduplication uses the members' mark field
 * against a per-call epoch. */
size_t sio_rooms_select(sio_rooms *r, const char *const *rooms, size_t nrooms,
                        const char *const *except, size_t nexcept,
                        void (*visit)(sio_room_member *m, void *ud), void *ud);

#endif
