/* kt-live-whip: a WHIP publisher's offer, and the webrtcbin that answers it.
 *
 * WHIP (WebRTC-HTTP Ingestion Protocol) is one HTTP POST: the publisher (a
 * browser on /teach/live.html, OBS 30) sends its SDP offer and gets the
 * answer back, and media then flows over WebRTC. This file does the two
 * parts that are WebRTC's; kt-http-whip speaks the HTTP and kt-live decides
 * which talk the stream is.
 *
 * The offer is checked before any webrtcbin exists, so that a malformed or
 * unusable one is a 400 that costs nothing: it must be SDP, with exactly
 * one picture and one sound sent to us, in codecs the ladder can decode
 * (H.264 in packetization mode 1 or VP8; Opus). It is then cut down to the
 * first such codec of each, in the publisher's order of preference:
 * webrtcbin answers an m-line it has no transceiver for with a codec of the
 * offer's choosing, and a browser lists AV1 or VP9 before H.264, so left
 * alone it could agree on a stream nothing here decodes. Dropping the
 * other payloads (RTX, RED, FEC among them) costs only retransmissions.
 *
 * No trickle ICE: the answer is sent when webrtcbin has gathered every
 * candidate (host addresses, no STUN or TURN: the publishers are on the
 * county's network or reach the server's public address), so the answer is
 * complete and the publisher needs nothing else from us. Gathering host
 * candidates takes milliseconds; GATHER_TIMEOUT_S guards a libnice that
 * never says it is done, answering with what it has by then.
 *
 * The end. A WHIP publisher ends with a DELETE (kt-http-whip), but one
 * whose tab closed or whose network went simply stops sending. ICE failing
 * says so at once when it does; otherwise the watchdog does: no RTP for
 * SILENCE_S means the publisher is gone, and the talk drops to the slate
 * like an SRT publisher who left.
 *
 * Threads: webrtcbin answers promises and notifies state changes on its
 * own threads; those only post to the main context, through Shared, which
 * outlives the whip (a post that arrives after kt_live_whip_free finds
 * shared->whip NULL and does nothing). The time of the newest RTP packet is
 * written by the streaming thread under shared->lock.
 */
#define G_LOG_DOMAIN "kt-live"

#include "kt-live-whip.h"

#include <gst/webrtc/webrtc.h>

#define GATHER_TIMEOUT_S 10
#define SILENCE_S 10
/* The first packet may take longer: ICE and DTLS come first. */
#define FIRST_MEDIA_S 20

typedef struct {
  GMutex lock;
  KtLiveWhip *whip;      /* under lock; NULL once the whip is freed */
  GMainContext *context;
  gint64 last_rtp_us;    /* under lock: monotonic time of the newest RTP packet; 0 before one */
} Shared;

struct _KtLiveWhip {
  Shared *shared;
  KtLiveWhipHooks hooks;
  gpointer user_data;
  GstElement *webrtc; /* the encoder's "ingest" (ref) */
  GstPad *probed;     /* video_rtp's sink, where RTP is counted (ref) */
  gulong probe;
  gboolean answered, gone;
  guint deadline;     /* GATHER_TIMEOUT_S, until answered */
  guint watchdog;     /* once a second after the answer */
  gint64 answered_us;
};

static void
shared_clear (Shared *shared)
{
  g_mutex_clear (&shared->lock);
  g_main_context_unref (shared->context);
}

static void
shared_unref (gpointer shared)
{
  g_atomic_rc_box_release_full (shared, (GDestroyNotify) shared_clear);
}

static void
shared_closure_unref (gpointer shared, GClosure *unused)
{
  shared_unref (shared);
}

/* ---- the offer ---- */

static gboolean
offer_error (GError **error, const char *message)
{
  g_set_error_literal (error, KT_LIVE_ERROR, KT_LIVE_ERROR_OFFER, message);
  return FALSE;
}

