/* kt-http-metrics: GET /metrics, ketang's numbers in Prometheus text format.
 *
 * Who may read it. The numbers tell how many people watch what and how the
 * server fares, which is an operator's business, and a scraper cannot log
 * in with a password and a CSRF token. So the route is "public" in the
 * route table and decides here, like the heartbeat route: a request with
 * "Authorization: Bearer <[metrics] token>" may read from anywhere; without
 * a token, a client on the loopback interface may read when
 * [metrics] allow_loopback is on (the default: Prometheus or node_exporter's
 * textfile collector on the same box needs no secret). A request relayed by
 * a proxy on the same machine arrives from loopback too, so one that carries
 * a forwarding header is never taken as local; the shipped edge config also
 * refuses /metrics itself.
 *
 * What it says. Each family is written from the module that owns the
 * number, at scrape time: serving (requests, bytes, latency per route,
 * viewers per channel and rendition) from KtMetrics; channel state from the
 * channels; normalization jobs from the library; attendance flush timings
 * from attendance; SQLite failures from the store. Live inputs do not exist
 * in this build yet (there is no kt-live); their families are declared with
 * no samples so dashboards can be drawn now and fill in when inputs come.
 */
#define G_LOG_DOMAIN "kt-http"

#include "kt-build-config.h"
#include "kt-clock.h"
#include "kt-http.h"
#include "kt-live.h"
#include "kt-metrics.h"

#include <glib/gstdio.h>

#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

static gboolean
from_loopback (SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  if (soup_message_headers_get_one (headers, "X-Forwarded-For") != NULL ||
      soup_message_headers_get_one (headers, "X-Real-IP") != NULL ||
      soup_message_headers_get_one (headers, "Forwarded") != NULL)
    return FALSE;
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  return G_IS_INET_SOCKET_ADDRESS (remote) &&
         g_inet_address_get_is_loopback (
             g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
}

/* Compares digests, so the time taken says nothing about the token. */
static gboolean
bearer_matches (SoupServerMessage *msg, const char *token)
{
  const char *auth = soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "Authorization");
  if (token[0] == '\0' || auth == NULL || g_ascii_strncasecmp (auth, "Bearer ", 7) != 0)
    return FALSE;
  g_autofree char *given = g_compute_checksum_for_string (G_CHECKSUM_SHA256, auth + 7, -1);
  g_autofree char *wanted = g_compute_checksum_for_string (G_CHECKSUM_SHA256, token, -1);
  guchar diff = 0;
  for (guint i = 0; given[i] && wanted[i]; i++)
    diff |= given[i] ^ wanted[i];
  return diff == 0;
}

static void
write_channels (KtApp *app, GString *out, gint64 now_us)
{
  static const KtChannelState states[] = { KT_CHANNEL_STATE_OFF_AIR, KT_CHANNEL_STATE_PREPARING,
                                           KT_CHANNEL_STATE_ON_AIR };
  GPtrArray *channels = kt_app_channels (app);
  kt_metrics_family (out, "ketang_channel_state", "gauge",
                     "1 for the state each channel is in now, 0 for the others");
  for (guint i = 0; i < channels->len; i++) {
    KtChannel *channel = channels->pdata[i];
    KtChannelState state = kt_channel_state (channel, now_us);
    for (guint s = 0; s < G_N_ELEMENTS (states); s++)
      kt_metrics_sample (out, "ketang_channel_state", state == states[s], "channel",
                         kt_channel_id (channel), "state", kt_channel_state_name (states[s]),
                         NULL);
  }
}

/* Live talks (kt-live): whether each is on air from its speaker now, how
 * many segments it aired, and the bit rate of its last 720p segment — what
 * the ladder made of the input, which is what viewers get. */
static void
write_live (KtApp *app, GString *out)
{
  KtLive *live = kt_app_live (app);
  g_autoptr (GArray) talks = live ? kt_live_talks (live) : NULL;
  kt_metrics_family (out, "ketang_live_input_up", "gauge",
                     "1 while a live talk's speaker is connected and on air, else 0");
  for (guint i = 0; talks && i < talks->len; i++) {
    const KtLiveTalkInfo *t = &g_array_index (talks, KtLiveTalkInfo, i);
    kt_metrics_sample (out, "ketang_live_input_up", t->state == KT_LIVE_TALK_LIVE, "input",
                       t->input, "channel", t->channel, NULL);
  }
  kt_metrics_family (out, "ketang_live_input_segments_total", "counter",
                     "Segments a live talk aired (and recorded)");
  for (guint i = 0; talks && i < talks->len; i++) {
    const KtLiveTalkInfo *t = &g_array_index (talks, KtLiveTalkInfo, i);
    kt_metrics_sample (out, "ketang_live_input_segments_total", t->segments, "input", t->input,
                       "channel", t->channel, NULL);
  }
  kt_metrics_family (out, "ketang_live_input_bitrate_bits", "gauge",
                     "Bits per second of a live talk's last 720p segment");
  for (guint i = 0; talks && i < talks->len; i++) {
    const KtLiveTalkInfo *t = &g_array_index (talks, KtLiveTalkInfo, i);
    if (t->item_id == NULL || t->segments == 0)
      continue;
    g_autofree char *path = kt_library_segment_path (kt_app_library (app), t->item_id,
                                                     kt_rendition_find ("720p"), t->segments - 1);
    GStatBuf st;
    if (g_stat (path, &st) == 0)
      kt_metrics_sample (out, "ketang_live_input_bitrate_bits",
                         (double) st.st_size * 8 * G_USEC_PER_SEC / KT_SEGMENT_US, "input",
                         t->input, "channel", t->channel, NULL);
  }
}

