/* kt-http: the HTTP server, its route table and the helpers routes share.
 *
 * One SoupServer handler receives every request and dispatches through
 * kt_routes[] below, the single list of what ketang answers. Each route
 * names who may use it ("public", "any" signed-in account, or roles), and
 * the dispatcher enforces that (kt_http_auth_check, in kt-http-auth.c)
 * before the handler runs, so a handler never forgets to. Keeping the table
 * in one place is what lets a test walk every route and check that each
 * one not marked public refuses a stranger.
 *
 * Before any route sees a path, it is split into segments and each is
 * percent-decoded and checked: an empty segment, "." or "..", or one that
 * decodes to something with '/', '\' or NUL in it (an encoded slash) is
 * refused with 400. Routes then build file paths only from checked segments;
 * the static route additionally resolves symlinks and refuses anything that
 * lands outside its directory.
 *
 * Every error a client gets has one JSON shape, made by kt_http_error();
 * kt_http_error_from_gerror() is the one place that maps module errors to
 * status codes.
 *
 * Connections live on the HTTP serving threads (kt-http-threads.c), which
 * answer segments, current playlists and people's heartbeats themselves
 * (answer_alone) and hand
 * every other request to the main thread, where the route table runs
 * (dispatch) like the rest of ketang. So a handler runs on the main context
 * and must never block: it answers from memory (playlists, mapped segments)
 * or from small files.
 *
 * HTTPS is libsoup's own (a GTlsCertificate on the server, the listening
 * socket marked HTTPS) when the config names a certificate; nothing else in
 * the routes changes, except that cookies set over TLS say Secure.
 */
#define G_LOG_DOMAIN "kt-http"

#include "kt-http.h"

#include "kt-build-config.h"
#include "kt-config.h"
#include "kt-http-threads.h"
#include "kt-library.h"
#include "kt-live-encoder.h"
#include "kt-metrics.h"
#include "kt-store.h"
#include "kt-viewpoint.h"

#define JSON_BODY_MAX (64 * 1024)

struct _KtHttp {
  KtApp *app;
  KtHttpThreads *threads; /* after kt_http_listen */
  char *base_uri;
  GTlsCertificate *tls; /* HTTPS (kt_http_set_tls) */
  GCancellable *cancellable; /* cancelled at free: answers still being made are dropped */
  gboolean debug; /* G_MESSAGES_DEBUG shows this domain's debug messages (read at new) */
};

/* First match wins, so exact paths come before the prefixes that hold them. */
static const KtRoute kt_routes[] = {
  { "/healthz", "GET HEAD", "public", kt_http_healthz_handle },
  { "/live/", "GET HEAD", "public", kt_http_live_handle },
  { "/media/", "GET HEAD", "public", kt_http_media_handle },
  { "/api/login", "POST", "public", kt_http_login_handle },
  { "/api/logout", "POST", "any", kt_http_logout_handle },
  { "/api/me", "GET HEAD", "any", kt_http_me_handle },
  { "/api/users", "GET HEAD POST", "admin", kt_http_users_handle },
  { "/api/schedules", "GET HEAD", "admin", kt_http_schedules_handle },
  { "/api/lessons", "POST", "teacher admin", kt_http_lessons_handle },
  { "/api/library/", "GET HEAD PATCH DELETE", "teacher admin", kt_http_library_handle },
  { "/api/uploads/", "GET HEAD POST PATCH DELETE", "teacher admin", kt_http_uploads_handle },
  { "/api/heartbeat", "POST", "public", kt_http_heartbeat_handle }, /* checks its own token */
  { "/api/kiosk", "GET HEAD", "public", kt_http_kiosk_handle },      /* checks its own token */
  { "/api/viewpoints/", "GET HEAD POST PATCH", "admin", kt_http_viewpoints_handle },
  { "/api/attendance/", "GET HEAD", "admin", kt_http_attendance_handle },
  { "/api/live/whip/", "POST DELETE", "public", kt_http_whip_handle }, /* session or publish key */
  { "/api/live/", "GET HEAD POST", "teacher admin", kt_http_publish_handle },
  { "/api/", "GET HEAD", "public", kt_http_api_handle },
  { "/metrics", "GET HEAD", "public", kt_http_metrics_handle }, /* loopback or bearer token */
  { "/schedule/", "GET HEAD", "public", kt_http_schedule_handle },
  { "/watch/", "GET HEAD", "public", kt_http_watch_handle },
  { "/vendor/", "GET HEAD", "public", kt_http_vendor_handle },
  { "/", "GET HEAD", "public", kt_http_static_handle },
};

