/* kt-timetable-watch: the schedules directory, kept in force.
 *
 * Every *.ics file in the directory is one calendar (kt-timetable.c parses
 * and checks it). This part decides which version of each file is in force:
 *
 *   - a file that loads cleanly replaces its previous version;
 *   - a file that fails keeps its last good version in force, and its
 *     problems are logged and kept for the admin status page, so a typo
 *     saved at 08:59 does not take the 09:00 lesson off the air;
 *   - a file that disappears takes its channel's timetable with it;
 *   - two files claiming one channel: the first by file name wins, the
 *     other is reported.
 *
 * A GFileMonitor notices edits; reloading waits for a short quiet period,
 * because editors save in several steps (write temp, rename). Files whose
 * size and modification time did not change are not parsed again.
 */
#define G_LOG_DOMAIN "kt-timetable"

#include "kt-timetable.h"

#include <gio/gio.h>
#include <glib/gstdio.h>

#define QUIET_PERIOD_MS 300

typedef struct {
  KtCalendar *good;  /* last version that loaded, or NULL */
  char *problems;    /* NULL when the last load was good */
  gint64 mtime;
  gint64 size;
} KtScheduleFile;

struct _KtTimetable {
  char *dir;
  KtCalendarOptions options;
  GHashTable *files; /* path → KtScheduleFile* */
  GPtrArray *in_force; /* KtCalendar*, borrowed from files, by channel id */
  GHashTable *status;  /* path → problems text or NULL (borrowed) */
  GFileMonitor *monitor;
  guint quiet_timeout;
  KtTimetableChanged changed;
  gpointer changed_data;
};

static void
schedule_file_free (gpointer data)
{
  KtScheduleFile *f = data;
  kt_calendar_free (f->good);
  g_free (f->problems);
  g_free (f);
}

KtTimetable *
kt_timetable_new (const char *dir, const KtCalendarOptions *options)
{
  KtTimetable *t = g_new0 (KtTimetable, 1);
  t->dir = g_strdup (dir);
  t->options = *options;
  t->files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, schedule_file_free);
  t->in_force = g_ptr_array_new ();
  t->status = g_hash_table_new (g_str_hash, g_str_equal);
  return t;
}

void
kt_timetable_free (KtTimetable *t)
{
  if (t == NULL)
    return;
  if (t->quiet_timeout)
    g_source_remove (t->quiet_timeout);
  if (t->monitor) {
    g_file_monitor_cancel (t->monitor);
    g_object_unref (t->monitor);
  }
  g_hash_table_destroy (t->status);
  g_ptr_array_unref (t->in_force);
  g_hash_table_destroy (t->files);
  g_free (t->dir);
  g_free (t);
}

static char *
problems_text (GPtrArray *problems)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < problems->len; i++) {
    KtScheduleProblem *p = problems->pdata[i];
    g_string_append_printf (s, "%s%s:%d: %s", i ? "\n" : "", p->file, p->line, p->message);
  }
  return g_string_free (s, FALSE);
}

/* Load @path if it changed since last time; TRUE when what is in force changed. */
static gboolean
load_file (KtTimetable *t, const char *path, gboolean force)
{
  GStatBuf st;
  if (g_stat (path, &st) != 0)
    return FALSE;
  KtScheduleFile *f = g_hash_table_lookup (t->files, path);
  if (f != NULL && !force && f->mtime == (gint64) st.st_mtime && f->size == (gint64) st.st_size)
    return FALSE;
  if (f == NULL) {
    f = g_new0 (KtScheduleFile, 1);
    g_hash_table_insert (t->files, g_strdup (path), f);
  }
  f->mtime = st.st_mtime;
  f->size = st.st_size;

  g_autoptr (GPtrArray) problems =
      g_ptr_array_new_with_free_func ((GDestroyNotify) kt_schedule_problem_free);
  g_autoptr (GError) error = NULL;
  KtCalendar *calendar = kt_calendar_load (path, &t->options, problems, &error);
  g_clear_pointer (&f->problems, g_free);
  if (calendar == NULL) {
    f->problems = problems_text (problems);
    g_warning ("schedule file=%s not applied%s:\n%s", path,
               f->good ? " (its last good version stays in force)" : "", f->problems);
    return FALSE;
  }
  kt_calendar_free (f->good);
  f->good = calendar;
  g_info ("schedule file=%s channel=%s occurrences=%u", path, kt_calendar_channel_id (calendar),
          kt_calendar_occurrences (calendar)->len);
  return TRUE;
}

