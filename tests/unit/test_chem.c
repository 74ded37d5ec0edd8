/*
** test_chem.c - molar masses, composition conversions and xraylib
** attenuation against published values.
*/
#include <string.h>

#include <xraylib.h>

#include "chem.h"
#include "tap.h"
#include "xray.h"

static void test_molar_mass(void)
{
	char err[ERR_LEN] = "";
	double M = 0;
	/* the paper quotes 287.08 and 44.05 g/mol; xraylib's atomic
	** weights give 287.11 and 44.06 */
	ok(chem_molar_mass("LiC2F6NO4S2", &M, err) == 0, "LiTFSI parses");
	is_num(M * 1e3, 287.08, 0.05, "M(LiTFSI) = 287.08 g/mol");
	ok(chem_molar_mass("C2H4O", &M, err) == 0, "EO parses");
	is_num(M * 1e3, 44.05, 0.02, "M(EO) = 44.05 g/mol");
	ok(chem_molar_mass("H2O", &M, err) == 0, "water parses");
	is_num(M * 1e3, 18.015, 0.005, "M(H2O) = 18.015 g/mol");
	ok(chem_molar_mass("Ca(OH)2", &M, err) == 0, "brackets parse");
	is_num(M * 1e3, 74.09, 0.02, "M(Ca(OH)2) = 74.09 g/mol");
	ok(chem_molar_mass("Xy2", &M, err) == -1 && strstr(err, "Xy2") &&
	   strstr(err, "'Xy'"),
	   "unknown element: error names the formula (%s)", err);
	ok(chem_molar_mass("C2H4O)", &M, err) == -1 && strstr(err, "position 6"),
	   "unbalanced bracket: error says where (%s)", err);
	ok(chem_molar_mass("(C2H4O", &M, err) == -1 && strstr(err, "not closed"),
	   "unclosed bracket (%s)", err);
	ok(chem_molar_mass("2CO", &M, err) == -1 && strstr(err, "position 1"),
	   "leading count (%s)", err);
	ok(chem_molar_mass("co2", &M, err) == -1 && strstr(err, "'c'"),
	   "lower-case symbol (%s)", err);
	ok(chem_molar_mass("C2H4O ", &M, err) == -1 && strstr(err, "position 6"),
	   "trailing space (%s)", err);
	ok(chem_molar_mass("(C2H4O)10", &M, err) == 0, "bracket with a count");
	is_num(M * 1e3, 440.6, 0.3, "M((C2H4O)10)");
	ok(chem_molar_mass("H2O0.5", &M, err) == 0, "fractional count");
	is_num(M * 1e3, 2.016 + 8.0, 0.01, "M(H2O0.5)");
	ok(chem_molar_mass("Ca((OH)2)3", &M, err) == 0, "nested brackets");
	is_num(M * 1e3, 40.078 + 6 * 17.007, 0.02, "M(Ca((OH)2)3)");
	ok(chem_molar_mass("C()", &M, err) == -1 && strstr(err, "empty brackets"),
	   "empty brackets (%s)", err);
	ok(chem_molar_mass("((((((((((C))))))))))", &M, err) == -1 &&
	   strstr(err, "too deep"), "deep nesting refused (%s)", err);
	ok(chem_molar_mass("", &M, err) == -1 && strstr(err, "empty"), "empty formula");
}

