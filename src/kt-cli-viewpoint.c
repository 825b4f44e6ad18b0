/* kt-cli-viewpoint: `ketang viewpoint`, viewing points (收视点) from the shell.
 *
 *   ketang viewpoint add --township T [--contact C] [--phone P] [--seats N] [--channel ID] NAME
 *   ketang viewpoint token NAME     a new token; the old one stops working
 *   ketang viewpoint list
 *   ketang viewpoint disable NAME   /   ketang viewpoint enable NAME
 *
 * (each also takes --data DIR and --config FILE). `add` and `token` print the
 * room's access token and its kiosk URL path once: only the token's hash is
 * kept, so it cannot be shown again, only replaced. The output is one
 * "key: value" per line so that a script can pick the token out:
 *
 *   added 城关镇老年活动中心
 *   code: 804215
 *   token: 3q2-…
 *   kiosk: /?kiosk=1&token=3q2-…
 *
 * Like `ketang user`, it opens the server's own database through kt-store and
 * may run while the server does.
 *
 * Exit status (sysexits): 0 done; 64 bad command line; 65 a bad or taken
 * name, a bad township or seat count; 66 no database there; 67 no such
 * viewing point; 73 the database cannot be used; 78 a bad config file.
 */
#define G_LOG_DOMAIN "ketang"

#include "kt-cli-viewpoint.h"
#include "kt-config.h"
#include "kt-store.h"
#include "kt-viewpoint.h"

#include <errno.h>
#include <stdio.h>
#include <sysexits.h>

static const char usage[]
    = "Usage: ketang viewpoint add --township TEXT [--contact TEXT] [--phone TEXT] [--seats N]\n"
      "                              [--channel ID] NAME\n"
      "       ketang viewpoint token NAME\n"
      "       ketang viewpoint list\n"
      "       ketang viewpoint disable NAME\n"
      "       ketang viewpoint enable NAME\n"
      "Options: --data DIR, --config FILE\n";

static int
fail (const GError *error)
{
  g_printerr ("ketang viewpoint: %s\n", error->message);
  if (error->domain == KT_CONFIG_ERROR)
    return EX_CONFIG;
  if (error->domain == KT_VIEWPOINT_ERROR) {
    switch ((KtViewpointError) error->code) {
      case KT_VIEWPOINT_ERROR_INVALID:
      case KT_VIEWPOINT_ERROR_EXISTS:
        return EX_DATAERR;
      case KT_VIEWPOINT_ERROR_NOT_FOUND:
        return EX_NOUSER;
      case KT_VIEWPOINT_ERROR_STORE:
        break;
    }
  }
  return EX_CANTCREAT;
}

static void
print_token (const KtViewpoint *v, const char *token)
{
  g_autofree char *kiosk = kt_viewpoint_kiosk_path (token, NULL);
  printf ("code: %s\ntoken: %s\nkiosk: %s\n", v->code, token, kiosk);
  printf ("(the token is shown only now; `ketang viewpoint token %s` makes a new one)\n",
          v->name);
}

static int
list (KtStore *store)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) all = kt_viewpoint_list (store, &error);
  if (all == NULL)
    return fail (error);
  printf ("%-4s %-6s %-8s %-5s %-8s %-16s %-14s %s\n", "ID", "CODE", "STATE", "SEATS", "CHANNEL",
          "TOWNSHIP", "PHONE", "NAME (CONTACT)");
  for (guint i = 0; i < all->len; i++) {
    const KtViewpoint *v = all->pdata[i];
    printf ("%-4" G_GINT64_FORMAT " %-6s %-8s %-5" G_GINT64_FORMAT " %-8s %-16s %-14s %s%s%s%s\n",
            v->id, v->code, v->disabled ? "disabled" : "active", v->seats, v->channel, v->township,
            v->phone,
            v->name, v->contact[0] ? " (" : "", v->contact, v->contact[0] ? ")" : "");
  }
  return EX_OK;
}

