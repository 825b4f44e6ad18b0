#pragma once

#include <glib.h>

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
  KtItemState state;
  char *error;        /* for KT_ITEM_FAILED */
  guint segment_count;
  gint64 duration_us; /* segment_count × KT_SEGMENT_US */
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
/* Called on the main context whenever any job ends (@error NULL when its
 * item became ready). */
void kt_library_set_ready_callback (KtLibrary *library, KtLibraryItemDone ready,
                                    gpointer user_data);
/* Progress of the running job for @id, 0…1, or -1 when none runs. */
double kt_library_job_progress (KtLibrary *library, const char *id);
/* Stop every running job (shutdown); their items stay "processing" and are
 * redone at the next start. */
void kt_library_stop_jobs (KtLibrary *library);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtLibrary, kt_library_free)

G_END_DECLS
