/* kt-library-import: uploads into library items, through a queue.
 *
 * An import is probed first (kt-probe) and refused on the spot when ketang
 * cannot use the file: nothing is recorded, the teacher reads why. A file
 * that probes well is moved into uploads/<id> (copied when it sits on
 * another file system), recorded as an item "processing", and queued. At
 * most max_jobs normalizations run at once ([library] max_jobs, default 1
 * on purpose: on a two-core box one x264 ladder already fills the CPU and a
 * second only makes both late), in the order they came.
 *
 * The kept file is what makes a restart harmless: a row left "processing"
 * by a killed server still has its source_path, so the next start queues it
 * again (probing it anew, off the main thread). attempts counts starts; a
 * file that was started KT_LIBRARY_MAX_ATTEMPTS times without ending is
 * taken to be what kills the server and is failed, so nothing stays
 * "processing" forever. When a job ends, ready or failed, its file is
 * removed: the house-format item is what the library keeps.
 *
 * Threads: the probe and the move run on GLib's worker threads (GTask);
 * their results come back on the main context, where every structure here
 * lives. A library freed while one is out cancels it, and the callback then
 * touches nothing; a file moved by then is an orphan in uploads/, removed at
 * the next start.
 */
#define G_LOG_DOMAIN "kt-library"

#include "kt-clock.h"
#include "kt-library-private.h"
#include "kt-normalize.h"
#include "kt-upload.h"

#include <errno.h>
#include <glib/gstdio.h>

void
kt_import_free (KtImport *import)
{
  if (import == NULL)
    return;
  g_free (import->id);
  g_free (import->source);
  g_free (import->title);
  kt_probe_free (import->probe);
  g_free (import);
}

void
kt_library_imports_init (KtLibrary *library)
{
  g_queue_init (&library->queue);
  library->probing =
      g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) kt_import_free);
  library->cancellable = g_cancellable_new ();
}

/* Stop taking work: cancel what is out on threads and forget the queue (the
 * rows stay "processing" for the next start). */
void
kt_library_imports_clear (KtLibrary *library)
{
  library->max_jobs = 0;
  if (library->cancellable) {
    g_cancellable_cancel (library->cancellable);
    g_clear_object (&library->cancellable);
    library->cancellable = g_cancellable_new ();
  }
  g_queue_clear_full (&library->queue, (GDestroyNotify) kt_import_free);
  if (library->probing)
    g_hash_table_remove_all (library->probing);
  library->imports_running = 0;
}

static void run_queue (KtLibrary *library);

static void
exec_for_id (KtLibrary *library, const char *sql, const char *id)
{
  g_autoptr (GError) error = NULL;
  sqlite3_stmt *stmt = kt_store_prepare (library->store, sql, &error);
  if (stmt) {
    sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
    kt_store_step_done (library->store, stmt, &error);
  }
  if (error)
    g_warning ("item=%s update failed: %s", id, error->message);
}

void
kt_library_import_ended (KtLibrary *library, KtImport *import)
{
  if (g_unlink (import->source) != 0 && errno != ENOENT)
    g_warning ("item=%s cannot remove source=%s: %s", import->id, import->source,
               g_strerror (errno));
  exec_for_id (library, "UPDATE items SET source_path = NULL WHERE id = ?", import->id);
  if (library->imports_running > 0)
    library->imports_running--;
  run_queue (library);
}

static void
fail_import (KtLibrary *library, KtImport *import /* (transfer full) */, const GError *error)
{
  g_warning ("item=%s normalization failed: %s", import->id, error->message);
  kt_library_set_state (library, import->id, KT_ITEM_FAILED, 0, error->message, NULL);
  kt_library_import_ended (library, import);
  kt_import_free (import);
}

