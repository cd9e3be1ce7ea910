/* history_cost: what replay's room history costs on the publish path
 * (docs/performance.md, issue 11 item 4), through the public API only.
 *
 *   bench/history_cost [broadcasts] [rooms] [redis-url]
 *
 * Broadcasts the daemon's kind of event (an envelope with an event_id and
 * a small data object) to one of `rooms` rooms in turn, first on a
 * namespace without history, then on one with it (the defaults: 1000
 * events per room, 300 s), and prints the CPU time per broadcast of each,
 * their difference, and the resident memory the kept events hold per
 * 1000 (RSS after minus before, over the events kept). No socket is in
 * the rooms, so the figures are the encode-and-keep cost alone: what a
 * delivery costs comes on top, the same with and without history.
 *
 * With a redis-url the server joins that Redis (the classic adapter), so
 * both namespaces also publish every broadcast, and the kept one appends
 * it to the fleet's history there (sio_redis_history.c): batches of 1000,
 * each followed by a server count on the same connection as a barrier,
 * so the figures (this process's CPU and the wall time per broadcast)
 * include every reply read. Redis's own CPU is in the wall time only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sio/sio.h>

static const char *id_of(const char *event, json_object *args, void *ud) {
  json_object *env, *id;
  (void)event;
  (void)ud;
  env = json_object_array_get_idx(args, 0);
  if (!env || !json_object_object_get_ex(env, "event_id", &id))
    return NULL;
  return json_object_get_string(id);
}

static uv_loop_t *redis_loop; /* set: Redis mode */

static double wall_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void counted(sio_namespace *ns, int status, size_t count, void *ud) {
  (void)ns;
  (void)count;
  *(int *)ud = status ? status : 1;
}

/* Every command sent on ns's publisher so far has been answered. */
static void barrier(sio_namespace *ns) {
  int done = 0;
  if (sio_namespace_server_count(ns, counted, &done)) {
    fprintf(stderr, "server count failed\n");
    exit(1);
  }
  while (!done)
    uv_run(redis_loop, UV_RUN_ONCE);
  if (done < 0) {
    fprintf(stderr, "server count failed\n");
    exit(1);
  }
}

static double last_wall; /* wall seconds of the last run */

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
      resident = 0;
    fclose(f);
  }
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Seconds of CPU for n broadcasts on ns. The envelope is parsed once and
 * its event_id rewritten in place, so the figure is the broadcast's. */
