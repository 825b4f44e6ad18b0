/* kt-channel: the channel assembler.
 *
 * A channel never encodes anything while it airs. Time is cut into slots of
 * one segment (2 s) counted from the Unix epoch: slot k is the wall-clock
 * interval [k·2 s, (k+1)·2 s). Every house-format segment is exactly one slot
 * long, so "what is on air at t" is "which segment fills slot floor(t/2 s)",
 * and the live playlist at t lists the last `window` slots. From that follow
 * the numbers HLS players rely on:
 *
 *  - EXT-X-MEDIA-SEQUENCE of slot k is k, so it only grows, and a restarted
 *    server gives the same segment the same number;
 *  - EXT-X-PROGRAM-DATE-TIME of slot k is k·2 s;
 *  - EXT-X-DISCONTINUITY precedes a slot where an item (or a slate's loop)
 *    begins, and the discontinuity sequence of slot k counts such boundaries
 *    in the slots after KT_DISCONTINUITY_EPOCH_SLOT (2026-01-01) up to k.
 *
 * Why an epoch of its own: hls.js keeps its timestamp offsets in an array
 * indexed by discontinuity number and walks it from index 0 at every
 * playlist load (1.7.4's stream controller, initPTS.some(...)). Counted from
 * 1970, a channel's slates (a boundary every card, every 10 s) put that
 * number near 180 million, and each reload blocked the page for a second or
 * more: pictures froze at every lesson change on a fast PC, and an old TV
 * box could not play at all. From 2026 on the number grows by about 8,000 a
 * day on a channel that is mostly slate, which costs a player microseconds.
 *
 * A timetable channel turns its lessons into runs covering all slots from 0
 * on: a lesson's item from the lesson's start slot (a viewer tuning in at
 * 09:20 gets minute 20), cut at the slot's end when longer, followed by the
 * slate when shorter; the slate (KT_SLATE_SEGMENTS long, looped) in every gap,
 * naming the next lesson; a card saying so when a lesson's media is missing or
 * its live talk has not begun. The runs, and so every sequence number, are a
 * pure function of the timetable and the items' lengths: the same at every
 * restart, and a reload that changes only future lessons leaves the past and
 * the present untouched. (A reload that rewrites the past shifts the
 * discontinuity count; players realign on the media sequence.)
 *
 * A live talk (source "live:<input>") is one run of the timetable until
 * kt-live says what aired: then that run is cut into the spans that aired
 * live (the recording's segments, one per slot) and slates between them,
 * "即将开始" before the first and "信号中断" after a drop. The timetable's
 * runs are kept (base_runs) and the live spans laid over them (runs) each
 * time a talk changes; kt-live only ever adds slots after the live edge, so
 * the past of every playlist stays as it was told. The boundaries (and so
 * the discontinuity sequence) of later runs move with what happened live;
 * they are in the future when they move.
 *
 * The demo channel is a loop of one item anchored at the epoch (loop n fills
 * slots n·N … n·N+N−1), computed by formula instead of runs.
 *
 * Which slate item fills a gap is looked up only for runs near "now"
 * (kt_channel_refresh), so old gaps never cause slates to be rendered.
 * Playlist text is built once per window position and rendition and shared by
 * every request until the window moves.
 */
#define G_LOG_DOMAIN "kt-channel"

#include "kt-channel.h"

#define INFINITE_SLOT G_MAXINT64
/* Boundaries are counted from here: 2026-01-01T00:00:00Z (see above). A
 * constant, so the numbers stay the same across restarts. */
#define KT_DISCONTINUITY_EPOCH_SLOT G_GINT64_CONSTANT (883612800)
/* Slates are looked up for the runs around now: back over a live window,
 * and ahead over the next few cards (each card is made once, in a second or
 * two, and refresh runs every few seconds). */
#define LOOKBEHIND_SLOTS 64
#define SLATES_AHEAD 2

typedef enum {
  MODE_OFF_AIR,
  MODE_PREPARING,
  MODE_LOOP,
  MODE_TIMETABLE,
} KtChannelMode;

typedef enum {
  RUN_ITEM,    /* a lesson's item */
  RUN_GAP,     /* slate naming the next lesson */
  RUN_MISSING, /* slate: the lesson's media is missing */
  RUN_LIVE,    /* slate: the live talk has not begun */
  RUN_LOST,    /* slate: the live talk's signal dropped */
} KtRunKind;

