/* kt-store: the single SQLite database.
 *
 * One connection, opened on the main thread, in WAL mode so that readers
 * (a report, a backup with the sqlite3 shell) never block the writer and a
 * crash loses nothing that was committed. synchronous=NORMAL is the usual WAL
 * pairing: a power cut may lose the last transactions but never corrupts.
 *
 * The schema is an append-only list of migrations, kt_store_migrations[].
 * The database's PRAGMA user_version says how many have been applied; at open
 * every missing one runs in its own transaction together with the version
 * bump, so a crash mid-migration leaves the previous version intact. Never
 * edit a migration that has shipped: add a new one.
 *
 * Prepared statements are cached by their SQL text, so callers write the SQL
 * where it is used and still pay for parsing once.
 *
 * Caches of a table (kt-viewpoint's tokens) ask kt_store_table_version
 * whether they may still be right. Writes through this connection are seen
 * by an update hook, which sees every row any statement changes (foreign
 * key actions included), so no write path can forget to invalidate a
 * cache; writes by another process (`ketang viewpoint token` while the
 * server runs, the sqlite3 shell) by PRAGMA data_version, which changes
 * exactly when another connection commits.
 *
 * Errors are counted for /metrics where SQLite itself reports them: its
 * error log (SQLITE_CONFIG_LOG) sees every failing statement, including the
 * many that modules step themselves, so no call site can forget to count.
 */
#define G_LOG_DOMAIN "kt-store"

#include "kt-store.h"

G_DEFINE_QUARK (kt-store-error-quark, kt_store_error)

