#pragma once

#include <glib.h>

#include "kt-store.h"

G_BEGIN_DECLS

#define KT_VIEWPOINT_ERROR (kt_viewpoint_error_quark ())
GQuark kt_viewpoint_error_quark (void);

typedef enum {
  KT_VIEWPOINT_ERROR_INVALID,   /* a bad name, township, phone, seat count or channel */
  KT_VIEWPOINT_ERROR_EXISTS,    /* the name is taken */
  KT_VIEWPOINT_ERROR_NOT_FOUND, /* no such viewing point (or token, or code) */
  KT_VIEWPOINT_ERROR_STORE,     /* the database failed */
} KtViewpointError;

/* A viewing point (收视点) as callers see it: never its token hash. */
typedef struct {
  gint64 id;
  char *name;     /* "城关镇老年活动中心": unique, without case */
  char *township; /* 乡镇/社区 */
  char *contact;  /* "" when not given */
  char *phone;
  gint64 seats;   /* expected seats; 0 when not given */
  char *channel;  /* the channel its kiosk plays */
  gboolean disabled;
  char *code;     /* the 6-digit short code */
  gint64 created_us;
} KtViewpoint;

/* Viewing points are reference counted: free drops one reference. */
void kt_viewpoint_free (KtViewpoint *viewpoint);
KtViewpoint *kt_viewpoint_ref (KtViewpoint *viewpoint);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtViewpoint, kt_viewpoint_free)

/* What to set: NULL strings and negative numbers leave a field as it is
 * (on add, contact and phone default to "" and seats to 0; name and
 * township are required). */
typedef struct {
  const char *name;
  const char *township;
  const char *contact;
  const char *phone;
  gint64 seats;     /* -1: unchanged */
  int disabled;     /* -1: unchanged, 0, 1 */
  const char *channel; /* NULL: unchanged (on add: "1") */
} KtViewpointFields;

/* Register a viewing point. *@token gets its access token in clear, this
 * once (transfer full); the database keeps its SHA-256 only. */
KtViewpoint *kt_viewpoint_add (KtStore *store, const KtViewpointFields *fields, char **token,
                               GError **error);
/* Change fields of the viewing point @id. (transfer full) the result. */
KtViewpoint *kt_viewpoint_update (KtStore *store, gint64 id, const KtViewpointFields *fields,
                                  GError **error);
/* A new token for @name; the old one stops working at once. */
char *kt_viewpoint_new_token (KtStore *store, const char *name, GError **error);
/* The kiosk URL path for @token or, when @token is NULL, for @code:
 * "/?kiosk=1&token=…". (transfer full) */
char *kt_viewpoint_kiosk_path (const char *token, const char *code);

/* Lookups: NULL with KT_VIEWPOINT_ERROR_NOT_FOUND when there is none.
 * A disabled viewing point is found; callers decide what that means. */
KtViewpoint *kt_viewpoint_find (KtStore *store, const char *name, GError **error);
KtViewpoint *kt_viewpoint_find_id (KtStore *store, gint64 id, GError **error);
KtViewpoint *kt_viewpoint_find_token (KtStore *store, const char *token, GError **error);
KtViewpoint *kt_viewpoint_find_code (KtStore *store, const char *code, GError **error);
/* KtViewpoint*, by township then name; NULL only when the database fails. */
GPtrArray *kt_viewpoint_list (KtStore *store, GError **error);

/* kt_viewpoint_find_token and _code from memory while no row of the
 * viewpoints table changed (through this connection, by any statement, or
 * by another process): what a request that names a room by its token or
 * code asks. A reference (transfer full); treat it as read-only. Main
 * thread only, like the store. */
typedef struct _KtViewpointCache KtViewpointCache;
KtViewpointCache *kt_viewpoint_cache_new (KtStore *store /* borrowed, outlives it */);
void kt_viewpoint_cache_free (KtViewpointCache *cache);
KtViewpoint *kt_viewpoint_cache_find_token (KtViewpointCache *cache, const char *token,
                                            GError **error);
KtViewpoint *kt_viewpoint_cache_find_code (KtViewpointCache *cache, const char *code,
                                           GError **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtViewpointCache, kt_viewpoint_cache_free)

G_END_DECLS
