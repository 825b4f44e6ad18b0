/* kt-http-static: the web pages (web/ at /) and the npm packages they use
 * (/vendor/hls.min.js, qrcode.js and chart.umd.min.js from node_modules).
 *
 * Paths arrive as checked segments (kt-http refuses "..", encoded slashes and
 * the like). This file still resolves the result with realpath() and refuses
 * any file whose real location is outside the directory it serves, so a
 * symlink placed in web/ cannot expose the rest of the disk.
 *
 * Pages change when ketang is upgraded, not per request: they are sent with
 * an ETag (size and modification time) and "no-cache", so a browser
 * revalidates cheaply and an old TV browser never keeps a stale player.
 */
#define G_LOG_DOMAIN "kt-http"

#include "kt-http.h"

#include <glib/gstdio.h>
#include <stdlib.h>

static const struct {
  const char *suffix;
  const char *type;
} content_types[] = {
  { ".html", "text/html; charset=utf-8" },
  { ".css", "text/css; charset=utf-8" },
  { ".js", "text/javascript; charset=utf-8" },
  { ".mjs", "text/javascript; charset=utf-8" },
  { ".json", "application/json; charset=utf-8" },
  { ".webmanifest", "application/manifest+json" },
  { ".svg", "image/svg+xml" },
  { ".png", "image/png" },
  { ".jpg", "image/jpeg" },
  { ".ico", "image/x-icon" },
  { ".woff2", "font/woff2" },
  { ".txt", "text/plain; charset=utf-8" },
  { ".m3u8", "application/vnd.apple.mpegurl" },
  { ".ts", "video/mp2t" },
};

static const char *
content_type_for (const char *path)
{
  for (guint i = 0; i < G_N_ELEMENTS (content_types); i++)
    if (g_str_has_suffix (path, content_types[i].suffix))
      return content_types[i].type;
  return "application/octet-stream";
}

void
kt_http_serve_file (SoupServerMessage *msg, const char *root, const char *const *parts,
            const char *cache_control)
{
  g_autofree char *real_root = realpath (root, NULL);
  if (real_root == NULL) {
    kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such file");
    return;
  }
  g_autoptr (GPtrArray) elements = g_ptr_array_new ();
  g_ptr_array_add (elements, real_root);
  for (int i = 0; parts[i]; i++)
    g_ptr_array_add (elements, (gpointer) parts[i]);
  g_ptr_array_add (elements, NULL);
  g_autofree char *joined = g_build_filenamev ((char **) elements->pdata);
  g_autofree char *real = realpath (joined, NULL);

  if (real != NULL && g_file_test (real, G_FILE_TEST_IS_DIR)) {
    g_autofree char *index = g_build_filename (real, "index.html", NULL);
    g_free (real);
    real = realpath (index, NULL);
  }
  gsize root_len = strlen (real_root);
  if (real == NULL || strncmp (real, real_root, root_len) != 0 || real[root_len] != '/') {
    kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such file");
    return;
  }
  GStatBuf st;
  if (g_stat (real, &st) != 0 || !S_ISREG (st.st_mode)) {
    kt_http_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such file");
    return;
  }

  g_autofree char *etag = g_strdup_printf ("\"%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT "\"",
                                           (gint64) st.st_size, (gint64) st.st_mtime);
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (resp, "ETag", etag);
  const char *if_none_match = soup_message_headers_get_one (req, "If-None-Match");
  if (if_none_match != NULL && g_str_equal (if_none_match, etag)) {
    soup_message_headers_replace (resp, "Cache-Control", cache_control);
    soup_server_message_set_status (msg, SOUP_STATUS_NOT_MODIFIED, NULL);
    return;
  }

  g_autoptr (GError) error = NULL;
  g_autoptr (GMappedFile) mapped = g_mapped_file_new (real, FALSE, &error);
  if (mapped == NULL) {
    kt_http_error_from_gerror (msg, error);
    return;
  }
  g_autoptr (GBytes) bytes = g_mapped_file_get_bytes (mapped);
  kt_http_bytes (msg, bytes, content_type_for (real), cache_control);
}

void
kt_http_static_handle (KtApp *app, KtRequest *request)
{
  const char *root = kt_config_get_string (kt_app_config (app), "server", "web_dir");
  kt_http_serve_file (request->msg, root, request->parts, "no-cache");
}

/* /vendor/<file>: the browser packages npm installed, by an explicit list so
 * node_modules is not served wholesale. */
void
kt_http_vendor_handle (KtApp *app, KtRequest *request)
{
  static const struct {
    const char *name;
    const char *path; /* under node_modules */
  } vendor_files[] = {
    { "hls.min.js", "hls.js/dist/hls.min.js" },
    { "qrcode.js", "qrcode-generator/dist/qrcode.js" },
    { "chart.umd.min.js", "chart.js/dist/chart.umd.min.js" },
  };
  const char *root = kt_config_get_string (kt_app_config (app), "server", "node_modules_dir");

  for (guint i = 0; request->n_parts == 1 && i < G_N_ELEMENTS (vendor_files); i++) {
    if (!g_str_equal (request->parts[0], vendor_files[i].name))
      continue;
    g_auto (GStrv) parts = g_strsplit (vendor_files[i].path, "/", -1);
    kt_http_serve_file (request->msg, root, (const char *const *) parts, "public, max-age=86400");
    return;
  }
  kt_http_error (request->msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such file");
}
