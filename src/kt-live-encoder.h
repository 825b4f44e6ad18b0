#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define KT_LIVE_ERROR (kt_live_error_quark ())
GQuark kt_live_error_quark (void);

typedef enum {
  KT_LIVE_ERROR_REFUSED,  /* the stream cannot be aired: its codecs, no picture or no sound */
  KT_LIVE_ERROR_PIPELINE, /* GStreamer failed while the talk ran */
  KT_LIVE_ERROR_OFFER,    /* a WHIP offer that is not SDP, or offers nothing we can air */
  KT_LIVE_ERROR_BUSY,     /* the talk (or the server) already has a publisher */
  KT_LIVE_ERROR_NO_TALK,  /* no such talk on a timetable now, or no such publish */
} KtLiveError;

/* One publisher connection: an SRT listener that admits one caller (or a
 * webrtcbin for one WHIP peer, or an RTSP client of one camera), decodes
 * its stream and writes house-format segments of every rendition, cut at
 * the same instants (pipelines/live-srt.pipeline, live-whip.pipeline or
 * live-rtsp.pipeline, joined to live-ladder.pipeline). Everything it reports arrives on the main context
 * of the thread that made it. */
typedef struct _KtLiveEncoder KtLiveEncoder;

typedef struct {
  /* A caller asks to publish with @streamid (from @peer, for the log): TRUE
   * admits it. May call kt_live_encoder_set_base. Without an answer within
   * two seconds the caller is refused. SRT only (WHIP is admitted over
   * HTTP before its encoder exists). */
  gboolean (*admit) (KtLiveEncoder *encoder, const char *streamid, const char *peer,
                     gpointer user_data);
  /* Segment @index (0 for the connection's first) of every rendition is
   * complete: @paths[i] is kt_renditions[i]'s file in the scratch dir. A
   * last, shorter piece at the end of a connection is never reported. */
  void (*segment) (KtLiveEncoder *encoder, guint index, const char *const *paths,
                   gpointer user_data);
  /* The connection ended: @error NULL when the publisher left, else why
   * (KT_LIVE_ERROR_REFUSED: the stream cannot be handled). Called once; the
   * encoder may be freed from here. */
  void (*ended) (KtLiveEncoder *encoder, const GError *error, gpointer user_data);
  /* RTSP: the camera has no sound, so its picture airs with silence (the
   * administrator should know why the talk is silent). May be NULL. */
  void (*no_sound) (KtLiveEncoder *encoder, gpointer user_data);
} KtLiveEncoderHooks;

/* Listen on @uri ("srt://HOST:PORT?mode=listener") with SRT latency
 * @latency_ms, writing into @scratch_dir (created). NULL with @error when
 * the template is unusable or the port cannot be opened. */
KtLiveEncoder *kt_live_encoder_new (const char *pipelines_dir, const char *uri, guint latency_ms,
                                    const char *scratch_dir, const KtLiveEncoderHooks *hooks,
                                    gpointer user_data, GError **error);
/* A webrtcbin (named "ingest", see kt_live_encoder_element) that kt-live-whip
 * negotiates with a WHIP peer, writing into @scratch_dir (created). */
KtLiveEncoder *kt_live_encoder_new_whip (const char *pipelines_dir, const char *scratch_dir,
                                         const KtLiveEncoderHooks *hooks, gpointer user_data,
                                         GError **error);
/* Pull a classroom camera's stream from @url (rtsp://, credentials may be
 * in it: they never appear in messages), writing into @scratch_dir
 * (created). A camera that does not answer, or stops, ends the connection
 * through the ended hook like a publisher who left (with an error saying
 * why); one without a picture is refused (KT_LIVE_ERROR_REFUSED), one
 * without sound airs its picture with silence. */
KtLiveEncoder *kt_live_encoder_new_rtsp (const char *pipelines_dir, const char *url,
                                         const char *scratch_dir,
                                         const KtLiveEncoderHooks *hooks, gpointer user_data,
                                         GError **error);
/* The pipeline's element @name, or NULL. (transfer full) */
GstElement *kt_live_encoder_element (KtLiveEncoder *encoder, const char *name);
/* End the connection from outside the pipeline (a WHIP peer left): the
 * ended hook gets @error (transfer full, NULL: the publisher left), once. */
void kt_live_encoder_end (KtLiveEncoder *encoder, GError *error);

/* A listener that waited this long for its caller is to be replaced by a
 * fresh one (see LEAD_NS in kt-live-encoder.c). */
#define KT_LIVE_ENCODER_MAX_IDLE_US (G_GINT64_CONSTANT (3) * 3600 * G_USEC_PER_SEC)

/* Stop (the publisher is disconnected) without calling any hook. */
void kt_live_encoder_free (KtLiveEncoder *encoder);

/* The running time the first frame gets in the segment files, so that a
 * talk recorded over several connections has continuous timestamps. Set it
 * from the admit hook. */
void kt_live_encoder_set_base (KtLiveEncoder *encoder, gint64 base_us);
/* Let the connection's first picture through only at @phase_us within the
 * 2 s slot grid of the wall clock (µs past a multiple of KT_SEGMENT_US;
 * pictures before it are dropped), so that its segments complete where
 * kt-live wants them; @now_us is kt_clock's time now. Called again to
 * refresh the mapping from the monotonic clock, until the first picture. */
void kt_live_encoder_align (KtLiveEncoder *encoder, gint64 now_us, gint64 phase_us);
/* kt_clock's time when the first picture passed (as mapped by
 * kt_live_encoder_align), or 0. */
gint64 kt_live_encoder_first_picture_us (KtLiveEncoder *encoder);
const char *kt_live_encoder_scratch_dir (KtLiveEncoder *encoder);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtLiveEncoder, kt_live_encoder_free)

G_END_DECLS
