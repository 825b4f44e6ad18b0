#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "kt-app.h"
#include "kt-http-direct.h"
#include "kt-inbox.h"
#include "kt-viewpoint.h"

G_BEGIN_DECLS

/* The HTTP server and the helpers every route uses. */
typedef struct _KtHttp KtHttp;

KtHttp *kt_http_new (KtApp *app);
/* @listen is HOST:PORT; port 0 picks a free port. */
/* Serve HTTPS with the PEM @certificate and @key files (@key NULL or empty:
 * the key is in @certificate); before kt_http_listen. */
gboolean kt_http_set_tls (KtHttp *http, const char *certificate, const char *key, GError **error);
gboolean kt_http_listen (KtHttp *http, const char *listen, GError **error);
/* "http://HOST:PORT/" after listening. */
const char *kt_http_base_uri (KtHttp *http);
void kt_http_free (KtHttp *http);

/* A request as the routes see it: the path split into decoded segments that
 * were checked (no "", ".", ".." or segment with '/', '\\' or NUL in it).
 * Everything in it is borrowed for the handler call only; a handler that
 * answers later (kt_http_later_new) copies what it needs. */
typedef struct {
  SoupServerMessage *msg;
  const char *path;       /* raw, as sent */
  const char *const *parts; /* decoded segments after the route's prefix */
  guint n_parts;
  gboolean trailing_slash;
  const KtUser *user;     /* the signed-in account; NULL on public routes */
  const KtSession *session; /* its session; NULL on public routes */
  GCancellable *cancellable; /* cancelled when the server stops */
} KtRequest;

typedef void (*KtRouteHandler) (KtApp *app, KtRequest *request);

/* The largest upload chunk one PATCH may carry. */
#define KT_HTTP_UPLOAD_CHUNK_MAX (8 * 1024 * 1024)

typedef struct {
  const char *prefix; /* "/live/": matches that path and everything below */
  const char *methods; /* "GET HEAD" */
  /* Who may use the route: "public" (anyone, no session looked up), "any"
   * (any signed-in account), or role names ("admin", "teacher admin").
   * The dispatcher answers 401 without a live session, 403 for another
   * role, and 403 "csrf" for a POST, PUT, PATCH or DELETE without the
   * session's X-CSRF-Token. Never NULL: a route says who it is for. */
  const char *roles;
  KtRouteHandler handler;
} KtRoute;

/* The route table, read-only (for tests that walk it). */
const KtRoute *kt_http_routes (guint *n_routes);

/* The access check the dispatcher runs before a route's handler: TRUE and
 * the session (NULL on public routes) when the request may proceed, else
 * FALSE with the answer (401 or 403) already given. */
gboolean kt_http_auth_check (KtApp *app, const KtRoute *route, SoupServerMessage *msg,
                             KtSession **session);

/* Route groups, one file each. */
void kt_http_static_handle (KtApp *app, KtRequest *request);
void kt_http_vendor_handle (KtApp *app, KtRequest *request);
void kt_http_live_handle (KtApp *app, KtRequest *request);
void kt_http_media_handle (KtApp *app, KtRequest *request);
/* On an HTTP serving thread: the answer to a GET or HEAD of
 * /live/@parts[0..2] (a current variant playlist, counting @client as a
 * viewer), /live/@parts[0..1] (the master playlist of a channel on air) or
 * /media/@parts[0..2] (a ready segment) from the state the serving threads
 * share, TRUE; FALSE when only the main thread's handler can answer, with
 * @prepare (if not NULL) filled when the main thread can put the answer in
 * shared state (a playlist to build, a blocking reload's slot to wait for).
 * With @file_ok a segment is answered with its open file (for sendfile),
 * not its bytes.
 * @parts are plain (no escapes, no "." or ".."). */
gboolean kt_http_live_answer_shared (KtApp *app, const char *const *parts,
                                     const KtHttpClient *client, KtHttpShared *answer,
                                     KtHttpPrepare *prepare);
gboolean kt_http_media_answer_shared (KtApp *app, const char *const *parts, gboolean file_ok,
                                      KtHttpShared *answer);
/* @msg's client, borrowed from @msg. */
void kt_http_client_of (SoupServerMessage *msg, KtHttpClient *client);
void kt_http_api_handle (KtApp *app, KtRequest *request);
/* GET /api/channels's JSON: every channel with its state and now/next. */
GBytes *kt_http_channels_json (KtApp *app);
/* GET /api/channels/@channel_id/guide's JSON for today, or NULL when there
 * is no such channel. */
