/* kt-library-catalog: listing, editing and deleting library items.
 *
 * What a teacher's library page does with its lectures, apart from making
 * them: list (their own, or all for an administrator), change the words a
 * viewer sees (title, description), and delete. Deleting removes the row
 * first, then the files: a segment URL whose item is gone answers 404 at
 * once, and a crash between the two leaves only files that nothing names.
 */
#define G_LOG_DOMAIN "kt-library"

#include "kt-library-private.h"

GPtrArray *
kt_library_list (KtLibrary *library, const char *kind, const char *owner)
{
  GPtrArray *items = g_ptr_array_new_with_free_func ((GDestroyNotify) kt_item_free);
  sqlite3_stmt *stmt = kt_store_prepare (
      library->store,
      "SELECT " KT_ITEM_COLUMNS " FROM items WHERE (?1 IS NULL OR kind = ?1) "
      "AND (?2 IS NULL OR owner = ?2) ORDER BY created_us DESC LIMIT 1000",
      NULL);
  if (stmt == NULL)
    return items;
  sqlite3_bind_text (stmt, 1, kind, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, owner, -1, SQLITE_TRANSIENT);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    g_ptr_array_add (items, kt_library_item_from_row (stmt));
  sqlite3_reset (stmt);
  return items;
}

gboolean
kt_library_set_text (KtLibrary *library, const char *id, const char *title,
                     const char *description, const char *teacher, GError **error)
{
  sqlite3_stmt *stmt = kt_store_prepare (
      library->store,
      "UPDATE items SET title = coalesce (?, title), description = coalesce (?, description), "
      "teacher = coalesce (?, teacher) WHERE id = ?",
      error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, title, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, description, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, teacher, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 4, id, -1, SQLITE_TRANSIENT);
  if (!kt_store_step_done (library->store, stmt, error))
    return FALSE;
  if (sqlite3_changes (kt_store_handle (library->store)) == 0) {
    g_set_error (error, KT_LIBRARY_ERROR, KT_LIBRARY_ERROR_NOT_FOUND, "no item %s", id);
    return FALSE;
  }
  g_info ("item=%s text changed", id);
  return TRUE;
}

gboolean
kt_library_delete (KtLibrary *library, const char *id, GError **error)
{
  if (g_hash_table_contains (library->jobs, id)) {
    g_set_error (error, KT_LIBRARY_ERROR, KT_LIBRARY_ERROR_BUSY,
                 "item %s is being prepared; wait until it is ready or failed", id);
    return FALSE;
  }
  kt_library_forget_ready (library, id);
  sqlite3_stmt *stmt = kt_store_prepare (library->store, "DELETE FROM items WHERE id = ?", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
  if (!kt_store_step_done (library->store, stmt, error))
    return FALSE;
  if (sqlite3_changes (kt_store_handle (library->store)) == 0) {
    g_set_error (error, KT_LIBRARY_ERROR, KT_LIBRARY_ERROR_NOT_FOUND, "no item %s", id);
    return FALSE;
  }
  g_autofree char *dir = g_build_filename (library->media_dir, id, NULL);
  kt_library_remove_tree (dir);
  g_info ("item=%s deleted", id);
  return TRUE;
}
