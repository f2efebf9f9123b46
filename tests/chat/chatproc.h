/*
 * e2ee tests: drives real e2ee-chat processes in scripted mode (stdin and stdout are pipes).
 * Commands are written to the process's stdin; every line it prints is recorded, and the
 * test waits (bounded) for a line matching a glob that no earlier expectation matched, so the
 * order of unrelated events does not matter. Failures end the test through cmocka.
 */
#ifndef E2EE_CHATPROC_H
#define E2EE_CHATPROC_H

#include <stddef.h>
#include <sys/types.h>

#define CP_WAIT_MS 20000   /* default bound of a wait for an expected line */

struct chatproc {
    pid_t pid;
    int in_fd;            /* its stdin (write end), -1 once closed */
    int out_fd;           /* its stdout (read end), -1 at end of output */
    char name[65];
    char err_path[512];   /* its stderr goes to this file */
    char partial[8192];   /* output after the last newline */
    size_t n_partial;
    char **lines;
    int *used;
    size_t n, cap;
    int exited, status;
};

/* Starts build/bin/e2ee-chat --relay url --user name --memory (unless args has --store)
 * and the NULL-terminated extra args. Fails the test if it cannot. */
struct chatproc *cp_start(const char *url, const char *name, const char *const *args);
/* Writes one command line. */
void cp_say(struct chatproc *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Waits up to timeout_ms for an unconsumed line matching glob; consumes and returns it
 * (valid until cp_free). Fails the test on timeout, printing what the process printed. */
const char *cp_expect(struct chatproc *p, const char *glob, int timeout_ms);
/* The same without failing: NULL on timeout. */
const char *cp_try(struct chatproc *p, const char *glob, int timeout_ms);
/* Number of lines printed so far (consumed or not) matching glob, after reading what is
 * available for up to ms milliseconds. */
size_t cp_count(struct chatproc *p, const char *glob, int ms);
/* Closes stdin (end of input). */
void cp_close_input(struct chatproc *p);
/* Waits up to timeout_ms for the process to exit, reading its output; returns its exit
 * status (128 + signal if killed), or -1 on timeout. */
int cp_wait_exit(struct chatproc *p, int timeout_ms);
/* Kills the process if it still runs, and frees everything. NULL is a no-op. */
void cp_free(struct chatproc *p);
/* Prints every line the process printed and its stderr (for diagnostics). */
void cp_dump(const struct chatproc *p);
/* Path of build/bin/e2ee-chat. */
const char *cp_chat_bin(void);

#endif
