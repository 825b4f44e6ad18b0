/* libFuzzer target: the configuration file (GKeyFile through kt-config's
 * table of defaults). A bad file must give an error naming the file and
 * line, never a crash or a half-loaded configuration. */
#include "kt-config.h"

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  static char *path;
  if (path == NULL) {
    g_autofree char *dir = g_dir_make_tmp ("ketang-fuzz-XXXXXX", NULL);
    path = g_build_filename (dir, "ketang.conf", NULL);
  }
  g_file_set_contents (path, (const char *) data, size, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (KtConfig) config = kt_config_load (path, &error);
  g_assert ((config != NULL) != (error != NULL));
  if (config != NULL)
    g_free (kt_config_to_string (config));
  return 0;
}
