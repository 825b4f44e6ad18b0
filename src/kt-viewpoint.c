/* kt-viewpoint: the registered viewing points (收视点).
 *
 * A viewing point is a room with a TV or PC: a community hall, a village
 * office. It has no password and nobody logs in there; the TV's browser
 * opens a kiosk URL that carries the room's access token, and heartbeats
 * name the room by that token. The token is 32 bytes from randombytes_buf,
 * base64url without padding, shown once when it is made; the database keeps
 * only its SHA-256, so a stolen database copy cannot speak for a room.
 * Finding a room by its token is a lookup by that hash: as for session
 * cookies (kt-auth-session.c), timing may reveal bits of a hash, which are
 * no use without the token behind it.
 *
 * Some TV boxes are easier to set up by typing: each room also gets a
 * 6-digit short code, random and unique. A code is far easier to guess than
 * a token; it identifies a room for attendance, nothing more.
 *
 * Issuing a new token replaces the hash, so the old token stops working at
 * once (a kiosk URL that leaked is dealt with by `ketang viewpoint token`).
 *
 * Kiosks say who they are often: a player without JavaScript on every
 * playlist reload (every 2 s), a kiosk page with every heartbeat. The
 * KtViewpointCache answers those from memory, by token hash and by code,
 * for as long as kt_store_table_version says no row of viewpoints changed;
 * at any change it forgets everything. That covers every write, the ones
 * here, raw SQL anywhere in the process and `ketang viewpoint token` or
 * `disable` run from a shell while the server runs, so a rotated token or
 * a disabled room stops counting with the next request. The cache still
 * hashes the token: keyed by the token itself, a lookup's timing would be
 * about the token rather than about its hash (see above). Only rooms that
 * exist are kept, so it holds at most two entries per room; a wrong token
 * costs a database lookup each time, as before. Viewing points are
 * reference counted (g_rc_box) so that a cached one can be handed out
 * without copying and outlive the cache's forgetting it.
 */
#define G_LOG_DOMAIN "kt-viewpoint"

#include "kt-viewpoint.h"
#include "kt-auth.h"
#include "kt-clock.h"
#include "kt-timetable.h"

#include <sodium.h>

G_DEFINE_QUARK (kt-viewpoint-error-quark, kt_viewpoint_error)

#define TOKEN_CHARS KT_AUTH_TOKEN_CHARS
#define TEXT_MAX 200   /* bytes of a name, township, contact or phone */
#define SEATS_MAX 100000
#define CODE_TRIES 50

#define COLUMNS "id, name, township, contact, phone, seats, disabled, code, created_us, channel"

static void
viewpoint_clear (gpointer data)
{
  KtViewpoint *viewpoint = data;
  g_free (viewpoint->name);
  g_free (viewpoint->township);
  g_free (viewpoint->contact);
  g_free (viewpoint->phone);
  g_free (viewpoint->code);
  g_free (viewpoint->channel);
}

void
kt_viewpoint_free (KtViewpoint *viewpoint)
{
  if (viewpoint != NULL)
    g_rc_box_release_full (viewpoint, viewpoint_clear);
}

KtViewpoint *
kt_viewpoint_ref (KtViewpoint *viewpoint)
{
  return g_rc_box_acquire (viewpoint);
}

static gboolean
store_error (KtStore *store, GError **error)
{
  g_set_error (error, KT_VIEWPOINT_ERROR, KT_VIEWPOINT_ERROR_STORE, "database: %s",
               sqlite3_errmsg (kt_store_handle (store)));
  return FALSE;
}

static KtViewpoint *
from_row (sqlite3_stmt *stmt)
{
  KtViewpoint *v = g_rc_box_new0 (KtViewpoint);
  v->id = sqlite3_column_int64 (stmt, 0);
  v->name = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
  v->township = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
  v->contact = g_strdup ((const char *) sqlite3_column_text (stmt, 3));
  v->phone = g_strdup ((const char *) sqlite3_column_text (stmt, 4));
  v->seats = sqlite3_column_int64 (stmt, 5);
  v->disabled = sqlite3_column_int (stmt, 6) != 0;
  v->code = g_strdup ((const char *) sqlite3_column_text (stmt, 7));
  v->created_us = sqlite3_column_int64 (stmt, 8);
  v->channel = g_strdup ((const char *) sqlite3_column_text (stmt, 9));
  return v;
}

