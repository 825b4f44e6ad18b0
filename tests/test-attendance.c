/* Attendance end to end: the real server with a timetable on air (one
 * 20-minute lesson, 09:00–09:20, whose item is missing so that it airs a
 * card and nothing has to be rendered: what counts is what
 * kt_channel_airing_at says), a fake clock, and simulated players POSTing
 * heartbeats every 20 s of fake time. Checks the sessions and the report to
 * the second, the CSV byte by byte where it matters, that a crash loses at
 * most one flush interval and counts nothing twice, who may read what, and
 * that `ketang viewpoint add` prints a token a heartbeat accepts. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "kt-clock.h"
#include "kt-viewpoint.h"
#include "test-utils.h"

/* 2026-12-01 09:00:00 in Shanghai. */
#define NINE_AM (G_GINT64_CONSTANT (1796086800) * G_USEC_PER_SEC)
#define AT(s) (NINE_AM + (gint64) (s) * G_USEC_PER_SEC)

static const char timetable[] =
    "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\nX-WR-CALNAME:测试频道\nX-KETANG-CHANNEL:7\n"
    "BEGIN:VEVENT\nUID:a\nSUMMARY:书法\nORGANIZER;CN=王老师:mailto:w@x\n"
    "DTSTART:20261201T090000\nDTEND:20261201T092000\nX-KETANG-SOURCE:item:missing\nEND:VEVENT\n"
    "END:VCALENDAR\n";

static KtApp *
start_app (const char *data_dir)
{
  g_autofree char *schedules = g_build_filename (data_dir, "schedules", NULL);
  g_mkdir_with_parents (schedules, 0755);
  g_autofree char *path = g_build_filename (schedules, "7.ics", NULL);
  g_assert_true (g_file_set_contents (path, timetable, -1, NULL));
  g_autofree char *setting = g_strconcat ("server.schedules_dir=", schedules, NULL);
  const char *settings[] = { setting, NULL };
  return kt_test_app_start (data_dir, FALSE, settings);
}

static void
clock_to (gint64 t)
{
  kt_clock_advance (t - kt_clock_now_us ());
}

static guint
beat (KtApp *app, const char *who, const char *state, int headcount)
{
  g_autofree char *count = headcount >= 0 ? g_strdup_printf (", \"headcount\": %d", headcount)
                                          : g_strdup ("");
  g_autofree char *body = g_strdup_printf ("{%s, \"channel\": \"7\", \"state\": \"%s\"%s}", who,
                                           state, count);
  g_autoptr (KtTestResponse) r
      = kt_test_request_body (app, "POST", "/api/heartbeat", NULL, "application/json", body);
  return r->status;
}

static gint64
sql_int (KtApp *app, const char *sql)
{
  sqlite3_stmt *stmt = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (kt_store_handle (kt_app_store (app)), sql, -1, &stmt, NULL),
                   ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  gint64 v = sqlite3_column_type (stmt, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  return v;
}

static char *
add_viewpoint (KtApp *app, const char *name, const char *township, char **code)
{
  KtViewpointFields f = { name, township, NULL, NULL, 20, 0 };
  g_autoptr (GError) error = NULL;
  char *token = NULL;
  g_autoptr (KtViewpoint) v = kt_viewpoint_add (kt_app_store (app), &f, &token, &error);
  g_assert_no_error (error);
  if (code)
    *code = g_strdup (v->code);
  return token;
}

static JsonObject *
find_named (JsonArray *list, const char *name)
{
  for (guint i = 0; i < json_array_get_length (list); i++) {
    JsonObject *o = json_array_get_object_element (list, i);
    if (g_str_equal (json_object_get_string_member (o, "name"), name))
      return o;
  }
  g_error ("no “%s” in the list", name);
}

static void
check_attendee (JsonArray *list, const char *name, gint64 seconds, double minutes, double share,
                gboolean attended)
{
  JsonObject *o = find_named (list, name);
  if (json_object_get_int_member (o, "seconds") != seconds)
    g_error ("%s watched %" G_GINT64_FORMAT " s, expected %" G_GINT64_FORMAT, name,
             json_object_get_int_member (o, "seconds"), seconds);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (o, "minutes"), minutes, 1e-9);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (o, "share"), share, 1e-9);
  g_assert_cmpint (json_object_get_boolean_member (o, "attended"), ==, attended);
}

