#pragma once

#include <gio/gio.h>

#include "kt-hls.h"
#include "kt-store.h"

G_BEGIN_DECLS

#define KT_LIBRARY_ERROR (kt_library_error_quark ())
GQuark kt_library_error_quark (void);

typedef enum {
  KT_LIBRARY_ERROR_NOT_FOUND,
  KT_LIBRARY_ERROR_BUSY, /* a job for that item is running */
  KT_LIBRARY_ERROR_IO,
  KT_LIBRARY_ERROR_MEDIA,
} KtLibraryError;

typedef enum {
  KT_ITEM_PROCESSING,
  KT_ITEM_READY,
  KT_ITEM_FAILED,
} KtItemState;

/* A media item's metadata: a copy, owned by the caller. */
typedef struct {
  char *id;
  char *kind;
  char *title;
  char *teacher;
  char *owner;        /* who uploaded it ("" for made items) */
  KtItemState state;
  char *error;        /* for KT_ITEM_FAILED */
  guint segment_count;
  gint64 duration_us; /* segment_count × KT_SEGMENT_US */
  gint64 source_duration_us; /* an upload's probed length, 0 for made items */
  char *description;
  gint64 created_us;
} KtItem;

void kt_item_free (KtItem *item);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtItem, kt_item_free)

/* The media library: items under <data_dir>/media/<id>/, their metadata in the
 * store, and the jobs that make them. */
typedef struct _KtLibrary KtLibrary;

/* Called on the main context when an item's job ends; @error NULL on success. */
typedef void (*KtLibraryItemDone) (KtLibrary *library, const char *item_id, const GError *error,
                                   gpointer user_data);

KtLibrary *kt_library_new (KtStore *store /* borrowed, outlives the library */,
                           const char *data_dir, const char *pipelines_dir, GError **error);
void kt_library_free (KtLibrary *library);

/* (transfer full) NULL when there is no such item. */
KtItem *kt_library_get (KtLibrary *library, const char *id);
/* The segments of @id that may be served: all of a ready item's, the
 * complete ones of a live talk's growing recording; 0 for anything else.
 * Answered from memory after the first call for an item. */
guint kt_library_ready_segments (KtLibrary *library, const char *id);
/* The same from memory only, from any thread: TRUE with *@count when the
 * answer is known, FALSE when only kt_library_ready_segments (on the main
 * thread) can tell. */
gboolean kt_library_peek_ready_segments (KtLibrary *library, const char *id, guint *count);
/* Absolute path of segment @index of @rendition of a ready item. */
char *kt_library_segment_path (KtLibrary *library, const char *item_id,
                               const KtRendition *rendition, guint index);

/* How to make an item from a pipeline template that generates it (the demo
 * lesson, slates). The template gets ${dir}, ${frames} (25 fps) and
 * ${buffers} (20 ms audio buffers) for the length, plus @vars. */
typedef struct {
  const char *id;
  const char *kind;      /* "demo", "slate" */
  const char *title;
  const char *teacher;
  const char *pipeline;  /* template name in pipelines/ */
  const char *const *vars; /* more name, value pairs, NULL-terminated */
  guint segments;        /* length in KT_SEGMENT_US segments */
} KtItemRecipe;

/* Start making item @recipe->id (replacing a failed or stale one). Returns
 * FALSE when it cannot start. */
gboolean kt_library_make (KtLibrary *library, const KtItemRecipe *recipe, KtLibraryItemDone done,
                          gpointer user_data, GError **error);
gboolean kt_library_is_making (KtLibrary *library, const char *id);
/* Jobs running now. */
guint kt_library_jobs_running (KtLibrary *library);
/* Jobs (normalizations, demo and slates) that ended since start. */
void kt_library_jobs_finished (KtLibrary *library, guint64 *ready, guint64 *failed);
/* Called on the main context whenever any job ends (@error NULL when its
 * item became ready). */
void kt_library_set_ready_callback (KtLibrary *library, KtLibraryItemDone ready,
                                    gpointer user_data);
/* Progress of the job for @id, 0…1 (0 while an upload waits for a slot),
 * or -1 when there is none. */
double kt_library_job_progress (KtLibrary *library, const char *id);
/* Stop every running job (shutdown); their items stay "processing": made
 * items are redone by their owners at the next start, uploads are
 * normalized again from their kept file (kt_library_start_imports). */
void kt_library_stop_jobs (KtLibrary *library);

