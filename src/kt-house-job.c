/* kt-house-job: run one pipeline that writes an item in the house format.
 *
 * Whatever the source (the generated demo lesson, an upload, later a live
 * talk's recording), the output contract is the same: every rendition of the
 * item is a directory of MPEG-TS segments of exactly KT_SEGMENT_US, and
 * segment N of every rendition covers the same instants. The pipeline
 * template provides the graph; this module drives and checks it.
 *
 * Cutting. The video renditions' splitmuxsinks cut on max-size-time with
 * send-keyframe-requests, and the encoders' GOP equals a segment, so both
 * cut at exact multiples of 2 s. The audio-only sink has no keyframes to
 * guide it and, left to max-size-time, cuts a frame early each time (it keeps
 * each file under the limit) and ends with a sliver of a segment. So the
 * template disables its max-size-time and this job queues
 * "split-at-running-time" at every segment boundary before the pipeline
 * starts: the audio rendition then cuts at the first AAC frame at or after
 * each boundary, within one frame (21 ms) of the video cuts.
 *
 * Progress is the running time of the last encoded 720p frame, against the
 * output's length; a buffer probe on that sink pad stores it (an atomic, the
 * one field a streaming thread writes). "splitmuxsink-fragment-opened"
 * element messages count the segments each rendition opened, for the check
 * at the end. Bus messages are handled by a bus watch on the main context,
 * so @done runs there too.
 *
 * Stalls. A pipeline can wedge without an error: an element waiting for
 * data that never comes (a track whose samples stop, a demuxer waiting on
 * an index it will not find) leaves every queue full and no message on the
 * bus. kt_house_job_watch checks the encoded running time on a kt-clock
 * timer and, when it has not moved for the limit, fails the job through
 * @done like any error. Only the caller knows whether that is right (an
 * upload: yes; a render driven by a live source: no), so it is asked for,
 * not built in. The pipeline is then stopped as a cut-short job is (on a
 * thread of its own, kt-pipeline-stop.c), since it is mid-stream.
 */
#define G_LOG_DOMAIN "kt-house-job"

#include "kt-house-job.h"
#include "kt-clock.h"
#include "kt-hls.h"
#include "kt-pipeline-stop.h"

#include <errno.h>
#include <glib/gstdio.h>

G_DEFINE_QUARK (kt-house-job-error-quark, kt_house_job_error)

struct _KtHouseJob {
  GstElement *pipeline;
  guint bus_watch;
  char *dir;
  gint64 duration_us;
  guint expected_segments;
  guint opened[8]; /* fragments opened, per kt_renditions index */
  gint encoded_ms; /* atomic: end of the last 720p buffer in running time, written by
                      its streaming thread's pad probe, read on the main context */
  gint64 first_encoded_us; /* atomic: monotonic time of the first 720p buffer, 0 before */
  KtHouseJobDone done;
  gpointer user_data;
  gboolean playing; /* prerolled and set to PLAYING */
  gboolean finished;
  /* kt_house_job_watch: its timer (0: none), the limit, and the encoded
   * time it last saw move, and when (kt-clock). */
  guint watchdog;
  gint64 stall_us;
  gint watched_ms;
  gint64 moved_at_us;
};

static const char *const required_elements[] = { "rend_720p", "rend_360p", "rend_audio", NULL };

const char *const *
kt_house_job_required_elements (void)
{
  return required_elements;
}

int
kt_house_job_rendition_of (GstObject *src)
{
  g_autofree char *name = gst_object_get_name (src);
  if (name == NULL || !g_str_has_prefix (name, "rend_"))
    return -1;
  const KtRendition *r = kt_rendition_find (name + 5);
  return r ? (int) (r - kt_renditions) : -1;
}

static void
queue_audio_splits (KtHouseJob *job)
{
  g_autoptr (GstElement) audio = gst_bin_get_by_name (GST_BIN (job->pipeline), "rend_audio");
  for (guint k = 1; k < job->expected_segments; k++)
    g_signal_emit_by_name (audio, "split-at-running-time",
                           (guint64) (k * KT_SEGMENT_US * GST_USECOND));
}

static GstPadProbeReturn
on_buffer_track (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  gint *ms = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  g_autoptr (GstEvent) event = gst_pad_get_sticky_event (pad, GST_EVENT_SEGMENT, 0);
  const GstSegment *segment = NULL;
  if (event)
    gst_event_parse_segment (event, &segment);
  GstClockTime ts = GST_BUFFER_DTS_OR_PTS (buf);
  if (segment && segment->format == GST_FORMAT_TIME && GST_CLOCK_TIME_IS_VALID (ts)) {
    if (GST_BUFFER_DURATION_IS_VALID (buf))
      ts += GST_BUFFER_DURATION (buf);
    guint64 running = gst_segment_to_running_time (segment, GST_FORMAT_TIME, ts);
    if (GST_CLOCK_TIME_IS_VALID (running))
      g_atomic_int_set (ms, (gint) MIN (running / GST_MSECOND, G_MAXINT));
  }
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
on_first_encoded (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  __atomic_store_n ((gint64 *) user_data, g_get_monotonic_time (), __ATOMIC_RELEASE);
  return GST_PAD_PROBE_REMOVE;
}

void
kt_house_job_track_running_ms (GstPad *pad, gint *ms)
{
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer_track, ms, NULL);
}

