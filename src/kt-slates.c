/* kt-slates: the cards a channel airs between lessons.
 *
 * A slate is an ordinary library item of kind "slate", made by
 * pipelines/slate.pipeline from three lines of text. Its id is a hash of the
 * text and the template, so each distinct card is rendered once, survives
 * restarts, and a changed template makes new cards. Every slate has the same
 * length (KT_SLATE_SEGMENTS), which keeps a channel's segment numbering
 * independent of which card happens to be ready.
 *
 * Making one costs a second or two of CPU, so slates are made one at a time
 * from a queue, in the order channels ask for them, and only while the
 * library runs no other job (the demo lesson, a normalization): airing what
 * exists comes before decorating gaps. While one is queued the channel
 * waits for it. A slate that failed to render is
 * not retried in a loop: it stays failed until the server restarts.
 */
#define G_LOG_DOMAIN "kt-slates"

#include "kt-slates.h"

typedef struct {
  char *id;
  char *lines[3];
} KtSlateRequest;

struct _KtSlates {
  KtLibrary *library;
  GQueue queue;          /* KtSlateRequest*, waiting */
  GHashTable *requested; /* id → TRUE: queued, making, or failed this run */
  char *making;          /* id being made, or NULL */
  KtSlateReady ready;
  gpointer ready_data;
};

static void
request_free (KtSlateRequest *r)
{
  g_free (r->id);
  for (int i = 0; i < 3; i++)
    g_free (r->lines[i]);
  g_free (r);
}

KtSlates *
kt_slates_new (KtLibrary *library)
{
  KtSlates *slates = g_new0 (KtSlates, 1);
  slates->library = library;
  g_queue_init (&slates->queue);
  slates->requested = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return slates;
}

void
kt_slates_free (KtSlates *slates)
{
  if (slates == NULL)
    return;
  g_queue_clear_full (&slates->queue, (GDestroyNotify) request_free);
  g_hash_table_destroy (slates->requested);
  g_free (slates->making);
  g_free (slates);
}

void
kt_slates_set_ready_callback (KtSlates *slates, KtSlateReady ready, gpointer user_data)
{
  slates->ready = ready;
  slates->ready_data = user_data;
}

guint
kt_slates_pending (KtSlates *slates)
{
  return slates->queue.length + (slates->making ? 1 : 0);
}

static void start_next (KtSlates *slates);

static void
on_made (KtLibrary *library, const char *item_id, const GError *error, gpointer user_data)
{
  KtSlates *slates = user_data;
  if (error)
    g_warning ("slate=%s could not be made: %s", item_id, error->message);
  g_clear_pointer (&slates->making, g_free);
  if (error == NULL && slates->ready)
    slates->ready (slates, slates->ready_data);
  start_next (slates);
}

static void
start_next (KtSlates *slates)
{
  while (slates->making == NULL && slates->queue.length > 0 &&
         kt_library_jobs_running (slates->library) == 0) {
    KtSlateRequest *r = g_queue_pop_head (&slates->queue);
    /* textoverlay reads Pango markup: a title with & or < must be escaped. */
    g_autofree char *l1 = g_markup_escape_text (r->lines[0], -1);
    g_autofree char *l2 = g_markup_escape_text (r->lines[1], -1);
    g_autofree char *l3 = g_markup_escape_text (r->lines[2], -1);
    const char *vars[] = { "line1", l1, "line2", l2, "line3", l3, NULL };
    KtItemRecipe recipe = { r->id, "slate", r->lines[1], "", "slate", vars, KT_SLATE_SEGMENTS };
    g_autoptr (GError) error = NULL;
    if (kt_library_make (slates->library, &recipe, on_made, slates, &error))
      slates->making = g_strdup (r->id);
    else
      g_warning ("slate=%s could not start: %s", r->id, error->message);
    request_free (r);
  }
}

void
kt_slates_resume (KtSlates *slates)
{
  start_next (slates);
}

char *
kt_slates_get (KtSlates *slates, const char *line1, const char *line2, const char *line3)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  const char *lines[3] = { line1, line2, line3 };
  for (int i = 0; i < 3; i++)
    g_checksum_update (sum, (const guchar *) lines[i], strlen (lines[i]) + 1);
  /* Version of the card's look: bump with pipelines/slate.pipeline changes. */
  g_checksum_update (sum, (const guchar *) "slate-v3", -1);
  g_autofree char *id = g_strdup_printf ("slate-%.16s", g_checksum_get_string (sum));

  g_autoptr (KtItem) item = kt_library_get (slates->library, id);
  if (item != NULL && item->state == KT_ITEM_READY && item->segment_count == KT_SLATE_SEGMENTS)
    return g_steal_pointer (&id);
  if (g_hash_table_contains (slates->requested, id))
    return NULL;

  g_hash_table_add (slates->requested, g_strdup (id));
  KtSlateRequest *r = g_new0 (KtSlateRequest, 1);
  r->id = g_strdup (id);
  for (int i = 0; i < 3; i++)
    r->lines[i] = g_strdup (lines[i]);
  g_queue_push_tail (&slates->queue, r);
  start_next (slates);
  return NULL;
}