static void
write_library (KtApp *app, GString *out)
{
  KtLibrary *library = kt_app_library (app);
  guint64 ready, failed;
  kt_library_jobs_finished (library, &ready, &failed);
  kt_metrics_family (out, "ketang_normalization_jobs", "gauge",
                     "Media jobs (uploads, demo, slates) running now, and uploads waiting");
  kt_metrics_sample (out, "ketang_normalization_jobs", kt_library_jobs_running (library), "state",
                     "running", NULL);
  kt_metrics_sample (out, "ketang_normalization_jobs", kt_library_imports_queued (library),
                     "state", "queued", NULL);
  kt_metrics_family (out, "ketang_normalization_jobs_finished_total", "counter",
                     "Media jobs ended since start, by result");
  kt_metrics_sample (out, "ketang_normalization_jobs_finished_total", ready, "result", "ready",
                     NULL);
  kt_metrics_sample (out, "ketang_normalization_jobs_finished_total", failed, "result", "failed",
                     NULL);
}

static void
write_storage (KtApp *app, GString *out)
{
  KtAttendance *attendance = kt_app_attendance (app);
  if (attendance != NULL) {
    guint64 failures;
    const KtHistogram *timings = kt_attendance_flush_timings (attendance, &failures);
    kt_metrics_family (out, "ketang_attendance_flush_seconds", "histogram",
                       "Time to write one batch of heartbeats to the database");
    kt_metrics_histogram (out, "ketang_attendance_flush_seconds", timings, NULL, NULL);
    kt_metrics_family (out, "ketang_attendance_flush_failures_total", "counter",
                       "Heartbeat batches the database refused (kept in memory, retried)");
    kt_metrics_sample (out, "ketang_attendance_flush_failures_total", failures, NULL);
  }
  kt_metrics_family (out, "ketang_sqlite_errors_total", "counter",
                     "Failures SQLite reported, by primary result code");
  for (int code = 1; code < 256; code++) {
    guint n = kt_store_error_count (code);
    if (n == 0)
      continue;
    char number[8];
    g_snprintf (number, sizeof number, "%d", code);
    kt_metrics_sample (out, "ketang_sqlite_errors_total", n, "code", number, "reason",
                       sqlite3_errstr (code), NULL);
  }
  kt_metrics_family (out, "ketang_segment_cache_bytes", "gauge",
                     "Segment file bytes kept mapped, ready to serve");
  kt_metrics_sample (out, "ketang_segment_cache_bytes",
                     kt_segment_store_cached_bytes (kt_app_segments (app)), NULL);
}

void
kt_http_metrics_handle (KtApp *app, KtRequest *request)
{
  SoupServerMessage *msg = request->msg;
  const KtConfig *config = kt_app_config (app);
  const char *token = kt_config_get_string (config, "metrics", "token");

  if (request->n_parts > 0) {
    kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such page");
    return;
  }
  if (!bearer_matches (msg, token) &&
      !(kt_config_get_bool (config, "metrics", "allow_loopback") && from_loopback (msg))) {
    if (token[0] != '\0') {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                    "WWW-Authenticate", "Bearer realm=\"ketang metrics\"");
      kt_http_error (msg, SOUP_STATUS_UNAUTHORIZED, "unauthenticated",
                     "/metrics needs the scrape token ([metrics] token)");
    } else {
      kt_http_error (msg, SOUP_STATUS_FORBIDDEN, "forbidden",
                     "/metrics is served to this machine only; set [metrics] token to scrape "
                     "from elsewhere");
    }
    return;
  }

  gint64 now = kt_clock_now_us ();
  GString *out = g_string_sized_new (16384);
  kt_metrics_family (out, "ketang_build_info", "gauge", "The running ketang's version");
  kt_metrics_sample (out, "ketang_build_info", 1, "version", KT_VERSION, NULL);
  kt_metrics_write (kt_app_metrics (app), out, now);
  write_channels (app, out, now);
  write_live (app, out);
  write_library (app, out);
  write_storage (app, out);

  gsize len = out->len;
  g_autoptr (GBytes) bytes = g_bytes_new_take (g_string_free (out, FALSE), len);
  kt_http_bytes (msg, bytes, METRICS_TYPE, "no-store");
}
