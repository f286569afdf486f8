//! MPICH's ABI (Debian's libmpich-dev 4.0 `mpi.h`): handle types, handle values of
//! the predefined objects, constants and `MPI_Status`. `include/mpi.h` carries the
//! same values for programs built against the shim; `scripts/mpi-abi-check.sh`
//! compares both headers.

use std::ffi::c_int;

pub type MPI_Comm = c_int;
pub type MPI_Group = c_int;
pub type MPI_Datatype = c_int;
pub type MPI_Op = c_int;
pub type MPI_Request = c_int;
pub type MPI_Errhandler = c_int;
pub type MPI_Info = c_int;
pub type MPI_Message = c_int;
pub type MPI_Aint = isize;
pub type MPI_Count = i64;

/// MPICH's status: the count in bytes is split over two ints (the high one also
/// carries the cancelled bit), then the three public fields.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct MPI_Status {
    pub count_lo: c_int,
    pub count_hi_and_cancelled: c_int,
    pub MPI_SOURCE: c_int,
    pub MPI_TAG: c_int,
    pub MPI_ERROR: c_int,
}

impl MPI_Status {
    pub fn bytes(&self) -> u64 {
        (self.count_lo as u32 as u64) | (((self.count_hi_and_cancelled as u32 >> 1) as u64) << 32)
    }
    pub fn set_bytes(&mut self, n: u64) {
        self.count_lo = n as u32 as c_int;
        self.count_hi_and_cancelled =
            (self.count_hi_and_cancelled & 1) | (((n >> 32) as u32) << 1) as c_int;
    }
    pub fn cancelled(&self) -> bool {
        self.count_hi_and_cancelled & 1 != 0
    }
    pub fn set_cancelled(&mut self, c: bool) {
        self.count_hi_and_cancelled = (self.count_hi_and_cancelled & !1) | c as c_int;
    }
}

pub const MPI_SUCCESS: c_int = 0;
pub const MPI_ERR_BUFFER: c_int = 1;
pub const MPI_ERR_COUNT: c_int = 2;
pub const MPI_ERR_TYPE: c_int = 3;
pub const MPI_ERR_TAG: c_int = 4;
pub const MPI_ERR_COMM: c_int = 5;
pub const MPI_ERR_RANK: c_int = 6;
pub const MPI_ERR_ROOT: c_int = 7;
pub const MPI_ERR_GROUP: c_int = 8;
pub const MPI_ERR_OP: c_int = 9;
pub const MPI_ERR_TOPOLOGY: c_int = 10;
pub const MPI_ERR_DIMS: c_int = 11;
pub const MPI_ERR_ARG: c_int = 12;
pub const MPI_ERR_UNKNOWN: c_int = 13;
pub const MPI_ERR_TRUNCATE: c_int = 14;
pub const MPI_ERR_OTHER: c_int = 15;
pub const MPI_ERR_INTERN: c_int = 16;
pub const MPI_ERR_IN_STATUS: c_int = 17;
pub const MPI_ERR_PENDING: c_int = 18;
pub const MPI_ERR_REQUEST: c_int = 19;
pub const MPI_ERR_KEYVAL: c_int = 48;
pub const MPI_ERR_NO_MEM: c_int = 34;
pub const MPI_ERR_UNSUPPORTED_OPERATION: c_int = 44;
pub const MPI_ERR_PROC_ABORTED: c_int = 76;
pub const MPIX_ERR_PROC_FAILED: c_int = 101;
/// Last predefined error class (MPICH_ERR_LAST_MPIX).
pub const MPI_ERR_LASTCLASS: c_int = 105;

pub const MPI_COMM_NULL: MPI_Comm = 0x04000000;
pub const MPI_COMM_WORLD: MPI_Comm = 0x44000000;
pub const MPI_COMM_SELF: MPI_Comm = 0x44000001;
pub const MPI_GROUP_NULL: MPI_Group = 0x08000000;
pub const MPI_GROUP_EMPTY: MPI_Group = 0x48000000;
pub const MPI_DATATYPE_NULL: MPI_Datatype = 0x0c000000;
pub const MPI_OP_NULL: MPI_Op = 0x18000000;
pub const MPI_REQUEST_NULL: MPI_Request = 0x2c000000;
pub const MPI_ERRHANDLER_NULL: MPI_Errhandler = 0x14000000;
pub const MPI_ERRORS_ARE_FATAL: MPI_Errhandler = 0x54000000;
pub const MPI_ERRORS_RETURN: MPI_Errhandler = 0x54000001;
pub const MPI_ERRORS_ABORT: MPI_Errhandler = 0x54000003;
pub const MPI_INFO_NULL: MPI_Info = 0x1c000000;

