/* kt-timetable-edit: putting a lesson on the timetable from the web.
 *
 * Timetable files are the bureau's own documents: written by hand, exported
 * from calendar programs, kept in version control. So a lesson added from
 * the web is inserted as one VEVENT block just before the file's final
 * END:VCALENDAR, and every other byte stays exactly as it was, comments and
 * folding and all. The block itself is written by libical, so its escaping
 * and line folding are right; times are written in the channel's zone with
 * TZID (readable, and a weekly series keeps its local time).
 *
 * The edited text is checked with kt_calendar_load, the same check the
 * server and `ketang schedule check` apply, before it replaces the file; a
 * lesson that overlaps another, for instance, is refused with the problem
 * and the file is left untouched. The file is replaced atomically
 * (g_file_set_contents writes a temporary file and renames it).
 */
#define G_LOG_DOMAIN "kt-timetable"

#include "kt-timetable.h"
#include "kt-clock.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <libical/ical.h>
#include <stdlib.h>

static void
add_x (icalcomponent *comp, const char *name, const char *value)
{
  icalproperty *p = icalproperty_new_x (value);
  icalproperty_set_x_name (p, name);
  icalcomponent_add_property (comp, p);
}

static icalproperty *
local_time_property (icalproperty *(*make) (struct icaltimetype), gint64 us, icaltimezone *zone,
                     const char *zone_id)
{
  struct icaltimetype t = icaltime_from_timet_with_zone (us / G_USEC_PER_SEC, 0, zone);
  t.zone = NULL; /* written as local time with TZID, not converted again */
  icalproperty *p = make (t);
  icalproperty_add_parameter (p, icalparameter_new_tzid (zone_id));
  return p;
}

static char *
vevent_text (const KtNewLesson *lesson, const KtCalendarOptions *options, char **uid_out)
{
  icaltimezone *zone = icaltimezone_get_builtin_timezone (options->default_zone_id);
  icalcomponent *ev = icalcomponent_new_vevent ();
  guint32 r[4];
  for (guint i = 0; i < G_N_ELEMENTS (r); i++)
    r[i] = g_random_int ();
  g_autofree char *uid = g_strdup_printf ("%08x%08x%08x%08x@ketang", r[0], r[1], r[2], r[3]);
  icalcomponent_add_property (ev, icalproperty_new_uid (uid));
  icalcomponent_add_property (
      ev, icalproperty_new_dtstamp (icaltime_from_timet_with_zone (
              kt_clock_now_us () / G_USEC_PER_SEC, 0, icaltimezone_get_utc_timezone ())));
  icalcomponent_add_property (ev, icalproperty_new_summary (lesson->title));
  if (lesson->description && lesson->description[0])
    icalcomponent_add_property (ev, icalproperty_new_description (lesson->description));
  if (lesson->teacher && lesson->teacher[0]) {
    g_autofree char *address = g_strdup_printf ("urn:ketang:user:%s",
                                                lesson->teacher_login ? lesson->teacher_login : "");
    icalproperty *org = icalproperty_new_organizer (address);
    icalproperty_add_parameter (org, icalparameter_new_cn (lesson->teacher));
    icalcomponent_add_property (ev, org);
  }
  icalcomponent_add_property (ev, local_time_property (icalproperty_new_dtstart, lesson->start_us,
                                                       zone, options->default_zone_id));
  icalcomponent_add_property (ev, local_time_property (icalproperty_new_dtend, lesson->end_us,
                                                       zone, options->default_zone_id));
  if (lesson->weekly_until_us > 0) {
    struct icalrecurrencetype recur;
    icalrecurrencetype_clear (&recur);
    recur.freq = ICAL_WEEKLY_RECURRENCE;
    recur.until = icaltime_from_timet_with_zone (lesson->weekly_until_us / G_USEC_PER_SEC, 0,
                                                 icaltimezone_get_utc_timezone ());
    icalcomponent_add_property (ev, icalproperty_new_rrule (recur));
  }
  add_x (ev, "X-KETANG-SOURCE", lesson->source);
  char *text = icalcomponent_as_ical_string_r (ev);
  icalcomponent_free (ev);
  char *result = g_strdup (text);
  free (text);
  *uid_out = g_steal_pointer (&uid);
  return result;
}

/* The new file's text: @old with @block inserted before its last
 * END:VCALENDAR, or a new calendar for @channel_id around @block. */
static char *
insert_block (const char *old, const char *block, const char *channel_id,
              const char *channel_name, GError **error)
{
  if (old == NULL)
    return g_strdup_printf ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//ketang//timetable//ZH\r\n"
                            "X-WR-CALNAME:%s\r\nX-KETANG-CHANNEL:%s\r\n%sEND:VCALENDAR\r\n",
                            channel_name, channel_id, block);
  const char *end = NULL;
  for (const char *p = old; (p = strstr (p, "END:VCALENDAR")) != NULL; p++)
    if (p == old || p[-1] == '\n')
      end = p;
  if (end == NULL) {
    g_set_error (error, KT_TIMETABLE_ERROR, KT_TIMETABLE_ERROR_INVALID,
                 "the timetable file has no END:VCALENDAR line");
    return NULL;
  }
  /* Keep the file's own line endings for the inserted block. */
  gboolean crlf = strstr (old, "\r\n") != NULL;
  g_autoptr (GString) b = g_string_new (block);
  if (!crlf)
    g_string_replace (b, "\r\n", "\n", 0);
  return g_strdup_printf ("%.*s%s%s", (int) (end - old), old, b->str, end);
}

gboolean
kt_timetable_add_lesson (const char *path, const char *channel_id, const char *channel_name,
                         const KtNewLesson *lesson, const KtCalendarOptions *options,
                         GPtrArray *problems, char **uid_out, GError **error)
{
  g_autofree char *old = NULL;
  if (g_file_test (path, G_FILE_TEST_EXISTS) && !g_file_get_contents (path, &old, NULL, error))
    return FALSE;
  g_autofree char *uid = NULL;
  g_autofree char *block = vevent_text (lesson, options, &uid);
  g_autofree char *text = insert_block (old, block, channel_id, channel_name, error);
  if (text == NULL)
    return FALSE;

  /* Check the result as the server will load it, from a file beside it. */
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *check_path = g_build_filename (dir, ".ketang-check.ics.tmp", NULL);
  if (!g_file_set_contents (check_path, text, -1, error))
    return FALSE;
  g_autoptr (KtCalendar) calendar = kt_calendar_load (check_path, options, problems, error);
  g_unlink (check_path);
  for (guint i = 0; i < problems->len; i++) {
    KtScheduleProblem *p = problems->pdata[i];
    g_free (p->file);
    p->file = g_strdup (path);
  }
  if (calendar == NULL)
    return FALSE;
  if (!g_file_set_contents (path, text, -1, error))
    return FALSE;
  g_info ("schedule file=%s lesson added uid=%s source=%s", path, uid, lesson->source);
  if (uid_out)
    *uid_out = g_steal_pointer (&uid);
  return TRUE;
}
