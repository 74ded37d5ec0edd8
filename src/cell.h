/*
** cell.h - one-dimensional continuum model of a polarized Li | salt in
** polymer | Li cell (concentrated solution theory, binary salt).
**
** Plain C core, SI units throughout: m, s, mol/m^3, A/m^2, V, S/m, m^2/s,
** m^3/mol. x = 0 is the electrode where salt accumulates (Li stripping,
** positive terminal); a positive current density i flows from x = 0 to x = L.
**
** Unknown: the salt concentration c(x, t); at constant voltage also the
** current density i(t), uniform in x. In the electrode-interface frame,
**
**   dc/dt = d/dx [ D dc/dx + (1 - c V_salt) t-0 i / F ],   t-0 = 1 - t+0,
**
** with zero anion flux at x = 0 and x = L (the bracket vanishes there), so
** salt is conserved. The cell voltage is
**
**   V = i R_int + eta_BV(i) + i integral dx / kappa(c)
**       + (2RT/F) integral_{c(L)}^{c(0)} t-0 Tf dln c,
**
** Tf = dln(c f+-)/dln c the molar thermodynamic factor. The derivation,
** frames and signs are in man/ionflow-lua.7 (CELL, "Derivation").
**
** Numerics: cell-centred finite volumes (uniform or electrode-refined grid),
** zero boundary fluxes imposed exactly, TR-BDF2 time stepping with an
** embedded error estimate and adaptive steps, a Newton solve per stage on
** the tridiagonal system bordered by the current (O(N) per iteration);
** outputs inside a step interpolated (cubic Hermite in c, the current made
** consistent), segment ends and tstop landed on.
** Every function follows err.h: 0 on success, -1 and a message in err.
*/
#ifndef ionflow_cell_h
#define ionflow_cell_h

#include <stddef.h>

#include "err.h"
#include "progress.h"

#define CELL_F 96485.33212	/* Faraday constant, C/mol */
#define CELL_R 8.314462618	/* gas constant, J/(mol K) */
#define CELL_NA 6.02214076e23	/* Avogadro constant, 1/mol */

/* A transport property of c (mol/m^3). It returns NaN when it cannot give
** a value (outside its table, a Lua error); why(ud), when set, then says
** why. df may be NULL: a central finite difference is used. With f NULL
** the property is the constant `value`. */
typedef double (*cell_fn)(void *ud, double c);

/* value and derivative together (NaN value on failure, as f) */
typedef double (*cell_fdf)(void *ud, double c, double *d);

/* the values at n concentrations at once (a Lua function called without
** a protected call per node): 0, or -1 when a value is missing (NaN or a
** non-finite value there, nothing evaluated after it; why(ud) says why) */
typedef int (*cell_fvec)(void *ud, const double *c, size_t n, double *v);

typedef struct cell_prop {
	cell_fn f;
	cell_fn df;
	void *ud;
	const char *(*why)(void *ud);
	double value;
	cell_fdf fdf;		/* may be NULL: f and df are called */
	cell_fvec fv;		/* may be NULL: f is called per node (used
				** when neither df nor fdf is set) */
} cell_prop;

/* how a table continues beyond its first and last rows */
typedef enum {
	CELL_EXTRAP_ERROR = 0,	/* NaN and a message naming table and range */
	CELL_EXTRAP_CONSTANT = 1,	/* the end values, derivative 0 */
	CELL_EXTRAP_LINEAR = 2	/* the end slopes (a law such as a + b c) */
} cell_extrap;

/* a property tabulated at increasing concentrations, interpolated with
** GSL's monotone Steffen spline (evaluated here as the cubic Hermite
** interpolant through the values with Steffen's node slopes, which GSL
** computes once); concentrations outside [c[0], c[n-1]] are errors unless
** clamp (a cell_extrap) says how the table continues (a documented
** extrapolation) */
typedef struct cell_table {
	char name[32];
	int clamp;
	size_t n;
	double *c, *v, *d;	/* rows and node slopes */
	double *q;		/* per interval: 1/h and the cubic in s */
	size_t last;		/* the interval found last (a search hint) */
	char msg[ERR_LEN];
} cell_table;

/* copies c and v (n >= 2, c strictly increasing, all finite) */
int cell_table_init(cell_table *t, const char *name, const double *c,
		    const double *v, size_t n, char *err);
void cell_table_free(cell_table *t);
double cell_table_eval(void *t, double c);
double cell_table_deriv(void *t, double c);
double cell_table_fdf(void *t, double c, double *d);
const char *cell_table_why(void *t);
/* a cell_prop reading the table (which must outlive the prop) */
cell_prop cell_table_prop(cell_table *t);
/* a constant property */
cell_prop cell_const_prop(double value);
/* the property at c (NaN with the reason in err when it has none) */
double cell_prop_value(const cell_prop *pr, const char *name, double c,
		       char *err);

/* what the potentiostat holds during a segment of the protocol */
typedef enum { CELL_HOLD_V = 0, CELL_HOLD_I = 1 } cell_hold;

