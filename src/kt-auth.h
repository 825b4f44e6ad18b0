#pragma once

#include <gio/gio.h>

#include "kt-store.h"

G_BEGIN_DECLS

#define KT_AUTH_ERROR (kt_auth_error_quark ())
GQuark kt_auth_error_quark (void);

typedef enum {
  KT_AUTH_ERROR_INVALID,     /* a bad name, role, display name or password */
  KT_AUTH_ERROR_EXISTS,      /* the name is taken */
  KT_AUTH_ERROR_NOT_FOUND,   /* no such account */
  KT_AUTH_ERROR_CREDENTIALS, /* wrong name or password (the two are not told apart) */
  KT_AUTH_ERROR_DISABLED,    /* right password, but the account is disabled */
  KT_AUTH_ERROR_THROTTLED,   /* too many failures for this name; see kt_auth_retry_after_s */
  KT_AUTH_ERROR_NO_SESSION,  /* no such session, or it expired */
  KT_AUTH_ERROR_BUSY,        /* too many password hashes being computed; retry in a second */
  KT_AUTH_ERROR_STORE,       /* the database failed */
} KtAuthError;

typedef enum {
  KT_ROLE_ADMIN,     /* "admin": accounts, channels, reports */
  KT_ROLE_TEACHER,   /* "teacher": publishes lessons and gives live talks */
  KT_ROLE_VIEWPOINT, /* "viewpoint": a viewing point (收视点) that watches */
} KtRole;

/* "admin", "teacher", "viewpoint". */
const char *kt_role_to_string (KtRole role);
/* FALSE (and @role untouched) for anything else, including NULL. */
gboolean kt_role_from_string (const char *text, KtRole *role);

/* An account as callers see it: a copy, never with the password hash. */
typedef struct {
  gint64 id;
  char *name;         /* the login name: unique, no spaces */
  char *display_name; /* what pages show: "王老师", "城关镇收视点" */
  KtRole role;
  gboolean disabled;
  gint64 created_us;
} KtUser;

KtUser *kt_user_copy (const KtUser *user);
void kt_user_free (KtUser *user);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtUser, kt_user_free)

/* A signed-in browser. The token is the cookie value and exists in clear only
 * in the session kt_auth_login() returns; the database keeps its SHA-256. */
typedef struct {
  KtUser *user;
  char *token;      /* NULL except right after login */
  char *token_hash; /* hex SHA-256 of the token: the session's key */
  char *csrf;       /* to be echoed in X-CSRF-Token on state-changing requests */
  gint64 created_us;
  gint64 expires_us;
} KtSession;

void kt_session_free (KtSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtSession, kt_session_free)

/* Accounts, password hashes, sessions and the failed-login throttle, kept in
 * the store. Main thread only (password hashing runs in a worker thread
 * behind the _async calls). */
typedef struct _KtAuth KtAuth;

/* @session_us: how long a login lasts; @max_failures: failed logins for one
 * name before further attempts are refused for a growing delay. */
KtAuth *kt_auth_new (KtStore *store /* borrowed, outlives the auth */, gint64 session_us,
                     guint max_failures);
/* Cancels pending hashes: their callbacks get G_IO_ERROR_CANCELLED and do
 * not touch the freed auth. */
void kt_auth_free (KtAuth *auth);

/* Accounts. @display_name may be NULL (the name is shown). Passwords are
 * 8 to 256 bytes of UTF-8. These hash on the calling thread (about 0.2 s):
 * fine for the CLI and tests; the HTTP server uses the _async forms. */
KtUser *kt_auth_user_add (KtAuth *auth, const char *name, const char *display_name, KtRole role,
                          const char *password, GError **error);
void kt_auth_user_add_async (KtAuth *auth, const char *name, const char *display_name, KtRole role,
                             const char *password, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);
KtUser *kt_auth_user_add_finish (KtAuth *auth, GAsyncResult *result, GError **error);
/* Also ends every session of the account. */
gboolean kt_auth_user_set_password (KtAuth *auth, const char *name, const char *password,
                                    GError **error);
/* Disabling ends every session of the account; enabling lets it log in again. */
gboolean kt_auth_user_set_disabled (KtAuth *auth, const char *name, gboolean disabled,
                                    GError **error);
/* (transfer full) NULL with KT_AUTH_ERROR_NOT_FOUND. */
KtUser *kt_auth_user_find (KtAuth *auth, const char *name, GError **error);
/* KtUser*, by name. NULL only when the database fails. */
GPtrArray *kt_auth_user_list (KtAuth *auth, GError **error);

/* Log in: check the throttle, verify the password against its Argon2id hash
 * and make a session whose token is returned in clear this once. A wrong
 * password and an unknown name fail alike (and take alike long). @peer is
 * the client address, for the log only. */
KtSession *kt_auth_login (KtAuth *auth, const char *name, const char *password, const char *peer,
                          GError **error);
void kt_auth_login_async (KtAuth *auth, const char *name, const char *password, const char *peer,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data);
KtSession *kt_auth_login_finish (KtAuth *auth, GAsyncResult *result, GError **error);
/* How many _async hashes may be running or waiting; one more is refused
 * with KT_AUTH_ERROR_BUSY. */
guint kt_auth_hash_capacity (KtAuth *auth);
/* Seconds until @name may try again (0 when it may now). */
guint kt_auth_retry_after_s (KtAuth *auth, const char *name);

/* The live session for a cookie @token, or NULL with KT_AUTH_ERROR_NO_SESSION
 * (unknown, expired, or its account disabled). (transfer full) */
KtSession *kt_auth_session_lookup (KtAuth *auth, const char *token, GError **error);
/* Log out. Ending a session that is already gone is not an error. */
gboolean kt_auth_session_end (KtAuth *auth, const KtSession *session, GError **error);
/* Constant-time check of a request's CSRF token against the session's. */
gboolean kt_auth_session_check_csrf (const KtSession *session, const char *csrf);

/* Forget expired sessions and old failure counts (housekeeping). */
void kt_auth_purge (KtAuth *auth);

/* Secret tokens (session cookies, viewing-point tokens): 32 bytes from the
 * system's cryptographic source, as KT_AUTH_TOKEN_CHARS of base64url; kept
 * only as their SHA-256 (hex) so a copied database opens nothing. */
#define KT_AUTH_TOKEN_CHARS 43
char *kt_auth_token_new (void);
char *kt_auth_token_hash (const char *token);
gboolean kt_auth_token_well_formed (const char *token);

/* Publish keys (kt-auth-publish.c): what a teacher's OBS or camera sends
 * to publish a live talk. One per teacher or administrator, kept only as
 * its SHA-256.
 *
 * kt_auth_publish_key_rotate makes @user a new key, replacing any old one,
 * and returns it in clear this once (transfer full; KT_AUTH_ERROR_INVALID
 * for a viewing point or a disabled account). kt_auth_publish_key_created
 * says when the current key was made (FALSE with KT_AUTH_ERROR_NOT_FOUND
 * when there is none). kt_auth_publish_key_check finds the account a key
 * belongs to: NULL with KT_AUTH_ERROR_CREDENTIALS for a wrong key,
 * KT_AUTH_ERROR_DISABLED for a disabled account. Main thread only. */
char *kt_auth_publish_key_rotate (KtAuth *auth, const KtUser *user, GError **error);
gboolean kt_auth_publish_key_created (KtAuth *auth, const KtUser *user, gint64 *created_us,
                                      GError **error);
KtUser *kt_auth_publish_key_check (KtAuth *auth, const char *key, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtAuth, kt_auth_free)

G_END_DECLS
