/* kt-attendance: who watched which lesson, for how long, with how many in
 * the room.
 *
 * Players send a heartbeat every 20 s or so (kt-http-attendance.c checks who
 * sends it). A heartbeat names a channel; the lesson it counts for is what
 * kt_channel_airing_at() says is on at that instant, so a viewer needs no
 * idea of the timetable, and heartbeats during a slate count for nothing.
 * A session is one viewer on one lesson occurrence of one channel:
 * (viewer_key, channel, lesson start) is unique in viewer_sessions.
 *
 * Watched time is earned between two heartbeats that both say "playing", at
 * most twice the heartbeat interval: a paused or stalled player earns
 * nothing, and a laptop that slept for an hour earns 40 s, not an hour. The
 * time earned is the stretch before the heartbeat, and it is split at lesson
 * boundaries, so the 20 s before the heartbeat that first lands in the slate
 * still go to the lesson that just ended.
 *
 * Heartbeats are many and each must be answered fast, so they only change
 * memory; a kt-clock timer flushes every changed session in one transaction
 * every [attendance] flush_seconds. A crash loses at most that interval. The
 * same flush closes sessions silent for longer than the timeout, at their
 * last heartbeat: a closed tab ends on time. A session a previous process
 * left open (it crashed, or was killed) is closed at its last heartbeat when
 * the next one starts; if the viewer is still watching, its next heartbeat
 * reopens that same row, so nothing is counted twice.
 *
 * Per viewer and channel a tracker keeps the previous heartbeat (time,
 * state, session), which is also what the live board shows: a viewing point
 * between two lessons is online without a session.
 */
#define G_LOG_DOMAIN "kt-attendance"

#include "kt-attendance.h"
#include "kt-metrics.h"
#include "kt-clock.h"

G_DEFINE_QUARK (kt-attendance-error-quark, kt_attendance_error)

typedef struct {
  gint64 row_id; /* 0 until first written */
  char *key;     /* viewer_key "\n" channel "\n" lesson start: the sessions table key */
  char *viewer_key;
  gint64 viewpoint_id;
  char *name;
  char *phone;
  gint64 member_of;
  char *channel;
  char *title;
  char *teacher;
  gint64 start_us, end_us;
  gint64 joined_us, last_us, watched_us, stalls, headcount;
  gboolean closed;
  gboolean dirty; /* changed since the last flush */
  gboolean fresh; /* inserted by the flush under way (undone if it rolls back) */
} Session;

typedef struct {
  gint64 viewpoint_id;
  char *name;
  char *channel;
  gint64 last_us;
  KtPlayState state;
  gint64 headcount;
  char *session_key; /* the session the previous heartbeat counted for, or NULL */
} Tracker;

struct _KtAttendance {
  KtStore *store;
  KtAttendanceOptions options;
  GHashTable *sessions; /* key → Session*, owned: open ones and closed ones not yet written */
  GHashTable *trackers; /* viewer_key "\n" channel → Tracker*, owned */
  guint timer;
  KtHistogram *flush_timings; /* seconds per flush that wrote, for /metrics */
  guint64 flush_failures;
  GString *key;   /* a heartbeat's session key, made here rather than allocated per beat */
  gboolean debug; /* this domain's debug messages are shown (read at new) */
};

static const char *const state_names[] = { "playing", "paused", "stalled" };

const char *
kt_play_state_to_string (KtPlayState state)
{
  return state_names[state];
}

gboolean
kt_play_state_from_string (const char *text, KtPlayState *state)
{
  for (guint i = 0; text && i < G_N_ELEMENTS (state_names); i++)
    if (g_str_equal (text, state_names[i])) {
      *state = (KtPlayState) i;
      return TRUE;
    }
  return FALSE;
}

static void
session_free (Session *s)
{
  g_free (s->key);
  g_free (s->viewer_key);
  g_free (s->name);
  g_free (s->phone);
  g_free (s->channel);
  g_free (s->title);
  g_free (s->teacher);
  g_free (s);
}

static void
tracker_free (Tracker *t)
{
  g_free (t->name);
  g_free (t->channel);
  g_free (t->session_key);
  g_free (t);
}

