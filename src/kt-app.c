/* kt-app: the server as a whole.
 *
 * Owns every long-lived part and the order they start and stop in:
 *
 *   start: data dir → store (migrations) → auth → library (cleans abandoned
 *          jobs) → channels → HTTP listening → programmes (demo render if needed)
 *          → attendance (closes sessions a previous process left open)
 *   stop:  jobs (pipelines stopped on their own threads, waited for a
 *          bounded time: kt-pipeline-stop.c) → HTTP (cancels logins being
 *          checked) → attendance flush → (free) channels, library, auth, store
 *
 * The demo lesson (--demo) is an ordinary library item made by the
 * demo-lesson pipeline. Its id is derived from what shapes it (title,
 * teacher, length and the template text), so it is rendered once, reused on
 * every later start, and rendered anew only when one of those changes.
 * While it renders, channel 1 says "preparing" and the HTTP server already
 * answers.
 */
#define G_LOG_DOMAIN "kt-app"

#include "kt-app.h"
#include "kt-attendance.h"
#include "kt-auth.h"
#include "kt-clock.h"
#include "kt-http.h"
#include "kt-live.h"
#include "kt-pipeline-stop.h"
#include "kt-slates.h"
#include "kt-timetable.h"

#include <errno.h>

G_DEFINE_QUARK (kt-app-error-quark, kt_app_error)

struct _KtApp {
  KtConfig *config;
  gboolean demo;
  char *demo_item_id;
  KtStore *store;
  KtViewpointCache *viewpoints; /* rooms by token and code, for requests */
  KtAuth *auth;
  KtAttendance *attendance;
  KtCodeGuard *code_guard;
  KtUploads *uploads;
  KtLibrary *library;
  KtSegmentStore *segments;
  GPtrArray *channels; /* KtChannel*, owned */
  GMutex roster_lock;  /* guards roster */
  GHashTable *roster;  /* the channels' ids, for the serving threads (kt_app_channel_listed) */
  GTimeZone *timezone;
  KtSlates *slates;
  KtTimetable *timetable;
  gint64 horizon_us;
  guint housekeeping;
  KtHttp *http;
  KtMetrics *metrics; /* serving numbers, kept across stop for a last scrape */
  KtPlaylistBoard *playlist_board; /* live playlists for the serving threads */
  KtLive *live;
};

static void publish_roster (KtApp *app);

#define HORIZON_US (G_GINT64_CONSTANT (62) * 24 * 3600 * G_USEC_PER_SEC)
#define HOUSEKEEPING_MS 5000
#define STOPS_WAIT_US (10 * G_USEC_PER_SEC)

static char *
make_demo_item_id (KtApp *app)
{
  const KtConfig *c = app->config;
  g_autofree char *template_path = g_build_filename (
      kt_config_get_string (c, "server", "pipelines_dir"), "demo-lesson.pipeline", NULL);
  g_autofree char *template_text = NULL;
  g_file_get_contents (template_path, &template_text, NULL, NULL);

  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree char *seconds = g_strdup_printf ("%" G_GINT64_FORMAT,
                                              kt_config_get_int (c, "demo", "seconds"));
  const char *parts[] = { kt_config_get_string (c, "demo", "title"),
                          kt_config_get_string (c, "demo", "teacher"), seconds,
                          template_text ? template_text : "" };
  for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
    g_checksum_update (sum, (const guchar *) parts[i], strlen (parts[i]) + 1);
  return g_strdup_printf ("demo-%.12s", g_checksum_get_string (sum));
}

