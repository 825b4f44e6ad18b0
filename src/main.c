/* main: the ketang command line.
 *
 *   ketang serve [--config FILE] [--listen HOST:PORT] [--data DIR] [--demo]
 *                [--print-config]
 *   ketang schedule check [--data DIR] FILE…
 *   ketang user add|passwd|list|disable|enable [--data DIR] … (kt-cli-user.c)
 *   ketang viewpoint add|token|list|disable|enable [--data DIR] … (kt-cli-viewpoint.c)
 *   ketang --version | --help
 *
 * Exit codes follow sysexits.h so scripts and systemd can tell a typo in the
 * command line (64) from a bad config file (78), a data directory that
 * cannot be used (73) and a port already taken (69). SIGINT and SIGTERM stop
 * the server cleanly: pipelines to NULL, HTTP closed, database closed, exit 0.
 */
#define G_LOG_DOMAIN "ketang"

#include <gio/gio.h>
#include <glib-unix.h>
#include <gst/gst.h>
#include <locale.h>
#include <malloc.h>
#include <stdio.h>
#include <sysexits.h>

#include "kt-app.h"
#include "kt-build-config.h"
#include "kt-cli-schedule.h"
#include "kt-cli-user.h"
#include "kt-cli-viewpoint.h"
#include "kt-config.h"
#include "kt-store.h"

static const char usage_text[] =
    "Usage: ketang COMMAND [OPTIONS]\n"
    "\n"
    "ketang (课堂) airs a senior university's lessons to its viewing points.\n"
    "\n"
    "Commands:\n"
    "  serve          Run the server (see `ketang serve --help`)\n"
    "  schedule check FILE…\n"
    "                 Validate timetable files; print FILE:LINE: problems\n"
    "  user add --role admin|teacher|viewpoint NAME\n"
    "  user passwd|disable|enable NAME, user list\n"
    "                 Manage accounts (see `ketang user --help`); the password\n"
    "                 is read from standard input or --password-file\n"
    "  viewpoint add --township TEXT NAME, viewpoint token|disable|enable NAME,\n"
    "  viewpoint list Manage viewing points (收视点); add and token print the\n"
    "                 room's access token and kiosk URL once\n"
    "\n"
    "Options:\n"
    "  --version      Print the version and exit\n"
    "  -h, --help     Print this help and exit\n";

/* Lifecycle messages (g_info) are what an operator watches, so they are
 * printed without G_MESSAGES_DEBUG; g_debug still needs it. */
static void
on_log (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  if ((level & G_LOG_LEVEL_MASK) == G_LOG_LEVEL_INFO) {
    g_autoptr (GDateTime) now = g_date_time_new_now_local ();
    g_autofree char *stamp = g_date_time_format (now, "%H:%M:%S");
    fprintf (stderr, "%s %s: %s\n", stamp, domain ? domain : "ketang", message);
    return;
  }
  g_log_default_handler (domain, level, message, data);
}

static gboolean
on_signal (gpointer loop)
{
  g_info ("stopping");
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
}

static int
exit_code_for (const GError *error)
{
  if (error->domain == KT_CONFIG_ERROR)
    return EX_CONFIG;
  if (g_error_matches (error, KT_APP_ERROR, KT_APP_ERROR_DATA_DIR) ||
      error->domain == KT_STORE_ERROR)
    return EX_CANTCREAT;
  if (g_error_matches (error, KT_APP_ERROR, KT_APP_ERROR_LISTEN) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE) ||
      error->domain == G_IO_ERROR)
    return EX_UNAVAILABLE;
  return EX_SOFTWARE;
}

/* Memory the server has freed goes back to the system once a minute.
 * Requests, GStreamer and SQLite allocate from many threads, so glibc keeps
 * several arenas, and pages freed inside them (not at their top) stay
 * resident. heaptrack over a 9-minute soak with 200 viewers saw the live
 * heap flat (8.35 → 8.40 MB) while RssAnon rose about 280 kB a minute:
 * retained free pages, not a leak, but for an unattended server that runs
 * for months the difference matters. malloc_trim returns them (madvise);
 * it takes a few milliseconds. */
#define TRIM_INTERVAL_S 60

static gboolean
on_trim (gpointer unused)
{
  malloc_trim (0);
  return G_SOURCE_CONTINUE;
}

