/*
** geom.h - detector geometry for small- and wide-angle scattering (core).
**
** A flat detector normal to the incident beam at distance D from the
** sample. Pixel (row, col) has its centre at
**   x = (col - center_x) * pixel_x,   y = -(row - center_y) * pixel_y
** in metres on the detector (x to the right, y up: rows grow downwards),
** with the beam centre in 0-based pixel coordinates (x = column), as in the
** APS 8-ID-I metadata. The scattering angle is exact:
**   2 theta = atan2(sqrt(x^2 + y^2), D),   q = 4 pi sin(theta) / lambda,
** phi = atan2(y, x) in degrees in (-180, 180] (pySimpleMask's convention).
** The scattering vector k_f - k_i has the components
**   q_vec = k (x / R, y / R, D / R - 1),   R = sqrt(x^2 + y^2 + D^2),
** and its in-plane part (normal to the beam) points along (cos phi, sin phi)
** with magnitude q cos(theta): a velocity v normal to the beam gives
** omega = q . v = q cos(theta) (v_x cos phi + v_y sin phi).
** SI units: metres, 1/m; energy in keV because everybody quotes it so.
*/
#ifndef ionflow_geom_h
#define ionflow_geom_h

#include <stddef.h>

#include "err.h"

/* h c in keV * m: lambda = GEOM_HC_KEV_M / E */
#define GEOM_HC_KEV_M 1.239841984e-9

typedef struct geom {
	double energy_keV;	/* incident photon energy */
	double distance;	/* sample-detector distance, m */
	double pixel_x;		/* pixel pitch along columns, m */
	double pixel_y;		/* pixel pitch along rows, m */
	double center_x;	/* beam centre column, 0-based pixels */
	double center_y;	/* beam centre row, 0-based pixels */
	size_t rows, cols;	/* detector shape */
} geom;

/* one pixel's scattering coordinates */
typedef struct geom_px {
	double q;		/* |q|, 1/m */
	double phi_deg;		/* azimuth, degrees, (-180, 180] */
	double tth;		/* 2 theta, radians */
	double qx, qy, qz;	/* q vector, 1/m (z along the beam) */
	double ux, uy;		/* in-plane unit direction (0, 0 at the centre) */
} geom_px;

/* positive finite energy, distance and pixel sizes, finite centre and a
** non-empty shape; the message names the parameter */
int geom_check(const geom *g, char *err);
double geom_wavelength(const geom *g);	/* metres */
/* coordinates of the point (row, col) in pixel units (fractional allowed) */
void geom_pixel(const geom *g, double row, double col, geom_px *out);
/* whole-detector maps (rows x cols, C order); any output may be NULL */
int geom_maps(const geom *g, double *q, double *phi_deg, double *ux,
	      double *uy, char *err);

#endif
