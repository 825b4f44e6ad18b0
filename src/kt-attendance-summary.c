/* kt-attendance-summary: attendance added up over longer spans, for the
 * reports an office sends upward ("8 月，全县 2000 余名老干部收看了…").
 *
 *  - per viewing point over a month or a term: how many lessons it
 *    watched, how many it attended (watched at least attended_share of the
 *    slot), minutes, and people (its headcounts, 1 where it never said).
 *    Every registered viewing point is listed, the ones that watched
 *    nothing too: those are the ones to call.
 *  - per month, per channel and per township: lessons with viewers,
 *    viewing point sessions, individuals, people reached and minutes.
 *    Individuals count under the township of the viewing point whose code
 *    they used, else under "个人（未归属乡镇）".
 *
 * Both read viewer_sessions by lesson start, the column its index leads
 * with, so a month of a county's year (tens of thousands of sessions) is
 * one range scan; bench/ measures it. Months are cut at midnight in the
 * server's zone, computed here with GDateTime rather than in SQL, which
 * knows no time zones.
 */
#define G_LOG_DOMAIN "kt-attendance"

#include "kt-attendance.h"

void
kt_viewpoint_summary_free (KtViewpointSummary *summary)
{
  g_free (summary->name);
  g_free (summary->township);
  g_free (summary->channel);
  g_free (summary);
}

void
kt_period_total_free (KtPeriodTotal *total)
{
  g_free (total->key);
  g_free (total);
}

void
kt_month_report_free (KtMonthReport *month)
{
  g_ptr_array_unref (month->channels);
  g_ptr_array_unref (month->townships);
  g_free (month);
}

static gboolean
store_error (KtStore *store, GError **error)
{
  g_set_error (error, KT_ATTENDANCE_ERROR, KT_ATTENDANCE_ERROR_STORE, "database: %s",
               sqlite3_errmsg (kt_store_handle (store)));
  return FALSE;
}

static char *
column_text (sqlite3_stmt *stmt, int column)
{
  const char *t = (const char *) sqlite3_column_text (stmt, column);
  return g_strdup (t ? t : "");
}

GPtrArray *
kt_attendance_by_viewpoint (KtStore *store, gint64 from_us, gint64 to_us, double attended_share,
                            GError **error)
{
  /* The share is compared in whole microseconds, as in the per-lesson
   * report, so that both agree on who attended. */
  sqlite3_stmt *stmt = kt_store_prepare (
      store,
      "SELECT v.id, v.name, v.township, v.channel, v.disabled, count (s.id),"
      " coalesce (sum (s.watched_us >= CAST (?3 * (s.lesson_end_us - s.lesson_start_us) + 0.5"
      "                                      AS INTEGER)), 0),"
      " coalesce (sum (s.watched_us), 0),"
      " coalesce (sum (CASE WHEN s.id IS NULL THEN 0 ELSE coalesce (s.headcount, 1) END), 0)"
      " FROM viewpoints v LEFT JOIN viewer_sessions s ON s.viewpoint_id = v.id"
      " AND s.lesson_start_us >= ?1 AND s.lesson_start_us < ?2"
      " GROUP BY v.id ORDER BY v.township, v.name",
      NULL);
  if (stmt == NULL)
    return store_error (store, error), NULL;
  sqlite3_bind_int64 (stmt, 1, from_us);
  sqlite3_bind_int64 (stmt, 2, to_us);
  sqlite3_bind_double (stmt, 3, attended_share);
  g_autoptr (GPtrArray) out
      = g_ptr_array_new_with_free_func ((GDestroyNotify) kt_viewpoint_summary_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
    KtViewpointSummary *v = g_new0 (KtViewpointSummary, 1);
    v->viewpoint_id = sqlite3_column_int64 (stmt, 0);
    v->name = column_text (stmt, 1);
    v->township = column_text (stmt, 2);
    v->channel = column_text (stmt, 3);
    v->disabled = sqlite3_column_int (stmt, 4) != 0;
    v->lessons = sqlite3_column_int64 (stmt, 5);
    v->attended = sqlite3_column_int64 (stmt, 6);
    v->watched_us = sqlite3_column_int64 (stmt, 7);
    v->people = sqlite3_column_int64 (stmt, 8);
    g_ptr_array_add (out, v);
  }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return store_error (store, error), NULL;
  return g_steal_pointer (&out);
}