const KtRoute *
kt_http_routes (guint *n_routes)
{
  *n_routes = G_N_ELEMENTS (kt_routes);
  return kt_routes;
}

void
kt_http_bytes (SoupServerMessage *msg, GBytes *bytes, const char *content_type,
               const char *cache_control)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (headers, "Cache-Control", cache_control);
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_COPY, NULL, 0);
  soup_message_body_append_bytes (soup_server_message_get_response_body (msg), bytes);
}

GBytes *
kt_http_json_text (JsonNode *root)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, root);
  gsize len;
  char *text = json_generator_to_data (gen, &len);
  return g_bytes_new_take (text, len);
}

void
kt_http_json_bytes (SoupServerMessage *msg, guint status, GBytes *json)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, KT_HTTP_JSON_TYPE, SOUP_MEMORY_COPY, NULL, 0);
  soup_message_body_append_bytes (soup_server_message_get_response_body (msg), json);
}

void
kt_http_json (SoupServerMessage *msg, guint status, JsonNode *root)
{
  g_autoptr (GBytes) json = kt_http_json_text (root);
  kt_http_json_bytes (msg, status, json);
}

void
kt_http_ok_empty (SoupServerMessage *msg)
{
  /* Not 204: libsoup 3.2 sends no Content-Length on a 204 and then ends the
   * response by closing the connection, so a player would pay a new
   * connection for every heartbeat. A body, even "{}", is a second send. */
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control",
                                "no-store");
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
}

void
kt_http_error (SoupServerMessage *msg, guint status, const char *code, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);

  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "code");
  json_builder_add_string_value (b, code);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  kt_http_json (msg, status, root);
}

void
kt_http_error_from_gerror (SoupServerMessage *msg, const GError *error)
{
  guint status = SOUP_STATUS_INTERNAL_SERVER_ERROR;
  const char *code = "internal";

  if (error->domain == KT_LIBRARY_ERROR) {
    switch ((KtLibraryError) error->code) {
      case KT_LIBRARY_ERROR_NOT_FOUND:
        status = SOUP_STATUS_NOT_FOUND, code = "not-found";
        break;
      case KT_LIBRARY_ERROR_BUSY:
        status = SOUP_STATUS_CONFLICT, code = "busy";
        break;
      case KT_LIBRARY_ERROR_MEDIA:
        status = SOUP_STATUS_UNPROCESSABLE_ENTITY, code = "bad-media";
        break;
      case KT_LIBRARY_ERROR_IO:
        break;
    }
  } else if (error->domain == KT_AUTH_ERROR) {
    switch ((KtAuthError) error->code) {
      case KT_AUTH_ERROR_INVALID:
        status = SOUP_STATUS_BAD_REQUEST, code = "invalid";
        break;
      case KT_AUTH_ERROR_EXISTS:
        status = SOUP_STATUS_CONFLICT, code = "exists";
        break;
      case KT_AUTH_ERROR_NOT_FOUND:
        status = SOUP_STATUS_NOT_FOUND, code = "not-found";
        break;
      case KT_AUTH_ERROR_CREDENTIALS:
        status = SOUP_STATUS_UNAUTHORIZED, code = "credentials";
        break;
      case KT_AUTH_ERROR_NO_SESSION:
        status = SOUP_STATUS_UNAUTHORIZED, code = "unauthenticated";
        break;
      case KT_AUTH_ERROR_DISABLED:
        status = SOUP_STATUS_FORBIDDEN, code = "disabled";
        break;
      case KT_AUTH_ERROR_THROTTLED: /* the caller adds Retry-After: it knows the name */
        status = 429, code = "throttled"; /* libsoup has no name for 429 */
        break;
      case KT_AUTH_ERROR_BUSY:
        soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                      "Retry-After", "1");
        status = SOUP_STATUS_SERVICE_UNAVAILABLE, code = "busy";
        break;
      case KT_AUTH_ERROR_STORE:
        break;
    }
  } else if (error->domain == KT_VIEWPOINT_ERROR) {
    switch ((KtViewpointError) error->code) {
      case KT_VIEWPOINT_ERROR_INVALID:
        status = SOUP_STATUS_BAD_REQUEST, code = "invalid";
        break;
      case KT_VIEWPOINT_ERROR_EXISTS:
        status = SOUP_STATUS_CONFLICT, code = "exists";
        break;
      case KT_VIEWPOINT_ERROR_NOT_FOUND:
        status = SOUP_STATUS_NOT_FOUND, code = "not-found";
        break;
      case KT_VIEWPOINT_ERROR_STORE:
        break;
    }
  } else if (error->domain == KT_LIVE_ERROR) {
    switch ((KtLiveError) error->code) {
      case KT_LIVE_ERROR_OFFER:
      case KT_LIVE_ERROR_REFUSED:
        status = SOUP_STATUS_BAD_REQUEST, code = "bad-offer";
        break;
      case KT_LIVE_ERROR_BUSY:
        status = SOUP_STATUS_CONFLICT, code = "busy";
        break;
      case KT_LIVE_ERROR_NO_TALK:
        status = SOUP_STATUS_NOT_FOUND, code = "no-talk";
        break;
      case KT_LIVE_ERROR_PIPELINE:
        break;
    }
  } else if (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT) ||
             g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND)) {
    status = SOUP_STATUS_NOT_FOUND, code = "not-found";
  }
  if (status >= 500)
    g_warning ("request failed: %s", error->message);
  kt_http_error (msg, status, code, "%s", error->message);
}

