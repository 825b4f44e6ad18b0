#pragma once

#include <libsoup/soup.h>

#include "kt-http-direct.h"
#include "kt-inbox.h"

G_BEGIN_DECLS

/* The HTTP serving threads: who accepts connections, which thread answers
 * a request, and how answers get back (see kt-http-threads.c). */
typedef struct _KtHttpThreads KtHttpThreads;

typedef struct {
  /* A new SoupServer for one serving thread, with its early handlers and
   * signals connected (they run on that thread). */
  SoupServer *(*make_server) (gpointer data);
  /* On a serving thread: answer @msg there and return TRUE, or return
   * FALSE to hand it to the main thread. */
  gboolean (*answer_alone) (SoupServerMessage *msg, gpointer data);
  /* On the main thread: answer @msg (or hold it, kt_http_threads_hold). */
  void (*dispatch) (SoupServerMessage *msg, gpointer data);
  /* On a serving thread, before libsoup (kt-http-direct.c); answer NULL:
   * libsoup accepts the connections itself. */
  KtHttpDirectHooks direct;
  gpointer data;
  /* Once cancelled, requests still on their way to the main thread are
   * dropped, not dispatched. */
  GCancellable *cancellable;
} KtHttpThreadsHooks;

/* Listen on @address (a concrete port) with @n_threads serving threads.
 * Call on the main thread; dispatch runs on this thread's default context. */
KtHttpThreads *kt_http_threads_start (const KtHttpThreadsHooks *hooks, guint n_threads,
                                      GSocketAddress *address, SoupServerListenOptions options,
                                      GError **error);
/* Stop every thread (their connections are closed) and drop what is still
 * on its way. */
void kt_http_threads_stop (KtHttpThreads *threads);
/* (transfer full) The URIs served, as soup_server_get_uris. */
GSList *kt_http_threads_uris (KtHttpThreads *threads);

/* Bind a TCP socket with the largest listen backlog to @address, with
 * SO_REUSEPORT when @reuse_port. */
GSocket *kt_http_bound_socket (GSocketAddress *address, gboolean reuse_port, GError **error);

/* From a serving thread: @run(@data) on the main thread, in the order
 * posted, with the requests handed over; @drop(@data) instead if the
 * threads stop first. */
void kt_http_threads_to_main (KtHttpThreads *threads, KtInboxFunc run, KtInboxFunc drop,
                              gpointer data);

/* On the main thread, in dispatch: @msg will be answered after dispatch
 * returns; kt_http_threads_release gives it back to its thread. */
void kt_http_threads_hold (SoupServerMessage *msg);
/* On the main thread: @msg (held) is answered; send it. */
void kt_http_threads_release (SoupServerMessage *msg);

G_END_DECLS
