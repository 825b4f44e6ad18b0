/* kt-hls: HLS playlist text and the in-memory segment store.
 *
 * Playlists are written here and nowhere else, so the rules of RFC 8216 live
 * in one place: EXT-X-TARGETDURATION is the rounded-up longest segment (our
 * segments are all exactly 2 s, so it is an honest 2), EXT-X-MEDIA-SEQUENCE
 * and EXT-X-DISCONTINUITY-SEQUENCE describe the first listed segment, and
 * every segment carries EXT-X-PROGRAM-DATE-TIME so players and tools can map
 * it to the wall clock (an item boundary resets the media timeline; the
 * date-time keeps counting).
 *
 * The master playlist is the same for every channel: the house renditions in
 * a fixed order, 720p first (hls.js starts with the first and adapts).
 *
 * The segment store maps segment files (GMappedFile) and keeps them in a
 * least-recently-used list within a byte budget. The mapped pages are the
 * kernel's page cache, so a popular segment is served to every viewer from
 * the same memory with no copy; the budget bounds how many mappings we pin.
 * Every HTTP serving thread reads it, so it is behind one mutex, held for a
 * hash lookup and a list move.
 */
#define G_LOG_DOMAIN "kt-hls"

#include "kt-hls.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

const KtRendition kt_renditions[] = {
  { "720p", 1280, 720, 2300000, "avc1.4d401f,mp4a.40.2" },
  { "360p", 640, 360, 750000, "avc1.4d401e,mp4a.40.2" },
  { "audio", 0, 0, 80000, "mp4a.40.2" },
};
const guint kt_n_renditions = G_N_ELEMENTS (kt_renditions);

const KtRendition *
kt_rendition_find (const char *name)
{
  for (guint i = 0; i < kt_n_renditions; i++)
    if (g_strcmp0 (kt_renditions[i].name, name) == 0)
      return &kt_renditions[i];
  return NULL;
}

static void
clear_entry (gpointer data)
{
  g_free (((KtHlsEntry *) data)->uri);
}

KtHlsPlaylist *
kt_hls_playlist_new (void)
{
  KtHlsPlaylist *playlist = g_new0 (KtHlsPlaylist, 1);
  playlist->entries = g_array_new (FALSE, TRUE, sizeof (KtHlsEntry));
  g_array_set_clear_func (playlist->entries, clear_entry);
  return playlist;
}

void
kt_hls_playlist_free (KtHlsPlaylist *playlist)
{
  if (playlist == NULL)
    return;
  g_array_unref (playlist->entries);
  g_free (playlist);
}

void
kt_hls_playlist_add (KtHlsPlaylist *playlist, char *uri, gint64 duration_us, gint64 pdt_us,
                     gboolean discontinuity)
{
  KtHlsEntry e = { uri, duration_us, pdt_us, discontinuity };
  g_array_append_val (playlist->entries, e);
}

static void
append_date_time (GString *out, gint64 us)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);
  g_autofree char *text = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%S");
  g_string_append_printf (out, "%s.%03dZ", text, (int) ((us % G_USEC_PER_SEC) / 1000));
}

