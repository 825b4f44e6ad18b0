/* kt-inbox: handing work to the thread that runs a GMainContext.
 *
 * The HTTP serving threads give the main thread every request they do not
 * answer themselves, and the main thread gives each answer back to the
 * thread that owns its connection (kt-http-threads.c). Under a crowd that
 * is tens of thousands of hand-overs a second. g_main_context_invoke()
 * would attach one idle source per hand-over, and GLib's main loop walks
 * every attached source on every iteration, so a backlog would slow the
 * very loop that has to clear it. An inbox is one queue and at most one
 * idle source: the first post into an empty queue attaches it, and its one
 * dispatch takes everything queued so far, in order.
 *
 * Closing is for shutdown: a serving thread that stopped will never run its
 * context again, so work posted to it (an answer finished after the stop)
 * is dropped on the poster's thread instead, which releases what it holds.
 */
#include "kt-inbox.h"

typedef struct {
  KtInboxFunc run;
  KtInboxFunc drop;
  gpointer data;
} KtLetter;

struct _KtInbox {
  gint refs;
  GMutex lock;
  GMainContext *context;
  GQueue letters; /* KtLetter* (owned) */
  GSource *pending; /* the idle source that will take the letters, or NULL */
  gboolean closed;
};

KtInbox *
kt_inbox_new (GMainContext *context)
{
  KtInbox *inbox = g_new0 (KtInbox, 1);
  inbox->refs = 1;
  g_mutex_init (&inbox->lock);
  inbox->context = g_main_context_ref (context);
  g_queue_init (&inbox->letters);
  return inbox;
}

KtInbox *
kt_inbox_ref (KtInbox *inbox)
{
  g_atomic_int_inc (&inbox->refs);
  return inbox;
}

static void
drop_all (GQueue *letters)
{
  KtLetter *letter;
  while ((letter = g_queue_pop_head (letters)) != NULL) {
    letter->drop (letter->data);
    g_free (letter);
  }
}

void
kt_inbox_unref (KtInbox *inbox)
{
  if (inbox == NULL || !g_atomic_int_dec_and_test (&inbox->refs))
    return;
  drop_all (&inbox->letters);
  g_main_context_unref (inbox->context);
  g_mutex_clear (&inbox->lock);
  g_free (inbox);
}

static gboolean
deliver (gpointer data)
{
  KtInbox *inbox = data;
  GQueue batch = G_QUEUE_INIT;
  g_mutex_lock (&inbox->lock);
  batch = inbox->letters;
  g_queue_init (&inbox->letters);
  g_clear_pointer (&inbox->pending, g_source_unref);
  g_mutex_unlock (&inbox->lock);

  KtLetter *letter;
  while ((letter = g_queue_pop_head (&batch)) != NULL) {
    letter->run (letter->data);
    g_free (letter);
  }
  return G_SOURCE_REMOVE;
}

void
kt_inbox_post (KtInbox *inbox, KtInboxFunc run, KtInboxFunc drop, gpointer data)
{
  g_mutex_lock (&inbox->lock);
  if (inbox->closed) {
    g_mutex_unlock (&inbox->lock);
    drop (data);
    return;
  }
  KtLetter *letter = g_new (KtLetter, 1);
  *letter = (KtLetter) { run, drop, data };
  g_queue_push_tail (&inbox->letters, letter);
  if (inbox->pending == NULL) {
    inbox->pending = g_idle_source_new ();
    g_source_set_priority (inbox->pending, G_PRIORITY_DEFAULT);
    g_source_set_static_name (inbox->pending, "kt-inbox");
    g_source_set_callback (inbox->pending, deliver, kt_inbox_ref (inbox),
                           (GDestroyNotify) kt_inbox_unref);
    g_source_attach (inbox->pending, inbox->context);
  }
  g_mutex_unlock (&inbox->lock);
}

gboolean
kt_inbox_is_closed (KtInbox *inbox)
{
  g_mutex_lock (&inbox->lock);
  gboolean closed = inbox->closed;
  g_mutex_unlock (&inbox->lock);
  return closed;
}

void
kt_inbox_close (KtInbox *inbox)
{
  GQueue waiting = G_QUEUE_INIT;
  GSource *pending;
  g_mutex_lock (&inbox->lock);
  inbox->closed = TRUE;
  waiting = inbox->letters;
  g_queue_init (&inbox->letters);
  pending = g_steal_pointer (&inbox->pending);
  g_mutex_unlock (&inbox->lock);
  if (pending != NULL) {
    g_source_destroy (pending);
    g_source_unref (pending);
  }
  drop_all (&waiting);
}
