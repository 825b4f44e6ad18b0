/* kt-http-direct: viewers' requests answered without libsoup.
 *
 * Why. With the serving threads, the wake-ups and the shared state fixed,
 * one box carried 8,000 live viewers and nginx on the same bytes at least
 * 12,000, and ketang's own code was about 1 % of its CPU: the rest was the
 * cost of libsoup 3.2 on GLib 2.74 per request, a new GSource for every
 * wait to read or write, several GObjects per message, a signal emission
 * (each taking GObject's one process-wide signal lock) for every step of
 * every message, and the main loop's bookkeeping for each (docs/serving.md
 * has the profiles). A viewer's requests are nearly all the same two: the
 * current variant playlist and a segment, both already answered from
 * shared state (kt_http_live_answer_shared, kt_http_media_answer_shared).
 * For those the HTTP work is small: read a request head, write a status
 * line, seven headers and bytes that are already in memory.
 *
 * What. Each serving thread accepts its own connections (its share of the
 * SO_REUSEPORT sockets) and watches them with one epoll set, which is a
 * single descriptor in the thread's GMainContext. When a connection has
 * bytes, the next request is peeked (MSG_PEEK: the bytes stay in the
 * kernel) and its head parsed by libsoup's own parser
 * (soup_headers_parse_request), so it is read exactly as libsoup would
 * read it. A plain HTTP/1.1 request, all there in what was peeked, with no
 * Range, no Expect and no Upgrade, is taken if the hooks answer it from
 * shared state: a GET or HEAD of a current playlist or a ready segment, or
 * a POST of a person's heartbeat (a body of known length, a few hundred
 * bytes, which browsers send in the same packet as the head). It is then
 * consumed (one recv) and answered: one sendmsg of the head and the body,
 * or for a segment the head with MSG_MORE and the file by sendfile, its
 * pages straight from the page cache as nginx sends them (the segment
 * store keeps the file open for every connection and thread at once, so
 * a crowd costs no descriptor per segment in flight), and the connection
 * is kept for the next request.
 *
 * Some requests the main thread can make answerable: a playlist not yet on
 * the board at the start of a slot, a blocking reload (_HLS_msn) for a
 * slot still to come, which the web player makes every two seconds, or
 * the channel list and guide the player page asks for (made there and
 * given back with the ticket, kt_http_direct_answer). Such a
 * request stays unread and its connection leaves the epoll set; a ticket
 * goes to the main thread with the work (KtHttpPrepare) and comes back
 * through this thread's inbox once the playlist is on the board, and the
 * request is read again from the start. A request that still cannot be
 * answered then goes to libsoup, so a ticket is asked once.
 *
 * Anything else, from a login to a malformed request line, is never read
 * here: the connection, its unread bytes still in the kernel, is handed to
 * the thread's SoupServer (soup_server_accept_iostream) and is libsoup's
 * from then on, exactly as if libsoup had accepted it. So every rule
 * libsoup and the route table apply (parsing limits, 400s, bodies,
 * keep-alive, the closed-connection workaround in kt-http-closed.c) still
 * applies to every request that is not answered here, and no request is
 * ever half-read by two parsers. A request that is not all there in one
 * peek (a slow client, a head over HEAD_MAX, a body sent after its head)
 * is handed over too: a real player's requests are one packet each.
 *
 * A connection is handed over once and stays with libsoup. A browser tab
 * playing a lesson at home sends nothing but the requests above, so its
 * connections stay here; a viewing point's TV (token playlists and
 * heartbeats, checked on the main thread) and the admin pages move to
 * libsoup.
 *
 * libsoup only takes a GIOStream from outside; a connection made that way
 * has no GSocket for soup_server_message_get_socket, which kt-http.c needs
 * to cut off an oversized body and kt-http-closed.c to find its stream.
 * The socket is recorded on the connection's remote address object, which
 * libsoup keeps and hands back (kt_http_direct_message_socket).
 *
 * libsoup 3.2 also keeps a connection alive after a response only while
 * its server has a listener of its own (request_finished in soup-server.c
 * checks priv->listeners), and every connection here comes from outside.
 * So each thread's server listens on one socket nobody can reach: a Unix
 * socket bound in a private directory and unlinked as soon as it listens.
 *
 * Not here: TLS (the thread's SoupServer accepts for itself when ketang
 * serves HTTPS), idle timeouts (libsoup has none either; a client's close
 * is seen at once), HTTP/1.0 and pipelined bodies (handed over).
 * KETANG_DIRECT=0 in the environment turns the direct path off, to compare.
 */
