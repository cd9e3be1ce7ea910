/* sio_json.c: JSON text <-> json-c, as JavaScript's JSON.parse and
 * JSON.stringify (see sio_json.h for what each direction guarantees).
 *
 * JSON is held in json-c objects, but both directions are done here rather
 * than by json-c, because json-c differs from JavaScript's JSON.parse /
 * JSON.stringify where it matters to a relay: json_tokener (even with
 * JSON_TOKENER_STRICT) accepts NaN, Infinity, "1." and raw control
 * characters, lets overlong and surrogate UTF-8 through, clamps integers
 * past 2^64 to UINT64_MAX and counts depth per value rather than per
 * container; its writer prints doubles with "%.17g" (0.1 becomes
 * 0.10000000000000001) and keeps integer-like keys in insertion order.
 *
 * The parser accepts exactly the JSON text grammar (RFC 8259) that
 * JSON.parse accepts, bounds container nesting by max_depth, and builds:
 * integers that fit int64 as json-c ints; every other number as a json-c
 * double carrying its source text (json_object_new_double_s), so it is
 * written back exactly as the peer wrote it; strings as validated UTF-8,
 * where a lone surrogate escape ("\ud800", legal in JavaScript strings) is
 * kept as its 3-byte generalised UTF-8 form so that it is written back as
 * the same escape. Keys containing U+0000 are rejected (json-c keys are C
 * strings).
 *
 * The writer produces what JSON.stringify produces for the equivalent
 * JavaScript value: no whitespace, "/" unescaped, only '"', '\' and
 * controls escaped (\b \f \n \r \t, else \u00xx), non-ASCII passed through,
 * doubles in the shortest round-trip ECMAScript Number::toString form,
 * NaN/Infinity as null, array-index keys first in ascending order. */
#include "sio_json.h"

#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sio_int.h"
#include "sio_mem.h"

static const char hexdig[] = "0123456789abcdef";

/* ------------------------------------------------------------------ */
/* UTF-8                                                                */

/* Length of the well-formed UTF-8 sequence at s (RFC 3629 table 3-7: no
 * overlongs, no surrogates, nothing past U+10FFFF), or minus the length of
 * its longest valid prefix (at least 1) when it is ill-formed. */
static int utf8_seq(const uint8_t *s, size_t n) {
  uint8_t c = s[0], lo = 0x80, hi = 0xbf;
  int need, i;
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    need = 1;
  } else if (c >= 0xe0 && c <= 0xef) {
    need = 2;
    if (c == 0xe0)
      lo = 0xa0;
    else if (c == 0xed)
      hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    need = 3;
    if (c == 0xf0)
      lo = 0x90;
    else if (c == 0xf4)
      hi = 0x8f;
  } else {
    return -1;
  }
  for (i = 1; i <= need; i++) {
    if ((size_t)i >= n || s[i] < lo || s[i] > hi)
      return -i;
    lo = 0x80;
    hi = 0xbf;
  }
  return need + 1;
}

