/* Bad media through the real upload API of the real `ketang serve`, while a
 * channel is on air: each file is refused with a sentence a teacher can act
 * on (in Chinese), or normalized into the house format, and after every one
 * the channel still serves its playlist and segments.
 *
 * test-probe covers the probe's verdict on each kind of file in-process and
 * test-normalize what the library leaves behind; this test is the teacher's
 * side of it. The corpus is made here: the kinds kt_test_make_bad_upload
 * knows (truncated, random bytes named .mp4, a text file), a zero-length
 * file (refused before a byte is sent), a valid MP4 whose video codec no
 * decoder knows (its sample entry renamed), a picture 9000 pixels wide, a
 * container whose video data is garbage behind an intact index, and a
 * variable-frame-rate phone clip (30 fps, then 10 fps, rotated), which must
 * come out upright at 25 fps. */
#define _GNU_SOURCE /* memmem */
#include <string.h>

#include <glib/gstdio.h>
#include <signal.h>

#include "kt-probe.h"
#include "test-utils.h"

static char *dir;
static KtTestServer server;
static KtTestSession teacher;

static KtTestResponse *
get (const char *path)
{
  g_autofree char *url = g_strconcat (server.base, path, NULL);
  const char *auth[] = { "Cookie", teacher.cookie, NULL };
  return kt_test_request_url ("GET", url, auth, NULL, NULL, 0);
}

/* Channel 7 answers its playlist and the newest segment in it. */
static void
assert_channel_serves (void)
{
  g_autoptr (KtTestResponse) playlist = get ("/live/7/720p/index.m3u8");
  g_assert_cmpuint (playlist->status, ==, 200);
  g_autofree char *text = kt_test_body_text (playlist);
  KtTestPlaylist pl;
  kt_test_playlist_parse (text, &pl);
  g_assert_cmpuint (pl.uris->len, >, 0);
  const char *uri = g_ptr_array_index (pl.uris, pl.uris->len - 1);
  g_autoptr (GUri) base = g_uri_parse (server.base, G_URI_FLAGS_NONE, NULL);
  g_autoptr (GUri) playlist_uri = g_uri_parse_relative (base, "/live/7/720p/index.m3u8",
                                                        G_URI_FLAGS_NONE, NULL);
  g_autoptr (GUri) seg = g_uri_parse_relative (playlist_uri, uri, G_URI_FLAGS_NONE, NULL);
  g_autoptr (KtTestResponse) segment = get (g_uri_get_path (seg));
  g_assert_cmpuint (segment->status, ==, 200);
  g_assert_cmpuint (g_bytes_get_size (segment->body), >, 1000);
  kt_test_playlist_clear (&pl);
}

/* Upload @path; NULL when it was accepted (the item id in @item), else the
 * teacher's sentence. */
static char *
upload (const char *path, char **item)
{
  g_autoptr (KtTestResponse) r = kt_test_server_upload (&server, &teacher, path, "测试");
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = kt_test_json_object (r, parser);
  if (r->status != 200) { /* refused when it was announced */
    g_assert_cmpuint (r->status, ==, 400);
    return g_strdup (json_object_get_string_member (json_object_get_object_member (o, "error"),
                                                    "message"));
  }
  const char *state = json_object_get_string_member (o, "state");
  if (g_str_equal (state, "refused"))
    return g_strdup (json_object_get_string_member (o, "error"));
  g_assert_cmpstr (state, ==, "imported");
  *item = g_strdup (json_object_get_string_member (o, "item"));
  return NULL;
}

/* Wait (bounded) for the item's normalization to end; its library entry. */
static JsonObject *
wait_done (const char *item, JsonParser *parser)
{
  g_autofree char *path = g_strdup_printf ("/api/library/%s", item);
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  for (;;) {
    g_autoptr (KtTestResponse) r = get (path);
    g_assert_cmpuint (r->status, ==, 200);
    JsonObject *o = kt_test_json_object (r, parser);
    if (!g_str_equal (json_object_get_string_member (o, "state"), "processing"))
      return o;
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_usleep (100000);
  }
}

