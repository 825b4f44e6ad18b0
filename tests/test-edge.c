/* The shipped edge config (deploy/nginx-edge.conf) in front of a real
 * ketang: a real nginx on loopback, its origin the in-process server airing
 * the demo. Forty viewers tune in through the edge, each with its own token;
 * a crowd asks for each new segment at the same moment; everyone sends a
 * heartbeat. The origin's /metrics must show one fetch per segment, far
 * fewer playlist loads than viewers made, and every heartbeat; each viewer's
 * master playlist keeps their own token; attendance counts every viewer; and
 * the edge does not hand out /metrics. The clock is fake and stands still,
 * so the live window does not move under the test, until the crowd's
 * blocking reloads (_HLS_msn of the next segment, as hls.js sends) have
 * reached the edge: they are held until the clock moves on to that
 * segment's slot, and cost the origin one request. */
#include <gio/gio.h>
#include <signal.h>

#include "kt-clock.h"
#include "test-utils.h"

#define VIEWERS 40

static char *
read_edge_config (const char *origin, guint edge_port, const char *cache_dir)
{
  g_autofree char *path = g_build_filename (g_getenv ("KETANG_DEPLOY_DIR"), "nginx-edge.conf", NULL);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  GString *conf = g_string_new (text);
  g_autofree char *listen = g_strdup_printf ("listen 127.0.0.1:%u;", edge_port);
  g_autofree char *server = g_strdup_printf ("server %s;", origin);
  /* Each marked line must be there, or the test would run another config. */
  g_assert_cmpuint (g_string_replace (conf, "listen 80;", listen, 1), ==, 1);
  g_assert_cmpuint (g_string_replace (conf, "server 127.0.0.1:8080;", server, 1), ==, 1);
  g_assert_cmpuint (g_string_replace (conf, "/var/cache/nginx/ketang", cache_dir, 1), ==, 1);
  return g_string_free (conf, FALSE);
}


typedef struct {
  char *dir;
  GSubprocess *process;
  gboolean exited;
  char *base; /* "http://127.0.0.1:PORT" */
} Edge;

static void
on_edge_exited (GObject *process, GAsyncResult *result, gpointer data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (process), result, NULL);
  *(gboolean *) data = TRUE;
}

static gboolean
start_edge (Edge *edge, KtApp *app)
{
  g_autofree char *nginx = g_find_program_in_path ("nginx");
  if (nginx == NULL && g_file_test ("/usr/sbin/nginx", G_FILE_TEST_IS_EXECUTABLE))
    nginx = g_strdup ("/usr/sbin/nginx");
  if (nginx == NULL)
    return FALSE;

  edge->dir = kt_test_mkdtemp ();
  guint port = kt_test_free_port (G_SOCKET_TYPE_STREAM);
  g_autoptr (GUri) origin_uri = g_uri_parse (kt_app_base_uri (app), G_URI_FLAGS_NONE, NULL);
  g_autofree char *origin = g_strdup_printf ("127.0.0.1:%d", g_uri_get_port (origin_uri));
  g_autofree char *cache = g_build_filename (edge->dir, "cache", NULL);
  g_autofree char *edge_conf = read_edge_config (origin, port, cache);
  g_autofree char *edge_path = g_build_filename (edge->dir, "edge.conf", NULL);
  g_assert_true (g_file_set_contents (edge_path, edge_conf, -1, NULL));
  /* A main config around it, as /etc/nginx/nginx.conf is. One process
   * (master_process off) runs as the test's user and ends with it. */
  g_autofree char *main_conf = g_strdup_printf (
      "daemon off;\nmaster_process off;\npid %s/nginx.pid;\nerror_log %s/error.log warn;\n"
      "events { worker_connections 1024; }\n"
      "http {\n  access_log off;\n  client_body_temp_path %s/body;\n  proxy_temp_path %s/proxy;\n"
      "  fastcgi_temp_path %s/fcgi;\n  uwsgi_temp_path %s/uwsgi;\n  scgi_temp_path %s/scgi;\n"
      "  include %s;\n}\n",
      edge->dir, edge->dir, edge->dir, edge->dir, edge->dir, edge->dir, edge->dir, edge_path);
  g_autofree char *main_path = g_build_filename (edge->dir, "nginx.conf", NULL);
  g_assert_true (g_file_set_contents (main_path, main_conf, -1, NULL));

  g_autoptr (GError) error = NULL;
  edge->process = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, nginx, "-c", main_path, "-p",
                                    edge->dir, NULL);
  g_assert_no_error (error);
  g_subprocess_wait_async (edge->process, NULL, on_edge_exited, &edge->exited);
  edge->base = g_strdup_printf ("http://127.0.0.1:%u", port);

  /* Ready when it accepts a connection; a bounded wait, not a sleep. */
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  for (;;) {
    g_autoptr (GSocketConnection) conn =
        g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, NULL);
    if (conn != NULL)
      break;
    while (g_main_context_iteration (NULL, FALSE))
      ;
    if (edge->exited || g_get_monotonic_time () > deadline) {
      g_autofree char *log_path = g_build_filename (edge->dir, "error.log", NULL);
      g_autofree char *log = NULL;
      g_file_get_contents (log_path, &log, NULL, NULL);
      g_error ("nginx did not start: %s", log ? log : "(no log)");
    }
    g_usleep (10000);
  }
  return TRUE;
}

