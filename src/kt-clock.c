/* kt-clock: the one source of "now".
 *
 * Every decision that depends on time (which segment is on air, which lesson
 * the timetable names, whether a viewer's heartbeat is late) asks this module
 * instead of g_get_real_time(). In production it is a thin shim over the real
 * clock and GLib timeouts. In tests kt_clock_set_fake() freezes time; the test
 * then moves it with kt_clock_advance(), and fake timers fire synchronously as
 * their deadlines are passed. That is what lets a test say "it is 09:00:01 on
 * a Tuesday" and check the channel without sleeping.
 *
 * The clock is process-wide state, like the real clock it stands in for. It
 * is only touched from the main thread.
 */
#define G_LOG_DOMAIN "kt-clock"

#include "kt-clock.h"

typedef struct {
  guint id;
  guint glib_source; /* 0 on the fake clock */
  gint64 interval_us;
  gint64 deadline_us; /* fake clock only */
  GSourceFunc func;
  gpointer data;
} KtClockTimer;

/* Read from the HTTP serving threads too (kt_clock_now_us), so the two
 * words a reader needs are accessed atomically; timers are main-thread only. */
static gboolean fake_active = FALSE;
static gint64 fake_now_us = 0;
static GList *timers = NULL; /* KtClockTimer*, fake and real */
static guint next_timer_id = 1;

gint64
kt_clock_now_us (void)
{
  return __atomic_load_n (&fake_active, __ATOMIC_ACQUIRE) ? __atomic_load_n (&fake_now_us, __ATOMIC_ACQUIRE)
                                                         : g_get_real_time ();
}

gboolean
kt_clock_is_fake (void)
{
  return __atomic_load_n (&fake_active, __ATOMIC_ACQUIRE);
}

void
kt_clock_set_fake (gint64 now_us)
{
  __atomic_store_n (&fake_now_us, now_us, __ATOMIC_RELEASE);
  __atomic_store_n (&fake_active, TRUE, __ATOMIC_RELEASE);
}

void
kt_clock_use_real (void)
{
  __atomic_store_n (&fake_active, FALSE, __ATOMIC_RELEASE);
}

static KtClockTimer *
find_timer (guint id)
{
  for (GList *l = timers; l; l = l->next)
    if (((KtClockTimer *) l->data)->id == id)
      return l->data;
  return NULL;
}

void
kt_clock_advance (gint64 delta_us)
{
  g_return_if_fail (fake_active);
  g_return_if_fail (delta_us >= 0);

  gint64 target = fake_now_us + delta_us;

  /* Fire due timers in deadline order, moving "now" to each deadline first so
   * a callback sees the time it was due at. A callback may remove timers. */
  for (;;) {
    KtClockTimer *due = NULL;
    for (GList *l = timers; l; l = l->next) {
      KtClockTimer *t = l->data;
      if (t->glib_source == 0 && t->deadline_us <= target &&
          (due == NULL || t->deadline_us < due->deadline_us))
        due = t;
    }
    if (due == NULL)
      break;
    if (due->deadline_us > fake_now_us)
      __atomic_store_n (&fake_now_us, due->deadline_us, __ATOMIC_RELEASE);
    due->deadline_us += due->interval_us;
    guint id = due->id;
    if (!due->func (due->data) && find_timer (id) != NULL)
      kt_clock_timer_remove (id);
  }
  __atomic_store_n (&fake_now_us, target, __ATOMIC_RELEASE);
}

static gboolean
on_real_timeout (gpointer user_data)
{
  guint id = GPOINTER_TO_UINT (user_data);
  KtClockTimer *t = find_timer (id);
  if (t == NULL)
    return G_SOURCE_REMOVE;
  if (t->func (t->data))
    return G_SOURCE_CONTINUE;
  t->glib_source = 0; /* returning REMOVE destroys the source */
  timers = g_list_remove (timers, t);
  g_free (t);
  return G_SOURCE_REMOVE;
}

guint
kt_clock_timer_add (guint interval_ms, GSourceFunc func, gpointer data)
{
  g_return_val_if_fail (interval_ms > 0 && func != NULL, 0);

  KtClockTimer *t = g_new0 (KtClockTimer, 1);
  t->id = next_timer_id++;
  t->interval_us = (gint64) interval_ms * 1000;
  t->func = func;
  t->data = data;
  if (fake_active)
    t->deadline_us = fake_now_us + t->interval_us;
  else
    t->glib_source = g_timeout_add (interval_ms, on_real_timeout, GUINT_TO_POINTER (t->id));
  timers = g_list_prepend (timers, t);
  return t->id;
}

void
kt_clock_timer_remove (guint id)
{
  KtClockTimer *t = find_timer (id);
  if (t == NULL)
    return;
  if (t->glib_source != 0)
    g_source_remove (t->glib_source);
  timers = g_list_remove (timers, t);
  g_free (t);
}
