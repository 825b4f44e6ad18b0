#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "kt-app.h"

G_BEGIN_DECLS

/* The HTTP server and the helpers every route uses. */
typedef struct _KtHttp KtHttp;

KtHttp *kt_http_new (KtApp *app);
/* @listen is HOST:PORT; port 0 picks a free port. */
gboolean kt_http_listen (KtHttp *http, const char *listen, GError **error);
/* "http://HOST:PORT/" after listening. */
const char *kt_http_base_uri (KtHttp *http);
void kt_http_free (KtHttp *http);

/* A request as the routes see it: the path split into decoded segments that
 * were checked (no "", ".", ".." or segment with '/', '\\' or NUL in it). */
typedef struct {
  SoupServerMessage *msg;
  const char *path;       /* raw, as sent */
  const char *const *parts; /* decoded segments after the route's prefix */
  guint n_parts;
  gboolean trailing_slash;
} KtRequest;

typedef void (*KtRouteHandler) (KtApp *app, KtRequest *request);

typedef struct {
  const char *prefix; /* "/live/": matches that path and everything below */
  const char *methods; /* "GET HEAD" */
  KtRouteHandler handler;
} KtRoute;

/* Route groups, one file each. */
void kt_http_static_handle (KtApp *app, KtRequest *request);
void kt_http_vendor_handle (KtApp *app, KtRequest *request);
void kt_http_live_handle (KtApp *app, KtRequest *request);
void kt_http_media_handle (KtApp *app, KtRequest *request);
void kt_http_api_handle (KtApp *app, KtRequest *request);
void kt_http_healthz_handle (KtApp *app, KtRequest *request);
void kt_http_schedule_handle (KtApp *app, KtRequest *request);
void kt_http_watch_handle (KtApp *app, KtRequest *request);

/* Serve @root/@parts… (NULL-terminated, checked segments) if its real path
 * lies inside @root; 404 otherwise. */
void kt_http_serve_file (SoupServerMessage *msg, const char *root, const char *const *parts,
                         const char *cache_control);

/* The one error shape: {"error": {"code": "...", "message": "..."}}. */
void kt_http_error (SoupServerMessage *msg, guint status, const char *code, const char *format,
                    ...) G_GNUC_PRINTF (4, 5);
/* Map a GError of any ketang domain to a status and code. */
void kt_http_error_from_gerror (SoupServerMessage *msg, const GError *error);
/* A JSON body from a builder's root node. */
void kt_http_json (SoupServerMessage *msg, guint status, JsonNode *root);
/* A body from bytes, with type and cache policy. */
void kt_http_bytes (SoupServerMessage *msg, GBytes *bytes, const char *content_type,
                    const char *cache_control);

G_END_DECLS