KtApp *
kt_app_new (KtConfig *config, gboolean demo, GError **error)
{
  g_autoptr (KtApp) app = g_new0 (KtApp, 1);
  app->config = config;
  app->demo = demo;
  app->channels = g_ptr_array_new_with_free_func ((GDestroyNotify) kt_channel_free);
  g_mutex_init (&app->roster_lock);
  app->roster = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  app->metrics = kt_metrics_new ();
  app->playlist_board = kt_playlist_board_new ();

  const char *data_dir = kt_config_get_string (config, "server", "data_dir");
  if (g_mkdir_with_parents (data_dir, 0755) != 0) {
    g_set_error (error, KT_APP_ERROR, KT_APP_ERROR_DATA_DIR, "cannot create data dir %s: %s",
                 data_dir, g_strerror (errno));
    return NULL;
  }
  g_autofree char *db_path = g_build_filename (data_dir, "ketang.db", NULL);
  app->store = kt_store_open (db_path, error);
  if (app->store == NULL)
    return NULL;
  app->viewpoints = kt_viewpoint_cache_new (app->store);
  app->auth = kt_auth_new (app->store,
                           kt_config_get_int (config, "auth", "session_hours") * 3600 *
                               KT_USEC_PER_SEC,
                           (guint) kt_config_get_int (config, "auth", "login_max_failures"));
  app->library = kt_library_new (app->store, data_dir,
                                 kt_config_get_string (config, "server", "pipelines_dir"), error);
  if (app->library == NULL)
    return NULL;
  app->uploads = kt_uploads_new (app->store, data_dir,
                                 (guint64) kt_config_get_int (config, "upload", "max_mb") << 20,
                                 error);
  if (app->uploads == NULL)
    return NULL;
  app->segments =
      kt_segment_store_new ((gsize) kt_config_get_int (config, "hls", "segment_cache_mb") << 20);

  const char *tz_name = kt_config_get_string (config, "server", "timezone");
  app->timezone = g_time_zone_new_identifier (tz_name);
  if (app->timezone == NULL) {
    g_warning ("unknown time zone “%s”, using UTC", tz_name);
    app->timezone = g_time_zone_new_utc ();
  }

  app->slates = kt_slates_new (app->library);
  if (demo)
    g_ptr_array_add (app->channels,
                     kt_channel_new ("1", kt_config_get_string (config, "channel", "name")));
  publish_roster (app);
  app->demo_item_id = make_demo_item_id (app);
  return g_steal_pointer (&app);
}

static void
on_demo_done (KtLibrary *library, const char *item_id, const GError *error, gpointer user_data)
{
  KtApp *app = user_data;
  KtChannel *channel = kt_app_find_channel (app, "1");
  g_autoptr (KtItem) item = error ? NULL : kt_library_get (library, item_id);

  if (item == NULL || item->state != KT_ITEM_READY) {
    g_warning ("demo lesson could not be made: %s", error ? error->message : "missing");
    kt_channel_set_off_air (channel);
    return;
  }
  kt_channel_set_loop (channel, item);
}

static gboolean
start_demo (KtApp *app, GError **error)
{
  KtChannel *channel = kt_app_find_channel (app, "1");
  g_autoptr (KtItem) item = kt_library_get (app->library, app->demo_item_id);

  if (item != NULL && item->state == KT_ITEM_READY) {
    kt_channel_set_loop (channel, item);
    return TRUE;
  }
  g_info ("rendering demo lesson item=%s", app->demo_item_id);
  kt_channel_set_preparing (channel);
  const KtConfig *c = app->config;
  g_autofree char *title = g_markup_escape_text (kt_config_get_string (c, "demo", "title"), -1);
  g_autofree char *teacher = g_markup_escape_text (kt_config_get_string (c, "demo", "teacher"), -1);
  const char *vars[] = { "title", title, "teacher", teacher, NULL };
  gint64 seconds = kt_config_get_int (c, "demo", "seconds");
  KtItemRecipe recipe = { app->demo_item_id, "demo", kt_config_get_string (c, "demo", "title"),
                          kt_config_get_string (c, "demo", "teacher"), "demo-lesson", vars,
                          (seconds * KT_USEC_PER_SEC + KT_SEGMENT_US - 1) / KT_SEGMENT_US };
  if (!kt_library_make (app->library, &recipe, on_demo_done, app, error)) {
    kt_channel_set_off_air (channel);
    g_prefix_error (error, "demo lesson: ");
    return FALSE;
  }
  return TRUE;
}

/* The serving threads answer some requests without the main thread
 * (kt-http-threads.c), and a heartbeat must name a channel that exists:
 * they read the ids here, copied whenever the channels change. */