typedef struct {
  char *title, *teacher, *description, *source;
  char *item_id; /* for item: sources */
  gint64 start_us, end_us;
  char *fallback; /* item id of a live talk's fallback, or NULL */
} KtChannelLesson;

typedef struct {
  gint64 start, end;      /* slots; end exclusive, INFINITE_SLOT for the last */
  KtRunKind kind;
  guint loop;             /* slate loop length; 0 for items */
  guint offset;           /* first segment of the item */
  int lesson;             /* lesson index (ITEM, MISSING, LIVE) or -1 */
  int next;               /* GAP: the next lesson's index, or -1 */
  char *item_id;          /* what fills it; NULL while a slate is not ready */
  gint64 dseq_at_start;   /* boundaries in slots (epoch, start]; below 0 when
                           * the run began before the epoch (see slot_info) */
} KtRun;

typedef struct {
  gint64 slot;
  guint window;
  GBytes *text;
} KtCachedPlaylist;

struct _KtChannel {
  char *id;
  char *name;
  KtChannelMode mode;
  /* MODE_LOOP */
  KtChannelLesson loop_item;
  guint loop_segments;
  /* MODE_TIMETABLE */
  GArray *lessons; /* KtChannelLesson, by start */
  GArray *base_runs; /* KtRun, by start, covering every slot: the timetable alone */
  GArray *runs;      /* the same with live talks' spans laid over: what airs */
  GHashTable *live;  /* input → GArray of KtChannelLiveSpan (owned); kept across programmes */
  KtLibrary *library;
  KtSlates *slates;
  GTimeZone *zone;
  KtCachedPlaylist cache[8]; /* per kt_renditions index */
};

static const char *const state_names[] = { "off-air", "preparing", "on-air" };

const char *
kt_channel_state_name (KtChannelState state)
{
  return state_names[state];
}

static void
lesson_clear (gpointer data)
{
  KtChannelLesson *l = data;
  g_free (l->title);
  g_free (l->teacher);
  g_free (l->description);
  g_free (l->source);
  g_free (l->item_id);
  g_free (l->fallback);
  memset (l, 0, sizeof *l);
}

static void
run_clear (gpointer data)
{
  g_free (((KtRun *) data)->item_id);
}

/* Bumped at every clear_cache: the serving threads keep copies of playlists
 * (kt-playlist-board.c) and trust one only at the epoch it was made in. */
static guint playlist_epoch;

guint
kt_channel_epoch (void)
{
  return (guint) g_atomic_int_get (&playlist_epoch);
}

static void
clear_cache (KtChannel *channel)
{
  g_atomic_int_inc (&playlist_epoch);
  for (guint i = 0; i < G_N_ELEMENTS (channel->cache); i++) {
    g_clear_pointer (&channel->cache[i].text, g_bytes_unref);
    channel->cache[i].slot = -1;
  }
}

static void
clear_programme (KtChannel *channel)
{
  lesson_clear (&channel->loop_item);
  channel->loop_segments = 0;
  g_clear_pointer (&channel->lessons, g_array_unref);
  g_clear_pointer (&channel->runs, g_array_unref);
  g_clear_pointer (&channel->base_runs, g_array_unref);
  g_clear_pointer (&channel->zone, g_time_zone_unref);
  clear_cache (channel);
}

KtChannel *
kt_channel_new (const char *id, const char *name)
{
  KtChannel *channel = g_new0 (KtChannel, 1);
  channel->id = g_strdup (id);
  channel->name = g_strdup (name);
  channel->mode = MODE_OFF_AIR;
  channel->live = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) g_array_unref);
  clear_cache (channel);
  return channel;
}

