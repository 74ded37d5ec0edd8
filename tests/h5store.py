"""Where an HDF5 dataset's values lie in its file, for the tests that
damage files on purpose (tests/h5/test_corrupt.py,
tests/md/test_damaged_h5md.py): a flip there may change a value without
anything able to tell, a flip elsewhere must be caught.

    h5store.storage_ranges(ds): the (start, end) byte ranges of an h5py
    dataset's stored values: its contiguous data, and each chunk.
"""


def storage_ranges(ds):
    out = []
    off = ds.id.get_offset()
    if off is not None:
        out.append((off, off + ds.id.get_storage_size()))
    if ds.chunks:
        for i in range(ds.id.get_num_chunks()):
            c = ds.id.get_chunk_info(i)
            out.append((c.byte_offset, c.byte_offset + c.size))
    return out
