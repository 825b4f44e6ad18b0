/* The direct path (src/kt-http-direct.c) from a client's side, on raw
 * sockets against the real server: what it answers itself comes back right
 * (whole segments, HEAD, Connection: close, heartbeats whose body follows
 * the head in the same packet, the channel list and guide the main thread
 * makes), and a connection whose request it does not
 * take (another route, a request split over two packets, HTTP/1.0, a
 * method the route refuses) goes to libsoup unread and stays usable, for
 * requests sent after it and for requests already sent behind it.
 *
 * Who answered is told by the Server header: libsoup adds its own product
 * token ("libsoup/3.2.3") to ketang's, the direct path names ketang alone. */
#include "kt-clock.h"
#include "test-utils.h"

static KtApp *app;
static char *segment;   /* a segment's path on channel 1 */
static GBytes *segment_bytes;

/* One whole response from @sock (@head: it answers a HEAD), removed from
 * the front of @pending, which keeps what came after it. */
static GString *
next_response (GSocket *sock, GString *pending, gboolean head)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  gsize len;
  while ((len = kt_test_whole_response (pending, head)) == 0) {
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    if (!kt_test_receive (sock, pending))
      g_error ("the server closed the connection before a whole response");
  }
  GString *response = g_string_new_len (pending->str, len);
  g_string_erase (pending, 0, len);
  return response;
}

static gboolean
answered_directly (const GString *response)
{
  /* The head is text; strstr stops at the body's first NUL at the latest. */
  const char *end = strstr (response->str, "\r\n\r\n");
  g_autofree char *head = g_strndup (response->str, end ? end - response->str : 0);
  return strstr (head, "\r\nServer: ketang/") != NULL && strstr (head, "libsoup") == NULL;
}

/* The response is 200 with the segment's bytes. */
static void
assert_segment (const GString *response)
{
  g_assert_true (g_str_has_prefix (response->str, "HTTP/1.1 200 "));
  const char *body = strstr (response->str, "\r\n\r\n") + 4;
  gsize size;
  const void *bytes = g_bytes_get_data (segment_bytes, &size);
  g_assert_cmpmem (body, response->len - (body - response->str), bytes, size);
}

static char *
get_request (const char *method, const char *path, const char *extra)
{
  return g_strdup_printf ("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", method, path,
                          extra ? extra : "");
}

static void
test_connection_kept_across_paths (void)
{
  g_autoptr (GSocket) sock = kt_test_connect (app);
  g_autoptr (GString) pending = g_string_new (NULL);
  g_autofree char *get = get_request ("GET", segment, NULL);
  g_autofree char *head = get_request ("HEAD", segment, NULL);

  kt_test_send_all (sock, get, strlen (get));
  g_autoptr (GString) first = next_response (sock, pending, FALSE);
  g_assert_true (answered_directly (first));
  assert_segment (first);
  g_assert_nonnull (strstr (first->str, "\r\nAccess-Control-Allow-Origin: *\r\n"));
  g_assert_nonnull (strstr (first->str, "\r\nContent-Type: video/mp2t\r\n"));
  g_assert_nonnull (strstr (first->str, "immutable"));

  kt_test_send_all (sock, head, strlen (head));
  g_autoptr (GString) headed = next_response (sock, pending, TRUE);
  g_assert_true (answered_directly (headed));
  g_autofree char *length = g_strdup_printf ("\r\nContent-Length: %" G_GSIZE_FORMAT "\r\n",
                                             g_bytes_get_size (segment_bytes));
  g_assert_nonnull (strstr (headed->str, length));
  g_assert_true (g_str_has_suffix (headed->str, "\r\n\r\n")); /* no body */

  /* A request for the route table with a segment request right behind it,
   * in one packet: the first moves the connection to libsoup with both
   * unread, and libsoup answers both, in order. */
  g_autofree char *health = get_request ("GET", "/healthz", NULL);
  g_autofree char *both = g_strconcat (health, get, NULL);
  kt_test_send_all (sock, both, strlen (both));
  g_autoptr (GString) healthz = next_response (sock, pending, FALSE);
  g_assert_true (g_str_has_prefix (healthz->str, "HTTP/1.1 200 "));
  g_assert_false (answered_directly (healthz));
  g_autoptr (GString) behind = next_response (sock, pending, FALSE);
  assert_segment (behind);

  /* And the connection is still kept alive by libsoup. */
  kt_test_send_all (sock, get, strlen (get));
  g_autoptr (GString) later = next_response (sock, pending, FALSE);
  assert_segment (later);
  g_assert_cmpuint (pending->len, ==, 0);
}

