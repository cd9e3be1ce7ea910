/* app_metrics.c: a fixed registry of the metrics SPEC §3 names (declared
 * once in the APP_METRICS X-macro of app_metrics.h) and their Prometheus
 * text rendering. Each metric holds a small array of series, one per label
 * value, created on first use and bounded, so a caller passing peer-derived
 * label values cannot grow it without limit. Values are doubles (exact for
 * counts up to 2^53) printed as integers when integral, else with the
 * fewest digits that read back to the same double. The process_* figures
 * follow the names of the Prometheus client libraries and are read from
 * /proc/self and getrusage() only when rendering. */
#include "app_metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <sio/sio_json.h>

#include "app_util.h"

struct series {
  char *label; /* NULL for unlabelled metrics */
  double value;
};

struct metric {
  struct series *s;
  size_t n, cap;
};

struct app_metrics {
  struct metric m[APP_M_COUNT];
};

struct metric_desc {
  const char *name, *type, *label, *help;
};

static const struct metric_desc descs[APP_M_COUNT] = {
#define APP_METRIC_DESC(id, name, type, label, help) {name, type, label, help},
    APP_METRICS(APP_METRIC_DESC)
#undef APP_METRIC_DESC
};

const char *app_metrics_name(enum app_metric id) {
  return (unsigned)id < APP_M_COUNT ? descs[id].name : NULL;
}

/* Finds (or with create, adds) a series. */
static struct series *find(struct metric *mt, const char *label, bool create) {
  size_t i;
  for (i = 0; i < mt->n; i++)
    if ((!label && !mt->s[i].label) ||
        (label && mt->s[i].label && strcmp(label, mt->s[i].label) == 0))
      return &mt->s[i];
  if (!create || mt->n >= APP_METRICS_MAX_SERIES)
    return NULL;
  if (mt->n == mt->cap) {
    size_t cap = mt->cap ? mt->cap * 2 : 4;
    struct series *s = realloc(mt->s, cap * sizeof(*s));
    if (!s)
      return NULL;
    mt->s = s;
    mt->cap = cap;
  }
  mt->s[mt->n].label = NULL;
  mt->s[mt->n].value = 0;
  if (label && !(mt->s[mt->n].label = strdup(label)))
    return NULL;
  return &mt->s[mt->n++];
}

static struct series *series_for(struct app_metrics *m, enum app_metric id,
                                 const char *label) {
  if ((unsigned)id >= APP_M_COUNT || !descs[id].label != !label)
    return NULL;
  return find(&m->m[id], label, true);
}

int app_metrics_add(struct app_metrics *m, enum app_metric id,
                    const char *label, double delta) {
  struct series *s = series_for(m, id, label);
  if (!s)
    return -1;
  s->value += delta;
  return 0;
}

int app_metrics_set(struct app_metrics *m, enum app_metric id,
                    const char *label, double value) {
  struct series *s = series_for(m, id, label);
  if (!s)
    return -1;
  s->value = value;
  return 0;
}

double app_metrics_get(const struct app_metrics *m, enum app_metric id,
                       const char *label) {
  struct series *s;
  if ((unsigned)id >= APP_M_COUNT)
    return 0;
  s = find((struct metric *)&m->m[id], label, false);
  return s ? s->value : 0;
}

int app_metrics_merge(struct app_metrics *dst, const struct app_metrics *src) {
  size_t i, j;
  for (i = 0; i < APP_M_COUNT; i++)
    for (j = 0; j < src->m[i].n; j++) {
      struct series *s = find(&dst->m[i], src->m[i].s[j].label, true);
      if (!s)
        return -1;
      s->value += src->m[i].s[j].value;
    }
  return 0;
}

struct app_metrics *app_metrics_copy(const struct app_metrics *m) {
  struct app_metrics *c;
  if (app_metrics_new(&c))
    return NULL;
  if (app_metrics_merge(c, m)) {
    app_metrics_del(c);
    return NULL;
  }
  return c;
}

