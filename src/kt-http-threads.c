/* kt-http-threads: the threads that serve HTTP, and who answers what.
 *
 * Where the time went. With one thread, ketang's HTTP cost grew with the
 * number of open connections, not only with requests: GLib's main loop
 * polls, it has no epoll, so every iteration walks every connection's
 * source (g_main_context_prepare and _check, then poll() over every
 * descriptor), and with thousands of viewers connected that walk was about
 * half of the serving thread's CPU (docs/serving.md has the profiles). So
 * connections live on serving threads instead: each has its own
 * GMainContext and SoupServer, listening on its own sockets bound to the
 * same port with SO_REUSEPORT; the kernel spreads new connections over all
 * of them, each thread walks only its own, and the threads use every core.
 *
 * Who answers. Almost everything ketang knows lives on the main thread
 * (channels, timetable, library, sessions, attendance, SQLite), and the
 * route handlers read it freely. Rather than lock all of that, a serving
 * thread answers by itself only what it can answer from shared, locked,
 * read-mostly state: the bulk of viewers' requests, segments of ready items
 * (kt_library_peek_ready_segments, the segment store) and the current
 * slot's variant playlists (kt-playlist-board.c); the hook answer_alone
 * decides. Every other request is paused on its thread and handed, through
 * the main thread's inbox (kt-inbox.c), to dispatch on the main thread,
 * which runs the route table exactly as before; the finished answer goes
 * back through the serving thread's inbox, which resumes the message there.
 * A message is only ever resumed on the thread that owns its connection:
 * libsoup resumes I/O on the context of the thread that calls
 * soup_server_message_unpause, so an unpause from the main thread would
 * move the connection's I/O onto the main loop while its thread still
 * polls it.
 *
 * An answer given later (kt_http_later_new, for blocking playlist reloads
 * and WHIP) holds its message (kt_http_threads_hold) past dispatch and
 * releases it when answered, from the main thread as everything else there.
 *
 * The direct path. On plain HTTP a serving thread does not let libsoup
 * accept: kt-http-direct.c accepts, answers viewers' common requests
 * without libsoup, and hands libsoup (this thread's SoupServer, through
 * soup_server_accept_iostream) every connection with a request it does not
 * take; from there on everything above applies. With TLS libsoup accepts
 * for itself, as before.
 *
 * How connections get in. libsoup accepts one connection per listening
 * socket per main-loop iteration, and an iteration with a thousand viewers
 * connected takes milliseconds: a crowd tuning in when a lesson starts then
 * waits in the kernel's queue, and with GSocket's default backlog of 10 is
 * partly dropped and retries 1, 3, 7 s later (measured: docs/serving.md).
 * So every socket gets the largest backlog the kernel allows (capped at
 * net.core.somaxconn), and there are at least LISTENERS sockets in all,
 * spread over the threads, each accepting once per iteration.
 *
 * SO_REUSEPORT would also let a second ketang of the same user bind the
 * same port and silently take half the viewers. The caller binds a plain
 * socket first, without the option, so a port already taken is still
 * refused ("address in use"), and it tells which port 0 picked.
 */
#define G_LOG_DOMAIN "kt-http"

#include "kt-http-threads.h"

#include <errno.h>
#include <sys/socket.h>
#include "kt-http-direct.h"
#include "kt-inbox.h"
#include "kt-wakeup.h"

#define LISTENERS 32
#define LISTEN_BACKLOG 4096

typedef struct {
  KtHttpThreads *threads;
  GThread *thread;
  GMainContext *context;
  int wakeup_fd; /* the context's, which the thread does not write itself (kt-wakeup.c) */
  GMainLoop *loop;
  SoupServer *server;
  KtHttpDirect *direct; /* accepts the connections, unless libsoup does (HTTPS) */
  KtInbox *inbox; /* work for this thread: resumes, the stop */
} KtHttpThread;

struct _KtHttpThreads {
  KtHttpThreadsHooks hooks;
  KtInbox *main_inbox; /* requests for dispatch */
  GPtrArray *threads;  /* KtHttpThread* */
  GSocketAddress *address;
  gboolean direct;     /* the threads accept through kt-http-direct */
};

/* A request on its way to the main thread and back. Attached to its
 * message (forward_quark) while it travels, so that the main thread can
 * find it to hold it. */
typedef struct {
  KtHttpThreads *threads;
  SoupServerMessage *msg; /* a reference */
  KtInbox *home;          /* the serving thread's inbox, a reference */
  gulong finished_id;
  gboolean finished;      /* serving thread: the message finished (its server stopped) */
  gboolean dispatching;   /* main thread: dispatch is running */
  gboolean held;          /* main thread: answered later (kt_http_threads_hold) */
} KtForward;

static GQuark forward_quark;

/* On the serving thread. libsoup finishes a paused message only when its
 * connection goes (the server stops); it must not be resumed then. */