int
kt_cli_viewpoint (int argc, char **argv)
{
  g_autofree char *data_dir = NULL, *config_path = NULL, *township = NULL;
  g_autofree char *contact = NULL, *phone = NULL, *channel = NULL;
  gint seats = -1;
  GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "The data directory with ketang.db (default ./data, or the config's)", "DIR" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Read settings from FILE", "FILE" },
    { "township", 't', 0, G_OPTION_ARG_STRING, &township, "add: the township or community",
      "TEXT" },
    { "contact", 0, 0, G_OPTION_ARG_STRING, &contact, "add: the contact person", "TEXT" },
    { "phone", 0, 0, G_OPTION_ARG_STRING, &phone, "add: the contact's phone", "TEXT" },
    { "seats", 0, 0, G_OPTION_ARG_INT, &seats, "add: the seats expected", "N" },
    { "channel", 0, 0, G_OPTION_ARG_STRING, &channel, "add: the channel its kiosk plays (1)",
      "ID" },
    { NULL }
  };
  g_autoptr (GOptionContext) context
      = g_option_context_new ("add|token|list|disable|enable [NAME] - manage viewing points");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("ketang viewpoint: %s\n%s", error->message, usage);
    return EX_USAGE;
  }
  const char *verb = argc > 1 ? argv[1] : "";
  const char *name = argc > 2 ? argv[2] : NULL;
  gboolean is_list = g_str_equal (verb, "list"), is_add = g_str_equal (verb, "add");
  const char *const verbs[] = { "add", "token", "list", "disable", "enable", NULL };
  if (!g_strv_contains (verbs, verb) || argc != (is_list ? 2 : 3)) {
    g_printerr ("%s", usage);
    return EX_USAGE;
  }
  if (is_add && township == NULL) {
    g_printerr ("ketang viewpoint: add needs --township\n%s", usage);
    return EX_USAGE;
  }
  if (!is_add && (township || contact || phone || channel || seats != -1)) {
    g_printerr ("ketang viewpoint: --township, --contact, --phone, --seats and --channel are for "
                "add\n%s",
                usage);
    return EX_USAGE;
  }
  if (is_add && seats < -1) {
    g_printerr ("ketang viewpoint: --seats must not be negative\n");
    return EX_USAGE;
  }

  g_autoptr (KtConfig) config = kt_config_load (config_path, &error);
  if (config == NULL
      || (data_dir && !kt_config_override (config, "server", "data_dir", data_dir, "--data", &error)))
    return fail (error);
  const char *dir = kt_config_get_string (config, "server", "data_dir");
  g_autofree char *db_path = g_build_filename (dir, "ketang.db", NULL);
  if (!is_add && !g_file_test (db_path, G_FILE_TEST_IS_REGULAR)) {
    g_printerr ("ketang viewpoint: no database at %s (use --data DIR)\n", db_path);
    return EX_NOINPUT;
  }
  if (is_add && g_mkdir_with_parents (dir, 0755) != 0) {
    g_printerr ("ketang viewpoint: cannot create %s: %s\n", dir, g_strerror (errno));
    return EX_CANTCREAT;
  }
  g_autoptr (KtStore) store = kt_store_open (db_path, &error);
  if (store == NULL)
    return fail (error);

  if (is_list)
    return list (store);
  if (is_add) {
    KtViewpointFields f = { name, township, contact, phone, seats, 0, channel };
    g_autofree char *token = NULL;
    g_autoptr (KtViewpoint) v = kt_viewpoint_add (store, &f, &token, &error);
    if (v == NULL)
      return fail (error);
    printf ("added %s\n", v->name);
    print_token (v, token);
    return EX_OK;
  }
  if (g_str_equal (verb, "token")) {
    g_autofree char *token = kt_viewpoint_new_token (store, name, &error);
    g_autoptr (KtViewpoint) v = token ? kt_viewpoint_find (store, name, &error) : NULL;
    if (v == NULL)
      return fail (error);
    printf ("new token for %s (the old one no longer works)\n", v->name);
    print_token (v, token);
    return EX_OK;
  }
  gboolean disable = g_str_equal (verb, "disable");
  g_autoptr (KtViewpoint) found = kt_viewpoint_find (store, name, &error);
  if (found == NULL)
    return fail (error);
  KtViewpointFields f = { NULL, NULL, NULL, NULL, -1, disable, NULL };
  g_autoptr (KtViewpoint) v = kt_viewpoint_update (store, found->id, &f, &error);
  if (v == NULL)
    return fail (error);
  printf ("%s %s\n", v->name, disable ? "disabled (its heartbeats are refused)" : "enabled");
  return EX_OK;
}