void app_metrics_del(struct app_metrics *m) {
  size_t i, j;
  if (!m)
    return;
  for (i = 0; i < APP_M_COUNT; i++) {
    for (j = 0; j < m->m[i].n; j++)
      free(m->m[i].s[j].label);
    free(m->m[i].s);
  }
  free(m);
}

int app_metrics_new(struct app_metrics **out) {
  static const struct {
    enum app_metric id;
    const char *labels[12];
  } presets[] = {
      {APP_M_CONNECTIONS, {"polling", "websocket"}},
      {APP_M_AUTH_FAILURES,
       {"missing_token", "invalid_token", "token_expired", "forbidden",
        "connection_limit"}},
      {APP_M_LIMIT_HITS,
       {APP_LIMIT_MAX_PAYLOAD, APP_LIMIT_EVENT_RATE,
        APP_LIMIT_CONNECTIONS_PER_USER, APP_LIMIT_HANDSHAKE_RATE,
        APP_LIMIT_MAX_CONNECTIONS, APP_LIMIT_SLOW_CONSUMER, APP_LIMIT_ORIGIN,
        APP_LIMIT_ROOMS, APP_LIMIT_REPLAY_BACKLOG}},
      {APP_M_REPLAYS, {"true", "false"}},
      {APP_M_REDIS_MESSAGES, {"in", "out"}},
      {APP_M_PUBLISH_REJECTED,
       {APP_PUBLISH_UNAUTHORIZED, APP_PUBLISH_BAD_REQUEST}},
  };
  struct app_metrics *m = calloc(1, sizeof(*m));
  size_t i, j;
  *out = NULL;
  if (!m)
    return -1;
  for (i = 0; i < APP_M_COUNT; i++)
    if (!descs[i].label && !find(&m->m[i], NULL, true))
      goto fail;
  for (i = 0; i < APP_ARRLEN(presets); i++)
    for (j = 0; j < APP_ARRLEN(presets[i].labels) && presets[i].labels[j]; j++)
      if (!find(&m->m[presets[i].id], presets[i].labels[j], true))
        goto fail;
  *out = m;
  return 0;
fail:
  app_metrics_del(m);
  return -1;
}

/* ------------------------------------------------------------ process */