void
kt_channel_free (KtChannel *channel)
{
  if (channel == NULL)
    return;
  clear_programme (channel);
  g_hash_table_destroy (channel->live);
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

void
kt_channel_set_name (KtChannel *channel, const char *name)
{
  g_free (channel->name);
  channel->name = g_strdup (name);
}

static gint64
slot_of (gint64 t_us)
{
  return t_us >= 0 ? t_us / KT_SEGMENT_US : 0;
}

static gint64
slot_start_us (gint64 slot)
{
  return slot == INFINITE_SLOT ? G_MAXINT64 : slot * KT_SEGMENT_US;
}

void
kt_channel_set_loop (KtChannel *channel, const KtItem *item)
{
  g_return_if_fail (item->state == KT_ITEM_READY && item->segment_count > 0);
  clear_programme (channel);
  channel->mode = MODE_LOOP;
  channel->loop_item.title = g_strdup (item->title);
  channel->loop_item.teacher = g_strdup (item->teacher);
  channel->loop_item.description = g_strdup ("");
  channel->loop_item.item_id = g_strdup (item->id);
  channel->loop_item.source = g_strdup_printf ("item:%s", item->id);
  channel->loop_segments = item->segment_count;
  g_info ("channel=%s looping item=%s segments=%u", channel->id, item->id, item->segment_count);
}

void
kt_channel_set_preparing (KtChannel *channel)
{
  clear_programme (channel);
  channel->mode = MODE_PREPARING;
}

void
kt_channel_set_off_air (KtChannel *channel)
{
  clear_programme (channel);
  channel->mode = MODE_OFF_AIR;
}

/* Runs. */

static void
add_run (GArray *runs, gint64 start, gint64 end, KtRunKind kind, int lesson, int next,
         const char *item_id, guint offset)
{
  if (start >= end)
    return;
  if (runs->len > 0) {
    KtRun *last = &g_array_index (runs, KtRun, runs->len - 1);
    /* A slate after a short lesson and the gap that follows it are one card. */
    if (kind == RUN_GAP && last->kind == RUN_GAP && last->next == next && last->end == start) {
      last->end = end;
      return;
    }
  }
  KtRun run = { start, end, kind, kind == RUN_ITEM ? 0 : KT_SLATE_SEGMENTS, offset, lesson,
                next, g_strdup (item_id), 0 };
  g_array_append_val (runs, run);
}

/* Each run's count of boundaries after the epoch up to its start, such that
 * slot_info's dseq_at_start + into / loop counts them in (epoch, slot]. */
static void
count_boundaries (GArray *runs)
{
  const gint64 epoch = KT_DISCONTINUITY_EPOCH_SLOT;
  gint64 d = 0;
  for (guint i = 0; i < runs->len; i++) {
    KtRun *r = &g_array_index (runs, KtRun, i);
    if (r->start > epoch)
      d++;
    /* A slate loop that began before the epoch: its loops before it do not
     * count, so start lower by their number. */
    gint64 before = r->loop > 0 && r->start <= epoch ? (epoch - r->start) / r->loop : 0;
    r->dseq_at_start = d - before;
    if (r->loop > 0 && r->end != INFINITE_SLOT) {
      gint64 last = (r->end - r->start - 1) / r->loop; /* loop starts j = 1 … last */
      gint64 first = r->start > epoch ? 1 : before + 1;
      if (last >= first)
        d += last - first + 1;
    }
  }
}

static void
build_runs (KtChannel *channel)
{
  GArray *runs = g_array_new (FALSE, TRUE, sizeof (KtRun));
  g_array_set_clear_func (runs, run_clear);
  gint64 cursor = 0;

  for (guint i = 0; i < channel->lessons->len; i++) {
    const KtChannelLesson *l = &g_array_index (channel->lessons, KtChannelLesson, i);
    gint64 s = MAX (slot_of (l->start_us), cursor);
    gint64 e = slot_of (l->end_us);
    if (s >= e)
      continue;
    add_run (runs, cursor, s, RUN_GAP, -1, i, NULL, 0);
    int next = i + 1 < channel->lessons->len ? (int) i + 1 : -1;

    g_autoptr (KtItem) item = l->item_id ? kt_library_get (channel->library, l->item_id) : NULL;
    if (item != NULL && item->state == KT_ITEM_READY && item->segment_count > 0) {
      gint64 n = MIN ((gint64) item->segment_count, e - s);
      add_run (runs, s, s + n, RUN_ITEM, i, -1, item->id, 0);
      add_run (runs, s + n, e, RUN_GAP, -1, next, NULL, 0);
    } else if (g_str_has_prefix (l->source, "live:")) {
      add_run (runs, s, e, RUN_LIVE, i, -1, NULL, 0);
    } else {
      add_run (runs, s, e, RUN_MISSING, i, -1, NULL, 0);
    }
    cursor = e;
  }
  add_run (runs, cursor, INFINITE_SLOT, RUN_GAP, -1, -1, NULL, 0);
  g_clear_pointer (&channel->base_runs, g_array_unref);
  channel->base_runs = runs;
}

static void
append_run (GArray *runs, const KtRun *run)
{
  if (run->start >= run->end)
    return;
  KtRun copy = *run;
  copy.item_id = g_strdup (run->item_id);
  g_array_append_val (runs, copy);
}

/* Lay live run @base's spans over it, into @runs. */
static void
expand_live_run (GArray *runs, const KtRun *base, GArray *spans)
{
  gint64 cursor = base->start;
  gboolean aired = FALSE;
  for (guint i = 0; spans && i < spans->len; i++) {
    const KtChannelLiveSpan *span = &g_array_index (spans, KtChannelLiveSpan, i);
    gint64 a = MAX (span->start, base->start), b = MIN (span->end, base->end);
    if (a >= b)
      continue;
    KtRun slate = { cursor, a, aired ? RUN_LOST : RUN_LIVE, KT_SLATE_SEGMENTS, 0, base->lesson,
                    -1, NULL, 0 };
    append_run (runs, &slate);
    KtRun live = { a, b, RUN_ITEM, 0, span->first_segment + (guint) (a - span->start),
                   base->lesson, -1, span->item_id, 0 };
    append_run (runs, &live);
    cursor = b;
    aired = TRUE;
  }
  KtRun rest = { cursor, base->end, aired ? RUN_LOST : RUN_LIVE, KT_SLATE_SEGMENTS, 0,
                 base->lesson, -1, NULL, 0 };
  append_run (runs, &rest);
}

/* runs = base_runs with the live spans laid over. */
static void
expand_runs (KtChannel *channel)
{
  GArray *runs = g_array_new (FALSE, TRUE, sizeof (KtRun));
  g_array_set_clear_func (runs, run_clear);
  for (guint i = 0; i < channel->base_runs->len; i++) {
    const KtRun *run = &g_array_index (channel->base_runs, KtRun, i);
    if (run->kind != RUN_LIVE) {
      append_run (runs, run);
      continue;
    }
    const KtChannelLesson *l = &g_array_index (channel->lessons, KtChannelLesson, run->lesson);
    expand_live_run (runs, run, g_hash_table_lookup (channel->live, l->source + 5));
  }
  count_boundaries (runs);
  g_clear_pointer (&channel->runs, g_array_unref);
  channel->runs = runs;
  clear_cache (channel);
}

/* The run holding @slot (runs cover every slot). */
static guint
run_index (KtChannel *channel, gint64 slot)
{
  guint lo = 0, hi = channel->runs->len - 1;
  while (lo < hi) {
    guint mid = (lo + hi + 1) / 2;
    if (g_array_index (channel->runs, KtRun, mid).start <= slot)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

static char *
format_lesson_time (KtChannel *channel, gint64 us)
{
  static const char *const weekdays[] = { "", "周一", "周二", "周三", "周四", "周五", "周六", "周日" };
  g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);
  g_autoptr (GDateTime) t = g_date_time_to_timezone (utc, channel->zone);
  return g_strdup_printf ("%d月%d日 %s %02d:%02d", g_date_time_get_month (t),
                          g_date_time_get_day_of_month (t),
                          weekdays[g_date_time_get_day_of_week (t)], g_date_time_get_hour (t),
                          g_date_time_get_minute (t));
}

/* The slate a run shows, as its three lines. */
static char *
slate_for_run (KtChannel *channel, const KtRun *run)
{
  const KtChannelLesson *l = NULL;
  g_autofree char *line2 = NULL;
  g_autofree char *line3 = NULL;

  switch (run->kind) {
    case RUN_GAP:
      if (run->next < 0) {
        line2 = g_strdup ("暂无后续节目安排");
        line3 = g_strdup (" ");
        break;
      }
      l = &g_array_index (channel->lessons, KtChannelLesson, run->next);
      line2 = g_strdup_printf ("下一节：%s", l->title);
      {
        g_autofree char *when = format_lesson_time (channel, l->start_us);
        line3 = g_strdup_printf ("%s%s%s", l->teacher, l->teacher[0] ? "  " : "", when);
      }
      break;
    case RUN_MISSING:
    case RUN_LIVE:
    case RUN_LOST:
      l = &g_array_index (channel->lessons, KtChannelLesson, run->lesson);
      line2 = g_strdup_printf ("本节：%s", l->title);
      line3 = g_strdup (run->kind == RUN_LIVE   ? "报告会即将开始，请稍候"
                        : run->kind == RUN_LOST ? "信号中断，请稍候"
                                                : "节目暂缺，请稍候");
      break;
    case RUN_ITEM:
      return NULL;
  }
  return kt_slates_get (channel->slates, channel->name, line2, line3);
}

void
kt_channel_refresh (KtChannel *channel, gint64 now_us)
{
  if (channel->mode != MODE_TIMETABLE)
    return;
  gint64 now = slot_of (now_us);
  gint64 from = MAX (0, now - LOOKBEHIND_SLOTS);
  gboolean changed = FALSE;
  guint ahead = 0;
  for (guint i = run_index (channel, from); i < channel->runs->len; i++) {
    KtRun *run = &g_array_index (channel->runs, KtRun, i);
    if (run->kind == RUN_ITEM)
      continue;
    if (run->start > now && ++ahead > SLATES_AHEAD)
      break;
    if (run->kind == RUN_LIVE) {
      /* A live talk may drop at any moment: its "信号中断" card must be
       * ready before it is needed, or the channel would have nothing to
       * air in the slot after a drop. */
      KtRun lost = *run;
      lost.kind = RUN_LOST;
      g_free (slate_for_run (channel, &lost));
    }
    if (run->item_id != NULL)
      continue;
    run->item_id = slate_for_run (channel, run);
    changed |= run->item_id != NULL;
  }
  if (changed)
    clear_cache (channel);
}

static int
compare_lessons (gconstpointer a, gconstpointer b)
{
  const KtChannelLesson *x = a, *y = b;
  return x->start_us < y->start_us ? -1 : x->start_us > y->start_us ? 1 : 0;
}

void
kt_channel_set_timetable (KtChannel *channel, GArray *occurrences, KtLibrary *library,
                          KtSlates *slates, GTimeZone *zone, gint64 now_us)
{
  clear_programme (channel);
  channel->mode = MODE_TIMETABLE;
  channel->library = library;
  channel->slates = slates;
  channel->zone = g_time_zone_ref (zone);
  channel->lessons = g_array_sized_new (FALSE, TRUE, sizeof (KtChannelLesson), occurrences->len);
  g_array_set_clear_func (channel->lessons, lesson_clear);
  for (guint i = 0; i < occurrences->len; i++) {
    const KtOccurrence *o = &g_array_index (occurrences, KtOccurrence, i);
    KtChannelLesson l = { g_strdup (o->lesson->title), g_strdup (o->lesson->teacher),
                          g_strdup (o->lesson->description), g_strdup (o->lesson->source),
                          g_str_has_prefix (o->lesson->source, "item:")
                              ? g_strdup (o->lesson->source + 5) : NULL,
                          o->start_us, o->end_us,
                          o->lesson->fallback ? g_strdup (o->lesson->fallback + 5) : NULL };
    g_array_append_val (channel->lessons, l);
  }
  g_array_sort (channel->lessons, compare_lessons);
  build_runs (channel);
  expand_runs (channel);
  kt_channel_refresh (channel, now_us);
  g_info ("channel=%s timetable lessons=%u runs=%u", channel->id, channel->lessons->len,
          channel->runs->len);
}

static void
live_span_clear (gpointer data)
{
  g_free (((KtChannelLiveSpan *) data)->item_id);
}

void
kt_channel_set_live (KtChannel *channel, const char *input, GArray *spans, gint64 now_us)
{
  GArray *copy = g_array_new (FALSE, TRUE, sizeof (KtChannelLiveSpan));
  g_array_set_clear_func (copy, live_span_clear);
  for (guint i = 0; spans && i < spans->len; i++) {
    KtChannelLiveSpan span = g_array_index (spans, KtChannelLiveSpan, i);
    span.item_id = g_strdup (span.item_id);
    g_array_append_val (copy, span);
  }
  g_hash_table_replace (channel->live, g_strdup (input), copy);
  if (channel->mode != MODE_TIMETABLE)
    return;
  /* Only a channel that has this talk on its timetable airs it. */
  gboolean airs = FALSE;
  for (guint i = 0; i < channel->lessons->len && !airs; i++) {
    const char *source = g_array_index (channel->lessons, KtChannelLesson, i).source;
    airs = g_str_has_prefix (source, "live:") && g_str_equal (source + 5, input);
  }
  if (!airs)
    return;
  expand_runs (channel);
  kt_channel_refresh (channel, now_us);
}

/* What fills @slot: the item and its segment, and whether a boundary
 * (discontinuity) precedes it, with the discontinuity count through it. */
typedef struct {
  const char *item_id;
  guint segment;
  gboolean boundary;
  guint64 dseq; /* boundaries in slots (epoch, slot]; 0 before the epoch */
} KtSlotInfo;

static gboolean
slot_info (KtChannel *channel, gint64 slot, KtSlotInfo *info)
{
  if (channel->mode == MODE_LOOP) {
    guint n = channel->loop_segments;
    info->item_id = channel->loop_item.item_id;
    info->segment = slot % n;
    info->boundary = slot > 0 && slot % n == 0;
    info->dseq = MAX (slot / n - KT_DISCONTINUITY_EPOCH_SLOT / n, 0);
    return TRUE;
  }
  if (channel->mode != MODE_TIMETABLE)
    return FALSE;
  const KtRun *run = &g_array_index (channel->runs, KtRun, run_index (channel, slot));
  gint64 into = slot - run->start;
  info->item_id = run->item_id;
  info->segment = run->loop ? into % run->loop : run->offset + into;
  info->boundary = slot > 0 && (into == 0 || (run->loop && into % run->loop == 0));
  info->dseq = MAX (run->dseq_at_start + (run->loop ? into / run->loop : 0), 0);
  return info->item_id != NULL;
}

KtChannelState
kt_channel_state (KtChannel *channel, gint64 now_us)
{
  KtSlotInfo info;
  switch (channel->mode) {
    case MODE_OFF_AIR:
      return KT_CHANNEL_STATE_OFF_AIR;
    case MODE_PREPARING:
      return KT_CHANNEL_STATE_PREPARING;
    case MODE_LOOP:
      return KT_CHANNEL_STATE_ON_AIR;
    case MODE_TIMETABLE:
      return slot_info (channel, slot_of (now_us), &info) ? KT_CHANNEL_STATE_ON_AIR
                                                          : KT_CHANNEL_STATE_PREPARING;
  }
  g_assert_not_reached ();
}

static void
airing_from_lesson (const KtChannelLesson *l, gint64 t_us, KtAiring *airing)
{
  airing->title = l->title;
  airing->teacher = l->teacher;
  airing->description = l->description;
  airing->source = l->source;
  airing->item_id = l->item_id;
  airing->fallback = l->fallback;
  airing->start_us = l->start_us;
  airing->end_us = l->end_us;
  airing->offset_us = MAX (0, t_us - l->start_us);
}

static void
loop_airing (KtChannel *channel, gint64 t_us, KtAiring *airing)
{
  gint64 loop_us = channel->loop_segments * KT_SEGMENT_US;
  KtChannelLesson l = channel->loop_item;
  l.start_us = MAX (t_us, 0) / loop_us * loop_us;
  l.end_us = l.start_us + loop_us;
  airing_from_lesson (&l, t_us, airing);
}

gboolean
kt_channel_airing_at (KtChannel *channel, gint64 t_us, KtAiring *airing)
{
  if (channel->mode == MODE_LOOP) {
    loop_airing (channel, t_us, airing);
    return TRUE;
  }
  if (channel->mode != MODE_TIMETABLE)
    return FALSE;
  const KtRun *run = &g_array_index (channel->runs, KtRun, run_index (channel, slot_of (t_us)));
  if (run->lesson >= 0) {
    airing_from_lesson (&g_array_index (channel->lessons, KtChannelLesson, run->lesson), t_us,
                        airing);
    return TRUE;
  }
  memset (airing, 0, sizeof *airing); /* a slate: no lesson */
  airing->item_id = run->item_id;
  airing->start_us = slot_start_us (run->start);
  airing->end_us = slot_start_us (run->end);
  airing->offset_us = t_us - airing->start_us;
  return TRUE;
}

gboolean
kt_channel_next_lesson (KtChannel *channel, gint64 t_us, KtAiring *airing)
{
  if (channel->mode == MODE_LOOP) {
    gint64 loop_us = channel->loop_segments * KT_SEGMENT_US;
    loop_airing (channel, (MAX (t_us, 0) / loop_us + 1) * loop_us, airing);
    return TRUE;
  }
  if (channel->mode != MODE_TIMETABLE)
    return FALSE;
  for (guint i = 0; i < channel->lessons->len; i++) {
    const KtChannelLesson *l = &g_array_index (channel->lessons, KtChannelLesson, i);
    if (l->start_us > t_us) {
      airing_from_lesson (l, l->start_us, airing);
      return TRUE;
    }
  }
  return FALSE;
}

GArray *
kt_channel_lessons_between (KtChannel *channel, gint64 from_us, gint64 to_us)
{
  GArray *out = g_array_new (FALSE, TRUE, sizeof (KtAiring));
  if (channel->mode == MODE_LOOP) {
    gint64 loop_us = channel->loop_segments * KT_SEGMENT_US;
    for (gint64 t = MAX (from_us, 0) / loop_us * loop_us; t < to_us && out->len < 500;
         t += loop_us) {
      KtAiring a;
      loop_airing (channel, t, &a);
      a.offset_us = 0;
      g_array_append_val (out, a);
    }
  } else if (channel->mode == MODE_TIMETABLE) {
    for (guint i = 0; i < channel->lessons->len; i++) {
      const KtChannelLesson *l = &g_array_index (channel->lessons, KtChannelLesson, i);
      if (l->end_us > from_us && l->start_us < to_us) {
        KtAiring a;
        airing_from_lesson (l, l->start_us, &a);
        g_array_append_val (out, a);
      }
    }
  }
  return out;
}

static GBytes *
build_playlist (KtChannel *channel, const KtRendition *rendition, gint64 newest, guint window)
{
  KtSlotInfo info;
  if (!slot_info (channel, newest, &info))
    return NULL;
  /* The window reaches back over slots that have something to air. */
  gint64 first = newest;
  while (first > 0 && newest - first + 1 < window && slot_info (channel, first - 1, &info))
    first--;

  g_autoptr (KtHlsPlaylist) playlist = kt_hls_playlist_new ();
  playlist->media_sequence = first;
  playlist->can_block_reload = TRUE; /* kt-http-live holds a reload until its slot begins */
  for (gint64 slot = first; slot <= newest; slot++) {
    slot_info (channel, slot, &info);
    if (slot == first)
      playlist->discontinuity_sequence = info.dseq - (info.boundary && info.dseq > 0 ? 1 : 0);
    char *uri = g_strdup_printf ("/media/%s/%s/%u.ts", info.item_id, rendition->name,
                                 info.segment);
    kt_hls_playlist_add (playlist, uri, KT_SEGMENT_US, slot * KT_SEGMENT_US, info.boundary);
  }
  char *text = kt_hls_playlist_write (playlist);
  return g_bytes_new_take (text, strlen (text));
}

GBytes *
kt_channel_playlist (KtChannel *channel, const KtRendition *rendition, gint64 now_us,
                     guint window)
{
  g_return_val_if_fail (window > 0, NULL);
  guint r = rendition - kt_renditions;
  g_return_val_if_fail (r < kt_n_renditions && r < G_N_ELEMENTS (channel->cache), NULL);

  gint64 newest = slot_of (now_us);
  KtCachedPlaylist *cached = &channel->cache[r];
  if (cached->text == NULL || cached->slot != newest || cached->window != window) {
    g_clear_pointer (&cached->text, g_bytes_unref);
    cached->text = build_playlist (channel, rendition, newest, window);
    cached->slot = newest;
    cached->window = window;
  }
  return cached->text ? g_bytes_ref (cached->text) : NULL;
}
