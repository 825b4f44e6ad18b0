/* kt-probe: what is in an uploaded file, and whether ketang can take it.
 *
 * The upload is outside input of the worst kind: anything a teacher's phone
 * or an old camera wrote, or a file that is not media at all. GstDiscoverer
 * reads it with the same demuxers and decoders the normalization will use,
 * so a file that probes well will decode; one that does not is refused here,
 * before a job or an item exists, with a reason a teacher can act on ("the
 * file is incomplete, upload it again") and English detail for the log.
 *
 * Discovery of a damaged file can take a while (the discoverer's timeout
 * bounds it), so the server probes on a worker thread (kt_probe_file_async,
 * a GTask in GLib's pool) and never on its main loop. The synchronous
 * discoverer polls its own bus and needs no main context.
 *
 * Audio-only uploads are accepted (has_video FALSE): a recorded talk without
 * pictures is common, and the normalization shows a still card with the
 * title for it. A still picture alone (is_image) is not a lesson. Cover art
 * in an audio file is a picture stream too and is ignored.
 */
#define G_LOG_DOMAIN "kt-probe"

#include "kt-probe.h"

#include <errno.h>
#include <gst/pbutils/pbutils.h>
#include <glib/gstdio.h>

G_DEFINE_QUARK (kt-probe-error-quark, kt_probe_error)

static const char *const teacher_texts[] = {
  [KT_PROBE_ERROR_UNREADABLE] = "文件不完整或已损坏，无法读取。请检查文件后重新上传。",
  [KT_PROBE_ERROR_NOT_MEDIA] = "这个文件不是视频或音频，不能作为课程上传。",
  [KT_PROBE_ERROR_NO_STREAMS] = "文件里既没有画面也没有声音。",
  [KT_PROBE_ERROR_CODEC] = "文件的编码格式本系统无法解码。请转换成 MP4（H.264 视频、AAC 音频）后再上传。",
  [KT_PROBE_ERROR_TOO_SHORT] = "视频太短（不到 1 秒）。",
  [KT_PROBE_ERROR_TOO_LARGE] = "视频的画面太大或时间太长（最长 6 小时），无法处理。",
};

const char *
kt_probe_error_teacher_text (const GError *error)
{
  if (error == NULL || error->domain != KT_PROBE_ERROR || error->code < 0 ||
      error->code >= (int) G_N_ELEMENTS (teacher_texts))
    return NULL;
  return teacher_texts[error->code];
}

static gboolean G_GNUC_PRINTF (3, 4)
refuse (GError **error, KtProbeError code, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *detail = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, KT_PROBE_ERROR, code, "%s — %s", teacher_texts[code], detail);
  return FALSE;
}

void
kt_probe_free (KtProbe *probe)
{
  if (probe == NULL)
    return;
  g_free (probe->container);
  g_free (probe->video_codec);
  g_free (probe->audio_codec);
  g_free (probe);
}

void
kt_probe_display_size (const KtProbe *probe, double *width, double *height)
{
  double w = probe->width * (double) probe->par_n / MAX (probe->par_d, 1);
  double h = probe->height;
  gboolean sideways = probe->rotation == 90 || probe->rotation == 270;
  *width = sideways ? h : w;
  *height = sideways ? w : h;
}

char *
kt_probe_describe (const KtProbe *probe)
{
  GString *s = g_string_new (NULL);
  g_string_append_printf (s, "duration_us=%" G_GINT64_FORMAT " container=\"%s\"", probe->duration_us,
                          probe->container ? probe->container : "");
  if (probe->has_video)
    g_string_append_printf (s, " video=%dx%d par=%d/%d fps=%d/%d rotation=%d vcodec=\"%s\"",
                            probe->width, probe->height, probe->par_n, probe->par_d, probe->fps_n,
                            probe->fps_d, probe->rotation, probe->video_codec);
  else
    g_string_append (s, " video=none");
  if (probe->has_audio)
    g_string_append_printf (s, " audio=%dch@%d acodec=\"%s\"", probe->channels, probe->rate,
                            probe->audio_codec);
  else
    g_string_append (s, " audio=none");
  return g_string_free (s, FALSE);
}

static char *
codec_of (GstDiscovererStreamInfo *info)
{
  g_autoptr (GstCaps) caps = gst_discoverer_stream_info_get_caps (info);
  char *text = caps ? gst_pb_utils_get_codec_description (caps) : NULL;
  return text ? text : g_strdup ("unknown");
}

