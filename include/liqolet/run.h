/* liqolet: `liqolet run` after its configuration is parsed (src/cmd/run.c). */
#ifndef LIQOLET_RUN_H
#define LIQOLET_RUN_H

#include "liqolet/config.h"

/* Runs until SIGTERM/SIGINT. Returns the exit status (0 on a clean stop, 1 when start-up
 * fails; the reason is logged). */
int lq_run_main(lq_config_t *cfg);

/* The cluster name derived from a cluster id (DESIGN.md Decision 2): its first 8
 * alphanumerics, lowered. `liqolet unpeer` derives the same names as `run`. */
void lq_run_derive_name(const char *id, char *out, size_t cap);

/* `liqolet unpeer` (src/cmd/unpeer.c) with the arguments after the word "unpeer".
 * Returns the exit status: 0 done (or nothing to do), 1 something could not be removed
 * or the pair is held by a running agent, 2 usage error. */
int lq_unpeer_main(int argc, char **argv);

#endif
