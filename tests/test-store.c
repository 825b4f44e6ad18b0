/* kt-store: WAL mode, migrations applied once and recorded in user_version,
 * a database from a newer ketang refused, and committed rows surviving. */
#include "kt-store.h"
#include "test-utils.h"

static void
test_open_migrates_and_uses_wal (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "k.db", NULL);
  g_autoptr (GError) error = NULL;
  {
    g_autoptr (KtStore) store = kt_store_open (path, &error);
    g_assert_no_error (error);
    g_assert_cmpint (kt_store_schema_version (store), ==, kt_store_latest_version ());
    sqlite3_stmt *stmt = kt_store_prepare (store, "PRAGMA journal_mode", &error);
    g_assert_no_error (error);
    g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
    g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 0), ==, "wal");
    sqlite3_reset (stmt);
    g_assert_true (kt_store_exec (store,
                                  "INSERT INTO items (id, kind, title, state, created_us) "
                                  "VALUES ('a', 'demo', 't', 'ready', 1)",
                                  &error));
  }
  /* Reopening applies nothing twice and keeps the row. */
  g_autoptr (KtStore) again = kt_store_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (kt_store_schema_version (again), ==, kt_store_latest_version ());
  sqlite3_stmt *count = kt_store_prepare (again, "SELECT count(*) FROM items", &error);
  g_assert_cmpint (sqlite3_step (count), ==, SQLITE_ROW);
  g_assert_cmpint (sqlite3_column_int (count, 0), ==, 1);
  sqlite3_reset (count);
  kt_test_rmtree (dir);
}

static void
test_newer_schema_refused (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "k.db", NULL);
  g_autoptr (GError) error = NULL;
  {
    g_autoptr (KtStore) store = kt_store_open (path, &error);
    g_assert_no_error (error);
    g_autofree char *sql = g_strdup_printf ("PRAGMA user_version = %d",
                                            kt_store_latest_version () + 1);
    g_assert_true (kt_store_exec (store, sql, &error));
  }
  g_autoptr (KtStore) store = kt_store_open (path, &error);
  g_assert_null (store);
  g_assert_error (error, KT_STORE_ERROR, KT_STORE_ERROR_TOO_NEW);
  g_assert_nonnull (strstr (error->message, path));
  kt_test_rmtree (dir);
}

static void
test_not_a_database (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "k.db", NULL);
  g_assert_true (g_file_set_contents (path, "this is not sqlite, just text long enough to "
                                            "fill a header page of garbage bytes......", -1, NULL));
  g_autoptr (GError) error = NULL;
  g_autoptr (KtStore) store = kt_store_open (path, &error);
  g_assert_null (store);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, path));
  kt_test_rmtree (dir);
}

static void
test_bad_sql_is_an_error (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "k.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (KtStore) store = kt_store_open (path, &error);
  g_assert_null (kt_store_prepare (store, "SELEC nothing", &error));
  g_assert_error (error, KT_STORE_ERROR, KT_STORE_ERROR_SQL);
  kt_test_rmtree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/store/open-migrates-and-uses-wal", test_open_migrates_and_uses_wal);
  g_test_add_func ("/store/newer-schema-refused", test_newer_schema_refused);
  g_test_add_func ("/store/not-a-database", test_not_a_database);
  g_test_add_func ("/store/bad-sql-is-an-error", test_bad_sql_is_an_error);
  return g_test_run ();
}
