/* kt-live-encoder: one publisher's connection, from SRT packets, a WHIP
 * peer's RTP or a classroom camera's RTSP stream to house-format segments.
 *
 * The graph is a head that receives (pipelines/live-srt.pipeline,
 * live-whip.pipeline whose webrtcbin kt-live-whip negotiates, or
 * live-rtsp.pipeline) joined to pipelines/live-ladder.pipeline, which they
 * all share; this module drives it.
 * It does four things a launch line cannot:
 *
 * Admission. srtsrc in listener mode asks, from libsrt's thread, whether a
 * caller may connect ("caller-connecting", with the caller's stream id).
 * The answer needs the database (the publish key) and the timetable (which
 * talk), both main-thread only, so the question is handed to the main
 * context and the SRT thread waits for the answer, at most two seconds. A
 * refused caller is refused in the SRT handshake: it never sends a byte
 * into the pipeline, and OBS says the connection failed at once.
 *
 * Linking. decodebin finds out what the stream holds while it runs; its
 * first video and first audio stream are linked to video_in and audio_in
 * (WHIP has a decodebin per stream, already known to be one picture and
 * one sound; RTSP too, linked by the RTP stream's media type).
 * A stream that lacks either, or that nothing here can decode, is refused
 * with a message saying why (KT_LIVE_ERROR_REFUSED), which the talk's page
 * and log show to the teacher and the administrator. The exception is a
 * classroom camera without a microphone: nobody is there to turn sound on,
 * so its picture airs with silence made here (add_silence says why its
 * unused audio decoder must be taken out of the pipeline first).
 *
 * Cutting. Every rendition must be cut at the same instants. The video
 * renditions cut themselves: a keyframe every 25 frames at 25 fps (two
 * GOPs a segment, so that splitmuxsink, which closes a file only once the
 * next whole GOP has arrived, closes it 1 s after its end rather than 2 s;
 * see live-srt.pipeline) and splitmuxsink's max-size-time of 2 s. The
 * audio-only rendition has no
 * keyframes, so it is told where to cut (split-at-running-time) at every
 * 2 s after the first picture, as kt-house-job does for files. Sound from
 * before the first picture is dropped, so that segment 0 of every rendition
 * starts at the same instant. A pad offset on both branches then moves the
 * first picture to the running time given by kt_live_encoder_set_base: a
 * talk recorded over several connections gets continuous timestamps, and
 * its recording plays straight through where the speaker dropped out.
 *
 * Phase. Where on the wall clock a connection's segments complete is fixed
 * by its first picture, and decides how long each waits for its slot
 * (kt-live.c). kt-live asks for a phase (kt_live_encoder_align) and the
 * pictures before it are dropped: at most one segment's worth, while the
 * channel still airs the slate. Streaming threads may not read kt_clock, so
 * kt-live hands over kt_clock's time with the monotonic instant it was read
 * at, and the probe reads the monotonic clock.
 *
 * Completion. A segment is complete when every rendition has closed it
 * and opened the next: a file closed by the end of the stream is a piece
 * shorter than a segment and is never reported, so everything a channel or
 * a recording gets is exactly one slot long.
 *
 * Streaming threads touch only: the admission request (its own lock), and
 * the alignment state under @lock. Everything else is on the main context,
 * through the bus watch.
 */
#define G_LOG_DOMAIN "kt-live"

#include "kt-live-encoder.h"
#include "kt-config.h"
#include "kt-hls.h"
#include "kt-house-job.h"
#include "kt-pipeline-stop.h"
#include "kt-pipeline.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>

G_DEFINE_QUARK (kt-live-error-quark, kt_live_error)

#define ADMIT_TIMEOUT_US (2 * G_USEC_PER_SEC)
#define DRAIN_US (G_USEC_PER_SEC) /* the main thread waits this long at most */
/* Where the recording's clock starts. The offset that moves the first
 * picture to the recording's clock must be positive: a negative pad offset
 * is applied by moving the segment's start, and the AAC encoder's first
 * frame (stamped a little before its input, priming) then falls before it,
 * at a negative running time that splitmuxsink refuses. The first picture's
 * running time is the time the listener waited for its caller, so the
 * recording starts six hours in and kt-live renews a listener that has
 * waited for more than KT_LIVE_ENCODER_MAX_IDLE_US (MPEG-TS timestamps
 * wrap after 26.5 hours: room for a very long talk). */
#define LEAD_NS (6 * 3600 * GST_SECOND)
/* How long audio_in holds the silence made for a camera without sound
 * (add_silence): well over the time a picture takes from the camera to
 * video_cut (rtspsrc's 200 ms jitter buffer and decoding). */
#define SILENCE_DELAY_NS (GST_SECOND)
/* The application message add_silence posts for the no_sound hook. */
#define NO_SOUND "kt-live-no-sound"
/* Audio cuts queued ahead of the stream; topped up as segments complete. */
#define SPLITS_AHEAD 16

