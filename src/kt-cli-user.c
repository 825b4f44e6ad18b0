/* kt-cli-user: `ketang user`, accounts from the shell.
 *
 *   ketang user add --role admin|teacher|viewpoint [--display-name NAME] NAME
 *   ketang user passwd NAME
 *   ketang user list
 *   ketang user disable NAME   /   ketang user enable NAME
 *
 * (each also takes --data DIR, --config FILE, and add and passwd take
 * --password-file FILE). This is how the first administrator comes to be on
 * a fresh install, before there is anyone to log in to the web pages, and
 * how a county admin resets a teacher's forgotten password.
 *
 * A password never goes on the command line, where `ps` and the shell
 * history would show it: it is read from --password-file or from standard
 * input (its first line). On a terminal it is asked for twice, without echo.
 *
 * The database is the server's own, opened through kt-store (so `add` on a
 * fresh data directory creates it) and safe to use while the server runs:
 * WAL lets both write, and the server reads accounts and sessions from the
 * database on every request, so a disabled account is out at once.
 *
 * Exit status (sysexits): 0 done; 64 bad command line (unknown verb, bad
 * role, missing name); 65 a bad name, password or display name, or a name
 * that is taken; 66 no database there, or an unreadable password file; 67 no
 * such account; 73 the database cannot be used; 78 a bad config file.
 */
#define G_LOG_DOMAIN "ketang"

#include "kt-cli-user.h"
#include "kt-auth.h"
#include "kt-config.h"
#include "kt-store.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <sysexits.h>
#include <termios.h>
#include <unistd.h>

#define PASSWORD_LINE_MAX 1024

static const char usage[]
    = "Usage: ketang user add --role admin|teacher|viewpoint [--display-name NAME] NAME\n"
      "       ketang user passwd NAME\n"
      "       ketang user list\n"
      "       ketang user disable NAME\n"
      "       ketang user enable NAME\n"
      "Options: --data DIR, --config FILE; add and passwd: --password-file FILE\n"
      "The password is read from --password-file or standard input (first line).\n";

static int
exit_code_for (const GError *error)
{
  if (error->domain == KT_CONFIG_ERROR)
    return EX_CONFIG;
  if (error->domain == KT_AUTH_ERROR) {
    switch ((KtAuthError)error->code) {
      case KT_AUTH_ERROR_INVALID:
      case KT_AUTH_ERROR_EXISTS:
        return EX_DATAERR;
      case KT_AUTH_ERROR_NOT_FOUND:
        return EX_NOUSER;
      default:
        return EX_CANTCREAT;
    }
  }
  return EX_CANTCREAT; /* the store */
}

static int
fail (const GError *error)
{
  g_printerr ("ketang user: %s\n", error->message);
  return exit_code_for (error);
}

/* One line from @stream without its line end, or NULL (end of input, or a
 * line too long to be a password). Wipe and free it with free_password(). */
static char *
read_line (FILE *stream)
{
  char buf[PASSWORD_LINE_MAX];
  char *line = NULL;
  if (fgets (buf, sizeof buf, stream) != NULL) {
    gsize len = strcspn (buf, "\r\n");
    if (buf[len] != '\0' || feof (stream))
      line = g_strndup (buf, len);
  }
  sodium_memzero (buf, sizeof buf);
  return line;
}

static void
free_password (char *password)
{
  if (password != NULL)
    sodium_memzero (password, strlen (password));
  g_free (password);
}

/* A password string: g_autoptr (char_secret) wipes it when it goes. */
typedef char char_secret;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (char_secret, free_password)

/* Ask on the terminal without echo. */
static char *
prompt (const char *question)
{
  struct termios saved, quiet;
  gboolean restore = tcgetattr (STDIN_FILENO, &saved) == 0;
  if (restore) {
    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  fprintf (stderr, "%s", question);
  char *line = read_line (stdin);
  if (restore)
    tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved);
  fprintf (stderr, "\n");
  return line;
}

static char *
read_password (const char *file, const char *name)
{
  if (file != NULL) {
    FILE *stream = fopen (file, "r");
    if (stream == NULL) {
      g_printerr ("ketang user: cannot read %s: %s\n", file, g_strerror (errno));
      return NULL;
    }
    char *line = read_line (stream);
    fclose (stream);
    if (line == NULL)
      g_printerr ("ketang user: %s holds no password line\n", file);
    return line;
  }
  if (!isatty (STDIN_FILENO)) {
    char *line = read_line (stdin);
    if (line == NULL)
      g_printerr ("ketang user: no password on standard input\n");
    return line;
  }
  g_autofree char *question = g_strdup_printf ("Password for %s: ", name);
  g_autoptr (char_secret) first = prompt (question);
  g_autoptr (char_secret) second = first ? prompt ("Again: ") : NULL;
  if (second == NULL || !g_str_equal (first, second)) {
    g_printerr ("ketang user: the two passwords differ\n");
    return NULL;
  }
  return g_steal_pointer (&first);
}

typedef struct {
  KtConfig *config;
  KtStore *store;
  KtAuth *auth;
} Accounts;

