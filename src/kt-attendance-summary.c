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
 * joins per row) took 300 ms where one scan and a few tables take a fraction
 * of that (bench/attendance-reports.sh). Months are cut at midnight in the
 * server's zone, computed here with GDateTime rather than in SQL, which
 * knows no time zones.
 *
 * The month tallies do per row only what they must: rows come grouped by
 * lesson, so a lesson is counted when it changes rather than looked up in
 * a set; townships and people are numbered once (a room's township by its
 * id, a person by one hash of their key), so the per-channel and
 * per-township tallies are arrays and flags. Hashing strings several times
 * a row was half the report's time. What is left is SQLite stepping
 * through the rows. A per-lesson summary table would not shorten it: the
 * month counts distinct people, which do not add up across lessons, and a
 * room's township is read from the registry at report time (an edited
 * township moves its history), so the rows themselves must be read. A
 * covering index would save about a fifth of the scan, at the price of a
 * third more database and of a second B-tree to rewrite for every session
 * each heartbeat flush, which runs on the same thread as the HTTP server.
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
 * calling @row for each; rows come in index order (by lesson start, then
 * channel), so the rows of one lesson are consecutive. The ORDER BY costs
 * nothing (EXPLAIN QUERY PLAN shows no temporary B-tree) and makes that a
 * promise rather than an accident of the plan. */
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
      " FROM viewer_sessions WHERE lesson_start_us >= ?1 AND lesson_start_us < ?2"
      " ORDER BY lesson_start_us, channel",
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

/* A total being added up. Rows come grouped by lesson (the scan's ORDER BY
 * is the index's), so a tally has seen a lesson already exactly when the
 * last lesson it counted is the current one: no set of lessons needed.
 * People are numbered as they first appear in the scan, so a tally's
 * distinct individuals are a byte per person rather than a set of strings. */
typedef struct {
  KtPeriodTotal *total;
  guint last_lesson;  /* the scan's lesson number it last counted; 0: none */
  GByteArray *seen;   /* person number → counted here already */
} Tally;

static void
tally_drop (gpointer data)
{
  Tally *t = data;
  if (t == NULL) /* a township with no row this month */
    return;
  if (t->total != NULL)
    kt_period_total_free (t->total);
  g_byte_array_unref (t->seen);
  g_free (t);
}

static Tally *
tally_new (const char *key)
{
  Tally *t = g_new0 (Tally, 1);
  t->total = g_new0 (KtPeriodTotal, 1);
  t->total->key = g_strdup (key);
  t->seen = g_byte_array_new ();
  return t;
}

/* The townships of the registered viewing points, numbered: a room's
 * township is found by its id with one integer lookup per row, and each
 * month's township tallies are an array by that number. */
typedef struct {
  GHashTable *number_of; /* viewpoint id (gint64*, owned) → GUINT_TO_POINTER (1 + number) */
  GPtrArray *names;      /* number → township (owned) */
  guint unassigned;      /* the number of "个人（未归属乡镇）" */
} Townships;

#define UNASSIGNED "个人（未归属乡镇）"

typedef struct {
  const Townships *townships;
  GPtrArray *by_township;   /* township number → Tally* or NULL (owned) */
  GHashTable *channels;     /* channel → Tally* (owned) */
  GHashTable *people;       /* individual's viewer key (owned) → GUINT_TO_POINTER (1 + number) */
  guint lesson;             /* the current lesson's number, from 1 */
  gint64 lesson_start_us;
  char *lesson_channel;     /* the current lesson's channel (owned) */
  Tally *channel_tally;     /* its channel's tally */
} ByMonth;

static void
tally_row (Tally *t, const Row *r, guint lesson, guint person)
{
  if (t->last_lesson != lesson) {
    t->last_lesson = lesson;
    t->total->lessons++;
  }
  if (r->viewpoint_id > 0) {
    t->total->viewpoints++;
    t->total->people += r->headcount >= 0 ? r->headcount : 1;
  } else {
    t->total->people++;
    if (person >= t->seen->len) {
      guint old = t->seen->len;
      g_byte_array_set_size (t->seen, MAX (person + 1, 2 * old));
      memset (t->seen->data + old, 0, t->seen->len - old);
    }
    if (!t->seen->data[person]) {
      t->seen->data[person] = 1;
      t->total->individuals++;
    }
  }
  t->total->watched_us += r->watched_us;
}

