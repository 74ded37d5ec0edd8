/*
** intr.h - the interrupt flag that long C loops poll.
**
** Lua's count hook never fires while C code runs, so Ctrl-C inside a long
** primitive (a correlation, a model run) is seen only if the loop itself
** looks at this flag. The SIGINT handler of the interpreter sets it; the
** interpreter clears it before each REPL line or script.
*/
#ifndef ionflow_intr_h
#define ionflow_intr_h

#include <signal.h>

extern volatile sig_atomic_t intr_flag;

/* cheap enough for an inner loop over frames or time steps */
static inline int intr_pending(void) { return intr_flag != 0; }

void intr_clear(void);
void intr_raise(void);

/* for an OpenMP loop whose iterations share a failure code *bad: 1 when
** this iteration should be skipped, because another one failed (*bad is
** set) or an interrupt came (then *bad becomes code), else 0 */
int intr_omp_skip(int *bad, int code);

#endif
