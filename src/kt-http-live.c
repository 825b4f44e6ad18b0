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
 * These are the requests every viewer makes every two seconds, so the HTTP
 * serving threads answer them themselves (kt-http-threads.c, mostly
 * without libsoup: kt-http-direct.c), without the main thread:
 * kt_http_media_answer_shared when the item's segment count is already
 * known (kt_library_peek_ready_segments), kt_http_live_answer_shared when
 * the main thread has posted this slot's playlist on the playlist board
 * (answer_variant posts every playlist it builds). Whatever they cannot
 * answer the same way the handlers below would (an unknown item, a new slot,
 * a room's token to count, a reload to hold) goes to those handlers.
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
 *
 * Blocking playlist reload. A variant playlist says
 * EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES, and a request for it with
 * _HLS_msn=<n> (HLS's delivery directive, which hls.js sends) is held until
 * segment n is listed, that is until slot n begins, at most two slots ahead
 * (the spec's limit is three target durations). Without it a player learns
 * of a new segment only at its next timed reload, up to a segment late,
 * and must hold back that much more to play without stalling; during a
 * live talk that is a second or two between the speaker and the room
 * (docs/live.md, "Latency"). Held requests wait in one list per slot, with
 * one kt_clock timer per slot (whatever the crowd, at most three timers),
 * and are answered from the playlist built once per slot like any other.
 */
#define G_LOG_DOMAIN "kt-http"

#include "kt-http.h"
#include "kt-clock.h"
#include "kt-viewpoint.h"

#define PLAYLIST_TYPE "application/vnd.apple.mpegurl"
#define PLAYLIST_CACHE "public, max-age=1"
#define MASTER_CACHE "public, max-age=10"
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
count_viewer (KtApp *app, const KtHttpClient *client, const char *channel,
              const KtRendition *rendition)
{
  g_autofree char *key = g_strjoin ("\n", client->host ? client->host : "",
                                    client->agent ? client->agent : "",
                                    client->query ? client->query : "", NULL);
  kt_metrics_viewer_seen (kt_app_metrics (app), channel, rendition->name, key, kt_clock_now_us ());
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

/* This slot's playlist of @channel's @rendition, posted on the board for
 * the serving threads; NULL when the channel is off air. */
static GBytes *
build_variant (KtApp *app, KtChannel *channel, const KtRendition *rendition)
{
  guint window = kt_config_get_int (kt_app_config (app), "hls", "window_segments");
  gint64 now = kt_clock_now_us ();
  GBytes *playlist = kt_channel_playlist (channel, rendition, now, window);
  /* For the serving threads: the rest of this slot's requests for it. */
  if (playlist != NULL && now >= 0)
    kt_playlist_board_post (kt_app_playlist_board (app), kt_channel_id (channel), rendition->name,
                            now / KT_SEGMENT_US, kt_channel_epoch (), playlist);
  return playlist;
}

/* The same for the direct path, whose requests are answered from the board.
 * At the start of a slot a crowd's reloads all miss the board until the
 * first is answered, and all come here: it is built once, for the first. */
static void
ensure_posted (KtApp *app, KtChannel *channel, const KtRendition *rendition)
{
  gint64 now = kt_clock_now_us ();
  g_autoptr (GBytes) posted
      = now >= 0 ? kt_playlist_board_find (kt_app_playlist_board (app), kt_channel_id (channel),
                                           rendition->name, now / KT_SEGMENT_US)
                 : NULL;
  if (posted == NULL)
    posted = build_variant (app, channel, rendition);
}

static void
answer_variant (KtApp *app, SoupServerMessage *msg, KtChannel *channel,
                const KtRendition *rendition)
{
  g_autoptr (GBytes) playlist = build_variant (app, channel, rendition);
  if (playlist == NULL) {
    not_on_air (msg, channel);
    return;
  }
  KtHttpClient client;
  kt_http_client_of (msg, &client);
  count_viewer (app, &client, kt_channel_id (channel), rendition);
  count_presence (app, msg, channel);
  kt_http_bytes (msg, playlist, PLAYLIST_TYPE, PLAYLIST_CACHE);
}

/* Held reloads: slot → GPtrArray of KtHeldReload*, and the slot's timer.
 * Process-wide, like the clock the slots come from. A reload is held as a
 * message libsoup read (a KtHttpLater) or as a request the direct path
 * keeps unread (a KtHttpTicket, kt-http-direct.c), which is asked again
 * once the slot's playlist is on the board. */
typedef struct {
  KtApp *app;
  char *channel;
  const KtRendition *rendition;
  KtHttpLater *later;
  KtHttpTicket *ticket;
} KtHeldReload;

static GHashTable *held_by_slot;

static gboolean
on_slot_begun (gpointer data)
{
  gint64 slot = GPOINTER_TO_SIZE (data);
  g_autoptr (GPtrArray) held = NULL;
  g_hash_table_steal_extended (held_by_slot, &slot, NULL, (gpointer *) &held);
  for (guint i = 0; held && i < held->len; i++) {
    KtHeldReload *reload = held->pdata[i];
    SoupServerMessage *msg = reload->later ? kt_http_later_msg (reload->later) : NULL;
    /* A reload held by a server that has stopped since is dropped without
     * looking at its app, which may be gone too. */
    gboolean live = msg != NULL ||
                    (reload->ticket != NULL && !kt_http_direct_ticket_dropped (reload->ticket));
    KtChannel *channel = live ? kt_app_find_channel (reload->app, reload->channel) : NULL;
    if (msg != NULL && channel != NULL)
      answer_variant (reload->app, msg, channel, reload->rendition);
    else if (msg != NULL)
      kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such channel");
    if (reload->later != NULL)
      kt_http_later_finish (reload->later);
    if (reload->ticket != NULL) {
      if (channel != NULL)
        ensure_posted (reload->app, channel, reload->rendition);
      kt_http_direct_retry (reload->ticket);
    }
    g_free (reload->channel);
    g_free (reload);
  }
  return G_SOURCE_REMOVE;
}

/* Hold @reload until slot @msn begins. */
static void
hold_until (KtHeldReload *reload, gint64 msn, gint64 now_us)
{
  if (held_by_slot == NULL)
    held_by_slot = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                          (GDestroyNotify) g_ptr_array_unref);
  GPtrArray *held = g_hash_table_lookup (held_by_slot, &msn);
  if (held == NULL) {
    held = g_ptr_array_new ();
    g_hash_table_insert (held_by_slot, g_memdup2 (&msn, sizeof msn), held);
    /* Rounded up, so that the slot has begun when the timer fires. */
    gint64 wait_us = msn * KT_SEGMENT_US - now_us;
    kt_clock_timer_add ((guint) ((wait_us + 999) / 1000), on_slot_begun,
                        GSIZE_TO_POINTER ((gsize) msn));
  }
  g_ptr_array_add (held, reload);
}

static void
hold_request (KtApp *app, KtRequest *request, KtChannel *channel, const KtRendition *rendition,
              gint64 msn, gint64 now_us)
{
  KtHeldReload *reload = g_new0 (KtHeldReload, 1);
  *reload = (KtHeldReload) { app, g_strdup (kt_channel_id (channel)), rendition,
                             kt_http_later_new (app, request, NULL), NULL };
  hold_until (reload, msn, now_us);
}

/* What the direct path waits for (kt-http-direct.c): this slot's playlist
 * of a rendition on the board, or a later slot's (msn, a blocking reload). */
typedef struct {
  KtApp *app;
  char *channel;
  const KtRendition *rendition;
  gint64 msn; /* -1: this slot */
} KtLivePrepare;

static void
live_prepare_free (gpointer data)
{
  KtLivePrepare *prepare = data;
  g_free (prepare->channel);
  g_free (prepare);
}

/* On the main thread: as kt_http_live_handle would, but the answer is
 * left on the board for the request's own thread to give. Whatever cannot
 * be put there (off air, an unknown channel, a reload too far ahead) is
 * left to the route's handler when the request is asked again. */
static void
live_prepare_run (gpointer data, KtHttpTicket *ticket)
{
  KtLivePrepare *prepare = data;
  KtChannel *channel = kt_app_find_channel (prepare->app, prepare->channel);
  gint64 now = kt_clock_now_us ();
  if (channel != NULL && prepare->msn > now / KT_SEGMENT_US &&
      prepare->msn <= now / KT_SEGMENT_US + 2 &&
      kt_channel_state (channel, now) == KT_CHANNEL_STATE_ON_AIR) {
    KtHeldReload *reload = g_new0 (KtHeldReload, 1);
    *reload = (KtHeldReload) { prepare->app, g_strdup (prepare->channel), prepare->rendition, NULL,
                               ticket };
    hold_until (reload, prepare->msn, now);
    return;
  }
  if (channel != NULL)
    ensure_posted (prepare->app, channel, prepare->rendition);
  kt_http_direct_retry (ticket);
}

static void
want_prepared (KtHttpPrepare *out, KtApp *app, const char *channel, const KtRendition *rendition,
               gint64 msn)
{
  if (out == NULL)
    return;
  KtLivePrepare *prepare = g_new0 (KtLivePrepare, 1);
  *prepare = (KtLivePrepare) { app, g_strdup (channel), rendition, msn };
  *out = (KtHttpPrepare) { live_prepare_run, prepare, live_prepare_free };
}

/* _HLS_msn from the query string @q: TRUE with *msn, or FALSE when there
 * is none. A value that is not a sequence number is @bad. */
static gboolean
delivery_directive (const char *q, gint64 *msn, gboolean *bad)
{
  *bad = FALSE;
  if (q == NULL || strstr (q, "_HLS_msn=") == NULL)
    return FALSE;
  g_autoptr (GHashTable) query = g_uri_parse_params (q, -1, "&", G_URI_PARAMS_NONE, NULL);
  const char *value = query ? g_hash_table_lookup (query, "_HLS_msn") : NULL;
  guint64 n = 0;
  if (value == NULL)
    return FALSE;
  if (!g_ascii_string_to_unsigned (value, 10, 0, G_MAXINT64 / KT_SEGMENT_US, &n, NULL)) {
    *bad = TRUE;
    return FALSE;
  }
  *msn = (gint64) n;
  return TRUE;
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
    kt_http_bytes (msg, bytes, PLAYLIST_TYPE, MASTER_CACHE);
    return;
  }

  const KtRendition *rendition = kt_rendition_find (request->parts[1]);
  if (request->n_parts != 3 || rendition == NULL || !g_str_equal (request->parts[2], "index.m3u8")) {
    kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such playlist");
    return;
  }
  gint64 msn, now = kt_clock_now_us ();
  gboolean bad;
  if (delivery_directive (g_uri_get_query (soup_server_message_get_uri (msg)), &msn, &bad) &&
      msn > now / KT_SEGMENT_US && kt_channel_state (channel, now) == KT_CHANNEL_STATE_ON_AIR) {
    if (msn > now / KT_SEGMENT_US + 2) {
      kt_http_error (msg, SOUP_STATUS_BAD_REQUEST, "bad-request",
                     "_HLS_msn %" G_GINT64_FORMAT " is more than two segments ahead", msn);
      return;
    }
    hold_request (app, request, channel, rendition, msn, now);
    return;
  }
  if (bad) {
    kt_http_error (msg, SOUP_STATUS_BAD_REQUEST, "bad-request", "_HLS_msn is not a number");
    return;
  }
  answer_variant (app, msg, channel, rendition);
}

/* The master playlist, from a serving thread: the channel is on air if the
 * main thread posted one of its variant playlists for this slot. */
static gboolean
answer_master_shared (KtApp *app, const char *channel, const KtHttpClient *client,
                      KtHttpShared *answer, KtHttpPrepare *prepare)
{
  gint64 now = kt_clock_now_us ();
  if (now < 0)
    return FALSE;
  gboolean on_air = FALSE;
  for (guint i = 0; i < kt_n_renditions && !on_air; i++) {
    g_autoptr (GBytes) posted = kt_playlist_board_find (
        kt_app_playlist_board (app), channel, kt_renditions[i].name, now / KT_SEGMENT_US);
    on_air = posted != NULL;
  }
  if (!on_air) {
    want_prepared (prepare, app, channel, &kt_renditions[0], -1);
    return FALSE;
  }
  char *text = kt_hls_master_write (client->query);
  *answer = (KtHttpShared) { g_bytes_new_take (text, strlen (text)), NULL, PLAYLIST_TYPE,
                             MASTER_CACHE, TRUE };
  return TRUE;
}

gboolean
kt_http_live_answer_shared (KtApp *app, const char *const *parts, const KtHttpClient *client,
                            KtHttpShared *answer, KtHttpPrepare *prepare)
{
  if (parts[2] == NULL)
    return g_str_equal (parts[1], "index.m3u8") &&
           answer_master_shared (app, parts[0], client, answer, prepare);
  const KtRendition *rendition = kt_rendition_find (parts[1]);
  if (rendition == NULL || !g_str_equal (parts[2], "index.m3u8"))
    return FALSE;
  /* A room's token makes the request a heartbeat: attendance is the main
   * thread's. */
  const char *q = client->query;
  if (q != NULL && strstr (q, "token=") != NULL)
    return FALSE;
  gint64 msn, now = kt_clock_now_us ();
  gboolean bad;
  gboolean directive = delivery_directive (q, &msn, &bad);
  if (bad || now < 0)
    return FALSE;
  if (directive && msn > now / KT_SEGMENT_US) { /* a reload to hold until a later slot */
    want_prepared (prepare, app, parts[0], rendition, msn);
    return FALSE;
  }
  GBytes *playlist = kt_playlist_board_find (kt_app_playlist_board (app), parts[0],
                                             rendition->name, now / KT_SEGMENT_US);
  if (playlist == NULL) {
    want_prepared (prepare, app, parts[0], rendition, -1);
    return FALSE;
  }
  count_viewer (app, client, parts[0], rendition);
  *answer = (KtHttpShared) { playlist, NULL, PLAYLIST_TYPE, PLAYLIST_CACHE, TRUE };
  return TRUE;
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

gboolean
kt_http_media_answer_shared (KtApp *app, const char *const *parts, gboolean file_ok,
                             KtHttpShared *answer)
{
  const KtRendition *rendition = kt_rendition_find (parts[1]);
  guint index, count;
  if (rendition == NULL || !parse_segment_name (parts[2], &index) ||
      !kt_library_peek_ready_segments (kt_app_library (app), parts[0], &count) || index >= count)
    return FALSE;
  g_autofree char *path
      = kt_library_segment_path (kt_app_library (app), parts[0], rendition, index);
  KtSegmentFile *file
      = file_ok ? kt_segment_store_get_file (kt_app_segments (app), path, NULL) : NULL;
  GBytes *bytes = file ? NULL : kt_segment_store_get (kt_app_segments (app), path, NULL);
  if (file == NULL && bytes == NULL)
    return FALSE;
  *answer = (KtHttpShared) { bytes, file, "video/mp2t", SEGMENT_CACHE, TRUE };
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
