/*
** molvol.c - molar volumes from densities (paper Eq. 4), see molvol.h.
*/
#include <math.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>

#include "chem.h"
#include "molvol.h"

typedef struct molvol_data {
	const double *r, *rho;
	size_t n;
	double M_salt, M_solvent;
} molvol_data;

/* model written as (r M_salt + M_solvent) / (r V_salt + V_solvent) so
** that no point divides by r */
static double molvol_model(const molvol_data *d, size_t i, double Vs,
			   double Ve, double *den)
{
	*den = d->r[i] * Vs + Ve;
	return (d->r[i] * d->M_salt + d->M_solvent) / *den;
}

/* unweighted residuals; GSL applies the weights 1/sigma^2 itself */
static int molvol_f(const gsl_vector *p, void *vd, gsl_vector *f)
{
	const molvol_data *d = vd;
	double den;
	for (size_t i = 0; i < d->n; i++)
		gsl_vector_set(f, i, molvol_model(d, i, gsl_vector_get(p, 0),
			       gsl_vector_get(p, 1), &den) - d->rho[i]);
	return GSL_SUCCESS;
}

static int molvol_df(const gsl_vector *p, void *vd, gsl_matrix *J)
{
	const molvol_data *d = vd;
	double den, m;
	for (size_t i = 0; i < d->n; i++) {
		m = molvol_model(d, i, gsl_vector_get(p, 0),
				 gsl_vector_get(p, 1), &den);
		gsl_matrix_set(J, i, 0, -m * d->r[i] / den);
		gsl_matrix_set(J, i, 1, -m / den);
	}
	return GSL_SUCCESS;
}

static int molvol_check_points(const double *r, const double *rho,
			       const double *sigma, size_t n, char *err)
{
	if (n < 3)
		return err_set(err, "need at least 3 density points, got %zu", n);
	for (size_t i = 0; i < n; i++) {
		if (!(isfinite(r[i]) && r[i] > 0))
			return err_set(err, "row %zu: r = %g must be positive", i + 1, r[i]);
		if (!(isfinite(rho[i]) && rho[i] > 0))
			return err_set(err, "row %zu: rho = %g must be positive", i + 1, rho[i]);
		if (!(isfinite(sigma[i]) && sigma[i] > 0))
			return err_set(err, "row %zu: sigma = %g must be positive", i + 1, sigma[i]);
	}
	return 0;
}

/* a starting point from the linear form rho (r Vs + Ve) = r Ms + Me:
** the pure-solvent and high-r limits give Ve ~ Me/rho_min and
** Vs ~ Ms/rho_max, good to tens of percent, enough for the trust region */
static void molvol_start(const double *rho, size_t n, double Ms, double Me,
			 double p[2])
{
	double lo = rho[0], hi = rho[0];
	for (size_t i = 1; i < n; i++) {
		lo = fmin(lo, rho[i]);
		hi = fmax(hi, rho[i]);
	}
	p[0] = Ms / hi;
	p[1] = Me / lo;
}

static int molvol_solve(molvol_data *d, const double *sigma, double p0[2],
			molvol_fit *fit, char *err)
{
	const gsl_multifit_nlinear_type *T = gsl_multifit_nlinear_trust;
	gsl_multifit_nlinear_parameters par = gsl_multifit_nlinear_default_parameters();
	gsl_multifit_nlinear_fdf fdf = {molvol_f, molvol_df, NULL, d->n, 2, d, 0, 0, 0};
	gsl_multifit_nlinear_workspace *w = NULL;
	gsl_vector *wt = gsl_vector_alloc(d->n);
	gsl_vector_view x0 = gsl_vector_view_array(p0, 2);
	gsl_matrix *cov = gsl_matrix_alloc(2, 2);
	int info, status, rc = -1;
	if (wt == NULL || cov == NULL || (w = gsl_multifit_nlinear_alloc(T, &par, d->n, 2)) == NULL) {
		err_set(err, "out of memory in the molar-volume fit");
		goto done;
	}
	for (size_t i = 0; i < d->n; i++)
		gsl_vector_set(wt, i, 1.0 / (sigma[i] * sigma[i]));
	gsl_multifit_nlinear_winit(&x0.vector, wt, &fdf, w);
	status = gsl_multifit_nlinear_driver(200, 1e-12, 1e-12, 1e-12, NULL, NULL, &info, w);
	if (status != GSL_SUCCESS) {
		err_set(err, "molar-volume fit did not converge: %s", gsl_strerror(status));
		goto done;
	}
	gsl_multifit_nlinear_covar(gsl_multifit_nlinear_jac(w), 0.0, cov);
	fit->V_salt = gsl_vector_get(gsl_multifit_nlinear_position(w), 0);
	fit->V_solvent = gsl_vector_get(gsl_multifit_nlinear_position(w), 1);
	fit->sd_salt = sqrt(gsl_matrix_get(cov, 0, 0));
	fit->sd_solvent = sqrt(gsl_matrix_get(cov, 1, 1));
	fit->cov = gsl_matrix_get(cov, 0, 1);
	gsl_blas_ddot(gsl_multifit_nlinear_residual(w), gsl_multifit_nlinear_residual(w), &fit->chi2);
	fit->iterations = (int)gsl_multifit_nlinear_niter(w);
	rc = 0;
	if (!(isfinite(fit->sd_salt) && isfinite(fit->sd_solvent)))
		rc = err_set(err, "molar-volume fit is degenerate (singular covariance); "
			     "are the r values all equal?");
done:
	if (w)
		gsl_multifit_nlinear_free(w);
	gsl_vector_free(wt);
	gsl_matrix_free(cov);
	return rc;
}

