/* kt-http-api: the JSON API for players and scripts, and /healthz.
 *
 *   GET /api/channels                     every channel with its state and now/next
 *   GET /api/channels/<id>                one channel
 *   GET /api/channels/<id>/guide?from=&to=  its lessons in a range (default: today)
 *   GET /api/schedules                    each timetable file: in force, or its problems
 *                                         (administrators: it names files on the server)
 *   GET /api/items/<id>                   a ready lesson's title, teacher, length (for replay)
 *   GET /healthz                          liveness for monitors and load balancers
 *
 * Times are ISO 8601 in the server's time zone ([server] timezone), the way
 * a viewer reads them; offset_s is how far into the lesson the channel is.
 */
#define G_LOG_DOMAIN "kt-http"

#include "kt-http.h"
#include "kt-build-config.h"
#include "kt-clock.h"

static void
add_airing (JsonBuilder *b, const char *name, const KtAiring *airing, gboolean with_offset,
            GTimeZone *tz)
{
  json_builder_set_member_name (b, name);
  if (airing == NULL) {
    json_builder_add_null_value (b);
    return;
  }
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "title");
  json_builder_add_string_value (b, airing->title);
  json_builder_set_member_name (b, "teacher");
  json_builder_add_string_value (b, airing->teacher);
  json_builder_set_member_name (b, "description");
  json_builder_add_string_value (b, airing->description);
  json_builder_set_member_name (b, "source");
  json_builder_add_string_value (b, airing->source);
  kt_http_add_time (b, "start", airing->start_us, tz);
  kt_http_add_time (b, "end", airing->end_us, tz);
  if (with_offset) {
    json_builder_set_member_name (b, "offset_s");
    json_builder_add_double_value (b, airing->offset_us / 1e6);
  }
  json_builder_end_object (b);
}

static void
add_channel (JsonBuilder *b, KtApp *app, KtChannel *channel, gint64 now_us)
{
  GTimeZone *tz = kt_app_timezone (app);
  KtAiring now, next;
  /* "now" is the lesson on air; between lessons (a slate) it is null. */
  gboolean in_lesson = kt_channel_airing_at (channel, now_us, &now) && now.title != NULL;
  gboolean has_next = kt_channel_next_lesson (channel, now_us, &next);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, kt_channel_id (channel));
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, kt_channel_name (channel));
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, kt_channel_state_name (kt_channel_state (channel, now_us)));
  g_autofree char *url = g_strdup_printf ("/live/%s/index.m3u8", kt_channel_id (channel));
  json_builder_set_member_name (b, "playlist");
  json_builder_add_string_value (b, url);
  add_airing (b, "now", in_lesson ? &now : NULL, TRUE, tz);
  add_airing (b, "next", has_next ? &next : NULL, FALSE, tz);
  json_builder_end_object (b);
}

gboolean
kt_http_parse_range (KtApp *app, SoupServerMessage *msg, gint64 now_us, gint64 *from, gint64 *to)
{
  return kt_http_parse_range_within (app, msg, now_us, 62, from, to);
}

/* Today in the server's zone, midnight to midnight. */
static void
today (KtApp *app, gint64 now_us, gint64 *from, gint64 *to)
{
  GTimeZone *tz = kt_app_timezone (app);
  g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (now_us / G_USEC_PER_SEC);
  g_autoptr (GDateTime) local = g_date_time_to_timezone (utc, tz);
  g_autoptr (GDateTime) midnight = g_date_time_new (tz, g_date_time_get_year (local),
                                                    g_date_time_get_month (local),
                                                    g_date_time_get_day_of_month (local), 0, 0, 0);
  *from = g_date_time_to_unix (midnight) * G_USEC_PER_SEC;
  *to = *from + G_GINT64_CONSTANT (86400) * G_USEC_PER_SEC;
}

/* ?from=&to= as ISO 8601 (a date or a date and time, in the server's zone
 * when no offset is given); the default is today. */
gboolean
kt_http_parse_range_within (KtApp *app, SoupServerMessage *msg, gint64 now_us, int max_days,
                            gint64 *from, gint64 *to)
{
  GTimeZone *tz = kt_app_timezone (app);
  g_autoptr (GHashTable) query = NULL;
  const char *q = g_uri_get_query (soup_server_message_get_uri (msg));
  if (q != NULL)
    query = g_uri_parse_params (q, -1, "&", G_URI_PARAMS_NONE, NULL);
  today (app, now_us, from, to);

  const char *names[] = { "from", "to" };
  gint64 *values[] = { from, to };
  for (int i = 0; i < 2; i++) {
    const char *text = query ? g_hash_table_lookup (query, names[i]) : NULL;
    if (text == NULL)
      continue;
    g_autofree char *full = strchr (text, 'T') ? g_strdup (text) : g_strconcat (text, "T00:00:00", NULL);
    g_autoptr (GDateTime) dt = g_date_time_new_from_iso8601 (full, tz);
    if (dt == NULL) {
      kt_http_error (msg, SOUP_STATUS_BAD_REQUEST, "bad-request",
                     "%s must be an ISO 8601 date or date-time, not “%s”", names[i], text);
      return FALSE;
    }
    *values[i] = g_date_time_to_unix (dt) * G_USEC_PER_SEC;
  }
  if (*to <= *from || *to - *from > (gint64) max_days * 86400 * G_USEC_PER_SEC) {
    kt_http_error (msg, SOUP_STATUS_BAD_REQUEST, "bad-request",
                   "the range must end after it starts and span at most %d days", max_days);
    return FALSE;
  }
  return TRUE;
}

