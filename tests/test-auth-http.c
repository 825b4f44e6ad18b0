/* Accounts over HTTP, on the real server with a real SQLite file: login sets
 * a cookie with the right attributes, /api/me and logout, 401 for strangers
 * and 403 for the wrong role, the CSRF header on state-changing requests,
 * request bodies checked with clear JSON errors, the login throttle (429 and
 * Retry-After, passed with the fake clock), session expiry, and a walk of the
 * whole route table: every route not marked public refuses a stranger. */
#include <json-glib/json-glib.h>

#include "kt-clock.h"
#include "kt-http.h"
#include "test-utils.h"

#define T0 (G_GINT64_CONSTANT (1800000000) * KT_USEC_PER_SEC)

typedef struct {
  char *data_dir;
  KtApp *app;
} Fixture;

typedef struct {
  char *cookie; /* "ketang_session=…", for a Cookie header */
  char *csrf;
} Login;

static void
login_clear (Login *login)
{
  g_free (login->cookie);
  g_free (login->csrf);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Login, login_clear)

static void
add_user (Fixture *f, const char *name, KtRole role, const char *password)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (KtUser) user
      = kt_auth_user_add (kt_app_auth (f->app), name, NULL, role, password, &error);
  g_assert_no_error (error);
}

static void
fixture_set_up (Fixture *f, gconstpointer unused)
{
  kt_clock_set_fake (T0);
  f->data_dir = kt_test_mkdtemp ();
  const char *settings[] = { "auth.login_max_failures=3", NULL };
  f->app = kt_test_app_start (f->data_dir, FALSE, settings);
  add_user (f, "admin", KT_ROLE_ADMIN, "admin-password");
  add_user (f, "teacher", KT_ROLE_TEACHER, "teacher-password");
  add_user (f, "room", KT_ROLE_VIEWPOINT, "room-password");
}

static void
fixture_tear_down (Fixture *f, gconstpointer unused)
{
  kt_app_free (f->app);
  kt_test_rmtree (f->data_dir);
  g_free (f->data_dir);
  kt_clock_use_real ();
}

static JsonObject *
parse_object (KtTestResponse *r, JsonParser *parser)
{
  g_autofree char *text = kt_test_body_text (r);
  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  return json_node_get_object (json_parser_get_root (parser));
}

/* POST a JSON @body, as @as (NULL: a stranger), with @csrf (NULL: none). */
static KtTestResponse *
post (Fixture *f, const char *path, const Login *as, const char *csrf, const char *body)
{
  const char *headers[5] = { NULL };
  int n = 0;
  if (as)
    headers[n++] = "Cookie", headers[n++] = as->cookie;
  if (csrf)
    headers[n++] = "X-CSRF-Token", headers[n++] = csrf;
  return kt_test_request_body (f->app, "POST", path, headers, "application/json", body);
}

static KtTestResponse *
get (Fixture *f, const char *path, const Login *as)
{
  const char *headers[] = { "Cookie", as ? as->cookie : NULL, NULL };
  return kt_test_request (f->app, "GET", path, as ? headers : NULL);
}

static KtTestResponse *
post_login (Fixture *f, const char *name, const char *password)
{
  g_autofree char *body
      = g_strdup_printf ("{\"name\": \"%s\", \"password\": \"%s\"}", name, password);
  return post (f, "/api/login", NULL, NULL, body);
}

