/* sio_compat_server: the libsio server the compat/node mocha suites drive
 * with the stock socket.io-client. It uses only the public API.
 *
 * Usage: sio_compat_server [port]. The port comes from argv[1], else PORT,
 * else 0 (a free port). Once listening it prints "LISTENING <port>" on
 * stdout, which is how the test harness learns the port. SIGINT or SIGTERM
 * closes the server cleanly (clients see the reason "server shutting down").
 *
 * Environment:
 *   HOST                  listen address (default 127.0.0.1)
 *   SIO_MAX_PAYLOAD       maxPayload in bytes (default 1000000)
 *   SIO_PING_INTERVAL     pingInterval in ms (default 25000)
 *   SIO_PING_TIMEOUT      pingTimeout in ms (default 20000)
 *   SIO_CONNECT_TIMEOUT   connectTimeout in ms (default 45000)
 *   SIO_TRANSPORTS        "polling", "websocket" or both (default both)
 *   SIO_LOG_LEVEL         0 error .. 3 debug (default 1); logs go to stderr
 *   SIO_REDIS_URL         join a cluster on this Redis (redis://host:port,
 *                         unix:///path); "LISTENING" is printed only once
 *                         the adapter is connected
 *   SIO_REDIS_KEY         channel prefix (default "socket.io")
 *   SIO_SERVER_NAME       this server's name in cluster answers ("sio")
 *   SIO_RECOVERY          connection state recovery: the maximum
 *                         disconnection in ms (0 or unset: off)
 *
 * Handler contract (the same in the namespaces "/", "/admin" and
 * "/private"; a client event is named first, its arguments follow; "ack"
 * means the client asked for an acknowledgement):
 *
 *   connection      "/private" refuses unless auth.token == "secret", with
 *                   CONNECT_ERROR {"message":"unauthorized",
 *                   "data":{"code":"invalid_token"}}. On connection the
 *                   server emits "welcome" {id, nsp, auth, transport}; auth
 *                   is the CONNECT payload ({} when absent).
 *   "echo" ...args  emits "echo" back with the same args, binary
 *                   attachments included.
 *   "echo-ack" ...args, ack
 *                   answers the ack with the same args (binary included).
 *   "ask-me" {timeout, args}
 *                   emits "question" ...args asking the client for an ack
 *                   within timeout ms (0: none), then emits "answer"
 *                   {status, args}: status "ok" with the client's ack args
 *                   (binary included), or "timeout" with args null.
 *   "disconnect-me" {close} [ack]
 *                   answers the ack (if any) with true, then disconnects
 *                   the socket from the namespace; close: true closes the
 *                   whole Engine.IO session too.
 *   "join" room, ack        joins room; ack(true).
 *   "leave" room, ack       leaves room; ack(true if it was a member).
 *   "rooms" ack             ack([rooms...]), the socket's own id included.
 *   "broadcast" {event, args, rooms, except, excludeSelf, volatile}, ack
 *                   broadcasts event ...args in this namespace to rooms
 *                   (all sockets when empty) minus the except rooms (and
 *                   the sender with excludeSelf); ack(recipient count).
 *   "handshake" {query: [names], headers: [names]}, ack
 *                   ack({id, nsp, transport, address, auth,
 *                   query: {name: value|null}, headers: {name: value|null}}).
 *   "transport" ack         ack("polling" or "websocket").
 *   "count" ack             ack(number of sockets in the namespace).
 *
 * Cluster calls (they reach every server on the Redis with SIO_REDIS_URL,
 * this one only without it); {rooms, except} select sockets as for
 * "broadcast", local: true keeps a call on this server:
 *   "set-data" value, ack   the socket's JSON data (socket.data); ack(true).
 *   "fetch" {rooms, except, local}, ack
 *                   ack({status, sockets: [{id, rooms, data, local}]}).
 *   "sockets-join" {rooms, except, local, join: [names]}, ack
 *   "sockets-leave" {rooms, except, local, leave: [names]}, ack
 *   "disconnect-sockets" {rooms, except, local, close}, ack
 *                   ack(true) once sent.
 *   "all-rooms" ack         ack({status, rooms}).
 *   "server-count" ack      ack({status, count}).
 *   "server-side-emit" {event, args, ack}, ack
 *                   serverSideEmit(event, ...args) to the other servers;
 *                   with ack: true, ack({status, responses}), else
 *                   ack(true).
 *   "broadcast-ack" {event, args, rooms, except, timeout}, ack
 *                   broadcast asking each recipient for an ack;
 *                   ack({status, responses}).
 * A server-side event from another server is emitted to this server's
 * clients of that namespace as "server-event" {event, args}; when the
 * sender wants an acknowledgement it is answered with {from: <name>,
 * event, args}.
 *
 * Any other event is ignored; a malformed request is answered with
 * ack({"error": "..."}) when an ack was asked for. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sio/sio.h>

#define MAX_TARGETS 32

typedef struct compat_app {
  uv_loop_t loop;
  sio_server *server;
  uv_signal_t sigint;
  uv_signal_t sigterm;
  uv_timer_t ready_timer; /* waits for the Redis adapter */
  int port;
  int waited_ms;
  int closing;
} compat_app;

