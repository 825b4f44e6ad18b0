/* kt-library: the media library.
 *
 * An item is a lesson in the house format: media/<id>/<rendition>/NNNNN.ts,
 * every segment exactly KT_SEGMENT_US, the same count in every rendition.
 * Once an item is ready its files never change, which is what lets segment
 * URLs be cached forever and lets channels air it without any pipeline.
 *
 * Items are made by jobs (kt-house-job) that write into media/.tmp-<id>/ and
 * are renamed into place only when the whole output checked out, so a crash
 * or a failed encode never leaves a half-made item where a channel could air
 * it. The items table says what exists; a row in state "processing" at start
 * belongs to a job that died with the previous process, and its temporary
 * directory is removed. A made item (demo, slate) is marked failed and made
 * again by whoever wants it; an upload is normalized again from its kept
 * file (kt-library-import.c, which owns the upload queue).
 *
 * Every segment request asks whether its item is ready and how long it is.
 * A ready item never changes, so that answer is kept in memory
 * (kt_library_ready_segments) and the database is asked once per item, not
 * once per segment; the few writes that can end an item's readiness (a
 * state change, a remake, a delete) forget it first.
 */
#define G_LOG_DOMAIN "kt-library"

#include "kt-library.h"
#include "kt-clock.h"
#include "kt-library-private.h"
#include "kt-pipeline.h"

#include <errno.h>
#include <glib/gstdio.h>

G_DEFINE_QUARK (kt-library-error-quark, kt_library_error)

static const char *const state_names[] = { "processing", "ready", "failed" };

void
kt_item_free (KtItem *item)
{
  if (item == NULL)
    return;
  g_free (item->id);
  g_free (item->kind);
  g_free (item->title);
  g_free (item->teacher);
  g_free (item->owner);
  g_free (item->error);
  g_free (item->description);
  g_free (item);
}

static void
library_job_free (gpointer data)
{
  KtLibraryJob *lj = data;
  kt_house_job_free (lj->job);
  kt_import_free (lj->import);
  g_free (lj->item_id);
  g_free (lj);
}

/* Remove a directory tree we made (segments and rendition folders). */
void
kt_library_remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  if (dir == NULL) {
    g_unlink (path);
    return;
  }
  const char *name;
  while ((name = g_dir_read_name (dir)) != NULL) {
    g_autofree char *child = g_build_filename (path, name, NULL);
    if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
      kt_library_remove_tree (child);
    else
      g_unlink (child);
  }
  g_rmdir (path);
}

char *
kt_library_tmp_dir (KtLibrary *library, const char *id)
{
  g_autofree char *name = g_strdup_printf (".tmp-%s", id);
  return g_build_filename (library->media_dir, name, NULL);
}

static void
clean_abandoned_jobs (KtLibrary *library)
{
  g_autoptr (GDir) dir = g_dir_open (library->media_dir, 0, NULL);
  const char *name;
  while (dir && (name = g_dir_read_name (dir)) != NULL) {
    if (g_str_has_prefix (name, ".tmp-")) {
      g_autofree char *path = g_build_filename (library->media_dir, name, NULL);
      g_info ("removing abandoned job output dir=%s", path);
      kt_library_remove_tree (path);
    }
  }
  kt_library_imports_recover (library);
  /* Their rows say "processing" forever otherwise. */
  kt_store_exec (library->store,
                 "UPDATE items SET state = 'failed', error = 'interrupted by a restart' "
                 "WHERE state = 'processing' AND kind NOT IN ('upload', 'live')",
                 NULL);
  /* A live talk's recording holds whole segments only: what it has is a
   * recording (kt-library-live reopens it if the talk goes on). */
  kt_store_exec (library->store,
                 "UPDATE items SET state = CASE WHEN segment_count > 0 THEN 'ready' "
                 "ELSE 'failed' END WHERE state = 'processing' AND kind = 'live'",
                 NULL);
}

KtLibrary *
kt_library_new (KtStore *store, const char *data_dir, const char *pipelines_dir, GError **error)
{
  g_autoptr (KtLibrary) library = g_new0 (KtLibrary, 1);
  library->store = store;
  library->media_dir = g_build_filename (data_dir, "media", NULL);
  library->pipelines_dir = g_strdup (pipelines_dir);
  library->uploads_dir = g_build_filename (data_dir, "uploads", NULL);
  library->jobs = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, library_job_free);
  library->poster_failed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_mutex_init (&library->ready_lock);
  library->ready_segments = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  kt_library_imports_init (library);

  const char *dirs[] = { library->media_dir, library->uploads_dir };
  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++) {
    if (g_mkdir_with_parents (dirs[i], 0755) != 0) {
      g_set_error (error, KT_LIBRARY_ERROR, KT_LIBRARY_ERROR_IO, "cannot create %s: %s", dirs[i],
                   g_strerror (errno));
      return NULL;
    }
  }
  clean_abandoned_jobs (library);
  return g_steal_pointer (&library);
}

