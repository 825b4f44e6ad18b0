/* A timetable on air, end to end: the real server with a schedule file,
 * real items and slates made by their pipelines, and an injected clock set
 * to chosen instants around lesson boundaries. Checks what airs before,
 * inside and after lessons, that playlists stay consistent across every
 * boundary, that ffmpeg plays lesson → slate → lesson, that a restart in the
 * middle of a lesson airs exactly the same, and that editing the schedule
 * file while the channel airs is applied without disturbing the present,
 * while a broken edit leaves the last good version in force; and that a
 * player's blocking reload (_HLS_msn) is held until its segment's slot
 * begins and answered then, as hls.js expects. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "kt-clock.h"
#include "test-utils.h"

static void write_schedule (const char *text);

static char *data_dir;
static char *schedule_path;
static KtApp *app;

/* 2026-12-01 09:00:00 in Shanghai. */
#define NINE_AM (G_GINT64_CONSTANT (1796086800) * G_USEC_PER_SEC)
#define AT(s) (NINE_AM + (gint64) (s) * G_USEC_PER_SEC)

#define EVENT(uid, title, start, end, source)                                                 \
  "BEGIN:VEVENT\nUID:" uid "\nSUMMARY:" title "\nORGANIZER;CN=王老师:mailto:w@x\n"            \
  "DTSTART:20261201T" start "\nDTEND:20261201T" end "\nX-KETANG-SOURCE:" source "\nEND:VEVENT\n"

static const char timetable[] =
    "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\nX-WR-CALNAME:测试频道\nX-KETANG-CHANNEL:7\n"
    EVENT ("a", "书法", "090000", "090010", "item:lesson-a")  /* 6 s item, then slate */
    EVENT ("b", "国画", "090010", "090014", "item:lesson-b")  /* 6 s item cut at 4 s */
    EVENT ("c", "太极", "090020", "090030", "item:missing")   /* no media: a card */
    "END:VCALENDAR\n";

static void
wait_idle (void)
{
  gint64 deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  while (kt_app_busy (app) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (kt_app_busy (app));
}

/* Move the clock to @t as a running server lives through time: forward by
 * advancing (so its periodic work, such as making the next slates, runs),
 * then let what that started finish. */
static void
clock_to (gint64 t)
{
  gint64 now = kt_clock_now_us ();
  if (t > now)
    kt_clock_advance (t - now);
  else
    kt_clock_set_fake (t);
  wait_idle ();
}

static char *
playlist_at (gint64 t, const char *rendition)
{
  clock_to (t);
  g_autofree char *path = g_strdup_printf ("/live/7/%s/index.m3u8", rendition);
  g_autoptr (KtTestResponse) r = kt_test_get (app, path);
  if (r->status != 200)
    g_error ("GET %s at %" G_GINT64_FORMAT ": %u", path, t, r->status);
  return kt_test_body_text (r);
}

/* The last URI in a playlist and whether a discontinuity precedes it. */
static char *
newest (const char *text, gboolean *discontinuity)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  char *last = NULL;
  for (int i = 0; lines[i]; i++) {
    if (lines[i][0] == '/') {
      g_free (last);
      last = g_strdup (lines[i]);
      if (discontinuity)
        *discontinuity = i >= 3 && g_str_equal (lines[i - 3], "#EXT-X-DISCONTINUITY");
    }
  }
  return last;
}

static JsonObject *
channel_json (JsonParser *parser)
{
  g_autoptr (KtTestResponse) r = kt_test_get (app, "/api/channels/7");
  g_assert_cmpuint (r->status, ==, 200);
  g_autofree char *text = kt_test_body_text (r);
  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  return json_node_get_object (json_parser_get_root (parser));
}

