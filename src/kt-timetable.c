/* kt-timetable: the weekly timetable, from iCalendar files.
 *
 * Each file in schedules/ is one channel's timetable, made in any calendar
 * program and exported, or written by hand. It is parsed with libical; this
 * module adds what a calendar program does not check and a TV channel needs:
 *
 *   - the calendar names its channel (X-KETANG-CHANNEL, else the file name)
 *     and its display name (X-WR-CALNAME);
 *   - every VEVENT is a lesson with SUMMARY, DTSTART, DTEND or DURATION, an
 *     optional RRULE/RDATE/EXDATE series, ORGANIZER (the teacher),
 *     DESCRIPTION, and X-KETANG-SOURCE naming what airs: "item:<id>" (a
 *     library item) or "live:<key>" (a live input);
 *   - times without TZID are taken in the configured zone (Asia/Shanghai);
 *   - lessons of one channel must not overlap, must end after they start,
 *     and a series must occur at least once.
 *
 * libical reports no line numbers, so the file's text is scanned alongside
 * (event_lines(), property_line()) and every problem carries file:line, as
 * `ketang schedule check` prints it. All problems of a file are collected,
 * not just the first, so one run of check shows everything to fix.
 *
 * Occurrences are expanded from each lesson's DTSTART up to a horizon (the
 * caller's "now" plus some weeks) and kept sorted: the channel assembler
 * walks them from the first, so what airs at any instant is a pure function
 * of the files and the library.
 *
 * KtTimetable keeps the directory in force: a changed file is reparsed after
 * a short quiet period; a file that fails keeps its last good version and
 * its problems are reported (log and kt_timetable_file_status()).
 */
#define G_LOG_DOMAIN "kt-timetable"

#include "kt-timetable.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <libical/ical.h>

G_DEFINE_QUARK (kt-timetable-error-quark, kt_timetable_error)

#define MAX_OCCURRENCES_PER_FILE 20000
#define NEVER_OCCURS_SEARCH_LIMIT 5000

struct _KtCalendar {
  char *path;
  char *channel_id;
  char *channel_name;
  GPtrArray *lessons;    /* KtLesson* */
  GArray *occurrences;   /* KtOccurrence, sorted */
  gint64 horizon_us;
};

void
kt_schedule_problem_free (KtScheduleProblem *problem)
{
  if (problem == NULL)
    return;
  g_free (problem->file);
  g_free (problem->message);
  g_free (problem);
}

static void
lesson_free (gpointer data)
{
  KtLesson *l = data;
  g_free (l->uid);
  g_free (l->title);
  g_free (l->teacher);
  g_free (l->description);
  g_free (l->source);
  g_free (l->fallback);
  g_free (l->file);
  g_free (l);
}

void
kt_calendar_free (KtCalendar *calendar)
{
  if (calendar == NULL)
    return;
  g_free (calendar->path);
  g_free (calendar->channel_id);
  g_free (calendar->channel_name);
  g_clear_pointer (&calendar->occurrences, g_array_unref);
  g_clear_pointer (&calendar->lessons, g_ptr_array_unref);
  g_free (calendar);
}

const char *
kt_calendar_path (const KtCalendar *calendar)
{
  return calendar->path;
}

const char *
kt_calendar_channel_id (const KtCalendar *calendar)
{
  return calendar->channel_id;
}

const char *
kt_calendar_channel_name (const KtCalendar *calendar)
{
  return calendar->channel_name;
}

GArray *
kt_calendar_occurrences (const KtCalendar *calendar)
{
  return calendar->occurrences;
}

gint64
kt_calendar_horizon (const KtCalendar *calendar)
{
  return calendar->horizon_us;
}

/* Parsing context for one file. */
typedef struct {
  const char *path;
  GStrv lines;          /* the file's lines, \r stripped */
  GArray *event_lines;  /* int: line of each BEGIN:VEVENT, in order */
  GPtrArray *problems;
  const KtCalendarOptions *options;
  icaltimezone *default_zone;
} Ctx;

