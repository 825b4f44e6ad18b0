/* kt-http-reports: the live board and the reports over longer spans, for
 * administrators (the route table admits no one else to /api/attendance/).
 *
 *   GET /api/attendance/online[.csv]
 *       {"viewpoints": [{id, name, township, channel, lesson, state,
 *                        headcount, last_heard}],
 *        "missing": [{id, name, township, channel, lesson}],
 *        "individuals_online": n}
 *   GET /api/attendance/viewpoints[.csv]?from=&to=   per viewing point
 *   GET /api/attendance/months[.csv]?from=&to=       per month, per channel and township
 *
 * "missing" is what the bureau phones about while a lesson runs: enabled
 * viewing points whose channel airs a lesson right now and that have not
 * been heard from within the timeout. The longer reports take a range of up
 * to 366 days (a term, a year); without one they cover this month.
 *
 * Each report has a CSV twin for Excel (kt_http_csv_*: UTF-8 with a BOM,
 * Chinese headers).
 */
#define G_LOG_DOMAIN "kt-http"

#include "kt-clock.h"
#include "kt-http.h"
#include "kt-viewpoint.h"

#define LONG_RANGE_DAYS 366

static void
add_string (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
add_int (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

static void
add_double (JsonBuilder *b, const char *name, double value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_double_value (b, value);
}

static const char *const state_words[] = { "播放中", "暂停", "卡顿" };

static const KtViewpoint *
find_viewpoint (GPtrArray *all, gint64 id)
{
  for (guint i = 0; i < all->len; i++)
    if (((KtViewpoint *) all->pdata[i])->id == id)
      return all->pdata[i];
  return NULL;
}

void
kt_http_board_reply (KtApp *app, SoupServerMessage *msg, gboolean csv)
{
  gint64 now = kt_clock_now_us ();
  GTimeZone *tz = kt_app_timezone (app);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) all = kt_viewpoint_list (kt_app_store (app), &error);
  if (all == NULL) {
    kt_http_error_from_gerror (msg, error);
    return;
  }
  KtAttendance *att = kt_app_attendance (app);
  g_autoptr (GPtrArray) online = kt_attendance_online (att, now);
  g_autoptr (GHashTable) heard = g_hash_table_new (g_int64_hash, g_int64_equal);
  for (guint i = 0; i < online->len; i++)
    g_hash_table_add (heard, &((KtOnline *) online->pdata[i])->viewpoint_id);

  g_autoptr (JsonBuilder) b = json_builder_new ();
  GString *out = csv ? kt_http_csv_new () : NULL;
  static const char *const header[] = { "收视点", "乡镇", "频道", "课程", "状态", "到课人数",
                                        "最后收到" };
  if (out)
    kt_http_csv_row (out, header, G_N_ELEMENTS (header));
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "viewpoints");
  json_builder_begin_array (b);
  for (guint i = 0; i < online->len; i++) {
    const KtOnline *o = online->pdata[i];
    const KtViewpoint *v = find_viewpoint (all, o->viewpoint_id);
    const char *township = v ? v->township : "";
    json_builder_begin_object (b);
    add_int (b, "id", o->viewpoint_id);
    add_string (b, "name", o->name);
    add_string (b, "township", township);
    add_string (b, "channel", o->channel);
    add_string (b, "lesson", o->lesson);
    add_string (b, "state", kt_play_state_to_string (o->state));
    json_builder_set_member_name (b, "headcount");
    if (o->headcount >= 0)
      json_builder_add_int_value (b, o->headcount);
    else
      json_builder_add_null_value (b);
    kt_http_add_time (b, "last_heard", o->last_us, tz);
    json_builder_end_object (b);
    if (out) {
      g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (o->last_us / G_USEC_PER_SEC);
      g_autoptr (GDateTime) local = g_date_time_to_timezone (utc, tz);
      g_autofree char *when = g_date_time_format (local, "%Y-%m-%d %H:%M:%S");
      g_autofree char *count = o->headcount >= 0 ? g_strdup_printf ("%" G_GINT64_FORMAT, o->headcount)
                                                 : g_strdup ("");
      const char *row[] = { o->name, township, kt_http_channel_name (app, o->channel),
                            o->lesson ? o->lesson : "", state_words[o->state], count, when };
      kt_http_csv_row (out, row, G_N_ELEMENTS (row));
    }
  }
  json_builder_end_array (b);

  json_builder_set_member_name (b, "missing");
  json_builder_begin_array (b);
  for (guint i = 0; i < all->len; i++) {
    const KtViewpoint *v = all->pdata[i];
    KtChannel *channel = kt_app_find_channel (app, v->channel);
    KtAiring airing;
    if (v->disabled || g_hash_table_contains (heard, &v->id) || channel == NULL ||
        !kt_channel_airing_at (channel, now, &airing) || airing.title == NULL)
      continue;
    json_builder_begin_object (b);
    add_int (b, "id", v->id);
    add_string (b, "name", v->name);
    add_string (b, "township", v->township);
    add_string (b, "channel", v->channel);
    add_string (b, "lesson", airing.title);
    json_builder_end_object (b);
    if (out) {
      const char *row[] = { v->name, v->township, kt_http_channel_name (app, v->channel),
                            airing.title, "未上线", "", "" };
      kt_http_csv_row (out, row, G_N_ELEMENTS (row));
    }
  }
  json_builder_end_array (b);
  add_int (b, "individuals_online", kt_attendance_individuals_online (att, now));
  json_builder_end_object (b);
  if (out) {
    kt_http_csv_reply (app, msg, out, "online", now);
    return;
  }
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  kt_http_json (msg, SOUP_STATUS_OK, root);
}

