/* Attendance end to end: the real server with a timetable on air (one
 * 20-minute lesson, 09:00–09:20, whose item is missing so that it airs a
 * card and nothing has to be rendered: what counts is what
 * kt_channel_airing_at says), a fake clock, and simulated players POSTing
 * heartbeats every 20 s of fake time. Checks the sessions and the report to
 * the second, the CSV byte by byte where it matters, that a crash loses at
 * most one flush interval and counts nothing twice, who may read what, and
 * that `ketang viewpoint add` prints a token a heartbeat accepts, and that the
 * month totals added up in C match the same totals grouped in SQL. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "kt-clock.h"
#include "kt-http.h"
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

static JsonObject *parse_object (KtTestResponse *r, JsonParser *parser);

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
  KtViewpointFields f = { name, township, NULL, NULL, 20, 0, "7" };
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
    g_assert_cmpuint (beat (app, full, "playing", t < 600 ? 10 : 12), ==, 200);
    if (t >= 600)
      g_assert_cmpuint (beat (app, late, "playing", -1), ==, 200);
    g_assert_cmpuint (beat (app, pause, t >= 300 && t <= 520 ? "paused" : "playing",
                            t == 0 ? 5 : -1), ==, 200);
    g_assert_cmpuint (beat (app, stall, t >= 100 && t <= 140 ? "stalled" : "playing", -1), ==,
                      200);
    if (t <= 400)
      g_assert_cmpuint (beat (app, closing, "playing", -1), ==, 200);
    if (t >= 60)
      g_assert_cmpuint (beat (app, home, "playing", -1), ==, 200);
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
  const char *paths[] = { "/api/attendance/lessons",    "/api/attendance/lessons.csv",
                          "/api/attendance/online",     "/api/attendance/online.csv",
                          "/api/attendance/viewpoints", "/api/attendance/viewpoints.csv",
                          "/api/attendance/months",     "/api/attendance/months.csv",
                          "/api/viewpoints" };
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
  g_assert_cmpuint (beat (app, good, "playing", 3), ==, 200);
  g_assert_cmpuint (beat (app, "\"token\": \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"", "playing", -1),
                    ==, 401);
  g_assert_cmpuint (beat (app, "\"token\": \"short\"", "playing", -1), ==, 401);
  g_assert_cmpuint (beat (app, good, "dancing", -1), ==, 400);
  g_assert_cmpuint (beat (app, "\"name\": \"nobody\"", "playing", -1), ==, 400);
  g_assert_cmpuint (beat (app, "\"viewer\": \"a b\"", "playing", -1), ==, 400);
  g_assert_cmpuint (beat (app, good, "playing", -5), ==, 200); /* -5 leaves it out */
  /* A relay's batch: each heartbeat checked as if alone. */
  g_autofree char *batch = g_strdup_printf (
      "[{\"token\": \"%s\", \"channel\": \"7\", \"state\": \"playing\"},"
      " {\"token\": \"%s\", \"channel\": \"7\", \"state\": \"dancing\"},"
      " {\"token\": \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\", \"channel\": \"7\", \"state\": \"playing\"},"
      " 42]", token, token);
  g_autoptr (KtTestResponse) batched
      = kt_test_request_body (app, "POST", "/api/heartbeat", NULL, "application/json", batch);
  g_assert_cmpuint (batched->status, ==, 200);
  g_autoptr (JsonParser) bp = json_parser_new ();
  JsonObject *answer = parse_object (batched, bp);
  g_assert_cmpint (json_object_get_int_member (answer, "accepted"), ==, 1);
  JsonArray *refused = json_object_get_array_member (answer, "refused");
  g_assert_cmpuint (json_array_get_length (refused), ==, 3);
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (refused, 0), "index"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (refused, 0), "status"), ==, 400);
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (refused, 1), "status"), ==, 401);
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (refused, 2), "index"), ==, 3);
  g_autoptr (KtTestResponse) empty_batch
      = kt_test_request_body (app, "POST", "/api/heartbeat", NULL, "application/json", "[]");
  g_assert_cmpuint (empty_batch->status, ==, 400);
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
    g_assert_cmpuint (beat (app, who, "playing", 7), ==, 200);
  }
  clock_to (AT (105)); /* a flush */
  g_assert_cmpint (sql_int (app, "SELECT watched_us FROM viewer_sessions"), ==, 100 * G_USEC_PER_SEC);
  clock_to (AT (120));
  g_assert_cmpuint (beat (app, who, "playing", 8), ==, 200); /* never flushed */
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
    g_assert_cmpuint (beat (app, who, "playing", -1), ==, 200);
  }
  clock_to (AT (185));
  g_assert_cmpint (sql_int (app, "SELECT count(*) FROM viewer_sessions"), ==, 1);
  g_assert_cmpint (sql_int (app, "SELECT watched_us FROM viewer_sessions"), ==, 140 * G_USEC_PER_SEC);
  g_assert_cmpint (sql_int (app, "SELECT left_us FROM viewer_sessions"), ==, -1); /* open again */
  kt_app_free (app);
  kt_test_rmtree (dir);
}

