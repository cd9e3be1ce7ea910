/* vectors.c: see vectors.h. */
#include "vectors.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sio_util.h"

static char *unesc(const char *s, size_t len, size_t *outn) {
  char *o = malloc(len + 1);
  size_t i, n = 0;
  ck_assert_ptr_nonnull(o);
  for (i = 0; i < len; i++) {
    if (s[i] == '\\' && i + 3 < len + 1 && s[i + 1] == 'x') {
      o[n++] = (char)(sio_hex_digit(s[i + 2]) << 4 | sio_hex_digit(s[i + 3]));
      i += 3;
    } else {
      o[n++] = s[i];
    }
  }
  o[n] = '\0';
  *outn = n;
  return o;
}

static const char *datadir(void) {
  static char dir[4096];
  const char *sd = getenv("srcdir");
  if (sd) {
    snprintf(dir, sizeof(dir), "%s/tests/data", sd);
  } else {
    const char *slash = strrchr(__FILE__, '/');
    int n = slash ? (int)(slash - __FILE__) : 1;
    snprintf(dir, sizeof(dir), "%.*s/../data", n, slash ? __FILE__ : ".");
  }
  return dir;
}

vline *vec_load(const char *name, size_t *count) {
  char path[4200], buf[65536];
  FILE *fp;
  vline *v = NULL;
  size_t n = 0, cap = 0;
  int lineno = 0;
  snprintf(path, sizeof(path), "%s/%s", datadir(), name);
  fp = fopen(path, "r");
  ck_assert_msg(fp != NULL, "cannot open %s", path);
  while (fgets(buf, sizeof(buf), fp)) {
    size_t len = strlen(buf);
    char *p = buf, *tab;
    vline *l;
    lineno++;
    if (len && buf[len - 1] == '\n')
      buf[--len] = '\0';
    if (buf[0] == '#' || len == 0)
      continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 256;
      v = realloc(v, cap * sizeof(*v));
      ck_assert_ptr_nonnull(v);
    }
    l = &v[n++];
    l->lineno = lineno;
    l->nf = 0;
    for (;;) {
      tab = strchr(p, '\t');
      ck_assert_int_lt(l->nf, VEC_MAXF);
      l->f[l->nf] = unesc(p, tab ? (size_t)(tab - p) : strlen(p), &l->n[l->nf]);
      l->nf++;
      if (!tab)
        break;
      p = tab + 1;
    }
  }
  fclose(fp);
  *count = n;
  return v;
}

void vec_free(vline *v, size_t n) {
  size_t i;
  int j;
  for (i = 0; i < n; i++)
    for (j = 0; j < v[i].nf; j++)
      free(v[i].f[j]);
  free(v);
}

json_object *vec_parse(const char *s) {
  json_object *o = NULL;
  ck_assert_int_eq(sio_json_parse(s, strlen(s), 0, &o), 0);
  return o;
}

const char *vec_js(json_object *v) {
  static sio_buf b;
  sio_buf_reset(&b);
  ck_assert_int_eq(sio_json_append(&b, v), 0);
  return b.data ? b.data : "";
}

json_object *vec_nest(int depth) {
  json_object *o = json_object_new_int(1);
  int i;
  for (i = 0; i < depth; i++) {
    json_object *a = json_object_new_array();
    json_object_array_add(a, o);
    o = a;
  }
  return o;
}
