/*
** h5.c - HDF5 input and output (see h5.h).
*/
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

#include "h5.h"
#include "h5filt.h"
#include "mem.h"
#include "intr.h"
#include "os.h"

#if H5_VERSION_GE(1, 12, 0)
typedef H5L_info2_t h5_linfo;
#define h5_vlen_reclaim H5Treclaim
#else
typedef H5L_info_t h5_linfo;
#define h5_vlen_reclaim H5Dvlen_reclaim
#endif

#define H5_BLOCK_BYTES ((size_t)8 << 20)	/* frames read per call */
#define H5_PIECE_BYTES ((size_t)64 << 20)	/* whole reads, between polls */
#define H5_CHUNK_BYTES ((size_t)1 << 20)	/* automatic write chunks */
#define H5_CACHE_MAX ((size_t)64 << 20)		/* chunk cache for streams */
#define H5_EXACT (9007199254740992.0)		/* 2^53 */

/* ---------------------------------------------------------------- */
/* library state, errors                                            */
/* ---------------------------------------------------------------- */

/* a file open for reading in this process (files and frame streams), so
** that a writer never replaces it */
typedef struct h5_reg {
	dev_t dev;
	ino_t ino;
	int on;
	struct h5_reg *next;
} h5_reg;

struct h5_file {
	hid_t fid;
	char *path;
	h5_reg reg;
};

struct h5_writer {
	hid_t fid;
	char *path, *tmp;
	int overwrite;
	struct h5_writer *next;
};

static h5_reg *h5_readers = NULL;
static h5_writer *h5_writers = NULL;

static void h5_probe_at(const char *path);
static int h5_probe(const char *path, const struct stat *st, char *err);

/* A writer that was never committed must not leave its temporary file
** behind, even when the program leaves through exit() without closing
** its Lua state, or is ended by a signal (only unlink(2) here, which a
** signal handler may call). */
void h5_unlink_temps(void)
{
	h5_writer *w;
	for (w = h5_writers; w != NULL; w = w->next)
		if (w->tmp != NULL)
			unlink(w->tmp);
}

static void h5_atexit(void) { h5_unlink_temps(); }

/* HDF5 prints its error stack to stderr by default; we carry it into our
** messages instead (h5_fail) */
static void h5_init(void)
{
	static int done = 0;
	if (done)
		return;
	done = 1;
	H5open();
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	h5filt_register();	/* failure shows later as a missing filter */
	atexit(h5_atexit);
}

typedef struct h5_ewalk {
	char inner[200];
	int n;
} h5_ewalk;

static herr_t h5_ewalk_cb(unsigned n, const H5E_error2_t *e, void *ud)
{
	h5_ewalk *w = ud;
	if (n == 0 && e->desc != NULL)
		snprintf(w->inner, sizeof w->inner, "%s", e->desc);
	w->n++;
	return 0;
}

/* Our message, then the most specific description on HDF5's error stack
** (the innermost frame: "file signature not found", "truncated file: eof
** = ...") which says more than the API-level "unable to open file". Must
** be called right after the failing call: any later API call clears it. */
static int h5_fail(char *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int h5_fail(char *err, const char *fmt, ...)
{
	h5_ewalk w;
	va_list ap;
	size_t n;
	memset(&w, 0, sizeof w);
	H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, h5_ewalk_cb, &w);
	H5Eclear2(H5E_DEFAULT);
	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, ERR_LEN, fmt, ap);
	va_end(ap);
	n = strlen(err);
	if (w.n > 0 && w.inner[0] != '\0' && n + 10 < ERR_LEN)
		snprintf(err + n, ERR_LEN - n, " (HDF5: %s)", w.inner);
	return -1;
}

static void h5_reg_add(h5_reg *r, const char *path)
{
	struct stat st;
	r->on = 0;
	if (stat(path, &st) != 0)
		return;
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	r->on = 1;
	r->next = h5_readers;
	h5_readers = r;
}

static void h5_reg_del(h5_reg *r)
{
	h5_reg **p;
	if (!r->on)
		return;
	for (p = &h5_readers; *p != NULL; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			break;
		}
	r->on = 0;
}

/* 1 when path is a file that this process has open for reading */
static int h5_reg_busy(const char *path)
{
	struct stat st;
	h5_reg *r;
	if (stat(path, &st) != 0)
		return 0;
	for (r = h5_readers; r != NULL; r = r->next)
		if (r->dev == st.st_dev && r->ino == st.st_ino)
			return 1;
	return 0;
}

static char *h5_strdup(const char *s, char *err)
{
	size_t n = strlen(s) + 1;
	char *d = err_malloc(n, 1, err);
	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

long h5_open_ids(void)
{
	h5_init();
	return (long)H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL);
}

int h5_filter_avail(int id)
{
	h5_init();
	return H5Zfilter_avail((H5Z_filter_t)id) > 0;
}

/* ---------------------------------------------------------------- */
/* types                                                            */
/* ---------------------------------------------------------------- */

typedef enum { H5_CNUM, H5_CSTR, H5_CBAD } h5_class;

/* how a file type is read: numbers as dt, either converted by HDF5
** (raw == 0) or read as native integers of rsize bytes and converted
** here, where exactness can be checked (64-bit, enums) */
typedef struct h5_type {
	h5_class cls;
	arr_dtype dt;
	int raw, rsize, rsigned, isint;
	char name[24];
} h5_type;

/* the arr dtype that holds every value of an integer type exactly (64-bit
** integers: f64, exact to 2^53, checked when read) */
static int h5_int_dtype(size_t size, int sgn, arr_dtype *dt)
{
	switch (size) {
	case 1: *dt = sgn ? ARR_I32 : ARR_U8; return 0;
	case 2: *dt = sgn ? ARR_I32 : ARR_U16; return 0;
	case 4: *dt = sgn ? ARR_I32 : ARR_U32; return 0;
	case 8: *dt = ARR_F64; return 0;
	default: return -1;
	}
}

static void h5_type_enum(hid_t t, h5_type *m)
{
	hid_t b = H5Tget_super(t);
	size_t bs;
	int sgn;
	snprintf(m->name, sizeof m->name, "enum");
	if (b < 0)
		return;
	bs = H5Tget_size(b);
	sgn = H5Tget_sign(b) == H5T_SGN_2;
	H5Tclose(b);
	if (h5_int_dtype(bs, sgn, &m->dt) == 0) {
		m->cls = H5_CNUM;
		m->raw = 1;
		m->rsize = (int)bs;
		m->rsigned = sgn;
		m->isint = 1;
	}
}

static void h5_type_map(hid_t t, h5_type *m)
{
	size_t sz = H5Tget_size(t);
	int sgn;
	memset(m, 0, sizeof *m);
	m->cls = H5_CBAD;
	switch (H5Tget_class(t)) {
	case H5T_INTEGER:
		sgn = H5Tget_sign(t) == H5T_SGN_2;
		snprintf(m->name, sizeof m->name, "%c%zu", sgn ? 'i' : 'u',
			 sz * 8);
		if (h5_int_dtype(sz, sgn, &m->dt) == 0) {
			m->cls = H5_CNUM;
			m->isint = 1;
			if (sz == 8) {
				m->raw = 1;
				m->rsize = 8;
				m->rsigned = sgn;
			}
		}
		break;
	case H5T_FLOAT:
		snprintf(m->name, sizeof m->name, "f%zu", sz * 8);
		m->cls = H5_CNUM;
		m->dt = sz <= 4 ? ARR_F32 : ARR_F64;
		break;
	case H5T_ENUM:
		h5_type_enum(t, m);
		break;
	case H5T_STRING:
		snprintf(m->name, sizeof m->name, "str");
		m->cls = H5_CSTR;
		break;
	case H5T_COMPOUND: snprintf(m->name, sizeof m->name, "compound"); break;
	case H5T_ARRAY: snprintf(m->name, sizeof m->name, "array"); break;
	case H5T_VLEN: snprintf(m->name, sizeof m->name, "vlen"); break;
	case H5T_OPAQUE: snprintf(m->name, sizeof m->name, "opaque"); break;
	case H5T_BITFIELD: snprintf(m->name, sizeof m->name, "bitfield"); break;
	case H5T_REFERENCE: snprintf(m->name, sizeof m->name, "reference"); break;
	default: snprintf(m->name, sizeof m->name, "unknown"); break;
	}
}

static hid_t h5_native(arr_dtype dt)
{
	switch (dt) {
	case ARR_F64: return H5T_NATIVE_DOUBLE;
	case ARR_F32: return H5T_NATIVE_FLOAT;
	case ARR_I32: return H5T_NATIVE_INT32;
	case ARR_U16: return H5T_NATIVE_UINT16;
	case ARR_U32: return H5T_NATIVE_UINT32;
	case ARR_U8: return H5T_NATIVE_UINT8;
	default: return H5T_NATIVE_DOUBLE;
	}
}

/* the little-endian file type an arr dtype is written as */
static hid_t h5_filetype(arr_dtype dt)
{
	switch (dt) {
	case ARR_F64: return H5T_IEEE_F64LE;
	case ARR_F32: return H5T_IEEE_F32LE;
	case ARR_I32: return H5T_STD_I32LE;
	case ARR_U16: return H5T_STD_U16LE;
	case ARR_U32: return H5T_STD_U32LE;
	case ARR_U8: return H5T_STD_U8LE;
	default: return H5T_IEEE_F64LE;
	}
}

static double h5_raw_get(const char *p, const h5_type *m)
{
	switch (m->rsize) {
	case 1: return m->rsigned ? (double)*(const int8_t *)p
				  : (double)*(const uint8_t *)p;
	case 2: return m->rsigned ? (double)*(const int16_t *)p
				  : (double)*(const uint16_t *)p;
	case 4: return m->rsigned ? (double)*(const int32_t *)p
				  : (double)*(const uint32_t *)p;
	default:
		if (m->rsigned) {
			int64_t v = *(const int64_t *)p;
			if (v > (int64_t)H5_EXACT || v < -(int64_t)H5_EXACT)
				return NAN;
			return (double)v;
		} else {
			uint64_t v = *(const uint64_t *)p;
			return v > (uint64_t)H5_EXACT ? NAN : (double)v;
		}
	}
}

