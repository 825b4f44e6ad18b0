/* The resumable upload protocol over real HTTP: chunks with offsets the
 * server confirms, a wrong offset answered with the right one, a chunk cut
 * off mid-way leaving exactly what arrived, the size limit with a message a
 * teacher understands, and only the owner (or an administrator) seeing an
 * upload. */
#include <json-glib/json-glib.h>

#include "kt-upload.h"
#include "test-utils.h"

typedef struct {
  char *data_dir;
  KtApp *app;
  KtTestSession teacher;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer unused)
{
  f->data_dir = kt_test_mkdtemp ();
  const char *settings[] = { "upload.max_mb=1", NULL };
  f->app = kt_test_app_start (f->data_dir, FALSE, settings);
  kt_test_session_open (f->app, "wang", "teacher", &f->teacher);
}

static void
fixture_tear_down (Fixture *f, gconstpointer unused)
{
  kt_test_session_clear (&f->teacher);
  kt_app_free (f->app);
  kt_test_rmtree (f->data_dir);
  g_free (f->data_dir);
}

static char *
create (Fixture *f, const KtTestSession *as, gsize size)
{
  g_autofree char *body = g_strdup_printf ("{\"filename\": \"第一课.mp4\", \"title\": \"书法第一课\", "
                                           "\"size\": %" G_GSIZE_FORMAT "}", size);
  g_autoptr (KtTestResponse) r = kt_test_request_as (f->app, as, "POST", "/api/uploads",
                                                     "application/json", body);
  g_assert_cmpuint (r->status, ==, 201);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = kt_test_json_object (r, parser);
  g_assert_cmpint (json_object_get_int_member (o, "offset"), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (o, "state"), ==, "receiving");
  return g_strdup (json_object_get_string_member (o, "id"));
}

static KtTestResponse *
patch (Fixture *f, const char *id, gsize offset, const guint8 *data, gsize len)
{
  g_autofree char *path = g_strdup_printf ("/api/uploads/%s", id);
  g_autofree char *offset_text = g_strdup_printf ("%" G_GSIZE_FORMAT, offset);
  const char *headers[] = { "Cookie", f->teacher.cookie, "X-CSRF-Token", f->teacher.csrf,
                            "Upload-Offset", offset_text, NULL };
  return kt_test_request_bytes (f->app, "PATCH", path, headers, "application/offset+octet-stream",
                                data, len);
}

static gint64
offset_of (Fixture *f, const char *id)
{
  g_autofree char *path = g_strdup_printf ("/api/uploads/%s", id);
  g_autoptr (KtTestResponse) r = kt_test_request_as (f->app, &f->teacher, "GET", path, NULL, NULL);
  g_assert_cmpuint (r->status, ==, 200);
  g_autoptr (JsonParser) parser = json_parser_new ();
  return json_object_get_int_member (kt_test_json_object (r, parser), "offset");
}

static void
test_chunks_resume_and_complete (Fixture *f, gconstpointer unused)
{
  gsize size = 300 * 1000 + 17;
  g_autofree guint8 *data = g_malloc (size);
  for (gsize i = 0; i < size; i++)
    data[i] = g_random_int_range (0, 256);
  g_autofree char *id = create (f, &f->teacher, size);

  /* First chunk. */
  g_autoptr (KtTestResponse) a = patch (f, id, 0, data, 100000);
  g_assert_cmpuint (a->status, ==, 200);
  g_assert_cmpstr (soup_message_headers_get_one (a->headers, "Upload-Offset"), ==, "100000");

  /* A chunk at the wrong offset: 409 and the offset the server holds. */
  g_autoptr (KtTestResponse) wrong = patch (f, id, 50000, data + 50000, 1000);
  g_assert_cmpuint (wrong->status, ==, 409);
  g_assert_cmpstr (soup_message_headers_get_one (wrong->headers, "Upload-Offset"), ==, "100000");

  /* A chunk cut off by a dropped connection adds nothing half-made. */
  g_autofree char *line = g_strdup_printf ("PATCH /api/uploads/%s HTTP/1.1\r\nHost: x\r\nCookie: %s\r\n"
                                           "X-CSRF-Token: %s\r\nUpload-Offset: 100000\r\n"
                                           "Content-Length: 100000\r\n\r\npartial bytes only",
                                           id, f->teacher.cookie, f->teacher.csrf);
  guint status = kt_test_raw_exchange (f->app, line);
  g_assert_cmpuint (status, ==, 0);
  g_assert_cmpint (offset_of (f, id), ==, 100000);

  /* Resume from what the server says, to the last chunk: every byte is on
   * disk as sent. */
  gsize last = size - 17;
  for (gsize at = offset_of (f, id); at < last; at += 100000) {
    gsize len = MIN (100000, last - at);
    g_autoptr (KtTestResponse) r = patch (f, id, at, data + at, len);
    g_assert_cmpuint (r->status, ==, 200);
  }
  g_autofree char *path = kt_uploads_path (kt_app_uploads (f->app), id);
  g_autofree char *stored = NULL;
  gsize stored_len;
  g_assert_true (g_file_get_contents (path, &stored, &stored_len, NULL));
  g_assert_cmpuint (stored_len, ==, last);
  g_assert_cmpmem (stored, stored_len, data, last);

  /* The last chunk completes it, and the library looks at it: random bytes
   * are no lecture, refused in words a teacher reads, the file removed. */
  g_autoptr (KtTestResponse) final = patch (f, id, last, data + last, 17);
  g_assert_cmpuint (final->status, ==, 200);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = kt_test_json_object (final, parser);
  g_assert_cmpstr (json_object_get_string_member (o, "state"), ==, "refused");
  g_assert_nonnull (strstr (json_object_get_string_member (o, "error"), "不是视频或音频"));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  /* Nothing more may be added. */
  g_autoptr (KtTestResponse) more = patch (f, id, size, data, 10);
  g_assert_cmpuint (more->status, ==, 400);
  g_autoptr (KtUpload) u = kt_uploads_get (kt_app_uploads (f->app), id);
  g_assert_cmpstr (u->state, ==, "refused");
}

