/* Test helpers; see test-utils.h. */
#include "test-utils.h"

#include <json-glib/json-glib.h>

#include <gst/app/gstappsink.h>
#include <gst/base/gsttypefindhelper.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/prctl.h>

#include "kt-auth.h"
#include "kt-clock.h"
#include "kt-config.h"
#include "kt-probe.h"

char *
kt_test_mkdtemp (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("ketang-test-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

void
kt_test_rmtree (const char *path)
{
  if (path == NULL)
    return;
  GStatBuf st;
  if (g_lstat (path, &st) != 0)
    return;
  if (S_ISDIR (st.st_mode)) {
    g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
    const char *name;
    while (dir && (name = g_dir_read_name (dir)) != NULL) {
      g_autofree char *child = g_build_filename (path, name, NULL);
      kt_test_rmtree (child);
    }
    g_rmdir (path);
  } else {
    g_unlink (path);
  }
}

KtApp *
kt_test_app_start (const char *data_dir, gboolean demo, const char *const *settings)
{
  g_autoptr (GError) error = NULL;
  KtConfig *config = kt_config_load (NULL, &error);
  g_assert_no_error (error);
  kt_config_override (config, "server", "listen", "127.0.0.1:0", "test", &error);
  g_assert_no_error (error);
  kt_config_override (config, "server", "data_dir", data_dir, "test", &error);
  g_assert_no_error (error);
  /* No timetable unless the test gives one. */
  g_autofree char *schedules = g_build_filename (data_dir, "schedules", NULL);
  g_mkdir_with_parents (schedules, 0755);
  kt_config_override (config, "server", "schedules_dir", schedules, "test", &error);
  g_assert_no_error (error);
  /* No SRT listener unless the test asks for one: tests run side by side. */
  kt_config_override (config, "live", "srt_listen", "", "test", &error);
  g_assert_no_error (error);
  for (int i = 0; settings && settings[i]; i++) {
    /* "group.key=value"; the group may hold dots itself (rtsp.<talk>.url). */
    g_auto (GStrv) kv = g_strsplit (settings[i], "=", 2);
    char *dot = strrchr (kv[0], '.');
    g_assert_nonnull (dot);
    *dot = '\0';
    kt_config_override (config, kv[0], dot + 1, kv[1], "test", &error);
    g_assert_no_error (error);
  }
  KtApp *app = kt_app_new (config, demo, &error);
  g_assert_no_error (error);
  kt_app_start (app, &error);
  g_assert_no_error (error);
  g_assert_nonnull (kt_app_base_uri (app));
  return app;
}

static gboolean
on_timeout_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

guint
kt_test_free_port (GSocketType type)
{
  GSocketProtocol protocol
      = type == G_SOCKET_TYPE_DATAGRAM ? G_SOCKET_PROTOCOL_UDP : G_SOCKET_PROTOCOL_TCP;
  g_autoptr (GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, type, protocol, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_assert_true (g_socket_bind (socket, any, FALSE, NULL));
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (socket, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

gboolean
kt_test_follow_clock (gint64 *followed, KtTestDone done, gpointer fixture, gpointer data,
                      double seconds)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);
  while (g_get_monotonic_time () < deadline) {
    while (g_main_context_iteration (NULL, FALSE))
      ;
    gint64 mono = g_get_monotonic_time ();
    kt_clock_advance (mono - *followed);
    *followed = mono;
    if (done && done (fixture, data))
      return TRUE;
    g_usleep (20000);
  }
  return FALSE;
}

void
kt_test_wait_on_air (KtApp *app, const char *channel_id)
{
  KtChannel *channel = kt_app_find_channel (app, channel_id);
  g_assert_nonnull (channel);
  gboolean timed_out = FALSE;
  guint timeout = g_timeout_add_seconds (60, on_timeout_flag, &timed_out);
  while (kt_channel_state (channel, kt_clock_now_us ()) == KT_CHANNEL_STATE_PREPARING && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!timed_out)
    g_source_remove (timeout);
  g_assert_cmpstr (kt_channel_state_name (kt_channel_state (channel, kt_clock_now_us ())), ==, "on-air");
}

void
kt_test_response_free (KtTestResponse *response)
{
  if (response == NULL)
    return;
  g_clear_pointer (&response->body, g_bytes_unref);
  g_clear_pointer (&response->headers, soup_message_headers_unref);
  g_free (response);
}

typedef struct {
  GBytes *body;
  GError *error;
  gboolean done;
} FetchState;

static void
on_fetched (GObject *source, GAsyncResult *result, gpointer data)
{
  FetchState *state = data;
  state->body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &state->error);
  state->done = TRUE;
}

KtTestResponse *
kt_test_request (KtApp *app, const char *method, const char *path, const char *const *headers)
{
  return kt_test_request_body (app, method, path, headers, NULL, NULL);
}

KtTestResponse *
kt_test_request_body (KtApp *app, const char *method, const char *path,
                      const char *const *headers, const char *content_type, const char *body)
{
  return kt_test_request_bytes (app, method, path, headers, content_type, body,
                                body ? strlen (body) : 0);
}

/* The tests' HTTP client, shared so connections are kept alive. */
static SoupSession *
test_session (void)
{
  static SoupSession *session = NULL;
  if (session == NULL)
    session = soup_session_new_with_options ("timeout", 30, NULL);
  return session;
}

void
kt_test_trust_certificate (const char *pem_path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GTlsDatabase) database = g_tls_file_database_new (pem_path, &error);
  g_assert_no_error (error);
  soup_session_set_tls_database (test_session (), database);
}

KtTestResponse *
kt_test_request_bytes (KtApp *app, const char *method, const char *path,
                       const char *const *headers, const char *content_type, const void *body,
                       gsize body_len)
{
  g_autofree char *base = g_strdup (kt_app_base_uri (app));
  base[strlen (base) - 1] = '\0'; /* drop the trailing slash */
  g_autofree char *url = g_strconcat (base, path, NULL);
  return kt_test_request_url (method, url, headers, content_type, body, body_len);
}

KtTestResponse *
kt_test_request_url (const char *method, const char *url, const char *const *headers,
                     const char *content_type, const void *body, gsize body_len)
{
  SoupSession *session = test_session ();

  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  g_assert_nonnull (msg);
  for (int i = 0; headers && headers[i] && headers[i + 1]; i += 2)
    soup_message_headers_replace (soup_message_get_request_headers (msg), headers[i],
                                  headers[i + 1]);
  if (body != NULL) {
    g_autoptr (GBytes) bytes = g_bytes_new (body, body_len);
    soup_message_set_request_body_from_bytes (msg, content_type, bytes);
  }

  FetchState state = { 0 };
  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, on_fetched, &state);
  while (!state.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_no_error (state.error);

  KtTestResponse *response = g_new0 (KtTestResponse, 1);
  response->status = soup_message_get_status (msg);
  response->body = state.body;
  response->headers = soup_message_headers_ref (soup_message_get_response_headers (msg));
  return response;
}

KtTestResponse *
kt_test_get (KtApp *app, const char *path)
{
  return kt_test_request (app, "GET", path, NULL);
}

double
kt_test_metric (const char *scrape, const char *series)
{
  g_autofree char *needle = g_strconcat ("\n", series, " ", NULL);
  const char *p = strstr (scrape, needle);
  return p ? g_ascii_strtod (p + strlen (needle), NULL) : 0;
}

char *
kt_test_body_text (KtTestResponse *response)
{
  gsize len;
  const char *data = g_bytes_get_data (response->body, &len);
  return g_strndup (data, len);
}

/* Raw HTTP: a plain socket, so nothing normalizes the request target. The
 * server runs on this thread's main context, so the exchange is driven with
 * non-blocking calls and main-context iterations. */
guint
kt_test_raw_status (KtApp *app, const char *request_line)
{
  g_autofree char *request = g_strdup_printf ("%s\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                                              request_line);
  return kt_test_raw_exchange (app, request);
}

guint
kt_test_raw_exchange (KtApp *app, const char *request)
{
  return kt_test_raw_exchange_len (app, request, strlen (request));
}

GSocket *
kt_test_connect (KtApp *app)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GUri) base = g_uri_parse (kt_app_base_uri (app), G_URI_FLAGS_NONE, &error);
  g_assert_no_error (error);
  GSocket *sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                &error);
  g_assert_no_error (error);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (loopback, g_uri_get_port (base));
  g_socket_set_blocking (sock, FALSE);
  if (!g_socket_connect (sock, addr, NULL, &error)) {
    g_assert_true (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING));
    while (g_socket_condition_check (sock, G_IO_OUT) == 0)
      g_main_context_iteration (NULL, FALSE);
  }
  return sock;
}