pub const MPI_IDENT: c_int = 0;
pub const MPI_CONGRUENT: c_int = 1;
pub const MPI_SIMILAR: c_int = 2;
pub const MPI_UNEQUAL: c_int = 3;

pub const MPI_UNDEFINED: c_int = -32766;
pub const MPI_PROC_NULL: c_int = -1;
pub const MPI_ANY_SOURCE: c_int = -2;
pub const MPI_ROOT: c_int = -3;
pub const MPI_ANY_TAG: c_int = -1;
pub const MPI_BSEND_OVERHEAD: c_int = 96;
pub const MPI_MAX_PROCESSOR_NAME: usize = 128;
pub const MPI_MAX_ERROR_STRING: usize = 512;
pub const MPI_MAX_OBJECT_NAME: usize = 128;
pub const MPI_MAX_LIBRARY_VERSION_STRING: usize = 8192;

pub const MPI_THREAD_SINGLE: c_int = 0;
pub const MPI_THREAD_FUNNELED: c_int = 1;
pub const MPI_THREAD_SERIALIZED: c_int = 2;
pub const MPI_THREAD_MULTIPLE: c_int = 3;

pub const MPI_VERSION: c_int = 4;
pub const MPI_SUBVERSION: c_int = 0;

pub const MPI_TAG_UB: c_int = 0x64400001;
pub const MPI_HOST: c_int = 0x64400003;
pub const MPI_IO: c_int = 0x64400005;
pub const MPI_WTIME_IS_GLOBAL: c_int = 0x64400007;
pub const MPI_UNIVERSE_SIZE: c_int = 0x64400009;
pub const MPI_APPNUM: c_int = 0x6440000d;

pub const MPI_MAX: MPI_Op = 0x58000001;
pub const MPI_MIN: MPI_Op = 0x58000002;
pub const MPI_SUM: MPI_Op = 0x58000003;
pub const MPI_PROD: MPI_Op = 0x58000004;
pub const MPI_LAND: MPI_Op = 0x58000005;
pub const MPI_BAND: MPI_Op = 0x58000006;
pub const MPI_LOR: MPI_Op = 0x58000007;
pub const MPI_BOR: MPI_Op = 0x58000008;
pub const MPI_LXOR: MPI_Op = 0x58000009;
pub const MPI_BXOR: MPI_Op = 0x5800000a;
pub const MPI_MINLOC: MPI_Op = 0x5800000b;
pub const MPI_MAXLOC: MPI_Op = 0x5800000c;
pub const MPI_REPLACE: MPI_Op = 0x5800000d;
pub const MPI_NO_OP: MPI_Op = 0x5800000e;

/// Sentinel buffer addresses.
pub const MPI_IN_PLACE: usize = usize::MAX; // (void *) -1
pub const MPI_STATUS_IGNORE: usize = 1;

