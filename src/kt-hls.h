#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The house format's renditions, in the order the master playlist lists them.
 * Every library item has every rendition, cut at the same instants. */
typedef struct {
  const char *name;     /* directory and URL component: "720p" */
  int width, height;    /* 0 for audio-only */
  int bandwidth;        /* peak bits per second, for the master playlist */
  const char *codecs;   /* RFC 6381 codecs string */
} KtRendition;

extern const KtRendition kt_renditions[];
extern const guint kt_n_renditions;

/* The one segment length of the house format. */
#define KT_SEGMENT_US G_GINT64_CONSTANT (2000000)

const KtRendition *kt_rendition_find (const char *name);

/* One entry of a media playlist. */
typedef struct {
  char *uri;
  gint64 duration_us;
  gint64 pdt_us;          /* program date-time, µs since the Unix epoch; -1: none */
  gboolean discontinuity; /* an item boundary precedes this segment */
} KtHlsEntry;

typedef struct {
  guint64 media_sequence;
  guint64 discontinuity_sequence;
  gboolean ended; /* VOD: EXT-X-ENDLIST and PLAYLIST-TYPE:VOD */
  gboolean can_block_reload; /* live: answers _HLS_msn (EXT-X-SERVER-CONTROL) */
  GArray *entries; /* KtHlsEntry, owns the uris */
} KtHlsPlaylist;

KtHlsPlaylist *kt_hls_playlist_new (void);
void kt_hls_playlist_free (KtHlsPlaylist *playlist);
void kt_hls_playlist_add (KtHlsPlaylist *playlist, char *uri /* (transfer full) */,
                          gint64 duration_us, gint64 pdt_us, gboolean discontinuity);
/* The playlist text (RFC 8216, version 3). */
char *kt_hls_playlist_write (const KtHlsPlaylist *playlist);
/* A master playlist naming each rendition's variant as <rendition>/index.m3u8
 * with @query (may be NULL) appended to carry tokens through. */
char *kt_hls_master_write (const char *query);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtHlsPlaylist, kt_hls_playlist_free)

/* The segment store: segment files mapped into memory and kept, most recently
 * served first, within a byte budget. Serving a segment is then handing the
 * mapped bytes to the HTTP layer: no copy, no read on the main loop after the
 * first request. Segments are immutable, so a cached mapping never goes stale. */
typedef struct _KtSegmentStore KtSegmentStore;

KtSegmentStore *kt_segment_store_new (gsize budget_bytes);
void kt_segment_store_free (KtSegmentStore *store);
/* (transfer full) the file's bytes, or NULL with @error. */
GBytes *kt_segment_store_get (KtSegmentStore *store, const char *path, GError **error);
gsize kt_segment_store_cached_bytes (KtSegmentStore *store);

/* A segment file kept open to be sent with sendfile(2) by any thread at
 * once: each send gives its own offset, so the file's position never
 * moves. Reference-counted; the descriptor closes with the last reference.
 * The store keeps at most KT_SEGMENT_STORE_FILES of them open. */
typedef struct _KtSegmentFile KtSegmentFile;
#define KT_SEGMENT_STORE_FILES 256

/* (transfer full) @path, open, or NULL with @error. */
KtSegmentFile *kt_segment_store_get_file (KtSegmentStore *store, const char *path, GError **error);
KtSegmentFile *kt_segment_file_ref (KtSegmentFile *file);
void kt_segment_file_unref (KtSegmentFile *file);
int kt_segment_file_fd (const KtSegmentFile *file);
gsize kt_segment_file_size (const KtSegmentFile *file);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtSegmentFile, kt_segment_file_unref)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtSegmentStore, kt_segment_store_free)

G_END_DECLS
