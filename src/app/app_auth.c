/* app_auth.c: JWT verification for the connect middleware, with libjwt 1.10.
 *
 * libjwt 1.10's jwt_decode() verifies with whatever algorithm the token's
 * header names, and with a NULL key it verifies nothing at all. So before
 * libjwt sees a token this file decodes the header itself and requires its
 * "alg" to be exactly the configured algorithm; that is what rejects
 * alg "none" and the HS/RS confusion in which an RS256 public key, which is
 * public, is used as an HMAC secret. libjwt is then called with the
 * configured key only, and the algorithm it reports having used is checked
 * again (so a parser difference between json-c and libjwt's jansson cannot
 * slip another alg through). Claims are read with json-c from the same
 * signed payload bytes, and checked here: exp (with leeway), nbf, iss, aud,
 * sub, and the configurable projects/agents/role claims. Key files are read
 * once in app_auth_new() and validated with OpenSSL so that a wrong key
 * type shows at start instead of as a stream of invalid_token. */
#include "app_auth.h"

#include <errno.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#include "app_config.h"
#include "app_policy.h"

#define APP_TOKEN_MAX 8192      /* longest token accepted, in bytes */
#define APP_KEYFILE_MAX 65536   /* largest key file read */
#define APP_CLAIM_IDS_MAX 10000 /* ids kept from one claim */

struct app_auth {
  bool none;
  jwt_alg_t alg;
  char alg_name[8];
  uint8_t *key; /* secret or PEM text; NULL when none loaded */
  size_t key_len;
  char *issuer;    /* NULL: not checked */
  char **audience; /* NULL-terminated; NULL: not checked */
  size_t n_audience;
  bool require_exp;
  int64_t leeway_s;
  char *claim_projects, *claim_agents, *claim_role;
};

/* ---------------------------------------------------------------- codes */

const char *app_auth_code_name(enum app_auth_code code) {
  switch (code) {
  case APP_AUTH_OK:
    return "ok";
  case APP_AUTH_MISSING_TOKEN:
    return "missing_token";
  case APP_AUTH_INVALID_TOKEN:
    return "invalid_token";
  case APP_AUTH_TOKEN_EXPIRED:
    return "token_expired";
  case APP_AUTH_FORBIDDEN:
    return "forbidden";
  case APP_AUTH_CONNECTION_LIMIT:
    return "connection_limit";
  }
  return "invalid_token";
}

json_object *app_auth_connect_error(enum app_auth_code code) {
  json_object *o = json_object_new_object(), *data = json_object_new_object();
  json_object *msg = json_object_new_string("unauthorized");
  json_object *c = json_object_new_string(app_auth_code_name(code));
  if (!o || !data || !msg || !c) {
    json_object_put(o);
    json_object_put(data);
    json_object_put(msg);
    json_object_put(c);
    return NULL;
  }
  json_object_object_add(data, "code", c);
  json_object_object_add(o, "message", msg);
  json_object_object_add(o, "data", data);
  return o;
}

/* --------------------------------------------------------------- claims */

static void id_set_free(struct app_id_set *s) {
  size_t i;
  for (i = 0; i < s->n; i++)
    free(s->ids[i]);
  free(s->ids);
  memset(s, 0, sizeof(*s));
}

void app_claims_deinit(struct app_claims *c) {
  if (!c)
    return;
  free(c->sub);
  free(c->role);
  id_set_free(&c->projects);
  id_set_free(&c->agents);
  memset(c, 0, sizeof(*c));
}

bool app_id_set_has(const struct app_id_set *s, const char *id, size_t len) {
  size_t i;
  if (s->all)
    return true;
  for (i = 0; i < s->n; i++)
    if (strlen(s->ids[i]) == len && memcmp(s->ids[i], id, len) == 0)
      return true;
  return false;
}

static int id_set_copy(struct app_id_set *d, const struct app_id_set *s) {
  size_t i;
  memset(d, 0, sizeof(*d));
  d->all = s->all;
  if (s->n == 0)
    return 0;
  d->ids = calloc(s->n, sizeof(*d->ids));
  if (!d->ids)
    return -1;
  for (i = 0; i < s->n; i++) {
    d->ids[i] = strdup(s->ids[i]);
    if (!d->ids[i])
      return -1;
    d->n++;
  }
  return 0;
}

