/* fuzz_recovery.c: libFuzzer target for connection state recovery: random
 * sequences of connect / publish / drop / reconnect by several users over
 * loopback WebSockets, against a libsio server with recovery on.
 *
 * Each input gets its own server (so a finding replays alone and teardown
 * is checked for leaks every time) and up to NSLOT raw WebSocket clients.
 * The input is a script, two bytes per step (op, argument):
 *   connect   slot, user (3 users) and the recovery request: none, the
 *             slot's own last pid/offset, an old pid of the same user, a
 *             pid of another user, or a bad offset;
 *   publish   server-side broadcast to everyone, a user room or a project
 *             room, with 0..6 binary attachments;
 *   drop      abrupt close (recoverable: "transport close");
 *   leave     namespace DISCONNECT (not recoverable);
 *   join      ask the server to join a project room (the policy decides);
 *   pump      let the loop run.
 * Users are bound to their sessions (sio_socket_set_owner) and the
 * recovery filter applies the same policy as join. Invariants, besides no
 * crash, sanitizer report or leak: a client never receives an event for a
 * user room not its own, nor for a project room its user may not be in,
 * and a reconnection with another user's pid never gets that user's
 * socket id. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sio/sio.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NSLOT 4
#define NUSER 3
#define NHIST 8

static uv_loop_t loop;
static sio_server *server;
static int port;
static int server_closed;

typedef struct slot {
  int fd; /* -1: none */
  int user;
  int open; /* 101 seen */
  char sid[32], pid[32], offset[32];
  uint8_t in[1 << 16];
  size_t inlen;
} slot;

static slot slots[NSLOT];

/* pids and sids handed out this input, by user: what "old" and "foreign"
 * requests replay */
static struct { char pid[32], sid[32], offset[32]; } hist[NUSER][NHIST];
static int nhist[NUSER];

/* Project room k ("p0".."p3") is open to user u when (u + k) is even. */
static int may_join(int user, const char *room) {
  if (strncmp(room, "p", 1) == 0 && room[1] >= '0' && room[1] <= '3' &&
      !room[2])
    return (user + (room[1] - '0')) % 2 == 0;
  return 0;
}

static int user_of(sio_socket *s) {
  return (int)(intptr_t)sio_socket_get_data(s) - 1;
}

static int on_authorize(sio_socket *s, json_object *auth, json_object **err,
                        void *ud) {
  json_object *u;
  char room[16];
  int user;
  (void)err;
  (void)ud;
  if (!auth || !json_object_object_get_ex(auth, "user", &u) ||
      !json_object_is_type(u, json_type_int))
    return -1;
  user = json_object_get_int(u);
  if (user < 0 || user >= NUSER)
    return -1;
  snprintf(room, sizeof(room), "user:%d", user);
  sio_socket_set_data(s, (void *)(intptr_t)(user + 1));
  if (sio_socket_set_owner(s, room) || sio_socket_join(s, room))
    return -1;
  return 0;
}

static int keep_room(sio_socket *s, const char *room, void *ud) {
  char own[16];
  (void)ud;
  snprintf(own, sizeof(own), "user:%d", user_of(s));
  return strcmp(room, own) == 0 || may_join(user_of(s), room);
}

static void on_event(sio_socket *s, const char *event, json_object *args,
                     const sio_bin *bins, size_t nbins, int64_t ack_id,
                     void *ud) {
  json_object *a0;
  (void)bins;
  (void)nbins;
  (void)ack_id;
  (void)ud;
  if (strcmp(event, "join") != 0 || json_object_array_length(args) < 1)
    return;
  a0 = json_object_array_get_idx(args, 0);
  if (json_object_is_type(a0, json_type_string) &&
      may_join(user_of(s), json_object_get_string(a0)))
    sio_socket_join(s, json_object_get_string(a0));
}

