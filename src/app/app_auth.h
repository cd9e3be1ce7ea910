#ifndef APP_AUTH_H
#define APP_AUTH_H

/* JWT authentication of a connection (SPEC §3 "Authentication").
 *
 * The caller gathers the three candidate tokens as plain strings, picks one
 * with app_auth_pick_token() (CONNECT auth payload {"token"} first, then the
 * handshake's "Authorization: Bearer" header, then the "token" query
 * parameter), and verifies it with app_auth_verify() against an app_auth
 * built from the configuration. The result is either APP_AUTH_OK with the
 * claims the policy needs (app_claims) or exactly one failure code, which
 * app_auth_connect_error() turns into the CONNECT_ERROR payload
 * {"message":"unauthorized","data":{"code":C}}.
 *
 * Failure codes (what the client sees; nothing else is revealed):
 *   missing_token    no token in any of the three places (or an empty one)
 *   invalid_token    not a well-formed JWT; alg in the header is not the
 *                    configured one (this rejects alg "none" and HS/RS
 *                    confusion); bad signature; a crit header; exp absent
 *                    while auth.require_exp; nbf in the future (beyond the
 *                    leeway); sub absent, not a string, or not usable in a
 *                    room name (1..123 bytes of [A-Za-z0-9_.:-]); a claim
 *                    of the wrong JSON type (exp/nbf not numbers, projects/
 *                    agents/role not strings or arrays)
 *   token_expired    now >= exp + leeway
 *   forbidden        authentic and current, but not meant for this server:
 *                    iss differs from auth.issuer or aud does not contain
 *                    one of auth.audience (when those are configured)
 *   connection_limit never returned here; the caller uses it for the
 *                    per-user connection limit.
 *
 * Nothing here logs, and no message or result ever contains the token or
 * the key material. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app_util.h"

struct app_config;

enum app_auth_code {
  APP_AUTH_OK = 0,
  APP_AUTH_MISSING_TOKEN,
  APP_AUTH_INVALID_TOKEN,
  APP_AUTH_TOKEN_EXPIRED,
  APP_AUTH_FORBIDDEN,
  APP_AUTH_CONNECTION_LIMIT,
};

/* "ok", "missing_token", "invalid_token", "token_expired", "forbidden",
 * "connection_limit"; never NULL (unknown codes give "invalid_token"). */
const char *app_auth_code_name(enum app_auth_code code);

/* Builds {"message":"unauthorized","data":{"code":"<code name>"}}, the
 * CONNECT_ERROR payload. Returns a new object the caller owns
 * (json_object_put), or NULL when out of memory. */
json_object *app_auth_connect_error(enum app_auth_code code);

/* --------------------------------------------------------------- claims */

/* A set of ids from a claim such as "projects": ["42", 7] or ["*"]. */
struct app_id_set {
  char **ids; /* owned; n strings (integers are kept in decimal) */
  size_t n;
  bool all; /* the claim contained "*" */
};

/* The verified identity. Everything is owned by the struct and released by
 * app_claims_deinit(). */
struct app_claims {
  char *sub; /* user id, never NULL after APP_AUTH_OK */
  struct app_id_set projects;
  struct app_id_set agents;
  char *role; /* the role claim (first string if an array), or NULL */
  bool admin; /* role (or one of the roles) is "admin" */
  bool has_exp;
  int64_t exp; /* seconds since the epoch; valid when has_exp */
};

void app_claims_deinit(struct app_claims *c);
/* True when id is in s (or s->all). s and id are borrowed. */
bool app_id_set_has(const struct app_id_set *s, const char *id, size_t len);
/* Deep copy of src into dst. Returns 0 or -1 when out of memory (dst is
 * then empty). */
int app_claims_copy(struct app_claims *dst, const struct app_claims *src);

/* ------------------------------------------------------------- verifier */

