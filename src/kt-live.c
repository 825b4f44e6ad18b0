/* kt-live: live talks (报告会), from a publisher's stream to a channel's
 * slots and a recording.
 *
 * A live talk is a lesson whose source is "live:<input>". Its speaker
 * publishes (OBS, ffmpeg) over SRT to [live] srt_listen with the stream id
 * "<input>/<key>" (or SRT's access-control form "#!::r=<input>,s=<key>"):
 * the talk's name and the teacher's publish key (kt-auth-publish). The key
 * must belong to a teacher or administrator, and a lesson of that talk must
 * be on now or begin within [live] early_minutes; anything else is refused
 * in the SRT handshake, before a byte of media is read. One publisher at a
 * time: a second caller is refused while one is connected (srtsrc serves one
 * caller; a second concurrent talk needs a second listener, see README).
 *
 * The listener is open only while a talk could be admitted: a live lesson
 * is on now or begins within [live] early_minutes on some timetable. A
 * waiting libsrt listener polls its socket many times a second (about 1.6 %
 * of a core, measured with bench/idle-cpu.sh), which a server that airs
 * recorded lessons all week should not pay; the once-a-second tick opens it
 * when a talk comes near (so within a second of a timetable change too) and
 * closes it when none is, unless a publisher is connected. (Looking for
 * that talk makes it known, so administrators see a talk as "waiting" from
 * then on.)
 *
 * Or the speaker publishes over WHIP, from the teaching page's camera or
 * OBS 30 (kt-http-whip authenticates the teacher by session or publish key,
 * kt-live-whip checks the offer and negotiates webrtcbin): the same
 * admission (a talk on now or soon, one publisher at a time, whether over
 * SRT or WHIP), and a connection of its own that ends with the DELETE or
 * when the peer goes silent.
 *
 * Or nobody publishes: a classroom IP camera is pulled over RTSP. A talk
 * with an [rtsp.<talk>] section in the config has its camera opened by the
 * once-a-second tick from CAMERA_LEAD_US (10 s) before its start, not from
 * early_minutes: nobody has to check a camera before going on air, and a
 * camera opened half an hour early would cost a full decode and encode for
 * nothing, while 10 s is enough for its first segment to fill the talk's
 * first slot. There is no admission (the camera is trusted by the config,
 * and its URL, which may hold a password, is logged without it). A camera
 * that does not answer, refuses, or whose stream cannot be aired ends its
 * connection like a publisher who left: the talk's slots air the slate,
 * and the tick opens it again CAMERA_RETRY_US (5 s, kt_clock) later, until
 * the lesson ends; the same reason again is not written again. A camera
 * without a microphone airs its picture with silence (kt-live-encoder.c),
 * and says so in the log and in live_events. A camera
 * that simply stops sending (rtspsrc over UDP does not notice a camera
 * that lost power) is given up when no segment has come for
 * CAMERA_SILENT_US of real time, and opened again at once. One publisher
 * at a time still holds, first come first served: while the camera feeds
 * the talk a teacher's SRT or WHIP stream is refused as busy, and while a
 * teacher publishes the camera is not opened (if the teacher drops, the
 * camera takes over within a few seconds). Whichever connection feeds the
 * talk (@feeding: SRT, WHIP or the camera), everything below treats its
 * segments alike.
 *
 * Encoding is kt-live-encoder's (pipelines/live-ladder.pipeline behind the
 * SRT, WHIP or RTSP head): it reports each complete 2 s segment of every
 * rendition. This file decides where each segment airs, records it, and
 * tells the channels.
 *
 * Slots. A channel airs slot k (the wall-clock interval [2k, 2k+2) s) with
 * media sequence k, and its playlist at time t lists slots up to
 * floor(t / 2 s): a slot is told to players the moment it begins and must
 * never change afterwards. A live segment is complete only after the 2 s it
 * covers (plus encoding), so it can only fill a slot that has not begun.
 * The first segment of a connection, completed at t, takes slot
 * floor((t + 1 s) / 2 s) + 1: the first slot beginning at least one second
 * after t. Each following segment of the connection takes the next slot, as
 * long as that slot has not begun when it arrives: the one-second margin
 * absorbs the jitter of encoding and network, so a steady stream airs
 * without holes.
 *
 * Cutting on the grid. Left to chance, a connection's segments complete
 * anywhere within a slot, and wait for theirs between 1 and 3 s (2 s on
 * average, all of it delay between the speaker and the room). So the
 * encoder is told to begin (drop pictures until) the phase at which its
 * segments complete PHASE_ALLOWANCE_US before the margin runs out: each then
 * waits the margin and the allowance. That needs the delay from a first
 * picture to the completion of its segment (the segment's 2 s, the next
 * GOP that splitmuxsink waits for, encoding): it is measured at every
 * connection's first segment and used for the next one, starting from
 * COMPLETION_DELAY_US. An allowance too small for the jitter of that delay
 * costs a whole slot (3 s of waiting instead of 1), hence its size. A segment that arrives after its slot began is late (the
 * stream stalled): its slot already aired the "信号中断" slate, and the
 * stream starts a new span at the next free slot with a discontinuity, like
 * a new connection. So a drop shows the slate within one segment, and a
 * resumed stream is back one slot after its first segment is complete.
 * A publisher sending faster than real time (a file pushed without pacing)
 * would run ahead of the wall clock; segments more than MAX_AHEAD_SLOTS ahead
 * are dropped.
 *
 * The clock. Slots come from kt_clock_now_us() at the moment a segment
 * completes, so with the fake clock a test sets the wall clock to the
 * talk's time, and because media arrives in real time, moves the fake clock
 * along with the real one while a stream runs (test-live.c). The mapping
 * is then exercised exactly as in production, including its margin; a
 * test that froze the fake clock would see the stream run ahead and
 * dropped, which is the faster-than-real-time guard doing its job.
 *
 * Spans. The slots a talk aired form spans (a connection's run of
 * consecutive slots), each pointing at the recording's segments; every
 * change goes to every channel (kt_channel_set_live), which lays the spans
 * over the talk's lesson with slates around them. Spans begin at the
 * lesson's first slot: a speaker who connects early is encoded (so OBS
 * shows a healthy connection and the teacher can check it) but nothing airs
 * or is recorded before the start.
 *
 * Recording. The recording is an item of kind "live" (kt-library-live)
 * that grows by the same segment files the channel airs: each complete
 * segment is moved from the connection's scratch directory into the item.
 * The encoder gives each connection's first picture the running time where
 * the recording stands, so the recording's timestamps run on across drops
 * and its replay has no gaps. When the lesson's slot ends the publisher (or
 * the camera) is disconnected and the recording becomes "ready". A camera's
 * recording has no owner account: it is the administrators'.
 *
 * Fallback. A live lesson may name a recorded fallback
 * (X-KETANG-FALLBACK:item:<id>). If nothing has aired live [live]
 * fallback_minutes after the start, the fallback airs from the next slot,
 * as one more span, and the administrator is told (live_events, and the
 * talk's note in /api/live/talks). A speaker who comes later still goes on
 * air: the fallback is cut at the first live slot.
 *
 * What happened (a talk went live, dropped, was refused, aired its
 * fallback, was recorded) is written to the live_events table for
 * administrators.
 */
