#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The live playlists of the current slot, posted by the main thread for the
 * HTTP serving threads (see kt-playlist-board.c). Thread-safe. */
typedef struct _KtPlaylistBoard KtPlaylistBoard;

KtPlaylistBoard *kt_playlist_board_new (void);
void kt_playlist_board_free (KtPlaylistBoard *board);
/* @channel's @rendition playlist for @slot, as built at channel epoch
 * @epoch (kt_channel_epoch). */
void kt_playlist_board_post (KtPlaylistBoard *board, const char *channel, const char *rendition,
                             gint64 slot, guint epoch, GBytes *playlist);
/* (transfer full) The posted playlist if it is for @slot and was built at
 * the channels' current epoch; NULL otherwise. */
GBytes *kt_playlist_board_find (KtPlaylistBoard *board, const char *channel,
                                const char *rendition, gint64 slot);

G_END_DECLS
