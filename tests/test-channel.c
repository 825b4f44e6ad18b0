/* kt-channel: the live window follows the (fake) clock; the media sequence
 * only grows; a discontinuity marks every loop restart, and the
 * discontinuity sequence stays consistent from one playlist to the next. */
#include "kt-channel.h"
#include "kt-clock.h"
#include "test-utils.h"

static void
parse (GBytes *bytes, KtTestPlaylist *p)
{
  g_autofree char *text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  kt_test_playlist_parse (text, p);
}

static KtItem *
make_item (guint segments)
{
  KtItem *item = g_new0 (KtItem, 1);
  item->id = g_strdup ("lesson");
  item->kind = g_strdup ("demo");
  item->title = g_strdup ("太极拳");
  item->teacher = g_strdup ("王老师");
  item->state = KT_ITEM_READY;
  item->segment_count = segments;
  item->duration_us = segments * KT_SEGMENT_US;
  return item;
}

static void
test_window_follows_clock (void)
{
  g_autoptr (KtChannel) ch = kt_channel_new ("1", "一");
  g_autoptr (KtItem) item = make_item (5); /* a 10 s loop */
  const KtRendition *r = kt_rendition_find ("360p");

  g_assert_null (kt_channel_playlist (ch, r, 0, 4)); /* off air */
  kt_channel_set_loop (ch, item);

  /* 1,800,000,003 s (January 2027) is slot 900000001, segment 1 of its
   * loop. */
  kt_clock_set_fake (G_GINT64_CONSTANT (1800000003) * KT_USEC_PER_SEC);
  g_autoptr (GBytes) a = kt_channel_playlist (ch, r, kt_clock_now_us (), 4);
  KtTestPlaylist pa;
  parse (a, &pa);
  g_assert_cmpuint (pa.msn, ==, 900000001 - 3);
  /* Discontinuities are counted from 2026 on (kt-channel.c says why):
   * loops of 5 slots begun since slot 883612800, less the one in view. */
  g_assert_cmpuint (pa.dsn, ==, (900000001 / 5 - 883612800 / 5) - 1);
  g_assert_cmpuint (pa.uris->len, ==, 4);
  g_assert_cmpstr (pa.uris->pdata[3], ==, "/media/lesson/360p/1.ts");
  g_assert_cmpstr (pa.uris->pdata[2], ==, "/media/lesson/360p/0.ts");
  g_assert_cmpstr (pa.uris->pdata[1], ==, "/media/lesson/360p/4.ts");
  /* The loop restarts between 4.ts and 0.ts. */
  g_assert_true (g_array_index (pa.discontinuity, gboolean, 2));
  g_assert_false (g_array_index (pa.discontinuity, gboolean, 1));
  g_assert_false (g_array_index (pa.discontinuity, gboolean, 3));

  /* Within the same slot nothing changes, and the text is shared. */
  kt_clock_advance (999999);
  g_autoptr (GBytes) same = kt_channel_playlist (ch, r, kt_clock_now_us (), 4);
  g_assert_true (same == a);

  /* Walk two whole loops, one segment at a time: the window slides by one,
   * the sequence grows by one, and a segment keeps its discontinuity
   * sequence number (base + tags before it) from one playlist to the next. */
  KtTestPlaylist prev = pa;
  for (int step = 0; step < 10; step++) {
    kt_clock_advance (KT_SEGMENT_US);
    g_autoptr (GBytes) b = kt_channel_playlist (ch, r, kt_clock_now_us (), 4);
    KtTestPlaylist pb;
    parse (b, &pb);
    g_assert_cmpuint (pb.msn, ==, prev.msn + 1);
    for (guint i = 0; i + 1 < prev.uris->len; i++)
      g_assert_cmpstr (pb.uris->pdata[i], ==, prev.uris->pdata[i + 1]);
    /* Discontinuity number of the segment both playlists hold. */
    guint64 prev_dn = prev.dsn, next_dn = pb.dsn;
    for (guint i = 0; i <= 1; i++)
      prev_dn += g_array_index (prev.discontinuity, gboolean, i);
    next_dn += g_array_index (pb.discontinuity, gboolean, 0);
    g_assert_cmpuint (prev_dn, ==, next_dn);
    if (step > 0)
      kt_test_playlist_clear (&prev);
    prev = pb;
  }
  kt_test_playlist_clear (&prev);
  kt_test_playlist_clear (&pa);
  kt_clock_use_real ();
}

static void
test_airing_now_and_next (void)
{
  g_autoptr (KtChannel) ch = kt_channel_new ("1", "一");
  g_autoptr (KtItem) item = make_item (15); /* 30 s */
  kt_channel_set_loop (ch, item);
  KtAiring now;
  gint64 t = G_GINT64_CONSTANT (1796000412) * KT_USEC_PER_SEC + 500000;
  g_assert_true (kt_channel_airing_at (ch, t, &now));
  g_assert_cmpstr (now.title, ==, "太极拳");
  g_assert_cmpint (now.start_us, ==, G_GINT64_CONSTANT (1796000400) * KT_USEC_PER_SEC);
  g_assert_cmpint (now.end_us, ==, G_GINT64_CONSTANT (1796000430) * KT_USEC_PER_SEC);
  g_assert_cmpint (now.offset_us, ==, 12500000);
  kt_channel_set_off_air (ch);
  g_assert_false (kt_channel_airing_at (ch, t, &now));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/channel/window-follows-clock", test_window_follows_clock);
  g_test_add_func ("/channel/airing-now-and-next", test_airing_now_and_next);
  return g_test_run ();
}