/* native integers (rsize bytes each) into dt, which holds them exactly by
** construction (h5_int_dtype); 64-bit values beyond 2^53 are refused */
static int h5_raw_convert(const char *raw, size_t n, const h5_type *m,
			  void *dst, const char *what, char *err)
{
	size_t k;
	for (k = 0; k < n; k++) {
		double v = h5_raw_get(raw + k * (size_t)m->rsize, m);
		if (isnan(v))
			return err_set(err, "%s: %s value at element %zu is beyond"
				       " 2^53 and cannot be held exactly as f64",
				       what, m->name, k);
		switch (m->dt) {
		case ARR_F64: ((double *)dst)[k] = v; break;
		case ARR_I32: ((int32_t *)dst)[k] = (int32_t)v; break;
		case ARR_U32: ((uint32_t *)dst)[k] = (uint32_t)v; break;
		case ARR_U16: ((uint16_t *)dst)[k] = (uint16_t)v; break;
		case ARR_U8: ((uint8_t *)dst)[k] = (uint8_t)v; break;
		default: ((float *)dst)[k] = (float)v; break;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* paths and objects                                                */
/* ---------------------------------------------------------------- */

/* Walk path one component at a time, so that a missing object is named
** precisely ("'/entry' has no 'dat'") rather than by HDF5's generic
** "component not found". 0 when it resolves, -1 with a message. */
static int h5_resolve(hid_t fid, const char *fname, const char *path,
		      char *err)
{
	char buf[1024], parent[1024];
	size_t n = strlen(path), i = 0, len = 0;
	htri_t e;
	if (n == 0)
		return err_set(err, "%s: empty object path", fname);
	if (n >= sizeof buf)
		return err_set(err, "%s: object path too long", fname);
	snprintf(parent, sizeof parent, "/");
	while (i < n) {
		size_t j;
		while (i < n && path[i] == '/')
			i++;
		if (i >= n)
			break;
		for (j = i; j < n && path[j] != '/'; j++)
			;
		buf[len++] = '/';
		memcpy(buf + len, path + i, j - i);
		len += j - i;
		buf[len] = '\0';
		e = H5Lexists(fid, buf, H5P_DEFAULT);
		if (e < 0)
			return h5_fail(err, "%s: cannot look up '%s' ('%s' is"
				       " not a group?)", fname, path, parent);
		if (e == 0)
			return err_set(err, "%s: '%s' not found ('%s' has no"
				       " '%.*s')", fname, path, parent,
				       (int)(j - i), path + i);
		e = H5Oexists_by_name(fid, buf, H5P_DEFAULT);
		if (e <= 0)
			return h5_fail(err, "%s: '%s' is a broken link",
				       fname, buf);
		memcpy(parent, buf, len + 1);
		i = j;
	}
	return 0;
}

static hid_t h5_oopen(hid_t fid, const char *fname, const char *path,
		      char *err)
{
	hid_t id;
	if (h5_resolve(fid, fname, path, err) != 0)
		return -1;
	id = H5Oopen(fid, path, H5P_DEFAULT);
	if (id < 0)
		h5_fail(err, "%s: cannot open '%s'", fname, path);
	return id;
}

static const char *h5_kindname(hid_t id)
{
	switch (H5Iget_type(id)) {
	case H5I_GROUP: return "group";
	case H5I_DATASET: return "dataset";
	case H5I_DATATYPE: return "named datatype";
	default: return "object";
	}
}

/* open path as a dataset (dapl may be H5P_DEFAULT) */
static hid_t h5_dopen(hid_t fid, const char *fname, const char *path,
		      hid_t dapl, char *err)
{
	hid_t id = h5_oopen(fid, fname, path, err);
	if (id < 0)
		return -1;
	if (H5Iget_type(id) != H5I_DATASET) {
		err_set(err, "%s: '%s' is a %s, not a dataset", fname, path,
			h5_kindname(id));
		H5Oclose(id);
		return -1;
	}
	if (dapl != H5P_DEFAULT) {
		H5Oclose(id);
		id = H5Dopen2(fid, path, dapl);
		if (id < 0)
			h5_fail(err, "%s: cannot open '%s'", fname, path);
	}
	return id;
}

static int h5_file_check(const h5_file *f, char *err)
{
	if (f == NULL || f->fid < 0)
		return err_set(err, "file is closed");
	return 0;
}

/* ---------------------------------------------------------------- */
/* opening, info, listing                                           */
/* ---------------------------------------------------------------- */

/* HDF5 locks files; one still open for writing by another program (an
** acquisition in progress) cannot be opened until locking is turned off */
static void h5_lock_hint(char *err)
{
	size_t n = strlen(err);
	if (strstr(err, "lock") != NULL && n + 20 < ERR_LEN)
		snprintf(err + n, ERR_LEN - n, "; another program has it open"
			 " for writing (to read it anyway, set"
			 " HDF5_USE_FILE_LOCKING=FALSE)");
}

/* the file as HDF5 sees it, without the checks of h5_open */
static int h5_open_file(h5_file **out, const char *path, char *err)
{
	h5_file *f;
	hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
	*out = NULL;
	if (fid < 0) {
		h5_fail(err, "%s: cannot open HDF5 file", path);
		h5_lock_hint(err);
		return -1;
	}
	f = err_calloc(1, sizeof *f, err);
	if (f == NULL || (f->path = h5_strdup(path, err)) == NULL) {
		free(f);
		H5Fclose(fid);
		return -1;
	}
	f->fid = fid;
	h5_reg_add(&f->reg, path);
	os_input_add(path);	/* no result of this run may replace it */
	*out = f;
	return 0;
}

int h5_open(h5_file **out, const char *path, char *err)
{
	struct stat st;
	htri_t is;
	h5_init();
	*out = NULL;
	if (stat(path, &st) != 0)
		return err_set(err, "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return err_set(err, "%s: is a directory", path);
	if (access(path, R_OK) != 0)
		return err_set(err, "%s: %s", path, strerror(errno));
	is = H5Fis_hdf5(path);
	if (is == 0) {
		H5Eclear2(H5E_DEFAULT);
		return err_set(err, "%s: not an HDF5 file (no HDF5 signature)",
			       path);
	}
	if (is < 0)
		return h5_fail(err, "%s: not a readable HDF5 file", path);
	if (h5_probe(path, &st, err) != 0)
		return -1;
	return h5_open_file(out, path, err);
}

void h5_close(h5_file *f)
{
	if (f == NULL)
		return;
	h5_reg_del(&f->reg);
	if (f->fid >= 0)
		H5Fclose(f->fid);
	free(f->path);
	free(f);
}

const char *h5_file_path(const h5_file *f) { return f->path; }

int h5_exists(h5_file *f, const char *path)
{
	char err[ERR_LEN];
	if (f == NULL || f->fid < 0)
		return 0;
	return h5_resolve(f->fid, f->path, path, err) == 0;
}

static herr_t h5_count_cb(hid_t loc, const char *name, const H5A_info_t *ai,
			  void *ud)
{
	(void)loc; (void)name; (void)ai;
	(*(size_t *)ud)++;
	return 0;
}

static const char *h5_filter_name(H5Z_filter_t id, char *buf, size_t n)
{
	switch (id) {
	case H5Z_FILTER_DEFLATE: return "gzip";
	case H5Z_FILTER_SHUFFLE: return "shuffle";
	case H5Z_FILTER_FLETCHER32: return "fletcher32";
	case H5Z_FILTER_SZIP: return "szip";
	case H5Z_FILTER_NBIT: return "nbit";
	case H5Z_FILTER_SCALEOFFSET: return "scaleoffset";
	case 307: return "bzip2";
	case 32000: return "lzf";
	case 32001: return "blosc";
	case 32004: return "lz4";
	case 32008: return "bitshuffle";
	case 32013: return "zfp";
	case 32015: return "zstd";
	default: snprintf(buf, n, "filter%d", (int)id); return buf;
	}
}

/* chunking and filters from a dataset's creation properties */
static void h5_info_dcpl(hid_t did, h5_info *info)
{
	hid_t dcpl = H5Dget_create_plist(did);
	int i, nf;
	if (dcpl < 0)
		return;
	if (H5Pget_layout(dcpl) == H5D_CHUNKED) {
		hsize_t ch[H5_MAXDIM];
		int r = H5Pget_chunk(dcpl, H5_MAXDIM, ch);
		info->chunked = r > 0;
		for (i = 0; i < r; i++)
			info->chunk[i] = (size_t)ch[i];
	}
	nf = H5Pget_nfilters(dcpl);
	for (i = 0; i < nf; i++) {
		unsigned flags, cfg;
		size_t ncd = 0, len = strlen(info->filters);
		char nb[32];
		H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags,
						 &ncd, NULL, 0, NULL, &cfg);
		snprintf(info->filters + len, sizeof info->filters - len,
			 "%s%s", len ? "," : "", h5_filter_name(id, nb, sizeof nb));
	}
	H5Eclear2(H5E_DEFAULT);
	H5Pclose(dcpl);
}

static void h5_info_dset(hid_t did, h5_info *info)
{
	hid_t t = H5Dget_type(did), s = H5Dget_space(did);
	hsize_t dims[H5_MAXDIM];
	h5_type m;
	int i, r;
	if (t >= 0) {
		h5_type_map(t, &m);
		snprintf(info->dtype, sizeof info->dtype, "%s", m.name);
		info->numeric = m.cls == H5_CNUM;
		info->is_string = m.cls == H5_CSTR;
		info->read_as = m.dt;
		H5Tclose(t);
	}
	if (s >= 0) {
		r = H5Sget_simple_extent_dims(s, dims, NULL);
		info->ndim = r > 0 ? r : 0;
		for (i = 0; i < info->ndim; i++)
			info->shape[i] = (size_t)dims[i];
		H5Sclose(s);
	}
	h5_info_dcpl(did, info);
}

int h5_info_get(h5_file *f, const char *path, h5_info *info, char *err)
{
	hid_t id;
	H5G_info_t gi;
	memset(info, 0, sizeof *info);
	if (h5_file_check(f, err) != 0)
		return -1;
	id = h5_oopen(f->fid, f->path, path, err);
	if (id < 0)
		return -1;
	switch (H5Iget_type(id)) {
	case H5I_GROUP:
		info->kind = H5_GROUP;
		if (H5Gget_info(id, &gi) >= 0)
			info->nlinks = (size_t)gi.nlinks;
		break;
	case H5I_DATASET:
		info->kind = H5_DATASET;
		h5_info_dset(id, info);
		break;
	default:
		info->kind = H5_OTHER;
		break;
	}
	H5Aiterate2(id, H5_INDEX_NAME, H5_ITER_INC, NULL, h5_count_cb,
		    &info->nattrs);
	H5Eclear2(H5E_DEFAULT);
	H5Oclose(id);
	return 0;
}

/* link names of one group, collected before any of them is opened */
typedef struct h5_names {
	char **name;
	int *hard;
	size_t n, cap;
	int failed;
} h5_names;

static int h5_names_push(h5_names *nl, const char *name, int hard)
{
	if (nl->n == nl->cap) {
		size_t cap = nl->cap ? 2 * nl->cap : 16;
		char **a = realloc(nl->name, cap * sizeof *a);
		int *h;
		if (a == NULL)
			return -1;
		nl->name = a;
		h = realloc(nl->hard, cap * sizeof *h);
		if (h == NULL)
			return -1;
		nl->hard = h;
		nl->cap = cap;
	}
	nl->name[nl->n] = h5_strdup(name, NULL);
	if (nl->name[nl->n] == NULL)
		return -1;
	nl->hard[nl->n++] = hard;
	return 0;
}

static herr_t h5_link_cb(hid_t g, const char *name, const h5_linfo *li,
			 void *ud)
{
	h5_names *nl = ud;
	(void)g;
	if (h5_names_push(nl, name, li->type == H5L_TYPE_HARD) != 0) {
		nl->failed = 1;
		return -1;
	}
	return 0;
}

static herr_t h5_attrname_cb(hid_t loc, const char *name,
			     const H5A_info_t *ai, void *ud)
{
	h5_names *nl = ud;
	(void)loc; (void)ai;
	if (h5_names_push(nl, name, 0) != 0) {
		nl->failed = 1;
		return -1;
	}
	return 0;
}

static void h5_names_clear(h5_names *nl)
{
	h5_names_free(nl->name, nl->n);
	free(nl->hard);
	memset(nl, 0, sizeof *nl);
}

void h5_names_free(char **names, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Groups already listed, by object address (HDF5 1.10) or token (1.12+),
** so that a recursive listing descends into each group once: hard links
** may legally make cycles (a group holding a link to its parent), and a
** depth bound alone would still list 2^depth paths through two of them.
** Open addressing; the value is the path the group was first listed at. */
typedef struct h5_seen {
	unsigned char (*key)[16];
	char **path;
	size_t n, cap;			/* cap: a power of two, or 0 */
} h5_seen;

static int h5_objkey(hid_t fid, const char *path, unsigned char *key)
{
#if H5_VERSION_GE(1, 12, 0)
	H5O_info2_t oi;
	if (H5Oget_info_by_name3(fid, path, &oi, H5O_INFO_BASIC,
				 H5P_DEFAULT) < 0)
		return -1;
	memset(key, 0, 16);
	memcpy(key, &oi.token, sizeof oi.token < 16 ? sizeof oi.token : 16);
#else
	H5O_info_t oi;
	uint64_t fno, addr;
	if (H5Oget_info_by_name2(fid, path, &oi, H5O_INFO_BASIC,
				 H5P_DEFAULT) < 0)
		return -1;
	fno = (uint64_t)oi.fileno;
	addr = (uint64_t)oi.addr;
	memcpy(key, &fno, 8);
	memcpy(key + 8, &addr, 8);
#endif
	return 0;
}

static size_t h5_seen_slot(const h5_seen *s, const unsigned char *key)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */
	size_t i;
	for (i = 0; i < 16; i++)
		h = (h ^ key[i]) * 1099511628211ull;
	for (i = (size_t)h & (s->cap - 1); s->path[i] != NULL &&
	     memcmp(s->key[i], key, 16) != 0; i = (i + 1) & (s->cap - 1))
		;
	return i;
}

static int h5_seen_grow(h5_seen *s)
{
	h5_seen t;
	size_t i;
	t.cap = s->cap ? 2 * s->cap : 64;
	t.n = s->n;
	t.key = calloc(t.cap, sizeof *t.key);
	t.path = calloc(t.cap, sizeof *t.path);
	if (t.key == NULL || t.path == NULL) {
		free(t.key);
		free(t.path);
		return -1;
	}
	for (i = 0; i < s->cap; i++)
		if (s->path[i] != NULL) {
			size_t j = h5_seen_slot(&t, s->key[i]);
			memcpy(t.key[j], s->key[i], 16);
			t.path[j] = s->path[i];
		}
	free(s->key);
	free(s->path);
	*s = t;
	return 0;
}

/* the path key was first seen at, or NULL after recording it at path;
** *fail is set when memory runs out */
static const char *h5_seen_add(h5_seen *s, const unsigned char *key,
			       const char *path, int *fail)
{
	size_t i;
	if (2 * (s->n + 1) > s->cap && h5_seen_grow(s) != 0) {
		*fail = 1;
		return NULL;
	}
	i = h5_seen_slot(s, key);
	if (s->path[i] != NULL)
		return s->path[i];
	if ((s->path[i] = h5_strdup(path, NULL)) == NULL) {
		*fail = 1;
		return NULL;
	}
	memcpy(s->key[i], key, 16);
	s->n++;
	return NULL;
}

static void h5_seen_free(h5_seen *s)
{
	size_t i;
	for (i = 0; i < s->cap; i++)
		free(s->path[i]);
	free(s->key);
	free(s->path);
	memset(s, 0, sizeof *s);
}

typedef struct h5_lst {
	h5_entry *e;
	size_t n, cap;
	h5_seen seen;
	int tolerant;	/* the probe's walk: past what HDF5 cannot read */
} h5_lst;

static h5_entry *h5_lst_add(h5_lst *l, char *err)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		h5_entry *e = realloc(l->e, cap * sizeof *e);
		if (e == NULL) {
			err_set(err, "out of memory listing a group");
			return NULL;
		}
		l->e = e;
		l->cap = cap;
	}
	memset(&l->e[l->n], 0, sizeof l->e[0]);
	return &l->e[l->n++];
}

/* 1 when the group at path was listed before (e->again then names where),
** 0 when it is new (and now recorded), -1 on error */
static int h5_list_seen(h5_file *f, h5_lst *l, const char *path,
			char **again, char *err)
{
	unsigned char key[16];
	const char *first;
	int fail = 0;
	if (h5_objkey(f->fid, path, key) != 0)
		return h5_fail(err, "%s: cannot identify '%s'", f->path, path);
	first = h5_seen_add(&l->seen, key, path, &fail);
	if (fail)
		return err_set(err, "%s: out of memory listing '%s'", f->path,
			       path);
	if (first == NULL)
		return 0;
	if (again != NULL && (*again = h5_strdup(first, err)) == NULL)
		return -1;
	return 1;
}

static int h5_list_group(h5_file *f, const char *gpath, int depth,
			 int recursive, h5_lst *l, char *err);

/* one member: its info, and its own members when listing recursively
** (only through hard links, so that soft links cannot make cycles) */
static int h5_list_member(h5_file *f, const char *gpath, const char *name,
			  int hard, int depth, int recursive, h5_lst *l,
			  char *err)
{
	size_t gl = strlen(gpath), nl = strlen(name);
	h5_entry *e = h5_lst_add(l, err);
	int slash = gl > 0 && gpath[gl - 1] == '/';
	if (e == NULL)
		return -1;
	if (intr_pending())
		return err_set(err, "%s: listing '%s' interrupted", f->path,
			       gpath);
	e->depth = depth;
	e->name = h5_strdup(name, err);
	e->path = err_malloc(gl + nl + 2, 1, err);
	if (e->name == NULL || e->path == NULL)
		return -1;
	snprintf(e->path, gl + nl + 2, "%s%s%s", gpath, slash ? "" : "/",
		 name);
	if (H5Oexists_by_name(f->fid, e->path, H5P_DEFAULT) <= 0) {
		H5Eclear2(H5E_DEFAULT);
		e->broken = 1;
		e->info.kind = H5_OTHER;
		return 0;
	}
	h5_probe_at(e->path);
	if (h5_info_get(f, e->path, &e->info, err) != 0) {
		if (!l->tolerant)
			return -1;
		e->broken = 1;
		e->info.kind = H5_OTHER;
		return 0;
	}
	if (recursive && hard && e->info.kind == H5_GROUP && depth < 64) {
		char *p = h5_strdup(e->path, err);	/* l->e may move */
		int rc = p ? h5_list_seen(f, l, p, &e->again, err) : -1;
		if (rc == 0)
			rc = h5_list_group(f, p, depth + 1, 1, l, err);
		free(p);
		return rc < 0 && !(l->tolerant && p) ? -1 : 0;
	}
	return 0;
}

static int h5_list_group(h5_file *f, const char *gpath, int depth,
			 int recursive, h5_lst *l, char *err)
{
	h5_names nl;
	size_t i;
	int rc = 0;
	hid_t g = h5_oopen(f->fid, f->path, gpath, err);
	if (g < 0)
		return -1;
	if (H5Iget_type(g) != H5I_GROUP) {
		err_set(err, "%s: '%s' is a %s, not a group", f->path, gpath,
			h5_kindname(g));
		H5Oclose(g);
		return -1;
	}
	memset(&nl, 0, sizeof nl);
	h5_probe_at(gpath);
	if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, h5_link_cb,
		       &nl) < 0) {
		if (nl.failed)
			rc = err_set(err, "out of memory listing %s", gpath);
		else if (l->tolerant)	/* the members named so far */
			H5Eclear2(H5E_DEFAULT);
		else
			rc = h5_fail(err, "%s: cannot list '%s'", f->path,
				     gpath);
	}
	H5Oclose(g);
	for (i = 0; rc == 0 && i < nl.n; i++)
		rc = h5_list_member(f, gpath, nl.name[i], nl.hard[i], depth,
				    recursive, l, err);
	h5_names_clear(&nl);
	return rc;
}

