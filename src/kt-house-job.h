#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define KT_HOUSE_JOB_ERROR (kt_house_job_error_quark ())
GQuark kt_house_job_error_quark (void);

typedef enum {
  KT_HOUSE_JOB_ERROR_PIPELINE, /* GStreamer reported an error */
  KT_HOUSE_JOB_ERROR_OUTPUT,   /* renditions disagree or files are missing */
  KT_HOUSE_JOB_ERROR_STOPPED,  /* stopped before the end (shutdown) */
  KT_HOUSE_JOB_ERROR_STALLED,  /* no picture encoded for too long (kt_house_job_watch) */
} KtHouseJobError;

/* A running pipeline that writes one item in the house format: its template
 * names one splitmuxsink per rendition, "rend_<rendition>" (rend_720p,
 * rend_360p, rend_audio), each writing <dir>/<rendition>/%05d.ts. The job
 * makes every rendition cut at the same instants, follows progress, and on
 * EOS checks that each rendition has exactly the expected segments. */
typedef struct _KtHouseJob KtHouseJob;

/* @error is NULL on success. Called once, on the main context. */
typedef void (*KtHouseJobDone) (KtHouseJob *job, const GError *error, gpointer user_data);

/* Takes ownership of @pipeline, even on failure (it must have every rend_* sink), and sets
 * it PLAYING. @duration_us is the length of the output, a whole number of
 * segments. */
KtHouseJob *kt_house_job_start (GstElement *pipeline, const char *dir, gint64 duration_us,
                                KtHouseJobDone done, gpointer user_data, GError **error);
/* 0.0 … 1.0: the encoded running time against the output's length; 1.0
 * only once finished. */
double kt_house_job_progress (KtHouseJob *job);
/* Running time encoded so far (the 720p rendition), µs. */
gint64 kt_house_job_encoded_us (KtHouseJob *job);
/* When (monotonic µs) the first encoded picture came out, 0 before: what
 * came before it was start-up, not encoding. */
gint64 kt_house_job_encoding_since_us (KtHouseJob *job);
/* Fail the job (KT_HOUSE_JOB_ERROR_STALLED, through @done) when its 720p
 * rendition gets no new picture for @stall_seconds of kt-clock time, start-up
 * included: a pipeline wedged on a file no element reports an error for
 * would otherwise hold its slot forever. Its pipeline is then stopped as a
 * job cut short is (kt_house_job_free). */
void kt_house_job_watch (KtHouseJob *job, guint stall_seconds);
guint kt_house_job_segment_count (KtHouseJob *job);
const char *kt_house_job_dir (KtHouseJob *job);
/* Stops the pipeline without calling @done (cut short: on a thread of its
 * own, kt-pipeline-stop.h). */
void kt_house_job_free (KtHouseJob *job);

/* Borrowed while the job lives; stopped (NULL) once @done was called. */
GstElement *kt_house_job_pipeline (KtHouseJob *job);

/* Keep in *@ms (written atomically by @pad's streaming thread) the end of
 * the latest buffer through @pad, in running time, milliseconds. @ms must
 * outlive the pipeline's streaming. */
void kt_house_job_track_running_ms (GstPad *pad, gint *ms);

/* The kt_renditions index of sink "rend_<rendition>" @src, or -1 for
 * another element (a bus message's source). */
int kt_house_job_rendition_of (GstObject *src);

/* The names of the required elements, NULL-terminated, for kt_pipeline_build. */
const char *const *kt_house_job_required_elements (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtHouseJob, kt_house_job_free)

G_END_DECLS
