/* kt-http-upload: the resumable upload protocol, for teachers' pages.
 *
 *   POST   /api/uploads        {"filename", "size", "title"} → 201 {"id", "offset": 0, …}
 *   GET    /api/uploads        the caller's uploads (an administrator's: all)
 *   GET    /api/uploads/<id>   where it stands: {"offset", "size", "state", "item", "error"}
 *   PATCH  /api/uploads/<id>   Upload-Offset: N, body = the next bytes (≤ 8 MiB)
 *   DELETE /api/uploads/<id>   give up; the bytes are removed
 *
 * A page sends the file in chunks, each with the offset it starts at. After
 * any failure it asks GET for the offset the server holds and goes on from
 * there: a dropped connection costs at most the chunk in flight. A chunk at
 * the wrong offset is answered 409 with the right one. The last chunk's
 * answer says whether the file was accepted for preparation (its item id)
 * or refused (why, in words a teacher understands).
 *
 * Only the owner (or an administrator) sees or touches an upload; others get
 * 404, so upload ids reveal nothing.
 *
 * An upload whose last byte arrived is "complete" until its import is
 * decided. A server killed in that moment would leave it "complete" for
 * ever, the page waiting for an answer that never comes, so the next start
 * (kt_http_uploads_recover) finishes the job: the item an upload is imported
 * as carries the upload's id, and is found again if it was made; else the
 * kept file is imported anew.
 */
#define G_LOG_DOMAIN "kt-http"

#include "kt-http.h"
#include "kt-probe.h"
#include "kt-upload.h"

static void
add_upload (JsonBuilder *b, const KtUpload *u)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, u->id);
  json_builder_set_member_name (b, "filename");
  json_builder_add_string_value (b, u->filename);
  json_builder_set_member_name (b, "title");
  json_builder_add_string_value (b, u->title);
  json_builder_set_member_name (b, "size");
  json_builder_add_int_value (b, u->size);
  json_builder_set_member_name (b, "offset");
  json_builder_add_int_value (b, u->offset);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, u->state);
  json_builder_set_member_name (b, "item");
  json_builder_add_string_value (b, u->item_id);
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, u->error);
  json_builder_set_member_name (b, "chunk_max");
  json_builder_add_int_value (b, KT_HTTP_UPLOAD_CHUNK_MAX);
  json_builder_end_object (b);
}

static void
reply_upload (SoupServerMessage *msg, guint status, const KtUpload *u)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  add_upload (b, u);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *offset = g_strdup_printf ("%" G_GUINT64_FORMAT, u->offset);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Upload-Offset",
                                offset);
  kt_http_json (msg, status, root);
}

