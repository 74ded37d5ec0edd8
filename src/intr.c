/*
** intr.c - the interrupt flag (see intr.h).
*/
#include "intr.h"

volatile sig_atomic_t intr_flag = 0;

void intr_clear(void) { intr_flag = 0; }
void intr_raise(void) { intr_flag = 1; }

/* a parallel loop cannot break, so each iteration asks whether to go on;
** the flag is read and written atomically as the threads share it */
int intr_omp_skip(int *bad, int code)
{
	int b;
	#pragma omp atomic read
	b = *bad;
	if (b)
		return 1;
	if (intr_pending()) {
		#pragma omp atomic write
		*bad = (int)code;	/* the cast quiets a gcc false "unused" */
		return 1;
	}
	return 0;
}
