/* kt-auth-publish: the keys teachers publish live talks with.
 *
 * A live talk arrives from OBS, ffmpeg or a camera that cannot log in with
 * a password and a cookie; what it can carry is one string in the stream
 * (the SRT stream id). That string is the teacher's publish key: 32 random
 * bytes in base64url, the same kind of secret as a session token
 * (kt_auth_token_new). One key per account; rotating makes a new one and
 * the old one stops working at once (a key pasted into the wrong chat is
 * fixed by one click).
 *
 * The database keeps only the key's SHA-256, so a copied database publishes
 * nothing, and the key exists in clear only in the answer to the rotation:
 * the teacher copies it into OBS then, as with any API token. A key is
 * looked up by its hash, and the stored hash is compared once more with
 * sodium_memcmp, so the answer takes the same time however many characters
 * of a guess were right. Keys never go to the log: callers log the account.
 */
#define G_LOG_DOMAIN "kt-auth"

#include "kt-auth-private.h"
#include "kt-clock.h"

#include <sodium.h>

char *
kt_auth_publish_key_rotate (KtAuth *auth, const KtUser *user, GError **error)
{
  g_return_val_if_fail (user != NULL, NULL);
  if (user->role == KT_ROLE_VIEWPOINT || user->disabled) {
    g_set_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_INVALID,
                 "only teachers and administrators publish live talks");
    return NULL;
  }
  char *key = kt_auth_token_new ();
  g_autofree char *hash = kt_auth_token_hash (key);
  if (!kt_auth_run (auth,
                    "INSERT INTO publish_keys (user_id, key_hash, created_us) VALUES (?, ?, ?) "
                    "ON CONFLICT (user_id) DO UPDATE SET key_hash = excluded.key_hash, "
                    "created_us = excluded.created_us",
                    NULL, error, 'i', user->id, 's', hash, 'i', kt_clock_now_us (), 0)) {
    kt_auth_free_secret (key);
    return NULL;
  }
  g_info ("publish key rotated name=%s", user->name);
  return key;
}

gboolean
kt_auth_publish_key_created (KtAuth *auth, const KtUser *user, gint64 *created_us,
                             GError **error)
{
  GError *local = NULL;
  sqlite3_stmt *stmt = kt_store_prepare (
      auth->store, "SELECT created_us FROM publish_keys WHERE user_id = ?", &local);
  if (stmt == NULL)
    return kt_auth_store_error (error, local);
  sqlite3_bind_int64 (stmt, 1, user->id);
  gboolean found = sqlite3_step (stmt) == SQLITE_ROW;
  if (found)
    *created_us = sqlite3_column_int64 (stmt, 0);
  sqlite3_reset (stmt);
  if (!found)
    g_set_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_NOT_FOUND, "no publish key yet");
  return found;
}

KtUser *
kt_auth_publish_key_check (KtAuth *auth, const char *key, GError **error)
{
  if (!kt_auth_token_well_formed (key)) {
    g_set_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_CREDENTIALS, "wrong publish key");
    return NULL;
  }
  GError *local = NULL;
  sqlite3_stmt *stmt = kt_store_prepare (
      auth->store,
      "SELECT k.key_hash, " KT_AUTH_USER_COLUMNS
      " FROM publish_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = ?",
      &local);
  if (stmt == NULL) {
    kt_auth_store_error (error, local);
    return NULL;
  }
  g_autofree char *hash = kt_auth_token_hash (key);
  sqlite3_bind_text (stmt, 1, hash, -1, SQLITE_TRANSIENT);
  g_autoptr (KtUser) user = NULL;
  if (sqlite3_step (stmt) == SQLITE_ROW) {
    const char *stored = (const char *) sqlite3_column_text (stmt, 0);
    if (stored && strlen (stored) == strlen (hash)
        && sodium_memcmp (stored, hash, strlen (hash)) == 0)
      user = kt_auth_user_from_row (stmt, 1);
  }
  sqlite3_reset (stmt);
  if (user == NULL || user->role == KT_ROLE_VIEWPOINT) {
    g_set_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_CREDENTIALS, "wrong publish key");
    return NULL;
  }
  if (user->disabled) {
    g_set_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_DISABLED, "account %s is disabled",
                 user->name);
    return NULL;
  }
  return g_steal_pointer (&user);
}
