#pragma once

#include <glib.h>
#include <sqlite3.h>

G_BEGIN_DECLS

#define KT_STORE_ERROR (kt_store_error_quark ())
GQuark kt_store_error_quark (void);

typedef enum {
  KT_STORE_ERROR_OPEN,
  KT_STORE_ERROR_MIGRATE,
  KT_STORE_ERROR_TOO_NEW, /* the file was written by a newer ketang */
  KT_STORE_ERROR_SQL,
} KtStoreError;

/* The one SQLite connection: WAL mode, foreign keys on, migrations applied at
 * open. Used from the main thread only. */
typedef struct _KtStore KtStore;

KtStore *kt_store_open (const char *path, GError **error);
void kt_store_free (KtStore *store);

/* The schema version (PRAGMA user_version) and the newest this build knows. */
int kt_store_schema_version (KtStore *store);
int kt_store_latest_version (void);

/* A prepared statement, cached by SQL text and reset for reuse; borrowed
 * until the next call with the same text. NULL with @error on bad SQL. */
sqlite3_stmt *kt_store_prepare (KtStore *store, const char *sql, GError **error);
/* Run a statement to completion (expects no rows), then reset it. */
gboolean kt_store_step_done (KtStore *store, sqlite3_stmt *stmt, GError **error);
gboolean kt_store_exec (KtStore *store, const char *sql, GError **error);

gboolean kt_store_begin (KtStore *store, GError **error);
gboolean kt_store_commit (KtStore *store, GError **error);
void kt_store_rollback (KtStore *store);

sqlite3 *kt_store_handle (KtStore *store);

/* A number that differs from the last one returned for @table whenever a
 * row of @table may have changed since: written through this connection
 * (by any statement; the first call starts the count) or committed by
 * another process. One PRAGMA step, no table read: for caches to ask per
 * request. The update hook SQLite calls does not see rows that a REPLACE
 * conflict deletes; nothing in ketang writes with REPLACE. */
guint64 kt_store_table_version (KtStore *store, const char *table);

/* Failures SQLite reported in this process with primary result code @code
 * (SQLITE_BUSY, SQLITE_CONSTRAINT…), for /metrics. */
guint kt_store_error_count (int code);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtStore, kt_store_free)

G_END_DECLS