struct app_auth_params {
  const char *mode;            /* "jwt" or "none" */
  const char *algorithm;       /* "HS256" ... "ES512" */
  const char *secret;          /* HS*: the secret, or "" / NULL */
  const char *secret_file;     /* HS*: file holding it, or "" / NULL */
  const char *public_key_file; /* RS* and ES*: PEM public key file */
  const char *issuer;          /* "" / NULL: iss not checked */
  const char *audience;        /* comma list; "" / NULL: aud not checked */
  bool require_exp;
  int64_t leeway_s;
  const char *claim_projects; /* NULL: "projects" */
  const char *claim_agents;   /* NULL: "agents" */
  const char *claim_role;     /* NULL: "role" */
};

struct app_auth;

/* Creates a verifier. Reads auth.secret_file / auth.public_key_file now (so
 * a bad key is reported at start or reload, not per connection), checks
 * that a PEM key is a public key of the algorithm's type (RSA for RS*, an
 * EC key on P-256/P-384/P-521 for ES256/384/512), and warns about short HS
 * secrets or RSA keys under 2048 bits. In mode "jwt" with an HS* algorithm
 * and no secret at all the verifier is created but rejects every token with
 * invalid_token (app_auth_has_key() tells the caller, which may generate a
 * development secret instead; see app_auth_set_secret()). p and its strings
 * are copied. Returns 0, or -1 with an error in msgs naming the key (e.g.
 * "auth.public_key_file: /x.pem is not a PEM public key"); *out is then
 * NULL. */
int app_auth_new(struct app_auth **out, const struct app_auth_params *p,
                 struct app_msgs *msgs);
/* Same, with the parameters taken from cfg's auth.* keys (borrowed). */
int app_auth_new_from_config(struct app_auth **out,
                             const struct app_config *cfg,
                             struct app_msgs *msgs);
/* NULL-safe. The key material is wiped before it is freed. */
void app_auth_del(struct app_auth *a);

/* True in mode "none" or when key material is loaded. */
bool app_auth_has_key(const struct app_auth *a);
/* True in mode "none". */
bool app_auth_is_none(const struct app_auth *a);
/* Replaces the HS* secret (copied), e.g. with a generated development
 * secret. Returns 0, or -1 when the algorithm is not HS* or out of memory. */
int app_auth_set_secret(struct app_auth *a, const uint8_t *secret, size_t len);

/* Where a token was found. */
enum app_token_source {
  APP_TOKEN_NONE = 0,
  APP_TOKEN_PAYLOAD, /* CONNECT auth payload {"token": ...} */
  APP_TOKEN_HEADER,  /* Authorization: Bearer ... */
  APP_TOKEN_QUERY,   /* ?token=... */
};

/* The "token" member of a CONNECT auth payload when it is a non-empty
 * string, else NULL. auth may be NULL; the result is borrowed from it. */
const char *app_auth_payload_token(json_object *auth);

/* Picks the token by SPEC order: payload_token, then the Authorization
 * header when its scheme is Bearer (case-insensitive; blanks trimmed), then
 * query_token. Empty candidates are skipped. Any argument may be NULL.
 * Returns a pointer into the chosen argument (borrowed) and its length in
 * *len, and the source in *src (either may be NULL); NULL when there is no
 * token. */
const char *app_auth_pick_token(const char *payload_token,
                                const char *authorization,
                                const char *query_token, size_t *len,
                                enum app_token_source *src);

/* Verifies token[0..len) at time now_s (seconds since the epoch) and fills
 * *out on APP_AUTH_OK (the caller then owns it: app_claims_deinit). On any
 * other code *out is left empty (deinit is still safe). token may be NULL
 * (missing_token); a, token and out are borrowed.
 *
 * In mode "none" no token is needed: without one the result is OK with sub
 * "anonymous" and every project and agent allowed (not admin); with one,
 * its payload is read WITHOUT verification (development only) and used as
 * is, exp ignored; a token that cannot be decoded is invalid_token. */
enum app_auth_code app_auth_verify(const struct app_auth *a, const char *token,
                                   size_t len, int64_t now_s,
                                   struct app_claims *out);

#endif