void
kt_test_send_all (GSocket *sock, const char *data, gsize len)
{
  for (gsize sent = 0; sent < len;) {
    g_autoptr (GError) error = NULL;
    gssize n = g_socket_send (sock, data + sent, len - sent, NULL, &error);
    if (n > 0)
      sent += n;
    else
      g_main_context_iteration (NULL, FALSE);
  }
}

/* The length of the first whole response in @answer (headers and
 * Content-Length bytes of body, none after a HEAD when @head), or 0. */
gsize
kt_test_whole_response (const GString *answer, gboolean head)
{
  const char *end = strstr (answer->str, "\r\n\r\n");
  if (end == NULL)
    return 0;
  g_autofree char *headers = g_ascii_strdown (answer->str, end - answer->str);
  const char *length = strstr (headers, "\r\ncontent-length: ");
  gsize need = end + 4 - answer->str + (length && !head ? atoi (length + 18) : 0);
  return length && answer->len >= need ? need : 0;
}

gboolean
kt_test_receive (GSocket *sock, GString *into)
{
  char buf[4096];
  g_autoptr (GError) error = NULL;
  gssize n = g_socket_receive (sock, buf, sizeof buf, NULL, &error);
  if (n > 0)
    g_string_append_len (into, buf, n);
  else if (n < 0)
    g_main_context_iteration (NULL, FALSE);
  return n != 0;
}