/* Totals over [@from, @to) grouped by @group_sql (an expression over s, v
 * and m), into KtPeriodTotal*. */
static GPtrArray *
totals (KtStore *store, const char *sql, gint64 from_us, gint64 to_us, GError **error)
{
  sqlite3_stmt *stmt = kt_store_prepare (store, sql, NULL);
  if (stmt == NULL)
    return store_error (store, error), NULL;
  sqlite3_bind_int64 (stmt, 1, from_us);
  sqlite3_bind_int64 (stmt, 2, to_us);
  g_autoptr (GPtrArray) out
      = g_ptr_array_new_with_free_func ((GDestroyNotify) kt_period_total_free);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
    KtPeriodTotal *t = g_new0 (KtPeriodTotal, 1);
    t->key = column_text (stmt, 0);
    t->lessons = sqlite3_column_int64 (stmt, 1);
    t->viewpoints = sqlite3_column_int64 (stmt, 2);
    t->individuals = sqlite3_column_int64 (stmt, 3);
    t->people = sqlite3_column_int64 (stmt, 4);
    t->watched_us = sqlite3_column_int64 (stmt, 5);
    g_ptr_array_add (out, t);
  }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return store_error (store, error), NULL;
  return g_steal_pointer (&out);
}

/* The measures every total has: distinct lessons, viewing point sessions,
 * individuals (distinct people), people reached, time watched. */
#define MEASURES                                                                                \
  " count (DISTINCT s.channel || ' ' || s.lesson_start_us),"                                   \
  " sum (s.viewpoint_id IS NOT NULL),"                                                          \
  " count (DISTINCT CASE WHEN s.viewpoint_id IS NULL THEN s.viewer_key END),"                   \
  " sum (CASE WHEN s.viewpoint_id IS NOT NULL THEN coalesce (s.headcount, 1) ELSE 1 END),"      \
  " sum (s.watched_us)"

GPtrArray *
kt_attendance_by_month (KtStore *store, GTimeZone *tz, gint64 from_us, gint64 to_us,
                        GError **error)
{
  g_autoptr (GPtrArray) out
      = g_ptr_array_new_with_free_func ((GDestroyNotify) kt_month_report_free);
  g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (from_us / G_USEC_PER_SEC);
  g_autoptr (GDateTime) local = g_date_time_to_timezone (utc, tz);
  g_autoptr (GDateTime) month = g_date_time_new (tz, g_date_time_get_year (local),
                                                 g_date_time_get_month (local), 1, 0, 0, 0);
  while (g_date_time_to_unix (month) * G_USEC_PER_SEC < to_us) {
    g_autoptr (GDateTime) next = g_date_time_add_months (month, 1);
    gint64 start = MAX (from_us, g_date_time_to_unix (month) * G_USEC_PER_SEC);
    gint64 end = MIN (to_us, g_date_time_to_unix (next) * G_USEC_PER_SEC);
    KtMonthReport *r = g_new0 (KtMonthReport, 1);
    r->year = g_date_time_get_year (month);
    r->month = g_date_time_get_month (month);
    r->start_us = start;
    r->end_us = end;
    g_ptr_array_add (out, r);
    r->channels = totals (store,
                          "SELECT s.channel," MEASURES " FROM viewer_sessions s"
                          " WHERE s.lesson_start_us >= ?1 AND s.lesson_start_us < ?2"
                          " GROUP BY s.channel ORDER BY s.channel",
                          start, end, error);
    if (r->channels == NULL)
      return NULL;
    r->townships = totals (store,
                           "SELECT coalesce (v.township, m.township, '个人（未归属乡镇）'),"
                           MEASURES " FROM viewer_sessions s"
                           " LEFT JOIN viewpoints v ON v.id = s.viewpoint_id"
                           " LEFT JOIN viewpoints m ON m.id = s.member_of"
                           " WHERE s.lesson_start_us >= ?1 AND s.lesson_start_us < ?2"
                           " GROUP BY 1 ORDER BY 1",
                           start, end, error);
    if (r->townships == NULL)
      return NULL;
    g_date_time_unref (month);
    month = g_steal_pointer (&next);
  }
  return g_steal_pointer (&out);
}
