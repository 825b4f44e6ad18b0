/* HTTPS: with a certificate and key in the config the server speaks TLS
 * only. Checked with a client that trusts just the test's own self-signed
 * certificate (made here by openssl, for 127.0.0.1), so the handshake, the
 * certificate and the host name are verified as a browser would: pages and
 * the API answer, a login cookie is marked Secure, a client that does not
 * trust the certificate is refused, plain HTTP on the port gets no answer,
 * and a missing certificate stops the server with the file's name. */
#include "kt-app.h"
#include "test-utils.h"

static char *dir;
static char *cert;
static char *key;

static void
make_certificate (void)
{
  dir = kt_test_mkdtemp ();
  cert = g_build_filename (dir, "cert.pem", NULL);
  key = g_build_filename (dir, "key.pem", NULL);
  const char *argv[] = { "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                         "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                         key, "-out", cert, NULL };
  g_auto (KtTestRun) run = { 0 };
  kt_test_run (&run, argv, NULL);
  g_assert_cmpint (run.status, ==, 0);
}

static void
on_done (GObject *source, GAsyncResult *result, gpointer data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

static void
test_https (void)
{
  g_autofree char *data = kt_test_mkdtemp ();
  g_autofree char *cert_setting = g_strconcat ("server.tls_certificate=", cert, NULL);
  g_autofree char *key_setting = g_strconcat ("server.tls_key=", key, NULL);
  const char *settings[] = { cert_setting, key_setting, NULL };
  KtApp *app = kt_test_app_start (data, FALSE, settings);
  g_assert_true (g_str_has_prefix (kt_app_base_uri (app), "https://127.0.0.1:"));

  /* A client with the system's trust store: the certificate is refused. */
  g_autoptr (SoupSession) stranger = soup_session_new ();
  g_autofree char *health_url = g_strconcat (kt_app_base_uri (app), "healthz", NULL);
  g_autoptr (SoupMessage) probe = soup_message_new ("GET", health_url);
  g_autoptr (GError) tls_error = NULL;
  GAsyncResult *result = NULL;
  soup_session_send_and_read_async (stranger, probe, G_PRIORITY_DEFAULT, NULL,
                                    on_done, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_autoptr (GBytes) nothing = soup_session_send_and_read_finish (stranger, result, &tls_error);
  g_object_unref (result);
  g_assert_null (nothing);
  g_assert_error (tls_error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);

  kt_test_trust_certificate (cert);
  g_autoptr (KtTestResponse) health = kt_test_get (app, "/healthz");
  g_assert_cmpuint (health->status, ==, 200);
  g_autoptr (KtTestResponse) page = kt_test_get (app, "/");
  g_assert_cmpuint (page->status, ==, 200);

  /* A login over HTTPS: the cookie is Secure (and HttpOnly). */
  g_auto (KtTestSession) admin = { 0 };
  kt_test_session_open (app, "admin", "admin", &admin);
  g_autoptr (KtTestResponse) login = kt_test_request_body (
      app, "POST", "/api/login", NULL, "application/json",
      "{\"name\": \"admin\", \"password\": \"admin-password\"}");
  g_assert_cmpuint (login->status, ==, 200);
  const char *cookie = soup_message_headers_get_one (login->headers, "Set-Cookie");
  g_assert_nonnull (cookie);
  g_assert_nonnull (strstr (cookie, "; Secure"));
  g_assert_nonnull (strstr (cookie, "HttpOnly"));
  g_autoptr (KtTestResponse) users = kt_test_request_as (app, &admin, "GET", "/api/users", NULL, NULL);
  g_assert_cmpuint (users->status, ==, 200);

  /* Plain HTTP to the TLS port is not served. */
  g_assert_cmpuint (kt_test_raw_status (app, "GET /healthz HTTP/1.1"), ==, 0);

  kt_app_free (app);
  kt_test_rmtree (data);
}

static void
test_missing_certificate (void)
{
  g_autofree char *data = kt_test_mkdtemp ();
  g_autoptr (GError) error = NULL;
  KtConfig *config = kt_config_load (NULL, &error);
  g_assert_no_error (error);
  kt_config_override (config, "server", "listen", "127.0.0.1:0", "test", &error);
  kt_config_override (config, "server", "data_dir", data, "test", &error);
  kt_config_override (config, "server", "tls_certificate", "/nonexistent/cert.pem", "test", &error);
  g_assert_no_error (error);
  KtApp *app = kt_app_new (config, FALSE, &error);
  g_assert_no_error (error);
  g_assert_false (kt_app_start (app, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "/nonexistent/cert.pem"));
  kt_app_free (app);
  kt_test_rmtree (data);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  make_certificate ();
  g_test_add_func ("/tls/https", test_https);
  g_test_add_func ("/tls/missing-certificate", test_missing_certificate);
  int status = g_test_run ();
  kt_test_rmtree (dir);
  return status;
}
