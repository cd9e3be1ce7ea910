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
  char *nsp_buf; /* owned copy of pkt.nsp, kept until the next start */
} sio_binary_reader;

/* Initialises r (embedded by value; cannot fail). */
void sio_binary_reader_init(sio_binary_reader *r, size_t max_bytes);
/* Frees everything the reader holds (a packet being collected, its parts,
 * the namespace copy) and re-initialises it with the same max_bytes. */
void sio_binary_reader_deinit(sio_binary_reader *r);
/* Starts collecting for header packet pkt, a decoded BINARY_EVENT or
 * BINARY_ACK (nattach >= 1, which sio_packet_decode guarantees). On
 * success takes ownership of pkt->data (pkt->data is set to NULL) and
 * copies pkt->nsp, so the input pkt was decoded from may go away. Returns
 * 0, SIO_ERR_STATE (already collecting), SIO_ERR_INVAL (not a binary
 * packet, or nattach 0), SIO_ERR_PROTO (a placeholder is malformed, names
 * an attachment that does not exist, or names one twice), SIO_ERR_DEPTH,
 * SIO_ERR_NOMEM; on error nothing changed and the caller still owns
 * pkt->data. */
int sio_binary_reader_start(sio_binary_reader *r, sio_packet *pkt);
/* Adds one attachment (data is copied). Returns 1 when the packet is
 * complete, 0 when more are expected, SIO_ERR_STATE (not collecting, or
 * already complete), SIO_ERR_TOOBIG (max_bytes passed) or SIO_ERR_NOMEM;
 * after an error the reader is unchanged (deinit it to drop the packet). */
int sio_binary_reader_add(sio_binary_reader *r, const uint8_t *data,
                          size_t len);
/* After add() returned 1: moves the packet out to *pkt (the caller owns
 * pkt->data, sio_packet_clear) and the parts array out to *parts (caller
 * frees with sio_binary_parts_free(*parts, *nparts)); the reader is idle
 * again. pkt->nsp points to the reader's copy, valid until the next
 * sio_binary_reader_start() or _deinit(). Called when the packet is not
 * complete, it outputs an empty packet, NULL and 0 and changes nothing. */
void sio_binary_reader_take(sio_binary_reader *r, sio_packet *pkt,
                            sio_bin_part **parts, size_t *nparts);
/* Frees n parts and the array (takes ownership). NULL-safe. */
void sio_binary_parts_free(sio_bin_part *parts, size_t n);

/* Counts the placeholders in v (borrowed; NULL has none) and checks each
 * names num < nattach and appears once. An object is a placeholder when
 * its "_placeholder" member is true; its "num" must then be an integer.
 * Returns the count, or SIO_ERR_PROTO, SIO_ERR_DEPTH (nested deeper than
 * SIO_JSON_MAX_DEPTH) or SIO_ERR_NOMEM (only when nattach > 64). */
int sio_binary_count_placeholders(json_object *v, size_t nattach);

#endif
