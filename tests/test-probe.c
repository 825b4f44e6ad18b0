/* kt-probe and the plan kt-normalize derives from a probe: what real files
 * made with GStreamer probe as, and how bad uploads are refused. */
#include "kt-normalize.h"
#include "kt-probe.h"
#include "test-utils.h"

static char *dir;

static KtProbe *
probe_ok (const char *path)
{
  g_autoptr (GError) error = NULL;
  KtProbe *probe = kt_probe_file (path, 10, &error);
  g_assert_no_error (error);
  g_assert_nonnull (probe);
  return probe;
}

static void
test_landscape_stereo (void)
{
  g_autofree char *path = kt_test_make_clip (dir, "landscape.mp4", "640x360@25", "48000x2", 3);
  g_autoptr (KtProbe) p = probe_ok (path);
  g_assert_true (p->has_video);
  g_assert_cmpint (p->width, ==, 640);
  g_assert_cmpint (p->height, ==, 360);
  g_assert_cmpint (p->fps_n / p->fps_d, ==, 25);
  g_assert_cmpint (p->rotation, ==, 0);
  g_assert_true (p->has_audio);
  g_assert_cmpint (p->channels, ==, 2);
  g_assert_cmpint (p->rate, ==, 48000);
  g_assert_cmpint (p->duration_us, >=, 2990000);
  g_assert_cmpint (p->duration_us, <=, 3100000);
  g_assert_nonnull (strstr (p->video_codec, "H.264"));
}

static void
test_rotated_phone_clip (void)
{
  g_autofree char *path = kt_test_make_clip (dir, "rotated.mp4", "640x360@25", "44100x1", 3);
  kt_test_mp4_rotate_90 (path);
  g_autoptr (KtProbe) p = probe_ok (path);
  g_assert_cmpint (p->width, ==, 640); /* coded landscape… */
  g_assert_cmpint (p->rotation, ==, 90); /* …shown upright */
  double w, h;
  kt_probe_display_size (p, &w, &h);
  g_assert_cmpfloat (w, ==, 360);
  g_assert_cmpfloat (h, ==, 640);
  g_assert_cmpint (p->channels, ==, 1);
  g_assert_cmpint (p->rate, ==, 44100);
}

static void
test_no_audio_and_audio_only (void)
{
  g_autofree char *silent = kt_test_make_clip (dir, "silent.mp4", "360x640@30", NULL, 2);
  g_autoptr (KtProbe) p = probe_ok (silent);
  g_assert_true (p->has_video);
  g_assert_false (p->has_audio);
  g_assert_cmpint (p->fps_n / p->fps_d, ==, 30);

  g_autofree char *talk = kt_test_make_clip (dir, "talk.m4a", NULL, "48000x2", 2);
  g_autoptr (KtProbe) a = probe_ok (talk);
  g_assert_false (a->has_video);
  g_assert_true (a->has_audio);
}

static void
expect_refusal (const char *path, int code)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KtProbe) p = kt_probe_file (path, 10, &error);
  g_assert_null (p);
  g_assert_error (error, KT_PROBE_ERROR, code);
  const char *teacher = kt_probe_error_teacher_text (error);
  g_assert_nonnull (teacher);
  g_assert_true (g_str_has_prefix (error->message, teacher)); /* Chinese first… */
  g_assert_nonnull (strstr (error->message, " — "));         /* …English detail after */
  g_test_message ("refused: %s", error->message);
}

static void
test_bad_uploads_refused (void)
{
  for (const KtTestBadUpload *bad = kt_test_bad_uploads; bad->kind; bad++) {
    g_autofree char *path = kt_test_make_bad_upload (dir, bad->kind);
    g_test_message ("bad upload: %s", bad->kind);
    expect_refusal (path, bad->code);
  }
  g_autofree char *missing = g_build_filename (dir, "not-there.mp4", NULL);
  expect_refusal (missing, KT_PROBE_ERROR_UNREADABLE);
  g_autofree char *blink = kt_test_make_clip (dir, "blink.mp4", "320x180@25", "48000x2", 0.5);
  expect_refusal (blink, KT_PROBE_ERROR_TOO_SHORT);
}

static void
on_probed (GObject *source, GAsyncResult *result, gpointer data)
{
  *(KtProbe **) data = kt_probe_file_finish (result, NULL);
}