/* Log in over HTTP and check the answer and its cookie. */
static void
login (Fixture *f, const char *name, const char *password, Login *out)
{
  g_autoptr (KtTestResponse) r = post_login (f, name, password);
  g_assert_cmpuint (r->status, ==, 200);
  const char *set_cookie = soup_message_headers_get_one (r->headers, "Set-Cookie");
  g_assert_nonnull (set_cookie);
  g_auto (GStrv) attrs = g_strsplit (set_cookie, "; ", -1);
  g_assert_true (g_str_has_prefix (attrs[0], "ketang_session="));
  g_assert_cmpuint (strlen (attrs[0]), ==, strlen ("ketang_session=") + 43);
  const char *expected[] = { "Path=/", "Max-Age=43200", "HttpOnly", "SameSite=Lax" };
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_true (g_strv_contains ((const char *const *)attrs, expected[i]));
  g_assert_false (g_strv_contains ((const char *const *)attrs, "Secure")); /* plain HTTP */
  g_assert_cmpstr (soup_message_headers_get_one (r->headers, "Cache-Control"), ==, "no-store");

  g_autofree char *text = kt_test_body_text (r);
  g_assert_null (strstr (text, password));
  g_assert_null (strstr (text, "argon2"));
  g_assert_null (
      strstr (text, attrs[0] + strlen ("ketang_session="))); /* the token is cookie-only */
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = parse_object (r, parser);
  JsonObject *user = json_object_get_object_member (o, "user");
  g_assert_cmpstr (json_object_get_string_member (user, "name"), ==, name);
  g_assert_false (json_object_has_member (user, "password_hash"));
  out->cookie = g_strdup (attrs[0]);
  out->csrf = g_strdup (json_object_get_string_member (o, "csrf"));
  g_assert_cmpuint (strlen (out->csrf), ==, 43);
}

static void
test_login_me_logout (Fixture *f, gconstpointer unused)
{
  g_auto (Login) t = { 0 };
  login (f, "teacher", "teacher-password", &t);

  g_autoptr (KtTestResponse) me = get (f, "/api/me", &t);
  g_assert_cmpuint (me->status, ==, 200);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *o = parse_object (me, parser);
  JsonObject *user = json_object_get_object_member (o, "user");
  g_assert_cmpstr (json_object_get_string_member (user, "role"), ==, "teacher");
  g_assert_cmpstr (json_object_get_string_member (o, "csrf"), ==, t.csrf);
  g_assert_nonnull (json_object_get_string_member (o, "expires"));

  g_autoptr (KtTestResponse) no_csrf = post (f, "/api/logout", &t, NULL, NULL);
  kt_test_assert_error (no_csrf, 403, "csrf", NULL);
  g_autoptr (KtTestResponse) out = post (f, "/api/logout", &t, t.csrf, NULL);
  g_assert_cmpuint (out->status, ==, 204);
  const char *cleared = soup_message_headers_get_one (out->headers, "Set-Cookie");
  g_assert_true (g_str_has_prefix (cleared, "ketang_session=; "));
  g_assert_nonnull (strstr (cleared, "Max-Age=0"));

  g_autoptr (KtTestResponse) gone = get (f, "/api/me", &t);
  kt_test_assert_error (gone, 401, "unauthenticated", NULL);
}

