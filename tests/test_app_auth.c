/* Unit tests of src/app/app_auth.c: token selection order, every failure
 * code, algorithm pinning (alg none, HS256 signed with an RS256 public key
 * as the HMAC secret), RS256/ES256 tokens with the test-only keys of
 * tests/data/jwt/, time claims with leeway, iss/aud, sub and the policy
 * claims. Tokens are made with libjwt itself, or by hand for the malicious
 * ones. */
#include <check.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app_auth.h"
#include "app_util.h"
#include "check_suites.h"

#define NOW 1700000000LL
#define SECRET "0123456789abcdef0123456789abcdef" /* 32 bytes */

/* ------------------------------------------------------------- helpers */

static const char *top_srcdir(void) {
  static char buf[2048];
  const char *env = getenv("srcdir");
  const char *f = __FILE__, *p;
  if (env && *env)
    return env;
  p = strstr(f, "tests/test_app_auth.c");
  if (!p || p == f)
    return ".";
  snprintf(buf, sizeof(buf), "%.*s", (int)(p - f - 1), f);
  return buf;
}

static const char *key_path(const char *name) {
  static char buf[4][4096];
  static int i;
  char *b = buf[i++ % 4];
  snprintf(b, sizeof(buf[0]), "%.2000s/tests/data/jwt/%.200s", top_srcdir(),
           name);
  return b;
}

static char *read_key(const char *name, size_t *len) {
  char *text = NULL;
  ck_assert_int_eq(app_read_file(key_path(name), 1 << 16, &text, len), 0);
  return text;
}

/* A token signed by libjwt. key: the HS secret or the name of a private
 * key file under tests/data/jwt. grants: a JSON object text. */
static char *sign(jwt_alg_t alg, const char *key, const char *grants) {
  jwt_t *j = NULL;
  char *tok, *pem = NULL;
  size_t len;
  ck_assert_int_eq(jwt_new(&j), 0);
  ck_assert_int_eq(jwt_add_grants_json(j, grants), 0);
  if (alg == JWT_ALG_HS256 || alg == JWT_ALG_HS384 || alg == JWT_ALG_HS512) {
    ck_assert_int_eq(
        jwt_set_alg(j, alg, (const unsigned char *)key, (int)strlen(key)), 0);
  } else {
    pem = read_key(key, &len);
    ck_assert_int_eq(jwt_set_alg(j, alg, (unsigned char *)pem, (int)len), 0);
  }
  tok = jwt_encode_str(j);
  ck_assert_ptr_nonnull(tok);
  jwt_free(j);
  free(pem);
  return tok;
}

/* header.payload.sig built by hand. */
static char *by_hand(const char *header, const char *payload, const char *sig) {
  size_t hl = strlen(header), pl = strlen(payload);
  char *t = malloc(app_b64url_encoded_len(hl) + app_b64url_encoded_len(pl) +
                   strlen(sig) + 3);
  char *p = t;
  app_b64url_encode(p, (const uint8_t *)header, hl);
  p += strlen(p);
  *p++ = '.';
  app_b64url_encode(p, (const uint8_t *)payload, pl);
  p += strlen(p);
  *p++ = '.';
  strcpy(p, sig);
  return t;
}

static struct app_auth_params hs_params(void) {
  struct app_auth_params p = {.mode = "jwt",
                              .algorithm = "HS256",
                              .secret = SECRET,
                              .require_exp = true,
                              .leeway_s = 30};
  return p;
}

static struct app_auth *make_auth(const struct app_auth_params *p) {
  struct app_auth *a = NULL;
  struct app_msgs m = {0};
  ck_assert_int_eq(app_auth_new(&a, p, &m), 0);
  ck_assert_ptr_nonnull(a);
  app_msgs_deinit(&m);
  return a;
}

static enum app_auth_code run(const struct app_auth *a, const char *tok,
                              struct app_claims *c) {
  return app_auth_verify(a, tok, tok ? strlen(tok) : 0, NOW, c);
}