typedef struct {
  KtLiveEncoder *encoder; /* main context only, and only while !abandoned */
  char *streamid;
  char *peer;
  GMutex lock;
  GCond cond;
  gboolean answered, abandoned, admit; /* under lock */
} AdmitRequest;

struct _KtLiveEncoder {
  GstElement *pipeline;
  GstElement *audio_sink; /* rend_audio, borrowed from the pipeline */
  guint bus_watch;
  char *dir;
  KtLiveEncoderHooks hooks;
  gpointer user_data;
  GMainContext *context;
  GPtrArray *admitting; /* AdmitRequest* (refs) waiting for the main context */

  GMutex lock;            /* the alignment state below, shared with streaming threads */
  gint64 base_ns;
  GstClockTime first_ns;  /* running time of the first picture; NONE until it passed */
  /* Where the first picture may fall on the wall clock (kt_live_encoder_align):
   * kt_clock's time at the monotonic instant @anchor_mono_us maps the
   * monotonic clock, which streaming threads may read, onto kt_clock, which
   * they may not. */
  gboolean aligned;
  gint64 phase_us, anchor_now_us, anchor_mono_us;
  gint64 dropping_since_us;  /* monotonic: the first picture dropped for the phase; 0 before */
  gint64 first_picture_us;   /* kt_clock's time of the first picture; 0 before it */

  /* Main context. */
  guint opened[8], closed[8]; /* fragments per kt_renditions index */
  guint complete;             /* segments reported */
  guint splits_queued;        /* under lock: audio cuts queued, counted from the first picture */
  gboolean ended;

  /* RTSP: the camera's URL holds its password, so messages that could
   * quote it say @url_shown instead. Set before playing, then read-only. */
  char *url, *url_shown;
};

static void
admit_request_clear (AdmitRequest *r)
{
  g_free (r->streamid);
  g_free (r->peer);
  g_mutex_clear (&r->lock);
  g_cond_clear (&r->cond);
}

static void
admit_request_unref (gpointer r)
{
  g_atomic_rc_box_release_full (r, (GDestroyNotify) admit_request_clear);
}

/* Main context. */
static gboolean
on_admit_main (gpointer data)
{
  AdmitRequest *r = data;
  g_mutex_lock (&r->lock);
  gboolean abandoned = r->abandoned;
  g_mutex_unlock (&r->lock);
  gboolean admit = FALSE;
  if (!abandoned) {
    KtLiveEncoder *encoder = r->encoder;
    g_mutex_lock (&encoder->lock);
    g_ptr_array_remove (encoder->admitting, r); /* drops that ref; ours is the source's */
    g_mutex_unlock (&encoder->lock);
    admit = encoder->hooks.admit (encoder, r->streamid, r->peer, encoder->user_data);
  }
  g_mutex_lock (&r->lock);
  r->answered = TRUE;
  r->admit = admit;
  g_cond_signal (&r->cond);
  g_mutex_unlock (&r->lock);
  return G_SOURCE_REMOVE;
}

/* libsrt's listener thread. */
static gboolean
on_caller_connecting (GstElement *src, GSocketAddress *address, const char *streamid,
                      gpointer user_data)
{
  KtLiveEncoder *encoder = user_data;
  AdmitRequest *r = g_atomic_rc_box_new0 (AdmitRequest);
  g_mutex_init (&r->lock);
  g_cond_init (&r->cond);
  r->encoder = encoder;
  r->streamid = g_strdup (streamid ? streamid : "");
  r->peer = G_IS_INET_SOCKET_ADDRESS (address)
                ? g_inet_address_to_string (
                      g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address)))
                : g_strdup ("?");

  /* The encoder's list (freed on the main context) gets a ref so that
   * kt_live_encoder_free can abandon the request. */
  g_mutex_lock (&encoder->lock);
  g_ptr_array_add (encoder->admitting, g_atomic_rc_box_acquire (r));
  g_mutex_unlock (&encoder->lock);
  GSource *source = g_idle_source_new ();
  g_source_set_callback (source, on_admit_main, g_atomic_rc_box_acquire (r), admit_request_unref);
  g_source_attach (source, encoder->context);
  g_source_unref (source);

  gint64 deadline = g_get_monotonic_time () + ADMIT_TIMEOUT_US;
  g_mutex_lock (&r->lock);
  while (!r->answered && !r->abandoned)
    if (!g_cond_wait_until (&r->cond, &r->lock, deadline))
      break;
  gboolean admit = r->answered && r->admit;
  if (!r->answered)
    r->abandoned = TRUE;
  g_mutex_unlock (&r->lock);
  admit_request_unref (r);
  return admit;
}

static GstPad *
entry_pad (GstElement *pipeline, const char *name, const char *pad)
{
  g_autoptr (GstElement) e = gst_bin_get_by_name (GST_BIN (pipeline), name);
  return e ? gst_element_get_static_pad (e, pad) : NULL;
}