/* Six viewers through one lesson:
 *   全程  playing from before the start to after the end; headcount 10, then 12
 *   迟到  (by its 6-digit code) from 09:10 on
 *   暂停  paused for 4 minutes (heartbeats 09:05:00–09:08:40 say "paused"); headcount 5
 *   卡顿  stalled at 09:01:40, 09:02:00 and 09:02:20
 *   关页  closes the tab after 09:06:40
 *   李阿姨 at home, from 09:01 on */
static void
test_lesson (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  kt_clock_set_fake (AT (-60));
  KtApp *app = start_app (dir);
  g_autofree char *late_code = NULL;
  g_autofree char *t_full = add_viewpoint (app, "全程", "城关镇", NULL);
  g_autofree char *t_late = add_viewpoint (app, "迟到", "河口乡", &late_code);
  g_autofree char *t_pause = add_viewpoint (app, "暂停", "河口乡", NULL);
  g_autofree char *t_stall = add_viewpoint (app, "卡顿", "城关镇", NULL);
  g_autofree char *t_close = add_viewpoint (app, "关页", "城关镇", NULL);
  g_autofree char *full = g_strdup_printf ("\"token\": \"%s\"", t_full);
  g_autofree char *late = g_strdup_printf ("\"code\": \"%s\"", late_code);
  g_autofree char *pause = g_strdup_printf ("\"token\": \"%s\"", t_pause);
  g_autofree char *stall = g_strdup_printf ("\"token\": \"%s\"", t_stall);
  g_autofree char *closing = g_strdup_printf ("\"token\": \"%s\"", t_close);
  const char *home = "\"viewer\": \"b7f3c2\", \"name\": \"李阿姨\"";

  for (int t = -20; t <= 1220; t += 20) {
    clock_to (AT (t));
    g_assert_cmpuint (beat (app, full, "playing", t < 600 ? 10 : 12), ==, 204);
    if (t >= 600)
      g_assert_cmpuint (beat (app, late, "playing", -1), ==, 204);
    g_assert_cmpuint (beat (app, pause, t >= 300 && t <= 520 ? "paused" : "playing",
                            t == 0 ? 5 : -1), ==, 204);
    g_assert_cmpuint (beat (app, stall, t >= 100 && t <= 140 ? "stalled" : "playing", -1), ==,
                      204);
    if (t <= 400)
      g_assert_cmpuint (beat (app, closing, "playing", -1), ==, 204);
    if (t >= 60)
      g_assert_cmpuint (beat (app, home, "playing", -1), ==, 204);
    if (t == 480) {
      /* The tab closed at 09:06:40: after the timeout its session ended
       * then, written by a flush, with nothing more added. */
      g_assert_cmpint (sql_int (app, "SELECT left_us FROM viewer_sessions s JOIN viewpoints v"
                                     " ON v.id = s.viewpoint_id WHERE v.name = '关页'"), ==, AT (400));
      g_assert_cmpint (sql_int (app, "SELECT count(*) FROM viewer_sessions WHERE left_us IS NULL"),
                       ==, 4); /* 迟到 is not there yet */
    }
    if (t == 600) {
      g_auto (KtTestSession) admin = { 0 };
      kt_test_session_open (app, "boss", "admin", &admin);
      g_autoptr (KtTestResponse) r
          = kt_test_request_as (app, &admin, "GET", "/api/attendance/online", NULL, NULL);
      g_assert_cmpuint (r->status, ==, 200);
      g_autofree char *text = kt_test_body_text (r);
      g_autoptr (JsonParser) p = json_parser_new ();
      g_assert_true (json_parser_load_from_data (p, text, -1, NULL));
      JsonArray *board = json_object_get_array_member (json_node_get_object (json_parser_get_root (p)),
                                                       "viewpoints");
      g_assert_cmpuint (json_array_get_length (board), ==, 4); /* not 关页 (gone since 09:06:40), not 李阿姨 (at home) */
      JsonObject *f = find_named (board, "全程");
      g_assert_cmpint (json_object_get_int_member (f, "headcount"), ==, 12);
      g_assert_cmpstr (json_object_get_string_member (f, "state"), ==, "playing");
      g_assert_cmpstr (json_object_get_string_member (f, "lesson"), ==, "书法");
      g_assert_cmpstr (json_object_get_string_member (find_named (board, "暂停"), "state"), ==,
                       "playing");
    }
  }
  clock_to (AT (1400)); /* everyone timed out and flushed */
  g_assert_cmpint (sql_int (app, "SELECT count(*) FROM viewer_sessions"), ==, 6);
  g_assert_cmpint (sql_int (app, "SELECT count(*) FROM viewer_sessions WHERE left_us IS NULL"), ==,
                   0);
  g_assert_cmpint (sql_int (app, "SELECT stalls FROM viewer_sessions s JOIN viewpoints v"
                                 " ON v.id = s.viewpoint_id WHERE v.name = '卡顿'"), ==, 3);

  g_auto (KtTestSession) admin = { 0 };
  kt_test_session_open (app, "admin2", "admin", &admin);
  g_autoptr (KtTestResponse) r = kt_test_request_as (
      app, &admin, "GET", "/api/attendance/lessons?from=2026-12-01&to=2026-12-02", NULL, NULL);
  g_assert_cmpuint (r->status, ==, 200);
  g_autofree char *text = kt_test_body_text (r);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  JsonArray *lessons
      = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "lessons");
  g_assert_cmpuint (json_array_get_length (lessons), ==, 1);
  JsonObject *l = json_array_get_object_element (lessons, 0);
  g_assert_cmpstr (json_object_get_string_member (l, "title"), ==, "书法");
  g_assert_cmpstr (json_object_get_string_member (l, "teacher"), ==, "王老师");
  g_assert_cmpstr (json_object_get_string_member (l, "channel"), ==, "7");
  g_assert_cmpstr (json_object_get_string_member (l, "start"), ==, "2026-12-01T09:00:00+08:00");
  g_assert_cmpstr (json_object_get_string_member (l, "end"), ==, "2026-12-01T09:20:00+08:00");
  JsonObject *vps = json_object_get_object_member (l, "viewpoints");
  g_assert_cmpint (json_object_get_int_member (vps, "count"), ==, 5);
  JsonArray *vl = json_object_get_array_member (vps, "list");
  /* The 20 s before the heartbeat that lands after 09:20 still count. */
  check_attendee (vl, "全程", 1200, 20.0, 1.0, TRUE);
  check_attendee (vl, "迟到", 600, 10.0, 0.5, FALSE); /* the first heartbeat earns nothing */
  check_attendee (vl, "暂停", 940, 15.7, 0.783, TRUE); /* 13 intervals of 20 s lost */
  check_attendee (vl, "卡顿", 1120, 18.7, 0.933, TRUE);
  check_attendee (vl, "关页", 400, 6.7, 0.333, FALSE);
  g_assert_cmpint (json_object_get_int_member (find_named (vl, "全程"), "headcount"), ==, 12);
  g_assert_cmpint (json_object_get_int_member (find_named (vl, "暂停"), "headcount"), ==, 5);
  g_assert_true (json_object_get_null_member (find_named (vl, "迟到"), "headcount"));
  g_assert_cmpstr (json_object_get_string_member (find_named (vl, "关页"), "left"), ==,
                   "2026-12-01T09:06:40+08:00");
  JsonObject *ind = json_object_get_object_member (l, "individuals");
  g_assert_cmpint (json_object_get_int_member (ind, "count"), ==, 1);
  check_attendee (json_object_get_array_member (ind, "list"), "李阿姨", 1140, 19.0, 0.95, TRUE);
  /* 1200 + 600 + 940 + 1120 + 400 + 1140 s. */
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (l, "minutes_watched"), 90.0, 1e-9);
  /* 12 + 1 (迟到 never said) + 5 + 1 + 1 + 1 at home. */
  g_assert_cmpint (json_object_get_int_member (l, "people_reached"), ==, 21);

  g_autoptr (KtTestResponse) other = kt_test_request_as (
      app, &admin, "GET", "/api/attendance/lessons?from=2026-12-01&to=2026-12-02&channel=8", NULL,
      NULL);
  g_autofree char *other_text = kt_test_body_text (other);
  g_assert_nonnull (strstr (other_text, "\"lessons\":[]"));

  g_autoptr (KtTestResponse) csv = kt_test_request_as (
      app, &admin, "GET", "/api/attendance/lessons.csv?from=2026-12-01&to=2026-12-02", NULL, NULL);
  g_assert_cmpuint (csv->status, ==, 200);
  g_assert_cmpstr (soup_message_headers_get_content_type (csv->headers, NULL), ==, "text/csv");
  g_assert_cmpstr (soup_message_headers_get_one (csv->headers, "Content-Disposition"), ==,
                   "attachment; filename=\"attendance-2026-12-01.csv\"");
  g_autofree char *csv_text = kt_test_body_text (csv);
  g_assert_true (g_str_has_prefix (csv_text, "\xEF\xBB\xBF"
                                             "课程,频道,开始时间,收视点,乡镇,收看分钟,占比,到课人数,是否到课\r\n"));
  g_assert_nonnull (strstr (csv_text, "\r\n书法,测试频道,2026-12-01 09:00,全程,城关镇,20.0,100%,12,是\r\n"));
  g_assert_nonnull (strstr (csv_text, "\r\n书法,测试频道,2026-12-01 09:00,迟到,河口乡,10.0,50%,,否\r\n"));
  g_assert_nonnull (strstr (csv_text, "\r\n书法,测试频道,2026-12-01 09:00,暂停,河口乡,15.7,78%,5,是\r\n"));
  g_assert_nonnull (strstr (csv_text, "\r\n书法,测试频道,2026-12-01 09:00,李阿姨（个人）,,19.0,95%,1,是\r\n"));
  g_auto (GStrv) rows = g_strsplit (csv_text, "\r\n", -1);
  g_assert_cmpuint (g_strv_length (rows), ==, 8); /* header, 6 rows, "" after the last CRLF */
  g_assert_null (strchr (rows[3], '\n'));

  kt_app_free (app);
  kt_test_rmtree (dir);
}