/* Verifies tok with the default HS256 verifier; returns the code. */
static enum app_auth_code hs_code(const char *tok) {
  struct app_auth_params p = hs_params();
  struct app_auth *a = make_auth(&p);
  struct app_claims c;
  enum app_auth_code code = run(a, tok, &c);
  app_claims_deinit(&c);
  app_auth_del(a);
  return code;
}

static const char *json_text(json_object *o) {
  return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                               JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* --------------------------------------------------------------- tests */

START_TEST(code_names_and_connect_error) {
  static const char *names[] = {
      "ok",        "missing_token",   "invalid_token", "token_expired",
      "forbidden", "connection_limit"};
  json_object *o;
  int i;
  for (i = APP_AUTH_OK; i <= APP_AUTH_CONNECTION_LIMIT; i++)
    ck_assert_str_eq(app_auth_code_name((enum app_auth_code)i), names[i]);
  for (i = APP_AUTH_MISSING_TOKEN; i <= APP_AUTH_CONNECTION_LIMIT; i++) {
    char want[128];
    o = app_auth_connect_error((enum app_auth_code)i);
    snprintf(want, sizeof(want),
             "{\"message\":\"unauthorized\",\"data\":{\"code\":\"%s\"}}",
             names[i]);
    ck_assert_str_eq(json_text(o), want);
    json_object_put(o);
  }
}
END_TEST

START_TEST(pick_token_order) {
  size_t len;
  enum app_token_source src;
  const char *t;
  json_object *auth = json_tokener_parse("{\"token\":\"P\"}");
  json_object *num = json_tokener_parse("{\"token\":5}");

  ck_assert_str_eq(app_auth_payload_token(auth), "P");
  ck_assert_ptr_null(app_auth_payload_token(num));
  ck_assert_ptr_null(app_auth_payload_token(NULL));

  t = app_auth_pick_token("P", "Bearer H", "Q", &len, &src);
  ck_assert_int_eq(src, APP_TOKEN_PAYLOAD);
  ck_assert_uint_eq(len, 1);
  ck_assert_int_eq(t[0], 'P');

  t = app_auth_pick_token(NULL, "  bearer   H.x.y  ", "Q", &len, &src);
  ck_assert_int_eq(src, APP_TOKEN_HEADER);
  ck_assert_uint_eq(len, 5);
  ck_assert_int_eq(strncmp(t, "H.x.y", len), 0);

  t = app_auth_pick_token("", "Basic dXNlcjpwYXNz", "Q", &len, &src);
  ck_assert_int_eq(src, APP_TOKEN_QUERY);
  ck_assert_str_eq(t, "Q");

  t = app_auth_pick_token(NULL, "Bearer ", NULL, &len, &src);
  ck_assert_ptr_null(t);
  ck_assert_int_eq(src, APP_TOKEN_NONE);
  ck_assert_uint_eq(len, 0);
  ck_assert_ptr_null(app_auth_pick_token(NULL, NULL, "", NULL, NULL));
  json_object_put(auth);
  json_object_put(num);
}
END_TEST

START_TEST(missing_token) {
  ck_assert_int_eq(hs_code(NULL), APP_AUTH_MISSING_TOKEN);
  ck_assert_int_eq(hs_code(""), APP_AUTH_MISSING_TOKEN);
}
END_TEST

START_TEST(hs256_valid_with_claims) {
  struct app_auth_params p = hs_params();
  struct app_auth *a = make_auth(&p);
  struct app_claims c, copy;
  char *tok = sign(JWT_ALG_HS256, SECRET,
                   "{\"sub\":\"u-1\",\"exp\":1700003600,"
                   "\"projects\":[\"42\",7,{\"x\":1}],\"agents\":[\"*\"],"
                   "\"role\":\"member\"}");
  ck_assert_int_eq(run(a, tok, &c), APP_AUTH_OK);
  ck_assert_str_eq(c.sub, "u-1");
  ck_assert(c.has_exp);
  ck_assert_int_eq(c.exp, 1700003600);
  ck_assert_uint_eq(c.projects.n, 2);
  ck_assert_str_eq(c.projects.ids[0], "42");
  ck_assert_str_eq(c.projects.ids[1], "7");
  ck_assert(!c.projects.all);
  ck_assert(app_id_set_has(&c.projects, "7", 1));
  ck_assert(!app_id_set_has(&c.projects, "8", 1));
  ck_assert(c.agents.all);
  ck_assert(app_id_set_has(&c.agents, "anything", 8));
  ck_assert_str_eq(c.role, "member");
  ck_assert(!c.admin);
  ck_assert_int_eq(app_claims_copy(&copy, &c), 0);
  ck_assert_str_eq(copy.projects.ids[1], "7");
  ck_assert_str_eq(copy.sub, "u-1");
  app_claims_deinit(&copy);
  app_claims_deinit(&c);
  app_claims_deinit(&c); /* idempotent */
  free(tok);
  app_auth_del(a);
}
END_TEST

START_TEST(hs384_hs512_pinned) {
  struct app_auth_params p = hs_params();
  struct app_auth *a;
  struct app_claims c;
  char *t384 =
      sign(JWT_ALG_HS384, SECRET SECRET, "{\"sub\":\"u\",\"exp\":1700003600}");
  char *t512 =
      sign(JWT_ALG_HS512, SECRET SECRET, "{\"sub\":\"u\",\"exp\":1700003600}");
  p.secret = SECRET SECRET;
  p.algorithm = "HS384";
  a = make_auth(&p);
  ck_assert_int_eq(run(a, t384, &c), APP_AUTH_OK);
  app_claims_deinit(&c);
  ck_assert_int_eq(run(a, t512, &c), APP_AUTH_INVALID_TOKEN);
  app_auth_del(a);
  p.algorithm = "hs512"; /* config spelling is case-insensitive */
  a = make_auth(&p);
  ck_assert_int_eq(run(a, t512, &c), APP_AUTH_OK);
  app_claims_deinit(&c);
  ck_assert_int_eq(run(a, t384, &c), APP_AUTH_INVALID_TOKEN);
  app_auth_del(a);
  free(t384);
  free(t512);
}
END_TEST

START_TEST(alg_none_rejected) {
  struct app_auth_params p = hs_params();
  struct app_auth *a = make_auth(&p);
  struct app_claims c;
  const char *payload = "{\"sub\":\"u\",\"exp\":1700003600}";
  char *t1 = by_hand("{\"alg\":\"none\",\"typ\":\"JWT\"}", payload, "");
  char *t2 = by_hand("{\"alg\":\"none\"}", payload, "c2ln");
  char *t3 = by_hand("{\"alg\":\"None\"}", payload, "c2ln");
  char *t4 = by_hand("{\"typ\":\"JWT\"}", payload, "c2ln");
  jwt_t *j;
  char *t5;
  ck_assert_int_eq(run(a, t1, &c), APP_AUTH_INVALID_TOKEN);
  ck_assert_int_eq(run(a, t2, &c), APP_AUTH_INVALID_TOKEN);
  ck_assert_int_eq(run(a, t3, &c), APP_AUTH_INVALID_TOKEN);
  ck_assert_int_eq(run(a, t4, &c), APP_AUTH_INVALID_TOKEN);
  /* libjwt's own alg-none output too */
  ck_assert_int_eq(jwt_new(&j), 0);
  jwt_add_grants_json(j, payload);
  t5 = jwt_encode_str(j);
  ck_assert_int_eq(run(a, t5, &c), APP_AUTH_INVALID_TOKEN);
  jwt_free(j);
  free(t1);
  free(t2);
  free(t3);
  free(t4);
  free(t5);
  app_auth_del(a);
}
END_TEST

START_TEST(hs_rs_confusion_rejected) {
  struct app_auth_params p = hs_params();
  struct app_auth *a;
  struct app_claims c;
  size_t len;
  char *pub = read_key("test-only-rsa2048.pub.pem", &len);
  /* The attacker knows the public key and signs HS256 with it. */
  char *forged = sign(JWT_ALG_HS256, pub, "{\"sub\":\"u\",\"exp\":1700003600}");
  char *good = sign(JWT_ALG_RS256, "test-only-rsa2048.key.pem",
                    "{\"sub\":\"u\",\"exp\":1700003600}");
  char hdr[64], *dot, *relabelled;
  p.algorithm = "RS256";
  p.secret = NULL;
  p.public_key_file = key_path("test-only-rsa2048.pub.pem");
  a = make_auth(&p);
  ck_assert_int_eq(run(a, good, &c), APP_AUTH_OK);
  app_claims_deinit(&c);
  ck_assert_int_eq(run(a, forged, &c), APP_AUTH_INVALID_TOKEN);
  /* The same HMAC signature with the header relabelled RS256. */
  app_b64url_encode(hdr, (const uint8_t *)"{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
                    27);
  dot = strchr(forged, '.');
  relabelled = malloc(strlen(hdr) + strlen(dot) + 1);
  strcpy(relabelled, hdr);
  strcat(relabelled, dot);
  ck_assert_int_eq(run(a, relabelled, &c), APP_AUTH_INVALID_TOKEN);
  app_auth_del(a);
  free(relabelled);
  free(forged);
  free(good);
  free(pub);
}
END_TEST

START_TEST(rs256_and_es256_valid) {
  struct app_auth_params p = hs_params();
  struct app_auth *a;
  struct app_claims c;
  const char *g = "{\"sub\":\"u\",\"exp\":1700003600,\"role\":\"admin\"}";
  char *rs = sign(JWT_ALG_RS256, "test-only-rsa2048.key.pem", g);
  char *es = sign(JWT_ALG_ES256, "test-only-ec-p256.key.pem", g);
  char *es384 = sign(JWT_ALG_ES384, "test-only-ec-p384.key.pem", g);
  p.secret = NULL;

  p.algorithm = "RS256";
  p.public_key_file = key_path("test-only-rsa2048.pub.pem");
  a = make_auth(&p);
  ck_assert_int_eq(run(a, rs, &c), APP_AUTH_OK);
  ck_assert(c.admin);
  app_claims_deinit(&c);
  ck_assert_int_eq(run(a, es, &c), APP_AUTH_INVALID_TOKEN);
  app_auth_del(a);

  p.algorithm = "ES256";
  p.public_key_file = key_path("test-only-ec-p256.pub.pem");
  a = make_auth(&p);
  ck_assert_int_eq(run(a, es, &c), APP_AUTH_OK);
  ck_assert_str_eq(c.sub, "u");
  app_claims_deinit(&c);
  ck_assert_int_eq(run(a, rs, &c), APP_AUTH_INVALID_TOKEN);
  ck_assert_int_eq(run(a, es384, &c), APP_AUTH_INVALID_TOKEN);
  app_auth_del(a);

  p.algorithm = "ES384";
  p.public_key_file = key_path("test-only-ec-p384.pub.pem");
  a = make_auth(&p);
  ck_assert_int_eq(run(a, es384, &c), APP_AUTH_OK);
  app_claims_deinit(&c);
  app_auth_del(a);
  free(rs);
  free(es);
  free(es384);
}
END_TEST

START_TEST(bad_keys_refused_at_start) {
  struct app_auth_params p = hs_params();
  struct app_auth *a = (struct app_auth *)1;
  struct app_msgs m = {0};
  p.secret = NULL;

  p.algorithm = "ES256"; /* a P-384 key */
  p.public_key_file = key_path("test-only-ec-p384.pub.pem");
  ck_assert_int_eq(app_auth_new(&a, &p, &m), -1);
  ck_assert_ptr_null(a);
  ck_assert_ptr_nonnull(strstr(m.v[0].text, "wrong curve"));

  p.algorithm = "RS256"; /* an EC key */
  p.public_key_file = key_path("test-only-ec-p256.pub.pem");
  ck_assert_int_eq(app_auth_new(&a, &p, &m), -1);
  ck_assert_ptr_nonnull(strstr(m.v[1].text, "not an RSA public key"));

  p.public_key_file = key_path("test-only-rsa2048.key.pem"); /* private */
  ck_assert_int_eq(app_auth_new(&a, &p, &m), -1);
  ck_assert_ptr_nonnull(strstr(m.v[2].text, "not a PEM public key"));

  p.public_key_file = key_path("does-not-exist.pem");
  ck_assert_int_eq(app_auth_new(&a, &p, &m), -1);
  ck_assert_ptr_nonnull(strstr(m.v[3].text, "auth.public_key_file"));

  p.public_key_file = NULL;
  ck_assert_int_eq(app_auth_new(&a, &p, &m), -1);

  p.algorithm = "none";
  ck_assert_int_eq(app_auth_new(&a, &p, &m), -1);
  p.algorithm = "PS256";
  ck_assert_int_eq(app_auth_new(&a, &p, &m), -1);
  app_msgs_deinit(&m);
}
END_TEST

START_TEST(bad_signature_and_malformed) {
  char *tok = sign(JWT_ALG_HS256, "another-secret-another-secret-xx",
                   "{\"sub\":\"u\",\"exp\":1700003600}");
  char *good =
      sign(JWT_ALG_HS256, SECRET, "{\"sub\":\"u\",\"exp\":1700003600}");
  char *tampered = strdup(good);
  char *p = strchr(tampered, '.') + 3;
  static const char *junk[] = {"abc",          "a.b",       "a.b.c.d",
                               "!!!.e30.c2ln", ".e30.c2ln", "e30..c2ln",
                               "e30.e30."};
  size_t i;
  *p = *p == 'A' ? 'B' : 'A';
  ck_assert_int_eq(hs_code(tok), APP_AUTH_INVALID_TOKEN);
  ck_assert_int_eq(hs_code(good), APP_AUTH_OK);
  ck_assert_int_eq(hs_code(tampered), APP_AUTH_INVALID_TOKEN);
  for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
    ck_assert_int_eq(hs_code(junk[i]), APP_AUTH_INVALID_TOKEN);
  free(tok);
  free(good);
  free(tampered);
}
END_TEST

START_TEST(crit_header_rejected) {
  /* Signed correctly, but with a crit header we do not understand. */
  jwt_t *j;
  char *tok;
  ck_assert_int_eq(jwt_new(&j), 0);
  jwt_add_grants_json(j, "{\"sub\":\"u\",\"exp\":1700003600}");
  jwt_add_headers_json(j, "{\"crit\":[\"x-ext\"],\"x-ext\":1}");
  jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)SECRET, 32);
  tok = jwt_encode_str(j);
  ck_assert_int_eq(hs_code(tok), APP_AUTH_INVALID_TOKEN);
  jwt_free(j);
  free(tok);
}
END_TEST