static const char *const kt_store_migrations[] = {
  /* 1: the media library. An item is immutable once ready: its segments are
   * files under media/<id>/<rendition>/, all exactly segment_us long. */
  "CREATE TABLE items ("
  "  id TEXT PRIMARY KEY,"
  "  kind TEXT NOT NULL,"           /* 'demo', 'upload', 'live', 'slate' */
  "  title TEXT NOT NULL,"
  "  teacher TEXT NOT NULL DEFAULT '',"
  "  description TEXT NOT NULL DEFAULT '',"
  "  state TEXT NOT NULL,"          /* 'processing', 'ready', 'failed' */
  "  error TEXT,"
  "  segment_us INTEGER NOT NULL DEFAULT 2000000,"
  "  segment_count INTEGER NOT NULL DEFAULT 0,"
  "  created_us INTEGER NOT NULL,"
  "  ready_us INTEGER"
  ");",

  /* 2: accounts and sessions (kt-auth). Names compare without ASCII case, as
   * people type them. The role is not CHECKed so that a later role needs no
   * table rebuild; kt-auth refuses rows it does not understand. A session is
   * keyed by the SHA-256 of its cookie token, never the token itself.
   * login_failures counts failed logins per name typed, known or not. */
  "CREATE TABLE users ("
  "  id INTEGER PRIMARY KEY,"
  "  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
  "  display_name TEXT NOT NULL,"
  "  role TEXT NOT NULL,"           /* 'admin', 'teacher', 'viewpoint' */
  "  password_hash TEXT NOT NULL,"  /* Argon2id, crypto_pwhash_str format */
  "  disabled INTEGER NOT NULL DEFAULT 0,"
  "  created_us INTEGER NOT NULL"
  ");"
  "CREATE TABLE sessions ("
  "  token_hash TEXT PRIMARY KEY,"  /* hex SHA-256 of the cookie value */
  "  user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
  "  csrf TEXT NOT NULL,"
  "  created_us INTEGER NOT NULL,"
  "  expires_us INTEGER NOT NULL,"
  "  last_seen_us INTEGER NOT NULL"
  ");"
  "CREATE INDEX sessions_user ON sessions (user_id);"
  "CREATE INDEX sessions_expires ON sessions (expires_us);"
  "CREATE TABLE login_failures ("
  "  name TEXT PRIMARY KEY COLLATE NOCASE,"
  "  count INTEGER NOT NULL,"
  "  last_us INTEGER NOT NULL"
  ");",
  /* 3: resumable uploads. The bytes live in uploads/<id>.part; how many have
   * arrived is that file's size, so a crash never disagrees with the disk. */
  "CREATE TABLE uploads ("
  "  id TEXT PRIMARY KEY,"
  "  owner TEXT NOT NULL,"             /* the account's login name */
  "  filename TEXT NOT NULL,"
  "  title TEXT NOT NULL,"
  "  size INTEGER NOT NULL,"
  "  state TEXT NOT NULL,"             /* 'receiving', 'complete', 'imported', 'refused' */
  "  item_id TEXT,"
  "  error TEXT,"
  "  created_us INTEGER NOT NULL,"
  "  updated_us INTEGER NOT NULL"
  ");",
  /* 4: uploads (kind 'upload'). While one is normalized its file is kept
   * under uploads/ (source_path) so that a restart can run the job again;
   * attempts counts the starts, so a file that kills the server is given up
   * after a few. probe is what kt-probe saw, for the log and the admin. */
  "ALTER TABLE items ADD COLUMN owner TEXT NOT NULL DEFAULT '';"
  "ALTER TABLE items ADD COLUMN source_path TEXT;"
  "ALTER TABLE items ADD COLUMN source_duration_us INTEGER;"
  "ALTER TABLE items ADD COLUMN probe TEXT;"
  "ALTER TABLE items ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;",
  /* 5: viewing points (kt-viewpoint) and attendance (kt-attendance). A
   * viewing point's access token is kept only as its hex SHA-256; the 6-digit
   * code is for typing on a TV remote. A viewer session is one viewer (a
   * viewing point, 'vp:<id>', or a browser at home, 'u:<random id>') on one
   * lesson occurrence of one channel; the lesson's title, teacher and times
   * are copied in so that reports need no timetable (it may have changed
   * since). left_us is NULL while the session is open. */
  "CREATE TABLE viewpoints ("
  "  id INTEGER PRIMARY KEY,"
  "  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
  "  township TEXT NOT NULL,"
  "  contact TEXT NOT NULL DEFAULT '',"
  "  phone TEXT NOT NULL DEFAULT '',"
  "  seats INTEGER NOT NULL DEFAULT 0,"
  "  disabled INTEGER NOT NULL DEFAULT 0,"
  "  token_hash TEXT NOT NULL UNIQUE,"
  "  code TEXT NOT NULL UNIQUE,"
  "  created_us INTEGER NOT NULL"
  ");"
  "CREATE TABLE viewer_sessions ("
  "  id INTEGER PRIMARY KEY,"
  "  viewer_key TEXT NOT NULL,"
  "  viewpoint_id INTEGER REFERENCES viewpoints (id) ON DELETE SET NULL,"
  "  viewer_name TEXT NOT NULL DEFAULT '',"
  "  channel TEXT NOT NULL,"
  "  lesson_title TEXT NOT NULL,"
  "  lesson_teacher TEXT NOT NULL DEFAULT '',"
  "  lesson_start_us INTEGER NOT NULL,"
  "  lesson_end_us INTEGER NOT NULL,"
  "  joined_us INTEGER NOT NULL,"
  "  last_us INTEGER NOT NULL,"
  "  left_us INTEGER,"
  "  watched_us INTEGER NOT NULL DEFAULT 0,"
  "  stalls INTEGER NOT NULL DEFAULT 0,"
  "  headcount INTEGER,"
  "  UNIQUE (viewer_key, channel, lesson_start_us)"
  ");"
  "CREATE INDEX viewer_sessions_lesson ON viewer_sessions (lesson_start_us, channel);"
  "CREATE INDEX viewer_sessions_open ON viewer_sessions (left_us) WHERE left_us IS NULL;",
  /* 6: live talks (kt-live). A teacher's publish key (what OBS sends in
   * the SRT stream id) is kept only as its hex SHA-256, one per account;
   * rotating replaces the row. live_events is what administrators read
   * about live talks afterwards: a talk that went on air, dropped, resumed,
   * or aired its recorded fallback because the speaker never came. */
  "CREATE TABLE publish_keys ("
  "  user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,"
  "  key_hash TEXT NOT NULL UNIQUE,"
  "  created_us INTEGER NOT NULL"
  ");"
  "CREATE TABLE live_events ("
  "  id INTEGER PRIMARY KEY,"
  "  input TEXT NOT NULL,"           /* the talk's name, from live:<name> */
  "  channel TEXT NOT NULL,"
  "  lesson_start_us INTEGER NOT NULL,"
  "  kind TEXT NOT NULL,"            /* 'live', 'dropped', 'refused', 'fallback', 'recorded', 'silent' */
  "  message TEXT NOT NULL,"
  "  at_us INTEGER NOT NULL"
  ");"
  "CREATE INDEX live_events_at ON live_events (at_us);",
  /* 7: what a viewing point's kiosk plays (its channel, so the room's TV
   * follows a change made on the admin page), and who an individual at home
   * is: a phone number, or the viewing point whose code they typed
   * (member_of), so home learners count with their township. */
  "ALTER TABLE viewpoints ADD COLUMN channel TEXT NOT NULL DEFAULT '1';"
  "ALTER TABLE viewer_sessions ADD COLUMN viewer_phone TEXT NOT NULL DEFAULT '';"
  "ALTER TABLE viewer_sessions ADD COLUMN member_of INTEGER"
  "  REFERENCES viewpoints (id) ON DELETE SET NULL;",
};