/* tolerant: a member HDF5 cannot read is marked broken and the walk goes
** on (the probe must reach every object the parent may open later) */
static int h5_list_walk(h5_file *f, const char *group, int recursive,
			int tolerant, h5_entry **out, size_t *n, char *err)
{
	h5_lst l;
	memset(&l, 0, sizeof l);
	l.tolerant = tolerant;
	*out = NULL;
	*n = 0;
	if (h5_file_check(f, err) != 0)
		return -1;
	if (group == NULL || group[0] == '\0')
		group = "/";
	if ((recursive && h5_resolve(f->fid, f->path, group, err) != 0) ||
	    (recursive && h5_list_seen(f, &l, group, NULL, err) < 0) ||
	    h5_list_group(f, group, 0, recursive, &l, err) != 0) {
		h5_seen_free(&l.seen);
		h5_list_free(l.e, l.n);
		return -1;
	}
	h5_seen_free(&l.seen);
	*out = l.e;
	*n = l.n;
	return 0;
}

int h5_list(h5_file *f, const char *group, int recursive, h5_entry **out,
	    size_t *n, char *err)
{
	return h5_list_walk(f, group, recursive, 0, out, n, err);
}

void h5_list_free(h5_entry *e, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++) {
		free(e[i].name);
		free(e[i].path);
		free(e[i].again);
	}
	free(e);
}

/* ---------------------------------------------------------------- */
/* reading                                                          */
/* ---------------------------------------------------------------- */

void h5_value_free(h5_value *v)
{
	if (v == NULL)
		return;
	free(v->s);
	if (v->strs != NULL)
		h5_names_free(v->strs, v->nstrs);
	arr_release(&v->a);
	memset(v, 0, sizeof *v);
}

/* why a read of a filtered dataset failed, when HDF5 lacks the filter:
** its name and id, and the Debian package with its plugin */
static void h5_filter_hint(hid_t obj, int is_attr, char *err)
{
	hid_t dcpl;
	int i, nf;
	size_t n;
	if (is_attr || err == NULL || (dcpl = H5Dget_create_plist(obj)) < 0)
		return;
	nf = H5Pget_nfilters(dcpl);
	for (i = 0; i < nf; i++) {
		unsigned flags, cfg;
		size_t ncd = 0;
		char nb[32];
		H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags,
						 &ncd, NULL, 0, NULL, &cfg);
		const char *pkg = h5filt_package((int)id);
		if (id < 0 || H5Zfilter_avail(id) > 0)
			continue;
		n = strlen(err);
		snprintf(err + n, ERR_LEN - n, "; compressed with %s (HDF5"
			 " filter %d), which this HDF5 cannot load: %s%s%s",
			 h5_filter_name(id, nb, sizeof nb), (int)id,
			 pkg ? "install the Debian package " : "no Debian"
			 " package provides it; put its plugin in"
			 " HDF5_PLUGIN_PATH", pkg ? pkg : "",
			 pkg ? " (or put its plugin in HDF5_PLUGIN_PATH)" : "");
		break;
	}
	H5Eclear2(H5E_DEFAULT);
	H5Pclose(dcpl);
}

/* The bytes each decoded chunk of a dataset has, for h5filt's check;
** 0 (no check) unless chunked and filtered by one codec plus at most
** shuffle and fletcher32, which leave the codec's output the chunk. */
static size_t h5_chunk_expect(hid_t did, hid_t ft)
{
	hid_t dcpl = H5Dget_create_plist(did);
	hsize_t ch[H5_MAXDIM];
	size_t bytes = 0;
	int i, r, nf, ncodec = 0;
	if (dcpl < 0)
		return 0;
	if (H5Pget_layout(dcpl) == H5D_CHUNKED &&
	    (r = H5Pget_chunk(dcpl, H5_MAXDIM, ch)) > 0) {
		bytes = H5Tget_size(ft);
		for (i = 0; i < r; i++)
			bytes *= (size_t)ch[i];
	}
	nf = H5Pget_nfilters(dcpl);
	for (i = 0; i < nf; i++) {
		unsigned flags, cfg;
		size_t ncd = 0;
		H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags,
						 &ncd, NULL, 0, NULL, &cfg);
		if (id != H5Z_FILTER_SHUFFLE && id != H5Z_FILTER_FLETCHER32)
			ncodec++;
	}
	H5Eclear2(H5E_DEFAULT);
	H5Pclose(dcpl);
	return ncodec == 1 ? bytes : 0;
}

/* The dataset's filters as h5filt decodes them without HDF5: a codec it
** knows, after HDF5's byte shuffle or not, then HDF5's checksum or not.
** 1 when so, else 0. */
static int h5_pipe(hid_t dcpl, h5filt_pipe *p)
{
	int nf = H5Pget_nfilters(dcpl), i = 0;
	unsigned flags, cfg, sh[1] = {0};
	size_t n = 1;
	memset(p, 0, sizeof *p);
	if (nf < 1 || nf > 3)
		return 0;
	if (H5Pget_filter2(dcpl, 0, &flags, &n, sh, 0, NULL, &cfg) ==
	    H5Z_FILTER_SHUFFLE) {
		if (n < 1 || sh[0] == 0)
			return 0;
		p->shuffle = sh[0];
		i = 1;
	}
	if (i < nf) {
		p->ncd = H5FILT_CD;
		p->id = (int)H5Pget_filter2(dcpl, (unsigned)i++, &flags,
					    &p->ncd, p->cd, 0, NULL, &cfg);
	}
	if (i < nf) {
		n = 0;
		p->fletcher = H5Pget_filter2(dcpl, (unsigned)i, &flags, &n,
					     NULL, 0, NULL, &cfg) ==
			      H5Z_FILTER_FLETCHER32;
	}
	return p->id > 0 && h5filt_known(p->id) && p->ncd <= H5FILT_CD &&
	       nf == (p->shuffle > 0) + 1 + p->fletcher;
}

/* Stored chunks gathered for h5filt to decode by threads: their bytes
** one after another in z, a job each. A job given no place of its own
** (out NULL) decodes into scratch, after the others there; the group's
** frame reads and the gzip check below both work through it. */
typedef struct h5_zgroup {
	h5filt_pipe pipe;
	unsigned char *z, *scratch;
	size_t zcap, zused, scap, sused;
	h5filt_job *jobs;
	size_t njobs, jcap;
} h5_zgroup;

static void h5_zgroup_free(h5_zgroup *g)
{
	free(g->z);
	free(g->scratch);
	free(g->jobs);
}

/* the stored chunk at off joins the group, to decode into the want bytes
** at out (NULL: scratch): 1, or 0 when it is not stored (fill values;
** nothing read), -1 with why in err, for the caller to say where */
static int h5_zgroup_add(h5_zgroup *g, hid_t did, const hsize_t *off,
			 size_t want, void *out, char *err)
{
	hsize_t size = 0;
	uint32_t mask = 0;
	if (H5Dget_chunk_storage_size(did, off, &size) < 0 || size == 0) {
		H5Eclear2(H5E_DEFAULT);
		return 0;
	}
	/* no codec here stores a chunk in twice its bytes */
	if (size > 2 * (hsize_t)want + 65536)
		return err_set(err, "%llu bytes stored for %zu decoded: more "
			       "than any codec here makes",
			       (unsigned long long)size, want);
	if (mem_grow((void **)&g->z, &g->zcap, g->zused + size, 1) ||
	    mem_grow((void **)&g->jobs, &g->jcap, g->njobs + 1,
		     sizeof *g->jobs))
		return err_set(err, "out of memory");
	if (H5Dread_chunk(did, H5P_DEFAULT, off, &mask, g->z + g->zused) < 0)
		return h5_fail(err, "read failed");
	g->jobs[g->njobs++] = (h5filt_job){NULL, (size_t)size, out, want,
					   mask};
	g->zused += (size_t)size;
	g->sused += out == NULL ? want : 0;
	return 1;
}

/* The group decoded (each job's bytes follow the previous one's in z,
** which may have moved as it grew; scratch is placed now): 0, or -1 with
** the first failing job in *bad and why in err. The jobs stay, with
** their places, until h5_zgroup_clear. */
static int h5_zgroup_decode(h5_zgroup *g, size_t *bad, char *err)
{
	size_t in = 0, sc = 0;
	*bad = 0;
	if (mem_grow((void **)&g->scratch, &g->scap, g->sused, 1))
		return err_set(err, "out of memory");
	for (size_t i = 0; i < g->njobs; i++) {
		h5filt_job *j = &g->jobs[i];
		j->in = g->z + in;
		in += j->nbytes;
		if (j->out == NULL) {
			j->out = g->scratch + sc;
			sc += j->want;
		}
	}
	return g->njobs ? h5filt_decode_all(&g->pipe, g->jobs, g->njobs, bad,
					    err) : 0;
}

static void h5_zgroup_clear(h5_zgroup *g)
{
	g->njobs = g->zused = g->sused = 0;
}

/* HDF5 1.10 inflates a deflate chunk itself and takes a stream that ends
** short: it then reads past the chunk's buffer into the result (stray
** bytes, no error). Before H5Dread of such a dataset, each stored chunk
** that the selection touches is decoded here once, to its exact size, by
** threads a group at a time; a chunk that is not so fails the read, named
** by its first element. (Codecs of ionflow's own check their size as
** HDF5 calls them.) */
typedef struct h5_zcheck {
	hid_t did;
	int rank;
	hsize_t ch[H5_MAXDIM], lo[H5_MAXDIM], hi[H5_MAXDIM];
	size_t bytes;			/* a chunk's, decoded */
	h5_zgroup g;
	hsize_t *offs;			/* each job's chunk, rank each */
	size_t ocap;
} h5_zcheck;

/* "(i, j, ...)": the chunk's first element, 1-based, for messages */
static const char *h5_zcheck_at(const h5_zcheck *c, const hsize_t *off,
				char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "(");
	for (int d = 0; d < c->rank && n + 24 < len; d++)
		n += (size_t)snprintf(buf + n, len - n, "%s%llu", d ? ", " : "",
				      (unsigned long long)off[d] + 1);
	snprintf(buf + n, len - n, ")");
	return buf;
}

static int h5_zcheck_group(h5_zcheck *c, const char *what, char *err)
{
	size_t bad;
	char pos[256];
	if (h5_zgroup_decode(&c->g, &bad, err) != 0)
		return err_prefix(err, "%s: the chunk at %s", what,
				  h5_zcheck_at(c, c->offs + bad *
					       (size_t)c->rank, pos,
					       sizeof pos));
	h5_zgroup_clear(&c->g);
	return 0;
}

/* the chunk at off into the group (nothing when it is not stored: fill
** values), the group checked when full (16 MB decoded, 8 MB stored) */
static int h5_zcheck_chunk(h5_zcheck *c, const hsize_t *off,
			   const char *what, char *err)
{
	char pos[256];
	int r;
	if (mem_grow((void **)&c->offs, &c->ocap,
		     (c->g.njobs + 1) * (size_t)c->rank, sizeof *c->offs))
		return err_set(err, "%s: out of memory", what);
	if ((r = h5_zgroup_add(&c->g, c->did, off, c->bytes, NULL, err)) < 0)
		return err_prefix(err, "%s: the chunk at %s", what,
				  h5_zcheck_at(c, off, pos, sizeof pos));
	if (r == 0)
		return 0;
	memcpy(c->offs + (c->g.njobs - 1) * (size_t)c->rank, off,
	       (size_t)c->rank * sizeof *off);
	if (c->g.sused >= ((size_t)16 << 20) || c->g.zused >= H5_BLOCK_BYTES)
		return h5_zcheck_group(c, what, err);
	return 0;
}

/* whether the selection touches the chunk at off (a strided selection,
** every 100th frame, leaves most chunks of its bounds alone) */
static int h5_zcheck_touched(const h5_zcheck *c, hid_t sp, const hsize_t *off)
{
	hsize_t end[H5_MAXDIM];
	for (int d = 0; d < c->rank; d++)
		end[d] = off[d] + c->ch[d] - 1;
	return H5Sselect_intersect_block(sp, off, end) != 0;	/* (error: yes) */
}

/* every chunk from lo to hi that the selection touches, as an odometer
** over the chunk grid */
static int h5_zcheck_all(h5_zcheck *c, hid_t sp, const char *what,
			 char *err)
{
	hsize_t off[H5_MAXDIM];
	int d;
	for (d = 0; d < c->rank; d++)
		off[d] = c->lo[d] / c->ch[d] * c->ch[d];
	for (;;) {
		if (h5_zcheck_touched(c, sp, off) &&
		    h5_zcheck_chunk(c, off, what, err))
			return -1;
		for (d = c->rank - 1; d >= 0; d--) {
			off[d] += c->ch[d];
			if (off[d] <= c->hi[d])
				break;
			off[d] = c->lo[d] / c->ch[d] * c->ch[d];
		}
		if (d < 0)
			return h5_zcheck_group(c, what, err);
	}
}