GString *
kt_test_read_answer (GSocket *sock, double deadline_s, gboolean one)
{
  GString *answer = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + (gint64) (deadline_s * G_USEC_PER_SEC);
  while (g_get_monotonic_time () < deadline && !(one && kt_test_whole_response (answer, FALSE)) &&
         kt_test_receive (sock, answer))
    ;
  return answer;
}

guint
kt_test_open_descriptors (void)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;
  while (dir && g_dir_read_name (dir))
    n++;
  return n;
}

guint
kt_test_raw_exchange_len (KtApp *app, const char *request, gsize len)
{
  g_autoptr (GSocket) sock = kt_test_connect (app);
  kt_test_send_all (sock, request, len);
  g_socket_shutdown (sock, FALSE, TRUE, NULL); /* all sent: the server sees the end */
  GString *answer = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (strstr (answer->str, "\r\n") == NULL && g_get_monotonic_time () < deadline &&
         kt_test_receive (sock, answer))
    ;
  guint status = 0;
  sscanf (answer->str, "HTTP/1.%*d %u", &status);
  g_string_free (answer, TRUE);
  return status;
}

/* Decoding. */

static void
on_pad_added (GstElement *decodebin, GstPad *pad, gpointer data)
{
  GstBin *pipeline = data;
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  const char *name = gst_structure_get_name (gst_caps_get_structure (caps, 0));
  GstElement *sink = gst_element_factory_make ("appsink", NULL);
  g_object_set (sink, "sync", FALSE, "emit-signals", FALSE, "max-buffers", 0, "wait-on-eos", FALSE, NULL);
  g_object_set_data_full (G_OBJECT (sink), "media", g_strdup (name), g_free);
  gst_bin_add (pipeline, sink);
  gst_element_sync_state_with_parent (sink);
  g_autoptr (GstPad) sinkpad = gst_element_get_static_pad (sink, "sink");
  g_assert_cmpint (gst_pad_link (pad, sinkpad), ==, GST_PAD_LINK_OK);
}

