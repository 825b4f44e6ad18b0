/* Publishing end to end, over HTTP as the teacher's pages do it: log in,
 * upload a real MP4 in chunks, see it refused or accepted, wait for its
 * normalization with progress in the library, check every rendition's
 * segments with GStreamer, edit it, put it on a channel's timetable and see
 * the calendar feed change, replay it with its poster picture; and the walls between accounts: a
 * teacher cannot see, edit or schedule another's lecture, an administrator
 * must confirm deleting a lecture that lessons still name. */
#include <json-glib/json-glib.h>

#include "kt-clock.h"
#include "kt-probe.h"
#include "test-utils.h"

#include <gst/video/video.h>

static char *data_dir;
static char *media_dir;
static KtApp *app;

/* Upload @path through the protocol in 64 KiB chunks; the final answer. */
static KtTestResponse *
upload (const KtTestSession *as, const char *path, const char *title)
{
  g_autofree char *data = NULL;
  gsize size;
  g_autoptr (GError) read_error = NULL;
  g_file_get_contents (path, &data, &size, &read_error);
  g_assert_no_error (read_error);
  g_autofree char *name = g_path_get_basename (path);
  g_autofree char *body = g_strdup_printf ("{\"filename\": \"%s\", \"title\": \"%s\", \"size\": %"
                                           G_GSIZE_FORMAT "}", name, title, size);
  g_autoptr (KtTestResponse) created = kt_test_request_as (app, as, "POST", "/api/uploads",
                                                           "application/json", body);
  g_assert_cmpuint (created->status, ==, 201);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree char *id = g_strdup (json_object_get_string_member (kt_test_json_object (created, parser), "id"));
  g_autofree char *url = g_strdup_printf ("/api/uploads/%s", id);
  KtTestResponse *last = NULL;
  for (gsize at = 0; at < size; at += 65536) {
    g_autofree char *offset = g_strdup_printf ("%" G_GSIZE_FORMAT, at);
    const char *headers[] = { "Cookie", as->cookie, "X-CSRF-Token", as->csrf, "Upload-Offset",
                              offset, NULL };
    g_clear_pointer (&last, kt_test_response_free);
    last = kt_test_request_bytes (app, "PATCH", url, headers, "application/offset+octet-stream",
                                  data + at, MIN (65536, size - at));
    g_assert_cmpuint (last->status, ==, 200);
  }
  return last;
}

/* Decode a JPEG with GStreamer: its size and the mean brightness of its
 * picture (0 black … 255 white). */
static void
decode_jpeg (GBytes *jpeg, int *width, int *height, double *mean_luma)
{
  g_autoptr (GstElement) pipeline = gst_parse_launch (
      "appsrc name=src ! jpegdec ! videoconvert ! video/x-raw,format=GRAY8 ! "
      "appsink name=sink sync=false", NULL);
  g_assert_nonnull (pipeline);
  g_autoptr (GstElement) src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  GstFlowReturn flow;
  g_signal_emit_by_name (src, "push-buffer", gst_buffer_new_wrapped_bytes (jpeg), &flow);
  g_signal_emit_by_name (src, "end-of-stream", &flow);
  GstSample *sample = NULL;
  g_signal_emit_by_name (sink, "pull-sample", &sample);
  g_assert_nonnull (sample);
  GstVideoInfo info;
  g_assert_true (gst_video_info_from_caps (&info, gst_sample_get_caps (sample)));
  *width = GST_VIDEO_INFO_WIDTH (&info);
  *height = GST_VIDEO_INFO_HEIGHT (&info);
  GstVideoFrame frame;
  g_assert_true (gst_video_frame_map (&frame, &info, gst_sample_get_buffer (sample), GST_MAP_READ));
  guint64 sum = 0;
  for (int y = 0; y < *height; y++) {
    const guint8 *row = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0) +
                        y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);
    for (int x = 0; x < *width; x++)
      sum += row[x];
  }
  *mean_luma = (double) sum / (*width * *height);
  gst_video_frame_unmap (&frame);
  gst_sample_unref (sample);
  gst_element_set_state (pipeline, GST_STATE_NULL);
}

static JsonObject *
library_item (const KtTestSession *as, const char *id, JsonParser *parser)
{
  g_autofree char *url = g_strdup_printf ("/api/library/%s", id);
  g_autoptr (KtTestResponse) r = kt_test_request_as (app, as, "GET", url, NULL, NULL);
  if (r->status != 200)
    return NULL;
  return kt_test_json_object (r, parser);
}

