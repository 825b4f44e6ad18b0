#pragma once

#include <glib.h>

#include "kt-hls.h"
#include "kt-library.h"
#include "kt-slates.h"
#include "kt-timetable.h"

G_BEGIN_DECLS

typedef enum {
  KT_CHANNEL_STATE_OFF_AIR,   /* nothing to air */
  KT_CHANNEL_STATE_PREPARING, /* its media is being made */
  KT_CHANNEL_STATE_ON_AIR,
} KtChannelState;

const char *kt_channel_state_name (KtChannelState state);

/* What a channel airs over one stretch of time: a lesson, or (title NULL)
 * the slate between lessons. Strings are borrowed from the channel until its
 * programme changes. */
typedef struct {
  const char *title;
  const char *teacher;
  const char *description;
  const char *source;   /* "item:<id>", "live:<key>" */
  const char *item_id;  /* what airs, when it is a library item */
  const char *fallback; /* a live talk's recorded fallback item, or NULL */
  gint64 start_us;      /* wall clock, µs since the Unix epoch */
  gint64 end_us;
  gint64 offset_us;     /* into the lesson at the instant asked about */
} KtAiring;

/* A channel: the playlist assembler. At wall-clock time t it names the
 * segments on air and writes the live playlists, without any pipeline. */
typedef struct _KtChannel KtChannel;

KtChannel *kt_channel_new (const char *id, const char *name);
void kt_channel_free (KtChannel *channel);

const char *kt_channel_id (const KtChannel *channel);
const char *kt_channel_name (const KtChannel *channel);
void kt_channel_set_name (KtChannel *channel, const char *name);
/* The state at @now_us. */
KtChannelState kt_channel_state (KtChannel *channel, gint64 now_us);

/* Air @item (ready) in a loop aligned to the Unix epoch (the demo). */
void kt_channel_set_loop (KtChannel *channel, const KtItem *item);
void kt_channel_set_preparing (KtChannel *channel);
void kt_channel_set_off_air (KtChannel *channel);

/* Air a timetable: @occurrences (KtOccurrence, sorted, copied) up to
 * the horizon they were expanded to, items from @library (borrowed), slates
 * between lessons from @slates (borrowed), their times written in @zone. */
void kt_channel_set_timetable (KtChannel *channel, GArray *occurrences, KtLibrary *library,
                               KtSlates *slates, GTimeZone *zone, gint64 now_us);
/* Look again at the library and slates for what airs around @now_us (an
 * item or slate became ready, or time moved on). Cheap when nothing changed. */
void kt_channel_refresh (KtChannel *channel, gint64 now_us);

/* A stretch of a live talk that aired, or is about to: slots [start, end)
 * (slot k is the wall-clock interval [k·2 s, (k+1)·2 s)) filled by
 * segments first_segment, first_segment + 1, … of recording item_id. */
typedef struct {
  gint64 start, end;
  char *item_id;
  guint first_segment;
} KtChannelLiveSpan;

/* What live talk @input (the name in "live:<input>") has aired so far:
 * @spans (KtChannelLiveSpan, by start, copied; NULL or empty: nothing). A
 * lesson of that talk airs its spans, "报告会即将开始" before the first and
 * "信号中断，请稍候" between and after them. Only slots after @now_us may
 * differ from the previous call: what a player was told stays true. Kept
 * across timetable changes. */
void kt_channel_set_live (KtChannel *channel, const char *input, GArray *spans, gint64 now_us);

/* The lesson (or slate, title NULL) on air at @t_us; FALSE when off air. */
gboolean kt_channel_airing_at (KtChannel *channel, gint64 t_us, KtAiring *airing);
/* The next lesson starting after @t_us; FALSE when none is known. */
gboolean kt_channel_next_lesson (KtChannel *channel, gint64 t_us, KtAiring *airing);
/* Lessons overlapping [@from_us, @to_us): KtAiring, borrowed strings. */
GArray *kt_channel_lessons_between (KtChannel *channel, gint64 from_us, gint64 to_us);

/* A number that changes whenever any channel's playlists may have changed
 * other than by time passing (a new programme, state or live talk): a copy
 * of a playlist taken at another epoch may be stale. Any thread. */
guint kt_channel_epoch (void);

/* The live media playlist of @rendition at @now_us with @window segments, or
 * NULL when nothing can air now. Built once per window position and shared:
 * (transfer full) a reference. */
GBytes *kt_channel_playlist (KtChannel *channel, const KtRendition *rendition, gint64 now_us,
                             guint window);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtChannel, kt_channel_free)

G_END_DECLS
