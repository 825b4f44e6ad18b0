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

/* The per-lesson report (kt-attendance-report.c). One viewer of a lesson:
 * a viewing point or an individual. */
typedef struct {
  gint64 viewpoint_id; /* 0 for an individual */
  char *name;
  char *township;      /* "" for an individual */
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

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtAttendance, kt_attendance_free)

G_END_DECLS
