/* sio_sharded_codec: the sharded adapter envelope codec (sio_redis_msg.c)
 * as a command-line filter, for compat/node/test/sharded-codec.test.mjs,
 * which checks it against what a live Node createShardedAdapter publishes
 * and accepts.
 *
 *   sio_sharded_codec reencode
 *       stdin: vector lines (step TAB channel TAB encoding TAB hex, '#'
 *       comments); stdout, one line each: step TAB the hex of libsio's
 *       re-encoding of the decoded message, or step TAB "ERR " error name.
 *   sio_sharded_codec decode HEX
 *       stdout: {"type","uid","nsp","requestId","message"} (message: the
 *       decoded envelope as JSON, binary as placeholders); exit 1 when
 *       malformed.
 *   sio_sharded_codec bcast UID NSP ROOMS EVENT ARGS
 *   sio_sharded_codec fetch UID NSP REQUEST_ID ROOMS
 *   sio_sharded_codec sse UID NSP REQUEST_ID|- EVENT ARGS
 *   sio_sharded_codec join UID NSP ROOMS JOIN_ROOMS
 *       stdout: the hex of the message libsio publishes for that call.
 *       ROOMS is a comma-separated list ("" for none), ARGS a JSON array;
 *       a string argument "bin:HEX" in ARGS becomes a binary attachment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sio/sio.h"
#include "sio_buf.h"
#include "sio_packet.h"
#include "sio_redis_msg.h"

#define MAX_LIST 16
#define MAX_BINS 8

static int hexv(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Decodes hex into a malloc'ed buffer; NULL when not hex. */
static uint8_t *unhex(const char *s, size_t *len) {
  size_t n = strlen(s), i;
  uint8_t *out;
  if (n % 2)
    return NULL;
  out = malloc(n / 2 + 1);
  if (!out)
    return NULL;
  for (i = 0; i < n / 2; i++) {
    int hi = hexv(s[2 * i]), lo = hexv(s[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      free(out);
      return NULL;
    }
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  *len = n / 2;
  return out;
}

static void print_hex(FILE *fp, const sio_buf *b) {
  size_t i;
  for (i = 0; i < b->len; i++)
    fprintf(fp, "%02x", (uint8_t)b->data[i]);
}

static int reencode(const sio_redis_cluster_msg *m, sio_buf *b) {
  sio_broadcast_opts o = {m->opts.rooms.v, m->opts.rooms.n, m->opts.except.v,
                          m->opts.except.n, m->opts.flags};
  switch (m->type) {
  case SIO_REDIS_CLUSTER_BROADCAST:
    return sio_redis_encode_cluster_bcast(
        b, m->uid, m->nsp, m->request_id, m->packet.event, m->packet.args,
        m->root.bins, m->root.nbins, &o, m->opts.timeout);
  case SIO_REDIS_CLUSTER_SOCKETS_JOIN:
  case SIO_REDIS_CLUSTER_SOCKETS_LEAVE:
    return sio_redis_encode_cluster_rooms(b, m->type, m->uid, m->nsp, &o,
                                          m->rooms.v, m->rooms.n);
  case SIO_REDIS_CLUSTER_DISCONNECT_SOCKETS:
    return sio_redis_encode_cluster_disconnect(b, m->uid, m->nsp, &o, m->close);
  case SIO_REDIS_CLUSTER_FETCH_SOCKETS:
    return sio_redis_encode_cluster_fetch(b, m->uid, m->nsp, m->request_id, &o);
  case SIO_REDIS_CLUSTER_SERVER_SIDE_EMIT: {
    json_object *args = json_object_new_array();
    size_t i, n = json_object_array_length(m->sse);
    int rv;
    for (i = 1; args && i < n; i++)
      json_object_array_add(
          args, json_object_get(json_object_array_get_idx(m->sse, i)));
    rv = args
             ? sio_redis_encode_cluster_sse(
                   b, m->uid, m->nsp, m->request_id,
                   json_object_get_string(json_object_array_get_idx(m->sse, 0)),
                   args)
             : SIO_ERR_NOMEM;
    json_object_put(args);
    return rv;
  }
  case SIO_REDIS_CLUSTER_FETCH_SOCKETS_RESPONSE:
    return sio_redis_encode_cluster_answer(b, m->type, m->uid, m->nsp,
                                           m->request_id, m->sockets, NULL, 0);
  case SIO_REDIS_CLUSTER_SERVER_SIDE_EMIT_RESPONSE:
  case SIO_REDIS_CLUSTER_BROADCAST_ACK:
    return sio_redis_encode_cluster_answer(b, m->type, m->uid, m->nsp,
                                           m->request_id, m->answer,
                                           m->root.bins, m->root.nbins);
  case SIO_REDIS_CLUSTER_BROADCAST_CLIENT_COUNT:
    return sio_redis_encode_cluster_client_count(
        b, m->uid, m->nsp, m->request_id, (uint64_t)m->client_count);
  default:
    return SIO_ERR_INVAL;
  }
}

static int cmd_reencode(void) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t got;
  while ((got = getline(&line, &cap, stdin)) > 0) {
    char *f[4], *p = line;
    sio_redis_cluster_msg m;
    uint8_t *bytes;
    size_t len, i;
    sio_buf b;
    int rv;
    if (line[got - 1] == '\n')
      line[--got] = 0;
    if (got == 0 || line[0] == '#')
      continue;
    for (i = 0; i < 4; i++) {
      f[i] = p;
      p = strchr(p, '\t');
      if (i < 3) {
        if (!p)
          return 2;
        *p++ = 0;
      }
    }
    bytes = unhex(f[3], &len);
    if (!bytes)
      return 2;
    sio_buf_init(&b);
    rv = sio_redis_cluster_decode(&m, bytes, len, NULL);
    if (!rv) {
      rv = reencode(&m, &b);
      sio_redis_cluster_clear(&m);
    }
    printf("%s\t", f[0]);
    if (rv)
      printf("ERR %s", sio_err_name(rv));
    else
      print_hex(stdout, &b);
    printf("\n");
    sio_buf_deinit(&b);
    free(bytes);
  }
  free(line);
  return 0;
}

static void add_str(json_object *o, const char *k, const char *v) {
  json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

static int cmd_decode(const char *hex) {
  sio_redis_cluster_msg m;
  size_t len;
  uint8_t *bytes = unhex(hex, &len);
  json_object *o;
  sio_buf b;
  int rv;
  if (!bytes)
    return 2;
  rv = sio_redis_cluster_decode(&m, bytes, len, NULL);
  if (rv) {
    fprintf(stderr, "malformed: %s\n", sio_err_name(rv));
    free(bytes);
    return 1;
  }
  o = json_object_new_object();
  json_object_object_add(o, "type", json_object_new_int(m.type));
  add_str(o, "uid", m.uid);
  add_str(o, "nsp", m.nsp);
  add_str(o, "requestId", m.request_id);
  json_object_object_add(o, "message", json_object_get(m.root.json));
  sio_buf_init(&b);
  rv = sio_json_append(&b, o);
  if (!rv)
    printf("%s\n", b.data);
  sio_buf_deinit(&b);
  json_object_put(o);
  sio_redis_cluster_clear(&m);
  free(bytes);
  return rv ? 1 : 0;
}

/* "a,b" -> v[]; the strings point into s (modified). */
static size_t split(char *s, const char **v) {
  size_t n = 0;
  char *p;
  if (!*s)
    return 0;
  while (n < MAX_LIST) {
    v[n++] = s;
    p = strchr(s, ',');
    if (!p)
      break;
    *p = 0;
    s = p + 1;
  }
  return n;
}

/* Parses ARGS; "bin:HEX" strings become placeholders of bins[]. */
static json_object *parse_args(const char *s, sio_bin *bins, size_t *nbins,
                               uint8_t **owned) {
  json_object *a = NULL;
  size_t i, n;
  *nbins = 0;
  if (sio_json_parse(s, strlen(s), 0, &a) ||
      !json_object_is_type(a, json_type_array)) {
    json_object_put(a);
    return NULL;
  }
  n = json_object_array_length(a);
  for (i = 0; i < n; i++) {
    json_object *it = json_object_array_get_idx(a, i);
    const char *t = json_object_get_string(it);
    size_t len;
    if (!json_object_is_type(it, json_type_string) ||
        strncmp(t, "bin:", 4) != 0 || *nbins == MAX_BINS)
      continue;
    owned[*nbins] = unhex(t + 4, &len);
    if (!owned[*nbins])
      continue;
    bins[*nbins].data = owned[*nbins];
    bins[*nbins].len = len;
    json_object_array_put_idx(a, i, sio_placeholder_new((int)*nbins));
    (*nbins)++;
  }
  return a;
}

static int cmd_encode(int argc, char **argv) {
  const char *rooms[MAX_LIST], *more[MAX_LIST];
  sio_broadcast_opts o = {rooms, 0, NULL, 0, 0};
  sio_bin bins[MAX_BINS];
  uint8_t *owned[MAX_BINS];
  size_t nbins = 0, i;
  json_object *args = NULL;
  const char *cmd = argv[1];
  sio_buf b;
  int rv = SIO_ERR_INVAL;
  sio_buf_init(&b);
  if (strcmp(cmd, "bcast") == 0 && argc == 7) {
    o.nrooms = split(argv[4], rooms);
    args = parse_args(argv[6], bins, &nbins, owned);
    if (args)
      rv = sio_redis_encode_cluster_bcast(&b, argv[2], argv[3], NULL, argv[5],
                                          args, bins, nbins, &o, -1);
  } else if (strcmp(cmd, "fetch") == 0 && argc == 6) {
    o.nrooms = split(argv[5], rooms);
    rv = sio_redis_encode_cluster_fetch(&b, argv[2], argv[3], argv[4], &o);
  } else if (strcmp(cmd, "sse") == 0 && argc == 7) {
    args = parse_args(argv[6], bins, &nbins, owned);
    if (args)
      rv = sio_redis_encode_cluster_sse(&b, argv[2], argv[3],
                                        strcmp(argv[4], "-") ? argv[4] : NULL,
                                        argv[5], args);
  } else if (strcmp(cmd, "join") == 0 && argc == 6) {
    o.nrooms = split(argv[4], rooms);
    rv = sio_redis_encode_cluster_rooms(&b, SIO_REDIS_CLUSTER_SOCKETS_JOIN,
                                        argv[2], argv[3], &o, more,
                                        split(argv[5], more));
  }
  if (!rv) {
    print_hex(stdout, &b);
    printf("\n");
  } else {
    fprintf(stderr, "encode: %s\n", sio_err_name(rv));
  }
  for (i = 0; i < nbins; i++)
    free(owned[i]);
  json_object_put(args);
  sio_buf_deinit(&b);
  return rv ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "reencode") == 0)
    return cmd_reencode();
  if (argc == 3 && strcmp(argv[1], "decode") == 0)
    return cmd_decode(argv[2]);
  if (argc >= 2)
    return cmd_encode(argc, argv);
  fprintf(stderr, "usage: see the comment at the top of sio_sharded_codec.c\n");
  return 2;
}
