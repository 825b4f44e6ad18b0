/* kt-http-watch: replay (回看) of any library item, on demand.
 *
 *   /watch/<item>                          the replay page (web/watch.html)
 *   /watch/<item>/index.m3u8               master playlist of the item
 *   /watch/<item>/<rendition>/index.m3u8   VOD playlist: every segment, ENDLIST
 *   /watch/<item>/poster.jpg               its poster picture (kt-library-poster)
 *
 * A replay is the same segments a channel airs, under the same immutable
 * URLs, listed from the first to the last: players can seek anywhere, and a
 * cache that already holds a lesson's segments from its broadcast serves the
 * replay too. An item never changes once ready, so its playlists may be
 * cached for long; the hour bounds how long a deleted item lingers in caches.
 */
#define G_LOG_DOMAIN "kt-http"

#include "kt-http.h"

#define PLAYLIST_TYPE "application/vnd.apple.mpegurl"
#define REPLAY_CACHE "public, max-age=3600"

void
kt_http_add_poster (JsonBuilder *b, KtApp *app, const KtItem *item)
{
  json_builder_set_member_name (b, "thumbnail");
  if (kt_library_has_poster (kt_app_library (app), item)) {
    g_autofree char *url = g_strdup_printf ("/watch/%s/poster.jpg", item->id);
    json_builder_add_string_value (b, url);
  } else {
    json_builder_add_null_value (b); /* being made, or none can be */
  }
}

void
kt_http_watch_handle (KtApp *app, KtRequest *request)
{
  SoupServerMessage *msg = request->msg;
  if (request->n_parts == 1) {
    /* The page, whatever the id: a viewer who followed a stale link reads
     * "没有找到这节课" in words, from the page asking /api/items. */
    const char *parts[] = { "watch.html", NULL };
    kt_http_serve_file (msg, kt_config_get_string (kt_app_config (app), "server", "web_dir"),
                        parts, "no-cache");
    return;
  }
  g_autoptr (KtItem) item =
      request->n_parts >= 1 ? kt_library_get (kt_app_library (app), request->parts[0]) : NULL;
  if (item == NULL || item->state != KT_ITEM_READY || g_str_equal (item->kind, "slate")) {
    kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such lesson to replay");
    return;
  }
  if (request->n_parts == 2 && g_str_equal (request->parts[1], "poster.jpg")) {
    g_autofree char *path = kt_library_poster_path (kt_app_library (app), item->id);
    g_autofree char *dir = g_path_get_dirname (path);
    const char *parts[] = { "poster.jpg", NULL };
    kt_http_serve_file (msg, dir, parts, REPLAY_CACHE);
    return;
  }
  if (request->n_parts == 2 && g_str_equal (request->parts[1], "index.m3u8")) {
    const char *query = g_uri_get_query (soup_server_message_get_uri (msg));
    char *text = kt_hls_master_write (query);
    g_autoptr (GBytes) bytes = g_bytes_new_take (text, strlen (text));
    kt_http_bytes (msg, bytes, PLAYLIST_TYPE, REPLAY_CACHE);
    return;
  }
  const KtRendition *rendition = request->n_parts == 3 ? kt_rendition_find (request->parts[1]) : NULL;
  if (rendition == NULL || !g_str_equal (request->parts[2], "index.m3u8")) {
    kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such playlist");
    return;
  }
  g_autoptr (KtHlsPlaylist) playlist = kt_hls_playlist_new ();
  playlist->ended = TRUE;
  for (guint k = 0; k < item->segment_count; k++)
    kt_hls_playlist_add (playlist,
                         g_strdup_printf ("/media/%s/%s/%u.ts", item->id, rendition->name, k),
                         KT_SEGMENT_US, -1, FALSE);
  char *text = kt_hls_playlist_write (playlist);
  g_autoptr (GBytes) bytes = g_bytes_new_take (text, strlen (text));
  kt_http_bytes (msg, bytes, PLAYLIST_TYPE, REPLAY_CACHE);
}
