#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Work handed to the thread that runs a GMainContext, in batches (see
 * kt-inbox.c). Thread-safe; reference-counted. */
typedef struct _KtInbox KtInbox;
typedef void (*KtInboxFunc) (gpointer data);

KtInbox *kt_inbox_new (GMainContext *context);
KtInbox *kt_inbox_ref (KtInbox *inbox);
void kt_inbox_unref (KtInbox *inbox);
/* Run @run (@data) on the inbox's context, soon; or, once the inbox is
 * closed, call @drop (@data) at once on the calling thread. */
void kt_inbox_post (KtInbox *inbox, KtInboxFunc run, KtInboxFunc drop, gpointer data);
/* Nothing more runs: what waits is dropped now, what comes later is
 * dropped as it comes. Call on the context's own thread, or once nothing
 * runs that context any more. */
void kt_inbox_close (KtInbox *inbox);
/* Whether kt_inbox_close was called. */
gboolean kt_inbox_is_closed (KtInbox *inbox);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtInbox, kt_inbox_unref)

G_END_DECLS