static void
test_async_returns_on_main_context (void)
{
  g_autofree char *path = kt_test_make_clip (dir, "async.mp4", "320x240@25", NULL, 2);
  KtProbe *probe = NULL;
  kt_probe_file_async (path, 10, NULL, on_probed, &probe);
  while (probe == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (probe->width, ==, 320);
  kt_probe_free (probe);
}

static KtNormalizePlan
plan_for (int width, int height, int par_n, int par_d, int rotation, gint64 duration_us)
{
  KtProbe p = { .duration_us = duration_us, .has_video = width > 0, .width = width,
                .height = height, .par_n = par_n, .par_d = par_d, .rotation = rotation };
  KtNormalizePlan plan;
  kt_normalize_plan (&p, &plan);
  return plan;
}

#define assert_frame(plan, w, h, x, y)                                                       \
  G_STMT_START {                                                                             \
    g_assert_cmpint ((plan).width, ==, (w));                                                 \
    g_assert_cmpint ((plan).height, ==, (h));                                                \
    g_assert_cmpint ((plan).xpos, ==, (x));                                                  \
    g_assert_cmpint ((plan).ypos, ==, (y));                                                  \
  } G_STMT_END

static void
test_plan_fits_without_stretching (void)
{
  assert_frame (plan_for (1920, 1080, 1, 1, 0, 3000000), 1280, 720, 0, 0);
  assert_frame (plan_for (640, 360, 1, 1, 0, 3000000), 1280, 720, 0, 0);  /* upscaled, 16:9 */
  assert_frame (plan_for (480, 360, 1, 1, 0, 3000000), 960, 720, 160, 0); /* 4:3 pillarbox */
  assert_frame (plan_for (360, 640, 1, 1, 0, 3000000), 404, 720, 438, 0); /* portrait */
  assert_frame (plan_for (640, 360, 1, 1, 90, 3000000), 404, 720, 438, 0); /* rotated phone */
  assert_frame (plan_for (640, 360, 1, 1, 180, 3000000), 1280, 720, 0, 0);
  assert_frame (plan_for (720, 576, 64, 45, 0, 3000000), 1280, 720, 0, 0); /* anamorphic PAL */
  assert_frame (plan_for (720, 576, 16, 15, 0, 3000000), 960, 720, 160, 0); /* 4:3 PAL */
  assert_frame (plan_for (1920, 800, 1, 1, 0, 3000000), 1280, 532, 0, 94); /* 2.4:1 letterbox */
  assert_frame (plan_for (0, 0, 1, 1, 0, 3000000), 1280, 720, 0, 0);      /* audio only */
}

static void
test_plan_rounds_up_to_segments (void)
{
  g_assert_cmpuint (plan_for (640, 360, 1, 1, 0, 1000000).segments, ==, 1);
  g_assert_cmpuint (plan_for (640, 360, 1, 1, 0, 2000000).segments, ==, 1);
  g_assert_cmpuint (plan_for (640, 360, 1, 1, 0, 2030000).segments, ==, 1); /* a frame forgiven */
  g_assert_cmpuint (plan_for (640, 360, 1, 1, 0, 2100000).segments, ==, 2);
  KtNormalizePlan p = plan_for (640, 360, 1, 1, 0, 5000000);
  g_assert_cmpuint (p.segments, ==, 3);
  g_assert_cmpint (p.duration_us, ==, 6000000);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  dir = kt_test_mkdtemp ();
  g_test_add_func ("/probe/landscape-stereo", test_landscape_stereo);
  g_test_add_func ("/probe/rotated-phone-clip", test_rotated_phone_clip);
  g_test_add_func ("/probe/no-audio-and-audio-only", test_no_audio_and_audio_only);
  g_test_add_func ("/probe/bad-uploads-refused", test_bad_uploads_refused);
  g_test_add_func ("/probe/async-returns-on-main-context", test_async_returns_on_main_context);
  g_test_add_func ("/probe/plan-fits-without-stretching", test_plan_fits_without_stretching);
  g_test_add_func ("/probe/plan-rounds-up-to-segments", test_plan_rounds_up_to_segments);
  int rc = g_test_run ();
  kt_test_rmtree (dir);
  g_free (dir);
  return rc;
}
