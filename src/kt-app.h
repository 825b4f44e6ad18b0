#pragma once

#include <glib.h>

#include "kt-attendance.h"
#include "kt-auth.h"
#include "kt-channel.h"
#include "kt-code-guard.h"
#include "kt-config.h"
#include "kt-hls.h"
#include "kt-library.h"
#include "kt-metrics.h"
#include "kt-playlist-board.h"
#include "kt-store.h"
#include "kt-upload.h"
#include "kt-viewpoint.h"
#include "kt-timetable.h"
#include "kt-auth.h"

G_BEGIN_DECLS

#define KT_APP_ERROR (kt_app_error_quark ())
GQuark kt_app_error_quark (void);

typedef enum {
  KT_APP_ERROR_DATA_DIR, /* cannot create or use the data directory */
  KT_APP_ERROR_LISTEN,   /* bad address or port in use */
} KtAppError;

/* The server: owns the configuration, the store, the library, the channels
 * and the HTTP server, and starts and stops them in order. */
typedef struct _KtApp KtApp;

/* Opens the data directory and the database. Takes ownership of @config. */
KtApp *kt_app_new (KtConfig *config, gboolean demo, GError **error);
/* Listens and starts airing (and, with demo, makes the demo lesson). */
gboolean kt_app_start (KtApp *app, GError **error);
/* Stops jobs and the HTTP server; the database stays open until free. */
void kt_app_stop (KtApp *app);
void kt_app_free (KtApp *app);

/* "http://127.0.0.1:8080/" once started. */
const char *kt_app_base_uri (KtApp *app);

/* Read by the HTTP routes; borrowed for the app's lifetime. */
const KtConfig *kt_app_config (KtApp *app);
KtAuth *kt_app_auth (KtApp *app);
/* Viewer sessions and heartbeats; NULL before kt_app_start() and after stop. */
KtAttendance *kt_app_attendance (KtApp *app);
/* The throttle on guessed viewing point codes; NULL outside start–stop. */
KtCodeGuard *kt_app_code_guard (KtApp *app);
/* Viewing points by token and code, cached (kt-viewpoint.h). */
KtViewpointCache *kt_app_viewpoints (KtApp *app);
/* The one database handle (for modules without an object of their own). */
KtStore *kt_app_store (KtApp *app);
KtLibrary *kt_app_library (KtApp *app);
KtUploads *kt_app_uploads (KtApp *app);
/* A lesson on some channel that airs a given item. */
typedef struct {
  char *channel;
  char *title;
  gint64 start_us;
} KtAppLesson;
void kt_app_lesson_clear (KtAppLesson *lesson);
/* Lessons from @from_us on, on every channel, that air @item_id: KtAppLesson. */
GArray *kt_app_lessons_using (KtApp *app, const char *item_id, gint64 from_us);
KtSegmentStore *kt_app_segments (KtApp *app);
/* Requests, bytes, latencies and viewers, for /metrics. */
KtMetrics *kt_app_metrics (KtApp *app);
/* The live playlists of the current slot, for the HTTP serving threads. */
KtPlaylistBoard *kt_app_playlist_board (KtApp *app);
/* Live talks (kt-live.h); NULL before kt_app_start() and after stop. */
typedef struct _KtLive KtLive;
KtLive *kt_app_live (KtApp *app);
GPtrArray *kt_app_channels (KtApp *app); /* KtChannel* */
KtChannel *kt_app_find_channel (KtApp *app, const char *id);
/* Whether a channel of that id exists: from any thread (the others are main
 * thread only). */
gboolean kt_app_channel_listed (KtApp *app, const char *id);
GTimeZone *kt_app_timezone (KtApp *app);
/* Reload changed schedule files now (the watcher does it by itself after a
 * short quiet period). */
void kt_app_reload_schedules (KtApp *app);
KtTimetable *kt_app_timetable (KtApp *app);
/* Whether @user may put @item on a timetable or change it: administrators
 * any, teachers their own. */
gboolean kt_app_may_use_item (KtApp *app, const KtUser *user, const KtItem *item);
/* TRUE while media (an item, a slate) is being made. */
gboolean kt_app_busy (KtApp *app);
/* Schedule file → NULL when in force as written, else its problems. */
GHashTable *kt_app_schedule_status (KtApp *app);
/* The item id the demo lesson has under the current configuration. */
const char *kt_app_demo_item_id (KtApp *app);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtApp, kt_app_free)

G_END_DECLS
