/* `ketang user` as an administrator meets it: an account added from the
 * shell (password on standard input or in a file) logs in over HTTP; a bad
 * role, a missing name and an unknown verb exit 64; a short password and a
 * taken name 65; an unknown account 67; a missing database 66; `disable`
 * run while the server serves ends that account's session at once; the
 * password is never echoed and `list` shows no hash. */
#include <gio/gio.h>
#include <sysexits.h>

#include "test-utils.h"

static const char *ketang;

/* `ketang user ARGS… --data DIR`, with @input on standard input. */
static void
run_user (KtTestRun *r, const char *dir, const char *input, const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer)ketang);
  g_ptr_array_add (argv, "user");
  for (int i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer)args[i]);
  g_ptr_array_add (argv, "--data");
  g_ptr_array_add (argv, (gpointer)dir);
  g_ptr_array_add (argv, NULL);
  kt_test_run (r, (const char *const *) argv->pdata, input);
}

static KtTestResponse *
login (KtApp *app, const char *name, const char *password)
{
  g_autofree char *body
      = g_strdup_printf ("{\"name\": \"%s\", \"password\": \"%s\"}", name, password);
  return kt_test_request_body (app, "POST", "/api/login", NULL, "application/json", body);
}

static void
test_add_then_login (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  g_autofree char *data = g_build_filename (dir, "fresh", "data", NULL); /* not there yet */
  g_auto (KtTestRun) r = { 0 };
  run_user (
      &r, data, "first-admin-pw\n",
      (const char *[]){ "add", "--role", "admin", "--display-name", "县管理员", "boss", NULL });
  g_assert_cmpint (r.status, ==, 0);
  g_assert_null (strstr (r.out, "first-admin-pw"));
  g_assert_null (strstr (r.err, "first-admin-pw"));

  g_autofree char *pwfile = g_build_filename (dir, "pw.txt", NULL);
  g_assert_true (g_file_set_contents (pwfile, "teacher-pw-1\r\nignored\n", -1, NULL));
  g_auto (KtTestRun) t = { 0 };
  run_user (
      &t, data, NULL,
      (const char *[]){ "add", "wang", "--role", "teacher", "--password-file", pwfile, NULL });
  g_assert_cmpint (t.status, ==, 0);

  g_auto (KtTestRun) l = { 0 };
  run_user (&l, data, NULL, (const char *[]){ "list", NULL });
  g_assert_cmpint (l.status, ==, 0);
  g_assert_nonnull (strstr (l.out, "boss"));
  g_assert_nonnull (strstr (l.out, "县管理员"));
  g_assert_nonnull (strstr (l.out, "teacher"));
  g_assert_null (strstr (l.out, "argon2"));

  KtApp *app = kt_test_app_start (data, FALSE, NULL);
  g_autoptr (KtTestResponse) ok = login (app, "boss", "first-admin-pw");
  g_assert_cmpuint (ok->status, ==, 200);
  g_autoptr (KtTestResponse) ok2 = login (app, "wang", "teacher-pw-1");
  g_assert_cmpuint (ok2->status, ==, 200);
  g_autoptr (KtTestResponse) bad = login (app, "boss", "first-admin-pw\n");
  g_assert_cmpuint (bad->status, ==, 401);
  kt_app_free (app);
  kt_test_rmtree (dir);
}

