/*
** corr16k.h - the body of corr16's integer kernel, included by corr16.c
** once per instruction set (see corr16.c for the scheme).
**
** The includer defines, for its vectors of C16_W uint16 lanes (C16_W / 2
** pixels, two frames each, per column):
**   C16_T            the target attribute of every function here
**   C16_FN(name)     the function's name for this instruction set
**   C16_V            the vector type
**   C16_LD(p), C16_LDU(p), C16_ST(p, v)   aligned / unaligned load, store
**   C16_ZERO, C16_ONE                      all 0, all 1 (16-bit lanes)
**   C16_DP(a, x, y)  a + the 32-bit sums of adjacent 16-bit products
**   C16_SUM2(x)      the 32-bit sums of adjacent 16-bit lanes
**   C16_ODD(a, b)    a with its odd 16-bit lanes taken from b
**   C16_SWAP(x)      the two 16-bit halves of every 32-bit lane swapped
**   C16_MAX(a, b)    unsigned 16-bit maximum
**   C16_HMAX(v)      the largest of the unsigned 16-bit lanes
**   C16_HSUM(v)      the sum of the 32-bit lanes
**   C16_PAIR(a, b, dst)   rows a and b (C16_W pixels each) interleaved
**                    pixel by pixel into dst (2 C16_W lanes, aligned)
**   C16_PUT(row, v, add)  the C16_W / 2 unsigned 32-bit lanes of v as
**                    doubles stored into (or added to) row[0 ..]
**   C16_JOIN(a, b)   32-bit lanes a | b << 16 (a, b below 2^16): a pixel's
**                    two frames as a pair row holds them
**   C16_HALF(a, b, h)  the frame h (0, 1) of C16_W pixels, from the two
**                    pair-row vectors a (the first C16_PX) and b
*/

#define C16_PX (C16_W / 2)	/* pixels per column */

static C16_T void C16_FN(pair_row)(const uint16_t *a, const uint16_t *b,
				   uint16_t *dst, size_t P)
{
	for (size_t p = 0; p < P; p += C16_W)
		C16_PAIR(C16_LD(a + p), C16_LD(b + p), dst + 2 * p);
}

/* the largest of n values (n a multiple of C16_W, aligned) */
static C16_T unsigned C16_FN(umax)(const uint16_t *u, size_t n)
{
	C16_V mx = C16_ZERO;
	for (size_t i = 0; i < n; i += C16_W)
		mx = C16_MAX(mx, C16_LD(u + i));
	return C16_HMAX(mx);
}

/* the n new frames into U rows K.. (zero-padded), their sums; returns the
** largest count. Frames lie a frame apart, so they are prefetched a few
** ahead (the hardware prefetcher does not follow). A contiguous tile of
** uint16 counts goes straight from the frame by whole vectors; the rest,
** and other dtypes, through corr16_gather. */
static C16_T unsigned C16_FN(frames)(const corr16_job *j, uint16_t *U,
				     size_t n)
{
	size_t P = j->P, nv = j->nv, es = (size_t)j->esize;
	size_t nw = j->contig && es == 2 ? nv / C16_W * C16_W : 0;
	unsigned top = 0;
	C16_V mx = C16_ZERO;
	for (size_t r = 0; r < n; r++) {
		uint16_t *u = U + (CORR16_K + r) * P;
		const uint16_t *g = nw ? (const uint16_t *)j->src[r] +
				     j->pix[0] : NULL;
		C16_V sum = C16_ZERO;
		size_t p = 0;
		if (r + CORR16_PF < n && j->contig)
			corr16_prefetch((const char *)j->src[r + CORR16_PF] +
					es * j->pix[0], es * nv);
		for (; p < nw; p += C16_W) {
			C16_V v = C16_LDU(g + p);
			C16_ST(u + p, v);
			mx = C16_MAX(mx, v);
			sum = C16_DP(sum, v, C16_ONE);
		}
		if (p < P) {	/* the rest, zero-padded */
			unsigned t = corr16_gather(j, j->src[r], p, u);
			top = t > top ? t : top;
		}
		for (; p < P; p += C16_W) {
			C16_V v = C16_LD(u + p);
			mx = C16_MAX(mx, v);
			sum = C16_DP(sum, v, C16_ONE);
		}
		j->rowsum[r] = (double)C16_HSUM(sum);
	}
	return C16_HMAX(mx) > top ? C16_HMAX(mx) : top;
}

