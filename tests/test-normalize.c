/* Uploads end to end: files made with GStreamer here are imported into a
 * real server (port 0, real SQLite, the real normalize pipeline), and the
 * items they become are decoded segment by segment. Bad files are refused
 * and leave nothing behind; a server killed mid-job finishes the item after
 * its restart.
 *
 * Every good clip is imported at once at the start, so the queue is seen
 * working ([library] max_jobs=1: one runs, the others wait) and the later
 * tests only wait for their own item. Clips are 3 s at small sizes: each
 * becomes 2 segments (3 s rounded up to 4 s). */
#include <gst/app/gstappsink.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>
#include <math.h>
#include <sqlite3.h>

#include "kt-clock.h"
#include "kt-normalize.h"
#include "test-utils.h"

static char *data_dir;
static char *src_dir;
static KtApp *app;

typedef struct {
  const char *name;
  const char *video;
  const char *audio;
  gboolean rotate;
  char *id;
} Clip;

static Clip clips[] = {
  { "landscape.mp4", "640x360@25", "48000x2", FALSE, NULL },
  { "phone.mp4", "640x360@25", "44100x1", TRUE, NULL },   /* upright phone: rotate-90 */
  { "slides.mp4", "480x360@30", "44100x1", FALSE, NULL }, /* 4:3, 30 fps, mono */
  { "portrait.mp4", "360x640@25", NULL, FALSE, NULL },    /* no sound at all */
  { "talk.m4a", NULL, "48000x2", FALSE, NULL },           /* audio only */
};
enum { LANDSCAPE, PHONE, SLIDES, PORTRAIT, TALK };

#define CLIP_SECONDS 3
#define CLIP_SEGMENTS 2

static gint64
query_int (const char *sql)
{
  g_autofree char *path = g_build_filename (data_dir, "ketang.db", NULL);
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_stmt *stmt = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  gint64 value = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return value;
}

static guint
count_entries (const char *sub)
{
  g_autofree char *path = g_build_filename (data_dir, sub, NULL);
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;
  while (dir && g_dir_read_name (dir))
    n++;
  return n;
}