static JsonObject *
parse_object (KtTestResponse *r, JsonParser *parser)
{
  g_autofree char *text = kt_test_body_text (r);
  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  return json_node_get_object (json_parser_get_root (parser));
}

static guint
get_status (KtApp *app, const char *format, const char *value)
{
  g_autofree char *path = g_strdup_printf (format, value);
  g_autoptr (KtTestResponse) r = kt_test_get (app, path);
  return r->status;
}

/* A room's TV asks which channel it follows, by token or code, and learns
 * nothing else; a new token from the admin API retires the old one; a token
 * opens no other route. */
static void
test_kiosk (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  kt_clock_set_fake (AT (60));
  KtApp *app = start_app (dir);
  g_autofree char *code = NULL;
  g_autofree char *token = add_viewpoint (app, "城关镇老年活动中心", "城关镇", &code);

  g_autofree char *path = g_strdup_printf ("/api/kiosk?token=%s", token);
  g_autoptr (KtTestResponse) r = kt_test_get (app, path);
  g_assert_cmpuint (r->status, ==, 200);
  g_autoptr (JsonParser) p = json_parser_new ();
  JsonObject *o = parse_object (r, p);
  JsonObject *v = json_object_get_object_member (o, "viewpoint");
  g_assert_cmpstr (json_object_get_string_member (v, "name"), ==, "城关镇老年活动中心");
  g_assert_cmpstr (json_object_get_string_member (v, "channel"), ==, "7");
  g_assert_cmpint (json_object_get_int_member (o, "heartbeat_seconds"), ==, 20);
  g_assert_false (json_object_has_member (v, "code")); /* its own code is not a secret it needs */
  g_assert_false (json_object_has_member (v, "phone"));
  g_assert_cmpuint (get_status (app, "/api/kiosk?code=%s", code), ==, 200);
  g_assert_cmpuint (get_status (app, "/api/kiosk?token=%s", "nope"), ==, 401);
  g_autoptr (KtTestResponse) bare = kt_test_get (app, "/api/kiosk");
  g_assert_cmpuint (bare->status, ==, 400);

  /* The token is no login: every other route that is not public says 401. */
  guint n_routes;
  const KtRoute *routes = kt_http_routes (&n_routes);
  for (guint i = 0; i < n_routes; i++) {
    if (g_str_equal (routes[i].roles, "public"))
      continue;
    g_autofree char *with_token = g_strdup_printf ("%s?token=%s", routes[i].prefix, token);
    const char *headers[] = { "Authorization", NULL, "X-Ketang-Token", token, NULL };
    g_autofree char *bearer = g_strdup_printf ("Bearer %s", token);
    headers[1] = bearer;
    g_autofree char *method = g_strndup (routes[i].methods, strcspn (routes[i].methods, " "));
    g_autoptr (KtTestResponse) denied = kt_test_request (app, method, with_token, headers);
    if (denied->status != 401)
      g_error ("%s with a viewing point's token answered %u", routes[i].prefix, denied->status);
  }

  /* A new token from the admin API: the old one stops working at once. */
  g_auto (KtTestSession) admin = { 0 };
  kt_test_session_open (app, "boss", "admin", &admin);
  g_autoptr (KtTestResponse) list = kt_test_request_as (app, &admin, "GET", "/api/viewpoints", NULL, NULL);
  g_autoptr (JsonParser) lp = json_parser_new ();
  JsonArray *all = json_object_get_array_member (parse_object (list, lp), "viewpoints");
  gint64 id = json_object_get_int_member (json_array_get_object_element (all, 0), "id");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (all, 0), "channel"),
                   ==, "7");
  g_autofree char *token_path = g_strdup_printf ("/api/viewpoints/%" G_GINT64_FORMAT "/token", id);
  g_auto (KtTestSession) teacher = { 0 };
  kt_test_session_open (app, "wang", "teacher", &teacher);
  g_autoptr (KtTestResponse) t_new = kt_test_request_as (app, &teacher, "POST", token_path,
                                                         "application/json", "{}");
  g_assert_cmpuint (t_new->status, ==, 403);
  g_autoptr (KtTestResponse) renewed = kt_test_request_as (app, &admin, "POST", token_path,
                                                           "application/json", "{}");
  g_assert_cmpuint (renewed->status, ==, 200);
  g_autoptr (JsonParser) np = json_parser_new ();
  const char *fresh = json_object_get_string_member (parse_object (renewed, np), "token");
  g_assert_cmpstr (fresh, !=, token);
  g_assert_cmpuint (get_status (app, "/api/kiosk?token=%s", token), ==, 401);
  g_assert_cmpuint (get_status (app, "/api/kiosk?token=%s", fresh), ==, 200);

  /* Moved to another channel on the admin page: the kiosk learns it. */
  g_autofree char *patch_path = g_strdup_printf ("/api/viewpoints/%" G_GINT64_FORMAT, id);
  g_autoptr (KtTestResponse) moved = kt_test_request_as (app, &admin, "PATCH", patch_path,
                                                         "application/json", "{\"channel\": \"2\"}");
  g_assert_cmpuint (moved->status, ==, 200);
  g_autoptr (KtTestResponse) bad_channel = kt_test_request_as (
      app, &admin, "PATCH", patch_path, "application/json", "{\"channel\": \"../x\"}");
  g_assert_cmpuint (bad_channel->status, ==, 400);
  g_autofree char *fresh_path = g_strdup_printf ("/api/kiosk?token=%s", fresh);
  g_autoptr (KtTestResponse) again = kt_test_get (app, fresh_path);
  g_autofree char *again_text = kt_test_body_text (again);
  g_assert_nonnull (strstr (again_text, "\"channel\":\"2\""));

  kt_app_free (app);
  kt_test_rmtree (dir);
}

