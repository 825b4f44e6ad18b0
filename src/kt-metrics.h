#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Numbers for /metrics (Prometheus text format 0.0.4) and the pieces that
 * write them. Everything here lives on the main context, like the HTTP
 * server that updates and reads it. */

/* A histogram with fixed upper bounds (in the unit it observes, seconds
 * here), as Prometheus wants it: counts per bucket, their sum and count. */
typedef struct _KtHistogram KtHistogram;

KtHistogram *kt_histogram_new (const double *bounds, guint n_bounds /* ascending */);
void kt_histogram_free (KtHistogram *histogram);
void kt_histogram_observe (KtHistogram *histogram, double value);
guint64 kt_histogram_count (const KtHistogram *histogram);
/* Add @other's observations to @histogram (the same bounds). */
void kt_histogram_add (KtHistogram *histogram, const KtHistogram *other);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtHistogram, kt_histogram_free)

/* Bounds for request latencies and database writes: 0.5 ms to 5 s. */
extern const double kt_metrics_latency_bounds[];
extern const guint kt_metrics_n_latency_bounds;

/* The serving side's counters: requests, bytes and latency per route, and
 * who is watching what. */
typedef struct _KtMetrics KtMetrics;

KtMetrics *kt_metrics_new (void);
void kt_metrics_free (KtMetrics *metrics);

/* One response finished: @route is the route table's prefix ("/media/"),
 * or NULL for a path no route takes. @seconds: from the request's headers
 * being in to the last byte handed to the kernel. @alone: an HTTP serving
 * thread answered it without the main thread. */
void kt_metrics_count_request (KtMetrics *metrics, const char *route, guint status, guint64 bytes,
                               double seconds, gboolean alone);
/* A variant playlist was fetched by @client (an opaque key) for @channel's
 * @rendition at @now_us. */
void kt_metrics_viewer_seen (KtMetrics *metrics, const char *channel, const char *rendition,
                             const char *client, gint64 now_us);
/* How long a player stays counted after its last playlist reload. */
#define KT_METRICS_VIEWER_WINDOW_US (G_GINT64_CONSTANT (10) * G_USEC_PER_SEC)

/* Append this object's families to @out. */
void kt_metrics_write (KtMetrics *metrics, GString *out, gint64 now_us);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtMetrics, kt_metrics_free)

/* The text format. A family's # HELP and # TYPE lines ("counter", "gauge",
 * "histogram"), then its samples. @labels: name, value pairs ending with
 * NULL (values are escaped here), or NULL for none. */
void kt_metrics_family (GString *out, const char *name, const char *type, const char *help);
void kt_metrics_sample (GString *out, const char *name, double value, ...) G_GNUC_NULL_TERMINATED;
/* A histogram's _bucket, _sum and _count samples, with one label pair
 * (or none when @label is NULL). */
void kt_metrics_histogram (GString *out, const char *name, const KtHistogram *histogram,
                           const char *label, const char *value);

G_END_DECLS