/* Appends code point cp (surrogates included, as 3 bytes). */
static int append_cp(sio_buf *b, uint32_t cp) {
  uint8_t t[4];
  size_t n;
  if (cp < 0x80) {
    t[0] = (uint8_t)cp;
    n = 1;
  } else if (cp < 0x800) {
    t[0] = (uint8_t)(0xc0 | (cp >> 6));
    t[1] = (uint8_t)(0x80 | (cp & 0x3f));
    n = 2;
  } else if (cp < 0x10000) {
    t[0] = (uint8_t)(0xe0 | (cp >> 12));
    t[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    t[2] = (uint8_t)(0x80 | (cp & 0x3f));
    n = 3;
  } else {
    t[0] = (uint8_t)(0xf0 | (cp >> 18));
    t[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    t[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    t[3] = (uint8_t)(0x80 | (cp & 0x3f));
    n = 4;
  }
  return sio_buf_append(b, t, n);
}

/* ------------------------------------------------------------------ */
/* JSON parser                                                          */

typedef struct jparser {
  const uint8_t *p, *end;
  int depth, max_depth;
  sio_buf scratch; /* unescaped strings, used as a stack (keys stay) */
} jparser;

static int parse_value(jparser *jp, json_object **out);

static void skip_ws(jparser *jp) {
  while (jp->p < jp->end &&
         (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
    jp->p++;
}

static int hex4(const uint8_t *s, uint32_t *v) {
  int i;
  *v = 0;
  for (i = 0; i < 4; i++) {
    uint8_t c = s[i];
    uint32_t d;
    if (c >= '0' && c <= '9')
      d = (uint32_t)(c - '0');
    else if (c >= 'a' && c <= 'f')
      d = (uint32_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      d = (uint32_t)(c - 'A' + 10);
    else
      return -1;
    *v = *v << 4 | d;
  }
  return 0;
}

/* Parses the string at jp->p (on its opening quote) and appends its
 * unescaped bytes to the scratch stack. */
static int parse_string(jparser *jp) {
  const uint8_t *p = jp->p + 1, *end = jp->end;
  int rv;
  for (;;) {
    const uint8_t *run = p;
    while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
      p++;
    rv = sio_buf_append(&jp->scratch, run, (size_t)(p - run));
    if (rv)
      return rv;
    if (p >= end || *p < 0x20)
      return SIO_ERR_PROTO;
    if (*p == '"') {
      jp->p = p + 1;
      return 0;
    }
    if (*p >= 0x80) {
      int n = utf8_seq(p, (size_t)(end - p));
      if (n < 0)
        return SIO_ERR_PROTO;
      rv = sio_buf_append(&jp->scratch, p, (size_t)n);
      p += n;
    } else { /* backslash */
      uint32_t u, lo;
      char c;
      if (end - p < 2)
        return SIO_ERR_PROTO;
      switch (p[1]) {
      case '"':
      case '\\':
      case '/':
        c = (char)p[1];
        break;
      case 'b':
        c = '\b';
        break;
      case 'f':
        c = '\f';
        break;
      case 'n':
        c = '\n';
        break;
      case 'r':
        c = '\r';
        break;
      case 't':
        c = '\t';
        break;
      case 'u':
        if (end - p < 6 || hex4(p + 2, &u))
          return SIO_ERR_PROTO;
        p += 6;
        if (u >= 0xd800 && u <= 0xdbff && end - p >= 6 && p[0] == '\\' &&
            p[1] == 'u' && !hex4(p + 2, &lo) && lo >= 0xdc00 && lo <= 0xdfff) {
          u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
          p += 6;
        }
        rv = append_cp(&jp->scratch, u);
        if (rv)
          return rv;
        continue;
      default:
        return SIO_ERR_PROTO;
      }
      rv = sio_buf_append_byte(&jp->scratch, (uint8_t)c);
      p += 2;
    }
    if (rv)
      return rv;
  }
}

/* strtod on a validated JSON number, independent of the C locale. */
static double json_strtod(const char *text, size_t n, char *tmp, size_t cap) {
  const char *dp = localeconv()->decimal_point;
  size_t dl = strlen(dp), i, o = 0;
  if (dl == 1 && dp[0] == '.')
    return strtod(text, NULL);
  for (i = 0; i < n && o + dl < cap; i++) {
    if (text[i] == '.') {
      memcpy(tmp + o, dp, dl);
      o += dl;
    } else {
      tmp[o++] = text[i];
    }
  }
  tmp[o] = '\0';
  return strtod(tmp, NULL);
}

static int parse_number(jparser *jp, json_object **out) {
  const uint8_t *s = jp->p, *p = s, *end = jp->end;
  int neg = 0, is_int = 1;
  uint64_t mag = 0;
  int overflow = 0;
  char small[72], *text;
  size_t n;
  double d;
  if (*p == '-') {
    neg = 1;
    p++;
  }
  if (p >= end || *p < '0' || *p > '9')
    return SIO_ERR_PROTO;
  if (*p == '0') {
    p++;
  } else {
    while (p < end && *p >= '0' && *p <= '9') {
      unsigned dig = (unsigned)(*p - '0');
      if (mag > (UINT64_MAX - dig) / 10)
        overflow = 1;
      else
        mag = mag * 10 + dig;
      p++;
    }
  }
  if (p < end && *p == '.') {
    is_int = 0;
    p++;
    if (p >= end || *p < '0' || *p > '9')
      return SIO_ERR_PROTO;
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    is_int = 0;
    p++;
    if (p < end && (*p == '+' || *p == '-'))
      p++;
    if (p >= end || *p < '0' || *p > '9')
      return SIO_ERR_PROTO;
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  }
  jp->p = p;
  if (is_int && !overflow) {
    if (!neg && mag <= (uint64_t)INT64_MAX) {
      *out = json_object_new_int64((int64_t)mag);
      return *out ? 0 : SIO_ERR_NOMEM;
    }
    if (neg && mag <= (uint64_t)INT64_MAX + 1) {
      *out = json_object_new_int64(
          mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag);
      return *out ? 0 : SIO_ERR_NOMEM;
    }
  }
  /* A double, or an integer past int64: kept with its text. */
  n = (size_t)(p - s);
  text = 2 * n + 8 <= sizeof(small) ? small : sio_malloc(2 * n + 8);
  if (!text)
    return SIO_ERR_NOMEM;
  memcpy(text, s, n);
  text[n] = '\0';
  d = json_strtod(text, n, text + n + 1, n + 7);
  *out = json_object_new_double_s(d, text);
  if (text != small)
    sio_free(text);
  return *out ? 0 : SIO_ERR_NOMEM;
}

static int parse_literal(jparser *jp, const char *word, json_object **out,
                         int kind) {
  size_t n = strlen(word);
  if ((size_t)(jp->end - jp->p) < n || memcmp(jp->p, word, n) != 0)
    return SIO_ERR_PROTO;
  jp->p += n;
  if (kind < 0) {
    *out = NULL;
    return 0;
  }
  *out = json_object_new_boolean(kind);
  return *out ? 0 : SIO_ERR_NOMEM;
}

/* Steps over a container's opening byte: 1 when close follows at once
 * (the container is empty), else 0. */
static int container_empty(jparser *jp, char close) {
  jp->p++;
  skip_ws(jp);
  if (jp->p < jp->end && *jp->p == close) {
    jp->p++;
    return 1;
  }
  return 0;
}

/* After an element or member: 0 when ',' announces another, 1 when close
 * ends the container, else SIO_ERR_PROTO. */
static int container_next(jparser *jp, char close) {
  skip_ws(jp);
  if (jp->p >= jp->end)
    return SIO_ERR_PROTO;
  if (*jp->p == close) {
    jp->p++;
    return 1;
  }
  return *jp->p++ == ',' ? 0 : SIO_ERR_PROTO;
}

static int parse_array(jparser *jp, json_object **out) {
  json_object *arr = json_object_new_array(), *v;
  int rv;
  if (!arr)
    return SIO_ERR_NOMEM;
  if (container_empty(jp, ']')) {
    *out = arr;
    return 0;
  }
  for (;;) {
    rv = parse_value(jp, &v);
    if (rv)
      goto fail;
    if (json_object_array_add(arr, v) != 0) {
      json_object_put(v);
      rv = SIO_ERR_NOMEM;
      goto fail;
    }
    rv = container_next(jp, ']');
    if (rv < 0)
      goto fail;
    if (rv) {
      *out = arr;
      return 0;
    }
  }
fail:
  json_object_put(arr);
  return rv;
}

static int parse_object(jparser *jp, json_object **out) {
  json_object *obj = json_object_new_object(), *v;
  size_t mark = jp->scratch.len;
  int rv;
  if (!obj)
    return SIO_ERR_NOMEM;
  if (container_empty(jp, '}')) {
    *out = obj;
    return 0;
  }
  for (;;) {
    skip_ws(jp);
    if (jp->p >= jp->end || *jp->p != '"') {
      rv = SIO_ERR_PROTO;
      goto fail;
    }
    rv = parse_string(jp);
    if (rv)
      goto fail;
    if (memchr(jp->scratch.data + mark, 0, jp->scratch.len - mark)) {
      rv = SIO_ERR_PROTO;
      goto fail;
    }
    /* the key stays on the scratch stack, NUL-terminated, while its value
     * is parsed above it */
    rv = sio_buf_append_byte(&jp->scratch, 0);
    if (rv)
      goto fail;
    skip_ws(jp);
    if (jp->p >= jp->end || *jp->p++ != ':') {
      rv = SIO_ERR_PROTO;
      goto fail;
    }
    rv = parse_value(jp, &v);
    if (rv)
      goto fail;
    if (json_object_object_add(obj, jp->scratch.data + mark, v) != 0) {
      json_object_put(v);
      rv = SIO_ERR_NOMEM;
      goto fail;
    }
    jp->scratch.len = mark;
    rv = container_next(jp, '}');
    if (rv < 0)
      goto fail;
    if (rv) {
      *out = obj;
      return 0;
    }
  }
fail:
  jp->scratch.len = mark;
  json_object_put(obj);
  return rv;
}

static int parse_value(jparser *jp, json_object **out) {
  int rv;
  skip_ws(jp);
  if (jp->p >= jp->end)
    return SIO_ERR_PROTO;
  switch (*jp->p) {
  case '[':
  case '{':
    if (jp->depth >= jp->max_depth)
      return SIO_ERR_DEPTH;
    jp->depth++;
    rv = *jp->p == '[' ? parse_array(jp, out) : parse_object(jp, out);
    jp->depth--;
    return rv;
  case '"': {
    size_t mark = jp->scratch.len, n;
    rv = parse_string(jp);
    n = jp->scratch.len - mark;
    if (!rv && n > INT32_MAX)
      rv = SIO_ERR_TOOBIG;
    if (!rv) {
      *out = json_object_new_string_len(jp->scratch.data + mark, (int)n);
      if (!*out)
        rv = SIO_ERR_NOMEM;
    }
    jp->scratch.len = mark;
    return rv;
  }
  case 't':
    return parse_literal(jp, "true", out, 1);
  case 'f':
    return parse_literal(jp, "false", out, 0);
  case 'n':
    return parse_literal(jp, "null", out, -1);
  default:
    if (*jp->p == '-' || (*jp->p >= '0' && *jp->p <= '9'))
      return parse_number(jp, out);
    return SIO_ERR_PROTO;
  }
}

/* Parses a whole JSON text (surrounding whitespace allowed). */
static int json_parse(const uint8_t *in, size_t len, int max_depth,
                      json_object **out) {
  jparser jp;
  int rv;
  jp.p = in;
  jp.end = in + len;
  jp.depth = 0;
  jp.max_depth = max_depth;
  sio_buf_init(&jp.scratch);
  *out = NULL;
  rv = parse_value(&jp, out);
  if (!rv) {
    skip_ws(&jp);
    if (jp.p != jp.end) {
      json_object_put(*out);
      *out = NULL;
      rv = SIO_ERR_PROTO;
    }
  }
  sio_buf_deinit(&jp.scratch);
  return rv;
}

int sio_json_parse(const char *in, size_t len, int max_depth,
                   json_object **out) {
  if (max_depth <= 0)
    max_depth = SIO_JSON_DEFAULT_DEPTH;
  return json_parse((const uint8_t *)in, len,
                    SIO_MIN(max_depth, SIO_JSON_MAX_DEPTH), out);
}

/* ------------------------------------------------------------------ */
/* JSON writer                                                          */

int sio_json_append_string(sio_buf *out, const char *str, size_t n) {
  const uint8_t *s = (const uint8_t *)str, *end = s + n;
  int rv = sio_buf_reserve(out, n + 2);
  if (rv)
    return rv;
  sio_buf_append_byte(out, '"');
  while (s < end) {
    const uint8_t *run = s;
    char esc[6];
    size_t en = 2;
    int k;
    while (s < end && *s >= 0x20 && *s < 0x80 && *s != '"' && *s != '\\')
      s++;
    rv = sio_buf_append(out, run, (size_t)(s - run));
    if (rv || s == end)
      break;
    esc[0] = '\\';
    switch (*s) {
    case '"':
    case '\\':
      esc[1] = (char)*s;
      break;
    case '\b':
      esc[1] = 'b';
      break;
    case '\f':
      esc[1] = 'f';
      break;
    case '\n':
      esc[1] = 'n';
      break;
    case '\r':
      esc[1] = 'r';
      break;
    case '\t':
      esc[1] = 't';
      break;
    default:
      if (*s < 0x20) {
        memcpy(esc + 1, "u00", 3);
        esc[4] = hexdig[*s >> 4];
        esc[5] = hexdig[*s & 15];
        en = 6;
        break;
      }
      if (*s == 0xed && end - s >= 3 && s[1] >= 0xa0 && s[1] <= 0xbf &&
          s[2] >= 0x80 && s[2] <= 0xbf) {
        /* a lone surrogate in generalised UTF-8: JSON.stringify escapes */
        uint32_t u = 0xd000u | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
        esc[1] = 'u';
        esc[2] = hexdig[u >> 12];
        esc[3] = hexdig[(u >> 8) & 15];
        esc[4] = hexdig[(u >> 4) & 15];
        esc[5] = hexdig[u & 15];
        rv = sio_buf_append(out, esc, 6);
        s += 3;
        if (rv)
          return rv;
        continue;
      }
      k = utf8_seq(s, (size_t)(end - s));
      if (k > 0) {
        rv = sio_buf_append(out, s, (size_t)k);
        s += k;
      } else { /* not UTF-8: U+FFFD per maximal ill-formed subpart */
        rv = sio_buf_append(out, "\xef\xbf\xbd", 3);
        s += -k;
      }
      if (rv)
        return rv;
      continue;
    }
    rv = sio_buf_append(out, esc, en);
    if (rv)
      return rv;
    s++;
  }
  if (rv)
    return rv;
  return sio_buf_append_byte(out, '"');
}

/* Whether the decimal dig[0..k) * 10^(x - k + 1) reads back as d. The text
 * has no decimal point, so the C locale does not matter. */
static int reads_back(const char *dig, int k, int x, double d) {
  char t[48];
  snprintf(t, sizeof(t), "%s%.*se%d", d < 0 ? "-" : "", k, dig, x - k + 1);
  return strtod(t, NULL) == d;
}

/* Adds delta (+1 or -1) to the k-digit decimal dig, keeping k digits:
 * 999 + 1 is 100 with x + 1, 100 - 1 is 999 with x - 1. */
static void step_digits(char *dig, int k, int *x, int delta) {
  int i = k - 1;
  if (delta > 0) {
    while (i >= 0 && dig[i] == '9')
      dig[i--] = '0';
    if (i >= 0) {
      dig[i]++;
    } else {
      dig[0] = '1';
      ++*x;
    }
  } else {
    while (i >= 0 && dig[i] == '0')
      dig[i--] = '9';
    dig[i]--; /* dig[0] is never 0 here */
    if (dig[0] == '0') {
      memmove(dig, dig + 1, (size_t)k - 1);
      dig[k - 1] = '9';
      --*x;
    }
  }
}

/* The shortest digits that read back as d (ECMAScript Number::toString's
 * k as small as possible, and then the closest). At a power of two the
 * rounding interval is narrower below than above, so the closest k-digit
 * decimal may fail while its upper neighbour reads back: try both
 * neighbours before adding a digit. Returns k; *x is the exponent of the
 * first digit. */
static int shortest_digits(double d, char dig[20], int *x) {
  char tmp[40], up[20], dn[20];
  int k, i, xu, xd;
  for (k = 1; k <= 17; k++) {
    const char *e;
    int n = 0, okup, okdn;
    snprintf(tmp, sizeof(tmp), "%.*e", k - 1, d);
    e = strchr(tmp, 'e');
    for (i = 0; tmp + i < e; i++)
      if (tmp[i] >= '0' && tmp[i] <= '9')
        dig[n++] = tmp[i];
    *x = atoi(e + 1);
    if (k == 17 || reads_back(dig, k, *x, d))
      break;
    memcpy(up, dig, (size_t)k);
    memcpy(dn, dig, (size_t)k);
    xu = xd = *x;
    step_digits(up, k, &xu, 1);
    step_digits(dn, k, &xd, -1);
    okup = reads_back(up, k, xu, d);
    okdn = reads_back(dn, k, xd, d);
    if (okup && okdn) { /* keep the closer one */
      char tu[48], td[48];
      long double vu, vd, v = (long double)d;
      snprintf(tu, sizeof(tu), "%.*se%d", k, up, xu - k + 1);
      snprintf(td, sizeof(td), "%.*se%d", k, dn, xd - k + 1);
      vu = strtold(tu, NULL);
      vd = strtold(td, NULL);
      if (d < 0)
        v = -v;
      okdn = (v - vd) < (vu - v);
      okup = !okdn;
    }
    if (okup || okdn) {
      memcpy(dig, okup ? up : dn, (size_t)k);
      *x = okup ? xu : xd;
      break;
    }
  }
  while (k > 1 && dig[k - 1] == '0')
    k--;
  return k;
}

size_t sio_json_format_number(double d, char out[SIO_JSON_NUMBER_MAX]) {
  char digits[20];
  int k, n, i, x, o = 0;
  if (d != d)
    return (size_t)snprintf(out, SIO_JSON_NUMBER_MAX, "NaN");
  if (!isfinite(d))
    return (size_t)snprintf(out, SIO_JSON_NUMBER_MAX, "%sInfinity",
                            d < 0 ? "-" : "");
  if (d == 0)
    return (size_t)snprintf(out, SIO_JSON_NUMBER_MAX, "0");
  k = shortest_digits(d, digits, &x);
  n = x + 1; /* d = 0.digits * 10^n */
  if (d < 0)
    out[o++] = '-';
  if (k <= n && n <= 21) {
    memcpy(out + o, digits, (size_t)k);
    o += k;
    for (i = k; i < n; i++)
      out[o++] = '0';
  } else if (0 < n && n <= 21) {
    memcpy(out + o, digits, (size_t)n);
    o += n;
    out[o++] = '.';
    memcpy(out + o, digits + n, (size_t)(k - n));
    o += k - n;
  } else if (-6 < n && n <= 0) {
    out[o++] = '0';
    out[o++] = '.';
    for (i = 0; i < -n; i++)
      out[o++] = '0';
    memcpy(out + o, digits, (size_t)k);
    o += k;
  } else {
    out[o++] = digits[0];
    if (k > 1) {
      out[o++] = '.';
      memcpy(out + o, digits + 1, (size_t)(k - 1));
      o += k - 1;
    }
    o += snprintf(out + o, SIO_JSON_NUMBER_MAX - (size_t)o, "e%c%d",
                  n - 1 < 0 ? '-' : '+', n - 1 < 0 ? 1 - n : n - 1);
  }
  out[o] = '\0';
  return (size_t)o;
}

size_t sio_json_number_text(json_object *v, char out[SIO_JSON_NUMBER_MAX]) {
  int64_t x;
  if (!json_object_is_type(v, json_type_int))
    return sio_json_format_number(json_object_get_double(v), out);
  x = json_object_get_int64(v);
  if (x == INT64_MAX) /* maybe a uint64 past it */
    return (size_t)snprintf(out, SIO_JSON_NUMBER_MAX, "%" PRIu64,
                            json_object_get_uint64(v));
  return (size_t)snprintf(out, SIO_JSON_NUMBER_MAX, "%" PRId64, x);
}

/* As JSON.stringify writes a double: NaN and infinities are null. */
static int append_double(sio_buf *out, double d) {
  char text[SIO_JSON_NUMBER_MAX];
  size_t n;
  if (!isfinite(d))
    return sio_buf_append_str(out, "null");
  n = sio_json_format_number(d, text);
  return sio_buf_append(out, text, n);
}

/* An ECMAScript array index: canonical decimal of 0 .. 2^32 - 2. JavaScript
 * objects list these keys first, in ascending order. */
static int array_index(const char *k, uint32_t *idx) {
  uint64_t v = 0;
  size_t i, n;
  if (k[0] < '0' || k[0] > '9')
    return 0;
  n = strlen(k);
  if (n > 10 || (k[0] == '0' && n > 1))
    return 0;
  for (i = 0; i < n; i++) {
    if (k[i] < '0' || k[i] > '9')
      return 0;
    v = v * 10 + (uint64_t)(k[i] - '0');
  }
  if (v > 4294967294u)
    return 0;
  *idx = (uint32_t)v;
  return 1;
}

typedef struct idx_entry {
  uint32_t idx;
  const char *key;
  json_object *val;
} idx_entry;

static int idx_cmp(const void *a, const void *b) {
  uint32_t x = ((const idx_entry *)a)->idx, y = ((const idx_entry *)b)->idx;
  return x < y ? -1 : x > y;
}

int sio_json_each_member(json_object *obj,
                         int (*fn)(const char *key, json_object *val, void *ud),
                         void *ud) {
  idx_entry stackbuf[16], *ix = stackbuf;
  struct lh_entry *head = json_object_get_object(obj)->head, *e;
  size_t nidx = 0, i = 0;
  uint32_t idx;
  int rv = 0;
  for (e = head; e; e = e->next)
    if (array_index((const char *)lh_entry_k(e), &idx))
      nidx++;
  if (nidx > SIO_ARRLEN(stackbuf)) {
    ix = sio_malloc(nidx * sizeof(*ix));
    if (!ix)
      return SIO_ERR_NOMEM;
  }
  for (e = nidx ? head : NULL; e; e = e->next) {
    if (array_index((const char *)lh_entry_k(e), &idx)) {
      ix[i].idx = idx;
      ix[i].key = (const char *)lh_entry_k(e);
      ix[i].val = (json_object *)lh_entry_v(e);
      i++;
    }
  }
  if (nidx > 1)
    qsort(ix, nidx, sizeof(*ix), idx_cmp);
  for (i = 0; !rv && i < nidx; i++)
    rv = fn(ix[i].key, ix[i].val, ud);
  for (e = head; !rv && e; e = e->next) {
    const char *key = (const char *)lh_entry_k(e);
    if (nidx && array_index(key, &idx))
      continue;
    rv = fn(key, (json_object *)lh_entry_v(e), ud);
  }
  if (ix != stackbuf)
    sio_free(ix);
  return rv;
}

typedef struct member_ctx {
  sio_buf *out;
  int first;
  int depth;
} member_ctx;

static int write_member(const char *key, json_object *val, void *ud) {
  member_ctx *m = ud;
  int rv = 0;
  if (!m->first)
    rv = sio_buf_append_byte(m->out, ',');
  m->first = 0;
  if (!rv)
    rv = sio_json_append_string(m->out, key, strlen(key));
  if (!rv)
    rv = sio_buf_append_byte(m->out, ':');
  if (!rv)
    rv = sio_json_write(m->out, val, m->depth);
  return rv;
}

static int write_object(sio_buf *out, json_object *v, int depth) {
  member_ctx m = {out, 1, depth};
  int rv = sio_buf_append_byte(out, '{');
  if (!rv)
    rv = sio_json_each_member(v, write_member, &m);
  if (!rv)
    rv = sio_buf_append_byte(out, '}');
  return rv;
}

int sio_json_write(sio_buf *out, json_object *v, int depth) {
  int rv = 0;
  size_t i, n;
  if (!v)
    return sio_buf_append(out, "null", 4);
  switch (json_object_get_type(v)) {
  case json_type_null:
    return sio_buf_append(out, "null", 4);
  case json_type_boolean:
    return sio_buf_append_str(out,
                              json_object_get_boolean(v) ? "true" : "false");
  case json_type_int: {
    int64_t x = json_object_get_int64(v);
    if (x == INT64_MAX)
      return sio_buf_append_u64(out, json_object_get_uint64(v));
    if (x < 0) {
      rv = sio_buf_append_byte(out, '-');
      return rv ? rv : sio_buf_append_u64(out, 0 - (uint64_t)x);
    }
    return sio_buf_append_u64(out, (uint64_t)x);
  }
  case json_type_double:
    if (json_object_get_userdata(v)) {
      /* a double with its source text (json_object_new_double_s) */
      size_t tl;
      const char *t = json_object_to_json_string_length(
          v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &tl);
      return t ? sio_buf_append(out, t, tl) : SIO_ERR_NOMEM;
    }
    return append_double(out, json_object_get_double(v));
  case json_type_string:
    return sio_json_append_string(out, json_object_get_string(v),
                                  (size_t)json_object_get_string_len(v));
  case json_type_array:
  case json_type_object:
    if (depth >= SIO_JSON_MAX_DEPTH)
      return SIO_ERR_DEPTH;
    if (json_object_get_type(v) == json_type_object)
      return write_object(out, v, depth + 1);
    rv = sio_buf_append_byte(out, '[');
    n = json_object_array_length(v);
    for (i = 0; !rv && i < n; i++) {
      if (i)
        rv = sio_buf_append_byte(out, ',');
      if (!rv)
        rv = sio_json_write(out, json_object_array_get_idx(v, i), depth + 1);
    }
    return rv ? rv : sio_buf_append_byte(out, ']');
  }
  return SIO_ERR_INVAL;
}

int sio_json_append(sio_buf *out, json_object *v) {
  size_t len0 = out->len;
  int rv = sio_json_write(out, v, 0);
  if (rv)
    sio_buf_truncate(out, len0);
  return rv;
}

/* ------------------------------------------------------------------ */
/* Placeholders                                                         */

json_object *sio_placeholder_new(int num) {
  json_object *o = json_object_new_object();
  json_object *t = json_object_new_boolean(1);
  json_object *n = json_object_new_int(num);
  if (!o || !t || !n)
    goto fail;
  if (json_object_object_add(o, "_placeholder", t))
    goto fail; /* t not consumed */
  t = NULL;    /* o owns it now */
  if (json_object_object_add(o, "num", n))
    goto fail;
  return o;
fail:
  json_object_put(t);
  json_object_put(n);
  json_object_put(o);
  return NULL;
}
