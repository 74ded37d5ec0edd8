/*
** xray.h - X-ray attenuation of compounds through xraylib.
**
** Cross sections are xraylib's total attenuation (photoelectric + coherent
** + incoherent, CS_Total_CP), converted to SI: a mass attenuation
** coefficient in m^2/kg and a molar cross section in m^2/mol (mass
** coefficient times molar mass), so that a layer of thickness d holding
** c_i mol/m^3 of each species has absorbance A = d sum_i c_i sigma_i.
** Energies are in keV (the unit of beamline logs and of xraylib).
** xraylib's own errors are caught and turned into messages; it never
** prints or aborts.
*/
#ifndef ionflow_xray_h
#define ionflow_xray_h

#include "err.h"

/* mass attenuation coefficient mu/rho of formula at energy_keV, m^2/kg */
int xray_mass_attenuation(const char *formula, double energy_keV,
			  double *mu_rho, char *err);

/* molar attenuation cross section of formula at energy_keV, m^2/mol;
** M (kg/mol, may be NULL) receives the molar mass used */
int xray_molar_attenuation(const char *formula, double energy_keV,
			   double *sigma, double *M, char *err);

#endif
