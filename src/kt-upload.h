#pragma once

#include <glib.h>

#include "kt-store.h"

G_BEGIN_DECLS

#define KT_UPLOAD_ERROR (kt_upload_error_quark ())
/* An upload's bytes are uploads/<id>.part while they arrive; the library
 * shares the folder and leaves such files alone. */
#define KT_UPLOAD_PART_SUFFIX ".part"
GQuark kt_upload_error_quark (void);

typedef enum {
  KT_UPLOAD_ERROR_NOT_FOUND,
  KT_UPLOAD_ERROR_TOO_LARGE, /* over the configured limit */
  KT_UPLOAD_ERROR_OFFSET,    /* the chunk does not start where the file ends */
  KT_UPLOAD_ERROR_INVALID,   /* bad name, size or state */
  KT_UPLOAD_ERROR_IO,
} KtUploadError;

/* One upload as the store knows it; a copy owned by the caller. */
typedef struct {
  char *id;
  char *owner;
  char *filename;
  char *title;
  guint64 size;
  guint64 offset; /* bytes on disk */
  char *state;    /* "receiving", "complete", "imported", "refused" */
  char *item_id;  /* once imported */
  char *error;    /* once refused: why, for the teacher */
} KtUpload;

void kt_upload_free (KtUpload *upload);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtUpload, kt_upload_free)

/* Resumable uploads: <data_dir>/uploads/<id>.part plus a row each. */
typedef struct _KtUploads KtUploads;

KtUploads *kt_uploads_new (KtStore *store, const char *data_dir, guint64 max_bytes,
                           GError **error);
void kt_uploads_free (KtUploads *uploads);
guint64 kt_uploads_max_bytes (KtUploads *uploads);

KtUpload *kt_uploads_create (KtUploads *uploads, const char *owner, const char *filename,
                             const char *title, guint64 size, GError **error);
/* NULL when there is no such upload. */
KtUpload *kt_uploads_get (KtUploads *uploads, const char *id);
/* Uploads of @owner (all when NULL), newest first: KtUpload*. */
GPtrArray *kt_uploads_list (KtUploads *uploads, const char *owner);
/* Append @data at @offset, which must be where the file ends, and make it
 * durable; updates @upload (offset, and state "complete" at the end). */
gboolean kt_uploads_write (KtUploads *uploads, KtUpload *upload, guint64 offset, GBytes *data,
                           GError **error);
/* The file's path (transfer full). */
char *kt_uploads_path (KtUploads *uploads, const char *id);
/* Record the outcome of importing a complete upload; the file is removed. */
void kt_uploads_set_outcome (KtUploads *uploads, const char *id, const char *item_id,
                             const char *error);
gboolean kt_uploads_delete (KtUploads *uploads, const char *id, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtUploads, kt_uploads_free)

G_END_DECLS