#define _GNU_SOURCE /* accept4, memmem */
#define G_LOG_DOMAIN "kt-http"

#include "kt-http-direct.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gio/gunixsocketaddress.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The largest request answered here; a longer one goes to libsoup. */
#define HEAD_MAX 8192
/* The largest POST body answered here (a heartbeat is about 200 bytes). */
#define POST_MAX 4096
#define EVENTS_MAX 64
#define ACCEPTS_PER_EVENT 64
/* Out of descriptors: accepting pauses this long rather than spin. */
#define ACCEPT_PAUSE_MS 100

typedef enum { KIND_LISTENER, KIND_CONNECTION } Kind;

typedef struct {
  Kind kind;
  KtHttpDirect *direct;
  GSocket *socket;
} Listener;

typedef struct {
  Kind kind;
  int fd;
  struct sockaddr_storage peer;
  socklen_t peer_len;
  char host[64]; /* the peer's address as text */
  /* The answer being written. */
  char head[1024];
  gsize head_len;
  GBytes *body;     /* NULL for HEAD */
  KtSegmentFile *file; /* or the body is this file, whole */
  gsize total;      /* head_len + the body's size */
  gsize sent;
  gboolean close_after;
  gboolean writing; /* waiting for EPOLLOUT */
  gboolean retried; /* the request waited for the main thread once: no second wait */
  const char *prepared_route; /* and the main thread answered it: */
  KtHttpShared prepared;
  const char *route;
  gint64 started_us;
} Connection;

struct _KtHttpDirect {
  KtHttpDirectHooks hooks;
  SoupServer *server;
  GMainContext *context;
  KtInbox *home; /* this thread's */
  KtInbox *main;
  int epoll_fd;
  GSource *source;
  GPtrArray *listeners;     /* Listener* */
  GHashTable *connections;  /* Connection* */
  char buffer[HEAD_MAX];
  char date[40];            /* "Date: …" value for date_second */
  gint64 warned_us;         /* when accepting last failed aloud (monotonic) */
  time_t date_second;
};

struct _KtHttpTicket {
  KtHttpDirect *direct;
  Connection *conn;
  KtInbox *home; /* a reference: the ticket may come back after the thread stopped */
  KtHttpPrepare prepare;
  const char *route; /* the answer, if the main thread made it */
  KtHttpShared answer;
};

static void
shared_clear (KtHttpShared *shared)
{
  g_clear_pointer (&shared->body, g_bytes_unref);
  g_clear_pointer (&shared->file, kt_segment_file_unref);
}

static GQuark socket_quark;

GSocket *
kt_http_direct_message_socket (SoupServerMessage *msg)
{
  GSocket *socket = soup_server_message_get_socket (msg);
  if (socket == NULL) {
    GSocketAddress *remote = soup_server_message_get_remote_address (msg);
    if (remote != NULL && socket_quark != 0)
      socket = g_object_get_qdata (G_OBJECT (remote), socket_quark);
  }
  return socket;
}

static void
connection_free (KtHttpDirect *direct, Connection *conn)
{
  g_hash_table_remove (direct->connections, conn);
  if (conn->fd >= 0)
    close (conn->fd); /* also leaves the epoll set */
  g_clear_pointer (&conn->body, g_bytes_unref);
  g_clear_pointer (&conn->file, kt_segment_file_unref);
  shared_clear (&conn->prepared);
  g_free (conn);
}

