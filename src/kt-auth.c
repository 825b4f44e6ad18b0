/* kt-auth: accounts, roles, password hashes, sessions and the login throttle.
 *
 * Three roles, fixed in code: an administrator runs the county's server, a
 * teacher publishes and teaches, a viewing point watches. Routes say which
 * roles they admit (kt-http's route table); this module only knows who is
 * who.
 *
 * Passwords are kept only as libsodium Argon2id strings (crypto_pwhash_str,
 * "interactive" limits: 64 MiB and about 0.2 s on the county's kind of box).
 * That cost is the point, and it is also why the HTTP server never hashes on
 * the main loop: the _async calls run the hash in a GTask worker thread that
 * touches nothing but its own copies, and the bookkeeping before and after
 * (throttle, database) stays on the main thread. Hashes run one per two
 * processors at once (each takes 64 MiB, and the main thread keeps a core
 * to serve video); up to MAX_WAITING more wait their turn, and beyond that a
 * request is told to retry in a second.
 * A login for a name that does not exist verifies against a dummy hash, so
 * it takes as long as a wrong password and says the same thing.
 *
 * A login makes a session (kt-auth-session.c: random tokens, kept hashed).
 * Disabling an account or changing its password ends its sessions.
 *
 * The throttle counts failed logins per name in the database (login_failures),
 * so a restart does not reset it and the CLI sees it. After max_failures
 * failures the name is locked for LOCK_BASE_US, doubling with each later
 * failure up to LOCK_MAX_US; a locked name is refused before any hash is
 * computed (so guessing costs the server nothing), and a good login clears
 * the count. Keying by name and not by address suits a network where a
 * whole village shares one address; the lock ends by itself, so someone
 * hammering a teacher's name can delay the teacher but not bar the account.
 *
 * Nothing here logs a password, a hash or a token. Names typed at the login
 * form are logged only when they are real account names: a password typed
 * into the name field must not land in the log.
 *
 * All times come from kt-clock, so tests expire sessions and locks by moving
 * a fake clock.
 */
#define G_LOG_DOMAIN "kt-auth"

#include "kt-auth-private.h"
#include "kt-clock.h"

#include <sodium.h>

G_DEFINE_QUARK (kt - auth - error - quark, kt_auth_error)

#define MAX_WAITING 16
#define NAME_MAX_BYTES 64
#define DISPLAY_MAX_CHARS 100
#define PASSWORD_MIN_CHARS 8
#define PASSWORD_MAX_BYTES 256
#define LOCK_BASE_US (G_GINT64_CONSTANT (30) * KT_USEC_PER_SEC)
#define LOCK_MAX_US (G_GINT64_CONSTANT (15) * 60 * KT_USEC_PER_SEC)
#define FAILURES_KEPT_US (G_GINT64_CONSTANT (24) * 3600 * KT_USEC_PER_SEC)

/* A valid Argon2id string of a random password nobody knows, with the same
 * limits as real ones: unknown names are verified against it. */
static const char dummy_hash[] = "$argon2id$v=19$m=65536,t=2,p=1$bNNoaK1yJ/"
                                 "UKY10gw2Hkig$zqC0zLDEEVPpptoToXP1PiAtutccc4yzZuGriT+O3fQ";

static const char *const role_names[] = {
  [KT_ROLE_ADMIN] = "admin",
  [KT_ROLE_TEACHER] = "teacher",
  [KT_ROLE_VIEWPOINT] = "viewpoint",
};

const char *
kt_role_to_string (KtRole role)
{
  g_return_val_if_fail (role < G_N_ELEMENTS (role_names), NULL);
  return role_names[role];
}

gboolean
kt_role_from_string (const char *text, KtRole *role)
{
  for (guint i = 0; text != NULL && i < G_N_ELEMENTS (role_names); i++) {
    if (g_str_equal (text, role_names[i])) {
      *role = (KtRole)i;
      return TRUE;
    }
  }
  return FALSE;
}

KtUser *
kt_user_copy (const KtUser *user)
{
  KtUser *copy = g_memdup2 (user, sizeof *user);
  copy->name = g_strdup (user->name);
  copy->display_name = g_strdup (user->display_name);
  return copy;
}

void
kt_user_free (KtUser *user)
{
  if (user == NULL)
    return;
  g_free (user->name);
  g_free (user->display_name);
  g_free (user);
}