static const char *server_name = "sio";

/* What a socket keeps between its callbacks: the CONNECT payload. */
typedef struct compat_sock {
  json_object *auth;
} compat_sock;

static void log_to_stderr(int level, const char *msg, void *ud) {
  static const char *const names[] = {"error", "warn", "info", "debug"};
  (void)ud;
  if (level < 0 || level > SIO_LOG_DEBUG)
    level = SIO_LOG_DEBUG;
  fprintf(stderr, "sio_compat_server: %s: %s\n", names[level], msg);
}

/* Reads a non-negative integer from the environment variable name.
 * Returns 1 and stores it, 0 when unset, -1 when malformed. */
static int env_number(const char *name, unsigned long max, unsigned long *out) {
  const char *text = getenv(name);
  char *end = NULL;
  unsigned long v;

  if (text == NULL || *text == '\0')
    return 0;
  errno = 0;
  v = strtoul(text, &end, 10);
  if (errno != 0 || *end != '\0' || text[0] == '-' || v > max) {
    fprintf(stderr, "sio_compat_server: bad %s=%s\n", name, text);
    return -1;
  }
  *out = v;
  return 1;
}

/* ------------------------------------------------------------- helpers */

static json_object *new_args1(json_object *value) {
  json_object *args = json_object_new_array();

  if (args == NULL) {
    json_object_put(value);
    return NULL;
  }
  json_object_array_add(args, value); /* takes ownership, NULL is null */
  return args;
}

static void report(const char *what, int rc) {
  if (rc < 0)
    fprintf(stderr, "sio_compat_server: %s: %s\n", what, sio_strerror(rc));
}

/* Answers ack_id (when >= 0) with the single value (takes ownership). */
static void ack_value(sio_socket *s, int64_t ack_id, json_object *value) {
  json_object *args;

  if (ack_id < 0) {
    json_object_put(value);
    return;
  }
  args = new_args1(value);
  if (args == NULL)
    return;
  report("ack", sio_socket_ack(s, ack_id, args, NULL, 0));
  json_object_put(args);
}

static void ack_error(sio_socket *s, int64_t ack_id, const char *msg) {
  json_object *o = json_object_new_object();

  if (o != NULL)
    json_object_object_add(o, "error", json_object_new_string(msg));
  ack_value(s, ack_id, o);
}

/* The first argument if it is an object, else NULL (borrowed). */
static json_object *first_object(json_object *args) {
  json_object *a;

  if (args == NULL || json_object_array_length(args) < 1)
    return NULL;
  a = json_object_array_get_idx(args, 0);
  return json_object_is_type(a, json_type_object) ? a : NULL;
}

/* The first argument if it is a string, else NULL (borrowed). */
static const char *first_string(json_object *args) {
  json_object *a;

  if (args == NULL || json_object_array_length(args) < 1)
    return NULL;
  a = json_object_array_get_idx(args, 0);
  return json_object_is_type(a, json_type_string) ? json_object_get_string(a)
                                                  : NULL;
}

/* Collects a string or an array of strings into names[] (borrowed from v).
 * Returns the count or -1 when v has another shape or too many entries. */
static int string_list(json_object *v, const char **names, size_t cap) {
  size_t i, n;

  if (v == NULL)
    return 0;
  if (json_object_is_type(v, json_type_string)) {
    names[0] = json_object_get_string(v);
    return 1;
  }
  if (!json_object_is_type(v, json_type_array))
    return -1;
  n = json_object_array_length(v);
  if (n > cap)
    return -1;
  for (i = 0; i < n; i++) {
    json_object *e = json_object_array_get_idx(v, i);
    if (!json_object_is_type(e, json_type_string))
      return -1;
    names[i] = json_object_get_string(e);
  }
  return (int)n;
}

static json_object *string_or_null(const char *s) {
  return s != NULL ? json_object_new_string(s) : NULL;
}

static json_object *auth_of(sio_socket *s) {
  compat_sock *cs = sio_socket_get_data(s);

  if (cs != NULL && cs->auth != NULL)
    return json_object_get(cs->auth);
  return json_object_new_object();
}

/* ----------------------------------------------------------- connection */

static int on_authorize(sio_socket *s, json_object *auth, json_object **err,
                        void *ud) {
  const char *nsp = sio_namespace_name(sio_socket_namespace(s));
  compat_sock *cs;
  (void)ud;

  if (strcmp(nsp, "/private") == 0) {
    json_object *token = NULL;
    if (auth == NULL || !json_object_is_type(auth, json_type_object) ||
        !json_object_object_get_ex(auth, "token", &token) ||
        !json_object_is_type(token, json_type_string) ||
        strcmp(json_object_get_string(token), "secret") != 0) {
      json_object *e = json_object_new_object();
      json_object *data = json_object_new_object();
      if (e != NULL && data != NULL) {
        json_object_object_add(data, "code",
                               json_object_new_string("invalid_token"));
        json_object_object_add(e, "message",
                               json_object_new_string("unauthorized"));
        json_object_object_add(e, "data", data);
        *err = e;
      } else {
        json_object_put(e);
        json_object_put(data);
      }
      return -1;
    }
  }

  cs = calloc(1, sizeof(*cs));
  if (cs == NULL)
    return -1;
  if (auth != NULL && json_object_deep_copy(auth, &cs->auth, NULL) != 0) {
    free(cs);
    return -1;
  }
  sio_socket_set_data(s, cs);
  return 0;
}

