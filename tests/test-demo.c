/* End to end: `serve --demo` in process on a real port. The demo lesson is
 * rendered by its real pipeline, normalized into the house format, and
 * aired by playlist assembly; the test fetches the master playlist, every
 * variant and segment, decodes them with GStreamer, and moves an injected
 * clock to watch the live window slide and the loop restart. */
#include <json-glib/json-glib.h>

#include "kt-clock.h"
#include "test-utils.h"

#define DEMO_SEGMENTS 3

static char *data_dir;
static KtApp *app;

static char *
get_text (const char *path, guint expect_status)
{
  g_autoptr (KtTestResponse) r = kt_test_get (app, path);
  if (r->status != expect_status)
    g_error ("GET %s: %u, expected %u", path, r->status, expect_status);
  return kt_test_body_text (r);
}

static GPtrArray *
playlist_uris (const char *text)
{
  GPtrArray *uris = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (int i = 0; lines[i]; i++)
    if (lines[i][0] != '#' && lines[i][0] != '\0')
      g_ptr_array_add (uris, g_strdup (lines[i]));
  return uris;
}

static guint64
media_sequence (const char *text)
{
  const char *p = strstr (text, "#EXT-X-MEDIA-SEQUENCE:");
  g_assert_nonnull (p);
  return g_ascii_strtoull (p + 22, NULL, 10);
}

static void
test_channel_api_says_on_air (void)
{
  g_autofree char *text = get_text ("/api/channels", 200);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  JsonArray *channels = json_object_get_array_member (
      json_node_get_object (json_parser_get_root (parser)), "channels");
  JsonObject *ch = json_array_get_object_element (channels, 0);
  g_assert_cmpstr (json_object_get_string_member (ch, "id"), ==, "1");
  g_assert_cmpstr (json_object_get_string_member (ch, "state"), ==, "on-air");
  JsonObject *now = json_object_get_object_member (ch, "now");
  g_assert_cmpstr (json_object_get_string_member (now, "title"), ==, "示范课：太极拳入门");
  double offset = json_object_get_double_member (now, "offset_s");
  g_assert_cmpfloat (offset, >=, 0);
  g_assert_cmpfloat (offset, <, DEMO_SEGMENTS * 2);
}

/* Every rendition of every segment decodes, at the right size, and segment k
 * starts at the same instant in every rendition. */
