/* kt-timetable: recurrence expansion (weekly, EXDATE, time zones, across
 * midnight) and every kind of mistake reported with its file and line. */
#include "kt-timetable.h"
#include "test-utils.h"

static char *dir;
static GTimeZone *shanghai;

#define HEADER "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\nX-WR-CALNAME:测试频道\nX-KETANG-CHANNEL:7\n"
#define FOOTER "END:VCALENDAR\n"

/* 2026-12-01T00:00:00Z, and far enough ahead for every test. */
#define DEC_1_2026 G_GINT64_CONSTANT (1796083200)
#define HORIZON_US (G_GINT64_CONSTANT (1830000000) * (gint64) G_USEC_PER_SEC)

static gboolean
only_known_items (const char *source, gpointer data)
{
  return g_strcmp0 (source, "item:known") == 0 || g_str_has_prefix (source, "live:");
}

static KtCalendar *
load (const char *text, GPtrArray **problems_out)
{
  static int n;
  g_autofree char *name = g_strdup_printf ("t%d.ics", n++);
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  KtCalendarOptions options = { shanghai, "Asia/Shanghai", HORIZON_US, only_known_items, NULL };
  GPtrArray *problems = g_ptr_array_new_with_free_func ((GDestroyNotify) kt_schedule_problem_free);
  g_autoptr (GError) error = NULL;
  KtCalendar *calendar = kt_calendar_load (path, &options, problems, &error);
  g_assert_true ((calendar == NULL) == (error != NULL));
  g_assert_true ((calendar == NULL) == (problems->len > 0));
  if (problems_out)
    *problems_out = problems;
  else
    g_ptr_array_unref (problems);
  return calendar;
}

static gint64
occ_start (KtCalendar *c, guint i)
{
  GArray *occ = kt_calendar_occurrences (c);
  g_assert_cmpuint (i, <, occ->len);
  return g_array_index (occ, KtOccurrence, i).start_us / G_USEC_PER_SEC;
}

static void
test_weekly_with_exdate (void)
{
  g_autoptr (KtCalendar) c = load (
      HEADER "BEGIN:VEVENT\nUID:a\nSUMMARY:书法\nORGANIZER;CN=王老师:mailto:w@x\n"
             "DESCRIPTION:楷书\n"
             "DTSTART;TZID=Asia/Shanghai:20261201T090000\n"
             "DTEND;TZID=Asia/Shanghai:20261201T103000\n"
             "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=4\n"
             "EXDATE;TZID=Asia/Shanghai:20261208T090000\n"
             "X-KETANG-SOURCE:item:known\nEND:VEVENT\n" FOOTER,
      NULL);
  g_assert_nonnull (c);
  g_assert_cmpstr (kt_calendar_channel_id (c), ==, "7");
  g_assert_cmpstr (kt_calendar_channel_name (c), ==, "测试频道");
  GArray *occ = kt_calendar_occurrences (c);
  g_assert_cmpuint (occ->len, ==, 3); /* 4 weeks, one excepted */
  /* 09:00 in Shanghai is 01:00Z. */
  g_assert_cmpint (occ_start (c, 0), ==, DEC_1_2026 + 3600);
  g_assert_cmpint (occ_start (c, 1), ==, DEC_1_2026 + 3600 + 14 * 86400); /* Dec 15 */
  g_assert_cmpint (occ_start (c, 2), ==, DEC_1_2026 + 3600 + 21 * 86400);
  const KtOccurrence *o = &g_array_index (occ, KtOccurrence, 0);
  g_assert_cmpint (o->end_us - o->start_us, ==, 90 * 60 * (gint64) G_USEC_PER_SEC);
  g_assert_cmpstr (o->lesson->title, ==, "书法");
  g_assert_cmpstr (o->lesson->teacher, ==, "王老师");
  g_assert_cmpstr (o->lesson->description, ==, "楷书");
  g_assert_cmpstr (o->lesson->source, ==, "item:known");
}

/* Floating times are Shanghai time; UTC stays UTC; another zone keeps its
 * own daylight-saving rules across a change. */