/* ?from=&to= up to a year; without "from", this month. */
static gboolean
long_range (KtApp *app, SoupServerMessage *msg, gint64 now, gint64 *from, gint64 *to)
{
  const char *q = g_uri_get_query (soup_server_message_get_uri (msg));
  if (q != NULL && (strstr (q, "from=") != NULL || strstr (q, "to=") != NULL))
    return kt_http_parse_range_within (app, msg, now, LONG_RANGE_DAYS, from, to);
  GTimeZone *tz = kt_app_timezone (app);
  g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (now / G_USEC_PER_SEC);
  g_autoptr (GDateTime) local = g_date_time_to_timezone (utc, tz);
  g_autoptr (GDateTime) first = g_date_time_new (tz, g_date_time_get_year (local),
                                                 g_date_time_get_month (local), 1, 0, 0, 0);
  g_autoptr (GDateTime) next = g_date_time_add_months (first, 1);
  *from = g_date_time_to_unix (first) * G_USEC_PER_SEC;
  *to = g_date_time_to_unix (next) * G_USEC_PER_SEC;
  return TRUE;
}

static void
reply_viewpoints (KtApp *app, SoupServerMessage *msg, GPtrArray *list, gint64 from, gint64 to,
                  gboolean csv)
{
  if (csv) {
    GString *out = kt_http_csv_new ();
    static const char *const header[] = { "收视点", "乡镇", "频道", "状态", "收看课次",
                                          "到课课次", "收看分钟", "到课人次" };
    kt_http_csv_row (out, header, G_N_ELEMENTS (header));
    for (guint i = 0; i < list->len; i++) {
      const KtViewpointSummary *v = list->pdata[i];
      g_autofree char *lessons = g_strdup_printf ("%" G_GINT64_FORMAT, v->lessons);
      g_autofree char *attended = g_strdup_printf ("%" G_GINT64_FORMAT, v->attended);
      g_autofree char *mins = g_strdup_printf ("%.1f", kt_http_minutes (v->watched_us));
      g_autofree char *people = g_strdup_printf ("%" G_GINT64_FORMAT, v->people);
      const char *row[] = { v->name, v->township, kt_http_channel_name (app, v->channel),
                            v->disabled ? "已停用" : "使用中", lessons, attended, mins, people };
      kt_http_csv_row (out, row, G_N_ELEMENTS (row));
    }
    kt_http_csv_reply (app, msg, out, "viewpoints", from);
    return;
  }
  GTimeZone *tz = kt_app_timezone (app);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  kt_http_add_time (b, "from", from, tz);
  kt_http_add_time (b, "to", to, tz);
  json_builder_set_member_name (b, "viewpoints");
  json_builder_begin_array (b);
  for (guint i = 0; i < list->len; i++) {
    const KtViewpointSummary *v = list->pdata[i];
    json_builder_begin_object (b);
    add_int (b, "id", v->viewpoint_id);
    add_string (b, "name", v->name);
    add_string (b, "township", v->township);
    add_string (b, "channel", v->channel);
    json_builder_set_member_name (b, "disabled");
    json_builder_add_boolean_value (b, v->disabled);
    add_int (b, "lessons", v->lessons);
    add_int (b, "attended", v->attended);
    add_double (b, "minutes", kt_http_minutes (v->watched_us));
    add_int (b, "people_reached", v->people);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  kt_http_json (msg, SOUP_STATUS_OK, root);
}

static void
add_totals (JsonBuilder *b, KtApp *app, const char *name, const char *key_name, GPtrArray *list)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; i < list->len; i++) {
    const KtPeriodTotal *t = list->pdata[i];
    json_builder_begin_object (b);
    add_string (b, key_name, t->key);
    if (g_str_equal (key_name, "channel"))
      add_string (b, "channel_name", kt_http_channel_name (app, t->key));
    add_int (b, "lessons", t->lessons);
    add_int (b, "viewpoints", t->viewpoints);
    add_int (b, "individuals", t->individuals);
    add_int (b, "people_reached", t->people);
    add_double (b, "minutes", kt_http_minutes (t->watched_us));
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
}

