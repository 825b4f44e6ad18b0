#pragma once

#include <gst/gst.h>
#include <gst/sdp/sdp.h>

#include "kt-live-encoder.h"

G_BEGIN_DECLS

/* The WHIP side of a live connection (WebRTC-HTTP Ingestion Protocol): the
 * publisher's SDP offer checked before anything is built, then the
 * negotiation of the encoder's webrtcbin, without trickle ICE. Main thread. */

/* @data as an SDP offer ketang can receive: exactly one picture (H.264 in
 * packetization mode 1, or VP8) and one sound (Opus), each sent to us.
 * The offer is returned cut down to the first usable codec of each (so
 * that webrtcbin cannot answer with one nothing here decodes); anything
 * else is KT_LIVE_ERROR_OFFER, with a sentence in Chinese saying what is
 * wrong. (transfer full) */
GstSDPMessage *kt_live_whip_check_offer (const char *data, gsize len, GError **error);

typedef struct _KtLiveWhip KtLiveWhip;

typedef struct {
  /* The answer, with every ICE candidate in it (@answer, SDP text), or why
   * there is none (@error). Called once, unless the whip is freed first. */
  void (*answered) (KtLiveWhip *whip, const char *answer, const GError *error,
                    gpointer user_data);
  /* The peer is gone (ICE failed, or no media for a while): @why for the
   * log. Called at most once, after answered; the whip may be freed from
   * here. */
  void (*gone) (KtLiveWhip *whip, const char *why, gpointer user_data);
} KtLiveWhipHooks;

/* Negotiate @encoder's webrtcbin (from kt_live_encoder_new_whip; borrowed,
 * outlives the whip) with @offer (from kt_live_whip_check_offer, transfer
 * full), and link the streams it opens to the encoder's decoders. */
KtLiveWhip *kt_live_whip_new (KtLiveEncoder *encoder, GstSDPMessage *offer,
                              const KtLiveWhipHooks *hooks, gpointer user_data);
/* No hook is called afterwards. */
void kt_live_whip_free (KtLiveWhip *whip);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtLiveWhip, kt_live_whip_free)

G_END_DECLS
