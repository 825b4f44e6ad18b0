/* /metrics on the real server: the demo channel airs, simulated players
 * fetch playlists and segments and send a heartbeat, and the scrape after
 * that traffic must show requests, bytes, segment latencies, viewers per
 * rendition, the attendance flush and an SQLite failure counted, and the
 * viewers gone once they stop reloading (on a fake clock). Also who may
 * read it: loopback without a proxy header, or the bearer token. */
#include "kt-clock.h"
#include "test-utils.h"

static char *data_dir;
static KtApp *app;

static char *
scrape (KtApp *target, const char *const *headers, guint expect_status)
{
  g_autoptr (KtTestResponse) r = kt_test_request (target, "GET", "/metrics", headers);
  g_assert_cmpuint (r->status, ==, expect_status);
  if (expect_status == 200)
    g_assert_true (g_str_has_prefix (soup_message_headers_get_one (r->headers, "Content-Type"),
                                     "text/plain; version=0.0.4"));
  return kt_test_body_text (r);
}

static gsize
get_size (const char *path, const char *query)
{
  g_autofree char *full = g_strconcat (path, query, NULL);
  g_autoptr (KtTestResponse) r = kt_test_get (app, full);
  g_assert_cmpuint (r->status, ==, 200);
  return g_bytes_get_size (r->body);
}

static char *
playlist_as (const char *rendition, const char *viewer)
{
  g_autofree char *path = g_strdup_printf ("/live/1/%s/index.m3u8?viewer=%s", rendition, viewer);
  g_autoptr (KtTestResponse) r = kt_test_get (app, path);
  g_assert_cmpuint (r->status, ==, 200);
  return kt_test_body_text (r);
}

static void
test_counters_move_with_traffic (void)
{
  g_autofree char *before = scrape (app, NULL, 200);

  get_size ("/live/1/index.m3u8", "?viewer=a");
  g_autofree char *a = playlist_as ("720p", "a");
  g_autofree char *b = playlist_as ("360p", "b");
  g_autofree char *c = playlist_as ("720p", "c");
  KtTestPlaylist list;
  kt_test_playlist_parse (a, &list);
  g_assert_cmpuint (list.uris->len, >=, 2);
  gsize segment_bytes = get_size (list.uris->pdata[0], "") + get_size (list.uris->pdata[1], "");
  kt_test_playlist_clear (&list);

  g_autoptr (KtTestResponse) beat = kt_test_request_body (
      app, "POST", "/api/heartbeat", NULL, "application/json",
      "{\"viewer\": \"a\", \"name\": \"张三\", \"channel\": \"1\", \"state\": \"playing\"}");
  g_assert_cmpuint (beat->status, ==, 200);
  /* Empty, and said to be so: a player keeps its connection for the next. */
  g_assert_cmpstr (soup_message_headers_get_one (beat->headers, "Content-Length"), ==, "0");
  g_assert_cmpuint (g_bytes_get_size (beat->body), ==, 0);
  g_autoptr (KtTestResponse) astray = kt_test_request_body (
      app, "POST", "/api/heartbeat", NULL, "application/json",
      "{\"viewer\": \"a\", \"name\": \"张三\", \"channel\": \"99\", \"state\": \"playing\"}");
  g_assert_cmpuint (astray->status, ==, 404);
  kt_clock_advance (6 * G_USEC_PER_SEC); /* past flush_seconds: the batch is written */
  g_assert_false (kt_store_exec (kt_app_store (app), "SELECT nothing FROM no_such_table", NULL));

  g_autofree char *after = scrape (app, NULL, 200);
#define MOVED(series) (kt_test_metric (after, series) - kt_test_metric (before, series))
  g_assert_cmpfloat (MOVED ("ketang_http_requests_total{route=\"/live/\",status=\"2xx\"}"), ==, 4);
  g_assert_cmpfloat (MOVED ("ketang_http_requests_total{route=\"/media/\",status=\"2xx\"}"), ==, 2);
  /* Viewer c's playlist was already built in this slot, and the second
   * segment's item was known after the first: the serving threads answered
   * those alone, and the person's heartbeat on channel 1; the one naming
   * no channel went to the main thread, which refused it. */
  g_assert_cmpfloat (MOVED ("ketang_http_answered_alone_total{route=\"/live/\"}"), >=, 1);
  g_assert_cmpfloat (MOVED ("ketang_http_answered_alone_total{route=\"/media/\"}"), >=, 1);
  g_assert_cmpfloat (MOVED ("ketang_http_answered_alone_total{route=\"/api/heartbeat\"}"), ==, 1);
  g_assert_cmpfloat (MOVED ("ketang_http_requests_total{route=\"/api/heartbeat\",status=\"2xx\"}"),
                     ==, 1);
  g_assert_cmpfloat (MOVED ("ketang_http_requests_total{route=\"/api/heartbeat\",status=\"4xx\"}"),
                     ==, 1);
  g_assert_cmpfloat (MOVED ("ketang_http_response_bytes_total{route=\"/media/\"}"), ==,
                     segment_bytes);
  g_assert_cmpfloat (MOVED ("ketang_http_request_duration_seconds_count{route=\"/media/\"}"), ==,
                     2);
  g_assert_cmpfloat (
      MOVED ("ketang_http_request_duration_seconds_bucket{route=\"/media/\",le=\"+Inf\"}"), ==, 2);
  g_assert_cmpfloat (MOVED ("ketang_attendance_flush_seconds_count"), >=, 1);
  g_assert_cmpfloat (MOVED ("ketang_sqlite_errors_total{code=\"1\",reason=\"SQL logic error\"}"),
                     ==, 1);
  /* The scrape before counts itself once it is written. */
  g_assert_cmpfloat (MOVED ("ketang_http_requests_total{route=\"/metrics\",status=\"2xx\"}"), ==, 1);
#undef MOVED
  g_assert_cmpfloat (kt_test_metric (after, "ketang_viewers{channel=\"1\",rendition=\"720p\"}"), ==, 2);
  g_assert_cmpfloat (kt_test_metric (after, "ketang_viewers{channel=\"1\",rendition=\"360p\"}"), ==, 1);
  g_assert_cmpfloat (kt_test_metric (after, "ketang_channel_state{channel=\"1\",state=\"on-air\"}"), ==, 1);
  g_assert_cmpfloat (kt_test_metric (after, "ketang_channel_state{channel=\"1\",state=\"off-air\"}"), ==, 0);
  g_assert_cmpfloat (kt_test_metric (after, "ketang_normalization_jobs_finished_total{result=\"ready\"}"),
                     >=, 1); /* the demo lesson */
  g_assert_nonnull (strstr (after, "# TYPE ketang_live_input_up gauge\n"));

  /* Players that stop reloading leave the count after the window; one
   * that goes on reloading stays. */
  kt_clock_advance (KT_METRICS_VIEWER_WINDOW_US - 2 * G_USEC_PER_SEC);
  g_autofree char *again = playlist_as ("720p", "c");
  kt_clock_advance (4 * G_USEC_PER_SEC);
  g_autofree char *later = scrape (app, NULL, 200);
  g_assert_cmpfloat (kt_test_metric (later, "ketang_viewers{channel=\"1\",rendition=\"720p\"}"), ==, 1);
  g_assert_cmpfloat (kt_test_metric (later, "ketang_viewers{channel=\"1\",rendition=\"360p\"}"), ==, 0);
}

