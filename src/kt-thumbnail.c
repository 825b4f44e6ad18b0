/* kt-thumbnail: a poster picture for a library item.
 *
 * The library and replay pages show each lecture as a picture, the way a
 * teacher recognises it faster than by its title. The picture is taken from
 * the item's own 360p rendition, not from the upload: every item has one
 * (uploads, the demo, recorded talks), every segment starts on a keyframe,
 * so decoding a single frame of a single segment is enough — a few tens of
 * milliseconds of CPU, on a GStreamer thread, never on the main loop.
 *
 * The graph is pipelines/thumbnail.pipeline. The JPEG is written next to
 * its final name and renamed when the pipeline reached EOS, so a crash or
 * an error never leaves a half-written poster where a page would show it.
 * A failure is reported, not retried here: the library decides.
 */
#define G_LOG_DOMAIN "kt-thumbnail"

#include "kt-thumbnail.h"
#include "kt-pipeline.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <gst/gst.h>

struct _KtThumbnail {
  GstElement *pipeline;
  guint bus_watch;
  char *output;
  char *partial;
  KtThumbnailDone done;
  gpointer user_data;
};

static void
finish (KtThumbnail *thumbnail, GError *error)
{
  gst_element_set_state (thumbnail->pipeline, GST_STATE_NULL);
  if (error == NULL && g_rename (thumbnail->partial, thumbnail->output) != 0)
    error = g_error_new (G_FILE_ERROR, g_file_error_from_errno (errno), "cannot move %s: %s",
                         thumbnail->partial, g_strerror (errno));
  if (error != NULL)
    g_unlink (thumbnail->partial);
  thumbnail->bus_watch = 0; /* the watch ends with this call */
  KtThumbnailDone done = thumbnail->done;
  thumbnail->done = NULL;
  if (done)
    done (thumbnail->output, error, thumbnail->user_data);
  g_clear_error (&error);
}

static gboolean
on_bus_message (GstBus *bus, GstMessage *message, gpointer user_data)
{
  KtThumbnail *thumbnail = user_data;
  switch (GST_MESSAGE_TYPE (message)) {
  case GST_MESSAGE_EOS:
    finish (thumbnail, NULL);
    return G_SOURCE_REMOVE;
  case GST_MESSAGE_ERROR: {
    GError *error = NULL;
    gst_message_parse_error (message, &error, NULL);
    g_prefix_error (&error, "poster %s: ", thumbnail->output);
    finish (thumbnail, error);
    return G_SOURCE_REMOVE;
  }
  default:
    return G_SOURCE_CONTINUE;
  }
}

KtThumbnail *
kt_thumbnail_start (const char *pipelines_dir, const char *segment, const char *output,
                    KtThumbnailDone done, gpointer user_data, GError **error)
{
  g_autofree char *partial = g_strconcat (output, ".part", NULL);
  const char *vars[] = { "segment", segment, "output", partial, NULL };
  const char *required[] = { "poster", NULL };
  GstElement *pipeline = kt_pipeline_build (pipelines_dir, "thumbnail", vars, required, error);
  if (pipeline == NULL)
    return NULL;

  KtThumbnail *thumbnail = g_new0 (KtThumbnail, 1);
  thumbnail->pipeline = pipeline;
  thumbnail->output = g_strdup (output);
  thumbnail->partial = g_steal_pointer (&partial);
  thumbnail->done = done;
  thumbnail->user_data = user_data;
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  thumbnail->bus_watch = gst_bus_add_watch (bus, on_bus_message, thumbnail);
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    /* The error itself is on the bus and arrives through the watch. */
    g_debug ("poster %s: pipeline refused to start", output);
  }
  return thumbnail;
}

void
kt_thumbnail_free (KtThumbnail *thumbnail)
{
  if (thumbnail == NULL)
    return;
  if (thumbnail->bus_watch)
    g_source_remove (thumbnail->bus_watch);
  gst_element_set_state (thumbnail->pipeline, GST_STATE_NULL);
  if (thumbnail->done) /* stopped before the end */
    g_unlink (thumbnail->partial);
  gst_object_unref (thumbnail->pipeline);
  g_free (thumbnail->output);
  g_free (thumbnail->partial);
  g_free (thumbnail);
}
