/* kt-auth on a real SQLite file with real Argon2id: hashes that are not the
 * password, wrong passwords and unknown names refused alike, sessions found
 * only by their token (the database holds its hash), expiry and the login
 * throttle on the fake clock, disabled accounts, and the worker-thread
 * forms, including an auth freed while a hash is still running. */
#include <sodium.h>

#include "kt-auth.h"
#include "kt-clock.h"
#include "test-utils.h"

#define T0 (G_GINT64_CONSTANT (1800000000) * KT_USEC_PER_SEC)
#define HOUR (G_GINT64_CONSTANT (3600) * KT_USEC_PER_SEC)

typedef struct {
  char *dir;
  KtStore *store;
  KtAuth *auth;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer unused)
{
  kt_clock_set_fake (T0);
  f->dir = kt_test_mkdtemp ();
  g_autofree char *path = g_build_filename (f->dir, "ketang.db", NULL);
  g_autoptr (GError) error = NULL;
  f->store = kt_store_open (path, &error);
  g_assert_no_error (error);
  f->auth = kt_auth_new (f->store, 12 * HOUR, 3);
}

static void
fixture_tear_down (Fixture *f, gconstpointer unused)
{
  g_clear_pointer (&f->auth, kt_auth_free);
  kt_store_free (f->store);
  kt_test_rmtree (f->dir);
  g_free (f->dir);
  kt_clock_use_real ();
}

static KtUser *
add (Fixture *f, const char *name, KtRole role, const char *password)
{
  g_autoptr (GError) error = NULL;
  KtUser *user = kt_auth_user_add (f->auth, name, NULL, role, password, &error);
  g_assert_no_error (error);
  g_assert_nonnull (user);
  return user;
}

static KtSession *
login_ok (Fixture *f, const char *name, const char *password)
{
  g_autoptr (GError) error = NULL;
  KtSession *session = kt_auth_login (f->auth, name, password, "test", &error);
  g_assert_no_error (error);
  g_assert_nonnull (session);
  return session;
}

/* One column of one row, as text (transfer full); NULL when no row. */
static char *
query_text (Fixture *f, const char *sql, const char *arg)
{
  sqlite3_stmt *stmt = kt_store_prepare (f->store, sql, NULL);
  g_assert_nonnull (stmt);
  if (arg)
    sqlite3_bind_text (stmt, 1, arg, -1, SQLITE_TRANSIENT);
  char *value = NULL;
  if (sqlite3_step (stmt) == SQLITE_ROW)
    value = g_strdup ((const char *)sqlite3_column_text (stmt, 0));
  sqlite3_reset (stmt);
  return value;
}

static void
test_hash_is_not_the_password (Fixture *f, gconstpointer unused)
{
  const char *password = "太极拳 correct horse";
  g_autoptr (KtUser) user = add (f, "wang", KT_ROLE_TEACHER, password);
  g_assert_cmpstr (user->name, ==, "wang");
  g_assert_cmpstr (user->display_name, ==, "wang");
  g_assert_cmpint (user->role, ==, KT_ROLE_TEACHER);
  g_assert_false (user->disabled);
  g_assert_cmpint (user->created_us, ==, T0);

  g_autofree char *hash = query_text (f, "SELECT password_hash FROM users WHERE name = ?", "wang");
  g_assert_true (g_str_has_prefix (hash, "$argon2id$"));
  g_assert_null (strstr (hash, "correct"));
  g_assert_cmpint (crypto_pwhash_str_verify (hash, password, strlen (password)), ==, 0);
  g_assert_cmpint (crypto_pwhash_str_verify (hash, "wrong", 5), !=, 0);

  /* Same password, another account: another salt, another hash. */
  g_autoptr (KtUser) li = add (f, "li", KT_ROLE_TEACHER, password);
  g_autofree char *hash2 = query_text (f, "SELECT password_hash FROM users WHERE name = ?", "li");
  g_assert_cmpstr (hash, !=, hash2);
}

