/* liqolet: `liqolet check`, the preflight before peering (src/cmd/check.c). */
#ifndef LIQOLET_CHECK_H
#define LIQOLET_CHECK_H

/* Runs the check with the arguments after the word "check". Returns the exit status:
 * 0 all in order, 1 problems found (each explained on stdout), 2 usage error. */
int lq_check_main(int argc, char **argv);

#endif