static double run(sio_namespace *ns, long n, int rooms, long first_id) {
  char room[32], id[64];
  const char *r = room;
  sio_broadcast_opts o;
  json_object *args = json_tokener_parse(
      "[{\"event_id\":\"\",\"type\":\"workflow.progress\","
      "\"timestamp\":\"2026-12-03T07:00:00.000Z\","
      "\"data\":{\"workflow_id\":\"wf-7\",\"project_id\":\"42\","
      "\"progress\":40}}]");
  json_object *jid;
  double t0;
  long i;
  json_object_object_get_ex(json_object_array_get_idx(args, 0), "event_id",
                            &jid);
  memset(&o, 0, sizeof(o));
  o.rooms = &r;
  o.nrooms = 1;
  t0 = cpu_s();
  last_wall = wall_s();
  for (i = 0; i < n; i++) {
    if (redis_loop && i && i % 1000 == 0)
      barrier(ns);
    snprintf(room, sizeof(room), "project:%ld", i % rooms);
    snprintf(id, sizeof(id), "6f1c2b3a-0000-4000-8000-%012ld", first_id + i);
    json_object_set_string(jid, id);
    if (sio_namespace_broadcast(ns, &o, "workflow.progress", args, NULL, 0) <
        0) {
      fprintf(stderr, "broadcast failed\n");
      exit(1);
    }
  }
  if (redis_loop)
    barrier(ns);
  t0 = cpu_s() - t0;
  last_wall = wall_s() - last_wall;
  json_object_put(args);
  return t0;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 200000;
  int rooms = argc > 2 ? atoi(argv[2]) : 100;
  const char *url = argc > 3 ? argv[3] : NULL;
  double w_plain = 0, w_kept = 0;
  sio_stats st;
  sio_history_config hc;
  uv_loop_t loop;
  sio_server *srv;
  sio_namespace *plain, *kept;
  size_t events = 0, bytes = 0;
  double t_plain, t_kept;
  long rss0, rss1;
  if (n <= 0 || rooms <= 0 || uv_loop_init(&loop) ||
      sio_server_new(&srv, &loop, NULL))
    return 2;
  if (url) {
    int i;
    if (sio_server_use_redis(srv, url, NULL))
      return 1;
    redis_loop = &loop;
    for (i = 0; i < 500; i++) { /* connected within 5 s */
      sio_server_stats(srv, &st);
      if (st.redis_connected)
        break;
      uv_run(&loop, UV_RUN_NOWAIT);
      usleep(10000);
    }
    if (!st.redis_connected) {
      fprintf(stderr, "cannot reach %s\n", url);
      return 1;
    }
  }
  plain = sio_server_of(srv, "/plain");
  kept = sio_server_of(srv, "/kept");
  memset(&hc, 0, sizeof(hc));
  hc.id_of = id_of;
  if (!plain || !kept || sio_namespace_set_history(kept, &hc))
    return 1;
  run(plain, n / 10, rooms, 0); /* warm the allocator and the caches */
  rss0 = rss_kib();
  t_kept = run(kept, n, rooms, 0); /* fills the history to its bounds */
  rss1 = rss_kib();
  sio_namespace_history_stats(kept, &events, &bytes);
  t_plain = run(plain, n, rooms, 0);
  w_plain = last_wall;
  /* best of 5, alternating, once the history is full (its steady state:
   * every append also drops a room's oldest event) */
  for (int k = 0; k < 5; k++) {
    double a = run(plain, n, rooms, 0), wa = last_wall;
    double b = run(kept, n, rooms, (long)(k + 1) * n), wb = last_wall;
    if (a < t_plain)
      t_plain = a;
    if (b < t_kept)
      t_kept = b;
    if (!w_kept || wb < w_kept)
      w_kept = wb;
    if (wa < w_plain)
      w_plain = wa;
  }
  printf("broadcasts %ld to %d rooms\n", n, rooms);
  printf("without history  %.3f us per broadcast\n", t_plain * 1e6 / n);
  printf("with history     %.3f us per broadcast (+%.3f us, x%.2f)\n",
         t_kept * 1e6 / n, (t_kept - t_plain) * 1e6 / n, t_kept / t_plain);
  if (url) {
    sio_server_stats(srv, &st);
    printf("with Redis (publish on both): wall %.3f us per broadcast "
           "without history, %.3f with (x%.2f); %llu not published\n",
           w_plain * 1e6 / n, w_kept * 1e6 / n, w_kept / w_plain,
           (unsigned long long)st.redis_dropped);
  }
  printf("after the first run: kept %zu events, %zu encoded bytes; RSS +%ld "
         "KiB = %.0f KiB per "
         "1000 events\n",
         events, bytes, rss1 - rss0,
         events ? (double)(rss1 - rss0) * 1000.0 / (double)events : 0.0);
  printf("{\"tool\":\"history_cost\",\"broadcasts\":%ld,\"rooms\":%d,"
         "\"us_plain\":%.4f,\"us_kept\":%.4f,\"kept\":%zu,\"bytes\":%zu,"
         "\"rss_kib_per_1000\":%.1f,\"redis\":%s,\"wall_us_plain\":%.4f,"
         "\"wall_us_kept\":%.4f}\n",
         n, rooms, t_plain * 1e6 / n, t_kept * 1e6 / n, events, bytes,
         events ? (double)(rss1 - rss0) * 1000.0 / (double)events : 0.0,
         url ? "true" : "false", w_plain * 1e6 / n, w_kept * 1e6 / n);
  sio_server_close(srv, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return 0;
}