static void
accounts_clear (Accounts *a)
{
  g_clear_pointer (&a->auth, kt_auth_free);
  g_clear_pointer (&a->store, kt_store_free);
  g_clear_pointer (&a->config, kt_config_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Accounts, accounts_clear)

/* Open the server's database; @create for `add` on a fresh install. */
static int
open_accounts (Accounts *a, const char *config_path, const char *data_dir, gboolean create)
{
  g_autoptr (GError) error = NULL;
  a->config = kt_config_load (config_path, &error);
  if (a->config == NULL
      || (data_dir
          && !kt_config_override (a->config, "server", "data_dir", data_dir, "--data", &error)))
    return fail (error);
  const char *dir = kt_config_get_string (a->config, "server", "data_dir");
  g_autofree char *db_path = g_build_filename (dir, "ketang.db", NULL);
  if (!create && !g_file_test (db_path, G_FILE_TEST_IS_REGULAR)) {
    g_printerr ("ketang user: no database at %s (use --data DIR)\n", db_path);
    return EX_NOINPUT;
  }
  if (create && g_mkdir_with_parents (dir, 0755) != 0) {
    g_printerr ("ketang user: cannot create %s: %s\n", dir, g_strerror (errno));
    return EX_CANTCREAT;
  }
  a->store = kt_store_open (db_path, &error);
  if (a->store == NULL)
    return fail (error);
  a->auth = kt_auth_new (
      a->store, kt_config_get_int (a->config, "auth", "session_hours") * 3600 * G_USEC_PER_SEC,
      (guint)kt_config_get_int (a->config, "auth", "login_max_failures"));
  return EX_OK;
}

static int
list (Accounts *a)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) users = kt_auth_user_list (a->auth, &error);
  if (users == NULL)
    return fail (error);
  g_autoptr (GTimeZone) tz
      = g_time_zone_new_identifier (kt_config_get_string (a->config, "server", "timezone"));
  if (tz == NULL)
    tz = g_time_zone_new_utc ();
  printf ("%-20s %-10s %-9s %-16s %s\n", "NAME", "ROLE", "STATE", "CREATED", "DISPLAY NAME");
  for (guint i = 0; i < users->len; i++) {
    const KtUser *u = users->pdata[i];
    g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (u->created_us / G_USEC_PER_SEC);
    g_autoptr (GDateTime) local = g_date_time_to_timezone (utc, tz);
    g_autofree char *created = g_date_time_format (local, "%Y-%m-%d %H:%M");
    printf ("%-20s %-10s %-9s %-16s %s\n", u->name, kt_role_to_string (u->role),
            u->disabled ? "disabled" : "active", created, u->display_name);
  }
  return EX_OK;
}

int
kt_cli_user (int argc, char **argv)
{
  g_autofree char *data_dir = NULL, *config_path = NULL, *role_text = NULL;
  g_autofree char *display_name = NULL, *password_file = NULL;
  GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "The data directory with ketang.db (default ./data, or the config's)", "DIR" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
      "Read settings (data_dir, timezone) from FILE", "FILE" },
    { "role", 'r', 0, G_OPTION_ARG_STRING, &role_text, "add: admin, teacher or viewpoint", "ROLE" },
    { "display-name", 0, 0, G_OPTION_ARG_STRING, &display_name,
      "add: the name pages show (default: NAME)", "TEXT" },
    { "password-file", 'p', 0, G_OPTION_ARG_FILENAME, &password_file,
      "add, passwd: read the password from FILE's first line instead of standard input", "FILE" },
    { NULL }
  };
  g_autoptr (GOptionContext) context
      = g_option_context_new ("add|passwd|list|disable|enable [NAME] - manage accounts");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("ketang user: %s\n%s", error->message, usage);
    return EX_USAGE;
  }
  const char *verb = argc > 1 ? argv[1] : "";
  const char *name = argc > 2 ? argv[2] : NULL;
  gboolean is_list = g_str_equal (verb, "list");
  const char *const verbs[] = { "add", "passwd", "list", "disable", "enable", NULL };
  if (!g_strv_contains (verbs, verb) || argc != (is_list ? 2 : 3)) {
    g_printerr ("%s", usage);
    return EX_USAGE;
  }
  KtRole role = KT_ROLE_VIEWPOINT;
  gboolean is_add = g_str_equal (verb, "add");
  if ((is_add && !kt_role_from_string (role_text, &role)) || (!is_add && role_text)) {
    g_printerr ("ketang user: %s\n%s",
                is_add ? "--role must be admin, teacher or viewpoint" : "--role is for add only",
                usage);
    return EX_USAGE;
  }

  g_auto (Accounts) a = { 0 };
  int status = open_accounts (&a, config_path, data_dir, is_add);
  if (status != EX_OK)
    return status;
  if (is_list)
    return list (&a);
  if (g_str_equal (verb, "disable") || g_str_equal (verb, "enable")) {
    gboolean disable = g_str_equal (verb, "disable");
    if (!kt_auth_user_set_disabled (a.auth, name, disable, &error))
      return fail (error);
    printf ("%s %s\n", name, disable ? "disabled (its sessions ended)" : "enabled");
    return EX_OK;
  }

  g_autoptr (char_secret) password = read_password (password_file, name);
  if (password == NULL)
    return EX_NOINPUT;
  if (is_add) {
    g_autoptr (KtUser) user = kt_auth_user_add (a.auth, name, display_name, role, password, &error);
    if (user == NULL)
      return fail (error);
    printf ("added %s (%s)\n", user->name, kt_role_to_string (user->role));
  } else {
    if (!kt_auth_user_set_password (a.auth, name, password, &error))
      return fail (error);
    printf ("password of %s changed (its sessions ended)\n", name);
  }
  return EX_OK;
}