/* The connection and its unread bytes go to libsoup. */
static void
hand_over (KtHttpDirect *direct, Connection *conn)
{
  epoll_ctl (direct->epoll_fd, EPOLL_CTL_DEL, conn->fd, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = g_socket_new_from_fd (conn->fd, &error);
  g_autoptr (GSocketAddress) remote
      = g_socket_address_new_from_native (&conn->peer, conn->peer_len);
  g_autoptr (GSocketAddress) local = socket ? g_socket_get_local_address (socket, &error) : NULL;
  if (local == NULL || remote == NULL) {
    g_info ("connection from %s dropped: %s", conn->host,
            error ? error->message : "no address");
    connection_free (direct, conn); /* closes the descriptor, which the socket did not take */
    return;
  }
  conn->fd = -1; /* the socket's now */
  g_object_set_qdata_full (G_OBJECT (remote), socket_quark, g_object_ref (socket),
                           g_object_unref);
  g_autoptr (GSocketConnection) stream = g_socket_connection_factory_create_connection (socket);
  soup_server_accept_iostream (direct->server, G_IO_STREAM (stream), local, remote, NULL);
  connection_free (direct, conn);
}

static void
want_write (KtHttpDirect *direct, Connection *conn, gboolean writing)
{
  if (conn->writing == writing)
    return;
  conn->writing = writing;
  struct epoll_event ev = { .events = writing ? EPOLLOUT : EPOLLIN, .data.ptr = conn };
  epoll_ctl (direct->epoll_fd, EPOLL_CTL_MOD, conn->fd, &ev);
}

/* Send some of what is left of the answer: the bytes sent, or -1 with
 * errno. A file goes by sendfile, its pages straight from the page cache;
 * the head before it is sent with MSG_MORE, to share a packet with them. */
static gssize
send_some (Connection *conn)
{
  if (conn->file != NULL && conn->sent >= conn->head_len) {
    off_t offset = conn->sent - conn->head_len;
    return sendfile (conn->fd, kt_segment_file_fd (conn->file), &offset,
                     conn->total - conn->sent);
  }
  struct iovec iov[2];
  int n = 0;
  if (conn->sent < conn->head_len)
    iov[n++] = (struct iovec) { conn->head + conn->sent, conn->head_len - conn->sent };
  if (conn->body != NULL) {
    gsize size, done = conn->sent > conn->head_len ? conn->sent - conn->head_len : 0;
    const char *data = g_bytes_get_data (conn->body, &size);
    if (done < size)
      iov[n++] = (struct iovec) { (char *) data + done, size - done };
  }
  struct msghdr msg = { .msg_iov = iov, .msg_iovlen = n };
  return sendmsg (conn->fd, &msg, MSG_NOSIGNAL | (conn->file != NULL ? MSG_MORE : 0));
}

/* Send what is left of the answer. FALSE when the connection is gone. */
static gboolean
write_more (KtHttpDirect *direct, Connection *conn)
{
  while (conn->sent < conn->total) {
    gssize sent = send_some (conn);
    if (sent < 0 && errno == EINTR)
      continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      want_write (direct, conn, TRUE);
      return TRUE;
    }
    if (sent <= 0) {
      connection_free (direct, conn);
      return FALSE;
    }
    conn->sent += sent;
  }
  direct->hooks.count (conn->route, conn->total - conn->head_len,
                       (g_get_monotonic_time () - conn->started_us) / 1e6, direct->hooks.data);
  g_clear_pointer (&conn->body, g_bytes_unref);
  g_clear_pointer (&conn->file, kt_segment_file_unref);
  conn->sent = conn->total = conn->head_len = 0;
  if (conn->close_after) {
    shutdown (conn->fd, SHUT_WR);
    connection_free (direct, conn);
    return FALSE;
  }
  want_write (direct, conn, FALSE);
  return TRUE;
}

/* The Date header's value, made once a second, as libsoup writes it. */
static const char *
date_now (KtHttpDirect *direct)
{
  time_t now = time (NULL);
  if (now != direct->date_second) {
    g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (now);
    g_autofree char *text = soup_date_time_to_string (utc, SOUP_DATE_HTTP);
    g_strlcpy (direct->date, text, sizeof direct->date);
    direct->date_second = now;
  }
  return direct->date;
}

/* A request this path takes: HTTP/1.1, an origin-form target, a Host,
 * nothing that libsoup would treat specially, and GET or HEAD without a
 * body or POST with a body of known length; its body's length. */
static gboolean
plain_request (const char *method, const char *target, SoupHTTPVersion version,
               SoupMessageHeaders *headers, gsize *body_len)
{
  if (version != SOUP_HTTP_1_1 || target[0] != '/' ||
      soup_message_headers_get_one (headers, "Host") == NULL)
    return FALSE;
  static const char *const special[]
      = { "Range", "If-Range", "Expect", "Upgrade", "Transfer-Encoding", NULL };
  for (guint i = 0; special[i] != NULL; i++)
    if (soup_message_headers_get_one (headers, special[i]) != NULL)
      return FALSE;
  SoupEncoding encoding = soup_message_headers_get_encoding (headers);
  goffset length = encoding == SOUP_ENCODING_CONTENT_LENGTH
                       ? soup_message_headers_get_content_length (headers)
                       : 0;
  *body_len = length;
  if (g_str_equal (method, "GET") || g_str_equal (method, "HEAD"))
    return encoding == SOUP_ENCODING_NONE || (encoding == SOUP_ENCODING_CONTENT_LENGTH && length == 0);
  return g_str_equal (method, "POST") && encoding == SOUP_ENCODING_CONTENT_LENGTH &&
         length > 0 && length <= POST_MAX;
}