static GBytes *
guide_json (KtApp *app, KtChannel *channel, gint64 from, gint64 to, gint64 now_us)
{
  GTimeZone *tz = kt_app_timezone (app);
  g_autoptr (GArray) lessons = kt_channel_lessons_between (channel, from, to);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "channel");
  json_builder_add_string_value (b, kt_channel_id (channel));
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, kt_channel_name (channel));
  kt_http_add_time (b, "from", from, tz);
  kt_http_add_time (b, "to", to, tz);
  json_builder_set_member_name (b, "lessons");
  json_builder_begin_array (b);
  for (guint i = 0; i < lessons->len; i++) {
    KtAiring *a = &g_array_index (lessons, KtAiring, i);
    gboolean on_air = a->start_us <= now_us && now_us < a->end_us;
    a->offset_us = on_air ? now_us - a->start_us : 0;
    json_builder_begin_object (b);
    add_airing (b, "lesson", a, on_air, tz);
    json_builder_set_member_name (b, "state");
    json_builder_add_string_value (b, on_air ? "on-air" : a->end_us <= now_us ? "past" : "upcoming");
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return kt_http_json_text (root);
}

static void
handle_guide (KtApp *app, SoupServerMessage *msg, KtChannel *channel, gint64 now_us)
{
  gint64 from, to;
  if (!kt_http_parse_range (app, msg, now_us, &from, &to))
    return;
  g_autoptr (GBytes) json = guide_json (app, channel, from, to, now_us);
  kt_http_json_bytes (msg, SOUP_STATUS_OK, json);
}

GBytes *
kt_http_guide_today_json (KtApp *app, const char *channel_id)
{
  KtChannel *channel = kt_app_find_channel (app, channel_id);
  if (channel == NULL)
    return NULL;
  gint64 from, to, now_us = kt_clock_now_us ();
  today (app, now_us, &from, &to);
  return guide_json (app, channel, from, to, now_us);
}

void
kt_http_schedules_handle (KtApp *app, KtRequest *request)
{
  SoupServerMessage *msg = request->msg;
  GHashTable *status = kt_app_schedule_status (app);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "files");
  json_builder_begin_array (b);
  GHashTableIter iter;
  gpointer path, problems;
  g_hash_table_iter_init (&iter, status);
  while (g_hash_table_iter_next (&iter, &path, &problems)) {
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "file");
    json_builder_add_string_value (b, path);
    json_builder_set_member_name (b, "ok");
    json_builder_add_boolean_value (b, problems == NULL);
    json_builder_set_member_name (b, "problems");
    json_builder_add_string_value (b, problems);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  kt_http_json (msg, SOUP_STATUS_OK, root);
}

static void
handle_item (KtApp *app, SoupServerMessage *msg, const char *id)
{
  g_autoptr (KtItem) item = kt_library_get (kt_app_library (app), id);
  if (item == NULL || item->state != KT_ITEM_READY || g_str_equal (item->kind, "slate")) {
    kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such lesson");
    return;
  }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, item->id);
  json_builder_set_member_name (b, "title");
  json_builder_add_string_value (b, item->title);
  json_builder_set_member_name (b, "teacher");
  json_builder_add_string_value (b, item->teacher);
  json_builder_set_member_name (b, "duration_s");
  json_builder_add_double_value (b, item->duration_us / 1e6);
  g_autofree char *playlist = g_strdup_printf ("/watch/%s/index.m3u8", item->id);
  json_builder_set_member_name (b, "playlist");
  json_builder_add_string_value (b, playlist);
  kt_http_add_poster (b, app, item);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  kt_http_json (msg, SOUP_STATUS_OK, root);
}

GBytes *
kt_http_channels_json (KtApp *app)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  GPtrArray *channels = kt_app_channels (app);
  gint64 now_us = kt_clock_now_us ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "channels");
  json_builder_begin_array (b);
  for (guint i = 0; i < channels->len; i++)
    add_channel (b, app, channels->pdata[i], now_us);
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return kt_http_json_text (root);
}

void
kt_http_api_handle (KtApp *app, KtRequest *request)
{
  SoupServerMessage *msg = request->msg;
  gint64 now_us = kt_clock_now_us ();

  if (request->n_parts == 2 && g_str_equal (request->parts[0], "items")) {
    handle_item (app, msg, request->parts[1]);
    return;
  }
  if (request->n_parts == 3 && g_str_equal (request->parts[0], "channels") &&
      g_str_equal (request->parts[2], "guide")) {
    KtChannel *channel = kt_app_find_channel (app, request->parts[1]);
    if (channel == NULL)
      kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such channel");
    else
      handle_guide (app, msg, channel, now_us);
    return;
  }

  if (request->n_parts == 1 && g_str_equal (request->parts[0], "channels")) {
    g_autoptr (GBytes) json = kt_http_channels_json (app);
    kt_http_json_bytes (msg, SOUP_STATUS_OK, json);
    return;
  }
  if (request->n_parts >= 1 && g_str_equal (request->parts[0], "channels")) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    if (request->n_parts == 2) {
      KtChannel *channel = kt_app_find_channel (app, request->parts[1]);
      if (channel == NULL) {
        kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such channel");
        return;
      }
      add_channel (b, app, channel, now_us);
    } else {
      kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such API");
      return;
    }
    g_autoptr (JsonNode) root = json_builder_get_root (b);
    kt_http_json (msg, SOUP_STATUS_OK, root);
    return;
  }
  kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such API");
}

void
kt_http_healthz_handle (KtApp *app, KtRequest *request)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, "ok");
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, KT_VERSION);
  json_builder_set_member_name (b, "channels");
  json_builder_add_int_value (b, kt_app_channels (app)->len);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  kt_http_json (request->msg, SOUP_STATUS_OK, root);
}