START_TEST(expiry_and_leeway) {
  char g[128];
  char *t;
  /* expired 10 s ago: inside the 30 s leeway */
  snprintf(g, sizeof(g), "{\"sub\":\"u\",\"exp\":%lld}", NOW - 10);
  t = sign(JWT_ALG_HS256, SECRET, g);
  ck_assert_int_eq(hs_code(t), APP_AUTH_OK);
  free(t);
  /* expired exactly leeway ago: out */
  snprintf(g, sizeof(g), "{\"sub\":\"u\",\"exp\":%lld}", NOW - 30);
  t = sign(JWT_ALG_HS256, SECRET, g);
  ck_assert_int_eq(hs_code(t), APP_AUTH_TOKEN_EXPIRED);
  free(t);
  snprintf(g, sizeof(g), "{\"sub\":\"u\",\"exp\":%lld}", NOW - 3600);
  t = sign(JWT_ALG_HS256, SECRET, g);
  ck_assert_int_eq(hs_code(t), APP_AUTH_TOKEN_EXPIRED);
  free(t);
  /* a fractional exp is accepted (NumericDate) */
  snprintf(g, sizeof(g), "{\"sub\":\"u\",\"exp\":%lld.5}", NOW + 60);
  t = sign(JWT_ALG_HS256, SECRET, g);
  ck_assert_int_eq(hs_code(t), APP_AUTH_OK);
  free(t);
  /* exp of the wrong type */
  t = sign(JWT_ALG_HS256, SECRET, "{\"sub\":\"u\",\"exp\":\"tomorrow\"}");
  ck_assert_int_eq(hs_code(t), APP_AUTH_INVALID_TOKEN);
  free(t);
  /* huge exp does not overflow */
  t = sign(JWT_ALG_HS256, SECRET,
           "{\"sub\":\"u\",\"exp\":9223372036854775807}");
  ck_assert_int_eq(hs_code(t), APP_AUTH_OK);
  free(t);
}
END_TEST