void
kt_test_decode (GBytes *data, KtTestDecoded *out)
{
  memset (out, 0, sizeof *out);
  out->first_video_pts = out->first_audio_pts = GST_CLOCK_TIME_NONE;

  gsize size;
  const guint8 *bytes = g_bytes_get_data (data, &size);
  g_autoptr (GstCaps) type = gst_type_find_helper_for_data (NULL, bytes, size, NULL);
  g_assert_nonnull (type);
  out->container = g_strdup (gst_structure_get_name (gst_caps_get_structure (type, 0)));

  GstElement *pipeline = gst_pipeline_new (NULL);
  GstElement *src = gst_element_factory_make ("appsrc", NULL);
  GstElement *decode = gst_element_factory_make ("decodebin", NULL);
  gst_bin_add_many (GST_BIN (pipeline), src, decode, NULL);
  g_assert_true (gst_element_link (src, decode));
  g_signal_connect (decode, "pad-added", G_CALLBACK (on_pad_added), pipeline);
  g_object_set (src, "format", GST_FORMAT_BYTES, NULL);

  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  GstFlowReturn flow;
  g_signal_emit_by_name (src, "push-buffer", gst_buffer_new_wrapped_bytes (data), &flow);
  g_signal_emit_by_name (src, "end-of-stream", &flow);

  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  g_autoptr (GstMessage) msg = gst_bus_timed_pop_filtered (
      bus, 30 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  g_assert_nonnull (msg);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) error = NULL;
    gst_message_parse_error (msg, &error, NULL);
    g_error ("segment did not decode: %s", error->message);
  }

  g_autoptr (GstIterator) it = gst_bin_iterate_sinks (GST_BIN (pipeline));
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstElement *sink = g_value_get_object (&item);
    const char *media = g_object_get_data (G_OBJECT (sink), "media");
    gboolean video = g_str_has_prefix (media, "video/");
    GstSample *sample;
    while ((sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 0)) != NULL) {
      GstBuffer *buf = gst_sample_get_buffer (sample);
      if (video) {
        if (out->video_frames++ == 0) {
          GstStructure *s = gst_caps_get_structure (gst_sample_get_caps (sample), 0);
          gst_structure_get_int (s, "width", &out->width);
          gst_structure_get_int (s, "height", &out->height);
          out->first_video_pts = GST_BUFFER_PTS (buf);
        }
      } else if (out->audio_buffers++ == 0) {
        out->first_audio_pts = GST_BUFFER_PTS (buf);
      }
      gst_sample_unref (sample);
    }
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
}

void
kt_test_decoded_clear (KtTestDecoded *decoded)
{
  g_clear_pointer (&decoded->container, g_free);
}

void
kt_test_ts_first_pts (GBytes *data, GstClockTime *video, GstClockTime *audio)
{
  gsize size;
  const guint8 *d = g_bytes_get_data (data, &size);
  *video = *audio = GST_CLOCK_TIME_NONE;

  g_assert_cmpuint (size % 188, ==, 0);
  for (gsize off = 0; off + 188 <= size; off += 188) {
    const guint8 *pkt = d + off;
    g_assert_cmpuint (pkt[0], ==, 0x47);
    if (!(pkt[1] & 0x40)) /* payload_unit_start_indicator */
      continue;
    gsize pos = 4;
    if (pkt[3] & 0x20) /* adaptation field */
      pos += 1 + pkt[4];
    if (!(pkt[3] & 0x10) || pos + 14 > 188)
      continue;
    const guint8 *pes = pkt + pos;
    if (pes[0] != 0 || pes[1] != 0 || pes[2] != 1 || !(pes[7] & 0x80))
      continue;
    guint64 pts = ((guint64) (pes[9] & 0x0e) << 29) | ((guint64) pes[10] << 22) |
                  ((guint64) (pes[11] & 0xfe) << 14) | ((guint64) pes[12] << 7) | (pes[13] >> 1);
    GstClockTime ns = gst_util_uint64_scale (pts, GST_SECOND, 90000);
    if ((pes[3] & 0xf0) == 0xe0 && !GST_CLOCK_TIME_IS_VALID (*video))
      *video = ns;
    else if ((pes[3] & 0xe0) == 0xc0 && !GST_CLOCK_TIME_IS_VALID (*audio))
      *audio = ns;
  }
}

void
kt_test_run (KtTestRun *r, const char *const *argv, const char *input)
{
  g_autoptr (GError) error = NULL;
  /* Standard input comes from a file, not a pipe: a command that stops
   * before reading it all (a refusal) would make writing to a pipe fail
   * with EPIPE, depending on who is faster. */
  g_autofree char *in_path = NULL;
  int fd = g_file_open_tmp ("ketang-test-stdin-XXXXXX", &in_path, &error);
  g_assert_no_error (error);
  close (fd);
  g_file_set_contents (in_path, input ? input : "", -1, &error);
  g_assert_no_error (error);
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_stdin_file_path (launcher, in_path);
  g_autoptr (GSubprocess) p = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (p, NULL, NULL, &r->out, &r->err, &error);
  g_assert_no_error (error);
  r->status = g_subprocess_get_exit_status (p);
  g_unlink (in_path);
}