static int
compare_paths (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

static int
compare_calendars (gconstpointer a, gconstpointer b)
{
  const KtCalendar *x = *(KtCalendar *const *) a, *y = *(KtCalendar *const *) b;
  return g_strcmp0 (kt_calendar_channel_id (x), kt_calendar_channel_id (y));
}

static void
rebuild_in_force (KtTimetable *t)
{
  g_ptr_array_set_size (t->in_force, 0);
  g_hash_table_remove_all (t->status);
  g_autoptr (GPtrArray) paths = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;
  g_hash_table_iter_init (&iter, t->files);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (paths, key);
  g_ptr_array_sort (paths, compare_paths);
  g_autoptr (GHashTable) claimed = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < paths->len; i++) {
    const char *path = paths->pdata[i];
    KtScheduleFile *f = g_hash_table_lookup (t->files, path);
    g_hash_table_insert (t->status, (gpointer) path, f->problems);
    if (f->good == NULL)
      continue;
    const char *channel = kt_calendar_channel_id (f->good);
    const char *owner = g_hash_table_lookup (claimed, channel);
    if (owner != NULL) {
      g_free (f->problems);
      f->problems = g_strdup_printf ("%s:1: channel %s is already defined by %s", path, channel,
                                     owner);
      g_hash_table_insert (t->status, (gpointer) path, f->problems);
      g_warning ("%s", f->problems);
      continue;
    }
    g_hash_table_insert (claimed, (gpointer) channel, (gpointer) path);
    g_ptr_array_add (t->in_force, f->good);
  }
  g_ptr_array_sort (t->in_force, compare_calendars);
}

static gboolean
reload_all (KtTimetable *t, gboolean force)
{
  gboolean changed = FALSE;
  g_autoptr (GHashTable) present = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GDir) dir = g_dir_open (t->dir, 0, NULL);
  const char *name;
  while (dir && (name = g_dir_read_name (dir)) != NULL) {
    if (!g_str_has_suffix (name, ".ics") || name[0] == '.')
      continue;
    char *path = g_build_filename (t->dir, name, NULL);
    g_hash_table_add (present, path);
    changed |= load_file (t, path, force);
  }
  GHashTableIter iter;
  gpointer key;
  g_hash_table_iter_init (&iter, t->files);
  while (g_hash_table_iter_next (&iter, &key, NULL)) {
    if (!g_hash_table_contains (present, key)) {
      g_info ("schedule file=%s removed", (char *) key);
      g_hash_table_iter_remove (&iter);
      changed = TRUE;
    }
  }
  rebuild_in_force (t);
  return changed;
}

void
kt_timetable_reload (KtTimetable *t)
{
  if (reload_all (t, FALSE) && t->changed)
    t->changed (t, t->changed_data);
}

void
kt_timetable_set_horizon (KtTimetable *t, gint64 horizon_us)
{
  t->options.horizon_us = horizon_us;
  reload_all (t, TRUE);
  if (t->changed)
    t->changed (t, t->changed_data);
}

static gboolean
on_quiet (gpointer data)
{
  KtTimetable *t = data;
  t->quiet_timeout = 0;
  kt_timetable_reload (t);
  return G_SOURCE_REMOVE;
}

static void
on_dir_changed (GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event,
                gpointer data)
{
  KtTimetable *t = data;
  if (t->quiet_timeout)
    g_source_remove (t->quiet_timeout);
  t->quiet_timeout = g_timeout_add (QUIET_PERIOD_MS, on_quiet, t);
}

void
kt_timetable_watch (KtTimetable *t, KtTimetableChanged changed, gpointer user_data)
{
  t->changed = changed;
  t->changed_data = user_data;
  g_autoptr (GFile) dir = g_file_new_for_path (t->dir);
  g_autoptr (GError) error = NULL;
  t->monitor = g_file_monitor_directory (dir, G_FILE_MONITOR_WATCH_MOVES, NULL, &error);
  if (t->monitor == NULL) {
    g_warning ("cannot watch schedules dir=%s: %s", t->dir, error->message);
    return;
  }
  g_file_monitor_set_rate_limit (t->monitor, 100);
  g_signal_connect (t->monitor, "changed", G_CALLBACK (on_dir_changed), t);
}

GPtrArray *
kt_timetable_calendars (KtTimetable *t)
{
  return t->in_force;
}

GHashTable *
kt_timetable_file_status (KtTimetable *t)
{
  return t->status;
}

KtCalendar *
kt_timetable_find (KtTimetable *t, const char *channel_id)
{
  for (guint i = 0; i < t->in_force->len; i++)
    if (g_str_equal (kt_calendar_channel_id (t->in_force->pdata[i]), channel_id))
      return t->in_force->pdata[i];
  return NULL;
}

const char *
kt_timetable_dir (KtTimetable *t)
{
  return t->dir;
}

const KtCalendarOptions *
kt_timetable_options (KtTimetable *t)
{
  return &t->options;
}
