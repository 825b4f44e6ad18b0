/* kt-normalize-bench: normalize one file the way the server does, and say
 * how long it took. The driver of bench/normalize-vs-ffmpeg.sh.
 *
 *   kt-normalize-bench --data DIR FILE
 *
 * It opens a library in DIR (a fresh one: the database and media go
 * there), imports FILE (which is moved into DIR/uploads, as an upload is),
 * runs the normalization on the real pipeline template, prints progress and
 * the estimate of time left every 10 s, and at the end one line of
 * key=value results: wall and CPU seconds (all threads) from the import to
 * the item being ready. Exit status 0 when the item is ready. */
#define G_LOG_DOMAIN "kt-bench"

#include <gst/gst.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sysexits.h>

#include "kt-build-config.h"
#include "kt-library.h"
#include "kt-store.h"

typedef struct {
  GMainLoop *loop;
  KtLibrary *library;
  char *id;
  gint64 start_us;
  gboolean ok;
} Bench;

static double
cpu_seconds (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void
on_done (KtLibrary *library, const char *item_id, const GError *error, gpointer user_data)
{
  Bench *b = user_data;
  if (g_strcmp0 (item_id, b->id) != 0)
    return;
  b->ok = error == NULL;
  if (error)
    g_printerr ("kt-normalize-bench: failed: %s\n", error->message);
  g_main_loop_quit (b->loop);
}

static gboolean
on_tick (gpointer user_data)
{
  Bench *b = user_data;
  double progress = kt_library_job_progress (b->library, b->id);
  gint64 eta = kt_library_job_eta_us (b->library, b->id);
  printf ("  %5.1f s  progress=%.3f eta_s=%.0f\n",
          (g_get_monotonic_time () - b->start_us) / 1e6, MAX (progress, 0),
          eta < 0 ? -1.0 : eta / 1e6);
  fflush (stdout);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  g_autofree char *data_dir = NULL;
  GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir, "Library directory (required)", "DIR" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("FILE - time one normalization");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, gst_init_get_option_group ());
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc != 2 || data_dir == NULL) {
    g_printerr ("Usage: kt-normalize-bench --data DIR FILE\n");
    return EX_USAGE;
  }

  g_autofree char *db_path = g_build_filename (data_dir, "ketang.db", NULL);
  if (g_mkdir_with_parents (data_dir, 0755) != 0) {
    g_printerr ("kt-normalize-bench: cannot create %s\n", data_dir);
    return EX_CANTCREAT;
  }
  g_autoptr (KtStore) store = kt_store_open (db_path, &error);
  g_autoptr (KtLibrary) library =
      store ? kt_library_new (store, data_dir, KT_SOURCE_ROOT "/pipelines", &error) : NULL;
  if (library == NULL) {
    g_printerr ("kt-normalize-bench: %s\n", error->message);
    return EX_CANTCREAT;
  }

  Bench b = { g_main_loop_new (NULL, FALSE), library, NULL, g_get_monotonic_time (), FALSE };
  double cpu0 = cpu_seconds ();
  kt_library_set_ready_callback (library, on_done, &b);
  b.id = kt_library_import (library, argv[1], "benchmark", "bench", &error);
  if (b.id == NULL) {
    g_printerr ("kt-normalize-bench: refused: %s\n", error->message);
    return EX_DATAERR;
  }
  kt_library_start_imports (library, 1, 300);
  guint tick = g_timeout_add_seconds (10, on_tick, &b);
  g_main_loop_run (b.loop);
  g_source_remove (tick);

  double wall = (g_get_monotonic_time () - b.start_us) / 1e6;
  double cpu = cpu_seconds () - cpu0;
  g_autoptr (KtItem) item = kt_library_get (library, b.id);
  printf ("ketang wall_s=%.2f cpu_s=%.2f segments=%u ok=%s\n", wall, cpu,
          item ? item->segment_count : 0, b.ok ? "yes" : "no");
  g_main_loop_unref (b.loop);
  g_free (b.id);
  return b.ok ? EX_OK : EX_SOFTWARE;
}