/* Answer the request at the start of the buffer, of which @peeked bytes
 * are there: TRUE with the answer ready to write and *@request_len, the
 * request's length; FALSE to wait (@prepare filled) or hand over. */
static gboolean
answer (KtHttpDirect *direct, Connection *conn, gsize peeked, gsize *request_len,
        KtHttpPrepare *prepare)
{
  const char *end = memmem (direct->buffer, peeked, "\r\n\r\n", 4);
  if (end == NULL)
    return FALSE;
  gsize head_len = end + 4 - direct->buffer, body_len;
  g_autoptr (SoupMessageHeaders) headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  g_autofree char *method = NULL, *target = NULL;
  SoupHTTPVersion version;
  if (soup_headers_parse_request (direct->buffer, head_len, headers, &method, &target, &version)
          != SOUP_STATUS_OK ||
      !plain_request (method, target, version, headers, &body_len) ||
      head_len + body_len > peeked)
    return FALSE;
  char *query = strchr (target, '?');
  if (query != NULL)
    *query++ = '\0';
  KtHttpShared shared = { 0 };
  const char *route;
  gboolean post = g_str_equal (method, "POST");
  if (conn->prepared_route != NULL) { /* the main thread's answer to this very request */
    route = conn->prepared_route;
    shared = conn->prepared;
    conn->prepared_route = NULL;
    conn->prepared = (KtHttpShared) { 0 };
  } else if (post) {
    route = direct->hooks.answer_post (target, direct->buffer + head_len, body_len, &shared,
                                       direct->hooks.data);
  } else {
    KtHttpClient client = { conn->host, soup_message_headers_get_one (headers, "User-Agent"),
                            query };
    route = direct->hooks.answer (target, &client, &shared, conn->retried ? NULL : prepare,
                                  direct->hooks.data);
  }
  if (route == NULL)
    return FALSE;
  gsize size = shared.body   ? g_bytes_get_size (shared.body)
               : shared.file ? kt_segment_file_size (shared.file)
                             : 0;
  conn->close_after = soup_message_headers_header_contains (headers, "Connection", "close");
  int len = g_snprintf (conn->head, sizeof conn->head,
                        "HTTP/1.1 200 OK\r\n"
                        "Server: %s\r\n"
                        "Date: %s\r\n"
                        "%s"
                        "Cache-Control: %s\r\n"
                        "X-Content-Type-Options: nosniff\r\n"
                        "%s%s%s"
                        "Content-Length: %" G_GSIZE_FORMAT "\r\n"
                        "%s"
                        "\r\n",
                        direct->hooks.server_header, date_now (direct),
                        shared.any_origin ? "Access-Control-Allow-Origin: *\r\n" : "",
                        shared.cache_control,
                        shared.content_type ? "Content-Type: " : "",
                        shared.content_type ? shared.content_type : "",
                        shared.content_type ? "\r\n" : "", size,
                        conn->close_after ? "Connection: close\r\n" : "");
  if (len <= 0 || (gsize) len >= sizeof conn->head || g_str_equal (method, "HEAD") || size == 0) {
    shared_clear (&shared);
    if (len <= 0 || (gsize) len >= sizeof conn->head)
      return FALSE;
    size = 0;
  }
  conn->head_len = len;
  conn->route = route;
  conn->body = shared.body;
  conn->file = shared.file;
  conn->total = conn->head_len + size;
  conn->sent = 0;
  *request_len = head_len + body_len;
  return TRUE;
}

static void park (KtHttpDirect *direct, Connection *conn, const KtHttpPrepare *prepare);
static void resume_ticket (gpointer data);

static void
on_readable (KtHttpDirect *direct, Connection *conn)
{
  gint64 started = g_get_monotonic_time ();
  ssize_t n;
  do
    n = recv (conn->fd, direct->buffer, sizeof direct->buffer, MSG_PEEK);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return;
  if (n <= 0) { /* the client closed, or the connection broke */
    connection_free (direct, conn);
    return;
  }
  KtHttpPrepare prepare = { 0 };
  gsize request_len;
  if (!answer (direct, conn, n, &request_len, &prepare)) {
    if (prepare.run != NULL)
      park (direct, conn, &prepare);
    else
      hand_over (direct, conn);
    return;
  }
  /* Consume the request: the peek showed it is all there. */
  do
    n = recv (conn->fd, direct->buffer, request_len, 0);
  while (n < 0 && errno == EINTR);
  if (n != (ssize_t) request_len) {
    connection_free (direct, conn);
    return;
  }
  conn->started_us = conn->retried ? conn->started_us : started;
  conn->retried = FALSE;
  write_more (direct, conn);
}