JsonNode *
kt_http_read_fields (SoupServerMessage *msg, const KtJsonField *fields, guint n_fields,
                     const char **values)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *type = soup_message_headers_get_content_type (headers, NULL);
  if (type == NULL || g_ascii_strcasecmp (type, "application/json") != 0) {
    /* Also what keeps a cross-site HTML form from posting here. */
    kt_http_error (msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, "bad-request",
                   "the body must be JSON (Content-Type: application/json)");
    return NULL;
  }
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  if (body->length > JSON_BODY_MAX) {
    kt_http_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "bad-request",
                   "the body is larger than %d bytes", JSON_BODY_MAX);
    return NULL;
  }
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) error = NULL;
  if (len == 0 || !g_utf8_validate (data, len, NULL) ||
      !json_parser_load_from_data (parser, data, len, &error) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    kt_http_error (msg, SOUP_STATUS_BAD_REQUEST, "bad-request", "the body must be a JSON object%s%s",
                   error ? ": " : "", error ? error->message : "");
    return NULL;
  }
  JsonNode *root = json_parser_steal_root (parser);
  JsonObject *object = json_node_get_object (root);
  g_autoptr (GList) members = json_object_get_members (object);
  for (GList *l = members; l; l = l->next) {
    guint i = 0;
    while (i < n_fields && !g_str_equal (fields[i].name, l->data))
      i++;
    JsonNode *node = json_object_get_member (object, l->data);
    if (i == n_fields || !JSON_NODE_HOLDS_VALUE (node) ||
        json_node_get_value_type (node) != G_TYPE_STRING) {
      kt_http_error (msg, SOUP_STATUS_BAD_REQUEST, "bad-request",
                     i == n_fields ? "unknown field “%s”" : "“%s” must be a string",
                     (const char *) l->data);
      json_node_unref (root);
      return NULL;
    }
  }
  for (guint i = 0; i < n_fields; i++) {
    values[i] = json_object_get_string_member_with_default (object, fields[i].name, NULL);
    if (values[i] == NULL && fields[i].required) {
      kt_http_error (msg, SOUP_STATUS_BAD_REQUEST, "bad-request", "“%s” is missing",
                     fields[i].name);
      json_node_unref (root);
      return NULL;
    }
  }
  return root;
}

void
kt_http_add_time (JsonBuilder *b, const char *name, gint64 us, GTimeZone *tz)
{
  g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);
  g_autoptr (GDateTime) local = g_date_time_to_timezone (utc, tz);
  g_autofree char *text = g_date_time_format (local, "%Y-%m-%dT%H:%M:%S%:z");
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, text);
}