static void
run_import (KtLibrary *library, KtImport *import /* (transfer full) */)
{
  KtNormalizePlan plan;
  kt_normalize_plan (import->probe, &plan);
  g_autofree char *tmp_dir = kt_library_tmp_dir (library, import->id);
  kt_library_remove_tree (tmp_dir);
  exec_for_id (library, "UPDATE items SET attempts = attempts + 1 WHERE id = ?", import->id);

  g_autoptr (GError) error = NULL;
  GstElement *pipeline = kt_normalize_build (library->pipelines_dir, import->source,
                                             import->probe, &plan, import->title, tmp_dir, &error);
  KtLibraryJob *lj = pipeline ? kt_library_start_job (library, import->id, pipeline,
                                                      plan.duration_us, NULL, NULL, &error)
                              : NULL;
  if (lj == NULL) {
    fail_import (library, import, error);
    return;
  }
  g_info ("item=%s normalizing segments=%u", import->id, plan.segments);
  lj->import = import;
  kt_house_job_watch (lj->job, library->stall_seconds);
}

gboolean
kt_library_import_check (KtImport *import, KtHouseJob *job, GError **error)
{
  gint64 decoded = kt_normalize_decoded_us (kt_house_job_pipeline (job));
  if (decoded + KT_NORMALIZE_SHORTFALL_US >= import->probe->duration_us)
    return TRUE;
  g_autoptr (GError) teacher = g_error_new_literal (KT_PROBE_ERROR, KT_PROBE_ERROR_UNREADABLE, "");
  g_set_error (error, KT_PROBE_ERROR, KT_PROBE_ERROR_UNREADABLE,
               "%s — truncated: its data ends at %.1f s of the %.1f s its index says",
               kt_probe_error_teacher_text (teacher), decoded / 1e6,
               import->probe->duration_us / 1e6);
  return FALSE;
}

typedef struct {
  KtLibrary *library;
  char *id;
} Reprobe;

static void
on_reprobed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Reprobe *r = user_data;
  g_autoptr (GError) error = NULL;
  KtProbe *probe = kt_probe_file_finish (result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_free (r->id);
    g_free (r);
    return; /* the library is gone or stopped: touch nothing */
  }
  KtLibrary *library = r->library;
  gpointer key, value;
  gboolean found = g_hash_table_steal_extended (library->probing, r->id, &key, &value);
  g_free (r->id);
  g_free (r);
  if (!found) {
    kt_probe_free (probe);
    return;
  }
  KtImport *import = value;
  if (probe == NULL) {
    fail_import (library, import, error);
    return;
  }
  import->probe = probe;
  run_import (library, import);
}

static void
run_queue (KtLibrary *library)
{
  while (library->imports_running < library->max_jobs && !g_queue_is_empty (&library->queue)) {
    KtImport *import = g_queue_pop_head (&library->queue);
    library->imports_running++;
    if (import->probe != NULL) {
      run_import (library, import);
      continue;
    }
    Reprobe *r = g_new0 (Reprobe, 1);
    r->library = library;
    r->id = g_strdup (import->id);
    g_hash_table_insert (library->probing, import->id, import);
    kt_probe_file_async (import->source, KT_LIBRARY_PROBE_TIMEOUT_S, library->cancellable,
                         on_reprobed, r);
  }
}

void
kt_library_start_imports (KtLibrary *library, guint max_jobs, guint stall_seconds)
{
  library->max_jobs = MAX (max_jobs, 1);
  library->stall_seconds = MAX (stall_seconds, 1);
  g_info ("imports max_jobs=%u queued=%u", library->max_jobs, g_queue_get_length (&library->queue));
  run_queue (library);
}

guint
kt_library_imports_queued (KtLibrary *library)
{
  return g_queue_get_length (&library->queue);
}

gboolean
kt_library_import_waiting (KtLibrary *library, const char *id)
{
  for (GList *l = library->queue.head; l; l = l->next)
    if (g_str_equal (((KtImport *) l->data)->id, id))
      return TRUE;
  return g_hash_table_contains (library->probing, id);
}

/* Restart. */

typedef struct {
  char *id, *title, *source;
  int attempts;
} Leftover;

static void
leftover_free (Leftover *l)
{
  g_free (l->id);
  g_free (l->title);
  g_free (l->source);
  g_free (l);
}

