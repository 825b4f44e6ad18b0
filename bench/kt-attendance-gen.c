/* kt-attendance-gen: a year of a county's attendance, for the report
 * benchmark (bench/attendance-reports.sh).
 *
 *   kt-attendance-gen DB [YEAR]
 *
 * Writes into the ketang database DB (made with the real schema through
 * kt-store): 500 viewing points in 20 townships on 2 channels, and the
 * viewer sessions of 3 lessons a day (09:00, 14:30, 19:30, 90 minutes, in
 * Asia/Shanghai time) for every day of YEAR (default 2026): each viewing
 * point watches most lessons of its channel (85 %), and each of 2,000 people
 * at home (a third of them by their viewing point's code) watches a lesson
 * now and then (25 %). Sessions are what heartbeats every 20 s would have
 * left: joined at or after the start, watched time a whole number of 20 s
 * intervals, a few stalls, a headcount for rooms. Random but seeded, so two
 * runs make the same database: 779,382 sessions.
 */
#include <glib.h>
#include <stdio.h>

#include "kt-store.h"

#define VIEWPOINTS 500
#define TOWNSHIPS 20
#define PEOPLE 2000
#define SLOT_US (G_GINT64_CONSTANT (90) * 60 * G_USEC_PER_SEC)
#define BEAT_US (G_GINT64_CONSTANT (20) * G_USEC_PER_SEC)

static void
check (gboolean ok, KtStore *store, const char *what)
{
  if (!ok) {
    fprintf (stderr, "kt-attendance-gen: %s: %s\n", what, sqlite3_errmsg (kt_store_handle (store)));
    exit (1);
  }
}

int
main (int argc, char **argv)
{
  if (argc < 2) {
    fprintf (stderr, "usage: kt-attendance-gen DB [YEAR]\n");
    return 64;
  }
  int year = argc > 2 ? atoi (argv[2]) : 2026;
  g_autoptr (GError) error = NULL;
  g_autoptr (KtStore) store = kt_store_open (argv[1], &error);
  if (store == NULL) {
    fprintf (stderr, "kt-attendance-gen: %s\n", error->message);
    return 73;
  }
  GRand *rand = g_rand_new_with_seed (20261201);
  check (kt_store_begin (store, NULL), store, "begin");

  sqlite3_stmt *vp = kt_store_prepare (
      store,
      "INSERT INTO viewpoints (id, name, township, contact, phone, seats, token_hash, code,"
      " created_us, channel) VALUES (?, ?, ?, '', '', 40, ?, ?, 0, ?)",
      NULL);
  for (int i = 1; i <= VIEWPOINTS; i++) {
    g_autofree char *name = g_strdup_printf ("第%d收视点", i);
    g_autofree char *township = g_strdup_printf ("第%d乡镇", 1 + i % TOWNSHIPS);
    g_autofree char *hash = g_strdup_printf ("generated-%d", i);
    g_autofree char *code = g_strdup_printf ("%06d", 100000 + i);
    sqlite3_bind_int (vp, 1, i);
    sqlite3_bind_text (vp, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (vp, 3, township, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (vp, 4, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (vp, 5, code, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (vp, 6, i % 2 ? "1" : "2", -1, SQLITE_STATIC);
    check (kt_store_step_done (store, vp, NULL), store, "viewpoint");
  }

  sqlite3_stmt *ins = kt_store_prepare (
      store,
      "INSERT INTO viewer_sessions (viewer_key, viewpoint_id, viewer_name, channel, lesson_title,"
      " lesson_teacher, lesson_start_us, lesson_end_us, joined_us, last_us, left_us, watched_us,"
      " stalls, headcount, viewer_phone, member_of)"
      " VALUES (?1, ?2, ?3, ?4, ?5, '王老师', ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?12, ?13, ?14)",
      NULL);
  g_autoptr (GTimeZone) tz = g_time_zone_new_identifier ("Asia/Shanghai");
  static const int hours[][2] = { { 9, 0 }, { 14, 30 }, { 19, 30 } };
  guint64 rows = 0;
  g_autoptr (GDateTime) day = g_date_time_new (tz, year, 1, 1, 0, 0, 0);
  while (g_date_time_get_year (day) == year) {
    for (int l = 0; l < 3; l++) {
      const char *channel = l % 2 ? "2" : "1";
      g_autoptr (GDateTime) at = g_date_time_add_full (day, 0, 0, 0, hours[l][0], hours[l][1], 0);
      gint64 start = g_date_time_to_unix (at) * G_USEC_PER_SEC, end = start + SLOT_US;
      g_autofree char *title = g_strdup_printf ("第%d课", g_date_time_get_day_of_year (day) * 3 + l);
      for (int who = 0; who < VIEWPOINTS + PEOPLE; who++) {
        gboolean room = who < VIEWPOINTS;
        int id = who + 1;
        if (room && !g_str_equal (id % 2 ? "1" : "2", channel))
          continue;
        if (g_rand_double (rand) > (room ? 0.85 : 0.25))
          continue;
        /* Joined in the first 20 minutes, left in the last 30 or at the end. */
        gint64 joined = start + g_rand_int_range (rand, 0, 60) * BEAT_US;
        gint64 left = end - g_rand_int_range (rand, 0, 90) * BEAT_US;
        gint64 watched = MAX (0, left - joined - g_rand_int_range (rand, 0, 10) * BEAT_US);
        g_autofree char *key = room ? g_strdup_printf ("vp:%d", id)
                                    : g_strdup_printf ("tel:139%08d", id);
        g_autofree char *name = room ? g_strdup_printf ("第%d收视点", id)
                                     : g_strdup_printf ("学员%d", id);
        sqlite3_bind_text (ins, 1, key, -1, SQLITE_TRANSIENT);
        if (room)
          sqlite3_bind_int (ins, 2, id);
        else
          sqlite3_bind_null (ins, 2);
        sqlite3_bind_text (ins, 3, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text (ins, 4, channel, -1, SQLITE_STATIC);
        sqlite3_bind_text (ins, 5, title, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64 (ins, 6, start);
        sqlite3_bind_int64 (ins, 7, end);
        sqlite3_bind_int64 (ins, 8, joined);
        sqlite3_bind_int64 (ins, 9, left);
        sqlite3_bind_int64 (ins, 10, watched);
        sqlite3_bind_int (ins, 11, g_rand_int_range (rand, 0, 3));
        if (room)
          sqlite3_bind_int (ins, 12, g_rand_int_range (rand, 5, 41));
        else
          sqlite3_bind_null (ins, 12);
        g_autofree char *phone = room ? g_strdup ("") : g_strdup_printf ("139%08d", id);
        sqlite3_bind_text (ins, 13, phone, -1, SQLITE_TRANSIENT);
        if (!room && id % 3 == 0)
          sqlite3_bind_int (ins, 14, 1 + id % VIEWPOINTS);
        else
          sqlite3_bind_null (ins, 14);
        check (kt_store_step_done (store, ins, NULL), store, "session");
        rows++;
      }
    }
    GDateTime *next = g_date_time_add_days (day, 1);
    g_date_time_unref (day);
    day = next;
  }
  check (kt_store_commit (store, NULL), store, "commit");
  g_rand_free (rand);
  printf ("viewpoints=%d people=%d sessions=%" G_GUINT64_FORMAT "\n", VIEWPOINTS, PEOPLE, rows);
  return 0;
}