#define G_LOG_DOMAIN "kt-live"

#include "kt-live.h"
#include "kt-clock.h"
#include "kt-live-encoder.h"
#include "kt-live-whip.h"

#include <errno.h>
#include <glib/gstdio.h>

#define MARGIN_US (G_GINT64_CONSTANT (1000000))
#define PHASE_ALLOWANCE_US (G_GINT64_CONSTANT (350000))
/* From a first picture to its segment's completion, beyond the segment's
 * own 2 s: a 1 s GOP and encoding (measured here: 1.04 s on a quiet machine). */
#define COMPLETION_DELAY_US (G_GINT64_CONSTANT (1100000))
#define MAX_AHEAD_SLOTS 4
#define TICK_MS 1000
#define RELISTEN_MS 3000
/* Cameras ([rtsp.<talk>]): opened this long before the talk's start, so
 * that its first slot already airs the picture (a connection's first
 * segment takes about 4 s: RTSP set-up, 2 s of picture, the next GOP);
 * opened again this long after a failure (timetable time, kt_clock).
 * A connection is given up (and opened again) when its first segment has
 * not come this long after opening, or a next one this long after the
 * last (three slots missed): the one sign of a camera that vanished
 * without closing its connection (rtspsrc receiving over UDP just waits; a
 * camera that loses power sends no TCP FIN either). Real time, because it
 * measures media, which flows in real time: a step of the wall clock must
 * not cut a healthy camera. */
#define CAMERA_LEAD_US (G_GINT64_CONSTANT (10) * KT_USEC_PER_SEC)
#define CAMERA_RETRY_US (G_GINT64_CONSTANT (5) * KT_USEC_PER_SEC)
#define CAMERA_FIRST_US (G_GINT64_CONSTANT (15) * G_USEC_PER_SEC)
#define CAMERA_SILENT_US (G_GINT64_CONSTANT (6) * G_USEC_PER_SEC)
/* Talks are forgotten (from memory; the recording stays) this long after
 * their end: long enough for every playlist window that shows them. */
#define FORGET_AFTER_US (G_GINT64_CONSTANT (3600) * KT_USEC_PER_SEC)

typedef struct {
  char *key;     /* input@start: one occurrence of a talk */
  char *input;
  char *channel;
  char *title, *teacher;
  gint64 start_us, end_us;
  KtLiveTalkState state;
  char *publisher;
  char *item_id; /* the recording, once something aired */
  guint recorded;
  GArray *spans; /* KtChannelLiveSpan, by start */
  gint64 live_end; /* end slot of the last span that aired live; 0 before any */
  int fallback;    /* index in spans of the recorded fallback, or -1 */
  gboolean fallback_checked;
  char *error;     /* why the last stream was refused or failed */
  char *note;      /* for the administrator: the fallback aired, or could not */
  gboolean silent_noted; /* its camera's lack of sound is in live_events */
} KtLiveTalk;

struct _KtLive {
  KtApp *app;
  GHashTable *talks; /* key → KtLiveTalk* (owned) */
  KtLiveEncoder *encoder;  /* the SRT listener */
  guint connections;       /* for scratch dir names */
  KtLiveTalk *publishing;  /* the talk @feeding's publisher feeds, or NULL */
  KtLiveEncoder *feeding;  /* @encoder, @whip_encoder or @camera, while publishing */
  /* The WHIP publisher, while one is connecting or connected. */
  KtLiveEncoder *whip_encoder;
  KtLiveWhip *whip;
  char *whip_id;           /* the resource's name, in its URL */
  char *whip_owner;        /* the account that published (may DELETE it, as may admins) */
  KtLiveWhipReply whip_reply; /* until answered */
  gpointer whip_reply_data;
  /* The classroom camera being pulled, while one is open. */
  KtLiveEncoder *camera;
  gint64 camera_heard_us;  /* monotonic: its last segment, or its opening */
  gboolean camera_sends;   /* a segment came since its opening */
  gint64 camera_retry_us;  /* kt_clock: no camera is opened before this */
  gint64 next_slot;        /* the slot the connection's next segment takes; -1 before its first */
  gint64 completion_delay_us; /* last measured: first picture → its segment complete, less 2 s */
  gint64 listening_since; /* monotonic µs: when the encoder started listening */
  guint tick;
  guint relisten;
  gboolean listen_failed; /* warned once about the port; retries are quiet */
};

