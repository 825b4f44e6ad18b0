/* Tests for kt-wakeup: a thread that polls a context alone does not signal
 * that context's wakeup itself, while any other thread's signal still
 * wakes it out of poll(). */
#include <glib-unix.h>
#include <poll.h>
#include <unistd.h>

#include "kt-wakeup.h"

/* Whether the wakeup descriptor is signalled, without waiting. */
static gboolean
signalled (int fd)
{
  struct pollfd p = { .fd = fd, .events = POLLIN };
  return poll (&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void
clear (int fd)
{
  guint64 value;
  while (signalled (fd))
    g_assert_cmpint (read (fd, &value, sizeof value), ==, sizeof value);
}

static gboolean
never (gint fd, GIOCondition condition, gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* A source that polls a descriptor: attaching it adds a poll record,
 * destroying it removes one, and GLib 2.74 signals the wakeup at each. */
static void
add_and_remove_descriptor (GMainContext *context, int pipe_read)
{
  GSource *source = g_unix_fd_source_new (pipe_read, G_IO_IN);
  g_source_set_callback (source, G_SOURCE_FUNC (never), NULL, NULL);
  g_source_attach (source, context);
  g_source_destroy (source);
  g_source_unref (source);
}

typedef struct {
  GMainContext *context;
  int wakeup_fd;
  int pipe_read;
  gboolean signalled_by_own;
} OwnCase;

static gpointer
own_thread (gpointer data)
{
  OwnCase *c = data;
  kt_wakeup_skip_own (c->wakeup_fd);
  g_assert_true (g_main_context_acquire (c->context));
  add_and_remove_descriptor (c->context, c->pipe_read);
  c->signalled_by_own = signalled (c->wakeup_fd);
  g_main_context_release (c->context);
  return NULL;
}

static void
test_own_changes_do_not_signal (void)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  int wakeup_fd = kt_wakeup_fd (context);
  g_assert_cmpint (wakeup_fd, >=, 0);
  int pipe_fds[2];
  g_assert_true (g_unix_open_pipe (pipe_fds, FD_CLOEXEC, NULL));
  clear (wakeup_fd);

  /* This thread did not register: its changes signal as GLib does. */
  add_and_remove_descriptor (context, pipe_fds[0]);
  g_assert_true (signalled (wakeup_fd));
  clear (wakeup_fd);

  /* The registered thread's own changes do not. */
  OwnCase c = { context, wakeup_fd, pipe_fds[0], TRUE };
  g_thread_join (g_thread_new ("own", own_thread, &c));
  g_assert_false (c.signalled_by_own);

  close (pipe_fds[0]);
  close (pipe_fds[1]);
}

typedef struct {
  GMainContext *context;
  GMainLoop *loop;
  int wakeup_fd;
  int pipe_read;
  int turns;
} LoopCase;

/* Run on the loop's own thread, as libsoup's callbacks are: each turn adds
 * and removes a descriptor, as a connection's wait does. */
static gboolean
churn (gpointer data)
{
  LoopCase *c = data;
  add_and_remove_descriptor (c->context, c->pipe_read);
  c->turns++;
  return G_SOURCE_REMOVE;
}

static gpointer
loop_thread (gpointer data)
{
  LoopCase *c = data;
  kt_wakeup_skip_own (c->wakeup_fd);
  g_main_context_push_thread_default (c->context);
  g_main_loop_run (c->loop);
  g_main_context_pop_thread_default (c->context);
  return NULL;
}

static gboolean
quit (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

/* Attached, not invoked: g_main_context_invoke would run it on this thread
 * whenever the loop's thread had not taken the context yet. */
static void
post (GMainContext *context, GSourceFunc func, gpointer data)
{
  GSource *idle = g_idle_source_new ();
  g_source_set_callback (idle, func, data, NULL);
  g_source_attach (idle, context);
  g_source_unref (idle);
}

static void
test_other_threads_still_wake_it (void)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (GMainLoop) loop = g_main_loop_new (context, FALSE);
  int pipe_fds[2];
  g_assert_true (g_unix_open_pipe (pipe_fds, FD_CLOEXEC, NULL));
  LoopCase c = { context, loop, kt_wakeup_fd (context), pipe_fds[0], 0 };
  GThread *thread = g_thread_new ("loop", loop_thread, &c);

  /* Each post comes from this thread while the loop may be in poll():
   * were it not woken, a turn would never run and the join below would
   * hang until the test's time limit. */
  for (int i = 0; i < 100; i++)
    post (context, churn, &c);
  post (context, quit, loop);
  g_thread_join (thread);
  g_assert_cmpint (c.turns, ==, 100);

  close (pipe_fds[0]);
  close (pipe_fds[1]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/wakeup/own-changes-do-not-signal", test_own_changes_do_not_signal);
  g_test_add_func ("/wakeup/other-threads-still-wake-it", test_other_threads_still_wake_it);
  return g_test_run ();
}