static gboolean
on_timeout (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Run the main context until item @id is no longer processing. */
static KtItem *
wait_for_state (const char *id)
{
  KtLibrary *library = kt_app_library (app);
  gboolean timed_out = FALSE;
  guint timer = g_timeout_add_seconds (120, on_timeout, &timed_out);
  KtItem *item = NULL;
  while (!timed_out) {
    kt_item_free (item);
    item = kt_library_get (library, id);
    g_assert_nonnull (item);
    if (item->state != KT_ITEM_PROCESSING)
      break;
    g_main_context_iteration (NULL, TRUE);
  }
  if (!timed_out)
    g_source_remove (timer);
  return item;
}

static KtItem *
wait_for_item (const char *id)
{
  KtItem *item = wait_for_state (id);
  if (item->state != KT_ITEM_READY)
    g_error ("item %s: state %d error %s", id, item->state, item->error);
  return item;
}

static GBytes *
read_segment (const char *id, const KtRendition *r, guint k)
{
  g_autofree char *path = kt_library_segment_path (kt_app_library (app), id, r, k);
  g_autofree char *data = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  return g_bytes_new_take (g_steal_pointer (&data), len);
}

/* Every segment of every rendition decodes at its size, 50 frames, with
 * sound; segment k starts at the same instant everywhere, 2 s after k-1. */
static void
check_renditions (const char *id, guint segments)
{
  g_autoptr (KtItem) item = wait_for_item (id);
  g_assert_cmpuint (item->segment_count, ==, segments);
  g_assert_cmpint (item->duration_us, ==, segments * KT_SEGMENT_US);
  g_assert_cmpstr (item->kind, ==, "upload");

  g_autofree GstClockTime *starts = g_new0 (GstClockTime, segments * kt_n_renditions);
  for (guint v = 0; v < kt_n_renditions; v++) {
    const KtRendition *r = &kt_renditions[v];
    g_autofree char *past = kt_library_segment_path (kt_app_library (app), id, r, segments);
    g_assert_false (g_file_test (past, G_FILE_TEST_EXISTS));
    for (guint k = 0; k < segments; k++) {
      g_autoptr (GBytes) seg = read_segment (id, r, k);
      KtTestDecoded d;
      kt_test_decode (seg, &d);
      g_assert_cmpstr (d.container, ==, "video/mpegts");
      g_assert_cmpuint (d.audio_buffers, >, 80); /* 2 s of 21.3 ms AAC frames */
      GstClockTime video_pts, audio_pts;
      kt_test_ts_first_pts (seg, &video_pts, &audio_pts);
      g_assert_true (GST_CLOCK_TIME_IS_VALID (audio_pts));
      if (r->width > 0) {
        g_assert_cmpint (d.width, ==, r->width);
        g_assert_cmpint (d.height, ==, r->height);
        g_assert_cmpuint (d.video_frames, ==, 50);
        starts[k * kt_n_renditions + v] = video_pts;
      } else {
        g_assert_cmpuint (d.video_frames, ==, 0);
        starts[k * kt_n_renditions + v] = audio_pts;
      }
      kt_test_decoded_clear (&d);
    }
  }
  for (guint k = 0; k < segments; k++) {
    GstClockTime *s = starts + k * kt_n_renditions;
    g_assert_cmpuint (s[0], ==, s[1]);
    g_assert_cmpint (ABS (GST_CLOCK_DIFF (s[0], s[2])), <=, 25 * GST_MSECOND);
    if (k > 0)
      g_assert_cmpuint (s[0] - starts[(k - 1) * kt_n_renditions], ==, 2 * GST_SECOND);
  }
}

/* A playing pipeline reading segment @k of @rendition of item @id through
 * @decode, ending in appsink "sink" (returned, a new reference). */
static GstElement *
play_segment (const char *id, guint rendition, guint k, const char *decode, GstElement **sink)
{
  g_autofree char *path =
      kt_library_segment_path (kt_app_library (app), id, &kt_renditions[rendition], k);
  g_autofree char *location = g_strescape (path, NULL);
  g_autofree char *desc = g_strdup_printf (
      "filesrc location=\"%s\" ! tsdemux ! %s ! appsink name=sink sync=false", location, decode);
  g_autoptr (GError) error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  return pipeline;
}

/* The luma of the first 720p frame of segment @k, as GRAY8 rows. */
typedef struct {
  GstSample *sample;
  GstVideoFrame frame;
} Gray;

static void
gray_frame (const char *id, guint k, Gray *g)
{
  g_autoptr (GstElement) sink = NULL;
  g_autoptr (GstElement) pipeline = play_segment (
      id, 0, k, "h264parse ! avdec_h264 ! videoconvert ! video/x-raw,format=GRAY8", &sink);
  g->sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 20 * GST_SECOND);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  g_assert_nonnull (g->sample);
  GstVideoInfo info;
  g_assert_true (gst_video_info_from_caps (&info, gst_sample_get_caps (g->sample)));
  g_assert_true (gst_video_frame_map (&g->frame, &info, gst_sample_get_buffer (g->sample),
                                      GST_MAP_READ));
  g_assert_cmpint (GST_VIDEO_FRAME_WIDTH (&g->frame), ==, 1280);
}

static void
gray_clear (Gray *g)
{
  gst_video_frame_unmap (&g->frame);
  gst_sample_unref (g->sample);
}

/* Mean luma over the rectangle [x0, x1) × [y0, y1). */
static double
luma (Gray *g, int x0, int x1, int y0, int y1)
{
  const guint8 *p = GST_VIDEO_FRAME_PLANE_DATA (&g->frame, 0);
  int stride = GST_VIDEO_FRAME_PLANE_STRIDE (&g->frame, 0);
  double sum = 0;
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++)
      sum += p[y * stride + x];
  return sum / ((x1 - x0) * (y1 - y0));
}

#define BLACK_MAX 20.0 /* video black is 16 */