/* the check, for a dataset whose decoded chunks have bytes each
** (h5_chunk_expect: 0 when not known, then there is nothing to check) */
static int h5_zcheck_run(hid_t did, size_t bytes, hid_t fspace,
			 const char *what, char *err)
{
	hid_t dcpl = bytes ? H5Dget_create_plist(did) : -1, sp = -1;
	h5_zcheck c;
	int rc = 0;
	memset(&c, 0, sizeof c);
	c.did = did;
	c.bytes = bytes;
	if (dcpl < 0 || !h5_pipe(dcpl, &c.g.pipe) ||
	    c.g.pipe.id != H5FILT_DEFLATE ||
	    (c.rank = H5Pget_chunk(dcpl, H5_MAXDIM, c.ch)) <= 0)
		goto done;
	sp = fspace == H5S_ALL ? H5Dget_space(did) : H5Scopy(fspace);
	if (sp < 0 || H5Sget_simple_extent_ndims(sp) != c.rank ||
	    H5Sget_select_npoints(sp) <= 0)
		goto done;
	if (fspace == H5S_ALL)
		H5Sselect_all(sp);
	if (H5Sget_select_bounds(sp, c.lo, c.hi) >= 0)
		rc = h5_zcheck_all(&c, sp, what, err);
done:
	h5_zgroup_free(&c.g);
	free(c.offs);
	if (sp >= 0)
		H5Sclose(sp);
	if (dcpl >= 0)
		H5Pclose(dcpl);
	H5Eclear2(H5E_DEFAULT);
	return rc;
}

/* n elements of the current selection of fspace (H5S_ALL for attributes)
** into dst, which holds n elements of m->dt. The memory space has the
** selection's shape (mrank > 0): HDF5 copies matching shapes by rows,
** but a 1-D memory space against a 3-D selection element by element. */
static int h5_read_into(hid_t obj, int is_attr, hid_t ft, hid_t fspace,
			const h5_type *m, size_t n, int mrank,
			const hsize_t *mdims, void *dst, const char *what,
			char *err)
{
	hsize_t hn = n;
	hid_t ms = mrank > 0 ? H5Screate_simple(mrank, mdims, NULL)
			     : H5Screate_simple(1, &hn, NULL), mt;
	char *raw = NULL;
	void *buf = dst;
	herr_t st;
	size_t want;
	int rc = -1;
	mt = m->raw ? H5Tget_native_type(ft, H5T_DIR_ASCEND)
		    : H5Tcopy(h5_native(m->dt));
	if (ms < 0 || mt < 0) {
		h5_fail(err, "%s: cannot set up the read", what);
		goto done;
	}
	if (m->raw && (buf = raw = err_malloc(n, (size_t)m->rsize, err)) == NULL)
		goto done;
	want = is_attr ? 0 : h5_chunk_expect(obj, ft);
	if (h5_zcheck_run(obj, want, fspace, what, err))
		goto done;
	h5filt_expect(want);
	st = is_attr ? H5Aread(obj, mt, buf)
		     : H5Dread(obj, mt, ms, fspace, H5P_DEFAULT, buf);
	h5filt_expect(0);
	if (st < 0) {
		h5_fail(err, "%s: read failed", what);
		h5_filter_hint(obj, is_attr, err);
		goto done;
	}
	rc = m->raw ? h5_raw_convert(raw, n, m, dst, what, err) : 0;
done:
	free(raw);
	if (ms >= 0)
		H5Sclose(ms);
	if (mt >= 0)
		H5Tclose(mt);
	return rc;
}

/* start/stride/count per axis from sel (axes past sel->ndim whole) */
static int h5_sel_resolve(int rank, const hsize_t *dims, const h5_sel *sel,
			  hsize_t *start, hsize_t *stride, hsize_t *count,
			  const char *what, char *err)
{
	int d;
	if (sel != NULL && (sel->ndim < 0 || sel->ndim > rank))
		return err_set(err, "%s: selection has %d axes, the dataset %d",
			       what, sel ? sel->ndim : 0, rank);
	for (d = 0; d < rank; d++) {
		size_t f = 0, s = 1, c = H5_ALL, n = (size_t)dims[d];
		if (sel != NULL && d < sel->ndim) {
			f = sel->first[d];
			s = sel->step[d] ? sel->step[d] : 1;
			c = sel->count[d];
		}
		if (c == H5_ALL) {
			if (f > n)
				return err_set(err, "%s: axis %d of %d: first"
					       " %zu (0-based) is beyond its size"
					       " %zu", what, d + 1, rank, f, n);
			c = (n - f + s - 1) / s;
		} else if (c > 0 && (f >= n || (c - 1) > (n - 1 - f) / s)) {
			return err_set(err, "%s: axis %d of %d: %zu elements"
				       " from %zu (0-based) step %zu run past"
				       " its size %zu", what, d + 1, rank, c, f,
				       s, n);
		}
		start[d] = f;
		stride[d] = s;
		count[d] = c;
	}
	return 0;
}

/* A numeric dataset or attribute into out. Datasets are read in pieces
** of about 64 MiB along axis 0 so that Ctrl-C is seen during long reads. */
static int h5_read_arr(hid_t obj, int is_attr, hid_t ft, hid_t sp,
		       const h5_type *m, int rank, const hsize_t *dims,
		       const h5_sel *sel, arr *out, const char *what,
		       char *err)
{
	hsize_t start[H5_MAXDIM], stride[H5_MAXDIM], count[H5_MAXDIM];
	hsize_t c[H5_MAXDIM], st[H5_MAXDIM];
	size_t shape[ARR_MAXDIM], n, row, esize, piece, r;
	int d;
	if (rank > ARR_MAXDIM)
		return err_set(err, "%s: rank %d is more than an array holds"
			       " (%d)", what, rank, ARR_MAXDIM);
	if (h5_sel_resolve(rank, dims, sel, start, stride, count, what,
			   err) != 0)
		return -1;
	for (d = 0; d < rank; d++)
		shape[d] = (size_t)count[d];
	if (arr_alloc_uninit(out, m->dt, rank, shape, err) != 0)
		return err_prefix(err, "%s", what);
	n = arr_size(out);
	if (n == 0)
		return 0;
	if (is_attr || rank == 0) {
		if (h5_read_into(obj, is_attr, ft, H5S_ALL, m, n, 0, NULL,
				 out->data, what, err) != 0)
			goto fail;
		return 0;
	}
	esize = arr_dtype_size(m->dt);
	row = n / shape[0];
	piece = H5_PIECE_BYTES / (row * esize);
	if (piece == 0)
		piece = 1;
	memcpy(c, count, sizeof(hsize_t) * (size_t)rank);
	memcpy(st, start, sizeof(hsize_t) * (size_t)rank);
	for (r = 0; r < shape[0]; r += piece) {
		size_t p = shape[0] - r < piece ? shape[0] - r : piece;
		if (intr_pending()) {
			err_set(err, "%s: interrupted", what);
			goto fail;
		}
		c[0] = p;
		st[0] = start[0] + r * stride[0];
		if (H5Sselect_hyperslab(sp, H5S_SELECT_SET, st, stride, c,
					NULL) < 0) {
			h5_fail(err, "%s: bad selection", what);
			goto fail;
		}
		if (h5_read_into(obj, 0, ft, sp, m, p * row, rank, c,
				 out->data + r * row * esize, what, err) != 0)
			goto fail;
	}
	return 0;
fail:
	arr_release(out);
	return -1;
}

/* strings of any rank-0/1 dataspace as malloc'd C strings */
static int h5_read_strs(hid_t obj, int is_attr, hid_t ft, size_t n,
			char ***out, const char *what, char *err)
{
	hsize_t hn = n;
	hid_t mt = H5Tcopy(H5T_C_S1), ms = H5Screate_simple(1, &hn, NULL);
	htri_t vl = H5Tis_variable_str(ft);
	size_t sz = H5Tget_size(ft), i;
	char **s = err_calloc(n ? n : 1, sizeof *s, err), *buf = NULL;
	int rc = -1;
	herr_t st;
	*out = NULL;
	if (s == NULL || mt < 0 || ms < 0)
		goto done;
	H5Tset_cset(mt, H5Tget_cset(ft));
	if (vl > 0) {
		char **tmp = err_calloc(n ? n : 1, sizeof *tmp, err);
		if (tmp == NULL)
			goto done;
		H5Tset_size(mt, H5T_VARIABLE);
		st = is_attr ? H5Aread(obj, mt, tmp)
			     : H5Dread(obj, mt, ms, H5S_ALL, H5P_DEFAULT, tmp);
		if (st < 0) {
			free(tmp);
			h5_fail(err, "%s: cannot read strings", what);
			goto done;
		}
		for (rc = 0, i = 0; i < n; i++)
			if ((s[i] = h5_strdup(tmp[i] ? tmp[i] : "", err)) == NULL)
				rc = -1;
		h5_vlen_reclaim(mt, ms, H5P_DEFAULT, tmp);
		free(tmp);
	} else {
		if ((buf = err_malloc(n ? n : 1, sz + 1, err)) == NULL)
			goto done;
		H5Tset_size(mt, sz + 1);
		H5Tset_strpad(mt, H5T_STR_NULLTERM);
		st = is_attr ? H5Aread(obj, mt, buf)
			     : H5Dread(obj, mt, ms, H5S_ALL, H5P_DEFAULT, buf);
		if (st < 0) {
			h5_fail(err, "%s: cannot read strings", what);
			goto done;
		}
		for (rc = 0, i = 0; i < n; i++) {
			buf[i * (sz + 1) + sz] = '\0';
			if ((s[i] = h5_strdup(buf + i * (sz + 1), err)) == NULL)
				rc = -1;
		}
	}
done:
	free(buf);
	if (mt >= 0)
		H5Tclose(mt);
	if (ms >= 0)
		H5Sclose(ms);
	if (rc != 0 && s != NULL)
		h5_names_free(s, n);
	else
		*out = s;
	return rc;
}

/* a scalar number: integers exactly as long long (u64 beyond its range
** as a double), floats as double */
static int h5_read_scalar(hid_t obj, int is_attr, hid_t ft, const h5_type *m,
			  h5_value *v, const char *what, char *err)
{
	union { double d; long long i; unsigned long long u; char b[16]; } x;
	hid_t mt;
	herr_t st;
	arr a;
	if (H5Tget_class(ft) == H5T_INTEGER) {
		int u64 = !m->rsigned && m->rsize == 8;
		mt = u64 ? H5T_NATIVE_ULLONG : H5T_NATIVE_LLONG;
		st = is_attr ? H5Aread(obj, mt, &x)
			     : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &x);
		if (st < 0)
			return h5_fail(err, "%s: read failed", what);
		if (u64 && x.u > (unsigned long long)LLONG_MAX) {
			v->kind = H5_VNUM;
			v->d = (double)x.u;
		} else {
			v->kind = H5_VINT;
			v->i = x.i;
		}
		return 0;
	}
	if (h5_read_into(obj, is_attr, ft, H5S_ALL, m, 1, 0, NULL, &x, what,
			 err) != 0)
		return -1;
	arr_wrap(&a, m->dt, 0, NULL, &x);
	if (m->isint) {
		v->kind = H5_VINT;
		v->i = (long long)arr_get_flat(&a, 0);
	} else {
		v->kind = H5_VNUM;
		v->d = arr_get_flat(&a, 0);
	}
	return 0;
}

static int h5_value_str(hid_t obj, int is_attr, hid_t ft, int rank,
			const hsize_t *dims, h5_value *v, const char *what,
			char *err)
{
	char **s;
	size_t n = rank == 0 ? 1 : (size_t)dims[0];
	if (rank > 1)
		return err_set(err, "%s: string arrays of rank %d are not"
			       " supported (rank 0 and 1 only)", what, rank);
	if (h5_read_strs(obj, is_attr, ft, n, &s, what, err) != 0)
		return -1;
	if (rank == 0) {
		v->kind = H5_VSTR;
		v->s = s[0];
		free(s);
	} else {
		v->kind = H5_VSTRS;
		v->strs = s;
		v->nstrs = n;
	}
	return 0;
}

/* An attribute's data lies in the file: one declaring more bytes than
** the file has is corrupt, and reading it would make HDF5 walk millions
** of bogus elements (each a global-heap lookup for strings). */
static int h5_attr_size_check(hid_t aid, hid_t ft, hid_t sp,
			      const char *what, char *err)
{
	hid_t fid = H5Iget_file_id(aid);
	hssize_t np = H5Sget_simple_extent_npoints(sp);
	size_t ts = H5Tget_size(ft);
	hsize_t fsize = 0;
	int rc = 0;
	if (fid < 0 || H5Fget_filesize(fid, &fsize) < 0 || np < 0 || ts == 0) {
		H5Eclear2(H5E_DEFAULT);
	} else if ((hsize_t)np > fsize / ts) {
		rc = err_set(err, "%s: corrupt HDF5 file: the attribute declares"
			     " %lld elements of %zu bytes, the file has %llu"
			     " bytes", what, (long long)np, ts,
			     (unsigned long long)fsize);
	}
	if (fid >= 0)
		H5Fclose(fid);
	return rc;
}