static void
stop_edge (Edge *edge)
{
  g_subprocess_send_signal (edge->process, SIGQUIT);
  while (!edge->exited)
    g_main_context_iteration (NULL, TRUE);
  g_object_unref (edge->process);
  kt_test_rmtree (edge->dir);
  g_free (edge->dir);
  g_free (edge->base);
}

static KtTestResponse *
edge_get (Edge *edge, const char *path)
{
  g_autofree char *url = g_strconcat (edge->base, path, NULL);
  return kt_test_request_url ("GET", url, NULL, NULL, NULL, 0);
}

static double
origin_count (KtApp *app, const char *series)
{
  g_autoptr (KtTestResponse) r = kt_test_get (app, "/metrics");
  g_assert_cmpuint (r->status, ==, 200);
  g_autofree char *text = kt_test_body_text (r);
  return kt_test_metric (text, series);
}

typedef struct {
  guint pending;
  guint ok;
  gsize bytes;
  char *body; /* the last one */
} Crowd;

static void
on_crowd_fetched (GObject *source, GAsyncResult *result, gpointer data)
{
  Crowd *crowd = data;
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);
  g_autoptr (GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, NULL);
  if (body != NULL && soup_message_get_status (msg) == 200) {
    crowd->ok++;
    crowd->bytes = g_bytes_get_size (body);
    g_free (crowd->body);
    crowd->body = g_strndup (g_bytes_get_data (body, NULL), crowd->bytes);
  }
  crowd->pending--;
}

/* VIEWERS requests for @path, all in flight at once; the session, to be
 * waited for with crowd_wait. */
static SoupSession *
crowd_start (Edge *edge, const char *path, Crowd *crowd)
{
  SoupSession *session = soup_session_new_with_options (
      "max-conns", VIEWERS * 2, "max-conns-per-host", VIEWERS * 2, "timeout", 30, NULL);
  g_autofree char *url = g_strconcat (edge->base, path, NULL);
  *crowd = (Crowd) { VIEWERS, 0, 0, NULL };
  for (guint i = 0; i < VIEWERS; i++) {
    g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
    soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, on_crowd_fetched,
                                      crowd);
  }
  return session;
}

static void
crowd_wait (SoupSession *session, Crowd *crowd)
{
  while (crowd->pending > 0)
    g_main_context_iteration (NULL, TRUE);
  g_object_unref (session);
}

static void
crowd_fetch (Edge *edge, const char *path, Crowd *crowd)
{
  crowd_wait (crowd_start (edge, path, crowd), crowd);
}

