/* kt-wakeup: a serving thread does not wake itself (see kt-wakeup.c). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The wakeup descriptor of @fresh, a context nothing is attached to yet;
 * -1 if that cannot be told (then nothing is skipped). */
int kt_wakeup_fd (GMainContext *fresh);
/* On the thread that alone will poll the context whose wakeup is @fd:
 * its own writes to @fd are skipped from now on. -1: none. */
void kt_wakeup_skip_own (int fd);

G_END_DECLS
