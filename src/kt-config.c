/* kt-config: the INI file, read through one table of defaults.
 *
 * Every setting ketang has is a row of kt_config_keys[] below: group, key,
 * type, default, bounds and a one-line description. The same table validates
 * the file (unknown keys are typos and are refused, values are type- and
 * bounds-checked), fills in defaults, and prints the effective configuration
 * with --print-config. Adding a setting means adding a row here and a
 * commented line in ketang.conf.sample.
 *
 * Sources, weakest first: the table, the file, KETANG_<GROUP>_<KEY>
 * environment variables (handy for tests and containers), command-line
 * options. GKeyFile does not report line numbers, so errors about the file
 * find the offending line themselves (find_line()) to say "file:line".
 *
 * Relative paths in the file are taken relative to the working directory, as
 * a user typing `ketang serve --data data` expects.
 *
 * One kind of section is not in the table: [rtsp.<talk>], one per classroom
 * camera that kt-live pulls a talk from, with a single key, url. Its name
 * carries the talk, so there can be any number of them; each is checked
 * here (a talk name, an rtsp:// URL with a host) as strictly as the table's
 * keys. The URL may carry the camera's password, so everything that shows
 * it (--print-config, logs) shows kt_config_redact_url's form.
 */
#define G_LOG_DOMAIN "kt-config"

#include "kt-config.h"
#include "kt-build-config.h"

#include <errno.h>
#include <stdlib.h>

G_DEFINE_QUARK (kt-config-error-quark, kt_config_error)

typedef enum { KT_TYPE_STRING, KT_TYPE_INT, KT_TYPE_BOOL, KT_TYPE_DOUBLE } KtConfigType;

typedef struct {
  const char *group;
  const char *key;
  KtConfigType type;
  const char *default_value;
  gint64 min, max; /* for KT_TYPE_INT and KT_TYPE_DOUBLE */
  const char *help;
} KtConfigKey;

