/* kt-http-auth: sessions over HTTP, and the access check every route passes.
 *
 *   POST /api/login   {"name", "password"} → cookie, {"user", "csrf", "expires"}
 *   POST /api/logout  ends the session, clears the cookie (204)
 *   GET  /api/me      the signed-in account and its CSRF token
 *
 * The session travels in the cookie ketang_session: HttpOnly (page scripts
 * cannot read it, so an injected script cannot send it elsewhere),
 * SameSite=Lax (other sites' pages cannot make the browser send it with a
 * POST), Path=/, Max-Age the session's lifetime, and Secure when the request
 * came over TLS. Behind a TLS-terminating proxy ketang sees plain HTTP and
 * leaves Secure off; that proxy should add it.
 *
 * State-changing requests on protected routes must also carry the session's
 * CSRF token in X-CSRF-Token. Pages get it from /api/login or /api/me; a
 * page on another site cannot read it, so it cannot forge such a request
 * even where SameSite is not honoured. /api/login itself takes only
 * application/json, which a cross-site form cannot send.
 *
 * Checking a password takes a fifth of a second of CPU, so /api/login
 * answers later (kt_http_later_new): the hash runs on a worker thread and
 * the main loop keeps serving segments meanwhile.
 */
#define G_LOG_DOMAIN "kt-http"

#include "kt-http.h"

#define COOKIE_NAME "ketang_session"
#define CSRF_HEADER "X-CSRF-Token"

/* "admin teacher" admits @role; "any" admits every role. */
static gboolean
role_admitted (const char *roles, KtRole role)
{
  g_auto (GStrv) list = g_strsplit (roles, " ", -1);
  return g_strv_contains ((const char *const *)list, "any")
         || g_strv_contains ((const char *const *)list, kt_role_to_string (role));
}

static gboolean
changes_state (const char *method)
{
  return g_str_equal (method, "POST") || g_str_equal (method, "PUT")
         || g_str_equal (method, "PATCH") || g_str_equal (method, "DELETE");
}

/* The live session named by one of the request's ketang_session cookies. */
static KtSession *
session_from_cookies (KtApp *app, SoupServerMessage *msg, GError **error)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *cookie = soup_message_headers_get_list (headers, "Cookie");
  g_auto (GStrv) pairs = g_strsplit_set (cookie ? cookie : "", ";,", -1);
  for (int i = 0; pairs[i]; i++) {
    const char *pair = g_strstrip (pairs[i]);
    if (!g_str_has_prefix (pair, COOKIE_NAME "="))
      continue;
    g_autoptr (GError) local = NULL;
    KtSession *session
        = kt_auth_session_lookup (kt_app_auth (app), pair + strlen (COOKIE_NAME "="), &local);
    if (session != NULL)
      return session;
    if (!g_error_matches (local, KT_AUTH_ERROR, KT_AUTH_ERROR_NO_SESSION)) {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  }
  g_set_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_NO_SESSION, "please log in");
  return NULL;
}

gboolean
kt_http_auth_check (KtApp *app, const KtRoute *route, SoupServerMessage *msg,
                    KtSession **session_out)
{
  *session_out = NULL;
  if (g_str_equal (route->roles, "public"))
    return TRUE;

  g_autoptr (GError) error = NULL;
  g_autoptr (KtSession) session = session_from_cookies (app, msg, &error);
  if (session == NULL) {
    kt_http_error_from_gerror (msg, error);
    return FALSE;
  }
  if (!role_admitted (route->roles, session->user->role)) {
    kt_http_error (msg, SOUP_STATUS_FORBIDDEN, "forbidden", "this is for %s, not %s", route->roles,
                   kt_role_to_string (session->user->role));
    return FALSE;
  }
  const char *csrf
      = soup_message_headers_get_one (soup_server_message_get_request_headers (msg), CSRF_HEADER);
  if (changes_state (soup_server_message_get_method (msg))
      && !kt_auth_session_check_csrf (session, csrf)) {
    kt_http_error (msg, SOUP_STATUS_FORBIDDEN, "csrf",
                   "the " CSRF_HEADER " header is missing or wrong; reload the page");
    return FALSE;
  }
  *session_out = g_steal_pointer (&session);
  return TRUE;
}

/* @token NULL clears the cookie. */
static void
set_cookie (SoupServerMessage *msg, const char *token, gint64 max_age_s)
{
  gboolean tls = g_strcmp0 (g_uri_get_scheme (soup_server_message_get_uri (msg)), "https") == 0;
  g_autofree char *value = g_strdup_printf (
      COOKIE_NAME "=%s; Path=/; Max-Age=%" G_GINT64_FORMAT "; HttpOnly; SameSite=Lax%s",
      token ? token : "", token ? max_age_s : 0, tls ? "; Secure" : "");
  soup_message_headers_append (soup_server_message_get_response_headers (msg), "Set-Cookie", value);
}

static void
answer_session (KtApp *app, SoupServerMessage *msg, const KtSession *session)
{
  GTimeZone *tz = kt_app_timezone (app);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  kt_http_add_user (b, "user", session->user, tz);
  json_builder_set_member_name (b, "csrf");
  json_builder_add_string_value (b, session->csrf);
  kt_http_add_time (b, "expires", session->expires_us, tz);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  kt_http_json (msg, SOUP_STATUS_OK, root);
}

/* The note is the name that tried to log in. */
static void
on_login_done (GObject *unused, GAsyncResult *result, gpointer data)
{
  KtHttpLater *later = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (KtSession) session = kt_auth_login_finish (NULL, result, &error);
  SoupServerMessage *msg = kt_http_later_msg (later);
  KtApp *app = kt_http_later_app (later);

  if (msg == NULL) {
    g_debug ("login answer dropped: the client left or the server stopped");
  } else if (session == NULL) {
    if (g_error_matches (error, KT_AUTH_ERROR, KT_AUTH_ERROR_THROTTLED)) {
      guint wait = kt_auth_retry_after_s (kt_app_auth (app), kt_http_later_note (later));
      g_autofree char *text = g_strdup_printf ("%u", MAX (1, wait));
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After",
                                    text);
    }
    kt_http_error_from_gerror (msg, error);
  } else {
    set_cookie (msg, session->token, (session->expires_us - session->created_us) / G_USEC_PER_SEC);
    answer_session (app, msg, session);
  }
  kt_http_later_finish (later);
}

void
kt_http_login_handle (KtApp *app, KtRequest *request)
{
  static const KtJsonField fields[] = { { "name", TRUE }, { "password", TRUE } };
  const char *values[G_N_ELEMENTS (fields)];
  g_autoptr (JsonNode) body
      = kt_http_read_fields (request->msg, fields, G_N_ELEMENTS (fields), values);
  if (body == NULL)
    return;
  kt_auth_login_async (kt_app_auth (app), values[0], values[1],
                       soup_server_message_get_remote_host (request->msg), request->cancellable,
                       on_login_done, kt_http_later_new (app, request, values[0]));
}

void
kt_http_logout_handle (KtApp *app, KtRequest *request)
{
  g_autoptr (GError) error = NULL;
  if (!kt_auth_session_end (kt_app_auth (app), request->session, &error)) {
    kt_http_error_from_gerror (request->msg, error);
    return;
  }
  set_cookie (request->msg, NULL, 0);
  soup_message_headers_replace (soup_server_message_get_response_headers (request->msg),
                                "Cache-Control", "no-store");
  soup_server_message_set_status (request->msg, SOUP_STATUS_NO_CONTENT, NULL);
}

void
kt_http_me_handle (KtApp *app, KtRequest *request)
{
  answer_session (app, request->msg, request->session);
}
