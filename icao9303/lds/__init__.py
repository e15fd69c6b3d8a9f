"""The logical data structure of ICAO 9303-10: every LDS file as a class with from_bytes/to_bytes.

Import the classes from here (``from icao9303.lds import DG1, SOD``) or from their modules.
"""
from icao9303.lds.base import FILES, LDSFileInfo, file_info
from icao9303.lds.com import EFCOM
from icao9303.lds.details import DG11, DG12
from icao9303.lds.dg1 import DG1
from icao9303.lds.dg2 import DG2, BiometricInformationTemplate, FaceImageInfo, FaceRecord
from icao9303.lds.dg13 import DG13, DG13Field
from icao9303.lds.dg15 import DG15
from icao9303.lds.files import detect_file, parse_lds_file
from icao9303.lds.security_infos import DG14, CardAccess, CardSecurity, SecurityInfos
from icao9303.lds.sod import SOD, LDSSecurityObject, build_lds_security_object, hash_data_groups

__all__ = [
    "DG1",
    "DG2",
    "DG11",
    "DG12",
    "DG13",
    "DG14",
    "DG15",
    "EFCOM",
    "FILES",
    "SOD",
    "BiometricInformationTemplate",
    "CardAccess",
    "CardSecurity",
    "DG13Field",
    "FaceImageInfo",
    "FaceRecord",
    "LDSFileInfo",
    "LDSSecurityObject",
    "SecurityInfos",
    "build_lds_security_object",
    "detect_file",
    "file_info",
    "hash_data_groups",
    "parse_lds_file",
]
