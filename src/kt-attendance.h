#pragma once

#include <glib.h>

#include "kt-channel.h"
#include "kt-metrics.h"
#include "kt-store.h"

G_BEGIN_DECLS

#define KT_ATTENDANCE_ERROR (kt_attendance_error_quark ())
GQuark kt_attendance_error_quark (void);

typedef enum {
  KT_ATTENDANCE_ERROR_STORE, /* the database failed */
} KtAttendanceError;

/* What a player says it is doing. */
typedef enum {
  KT_PLAY_PLAYING,
  KT_PLAY_PAUSED,
  KT_PLAY_STALLED, /* wants to play but has no data: a weak link */
} KtPlayState;

/* "playing", "paused", "stalled". */
const char *kt_play_state_to_string (KtPlayState state);
/* FALSE (and @state untouched) for anything else, including NULL. */
gboolean kt_play_state_from_string (const char *text, KtPlayState *state);

/* One heartbeat, already authenticated: from a viewing point
 * (@viewpoint_id > 0) or from a browser at home (@viewer, its random id).
 * Strings are borrowed for the call. */
typedef struct {
  gint64 viewpoint_id; /* 0 for an individual */
  const char *viewer;  /* an individual's id; NULL for a viewing point */
  const char *name;    /* the viewing point's or the individual's name */
  KtPlayState state;
  gint64 headcount;    /* 本场到课人数; -1 when not reported */
  const char *phone;   /* an individual's phone (digits only), or NULL */
  gint64 member_of;    /* an individual who joined with a viewing point's code; 0 if not */
} KtHeartbeat;

typedef struct {
  gint64 heartbeat_us; /* the players' interval; one heartbeat credits at most twice this */
  gint64 timeout_us;   /* not heard from for longer: left, at the last heartbeat */
  guint flush_ms;      /* how often changed sessions are written */
} KtAttendanceOptions;

/* Viewer sessions: heartbeats in memory, flushed to the store in one
 * transaction every @options->flush_ms (a kt-clock timer). Sessions a
 * previous process left open are closed at their last heartbeat here. Main
 * thread only. */
typedef struct _KtAttendance KtAttendance;

KtAttendance *kt_attendance_new (KtStore *store /* borrowed, outlives it */,
                                 const KtAttendanceOptions *options, GError **error);
/* Stops the timer. Does not flush: call kt_attendance_flush() first on a
 * clean stop (kt_app_stop does). */
void kt_attendance_free (KtAttendance *attendance);

/* Count one heartbeat on @channel at @now_us. What counts is the lesson
 * kt_channel_airing_at() says is on at @now_us; during a slate the heartbeat
 * only keeps the viewer "online". */
void kt_attendance_heartbeat (KtAttendance *attendance, KtChannel *channel,
                              const KtHeartbeat *heartbeat, gint64 now_us);
/* Close sessions silent for longer than the timeout (at their last
 * heartbeat), then write every changed session in one transaction. On
 * failure nothing is lost from memory; the next flush tries again. */
gboolean kt_attendance_flush (KtAttendance *attendance, gint64 now_us, GError **error);
/* Seconds each flush that wrote took (borrowed), and how many failed. */
const KtHistogram *kt_attendance_flush_timings (KtAttendance *attendance, guint64 *failures);
/* Forget what is not flushed yet, as a killed process would (for tests). */
void kt_attendance_abandon (KtAttendance *attendance);

/* A viewing point heard from within the timeout. */
typedef struct {
  gint64 viewpoint_id;
  char *name;
  char *channel;
  char *lesson;     /* the lesson's title; NULL between lessons */
  KtPlayState state;
  gint64 headcount; /* -1 when not reported */
  gint64 last_us;
} KtOnline;

void kt_online_free (KtOnline *online);
/* KtOnline*, by viewing point name. */
GPtrArray *kt_attendance_online (KtAttendance *attendance, gint64 now_us);
/* How many people at home were heard from within the timeout. */
guint kt_attendance_individuals_online (KtAttendance *attendance, gint64 now_us);

/* The per-lesson report (kt-attendance-report.c). One viewer of a lesson:
 * a viewing point or an individual. */
typedef struct {
  gint64 viewpoint_id; /* 0 for an individual */
  char *name;
  char *township;      /* an individual's: their viewing point's, or "" */
  char *phone;         /* an individual's, or "" */
  char *member_of;     /* the viewing point an individual joined by code, or "" */
  gint64 joined_us;
  gint64 left_us;      /* -1 while the session is open */
  gint64 watched_us;
  gint64 stalls;
  gint64 headcount;    /* the latest reported; -1 when never */
  double share;        /* watched / the lesson's slot */
  gboolean attended;   /* share ≥ [attendance] attended_share */
} KtAttendee;

typedef struct {
  char *channel;
  char *title;
  char *teacher;
  gint64 start_us, end_us;
  GPtrArray *viewpoints;  /* KtAttendee*, by township and name */
  GPtrArray *individuals; /* KtAttendee*, by name */
  gint64 watched_us;      /* everyone's together */
  gint64 people;          /* viewing points' headcounts (1 where none) + individuals */
} KtLessonReport;

void kt_lesson_report_free (KtLessonReport *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtLessonReport, kt_lesson_report_free)

/* Lessons that started in [@from_us, @to_us) and had a viewer, by start
 * time; only @channel's when it is not NULL. KtLessonReport*; NULL with
 * @error when the database fails. Reads the store: flush first. */
GPtrArray *kt_attendance_report (KtStore *store, gint64 from_us, gint64 to_us,
                                 const char *channel, double attended_share, GError **error);

/* Longer spans (kt-attendance-summary.c). One viewing point over a range. */
typedef struct {
  gint64 viewpoint_id;
  char *name, *township, *channel;
  gboolean disabled;
  gint64 lessons;    /* lesson occurrences it watched */
  gint64 attended;   /* of those, watched at least attended_share of the slot */
  gint64 watched_us;
  gint64 people;     /* its headcounts added up, 1 for a lesson where it never said */
} KtViewpointSummary;

void kt_viewpoint_summary_free (KtViewpointSummary *summary);
/* Every registered viewing point (those that watched nothing too), by
 * township and name, over lessons that started in [@from_us, @to_us). */
GPtrArray *kt_attendance_by_viewpoint (KtStore *store, gint64 from_us, gint64 to_us,
                                       double attended_share, GError **error);

/* Totals of one channel or township over a span. */
typedef struct {
  char *key;          /* the channel id, or the township */
  gint64 lessons;     /* lesson occurrences with viewers */
  gint64 viewpoints;  /* viewing point sessions (a room at a lesson) */
  gint64 individuals; /* distinct people at home */
  gint64 people;      /* people reached: headcounts (1 where none) + individuals' sessions */
  gint64 watched_us;
} KtPeriodTotal;

typedef struct {
  int year, month;
  gint64 start_us, end_us; /* the part of the month inside the range asked for */
  GPtrArray *channels;     /* KtPeriodTotal*, by channel id */
  GPtrArray *townships;    /* KtPeriodTotal*, by township */
} KtMonthReport;

void kt_period_total_free (KtPeriodTotal *total);
void kt_month_report_free (KtMonthReport *month);
/* KtMonthReport* for each month of [@from_us, @to_us) in @tz. */
GPtrArray *kt_attendance_by_month (KtStore *store, GTimeZone *tz, gint64 from_us, gint64 to_us,
                                   GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtAttendance, kt_attendance_free)

G_END_DECLS
