/* bench_util.c: histograms and /proc readers for sio-bench. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

static unsigned hist_index(uint64_t v) {
  unsigned msb, shift, idx;
  if (v < 128)
    return (unsigned)v;
  msb = 63u - (unsigned)__builtin_clzll(v);
  shift = msb - HIST_SUB_BITS;
  /* v >> shift lies in [64, 128): its low 6 bits pick the sub-bucket. */
  idx = 128 + (shift - 1) * 64 + (unsigned)((v >> shift) - 64);
  return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

/* The middle of bucket idx, so a quantile is off by half a bucket at most. */
static uint64_t hist_value(unsigned idx) {
  unsigned shift;
  uint64_t top;
  if (idx < 128)
    return idx;
  shift = (idx - 128) / 64 + 1;
  top = (idx - 128) % 64 + 64;
  return (top << shift) + ((uint64_t)1 << shift) / 2;
}

void hist_add(bench_hist *h, uint64_t v) {
  h->b[hist_index(v)]++;
  h->n++;
  h->sum += v;
  if (v > h->max)
    h->max = v;
}

void hist_merge(bench_hist *into, const bench_hist *from) {
  size_t i;
  for (i = 0; i < HIST_BUCKETS; i++)
    into->b[i] += from->b[i];
  into->n += from->n;
  into->sum += from->sum;
  if (from->max > into->max)
    into->max = from->max;
}

uint64_t hist_quantile(const bench_hist *h, double q) {
  uint64_t want, seen = 0;
  unsigned i;
  if (!h->n)
    return 0;
  want = (uint64_t)(q * (double)h->n);
  if (want >= h->n)
    want = h->n - 1;
  for (i = 0; i < HIST_BUCKETS; i++) {
    seen += h->b[i];
    if (seen > want) {
      uint64_t v = hist_value(i);
      return v > h->max ? h->max : v;
    }
  }
  return h->max;
}

/* /proc/PID/stat: the command name (field 2) may hold spaces and
 * parentheses, so fields are counted from the last ')'. utime and stime are
 * fields 14 and 15, in clock ticks, and cover every thread of the process
 * (Node's GC and libuv threads included). */
int proc_cpu_ns(int pid, uint64_t *out) {
  char path[64], buf[1024], *p;
  unsigned long long ut = 0, st = 0;
  long tck = sysconf(_SC_CLK_TCK);
  size_t len;
  FILE *f;
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  f = fopen(path, "r");
  if (!f)
    return -1;
  len = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[len] = '\0';
  p = strrchr(buf, ')');
  if (!p ||
      sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
             &ut, &st) != 2)
    return -1;
  if (tck <= 0)
    tck = 100;
  *out = (uint64_t)(ut + st) * (1000000000ull / (uint64_t)tck);
  return 0;
}

int proc_rss_bytes(int pid, uint64_t *out) {
  char path[64], line[256];
  unsigned long long kb;
  FILE *f;
  snprintf(path, sizeof(path), "/proc/%d/status", pid);
  f = fopen(path, "r");
  if (!f)
    return -1;
  while (fgets(line, sizeof(line), f)) {
    if (sscanf(line, "VmRSS: %llu kB", &kb) == 1) {
      fclose(f);
      *out = (uint64_t)kb * 1024;
      return 0;
    }
  }
  fclose(f);
  return -1;
}

uint64_t self_cpu_ns(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru))
    return 0;
  return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
         (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

void bench_wake(bench_shared *sh, int id) {
  static const char b = 'w';
  ssize_t rv;
  do
    rv = write(sh->wake_fd[id][1], &b, 1);
  while (rv < 0 && errno == EINTR);
}