void
kt_test_run_clear (KtTestRun *r)
{
  g_clear_pointer (&r->out, g_free);
  g_clear_pointer (&r->err, g_free);
}

gboolean
kt_test_have_ffmpeg (void)
{
  g_autofree char *ffmpeg = g_find_program_in_path ("ffmpeg");
  return ffmpeg != NULL;
}

static void
on_exited (GObject *source, GAsyncResult *result, gpointer data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *(gboolean *) data = TRUE;
}

void
kt_test_ffmpeg_reads (KtApp *app, const char *path, int seconds)
{
  g_autofree char *ffmpeg = g_find_program_in_path ("ffmpeg");
  g_assert_nonnull (ffmpeg);
  g_autofree char *base = g_strdup (kt_app_base_uri (app));
  base[strlen (base) - 1] = '\0';
  g_autofree char *url = g_strconcat (base, path, NULL);
  g_autofree char *duration = g_strdup_printf ("%d", seconds);
  const char *argv[] = { ffmpeg, "-nostdin", "-v", "error", "-live_start_index", "0", "-i", url,
                         "-t", duration, "-f", "null", "-", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  gboolean done = FALSE;
  g_subprocess_wait_async (p, NULL, on_exited, &done);
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (!done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  if (!done) {
    g_subprocess_force_exit (p);
    g_error ("ffmpeg did not finish reading %d s of %s", seconds, path);
  }
  char buf[4096] = "";
  gssize n = g_input_stream_read (g_subprocess_get_stderr_pipe (p), buf, sizeof buf - 1, NULL, NULL);
  buf[MAX (n, 0)] = '\0';
  if (buf[0] != '\0')
    g_error ("ffmpeg on %s said: %s", path, buf);
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 0);
}

void
kt_test_session_open (KtApp *app, const char *name, const char *role_name, KtTestSession *out)
{
  g_autoptr (GError) error = NULL;
  KtRole role;
  g_assert_true (kt_role_from_string (role_name, &role));
  g_autofree char *password = g_strdup_printf ("%s-password", name);
  g_autoptr (KtUser) user = kt_auth_user_add (kt_app_auth (app), name, NULL, role, password, &error);
  g_assert_no_error (error);

  g_autofree char *body = g_strdup_printf ("{\"name\": \"%s\", \"password\": \"%s\"}", name,
                                           password);
  g_autoptr (KtTestResponse) r =
      kt_test_request_body (app, "POST", "/api/login", NULL, "application/json", body);
  g_assert_cmpuint (r->status, ==, 200);
  const char *set_cookie = soup_message_headers_get_one (r->headers, "Set-Cookie");
  g_assert_nonnull (set_cookie);
  out->cookie = g_strndup (set_cookie, strcspn (set_cookie, ";"));
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree char *text = kt_test_body_text (r);
  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  out->csrf = g_strdup (json_object_get_string_member (
      json_node_get_object (json_parser_get_root (parser)), "csrf"));
}

void
kt_test_session_clear (KtTestSession *session)
{
  g_clear_pointer (&session->cookie, g_free);
  g_clear_pointer (&session->csrf, g_free);
}

KtTestResponse *
kt_test_request_as (KtApp *app, const KtTestSession *session, const char *method,
                    const char *path, const char *content_type, const char *body)
{
  const char *headers[] = { "Cookie", session->cookie, "X-CSRF-Token", session->csrf, NULL };
  if (body == NULL)
    return kt_test_request (app, method, path, headers);
  return kt_test_request_body (app, method, path, headers, content_type, body);
}

/* Test media. */

char *
kt_test_make_clip (const char *dir, const char *name, const char *video, const char *audio,
                   double seconds)
{
  return kt_test_make_clip_full (dir, name, video, audio, seconds, FALSE);
}

char *
kt_test_make_clip_full (const char *dir, const char *name, const char *video, const char *audio,
                        double seconds, gboolean faststart)
{
  char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GString) desc = g_string_new (NULL);
  /* Quote for gst_parse: only " and \ need a backslash (g_strescape would
   * also turn every non-ASCII byte of a Chinese file name into octal). */
  g_autoptr (GString) quoted = g_string_new (path);
  g_string_replace (quoted, "\\", "\\\\", 0);
  g_string_replace (quoted, "\"", "\\\"", 0);
  const char *location = quoted->str;
  g_string_append_printf (desc, "mp4mux name=mux faststart=%s ! filesink location=\"%s\" ",
                          faststart ? "true" : "false", location);
  int w, h, fps, rate, channels;
  if (video) {
    g_assert_cmpint (sscanf (video, "%dx%d@%d", &w, &h, &fps), ==, 3);
    g_string_append_printf (desc,
                            "videotestsrc num-buffers=%d pattern=smpte ! "
                            "video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1,pixel-aspect-ratio=1/1 ! "
                            "x264enc speed-preset=ultrafast key-int-max=%d ! h264parse ! mux. ",
                            (int) (seconds * fps + 0.5), w, h, fps, fps);
  }
  if (audio) {
    g_assert_cmpint (sscanf (audio, "%dx%d", &rate, &channels), ==, 2);
    g_string_append_printf (desc,
                            "audiotestsrc num-buffers=%d samplesperbuffer=%d freq=330 volume=0.3 ! "
                            "audio/x-raw,rate=%d,channels=%d ! audioconvert ! avenc_aac ! aacparse ! "
                            "mux. ",
                            (int) (seconds * 50 + 0.5), rate / 50, rate, channels);
  }
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) pipeline = gst_parse_launch (desc->str, &error);
  g_assert_no_error (error);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  g_autoptr (GstMessage) msg =
      gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  g_assert_nonnull (msg);
  g_assert_cmpint (GST_MESSAGE_TYPE (msg), ==, GST_MESSAGE_EOS);
  return path;
}