void
kt_online_free (KtOnline *online)
{
  g_free (online->name);
  g_free (online->channel);
  g_free (online->lesson);
  g_free (online);
}

static gboolean
store_error (KtAttendance *att, GError **error)
{
  g_set_error (error, KT_ATTENDANCE_ERROR, KT_ATTENDANCE_ERROR_STORE, "database: %s",
               sqlite3_errmsg (kt_store_handle (att->store)));
  return FALSE;
}

static gboolean
on_flush_timer (gpointer data)
{
  KtAttendance *att = data;
  g_autoptr (GError) error = NULL;
  if (!kt_attendance_flush (att, kt_clock_now_us (), &error))
    g_warning ("attendance flush failed, will retry: %s", error->message);
  return G_SOURCE_CONTINUE;
}

KtAttendance *
kt_attendance_new (KtStore *store, const KtAttendanceOptions *options, GError **error)
{
  g_autoptr (KtAttendance) att = g_new0 (KtAttendance, 1);
  att->store = store;
  att->options = *options;
  att->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify) session_free);
  att->trackers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) tracker_free);
  att->flush_timings = kt_histogram_new (kt_metrics_latency_bounds, kt_metrics_n_latency_bounds);
  att->key = g_string_sized_new (128);
  att->debug = !g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN);
  if (!kt_store_exec (store,
                      "UPDATE viewer_sessions SET left_us = last_us WHERE left_us IS NULL", NULL))
    return store_error (att, error), NULL;
  int closed = sqlite3_changes (kt_store_handle (store));
  if (closed > 0)
    g_info ("closed sessions left open sessions=%d", closed);
  att->timer = kt_clock_timer_add (options->flush_ms, on_flush_timer, att);
  return g_steal_pointer (&att);
}

void
kt_attendance_free (KtAttendance *att)
{
  if (att == NULL)
    return;
  if (att->timer)
    kt_clock_timer_remove (att->timer);
  g_clear_pointer (&att->sessions, g_hash_table_destroy);
  g_clear_pointer (&att->trackers, g_hash_table_destroy);
  g_clear_pointer (&att->flush_timings, kt_histogram_free);
  if (att->key != NULL)
    g_string_free (att->key, TRUE);
  g_free (att);
}

const KtHistogram *
kt_attendance_flush_timings (KtAttendance *att, guint64 *failures)
{
  *failures = att->flush_failures;
  return att->flush_timings;
}

void
kt_attendance_abandon (KtAttendance *att)
{
  g_hash_table_remove_all (att->sessions);
  g_hash_table_remove_all (att->trackers);
}

/* The session row already in the store for @key's parts, reopened, or NULL. */
static Session *
load_session (KtAttendance *att, const char *viewer_key, const char *channel, gint64 start_us)
{
  sqlite3_stmt *stmt = kt_store_prepare (
      att->store,
      "SELECT id, joined_us, last_us, watched_us, stalls, headcount FROM viewer_sessions"
      " WHERE viewer_key = ? AND channel = ? AND lesson_start_us = ?",
      NULL);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, viewer_key, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, channel, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 3, start_us);
  Session *s = NULL;
  if (sqlite3_step (stmt) == SQLITE_ROW) {
    s = g_new0 (Session, 1);
    s->row_id = sqlite3_column_int64 (stmt, 0);
    s->joined_us = sqlite3_column_int64 (stmt, 1);
    s->last_us = sqlite3_column_int64 (stmt, 2);
    s->watched_us = sqlite3_column_int64 (stmt, 3);
    s->stalls = sqlite3_column_int64 (stmt, 4);
    s->headcount = sqlite3_column_type (stmt, 5) == SQLITE_NULL ? -1
                                                                 : sqlite3_column_int64 (stmt, 5);
  }
  sqlite3_reset (stmt);
  return s;
}

/* "-12" */
static GString *
append_int (GString *out, gint64 value)
{
  char digits[24];
  int i = sizeof digits;
  guint64 u = value < 0 ? -(guint64) value : (guint64) value;
  do
    digits[--i] = '0' + u % 10;
  while ((u /= 10) > 0);
  if (value < 0)
    digits[--i] = '-';
  return g_string_append_len (out, digits + i, sizeof digits - i);
}

