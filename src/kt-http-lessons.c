/* kt-http-lessons: putting a library item on a channel's timetable.
 *
 *   POST /api/lessons  {"channel", "item", "start", "end"?, "weekly_until"?,
 *                       "title"?, "description"?}  → 201 {"uid", "channel", "file"}
 *
 * Times are ISO 8601 in the server's zone unless they carry an offset; "end"
 * defaults to the item's length rounded up to whole minutes; "weekly_until"
 * (a date) repeats the lesson every week until that day. The lesson is added
 * to the channel's timetable file (kt_timetable_add_lesson keeps the rest of
 * the file as it was) and the timetable reloads at once. A lesson that would
 * overlap another is refused with 409 and the problem, file untouched.
 */
#define G_LOG_DOMAIN "kt-http"

#include "kt-http.h"
#include "kt-clock.h"

static gboolean
parse_time (KtApp *app, SoupServerMessage *msg, const char *name, const char *text,
            gboolean date_means_end_of_day, gint64 *out)
{
  g_autofree char *full = strchr (text, 'T') ? g_strdup (text)
                          : g_strconcat (text, date_means_end_of_day ? "T23:59:59" : "T00:00:00",
                                         NULL);
  /* "2026-12-01T09:00", as a browser's datetime-local field gives it. */
  const char *t = strchr (full, 'T');
  if (strlen (t) == 6 && t[3] == ':') {
    char *with_seconds = g_strconcat (full, ":00", NULL);
    g_free (full);
    full = with_seconds;
  }
  g_autoptr (GDateTime) dt = g_date_time_new_from_iso8601 (full, kt_app_timezone (app));
  if (dt == NULL) {
    kt_http_error (msg, SOUP_STATUS_BAD_REQUEST, "invalid",
                   "%s must be an ISO 8601 date and time, not “%s”", name, text);
    return FALSE;
  }
  *out = g_date_time_to_unix (dt) * G_USEC_PER_SEC;
  return TRUE;
}

void
kt_http_lessons_handle (KtApp *app, KtRequest *request)
{
  SoupServerMessage *msg = request->msg;
  static const KtJsonField fields[] = {
    { "channel", TRUE }, { "item", TRUE }, { "start", TRUE }, { "end", FALSE },
    { "weekly_until", FALSE }, { "title", FALSE }, { "description", FALSE },
  };
  const char *v[G_N_ELEMENTS (fields)];
  g_autoptr (JsonNode) root = kt_http_read_fields (msg, fields, G_N_ELEMENTS (fields), v);
  if (root == NULL)
    return;
  const char *channel_id = v[0], *item_id = v[1];

  g_autoptr (KtItem) item = kt_library_get (kt_app_library (app), item_id);
  if (item == NULL || item->state != KT_ITEM_READY || g_str_equal (item->kind, "slate") ||
      !kt_app_may_use_item (app, request->user, item)) {
    kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "没有这个已准备好的课程：%s", item_id);
    return;
  }
  if (!kt_channel_id_valid (channel_id)) {
    kt_http_error (msg, SOUP_STATUS_BAD_REQUEST, "invalid",
                   "channel must be 1–32 letters, digits, - or _");
    return;
  }
  gint64 start, end, until = 0;
  if (!parse_time (app, msg, "start", v[2], FALSE, &start))
    return;
  if (v[3] != NULL) {
    if (!parse_time (app, msg, "end", v[3], FALSE, &end))
      return;
  } else {
    gint64 minute = 60 * G_USEC_PER_SEC;
    end = start + (item->duration_us + minute - 1) / minute * minute;
  }
  if (v[4] != NULL && !parse_time (app, msg, "weekly_until", v[4], TRUE, &until))
    return;
  if (end <= start || (until != 0 && until < start)) {
    kt_http_error (msg, SOUP_STATUS_BAD_REQUEST, "invalid",
                   "the lesson must end after it starts, and repeat until after its start");
    return;
  }

  KtTimetable *timetable = kt_app_timetable (app);
  KtCalendar *calendar = kt_timetable_find (timetable, channel_id);
  g_autofree char *file = g_strdup_printf ("%s.ics", channel_id);
  g_autofree char *path = calendar ? g_strdup (kt_calendar_path (calendar))
                                   : g_build_filename (kt_timetable_dir (timetable), file, NULL);
  g_autofree char *name = g_strdup_printf ("频道 %s", channel_id);
  g_autofree char *source = g_strdup_printf ("item:%s", item->id);
  KtNewLesson lesson = { v[5] ? v[5] : item->title, request->user->display_name,
                         request->user->name, v[6], source, start, end, until };
  g_autoptr (GPtrArray) problems =
      g_ptr_array_new_with_free_func ((GDestroyNotify) kt_schedule_problem_free);
  g_autoptr (GError) error = NULL;
  g_autofree char *uid = NULL;
  if (!kt_timetable_add_lesson (path, channel_id, calendar ? kt_calendar_channel_name (calendar) : name,
                                &lesson, kt_timetable_options (timetable), problems, &uid, &error)) {
    if (problems->len > 0) {
      KtScheduleProblem *p = problems->pdata[0];
      kt_http_error (msg, SOUP_STATUS_CONFLICT, "schedule", "%s", p->message);
    } else {
      kt_http_error_from_gerror (msg, error);
    }
    return;
  }
  kt_app_reload_schedules (app);

  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "uid");
  json_builder_add_string_value (b, uid);
  json_builder_set_member_name (b, "channel");
  json_builder_add_string_value (b, channel_id);
  json_builder_set_member_name (b, "file");
  g_autofree char *base = g_path_get_basename (path);
  json_builder_add_string_value (b, base);
  json_builder_end_object (b);
  g_autoptr (JsonNode) reply = json_builder_get_root (b);
  kt_http_json (msg, SOUP_STATUS_CREATED, reply);
}