GBytes *kt_http_guide_today_json (KtApp *app, const char *channel_id);
void kt_http_healthz_handle (KtApp *app, KtRequest *request);
void kt_http_schedule_handle (KtApp *app, KtRequest *request);
void kt_http_watch_handle (KtApp *app, KtRequest *request);
/* "thumbnail": the URL of @item's poster, or null while there is none. */
void kt_http_add_poster (JsonBuilder *b, KtApp *app, const KtItem *item);
void kt_http_metrics_handle (KtApp *app, KtRequest *request);

/* Serve @root/@parts… (NULL-terminated, checked segments) if its real path
 * lies inside @root; 404 otherwise. */
void kt_http_serve_file (SoupServerMessage *msg, const char *root, const char *const *parts,
                         const char *cache_control);
void kt_http_login_handle (KtApp *app, KtRequest *request);
void kt_http_logout_handle (KtApp *app, KtRequest *request);
void kt_http_me_handle (KtApp *app, KtRequest *request);
void kt_http_users_handle (KtApp *app, KtRequest *request);
void kt_http_schedules_handle (KtApp *app, KtRequest *request);
void kt_http_uploads_handle (KtApp *app, KtRequest *request);
/* At start: imports that a killed server left undecided (see kt-http-upload.c). */
void kt_http_uploads_recover (KtApp *app);
void kt_http_lessons_handle (KtApp *app, KtRequest *request);
void kt_http_library_handle (KtApp *app, KtRequest *request);
void kt_http_heartbeat_handle (KtApp *app, KtRequest *request);
/* On the serving thread that received a POST /api/heartbeat: answer it
 * there if it is a person's by name on a channel that exists (the main
 * thread counts it soon after), else parse its body for
 * kt_http_heartbeat_handle on the main thread and return FALSE. */
gboolean kt_http_heartbeat_answer_alone (KtHttp *http, KtApp *app, SoupServerMessage *msg);
/* The same for the direct path (kt-http-direct.c): @body is sent to be
 * counted, TRUE (answer 200 with an empty body, kt_http_ok_empty), or
 * FALSE for the route's handler, which reads it again. */
gboolean kt_http_heartbeat_answer_data (KtHttp *http, KtApp *app, const char *body, gsize len);
/* From a serving thread: @run(@data) on the main thread, soon and in order;
 * @drop(@data) instead, on any thread, if the server stops first. */
void kt_http_to_main (KtHttp *http, KtInboxFunc run, KtInboxFunc drop, gpointer data);
void kt_http_attendance_handle (KtApp *app, KtRequest *request);
void kt_http_viewpoints_handle (KtApp *app, KtRequest *request);
void kt_http_publish_handle (KtApp *app, KtRequest *request);
void kt_http_whip_handle (KtApp *app, KtRequest *request);
void kt_http_kiosk_handle (KtApp *app, KtRequest *request);

/* The viewing point @token (or, when it is NULL, @code) names: the one
 * place credentials of a room are checked, codes through the code guard.
 * NULL with the answer given: 401 unknown, 403 disabled, 429 too many wrong
 * codes (with Retry-After). (transfer full) */
KtViewpoint *kt_http_find_viewpoint (KtApp *app, SoupServerMessage *msg, const char *token,
                                     const char *code);
/* Why a request (or one heartbeat of a batch) is refused: a status, an
 * error code and a message for people. */
typedef struct {
  guint status;
  const char *code;
  char *message;        /* owned */
  gint64 retry_after_s; /* > 0: a Retry-After to send */
} KtHttpRefusal;
/* Answer @msg with @refusal (and free its message). */
void kt_http_refuse (SoupServerMessage *msg, KtHttpRefusal *refusal);
/* kt_http_find_viewpoint for a client address, answering nothing: NULL
 * with @refusal filled in. */
KtViewpoint *kt_http_lookup_viewpoint (KtApp *app, const char *client, const char *token,
                                       const char *code, KtHttpRefusal *refusal);
/* Reports for Excel: a string with the UTF-8 byte-order mark; rows of
 * fields quoted where needed (a field starting like a formula is made
 * text); the answer as an attachment "<name>-<from's date>.csv". */
GString *kt_http_csv_new (void);
void kt_http_csv_row (GString *out, const char *const *fields, guint n);
void kt_http_csv_reply (KtApp *app, SoupServerMessage *msg, GString *csv /* transfer full */,
                        const char *name, gint64 from_us);
