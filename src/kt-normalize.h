#pragma once

#include <gst/gst.h>

#include "kt-probe.h"

G_BEGIN_DECLS

/* How one upload is fitted into the house format. */
typedef struct {
  int width, height; /* the picture inside 1280x720, display aspect kept, multiples of 4 */
  int xpos, ypos;    /* its top-left corner; around it the frame is black */
  guint segments;    /* output length in KT_SEGMENT_US segments */
  gint64 duration_us; /* segments × KT_SEGMENT_US */
} KtNormalizePlan;

/* The frame all video renditions are scaled from. */
#define KT_NORMALIZE_WIDTH 1280
#define KT_NORMALIZE_HEIGHT 720

/* What the file becomes: the input rounded up to whole segments (a last
 * partial frame's worth, 40 ms, is forgiven rather than padded to 2 s), and
 * the display-aspect picture fitted inside the frame, centred. */
void kt_normalize_plan (const KtProbe *probe, KtNormalizePlan *plan);

/* The pipeline (pipelines/normalize.pipeline) that turns @source into the
 * house format under @dir, per @plan. The decoder's pads link themselves
 * when it runs: the first video stream (if @probe has video) and the first
 * audio stream (if it has audio); a branch with no stream is ended, so the
 * output still has black picture or a silent track. @title goes on the
 * still card of an audio-only upload. Drive it with kt_house_job_start
 * (duration @plan->duration_us). */
GstElement *kt_normalize_build (const char *pipelines_dir, const char *source,
                                const KtProbe *probe, const KtNormalizePlan *plan,
                                const char *title, const char *dir, GError **error);

/* How far the file's own streams got into a pipeline from
 * kt_normalize_build, in running time, µs (readable after it stopped). */
gint64 kt_normalize_decoded_us (GstElement *pipeline);

/* A file whose decoded content ends this much before its probed length is
 * truncated. */
#define KT_NORMALIZE_SHORTFALL_US G_GINT64_CONSTANT (1000000)

G_END_DECLS
