/* kt-pipeline: only whitelisted, quoted variables are substituted, values
 * cannot break out of their quotes, and missing named elements are caught. */
#include <gst/gst.h>

#include "kt-pipeline-stop.h"
#include "kt-pipeline.h"
#include "test-utils.h"

static void
test_render_substitutes_quoted (void)
{
  const char *vars[] = { "name", "课堂 \"x\" \\ y", NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *out = kt_pipeline_render ("# a comment ${ignored}\n"
                                             "fakesrc ! fakesink name=\"${name}\"\n",
                                             "t", vars, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (out, ==, " fakesrc ! fakesink name=\"课堂 \\\"x\\\" \\\\ y\" ");
}

static void
test_render_refuses (void)
{
  static const struct {
    const char *text;
    int code;
  } cases[] = {
    { "fakesrc num-buffers=${n} ! fakesink", KT_PIPELINE_ERROR_TEMPLATE }, /* unquoted */
    { "fakesrc ! fakesink name=\"${other}\"", KT_PIPELINE_ERROR_TEMPLATE }, /* not listed */
    { "fakesrc ! fakesink name=\"${n\"", KT_PIPELINE_ERROR_TEMPLATE },
    { "fakesrc ! fakesink name=\"open", KT_PIPELINE_ERROR_TEMPLATE },
    { "fakesrc ! fakesink name=\"${bad}\"", KT_PIPELINE_ERROR_VALUE }, /* newline in value */
  };
  const char *vars[] = { "n", "3", "bad", "a\nb", NULL };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *out = kt_pipeline_render (cases[i].text, "t", vars, &error);
    g_assert_null (out);
    g_assert_error (error, KT_PIPELINE_ERROR, cases[i].code);
  }
}

/* A value crafted to end the quoted string and add an element stays one
 * property value: the built pipeline has exactly the template's elements. */
static void
test_injection_stays_a_value (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "t.pipeline", NULL);
  g_assert_true (g_file_set_contents (path, "fakesrc num-buffers=1 ! fakesink name=out "
                                            "qos=\"${v}\"", -1, NULL));
  g_autoptr (GError) error = NULL;
  const char *evil[] = { "v", "true\" ! filesink name=evil location=\"/tmp/x", NULL };
  GstElement *pipeline = kt_pipeline_build (dir, "t", evil, NULL, &error);
  /* Either GStreamer refuses the odd boolean, or it is built without "evil". */
  if (pipeline != NULL) {
    g_autoptr (GstElement) e = gst_bin_get_by_name (GST_BIN (pipeline), "evil");
    g_assert_null (e);
    gst_object_unref (pipeline);
  } else {
    g_assert_error (error, KT_PIPELINE_ERROR, KT_PIPELINE_ERROR_PARSE);
  }
  kt_test_rmtree (dir);
}

static void
test_required_elements (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "t.pipeline", NULL);
  g_assert_true (g_file_set_contents (path, "fakesrc ! fakesink name=\"${n}\"", -1, NULL));
  const char *vars[] = { "n", "out", NULL };
  const char *need_out[] = { "out", NULL };
  const char *need_more[] = { "out", "rend_720p", NULL };
  g_autoptr (GError) error = NULL;

  GstElement *ok = kt_pipeline_build (dir, "t", vars, need_out, &error);
  g_assert_no_error (error);
  gst_object_unref (ok);
  g_assert_null (kt_pipeline_build (dir, "t", vars, need_more, &error));
  g_assert_error (error, KT_PIPELINE_ERROR, KT_PIPELINE_ERROR_ELEMENT);
  g_assert_nonnull (strstr (error->message, "rend_720p"));
  g_clear_error (&error);
  g_assert_null (kt_pipeline_build (dir, "missing", vars, NULL, &error));
  g_assert_error (error, KT_PIPELINE_ERROR, KT_PIPELINE_ERROR_TEMPLATE);
  kt_test_rmtree (dir);
}

/* The shipped templates parse with the variables the code gives them. */
static void
test_shipped_demo_template_builds (void)
{
  const char *vars[] = { "dir", "/nonexistent", "frames", "50", "buffers", "100", "title", "t",
                         "teacher", "x", NULL };
  const char *required[] = { "rend_720p", "rend_360p", "rend_audio", NULL };
  g_autoptr (GError) error = NULL;
  GstElement *p = kt_pipeline_build (g_getenv ("KETANG_PIPELINES_DIR"), "demo-lesson", vars,
                                     required, &error);
  g_assert_no_error (error);
  gst_object_unref (p);
}

static void
note_thread (gpointer data)
{
  *(GThread **) data = g_thread_self ();
}

/* A pipeline stopped in the middle of its stream, as the server stopping
 * mid-render does: kt_pipeline_stop takes it, the pipeline ends at NULL,
 * the caller's clean-up runs after that and on another thread, and
 * kt_pipeline_stops_wait sees every stop done. The pipeline writes through
 * splitmuxsink from a live source, the shape that can wedge a stop. */
static void
test_stop_mid_stream (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  g_autofree char *description = g_strdup_printf (
      "videotestsrc is-live=true ! video/x-raw,width=160,height=90,framerate=25/1 ! "
      "x264enc speed-preset=ultrafast key-int-max=5 ! h264parse ! "
      "splitmuxsink muxer=mpegtsmux max-size-time=200000000 location=\"%s/%%05d.ts\"",
      dir);
  g_autoptr (GError) error = NULL;
  GstElement *pipeline = gst_parse_launch (description, &error);
  g_assert_no_error (error);
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
                   GST_STATE_CHANGE_FAILURE);
  guint opened = 0;
  while (opened < 3) { /* mid-stream: a few fragments written, one open */
    g_autoptr (GstMessage) m = gst_bus_timed_pop_filtered (
        bus, 20 * GST_SECOND, GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR);
    g_assert_nonnull (m);
    g_assert_cmpint (GST_MESSAGE_TYPE (m), ==, GST_MESSAGE_ELEMENT);
    opened += gst_structure_has_name (gst_message_get_structure (m), "splitmuxsink-fragment-opened");
  }

  g_autoptr (GstElement) kept = gst_object_ref (pipeline);
  GThread *cleaned_on = NULL;
  kt_pipeline_stop (pipeline, note_thread, &cleaned_on);
  g_assert_true (kt_pipeline_stops_wait (10 * G_USEC_PER_SEC));
  g_assert_nonnull (cleaned_on);
  g_assert_true (cleaned_on != g_thread_self ());
  GstState state = GST_STATE_VOID_PENDING;
  gst_element_get_state (kept, &state, NULL, 0);
  g_assert_cmpint (state, ==, GST_STATE_NULL);
  kt_test_rmtree (dir);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/pipeline/render-substitutes-quoted", test_render_substitutes_quoted);
  g_test_add_func ("/pipeline/render-refuses", test_render_refuses);
  g_test_add_func ("/pipeline/injection-stays-a-value", test_injection_stays_a_value);
  g_test_add_func ("/pipeline/required-elements", test_required_elements);
  g_test_add_func ("/pipeline/shipped-demo-template-builds", test_shipped_demo_template_builds);
  g_test_add_func ("/pipeline/stop-mid-stream", test_stop_mid_stream);
  return g_test_run ();
}