static const KtConfigKey kt_config_keys[] = {
  { "server", "listen", KT_TYPE_STRING, "127.0.0.1:8080", 0, 0,
    "HOST:PORT to serve HTTP on; port 0 picks a free port" },
  { "server", "data_dir", KT_TYPE_STRING, "data", 0, 0,
    "Directory for the SQLite database and the media library" },
  { "server", "web_dir", KT_TYPE_STRING, KT_SOURCE_ROOT "/web", 0, 0,
    "Directory of the web pages served at /" },
  { "server", "node_modules_dir", KT_TYPE_STRING, KT_SOURCE_ROOT "/node_modules", 0, 0,
    "Where npm installed the web packages (hls.js is served from here)" },
  { "server", "pipelines_dir", KT_TYPE_STRING, KT_SOURCE_ROOT "/pipelines", 0, 0,
    "Directory of GStreamer pipeline templates" },
  { "server", "schedules_dir", KT_TYPE_STRING, KT_SOURCE_ROOT "/schedules", 0, 0,
    "Directory of iCalendar timetables" },
  { "server", "timezone", KT_TYPE_STRING, "Asia/Shanghai", 0, 0,
    "Time zone for guide times shown to viewers (an IANA name)" },
  { "server", "threads", KT_TYPE_INT, "0", 0, 64,
    "HTTP serving threads; 0: four per processor (at most 16)" },
  { "server", "tls_certificate", KT_TYPE_STRING, "", 0, 0,
    "PEM certificate (chain) file: serve HTTPS instead of HTTP; empty for plain HTTP" },
  { "server", "tls_key", KT_TYPE_STRING, "", 0, 0,
    "PEM private key file of tls_certificate (empty: the key is in the certificate file)" },
  { "hls", "window_segments", KT_TYPE_INT, "6", 3, 60,
    "Segments (of 2 s) in a channel's live playlist window" },
  { "hls", "segment_cache_mb", KT_TYPE_INT, "256", 8, 65536,
    "Memory for mapped segment files kept ready to serve" },
  { "metrics", "token", KT_TYPE_STRING, "", 0, 0,
    "Bearer token that lets a scraper read /metrics from anywhere; empty: none" },
  { "metrics", "allow_loopback", KT_TYPE_BOOL, "true", 0, 0,
    "Serve /metrics without a token to clients on 127.0.0.1 or ::1 (not to proxied requests)" },
  { "auth", "session_hours", KT_TYPE_INT, "12", 1, 24 * 366,
    "Hours a login lasts before the browser must log in again" },
  { "auth", "login_max_failures", KT_TYPE_INT, "5", 1, 1000,
    "Failed logins for one name before it is locked for a while (30 s, doubling to 15 min)" },
  { "upload", "max_mb", KT_TYPE_INT, "4096", 1, 1048576,
    "Largest lecture file a teacher may upload, in megabytes" },
  { "channel", "name", KT_TYPE_STRING, "第一频道", 0, 0,
    "Name of channel 1" },
  { "library", "max_jobs", KT_TYPE_INT, "1", 1, 16,
    "Uploads normalized at the same time (each runs a full x264 ladder)" },
  { "library", "stall_seconds", KT_TYPE_INT, "300", 10, 86400,
    "An upload whose normalization encodes no new picture for this long is failed" },
  { "attendance", "heartbeat_seconds", KT_TYPE_INT, "20", 5, 600,
    "Seconds between a player's heartbeats; watched time per heartbeat is capped at twice this" },
  { "attendance", "timeout_seconds", KT_TYPE_INT, "60", 10, 3600,
    "A viewer not heard from for this long has left (at their last heartbeat)" },
  { "attendance", "flush_seconds", KT_TYPE_INT, "5", 1, 300,
    "Heartbeats are written to the database in one transaction this often" },
  { "attendance", "attended_share", KT_TYPE_DOUBLE, "0.6", 0, 1,
    "Share of a lesson's slot a viewer must watch to count as attended (0 to 1)" },
  { "live", "srt_listen", KT_TYPE_STRING, "0.0.0.0:9710", 0, 0,
    "HOST:PORT (UDP) where OBS or ffmpeg publish live talks over SRT; empty turns SRT off" },
  { "live", "srt_latency_ms", KT_TYPE_INT, "200", 20, 8000,
    "SRT receive latency in milliseconds: more rides out a worse network, adds delay" },
  { "live", "early_minutes", KT_TYPE_INT, "30", 0, 1440,
    "Minutes before a live talk's start that its speaker may connect (to test; not aired)" },
  { "live", "fallback_minutes", KT_TYPE_INT, "10", 1, 240,
    "Minutes into a live talk without its speaker before its recorded fallback airs" },
  { "attendance", "code_max_failures", KT_TYPE_INT, "5", 1, 1000,
    "Wrong viewing point codes from one address before it waits (60 s, doubling to 1 h)" },
  { "attendance", "code_failures_per_hour", KT_TYPE_INT, "60", 1, 100000,
    "Wrong viewing point codes from everybody in one hour before codes are refused till its end" },
  { "demo", "title", KT_TYPE_STRING, "示范课：太极拳入门", 0, 0,
    "Title of the demo lesson made by --demo" },
  { "demo", "teacher", KT_TYPE_STRING, "示范教师", 0, 0,
    "Teacher named on the demo lesson" },
  { "demo", "seconds", KT_TYPE_INT, "30", 4, 3600,
    "Length of the demo lesson in seconds (rounded up to whole 2 s segments)" },
};

typedef struct {
  const KtConfigKey *key;
  char *value;
  char *origin; /* "default", "file:line", "environment", "--listen" */
} KtConfigValue;

typedef struct {
  char *input; /* the talk, as in live:<input> */
  char *url;
  char *origin;
} KtConfigCamera;

struct _KtConfig {
  char *path;
  KtConfigValue values[G_N_ELEMENTS (kt_config_keys)];
  GPtrArray *cameras;      /* KtConfigCamera*, in the order they were set */
  GPtrArray *camera_talks; /* their inputs, NULL-terminated, for kt_config_camera_talks */
};

#define CAMERA_GROUP_PREFIX "rtsp."
#define CAMERA_INPUT_MAX 64

static int
find_key (const char *group, const char *key)
{
  for (guint i = 0; i < G_N_ELEMENTS (kt_config_keys); i++)
    if (g_str_equal (kt_config_keys[i].group, group) && g_str_equal (kt_config_keys[i].key, key))
      return (int) i;
  return -1;
}

