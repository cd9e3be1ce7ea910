/* fuzz_ws_session.c: libFuzzer target for a whole WebSocket session
 * against a libsio server on loopback: the frame fast path and its wslay
 * fallback (fragments, control frames, close codes, UTF-8), Engine.IO
 * packets and Socket.IO packets, acks, rooms and broadcasts.
 *
 * One server lives for the whole run (LLVMFuzzerInitialize). Each input is
 * one TCP connection: the upgrade request, then the bytes the first input
 * byte asks for:
 *   even  the rest of the input as raw client bytes (the fuzzer writes
 *         frames itself; the seeds use mask key 0, so that payloads are
 *         plain text the fuzzer can mutate);
 *   odd   the rest split at '\n' into messages, each framed here as one
 *         masked text frame (a Socket.IO CONNECT "40" first), so that
 *         mutations reach Engine.IO and Socket.IO parsing.
 * The client then half-closes; the server must close the connection (no
 * hang), and whatever it sends is read and dropped. Crashes, sanitizer
 * reports, leaks and a connection the server never closes are failures. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sio/sio.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static sio_server *server;
static int port;

static void on_event(sio_socket *s, const char *event, json_object *args,
                     const sio_bin *bins, size_t nbins, int64_t ack_id,
                     void *ud) {
  (void)ud;
  if (ack_id >= 0)
    sio_socket_ack(s, ack_id, args, bins, nbins);
  if (strcmp(event, "join") == 0 && json_object_array_length(args) > 0 &&
      json_object_is_type(json_object_array_get_idx(args, 0), json_type_string))
    sio_socket_join(s,
                    json_object_get_string(json_object_array_get_idx(args, 0)));
  else if (strcmp(event, "leave") == 0 && json_object_array_length(args) > 0 &&
           json_object_is_type(json_object_array_get_idx(args, 0),
                               json_type_string))
    sio_socket_leave(
        s, json_object_get_string(json_object_array_get_idx(args, 0)));
  else if (strcmp(event, "all") == 0)
    sio_namespace_broadcast(sio_socket_namespace(s), NULL, "all", args, bins,
                            nbins);
  else
    sio_socket_emit(s, event, args, bins, nbins);
}

static void quiet(int level, const char *msg, void *ud) {
  (void)level;
  (void)msg;
  (void)ud;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  static const sio_namespace_handlers h = {NULL, NULL, on_event, NULL};
  sio_options *o;
  (void)argc;
  (void)argv;
  sio_set_log(quiet, NULL, SIO_LOG_ERROR);
  if (uv_loop_init(&loop) || sio_options_new(&o))
    abort();
  /* no heartbeat during an input; a small maxPayload reaches the 1009 path */
  sio_options_set_ping(o, 600000, 600000);
  sio_options_set_max_payload(o, 4096);
  if (sio_server_new(&server, &loop, o))
    abort();
  sio_options_del(o);
  sio_namespace_set_handlers(sio_server_of(server, "/"), &h, NULL);
  sio_namespace_set_handlers(sio_server_of(server, "/admin"), &h, NULL);
  if (sio_server_listen(server, "127.0.0.1:0"))
    abort();
  port = sio_server_port(server, 0);
  return 0;
}

static void put_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && errno == EAGAIN) {
      uv_run(&loop, UV_RUN_NOWAIT); /* let the server read */
    } else {
      return; /* the server closed: the rest does not matter */
    }
  }
}

/* One masked text frame (mask key from the seed, changing per frame). */
static void put_frame(int fd, const uint8_t *msg, size_t n, uint32_t *key) {
  uint8_t h[14], *m;
  size_t hl = 2, i;
  h[0] = 0x81;
  if (n < 126) {
    h[1] = (uint8_t)(0x80 | n);
  } else if (n < 65536) {
    h[1] = 0x80 | 126;
    h[2] = (uint8_t)(n >> 8);
    h[3] = (uint8_t)n;
    hl = 4;
  } else {
    return;
  }
  *key = *key * 1103515245u + 12345u;
  memcpy(h + hl, key, 4);
  m = malloc(n ? n : 1);
  if (!m)
    abort();
  for (i = 0; i < n; i++)
    m[i] = msg[i] ^ h[hl + (i & 3)];
  put_all(fd, h, hl + 4);
  put_all(fd, m, n);
  free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char upgrade[] =
      "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
      "Host: fuzz\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n";
  struct sockaddr_in a;
  uint8_t buf[65536];
  uint32_t key = 0x5eed;
  int fd, i, closed = 0;
  if (size == 0)
    return 0;
  fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    abort();
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) && errno != EINPROGRESS)
    abort();
  for (i = 0; i < 1000; i++) { /* the server accepts */
    struct pollfd p = {fd, POLLOUT, 0};
    uv_run(&loop, UV_RUN_NOWAIT);
    if (poll(&p, 1, 0) == 1)
      break;
  }
  put_all(fd, (const uint8_t *)upgrade, sizeof(upgrade) - 1);
  if (data[0] & 1) {
    const uint8_t *p = data + 1, *end = data + size;
    put_frame(fd, (const uint8_t *)"40", 2, &key);
    while (p < end) {
      const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
      const uint8_t *e = nl ? nl : end;
      put_frame(fd, p, (size_t)(e - p), &key);
      p = e + (nl ? 1 : 0);
    }
  } else {
    put_all(fd, data + 1, size - 1);
  }
  shutdown(fd, SHUT_WR);
  /* the server must answer the end of input by closing */
  for (i = 0; i < 100000 && !closed; i++) {
    ssize_t n;
    uv_run(&loop, UV_RUN_NOWAIT);
    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
      ;
    if (n == 0 || (n < 0 && errno != EAGAIN))
      closed = 1;
  }
  close(fd);
  for (i = 0; i < 4; i++) /* close callbacks: the session is freed */
    uv_run(&loop, UV_RUN_NOWAIT);
  if (!closed)
    abort(); /* a connection left open after EOF: a hang */
  return 0;
}