/* The first payload of @media that we decode, or NULL. */
static const char *
usable_format (const GstSDPMedia *media, gboolean video)
{
  for (guint i = 0; i < gst_sdp_media_formats_len (media); i++) {
    const char *format = gst_sdp_media_get_format (media, i);
    gint pt = atoi (format);
    g_autoptr (GstCaps) caps = gst_sdp_media_get_caps_from_media (media, pt);
    if (caps == NULL)
      continue;
    const GstStructure *s = gst_caps_get_structure (caps, 0);
    const char *name = gst_structure_get_string (s, "encoding-name");
    if (name == NULL)
      continue;
    if (video && g_ascii_strcasecmp (name, "VP8") == 0)
      return format;
    if (video && g_ascii_strcasecmp (name, "H264") == 0
        && g_strcmp0 (gst_structure_get_string (s, "packetization-mode"), "1") == 0)
      return format;
    if (!video && g_ascii_strcasecmp (name, "OPUS") == 0)
      return format;
  }
  return NULL;
}

/* "<pt> ..." attributes (rtpmap, fmtp, rtcp-fb) of payloads other than
 * @keep (one of @media's), and those payloads, go. */
static void
keep_only (GstSDPMedia *media, const char *keep)
{
  /* Once: an m-line may list a payload twice. */
  guint first = 0;
  while (!g_str_equal (gst_sdp_media_get_format (media, first), keep))
    first++;
  for (guint i = gst_sdp_media_formats_len (media); i-- > 0;)
    if (i != first)
      gst_sdp_media_remove_format (media, i);
  static const char *const per_payload[] = { "rtpmap", "fmtp", "rtcp-fb", NULL };
  for (guint i = gst_sdp_media_attributes_len (media); i-- > 0;) {
    const GstSDPAttribute *a = gst_sdp_media_get_attribute (media, i);
    if (!g_strv_contains (per_payload, a->key) || a->value == NULL || a->value[0] == '*')
      continue;
    g_autofree char *pt = g_strndup (a->value, strcspn (a->value, " "));
    if (!g_str_equal (pt, keep))
      gst_sdp_media_remove_attribute (media, i);
  }
}

static gboolean
check_media (GstSDPMedia *media, gboolean video, GError **error)
{
  if (gst_sdp_media_get_attribute_val (media, "recvonly") != NULL
      || gst_sdp_media_get_attribute_val (media, "inactive") != NULL)
    return offer_error (error, video ? "请求里的画面没有发给服务器（应为 sendonly）。"
                                     : "请求里的声音没有发给服务器（应为 sendonly）。");
  const char *format = usable_format (media, video);
  if (format == NULL)
    return offer_error (error, video ? "请求里的画面编码无法接收：需要 H.264 或 VP8。"
                                     : "请求里的声音编码无法接收：需要 Opus。");
  g_autofree char *keep = g_strdup (format);
  keep_only (media, keep);
  return TRUE;
}

GstSDPMessage *
kt_live_whip_check_offer (const char *data, gsize len, GError **error)
{
  g_autoptr (GstSDPMessage) sdp = NULL;
  gst_sdp_message_new (&sdp);
  /* The parser accepts nearly anything (unknown lines are skipped), so
   * what makes it SDP is checked after: a v=0 line and m-lines. */
  if (len == 0 || !g_utf8_validate (data, len, NULL)
      || gst_sdp_message_parse_buffer ((const guint8 *) data, len, sdp) != GST_SDP_OK
      || g_strcmp0 (gst_sdp_message_get_version (sdp), "0") != 0) {
    offer_error (error, "请求的内容不是 SDP 会话描述（WHIP 需要 Content-Type: application/sdp 的 offer）。");
    return NULL;
  }
  guint videos = 0, audios = 0;
  for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++) {
    GstSDPMedia *media = (GstSDPMedia *) gst_sdp_message_get_media (sdp, i);
    const char *kind = gst_sdp_media_get_media (media);
    gboolean video = g_strcmp0 (kind, "video") == 0;
    if (!video && g_strcmp0 (kind, "audio") != 0) {
      offer_error (error, "请求里只能有一路画面和一路声音，不能有别的（如数据通道）。");
      return NULL;
    }
    if (++*(video ? &videos : &audios) > 1) {
      offer_error (error, "请求里只能有一路画面和一路声音。");
      return NULL;
    }
    if (!check_media (media, video, error))
      return NULL;
  }
  if (videos == 0) {
    offer_error (error, "请求里没有画面：需要一路 H.264 或 VP8 视频。");
    return NULL;
  }
  if (audios == 0) {
    offer_error (error, "请求里没有声音：需要一路 Opus 音频。");
    return NULL;
  }
  return g_steal_pointer (&sdp);
}

