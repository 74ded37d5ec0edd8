/*
** test_molvol.c - the Eq. 4 molar-volume fit against exact synthetic data,
** an independent Gauss-Newton solution of the Pesko et al. table, and the
** paper's published numbers.
*/
#include <string.h>

#include "chem.h"
#include "molvol.h"
#include "tap.h"

#define A3 1e-30	/* one cubic Angstrom in m^3 */

/* Pesko et al., JES 164 (2017) E3569, Table 1: 90 C, rho in g/cm^3 */
static const double pesko_r[] = {0.01, 0.02, 0.04, 0.06, 0.08, 0.10, 0.12,
				 0.14, 0.16, 0.18, 0.21, 0.24, 0.27, 0.30};
static const double pesko_rho[] = {1.160, 1.180, 1.210, 1.230, 1.330, 1.365,
				   1.380, 1.430, 1.450, 1.470, 1.516, 1.580,
				   1.572, 1.640};

static void test_exact(void)
{
	char err[ERR_LEN] = "";
	double r[8], rho[8], sig[8], Vs = 2.3e-4, Ve = 4.0e-5, rr;
	molvol_fit f;
	for (int i = 0; i < 8; i++) {
		r[i] = 0.02 + 0.04 * i;
		rho[i] = (r[i] * CHEM_M_LITFSI_PAPER + CHEM_M_EO_PAPER) /
			 (r[i] * Vs + Ve);
		sig[i] = 0.02 * rho[i];
	}
	ok(molvol_fit_density(r, rho, sig, 8, CHEM_M_LITFSI_PAPER,
			      CHEM_M_EO_PAPER, &f, err) == 0, "exact data fit (%s)", err);
	is_num(f.V_salt / Vs, 1, 1e-9, "V_salt recovered");
	is_num(f.V_solvent / Ve, 1, 1e-9, "V_solvent recovered");
	ok(f.chi2 < 1e-15, "chi2 of exact data is zero (%g)", f.chi2);
	molvol_density(&f, 0.13, &rr, err);
	is_num(rr, (0.13 * CHEM_M_LITFSI_PAPER + CHEM_M_EO_PAPER) / (0.13 * Vs + Ve),
	       1e-8, "density at a new r");
}

static void test_pesko(void)
{
	char err[ERR_LEN] = "";
	double sig[14], eps, seps, kap, skap, c, sc;
	molvol_fit f;
	double rho[14];
	for (int i = 0; i < 14; i++) {
		rho[i] = pesko_rho[i] * 1000;
		sig[i] = 0.02 * rho[i];
	}
	ok(molvol_fit_density(pesko_r, rho, sig, 14, CHEM_M_LITFSI_PAPER,
			      CHEM_M_EO_PAPER, &f, err) == 0, "Pesko fit (%s)", err);
	/* independent reference: a numpy Gauss-Newton solution of the same
	** weighted problem, covariance (J^T W J)^-1, Angstrom^3 per molecule */
	is_num(molvol_per_molecule(f.V_solvent) / A3, 66.4084, 0.001, "V_EO per molecule");
	is_num(molvol_per_molecule(f.V_salt) / A3, 225.866, 0.005, "V_LiTFSI per molecule");
	is_num(molvol_per_molecule(f.sd_solvent) / A3, 0.78578, 0.0005, "sd V_EO");
	is_num(molvol_per_molecule(f.sd_salt) / A3, 5.98465, 0.003, "sd V_LiTFSI");
	is_num(f.chi2, 7.27749, 1e-4, "chi2");
	is_int(f.dof, 12, "dof");
	/* the paper: 66.4 +/- 0.73 and 224 +/- 7 A^3 */
	ok(fabs(molvol_per_molecule(f.V_solvent) / A3 - 66.4) < 0.73,
	   "V_EO agrees with the paper within its error");
	ok(fabs(molvol_per_molecule(f.V_salt) / A3 - 224) < 7,
	   "V_LiTFSI agrees with the paper within its error");
	ok(molvol_epsilon(&f, 0.1, &eps, &seps, err) == 0, "epsilon");
	is_num(eps, f.V_solvent / (0.1 * f.V_salt), 1e-14, "epsilon = V_EO/(r V_LiTFSI)");
	ok(fabs(eps - 2.95) < seps, "epsilon(0.1) = %.3f +/- %.3f, paper 2.95", eps, seps);
	is_num(seps, 0.10734, 2e-4, "sd epsilon from the covariance (numpy reference)");
	molvol_kappa(&f, 0.1, &kap, &skap, err);
	is_num(kap, 1 / eps + 1, 1e-14, "kappa = 1/epsilon + 1");
	is_num(skap, seps / (eps * eps), 1e-14, "sd kappa");
	molvol_concentration(&f, 0.1, &c, &sc, err);
	is_num(c, 1865.88, 0.05, "c(0.1) = 1.866 mol/L (numpy reference)");
	is_num(c / 1000, 1.87, 0.01, "c(0.1) about the paper's 1.87 mol/L");
	ok(sc > 0 && sc < 30, "sd c(0.1) = %.2f mol/m^3", sc);
	is_num(molvol_anion_velocity(-10e-9, eps), eps * 10e-9, 1e-20, "Eq. 3 v_TFSI = -eps v_EO");
	/* a lab-frame anion velocity v and the solvent velocity -v/eps that
	** Eq. 3 pairs with it: the solvent-frame anion velocity is their
	** difference */
	is_num(molvol_anion_solvent_frame(1e-9, eps), 1e-9 - (-1e-9 / eps), 1e-22,
	       "solvent frame: v_TFSI - v_EO = kappa v_TFSI");
}

static void test_errors(void)
{
	char err[ERR_LEN] = "";
	double r[3] = {0.1, 0.2, 0.3}, rho[3] = {1300, -1, 1500}, s[3] = {1, 1, 1};
	double eps;
	molvol_fit f;
	ok(molvol_fit_density(r, rho, s, 2, 0.287, 0.044, &f, err) == -1 &&
	   strstr(err, "at least 3"), "too few points (%s)", err);
	ok(molvol_fit_density(r, rho, s, 3, 0.287, 0.044, &f, err) == -1 &&
	   strstr(err, "row 2") && strstr(err, "rho"), "negative density names row 2 (%s)", err);
	rho[1] = 1400;
	s[2] = 0;
	ok(molvol_fit_density(r, rho, s, 3, 0.287, 0.044, &f, err) == -1 &&
	   strstr(err, "row 3") && strstr(err, "sigma"), "zero error names row 3 (%s)", err);
	s[2] = 1;
	ok(molvol_fit_density(r, rho, s, 3, 0, 0.044, &f, err) == -1 &&
	   strstr(err, "M_salt"), "zero molar mass (%s)", err);
	memset(&f, 0, sizeof f);
	ok(molvol_epsilon(&f, 0.1, &eps, NULL, err) == -1, "epsilon without a fit (%s)", err);
}

int main(void)
{
	test_exact();
	test_pesko();
	test_errors();
	return tap_done();
}