void
kt_auth_free_secret (char *secret)
{
  if (secret == NULL)
    return;
  sodium_memzero (secret, strlen (secret));
  g_free (secret);
}

gboolean
kt_auth_store_error (GError **error, GError *local)
{
  g_set_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_STORE, "database: %s",
               local ? local->message : "error");
  g_clear_error (&local);
  return FALSE;
}

/* Validation of what people type. */

static gboolean
check_name (const char *name, GError **error)
{
  gboolean ok = name != NULL && name[0] != '\0' && strlen (name) <= NAME_MAX_BYTES
                && g_utf8_validate (name, -1, NULL);
  for (const char *p = name; ok && *p; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    ok = g_unichar_isalnum (c) || strchr ("._-@", (int)c) != NULL;
  }
  if (!ok)
    g_set_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_INVALID,
                 "a name is 1 to %d bytes of letters, digits and . _ - @ (no spaces)",
                 NAME_MAX_BYTES);
  return ok;
}

static gboolean
check_display_name (const char *text, GError **error)
{
  gboolean ok = text != NULL && g_utf8_validate (text, -1, NULL)
                && g_utf8_strlen (text, -1) <= DISPLAY_MAX_CHARS;
  gboolean blank = TRUE;
  for (const char *p = text; ok && *p; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    ok = !g_unichar_iscntrl (c);
    blank &= g_unichar_isspace (c);
  }
  if (!ok || blank)
    g_set_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_INVALID,
                 "a display name is 1 to %d characters, not blank, without control characters",
                 DISPLAY_MAX_CHARS);
  return ok && !blank;
}

static gboolean
check_password (const char *password, GError **error)
{
  if (password == NULL || strlen (password) > PASSWORD_MAX_BYTES
      || !g_utf8_validate (password, -1, NULL)
      || g_utf8_strlen (password, -1) < PASSWORD_MIN_CHARS) {
    g_set_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_INVALID,
                 "a password is %d characters or more (at most %d bytes)", PASSWORD_MIN_CHARS,
                 PASSWORD_MAX_BYTES);
    return FALSE;
  }
  return TRUE;
}

/* Rows. */

KtUser *
kt_auth_user_from_row (sqlite3_stmt *stmt, int first)
{
  KtRole role;
  const char *role_text = (const char *)sqlite3_column_text (stmt, first + 3);
  if (!kt_role_from_string (role_text, &role)) {
    g_warning ("account id=%" G_GINT64_FORMAT " has unknown role “%s”; refused",
               (gint64)sqlite3_column_int64 (stmt, first), role_text);
    return NULL;
  }
  KtUser *user = g_new0 (KtUser, 1);
  user->id = sqlite3_column_int64 (stmt, first);
  user->name = g_strdup ((const char *)sqlite3_column_text (stmt, first + 1));
  user->display_name = g_strdup ((const char *)sqlite3_column_text (stmt, first + 2));
  user->role = role;
  user->disabled = sqlite3_column_int (stmt, first + 4) != 0;
  user->created_us = sqlite3_column_int64 (stmt, first + 5);
  return user;
}

/* The account called @name and, when @hash is given, its password hash. */
static KtUser *
find_user (KtAuth *auth, const char *name, char **hash, GError **error)
{
  GError *local = NULL;
  sqlite3_stmt *stmt = kt_store_prepare (
      auth->store, "SELECT " KT_AUTH_USER_COLUMNS ", u.password_hash FROM users u WHERE u.name = ?",
      &local);
  if (stmt == NULL) {
    kt_auth_store_error (error, local);
    return NULL;
  }
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_TRANSIENT);
  KtUser *user = NULL;
  if (sqlite3_step (stmt) == SQLITE_ROW) {
    user = kt_auth_user_from_row (stmt, 0);
    if (user && hash)
      *hash = g_strdup ((const char *)sqlite3_column_text (stmt, 6));
  }
  sqlite3_reset (stmt);
  if (user == NULL)
    g_set_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_NOT_FOUND, "no account “%s”", name);
  return user;
}

KtUser *
kt_auth_user_find (KtAuth *auth, const char *name, GError **error)
{
  return find_user (auth, name, NULL, error);
}