static void
test_connection_close (void)
{
  g_autoptr (GSocket) sock = kt_test_connect (app);
  g_autofree char *get = get_request ("GET", segment, "Connection: close\r\n");
  kt_test_send_all (sock, get, strlen (get));
  /* Read to the end: the server closes after one response. */
  g_autoptr (GString) all = kt_test_read_answer (sock, 10, FALSE);
  g_assert_cmpuint (kt_test_whole_response (all, FALSE), ==, all->len);
  g_assert_true (answered_directly (all));
  g_assert_nonnull (strstr (all->str, "\r\nConnection: close\r\n"));
  assert_segment (all);
}

/* A heartbeat whose body is in the same packet as its head is answered
 * directly, its body read exactly: the segment request right behind it is
 * answered directly too. */
static void
test_heartbeat_then_segment (void)
{
  g_autofree char *before = NULL;
  {
    g_autoptr (KtTestResponse) scrape = kt_test_get (app, "/metrics");
    before = kt_test_body_text (scrape);
  }
  const char *body = "{\"viewer\": \"d\", \"name\": \"李四\", \"channel\": \"1\", \"state\": \"playing\"}";
  g_autofree char *extra = g_strdup_printf (
      "Content-Type: application/json\r\nContent-Length: %zu\r\n", strlen (body));
  g_autofree char *post = get_request ("POST", "/api/heartbeat", extra);
  g_autofree char *get = get_request ("GET", segment, NULL);
  g_autofree char *both = g_strconcat (post, body, get, NULL);
  g_autoptr (GSocket) sock = kt_test_connect (app);
  g_autoptr (GString) pending = g_string_new (NULL);
  kt_test_send_all (sock, both, strlen (both));

  g_autoptr (GString) beat = next_response (sock, pending, FALSE);
  g_assert_true (g_str_has_prefix (beat->str, "HTTP/1.1 200 "));
  g_assert_true (answered_directly (beat));
  g_assert_nonnull (strstr (beat->str, "\r\nContent-Length: 0\r\n"));
  g_assert_nonnull (strstr (beat->str, "\r\nCache-Control: no-store\r\n"));
  g_autoptr (GString) seg = next_response (sock, pending, FALSE);
  g_assert_true (answered_directly (seg));
  assert_segment (seg);

  g_autoptr (KtTestResponse) scrape = kt_test_get (app, "/metrics");
  g_autofree char *after = kt_test_body_text (scrape);
  const char *counted = "ketang_http_answered_alone_total{route=\"/api/heartbeat\"}";
  g_assert_cmpfloat (kt_test_metric (after, counted) - kt_test_metric (before, counted), ==, 1);
}

/* The channel list, which the player page asks for every 15 s, and a
 * channel's guide for today are made on the main thread and given
 * directly: the page's connection stays. */
static void
test_channel_list (void)
{
  g_autoptr (GSocket) sock = kt_test_connect (app);
  g_autoptr (GString) pending = g_string_new (NULL);
  g_autofree char *list = get_request ("GET", "/api/channels", NULL);
  g_autofree char *get = get_request ("GET", segment, NULL);
  kt_test_send_all (sock, list, strlen (list));
  g_autoptr (GString) channels = next_response (sock, pending, FALSE);
  g_assert_true (g_str_has_prefix (channels->str, "HTTP/1.1 200 "));
  g_assert_true (answered_directly (channels));
  g_assert_nonnull (strstr (channels->str, "\r\nContent-Type: application/json; charset=utf-8\r\n"));
  g_autoptr (JsonParser) parser = json_parser_new ();
  const char *body = strstr (channels->str, "\r\n\r\n") + 4;
  g_assert_true (json_parser_load_from_data (parser, body, -1, NULL));
  JsonArray *array = json_object_get_array_member (
      json_node_get_object (json_parser_get_root (parser)), "channels");
  g_assert_cmpuint (json_array_get_length (array), >, 0);
  g_assert_cmpstr (
      json_object_get_string_member (json_array_get_object_element (array, 0), "id"), ==, "1");

  /* Today's guide of a channel, likewise; of a channel that is not there,
   * the route's 404 (through libsoup, which then has the connection). */
  g_autofree char *guide = get_request ("GET", "/api/channels/1/guide", NULL);
  kt_test_send_all (sock, guide, strlen (guide));
  g_autoptr (GString) lessons = next_response (sock, pending, FALSE);
  g_assert_true (g_str_has_prefix (lessons->str, "HTTP/1.1 200 "));
  g_assert_true (answered_directly (lessons));
  g_autoptr (JsonParser) guide_parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (guide_parser, strstr (lessons->str, "\r\n\r\n") + 4,
                                             -1, NULL));
  JsonObject *g = json_node_get_object (json_parser_get_root (guide_parser));
  g_assert_cmpstr (json_object_get_string_member (g, "channel"), ==, "1");
  g_assert_true (json_object_has_member (g, "lessons"));

  kt_test_send_all (sock, get, strlen (get));
  g_autoptr (GString) seg = next_response (sock, pending, FALSE);
  g_assert_true (answered_directly (seg));
  assert_segment (seg);

  g_autofree char *nowhere = get_request ("GET", "/api/channels/99/guide", NULL);
  kt_test_send_all (sock, nowhere, strlen (nowhere));
  g_autoptr (GString) missing = next_response (sock, pending, FALSE);
  g_assert_true (g_str_has_prefix (missing->str, "HTTP/1.1 404 "));
  g_assert_false (answered_directly (missing));
}