/* Uploads.
 *
 * kt_library_import takes a file that has fully arrived, probes it (see
 * kt-probe: a refusal is a KT_PROBE_ERROR whose message starts with a
 * sentence for the teacher, kt_probe_error_teacher_text), and on success
 * moves it into the library's uploads/ dir (copies it when on another file
 * system; the caller's path is then gone) and records item "up-<uuid>" (or
 * the id the caller names) in state "processing", kind "upload". Its normalization runs in the
 * background, at most max_jobs at once, in order of import; the item becomes
 * "ready" or "failed" (the ready callback runs either way) and the kept file
 * is removed. A refused file is left where it was, and nothing is recorded.
 *
 * kt_library_import blocks for the probe (at most KT_LIBRARY_PROBE_TIMEOUT_S)
 * and the move: for tools and tests. The server's main loop uses the _async
 * form, which does both on a worker thread. */
#define KT_LIBRARY_PROBE_TIMEOUT_S 20

char *kt_library_import (KtLibrary *library, const char *source_path, const char *title,
                         const char *owner, GError **error);
/* @id names the item (NULL: a new id). An upload passes its own id, so
 * that a server killed between making the item and recording the upload's
 * outcome finds the item again at its next start. */
void kt_library_import_async (KtLibrary *library, const char *source_path, const char *title,
                              const char *owner, const char *id, GAsyncReadyCallback callback,
                              gpointer user_data);
/* (transfer full) the new item id, or NULL with @error: a KT_PROBE_ERROR
 * refusal, a KT_LIBRARY_ERROR_IO when the file could not be moved, or
 * G_IO_ERROR_CANCELLED when the library stopped meanwhile. */
char *kt_library_import_finish (KtLibrary *library, GAsyncResult *result, GError **error);

/* Let normalizations run, at most @max_jobs at once: the ones imported
 * since, and uploads a previous process left "processing" whose file is
 * still there (each is given up after KT_LIBRARY_MAX_ATTEMPTS starts). One
 * that encodes nothing new for @stall_seconds is failed (kt_house_job_watch),
 * which frees its slot. The app calls it once it serves. */
#define KT_LIBRARY_MAX_ATTEMPTS 3
void kt_library_start_imports (KtLibrary *library, guint max_jobs, guint stall_seconds);
/* Uploads waiting for a free job slot. */
guint kt_library_imports_queued (KtLibrary *library);
/* Estimated time left for item @id's job in µs, from the running time it
 * has encoded against its length and the wall time it took; -1 when unknown
 * (not running, or too early to tell). */
gint64 kt_library_job_eta_us (KtLibrary *library, const char *id);

/* The catalogue (kt-library-catalog.c). */

/* Items of @kind (all kinds when NULL) owned by @owner (anyone's when NULL),
 * newest first: KtItem*. */
GPtrArray *kt_library_list (KtLibrary *library, const char *kind, const char *owner);
/* Change an item's title, description and/or teacher (NULL: unchanged). */
gboolean kt_library_set_text (KtLibrary *library, const char *id, const char *title,
                              const char *description, const char *teacher, GError **error);
/* Remove an item: its row, its segments, a job making it. Channels airing
 * it stop doing so when they are next assembled. */
/* The item's poster (a 320x180 JPEG): its path whether or not it exists
 * yet; whether it exists, asking for it when a ready lecture has none; and
 * asking for it (made in the background, one at a time). */
char *kt_library_poster_path (KtLibrary *library, const char *item_id);
gboolean kt_library_has_poster (KtLibrary *library, const KtItem *item);
void kt_library_request_poster (KtLibrary *library, const char *item_id);

gboolean kt_library_delete (KtLibrary *library, const char *id, GError **error);

/* Recordings of live talks (kt-library-live.c): an item of kind "live",
 * "processing" while the talk airs and growing by one segment at a time.
 *
 * kt_library_live_open makes item @id (or reopens it, keeping what it
 * holds, after a restart during the talk) and its directories: (transfer
 * full) the item. kt_library_live_append moves the files @paths (one per
 * kt_renditions, same file system) into the item as its next segment and
 * counts it, and sets *@index to that segment's number. kt_library_live_close
 * makes the recording "ready" for replay, or removes it when it holds
 * nothing; closing an item that is not recording is not an error. */
KtItem *kt_library_live_open (KtLibrary *library, const char *id, const char *title,
                              const char *teacher, const char *owner, GError **error);
gboolean kt_library_live_append (KtLibrary *library, const char *id, const char *const *paths,
                                 guint *index, GError **error);
gboolean kt_library_live_close (KtLibrary *library, const char *id, GError **error);
/* A scratch directory for a live connection's files, on the library's file
 * system (so segments move into items by rename) and removed at the next
 * start if left behind; and its removal. (transfer full) */
char *kt_library_live_scratch_dir (KtLibrary *library, const char *name);
void kt_library_live_scratch_remove (const char *path);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtLibrary, kt_library_free)

G_END_DECLS
