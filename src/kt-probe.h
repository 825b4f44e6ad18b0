#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define KT_PROBE_ERROR (kt_probe_error_quark ())
GQuark kt_probe_error_quark (void);

/* Why an upload is refused. Each code has one sentence for the teacher, in
 * Chinese (kt_probe_error_teacher_text); the GError message is that sentence
 * followed by English detail for the log. */
typedef enum {
  KT_PROBE_ERROR_UNREADABLE, /* empty, truncated, damaged, or cannot be opened */
  KT_PROBE_ERROR_NOT_MEDIA,  /* not audio or video at all (text, a picture, random bytes) */
  KT_PROBE_ERROR_NO_STREAMS, /* a media container with no audio and no video track */
  KT_PROBE_ERROR_CODEC,      /* a codec this server cannot decode (missing plugin) */
  KT_PROBE_ERROR_TOO_SHORT,  /* shorter than KT_PROBE_MIN_US */
  KT_PROBE_ERROR_TOO_LARGE,  /* picture larger than KT_PROBE_MAX_SIDE, or too long */
} KtProbeError;

#define KT_PROBE_MIN_US G_GINT64_CONSTANT (1000000)
#define KT_PROBE_MAX_US (G_GINT64_CONSTANT (6) * 3600 * 1000000)
#define KT_PROBE_MAX_SIDE 8192

/* What an upload holds, from GstDiscoverer. Plain data, owned by the caller. */
typedef struct {
  gint64 duration_us;
  char *container;   /* "Quicktime", "MPEG-4"... human words from pbutils */

  gboolean has_video;
  int width, height; /* coded picture size, before rotation */
  int par_n, par_d;  /* pixel aspect ratio, 1/1 when unknown */
  int fps_n, fps_d;  /* 0/1 when variable or unknown */
  int rotation;      /* clockwise degrees to show it upright: 0, 90, 180, 270 */
  char *video_codec;

  gboolean has_audio;
  int channels, rate;
  char *audio_codec;
} KtProbe;

void kt_probe_free (KtProbe *probe);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtProbe, kt_probe_free)

/* The picture as it is to be shown: PAR applied and rotation taken into
 * account. The display aspect ratio is *width / *height. */
void kt_probe_display_size (const KtProbe *probe, double *width, double *height);

/* "duration_us=… video=640x360 … audio=…" for logs. (transfer full) */
char *kt_probe_describe (const KtProbe *probe);

/* Probe @path synchronously: blocks for up to @timeout_s (the discoverer's
 * own timeout). Not for the main thread of the server; see kt_probe_file_async. */
KtProbe *kt_probe_file (const char *path, guint timeout_s, GError **error);

/* The same on a worker thread; @callback runs on the calling thread's
 * thread-default main context. */
void kt_probe_file_async (const char *path, guint timeout_s, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data);
KtProbe *kt_probe_file_finish (GAsyncResult *result, GError **error);

/* The sentence for a teacher, in Chinese, for an error of KT_PROBE_ERROR, or
 * NULL for other errors. */
const char *kt_probe_error_teacher_text (const GError *error);

G_END_DECLS