static void
make_item (const char *id, const char *title)
{
  const char *vars[] = { "title", title, "teacher", "王老师", NULL };
  KtItemRecipe recipe = { id, "demo", title, "王老师", "demo-lesson", vars, 3 };
  g_autoptr (GError) error = NULL;
  g_assert_true (kt_library_make (kt_app_library (app), &recipe, NULL, NULL, &error));
  g_assert_no_error (error);
}

static void
test_what_airs_when (void)
{
  static const struct {
    int at;               /* seconds from 09:00 */
    const char *newest;   /* prefix of the newest segment's URI */
    gboolean boundary;    /* a discontinuity before it */
    const char *now;      /* the lesson /api says is on, or NULL for a slate */
  } cases[] = {
    { -8, "/media/slate-", FALSE, NULL },    /* before: the slate names 书法 */
    { 0, "/media/lesson-a/720p/0.ts", TRUE, "书法" },
    { 3, "/media/lesson-a/720p/1.ts", FALSE, "书法" }, /* tuning in late: minute… second 3 */
    { 6, "/media/slate-", TRUE, NULL },      /* the item ended: slate inside the slot */
    { 10, "/media/lesson-b/720p/0.ts", TRUE, "国画" },
    { 13, "/media/lesson-b/720p/1.ts", FALSE, "国画" }, /* cut at the slot's end, 14 s */
    { 14, "/media/slate-", TRUE, NULL },
    { 20, "/media/slate-", TRUE, "太极" },   /* lesson without media: its card */
    { 23, "/media/slate-", FALSE, "太极" },
    { 31, "/media/slate-", TRUE, NULL },     /* nothing further scheduled */
    { 41, "/media/slate-", TRUE, NULL },     /* the card loops every 10 s */
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *text = playlist_at (AT (cases[i].at), "720p");
    gboolean boundary = FALSE;
    g_autofree char *uri = newest (text, &boundary);
    if (!g_str_has_prefix (uri, cases[i].newest) || boundary != cases[i].boundary)
      g_error ("at 09:00%+ds: newest %s (boundary %d), expected %s (%d)", cases[i].at, uri,
               boundary, cases[i].newest, cases[i].boundary);
    g_autoptr (JsonParser) parser = json_parser_new ();
    JsonObject *ch = channel_json (parser);
    JsonNode *now = json_object_get_member (ch, "now");
    if (cases[i].now == NULL)
      g_assert_true (JSON_NODE_HOLDS_NULL (now));
    else
      g_assert_cmpstr (json_object_get_string_member (json_node_get_object (now), "title"), ==,
                       cases[i].now);
  }
  /* Before the first lesson, "next" is it. */
  clock_to (AT (-10));
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *next = json_object_get_object_member (channel_json (parser), "next");
  g_assert_cmpstr (json_object_get_string_member (next, "title"), ==, "书法");
  g_assert_cmpstr (json_object_get_string_member (next, "start"), ==, "2026-12-01T09:00:00+08:00");
}

/* Walking 2 s at a time across all the boundaries, every playlist continues
 * the previous one: the same segments under the same numbers, each keeping
 * its discontinuity sequence number. */
static void
test_playlists_continue_across_boundaries (void)
{
  KtTestPlaylist prev = { 0 };
  for (int s = -20; s <= 44; s += 2) {
    g_autofree char *text = playlist_at (AT (s), "360p");
    KtTestPlaylist cur = { 0 };
    kt_test_playlist_parse (text, &cur);
    g_assert_cmpuint (cur.uris->len, ==, 6);
    g_assert_cmpuint (cur.msn, ==, AT (s) / (2 * G_USEC_PER_SEC) - 5);
    if (prev.uris != NULL) {
      g_assert_cmpuint (cur.msn, ==, prev.msn + 1);
      guint64 prev_dn = prev.dsn, cur_dn = cur.dsn;
      for (guint i = 0; i < cur.uris->len - 1; i++) {
        g_assert_cmpstr (cur.uris->pdata[i], ==, prev.uris->pdata[i + 1]);
        prev_dn += g_array_index (prev.discontinuity, gboolean, i + 1);
        cur_dn += g_array_index (cur.discontinuity, gboolean, i);
        if (i == 0)
          prev_dn += g_array_index (prev.discontinuity, gboolean, 0);
        g_assert_cmpuint (prev_dn, ==, cur_dn);
      }
      kt_test_playlist_clear (&prev);
    }
    prev = cur;
  }
  kt_test_playlist_clear (&prev);
}