void
kt_test_mp4_rotate_90 (const char *path)
{
  g_autofree char *data = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  /* tkhd, version 0: size, "tkhd", version+flags, 5 × 32 bits of times and
   * ids, 8 reserved, layer, group, volume, reserved: the matrix is 48 bytes
   * from the box start, then width and height (16.16). */
  static const guint32 matrix[9] = { 0, 0x10000, 0, 0xffff0000, 0, 0, 0, 0, 0x40000000 };
  for (gsize off = 4; off + 4 + 92 <= len; off++) {
    if (memcmp (data + off, "tkhd", 4) != 0)
      continue;
    guint8 *box = (guint8 *) data + off - 4;
    g_assert_cmpuint (box[8], ==, 0);
    guint8 *m = box + 48;
    /* Byte by byte: boxes sit at any offset, and GStreamer's
     * GST_READ_UINT32_BE is an unaligned load on x86 (UBSan objects). */
    guint32 width = ((guint32) m[36] << 8) | m[37];
    if (width == 0)
      continue; /* an audio track */
    for (int i = 0; i < 9; i++)
      for (int b = 0; b < 4; b++)
        m[4 * i + b] = (guint8) (matrix[i] >> (24 - 8 * b));
    g_assert_true (g_file_set_contents (path, data, len, NULL));
    return;
  }
  g_error ("no video tkhd in %s", path);
}

const KtTestBadUpload kt_test_bad_uploads[] = {
  { "random", KT_PROBE_ERROR_NOT_MEDIA },
  { "truncated", KT_PROBE_ERROR_UNREADABLE },
  { "empty", KT_PROBE_ERROR_UNREADABLE },
  { "text", KT_PROBE_ERROR_NOT_MEDIA },
  { NULL, 0 },
};

char *
kt_test_make_bad_upload (const char *dir, const char *kind)
{
  g_autofree char *name = g_strdup_printf ("bad-%s.mp4", kind);
  char *path = g_build_filename (dir, name, NULL);
  g_autofree char *data = NULL;
  gsize len = 0;
  if (g_str_equal (kind, "random")) {
    len = 64 * 1024;
    data = g_malloc (len);
    g_autoptr (GRand) rand = g_rand_new_with_seed (7);
    for (gsize i = 0; i < len; i++)
      data[i] = (char) g_rand_int_range (rand, 0, 256);
  } else if (g_str_equal (kind, "truncated") || g_str_equal (kind, "cut-after-index")) {
    g_autofree char *good = kt_test_make_clip_full (dir, "whole.mp4", "320x180@25", "48000x2", 5,
                                                    g_str_equal (kind, "cut-after-index"));
    g_assert_true (g_file_get_contents (good, &data, &len, NULL));
    len /= 2;
    g_unlink (good);
  } else if (g_str_equal (kind, "text")) {
    data = g_strdup ("各位老师：本周三下午的书法课改到 302 教室。\nDear teachers, see you there.\n");
    len = strlen (data);
  } else {
    g_assert_cmpstr (kind, ==, "empty");
  }
  g_assert_true (g_file_set_contents (path, data ? data : "", len, NULL));
  return path;
}

