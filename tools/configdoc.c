/* configdoc: writes the option reference of `liqolet run` to stdout, from the option
 * table in src/core/config.c. A host build tool: `make configdoc` / `make configdoc-check`
 * (mk/configdoc.mk) keep the table of docs/configuration.md in step with the code.
 *
 *   configdoc --markdown     the Markdown table (between the configdoc markers)
 *   configdoc --usage        the `liqolet run --help` text
 *   configdoc --effective [liqolet run options...]
 *                            parse the options as `liqolet run` would and print the
 *                            effective-configuration line, or the error (exit 2) */
#include <stdio.h>
#include <string.h>

#include "liqolet/config.h"

static char out[64 * 1024];
static lq_config_t cfg;

static int usage(void)
{
    fputs("usage: configdoc --markdown | --usage | --effective [options...]\n", stderr);
    return 2;
}

static int emit(lq_err_t err, size_t len)
{
    if (err != LQ_OK) {
        fprintf(stderr, "configdoc: %s\n", lq_err_str(err));
        return 1;
    }
    if (fwrite(out, 1, len, stdout) != len || fflush(stdout) != 0) {
        perror("configdoc: stdout");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    size_t len = 0;

    if (argc == 2 && strcmp(argv[1], "--markdown") == 0) {
        lq_err_t err = lq_config_render_markdown(out, sizeof out, &len);
        return emit(err, len);
    }
    if (argc == 2 && strcmp(argv[1], "--usage") == 0) {
        lq_err_t err = lq_config_usage(out, sizeof out, &len);
        return emit(err, len);
    }
    if (argc >= 2 && strcmp(argv[1], "--effective") == 0) {
        char msg[LQ_CONFIG_MSG_MAX];
        lq_config_init(&cfg);
        if (lq_config_parse_args(&cfg, argc - 2, argv + 2, msg, sizeof msg) != LQ_OK) {
            fprintf(stderr, "configdoc: %s\n", msg);
            return 2;
        }
        lq_err_t err = lq_config_render_effective(&cfg, out, sizeof out - 1, &len);
        if (err == LQ_OK)
            out[len++] = '\n';
        return emit(err, len);
    }
    return usage();
}
