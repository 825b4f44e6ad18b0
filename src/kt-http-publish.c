/* kt-http-publish: what a teacher needs to go live, for teachers and
 * administrators.
 *
 *   GET  /api/live/key   {"created": ISO time or null, "srt_url": "srt://HOST:PORT",
 *                         "streamid": "<talk>/<key>"}
 *   POST /api/live/key   make a new key (the old one stops working):
 *                        201 {"key", "created", "srt_url", "streamid"}
 *
 *   GET  /api/live/talks {"talks": [{input, channel, title, start, end, state, publisher,
 *                         item, segments, error, note}], "events": [{input, channel,
 *                         lesson_start, kind, message, at}]}: live talks since the
 *                         server started, and the last 100 things that happened to
 *                         talks (went live, dropped, refused, fallback, recorded)
 *
 * The key is in the answer to POST only: the database keeps its hash, so a
 * teacher who lost it makes a new one. "streamid" shows the form OBS's
 * "Stream ID" field takes, with the placeholders <talk> (the name after
 * live: in the timetable) and <key>; "srt_url" names this server as the
 * browser reached it and the SRT port from [live] srt_listen.
 */
#define G_LOG_DOMAIN "kt-http"

#include "kt-http.h"
#include "kt-live.h"

/* "srt://HOST:PORT" for a publisher that reached us at the request's host,
 * or NULL when SRT is off. */
static char *
srt_url (KtApp *app, SoupServerMessage *msg)
{
  const char *listen = kt_config_get_string (kt_app_config (app), "live", "srt_listen");
  const char *colon = listen ? strrchr (listen, ':') : NULL;
  if (colon == NULL)
    return NULL;
  const char *host = g_uri_get_host (soup_server_message_get_uri (msg));
  gboolean v6 = host && strchr (host, ':');
  return g_strdup_printf ("srt://%s%s%s:%s", v6 ? "[" : "", host ? host : "127.0.0.1",
                          v6 ? "]" : "", colon + 1);
}

static void
answer_key (KtApp *app, SoupServerMessage *msg, guint status, const char *key, gint64 created_us)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  if (key) {
    json_builder_set_member_name (b, "key");
    json_builder_add_string_value (b, key);
  }
  if (created_us > 0) {
    kt_http_add_time (b, "created", created_us, kt_app_timezone (app));
  } else {
    json_builder_set_member_name (b, "created");
    json_builder_add_null_value (b);
  }
  g_autofree char *url = srt_url (app, msg);
  json_builder_set_member_name (b, "srt_url");
  if (url)
    json_builder_add_string_value (b, url);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "streamid");
  json_builder_add_string_value (b, "<talk>/<key>");
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  kt_http_json (msg, status, root);
}

static void
key_handle (KtApp *app, KtRequest *request)
{
  SoupServerMessage *msg = request->msg;
  g_autoptr (GError) error = NULL;
  if (g_str_equal (soup_server_message_get_method (msg), "POST")) {
    g_autofree char *key = kt_auth_publish_key_rotate (kt_app_auth (app), request->user, &error);
    if (key == NULL) {
      kt_http_error_from_gerror (msg, error);
      return;
    }
    gint64 created = 0;
    kt_auth_publish_key_created (kt_app_auth (app), request->user, &created, NULL);
    answer_key (app, msg, SOUP_STATUS_CREATED, key, created);
    memset (key, 0, strlen (key));
    return;
  }
  gint64 created = 0;
  if (!kt_auth_publish_key_created (kt_app_auth (app), request->user, &created, &error)
      && !g_error_matches (error, KT_AUTH_ERROR, KT_AUTH_ERROR_NOT_FOUND)) {
    kt_http_error_from_gerror (msg, error);
    return;
  }
  answer_key (app, msg, SOUP_STATUS_OK, NULL, created);
}

static void
add_string_or_null (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
add_events (KtApp *app, JsonBuilder *b)
{
  GTimeZone *tz = kt_app_timezone (app);
  json_builder_set_member_name (b, "events");
  json_builder_begin_array (b);
  sqlite3_stmt *stmt = kt_store_prepare (
      kt_app_store (app),
      "SELECT input, channel, lesson_start_us, kind, message, at_us FROM live_events "
      "ORDER BY id DESC LIMIT 100",
      NULL);
  while (stmt && sqlite3_step (stmt) == SQLITE_ROW) {
    json_builder_begin_object (b);
    add_string_or_null (b, "input", (const char *) sqlite3_column_text (stmt, 0));
    add_string_or_null (b, "channel", (const char *) sqlite3_column_text (stmt, 1));
    kt_http_add_time (b, "lesson_start", sqlite3_column_int64 (stmt, 2), tz);
    add_string_or_null (b, "kind", (const char *) sqlite3_column_text (stmt, 3));
    add_string_or_null (b, "message", (const char *) sqlite3_column_text (stmt, 4));
    kt_http_add_time (b, "at", sqlite3_column_int64 (stmt, 5), tz);
    json_builder_end_object (b);
  }
  if (stmt)
    sqlite3_reset (stmt);
  json_builder_end_array (b);
}

static void
talks_handle (KtApp *app, KtRequest *request)
{
  GTimeZone *tz = kt_app_timezone (app);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "talks");
  json_builder_begin_array (b);
  g_autoptr (GArray) talks = kt_app_live (app) ? kt_live_talks (kt_app_live (app))
                                               : g_array_new (FALSE, TRUE, sizeof (KtLiveTalkInfo));
  for (guint i = 0; i < talks->len; i++) {
    const KtLiveTalkInfo *t = &g_array_index (talks, KtLiveTalkInfo, i);
    json_builder_begin_object (b);
    add_string_or_null (b, "input", t->input);
    add_string_or_null (b, "channel", t->channel);
    add_string_or_null (b, "title", t->title);
    kt_http_add_time (b, "start", t->start_us, tz);
    kt_http_add_time (b, "end", t->end_us, tz);
    add_string_or_null (b, "state", kt_live_talk_state_name (t->state));
    add_string_or_null (b, "publisher", t->publisher);
    add_string_or_null (b, "item", t->item_id);
    json_builder_set_member_name (b, "segments");
    json_builder_add_int_value (b, t->segments);
    add_string_or_null (b, "error", t->error);
    add_string_or_null (b, "note", t->note);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  add_events (app, b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  kt_http_json (request->msg, SOUP_STATUS_OK, root);
}

void
kt_http_publish_handle (KtApp *app, KtRequest *request)
{
  if (request->n_parts == 1 && g_str_equal (request->parts[0], "talks")
      && !g_str_equal (soup_server_message_get_method (request->msg), "POST")) {
    talks_handle (app, request);
    return;
  }
  if (request->n_parts == 1 && g_str_equal (request->parts[0], "key")) {
    key_handle (app, request);
    return;
  }
  kt_http_error (request->msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such resource");
}