GPtrArray *
kt_auth_user_list (KtAuth *auth, GError **error)
{
  GError *local = NULL;
  sqlite3_stmt *stmt = kt_store_prepare (
      auth->store, "SELECT " KT_AUTH_USER_COLUMNS " FROM users u ORDER BY u.name", &local);
  if (stmt == NULL) {
    kt_auth_store_error (error, local);
    return NULL;
  }
  GPtrArray *users = g_ptr_array_new_with_free_func ((GDestroyNotify)kt_user_free);
  while (sqlite3_step (stmt) == SQLITE_ROW) {
    KtUser *user = kt_auth_user_from_row (stmt, 0);
    if (user)
      g_ptr_array_add (users, user);
  }
  sqlite3_reset (stmt);
  return users;
}

gboolean
kt_auth_run (KtAuth *auth, const char *sql, int *changes, GError **error, ...)
{
  GError *local = NULL;
  sqlite3_stmt *stmt = kt_store_prepare (auth->store, sql, &local);
  if (stmt == NULL)
    return kt_auth_store_error (error, local);
  va_list args;
  va_start (args, error);
  for (int i = 1, kind; (kind = va_arg (args, int)) != 0; i++) {
    if (kind == 's')
      sqlite3_bind_text (stmt, i, va_arg (args, const char *), -1, SQLITE_TRANSIENT);
    else
      sqlite3_bind_int64 (stmt, i, va_arg (args, gint64));
  }
  va_end (args);
  if (!kt_store_step_done (auth->store, stmt, &local))
    return kt_auth_store_error (error, local);
  if (changes)
    *changes = sqlite3_changes (kt_store_handle (auth->store));
  return TRUE;
}

static gboolean
end_sessions_of (KtAuth *auth, gint64 user_id, GError **error)
{
  return kt_auth_run (auth, "DELETE FROM sessions WHERE user_id = ?", NULL, error, 'i', user_id, 0);
}

gboolean
kt_auth_user_set_disabled (KtAuth *auth, const char *name, gboolean disabled, GError **error)
{
  g_autoptr (KtUser) user = find_user (auth, name, NULL, error);
  if (user == NULL
      || !kt_auth_run (auth, "UPDATE users SET disabled = ? WHERE id = ?", NULL, error, 'i',
                       (gint64)(disabled ? 1 : 0), 'i', user->id, 0))
    return FALSE;
  g_info ("account %s name=%s", disabled ? "disabled" : "enabled", user->name);
  return !disabled || end_sessions_of (auth, user->id, error);
}

/* Hashing, on whichever thread calls it: touches only its arguments. */
static char *
hash_password (const char *password)
{
  char hash[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str (hash, password, strlen (password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                         crypto_pwhash_MEMLIMIT_INTERACTIVE)
      != 0)
    return NULL; /* out of memory */
  return g_strdup (hash);
}

gboolean
kt_auth_user_set_password (KtAuth *auth, const char *name, const char *password, GError **error)
{
  if (!check_password (password, error))
    return FALSE;
  g_autoptr (KtUser) user = find_user (auth, name, NULL, error);
  if (user == NULL)
    return FALSE;
  g_autofree char *hash = hash_password (password);
  if (hash == NULL) {
    g_set_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_BUSY, "not enough memory to hash");
    return FALSE;
  }
  if (!kt_auth_run (auth, "UPDATE users SET password_hash = ? WHERE id = ?", NULL, error, 's', hash,
                    'i', user->id, 0)
      || !end_sessions_of (auth, user->id, error))
    return FALSE;
  g_info ("password changed name=%s", user->name);
  return TRUE;
}

/* The throttle. */

static void
failures_of (KtAuth *auth, const char *name, guint *count, gint64 *last_us)
{
  *count = 0, *last_us = 0;
  sqlite3_stmt *stmt = kt_store_prepare (
      auth->store, "SELECT count, last_us FROM login_failures WHERE name = ?", NULL);
  if (stmt == NULL)
    return;
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_TRANSIENT);
  if (sqlite3_step (stmt) == SQLITE_ROW) {
    *count = (guint)sqlite3_column_int (stmt, 0);
    *last_us = sqlite3_column_int64 (stmt, 1);
  }
  sqlite3_reset (stmt);
}