START_TEST(expired_without_leeway) {
  struct app_auth_params p = hs_params();
  struct app_auth *a;
  struct app_claims c;
  char g[128], *t;
  p.leeway_s = 0;
  a = make_auth(&p);
  snprintf(g, sizeof(g), "{\"sub\":\"u\",\"exp\":%lld}", NOW - 1);
  t = sign(JWT_ALG_HS256, SECRET, g);
  ck_assert_int_eq(run(a, t, &c), APP_AUTH_TOKEN_EXPIRED);
  free(t);
  snprintf(g, sizeof(g), "{\"sub\":\"u\",\"exp\":%lld}", NOW + 1);
  t = sign(JWT_ALG_HS256, SECRET, g);
  ck_assert_int_eq(run(a, t, &c), APP_AUTH_OK);
  app_claims_deinit(&c);
  free(t);
  app_auth_del(a);
}
END_TEST

START_TEST(exp_required) {
  struct app_auth_params p = hs_params();
  struct app_auth *a;
  struct app_claims c;
  char *t = sign(JWT_ALG_HS256, SECRET, "{\"sub\":\"u\"}");
  ck_assert_int_eq(hs_code(t), APP_AUTH_INVALID_TOKEN);
  p.require_exp = false;
  a = make_auth(&p);
  ck_assert_int_eq(run(a, t, &c), APP_AUTH_OK);
  ck_assert(!c.has_exp);
  ck_assert_int_eq(c.exp, 0);
  app_claims_deinit(&c);
  app_auth_del(a);
  free(t);
}
END_TEST