static int
rotation_of (const GstTagList *tags)
{
  g_autofree char *orientation = NULL;
  if (tags == NULL || !gst_tag_list_get_string (tags, GST_TAG_IMAGE_ORIENTATION, &orientation))
    return -1;
  static const struct {
    const char *tag;
    int degrees;
  } map[] = { { "rotate-0", 0 },        { "rotate-90", 90 },       { "rotate-180", 180 },
              { "rotate-270", 270 },    { "flip-rotate-0", 0 },    { "flip-rotate-90", 90 },
              { "flip-rotate-180", 180 }, { "flip-rotate-270", 270 } };
  for (guint i = 0; i < G_N_ELEMENTS (map); i++)
    if (g_str_equal (orientation, map[i].tag))
      return map[i].degrees;
  return -1;
}

/* A missing plugin for audio or video caps is a codec we cannot decode; a
 * missing "decoder" for text/plain or application/… means the file is not
 * media at all (typefinding recognised a document). */
static gboolean
refuse_missing (GstDiscovererInfo *info, GError **error)
{
  const char **details = gst_discoverer_info_get_missing_elements_installer_details (info);
  g_autofree char *all = details ? g_strjoinv (", ", (char **) details) : g_strdup ("?");
  for (int i = 0; details && details[i]; i++)
    if (strstr (details[i], "decoder-video/") || strstr (details[i], "decoder-audio/"))
      return refuse (error, KT_PROBE_ERROR_CODEC, "missing plugins: %s", all);
  return refuse (error, KT_PROBE_ERROR_NOT_MEDIA, "no element for: %s", all);
}

static gboolean
refuse_error (const GError *gst_error, GError **error)
{
  const char *message = gst_error ? gst_error->message : "discovery failed";
  if (gst_error && gst_error->domain == GST_STREAM_ERROR &&
      (gst_error->code == GST_STREAM_ERROR_TYPE_NOT_FOUND ||
       gst_error->code == GST_STREAM_ERROR_WRONG_TYPE))
    return refuse (error, KT_PROBE_ERROR_NOT_MEDIA, "not media: %s", message);
  if (gst_error && gst_error->domain == GST_STREAM_ERROR &&
      gst_error->code == GST_STREAM_ERROR_CODEC_NOT_FOUND)
    return refuse (error, KT_PROBE_ERROR_CODEC, "no decoder: %s", message);
  return refuse (error, KT_PROBE_ERROR_UNREADABLE, "unreadable: %s", message);
}

static void
read_video (KtProbe *probe, GstDiscovererInfo *info)
{
  g_autolist (GstDiscovererStreamInfo) videos = gst_discoverer_info_get_video_streams (info);
  for (GList *l = videos; l; l = l->next) {
    GstDiscovererVideoInfo *v = l->data;
    if (gst_discoverer_video_info_is_image (v))
      continue; /* a still picture or cover art */
    probe->has_video = TRUE;
    probe->width = gst_discoverer_video_info_get_width (v);
    probe->height = gst_discoverer_video_info_get_height (v);
    probe->par_n = gst_discoverer_video_info_get_par_num (v);
    probe->par_d = gst_discoverer_video_info_get_par_denom (v);
    if (probe->par_n <= 0 || probe->par_d <= 0)
      probe->par_n = probe->par_d = 1;
    probe->fps_n = gst_discoverer_video_info_get_framerate_num (v);
    probe->fps_d = MAX (gst_discoverer_video_info_get_framerate_denom (v), 1);
    int rotation = rotation_of (gst_discoverer_stream_info_get_tags (l->data));
    if (rotation < 0)
      rotation = rotation_of (gst_discoverer_info_get_tags (info));
    probe->rotation = MAX (rotation, 0);
    probe->video_codec = codec_of (l->data);
    return;
  }
}

static void
read_audio (KtProbe *probe, GstDiscovererInfo *info)
{
  g_autolist (GstDiscovererStreamInfo) audios = gst_discoverer_info_get_audio_streams (info);
  if (audios == NULL)
    return;
  GstDiscovererAudioInfo *a = audios->data;
  probe->has_audio = TRUE;
  probe->channels = gst_discoverer_audio_info_get_channels (a);
  probe->rate = gst_discoverer_audio_info_get_sample_rate (a);
  probe->audio_codec = codec_of (audios->data);
}

static gboolean
has_images (GstDiscovererInfo *info)
{
  g_autolist (GstDiscovererStreamInfo) videos = gst_discoverer_info_get_video_streams (info);
  return videos != NULL;
}

static char *
container_of (GstDiscovererInfo *info)
{
  g_autoptr (GstDiscovererStreamInfo) top = gst_discoverer_info_get_stream_info (info);
  if (top == NULL || !GST_IS_DISCOVERER_CONTAINER_INFO (top))
    return g_strdup ("none");
  return codec_of (top);
}