void
kt_library_free (KtLibrary *library)
{
  if (library == NULL)
    return;
  kt_library_imports_clear (library);
  kt_library_posters_clear (library);
  g_clear_pointer (&library->poster_failed, g_hash_table_destroy);
  g_clear_object (&library->cancellable);
  g_clear_pointer (&library->probing, g_hash_table_destroy);
  g_clear_pointer (&library->jobs, g_hash_table_destroy);
  g_clear_pointer (&library->ready_segments, g_hash_table_destroy);
  g_mutex_clear (&library->ready_lock);
  g_free (library->media_dir);
  g_free (library->uploads_dir);
  g_free (library->pipelines_dir);
  g_free (library);
}

static KtItemState
parse_state (const char *text)
{
  for (guint i = 0; i < G_N_ELEMENTS (state_names); i++)
    if (g_strcmp0 (text, state_names[i]) == 0)
      return (KtItemState) i;
  return KT_ITEM_FAILED;
}

static char *
column_text (sqlite3_stmt *stmt, int col)
{
  return g_strdup ((const char *) sqlite3_column_text (stmt, col));
}

KtItem *
kt_library_item_from_row (sqlite3_stmt *stmt)
{
  KtItem *item = g_new0 (KtItem, 1);
  item->id = column_text (stmt, 0);
  item->kind = column_text (stmt, 1);
  item->title = column_text (stmt, 2);
  item->teacher = column_text (stmt, 3);
  item->state = parse_state ((const char *) sqlite3_column_text (stmt, 4));
  item->error = column_text (stmt, 5);
  item->segment_count = sqlite3_column_int (stmt, 6);
  item->duration_us = item->segment_count * sqlite3_column_int64 (stmt, 7);
  item->owner = column_text (stmt, 8);
  item->source_duration_us = sqlite3_column_int64 (stmt, 9);
  item->description = column_text (stmt, 10);
  item->created_us = sqlite3_column_int64 (stmt, 11);
  return item;
}

KtItem *
kt_library_get (KtLibrary *library, const char *id)
{
  sqlite3_stmt *stmt = kt_store_prepare (
      library->store,
      "SELECT " KT_ITEM_COLUMNS " FROM items WHERE id = ?",
      NULL);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
  KtItem *item = sqlite3_step (stmt) == SQLITE_ROW ? kt_library_item_from_row (stmt) : NULL;
  sqlite3_reset (stmt);
  return item;
}

gboolean
kt_library_peek_ready_segments (KtLibrary *library, const char *id, guint *count)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&library->ready_lock);
  gpointer value;
  if (!g_hash_table_lookup_extended (library->ready_segments, id, NULL, &value))
    return FALSE;
  *count = GPOINTER_TO_UINT (value);
  return TRUE;
}

guint
kt_library_ready_segments (KtLibrary *library, const char *id)
{
  guint count;
  if (kt_library_peek_ready_segments (library, id, &count))
    return count;
  g_autoptr (KtItem) item = kt_library_get (library, id);
  /* A live talk's recording is served while it grows; each segment it
   * gains goes through kt_library_set_state, which forgets the count. */
  gboolean growing = item != NULL && item->state == KT_ITEM_PROCESSING &&
                     g_str_equal (item->kind, "live");
  if (item == NULL || (item->state != KT_ITEM_READY && !growing))
    return 0; /* not kept: it may become ready */
  g_mutex_lock (&library->ready_lock);
  g_hash_table_insert (library->ready_segments, g_strdup (id),
                       GUINT_TO_POINTER (item->segment_count));
  g_mutex_unlock (&library->ready_lock);
  return item->segment_count;
}

void
kt_library_forget_ready (KtLibrary *library, const char *id)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&library->ready_lock);
  g_hash_table_remove (library->ready_segments, id);
}

char *
kt_library_segment_path (KtLibrary *library, const char *item_id, const KtRendition *rendition,
                         guint index)
{
  g_autofree char *file = g_strdup_printf ("%05u.ts", index);
  return g_build_filename (library->media_dir, item_id, rendition->name, file, NULL);
}

