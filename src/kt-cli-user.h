#pragma once

/* `ketang user add|passwd|list|disable|enable …`: accounts from the shell.
 * Returns an exit code. */
int kt_cli_user (int argc, char **argv);
