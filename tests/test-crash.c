/* Crash safety: the real `ketang serve` killed with SIGKILL at the worst
 * moments and started again on the same data directory, as a power cut or
 * the OOM killer would do it to a server nobody watches.
 *
 * One channel airs a lesson from a timetable file while simulated viewers
 * POST heartbeats (flushed every second). The server is killed right after
 * an attendance flush commits (seen from outside: the database's
 * data_version moves) and at random instants around flushes; in the middle
 * of a resumable upload, with a chunk in flight; once all of it has
 * arrived, while it is probed; while the upload is being normalized, with
 * half a rendition in media/.tmp-<item>; and just after the timetable file
 * changed, before or while the server reloads it. After every restart:
 *
 *   - every session row a reader saw before the kill is still there, with no
 *     less watched time (a flush is all or nothing);
 *   - nothing is counted twice: a session never holds more watched time
 *     than the span between its first and last heartbeat;
 *   - no session is open before anyone is heard again (the new process
 *     closes what the dead one left open);
 *   - the channel airs what the timetable says now, the changed file too;
 *   - an upload goes on from the offset the server confirms, never beyond
 *     what was sent, and ends as a ready item with no half-made output left;
 *
 * and after the last clean stop `PRAGMA integrity_check` says ok.
 *
 * Wall-clock waits are real here (a real process, real flushes), each
 * bounded by a deadline. KETANG_CRASH_KILLS sets how many flush kills run
 * (default 4; the hardening target is 50 in a row). */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <sqlite3.h>

#include "test-utils.h"

static char *dir;
static char *db_path;
static KtTestServer server;
static KtTestSession teacher;
static guint kills;

#define N_VIEWERS 3

static const char *const server_env[] = {
  NULL, /* KETANG_SERVER_SCHEDULES_DIR, filled in */
  "KETANG_ATTENDANCE_FLUSH_SECONDS=1",
  "KETANG_ATTENDANCE_HEARTBEAT_SECONDS=5",
  NULL,
};
static char *schedules_env;

static void
start (void)
{
  const char *env[G_N_ELEMENTS (server_env)];
  memcpy (env, server_env, sizeof env);
  env[0] = schedules_env;
  kt_test_server_start (&server, dir, env);
}

/* The timetable of channel 7: one lesson from a minute ago to an hour from
 * now called @title (its item is missing, so it airs a card: what counts
 * is what the timetable says is on). */
