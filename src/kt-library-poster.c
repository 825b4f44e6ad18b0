/* kt-library-poster: each lecture's poster picture (media/<id>/poster.jpg).
 *
 * A poster is asked for when an item becomes ready and again whenever a
 * page lists an item that has none (an item made before posters existed,
 * or whose poster was interrupted by a restart): the file's presence is the
 * only state, so nothing in the database can disagree with the disk.
 * Posters are made one at a time from a queue, in the background
 * (kt-thumbnail), because a page listing fifty old lectures must not start
 * fifty decoders. One that fails is not asked for again in this process,
 * so a broken item cannot keep a decoder busy; it shows the placeholder.
 *
 * Slates are not lectures and get no poster.
 */
#define G_LOG_DOMAIN "kt-library"

#include "kt-library-private.h"
#include "kt-thumbnail.h"

char *
kt_library_poster_path (KtLibrary *library, const char *item_id)
{
  return g_build_filename (library->media_dir, item_id, "poster.jpg", NULL);
}

static void poster_next (KtLibrary *library);

static void
on_poster_done (const char *output, const GError *error, gpointer user_data)
{
  KtLibrary *library = user_data;
  if (error != NULL) {
    g_warning ("item=%s no poster: %s", library->poster_item, error->message);
    g_hash_table_add (library->poster_failed, g_strdup (library->poster_item));
  } else {
    g_debug ("item=%s poster made", library->poster_item);
  }
  /* Freeing the thumbnail from its own callback is allowed (kt-thumbnail
   * touches nothing after calling back), and the next one starts at once. */
  g_clear_pointer (&library->poster_job, kt_thumbnail_free);
  g_clear_pointer (&library->poster_item, g_free);
  poster_next (library);
}

static void
poster_next (KtLibrary *library)
{
  while (library->poster_job == NULL) {
    g_autofree char *id = g_queue_pop_head (&library->poster_queue);
    if (id == NULL)
      return;
    g_autoptr (KtItem) item = kt_library_get (library, id);
    if (item == NULL || item->state != KT_ITEM_READY || item->segment_count == 0)
      continue;
    /* A fifth of the way in: past a title card or the teacher settling in. */
    guint index = MIN (item->segment_count - 1, item->segment_count / 5);
    g_autofree char *segment =
        kt_library_segment_path (library, id, kt_rendition_find ("360p"), index);
    g_autofree char *output = kt_library_poster_path (library, id);
    g_autoptr (GError) error = NULL;
    library->poster_item = g_strdup (id);
    library->poster_job = kt_thumbnail_start (library->pipelines_dir, segment, output,
                                              on_poster_done, library, &error);
    if (library->poster_job == NULL) {
      g_warning ("item=%s no poster: %s", id, error->message);
      g_hash_table_add (library->poster_failed, g_steal_pointer (&library->poster_item));
    }
  }
}

gboolean
kt_library_has_poster (KtLibrary *library, const KtItem *item)
{
  if (item->state != KT_ITEM_READY || g_str_equal (item->kind, "slate"))
    return FALSE;
  g_autofree char *path = kt_library_poster_path (library, item->id);
  if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
    return TRUE;
  kt_library_request_poster (library, item->id);
  return FALSE;
}

void
kt_library_request_poster (KtLibrary *library, const char *item_id)
{
  if (g_strcmp0 (library->poster_item, item_id) == 0 ||
      g_hash_table_contains (library->poster_failed, item_id) ||
      g_queue_find_custom (&library->poster_queue, item_id, (GCompareFunc) g_strcmp0))
    return;
  g_queue_push_tail (&library->poster_queue, g_strdup (item_id));
  poster_next (library);
}

void
kt_library_posters_clear (KtLibrary *library)
{
  g_clear_pointer (&library->poster_job, kt_thumbnail_free);
  g_clear_pointer (&library->poster_item, g_free);
  g_queue_clear_full (&library->poster_queue, g_free);
}