static void G_GNUC_PRINTF (3, 4)
problem (Ctx *ctx, int line, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  KtScheduleProblem *p = g_new0 (KtScheduleProblem, 1);
  p->file = g_strdup (ctx->path);
  p->line = line;
  p->message = g_strdup_vprintf (format, args);
  va_end (args);
  g_ptr_array_add (ctx->problems, p);
}

static void
scan_lines (Ctx *ctx, const char *text)
{
  ctx->lines = g_strsplit (text, "\n", -1);
  ctx->event_lines = g_array_new (FALSE, FALSE, sizeof (int));
  for (int i = 0; ctx->lines[i]; i++) {
    gsize len = strlen (ctx->lines[i]);
    if (len > 0 && ctx->lines[i][len - 1] == '\r')
      ctx->lines[i][len - 1] = '\0';
    if (g_ascii_strcasecmp (ctx->lines[i], "BEGIN:VEVENT") == 0) {
      int line = i + 1;
      g_array_append_val (ctx->event_lines, line);
    }
  }
}

/* The line of property @name inside the event that begins at @event_line,
 * or the event's own line when the property is not there. */
static int
property_line (Ctx *ctx, int event_line, const char *name)
{
  gsize n = strlen (name);
  for (int i = event_line; ctx->lines[i]; i++) {
    const char *l = ctx->lines[i];
    if (g_ascii_strcasecmp (l, "END:VEVENT") == 0)
      break;
    if (g_ascii_strncasecmp (l, name, n) == 0 && (l[n] == ':' || l[n] == ';'))
      return i + 1;
  }
  return event_line;
}

/* The line an X-LIC-ERROR is about: the file line its text quotes. */
static int
line_quoted_in (Ctx *ctx, const char *message, int fallback)
{
  int best = fallback;
  gsize best_len = 0;
  for (int i = 0; ctx->lines[i]; i++) {
    gsize len = strlen (ctx->lines[i]);
    if (len >= 3 && len > best_len && strstr (message, ctx->lines[i]) != NULL) {
      best = i + 1;
      best_len = len;
    }
  }
  return best;
}

static void
report_parse_errors (Ctx *ctx, icalcomponent *comp, int line)
{
  for (icalproperty *p = icalcomponent_get_first_property (comp, ICAL_XLICERROR_PROPERTY); p;
       p = icalcomponent_get_next_property (comp, ICAL_XLICERROR_PROPERTY)) {
    const char *msg = icalproperty_get_xlicerror (p);
    problem (ctx, line_quoted_in (ctx, msg ? msg : "", line), "cannot parse: %s",
             msg ? msg : "unknown error");
  }
}

static const char *
x_property (icalcomponent *comp, const char *name)
{
  for (icalproperty *p = icalcomponent_get_first_property (comp, ICAL_X_PROPERTY); p;
       p = icalcomponent_get_next_property (comp, ICAL_X_PROPERTY)) {
    const char *x = icalproperty_get_x_name (p);
    if (x && g_ascii_strcasecmp (x, name) == 0)
      return icalproperty_get_x (p);
  }
  return NULL;
}

/* A DATE-TIME as µs since the epoch, in its own zone, UTC, or the default. */
static gboolean
instant_of (Ctx *ctx, struct icaltimetype t, icalproperty *prop, int line, gint64 *out)
{
  if (icaltime_is_null_time (t) || !icaltime_is_valid_time (t)) {
    problem (ctx, line, "not a valid date and time");
    return FALSE;
  }
  if (icaltime_is_date (t)) {
    problem (ctx, line, "a lesson needs a time of day, not only a date");
    return FALSE;
  }
  const icaltimezone *zone;
  if (icaltime_is_utc (t))
    zone = icaltimezone_get_utc_timezone ();
  else if (t.zone != NULL)
    zone = t.zone;
  else if (prop && icalproperty_get_first_parameter (prop, ICAL_TZID_PARAMETER)) {
    icalparameter *tzid = icalproperty_get_first_parameter (prop, ICAL_TZID_PARAMETER);
    problem (ctx, line, "unknown time zone “%s”", icalparameter_get_tzid (tzid));
    return FALSE;
  } else
    zone = ctx->default_zone;
  *out = (gint64) icaltime_as_timet_with_zone (t, (icaltimezone *) zone) * G_USEC_PER_SEC;
  return TRUE;
}