int molvol_fit_density(const double *r, const double *rho,
		       const double *sigma, size_t n, double M_salt,
		       double M_solvent, molvol_fit *fit, char *err)
{
	molvol_data d = {r, rho, n, M_salt, M_solvent};
	double p0[2];
	gsl_set_error_handler_off();
	memset(fit, 0, sizeof *fit);
	if (!(isfinite(M_salt) && M_salt > 0 && isfinite(M_solvent) && M_solvent > 0))
		return err_set(err, "molar masses must be positive (M_salt = %g, "
			       "M_solvent = %g kg/mol)", M_salt, M_solvent);
	if (molvol_check_points(r, rho, sigma, n, err))
		return -1;
	fit->M_salt = M_salt;
	fit->M_solvent = M_solvent;
	fit->dof = (int)n - 2;
	molvol_start(rho, n, M_salt, M_solvent, p0);
	if (molvol_solve(&d, sigma, p0, fit, err))
		return -1;
	if (fit->V_salt <= 0 || fit->V_solvent <= 0)
		return err_set(err, "molar-volume fit gave a non-positive volume "
			       "(V_salt = %g, V_solvent = %g m^3/mol)",
			       fit->V_salt, fit->V_solvent);
	return 0;
}

double molvol_per_molecule(double V_molar)
{
	return V_molar / CHEM_AVOGADRO;
}

static int molvol_check_r(const molvol_fit *f, double r, char *err)
{
	if (!(isfinite(r) && r > 0))
		return err_set(err, "r = %g must be positive", r);
	if (!(f->V_salt > 0 && f->V_solvent > 0))
		return err_set(err, "molar volumes are not set (no fit?)");
	return 0;
}

int molvol_density(const molvol_fit *f, double r, double *rho, char *err)
{
	if (molvol_check_r(f, r, err))
		return -1;
	*rho = (r * f->M_salt + f->M_solvent) / (r * f->V_salt + f->V_solvent);
	return 0;
}

/* variance of g(Vs, Ve) from its gradient and the fit covariance */
static double molvol_var(const molvol_fit *f, double gs, double ge)
{
	double v = gs * gs * f->sd_salt * f->sd_salt +
		   ge * ge * f->sd_solvent * f->sd_solvent + 2 * gs * ge * f->cov;
	return v > 0 ? v : 0;
}

int molvol_concentration(const molvol_fit *f, double r, double *c,
			 double *sd, char *err)
{
	double den;
	if (molvol_check_r(f, r, err))
		return -1;
	den = r * f->V_salt + f->V_solvent;
	*c = r / den;
	if (sd)
		*sd = sqrt(molvol_var(f, -r * r / (den * den), -r / (den * den)));
	return 0;
}

int molvol_epsilon(const molvol_fit *f, double r, double *eps, double *sd,
		   char *err)
{
	if (molvol_check_r(f, r, err))
		return -1;
	*eps = f->V_solvent / (r * f->V_salt);
	if (sd)
		sd[0] = sqrt(molvol_var(f, -*eps / f->V_salt, 1.0 / (r * f->V_salt)));
	return 0;
}

int molvol_kappa(const molvol_fit *f, double r, double *kappa, double *sd,
		 char *err)
{
	double eps, se;
	if (molvol_epsilon(f, r, &eps, &se, err))
		return -1;
	*kappa = 1.0 / eps + 1.0;
	if (sd)
		*sd = se / (eps * eps);
	return 0;
}

double molvol_anion_velocity(double v_solvent, double eps)
{
	return -eps * v_solvent;
}

double molvol_anion_solvent_frame(double v_anion_lab, double eps)
{
	return (1.0 / eps + 1.0) * v_anion_lab;
}
