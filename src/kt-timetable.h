#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KT_TIMETABLE_ERROR (kt_timetable_error_quark ())
GQuark kt_timetable_error_quark (void);

typedef enum {
  KT_TIMETABLE_ERROR_READ,   /* the file cannot be read */
  KT_TIMETABLE_ERROR_INVALID /* see the problems list for file:line detail */
} KtTimetableError;

/* One lesson as the file describes it (a VEVENT, possibly recurring). */
typedef struct {
  char *uid;
  char *title;       /* SUMMARY */
  char *teacher;     /* ORGANIZER's CN, or its address */
  char *description; /* DESCRIPTION */
  char *source;      /* X-KETANG-SOURCE: "item:<id>" or "live:<key>" */
  char *fallback;    /* X-KETANG-FALLBACK: "item:<id>" aired when a live talk does not begin, or NULL */
  char *file;
  int line;          /* of BEGIN:VEVENT */
} KtLesson;

/* One occurrence of a lesson. */
typedef struct {
  const KtLesson *lesson; /* borrowed from its calendar */
  gint64 start_us, end_us;
} KtOccurrence;

/* One problem found in a file, with where it is. */
typedef struct {
  char *file;
  int line;
  char *message;
} KtScheduleProblem;

void kt_schedule_problem_free (KtScheduleProblem *problem);

/* Decides whether a lesson's source exists (the library, in the server and
 * in `ketang schedule check --data`). NULL: every item source is accepted. */
typedef gboolean (*KtSourceExists) (const char *source, gpointer user_data);

typedef struct {
  GTimeZone *default_zone;     /* for times without TZID; borrowed */
  const char *default_zone_id; /* its IANA name, e.g. "Asia/Shanghai" */
  gint64 horizon_us;           /* expand occurrences up to this instant */
  KtSourceExists source_exists;
  gpointer source_data;
} KtCalendarOptions;

/* A parsed, checked iCalendar file: one channel's timetable. */
typedef struct _KtCalendar KtCalendar;

/* Parse and check @path. On any problem returns NULL, appends every problem
 * found (KtScheduleProblem*) to @problems, and sets @error. */
KtCalendar *kt_calendar_load (const char *path, const KtCalendarOptions *options,
                              GPtrArray *problems, GError **error);
void kt_calendar_free (KtCalendar *calendar);

const char *kt_calendar_path (const KtCalendar *calendar);
const char *kt_calendar_channel_id (const KtCalendar *calendar);
const char *kt_calendar_channel_name (const KtCalendar *calendar);
/* Sorted by start, not overlapping, up to the horizon: KtOccurrence. */
GArray *kt_calendar_occurrences (const KtCalendar *calendar);
gint64 kt_calendar_horizon (const KtCalendar *calendar);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtCalendar, kt_calendar_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtScheduleProblem, kt_schedule_problem_free)

/* Whether @id is a usable channel id: 1–32 letters, digits, - or _. */
gboolean kt_channel_id_valid (const char *id);

/* A lesson to put on a timetable from the web. */
typedef struct {
  const char *title;
  const char *teacher;       /* display name, may be NULL */
  const char *teacher_login; /* for the ORGANIZER address */
  const char *description;
  const char *source;        /* "item:<id>" */
  gint64 start_us, end_us;
  gint64 weekly_until_us;    /* repeat weekly until then; 0: once */
} KtNewLesson;

/* Add @lesson to the timetable file @path (created for @channel_id when it
 * does not exist), leaving the rest of the file byte for byte as it was. The
 * result must load cleanly (else problems are appended to @problems and the
 * file is untouched). */
gboolean kt_timetable_add_lesson (const char *path, const char *channel_id,
                                  const char *channel_name, const KtNewLesson *lesson,
                                  const KtCalendarOptions *options, GPtrArray *problems,
                                  char **uid_out, GError **error);

/* The schedules directory: every *.ics in it, kept in force, reloaded when a
 * file changes. A file that fails keeps its last good version in force. */
typedef struct _KtTimetable KtTimetable;

typedef void (*KtTimetableChanged) (KtTimetable *timetable, gpointer user_data);

KtTimetable *kt_timetable_new (const char *dir, const KtCalendarOptions *options);
void kt_timetable_free (KtTimetable *timetable);
/* (Re)load every file now. Calls @changed when anything changed. */
void kt_timetable_reload (KtTimetable *timetable);
/* Watch the directory; changes are applied after a short quiet period. */
void kt_timetable_watch (KtTimetable *timetable, KtTimetableChanged changed, gpointer user_data);
/* Extend every calendar's occurrences to a new horizon. */
void kt_timetable_set_horizon (KtTimetable *timetable, gint64 horizon_us);

/* The calendar in force for @channel_id, or NULL. */
KtCalendar *kt_timetable_find (KtTimetable *timetable, const char *channel_id);
const char *kt_timetable_dir (KtTimetable *timetable);
const KtCalendarOptions *kt_timetable_options (KtTimetable *timetable);
/* Calendars in force, sorted by channel id: KtCalendar* (borrowed). */
GPtrArray *kt_timetable_calendars (KtTimetable *timetable);
/* Per file: NULL when its last load was good, else the problems text. */
GHashTable *kt_timetable_file_status (KtTimetable *timetable); /* path → char* or NULL */

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtTimetable, kt_timetable_free)

G_END_DECLS