/* any supported dataset or attribute as a value */
static int h5_value_from(hid_t obj, int is_attr, const h5_sel *sel,
			 h5_value *v, const char *what, char *err)
{
	hid_t ft = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
	hid_t sp = is_attr ? H5Aget_space(obj) : H5Dget_space(obj);
	hsize_t dims[H5_MAXDIM];
	h5_type m;
	int rank, rc = -1;
	memset(v, 0, sizeof *v);
	if (ft < 0 || sp < 0) {
		h5_fail(err, "%s: cannot read its type", what);
		goto done;
	}
	if (H5Sget_simple_extent_type(sp) == H5S_NULL) {
		rc = sel ? err_set(err, "%s: is empty (null dataspace)", what) : 0;
		goto done;	/* H5_VNONE */
	}
	if (is_attr && h5_attr_size_check(obj, ft, sp, what, err) != 0)
		goto done;
	rank = H5Sget_simple_extent_dims(sp, dims, NULL);
	h5_type_map(ft, &m);
	if (m.cls == H5_CBAD) {
		err_set(err, "%s: HDF5 type %s is not supported (numbers and"
			" strings only)", what, m.name);
		goto done;
	}
	if (sel != NULL && (rank == 0 || m.cls == H5_CSTR)) {
		err_set(err, "%s: a %s takes no selection", what,
			rank == 0 ? "scalar" : "string dataset");
		goto done;
	}
	if (m.cls == H5_CSTR)
		rc = h5_value_str(obj, is_attr, ft, rank, dims, v, what, err);
	else if (rank == 0)
		rc = h5_read_scalar(obj, is_attr, ft, &m, v, what, err);
	else if ((rc = h5_read_arr(obj, is_attr, ft, sp, &m, rank, dims, sel,
				   &v->a, what, err)) == 0)
		v->kind = H5_VARR;
done:
	if (ft >= 0)
		H5Tclose(ft);
	if (sp >= 0)
		H5Sclose(sp);
	return rc;
}

static void h5_what(char *buf, size_t n, const char *fname, const char *path)
{
	snprintf(buf, n, "%s:%s%s", fname, path[0] == '/' ? "" : "/", path);
}

int h5_read_value(h5_file *f, const char *dset, const h5_sel *sel,
		  h5_value *v, char *err)
{
	char what[600];
	hid_t did;
	int rc;
	memset(v, 0, sizeof *v);
	if (h5_file_check(f, err) != 0)
		return -1;
	did = h5_dopen(f->fid, f->path, dset, H5P_DEFAULT, err);
	if (did < 0)
		return -1;
	h5_what(what, sizeof what, f->path, dset);
	rc = h5_value_from(did, 0, sel, v, what, err);
	H5Dclose(did);
	return rc;
}

int h5_read(h5_file *f, const char *dset, const h5_sel *sel, arr *out,
	    char *err)
{
	h5_value v;
	memset(out, 0, sizeof *out);
	if (h5_read_value(f, dset, sel, &v, err) != 0)
		return -1;
	if (v.kind == H5_VINT || v.kind == H5_VNUM) {
		double x = v.kind == H5_VINT ? (double)v.i : v.d;
		if (arr_alloc(out, ARR_F64, 0, NULL, err) != 0)
			return -1;
		*(double *)out->data = x;
		return 0;
	}
	if (v.kind != H5_VARR) {
		h5_value_free(&v);
		return err_set(err, "%s:%s: holds strings, not numbers",
			       f->path, dset);
	}
	*out = v.a;
	return 0;
}

static hid_t h5_attr_open(h5_file *f, const char *path, const char *name,
			  char *err)
{
	hid_t oid, aid;
	htri_t e;
	if (h5_file_check(f, err) != 0)
		return -1;
	oid = h5_oopen(f->fid, f->path, path, err);
	if (oid < 0)
		return -1;
	e = H5Aexists(oid, name);
	if (e <= 0) {
		if (e < 0)
			h5_fail(err, "%s:%s: cannot look up attribute '%s'",
				f->path, path, name);
		else
			err_set(err, "%s:%s: has no attribute '%s'", f->path,
				path, name);
		H5Oclose(oid);
		return -1;
	}
	aid = H5Aopen(oid, name, H5P_DEFAULT);
	if (aid < 0)
		h5_fail(err, "%s:%s: cannot open attribute '%s'", f->path,
			path, name);
	H5Oclose(oid);
	return aid;
}

int h5_attr_read(h5_file *f, const char *path, const char *name,
		 h5_value *v, char *err)
{
	char what[700];
	hid_t aid = h5_attr_open(f, path, name, err);
	int rc;
	memset(v, 0, sizeof *v);
	if (aid < 0)
		return -1;
	snprintf(what, sizeof what, "%s:%s attribute '%s'", f->path, path,
		 name);
	rc = h5_value_from(aid, 1, NULL, v, what, err);
	H5Aclose(aid);
	return rc;
}

int h5_attr_names(h5_file *f, const char *path, char ***names, size_t *n,
		  char *err)
{
	h5_names nl;
	hid_t oid;
	int rc = 0;
	*names = NULL;
	*n = 0;
	if (h5_file_check(f, err) != 0)
		return -1;
	oid = h5_oopen(f->fid, f->path, path, err);
	if (oid < 0)
		return -1;
	memset(&nl, 0, sizeof nl);
	if (H5Aiterate2(oid, H5_INDEX_NAME, H5_ITER_INC, NULL, h5_attrname_cb,
			&nl) < 0) {
		if (nl.failed)
			err_set(err, "out of memory listing attributes");
		else
			h5_fail(err, "%s:%s: cannot list attributes", f->path,
				path);
		rc = -1;
	}
	H5Oclose(oid);
	free(nl.hard);
	if (rc != 0) {
		h5_names_free(nl.name, nl.n);
		return -1;
	}
	*names = nl.name;
	*n = nl.n;
	return 0;
}

/* ---------------------------------------------------------------- */
/* frame streams                                                    */
/* ---------------------------------------------------------------- */

struct h5_frames {
	hid_t did, ft, fspace;
	h5_type m;
	int rank;
	hsize_t dims[H5_MAXDIM];
	size_t first, count, step, block, c0;
	size_t row0;			/* first row read (dims[1] from it) */
	size_t next;			/* frames handed out so far */
	arr blk;			/* block of frames blk_j0 .. +blk_n */
	arr spare;			/* an earlier block a consumer still
					   held when the next was read */
	size_t blk_j0, blk_n;
	int direct;			/* whole frame chunks in the memory
					   type: read whole */
	int filt;			/* ... stored through zg.pipe */
	h5_zgroup zg;			/* a block's stored chunks, each to
					   decode into its frames' place */
	/* strided frames (step > 1) of chunks of several frames: each
	** job's chunk decoded whole into the group's scratch, then its
	** frames picked from there */
	struct h5_pick {
		size_t j, i0, m;	/* block frames j.. from chunk
					   frames i0, i0 + step, ... */
	} *picks;
	size_t pcap;
	hsize_t rows_all;		/* dims[1] of the dataset */
	int hold;			/* h5_frames_hold */
	mem_pf *pf;			/* the spare's pages, populated */
	char what[600];
	h5_reg reg;
};

size_t h5_frames_count(const h5_frames *fr) { return fr->count; }

int h5_frames_rows(h5_frames *fr, size_t row0, size_t nrows, char *err)
{
	if (fr->rank < 3 || fr->next > 0 || fr->blk.buf != NULL)
		return err_set(err, "%s: rows need frames of rows x cols, "
			       "set before reading", fr->what);
	if (nrows == 0 || row0 + nrows > fr->row0 + (size_t)fr->dims[1] ||
	    row0 + nrows < row0)
		return err_set(err, "%s: rows %zu..%zu of %zu", fr->what,
			       row0 + 1, row0 + nrows,
			       fr->row0 + (size_t)fr->dims[1]);
	fr->row0 = row0;
	fr->dims[1] = nrows;
	return 0;
}

int h5_frames_block_done(const h5_frames *fr)
{
	return fr->next < fr->count &&
	       (fr->blk.buf == NULL || fr->next >= fr->blk_j0 + fr->blk_n);
}
size_t h5_frames_block(const h5_frames *fr) { return fr->block; }
void h5_frames_hold(h5_frames *fr) { fr->hold = 1; }

void h5_frames_close(h5_frames *fr)
{
	if (fr == NULL)
		return;
	h5_reg_del(&fr->reg);
	mem_prefault_end(fr->pf);
	arr_release(&fr->blk);
	arr_release(&fr->spare);
	h5_zgroup_free(&fr->zg);
	free(fr->picks);
	if (fr->fspace >= 0)
		H5Sclose(fr->fspace);
	if (fr->ft >= 0)
		H5Tclose(fr->ft);
	if (fr->did >= 0)
		H5Dclose(fr->did);
	free(fr);
}

/* Frames per read: about H5_BLOCK_BYTES, or the caller's choice. A chunk
** cache big enough for one layer of chunks along axis 0 means that a
** chunk shared by two blocks is decompressed only once. */
static hid_t h5_frames_dapl(h5_frames *fr, const size_t *ch)
{
	size_t layer, chunkb = arr_dtype_size(fr->m.dt), nchunks = 1;
	hid_t dapl;
	int d;
	if (!fr->c0)
		return H5P_DEFAULT;
	for (d = 0; d < fr->rank; d++) {
		chunkb *= ch[d];
		if (d > 0)
			nchunks *= (size_t)(fr->dims[d] + ch[d] - 1) / ch[d];
	}
	layer = chunkb * nchunks;
	if (layer <= ((size_t)1 << 20))
		return H5P_DEFAULT;
	if (layer > H5_CACHE_MAX)
		layer = H5_CACHE_MAX;
	dapl = H5Pcreate(H5P_DATASET_ACCESS);
	if (dapl >= 0)
		H5Pset_chunk_cache(dapl, 12421, layer, 1.0);
	return dapl;
}

/* Direct reads. A detector's frames are most often stored one or a few
** whole frames per chunk, in the machine's own type, either as they are
** or compressed by one of the filters built into ionflow (h5filt: LZF,
** LZ4, bitshuffle). H5Dread copies each chunk through the chunk cache (a
** malloc, a copy and their page faults: half the CPU time of a run's
** read), looks each up again and decodes one chunk at a time; here each
** chunk is read whole (H5Dread_chunk): a plain one straight into the
** block, a compressed one into a buffer of the block's stored chunks,
** which threads then decode into their places (h5filt_decode_all). A
** chunk that is not so (not allocated: fill values; a plain one whose
** stored size is not its frames') goes through H5Dread, which reports
** what is wrong. */
static int h5_frames_filter(h5_frames *fr)
{
	hid_t dcpl = H5Dget_create_plist(fr->did);
	int ok = dcpl >= 0 && h5_pipe(dcpl, &fr->zg.pipe);
	if (dcpl >= 0)
		H5Pclose(dcpl);
	H5Eclear2(H5E_DEFAULT);
	return fr->filt = ok;
}

static int h5_frames_direct_ok(h5_frames *fr, const h5_info *info)
{
	int d;
	if (!info->chunked || fr->m.raw ||
	    H5Tequal(fr->ft, h5_native(fr->m.dt)) <= 0 ||
	    (info->filters[0] != '\0' && !h5_frames_filter(fr))) {
		H5Eclear2(H5E_DEFAULT);
		return 0;
	}
	for (d = 1; d < fr->rank; d++)
		if (info->chunk[d] != (size_t)fr->dims[d])
			return 0;
	return 1;
}

static int h5_frames_slab(h5_frames *fr, size_t j0, size_t n, char *dst,
			  char *err);

/* the chunk of frames s .. s + nb / frame bytes straight into dst: 1 when
** read here, 0 when it is not a plain chunk of nb bytes (then nothing is
** read), -1 on error. (The address comes from the chunk index by
** H5Dread_chunk's own lookup: H5Dget_chunk_info_by_coord walks every
** chunk of 1.10's index, 28 us a chunk for 4000 frames.) */
static int h5_frames_chunk(h5_frames *fr, size_t s, size_t nb, char *dst,
			   char *err)
{
	hsize_t off[H5_MAXDIM] = {0}, size = 0;
	uint32_t mask = 0;
	off[0] = s;
	if (H5Dget_chunk_storage_size(fr->did, off, &size) < 0 ||
	    size != nb) {
		H5Eclear2(H5E_DEFAULT);
		return 0;
	}
	if (H5Dread_chunk(fr->did, H5P_DEFAULT, off, &mask, dst) < 0)
		return h5_fail(err, "%s: frame %zu: read failed", fr->what,
			       s + 1);
	return 1;
}

/* a compressed chunk of frames s .. s + nb / frame bytes appended to the
** block's stored chunks, to be decoded into dst (NULL: the group's
** scratch): 1, or 0 when it is not allocated (then nothing is read), -1
** on error */
static int h5_frames_stored(h5_frames *fr, size_t s, size_t nb, char *dst,
			    char *err)
{
	hsize_t off[H5_MAXDIM] = {0};
	int r;
	off[0] = s;
	if ((r = h5_zgroup_add(&fr->zg, fr->did, off, nb, dst, err)) < 0)
		return err_prefix(err, "%s: frame %zu", fr->what, s + 1);
	return r;
}

/* The frames of a strided block in the chunk starting at frame cs: m of
** them, the first i0 frames into the chunk, to block frame j. The chunk
** joins the group, to be decoded whole into scratch: 1, or 0 when it is
** not stored (then nothing is read), -1 on error. */
static int h5_frames_picked(h5_frames *fr, size_t cs, size_t i0, size_t j,
			    size_t m, size_t cb, char *err)
{
	int r;
	if (mem_grow((void **)&fr->picks, &fr->pcap, fr->zg.njobs + 1,
		     sizeof *fr->picks))
		return err_set(err, "%s: out of memory", fr->what);
	if ((r = h5_frames_stored(fr, cs, cb, NULL, err)) > 0)
		fr->picks[fr->zg.njobs - 1] = (struct h5_pick){j, i0, m};
	return r;
}

/* the stored chunks read so far, decoded by threads into the block at
** dst0 (or, strided, into scratch and their frames picked) and then
** dropped */
static int h5_frames_decode(h5_frames *fr, char *dst0, size_t fb, char *err)
{
	h5_zgroup *g = &fr->zg;
	int picked = g->njobs > 0 && g->jobs[0].out == NULL;
	size_t bad;
	if (h5_zgroup_decode(g, &bad, err) != 0) {
		size_t j = picked ? fr->picks[bad].j :
			   (size_t)((char *)g->jobs[bad].out - dst0) / fb;
		return err_prefix(err, "%s: frame %zu", fr->what,
				  fr->first + (fr->next + j) * fr->step + 1);
	}
	for (size_t i = 0; picked && i < g->njobs; i++) {
		const struct h5_pick *p = &fr->picks[i];
		const char *c = g->jobs[i].out;
		for (size_t k = 0; k < p->m; k++)
			memcpy(dst0 + (p->j + k) * fb,
			       c + (p->i0 + k * fr->step) * fb, fb);
	}
	h5_zgroup_clear(g);
	return 0;
}

