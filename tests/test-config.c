/* kt-config: defaults, the file, the environment and overrides, and errors
 * that name the file and line. */
#include "kt-config.h"
#include "test-utils.h"

static char *
write_config (const char *dir, const char *text)
{
  char *path = g_build_filename (dir, "ketang.conf", NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

static void
test_defaults (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KtConfig) config = kt_config_load (NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (kt_config_get_string (config, "server", "listen"), ==, "127.0.0.1:8080");
  g_assert_cmpstr (kt_config_get_string (config, "server", "data_dir"), ==, "data");
  g_assert_cmpint (kt_config_get_int (config, "hls", "window_segments"), ==, 6);
}

static void
test_file_and_override (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  g_autofree char *path = write_config (dir,
                                        "# comment\n[server]\nlisten = 0.0.0.0:9000\n"
                                        "[hls]\nwindow_segments=10\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (KtConfig) config = kt_config_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (kt_config_get_string (config, "server", "listen"), ==, "0.0.0.0:9000");
  g_assert_cmpint (kt_config_get_int (config, "hls", "window_segments"), ==, 10);
  g_assert_true (kt_config_override (config, "server", "listen", "127.0.0.1:1", "--listen", &error));
  g_assert_cmpstr (kt_config_get_string (config, "server", "listen"), ==, "127.0.0.1:1");

  g_autofree char *printed = kt_config_to_string (config);
  g_assert_nonnull (strstr (printed, "listen = 127.0.0.1:1"));
  g_assert_nonnull (strstr (printed, "(from --listen)"));
  g_assert_nonnull (strstr (printed, "window_segments = 10"));
  kt_test_rmtree (dir);
}

static void
test_environment (void)
{
  g_setenv ("KETANG_DEMO_SECONDS", "12", TRUE);
  g_autoptr (GError) error = NULL;
  g_autoptr (KtConfig) config = kt_config_load (NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (kt_config_get_int (config, "demo", "seconds"), ==, 12);
  g_setenv ("KETANG_DEMO_SECONDS", "twelve", TRUE);
  g_autoptr (KtConfig) bad = kt_config_load (NULL, &error);
  g_assert_null (bad);
  g_assert_error (error, KT_CONFIG_ERROR, KT_CONFIG_ERROR_VALUE);
  g_assert_nonnull (strstr (error->message, "KETANG_DEMO_SECONDS"));
  g_unsetenv ("KETANG_DEMO_SECONDS");
}

/* Each bad file is refused with its file name and the line at fault. */
static void
test_errors_name_file_and_line (void)
{
  static const struct {
    const char *text;
    int code;
    const char *where; /* ":line" expected in the message */
  } cases[] = {
    { "[server]\nlisten = 127.0.0.1:8080\nlissten = 1\n", KT_CONFIG_ERROR_UNKNOWN, ":3:" },
    { "[server]\n\n[hsl]\nwindow_segments = 3\n", KT_CONFIG_ERROR_UNKNOWN, ":3:" },
    { "[hls]\nwindow_segments = 2\n", KT_CONFIG_ERROR_VALUE, ":2:" },
    { "[hls]\n# x\nwindow_segments = many\n", KT_CONFIG_ERROR_VALUE, ":3:" },
    { "[server]\nlisten = nowhere\n", KT_CONFIG_ERROR_VALUE, ":2:" },
    { "not an ini file\n", KT_CONFIG_ERROR_SYNTAX, "ketang.conf" },
  };
  g_autofree char *dir = kt_test_mkdtemp ();
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *path = write_config (dir, cases[i].text);
    g_autoptr (GError) error = NULL;
    g_autoptr (KtConfig) config = kt_config_load (path, &error);
    g_assert_null (config);
    g_assert_error (error, KT_CONFIG_ERROR, cases[i].code);
    g_assert_nonnull (strstr (error->message, path));
    if (strstr (error->message, cases[i].where) == NULL)
      g_error ("case %u: “%s” lacks “%s”", i, error->message, cases[i].where);
  }
  g_autoptr (GError) error = NULL;
  g_autoptr (KtConfig) missing = kt_config_load ("/nonexistent/ketang.conf", &error);
  g_assert_error (error, KT_CONFIG_ERROR, KT_CONFIG_ERROR_READ);
  kt_test_rmtree (dir);
}

/* [rtsp.<talk>] sections: any number, one key each, checked like the
 * table's keys; the camera's password is never printed. */
static void
test_cameras (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  g_autofree char *path
      = write_config (dir, "[live]\nearly_minutes = 5\n"
                           "[rtsp.hall-1]\nurl = rtsp://admin:s3cr%40t@10.0.0.7:554/stream1\n"
                           "[rtsp.room_2]\nurl = rtsp://10.0.0.8/live\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (KtConfig) config = kt_config_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (kt_config_get_camera (config, "hall-1"), ==,
                   "rtsp://admin:s3cr%40t@10.0.0.7:554/stream1");
  g_assert_cmpstr (kt_config_get_camera (config, "room_2"), ==, "rtsp://10.0.0.8/live");
  g_assert_null (kt_config_get_camera (config, "hall"));
  const char *const *talks = kt_config_camera_talks (config);
  g_assert_cmpstr (talks[0], ==, "hall-1");
  g_assert_cmpstr (talks[1], ==, "room_2");
  g_assert_null (talks[2]);

  g_assert_true (kt_config_override (config, "rtsp.hall-3", "url", "rtsp://127.0.0.1:9/x", "test",
                                     &error));
  g_assert_cmpstr (kt_config_get_camera (config, "hall-3"), ==, "rtsp://127.0.0.1:9/x");
  g_assert_false (kt_config_override (config, "rtsp.hall-3", "url", "http://x/", "test", &error));
  g_assert_error (error, KT_CONFIG_ERROR, KT_CONFIG_ERROR_VALUE);
  g_clear_error (&error);

  g_autofree char *printed = kt_config_to_string (config);
  g_assert_nonnull (strstr (printed, "[rtsp.hall-1]"));
  g_assert_nonnull (strstr (printed, "url = rtsp://10.0.0.7:554/stream1"));
  g_assert_null (strstr (printed, "s3cr"));
  g_assert_null (strstr (printed, "admin"));

  /* Redaction leaves nothing of the user part, even when it is not a
   * well-formed URL. */
  static const char *const redacted[][2] = {
    { "rtsp://u:p@h/x", "rtsp://h/x" },
    { "rtsp://u:p/w@d@h:1/x?y=@", "rtsp://h:1/x?y=@" },
    { "rtsp://h/x", "rtsp://h/x" },
    { "no scheme", "no scheme" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (redacted); i++) {
    g_autofree char *r = kt_config_redact_url (redacted[i][0]);
    g_assert_cmpstr (r, ==, redacted[i][1]);
  }

  static const struct {
    const char *text;
    int code;
    const char *says;
  } bad[] = {
    { "[rtsp.hall]\nurl = http://10.0.0.7/\n", KT_CONFIG_ERROR_VALUE, ":2: [rtsp.hall] url must" },
    { "[rtsp.hall]\nurl =\n", KT_CONFIG_ERROR_VALUE, "must not be empty" },
    { "[rtsp.hall]\n", KT_CONFIG_ERROR_VALUE, ":1: [rtsp.hall] url must not be empty" },
    { "[rtsp.hall]\nurl = rtsp:///nohost\n", KT_CONFIG_ERROR_VALUE, "url must" },
    { "[rtsp.]\nurl = rtsp://h/\n", KT_CONFIG_ERROR_VALUE, "talk name" },
    { "[rtsp.a b]\nurl = rtsp://h/\n", KT_CONFIG_ERROR_VALUE, "talk name" },
    { "[rtsp.hall]\nurl = rtsp://h/\nuser = x\n", KT_CONFIG_ERROR_UNKNOWN, ":3: unknown key" },
    { "[rtsp.hall]\nurl = ftp://u:hunter2@h/\n", KT_CONFIG_ERROR_VALUE, "ftp://h/" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autofree char *p = write_config (dir, bad[i].text);
    g_autoptr (KtConfig) c = kt_config_load (p, &error);
    g_assert_null (c);
    g_assert_error (error, KT_CONFIG_ERROR, bad[i].code);
    if (strstr (error->message, bad[i].says) == NULL)
      g_error ("case %u: “%s” lacks “%s”", i, error->message, bad[i].says);
    g_assert_null (strstr (error->message, "hunter2"));
    g_clear_error (&error);
  }
  kt_test_rmtree (dir);
}

/* The shipped sample must load as it is, and mention every key. */
static void
test_sample_config_loads (void)
{
  g_autoptr (GError) error = NULL;
  const char *sample = g_getenv ("KETANG_SAMPLE_CONFIG");
  g_assert_nonnull (sample);
  g_autoptr (KtConfig) config = kt_config_load (sample, &error);
  g_assert_no_error (error);

  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (sample, &text, NULL, NULL));
  g_autoptr (KtConfig) defaults = kt_config_load (NULL, &error);
  g_autofree char *printed = kt_config_to_string (defaults);
  g_auto (GStrv) lines = g_strsplit (printed, "\n", -1);
  for (int i = 0; lines[i]; i++) {
    char *eq = strstr (lines[i], " = ");
    if (lines[i][0] == '#' || eq == NULL)
      continue;
    g_autofree char *key = g_strndup (lines[i], eq - lines[i]);
    g_autofree char *needle = g_strdup_printf ("%s =", key);
    if (strstr (text, needle) == NULL)
      g_error ("ketang.conf.sample does not document “%s”", key);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/defaults", test_defaults);
  g_test_add_func ("/config/file-and-override", test_file_and_override);
  g_test_add_func ("/config/environment", test_environment);
  g_test_add_func ("/config/errors-name-file-and-line", test_errors_name_file_and_line);
  g_test_add_func ("/config/sample-loads", test_sample_config_loads);
  g_test_add_func ("/config/cameras", test_cameras);
  return g_test_run ();
}
