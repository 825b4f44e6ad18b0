/* kt-library-live: the recording of a live talk, growing while it airs.
 *
 * A live talk is encoded once, into the house format, and those very
 * segments are both what the channel airs and the talk's recording: there
 * is no second encode. The recording is an item of kind "live" that stays
 * "processing" while the talk runs, and each segment that completes is
 * moved (renamed, on the same file system) from the connection's scratch
 * directory to the next index of the item, then counted in segment_count.
 * A segment is thus on air and in the recording at the same moment, under
 * its permanent URL /media/<item>/<rendition>/<n>.ts.
 *
 * Only what aired is recorded, in the order it aired: the minutes when the
 * speaker had dropped out, or had not yet come, are simply not there, so
 * the replay has no gaps. When the talk's slot ends the item becomes
 * "ready" like any lecture (or disappears when nothing aired). A server
 * restarted during a talk goes on appending to the same item.
 */
#define G_LOG_DOMAIN "kt-library"

#include "kt-library-private.h"
#include "kt-clock.h"

#include <errno.h>
#include <glib/gstdio.h>

KtItem *
kt_library_live_open (KtLibrary *library, const char *id, const char *title,
                      const char *teacher, const char *owner, GError **error)
{
  for (guint i = 0; i < kt_n_renditions; i++) {
    g_autofree char *dir = g_build_filename (library->media_dir, id, kt_renditions[i].name, NULL);
    if (g_mkdir_with_parents (dir, 0755) != 0) {
      g_set_error (error, KT_LIBRARY_ERROR, KT_LIBRARY_ERROR_IO, "cannot create %s: %s", dir,
                   g_strerror (errno));
      return NULL;
    }
  }
  sqlite3_stmt *stmt = kt_store_prepare (
      library->store,
      "INSERT INTO items (id, kind, title, teacher, owner, state, created_us) "
      "VALUES (?, 'live', ?, ?, ?, 'processing', ?) "
      "ON CONFLICT (id) DO UPDATE SET state = 'processing', error = NULL",
      error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, title, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, teacher ? teacher : "", -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 4, owner ? owner : "", -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 5, kt_clock_now_us ());
  if (!kt_store_step_done (library->store, stmt, error))
    return NULL;
  KtItem *item = kt_library_get (library, id);
  if (item == NULL)
    g_set_error (error, KT_LIBRARY_ERROR, KT_LIBRARY_ERROR_NOT_FOUND, "no item %s", id);
  return item;
}

gboolean
kt_library_live_append (KtLibrary *library, const char *id, const char *const *paths,
                        guint *index, GError **error)
{
  g_autoptr (KtItem) item = kt_library_get (library, id);
  if (item == NULL || item->state != KT_ITEM_PROCESSING) {
    g_set_error (error, KT_LIBRARY_ERROR, KT_LIBRARY_ERROR_NOT_FOUND, "no recording %s", id);
    return FALSE;
  }
  guint n = item->segment_count;
  for (guint i = 0; i < kt_n_renditions; i++) {
    g_autofree char *target = kt_library_segment_path (library, id, &kt_renditions[i], n);
    if (g_rename (paths[i], target) != 0) {
      g_set_error (error, KT_LIBRARY_ERROR, KT_LIBRARY_ERROR_IO, "cannot move %s to %s: %s",
                   paths[i], target, g_strerror (errno));
      return FALSE;
    }
  }
  if (!kt_library_set_state (library, id, KT_ITEM_PROCESSING, n + 1, NULL, error))
    return FALSE;
  *index = n;
  return TRUE;
}

gboolean
kt_library_live_close (KtLibrary *library, const char *id, GError **error)
{
  g_autoptr (KtItem) item = kt_library_get (library, id);
  if (item == NULL || item->state != KT_ITEM_PROCESSING)
    return TRUE;
  if (item->segment_count == 0)
    return kt_library_delete (library, id, error);
  if (!kt_library_set_state (library, id, KT_ITEM_READY, item->segment_count, NULL, error))
    return FALSE;
  g_info ("item=%s recording ready segments=%u", id, item->segment_count);
  return TRUE;
}

char *
kt_library_live_scratch_dir (KtLibrary *library, const char *name)
{
  return kt_library_tmp_dir (library, name);
}

void
kt_library_live_scratch_remove (const char *path)
{
  kt_library_remove_tree (path);
}