/* When a name with @count failures, the last at @last_us, may try again. */
static gint64
locked_until (KtAuth *auth, guint count, gint64 last_us)
{
  if (count < auth->max_failures)
    return 0;
  guint doublings = MIN (count - auth->max_failures, 10);
  return last_us + MIN (LOCK_BASE_US << doublings, LOCK_MAX_US);
}

guint
kt_auth_retry_after_s (KtAuth *auth, const char *name)
{
  guint count;
  gint64 last_us;
  failures_of (auth, name, &count, &last_us);
  gint64 wait = locked_until (auth, count, last_us) - kt_clock_now_us ();
  return wait > 0 ? (guint)((wait + KT_USEC_PER_SEC - 1) / KT_USEC_PER_SEC) : 0;
}

static void
record_failure (KtAuth *auth, const char *name, gboolean known, const char *peer)
{
  gint64 now = kt_clock_now_us ();
  g_autoptr (GError) error = NULL;
  if (!kt_auth_run (
          auth,
          "INSERT INTO login_failures (name, count, last_us) VALUES (?, 1, ?) "
          "ON CONFLICT (name) DO UPDATE SET count = count + 1, last_us = excluded.last_us",
          NULL, &error, 's', name, 'i', now, 0))
    g_warning ("cannot count a failed login: %s", error->message);
  guint count;
  gint64 last_us;
  failures_of (auth, name, &count, &last_us);
  const char *shown = known ? name : "(not an account)";
  g_info ("login failed name=%s peer=%s failures=%u", shown, peer ? peer : "-", count);
  if (count >= auth->max_failures)
    g_message ("login locked name=%s peer=%s failures=%u for=%" G_GINT64_FORMAT "s", shown,
               peer ? peer : "-", count,
               (locked_until (auth, count, last_us) - now) / KT_USEC_PER_SEC);
}

/* Jobs: the part of a login or an account creation that hashes runs in
 * job_hash(), anywhere; the rest runs in the job's complete() on the main
 * thread. */

typedef struct _AuthJob AuthJob;
typedef gpointer (*JobComplete) (KtAuth *auth, AuthJob *job, GError **error);

struct _AuthJob {
  KtAuth *auth;        /* valid while @alive is not cancelled */
  GCancellable *alive; /* the auth's: cancelled when the auth is freed */
  JobComplete complete;
  GDestroyNotify free_result;
  char *name;
  char *display_name;
  char *peer;
  KtRole role;
  char *password;  /* wiped once hashed */
  char *hash;      /* to verify against (login), or the result (add) */
  KtUser *user;    /* login: the account, NULL when the name is unknown */
  gboolean verify; /* TRUE: verify password against hash; FALSE: make hash */
  gboolean verified;
};

static void
auth_job_free (AuthJob *job)
{
  g_clear_object (&job->alive);
  g_free (job->name);
  g_free (job->display_name);
  g_free (job->peer);
  kt_auth_free_secret (job->password);
  kt_auth_free_secret (job->hash);
  kt_user_free (job->user);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AuthJob, auth_job_free)

static AuthJob *
auth_job_new (KtAuth *auth, const char *name, const char *password)
{
  AuthJob *job = g_new0 (AuthJob, 1);
  job->auth = auth;
  job->alive = g_object_ref (auth->alive);
  job->name = g_strdup (name);
  job->password = g_strdup (password);
  return job;
}

static void
job_hash (AuthJob *job)
{
  if (job->verify) {
    const char *against = job->hash ? job->hash : dummy_hash;
    job->verified = crypto_pwhash_str_verify (against, job->password, strlen (job->password)) == 0
                    && job->user != NULL;
  } else {
    job->hash = hash_password (job->password);
  }
  kt_auth_free_secret (g_steal_pointer (&job->password));
}

/* Run @job (taken; NULL when its preparation failed and set @error) here. */
static gpointer
run_sync (KtAuth *auth, AuthJob *job, GError **error)
{
  g_autoptr (AuthJob) owned = job;
  if (job == NULL)
    return NULL;
  job_hash (job);
  return job->complete (auth, job, error);
}

static void
job_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  job_hash (data);
  g_task_return_boolean (task, TRUE);
}

static void start_hashing (KtAuth *auth, GTask *outer);