/* @pad of @from (a stream of kind @media) to the entry element @entry,
 * unless that already has a stream: the first of each kind is used. */
static void
link_entry (KtLiveEncoder *encoder, GstElement *from, GstPad *pad, const char *entry,
            const char *media)
{
  g_autoptr (GstPad) sink = entry_pad (encoder->pipeline, entry, "sink");
  if (sink == NULL || gst_pad_is_linked (sink)) {
    g_debug ("ignoring a second stream media=%s", media);
    return;
  }
  if (gst_pad_link (pad, sink) != GST_PAD_LINK_OK)
    GST_ELEMENT_ERROR (from, STREAM, FAILED, ("cannot link %s", media), (NULL));
}

/* Once @from has all its streams: refused (@no_video or @no_audio says
 * why, in Chinese, starting "直播流") unless entries @video and @audio both
 * got one. */
static void
refuse_unless_both (KtLiveEncoder *encoder, GstElement *from, const char *video,
                    const char *audio, const char *no_video, const char *no_audio)
{
  g_autoptr (GstPad) v = entry_pad (encoder->pipeline, video, "sink");
  g_autoptr (GstPad) a = entry_pad (encoder->pipeline, audio, "sink");
  if (!gst_pad_is_linked (v))
    GST_ELEMENT_ERROR (from, STREAM, CODEC_NOT_FOUND, ("%s", no_video), (NULL));
  else if (!gst_pad_is_linked (a))
    GST_ELEMENT_ERROR (from, STREAM, CODEC_NOT_FOUND, ("%s", no_audio), (NULL));
}

/* Streaming thread of decodebin. */
static void
on_pad_added (GstElement *decode, GstPad *pad, gpointer user_data)
{
  KtLiveEncoder *encoder = user_data;
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  const char *media = gst_structure_get_name (gst_caps_get_structure (caps, 0));
  const char *entry = g_str_has_prefix (media, "video/x-raw")   ? "video_in"
                      : g_str_has_prefix (media, "audio/x-raw") ? "audio_in"
                                                                : NULL;
  if (entry == NULL) {
    g_debug ("ignoring a stream that was not decoded caps=%s", media);
    return;
  }
  link_entry (encoder, decode, pad, entry, media);
}

/* Streaming thread of decodebin. */
static void
on_no_more_pads (GstElement *decode, gpointer user_data)
{
  refuse_unless_both (user_data, decode, "video_in", "audio_in",
                      "直播流里没有能解码的画面（需要 H.264、H.265、VP8/VP9 或 AV1 视频）。",
                      "直播流里没有能解码的声音（需要 AAC、Opus 或 MP3 音频）。");
}

static GstClockTime
running_time_of (GstPad *pad, GstBuffer *buf)
{
  g_autoptr (GstEvent) event = gst_pad_get_sticky_event (pad, GST_EVENT_SEGMENT, 0);
  const GstSegment *segment = NULL;
  if (event)
    gst_event_parse_segment (event, &segment);
  if (segment == NULL || segment->format != GST_FORMAT_TIME || !GST_BUFFER_PTS_IS_VALID (buf))
    return GST_CLOCK_TIME_NONE;
  return gst_segment_to_running_time (segment, GST_FORMAT_TIME, GST_BUFFER_PTS (buf));
}

static void
set_src_offset (GstElement *pipeline, const char *name, gint64 offset)
{
  g_autoptr (GstPad) src = entry_pad (pipeline, name, "src");
  gst_pad_set_offset (src, offset);
}

/* Queue the audio cuts up to segment @upto (counted from the first picture),
 * from the audio thread at the first sound and from the main context as
 * segments complete. Under @lock. */
static void
queue_audio_splits_locked (KtLiveEncoder *encoder, guint upto)
{
  while (encoder->splits_queued < upto) {
    encoder->splits_queued++;
    g_signal_emit_by_name (encoder->audio_sink, "split-at-running-time",
                           (guint64) (encoder->base_ns
                                      + encoder->splits_queued * KT_SEGMENT_US * GST_USECOND));
  }
}

/* Main context: keep the audio cuts SPLITS_AHEAD segments ahead. */
static void
queue_audio_splits (KtLiveEncoder *encoder)
{
  g_mutex_lock (&encoder->lock);
  if (encoder->splits_queued > 0)
    queue_audio_splits_locked (encoder, encoder->complete + SPLITS_AHEAD);
  g_mutex_unlock (&encoder->lock);
}

/* Under @lock: whether a picture arriving now may be the first, given the
 * phase asked for (kt_live_encoder_align). The first picture is the first
 * one at most ACCEPT_WINDOW_US past the phase (a picture later than that
 * would move every completion as late, past kt-live's allowance); a stream
 * of fewer than about 7 pictures a second may leap over the window, and its
 * picture is taken anyway once the phase has been waited for a whole
 * segment (its completions then fall where they may, as without alignment). */