/* A tile whose pixels fill it and lie contiguously in the frames (most of
** them) goes from the frames straight into pair rows: the new frames'
** rows of U are written only for the last K (the next batch's history),
** and E is not built from U afterwards. The rest as frames() above. */
static C16_T unsigned C16_FN(frame_pairs)(const corr16_job *j, uint16_t *U,
				     uint16_t *E)
{
	size_t P = j->P, K = CORR16_K;
	C16_V mx = C16_ZERO;
	for (size_t r = 0; r < j->n; r += 2) {
		const uint16_t *ga = (const uint16_t *)j->src[r] + j->pix[0];
		const uint16_t *gb = (const uint16_t *)j->src[r + 1] + j->pix[0];
		uint16_t *ua = U + (K + r) * P, *ub = ua + P;
		uint16_t *e = E + (K + r) / 2 * 2 * P;
		C16_V sa = C16_ZERO, sb = C16_ZERO;
		int keep = r + K >= j->n;
		for (size_t f = r + CORR16_PF; f < r + CORR16_PF + 2 && f < j->n;
		     f++)
			corr16_prefetch((const uint16_t *)j->src[f] + j->pix[0],
					2 * P);
		for (size_t p = 0; p < P; p += C16_W) {
			C16_V va = C16_LDU(ga + p), vb = C16_LDU(gb + p);
			if (keep) {
				C16_ST(ua + p, va);
				C16_ST(ub + p, vb);
			}
			mx = C16_MAX(mx, C16_MAX(va, vb));
			sa = C16_DP(sa, va, C16_ONE);
			sb = C16_DP(sb, vb, C16_ONE);
			C16_PAIR(va, vb, e + 2 * p);
		}
		j->rowsum[r] = (double)C16_HSUM(sa);
		j->rowsum[r + 1] = (double)C16_HSUM(sb);
	}
	return C16_HMAX(mx);
}

/* frame h of the P pixels of pair row e into dst */
static C16_T void C16_FN(unpair)(const uint16_t *e, int h, uint16_t *dst,
				 size_t P)
{
	for (size_t p = 0; p < P; p += C16_W)
		C16_ST(dst + p, C16_HALF(C16_LD(e + 2 * p),
					 C16_LD(e + 2 * p + C16_W), h));
}