void
kt_http_add_user (JsonBuilder *b, const char *name, const KtUser *user, GTimeZone *tz)
{
  if (name != NULL)
    json_builder_set_member_name (b, name);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_int_value (b, user->id);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, user->name);
  json_builder_set_member_name (b, "display_name");
  json_builder_add_string_value (b, user->display_name);
  json_builder_set_member_name (b, "role");
  json_builder_add_string_value (b, kt_role_to_string (user->role));
  json_builder_set_member_name (b, "disabled");
  json_builder_add_boolean_value (b, user->disabled);
  kt_http_add_time (b, "created", user->created_us, tz);
  json_builder_end_object (b);
}

struct _KtHttpLater {
  KtApp *app;
  SoupServerMessage *msg;
  GCancellable *cancellable; /* the server's */
  char *note;
};

KtHttpLater *
kt_http_later_new (KtApp *app, KtRequest *request, const char *note)
{
  KtHttpLater *later = g_new0 (KtHttpLater, 1);
  later->app = app;
  later->msg = g_object_ref (request->msg);
  later->cancellable = g_object_ref (request->cancellable);
  later->note = g_strdup (note);
  kt_http_threads_hold (later->msg);
  return later;
}

SoupServerMessage *
kt_http_later_msg (KtHttpLater *later)
{
  return g_cancellable_is_cancelled (later->cancellable) ? NULL : later->msg;
}

KtApp *
kt_http_later_app (KtHttpLater *later)
{
  return later->app;
}

const char *
kt_http_later_note (KtHttpLater *later)
{
  return later->note;
}

void
kt_http_later_finish (KtHttpLater *later)
{
  kt_http_threads_release (later->msg);
  g_object_unref (later->msg);
  g_object_unref (later->cancellable);
  g_free (later->note);
  g_free (later);
}

/* Split @path (percent-encoded, starting with '/') into checked, decoded
 * segments. FALSE when a segment is not acceptable. */
static gboolean
split_path (const char *path, GPtrArray *parts, gboolean *trailing_slash)
{
  g_auto (GStrv) raw = g_strsplit (path + 1, "/", -1);
  guint n = g_strv_length (raw);

  *trailing_slash = n > 0 && raw[n - 1][0] == '\0';
  for (guint i = 0; i < n; i++) {
    if (raw[i][0] == '\0') {
      if (i == n - 1) /* the trailing slash */
        break;
      return FALSE;   /* "//" */
    }
    char *decoded = g_uri_unescape_segment (raw[i], NULL, "/");
    if (decoded == NULL || g_str_equal (decoded, ".") || g_str_equal (decoded, "..") ||
        strchr (decoded, '\\') != NULL || !g_utf8_validate (decoded, -1, NULL)) {
      g_free (decoded);
      return FALSE;
    }
    g_ptr_array_add (parts, decoded);
  }
  return TRUE;
}

/* @method is one of the space-separated words of @methods. Per request, so
 * without splitting @methods into new strings. */
