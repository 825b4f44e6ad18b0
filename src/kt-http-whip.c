/* kt-http-whip: WHIP ingest, publishing a live talk from a browser or OBS.
 *
 *   POST   /api/live/whip/<talk>       body: the SDP offer (application/sdp)
 *          → 201, Content-Type application/sdp, the answer; Location: the
 *            publish's resource, /api/live/whip/<talk>/<id>
 *   DELETE /api/live/whip/<talk>/<id>  ends the publish (200)
 *
 * Two kinds of publisher, two ways to prove who it is. The teacher's page
 * (/teach/live.html) has a session: its cookie and X-CSRF-Token, checked by
 * the same kt_http_auth_check every protected route passes, as for a
 * teacher or administrator. OBS 30's WHIP output has no session; it sends
 * "Authorization: Bearer <publish key>", the same key as the SRT stream id
 * carries, checked by kt_auth_publish_key_check (looked up by hash, compared
 * in constant time). So the route is "public" in the table and checks its
 * own credentials before anything else: a wrong key or no session is a 401
 * at once, and the body is not looked at.
 *
 * Then the offer is checked (kt_live_whip_check_offer): a body that is not
 * SDP, or offers no picture or sound we can decode, is a 400 saying which,
 * before a webrtcbin exists. The body is bounded like every JSON body (64
 * KiB, in kt-http's early handler); offers are a few KiB.
 *
 * The answer waits for webrtcbin to gather its ICE candidates (no trickle),
 * so the message is paused (kt_http_later_new) and answered from the main
 * context when kt-live replies. Which talk, and whether one may publish it
 * now (one publisher at a time, a talk on the timetable now), is kt-live's
 * decision, as for SRT: 409 and 404 carry its reasons.
 */
#define G_LOG_DOMAIN "kt-http"

#include "kt-http.h"
#include "kt-live.h"
#include "kt-live-whip.h"

/* The publishing account: by bearer publish key or by session (with its
 * CSRF token). NULL with 401 or 403 answered. (transfer full) */
static KtUser *
publisher (KtApp *app, SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *authorization = soup_message_headers_get_one (headers, "Authorization");
  if (authorization != NULL) {
    g_autoptr (GError) error = NULL;
    KtUser *user = NULL;
    if (g_ascii_strncasecmp (authorization, "Bearer ", 7) == 0) {
      g_autofree char *key = g_strstrip (g_strdup (authorization + 7));
      user = kt_auth_publish_key_check (kt_app_auth (app), key, &error);
      memset (key, 0, strlen (key));
    } else {
      g_set_error (&error, KT_AUTH_ERROR, KT_AUTH_ERROR_CREDENTIALS,
                   "Authorization must be Bearer <publish key>");
    }
    if (user == NULL) {
      g_info ("WHIP publisher refused peer=%s: %s", soup_server_message_get_remote_host (msg),
              error->message);
      soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                    "WWW-Authenticate", "Bearer");
      kt_http_error_from_gerror (msg, error);
    }
    return user;
  }
  static const KtRoute as_teacher = { "/api/live/whip/", "POST DELETE", "teacher admin", NULL };
  g_autoptr (KtSession) session = NULL;
  if (!kt_http_auth_check (app, &as_teacher, msg, &session))
    return NULL;
  return kt_user_copy (session->user);
}

static void
on_reply (const char *answer, const char *id, const GError *error, gpointer data)
{
  KtHttpLater *later = data;
  SoupServerMessage *msg = kt_http_later_msg (later);
  if (msg == NULL) {
    g_debug ("WHIP answer dropped: the publisher left or the server stopped");
  } else if (error != NULL) {
    kt_http_error_from_gerror (msg, error);
  } else {
    g_autofree char *talk = g_uri_escape_string (kt_http_later_note (later), NULL, FALSE);
    g_autofree char *location = g_strdup_printf ("/api/live/whip/%s/%s", talk, id);
    SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
    soup_message_headers_replace (headers, "Location", location);
    soup_message_headers_replace (headers, "Cache-Control", "no-store");
    soup_server_message_set_status (msg, SOUP_STATUS_CREATED, NULL);
    soup_server_message_set_response (msg, "application/sdp", SOUP_MEMORY_COPY, answer,
                                      strlen (answer));
  }
  kt_http_later_finish (later);
}

static void
publish (KtApp *app, KtRequest *request, const KtUser *user, const char *talk)
{
  SoupServerMessage *msg = request->msg;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *type = soup_message_headers_get_content_type (headers, NULL);
  if (type == NULL || g_ascii_strcasecmp (type, "application/sdp") != 0) {
    kt_http_error (msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, "bad-request",
                   "WHIP 的请求体必须是 SDP（Content-Type: application/sdp）。");
    return;
  }
  g_autoptr (GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  gsize len;
  const char *data = g_bytes_get_data (body, &len);
  g_autoptr (GError) error = NULL;
  g_autoptr (GstSDPMessage) offer = kt_live_whip_check_offer (data, len, &error);
  if (offer == NULL) {
    g_info ("WHIP offer refused talk=%s name=%s: %s", talk, user->name, error->message);
    kt_http_error_from_gerror (msg, error);
    return;
  }
  KtLive *live = kt_app_live (app);
  if (live == NULL) {
    kt_http_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "unavailable",
                   "这台服务器没有开启直播接收。");
    return;
  }
  KtHttpLater *later = kt_http_later_new (app, request, talk);
  if (!kt_live_whip_publish (live, talk, user, soup_server_message_get_remote_host (msg),
                             g_steal_pointer (&offer), on_reply, later, &error)) {
    kt_http_error_from_gerror (msg, error);
    kt_http_later_finish (later);
  }
}

void
kt_http_whip_handle (KtApp *app, KtRequest *request)
{
  SoupServerMessage *msg = request->msg;
  gboolean post = g_str_equal (soup_server_message_get_method (msg), "POST");
  if (request->n_parts != (post ? 1u : 2u) || request->trailing_slash) {
    kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such resource");
    return;
  }
  g_autoptr (KtUser) user = publisher (app, msg);
  if (user == NULL)
    return;
  if (post) {
    publish (app, request, user, request->parts[0]);
    return;
  }
  g_autoptr (GError) error = NULL;
  KtLive *live = kt_app_live (app);
  if (live == NULL
      || !kt_live_whip_stop (live, request->parts[0], request->parts[1], user, &error)) {
    if (error)
      kt_http_error_from_gerror (msg, error);
    else
      kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such publish");
    return;
  }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, NULL, SOUP_MEMORY_STATIC, NULL, 0);
}
