/* sio_echo: the server the upstream socket.io-protocol test suite expects.
 *
 * It is configured exactly as the "Test suite" section of the
 * socket.io-protocol README describes for the reference JavaScript server:
 *
 *   new Server(3000, { pingInterval: 300, pingTimeout: 200,
 *                      maxPayload: 1000000, connectTimeout: 1000,
 *                      cors: { origin: "*" } });
 *   io.on("connection", (socket) => {
 *     socket.emit("auth", socket.handshake.auth);
 *     socket.on("message", (...args) => socket.emit("message-back", ...args));
 *     socket.on("message-with-ack", (...args) => args.pop()(...args));
 *   });
 *   io.of("/custom").on("connection", (socket) => {
 *     socket.emit("auth", socket.handshake.auth);
 *   });
 *
 * Usage: sio_echo [port]. The port comes from argv[1], else the PORT
 * environment variable, else 3000; 0 picks a free one. The server listens on
 * 127.0.0.1 and, when IPv6 is available and the port is fixed, on [::1] too
 * (the suite connects to "localhost"). Once listening it prints
 * "LISTENING <port>" on stdout. SIGINT or SIGTERM closes it cleanly.
 * SIO_LOG_LEVEL (0 error .. 3 debug, default 1) sets libsio's log level;
 * logs go to stderr.
 *
 * It uses only the public API (<sio/sio.h>) and a libuv loop. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sio/sio.h>

#define DEFAULT_PORT 3000

typedef struct echo_app {
  uv_loop_t loop;
  sio_server *server;
  uv_signal_t sigint;
  uv_signal_t sigterm;
  int closing;
} echo_app;

static void log_to_stderr(int level, const char *msg, void *ud) {
  static const char *const names[] = {"error", "warn", "info", "debug"};
  (void)ud;
  if (level < 0 || level > SIO_LOG_DEBUG)
    level = SIO_LOG_DEBUG;
  fprintf(stderr, "sio_echo: %s: %s\n", names[level], msg);
}

/* Parses a port number; returns it or -1. */
static int parse_port(const char *text) {
  char *end = NULL;
  long v;

  if (text == NULL || *text == '\0')
    return -1;
  errno = 0;
  v = strtol(text, &end, 10);
  if (errno != 0 || *end != '\0' || v < 0 || v > 65535)
    return -1;
  return (int)v;
}

/* The auth payload of the CONNECT packet is only handed to the authorize
 * callback; keep a copy on the socket until the connection callback emits
 * it. The copy is freed there or, at the latest, on disconnect. */
static int on_authorize(sio_socket *s, json_object *auth, json_object **err,
                        void *ud) {
  json_object *copy = NULL;
  (void)err;
  (void)ud;

  if (auth != NULL && json_object_deep_copy(auth, &copy, NULL) != 0)
    return -1;
  if (copy == NULL)
    copy = json_object_new_object();
  if (copy == NULL)
    return -1;
  sio_socket_set_data(s, copy);
  return 0;
}

static void emit_auth(sio_socket *s) {
  json_object *auth = sio_socket_get_data(s);
  json_object *args = json_object_new_array();
  int rc;

  sio_socket_set_data(s, NULL);
  if (args == NULL) {
    json_object_put(auth);
    return;
  }
  if (auth == NULL)
    auth = json_object_new_object();
  if (auth != NULL)
    json_object_array_add(args, auth); /* takes ownership */
  rc = sio_socket_emit(s, "auth", args, NULL, 0);
  if (rc < 0)
    fprintf(stderr, "sio_echo: emit auth: %s\n", sio_strerror(rc));
  json_object_put(args);
}

static void on_connection(sio_socket *s, void *ud) {
  (void)ud;
  emit_auth(s);
}

static void on_disconnect(sio_socket *s, const char *reason, void *ud) {
  json_object *auth = sio_socket_get_data(s);
  (void)reason;
  (void)ud;

  sio_socket_set_data(s, NULL);
  json_object_put(auth);
}

/* "message" -> "message-back" with the same arguments, placeholders and
 * attachments included; "message-with-ack" -> ack with the same arguments.
 * Other events are ignored, as the reference server has no listener. */
static void on_event(sio_socket *s, const char *event, json_object *args,
                     const sio_bin *bins, size_t nbins, int64_t ack_id,
                     void *ud) {
  int rc = 0;
  (void)ud;

  if (strcmp(event, "message") == 0)
    rc = sio_socket_emit(s, "message-back", args, bins, nbins);
  else if (strcmp(event, "message-with-ack") == 0 && ack_id >= 0)
    rc = sio_socket_ack(s, ack_id, args, bins, nbins);
  if (rc < 0)
    fprintf(stderr, "sio_echo: reply to %s: %s\n", event, sio_strerror(rc));
}