int app_claims_copy(struct app_claims *dst, const struct app_claims *src) {
  memset(dst, 0, sizeof(*dst));
  dst->admin = src->admin;
  dst->has_exp = src->has_exp;
  dst->exp = src->exp;
  if ((src->sub && !(dst->sub = strdup(src->sub))) ||
      (src->role && !(dst->role = strdup(src->role))) ||
      id_set_copy(&dst->projects, &src->projects) != 0 ||
      id_set_copy(&dst->agents, &src->agents) != 0) {
    app_claims_deinit(dst);
    return -1;
  }
  return 0;
}

/* ----------------------------------------------------------- verifier */

static void wipe_free(uint8_t *p, size_t n) {
  if (!p)
    return;
  OPENSSL_cleanse(p, n);
  free(p);
}

void app_auth_del(struct app_auth *a) {
  if (!a)
    return;
  wipe_free(a->key, a->key_len);
  free(a->issuer);
  app_strv_free(a->audience);
  free(a->claim_projects);
  free(a->claim_agents);
  free(a->claim_role);
  free(a);
}

bool app_auth_has_key(const struct app_auth *a) {
  return a->none || a->key != NULL;
}

bool app_auth_is_none(const struct app_auth *a) { return a->none; }

static bool alg_is_hs(jwt_alg_t alg) {
  return alg == JWT_ALG_HS256 || alg == JWT_ALG_HS384 || alg == JWT_ALG_HS512;
}

int app_auth_set_secret(struct app_auth *a, const uint8_t *secret, size_t len) {
  uint8_t *k;
  if (a->none || !alg_is_hs(a->alg) || len == 0)
    return -1;
  k = malloc(len);
  if (!k)
    return -1;
  memcpy(k, secret, len);
  wipe_free(a->key, a->key_len);
  a->key = k;
  a->key_len = len;
  return 0;
}

static const char *or_default(const char *s, const char *def) {
  return s && *s ? s : def;
}

/* Checks that pem[0..len) is a public key of the kind alg needs. Returns
 * NULL when it is, else a reason. */
static const char *check_public_key(jwt_alg_t alg, const uint8_t *pem,
                                    size_t len, struct app_msgs *msgs,
                                    const char *path) {
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  EVP_PKEY *pk = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
  const char *why = NULL;
  int bits, id;
  BIO_free(bio);
  if (!pk)
    return "is not a PEM public key (-----BEGIN PUBLIC KEY-----)";
  id = EVP_PKEY_base_id(pk);
  bits = EVP_PKEY_bits(pk);
  switch (alg) {
  case JWT_ALG_RS256:
  case JWT_ALG_RS384:
  case JWT_ALG_RS512:
    if (id != EVP_PKEY_RSA)
      why = "is not an RSA public key (needed for RS*)";
    else if (bits < 2048)
      app_msgs_add(msgs, APP_MSG_WARN,
                   "auth.public_key_file: %s is a %d-bit RSA key; use 2048 "
                   "bits or more",
                   path, bits);
    break;
  case JWT_ALG_ES256:
  case JWT_ALG_ES384:
  case JWT_ALG_ES512: {
    int want = alg == JWT_ALG_ES256 ? 256 : alg == JWT_ALG_ES384 ? 384 : 521;
    if (id != EVP_PKEY_EC)
      why = "is not an EC public key (needed for ES*)";
    else if (bits != want)
      why = "is an EC key on the wrong curve (ES256: P-256, ES384: P-384, "
            "ES512: P-521)";
    break;
  }
  default:
    why = "is not usable with this algorithm";
  }
  EVP_PKEY_free(pk);
  return why;
}

