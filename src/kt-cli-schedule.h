#pragma once

/* `ketang schedule check [--data DIR] [--timezone ZONE] FILE…`: validate
 * timetable files without a server. Returns an exit code. */
int kt_cli_schedule (int argc, char **argv);