/* ---- from webrtcbin's threads to the main context ---- */

typedef void (*MainFunc) (KtLiveWhip *whip, gpointer arg);

typedef struct {
  Shared *shared; /* ref */
  MainFunc func;
  gpointer arg;
  GDestroyNotify free_arg;
} Post;

static gboolean
on_post (gpointer data)
{
  Post *post = data;
  g_mutex_lock (&post->shared->lock);
  KtLiveWhip *whip = post->shared->whip;
  g_mutex_unlock (&post->shared->lock);
  /* The whip is freed only on this context, so it cannot go between the
   * check and the call. */
  if (whip)
    post->func (whip, post->arg);
  return G_SOURCE_REMOVE;
}

static void
post_free (gpointer data)
{
  Post *post = data;
  if (post->free_arg)
    post->free_arg (post->arg);
  shared_unref (post->shared);
  g_free (post);
}

static void
post (Shared *shared, MainFunc func, gpointer arg, GDestroyNotify free_arg)
{
  Post *p = g_new0 (Post, 1);
  p->shared = g_atomic_rc_box_acquire (shared);
  p->func = func;
  p->arg = arg;
  p->free_arg = free_arg;
  g_main_context_invoke_full (shared->context, G_PRIORITY_DEFAULT, on_post, p, post_free);
}

/* ---- the answer ---- */

static void
fail (KtLiveWhip *whip, gpointer message)
{
  if (whip->answered)
    return;
  whip->answered = TRUE;
  g_clear_handle_id (&whip->deadline, g_source_remove);
  /* webrtcbin refuses what our checks let through (no DTLS fingerprint,
   * no ICE credentials): the offer's fault, a 400 for the publisher. */
  g_autoptr (GError) error = g_error_new (KT_LIVE_ERROR, KT_LIVE_ERROR_OFFER,
                                          "WebRTC 协商失败：%s", (const char *) message);
  whip->hooks.answered (whip, NULL, error, whip->user_data);
}

static gboolean on_watchdog (gpointer data);

/* Main context: the local description, with the candidates gathered so
 * far, is the answer. */
static void
answer (KtLiveWhip *whip, gpointer unused)
{
  if (whip->answered)
    return;
  GstWebRTCSessionDescription *local = NULL;
  g_object_get (whip->webrtc, "local-description", &local, NULL);
  if (local == NULL) {
    fail (whip, "no local description");
    return;
  }
  g_autofree char *text = gst_sdp_message_as_text (local->sdp);
  gst_webrtc_session_description_free (local);
  whip->answered = TRUE;
  g_clear_handle_id (&whip->deadline, g_source_remove);
  whip->answered_us = g_get_monotonic_time ();
  whip->watchdog = g_timeout_add_seconds (1, on_watchdog, whip);
  whip->hooks.answered (whip, text, NULL, whip->user_data);
}

static gboolean
on_deadline (gpointer data)
{
  KtLiveWhip *whip = data;
  whip->deadline = 0;
  g_warning ("ICE gathering not complete after %d s: answering with the candidates so far",
             GATHER_TIMEOUT_S);
  answer (whip, NULL);
  return G_SOURCE_REMOVE;
}

/* The message of a promise's error reply, or NULL. */
static char *
promise_error (GstPromise *promise)
{
  if (gst_promise_wait (promise) != GST_PROMISE_RESULT_REPLIED)
    return g_strdup ("no reply");
  const GstStructure *reply = gst_promise_get_reply (promise);
  GError *error = NULL;
  if (reply && gst_structure_has_field (reply, "error")) {
    gst_structure_get (reply, "error", G_TYPE_ERROR, &error, NULL);
    char *message = g_strdup (error ? error->message : "error");
    g_clear_error (&error);
    return message;
  }
  return NULL;
}

