/* Test vectors and golden files of the forge tests: tests/vectors/forge/<dir>/<name>
 * (LQ_TEST_VECTORS in the environment, or the macro, overrides tests/vectors; the tests run
 * from the repository root). LQ_UPDATE_GOLDEN=1 makes the tests rewrite their goldens from
 * what the code produces, for review. Header-only, for tests. */
#ifndef LQ_TEST_VECTORS_H
#define LQ_TEST_VECTORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef LQ_TEST_VECTORS
#define LQ_TEST_VECTORS "tests/vectors"
#endif

static const char *lq_vec_path(const char *dir, const char *name)
{
    static char path[512];
    const char *root = getenv("LQ_TEST_VECTORS");
    snprintf(path, sizeof path, "%s/forge/%s/%s", root ? root : LQ_TEST_VECTORS, dir, name);
    return path;
}

/* Reads a whole vector into buf (NUL-terminated); fails the test when it is missing or
 * does not fit. Returns its length. */
static size_t lq_vec_read(const char *dir, const char *name, char *buf, size_t cap)
{
    FILE *f = fopen(lq_vec_path(dir, name), "rb");
    if (!f)
        fail_msg("cannot open vector %s (run the tests from the repository root)",
                 lq_vec_path(dir, name));
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    assert_true(n < cap - 1);
    buf[n] = '\0';
    return n;
}

/* True when LQ_UPDATE_GOLDEN asks for the goldens to be rewritten. */
static bool lq_vec_updating(void)
{
    const char *u = getenv("LQ_UPDATE_GOLDEN");
    return u != NULL && u[0] != '\0' && u[0] != '0';
}

/* Rewrites a golden: text[0..len) and a newline. */
static void lq_vec_write(const char *dir, const char *name, const char *text, size_t len)
{
    FILE *f = fopen(lq_vec_path(dir, name), "wb");
    if (!f)
        fail_msg("cannot write %s", lq_vec_path(dir, name));
    fwrite(text, 1, len, f);
    fputc('\n', f);
    fclose(f);
    print_message("rewrote %s: review it against the spec\n", lq_vec_path(dir, name));
}

#endif