void
kt_test_playlist_parse (const char *text, KtTestPlaylist *p)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  memset (p, 0, sizeof *p);
  p->uris = g_ptr_array_new_with_free_func (g_free);
  p->discontinuity = g_array_new (FALSE, FALSE, sizeof (gboolean));
  gboolean pending = FALSE;
  for (int i = 0; lines[i]; i++) {
    if (g_str_has_prefix (lines[i], "#EXT-X-MEDIA-SEQUENCE:"))
      p->msn = g_ascii_strtoull (lines[i] + 22, NULL, 10);
    else if (g_str_has_prefix (lines[i], "#EXT-X-DISCONTINUITY-SEQUENCE:"))
      p->dsn = g_ascii_strtoull (lines[i] + 30, NULL, 10);
    else if (g_str_equal (lines[i], "#EXT-X-DISCONTINUITY"))
      pending = TRUE;
    else if (lines[i][0] == '/') {
      g_ptr_array_add (p->uris, g_strdup (lines[i]));
      g_array_append_val (p->discontinuity, pending);
      pending = FALSE;
    }
  }
}

void
kt_test_playlist_clear (KtTestPlaylist *p)
{
  g_clear_pointer (&p->uris, g_ptr_array_unref);
  g_clear_pointer (&p->discontinuity, g_array_unref);
}

static void
die_with_parent (gpointer unused)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

void
kt_test_server_start (KtTestServer *server, const char *data_dir, const char *const *env)
{
  g_autoptr (GSubprocessLauncher) launcher =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  for (guint i = 0; env && env[i]; i++) {
    g_autofree char *name = g_strndup (env[i], strcspn (env[i], "="));
    g_subprocess_launcher_setenv (launcher, name, env[i] + strlen (name) + 1, TRUE);
  }
  /* A test that fails and exits takes its server along, instead of leaving
   * it holding the test's output open until meson gives up. */
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  g_autoptr (GError) error = NULL;
  server->process = g_subprocess_launcher_spawn (launcher, &error, g_getenv ("KETANG_BIN"), "serve",
                                                 "--listen", "127.0.0.1:0", "--data", data_dir,
                                                 NULL);
  g_assert_no_error (error);
  server->pid = atoi (g_subprocess_get_identifier (server->process));
  /* A server that dies before listening closes its stdout: the read ends
   * with NULL rather than waiting forever. */
  g_autoptr (GDataInputStream) out =
      g_data_input_stream_new (g_subprocess_get_stdout_pipe (server->process));
  /* The pipe stays open while the process runs: a later write of the
   * server's to a closed pipe would kill it with SIGPIPE. */
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (out), FALSE);
  g_autofree char *line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  if (line == NULL)
    g_error ("ketang serve exited before listening");
  const char *url = strstr (line, "http://");
  g_assert_nonnull (url);
  server->base = g_strndup (url, strlen (url) - (g_str_has_suffix (url, "/") ? 1 : 0));
}

int
kt_test_server_stop (KtTestServer *server, int signal)
{
  g_subprocess_send_signal (server->process, signal);
  g_autoptr (GError) error = NULL;
  g_subprocess_wait (server->process, NULL, &error);
  g_assert_no_error (error);
  int status = g_subprocess_get_status (server->process);
  g_clear_object (&server->process);
  g_clear_pointer (&server->base, g_free);
  return status;
}

JsonObject *
kt_test_json_object (KtTestResponse *response, JsonParser *parser)
{
  g_autofree char *text = kt_test_body_text (response);
  if (!json_parser_load_from_data (parser, text, -1, NULL))
    g_error ("not JSON: %s", text);
  return json_node_get_object (json_parser_get_root (parser));
}

