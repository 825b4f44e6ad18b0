/* libFuzzer target: the SRT stream id a publisher sends in the handshake
 * (kt_live_parse_streamid), then the publish key it carries, checked
 * against a real key table (kt_auth_publish_key_check on a SQLite file
 * holding one teacher's key). The caller chooses every byte of it, before
 * any login, so it must never crash, and no key but the teacher's real one
 * may ever be accepted. */
#include <glib/gstdio.h>

#include "kt-auth.h"
#include "kt-live.h"
#include "kt-store.h"

static KtAuth *auth;
static char *real_key;

static void
set_up (void)
{
  g_autofree char *dir = g_dir_make_tmp ("ketang-fuzz-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "ketang.db", NULL);
  g_autoptr (GError) error = NULL;
  KtStore *store = kt_store_open (path, &error); /* kept for the process's life */
  g_assert_no_error (error);
  auth = kt_auth_new (store, G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC, 5);
  g_autoptr (KtUser) teacher
      = kt_auth_user_add (auth, "li", NULL, KT_ROLE_TEACHER, "a password of some length", &error);
  g_assert_no_error (error);
  real_key = kt_auth_publish_key_rotate (auth, teacher, &error);
  g_assert_no_error (error);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  if (auth == NULL)
    set_up ();
  g_autofree char *streamid = g_strndup ((const char *) data, size);
  g_autofree char *input = NULL;
  g_autofree char *key = NULL;
  if (!kt_live_parse_streamid (streamid, &input, &key))
    return 0;
  g_assert_true (input != NULL && input[0] != '\0' && key != NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (KtUser) user = kt_auth_publish_key_check (auth, key, &error);
  g_assert_true ((user != NULL) != (error != NULL));
  if (user != NULL)
    g_assert_cmpstr (key, ==, real_key);
  return 0;
}