/* webrtcbin's thread. */
static void
on_answer_created (GstPromise *promise, gpointer data)
{
  Shared *shared = data;
  char *error = promise_error (promise);
  GstWebRTCSessionDescription *desc = NULL;
  const GstStructure *reply = error ? NULL : gst_promise_get_reply (promise);
  if (reply)
    gst_structure_get (reply, "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc, NULL);
  gst_promise_unref (promise);
  if (desc == NULL) {
    post (shared, fail, error ? error : g_strdup ("no answer"), g_free);
    return;
  }
  g_mutex_lock (&shared->lock);
  GstElement *webrtc = shared->whip ? gst_object_ref (shared->whip->webrtc) : NULL;
  g_mutex_unlock (&shared->lock);
  if (webrtc) {
    /* Gathering starts here; its end is noticed by on_gathering. */
    g_signal_emit_by_name (webrtc, "set-local-description", desc, NULL);
    gst_object_unref (webrtc);
  }
  gst_webrtc_session_description_free (desc);
}

/* webrtcbin's thread. */
static void
on_remote_set (GstPromise *promise, gpointer data)
{
  Shared *shared = data;
  char *error = promise_error (promise);
  gst_promise_unref (promise);
  if (error) {
    post (shared, fail, error, g_free);
    return;
  }
  g_mutex_lock (&shared->lock);
  GstElement *webrtc = shared->whip ? gst_object_ref (shared->whip->webrtc) : NULL;
  g_mutex_unlock (&shared->lock);
  if (webrtc == NULL)
    return;
  GstPromise *next = gst_promise_new_with_change_func (
      on_answer_created, g_atomic_rc_box_acquire (shared), shared_unref);
  g_signal_emit_by_name (webrtc, "create-answer", NULL, next);
  gst_object_unref (webrtc);
}

/* Any thread. */
static void
on_gathering (GstElement *webrtc, GParamSpec *pspec, gpointer data)
{
  GstWebRTCICEGatheringState state;
  g_object_get (webrtc, "ice-gathering-state", &state, NULL);
  if (state == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE)
    post (data, answer, NULL, NULL);
}

/* ---- the end ---- */

static void
peer_gone (KtLiveWhip *whip, gpointer why)
{
  if (whip->gone || !whip->answered)
    return;
  whip->gone = TRUE;
  g_clear_handle_id (&whip->watchdog, g_source_remove);
  whip->hooks.gone (whip, why, whip->user_data);
}

/* Any thread. */
static void
on_ice_state (GstElement *webrtc, GParamSpec *pspec, gpointer data)
{
  GstWebRTCICEConnectionState state;
  g_object_get (webrtc, "ice-connection-state", &state, NULL);
  g_debug ("whip ice-connection-state=%d", state);
  if (state == GST_WEBRTC_ICE_CONNECTION_STATE_FAILED)
    post (data, peer_gone, "ICE failed", NULL);
  else if (state == GST_WEBRTC_ICE_CONNECTION_STATE_CLOSED)
    post (data, peer_gone, "ICE closed", NULL);
}

static gboolean
on_watchdog (gpointer data)
{
  KtLiveWhip *whip = data;
  gint64 now = g_get_monotonic_time ();
  g_mutex_lock (&whip->shared->lock);
  gint64 last = whip->shared->last_rtp_us;
  g_mutex_unlock (&whip->shared->lock);
  if (last == 0 ? now - whip->answered_us > FIRST_MEDIA_S * G_USEC_PER_SEC
                : now - last > SILENCE_S * G_USEC_PER_SEC) {
    whip->watchdog = 0;
    peer_gone (whip, last == 0 ? "no media arrived" : "no media for a while");
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

/* Streaming thread: the picture's RTP arrives. */
static GstPadProbeReturn
on_rtp (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Shared *shared = data;
  gint64 now = g_get_monotonic_time ();
  g_mutex_lock (&shared->lock);
  shared->last_rtp_us = now;
  g_mutex_unlock (&shared->lock);
  return GST_PAD_PROBE_OK;
}

/* webrtcbin's thread: a stream opens. The offer had one picture and one
 * sound, so each entry takes the first stream of its kind. */
static void
on_pad_added (GstElement *webrtc, GstPad *pad, gpointer data)
{
  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  /* The kind is the transceiver's; the pad's caps may not say it. */
  g_autoptr (GstWebRTCRTPTransceiver) transceiver = NULL;
  g_object_get (pad, "transceiver", &transceiver, NULL);
  GstWebRTCKind kind = GST_WEBRTC_KIND_UNKNOWN;
  if (transceiver)
    g_object_get (transceiver, "kind", &kind, NULL);
  const char *media = kind == GST_WEBRTC_KIND_VIDEO   ? "video"
                      : kind == GST_WEBRTC_KIND_AUDIO ? "audio"
                                                      : NULL;
  const char *entry = g_strcmp0 (media, "video") == 0   ? "video_rtp"
                      : g_strcmp0 (media, "audio") == 0 ? "audio_rtp"
                                                        : NULL;
  g_autoptr (GstObject) bin = gst_object_get_parent (GST_OBJECT (webrtc));
  g_autoptr (GstElement) queue = entry && bin ? gst_bin_get_by_name (GST_BIN (bin), entry) : NULL;
  g_autoptr (GstPad) sink = queue ? gst_element_get_static_pad (queue, "sink") : NULL;
  if (sink == NULL || gst_pad_is_linked (sink)) {
    g_debug ("whip: a stream nobody takes media=%s", media ? media : "?");
    return;
  }
  if (gst_pad_link (pad, sink) != GST_PAD_LINK_OK)
    GST_ELEMENT_ERROR (webrtc, STREAM, FAILED, ("cannot link the %s stream", media), (NULL));
  else
    g_info ("whip: %s stream linked", media);
}

KtLiveWhip *
kt_live_whip_new (KtLiveEncoder *encoder, GstSDPMessage *offer, const KtLiveWhipHooks *hooks,
                  gpointer user_data)
{
  KtLiveWhip *whip = g_new0 (KtLiveWhip, 1);
  whip->hooks = *hooks;
  whip->user_data = user_data;
  whip->shared = g_atomic_rc_box_new0 (Shared);
  g_mutex_init (&whip->shared->lock);
  whip->shared->whip = whip;
  whip->shared->context = g_main_context_ref_thread_default ();
  whip->webrtc = kt_live_encoder_element (encoder, "ingest");
  g_autoptr (GstElement) video = kt_live_encoder_element (encoder, "video_rtp");
  whip->probed = gst_element_get_static_pad (video, "sink");
  whip->probe = gst_pad_add_probe (whip->probed, GST_PAD_PROBE_TYPE_BUFFER, on_rtp,
                                   g_atomic_rc_box_acquire (whip->shared), shared_unref);

  Shared *shared = whip->shared;
  g_signal_connect_data (whip->webrtc, "pad-added", G_CALLBACK (on_pad_added),
                         g_atomic_rc_box_acquire (shared), shared_closure_unref, 0);
  g_signal_connect_data (whip->webrtc, "notify::ice-gathering-state", G_CALLBACK (on_gathering),
                         g_atomic_rc_box_acquire (shared), shared_closure_unref, 0);
  g_signal_connect_data (whip->webrtc, "notify::ice-connection-state", G_CALLBACK (on_ice_state),
                         g_atomic_rc_box_acquire (shared), shared_closure_unref, 0);
  whip->deadline = g_timeout_add_seconds (GATHER_TIMEOUT_S, on_deadline, whip);

  GstWebRTCSessionDescription *desc
      = gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_OFFER, offer);
  GstPromise *promise = gst_promise_new_with_change_func (
      on_remote_set, g_atomic_rc_box_acquire (shared), shared_unref);
  g_signal_emit_by_name (whip->webrtc, "set-remote-description", desc, promise);
  gst_webrtc_session_description_free (desc);
  return whip;
}

void
kt_live_whip_free (KtLiveWhip *whip)
{
  if (whip == NULL)
    return;
  g_mutex_lock (&whip->shared->lock);
  whip->shared->whip = NULL;
  g_mutex_unlock (&whip->shared->lock);
  g_signal_handlers_disconnect_matched (whip->webrtc, G_SIGNAL_MATCH_FUNC, 0, 0, NULL,
                                        on_pad_added, NULL);
  g_signal_handlers_disconnect_matched (whip->webrtc, G_SIGNAL_MATCH_FUNC, 0, 0, NULL,
                                        on_gathering, NULL);
  g_signal_handlers_disconnect_matched (whip->webrtc, G_SIGNAL_MATCH_FUNC, 0, 0, NULL,
                                        on_ice_state, NULL);
  gst_pad_remove_probe (whip->probed, whip->probe);
  g_clear_handle_id (&whip->deadline, g_source_remove);
  g_clear_handle_id (&whip->watchdog, g_source_remove);
  gst_object_unref (whip->probed);
  gst_object_unref (whip->webrtc);
  shared_unref (whip->shared);
  g_free (whip);
}