static void
test_wrong_password_and_unknown_name (Fixture *f, gconstpointer unused)
{
  g_autoptr (KtUser) user = add (f, "admin", KT_ROLE_ADMIN, "s3cret-pass");
  g_autoptr (GError) wrong = NULL, unknown = NULL;
  g_assert_null (kt_auth_login (f->auth, "admin", "s3cret-pasS", "t", &wrong));
  g_assert_error (wrong, KT_AUTH_ERROR, KT_AUTH_ERROR_CREDENTIALS);
  g_assert_null (kt_auth_login (f->auth, "nobody", "s3cret-pass", "t", &unknown));
  g_assert_error (unknown, KT_AUTH_ERROR, KT_AUTH_ERROR_CREDENTIALS);
  g_assert_cmpstr (wrong->message, ==, unknown->message);

  /* Names compare without ASCII case, at login and when adding. */
  g_autoptr (GError) error = NULL;
  g_autoptr (KtSession) s = login_ok (f, "Admin", "s3cret-pass");
  g_assert_cmpstr (s->user->name, ==, "admin");
  g_assert_null (
      kt_auth_user_add (f->auth, "ADMIN", NULL, KT_ROLE_VIEWPOINT, "another-pass", &error));
  g_assert_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_EXISTS);
}

static void
test_validation (Fixture *f, gconstpointer unused)
{
  const char *bad_names[]
      = { "",          "two words",
          "tab\tname", "a/b",
          "x;drop",    "0123456789012345678901234567890123456789012345678901234567890123456789" };
  for (guint i = 0; i < G_N_ELEMENTS (bad_names); i++) {
    g_autoptr (GError) error = NULL;
    g_assert_null (
        kt_auth_user_add (f->auth, bad_names[i], NULL, KT_ROLE_TEACHER, "long enough", &error));
    g_assert_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_INVALID);
  }
  g_autoptr (GError) error = NULL;
  g_assert_null (kt_auth_user_add (f->auth, "short", NULL, KT_ROLE_TEACHER, "1234567", &error));
  g_assert_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (kt_auth_user_add (f->auth, "blank", "  ", KT_ROLE_TEACHER, "long enough", &error));
  g_assert_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_INVALID);
  g_clear_error (&error);

  /* Chinese names are names. */
  g_autoptr (KtUser) room = kt_auth_user_add (f->auth, "城关镇", "城关镇收视点", KT_ROLE_VIEWPOINT,
                                              "八个汉字的好密码", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (room->display_name, ==, "城关镇收视点");

  KtRole role;
  g_assert_true (kt_role_from_string ("viewpoint", &role));
  g_assert_cmpint (role, ==, KT_ROLE_VIEWPOINT);
  g_assert_false (kt_role_from_string ("Admin", &role));
  g_assert_false (kt_role_from_string (NULL, &role));
  g_assert_cmpstr (kt_role_to_string (KT_ROLE_ADMIN), ==, "admin");
}

/* The cookie token is never stored; its SHA-256 is, and only the token
 * itself finds the session. */
static void
test_token_lookup_by_hash (Fixture *f, gconstpointer unused)
{
  g_autoptr (KtUser) user = add (f, "li", KT_ROLE_TEACHER, "password-li");
  g_autoptr (GError) error = NULL;
  g_autoptr (KtSession) login = login_ok (f, "li", "password-li");
  g_assert_cmpuint (strlen (login->token), ==, 43);
  g_assert_cmpuint (strlen (login->csrf), ==, 43);
  g_assert_cmpstr (login->token, !=, login->csrf);
  g_assert_cmpint (login->expires_us, ==, T0 + 12 * HOUR);

  g_autofree char *expected = g_compute_checksum_for_string (G_CHECKSUM_SHA256, login->token, -1);
  g_autofree char *stored = query_text (f, "SELECT token_hash FROM sessions", NULL);
  g_assert_cmpstr (stored, ==, expected);
  g_autofree char *leak = query_text (f,
                                      "SELECT count(*) FROM sessions WHERE token_hash = ? OR "
                                      "csrf = token_hash",
                                      login->token);
  g_assert_cmpstr (leak, ==, "0");

  g_autoptr (KtSession) found = kt_auth_session_lookup (f->auth, login->token, &error);
  g_assert_no_error (error);
  g_assert_null (found->token);
  g_assert_cmpstr (found->user->name, ==, "li");
  g_assert_cmpstr (found->csrf, ==, login->csrf);

  /* The stored hash is not a token; neither is a token one letter off. */
  g_autofree char *off = g_strdup (login->token);
  off[10] = off[10] == 'A' ? 'B' : 'A';
  const char *wrong[] = { stored, off, "", "short" };
  for (guint i = 0; i < G_N_ELEMENTS (wrong); i++) {
    g_autoptr (GError) e = NULL;
    g_assert_null (kt_auth_session_lookup (f->auth, wrong[i], &e));
    g_assert_error (e, KT_AUTH_ERROR, KT_AUTH_ERROR_NO_SESSION);
  }

  g_assert_true (kt_auth_session_check_csrf (found, login->csrf));
  g_assert_false (kt_auth_session_check_csrf (found, off));
  g_assert_false (kt_auth_session_check_csrf (found, NULL));
  g_assert_false (kt_auth_session_check_csrf (found, ""));

  g_assert_true (kt_auth_session_end (f->auth, found, &error));
  g_assert_null (kt_auth_session_lookup (f->auth, login->token, &error));
  g_assert_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_NO_SESSION);
}

