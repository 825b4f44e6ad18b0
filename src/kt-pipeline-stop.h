#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* Stop @pipeline (transfer full) on a thread of its own: drain it (EOS,
 * a few seconds at most), set it to NULL, unref it, then call @after(@data)
 * there. Returns at once. Remove the pipeline's bus watch first. */
void kt_pipeline_stop (GstElement *pipeline, GDestroyNotify after, gpointer data);

/* Wait until every kt_pipeline_stop so far is done, @timeout_us at most;
 * FALSE, with a warning, if some are still stopping (wedged). */
gboolean kt_pipeline_stops_wait (gint64 timeout_us);

/* Send @pipeline EOS if it is playing and wait (@timeout_us at most) for
 * EOS or an error on its bus, then FLUSH_START, so that no buffer is in
 * flight when it is set to NULL. Its bus watch must be gone. Says how the
 * drain went, for a log line. */
const char *kt_pipeline_drain (GstElement *pipeline, gint64 timeout_us);

G_END_DECLS