void
kt_library_imports_recover (KtLibrary *library)
{
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) leftover_free);
  sqlite3_stmt *stmt = kt_store_prepare (
      library->store,
      "SELECT id, title, source_path, attempts FROM items "
      "WHERE state = 'processing' AND kind = 'upload' ORDER BY created_us",
      NULL);
  while (stmt && sqlite3_step (stmt) == SQLITE_ROW) {
    Leftover *l = g_new0 (Leftover, 1);
    l->id = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
    l->title = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
    l->source = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
    l->attempts = sqlite3_column_int (stmt, 3);
    g_ptr_array_add (rows, l);
  }
  if (stmt)
    sqlite3_reset (stmt);

  g_autoptr (GHashTable) kept = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < rows->len; i++) {
    Leftover *l = rows->pdata[i];
    gboolean present = l->source && g_file_test (l->source, G_FILE_TEST_IS_REGULAR);
    if (present && l->attempts < KT_LIBRARY_MAX_ATTEMPTS) {
      g_info ("item=%s interrupted by a restart, queued again attempts=%d", l->id, l->attempts);
      KtImport *import = g_new0 (KtImport, 1);
      import->id = g_strdup (l->id);
      import->title = g_strdup (l->title);
      import->source = g_strdup (l->source);
      g_queue_push_tail (&library->queue, import);
      g_hash_table_add (kept, import->source);
      continue;
    }
    g_autofree char *why = g_strdup_printf (
        "处理被中断，无法完成，请重新上传。 — %s",
        present ? "interrupted too many times" : "interrupted by a restart, source file gone");
    g_warning ("item=%s failed: %s attempts=%d", l->id, why, l->attempts);
    kt_library_set_state (library, l->id, KT_ITEM_FAILED, 0, why, NULL);
    exec_for_id (library, "UPDATE items SET source_path = NULL WHERE id = ?", l->id);
  }

  /* Files no queued row names: an import cut short between the move and
   * the insert, or a row failed above. The folder is shared with kt-upload:
   * its <id>.part files are uploads still arriving (or complete and not yet
   * imported), which their rows in uploads account for. Sweeping them too
   * deleted every half-sent upload at each restart, so a teacher's resumed
   * upload started again from byte 0 (found by the crash test). */
  g_autoptr (GDir) dir = g_dir_open (library->uploads_dir, 0, NULL);
  const char *name;
  while (dir && (name = g_dir_read_name (dir)) != NULL) {
    g_autofree char *path = g_build_filename (library->uploads_dir, name, NULL);
    if (g_str_has_suffix (name, KT_UPLOAD_PART_SUFFIX))
      continue;
    if (!g_hash_table_contains (kept, path) && g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
      g_info ("removing orphan upload path=%s", path);
      g_unlink (path);
    }
  }
}

/* Importing. */

static gboolean
adopt_file (const char *from, const char *to, GError **error)
{
  if (g_rename (from, to) == 0)
    return TRUE;
  int saved = errno;
  if (saved == EXDEV) {
    g_autoptr (GFile) src = g_file_new_for_path (from);
    g_autoptr (GFile) dst = g_file_new_for_path (to);
    if (g_file_copy (src, dst, G_FILE_COPY_NONE, NULL, NULL, NULL, error)) {
      g_unlink (from);
      return TRUE;
    }
    g_unlink (to);
    g_prefix_error (error, "cannot copy the upload into the library: ");
    return FALSE;
  }
  g_set_error (error, KT_LIBRARY_ERROR, KT_LIBRARY_ERROR_IO, "cannot move %s to %s: %s", from, to,
               g_strerror (saved));
  return FALSE;
}

typedef struct {
  KtLibrary *library;
  char *id;
  char *path;   /* where the caller put the file */
  char *target; /* uploads/<id> */
  char *title;
  char *owner;
} ImportRequest;

static void
request_free (ImportRequest *r)
{
  g_free (r->id);
  g_free (r->path);
  g_free (r->target);
  g_free (r->title);
  g_free (r->owner);
  g_free (r);
}

static ImportRequest *
request_new (KtLibrary *library, const char *path, const char *title, const char *owner,
             const char *id)
{
  ImportRequest *r = g_new0 (ImportRequest, 1);
  g_autofree char *uuid = g_uuid_string_random ();
  r->library = library;
  r->id = id ? g_strdup (id) : g_strdup_printf ("up-%s", uuid);
  r->path = g_strdup (path);
  r->target = g_build_filename (library->uploads_dir, r->id, NULL);
  r->title = g_strdup (title);
  r->owner = g_strdup (owner ? owner : "");
  return r;
}

