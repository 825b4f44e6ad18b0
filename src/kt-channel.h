#pragma once

#include <glib.h>

#include "kt-hls.h"
#include "kt-library.h"

G_BEGIN_DECLS

typedef enum {
  KT_CHANNEL_STATE_OFF_AIR,   /* nothing to air */
  KT_CHANNEL_STATE_PREPARING, /* its media is being made */
  KT_CHANNEL_STATE_ON_AIR,
} KtChannelState;

const char *kt_channel_state_name (KtChannelState state);

/* What a channel airs over one stretch of time. Strings are borrowed from
 * the channel until its programme changes. */
typedef struct {
  const char *item_id;
  const char *title;
  const char *teacher;
  gint64 start_us;  /* wall clock, µs since the Unix epoch */
  gint64 end_us;
  gint64 offset_us; /* into the item at the instant asked about */
} KtAiring;

/* A channel: the playlist assembler. At wall-clock time t it names the
 * segments on air and writes the live playlists, without any pipeline. */
typedef struct _KtChannel KtChannel;

KtChannel *kt_channel_new (const char *id, const char *name);
void kt_channel_free (KtChannel *channel);

const char *kt_channel_id (const KtChannel *channel);
const char *kt_channel_name (const KtChannel *channel);
KtChannelState kt_channel_state (const KtChannel *channel);

/* Air @item (ready) in a loop, aligned to the Unix epoch: the loop restarts
 * at every multiple of the item's duration, so what is on air at t is the
 * same in every process and after every restart. */
void kt_channel_set_loop (KtChannel *channel, const KtItem *item);
void kt_channel_set_preparing (KtChannel *channel);
void kt_channel_set_off_air (KtChannel *channel);

/* What is on air at @t_us, or FALSE when nothing is. */
gboolean kt_channel_airing_at (KtChannel *channel, gint64 t_us, KtAiring *airing);

/* The live media playlist of @rendition at @now_us with @window segments, or
 * NULL when off air. The text is built once per window position and shared:
 * (transfer full) a reference to it. */
GBytes *kt_channel_playlist (KtChannel *channel, const KtRendition *rendition, gint64 now_us,
                             guint window);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtChannel, kt_channel_free)

G_END_DECLS