static void
write_timetable (const char *title)
{
  static char *dtstart;
  if (dtstart == NULL) {
    g_autoptr (GDateTime) t = g_date_time_new_from_unix_utc (g_get_real_time () / G_USEC_PER_SEC - 60);
    dtstart = g_date_time_format (t, "%Y%m%dT%H%M%SZ");
  }
  g_autofree char *text = g_strdup_printf (
      "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\nX-KETANG-CHANNEL:7\n"
      "BEGIN:VEVENT\nUID:crash\nSUMMARY:%s\nDTSTART:%s\nDURATION:PT1H\n"
      "X-KETANG-SOURCE:item:missing\nEND:VEVENT\nEND:VCALENDAR\n", title, dtstart);
  g_autofree char *path = g_build_filename (dir, "schedules", "7.ics", NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

static KtTestResponse *
call (const char *method, const char *path, const char *const *headers, const char *content_type,
      const void *body, gsize len)
{
  g_autofree char *url = g_strconcat (server.base, path, NULL);
  return kt_test_request_url (method, url, headers, content_type, body, len);
}

static KtTestResponse *
call_as_teacher (const char *method, const char *path, const char *const *extra,
                 const char *content_type, const void *body, gsize len)
{
  const char *headers[8] = { "Cookie", teacher.cookie, "X-CSRF-Token", teacher.csrf };
  for (guint i = 0; extra && extra[i]; i++)
    headers[4 + i] = extra[i];
  return call (method, path, headers, content_type, body, len);
}

/* One heartbeat from each viewer, all playing. */
static void
beat_all (void)
{
  for (int v = 0; v < N_VIEWERS; v++) {
    g_autofree char *body = g_strdup_printf (
        "{\"viewer\": \"crash-%d\", \"name\": \"观众%d\", \"channel\": \"7\", \"state\": \"playing\"}",
        v, v);
    g_autoptr (KtTestResponse) r = call ("POST", "/api/heartbeat", NULL, "application/json", body,
                                         strlen (body));
    g_assert_cmpuint (r->status, ==, 200);
  }
}

/* Heartbeats every 200 ms for @ms. */
static void
watch_for (int ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;
  while (g_get_monotonic_time () < end) {
    beat_all ();
    g_usleep (200000);
  }
}

static sqlite3 *
open_db (void)
{
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open_v2 (db_path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  return db;
}

static gint64
db_int (sqlite3 *db, const char *sql)
{
  sqlite3_stmt *stmt = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  gint64 v = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  return v;
}

/* "viewer lesson_start" → "watched last" of every session row. */
static GHashTable *
sessions_snapshot (sqlite3 *db)
{
  GHashTable *rows = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  sqlite3_stmt *stmt = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT viewer_key, lesson_start_us, watched_us, last_us,"
                                           " joined_us FROM viewer_sessions", -1, &stmt, NULL),
                   ==, SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW) {
    gint64 watched = sqlite3_column_int64 (stmt, 2), last = sqlite3_column_int64 (stmt, 3);
    gint64 joined = sqlite3_column_int64 (stmt, 4);
    /* Counted twice would show as more watched time than the session spans. */
    if (watched > last - joined)
      g_error ("session %s watched %" G_GINT64_FORMAT " us in a span of %" G_GINT64_FORMAT " us",
               sqlite3_column_text (stmt, 0), watched, last - joined);
    g_hash_table_insert (rows,
                         g_strdup_printf ("%s %" G_GINT64_FORMAT, sqlite3_column_text (stmt, 0),
                                          (gint64) sqlite3_column_int64 (stmt, 1)),
                         g_strdup_printf ("%" G_GINT64_FORMAT " %" G_GINT64_FORMAT, watched, last));
  }
  sqlite3_finalize (stmt);
  return rows;
}

/* SIGKILL, restart, and the attendance checks against @before (what a
 * reader saw just before the kill). */
static void
kill_and_restart (GHashTable *before)
{
  int status = kt_test_server_stop (&server, SIGKILL);
  g_assert_true (WIFSIGNALED (status));
  kills++;
  start ();

  sqlite3 *db = open_db ();
  /* Before anyone is heard again, nothing is open. */
  g_assert_cmpint (db_int (db, "SELECT count(*) FROM viewer_sessions WHERE left_us IS NULL"), ==, 0);
  g_autoptr (GHashTable) after = sessions_snapshot (db);
  sqlite3_close (db);
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init (&iter, before);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    const char *now = g_hash_table_lookup (after, key);
    if (now == NULL)
      g_error ("kill %u: session %s flushed before the kill is gone", kills, (char *) key);
    gint64 w0, l0, w1, l1;
    g_assert_cmpint (sscanf (value, "%" G_GINT64_FORMAT " %" G_GINT64_FORMAT, &w0, &l0), ==, 2);
    g_assert_cmpint (sscanf (now, "%" G_GINT64_FORMAT " %" G_GINT64_FORMAT, &w1, &l1), ==, 2);
    if (w1 < w0 || l1 < l0)
      g_error ("kill %u: session %s went back from %s to %s", kills, (char *) key,
               (char *) value, now);
  }
}

/* The title /api/channels/7 says is on now. */
static char *
on_air_title (void)
{
  g_autoptr (KtTestResponse) r = call ("GET", "/api/channels/7", NULL, NULL, NULL, 0);
  g_assert_cmpuint (r->status, ==, 200);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *now = json_object_get_member (kt_test_json_object (r, parser), "now");
  g_assert_true (now != NULL && !json_node_is_null (now));
  return g_strdup (json_object_get_string_member (json_node_get_object (now), "title"));
}

