/* liqolet: `liqolet debug ...` diagnostics (src/cmd/debug.c). */
#ifndef LIQOLET_DEBUG_H
#define LIQOLET_DEBUG_H

/* Arguments after the word "debug". Returns the exit status. */
int lq_debug_main(int argc, char **argv);

#endif
