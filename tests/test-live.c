/* Live talks over SRT, end to end: the real server with a timetable that
 * has a live talk, a real SRT listener, and publishers that are separate
 * gst-launch-1.0 processes sending a generated picture and tone with
 * srtsink, as OBS or ffmpeg would. Checks that a wrong key is refused at
 * once while the channel airs "报告会即将开始"; that the right key puts the
 * talk on air in the house format, and a second publisher is refused
 * meanwhile; that a cut stream airs "信号中断" from the
 * next slot and a resumed one is live again, each change behind a
 * discontinuity and with the media sequence running on; that when the talk
 * ends its recording is a library item with exactly the segments that aired;
 * and that garbage sent to the SRT port (stray datagrams, a stream with the
 * right key that is no media at all, one with no sound) is refused, with a
 * reason the administrator can read, while the server goes on serving.
 *
 * Time: the wall clock is the fake one, set to the talk's time. Media
 * arrives in real time, so while a publisher runs the fake clock follows
 * the monotonic clock (follow_until); see the essay in kt-live.c. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "kt-clock.h"
#include "test-utils.h"

/* 2026-12-10 14:00:00 in Shanghai. */
#define TWO_PM (G_GINT64_CONSTANT (1796882400) * G_USEC_PER_SEC)
#define AT(s) (TWO_PM + (gint64) (s) * G_USEC_PER_SEC)

static const char timetable[] =
    "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\nX-WR-CALNAME:报告会频道\n"
    "X-KETANG-CHANNEL:9\n"
    "BEGIN:VEVENT\nUID:talk\nSUMMARY:养生讲座\nORGANIZER;CN=李教授:mailto:l@x\n"
    "DTSTART:20261210T140000\nDTEND:20261210T141000\nX-KETANG-SOURCE:live:talk-a\nEND:VEVENT\n"
    "END:VCALENDAR\n";

/* The same talk with a recorded fallback. */
static const char timetable_with_fallback[] =
    "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\nX-WR-CALNAME:报告会频道\n"
    "X-KETANG-CHANNEL:9\n"
    "BEGIN:VEVENT\nUID:talk\nSUMMARY:养生讲座\nORGANIZER;CN=李教授:mailto:l@x\n"
    "DTSTART:20261210T140000\nDTEND:20261210T141000\nX-KETANG-SOURCE:live:talk-a\n"
    "X-KETANG-FALLBACK:item:last-year\nEND:VEVENT\n"
    "END:VCALENDAR\n";

/* A talk an hour after the fixture's clock (14:00:30). */
static const char timetable_at_three[] =
    "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\nX-WR-CALNAME:报告会频道\n"
    "X-KETANG-CHANNEL:9\n"
    "BEGIN:VEVENT\nUID:talk\nSUMMARY:养生讲座\nORGANIZER;CN=李教授:mailto:l@x\n"
    "DTSTART:20261210T150000\nDTEND:20261210T151000\nX-KETANG-SOURCE:live:talk-a\nEND:VEVENT\n"
    "END:VCALENDAR\n";

typedef struct {
  char *data_dir;
  KtApp *app;
  guint port;
  char *key;
  gint64 followed; /* monotonic time the fake clock last caught up with */
} Fixture;


/* Run the server, with the fake clock following real time, until @done
 * says so or @seconds pass; FALSE on the timeout. */
static gboolean
follow_until (Fixture *f, gboolean (*done) (Fixture *f, gpointer data), gpointer data,
              double seconds)
{
  return kt_test_follow_clock (&f->followed, (KtTestDone) done, f, data, seconds);
}

