/*
** xray.c - attenuation cross sections through xraylib (see xray.h).
*/
#include <math.h>

#include <xraylib.h>

#include "chem.h"
#include "xray.h"

/* xraylib reports failures through an xrl_error; copy its text into err
** so that the caller sees which formula and energy were refused */
static int xray_fail(char *err, xrl_error *xe, const char *formula,
		     double energy_keV)
{
	const char *msg = xe && xe->message ? xe->message : "no cross section";
	/* the formula parsed already, so a refused argument is the energy */
	if (xe == NULL || xrl_error_matches(xe, XRL_ERROR_INVALID_ARGUMENT))
		err_set(err, "energy %g keV is outside xraylib's tables for '%s' (%s)",
			energy_keV, formula, msg);
	else
		err_set(err, "attenuation of '%s' at %g keV: %s", formula,
			energy_keV, msg);
	if (xe)
		xrl_error_free(xe);
	return -1;
}

/* mu/rho of a mixture is the mass-fraction weighted sum over its
** elements (what xraylib's CS_Total_CP computes after its own parse) */
int xray_mass_attenuation(const char *formula, double energy_keV,
			  double *mu_rho, char *err)
{
	chem_formula cf;
	double M, sum = 0;
	if (chem_formula_parse(formula, &cf, err) || chem_formula_mass(&cf, &M, err))
		return -1;
	if (!isfinite(energy_keV) || energy_keV <= 0)
		return err_set(err, "energy %g keV must be positive", energy_keV);
	for (int k = 0; k < cf.n; k++) {
		xrl_error *xe = NULL, *xw = NULL;
		double cs = CS_Total(cf.Z[k], energy_keV, &xe);
		double w = AtomicWeight(cf.Z[k], &xw);
		if (xw)
			xrl_error_free(xw);
		if (xe != NULL || !(cs > 0))
			return xray_fail(err, xe, formula, energy_keV);
		sum += cf.count[k] * w * 1e-3 / M * cs;
	}
	*mu_rho = sum * 0.1;	/* cm^2/g -> m^2/kg */
	return 0;
}

int xray_molar_attenuation(const char *formula, double energy_keV,
			   double *sigma, double *M, char *err)
{
	double mu, m;
	if (xray_mass_attenuation(formula, energy_keV, &mu, err) ||
	    chem_molar_mass(formula, &m, err))
		return -1;
	*sigma = mu * m;
	if (M)
		*M = m;
	return 0;
}