static void
count_month (const Row *r, gpointer data)
{
  ByMonth *by = data;
  if (by->lesson == 0 || r->lesson_start_us != by->lesson_start_us ||
      !g_str_equal (r->channel, by->lesson_channel)) {
    by->lesson++;
    by->lesson_start_us = r->lesson_start_us;
    g_free (by->lesson_channel);
    by->lesson_channel = g_strdup (r->channel);
    by->channel_tally = g_hash_table_lookup (by->channels, r->channel);
    if (by->channel_tally == NULL) {
      by->channel_tally = tally_new (r->channel);
      g_hash_table_insert (by->channels, by->channel_tally->total->key, by->channel_tally);
    }
  }
  guint person = 0;
  if (r->viewpoint_id <= 0) {
    gpointer number = g_hash_table_lookup (by->people, r->viewer_key);
    if (number == NULL) {
      number = GUINT_TO_POINTER (g_hash_table_size (by->people) + 1);
      g_hash_table_insert (by->people, g_strdup (r->viewer_key), number);
    }
    person = GPOINTER_TO_UINT (number) - 1;
  }
  gint64 room = r->viewpoint_id > 0 ? r->viewpoint_id : r->member_of;
  gpointer number = room > 0 ? g_hash_table_lookup (by->townships->number_of, &room) : NULL;
  guint township = number ? GPOINTER_TO_UINT (number) - 1 : by->townships->unassigned;
  Tally *t = by->by_township->pdata[township];
  if (t == NULL)
    t = by->by_township->pdata[township] = tally_new (by->townships->names->pdata[township]);
  tally_row (by->channel_tally, r, by->lesson, person);
  tally_row (t, r, by->lesson, person);
}

static int
by_key (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 ((*(KtPeriodTotal *const *) a)->key, (*(KtPeriodTotal *const *) b)->key);
}

/* Tally* → their totals as KtPeriodTotal*, by key. */
static GPtrArray *
finish (Tally **tallies, guint n)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) kt_period_total_free);
  for (guint i = 0; i < n; i++)
    if (tallies[i] != NULL)
      g_ptr_array_add (out, g_steal_pointer (&tallies[i]->total));
  g_ptr_array_sort (out, by_key);
  return out;
}

/* Number the townships of every viewing point (and the one for people of
 * no room); two rooms of one township share its number. */
static gboolean
load_townships (KtStore *store, Townships *towns, GError **error)
{
  towns->number_of = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  towns->names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) numbers = g_hash_table_new (g_str_hash, g_str_equal);
  sqlite3_stmt *stmt = kt_store_prepare (store, "SELECT id, township FROM viewpoints", NULL);
  if (stmt == NULL)
    return store_error (store, error);
  int rc;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
    char *name = column_text (stmt, 1);
    gpointer number = g_hash_table_lookup (numbers, name);
    if (number == NULL) {
      g_ptr_array_add (towns->names, name);
      number = GUINT_TO_POINTER (towns->names->len);
      g_hash_table_insert (numbers, name, number);
    } else {
      g_free (name);
    }
    g_hash_table_insert (towns->number_of,
                         g_memdup2 (&(gint64) { sqlite3_column_int64 (stmt, 0) }, sizeof (gint64)),
                         number);
  }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return store_error (store, error);
  /* A township may be called that too: then its rooms and the people of no
   * room are one line, as they always were. */
  gpointer number = g_hash_table_lookup (numbers, UNASSIGNED);
  if (number == NULL) {
    g_ptr_array_add (towns->names, g_strdup (UNASSIGNED));
    number = GUINT_TO_POINTER (towns->names->len);
  }
  towns->unassigned = GPOINTER_TO_UINT (number) - 1;
  return TRUE;
}

GPtrArray *
kt_attendance_by_month (KtStore *store, GTimeZone *tz, gint64 from_us, gint64 to_us,
                        GError **error)
{
  Townships towns = { 0 };
  if (!load_townships (store, &towns, error)) {
    g_clear_pointer (&towns.number_of, g_hash_table_unref);
    g_clear_pointer (&towns.names, g_ptr_array_unref);
    return NULL;
  }
  g_autoptr (GHashTable) number_of = towns.number_of;
  g_autoptr (GPtrArray) names = towns.names;

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
    g_autoptr (GPtrArray) by_township = g_ptr_array_new_full (names->len, tally_drop);
    g_ptr_array_set_size (by_township, names->len);
    g_autoptr (GHashTable) channels = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, tally_drop);
    g_autoptr (GHashTable) people = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    ByMonth by = { &towns, by_township, channels, people, 0, 0, NULL, NULL };
    gboolean ok = scan (store, start, end, count_month, &by, error);
    g_free (by.lesson_channel);
    if (!ok)
      return NULL;
    KtMonthReport *r = g_new0 (KtMonthReport, 1);
    r->year = g_date_time_get_year (month);
    r->month = g_date_time_get_month (month);
    r->start_us = start;
    r->end_us = end;
    g_autoptr (GPtrArray) by_channel = g_ptr_array_new ();
    GHashTableIter iter;
    gpointer t;
    g_hash_table_iter_init (&iter, channels);
    while (g_hash_table_iter_next (&iter, NULL, &t))
      g_ptr_array_add (by_channel, t);
    r->channels = finish ((Tally **) by_channel->pdata, by_channel->len);
    r->townships = finish ((Tally **) by_township->pdata, by_township->len);
    g_ptr_array_add (out, r);
    g_date_time_unref (month);
    month = g_steal_pointer (&next);
  }
  return g_steal_pointer (&out);
}