static gboolean
method_allowed (const char *methods, const char *method)
{
  gsize len = strlen (method);
  if (len == 0)
    return FALSE; /* libsoup passes "" for a request line that starts with a space */
  for (const char *p = methods; (p = strstr (p, method)) != NULL; p += len)
    if ((p == methods || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0'))
      return TRUE;
  return FALSE;
}

/* What /metrics needs to know about a request when its answer is written:
 * the route that took it (a prefix from kt_routes[], never the client's
 * path) and when it came in. */
static GQuark served_quark;

typedef struct {
  const char *route;
  gint64 started_us; /* monotonic */
  gboolean alone;    /* answered by the serving thread (answer_alone) */
} KtServed;

static void
mark_served (SoupServerMessage *msg)
{
  KtServed *served = g_new0 (KtServed, 1); /* route NULL until one takes it */
  served->started_us = g_get_monotonic_time ();
  g_object_set_qdata_full (G_OBJECT (msg), served_quark, served, g_free);
}

static void
count_served (KtHttp *http, SoupServerMessage *msg, gboolean aborted)
{
  const KtServed *served = g_object_get_qdata (G_OBJECT (msg), served_quark);
  if (served == NULL) /* refused before routing (a body over the limit) */
    return;
  guint status = aborted ? 0 : soup_server_message_get_status (msg);
  gboolean head = g_str_equal (soup_server_message_get_method (msg), "HEAD");
  guint64 bytes = aborted || head ? 0 : soup_server_message_get_response_body (msg)->length;
  kt_metrics_count_request (kt_app_metrics (http->app), served->route, status, bytes,
                            (g_get_monotonic_time () - served->started_us) / 1e6, served->alone);
}

static void
on_request_finished (SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
  count_served (user_data, msg, FALSE);
  kt_http_closed_mark_idle (msg);
}

static void
on_request_aborted (SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
  count_served (user_data, msg, TRUE);
}

/* On the main thread: every request a serving thread did not answer. */
static void
dispatch (SoupServerMessage *msg, gpointer user_data)
{
  KtHttp *http = user_data;
  GUri *uri = soup_server_message_get_uri (msg);
  const char *path = g_uri_get_path (uri);
  const char *method = soup_server_message_get_method (msg);

  /* g_debug formats its message before GLib decides to drop it: asked
   * here, per request, only when debug output is on. */
  if (http->debug)
    g_debug ("request method=%s path=%s", method, path);
  if (path == NULL || path[0] != '/') {
    kt_http_error (msg, SOUP_STATUS_BAD_REQUEST, "bad-path", "bad request path");
    return;
  }

  for (guint i = 0; i < G_N_ELEMENTS (kt_routes); i++) {
    const KtRoute *route = &kt_routes[i];
    gsize len = strlen (route->prefix);
    gboolean dir_prefix = route->prefix[len - 1] == '/';
    gboolean matches = dir_prefix ? (strncmp (path, route->prefix, len) == 0 ||
                                     (strncmp (path, route->prefix, len - 1) == 0 &&
                                      path[len - 1] == '\0'))
                                  : g_str_equal (path, route->prefix);
    if (!matches)
      continue;
    ((KtServed *) g_object_get_qdata (G_OBJECT (msg), served_quark))->route = route->prefix;

    if (!method_allowed (route->methods, method)) {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow",
                                    route->methods);
      kt_http_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method-not-allowed",
                     "%s is not allowed here", method);
      return;
    }
    g_autoptr (KtSession) session = NULL;
    if (!kt_http_auth_check (http->app, route, msg, &session))
      return;
    g_autoptr (GPtrArray) parts = g_ptr_array_new_with_free_func (g_free);
    gboolean trailing_slash = FALSE;
    const char *rest = path + MIN (strlen (path), dir_prefix ? len - 1 : len);
    if (rest[0] == '/' && !split_path (rest, parts, &trailing_slash)) {
      kt_http_error (msg, SOUP_STATUS_BAD_REQUEST, "bad-path", "bad request path");
      return;
    }
    g_ptr_array_add (parts, NULL);
    KtRequest request = { msg,
                          path,
                          (const char *const *) parts->pdata,
                          parts->len - 1,
                          trailing_slash,
                          session ? session->user : NULL,
                          session,
                          http->cancellable };
    route->handler (http->app, &request);
    return;
  }
  kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such page");
}

void
kt_http_client_of (SoupServerMessage *msg, KtHttpClient *client)
{
  client->host = soup_server_message_get_remote_host (msg);
  client->agent = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                "User-Agent");
  client->query = g_uri_get_query (soup_server_message_get_uri (msg));
}

/* On a serving thread: a GET or HEAD of @path that shared state answers
 * (kt_http_live_answer_shared, kt_http_media_answer_shared), and its route;
 * NULL for the route table. Anything unusual about the path (an escape, a
 * dot segment, another shape) goes to dispatch, which checks it fully. */