static void on_connection(sio_socket *s, void *ud) {
  json_object *o = json_object_new_object();
  json_object *args;
  (void)ud;

  if (o == NULL)
    return;
  json_object_object_add(o, "id", json_object_new_string(sio_socket_id(s)));
  json_object_object_add(
      o, "nsp",
      json_object_new_string(sio_namespace_name(sio_socket_namespace(s))));
  json_object_object_add(o, "auth", auth_of(s));
  json_object_object_add(o, "transport",
                         string_or_null(sio_socket_transport(s)));
  json_object_object_add(o, "recovered",
                         json_object_new_boolean(sio_socket_recovered(s)));
  args = new_args1(o);
  if (args == NULL)
    return;
  report("emit welcome", sio_socket_emit(s, "welcome", args, NULL, 0));
  json_object_put(args);
}

static void on_disconnect(sio_socket *s, const char *reason, void *ud) {
  compat_sock *cs = sio_socket_get_data(s);
  (void)reason;
  (void)ud;

  sio_socket_set_data(s, NULL);
  if (cs != NULL) {
    json_object_put(cs->auth);
    free(cs);
  }
}

/* -------------------------------------------------------------- ask-me */

static void on_answer(sio_socket *s, int status, json_object *args,
                      const sio_bin *bins, size_t nbins, void *ud) {
  json_object *o, *out;
  const char *name;
  (void)ud;

  if (status == SIO_ERR_CANCELED || !sio_socket_connected(s))
    return;
  if (status == 0)
    name = "ok";
  else if (status == SIO_ERR_TIMEOUT)
    name = "timeout";
  else
    name = sio_err_name(status);
  o = json_object_new_object();
  if (o == NULL)
    return;
  json_object_object_add(o, "status", json_object_new_string(name));
  json_object_object_add(
      o, "args", status == 0 && args != NULL ? json_object_get(args) : NULL);
  out = new_args1(o);
  if (out == NULL)
    return;
  /* The client's placeholders index bins: pass them through unchanged. */
  report("emit answer",
         sio_socket_emit(s, "answer", out, status == 0 ? bins : NULL,
                         status == 0 ? nbins : 0));
  json_object_put(out);
}

static void handle_ask_me(sio_socket *s, json_object *args, const sio_bin *bins,
                          size_t nbins, int64_t ack_id) {
  json_object *req = first_object(args);
  json_object *timeout = NULL, *qargs = NULL, *empty = NULL;
  int64_t ms = 0;
  int rc;

  if (req == NULL) {
    ack_error(s, ack_id, "ask-me wants {timeout, args}");
    return;
  }
  if (json_object_object_get_ex(req, "timeout", &timeout))
    ms = json_object_get_int64(timeout);
  if (ms < 0 || ms > 600000) {
    ack_error(s, ack_id, "bad timeout");
    return;
  }
  if (!json_object_object_get_ex(req, "args", &qargs) ||
      !json_object_is_type(qargs, json_type_array)) {
    empty = json_object_new_array();
    qargs = empty;
  }
  rc = sio_socket_emit_ack(s, "question", qargs, bins, nbins, (uint32_t)ms,
                           on_answer, NULL);
  report("emit question", rc);
  json_object_put(empty);
  ack_value(s, ack_id, json_object_new_boolean(rc == 0));
}

/* ---------------------------------------------------------------- rooms */

static void add_room(const char *room, void *ud) {
  json_object_array_add(ud, json_object_new_string(room));
}

