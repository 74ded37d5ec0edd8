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

/* A pixel's place on the detector, its q, phi and direction: what the
** maps need, shared with geom_pixel so that both give the same numbers.
** q = 2k sin theta with sin theta = r / sqrt(2R(R + D)) (2 theta =
** atan2(r, D)): full relative precision at the tiny angles of XPCS,
** where 1 - cos 2 theta would cancel, and no trigonometric call. */
typedef struct geom_pt {
	double x, y, r, R, q, phi_deg, ux, uy;
} geom_pt;

static inline void geom_at(const geom *g, double k, double row, double col,
			   geom_pt *p)
{
	double D = g->distance;
	p->x = (col - g->center_x) * g->pixel_x;
	p->y = -(row - g->center_y) * g->pixel_y;
	p->r = sqrt(p->x * p->x + p->y * p->y);
	p->R = sqrt(p->r * p->r + D * D);
	p->q = 2 * k * p->r / sqrt(2 * p->R * (p->R + D));
	p->phi_deg = atan2(p->y, p->x) * (180 / M_PI);
	if (p->phi_deg == -180)
		p->phi_deg = 180;
	p->ux = p->r > 0 ? p->x / p->r : 0;
	p->uy = p->r > 0 ? p->y / p->r : 0;
}

void geom_pixel(const geom *g, double row, double col, geom_px *o)
{
	double k = 2 * M_PI / geom_wavelength(g), D = g->distance;
	geom_pt p;
	geom_at(g, k, row, col, &p);
	o->q = p.q;
	o->phi_deg = p.phi_deg;
	o->tth = atan2(p.r, D);
	o->qx = k * p.x / p.R;
	o->qy = k * p.y / p.R;
	/* D/R - 1 = -r^2 / (R (R + D)) without cancellation */
	o->qz = -k * p.r * p.r / (p.R * (p.R + D));
	o->ux = p.ux;
	o->uy = p.uy;
}

int geom_maps(const geom *g, double *q, double *phi_deg, double *ux,
	      double *uy, char *err)
{
	double k;
	if (geom_check(g, err))
		return -1;
	k = 2 * M_PI / geom_wavelength(g);
	#pragma omp parallel for schedule(static)
	for (size_t r = 0; r < g->rows; r++) {
		for (size_t c = 0; c < g->cols; c++) {
			geom_pt p;
			size_t i = r * g->cols + c;
			geom_at(g, k, (double)r, (double)c, &p);
			if (q) q[i] = p.q;
			if (phi_deg) phi_deg[i] = p.phi_deg;
			if (ux) ux[i] = p.ux;
			if (uy) uy[i] = p.uy;
		}
	}
	return 0;
}