static char *
teacher_of (icalcomponent *ev)
{
  icalproperty *org = icalcomponent_get_first_property (ev, ICAL_ORGANIZER_PROPERTY);
  if (org == NULL)
    return g_strdup ("");
  icalparameter *cn = icalproperty_get_first_parameter (org, ICAL_CN_PARAMETER);
  if (cn && icalparameter_get_cn (cn))
    return g_strdup (icalparameter_get_cn (cn));
  const char *value = icalproperty_get_organizer (org);
  if (value && g_ascii_strncasecmp (value, "mailto:", 7) == 0)
    value += 7;
  return g_strdup (value ? value : "");
}

static gboolean
check_source (Ctx *ctx, const char *source, int line)
{
  if (source == NULL || source[0] == '\0') {
    problem (ctx, line, "no X-KETANG-SOURCE: say what airs (item:<id> or live:<key>)");
    return FALSE;
  }
  if (g_str_has_prefix (source, "live:") && source[5] != '\0')
    return TRUE;
  if (!g_str_has_prefix (source, "item:") || source[5] == '\0') {
    problem (ctx, line, "X-KETANG-SOURCE “%s” must be item:<id> or live:<key>", source);
    return FALSE;
  }
  if (ctx->options->source_exists &&
      !ctx->options->source_exists (source, ctx->options->source_data)) {
    problem (ctx, line, "unknown source “%s”: no such item in the library", source);
    return FALSE;
  }
  return TRUE;
}

/* X-KETANG-FALLBACK: a library item for a live talk whose speaker does not
 * come. */
static gboolean
check_fallback (Ctx *ctx, const char *source, const char *fallback, int line)
{
  if (fallback == NULL)
    return TRUE;
  if (source == NULL || !g_str_has_prefix (source, "live:")) {
    problem (ctx, line, "X-KETANG-FALLBACK is only for live talks (X-KETANG-SOURCE:live:<key>)");
    return FALSE;
  }
  if (!g_str_has_prefix (fallback, "item:") || fallback[5] == '\0') {
    problem (ctx, line, "X-KETANG-FALLBACK “%s” must be item:<id>", fallback);
    return FALSE;
  }
  if (ctx->options->source_exists
      && !ctx->options->source_exists (fallback, ctx->options->source_data)) {
    problem (ctx, line, "unknown fallback “%s”: no such item in the library", fallback);
    return FALSE;
  }
  return TRUE;
}

/* Occurrence start instants of @ev up to @until_us (at most @limit), with
 * EXDATEs removed. */
