#pragma once

/* What kt-library.c and kt-library-import.c share; not for other modules. */

#include "kt-house-job.h"
#include "kt-library.h"
#include "kt-probe.h"

G_BEGIN_DECLS

/* An upload on its way: waiting in the queue, being probed after a restart,
 * or normalizing. */
typedef struct {
  char *id;
  char *source;  /* the kept file under uploads/ */
  char *title;
  KtProbe *probe; /* NULL until probed (after a restart) */
} KtImport;

void kt_import_free (KtImport *import);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtImport, kt_import_free)

typedef struct {
  KtLibrary *library;
  char *item_id;
  KtHouseJob *job;
  KtImport *import; /* owned; NULL for made items */
  KtLibraryItemDone done;
  gpointer user_data;
} KtLibraryJob;

struct _KtLibrary {
  KtStore *store;
  char *media_dir;
  char *uploads_dir;
  char *pipelines_dir;
  GHashTable *jobs; /* item id → KtLibraryJob* (owned) */
  KtLibraryItemDone ready;
  gpointer ready_data;
  guint64 jobs_ready, jobs_failed; /* jobs ended since start, for /metrics */
  /* Ready items' segment counts, for the segment route: id → count. Filled
   * on first use, dropped at every write that can change an item's state.
   * The HTTP serving threads read it (kt_library_peek_ready_segments), so
   * it is behind its own mutex; nothing else of the library is. */
  GMutex ready_lock;
  GHashTable *ready_segments;

  /* Uploads (kt-library-import.c), all on the main context. */
  guint max_jobs;       /* 0 until kt_library_start_imports */
  guint stall_seconds;  /* an import encoding nothing this long fails */
  GQueue queue;         /* KtImport*, owned, waiting for a slot */
  GHashTable *probing;  /* item id → KtImport* (owned): re-probed after a restart */
  guint imports_running; /* normalizing or being re-probed */
  GCancellable *cancellable; /* cancelled at free: worker threads' results are dropped */

  /* Posters (kt-library-poster.c), one at a time. */
  GQueue poster_queue;         /* item ids (owned) waiting */
  struct _KtThumbnail *poster_job; /* the one being made, or NULL */
  char *poster_item;           /* its item id */
  GHashTable *poster_failed;   /* item ids not to try again in this process */
};

/* The columns kt_library_item_from_row reads, in its order. */
#define KT_ITEM_COLUMNS                                                                       \
  "id, kind, title, teacher, state, error, segment_count, segment_us, owner, "               \
  "source_duration_us, description, created_us"
KtItem *kt_library_item_from_row (sqlite3_stmt *stmt);
void kt_library_remove_tree (const char *path);
/* An item's row is about to change: forget what the cache knows of it. */
void kt_library_forget_ready (KtLibrary *library, const char *id);
char *kt_library_tmp_dir (KtLibrary *library, const char *id);
gboolean kt_library_set_state (KtLibrary *library, const char *id, KtItemState state,
                               guint segments, const char *message, GError **error);
/* Start @pipeline (owned) writing item @id into its temporary dir as a
 * house job; on its end the item is renamed into place and marked. */
KtLibraryJob *kt_library_start_job (KtLibrary *library, const char *id, GstElement *pipeline,
                                    gint64 duration_us, KtLibraryItemDone done,
                                    gpointer user_data, GError **error);

/* kt-library-poster.c */
void kt_library_posters_clear (KtLibrary *library);

/* kt-library-import.c */
void kt_library_imports_init (KtLibrary *library);
void kt_library_imports_clear (KtLibrary *library);
/* Rows left "processing" by a previous process: queue or fail them. */
void kt_library_imports_recover (KtLibrary *library);
/* TRUE when upload @id waits for a slot or is being probed again. */
gboolean kt_library_import_waiting (KtLibrary *library, const char *id);
/* Whether the job of @import used the whole file (see kt-normalize on
 * truncation); FALSE with @error when it did not. */
gboolean kt_library_import_check (KtImport *import, KtHouseJob *job, GError **error);
/* A job of an upload ended (after its row is marked). */
void kt_library_import_ended (KtLibrary *library, KtImport *import);

G_END_DECLS