/* HDF5's sec2 driver fills what lies past the end of the file with
** zeros: a file cut while it is read would give frames of zeros. It
** cannot shrink below the end HDF5 expects (its EOA) unseen: checked
** after every block. */
static int h5_frames_whole(h5_frames *fr, size_t n, char *err)
{
	hid_t fid = H5Iget_file_id(fr->did);
	haddr_t eoa = HADDR_UNDEF;
	void *h = NULL;
	struct stat st;
	int rc = 0;
	if (fid >= 0 && H5Fget_eoa(fid, &eoa) >= 0 &&
	    H5Fget_vfd_handle(fid, H5P_DEFAULT, &h) >= 0 && h != NULL &&
	    fstat(*(int *)h, &st) == 0 && eoa != HADDR_UNDEF &&
	    (haddr_t)st.st_size < eoa)
		rc = err_set(err, "%s: frames %zu..%zu: the file is %lld bytes,"
			     " HDF5 expects %llu (cut while read?)", fr->what,
			     fr->first + fr->next * fr->step + 1,
			     fr->first + (fr->next + n - 1) * fr->step + 1,
			     (long long)st.st_size, (unsigned long long)eoa);
	if (fid >= 0)
		H5Fclose(fid);	/* (the dataset keeps the file open) */
	H5Eclear2(H5E_DEFAULT);
	return rc;
}

static int h5_frames_direct(h5_frames *fr, size_t n, char *dst, char *err)
{
	size_t fb = arr_dtype_size(fr->m.dt), c0 = fr->c0, j = 0, m;
	int d, r;
	for (d = 1; d < fr->rank; d++)
		fb *= (size_t)fr->dims[d];
	h5_zgroup_clear(&fr->zg);
	while (j < n) {
		size_t s = fr->first + (fr->next + j) * fr->step;
		if (fr->filt && c0 > 1 && fr->step > 1) {
			/* (HDF5 decoded such a chunk again for each frame
			** of it: every 2nd frame took 10x all of them) */
			size_t cs = s / c0 * c0;
			m = (cs + c0 - s + fr->step - 1) / fr->step;
			if (m > n - j)
				m = n - j;
			r = h5_frames_picked(fr, cs, s - cs, j, m, c0 * fb,
					     err);
			if (r < 0)
				return -1;
			if (r > 0 && (fr->zg.zused >= H5_BLOCK_BYTES ||
				      fr->zg.sused >= 4 * H5_BLOCK_BYTES) &&
			    h5_frames_decode(fr, dst, fb, err))
				return -1;
		} else if (s % c0 == 0 && s + c0 <= (size_t)fr->dims[0] &&
		    (c0 == 1 || (fr->step == 1 && j + c0 <= n))) {
			m = c0 == 1 ? 1 : c0;
			r = fr->filt ? h5_frames_stored(fr, s, m * fb,
							dst + j * fb, err)
				     : h5_frames_chunk(fr, s, m * fb,
						       dst + j * fb, err);
			if (r < 0)
				return -1;
			/* decoded in groups: the stored chunks' buffer stays
			** small, warm and in cache, not a fresh third of the
			** block */
			if (r > 0 && fr->filt && fr->zg.zused >= H5_BLOCK_BYTES &&
			    h5_frames_decode(fr, dst, fb, err))
				return -1;
		} else {	/* a part of a chunk */
			m = fr->step == 1 ? c0 - s % c0 : 1;
			if (m > n - j)
				m = n - j;
			r = 0;
		}
		if (r == 0 && h5_frames_slab(fr, j, m, dst + j * fb, err))
			return -1;
		j += m;
	}
	return fr->filt ? h5_frames_decode(fr, dst, fb, err) : 0;
}

static int h5_frames_setup(h5_frames *fr, h5_file *f, const char *dset,
			   size_t block, char *err)
{
	h5_info info;
	size_t fbytes, d;
	hid_t dapl;
	memset(&info, 0, sizeof info);
	h5_info_dset(fr->did, &info);
	fr->c0 = info.chunked ? info.chunk[0] : 0;
	fbytes = arr_dtype_size(fr->m.dt);
	for (d = 1; d < (size_t)fr->rank; d++)
		fbytes *= (size_t)fr->dims[d];
	if (block == 0)
		block = fbytes ? H5_BLOCK_BYTES / fbytes : 1;
	if (block == 0)
		block = 1;
	if (block > fr->count && fr->count > 0)
		block = fr->count;
	fr->block = block;
	fr->rows_all = fr->dims[1];
	fr->direct = h5_frames_direct_ok(fr, &info);
	dapl = h5_frames_dapl(fr, info.chunk);
	if (dapl != H5P_DEFAULT) {
		H5Dclose(fr->did);
		fr->did = h5_dopen(f->fid, f->path, dset, dapl, err);
		H5Pclose(dapl);
		if (fr->did < 0)
			return -1;
	}
	return 0;
}

static int h5_frames_check(h5_frames *fr, size_t first, size_t count,
			   size_t step, char *err)
{
	size_t nf = (size_t)fr->dims[0];
	if (step == 0)
		return err_set(err, "%s: frame step must be >= 1", fr->what);
	if (count == H5_ALL) {
		if (first > nf)
			return err_set(err, "%s: first frame %zu is beyond the"
				       " %zu frames", fr->what, first, nf);
		count = (nf - first + step - 1) / step;
	} else if (count > 0 && (first >= nf || (count - 1) > (nf - 1 - first) / step)) {
		return err_set(err, "%s: %zu frames from %zu step %zu run past"
			       " the %zu frames", fr->what, count, first, step,
			       nf);
	}
	fr->first = first;
	fr->count = count;
	fr->step = step;
	return 0;
}

int h5_frames_open(h5_frames **out, h5_file *f, const char *dset,
		   size_t first, size_t count, size_t step, size_t block,
		   char *err)
{
	h5_frames *fr;
	*out = NULL;
	if (h5_file_check(f, err) != 0)
		return -1;
	if ((fr = err_calloc(1, sizeof *fr, err)) == NULL)
		return -1;
	fr->ft = fr->fspace = -1;
	h5_what(fr->what, sizeof fr->what, f->path, dset);
	if ((fr->did = h5_dopen(f->fid, f->path, dset, H5P_DEFAULT, err)) < 0)
		goto fail;
	fr->ft = H5Dget_type(fr->did);
	fr->fspace = H5Dget_space(fr->did);
	if (fr->ft < 0 || fr->fspace < 0) {
		h5_fail(err, "%s: cannot read its type", fr->what);
		goto fail;
	}
	h5_type_map(fr->ft, &fr->m);
	if (fr->m.cls != H5_CNUM) {
		err_set(err, "%s: frames must be numbers, the dataset holds %s",
			fr->what, fr->m.name);
		goto fail;
	}
	fr->rank = H5Sget_simple_extent_dims(fr->fspace, fr->dims, NULL);
	if (fr->rank < 2 || fr->rank > ARR_MAXDIM + 1) {
		err_set(err, "%s: a frame stack needs rank 2..%d (frames x"
			" rows x cols), the dataset has rank %d", fr->what,
			ARR_MAXDIM + 1, fr->rank);
		goto fail;
	}
	if (h5_frames_check(fr, first, count, step, err) != 0 ||
	    h5_frames_setup(fr, f, dset, block, err) != 0)
		goto fail;
	h5_reg_add(&fr->reg, f->path);
	*out = fr;
	return 0;
fail:
	h5_frames_close(fr);
	return -1;
}

/* How many frames the block starting at frame j0 holds: at most
** fr->block, and when the dataset is chunked along axis 0 and more
** frames follow, ending on a chunk boundary so that no chunk is read by
** two blocks. */
static size_t h5_frames_span(const h5_frames *fr, size_t j0)
{
	size_t n = fr->count - j0, s, b;
	if (n > fr->block)
		n = fr->block;
	if (fr->c0 <= 1 || j0 + n >= fr->count)
		return n;
	s = fr->first + j0 * fr->step;
	b = (s + (n - 1) * fr->step + 1) / fr->c0 * fr->c0;
	if (b > s)
		n = (b - s + fr->step - 1) / fr->step;
	return n;
}

/* A buffer for the next block: the old one when nothing else holds it.
** A consumer working on a block while the next is read (a background
** correlator push) holds it; it is kept as the spare and serves again
** once let go, so that two buffers alternate instead of a new one (and
** its page faults) per block. */
static int h5_frames_buffer(h5_frames *fr, size_t *allocated, char *err)
{
	size_t shape[ARR_MAXDIM];
	arr t;
	int d;
	*allocated = 0;
	if (fr->blk.buf != NULL && fr->blk.buf->refs == 1)
		return 0;
	if (fr->spare.buf != NULL && fr->spare.buf->refs == 1) {
		t = fr->blk;
		fr->blk = fr->spare;
		fr->spare = t;
		return 0;
	}
	arr_release(&fr->spare);
	fr->spare = fr->blk;
	memset(&fr->blk, 0, sizeof fr->blk);
	shape[0] = fr->block;
	for (d = 1; d < fr->rank; d++)
		shape[d] = (size_t)fr->dims[d];
	if (arr_alloc_uninit(&fr->blk, fr->m.dt, fr->rank, shape, err) != 0)
		return err_prefix(err, "%s", fr->what);
	*allocated = fr->blk.buf ? fr->blk.buf->nbytes : 0;
	/* held blocks: the second buffer now, populated meanwhile */
	if (fr->hold && fr->spare.buf == NULL && fr->pf == NULL &&
	    fr->count - fr->next > fr->block &&
	    arr_alloc_uninit(&fr->spare, fr->m.dt, fr->rank, shape,
			     err) == 0 && fr->spare.buf != NULL) {
		void *b = fr->spare.buf;
		*allocated += fr->spare.buf->nbytes;
		fr->pf = mem_prefault(&b, NULL, 1);
	}
	return 0;
}

/* frames fr->next + j0 .. + n into dst through H5Dread */
static int h5_frames_slab(h5_frames *fr, size_t j0, size_t n, char *dst,
			  char *err)
{
	hsize_t start[H5_MAXDIM], stride[H5_MAXDIM], cnt[H5_MAXDIM];
	size_t fel = 1;
	int d;
	for (d = 0; d < fr->rank; d++) {
		start[d] = 0;
		stride[d] = 1;
		cnt[d] = fr->dims[d];
		if (d > 0)
			fel *= (size_t)fr->dims[d];
	}
	start[0] = fr->first + (fr->next + j0) * fr->step;
	stride[0] = fr->step;
	cnt[0] = n;
	start[1] = fr->row0;	/* (rank >= 2) */
	if (H5Sselect_hyperslab(fr->fspace, H5S_SELECT_SET, start, stride,
				cnt, NULL) < 0)
		return h5_fail(err, "%s: bad frame selection", fr->what);
	return h5_read_into(fr->did, 0, fr->ft, fr->fspace, &fr->m, n * fel,
			    fr->rank, cnt, dst, fr->what, err);
}

static int h5_frames_fill(h5_frames *fr, size_t *allocated, char *err)
{
	size_t n = h5_frames_span(fr, fr->next);
	int whole = fr->row0 == 0 && fr->dims[1] == fr->rows_all;
	if (intr_pending())
		return err_set(err, "%s: interrupted", fr->what);
	if (h5_frames_buffer(fr, allocated, err) != 0)
		return -1;
	if ((fr->direct && whole && (fr->c0 == 1 || fr->step == 1 || fr->filt)
	     ? h5_frames_direct(fr, n, fr->blk.data, err)
	     : h5_frames_slab(fr, 0, n, fr->blk.data, err)) ||
	    h5_frames_whole(fr, n, err))
		return -1;
	fr->blk_j0 = fr->next;
	fr->blk_n = n;
	return 0;
}

/* 1 when frame fr->next is in the current block (reading the next block
** if need be), 0 at the end, -1 on error */
static int h5_frames_ready(h5_frames *fr, size_t *allocated, char *err)
{
	*allocated = 0;
	if (fr->next >= fr->count)
		return 0;
	if (fr->blk.buf == NULL || fr->next >= fr->blk_j0 + fr->blk_n)
		if (h5_frames_fill(fr, allocated, err) != 0)
			return -1;
	return 1;
}

int h5_frames_next(h5_frames *fr, arr *frame, size_t *index,
		   size_t *allocated, char *err)
{
	int r;
	memset(frame, 0, sizeof *frame);
	if ((r = h5_frames_ready(fr, allocated, err)) != 1)
		return r;
	if (arr_take(frame, &fr->blk, 0, fr->next - fr->blk_j0, err) != 0)
		return -1;
	*index = fr->first + fr->next * fr->step;
	fr->next++;
	return 1;
}

int h5_frames_next_block(h5_frames *fr, arr *block, size_t *index,
			 size_t *allocated, char *err)
{
	int r;
	memset(block, 0, sizeof *block);
	if ((r = h5_frames_ready(fr, allocated, err)) != 1)
		return r;
	if (arr_slice(block, &fr->blk, 0, fr->next - fr->blk_j0, fr->blk_n, 1,
		      err) != 0)
		return -1;
	*index = fr->first + fr->next * fr->step;
	fr->next = fr->blk_j0 + fr->blk_n;
	return 1;
}

/* ---------------------------------------------------------------- */
/* the probe: a file's structure is walked in a child process first  */
/* ---------------------------------------------------------------- */

/* Why a child process. libhdf5 (1.10 at least) trusts the sizes and
** addresses a file declares: fuzzed files of a few kB crash it inside
** H5Literate (a NULL memcpy in H5F__accum_read), H5Dopen (a 33 MB heap
** over-read in H5O_msg_read_oh) and H5Dread of a compact dataset (a
** silent over-read in H5VM_memcpyvv). Checking everything the library
** will trust before it does would mean a second HDF5 decoder, and a crash
** inside the library cannot be caught. So the first time a file is
** opened, a forked child opens it and walks what the parent may touch
** later, through the very same functions: every link and group (listed
** recursively), every object header, attribute (read) and dataset (type,
** space, layout, filters, the first 256 KiB of its data). If the child ends
** by a signal (or a sanitizer's exit), the parent never hands the file
** to HDF5 and reports it corrupt, naming the object being walked. Sizes
** the library does not check are checked in the child: a compact
** dataset's stored bytes must be its extent times its type size.
**
** Cost: one fork and one walk of the metadata per file, a few ms for a
** raw or result file of tens of objects; a verdict "sound" is cached by
** device, inode, size and modification time, so reopening a file (frame
** streams, h5.tree after h5.open) costs nothing. Limits: the data of
** datasets past the first 256 KiB is not read in the child
** (reading it all would double the cost of every run), so a corrupt chunk
** index deep in a large dataset is met by the parent's own reads. */