static void
test_session_expires (Fixture *f, gconstpointer unused)
{
  g_autoptr (KtUser) user = add (f, "zhao", KT_ROLE_VIEWPOINT, "password-zhao");
  g_autoptr (GError) error = NULL;
  g_autoptr (KtSession) login = login_ok (f, "zhao", "password-zhao");

  kt_clock_advance (12 * HOUR - 1);
  g_autoptr (KtSession) still = kt_auth_session_lookup (f->auth, login->token, &error);
  g_assert_no_error (error);
  kt_clock_advance (1);
  g_assert_null (kt_auth_session_lookup (f->auth, login->token, &error));
  g_assert_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_NO_SESSION);
  g_clear_error (&error);
  g_autofree char *left = query_text (f, "SELECT count(*) FROM sessions", NULL);
  g_assert_cmpstr (left, ==, "0");

  /* Housekeeping forgets expired sessions nobody asks for. */
  g_autoptr (KtSession) again = login_ok (f, "zhao", "password-zhao");
  kt_auth_purge (f->auth);
  g_autofree char *kept = query_text (f, "SELECT count(*) FROM sessions", NULL);
  g_assert_cmpstr (kept, ==, "1");
  kt_clock_advance (13 * HOUR);
  kt_auth_purge (f->auth);
  g_autofree char *purged = query_text (f, "SELECT count(*) FROM sessions", NULL);
  g_assert_cmpstr (purged, ==, "0");
}

static void
test_disabled_cannot_log_in (Fixture *f, gconstpointer unused)
{
  g_autoptr (KtUser) user = add (f, "sun", KT_ROLE_TEACHER, "password-sun");
  g_autoptr (GError) error = NULL;
  g_autoptr (KtSession) before = login_ok (f, "sun", "password-sun");

  g_assert_true (kt_auth_user_set_disabled (f->auth, "sun", TRUE, &error));
  g_assert_null (kt_auth_session_lookup (f->auth, before->token, &error));
  g_assert_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_NO_SESSION);
  g_clear_error (&error);
  g_assert_null (kt_auth_login (f->auth, "sun", "password-sun", "t", &error));
  g_assert_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_DISABLED);
  g_clear_error (&error);
  /* A wrong password on a disabled account says only "wrong". */
  g_assert_null (kt_auth_login (f->auth, "sun", "password-moon", "t", &error));
  g_assert_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_CREDENTIALS);
  g_clear_error (&error);

  g_autoptr (GPtrArray) users = kt_auth_user_list (f->auth, &error);
  g_assert_cmpuint (users->len, ==, 1);
  g_assert_true (((KtUser *)users->pdata[0])->disabled);

  g_assert_true (kt_auth_user_set_disabled (f->auth, "sun", FALSE, &error));
  g_autoptr (KtSession) after = login_ok (f, "sun", "password-sun");

  g_assert_false (kt_auth_user_set_disabled (f->auth, "moon", TRUE, &error));
  g_assert_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_NOT_FOUND);
}

static void
test_new_password_ends_sessions (Fixture *f, gconstpointer unused)
{
  g_autoptr (KtUser) user = add (f, "zhou", KT_ROLE_ADMIN, "old-password");
  g_autoptr (GError) error = NULL;
  g_autoptr (KtSession) s = login_ok (f, "zhou", "old-password");
  g_assert_true (kt_auth_user_set_password (f->auth, "zhou", "new-password", &error));
  g_assert_no_error (error);
  g_assert_null (kt_auth_session_lookup (f->auth, s->token, NULL));
  g_assert_null (kt_auth_login (f->auth, "zhou", "old-password", "t", &error));
  g_assert_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_CREDENTIALS);
  g_clear_error (&error);
  g_autoptr (KtSession) s2 = login_ok (f, "zhou", "new-password");
  g_assert_false (kt_auth_user_set_password (f->auth, "zhou", "short", &error));
  g_assert_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_INVALID);
}

