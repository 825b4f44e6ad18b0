/* kt-normalize: turn a probed upload into the house format.
 *
 * The graph is pipelines/normalize.pipeline; this module decides the values
 * it is filled with and does the one thing a launch line cannot: link a
 * decoder whose streams are known only at run time.
 *
 * Geometry. Every upload becomes a 1280x720 frame (the 360p rendition is
 * that frame scaled down). The picture keeps its display aspect: the probe's
 * size, times its pixel aspect, turned by its rotation tag (a phone held
 * upright writes landscape pixels and "rotate-90"), is fitted inside the
 * frame and centred; the rest is black. Never stretched. The fitted size is
 * rounded to multiples of 4 so that the bars' edges fall on whole pixels in
 * the 360p rendition too.
 *
 * Length. The house format is whole 2 s segments, so the output is the input
 * rounded up, padded with black and silence by the template's background
 * sources. 40 ms (a frame) past a boundary is forgiven: containers often
 * report a few milliseconds more than the picture (audio priming), and 2 s
 * of black for that would be silly; the template's guards cut it.
 *
 * Dynamic pads. decodebin exposes a pad per stream while it runs. The first
 * video pad goes to "video_in", the first audio pad to "audio_in", each only
 * if the probe saw that kind of stream (a cover picture in an MP3 is a video
 * stream the probe ignores). When the decoder has exposed all it will
 * ("no-more-pads"), a branch that got nothing is ended with stream-start,
 * segment and EOS, so the compositor or mixer stops waiting for it and the
 * background alone makes that half of the output. Both handlers run on
 * streaming threads and touch only pads and the elements they look up.
 *
 * Truncation. A file cut short whose index survived (an MP4 written with
 * its moov first, a transport stream) probes with its whole length but its
 * data ends early; the demuxer then just stops, and the background would
 * make a full-length item of black. So the running time that entered the
 * branches is kept (kt_normalize_decoded_us) and an import whose decoded
 * content falls short of the probed length by more than a second fails.
 */
#define G_LOG_DOMAIN "kt-normalize"

#include "kt-normalize.h"
#include "kt-hls.h"
#include "kt-house-job.h"
#include "kt-pipeline.h"

/* Forgiven overrun past a segment boundary (see above). */
#define TOLERANCE_US 40000

static int
round4 (double x)
{
  return MAX (4, (int) (x / 4 + 0.5) * 4);
}

void
kt_normalize_plan (const KtProbe *probe, KtNormalizePlan *plan)
{
  gint64 d = MAX (probe->duration_us - TOLERANCE_US, 1);
  plan->segments = MAX (1, (d + KT_SEGMENT_US - 1) / KT_SEGMENT_US);
  plan->duration_us = plan->segments * KT_SEGMENT_US;

  plan->width = KT_NORMALIZE_WIDTH;
  plan->height = KT_NORMALIZE_HEIGHT;
  if (probe->has_video) {
    double w, h;
    kt_probe_display_size (probe, &w, &h);
    double aspect = w / MAX (h, 1);
    if (aspect >= (double) KT_NORMALIZE_WIDTH / KT_NORMALIZE_HEIGHT)
      plan->height = MIN (KT_NORMALIZE_HEIGHT, round4 (KT_NORMALIZE_WIDTH / aspect));
    else
      plan->width = MIN (KT_NORMALIZE_WIDTH, round4 (KT_NORMALIZE_HEIGHT * aspect));
  }
  plan->xpos = (KT_NORMALIZE_WIDTH - plan->width) / 2;
  plan->ypos = (KT_NORMALIZE_HEIGHT - plan->height) / 2;
}

typedef struct {
  gboolean want_video, want_audio; /* set before the pipeline runs, then read only */
} Linking;

static GstPad *
branch_sink (GstElement *decode, const char *name)
{
  GstObject *bin = gst_object_get_parent (GST_OBJECT (decode));
  if (bin == NULL)
    return NULL;
  g_autoptr (GstElement) entry = gst_bin_get_by_name (GST_BIN (bin), name);
  gst_object_unref (bin);
  return entry ? gst_element_get_static_pad (entry, "sink") : NULL;
}

static void
on_pad_added (GstElement *decode, GstPad *pad, gpointer user_data)
{
  const Linking *linking = user_data;
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  const char *media = gst_structure_get_name (gst_caps_get_structure (caps, 0));
  const char *entry = NULL;
  if (g_str_has_prefix (media, "video/") && linking->want_video)
    entry = "video_in";
  else if (g_str_has_prefix (media, "audio/") && linking->want_audio)
    entry = "audio_in";
  if (entry == NULL) {
    g_debug ("ignoring decoded stream caps=%s", media);
    return;
  }
  g_autoptr (GstPad) sink = branch_sink (decode, entry);
  if (sink == NULL || gst_pad_is_linked (sink))
    return; /* a second stream of the same kind */
  GstPadLinkReturn ret = gst_pad_link (pad, sink);
  if (ret != GST_PAD_LINK_OK)
    g_warning ("cannot link decoded stream caps=%s to %s: %s", media, entry,
               gst_pad_link_get_name (ret));
}