/* @path is refused (at once, or when its normalization finds it cannot be
 * read) with a sentence that starts with @expected. */
static void
expect_refused (const char *path, const char *expected)
{
  g_autofree char *item = NULL;
  g_autofree char *why = upload (path, &item);
  if (why == NULL) {
    g_autoptr (JsonParser) parser = json_parser_new ();
    JsonObject *o = wait_done (item, parser);
    g_assert_cmpstr (json_object_get_string_member (o, "state"), ==, "failed");
    why = g_strdup (json_object_get_string_member (o, "error"));
  }
  g_test_message ("%s: %s", path, why);
  if (!g_str_has_prefix (why, expected))
    g_error ("%s refused with “%s”, expected “%s…”", path, why, expected);
  assert_channel_serves ();
}

/* Replace the first @from in the file at @path by @to (as long). */
static void
patch_bytes (const char *path, const char *from, const char *to, gsize len)
{
  g_autofree char *data = NULL;
  gsize size;
  g_assert_true (g_file_get_contents (path, &data, &size, NULL));
  char *at = memmem (data, size, from, len);
  g_assert_nonnull (at);
  memcpy (at, to, len);
  g_assert_true (g_file_set_contents (path, data, size, NULL));
}

static const char *unreadable = "文件不完整或已损坏";
static const char *not_media = "这个文件不是视频或音频";

static void
test_refused (void)
{
  for (const KtTestBadUpload *bad = kt_test_bad_uploads; bad->kind; bad++) {
    g_autofree char *path = kt_test_make_bad_upload (dir, bad->kind);
    const char *expected = bad->code == KT_PROBE_ERROR_NOT_MEDIA ? not_media : unreadable;
    if (g_str_equal (bad->kind, "empty"))
      expected = "文件是空的";
    expect_refused (path, expected);
  }
  g_autofree char *cut = kt_test_make_bad_upload (dir, "cut-after-index");
  expect_refused (cut, unreadable);

  /* A valid container whose video codec nothing decodes. */
  g_autofree char *odd = kt_test_make_clip (dir, "odd-codec.mp4", "320x240@25", NULL, 2);
  patch_bytes (odd, "avc1", "kt00", 4);
  expect_refused (odd, "文件的编码格式本系统无法解码");

  /* Garbage where the pictures should be, behind an intact index: the
   * decoder finds nothing it can use. */
  g_autofree char *garbage = kt_test_make_clip_full (dir, "garbage.mp4", "320x240@25", NULL, 2, TRUE);
  {
    g_autofree char *data = NULL;
    gsize size;
    g_assert_true (g_file_get_contents (garbage, &data, &size, NULL));
    char *mdat = memmem (data, size, "mdat", 4);
    g_assert_nonnull (mdat);
    g_autoptr (GRand) rand = g_rand_new_with_seed (8);
    for (char *p = mdat + 4; p < data + size; p++)
      *p = (char) g_rand_int_range (rand, 0, 256);
    g_assert_true (g_file_set_contents (garbage, data, size, NULL));
  }
  g_autofree char *item = NULL;
  g_autofree char *why = upload (garbage, &item);
  if (why == NULL) {
    /* Accepted by the probe (its index is fine): it fails, in words. */
    g_autoptr (JsonParser) parser = json_parser_new ();
    JsonObject *o = wait_done (item, parser);
    const char *state = json_object_get_string_member (o, "state");
    g_test_message ("garbage video: %s %s", state,
                    json_object_get_string_member (o, "error") ?: "");
    if (g_str_equal (state, "failed"))
      g_assert_true (g_str_has_prefix (json_object_get_string_member (o, "error"), unreadable));
    else
      g_assert_cmpstr (state, ==, "ready"); /* concealed into pictures, at house size */
  } else {
    g_test_message ("garbage video refused: %s", why);
    g_assert_true (g_str_has_prefix (why, unreadable));
  }
  assert_channel_serves ();

  /* A picture 9000 pixels wide. */
  g_autofree char *huge = kt_test_make_clip (dir, "huge.mp4", "9000x64@25", NULL, 2);
  expect_refused (huge, "视频的画面太大或时间太长");
}