static void handle_broadcast(sio_socket *s, json_object *args,
                             const sio_bin *bins, size_t nbins,
                             int64_t ack_id) {
  json_object *req = first_object(args);
  json_object *v = NULL, *bargs = NULL;
  const char *rooms[MAX_TARGETS], *except[MAX_TARGETS + 1];
  const char *event = "broadcast";
  sio_broadcast_opts o;
  int nrooms = 0, nexcept = 0, rc;

  if (req == NULL) {
    ack_error(s, ack_id, "broadcast wants an object");
    return;
  }
  if (json_object_object_get_ex(req, "event", &v)) {
    if (!json_object_is_type(v, json_type_string)) {
      ack_error(s, ack_id, "bad event");
      return;
    }
    event = json_object_get_string(v);
  }
  if (json_object_object_get_ex(req, "rooms", &v))
    nrooms = string_list(v, rooms, MAX_TARGETS);
  if (json_object_object_get_ex(req, "except", &v))
    nexcept = string_list(v, except, MAX_TARGETS);
  if (nrooms < 0 || nexcept < 0) {
    ack_error(s, ack_id, "bad rooms or except");
    return;
  }
  if (json_object_object_get_ex(req, "excludeSelf", &v) &&
      json_object_get_boolean(v))
    except[nexcept++] = sio_socket_id(s);
  if (json_object_object_get_ex(req, "args", &bargs) &&
      !json_object_is_type(bargs, json_type_array)) {
    ack_error(s, ack_id, "bad args");
    return;
  }

  memset(&o, 0, sizeof(o));
  o.rooms = rooms;
  o.nrooms = (size_t)nrooms;
  o.except = except;
  o.nexcept = (size_t)nexcept;
  if (json_object_object_get_ex(req, "volatile", &v) &&
      json_object_get_boolean(v))
    o.flags |= SIO_BCAST_VOLATILE;
  rc = sio_namespace_broadcast(sio_socket_namespace(s), &o, event, bargs, bins,
                               nbins);
  if (rc < 0) {
    report("broadcast", rc);
    ack_error(s, ack_id, sio_err_name(rc));
    return;
  }
  ack_value(s, ack_id, json_object_new_int(rc));
}

/* ------------------------------------------------------------ handshake */

static json_object *lookup_all(sio_socket *s, json_object *names,
                               const char *(*get)(const sio_socket *,
                                                  const char *)) {
  json_object *o = json_object_new_object();
  const char *list[MAX_TARGETS];
  int i, n;

  if (o == NULL)
    return NULL;
  n = string_list(names, list, MAX_TARGETS);
  for (i = 0; i < n; i++)
    json_object_object_add(o, list[i], string_or_null(get(s, list[i])));
  return o;
}

static void handle_handshake(sio_socket *s, json_object *args, int64_t ack_id) {
  json_object *req = first_object(args);
  json_object *query = NULL, *headers = NULL;
  json_object *o = json_object_new_object();

  if (o == NULL)
    return;
  if (req != NULL) {
    json_object_object_get_ex(req, "query", &query);
    json_object_object_get_ex(req, "headers", &headers);
  }
  json_object_object_add(o, "id", json_object_new_string(sio_socket_id(s)));
  json_object_object_add(
      o, "nsp",
      json_object_new_string(sio_namespace_name(sio_socket_namespace(s))));
  json_object_object_add(o, "transport",
                         string_or_null(sio_socket_transport(s)));
  json_object_object_add(o, "address",
                         string_or_null(sio_socket_remote_addr(s)));
  json_object_object_add(o, "auth", auth_of(s));
  json_object_object_add(o, "query", lookup_all(s, query, sio_socket_query));
  json_object_object_add(o, "headers",
                         lookup_all(s, headers, sio_socket_header));
  ack_value(s, ack_id, o);
}

/* -------------------------------------------------------------- cluster */

/* The {rooms, except, local} selection of a request; the name arrays must
 * hold MAX_TARGETS entries. Returns 0 or -1 (bad shape). */
static int selection(json_object *req, const char **rooms, const char **except,
                     sio_broadcast_opts *o) {
  json_object *v = NULL;
  int nrooms = 0, nexcept = 0;

  memset(o, 0, sizeof(*o));
  if (req != NULL && json_object_object_get_ex(req, "rooms", &v))
    nrooms = string_list(v, rooms, MAX_TARGETS);
  if (req != NULL && json_object_object_get_ex(req, "except", &v))
    nexcept = string_list(v, except, MAX_TARGETS);
  if (nrooms < 0 || nexcept < 0)
    return -1;
  o->rooms = rooms;
  o->nrooms = (size_t)nrooms;
  o->except = except;
  o->nexcept = (size_t)nexcept;
  if (req != NULL && json_object_object_get_ex(req, "local", &v) &&
      json_object_get_boolean(v))
    o->flags |= SIO_BCAST_LOCAL;
  return 0;
}

/* A pending cluster call remembers whom to answer. */
typedef struct reply_to {
  sio_socket *s;
  int64_t ack_id;
} reply_to;

static reply_to *reply_new(sio_socket *s, int64_t ack_id) {
  reply_to *r = malloc(sizeof(*r));

  if (r != NULL) {
    r->s = s;
    r->ack_id = ack_id;
    sio_socket_ref(s);
  }
  return r;
}

/* Answers {status: <name or "ok">, <field>: value} and frees r. */
static void reply_done(reply_to *r, int status, const char *field,
                       json_object *value) {
  json_object *o = json_object_new_object();

  if (o != NULL) {
    json_object_object_add(
        o, "status",
        json_object_new_string(status == 0 ? "ok" : sio_err_name(status)));
    json_object_object_add(o, field, value);
    value = NULL;
    if (sio_socket_connected(r->s))
      ack_value(r->s, r->ack_id, o);
    else
      json_object_put(o);
  }
  json_object_put(value);
  sio_socket_unref(r->s);
  free(r);
}