static void
upload_error (SoupServerMessage *msg, const GError *error)
{
  if (error->domain != KT_UPLOAD_ERROR) {
    kt_http_error_from_gerror (msg, error);
    return;
  }
  static const struct {
    guint status;
    const char *code;
  } map[] = {
    [KT_UPLOAD_ERROR_NOT_FOUND] = { SOUP_STATUS_NOT_FOUND, "not-found" },
    [KT_UPLOAD_ERROR_TOO_LARGE] = { SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "too-large" },
    [KT_UPLOAD_ERROR_OFFSET] = { SOUP_STATUS_CONFLICT, "offset" },
    [KT_UPLOAD_ERROR_INVALID] = { SOUP_STATUS_BAD_REQUEST, "invalid" },
    [KT_UPLOAD_ERROR_IO] = { SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal" },
  };
  if (error->code == KT_UPLOAD_ERROR_IO)
    g_warning ("upload failed: %s", error->message);
  kt_http_error (msg, map[error->code].status, map[error->code].code, "%s", error->message);
}

static void
create_upload (KtApp *app, KtRequest *request)
{
  SoupServerMessage *msg = request->msg;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);
  JsonObject *o = NULL;
  if (len > 0 && g_utf8_validate (data, len, NULL) &&
      json_parser_load_from_data (parser, data, len, NULL) &&
      JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    o = json_node_get_object (json_parser_get_root (parser));
  JsonNode *size = o ? json_object_get_member (o, "size") : NULL;
  JsonNode *filename = o ? json_object_get_member (o, "filename") : NULL;
  JsonNode *title = o ? json_object_get_member (o, "title") : NULL;
  if (size == NULL || json_node_get_value_type (size) != G_TYPE_INT64 ||
      json_node_get_int (size) < 0 || filename == NULL ||
      json_node_get_value_type (filename) != G_TYPE_STRING ||
      (title && json_node_get_value_type (title) != G_TYPE_STRING)) {
    kt_http_error (msg, SOUP_STATUS_BAD_REQUEST, "invalid",
                   "the body must be JSON: {\"filename\": text, \"size\": bytes, \"title\": text}");
    return;
  }
  g_autoptr (GError) error = NULL;
  g_autoptr (KtUpload) u =
      kt_uploads_create (kt_app_uploads (app), request->user->name,
                         json_node_get_string (filename),
                         title ? json_node_get_string (title) : "", json_node_get_int (size),
                         &error);
  if (u == NULL) {
    upload_error (msg, error);
    return;
  }
  reply_upload (msg, SOUP_STATUS_CREATED, u);
}

static void
list_uploads (KtApp *app, KtRequest *request)
{
  gboolean admin = request->user->role == KT_ROLE_ADMIN;
  g_autoptr (GPtrArray) list = kt_uploads_list (kt_app_uploads (app), admin ? NULL : request->user->name);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "uploads");
  json_builder_begin_array (b);
  for (guint i = 0; i < list->len; i++)
    add_upload (b, list->pdata[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  kt_http_json (request->msg, SOUP_STATUS_OK, root);
}

/* The note is the upload's id. */
/* The end of an import: the item (named as teachers know its teacher), or
 * the refusal in words for the teacher. */
static void
record_outcome (KtApp *app, const char *id, const char *item_id, const GError *error)
{
  if (item_id == NULL)
    g_info ("upload=%s refused: %s", id, error->message);
  g_autoptr (KtUpload) done = kt_uploads_get (kt_app_uploads (app), id);
  if (item_id != NULL && done != NULL) {
    /* Viewers and the guide name the teacher as people know them. */
    g_autoptr (KtUser) owner = kt_auth_user_find (kt_app_auth (app), done->owner, NULL);
    if (owner != NULL)
      kt_library_set_text (kt_app_library (app), item_id, NULL, NULL, owner->display_name, NULL);
  }
  kt_uploads_set_outcome (kt_app_uploads (app), id, item_id,
                          item_id ? NULL : kt_probe_error_teacher_text (error));
}

static void
on_imported (GObject *source, GAsyncResult *result, gpointer data)
{
  KtHttpLater *later = data;
  KtApp *app = kt_http_later_app (later);
  const char *id = kt_http_later_note (later);
  g_autoptr (GError) error = NULL;
  g_autofree char *item_id = kt_library_import_finish (kt_app_library (app), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    kt_http_later_finish (later); /* the server is stopping */
    return;
  }
  record_outcome (app, id, item_id, error);
  SoupServerMessage *msg = kt_http_later_msg (later);
  g_autoptr (KtUpload) u = kt_uploads_get (kt_app_uploads (app), id);
  if (msg != NULL && u != NULL)
    reply_upload (msg, SOUP_STATUS_OK, u);
  kt_http_later_finish (later);
}

static void
write_chunk (KtApp *app, KtRequest *request, KtUpload *u)
{
  SoupServerMessage *msg = request->msg;
  const char *header = soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "Upload-Offset");
  guint64 offset;
  if (header == NULL || !g_ascii_string_to_unsigned (header, 10, 0, G_MAXUINT64, &offset, NULL)) {
    kt_http_error (msg, SOUP_STATUS_BAD_REQUEST, "invalid",
                   "say where this chunk starts in the Upload-Offset header");
    return;
  }
  g_autoptr (GBytes) bytes = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autoptr (GError) error = NULL;
  if (!kt_uploads_write (kt_app_uploads (app), u, offset, bytes, &error)) {
    g_autofree char *current = g_strdup_printf ("%" G_GUINT64_FORMAT, u->offset);
    soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                  "Upload-Offset", current);
    upload_error (msg, error);
    return;
  }
  if (g_str_equal (u->state, "complete")) {
    /* The probe takes a moment: answer when it has decided. */
    g_autofree char *path = kt_uploads_path (kt_app_uploads (app), u->id);
    kt_library_import_async (kt_app_library (app), path, u->title, u->owner, u->id, on_imported,
                             kt_http_later_new (app, request, u->id));
    return;
  }
  reply_upload (msg, SOUP_STATUS_OK, u);
}