/* Requests the direct path leaves to libsoup, each on a fresh connection:
 * still answered as before. */
static void
test_left_to_libsoup (void)
{
  struct {
    const char *request;
    const char *status;
  } cases[] = {
    { "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", "HTTP/1.0 200 " },
    { "BREW %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "HTTP/1.1 405 " },
    { "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=0-187\r\n\r\n", "HTTP/1.1 206 " },
    /* The API's prefix alone: nothing to split (found by fuzz-http). */
    { "GET /api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Segment: %s\r\n\r\n", "HTTP/1.1 404 " },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *request = g_strdup_printf (cases[i].request, segment);
    g_autoptr (GSocket) sock = kt_test_connect (app);
    g_autoptr (GString) pending = g_string_new (NULL);
    kt_test_send_all (sock, request, strlen (request));
    g_autoptr (GString) response = next_response (sock, pending, FALSE);
    if (!g_str_has_prefix (response->str, cases[i].status))
      g_error ("%.30s… answered %.40s", request, response->str);
    g_assert_false (answered_directly (response));
  }

  /* A segment request and a heartbeat, each split over two packets. */
  g_autofree char *get = get_request ("GET", segment, NULL);
  const char *body = "{\"viewer\": \"e\", \"name\": \"王五\", \"channel\": \"1\", \"state\": \"playing\"}";
  g_autofree char *extra = g_strdup_printf ("Content-Length: %zu\r\n", strlen (body));
  g_autofree char *post = get_request ("POST", "/api/heartbeat", extra);
  g_autoptr (GSocket) sock = kt_test_connect (app);
  g_autoptr (GString) pending = g_string_new (NULL);
  kt_test_send_all (sock, get, 20);
  g_usleep (50 * 1000); /* let the server see the first part alone */
  kt_test_send_all (sock, get + 20, strlen (get) - 20);
  g_autoptr (GString) seg = next_response (sock, pending, FALSE);
  assert_segment (seg);
  kt_test_send_all (sock, post, strlen (post));
  g_usleep (50 * 1000);
  kt_test_send_all (sock, body, strlen (body));
  g_autoptr (GString) beat = next_response (sock, pending, FALSE);
  g_assert_true (g_str_has_prefix (beat->str, "HTTP/1.1 200 "));
  g_assert_nonnull (strstr (beat->str, "\r\nContent-Length: 0\r\n"));
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_autofree char *data = kt_test_mkdtemp ();
  const char *settings[] = { "demo.seconds=4", NULL };
  app = kt_test_app_start (data, TRUE, settings);
  kt_test_wait_on_air (app, "1");
  {
    segment = kt_test_first_segment (app, "/live/1/360p/index.m3u8");
    g_autoptr (KtTestResponse) whole = kt_test_get (app, segment);
    g_assert_cmpuint (whole->status, ==, 200);
    segment_bytes = g_bytes_ref (whole->body);
  }
  g_test_add_func ("/direct/connection-kept-across-paths", test_connection_kept_across_paths);
  g_test_add_func ("/direct/connection-close", test_connection_close);
  g_test_add_func ("/direct/heartbeat-then-segment", test_heartbeat_then_segment);
  g_test_add_func ("/direct/channel-list", test_channel_list);
  g_test_add_func ("/direct/left-to-libsoup", test_left_to_libsoup);
  int status = g_test_run ();
  g_bytes_unref (segment_bytes);
  g_free (segment);
  kt_app_free (app);
  kt_test_rmtree (data);
  return status;
}
