/* kt-http-schedule: the timetable as calendar feeds.
 *
 *   GET /schedule/<channel>.ics   one channel's lessons
 *   GET /schedule/all.ics         every channel's
 *
 * A phone calendar subscribes to one of these and shows the lessons among
 * its own appointments. The feed lists each occurrence from a week ago to
 * two months ahead as a separate event (expanded: calendar apps handle
 * single events more reliably than rules), with UTC times, the teacher and
 * description, and the channel as the location. It is written with libical
 * so the escaping and line folding are right.
 */
#define G_LOG_DOMAIN "kt-http"

#include "kt-http.h"
#include "kt-clock.h"

#include <libical/ical.h>
#include <stdlib.h>

#define FEED_BEFORE_US (G_GINT64_CONSTANT (7) * 86400 * G_USEC_PER_SEC)
#define FEED_AFTER_US (G_GINT64_CONSTANT (62) * 86400 * G_USEC_PER_SEC)

static struct icaltimetype
utc_time (gint64 us)
{
  return icaltime_from_timet_with_zone (us / G_USEC_PER_SEC, 0, icaltimezone_get_utc_timezone ());
}

static void
add_x (icalcomponent *comp, const char *name, const char *value)
{
  icalproperty *p = icalproperty_new_x (value);
  icalproperty_set_x_name (p, name);
  icalcomponent_add_property (comp, p);
}

static void
add_channel_events (icalcomponent *cal, KtChannel *channel, gint64 now_us)
{
  g_autoptr (GArray) lessons =
      kt_channel_lessons_between (channel, now_us - FEED_BEFORE_US, now_us + FEED_AFTER_US);
  for (guint i = 0; i < lessons->len; i++) {
    const KtAiring *a = &g_array_index (lessons, KtAiring, i);
    icalcomponent *ev = icalcomponent_new_vevent ();
    g_autofree char *uid = g_strdup_printf ("ketang-%s-%" G_GINT64_FORMAT "@ketang",
                                            kt_channel_id (channel), a->start_us / G_USEC_PER_SEC);
    g_autofree char *description =
        g_strdup_printf ("%s%s%s", a->teacher && a->teacher[0] ? "主讲：" : "",
                         a->teacher ? a->teacher : "",
                         a->description && a->description[0] ? "\n" : "");
    g_autofree char *full = g_strconcat (description, a->description ? a->description : "", NULL);
    icalcomponent_add_property (ev, icalproperty_new_uid (uid));
    icalcomponent_add_property (ev, icalproperty_new_dtstamp (utc_time (now_us)));
    icalcomponent_add_property (ev, icalproperty_new_dtstart (utc_time (a->start_us)));
    icalcomponent_add_property (ev, icalproperty_new_dtend (utc_time (a->end_us)));
    icalcomponent_add_property (ev, icalproperty_new_summary (a->title));
    icalcomponent_add_property (ev, icalproperty_new_description (full));
    icalcomponent_add_property (ev, icalproperty_new_location (kt_channel_name (channel)));
    add_x (ev, "X-KETANG-CHANNEL", kt_channel_id (channel));
    icalcomponent_add_component (cal, ev);
  }
}

void
kt_http_schedule_handle (KtApp *app, KtRequest *request)
{
  SoupServerMessage *msg = request->msg;
  if (request->n_parts != 1 || !g_str_has_suffix (request->parts[0], ".ics")) {
    kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such calendar");
    return;
  }
  g_autofree char *id = g_strndup (request->parts[0], strlen (request->parts[0]) - 4);
  gboolean all = g_str_equal (id, "all");
  KtChannel *channel = all ? NULL : kt_app_find_channel (app, id);
  if (!all && channel == NULL) {
    kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such channel");
    return;
  }

  gint64 now_us = kt_clock_now_us ();
  icalcomponent *cal = icalcomponent_new_vcalendar ();
  icalcomponent_add_property (cal, icalproperty_new_version ("2.0"));
  icalcomponent_add_property (cal, icalproperty_new_prodid ("-//ketang//timetable feed//ZH"));
  icalcomponent_add_property (cal, icalproperty_new_calscale ("GREGORIAN"));
  add_x (cal, "X-WR-CALNAME", all ? "老年大学课程表" : kt_channel_name (channel));
  add_x (cal, "X-PUBLISHED-TTL", "PT1H");
  GPtrArray *channels = kt_app_channels (app);
  for (guint i = 0; i < channels->len; i++)
    if (all || channels->pdata[i] == channel)
      add_channel_events (cal, channels->pdata[i], now_us);

  char *text = icalcomponent_as_ical_string_r (cal);
  icalcomponent_free (cal);
  g_autoptr (GBytes) bytes = g_bytes_new (text, strlen (text));
  free (text);
  kt_http_bytes (msg, bytes, "text/calendar; charset=utf-8", "public, max-age=300");
}
