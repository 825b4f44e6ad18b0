/* The ketang command line as a user meets it: --version, --help, exit codes
 * for a bad option and a bad config value (naming the file and line),
 * --print-config, and a clean exit 0 on SIGTERM after serving. */
#include <gio/gio.h>
#include <signal.h>
#include <sysexits.h>

#include "test-utils.h"

static const char *ketang;

static void
test_version_and_help (void)
{
  KtTestRun r;
  kt_test_run (&r, (const char *[]){ ketang, "--version", NULL }, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (g_str_has_prefix (r.out, "ketang 0."));
  kt_test_run_clear (&r);

  kt_test_run (&r, (const char *[]){ ketang, "serve", "--help", NULL }, NULL);
  g_assert_cmpint (r.status, ==, 0);
  const char *options[] = { "--config", "--listen", "--data", "--demo", "--print-config" };
  for (guint i = 0; i < G_N_ELEMENTS (options); i++)
    g_assert_nonnull (strstr (r.out, options[i]));
  kt_test_run_clear (&r);

  kt_test_run (&r, (const char *[]){ ketang, "--help", NULL }, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "serve"));
  kt_test_run_clear (&r);
}

static void
test_usage_errors (void)
{
  KtTestRun r;
  kt_test_run (&r, (const char *[]){ ketang, "serve", "--no-such-option", NULL }, NULL);
  g_assert_cmpint (r.status, ==, EX_USAGE);
  g_assert_nonnull (strstr (r.err, "--no-such-option"));
  kt_test_run_clear (&r);

  kt_test_run (&r, (const char *[]){ ketang, "frobnicate", NULL }, NULL);
  g_assert_cmpint (r.status, ==, EX_USAGE);
  g_assert_nonnull (strstr (r.err, "frobnicate"));
  kt_test_run_clear (&r);

  kt_test_run (&r, (const char *[]){ ketang, "serve", "--listen", "nonsense", NULL }, NULL);
  g_assert_cmpint (r.status, ==, EX_CONFIG);
  g_assert_nonnull (strstr (r.err, "--listen"));
  kt_test_run_clear (&r);
}

static void
test_bad_config_names_file_and_line (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  g_autofree char *conf = g_build_filename (dir, "bad.conf", NULL);
  g_file_set_contents (conf, "[server]\n# fine\n\n[hls]\nwindow_segments = 1000\n", -1, NULL);
  KtTestRun r;
  kt_test_run (&r, (const char *[]){ ketang, "serve", "--config", conf, NULL }, NULL);
  g_assert_cmpint (r.status, ==, EX_CONFIG);
  g_autofree char *where = g_strdup_printf ("%s:5:", conf);
  g_assert_nonnull (strstr (r.err, where));
  g_assert_nonnull (strstr (r.err, "window_segments"));
  kt_test_run_clear (&r);
  kt_test_rmtree (dir);
}

static void
test_print_config (void)
{
  KtTestRun r;
  kt_test_run (&r, (const char *[]){ ketang, "serve", "--print-config", "--listen", "127.0.0.1:9999", NULL }, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "listen = 127.0.0.1:9999"));
  g_assert_nonnull (strstr (r.out, "[hls]"));
  kt_test_run_clear (&r);
}

/* Serve, answer a request, then SIGTERM: exit 0 and the database closed
 * (no -wal file left behind). */
static void
test_sigterm_stops_cleanly (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  g_autoptr (GError) error = NULL;
  const char *argv[] = { ketang, "serve", "--listen", "127.0.0.1:0", "--data", dir, NULL };
  g_autoptr (GSubprocess) p = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  g_assert_no_error (error);
  g_autoptr (GDataInputStream) out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (p));
  g_autofree char *line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  const char *url = strstr (line, "http://");
  g_assert_nonnull (url);

  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree char *health = g_strconcat (url, "healthz", NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", health);
  g_autoptr (GBytes) body = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);

  g_subprocess_send_signal (p, SIGTERM);
  g_subprocess_wait (p, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (p));
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 0);
  g_autofree char *wal = g_build_filename (dir, "ketang.db-wal", NULL);
  g_assert_false (g_file_test (wal, G_FILE_TEST_EXISTS));
  kt_test_rmtree (dir);
}

/* `ketang schedule check`: good files pass, each mistake is printed as
 * FILE:LINE: and the exit status says so; sources are checked against a
 * library when there is one. */
static void
test_schedule_check (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  g_autofree char *good = g_build_filename (dir, "good.ics", NULL);
  g_autofree char *bad = g_build_filename (dir, "bad.ics", NULL);
  g_file_set_contents (good,
                       "BEGIN:VCALENDAR\nVERSION:2.0\nX-KETANG-CHANNEL:5\nBEGIN:VEVENT\nUID:a\n"
                       "SUMMARY:书法\nDTSTART:20261201T090000\nDURATION:PT1H\n"
                       "RRULE:FREQ=WEEKLY;COUNT=3\nX-KETANG-SOURCE:item:x\nEND:VEVENT\n"
                       "END:VCALENDAR\n", -1, NULL);
  g_file_set_contents (bad,
                       "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:a\nSUMMARY:书法\n"
                       "DTSTART:20261201T090000\nDTEND:20261201T080000\nX-KETANG-SOURCE:item:x\n"
                       "END:VEVENT\nEND:VCALENDAR\n", -1, NULL);
  g_autofree char *empty_data = g_build_filename (dir, "nodata", NULL);
  KtTestRun r;
  kt_test_run (&r, (const char *[]){ ketang, "schedule", "check", "--data", empty_data, good, NULL }, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "ok, channel 5"));
  kt_test_run_clear (&r);

  kt_test_run (&r, (const char *[]){ ketang, "schedule", "check", "--data", empty_data, good, bad, NULL }, NULL);
  g_assert_cmpint (r.status, ==, EX_DATAERR);
  g_autofree char *where = g_strdup_printf ("%s:7: “书法” ends before it starts", bad);
  g_assert_nonnull (strstr (r.out, where));
  kt_test_run_clear (&r);

  /* With a library that lacks item x, the good file's source is unknown. */
  g_autofree char *data = g_build_filename (dir, "data", NULL);
  {
    g_autoptr (KtApp) app = kt_test_app_start (data, FALSE, NULL);
  }
  kt_test_run (&r, (const char *[]){ ketang, "schedule", "check", "--data", data, good, NULL }, NULL);
  g_assert_cmpint (r.status, ==, EX_DATAERR);
  g_autofree char *unknown = g_strdup_printf ("%s:10: unknown source “item:x”", good);
  g_assert_nonnull (strstr (r.out, unknown));
  kt_test_run_clear (&r);

  kt_test_run (&r, (const char *[]){ ketang, "schedule", "lint", good, NULL }, NULL);
  g_assert_cmpint (r.status, ==, EX_USAGE);
  kt_test_run_clear (&r);
  kt_test_rmtree (dir);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  ketang = g_getenv ("KETANG_BIN");
  g_assert_nonnull (ketang);
  g_test_add_func ("/cli/version-and-help", test_version_and_help);
  g_test_add_func ("/cli/usage-errors", test_usage_errors);
  g_test_add_func ("/cli/bad-config-names-file-and-line", test_bad_config_names_file_and_line);
  g_test_add_func ("/cli/print-config", test_print_config);
  g_test_add_func ("/cli/sigterm-stops-cleanly", test_sigterm_stops_cleanly);
  g_test_add_func ("/cli/schedule-check", test_schedule_check);
  return g_test_run ();
}