/* Microseconds as minutes to a tenth. */
double kt_http_minutes (gint64 us);
/* A channel's name for reports; @id when there is no such channel now. */
const char *kt_http_channel_name (KtApp *app, const char *id);
/* kt-http-reports.c: the live board (/api/attendance/online[.csv]) and the
 * reports over longer spans (viewpoints[.csv], months[.csv]). */
void kt_http_board_reply (KtApp *app, SoupServerMessage *msg, gboolean csv);
void kt_http_summary_reply (KtApp *app, SoupServerMessage *msg, const char *what);
/* Six ASCII digits. */
gboolean kt_http_code_well_formed (const char *code);

/* ?from=&to= as ISO 8601 dates or date-times in the server's zone; the
 * default is today. FALSE with 400 answered on a bad or too long range. */
gboolean kt_http_parse_range (KtApp *app, SoupServerMessage *msg, gint64 now_us, gint64 *from,
                              gint64 *to);
/* The same with a longest span of @max_days. */
gboolean kt_http_parse_range_within (KtApp *app, SoupServerMessage *msg, gint64 now_us,
                                     int max_days, gint64 *from, gint64 *to);

/* The one error shape: {"error": {"code": "...", "message": "..."}}. */
void kt_http_error (SoupServerMessage *msg, guint status, const char *code, const char *format,
                    ...) G_GNUC_PRINTF (4, 5);
/* Map a GError of any ketang domain to a status and code. */
void kt_http_error_from_gerror (SoupServerMessage *msg, const GError *error);
#define KT_HTTP_JSON_TYPE "application/json; charset=utf-8"
/* A JSON body from a builder's root node. */
void kt_http_json (SoupServerMessage *msg, guint status, JsonNode *root);
/* The same with @json, a document already written (kt_http_json_text). */
void kt_http_json_bytes (SoupServerMessage *msg, guint status, GBytes *json);
/* @root written as JSON text. */
GBytes *kt_http_json_text (JsonNode *root);
/* 200 with an empty body (Content-Length: 0), for answers made many times a
 * second whose only news is the status: the headers go out in one send. */
void kt_http_ok_empty (SoupServerMessage *msg);
/* Read the request body as a JSON object whose members are all strings
 * named in @fields; @values[i] gets field i's value (NULL when absent),
 * borrowed from the returned node (transfer full). On a body that is not
 * such an object, that lacks a required field or has an unknown one, answers
 * 400 (415 for another content type, 413 for a body over 64 KiB) and
 * returns NULL. */
typedef struct {
  const char *name;
  gboolean required;
} KtJsonField;
JsonNode *kt_http_read_fields (SoupServerMessage *msg, const KtJsonField *fields,
                               guint n_fields, const char **values);
/* @name: ISO 8601 in @tz. */
void kt_http_add_time (JsonBuilder *b, const char *name, gint64 us, GTimeZone *tz);
/* @name (or, with NULL, the next array element): {"id", "name",
 * "display_name", "role", "disabled", "created"}. Never the hash. */
void kt_http_add_user (JsonBuilder *b, const char *name, const KtUser *user, GTimeZone *tz);

/* An answer given after the handler returned (from an async callback, on
 * the main thread): kt_http_later_new() holds the message and keeps @note
 * (a copy) for the callback. kt_http_later_msg() is the message to answer,
 * or NULL when the server stopped, in which case the app may be gone too
 * and the callback must touch nothing but kt_http_later_finish(), which
 * sends the answer (through the message's serving thread) and frees the
 * later. */
typedef struct _KtHttpLater KtHttpLater;
KtHttpLater *kt_http_later_new (KtApp *app, KtRequest *request, const char *note);
SoupServerMessage *kt_http_later_msg (KtHttpLater *later);
KtApp *kt_http_later_app (KtHttpLater *later);
const char *kt_http_later_note (KtHttpLater *later);
void kt_http_later_finish (KtHttpLater *later);

/* A body from bytes, with type and cache policy. */
void kt_http_bytes (SoupServerMessage *msg, GBytes *bytes, const char *content_type,
                    const char *cache_control);

/* libsoup 3.2 keeps a keep-alive connection its client closed while idle
 * open for ever (see kt-http-closed.c). kt_http_closed_install (once, before
 * listening) makes accepted connections able to notice; each finished
 * response marks its connection idle with kt_http_closed_mark_idle. */
void kt_http_closed_install (void);
void kt_http_closed_mark_idle (SoupServerMessage *msg);

G_END_DECLS
