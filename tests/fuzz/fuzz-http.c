/* libFuzzer target: whole HTTP requests, sent over a real socket to the
 * real server (every route, its auth check, every JSON body parser, the
 * upload protocol's headers, range and path handling). The server runs on
 * this thread's main context with an empty data directory, started once.
 *
 * So that the fuzzer reaches past the login wall, "@COOKIE@" and "@CSRF@"
 * in an input are replaced by an administrator's session cookie and CSRF
 * token (seeds in tests/fuzz/corpus/http use them). A request may get any
 * status; what must never happen is a crash, a sanitizer report, or a
 * server that stops answering: after each input /healthz must still say
 * 200. */
#include "kt-app.h"
#include "kt-clock.h"
#include "test-utils.h"

#include <gst/gst.h>
#include <string.h>

static KtApp *app;
static KtTestSession admin;

static char *
replace_all (const char *text, gsize len, const char *what, const char *with, gsize *out_len)
{
  GString *out = g_string_sized_new (len);
  gsize wlen = strlen (what);
  for (gsize i = 0; i < len;) {
    if (i + wlen <= len && memcmp (text + i, what, wlen) == 0) {
      g_string_append (out, with);
      i += wlen;
    } else {
      g_string_append_c (out, text[i++]);
    }
  }
  *out_len = out->len;
  return g_string_free (out, FALSE);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  gst_init (NULL, NULL);
  g_log_set_writer_func (g_log_writer_default, NULL, NULL);
  g_setenv ("G_MESSAGES_DEBUG", "", TRUE);
  /* Warnings are the server reporting bad input, which is its job. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK);
  char *data_dir = kt_test_mkdtemp ();
  const char *settings[] = { "upload.max_mb=1", NULL };
  app = kt_test_app_start (data_dir, FALSE, settings);
  kt_test_session_open (app, "admin", "admin", &admin);
  return 0;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  gsize len1, len2;
  g_autofree char *step = replace_all ((const char *) data, size, "@COOKIE@", admin.cookie, &len1);
  g_autofree char *request = replace_all (step, len1, "@CSRF@", admin.csrf, &len2);
  kt_test_raw_exchange_len (app, request, len2);
  g_assert_cmpuint (kt_test_raw_status (app, "GET /healthz HTTP/1.1"), ==, 200);
  return 0;
}