START_TEST(future_nbf) {
  char g[160], *t;
  snprintf(g, sizeof(g), "{\"sub\":\"u\",\"exp\":%lld,\"nbf\":%lld}",
           NOW + 7200, NOW + 3600);
  t = sign(JWT_ALG_HS256, SECRET, g);
  ck_assert_int_eq(hs_code(t), APP_AUTH_INVALID_TOKEN);
  free(t);
  /* within the leeway */
  snprintf(g, sizeof(g), "{\"sub\":\"u\",\"exp\":%lld,\"nbf\":%lld}",
           NOW + 7200, NOW + 20);
  t = sign(JWT_ALG_HS256, SECRET, g);
  ck_assert_int_eq(hs_code(t), APP_AUTH_OK);
  free(t);
  snprintf(g, sizeof(g), "{\"sub\":\"u\",\"exp\":%lld,\"nbf\":\"soon\"}",
           NOW + 7200);
  t = sign(JWT_ALG_HS256, SECRET, g);
  ck_assert_int_eq(hs_code(t), APP_AUTH_INVALID_TOKEN);
  free(t);
}
END_TEST

START_TEST(issuer_and_audience) {
  struct app_auth_params p = hs_params();
  struct app_auth *a;
  struct app_claims c;
  static const struct {
    const char *grants;
    enum app_auth_code code;
  } cases[] = {
      {"{\"iss\":\"https://id.example\",\"aud\":\"rt\"}", APP_AUTH_OK},
      {"{\"iss\":\"https://id.example\",\"aud\":[\"x\",\"rt2\"]}", APP_AUTH_OK},
      {"{\"iss\":\"https://evil.example\",\"aud\":\"rt\"}", APP_AUTH_FORBIDDEN},
      {"{\"aud\":\"rt\"}", APP_AUTH_FORBIDDEN},
      {"{\"iss\":\"https://id.example\",\"aud\":\"other\"}",
       APP_AUTH_FORBIDDEN},
      {"{\"iss\":\"https://id.example\",\"aud\":[\"a\",\"b\"]}",
       APP_AUTH_FORBIDDEN},
      {"{\"iss\":\"https://id.example\"}", APP_AUTH_FORBIDDEN},
      {"{\"iss\":\"https://id.example\",\"aud\":7}", APP_AUTH_FORBIDDEN},
  };
  size_t i;
  p.issuer = "https://id.example";
  p.audience = "rt, rt2";
  a = make_auth(&p);
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_object *o = json_tokener_parse(cases[i].grants);
    char *t;
    json_object_object_add(o, "sub", json_object_new_string("u"));
    json_object_object_add(o, "exp", json_object_new_int64(NOW + 60));
    t = sign(JWT_ALG_HS256, SECRET, json_object_to_json_string(o));
    ck_assert_msg(run(a, t, &c) == cases[i].code, "case %zu", i);
    app_claims_deinit(&c);
    free(t);
    json_object_put(o);
  }
  app_auth_del(a);
}
END_TEST