static gboolean
check_output (KtHouseJob *job, GError **error)
{
  for (guint i = 0; i < kt_n_renditions; i++) {
    if (job->opened[i] != job->expected_segments) {
      g_set_error (error, KT_HOUSE_JOB_ERROR, KT_HOUSE_JOB_ERROR_OUTPUT,
                   "rendition %s has %u segments, expected %u", kt_renditions[i].name,
                   job->opened[i], job->expected_segments);
      return FALSE;
    }
    for (guint k = 0; k < job->expected_segments; k++) {
      g_autofree char *file = g_strdup_printf ("%05u.ts", k);
      g_autofree char *path = g_build_filename (job->dir, kt_renditions[i].name, file, NULL);
      GStatBuf st;
      if (g_stat (path, &st) != 0 || st.st_size == 0) {
        g_set_error (error, KT_HOUSE_JOB_ERROR, KT_HOUSE_JOB_ERROR_OUTPUT,
                     "segment %s is missing or empty", path);
        return FALSE;
      }
    }
  }
  return TRUE;
}

static void
finish (KtHouseJob *job, GError *error /* (transfer full), NULL on success */)
{
  if (job->finished)
    return;
  job->finished = TRUE;
  /* The bus watch returns G_SOURCE_REMOVE after this; forget it now, since
   * @done may free the job. */
  job->bus_watch = 0;
  if (job->watchdog) {
    kt_clock_timer_remove (job->watchdog);
    job->watchdog = 0;
  }
  gst_element_set_state (job->pipeline, GST_STATE_NULL);
  if (job->done)
    job->done (job, error, job->user_data);
  g_clear_error (&error);
}

static gboolean
on_bus_message (GstBus *bus, GstMessage *msg, gpointer user_data)
{
  KtHouseJob *job = user_data;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT: {
      const GstStructure *s = gst_message_get_structure (msg);
      if (s && gst_structure_has_name (s, "splitmuxsink-fragment-opened")) {
        int r = kt_house_job_rendition_of (GST_MESSAGE_SRC (msg));
        if (r >= 0)
          job->opened[r]++;
      }
      break;
    }
    case GST_MESSAGE_ASYNC_DONE:
      if (!job->playing && GST_MESSAGE_SRC (msg) == GST_OBJECT (job->pipeline)) {
        job->playing = TRUE;
        queue_audio_splits (job);
        gst_element_set_state (job->pipeline, GST_STATE_PLAYING);
      }
      break;
    case GST_MESSAGE_EOS: {
      GError *error = NULL;
      if (!check_output (job, &error))
        g_warning ("job dir=%s failed: %s", job->dir, error->message);
      else
        g_info ("job dir=%s done segments=%u", job->dir, job->expected_segments);
      finish (job, error);
      return G_SOURCE_REMOVE;
    }
    case GST_MESSAGE_ERROR: {
      g_autoptr (GError) gst_error = NULL;
      g_autofree char *debug = NULL;
      gst_message_parse_error (msg, &gst_error, &debug);
      g_warning ("job dir=%s pipeline error from %s: %s (%s)", job->dir,
                 GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), gst_error->message,
                 debug ? debug : "");
      finish (job, g_error_new (KT_HOUSE_JOB_ERROR, KT_HOUSE_JOB_ERROR_PIPELINE, "%s",
                                gst_error->message));
      return G_SOURCE_REMOVE;
    }
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