/* The 1-based line where @key is set in [@group] (or where [@group] starts
 * when @key is NULL), or 0 when it cannot be found. */
static int
find_line (const char *text, const char *group, const char *key)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autofree char *current = NULL;
  for (int i = 0; lines[i]; i++) {
    g_autofree char *line = g_strstrip (g_strdup (lines[i]));
    if (line[0] == '[') {
      char *end = strchr (line, ']');
      g_free (current);
      current = end ? g_strndup (line + 1, end - line - 1) : g_strdup (line + 1);
      if (key == NULL && g_strcmp0 (current, group) == 0)
        return i + 1;
      continue;
    }
    if (key == NULL || g_strcmp0 (current, group) != 0)
      continue;
    char *eq = strchr (line, '=');
    if (eq == NULL)
      continue;
    g_autofree char *name = g_strstrip (g_strndup (line, eq - line));
    if (g_str_equal (name, key))
      return i + 1;
  }
  return 0;
}

static gboolean
check_value (const KtConfigKey *k, const char *value, const char *origin, GError **error)
{
  switch (k->type) {
    case KT_TYPE_STRING:
      if (g_str_equal (k->key, "listen")) {
        const char *colon = strrchr (value, ':');
        guint64 port;
        if (colon == NULL || colon == value ||
            !g_ascii_string_to_unsigned (colon + 1, 10, 0, 65535, &port, NULL)) {
          g_set_error (error, KT_CONFIG_ERROR, KT_CONFIG_ERROR_VALUE,
                       "%s: [%s] %s must be HOST:PORT, not “%s”", origin, k->group, k->key, value);
          return FALSE;
        }
      }
      if (value[0] == '\0' && g_str_has_suffix (k->key, "_dir")) {
        g_set_error (error, KT_CONFIG_ERROR, KT_CONFIG_ERROR_VALUE,
                     "%s: [%s] %s must not be empty", origin, k->group, k->key);
        return FALSE;
      }
      return TRUE;
    case KT_TYPE_INT: {
      gint64 n;
      if (!g_ascii_string_to_signed (value, 10, k->min, k->max, &n, NULL)) {
        g_set_error (error, KT_CONFIG_ERROR, KT_CONFIG_ERROR_VALUE,
                     "%s: [%s] %s must be a whole number from %" G_GINT64_FORMAT
                     " to %" G_GINT64_FORMAT ", not “%s”",
                     origin, k->group, k->key, k->min, k->max, value);
        return FALSE;
      }
      return TRUE;
    }
    case KT_TYPE_DOUBLE: {
      char *end = NULL;
      double d = g_ascii_strtod (value, &end);
      if (value[0] == '\0' || end == NULL || *end != '\0' || !(d >= k->min && d <= k->max)) {
        g_set_error (error, KT_CONFIG_ERROR, KT_CONFIG_ERROR_VALUE,
                     "%s: [%s] %s must be a number from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT
                     ", not “%s”",
                     origin, k->group, k->key, k->min, k->max, value);
        return FALSE;
      }
      return TRUE;
    }
    case KT_TYPE_BOOL:
      if (g_strcmp0 (value, "true") != 0 && g_strcmp0 (value, "false") != 0) {
        g_set_error (error, KT_CONFIG_ERROR, KT_CONFIG_ERROR_VALUE,
                     "%s: [%s] %s must be true or false, not “%s”", origin, k->group, k->key,
                     value);
        return FALSE;
      }
      return TRUE;
  }
  g_assert_not_reached ();
}

static void
set_value (KtConfigValue *v, const char *value, const char *origin)
{
  g_free (v->value);
  g_free (v->origin);
  v->value = g_strdup (value);
  v->origin = g_strdup (origin);
}

static void
camera_free (KtConfigCamera *camera)
{
  g_free (camera->input);
  g_free (camera->url);
  g_free (camera->origin);
  g_free (camera);
}

/* A talk's name as it may appear in a section name: the characters a
 * timetable author types for live:<talk>, nothing that needs quoting. */
