/* kt-metrics: counters for /metrics and the Prometheus text they become.
 *
 * Prometheus scrapes text: per family a # HELP and a # TYPE line, then one
 * "name{label="value"} number" line per sample (exposition format 0.0.4).
 * Writing that is a few lines of printf, so there is no client library: the
 * families are written where their numbers live (kt-http-metrics.c asks each
 * module), and this file holds what is shared: the text helpers, a
 * histogram type any module can own (attendance owns its flush timings), and
 * the serving side's own numbers.
 *
 * Serving numbers are updated once per response, on whichever HTTP serving
 * thread wrote it (kt-http-threads.c): a hash lookup by route prefix (a
 * string from the route table, never the client's path, so the label set
 * is bounded by the table) and a few additions. One mutex for all threads
 * was measured to be a convoy: with eight serving threads on two cores, a
 * thread preempted while holding it stalled the others, and 6,000 viewers
 * saw 16,426 stalls where without the counting they saw none
 * (docs/serving.md). So each thread counts into a shard of its own (up to
 * N_SHARDS, assigned to threads in turn), whose lock only a scrape ever
 * contends for, and a scrape adds the shards up.
 *
 * Viewers are counted from the one thing every HLS player does on a live
 * channel: it reloads its variant playlist about once per target duration
 * (2 s). A player is a client key (address, User-Agent and query, hashed:
 * two TVs behind one address differ in their token or viewer id) that
 * reloaded a rendition within KT_METRICS_VIEWER_WINDOW_US. Switching
 * rendition moves a player from one count to the other within that window.
 * Behind an edge cache the origin sees the edges, not the people; the
 * heartbeat-fed attendance board counts people.
 */
#define G_LOG_DOMAIN "kt-metrics"

#include "kt-metrics.h"

#include <math.h>
#include <stdarg.h>

const double kt_metrics_latency_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                             0.05,   0.1,   0.25,   0.5,   1,    2.5, 5 };
const guint kt_metrics_n_latency_bounds = G_N_ELEMENTS (kt_metrics_latency_bounds);

/* Histograms. */

struct _KtHistogram {
  guint n_bounds;
  double *bounds;
  guint64 *counts; /* per bucket, not cumulative; the last is +Inf */
  guint64 count;
  double sum;
};

KtHistogram *
kt_histogram_new (const double *bounds, guint n_bounds)
{
  KtHistogram *h = g_new0 (KtHistogram, 1);
  h->n_bounds = n_bounds;
  h->bounds = g_memdup2 (bounds, n_bounds * sizeof (double));
  h->counts = g_new0 (guint64, n_bounds + 1);
  return h;
}

void
kt_histogram_free (KtHistogram *histogram)
{
  if (histogram == NULL)
    return;
  g_free (histogram->bounds);
  g_free (histogram->counts);
  g_free (histogram);
}

void
kt_histogram_observe (KtHistogram *h, double value)
{
  guint i = 0;
  while (i < h->n_bounds && value > h->bounds[i])
    i++;
  h->counts[i]++;
  h->count++;
  h->sum += value;
}

void
kt_histogram_add (KtHistogram *h, const KtHistogram *other)
{
  g_return_if_fail (h->n_bounds == other->n_bounds);
  for (guint i = 0; i <= h->n_bounds; i++)
    h->counts[i] += other->counts[i];
  h->count += other->count;
  h->sum += other->sum;
}

guint64
kt_histogram_count (const KtHistogram *histogram)
{
  return histogram->count;
}

/* The text format. */

static void
append_number (GString *out, double value)
{
  if (isinf (value))
    g_string_append (out, value > 0 ? "+Inf" : "-Inf");
  else if (value == floor (value) && fabs (value) < 1e15)
    g_string_append_printf (out, "%.0f", value);
  else {
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    g_string_append (out, g_ascii_formatd (buf, sizeof buf, "%.6g", value));
  }
}

static void
append_label_value (GString *out, const char *value)
{
  for (const char *p = value; *p; p++) {
    if (*p == '\\' || *p == '"')
      g_string_append_c (out, '\\'), g_string_append_c (out, *p);
    else if (*p == '\n')
      g_string_append (out, "\\n");
    else
      g_string_append_c (out, *p);
  }
}

