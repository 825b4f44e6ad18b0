/* kt-http-viewpoints: viewing points (收视点) for administrators.
 *
 *   GET   /api/viewpoints        {"viewpoints": [{id, name, township, contact, phone,
 *                                 seats, channel, disabled, code, created}]}
 *   POST  /api/viewpoints        {"name", "township", "contact"?, "phone"?, "seats"?,
 *                                 "channel"?} → 201 {"viewpoint", "token", "kiosk"}
 *   PATCH /api/viewpoints/<id>   any of those fields and "disabled" (true/false)
 *   POST  /api/viewpoints/<id>/token  a new token → {"viewpoint", "token", "kiosk"}
 *
 * The token is in the answer to POST only: the database keeps its hash,
 * never the token, and no answer ever carries a hash. A lost token is
 * replaced (here, or with `ketang viewpoint token NAME`); the old one stops
 * working at once.
 */
#define G_LOG_DOMAIN "kt-http"

#include "kt-http.h"
#include "kt-viewpoint.h"

static void
add_viewpoint (JsonBuilder *b, const KtViewpoint *v, GTimeZone *tz)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_int_value (b, v->id);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, v->name);
  json_builder_set_member_name (b, "township");
  json_builder_add_string_value (b, v->township);
  json_builder_set_member_name (b, "contact");
  json_builder_add_string_value (b, v->contact);
  json_builder_set_member_name (b, "phone");
  json_builder_add_string_value (b, v->phone);
  json_builder_set_member_name (b, "seats");
  json_builder_add_int_value (b, v->seats);
  json_builder_set_member_name (b, "channel");
  json_builder_add_string_value (b, v->channel);
  json_builder_set_member_name (b, "disabled");
  json_builder_add_boolean_value (b, v->disabled);
  json_builder_set_member_name (b, "code");
  json_builder_add_string_value (b, v->code);
  kt_http_add_time (b, "created", v->created_us, tz);
  json_builder_end_object (b);
}

/* The body's fields into @f (strings borrowed from the returned parser);
 * NULL with 400 answered when it is not such an object. */
static JsonParser *
read_fields (SoupServerMessage *msg, KtViewpointFields *f)
{
  *f = (KtViewpointFields) { NULL, NULL, NULL, NULL, -1, -1, NULL };
  g_autoptr (GBytes) bytes = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  if (len == 0 || len > 64 * 1024 || !g_utf8_validate (data, len, NULL) ||
      !json_parser_load_from_data (parser, data, len, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    kt_http_error (msg, SOUP_STATUS_BAD_REQUEST, "bad-request", "the body must be a JSON object");
    return NULL;
  }
  JsonObject *o = json_node_get_object (json_parser_get_root (parser));
  static const char *const texts[] = { "name", "township", "contact", "phone", "channel" };
  const char **slots[] = { &f->name, &f->township, &f->contact, &f->phone, &f->channel };
  g_autoptr (GList) members = json_object_get_members (o);
  for (GList *l = members; l; l = l->next) {
    const char *member = l->data;
    JsonNode *node = json_object_get_member (o, member);
    GType type = JSON_NODE_HOLDS_VALUE (node) ? json_node_get_value_type (node) : G_TYPE_NONE;
    gboolean ok = FALSE;
    for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
      if (g_str_equal (member, texts[i]) && type == G_TYPE_STRING) {
        *slots[i] = json_node_get_string (node);
        ok = TRUE;
      }
    if (g_str_equal (member, "seats") && type == G_TYPE_INT64 && json_node_get_int (node) >= 0) {
      f->seats = json_node_get_int (node);
      ok = TRUE;
    }
    if (g_str_equal (member, "disabled") && type == G_TYPE_BOOLEAN) {
      f->disabled = json_node_get_boolean (node);
      ok = TRUE;
    }
    if (!ok) {
      kt_http_error (msg, SOUP_STATUS_BAD_REQUEST, "bad-request", "bad or unknown field “%s”",
                     member);
      return NULL;
    }
  }
  return g_steal_pointer (&parser);
}

static void
reply_one (KtApp *app, SoupServerMessage *msg, guint status, const KtViewpoint *v,
           const char *token)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "viewpoint");
  add_viewpoint (b, v, kt_app_timezone (app));
  if (token != NULL) {
    g_autofree char *kiosk = kt_viewpoint_kiosk_path (token, NULL);
    json_builder_set_member_name (b, "token");
    json_builder_add_string_value (b, token);
    json_builder_set_member_name (b, "kiosk");
    json_builder_add_string_value (b, kiosk);
  }
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  kt_http_json (msg, status, root);
}

