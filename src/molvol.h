/*
** molvol.h - partial molar volumes of salt and solvent from densities
** (paper Eq. 4) and the conversions they enable (paper Eq. 3).
**
** Assuming volumes add, one mole of salt with 1/r moles of solvent units
** occupies V_salt + V_solvent/r, so
**     rho(r) = (M_salt + M_solvent/r) / (V_salt + V_solvent/r).
** The fit is weighted least squares (GSL nonlinear least squares, trust
** region); standard errors come from the covariance (J^T W J)^-1 with the
** given density errors taken as absolute. SI units: r dimensionless,
** rho kg/m^3, M kg/mol, V m^3/mol, c mol/m^3.
*/
#ifndef ionflow_molvol_h
#define ionflow_molvol_h

#include <stddef.h>

#include "err.h"

typedef struct molvol_fit {
	double M_salt, M_solvent;	/* kg/mol, as given */
	double V_salt, V_solvent;	/* m^3/mol */
	double sd_salt, sd_solvent;	/* standard errors, m^3/mol */
	double cov;			/* covariance of V_salt and V_solvent */
	double chi2;			/* weighted sum of squared residuals */
	int dof;			/* points - 2 */
	int iterations;
} molvol_fit;

/* fit Eq. 4 to n >= 3 points (r_i > 0, rho_i > 0, sigma_i > 0) */
int molvol_fit_density(const double *r, const double *rho,
		       const double *sigma, size_t n, double M_salt,
		       double M_solvent, molvol_fit *fit, char *err);

/* per-molecule volume (m^3) of a molar volume */
double molvol_per_molecule(double V_molar);

/* density predicted by the fit at r (kg/m^3) */
int molvol_density(const molvol_fit *f, double r, double *rho, char *err);

/* salt concentration at r for additive volumes, c = r / (r V_salt + V_solvent),
** with its standard error from the fit covariance */
int molvol_concentration(const molvol_fit *f, double r, double *c,
			 double *sd, char *err);

/* epsilon = V_solvent c_solvent / (V_salt c_salt) = V_solvent / (r V_salt)
** (paper Eq. 3), with its standard error */
int molvol_epsilon(const molvol_fit *f, double r, double *eps, double *sd,
		   char *err);

/* kappa = 1/epsilon + 1 with its standard error */
int molvol_kappa(const molvol_fit *f, double r, double *kappa, double *sd,
		 char *err);

/* Eq. 3: lab-frame anion velocity from the solvent (EO) velocity that XPCS
** measures, v_anion = -epsilon v_solvent */
double molvol_anion_velocity(double v_solvent, double eps);
/* the anion velocity relative to the solvent, as concentrated solution
** theory predicts it: v_anion - v_solvent = kappa v_anion */
double molvol_anion_solvent_frame(double v_anion_lab, double eps);

#endif
