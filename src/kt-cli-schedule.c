/* kt-cli-schedule: `ketang schedule check`, the timetable's spell-checker.
 *
 * It loads each file exactly as the server would (kt_calendar_load) and
 * prints every problem as FILE:LINE: message, the way compilers do, so an
 * editor can jump to it. With a data directory (--data, or ./data when it
 * holds a database) it also checks that every item a lesson names exists in
 * the library; the database is opened read-only and never migrated.
 *
 * Exit status: 0 all files good, 65 (EX_DATAERR) some file has problems,
 * 64 (EX_USAGE) bad command line.
 */
#define G_LOG_DOMAIN "ketang"

#include "kt-cli-schedule.h"
#include "kt-clock.h"
#include "kt-timetable.h"

#include <sqlite3.h>
#include <stdio.h>
#include <sysexits.h>

/* Overlaps are looked for this far ahead of now (and from each DTSTART). */
#define CHECK_HORIZON_US (G_GINT64_CONSTANT (400) * 24 * 3600 * G_USEC_PER_SEC)

static gboolean
item_exists (const char *source, gpointer user_data)
{
  sqlite3 *db = user_data;
  if (!g_str_has_prefix (source, "item:"))
    return TRUE;
  sqlite3_stmt *stmt = NULL;
  gboolean found = FALSE;
  if (sqlite3_prepare_v2 (db, "SELECT 1 FROM items WHERE id = ?", -1, &stmt, NULL) == SQLITE_OK) {
    sqlite3_bind_text (stmt, 1, source + 5, -1, SQLITE_TRANSIENT);
    found = sqlite3_step (stmt) == SQLITE_ROW;
  }
  sqlite3_finalize (stmt);
  return found;
}

static int
check (char **files, const char *data_dir, const char *zone_id)
{
  g_autoptr (GTimeZone) zone = g_time_zone_new_identifier (zone_id);
  if (zone == NULL) {
    g_printerr ("ketang schedule check: unknown time zone “%s”\n", zone_id);
    return EX_USAGE;
  }

  sqlite3 *db = NULL;
  g_autofree char *db_path = g_build_filename (data_dir, "ketang.db", NULL);
  if (g_file_test (db_path, G_FILE_TEST_IS_REGULAR) &&
      sqlite3_open_v2 (db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    g_printerr ("ketang schedule check: cannot read %s: %s\n", db_path, sqlite3_errmsg (db));
    sqlite3_close (db);
    return EX_NOINPUT;
  }

  KtCalendarOptions options = { zone, zone_id, kt_clock_now_us () + CHECK_HORIZON_US,
                                db ? item_exists : NULL, db };
  int status = EX_OK;
  for (int i = 0; files[i]; i++) {
    g_autoptr (GPtrArray) problems =
        g_ptr_array_new_with_free_func ((GDestroyNotify) kt_schedule_problem_free);
    g_autoptr (GError) error = NULL;
    g_autoptr (KtCalendar) calendar = kt_calendar_load (files[i], &options, problems, &error);
    for (guint p = 0; p < problems->len; p++) {
      KtScheduleProblem *pr = problems->pdata[p];
      printf ("%s:%d: %s\n", pr->file, pr->line, pr->message);
    }
    if (calendar == NULL) {
      status = EX_DATAERR;
      continue;
    }
    printf ("%s: ok, channel %s “%s”, %u lessons until %s\n", files[i],
            kt_calendar_channel_id (calendar), kt_calendar_channel_name (calendar),
            kt_calendar_occurrences (calendar)->len, "the check horizon (400 days)");
  }
  if (!db)
    printf ("(no library at %s: lesson sources were not checked)\n", db_path);
  sqlite3_close (db);
  return status;
}

int
kt_cli_schedule (int argc, char **argv)
{
  g_autofree char *data_dir = NULL;
  g_autofree char *zone = NULL;
  GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "Check lesson sources against the library in DIR (default ./data, when it exists)", "DIR" },
    { "timezone", 0, 0, G_OPTION_ARG_STRING, &zone,
      "Time zone for times without TZID (default Asia/Shanghai)", "ZONE" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("check FILE… - validate timetables");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (
      context, "Every problem is printed as FILE:LINE: message. Exit status 0 when all files "
               "are good, 65 when any has a problem.");
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("ketang schedule: %s\n", error->message);
    return EX_USAGE;
  }
  if (argc < 3 || !g_str_equal (argv[1], "check")) {
    g_printerr ("Usage: ketang schedule check [--data DIR] FILE…\n");
    return EX_USAGE;
  }
  return check (argv + 2, data_dir ? data_dir : "data", zone ? zone : "Asia/Shanghai");
}