static const char *
answer_shared (KtHttp *http, const char *path, const KtHttpClient *client, KtHttpShared *answer,
               KtHttpPrepare *prepare, gboolean file_ok)
{
  if (strchr (path, '%') != NULL || strchr (path, '\\') != NULL)
    return NULL;
  const char *route = g_str_has_prefix (path, "/media/") ? "/media/"
                      : g_str_has_prefix (path, "/live/") ? "/live/"
                                                          : NULL;
  if (route == NULL)
    return NULL;
  g_auto (GStrv) parts = g_strsplit (path + strlen (route), "/", 4);
  guint n = g_strv_length (parts);
  if (n != 3 && !(n == 2 && route[1] == 'l')) /* /live/<channel>/index.m3u8 has two */
    return NULL;
  for (guint i = 0; i < n; i++)
    if (parts[i][0] == '\0' || g_str_equal (parts[i], ".") || g_str_equal (parts[i], ".."))
      return NULL;
  gboolean answered
      = route[1] == 'm'
            ? kt_http_media_answer_shared (http->app, (const char *const *) parts, file_ok,
                                           answer)
            : kt_http_live_answer_shared (http->app, (const char *const *) parts, client, answer,
                                          prepare);
  return answered ? route : NULL;
}

/* On the main thread, for the direct path: the channel list, which every
 * player page asks for every 15 s. Made here and given there, so that the
 * page's connections stay with the direct path. */
static void
answer_channels (gpointer data, KtHttpTicket *ticket)
{
  KtHttp *http = data;
  KtHttpShared answer
      = { kt_http_channels_json (http->app), NULL, KT_HTTP_JSON_TYPE, "no-store", FALSE };
  kt_http_direct_answer (ticket, "/api/", &answer);
}

/* The same for a channel's guide for today, which the page asks for once
 * a lesson. */
typedef struct {
  KtHttp *http;
  char *channel;
} KtGuideAsked;

static void
guide_asked_free (gpointer data)
{
  KtGuideAsked *asked = data;
  g_free (asked->channel);
  g_free (asked);
}

static void
answer_guide (gpointer data, KtHttpTicket *ticket)
{
  KtGuideAsked *asked = data;
  KtHttpShared answer = { kt_http_guide_today_json (asked->http->app, asked->channel), NULL,
                          KT_HTTP_JSON_TYPE, "no-store", FALSE };
  if (answer.body == NULL) /* no such channel: the route's handler says so */
    kt_http_direct_retry (ticket);
  else
    kt_http_direct_answer (ticket, "/api/", &answer);
}

/* kt-http-direct's hooks. */
static const char *
answer_direct (const char *path, const KtHttpClient *client, KtHttpShared *answer,
               KtHttpPrepare *prepare, gpointer data)
{
  KtHttp *http = data;
  if (g_str_has_prefix (path, "/api/")) {
    /* Made on the main thread: the channel list and today's guide (no
     * range asked, a plain channel id). */
    g_auto (GStrv) parts = g_strsplit (path + 5, "/", 4);
    guint n = g_strv_length (parts);
    /* "/api/" alone splits into no parts at all. */
    if (prepare == NULL || n == 0 || !g_str_equal (parts[0], "channels") ||
        strpbrk (path, "%\\.") != NULL)
      return NULL;
    if (n == 1) {
      *prepare = (KtHttpPrepare) { answer_channels, http, NULL };
    } else if (n == 3 && parts[1][0] != '\0' && g_str_equal (parts[2], "guide") &&
               client->query == NULL) {
      KtGuideAsked *asked = g_new0 (KtGuideAsked, 1);
      *asked = (KtGuideAsked) { http, g_strdup (parts[1]) };
      *prepare = (KtHttpPrepare) { answer_guide, asked, guide_asked_free };
    }
    return NULL;
  }
  return answer_shared (http, path, client, answer, prepare, TRUE);
}

static const char *
answer_direct_post (const char *path, const char *body, gsize len, KtHttpShared *answer,
                    gpointer data)
{
  KtHttp *http = data;
  if (!g_str_equal (path, "/api/heartbeat") ||
      !kt_http_heartbeat_answer_data (http, http->app, body, len))
    return NULL;
  *answer = (KtHttpShared) { NULL, NULL, NULL, "no-store", FALSE }; /* as kt_http_ok_empty */
  return "/api/heartbeat";
}

static void
count_direct (const char *route, guint64 bytes, double seconds, gpointer data)
{
  KtHttp *http = data;
  kt_metrics_count_request (kt_app_metrics (http->app), route, SOUP_STATUS_OK, bytes, seconds,
                            TRUE);
}

/* On a serving thread, for the requests libsoup read: answer there what
 * shared state answers (answer_shared, kt_http_heartbeat_answer_alone). */