static const char *const state_names[] = { "waiting", "live", "dropped", "ended" };

const char *
kt_live_talk_state_name (KtLiveTalkState state)
{
  return state_names[state];
}

static void
span_clear (gpointer data)
{
  g_free (((KtChannelLiveSpan *) data)->item_id);
}

static void
talk_free (KtLiveTalk *talk)
{
  g_free (talk->key);
  g_free (talk->input);
  g_free (talk->channel);
  g_free (talk->title);
  g_free (talk->teacher);
  g_free (talk->publisher);
  g_free (talk->item_id);
  g_array_unref (talk->spans);
  g_free (talk->error);
  g_free (talk->note);
  g_free (talk);
}

static gint64
slot_of (gint64 t_us)
{
  return t_us / KT_SEGMENT_US;
}

static void
record_event (KtLive *live, const KtLiveTalk *talk, const char *kind, const char *message)
{
  g_autoptr (GError) error = NULL;
  KtStore *store = kt_app_store (live->app);
  sqlite3_stmt *stmt = kt_store_prepare (
      store,
      "INSERT INTO live_events (input, channel, lesson_start_us, kind, message, at_us) "
      "VALUES (?, ?, ?, ?, ?, ?)",
      &error);
  if (stmt != NULL) {
    sqlite3_bind_text (stmt, 1, talk->input, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 2, talk->channel, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 3, talk->start_us);
    sqlite3_bind_text (stmt, 4, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 5, message, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 6, kt_clock_now_us ());
    kt_store_step_done (store, stmt, &error);
  }
  if (error)
    g_warning ("live event not saved: %s", error->message);
}

static void
tell_channels (KtLive *live, const KtLiveTalk *talk)
{
  gint64 now = kt_clock_now_us ();
  GPtrArray *channels = kt_app_channels (live->app);
  for (guint i = 0; i < channels->len; i++)
    kt_channel_set_live (channels->pdata[i], talk->input, talk->spans, now);
}

void
kt_live_update_channels (KtLive *live)
{
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, live->talks);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    tell_channels (live, value);
}

/* The talk airing @a (a live lesson) on @channel: known or new. */
static KtLiveTalk *
talk_of (KtLive *live, KtChannel *channel, const KtAiring *a)
{
  const char *input = a->source + 5;
  g_autofree char *key = g_strdup_printf ("%s@%" G_GINT64_FORMAT, input, a->start_us);
  KtLiveTalk *talk = g_hash_table_lookup (live->talks, key);
  if (talk != NULL)
    return talk;
  talk = g_new0 (KtLiveTalk, 1);
  talk->key = g_steal_pointer (&key);
  talk->input = g_strdup (input);
  talk->channel = g_strdup (kt_channel_id (channel));
  talk->title = g_strdup (a->title);
  talk->teacher = g_strdup (a->teacher);
  talk->start_us = a->start_us;
  talk->end_us = a->end_us;
  talk->spans = g_array_new (FALSE, TRUE, sizeof (KtChannelLiveSpan));
  g_array_set_clear_func (talk->spans, span_clear);
  talk->fallback = -1;
  g_hash_table_insert (live->talks, talk->key, talk);
  return talk;
}

/* The lesson of talk @input (of any live talk when NULL) on now or starting
 * within @early µs: a new or known talk, or NULL. */
static KtLiveTalk *
find_talk_within (KtLive *live, const char *input, gint64 now, gint64 early)
{
  g_autofree char *source = g_strdup_printf ("live:%s", input ? input : "");
  GPtrArray *channels = kt_app_channels (live->app);
  for (guint c = 0; c < channels->len; c++) {
    g_autoptr (GArray) lessons = kt_channel_lessons_between (channels->pdata[c], now, now + early + 1);
    for (guint i = 0; i < lessons->len; i++) {
      const KtAiring *a = &g_array_index (lessons, KtAiring, i);
      gboolean ours = input ? g_strcmp0 (a->source, source) == 0
                            : g_str_has_prefix (a->source, source);
      if (!ours || a->end_us <= now)
        continue;
      return talk_of (live, channels->pdata[c], a);
    }
  }
  return NULL;
}

/* The same within the early window that publishers get ([live]
 * early_minutes). */
static KtLiveTalk *
find_talk (KtLive *live, const char *input, gint64 now)
{
  return find_talk_within (live, input, now,
                           kt_config_get_int (kt_app_config (live->app), "live", "early_minutes")
                               * 60 * KT_USEC_PER_SEC);
}

gboolean
kt_live_parse_streamid (const char *streamid, char **input, char **key)
{
  if (g_str_has_prefix (streamid, "#!::")) {
    g_auto (GStrv) pairs = g_strsplit (streamid + 4, ",", -1);
    for (int i = 0; pairs[i]; i++) {
      if (g_str_has_prefix (pairs[i], "r=") && *input == NULL)
        *input = g_strdup (pairs[i] + 2);
      else if (g_str_has_prefix (pairs[i], "s=") && *key == NULL)
        *key = g_strdup (pairs[i] + 2);
    }
  } else {
    const char *slash = strrchr (streamid, '/');
    if (slash != NULL) {
      *input = g_strndup (streamid, slash - streamid);
      *key = g_strdup (slash + 1);
    }
  }
  return *input != NULL && **input != '\0' && *key != NULL;
}