gboolean
kt_library_set_state (KtLibrary *library, const char *id, KtItemState state, guint segments,
                const char *message, GError **error)
{
  kt_library_forget_ready (library, id);
  sqlite3_stmt *stmt = kt_store_prepare (
      library->store,
      "UPDATE items SET state = ?, segment_count = ?, error = ?, "
      "ready_us = CASE WHEN ? = 'ready' THEN ? ELSE ready_us END WHERE id = ?",
      error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, state_names[state], -1, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 2, segments);
  sqlite3_bind_text (stmt, 3, message, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 4, state_names[state], -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 5, kt_clock_now_us ());
  sqlite3_bind_text (stmt, 6, id, -1, SQLITE_TRANSIENT);
  return kt_store_step_done (library->store, stmt, error);
}

static void
on_job_done (KtHouseJob *job, const GError *job_error, gpointer user_data)
{
  KtLibraryJob *lj = user_data;
  KtLibrary *library = lj->library;
  g_autoptr (GError) error = job_error ? g_error_copy (job_error) : NULL;
  g_autofree char *id = g_strdup (lj->item_id);
  g_autofree char *final_dir = g_build_filename (library->media_dir, id, NULL);
  g_autofree char *tmp_dir = g_strdup (kt_house_job_dir (job));
  guint segments = kt_house_job_segment_count (job);

  if (error == NULL && lj->import)
    kt_library_import_check (lj->import, job, &error);
  if (lj->import && g_error_matches (error, KT_HOUSE_JOB_ERROR, KT_HOUSE_JOB_ERROR_STALLED))
    g_prefix_error (&error, "文件在转码时卡住，无法处理，可能已损坏。请检查文件或转换成 MP4 后重新上传。 — ");
  if (error == NULL) {
    kt_library_remove_tree (final_dir); /* a previous, failed attempt */
    if (g_rename (tmp_dir, final_dir) != 0)
      g_set_error (&error, KT_LIBRARY_ERROR, KT_LIBRARY_ERROR_IO, "cannot move %s to %s: %s",
                   tmp_dir, final_dir, g_strerror (errno));
  }
  if (error == NULL) {
    g_autoptr (GError) db_error = NULL;
    if (!kt_library_set_state (library, id, KT_ITEM_READY, segments, NULL, &db_error))
      error = g_steal_pointer (&db_error);
    else
      g_info ("item=%s ready segments=%u", id, segments);
  }
  if (error == NULL && lj->import)
    kt_library_request_poster (library, id);
  if (error == NULL)
    library->jobs_ready++;
  else
    library->jobs_failed++;
  if (error != NULL) {
    kt_library_remove_tree (tmp_dir);
    kt_library_set_state (library, id, KT_ITEM_FAILED, 0, error->message, NULL);
    g_warning ("item=%s failed: %s", id, error->message);
  }

  KtLibraryItemDone done = lj->done;
  gpointer done_data = lj->user_data;
  g_autoptr (KtImport) import = g_steal_pointer (&lj->import);
  g_hash_table_remove (library->jobs, id); /* frees lj and the job */
  if (import)
    kt_library_import_ended (library, import);
  if (done)
    done (library, id, error, done_data);
  if (library->ready)
    library->ready (library, id, error, library->ready_data);
}

void
kt_library_jobs_finished (KtLibrary *library, guint64 *ready, guint64 *failed)
{
  *ready = library->jobs_ready;
  *failed = library->jobs_failed;
}

guint
kt_library_jobs_running (KtLibrary *library)
{
  return g_hash_table_size (library->jobs);
}

void
kt_library_set_ready_callback (KtLibrary *library, KtLibraryItemDone ready, gpointer user_data)
{
  library->ready = ready;
  library->ready_data = user_data;
}