static void on_fetched(sio_namespace *ns, int status,
                       const sio_socket_info *socks, size_t n, void *ud) {
  json_object *list = json_object_new_array();
  size_t i, k;
  (void)ns;

  for (i = 0; list != NULL && i < n; i++) {
    json_object *o = json_object_new_object(), *rooms;
    if (o == NULL)
      break;
    json_object_object_add(o, "id", json_object_new_string(socks[i].id));
    rooms = json_object_new_array();
    for (k = 0; rooms != NULL && k < socks[i].nrooms; k++)
      json_object_array_add(rooms, json_object_new_string(socks[i].rooms[k]));
    json_object_object_add(o, "rooms", rooms);
    json_object_object_add(o, "data", json_object_get(socks[i].data));
    json_object_object_add(o, "local",
                           json_object_new_boolean(socks[i].local != NULL));
    json_object_array_add(list, o);
  }
  reply_done(ud, status, "sockets", list);
}

static void on_all_rooms(sio_namespace *ns, int status,
                         const char *const *rooms, size_t n, void *ud) {
  json_object *list = json_object_new_array();
  size_t i;
  (void)ns;

  for (i = 0; list != NULL && i < n; i++)
    json_object_array_add(list, json_object_new_string(rooms[i]));
  reply_done(ud, status, "rooms", list);
}

static void on_count(sio_namespace *ns, int status, size_t count, void *ud) {
  (void)ns;
  reply_done(ud, status, "count", json_object_new_int64((int64_t)count));
}

static void on_server_acks(sio_namespace *ns, int status,
                           json_object *responses, void *ud) {
  (void)ns;
  reply_done(ud, status, "responses", json_object_get(responses));
}

static void on_broadcast_acks(sio_namespace *ns, int status,
                              json_object *responses, const sio_bin *bins,
                              size_t nbins, void *ud) {
  (void)ns;
  (void)bins;
  (void)nbins;
  reply_done(ud, status, "responses", json_object_get(responses));
}

/* Starts an asynchronous cluster call; answers an error when it fails. */
static void start_call(sio_socket *s, int64_t ack_id, const char *what,
                       int (*call)(sio_namespace *, json_object *, reply_to *),
                       json_object *req) {
  reply_to *r = reply_new(s, ack_id);
  int rc;

  if (r == NULL)
    return;
  rc = call(sio_socket_namespace(s), req, r);
  if (rc < 0) {
    report(what, rc);
    sio_socket_unref(s);
    free(r);
    ack_error(s, ack_id, sio_err_name(rc));
  }
}

static int call_fetch(sio_namespace *ns, json_object *req, reply_to *r) {
  const char *rooms[MAX_TARGETS], *except[MAX_TARGETS];
  sio_broadcast_opts o;

  if (selection(req, rooms, except, &o) < 0)
    return SIO_ERR_INVAL;
  return sio_namespace_fetch_sockets(ns, &o, on_fetched, r);
}

static int call_all_rooms(sio_namespace *ns, json_object *req, reply_to *r) {
  (void)req;
  return sio_namespace_all_rooms(ns, on_all_rooms, r);
}

static int call_count(sio_namespace *ns, json_object *req, reply_to *r) {
  (void)req;
  return sio_namespace_server_count(ns, on_count, r);
}

static int call_server_side_emit(sio_namespace *ns, json_object *req,
                                 reply_to *r) {
  json_object *v = NULL, *args = NULL;

  if (req == NULL || !json_object_object_get_ex(req, "event", &v) ||
      !json_object_is_type(v, json_type_string))
    return SIO_ERR_INVAL;
  json_object_object_get_ex(req, "args", &args);
  return sio_namespace_server_side_emit(ns, json_object_get_string(v), args,
                                        on_server_acks, r);
}

static int call_broadcast_ack(sio_namespace *ns, json_object *req,
                              reply_to *r) {
  const char *rooms[MAX_TARGETS], *except[MAX_TARGETS];
  json_object *v = NULL, *args = NULL;
  sio_broadcast_opts o;
  int64_t timeout = 2000;

  if (req == NULL || selection(req, rooms, except, &o) < 0 ||
      !json_object_object_get_ex(req, "event", &v) ||
      !json_object_is_type(v, json_type_string))
    return SIO_ERR_INVAL;
  json_object_object_get_ex(req, "args", &args);
  if (json_object_object_get_ex(req, "timeout", &v))
    timeout = json_object_get_int64(v);
  if (timeout <= 0 || timeout > 600000)
    return SIO_ERR_INVAL;
  json_object_object_get_ex(req, "event", &v);
  return sio_namespace_broadcast_ack(ns, &o, json_object_get_string(v), args,
                                     NULL, 0, (uint32_t)timeout,
                                     on_broadcast_acks, r);
}