static void
fixture_set_up (Fixture *f, gconstpointer schedule)
{
  kt_clock_set_fake (AT (30));
  f->followed = g_get_monotonic_time ();
  f->data_dir = kt_test_mkdtemp ();
  g_autofree char *schedules = g_build_filename (f->data_dir, "schedules", NULL);
  g_mkdir_with_parents (schedules, 0755);
  g_autofree char *path = g_build_filename (schedules, "9.ics", NULL);
  g_assert_true (g_file_set_contents (path, schedule ? schedule : timetable, -1, NULL));
  f->port = kt_test_free_port (G_SOCKET_TYPE_DATAGRAM);
  g_autofree char *listen = g_strdup_printf ("live.srt_listen=127.0.0.1:%u", f->port);
  const char *settings[] = { listen, "live.srt_latency_ms=400", "live.fallback_minutes=1", NULL };
  f->app = kt_test_app_start (f->data_dir, FALSE, settings);

  /* The teacher makes a key the way the teaching page does. */
  g_auto (KtTestSession) teacher = { 0 };
  kt_test_session_open (f->app, "li", "teacher", &teacher);
  g_autoptr (KtTestResponse) r
      = kt_test_request_as (f->app, &teacher, "POST", "/api/live/key", NULL, NULL);
  g_assert_cmpuint (r->status, ==, 201);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree char *text = kt_test_body_text (r);
  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  JsonObject *o = json_node_get_object (json_parser_get_root (parser));
  f->key = g_strdup (json_object_get_string_member (o, "key"));
  g_autofree char *url = g_strdup_printf ("srt://127.0.0.1:%u", f->port);
  g_assert_cmpstr (json_object_get_string_member (o, "srt_url"), ==, url);
}

static void
fixture_tear_down (Fixture *f, gconstpointer unused)
{
  kt_app_free (f->app);
  kt_test_rmtree (f->data_dir);
  g_free (f->data_dir);
  g_free (f->key);
  kt_clock_use_real ();
}

/* A publisher: gst-launch-1.0 sending @seconds of a small test picture and
 * a tone over SRT with @streamid (or @file's bytes, when given, as they
 * are). */
static GSubprocess *
publish (Fixture *f, const char *streamid, double seconds, const char *file)
{
  g_autofree char *uri
      = g_strdup_printf ("uri=srt://127.0.0.1:%u?streamid=%s", f->port, streamid);
  g_autofree char *frames = g_strdup_printf ("num-buffers=%d", (int) (seconds * 25));
  g_autofree char *buffers = g_strdup_printf ("num-buffers=%d", (int) (seconds * 50));
  g_autofree char *location = g_strdup_printf ("location=%s", file ? file : "");
  const char *media[] = {
    "gst-launch-1.0", "-q", "videotestsrc", "is-live=true", frames, "pattern=ball", "!",
    "video/x-raw,width=320,height=180,framerate=25/1", "!", "x264enc", "tune=zerolatency",
    "speed-preset=ultrafast", "key-int-max=25", "bitrate=300", "!", "h264parse", "!", "mux.",
    "audiotestsrc", "is-live=true", buffers, "samplesperbuffer=960", "!",
    "audio/x-raw,rate=48000,channels=2", "!", "avenc_aac", "!", "aacparse", "!", "mux.",
    "mpegtsmux", "name=mux", "alignment=7", "!", "srtsink", uri, "latency=400", "auto-reconnect=false", NULL
  };
  const char *bytes[] = { "gst-launch-1.0", "-q", "filesrc", location, "blocksize=1316", "!",
                          "srtsink", uri, "latency=400", "auto-reconnect=false", NULL };
  g_autoptr (GError) error = NULL;
  GSubprocess *p = g_subprocess_newv (file ? bytes : media,
                                      G_SUBPROCESS_FLAGS_STDOUT_SILENCE
                                          | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                                      &error);
  g_assert_no_error (error);
  return p;
}

static void
on_exited (GObject *source, GAsyncResult *result, gpointer data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *(gboolean *) data = TRUE;
}

static gboolean
flag_set (Fixture *f, gpointer data)
{
  return *(gboolean *) data;
}

/* Wait (following real time) for @p to end; its exit status, or -1 if it
 * is still running after @seconds (then it is killed). */
static int
wait_exit (Fixture *f, GSubprocess *p, double seconds)
{
  gboolean exited = FALSE;
  g_subprocess_wait_async (p, NULL, on_exited, &exited);
  if (!follow_until (f, flag_set, &exited, seconds)) {
    g_subprocess_force_exit (p);
    while (!exited)
      g_main_context_iteration (NULL, TRUE);
    return -1;
  }
  return g_subprocess_get_if_exited (p) ? g_subprocess_get_exit_status (p) : 1;
}

