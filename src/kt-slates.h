#pragma once

#include <glib.h>

#include "kt-library.h"

G_BEGIN_DECLS

/* Every slate is this many segments long, so a gap of any length is a loop of
 * it and the discontinuities in a gap depend only on the gap's length. */
#define KT_SLATE_SEGMENTS 5

/* Slates: still cards in the house format, one per distinct text, made on
 * demand (one at a time) and kept in the library. */
typedef struct _KtSlates KtSlates;

typedef void (*KtSlateReady) (KtSlates *slates, gpointer user_data);

KtSlates *kt_slates_new (KtLibrary *library /* borrowed */);
void kt_slates_free (KtSlates *slates);
/* Called on the main context after each slate is made. */
void kt_slates_set_ready_callback (KtSlates *slates, KtSlateReady ready, gpointer user_data);

/* The item id of the slate showing @line1…@line3 when it is ready, else
 * NULL after queueing its making. (transfer full) */
char *kt_slates_get (KtSlates *slates, const char *line1, const char *line2, const char *line3);
/* Start queued slates if the library is idle (call when any job ends). */
void kt_slates_resume (KtSlates *slates);
/* Slates queued or being made. */
guint kt_slates_pending (KtSlates *slates);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtSlates, kt_slates_free)

G_END_DECLS