static void
test_proxied_requests_are_not_local (void)
{
  const char *headers[] = { "X-Forwarded-For", "203.0.113.9", NULL };
  g_autofree char *text = scrape (app, headers, 403);
  g_assert_nonnull (strstr (text, "\"forbidden\""));
}

static void
test_token_lets_a_scraper_in (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  const char *settings[] = { "metrics.token=correct-horse-battery", "metrics.allow_loopback=false",
                             NULL };
  g_autoptr (KtApp) guarded = kt_test_app_start (dir, FALSE, settings);

  g_autoptr (KtTestResponse) none = kt_test_get (guarded, "/metrics");
  g_assert_cmpuint (none->status, ==, 401);
  g_assert_cmpstr (soup_message_headers_get_one (none->headers, "WWW-Authenticate"), ==,
                   "Bearer realm=\"ketang metrics\"");
  const char *wrong[] = { "Authorization", "Bearer correct-horse-batterx", NULL };
  g_free (scrape (guarded, wrong, 401));
  const char *right[] = { "Authorization", "Bearer correct-horse-battery", NULL };
  g_autofree char *text = scrape (guarded, right, 200);
  g_assert_nonnull (strstr (text, "\nketang_build_info{version=\""));

  g_clear_pointer (&guarded, kt_app_free);
  kt_test_rmtree (dir);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  /* Fake time from the start, so the attendance flush timer runs on it. */
  kt_clock_set_fake (g_get_real_time ());
  data_dir = kt_test_mkdtemp ();
  const char *settings[] = { "demo.seconds=4", NULL };
  app = kt_test_app_start (data_dir, TRUE, settings);
  kt_test_wait_on_air (app, "1");

  g_test_add_func ("/metrics/counters-move-with-traffic", test_counters_move_with_traffic);
  g_test_add_func ("/metrics/proxied-requests-are-not-local", test_proxied_requests_are_not_local);
  g_test_add_func ("/metrics/token-lets-a-scraper-in", test_token_lets_a_scraper_in);
  int rc = g_test_run ();
  kt_app_free (app);
  kt_test_rmtree (data_dir);
  g_free (data_dir);
  return rc;
}