/* Black left of @x0 and right of @x1 (the picture's edges), all the way
 * down; a few pixels of slack for the scaler's edge. */
static void
assert_pillarbox (Gray *g, int x0, int x1)
{
  g_assert_cmpfloat (luma (g, 0, x0 - 6, 0, 720), <, BLACK_MAX);
  g_assert_cmpfloat (luma (g, x1 + 6, 1280, 0, 720), <, BLACK_MAX);
}

/* Root mean square of each channel of the audio rendition's segment @k. */
static void
audio_rms (const char *id, guint k, double rms[2])
{
  g_autoptr (GstElement) sink = NULL;
  g_autoptr (GstElement) pipeline = play_segment (
      id, 2, k,
      "aacparse ! avdec_aac ! audioconvert ! audio/x-raw,format=F32LE,layout=interleaved,channels=2",
      &sink);
  double sum[2] = { 0, 0 };
  gsize frames = 0;
  GstSample *sample;
  while ((sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 10 * GST_SECOND))) {
    GstMapInfo map;
    gst_buffer_map (gst_sample_get_buffer (sample), &map, GST_MAP_READ);
    const float *f = (const float *) map.data;
    for (gsize i = 0; i + 1 < map.size / sizeof (float); i += 2, frames++) {
      sum[0] += f[i] * f[i];
      sum[1] += f[i + 1] * f[i + 1];
    }
    gst_buffer_unmap (gst_sample_get_buffer (sample), &map);
    gst_sample_unref (sample);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  g_assert_cmpuint (frames, >, 48000);
  for (int c = 0; c < 2; c++)
    rms[c] = sqrt (sum[c] / frames);
}

/* The test clips' tone is at volume 0.3 (RMS 0.21); silence is 0. */
static void
assert_sound (const char *id, gboolean expected)
{
  double rms[2];
  audio_rms (id, 0, rms);
  g_test_message ("audio rms left=%.3f right=%.3f", rms[0], rms[1]);
  for (int c = 0; c < 2; c++) {
    if (expected)
      g_assert_cmpfloat (rms[c], >, 0.1);
    else
      g_assert_cmpfloat (rms[c], <, 0.001);
  }
}

static void
test_bad_uploads_leave_nothing (void)
{
  for (const KtTestBadUpload *bad = kt_test_bad_uploads; bad->kind; bad++) {
    g_autofree char *path = kt_test_make_bad_upload (src_dir, bad->kind);
    g_autoptr (GError) error = NULL;
    g_autofree char *id = kt_library_import (kt_app_library (app), path, "坏文件", "王老师", &error);
    g_assert_null (id);
    g_assert_error (error, KT_PROBE_ERROR, bad->code);
    g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS)); /* the caller's, untouched */
  }
  g_assert_cmpint (query_int ("SELECT count(*) FROM items WHERE kind = 'upload'"), ==, 0);
  g_assert_cmpuint (count_entries ("uploads"), ==, 0);
  g_assert_cmpuint (count_entries ("media"), ==, 0);
  g_assert_cmpuint (kt_library_jobs_running (kt_app_library (app)), ==, 0);
}

static void
on_imported (GObject *source, GAsyncResult *result, gpointer data)
{
  Clip *clip = data;
  g_autoptr (GError) error = NULL;
  clip->id = kt_library_import_finish (kt_app_library (app), result, &error);
  g_assert_no_error (error);
}

/* One import takes the async path the HTTP upload will use; the rest are
 * synchronous. With max_jobs=1, one job runs and the rest wait at 0. */