/* Tickets. A parked connection is out of the epoll set, so nothing frees
 * it but kt_http_direct_free; its request is still unread in the kernel. */

static void
ticket_free (gpointer data)
{
  KtHttpTicket *ticket = data;
  if (ticket->prepare.free != NULL)
    ticket->prepare.free (ticket->prepare.data);
  shared_clear (&ticket->answer);
  kt_inbox_unref (ticket->home);
  g_free (ticket);
}

/* On the main thread. */
static void
run_ticket (gpointer data)
{
  KtHttpTicket *ticket = data;
  ticket->prepare.run (ticket->prepare.data, ticket);
}

void
kt_http_direct_retry (KtHttpTicket *ticket)
{
  kt_inbox_post (ticket->home, resume_ticket, ticket_free, ticket);
}

gboolean
kt_http_direct_ticket_dropped (KtHttpTicket *ticket)
{
  return kt_inbox_is_closed (ticket->home);
}

void
kt_http_direct_answer (KtHttpTicket *ticket, const char *route, KtHttpShared *answer)
{
  ticket->route = route;
  ticket->answer = *answer;
  *answer = (KtHttpShared) { 0 };
  kt_http_direct_retry (ticket);
}

/* Back on the connection's thread. */
static void
resume_ticket (gpointer data)
{
  KtHttpTicket *ticket = data;
  KtHttpDirect *direct = ticket->direct;
  Connection *conn = ticket->conn;
  conn->prepared_route = ticket->route;
  conn->prepared = ticket->answer;
  ticket->answer = (KtHttpShared) { 0 };
  ticket_free (ticket);
  conn->retried = TRUE;
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = conn };
  if (epoll_ctl (direct->epoll_fd, EPOLL_CTL_ADD, conn->fd, &ev) != 0) {
    connection_free (direct, conn);
    return;
  }
  on_readable (direct, conn);
}

static void
park (KtHttpDirect *direct, Connection *conn, const KtHttpPrepare *prepare)
{
  epoll_ctl (direct->epoll_fd, EPOLL_CTL_DEL, conn->fd, NULL);
  conn->started_us = g_get_monotonic_time ();
  KtHttpTicket *ticket = g_new0 (KtHttpTicket, 1);
  *ticket = (KtHttpTicket) { direct, conn, kt_inbox_ref (direct->home), *prepare };
  kt_inbox_post (direct->main, run_ticket, ticket_free, ticket);
}

static gboolean resume_accepting (gpointer data);

static void
on_acceptable (KtHttpDirect *direct, Listener *listener)
{
  int fd = g_socket_get_fd (listener->socket);
  for (guint i = 0; i < ACCEPTS_PER_EVENT; i++) {
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof peer;
    int client = accept4 (fd, (struct sockaddr *) &peer, &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        /* Said once a minute per thread: every listener meets it. */
        gint64 now_us = g_get_monotonic_time ();
        if (direct->warned_us == 0 || now_us - direct->warned_us > 60 * G_USEC_PER_SEC) {
          direct->warned_us = now_us;
          g_warning ("cannot accept connections: %s; accepting pauses %d ms at a time",
                     g_strerror (errno), ACCEPT_PAUSE_MS);
        }
        epoll_ctl (direct->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
        GSource *pause = g_timeout_source_new (ACCEPT_PAUSE_MS);
        g_source_set_callback (pause, resume_accepting, listener, NULL);
        g_source_attach (pause, direct->context);
        g_source_unref (pause);
      }
      return; /* EAGAIN: none left; others (a client gone already): next event */
    }
    int one = 1;
    setsockopt (client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Connection *conn = g_new0 (Connection, 1);
    conn->kind = KIND_CONNECTION;
    conn->fd = client;
    conn->peer = peer;
    conn->peer_len = peer_len;
    /* As libsoup writes it (g_inet_address_to_string is inet_ntop). */
    if (peer.ss_family == AF_INET)
      inet_ntop (AF_INET, &((struct sockaddr_in *) &peer)->sin_addr, conn->host, sizeof conn->host);
    else if (peer.ss_family == AF_INET6)
      inet_ntop (AF_INET6, &((struct sockaddr_in6 *) &peer)->sin6_addr, conn->host,
                 sizeof conn->host);
    g_hash_table_add (direct->connections, conn);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = conn };
    if (epoll_ctl (direct->epoll_fd, EPOLL_CTL_ADD, client, &ev) != 0)
      connection_free (direct, conn);
  }
}