static void
test_usage_and_data_errors (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  static const struct {
    const char *args[8];
    const char *input;
    int status;
    const char *says;
  } cases[] = {
    { { "add", "--role", "root", "x", NULL }, "long-enough\n", EX_USAGE, "--role" },
    { { "add", "x", NULL }, "long-enough\n", EX_USAGE, "--role" },
    { { "add", "--role", "teacher", NULL }, "long-enough\n", EX_USAGE, "Usage" },
    { { "frobnicate", "x", NULL }, NULL, EX_USAGE, "Usage" },
    { { "list", "--no-such-option", NULL }, NULL, EX_USAGE, "no-such-option" },
    { { "disable", "--role", "admin", "x", NULL }, NULL, EX_USAGE, "--role" },
    { { "list", NULL }, NULL, EX_NOINPUT, "no database" }, /* nothing added yet */
    { { "add", "--role", "teacher", "li", NULL }, "short\n", EX_DATAERR, "8 characters" },
    { { "add", "--role", "teacher", "li", NULL }, "", EX_NOINPUT, "no password" },
    { { "add", "--role", "teacher", "two words", NULL }, "long-enough\n", EX_DATAERR, "name" },
    { { "add", "--role", "teacher", "li", NULL }, "long-enough\n", 0, "added li" },
    { { "add", "--role", "viewpoint", "LI", NULL }, "long-enough\n", EX_DATAERR, "taken" },
    { { "passwd", "nobody", NULL }, "long-enough\n", EX_NOUSER, "nobody" },
    { { "disable", "nobody", NULL }, NULL, EX_NOUSER, "nobody" },
    { { "add", "--role", "teacher", "--password-file", "/nonexistent", "zhang", NULL },
      NULL,
      EX_NOINPUT,
      "/nonexistent" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_auto (KtTestRun) r = { 0 };
    run_user (&r, dir, cases[i].input, cases[i].args);
    if (r.status != cases[i].status
        || (!strstr (r.err, cases[i].says) && !strstr (r.out, cases[i].says)))
      g_error ("case %u: exit %d (want %d), out “%s” err “%s” (want “%s”)", i, r.status,
               cases[i].status, r.out, r.err, cases[i].says);
  }
  g_auto (KtTestRun) help = { 0 };
  kt_test_run (&help, (const char *[]){ ketang, "--help", NULL }, NULL);
  g_assert_nonnull (strstr (help.out, "user add --role admin|teacher|viewpoint"));
  kt_test_rmtree (dir);
}

/* The CLI and the running server share the database: disabling an account
 * from the shell ends its session at once; passwd changes the password. */
static void
test_disable_and_passwd_while_serving (void)
{
  g_autofree char *dir = kt_test_mkdtemp ();
  g_auto (KtTestRun) r = { 0 };
  run_user (&r, dir, "old-password\n",
            (const char *[]){ "add", "--role", "viewpoint", "room", NULL });
  g_assert_cmpint (r.status, ==, 0);
  KtApp *app = kt_test_app_start (dir, FALSE, NULL);
  g_autoptr (KtTestResponse) in = login (app, "room", "old-password");
  g_assert_cmpuint (in->status, ==, 200);
  g_auto (GStrv) cookie
      = g_strsplit (soup_message_headers_get_one (in->headers, "Set-Cookie"), ";", 2);
  const char *headers[] = { "Cookie", cookie[0], NULL };
  g_autoptr (KtTestResponse) me = kt_test_request (app, "GET", "/api/me", headers);
  g_assert_cmpuint (me->status, ==, 200);

  g_auto (KtTestRun) d = { 0 };
  run_user (&d, dir, NULL, (const char *[]){ "disable", "room", NULL });
  g_assert_cmpint (d.status, ==, 0);
  g_autoptr (KtTestResponse) out = kt_test_request (app, "GET", "/api/me", headers);
  g_assert_cmpuint (out->status, ==, 401);
  g_autoptr (KtTestResponse) refused = login (app, "room", "old-password");
  g_assert_cmpuint (refused->status, ==, 403);

  g_auto (KtTestRun) e = { 0 }, p = { 0 };
  run_user (&e, dir, NULL, (const char *[]){ "enable", "room", NULL });
  g_assert_cmpint (e.status, ==, 0);
  run_user (&p, dir, "new-password\n", (const char *[]){ "passwd", "room", NULL });
  g_assert_cmpint (p.status, ==, 0);
  g_autoptr (KtTestResponse) old = login (app, "room", "old-password");
  g_assert_cmpuint (old->status, ==, 401);
  g_autoptr (KtTestResponse) fresh = login (app, "room", "new-password");
  g_assert_cmpuint (fresh->status, ==, 200);
  kt_app_free (app);
  kt_test_rmtree (dir);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  ketang = g_getenv ("KETANG_BIN");
  g_assert_nonnull (ketang);
  g_test_add_func ("/cli-user/add-then-login", test_add_then_login);
  g_test_add_func ("/cli-user/usage-and-data-errors", test_usage_and_data_errors);
  g_test_add_func ("/cli-user/disable-and-passwd-while-serving",
                   test_disable_and_passwd_while_serving);
  return g_test_run ();
}
