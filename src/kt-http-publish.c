/* kt-http-publish: what a teacher needs to go live, for teachers and
 * administrators.
 *
 *   GET  /api/live/key   {"created": ISO time or null, "srt_url": "srt://HOST:PORT",
 *                         "streamid": "<talk>/<key>"}
 *   POST /api/live/key   make a new key (the old one stops working):
 *                        201 {"key", "created", "srt_url", "streamid"}
 *
 * The key is in the answer to POST only: the database keeps its hash, so a
 * teacher who lost it makes a new one. "streamid" shows the form OBS's
 * "Stream ID" field takes, with the placeholders <talk> (the name after
 * live: in the timetable) and <key>; "srt_url" names this server as the
 * browser reached it and the SRT port from [live] srt_listen.
 */
#define G_LOG_DOMAIN "kt-http"

#include "kt-http.h"

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

void
kt_http_publish_handle (KtApp *app, KtRequest *request)
{
  if (request->n_parts == 1 && g_str_equal (request->parts[0], "key")) {
    key_handle (app, request);
    return;
  }
  kt_http_error (request->msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such resource");
}