static void
test_imports_queue (void)
{
  KtLibrary *library = kt_app_library (app);
  for (guint i = 0; i < G_N_ELEMENTS (clips); i++) {
    Clip *c = &clips[i];
    g_autofree char *path = kt_test_make_clip (src_dir, c->name, c->video, c->audio, CLIP_SECONDS);
    if (c->rotate)
      kt_test_mp4_rotate_90 (path);
    g_autofree char *title = g_strdup_printf ("第%u课 <%s> & 练习", i + 1, c->name);
    if (i == TALK) {
      kt_library_import_async (library, path, title, "李老师", NULL, on_imported, c);
      while (c->id == NULL)
        g_main_context_iteration (NULL, TRUE);
    } else {
      g_autoptr (GError) error = NULL;
      c->id = kt_library_import (library, path, title, "李老师", &error);
      g_assert_no_error (error);
    }
    g_assert_true (g_str_has_prefix (c->id, "up-"));
    g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS)); /* moved into the library */
  }
  g_assert_cmpuint (kt_library_jobs_running (library), ==, 1);
  g_assert_cmpuint (kt_library_imports_queued (library), ==, G_N_ELEMENTS (clips) - 1);
  g_assert_cmpfloat (kt_library_job_progress (library, clips[TALK].id), ==, 0.0);
  g_assert_cmpint (kt_library_job_eta_us (library, clips[TALK].id), ==, -1);
  g_assert_cmpint (query_int ("SELECT count(*) FROM items WHERE state = 'processing'"), ==,
                   G_N_ELEMENTS (clips));
}

static void
test_landscape_fills_the_frame (void)
{
  const char *id = clips[LANDSCAPE].id;
  check_renditions (id, CLIP_SEGMENTS);
  g_autoptr (KtItem) item = kt_library_get (kt_app_library (app), id);
  g_assert_cmpint (item->source_duration_us, >=, CLIP_SECONDS * G_USEC_PER_SEC);
  g_assert_cmpstr (item->owner, ==, "李老师");
  Gray g;
  gray_frame (id, 0, &g);
  g_assert_cmpfloat (luma (&g, 0, 8, 40, 400), >, 100); /* SMPTE's white bar up to the edge */
  gray_clear (&g);
  assert_sound (id, TRUE);
}

static void
test_phone_clip_turned_upright (void)
{
  const char *id = clips[PHONE].id;
  check_renditions (id, CLIP_SEGMENTS);
  /* 640x360 shown rotated is 360x640: 404x720 at x=438, black either side. */
  Gray g;
  gray_frame (id, 0, &g);
  assert_pillarbox (&g, 438, 842);
  /* Turned clockwise: the bars' left end (white) is now at the top, their
   * right end (blue) at the bottom. */
  double top = luma (&g, 600, 800, 4, 40), bottom = luma (&g, 600, 800, 680, 716);
  g_test_message ("rotated luma top=%.0f bottom=%.0f", top, bottom);
  g_assert_cmpfloat (top, >, 120);
  g_assert_cmpfloat (bottom, <, 80);
  gray_clear (&g);
}

static void
test_slides_pillarboxed_at_25fps (void)
{
  const char *id = clips[SLIDES].id;
  check_renditions (id, CLIP_SEGMENTS); /* 30 fps in, 50 frames a segment out */
  Gray g;
  gray_frame (id, 1, &g);
  assert_pillarbox (&g, 160, 1120); /* 960x720 at x=160 */
  g_assert_cmpfloat (luma (&g, 164, 200, 40, 400), >, 100); /* the white bar, not stretched away */
  gray_clear (&g);
  assert_sound (id, TRUE); /* mono, on both sides */
}

static void
test_silent_portrait_gets_a_sound_track (void)
{
  check_renditions (clips[PORTRAIT].id, CLIP_SEGMENTS);
  assert_sound (clips[PORTRAIT].id, FALSE);
}

static void
test_audio_only_gets_a_card (void)
{
  const char *id = clips[TALK].id;
  check_renditions (id, CLIP_SEGMENTS);
  Gray g;
  gray_frame (id, 0, &g);
  g_assert_cmpfloat (luma (&g, 0, 1280, 0, 200), <, BLACK_MAX);
  const guint8 *p = GST_VIDEO_FRAME_PLANE_DATA (&g.frame, 0);
  int stride = GST_VIDEO_FRAME_PLANE_STRIDE (&g.frame, 0);
  guint bright = 0; /* the title, drawn in the middle */
  for (int y = 320; y < 400; y++)
    for (int x = 0; x < 1280; x++)
      bright += p[y * stride + x] > 150;
  g_assert_cmpuint (bright, >, 500);
  gray_clear (&g);
  assert_sound (id, TRUE);
}