int app_auth_new(struct app_auth **out, const struct app_auth_params *p,
                 struct app_msgs *msgs) {
  struct app_auth *a = calloc(1, sizeof(*a));
  const char *alg = or_default(p->algorithm, "HS256");
  int rc;

  *out = NULL;
  if (!a)
    goto oom;
  a->none = p->mode && strcmp(p->mode, "none") == 0;
  a->require_exp = p->require_exp;
  a->leeway_s = p->leeway_s < 0 ? 0 : p->leeway_s;
  a->claim_projects = strdup(or_default(p->claim_projects, "projects"));
  a->claim_agents = strdup(or_default(p->claim_agents, "agents"));
  a->claim_role = strdup(or_default(p->claim_role, "role"));
  if (!a->claim_projects || !a->claim_agents || !a->claim_role)
    goto oom;
  if (p->issuer && *p->issuer && !(a->issuer = strdup(p->issuer)))
    goto oom;
  if (p->audience && *p->audience) {
    if (app_list_split(p->audience, &a->audience, &a->n_audience) != 0)
      goto oom;
    if (a->n_audience == 0) {
      app_strv_free(a->audience);
      a->audience = NULL;
    }
  }
  a->alg = jwt_str_alg(alg);
  if (a->alg == JWT_ALG_NONE || a->alg == JWT_ALG_INVAL ||
      strlen(alg) >= sizeof(a->alg_name)) {
    app_msgs_add(msgs, APP_MSG_ERROR,
                 "auth.algorithm: \"%s\" is not supported (HS256/384/512, "
                 "RS256/384/512, ES256/384/512)",
                 alg);
    goto fail;
  }
  /* The canonical spelling, as it must appear in token headers. */
  snprintf(a->alg_name, sizeof(a->alg_name), "%s", jwt_alg_str(a->alg));
  if (a->none) {
    *out = a;
    return 0;
  }

  if (alg_is_hs(a->alg)) {
    size_t need = a->alg == JWT_ALG_HS256   ? 32
                  : a->alg == JWT_ALG_HS384 ? 48
                                            : 64;
    if (p->secret_file && *p->secret_file) {
      char *text;
      size_t len;
      rc = app_read_file(p->secret_file, APP_KEYFILE_MAX, &text, &len);
      if (rc != 0) {
        app_msgs_add(msgs, APP_MSG_ERROR,
                     "auth.secret_file: cannot read %s: %s", p->secret_file,
                     strerror(-rc));
        goto fail;
      }
      size_t full = len;
      while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
      if (len == 0) {
        wipe_free((uint8_t *)text, full);
        app_msgs_add(msgs, APP_MSG_ERROR, "auth.secret_file: %s is empty",
                     p->secret_file);
        goto fail;
      }
      a->key = (uint8_t *)text;
      a->key_len = len;
    } else if (p->secret && *p->secret) {
      a->key_len = strlen(p->secret);
      a->key = malloc(a->key_len);
      if (!a->key)
        goto oom;
      memcpy(a->key, p->secret, a->key_len);
    }
    if (a->key && a->key_len < need)
      app_msgs_add(msgs, APP_MSG_WARN,
                   "auth.secret: shorter than %zu bytes, the minimum for %s "
                   "(RFC 7518)",
                   need, a->alg_name);
  } else {
    char *text;
    size_t len;
    const char *why;
    if (!p->public_key_file || !*p->public_key_file) {
      app_msgs_add(msgs, APP_MSG_ERROR,
                   "auth.public_key_file: required with algorithm %s",
                   a->alg_name);
      goto fail;
    }
    rc = app_read_file(p->public_key_file, APP_KEYFILE_MAX, &text, &len);
    if (rc != 0) {
      app_msgs_add(msgs, APP_MSG_ERROR,
                   "auth.public_key_file: cannot read %s: %s",
                   p->public_key_file, strerror(-rc));
      goto fail;
    }
    why = check_public_key(a->alg, (const uint8_t *)text, len, msgs,
                           p->public_key_file);
    if (why) {
      app_msgs_add(msgs, APP_MSG_ERROR, "auth.public_key_file: %s %s",
                   p->public_key_file, why);
      free(text);
      goto fail;
    }
    a->key = (uint8_t *)text;
    a->key_len = len;
  }
  *out = a;
  return 0;
oom:
  app_msgs_add(msgs, APP_MSG_ERROR, "auth: out of memory");
fail:
  app_auth_del(a);
  return -1;
}

int app_auth_new_from_config(struct app_auth **out,
                             const struct app_config *cfg,
                             struct app_msgs *msgs) {
  struct app_auth_params p = {
      .mode = cfg->auth_mode,
      .algorithm = cfg->auth_algorithm,
      .secret = cfg->auth_secret,
      .secret_file = cfg->auth_secret_file,
      .public_key_file = cfg->auth_public_key_file,
      .issuer = cfg->auth_issuer,
      .audience = cfg->auth_audience,
      .require_exp = cfg->auth_require_exp,
      .leeway_s = cfg->auth_leeway_s,
      .claim_projects = cfg->auth_claim_projects,
      .claim_agents = cfg->auth_claim_agents,
      .claim_role = cfg->auth_claim_role,
  };
  return app_auth_new(out, &p, msgs);
}

