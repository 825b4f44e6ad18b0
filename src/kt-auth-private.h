#pragma once

/* What kt-auth.c (accounts, passwords, logins) and kt-auth-session.c
 * (tokens and sessions) share. Not for other modules. */

#include "kt-auth.h"

G_BEGIN_DECLS

struct _KtAuth {
  KtStore *store; /* borrowed */
  gint64 session_us;
  guint max_failures;
  guint hashing;       /* hashes running in worker threads */
  guint max_hashing;   /* how many may run at once */
  GQueue waiting;      /* GTask*: jobs waiting for a free hashing slot */
  GCancellable *alive; /* cancelled by kt_auth_free; jobs hold a ref */
};

/* The columns kt_auth_user_from_row() reads, for a query on users AS u. */
#define KT_AUTH_USER_COLUMNS "u.id, u.name, u.display_name, u.role, u.disabled, u.created_us"

/* The KtUser in the row @stmt stands on, columns from @first on as in
 * KT_AUTH_USER_COLUMNS; NULL (and a warning) for a role this build does not
 * know. */
KtUser *kt_auth_user_from_row (sqlite3_stmt *stmt, int first);

/* Run one statement that returns no rows; TRUE when it ran. Its parameters
 * follow @error as pairs, 's' then a const char * or 'i' then a gint64 (cast
 * it: a plain int there is undefined behaviour), ended by 0. @changes, when
 * given, gets the number of rows changed. */
gboolean kt_auth_run (KtAuth *auth, const char *sql, int *changes, GError **error, ...);

/* Set @error to KT_AUTH_ERROR_STORE from @local (taken). Returns FALSE. */
gboolean kt_auth_store_error (GError **error, GError *local);

/* Wipe a secret string, then free it. NULL is fine. */
void kt_auth_free_secret (char *secret);

/* A new session for @user (taken), with its token in clear. */
KtSession *kt_auth_session_start (KtAuth *auth, KtUser *user, GError **error);

G_END_DECLS
