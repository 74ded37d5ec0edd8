/*
** geom.c - exact scattering coordinates of detector pixels.
*/
#include <math.h>

#include "geom.h"

/* every parameter is checked so that a bad metadata value (a zero distance
** in a sidecar file, say) is named instead of producing NaN maps */
int geom_check(const geom *g, char *err)
{
	if (!(isfinite(g->energy_keV) && g->energy_keV > 0))
		return err_set(err, "geometry: energy_keV must be positive "
			       "(got %g)", g->energy_keV);
	if (!(isfinite(g->distance) && g->distance > 0))
		return err_set(err, "geometry: distance must be positive "
			       "(got %g m)", g->distance);
	if (!(isfinite(g->pixel_x) && g->pixel_x > 0))
		return err_set(err, "geometry: pixel size x must be positive "
			       "(got %g m)", g->pixel_x);
	if (!(isfinite(g->pixel_y) && g->pixel_y > 0))
		return err_set(err, "geometry: pixel size y must be positive "
			       "(got %g m)", g->pixel_y);
	if (!isfinite(g->center_x) || !isfinite(g->center_y))
		return err_set(err, "geometry: beam centre must be finite");
	if (g->rows == 0 || g->cols == 0)
		return err_set(err, "geometry: shape %zux%zu is empty",
			       g->rows, g->cols);
	return 0;
}

double geom_wavelength(const geom *g)
{
	return GEOM_HC_KEV_M / g->energy_keV;
}

/* 2 theta from atan2 and q from sin(theta) keep full relative precision
** at the tiny angles of XPCS, where 1 - cos would cancel */
void geom_pixel(const geom *g, double row, double col, geom_px *o)
{
	double k = 2 * M_PI / geom_wavelength(g);
	double x = (col - g->center_x) * g->pixel_x;
	double y = -(row - g->center_y) * g->pixel_y;
	double r = hypot(x, y), D = g->distance;
	double R = hypot(r, D);
	o->tth = atan2(r, D);
	o->q = 2 * k * sin(o->tth / 2);
	o->phi_deg = atan2(y, x) * (180 / M_PI);
	if (o->phi_deg == -180)
		o->phi_deg = 180;
	o->qx = k * x / R;
	o->qy = k * y / R;
	/* D/R - 1 = -r^2 / (R (R + D)) without cancellation */
	o->qz = -k * r * r / (R * (R + D));
	o->ux = r > 0 ? x / r : 0;
	o->uy = r > 0 ? y / r : 0;
}

int geom_maps(const geom *g, double *q, double *phi_deg, double *ux,
	      double *uy, char *err)
{
	if (geom_check(g, err))
		return -1;
	#pragma omp parallel for schedule(static)
	for (size_t r = 0; r < g->rows; r++) {
		for (size_t c = 0; c < g->cols; c++) {
			geom_px p;
			size_t i = r * g->cols + c;
			geom_pixel(g, (double)r, (double)c, &p);
			if (q) q[i] = p.q;
			if (phi_deg) phi_deg[i] = p.phi_deg;
			if (ux) ux[i] = p.ux;
			if (uy) uy[i] = p.uy;
		}
	}
	return 0;
}