static gboolean
answer_alone (SoupServerMessage *msg, gpointer user_data)
{
  KtHttp *http = user_data;
  mark_served (msg);
  KtServed *served = g_object_get_qdata (G_OBJECT (msg), served_quark);
  const char *path = g_uri_get_path (soup_server_message_get_uri (msg));
  const char *method = soup_server_message_get_method (msg);
  if (path != NULL && g_str_equal (path, "/api/heartbeat") && g_str_equal (method, "POST")) {
    if (!kt_http_heartbeat_answer_alone (http, http->app, msg))
      return FALSE;
    served->route = "/api/heartbeat";
    served->alone = TRUE;
    return TRUE;
  }
  if (path == NULL || !(g_str_equal (method, "GET") || g_str_equal (method, "HEAD")))
    return FALSE;
  KtHttpClient client;
  kt_http_client_of (msg, &client);
  KtHttpShared answer;
  const char *route = answer_shared (http, path, &client, &answer, NULL, FALSE);
  if (route == NULL)
    return FALSE;
  if (answer.any_origin)
    soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                  "Access-Control-Allow-Origin", "*");
  kt_http_bytes (msg, answer.body, answer.content_type, answer.cache_control);
  g_bytes_unref (answer.body);
  served->route = route;
  served->alone = TRUE;
  return TRUE;
}

/* Request bodies are collected in memory before a handler runs, so their
 * size is bounded here, as soon as the headers are in: JSON bodies to
 * JSON_BODY_MAX, upload chunks to KT_HTTP_UPLOAD_CHUNK_MAX. A declared
 * length over the bound is answered 413 at once when the client asked
 * "Expect: 100-continue" (libsoup then skips the body); otherwise libsoup
 * would read the whole body first, so the connection is closed instead. A
 * chunked body that grows past the bound has its connection closed too. */
typedef struct {
  goffset limit;
  goffset received;
} BodyGuard;

static void
on_body_chunk (SoupServerMessage *msg, GBytes *chunk, gpointer data)
{
  BodyGuard *guard = data;
  guard->received += g_bytes_get_size (chunk);
  if (guard->received > guard->limit) {
    g_warning ("request body over %" G_GOFFSET_FORMAT " bytes: closing the connection",
               guard->limit);
    GSocket *socket = kt_http_direct_message_socket (msg);
    if (socket != NULL)
      g_socket_shutdown (socket, TRUE, TRUE, NULL);
  }
}

static void
on_request_headers (SoupServer *server, SoupServerMessage *msg, const char *path,
                    GHashTable *query, gpointer user_data)
{
  const char *method = soup_server_message_get_method (msg);
  if (g_str_equal (method, "GET") || g_str_equal (method, "HEAD"))
    return;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  goffset limit = g_str_equal (method, "PATCH") && g_str_has_prefix (path, "/api/uploads/")
                      ? KT_HTTP_UPLOAD_CHUNK_MAX : JSON_BODY_MAX;
  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH) {
    if (soup_message_headers_get_content_length (headers) > limit) {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection",
                                    "close");
      kt_http_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "too-large",
                     "the request body is larger than %" G_GOFFSET_FORMAT " bytes", limit);
      if (!(soup_message_headers_get_expectations (headers) & SOUP_EXPECTATION_CONTINUE)) {
        GSocket *socket = kt_http_direct_message_socket (msg);
        if (socket != NULL)
          g_socket_shutdown (socket, TRUE, TRUE, NULL);
      }
    }
    return;
  }
  BodyGuard *guard = g_new0 (BodyGuard, 1);
  guard->limit = limit;
  g_signal_connect_data (msg, "got-chunk", G_CALLBACK (on_body_chunk), guard,
                         (GClosureNotify) (void (*) (void)) g_free, 0);
}

/* Each serving thread's server: everything but the request handler, which
 * kt-http-threads adds. */
static SoupServer *
make_server (gpointer user_data)
{
  KtHttp *http = user_data;
  SoupServer *server = soup_server_new ("server-header", "ketang/" KT_VERSION " ", "tls-certificate",
                                        http->tls, NULL);
  soup_server_add_early_handler (server, NULL, on_request_headers, http, NULL);
  g_signal_connect (server, "request-finished", G_CALLBACK (on_request_finished), http);
  g_signal_connect (server, "request-aborted", G_CALLBACK (on_request_aborted), http);
  return server;
}