static int
cmd_serve (int argc, char **argv)
{
  g_autofree char *config_path = NULL;
  g_autofree char *listen = NULL;
  g_autofree char *data_dir = NULL;
  gboolean demo = FALSE;
  gboolean print_config = FALSE;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
      "Read settings from FILE (INI; see ketang.conf.sample)", "FILE" },
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &listen,
      "Serve HTTP on HOST:PORT (default 127.0.0.1:8080; port 0 picks a free one)", "HOST:PORT" },
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "Keep the database and media library in DIR (default ./data)", "DIR" },
    { "demo", 0, 0, G_OPTION_ARG_NONE, &demo,
      "Make a demo lesson (once, then cached in the data dir) and air it on channel 1", NULL },
    { "print-config", 0, 0, G_OPTION_ARG_NONE, &print_config,
      "Print the effective configuration and exit", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- run the ketang server");
  g_autoptr (GError) error = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, gst_init_get_option_group ());
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("ketang serve: %s\nTry `ketang serve --help`.\n", error->message);
    return EX_USAGE;
  }
  if (argc > 1) {
    g_printerr ("ketang serve: unexpected argument “%s”\nTry `ketang serve --help`.\n", argv[1]);
    return EX_USAGE;
  }

  g_autoptr (KtConfig) config = kt_config_load (config_path, &error);
  if (config == NULL ||
      (listen && !kt_config_override (config, "server", "listen", listen, "--listen", &error)) ||
      (data_dir && !kt_config_override (config, "server", "data_dir", data_dir, "--data", &error))) {
    g_printerr ("ketang: %s\n", error->message);
    return EX_CONFIG;
  }
  if (print_config) {
    g_autofree char *text = kt_config_to_string (config);
    g_print ("%s", text);
    return EX_OK;
  }

  g_autoptr (KtApp) app = kt_app_new (g_steal_pointer (&config), demo, &error);
  if (app == NULL || !kt_app_start (app, &error)) {
    g_printerr ("ketang: %s\n", error->message);
    return exit_code_for (error);
  }
  g_print ("ketang %s listening on %s\n", KT_VERSION, kt_app_base_uri (app));
  fflush (stdout);

  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  guint sigint = g_unix_signal_add (SIGINT, on_signal, loop);
  guint sigterm = g_unix_signal_add (SIGTERM, on_signal, loop);
  guint trim = g_timeout_add_seconds (TRIM_INTERVAL_S, on_trim, NULL);
  g_main_loop_run (loop);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  g_source_remove (trim);

  kt_app_stop (app);
  g_info ("stopped");
  return EX_OK;
}

int
main (int argc, char **argv)
{
  /* Every encode (a slate, an upload's normalization) allocates and frees
   * x264 frame buffers of a few MB. glibc's dynamic mmap threshold then
   * rises and later buffers land on the heap, which is never given back:
   * measured here, RSS grew by ~20 MB per slate rendered, 700 MB after 30.
   * A fixed threshold keeps big buffers in mmap, returned on free (RSS
   * stayed at 72 MB over the same 30 renders). */
  mallopt (M_MMAP_THRESHOLD, 128 * 1024);
  mallopt (M_TRIM_THRESHOLD, 128 * 1024);
  setlocale (LC_ALL, "");
  g_log_set_default_handler (on_log, NULL);

  if (argc < 2 || g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h")) {
    fputs (usage_text, argc < 2 ? stderr : stdout);
    return argc < 2 ? EX_USAGE : EX_OK;
  }
  if (g_str_equal (argv[1], "--version")) {
    g_print ("ketang %s\n", KT_VERSION);
    return EX_OK;
  }
  if (g_str_equal (argv[1], "serve")) {
    gst_init (NULL, NULL);
    return cmd_serve (argc - 1, argv + 1);
  }
  if (g_str_equal (argv[1], "schedule"))
    return kt_cli_schedule (argc - 1, argv + 1);
  if (g_str_equal (argv[1], "user"))
    return kt_cli_user (argc - 1, argv + 1);
  if (g_str_equal (argv[1], "viewpoint"))
    return kt_cli_viewpoint (argc - 1, argv + 1);
  g_printerr ("ketang: unknown command “%s”\n%s", argv[1], usage_text);
  return EX_USAGE;
}