void
kt_metrics_family (GString *out, const char *name, const char *type, const char *help)
{
  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
append_sample_v (GString *out, const char *name, double value, va_list labels)
{
  g_string_append (out, name);
  guint n = 0;
  for (const char *label; (label = va_arg (labels, const char *)) != NULL; n++) {
    g_string_append_printf (out, "%s%s=\"", n == 0 ? "{" : ",", label);
    append_label_value (out, va_arg (labels, const char *));
    g_string_append_c (out, '"');
  }
  g_string_append (out, n > 0 ? "} " : " ");
  append_number (out, value);
  g_string_append_c (out, '\n');
}

void
kt_metrics_sample (GString *out, const char *name, double value, ...)
{
  va_list labels;
  va_start (labels, value);
  append_sample_v (out, name, value, labels);
  va_end (labels);
}

void
kt_metrics_histogram (GString *out, const char *name, const KtHistogram *h, const char *label,
                      const char *value)
{
  g_autofree char *bucket = g_strconcat (name, "_bucket", NULL);
  g_autofree char *sum = g_strconcat (name, "_sum", NULL);
  g_autofree char *count = g_strconcat (name, "_count", NULL);
  guint64 cumulative = 0;
  char le[G_ASCII_DTOSTR_BUF_SIZE];

  for (guint i = 0; i <= h->n_bounds; i++) {
    cumulative += h->counts[i];
    if (i < h->n_bounds)
      g_ascii_formatd (le, sizeof le, "%g", h->bounds[i]);
    else
      g_strlcpy (le, "+Inf", sizeof le);
    if (label != NULL)
      kt_metrics_sample (out, bucket, cumulative, label, value, "le", le, NULL);
    else
      kt_metrics_sample (out, bucket, cumulative, "le", le, NULL);
  }
  /* With @label NULL the list of pairs simply ends at once. */
  kt_metrics_sample (out, sum, h->sum, label, value, NULL);
  kt_metrics_sample (out, count, h->count, label, value, NULL);
}

/* The serving side's numbers. */

#define N_STATUS_CLASSES 6 /* index status / 100: 1xx … 5xx; 0: the client left first */

typedef struct {
  char *route;
  guint64 requests[N_STATUS_CLASSES];
  guint64 bytes;
  guint64 alone; /* answered by a serving thread alone */
  KtHistogram *latency;
} KtRouteStats;

typedef struct {
  guint64 client; /* first: the key g_int64_hash reads */
  gint64 last_us;
} KtViewerSeen;

typedef struct {
  char *channel;
  char *rendition;
  GHashTable *seen;  /* KtViewerSeen* (owned, also the key) */
  gint64 pruned_us;
} KtViewerSet;

#define N_SHARDS 16

typedef struct {
  GMutex lock;         /* guards both tables */
  GHashTable *routes;  /* prefix → KtRouteStats* (owned) */
  GHashTable *viewers; /* "channel\nrendition" → KtViewerSet* (owned) */
} KtMetricsShard;

struct _KtMetrics {
  KtMetricsShard shards[N_SHARDS];
};

/* The calling thread's shard: threads take shard numbers in turn, so the
 * first N_SHARDS threads never share one. */
static KtMetricsShard *
my_shard (KtMetrics *metrics)
{
  static gint next_shard;
  static __thread gint shard = -1;
  if (shard < 0)
    shard = (gint) ((guint) g_atomic_int_add (&next_shard, 1) % N_SHARDS);
  return &metrics->shards[shard];
}

static void
route_stats_free (gpointer data)
{
  KtRouteStats *r = data;
  g_free (r->route);
  kt_histogram_free (r->latency);
  g_free (r);
}

static void
viewer_set_free (gpointer data)
{
  KtViewerSet *v = data;
  g_free (v->channel);
  g_free (v->rendition);
  g_hash_table_destroy (v->seen);
  g_free (v);
}

KtMetrics *
kt_metrics_new (void)
{
  KtMetrics *metrics = g_new0 (KtMetrics, 1);
  for (guint i = 0; i < N_SHARDS; i++) {
    KtMetricsShard *shard = &metrics->shards[i];
    g_mutex_init (&shard->lock);
    shard->routes = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, route_stats_free);
    shard->viewers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, viewer_set_free);
  }
  return metrics;
}

void
kt_metrics_free (KtMetrics *metrics)
{
  if (metrics == NULL)
    return;
  for (guint i = 0; i < N_SHARDS; i++) {
    KtMetricsShard *shard = &metrics->shards[i];
    g_hash_table_destroy (shard->routes);
    g_hash_table_destroy (shard->viewers);
    g_mutex_clear (&shard->lock);
  }
  g_free (metrics);
}