void
kt_test_assert_error (KtTestResponse *response, guint status, const char *code,
                      const char *words)
{
  g_autofree char *text = kt_test_body_text (response);
  if (response->status != status)
    g_error ("expected %u %s, got %u: %s", status, code, response->status, text);
  g_assert_cmpstr (soup_message_headers_get_content_type (response->headers, NULL), ==,
                   "application/json");
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *error = json_object_get_object_member (kt_test_json_object (response, parser),
                                                     "error");
  g_assert_nonnull (error);
  g_assert_cmpstr (json_object_get_string_member (error, "code"), ==, code);
  const char *message = json_object_get_string_member (error, "message");
  g_assert_cmpuint (strlen (message), >, 0);
  if (words != NULL && strstr (message, words) == NULL)
    g_error ("expected “%s” in the message: %s", words, message);
}

void
kt_test_server_login (KtTestServer *server, const char *name, const char *password,
                      KtTestSession *out)
{
  g_autofree char *url = g_strconcat (server->base, "/api/login", NULL);
  g_autofree char *body = g_strdup_printf ("{\"name\": \"%s\", \"password\": \"%s\"}", name,
                                           password);
  g_autoptr (KtTestResponse) r =
      kt_test_request_url ("POST", url, NULL, "application/json", body, strlen (body));
  g_assert_cmpuint (r->status, ==, 200);
  const char *set_cookie = soup_message_headers_get_one (r->headers, "Set-Cookie");
  g_assert_nonnull (set_cookie);
  out->cookie = g_strndup (set_cookie, strcspn (set_cookie, ";"));
  g_autoptr (JsonParser) parser = json_parser_new ();
  out->csrf = g_strdup (json_object_get_string_member (kt_test_json_object (r, parser), "csrf"));
}

KtTestResponse *
kt_test_server_upload (KtTestServer *server, const KtTestSession *as, const char *path,
                       const char *title)
{
  g_autofree char *data = NULL;
  gsize size;
  g_assert_true (g_file_get_contents (path, &data, &size, NULL));
  g_autofree char *name = g_path_get_basename (path);
  g_autofree char *body = g_strdup_printf ("{\"filename\": \"%s\", \"title\": \"%s\", \"size\": %"
                                           G_GSIZE_FORMAT "}", name, title, size);
  g_autofree char *create = g_strconcat (server->base, "/api/uploads", NULL);
  const char *auth[] = { "Cookie", as->cookie, "X-CSRF-Token", as->csrf, NULL };
  KtTestResponse *last =
      kt_test_request_url ("POST", create, auth, "application/json", body, strlen (body));
  if (last->status != 201)
    return last;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree char *url = g_strdup_printf (
      "%s/api/uploads/%s", server->base,
      json_object_get_string_member (kt_test_json_object (last, parser), "id"));
  for (gsize at = 0; at < size; at += 65536) {
    g_autofree char *offset = g_strdup_printf ("%" G_GSIZE_FORMAT, at);
    const char *headers[] = { "Cookie", as->cookie, "X-CSRF-Token", as->csrf, "Upload-Offset",
                              offset, NULL };
    kt_test_response_free (last);
    last = kt_test_request_url ("PATCH", url, headers, "application/offset+octet-stream",
                                data + at, MIN (65536, size - at));
    g_assert_cmpuint (last->status, ==, 200);
  }
  return last;
}

void
kt_test_user_add_cli (const char *data_dir, const char *name, const char *role)
{
  g_autofree char *password = g_strdup_printf ("%s-password\n", name);
  KtTestRun run;
  kt_test_run (&run, (const char *[]){ g_getenv ("KETANG_BIN"), "user", "add", "--role", role,
                                       "--data", data_dir, name, NULL },
               password);
  if (run.status != 0)
    g_error ("ketang user add %s: %s", name, run.err);
  kt_test_run_clear (&run);
}

char *
kt_test_first_segment (KtApp *app, const char *playlist_path)
{
  g_autoptr (KtTestResponse) live = kt_test_get (app, playlist_path);
  g_assert_cmpuint (live->status, ==, 200);
  g_autofree char *text = kt_test_body_text (live);
  KtTestPlaylist playlist;
  kt_test_playlist_parse (text, &playlist);
  g_assert_cmpuint (playlist.uris->len, >, 0);
  char *first = g_strdup (g_ptr_array_index (playlist.uris, 0));
  kt_test_playlist_clear (&playlist);
  return first;
}
