/* Live talks pulled from a classroom camera over RTSP, end to end: the real
 * server with a timetable that has a live talk and an [rtsp.talk-a]
 * section, and a camera simulated in this process with gst-rtsp-server
 * (a generated picture in H.264 and a tone in AAC, as an IP camera serves
 * them). Checks that the channel goes on air from the camera with no
 * publisher at all, in the house format; that a teacher publishing the same
 * talk is refused as busy meanwhile; that a camera that stops airs "信号中断"
 * and one that comes back is live again within the retry interval, in the
 * same recording; that at the lesson's end the camera is let go and the
 * recording is ready; that a camera that never answers leaves the channel
 * on its slate with one event for the administrator, not one per retry;
 * that a camera with no microphone airs its picture with silence; and that
 * the camera's password appears in no log message.
 *
 * Time: the wall clock is the fake one, set to the talk's time and moved
 * along with the real one while media flows (as in test-live.c). */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <json-glib/json-glib.h>

#include "kt-clock.h"
#include "test-utils.h"

/* 2026-12-10 14:00:00 in Shanghai. */
#define TWO_PM (G_GINT64_CONSTANT (1796882400) * G_USEC_PER_SEC)
#define AT(s) (TWO_PM + (gint64) (s) * G_USEC_PER_SEC)

#define PASSWORD "pw-7f3a9c"

/* A talk of two minutes. */
static const char timetable[]
    = "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\nX-WR-CALNAME:报告会频道\n"
      "X-KETANG-CHANNEL:9\n"
      "BEGIN:VEVENT\nUID:talk\nSUMMARY:教室直播\nORGANIZER;CN=李教授:mailto:l@x\n"
      "DTSTART:20261210T140000\nDTEND:20261210T140200\nX-KETANG-SOURCE:live:talk-a\nEND:VEVENT\n"
      "END:VCALENDAR\n";

/* The simulated camera's streams; pay0 and pay1 are the names
 * gst-rtsp-server looks for. */
static const char camera_with_sound[]
    = "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=180,framerate=25/1 "
      "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 bitrate=300 "
      "! rtph264pay name=pay0 pt=96 config-interval=1 "
      "audiotestsrc is-live=true samplesperbuffer=960 ! audio/x-raw,rate=48000,channels=2 "
      "! avenc_aac ! rtpmp4gpay name=pay1 pt=97 )";
static const char camera_without_sound[]
    = "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=180,framerate=25/1 "
      "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 bitrate=300 "
      "! rtph264pay name=pay0 pt=96 config-interval=1 )";

typedef struct {
  char *data_dir;
  KtApp *app;
  GstRTSPServer *camera;
  guint camera_source;
  guint camera_port;
  gint64 followed; /* monotonic time the fake clock last caught up with */
  guint password_logged;
  guint silence_logged; /* "camera has no sound" messages */
  guint log_handlers[2];
} Fixture;

/* Every message of ketang's live and config modules, debug ones too,
 * passes here: none may hold the camera's password. */
static void
on_log (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  Fixture *f = data;
  if (strstr (message, PASSWORD) != NULL) {
    f->password_logged++;
    g_printerr ("password in a log message: %s\n", message);
  }
  if (strstr (message, "camera has no sound") != NULL)
    f->silence_logged++;
  g_log_default_handler (domain, level, message, NULL);
}


/* The camera serves @launch at /cam (again, after camera_stop). */
static void
camera_serve (Fixture *f, const char *launch)
{
  GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new ();
  gst_rtsp_media_factory_set_launch (factory, launch);
  gst_rtsp_media_factory_set_shared (factory, TRUE);
  g_autoptr (GstRTSPMountPoints) mounts = gst_rtsp_server_get_mount_points (f->camera);
  gst_rtsp_mount_points_add_factory (mounts, "/cam", factory);
}

static GstRTSPFilterResult
remove_client (GstRTSPServer *server, GstRTSPClient *client, gpointer unused)
{
  return GST_RTSP_FILTER_REMOVE;
}

/* The camera stops: its stream is gone and its connections are closed, as
 * when it loses power or its network. */
static void
camera_stop (Fixture *f)
{
  g_autoptr (GstRTSPMountPoints) mounts = gst_rtsp_server_get_mount_points (f->camera);
  gst_rtsp_mount_points_remove_factory (mounts, "/cam");
  g_list_free_full (gst_rtsp_server_client_filter (f->camera, remove_client, NULL), g_object_unref);
}

/* Connections to the camera. */
static guint
camera_clients (Fixture *f)
{
  GList *clients = gst_rtsp_server_client_filter (f->camera, NULL, NULL);
  guint n = g_list_length (clients);
  g_list_free_full (clients, g_object_unref);
  return n;
}