static void quiet(int level, const char *msg, void *ud) {
  (void)level;
  (void)msg;
  (void)ud;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  sio_set_log(quiet, NULL, SIO_LOG_ERROR);
  if (uv_loop_init(&loop))
    abort();
  return 0;
}

static void server_start(void) {
  static const sio_namespace_handlers h = {on_authorize, NULL, on_event, NULL};
  sio_options *o;
  sio_namespace *ns;
  if (sio_options_new(&o))
    abort();
  sio_options_set_ping(o, 600000, 600000);
  sio_options_set_recovery(o, 1, 60000);
  /* small enough that long scripts reach the replay byte bound */
  sio_options_set_max_buffered(o, 64 * 1024);
  if (sio_server_new(&server, &loop, o))
    abort();
  sio_options_del(o);
  ns = sio_server_of(server, "/");
  sio_namespace_set_handlers(ns, &h, NULL);
  sio_namespace_set_recovery_filter(ns, keep_room, NULL);
  if (sio_server_listen(server, "127.0.0.1:0"))
    abort();
  port = sio_server_port(server, 0);
}

static void on_closed(sio_server *s, void *ud) {
  (void)s;
  (void)ud;
  server_closed = 1;
}

static void put_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && errno == EAGAIN) {
      uv_run(&loop, UV_RUN_NOWAIT);
    } else {
      return;
    }
  }
}

static void put_text(int fd, const char *msg) {
  uint8_t h[8];
  size_t n = strlen(msg), hl = 2;
  h[0] = 0x81;
  if (n < 126) {
    h[1] = (uint8_t)(0x80 | n);
  } else {
    h[1] = 0x80 | 126;
    h[2] = (uint8_t)(n >> 8);
    h[3] = (uint8_t)n;
    hl = 4;
  }
  memset(h + hl, 0, 4); /* mask key 0: the payload goes as is */
  put_all(fd, h, hl + 4);
  put_all(fd, (const uint8_t *)msg, n);
}

static void slot_close(slot *c) {
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
  c->open = 0;
  c->inlen = 0;
}

/* One text message from the server to the client of c. */
static void on_text(slot *c, const char *m, size_t n) {
  char buf[4096];
  const char *p, *q;
  if (n >= sizeof(buf))
    n = sizeof(buf) - 1;
  memcpy(buf, m, n);
  buf[n] = 0;
  if (strncmp(buf, "40{", 3) == 0) {
    p = strstr(buf, "\"sid\":\"");
    if (p && (q = strchr(p + 7, '"')) && q - (p + 7) < 31) {
      snprintf(c->sid, sizeof(c->sid), "%.*s", (int)(q - (p + 7)), p + 7);
      /* a foreign pid must never hand out another user's id */
      for (int u = 0; u < NUSER; u++)
        for (int i = 0; u != c->user && i < nhist[u]; i++)
          if (strcmp(hist[u][i].sid, c->sid) == 0)
            abort();
    }
    p = strstr(buf, "\"pid\":\"");
    if (p && (q = strchr(p + 7, '"')) && q - (p + 7) < 31) {
      snprintf(c->pid, sizeof(c->pid), "%.*s", (int)(q - (p + 7)), p + 7);
      if (nhist[c->user] < NHIST) {
        int i = nhist[c->user]++;
        snprintf(hist[c->user][i].pid, 32, "%s", c->pid);
        snprintf(hist[c->user][i].sid, 32, "%s", c->sid);
        snprintf(hist[c->user][i].offset, 32, "%s", c->offset);
      }
    }
    return;
  }
  if (strncmp(buf, "42[\"ev\",\"", 9) == 0 ||
      (buf[0] == '4' && buf[1] == '5' && (p = strstr(buf, "-[\"ev\",\"")) &&
       p - buf < 8)) {
    const char *room = strstr(buf, "[\"ev\",\"") + 7;
    char r[32];
    q = strchr(room, '"');
    if (!q || q - room >= (long)sizeof(r))
      abort();
    snprintf(r, sizeof(r), "%.*s", (int)(q - room), room);
    if (strncmp(r, "user:", 5) == 0 && atoi(r + 5) != c->user)
      abort(); /* another user's event */
    if (r[0] == 'p' && !may_join(c->user, r))
      abort(); /* a room this user may not be in */
    /* the offset is the last argument */
    q = buf + strlen(buf);
    if (q - buf > 3 && q[-1] == ']' && q[-2] == '"') {
      const char *e = q - 2, *b = e - 1;
      while (b > buf && *b != '"')
        b--;
      if (e - b - 1 > 0 && e - b - 1 < 31)
        snprintf(c->offset, sizeof(c->offset), "%.*s", (int)(e - b - 1), b + 1);
    }
  }
}