#define ACCEPT_WINDOW_US (G_GINT64_CONSTANT (150000))
static gboolean
in_phase_locked (KtLiveEncoder *encoder)
{
  if (!encoder->aligned)
    return TRUE;
  gint64 mono = g_get_monotonic_time ();
  gint64 now = encoder->anchor_now_us + (mono - encoder->anchor_mono_us);
  gint64 past = ((now - encoder->phase_us) % KT_SEGMENT_US + KT_SEGMENT_US) % KT_SEGMENT_US;
  if (encoder->dropping_since_us == 0)
    encoder->dropping_since_us = mono;
  if (past >= ACCEPT_WINDOW_US && mono - encoder->dropping_since_us <= KT_SEGMENT_US)
    return FALSE;
  encoder->first_picture_us = now;
  return TRUE;
}

/* Video streaming thread: the first picture fixes the cut instants. The
 * offset is set on the pad the buffer is about to leave by, from its own
 * thread, so no buffer passes before it. */
static GstPadProbeReturn
on_video_buffer (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  KtLiveEncoder *encoder = user_data;
  GstClockTime t = running_time_of (pad, GST_PAD_PROBE_INFO_BUFFER (info));
  if (!GST_CLOCK_TIME_IS_VALID (t))
    return GST_PAD_PROBE_DROP;
  g_mutex_lock (&encoder->lock);
  if (!in_phase_locked (encoder)) {
    g_mutex_unlock (&encoder->lock);
    return GST_PAD_PROBE_DROP;
  }
  encoder->first_ns = t;
  gint64 offset = encoder->base_ns - (gint64) t;
  g_mutex_unlock (&encoder->lock);
  set_src_offset (encoder->pipeline, "video_cut", offset);
  g_info ("first picture running_time=%" GST_TIME_FORMAT " offset_ms=%" G_GINT64_FORMAT,
          GST_TIME_ARGS (t), offset / GST_MSECOND);
  return GST_PAD_PROBE_REMOVE;
}

/* Audio streaming thread: nothing from before the first picture, and the
 * same offset as the picture from the first sound on. */
static GstPadProbeReturn
on_audio_buffer (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  KtLiveEncoder *encoder = user_data;
  g_mutex_lock (&encoder->lock);
  GstClockTime first = encoder->first_ns;
  gint64 offset = encoder->base_ns - (gint64) first;
  g_mutex_unlock (&encoder->lock);
  if (!GST_CLOCK_TIME_IS_VALID (first))
    return GST_PAD_PROBE_DROP;
  GstClockTime t = running_time_of (pad, GST_PAD_PROBE_INFO_BUFFER (info));
  if (!GST_CLOCK_TIME_IS_VALID (t) || t < first)
    return GST_PAD_PROBE_DROP;
  set_src_offset (encoder->pipeline, "audio_cut", offset);
  /* The cuts are queued before the first sound reaches the sink: a cut
   * queued for an instant the sound has passed would come late. */
  g_mutex_lock (&encoder->lock);
  queue_audio_splits_locked (encoder, SPLITS_AHEAD);
  g_mutex_unlock (&encoder->lock);
  return GST_PAD_PROBE_REMOVE;
}

static void
report_complete (KtLiveEncoder *encoder)
{
  for (;;) {
    guint n = encoder->complete;
    for (guint i = 0; i < kt_n_renditions; i++)
      if (encoder->closed[i] < n + 1 || encoder->opened[i] < n + 2)
        return;
    g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
    for (guint i = 0; i < kt_n_renditions; i++) {
      g_autofree char *file = g_strdup_printf ("%05u.ts", n);
      g_ptr_array_add (paths, g_build_filename (encoder->dir, kt_renditions[i].name, file, NULL));
    }
    g_ptr_array_add (paths, NULL);
    encoder->complete++;
    queue_audio_splits (encoder);
    encoder->hooks.segment (encoder, n, (const char *const *) paths->pdata, encoder->user_data);
    if (encoder->ended)
      return; /* the hook stopped us */
  }
}

static void
end (KtLiveEncoder *encoder, GError *error /* (transfer full) or NULL */)
{
  if (encoder->ended)
    return;
  encoder->ended = TRUE;
  encoder->bus_watch = 0; /* the watch returns G_SOURCE_REMOVE */
  encoder->hooks.ended (encoder, error, encoder->user_data);
  g_clear_error (&error);
}

/* A camera's @url quoted in @text (a GStreamer message) is replaced by
 * @shown, its form without the password. */
static void
hide_url (const char *url, const char *shown, char **text)
{
  if (url == NULL || *text == NULL || strstr (*text, url) == NULL)
    return;
  GString *s = g_string_new (*text);
  g_string_replace (s, url, shown, 0);
  g_free (*text);
  *text = g_string_free (s, FALSE);
}