static void
on_job_hashed (GObject *unused, GAsyncResult *result, gpointer data)
{
  g_autoptr (GTask) outer = data;
  AuthJob *job = g_task_get_task_data (outer);

  if (g_cancellable_is_cancelled (job->alive)) {
    g_task_return_new_error (outer, G_IO_ERROR, G_IO_ERROR_CANCELLED, "shutting down");
    return;
  }
  KtAuth *auth = job->auth;
  auth->hashing--;
  if (!g_queue_is_empty (&auth->waiting))
    start_hashing (auth, g_queue_pop_head (&auth->waiting));
  GError *error = NULL;
  gpointer value = job->complete (auth, job, &error);
  if (value == NULL)
    g_task_return_error (outer, error);
  else
    g_task_return_pointer (outer, value, job->free_result);
}

static void
start_hashing (KtAuth *auth, GTask *outer /* taken */)
{
  auth->hashing++;
  g_autoptr (GTask) inner = g_task_new (NULL, NULL, on_job_hashed, outer);
  g_task_set_task_data (inner, g_task_get_task_data (outer), NULL);
  g_task_run_in_thread (inner, job_thread);
}

/* Run @job (taken; NULL when its preparation failed with @error) with its
 * hash on a worker thread, and report to @callback on this thread. */
static void
run_async (KtAuth *auth, AuthJob *job, GError *error, GCancellable *cancellable,
           GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) outer = g_task_new (NULL, cancellable, callback, user_data);
  if (job == NULL) {
    g_task_return_error (outer, error);
    return;
  }
  g_task_set_task_data (outer, job, (GDestroyNotify) auth_job_free);
  if (auth->hashing < auth->max_hashing)
    start_hashing (auth, g_steal_pointer (&outer));
  else if (g_queue_get_length (&auth->waiting) < MAX_WAITING)
    g_queue_push_tail (&auth->waiting, g_steal_pointer (&outer));
  else
    g_task_return_new_error (outer, KT_AUTH_ERROR, KT_AUTH_ERROR_BUSY,
                             "the server is busy checking passwords; try again");
}

guint
kt_auth_hash_capacity (KtAuth *auth)
{
  return auth->max_hashing + MAX_WAITING;
}

/* Adding an account. */

static gpointer
add_complete (KtAuth *auth, AuthJob *job, GError **error)
{
  if (job->hash == NULL) {
    g_set_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_BUSY, "not enough memory to hash");
    return NULL;
  }
  int changes = 0;
  if (!kt_auth_run (auth,
                    "INSERT INTO users (name, display_name, role, password_hash, created_us) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
                    &changes, error, 's', job->name, 's', job->display_name, 's',
                    kt_role_to_string (job->role), 's', job->hash, 'i', kt_clock_now_us (), 0))
    return NULL;
  if (changes == 0) {
    g_set_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_EXISTS, "the name “%s” is taken", job->name);
    return NULL;
  }
  g_info ("account added name=%s role=%s", job->name, kt_role_to_string (job->role));
  return find_user (auth, job->name, NULL, error);
}

static AuthJob *
add_prepare (KtAuth *auth, const char *name, const char *display_name, KtRole role,
             const char *password, GError **error)
{
  if (!check_name (name, error)
      || (display_name != NULL && !check_display_name (display_name, error))
      || !check_password (password, error))
    return NULL;
  if (role >= G_N_ELEMENTS (role_names)) {
    g_set_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_INVALID, "unknown role");
    return NULL;
  }
  g_autoptr (KtUser) existing = find_user (auth, name, NULL, NULL);
  if (existing != NULL) {
    g_set_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_EXISTS, "the name “%s” is taken", name);
    return NULL;
  }
  AuthJob *job = auth_job_new (auth, name, password);
  job->display_name = g_strdup (display_name ? display_name : name);
  job->role = role;
  job->complete = add_complete;
  job->free_result = (GDestroyNotify)kt_user_free;
  return job;
}

KtUser *
kt_auth_user_add (KtAuth *auth, const char *name, const char *display_name, KtRole role,
                  const char *password, GError **error)
{
  return run_sync (auth, add_prepare (auth, name, display_name, role, password, error), error);
}

void
kt_auth_user_add_async (KtAuth *auth, const char *name, const char *display_name, KtRole role,
                        const char *password, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  GError *error = NULL;
  AuthJob *job = add_prepare (auth, name, display_name, role, password, &error);
  run_async (auth, job, error, cancellable, callback, user_data);
}