static void
expect_throttled (Fixture *f, const char *password, guint retry_after)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (kt_auth_login (f->auth, "wu", password, "t", &error));
  g_assert_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_THROTTLED);
  g_assert_cmpuint (kt_auth_retry_after_s (f->auth, "wu"), ==, retry_after);
}

static void
fail_login (Fixture *f, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (kt_auth_login (f->auth, name, "not-the-password", "t", &error));
  g_assert_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_CREDENTIALS);
}

/* max_failures is 3 here: the third failure locks the name for 30 s, even
 * against the right password; the next failure after that locks for 60 s;
 * a good login clears the count. */
static void
test_throttle (Fixture *f, gconstpointer unused)
{
  g_autoptr (KtUser) user = add (f, "wu", KT_ROLE_TEACHER, "password-wu");
  for (int i = 0; i < 3; i++) {
    g_assert_cmpuint (kt_auth_retry_after_s (f->auth, "wu"), ==, 0);
    fail_login (f, "wu");
  }
  expect_throttled (f, "password-wu", 30);
  kt_clock_advance (29 * KT_USEC_PER_SEC + 1);
  expect_throttled (f, "password-wu", 1);
  kt_clock_advance (KT_USEC_PER_SEC);
  fail_login (f, "wu");
  expect_throttled (f, "password-wu", 60);
  kt_clock_advance (60 * KT_USEC_PER_SEC);

  g_autoptr (GError) error = NULL;
  g_autoptr (KtSession) s = login_ok (f, "wu", "password-wu");
  fail_login (f, "wu");
  fail_login (f, "wu");
  g_assert_cmpuint (kt_auth_retry_after_s (f->auth, "wu"), ==, 0);

  /* Names that are not accounts are throttled the same way. */
  for (int i = 0; i < 3; i++)
    fail_login (f, "ghost");
  g_assert_cmpuint (kt_auth_retry_after_s (f->auth, "ghost"), ==, 30);
  g_assert_cmpuint (kt_auth_retry_after_s (f->auth, "GHOST"), ==, 30);
}

typedef struct {
  GPtrArray *results; /* GError* or KtSession*, as they come */
  guint pending;
} AsyncLog;

static void
on_login (GObject *unused, GAsyncResult *result, gpointer data)
{
  AsyncLog *log = data;
  GError *error = NULL;
  KtSession *session = kt_auth_login_finish (NULL, result, &error);
  g_assert_true ((session == NULL) != (error == NULL));
  if (session)
    kt_session_free (session);
  g_ptr_array_add (log->results, error);
  log->pending--;
}

/* More logins at once than the auth takes: they hash in worker threads (a
 * few at a time, the rest waiting their turn) while the main loop runs, and
 * the one too many is told the server is busy. */
static void
test_async_login_and_busy (Fixture *f, gconstpointer unused)
{
  g_autoptr (KtUser) user = add (f, "qian", KT_ROLE_TEACHER, "password-qian");
  guint capacity = kt_auth_hash_capacity (f->auth);
  g_assert_cmpuint (capacity, >=, 2);
  AsyncLog log = { g_ptr_array_new (), capacity + 1 };
  for (guint i = 0; i < capacity + 1; i++)
    kt_auth_login_async (f->auth, "qian", "password-qian", "t", NULL, on_login, &log);
  while (log.pending > 0)
    g_main_context_iteration (NULL, TRUE);
  guint ok = 0, busy = 0;
  for (guint i = 0; i < log.results->len; i++) {
    GError *e = log.results->pdata[i];
    if (e == NULL)
      ok++;
    else if (g_error_matches (e, KT_AUTH_ERROR, KT_AUTH_ERROR_BUSY))
      busy++;
    g_clear_error (&e);
  }
  g_assert_cmpuint (ok, ==, capacity);
  g_assert_cmpuint (busy, ==, 1);
  g_ptr_array_unref (log.results);
  g_autofree char *sessions = query_text (f, "SELECT count(*) FROM sessions", NULL);
  g_assert_cmpint (atoi (sessions), ==, capacity);
}

/* Freeing the auth while hashes run and others wait: every callback still
 * comes, cancelled, and nothing touches the freed auth (valgrind or ASan
 * would tell). */