/* A phone's variable frame rate: 30 fps for a second, then 10 fps, turned
 * on its side. It comes out upright at 25 fps, every segment full. */
static void
test_variable_frame_rate (void)
{
  if (!kt_test_have_ffmpeg ()) {
    g_test_skip ("no ffmpeg to make a variable-frame-rate clip");
    return;
  }
  g_autofree char *path = g_build_filename (dir, "phone-vfr.mp4", NULL);
  KtTestRun run;
  kt_test_run (&run, (const char *[]){ "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                                       "testsrc=size=640x360:rate=30", "-f", "lavfi", "-i",
                                       "sine=frequency=440:sample_rate=44100", "-t", "4", "-vf",
                                       "select='lt(n\\,30)+not(mod(n\\,3))'", "-fps_mode", "vfr",
                                       "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
                                       "-metadata:s:v", "rotate=90", path, NULL },
               NULL);
  if (run.status != 0)
    g_error ("ffmpeg: %s", run.err);
  kt_test_run_clear (&run);

  g_autofree char *item = NULL;
  g_autofree char *why = upload (path, &item);
  if (why != NULL)
    g_error ("a phone clip was refused: %s", why);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = wait_done (item, parser);
  g_assert_cmpstr (json_object_get_string_member (o, "state"), ==, "ready");
  g_assert_cmpfloat (json_object_get_double_member (o, "duration_s"), ==, 4.0);
  for (guint k = 0; k < 2; k++) {
    g_autofree char *seg = g_strdup_printf ("/media/%s/720p/%u.ts", item, k);
    g_autoptr (KtTestResponse) s = get (seg);
    g_assert_cmpuint (s->status, ==, 200);
    KtTestDecoded d;
    kt_test_decode (s->body, &d);
    g_assert_cmpint (d.width, ==, 1280);
    g_assert_cmpuint (d.video_frames, ==, 50); /* 2 s at 25 fps, however the source ran */
    kt_test_decoded_clear (&d);
  }
  assert_channel_serves ();
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  dir = kt_test_mkdtemp ();
  g_autofree char *schedules = g_build_filename (dir, "schedules", NULL);
  g_assert_cmpint (g_mkdir_with_parents (schedules, 0755), ==, 0);
  /* Channel 7 airs a card all along (its item is missing): something on
   * air that the uploads must not disturb. */
  g_autoptr (GDateTime) t = g_date_time_new_from_unix_utc (g_get_real_time () / G_USEC_PER_SEC - 60);
  g_autofree char *dtstart = g_date_time_format (t, "%Y%m%dT%H%M%SZ");
  g_autofree char *ics = g_strdup_printf (
      "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\nX-KETANG-CHANNEL:7\nBEGIN:VEVENT\n"
      "UID:bad\nSUMMARY:书法\nDTSTART:%s\nDURATION:PT2H\nX-KETANG-SOURCE:item:missing\n"
      "END:VEVENT\nEND:VCALENDAR\n", dtstart);
  g_autofree char *ics_path = g_build_filename (schedules, "7.ics", NULL);
  g_assert_true (g_file_set_contents (ics_path, ics, -1, NULL));
  kt_test_user_add_cli (dir, "wang", "teacher");

  g_autofree char *env_schedules = g_strconcat ("KETANG_SERVER_SCHEDULES_DIR=", schedules, NULL);
  const char *env[] = { env_schedules, NULL };
  kt_test_server_start (&server, dir, env);
  kt_test_server_login (&server, "wang", "wang-password", &teacher);
  /* On air once its card is made (a bounded wait for a real process). */
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  for (;;) {
    g_autoptr (KtTestResponse) r = get ("/live/7/720p/index.m3u8");
    if (r->status == 200)
      break;
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_usleep (200000);
  }

  g_test_add_func ("/bad-media/refused", test_refused);
  g_test_add_func ("/bad-media/variable-frame-rate", test_variable_frame_rate);
  int rc = g_test_run ();
  int status = kt_test_server_stop (&server, SIGTERM);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0); /* it never fell over */
  kt_test_session_clear (&teacher);
  kt_test_rmtree (dir);
  return rc;
}