static void
fixture_set_up (Fixture *f, gconstpointer launch)
{
  kt_clock_set_fake (AT (30));
  f->followed = g_get_monotonic_time ();
  f->log_handlers[0] = g_log_set_handler ("kt-live", G_LOG_LEVEL_MASK, on_log, f);
  f->log_handlers[1] = g_log_set_handler ("kt-config", G_LOG_LEVEL_MASK, on_log, f);
  f->data_dir = kt_test_mkdtemp ();
  g_autofree char *schedules = g_build_filename (f->data_dir, "schedules", NULL);
  g_mkdir_with_parents (schedules, 0755);
  g_autofree char *path = g_build_filename (schedules, "9.ics", NULL);
  g_assert_true (g_file_set_contents (path, timetable, -1, NULL));

  if (launch != NULL) {
    f->camera = gst_rtsp_server_new ();
    gst_rtsp_server_set_address (f->camera, "127.0.0.1");
    gst_rtsp_server_set_service (f->camera, "0");
    camera_serve (f, launch);
    f->camera_source = gst_rtsp_server_attach (f->camera, NULL);
    g_assert_cmpuint (f->camera_source, !=, 0);
    f->camera_port = gst_rtsp_server_get_bound_port (f->camera);
  } else {
    f->camera_port = kt_test_free_port (G_SOCKET_TYPE_STREAM); /* nobody listens there */
  }
  /* Cameras take a password in the URL; this one asks for none, so the
   * password is only there to be kept out of the logs. */
  g_autofree char *camera = g_strdup_printf (
      "rtsp.talk-a.url=rtsp://admin:" PASSWORD "@127.0.0.1:%u/cam", f->camera_port);
  const char *settings[] = { camera, NULL };
  f->app = kt_test_app_start (f->data_dir, FALSE, settings);
}

static void
fixture_tear_down (Fixture *f, gconstpointer unused)
{
  kt_app_free (f->app);
  if (f->camera) {
    camera_stop (f);
    g_source_remove (f->camera_source);
    g_object_unref (f->camera);
  }
  kt_test_rmtree (f->data_dir);
  g_free (f->data_dir);
  kt_clock_use_real ();
  g_log_remove_handler ("kt-live", f->log_handlers[0]);
  g_log_remove_handler ("kt-config", f->log_handlers[1]);
  g_assert_cmpuint (f->password_logged, ==, 0);
}

/* Run the server (and the camera), the fake clock following real time,
 * until @done says so or @seconds pass; FALSE on the timeout. */
static gboolean
follow_until (Fixture *f, gboolean (*done) (Fixture *f, gpointer unused), double seconds)
{
  return kt_test_follow_clock (&f->followed, (KtTestDone) done, f, NULL, seconds);
}

/* The newest entry of channel 9's 720p playlist. (transfer full) */
static char *
newest_uri (Fixture *f)
{
  g_autoptr (KtTestResponse) r = kt_test_get (f->app, "/live/9/720p/index.m3u8");
  g_assert_cmpuint (r->status, ==, 200);
  g_autofree char *text = kt_test_body_text (r);
  g_auto (KtTestPlaylist) p = { 0 };
  kt_test_playlist_parse (text, &p);
  g_assert_cmpuint (p.uris->len, >, 0);
  return g_strdup (p.uris->pdata[p.uris->len - 1]);
}

static gboolean
newest_is_live (Fixture *f, gpointer unused)
{
  g_autofree char *uri = newest_uri (f);
  return g_str_has_prefix (uri, "/media/live-");
}

static gboolean
newest_is_slate (Fixture *f, gpointer unused)
{
  g_autofree char *uri = newest_uri (f);
  return g_str_has_prefix (uri, "/media/slate-");
}

static gboolean
camera_let_go (Fixture *f, gpointer unused)
{
  return camera_clients (f) == 0;
}

/* The item id in "/media/<item>/<rendition>/<n>.ts". (transfer full) */
static char *
item_of (const char *uri)
{
  g_auto (GStrv) parts = g_strsplit (uri, "/", -1);
  return g_strdup (parts[2]);
}

/* The newest segment is the camera's picture in the house format, with
 * sound; the item it belongs to. (transfer full) */
static char *
assert_newest_is_camera (Fixture *f)
{
  g_autofree char *uri = newest_uri (f);
  g_autoptr (KtTestResponse) seg = kt_test_get (f->app, uri);
  g_assert_cmpuint (seg->status, ==, 200);
  KtTestDecoded decoded;
  kt_test_decode (seg->body, &decoded);
  g_assert_cmpstr (decoded.container, ==, "video/mpegts");
  g_assert_cmpint (decoded.width, ==, 1280); /* 320x180 from the camera */
  g_assert_cmpint (decoded.height, ==, 720);
  g_assert_cmpuint (decoded.video_frames, ==, 50);
  g_test_message ("%s audio_buffers=%u", uri, decoded.audio_buffers);
  g_assert_cmpuint (decoded.audio_buffers, >, 0);
  kt_test_decoded_clear (&decoded);
  return item_of (uri);
}