static void
test_limits_and_mistakes (Fixture *f, gconstpointer unused)
{
  /* Over the configured 1 MB: refused up front, in Chinese. */
  g_autoptr (KtTestResponse) big = kt_test_request_as (
      f->app, &f->teacher, "POST", "/api/uploads", "application/json",
      "{\"filename\": \"big.mp4\", \"size\": 5000000}");
  g_assert_cmpuint (big->status, ==, 413);
  g_autofree char *text = kt_test_body_text (big);
  g_assert_nonnull (strstr (text, "文件太大"));

  const char *bad_bodies[] = { "{}", "{\"filename\": \"a.mp4\", \"size\": \"10\"}",
                               "{\"filename\": \"a.mp4\", \"size\": -1}", "[1]", "not json",
                               "{\"filename\": \"a.mp4\", \"size\": 0}" };
  for (guint i = 0; i < G_N_ELEMENTS (bad_bodies); i++) {
    g_autoptr (KtTestResponse) r = kt_test_request_as (f->app, &f->teacher, "POST", "/api/uploads",
                                                       "application/json", bad_bodies[i]);
    if (r->status != 400)
      g_error ("%s: %u", bad_bodies[i], r->status);
  }

  /* A chunk running past the announced size. */
  g_autofree char *id = create (f, &f->teacher, 1000);
  guint8 bytes[2000] = { 0 };
  g_autoptr (KtTestResponse) past = patch (f, id, 0, bytes, sizeof bytes);
  g_assert_cmpuint (past->status, ==, 413);
  g_assert_cmpint (offset_of (f, id), ==, 0);
  g_autoptr (KtTestResponse) no_offset = kt_test_request_as (
      f->app, &f->teacher, "PATCH", "/api/uploads/x", "application/offset+octet-stream", "abc");
  g_assert_cmpuint (no_offset->status, ==, 404);
}

static void
test_only_owner_and_admin (Fixture *f, gconstpointer unused)
{
  g_autofree char *id = create (f, &f->teacher, 1000);
  g_autofree char *path = g_strdup_printf ("/api/uploads/%s", id);

  g_autoptr (KtTestResponse) anonymous = kt_test_get (f->app, path);
  g_assert_cmpuint (anonymous->status, ==, 401);
  g_auto (KtTestSession) other = { 0 };
  kt_test_session_open (f->app, "li", "teacher", &other);
  g_autoptr (KtTestResponse) theirs = kt_test_request_as (f->app, &other, "GET", path, NULL, NULL);
  g_assert_cmpuint (theirs->status, ==, 404);
  g_autoptr (KtTestResponse) delete_theirs = kt_test_request_as (f->app, &other, "DELETE", path, NULL, NULL);
  g_assert_cmpuint (delete_theirs->status, ==, 404);
  g_auto (KtTestSession) room = { 0 };
  kt_test_session_open (f->app, "room", "viewpoint", &room);
  g_autoptr (KtTestResponse) viewpoint = kt_test_request_as (f->app, &room, "GET", path, NULL, NULL);
  g_assert_cmpuint (viewpoint->status, ==, 403);

  g_auto (KtTestSession) admin = { 0 };
  kt_test_session_open (f->app, "admin", "admin", &admin);
  g_autoptr (KtTestResponse) list = kt_test_request_as (f->app, &admin, "GET", "/api/uploads", NULL, NULL);
  g_autofree char *text = kt_test_body_text (list);
  g_assert_nonnull (strstr (text, id));
  g_autoptr (KtTestResponse) other_list = kt_test_request_as (f->app, &other, "GET", "/api/uploads", NULL, NULL);
  g_autofree char *other_text = kt_test_body_text (other_list);
  g_assert_null (strstr (other_text, id));

  /* The owner gives up: the bytes are gone. */
  g_autofree char *file = kt_uploads_path (kt_app_uploads (f->app), id);
  g_assert_true (g_file_test (file, G_FILE_TEST_EXISTS));
  g_autoptr (KtTestResponse) del = kt_test_request_as (f->app, &f->teacher, "DELETE", path, NULL, NULL);
  g_assert_cmpuint (del->status, ==, 204);
  g_assert_false (g_file_test (file, G_FILE_TEST_EXISTS));
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn) g_test_add (name, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/upload/chunks-resume-and-complete", test_chunks_resume_and_complete);
  ADD ("/upload/limits-and-mistakes", test_limits_and_mistakes);
  ADD ("/upload/only-owner-and-admin", test_only_owner_and_admin);
  return g_test_run ();
}
