/* kt-attendance-report: per-lesson attendance, read from viewer_sessions.
 *
 * A lesson occurrence is a (channel, start) pair; its title, teacher and end
 * were copied into each session when it was opened, so a report on last
 * term is right even after the timetable changed. Lessons nobody watched
 * have no rows and do not appear.
 *
 * "People reached" adds each viewing point's latest headcount (本场到课人数),
 * or 1 where the room never said (somebody was there to start the TV), and
 * one per individual at home. A viewer attended when the time watched is at
 * least [attendance] attended_share of the lesson's slot.
 */
#define G_LOG_DOMAIN "kt-attendance"

#include "kt-attendance.h"

static void
attendee_free (KtAttendee *a)
{
  g_free (a->name);
  g_free (a->township);
  g_free (a->phone);
  g_free (a->member_of);
  g_free (a);
}

void
kt_lesson_report_free (KtLessonReport *report)
{
  if (report == NULL)
    return;
  g_free (report->channel);
  g_free (report->title);
  g_free (report->teacher);
  g_ptr_array_unref (report->viewpoints);
  g_ptr_array_unref (report->individuals);
  g_free (report);
}

static const char *
text (sqlite3_stmt *stmt, int column)
{
  const char *t = (const char *) sqlite3_column_text (stmt, column);
  return t ? t : "";
}

GPtrArray *
kt_attendance_report (KtStore *store, gint64 from_us, gint64 to_us, const char *channel,
                      double attended_share, GError **error)
{
  sqlite3_stmt *stmt = kt_store_prepare (
      store,
      "SELECT s.channel, s.lesson_title, s.lesson_teacher, s.lesson_start_us, s.lesson_end_us,"
      " coalesce (s.viewpoint_id, 0), coalesce (v.name, s.viewer_name),"
      " coalesce (v.township, m.township, ''),"
      " s.joined_us, s.left_us, s.watched_us, s.stalls, s.headcount, s.viewer_phone,"
      " coalesce (m.name, '')"
      " FROM viewer_sessions s LEFT JOIN viewpoints v ON v.id = s.viewpoint_id"
      " LEFT JOIN viewpoints m ON m.id = s.member_of"
      " WHERE s.lesson_start_us >= ?1 AND s.lesson_start_us < ?2"
      " AND (?3 IS NULL OR s.channel = ?3)"
      " ORDER BY s.lesson_start_us, s.channel, s.viewpoint_id IS NULL, 8, 7, s.id",
      NULL);
  if (stmt == NULL) {
    g_set_error (error, KT_ATTENDANCE_ERROR, KT_ATTENDANCE_ERROR_STORE, "database: %s",
                 sqlite3_errmsg (kt_store_handle (store)));
    return NULL;
  }
  sqlite3_bind_int64 (stmt, 1, from_us);
  sqlite3_bind_int64 (stmt, 2, to_us);
  if (channel != NULL)
    sqlite3_bind_text (stmt, 3, channel, -1, SQLITE_TRANSIENT);

  g_autoptr (GPtrArray) out
      = g_ptr_array_new_with_free_func ((GDestroyNotify) kt_lesson_report_free);
  KtLessonReport *r = NULL;
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
    gint64 start = sqlite3_column_int64 (stmt, 3);
    if (r == NULL || r->start_us != start || !g_str_equal (r->channel, text (stmt, 0))) {
      r = g_new0 (KtLessonReport, 1);
      r->channel = g_strdup (text (stmt, 0));
      r->title = g_strdup (text (stmt, 1));
      r->teacher = g_strdup (text (stmt, 2));
      r->start_us = start;
      r->end_us = sqlite3_column_int64 (stmt, 4);
      r->viewpoints = g_ptr_array_new_with_free_func ((GDestroyNotify) attendee_free);
      r->individuals = g_ptr_array_new_with_free_func ((GDestroyNotify) attendee_free);
      g_ptr_array_add (out, r);
    }
    KtAttendee *a = g_new0 (KtAttendee, 1);
    a->viewpoint_id = sqlite3_column_int64 (stmt, 5);
    a->name = g_strdup (text (stmt, 6));
    a->township = g_strdup (text (stmt, 7));
    a->phone = g_strdup (text (stmt, 13));
    a->member_of = g_strdup (text (stmt, 14));
    a->joined_us = sqlite3_column_int64 (stmt, 8);
    a->left_us = sqlite3_column_type (stmt, 9) == SQLITE_NULL ? -1 : sqlite3_column_int64 (stmt, 9);
    a->watched_us = sqlite3_column_int64 (stmt, 10);
    a->stalls = sqlite3_column_int64 (stmt, 11);
    a->headcount = sqlite3_column_type (stmt, 12) == SQLITE_NULL ? -1
                                                                  : sqlite3_column_int64 (stmt, 12);
    gint64 slot = MAX (r->end_us - r->start_us, 1);
    a->share = (double) a->watched_us / (double) slot;
    /* Compared in whole microseconds so that 0.6 of a slot is exactly enough. */
    a->attended = a->watched_us >= (gint64) (attended_share * (double) slot + 0.5);
    r->watched_us += a->watched_us;
    if (a->viewpoint_id > 0) {
      r->people += a->headcount >= 0 ? a->headcount : 1;
      g_ptr_array_add (r->viewpoints, a);
    } else {
      r->people += 1;
      g_ptr_array_add (r->individuals, a);
    }
  }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE) {
    g_set_error (error, KT_ATTENDANCE_ERROR, KT_ATTENDANCE_ERROR_STORE, "database: %s",
                 sqlite3_errmsg (kt_store_handle (store)));
    return NULL;
  }
  return g_steal_pointer (&out);
}