/* @route's stats in @routes, made when missing. */
static KtRouteStats *
route_stats (GHashTable *routes, const char *route)
{
  KtRouteStats *r = g_hash_table_lookup (routes, route);
  if (r == NULL) {
    r = g_new0 (KtRouteStats, 1);
    r->route = g_strdup (route);
    r->latency = kt_histogram_new (kt_metrics_latency_bounds, kt_metrics_n_latency_bounds);
    g_hash_table_insert (routes, r->route, r);
  }
  return r;
}

void
kt_metrics_count_request (KtMetrics *metrics, const char *route, guint status, guint64 bytes,
                          double seconds, gboolean alone)
{
  if (route == NULL)
    route = "none";
  KtMetricsShard *shard = my_shard (metrics);
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&shard->lock);
  KtRouteStats *r = route_stats (shard->routes, route);
  r->requests[status / 100 < N_STATUS_CLASSES ? status / 100 : 0]++;
  r->bytes += bytes;
  r->alone += alone ? 1 : 0;
  kt_histogram_observe (r->latency, seconds);
}

/* FNV-1a: a client key only has to tell players apart, not resist anyone. */
static guint64
client_hash (const char *client)
{
  guint64 h = G_GUINT64_CONSTANT (14695981039346656037);
  for (const guchar *p = (const guchar *) client; *p; p++)
    h = (h ^ *p) * G_GUINT64_CONSTANT (1099511628211);
  return h;
}

static guint
prune_viewers (KtViewerSet *v, gint64 now_us)
{
  GHashTableIter iter;
  KtViewerSeen *seen;
  g_hash_table_iter_init (&iter, v->seen);
  while (g_hash_table_iter_next (&iter, (gpointer *) &seen, NULL))
    if (now_us - seen->last_us > KT_METRICS_VIEWER_WINDOW_US)
      g_hash_table_iter_remove (&iter);
  v->pruned_us = now_us;
  return g_hash_table_size (v->seen);
}

/* @channel's @rendition set in @viewers, made when missing. */
static KtViewerSet *
viewer_set (GHashTable *viewers, const char *channel, const char *rendition, gint64 now_us)
{
  g_autofree char *key = g_strconcat (channel, "\n", rendition, NULL);
  KtViewerSet *v = g_hash_table_lookup (viewers, key);
  if (v == NULL) {
    v = g_new0 (KtViewerSet, 1);
    v->channel = g_strdup (channel);
    v->rendition = g_strdup (rendition);
    v->seen = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
    v->pruned_us = now_us;
    g_hash_table_insert (viewers, g_steal_pointer (&key), v);
  }
  return v;
}

void
kt_metrics_viewer_seen (KtMetrics *metrics, const char *channel, const char *rendition,
                        const char *client, gint64 now_us)
{
  KtMetricsShard *shard = my_shard (metrics);
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&shard->lock);
  KtViewerSet *v = viewer_set (shard->viewers, channel, rendition, now_us);
  guint64 id = client_hash (client);
  KtViewerSeen *seen = g_hash_table_lookup (v->seen, &id);
  if (seen == NULL) {
    seen = g_new (KtViewerSeen, 1);
    seen->client = id;
    g_hash_table_add (v->seen, seen);
  }
  seen->last_us = now_us;
  /* Players that left are dropped once per window, so the table holds at
   * most about two windows' worth of players. */
  if (now_us - v->pruned_us > KT_METRICS_VIEWER_WINDOW_US)
    prune_viewers (v, now_us);
}

static int
compare_routes (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(KtRouteStats *const *) a)->route, (*(KtRouteStats *const *) b)->route);
}

static int
compare_viewer_sets (gconstpointer a, gconstpointer b)
{
  const KtViewerSet *x = *(KtViewerSet *const *) a, *y = *(KtViewerSet *const *) b;
  int c = strcmp (x->channel, y->channel);
  return c != 0 ? c : strcmp (x->rendition, y->rendition);
}

/* Values of @table sorted, so that scrapes list samples in a stable order. */
static GPtrArray *
sorted_values (GHashTable *table, GCompareFunc compare)
{
  GPtrArray *out = g_ptr_array_sized_new (g_hash_table_size (table));
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (out, value);
  g_ptr_array_sort (out, compare);
  return out;
}