/* The session whose key is @key (viewer key "\n" channel "\n" lesson
 * start, the viewer key its first @viewer_len bytes) on the lesson @airing
 * of @channel_id: in memory, else reopened from the store, else new
 * (joined at @now_us). @key is borrowed. */
static Session *
get_session (KtAttendance *att, const char *key, gsize viewer_len, const KtHeartbeat *hb,
             const char *channel_id, const KtAiring *airing, gint64 now_us)
{
  Session *s = g_hash_table_lookup (att->sessions, key);
  if (s != NULL) {
    s->closed = FALSE; /* heard again before its close was written */
    return s;
  }
  g_autofree char *viewer_key = g_strndup (key, viewer_len);
  s = load_session (att, viewer_key, channel_id, airing->start_us);
  if (s != NULL) {
    if (att->debug)
      g_debug ("session reopened viewer=%s channel=%s", viewer_key, channel_id);
  } else {
    s = g_new0 (Session, 1);
    s->joined_us = s->last_us = now_us;
    s->headcount = -1;
    if (att->debug)
      g_debug ("session opened viewer=%s channel=%s lesson=%s", viewer_key, channel_id,
               airing->title);
  }
  s->key = g_strdup (key);
  s->viewer_key = g_steal_pointer (&viewer_key);
  s->viewpoint_id = hb->viewpoint_id;
  s->name = g_strdup (hb->name ? hb->name : "");
  s->phone = g_strdup (hb->phone ? hb->phone : "");
  s->member_of = hb->member_of;
  s->channel = g_strdup (channel_id);
  s->title = g_strdup (airing->title);
  s->teacher = g_strdup (airing->teacher ? airing->teacher : "");
  s->start_us = airing->start_us;
  s->end_us = airing->end_us;
  s->dirty = TRUE;
  g_hash_table_insert (att->sessions, s->key, s);
  return s;
}

/* How much of [@from, @to) lies in @s's lesson. */
static gint64
overlap (const Session *s, gint64 from, gint64 to)
{
  return MAX (0, MIN (to, s->end_us) - MAX (from, s->start_us));
}

void
kt_attendance_heartbeat (KtAttendance *att, KtChannel *channel, const KtHeartbeat *hb,
                         gint64 now_us)
{
  /* A person who gave a phone number is one viewer on every device. The
   * keys are made in one buffer kept for the purpose, which at the end
   * holds viewer key "\n" channel "\n" lesson start (the session's key);
   * the tracker's key is what comes before the second "\n", the viewer's
   * before the first. Tens of thousands of heartbeats a second are what
   * this path is for, so it formats and allocates nothing a beat that
   * changes nothing needs. */
  GString *key = att->key;
  g_string_truncate (key, 0);
  if (hb->viewpoint_id > 0)
    append_int (g_string_append (key, "vp:"), hb->viewpoint_id);
  else if (hb->phone && hb->phone[0])
    g_string_append (g_string_append (key, "tel:"), hb->phone);
  else
    g_string_append (g_string_append (key, "u:"), hb->viewer ? hb->viewer : "(null)");
  gsize viewer_len = key->len;
  const char *channel_id = kt_channel_id (channel);
  g_string_append (g_string_append_c (key, '\n'), channel_id);
  Tracker *t = g_hash_table_lookup (att->trackers, key->str);
  if (t == NULL) {
    t = g_new0 (Tracker, 1);
    t->viewpoint_id = hb->viewpoint_id;
    t->channel = g_strdup (channel_id);
    t->state = KT_PLAY_PAUSED; /* nothing before the first heartbeat is earned */
    t->headcount = -1;
    g_hash_table_insert (att->trackers, g_strdup (key->str), t);
  }

  gint64 earned = 0;
  if (t->state == KT_PLAY_PLAYING && hb->state == KT_PLAY_PLAYING && now_us > t->last_us)
    earned = MIN (now_us - t->last_us, 2 * att->options.heartbeat_us);

  KtAiring airing;
  Session *s = NULL;
  if (kt_channel_airing_at (channel, now_us, &airing) && airing.title != NULL) {
    append_int (g_string_append_c (key, '\n'), airing.start_us);
    s = get_session (att, key->str, viewer_len, hb, channel_id, &airing, now_us);
  }

  /* The earned stretch may begin in the lesson the previous heartbeat
   * counted for. */
  Session *previous = t->session_key ? g_hash_table_lookup (att->sessions, t->session_key) : NULL;
  if (previous != NULL && previous != s && earned > 0) {
    previous->watched_us += overlap (previous, now_us - earned, now_us);
    previous->dirty = TRUE;
  }
  if (s != NULL) {
    s->watched_us += overlap (s, now_us - earned, now_us);
    s->last_us = MAX (s->last_us, now_us);
    s->stalls += hb->state == KT_PLAY_STALLED;
    if (hb->headcount >= 0)
      s->headcount = hb->headcount;
    s->dirty = TRUE;
  }

  t->last_us = now_us;
  t->state = hb->state;
  if (hb->headcount >= 0)
    t->headcount = hb->headcount;
  const char *name = hb->name ? hb->name : "";
  if (g_strcmp0 (t->name, name) != 0) {
    g_free (t->name);
    t->name = g_strdup (name);
  }
  if (g_strcmp0 (t->session_key, s ? s->key : NULL) != 0) {
    g_free (t->session_key);
    t->session_key = s ? g_strdup (s->key) : NULL;
  }
}

