#ifndef SIO_ADAPTER_LOOPS_H
#define SIO_ADAPTER_LOOPS_H

/* sio_adapter_loops: the cluster calls between the loops of one process
 * (server.threads; sio_group), as an adapter over <sio/adapter.h> like the
 * Redis ones. Requests and answers are JSON texts (with their binary
 * attachments beside them) that the group carries to another loop's
 * mailbox; what to wait for and for how long is sio_adapter_req's, as for
 * instances over Redis, each loop counting as one server. Broadcasts
 * without acknowledgements do not pass here: the group shares their
 * encoded packet with the other loops (sio_group.c).
 *
 * Requests (to every other loop):
 *   {"t":"fetch","id","from","nsp","opts"}        -> ans [socket objects]
 *   {"t":"rooms","id","from","nsp"}               -> ans [room names]
 *   {"t":"sse","id"?,"from","nsp","data"}         -> ans value (with id)
 *   {"t":"back","id","from","nsp","opts","event","args","timeout"} + bins
 *                                                 -> ackc n, ack arg + bins
 *   {"t":"join"|"leave","nsp","opts","rooms"}, {"t":"dc","nsp","opts",
 *   "close"}                                      (no answer)
 * Answers (to the loop "from"): {"t":"ans","id","v"}, {"t":"ackc","id",
 * "n"}, {"t":"ack","id","arg"}. opts is {"rooms","except","flags"}. */

#include <sio/adapter.h>

typedef struct sio_adapter_loops sio_adapter_loops;

/* How the adapter reaches the other loops (the group's side). */
typedef struct sio_loops_bus {
  /* Hands msg and its attachments (all copied) to loop `to`, whose server
   * gives them to sio_adapter_loops_message. Returns 0 or an error (not
   * delivered). Loop thread. */
  int (*send)(void *ud, unsigned to, const uint8_t *msg, size_t len,
              const sio_bin *bins, size_t nbins);
  /* The loops joined now, this one included. Any thread. */
  unsigned (*count)(void *ud);
  void *ud;
  unsigned self; /* this loop's index */
  unsigned n;    /* the group's size */
} sio_loops_bus;

/* Installs the adapter on s over bus (copied): what sio_server_use_loops
 * (<sio/sio.h>) does over a group's mailboxes, and a test over its own.
 * Returns 0, or what sio_server_set_adapter returns, or SIO_ERR_NOMEM.
 * *out, when not NULL, receives the adapter (for
 * sio_adapter_loops_message); it lives until s closes. */
int sio_adapter_loops_install(sio_server *s, const sio_loops_bus *bus,
                              uint32_t timeout_ms, sio_adapter_loops **out);
/* A message another loop sent (borrowed). On the adapter's loop thread;
 * anything malformed is counted and dropped. */
void sio_adapter_loops_message(sio_adapter_loops *a, const uint8_t *msg,
                               size_t len, const sio_bin *bins, size_t nbins);

#endif