static void test_conversions(void)
{
	char err[ERR_LEN] = "";
	double b = 0, r = 0, c = 0;
	ok(chem_molality_from_r(0.1, CHEM_M_EO_PAPER, &b, err) == 0, "molality");
	is_num(b, 0.1 / 0.04405, 1e-12, "r = 0.1 is 2.270 mol/kg of PEO");
	chem_r_from_molality(b, CHEM_M_EO_PAPER, &r, err);
	is_num(r, 0.1, 1e-15, "molality round trip");
	/* Pesko et al.: rho(r = 0.1) = 1.365 g/cm^3; the paper's 1.87 mol/L */
	ok(chem_molarity_from_r(0.1, 1365, CHEM_M_LITFSI_PAPER, CHEM_M_EO_PAPER,
				&c, err) == 0, "molarity");
	is_num(c, 136.5 / (0.028708 + 0.04405), 1e-9, "c(r = 0.1) closed form");
	is_num(c / 1000, 1.87, 0.01, "c(r = 0.1) about 1.87 mol/L");
	chem_r_from_molarity(c, 1365, CHEM_M_LITFSI_PAPER, CHEM_M_EO_PAPER, &r, err);
	is_num(r, 0.1, 1e-14, "molarity round trip");
	ok(chem_molarity_from_r(-0.1, 1365, 0.287, 0.044, &c, err) == -1 &&
	   strstr(err, "r = -0.1"), "negative r names r (%s)", err);
	ok(chem_molarity_from_r(0.1, 0, 0.287, 0.044, &c, err) == -1 &&
	   strstr(err, "rho"), "zero density names rho (%s)", err);
	ok(chem_r_from_molarity(5000, 1365, 0.287, 0.044, &r, err) == -1,
	   "impossible molarity is an error (%s)", err);
}

static void test_xray(void)
{
	char err[ERR_LEN] = "";
	double mu = 0, s = 0, M = 0, mu2 = 0;
	/* NIST XCOM / Hubbell-Seltzer: water at 20 keV, mu/rho = 0.8096 cm^2/g,
	** at 10 keV 5.329 cm^2/g */
	ok(xray_mass_attenuation("H2O", 20, &mu, err) == 0, "water at 20 keV");
	is_num(mu, 0.08096, 0.08096 * 0.02, "mu/rho(H2O, 20 keV) = 0.0810 m^2/kg (NIST)");
	xray_mass_attenuation("H2O", 10, &mu, err);
	is_num(mu, 0.5329, 0.5329 * 0.02, "mu/rho(H2O, 10 keV) = 0.533 m^2/kg (NIST)");
	{
		/* xraylib's own compound function, which parses on its own */
		xrl_error *xe = NULL;
		double ref = CS_Total_CP("LiC2F6NO4S2", 20, &xe) * 0.1;
		xray_mass_attenuation("LiC2F6NO4S2", 20, &mu, err);
		is_num(mu / ref, 1, 1e-12, "mu/rho(LiTFSI) equals xraylib's CS_Total_CP");
	}
	ok(xray_molar_attenuation("LiC2F6NO4S2", 20, &s, &M, err) == 0, "LiTFSI molar");
	xray_mass_attenuation("LiC2F6NO4S2", 20, &mu2, err);
	is_num(s, mu2 * M, 1e-15, "molar = mass coefficient x molar mass");
	xray_molar_attenuation("C2H4O", 20, &mu, NULL, err);
	ok(s > 10 * mu, "TFSI absorbs far more than EO per mole (%.4g vs %.4g m^2/mol)", s, mu);
	ok(xray_mass_attenuation("LiC2F6NO4S2", 1e4, &mu, err) == -1 &&
	   strstr(err, "outside xraylib's tables") && strstr(err, "10000 keV"),
	   "10 MeV is outside the tables (%s)", err);
	ok(xray_mass_attenuation("C2H4O", 0.01, &mu, err) == -1 &&
	   strstr(err, "0.01 keV"), "10 eV is outside the tables (%s)", err);
	ok(xray_mass_attenuation("C2H4O", -5, &mu, err) == -1 &&
	   strstr(err, "energy -5 keV"), "negative energy (%s)", err);
	ok(xray_mass_attenuation("Qq", 20, &mu, err) == -1 && strstr(err, "'Qq'"),
	   "bad formula names it (%s)", err);
}

int main(void)
{
	test_molar_mass();
	test_conversions();
	test_xray();
	return tap_done();
}