static void
watch_listener (KtHttpDirect *direct, Listener *listener)
{
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = listener };
  epoll_ctl (direct->epoll_fd, EPOLL_CTL_ADD, g_socket_get_fd (listener->socket), &ev);
}

static gboolean
resume_accepting (gpointer data)
{
  Listener *listener = data;
  watch_listener (listener->direct, listener);
  return G_SOURCE_REMOVE;
}

static gboolean
on_events (gint fd, GIOCondition condition, gpointer data)
{
  KtHttpDirect *direct = data;
  struct epoll_event events[EVENTS_MAX];
  int n = epoll_wait (direct->epoll_fd, events, EVENTS_MAX, 0);
  for (int i = 0; i < n; i++) {
    Kind kind = *(Kind *) events[i].data.ptr;
    if (kind == KIND_LISTENER) {
      on_acceptable (direct, events[i].data.ptr);
      continue;
    }
    Connection *conn = events[i].data.ptr;
    if (conn->writing)
      write_more (direct, conn);
    else
      on_readable (direct, conn);
  }
  return G_SOURCE_CONTINUE;
}

static void
listener_free (gpointer data)
{
  Listener *listener = data;
  g_socket_close (listener->socket, NULL);
  g_object_unref (listener->socket);
  g_free (listener);
}

/* A listener for @server that no client can reach (see the top). */
static gboolean
listen_unreachable (SoupServer *server, GError **error)
{
  g_autofree char *dir = g_dir_make_tmp ("ketang-XXXXXX", error);
  if (dir == NULL)
    return FALSE;
  g_autofree char *path = g_build_filename (dir, "s", NULL);
  g_autoptr (GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr (GSocket) sock
      = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, error);
  gboolean ok = sock != NULL && g_socket_bind (sock, address, FALSE, error) &&
                g_socket_listen (sock, error);
  g_unlink (path);
  g_rmdir (dir);
  return ok && soup_server_listen_socket (server, sock, 0, error);
}

KtHttpDirect *
kt_http_direct_new (const KtHttpDirectHooks *hooks, GMainContext *context, SoupServer *server,
                    KtInbox *home, KtInbox *main, GError **error)
{
  g_main_context_push_thread_default (context);
  gboolean ok = listen_unreachable (server, error);
  g_main_context_pop_thread_default (context);
  if (!ok)
    return NULL;
  if (socket_quark == 0)
    socket_quark = g_quark_from_static_string ("kt-http-direct-socket");
  KtHttpDirect *direct = g_new0 (KtHttpDirect, 1);
  direct->hooks = *hooks;
  direct->server = server;
  direct->context = context;
  direct->home = kt_inbox_ref (home);
  direct->main = kt_inbox_ref (main);
  direct->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  if (direct->epoll_fd < 0)
    g_error ("epoll_create1: %s", g_strerror (errno));
  direct->listeners = g_ptr_array_new_with_free_func (listener_free);
  direct->connections = g_hash_table_new (NULL, NULL);
  direct->source = g_unix_fd_source_new (direct->epoll_fd, G_IO_IN);
  g_source_set_callback (direct->source, G_SOURCE_FUNC (on_events), direct, NULL);
  g_source_attach (direct->source, context);
  return direct;
}

void
kt_http_direct_add_listener (KtHttpDirect *direct, GSocket *listener)
{
  Listener *l = g_new0 (Listener, 1);
  l->kind = KIND_LISTENER;
  l->direct = direct;
  l->socket = g_object_ref (listener);
  g_ptr_array_add (direct->listeners, l);
  watch_listener (direct, l);
}

void
kt_http_direct_free (KtHttpDirect *direct)
{
  if (direct == NULL)
    return;
  g_source_destroy (direct->source);
  g_source_unref (direct->source);
  GList *connections = g_hash_table_get_keys (direct->connections);
  for (GList *l = connections; l != NULL; l = l->next)
    connection_free (direct, l->data);
  g_list_free (connections);
  g_hash_table_unref (direct->connections);
  g_ptr_array_unref (direct->listeners);
  kt_inbox_unref (direct->home);
  kt_inbox_unref (direct->main);
  close (direct->epoll_fd);
  g_free (direct);
}
