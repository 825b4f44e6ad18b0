/* kt-upload: resumable uploads of recorded lectures.
 *
 * Teachers upload 1–2 GB files over weak county networks, so an upload is a
 * series of chunks (kt-http-upload sends at most KT_HTTP_UPLOAD_CHUNK_MAX in
 * one request) appended to uploads/<id>.part. The number of bytes received
 * is the file's size on disk, nothing else: after a dropped connection or a
 * crash, the client asks for the offset and continues from there, and the
 * answer can never claim bytes the disk does not hold. Each chunk is
 * fdatasync'ed before it is confirmed.
 *
 * A chunk must start exactly where the file ends (else KT_UPLOAD_ERROR_OFFSET
 * and the current offset, so a client that lost track resynchronises), and
 * no upload may grow past the size it announced, nor announce more than the
 * configured limit. When the last byte arrives the upload is "complete";
 * what happens to it then (probe, normalization) is recorded with
 * kt_uploads_set_outcome, which also removes the file.
 */
#define G_LOG_DOMAIN "kt-upload"

#include "kt-upload.h"
#include "kt-clock.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

G_DEFINE_QUARK (kt-upload-error-quark, kt_upload_error)

struct _KtUploads {
  KtStore *store;
  char *dir;
  guint64 max_bytes;
};

void
kt_upload_free (KtUpload *u)
{
  if (u == NULL)
    return;
  g_free (u->id);
  g_free (u->owner);
  g_free (u->filename);
  g_free (u->title);
  g_free (u->state);
  g_free (u->item_id);
  g_free (u->error);
  g_free (u);
}

KtUploads *
kt_uploads_new (KtStore *store, const char *data_dir, guint64 max_bytes, GError **error)
{
  g_autoptr (KtUploads) uploads = g_new0 (KtUploads, 1);
  uploads->store = store;
  uploads->dir = g_build_filename (data_dir, "uploads", NULL);
  uploads->max_bytes = max_bytes;
  if (g_mkdir_with_parents (uploads->dir, 0700) != 0) {
    g_set_error (error, KT_UPLOAD_ERROR, KT_UPLOAD_ERROR_IO, "cannot create %s: %s",
                 uploads->dir, g_strerror (errno));
    return NULL;
  }
  return g_steal_pointer (&uploads);
}

void
kt_uploads_free (KtUploads *uploads)
{
  if (uploads == NULL)
    return;
  g_free (uploads->dir);
  g_free (uploads);
}

guint64
kt_uploads_max_bytes (KtUploads *uploads)
{
  return uploads->max_bytes;
}

char *
kt_uploads_path (KtUploads *uploads, const char *id)
{
  g_autofree char *name = g_strconcat (id, KT_UPLOAD_PART_SUFFIX, NULL);
  return g_build_filename (uploads->dir, name, NULL);
}

static guint64
bytes_on_disk (KtUploads *uploads, const char *id)
{
  g_autofree char *path = kt_uploads_path (uploads, id);
  GStatBuf st;
  return g_stat (path, &st) == 0 ? (guint64) st.st_size : 0;
}

#define SELECT_UPLOAD \
  "SELECT id, owner, filename, title, size, state, item_id, error FROM uploads "

static KtUpload *
row_to_upload (KtUploads *uploads, sqlite3_stmt *stmt)
{
  KtUpload *u = g_new0 (KtUpload, 1);
  u->id = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  u->owner = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
  u->filename = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
  u->title = g_strdup ((const char *) sqlite3_column_text (stmt, 3));
  u->size = sqlite3_column_int64 (stmt, 4);
  u->state = g_strdup ((const char *) sqlite3_column_text (stmt, 5));
  u->item_id = g_strdup ((const char *) sqlite3_column_text (stmt, 6));
  u->error = g_strdup ((const char *) sqlite3_column_text (stmt, 7));
  u->offset = g_str_equal (u->state, "receiving") || g_str_equal (u->state, "complete")
                  ? bytes_on_disk (uploads, u->id) : u->size;
  return u;
}