/* ----------------------------------------------------- token selection */

const char *app_auth_payload_token(json_object *auth) {
  json_object *t;
  const char *s;
  if (!auth || !json_object_is_type(auth, json_type_object) ||
      !json_object_object_get_ex(auth, "token", &t) ||
      !json_object_is_type(t, json_type_string))
    return NULL;
  s = json_object_get_string(t);
  return s && *s ? s : NULL;
}

static bool blank(char c) { return c == ' ' || c == '\t'; }

const char *app_auth_pick_token(const char *payload_token,
                                const char *authorization,
                                const char *query_token, size_t *len,
                                enum app_token_source *src) {
  const char *tok = NULL;
  size_t n = 0;
  enum app_token_source s = APP_TOKEN_NONE;

  if (payload_token && *payload_token) {
    tok = payload_token;
    n = strlen(tok);
    s = APP_TOKEN_PAYLOAD;
  } else if (authorization) {
    const char *p = authorization, *e;
    while (blank(*p))
      p++;
    if (app_strn_ieq(p, 6, "bearer") && blank(p[6])) {
      p += 7;
      while (blank(*p))
        p++;
      e = p + strlen(p);
      while (e > p && blank(e[-1]))
        e--;
      if (e > p) {
        tok = p;
        n = (size_t)(e - p);
        s = APP_TOKEN_HEADER;
      }
    }
  }
  if (!tok && query_token && *query_token) {
    tok = query_token;
    n = strlen(tok);
    s = APP_TOKEN_QUERY;
  }
  if (len)
    *len = n;
  if (src)
    *src = s;
  return tok;
}

/* --------------------------------------------------------- verification */

/* Decodes one base64url JWT segment holding a JSON object. Returns a new
 * object or NULL. */
static json_object *decode_segment(const char *s, size_t n) {
  uint8_t *buf = malloc(app_b64url_decoded_max(n) + 1);
  json_tokener *tok;
  json_object *o = NULL;
  ssize_t len;
  if (!buf)
    return NULL;
  len = app_b64url_decode(buf, s, n);
  if (len <= 0 || memchr(buf, '\0', (size_t)len))
    goto out;
  tok = json_tokener_new_ex(16);
  if (!tok)
    goto out;
  o = json_tokener_parse_ex(tok, (const char *)buf, (int)len);
  if (json_tokener_get_error(tok) != json_tokener_success ||
      json_tokener_get_parse_end(tok) != (size_t)len ||
      !json_object_is_type(o, json_type_object)) {
    json_object_put(o);
    o = NULL;
  }
  json_tokener_free(tok);
out:
  free(buf);
  return o;
}

/* A NumericDate claim. Returns 1 when present and numeric (value in *v),
 * 0 when absent, -1 when present but not a number. */
static int get_time(json_object *claims, const char *name, int64_t *v) {
  json_object *o;
  if (!json_object_object_get_ex(claims, name, &o))
    return 0;
  if (json_object_is_type(o, json_type_int)) {
    *v = json_object_get_int64(o);
    return 1;
  }
  if (json_object_is_type(o, json_type_double)) {
    double d = json_object_get_double(o);
    if (!(d > -9.2e18 && d < 9.2e18))
      return -1;
    *v = (int64_t)d;
    if ((double)*v > d)
      (*v)--;
    return 1;
  }
  return -1;
}

static bool sub_ok(const char *s, size_t n) {
  return n >= 1 && n <= APP_ROOM_MAX - 5 && app_room_name_valid(s, n);
}

/* Adds one id from a claim element. Returns 0, 1 (element ignored) or -1 on
 * out of memory. */
static int id_add(struct app_id_set *set, json_object *e) {
  char num[24];
  const char *s;
  char **v;
  if (json_object_is_type(e, json_type_string)) {
    s = json_object_get_string(e);
  } else if (json_object_is_type(e, json_type_int)) {
    snprintf(num, sizeof(num), "%lld", (long long)json_object_get_int64(e));
    s = num;
  } else {
    return 1;
  }
  if (strcmp(s, "*") == 0) {
    set->all = true;
    return 0;
  }
  if (!*s || set->n >= APP_CLAIM_IDS_MAX)
    return 1;
  v = realloc(set->ids, (set->n + 1) * sizeof(*v));
  if (!v)
    return -1;
  set->ids = v;
  set->ids[set->n] = strdup(s);
  if (!set->ids[set->n])
    return -1;
  set->n++;
  return 0;
}