/* Reads what the server sent c and splits it into frames. */
static void slot_read(slot *c) {
  ssize_t n;
  size_t off = 0;
  if (c->fd < 0)
    return;
  for (;;) {
    if (c->inlen == sizeof(c->in)) {
      slot_close(c); /* a frame larger than we keep: give up on it */
      return;
    }
    n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
    if (n > 0) {
      c->inlen += (size_t)n;
      continue;
    }
    if (n == 0 || errno != EAGAIN) {
      slot_close(c);
      return;
    }
    break;
  }
  if (!c->open) {
    uint8_t *e = memmem(c->in, c->inlen, "\r\n\r\n", 4);
    if (!e)
      return;
    if (memcmp(c->in, "HTTP/1.1 101", 12) != 0) {
      slot_close(c);
      return;
    }
    off = (size_t)(e + 4 - c->in);
    c->open = 1;
  }
  while (c->inlen - off >= 2) {
    uint8_t *f = c->in + off;
    size_t hl = 2, len = f[1] & 0x7f;
    if (len == 126) {
      if (c->inlen - off < 4)
        break;
      len = (size_t)f[2] << 8 | f[3];
      hl = 4;
    } else if (len == 127) {
      slot_close(c);
      return;
    }
    if (c->inlen - off < hl + len)
      break;
    if ((f[0] & 0x0f) == 1)
      on_text(c, (const char *)f + hl, len);
    else if ((f[0] & 0x0f) == 8) {
      slot_close(c);
      return;
    }
    off += hl + len;
  }
  memmove(c->in, c->in + off, c->inlen - off);
  c->inlen -= off;
}

static void pump(int rounds) {
  int i, k;
  for (i = 0; i < rounds; i++) {
    uv_run(&loop, UV_RUN_NOWAIT);
    for (k = 0; k < NSLOT; k++)
      slot_read(&slots[k]);
  }
}

static void do_connect(slot *c, int user, int how) {
  static const char upgrade[] =
      "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
      "Host: fuzz\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n";
  struct sockaddr_in a;
  char msg[256];
  const char *pid = NULL, *offset = NULL;
  int other = (user + 1 + (how >> 3) % (NUSER - 1)) % NUSER, i;
  if (c->fd >= 0)
    slot_close(c);
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0)
    abort();
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) && errno != EINPROGRESS)
    abort();
  for (i = 0; i < 1000; i++) {
    struct pollfd p = {c->fd, POLLOUT, 0};
    uv_run(&loop, UV_RUN_NOWAIT);
    if (poll(&p, 1, 0) == 1)
      break;
  }
  put_all(c->fd, (const uint8_t *)upgrade, sizeof(upgrade) - 1);
  switch (how & 7) {
  case 1: /* this slot's last session, if it was this user's */
    if (c->user == user && c->pid[0]) {
      pid = c->pid;
      offset = c->offset;
    }
    break;
  case 2: /* an old pid of this user, with the offset of its time */
    if (nhist[user]) {
      i = (how >> 3) % nhist[user];
      pid = hist[user][i].pid;
      offset = hist[user][i].offset;
    }
    break;
  case 3: /* another user's pid */
  case 4:
    if (nhist[other]) {
      i = (how >> 3) % nhist[other];
      pid = hist[other][i].pid;
      offset = (how & 7) == 3 ? hist[other][i].offset : c->offset;
    }
    break;
  case 5: /* a pid with an offset never handed out */
    pid = c->pid;
    offset = "zzzzzz";
    break;
  default:
    break;
  }
  c->user = user;
  c->sid[0] = 0;
  if (pid && pid[0])
    snprintf(msg, sizeof(msg),
             "40{\"user\":%d,\"pid\":\"%s\",\"offset\":\"%s\"}", user, pid,
             offset ? offset : "");
  else
    snprintf(msg, sizeof(msg), "40{\"user\":%d}", user);
  put_text(c->fd, msg);
  pump(20);
}