/* Killed right after a flush committed, or at a random instant around one. */
static void
kill_around_flushes (void)
{
  guint n = 4;
  const char *env = g_getenv ("KETANG_CRASH_KILLS");
  if (env)
    n = MAX (1, atoi (env));
  for (guint i = 0; i < n; i++) {
    watch_for (g_random_int_range (600, 1600));
    sqlite3 *db = open_db ();
    gint64 version = db_int (db, "PRAGMA data_version");
    gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
    if (i % 2 == 0) {
      /* Wait until the next flush is in (the reader's data_version moves
       * when another connection commits). */
      gint64 next_beat = 0;
      while (db_int (db, "PRAGMA data_version") == version) {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        /* A flush writes only what changed: keep the viewers talking, or
         * one that landed just before `version` was read is the last. */
        if (g_get_monotonic_time () > next_beat) {
          beat_all ();
          next_beat = g_get_monotonic_time () + 200000;
        }
        g_usleep (2000);
      }
    } else {
      g_usleep (g_random_int_range (0, 1000000));
    }
    g_autoptr (GHashTable) before = sessions_snapshot (db);
    sqlite3_close (db);
    if (i % 2 != 0)
      g_assert_cmpuint (g_hash_table_size (before), >, 0);
    kill_and_restart (before);
    g_autofree char *title = on_air_title ();
    g_assert_cmpstr (title, ==, "太极拳入门");
  }
  /* Each viewer, one lesson: one row each, and watched time that went on
   * across the restarts. */
  watch_for (1200);
  sqlite3 *db = open_db ();
  g_usleep (1500000); /* one more flush */
  g_assert_cmpint (db_int (db, "SELECT count(*) FROM viewer_sessions"), ==, N_VIEWERS);
  g_assert_cmpint (db_int (db, "SELECT min(watched_us) FROM viewer_sessions"), >, G_USEC_PER_SEC);
  sqlite3_close (db);
}

/* The bytes of a 6 s clip, made once. */
static GBytes *
clip_bytes (void)
{
  g_autofree char *path = kt_test_make_clip (dir, "第一课.mp4", "320x240@25", "48000x2", 6);
  g_autofree char *data = NULL;
  gsize size;
  g_assert_true (g_file_get_contents (path, &data, &size, NULL));
  g_unlink (path);
  return g_bytes_new_take (g_steal_pointer (&data), size);
}

static gint64
upload_offset (const char *id, char **state)
{
  g_autofree char *path = g_strdup_printf ("/api/uploads/%s", id);
  g_autoptr (KtTestResponse) r = call_as_teacher ("GET", path, NULL, NULL, NULL, 0);
  g_assert_cmpuint (r->status, ==, 200);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = kt_test_json_object (r, parser);
  if (state)
    *state = g_strdup (json_object_get_string_member (o, "state"));
  return json_object_get_int_member (o, "offset");
}

static KtTestResponse *
send_chunk (const char *id, GBytes *file, gsize at, gsize len)
{
  g_autofree char *path = g_strdup_printf ("/api/uploads/%s", id);
  g_autofree char *offset = g_strdup_printf ("%" G_GSIZE_FORMAT, at);
  const char *extra[] = { "Upload-Offset", offset, NULL };
  const guint8 *data = g_bytes_get_data (file, NULL);
  return call_as_teacher ("PATCH", path, extra, "application/offset+octet-stream", data + at, len);
}

typedef struct {
  gboolean done;
} InFlight;

static void
on_sent (GObject *session, GAsyncResult *result, gpointer data)
{
  g_autoptr (GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (session), result, NULL);
  ((InFlight *) data)->done = TRUE;
}

/* PATCH @len bytes at @at without waiting for the answer; @flight says
 * when it ended, answered or cut off. */
static SoupMessage *
send_chunk_async (SoupSession *session, const char *id, GBytes *file, gsize at, gsize len,
                  InFlight *flight)
{
  g_autofree char *url = g_strdup_printf ("%s/api/uploads/%s", server.base, id);
  SoupMessage *msg = soup_message_new ("PATCH", url);
  SoupMessageHeaders *h = soup_message_get_request_headers (msg);
  soup_message_headers_replace (h, "Cookie", teacher.cookie);
  soup_message_headers_replace (h, "X-CSRF-Token", teacher.csrf);
  g_autofree char *offset = g_strdup_printf ("%" G_GSIZE_FORMAT, at);
  soup_message_headers_replace (h, "Upload-Offset", offset);
  g_autoptr (GBytes) bytes = g_bytes_new_from_bytes (file, at, len);
  soup_message_set_request_body_from_bytes (msg, "application/offset+octet-stream", bytes);
  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, on_sent, flight);
  return msg;
}

