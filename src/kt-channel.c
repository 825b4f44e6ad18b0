/* kt-channel: the channel assembler.
 *
 * A channel never encodes anything while it airs. Time is cut into slots of
 * one segment (2 s) counted from the Unix epoch: slot k is the wall-clock
 * interval [k·2 s, (k+1)·2 s). Every house-format segment is exactly one slot
 * long, so "what is on air at t" is "which segment fills slot floor(t/2 s)",
 * and the live playlist at t lists the last `window` slots. From that follow
 * the numbers HLS players rely on, all pure functions of time:
 *
 *  - EXT-X-MEDIA-SEQUENCE of slot k is k, so it only grows, and a restarted
 *    server (or a second origin) gives the same segment the same number;
 *  - EXT-X-PROGRAM-DATE-TIME of slot k is k·2 s;
 *  - EXT-X-DISCONTINUITY precedes a slot where an item begins, and the
 *    discontinuity sequence of slot k counts such boundaries in slots 1..k.
 *
 * The programme here is the foundation's: one item in a loop anchored at the
 * epoch (loop n fills slots n·N … n·N+N−1 for an item of N segments). The
 * timetable replaces the loop with lessons and slates; the slot model stays.
 *
 * Building a playlist is string work, so it is done once per window position
 * and rendition and the bytes are shared by every request until the window
 * moves (every 2 s).
 */
#define G_LOG_DOMAIN "kt-channel"

#include "kt-channel.h"

typedef struct {
  gint64 slot;   /* the newest slot listed; -1 when none */
  GBytes *text;
} KtCachedPlaylist;

struct _KtChannel {
  char *id;
  char *name;
  KtChannelState state;
  /* The loop programme (valid when ON_AIR). */
  char *item_id;
  char *title;
  char *teacher;
  guint item_segments;
  KtCachedPlaylist cache[8]; /* per kt_renditions index */
};

static const char *const state_names[] = { "off-air", "preparing", "on-air" };

const char *
kt_channel_state_name (KtChannelState state)
{
  return state_names[state];
}

static void
clear_cache (KtChannel *channel)
{
  for (guint i = 0; i < G_N_ELEMENTS (channel->cache); i++) {
    g_clear_pointer (&channel->cache[i].text, g_bytes_unref);
    channel->cache[i].slot = -1;
  }
}

static void
clear_programme (KtChannel *channel)
{
  g_clear_pointer (&channel->item_id, g_free);
  g_clear_pointer (&channel->title, g_free);
  g_clear_pointer (&channel->teacher, g_free);
  channel->item_segments = 0;
  clear_cache (channel);
}

KtChannel *
kt_channel_new (const char *id, const char *name)
{
  KtChannel *channel = g_new0 (KtChannel, 1);
  channel->id = g_strdup (id);
  channel->name = g_strdup (name);
  channel->state = KT_CHANNEL_STATE_OFF_AIR;
  clear_cache (channel);
  return channel;
}

void
kt_channel_free (KtChannel *channel)
{
  if (channel == NULL)
    return;
  clear_programme (channel);
  g_free (channel->id);
  g_free (channel->name);
  g_free (channel);
}

const char *
kt_channel_id (const KtChannel *channel)
{
  return channel->id;
}

const char *
kt_channel_name (const KtChannel *channel)
{
  return channel->name;
}

KtChannelState
kt_channel_state (const KtChannel *channel)
{
  return channel->state;
}

void
kt_channel_set_loop (KtChannel *channel, const KtItem *item)
{
  g_return_if_fail (item->state == KT_ITEM_READY && item->segment_count > 0);
  clear_programme (channel);
  channel->item_id = g_strdup (item->id);
  channel->title = g_strdup (item->title);
  channel->teacher = g_strdup (item->teacher);
  channel->item_segments = item->segment_count;
  channel->state = KT_CHANNEL_STATE_ON_AIR;
  g_info ("channel=%s airing item=%s segments=%u", channel->id, item->id, item->segment_count);
}

void
kt_channel_set_preparing (KtChannel *channel)
{
  clear_programme (channel);
  channel->state = KT_CHANNEL_STATE_PREPARING;
}

void
kt_channel_set_off_air (KtChannel *channel)
{
  clear_programme (channel);
  channel->state = KT_CHANNEL_STATE_OFF_AIR;
}

static gint64
slot_of (gint64 t_us)
{
  return t_us >= 0 ? t_us / KT_SEGMENT_US : 0;
}

/* The loop programme: slot → segment index, and boundaries. */
static guint
segment_in_slot (const KtChannel *channel, gint64 slot)
{
  return slot % channel->item_segments;
}

static gboolean
slot_starts_item (const KtChannel *channel, gint64 slot)
{
  return slot > 0 && slot % channel->item_segments == 0;
}

/* Boundaries in slots 1..slot. */
static guint64
boundaries_through (const KtChannel *channel, gint64 slot)
{
  return slot / channel->item_segments;
}

gboolean
kt_channel_airing_at (KtChannel *channel, gint64 t_us, KtAiring *airing)
{
  if (channel->state != KT_CHANNEL_STATE_ON_AIR)
    return FALSE;
  gint64 loop_us = channel->item_segments * KT_SEGMENT_US;
  gint64 t = MAX (t_us, 0);
  airing->item_id = channel->item_id;
  airing->title = channel->title;
  airing->teacher = channel->teacher;
  airing->start_us = t / loop_us * loop_us;
  airing->end_us = airing->start_us + loop_us;
  airing->offset_us = t - airing->start_us;
  return TRUE;
}

static GBytes *
build_playlist (KtChannel *channel, const KtRendition *rendition, gint64 newest, guint window)
{
  g_autoptr (KtHlsPlaylist) playlist = kt_hls_playlist_new ();
  gint64 first = MAX (0, newest - (gint64) window + 1);

  playlist->media_sequence = first;
  playlist->discontinuity_sequence =
      boundaries_through (channel, first) - (slot_starts_item (channel, first) ? 1 : 0);
  for (gint64 slot = first; slot <= newest; slot++) {
    char *uri = g_strdup_printf ("/media/%s/%s/%u.ts", channel->item_id, rendition->name,
                                 segment_in_slot (channel, slot));
    kt_hls_playlist_add (playlist, uri, KT_SEGMENT_US, slot * KT_SEGMENT_US,
                         slot_starts_item (channel, slot));
  }
  char *text = kt_hls_playlist_write (playlist);
  return g_bytes_new_take (text, strlen (text));
}

GBytes *
kt_channel_playlist (KtChannel *channel, const KtRendition *rendition, gint64 now_us,
                     guint window)
{
  g_return_val_if_fail (window > 0, NULL);
  if (channel->state != KT_CHANNEL_STATE_ON_AIR)
    return NULL;

  guint r = rendition - kt_renditions;
  g_return_val_if_fail (r < kt_n_renditions && r < G_N_ELEMENTS (channel->cache), NULL);
  gint64 newest = slot_of (now_us);
  KtCachedPlaylist *cached = &channel->cache[r];
  if (cached->text == NULL || cached->slot != newest) {
    g_clear_pointer (&cached->text, g_bytes_unref);
    cached->text = build_playlist (channel, rendition, newest, window);
    cached->slot = newest;
  }
  return g_bytes_ref (cached->text);
}
