/*
** speckle.h - synthetic heterodyne XPCS frames with a known truth.
**
** Each pixel sees M independent speckle modes (contrast beta = 1/M). A mode
** is the sum of a static field S (fraction 1-h of the mean intensity) and a
** moving field B whose phase advances by q.v per second and whose
** correlation decays as exp(-(tau/tau0)^gamma):
**
**     I(t) = sum_k |S_k + B_k(t) exp(i q.x(t))|^2,   x(t) = int v dt
**
** B is a complex Ornstein-Uhlenbeck (AR(1)) field, which gives gamma = 1
** exactly. For 0 < gamma < 1 the stretched exponential is completely
** monotone, i.e. a positive mixture of exponentials; B is then a sum of
** independent OU fields with rates on a log grid and non-negative weights
** fitted to the stretched exponential (speckle_mixture). Every field stays
** complex Gaussian, so the pixel-ensemble g2 is exactly paper Eq. 1 with
** h = moving fraction of the intensity (h = 1 is pure homodyne), beta = 1/M
** and the field correlation f(tau) of the mixture (speckle_field_corr).
** gamma > 1 (compressed) is not a mixture of OU processes and is refused.
**
** Frames are sampled instantaneously (no exposure averaging), optionally
** with Poisson counting noise. Random numbers come from a counter-based
** hash of (seed, pixel, frame, slot), so frames depend on the seed only,
** never on the number of threads.
*/
#ifndef ionflow_speckle_h
#define ionflow_speckle_h

#include <stddef.h>
#include <stdint.h>

#include "array.h"
#include "err.h"
#include "geom.h"

#define SPECKLE_MAXMIX 12	/* OU components for gamma < 1 */
#define SPECKLE_MAXMODES 64

typedef struct speckle_params {
	geom geom;		/* detector (geom.h: x right, y up, phi from +x) */
	size_t nframes;
	double frame_time;	/* s */
	const double *velocity;	/* m/s during each frame, nframes entries */
	double flow_angle;	/* flow direction on the detector, rad from +x
				   towards +y, the same frame as geom's phi */
	double tau0;		/* s, relaxation time of the moving field */
	double gamma;		/* stretching exponent, 0 < gamma <= 1 */
	double h;		/* moving fraction of the mean intensity */
	int modes;		/* independent modes per pixel, beta = 1/modes */
	double mean_counts;	/* mean counts per pixel per frame */
	int poisson;		/* 1: Poisson counts, 0: the intensity itself */
	uint64_t seed;
	struct progress *prog;	/* tiles of pixels done; NULL none */
} speckle_params;

/* the moving field's correlation as a mixture of exponentials:
** f(tau) = sum_j w[j] exp(-rate[j] tau), sum w = 1 */
typedef struct speckle_mix {
	int n;
	double rate[SPECKLE_MAXMIX];	/* 1/s */
	double w[SPECKLE_MAXMIX];
	double max_err;		/* max |f - exp(-(tau/tau0)^gamma)| on the grid */
} speckle_mix;

/* check parameters; fills mix for the given tau0, gamma */
int speckle_check(const speckle_params *p, speckle_mix *mix, char *err);
/* f(tau) of the mixture */
double speckle_field_corr(const speckle_mix *mix, double tau);

/* Fill out (nframes x rows x cols, C order) of dtype ARR_U16, ARR_U32,
** ARR_F32 or ARR_F64. Counts that overflow an integer dtype are an error.
** OpenMP over pixel tiles; polls intr_pending(). */
int speckle_simulate(const speckle_params *p, void *out, arr_dtype dt,
		     char *err);

/* displacement along the flow at the start of each frame (m), x[0] = 0 */
void speckle_displacement(const speckle_params *p, double *x);

/* the building blocks, exposed for tests */
uint64_t speckle_hash(uint64_t seed, uint64_t counter);
double speckle_normal_table(unsigned idx);	/* idx < 4096 */
uint64_t speckle_poisson(double lam, uint64_t seed, uint64_t counter);

/* n Poisson counts of the given mean into out, for benchmarks and
** examples: speckle_poisson of (seed, i), so the values do not depend on
** the number of threads; the mean at most SPECKLE_POISSON_U16_MAX (its
** counts then stay far below 65535, where they would be clipped) */
#define SPECKLE_POISSON_U16_MAX 10000
int speckle_poisson_u16(uint16_t *out, size_t n, double mean, uint64_t seed,
			char *err);

#endif