static void
test_time_zones (void)
{
  g_autoptr (KtCalendar) c = load (
      HEADER "BEGIN:VEVENT\nUID:f\nSUMMARY:浮动\nDTSTART:20261201T090000\nDURATION:PT30M\n"
             "X-KETANG-SOURCE:item:known\nEND:VEVENT\n"
             "BEGIN:VEVENT\nUID:u\nSUMMARY:UTC\nDTSTART:20261201T120000Z\nDURATION:PT30M\n"
             "X-KETANG-SOURCE:item:known\nEND:VEVENT\n" FOOTER,
      NULL);
  g_assert_nonnull (c);
  g_assert_cmpint (occ_start (c, 0), ==, DEC_1_2026 + 3600);      /* 09:00 +08 */
  g_assert_cmpint (occ_start (c, 1), ==, DEC_1_2026 + 12 * 3600); /* 12:00Z */

  /* New York: 10:00 EDT (14:00Z) on Oct 29, 10:00 EST (15:00Z) on Nov 5. */
  g_autoptr (KtCalendar) ny = load (
      HEADER "BEGIN:VEVENT\nUID:n\nSUMMARY:纽约\nDTSTART;TZID=America/New_York:20261029T100000\n"
             "DURATION:PT1H\nRRULE:FREQ=WEEKLY;COUNT=2\nX-KETANG-SOURCE:item:known\nEND:VEVENT\n"
             FOOTER,
      NULL);
  g_assert_nonnull (ny);
  g_assert_cmpint (occ_start (ny, 0), ==, DEC_1_2026 - 33 * 86400 + 14 * 3600);
  g_assert_cmpint (occ_start (ny, 1), ==, DEC_1_2026 - 26 * 86400 + 15 * 3600);
}

static void
test_lesson_crossing_midnight (void)
{
  g_autoptr (KtCalendar) c = load (
      HEADER "BEGIN:VEVENT\nUID:m\nSUMMARY:跨年晚会\n"
             "DTSTART;TZID=Asia/Shanghai:20261231T233000\n"
             "DTEND;TZID=Asia/Shanghai:20270101T003000\n"
             "X-KETANG-SOURCE:live:wanhui\nEND:VEVENT\n" FOOTER,
      NULL);
  g_assert_nonnull (c);
  const KtOccurrence *o = &g_array_index (kt_calendar_occurrences (c), KtOccurrence, 0);
  g_assert_cmpint (o->end_us - o->start_us, ==, 3600 * (gint64) G_USEC_PER_SEC);
  g_assert_cmpint (o->start_us / G_USEC_PER_SEC, ==, DEC_1_2026 + 30 * 86400 + 15 * 3600 + 1800);
}

typedef struct {
  const char *what;
  const char *text;
  int line;            /* expected line of the first problem */
  const char *message; /* expected in its message */
} BadCase;

