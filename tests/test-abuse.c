/* HTTP abuse against the real server on a real port: a client that sends
 * its request a byte at a time, two thousand connections that never say
 * anything, hundreds of clients that hang up on an idle keep-alive
 * connection (each must give its descriptor back), a header of 100 KiB, and
 * malformed or hostile Range headers on a segment. None of them may stop the server answering everyone else, and
 * a valid range still gets exactly its bytes. The server runs on this
 * thread's main context, so "answering everyone else" is checked by making
 * ordinary requests while the abusive ones are open: a server blocked on
 * one client would never answer them. */
#include <sys/resource.h>

#include "kt-clock.h"
#include "test-utils.h"

static KtApp *app;

static void
assert_healthy (void)
{
  g_autoptr (KtTestResponse) r = kt_test_get (app, "/healthz");
  g_assert_cmpuint (r->status, ==, 200);
}

static void
test_slow_client (void)
{
  const char *request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  g_autoptr (GSocket) slow = kt_test_connect (app);
  /* One byte at a time; between bytes, other viewers are served. */
  for (const char *p = request; *p; p++) {
    kt_test_send_all (slow, p, 1);
    if ((p - request) % 8 == 0)
      assert_healthy ();
  }
  /* And the slow client itself is served once its request is whole. */
  g_autoptr (GString) answer = kt_test_read_answer (slow, 10, FALSE);
  g_assert_true (g_str_has_prefix (answer->str, "HTTP/1.1 200"));
}

static void
test_idle_connections (void)
{
  /* Two thousand connections in this process (the server's end of each is
   * here too): make room for both ends. */
  struct rlimit limit;
  getrlimit (RLIMIT_NOFILE, &limit);
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < 4500) {
    g_test_skip ("the hard limit on open files is below 4500");
    return;
  }
  limit.rlim_cur = MAX (limit.rlim_cur, 4500);
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &limit), ==, 0);

  g_autoptr (GPtrArray) idle = g_ptr_array_new_with_free_func (g_object_unref);
  for (int i = 0; i < 2000; i++)
    g_ptr_array_add (idle, kt_test_connect (app));
  for (int i = 0; i < 50; i++)
    g_main_context_iteration (NULL, FALSE);
  assert_healthy ();
  g_autoptr (KtTestResponse) page = kt_test_get (app, "/");
  g_assert_cmpuint (page->status, ==, 200);
  g_ptr_array_set_size (idle, 0);
  assert_healthy ();
}

/* libsoup 3.2 kept the server's end of a keep-alive connection open for
 * ever once its client hung up between requests (kt-http-closed.c): a
 * descriptor per browser tab or VLC that ever closed one. */
static void
test_hung_up_keepalive_connections (void)
{
  const char *request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  guint before = kt_test_open_descriptors ();
  for (int i = 0; i < 300; i++) {
    g_autoptr (GSocket) sock = kt_test_connect (app);
    kt_test_send_all (sock, request, strlen (request));
    g_autoptr (GString) answer = kt_test_read_answer (sock, 10, TRUE);
    g_assert_true (g_str_has_prefix (answer->str, "HTTP/1.1 200"));
    g_assert_null (strstr (answer->str, "Connection: close"));
    g_socket_close (sock, NULL);
  }
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (kt_test_open_descriptors () > before + 5 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (kt_test_open_descriptors (), <=, before + 5);
  assert_healthy ();
}

static void
test_huge_header (void)
{
  g_autoptr (GString) request = g_string_new ("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Junk: ");
  for (int i = 0; i < 100 * 1024; i++)
    g_string_append_c (request, 'a' + i % 26);
  g_string_append (request, "\r\nConnection: close\r\n\r\n");
  g_autoptr (GSocket) sock = kt_test_connect (app);
  kt_test_send_all (sock, request->str, request->len);
  g_autoptr (GString) answer = kt_test_read_answer (sock, 10, FALSE);
  /* Refused (400 or 431) or cut off, but never a crash or a hang. */
  g_assert_true (answer->len == 0 || !g_str_has_prefix (answer->str, "HTTP/1.1 5"));
  assert_healthy ();
}

static void
test_ranges (void)
{
  kt_test_wait_on_air (app, "1");
  g_autofree char *segment = kt_test_first_segment (app, "/live/1/360p/index.m3u8");
  g_autoptr (KtTestResponse) whole = kt_test_get (app, segment);
  g_assert_cmpuint (whole->status, ==, 200);
  gsize size;
  const guint8 *bytes = g_bytes_get_data (whole->body, &size);

  /* A valid range: exactly its bytes. */
  const char *first[] = { "Range", "bytes=188-375", NULL };
  g_autoptr (KtTestResponse) part = kt_test_request (app, "GET", segment, first);
  g_assert_cmpuint (part->status, ==, 206);
  gsize part_size;
  const guint8 *part_bytes = g_bytes_get_data (part->body, &part_size);
  g_assert_cmpuint (part_size, ==, 188);
  g_assert_cmpmem (part_bytes, part_size, bytes + 188, 188);

  /* Hostile ones: answered with the whole, a 206 or a 416, never worse. */
  g_autoptr (GString) many = g_string_new ("bytes=");
  for (int i = 0; i < 2000; i++)
    g_string_append_printf (many, "%s%d-%d", i ? "," : "", i, i);
  const char *hostile[] = { "bytes=abc", "bytes=5-1", "bytes=-0", "bytes=99999999999-",
                            "bytes=0-18446744073709551616", "items=0-1", "bytes=--1", many->str };
  for (guint i = 0; i < G_N_ELEMENTS (hostile); i++) {
    const char *headers[] = { "Range", hostile[i], NULL };
    g_autoptr (KtTestResponse) r = kt_test_request (app, "GET", segment, headers);
    if (r->status != 200 && r->status != 206 && r->status != 416)
      g_error ("Range: %.40s gave %u", hostile[i], r->status);
    if (r->status == 200)
      g_assert_cmpuint (g_bytes_get_size (r->body), ==, size);
  }
  assert_healthy ();
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_autofree char *data = kt_test_mkdtemp ();
  const char *settings[] = { "demo.seconds=4", NULL };
  app = kt_test_app_start (data, TRUE, settings);
  g_test_add_func ("/abuse/slow-client", test_slow_client);
  g_test_add_func ("/abuse/idle-connections", test_idle_connections);
  g_test_add_func ("/abuse/hung-up-keepalive-connections", test_hung_up_keepalive_connections);
  g_test_add_func ("/abuse/huge-header", test_huge_header);
  g_test_add_func ("/abuse/ranges", test_ranges);
  int status = g_test_run ();
  kt_app_free (app);
  kt_test_rmtree (data);
  return status;
}
