"""A raw XPCS file in the APS 8-ID-I layout for the Python tests: frames
at /entry/data/data and the geometry xpcs-correlate reads (10 keV, 4 m,
75 um pixels, the given beam centre in 0-based pixels and frame time)."""
import h5py


def write_raw(path, data, frame_time, center):
    with h5py.File(path, "w") as f:
        f["/entry/data/data"] = data
        f["/entry/instrument/incident_beam/incident_energy"] = 10.0
        det = "/entry/instrument/detector_1/"
        f[det + "distance"] = 4.0
        f[det + "x_pixel_size"] = 75e-6
        f[det + "y_pixel_size"] = 75e-6
        f[det + "beam_center_x"] = center[0]
        f[det + "beam_center_y"] = center[1]
        f[det + "frame_time"] = frame_time