static void
test_mistakes_name_file_and_line (void)
{
  static const BadCase cases[] = {
    { "overlap",
      HEADER "BEGIN:VEVENT\nUID:a\nSUMMARY:书法\nDTSTART:20261201T090000\nDTEND:20261201T103000\n"
             "RRULE:FREQ=WEEKLY;COUNT=3\nX-KETANG-SOURCE:item:known\nEND:VEVENT\n"
             "BEGIN:VEVENT\nUID:b\nSUMMARY:国画\nDTSTART:20261215T100000\nDTEND:20261215T110000\n"
             "X-KETANG-SOURCE:item:known\nEND:VEVENT\n" FOOTER,
      14, "overlaps “书法”" },
    { "end before start",
      HEADER "BEGIN:VEVENT\nUID:a\nSUMMARY:书法\nDTSTART:20261201T090000\n"
             "DTEND:20261201T080000\nX-KETANG-SOURCE:item:known\nEND:VEVENT\n" FOOTER,
      10, "ends before it starts" },
    { "never occurs",
      HEADER "BEGIN:VEVENT\nUID:a\nSUMMARY:书法\nDTSTART:20261201T090000\nDURATION:PT1H\n"
             "RRULE:FREQ=WEEKLY;COUNT=1\nEXDATE:20261201T090000\n"
             "X-KETANG-SOURCE:item:known\nEND:VEVENT\n" FOOTER,
      11, "never occurs" },
    { "unknown source",
      HEADER "BEGIN:VEVENT\nUID:a\nSUMMARY:书法\nDTSTART:20261201T090000\nDURATION:PT1H\n"
             "X-KETANG-SOURCE:item:nowhere\nEND:VEVENT\n" FOOTER,
      11, "unknown source “item:nowhere”" },
    { "bad source",
      HEADER "BEGIN:VEVENT\nUID:a\nSUMMARY:书法\nDTSTART:20261201T090000\nDURATION:PT1H\n"
             "X-KETANG-SOURCE:file:/etc/passwd\nEND:VEVENT\n" FOOTER,
      11, "must be item:<id> or live:<key>" },
    { "fallback for a recorded lesson",
      HEADER "BEGIN:VEVENT\nUID:a\nSUMMARY:书法\nDTSTART:20261201T090000\nDURATION:PT1H\n"
             "X-KETANG-SOURCE:item:known\nX-KETANG-FALLBACK:item:known\nEND:VEVENT\n" FOOTER,
      12, "only for live talks" },
    { "bad fallback",
      HEADER "BEGIN:VEVENT\nUID:a\nSUMMARY:报告会\nDTSTART:20261201T090000\nDURATION:PT1H\n"
             "X-KETANG-SOURCE:live:talk\nX-KETANG-FALLBACK:live:other\nEND:VEVENT\n" FOOTER,
      12, "must be item:<id>" },
    { "unknown fallback",
      HEADER "BEGIN:VEVENT\nUID:a\nSUMMARY:报告会\nDTSTART:20261201T090000\nDURATION:PT1H\n"
             "X-KETANG-SOURCE:live:talk\nX-KETANG-FALLBACK:item:nowhere\nEND:VEVENT\n" FOOTER,
      12, "unknown fallback" },
    { "no source",
      HEADER "BEGIN:VEVENT\nUID:a\nSUMMARY:书法\nDTSTART:20261201T090000\nDURATION:PT1H\n"
             "END:VEVENT\n" FOOTER,
      6, "no X-KETANG-SOURCE" },
    { "no end",
      HEADER "BEGIN:VEVENT\nUID:a\nSUMMARY:书法\nDTSTART:20261201T090000\n"
             "X-KETANG-SOURCE:item:known\nEND:VEVENT\n" FOOTER,
      6, "neither DTEND nor DURATION" },
    { "unknown zone",
      HEADER "BEGIN:VEVENT\nUID:a\nSUMMARY:书法\nDTSTART;TZID=Mars/Olympus:20261201T090000\n"
             "DURATION:PT1H\nX-KETANG-SOURCE:item:known\nEND:VEVENT\n" FOOTER,
      9, "unknown time zone" },
    { "date only",
      HEADER "BEGIN:VEVENT\nUID:a\nSUMMARY:书法\nDTSTART;VALUE=DATE:20261201\n"
             "DURATION:PT1H\nX-KETANG-SOURCE:item:known\nEND:VEVENT\n" FOOTER,
      9, "time of day" },
    { "not a calendar", "hello, this is not a calendar\n", 1, "not an iCalendar file" },
    { "bad channel id",
      "BEGIN:VCALENDAR\nVERSION:2.0\nX-KETANG-CHANNEL:../x\n" FOOTER, 1, "channel id" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    GPtrArray *problems = NULL;
    g_autoptr (KtCalendar) c = load (cases[i].text, &problems);
    if (c != NULL)
      g_error ("%s: loaded without a problem", cases[i].what);
    KtScheduleProblem *p = problems->pdata[0];
    if (p->line != cases[i].line || strstr (p->message, cases[i].message) == NULL)
      g_error ("%s: got %s:%d: %s", cases[i].what, p->file, p->line, p->message);
    g_assert_true (g_str_has_prefix (p->file, dir));
    g_ptr_array_unref (problems);
  }
}

/* The shipped example timetables load as they are. */
static void
test_examples_load (void)
{
  const char *schedules = g_getenv ("KETANG_SCHEDULES_DIR");
  g_autoptr (GDir) d = g_dir_open (schedules, 0, NULL);
  g_assert_nonnull (d);
  guint loaded = 0;
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL) {
    if (!g_str_has_suffix (name, ".ics"))
      continue;
    g_autofree char *path = g_build_filename (schedules, name, NULL);
    KtCalendarOptions options = { shanghai, "Asia/Shanghai", HORIZON_US, NULL, NULL };
    g_autoptr (GPtrArray) problems =
        g_ptr_array_new_with_free_func ((GDestroyNotify) kt_schedule_problem_free);
    g_autoptr (KtCalendar) c = kt_calendar_load (path, &options, problems, NULL);
    if (c == NULL)
      g_error ("%s: %s", path, ((KtScheduleProblem *) problems->pdata[0])->message);
    g_assert_cmpuint (kt_calendar_occurrences (c)->len, >, 0);
    loaded++;
  }
  g_assert_cmpuint (loaded, >=, 3);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  dir = kt_test_mkdtemp ();
  shanghai = g_time_zone_new_identifier ("Asia/Shanghai");
  g_test_add_func ("/timetable/weekly-with-exdate", test_weekly_with_exdate);
  g_test_add_func ("/timetable/time-zones", test_time_zones);
  g_test_add_func ("/timetable/lesson-crossing-midnight", test_lesson_crossing_midnight);
  g_test_add_func ("/timetable/mistakes-name-file-and-line", test_mistakes_name_file_and_line);
  g_test_add_func ("/timetable/examples-load", test_examples_load);
  int rc = g_test_run ();
  kt_test_rmtree (dir);
  return rc;
}