static void handle_rooms_op(sio_socket *s, json_object *args, int64_t ack_id,
                            int leave) {
  json_object *req = first_object(args), *v = NULL;
  const char *rooms[MAX_TARGETS], *except[MAX_TARGETS], *names[MAX_TARGETS];
  sio_broadcast_opts o;
  int n = -1, rc;

  if (req != NULL && selection(req, rooms, except, &o) == 0 &&
      json_object_object_get_ex(req, leave ? "leave" : "join", &v))
    n = string_list(v, names, MAX_TARGETS);
  if (n < 0) {
    ack_error(s, ack_id, "wants {rooms, except, join|leave: [names]}");
    return;
  }
  rc = leave ? sio_namespace_sockets_leave(sio_socket_namespace(s), &o, names,
                                           (size_t)n)
             : sio_namespace_sockets_join(sio_socket_namespace(s), &o, names,
                                          (size_t)n);
  report(leave ? "sockets-leave" : "sockets-join", rc);
  ack_value(s, ack_id, json_object_new_boolean(rc == 0));
}

static void handle_disconnect_sockets(sio_socket *s, json_object *args,
                                      int64_t ack_id) {
  json_object *req = first_object(args), *v = NULL;
  const char *rooms[MAX_TARGETS], *except[MAX_TARGETS];
  sio_broadcast_opts o;
  int close = 0, rc;

  if (selection(req, rooms, except, &o) < 0) {
    ack_error(s, ack_id, "bad selection");
    return;
  }
  if (req != NULL && json_object_object_get_ex(req, "close", &v))
    close = json_object_get_boolean(v);
  /* answer first: the caller may be one of the sockets disconnected */
  ack_value(s, ack_id, json_object_new_boolean(1));
  rc = sio_namespace_disconnect_sockets(sio_socket_namespace(s), &o, close);
  report("disconnect-sockets", rc);
}

/* Another server's serverSideEmit: shown to this server's clients. */
static int on_server_event(sio_namespace *ns, const char *event,
                           json_object *args, json_object **ack, void *ud) {
  json_object *o = json_object_new_object(), *out;
  (void)ud;

  if (o == NULL)
    return 0;
  json_object_object_add(o, "event", json_object_new_string(event));
  json_object_object_add(o, "args", json_object_get(args));
  out = new_args1(o);
  if (out != NULL) {
    report("broadcast server-event",
           sio_namespace_broadcast(
               ns, &(sio_broadcast_opts){NULL, 0, NULL, 0, SIO_BCAST_LOCAL},
               "server-event", out, NULL, 0));
    json_object_put(out);
  }
  if (ack == NULL)
    return 0;
  o = json_object_new_object();
  if (o == NULL)
    return 0;
  json_object_object_add(o, "from", json_object_new_string(server_name));
  json_object_object_add(o, "event", json_object_new_string(event));
  json_object_object_add(o, "args", json_object_get(args));
  *ack = o;
  return 1;
}

/* --------------------------------------------------------------- events */

