/* kt-playlist-board: live playlists the serving threads may hand out alone.
 *
 * A channel's variant playlist is the same bytes for every viewer during a
 * slot (kt_channel_playlist builds it once per window position), and is
 * asked for by every viewer every slot. Building it needs the channel, its
 * timetable and the library, all main-thread state. So the main thread,
 * whenever it answers a playlist request, posts the bytes here with the
 * slot they are for and the channels' epoch (kt_channel_epoch, which moves
 * whenever a programme, state or live talk changes what a channel airs);
 * an HTTP serving thread that finds a posting for the current slot and
 * epoch answers with it, and otherwise hands the request to the main
 * thread, which builds and posts. A slot change or a programme change
 * therefore costs one trip to the main thread per channel and rendition,
 * not one per viewer, and a serving thread never serves a playlist that
 * the main thread would not serve at that moment.
 */
#include "kt-playlist-board.h"

#include "kt-channel.h"

typedef struct {
  gint64 slot;
  guint epoch;
  GBytes *playlist;
} KtPosting;

struct _KtPlaylistBoard {
  GMutex lock;
  GHashTable *postings; /* "channel/rendition" → KtPosting* (owned) */
};

static void
posting_free (gpointer data)
{
  KtPosting *posting = data;
  g_bytes_unref (posting->playlist);
  g_free (posting);
}

KtPlaylistBoard *
kt_playlist_board_new (void)
{
  KtPlaylistBoard *board = g_new0 (KtPlaylistBoard, 1);
  g_mutex_init (&board->lock);
  board->postings = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, posting_free);
  return board;
}

void
kt_playlist_board_free (KtPlaylistBoard *board)
{
  if (board == NULL)
    return;
  g_hash_table_destroy (board->postings);
  g_mutex_clear (&board->lock);
  g_free (board);
}

void
kt_playlist_board_post (KtPlaylistBoard *board, const char *channel, const char *rendition,
                        gint64 slot, guint epoch, GBytes *playlist)
{
  KtPosting *posting = g_new (KtPosting, 1);
  *posting = (KtPosting) { slot, epoch, g_bytes_ref (playlist) };
  g_mutex_lock (&board->lock);
  g_hash_table_replace (board->postings, g_strconcat (channel, "/", rendition, NULL), posting);
  g_mutex_unlock (&board->lock);
}

GBytes *
kt_playlist_board_find (KtPlaylistBoard *board, const char *channel, const char *rendition,
                        gint64 slot)
{
  char key[128];
  if (g_snprintf (key, sizeof key, "%s/%s", channel, rendition) >= (int) sizeof key)
    return NULL;
  guint epoch = kt_channel_epoch ();
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&board->lock);
  const KtPosting *posting = g_hash_table_lookup (board->postings, key);
  if (posting == NULL || posting->slot != slot || posting->epoch != epoch)
    return NULL;
  return g_bytes_ref (posting->playlist);
}