static GArray *
expand (Ctx *ctx, icalcomponent *ev, struct icaltimetype dtstart, gint64 start_us,
        int event_line, gint64 until_us, guint limit, gboolean *ok)
{
  GArray *starts = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GHashTable) excluded = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  *ok = TRUE;

  for (icalproperty *p = icalcomponent_get_first_property (ev, ICAL_EXDATE_PROPERTY); p;
       p = icalcomponent_get_next_property (ev, ICAL_EXDATE_PROPERTY)) {
    gint64 *x = g_new (gint64, 1);
    if (instant_of (ctx, icalproperty_get_datetime_with_component (p, ev), p,
                    property_line (ctx, event_line, "EXDATE"), x))
      g_hash_table_add (excluded, x);
    else {
      g_free (x);
      *ok = FALSE;
    }
  }

  icalproperty *rrule = icalcomponent_get_first_property (ev, ICAL_RRULE_PROPERTY);
  if (rrule == NULL) {
    if (!g_hash_table_contains (excluded, &start_us))
      g_array_append_val (starts, start_us);
  } else {
    struct icalrecurrencetype recur = icalproperty_get_rrule (rrule);
    icalrecur_iterator *it = icalrecur_iterator_new (recur, dtstart);
    if (it == NULL) {
      problem (ctx, property_line (ctx, event_line, "RRULE"), "this RRULE cannot be expanded");
      *ok = FALSE;
      return starts;
    }
    guint seen = 0;
    for (struct icaltimetype t = icalrecur_iterator_next (it); !icaltime_is_null_time (t);
         t = icalrecur_iterator_next (it)) {
      gint64 us;
      if (!instant_of (ctx, t, NULL, event_line, &us) || us > until_us || ++seen > limit)
        break;
      if (!g_hash_table_contains (excluded, &us))
        g_array_append_val (starts, us);
    }
    icalrecur_iterator_free (it);
  }
  for (icalproperty *p = icalcomponent_get_first_property (ev, ICAL_RDATE_PROPERTY); p;
       p = icalcomponent_get_next_property (ev, ICAL_RDATE_PROPERTY)) {
    gint64 us;
    struct icaldatetimeperiodtype rd = icalproperty_get_rdate (p);
    if (instant_of (ctx, rd.time, p, property_line (ctx, event_line, "RDATE"), &us) &&
        us <= until_us && !g_hash_table_contains (excluded, &us))
      g_array_append_val (starts, us);
  }
  return starts;
}

static int
compare_occurrences (gconstpointer a, gconstpointer b)
{
  const KtOccurrence *x = a, *y = b;
  return x->start_us < y->start_us ? -1 : x->start_us > y->start_us ? 1 : 0;
}

static char *
format_local (gint64 us, GTimeZone *zone)
{
  g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);
  g_autoptr (GDateTime) local = g_date_time_to_timezone (utc, zone);
  return g_date_time_format (local, "%Y-%m-%d %H:%M");
}

static void
check_overlaps (Ctx *ctx, KtCalendar *calendar)
{
  g_autoptr (GHashTable) reported = g_hash_table_new (g_direct_hash, g_direct_equal);
  GArray *occ = calendar->occurrences;
  for (guint i = 1; i < occ->len; i++) {
    const KtOccurrence *prev = &g_array_index (occ, KtOccurrence, i - 1);
    const KtOccurrence *cur = &g_array_index (occ, KtOccurrence, i);
    if (cur->start_us >= prev->end_us)
      continue;
    /* One report per pair of lessons, not one per week of the term. */
    gpointer key = GSIZE_TO_POINTER (GPOINTER_TO_SIZE (cur->lesson) ^
                                     (GPOINTER_TO_SIZE (prev->lesson) << 1));
    if (g_hash_table_contains (reported, key))
      continue;
    g_hash_table_add (reported, key);
    g_autofree char *when = format_local (cur->start_us, ctx->options->default_zone);
    g_autofree char *until = format_local (prev->end_us, ctx->options->default_zone);
    problem (ctx, cur->lesson->line,
             "“%s” at %s overlaps “%s” (line %d), which runs until %s on the same channel",
             cur->lesson->title, when, prev->lesson->title, prev->lesson->line, until);
  }
}