/* Reads an id-list claim: an array of strings/integers, or one string or
 * integer. Returns 0, -1 (wrong type) or -2 (out of memory). */
static int get_ids(json_object *claims, const char *name,
                   struct app_id_set *set) {
  json_object *o;
  size_t i, n;
  if (!json_object_object_get_ex(claims, name, &o) ||
      json_object_is_type(o, json_type_null))
    return 0;
  if (json_object_is_type(o, json_type_string) ||
      json_object_is_type(o, json_type_int))
    return id_add(set, o) < 0 ? -2 : 0;
  if (!json_object_is_type(o, json_type_array))
    return -1;
  n = json_object_array_length(o);
  for (i = 0; i < n; i++)
    if (id_add(set, json_object_array_get_idx(o, i)) < 0)
      return -2;
  return 0;
}

/* Reads the role claim: a string or an array of strings. Returns 0, -1
 * (wrong type) or -2 (out of memory). */
static int get_role(json_object *claims, const char *name,
                    struct app_claims *out) {
  json_object *o;
  size_t i, n;
  if (!json_object_object_get_ex(claims, name, &o) ||
      json_object_is_type(o, json_type_null))
    return 0;
  if (json_object_is_type(o, json_type_string)) {
    out->role = strdup(json_object_get_string(o));
    if (!out->role)
      return -2;
    out->admin = strcmp(out->role, "admin") == 0;
    return 0;
  }
  if (!json_object_is_type(o, json_type_array))
    return -1;
  n = json_object_array_length(o);
  for (i = 0; i < n; i++) {
    json_object *e = json_object_array_get_idx(o, i);
    if (!json_object_is_type(e, json_type_string))
      continue;
    if (!out->role && !(out->role = strdup(json_object_get_string(e))))
      return -2;
    if (strcmp(json_object_get_string(e), "admin") == 0)
      out->admin = true;
  }
  return 0;
}

static bool aud_ok(const struct app_auth *a, json_object *claims) {
  json_object *o;
  size_t i, j, n;
  if (!a->audience)
    return true;
  if (!json_object_object_get_ex(claims, "aud", &o))
    return false;
  if (json_object_is_type(o, json_type_string)) {
    for (j = 0; j < a->n_audience; j++)
      if (strcmp(json_object_get_string(o), a->audience[j]) == 0)
        return true;
    return false;
  }
  if (!json_object_is_type(o, json_type_array))
    return false;
  n = json_object_array_length(o);
  for (i = 0; i < n; i++) {
    json_object *e = json_object_array_get_idx(o, i);
    if (!json_object_is_type(e, json_type_string))
      continue;
    for (j = 0; j < a->n_audience; j++)
      if (strcmp(json_object_get_string(e), a->audience[j]) == 0)
        return true;
  }
  return false;
}

static bool iss_ok(const struct app_auth *a, json_object *claims) {
  json_object *o;
  if (!a->issuer)
    return true;
  return json_object_object_get_ex(claims, "iss", &o) &&
         json_object_is_type(o, json_type_string) &&
         strcmp(json_object_get_string(o), a->issuer) == 0;
}

/* Fills out from a decoded claims object: sub and the policy claims.
 * Returns OK, INVALID_TOKEN, or -1 when out of memory. */
static int read_identity(const struct app_auth *a, json_object *claims,
                         struct app_claims *out) {
  json_object *sub;
  const char *s;
  int rc;
  if (!json_object_object_get_ex(claims, "sub", &sub) ||
      !json_object_is_type(sub, json_type_string))
    return APP_AUTH_INVALID_TOKEN;
  s = json_object_get_string(sub);
  if (!sub_ok(s, strlen(s)))
    return APP_AUTH_INVALID_TOKEN;
  out->sub = strdup(s);
  if (!out->sub)
    return -1;
  if ((rc = get_ids(claims, a->claim_projects, &out->projects)) != 0 ||
      (rc = get_ids(claims, a->claim_agents, &out->agents)) != 0 ||
      (rc = get_role(claims, a->claim_role, out)) != 0)
    return rc == -2 ? -1 : APP_AUTH_INVALID_TOKEN;
  return APP_AUTH_OK;
}

