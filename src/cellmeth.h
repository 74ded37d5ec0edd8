/*
** cellmeth.h - the classic transference measurements, simulated on the
** continuum cell model (cell.h): what a Bruce-Vincent experiment and a
** Balsara-Newman analysis would report for a given parameter set, next to
** the model's true t+0, so that the distance between the two and its
** cause are visible.
**
** Bruce-Vincent: a small potential step dV across the symmetric cell;
** initial current I0 (t = 0+, uniform salt), steady current Iss (at t_ss),
** interfacial resistances R0 and Rss as impedance would measure them
** (R_int(t) plus the charge-transfer resistances RT/(F i0) of both
** electrodes); t+_BV = Iss (dV - I0 R0) / (I0 (dV - Iss Rss)).
**
** Balsara-Newman (Balsara and Newman, JES 162 (2015) A2720; Pesko et al.
** 2017): the same step gives the steady-state current fraction rho+ (the
** Bruce-Vincent expression); the restricted-diffusion experiment (polarize,
** then rest at zero current) gives D from the late exponential decay of the
** open-circuit voltage, V ~ exp(-pi^2 D t / L^2); a concentration cell gives
** the slope dU/dln m at c0; impedance the bulk conductivity kappa(c0). In
** the model's symbols they combine into
**
**   t+0_BN = 1 - (1/rho+ - 1) F D c0 / (kappa dU/dln m),
**
** which is exact for constant properties at small steps, because then
** 1/rho+ - 1 = R_c / R_b with the bulk resistance R_b = L / kappa and the
** concentration resistance R_c = (2RT/F^2) t-0^2 Tf (1 - c0 V_salt) L /
** (D c0), and dU/dln m = (2RT/F) t-0 Tf (1 - c0 V_salt) (m the molality,
** dln m / dln c = 1 / (1 - c V_salt)). The Bruce-Vincent ratio is then
** R_b / (R_b + R_c): equal to t+0 only when kappa = kappa_ideal =
** F^2 D c0 / (2RT t+0 t-0 Tf (1 - c0 V_salt)), the ideal uncorrelated
** electrolyte.
**
** Each function runs the model with its own protocol (p->seg and p->nseg
** are ignored) and follows err.h.
*/
#ifndef ionflow_cellmeth_h
#define ionflow_cellmeth_h

#include "cell.h"

/* the properties at c0, frozen: the small-step closed forms */
typedef struct cellmeth_c0 {
	double D, tp, kappa, Tf;	/* at c0 */
	double Rb, Rc;		/* bulk and concentration resistance, ohm m^2 */
	double Rk;		/* charge-transfer resistance, both electrodes */
	double dUdlnm;		/* concentration-cell slope at c0, V */
	double kappa_ideal;	/* where t+_BV = t+0 (NaN for t+0 outside (0, 1)) */
	double tp_bv_small;	/* R_b / (R_b + R_c), the small-step t+_BV */
	double ratio_small;	/* the small-step Iss / I0 (R_int(t) at 0) */
} cellmeth_c0;

int cellmeth_at_c0(const cell_params *p, cellmeth_c0 *r, char *err);

typedef struct cellmeth_bv {
	double dV, t_ss;	/* in: step (V), steady reading (s; 0: auto) */
	double I0, Iss;		/* out: currents, A/m^2 */
	double R0, Rss;		/* interfacial resistances at 0 and t_ss */
	double ratio;		/* Iss / I0 */
	double tp;		/* t+_BV */
	cellmeth_c0 c0;		/* the model's truth and closed forms at c0 */
} cellmeth_bv;

/* t_ss 0: 2 L^2 / D(c0), when the slowest mode has decayed to 3e-9 */
int cellmeth_bruce_vincent(const cell_params *p, cellmeth_bv *r, char *err);

typedef struct cellmeth_bn {
	double dV, t_pol;	/* in: step (V), polarization (s; 0: auto) */
	double w0, w1;		/* in: fit window after the current is cut, in
				** units of tau = L^2 / (pi^2 D(c0)) (0: 1, 4) */
	size_t nfit;		/* in: voltage samples in the window (0: 41) */
	cellmeth_bv bv;		/* the steady-state current fraction */
	double rho;		/* rho+ (= bv.tp) */
	double D;		/* restricted diffusion, m^2/s */
	double kappa;		/* bulk conductivity by impedance, S/m */
	double dUdlnm;		/* concentration cell slope, V */
	double tp;		/* t+0_BN */
	double V1;		/* open-circuit voltage at the window's start */
} cellmeth_bn;

int cellmeth_balsara_newman(const cell_params *p, cellmeth_bn *r, char *err);

#endif