static void on_event(sio_socket *s, const char *event, json_object *args,
                     const sio_bin *bins, size_t nbins, int64_t ack_id,
                     void *ud) {
  (void)ud;

  if (strcmp(event, "echo") == 0) {
    report("emit echo", sio_socket_emit(s, "echo", args, bins, nbins));
  } else if (strcmp(event, "echo-ack") == 0) {
    if (ack_id >= 0)
      report("ack echo-ack", sio_socket_ack(s, ack_id, args, bins, nbins));
  } else if (strcmp(event, "ask-me") == 0) {
    handle_ask_me(s, args, bins, nbins, ack_id);
  } else if (strcmp(event, "disconnect-me") == 0) {
    json_object *req = first_object(args);
    json_object *close = NULL;
    int close_transport = 0;
    if (req != NULL && json_object_object_get_ex(req, "close", &close))
      close_transport = json_object_get_boolean(close);
    ack_value(s, ack_id, json_object_new_boolean(1));
    sio_socket_disconnect(s, close_transport);
  } else if (strcmp(event, "join") == 0) {
    const char *room = first_string(args);
    if (room == NULL) {
      ack_error(s, ack_id, "join wants a room name");
      return;
    }
    report("join", sio_socket_join(s, room));
    ack_value(s, ack_id, json_object_new_boolean(sio_socket_in_room(s, room)));
  } else if (strcmp(event, "leave") == 0) {
    const char *room = first_string(args);
    if (room == NULL) {
      ack_error(s, ack_id, "leave wants a room name");
      return;
    }
    ack_value(s, ack_id,
              json_object_new_boolean(sio_socket_leave(s, room) == 0));
  } else if (strcmp(event, "rooms") == 0) {
    json_object *list = json_object_new_array();
    if (list != NULL)
      sio_socket_rooms(s, add_room, list);
    ack_value(s, ack_id, list);
  } else if (strcmp(event, "broadcast") == 0) {
    handle_broadcast(s, args, bins, nbins, ack_id);
  } else if (strcmp(event, "handshake") == 0) {
    handle_handshake(s, args, ack_id);
  } else if (strcmp(event, "transport") == 0) {
    ack_value(s, ack_id, string_or_null(sio_socket_transport(s)));
  } else if (strcmp(event, "count") == 0) {
    ack_value(s, ack_id,
              json_object_new_int64((int64_t)sio_namespace_socket_count(
                  sio_socket_namespace(s))));
  } else if (strcmp(event, "set-data") == 0) {
    json_object *v = args != NULL && json_object_array_length(args) > 0
                         ? json_object_array_get_idx(args, 0)
                         : NULL;
    json_object *copy = NULL;
    if (v != NULL && json_object_deep_copy(v, &copy, NULL) != 0)
      copy = NULL;
    sio_socket_set_json_data(s, copy);
    ack_value(s, ack_id, json_object_new_boolean(1));
  } else if (strcmp(event, "fetch") == 0) {
    start_call(s, ack_id, "fetch", call_fetch, first_object(args));
  } else if (strcmp(event, "all-rooms") == 0) {
    start_call(s, ack_id, "all-rooms", call_all_rooms, NULL);
  } else if (strcmp(event, "server-count") == 0) {
    start_call(s, ack_id, "server-count", call_count, NULL);
  } else if (strcmp(event, "server-side-emit") == 0) {
    json_object *req = first_object(args), *v = NULL;
    if (req != NULL && json_object_object_get_ex(req, "ack", &v) &&
        json_object_get_boolean(v)) {
      start_call(s, ack_id, "server-side-emit", call_server_side_emit, req);
    } else {
      json_object *ev = NULL, *eargs = NULL;
      int rc = SIO_ERR_INVAL;
      if (req != NULL && json_object_object_get_ex(req, "event", &ev) &&
          json_object_is_type(ev, json_type_string)) {
        json_object_object_get_ex(req, "args", &eargs);
        rc = sio_namespace_server_side_emit(sio_socket_namespace(s),
                                            json_object_get_string(ev), eargs,
                                            NULL, NULL);
      }
      report("server-side-emit", rc);
      ack_value(s, ack_id, json_object_new_boolean(rc == 0));
    }
  } else if (strcmp(event, "broadcast-ack") == 0) {
    start_call(s, ack_id, "broadcast-ack", call_broadcast_ack,
               first_object(args));
  } else if (strcmp(event, "sockets-join") == 0) {
    handle_rooms_op(s, args, ack_id, 0);
  } else if (strcmp(event, "sockets-leave") == 0) {
    handle_rooms_op(s, args, ack_id, 1);
  } else if (strcmp(event, "disconnect-sockets") == 0) {
    handle_disconnect_sockets(s, args, ack_id);
  }
}

/* ---------------------------------------------------------------- setup */

static void on_server_closed(sio_server *s, void *ud) {
  compat_app *app = ud;
  (void)s;
  app->server = NULL;
}

static void on_signal(uv_signal_t *h, int signum) {
  compat_app *app = h->data;
  (void)signum;

  if (app->closing)
    return;
  app->closing = 1;
  uv_close((uv_handle_t *)&app->sigint, NULL);
  uv_close((uv_handle_t *)&app->sigterm, NULL);
  if (app->server != NULL)
    sio_server_close(app->server, on_server_closed, app);
}

static void print_listening(compat_app *app) {
  printf("LISTENING %d\n", app->port);
  fflush(stdout);
}

static void wait_ready(uv_timer_t *t) {
  compat_app *app = t->data;

  app->waited_ms += 10;
  if (app->server != NULL && !sio_server_redis_connected(app->server) &&
      app->waited_ms < 10000)
    return;
  uv_close((uv_handle_t *)t, NULL);
  if (app->server != NULL && sio_server_redis_connected(app->server))
    print_listening(app);
  else
    fprintf(stderr, "sio_compat_server: Redis not reachable in 10 s\n");
}

static int apply_env(sio_options *o) {
  unsigned long v, interval = 25000, timeout = 20000;
  const char *transports = getenv("SIO_TRANSPORTS");
  int r, rc;

  r = env_number("SIO_MAX_PAYLOAD", 1UL << 30, &v);
  if (r < 0)
    return SIO_ERR_INVAL;
  if (r > 0)
    sio_options_set_max_payload(o, v);
  if (env_number("SIO_PING_INTERVAL", 3600000, &interval) < 0 ||
      env_number("SIO_PING_TIMEOUT", 3600000, &timeout) < 0)
    return SIO_ERR_INVAL;
  sio_options_set_ping(o, (uint32_t)interval, (uint32_t)timeout);
  r = env_number("SIO_RECOVERY", 86400000, &v);
  if (r < 0)
    return SIO_ERR_INVAL;
  if (r > 0 && v > 0)
    sio_options_set_recovery(o, 1, (uint32_t)v);
  r = env_number("SIO_CONNECT_TIMEOUT", 3600000, &v);
  if (r < 0)
    return SIO_ERR_INVAL;
  if (r > 0)
    sio_options_set_connect_timeout(o, (uint32_t)v);
  if (transports != NULL && *transports != '\0') {
    int mask = 0;
    if (strstr(transports, "polling") != NULL)
      mask |= SIO_TRANSPORT_POLLING;
    if (strstr(transports, "websocket") != NULL)
      mask |= SIO_TRANSPORT_WEBSOCKET;
    rc = sio_options_set_transports(o, mask);
    if (rc < 0)
      return rc;
  }
  return 0;
}