KtHttp *
kt_http_new (KtApp *app)
{
  KtHttp *http = g_new0 (KtHttp, 1);
  if (served_quark == 0)
    served_quark = g_quark_from_static_string ("kt-http-served");
  http->app = app;
  http->debug = !g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN);
  http->cancellable = g_cancellable_new ();
  kt_http_closed_install ();
  return http;
}

gboolean
kt_http_set_tls (KtHttp *http, const char *certificate, const char *key, GError **error)
{
  g_autoptr (GTlsCertificate) tls =
      key && *key ? g_tls_certificate_new_from_files (certificate, key, error)
                  : g_tls_certificate_new_from_file (certificate, error);
  if (tls == NULL) {
    g_prefix_error (error, "TLS certificate %s: ", certificate);
    return FALSE;
  }
  g_set_object (&http->tls, tls);
  return TRUE;
}

gboolean
kt_http_listen (KtHttp *http, const char *listen, GError **error)
{
  const char *colon = strrchr (listen, ':');
  g_autofree char *host = g_strndup (listen, colon - listen);
  guint64 port = g_ascii_strtoull (colon + 1, NULL, 10);

  if (host[0] == '[' && host[strlen (host) - 1] == ']') {
    char *inner = g_strndup (host + 1, strlen (host) - 2);
    g_free (host);
    host = inner;
  }
  if (g_str_equal (host, "localhost")) {
    g_free (host);
    host = g_strdup ("127.0.0.1");
  }
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new_from_string (host, port);
  if (address == NULL) {
    g_set_error (error, KT_APP_ERROR, KT_APP_ERROR_LISTEN,
                 "cannot listen on “%s”: the host must be an IP address", listen);
    return FALSE;
  }
  /* A plain socket first (see kt-http-threads.c): refused when the port is
   * taken, and it tells which port 0 picked. */
  g_autoptr (GSocket) probe = kt_http_bound_socket (address, FALSE, error);
  g_autoptr (GSocketAddress) local = probe ? g_socket_get_local_address (probe, error) : NULL;
  if (local != NULL) {
    g_socket_close (probe, NULL);
    /* 0: four per processor, up to 16. Each thread walks only its own
     * connections' poll records, so more threads than cores carried more
     * viewers, and four per processor carried as many viewers as two and
     * more single heartbeats (docs/serving.md); a container may see the
     * host's processors, hence the cap, and whoever wants more sets threads. */
    guint n_threads = kt_config_get_int (kt_app_config (http->app), "server", "threads");
    if (n_threads == 0)
      n_threads = MIN (4 * g_get_num_processors (), 16);
    KtHttpThreadsHooks hooks = {
      .make_server = make_server,
      .answer_alone = answer_alone,
      .dispatch = dispatch,
      .direct = { answer_direct, answer_direct_post, count_direct, http, "ketang/" KT_VERSION },
      .data = http,
      .cancellable = http->cancellable,
    };
    http->threads = kt_http_threads_start (&hooks, n_threads,
                                           local, http->tls ? SOUP_SERVER_LISTEN_HTTPS : 0, error);
  }
  if (http->threads == NULL) {
    g_prefix_error (error, "cannot listen on %s: ", listen);
    return FALSE;
  }
  GSList *uris = kt_http_threads_uris (http->threads);
  if (uris != NULL) {
    g_autofree char *text = g_uri_to_string (uris->data);
    http->base_uri = g_str_has_suffix (text, "/") ? g_strdup (text) : g_strconcat (text, "/", NULL);
  }
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return TRUE;
}

void
kt_http_to_main (KtHttp *http, KtInboxFunc run, KtInboxFunc drop, gpointer data)
{
  kt_http_threads_to_main (http->threads, run, drop, data);
}

const char *
kt_http_base_uri (KtHttp *http)
{
  return http->base_uri;
}

void
kt_http_free (KtHttp *http)
{
  if (http == NULL)
    return;
  g_cancellable_cancel (http->cancellable);
  g_clear_pointer (&http->threads, kt_http_threads_stop);
  g_clear_object (&http->cancellable);
  g_clear_object (&http->tls);
  g_free (http->base_uri);
  g_free (http);
}
