/* kt-auth-session: the tokens of signed-in browsers.
 *
 * A session is made at login (kt-auth.c decides who may log in) and found
 * again by the cookie the browser sends. The token is 32 bytes from
 * randombytes_buf, sent base64url-encoded; the database keeps only its
 * SHA-256, so a copied database (a backup left on a USB stick) gives no live
 * session. Looking a session up by that hash needs no constant-time
 * compare: timing could reveal bits of a hash, and a hash is no use without
 * the token behind it. The CSRF token is different: the browser sends it
 * back and we compare it with the stored one, so that compare is
 * sodium_memcmp.
 *
 * A session ends at a fixed time after login (expires_us, from [auth]
 * session_hours), when its account is disabled or its password changes
 * (kt-auth.c deletes its rows), or at logout. A session found expired is
 * deleted there and then; housekeeping (kt_auth_purge) removes the rest.
 * last_seen_us is kept to the minute, for the operator, so that a busy
 * page does not write the database on every request.
 */
#define G_LOG_DOMAIN "kt-auth"

#include "kt-auth-private.h"
#include "kt-clock.h"

#include <sodium.h>

#define TOKEN_BYTES 32
#define TOKEN_CHARS KT_AUTH_TOKEN_CHARS /* base64url of 32 bytes, unpadded */
#define LAST_SEEN_GRAIN_US (G_GINT64_CONSTANT (60) * KT_USEC_PER_SEC)

void
kt_session_free (KtSession *session)
{
  if (session == NULL)
    return;
  kt_user_free (session->user);
  if (session->token)
    sodium_memzero (session->token, strlen (session->token));
  g_free (session->token);
  g_free (session->token_hash);
  g_free (session->csrf);
  g_free (session);
}

char *
kt_auth_token_new (void)
{
  guchar bytes[TOKEN_BYTES];
  char text[TOKEN_CHARS + 1];
  randombytes_buf (bytes, sizeof bytes);
  sodium_bin2base64 (text, sizeof text, bytes, sizeof bytes,
                     sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero (bytes, sizeof bytes);
  return g_strdup (text);
}

char *
kt_auth_token_hash (const char *token)
{
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, token, -1);
}

gboolean
kt_auth_token_well_formed (const char *token)
{
  if (token == NULL || strlen (token) != TOKEN_CHARS)
    return FALSE;
  for (const char *p = token; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

gboolean
kt_auth_session_check_csrf (const KtSession *session, const char *csrf)
{
  g_return_val_if_fail (session != NULL, FALSE);
  gsize len = strlen (session->csrf);
  return csrf != NULL && strlen (csrf) == len && sodium_memcmp (csrf, session->csrf, len) == 0;
}

KtSession *
kt_auth_session_start (KtAuth *auth, KtUser *user, GError **error)
{
  gint64 now = kt_clock_now_us ();
  g_autoptr (KtSession) session = g_new0 (KtSession, 1);
  session->user = user;
  session->token = kt_auth_token_new ();
  session->token_hash = kt_auth_token_hash (session->token);
  session->csrf = kt_auth_token_new ();
  session->created_us = now;
  session->expires_us = now + auth->session_us;
  if (!kt_auth_run (auth,
                    "INSERT INTO sessions (token_hash, user_id, csrf, created_us, expires_us, "
                    "last_seen_us) VALUES (?, ?, ?, ?, ?, ?)",
                    NULL, error, 's', session->token_hash, 'i', user->id, 's', session->csrf, 'i',
                    now, 'i', session->expires_us, 'i', now, 0))
    return NULL;
  return g_steal_pointer (&session);
}

KtSession *
kt_auth_session_lookup (KtAuth *auth, const char *token, GError **error)
{
  if (!kt_auth_token_well_formed (token)) {
    g_set_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_NO_SESSION, "not signed in");
    return NULL;
  }
  GError *local = NULL;
  sqlite3_stmt *stmt = kt_store_prepare (
      auth->store,
      "SELECT s.csrf, s.created_us, s.expires_us, s.last_seen_us, " KT_AUTH_USER_COLUMNS
      " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?",
      &local);
  if (stmt == NULL) {
    kt_auth_store_error (error, local);
    return NULL;
  }
  g_autoptr (KtSession) session = g_new0 (KtSession, 1);
  session->token_hash = kt_auth_token_hash (token);
  sqlite3_bind_text (stmt, 1, session->token_hash, -1, SQLITE_TRANSIENT);
  gint64 last_seen = 0;
  if (sqlite3_step (stmt) == SQLITE_ROW) {
    session->csrf = g_strdup ((const char *)sqlite3_column_text (stmt, 0));
    session->created_us = sqlite3_column_int64 (stmt, 1);
    session->expires_us = sqlite3_column_int64 (stmt, 2);
    last_seen = sqlite3_column_int64 (stmt, 3);
    session->user = kt_auth_user_from_row (stmt, 4);
  }
  sqlite3_reset (stmt);

  gint64 now = kt_clock_now_us ();
  if (session->user == NULL || session->user->disabled || now >= session->expires_us) {
    if (session->user != NULL) /* expired: forget it now rather than at the next purge */
      kt_auth_run (auth, "DELETE FROM sessions WHERE token_hash = ?", NULL, NULL, 's',
                   session->token_hash, 0);
    g_set_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_NO_SESSION, "not signed in");
    return NULL;
  }
  /* Last seen is for the operator's eyes: a minute's grain saves a write per
   * request. */
  if (now - last_seen >= LAST_SEEN_GRAIN_US)
    kt_auth_run (auth, "UPDATE sessions SET last_seen_us = ? WHERE token_hash = ?", NULL, NULL, 'i',
                 now, 's', session->token_hash, 0);
  return g_steal_pointer (&session);
}

gboolean
kt_auth_session_end (KtAuth *auth, const KtSession *session, GError **error)
{
  if (!kt_auth_run (auth, "DELETE FROM sessions WHERE token_hash = ?", NULL, error, 's',
                    session->token_hash, 0))
    return FALSE;
  g_info ("logout name=%s", session->user->name);
  return TRUE;
}
