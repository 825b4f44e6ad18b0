#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _KtThumbnail KtThumbnail;

typedef void (*KtThumbnailDone) (const char *output, const GError *error, gpointer user_data);

/* Start making @output, a 320x180 JPEG of the first picture of house
 * segment @segment, with pipelines/thumbnail.pipeline from @pipelines_dir.
 * @done runs on the main context once, when the file is in place or it
 * failed; never after kt_thumbnail_free. */
KtThumbnail *kt_thumbnail_start (const char *pipelines_dir, const char *segment,
                                 const char *output, KtThumbnailDone done, gpointer user_data,
                                 GError **error);
void kt_thumbnail_free (KtThumbnail *thumbnail);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtThumbnail, kt_thumbnail_free)

G_END_DECLS