static gboolean
on_bus_message (GstBus *bus, GstMessage *msg, gpointer user_data)
{
  KtLiveEncoder *encoder = user_data;
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT: {
      const GstStructure *s = gst_message_get_structure (msg);
      int r = kt_house_job_rendition_of (GST_MESSAGE_SRC (msg));
      if (s == NULL || r < 0)
        break;
      g_debug ("%s rendition=%s", gst_structure_get_name (s), kt_renditions[r].name);
      if (gst_structure_has_name (s, "splitmuxsink-fragment-opened")) {
        encoder->opened[r]++;
      } else if (gst_structure_has_name (s, "splitmuxsink-fragment-closed")) {
        encoder->closed[r]++;
      }
      report_complete (encoder);
      break;
    }
    case GST_MESSAGE_APPLICATION:
      if (gst_message_has_name (msg, NO_SOUND) && encoder->hooks.no_sound)
        encoder->hooks.no_sound (encoder, encoder->user_data);
      break;
    case GST_MESSAGE_EOS:
      g_info ("publisher left segments=%u", encoder->complete);
      end (encoder, NULL);
      return G_SOURCE_REMOVE;
    case GST_MESSAGE_ERROR: {
      g_autoptr (GError) gst_error = NULL;
      g_autofree char *debug = NULL;
      gst_message_parse_error (msg, &gst_error, &debug);
      hide_url (encoder->url, encoder->url_shown, &gst_error->message);
      hide_url (encoder->url, encoder->url_shown, &debug);
      gboolean refused = gst_error->domain == GST_STREAM_ERROR;
      /* A camera that does not answer fails every few seconds until it
       * does; kt-live warns once per reason. */
      g_log (G_LOG_DOMAIN, encoder->url ? G_LOG_LEVEL_INFO : G_LOG_LEVEL_WARNING,
             "live stream %s by %s: %s (%s)", refused ? "refused" : "failed",
             GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), gst_error->message, debug ? debug : "");
      /* Our own refusals already say in Chinese what is missing; GStreamer's
       * (not media at all, a codec nobody decodes, a camera that cannot be
       * reached) get a sentence first. */
      gboolean ours = g_error_matches (gst_error, GST_STREAM_ERROR, GST_STREAM_ERROR_CODEC_NOT_FOUND)
                      && g_str_has_prefix (gst_error->message, "直播流");
      const char *why = refused && !ours                                          ? "直播流的格式或编码无法处理："
                        : encoder->url && gst_error->domain == GST_RESOURCE_ERROR ? "连不上教室摄像机："
                                                                                  : "";
      end (encoder,
           g_error_new (KT_LIVE_ERROR, refused ? KT_LIVE_ERROR_REFUSED : KT_LIVE_ERROR_PIPELINE,
                        "%s%s", why, gst_error->message));
      return G_SOURCE_REMOVE;
    }
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

/* The head's template joined to the ladder's, the scratch directories made,
 * the decoders' pads wired to the ladder; not yet playing. */
static KtLiveEncoder *
build (const char *pipelines_dir, const char *head, const char *const *head_vars,
       const char *const *head_required, const char *scratch_dir,
       const KtLiveEncoderHooks *hooks, gpointer user_data, GError **error)
{
  for (guint i = 0; i < kt_n_renditions; i++) {
    g_autofree char *sub = g_build_filename (scratch_dir, kt_renditions[i].name, NULL);
    if (g_mkdir_with_parents (sub, 0755) != 0) {
      g_set_error (error, KT_LIVE_ERROR, KT_LIVE_ERROR_PIPELINE, "cannot create %s: %s", sub,
                   g_strerror (errno));
      return NULL;
    }
  }
  g_autoptr (GPtrArray) vars = g_ptr_array_new ();
  for (guint i = 0; head_vars && head_vars[i]; i++)
    g_ptr_array_add (vars, (gpointer) head_vars[i]);
  g_ptr_array_add (vars, "dir");
  g_ptr_array_add (vars, (gpointer) scratch_dir);
  g_ptr_array_add (vars, NULL);
  g_autoptr (GPtrArray) required = g_ptr_array_new ();
  for (guint i = 0; head_required[i]; i++)
    g_ptr_array_add (required, (gpointer) head_required[i]);
  static const char *const ladder[] = { "video_in",  "audio_in",  "video_cut", "audio_cut",
                                        "rend_720p", "rend_360p", "rend_audio" };
  for (guint i = 0; i < G_N_ELEMENTS (ladder); i++)
    g_ptr_array_add (required, (gpointer) ladder[i]);
  g_ptr_array_add (required, NULL);
  const char *parts[] = { head, "live-ladder", NULL };
  GstElement *pipeline
      = kt_pipeline_build_parts (pipelines_dir, parts, (const char *const *) vars->pdata,
                                 (const char *const *) required->pdata, error);
  if (pipeline == NULL)
    return NULL;

  KtLiveEncoder *encoder = g_new0 (KtLiveEncoder, 1);
  encoder->pipeline = pipeline;
  encoder->dir = g_strdup (scratch_dir);
  encoder->hooks = *hooks;
  encoder->user_data = user_data;
  encoder->context = g_main_context_ref_thread_default ();
  encoder->admitting = g_ptr_array_new_with_free_func (admit_request_unref);
  g_mutex_init (&encoder->lock);
  encoder->first_ns = GST_CLOCK_TIME_NONE;
  encoder->base_ns = LEAD_NS;

  g_autoptr (GstElement) audio_sink = gst_bin_get_by_name (GST_BIN (pipeline), "rend_audio");
  encoder->audio_sink = audio_sink;
  g_autoptr (GstPad) video = entry_pad (pipeline, "video_cut", "sink");
  gst_pad_add_probe (video, GST_PAD_PROBE_TYPE_BUFFER, on_video_buffer, encoder, NULL);
  g_autoptr (GstPad) audio = entry_pad (pipeline, "audio_cut", "sink");
  gst_pad_add_probe (audio, GST_PAD_PROBE_TYPE_BUFFER, on_audio_buffer, encoder, NULL);
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  encoder->bus_watch = gst_bus_add_watch (bus, on_bus_message, encoder);
  return encoder;
}