KtUpload *
kt_uploads_get (KtUploads *uploads, const char *id)
{
  sqlite3_stmt *stmt = kt_store_prepare (uploads->store, SELECT_UPLOAD "WHERE id = ?", NULL);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
  KtUpload *u = sqlite3_step (stmt) == SQLITE_ROW ? row_to_upload (uploads, stmt) : NULL;
  sqlite3_reset (stmt);
  return u;
}

GPtrArray *
kt_uploads_list (KtUploads *uploads, const char *owner)
{
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) kt_upload_free);
  sqlite3_stmt *stmt = kt_store_prepare (
      uploads->store, SELECT_UPLOAD "WHERE ?1 IS NULL OR owner = ?1 ORDER BY created_us DESC LIMIT 200",
      NULL);
  if (stmt == NULL)
    return list;
  sqlite3_bind_text (stmt, 1, owner, -1, SQLITE_TRANSIENT);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    g_ptr_array_add (list, row_to_upload (uploads, stmt));
  sqlite3_reset (stmt);
  return list;
}

KtUpload *
kt_uploads_create (KtUploads *uploads, const char *owner, const char *filename, const char *title,
                   guint64 size, GError **error)
{
  if (size == 0) {
    g_set_error (error, KT_UPLOAD_ERROR, KT_UPLOAD_ERROR_INVALID, "文件是空的（0 字节）");
    return NULL;
  }
  if (size > uploads->max_bytes) {
    g_set_error (error, KT_UPLOAD_ERROR, KT_UPLOAD_ERROR_TOO_LARGE,
                 "文件太大：最大 %" G_GUINT64_FORMAT " MB，这个文件有 %" G_GUINT64_FORMAT " MB",
                 uploads->max_bytes >> 20, (size + (1 << 20) - 1) >> 20);
    return NULL;
  }
  if (filename == NULL || filename[0] == '\0' || strlen (filename) > 255 ||
      !g_utf8_validate (filename, -1, NULL) || title == NULL || !g_utf8_validate (title, -1, NULL) ||
      strlen (title) > 200) {
    g_set_error (error, KT_UPLOAD_ERROR, KT_UPLOAD_ERROR_INVALID, "文件名或标题不正确");
    return NULL;
  }
  guint8 random[12];
  for (guint i = 0; i < sizeof random; i++)
    random[i] = g_random_int_range (0, 256);
  GString *id = g_string_new ("up-");
  for (guint i = 0; i < sizeof random; i++)
    g_string_append_printf (id, "%02x", random[i]);

  g_autofree char *path = kt_uploads_path (uploads, id->str);
  int fd = g_open (path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    g_set_error (error, KT_UPLOAD_ERROR, KT_UPLOAD_ERROR_IO, "cannot create %s: %s", path,
                 g_strerror (errno));
    g_string_free (id, TRUE);
    return NULL;
  }
  close (fd);

  sqlite3_stmt *stmt = kt_store_prepare (
      uploads->store,
      "INSERT INTO uploads (id, owner, filename, title, size, state, created_us, updated_us) "
      "VALUES (?, ?, ?, ?, ?, 'receiving', ?, ?)",
      error);
  if (stmt == NULL) {
    g_string_free (id, TRUE);
    return NULL;
  }
  gint64 now = kt_clock_now_us ();
  sqlite3_bind_text (stmt, 1, id->str, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 2, owner, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, filename, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 4, title[0] ? title : filename, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 5, size);
  sqlite3_bind_int64 (stmt, 6, now);
  sqlite3_bind_int64 (stmt, 7, now);
  if (!kt_store_step_done (uploads->store, stmt, error)) {
    g_unlink (path);
    g_string_free (id, TRUE);
    return NULL;
  }
  g_info ("upload=%s owner=%s size=%" G_GUINT64_FORMAT " created", id->str, owner, size);
  g_autofree char *id_text = g_string_free (id, FALSE);
  return kt_uploads_get (uploads, id_text);
}