static void
test_sources_removed_when_done (void)
{
  g_assert_cmpuint (count_entries ("uploads"), ==, 0);
  g_assert_cmpint (query_int ("SELECT count(*) FROM items WHERE kind = 'upload' AND "
                              "state = 'ready' AND source_path IS NULL AND attempts = 1"),
                   ==, G_N_ELEMENTS (clips));
  g_autofree char *media = g_build_filename (data_dir, "media", NULL);
  g_autoptr (GDir) dir = g_dir_open (media, 0, NULL);
  const char *name;
  while ((name = g_dir_read_name (dir)) != NULL)
    g_assert_false (g_str_has_prefix (name, ".tmp-"));
}

/* A job reports progress and, after a while, a time left. Its clip is long
 * enough that the estimate (which waits for half a second of encoding)
 * comes well before the end even on a quiet machine, where the suite's 3 s
 * clips are done in about that. Polled, not woken: progress moves on a
 * streaming thread, which wakes no main-loop source. */
static void
test_time_left (void)
{
  KtLibrary *library = kt_app_library (app);
  g_autofree char *path = kt_test_make_clip (src_dir, "lecture.mp4", "640x360@25", "48000x2", 12);
  g_autoptr (GError) error = NULL;
  g_autofree char *id = kt_library_import (library, path, "时间", "", &error);
  g_assert_no_error (error);
  gint64 eta = -1;
  double progress = -1;
  while (kt_library_is_making (library, id) && eta < 0) {
    while (g_main_context_iteration (NULL, FALSE))
      ;
    progress = kt_library_job_progress (library, id);
    eta = kt_library_job_eta_us (library, id);
    g_usleep (5000);
  }
  g_test_message ("first estimate of the time left: %.1f s at %.0f %%", eta / 1e6, 100 * progress);
  g_assert_cmpint (eta, >=, 0);
  g_assert_cmpint (eta, <, 60 * G_USEC_PER_SEC); /* a 12 s clip (start-up left out) */
  g_assert_cmpfloat (progress, >, 0.0);
  g_assert_cmpfloat (progress, <, 0.9);
  g_autoptr (KtItem) item = wait_for_state (id);
  g_assert_cmpint (item->state, ==, KT_ITEM_READY);
}

/* A server stopped mid-job (kt_app_free, as on SIGTERM; a kill -9 leaves the
 * same rows and files) normalizes the upload again at its next start. */
static void
test_restart_finishes_the_job (void)
{
  g_autofree char *path = kt_test_make_clip (src_dir, "long.mp4", "640x360@25", "48000x2", 5);
  g_autoptr (GError) error = NULL;
  g_autofree char *id = kt_library_import (kt_app_library (app), path, "重启", "", &error);
  g_assert_no_error (error);
  /* Polled, not woken: progress moves on a streaming thread, which wakes
   * no main-loop source, and a stuck job must fail here, not hang. */
  gint64 deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  double progress;
  while ((progress = kt_library_job_progress (kt_app_library (app), id)) < 0.1) {
    if (g_get_monotonic_time () > deadline)
      g_error ("job %s made no progress in 120 s (progress %.3f)", id, progress);
    while (g_main_context_iteration (NULL, FALSE))
      ;
    g_usleep (10000);
  }
  kt_app_free (app);
  app = NULL;
  g_assert_cmpint (query_int ("SELECT count(*) FROM items WHERE state = 'processing' "
                              "AND source_path IS NOT NULL AND attempts = 1"),
                   ==, 1);
  g_assert_cmpuint (count_entries ("uploads"), ==, 1);

  const char *settings[] = { "library.max_jobs=1", NULL };
  app = kt_test_app_start (data_dir, FALSE, settings);
  check_renditions (id, 3); /* 5 s → 6 s */
  g_assert_cmpint (query_int ("SELECT attempts FROM items WHERE state = 'ready' "
                              "AND title = '重启'"),
                   ==, 2);
  g_assert_cmpuint (count_entries ("uploads"), ==, 0);
}

