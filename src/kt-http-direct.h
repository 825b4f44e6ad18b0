#pragma once

#include <libsoup/soup.h>

#include "kt-hls.h"
#include "kt-inbox.h"

G_BEGIN_DECLS

/* The direct path of one HTTP serving thread (see kt-http-direct.c): it
 * accepts the thread's connections and answers viewers' plain GET and HEAD
 * requests and small POSTs (heartbeats) from shared state without libsoup; a connection's first request
 * it does not answer goes, with the connection, to the thread's SoupServer. */
typedef struct _KtHttpDirect KtHttpDirect;

/* Who asks, as the viewer counts know a player (kt-metrics.c). */
typedef struct {
  const char *host;  /* the client's address */
  const char *agent; /* its User-Agent, or NULL */
  const char *query; /* the raw query string, or NULL */
} KtHttpClient;

/* An answer from the state the serving threads share: 200 with @body, or
 * with the whole of @file when the asker said it can send files. */
typedef struct {
  GBytes *body;         /* the caller's, once given */
  KtSegmentFile *file;  /* the same */
  const char *content_type; /* NULL with an empty body */
  const char *cache_control;
  gboolean any_origin; /* Access-Control-Allow-Origin: * (players on other sites) */
} KtHttpShared;

/* A request waiting for the main thread, which calls
 * kt_http_direct_retry on it once its work is done. */
typedef struct _KtHttpTicket KtHttpTicket;

/* Work for the main thread before a request is asked again: a playlist to
 * build, a slot to wait for. @run owns @ticket; @free frees @data. */
typedef struct {
  void (*run) (gpointer data, KtHttpTicket *ticket);
  gpointer data;
  GDestroyNotify free;
} KtHttpPrepare;

typedef struct {
  /* The answer to a GET or HEAD of @path (percent-encoded, without the
   * query) and its route (a static string, for /metrics), or NULL when
   * libsoup and the route table should see the request. With NULL it may
   * fill @prepare (when not NULL): the request is asked again once the
   * main thread has done that, and only then goes to libsoup. */
  const char *(*answer) (const char *path, const KtHttpClient *client, KtHttpShared *answer,
                         KtHttpPrepare *prepare, gpointer data);
  /* The same for a POST of @path with @body (Content-Length, at most a few
   * kilobytes, all there), without @prepare. */
  const char *(*answer_post) (const char *path, const char *body, gsize len,
                              KtHttpShared *answer, gpointer data);
  /* An answer was written whole: @bytes of body in @seconds. */
  void (*count) (const char *route, guint64 bytes, double seconds, gpointer data);
  gpointer data;
  const char *server_header; /* "ketang/0.1.0" */
} KtHttpDirectHooks;

/* A direct path on @context, whose thread alone calls into it from now on;
 * @server (borrowed, same thread) takes the connections it hands over. */
/* @home is @context's inbox, @main the main thread's. */
KtHttpDirect *kt_http_direct_new (const KtHttpDirectHooks *hooks, GMainContext *context,
                                  SoupServer *server, KtInbox *home, KtInbox *main,
                                  GError **error);
/* Accept on @listener (listening, non-blocking) from now on. */
void kt_http_direct_add_listener (KtHttpDirect *direct, GSocket *listener);
/* Close the listeners and every connection not handed over. On the
 * context's thread, or once nothing runs that context any more. */
void kt_http_direct_free (KtHttpDirect *direct);

/* On the main thread: @ticket's work is done; its request is asked again
 * on its own thread. */
void kt_http_direct_retry (KtHttpTicket *ticket);
/* Whether @ticket's server has stopped: its request will not be asked
 * again, and what it was for (the app) may be gone. */
gboolean kt_http_direct_ticket_dropped (KtHttpTicket *ticket);
/* The same with its answer made already (@answer's body and file are
 * taken; @route is static), given as soon as the request is read again. */
void kt_http_direct_answer (KtHttpTicket *ticket, const char *route, KtHttpShared *answer);

/* @msg's socket: soup_server_message_get_socket, which is NULL for a
 * connection the direct path handed over, or the one it recorded then. */
GSocket *kt_http_direct_message_socket (SoupServerMessage *msg);

G_END_DECLS