static gboolean
camera_input_valid (const char *input)
{
  gsize n = strlen (input);
  if (n == 0 || n > CAMERA_INPUT_MAX)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isalnum (input[i]) && input[i] != '-' && input[i] != '_')
      return FALSE;
  return TRUE;
}

static gboolean
check_camera (const char *input, const char *url, const char *origin, GError **error)
{
  if (!camera_input_valid (input)) {
    g_set_error (error, KT_CONFIG_ERROR, KT_CONFIG_ERROR_VALUE,
                 "%s: [rtsp.%s]: the talk name after “rtsp.” must be 1 to %d letters, digits, "
                 "“-” or “_” (as in the timetable's live:<talk>)",
                 origin, input, CAMERA_INPUT_MAX);
    return FALSE;
  }
  g_autofree char *shown = kt_config_redact_url (url);
  if (url[0] == '\0') {
    g_set_error (error, KT_CONFIG_ERROR, KT_CONFIG_ERROR_VALUE,
                 "%s: [rtsp.%s] url must not be empty (rtsp://HOST[:PORT]/PATH)", origin, input);
    return FALSE;
  }
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const char *scheme = uri ? g_uri_get_scheme (uri) : NULL;
  const char *host = uri ? g_uri_get_host (uri) : NULL;
  if (uri == NULL || host == NULL || host[0] == '\0'
      || !(g_str_equal (scheme, "rtsp") || g_str_equal (scheme, "rtsps")
           || g_str_equal (scheme, "rtspt"))) {
    g_set_error (error, KT_CONFIG_ERROR, KT_CONFIG_ERROR_VALUE,
                 "%s: [rtsp.%s] url must be rtsp://[USER:PASSWORD@]HOST[:PORT]/PATH "
                 "(or rtsps://, rtspt://), not “%s”",
                 origin, input, shown);
    return FALSE;
  }
  return TRUE;
}

static gboolean
set_camera (KtConfig *config, const char *input, const char *url, const char *origin,
            GError **error)
{
  if (!check_camera (input, url, origin, error))
    return FALSE;
  for (guint i = 0; i < config->cameras->len; i++) {
    KtConfigCamera *camera = config->cameras->pdata[i];
    if (g_str_equal (camera->input, input)) {
      g_free (camera->url);
      g_free (camera->origin);
      camera->url = g_strdup (url);
      camera->origin = g_strdup (origin);
      return TRUE;
    }
  }
  KtConfigCamera *camera = g_new0 (KtConfigCamera, 1);
  camera->input = g_strdup (input);
  camera->url = g_strdup (url);
  camera->origin = g_strdup (origin);
  g_ptr_array_add (config->cameras, camera);
  g_ptr_array_insert (config->camera_talks, config->camera_talks->len - 1, camera->input);
  return TRUE;
}

/* [rtsp.<talk>] of the file at @path (its @text, for line numbers). */
static gboolean
load_camera (KtConfig *config, GKeyFile *kf, const char *group, const char *path,
             const char *text, GError **error)
{
  const char *input = group + strlen (CAMERA_GROUP_PREFIX);
  g_auto (GStrv) keys = g_key_file_get_keys (kf, group, NULL, NULL);
  g_autofree char *url = NULL;
  g_autofree char *origin = g_strdup_printf ("%s:%d", path, find_line (text, group, NULL));
  for (int k = 0; keys && keys[k]; k++) {
    g_free (origin);
    origin = g_strdup_printf ("%s:%d", path, find_line (text, group, keys[k]));
    if (!g_str_equal (keys[k], "url")) {
      g_set_error (error, KT_CONFIG_ERROR, KT_CONFIG_ERROR_UNKNOWN,
                   "%s: unknown key “%s” in [%s] (a camera has only url)", origin, keys[k],
                   group);
      return FALSE;
    }
    g_free (url);
    url = g_key_file_get_string (kf, group, keys[k], NULL);
  }
  return set_camera (config, input, url ? url : "", origin, error);
}