START_TEST(sub_required) {
  static const char *bad[] = {
      "{\"exp\":1700003600}",
      "{\"sub\":42,\"exp\":1700003600}",
      "{\"sub\":\"\",\"exp\":1700003600}",
      "{\"sub\":\"a b\",\"exp\":1700003600}",
      "{\"sub\":null,\"exp\":1700003600}",
  };
  size_t i;
  char *t;
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    t = sign(JWT_ALG_HS256, SECRET, bad[i]);
    ck_assert_msg(hs_code(t) == APP_AUTH_INVALID_TOKEN, "case %zu", i);
    free(t);
  }
  t = sign(JWT_ALG_HS256, SECRET,
           "{\"sub\":\"auth0:5f.d-e_1\",\"exp\":1700003600}");
  ck_assert_int_eq(hs_code(t), APP_AUTH_OK);
  free(t);
}
END_TEST

START_TEST(claim_names_configurable) {
  struct app_auth_params p = hs_params();
  struct app_auth *a;
  struct app_claims c;
  char *t = sign(JWT_ALG_HS256, SECRET,
                 "{\"sub\":\"u\",\"exp\":1700003600,"
                 "\"https://x/projects\":\"9\",\"bots\":[1,2],"
                 "\"roles\":[\"viewer\",\"admin\"],\"projects\":[\"no\"]}");
  char *bad = sign(JWT_ALG_HS256, SECRET,
                   "{\"sub\":\"u\",\"exp\":1700003600,\"bots\":{\"a\":1}}");
  p.claim_projects = "https://x/projects";
  p.claim_agents = "bots";
  p.claim_role = "roles";
  a = make_auth(&p);
  ck_assert_int_eq(run(a, t, &c), APP_AUTH_OK);
  ck_assert_uint_eq(c.projects.n, 1);
  ck_assert_str_eq(c.projects.ids[0], "9");
  ck_assert_uint_eq(c.agents.n, 2);
  ck_assert_str_eq(c.agents.ids[1], "2");
  ck_assert_str_eq(c.role, "viewer");
  ck_assert(c.admin);
  app_claims_deinit(&c);
  ck_assert_int_eq(run(a, bad, &c), APP_AUTH_INVALID_TOKEN);
  app_auth_del(a);
  free(t);
  free(bad);
}
END_TEST