static int
count_events (Fixture *f, const char *kind, const char *like)
{
  sqlite3_stmt *stmt = kt_store_prepare (
      kt_app_store (f->app),
      "SELECT count(*) FROM live_events WHERE input = 'talk-a' AND kind = ? AND message LIKE ?",
      NULL);
  sqlite3_bind_text (stmt, 1, kind, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, like, -1, SQLITE_STATIC);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  int n = sqlite3_column_int (stmt, 0);
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  return n;
}

/* A browser's WHIP offer cut to what kt-live-whip accepts: H.264 and Opus. */
static const char whip_offer[]
    = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
      "m=video 9 UDP/TLS/RTP/SAVPF 102\r\nc=IN IP4 0.0.0.0\r\n"
      "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
      "a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD:"
      "B9:B1:3F:82:18:3B:54:02:12:DF\r\na=setup:actpass\r\na=mid:0\r\na=sendonly\r\na=rtcp-mux\r\n"
      "a=rtpmap:102 H264/90000\r\n"
      "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
      "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
      "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
      "a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD:"
      "B9:B1:3F:82:18:3B:54:02:12:DF\r\na=setup:actpass\r\na=mid:1\r\na=sendonly\r\na=rtcp-mux\r\n"
      "a=rtpmap:111 opus/48000/2\r\n";

static void
test_camera_live_drop_back_recording (Fixture *f, gconstpointer unused)
{
  kt_test_wait_on_air (f->app, "9");

  /* Nobody publishes: the camera is pulled and the talk goes on air. */
  gint64 t0 = g_get_monotonic_time ();
  g_assert_true (follow_until (f, newest_is_live, 30));
  g_test_message ("on air from the camera after %.1f s",
                  (g_get_monotonic_time () - t0) / (double)G_USEC_PER_SEC);
  g_autofree char *recording = assert_newest_is_camera (f);
  g_assert_cmpint (count_events (f, "live", "camera"), ==, 1);

  /* A teacher publishing the same talk meanwhile is told it is busy. */
  g_auto (KtTestSession) teacher = { 0 };
  kt_test_session_open (f->app, "li", "teacher", &teacher);
  g_autoptr (KtTestResponse) busy = kt_test_request_as (
      f->app, &teacher, "POST", "/api/live/whip/talk-a", "application/sdp", whip_offer);
  kt_test_assert_error (busy, 409, "busy", "摄像机");
  g_assert_true (newest_is_live (f, NULL));

  /* The camera stops: the channel airs the slate. */
  camera_stop (f);
  t0 = g_get_monotonic_time ();
  g_assert_true (follow_until (f, newest_is_slate, 20));
  g_test_message ("slate %.1f s after the camera stopped",
                  (g_get_monotonic_time () - t0) / (double)G_USEC_PER_SEC);
  follow_until (f, NULL, 6); /* a retry or two that find no camera */
  g_assert_true (newest_is_slate (f, NULL));

  /* It comes back: live again within the retry interval (5 s) and the time
   * a connection takes to its first segment, in the same recording. */
  camera_serve (f, camera_with_sound);
  t0 = g_get_monotonic_time ();
  g_assert_true (follow_until (f, newest_is_live, 25));
  g_test_message ("live again %.1f s after the camera came back",
                  (g_get_monotonic_time () - t0) / (double)G_USEC_PER_SEC);
  g_autofree char *same = assert_newest_is_camera (f);
  g_assert_cmpstr (same, ==, recording);
  g_assert_cmpint (count_events (f, "dropped", "%"), >=, 1);

  /* The lesson ends: the camera is let go, and the recording is a ready
   * library item of what aired. */
  g_autoptr (KtItem) growing = kt_library_get (kt_app_library (f->app), recording);
  g_assert_cmpint (growing->state, ==, KT_ITEM_PROCESSING);
  kt_clock_advance (AT (120) + 2 * G_USEC_PER_SEC - kt_clock_now_us ());
  f->followed = g_get_monotonic_time ();
  g_assert_true (follow_until (f, camera_let_go, 10));
  g_autoptr (KtItem) item = kt_library_get (kt_app_library (f->app), recording);
  g_assert_cmpint (item->state, ==, KT_ITEM_READY);
  g_assert_cmpuint (item->segment_count, >=, growing->segment_count);
  g_assert_cmpuint (item->segment_count, >=, 2); /* one of each connection at least */
  g_assert_cmpstr (item->kind, ==, "live");
  g_assert_cmpstr (item->title, ==, "教室直播");
  g_autofree char *vod = g_strdup_printf ("/watch/%s/720p/index.m3u8", recording);
  g_autoptr (KtTestResponse) replay = kt_test_get (f->app, vod);
  g_assert_cmpuint (replay->status, ==, 200);
  g_autofree char *text = kt_test_body_text (replay);
  g_auto (KtTestPlaylist) p = { 0 };
  kt_test_playlist_parse (text, &p);
  g_assert_cmpuint (p.uris->len, ==, item->segment_count);

  /* And it stays let go: the talk is over. */
  follow_until (f, NULL, 6);
  g_assert_cmpuint (camera_clients (f), ==, 0);
}