/* The protocol is a list of segments; segment k runs until t_end (the
** last one until the end of the run). It holds V or I at `value`, or at
** fn(ud, t) when fn is set (NaN from fn is an error, why(ud) its reason).
** Steps never cross a segment end, and the current is made consistent
** with the new segment at its start (polarize, then rest at I = 0). */
typedef struct cell_segment {
	double t_end;
	cell_hold hold;
	double value;
	double (*fn)(void *ud, double t);
	void *ud;
	const char *(*why)(void *ud);
} cell_segment;

/* The interfacial resistance (both interfaces together, ohm m^2) at time
** t (s): fn(ud, t) when fn is set (NaN is an error, why(ud) its reason),
** else the film-growth law R_int + R_growth (t / t_growth)^p_growth
** (R_growth = 0: constant; p 1: linear growth, 0.5: parabolic, diffusion-
** limited film growth). */
typedef struct cell_rint {
	double R_growth, t_growth, p_growth;
	double (*fn)(void *ud, double t);
	void *ud;
	const char *(*why)(void *ud);
} cell_rint;

typedef struct cell_params {
	double L;		/* electrode distance, m */
	double c0;		/* initial uniform concentration, mol/m^3 */
	double T;		/* temperature, K */
	cell_prop D;		/* salt diffusion coefficient, m^2/s */
	cell_prop tp;		/* t+0, solvent-frame cation transference */
	cell_prop kappa;	/* conductivity, S/m */
	cell_prop Tf;		/* molar thermodynamic factor (1 = ideal) */
	double V_salt;		/* partial molar volume of the salt, m^3/mol */
	double V_EO;		/* molar volume of the solvent unit, m^3/mol */
	double R_int;		/* interfacial resistance, ohm m^2 (both) */
	cell_rint Rt;		/* its growth with time (zeros: constant) */
	double i0_pos, i0_neg;	/* exchange currents, A/m^2; 0 = none */
	double M_Li, rho_Li;	/* Li metal: kg/mol, kg/m^3 */
	const cell_segment *seg;
	size_t nseg;
	/* times the steps must land on (increasing; kinks of tabulated
	** protocols or R_int(t)); other output times are interpolated */
	const double *tstop;
	size_t ntstop;
	int land;		/* nonzero: steps land on every output time */
	size_t N;		/* finite volumes */
	double refine;		/* largest / smallest cell (1 = uniform) */
	double rtol, atol;	/* local error tolerances (atol in mol/m^3) */
	double h0;		/* first step, s (0 = automatic) */
	double hmax;		/* largest step, s (0 = none) */
	double c_min;		/* depletion limit, mol/m^3 */
	size_t max_steps;
	progress *prog;		/* may be NULL */
} cell_params;

/* defaults: T 363.15 K, Tf = 1, the paper's molar volumes (224 and
** 66.4 A^3 per molecule), Li metal 6.941e-3 kg/mol and 534 kg/m^3, N 200,
** rtol 1e-6, atol 1e-6 c0 (set when atol is 0 at run time), c_min 1e-6 c0
** (likewise), max_steps 1e6. The caller sets L, c0, D, tp, kappa, seg. */
void cell_params_init(cell_params *p);

/* Results at nt output times and nx positions; the caller allocates every
** array it wants (NULL = not wanted). Per time (nt): i, V and its parts
** (V_ohm bulk i integral dx/kappa, V_int interfacial, V_conc concentration
** overpotential), R_int (the interfacial resistance at that time, ohm
** m^2), salt (integral c dx, mol/m^2), v_int (velocity of the
** electrode interfaces in the lab frame, -(i/F) M_Li/rho_Li). Per time and
** position (nt x nx, time-major): c, J (anion flux relative to the solvent,
** mol/(m^2 s)), v0 and vm (solvent = EO and anion = TFSI velocities in the
** electrode-interface frame), v0_lab and vm_lab (the same in the lab
** frame), vm_rel (anion velocity relative to the solvent, J/c). */
typedef struct cell_out {
	double *i, *V, *V_ohm, *V_int, *V_conc, *R_int, *salt, *v_int;
	double *c, *J, *v0, *vm, *v0_lab, *vm_lab, *vm_rel;
	/* statistics, filled by cell_run */
	size_t steps, rejected, newton;
} cell_out;

/* the interfacial resistance of p at time t (NaN: see why in err) */
double cell_rint_at(const cell_params *p, double t, char *err);

/* face positions x_0 = 0 < ... < x_N = L of the grid (N + 1 values) */
int cell_grid(size_t N, double L, double refine, double *xf, char *err);

/* Run from uniform c0 at t = 0 to the last output time. times: nt >= 1
** increasing values >= 0; pos: nx positions in [0, L]. */
int cell_run(const cell_params *p, const double *times, size_t nt,
	     const double *pos, size_t nx, cell_out *out, char *err);

/* the large-V steady state of the constant-property model (V_salt = 0,
** Tf = 1): the i solving V = i (R_int + L/kappa)
** + (2RT/F) t-0 ln((c0 + a)/(c0 - a)), a = t-0 i L / (2 F D) */
int cell_steady_current(double V, double L, double c0, double T, double D,
			double tp, double kappa, double R_int, double *i,
			char *err);

#endif