static void
test_anonymous_and_wrong_role (Fixture *f, gconstpointer unused)
{
  g_autoptr (KtTestResponse) anon = get (f, "/api/users", NULL);
  kt_test_assert_error (anon, 401, "unauthenticated", NULL);
  Login forged = { "ketang_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL };
  g_autoptr (KtTestResponse) bad = get (f, "/api/users", &forged);
  kt_test_assert_error (bad, 401, "unauthenticated", NULL);
  Login junk = { "other=1; ketang_session=../../etc/passwd", NULL };
  g_autoptr (KtTestResponse) worse = get (f, "/api/users", &junk);
  kt_test_assert_error (worse, 401, "unauthenticated", NULL);

  g_auto (Login) t = { 0 };
  login (f, "teacher", "teacher-password", &t);
  g_autoptr (KtTestResponse) teacher = get (f, "/api/users", &t);
  kt_test_assert_error (teacher, 403, "forbidden", NULL);

  g_auto (Login) a = { 0 };
  login (f, "admin", "admin-password", &a);
  g_autoptr (KtTestResponse) admin = get (f, "/api/users", &a);
  g_assert_cmpuint (admin->status, ==, 200);
  g_autofree char *text = kt_test_body_text (admin);
  g_assert_null (strstr (text, "argon2"));
  g_assert_null (strstr (text, "hash"));
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonArray *users = json_object_get_array_member (parse_object (admin, parser), "users");
  g_assert_cmpuint (json_array_get_length (users), ==, 3);
  JsonObject *second = json_array_get_object_element (users, 1); /* by name: admin, room, … */
  g_assert_cmpstr (json_object_get_string_member (second, "name"), ==, "room");
  g_assert_cmpstr (json_object_get_string_member (second, "role"), ==, "viewpoint");

  /* Public routes still answer strangers. */
  g_autoptr (KtTestResponse) health = get (f, "/healthz", NULL);
  g_assert_cmpuint (health->status, ==, 200);
  g_autoptr (KtTestResponse) channels = get (f, "/api/channels", NULL);
  g_assert_cmpuint (channels->status, ==, 200);
  g_autoptr (KtTestResponse) page = get (f, "/login.html", NULL); /* the repository's web/ */
  g_assert_cmpuint (page->status, ==, 200);
  g_autofree char *html = kt_test_body_text (page);
  g_assert_nonnull (strstr (html, "login.js"));
}

static void
test_csrf_and_create_user (Fixture *f, gconstpointer unused)
{
  g_auto (Login) a = { 0 }, t = { 0 };
  login (f, "admin", "admin-password", &a);
  login (f, "teacher", "teacher-password", &t);
  const char *body = "{\"name\": \"chen\", \"password\": \"chen-password\", \"role\": \"teacher\", "
                     "\"display_name\": \"陈老师\"}";

  g_autoptr (KtTestResponse) none = post (f, "/api/users", &a, NULL, body);
  kt_test_assert_error (none, 403, "csrf", NULL);
  g_autoptr (KtTestResponse) wrong = post (f, "/api/users", &a, "x", body);
  kt_test_assert_error (wrong, 403, "csrf", NULL);
  g_autoptr (KtTestResponse) other = post (f, "/api/users", &a, t.csrf, body); /* not its own */
  kt_test_assert_error (other, 403, "csrf", NULL);
  g_autoptr (KtTestResponse) as_teacher = post (f, "/api/users", &t, t.csrf, body);
  kt_test_assert_error (as_teacher, 403, "forbidden", NULL);

  g_autoptr (KtTestResponse) made = post (f, "/api/users", &a, a.csrf, body);
  g_assert_cmpuint (made->status, ==, 201);
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *user = json_object_get_object_member (parse_object (made, parser), "user");
  g_assert_cmpstr (json_object_get_string_member (user, "display_name"), ==, "陈老师");

  g_auto (Login) c = { 0 };
  login (f, "chen", "chen-password", &c);
  g_autoptr (KtTestResponse) again = post (f, "/api/users", &a, a.csrf, body);
  kt_test_assert_error (again, 409, "exists", NULL);
}

/* Each bad body gets the one JSON error shape, never a crash or a 500. */
static void
test_bad_bodies (Fixture *f, gconstpointer unused)
{
  g_auto (Login) a = { 0 };
  login (f, "admin", "admin-password", &a);
  static const struct {
    const char *path, *body;
    guint status;
    const char *code;
  } cases[] = {
    { "/api/login", "{", 400, "bad-request" },
    { "/api/login", "", 400, "bad-request" },
    { "/api/login", "[\"admin\"]", 400, "bad-request" },
    { "/api/login", "{\"name\": 1, \"password\": \"x\"}", 400, "bad-request" },
    { "/api/login", "{\"name\": \"admin\"}", 400, "bad-request" },
    { "/api/login", "{\"name\": \"admin\", \"password\": \"x\", \"extra\": \"\"}", 400,
      "bad-request" },
    { "/api/login", "{\"name\": \"admin\", \"password\": null}", 400, "bad-request" },
    { "/api/login", "{\"name\": \"a\\u0000b\", \"password\": \"p\"}", 401, "credentials" },
    { "/api/login", "{\"name\": \"admin\", \"password\": \"wrong-password\"}", 401, "credentials" },
    { "/api/users", "{\"name\": \"x\", \"password\": \"long-enough\", \"role\": \"root\"}", 400,
      "invalid" },
    { "/api/users", "{\"name\": \"x\", \"password\": \"short\", \"role\": \"teacher\"}", 400,
      "invalid" },
    { "/api/users", "{\"name\": \"a b\", \"password\": \"long-enough\", \"role\": \"teacher\"}",
      400, "invalid" },
    { "/api/users", "{\"name\": \"x\", \"role\": \"teacher\"}", 400, "bad-request" },
    { "/api/users", "{\"name\": \"x\", \"password\": \"long-enough\", \"role\": [\"admin\"]}", 400,
      "bad-request" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (KtTestResponse) r = post (f, cases[i].path, &a, a.csrf, cases[i].body);
    kt_test_assert_error (r, cases[i].status, cases[i].code, NULL);
  }
  g_autoptr (KtTestResponse) form = kt_test_request_body (
      f->app, "POST", "/api/login", NULL, "application/x-www-form-urlencoded", "name=a&password=b");
  kt_test_assert_error (form, 415, "bad-request", NULL);
  /* Refused from its headers, before the body is read (see test-http for a
   * client that does not wait for 100 Continue). */
  g_autofree char *big = g_strnfill (70000, ' ');
  const char *expect_headers[] = { "Cookie", a.cookie, "X-CSRF-Token", a.csrf,
                                   "Expect", "100-continue", NULL };
  g_autoptr (KtTestResponse) huge = kt_test_request_body (f->app, "POST", "/api/users",
                                                          expect_headers, "application/json", big);
  kt_test_assert_error (huge, 413, "too-large", NULL);
  g_autoptr (KtTestResponse) get_login = get (f, "/api/login", NULL);
  kt_test_assert_error (get_login, 405, "method-not-allowed", NULL);
}

/* login_max_failures is 3 here. */
static void
test_throttle (Fixture *f, gconstpointer unused)
{
  for (int i = 0; i < 3; i++) {
    g_autoptr (KtTestResponse) r = post_login (f, "teacher", "guess-password");
    kt_test_assert_error (r, 401, "credentials", NULL);
  }
  g_autoptr (KtTestResponse) locked = post_login (f, "teacher", "teacher-password");
  kt_test_assert_error (locked, 429, "throttled", NULL);
  g_assert_cmpstr (soup_message_headers_get_one (locked->headers, "Retry-After"), ==, "30");
  g_assert_null (soup_message_headers_get_one (locked->headers, "Set-Cookie"));

  /* Another name is not locked. */
  g_auto (Login) a = { 0 };
  login (f, "admin", "admin-password", &a);

  kt_clock_advance (30 * KT_USEC_PER_SEC);
  g_auto (Login) t = { 0 };
  login (f, "teacher", "teacher-password", &t);
}

static void
test_expiry_and_disabled (Fixture *f, gconstpointer unused)
{
  g_auto (Login) r = { 0 };
  login (f, "room", "room-password", &r);
  kt_clock_advance (12 * 3600 * KT_USEC_PER_SEC - 1);
  g_autoptr (KtTestResponse) still = get (f, "/api/me", &r);
  g_assert_cmpuint (still->status, ==, 200);
  kt_clock_advance (1);
  g_autoptr (KtTestResponse) expired = get (f, "/api/me", &r);
  kt_test_assert_error (expired, 401, "unauthenticated", NULL);

  g_auto (Login) again = { 0 };
  login (f, "room", "room-password", &again);
  g_autoptr (GError) error = NULL;
  g_assert_true (kt_auth_user_set_disabled (kt_app_auth (f->app), "room", TRUE, &error));
  g_autoptr (KtTestResponse) ended = get (f, "/api/me", &again);
  kt_test_assert_error (ended, 401, "unauthenticated", NULL);
  g_autoptr (KtTestResponse) refused = post_login (f, "room", "room-password");
  kt_test_assert_error (refused, 403, "disabled", NULL);
}

/* A path under @route that its handler would serve. */
static char *
path_under (const KtRoute *route)
{
  gsize len = strlen (route->prefix);
  return route->prefix[len - 1] == '/' ? g_strconcat (route->prefix, "x", NULL)
                                       : g_strdup (route->prefix);
}

/* Every route says who it is for, in words the dispatcher knows; every one
 * not public refuses a stranger (401) with each method it allows, and one
 * that does not admit viewing points refuses a viewing point (403). */
static void
test_route_table_walk (Fixture *f, gconstpointer unused)
{
  g_auto (Login) room = { 0 };
  login (f, "room", "room-password", &room);
  guint n, protected = 0;
  const KtRoute *routes = kt_http_routes (&n);
  g_assert_cmpuint (n, >, 5);
  for (guint i = 0; i < n; i++) {
    const KtRoute *route = &routes[i];
    g_assert_nonnull (route->roles);
    g_auto (GStrv) roles = g_strsplit (route->roles, " ", -1);
    gboolean admits_room = FALSE;
    for (int k = 0; roles[k]; k++) {
      KtRole role;
      gboolean known = kt_role_from_string (roles[k], &role) || g_str_equal (roles[k], "any")
                       || (g_str_equal (roles[k], "public") && roles[1] == NULL);
      if (!known)
        g_error ("route %s: unknown role word “%s”", route->prefix, roles[k]);
      admits_room |= g_str_equal (roles[k], "any") || g_str_equal (roles[k], "viewpoint");
    }
    if (g_str_equal (route->roles, "public"))
      continue;
    protected++;
    g_autofree char *path = path_under (route);
    g_auto (GStrv) methods = g_strsplit (route->methods, " ", -1);
    for (int m = 0; methods[m]; m++) {
      g_autoptr (KtTestResponse) r
          = kt_test_request_body (f->app, methods[m], path, NULL, "application/json", "{}");
      if (r->status != 401)
        g_error ("%s %s answered a stranger %u", methods[m], path, r->status);
      if (admits_room)
        continue;
      const char *headers[] = { "Cookie", room.cookie, "X-CSRF-Token", room.csrf, NULL };
      g_autoptr (KtTestResponse) v
          = kt_test_request_body (f->app, methods[m], path, headers, "application/json", "{}");
      if (v->status != 403)
        g_error ("%s %s answered a viewing point %u", methods[m], path, v->status);
    }
  }
  g_assert_cmpuint (protected, >=, 3);
}

/* A teacher sees whether they have a publish key and makes a new one; the
 * key is in that one answer only, and the SRT address is given. */
static void
test_publish_key (Fixture *f, gconstpointer unused)
{
  g_auto (Login) t = { 0 }, r = { 0 };
  login (f, "teacher", "teacher-password", &t);
  login (f, "room", "room-password", &r);
  g_autoptr (JsonParser) parser = json_parser_new ();

  g_autoptr (KtTestResponse) none = get (f, "/api/live/key", &t);
  g_assert_cmpuint (none->status, ==, 200);
  JsonObject *o = parse_object (none, parser);
  g_assert_true (json_object_get_null_member (o, "created"));
  g_assert_false (json_object_has_member (o, "key"));
  g_assert_true (json_object_get_null_member (o, "srt_url")); /* SRT is off in tests */

  g_autoptr (KtTestResponse) no_csrf = post (f, "/api/live/key", &t, NULL, "");
  kt_test_assert_error (no_csrf, 403, "csrf", NULL);
  g_autoptr (KtTestResponse) room = post (f, "/api/live/key", &r, r.csrf, "");
  kt_test_assert_error (room, 403, "forbidden", NULL);

  g_autoptr (KtTestResponse) made = post (f, "/api/live/key", &t, t.csrf, "");
  g_assert_cmpuint (made->status, ==, 201);
  o = parse_object (made, parser);
  g_autofree char *key = g_strdup (json_object_get_string_member (o, "key"));
  g_assert_true (kt_auth_token_well_formed (key));
  g_autoptr (GError) error = NULL;
  g_autoptr (KtUser) owner = kt_auth_publish_key_check (kt_app_auth (f->app), key, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (owner->name, ==, "teacher");

  g_autoptr (KtTestResponse) after = get (f, "/api/live/key", &t);
  o = parse_object (after, parser);
  g_assert_false (json_object_get_null_member (o, "created"));
  g_autofree char *text = kt_test_body_text (after);
  g_assert_null (strstr (text, key));
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn) g_test_add (name, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/auth-http/login-me-logout", test_login_me_logout);
  ADD ("/auth-http/anonymous-and-wrong-role", test_anonymous_and_wrong_role);
  ADD ("/auth-http/csrf-and-create-user", test_csrf_and_create_user);
  ADD ("/auth-http/bad-bodies", test_bad_bodies);
  ADD ("/auth-http/throttle", test_throttle);
  ADD ("/auth-http/expiry-and-disabled", test_expiry_and_disabled);
  ADD ("/auth-http/route-table-walk", test_route_table_walk);
  ADD ("/auth-http/publish-key", test_publish_key);
  return g_test_run ();
}