static void
load_event (Ctx *ctx, KtCalendar *calendar, icalcomponent *ev, int event_line)
{
  KtLesson *lesson = g_new0 (KtLesson, 1);
  lesson->file = g_strdup (ctx->path);
  lesson->line = event_line;
  lesson->uid = g_strdup (icalcomponent_get_uid (ev) ? icalcomponent_get_uid (ev) : "");
  lesson->title = g_strdup (icalcomponent_get_summary (ev) ? icalcomponent_get_summary (ev) : "");
  lesson->description = g_strdup (icalcomponent_get_description (ev)
                                      ? icalcomponent_get_description (ev) : "");
  lesson->teacher = teacher_of (ev);
  const char *source = x_property (ev, "X-KETANG-SOURCE");
  lesson->source = g_strdup (source);
  const char *fallback = x_property (ev, "X-KETANG-FALLBACK");
  lesson->fallback = g_strdup (fallback);
  g_ptr_array_add (calendar->lessons, lesson);

  report_parse_errors (ctx, ev, event_line);
  gboolean ok = TRUE;
  if (lesson->title[0] == '\0') {
    problem (ctx, event_line, "the lesson has no SUMMARY (its title)");
    ok = FALSE;
  }
  ok &= check_source (ctx, source, property_line (ctx, event_line, "X-KETANG-SOURCE"));
  ok &= check_fallback (ctx, source, fallback, property_line (ctx, event_line, "X-KETANG-FALLBACK"));

  icalproperty *start_prop = icalcomponent_get_first_property (ev, ICAL_DTSTART_PROPERTY);
  if (start_prop == NULL) {
    problem (ctx, event_line, "the lesson has no DTSTART");
    return;
  }
  int start_line = property_line (ctx, event_line, "DTSTART");
  struct icaltimetype dtstart = icalproperty_get_datetime_with_component (start_prop, ev);
  gint64 start_us;
  if (!instant_of (ctx, dtstart, start_prop, start_line, &start_us))
    return;

  icalproperty *end_prop = icalcomponent_get_first_property (ev, ICAL_DTEND_PROPERTY);
  icalproperty *dur_prop = icalcomponent_get_first_property (ev, ICAL_DURATION_PROPERTY);
  gint64 duration_us;
  if (end_prop != NULL) {
    int end_line = property_line (ctx, event_line, "DTEND");
    gint64 end_us;
    if (!instant_of (ctx, icalproperty_get_datetime_with_component (end_prop, ev), end_prop,
                     end_line, &end_us))
      return;
    duration_us = end_us - start_us;
    if (duration_us <= 0) {
      problem (ctx, end_line, "“%s” ends before it starts", lesson->title);
      return;
    }
  } else if (dur_prop != NULL) {
    duration_us = (gint64) icaldurationtype_as_int (icalproperty_get_duration (dur_prop)) *
                  G_USEC_PER_SEC;
    if (duration_us <= 0) {
      problem (ctx, property_line (ctx, event_line, "DURATION"),
               "“%s” has a DURATION that is not positive", lesson->title);
      return;
    }
  } else {
    problem (ctx, event_line, "“%s” has neither DTEND nor DURATION", lesson->title);
    return;
  }
  if (!ok)
    return;

  gboolean expanded_ok;
  g_autoptr (GArray) starts = expand (ctx, ev, dtstart, start_us, event_line,
                                      calendar->horizon_us, MAX_OCCURRENCES_PER_FILE,
                                      &expanded_ok);
  if (!expanded_ok)
    return;
  if (starts->len == 0) {
    /* Nothing before the horizon: does it ever occur? */
    g_autoptr (GArray) later = expand (ctx, ev, dtstart, start_us, event_line, G_MAXINT64,
                                       NEVER_OCCURS_SEARCH_LIMIT, &expanded_ok);
    if (expanded_ok && later->len == 0)
      problem (ctx, property_line (ctx, event_line,
                                   icalcomponent_get_first_property (ev, ICAL_RRULE_PROPERTY)
                                       ? "RRULE" : "DTSTART"),
               "“%s” never occurs (its rule and exceptions leave no date)", lesson->title);
    return;
  }
  if (calendar->occurrences->len + starts->len > MAX_OCCURRENCES_PER_FILE) {
    problem (ctx, property_line (ctx, event_line, "RRULE"),
             "“%s” occurs more than %d times before the horizon", lesson->title,
             MAX_OCCURRENCES_PER_FILE);
    return;
  }
  for (guint i = 0; i < starts->len; i++) {
    KtOccurrence o = { lesson, g_array_index (starts, gint64, i), 0 };
    o.end_us = o.start_us + duration_us;
    g_array_append_val (calendar->occurrences, o);
  }
}