static void
linking_free (gpointer data, GClosure *closure)
{
  g_free (data);
}

static void
end_branch (GstElement *decode, const char *name)
{
  g_autoptr (GstPad) sink = branch_sink (decode, name);
  if (sink == NULL || gst_pad_is_linked (sink))
    return;
  g_debug ("no stream for %s, ending it", name);
  g_autofree char *stream_id = g_strdup_printf ("ketang-absent-%s", name);
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_pad_send_event (sink, gst_event_new_stream_start (stream_id));
  gst_pad_send_event (sink, gst_event_new_segment (&segment));
  gst_pad_send_event (sink, gst_event_new_eos ());
}

static void
on_no_more_pads (GstElement *decode, gpointer user_data)
{
  end_branch (decode, "video_in");
  end_branch (decode, "audio_in");
}

/* Control characters would be refused by kt-pipeline and the text is Pango
 * markup to textoverlay: make a title safe to draw. */
static char *
card_text (const char *title)
{
  g_autofree char *flat = g_strdup (title ? title : "");
  for (char *p = flat; *p; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      *p = ' ';
  return g_markup_escape_text (flat, -1);
}

GstElement *
kt_normalize_build (const char *pipelines_dir, const char *source, const KtProbe *probe,
                    const KtNormalizePlan *plan, const char *title, const char *dir,
                    GError **error)
{
  guint frames = plan->segments * (KT_SEGMENT_US / 40000);  /* 25 fps */
  guint buffers = plan->segments * (KT_SEGMENT_US / 20000); /* 20 ms */
  g_autofree char *s_frames = g_strdup_printf ("%u", frames);
  g_autofree char *s_frames_eos = g_strdup_printf ("%u", frames + 1);
  g_autofree char *s_buffers = g_strdup_printf ("%u", buffers);
  g_autofree char *s_buffers_eos = g_strdup_printf ("%u", buffers + 1);
  g_autofree char *s_width = g_strdup_printf ("%d", plan->width);
  g_autofree char *s_height = g_strdup_printf ("%d", plan->height);
  g_autofree char *s_xpos = g_strdup_printf ("%d", plan->xpos);
  g_autofree char *s_ypos = g_strdup_printf ("%d", plan->ypos);
  g_autofree char *card = probe->has_video ? g_strdup ("") : card_text (title);
  const char *vars[] = { "source", source, "dir", dir, "frames", s_frames,
                         "frames_eos", s_frames_eos, "buffers", s_buffers,
                         "buffers_eos", s_buffers_eos, "width", s_width, "height", s_height,
                         "xpos", s_xpos, "ypos", s_ypos, "card", card, NULL };

  g_autoptr (GPtrArray) required = g_ptr_array_new ();
  for (const char *const *r = kt_house_job_required_elements (); *r; r++)
    g_ptr_array_add (required, (gpointer) *r);
  const char *ours[] = { "decode", "video_in", "audio_in" };
  for (guint i = 0; i < G_N_ELEMENTS (ours); i++)
    g_ptr_array_add (required, (gpointer) ours[i]);
  g_ptr_array_add (required, NULL);

  GstElement *pipeline = kt_pipeline_build (pipelines_dir, "normalize", vars,
                                            (const char *const *) required->pdata, error);
  if (pipeline == NULL)
    return NULL;

  /* What was decoded, for kt_normalize_decoded_us: freed with the pipeline,
   * after its streaming threads. */
  gint *decoded_ms = g_new0 (gint, 2);
  g_object_set_data_full (G_OBJECT (pipeline), "kt-decoded-ms", decoded_ms, g_free);
  const char *entries[] = { "video_in", "audio_in" };
  for (guint i = 0; i < G_N_ELEMENTS (entries); i++) {
    g_autoptr (GstElement) entry = gst_bin_get_by_name (GST_BIN (pipeline), entries[i]);
    g_autoptr (GstPad) sink = gst_element_get_static_pad (entry, "sink");
    kt_house_job_track_running_ms (sink, &decoded_ms[i]);
  }

  Linking *linking = g_new0 (Linking, 1);
  linking->want_video = probe->has_video;
  linking->want_audio = probe->has_audio;
  g_autoptr (GstElement) decode = gst_bin_get_by_name (GST_BIN (pipeline), "decode");
  g_signal_connect_data (decode, "pad-added", G_CALLBACK (on_pad_added), linking,
                         linking_free, 0);
  g_signal_connect (decode, "no-more-pads", G_CALLBACK (on_no_more_pads), NULL);
  g_info ("normalize source=%s frame=%dx%d+%d+%d segments=%u card=%s", source, plan->width,
          plan->height, plan->xpos, plan->ypos, plan->segments, probe->has_video ? "no" : "yes");
  return pipeline;
}

gint64
kt_normalize_decoded_us (GstElement *pipeline)
{
  gint *decoded_ms = g_object_get_data (G_OBJECT (pipeline), "kt-decoded-ms");
  if (decoded_ms == NULL)
    return 0;
  return (gint64) MAX (g_atomic_int_get (&decoded_ms[0]), g_atomic_int_get (&decoded_ms[1])) * 1000;
}