static void
test_edge_carries_the_crowd (void)
{
  g_autofree char *data_dir = kt_test_mkdtemp ();
  const char *settings[] = { "demo.seconds=8", NULL };
  g_autoptr (KtApp) app = kt_test_app_start (data_dir, TRUE, settings);
  kt_test_wait_on_air (app, "1");
  Edge edge = { 0 };
  if (!start_edge (&edge, app)) {
    g_test_skip ("nginx is not installed (scripts/setup.sh installs it)");
    g_clear_pointer (&app, kt_app_free);
    kt_test_rmtree (data_dir);
    return;
  }

  double segments0 = origin_count (app, "ketang_http_requests_total{route=\"/media/\",status=\"2xx\"}");
  double playlists0 = origin_count (app, "ketang_http_requests_total{route=\"/live/\",status=\"2xx\"}");
  double beats0 = origin_count (app, "ketang_http_requests_total{route=\"/api/heartbeat\",status=\"2xx\"}");

  /* Each viewer tunes in with its own token: its master playlist must carry
   * that token on to the variants, and nobody else's. */
  g_autofree char *variant = NULL;
  for (guint i = 0; i < VIEWERS; i++) {
    g_autofree char *master_path = g_strdup_printf ("/live/1/index.m3u8?token=room-%02u", i);
    g_autoptr (KtTestResponse) master = edge_get (&edge, master_path);
    g_assert_cmpuint (master->status, ==, 200);
    g_autofree char *master_text = kt_test_body_text (master);
    g_autofree char *own = g_strdup_printf ("720p/index.m3u8?token=room-%02u\n", i);
    g_assert_nonnull (strstr (master_text, own));
    g_auto (GStrv) pieces = g_strsplit (master_text, "?token=", -1);
    g_assert_cmpuint (g_strv_length (pieces), ==, kt_n_renditions + 1);

    g_autoptr (KtTestResponse) r = edge_get (&edge, "/live/1/720p/index.m3u8");
    g_assert_cmpuint (r->status, ==, 200);
    g_free (variant);
    variant = kt_test_body_text (r);
  }

  /* The newest three segments, each asked for by the whole crowd at once. */
  KtTestPlaylist list;
  kt_test_playlist_parse (variant, &list);
  g_assert_cmpuint (list.uris->len, >=, 3);
  for (guint k = list.uris->len - 3; k < list.uris->len; k++) {
    Crowd crowd;
    crowd_fetch (&edge, list.uris->pdata[k], &crowd);
    g_assert_cmpuint (crowd.ok, ==, VIEWERS);
    g_autoptr (KtTestResponse) direct = kt_test_get (app, list.uris->pdata[k]);
    g_assert_cmpuint (crowd.bytes, ==, g_bytes_get_size (direct->body));
    g_free (crowd.body);
  }
  guint64 next = list.msn + list.uris->len; /* not listed yet */
  kt_test_playlist_clear (&list);

  /* The crowd's players ask for the playlist that lists the next segment
   * (blocking reload): held at the edge and the origin until its slot
   * begins, then answered together from one origin request. */
  double held0 = origin_count (app, "ketang_http_requests_total{route=\"/live/\",status=\"2xx\"}");
  g_autofree char *blocking = g_strdup_printf ("/live/1/720p/index.m3u8?_HLS_msn=%" G_GUINT64_FORMAT,
                                               next);
  Crowd held;
  SoupSession *held_session = crowd_start (&edge, blocking, &held);
  gint64 until = g_get_monotonic_time () + 500 * 1000;
  while (g_get_monotonic_time () < until)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (held.pending, ==, VIEWERS); /* nobody answered: slot not begun */
  kt_clock_advance (next * 2 * G_USEC_PER_SEC + 1000 - kt_clock_now_us ());
  crowd_wait (held_session, &held);
  g_assert_cmpuint (held.ok, ==, VIEWERS);
  KtTestPlaylist after;
  kt_test_playlist_parse (held.body, &after);
  g_assert_cmpuint (after.msn + after.uris->len - 1, ==, next);
  kt_test_playlist_clear (&after);
  g_free (held.body);
  double held_loads
      = origin_count (app, "ketang_http_requests_total{route=\"/live/\",status=\"2xx\"}") - held0;
  g_assert_cmpfloat (held_loads, <=, 2); /* one, or two if the lock was missed */

  /* Heartbeats pass through, each one. */
  for (guint i = 0; i < VIEWERS; i++) {
    g_autofree char *body = g_strdup_printf (
        "{\"viewer\": \"edge-viewer-%02u\", \"name\": \"学员%02u\", \"channel\": \"1\", "
        "\"state\": \"playing\"}", i, i);
    g_autofree char *url = g_strconcat (edge.base, "/api/heartbeat", NULL);
    g_autoptr (KtTestResponse) beat =
        kt_test_request_url ("POST", url, NULL, "application/json", body, strlen (body));
    g_assert_cmpuint (beat->status, ==, 200);
  }

  /* The origin's own count ("direct" fetches above add 3 segments). */
  double segments = origin_count (app, "ketang_http_requests_total{route=\"/media/\",status=\"2xx\"}") - segments0;
  double playlists = origin_count (app, "ketang_http_requests_total{route=\"/live/\",status=\"2xx\"}") - playlists0 - held_loads;
  double beats = origin_count (app, "ketang_http_requests_total{route=\"/api/heartbeat\",status=\"2xx\"}") - beats0;
  g_assert_cmpfloat (segments, ==, 3 + 3);
  /* Masters are per token (VIEWERS of them); the variant is shared, so
   * only a reload after its second is up reaches the origin again. */
  g_assert_cmpfloat (playlists, >=, VIEWERS + 1);
  g_assert_cmpfloat (playlists, <, VIEWERS + VIEWERS / 2);
  g_assert_cmpfloat (beats, ==, VIEWERS);

  /* Attendance: one session per viewer behind the edge. */
  g_autoptr (GError) error = NULL;
  g_assert_true (kt_attendance_flush (kt_app_attendance (app), kt_clock_now_us (), &error));
  sqlite3_stmt *stmt = NULL;
  sqlite3_prepare_v2 (kt_store_handle (kt_app_store (app)),
                      "SELECT count(DISTINCT viewer_key) FROM viewer_sessions WHERE channel = '1'",
                      -1, &stmt, NULL);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpint (sqlite3_column_int (stmt, 0), ==, VIEWERS);
  sqlite3_finalize (stmt);

  /* The origin's numbers are not the public's. */
  g_autoptr (KtTestResponse) metrics = edge_get (&edge, "/metrics");
  g_assert_cmpuint (metrics->status, ==, 404);

  stop_edge (&edge);
  g_clear_pointer (&app, kt_app_free);
  kt_test_rmtree (data_dir);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  kt_clock_set_fake (g_get_real_time ());
  g_test_add_func ("/edge/carries-the-crowd", test_edge_carries_the_crowd);
  return g_test_run ();
}