/* Ask @encoder for the first picture whose segments complete
 * PHASE_ALLOWANCE_US before the margin runs out (see "Cutting on the grid"):
 * completion c = picture + 2 s + delay, wanted at c + MARGIN_US ≡
 * −PHASE_ALLOWANCE_US on the slot grid. */
static void
align (KtLive *live, KtLiveEncoder *encoder)
{
  gint64 phase = -(PHASE_ALLOWANCE_US + MARGIN_US + KT_SEGMENT_US + live->completion_delay_us);
  phase = (phase % KT_SEGMENT_US + KT_SEGMENT_US) % KT_SEGMENT_US;
  kt_live_encoder_align (encoder, kt_clock_now_us (), phase);
}

/* @encoder feeds the talk being published. */
static void
feed (KtLive *live, KtLiveEncoder *encoder)
{
  live->feeding = encoder;
  /* The recording's timestamps run on from where it stands. */
  kt_live_encoder_set_base (encoder, (gint64) live->publishing->recorded * KT_SEGMENT_US);
  align (live, encoder);
}

/* @user (authenticated by its publish key or session) becomes @input's
 * publisher over @encoder (NULL: one still to be made, see feed()), or
 * NULL: one publisher at a time, and only for a talk on now or soon. */
static KtLiveTalk *
admit (KtLive *live, KtLiveEncoder *encoder, const char *input, const KtUser *user,
       const char *peer, GError **error)
{
  if (live->publishing != NULL && live->feeding != NULL && live->feeding == live->camera) {
    g_set_error (error, KT_LIVE_ERROR, KT_LIVE_ERROR_BUSY,
                 "报告会“%s”正在由教室摄像机直播，同一时间只能有一路直播。",
                 live->publishing->input);
    g_warning ("publisher refused peer=%s talk=%s name=%s: talk=%s is pulled from its camera",
               peer, input, user->name, live->publishing->input);
    return NULL;
  }
  if (live->publishing != NULL) {
    g_set_error (error, KT_LIVE_ERROR, KT_LIVE_ERROR_BUSY,
                 "报告会“%s”正在由别人直播，同一时间只能有一个人直播。", live->publishing->input);
    g_warning ("publisher refused peer=%s talk=%s name=%s: talk=%s is being published", peer,
               input, user->name, live->publishing->input);
    return NULL;
  }
  KtLiveTalk *talk = find_talk (live, input, kt_clock_now_us ());
  if (talk == NULL) {
    g_set_error (error, KT_LIVE_ERROR, KT_LIVE_ERROR_NO_TALK,
                 "课表上现在没有名为“%s”的直播报告会（开始前 %d 分钟内才能连上）。", input,
                 (int) kt_config_get_int (kt_app_config (live->app), "live", "early_minutes"));
    g_warning ("publisher refused peer=%s talk=%s name=%s: no such talk on a timetable now",
               peer, input, user->name);
    return NULL;
  }
  g_free (talk->publisher);
  talk->publisher = g_strdup (user->name);
  g_clear_pointer (&talk->error, g_free);
  live->publishing = talk;
  live->next_slot = -1;
  if (encoder)
    feed (live, encoder);
  g_info ("publisher admitted peer=%s talk=%s channel=%s name=%s", peer, input, talk->channel,
          user->name);
  return talk;
}

static gboolean
on_admit (KtLiveEncoder *encoder, const char *streamid, const char *peer, gpointer user_data)
{
  KtLive *live = user_data;
  g_autofree char *input = NULL;
  g_autofree char *key = NULL;
  if (!kt_live_parse_streamid (streamid, &input, &key)) {
    g_warning ("publisher refused peer=%s: the stream id is not <talk>/<key>", peer);
    return FALSE;
  }
  /* From here on the key is a secret: log the talk and the account only. */
  g_autoptr (GError) error = NULL;
  g_autoptr (KtUser) user = kt_auth_publish_key_check (kt_app_auth (live->app), key, &error);
  memset (key, 0, strlen (key));
  if (user == NULL) {
    g_warning ("publisher refused peer=%s talk=%s: %s", peer, input, error->message);
    return FALSE;
  }
  return admit (live, encoder, input, user, peer, &error) != NULL;
}

static void
remove_files (const char *const *paths)
{
  for (guint i = 0; paths[i]; i++)
    g_unlink (paths[i]);
}

static gboolean
record_segment (KtLive *live, KtLiveTalk *talk, const char *const *paths, guint *index)
{
  g_autoptr (GError) error = NULL;
  KtLibrary *library = kt_app_library (live->app);
  if (talk->item_id == NULL) {
    g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
    g_checksum_update (sum, (const guchar *) talk->key, -1);
    g_autofree char *id = g_strdup_printf ("live-%.16s", g_checksum_get_string (sum));
    g_autoptr (KtItem) item = kt_library_live_open (library, id, talk->title, talk->teacher,
                                                    talk->publisher, &error);
    if (item == NULL) {
      g_warning ("talk=%s recording cannot start: %s", talk->input, error->message);
      return FALSE;
    }
    talk->item_id = g_steal_pointer (&id);
    talk->recorded = item->segment_count;
  }
  if (!kt_library_live_append (library, talk->item_id, paths, index, &error)) {
    g_warning ("talk=%s segment not recorded: %s", talk->input, error->message);
    return FALSE;
  }
  talk->recorded = *index + 1;
  return TRUE;
}