static void
publish_roster (KtApp *app)
{
  g_mutex_lock (&app->roster_lock);
  g_hash_table_remove_all (app->roster);
  for (guint i = 0; i < app->channels->len; i++)
    g_hash_table_add (app->roster, g_strdup (kt_channel_id (app->channels->pdata[i])));
  g_mutex_unlock (&app->roster_lock);
}

gboolean
kt_app_channel_listed (KtApp *app, const char *id)
{
  g_mutex_lock (&app->roster_lock);
  gboolean listed = g_hash_table_contains (app->roster, id);
  g_mutex_unlock (&app->roster_lock);
  return listed;
}

/* Make the channels match the timetable: one per calendar in force (the demo
 * keeps channel 1), each airing its lessons. */
static void
apply_timetable (KtApp *app)
{
  gint64 now = kt_clock_now_us ();
  GPtrArray *calendars = kt_timetable_calendars (app->timetable);
  g_autoptr (GPtrArray) keep = g_ptr_array_new ();

  if (app->demo)
    g_ptr_array_add (keep, kt_app_find_channel (app, "1"));
  for (guint i = 0; i < calendars->len; i++) {
    KtCalendar *cal = calendars->pdata[i];
    const char *id = kt_calendar_channel_id (cal);
    if (app->demo && g_str_equal (id, "1")) {
      g_warning ("schedule %s is for channel 1, which --demo uses; not aired",
                 kt_calendar_path (cal));
      continue;
    }
    KtChannel *channel = kt_app_find_channel (app, id);
    if (channel == NULL) {
      channel = kt_channel_new (id, kt_calendar_channel_name (cal));
      g_ptr_array_add (app->channels, channel);
    }
    kt_channel_set_name (channel, kt_calendar_channel_name (cal));
    kt_channel_set_timetable (channel, kt_calendar_occurrences (cal), app->library, app->slates,
                              app->timezone, now);
    g_ptr_array_add (keep, channel);
  }
  for (guint i = app->channels->len; i-- > 0;) {
    if (!g_ptr_array_find (keep, app->channels->pdata[i], NULL)) {
      g_info ("channel=%s has no timetable any more", kt_channel_id (app->channels->pdata[i]));
      g_ptr_array_remove_index (app->channels, i);
    }
  }
  publish_roster (app);
  if (app->live)
    kt_live_update_channels (app->live);
}

static void
on_timetable_changed (KtTimetable *timetable, gpointer user_data)
{
  apply_timetable (user_data);
}

/* A new item may be one a lesson names: assemble the channels again (cheap:
 * runs are rebuilt from the lessons in memory). Slates only need a refresh. */
static void
on_job_finished (KtLibrary *library, const char *item_id, const GError *error,
                 gpointer user_data)
{
  KtApp *app = user_data;
  if (error == NULL && app->timetable != NULL && !g_str_has_prefix (item_id, "slate-"))
    apply_timetable (app);
  kt_slates_resume (app->slates);
}

static void
refresh_channels (KtApp *app)
{
  gint64 now = kt_clock_now_us ();
  for (guint i = 0; i < app->channels->len; i++)
    kt_channel_refresh (app->channels->pdata[i], now);
}

static void
on_slate_ready (KtSlates *slates, gpointer user_data)
{
  refresh_channels (user_data);
}

/* The one periodic task: fill upcoming gaps with slates, keep the
 * timetable expanded well ahead of now, and forget expired sessions. */
static gboolean
on_housekeeping (gpointer user_data)
{
  KtApp *app = user_data;
  gint64 now = kt_clock_now_us ();
  if (now + HORIZON_US / 2 > app->horizon_us) {
    app->horizon_us = now + HORIZON_US;
    kt_timetable_set_horizon (app->timetable, app->horizon_us);
  }
  refresh_channels (app);
  kt_auth_purge (app->auth);
  return G_SOURCE_CONTINUE;
}

void
kt_app_reload_schedules (KtApp *app)
{
  kt_timetable_reload (app->timetable);
}

gboolean
kt_app_busy (KtApp *app)
{
  return kt_library_jobs_running (app->library) > 0 || kt_slates_pending (app->slates) > 0;
}

