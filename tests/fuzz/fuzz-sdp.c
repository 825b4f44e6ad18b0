/* libFuzzer target: a WHIP offer (SDP, through GstSDP and kt-live-whip's
 * checks) — what any client may POST to /api/live/whip/<talk> once it has
 * a session or a publish key. Every input must end in an offer cut down to
 * one picture and one sound, each with one payload, or in a 400's error,
 * never in a crash; and nothing but that reaches webrtcbin. */
#include "kt-live-whip.h"

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  static gboolean ready;
  if (!ready) {
    gst_init (NULL, NULL);
    ready = TRUE;
  }
  g_autoptr (GError) error = NULL;
  g_autoptr (GstSDPMessage) offer = kt_live_whip_check_offer ((const char *) data, size, &error);
  g_assert ((offer != NULL) != (error != NULL));
  if (offer == NULL) {
    g_assert (g_error_matches (error, KT_LIVE_ERROR, KT_LIVE_ERROR_OFFER));
    return 0;
  }
  g_assert_cmpuint (gst_sdp_message_medias_len (offer), ==, 2);
  for (guint i = 0; i < 2; i++)
    g_assert_cmpuint (gst_sdp_media_formats_len (gst_sdp_message_get_media (offer, i)), ==, 1);
  g_free (gst_sdp_message_as_text (offer));
  return 0;
}