/* Guessing 6-digit codes: one address waits after 5 wrong ones, longer with
 * each further one, and a right code then waits too; and a cap for
 * everybody together. */
static void
test_code_guessing (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  kt_clock_set_fake (AT (60));
  KtApp *app = start_app (dir);
  g_autofree char *code = NULL;
  g_autofree char *token = add_viewpoint (app, "活动中心", "城关镇", &code);
  g_autofree char *wrong = g_strdup_printf ("%06d", (atoi (code) + 1) % 1000000);
  g_autofree char *with_wrong = g_strdup_printf ("\"code\": \"%s\"", wrong);
  g_autofree char *with_right = g_strdup_printf ("\"code\": \"%s\"", code);

  for (int i = 0; i < 5; i++)
    g_assert_cmpuint (beat (app, with_wrong, "playing", -1), ==, 401);
  g_autofree char *throttled_path = g_strdup_printf ("/api/kiosk?code=%s", code);
  g_autoptr (KtTestResponse) throttled = kt_test_get (app, throttled_path);
  g_assert_cmpuint (throttled->status, ==, 429); /* even the right one, now */
  g_assert_cmpstr (soup_message_headers_get_one (throttled->headers, "Retry-After"), ==, "60");
  g_assert_cmpuint (beat (app, with_right, "playing", -1), ==, 429);
  /* Tokens are never throttled. */
  g_autofree char *with_token = g_strdup_printf ("\"token\": \"%s\"", token);
  g_assert_cmpuint (beat (app, with_token, "playing", -1), ==, 200);
  clock_to (AT (121));
  g_assert_cmpuint (beat (app, with_wrong, "playing", -1), ==, 401); /* the 6th: 120 s now */
  clock_to (AT (200));
  g_assert_cmpuint (beat (app, with_right, "playing", -1), ==, 429);
  clock_to (AT (242));
  g_assert_cmpuint (beat (app, with_right, "playing", -1), ==, 200); /* clears the record */
  g_assert_cmpuint (beat (app, with_wrong, "playing", -1), ==, 401);
  g_assert_cmpuint (beat (app, with_right, "playing", -1), ==, 200);
  kt_app_free (app);

  /* Everybody together: 3 wrong codes an hour, then nobody's code counts
   * until the hour is over. */
  const char *settings[] = { "attendance.code_failures_per_hour=3",
                             "attendance.code_max_failures=100", NULL };
  g_autofree char *schedules = g_build_filename (dir, "schedules", NULL);
  g_autofree char *setting = g_strconcat ("server.schedules_dir=", schedules, NULL);
  const char *all_settings[] = { settings[0], settings[1], setting, NULL };
  kt_clock_set_fake (AT (60));
  app = kt_test_app_start (dir, FALSE, all_settings);
  g_test_expect_message ("kt-code-guard", G_LOG_LEVEL_WARNING, "too many wrong viewing point codes*");
  for (int i = 0; i < 3; i++)
    g_assert_cmpuint (beat (app, with_wrong, "playing", -1), ==, 401);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (beat (app, with_right, "playing", -1), ==, 429);
  clock_to (AT (3600)); /* 10:00: a new hour */
  g_assert_cmpuint (beat (app, with_right, "playing", -1), ==, 200);
  kt_app_free (app);
  kt_test_rmtree (dir);
}

/* People at home: by name and phone (one person on two devices counts
 * once), or by their viewing point's code (then they are an individual of
 * that room's township, not the room). */