GHashTable *
kt_app_schedule_status (KtApp *app)
{
  return kt_timetable_file_status (app->timetable);
}

static void
start_timetable (KtApp *app)
{
  app->horizon_us = kt_clock_now_us () + HORIZON_US;
  KtCalendarOptions options = { app->timezone,
                                kt_config_get_string (app->config, "server", "timezone"),
                                app->horizon_us, NULL, NULL };
  /* No source check here: a lesson whose item is missing airs a card saying
   * so; refusing its whole file would take the channel off the air.
   * `ketang schedule check --data` reports unknown sources. */
  app->timetable = kt_timetable_new (kt_config_get_string (app->config, "server", "schedules_dir"),
                                     &options);
  kt_slates_set_ready_callback (app->slates, on_slate_ready, app);
  kt_library_set_ready_callback (app->library, on_job_finished, app);
  kt_timetable_reload (app->timetable);
  apply_timetable (app);
  kt_timetable_watch (app->timetable, on_timetable_changed, app);
  app->housekeeping = kt_clock_timer_add (HOUSEKEEPING_MS, on_housekeeping, app);
}

gboolean
kt_app_start (KtApp *app, GError **error)
{
  app->http = kt_http_new (app);
  const char *certificate = kt_config_get_string (app->config, "server", "tls_certificate");
  if (*certificate != '\0' &&
      !kt_http_set_tls (app->http, certificate,
                        kt_config_get_string (app->config, "server", "tls_key"), error))
    return FALSE;
  if (!kt_http_listen (app->http, kt_config_get_string (app->config, "server", "listen"), error))
    return FALSE;
  if (app->demo && !start_demo (app, error))
    return FALSE;
  start_timetable (app);
  app->live = kt_live_new (app);
  kt_live_start (app->live);
  kt_library_start_imports (app->library,
                            (guint) kt_config_get_int (app->config, "library", "max_jobs"),
                            (guint) kt_config_get_int (app->config, "library", "stall_seconds"));
  kt_http_uploads_recover (app);
  KtAttendanceOptions options = {
    kt_config_get_int (app->config, "attendance", "heartbeat_seconds") * KT_USEC_PER_SEC,
    kt_config_get_int (app->config, "attendance", "timeout_seconds") * KT_USEC_PER_SEC,
    (guint) kt_config_get_int (app->config, "attendance", "flush_seconds") * 1000,
  };
  app->code_guard = kt_code_guard_new (
      (guint) kt_config_get_int (app->config, "attendance", "code_max_failures"),
      (guint) kt_config_get_int (app->config, "attendance", "code_failures_per_hour"));
  app->attendance = kt_attendance_new (app->store, &options, error);
  return app->attendance != NULL;
}

void
kt_app_stop (KtApp *app)
{
  if (app->housekeeping) {
    kt_clock_timer_remove (app->housekeeping);
    app->housekeeping = 0;
  }
  g_clear_pointer (&app->live, kt_live_free);
  g_clear_pointer (&app->timetable, kt_timetable_free);
  if (app->library)
    kt_library_stop_jobs (app->library);
  /* The jobs cut short stop on threads of their own; their files should be
   * closed before the process ends, but a wedged one must not hold it. */
  kt_pipeline_stops_wait (STOPS_WAIT_US);
  g_clear_pointer (&app->http, kt_http_free);
  if (app->attendance) {
    g_autoptr (GError) error = NULL;
    if (!kt_attendance_flush (app->attendance, kt_clock_now_us (), &error))
      g_warning ("attendance not saved at stop: %s", error->message);
    g_clear_pointer (&app->attendance, kt_attendance_free);
  }
  g_clear_pointer (&app->code_guard, kt_code_guard_free);
}

