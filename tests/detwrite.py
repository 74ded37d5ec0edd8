"""Raw detector files for the tests, written from the format notes
(shared/formats/detector-formats.md) with NumPy alone, independently of
ionflow's readers: Rigaku 500k / 3M sparse words and APS IMM (dense and
sparse). Frames are NumPy arrays (n x rows x cols) of counts."""
import struct

import numpy as np

RIGAKU_3M_ORDER = (5, 0, 4, 1, 3, 2)   # grid slot p shows .bin.00<order[p]>
RIGAKU_3M_GAP = (70, 52)


def rigaku_words(frames, flag=False):
    """one little-endian uint64 per non-zero pixel: frame << 40 |
    index << 16 | count, sorted by frame then pixel; bit 36 when flag"""
    n = frames.shape[0]
    flat = frames.reshape(n, -1)
    f, p = np.nonzero(flat)            # row-major: sorted by frame, pixel
    cnt = flat[f, p].astype(np.uint64)
    if np.any(cnt >= 4096):
        raise ValueError("a Rigaku count has 12 bits")
    idx = p.astype(np.uint64) | (np.uint64(1 << 20) if flag else np.uint64(0))
    return (f.astype(np.uint64) << np.uint64(40)) | (idx << np.uint64(16)) | cnt


def write_rigaku(path, frames, flag=False):
    rigaku_words(frames, flag).astype("<u8").tofile(path)


def assemble_3m(modules, gap=RIGAKU_3M_GAP, order=RIGAKU_3M_ORDER):
    """the full frames from six module stacks (indexed by file suffix)"""
    n, mr, mc = modules[0].shape
    out = np.zeros((n, 3 * mr + 2 * gap[0], 2 * mc + gap[1]), modules[0].dtype)
    for p in range(6):
        r0, c0 = (p // 2) * (mr + gap[0]), (p % 2) * (mc + gap[1])
        out[:, r0:r0 + mr, c0:c0 + mc] = modules[order[p]]
    return out


def write_rigaku_3m(base, modules, flags=(False,) * 6):
    """base + '.bin.000' .. '.bin.005', modules[k] the frames of file k;
    returns the name of the first file"""
    for k in range(6):
        write_rigaku("%s.bin.%03d" % (base, k), modules[k], flags[k])
    return base + ".bin.000"


def imm_header(rows, cols, sparse, dlen, number, elapsed):
    h = bytearray(1024)
    struct.pack_into("<ii", h, 0, 0, 6 if sparse else 0)
    h[8:40] = b"Sat Dec  5 18:00:00 2026".ljust(32, b"\0")
    struct.pack_into("<iii", h, 108, rows, cols, 2)
    struct.pack_into("<dd", h, 128, elapsed, 1e-3)
    struct.pack_into("<Iii", h, 152, dlen, 0, number)
    struct.pack_into("<i", h, 616, 12)
    h[1012:1024] = b"\xff" * 12
    return bytes(h)


def write_imm(path, frames, sparse):
    n, rows, cols = frames.shape
    with open(path, "wb") as f:
        for k in range(n):
            flat = frames[k].reshape(-1)
            if sparse:
                idx = np.nonzero(flat)[0]
                f.write(imm_header(rows, cols, True, len(idx), k + 1, k * 1e-3))
                f.write(idx.astype("<i4").tobytes())
                f.write(flat[idx].astype("<u2").tobytes())
            else:
                f.write(imm_header(rows, cols, False, rows * cols, k + 1,
                                   k * 1e-3))
                f.write(flat.astype("<u2").tobytes())
