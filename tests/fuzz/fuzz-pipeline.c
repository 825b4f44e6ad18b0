/* libFuzzer target: pipeline template substitution, where outside text (a
 * lesson title, an upload's file name) meets gst-launch syntax. The input is
 * a template, a NUL, then a value for ${title}. Whatever the two hold, the
 * value must never leave its quotes: what lies outside quoted strings in the
 * output is the same as with an empty value. */
#include "kt-pipeline.h"

#include <string.h>

/* @text without its quoted strings (escapes inside them honoured). */
static char *
outside_quotes (const char *text)
{
  GString *out = g_string_new (NULL);
  gboolean in_quotes = FALSE;
  for (const char *p = text; *p; p++) {
    if (in_quotes && *p == '\\' && p[1])
      p++;
    else if (*p == '"')
      in_quotes = !in_quotes;
    else if (!in_quotes)
      g_string_append_c (out, *p);
  }
  return g_string_free (out, FALSE);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autofree char *input = g_malloc (size + 1);
  memcpy (input, data, size);
  input[size] = '\0';
  gsize template_len = strlen (input);
  const char *value = template_len < size ? input + template_len + 1 : "";

  const char *vars[] = { "title", value, NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *out = kt_pipeline_render (input, "fuzz", vars, &error);
  g_assert ((out != NULL) != (error != NULL));

  const char *empty_vars[] = { "title", "", NULL };
  g_autofree char *baseline = kt_pipeline_render (input, "fuzz", empty_vars, NULL);
  if (out != NULL && baseline != NULL) {
    g_autofree char *a = outside_quotes (out);
    g_autofree char *b = outside_quotes (baseline);
    g_assert_cmpstr (a, ==, b);
  }
  return 0;
}
