#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define KT_PIPELINE_ERROR (kt_pipeline_error_quark ())
GQuark kt_pipeline_error_quark (void);

typedef enum {
  KT_PIPELINE_ERROR_TEMPLATE, /* missing file, unquoted or unknown variable */
  KT_PIPELINE_ERROR_VALUE,    /* a value that cannot be substituted safely */
  KT_PIPELINE_ERROR_PARSE,    /* GStreamer refused the description */
  KT_PIPELINE_ERROR_ELEMENT,  /* a named element the code needs is missing */
} KtPipelineError;

/* Substitute ${name} placeholders in @text. @vars is a NULL-terminated list
 * of name, value pairs: the whitelist. Every placeholder must stand inside a
 * double-quoted string and name a listed variable; values are escaped so they
 * stay one quoted string whatever they contain. Lines starting with # are
 * comments. (transfer full) */
char *kt_pipeline_render (const char *text, const char *origin, const char *const *vars,
                          GError **error);

/* Load @dir/@name.pipeline, render it with @vars, parse it, and check that
 * every element named in the NULL-terminated @required exists. */
GstElement *kt_pipeline_build (const char *dir, const char *name, const char *const *vars,
                               const char *const *required, GError **error);

/* The same for several templates (NULL-terminated @names) joined into one
 * graph, each rendered with @vars: a part may link to elements another part
 * names. */
GstElement *kt_pipeline_build_parts (const char *dir, const char *const *names,
                                     const char *const *vars, const char *const *required,
                                     GError **error);

G_END_DECLS
