/*
** xam.h - X-ray absorption microscopy: salt concentration profiles from
** transmission raster scans across a cell (paper Fig. 4), plain C core.
**
** Per point: time t (s), position x (m), transmitted counts I, incident
** monitor counts I0 and optional dark counts D. The absorbance is
**     A = -ln((I - D) / (I0 - D)),
** whose counting error (Poisson I, I0, D; D shared by both) is propagated
** to first order. With additive molar volumes, salt entering a volume
** pushes V_salt/V_solvent moles of solvent out, so a change of salt
** concentration dc changes the absorbance by
**     dA = d (sigma_salt - (V_salt/V_solvent) sigma_solvent) dc
** (d the thickness along the beam, sigma molar cross sections, m^2/mol).
** A reference scan taken before polarization at uniform c0 removes
** everything else (windows, detector efficiency, the electrodes):
**     c(x) = c0 + (A(x) - A_ref(x)) / (d contrast).
** SI units: m, s, mol/m^3, m^2/mol. Rows and scans in messages are 1-based.
*/
#ifndef ionflow_xam_h
#define ionflow_xam_h

#include <stddef.h>

#include "err.h"

/* absorbance and its standard error per point; dark may be NULL */
int xam_absorbance(const double *counts, const double *monitor,
		   const double *dark, size_t n, double *A, double *sA,
		   char *err);

/* the contrast per mol/m^3 of salt (m^2/mol), see above */
double xam_contrast(double sigma_salt, double sigma_solvent, double V_salt,
		    double V_solvent);

/* split points in acquisition order into scans: a scan moves x strictly
** in one direction, so a reversal or a repeated x starts a new one.
** scan[i] receives the 0-based scan of point i. */
int xam_group_scans(const double *x, size_t n, size_t *scan,
		    size_t *nscans, char *err);

/* linear interpolation in a monotonic profile xs (either direction);
** -1 (no message) when x lies outside [min xs, max xs] */
int xam_interp(const double *xs, const double *v, const double *sv,
	       size_t m, double x, double *out, double *sout);

typedef struct xam_opts {
	double c0;		/* uniform concentration of the reference, mol/m^3 */
	double thickness;	/* sample thickness along the beam, m */
	double contrast;	/* m^2/mol, xam_contrast or xam_calibrate */
	size_t reference;	/* 0-based scan taken before polarization */
} xam_opts;

typedef struct xam_result {
	size_t n, nscans;
	size_t *scan;			/* per point, 0-based */
	double *A, *sA, *c, *sc;	/* per point */
	size_t *first, *count;		/* per scan: points first..first+count-1 */
	double *t_mean;			/* per scan, s */
} xam_result;

/* the whole conversion of a table of points; dark may be NULL. Points of
** the reference scan get c = c0 and sc = 0 (by assumption). Free with
** xam_result_free, also after a failure. */
int xam_convert(const xam_opts *o, const double *t, const double *x,
		const double *counts, const double *monitor,
		const double *dark, size_t n, xam_result *res, char *err);
void xam_result_free(xam_result *res);

/* empirical contrast from a second reference of known concentration:
** the weighted mean of A1 - A_ref over points of scan 1 with lo <= x <= hi,
** divided by thickness * delta_c */
int xam_calibrate(const double *xr, const double *Ar, const double *sAr,
		  size_t nr, const double *x1, const double *A1,
		  const double *sA1, size_t n1, double delta_c,
		  double thickness, double lo, double hi, double *contrast,
		  double *sd, char *err);

/* electrode/electrolyte boundaries of one scan from its absorbance
** profile (lithium absorbs far less than the electrolyte): the crossings,
** interpolated linearly, of the level halfway between the lowest and
** highest (3-point median filtered) absorbance around the longest run of
** electrolyte points. x must be monotonic. left < right on return. */
int xam_edges(const double *x, const double *A, size_t n, double *left,
	      double *right, char *err);

typedef enum { XAM_FROM_LEFT, XAM_FROM_RIGHT, XAM_FROM_CENTRE } xam_origin;
/* a position measured from an electrode (distance into the cell) or from
** the centre of the cell */
double xam_position(double x, double left, double right, xam_origin o);

typedef struct xam_balance {
	double total, sd_total;	/* integral of c over the cell, mol/m^2 */
	double expected;	/* c0 (right - left) */
	double excess;		/* total - expected */
	size_t used;		/* points inside the cell */
} xam_balance;

/* salt balance of one profile: trapezoids through the points strictly
** inside (left, right), the end values held out to the edges */
int xam_salt_balance(const double *x, const double *c, const double *sc,
		     size_t n, double left, double right, double c0,
		     xam_balance *b, char *err);

/* profiles on a common grid: every scan must have the points of the
** first one at the same positions (within tol, m). Fills nscans x npos
** row-major matrices sorted by ascending x (caller frees with free()). */
int xam_grid(const xam_result *r, const double *t, const double *x,
	     double tol, size_t *npos, double **T, double **X, double **C,
	     double **SC, char *err);

/* a quarter of the smallest step of the first scan: positions of later
** scans closer than that to the first scan's count as the same */
double xam_default_tol(const xam_result *r, const double *x);

/* c at time tq for every position of a grid, interpolated linearly
** between the two scans that bracket tq at that position */
int xam_interp_time(const double *T, const double *C, const double *SC,
		    size_t nscans, size_t npos, double tq, double *c,
		    double *sc, char *err);

#endif