/* One row WHERE @column = @value (text, or an integer when @text is NULL). */
static KtViewpoint *
find_by (KtStore *store, const char *sql, const char *text, gint64 number, GError **error)
{
  sqlite3_stmt *stmt = kt_store_prepare (store, sql, NULL);
  if (stmt == NULL) {
    store_error (store, error);
    return NULL;
  }
  if (text != NULL)
    sqlite3_bind_text (stmt, 1, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_int64 (stmt, 1, number);
  int rc = sqlite3_step (stmt);
  KtViewpoint *v = rc == SQLITE_ROW ? from_row (stmt) : NULL;
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    store_error (store, error);
  else if (v == NULL)
    g_set_error (error, KT_VIEWPOINT_ERROR, KT_VIEWPOINT_ERROR_NOT_FOUND, "no such viewing point");
  sqlite3_reset (stmt);
  return v;
}

KtViewpoint *
kt_viewpoint_find (KtStore *store, const char *name, GError **error)
{
  return find_by (store, "SELECT " COLUMNS " FROM viewpoints WHERE name = ?", name, 0, error);
}

KtViewpoint *
kt_viewpoint_find_id (KtStore *store, gint64 id, GError **error)
{
  return find_by (store, "SELECT " COLUMNS " FROM viewpoints WHERE id = ?", NULL, id, error);
}

#define BY_TOKEN_HASH "SELECT " COLUMNS " FROM viewpoints WHERE token_hash = ?"
#define BY_CODE "SELECT " COLUMNS " FROM viewpoints WHERE code = ?"

/* The hash a token is found by; NULL with NOT_FOUND for what cannot be a
 * token. (transfer full) */
static char *
token_hash (const char *token, GError **error)
{
  if (token == NULL || strlen (token) != TOKEN_CHARS) {
    g_set_error (error, KT_VIEWPOINT_ERROR, KT_VIEWPOINT_ERROR_NOT_FOUND, "unknown token");
    return NULL;
  }
  return kt_auth_token_hash (token);
}

KtViewpoint *
kt_viewpoint_find_token (KtStore *store, const char *token, GError **error)
{
  g_autofree char *hash = token_hash (token, error);
  return hash ? find_by (store, BY_TOKEN_HASH, hash, 0, error) : NULL;
}

struct _KtViewpointCache {
  KtStore *store;
  guint64 version;       /* kt_store_table_version of viewpoints when these were read */
  GHashTable *by_hash;   /* token hash → KtViewpoint* (a reference) */
  GHashTable *by_code;   /* code → KtViewpoint* (a reference) */
};

KtViewpointCache *
kt_viewpoint_cache_new (KtStore *store)
{
  KtViewpointCache *cache = g_new0 (KtViewpointCache, 1);
  cache->store = store;
  cache->version = kt_store_table_version (store, "viewpoints");
  cache->by_hash = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) kt_viewpoint_free);
  cache->by_code = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) kt_viewpoint_free);
  return cache;
}

void
kt_viewpoint_cache_free (KtViewpointCache *cache)
{
  if (cache == NULL)
    return;
  g_hash_table_destroy (cache->by_hash);
  g_hash_table_destroy (cache->by_code);
  g_free (cache);
}

/* Forget everything when a row of viewpoints may have changed. */
static void
cache_check (KtViewpointCache *cache)
{
  guint64 version = kt_store_table_version (cache->store, "viewpoints");
  if (version == cache->version)
    return;
  g_hash_table_remove_all (cache->by_hash);
  g_hash_table_remove_all (cache->by_code);
  cache->version = version;
}

/* @key in @table, else @sql's row for it, remembered. */
static KtViewpoint *
cache_find (KtViewpointCache *cache, GHashTable *table, const char *sql, const char *key,
            GError **error)
{
  cache_check (cache);
  KtViewpoint *v = g_hash_table_lookup (table, key);
  if (v != NULL)
    return kt_viewpoint_ref (v);
  v = find_by (cache->store, sql, key, 0, error);
  if (v != NULL)
    g_hash_table_insert (table, g_strdup (key), kt_viewpoint_ref (v));
  return v;
}

KtViewpoint *
kt_viewpoint_cache_find_token (KtViewpointCache *cache, const char *token, GError **error)
{
  g_autofree char *hash = token_hash (token, error);
  return hash ? cache_find (cache, cache->by_hash, BY_TOKEN_HASH, hash, error) : NULL;
}