static void
test_individuals (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  kt_clock_set_fake (AT (-20));
  KtApp *app = start_app (dir);
  g_autofree char *code = NULL;
  g_autofree char *room = add_viewpoint (app, "河口活动室", "河口乡", &code);
  g_autofree char *room_beat = g_strdup_printf ("\"token\": \"%s\"", room);
  const char *phone_a = "\"viewer\": \"d1\", \"name\": \"王大爷\", \"phone\": \"138 0000-1234\"";
  const char *phone_b = "\"viewer\": \"d2\", \"name\": \"王大爷\", \"phone\": \"13800001234\"";
  g_autofree char *by_code
      = g_strdup_printf ("\"viewer\": \"z9\", \"name\": \"张阿姨\", \"code\": \"%s\"", code);

  g_assert_cmpuint (beat (app, "\"viewer\": \"q1\"", "playing", -1), ==, 400); /* who? */
  g_assert_cmpuint (beat (app, "\"viewer\": \"q1\", \"name\": \"李\", \"phone\": \"abc\"",
                          "playing", -1), ==, 400);
  for (int t = 0; t <= 1200; t += 20) {
    clock_to (AT (t));
    g_assert_cmpuint (beat (app, room_beat, "playing", 8), ==, 200);
    /* The phone on the first half, the tablet on the second. */
    g_assert_cmpuint (beat (app, t < 600 ? phone_a : phone_b, "playing", -1), ==, 200);
    g_assert_cmpuint (beat (app, by_code, "playing", 30), ==, 200); /* its headcount is ignored */
  }
  clock_to (AT (1300));
  g_auto (KtTestSession) admin = { 0 };
  kt_test_session_open (app, "boss", "admin", &admin);
  g_autoptr (KtTestResponse) r = kt_test_request_as (
      app, &admin, "GET", "/api/attendance/lessons?from=2026-12-01&to=2026-12-02", NULL, NULL);
  g_autoptr (JsonParser) p = json_parser_new ();
  JsonObject *l = json_array_get_object_element (
      json_object_get_array_member (parse_object (r, p), "lessons"), 0);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (l, "viewpoints"), "count"),
                   ==, 1);
  JsonObject *ind = json_object_get_object_member (l, "individuals");
  g_assert_cmpint (json_object_get_int_member (ind, "count"), ==, 2);
  JsonArray *people = json_object_get_array_member (ind, "list");
  JsonObject *wang = find_named (people, "王大爷");
  g_assert_cmpstr (json_object_get_string_member (wang, "phone"), ==, "13800001234");
  /* One person: the switch of device at 09:10 loses nothing. */
  g_assert_cmpint (json_object_get_int_member (wang, "seconds"), ==, 1200);
  JsonObject *zhang = find_named (people, "张阿姨");
  g_assert_cmpstr (json_object_get_string_member (zhang, "township"), ==, "河口乡");
  g_assert_cmpstr (json_object_get_string_member (zhang, "viewpoint"), ==, "河口活动室");
  g_assert_cmpint (json_object_get_int_member (zhang, "seconds"), ==, 1200);
  g_assert_cmpint (json_object_get_int_member (l, "people_reached"), ==, 8 + 2);

  g_autoptr (KtTestResponse) csv = kt_test_request_as (
      app, &admin, "GET", "/api/attendance/lessons.csv?from=2026-12-01&to=2026-12-02", NULL, NULL);
  g_autofree char *csv_text = kt_test_body_text (csv);
  g_assert_nonnull (strstr (csv_text, "\r\n书法,测试频道,2026-12-01 09:00,张阿姨（个人，河口活动室）,河口乡,20.0,100%,1,是\r\n"));
  kt_app_free (app);
  kt_test_rmtree (dir);
}

static JsonObject *
admin_get (KtApp *app, const KtTestSession *admin, const char *path, JsonParser *parser)
{
  g_autoptr (KtTestResponse) r = kt_test_request_as (app, admin, "GET", path, NULL, NULL);
  if (r->status != 200)
    g_error ("%s answered %u", path, r->status);
  return parse_object (r, parser);
}

static char *
admin_csv (KtApp *app, const KtTestSession *admin, const char *path)
{
  g_autoptr (KtTestResponse) r = kt_test_request_as (app, admin, "GET", path, NULL, NULL);
  g_assert_cmpuint (r->status, ==, 200);
  g_assert_cmpstr (soup_message_headers_get_content_type (r->headers, NULL), ==, "text/csv");
  char *text = kt_test_body_text (r);
  g_assert_true (g_str_has_prefix (text, "\xEF\xBB\xBF"));
  return text;
}

/* The live board with who is missing while the lesson runs; per viewing
 * point over a month; per month per channel and per township; their CSV. */