KtUser *
kt_auth_user_add_finish (KtAuth *auth, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Logging in. */

static gpointer
login_complete (KtAuth *auth, AuthJob *job, GError **error)
{
  if (!job->verified) {
    record_failure (auth, job->name, job->user != NULL, job->peer);
    g_set_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_CREDENTIALS, "wrong name or password");
    return NULL;
  }
  if (job->user->disabled) {
    g_info ("login refused name=%s peer=%s: account disabled", job->user->name, job->peer);
    g_set_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_DISABLED, "this account is disabled");
    return NULL;
  }
  if (!kt_auth_run (auth, "DELETE FROM login_failures WHERE name = ?", NULL, error, 's', job->name,
                    0))
    return NULL;
  KtSession *session = kt_auth_session_start (auth, g_steal_pointer (&job->user), error);
  if (session == NULL)
    return NULL;
  g_info ("login name=%s role=%s peer=%s", session->user->name,
          kt_role_to_string (session->user->role), job->peer);
  return session;
}

static AuthJob *
login_prepare (KtAuth *auth, const char *name, const char *password, const char *peer,
               GError **error)
{
  if (name == NULL || password == NULL || !check_name (name, NULL)
      || strlen (password) > PASSWORD_MAX_BYTES) {
    g_set_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_CREDENTIALS, "wrong name or password");
    return NULL;
  }
  guint wait = kt_auth_retry_after_s (auth, name);
  if (wait > 0) {
    g_set_error (error, KT_AUTH_ERROR, KT_AUTH_ERROR_THROTTLED,
                 "too many failed logins; try again in %u s", wait);
    return NULL;
  }
  AuthJob *job = auth_job_new (auth, name, password);
  job->peer = g_strdup (peer ? peer : "-");
  job->verify = TRUE;
  job->user = find_user (auth, name, &job->hash, NULL);
  job->complete = login_complete;
  job->free_result = (GDestroyNotify)kt_session_free;
  return job;
}

KtSession *
kt_auth_login (KtAuth *auth, const char *name, const char *password, const char *peer,
               GError **error)
{
  return run_sync (auth, login_prepare (auth, name, password, peer, error), error);
}

void
kt_auth_login_async (KtAuth *auth, const char *name, const char *password, const char *peer,
                     GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  GError *error = NULL;
  AuthJob *job = login_prepare (auth, name, password, peer, &error);
  run_async (auth, job, error, cancellable, callback, user_data);
}

KtSession *
kt_auth_login_finish (KtAuth *auth, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
kt_auth_purge (KtAuth *auth)
{
  gint64 now = kt_clock_now_us ();
  g_autoptr (GError) error = NULL;
  if (!kt_auth_run (auth, "DELETE FROM sessions WHERE expires_us <= ?", NULL, &error, 'i', now, 0)
      || !kt_auth_run (auth, "DELETE FROM login_failures WHERE last_us < ?", NULL, &error, 'i',
                       now - FAILURES_KEPT_US, 0))
    g_warning ("cannot purge sessions: %s", error->message);
}

KtAuth *
kt_auth_new (KtStore *store, gint64 session_us, guint max_failures)
{
  g_return_val_if_fail (store != NULL && session_us > 0 && max_failures > 0, NULL);
  /* sodium_init() is idempotent and thread-safe; it fails only when the
   * system has no source of randomness, where no session could be safe. */
  if (sodium_init () < 0)
    g_error ("libsodium cannot be initialized (no random source?)");
  KtAuth *auth = g_new0 (KtAuth, 1);
  auth->store = store;
  auth->session_us = session_us;
  auth->max_failures = max_failures;
  auth->alive = g_cancellable_new ();
  auth->max_hashing = MAX (1, g_get_num_processors () / 2);
  g_queue_init (&auth->waiting);
  return auth;
}

void
kt_auth_free (KtAuth *auth)
{
  if (auth == NULL)
    return;
  g_cancellable_cancel (auth->alive);
  g_clear_object (&auth->alive);
  GTask *waiting;
  while ((waiting = g_queue_pop_head (&auth->waiting)) != NULL) {
    g_task_return_new_error (waiting, G_IO_ERROR, G_IO_ERROR_CANCELLED, "shutting down");
    g_object_unref (waiting);
  }
  g_free (auth);
}
