/* kt-http-library: the lectures teachers uploaded, for their pages.
 *
 *   GET    /api/library        lectures: a teacher's own, an administrator's all
 *   PATCH  /api/library/<id>   {"title"?, "description"?}  (owner or administrator)
 *   DELETE /api/library/<id>   administrators; 409 with the lessons it would leave
 *                               empty unless ?force=1
 *
 * Each lecture carries its state and, while it is being prepared, progress
 * and an estimate of the time left, so the page can say "正在处理 42%，约剩
 * 3 分钟". Deleting a lecture that the timetable names would turn those
 * lessons into "节目暂缺" cards, so the first DELETE lists them and only a
 * confirmed one (?force=1) goes ahead.
 */
#define G_LOG_DOMAIN "kt-http"

#include "kt-http.h"
#include "kt-clock.h"

static void
add_item (JsonBuilder *b, KtApp *app, const KtItem *item)
{
  KtLibrary *library = kt_app_library (app);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, item->id);
  json_builder_set_member_name (b, "title");
  json_builder_add_string_value (b, item->title);
  json_builder_set_member_name (b, "teacher");
  json_builder_add_string_value (b, item->teacher);
  json_builder_set_member_name (b, "owner");
  json_builder_add_string_value (b, item->owner);
  json_builder_set_member_name (b, "description");
  json_builder_add_string_value (b, item->description ? item->description : "");
  kt_http_add_time (b, "created", item->created_us, kt_app_timezone (app));
  json_builder_set_member_name (b, "duration_s");
  json_builder_add_double_value (b, (item->state == KT_ITEM_READY ? item->duration_us
                                                                  : item->source_duration_us) / 1e6);
  static const char *const states[] = { "processing", "ready", "failed" };
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, states[item->state]);
  double progress = kt_library_job_progress (library, item->id);
  json_builder_set_member_name (b, "progress");
  if (item->state == KT_ITEM_PROCESSING && progress >= 0)
    json_builder_add_double_value (b, progress);
  else
    json_builder_add_null_value (b);
  gint64 eta = kt_library_job_eta_us (library, item->id);
  json_builder_set_member_name (b, "eta_s");
  if (item->state == KT_ITEM_PROCESSING && eta >= 0)
    json_builder_add_int_value (b, eta / G_USEC_PER_SEC);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, item->state == KT_ITEM_FAILED ? item->error : NULL);
  kt_http_add_poster (b, app, item);
  g_autofree char *playlist = g_strdup_printf ("/watch/%s/index.m3u8", item->id);
  json_builder_set_member_name (b, "playlist");
  json_builder_add_string_value (b, item->state == KT_ITEM_READY ? playlist : NULL);
  json_builder_end_object (b);
}

static void
reply_item (KtApp *app, SoupServerMessage *msg, const KtItem *item)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  add_item (b, app, item);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  kt_http_json (msg, SOUP_STATUS_OK, root);
}

static void
list_items (KtApp *app, KtRequest *request)
{
  gboolean admin = request->user->role == KT_ROLE_ADMIN;
  g_autoptr (GPtrArray) items =
      kt_library_list (kt_app_library (app), "upload", admin ? NULL : request->user->name);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "items");
  json_builder_begin_array (b);
  for (guint i = 0; i < items->len; i++)
    add_item (b, app, items->pdata[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  kt_http_json (request->msg, SOUP_STATUS_OK, root);
}

static void
edit_item (KtApp *app, KtRequest *request, KtItem *item)
{
  static const KtJsonField fields[] = { { "title", FALSE }, { "description", FALSE } };
  const char *v[G_N_ELEMENTS (fields)];
  g_autoptr (JsonNode) root = kt_http_read_fields (request->msg, fields, G_N_ELEMENTS (fields), v);
  if (root == NULL)
    return;
  if ((v[0] && (v[0][0] == '\0' || strlen (v[0]) > 200)) || (v[1] && strlen (v[1]) > 4000)) {
    kt_http_error (request->msg, SOUP_STATUS_BAD_REQUEST, "invalid",
                   "标题不能为空（最多 200 字节），介绍最多 4000 字节");
    return;
  }
  g_autoptr (GError) error = NULL;
  if (!kt_library_set_text (kt_app_library (app), item->id, v[0], v[1], NULL, &error)) {
    kt_http_error_from_gerror (request->msg, error);
    return;
  }
  g_autoptr (KtItem) updated = kt_library_get (kt_app_library (app), item->id);
  kt_app_reload_schedules (app);
  reply_item (app, request->msg, updated);
}

static void
delete_item (KtApp *app, KtRequest *request, KtItem *item)
{
  SoupServerMessage *msg = request->msg;
  if (request->user->role != KT_ROLE_ADMIN) {
    kt_http_error (msg, SOUP_STATUS_FORBIDDEN, "forbidden", "只有管理员可以删除讲座");
    return;
  }
  const char *query = g_uri_get_query (soup_server_message_get_uri (msg));
  gboolean force = query && strstr (query, "force=1") != NULL;
  g_autoptr (GArray) lessons = kt_app_lessons_using (app, item->id, kt_clock_now_us ());
  if (lessons->len > 0 && !force) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "error");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "code");
    json_builder_add_string_value (b, "scheduled");
    json_builder_set_member_name (b, "message");
    g_autofree char *text = g_strdup_printf ("这个讲座还安排在 %u 节课上，删除后这些课会显示“节目暂缺”",
                                             lessons->len);
    json_builder_add_string_value (b, text);
    json_builder_end_object (b);
    json_builder_set_member_name (b, "lessons");
    json_builder_begin_array (b);
    for (guint i = 0; i < lessons->len && i < 100; i++) {
      const KtAppLesson *l = &g_array_index (lessons, KtAppLesson, i);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "channel");
      json_builder_add_string_value (b, l->channel);
      json_builder_set_member_name (b, "title");
      json_builder_add_string_value (b, l->title);
      kt_http_add_time (b, "start", l->start_us, kt_app_timezone (app));
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
    json_builder_end_object (b);
    g_autoptr (JsonNode) root = json_builder_get_root (b);
    kt_http_json (msg, SOUP_STATUS_CONFLICT, root);
    return;
  }
  g_autoptr (GError) error = NULL;
  if (!kt_library_delete (kt_app_library (app), item->id, &error)) {
    kt_http_error_from_gerror (msg, error);
    return;
  }
  kt_app_reload_schedules (app);
  soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
}

void
kt_http_library_handle (KtApp *app, KtRequest *request)
{
  SoupServerMessage *msg = request->msg;
  const char *method = soup_server_message_get_method (msg);
  if (request->n_parts == 0) {
    if (g_str_equal (method, "GET") || g_str_equal (method, "HEAD"))
      list_items (app, request);
    else
      kt_http_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method-not-allowed",
                     "%s is not allowed here", method);
    return;
  }
  g_autoptr (KtItem) item =
      request->n_parts == 1 ? kt_library_get (kt_app_library (app), request->parts[0]) : NULL;
  if (item == NULL || g_str_equal (item->kind, "slate") ||
      !kt_app_may_use_item (app, request->user, item)) {
    kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "没有这个讲座");
    return;
  }
  if (g_str_equal (method, "GET") || g_str_equal (method, "HEAD"))
    reply_item (app, msg, item);
  else if (g_str_equal (method, "PATCH"))
    edit_item (app, request, item);
  else if (g_str_equal (method, "DELETE"))
    delete_item (app, request, item);
  else
    kt_http_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method-not-allowed",
                   "%s is not allowed here", method);
}