// Predefined datatypes (C, C99, C++, and the Fortran ones a C program may name).
pub const MPI_CHAR: MPI_Datatype = 0x4c000101;
pub const MPI_SIGNED_CHAR: MPI_Datatype = 0x4c000118;
pub const MPI_UNSIGNED_CHAR: MPI_Datatype = 0x4c000102;
pub const MPI_BYTE: MPI_Datatype = 0x4c00010d;
pub const MPI_WCHAR: MPI_Datatype = 0x4c00040e;
pub const MPI_SHORT: MPI_Datatype = 0x4c000203;
pub const MPI_UNSIGNED_SHORT: MPI_Datatype = 0x4c000204;
pub const MPI_INT: MPI_Datatype = 0x4c000405;
pub const MPI_UNSIGNED: MPI_Datatype = 0x4c000406;
pub const MPI_LONG: MPI_Datatype = 0x4c000807;
pub const MPI_UNSIGNED_LONG: MPI_Datatype = 0x4c000808;
pub const MPI_FLOAT: MPI_Datatype = 0x4c00040a;
pub const MPI_DOUBLE: MPI_Datatype = 0x4c00080b;
pub const MPI_LONG_DOUBLE: MPI_Datatype = 0x4c00100c;
pub const MPI_LONG_LONG_INT: MPI_Datatype = 0x4c000809;
pub const MPI_UNSIGNED_LONG_LONG: MPI_Datatype = 0x4c000819;
pub const MPI_PACKED: MPI_Datatype = 0x4c00010f;
pub const MPI_LB: MPI_Datatype = 0x4c000010;
pub const MPI_UB: MPI_Datatype = 0x4c000011;
pub const MPI_FLOAT_INT: MPI_Datatype = 0x8c000000u32 as i32;
pub const MPI_DOUBLE_INT: MPI_Datatype = 0x8c000001u32 as i32;
pub const MPI_LONG_INT: MPI_Datatype = 0x8c000002u32 as i32;
pub const MPI_SHORT_INT: MPI_Datatype = 0x8c000003u32 as i32;
pub const MPI_2INT: MPI_Datatype = 0x4c000816;
pub const MPI_LONG_DOUBLE_INT: MPI_Datatype = 0x8c000004u32 as i32;
pub const MPI_COMPLEX: MPI_Datatype = 0x4c00081e;
pub const MPI_DOUBLE_COMPLEX: MPI_Datatype = 0x4c001022;
pub const MPI_LOGICAL: MPI_Datatype = 0x4c00041d;
pub const MPI_REAL: MPI_Datatype = 0x4c00041c;
pub const MPI_DOUBLE_PRECISION: MPI_Datatype = 0x4c00081f;
pub const MPI_INTEGER: MPI_Datatype = 0x4c00041b;
pub const MPI_2INTEGER: MPI_Datatype = 0x4c000820;
pub const MPI_2REAL: MPI_Datatype = 0x4c000821;
pub const MPI_2DOUBLE_PRECISION: MPI_Datatype = 0x4c001023;
pub const MPI_CHARACTER: MPI_Datatype = 0x4c00011a;
pub const MPI_REAL4: MPI_Datatype = 0x4c000427;
pub const MPI_REAL8: MPI_Datatype = 0x4c000829;
pub const MPI_REAL16: MPI_Datatype = 0x4c00102b;
pub const MPI_COMPLEX8: MPI_Datatype = 0x4c000828;
pub const MPI_COMPLEX16: MPI_Datatype = 0x4c00102a;
pub const MPI_COMPLEX32: MPI_Datatype = 0x4c00202c;
pub const MPI_INTEGER1: MPI_Datatype = 0x4c00012d;
pub const MPI_INTEGER2: MPI_Datatype = 0x4c00022f;
pub const MPI_INTEGER4: MPI_Datatype = 0x4c000430;
pub const MPI_INTEGER8: MPI_Datatype = 0x4c000831;
pub const MPI_INT8_T: MPI_Datatype = 0x4c000137;
pub const MPI_INT16_T: MPI_Datatype = 0x4c000238;
pub const MPI_INT32_T: MPI_Datatype = 0x4c000439;
pub const MPI_INT64_T: MPI_Datatype = 0x4c00083a;
pub const MPI_UINT8_T: MPI_Datatype = 0x4c00013b;
pub const MPI_UINT16_T: MPI_Datatype = 0x4c00023c;
pub const MPI_UINT32_T: MPI_Datatype = 0x4c00043d;
pub const MPI_UINT64_T: MPI_Datatype = 0x4c00083e;
pub const MPI_C_BOOL: MPI_Datatype = 0x4c00013f;
pub const MPI_C_FLOAT_COMPLEX: MPI_Datatype = 0x4c000840;
pub const MPI_C_DOUBLE_COMPLEX: MPI_Datatype = 0x4c001041;
pub const MPI_C_LONG_DOUBLE_COMPLEX: MPI_Datatype = 0x4c002042;
pub const MPIX_C_FLOAT16: MPI_Datatype = 0x4c000246;
pub const MPI_AINT: MPI_Datatype = 0x4c000843;
pub const MPI_OFFSET: MPI_Datatype = 0x4c000844;
pub const MPI_COUNT: MPI_Datatype = 0x4c000845;
pub const MPI_CXX_BOOL: MPI_Datatype = 0x4c000133;
pub const MPI_CXX_FLOAT_COMPLEX: MPI_Datatype = 0x4c000834;
pub const MPI_CXX_DOUBLE_COMPLEX: MPI_Datatype = 0x4c001035;
pub const MPI_CXX_LONG_DOUBLE_COMPLEX: MPI_Datatype = 0x4c002036;