START_TEST(secret_file_and_missing_key) {
  char path[] = "/tmp/sio-test-secret-XXXXXX";
  int fd = mkstemp(path);
  struct app_auth_params p = hs_params();
  struct app_auth *a;
  struct app_claims c;
  struct app_msgs m = {0};
  char *t = sign(JWT_ALG_HS256, SECRET, "{\"sub\":\"u\",\"exp\":1700003600}");
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, SECRET "\n", 33), 33);
  close(fd);
  p.secret = NULL;
  p.secret_file = path;
  a = make_auth(&p);
  ck_assert(app_auth_has_key(a));
  ck_assert_int_eq(run(a, t, &c), APP_AUTH_OK);
  app_claims_deinit(&c);
  app_auth_del(a);
  unlink(path);

  /* No key at all: created, but nothing verifies until a secret is set. */
  p.secret_file = NULL;
  ck_assert_int_eq(app_auth_new(&a, &p, &m), 0);
  ck_assert(!app_auth_has_key(a));
  ck_assert_int_eq(run(a, t, &c), APP_AUTH_INVALID_TOKEN);
  ck_assert_int_eq(app_auth_set_secret(a, (const uint8_t *)SECRET, 32), 0);
  ck_assert_int_eq(run(a, t, &c), APP_AUTH_OK);
  app_claims_deinit(&c);
  app_auth_del(a);

  /* A short secret is a warning that does not repeat the secret. */
  p.secret = "shortsecret";
  ck_assert_int_eq(app_auth_new(&a, &p, &m), 0);
  ck_assert_uint_eq(m.n, 1);
  ck_assert_int_eq(m.v[0].level, APP_MSG_WARN);
  ck_assert_ptr_null(strstr(m.v[0].text, "shortsecret"));
  app_auth_del(a);
  app_msgs_deinit(&m);
  free(t);
}
END_TEST