KtProbe *
kt_probe_file (const char *path, guint timeout_s, GError **error)
{
  GStatBuf st;
  if (g_stat (path, &st) != 0 || !S_ISREG (st.st_mode)) {
    refuse (error, KT_PROBE_ERROR_UNREADABLE, "cannot read %s: %s", path, g_strerror (errno));
    return NULL;
  }
  if (st.st_size == 0) {
    refuse (error, KT_PROBE_ERROR_UNREADABLE, "empty file %s", path);
    return NULL;
  }

  g_autoptr (GError) local = NULL;
  g_autofree char *uri = gst_filename_to_uri (path, &local);
  g_autoptr (GstDiscoverer) discoverer =
      uri ? gst_discoverer_new ((GstClockTime) timeout_s * GST_SECOND, &local) : NULL;
  if (discoverer == NULL) {
    refuse (error, KT_PROBE_ERROR_UNREADABLE, "cannot probe %s: %s", path, local->message);
    return NULL;
  }
  g_autoptr (GstDiscovererInfo) info = gst_discoverer_discover_uri (discoverer, uri, &local);
  GstDiscovererResult result = info ? gst_discoverer_info_get_result (info) : GST_DISCOVERER_ERROR;
  switch (result) {
    case GST_DISCOVERER_OK:
      break;
    case GST_DISCOVERER_MISSING_PLUGINS:
      refuse_missing (info, error);
      return NULL;
    case GST_DISCOVERER_TIMEOUT:
      refuse (error, KT_PROBE_ERROR_UNREADABLE, "discovery timed out after %u s", timeout_s);
      return NULL;
    default:
      refuse_error (local, error);
      return NULL;
  }

  g_autoptr (KtProbe) probe = g_new0 (KtProbe, 1);
  GstClockTime duration = gst_discoverer_info_get_duration (info);
  probe->duration_us = GST_CLOCK_TIME_IS_VALID (duration) ? (gint64) (duration / GST_USECOND) : 0;
  probe->container = container_of (info);
  probe->par_n = probe->par_d = 1;
  probe->fps_d = 1;
  read_video (probe, info);
  read_audio (probe, info);
  g_autofree char *described = kt_probe_describe (probe);

  if (!probe->has_video && !probe->has_audio) {
    if (has_images (info))
      refuse (error, KT_PROBE_ERROR_NOT_MEDIA, "a still picture: %s", described);
    else
      refuse (error, KT_PROBE_ERROR_NO_STREAMS, "no audio or video track: %s", described);
    return NULL;
  }
  if (probe->has_video && (probe->width <= 0 || probe->height <= 0)) {
    refuse (error, KT_PROBE_ERROR_UNREADABLE, "no picture size: %s", described);
    return NULL;
  }
  if (probe->width > KT_PROBE_MAX_SIDE || probe->height > KT_PROBE_MAX_SIDE) {
    refuse (error, KT_PROBE_ERROR_TOO_LARGE, "picture larger than %d px: %s", KT_PROBE_MAX_SIDE,
            described);
    return NULL;
  }
  if (probe->duration_us <= 0) {
    refuse (error, KT_PROBE_ERROR_UNREADABLE, "length unknown: %s", described);
    return NULL;
  }
  if (probe->duration_us < KT_PROBE_MIN_US) {
    refuse (error, KT_PROBE_ERROR_TOO_SHORT, "shorter than 1 s: %s", described);
    return NULL;
  }
  if (probe->duration_us > KT_PROBE_MAX_US) {
    refuse (error, KT_PROBE_ERROR_TOO_LARGE, "longer than 6 h: %s", described);
    return NULL;
  }
  g_debug ("probed path=%s %s", path, described);
  return g_steal_pointer (&probe);
}

typedef struct {
  char *path;
  guint timeout_s;
} ProbeTask;

static void
probe_task_free (ProbeTask *t)
{
  g_free (t->path);
  g_free (t);
}

static void
probe_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  ProbeTask *t = data;
  GError *error = NULL;
  KtProbe *probe = kt_probe_file (t->path, t->timeout_s, &error);
  if (probe)
    g_task_return_pointer (task, probe, (GDestroyNotify) kt_probe_free);
  else
    g_task_return_error (task, error);
}

void
kt_probe_file_async (const char *path, guint timeout_s, GCancellable *cancellable,
                     GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  ProbeTask *t = g_new0 (ProbeTask, 1);
  t->path = g_strdup (path);
  t->timeout_s = timeout_s;
  g_task_set_task_data (task, t, (GDestroyNotify) probe_task_free);
  g_task_set_source_tag (task, kt_probe_file_async);
  g_task_run_in_thread (task, probe_in_thread);
}

KtProbe *
kt_probe_file_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
