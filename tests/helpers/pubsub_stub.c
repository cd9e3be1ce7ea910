/* pubsub_stub.c: an in-memory pub/sub bus for adapter tests (see
 * pubsub_stub.h). One FIFO of events per bus (messages to deliver, NUMSUB
 * answers, state changes), drained by a zero timer, so nothing is ever
 * delivered from inside the call that caused it. */
#include "pubsub_stub.h"

#include <stdlib.h>
#include <string.h>

#include "sio/sio_errno.h"

typedef struct sub {
  char *name;
  int kind; /* SIO_PUBSUB_CHANNEL, _PATTERN or _SHARD */
} sub;

struct pubsub_stub {
  pubsub_bus *bus;
  pubsub_stub *next;
  sio_pubsub_handler h;
  void *ud;
  sub *subs;
  size_t nsubs;
  int up;
  int closed;
  uint64_t subscribes; /* subscribe calls that added a subscription */
  uint64_t unsubscribes;
};

enum { EV_MSG, EV_COUNT, EV_STATE, EV_DEAD };

typedef struct event {
  struct event *next;
  int kind;
  int shard;       /* EV_MSG: SPUBLISH (reaches SSUBSCRIBE only); EV_COUNT:
                      SHARDNUMSUB */
  pubsub_stub *to; /* EV_COUNT / EV_STATE */
  char *channel;
  uint8_t *data;
  size_t len;
  sio_pubsub_count_cb cb;
  void *ud;
  int state;
} event;

struct pubsub_bus {
  uv_loop_t *loop;
  uv_timer_t timer;
  pubsub_stub *stubs;
  event *head, *tail;
  uint64_t spublished;
  int closing;
  void (*tap)(const char *, const uint8_t *, size_t, void *);
  void *tap_ud;
};

/* Redis' stringmatch, enough for the adapter's patterns. */
int pubsub_glob_match(const char *p, const char *s) {
  for (; *p; p++) {
    switch (*p) {
    case '*':
      while (p[1] == '*')
        p++;
      if (!p[1])
        return 1;
      for (; *s; s++)
        if (pubsub_glob_match(p + 1, s))
          return 1;
      return pubsub_glob_match(p + 1, s);
    case '?':
      if (!*s)
        return 0;
      s++;
      break;
    case '[': {
      int neg = 0, hit = 0;
      p++;
      if (*p == '^') {
        neg = 1;
        p++;
      }
      for (; *p && *p != ']'; p++) {
        if (*p == '\\' && p[1]) {
          p++;
          if (*p == *s)
            hit = 1;
        } else if (p[1] == '-' && p[2] && p[2] != ']') {
          if (*s >= p[0] && *s <= p[2])
            hit = 1;
          p += 2;
        } else if (*p == *s) {
          hit = 1;
        }
      }
      if (!*p || !*s || hit == neg)
        return 0;
      s++;
      break;
    }
    case '\\':
      if (p[1])
        p++;
      /* fall through */
    default:
      if (*p != *s)
        return 0;
      s++;
      break;
    }
  }
  return *s == 0;
}

static void push(pubsub_bus *b, event *e);

static void drain(uv_timer_t *t) {
  pubsub_bus *b = t->data;
  event *list = b->head, *e;
  b->head = b->tail = NULL;
  while (list) {
    e = list;
    list = e->next;
    if (e->kind == EV_MSG) {
      pubsub_stub *s;
      for (s = b->stubs; s; s = s->next) {
        size_t i;
        if (!s->up || s->closed || !s->h.message)
          continue;
        for (i = 0; i < s->nsubs && !s->closed; i++) {
          int kind = s->subs[i].kind;
          if (e->shard != (kind == SIO_PUBSUB_SHARD))
            continue;
          if (kind == SIO_PUBSUB_PATTERN
                  ? pubsub_glob_match(s->subs[i].name, e->channel)
                  : strcmp(s->subs[i].name, e->channel) == 0)
            s->h.message(s->ud,
                         kind == SIO_PUBSUB_PATTERN ? s->subs[i].name : NULL,
                         e->channel, e->data, e->len);
        }
      }
    } else if (e->kind == EV_COUNT) {
      if (e->cb && !e->to->closed) {
        int64_t n = 0;
        pubsub_stub *s;
        for (s = b->stubs; s; s = s->next) {
          size_t i;
          if (!s->up || s->closed)
            continue;
          for (i = 0; i < s->nsubs; i++)
            if (s->subs[i].kind ==
                    (e->shard ? SIO_PUBSUB_SHARD : SIO_PUBSUB_CHANNEL) &&
                strcmp(s->subs[i].name, e->channel) == 0)
              n++;
        }
        if (e->to->up)
          e->cb(e->ud, 0, n);
        else
          e->cb(e->ud, SIO_ERR_IO, 0);
      }
    } else if (e->kind == EV_STATE) {
      if (!e->to->closed && e->to->h.state)
        e->to->h.state(e->to->ud, e->state);
    }
    free(e->channel);
    free(e->data);
    free(e);
  }
}

