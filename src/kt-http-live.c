/* kt-http-live: what players fetch.
 *
 *   /live/<channel>/index.m3u8              master playlist (every rendition)
 *   /live/<channel>/<rendition>/index.m3u8  the live window, from kt-channel
 *   /media/<item>/<rendition>/<n>.ts        a segment of a library item
 *
 * A channel's playlists point at library segments by their own, permanent
 * URL: the same bytes aired on any channel, at any time, or replayed later
 * have one URL, so an HTTP cache in front of ketang fetches each segment once
 * and keeps it ("immutable"). Playlists change every segment, so they may be
 * cached for one second: enough for an edge to collapse a crowd's reloads
 * into one origin request, short enough to keep the live edge fresh.
 *
 * Segment bytes come from the segment store (mapped files), so the handler
 * does no read on the main loop once a segment is warm.
 *
 * Players without JavaScript (VLC, a TV box given the kiosk playlist URL
 * /live/<channel>/index.m3u8?token=…) send no heartbeats, so their playlist
 * requests count instead: the master playlist copies its query string onto
 * every variant URL, and each variant playlist request that carries a
 * viewing point's token is a "playing" heartbeat for that room. A player
 * reloads the live playlist every segment (2 s), so presence is as fine as
 * heartbeats, and watched time is credited by kt-attendance's rules (the
 * time since the previous beat, at most twice the heartbeat interval). A
 * wrong or retired token is ignored here, never refused: the stream is
 * public, only the counting needs the token. The token is looked up in
 * kt-viewpoint's cache (a reload every 2 s per player would otherwise be a
 * database lookup each), which forgets at any change to a room, so a
 * rotated token or a disabled room stops counting with the next reload.
 */
#define G_LOG_DOMAIN "kt-http"

#include "kt-http.h"
#include "kt-clock.h"
#include "kt-viewpoint.h"

#define PLAYLIST_TYPE "application/vnd.apple.mpegurl"
#define PLAYLIST_CACHE "public, max-age=1"
#define SEGMENT_CACHE "public, max-age=31536000, immutable"

static void
allow_any_origin (SoupServerMessage *msg)
{
  /* Players on other origins (a county portal embedding the stream). */
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Access-Control-Allow-Origin", "*");
}

static void
not_on_air (SoupServerMessage *msg, KtChannel *channel)
{
  KtChannelState state = kt_channel_state (channel, kt_clock_now_us ());
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                "2");
  if (state == KT_CHANNEL_STATE_PREPARING)
    kt_http_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "preparing",
                   "channel %s is being prepared", kt_channel_id (channel));
  else
    kt_http_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "off-air", "channel %s is off air",
                   kt_channel_id (channel));
}

/* A player is known by its address, its User-Agent and its query (the
 * token or viewer id a player carries): see kt-metrics.c. */
static void
count_viewer (KtApp *app, SoupServerMessage *msg, KtChannel *channel,
              const KtRendition *rendition)
{
  const char *host = soup_server_message_get_remote_host (msg);
  const char *agent = soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "User-Agent");
  const char *query = g_uri_get_query (soup_server_message_get_uri (msg));
  g_autofree char *client = g_strjoin ("\n", host ? host : "", agent ? agent : "",
                                       query ? query : "", NULL);
  kt_metrics_viewer_seen (kt_app_metrics (app), kt_channel_id (channel), rendition->name, client,
                          kt_clock_now_us ());
}

/* A variant playlist request with ?token= of an enabled viewing point is a
 * heartbeat: the room is there and playing. */
