/* kt-wakeup: a serving thread does not wake itself.
 *
 * GLib 2.74 (Debian 12's) signals a context's wakeup eventfd every time a
 * descriptor is added to or removed from the context's poll records, and
 * every time a source that has one is dispatched (blocked, then unblocked),
 * whichever thread does it. libsoup makes a new source each time a
 * connection waits to read or to write, so a keep-alive request costs the
 * thread that serves it about ten writes to its own eventfd, then one more
 * trip round its loop and a read to clear it (`strace -c -f` on the server
 * under bench/heartbeat-ingest.sh: 10 writes, 1 recv, 1 send a request). On
 * this kind of virtual machine each write is an interrupt-enable in the
 * kernel, and together they were the largest single cost of a request.
 *
 * The signal is there to break a thread out of poll(). A thread that is
 * running GLib code is by that very fact not in poll(); the only thread
 * that ever polls a serving context is its own (kt-http-threads.c), and
 * GLib re-reads the poll records before it polls again (poll_changed). So a
 * serving thread's write to its own context's eventfd can never wake
 * anyone, and is skipped. Writes from any other thread (the main thread
 * handing back an answer) and to any other descriptor go to the kernel as
 * before.
 *
 * The skip is a definition of write(2) in the executable, which the dynamic
 * linker prefers to libc's for every library's call; it forwards to libc's
 * own entry (__write) at once unless the descriptor is this thread's
 * registered one, a thread-local compare. The server and the test programs
 * both link it, so the tests serve the way the server does.
 * KETANG_WAKEUP_ALL=1 turns the skip off, to compare.
 */
#define G_LOG_DOMAIN "kt-wakeup"

#include "kt-wakeup.h"

#include <unistd.h>

static __thread int own_wakeup_fd = -1;

int
kt_wakeup_fd (GMainContext *fresh)
{
  /* A context with nothing attached has one poll record: its wakeup. */
  if (!g_main_context_acquire (fresh))
    return -1;
  gint timeout;
  GPollFD fds[2];
  gint n = g_main_context_query (fresh, G_MAXINT, &timeout, fds, G_N_ELEMENTS (fds));
  g_main_context_release (fresh);
  if (n != 1) {
    g_warning ("a new context polls %d descriptors, not one: its wakeups all kept", n);
    return -1;
  }
  return fds[0].fd;
}

void
kt_wakeup_skip_own (int fd)
{
  if (g_getenv ("KETANG_WAKEUP_ALL") == NULL)
    own_wakeup_fd = fd;
}

extern ssize_t __write (int fd, const void *buf, size_t count);

ssize_t
write (int fd, const void *buf, size_t count)
{
  if (G_UNLIKELY (fd == own_wakeup_fd) && count == sizeof (guint64))
    return (ssize_t)count; /* see the top of this file */
  return __write (fd, buf, count);
}