struct _KtStore {
  sqlite3 *db;
  GHashTable *statements; /* SQL text → sqlite3_stmt* */
  GHashTable *writes;     /* table name → guint64* rows written through db, for watched tables */
  gint64 data_version;    /* PRAGMA data_version when last read */
  guint64 outside_commits; /* times it was seen to change: commits by other connections */
};

static void
finalize_stmt (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

static gboolean
set_sql_error (KtStore *store, GError **error, const char *what)
{
  g_set_error (error, KT_STORE_ERROR, KT_STORE_ERROR_SQL, "%s: %s", what,
               sqlite3_errmsg (store->db));
  return FALSE;
}

gboolean
kt_store_exec (KtStore *store, const char *sql, GError **error)
{
  char *msg = NULL;
  if (sqlite3_exec (store->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    g_set_error (error, KT_STORE_ERROR, KT_STORE_ERROR_SQL, "%s", msg ? msg : "SQL error");
    sqlite3_free (msg);
    return FALSE;
  }
  return TRUE;
}

gboolean
kt_store_begin (KtStore *store, GError **error)
{
  return kt_store_exec (store, "BEGIN IMMEDIATE", error);
}

gboolean
kt_store_commit (KtStore *store, GError **error)
{
  return kt_store_exec (store, "COMMIT", error);
}

void
kt_store_rollback (KtStore *store)
{
  if (!sqlite3_get_autocommit (store->db))
    kt_store_exec (store, "ROLLBACK", NULL);
}

int
kt_store_latest_version (void)
{
  return G_N_ELEMENTS (kt_store_migrations);
}

int
kt_store_schema_version (KtStore *store)
{
  sqlite3_stmt *stmt = kt_store_prepare (store, "PRAGMA user_version", NULL);
  int version = -1;
  if (stmt && sqlite3_step (stmt) == SQLITE_ROW)
    version = sqlite3_column_int (stmt, 0);
  if (stmt)
    sqlite3_reset (stmt);
  return version;
}

static gboolean
migrate (KtStore *store, GError **error)
{
  int version = kt_store_schema_version (store);
  int latest = kt_store_latest_version ();

  if (version > latest) {
    g_set_error (error, KT_STORE_ERROR, KT_STORE_ERROR_TOO_NEW,
                 "database schema version %d is newer than this ketang knows (%d)", version,
                 latest);
    return FALSE;
  }
  for (int v = version; v < latest; v++) {
    g_autofree char *bump = g_strdup_printf ("PRAGMA user_version = %d", v + 1);
    if (!kt_store_begin (store, error))
      return FALSE;
    if (!kt_store_exec (store, kt_store_migrations[v], error) ||
        !kt_store_exec (store, bump, error) || !kt_store_commit (store, error)) {
      kt_store_rollback (store);
      g_prefix_error (error, "migration %d: ", v + 1);
      if (error && *error)
        (*error)->code = KT_STORE_ERROR_MIGRATE;
      return FALSE;
    }
    g_info ("migrated schema_version=%d", v + 1);
  }
  return TRUE;
}

/* Per primary result code (the low byte). The log callback may run on any
 * thread that uses SQLite, hence atomics. */
static gint error_counts[256];

static void
on_sqlite_log (void *unused, int code, const char *message)
{
  int primary = code & 0xff;
  /* Notices and warnings (a WAL recovered at open) are not failures. */
  if (primary == SQLITE_NOTICE || primary == SQLITE_WARNING || primary == SQLITE_OK)
    return;
  g_atomic_int_inc (&error_counts[primary]);
  g_debug ("sqlite code=%d %s", code, message);
}

guint
kt_store_error_count (int code)
{
  return code >= 0 && code < 256 ? (guint) g_atomic_int_get (&error_counts[code]) : 0;
}

static void
on_row_written (void *data, int op, const char *database, const char *table, sqlite3_int64 rowid)
{
  KtStore *store = data;
  guint64 *count = g_hash_table_lookup (store->writes, table);
  if (count != NULL)
    (*count)++;
}

guint64
kt_store_table_version (KtStore *store, const char *table)
{
  guint64 *count = g_hash_table_lookup (store->writes, table);
  if (count == NULL) {
    count = g_new0 (guint64, 1);
    g_hash_table_insert (store->writes, g_strdup (table), count);
  }
  sqlite3_stmt *stmt = kt_store_prepare (store, "PRAGMA data_version", NULL);
  gint64 version = -1; /* unreadable counts as changed: a cache then asks the table */
  if (stmt != NULL && sqlite3_step (stmt) == SQLITE_ROW)
    version = sqlite3_column_int64 (stmt, 0);
  if (stmt != NULL)
    sqlite3_reset (stmt);
  if (version != store->data_version || version < 0) {
    store->data_version = version;
    store->outside_commits++;
  }
  /* Both only grow, so the sum changes whenever either does. */
  return *count + store->outside_commits;
}

KtStore *
kt_store_open (const char *path, GError **error)
{
  static gsize log_installed = 0;
  if (g_once_init_enter (&log_installed)) {
    /* Only possible before SQLite initializes, i.e. before the first open. */
    if (sqlite3_config (SQLITE_CONFIG_LOG, on_sqlite_log, NULL) != SQLITE_OK)
      g_warning ("SQLite was initialized before the store: its errors are not counted");
    g_once_init_leave (&log_installed, 1);
  }
  g_autoptr (KtStore) store = g_new0 (KtStore, 1);
  store->statements = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, finalize_stmt);
  store->writes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  int rc = sqlite3_open_v2 (path, &store->db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    g_set_error (error, KT_STORE_ERROR, KT_STORE_ERROR_OPEN, "%s: %s", path,
                 store->db ? sqlite3_errmsg (store->db) : sqlite3_errstr (rc));
    return NULL;
  }
  sqlite3_busy_timeout (store->db, 5000);
  sqlite3_update_hook (store->db, on_row_written, store);
  if (!kt_store_exec (store,
                      "PRAGMA journal_mode = WAL;"
                      "PRAGMA synchronous = NORMAL;"
                      "PRAGMA foreign_keys = ON;",
                      error)) {
    g_prefix_error (error, "%s: ", path);
    if (error && *error)
      (*error)->code = KT_STORE_ERROR_OPEN;
    return NULL;
  }
  if (!migrate (store, error)) {
    g_prefix_error (error, "%s: ", path);
    return NULL;
  }
  return g_steal_pointer (&store);
}

void
kt_store_free (KtStore *store)
{
  if (store == NULL)
    return;
  g_clear_pointer (&store->statements, g_hash_table_destroy);
  g_clear_pointer (&store->writes, g_hash_table_destroy);
  if (store->db) {
    sqlite3_close (store->db); /* statements are finalized above */
    store->db = NULL;
  }
  g_free (store);
}

sqlite3_stmt *
kt_store_prepare (KtStore *store, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = g_hash_table_lookup (store->statements, sql);
  if (stmt != NULL) {
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);
    return stmt;
  }
  if (sqlite3_prepare_v2 (store->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
    set_sql_error (store, error, "prepare");
    return NULL;
  }
  g_hash_table_insert (store->statements, g_strdup (sql), stmt);
  return stmt;
}

gboolean
kt_store_step_done (KtStore *store, sqlite3_stmt *stmt, GError **error)
{
  int rc = sqlite3_step (stmt);
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    return set_sql_error (store, error, "step");
  return TRUE;
}

sqlite3 *
kt_store_handle (KtStore *store)
{
  return store->db;
}