static void
count_presence (KtApp *app, SoupServerMessage *msg, KtChannel *channel)
{
  const char *q = g_uri_get_query (soup_server_message_get_uri (msg));
  if (q == NULL || strstr (q, "token=") == NULL || kt_app_attendance (app) == NULL)
    return;
  g_autoptr (GHashTable) query = g_uri_parse_params (q, -1, "&", G_URI_PARAMS_NONE, NULL);
  const char *token = query ? g_hash_table_lookup (query, "token") : NULL;
  if (token == NULL)
    return;
  g_autoptr (KtViewpoint) v = kt_viewpoint_cache_find_token (kt_app_viewpoints (app), token, NULL);
  if (v == NULL || v->disabled)
    return;
  KtHeartbeat hb = { .viewpoint_id = v->id, .name = v->name, .state = KT_PLAY_PLAYING,
                     .headcount = -1 };
  kt_attendance_heartbeat (kt_app_attendance (app), channel, &hb, kt_clock_now_us ());
}

void
kt_http_live_handle (KtApp *app, KtRequest *request)
{
  SoupServerMessage *msg = request->msg;
  KtChannel *channel = request->n_parts >= 2 ? kt_app_find_channel (app, request->parts[0]) : NULL;

  if (channel == NULL) {
    kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such channel");
    return;
  }
  allow_any_origin (msg);

  if (request->n_parts == 2 && g_str_equal (request->parts[1], "index.m3u8")) {
    if (kt_channel_state (channel, kt_clock_now_us ()) != KT_CHANNEL_STATE_ON_AIR) {
      not_on_air (msg, channel);
      return;
    }
    const char *query = g_uri_get_query (soup_server_message_get_uri (msg));
    g_autofree char *text = kt_hls_master_write (query);
    g_autoptr (GBytes) bytes = g_bytes_new_take (text, strlen (text));
    text = NULL;
    kt_http_bytes (msg, bytes, PLAYLIST_TYPE, "public, max-age=10");
    return;
  }

  const KtRendition *rendition = kt_rendition_find (request->parts[1]);
  if (request->n_parts != 3 || rendition == NULL || !g_str_equal (request->parts[2], "index.m3u8")) {
    kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such playlist");
    return;
  }
  guint window = kt_config_get_int (kt_app_config (app), "hls", "window_segments");
  g_autoptr (GBytes) playlist = kt_channel_playlist (channel, rendition, kt_clock_now_us (), window);
  if (playlist == NULL) {
    not_on_air (msg, channel);
    return;
  }
  count_viewer (app, msg, channel, rendition);
  count_presence (app, msg, channel);
  kt_http_bytes (msg, playlist, PLAYLIST_TYPE, PLAYLIST_CACHE);
}

/* "00012.ts" or "12.ts" → 12 */
static gboolean
parse_segment_name (const char *name, guint *index)
{
  if (!g_str_has_suffix (name, ".ts"))
    return FALSE;
  g_autofree char *digits = g_strndup (name, strlen (name) - 3);
  guint64 n;
  if (!g_ascii_string_to_unsigned (digits, 10, 0, G_MAXINT, &n, NULL))
    return FALSE;
  *index = n;
  return TRUE;
}

void
kt_http_media_handle (KtApp *app, KtRequest *request)
{
  SoupServerMessage *msg = request->msg;
  guint index;
  const KtRendition *rendition = request->n_parts == 3 ? kt_rendition_find (request->parts[1]) : NULL;

  if (rendition == NULL || !parse_segment_name (request->parts[2], &index)) {
    kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such segment");
    return;
  }
  /* Only an id the library knows as servable reaches the file system (and
   * segments were checked: no "..", no slashes). A live talk's recording is
   * aired while it grows: its counted segments are complete and never
   * change. */
  const char *item_id = request->parts[0];
  if (index >= kt_library_ready_segments (kt_app_library (app), item_id)) {
    kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such segment");
    return;
  }
  g_autofree char *path = kt_library_segment_path (kt_app_library (app), item_id, rendition, index);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = kt_segment_store_get (kt_app_segments (app), path, &error);
  if (bytes == NULL) {
    kt_http_error_from_gerror (msg, error);
    return;
  }
  allow_any_origin (msg);
  kt_http_bytes (msg, bytes, "video/mp2t", SEGMENT_CACHE);
}
