/* kt-http-api: the JSON API for players and scripts, and /healthz.
 *
 *   GET /api/channels        every channel with its state and now/next
 *   GET /api/channels/<id>   one channel
 *   GET /healthz             liveness for monitors and load balancers
 *
 * Times are ISO 8601 in the server's time zone ([server] timezone), the way
 * a viewer reads them; offset_s is how far into the lesson the channel is.
 */
#define G_LOG_DOMAIN "kt-http"

#include "kt-http.h"
#include "kt-build-config.h"
#include "kt-clock.h"

static void
add_time (JsonBuilder *b, const char *name, gint64 us, GTimeZone *tz)
{
  g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);
  g_autoptr (GDateTime) local = g_date_time_to_timezone (utc, tz);
  g_autofree char *text = g_date_time_format (local, "%Y-%m-%dT%H:%M:%S%:z");
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, text);
}

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
  json_builder_set_member_name (b, "item");
  json_builder_add_string_value (b, airing->item_id);
  add_time (b, "start", airing->start_us, tz);
  add_time (b, "end", airing->end_us, tz);
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
  gboolean on_air = kt_channel_airing_at (channel, now_us, &now);
  gboolean has_next = on_air && kt_channel_airing_at (channel, now.end_us, &next);

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
  add_airing (b, "now", on_air ? &now : NULL, TRUE, tz);
  add_airing (b, "next", has_next ? &next : NULL, FALSE, tz);
  json_builder_end_object (b);
}

void
kt_http_api_handle (KtApp *app, KtRequest *request)
{
  SoupServerMessage *msg = request->msg;
  gint64 now_us = kt_clock_now_us ();

  if (request->n_parts >= 1 && g_str_equal (request->parts[0], "channels")) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    if (request->n_parts == 1) {
      GPtrArray *channels = kt_app_channels (app);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "channels");
      json_builder_begin_array (b);
      for (guint i = 0; i < channels->len; i++)
        add_channel (b, app, channels->pdata[i], now_us);
      json_builder_end_array (b);
      json_builder_end_object (b);
    } else if (request->n_parts == 2) {
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
