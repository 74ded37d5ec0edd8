/*
** intr.c - the interrupt flag (see intr.h).
*/
#include "intr.h"

volatile sig_atomic_t intr_flag = 0;

void intr_clear(void) { intr_flag = 0; }
void intr_raise(void) { intr_flag = 1; }
