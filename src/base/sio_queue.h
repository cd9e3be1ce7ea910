#ifndef SIO_QUEUE_H
#define SIO_QUEUE_H

/* Intrusive circular doubly linked list. Embed a sio_queue in each element;
 * recover the element with sio_container_of(). An empty list's head points
 * to itself. */

typedef struct sio_queue {
  struct sio_queue *next;
  struct sio_queue *prev;
} sio_queue;

static inline void sio_queue_init(sio_queue *q) { q->next = q->prev = q; }
static inline int sio_queue_empty(const sio_queue *q) { return q->next == q; }
static inline void sio_queue_insert_tail(sio_queue *h, sio_queue *q) {
  q->next = h;
  q->prev = h->prev;
  h->prev->next = q;
  h->prev = q;
}
static inline void sio_queue_insert_head(sio_queue *h, sio_queue *q) {
  q->next = h->next;
  q->prev = h;
  h->next->prev = q;
  h->next = q;
}
static inline void sio_queue_remove(sio_queue *q) {
  q->prev->next = q->next;
  q->next->prev = q->prev;
  q->next = q->prev = q;
}
static inline sio_queue *sio_queue_head(const sio_queue *h) { return h->next; }
static inline sio_queue *sio_queue_tail(const sio_queue *h) { return h->prev; }

#define sio_queue_foreach(q, h) for ((q) = (h)->next; (q) != (h); (q) = (q)->next)
/* Safe against removal of q inside the body. */
#define sio_queue_foreach_safe(q, n, h)                                        \
  for ((q) = (h)->next, (n) = (q)->next; (q) != (h); (q) = (n), (n) = (q)->next)

#endif
