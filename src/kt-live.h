#pragma once

#include <glib.h>

#include <gst/sdp/sdp.h>

#include "kt-app.h"

G_BEGIN_DECLS

/* Live talks (报告会): the SRT listener, each talk's publisher (or its
 * classroom camera, pulled over RTSP), the slots its segments air in on
 * its channel, and its recording. Main thread. */
typedef struct _KtLive KtLive;

/* Reads its settings ([live]) from @app's config; does nothing until started. */
KtLive *kt_live_new (KtApp *app /* borrowed, outlives it */);
/* Listen for publishers (when [live] srt_listen is set) and start the
 * once-a-second check of talks' ends and cameras ([rtsp.<talk>]). A port that cannot be opened is a
 * warning and is tried again every few seconds, not a failure of the
 * server. */
void kt_live_start (KtLive *live);
/* Disconnects any publisher and closes recordings of talks that ended. */
void kt_live_free (KtLive *live);

/* Tell every channel what each talk has aired (after the timetable changed
 * or a channel was made). */
void kt_live_update_channels (KtLive *live);

/* WHIP: @user (authenticated by a publish key or a session) publishes
 * talk @input with @offer (from kt_live_whip_check_offer, transfer full),
 * from @peer (for the log). FALSE at once with KT_LIVE_ERROR_BUSY
 * (another publisher), KT_LIVE_ERROR_NO_TALK (no such talk now) or
 * KT_LIVE_ERROR_PIPELINE; otherwise @reply is called once, later, on the
 * main context: with the SDP answer and the publish's id (its resource),
 * or with why not. */
typedef void (*KtLiveWhipReply) (const char *answer, const char *id, const GError *error,
                                 gpointer data);
gboolean kt_live_whip_publish (KtLive *live, const char *input, const KtUser *user,
                               const char *peer, GstSDPMessage *offer, KtLiveWhipReply reply,
                               gpointer data, GError **error);
/* End WHIP publish @id of talk @input, for its publisher or an
 * administrator (@user): FALSE with KT_LIVE_ERROR_NO_TALK when there is no
 * such publish for them. */
gboolean kt_live_whip_stop (KtLive *live, const char *input, const char *id, const KtUser *user,
                            GError **error);

/* What a talk is doing, for pages and the log. */
typedef enum {
  KT_LIVE_TALK_WAITING, /* its speaker has not connected yet */
  KT_LIVE_TALK_LIVE,
  KT_LIVE_TALK_DROPPED, /* the speaker was connected and is not now */
  KT_LIVE_TALK_ENDED,   /* its slot is over; the recording is in the library */
} KtLiveTalkState;

const char *kt_live_talk_state_name (KtLiveTalkState state);

typedef struct {
  const char *input;   /* the talk's name, as in live:<input> */
  const char *channel;
  const char *title;
  gint64 start_us, end_us;
  KtLiveTalkState state;
  const char *publisher; /* account name of the last admitted publisher, or NULL */
  const char *item_id;   /* the recording, or NULL before anything aired */
  guint segments;        /* segments aired and recorded */
  const char *error;     /* why the last stream was refused or failed, or NULL */
  const char *note;      /* the recorded fallback aired (or could not), or NULL */
} KtLiveTalkInfo;

/* Talks known since the start (those that had a publisher or aired),
 * newest first: KtLiveTalkInfo, strings borrowed until the next change. */
GArray *kt_live_talks (KtLive *live);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtLive, kt_live_free)

/* An SRT stream id, "<talk>/<key>" or SRT's access-control form
 * "#!::r=<talk>,s=<key>[,…]", split into its talk (@input) and publish key:
 * FALSE when it is neither (or the talk is empty). @input and @key start as
 * NULL and are set (newly allocated) even on FALSE; free both. Outside
 * input: the publisher chooses it. */
gboolean kt_live_parse_streamid (const char *streamid, char **input, char **key);

G_END_DECLS