static void
csv_totals (GString *out, KtApp *app, const char *month, const char *kind, GPtrArray *list)
{
  for (guint i = 0; i < list->len; i++) {
    const KtPeriodTotal *t = list->pdata[i];
    g_autofree char *lessons = g_strdup_printf ("%" G_GINT64_FORMAT, t->lessons);
    g_autofree char *vps = g_strdup_printf ("%" G_GINT64_FORMAT, t->viewpoints);
    g_autofree char *ind = g_strdup_printf ("%" G_GINT64_FORMAT, t->individuals);
    g_autofree char *people = g_strdup_printf ("%" G_GINT64_FORMAT, t->people);
    g_autofree char *mins = g_strdup_printf ("%.1f", kt_http_minutes (t->watched_us));
    const char *name = g_str_equal (kind, "频道") ? kt_http_channel_name (app, t->key) : t->key;
    const char *row[] = { month, kind, name, lessons, vps, ind, people, mins };
    kt_http_csv_row (out, row, G_N_ELEMENTS (row));
  }
}

static void
reply_months (KtApp *app, SoupServerMessage *msg, GPtrArray *months, gint64 from, gint64 to,
              gboolean csv)
{
  GString *out = csv ? kt_http_csv_new () : NULL;
  static const char *const header[] = { "月份", "类别", "名称", "课次", "收视点场次",
                                        "在家个人", "到课人次", "收看分钟" };
  if (out)
    kt_http_csv_row (out, header, G_N_ELEMENTS (header));
  GTimeZone *tz = kt_app_timezone (app);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  kt_http_add_time (b, "from", from, tz);
  kt_http_add_time (b, "to", to, tz);
  json_builder_set_member_name (b, "months");
  json_builder_begin_array (b);
  for (guint i = 0; i < months->len; i++) {
    const KtMonthReport *m = months->pdata[i];
    g_autofree char *label = g_strdup_printf ("%04d-%02d", m->year, m->month);
    if (out) {
      csv_totals (out, app, label, "频道", m->channels);
      csv_totals (out, app, label, "乡镇", m->townships);
      continue;
    }
    json_builder_begin_object (b);
    add_string (b, "month", label);
    add_totals (b, app, "channels", "channel", m->channels);
    add_totals (b, app, "townships", "township", m->townships);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  if (out) {
    kt_http_csv_reply (app, msg, out, "months", from);
    return;
  }
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  kt_http_json (msg, SOUP_STATUS_OK, root);
}

void
kt_http_summary_reply (KtApp *app, SoupServerMessage *msg, const char *what)
{
  gboolean by_viewpoint = g_str_equal (what, "viewpoints") || g_str_equal (what, "viewpoints.csv");
  gboolean by_month = g_str_equal (what, "months") || g_str_equal (what, "months.csv");
  if (!by_viewpoint && !by_month) {
    kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such report");
    return;
  }
  gboolean csv = g_str_has_suffix (what, ".csv");
  gint64 now = kt_clock_now_us (), from, to;
  if (!long_range (app, msg, now, &from, &to))
    return;
  g_autoptr (GError) error = NULL;
  /* Reports read the store: write what heartbeats changed first. */
  if (!kt_attendance_flush (kt_app_attendance (app), now, &error)) {
    kt_http_error_from_gerror (msg, error);
    return;
  }
  g_autoptr (GPtrArray) result = NULL;
  if (by_viewpoint)
    result = kt_attendance_by_viewpoint (
        kt_app_store (app), from, to,
        kt_config_get_double (kt_app_config (app), "attendance", "attended_share"), &error);
  else
    result = kt_attendance_by_month (kt_app_store (app), kt_app_timezone (app), from, to, &error);
  if (result == NULL) {
    kt_http_error_from_gerror (msg, error);
    return;
  }
  if (by_viewpoint)
    reply_viewpoints (app, msg, result, from, to, csv);
  else
    reply_months (app, msg, result, from, to, csv);
}