/* A camera nobody answers for: the channel stays on its slate, the server
 * serves, and the administrator reads one event, not one per retry. */
static void
test_camera_not_answering (Fixture *f, gconstpointer unused)
{
  kt_test_wait_on_air (f->app, "9");
  g_assert_true (follow_until (f, newest_is_slate, 10));
  follow_until (f, NULL, 12); /* two retries at least */
  g_assert_true (newest_is_slate (f, NULL));
  g_autoptr (KtTestResponse) h = kt_test_get (f->app, "/healthz");
  g_assert_cmpuint (h->status, ==, 200);
  g_assert_cmpint (count_events (f, "refused", "%摄像机%"), ==, 1);
  g_assert_cmpint (count_events (f, "refused", "%" PASSWORD "%"), ==, 0);
}

/* A camera with no microphone: every rendition of the house format carries
 * sound, so it airs its picture with silence, starting with the picture,
 * and the log and live_events say why the talk is silent, once. (Regression:
 * the silence used to stall the pipeline, behind the idle audio decoder,
 * so such a camera was refused instead.) */
static void
test_camera_without_sound (Fixture *f, gconstpointer unused)
{
  kt_test_wait_on_air (f->app, "9");
  gint64 t0 = g_get_monotonic_time ();
  g_assert_true (follow_until (f, newest_is_live, 30));
  g_test_message ("on air from the silent camera after %.1f s",
                  (g_get_monotonic_time () - t0) / (double)G_USEC_PER_SEC);
  assert_newest_is_camera (f);
  g_assert_cmpint (count_events (f, "refused", "%"), ==, 0);
  g_assert_cmpuint (f->silence_logged, >=, 1);
  g_assert_cmpint (count_events (f, "silent", "%没有提供声音%静音%"), ==, 1);

  /* Sound and picture start together in the segment, and the other
   * renditions carry the silence too. */
  g_autofree char *uri = newest_uri (f);
  g_autoptr (KtTestResponse) seg = kt_test_get (f->app, uri);
  GstClockTime first_video, first_audio;
  kt_test_ts_first_pts (seg->body, &first_video, &first_audio);
  g_assert_true (GST_CLOCK_TIME_IS_VALID (first_audio));
  g_test_message ("first audio %+.3f s from the first picture",
                  GST_CLOCK_DIFF (first_video, first_audio) / (double)GST_SECOND);
  g_assert_cmpint (ABS (GST_CLOCK_DIFF (first_audio, first_video)), <, 100 * GST_MSECOND);
  const char *others[] = { "/360p/", "/audio/" };
  for (guint i = 0; i < G_N_ELEMENTS (others); i++) {
    GString *other = g_string_new (uri);
    g_string_replace (other, "/720p/", others[i], 1);
    g_autofree char *other_uri = g_string_free (other, FALSE);
    g_autoptr (KtTestResponse) r = kt_test_get (f->app, other_uri);
    g_assert_cmpuint (r->status, ==, 200);
    KtTestDecoded decoded;
    kt_test_decode (r->body, &decoded);
    g_test_message ("%s audio_buffers=%u", other_uri, decoded.audio_buffers);
    g_assert_cmpuint (decoded.audio_buffers, >, 0);
    kt_test_decoded_clear (&decoded);
  }
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  /* A camera that fails is a warning for the operator, expected here. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_test_add ("/rtsp/camera-live-drop-back-recording", Fixture, camera_with_sound, fixture_set_up,
              test_camera_live_drop_back_recording, fixture_tear_down);
  g_test_add ("/rtsp/camera-not-answering", Fixture, NULL, fixture_set_up,
              test_camera_not_answering, fixture_tear_down);
  g_test_add ("/rtsp/camera-without-sound", Fixture, camera_without_sound, fixture_set_up,
              test_camera_without_sound, fixture_tear_down);
  return g_test_run ();
}