static void
test_segments_decode_and_align (void)
{
  g_autofree char *master = get_text ("/live/1/index.m3u8", 200);
  g_autoptr (GPtrArray) variants = playlist_uris (master);
  g_assert_cmpuint (variants->len, ==, 3);

  const char *item = kt_app_demo_item_id (app);
  GstClockTime starts[DEMO_SEGMENTS][3];
  for (guint v = 0; v < variants->len; v++) {
    const KtRendition *r = &kt_renditions[v];
    g_autofree char *expected = g_strdup_printf ("%s/index.m3u8", r->name);
    g_assert_cmpstr (variants->pdata[v], ==, expected);

    g_autofree char *path = g_strdup_printf ("/live/1/%s", (char *) variants->pdata[v]);
    g_autoptr (KtTestResponse) playlist = kt_test_get (app, path);
    g_assert_cmpuint (playlist->status, ==, 200);
    g_assert_cmpstr (soup_message_headers_get_one (playlist->headers, "Content-Type"), ==,
                     "application/vnd.apple.mpegurl");
    g_assert_cmpstr (soup_message_headers_get_one (playlist->headers, "Cache-Control"), ==,
                     "public, max-age=1");
    g_autofree char *text = kt_test_body_text (playlist);
    g_assert_nonnull (strstr (text, "#EXT-X-TARGETDURATION:2\n"));
    g_autoptr (GPtrArray) uris = playlist_uris (text);
    g_assert_cmpuint (uris->len, ==, 6);
    g_autofree char *prefix = g_strdup_printf ("/media/%s/%s/", item, r->name);
    for (guint i = 0; i < uris->len; i++)
      g_assert_true (g_str_has_prefix (uris->pdata[i], prefix));

    for (guint k = 0; k < DEMO_SEGMENTS; k++) {
      g_autofree char *seg = g_strdup_printf ("%s%u.ts", prefix, k);
      g_autoptr (KtTestResponse) s = kt_test_get (app, seg);
      g_assert_cmpuint (s->status, ==, 200);
      g_assert_cmpstr (soup_message_headers_get_one (s->headers, "Content-Type"), ==, "video/mp2t");
      g_assert_cmpstr (soup_message_headers_get_one (s->headers, "Cache-Control"), ==,
                       "public, max-age=31536000, immutable");
      KtTestDecoded d;
      kt_test_decode (s->body, &d);
      g_assert_cmpstr (d.container, ==, "video/mpegts");
      g_assert_cmpuint (d.audio_buffers, >, 80); /* 2 s of 21.3 ms AAC frames */
      GstClockTime video_pts, audio_pts;
      kt_test_ts_first_pts (s->body, &video_pts, &audio_pts);
      g_assert_true (GST_CLOCK_TIME_IS_VALID (audio_pts));
      if (r->width > 0) {
        g_assert_cmpint (d.width, ==, r->width);
        g_assert_cmpint (d.height, ==, r->height);
        g_assert_cmpuint (d.video_frames, ==, 50); /* 2 s at 25 fps */
        starts[k][v] = video_pts;
      } else {
        g_assert_cmpuint (d.video_frames, ==, 0);
        starts[k][v] = audio_pts;
      }
      g_assert_true (GST_CLOCK_TIME_IS_VALID (starts[k][v]));
      kt_test_decoded_clear (&d);
    }
    /* Beyond the item: 404. */
    g_autofree char *past = g_strdup_printf ("%s%u.ts", prefix, DEMO_SEGMENTS);
    g_autoptr (KtTestResponse) gone = kt_test_get (app, past);
    g_assert_cmpuint (gone->status, ==, 404);
  }
  for (guint k = 0; k < DEMO_SEGMENTS; k++) {
    g_assert_cmpuint (starts[k][0], ==, starts[k][1]); /* 720p and 360p: the same frame */
    GstClockTimeDiff audio_skew = GST_CLOCK_DIFF (starts[k][0], starts[k][2]);
    g_assert_cmpint (ABS (audio_skew), <=, 25 * GST_MSECOND); /* within one AAC frame */
    if (k > 0)
      g_assert_cmpuint (starts[k][0] - starts[k - 1][0], ==, 2 * GST_SECOND);
  }
}

/* With the clock injected: the window slides one segment per 2 s, the media
 * sequence grows by one, and the loop restart carries a discontinuity. */
static void
test_live_window_moves_with_clock (void)
{
  /* A loop of 3 segments (6 s) starts at every multiple of 6 s. */
  gint64 t0 = G_GINT64_CONSTANT (1796000400) * KT_USEC_PER_SEC; /* a multiple of 6 s */
  kt_clock_set_fake (t0 + 100000);
  g_autofree char *first = get_text ("/live/1/720p/index.m3u8", 200);
  guint64 msn0 = media_sequence (first);
  g_assert_cmpuint (msn0, ==, t0 / (2 * KT_USEC_PER_SEC) - 5);
  g_autoptr (GPtrArray) u0 = playlist_uris (first);
  g_assert_true (g_str_has_suffix (u0->pdata[u0->len - 1], "/0.ts"));

  for (int step = 1; step <= 3; step++) {
    kt_clock_advance (2 * KT_USEC_PER_SEC);
    g_autofree char *text = get_text ("/live/1/720p/index.m3u8", 200);
    g_assert_cmpuint (media_sequence (text), ==, msn0 + step);
    g_autoptr (GPtrArray) uris = playlist_uris (text);
    g_autofree char *newest = g_strdup_printf ("/%d.ts", step % DEMO_SEGMENTS);
    g_assert_true (g_str_has_suffix (uris->pdata[uris->len - 1], newest));
    /* The newest segment after "2.ts" is "0.ts": a discontinuity before it. */
    if (step == 3)
      g_assert_nonnull (strstr (text, "#EXT-X-DISCONTINUITY\n"
                                      "#EXT-X-PROGRAM-DATE-TIME:2026-11-30T01:00:06.000Z\n"));
  }
  kt_clock_use_real ();
}

/* An independent HLS client, ffmpeg, plays each rendition of the live
 * channel through a loop restart without an error. From the oldest segment
 * of the window (12 s back), 10 s of a 6 s loop crosses a restart. */
