#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Wall-clock time for everything that depends on "now": the channel's live
 * window, the timetable, attendance. Tests replace it with a fake clock that
 * only moves when told, so nothing sleeps to wait for a schedule. */

#define KT_USEC_PER_SEC G_GINT64_CONSTANT (1000000)

gint64 kt_clock_now_us (void); /* microseconds since the Unix epoch */
gboolean kt_clock_is_fake (void);

/* Switch to a fake clock standing at @now_us; timers added afterwards run on
 * fake time and fire from kt_clock_advance(). */
void kt_clock_set_fake (gint64 now_us);
void kt_clock_advance (gint64 delta_us);
void kt_clock_use_real (void);

/* A repeating timer in wall-clock seconds. On the real clock it is a GLib
 * timeout on the thread-default main context; on the fake clock it fires,
 * on the calling thread, as kt_clock_advance() passes its deadlines.
 * Returns an id for kt_clock_timer_remove(). */
guint kt_clock_timer_add (guint interval_ms, GSourceFunc func, gpointer data);
void kt_clock_timer_remove (guint id);

G_END_DECLS
