/* kt-clock: the fake clock moves only when told, and its timers fire as time
 * passes their deadlines, in order, with "now" at the deadline. */
#include "kt-clock.h"

typedef struct {
  GArray *fired_at; /* gint64 */
  int remaining;    /* fire this many times, then stop */
} TimerLog;

static gboolean
on_timer (gpointer data)
{
  TimerLog *log = data;
  gint64 now = kt_clock_now_us ();
  g_array_append_val (log->fired_at, now);
  return --log->remaining > 0;
}

static void
test_fake_clock_stands_still (void)
{
  kt_clock_set_fake (1000 * KT_USEC_PER_SEC);
  g_assert_cmpint (kt_clock_now_us (), ==, 1000 * KT_USEC_PER_SEC);
  g_assert_cmpint (kt_clock_now_us (), ==, 1000 * KT_USEC_PER_SEC);
  kt_clock_advance (1500000);
  g_assert_cmpint (kt_clock_now_us (), ==, 1001500000);
  g_assert_true (kt_clock_is_fake ());
  kt_clock_use_real ();
  g_assert_false (kt_clock_is_fake ());
  gint64 real = g_get_real_time ();
  g_assert_cmpint (ABS (kt_clock_now_us () - real), <, 5 * KT_USEC_PER_SEC);
}

static void
test_fake_timers_fire_in_order (void)
{
  kt_clock_set_fake (0);
  TimerLog a = { g_array_new (FALSE, FALSE, sizeof (gint64)), 100 };
  TimerLog b = { g_array_new (FALSE, FALSE, sizeof (gint64)), 2 };
  guint ida = kt_clock_timer_add (1000, on_timer, &a);
  kt_clock_timer_add (1500, on_timer, &b);

  kt_clock_advance (999999);
  g_assert_cmpuint (a.fired_at->len, ==, 0);
  kt_clock_advance (5000001); /* to 6 s */
  g_assert_cmpint (kt_clock_now_us (), ==, 6 * KT_USEC_PER_SEC);
  g_assert_cmpuint (a.fired_at->len, ==, 6);
  for (guint i = 0; i < a.fired_at->len; i++)
    g_assert_cmpint (g_array_index (a.fired_at, gint64, i), ==, (i + 1) * KT_USEC_PER_SEC);
  /* b stopped itself after two firings, at 1.5 s and 3 s. */
  g_assert_cmpuint (b.fired_at->len, ==, 2);
  g_assert_cmpint (g_array_index (b.fired_at, gint64, 1), ==, 3 * KT_USEC_PER_SEC);

  kt_clock_timer_remove (ida);
  kt_clock_advance (10 * KT_USEC_PER_SEC);
  g_assert_cmpuint (a.fired_at->len, ==, 6);
  g_array_unref (a.fired_at);
  g_array_unref (b.fired_at);
  kt_clock_use_real ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/clock/fake-stands-still", test_fake_clock_stands_still);
  g_test_add_func ("/clock/fake-timers-fire-in-order", test_fake_timers_fire_in_order);
  return g_test_run ();
}