static void
test_reports (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  kt_clock_set_fake (AT (-20));
  KtApp *app = start_app (dir);
  g_autofree char *code_b = NULL;
  g_autofree char *a = add_viewpoint (app, "城关活动中心", "城关镇", NULL);
  g_autofree char *b = add_viewpoint (app, "河口活动室", "河口乡", &code_b);
  g_autofree char *c = add_viewpoint (app, "河口村部", "河口乡", NULL);
  g_auto (KtTestSession) admin = { 0 };
  kt_test_session_open (app, "boss", "admin", &admin);
  g_autoptr (JsonParser) lp = json_parser_new ();
  JsonArray *all = json_object_get_array_member (admin_get (app, &admin, "/api/viewpoints", lp),
                                                 "viewpoints");
  gint64 c_id = json_object_get_int_member (find_named (all, "河口村部"), "id");
  g_autofree char *c_path = g_strdup_printf ("/api/viewpoints/%" G_GINT64_FORMAT, c_id);
  g_autoptr (KtTestResponse) off = kt_test_request_as (app, &admin, "PATCH", c_path,
                                                       "application/json", "{\"disabled\": true}");
  g_assert_cmpuint (off->status, ==, 200);

  g_autofree char *room = g_strdup_printf ("\"token\": \"%s\"", a);
  const char *li = "\"viewer\": \"l1\", \"name\": \"李\", \"phone\": \"13900000000\"";
  g_autofree char *zhang = g_strdup_printf ("\"viewer\": \"z1\", \"name\": \"张\", \"code\": \"%s\"", code_b);
  for (int t = -20; t <= 1220; t += 20) {
    clock_to (AT (t));
    g_assert_cmpuint (beat (app, room, t < 300 ? "playing" : t < 320 ? "stalled" : "playing", 10), ==, 200);
    g_assert_cmpuint (beat (app, li, "playing", -1), ==, 200);
    g_assert_cmpuint (beat (app, zhang, "playing", -1), ==, 200);
    if (t == 300) {
      g_autoptr (JsonParser) bp = json_parser_new ();
      JsonObject *board = admin_get (app, &admin, "/api/attendance/online", bp);
      JsonArray *on = json_object_get_array_member (board, "viewpoints");
      g_assert_cmpuint (json_array_get_length (on), ==, 1);
      JsonObject *o = json_array_get_object_element (on, 0);
      g_assert_cmpstr (json_object_get_string_member (o, "state"), ==, "stalled");
      g_assert_cmpstr (json_object_get_string_member (o, "township"), ==, "城关镇");
      JsonArray *missing = json_object_get_array_member (board, "missing");
      g_assert_cmpuint (json_array_get_length (missing), ==, 1); /* not the disabled 河口村部 */
      JsonObject *m = json_array_get_object_element (missing, 0);
      g_assert_cmpstr (json_object_get_string_member (m, "name"), ==, "河口活动室");
      g_assert_cmpstr (json_object_get_string_member (m, "lesson"), ==, "书法");
      g_assert_cmpint (json_object_get_int_member (board, "individuals_online"), ==, 2);
      g_autofree char *csv = admin_csv (app, &admin, "/api/attendance/online.csv");
      g_assert_nonnull (strstr (csv, "收视点,乡镇,频道,课程,状态,到课人数,最后收到\r\n"));
      g_assert_nonnull (strstr (csv, "\r\n城关活动中心,城关镇,测试频道,书法,卡顿,10,2026-12-01 09:05:00\r\n"));
      g_assert_nonnull (strstr (csv, "\r\n河口活动室,河口乡,测试频道,书法,未上线,,\r\n"));
    }
  }
  clock_to (AT (1400));
  g_autoptr (JsonParser) board_after = json_parser_new ();
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                        admin_get (app, &admin, "/api/attendance/online", board_after), "missing")),
                    ==, 0); /* the lesson is over: nobody is expected */

  g_autoptr (JsonParser) vp = json_parser_new ();
  JsonArray *rooms = json_object_get_array_member (
      admin_get (app, &admin, "/api/attendance/viewpoints?from=2026-12-01&to=2027-01-01", vp),
      "viewpoints");
  g_assert_cmpuint (json_array_get_length (rooms), ==, 3);
  JsonObject *ra = find_named (rooms, "城关活动中心");
  g_assert_cmpint (json_object_get_int_member (ra, "lessons"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (ra, "attended"), ==, 1);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (ra, "minutes"), 19.3, 1e-9);
  g_assert_cmpint (json_object_get_int_member (ra, "people_reached"), ==, 10);
  g_assert_cmpint (json_object_get_int_member (find_named (rooms, "河口活动室"), "lessons"), ==, 0);
  g_assert_true (json_object_get_boolean_member (find_named (rooms, "河口村部"), "disabled"));
  g_autofree char *vp_csv
      = admin_csv (app, &admin, "/api/attendance/viewpoints.csv?from=2026-12-01&to=2027-01-01");
  g_assert_nonnull (strstr (vp_csv, "收视点,乡镇,频道,状态,收看课次,到课课次,收看分钟,到课人次\r\n"));
  g_assert_nonnull (strstr (vp_csv, "\r\n城关活动中心,城关镇,测试频道,使用中,1,1,19.3,10\r\n"));
  g_assert_nonnull (strstr (vp_csv, "\r\n河口村部,河口乡,测试频道,已停用,0,0,0.0,0\r\n"));

  g_autoptr (JsonParser) mp = json_parser_new ();
  JsonArray *months = json_object_get_array_member (
      admin_get (app, &admin, "/api/attendance/months?from=2026-11-01&to=2027-01-01", mp), "months");
  g_assert_cmpuint (json_array_get_length (months), ==, 2);
  JsonObject *nov = json_array_get_object_element (months, 0);
  g_assert_cmpstr (json_object_get_string_member (nov, "month"), ==, "2026-11");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (nov, "channels")), ==, 0);
  JsonObject *dec = json_array_get_object_element (months, 1);
  JsonObject *ch = json_array_get_object_element (json_object_get_array_member (dec, "channels"), 0);
  g_assert_cmpstr (json_object_get_string_member (ch, "channel"), ==, "7");
  g_assert_cmpint (json_object_get_int_member (ch, "lessons"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (ch, "viewpoints"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (ch, "individuals"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (ch, "people_reached"), ==, 12);
  JsonArray *towns = json_object_get_array_member (dec, "townships");
  g_assert_cmpuint (json_array_get_length (towns), ==, 3);
  g_autofree char *m_csv
      = admin_csv (app, &admin, "/api/attendance/months.csv?from=2026-11-01&to=2027-01-01");
  g_assert_nonnull (strstr (m_csv, "月份,类别,名称,课次,收视点场次,在家个人,到课人次,收看分钟\r\n"));
  g_assert_nonnull (strstr (m_csv, "\r\n2026-12,频道,测试频道,1,1,2,12,"));
  g_assert_nonnull (strstr (m_csv, "\r\n2026-12,乡镇,河口乡,1,0,1,1,"));
  g_assert_nonnull (strstr (m_csv, "\r\n2026-12,乡镇,个人（未归属乡镇）,1,0,1,1,"));

  g_autoptr (KtTestResponse) too_long = kt_test_request_as (
      app, &admin, "GET", "/api/attendance/months?from=2026-01-01&to=2027-06-01", NULL, NULL);
  g_assert_cmpuint (too_long->status, ==, 400);
  kt_app_free (app);
  kt_test_rmtree (dir);
}

/* A player without JavaScript given the kiosk playlist URL: the token in the
 * master playlist's URL is on every variant URL, and each variant playlist
 * request counts as a "playing" heartbeat of that room. A wrong token still
 * gets the stream, uncounted. */
static void
test_playlist_presence (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  kt_clock_set_fake (AT (0));
  KtApp *app = start_app (dir);
  kt_test_wait_on_air (app, "7"); /* the card that says the lesson's item is missing */
  g_autofree char *token = add_viewpoint (app, "电视盒子", "城关镇", NULL);
  g_autofree char *master_path = g_strdup_printf ("/live/7/index.m3u8?token=%s", token);
  g_autoptr (KtTestResponse) master = kt_test_get (app, master_path);
  g_assert_cmpuint (master->status, ==, 200);
  g_autofree char *master_text = kt_test_body_text (master);
  g_autofree char *variant = g_strdup_printf ("360p/index.m3u8?token=%s\n", token);
  g_assert_nonnull (strstr (master_text, variant));

  g_autofree char *variant_path = g_strdup_printf ("/live/7/360p/index.m3u8?token=%s", token);
  for (int t = 0; t <= 120; t += 2) { /* 09:00:00 to 09:02:00, every segment */
    clock_to (AT (t));
    g_autoptr (KtTestResponse) r = kt_test_get (app, variant_path);
    g_assert_cmpuint (r->status, ==, 200);
    g_autoptr (KtTestResponse) stranger = kt_test_get (app, "/live/7/360p/index.m3u8?token=x");
    g_assert_cmpuint (stranger->status, ==, 200);
  }
  clock_to (AT (200)); /* silent since 09:02: timed out and flushed */
  g_assert_cmpint (sql_int (app, "SELECT count(*) FROM viewer_sessions"), ==, 1);
  g_assert_cmpint (sql_int (app, "SELECT watched_us FROM viewer_sessions"), ==, 120 * G_USEC_PER_SEC);
  g_assert_cmpint (sql_int (app, "SELECT left_us FROM viewer_sessions"), ==, AT (120));
  kt_app_free (app);
  kt_test_rmtree (dir);
}

/* A token that stops being good stops counting with the next reload, though
 * kt-viewpoint caches tokens: room A is disabled on the admin page, room B
 * gets a new token from another connection to the database (as `ketang
 * viewpoint token` run from a shell does), room C is deleted with raw SQL.
 * Each was counted (and so cached) before. */
static gint64
last_heard (KtApp *app, gint64 id)
{
  g_autofree char *sql = g_strdup_printf (
      "SELECT last_us FROM viewer_sessions WHERE viewer_key = 'vp:%" G_GINT64_FORMAT "'", id);
  return sql_int (app, sql);
}

static void
reload (KtApp *app, const char *token)
{
  g_autofree char *path = g_strdup_printf ("/live/7/360p/index.m3u8?token=%s", token);
  g_autoptr (KtTestResponse) r = kt_test_get (app, path);
  g_assert_cmpuint (r->status, ==, 200);
}

/* Each token's variant playlist every 2 s from @from to @to seconds. */
static void
reloads (KtApp *app, int from, int to, const char *a, const char *b, const char *c)
{
  for (int t = from; t <= to; t += 2) {
    clock_to (AT (t));
    reload (app, a);
    reload (app, b);
    reload (app, c);
  }
}

static void
test_stale_tokens (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  kt_clock_set_fake (AT (0));
  KtApp *app = start_app (dir);
  kt_test_wait_on_air (app, "7");
  g_autofree char *a = add_viewpoint (app, "甲", "城关镇", NULL);
  g_autofree char *b = add_viewpoint (app, "乙", "城关镇", NULL);
  g_autofree char *c = add_viewpoint (app, "丙", "城关镇", NULL);
  g_autoptr (KtViewpoint) va = kt_viewpoint_find (kt_app_store (app), "甲", NULL);
  g_autoptr (KtViewpoint) vb = kt_viewpoint_find (kt_app_store (app), "乙", NULL);
  g_autoptr (KtViewpoint) vc = kt_viewpoint_find (kt_app_store (app), "丙", NULL);
  g_autofree char *a_beat = g_strdup_printf ("\"token\": \"%s\"", a);
  reloads (app, 0, 20, a, b, c);
  g_assert_cmpuint (beat (app, a_beat, "playing", 3), ==, 200);

  g_auto (KtTestSession) admin = { 0 };
  kt_test_session_open (app, "boss", "admin", &admin);
  g_autofree char *a_path = g_strdup_printf ("/api/viewpoints/%" G_GINT64_FORMAT, va->id);
  g_autoptr (KtTestResponse) off = kt_test_request_as (app, &admin, "PATCH", a_path,
                                                       "application/json", "{\"disabled\": true}");
  g_assert_cmpuint (off->status, ==, 200);
  g_assert_cmpuint (beat (app, a_beat, "playing", 3), ==, 403);
  reloads (app, 22, 30, a, b, c);

  g_autofree char *db_path = g_build_filename (dir, "ketang.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (KtStore) shell = kt_store_open (db_path, &error);
  g_assert_no_error (error);
  g_autofree char *b_new = kt_viewpoint_new_token (shell, "乙", &error);
  g_assert_no_error (error);
  reloads (app, 32, 40, a, b, c);

  g_autofree char *delete_c
      = g_strdup_printf ("DELETE FROM viewpoints WHERE id = %" G_GINT64_FORMAT, vc->id);
  g_assert_true (kt_store_exec (kt_app_store (app), delete_c, NULL));
  reloads (app, 42, 50, a, b, c);

  clock_to (AT (56)); /* flushed */
  g_assert_cmpint (last_heard (app, va->id), ==, AT (20));
  g_assert_cmpint (last_heard (app, vb->id), ==, AT (30));
  g_assert_cmpint (last_heard (app, vc->id), ==, AT (40));
  reload (app, b_new); /* the new token counts */
  clock_to (AT (62));
  g_assert_cmpint (last_heard (app, vb->id), ==, AT (56));
  kt_app_free (app);
  kt_test_rmtree (dir);
}

/* The totals per month, per channel and per township, against the same
 * totals grouped in SQL (what kt-attendance-summary.c used to do, slowly):
 * three channels whose lessons start at the same instants, sessions
 * written in random order, people on several channels and lessons, people
 * joined by a room's code, a room deleted since (its sessions lose their
 * room), a headcount never said, and a township that happens to be called
 * like the line for people of no room. Guards the one-pass tallies, which
 * rely on the rows of a lesson coming together. */
static const char month_sql[]
    = "SELECT %s, count (DISTINCT s.channel || '@' || s.lesson_start_us),"
      " sum (s.viewpoint_id IS NOT NULL),"
      " count (DISTINCT CASE WHEN s.viewpoint_id IS NULL THEN s.viewer_key END),"
      " sum (CASE WHEN s.viewpoint_id IS NULL THEN 1 ELSE coalesce (s.headcount, 1) END),"
      " sum (s.watched_us)"
      " FROM viewer_sessions s LEFT JOIN viewpoints v"
      "  ON v.id = coalesce (s.viewpoint_id, s.member_of)"
      " WHERE s.lesson_start_us >= ?1 AND s.lesson_start_us < ?2 GROUP BY 1 ORDER BY 1";

static void
check_totals (KtStore *store, const char *key, GPtrArray *totals, gint64 from, gint64 to)
{
  g_autofree char *sql = g_strdup_printf (month_sql, key);
  sqlite3_stmt *stmt = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (kt_store_handle (store), sql, -1, &stmt, NULL), ==, SQLITE_OK);
  sqlite3_bind_int64 (stmt, 1, from);
  sqlite3_bind_int64 (stmt, 2, to);
  guint i = 0;
  while (sqlite3_step (stmt) == SQLITE_ROW) {
    g_assert_cmpuint (i, <, totals->len);
    const KtPeriodTotal *t = totals->pdata[i++];
    g_assert_cmpstr (t->key, ==, (const char *) sqlite3_column_text (stmt, 0));
    g_assert_cmpint (t->lessons, ==, sqlite3_column_int64 (stmt, 1));
    g_assert_cmpint (t->viewpoints, ==, sqlite3_column_int64 (stmt, 2));
    g_assert_cmpint (t->individuals, ==, sqlite3_column_int64 (stmt, 3));
    g_assert_cmpint (t->people, ==, sqlite3_column_int64 (stmt, 4));
    g_assert_cmpint (t->watched_us, ==, sqlite3_column_int64 (stmt, 5));
  }
  g_assert_cmpuint (i, ==, totals->len);
  sqlite3_finalize (stmt);
}

static void
test_months_match_sql (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  g_autofree char *path = g_build_filename (dir, "ketang.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (KtStore) store = kt_store_open (path, &error);
  g_assert_no_error (error);
  static const char *const towns[] = { "城关镇", "河口乡", "个人（未归属乡镇）", "东山乡" };
  for (int i = 1; i <= 12; i++) {
    g_autofree char *sql = g_strdup_printf (
        "INSERT INTO viewpoints (id, name, township, token_hash, code, created_us)"
        " VALUES (%d, '点%d', '%s', 'h%d', '%06d', 0)", i, i, towns[i % 4], i, i);
    g_assert_true (kt_store_exec (store, sql, NULL));
  }
  GRand *rand = g_rand_new_with_seed (7);
  /* Lessons at 09:00 and 14:00 (+08:00) from 2026-10-20 for 60 days, on channels 1, 2 and 10. */
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (g_free);
  for (int day = 0; day < 60; day++)
    for (int slot = 0; slot < 2; slot++)
      for (int ch = 0; ch < 3; ch++) {
        gint64 start = (G_GINT64_CONSTANT (1792458000) + day * 86400 + slot * 5 * 3600) * G_USEC_PER_SEC;
        const char *channel = ch == 0 ? "1" : ch == 1 ? "2" : "10";
        for (int who = 0; who < 42; who++) {
          if (g_rand_int_range (rand, 0, 3) != 0)
            continue;
          gboolean room = who < 12;
          gint64 watched = (gint64) g_rand_int_range (rand, 0, 270) * 20 * G_USEC_PER_SEC;
          g_autofree char *headcount = room && who % 3 ? g_strdup_printf ("%d", who) : g_strdup ("NULL");
          g_autofree char *viewpoint = room ? g_strdup_printf ("%d", who + 1) : g_strdup ("NULL");
          g_autofree char *member_of = !room && who % 3 == 0 ? g_strdup_printf ("%d", 1 + who % 12)
                                                             : g_strdup ("NULL");
          g_ptr_array_add (rows, g_strdup_printf (
              "INSERT INTO viewer_sessions (viewer_key, viewpoint_id, channel, lesson_title,"
              " lesson_start_us, lesson_end_us, joined_us, last_us, left_us, watched_us,"
              " headcount, member_of) VALUES ('%s%d', %s, '%s', '课', %" G_GINT64_FORMAT
              ", %" G_GINT64_FORMAT ", 0, 0, 0, %" G_GINT64_FORMAT ", %s, %s)",
              room ? "vp:" : who % 2 ? "tel:139" : "u:", room ? who + 1 : who, viewpoint, channel,
              start, start + (gint64) 5400 * G_USEC_PER_SEC, watched, headcount, member_of));
        }
      }
  g_assert_true (kt_store_begin (store, NULL));
  while (rows->len > 0) { /* in random order: rowids say nothing about lessons */
    guint pick = g_rand_int_range (rand, 0, rows->len);
    g_assert_true (kt_store_exec (store, g_ptr_array_index (rows, pick), NULL));
    g_ptr_array_remove_index_fast (rows, pick);
  }
  g_assert_true (kt_store_commit (store, NULL));
  g_rand_free (rand);
  g_assert_true (kt_store_exec (store, "DELETE FROM viewpoints WHERE id = 5", NULL));

  g_autoptr (GTimeZone) tz = g_time_zone_new_identifier ("Asia/Shanghai");
  gint64 from = G_GINT64_CONSTANT (1790784000) * G_USEC_PER_SEC; /* 2026-10-01 +08:00 */
  gint64 to = G_GINT64_CONSTANT (1798732800) * G_USEC_PER_SEC;   /* 2027-01-01 */
  g_autoptr (GPtrArray) months = kt_attendance_by_month (store, tz, from, to, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (months->len, ==, 3);
  for (guint i = 0; i < months->len; i++) {
    const KtMonthReport *m = months->pdata[i];
    g_assert_cmpuint (m->channels->len, ==, 3);
    check_totals (store, "s.channel", m->channels, m->start_us, m->end_us);
    check_totals (store, "coalesce (v.township, '个人（未归属乡镇）')", m->townships, m->start_us,
                  m->end_us);
  }
  g_clear_pointer (&store, kt_store_free);
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
  g_test_add_func ("/attendance/kiosk", test_kiosk);
  g_test_add_func ("/attendance/code-guessing", test_code_guessing);
  g_test_add_func ("/attendance/playlist-presence", test_playlist_presence);
  g_test_add_func ("/attendance/stale-tokens", test_stale_tokens);
  g_test_add_func ("/attendance/individuals", test_individuals);
  g_test_add_func ("/attendance/reports", test_reports);
  g_test_add_func ("/attendance/months-match-sql", test_months_match_sql);
  return g_test_run ();
}
