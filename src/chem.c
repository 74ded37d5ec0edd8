/*
** chem.c - molar masses and composition conversions (see chem.h).
*/
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xraylib.h>

#include "chem.h"

/* element symbols Z = 1 .. 103, space separated, for checking formulas */
static const char chem_symbols[] =
	" H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe"
	" Co Ni Cu Zn Ga Ge As Se Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In"
	" Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu Hf"
	" Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm"
	" Bk Cf Es Fm Md No Lr ";

/* Z of a symbol of len characters, 0 when unknown */
static int chem_z(const char *sym, size_t len)
{
	char key[5];
	const char *hit;
	int z = 0;
	if (len > 2)
		return 0;
	key[0] = ' ';
	memcpy(key + 1, sym, len);
	key[len + 1] = ' ';
	key[len + 2] = '\0';
	hit = strstr(chem_symbols, key);
	if (hit == NULL)
		return 0;
	for (const char *p = chem_symbols; p <= hit; p++)
		z += *p == ' ';
	return z;
}

/* a count after an element or a bracket: digits with an optional
** fraction; 1 when absent */
static double chem_count(const char *f, size_t *i)
{
	size_t j = *i;
	double v;
	while (isdigit((unsigned char)f[j]))
		j++;
	if (j == *i)
		return 1;
	if (f[j] == '.' && isdigit((unsigned char)f[j + 1]))
		for (j++; isdigit((unsigned char)f[j]); j++)
			;
	v = strtod(f + *i, NULL);
	*i = j;
	return v;
}

typedef struct chem_parser {
	const char *f;
	size_t i;
	char *err;
} chem_parser;

static int chem_group(chem_parser *p, double *n, int depth);

/* an element with its count, added to n[Z] */
static int chem_element(chem_parser *p, double *n)
{
	const char *f = p->f;
	size_t len = islower((unsigned char)f[p->i + 1]) ? 2 : 1;
	int z = chem_z(f + p->i, len);
	if (z == 0)
		return err_set(p->err, "formula '%s': unknown element '%.*s' at "
			       "position %zu", f, (int)len, f + p->i, p->i + 1);
	p->i += len;
	n[z] += chem_count(f, &p->i);
	return 0;
}

/* "(...)count", its content multiplied into n */
static int chem_bracket(chem_parser *p, double *n, int depth)
{
	double sub[CHEM_ZMAX + 1] = {0}, k;
	size_t open = p->i++;
	if (depth >= 8)
		return err_set(p->err, "formula '%s': brackets nested too deep", p->f);
	if (p->f[p->i] == ')')
		return err_set(p->err, "formula '%s': empty brackets at position %zu",
			       p->f, open + 1);
	if (chem_group(p, sub, depth + 1))
		return -1;
	if (p->f[p->i] != ')')
		return err_set(p->err, "formula '%s': '(' at position %zu is not "
			       "closed", p->f, open + 1);
	p->i++;
	k = chem_count(p->f, &p->i);
	for (int z = 1; z <= CHEM_ZMAX; z++)
		n[z] += k * sub[z];
	return 0;
}

static int chem_group(chem_parser *p, double *n, int depth)
{
	while (p->f[p->i] != '\0' && p->f[p->i] != ')') {
		unsigned char ch = (unsigned char)p->f[p->i];
		int rc = isupper(ch) ? chem_element(p, n)
			: ch == '(' ? chem_bracket(p, n, depth)
			: err_set(p->err, "formula '%s': unexpected '%c' at position %zu",
				  p->f, ch, p->i + 1);
		if (rc)
			return -1;
	}
	return 0;
}

/* Our own reading of formulas: xraylib's CompoundParser leaks memory on
** some inputs (malformed ones, and brackets with a count), and this one
** can say where a fault is (1-based positions). */
int chem_formula_parse(const char *formula, chem_formula *out, char *err)
{
	double n[CHEM_ZMAX + 1] = {0};
	chem_parser p = {formula, 0, err};
	if (formula == NULL || formula[0] == '\0')
		return err_set(err, "formula is empty");
	if (chem_group(&p, n, 0))
		return -1;
	if (formula[p.i] == ')')
		return err_set(err, "formula '%s': unmatched ')' at position %zu",
			       formula, p.i + 1);
	out->n = 0;
	for (int z = 1; z <= CHEM_ZMAX; z++)
		if (n[z] > 0) {
			out->Z[out->n] = z;
			out->count[out->n++] = n[z];
		}
	if (out->n == 0)
		return err_set(err, "formula '%s' holds no atoms", formula);
	return 0;
}

/* atomic weights are xraylib's, so that molar masses and mass fractions
** of the attenuation cross sections agree */
int chem_formula_mass(const chem_formula *cf, double *M, char *err)
{
	double m = 0;
	for (int k = 0; k < cf->n; k++) {
		xrl_error *xe = NULL;
		double w = AtomicWeight(cf->Z[k], &xe);
		if (xe != NULL || !(w > 0)) {
			err_set(err, "no atomic weight for Z = %d%s%s", cf->Z[k],
				xe ? ": " : "", xe && xe->message ? xe->message : "");
			if (xe)
				xrl_error_free(xe);
			return -1;
		}
		m += cf->count[k] * w;
	}
	*M = m * 1e-3;
	return 0;
}

int chem_molar_mass(const char *formula, double *M, char *err)
{
	chem_formula cf;
	if (chem_formula_parse(formula, &cf, err))
		return -1;
	return chem_formula_mass(&cf, M, err);
}

/* shared argument checks; a message names the argument */
static int chem_check(double v, const char *name, int strict, char *err)
{
	if (!isfinite(v))
		return err_set(err, "%s is not a finite number", name);
	if (strict ? v <= 0 : v < 0)
		return err_set(err, "%s = %g must be %s", name, v,
			       strict ? "positive" : "non-negative");
	return 0;
}

int chem_molality_from_r(double r, double M_solvent, double *b, char *err)
{
	if (chem_check(r, "r", 0, err) || chem_check(M_solvent, "M_solvent", 1, err))
		return -1;
	*b = r / M_solvent;
	return 0;
}

int chem_r_from_molality(double b, double M_solvent, double *r, char *err)
{
	if (chem_check(b, "molality", 0, err) ||
	    chem_check(M_solvent, "M_solvent", 1, err))
		return -1;
	*r = b * M_solvent;
	return 0;
}

/* mass of one mole of salt with its 1/r moles of solvent units is
** M_salt + M_solvent / r; the density turns that mass into a volume */
int chem_molarity_from_r(double r, double rho, double M_salt,
			 double M_solvent, double *c, char *err)
{
	if (chem_check(r, "r", 0, err) || chem_check(rho, "rho", 1, err) ||
	    chem_check(M_salt, "M_salt", 1, err) ||
	    chem_check(M_solvent, "M_solvent", 1, err))
		return -1;
	*c = rho * r / (r * M_salt + M_solvent);
	return 0;
}

int chem_r_from_molarity(double c, double rho, double M_salt,
			 double M_solvent, double *r, char *err)
{
	if (chem_check(c, "c", 0, err) || chem_check(rho, "rho", 1, err) ||
	    chem_check(M_salt, "M_salt", 1, err) ||
	    chem_check(M_solvent, "M_solvent", 1, err))
		return -1;
	if (c * M_salt >= rho)
		return err_set(err, "c = %g mol/m^3 would weigh more salt (%g kg/m^3) "
			       "than the density rho = %g kg/m^3", c, c * M_salt, rho);
	*r = c * M_solvent / (rho - c * M_salt);
	return 0;
}
