/*
** chem.h - composition of salt-in-polymer electrolytes: molar masses from
** formulas and conversions between r = [salt]/[solvent unit], molality and
** molar concentration. Plain C core (no Lua); SI units throughout:
** kg/mol, kg/m^3, mol/kg, mol/m^3.
**
** The paper's system (Steinrueck, Takacs et al. 2020) is PEO-LiTFSI with
** r = [Li]/[EO]; its quoted molar masses are the CHEM_M_* constants below.
*/
#ifndef ionflow_chem_h
#define ionflow_chem_h

#include "err.h"

/* the paper's molar masses (44.05 and 287.08 g/mol), in kg/mol */
#define CHEM_M_EO_PAPER      0.04405
#define CHEM_M_LITFSI_PAPER  0.28708
/* Avogadro's constant (exact, SI 2019), 1/mol */
#define CHEM_AVOGADRO        6.02214076e23

#define CHEM_ZMAX 103	/* elements up to lawrencium */

/* a formula as its elements and (possibly fractional) atom counts */
typedef struct chem_formula {
	int n;
	int Z[CHEM_ZMAX];
	double count[CHEM_ZMAX];
} chem_formula;

/* read "LiC2F6NO4S2", "C2H4O", "Ca(OH)2", "(C2H4O)10", "H2O0.5":
** elements, counts (digits, optional fraction), nested brackets */
int chem_formula_parse(const char *formula, chem_formula *out, char *err);
/* molar mass in kg/mol with xraylib's atomic weights */
int chem_formula_mass(const chem_formula *cf, double *M, char *err);
/* both in one: the molar mass of a formula in kg/mol */
int chem_molar_mass(const char *formula, double *M, char *err);

/* molality of salt per kg of solvent (polymer) for a molar ratio r */
int chem_molality_from_r(double r, double M_solvent, double *b, char *err);
int chem_r_from_molality(double b, double M_solvent, double *r, char *err);

/* molar salt concentration of a mixture of density rho at ratio r:
** c = rho r / (r M_salt + M_solvent), and its inverse */
int chem_molarity_from_r(double r, double rho, double M_salt,
			 double M_solvent, double *c, char *err);
int chem_r_from_molarity(double c, double rho, double M_salt,
			 double M_solvent, double *r, char *err);

#endif
