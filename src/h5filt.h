/*
** h5filt.h - HDF5 compression filters built into ionflow (plain C core).
**
** Facility files use filters that the HDF5 C library does not have:
** LZF (32000, how h5py and the APS correlator compress every large array),
** LZ4 (32004) and bitshuffle (32008, with LZ4: Eiger and Lambda frames).
** They are registered in-process with H5Zregister at the first use of
** HDF5, on Debian's liblzf and liblz4, so that no plugin path or preload
** is ever needed (Debian's own LZF plugin is not linked to liblzf).
** HDF5's own deflate and byte shuffle are decoded here too, on zlib, but
** only for h5.c's direct reads (HDF5 keeps its predefined filters).
**
** Decoders treat a chunk as hostile: a corrupt stream, a size field that
** lies or a block past the end of the chunk makes the read fail with a
** message (on HDF5's error stack when HDF5 calls them), never a write
** outside a buffer. LZF also
** encodes (h5py's cd_values: filter revision, LZF version, chunk bytes),
** so results written here open in h5py without any plugin.
*/
#ifndef ionflow_h5filt_h
#define ionflow_h5filt_h

#include <stddef.h>
#include <stdint.h>

#define H5FILT_LZF 32000
#define H5FILT_LZ4 32004
#define H5FILT_BSHUF 32008

/* register the filters above (once; later calls do nothing): 0 or -1 */
int h5filt_register(void);

/* Bytes every decoded chunk of the dataset about to be read must have
** (its chunk shape times its element size), 0 for "not known". Our
** decoders refuse any other size, so a chunk that lies about its length
** cannot hand HDF5 a short buffer. Set around each read by h5.c. */
void h5filt_expect(size_t chunk_bytes);

#define H5FILT_DEFLATE 1	/* HDF5's own gzip: a zlib stream */
#define H5FILT_SHUFFLE 2	/* HDF5's byte shuffle */
#define H5FILT_FLETCHER 3	/* HDF5's checksum of a stored chunk */
#define H5FILT_CD 16		/* most cd_values of a codec decoded here */

/* A dataset's filters as decoded here, without HDF5: one codec that
** h5filt_known names (LZF, LZ4, bitshuffle, or HDF5's own deflate, which
** HDF5 decodes itself in H5Dread), after HDF5's byte shuffle or not, and
** then HDF5's Fletcher-32 checksum or not: filters 0, 1, 2 of the
** pipeline in that order, as many as there are. */
typedef struct h5filt_pipe {
	int id;			/* the codec */
	size_t ncd;		/* its cd_values */
	unsigned cd[H5FILT_CD];
	size_t shuffle;		/* element bytes of the shuffle, 0: none */
	int fletcher;		/* the chunk ends in its checksum */
} h5filt_pipe;

/* Whether h5filt_decode knows codec id, and one stored chunk through p
** decoded into out, which takes exactly want bytes (the chunk's; any
** other decoded size is an error). mask is HDF5's filter mask of the
** chunk (bit i: the pipeline's filter i was skipped, as an optional
** filter does for a chunk it cannot shrink). 0, or -1 with why in err
** (ERR_LEN). No HDF5 call: threads may decode a block's chunks in
** parallel (h5.c's direct reads). */
int h5filt_known(int id);
int h5filt_decode(const h5filt_pipe *p, unsigned mask, const void *in,
		  size_t nbytes, void *out, size_t want, char *err);

/* A block's chunks decoded in parallel (OpenMP threads), each job as
** h5filt_decode. 0, or -1 with the first failing job in *bad and why in
** err. */
typedef struct h5filt_job {
	const void *in;
	size_t nbytes;
	void *out;
	size_t want;
	unsigned mask;		/* HDF5's filter mask of the chunk */
} h5filt_job;
int h5filt_decode_all(const h5filt_pipe *p, const h5filt_job *jobs,
		      size_t n, size_t *bad, char *err);

/* From now on h5filt_decode_all decodes on the calling thread alone: for
** a forked child, where OpenMP's threads are the parent's and a parallel
** region would wait for them forever. */
void h5filt_single(void);

/* HDF5's Fletcher-32 of n bytes (16-bit big-endian words, the last odd
** byte as the high half of one); the filter stores it after the chunk,
** little-endian (or, as HDF5 before 1.6.3 wrote it, its halves swapped) */
uint32_t h5filt_fletcher32(const void *data, size_t n);

/* HDF5's byte shuffle undone: n bytes of elements of es bytes (a partial
** element's bytes at the end stay as they are); in and out do not
** overlap */
void h5filt_unshuffle(const unsigned char *in, unsigned char *out,
		      size_t n, size_t es);

/* the Debian package whose HDF5 plugin provides a filter HDF5 lacks, NULL
** when none does */
const char *h5filt_package(int id);

/* bitshuffle's transform on its own (tests): n elements of esize bytes,
** n a multiple of 8; in and out do not overlap */
void h5filt_bitshuffle(const unsigned char *in, unsigned char *out,
		       size_t n, size_t esize);
void h5filt_bitunshuffle(const unsigned char *in, unsigned char *out,
			 size_t n, size_t esize);

#endif
