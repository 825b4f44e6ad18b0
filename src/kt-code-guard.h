#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Throttles guessing of viewing points' 6-digit codes (kt-code-guard.c). */
typedef struct _KtCodeGuard KtCodeGuard;

KtCodeGuard *kt_code_guard_new (guint max_failures /* per client before it waits */,
                                guint failures_per_hour /* for all clients together */);
void kt_code_guard_free (KtCodeGuard *guard);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtCodeGuard, kt_code_guard_free)

/* May @client (an address) try a code at @now_us? FALSE and the seconds to
 * wait in *@retry_after_s when it, or everybody, has guessed wrong too
 * often. */
gboolean kt_code_guard_allow (KtCodeGuard *guard, const char *client, gint64 now_us,
                              gint64 *retry_after_s);
/* The outcome of a try that was allowed. */
void kt_code_guard_failed (KtCodeGuard *guard, const char *client, gint64 now_us);
void kt_code_guard_succeeded (KtCodeGuard *guard, const char *client);

G_END_DECLS
