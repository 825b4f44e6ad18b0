/* kt-pipeline: GStreamer graphs as data.
 *
 * Every media graph ketang runs lives in pipelines/<name>.pipeline as a
 * gst-launch description, so that an operator can read, tune (encoder
 * presets, bitrates) or swap an element without touching C. The code only
 * fills in values: a file location, a frame count, a title. That is the one
 * place where outside text (a lesson title, an upload's path) meets a
 * language with its own syntax, so substitution is deliberately narrow:
 *
 *  - a placeholder is ${name} and must sit inside a double-quoted string in
 *    the template, so a value can never end one property and start another
 *    element ("x ! filesink location=/etc/passwd");
 *  - only names the caller lists are allowed (the whitelist), anything else
 *    in the template is an error at load time, not a silent empty string;
 *  - values are escaped (\" and \\) and control characters are refused.
 *
 * After parsing, the caller's list of required element names is checked, the
 * way gst-rtsp-server insists on pay%d: a template edited into a shape the
 * code cannot drive fails loudly at build time, not halfway through a lesson.
 */
#define G_LOG_DOMAIN "kt-pipeline"

#include "kt-pipeline.h"

G_DEFINE_QUARK (kt-pipeline-error-quark, kt_pipeline_error)

static const char *
lookup_var (const char *const *vars, const char *name, gsize len)
{
  for (int i = 0; vars && vars[i] && vars[i + 1]; i += 2)
    if (strlen (vars[i]) == len && strncmp (vars[i], name, len) == 0)
      return vars[i + 1];
  return NULL;
}

char *
kt_pipeline_render (const char *text, const char *origin, const char *const *vars,
                    GError **error)
{
  g_autoptr (GString) out = g_string_new (NULL);
  int line = 1;
  gboolean in_quotes = FALSE;
  gboolean line_start = TRUE;

  for (const char *p = text; *p; p++) {
    if (line_start) {
      const char *q = p;
      while (*q == ' ' || *q == '\t')
        q++;
      if (*q == '#') { /* a comment line */
        while (*q && *q != '\n')
          q++;
        p = q;
        if (*p == '\0')
          break;
      }
    }
    line_start = FALSE;
    if (*p == '\n') {
      line++;
      line_start = TRUE;
      g_string_append_c (out, ' ');
      continue;
    }
    if (*p == '\\' && in_quotes && p[1]) {
      g_string_append_c (out, *p++);
      g_string_append_c (out, *p);
      continue;
    }
    if (*p == '"') {
      in_quotes = !in_quotes;
      g_string_append_c (out, *p);
      continue;
    }
    if (p[0] == '$' && p[1] == '{') {
      const char *name = p + 2;
      const char *end = strchr (name, '}');
      if (end == NULL) {
        g_set_error (error, KT_PIPELINE_ERROR, KT_PIPELINE_ERROR_TEMPLATE,
                     "%s:%d: unterminated ${", origin, line);
        return NULL;
      }
      g_autofree char *var = g_strndup (name, end - name);
      if (!in_quotes) {
        g_set_error (error, KT_PIPELINE_ERROR, KT_PIPELINE_ERROR_TEMPLATE,
                     "%s:%d: ${%s} must be inside double quotes", origin, line, var);
        return NULL;
      }
      const char *value = lookup_var (vars, name, end - name);
      if (value == NULL) {
        g_set_error (error, KT_PIPELINE_ERROR, KT_PIPELINE_ERROR_TEMPLATE,
                     "%s:%d: unknown variable ${%s}", origin, line, var);
        return NULL;
      }
      for (const char *v = value; *v; v++) {
        if ((guchar) *v < 0x20 || *v == 0x7f) {
          g_set_error (error, KT_PIPELINE_ERROR, KT_PIPELINE_ERROR_VALUE,
                       "%s:%d: value of ${%s} has a control character", origin, line, var);
          return NULL;
        }
        if (*v == '"' || *v == '\\')
          g_string_append_c (out, '\\');
        g_string_append_c (out, *v);
      }
      p = end;
      continue;
    }
    g_string_append_c (out, *p);
  }
  if (in_quotes) {
    g_set_error (error, KT_PIPELINE_ERROR, KT_PIPELINE_ERROR_TEMPLATE,
                 "%s: unterminated quoted string", origin);
    return NULL;
  }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

GstElement *
kt_pipeline_build (const char *dir, const char *name, const char *const *vars,
                   const char *const *required, GError **error)
{
  const char *names[] = { name, NULL };
  return kt_pipeline_build_parts (dir, names, vars, required, error);
}

/* Parts are rendered one by one (a placeholder cannot span two files) and
 * joined into one description, so a part may link to an element another
 * part names ("video_in"): what the live heads share is written once. */
GstElement *
kt_pipeline_build_parts (const char *dir, const char *const *names, const char *const *vars,
                         const char *const *required, GError **error)
{
  g_autoptr (GString) desc = g_string_new (NULL);
  g_autofree char *origin = NULL;
  g_autoptr (GError) local = NULL;

  for (int i = 0; names[i]; i++) {
    g_autofree char *file = g_strdup_printf ("%s.pipeline", names[i]);
    g_autofree char *path = g_build_filename (dir, file, NULL);
    g_autofree char *text = NULL;
    if (!g_file_get_contents (path, &text, NULL, &local)) {
      g_set_error (error, KT_PIPELINE_ERROR, KT_PIPELINE_ERROR_TEMPLATE, "%s", local->message);
      return NULL;
    }
    g_autofree char *part = kt_pipeline_render (text, path, vars, error);
    if (part == NULL)
      return NULL;
    g_string_append (desc, part);
    g_string_append_c (desc, '\n');
    if (origin == NULL) {
      origin = g_steal_pointer (&path);
    } else {
      char *both = g_strconcat (origin, " + ", file, NULL);
      g_free (origin);
      origin = both;
    }
  }

  GstElement *pipeline =
      gst_parse_launch_full (desc->str, NULL, GST_PARSE_FLAG_FATAL_ERRORS, &local);
  if (pipeline == NULL) {
    g_set_error (error, KT_PIPELINE_ERROR, KT_PIPELINE_ERROR_PARSE, "%s: %s", origin,
                 local->message);
    return NULL;
  }
  for (int i = 0; required && required[i]; i++) {
    g_autoptr (GstElement) e = gst_bin_get_by_name (GST_BIN (pipeline), required[i]);
    if (e == NULL) {
      g_set_error (error, KT_PIPELINE_ERROR, KT_PIPELINE_ERROR_ELEMENT,
                   "%s: no element named “%s”", origin, required[i]);
      gst_object_unref (pipeline);
      return NULL;
    }
  }
  g_debug ("built pipeline=%s", origin);
  return pipeline;
}