/* Who may read and write what; heartbeats that must be refused. */
static void
test_access (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  kt_clock_set_fake (AT (60));
  KtApp *app = start_app (dir);
  const char *paths[] = { "/api/attendance/lessons", "/api/attendance/lessons.csv",
                          "/api/attendance/online", "/api/viewpoints" };
  g_auto (KtTestSession) teacher = { 0 }, room = { 0 }, admin = { 0 };
  kt_test_session_open (app, "wang", "teacher", &teacher);
  kt_test_session_open (app, "room", "viewpoint", &room);
  kt_test_session_open (app, "boss", "admin", &admin);
  for (guint i = 0; i < G_N_ELEMENTS (paths); i++) {
    g_autoptr (KtTestResponse) anon = kt_test_get (app, paths[i]);
    g_assert_cmpuint (anon->status, ==, 401);
    g_autoptr (KtTestResponse) t = kt_test_request_as (app, &teacher, "GET", paths[i], NULL, NULL);
    g_assert_cmpuint (t->status, ==, 403);
    g_autoptr (KtTestResponse) v = kt_test_request_as (app, &room, "GET", paths[i], NULL, NULL);
    g_assert_cmpuint (v->status, ==, 403);
    g_autoptr (KtTestResponse) a = kt_test_request_as (app, &admin, "GET", paths[i], NULL, NULL);
    g_assert_cmpuint (a->status, ==, 200);
  }
  const char *add = "{\"name\": \"城关镇老年活动中心\", \"township\": \"城关镇\", \"seats\": 40}";
  g_autoptr (KtTestResponse) t_add = kt_test_request_as (app, &teacher, "POST", "/api/viewpoints",
                                                         "application/json", add);
  g_assert_cmpuint (t_add->status, ==, 403);
  g_autoptr (KtTestResponse) created = kt_test_request_as (app, &admin, "POST", "/api/viewpoints",
                                                           "application/json", add);
  g_assert_cmpuint (created->status, ==, 201);
  g_autofree char *created_text = kt_test_body_text (created);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_assert_true (json_parser_load_from_data (p, created_text, -1, NULL));
  JsonObject *o = json_node_get_object (json_parser_get_root (p));
  const char *token = json_object_get_string_member (o, "token");
  g_autofree char *kiosk = g_strdup_printf ("/?kiosk=1&token=%s", token);
  g_assert_cmpstr (json_object_get_string_member (o, "kiosk"), ==, kiosk);
  gint64 id = json_object_get_int_member (json_object_get_object_member (o, "viewpoint"), "id");
  g_autoptr (KtTestResponse) again = kt_test_request_as (app, &admin, "POST", "/api/viewpoints",
                                                         "application/json", add);
  g_assert_cmpuint (again->status, ==, 409);

  g_autofree char *good = g_strdup_printf ("\"token\": \"%s\"", token);
  g_assert_cmpuint (beat (app, good, "playing", 3), ==, 204);
  g_assert_cmpuint (beat (app, "\"token\": \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"", "playing", -1),
                    ==, 401);
  g_assert_cmpuint (beat (app, "\"token\": \"short\"", "playing", -1), ==, 401);
  g_assert_cmpuint (beat (app, good, "dancing", -1), ==, 400);
  g_assert_cmpuint (beat (app, "\"name\": \"nobody\"", "playing", -1), ==, 400);
  g_assert_cmpuint (beat (app, "\"viewer\": \"a b\"", "playing", -1), ==, 400);
  g_assert_cmpuint (beat (app, good, "playing", -5), ==, 204); /* -5 leaves it out */
  g_autoptr (KtTestResponse) junk
      = kt_test_request_body (app, "POST", "/api/heartbeat", NULL, "application/json", "{nope");
  g_assert_cmpuint (junk->status, ==, 400);
  g_autoptr (KtTestResponse) bad_count = kt_test_request_body (
      app, "POST", "/api/heartbeat", NULL, "application/json",
      "{\"viewer\": \"x1\", \"channel\": \"7\", \"state\": \"playing\", \"headcount\": \"many\"}");
  g_assert_cmpuint (bad_count->status, ==, 400);
  g_autofree char *wrong_channel = g_strdup_printf (
      "{\"token\": \"%s\", \"channel\": \"99\", \"state\": \"playing\"}", token);
  g_autoptr (KtTestResponse) no_channel = kt_test_request_body (
      app, "POST", "/api/heartbeat", NULL, "application/json", wrong_channel);
  g_assert_cmpuint (no_channel->status, ==, 404);

  /* Disabled by PATCH: its heartbeats are refused; no answer carries a hash. */
  g_autofree char *patch_path = g_strdup_printf ("/api/viewpoints/%" G_GINT64_FORMAT, id);
  g_autoptr (KtTestResponse) patched = kt_test_request_as (
      app, &admin, "PATCH", patch_path, "application/json", "{\"disabled\": true, \"phone\": \"0571-1\"}");
  g_assert_cmpuint (patched->status, ==, 200);
  g_assert_cmpuint (beat (app, good, "playing", -1), ==, 403);
  g_autoptr (KtTestResponse) list = kt_test_request_as (app, &admin, "GET", "/api/viewpoints", NULL, NULL);
  g_autofree char *list_text = kt_test_body_text (list);
  g_assert_nonnull (strstr (list_text, "\"phone\":\"0571-1\""));
  g_assert_nonnull (strstr (list_text, "\"disabled\":true"));
  g_assert_null (strstr (list_text, "hash"));
  g_assert_null (strstr (list_text, token));

  kt_app_free (app);
  kt_test_rmtree (dir);
}

/* `ketang viewpoint add` prints a token a heartbeat accepts. Then a crash:
 * heartbeats and a flush, more heartbeats without one, and the process gone
 * without a goodbye. The next process finds the flushed state, closes the
 * session at its last flushed heartbeat, and a viewer still watching
 * continues that same row: nothing counted twice. */
static void
test_cli_and_crash (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  g_auto (KtTestRun) run = { 0 };
  kt_test_run (&run, (const char *[]){ g_getenv ("KETANG_BIN"), "viewpoint", "add", "--township",
                                       "城关镇", "--seats", "30", "--data", dir, "活动中心", NULL },
               NULL);
  g_assert_cmpint (run.status, ==, 0);
  const char *tok = strstr (run.out, "\ntoken: ");
  g_assert_nonnull (tok);
  g_autofree char *token = g_strndup (tok + 8, 43);
  g_assert_nonnull (strstr (run.out, "\ncode: "));
  g_autofree char *kiosk = g_strdup_printf ("\nkiosk: /?kiosk=1&token=%s\n", token);
  g_assert_nonnull (strstr (run.out, kiosk));

  kt_clock_set_fake (AT (-1));
  KtApp *app = start_app (dir);
  g_autofree char *who = g_strdup_printf ("\"token\": \"%s\"", token);
  for (int t = 0; t <= 100; t += 20) {
    clock_to (AT (t));
    g_assert_cmpuint (beat (app, who, "playing", 7), ==, 204);
  }
  clock_to (AT (105)); /* a flush */
  g_assert_cmpint (sql_int (app, "SELECT watched_us FROM viewer_sessions"), ==, 100 * G_USEC_PER_SEC);
  clock_to (AT (120));
  g_assert_cmpuint (beat (app, who, "playing", 8), ==, 204); /* never flushed */
  kt_attendance_abandon (kt_app_attendance (app));           /* as if killed */
  kt_app_free (app);

  app = start_app (dir);
  g_assert_cmpint (sql_int (app, "SELECT count(*) FROM viewer_sessions"), ==, 1);
  g_assert_cmpint (sql_int (app, "SELECT count(*) FROM viewer_sessions WHERE left_us IS NULL"), ==, 0);
  g_assert_cmpint (sql_int (app, "SELECT left_us FROM viewer_sessions"), ==, AT (100));
  g_assert_cmpint (sql_int (app, "SELECT watched_us FROM viewer_sessions"), ==, 100 * G_USEC_PER_SEC);
  g_assert_cmpint (sql_int (app, "SELECT headcount FROM viewer_sessions"), ==, 7);
  /* Still watching: the same row goes on; the first heartbeat of the new
   * process earns nothing (it cannot know the state before). */
  for (int t = 140; t <= 180; t += 20) {
    clock_to (AT (t));
    g_assert_cmpuint (beat (app, who, "playing", -1), ==, 204);
  }
  clock_to (AT (185));
  g_assert_cmpint (sql_int (app, "SELECT count(*) FROM viewer_sessions"), ==, 1);
  g_assert_cmpint (sql_int (app, "SELECT watched_us FROM viewer_sessions"), ==, 140 * G_USEC_PER_SEC);
  g_assert_cmpint (sql_int (app, "SELECT left_us FROM viewer_sessions"), ==, -1); /* open again */
  kt_app_free (app);
  kt_test_rmtree (dir);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/attendance/lesson", test_lesson);
  g_test_add_func ("/attendance/access", test_access);
  g_test_add_func ("/attendance/cli-and-crash", test_cli_and_crash);
  return g_test_run ();
}
