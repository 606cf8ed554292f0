// The part of MPI that RecurrentDistributed uses, as plain C functions over plain C types.
//
// Why a shim and not <mpi.h> itself:
// - MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, MPI_IN_PLACE, MPI_ERRORS_RETURN are macros over
//   casts of addresses of global objects in Open MPI (and integer constants in MPICH), which
//   Swift cannot import. These functions take integers and hand back integers instead;
//   communicators cross into Swift as their Fortran handles (MPI_Comm_c2f/MPI_Comm_f2c,
//   plain ints in every MPI implementation).
// - A machine without MPI must still build the package (SwiftPM builds every target of a
//   root package on `swift build` and `swift test`). The include path and `-lmpi` come
//   from pkg-config (`ompi-c`) only when it is found, so this header checks for <mpi.h>
//   with __has_include: without it, every function here returns CMPI_ERR_UNAVAILABLE and
//   nothing refers to an MPI symbol, so nothing needs libmpi at link time either.
//   RecurrentDistributed turns that code into a thrown error that says to install
//   Open MPI and rebuild. (This is why the module map has no `link "mpi"`.)
#ifndef RECURRENT_CMPI_SHIM_H
#define RECURRENT_CMPI_SHIM_H

#include <stddef.h>
#include <string.h>

/// Returned by every function when the package was built without <mpi.h>.
#define CMPI_ERR_UNAVAILABLE (-1)

/// The element types of the collectives.
enum cmpi_datatype { CMPI_TYPE_FLOAT = 0, CMPI_TYPE_DOUBLE = 1, CMPI_TYPE_INT64 = 2, CMPI_TYPE_BYTE = 3 };
/// The reduction operations.
enum cmpi_operation { CMPI_OP_SUM = 0, CMPI_OP_MAX = 1, CMPI_OP_MIN = 2 };

#if __has_include(<mpi.h>)
#include <mpi.h>

/// 1: built with MPI.
static inline int cmpi_available(void) { return 1; }

static inline MPI_Datatype cmpi_type(int type) {
    switch (type) {
    case CMPI_TYPE_FLOAT: return MPI_FLOAT;
    case CMPI_TYPE_DOUBLE: return MPI_DOUBLE;
    case CMPI_TYPE_INT64: return MPI_INT64_T;
    default: return MPI_BYTE;
    }
}

static inline MPI_Op cmpi_op(int op) {
    switch (op) {
    case CMPI_OP_MAX: return MPI_MAX;
    case CMPI_OP_MIN: return MPI_MIN;
    default: return MPI_SUM;
    }
}

/// Whether MPI_Init has been called (`*flag` 1) and whether MPI_Finalize has.
static inline int cmpi_state(int *initialized, int *finalized) {
    int code = MPI_Initialized(initialized);
    if (code != MPI_SUCCESS) return code;
    return MPI_Finalized(finalized);
}

/// MPI_Init_thread asking for MPI_THREAD_SERIALIZED (calls from any thread, one at a
/// time); `*provided` gets the level granted. Errors on MPI_COMM_WORLD are then returned,
/// not fatal.
static inline int cmpi_init(int *provided) {
    int code = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, provided);
    if (code != MPI_SUCCESS) return code;
    return MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

/// MPI_Finalize.
static inline int cmpi_finalize(void) { return MPI_Finalize(); }

/// A duplicate of MPI_COMM_WORLD (so the library's messages never match a user's), with
/// errors returned; `*handle` gets its Fortran handle.
static inline int cmpi_dup_world(int *handle) {
    MPI_Comm comm;
    int code = MPI_Comm_dup(MPI_COMM_WORLD, &comm);
    if (code != MPI_SUCCESS) return code;
    code = MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    if (code != MPI_SUCCESS) return code;
    *handle = (int)MPI_Comm_c2f(comm);
    return MPI_SUCCESS;
}

/// Frees a communicator made by cmpi_dup_world.
static inline int cmpi_free(int handle) {
    MPI_Comm comm = MPI_Comm_f2c((MPI_Fint)handle);
    return MPI_Comm_free(&comm);
}

/// This process's rank and the number of processes.
static inline int cmpi_rank_size(int handle, int *rank, int *size) {
    MPI_Comm comm = MPI_Comm_f2c((MPI_Fint)handle);
    int code = MPI_Comm_rank(comm, rank);
    if (code != MPI_SUCCESS) return code;
    return MPI_Comm_size(comm, size);
}

/// The rank among the processes of this machine (shared memory) and their number.
static inline int cmpi_local_rank_size(int handle, int *rank, int *size) {
    MPI_Comm comm = MPI_Comm_f2c((MPI_Fint)handle);
    MPI_Comm local;
    int code = MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
    if (code != MPI_SUCCESS) return code;
    code = MPI_Comm_rank(local, rank);
    if (code == MPI_SUCCESS) code = MPI_Comm_size(local, size);
    int freed = MPI_Comm_free(&local);
    return code != MPI_SUCCESS ? code : freed;
}