/* Upload, killed with a chunk in flight and again when all of it has
 * arrived; then normalization, killed with half its output on disk. */
static void
kill_during_upload_and_normalization (void)
{
  g_autoptr (GBytes) file = clip_bytes ();
  gsize size = g_bytes_get_size (file);
  const gsize chunk = 16384;
  g_assert_cmpuint (size, >, 8 * chunk);
  g_autofree char *create = g_strdup_printf (
      "{\"filename\": \"第一课.mp4\", \"title\": \"第一课\", \"size\": %" G_GSIZE_FORMAT "}", size);
  g_autoptr (KtTestResponse) created = call_as_teacher ("POST", "/api/uploads", NULL,
                                                        "application/json", create, strlen (create));
  g_assert_cmpuint (created->status, ==, 201);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autofree char *id = g_strdup (json_object_get_string_member (kt_test_json_object (created, p), "id"));

  /* Half of it, confirmed chunk by chunk. */
  gsize confirmed = 0;
  while (confirmed < size / 2) {
    g_autoptr (KtTestResponse) r = send_chunk (id, file, confirmed, chunk);
    g_assert_cmpuint (r->status, ==, 200);
    confirmed += chunk;
  }
  /* The next chunk in flight, then the kill. */
  g_autoptr (SoupSession) session = soup_session_new ();
  InFlight flight = { FALSE };
  g_autoptr (SoupMessage) msg = send_chunk_async (session, id, file, confirmed, chunk, &flight);
  for (int i = g_random_int_range (0, 4); i > 0; i--)
    g_main_context_iteration (NULL, FALSE);
  g_autoptr (GHashTable) none = g_hash_table_new (g_str_hash, g_str_equal);
  kill_and_restart (none);
  while (!flight.done)
    g_main_context_iteration (NULL, TRUE);

  /* It goes on from what the server confirms: no less than it confirmed
   * before, no more than was sent. */
  g_autofree char *state = NULL;
  gint64 offset = upload_offset (id, &state);
  g_assert_cmpstr (state, ==, "receiving");
  g_assert_cmpint (offset, >=, (gint64) confirmed);
  g_assert_cmpint (offset, <=, (gint64) (confirmed + chunk));
  gsize at = offset;
  while (at < size - chunk) {
    g_autoptr (KtTestResponse) r = send_chunk (id, file, at, chunk);
    g_assert_cmpuint (r->status, ==, 200);
    at += chunk;
  }
  /* The last chunk is answered once probed; killed before that answer. */
  {
    InFlight done = { FALSE };
    g_autoptr (SoupMessage) last = send_chunk_async (session, id, file, at, size - at, &done);
    /* Until the server holds every byte (it says "complete" then). */
    gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
    for (;;) {
      g_main_context_iteration (NULL, FALSE);
      g_autofree char *s = NULL;
      gint64 o = upload_offset (id, &s);
      if (o == (gint64) size || !g_str_equal (s, "receiving"))
        break;
      if (g_get_monotonic_time () > deadline)
        g_error ("the last chunk did not arrive: state %s offset %" G_GINT64_FORMAT, s, o);
    }
    kill_and_restart (none);
    while (!done.done)
      g_main_context_iteration (NULL, TRUE);
  }

  /* Every byte is in: it becomes an item without being sent again. */
  g_autofree char *item = NULL;
  g_autofree char *path = g_strdup_printf ("/api/uploads/%s", id);
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (item == NULL) {
    g_autoptr (KtTestResponse) r = call_as_teacher ("GET", path, NULL, NULL, NULL, 0);
    g_autoptr (JsonParser) parser = json_parser_new ();
    JsonObject *o = kt_test_json_object (r, parser);
    const char *s = json_object_get_string_member (o, "state");
    g_assert_cmpstr (s, !=, "refused");
    if (g_str_equal (s, "imported"))
      item = g_strdup (json_object_get_string_member (o, "item"));
    else
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_usleep (50000);
  }

  /* Normalization: killed once its half-made output is on disk. */
  g_autofree char *tmp_name = g_strdup_printf (".tmp-%s", item);
  g_autofree char *tmp = g_build_filename (dir, "media", tmp_name, NULL);
  g_autofree char *first = g_build_filename (tmp, "720p", "00000.ts", NULL);
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (!g_file_test (first, G_FILE_TEST_EXISTS)) {
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_usleep (5000);
  }
  g_autoptr (GHashTable) none2 = g_hash_table_new (g_str_hash, g_str_equal);
  kill_and_restart (none2);

  /* It is made again from the kept upload and ends ready, whole. */
  g_autofree char *item_path = g_strdup_printf ("/api/library/%s", item);
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  for (;;) {
    g_autoptr (KtTestResponse) r = call_as_teacher ("GET", item_path, NULL, NULL, NULL, 0);
    g_assert_cmpuint (r->status, ==, 200);
    g_autoptr (JsonParser) parser = json_parser_new ();
    JsonObject *o = kt_test_json_object (r, parser);
    const char *s = json_object_get_string_member (o, "state");
    if (g_str_equal (s, "ready")) {
      g_assert_cmpfloat (json_object_get_double_member (o, "duration_s"), ==, 6.0);
      break;
    }
    g_assert_cmpstr (s, ==, "processing");
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_usleep (100000);
  }
  g_assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
  for (guint k = 0; k < 3; k++) {
    g_autofree char *seg = g_strdup_printf ("/media/%s/720p/%u.ts", item, k);
    g_autoptr (KtTestResponse) s = call ("GET", seg, NULL, NULL, NULL, 0);
    g_assert_cmpuint (s->status, ==, 200);
    KtTestDecoded d;
    kt_test_decode (s->body, &d);
    g_assert_cmpint (d.width, ==, 1280);
    kt_test_decoded_clear (&d);
  }
  /* The kept source is gone once the item is made. */
  g_autofree char *uploads = g_build_filename (dir, "uploads", NULL);
  g_autoptr (GDir) d = g_dir_open (uploads, 0, NULL);
  g_assert_null (g_dir_read_name (d));
}