static gboolean
load_file (KtConfig *config, const char *path, GError **error)
{
  g_autofree char *text = NULL;
  gsize len;
  g_autoptr (GError) local = NULL;

  if (!g_file_get_contents (path, &text, &len, &local)) {
    g_set_error (error, KT_CONFIG_ERROR, KT_CONFIG_ERROR_READ, "%s: %s", path, local->message);
    return FALSE;
  }
  if (!g_utf8_validate (text, len, NULL)) {
    g_set_error (error, KT_CONFIG_ERROR, KT_CONFIG_ERROR_SYNTAX, "%s: not UTF-8 text", path);
    return FALSE;
  }

  g_autoptr (GKeyFile) kf = g_key_file_new ();
  if (!g_key_file_load_from_data (kf, text, len, G_KEY_FILE_NONE, &local)) {
    g_set_error (error, KT_CONFIG_ERROR, KT_CONFIG_ERROR_SYNTAX, "%s: %s", path, local->message);
    return FALSE;
  }

  g_auto (GStrv) groups = g_key_file_get_groups (kf, NULL);
  for (int g = 0; groups[g]; g++) {
    if (g_str_has_prefix (groups[g], CAMERA_GROUP_PREFIX)) {
      if (!load_camera (config, kf, groups[g], path, text, error))
        return FALSE;
      continue;
    }
    g_auto (GStrv) keys = g_key_file_get_keys (kf, groups[g], NULL, NULL);
    gboolean group_known = FALSE;
    for (guint i = 0; i < G_N_ELEMENTS (kt_config_keys); i++)
      group_known |= g_str_equal (kt_config_keys[i].group, groups[g]);
    if (!group_known) {
      g_set_error (error, KT_CONFIG_ERROR, KT_CONFIG_ERROR_UNKNOWN, "%s:%d: unknown group [%s]",
                   path, find_line (text, groups[g], NULL), groups[g]);
      return FALSE;
    }
    for (int k = 0; keys && keys[k]; k++) {
      int line = find_line (text, groups[g], keys[k]);
      g_autofree char *origin = g_strdup_printf ("%s:%d", path, line);
      int idx = find_key (groups[g], keys[k]);
      if (idx < 0) {
        g_set_error (error, KT_CONFIG_ERROR, KT_CONFIG_ERROR_UNKNOWN, "%s: unknown key “%s” in [%s]",
                     origin, keys[k], groups[g]);
        return FALSE;
      }
      g_autofree char *value = g_key_file_get_string (kf, groups[g], keys[k], &local);
      if (value == NULL) {
        g_set_error (error, KT_CONFIG_ERROR, KT_CONFIG_ERROR_VALUE, "%s: %s", origin,
                     local->message);
        return FALSE;
      }
      if (!check_value (&kt_config_keys[idx], value, origin, error))
        return FALSE;
      set_value (&config->values[idx], value, origin);
    }
  }
  return TRUE;
}

KtConfig *
kt_config_load (const char *path, GError **error)
{
  g_autoptr (KtConfig) config = g_new0 (KtConfig, 1);
  config->cameras = g_ptr_array_new_with_free_func ((GDestroyNotify) camera_free);
  config->camera_talks = g_ptr_array_new ();
  g_ptr_array_add (config->camera_talks, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (kt_config_keys); i++) {
    config->values[i].key = &kt_config_keys[i];
    set_value (&config->values[i], kt_config_keys[i].default_value, "default");
  }

  if (path != NULL) {
    config->path = g_strdup (path);
    if (!load_file (config, path, error))
      return NULL;
  }

  for (guint i = 0; i < G_N_ELEMENTS (kt_config_keys); i++) {
    g_autofree char *name = g_ascii_strup (
        g_strdup_printf ("KETANG_%s_%s", kt_config_keys[i].group, kt_config_keys[i].key), -1);
    const char *env = g_getenv (name);
    if (env == NULL)
      continue;
    if (!check_value (&kt_config_keys[i], env, name, error))
      return NULL;
    set_value (&config->values[i], env, name);
  }
  return g_steal_pointer (&config);
}