static void do_publish(int arg) {
  static const uint8_t blob[] = {0, 1, 2, 3, 0xff, 0xfe};
  sio_bin bins[6];
  sio_broadcast_opts o;
  const char *room;
  char r[16];
  json_object *args;
  size_t i, nbins = (size_t)(arg >> 5) % 7;
  int kind = arg & 7;
  memset(&o, 0, sizeof(o));
  if (kind < 3) {
    snprintf(r, sizeof(r), "user:%d", kind);
  } else if (kind < 7) {
    snprintf(r, sizeof(r), "p%d", kind - 3);
  } else {
    snprintf(r, sizeof(r), "all");
  }
  room = r;
  if (kind < 7) {
    o.rooms = &room;
    o.nrooms = 1;
  }
  args = json_object_new_array();
  json_object_array_add(args, json_object_new_string(r));
  for (i = 0; i < nbins; i++) {
    json_object *ph = json_object_new_object();
    json_object_object_add(ph, "_placeholder", json_object_new_boolean(1));
    json_object_object_add(ph, "num", json_object_new_int((int)i));
    json_object_array_add(args, ph);
    bins[i].data = blob;
    bins[i].len = 1 + i % sizeof(blob);
  }
  sio_namespace_broadcast(sio_server_of(server, "/"), &o, "ev", args, bins,
                          nbins);
  json_object_put(args);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t i;
  int k;
  if (size > 4096)
    return 0;
  memset(hist, 0, sizeof(hist));
  memset(nhist, 0, sizeof(nhist));
  for (k = 0; k < NSLOT; k++) {
    slots[k].fd = -1;
    slots[k].open = 0;
    slots[k].inlen = 0;
    slots[k].user = 0;
    slots[k].sid[0] = slots[k].pid[0] = slots[k].offset[0] = 0;
  }
  server_closed = 0;
  server_start();
  for (i = 0; i + 1 < size; i += 2) {
    int op = data[i] & 0x0f, arg = data[i + 1];
    slot *c = &slots[(data[i] >> 4) % NSLOT];
    switch (op) {
    case 0:
      do_connect(c, arg % NUSER, arg / NUSER);
      break;
    case 1:
      do_publish(arg);
      pump(2);
      break;
    case 2:
      slot_close(c);
      pump(4);
      break;
    case 3:
      if (c->fd >= 0)
        put_text(c->fd, "41");
      pump(4);
      break;
    case 4:
      if (c->fd >= 0) {
        char msg[48];
        snprintf(msg, sizeof(msg), "42[\"join\",\"p%d\"]", arg % 4);
        put_text(c->fd, msg);
      }
      pump(4);
      break;
    default:
      pump(1 + arg % 8);
      break;
    }
  }
  pump(10);
  for (k = 0; k < NSLOT; k++)
    slot_close(&slots[k]);
  sio_server_close(server, on_closed, NULL);
  server = NULL;
  for (k = 0; k < 100000 && !server_closed; k++)
    uv_run(&loop, UV_RUN_NOWAIT);
  if (!server_closed)
    abort(); /* the server never finished closing: a hang */
  uv_run(&loop, UV_RUN_NOWAIT);
  return 0;
}