static void
set_state (KtUploads *uploads, const char *id, const char *state, const char *item_id,
           const char *message)
{
  sqlite3_stmt *stmt = kt_store_prepare (
      uploads->store,
      "UPDATE uploads SET state = ?, item_id = ?, error = ?, updated_us = ? WHERE id = ?", NULL);
  if (stmt == NULL)
    return;
  sqlite3_bind_text (stmt, 1, state, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, item_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (stmt, 3, message, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (stmt, 4, kt_clock_now_us ());
  sqlite3_bind_text (stmt, 5, id, -1, SQLITE_TRANSIENT);
  kt_store_step_done (uploads->store, stmt, NULL);
}

gboolean
kt_uploads_write (KtUploads *uploads, KtUpload *upload, guint64 offset, GBytes *data,
                  GError **error)
{
  if (!g_str_equal (upload->state, "receiving")) {
    g_set_error (error, KT_UPLOAD_ERROR, KT_UPLOAD_ERROR_INVALID, "this upload is already %s",
                 upload->state);
    return FALSE;
  }
  upload->offset = bytes_on_disk (uploads, upload->id);
  if (offset != upload->offset) {
    g_set_error (error, KT_UPLOAD_ERROR, KT_UPLOAD_ERROR_OFFSET,
                 "the chunk starts at %" G_GUINT64_FORMAT " but %" G_GUINT64_FORMAT
                 " bytes have arrived", offset, upload->offset);
    return FALSE;
  }
  gsize len;
  const guint8 *bytes = g_bytes_get_data (data, &len);
  if (offset + len > upload->size) {
    g_set_error (error, KT_UPLOAD_ERROR, KT_UPLOAD_ERROR_TOO_LARGE,
                 "the chunk runs past the announced size of %" G_GUINT64_FORMAT " bytes",
                 upload->size);
    return FALSE;
  }

  g_autofree char *path = kt_uploads_path (uploads, upload->id);
  int fd = g_open (path, O_WRONLY, 0);
  gboolean ok = fd >= 0;
  gsize done = 0;
  while (ok && done < len) {
    ssize_t n = pwrite (fd, bytes + done, len - done, offset + done);
    if (n < 0 && errno == EINTR)
      continue;
    ok = n > 0;
    done += MAX (n, 0);
  }
  ok = ok && fdatasync (fd) == 0;
  int saved = errno;
  if (fd >= 0)
    close (fd);
  if (!ok) {
    /* Whatever reached the disk counts; the client asks and resends the rest. */
    g_set_error (error, KT_UPLOAD_ERROR, KT_UPLOAD_ERROR_IO, "cannot write %s: %s", path,
                 g_strerror (saved));
    upload->offset = bytes_on_disk (uploads, upload->id);
    return FALSE;
  }
  upload->offset = offset + len;
  if (upload->offset == upload->size) {
    g_free (upload->state);
    upload->state = g_strdup ("complete");
    set_state (uploads, upload->id, "complete", NULL, NULL);
    g_info ("upload=%s complete size=%" G_GUINT64_FORMAT, upload->id, upload->size);
  }
  return TRUE;
}

void
kt_uploads_set_outcome (KtUploads *uploads, const char *id, const char *item_id,
                        const char *error)
{
  set_state (uploads, id, error ? "refused" : "imported", item_id, error);
  g_autofree char *path = kt_uploads_path (uploads, id);
  if (error != NULL)
    g_unlink (path); /* an import keeps the file as its source until it is done */
}

gboolean
kt_uploads_delete (KtUploads *uploads, const char *id, GError **error)
{
  sqlite3_stmt *stmt = kt_store_prepare (uploads->store, "DELETE FROM uploads WHERE id = ?", error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
  if (!kt_store_step_done (uploads->store, stmt, error))
    return FALSE;
  g_autofree char *path = kt_uploads_path (uploads, id);
  g_unlink (path);
  return TRUE;
}