static gboolean
write_session (KtAttendance *att, Session *s)
{
  sqlite3_stmt *stmt;
  if (s->row_id == 0) {
    stmt = kt_store_prepare (
        att->store,
        "INSERT INTO viewer_sessions (viewer_key, viewpoint_id, viewer_name, channel,"
        " lesson_title, lesson_teacher, lesson_start_us, lesson_end_us, joined_us, last_us,"
        " left_us, watched_us, stalls, headcount, viewer_phone, member_of)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        NULL);
    if (stmt == NULL)
      return FALSE;
    sqlite3_bind_text (stmt, 1, s->viewer_key, -1, SQLITE_TRANSIENT);
    if (s->viewpoint_id > 0)
      sqlite3_bind_int64 (stmt, 2, s->viewpoint_id);
    sqlite3_bind_text (stmt, 3, s->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 4, s->channel, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 5, s->title, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 6, s->teacher, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 7, s->start_us);
    sqlite3_bind_int64 (stmt, 8, s->end_us);
    sqlite3_bind_int64 (stmt, 9, s->joined_us);
    sqlite3_bind_text (stmt, 15, s->phone, -1, SQLITE_TRANSIENT);
    if (s->member_of > 0)
      sqlite3_bind_int64 (stmt, 16, s->member_of);
  } else {
    stmt = kt_store_prepare (att->store,
                             "UPDATE viewer_sessions SET last_us = ?10, left_us = ?11,"
                             " watched_us = ?12, stalls = ?13, headcount = ?14, viewer_name = ?3"
                             " WHERE id = ?1",
                             NULL);
    if (stmt == NULL)
      return FALSE;
    sqlite3_bind_int64 (stmt, 1, s->row_id);
    sqlite3_bind_text (stmt, 3, s->name, -1, SQLITE_TRANSIENT);
  }
  sqlite3_bind_int64 (stmt, 10, s->last_us);
  if (s->closed)
    sqlite3_bind_int64 (stmt, 11, s->last_us);
  sqlite3_bind_int64 (stmt, 12, s->watched_us);
  sqlite3_bind_int64 (stmt, 13, s->stalls);
  if (s->headcount >= 0)
    sqlite3_bind_int64 (stmt, 14, s->headcount);
  if (!kt_store_step_done (att->store, stmt, NULL))
    return FALSE;
  if (s->row_id == 0) {
    s->row_id = sqlite3_last_insert_rowid (kt_store_handle (att->store));
    s->fresh = TRUE;
  }
  return TRUE;
}

/* After a rollback, rows inserted in it are gone again. */
static void
forget_fresh_rows (KtAttendance *att)
{
  GHashTableIter iter;
  Session *s;
  g_hash_table_iter_init (&iter, att->sessions);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &s))
    if (s->fresh)
      s->row_id = 0, s->fresh = FALSE;
}

