#ifndef SIO_BINARY_H
#define SIO_BINARY_H

/* PURE: binary attachments of BINARY_EVENT / BINARY_ACK packets. A decoded
 * header announces N attachments; the next N Engine.IO binary messages are
 * its attachments. Placeholders {"_placeholder":true,"num":i} stay in the
 * JSON (libsio hands args and the attachment array to the application side
 * by side), so "reconstruct" here means: collect, bound, and validate that
 * every placeholder names an attachment that exists. */

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "sio_packet.h"

typedef struct sio_bin_part {
  uint8_t *data; /* owned */
  size_t len;
} sio_bin_part;

typedef struct sio_binary_reader {
  sio_packet pkt;      /* the header packet being completed (owned) */
  sio_bin_part *parts; /* pkt.nattach slots */
  size_t have;         /* attachments received so far */
  size_t bytes;        /* total attachment bytes so far */
  size_t max_bytes;    /* bound on the total, 0 = none */
  int active;
} sio_binary_reader;

void sio_binary_reader_init(sio_binary_reader *r, size_t max_bytes);
/* Frees everything the reader holds. */
void sio_binary_reader_deinit(sio_binary_reader *r);
/* Starts collecting for header packet pkt (takes ownership of its data;
 * *pkt is cleared). Returns 0, SIO_ERR_STATE (already collecting),
 * SIO_ERR_PROTO (a placeholder names an attachment that does not exist,
 * or is malformed), SIO_ERR_NOMEM. */
int sio_binary_reader_start(sio_binary_reader *r, sio_packet *pkt);
/* Adds one attachment (copied). Returns 1 when the packet is complete, 0
 * when more are expected, SIO_ERR_STATE (not collecting), SIO_ERR_TOOBIG
 * (max_bytes passed) or SIO_ERR_NOMEM. */
int sio_binary_reader_add(sio_binary_reader *r, const uint8_t *data,
                          size_t len);
/* After add() returned 1: moves the packet out to *pkt and the parts array
 * out to *parts (caller frees with sio_binary_parts_free). */
void sio_binary_reader_take(sio_binary_reader *r, sio_packet *pkt,
                            sio_bin_part **parts, size_t *nparts);
void sio_binary_parts_free(sio_bin_part *parts, size_t n);

/* Counts the placeholders in v and checks each names num < nattach and
 * appears once. Returns the count, or SIO_ERR_PROTO / SIO_ERR_DEPTH. */
int sio_binary_count_placeholders(json_object *v, size_t nattach);

#endif