static void
test_publish (void)
{
  g_auto (KtTestSession) wang = { 0 };
  g_auto (KtTestSession) li = { 0 };
  g_auto (KtTestSession) admin = { 0 };
  kt_test_session_open (app, "wang", "teacher", &wang);
  kt_test_session_open (app, "li", "teacher", &li);
  kt_test_session_open (app, "admin", "admin", &admin);

  /* A corrupt file is refused with words for the teacher; nothing stays. */
  g_autofree char *bad = kt_test_make_bad_upload (media_dir, "truncated");
  g_autoptr (KtTestResponse) refused = upload (&wang, bad, "坏文件");
  g_autoptr (JsonParser) p1 = json_parser_new ();
  JsonObject *ro = kt_test_json_object (refused, p1);
  g_assert_cmpstr (json_object_get_string_member (ro, "state"), ==, "refused");
  g_assert_nonnull (strstr (json_object_get_string_member (ro, "error"), "文件"));
  g_assert_null (json_object_get_member (ro, "item") &&
                 !json_node_is_null (json_object_get_member (ro, "item"))
                     ? (gpointer) 1 : NULL);

  /* A good 5 s clip (4:3, 30 fps, mono) is accepted and normalized. */
  g_autofree char *clip = kt_test_make_clip (media_dir, "第一课.mp4", "320x240@30", "44100x1", 5);
  g_autoptr (KtTestResponse) accepted = upload (&wang, clip, "书法第一课");
  g_autoptr (JsonParser) p2 = json_parser_new ();
  JsonObject *ao = kt_test_json_object (accepted, p2);
  g_assert_cmpstr (json_object_get_string_member (ao, "state"), ==, "imported");
  g_autofree char *item = g_strdup (json_object_get_string_member (ao, "item"));
  g_assert_nonnull (item);

  /* Progress shows while it is prepared; it ends ready, 6 s long. */
  gboolean saw_processing = FALSE;
  gint64 deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  const char *state = NULL;
  for (;;) {
    g_autoptr (JsonParser) p = json_parser_new ();
    JsonObject *o = library_item (&wang, item, p);
    g_assert_nonnull (o);
    state = g_intern_string (json_object_get_string_member (o, "state"));
    if (state == g_intern_static_string ("processing"))
      saw_processing = TRUE;
    if (state != g_intern_static_string ("processing") || g_get_monotonic_time () > deadline) {
      g_assert_cmpfloat (json_object_get_double_member (o, "duration_s"), ==, 6.0);
      break;
    }
    /* Not a blocking iteration: the deadline must hold even if nothing
     * happens at all. */
    while (g_main_context_iteration (NULL, FALSE))
      ;
    g_usleep (20000);
  }
  g_assert_true (saw_processing);
  g_assert_cmpstr (state, ==, "ready");

  /* Every rendition's segments decode at the house sizes. */
  for (guint r = 0; r < kt_n_renditions; r++) {
    for (guint k = 0; k < 3; k++) {
      g_autofree char *seg = g_strdup_printf ("/media/%s/%s/%u.ts", item, kt_renditions[r].name, k);
      g_autoptr (KtTestResponse) s = kt_test_get (app, seg);
      g_assert_cmpuint (s->status, ==, 200);
      KtTestDecoded d;
      kt_test_decode (s->body, &d);
      g_assert_cmpint (d.width, ==, kt_renditions[r].width);
      g_assert_cmpuint (d.audio_buffers, >, 80);
      kt_test_decoded_clear (&d);
    }
  }

  /* Its poster appears in the library (made in the background): a small
   * picture of the lecture itself, not a black frame. */
  g_autofree char *poster = NULL;
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (poster == NULL && g_get_monotonic_time () < deadline) {
    g_autoptr (JsonParser) p = json_parser_new ();
    JsonObject *o = library_item (&wang, item, p);
    if (!json_node_is_null (json_object_get_member (o, "thumbnail")))
      poster = g_strdup (json_object_get_string_member (o, "thumbnail"));
    while (g_main_context_iteration (NULL, FALSE))
      ;
    g_usleep (20000);
  }
  g_assert_nonnull (poster);
  g_autofree char *expected_poster = g_strdup_printf ("/watch/%s/poster.jpg", item);
  g_assert_cmpstr (poster, ==, expected_poster);
  g_autoptr (KtTestResponse) picture = kt_test_get (app, poster);
  g_assert_cmpuint (picture->status, ==, 200);
  g_assert_cmpstr (soup_message_headers_get_content_type (picture->headers, NULL), ==, "image/jpeg");
  int pw, ph;
  double luma;
  decode_jpeg (picture->body, &pw, &ph, &luma);
  g_assert_cmpint (pw, ==, 320);
  g_assert_cmpint (ph, ==, 180);
  g_assert_cmpfloat (luma, >, 40.0); /* the clip's colour bars, bars at the sides */

  /* The walls: another teacher sees nothing of it. */
  g_autoptr (JsonParser) p3 = json_parser_new ();
  g_assert_null (library_item (&li, item, p3));
  g_autofree char *item_url = g_strdup_printf ("/api/library/%s", item);
  g_autoptr (KtTestResponse) li_edit = kt_test_request_as (app, &li, "PATCH", item_url,
                                                           "application/json", "{\"title\": \"x\"}");
  g_assert_cmpuint (li_edit->status, ==, 404);
  g_autoptr (KtTestResponse) li_list = kt_test_request_as (app, &li, "GET", "/api/library", NULL, NULL);
  g_autofree char *li_text = kt_test_body_text (li_list);
  g_assert_null (strstr (li_text, item));
  g_autofree char *lesson = g_strdup_printf (
      "{\"channel\": \"5\", \"item\": \"%s\", \"start\": \"2026-12-02T09:00\", "
      "\"weekly_until\": \"2026-12-30\"}", item);
  g_autoptr (KtTestResponse) li_schedule = kt_test_request_as (app, &li, "POST", "/api/lessons",
                                                               "application/json", lesson);
  g_assert_cmpuint (li_schedule->status, ==, 404);
  g_autoptr (KtTestResponse) teacher_delete = kt_test_request_as (app, &wang, "DELETE", item_url, NULL, NULL);
  g_assert_cmpuint (teacher_delete->status, ==, 403);

  /* The owner edits it and schedules it weekly; the feed shows it. */
  g_autoptr (KtTestResponse) edit = kt_test_request_as (
      app, &wang, "PATCH", item_url, "application/json",
      "{\"title\": \"书法第一课：执笔\", \"description\": \"从执笔讲起\"}");
  g_assert_cmpuint (edit->status, ==, 200);
  g_autoptr (KtTestResponse) scheduled = kt_test_request_as (app, &wang, "POST", "/api/lessons",
                                                             "application/json", lesson);
  g_assert_cmpuint (scheduled->status, ==, 201);
  g_autoptr (KtTestResponse) feed = kt_test_get (app, "/schedule/5.ics");
  g_assert_cmpuint (feed->status, ==, 200);
  g_autofree char *ics = kt_test_body_text (feed);
  g_assert_nonnull (strstr (ics, "SUMMARY:书法第一课：执笔"));
  g_assert_nonnull (strstr (ics, "DTSTART:20261230T010000Z")); /* the last week */

  /* Replay from the same segments. */
  g_autofree char *vod = g_strdup_printf ("/watch/%s/720p/index.m3u8", item);
  g_autoptr (KtTestResponse) replay = kt_test_get (app, vod);
  g_assert_cmpuint (replay->status, ==, 200);

  /* Deleting a scheduled lecture needs a confirmation that names lessons. */
  g_autoptr (KtTestResponse) ask = kt_test_request_as (app, &admin, "DELETE", item_url, NULL, NULL);
  g_assert_cmpuint (ask->status, ==, 409);
  g_autoptr (JsonParser) p4 = json_parser_new ();
  JsonArray *lessons = json_object_get_array_member (kt_test_json_object (ask, p4), "lessons");
  g_assert_cmpuint (json_array_get_length (lessons), ==, 5); /* Dec 2 … Dec 30 */
  g_autofree char *forced = g_strdup_printf ("%s?force=1", item_url);
  g_autoptr (KtTestResponse) gone = kt_test_request_as (app, &admin, "DELETE", forced, NULL, NULL);
  g_assert_cmpuint (gone->status, ==, 204);
  g_autoptr (KtTestResponse) after = kt_test_get (app, vod);
  g_assert_cmpuint (after->status, ==, 404);
  /* Its segments were served (and their readiness kept in memory) above;
   * once deleted they are gone too. */
  g_autofree char *seg0 = g_strdup_printf ("/media/%s/720p/0.ts", item);
  g_autoptr (KtTestResponse) seg_after = kt_test_get (app, seg0);
  g_assert_cmpuint (seg_after->status, ==, 404);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  kt_clock_set_fake (G_GINT64_CONSTANT (1796000000) * G_USEC_PER_SEC); /* 2026-11-30 */
  data_dir = kt_test_mkdtemp ();
  media_dir = kt_test_mkdtemp ();
  app = kt_test_app_start (data_dir, FALSE, NULL);
  g_test_add_func ("/publish/upload-normalize-schedule-replay", test_publish);
  int rc = g_test_run ();
  kt_app_free (app);
  kt_test_rmtree (data_dir);
  kt_test_rmtree (media_dir);
  return rc;
}