/* ffmpeg plays the window lesson → slate → lesson without an error. */
static void
test_ffmpeg_plays_boundaries (void)
{
  if (!kt_test_have_ffmpeg ()) {
    g_test_skip ("ffmpeg is not installed");
    return;
  }
  /* At 09:00:13 the window is A1 A2 slate slate B0 B1. */
  kt_clock_set_fake (AT (13));
  kt_test_ffmpeg_reads (app, "/live/7/720p/index.m3u8", 11);
  kt_test_ffmpeg_reads (app, "/live/7/audio/index.m3u8", 11);
}

typedef struct {
  gboolean done;
  guint status;
  char *body;
} Held;

static void
on_held_answered (GObject *session, GAsyncResult *result, gpointer data)
{
  Held *held = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (session), result,
                                                               &error);
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (session), result);
  held->status = body ? soup_message_get_status (msg) : 0;
  held->body = body ? g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body)) : NULL;
  held->done = TRUE;
}

/* Send GET @path without waiting for the answer (it lands in @held). */
static void
get_async (SoupSession *session, const char *path, GCancellable *cancellable, Held *held)
{
  g_autofree char *base = g_strdup (kt_app_base_uri (app));
  base[strlen (base) - 1] = '\0';
  g_autofree char *url = g_strconcat (base, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, cancellable,
                                    on_held_answered, held);
}

/* Run the server's loop for @ms of real time, or until @held is answered. */
static void
run_for (guint ms, Held *held)
{
  gint64 deadline = g_get_monotonic_time () + ms * 1000;
  while (!(held && held->done) && g_get_monotonic_time () < deadline) {
    while (g_main_context_iteration (NULL, FALSE))
      ;
    g_usleep (5000);
  }
}

/* hls.js asks for the playlist that will list segment N+1 before it exists
 * (_HLS_msn): the server holds the request until slot N+1 begins, then
 * answers with it, so the player hears of a segment the moment it is
 * listed instead of at its next timed reload. */