static void
test_free_while_hashing (Fixture *f, gconstpointer unused)
{
  g_autoptr (KtUser) user = add (f, "zheng", KT_ROLE_TEACHER, "password-zheng");
  guint n = kt_auth_hash_capacity (f->auth); /* some hashing, the rest waiting */
  AsyncLog log = { g_ptr_array_new (), n };
  for (guint i = 0; i < n; i++)
    kt_auth_login_async (f->auth, "zheng", "password-zheng", "t", NULL, on_login, &log);
  g_clear_pointer (&f->auth, kt_auth_free);
  while (log.pending > 0)
    g_main_context_iteration (NULL, TRUE);
  for (guint i = 0; i < n; i++) {
    GError *e = log.results->pdata[i];
    g_assert_error (e, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_error_free (e);
  }
  g_ptr_array_unref (log.results);
  g_autofree char *sessions = query_text (f, "SELECT count(*) FROM sessions", NULL);
  g_assert_cmpstr (sessions, ==, "0");
}

/* A publish key works until it is rotated, is stored only as its hash, and
 * never opens anything for a viewing point or a disabled account. */
static void
test_publish_keys (Fixture *f, gconstpointer unused)
{
  g_autoptr (KtUser) wang = add (f, "wang", KT_ROLE_TEACHER, "wang-password");
  g_autoptr (KtUser) room = add (f, "room", KT_ROLE_VIEWPOINT, "room-password");
  g_autoptr (GError) error = NULL;
  gint64 created = 0;

  g_assert_false (kt_auth_publish_key_created (f->auth, wang, &created, &error));
  g_assert_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_autofree char *first = kt_auth_publish_key_rotate (f->auth, wang, &error);
  g_assert_no_error (error);
  g_assert_true (kt_auth_token_well_formed (first));
  g_assert_true (kt_auth_publish_key_created (f->auth, wang, &created, &error));
  g_assert_cmpint (created, ==, T0);
  g_autoptr (KtUser) found = kt_auth_publish_key_check (f->auth, first, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (found->name, ==, "wang");

  /* The database holds the hash, not the key. */
  sqlite3_stmt *stmt = kt_store_prepare (f->store, "SELECT key_hash FROM publish_keys", NULL);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_autofree char *hash = kt_auth_token_hash (first);
  g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 0), ==, hash);
  sqlite3_reset (stmt);

  /* Rotation: the old key stops working at once. */
  kt_clock_advance (HOUR);
  g_autofree char *second = kt_auth_publish_key_rotate (f->auth, wang, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (first, !=, second);
  g_assert_null (kt_auth_publish_key_check (f->auth, first, &error));
  g_assert_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_CREDENTIALS);
  g_clear_error (&error);
  g_autoptr (KtUser) again = kt_auth_publish_key_check (f->auth, second, &error);
  g_assert_no_error (error);
  g_assert_true (kt_auth_publish_key_created (f->auth, wang, &created, NULL));
  g_assert_cmpint (created, ==, T0 + HOUR);

  /* A key one character off, and strings that are no key at all. */
  g_autofree char *off = g_strdup (second);
  off[0] = off[0] == 'A' ? 'B' : 'A';
  const char *wrong[] = { off, "", "x", "../../etc/passwd", NULL };
  for (int i = 0; wrong[i]; i++) {
    g_assert_null (kt_auth_publish_key_check (f->auth, wrong[i], &error));
    g_assert_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_CREDENTIALS);
    g_clear_error (&error);
  }

  g_assert_null (kt_auth_publish_key_rotate (f->auth, room, &error));
  g_assert_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_INVALID);
  g_clear_error (&error);

  g_assert_true (kt_auth_user_set_disabled (f->auth, "wang", TRUE, NULL));
  g_assert_null (kt_auth_publish_key_check (f->auth, second, &error));
  g_assert_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_DISABLED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn) g_test_add (name, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/auth/hash-is-not-the-password", test_hash_is_not_the_password);
  ADD ("/auth/wrong-password-and-unknown-name", test_wrong_password_and_unknown_name);
  ADD ("/auth/validation", test_validation);
  ADD ("/auth/token-lookup-by-hash", test_token_lookup_by_hash);
  ADD ("/auth/session-expires", test_session_expires);
  ADD ("/auth/disabled-cannot-log-in", test_disabled_cannot_log_in);
  ADD ("/auth/new-password-ends-sessions", test_new_password_ends_sessions);
  ADD ("/auth/throttle", test_throttle);
  ADD ("/auth/async-login-and-busy", test_async_login_and_busy);
  ADD ("/auth/free-while-hashing", test_free_while_hashing);
  ADD ("/auth/publish-keys", test_publish_keys);
  return g_test_run ();
}