static void
list_viewpoints (KtApp *app, SoupServerMessage *msg)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) all = kt_viewpoint_list (kt_app_store (app), &error);
  if (all == NULL) {
    kt_http_error_from_gerror (msg, error);
    return;
  }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "viewpoints");
  json_builder_begin_array (b);
  for (guint i = 0; i < all->len; i++)
    add_viewpoint (b, all->pdata[i], kt_app_timezone (app));
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  kt_http_json (msg, SOUP_STATUS_OK, root);
}

void
kt_http_viewpoints_handle (KtApp *app, KtRequest *request)
{
  SoupServerMessage *msg = request->msg;
  const char *method = soup_server_message_get_method (msg);
  g_autoptr (GError) error = NULL;
  KtViewpointFields f;

  if (request->n_parts == 0 && (g_str_equal (method, "GET") || g_str_equal (method, "HEAD"))) {
    list_viewpoints (app, msg);
  } else if (request->n_parts == 0 && g_str_equal (method, "POST")) {
    g_autoptr (JsonParser) parser = read_fields (msg, &f);
    if (parser == NULL)
      return;
    g_autofree char *token = NULL;
    g_autoptr (KtViewpoint) v = kt_viewpoint_add (kt_app_store (app), &f, &token, &error);
    if (v == NULL)
      kt_http_error_from_gerror (msg, error);
    else
      reply_one (app, msg, SOUP_STATUS_CREATED, v, token);
  } else if (request->n_parts == 1 && g_str_equal (method, "PATCH")) {
    gint64 id;
    if (!g_ascii_string_to_signed (request->parts[0], 10, 1, G_MAXINT64, &id, NULL)) {
      kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such viewing point");
      return;
    }
    g_autoptr (JsonParser) parser = read_fields (msg, &f);
    if (parser == NULL)
      return;
    g_autoptr (KtViewpoint) v = kt_viewpoint_update (kt_app_store (app), id, &f, &error);
    if (v == NULL)
      kt_http_error_from_gerror (msg, error);
    else
      reply_one (app, msg, SOUP_STATUS_OK, v, NULL);
  } else if (request->n_parts == 2 && g_str_equal (request->parts[1], "token") &&
             g_str_equal (method, "POST")) {
    gint64 id;
    g_autoptr (KtViewpoint) v = NULL;
    g_autofree char *token = NULL;
    if (g_ascii_string_to_signed (request->parts[0], 10, 1, G_MAXINT64, &id, NULL))
      v = kt_viewpoint_find_id (kt_app_store (app), id, &error);
    else
      g_set_error (&error, KT_VIEWPOINT_ERROR, KT_VIEWPOINT_ERROR_NOT_FOUND,
                   "no such viewing point");
    if (v != NULL)
      token = kt_viewpoint_new_token (kt_app_store (app), v->name, &error);
    if (token == NULL)
      kt_http_error_from_gerror (msg, error);
    else
      reply_one (app, msg, SOUP_STATUS_OK, v, token);
  } else {
    kt_http_error (msg, request->n_parts > 2 ? SOUP_STATUS_NOT_FOUND
                                             : SOUP_STATUS_METHOD_NOT_ALLOWED,
                   "method-not-allowed", "%s is not allowed here", method);
  }
}