gboolean
kt_attendance_flush (KtAttendance *att, gint64 now_us, GError **error)
{
  gint64 timeout = att->options.timeout_us;
  GHashTableIter iter;
  Session *s;
  guint changed = 0;

  g_hash_table_iter_init (&iter, att->sessions);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &s)) {
    if (!s->closed && now_us - s->last_us > timeout) {
      s->closed = TRUE;
      s->dirty = TRUE;
      g_debug ("session closed viewer=%s channel=%s left_us=%" G_GINT64_FORMAT, s->viewer_key,
               s->channel, s->last_us);
    }
    changed += s->dirty;
  }
  if (changed > 0) {
    gint64 started = g_get_monotonic_time ();
    if (!kt_store_begin (att->store, NULL)) {
      att->flush_failures++;
      return store_error (att, error);
    }
    g_hash_table_iter_init (&iter, att->sessions);
    while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &s)) {
      if (s->dirty && !write_session (att, s)) {
        att->flush_failures++;
        store_error (att, error);
        kt_store_rollback (att->store);
        forget_fresh_rows (att);
        return FALSE;
      }
    }
    if (!kt_store_commit (att->store, NULL)) {
      att->flush_failures++;
      store_error (att, error);
      kt_store_rollback (att->store);
      forget_fresh_rows (att);
      return FALSE;
    }
    kt_histogram_observe (att->flush_timings, (g_get_monotonic_time () - started) / 1e6);
    g_debug ("flushed sessions=%u", changed);
  }
  g_hash_table_iter_init (&iter, att->sessions);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &s)) {
    s->dirty = s->fresh = FALSE;
    if (s->closed)
      g_hash_table_iter_remove (&iter);
  }
  Tracker *t;
  g_hash_table_iter_init (&iter, att->trackers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &t))
    if (now_us - t->last_us > timeout)
      g_hash_table_iter_remove (&iter);
  return TRUE;
}

static int
by_name (gconstpointer a, gconstpointer b)
{
  const KtOnline *x = *(KtOnline *const *) a, *y = *(KtOnline *const *) b;
  int c = g_strcmp0 (x->name, y->name);
  return c != 0 ? c : g_strcmp0 (x->channel, y->channel);
}

GPtrArray *
kt_attendance_online (KtAttendance *att, gint64 now_us)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) kt_online_free);
  GHashTableIter iter;
  Tracker *t;
  g_hash_table_iter_init (&iter, att->trackers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &t)) {
    if (t->viewpoint_id <= 0 || now_us - t->last_us > att->options.timeout_us)
      continue;
    Session *s = t->session_key ? g_hash_table_lookup (att->sessions, t->session_key) : NULL;
    KtOnline *o = g_new0 (KtOnline, 1);
    o->viewpoint_id = t->viewpoint_id;
    o->name = g_strdup (t->name);
    o->channel = g_strdup (t->channel);
    o->lesson = s ? g_strdup (s->title) : NULL;
    o->state = t->state;
    o->headcount = t->headcount;
    o->last_us = t->last_us;
    g_ptr_array_add (out, o);
  }
  g_ptr_array_sort (out, by_name);
  return out;
}

guint
kt_attendance_individuals_online (KtAttendance *att, gint64 now_us)
{
  /* Trackers are per viewer and channel: a person who switched channels
   * within the timeout is one person. */
  g_autoptr (GHashTable) people = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  const char *key;
  Tracker *t;
  g_hash_table_iter_init (&iter, att->trackers);
  while (g_hash_table_iter_next (&iter, (gpointer *) &key, (gpointer *) &t))
    if (t->viewpoint_id <= 0 && now_us - t->last_us <= att->options.timeout_us)
      g_hash_table_add (people, g_strndup (key, strcspn (key, "\n")));
  return g_hash_table_size (people);
}