static void
on_segment (KtLiveEncoder *encoder, guint n, const char *const *paths, gpointer user_data)
{
  KtLive *live = user_data;
  KtLiveTalk *talk = live->publishing;
  if (talk == NULL || encoder != live->feeding) {
    remove_files (paths);
    return;
  }
  gint64 now = kt_clock_now_us ();
  if (encoder == live->camera) {
    live->camera_heard_us = g_get_monotonic_time ();
    live->camera_sends = TRUE;
    g_clear_pointer (&talk->error, g_free); /* it answers: a new failure is news again */
  }
  gint64 now_slot = slot_of (now);
  gint64 first = slot_of (talk->start_us), last = slot_of (talk->end_us); /* [first, last) */

  if (n == 0) {
    gint64 picture = kt_live_encoder_first_picture_us (encoder);
    gint64 delay = now - picture - KT_SEGMENT_US;
    if (picture > 0 && delay >= 0 && delay < 2 * KT_SEGMENT_US) {
      live->completion_delay_us = delay;
      g_info ("talk=%s first segment complete %" G_GINT64_FORMAT " ms after its end", talk->input,
              delay / 1000);
    } else {
      /* No first picture time (or an absurd one): nothing measured, and a
       * number computed from it would mislead whoever reads the log. */
      g_info ("talk=%s first segment: completion delay not measured, keeping %" G_GINT64_FORMAT
              " ms", talk->input, live->completion_delay_us / 1000);
    }
  }

  gint64 slot = live->next_slot;
  gboolean fresh = slot <= now_slot; /* first of the connection, or late */
  if (fresh)
    slot = MAX (slot_of (now + MARGIN_US) + 1, talk->live_end);
  if (slot > now_slot + MAX_AHEAD_SLOTS) {
    g_debug ("talk=%s segment=%u ahead of the clock, dropped", talk->input, n);
    remove_files (paths);
    return;
  }
  live->next_slot = slot + 1;
  if (slot < first || slot >= last) {
    remove_files (paths); /* before the start (a check) or after the end */
    return;
  }

  guint index;
  if (!record_segment (live, talk, paths, &index)) {
    remove_files (paths);
    return;
  }
  int newest = (int) talk->spans->len - 1;
  KtChannelLiveSpan *open = newest >= 0 && newest != talk->fallback
                                ? &g_array_index (talk->spans, KtChannelLiveSpan, newest)
                                : NULL;
  if (fresh || open == NULL || open->end != slot) {
    /* The speaker came after all: the recorded fallback stops where the
     * talk begins (a slot that has not aired yet). */
    if (talk->fallback >= 0) {
      KtChannelLiveSpan *f = &g_array_index (talk->spans, KtChannelLiveSpan, talk->fallback);
      f->end = CLAMP (slot, f->start, f->end);
    }
    KtChannelLiveSpan span = { slot, slot + 1, g_strdup (talk->item_id), index };
    g_array_append_val (talk->spans, span);
    g_info ("talk=%s channel=%s on air from slot=%" G_GINT64_FORMAT " segment=%u", talk->input,
            talk->channel, slot, index);
    if (talk->state != KT_LIVE_TALK_LIVE)
      record_event (live, talk, "live", talk->publisher ? talk->publisher : "camera");
  } else {
    open->end = slot + 1;
  }
  talk->live_end = slot + 1;
  talk->state = KT_LIVE_TALK_LIVE;
  tell_channels (live, talk);
}

/* A new, empty scratch directory for connection @kind-N. (transfer full) */
static char *
fresh_scratch (KtLive *live, const char *kind)
{
  g_autofree char *name = g_strdup_printf ("%s-%u", kind, ++live->connections);
  char *scratch = kt_library_live_scratch_dir (kt_app_library (live->app), name);
  kt_library_live_scratch_remove (scratch);
  return scratch;
}

static void start_listening (KtLive *live);

static gboolean
on_relisten (gpointer user_data)
{
  KtLive *live = user_data;
  live->relisten = 0;
  start_listening (live);
  return G_SOURCE_REMOVE;
}

static void
listen_again_in (KtLive *live, guint ms)
{
  if (live->relisten == 0)
    live->relisten = ms ? g_timeout_add (ms, on_relisten, live) : g_idle_add (on_relisten, live);
}

static void
drop_encoder (KtLiveEncoder **encoder)
{
  if (*encoder == NULL)
    return;
  g_autofree char *scratch = g_strdup (kt_live_encoder_scratch_dir (*encoder));
  g_clear_pointer (encoder, kt_live_encoder_free);
  kt_library_live_scratch_remove (scratch);
}

static void
drop_whip (KtLive *live, const GError *why)
{
  g_clear_pointer (&live->whip, kt_live_whip_free);
  drop_encoder (&live->whip_encoder);
  g_clear_pointer (&live->whip_id, g_free);
  g_clear_pointer (&live->whip_owner, g_free);
  if (live->whip_reply) {
    /* Nobody answered the publisher yet: tell it now. */
    KtLiveWhipReply reply = live->whip_reply;
    live->whip_reply = NULL;
    g_autoptr (GError) error
        = why ? g_error_copy (why)
              : g_error_new_literal (KT_LIVE_ERROR, KT_LIVE_ERROR_PIPELINE,
                                     "直播连接在建立前就结束了。");
    reply (NULL, NULL, error, live->whip_reply_data);
  }
}

/* @encoder's connection is over (or is being cut): free it, forget it,
 * keep its talk. */
