"""HDF5 storage shared by every neuroemu file: atomic writes, checked headers, one serializer."""
from neuroemu.hdf5 import serialize
from neuroemu.hdf5.atomic import atomic_path
from neuroemu.hdf5.files import SCHEMAS, create, file_kind, open_checked

__all__ = ["serialize", "atomic_path", "SCHEMAS", "create", "file_kind", "open_checked"]