static void on_server_closed(sio_server *s, void *ud) {
  echo_app *app = ud;
  (void)s;
  app->server = NULL;
}

static void on_signal(uv_signal_t *h, int signum) {
  echo_app *app = h->data;
  (void)signum;

  if (app->closing)
    return;
  app->closing = 1;
  uv_close((uv_handle_t *)&app->sigint, NULL);
  uv_close((uv_handle_t *)&app->sigterm, NULL);
  if (app->server != NULL)
    sio_server_close(app->server, on_server_closed, app);
}

static int setup(echo_app *app, int port) {
  static const sio_namespace_handlers main_handlers = {
      .on_authorize = on_authorize,
      .on_connection = on_connection,
      .on_event = on_event,
      .on_disconnect = on_disconnect,
  };
  static const sio_namespace_handlers custom_handlers = {
      .on_authorize = on_authorize,
      .on_connection = on_connection,
      .on_disconnect = on_disconnect,
  };
  sio_options *opts = NULL;
  sio_namespace *ns;
  char addr[64];
  int rc;

  rc = sio_options_new(&opts);
  if (rc < 0)
    goto fail;
  rc = sio_options_set_path(opts, "/socket.io/");
  if (rc < 0)
    goto fail_opts;
  sio_options_set_ping(opts, 300, 200);
  sio_options_set_max_payload(opts, 1000000);
  sio_options_set_connect_timeout(opts, 1000);
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

  ns = sio_server_of(app->server, "/");
  if (ns == NULL) {
    rc = SIO_ERR_NOMEM;
    goto fail;
  }
  sio_namespace_set_handlers(ns, &main_handlers, app);
  ns = sio_server_of(app->server, "/custom");
  if (ns == NULL) {
    rc = SIO_ERR_NOMEM;
    goto fail;
  }
  sio_namespace_set_handlers(ns, &custom_handlers, app);

  snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
  rc = sio_server_listen(app->server, addr);
  if (rc < 0) {
    fprintf(stderr, "sio_echo: listen on %s: %s\n", addr, sio_strerror(rc));
    goto fail;
  }
  port = sio_server_port(app->server, 0);
  if (port < 0) {
    rc = port;
    goto fail;
  }
  /* "localhost" may resolve to ::1 first; a missing IPv6 stack is fine. */
  snprintf(addr, sizeof(addr), "[::1]:%d", port);
  if (sio_server_listen(app->server, addr) < 0)
    fprintf(stderr, "sio_echo: not listening on %s\n", addr);
  printf("LISTENING %d\n", port);
  fflush(stdout);
  return 0;

fail_opts:
  sio_options_del(opts);
fail:
  fprintf(stderr, "sio_echo: setup: %s\n", sio_strerror(rc));
  return rc;
}

int main(int argc, char **argv) {
  echo_app app;
  const char *port_text;
  const char *level_text;
  int port = DEFAULT_PORT;
  int status = 0;

  memset(&app, 0, sizeof(app));
  port_text = argc > 1 ? argv[1] : getenv("PORT");
  if (port_text != NULL) {
    port = parse_port(port_text);
    if (port < 0) {
      fprintf(stderr, "usage: %s [port]\n", argv[0]);
      return 2;
    }
  }
  level_text = getenv("SIO_LOG_LEVEL");
  sio_set_log(log_to_stderr, NULL,
              level_text != NULL ? atoi(level_text) : SIO_LOG_WARN);
  signal(SIGPIPE, SIG_IGN);

  if (uv_loop_init(&app.loop) != 0) {
    fprintf(stderr, "sio_echo: uv_loop_init failed\n");
    return 1;
  }
  uv_signal_init(&app.loop, &app.sigint);
  uv_signal_init(&app.loop, &app.sigterm);
  app.sigint.data = &app;
  app.sigterm.data = &app;
  uv_signal_start(&app.sigint, on_signal, SIGINT);
  uv_signal_start(&app.sigterm, on_signal, SIGTERM);

  if (setup(&app, port) < 0) {
    status = 1;
    app.closing = 1;
    uv_close((uv_handle_t *)&app.sigint, NULL);
    uv_close((uv_handle_t *)&app.sigterm, NULL);
    if (app.server != NULL)
      sio_server_close(app.server, on_server_closed, &app);
  }

  uv_run(&app.loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&app.loop) != 0) {
    fprintf(stderr, "sio_echo: handles left open at exit\n");
    status = 1;
  }
  return status;
}