START_TEST(mode_none) {
  struct app_auth_params p = {.mode = "none"};
  struct app_auth *a = make_auth(&p);
  struct app_claims c;
  char *t = by_hand("{\"alg\":\"none\"}",
                    "{\"sub\":\"dev\",\"projects\":[\"1\"]}", "");
  ck_assert(app_auth_is_none(a));
  ck_assert_int_eq(run(a, NULL, &c), APP_AUTH_OK);
  ck_assert_str_eq(c.sub, "anonymous");
  ck_assert(c.projects.all && c.agents.all && !c.admin);
  app_claims_deinit(&c);
  ck_assert_int_eq(run(a, t, &c), APP_AUTH_OK);
  ck_assert_str_eq(c.sub, "dev");
  ck_assert(!c.projects.all);
  app_claims_deinit(&c);
  ck_assert_int_eq(run(a, "garbage", &c), APP_AUTH_INVALID_TOKEN);
  app_auth_del(a);
  free(t);
}
END_TEST

START_TEST(oversized_token) {
  char *t = malloc(9001);
  memset(t, 'a', 9000);
  t[9000] = '\0';
  t[10] = '.';
  t[20] = '.';
  ck_assert_int_eq(hs_code(t), APP_AUTH_INVALID_TOKEN);
  free(t);
}
END_TEST

Suite *app_auth_suite(void) {
  Suite *s = suite_create("app_auth");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, code_names_and_connect_error);
  tcase_add_test(tc, pick_token_order);
  tcase_add_test(tc, missing_token);
  tcase_add_test(tc, hs256_valid_with_claims);
  tcase_add_test(tc, hs384_hs512_pinned);
  tcase_add_test(tc, alg_none_rejected);
  tcase_add_test(tc, hs_rs_confusion_rejected);
  tcase_add_test(tc, rs256_and_es256_valid);
  tcase_add_test(tc, bad_keys_refused_at_start);
  tcase_add_test(tc, bad_signature_and_malformed);
  tcase_add_test(tc, crit_header_rejected);
  tcase_add_test(tc, expiry_and_leeway);
  tcase_add_test(tc, expired_without_leeway);
  tcase_add_test(tc, exp_required);
  tcase_add_test(tc, future_nbf);
  tcase_add_test(tc, issuer_and_audience);
  tcase_add_test(tc, sub_required);
  tcase_add_test(tc, claim_names_configurable);
  tcase_add_test(tc, secret_file_and_missing_key);
  tcase_add_test(tc, mode_none);
  tcase_add_test(tc, oversized_token);
  suite_add_tcase(s, tc);
  return s;
}