void
kt_http_uploads_handle (KtApp *app, KtRequest *request)
{
  SoupServerMessage *msg = request->msg;
  const char *method = soup_server_message_get_method (msg);

  if (request->n_parts == 0) {
    if (g_str_equal (method, "POST"))
      create_upload (app, request);
    else if (g_str_equal (method, "GET") || g_str_equal (method, "HEAD"))
      list_uploads (app, request);
    else
      kt_http_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method-not-allowed",
                     "%s is not allowed here", method);
    return;
  }
  g_autoptr (KtUpload) u =
      request->n_parts == 1 ? kt_uploads_get (kt_app_uploads (app), request->parts[0]) : NULL;
  if (u == NULL ||
      (request->user->role != KT_ROLE_ADMIN && !g_str_equal (u->owner, request->user->name))) {
    kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such upload");
    return;
  }
  if (g_str_equal (method, "GET") || g_str_equal (method, "HEAD")) {
    reply_upload (msg, SOUP_STATUS_OK, u);
  } else if (g_str_equal (method, "PATCH")) {
    write_chunk (app, request, u);
  } else if (g_str_equal (method, "DELETE")) {
    g_autoptr (GError) error = NULL;
    if (!kt_uploads_delete (kt_app_uploads (app), u->id, &error))
      upload_error (msg, error);
    else
      soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
  } else {
    kt_http_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method-not-allowed",
                   "%s is not allowed here", method);
  }
}

/* Recovery at start. */

typedef struct {
  KtApp *app;
  char *id;
} Recovery;

static void
on_recovered (GObject *source, GAsyncResult *result, gpointer data)
{
  Recovery *r = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *item_id = kt_library_import_finish (kt_app_library (r->app), result, &error);
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    record_outcome (r->app, r->id, item_id, error);
  g_free (r->id);
  g_free (r);
}

void
kt_http_uploads_recover (KtApp *app)
{
  KtUploads *uploads = kt_app_uploads (app);
  g_autoptr (GPtrArray) all = kt_uploads_list (uploads, NULL);
  for (guint i = 0; i < all->len; i++) {
    KtUpload *u = all->pdata[i];
    if (!g_str_equal (u->state, "complete"))
      continue;
    g_autoptr (KtItem) item = kt_library_get (kt_app_library (app), u->id);
    g_autofree char *path = kt_uploads_path (uploads, u->id);
    if (item != NULL) {
      /* Killed after the item was recorded: the library carries it on. */
      g_info ("upload=%s was imported before a restart", u->id);
      kt_uploads_set_outcome (uploads, u->id, u->id, NULL);
    } else if (g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
      g_info ("upload=%s complete before a restart, importing it again", u->id);
      Recovery *r = g_new0 (Recovery, 1);
      r->app = app;
      r->id = g_strdup (u->id);
      kt_library_import_async (kt_app_library (app), path, u->title, u->owner, u->id,
                               on_recovered, r);
    } else {
      /* Moved into the library but never recorded there: the file was an
       * orphan and is gone. The teacher must send it again. */
      g_warning ("upload=%s lost in a restart before it was imported", u->id);
      kt_uploads_set_outcome (uploads, u->id, NULL, "服务器处理时中断，文件没有保存下来，请重新上传。");
    }
  }
}