#define H5_PROBE_SECONDS 20			/* then: corrupt or hostile */
#define H5_PROBE_SECONDS_MAX 86400
#define H5_PROBE_BYTES ((size_t)256 << 10)	/* data read per dataset */
#define H5_PROBE_CACHE 64
#define H5_PROBE_SIZE 3				/* child's exit: size check */

typedef struct h5_probe_msg {		/* shared with the child */
	char where[400];		/* the object being walked */
	char why[400];			/* a failed size check */
} h5_probe_msg;

typedef struct h5_probe_key {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
} h5_probe_key;

static h5_probe_msg *h5_probe_shm = NULL;	/* set in the child only */

static void h5_probe_at(const char *path)
{
	if (h5_probe_shm != NULL)
		snprintf(h5_probe_shm->where, sizeof h5_probe_shm->where,
			 "%s", path);
}

static int h5_probe_cached(const struct stat *st, int add)
{
	static h5_probe_key sound[H5_PROBE_CACHE];
	static size_t n = 0;
	h5_probe_key k;
	size_t i;
	memset(&k, 0, sizeof k);
	k.dev = st->st_dev;
	k.ino = st->st_ino;
	k.size = st->st_size;
	k.mtime = st->st_mtim;
	for (i = 0; i < n && i < H5_PROBE_CACHE; i++)
		if (memcmp(&sound[i], &k, sizeof k) == 0)
			return 1;
	if (add)
		sound[n++ % H5_PROBE_CACHE] = k;
	return 0;
}

/* a compact dataset holds its data in its header: HDF5 1.10 copies
** extent x type size bytes out of a buffer of the declared size */
static int h5_probe_compact(h5_file *f, const char *path)
{
	hid_t did = H5Dopen2(f->fid, path, H5P_DEFAULT), dcpl, t, sp;
	hssize_t np;
	size_t need;
	hsize_t have;
	int rc = 0;
	if (did < 0)
		return 0;
	dcpl = H5Dget_create_plist(did);
	t = H5Dget_type(did);
	sp = H5Dget_space(did);
	if (dcpl >= 0 && t >= 0 && sp >= 0 &&
	    H5Pget_layout(dcpl) == H5D_COMPACT) {
		np = H5Sget_simple_extent_npoints(sp);
		need = (size_t)(np > 0 ? np : 0) * H5Tget_size(t);
		have = H5Dget_storage_size(did);
		if ((hsize_t)need != have) {
			snprintf(h5_probe_shm->why, sizeof h5_probe_shm->why,
				 "compact dataset '%s' holds %llu bytes for %zu"
				 " bytes of data", path,
				 (unsigned long long)have, need);
			rc = -1;
		}
	}
	if (dcpl >= 0)
		H5Pclose(dcpl);
	if (t >= 0)
		H5Tclose(t);
	if (sp >= 0)
		H5Sclose(sp);
	H5Dclose(did);
	H5Eclear2(H5E_DEFAULT);
	return rc;
}

static void h5_probe_attrs(h5_file *f, const char *path)
{
	char err[ERR_LEN], **names;
	size_t n, i;
	h5_probe_at(path);
	if (h5_attr_names(f, path, &names, &n, err) != 0)
		return;
	for (i = 0; i < n; i++) {
		h5_value v;
		if (h5_attr_read(f, path, names[i], &v, err) == 0)
			h5_value_free(&v);
	}
	h5_names_free(names, n);
}

/* the first H5_PROBE_BYTES of a dataset, read as the parent reads it */
static void h5_probe_data(h5_file *f, const h5_entry *e)
{
	char err[ERR_LEN];
	size_t row = 8;
	h5_sel sel, *sp = NULL;
	h5_value v;
	int d;
	if (e->info.ndim > 0 && e->info.numeric) {
		for (d = 1; d < e->info.ndim; d++)
			if (e->info.shape[d] > H5_PROBE_BYTES / row)
				return;
			else
				row *= e->info.shape[d];
		memset(&sel, 0, sizeof sel);
		sel.ndim = 1;
		sel.count[0] = H5_PROBE_BYTES / row;
		if (sel.count[0] == 0)
			sel.count[0] = 1;
		if (sel.count[0] > e->info.shape[0])
			sel.count[0] = e->info.shape[0];
		sp = &sel;
	} else if (e->info.ndim > 0 && e->info.shape[0] > H5_PROBE_BYTES / 64) {
		return;
	}
	if (h5_read_value(f, e->path, sp, &v, err) == 0)
		h5_value_free(&v);
}

/* in the child: walk the file, then leave without running atexit
** handlers (the parent's temporary files are not ours to remove); what
** it allocated is freed first, for valgrind's leak check of the child */
static void h5_probe_walk(const char *path)
{
	char err[ERR_LEN];
	h5_entry *e;
	h5_file *f;
	size_t n, i;
	int code = 0;
	h5_probe_at("(its superblock)");
	if (h5_open_file(&f, path, err) != 0)
		_exit(0);	/* an error, not a crash: the parent says it */
	h5_probe_attrs(f, "/");
	h5_probe_at("/");
	if (h5_list_walk(f, "/", 1, 1, &e, &n, err) != 0) {
		h5_close(f);
		_exit(0);
	}
	for (i = 0; i < n && code == 0; i++) {
		if (e[i].broken)
			continue;
		h5_probe_attrs(f, e[i].path);
		if (e[i].info.kind != H5_DATASET)
			continue;
		if (h5_probe_compact(f, e[i].path) != 0)
			code = H5_PROBE_SIZE;
		else
			h5_probe_data(f, &e[i]);
	}
	h5_list_free(e, n);
	h5_close(f);
	_exit(code);
}

/* How long the walk may take: IONFLOW_PROBE_SECONDS (1..86400) where a
** file system or a checker (valgrind) is far slower than a local disk, else
** H5_PROBE_SECONDS */
static unsigned h5_probe_seconds(void)
{
	const char *e = getenv("IONFLOW_PROBE_SECONDS");
	char *end;
	long v;
	if (e == NULL || *e == '\0')
		return H5_PROBE_SECONDS;
	v = strtol(e, &end, 10);
	return *end == '\0' && v >= 1 && v <= H5_PROBE_SECONDS_MAX ?
	       (unsigned)v : H5_PROBE_SECONDS;
}

/* present in sanitized builds only: a fuzzer's death callback would
** report the child's death as its own crash */
void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

static void h5_probe_child(const char *path, h5_probe_msg *msg,
			   unsigned secs)
{
	int fd = open("/dev/null", O_WRONLY);
	if (fd >= 0) {
		dup2(fd, 2);	/* HDF5's and sanitizers' reports */
		close(fd);
	}
	static const int deflt[] = {SIGTERM, SIGALRM, SIGSEGV, SIGBUS,
				    SIGFPE, SIGILL, SIGABRT};
	size_t i;
	/* a crash ends the child by its signal, whoever handled it before */
	for (i = 0; i < sizeof deflt / sizeof deflt[0]; i++)
		signal(deflt[i], SIG_DFL);
	signal(SIGINT, SIG_IGN);	/* Ctrl-C is the parent's to handle */
	if (__sanitizer_set_death_callback != NULL)
		__sanitizer_set_death_callback(NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm(secs);
	h5filt_single();
	h5_probe_shm = msg;
	h5_probe_walk(path);
}

/* the verdict on a child's end: 0 sound, else a message */
static int h5_probe_verdict(const char *path, int status,
			    const h5_probe_msg *msg, unsigned secs, char *err)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == H5_PROBE_SIZE)
		return err_set(err, "%s: corrupt HDF5 file: %s", path,
			       msg->why);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		return err_set(err, "%s: corrupt HDF5 file: walking its"
			       " structure took more than %u s (at '%s')",
			       path, secs, msg->where);
	if (WIFSIGNALED(status))
		return err_set(err, "%s: corrupt HDF5 file: the HDF5 library"
			       " crashes reading '%s' (%s); not opened", path,
			       msg->where, strsignal(WTERMSIG(status)));
	return err_set(err, "%s: corrupt HDF5 file: the HDF5 library fails"
		       " (exit %d) reading '%s'; not opened", path,
		       WEXITSTATUS(status), msg->where);
}

static int h5_probe(const char *path, const struct stat *st, char *err)
{
	h5_probe_msg *msg;
	pid_t pid;
	int status = 0, rc;
	unsigned secs = h5_probe_seconds();
	if (h5_probe_cached(st, 0))
		return 0;
	msg = mmap(NULL, sizeof *msg, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (msg == MAP_FAILED)
		return err_set(err, "%s: cannot check the file: %s", path,
			       strerror(errno));
	memset(msg, 0, sizeof *msg);
	pid = fork();
	if (pid == 0)
		h5_probe_child(path, msg, secs);
	if (pid < 0) {
		rc = err_set(err, "%s: cannot check the file: %s", path,
			     strerror(errno));
		munmap(msg, sizeof *msg);
		return rc;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno == ECHILD) {	/* SIGCHLD ignored: no verdict */
			munmap(msg, sizeof *msg);
			return 0;
		}
		if (errno != EINTR || intr_pending()) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			munmap(msg, sizeof *msg);
			return err_set(err, "%s: interrupted", path);
		}
	}
	rc = h5_probe_verdict(path, status, msg, secs, err);
	munmap(msg, sizeof *msg);
	if (rc == 0)
		h5_probe_cached(st, 1);
	return rc;
}

/* ---------------------------------------------------------------- */
/* writing                                                          */
/* ---------------------------------------------------------------- */