/* Odd lags pair u[2q], u[2q+1] with u[2q-2m+1], u[2q-2m+2], which straddle
** two rows of E: the halves of E[q-m+1] and E[q-m] blended give them in
** swapped order, (u[2q-2m+2], u[2q-2m+1]) per pixel, and x with its halves
** swapped (xs) multiplies them right, with no rows of odd pairs to build.
** One column (C16_PX pixels) down all new pairs, the lags' sums in
** registers: NL = 8 for lags 1..8 (level 0), 4 for lags 5..8; UP: the
** next level's frames into its pair rows (frame r, r + 1 of r even in row
** K / 2 + r / 2, joined in registers), else as doubles. The sums go to the
** double rows every `chunk` pairs, before 32 bits could overflow.
** Returns the largest value written to the pair rows (UP). */
static inline __attribute__((always_inline)) C16_T C16_V
C16_FN(column)(const corr16_job *j, const uint16_t *E, size_t c, int NL,
	       int UP, size_t chunk)
{
	size_t P = j->P, w = 2 * P, end = 4 + j->n / 2;
	const uint16_t *e = E + c * C16_W;
	uint16_t *up = UP ? j->up + CORR16_K / 2 * w + c * C16_W : NULL;
	double *G = j->G + C16_PX * c, *G5 = G + (size_t)(NL - 4) * P;
	C16_V s = C16_ZERO, mx = C16_ZERO, even = C16_ZERO;
	int odd = (int)(j->M & 1);
	for (size_t q0 = 4; q0 < end; q0 += chunk) {
		size_t q1 = end - q0 > chunk ? q0 + chunk : end;
		C16_V a1 = C16_ZERO, a2 = C16_ZERO, a3 = C16_ZERO;
		C16_V a4 = C16_ZERO, a5 = C16_ZERO, a6 = C16_ZERO;
		C16_V a7 = C16_ZERO, a8 = C16_ZERO;
		/* the four rows before x stay in registers */
		C16_V e1 = C16_LD(e + (q0 - 1) * w), e2 = C16_LD(e + (q0 - 2) * w);
		C16_V e3 = C16_LD(e + (q0 - 3) * w), e4 = C16_LD(e + (q0 - 4) * w);
		_Pragma("GCC unroll 4")
		for (size_t q = q0; q < q1; q++) {
			C16_V x = C16_LD(e + q * w), xs = C16_SWAP(x), x1;
			if (NL == 8) {
				a1 = C16_DP(a1, xs, C16_ODD(x, e1));
				a2 = C16_DP(a2, x, e1);
				a3 = C16_DP(a3, xs, C16_ODD(e1, e2));
				a4 = C16_DP(a4, x, e2);
			}
			a5 = C16_DP(a5, xs, C16_ODD(e2, e3));
			a6 = C16_DP(a6, x, e3);
			a7 = C16_DP(a7, xs, C16_ODD(e3, e4));
			a8 = C16_DP(a8, x, e4);
			s = C16_DP(s, x, C16_ONE);
			/* the next level's frames: pairs aligned with its
			** frames, i.e. frames 2q - 1, 2q of the rows for odd M */
			x1 = C16_SUM2(odd ? C16_ODD(x, e1) : x);
			if (!UP) {
				C16_PUT(j->nx + (q - 4) * P + C16_PX * c, x1, 0);
			} else if ((q - 4) & 1) {
				C16_V pr = C16_JOIN(even, x1);
				C16_ST(up + (q - 5) / 2 * w, pr);
				mx = C16_MAX(mx, pr);
			} else {
				even = x1;
			}
			e4 = e3;
			e3 = e2;
			e2 = e1;
			e1 = x;
		}
		if (NL == 8) {
			C16_PUT(G + 0 * P, a1, 1);
			C16_PUT(G + 1 * P, a2, 1);
			C16_PUT(G + 2 * P, a3, 1);
			C16_PUT(G + 3 * P, a4, 1);
		}
		C16_PUT(G5 + 0 * P, a5, 1);
		C16_PUT(G5 + 1 * P, a6, 1);
		C16_PUT(G5 + 2 * P, a7, 1);
		C16_PUT(G5 + 3 * P, a8, 1);
	}
	if (UP && (end - 4) % 2) {	/* the last frame, alone in its row */
		C16_ST(up + (end - 5) / 2 * w, even);
		mx = C16_MAX(mx, even);
	}
	C16_PUT(j->S + C16_PX * c, s, 1);
	return mx;
}

/* the columns, with the kernel's constants folded in; the largest value
** written to the next level's pair rows */
#define C16_COLUMNS(NAME, NL, UP)					\
	static C16_T unsigned C16_FN(NAME)(const corr16_job *j,	\
					   const uint16_t *E, size_t chunk) \
	{								\
		C16_V mx = C16_ZERO;					\
		for (size_t c = 0; c < j->P / C16_PX; c++)		\
			mx = C16_MAX(mx, C16_FN(column)(j, E, c, NL, UP, \
							chunk));	\
		return C16_HMAX(mx);					\
	}