gboolean
kt_config_override (KtConfig *config, const char *group, const char *key, const char *value,
                    const char *origin, GError **error)
{
  if (g_str_has_prefix (group, CAMERA_GROUP_PREFIX) && g_str_equal (key, "url"))
    return set_camera (config, group + strlen (CAMERA_GROUP_PREFIX), value, origin, error);
  int idx = find_key (group, key);
  g_return_val_if_fail (idx >= 0, FALSE);
  if (!check_value (&kt_config_keys[idx], value, origin, error))
    return FALSE;
  set_value (&config->values[idx], value, origin);
  return TRUE;
}

void
kt_config_free (KtConfig *config)
{
  if (config == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (kt_config_keys); i++) {
    g_free (config->values[i].value);
    g_free (config->values[i].origin);
  }
  g_ptr_array_unref (config->cameras);
  g_ptr_array_unref (config->camera_talks);
  g_free (config->path);
  g_free (config);
}

static const KtConfigValue *
lookup (const KtConfig *config, const char *group, const char *key, KtConfigType type)
{
  int idx = find_key (group, key);
  g_return_val_if_fail (idx >= 0, NULL);
  g_return_val_if_fail (kt_config_keys[idx].type == type, NULL);
  return &config->values[idx];
}

const char *
kt_config_get_string (const KtConfig *config, const char *group, const char *key)
{
  const KtConfigValue *v = lookup (config, group, key, KT_TYPE_STRING);
  return v ? v->value : NULL;
}

gint64
kt_config_get_int (const KtConfig *config, const char *group, const char *key)
{
  const KtConfigValue *v = lookup (config, group, key, KT_TYPE_INT);
  return v ? g_ascii_strtoll (v->value, NULL, 10) : 0;
}

double
kt_config_get_double (const KtConfig *config, const char *group, const char *key)
{
  const KtConfigValue *v = lookup (config, group, key, KT_TYPE_DOUBLE);
  return v ? g_ascii_strtod (v->value, NULL) : 0;
}

gboolean
kt_config_get_bool (const KtConfig *config, const char *group, const char *key)
{
  const KtConfigValue *v = lookup (config, group, key, KT_TYPE_BOOL);
  return v ? g_str_equal (v->value, "true") : FALSE;
}

char *
kt_config_to_string (const KtConfig *config)
{
  GString *out = g_string_new ("# ketang effective configuration\n");
  const char *group = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (kt_config_keys); i++) {
    const KtConfigKey *k = &kt_config_keys[i];
    if (group == NULL || !g_str_equal (group, k->group)) {
      group = k->group;
      g_string_append_printf (out, "\n[%s]\n", group);
    }
    g_string_append_printf (out, "# %s (from %s)\n%s = %s\n", k->help, config->values[i].origin,
                            k->key, config->values[i].value);
  }
  for (guint i = 0; i < config->cameras->len; i++) {
    const KtConfigCamera *camera = config->cameras->pdata[i];
    g_autofree char *shown = kt_config_redact_url (camera->url);
    g_string_append_printf (out,
                            "\n[rtsp.%s]\n# Camera that live:%s is pulled from; password "
                            "not shown (from %s)\nurl = %s\n",
                            camera->input, camera->input, camera->origin, shown);
  }
  return g_string_free (out, FALSE);
}

const char *
kt_config_get_camera (const KtConfig *config, const char *input)
{
  for (guint i = 0; i < config->cameras->len; i++) {
    const KtConfigCamera *camera = config->cameras->pdata[i];
    if (g_str_equal (camera->input, input))
      return camera->url;
  }
  return NULL;
}

const char *const *
kt_config_camera_talks (const KtConfig *config)
{
  return (const char *const *) config->camera_talks->pdata;
}

char *
kt_config_redact_url (const char *url)
{
  /* Everything between the scheme and the last "@" before the query goes:
   * a password with an unescaped "/" or "@" in it would fool a parser, and
   * a log line that says too little is the safe way to be wrong. */
  const char *authority = strstr (url, "://");
  if (authority == NULL)
    return g_strdup (url);
  authority += 3;
  const char *query = strchr (authority, '?');
  const char *at = NULL;
  for (const char *p = authority; *p && (query == NULL || p < query); p++)
    if (*p == '@')
      at = p;
  if (at == NULL)
    return g_strdup (url);
  return g_strdup_printf ("%.*s%s", (int) (authority - url), url, at + 1);
}
