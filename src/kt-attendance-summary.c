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
 * Both read viewer_sessions once, by lesson start (the column its index
 * leads with), and add up in C: a month of a county's year is some 65,000
 * sessions, and grouping them in SQL (GROUP BY with COUNT(DISTINCT …) and
 * joins per row) took 300 ms where one scan and a few hash tables take a
 * tenth of that (bench/attendance-reports.sh). Months are cut at midnight
 * in the server's zone, computed here with GDateTime rather than in SQL,
 * which knows no time zones.
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

/* One pass over the sessions of lessons that started in [@from, @to),
 * calling @row for each; rows come in index order (by lesson start). */
typedef struct {
  const char *channel;
  gint64 lesson_start_us, lesson_end_us;
  gint64 viewpoint_id; /* 0 for an individual */
  gint64 member_of;    /* 0 unless an individual joined by a room's code */
  gint64 headcount;    /* -1 when never said */
  gint64 watched_us;
  const char *viewer_key;
} Row;

static gboolean
scan (KtStore *store, gint64 from_us, gint64 to_us, void (*row) (const Row *r, gpointer data),
      gpointer data, GError **error)
{
  sqlite3_stmt *stmt = kt_store_prepare (
      store,
      "SELECT channel, lesson_start_us, lesson_end_us, coalesce (viewpoint_id, 0),"
      " coalesce (member_of, 0), coalesce (headcount, -1), watched_us, viewer_key"
      " FROM viewer_sessions WHERE lesson_start_us >= ?1 AND lesson_start_us < ?2",
      NULL);
  if (stmt == NULL)
    return store_error (store, error);
  sqlite3_bind_int64 (stmt, 1, from_us);
  sqlite3_bind_int64 (stmt, 2, to_us);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
    Row r = {
      (const char *) sqlite3_column_text (stmt, 0), sqlite3_column_int64 (stmt, 1),
      sqlite3_column_int64 (stmt, 2),              sqlite3_column_int64 (stmt, 3),
      sqlite3_column_int64 (stmt, 4),              sqlite3_column_int64 (stmt, 5),
      sqlite3_column_int64 (stmt, 6),              (const char *) sqlite3_column_text (stmt, 7),
    };
    if (r.channel == NULL || r.viewer_key == NULL)
      continue;
    row (&r, data);
  }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return store_error (store, error);
  return TRUE;
}

typedef struct {
  GHashTable *by_id; /* viewpoint id → KtViewpointSummary*, borrowed from the list */
  double share;
} ByViewpoint;

static void
count_viewpoint (const Row *r, gpointer data)
{
  ByViewpoint *by = data;
  KtViewpointSummary *v = r->viewpoint_id ? g_hash_table_lookup (by->by_id, &r->viewpoint_id) : NULL;
  if (v == NULL)
    return;
  gint64 slot = r->lesson_end_us - r->lesson_start_us;
  v->lessons++;
  /* Compared in whole microseconds, as in the per-lesson report, so that
   * both agree on who attended. */
  v->attended += r->watched_us >= (gint64) (by->share * (double) slot + 0.5);
  v->watched_us += r->watched_us;
  v->people += r->headcount >= 0 ? r->headcount : 1;
}

GPtrArray *
kt_attendance_by_viewpoint (KtStore *store, gint64 from_us, gint64 to_us, double attended_share,
                            GError **error)
{
  sqlite3_stmt *stmt = kt_store_prepare (
      store,
      "SELECT id, name, township, channel, disabled FROM viewpoints ORDER BY township, name",
      NULL);
  if (stmt == NULL)
    return store_error (store, error), NULL;
  g_autoptr (GPtrArray) out
      = g_ptr_array_new_with_free_func ((GDestroyNotify) kt_viewpoint_summary_free);
  g_autoptr (GHashTable) by_id = g_hash_table_new (g_int64_hash, g_int64_equal);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
    KtViewpointSummary *v = g_new0 (KtViewpointSummary, 1);
    v->viewpoint_id = sqlite3_column_int64 (stmt, 0);
    v->name = column_text (stmt, 1);
    v->township = column_text (stmt, 2);
    v->channel = column_text (stmt, 3);
    v->disabled = sqlite3_column_int (stmt, 4) != 0;
    g_ptr_array_add (out, v);
    g_hash_table_insert (by_id, &v->viewpoint_id, v);
  }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return store_error (store, error), NULL;
  ByViewpoint by = { by_id, attended_share };
  if (!scan (store, from_us, to_us, count_viewpoint, &by, error))
    return NULL;
  return g_steal_pointer (&out);
}

/* A total being added up: the sets make lessons and people distinct. A
 * lesson is a gint64: its start (whole seconds in µs, times 64) plus the
 * number its channel got in ByMonth.channel_numbers, which is exact for up
 * to 64 channels and saves formatting and hashing a string per row. */