C16_COLUMNS(columns8, 8, 0)
C16_COLUMNS(columns8u, 8, 1)
C16_COLUMNS(columns4, 4, 0)
C16_COLUMNS(columns4u, 4, 1)

/* Level 0: the history and the frames into U (or the frames straight
** into pair rows), then E built from U. Returns the largest value, or
** CORR16_MAX when one is too large. */
static C16_T unsigned C16_FN(level0)(const corr16_job *j, size_t n,
				     uint16_t *U, uint16_t *E)
{
	size_t P = j->P, K = CORR16_K, ne = (K + j->n) / 2;
	/* (every new row in U while the first K frames of the level are
	** read: the caller takes its head sums from them) */
	int direct = j->contig && j->nv == P && j->esize == 2 &&
		     j->M >= K && n == j->n;
	size_t built = direct ? K / 2 : ne;	/* E rows still to build */
	unsigned top, fr;
	if (corr16_history(j, U))
		return CORR16_MAX;
	if (n < j->n)	/* the zero frame that makes the pairs whole */
		memset(U + (K + n) * P, 0, P * sizeof *U);
	top = C16_FN(umax)(U, K * P);
	fr = direct ? C16_FN(frame_pairs)(j, U, E) : C16_FN(frames)(j, U, n);
	top = fr > top ? fr : top;
	if (top >= CORR16_MAX)	/* (the double kernel takes the batch) */
		return top;
	for (size_t q = 0; q < built; q++)
		C16_FN(pair_row)(U + 2 * q * P, U + (2 * q + 1) * P,
				 E + q * 2 * P, P);
	return top;
}

/* A level above: its new frames are already in E (the level below wrote
** them there, with their largest value, intop); the history's pair rows
** are made from hist (or from the ring, through U). Returns as level0. */
static C16_T unsigned C16_FN(above)(const corr16_job *j, size_t n,
				    uint16_t *U, uint16_t *E)
{
	size_t P = j->P, K = CORR16_K;
	const uint16_t *h = j->hist;
	unsigned top;
	if (!*j->hist_ok) {
		if (corr16_history(j, U))
			return CORR16_MAX;
		h = U;
	}
	top = C16_FN(umax)(h, K * P);
	top = j->intop > top ? j->intop : top;
	for (size_t q = 0; q < K / 2; q++)
		C16_FN(pair_row)(h + 2 * q * P, h + (2 * q + 1) * P,
				 E + q * 2 * P, P);
	if (n < j->n) {	/* the zero frame: the high half of the last row */
		uint16_t *e = E + (K + n) / 2 * 2 * P;
		for (size_t p = 0; p < P; p++)
			e[2 * p + 1] = 0;
	}
	return top;
}

/* (n: the frames the caller gave; j->n is one more when corr16_level
** added a zero frame to make it even) */
static C16_T int C16_FN(run)(const corr16_job *j, size_t n)
{
	size_t P = j->P, K = CORR16_K, up;
	uint16_t *E = j->work, *U = corr16_u(j->work, P, n);
	unsigned top = j->level == 0 ? C16_FN(level0)(j, n, U, E) :
		       C16_FN(above)(j, n, U, E);
	if (top >= CORR16_MAX)
		return 1;
	if (j->level == 0)
		up = (j->up ? C16_FN(columns8u) : C16_FN(columns8))(j, E,
							corr16_chunk(top));
	else
		up = (j->up ? C16_FN(columns4u) : C16_FN(columns4))(j, E,
							corr16_chunk(top));
	if (j->up_top)
		*j->up_top = up;
	/* the history: frames n .. n + K - 1 of the rows */
	if (j->level == 0)
		memcpy(j->hist, U + n * P, K * P * sizeof *U);
	else
		for (size_t i = 0; i < K; i++)
			C16_FN(unpair)(E + (n + i) / 2 * 2 * P, (int)((n + i) & 1),
				       j->hist + i * P, P);
	*j->hist_ok = 1;
	return 0;
}

#undef C16_PX
#undef C16_NEXT_ROW
#undef C16_COLUMNS