gboolean
kt_channel_id_valid (const char *id)
{
  gsize len = strlen (id);
  if (len == 0 || len > 32)
    return FALSE;
  for (const char *p = id; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

KtCalendar *
kt_calendar_load (const char *path, const KtCalendarOptions *options, GPtrArray *problems,
                  GError **error)
{
  g_autofree char *text = NULL;
  gsize len;
  g_autoptr (GError) read_error = NULL;
  if (!g_file_get_contents (path, &text, &len, &read_error)) {
    KtScheduleProblem *p = g_new0 (KtScheduleProblem, 1);
    p->file = g_strdup (path);
    p->message = g_strdup (read_error->message);
    g_ptr_array_add (problems, p);
    g_set_error (error, KT_TIMETABLE_ERROR, KT_TIMETABLE_ERROR_READ, "%s", read_error->message);
    return NULL;
  }

  Ctx ctx = { path, NULL, NULL, problems, options, NULL };
  guint problems_before = problems->len;
  ctx.default_zone = icaltimezone_get_builtin_timezone (options->default_zone_id);
  if (ctx.default_zone == NULL)
    ctx.default_zone = icaltimezone_get_utc_timezone ();
  scan_lines (&ctx, text);

  g_autoptr (KtCalendar) calendar = g_new0 (KtCalendar, 1);
  calendar->path = g_strdup (path);
  calendar->lessons = g_ptr_array_new_with_free_func (lesson_free);
  calendar->occurrences = g_array_new (FALSE, FALSE, sizeof (KtOccurrence));
  calendar->horizon_us = options->horizon_us;

  icalcomponent *root = NULL;
  if (!g_utf8_validate (text, len, NULL))
    problem (&ctx, 1, "not UTF-8 text");
  else if (memchr (text, '\0', len) != NULL)
    problem (&ctx, 1, "not a text file");
  else
    root = icalparser_parse_string (text);

  if (root == NULL && problems->len == problems_before)
    problem (&ctx, 1, "not an iCalendar file (no BEGIN:VCALENDAR)");
  else if (root != NULL && icalcomponent_isa (root) != ICAL_VCALENDAR_COMPONENT)
    problem (&ctx, 1, "not an iCalendar file: it must start with BEGIN:VCALENDAR");
  else if (root != NULL) {
    report_parse_errors (&ctx, root, 1);
    const char *channel = x_property (root, "X-KETANG-CHANNEL");
    g_autofree char *stem = g_path_get_basename (path);
    if (g_str_has_suffix (stem, ".ics"))
      stem[strlen (stem) - 4] = '\0';
    calendar->channel_id = g_strdup (channel ? channel : stem);
    if (!kt_channel_id_valid (calendar->channel_id))
      problem (&ctx, 1, "channel id “%s” must be 1–32 letters, digits, - or _ "
               "(set X-KETANG-CHANNEL)", calendar->channel_id);
    const char *name = x_property (root, "X-WR-CALNAME");
    calendar->channel_name = name && name[0] ? g_strdup (name)
                                             : g_strdup_printf ("频道 %s", calendar->channel_id);

    guint index = 0;
    for (icalcomponent *ev = icalcomponent_get_first_component (root, ICAL_VEVENT_COMPONENT); ev;
         ev = icalcomponent_get_next_component (root, ICAL_VEVENT_COMPONENT), index++) {
      int line = index < ctx.event_lines->len ? g_array_index (ctx.event_lines, int, index) : 1;
      load_event (&ctx, calendar, ev, line);
    }
    g_array_sort (calendar->occurrences, compare_occurrences);
    check_overlaps (&ctx, calendar);
  }

  if (root)
    icalcomponent_free (root);
  g_strfreev (ctx.lines);
  g_array_unref (ctx.event_lines);

  if (problems->len > problems_before) {
    g_set_error (error, KT_TIMETABLE_ERROR, KT_TIMETABLE_ERROR_INVALID,
                 "%s: %u problem(s)", path, problems->len - problems_before);
    return NULL;
  }
  return g_steal_pointer (&calendar);
}