static void push(pubsub_bus *b, event *e) {
  e->next = NULL;
  if (b->tail)
    b->tail->next = e;
  else
    b->head = e;
  b->tail = e;
  if (!b->closing)
    uv_timer_start(&b->timer, drain, 0, 0);
}

pubsub_bus *pubsub_bus_new(uv_loop_t *loop) {
  pubsub_bus *b = calloc(1, sizeof(*b));
  if (!b)
    return NULL;
  b->loop = loop;
  uv_timer_init(loop, &b->timer);
  b->timer.data = b;
  return b;
}

static void bus_closed(uv_handle_t *h) { free(h->data); }

void pubsub_bus_close(pubsub_bus *b) {
  event *e = b->head;
  b->closing = 1;
  while (e) {
    event *n = e->next;
    free(e->channel);
    free(e->data);
    free(e);
    e = n;
  }
  b->head = b->tail = NULL;
  uv_close((uv_handle_t *)&b->timer, bus_closed);
}

void pubsub_bus_tap(pubsub_bus *b,
                    void (*cb)(const char *channel, const uint8_t *data,
                               size_t len, void *ud),
                    void *ud) {
  b->tap = cb;
  b->tap_ud = ud;
}

static void bus_publish(pubsub_bus *b, const char *channel, const uint8_t *data,
                        size_t len, int shard) {
  event *e = calloc(1, sizeof(*e));
  if (b->tap)
    b->tap(channel, data, len, b->tap_ud);
  if (shard)
    b->spublished++;
  e->kind = EV_MSG;
  e->shard = shard;
  e->channel = strdup(channel);
  e->data = malloc(len ? len : 1);
  memcpy(e->data, data, len);
  e->len = len;
  push(b, e);
}

void pubsub_bus_publish(pubsub_bus *b, const char *channel, const uint8_t *data,
                        size_t len) {
  bus_publish(b, channel, data, len, 0);
}

void pubsub_bus_spublish(pubsub_bus *b, const char *channel,
                         const uint8_t *data, size_t len) {
  bus_publish(b, channel, data, len, 1);
}

uint64_t pubsub_bus_spublished(const pubsub_bus *b) { return b->spublished; }

int pubsub_stub_subscribed(const pubsub_stub *s, const char *name, int kind) {
  size_t i;
  for (i = 0; i < s->nsubs; i++)
    if (s->subs[i].kind == kind && strcmp(s->subs[i].name, name) == 0)
      return 1;
  return 0;
}

size_t pubsub_stub_count(const pubsub_stub *s, int kind) {
  size_t i, n = 0;
  for (i = 0; i < s->nsubs; i++)
    n += s->subs[i].kind == kind;
  return n;
}

pubsub_stub *pubsub_stub_new(pubsub_bus *b) {
  pubsub_stub *s = calloc(1, sizeof(*s));
  if (!s)
    return NULL;
  s->bus = b;
  s->up = 1;
  s->next = b->stubs;
  b->stubs = s;
  return s;
}

static void queue_state(pubsub_stub *s, int state) {
  event *e = calloc(1, sizeof(*e));
  e->kind = EV_STATE;
  e->to = s;
  e->state = state;
  push(s->bus, e);
}

void pubsub_stub_set_up(pubsub_stub *s, int up) {
  if (s->up == up)
    return;
  s->up = up;
  queue_state(s, up);
}

/* ------------------------------------------------------------------ ops */

static void op_set_handler(void *drv, const sio_pubsub_handler *h, void *ud) {
  pubsub_stub *s = drv;
  s->h = *h;
  s->ud = ud;
  queue_state(s, s->up);
}

