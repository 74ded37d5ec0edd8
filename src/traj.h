/*
** traj.h - molecular dynamics trajectories, streamed frame by frame
** (plain C core, no Lua).
**
** Sources: H5MD files (/particles/<group>/position/{value,time,step},
** /particles/<group>/box/edges as 3 edges or 3x3 cell vectors, fixed or
** per frame, species), LAMMPS text dumps (orthogonal or triclinic boxes;
** columns id type and x y z, xs ys zs with or without ix iy iz image
** flags, or xu yu zu), and a synthetic generator of correlated random
** walks used
** by tests and benchmarks. Every source hands out positions unwrapped
** and in SI units (m, s), atoms in a fixed order (LAMMPS: sorted by id),
** one frame at a time: memory is a few frames whatever the length.
**
** Unwrapping: image flags when the file has them; otherwise the
** minimum-image increment between consecutive frames, which is exact as
** long as no atom moves more than half a box length between two frames.
** Errors (err.h): a particle count that changes, a missing box on a
** wrapped trajectory, time that does not increase, unreadable rows.
*/
#ifndef ionflow_traj_h
#define ionflow_traj_h

#include <stddef.h>

#include "err.h"

typedef struct traj traj;

typedef enum { TRAJ_H5MD, TRAJ_LAMMPS, TRAJ_SYNTH } traj_format;

/* how positions arrive in the file (after conversion they are unwrapped) */
typedef enum {
	TRAJ_UNWRAPPED,		/* xu yu zu, or declared unwrapped */
	TRAJ_IMAGES,		/* wrapped with image flags */
	TRAJ_MINIMAGE		/* wrapped, unwrapped by minimum image */
} traj_wrap;

typedef struct traj_opts {
	const char *group;	/* H5MD particles group; NULL: the only one */
	double length_scale;	/* m per file length unit; 0: from the file's
				** unit attribute, else nm (H5MD), A (LAMMPS) */
	double time_scale;	/* s per file time unit (H5MD) or per
				** LAMMPS timestep; 0: ps (H5MD), fs (LAMMPS) */
	int unwrapped;		/* positions are already unwrapped (no box
				** needed) */
	const char *type_column;	/* LAMMPS: the column of integer
					** types (NULL: "type") */
	int truncated;		/* LAMMPS: a last frame cut short is
				** dropped (see traj_warning), not an error */
} traj_opts;

/* correlated random walks: pair k (k < min(ncat, nan)) shares a common
** Gaussian step c of diffusion coefficient d_common; the cation moves by
** c + own, the anion by s_common c + own, so that D+ = d_cat and
** D- = d_an in total (own parts d_cat - d_common, d_an - s^2 d_common).
** Solvent particles (type 3) diffuse alone with d_solv. Types: cation 1,
** anion 2, solvent 3. SI units. */
typedef struct traj_synth {
	size_t ncat, nan, nsolv, nframes;
	double dt, box;			/* s, m (cubic) */
	double d_cat, d_an, d_common, s_common, d_solv;	/* m^2/s */
	double pair_dist;	/* > 0: anion k starts this far (m, along x)
				** from cation k, else anywhere */
	unsigned long long seed;
} traj_synth;

typedef struct traj_info {
	traj_format format;
	traj_wrap wrap;
	size_t natoms;
	size_t nframes;			/* counted on open */
	int has_box;
	int triclinic;			/* some frame has a tilted box */
	int periodic[3];
	double length_scale, time_scale;
	char group[128];		/* H5MD group */
} traj_info;

typedef struct traj_frame {
	const double *pos;	/* natoms x 3, unwrapped, m */
	double box[3];		/* edges lx, ly, lz, m (NaN without a box) */
	double tilt[3];		/* xy, xz, yz, m (0: orthogonal box) */
	double time;		/* s */
	size_t index;		/* 0-based frame number */
} traj_frame;

/* Boxes. An orthogonal box has edges lx, ly, lz; a triclinic one (LAMMPS
** "BOX BOUNDS xy xz yz", an H5MD 3x3 edges matrix) is the cell whose rows
** are a = (lx, 0, 0), b = (xy, ly, 0), c = (xz, yz, lz) (LAMMPS'
** restricted form; its volume is lx ly lz). Image flags add ia a + ib b +
** ic c; the minimum image rounds fractional coordinates. */
/* the minimum image of displacement d in place (periodic axes only) */
void traj_minimage(const double box[3], const double tilt[3],
		   const int periodic[3], double d[3]);

int traj_open(traj **t, const char *path, const traj_opts *o, char *err);
int traj_open_synth(traj **t, const traj_synth *s, char *err);
void traj_close(traj *t);			/* NULL is fine */

const traj_info *traj_get_info(const traj *t);
/* per-atom type (LAMMPS type, H5MD species; 0 when the file has none) */
const int *traj_types(const traj *t);
const char *traj_path(const traj *t);
/* what the reader dropped (a truncated last frame), or NULL */
const char *traj_warning(const traj *t);
/* per-atom masses from the file (H5MD mass), NULL when it has none */
const double *traj_masses(const traj *t);

/* 1 and the next frame (valid until the next call), 0 at the end, -1 on
** error (including "interrupted") */
int traj_next(traj *t, traj_frame *fr, char *err);

/* how traj_write_lammps writes positions */
typedef enum {
	TRAJ_OUT_WRAPPED_IMAGES, TRAJ_OUT_WRAPPED, TRAJ_OUT_UNWRAPPED
} traj_out;

/* Write every remaining frame of src: H5MD in nm and ps (wrapped into the
** box when wrap is set), or a LAMMPS dump in Angstrom with timesteps of
** step_s seconds. Small trajectories for tests and examples: the H5MD
** writer holds the whole trajectory in memory. */
int traj_write_h5md(const char *path, traj *src, int wrap, char *err);
int traj_write_lammps(const char *path, traj *src, traj_out how,
		      double step_s, char *err);

#endif
