/* kt-http-kiosk: what a viewing point's own TV may ask, and how a request
 * proves it speaks for a viewing point.
 *
 *   GET /api/kiosk?token=…  (or ?code=…)
 *     → {"viewpoint": {"id", "name", "township", "channel"}, "heartbeat_seconds"}
 *
 * A room's TV opens the kiosk URL (/?kiosk=1&token=…). The page asks here
 * which channel the room follows, tunes to it, and asks again every minute
 * or so: an administrator who moves a room to another channel changes what
 * its TV plays without anybody touching the TV. The answer is the room's
 * own name and channel, nothing more: a token is not a login, it cannot
 * read reports, other rooms or anything an account could (the route table
 * gives /api/kiosk no other powers, and the tests check that a token opens
 * nothing else).
 *
 * kt_http_find_viewpoint() is the one place a token or a 6-digit code is
 * turned into a viewing point, for this route, for heartbeats and for
 * playlists that carry a token. Codes pass the code guard first
 * (kt-code-guard.c), so that guessing them is throttled per address and for
 * everybody together; tokens are 256 random bits and need no throttle.
 * Both are looked up in kt-viewpoint's cache, which forgets at any change
 * to the viewpoints table: a kiosk asks every minute, a heartbeat every
 * 20 s, a playlist every 2 s, and a rotated token or a disabled room still
 * counts for nothing from the next request on.
 */
#define G_LOG_DOMAIN "kt-http"

#include "kt-clock.h"
#include "kt-http.h"
#include "kt-viewpoint.h"

gboolean
kt_http_code_well_formed (const char *code)
{
  if (code == NULL || strlen (code) != 6)
    return FALSE;
  for (const char *p = code; *p; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  return TRUE;
}

static gboolean
refuse (KtHttpRefusal *refusal, guint status, const char *code, const char *message)
{
  refusal->status = status;
  refusal->code = code;
  refusal->message = g_strdup (message);
  return FALSE;
}

KtViewpoint *
kt_http_lookup_viewpoint (KtApp *app, const char *client, const char *token, const char *code,
                          KtHttpRefusal *refusal)
{
  g_autoptr (GError) error = NULL;
  KtViewpointCache *cache = kt_app_viewpoints (app);
  KtCodeGuard *guard = kt_app_code_guard (app);
  gint64 now = kt_clock_now_us ();
  g_autoptr (KtViewpoint) viewpoint = NULL;

  if (token != NULL) {
    viewpoint = kt_viewpoint_cache_find_token (cache, token, &error);
  } else {
    gint64 wait_s = 0;
    if (guard != NULL && !kt_code_guard_allow (guard, client, now, &wait_s)) {
      g_autofree char *text
          = g_strdup_printf ("收视点编号输错次数太多，请 %" G_GINT64_FORMAT " 秒后再试", wait_s);
      refusal->retry_after_s = wait_s;
      return refuse (refusal, 429, "throttled", text), NULL;
    }
    if (kt_http_code_well_formed (code))
      viewpoint = kt_viewpoint_cache_find_code (cache, code, &error);
    else
      g_set_error (&error, KT_VIEWPOINT_ERROR, KT_VIEWPOINT_ERROR_NOT_FOUND, "bad code");
    if (guard != NULL && viewpoint != NULL)
      kt_code_guard_succeeded (guard, client);
    else if (guard != NULL && g_error_matches (error, KT_VIEWPOINT_ERROR,
                                               KT_VIEWPOINT_ERROR_NOT_FOUND))
      kt_code_guard_failed (guard, client, now);
  }
  if (viewpoint == NULL) {
    if (g_error_matches (error, KT_VIEWPOINT_ERROR, KT_VIEWPOINT_ERROR_NOT_FOUND))
      return refuse (refusal, SOUP_STATUS_UNAUTHORIZED, "unauthenticated",
                     token ? "这个收视点链接已失效，请联系管理员"
                           : "没有这个收视点编号，请核对后再输入"), NULL;
    g_warning ("viewing point lookup failed: %s", error->message);
    return refuse (refusal, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal", error->message), NULL;
  }
  if (viewpoint->disabled)
    return refuse (refusal, SOUP_STATUS_FORBIDDEN, "disabled", "这个收视点已停用，请联系管理员"),
           NULL;
  return g_steal_pointer (&viewpoint);
}

void
kt_http_refuse (SoupServerMessage *msg, KtHttpRefusal *refusal)
{
  if (refusal->retry_after_s > 0) {
    g_autofree char *retry = g_strdup_printf ("%" G_GINT64_FORMAT, refusal->retry_after_s);
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                  retry);
  }
  kt_http_error (msg, refusal->status, refusal->code, "%s", refusal->message);
  g_clear_pointer (&refusal->message, g_free);
}

KtViewpoint *
kt_http_find_viewpoint (KtApp *app, SoupServerMessage *msg, const char *token, const char *code)
{
  KtHttpRefusal refusal = { 0 };
  KtViewpoint *v = kt_http_lookup_viewpoint (app, soup_server_message_get_remote_host (msg), token,
                                             code, &refusal);
  if (v == NULL)
    kt_http_refuse (msg, &refusal);
  return v;
}

void
kt_http_kiosk_handle (KtApp *app, KtRequest *request)
{
  SoupServerMessage *msg = request->msg;
  if (request->n_parts != 0) {
    kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such page");
    return;
  }
  const char *q = g_uri_get_query (soup_server_message_get_uri (msg));
  g_autoptr (GHashTable) query = q ? g_uri_parse_params (q, -1, "&", G_URI_PARAMS_NONE, NULL) : NULL;
  const char *token = query ? g_hash_table_lookup (query, "token") : NULL;
  const char *code = query ? g_hash_table_lookup (query, "code") : NULL;
  if (token == NULL && code == NULL) {
    kt_http_error (msg, SOUP_STATUS_BAD_REQUEST, "bad-request", "expected ?token= or ?code=");
    return;
  }
  g_autoptr (KtViewpoint) v = kt_http_find_viewpoint (app, msg, token, code);
  if (v == NULL)
    return;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "viewpoint");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_int_value (b, v->id);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, v->name);
  json_builder_set_member_name (b, "township");
  json_builder_add_string_value (b, v->township);
  json_builder_set_member_name (b, "channel");
  json_builder_add_string_value (b, v->channel);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "heartbeat_seconds");
  json_builder_add_int_value (
      b, kt_config_get_int (kt_app_config (app), "attendance", "heartbeat_seconds"));
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  kt_http_json (msg, SOUP_STATUS_OK, root);
}