void
kt_metrics_write (KtMetrics *metrics, GString *out, gint64 now_us)
{
  static const char *const classes[N_STATUS_CLASSES] = { "aborted", "1xx", "2xx",
                                                         "3xx",   "4xx", "5xx" };
  /* The shards added up: per route, and per rendition the players seen by
   * any thread within the window (one player's connections may land on
   * several threads, so the sets are united, not added). */
  g_autoptr (GHashTable) all_routes =
      g_hash_table_new_full (g_str_hash, g_str_equal, NULL, route_stats_free);
  g_autoptr (GHashTable) all_viewers =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, viewer_set_free);
  for (guint i = 0; i < N_SHARDS; i++) {
    KtMetricsShard *shard = &metrics->shards[i];
    g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&shard->lock);
    GHashTableIter iter;
    KtRouteStats *r;
    g_hash_table_iter_init (&iter, shard->routes);
    while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &r)) {
      KtRouteStats *sum = route_stats (all_routes, r->route);
      for (guint c = 0; c < N_STATUS_CLASSES; c++)
        sum->requests[c] += r->requests[c];
      sum->bytes += r->bytes;
      sum->alone += r->alone;
      kt_histogram_add (sum->latency, r->latency);
    }
    KtViewerSet *v;
    g_hash_table_iter_init (&iter, shard->viewers);
    while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &v)) {
      prune_viewers (v, now_us);
      KtViewerSet *all = viewer_set (all_viewers, v->channel, v->rendition, now_us);
      GHashTableIter seen_iter;
      KtViewerSeen *seen;
      g_hash_table_iter_init (&seen_iter, v->seen);
      while (g_hash_table_iter_next (&seen_iter, (gpointer *) &seen, NULL))
        if (!g_hash_table_contains (all->seen, &seen->client))
          g_hash_table_add (all->seen, g_memdup2 (seen, sizeof *seen));
    }
  }
  g_autoptr (GPtrArray) routes = sorted_values (all_routes, compare_routes);

  kt_metrics_family (out, "ketang_http_requests_total", "counter",
                     "HTTP requests, per route (the route table's prefix) and status class (aborted: the client left before the answer was written)");
  for (guint i = 0; i < routes->len; i++) {
    const KtRouteStats *r = routes->pdata[i];
    for (guint c = 0; c < N_STATUS_CLASSES; c++)
      if (r->requests[c] > 0)
        kt_metrics_sample (out, "ketang_http_requests_total", r->requests[c], "route", r->route,
                           "status", classes[c], NULL);
  }
  kt_metrics_family (out, "ketang_http_answered_alone_total", "counter",
                     "Requests an HTTP serving thread answered without the main thread, per route "
                     "(segments, current playlists); the rest went through the main thread");
  for (guint i = 0; i < routes->len; i++) {
    const KtRouteStats *r = routes->pdata[i];
    kt_metrics_sample (out, "ketang_http_answered_alone_total", r->alone, "route", r->route, NULL);
  }
  kt_metrics_family (out, "ketang_http_response_bytes_total", "counter",
                     "Response body bytes sent, per route");
  for (guint i = 0; i < routes->len; i++) {
    const KtRouteStats *r = routes->pdata[i];
    kt_metrics_sample (out, "ketang_http_response_bytes_total", r->bytes, "route", r->route, NULL);
  }
  kt_metrics_family (out, "ketang_http_request_duration_seconds", "histogram",
                     "From a request's headers in to its last byte written, per route "
                     "(route=\"/media/\" is segment serving)");
  for (guint i = 0; i < routes->len; i++) {
    const KtRouteStats *r = routes->pdata[i];
    kt_metrics_histogram (out, "ketang_http_request_duration_seconds", r->latency, "route",
                          r->route);
  }

  g_autoptr (GPtrArray) sets = sorted_values (all_viewers, compare_viewer_sets);
  kt_metrics_family (out, "ketang_viewers", "gauge",
                     "Players that reloaded a channel's rendition playlist in the last 10 s");
  for (guint i = 0; i < sets->len; i++) {
    KtViewerSet *v = sets->pdata[i];
    kt_metrics_sample (out, "ketang_viewers", g_hash_table_size (v->seen), "channel", v->channel,
                       "rendition", v->rendition, NULL);
  }
}