/* auth.mode = none: see the header. */
static enum app_auth_code verify_none(const struct app_auth *a,
                                      const char *token, size_t len,
                                      struct app_claims *out) {
  const char *d1, *d2;
  json_object *claims;
  int rc;
  if (!token || len == 0) {
    out->sub = strdup("anonymous");
    out->projects.all = out->agents.all = true;
    return out->sub ? APP_AUTH_OK : APP_AUTH_INVALID_TOKEN;
  }
  d1 = memchr(token, '.', len);
  d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
  if (!d2)
    return APP_AUTH_INVALID_TOKEN;
  claims = decode_segment(d1 + 1, (size_t)(d2 - d1 - 1));
  if (!claims)
    return APP_AUTH_INVALID_TOKEN;
  rc = read_identity(a, claims, out);
  json_object_put(claims);
  if (rc != APP_AUTH_OK) {
    app_claims_deinit(out);
    return APP_AUTH_INVALID_TOKEN;
  }
  return APP_AUTH_OK;
}

enum app_auth_code app_auth_verify(const struct app_auth *a, const char *token,
                                   size_t len, int64_t now_s,
                                   struct app_claims *out) {
  const char *d1, *d2;
  json_object *hdr = NULL, *claims = NULL, *o;
  jwt_t *jwt = NULL;
  char *copy = NULL;
  int64_t exp = 0, nbf = 0;
  int has_exp, has_nbf, rc;
  enum app_auth_code code = APP_AUTH_INVALID_TOKEN;

  memset(out, 0, sizeof(*out));
  if (a->none)
    return verify_none(a, token, len, out);
  if (!token || len == 0)
    return APP_AUTH_MISSING_TOKEN;
  if (len > APP_TOKEN_MAX || memchr(token, '\0', len) || !a->key)
    return APP_AUTH_INVALID_TOKEN;

  /* header.payload.signature, exactly three non-empty segments. */
  d1 = memchr(token, '.', len);
  d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
  if (!d2 || d1 == token || d2 == d1 + 1 || d2 + 1 == token + len ||
      memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
    return APP_AUTH_INVALID_TOKEN;

  /* Pin the algorithm before libjwt sees the token. */
  hdr = decode_segment(token, (size_t)(d1 - token));
  if (!hdr || !json_object_object_get_ex(hdr, "alg", &o) ||
      !json_object_is_type(o, json_type_string) ||
      strcmp(json_object_get_string(o), a->alg_name) != 0 ||
      json_object_object_get_ex(hdr, "crit", NULL))
    goto out;

  copy = strndup(token, len);
  if (!copy)
    goto out;
  if (jwt_decode(&jwt, copy, a->key, (int)a->key_len) != 0 || !jwt ||
      jwt_get_alg(jwt) != a->alg)
    goto out;

  claims = decode_segment(d1 + 1, (size_t)(d2 - d1 - 1));
  if (!claims)
    goto out;
  has_exp = get_time(claims, "exp", &exp);
  has_nbf = get_time(claims, "nbf", &nbf);
  if (has_exp < 0 || has_nbf < 0 || (!has_exp && a->require_exp))
    goto out;
  rc = read_identity(a, claims, out);
  if (rc != APP_AUTH_OK) {
    code = APP_AUTH_INVALID_TOKEN; /* also when out of memory */
    goto out;
  }
  if (has_exp && exp <= INT64_MAX - a->leeway_s && now_s >= exp + a->leeway_s) {
    code = APP_AUTH_TOKEN_EXPIRED;
    goto out;
  }
  if (has_nbf && now_s + a->leeway_s < nbf)
    goto out;
  if (!iss_ok(a, claims) || !aud_ok(a, claims)) {
    code = APP_AUTH_FORBIDDEN;
    goto out;
  }
  out->has_exp = has_exp > 0;
  out->exp = has_exp > 0 ? exp : 0;
  code = APP_AUTH_OK;
out:
  if (code != APP_AUTH_OK)
    app_claims_deinit(out);
  if (jwt)
    jwt_free(jwt);
  if (copy) {
    OPENSSL_cleanse(copy, len);
    free(copy);
  }
  json_object_put(hdr);
  json_object_put(claims);
  return code;
}
