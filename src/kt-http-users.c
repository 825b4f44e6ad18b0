/* kt-http-users: the accounts API, for administrators (the route table
 * admits only role admin, and POST needs the CSRF token).
 *
 *   GET  /api/users   every account, without password hashes
 *   POST /api/users   {"name", "password", "role", "display_name"?} → 201 {"user"}
 *
 * Requests are checked field by field with clear messages: unknown or
 * missing fields and non-string values are 400 "bad-request", a bad name,
 * role or password is 400 "invalid", a taken name 409 "exists". Creating an
 * account hashes its password on a worker thread and answers afterwards.
 */
#define G_LOG_DOMAIN "kt-http"

#include "kt-http.h"

static void
list_users (KtApp *app, SoupServerMessage *msg)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) users = kt_auth_user_list (kt_app_auth (app), &error);
  if (users == NULL) {
    kt_http_error_from_gerror (msg, error);
    return;
  }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "users");
  json_builder_begin_array (b);
  for (guint i = 0; i < users->len; i++)
    kt_http_add_user (b, NULL, users->pdata[i], kt_app_timezone (app));
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  kt_http_json (msg, SOUP_STATUS_OK, root);
}

/* The note is the administrator's name. */
static void
on_user_added (GObject *unused, GAsyncResult *result, gpointer data)
{
  KtHttpLater *later = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (KtUser) user = kt_auth_user_add_finish (NULL, result, &error);
  SoupServerMessage *msg = kt_http_later_msg (later);

  if (msg != NULL && user == NULL) {
    kt_http_error_from_gerror (msg, error);
  } else if (msg != NULL) {
    g_info ("account added over HTTP name=%s by=%s", user->name, kt_http_later_note (later));
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    kt_http_add_user (b, "user", user, kt_app_timezone (kt_http_later_app (later)));
    json_builder_end_object (b);
    g_autoptr (JsonNode) root = json_builder_get_root (b);
    kt_http_json (msg, SOUP_STATUS_CREATED, root);
  }
  kt_http_later_finish (later);
}

static void
add_user (KtApp *app, KtRequest *request)
{
  static const KtJsonField fields[]
      = { { "name", TRUE }, { "password", TRUE }, { "role", TRUE }, { "display_name", FALSE } };
  const char *values[G_N_ELEMENTS (fields)];
  SoupServerMessage *msg = request->msg;
  g_autoptr (JsonNode) body = kt_http_read_fields (msg, fields, G_N_ELEMENTS (fields), values);
  if (body == NULL)
    return;
  KtRole role;
  if (!kt_role_from_string (values[2], &role)) {
    kt_http_error (msg, SOUP_STATUS_BAD_REQUEST, "invalid",
                   "role must be admin, teacher or viewpoint, not “%s”", values[2]);
    return;
  }
  kt_auth_user_add_async (kt_app_auth (app), values[0], values[3], role, values[1],
                          request->cancellable, on_user_added,
                          kt_http_later_new (app, request, request->user->name));
}

void
kt_http_users_handle (KtApp *app, KtRequest *request)
{
  if (g_str_equal (soup_server_message_get_method (request->msg), "POST"))
    add_user (app, request);
  else
    list_users (app, request->msg);
}