static void
on_forward_finished (SoupServerMessage *msg, gpointer data)
{
  ((KtForward *) data)->finished = TRUE;
}

/* On the serving thread, or on any once that thread has stopped. */
static void
forward_free (KtForward *forward)
{
  g_signal_handler_disconnect (forward->msg, forward->finished_id);
  g_object_set_qdata (G_OBJECT (forward->msg), forward_quark, NULL);
  g_object_unref (forward->msg);
  kt_inbox_unref (forward->home);
  g_free (forward);
}

/* Dropped (the server stopped): the message stays paused and goes with its
 * connection. */
static void
drop_forward (gpointer data)
{
  forward_free (data);
}

/* On the serving thread. */
static void
resume_forward (gpointer data)
{
  KtForward *forward = data;
  if (!forward->finished)
    soup_server_message_unpause (forward->msg);
  forward_free (forward);
}

/* On the main thread. */
static void
run_forward (gpointer data)
{
  KtForward *forward = data;
  const KtHttpThreadsHooks *hooks = &forward->threads->hooks;
  if (g_cancellable_is_cancelled (hooks->cancellable)) {
    drop_forward (forward);
    return;
  }
  forward->dispatching = TRUE;
  hooks->dispatch (forward->msg, hooks->data);
  forward->dispatching = FALSE;
  if (!forward->held)
    kt_inbox_post (forward->home, resume_forward, drop_forward, forward);
}

void
kt_http_threads_hold (SoupServerMessage *msg)
{
  KtForward *forward = g_object_get_qdata (G_OBJECT (msg), forward_quark);
  g_return_if_fail (forward != NULL && forward->dispatching);
  forward->held = TRUE;
}

void
kt_http_threads_release (SoupServerMessage *msg)
{
  KtForward *forward = g_object_get_qdata (G_OBJECT (msg), forward_quark);
  g_return_if_fail (forward != NULL && forward->held);
  forward->held = FALSE;
  if (!forward->dispatching) /* else run_forward sends it when dispatch returns */
    kt_inbox_post (forward->home, resume_forward, drop_forward, forward);
}

void
kt_http_threads_to_main (KtHttpThreads *threads, KtInboxFunc run, KtInboxFunc drop,
                         gpointer data)
{
  kt_inbox_post (threads->main_inbox, run, drop, data);
}

/* On a serving thread: every request. */
static void
on_request (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
            gpointer user_data)
{
  KtHttpThread *thread = user_data;
  KtHttpThreads *threads = thread->threads;
  if (threads->hooks.answer_alone (msg, threads->hooks.data))
    return;
  KtForward *forward = g_new0 (KtForward, 1);
  forward->threads = threads;
  forward->msg = g_object_ref (msg);
  forward->home = kt_inbox_ref (thread->inbox);
  forward->finished_id =
      g_signal_connect (msg, "finished", G_CALLBACK (on_forward_finished), forward);
  g_object_set_qdata (G_OBJECT (msg), forward_quark, forward);
  soup_server_message_pause (msg);
  kt_inbox_post (threads->main_inbox, run_forward, drop_forward, forward);
}

static gpointer
serve (gpointer data)
{
  KtHttpThread *thread = data;
  kt_wakeup_skip_own (thread->wakeup_fd);
  g_main_context_push_thread_default (thread->context);
  g_main_loop_run (thread->loop);
  g_main_context_pop_thread_default (thread->context);
  return NULL;
}

/* On the serving thread, through its inbox. */
static void
stop_thread (gpointer data)
{
  KtHttpThread *thread = data;
  soup_server_disconnect (thread->server);
  g_main_loop_quit (thread->loop);
}

static void
ignore (gpointer data)
{
}

GSocket *
kt_http_bound_socket (GSocketAddress *address, gboolean reuse_port, GError **error)
{
  g_autoptr (GSocket) sock = g_socket_new (g_socket_address_get_family (address),
                                           G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  if (sock == NULL)
    return NULL;
  g_socket_set_listen_backlog (sock, LISTEN_BACKLOG);
  if (!reuse_port)
    return g_socket_bind (sock, address, TRUE /* SO_REUSEADDR */, error) ? g_steal_pointer (&sock)
                                                                         : NULL;
  /* g_socket_bind() would clear SO_REUSEPORT (it keeps it for multicast
   * only), so this one is bound by hand. */
  struct sockaddr_storage native;
  gssize len = g_socket_address_get_native_size (address);
  if (!g_socket_set_option (sock, SOL_SOCKET, SO_REUSEADDR, 1, error) ||
      !g_socket_set_option (sock, SOL_SOCKET, SO_REUSEPORT, 1, error) ||
      !g_socket_address_to_native (address, &native, sizeof native, error))
    return NULL;
  if (bind (g_socket_get_fd (sock), (struct sockaddr *) &native, len) != 0) {
    int saved = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "Error binding to address: %s",
                 g_strerror (saved));
    return NULL;
  }
  return g_steal_pointer (&sock);
}

