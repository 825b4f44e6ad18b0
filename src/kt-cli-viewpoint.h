#pragma once

/* `ketang viewpoint add|list|disable|enable|token …`: viewing points from the
 * shell. Returns an exit code. */
int kt_cli_viewpoint (int argc, char **argv);