KtViewpoint *
kt_viewpoint_cache_find_code (KtViewpointCache *cache, const char *code, GError **error)
{
  return cache_find (cache, cache->by_code, BY_CODE, code, error);
}

KtViewpoint *
kt_viewpoint_find_code (KtStore *store, const char *code, GError **error)
{
  return find_by (store, BY_CODE, code, 0, error);
}

GPtrArray *
kt_viewpoint_list (KtStore *store, GError **error)
{
  sqlite3_stmt *stmt = kt_store_prepare (
      store, "SELECT " COLUMNS " FROM viewpoints ORDER BY township, name", NULL);
  if (stmt == NULL) {
    store_error (store, error);
    return NULL;
  }
  g_autoptr (GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify) kt_viewpoint_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (list, from_row (stmt));
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE) {
    store_error (store, error);
    return NULL;
  }
  return g_steal_pointer (&list);
}

static gboolean
check_text (const char *what, const char *text, gboolean required, GError **error)
{
  if (text == NULL)
    return TRUE;
  gsize len = strlen (text);
  gboolean blank = TRUE;
  for (const char *p = text; *p; p = g_utf8_next_char (p))
    blank &= g_unichar_isspace (g_utf8_get_char (p));
  if (!g_utf8_validate (text, -1, NULL) || len > TEXT_MAX || (required && blank)) {
    g_set_error (error, KT_VIEWPOINT_ERROR, KT_VIEWPOINT_ERROR_INVALID,
                 "the %s must be %s text of at most %d bytes", what,
                 required ? "non-empty" : "UTF-8", TEXT_MAX);
    return FALSE;
  }
  for (const char *p = text; *p; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p))) {
      g_set_error (error, KT_VIEWPOINT_ERROR, KT_VIEWPOINT_ERROR_INVALID,
                   "the %s must not hold control characters", what);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_fields (const KtViewpointFields *f, GError **error)
{
  if (!check_text ("name", f->name, TRUE, error) ||
      !check_text ("township", f->township, TRUE, error) ||
      !check_text ("contact", f->contact, FALSE, error) ||
      !check_text ("phone", f->phone, FALSE, error))
    return FALSE;
  if (f->seats > SEATS_MAX) {
    g_set_error (error, KT_VIEWPOINT_ERROR, KT_VIEWPOINT_ERROR_INVALID,
                 "seats must be from 0 to %d", SEATS_MAX);
    return FALSE;
  }
  if (f->channel != NULL && !kt_channel_id_valid (f->channel)) {
    g_set_error (error, KT_VIEWPOINT_ERROR, KT_VIEWPOINT_ERROR_INVALID,
                 "a channel id is letters, digits, “-” and “_”");
    return FALSE;
  }
  return TRUE;
}

/* A 6-digit code no viewing point has yet. */
static char *
free_code (KtStore *store, GError **error)
{
  for (int i = 0; i < CODE_TRIES; i++) {
    g_autofree char *code = g_strdup_printf ("%06u", randombytes_uniform (1000000));
    g_autoptr (GError) local = NULL;
    g_autoptr (KtViewpoint) taken = kt_viewpoint_find_code (store, code, &local);
    if (taken == NULL && g_error_matches (local, KT_VIEWPOINT_ERROR, KT_VIEWPOINT_ERROR_NOT_FOUND))
      return g_steal_pointer (&code);
    if (taken == NULL) {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  }
  g_set_error (error, KT_VIEWPOINT_ERROR, KT_VIEWPOINT_ERROR_STORE, "no free short code found");
  return NULL;
}

static gboolean
constraint_failed (KtStore *store)
{
  return sqlite3_errcode (kt_store_handle (store)) == SQLITE_CONSTRAINT;
}

KtViewpoint *
kt_viewpoint_add (KtStore *store, const KtViewpointFields *fields, char **token, GError **error)
{
  if (fields->name == NULL || fields->township == NULL) {
    g_set_error (error, KT_VIEWPOINT_ERROR, KT_VIEWPOINT_ERROR_INVALID,
                 "a viewing point needs a name and a township");
    return NULL;
  }
  if (!check_fields (fields, error))
    return NULL;
  g_autofree char *code = free_code (store, error);
  if (code == NULL)
    return NULL;
  g_autofree char *clear = kt_auth_token_new ();
  g_autofree char *hash = kt_auth_token_hash (clear);
  sqlite3_stmt *stmt = kt_store_prepare (
      store,
      "INSERT INTO viewpoints (name, township, contact, phone, seats, disabled, token_hash, "
      "code, created_us, channel) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      NULL);
  if (stmt == NULL) {
    store_error (store, error);
    return NULL;
  }
  sqlite3_bind_text (stmt, 1, fields->name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, fields->township, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, fields->contact ? fields->contact : "", -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 4, fields->phone ? fields->phone : "", -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 5, MAX (fields->seats, 0));
  sqlite3_bind_int (stmt, 6, fields->disabled > 0);
  sqlite3_bind_text (stmt, 7, hash, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 8, code, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 9, kt_clock_now_us ());
  sqlite3_bind_text (stmt, 10, fields->channel ? fields->channel : "1", -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step (stmt);
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE) {
    if (constraint_failed (store))
      g_set_error (error, KT_VIEWPOINT_ERROR, KT_VIEWPOINT_ERROR_EXISTS,
                   "a viewing point named “%s” exists", fields->name);
    else
      store_error (store, error);
    return NULL;
  }
  g_info ("viewpoint added name=%s code=%s", fields->name, code);
  KtViewpoint *v = kt_viewpoint_find (store, fields->name, error);
  if (v != NULL && token != NULL)
    *token = g_steal_pointer (&clear);
  else if (clear != NULL)
    sodium_memzero (clear, strlen (clear));
  return v;
}

KtViewpoint *
kt_viewpoint_update (KtStore *store, gint64 id, const KtViewpointFields *fields, GError **error)
{
  if (!check_fields (fields, error))
    return NULL;
  sqlite3_stmt *stmt = kt_store_prepare (
      store,
      "UPDATE viewpoints SET name = coalesce (?1, name), township = coalesce (?2, township),"
      " contact = coalesce (?3, contact), phone = coalesce (?4, phone),"
      " seats = CASE WHEN ?5 < 0 THEN seats ELSE ?5 END,"
      " disabled = CASE WHEN ?6 < 0 THEN disabled ELSE ?6 END,"
      " channel = coalesce (?8, channel) WHERE id = ?7",
      NULL);
  if (stmt == NULL) {
    store_error (store, error);
    return NULL;
  }
  const char *texts[] = { fields->name, fields->township, fields->contact, fields->phone };
  for (int i = 0; i < 4; i++)
    if (texts[i] != NULL)
      sqlite3_bind_text (stmt, i + 1, texts[i], -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 5, fields->seats);
  sqlite3_bind_int (stmt, 6, fields->disabled);
  sqlite3_bind_int64 (stmt, 7, id);
  if (fields->channel != NULL)
    sqlite3_bind_text (stmt, 8, fields->channel, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step (stmt);
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE) {
    if (constraint_failed (store))
      g_set_error (error, KT_VIEWPOINT_ERROR, KT_VIEWPOINT_ERROR_EXISTS,
                   "a viewing point named “%s” exists", fields->name);
    else
      store_error (store, error);
    return NULL;
  }
  if (sqlite3_changes (kt_store_handle (store)) == 0) {
    g_set_error (error, KT_VIEWPOINT_ERROR, KT_VIEWPOINT_ERROR_NOT_FOUND, "no such viewing point");
    return NULL;
  }
  g_info ("viewpoint changed id=%" G_GINT64_FORMAT, id);
  return kt_viewpoint_find_id (store, id, error);
}

char *
kt_viewpoint_new_token (KtStore *store, const char *name, GError **error)
{
  g_autoptr (KtViewpoint) v = kt_viewpoint_find (store, name, error);
  if (v == NULL)
    return NULL;
  char *clear = kt_auth_token_new ();
  g_autofree char *hash = kt_auth_token_hash (clear);
  sqlite3_stmt *stmt =
      kt_store_prepare (store, "UPDATE viewpoints SET token_hash = ? WHERE id = ?", NULL);
  if (stmt == NULL) {
    g_free (clear);
    store_error (store, error);
    return NULL;
  }
  sqlite3_bind_text (stmt, 1, hash, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 2, v->id);
  if (!kt_store_step_done (store, stmt, NULL)) {
    g_free (clear);
    store_error (store, error);
    return NULL;
  }
  g_info ("viewpoint token replaced name=%s", v->name);
  return clear;
}

char *
kt_viewpoint_kiosk_path (const char *token, const char *code)
{
  return token ? g_strdup_printf ("/?kiosk=1&token=%s", token)
               : g_strdup_printf ("/?kiosk=1&code=%s", code);
}