char *
kt_hls_playlist_write (const KtHlsPlaylist *playlist)
{
  GString *out = g_string_sized_new (128 + playlist->entries->len * 96);
  gint64 longest = KT_SEGMENT_US;

  for (guint i = 0; i < playlist->entries->len; i++)
    longest = MAX (longest, g_array_index (playlist->entries, KtHlsEntry, i).duration_us);

  g_string_append (out, "#EXTM3U\n#EXT-X-VERSION:3\n");
  g_string_append_printf (out, "#EXT-X-TARGETDURATION:%" G_GINT64_FORMAT "\n",
                          (longest + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
  if (playlist->ended)
    g_string_append (out, "#EXT-X-PLAYLIST-TYPE:VOD\n");
  else if (playlist->can_block_reload)
    g_string_append (out, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES\n");
  g_string_append_printf (out, "#EXT-X-MEDIA-SEQUENCE:%" G_GUINT64_FORMAT "\n",
                          playlist->media_sequence);
  g_string_append_printf (out, "#EXT-X-DISCONTINUITY-SEQUENCE:%" G_GUINT64_FORMAT "\n",
                          playlist->discontinuity_sequence);
  for (guint i = 0; i < playlist->entries->len; i++) {
    const KtHlsEntry *e = &g_array_index (playlist->entries, KtHlsEntry, i);
    if (e->discontinuity)
      g_string_append (out, "#EXT-X-DISCONTINUITY\n");
    if (e->pdt_us >= 0) {
      g_string_append (out, "#EXT-X-PROGRAM-DATE-TIME:");
      append_date_time (out, e->pdt_us);
      g_string_append_c (out, '\n');
    }
    g_string_append_printf (out, "#EXTINF:%.3f,\n%s\n", e->duration_us / 1e6, e->uri);
  }
  if (playlist->ended)
    g_string_append (out, "#EXT-X-ENDLIST\n");
  return g_string_free (out, FALSE);
}

char *
kt_hls_master_write (const char *query)
{
  GString *out = g_string_new ("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n");
  for (guint i = 0; i < kt_n_renditions; i++) {
    const KtRendition *r = &kt_renditions[i];
    g_string_append_printf (out, "#EXT-X-STREAM-INF:BANDWIDTH=%d,CODECS=\"%s\"", r->bandwidth,
                            r->codecs);
    if (r->width > 0)
      g_string_append_printf (out, ",RESOLUTION=%dx%d,FRAME-RATE=25.000", r->width, r->height);
    g_string_append_printf (out, "\n%s/index.m3u8%s%s\n", r->name, query ? "?" : "",
                            query ? query : "");
  }
  return g_string_free (out, FALSE);
}

/* The segment store. An entry holds the file's mapping, or an open
 * descriptor for sendfile, or both, each made when first asked for. */

struct _KtSegmentFile {
  gint ref;
  int fd;
  gsize size;
};

KtSegmentFile *
kt_segment_file_ref (KtSegmentFile *file)
{
  g_atomic_int_inc (&file->ref);
  return file;
}

void
kt_segment_file_unref (KtSegmentFile *file)
{
  if (file != NULL && g_atomic_int_dec_and_test (&file->ref)) {
    close (file->fd);
    g_free (file);
  }
}

int
kt_segment_file_fd (const KtSegmentFile *file)
{
  return file->fd;
}

gsize
kt_segment_file_size (const KtSegmentFile *file)
{
  return file->size;
}

typedef struct {
  char *path;
  GBytes *bytes;       /* the mapping, or NULL */
  KtSegmentFile *file; /* open, or NULL */
  GList *link; /* in store->lru, most recent first */
} KtCachedSegment;

struct _KtSegmentStore {
  GMutex lock; /* the serving threads share the store */
  gsize budget;
  gsize cached;  /* bytes mapped */
  guint files;   /* descriptors held */
  GHashTable *by_path; /* path → KtCachedSegment* (owned) */
  GQueue lru;
};

static void
cached_segment_free (gpointer data)
{
  KtCachedSegment *c = data;
  g_free (c->path);
  if (c->bytes != NULL)
    g_bytes_unref (c->bytes);
  kt_segment_file_unref (c->file);
  g_free (c);
}

KtSegmentStore *
kt_segment_store_new (gsize budget_bytes)
{
  KtSegmentStore *store = g_new0 (KtSegmentStore, 1);
  g_mutex_init (&store->lock);
  store->budget = budget_bytes;
  store->by_path = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, cached_segment_free);
  g_queue_init (&store->lru);
  return store;
}

void
kt_segment_store_free (KtSegmentStore *store)
{
  if (store == NULL)
    return;
  g_queue_clear (&store->lru);
  g_hash_table_destroy (store->by_path);
  g_mutex_clear (&store->lock);
  g_free (store);
}

gsize
kt_segment_store_cached_bytes (KtSegmentStore *store)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&store->lock);
  return store->cached;
}

static void
evict (KtSegmentStore *store)
{
  while ((store->cached > store->budget || store->files > KT_SEGMENT_STORE_FILES) &&
         store->lru.length > 1) {
    KtCachedSegment *oldest = g_queue_pop_tail (&store->lru);
    store->cached -= oldest->bytes ? g_bytes_get_size (oldest->bytes) : 0;
    store->files -= oldest->file ? 1 : 0;
    g_hash_table_remove (store->by_path, oldest->path);
  }
}

/* @path's entry, most recent now; a new one is empty. Under the lock. */
static KtCachedSegment *
entry (KtSegmentStore *store, const char *path)
{
  KtCachedSegment *c = g_hash_table_lookup (store->by_path, path);
  if (c != NULL) {
    g_queue_unlink (&store->lru, c->link);
    g_queue_push_head_link (&store->lru, c->link);
    return c;
  }
  c = g_new0 (KtCachedSegment, 1);
  c->path = g_strdup (path);
  g_queue_push_head (&store->lru, c);
  c->link = store->lru.head;
  g_hash_table_insert (store->by_path, c->path, c);
  return c;
}

/* A new entry that got nothing (the file is not there) goes again. */
static void
forget_if_empty (KtSegmentStore *store, KtCachedSegment *c)
{
  if (c->bytes == NULL && c->file == NULL) {
    g_queue_delete_link (&store->lru, c->link);
    g_hash_table_remove (store->by_path, c->path);
  }
}

KtSegmentFile *
kt_segment_store_get_file (KtSegmentStore *store, const char *path, GError **error)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&store->lock);
  KtCachedSegment *c = entry (store, path);
  if (c->file == NULL) {
    int fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
    struct stat st;
    if (fd < 0 || fstat (fd, &st) != 0 || !S_ISREG (st.st_mode)) {
      int saved = fd < 0 ? errno : EINVAL;
      if (fd >= 0)
        close (fd);
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s: %s", path,
                   g_strerror (saved));
      forget_if_empty (store, c);
      return NULL;
    }
    c->file = g_new0 (KtSegmentFile, 1);
    *c->file = (KtSegmentFile) { 1, fd, st.st_size };
    store->files++;
  }
  KtSegmentFile *result = kt_segment_file_ref (c->file);
  evict (store);
  return result;
}

GBytes *
kt_segment_store_get (KtSegmentStore *store, const char *path, GError **error)
{
  /* Held across a miss's mapping too: mapping is an open, an fstat and an
   * mmap, and two threads mapping the same file would only waste one. */
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&store->lock);
  KtCachedSegment *c = entry (store, path);
  if (c->bytes == NULL) {
    g_autoptr (GMappedFile) mapped = g_mapped_file_new (path, FALSE, error);
    if (mapped == NULL) {
      forget_if_empty (store, c);
      return NULL;
    }
    c->bytes = g_mapped_file_get_bytes (mapped);
    store->cached += g_bytes_get_size (c->bytes);
  }
  GBytes *result = g_bytes_ref (c->bytes);
  evict (store);
  return result;
}
