/* kt-hls: playlist text follows RFC 8216 and the segment store keeps mapped
 * files within its budget. */
#include "kt-hls.h"
#include <unistd.h>

#include "test-utils.h"

static void
test_media_playlist (void)
{
  g_autoptr (KtHlsPlaylist) p = kt_hls_playlist_new ();
  p->media_sequence = 41;
  p->discontinuity_sequence = 7;
  /* 2026-11-30T01:00:00Z */
  gint64 t0 = G_GINT64_CONSTANT (1796000400) * G_USEC_PER_SEC;
  kt_hls_playlist_add (p, g_strdup ("/media/a/720p/14.ts"), 2000000, t0, FALSE);
  kt_hls_playlist_add (p, g_strdup ("/media/b/720p/0.ts"), 2000000, t0 + 2000000, TRUE);
  g_autofree char *text = kt_hls_playlist_write (p);
  g_assert_cmpstr (text, ==,
                   "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n"
                   "#EXT-X-MEDIA-SEQUENCE:41\n#EXT-X-DISCONTINUITY-SEQUENCE:7\n"
                   "#EXT-X-PROGRAM-DATE-TIME:2026-11-30T01:00:00.000Z\n#EXTINF:2.000,\n"
                   "/media/a/720p/14.ts\n"
                   "#EXT-X-DISCONTINUITY\n"
                   "#EXT-X-PROGRAM-DATE-TIME:2026-11-30T01:00:02.000Z\n#EXTINF:2.000,\n"
                   "/media/b/720p/0.ts\n");
}

static void
test_vod_playlist_and_target_duration (void)
{
  g_autoptr (KtHlsPlaylist) p = kt_hls_playlist_new ();
  p->ended = TRUE;
  kt_hls_playlist_add (p, g_strdup ("0.ts"), 2000000, 0, FALSE);
  kt_hls_playlist_add (p, g_strdup ("1.ts"), 2400000, 2000000, FALSE);
  g_autofree char *text = kt_hls_playlist_write (p);
  g_assert_nonnull (strstr (text, "#EXT-X-TARGETDURATION:3\n"));
  g_assert_nonnull (strstr (text, "#EXT-X-PLAYLIST-TYPE:VOD\n"));
  g_assert_true (g_str_has_suffix (text, "#EXT-X-ENDLIST\n"));
}

static void
test_master_lists_every_rendition (void)
{
  g_autofree char *text = kt_hls_master_write ("token=abc");
  for (guint i = 0; i < kt_n_renditions; i++) {
    g_autofree char *uri = g_strdup_printf ("\n%s/index.m3u8?token=abc\n", kt_renditions[i].name);
    g_assert_nonnull (strstr (text, uri));
  }
  g_assert_nonnull (strstr (text, "RESOLUTION=1280x720"));
  g_assert_nonnull (strstr (text, "RESOLUTION=640x360"));
  g_assert_nonnull (strstr (text, "CODECS=\"mp4a.40.2\"\naudio/"));
}

static void
test_segment_store_budget (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  g_autoptr (KtSegmentStore) store = kt_segment_store_new (2500);
  g_autoptr (GError) error = NULL;
  char *paths[4];
  for (int i = 0; i < 4; i++) {
    g_autofree char *name = g_strdup_printf ("%d.ts", i);
    paths[i] = g_build_filename (dir, name, NULL);
    g_autofree char *data = g_strnfill (1000, 'a' + i);
    g_assert_true (g_file_set_contents (paths[i], data, 1000, NULL));
  }
  for (int i = 0; i < 4; i++) {
    g_autoptr (GBytes) b = kt_segment_store_get (store, paths[i], &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_bytes_get_size (b), ==, 1000);
    g_assert_cmpint (((const char *) g_bytes_get_data (b, NULL))[0], ==, 'a' + i);
    g_assert_cmpuint (kt_segment_store_cached_bytes (store), <=, 2500);
  }
  g_assert_cmpuint (kt_segment_store_cached_bytes (store), ==, 2000);
  g_assert_null (kt_segment_store_get (store, "/nonexistent.ts", &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  for (int i = 0; i < 4; i++)
    g_free (paths[i]);
  kt_test_rmtree (dir);
}

/* Files kept open for sendfile: one descriptor per file whoever sends it,
 * at most KT_SEGMENT_STORE_FILES of them, and one still held by a sender
 * stays readable after the store let it go. */
static void
test_segment_store_files (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  g_autoptr (KtSegmentStore) store = kt_segment_store_new (1 << 20);
  guint before = kt_test_open_descriptors ();
  guint n = KT_SEGMENT_STORE_FILES + 40;
  KtSegmentFile *first = NULL;
  for (guint i = 0; i < n; i++) {
    g_autofree char *name = g_strdup_printf ("%u.ts", i);
    g_autofree char *path = g_build_filename (dir, name, NULL);
    g_autofree char *data = g_strdup_printf ("segment %u", i);
    g_assert_true (g_file_set_contents (path, data, -1, NULL));
    g_autoptr (GError) error = NULL;
    g_autoptr (KtSegmentFile) file = kt_segment_store_get_file (store, path, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (kt_segment_file_size (file), ==, strlen (data));
    g_autoptr (KtSegmentFile) again = kt_segment_store_get_file (store, path, NULL);
    g_assert_true (again == file); /* the same descriptor for every sender */
    if (i == 0)
      first = kt_segment_file_ref (file);
  }
  /* The store's files plus the one still held. */
  g_assert_cmpuint (kt_test_open_descriptors (), <=, before + KT_SEGMENT_STORE_FILES + 1);
  char buf[16] = { 0 };
  g_assert_cmpint (pread (kt_segment_file_fd (first), buf, sizeof buf - 1, 0), ==, 9);
  g_assert_cmpstr (buf, ==, "segment 0");
  kt_segment_file_unref (first);
  g_autoptr (GError) error = NULL;
  g_assert_null (kt_segment_store_get_file (store, "/nonexistent.ts", &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  kt_test_rmtree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/hls/media-playlist", test_media_playlist);
  g_test_add_func ("/hls/vod-playlist-and-target-duration", test_vod_playlist_and_target_duration);
  g_test_add_func ("/hls/master-lists-every-rendition", test_master_lists_every_rendition);
  g_test_add_func ("/hls/segment-store-budget", test_segment_store_budget);
  g_test_add_func ("/hls/segment-store-files", test_segment_store_files);
  return g_test_run ();
}
