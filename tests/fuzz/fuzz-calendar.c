/* libFuzzer target: a timetable file (iCalendar, through libical and
 * kt-timetable's checks) — what an administrator or a calendar program
 * drops into schedules/. Every input must end in a calendar or in problems
 * with file and line, never in a crash (loading expands every rule it holds
 * up to a term ahead, so recurrence expansion is fuzzed too). */
#include "kt-timetable.h"

#include <glib/gstdio.h>
#include <unistd.h>

static char *path;

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  if (path == NULL) {
    g_autofree char *dir = g_dir_make_tmp ("ketang-fuzz-XXXXXX", NULL);
    path = g_build_filename (dir, "1.ics", NULL);
  }
  g_file_set_contents (path, (const char *) data, size, NULL);
  static GTimeZone *zone;
  if (zone == NULL)
    zone = g_time_zone_new_identifier ("Asia/Shanghai");
  KtCalendarOptions options = { 0 };
  options.default_zone = zone;
  options.default_zone_id = "Asia/Shanghai";
  /* 2026-11-30 plus a term: what the server expands. */
  options.horizon_us = (G_GINT64_CONSTANT (1796000000) + G_GINT64_CONSTANT (120) * 86400) * G_USEC_PER_SEC;
  g_autoptr (GPtrArray) problems = g_ptr_array_new_with_free_func ((GDestroyNotify) kt_schedule_problem_free);
  g_autoptr (GError) error = NULL;
  g_autoptr (KtCalendar) calendar = kt_calendar_load (path, &options, problems, &error);
  /* Either a calendar, or problems and an error; never neither. */
  g_assert ((calendar != NULL) != (error != NULL));
  g_assert (calendar != NULL || problems->len > 0);
  if (calendar != NULL)
    g_assert (kt_calendar_channel_id (calendar) != NULL);
  return 0;
}