/* Any thread. */
static KtProbe *
probe_and_adopt (ImportRequest *r, GError **error)
{
  g_autoptr (KtProbe) probe = kt_probe_file (r->path, KT_LIBRARY_PROBE_TIMEOUT_S, error);
  if (probe == NULL || !adopt_file (r->path, r->target, error))
    return NULL;
  return g_steal_pointer (&probe);
}

/* Main context: record the item and queue its job. */
static char *
register_import (KtLibrary *library, ImportRequest *r, KtProbe *probe /* (transfer full) */,
                 GError **error)
{
  g_autoptr (KtProbe) owned = probe;
  g_autofree char *described = kt_probe_describe (probe);
  sqlite3_stmt *stmt = kt_store_prepare (
      library->store,
      "INSERT INTO items (id, kind, title, teacher, owner, state, created_us, source_path, "
      "source_duration_us, probe) VALUES (?, 'upload', ?, ?, ?, 'processing', ?, ?, ?, ?)",
      error);
  if (stmt == NULL) {
    g_unlink (r->target);
    return NULL;
  }
  sqlite3_bind_text (stmt, 1, r->id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, r->title, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, r->owner, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 4, r->owner, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 5, kt_clock_now_us ());
  sqlite3_bind_text (stmt, 6, r->target, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 7, probe->duration_us);
  sqlite3_bind_text (stmt, 8, described, -1, SQLITE_TRANSIENT);
  if (!kt_store_step_done (library->store, stmt, error)) {
    g_unlink (r->target);
    return NULL;
  }
  g_info ("item=%s imported owner=%s %s", r->id, r->owner, described);

  KtImport *import = g_new0 (KtImport, 1);
  import->id = g_strdup (r->id);
  import->source = g_strdup (r->target);
  import->title = g_strdup (r->title);
  import->probe = g_steal_pointer (&owned);
  g_queue_push_tail (&library->queue, import);
  run_queue (library);
  return g_strdup (r->id);
}

static void
log_refusal (const ImportRequest *r, const GError *error)
{
  g_info ("upload refused path=%s owner=%s: %s", r->path, r->owner, error->message);
}

char *
kt_library_import (KtLibrary *library, const char *source_path, const char *title,
                   const char *owner, GError **error)
{
  g_return_val_if_fail (source_path != NULL && title != NULL, NULL);
  ImportRequest *r = request_new (library, source_path, title, owner, NULL);
  g_autoptr (GError) local = NULL;
  KtProbe *probe = probe_and_adopt (r, &local);
  char *id = probe ? register_import (library, r, probe, &local) : NULL;
  if (id == NULL) {
    log_refusal (r, local);
    g_propagate_error (error, g_steal_pointer (&local));
  }
  request_free (r);
  return id;
}

static void
import_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  GError *error = NULL;
  KtProbe *probe = probe_and_adopt (data, &error);
  if (probe)
    g_task_return_pointer (task, probe, (GDestroyNotify) kt_probe_free);
  else
    g_task_return_error (task, error);
}

static void
on_imported (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) outer = user_data;
  g_autoptr (GError) error = NULL;
  ImportRequest *r = g_task_get_task_data (G_TASK (result));
  KtProbe *probe = g_task_propagate_pointer (G_TASK (result), &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_task_return_error (outer, g_steal_pointer (&error));
    return; /* the library is gone or stopped: touch nothing */
  }
  char *id = probe ? register_import (r->library, r, probe, &error) : NULL;
  if (id == NULL) {
    log_refusal (r, error);
    g_task_return_error (outer, g_steal_pointer (&error));
    return;
  }
  g_task_return_pointer (outer, id, g_free);
}

void
kt_library_import_async (KtLibrary *library, const char *source_path, const char *title,
                         const char *owner, const char *id, GAsyncReadyCallback callback,
                         gpointer user_data)
{
  g_return_if_fail (source_path != NULL && title != NULL);
  GTask *outer = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (outer, kt_library_import_async);
  g_autoptr (GTask) inner = g_task_new (NULL, library->cancellable, on_imported, outer);
  g_task_set_task_data (inner, request_new (library, source_path, title, owner, id),
                        (GDestroyNotify) request_free);
  g_task_run_in_thread (inner, import_in_thread);
}

char *
kt_library_import_finish (KtLibrary *library, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