static int setup(compat_app *app, const char *host, int port) {
  static const char *const names[] = {"/", "/admin", "/private"};
  static const sio_namespace_handlers handlers = {
      .on_authorize = on_authorize,
      .on_connection = on_connection,
      .on_event = on_event,
      .on_disconnect = on_disconnect,
  };
  sio_options *opts = NULL;
  const char *redis_url;
  char addr[320];
  size_t i;
  int rc;

  rc = sio_options_new(&opts);
  if (rc < 0)
    goto fail;
  rc = apply_env(opts);
  if (rc < 0)
    goto fail_opts;
  rc = sio_options_set_cors(opts, "*", 0);
  if (rc < 0)
    goto fail_opts;
  rc = sio_server_new(&app->server, &app->loop, opts);
  if (rc < 0) {
    app->server = NULL;
    goto fail_opts;
  }
  sio_options_del(opts);
  opts = NULL;

  for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    sio_namespace *ns = sio_server_of(app->server, names[i]);
    if (ns == NULL) {
      rc = SIO_ERR_NOMEM;
      goto fail;
    }
    sio_namespace_set_handlers(ns, &handlers, app);
    sio_namespace_on_server_event(ns, on_server_event, app);
  }
  redis_url = getenv("SIO_REDIS_URL");
  if (redis_url != NULL && *redis_url != '\0') {
    rc = sio_server_use_redis(app->server, redis_url, getenv("SIO_REDIS_KEY"));
    if (rc < 0) {
      fprintf(stderr, "sio_compat_server: redis %s: %s\n", redis_url,
              sio_strerror(rc));
      goto fail;
    }
  }

  if (strchr(host, ':') != NULL)
    snprintf(addr, sizeof(addr), "[%s]:%d", host, port);
  else
    snprintf(addr, sizeof(addr), "%s:%d", host, port);
  rc = sio_server_listen(app->server, addr);
  if (rc < 0) {
    fprintf(stderr, "sio_compat_server: listen on %s: %s\n", addr,
            sio_strerror(rc));
    goto fail;
  }
  port = sio_server_port(app->server, 0);
  if (port < 0) {
    rc = port;
    goto fail;
  }
  app->port = port;
  if (redis_url != NULL && *redis_url != '\0') {
    /* the harness may start talking at once: be in the cluster first */
    uv_timer_init(&app->loop, &app->ready_timer);
    app->ready_timer.data = app;
    uv_timer_start(&app->ready_timer, wait_ready, 10, 10);
    return 0;
  }
  print_listening(app);
  return 0;

fail_opts:
  sio_options_del(opts);
fail:
  fprintf(stderr, "sio_compat_server: setup: %s\n", sio_strerror(rc));
  return rc;
}

int main(int argc, char **argv) {
  compat_app app;
  const char *port_text = argc > 1 ? argv[1] : getenv("PORT");
  const char *host = getenv("HOST");
  unsigned long level = SIO_LOG_WARN;
  int port = 0;
  int status = 0;

  if (port_text != NULL && *port_text != '\0') {
    char *end = NULL;
    long v;
    errno = 0;
    v = strtol(port_text, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > 65535) {
      fprintf(stderr, "usage: %s [port]\n", argv[0]);
      return 2;
    }
    port = (int)v;
  }
  if (host == NULL || *host == '\0')
    host = "127.0.0.1";
  if (getenv("SIO_SERVER_NAME") != NULL && *getenv("SIO_SERVER_NAME"))
    server_name = getenv("SIO_SERVER_NAME");
  if (env_number("SIO_LOG_LEVEL", SIO_LOG_DEBUG, &level) < 0)
    return 2;
  sio_set_log(log_to_stderr, NULL, (int)level);
  signal(SIGPIPE, SIG_IGN);

  memset(&app, 0, sizeof(app));
  if (uv_loop_init(&app.loop) != 0) {
    fprintf(stderr, "sio_compat_server: uv_loop_init failed\n");
    return 1;
  }
  uv_signal_init(&app.loop, &app.sigint);
  uv_signal_init(&app.loop, &app.sigterm);
  app.sigint.data = &app;
  app.sigterm.data = &app;
  uv_signal_start(&app.sigint, on_signal, SIGINT);
  uv_signal_start(&app.sigterm, on_signal, SIGTERM);

  if (setup(&app, host, port) < 0) {
    status = 1;
    app.closing = 1;
    uv_close((uv_handle_t *)&app.sigint, NULL);
    uv_close((uv_handle_t *)&app.sigterm, NULL);
    if (app.server != NULL)
      sio_server_close(app.server, on_server_closed, &app);
  }

  uv_run(&app.loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&app.loop) != 0) {
    fprintf(stderr, "sio_compat_server: handles left open at exit\n");
    status = 1;
  }
  return status;
}