static void
test_blocking_reload (void)
{
  clock_to (AT (13)); /* one second into slot N */
  gint64 n = AT (13) / (2 * G_USEC_PER_SEC);
  g_autofree char *plain = playlist_at (AT (13), "720p");
  g_assert_nonnull (strstr (plain, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES\n"));

  /* A segment already listed: answered at once. */
  g_autofree char *now_path
      = g_strdup_printf ("/live/7/720p/index.m3u8?_HLS_msn=%" G_GINT64_FORMAT, n);
  g_autoptr (KtTestResponse) at_once = kt_test_get (app, now_path);
  g_assert_cmpuint (at_once->status, ==, 200);
  g_autofree char *at_once_text = kt_test_body_text (at_once);
  g_assert_cmpstr (at_once_text, ==, plain);

  /* Too far ahead, or not a number: refused at once. */
  g_autofree char *far = g_strdup_printf ("/live/7/720p/index.m3u8?_HLS_msn=%" G_GINT64_FORMAT,
                                          n + 3);
  g_autoptr (KtTestResponse) too_far = kt_test_get (app, far);
  kt_test_assert_error (too_far, 400, "bad-request", NULL);
  g_autoptr (KtTestResponse) nan = kt_test_get (app, "/live/7/720p/index.m3u8?_HLS_msn=x1");
  kt_test_assert_error (nan, 400, "bad-request", NULL);

  /* The next segment: held while slot N airs, answered when N+1 begins. */
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree char *next = g_strdup_printf (
      "/live/7/720p/index.m3u8?token=x&_HLS_msn=%" G_GINT64_FORMAT, n + 1);
  Held held = { 0 }, gone = { 0 };
  get_async (session, next, NULL, &held);
  g_autoptr (GCancellable) leave = g_cancellable_new ();
  get_async (session, next, leave, &gone); /* this player leaves while held */
  run_for (300, &held);
  g_assert_false (held.done);
  g_cancellable_cancel (leave);
  run_for (100, &gone);
  kt_clock_advance (900 * 1000);
  run_for (200, &held);
  g_assert_false (held.done); /* 09:00:13.9: still slot N */
  kt_clock_advance (100 * 1000);
  run_for (5000, &held);
  g_assert_true (held.done);
  g_assert_cmpuint (held.status, ==, 200);
  g_auto (KtTestPlaylist) p = { 0 };
  kt_test_playlist_parse (held.body, &p);
  g_assert_cmpuint (p.msn + p.uris->len - 1, ==, n + 1);
  g_free (held.body);
  g_assert_true (gone.done);
  g_assert_cmpuint (gone.status, ==, 0);

  /* The server goes on serving. */
  g_autoptr (KtTestResponse) after = kt_test_get (app, "/live/7/720p/index.m3u8");
  g_assert_cmpuint (after->status, ==, 200);
}

/* What a viewer fetches, from a thread of its own while the test (the
 * server's main thread) waits without running its loop. */
typedef struct {
  char *base;
  const char *paths[3];
  guint status[3];
  GBytes *bodies[3];
} Fetches;

static gpointer
fetch_all (gpointer data)
{
  Fetches *f = data;
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_main_context_push_thread_default (context);
  g_autoptr (SoupSession) session = soup_session_new_with_options ("timeout", 10, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (f->paths) && f->paths[i]; i++) {
    g_autofree char *url = g_strconcat (f->base, f->paths[i], NULL);
    g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
    f->bodies[i] = soup_session_send_and_read (session, msg, NULL, NULL);
    f->status[i] = f->bodies[i] ? soup_message_get_status (msg) : 0;
  }
  g_main_context_pop_thread_default (context);
  return NULL;
}

/* Viewers' requests (the current playlist, ready segments) are answered by
 * the HTTP serving threads on their own: a main thread busy with something
 * long (a report over a year, a burst of heartbeats) does not stall the
 * picture. Here the main thread does not run at all while a viewer reloads
 * the playlist and fetches a segment. */
static void
test_viewers_served_while_main_busy (void)
{
  g_autofree char *text = playlist_at (AT (3), "720p");
  g_autofree char *segment = newest (text, NULL);
  g_autoptr (KtTestResponse) first = kt_test_get (app, segment);
  g_assert_cmpuint (first->status, ==, 200);

  Fetches f = { .paths = { "/live/7/720p/index.m3u8", segment, NULL } };
  f.base = g_strdup (kt_app_base_uri (app));
  f.base[strlen (f.base) - 1] = '\0';
  GThread *viewer = g_thread_new ("viewer", fetch_all, &f);
  g_thread_join (viewer); /* the main loop does not run meanwhile */

  g_assert_cmpuint (f.status[0], ==, 200);
  g_autofree char *again = g_strndup (g_bytes_get_data (f.bodies[0], NULL),
                                      g_bytes_get_size (f.bodies[0]));
  g_assert_cmpstr (again, ==, text);
  g_assert_cmpuint (f.status[1], ==, 200);
  g_assert_true (g_bytes_equal (f.bodies[1], first->body));
  for (guint i = 0; i < 2; i++)
    g_bytes_unref (f.bodies[i]);
  g_free (f.base);
}

static void
start_app (void)
{
  g_autofree char *schedules = g_build_filename (data_dir, "schedules", NULL);
  g_autofree char *setting = g_strconcat ("server.schedules_dir=", schedules, NULL);
  const char *settings[] = { setting, NULL };
  app = kt_test_app_start (data_dir, FALSE, settings);
}

/* Stopped and started again in the middle of a lesson, the server airs
 * exactly what it aired: same segments, same numbers. */
static void
test_restart_mid_lesson (void)
{
  g_autofree char *before = playlist_at (AT (3), "720p");
  kt_app_free (app);
  start_app ();
  wait_idle ();
  g_autofree char *after = playlist_at (AT (3), "720p");
  g_assert_cmpstr (before, ==, after);
}

static void
test_guide_and_feed (void)
{
  kt_clock_set_fake (AT (3));
  g_autoptr (KtTestResponse) r =
      kt_test_get (app, "/api/channels/7/guide?from=2026-12-01&to=2026-12-02");
  g_assert_cmpuint (r->status, ==, 200);
  g_autofree char *text = kt_test_body_text (r);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  JsonArray *lessons = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "lessons");
  g_assert_cmpuint (json_array_get_length (lessons), ==, 3);
  const char *states[] = { "on-air", "upcoming", "upcoming" };
  const char *titles[] = { "书法", "国画", "太极" };
  for (guint i = 0; i < 3; i++) {
    JsonObject *o = json_array_get_object_element (lessons, i);
    g_assert_cmpstr (json_object_get_string_member (o, "state"), ==, states[i]);
    JsonObject *l = json_object_get_object_member (o, "lesson");
    g_assert_cmpstr (json_object_get_string_member (l, "title"), ==, titles[i]);
    g_assert_cmpstr (json_object_get_string_member (l, "teacher"), ==, "王老师");
  }
  g_autoptr (KtTestResponse) bad = kt_test_get (app, "/api/channels/7/guide?from=yesterday");
  g_assert_cmpuint (bad->status, ==, 400);

  g_autoptr (KtTestResponse) feed = kt_test_get (app, "/schedule/7.ics");
  g_assert_cmpuint (feed->status, ==, 200);
  g_assert_cmpstr (soup_message_headers_get_content_type (feed->headers, NULL), ==, "text/calendar");
  g_autofree char *ics = kt_test_body_text (feed);
  g_assert_nonnull (strstr (ics, "SUMMARY:书法"));
  g_assert_nonnull (strstr (ics, "DTSTART:20261201T010000Z")); /* 09:00 Shanghai */
  g_assert_nonnull (strstr (ics, "LOCATION:测试频道"));
  g_autoptr (KtTestResponse) all = kt_test_get (app, "/schedule/all.ics");
  g_assert_cmpuint (all->status, ==, 200);
}

/* A teacher puts a lesson on the timetable from the API: the file gains one
 * VEVENT and keeps every other byte; the guide shows the weekly series at
 * once; an overlapping lesson is refused and leaves the file alone. */
static void
test_schedule_from_api (void)
{
  clock_to (AT (3));
  g_autofree char *before = NULL;
  g_assert_true (g_file_get_contents (schedule_path, &before, NULL, NULL));
  g_auto (KtTestSession) teacher = { 0 };
  kt_test_session_open (app, "wang", "teacher", &teacher);
  const char *body = "{\"channel\": \"7\", \"item\": \"lesson-b\", \"title\": \"国画（加课）\", "
                     "\"start\": \"2026-12-01T10:00:00\", \"weekly_until\": \"2026-12-22\"}";

  g_autoptr (KtTestResponse) anonymous = kt_test_request_body (app, "POST", "/api/lessons", NULL,
                                                               "application/json", body);
  g_assert_cmpuint (anonymous->status, ==, 401);
  const char *no_csrf_headers[] = { "Cookie", teacher.cookie, NULL };
  g_autoptr (KtTestResponse) no_csrf = kt_test_request_body (app, "POST", "/api/lessons",
                                                             no_csrf_headers, "application/json", body);
  g_assert_cmpuint (no_csrf->status, ==, 403);

  /* lesson-b is not this teacher's lecture: not theirs to schedule. */
  g_autoptr (KtTestResponse) not_theirs = kt_test_request_as (app, &teacher, "POST", "/api/lessons",
                                                              "application/json", body);
  g_assert_cmpuint (not_theirs->status, ==, 404);
  g_auto (KtTestSession) admin = { 0 };
  kt_test_session_open (app, "boss", "admin", &admin);
  g_autoptr (KtTestResponse) r = kt_test_request_as (app, &admin, "POST", "/api/lessons",
                                                     "application/json", body);
  g_assert_cmpuint (r->status, ==, 201);
  g_autofree char *after = NULL;
  g_assert_true (g_file_get_contents (schedule_path, &after, NULL, NULL));
  const char *end = strstr (before, "END:VCALENDAR");
  g_assert_true (strncmp (before, after, end - before) == 0); /* all before it, byte for byte */
  g_assert_true (g_str_has_suffix (after, "END:VCALENDAR\n"));
  g_assert_nonnull (strstr (after, "SUMMARY:国画（加课）"));
  g_assert_nonnull (strstr (after, "DTSTART;TZID=Asia/Shanghai:20261201T100000"));
  g_assert_nonnull (strstr (after, "RRULE:FREQ=WEEKLY;UNTIL="));
  g_assert_nonnull (strstr (after, "X-KETANG-SOURCE:item:lesson-b"));

  /* Weekly: on in the guide three weeks later, at 10:00 for 6 s → 1 minute. */
  g_autoptr (KtTestResponse) guide =
      kt_test_get (app, "/api/channels/7/guide?from=2026-12-22&to=2026-12-23");
  g_autofree char *guide_text = kt_test_body_text (guide);
  g_assert_nonnull (strstr (guide_text, "\"start\":\"2026-12-22T10:00:00+08:00\",\"end\":\"2026-12-22T10:01:00+08:00\""));

  /* Overlapping lesson A (09:00–09:00:10): refused, file untouched. */
  g_autoptr (KtTestResponse) clash = kt_test_request_as (
      app, &admin, "POST", "/api/lessons", "application/json",
      "{\"channel\": \"7\", \"item\": \"lesson-b\", \"start\": \"2026-12-01T09:00:05\"}");
  g_assert_cmpuint (clash->status, ==, 409);
  g_autofree char *clash_text = kt_test_body_text (clash);
  g_assert_nonnull (strstr (clash_text, "overlaps"));
  g_autofree char *unchanged = NULL;
  g_assert_true (g_file_get_contents (schedule_path, &unchanged, NULL, NULL));
  g_assert_cmpstr (unchanged, ==, after);

  g_autoptr (KtTestResponse) no_item = kt_test_request_as (
      app, &admin, "POST", "/api/lessons", "application/json",
      "{\"channel\": \"7\", \"item\": \"nothing\", \"start\": \"2026-12-02T09:00:00\"}");
  g_assert_cmpuint (no_item->status, ==, 404);
  g_autoptr (KtTestResponse) bad_time = kt_test_request_as (
      app, &admin, "POST", "/api/lessons", "application/json",
      "{\"channel\": \"7\", \"item\": \"lesson-b\", \"start\": \"next tuesday\"}");
  g_assert_cmpuint (bad_time->status, ==, 400);

  /* Restore the file the other tests expect. */
  write_schedule (before);
  kt_app_reload_schedules (app);
}

static void
write_schedule (const char *text)
{
  /* As editors do: write a temporary file, then rename it over. */
  g_assert_true (g_file_set_contents (schedule_path, text, -1, NULL));
}

static gboolean
guide_has (const char *title)
{
  g_autoptr (KtTestResponse) r =
      kt_test_get (app, "/api/channels/7/guide?from=2026-12-01&to=2026-12-02");
  g_autofree char *text = kt_test_body_text (r);
  g_autofree char *needle = g_strdup_printf ("\"title\":\"%s\"", title);
  return strstr (text, needle) != NULL;
}

/* Edit the file while lesson A airs: the watcher applies it within seconds;
 * what airs now is untouched; the future shows the edit. Then a broken edit
 * is reported with its line and the last good version stays in force. */
static void
test_reload_while_airing (void)
{
  g_autofree char *before = playlist_at (AT (3), "720p");
  GString *edited = g_string_new (timetable);
  g_string_replace (edited, "SUMMARY:太极", "SUMMARY:太极拳（改）", 1);
  g_string_replace (edited, "END:VCALENDAR\n",
                    EVENT ("d", "时事", "090100", "090200", "item:lesson-a") "END:VCALENDAR\n", 1);
  write_schedule (edited->str);
  g_string_free (edited, TRUE);

  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!guide_has ("时事") && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE), g_usleep (20000);
  g_assert_true (guide_has ("时事"));
  g_assert_true (guide_has ("太极拳（改）"));
  g_autofree char *after = playlist_at (AT (3), "720p");
  g_assert_cmpstr (before, ==, after);

  /* A broken edit: an event with its end before its start on line 14. */
  write_schedule ("BEGIN:VCALENDAR\nVERSION:2.0\nX-KETANG-CHANNEL:7\n"
                  EVENT ("x", "坏", "100000", "090000", "item:lesson-a") "END:VCALENDAR\n");
  g_test_expect_message ("kt-timetable", G_LOG_LEVEL_WARNING, "*ends before it starts*");
  kt_app_reload_schedules (app);
  g_test_assert_expected_messages ();
  g_assert_true (guide_has ("时事")); /* still the last good version */
  /* The status names files on the server: administrators only. */
  g_autoptr (KtTestResponse) anonymous = kt_test_get (app, "/api/schedules");
  g_assert_cmpuint (anonymous->status, ==, 401);
  g_auto (KtTestSession) admin = { 0 };
  kt_test_session_open (app, "admin", "admin", &admin);
  g_autoptr (KtTestResponse) r = kt_test_request_as (app, &admin, "GET", "/api/schedules", NULL, NULL);
  g_assert_cmpuint (r->status, ==, 200);
  g_autofree char *status = kt_test_body_text (r);
  g_autofree char *where = g_strdup_printf ("%s:9: “坏” ends before it starts", schedule_path);
  if (strstr (status, where) == NULL)
    g_error ("status lacks “%s”: %s", where, status);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  data_dir = kt_test_mkdtemp ();
  g_autofree char *schedules = g_build_filename (data_dir, "schedules", NULL);
  g_mkdir_with_parents (schedules, 0755);
  schedule_path = g_build_filename (schedules, "7.ics", NULL);
  write_schedule (timetable);
  kt_clock_set_fake (AT (-30));
  start_app ();
  make_item ("lesson-a", "书法");
  wait_idle ();
  make_item ("lesson-b", "国画");
  wait_idle ();

  g_test_add_func ("/airing/what-airs-when", test_what_airs_when);
  g_test_add_func ("/airing/playlists-continue-across-boundaries",
                   test_playlists_continue_across_boundaries);
  g_test_add_func ("/airing/ffmpeg-plays-boundaries", test_ffmpeg_plays_boundaries);
  g_test_add_func ("/airing/restart-mid-lesson", test_restart_mid_lesson);
  g_test_add_func ("/airing/guide-and-feed", test_guide_and_feed);
  g_test_add_func ("/airing/schedule-from-api", test_schedule_from_api);
  g_test_add_func ("/airing/reload-while-airing", test_reload_while_airing);
  g_test_add_func ("/airing/blocking-reload", test_blocking_reload);
  g_test_add_func ("/airing/viewers-served-while-main-busy", test_viewers_served_while_main_busy);
  int rc = g_test_run ();
  kt_app_free (app);
  kt_test_rmtree (data_dir);
  return rc;
}