static void
on_library_warning (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  g_assert_nonnull (strstr (message, "truncated"));
  (*(guint *) data)++;
}

/* A file cut short behind an intact index probes as whole; decoding ends
 * early, and the item fails instead of becoming seconds of black. */
static void
test_cut_file_fails_cleanly (void)
{
  g_autofree char *path = kt_test_make_bad_upload (src_dir, "cut-after-index");
  g_autoptr (GError) error = NULL;
  g_autofree char *id = kt_library_import (kt_app_library (app), path, "半截", "", &error);
  g_assert_no_error (error);
  /* The failure is logged as a warning, which tests make fatal: take it
   * here, and only it. */
  guint warned = 0;
  GLogLevelFlags fatal = g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  guint handler = g_log_set_handler ("kt-library", G_LOG_LEVEL_WARNING, on_library_warning, &warned);
  g_autoptr (KtItem) item = wait_for_state (id);
  g_log_remove_handler ("kt-library", handler);
  g_log_set_always_fatal (fatal);
  g_assert_cmpuint (warned, >, 0);
  g_assert_cmpint (item->state, ==, KT_ITEM_FAILED);
  g_assert_true (g_str_has_prefix (item->error, "文件不完整"));
  g_autofree char *dir = g_build_filename (data_dir, "media", id, NULL);
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (count_entries ("uploads"), ==, 0);
  g_assert_cmpint (query_int ("SELECT count(*) FROM items WHERE kind = 'upload' AND "
                              "state = 'failed' AND source_path IS NULL"),
                   ==, 1);
}

static void
on_stall_warning (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  g_assert_nonnull (strstr (message, "卡住"));
  (*(guint *) data)++;
}

/* A pipeline that wedges without an error (here a closed valve before the
 * encoders takes every picture and event, as a decoder waiting forever
 * would leave them) fails
 * the upload once nothing new was encoded for stall_seconds of kt-clock
 * time, and the queue moves on. Last: it swaps the app for one on a fake
 * clock with a pipelines folder whose normalize graph drops the pictures. */