static int op_subscribe(void *drv, const char *name, int kind) {
  pubsub_stub *s = drv;
  sub *n;
  if (kind != SIO_PUBSUB_CHANNEL && kind != SIO_PUBSUB_PATTERN &&
      kind != SIO_PUBSUB_SHARD)
    return SIO_ERR_UNSUPPORTED;
  if (pubsub_stub_subscribed(s, name, kind))
    return 0; /* one subscription, as Redis has it */
  n = realloc(s->subs, (s->nsubs + 1) * sizeof(*n));
  if (!n)
    return SIO_ERR_NOMEM;
  s->subs = n;
  s->subs[s->nsubs].name = strdup(name);
  s->subs[s->nsubs].kind = kind;
  s->nsubs++;
  s->subscribes++;
  return 0;
}

static int op_unsubscribe(void *drv, const char *name, int kind) {
  pubsub_stub *s = drv;
  size_t i;
  for (i = 0; i < s->nsubs; i++)
    if (s->subs[i].kind == kind && strcmp(s->subs[i].name, name) == 0) {
      free(s->subs[i].name);
      s->subs[i] = s->subs[--s->nsubs];
      s->unsubscribes++;
      return 0;
    }
  return 0;
}

static int op_publish(void *drv, const char *channel, const uint8_t *data,
                      size_t len) {
  pubsub_stub *s = drv;
  if (!s->up)
    return SIO_ERR_CLOSED;
  pubsub_bus_publish(s->bus, channel, data, len);
  return 0;
}

static int op_spublish(void *drv, const char *channel, const uint8_t *data,
                       size_t len) {
  pubsub_stub *s = drv;
  if (!s->up)
    return SIO_ERR_CLOSED;
  bus_publish(s->bus, channel, data, len, 1);
  return 0;
}

static int count_request(pubsub_stub *s, const char *channel,
                         sio_pubsub_count_cb cb, void *ud, int shard) {
  event *e;
  if (!s->up)
    return SIO_ERR_CLOSED;
  e = calloc(1, sizeof(*e));
  e->kind = EV_COUNT;
  e->shard = shard;
  e->to = s;
  e->channel = strdup(channel);
  e->cb = cb;
  e->ud = ud;
  push(s->bus, e);
  return 0;
}

static int op_numsub(void *drv, const char *channel, sio_pubsub_count_cb cb,
                     void *ud) {
  return count_request(drv, channel, cb, ud, 0);
}

static int op_shardnumsub(void *drv, const char *channel,
                          sio_pubsub_count_cb cb, void *ud) {
  return count_request(drv, channel, cb, ud, 1);
}

uint64_t pubsub_stub_unsubscribes(const pubsub_stub *s) {
  return s->unsubscribes;
}

static int op_ready(void *drv) { return ((pubsub_stub *)drv)->up; }

static void op_close(void *drv, void (*done)(void *arg), void *arg) {
  pubsub_stub *s = drv;
  pubsub_bus *b = s->bus;
  pubsub_stub **pp;
  event *e;
  size_t i;
  s->closed = 1;
  /* pending NUMSUB answers learn now */
  for (e = b->head; e; e = e->next)
    if (e->kind == EV_COUNT && e->to == s && e->cb) {
      sio_pubsub_count_cb cb = e->cb;
      e->cb = NULL;
      cb(e->ud, SIO_ERR_CANCELED, 0);
    }
  for (e = b->head; e; e = e->next)
    if (e->to == s)
      e->kind = EV_DEAD;
  for (pp = &b->stubs; *pp; pp = &(*pp)->next)
    if (*pp == s) {
      *pp = s->next;
      break;
    }
  for (i = 0; i < s->nsubs; i++)
    free(s->subs[i].name);
  free(s->subs);
  free(s);
  if (done)
    done(arg);
}

const sio_pubsub_ops pubsub_stub_ops = {
    .set_handler = op_set_handler,
    .subscribe = op_subscribe,
    .unsubscribe = op_unsubscribe,
    .publish = op_publish,
    .numsub = op_numsub,
    .spublish = op_spublish,
    .shardnumsub = op_shardnumsub,
    .ready = op_ready,
    .latency_us = NULL,
    .close = op_close,
};
