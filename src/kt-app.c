/* kt-app: the server as a whole.
 *
 * Owns every long-lived part and the order they start and stop in:
 *
 *   start: data dir → store (migrations) → library (cleans abandoned jobs)
 *          → channels → HTTP listening → programmes (demo render if needed)
 *   stop:  jobs (pipelines to NULL) → HTTP → (free) channels, library, store
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
#include "kt-http.h"

#include <errno.h>

G_DEFINE_QUARK (kt-app-error-quark, kt_app_error)

struct _KtApp {
  KtConfig *config;
  gboolean demo;
  char *demo_item_id;
  KtStore *store;
  KtLibrary *library;
  KtSegmentStore *segments;
  GPtrArray *channels; /* KtChannel*, owned */
  GTimeZone *timezone;
  KtHttp *http;
};

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
  app->library = kt_library_new (app->store, data_dir,
                                 kt_config_get_string (config, "server", "pipelines_dir"), error);
  if (app->library == NULL)
    return NULL;
  app->segments =
      kt_segment_store_new ((gsize) kt_config_get_int (config, "hls", "segment_cache_mb") << 20);

  const char *tz_name = kt_config_get_string (config, "server", "timezone");
  app->timezone = g_time_zone_new_identifier (tz_name);
  if (app->timezone == NULL) {
    g_warning ("unknown time zone “%s”, using UTC", tz_name);
    app->timezone = g_time_zone_new_utc ();
  }

  g_ptr_array_add (app->channels,
                   kt_channel_new ("1", kt_config_get_string (config, "channel", "name")));
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
  if (!kt_library_render_demo (app->library, app->demo_item_id,
                               kt_config_get_string (c, "demo", "title"),
                               kt_config_get_string (c, "demo", "teacher"),
                               kt_config_get_int (c, "demo", "seconds"), on_demo_done, app,
                               error)) {
    kt_channel_set_off_air (channel);
    g_prefix_error (error, "demo lesson: ");
    return FALSE;
  }
  return TRUE;
}

gboolean
kt_app_start (KtApp *app, GError **error)
{
  app->http = kt_http_new (app);
  if (!kt_http_listen (app->http, kt_config_get_string (app->config, "server", "listen"), error))
    return FALSE;
  if (app->demo && !start_demo (app, error))
    return FALSE;
  return TRUE;
}

void
kt_app_stop (KtApp *app)
{
  if (app->library)
    kt_library_stop_jobs (app->library);
  g_clear_pointer (&app->http, kt_http_free);
}

void
kt_app_free (KtApp *app)
{
  if (app == NULL)
    return;
  kt_app_stop (app);
  g_clear_pointer (&app->channels, g_ptr_array_unref);
  g_clear_pointer (&app->segments, kt_segment_store_free);
  g_clear_pointer (&app->library, kt_library_free);
  g_clear_pointer (&app->store, kt_store_free);
  g_clear_pointer (&app->timezone, g_time_zone_unref);
  g_clear_pointer (&app->config, kt_config_free);
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

KtLibrary *
kt_app_library (KtApp *app)
{
  return app->library;
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