static void
connection_over (KtLive *live, KtLiveEncoder *encoder, const GError *error)
{
  KtLiveTalk *talk = encoder != NULL && encoder == live->feeding ? live->publishing : NULL;
  gboolean camera = encoder != NULL && encoder == live->camera;
  if (talk != NULL) {
    live->publishing = NULL;
    live->feeding = NULL;
    live->next_slot = -1;
  }
  if (encoder != NULL && encoder == live->encoder)
    drop_encoder (&live->encoder);
  else if (encoder != NULL && encoder == live->whip_encoder)
    drop_whip (live, error);
  else if (encoder != NULL && encoder == live->camera)
    drop_encoder (&live->camera);
  if (talk == NULL)
    return;
  if (error) {
    /* The same reason again (a camera that still does not answer, tried
     * every few seconds) is not news: one event and one warning. */
    gboolean again = g_strcmp0 (talk->error, error->message) == 0;
    if (!again) {
      g_free (talk->error);
      talk->error = g_strdup (error->message);
      record_event (live, talk, "refused", error->message);
    }
    if (camera && !again)
      g_warning ("talk=%s camera failed: %s; trying again every %d s", talk->input,
                 error->message, (int) (CAMERA_RETRY_US / KT_USEC_PER_SEC));
  } else if (talk->state == KT_LIVE_TALK_LIVE) {
    record_event (live, talk, "dropped", talk->publisher ? talk->publisher : "");
  }
  if (talk->state == KT_LIVE_TALK_LIVE)
    talk->state = KT_LIVE_TALK_DROPPED;
}

static void
on_ended (KtLiveEncoder *encoder, const GError *error, gpointer user_data)
{
  KtLive *live = user_data;
  gboolean srt = encoder == live->encoder;
  if (live->publishing && encoder == live->feeding)
    g_info ("talk=%s publisher gone%s%s", live->publishing->input, error ? ": " : "",
            error ? error->message : "");
  if (encoder == live->camera)
    live->camera_retry_us = kt_clock_now_us () + CAMERA_RETRY_US;
  connection_over (live, encoder, error);
  if (srt)
    listen_again_in (live, 0);
}

static void
start_listening (KtLive *live)
{
  const KtConfig *config = kt_app_config (live->app);
  const char *listen = kt_config_get_string (config, "live", "srt_listen");
  if (listen == NULL || listen[0] == '\0' || live->encoder != NULL
      || find_talk (live, NULL, kt_clock_now_us ()) == NULL)
    return;
  g_autofree char *uri = g_strdup_printf ("srt://%s?mode=listener", listen);
  g_autofree char *scratch = fresh_scratch (live, "live");
  static const KtLiveEncoderHooks hooks = { on_admit, on_segment, on_ended };
  g_autoptr (GError) error = NULL;
  live->encoder = kt_live_encoder_new (kt_config_get_string (config, "server", "pipelines_dir"),
                                       uri, kt_config_get_int (config, "live", "srt_latency_ms"),
                                       scratch, &hooks, live, &error);
  if (live->encoder == NULL) {
    if (!live->listen_failed)
      g_warning ("live talks cannot be received on srt=%s: %s; trying again every %d s",
                 listen, error->message, RELISTEN_MS / 1000);
    else
      g_debug ("srt=%s still unavailable: %s", listen, error->message);
    live->listen_failed = TRUE;
    kt_library_live_scratch_remove (scratch);
    listen_again_in (live, RELISTEN_MS);
    return;
  }
  live->listening_since = g_get_monotonic_time ();
  live->listen_failed = FALSE;
  g_info ("listening for live talks srt=%s", listen);
}

/* The camera feeding the talk has no sound and airs with silence: the
 * administrator reads why the talk is silent, once a lesson (the camera is
 * opened again after every failure). */
static void
on_no_sound (KtLiveEncoder *encoder, gpointer user_data)
{
  KtLive *live = user_data;
  KtLiveTalk *talk = live->publishing;
  if (talk == NULL || encoder != live->camera || talk->silent_noted)
    return;
  talk->silent_noted = TRUE;
  record_event (
      live, talk, "silent",
      "教室摄像机没有提供声音（没有麦克风，或摄像机设置里没有打开音频），直播画面配静音。");
}

/* Pull @talk from its camera at @url: like an admitted publisher, with no
 * admission (the camera is trusted by the config). */
static void
open_camera (KtLive *live, KtLiveTalk *talk, const char *url, gint64 now)
{
  g_autofree char *shown = kt_config_redact_url (url);
  g_autofree char *scratch = fresh_scratch (live, "rtsp");
  static const KtLiveEncoderHooks hooks = { NULL, on_segment, on_ended, on_no_sound };
  g_autoptr (GError) error = NULL;
  live->camera_retry_us = now + CAMERA_RETRY_US;
  live->camera = kt_live_encoder_new_rtsp (
      kt_config_get_string (kt_app_config (live->app), "server", "pipelines_dir"), url, scratch,
      &hooks, live, &error);
  if (live->camera == NULL) {
    g_warning ("talk=%s camera=%s cannot be opened: %s", talk->input, shown, error->message);
    kt_library_live_scratch_remove (scratch);
    return;
  }
  g_clear_pointer (&talk->publisher, g_free); /* no account: the recording is the administrators' */
  live->publishing = talk;
  live->next_slot = -1;
  live->camera_heard_us = g_get_monotonic_time ();
  live->camera_sends = FALSE;
  feed (live, live->camera);
  g_info ("talk=%s channel=%s pulling camera=%s", talk->input, talk->channel, shown);
}

/* Once a second: a talk with a camera ([rtsp.<talk>]) that is on (or
 * begins within CAMERA_LEAD_US) and that nobody publishes gets its camera
 * opened; one that failed is opened again CAMERA_RETRY_US later, and one
 * that went silent (CAMERA_FIRST_US, CAMERA_SILENT_US) is closed and opened
 * again at the next tick. Meanwhile the talk's slots air the slate, as for
 * a publisher who left. A teacher publishing over SRT or WHIP keeps the
 * camera closed; a camera feeding the talk makes them busy (admit()). */