static void
test_stalled_job_fails (void)
{
  g_autofree char *pipelines = kt_test_mkdtemp ();
  const char *real = g_getenv ("KETANG_PIPELINES_DIR");
  g_autoptr (GDir) dir = g_dir_open (real, 0, NULL);
  g_assert_nonnull (dir);
  const char *name;
  while ((name = g_dir_read_name (dir)) != NULL) {
    g_autofree char *from = g_build_filename (real, name, NULL);
    g_autofree char *to = g_build_filename (pipelines, name, NULL);
    g_autofree char *text = NULL;
    g_assert_true (g_file_get_contents (from, &text, NULL, NULL));
    if (g_str_equal (name, "normalize.pipeline")) {
      const char *tee = "! tee name=video";
      g_auto (GStrv) parts = g_strsplit (text, tee, 2);
      g_assert_cmpuint (g_strv_length (parts), ==, 2);
      g_free (text);
      text = g_strconcat (parts[0], "! valve drop=true ", tee, parts[1], NULL);
    }
    g_assert_true (g_file_set_contents (to, text, -1, NULL));
  }

  kt_app_free (app);
  kt_clock_set_fake (kt_clock_now_us ());
  g_autofree char *pipelines_setting = g_strconcat ("server.pipelines_dir=", pipelines, NULL);
  const char *settings[] = { "library.max_jobs=1", "library.stall_seconds=60", pipelines_setting,
                             NULL };
  app = kt_test_app_start (data_dir, FALSE, settings);
  KtLibrary *library = kt_app_library (app);
  g_autofree char *first_path
      = kt_test_make_clip (src_dir, "wedged-1.mp4", "320x240@25", "48000x2", 2);
  g_autofree char *second_path
      = kt_test_make_clip (src_dir, "wedged-2.mp4", "320x240@25", "48000x2", 2);
  g_autoptr (GError) error = NULL;
  g_autofree char *first = kt_library_import (library, first_path, "卡住一", "", &error);
  g_assert_no_error (error);
  g_autofree char *second = kt_library_import (library, second_path, "卡住二", "", &error);
  g_assert_no_error (error);
  g_assert_true (kt_library_is_making (library, first));
  g_assert_cmpuint (kt_library_imports_queued (library), ==, 1);

  /* Real time for the pipeline to get as far as it can. */
  gboolean waited = FALSE;
  g_timeout_add (500, on_timeout, &waited);
  while (!waited)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpfloat (kt_library_job_progress (library, first), ==, 0.0);

  kt_clock_advance (55 * G_USEC_PER_SEC); /* not yet: under a minute */
  g_assert_true (kt_library_is_making (library, first));

  guint warned = 0;
  GLogLevelFlags fatal = g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  guint handler = g_log_set_handler ("kt-library", G_LOG_LEVEL_WARNING, on_stall_warning, &warned);
  kt_clock_advance (10 * G_USEC_PER_SEC);
  g_log_remove_handler ("kt-library", handler);
  g_log_set_always_fatal (fatal);
  g_assert_cmpuint (warned, ==, 1);

  g_autoptr (KtItem) item = kt_library_get (library, first);
  g_assert_cmpint (item->state, ==, KT_ITEM_FAILED);
  g_assert_true (g_str_has_prefix (item->error, "文件在转码时卡住"));
  g_assert_nonnull (strstr (item->error, "no picture encoded for 60 s"));
  g_assert_false (kt_library_is_making (library, first));
  /* The slot went to the next upload. */
  g_assert_true (kt_library_is_making (library, second));
  g_assert_cmpuint (kt_library_imports_queued (library), ==, 0);
  g_autofree char *media = g_build_filename (data_dir, "media", first, NULL);
  g_assert_false (g_file_test (media, G_FILE_TEST_EXISTS));
  g_assert_cmpint (query_int ("SELECT count(*) FROM items WHERE title = '卡住一' AND "
                              "state = 'failed' AND source_path IS NULL"),
                   ==, 1);
  kt_app_free (app); /* stops the second, wedged too, as a job cut short */
  app = NULL;
  kt_test_rmtree (pipelines);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  data_dir = kt_test_mkdtemp ();
  src_dir = kt_test_mkdtemp ();
  const char *settings[] = { "library.max_jobs=1", NULL };
  app = kt_test_app_start (data_dir, FALSE, settings);

  g_test_add_func ("/normalize/bad-uploads-leave-nothing", test_bad_uploads_leave_nothing);
  g_test_add_func ("/normalize/imports-queue", test_imports_queue);
  g_test_add_func ("/normalize/landscape-fills-the-frame", test_landscape_fills_the_frame);
  g_test_add_func ("/normalize/phone-clip-turned-upright", test_phone_clip_turned_upright);
  g_test_add_func ("/normalize/slides-pillarboxed-at-25fps", test_slides_pillarboxed_at_25fps);
  g_test_add_func ("/normalize/silent-portrait-gets-a-sound-track",
                   test_silent_portrait_gets_a_sound_track);
  g_test_add_func ("/normalize/audio-only-gets-a-card", test_audio_only_gets_a_card);
  g_test_add_func ("/normalize/sources-removed-when-done", test_sources_removed_when_done);
  g_test_add_func ("/normalize/time-left", test_time_left);
  g_test_add_func ("/normalize/restart-finishes-the-job", test_restart_finishes_the_job);
  g_test_add_func ("/normalize/cut-file-fails-cleanly", test_cut_file_fails_cleanly);
  g_test_add_func ("/normalize/stalled-job-fails", test_stalled_job_fails);
  int rc = g_test_run ();
  kt_app_free (app);
  for (guint i = 0; i < G_N_ELEMENTS (clips); i++)
    g_free (clips[i].id);
  kt_test_rmtree (data_dir);
  kt_test_rmtree (src_dir);
  g_free (data_dir);
  g_free (src_dir);
  return rc;
}