/* The timetable file changes and the server dies before, while or just
 * after it reloads: the next process airs the new version. */
static void
kill_during_schedule_reload (void)
{
  const char *titles[] = { "太极拳入门（第二讲）", "太极拳入门（第三讲）" };
  for (guint i = 0; i < G_N_ELEMENTS (titles); i++) {
    beat_all ();
    write_timetable (titles[i]);
    g_usleep (g_random_int_range (0, 1500000));
    g_autoptr (GHashTable) none = g_hash_table_new (g_str_hash, g_str_equal);
    kill_and_restart (none);
    g_autofree char *title = on_air_title ();
    g_assert_cmpstr (title, ==, titles[i]);
    watch_for (400); /* the same lesson occurrence: the same session rows */
  }
}

static void
test_crash (void)
{
  dir = kt_test_mkdtemp ();
  db_path = g_build_filename (dir, "ketang.db", NULL);
  g_autofree char *schedules = g_build_filename (dir, "schedules", NULL);
  g_assert_cmpint (g_mkdir_with_parents (schedules, 0755), ==, 0);
  schedules_env = g_strconcat ("KETANG_SERVER_SCHEDULES_DIR=", schedules, NULL);
  write_timetable ("太极拳入门");

  kt_test_user_add_cli (dir, "wang", "teacher");

  start ();
  kt_test_server_login (&server, "wang", "wang-password", &teacher);
  g_autofree char *title = on_air_title ();
  g_assert_cmpstr (title, ==, "太极拳入门");

  kill_around_flushes ();
  kill_during_upload_and_normalization ();
  kill_during_schedule_reload ();

  /* A clean stop, then the file as SQLite sees it. */
  int status = kt_test_server_stop (&server, SIGTERM);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open_v2 (db_path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  sqlite3_stmt *stmt = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 0), ==, "ok");
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  g_test_message ("%u kills", kills);
  kt_test_session_clear (&teacher);
  kt_test_rmtree (dir);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/crash/kill-and-restart", test_crash);
  return g_test_run ();
}
