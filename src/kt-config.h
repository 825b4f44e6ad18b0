#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define KT_CONFIG_ERROR (kt_config_error_quark ())
GQuark kt_config_error_quark (void);

typedef enum {
  KT_CONFIG_ERROR_READ,     /* file missing or unreadable */
  KT_CONFIG_ERROR_SYNTAX,   /* not an INI file */
  KT_CONFIG_ERROR_UNKNOWN,  /* a group or key we do not know (likely a typo) */
  KT_CONFIG_ERROR_VALUE,    /* wrong type or out of bounds */
} KtConfigError;

/* The effective configuration: the defaults table, then the INI file, then
 * KETANG_<GROUP>_<KEY> environment variables, then command-line overrides.
 * Immutable once loaded. */
typedef struct _KtConfig KtConfig;

/* @path may be NULL (defaults only). Errors name the file and line. */
KtConfig *kt_config_load (const char *path, GError **error);
/* Apply a command-line override; @origin names it in errors ("--listen").
 * @group may be "rtsp.<talk>" with @key "url" (a camera, checked as in the
 * file). */
gboolean kt_config_override (KtConfig *config, const char *group, const char *key,
                             const char *value, const char *origin, GError **error);
void kt_config_free (KtConfig *config);

/* Lookups of keys in the defaults table; asking for an unknown key is a
 * programmer error. Strings are borrowed until the config is freed. */
const char *kt_config_get_string (const KtConfig *config, const char *group, const char *key);
gint64 kt_config_get_int (const KtConfig *config, const char *group, const char *key);
gboolean kt_config_get_bool (const KtConfig *config, const char *group, const char *key);
double kt_config_get_double (const KtConfig *config, const char *group, const char *key);

/* Classroom cameras ([rtsp.<talk>] url = rtsp://…, see kt-live): the URL
 * that talk @input is pulled from, or NULL. It may hold a password: log
 * kt_config_redact_url's form only. Borrowed until the config is freed. */
const char *kt_config_get_camera (const KtConfig *config, const char *input);
/* The talks that have a camera, in the order they were set; NULL-terminated,
 * borrowed until the config is freed. */
const char *const *kt_config_camera_talks (const KtConfig *config);
/* @url without its user and password, for logs and pages. (transfer full) */
char *kt_config_redact_url (const char *url);

/* The effective configuration as a commented INI file (for --print-config;
 * camera passwords left out). */
char *kt_config_to_string (const KtConfig *config);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (KtConfig, kt_config_free)

G_END_DECLS