int app_process_stats_read(struct app_process_stats *ps) {
  struct rusage ru;
  struct rlimit rl;
  FILE *f;
  DIR *d;
  long page = sysconf(_SC_PAGESIZE), tck = sysconf(_SC_CLK_TCK);
  int rc = 0;

  memset(ps, 0, sizeof(*ps));
  if (getrusage(RUSAGE_SELF, &ru) == 0)
    ps->cpu_seconds = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                      (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  else
    rc = -1;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    ps->max_fds = (uint64_t)rl.rlim_cur;

  f = fopen("/proc/self/statm", "re");
  if (f) {
    unsigned long long size, res;
    if (fscanf(f, "%llu %llu", &size, &res) == 2 && page > 0) {
      ps->virtual_bytes = size * (uint64_t)page;
      ps->resident_bytes = res * (uint64_t)page;
    } else {
      rc = -1;
    }
    fclose(f);
  } else {
    rc = -1;
  }

  d = opendir("/proc/self/fd");
  if (d) {
    struct dirent *e;
    int own = dirfd(d);
    while ((e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.' || atoi(e->d_name) == own)
        continue;
      ps->open_fds++;
    }
    closedir(d);
  } else {
    rc = -1;
  }

  /* Start time: field 22 of /proc/self/stat (ticks after boot) plus the
   * boot time (btime in /proc/stat). */
  f = fopen("/proc/self/stat", "re");
  if (f) {
    char buf[1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    char *p;
    unsigned long long start = 0;
    int field;
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    for (field = 2; p && field < 22; field++) {
      p = strchr(p + 1, ' ');
      if (p && field == 21)
        start = strtoull(p + 1, NULL, 10);
    }
    f = fopen("/proc/stat", "re");
    if (f && start && tck > 0) {
      char line[256];
      while (fgets(line, sizeof(line), f))
        if (strncmp(line, "btime ", 6) == 0) {
          ps->start_time_s =
              (double)strtoull(line + 6, NULL, 10) + (double)start / tck;
          break;
        }
    }
    if (f)
      fclose(f);
  }
  if (ps->start_time_s == 0)
    rc = -1;
  return rc;
}

/* ------------------------------------------------------------ rendering */

/* Prometheus reads NaN, +Inf and -Inf; finite values in JavaScript's
 * shortest form, which its float parser reads back exactly. */
static void put_number(struct app_sbuf *b, double v) {
  char buf[SIO_JSON_NUMBER_MAX];
  if (v != v) {
    app_sbuf_puts(b, "NaN");
    return;
  }
  if (v > 1.7976931348623157e308 || v < -1.7976931348623157e308) {
    app_sbuf_puts(b, v > 0 ? "+Inf" : "-Inf");
    return;
  }
  sio_json_format_number(v, buf);
  app_sbuf_puts(b, buf);
}

static void put_escaped(struct app_sbuf *b, const char *s, bool quote) {
  for (; *s; s++) {
    if (*s == '\\')
      app_sbuf_puts(b, "\\\\");
    else if (*s == '\n')
      app_sbuf_puts(b, "\\n");
    else if (quote && *s == '"')
      app_sbuf_puts(b, "\\\"");
    else
      app_sbuf_putc(b, *s);
  }
}

static void put_header(struct app_sbuf *b, const char *name, const char *type,
                       const char *help) {
  app_sbuf_printf(b, "# HELP %s ", name);
  put_escaped(b, help, false);
  app_sbuf_printf(b, "\n# TYPE %s %s\n", name, type);
}

/* Figures that could not be read (0 where 0 is impossible) are omitted. */
static void put_process(struct app_sbuf *b, const char *name, const char *type,
                        const char *help, double v, bool omit_zero) {
  if (omit_zero && v == 0)
    return;
  put_header(b, name, type, help);
  app_sbuf_printf(b, "%s ", name);
  put_number(b, v);
  app_sbuf_putc(b, '\n');
}

char *app_metrics_render(const struct app_metrics *m,
                         const struct app_process_stats *ps, size_t *len) {
  struct app_sbuf b = {0};
  size_t i, j;

  for (i = 0; i < APP_M_COUNT; i++) {
    const struct metric_desc *d = &descs[i];
    const struct metric *mt = &m->m[i];
    put_header(&b, d->name, d->type, d->help);
    for (j = 0; j < mt->n; j++) {
      app_sbuf_puts(&b, d->name);
      if (d->label) {
        app_sbuf_printf(&b, "{%s=\"", d->label);
        put_escaped(&b, mt->s[j].label, true);
        app_sbuf_puts(&b, "\"}");
      }
      app_sbuf_putc(&b, ' ');
      put_number(&b, mt->s[j].value);
      app_sbuf_putc(&b, '\n');
    }
  }
  if (ps) {
    put_process(&b, "process_cpu_seconds_total", "counter",
                "Total user and system CPU time spent in seconds.",
                ps->cpu_seconds, false);
    put_process(&b, "process_resident_memory_bytes", "gauge",
                "Resident memory size in bytes.", (double)ps->resident_bytes,
                true);
    put_process(&b, "process_virtual_memory_bytes", "gauge",
                "Virtual memory size in bytes.", (double)ps->virtual_bytes,
                true);
    put_process(&b, "process_open_fds", "gauge",
                "Number of open file descriptors.", (double)ps->open_fds, true);
    put_process(&b, "process_max_fds", "gauge",
                "Maximum number of open file descriptors.", (double)ps->max_fds,
                true);
    put_process(&b, "process_start_time_seconds", "gauge",
                "Start time of the process since unix epoch in seconds.",
                ps->start_time_s, true);
  }
  return app_sbuf_take(&b, len);
}
