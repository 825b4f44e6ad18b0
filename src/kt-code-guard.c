/* kt-code-guard: a 6-digit code must not be brute-forceable.
 *
 * A viewing point's short code (kt-viewpoint.c) is typed on a TV remote, so
 * it is short: one million values, of which a county uses a few hundred. A
 * guesser who found one could count as that room, or read its name and
 * channel. Two limits make guessing hopeless while leaving room for old
 * fingers that mistype:
 *
 *  - per client address: after [attendance] code_max_failures wrong codes
 *    the address waits 60 s, doubling with every further wrong code up to
 *    an hour (as logins do, kt-auth-session.c). A right code clears its
 *    record. That is about 30 guesses a day from one address.
 *  - for everybody together: at most [attendance] code_failures_per_hour
 *    wrong codes in a clock hour; past that, code lookups answer 429 until
 *    the hour is over, whoever asks. That bounds a guesser with many
 *    addresses: at 60 an hour, 1,440 guesses a day find a code of 500 in
 *    2,000 on average once in about a day and a half, and an administrator
 *    sees the warning in the log long before. Rooms that use their token
 *    (the kiosk URL, the QR code) are never affected.
 *
 * State is memory only: a restart forgets it, which costs a guesser a
 * restart of the server, not something they control. Entries of addresses
 * that stopped guessing are dropped after an hour, so the table stays small.
 * Behind a reverse proxy every client has the proxy's address; the global
 * limit still holds then.
 */
#define G_LOG_DOMAIN "kt-code-guard"

#include "kt-code-guard.h"

#define WAIT_FIRST_US (G_GINT64_CONSTANT (60) * G_USEC_PER_SEC)
#define WAIT_MAX_US (G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC)
#define HOUR_US (G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC)
#define PRUNE_ABOVE 4096 /* entries before stale ones are dropped */

typedef struct {
  guint failures;
  gint64 last_us; /* of the latest wrong code */
} Record;

struct _KtCodeGuard {
  guint max_failures;
  guint per_hour;
  GHashTable *clients; /* address → Record*, owned */
  gint64 hour_start_us;
  guint hour_failures;
};

KtCodeGuard *
kt_code_guard_new (guint max_failures, guint failures_per_hour)
{
  KtCodeGuard *guard = g_new0 (KtCodeGuard, 1);
  guard->max_failures = MAX (max_failures, 1);
  guard->per_hour = MAX (failures_per_hour, 1);
  guard->clients = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return guard;
}

void
kt_code_guard_free (KtCodeGuard *guard)
{
  if (guard == NULL)
    return;
  g_hash_table_destroy (guard->clients);
  g_free (guard);
}

/* When @r may try again: its last failure plus a wait that doubles with
 * each failure past the allowance. */
static gint64
free_at (const KtCodeGuard *guard, const Record *r)
{
  if (r->failures < guard->max_failures)
    return 0;
  guint over = MIN (r->failures - guard->max_failures, 16);
  return r->last_us + MIN (WAIT_FIRST_US << over, WAIT_MAX_US);
}

static void
roll_hour (KtCodeGuard *guard, gint64 now_us)
{
  gint64 hour = now_us - now_us % HOUR_US;
  if (hour != guard->hour_start_us) {
    guard->hour_start_us = hour;
    guard->hour_failures = 0;
  }
}

gboolean
kt_code_guard_allow (KtCodeGuard *guard, const char *client, gint64 now_us,
                     gint64 *retry_after_s)
{
  roll_hour (guard, now_us);
  gint64 until = 0;
  if (guard->hour_failures >= guard->per_hour)
    until = guard->hour_start_us + HOUR_US;
  Record *r = g_hash_table_lookup (guard->clients, client ? client : "");
  if (r != NULL)
    until = MAX (until, free_at (guard, r));
  if (until <= now_us)
    return TRUE;
  *retry_after_s = (until - now_us + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC;
  return FALSE;
}

static void
prune (KtCodeGuard *guard, gint64 now_us)
{
  GHashTableIter iter;
  Record *r;
  g_hash_table_iter_init (&iter, guard->clients);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &r))
    if (now_us - r->last_us > HOUR_US && free_at (guard, r) <= now_us)
      g_hash_table_iter_remove (&iter);
}

void
kt_code_guard_failed (KtCodeGuard *guard, const char *client, gint64 now_us)
{
  roll_hour (guard, now_us);
  if (++guard->hour_failures == guard->per_hour)
    g_warning ("too many wrong viewing point codes this hour (%u): codes refused until the hour "
               "is over", guard->per_hour);
  if (g_hash_table_size (guard->clients) > PRUNE_ABOVE)
    prune (guard, now_us);
  const char *key = client ? client : "";
  Record *r = g_hash_table_lookup (guard->clients, key);
  if (r == NULL) {
    r = g_new0 (Record, 1);
    g_hash_table_insert (guard->clients, g_strdup (key), r);
  }
  r->failures++;
  r->last_us = now_us;
  if (r->failures == guard->max_failures)
    g_info ("wrong viewing point codes client=%s failures=%u: throttled", key, r->failures);
}

void
kt_code_guard_succeeded (KtCodeGuard *guard, const char *client)
{
  g_hash_table_remove (guard->clients, client ? client : "");
}