/// MPI_Allreduce in place of `count` elements of `type` at `buffer`.
static inline int cmpi_allreduce(int handle, void *buffer, int count, int type, int op) {
    return MPI_Allreduce(MPI_IN_PLACE, buffer, count, cmpi_type(type), cmpi_op(op), MPI_Comm_f2c((MPI_Fint)handle));
}

/// MPI_Bcast of `count` elements of `type` at `buffer` from `root`.
static inline int cmpi_bcast(int handle, void *buffer, int count, int type, int root) {
    return MPI_Bcast(buffer, count, cmpi_type(type), root, MPI_Comm_f2c((MPI_Fint)handle));
}

/// MPI_Allgather: `count` elements of `type` from each rank, into `receive` in rank order.
static inline int cmpi_allgather(int handle, const void *send, void *receive, int count, int type) {
    return MPI_Allgather(send, count, cmpi_type(type), receive, count, cmpi_type(type),
                         MPI_Comm_f2c((MPI_Fint)handle));
}

/// MPI_Barrier.
static inline int cmpi_barrier(int handle) { return MPI_Barrier(MPI_Comm_f2c((MPI_Fint)handle)); }

/// MPI_Abort: ends every process of the job with `code`.
static inline int cmpi_abort(int handle, int code) { return MPI_Abort(MPI_Comm_f2c((MPI_Fint)handle), code); }

/// MPI's message for an error code, into `text` (at most `capacity` bytes, NUL-terminated).
static inline int cmpi_error_string(int code, char *text, int capacity) {
    char message[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (capacity <= 0) return MPI_ERR_ARG;
    int result = MPI_Error_string(code, message, &length);
    if (result != MPI_SUCCESS) length = 0;
    if (length >= capacity) length = capacity - 1;
    memcpy(text, message, (size_t)length);
    text[length] = 0;
    return result;
}

/// The MPI library's version string (Open MPI's name and version), into `text`.
static inline int cmpi_library_version(char *text, int capacity) {
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    if (capacity <= 0) return MPI_ERR_ARG;
    int result = MPI_Get_library_version(version, &length);
    if (result != MPI_SUCCESS) length = 0;
    if (length >= capacity) length = capacity - 1;
    memcpy(text, version, (size_t)length);
    text[length] = 0;
    return result;
}

#else  // no <mpi.h>: every call reports CMPI_ERR_UNAVAILABLE

static inline int cmpi_available(void) { return 0; }
static inline int cmpi_state(int *initialized, int *finalized) { *initialized = 0; *finalized = 0; return CMPI_ERR_UNAVAILABLE; }
static inline int cmpi_init(int *provided) { *provided = 0; return CMPI_ERR_UNAVAILABLE; }
static inline int cmpi_finalize(void) { return CMPI_ERR_UNAVAILABLE; }
static inline int cmpi_dup_world(int *handle) { *handle = 0; return CMPI_ERR_UNAVAILABLE; }
static inline int cmpi_free(int handle) { (void)handle; return CMPI_ERR_UNAVAILABLE; }
static inline int cmpi_rank_size(int handle, int *rank, int *size) { (void)handle; *rank = 0; *size = 0; return CMPI_ERR_UNAVAILABLE; }
static inline int cmpi_local_rank_size(int handle, int *rank, int *size) { (void)handle; *rank = 0; *size = 0; return CMPI_ERR_UNAVAILABLE; }
static inline int cmpi_allreduce(int handle, void *buffer, int count, int type, int op) { (void)handle; (void)buffer; (void)count; (void)type; (void)op; return CMPI_ERR_UNAVAILABLE; }
static inline int cmpi_bcast(int handle, void *buffer, int count, int type, int root) { (void)handle; (void)buffer; (void)count; (void)type; (void)root; return CMPI_ERR_UNAVAILABLE; }
static inline int cmpi_allgather(int handle, const void *send, void *receive, int count, int type) { (void)handle; (void)send; (void)receive; (void)count; (void)type; return CMPI_ERR_UNAVAILABLE; }
static inline int cmpi_barrier(int handle) { (void)handle; return CMPI_ERR_UNAVAILABLE; }
static inline int cmpi_abort(int handle, int code) { (void)handle; (void)code; return CMPI_ERR_UNAVAILABLE; }
static inline int cmpi_error_string(int code, char *text, int capacity) {
    (void)code;
    if (capacity > 0) text[0] = 0;
    return CMPI_ERR_UNAVAILABLE;
}
static inline int cmpi_library_version(char *text, int capacity) {
    if (capacity > 0) text[0] = 0;
    return CMPI_ERR_UNAVAILABLE;
}

#endif
#endif