/* Decoded streams of @decode go to video_in and audio_in. */
static void
link_decoder (KtLiveEncoder *encoder, const char *name, gboolean check_both)
{
  g_autoptr (GstElement) decode = gst_bin_get_by_name (GST_BIN (encoder->pipeline), name);
  g_signal_connect (decode, "pad-added", G_CALLBACK (on_pad_added), encoder);
  if (check_both)
    g_signal_connect (decode, "no-more-pads", G_CALLBACK (on_no_more_pads), encoder);
}

static gboolean
play (KtLiveEncoder *encoder, const char *what, GError **error)
{
  if (gst_element_set_state (encoder->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_set_error (error, KT_LIVE_ERROR, KT_LIVE_ERROR_PIPELINE, "cannot %s", what);
    return FALSE;
  }
  return TRUE;
}

/* rtspsrc's streaming thread: each of the camera's streams to the queue of
 * its kind, by the media type the camera's SDP gave it. */
static void
on_camera_pad_added (GstElement *src, GstPad *pad, gpointer user_data)
{
  KtLiveEncoder *encoder = user_data;
  g_autoptr (GstCaps) caps = gst_pad_query_caps (pad, NULL);
  const GstStructure *s = gst_caps_is_empty (caps) ? NULL : gst_caps_get_structure (caps, 0);
  const char *media = s ? gst_structure_get_string (s, "media") : NULL;
  const char *entry = g_strcmp0 (media, "video") == 0   ? "video_rtp"
                      : g_strcmp0 (media, "audio") == 0 ? "audio_rtp"
                                                        : NULL;
  if (entry == NULL) {
    g_debug ("ignoring a camera stream media=%s", media ? media : "?"); /* metadata */
    return;
  }
  link_entry (encoder, src, pad, entry, media);
}

/* rtspsrc's thread, before the pipeline reaches PLAYING: a camera without
 * a microphone gets silence in place of its sound, so that it airs like
 * any other (every rendition of the house format carries sound).
 *
 * The audio head (audio_rtp ! decode_audio) must go first, not merely be
 * left without input. A decodebin changes state asynchronously until it
 * has seen its stream, so an idle decode_audio keeps the whole pipeline in
 * PAUSED, its PLAYING pending for ever; the silence, being live, flows
 * anyway, and so do the camera's pictures, but every sink holds its first
 * buffer waiting for PLAYING (prerolled), so the queues in front of them
 * fill and no rendition ever closes a segment. Removing the waiting
 * decodebin lets the bin commit its state. (This was mistaken for a fault
 * of the silence itself: the silence stalled a camera with sound too, when
 * the camera's sound was left unlinked for it.) The pipeline is still on
 * its way to PLAYING here, so it configures its latency with the silence
 * in it: nothing needs recalculating. */
static void
add_silence (KtLiveEncoder *encoder, GstElement *src)
{
  static const char *const unused[] = { "decode_audio", "audio_rtp" };
  for (guint i = 0; i < G_N_ELEMENTS (unused); i++) {
    g_autoptr (GstElement) e = gst_bin_get_by_name (GST_BIN (encoder->pipeline), unused[i]);
    gst_element_set_locked_state (e, TRUE);
    gst_element_set_state (e, GST_STATE_NULL);
    gst_bin_remove (GST_BIN (encoder->pipeline), e);
  }
  /* is-live: made in real time, stamped with the running time of the
   * instant it is made. A picture is stamped with the instant the camera
   * took it and reaches video_cut later (rtspsrc's jitter buffer, decoding,
   * scaling), while the silence would reach audio_cut at once, before the
   * first picture has told on_audio_buffer where sound may start: all of
   * it stamped from the first picture to the picture's arrival was dropped
   * and the sound started about 100 ms late. audio_in holds the silence
   * for SILENCE_DELAY_NS so that it comes after the picture it goes with,
   * as a camera's own sound does. */
  g_autoptr (GstElement) queue = gst_bin_get_by_name (GST_BIN (encoder->pipeline), "audio_in");
  g_object_set (queue, "min-threshold-time", (guint64) SILENCE_DELAY_NS, "max-size-time",
                (guint64) (2 * SILENCE_DELAY_NS), NULL);
  GstElement *silence = gst_element_factory_make ("audiotestsrc", "silence");
  gst_util_set_object_arg (G_OBJECT (silence), "wave", "silence");
  g_object_set (silence, "is-live", TRUE, NULL);
  gst_bin_add (GST_BIN (encoder->pipeline), silence);
  g_autoptr (GstPad) pad = gst_element_get_static_pad (silence, "src");
  g_autoptr (GstPad) sink = entry_pad (encoder->pipeline, "audio_in", "sink");
  if (gst_pad_link (pad, sink) != GST_PAD_LINK_OK
      || !gst_element_sync_state_with_parent (silence)) {
    GST_ELEMENT_ERROR (src, STREAM, FAILED, ("cannot make silence for a camera without sound"),
                       (NULL));
    return;
  }
  g_info ("camera has no sound: airing its picture with silence camera=%s", encoder->url_shown);
  /* kt-live notes it on the main context, through the bus. */
  gst_element_post_message (encoder->pipeline,
                            gst_message_new_application (GST_OBJECT (encoder->pipeline),
                                                         gst_structure_new_empty (NO_SOUND)));
}

/* rtspsrc's thread, once every stream of the camera has its pad: a camera
 * without a picture is refused; one without sound airs silence. */
static void
on_camera_no_more_pads (GstElement *src, gpointer user_data)
{
  KtLiveEncoder *encoder = user_data;
  g_autoptr (GstPad) v = entry_pad (encoder->pipeline, "video_rtp", "sink");
  g_autoptr (GstPad) a = entry_pad (encoder->pipeline, "audio_rtp", "sink");
  if (!gst_pad_is_linked (v))
    GST_ELEMENT_ERROR (src, STREAM, CODEC_NOT_FOUND,
                       ("%s", "直播流里没有能解码的画面（摄像机没有提供视频流）。"), (NULL));
  else if (!gst_pad_is_linked (a))
    add_silence (encoder, src);
}

KtLiveEncoder *
kt_live_encoder_new (const char *pipelines_dir, const char *uri, guint latency_ms,
                     const char *scratch_dir, const KtLiveEncoderHooks *hooks,
                     gpointer user_data, GError **error)
{
  g_autofree char *latency = g_strdup_printf ("%u", latency_ms);
  const char *vars[] = { "uri", uri, "latency", latency, NULL };
  static const char *const required[] = { "ingest", "decode", NULL };
  g_autoptr (KtLiveEncoder) encoder = build (pipelines_dir, "live-srt", vars, required,
                                             scratch_dir, hooks, user_data, error);
  if (encoder == NULL)
    return NULL;
  g_autoptr (GstElement) ingest = gst_bin_get_by_name (GST_BIN (encoder->pipeline), "ingest");
  /* Ask for every caller: setting the uri resets srtsrc's parameters,
   * "authentication" among them, to defaults that skip the question. */
  g_object_set (ingest, "authentication", TRUE, NULL);
  /* After the class handler, which admits everyone: the signal has no
   * accumulator, so the last handler's answer is the one srtsrc sees. */
  g_signal_connect_after (ingest, "caller-connecting", G_CALLBACK (on_caller_connecting),
                          encoder);
  link_decoder (encoder, "decode", TRUE);
  g_autofree char *what = g_strdup_printf ("listen on %s", uri);
  if (!play (encoder, what, error))
    return NULL;
  return g_steal_pointer (&encoder);
}

KtLiveEncoder *
kt_live_encoder_new_whip (const char *pipelines_dir, const char *scratch_dir,
                          const KtLiveEncoderHooks *hooks, gpointer user_data, GError **error)
{
  static const char *const required[]
      = { "ingest", "video_rtp", "audio_rtp", "decode_video", "decode_audio", NULL };
  g_autoptr (KtLiveEncoder) encoder = build (pipelines_dir, "live-whip", NULL, required,
                                             scratch_dir, hooks, user_data, error);
  if (encoder == NULL)
    return NULL;
  /* The offer was checked for a picture and a sound before we were made,
   * so each decoder only has to say what it decoded. */
  link_decoder (encoder, "decode_video", FALSE);
  link_decoder (encoder, "decode_audio", FALSE);
  if (!play (encoder, "start webrtcbin", error))
    return NULL;
  return g_steal_pointer (&encoder);
}

KtLiveEncoder *
kt_live_encoder_new_rtsp (const char *pipelines_dir, const char *url, const char *scratch_dir,
                          const KtLiveEncoderHooks *hooks, gpointer user_data, GError **error)
{
  const char *vars[] = { "url", url, NULL };
  static const char *const required[]
      = { "ingest", "video_rtp", "audio_rtp", "decode_video", "decode_audio", NULL };
  g_autofree char *shown = kt_config_redact_url (url);
  g_autoptr (KtLiveEncoder) encoder = build (pipelines_dir, "live-rtsp", vars, required,
                                             scratch_dir, hooks, user_data, error);
  if (encoder == NULL) {
    /* A parse error may quote the location it could not set. */
    if (error && *error)
      hide_url (url, shown, &(*error)->message);
    return NULL;
  }
  encoder->url = g_strdup (url);
  encoder->url_shown = g_steal_pointer (&shown);
  g_autoptr (GstElement) ingest = gst_bin_get_by_name (GST_BIN (encoder->pipeline), "ingest");
  g_signal_connect (ingest, "pad-added", G_CALLBACK (on_camera_pad_added), encoder);
  g_signal_connect (ingest, "no-more-pads", G_CALLBACK (on_camera_no_more_pads), encoder);
  link_decoder (encoder, "decode_video", FALSE);
  link_decoder (encoder, "decode_audio", FALSE);
  g_autofree char *what = g_strdup_printf ("open the camera %s", encoder->url_shown);
  if (!play (encoder, what, error))
    return NULL;
  return g_steal_pointer (&encoder);
}

GstElement *
kt_live_encoder_element (KtLiveEncoder *encoder, const char *name)
{
  return gst_bin_get_by_name (GST_BIN (encoder->pipeline), name);
}

void
kt_live_encoder_end (KtLiveEncoder *encoder, GError *error)
{
  /* end() leaves removing the watch to the watch's own return value; from
   * outside it, the watch must go now, or a message already on the bus
   * would reach an encoder the hook freed. */
  if (!encoder->ended && encoder->bus_watch) {
    g_source_remove (encoder->bus_watch);
    encoder->bus_watch = 0;
  }
  if (encoder->ended) {
    g_clear_error (&error);
    return;
  }
  end (encoder, error);
}

void
kt_live_encoder_set_base (KtLiveEncoder *encoder, gint64 base_us)
{
  g_mutex_lock (&encoder->lock);
  encoder->base_ns = LEAD_NS + base_us * GST_USECOND;
  g_mutex_unlock (&encoder->lock);
}

void
kt_live_encoder_align (KtLiveEncoder *encoder, gint64 now_us, gint64 phase_us)
{
  g_mutex_lock (&encoder->lock);
  encoder->aligned = TRUE;
  encoder->phase_us = phase_us;
  encoder->anchor_now_us = now_us;
  encoder->anchor_mono_us = g_get_monotonic_time ();
  g_mutex_unlock (&encoder->lock);
}

gint64
kt_live_encoder_first_picture_us (KtLiveEncoder *encoder)
{
  g_mutex_lock (&encoder->lock);
  gint64 t = encoder->first_picture_us;
  g_mutex_unlock (&encoder->lock);
  return t;
}

const char *
kt_live_encoder_scratch_dir (KtLiveEncoder *encoder)
{
  return encoder->dir;
}

void
kt_live_encoder_free (KtLiveEncoder *encoder)
{
  if (encoder == NULL)
    return;
  /* A caller waiting for an answer is refused now, not in two seconds: the
   * SRT thread it waits on is joined by the state change below. */
  g_mutex_lock (&encoder->lock);
  for (guint i = 0; i < encoder->admitting->len; i++) {
    AdmitRequest *r = encoder->admitting->pdata[i];
    g_mutex_lock (&r->lock);
    r->abandoned = TRUE;
    g_cond_signal (&r->cond);
    g_mutex_unlock (&r->lock);
  }
  g_mutex_unlock (&encoder->lock);
  if (encoder->bus_watch)
    g_source_remove (encoder->bus_watch);
  if (encoder->pipeline) {
    /* Cut while pictures flow (the talk's slot over, the server stopping):
     * drained first, as a stop mid-stream through splitmuxsink can wedge
     * (kt-pipeline-stop.c). Here, not on a thread of its own: the next
     * listener binds the same SRT port as soon as this returns. A listener
     * that never had a picture has nothing in flight to drain. */
    if (!encoder->ended && kt_live_encoder_first_picture_us (encoder) > 0)
      g_debug ("encoder stopped mid-stream %s", kt_pipeline_drain (encoder->pipeline, DRAIN_US));
    gst_element_set_state (encoder->pipeline, GST_STATE_NULL);
    gst_object_unref (encoder->pipeline);
  }
  g_ptr_array_unref (encoder->admitting);
  g_main_context_unref (encoder->context);
  g_mutex_clear (&encoder->lock);
  g_free (encoder->dir);
  g_free (encoder->url);
  g_free (encoder->url_shown);
  g_free (encoder);
}