static void
test_ffmpeg_plays_every_rendition (void)
{
  if (!kt_test_have_ffmpeg ()) {
    g_test_skip ("ffmpeg is not installed");
    return;
  }
  for (guint i = 0; i < kt_n_renditions; i++) {
    g_autofree char *path = g_strdup_printf ("/live/1/%s/index.m3u8", kt_renditions[i].name);
    kt_test_ffmpeg_reads (app, path, 10);
  }
}

/* Replay: the item as a VOD playlist of every segment, playable from start
 * to end by ffmpeg, and its metadata for the replay page. */
static void
test_replay_playlist (void)
{
  const char *item = kt_app_demo_item_id (app);
  g_autofree char *path = g_strdup_printf ("/watch/%s/360p/index.m3u8", item);
  g_autofree char *text = get_text (path, 200);
  g_assert_nonnull (strstr (text, "#EXT-X-PLAYLIST-TYPE:VOD\n"));
  g_assert_true (g_str_has_suffix (text, "#EXT-X-ENDLIST\n"));
  g_autoptr (GPtrArray) uris = playlist_uris (text);
  g_assert_cmpuint (uris->len, ==, DEMO_SEGMENTS);
  g_autofree char *last = g_strdup_printf ("/media/%s/360p/%u.ts", item, DEMO_SEGMENTS - 1);
  g_assert_cmpstr (uris->pdata[DEMO_SEGMENTS - 1], ==, last);

  g_autofree char *api = g_strdup_printf ("/api/items/%s", item);
  g_autofree char *json = get_text (api, 200);
  g_assert_nonnull (strstr (json, "\"title\":\"示范课：太极拳入门\""));
  g_assert_nonnull (strstr (json, "\"duration_s\":6"));
  g_autofree char *missing = get_text ("/watch/no-such-item/index.m3u8", 404);

  if (kt_test_have_ffmpeg ()) {
    g_autofree char *master = g_strdup_printf ("/watch/%s/index.m3u8", item);
    kt_test_ffmpeg_reads (app, master, DEMO_SEGMENTS * 2);
  }
}

/* A restart finds the item made and airs it at once, the same bytes at the
 * same instant: no render, no pipeline. */
static void
test_restart_airs_the_same (void)
{
  gint64 t = G_GINT64_CONSTANT (1796000433) * KT_USEC_PER_SEC;
  kt_clock_set_fake (t);
  g_autofree char *before = get_text ("/live/1/360p/index.m3u8", 200);
  g_autofree char *item = g_strdup (kt_app_demo_item_id (app));
  kt_app_free (app);

  const char *settings[] = { "demo.seconds=6", NULL };
  app = kt_test_app_start (data_dir, TRUE, settings);
  g_assert_cmpstr (kt_channel_state_name (kt_channel_state (kt_app_find_channel (app, "1"), kt_clock_now_us ())), ==,
                   "on-air");
  g_assert_cmpfloat (kt_library_job_progress (kt_app_library (app), item), <, 0); /* no job */
  g_autofree char *after = get_text ("/live/1/360p/index.m3u8", 200);
  g_assert_cmpstr (before, ==, after);
  kt_clock_use_real ();
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  data_dir = kt_test_mkdtemp ();
  const char *settings[] = { "demo.seconds=6", NULL };
  app = kt_test_app_start (data_dir, TRUE, settings);
  /* While it renders, the channel says so and players get 503, not 404. */
  g_autoptr (KtTestResponse) early = kt_test_get (app, "/live/1/720p/index.m3u8");
  g_assert_cmpuint (early->status, ==, 503);
  kt_test_wait_on_air (app, "1");

  g_test_add_func ("/demo/channel-api-says-on-air", test_channel_api_says_on_air);
  g_test_add_func ("/demo/segments-decode-and-align", test_segments_decode_and_align);
  g_test_add_func ("/demo/live-window-moves-with-clock", test_live_window_moves_with_clock);
  g_test_add_func ("/demo/ffmpeg-plays-every-rendition", test_ffmpeg_plays_every_rendition);
  g_test_add_func ("/demo/replay-playlist", test_replay_playlist);
  g_test_add_func ("/demo/restart-airs-the-same", test_restart_airs_the_same);
  int rc = g_test_run ();
  kt_app_free (app);
  kt_test_rmtree (data_dir);
  g_free (data_dir);
  return rc;
}