gboolean
kt_library_make (KtLibrary *library, const KtItemRecipe *recipe, KtLibraryItemDone done,
                 gpointer user_data, GError **error)
{
  const char *id = recipe->id;
  if (g_hash_table_contains (library->jobs, id)) {
    g_set_error (error, KT_LIBRARY_ERROR, KT_LIBRARY_ERROR_BUSY, "item %s is being made", id);
    return FALSE;
  }

  gint64 duration_us = MAX (recipe->segments, 1) * KT_SEGMENT_US;
  g_autofree char *frames = g_strdup_printf ("%" G_GINT64_FORMAT, duration_us * 25 / KT_USEC_PER_SEC);
  g_autofree char *buffers = g_strdup_printf ("%" G_GINT64_FORMAT, duration_us * 50 / KT_USEC_PER_SEC);
  g_autofree char *tmp_dir = kt_library_tmp_dir (library, id);
  kt_library_remove_tree (tmp_dir);

  g_autoptr (GPtrArray) vars = g_ptr_array_new ();
  const char *fixed[] = { "dir", tmp_dir, "frames", frames, "buffers", buffers };
  for (guint i = 0; i < G_N_ELEMENTS (fixed); i++)
    g_ptr_array_add (vars, (gpointer) fixed[i]);
  for (int i = 0; recipe->vars && recipe->vars[i]; i++)
    g_ptr_array_add (vars, (gpointer) recipe->vars[i]);
  g_ptr_array_add (vars, NULL);
  GstElement *pipeline = kt_pipeline_build (library->pipelines_dir, recipe->pipeline,
                                            (const char *const *) vars->pdata,
                                            kt_house_job_required_elements (), error);
  if (pipeline == NULL)
    return FALSE;

  kt_library_forget_ready (library, id);
  sqlite3_stmt *stmt = kt_store_prepare (
      library->store,
      "INSERT INTO items (id, kind, title, teacher, state, created_us) "
      "VALUES (?, ?, ?, ?, 'processing', ?) "
      "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, title = excluded.title, "
      "teacher = excluded.teacher, state = 'processing', error = NULL, segment_count = 0",
      error);
  if (stmt == NULL) {
    gst_object_unref (pipeline);
    return FALSE;
  }
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, recipe->kind, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, recipe->title, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 4, recipe->teacher ? recipe->teacher : "", -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 5, kt_clock_now_us ());
  if (!kt_store_step_done (library->store, stmt, error)) {
    gst_object_unref (pipeline);
    return FALSE;
  }

  return kt_library_start_job (library, id, pipeline, duration_us, done, user_data, error) != NULL;
}

KtLibraryJob *
kt_library_start_job (KtLibrary *library, const char *id, GstElement *pipeline,
                      gint64 duration_us, KtLibraryItemDone done, gpointer user_data,
                      GError **error)
{
  g_autofree char *tmp_dir = kt_library_tmp_dir (library, id);
  KtLibraryJob *lj = g_new0 (KtLibraryJob, 1);
  lj->library = library;
  lj->item_id = g_strdup (id);
  lj->done = done;
  lj->user_data = user_data;
  g_autoptr (GError) start_error = NULL;
  lj->job = kt_house_job_start (pipeline, tmp_dir, duration_us, on_job_done, lj, &start_error);
  if (lj->job == NULL) {
    kt_library_set_state (library, id, KT_ITEM_FAILED, 0, start_error->message, NULL);
    library_job_free (lj);
    kt_library_remove_tree (tmp_dir);
    g_propagate_error (error, g_steal_pointer (&start_error));
    return NULL;
  }
  g_hash_table_insert (library->jobs, lj->item_id, lj);
  return lj;
}

gboolean
kt_library_is_making (KtLibrary *library, const char *id)
{
  return g_hash_table_contains (library->jobs, id);
}

double
kt_library_job_progress (KtLibrary *library, const char *id)
{
  KtLibraryJob *lj = g_hash_table_lookup (library->jobs, id);
  if (lj)
    return kt_house_job_progress (lj->job);
  return kt_library_import_waiting (library, id) ? 0.0 : -1.0;
}

gint64
kt_library_job_eta_us (KtLibrary *library, const char *id)
{
  KtLibraryJob *lj = g_hash_table_lookup (library->jobs, id);
  if (lj == NULL)
    return -1;
  double done = kt_house_job_progress (lj->job);
  /* Extrapolated from the first encoded picture, not from the job's start:
   * start-up (the pipeline, the probe, the encoders' lookahead) is no part
   * of the rate, and on a short clip on a busy machine it was most of the
   * time, which made a few seconds' work say a minute and a half. A little
   * progress first, too. */
  gint64 since = kt_house_job_encoding_since_us (lj->job);
  gint64 encoding = g_get_monotonic_time () - since;
  if (done < 0.02 || since == 0 || encoding < G_USEC_PER_SEC / 2)
    return -1;
  return (gint64) (encoding * (1.0 - done) / done);
}

void
kt_library_stop_jobs (KtLibrary *library)
{
  kt_library_imports_clear (library);
  kt_library_posters_clear (library);
  g_hash_table_remove_all (library->jobs);
}