void
kt_app_free (KtApp *app)
{
  if (app == NULL)
    return;
  kt_app_stop (app);
  g_clear_pointer (&app->channels, g_ptr_array_unref);
  g_clear_pointer (&app->roster, g_hash_table_unref);
  g_mutex_clear (&app->roster_lock);
  g_clear_pointer (&app->slates, kt_slates_free);
  g_clear_pointer (&app->segments, kt_segment_store_free);
  g_clear_pointer (&app->library, kt_library_free);
  g_clear_pointer (&app->uploads, kt_uploads_free);
  g_clear_pointer (&app->auth, kt_auth_free);
  g_clear_pointer (&app->viewpoints, kt_viewpoint_cache_free);
  g_clear_pointer (&app->store, kt_store_free);
  g_clear_pointer (&app->timezone, g_time_zone_unref);
  g_clear_pointer (&app->config, kt_config_free);
  g_clear_pointer (&app->metrics, kt_metrics_free);
  g_clear_pointer (&app->playlist_board, kt_playlist_board_free);
  g_free (app->demo_item_id);
  g_free (app);
}

const char *
kt_app_base_uri (KtApp *app)
{
  return app->http ? kt_http_base_uri (app->http) : NULL;
}

const KtConfig *
kt_app_config (KtApp *app)
{
  return app->config;
}

KtTimetable *
kt_app_timetable (KtApp *app)
{
  return app->timetable;
}

gboolean
kt_app_may_use_item (KtApp *app, const KtUser *user, const KtItem *item)
{
  if (user->role == KT_ROLE_ADMIN)
    return TRUE;
  return user->role == KT_ROLE_TEACHER && g_strcmp0 (item->owner, user->name) == 0;
}

KtUploads *
kt_app_uploads (KtApp *app)
{
  return app->uploads;
}

GArray *
kt_app_lessons_using (KtApp *app, const char *item_id, gint64 from_us)
{
  GArray *out = g_array_new (FALSE, TRUE, sizeof (KtAppLesson));
  g_array_set_clear_func (out, (GDestroyNotify) kt_app_lesson_clear);
  g_autofree char *source = g_strdup_printf ("item:%s", item_id);
  for (guint c = 0; c < app->channels->len; c++) {
    KtChannel *channel = app->channels->pdata[c];
    g_autoptr (GArray) lessons = kt_channel_lessons_between (channel, from_us, G_MAXINT64);
    for (guint i = 0; i < lessons->len; i++) {
      const KtAiring *a = &g_array_index (lessons, KtAiring, i);
      if (g_strcmp0 (a->source, source) != 0)
        continue;
      KtAppLesson l = { g_strdup (kt_channel_id (channel)), g_strdup (a->title), a->start_us };
      g_array_append_val (out, l);
    }
  }
  return out;
}

void
kt_app_lesson_clear (KtAppLesson *lesson)
{
  g_free (lesson->channel);
  g_free (lesson->title);
}

KtAuth *
kt_app_auth (KtApp *app)
{
  return app->auth;
}

KtLibrary *
kt_app_library (KtApp *app)
{
  return app->library;
}

KtLive *
kt_app_live (KtApp *app)
{
  return app->live;
}

KtSegmentStore *
kt_app_segments (KtApp *app)
{
  return app->segments;
}

GPtrArray *
kt_app_channels (KtApp *app)
{
  return app->channels;
}

KtChannel *
kt_app_find_channel (KtApp *app, const char *id)
{
  for (guint i = 0; i < app->channels->len; i++)
    if (g_str_equal (kt_channel_id (app->channels->pdata[i]), id))
      return app->channels->pdata[i];
  return NULL;
}

GTimeZone *
kt_app_timezone (KtApp *app)
{
  return app->timezone;
}

const char *
kt_app_demo_item_id (KtApp *app)
{
  return app->demo_item_id;
}

KtAttendance *
kt_app_attendance (KtApp *app)
{
  return app->attendance;
}

KtMetrics *
kt_app_metrics (KtApp *app)
{
  return app->metrics;
}

KtPlaylistBoard *
kt_app_playlist_board (KtApp *app)
{
  return app->playlist_board;
}

KtCodeGuard *
kt_app_code_guard (KtApp *app)
{
  return app->code_guard;
}

KtViewpointCache *
kt_app_viewpoints (KtApp *app)
{
  return app->viewpoints;
}

KtStore *
kt_app_store (KtApp *app)
{
  return app->store;
}
