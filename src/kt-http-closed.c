/* kt-http-closed: letting go of keep-alive connections their clients closed.
 *
 * libsoup 3.2 (Debian 12 ships 3.2.3) never closes a server connection
 * whose client hangs up while it is idle between two requests. After a
 * keep-alive response it makes the next message and waits for bytes; when
 * the client's FIN comes instead, that message has no completion handler yet
 * (libsoup attaches one only once the first byte of a request has been
 * read), so nobody disconnects: the socket stays in CLOSE-WAIT and its
 * SoupServerConnection stays in the server's list for the life of the
 * process. Each costs a descriptor and about 2 kB (measured with a
 * ten-line SoupServer and 5,000 connections). Browsers, VLC and nginx close
 * idle connections all the time, so an unattended server would run out of
 * descriptors within days. libsoup 3.3 fixed this upstream ("server: do not
 * leak idle connections closed by the client", d20c6601).
 *
 * The workaround keeps libsoup's own accept, TLS and keep-alive, and makes
 * it see one byte where it would see that EOF. GTcpConnection's
 * get_input_stream is wrapped once for the process, so the connections
 * libsoup makes for accepted sockets hand it an input stream that passes
 * every read through unchanged except one: an end of stream right after a
 * response was finished (kt_http_closed_mark_idle, called from the server's
 * request-finished signal) reads as a single "X".
 * libsoup then starts a request, attaches its completion handler, meets the
 * end of stream in the middle of a request line, and closes the connection
 * the ordinary way (test-abuse counts descriptors after clients hang up).
 *
 * The byte can only ever follow complete requests: a connection is marked
 * idle when a response is finished and unmarked by any byte read after
 * that, so an end of stream in the middle of a request or a body is passed
 * through as it was. Client connections (SoupSession in the same process)
 * are never marked and behave exactly as GTcpConnection. Over TLS the byte
 * lands under the TLS layer and reads as a broken record, so TLS
 * connections keep the leak; behind the nginx edge, or on plain HTTP, there
 * is none. */
#define G_LOG_DOMAIN "kt-http"

#include "kt-http.h"

#include <gio/gio.h>

/* The input stream: a pollable pass-through over the socket's own. */

typedef struct {
  GInputStream parent;
  GInputStream *base; /* the GSocketInputStream, owned */
  GSocket *socket;    /* its socket, owned: the stream is found through it */
  gboolean idle;      /* a response was finished and nothing read since */
} KtClosedInputStream;

typedef struct {
  GInputStreamClass parent_class;
} KtClosedInputStreamClass;

static GType kt_closed_input_stream_get_type (void);
static void kt_closed_input_stream_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_TYPE_WITH_CODE (KtClosedInputStream, kt_closed_input_stream, G_TYPE_INPUT_STREAM,
                         G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                kt_closed_input_stream_pollable_init))

static const char idle_eof_byte = 'X';

/* What a read of @n bytes from the socket becomes. */
static gssize
pass (KtClosedInputStream *self, void *buffer, gsize count, gssize n)
{
  if (n > 0) {
    self->idle = FALSE;
  } else if (n == 0 && self->idle && count > 0) {
    self->idle = FALSE;
    *(char *) buffer = idle_eof_byte;
    return 1;
  }
  return n;
}

static gssize
closed_read (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable,
             GError **error)
{
  KtClosedInputStream *self = (KtClosedInputStream *) stream;
  return pass (self, buffer, count, g_input_stream_read (self->base, buffer, count, cancellable, error));
}

static gssize
closed_read_nonblocking (GPollableInputStream *stream, void *buffer, gsize count, GError **error)
{
  KtClosedInputStream *self = (KtClosedInputStream *) stream;
  return pass (self, buffer, count,
               g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (self->base),
                                                         buffer, count, NULL, error));
}

/* The socket is closed by its connection, not by this stream. */
static gboolean
closed_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  return TRUE;
}

static gboolean
closed_can_poll (GPollableInputStream *stream)
{
  return TRUE;
}

static gboolean
closed_is_readable (GPollableInputStream *stream)
{
  KtClosedInputStream *self = (KtClosedInputStream *) stream;
  return g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (self->base));
}

static GSource *
closed_create_source (GPollableInputStream *stream, GCancellable *cancellable)
{
  KtClosedInputStream *self = (KtClosedInputStream *) stream;
  /* Ready when the socket's stream is; callbacks get this stream. */
  g_autoptr (GSource) base
      = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (self->base), NULL);
  return g_pollable_source_new_full (stream, base, cancellable);
}

static void
kt_closed_input_stream_finalize (GObject *object)
{
  g_clear_object (&((KtClosedInputStream *) object)->base);
  g_clear_object (&((KtClosedInputStream *) object)->socket);
  G_OBJECT_CLASS (kt_closed_input_stream_parent_class)->finalize (object);
}

static void
kt_closed_input_stream_init (KtClosedInputStream *self)
{
}

static void
kt_closed_input_stream_class_init (KtClosedInputStreamClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = kt_closed_input_stream_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = closed_read;
  G_INPUT_STREAM_CLASS (klass)->close_fn = closed_close;
}

static void
kt_closed_input_stream_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = closed_can_poll;
  iface->is_readable = closed_is_readable;
  iface->create_source = closed_create_source;
  iface->read_nonblocking = closed_read_nonblocking;
}

/* The connection side: GTcpConnection's get_input_stream, wrapped. */

static GQuark input_quark; /* on the GSocket: its KtClosedInputStream (borrowed) */
static GQuark owner_quark; /* on the connection: the same stream (owned) */
static GInputStream *(*tcp_get_input_stream) (GIOStream *stream);

static void
closed_input_forget (gpointer data)
{
  KtClosedInputStream *input = data;
  g_object_set_qdata (G_OBJECT (input->socket), input_quark, NULL);
  g_object_unref (input);
}

static GInputStream *
closed_get_input_stream (GIOStream *io_stream)
{
  GInputStream *input = g_object_get_qdata (G_OBJECT (io_stream), owner_quark);
  if (input == NULL) {
    KtClosedInputStream *self = g_object_new (kt_closed_input_stream_get_type (), NULL);
    self->base = g_object_ref (tcp_get_input_stream (io_stream));
    self->socket = g_object_ref (g_socket_connection_get_socket (G_SOCKET_CONNECTION (io_stream)));
    g_object_set_qdata (G_OBJECT (self->socket), input_quark, self);
    g_object_set_qdata_full (G_OBJECT (io_stream), owner_quark, self, closed_input_forget);
    input = G_INPUT_STREAM (self);
  }
  return input;
}

void
kt_http_closed_install (void)
{
  static gsize done = 0;
  if (!g_once_init_enter (&done))
    return;
  input_quark = g_quark_from_static_string ("kt-http-closed-input");
  owner_quark = g_quark_from_static_string ("kt-http-closed-owner");
  /* GIO's socket connection factory cannot take a GTcpConnection subclass
   * for TCP (registering a key twice leaves a freed entry in its table), so
   * the class's own method is wrapped instead, once for the process. */
  GIOStreamClass *klass = g_type_class_ref (G_TYPE_TCP_CONNECTION);
  tcp_get_input_stream = klass->get_input_stream;
  klass->get_input_stream = closed_get_input_stream;
  g_once_init_leave (&done, 1);
}

void
kt_http_closed_mark_idle (SoupServerMessage *msg)
{
  GSocket *socket = kt_http_direct_message_socket (msg);
  KtClosedInputStream *input = socket ? g_object_get_qdata (G_OBJECT (socket), input_quark) : NULL;
  if (input != NULL)
    input->idle = TRUE;
}