static void
watch_cameras (KtLive *live, gint64 now)
{
  const KtConfig *config = kt_app_config (live->app);
  if (live->camera != NULL) {
    gint64 silent = g_get_monotonic_time () - live->camera_heard_us;
    if (silent > (live->camera_sends ? CAMERA_SILENT_US : CAMERA_FIRST_US)) {
      g_warning ("talk=%s camera sent nothing for %d s: reconnecting", live->publishing->input,
                 (int) (silent / G_USEC_PER_SEC));
      connection_over (live, live->camera, NULL);
      live->camera_retry_us = now;
    }
    return;
  }
  if (live->publishing != NULL || now < live->camera_retry_us)
    return;
  for (const char *const *input = kt_config_camera_talks (config); *input; input++) {
    KtLiveTalk *talk = find_talk_within (live, *input, now, CAMERA_LEAD_US);
    if (talk != NULL && talk->state != KT_LIVE_TALK_ENDED) {
      open_camera (live, talk, kt_config_get_camera (config, *input), now);
      return;
    }
  }
}

/* Air @talk's recorded fallback from the next slot: its speaker has not
 * come [live] fallback_minutes into the talk. */
static void
start_fallback (KtLive *live, KtLiveTalk *talk, const char *item_id, gint64 now)
{
  g_autoptr (KtItem) item = kt_library_get (kt_app_library (live->app), item_id);
  gint64 slot = slot_of (now) + 1, end = slot_of (talk->end_us);
  g_autofree char *note = NULL;
  if (item == NULL || item->state != KT_ITEM_READY || item->segment_count == 0) {
    note = g_strdup_printf ("直播未开始，备用录像 %s 不可用，继续显示等待画面", item_id);
    g_warning ("talk=%s channel=%s has not begun and its fallback item=%s is not ready",
               talk->input, talk->channel, item_id);
  } else {
    note = g_strdup_printf ("直播未按时开始，已改播录像《%s》", item->title);
    KtChannelLiveSpan span = { slot, MIN (end, slot + item->segment_count), g_strdup (item_id), 0 };
    g_array_append_val (talk->spans, span);
    talk->fallback = talk->spans->len - 1;
    g_warning ("talk=%s channel=%s has not begun: airing fallback item=%s from slot=%" G_GINT64_FORMAT,
               talk->input, talk->channel, item_id, slot);
    tell_channels (live, talk);
  }
  talk->fallback_checked = TRUE;
  g_free (talk->note);
  talk->note = g_strdup (note);
  record_event (live, talk, "fallback", note);
}

/* Live lessons on now whose speaker is [live] fallback_minutes late get
 * their fallback, once. */
static void
check_fallbacks (KtLive *live, gint64 now)
{
  gint64 wait = kt_config_get_int (kt_app_config (live->app), "live", "fallback_minutes") * 60
                * KT_USEC_PER_SEC;
  GPtrArray *channels = kt_app_channels (live->app);
  for (guint c = 0; c < channels->len; c++) {
    g_autoptr (GArray) lessons = kt_channel_lessons_between (channels->pdata[c], now, now + 1);
    for (guint i = 0; i < lessons->len; i++) {
      const KtAiring *a = &g_array_index (lessons, KtAiring, i);
      if (a->fallback == NULL || !g_str_has_prefix (a->source, "live:")
          || now < a->start_us + wait)
        continue;
      KtLiveTalk *talk = talk_of (live, channels->pdata[c], a);
      if (talk->live_end == 0 && !talk->fallback_checked)
        start_fallback (live, talk, a->fallback, now);
    }
  }
}

/* Once a second: open or close the listener as talks come near or pass,
 * renew one that has waited too long (see KT_LIVE_ENCODER_MAX_IDLE_US), end
 * talks whose slot is over and air fallbacks. */
static gboolean
on_tick (gpointer user_data)
{
  KtLive *live = user_data;
  gint64 now = kt_clock_now_us ();
  if (live->encoder && live->publishing == NULL && find_talk (live, NULL, now) == NULL) {
    g_info ("no live talk within early_minutes: SRT listener closed");
    connection_over (live, live->encoder, NULL);
  } else if (live->encoder && live->publishing == NULL
             && g_get_monotonic_time () - live->listening_since > KT_LIVE_ENCODER_MAX_IDLE_US) {
    g_clear_pointer (&live->encoder, kt_live_encoder_free);
    start_listening (live);
  } else if (live->encoder == NULL && live->relisten == 0) {
    start_listening (live);
  }
  watch_cameras (live, now);
  /* The test's fake clock moves in steps: map it afresh until the picture. */
  if (live->feeding && kt_live_encoder_first_picture_us (live->feeding) == 0)
    align (live, live->feeding);
  check_fallbacks (live, now);
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, live->talks);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    KtLiveTalk *talk = value;
    if (talk->state != KT_LIVE_TALK_ENDED && slot_of (now) >= slot_of (talk->end_us)) {
      if (live->publishing == talk) {
        g_info ("talk=%s is over: disconnecting its publisher", talk->input);
        connection_over (live, live->feeding, NULL);
        listen_again_in (live, 0);
      }
      talk->state = KT_LIVE_TALK_ENDED;
      if (talk->item_id) {
        g_autoptr (GError) error = NULL;
        if (kt_library_live_close (kt_app_library (live->app), talk->item_id, &error))
          record_event (live, talk, "recorded", talk->item_id);
        else
          g_warning ("talk=%s recording not closed: %s", talk->input, error->message);
      }
    } else if (talk->state == KT_LIVE_TALK_ENDED && now > talk->end_us + FORGET_AFTER_US) {
      g_hash_table_iter_remove (&iter);
    }
  }
  return G_SOURCE_CONTINUE;
}

