/* kt-pipeline-stop: stopping a pipeline in the middle of its stream.
 *
 * A render or an import is cut short when its item is deleted, when the
 * server stops, or when a test frees its app a moment after a slate started
 * rendering. Setting such a pipeline to NULL from the main thread can wedge
 * it for ever: GStreamer 1.22's splitmuxsink (every house-format job writes
 * through three of them) deactivates its internal queue, which waits for
 * that queue's streaming thread, while that thread sits in splitmuxsink's
 * own pad probe waiting on a condition the state change never signals.
 * Caught in test-attendance (gdb: the main thread in gst_pad_stop_task
 * under kt_house_job_free, the queue's thread in g_cond_wait inside
 * libgstmultifile); others met it too, and the cure they found is the one
 * here: drain before NULL.
 *
 * So a pipeline to stop is handed to a thread of its own, and the caller
 * goes on at once. That thread sends EOS, waits (DRAIN_US at most) for it
 * or an error to reach the bus, so that no buffer is in flight through
 * splitmuxsink when the state changes, flushes what a drain left (see
 * kt_pipeline_drain), and only then sets NULL and drops
 * the pipeline, and with it whatever the caller tied to it (@after: a job's
 * memory its pad probes still write). If GStreamer wedges all the same, only
 * that thread is stuck; kt_pipeline_stops_wait, at shutdown, waits a bounded
 * time and says how many were left behind.
 *
 * The caller must have removed its bus watch first: the bus is this
 * thread's from then on.
 */
#define G_LOG_DOMAIN "kt-pipeline"

#include "kt-pipeline-stop.h"

#define DRAIN_US (3 * G_USEC_PER_SEC)

typedef struct {
  GstElement *pipeline;
  GDestroyNotify after;
  gpointer data;
} KtPipelineStop;

static GMutex stops_lock;
static GCond stops_done;
static guint stops_running;

static const char *
drain_eos (GstElement *pipeline, gint64 timeout_us)
{
  GstState state = GST_STATE_NULL;
  gst_element_get_state (pipeline, &state, NULL, 0);
  /* EOS only travels through a pipeline that streams; one still prerolling
   * has no buffer in flight through its sinks to drain. */
  if (state != GST_STATE_PLAYING || !gst_element_send_event (pipeline, gst_event_new_eos ()))
    return "without draining (not playing)";
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  g_autoptr (GstMessage) end = gst_bus_timed_pop_filtered (bus, timeout_us * GST_USECOND,
                                                           GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  return end == NULL                                  ? "not drained in time"
         : GST_MESSAGE_TYPE (end) == GST_MESSAGE_EOS ? "drained"
                                                      : "ended by an error";
}

const char *
kt_pipeline_drain (GstElement *pipeline, gint64 timeout_us)
{
  const char *how = drain_eos (pipeline, timeout_us);
  /* Then flush: a buffer still in flight (not drained in time, or held in
   * preroll) can keep a streaming thread waiting inside splitmuxsink's
   * probe, on a condition its own state change would signal only after
   * its children's pads are stopped, which waits for that very thread. A
   * drain did not always prevent it (a wedged stop in a CI run of
   * test-attendance). FLUSH_START is not serialized, so it gets past a
   * held stream lock, and splitmuxsink wakes its waiters on it. */
  gst_element_send_event (pipeline, gst_event_new_flush_start ());
  return how;
}

static gpointer
stop_pipeline (gpointer data)
{
  KtPipelineStop *stop = data;
  gint64 started_us = g_get_monotonic_time ();
  const char *how = kt_pipeline_drain (stop->pipeline, DRAIN_US);
  gst_element_set_state (stop->pipeline, GST_STATE_NULL);
  g_debug ("pipeline=%s stopped mid-stream %s in %.2f s", GST_OBJECT_NAME (stop->pipeline), how,
           (g_get_monotonic_time () - started_us) / 1e6);
  gst_object_unref (stop->pipeline);
  if (stop->after)
    stop->after (stop->data);
  g_free (stop);

  g_mutex_lock (&stops_lock);
  stops_running--;
  g_cond_broadcast (&stops_done);
  g_mutex_unlock (&stops_lock);
  return NULL;
}

void
kt_pipeline_stop (GstElement *pipeline, GDestroyNotify after, gpointer data)
{
  KtPipelineStop *stop = g_new0 (KtPipelineStop, 1);
  *stop = (KtPipelineStop){ pipeline, after, data };
  g_mutex_lock (&stops_lock);
  stops_running++;
  g_mutex_unlock (&stops_lock);
  g_thread_unref (g_thread_new ("kt-pipeline-stop", stop_pipeline, stop));
}

gboolean
kt_pipeline_stops_wait (gint64 timeout_us)
{
  gint64 deadline = g_get_monotonic_time () + timeout_us;
  g_mutex_lock (&stops_lock);
  while (stops_running > 0 && g_cond_wait_until (&stops_done, &stops_lock, deadline))
    ;
  guint left = stops_running;
  g_mutex_unlock (&stops_lock);
  if (left > 0)
    g_warning ("%u pipeline(s) did not stop within %d s (GStreamer can wedge a pipeline stopped "
               "mid-stream); left behind",
               left, (int)(timeout_us / G_USEC_PER_SEC));
  return left == 0;
}