/* The newest entry of channel 9's 720p playlist. */
typedef struct {
  char *uri;
  gboolean discontinuity;
  guint64 msn; /* its media sequence number */
} Newest;

static void
newest_clear (Newest *n)
{
  g_clear_pointer (&n->uri, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Newest, newest_clear)

static void
read_newest (Fixture *f, Newest *out)
{
  g_autoptr (KtTestResponse) r = kt_test_get (f->app, "/live/9/720p/index.m3u8");
  g_assert_cmpuint (r->status, ==, 200);
  g_autofree char *text = kt_test_body_text (r);
  g_auto (KtTestPlaylist) p = { 0 };
  kt_test_playlist_parse (text, &p);
  g_assert_cmpuint (p.uris->len, >, 0);
  newest_clear (out);
  guint last = p.uris->len - 1;
  out->uri = g_strdup (p.uris->pdata[last]);
  out->discontinuity = g_array_index (p.discontinuity, gboolean, last);
  out->msn = p.msn + last;
}

static gboolean
is_live_uri (const char *uri)
{
  return g_str_has_prefix (uri, "/media/live-");
}

static gboolean
newest_is_live (Fixture *f, gpointer data)
{
  g_auto (Newest) n = { 0 };
  read_newest (f, &n);
  return is_live_uri (n.uri);
}

static gboolean
newest_is_slate (Fixture *f, gpointer data)
{
  g_auto (Newest) n = { 0 };
  read_newest (f, &n);
  return g_str_has_prefix (n.uri, "/media/slate-");
}

/* The item id in "/media/<item>/<rendition>/<n>.ts". */
static char *
item_of (const char *uri)
{
  g_auto (GStrv) parts = g_strsplit (uri, "/", -1);
  return g_strdup (parts[2]);
}

static char *
streamid (Fixture *f, const char *talk, const char *key)
{
  return g_strdup_printf ("%s/%s", talk, key);
}

static void
test_wrong_key_cut_resume_recording (Fixture *f, gconstpointer unused)
{
  kt_test_wait_on_air (f->app, "9");
  g_assert_true (follow_until (f, newest_is_slate, NULL, 60));
  g_auto (Newest) waiting = { 0 };
  read_newest (f, &waiting);
  g_autofree char *waiting_slate = item_of (waiting.uri);

  /* A wrong key, a key for a talk that is not on, and a key one character
   * off are refused in the handshake: the publisher fails at once. */
  g_autofree char *off = g_strdup (f->key);
  off[3] = off[3] == 'x' ? 'y' : 'x';
  g_autofree char *id_wrong = streamid (f, "talk-a", off);
  g_autofree char *id_other = streamid (f, "talk-b", f->key);
  const char *refused[] = { id_wrong, id_other, "talk-a", NULL };
  for (int i = 0; refused[i]; i++) {
    g_autoptr (GSubprocess) p = publish (f, refused[i], 6, NULL);
    gint64 t0 = g_get_monotonic_time ();
    int status = wait_exit (f, p, 5);
    g_assert_cmpint (status, !=, 0);
    g_assert_cmpint (status, !=, -1);
    g_assert_cmpint (g_get_monotonic_time () - t0, <, 4 * G_USEC_PER_SEC);
  }
  g_assert_true (newest_is_slate (f, NULL));

  /* The right key: the talk goes on air, in the house format. */
  g_autofree char *id = streamid (f, "talk-a", f->key);
  g_autoptr (GSubprocess) first = publish (f, id, 12, NULL);
  g_assert_true (follow_until (f, newest_is_live, NULL, 20));
  g_auto (Newest) on_air = { 0 };
  read_newest (f, &on_air);
  g_assert_true (on_air.discontinuity); /* slate → live */
  g_autoptr (KtTestResponse) seg = kt_test_get (f->app, on_air.uri);
  g_assert_cmpuint (seg->status, ==, 200);
  KtTestDecoded decoded;
  kt_test_decode (seg->body, &decoded);
  g_assert_cmpint (decoded.width, ==, 1280);
  g_assert_cmpint (decoded.height, ==, 720);
  g_assert_cmpuint (decoded.video_frames, ==, 50);
  g_assert_cmpuint (decoded.audio_buffers, >, 0);
  /* The connection's first segment is 2 s of sound too, not also the
   * silence audiorate once made up for the time the listener had waited
   * before the publisher came: that put the picture as many seconds after
   * the sound, and viewers who were watching the slate saw a still picture
   * and then the talk that much late. */
  g_assert_cmpuint (decoded.audio_buffers, <=, 100); /* 2 s of 21.3 ms AAC frames is 94 */
  GstClockTime first_video, first_audio;
  kt_test_ts_first_pts (seg->body, &first_video, &first_audio);
  g_assert_cmpint (GST_CLOCK_DIFF (first_audio, first_video), <, 100 * GST_MSECOND);
  kt_test_decoded_clear (&decoded);
  /* /metrics says so too, with the bit rate viewers get. */
  g_autoptr (KtTestResponse) live_metrics = kt_test_get (f->app, "/metrics");
  g_autofree char *live_scrape = kt_test_body_text (live_metrics);
  g_assert_cmpfloat (kt_test_metric (live_scrape,
                                     "ketang_live_input_up{input=\"talk-a\",channel=\"9\"}"), ==, 1);
  g_assert_cmpfloat (kt_test_metric (live_scrape,
                                     "ketang_live_input_bitrate_bits{input=\"talk-a\",channel=\"9\"}"),
                     >, 100000);

  /* A second publisher, even with the right key, is refused while the
   * first one is on air; the talk goes on. */
  g_autoptr (GSubprocess) intruder = publish (f, id, 4, NULL);
  int intruder_status = wait_exit (f, intruder, 5);
  g_assert_cmpint (intruder_status, >, 0);
  g_assert_true (newest_is_live (f, NULL));

  /* The publisher stops: the slot after the last live segment airs the
   * "信号中断" slate (a card of its own), the numbering running on. */
  g_assert_cmpint (wait_exit (f, first, 20), ==, 0);
  g_assert_true (follow_until (f, newest_is_slate, NULL, 8));
  g_autoptr (KtTestResponse) cut_metrics = kt_test_get (f->app, "/metrics");
  g_autofree char *cut_scrape = kt_test_body_text (cut_metrics);
  g_assert_cmpfloat (kt_test_metric (cut_scrape,
                                     "ketang_live_input_up{input=\"talk-a\",channel=\"9\"}"), ==, 0);
  g_autoptr (KtTestResponse) cut = kt_test_get (f->app, "/live/9/720p/index.m3u8");
  g_autofree char *cut_text = kt_test_body_text (cut);
  g_auto (KtTestPlaylist) window = { 0 };
  kt_test_playlist_parse (cut_text, &window);
  int last = -1;
  for (guint i = 0; i < window.uris->len; i++)
    if (is_live_uri (window.uris->pdata[i]))
      last = i;
  g_assert_cmpint (last, >=, 0);
  g_assert_cmpint (last + 1, <, (int) window.uris->len);
  g_assert_true (g_array_index (window.discontinuity, gboolean, last + 1));
  g_autofree char *lost = item_of (window.uris->pdata[last + 1]);
  g_assert_true (g_str_has_prefix (lost, "slate-"));
  g_assert_cmpstr (lost, !=, waiting_slate);
  g_autofree char *recording = item_of (window.uris->pdata[last]);
  guint64 last_live_msn = window.msn + last;

  /* It resumes: live again, behind a discontinuity. */
  g_autoptr (GSubprocess) second = publish (f, id, 7, NULL);
  g_assert_true (follow_until (f, newest_is_live, NULL, 20));
  g_auto (Newest) again = { 0 };
  read_newest (f, &again);
  g_assert_true (again.discontinuity);
  g_assert_cmpuint (again.msn, >, last_live_msn + 1);
  g_autofree char *same = item_of (again.uri);
  g_assert_cmpstr (same, ==, recording);
  g_assert_cmpint (wait_exit (f, second, 20), ==, 0);

  /* The talk's slot ends: its recording is a ready library item of every
   * segment that aired, and nothing else. */
  g_autoptr (KtItem) growing = kt_library_get (kt_app_library (f->app), recording);
  g_assert_cmpint (growing->state, ==, KT_ITEM_PROCESSING);
  guint aired = growing->segment_count;
  g_assert_cmpuint (aired, >=, 4);
  kt_clock_advance (AT (600) + 2 * G_USEC_PER_SEC - kt_clock_now_us ());
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_autoptr (KtItem) item = kt_library_get (kt_app_library (f->app), recording);
  g_assert_cmpint (item->state, ==, KT_ITEM_READY);
  g_assert_cmpuint (item->segment_count, ==, aired);
  g_assert_cmpstr (item->kind, ==, "live");
  g_assert_cmpstr (item->title, ==, "养生讲座");
  g_assert_cmpstr (item->owner, ==, "li");

  g_autofree char *vod = g_strdup_printf ("/watch/%s/720p/index.m3u8", recording);
  g_autoptr (KtTestResponse) replay = kt_test_get (f->app, vod);
  g_assert_cmpuint (replay->status, ==, 200);
  g_autofree char *text = kt_test_body_text (replay);
  g_auto (KtTestPlaylist) p = { 0 };
  kt_test_playlist_parse (text, &p);
  g_assert_cmpuint (p.uris->len, ==, aired);
  /* Gaps removed: the second connection's first picture follows the first
   * connection's last segment in the recording's own clock. */
  GstClockTime previous_video = GST_CLOCK_TIME_NONE;
  for (guint i = 0; i < p.uris->len; i++) {
    g_autoptr (KtTestResponse) s = kt_test_get (f->app, p.uris->pdata[i]);
    g_assert_cmpuint (s->status, ==, 200);
    GstClockTime video, audio;
    kt_test_ts_first_pts (s->body, &video, &audio);
    if (GST_CLOCK_TIME_IS_VALID (previous_video))
      g_assert_cmpint (ABS ((gint64) (video - previous_video) - 2 * (gint64) GST_SECOND), <,
                       100 * GST_MSECOND);
    previous_video = video;
  }
}

/* OBS and most scripts publish with ffmpeg's SRT output; its stream id
 * travels in the URL's query. */
static void
test_ffmpeg_publishes (Fixture *f, gconstpointer unused)
{
  if (!kt_test_have_ffmpeg ()) {
    g_test_skip ("no ffmpeg");
    return;
  }
  kt_test_wait_on_air (f->app, "9");
  g_autofree char *uri = g_strdup_printf (
      "srt://127.0.0.1:%u?streamid=talk-a/%s&latency=400000", f->port, f->key);
  const char *argv[] = { "ffmpeg", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
                         "testsrc=size=320x180:rate=30", "-f", "lavfi", "-i",
                         "sine=frequency=440:sample_rate=44100", "-t", "7", "-c:v", "libx264",
                         "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-c:a", "aac",
                         "-f", "mpegts", uri, NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_newv (
      argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
  g_assert_no_error (error);
  g_assert_true (follow_until (f, newest_is_live, NULL, 20));
  g_auto (Newest) n = { 0 };
  read_newest (f, &n);
  g_autoptr (KtTestResponse) seg = kt_test_get (f->app, n.uri);
  KtTestDecoded decoded;
  kt_test_decode (seg->body, &decoded);
  g_assert_cmpint (decoded.width, ==, 1280); /* 30 fps, 44.1 kHz in: the house format out */
  g_assert_cmpuint (decoded.video_frames, ==, 50);
  kt_test_decoded_clear (&decoded);
  g_assert_cmpint (wait_exit (f, p, 20), ==, 0);
}

static gboolean
healthy (Fixture *f)
{
  g_autoptr (KtTestResponse) r = kt_test_get (f->app, "/healthz");
  return r->status == 200;
}

static void
test_garbage_is_refused (Fixture *f, gconstpointer unused)
{
  kt_test_wait_on_air (f->app, "9");

  /* Stray datagrams: not SRT at all. */
  g_autoptr (GSocket) socket
      = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) to = g_inet_socket_address_new (lo, f->port);
  guchar junk[1400];
  for (int i = 0; i < 200; i++) {
    for (guint j = 0; j < sizeof junk; j++)
      junk[j] = g_random_int ();
    g_socket_send_to (socket, to, (const char *) junk, 1 + g_random_int_range (0, sizeof junk),
                      NULL, NULL);
  }
  follow_until (f, NULL, NULL, 0.5);
  g_assert_true (healthy (f));

  /* The right key, and bytes that are no media. */
  g_autofree char *file = g_build_filename (f->data_dir, "noise.ts", NULL);
  g_autoptr (GByteArray) noise = g_byte_array_new ();
  for (int i = 0; i < 400 * 1316; i++) {
    guint8 b = g_random_int ();
    g_byte_array_append (noise, &b, 1);
  }
  g_assert_true (g_file_set_contents (file, (const char *) noise->data, noise->len, NULL));
  g_autofree char *id = streamid (f, "talk-a", f->key);
  g_autoptr (GSubprocess) p = publish (f, id, 0, file);
  wait_exit (f, p, 15);
  follow_until (f, NULL, NULL, 1);
  g_assert_true (healthy (f));

  /* Refused with a reason the administrator can read. */
  sqlite3_stmt *stmt = kt_store_prepare (
      kt_app_store (f->app), "SELECT kind, message FROM live_events WHERE input = 'talk-a'", NULL);
  gboolean refused = FALSE;
  while (sqlite3_step (stmt) == SQLITE_ROW) {
    g_test_message ("event %s: %s", sqlite3_column_text (stmt, 0), sqlite3_column_text (stmt, 1));
    refused |= g_str_equal ((const char *) sqlite3_column_text (stmt, 0), "refused");
  }
  sqlite3_reset (stmt);
  g_assert_true (refused);

  /* A stream with a picture and no sound cannot be aired in the house
   * format: refused, with a sentence saying what is missing. */
  g_autofree char *uri = g_strdup_printf ("uri=srt://127.0.0.1:%u?streamid=%s", f->port, id);
  const char *mute[] = { "gst-launch-1.0", "-q", "videotestsrc", "is-live=true", "num-buffers=150",
                         "!", "video/x-raw,width=320,height=180,framerate=25/1", "!", "x264enc",
                         "tune=zerolatency", "speed-preset=ultrafast", "!", "h264parse", "!",
                         "mpegtsmux", "alignment=7", "!", "srtsink", uri, "latency=400",
                         "auto-reconnect=false", NULL };
  g_autoptr (GSubprocess) m = g_subprocess_newv (
      mute, G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, NULL);
  wait_exit (f, m, 15);
  follow_until (f, NULL, NULL, 1);
  stmt = kt_store_prepare (kt_app_store (f->app),
                           "SELECT count(*) FROM live_events WHERE kind = 'refused' "
                           "AND message LIKE '%没有能解码的声音%'",
                           NULL);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpint (sqlite3_column_int (stmt, 0), ==, 1);
  sqlite3_reset (stmt);
  g_assert_true (newest_is_slate (f, NULL));

  /* The listener is back: a publisher with a wrong key is refused at once
   * (a closed port would leave it retrying), the channel still airs. */
  g_autofree char *wrong = streamid (f, "talk-a", "not-a-key");
  g_autoptr (GSubprocess) q = publish (f, wrong, 4, NULL);
  int status = wait_exit (f, q, 6);
  g_assert_cmpint (status, >, 0);
  g_assert_true (newest_is_slate (f, NULL));
}

/* Whether something (the server's SRT listener) holds the SRT port: a
 * plain bind of it fails then. */
static gboolean
srt_port_taken (Fixture *f)
{
  g_autoptr (GSocket) socket
      = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (lo, f->port);
  return !g_socket_bind (socket, address, FALSE, NULL);
}

/* Move the fake clock to @t one second at a time, so the server's
 * once-a-second work runs as it would. */
static void
step_clock_to (Fixture *f, gint64 t)
{
  while (kt_clock_now_us () < t) {
    kt_clock_advance (MIN (G_USEC_PER_SEC, t - kt_clock_now_us ()));
    while (g_main_context_iteration (NULL, FALSE))
      ;
  }
}

/* A waiting SRT listener costs CPU (see kt-live.c), so the port is open only
 * from [live] early_minutes (30) before a talk until its end. */
static void
test_listener_only_near_a_talk (Fixture *f, gconstpointer unused)
{
  kt_test_wait_on_air (f->app, "9");
  g_assert_false (srt_port_taken (f)); /* 14:00:30, the talk is at 15:00 */
  step_clock_to (f, AT (29 * 60 + 10));
  g_assert_false (srt_port_taken (f));
  step_clock_to (f, AT (30 * 60 + 2)); /* 14:30:02 */
  g_assert_true (srt_port_taken (f));
  step_clock_to (f, AT (70 * 60 + 2)); /* 15:10:02, the talk is over */
  /* libsrt lets go of a closed listener's socket in its own thread: within
   * about a second on a quiet machine, several on a loaded one. */
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (srt_port_taken (f) && g_get_monotonic_time () < deadline)
    g_usleep (50000);
  g_assert_false (srt_port_taken (f));
}

static void
on_made (KtLibrary *library, const char *item_id, const GError *error, gpointer data)
{
  g_assert_no_error (error);
  *(gboolean *) data = TRUE;
}

/* The speaker never comes: a minute in (fallback_minutes=1) the recording
 * the timetable names airs from the next slot, behind a discontinuity, and
 * the administrator can read that it did. */
static void
test_fallback (Fixture *f, gconstpointer unused)
{
  /* Last year's talk, as a library item of three segments. */
  const char *vars[] = { "title", "去年的讲座", "teacher", "李教授", NULL };
  KtItemRecipe recipe = { "last-year", "demo", "去年的讲座", "李教授", "demo-lesson", vars, 3 };
  gboolean made = FALSE;
  g_autoptr (GError) error = NULL;
  g_assert_true (kt_library_make (kt_app_library (f->app), &recipe, on_made, &made, &error));
  while (!made || kt_app_busy (f->app))
    g_main_context_iteration (NULL, TRUE);
  kt_test_wait_on_air (f->app, "9");

  /* 58 s in: still waiting. */
  kt_clock_advance (AT (58) - kt_clock_now_us ());
  while (kt_app_busy (f->app))
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (newest_is_slate (f, NULL));

  /* A minute in, the fallback is decided; it airs from the next slot. */
  kt_clock_advance (AT (61) - kt_clock_now_us ());
  g_assert_true (newest_is_slate (f, NULL));
  kt_clock_advance (AT (63) - kt_clock_now_us ());
  g_auto (Newest) n = { 0 };
  read_newest (f, &n);
  g_assert_cmpstr (n.uri, ==, "/media/last-year/720p/0.ts");
  g_assert_true (n.discontinuity);
  kt_clock_advance (2 * G_USEC_PER_SEC);
  read_newest (f, &n);
  g_assert_cmpstr (n.uri, ==, "/media/last-year/720p/1.ts");

  g_auto (KtTestSession) admin = { 0 };
  kt_test_session_open (f->app, "boss", "admin", &admin);
  g_autoptr (KtTestResponse) r
      = kt_test_request_as (f->app, &admin, "GET", "/api/live/talks", NULL, NULL);
  g_assert_cmpuint (r->status, ==, 200);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree char *text = kt_test_body_text (r);
  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  JsonObject *o = json_node_get_object (json_parser_get_root (parser));
  JsonArray *talks = json_object_get_array_member (o, "talks");
  g_assert_cmpuint (json_array_get_length (talks), ==, 1);
  JsonObject *talk = json_array_get_object_element (talks, 0);
  g_assert_cmpstr (json_object_get_string_member (talk, "state"), ==, "waiting");
  g_assert_nonnull (strstr (json_object_get_string_member (talk, "note"), "去年的讲座"));
  JsonArray *events = json_object_get_array_member (o, "events");
  g_assert_cmpuint (json_array_get_length (events), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (events, 0), "kind"),
                   ==, "fallback");
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  /* Refused publishers are warnings for the operator, expected here. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
#define ADD(name, fn) g_test_add (name, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/live/wrong-key-cut-resume-recording", test_wrong_key_cut_resume_recording);
  ADD ("/live/garbage-is-refused", test_garbage_is_refused);
  ADD ("/live/ffmpeg-publishes", test_ffmpeg_publishes);
  g_test_add ("/live/listener-only-near-a-talk", Fixture, timetable_at_three, fixture_set_up,
              test_listener_only_near_a_talk, fixture_tear_down);
  g_test_add ("/live/fallback", Fixture, timetable_with_fallback, fixture_set_up, test_fallback,
              fixture_tear_down);
  return g_test_run ();
}