/* WHIP. The answer (or the failure) goes to the waiting publisher; a
 * failure also ends the connection, which tells the talk why. */
static void
on_whip_answered (KtLiveWhip *whip, const char *answer, const GError *error, gpointer user_data)
{
  KtLive *live = user_data;
  KtLiveWhipReply reply = live->whip_reply;
  live->whip_reply = NULL;
  if (reply)
    reply (answer, answer ? live->whip_id : NULL, error, live->whip_reply_data);
  if (error)
    kt_live_encoder_end (live->whip_encoder, g_error_copy (error));
  else
    g_info ("whip answered id=%s", live->whip_id);
}

static void
on_whip_gone (KtLiveWhip *whip, const char *why, gpointer user_data)
{
  KtLive *live = user_data;
  g_info ("whip publisher gone id=%s: %s", live->whip_id, why);
  kt_live_encoder_end (live->whip_encoder, NULL);
}

gboolean
kt_live_whip_publish (KtLive *live, const char *input, const KtUser *user, const char *peer,
                      GstSDPMessage *offer, KtLiveWhipReply reply, gpointer data,
                      GError **error)
{
  g_autoptr (GstSDPMessage) owned = offer;
  if (live->whip_encoder != NULL && live->publishing == NULL) {
    g_set_error_literal (error, KT_LIVE_ERROR, KT_LIVE_ERROR_BUSY,
                         "另一个直播连接正在建立，请稍后再试。");
    return FALSE;
  }
  KtLiveTalk *talk = admit (live, NULL, input, user, peer, error);
  if (talk == NULL)
    return FALSE;

  const KtConfig *config = kt_app_config (live->app);
  g_autofree char *scratch = fresh_scratch (live, "whip");
  static const KtLiveEncoderHooks hooks = { NULL, on_segment, on_ended };
  KtLiveEncoder *encoder = kt_live_encoder_new_whip (
      kt_config_get_string (config, "server", "pipelines_dir"), scratch, &hooks, live, error);
  if (encoder == NULL) {
    g_warning ("talk=%s WHIP publisher cannot be received: %s", input, (*error)->message);
    kt_library_live_scratch_remove (scratch);
    live->publishing = NULL;
    return FALSE;
  }
  live->whip_encoder = encoder;
  feed (live, encoder);
  live->whip_id = g_uuid_string_random ();
  live->whip_owner = g_strdup (user->name);
  live->whip_reply = reply;
  live->whip_reply_data = data;
  static const KtLiveWhipHooks whip_hooks = { on_whip_answered, on_whip_gone };
  live->whip = kt_live_whip_new (encoder, g_steal_pointer (&owned), &whip_hooks, live);
  return TRUE;
}

gboolean
kt_live_whip_stop (KtLive *live, const char *input, const char *id, const KtUser *user,
                   GError **error)
{
  if (live->whip_id == NULL || !g_str_equal (live->whip_id, id) || live->publishing == NULL
      || !g_str_equal (live->publishing->input, input)
      || (user->role != KT_ROLE_ADMIN && g_strcmp0 (live->whip_owner, user->name) != 0)) {
    g_set_error_literal (error, KT_LIVE_ERROR, KT_LIVE_ERROR_NO_TALK, "没有这个直播连接。");
    return FALSE;
  }
  g_info ("talk=%s WHIP publish ended by name=%s", input, user->name);
  kt_live_encoder_end (live->whip_encoder, NULL);
  return TRUE;
}

KtLive *
kt_live_new (KtApp *app)
{
  KtLive *live = g_new0 (KtLive, 1);
  live->app = app;
  live->talks = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) talk_free);
  live->next_slot = -1;
  live->completion_delay_us = COMPLETION_DELAY_US;
  return live;
}

void
kt_live_start (KtLive *live)
{
  start_listening (live);
  live->tick = kt_clock_timer_add (TICK_MS, on_tick, live);
}

void
kt_live_free (KtLive *live)
{
  if (live == NULL)
    return;
  if (live->tick)
    kt_clock_timer_remove (live->tick);
  if (live->relisten)
    g_source_remove (live->relisten);
  connection_over (live, live->whip_encoder, NULL);
  drop_whip (live, NULL);
  connection_over (live, live->encoder, NULL);
  connection_over (live, live->camera, NULL);
  live->camera_retry_us = G_MAXINT64; /* the tick below opens nothing */
  /* Recordings of talks that are over are closed; one still on stays
   * "processing" and goes on at the next start (or is made ready then). */
  on_tick (live);
  g_hash_table_destroy (live->talks);
  g_free (live);
}

static int
newest_first (gconstpointer a, gconstpointer b)
{
  gint64 x = ((const KtLiveTalkInfo *) a)->start_us, y = ((const KtLiveTalkInfo *) b)->start_us;
  return x > y ? -1 : x < y ? 1 : 0;
}

GArray *
kt_live_talks (KtLive *live)
{
  GArray *out = g_array_new (FALSE, TRUE, sizeof (KtLiveTalkInfo));
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, live->talks);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    const KtLiveTalk *t = value;
    KtLiveTalkInfo info = { t->input, t->channel, t->title, t->start_us, t->end_us, t->state,
                            t->publisher, t->item_id, t->recorded, t->error, t->note };
    g_array_append_val (out, info);
  }
  g_array_sort (out, newest_first);
  return out;
}