static void h5_writer_free(h5_writer *w)
{
	h5_writer **p;
	for (p = &h5_writers; *p != NULL; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
	free(w->path);
	free(w->tmp);
	free(w);
}

/* The temporary file beside the target is "<target>.tmp-<pid>-XXXXXX",
** with the permissions a plain fopen would give (mkstemp makes it 0600).
** The writer's pid in the name lets a later run tell a file left by a
** killed writer (SIGKILL, a power cut) from one being written now. */
static int h5_mktemp(h5_writer *w, char *err)
{
	size_t n = strlen(w->path) + 40;
	mode_t um;
	int fd;
	if ((w->tmp = err_malloc(n, 1, err)) == NULL)
		return -1;
	snprintf(w->tmp, n, "%s.tmp-%ld-XXXXXX", w->path, (long)getpid());
	fd = mkstemp(w->tmp);
	if (fd < 0)
		return err_set(err, "%s: cannot create a temporary file beside"
			       " it: %s", w->path, strerror(errno));
	um = umask(0);
	umask(um);
	if (fchmod(fd, 0666 & ~um) != 0) { /* not fatal */ }
	close(fd);
	return 0;
}

/* the writer's pid when name is "<base>.tmp-<pid>-XXXXXX", else 0 */
static long h5_stale_pid(const char *name, const char *base)
{
	size_t bl = strlen(base);
	const char *p = name + bl + 5, *q;
	char *end;
	long pid;
	if (strncmp(name, base, bl) != 0 || strncmp(name + bl, ".tmp-", 5) != 0)
		return 0;
	if (p[0] < '1' || p[0] > '9')
		return 0;
	pid = strtol(p, &end, 10);
	if (*end != '-' || pid <= 0 || pid > INT_MAX)
		return 0;
	for (q = end + 1; *q != '\0'; q++)
		;
	return q - end - 1 == 6 ? pid : 0;
}

/* Remove path when it is a temporary file that a gone ionflow writer left:
** ours (same user, a regular file that is empty or starts with the HDF5
** signature), its writer's pid no longer exists, and no process holds the
** lock HDF5 takes on a file it writes (which also protects a writer on
** another host sharing the directory, whose pid means nothing here). */
static void h5_stale_remove(const char *path, long pid)
{
	static const char sig[8] = "\211HDF\r\n\032\n";
	char head[8];
	struct stat st;
	ssize_t got;
	int fd;
	if (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
		return;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		return;
	}
	got = read(fd, head, sizeof head);
	if (got == 0 || (got == (ssize_t)sizeof head &&
			 memcmp(head, sig, sizeof sig) == 0))
		unlink(path);
	close(fd);
}

/* the temporary files of earlier writers of path that were killed */
static void h5_stale_sweep(const char *path)
{
	char *dcopy = h5_strdup(path, NULL), *bcopy = h5_strdup(path, NULL);
	const char *dir, *base;
	struct dirent *d;
	DIR *dp;
	if (dcopy == NULL || bcopy == NULL)
		goto done;
	dir = dirname(dcopy);
	base = basename(bcopy);
	if ((dp = opendir(dir)) == NULL)
		goto done;
	while ((d = readdir(dp)) != NULL) {
		long pid = h5_stale_pid(d->d_name, base);
		char *full;
		size_t n;
		if (pid == 0)
			continue;
		n = strlen(dir) + strlen(d->d_name) + 2;
		if ((full = malloc(n)) == NULL)
			break;
		snprintf(full, n, "%s/%s", dir, d->d_name);
		h5_stale_remove(full, pid);
		free(full);
	}
	closedir(dp);
done:
	free(dcopy);
	free(bcopy);
}

static int h5_create_check(const char *path, int overwrite, char *err)
{
	struct stat st;
	h5_writer *o;
	if (path == NULL || path[0] == '\0')
		return err_set(err, "empty file name");
	for (o = h5_writers; o != NULL; o = o->next)
		if (strcmp(o->path, path) == 0)
			return err_set(err, "%s: is already being written by"
				       " another writer", path);
	if (stat(path, &st) != 0) {
		if (errno != ENOENT)
			return err_set(err, "%s: %s", path, strerror(errno));
		return 0;
	}
	if (S_ISDIR(st.st_mode))
		return err_set(err, "%s: is a directory", path);
	if (!overwrite)
		return err_set(err, "%s: exists (pass overwrite=true to"
			       " replace it)", path);
	if (h5_reg_busy(path))
		return err_set(err, "%s: is open for reading; close it before"
			       " overwriting it", path);
	if (os_is_input(path))
		return err_set(err, "%s: is an input of this run; refusing to"
			       " replace it (write the result elsewhere)", path);
	return 0;
}

int h5_create(h5_writer **out, const char *path, int overwrite, char *err)
{
	h5_writer *w;
	h5_init();
	*out = NULL;
	if (h5_create_check(path, overwrite, err) != 0)
		return -1;
	h5_stale_sweep(path);
	if ((w = err_calloc(1, sizeof *w, err)) == NULL)
		return -1;
	w->fid = -1;
	w->overwrite = overwrite;
	if ((w->path = h5_strdup(path, err)) == NULL ||
	    h5_mktemp(w, err) != 0) {
		free(w->path);
		free(w->tmp);
		free(w);
		return -1;
	}
	w->fid = H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	if (w->fid < 0) {
		h5_fail(err, "%s: cannot create %s", path, w->tmp);
		unlink(w->tmp);
		free(w->path);
		free(w->tmp);
		free(w);
		return -1;
	}
	w->next = h5_writers;
	h5_writers = w;
	*out = w;
	return 0;
}

const char *h5_writer_path(const h5_writer *w) { return w->path; }
const char *h5_writer_tmp(const h5_writer *w) { return w->tmp; }

/* types, dataspace and buffer for writing a value */
typedef struct h5_wbuf {
	hid_t ftype, mtype, space;
	const void *buf;
	arr tmp;		/* contiguous copy of a strided array */
	int ndim;
	hsize_t dims[ARR_MAXDIM];
} h5_wbuf;

static void h5_wbuf_free(h5_wbuf *b)
{
	if (b->ftype >= 0)
		H5Tclose(b->ftype);
	if (b->mtype >= 0)
		H5Tclose(b->mtype);
	if (b->space >= 0)
		H5Sclose(b->space);
	arr_release(&b->tmp);
}

static int h5_wbuf_arr(const arr *a, h5_wbuf *b, const char *what, char *err)
{
	int d;
	if (!arr_is_contiguous(a)) {
		if (arr_copy(&b->tmp, a, a->dtype, err) != 0)
			return err_prefix(err, "%s", what);
		a = &b->tmp;
	}
	b->ndim = a->ndim;
	for (d = 0; d < a->ndim; d++)
		b->dims[d] = a->shape[d];
	b->ftype = H5Tcopy(h5_filetype(a->dtype));
	b->mtype = H5Tcopy(h5_native(a->dtype));
	b->space = a->ndim ? H5Screate_simple(a->ndim, b->dims, NULL)
			   : H5Screate(H5S_SCALAR);
	b->buf = a->data;
	return 0;
}

static int h5_wbuf_make(const h5_value *v, h5_wbuf *b, const char *what,
			char *err)
{
	hsize_t n;
	memset(b, 0, sizeof *b);
	b->ftype = b->mtype = b->space = -1;
	switch (v->kind) {
	case H5_VINT:
		b->ftype = H5Tcopy(H5T_STD_I64LE);
		b->mtype = H5Tcopy(H5T_NATIVE_LLONG);
		b->buf = &v->i;
		break;
	case H5_VNUM:
		b->ftype = H5Tcopy(H5T_IEEE_F64LE);
		b->mtype = H5Tcopy(H5T_NATIVE_DOUBLE);
		b->buf = &v->d;
		break;
	case H5_VSTR:
	case H5_VSTRS:
		b->ftype = H5Tcopy(H5T_C_S1);
		H5Tset_size(b->ftype, H5T_VARIABLE);
		H5Tset_cset(b->ftype, H5T_CSET_UTF8);
		b->mtype = H5Tcopy(b->ftype);
		b->buf = v->kind == H5_VSTR ? (const void *)&v->s
					    : (const void *)v->strs;
		break;
	case H5_VARR:
		if (h5_wbuf_arr(&v->a, b, what, err) != 0)
			return -1;
		break;
	default:
		return err_set(err, "%s: nothing to write", what);
	}
	if (b->space < 0) {
		n = v->nstrs;
		b->space = v->kind == H5_VSTRS ? H5Screate_simple(1, &n, NULL)
					       : H5Screate(H5S_SCALAR);
	}
	if (b->ftype < 0 || b->mtype < 0 || b->space < 0) {
		h5_fail(err, "%s: cannot set up types", what);
		h5_wbuf_free(b);
		return -1;
	}
	return 0;
}

/* chunk shape: the caller's, or whole trailing axes halved from axis 0
** on until a chunk is about 1 MiB */
static int h5_chunk_shape(const h5_wbuf *b, const h5_wopts *o, size_t esize,
			  hsize_t *ch, const char *what, char *err)
{
	int d;
	size_t bytes = esize;
	if (o->nchunk) {
		if (o->nchunk != b->ndim)
			return err_set(err, "%s: chunk has %d axes, the array"
				       " %d", what, o->nchunk, b->ndim);
		for (d = 0; d < b->ndim; d++) {
			if (o->chunk[d] < 1 || o->chunk[d] > b->dims[d])
				return err_set(err, "%s: chunk axis %d of %d: %zu"
					       " is not in 1..%llu", what, d + 1,
					       b->ndim, o->chunk[d],
					       (unsigned long long)b->dims[d]);
			ch[d] = o->chunk[d];
		}
		return 0;
	}
	for (d = 0; d < b->ndim; d++) {
		ch[d] = b->dims[d];
		bytes *= (size_t)ch[d];
	}
	for (d = 0; d < b->ndim && bytes > H5_CHUNK_BYTES; d++)
		while (bytes > H5_CHUNK_BYTES && ch[d] > 1) {
			bytes = bytes / (size_t)ch[d];
			ch[d] = (ch[d] + 1) / 2;
			bytes *= (size_t)ch[d];
		}
	return 0;
}

static hid_t h5_dcpl(const h5_wbuf *b, const h5_value *v, const h5_wopts *o,
		     const char *what, char *err)
{
	hsize_t ch[ARR_MAXDIM];
	hid_t dcpl;
	int d;
	int codec;
	if (o == NULL || v->kind != H5_VARR || b->ndim == 0 ||
	    (o->compress == 0 && !o->lzf && o->nchunk == 0))
		return H5P_DEFAULT;
	codec = o->compress || o->lzf;
	for (d = 0; d < b->ndim; d++)
		if (b->dims[d] == 0)
			return H5P_DEFAULT;	/* nothing to compress */
	if (o->compress < 0 || o->compress > 9)
		return err_set(err, "%s: gzip level %d is not in 0..9", what,
			       o->compress);
	if (o->compress && o->lzf)
		return err_set(err, "%s: gzip or LZF, not both", what);
	if (o->compress && H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0)
		return err_set(err, "%s: this HDF5 has no gzip filter", what);
	if (o->lzf && H5Zfilter_avail(H5FILT_LZF) <= 0)
		return err_set(err, "%s: the LZF filter is not registered",
			       what);
	if (h5_chunk_shape(b, o, arr_dtype_size(v->a.dtype), ch, what,
			   err) != 0)
		return -1;
	dcpl = H5Pcreate(H5P_DATASET_CREATE);
	if (dcpl < 0 || H5Pset_chunk(dcpl, b->ndim, ch) < 0 ||
	    (codec && o->shuffle && H5Pset_shuffle(dcpl) < 0) ||
	    (o->compress && H5Pset_deflate(dcpl, (unsigned)o->compress) < 0) ||
	    (o->lzf && H5Pset_filter(dcpl, H5FILT_LZF, H5Z_FLAG_OPTIONAL, 0,
				     NULL) < 0)) {
		h5_fail(err, "%s: cannot set up compression", what);
		if (dcpl >= 0)
			H5Pclose(dcpl);
		return -1;
	}
	return dcpl;
}

static hid_t h5_lcpl(void)
{
	hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
	if (lcpl >= 0)
		H5Pset_create_intermediate_group(lcpl, 1);
	return lcpl;
}

static int h5_writer_check(const h5_writer *w, char *err)
{
	if (w == NULL || w->fid < 0)
		return err_set(err, "writer is closed");
	return 0;
}

static size_t h5_value_count(const h5_value *v)
{
	return v->kind == H5_VARR ? arr_size(&v->a)
	     : v->kind == H5_VSTRS ? v->nstrs : 1;
}

int h5_write(h5_writer *w, const char *dset, const h5_value *v,
	     const h5_wopts *opts, char *err)
{
	char what[600];
	h5_wbuf b;
	hid_t dcpl, lcpl, did = -1;
	int rc = -1;
	if (h5_writer_check(w, err) != 0)
		return -1;
	h5_what(what, sizeof what, w->path, dset);
	if (h5_resolve(w->fid, w->path, dset, NULL) == 0)
		return err_set(err, "%s: already written", what);
	if (h5_wbuf_make(v, &b, what, err) != 0)
		return -1;
	dcpl = h5_dcpl(&b, v, opts, what, err);
	lcpl = h5_lcpl();
	if (dcpl < 0 || lcpl < 0)
		goto done;
	did = H5Dcreate2(w->fid, dset, b.ftype, b.space, lcpl, dcpl,
			 H5P_DEFAULT);
	if (did < 0) {
		h5_fail(err, "%s: cannot create the dataset", what);
		goto done;
	}
	if (h5_value_count(v) > 0 &&
	    H5Dwrite(did, b.mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, b.buf) < 0) {
		h5_fail(err, "%s: write failed", what);
		goto done;
	}
	rc = 0;
done:
	if (did >= 0)
		H5Dclose(did);
	if (dcpl > 0 && dcpl != H5P_DEFAULT)
		H5Pclose(dcpl);
	if (lcpl >= 0)
		H5Pclose(lcpl);
	h5_wbuf_free(&b);
	return rc;
}

int h5_group(h5_writer *w, const char *path, char *err)
{
	hid_t id, lcpl;
	if (h5_writer_check(w, err) != 0)
		return -1;
	if (h5_resolve(w->fid, w->path, path, NULL) == 0) {
		id = H5Oopen(w->fid, path, H5P_DEFAULT);
		if (id < 0)
			return h5_fail(err, "%s:%s: cannot open", w->path, path);
		if (H5Iget_type(id) != H5I_GROUP) {
			err_set(err, "%s:%s: exists and is a %s, not a group",
				w->path, path, h5_kindname(id));
			H5Oclose(id);
			return -1;
		}
		H5Oclose(id);
		return 0;
	}
	H5Eclear2(H5E_DEFAULT);
	lcpl = h5_lcpl();
	id = H5Gcreate2(w->fid, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
	if (id < 0)
		h5_fail(err, "%s:%s: cannot create the group", w->path, path);
	else
		H5Gclose(id);
	if (lcpl >= 0)
		H5Pclose(lcpl);
	return id < 0 ? -1 : 0;
}

int h5_write_attr(h5_writer *w, const char *obj, const char *name,
		  const h5_value *v, char *err)
{
	char what[700];
	h5_wbuf b;
	hid_t oid, aid = -1;
	int rc = -1;
	if (h5_writer_check(w, err) != 0)
		return -1;
	snprintf(what, sizeof what, "%s:%s attribute '%s'", w->path, obj, name);
	if (name == NULL || name[0] == '\0')
		return err_set(err, "%s:%s: empty attribute name", w->path, obj);
	if (h5_resolve(w->fid, w->path, obj, NULL) != 0 &&
	    h5_group(w, obj, err) != 0)
		return -1;
	if ((oid = H5Oopen(w->fid, obj, H5P_DEFAULT)) < 0)
		return h5_fail(err, "%s: cannot open the object", what);
	if (H5Aexists(oid, name) > 0 && H5Adelete(oid, name) < 0) {
		h5_fail(err, "%s: cannot replace it", what);
		H5Oclose(oid);
		return -1;
	}
	if (h5_wbuf_make(v, &b, what, err) != 0) {
		H5Oclose(oid);
		return -1;
	}
	aid = H5Acreate2(oid, name, b.ftype, b.space, H5P_DEFAULT, H5P_DEFAULT);
	if (aid < 0)
		h5_fail(err, "%s: cannot create it", what);
	else if (h5_value_count(v) > 0 && H5Awrite(aid, b.mtype, b.buf) < 0)
		h5_fail(err, "%s: write failed", what);
	else
		rc = 0;
	if (aid >= 0)
		H5Aclose(aid);
	H5Oclose(oid);
	h5_wbuf_free(&b);
	return rc;
}

/* data on disk before the rename, and the rename itself on disk, so that
** a power cut leaves either the old file or the complete new one */
static void h5_sync(const char *path, int dir)
{
	char *copy = NULL;
	int fd;
	if (dir) {
		copy = h5_strdup(path, NULL);
		if (copy == NULL)
			return;
		path = dirname(copy);
	}
	fd = open(path, O_RDONLY | (dir ? O_DIRECTORY : 0));
	if (fd >= 0) {
		if (fsync(fd) != 0) { /* best effort */ }
		close(fd);
	}
	free(copy);
}

/* Into place: rename when replacing is allowed, else link(), which fails
** if the target appeared meanwhile instead of replacing it. */
static int h5_place(h5_writer *w, char *err)
{
	if (h5_reg_busy(w->path))
		return err_set(err, "%s: is open for reading; close it before"
			       " overwriting it", w->path);
	if (w->overwrite) {
		if (rename(w->tmp, w->path) != 0)
			return err_set(err, "%s: cannot rename %s into place: %s",
				       w->path, w->tmp, strerror(errno));
		return 0;
	}
	if (link(w->tmp, w->path) != 0)
		return err_set(err, "%s: cannot put the result in place: %s",
			       w->path, strerror(errno));
	unlink(w->tmp);
	return 0;
}

int h5_commit(h5_writer *w, char *err)
{
	int rc = 0;
	if (h5_writer_check(w, err) != 0)
		return -1;
	if (H5Fclose(w->fid) < 0)
		rc = h5_fail(err, "%s: cannot close %s", w->path, w->tmp);
	w->fid = -1;
	if (rc == 0) {
		h5_sync(w->tmp, 0);
		rc = h5_place(w, err);
		if (rc == 0) {
			h5_sync(w->path, 1);
			os_output_add(w->path);
		}
	}
	if (rc != 0)
		unlink(w->tmp);
	h5_writer_free(w);
	return rc;
}

void h5_abort(h5_writer *w)
{
	if (w == NULL)
		return;
	if (w->fid >= 0)
		H5Fclose(w->fid);
	H5Eclear2(H5E_DEFAULT);
	unlink(w->tmp);
	h5_writer_free(w);
}
