/* liqolet: `liqolet run` after its configuration is parsed (src/cmd/run.c). */
#ifndef LIQOLET_RUN_H
#define LIQOLET_RUN_H

#include "liqolet/config.h"

/* Runs until SIGTERM/SIGINT. Returns the exit status (0 on a clean stop, 1 when start-up
 * fails; the reason is logged). */
int lq_run_main(lq_config_t *cfg);

#endif
