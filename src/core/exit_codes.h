// Process exit codes of the tradelake binary. Scripts can branch on them;
// `tradelake --help` lists them. Loosely follows BSD sysexits.h.
#pragma once

namespace tradelake {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;       // anything not listed below
inline constexpr int kExitUsage = 2;         // bad flags, unknown product, invalid input
inline constexpr int kExitDataError = 65;    // malformed data that could not be used (EX_DATAERR)
inline constexpr int kExitUnavailable = 69;  // exchange or store unreachable after retries (EX_UNAVAILABLE)
inline constexpr int kExitIOError = 74;      // local disk error (EX_IOERR)
inline constexpr int kExitAccessDenied = 77; // a role policy denied the operation (EX_NOPERM)
inline constexpr int kExitInterrupted = 130; // SIGINT/SIGTERM: stopped cleanly, resumable

}  // namespace tradelake