typedef struct {
  KtPeriodTotal *total;
  GHashTable *lessons; /* gint64* */
  GHashTable *people;  /* individuals' viewer keys */
} Tally;

static void
tally_free (Tally *t)
{
  g_hash_table_unref (t->lessons);
  g_hash_table_unref (t->people);
  g_free (t);
}

typedef struct {
  GHashTable *townships_of; /* viewpoint id → township (owned) */
  GHashTable *channels;     /* channel → Tally* */
  GHashTable *townships;    /* township → Tally* */
  GHashTable *channel_numbers; /* channel → GINT_TO_POINTER (1 + its number) */
} ByMonth;

static void
tally_row (GHashTable *tallies, const char *key, const Row *r, gint64 lesson)
{
  Tally *t = g_hash_table_lookup (tallies, key);
  if (t == NULL) {
    t = g_new0 (Tally, 1);
    t->total = g_new0 (KtPeriodTotal, 1);
    t->total->key = g_strdup (key);
    t->lessons = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
    t->people = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    g_hash_table_insert (tallies, t->total->key, t);
  }
  if (!g_hash_table_contains (t->lessons, &lesson))
    g_hash_table_add (t->lessons, g_memdup2 (&lesson, sizeof lesson));
  if (r->viewpoint_id > 0) {
    t->total->viewpoints++;
    t->total->people += r->headcount >= 0 ? r->headcount : 1;
  } else {
    t->total->people++;
    if (!g_hash_table_contains (t->people, r->viewer_key))
      g_hash_table_add (t->people, g_strdup (r->viewer_key));
  }
  t->total->watched_us += r->watched_us;
}

static void
count_month (const Row *r, gpointer data)
{
  ByMonth *by = data;
  gint64 room = r->viewpoint_id > 0 ? r->viewpoint_id : r->member_of;
  const char *township = room > 0 ? g_hash_table_lookup (by->townships_of, &room) : NULL;
  gpointer number = g_hash_table_lookup (by->channel_numbers, r->channel);
  if (number == NULL) {
    number = GINT_TO_POINTER (g_hash_table_size (by->channel_numbers) + 1);
    g_hash_table_insert (by->channel_numbers, g_strdup (r->channel), number);
  }
  gint64 lesson = r->lesson_start_us * 64 + GPOINTER_TO_INT (number) % 64;
  tally_row (by->channels, r->channel, r, lesson);
  tally_row (by->townships, township ? township : "个人（未归属乡镇）", r, lesson);
}

static int
by_key (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 ((*(KtPeriodTotal *const *) a)->key, (*(KtPeriodTotal *const *) b)->key);
}

/* The tallies as KtPeriodTotal*, by key. */
static GPtrArray *
finish (GHashTable *tallies)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) kt_period_total_free);
  GHashTableIter iter;
  Tally *t;
  g_hash_table_iter_init (&iter, tallies);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &t)) {
    t->total->lessons = g_hash_table_size (t->lessons);
    t->total->individuals = g_hash_table_size (t->people);
    g_ptr_array_add (out, g_steal_pointer (&t->total));
  }
  g_ptr_array_sort (out, by_key);
  return out;
}

static void
tally_drop (gpointer data)
{
  Tally *t = data;
  if (t->total != NULL)
    kt_period_total_free (t->total);
  tally_free (t);
}

GPtrArray *
kt_attendance_by_month (KtStore *store, GTimeZone *tz, gint64 from_us, gint64 to_us,
                        GError **error)
{
  g_autoptr (GHashTable) townships_of
      = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  sqlite3_stmt *stmt = kt_store_prepare (store, "SELECT id, township FROM viewpoints", NULL);
  if (stmt == NULL)
    return store_error (store, error), NULL;
  while (sqlite3_step (stmt) == SQLITE_ROW)
    g_hash_table_insert (townships_of, g_memdup2 (&(gint64) { sqlite3_column_int64 (stmt, 0) },
                                                  sizeof (gint64)),
                         column_text (stmt, 1));
  sqlite3_reset (stmt);

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
    g_autoptr (GHashTable) channels = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, tally_drop);
    g_autoptr (GHashTable) townships = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, tally_drop);
    g_autoptr (GHashTable) numbers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    ByMonth by = { townships_of, channels, townships, numbers };
    if (!scan (store, start, end, count_month, &by, error))
      return NULL;
    KtMonthReport *r = g_new0 (KtMonthReport, 1);
    r->year = g_date_time_get_year (month);
    r->month = g_date_time_get_month (month);
    r->start_us = start;
    r->end_us = end;
    r->channels = finish (channels);
    r->townships = finish (townships);
    g_ptr_array_add (out, r);
    g_date_time_unref (month);
    month = g_steal_pointer (&next);
  }
  return g_steal_pointer (&out);
}