KtHouseJob *
kt_house_job_start (GstElement *pipeline, const char *dir, gint64 duration_us,
                    KtHouseJobDone done, gpointer user_data, GError **error)
{
  g_return_val_if_fail (duration_us > 0 && duration_us % KT_SEGMENT_US == 0, NULL);

  g_autoptr (KtHouseJob) job = g_new0 (KtHouseJob, 1);
  job->pipeline = pipeline;
  job->dir = g_strdup (dir);
  job->duration_us = duration_us;
  job->expected_segments = duration_us / KT_SEGMENT_US;
  job->done = done;
  job->user_data = user_data;

  for (guint i = 0; i < kt_n_renditions; i++) {
    g_autofree char *sub = g_build_filename (dir, kt_renditions[i].name, NULL);
    if (g_mkdir_with_parents (sub, 0755) != 0) {
      g_set_error (error, KT_HOUSE_JOB_ERROR, KT_HOUSE_JOB_ERROR_OUTPUT, "cannot create %s: %s",
                   sub, g_strerror (errno));
      return NULL;
    }
  }

  g_autoptr (GstElement) rend = gst_bin_get_by_name (GST_BIN (pipeline), "rend_720p");
  g_autoptr (GstPad) video = rend ? gst_element_get_static_pad (rend, "video") : NULL;
  if (video) {
    kt_house_job_track_running_ms (video, &job->encoded_ms);
    gst_pad_add_probe (video, GST_PAD_PROBE_TYPE_BUFFER, on_first_encoded, &job->first_encoded_us,
                       NULL);
  }

  /* Prerolled first: splitmuxsink forgets queued split times when it goes
   * from READY to PAUSED, so they are queued on ASYNC_DONE, then PLAYING. */
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  job->bus_watch = gst_bus_add_watch (bus, on_bus_message, job);
  if (gst_element_set_state (pipeline, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE) {
    g_set_error (error, KT_HOUSE_JOB_ERROR, KT_HOUSE_JOB_ERROR_PIPELINE,
                 "the pipeline could not start");
    return NULL;
  }
  g_info ("job dir=%s started segments=%u", dir, job->expected_segments);
  return g_steal_pointer (&job);
}

/* Every few seconds of kt-clock time, on the main context. */
static gboolean
on_watchdog (gpointer data)
{
  KtHouseJob *job = data;
  gint64 now = kt_clock_now_us ();
  gint encoded_ms = g_atomic_int_get (&job->encoded_ms);
  if (encoded_ms != job->watched_ms) {
    job->watched_ms = encoded_ms;
    job->moved_at_us = now;
    return G_SOURCE_CONTINUE;
  }
  if (now - job->moved_at_us < job->stall_us)
    return G_SOURCE_CONTINUE;

  /* Not finish(): the pipeline is mid-stream, and setting it to NULL here
   * could wedge the main loop too. Without its bus watch nothing calls
   * @done again; kt_house_job_free stops the pipeline on its own thread. */
  job->watchdog = 0; /* G_SOURCE_REMOVE below removes the timer */
  g_clear_handle_id (&job->bus_watch, g_source_remove);
  /* No warning here: the error says it all, and the caller reports it. */
  g_info ("job dir=%s stalled", job->dir);
  g_autoptr (GError) error = g_error_new (KT_HOUSE_JOB_ERROR, KT_HOUSE_JOB_ERROR_STALLED,
                                          "no picture encoded for %" G_GINT64_FORMAT
                                          " s (at %.1f s of %.1f s)",
                                          job->stall_us / G_USEC_PER_SEC, encoded_ms / 1e3,
                                          job->duration_us / 1e6);
  if (job->done)
    job->done (job, error, job->user_data); /* may free the job */
  return G_SOURCE_REMOVE;
}

void
kt_house_job_watch (KtHouseJob *job, guint stall_seconds)
{
  g_return_if_fail (stall_seconds > 0 && !job->finished);
  if (job->watchdog)
    kt_clock_timer_remove (job->watchdog);
  job->stall_us = (gint64) stall_seconds * G_USEC_PER_SEC;
  job->watched_ms = g_atomic_int_get (&job->encoded_ms);
  job->moved_at_us = kt_clock_now_us ();
  job->watchdog = kt_clock_timer_add (MIN (stall_seconds, 5) * 1000, on_watchdog, job);
}

GstElement *
kt_house_job_pipeline (KtHouseJob *job)
{
  return job->pipeline;
}

double
kt_house_job_progress (KtHouseJob *job)
{
  if (job->finished)
    return 1.0;
  double done = kt_house_job_encoded_us (job) / (double) job->duration_us;
  return CLAMP (done, 0.0, 0.999); /* 1.0 only once the output checked out */
}

gint64
kt_house_job_encoded_us (KtHouseJob *job)
{
  return (gint64) g_atomic_int_get (&job->encoded_ms) * 1000;
}

gint64
kt_house_job_encoding_since_us (KtHouseJob *job)
{
  return __atomic_load_n (&job->first_encoded_us, __ATOMIC_ACQUIRE);
}

guint
kt_house_job_segment_count (KtHouseJob *job)
{
  return job->expected_segments;
}

const char *
kt_house_job_dir (KtHouseJob *job)
{
  return job->dir;
}

static void
job_memory_free (gpointer data)
{
  KtHouseJob *job = data;
  g_free (job->dir);
  g_free (job);
}

void
kt_house_job_free (KtHouseJob *job)
{
  if (job == NULL)
    return;
  if (job->bus_watch)
    g_source_remove (job->bus_watch);
  if (job->watchdog)
    kt_clock_timer_remove (job->watchdog);
  if (job->pipeline && !job->finished) {
    /* Cut short: stopped on a thread of its own (kt-pipeline-stop.c), as a
     * stop mid-stream can wedge; its pad probe writes encoded_ms until then,
     * so the job's memory goes with the pipeline. */
    kt_pipeline_stop (g_steal_pointer (&job->pipeline), job_memory_free, job);
    return;
  }
  if (job->pipeline) /* already NULL: finish() drained it first */
    gst_object_unref (job->pipeline);
  job_memory_free (job);
}