/* The thread's server listens on @n sockets. The listening sources attach
 * to the thread-default context, so the thread's is pushed meanwhile. */
static gboolean
listen_thread (KtHttpThread *thread, GSocketAddress *address, SoupServerListenOptions options,
               guint n, GError **error)
{
  gboolean ok = TRUE;
  g_main_context_push_thread_default (thread->context);
  for (guint i = 0; ok && i < n; i++) {
    g_autoptr (GSocket) sock = kt_http_bound_socket (address, TRUE, error);
    ok = sock != NULL && g_socket_listen (sock, error);
    if (ok && thread->direct != NULL)
      kt_http_direct_add_listener (thread->direct, sock);
    else if (ok)
      ok = soup_server_listen_socket (thread->server, sock, options, error);
  }
  g_main_context_pop_thread_default (thread->context);
  return ok;
}

KtHttpThreads *
kt_http_threads_start (const KtHttpThreadsHooks *hooks, guint n_threads,
                       GSocketAddress *address, SoupServerListenOptions options, GError **error)
{
  if (forward_quark == 0)
    forward_quark = g_quark_from_static_string ("kt-http-forward");
  n_threads = MAX (n_threads, 1);
  KtHttpThreads *threads = g_new0 (KtHttpThreads, 1);
  threads->hooks = *hooks;
  g_autoptr (GMainContext) main_context = g_main_context_ref_thread_default ();
  threads->main_inbox = kt_inbox_new (main_context);
  threads->threads = g_ptr_array_new ();
  threads->address = g_object_ref (address);
  /* libsoup accepts for itself when it has TLS to do. */
  threads->direct = hooks->direct.answer != NULL && !(options & SOUP_SERVER_LISTEN_HTTPS) &&
                    g_strcmp0 (g_getenv ("KETANG_DIRECT"), "0") != 0;
  guint per_thread = MAX (1, (LISTENERS + n_threads - 1) / n_threads);

  for (guint i = 0; i < n_threads; i++) {
    KtHttpThread *thread = g_new0 (KtHttpThread, 1);
    thread->threads = threads;
    thread->context = g_main_context_new ();
    thread->wakeup_fd = kt_wakeup_fd (thread->context);
    thread->loop = g_main_loop_new (thread->context, FALSE);
    thread->inbox = kt_inbox_new (thread->context);
    thread->server = hooks->make_server (hooks->data);
    soup_server_add_handler (thread->server, NULL, on_request, thread, NULL);
    g_ptr_array_add (threads->threads, thread);
    if (threads->direct)
      thread->direct = kt_http_direct_new (&hooks->direct, thread->context, thread->server,
                                           thread->inbox, threads->main_inbox, error);
    if ((threads->direct && thread->direct == NULL) ||
        !listen_thread (thread, address, options, per_thread, error)) {
      kt_http_threads_stop (threads);
      return NULL;
    }
    g_autofree char *name = g_strdup_printf ("kt-http-%u", i);
    thread->thread = g_thread_new (name, serve, thread);
  }
  return threads;
}

GSList *
kt_http_threads_uris (KtHttpThreads *threads)
{
  KtHttpThread *first = threads->threads->pdata[0];
  if (!threads->direct)
    return soup_server_get_uris (first->server);
  GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (threads->address);
  g_autofree char *host = g_inet_address_to_string (g_inet_socket_address_get_address (inet));
  return g_slist_prepend (NULL, g_uri_build (G_URI_FLAGS_NONE, "http", NULL, host,
                                             g_inet_socket_address_get_port (inet), "/", NULL,
                                             NULL));
}

void
kt_http_threads_stop (KtHttpThreads *threads)
{
  if (threads == NULL)
    return;
  for (guint i = 0; i < threads->threads->len; i++) {
    KtHttpThread *thread = threads->threads->pdata[i];
    if (thread->thread != NULL) {
      kt_inbox_post (thread->inbox, stop_thread, ignore, thread);
      g_thread_join (thread->thread);
    } else {
      soup_server_disconnect (thread->server);
    }
    kt_inbox_close (thread->inbox); /* answers finished from now on are dropped */
  }
  /* Requests still on their way to the main thread hold messages of the
   * stopped servers: drop them before the servers go. */
  kt_inbox_close (threads->main_inbox);
  for (guint i = 0; i < threads->threads->len; i++) {
    KtHttpThread *thread = threads->threads->pdata[i];
    kt_http_direct_free (thread->direct);
    g_object_unref (thread->server);
    g_main_loop_unref (thread->loop);
    kt_inbox_unref (thread->inbox);
    g_main_context_unref (thread->context);
    g_free (thread);
  }
  g_ptr_array_unref (threads->threads);
  g_object_unref (threads->address);
  kt_inbox_unref (threads->main_inbox);
  g_free (threads);
}
