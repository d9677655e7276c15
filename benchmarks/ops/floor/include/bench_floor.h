// The floor for per-op overhead: the benchmark's loops written directly in C++ against ATen (no shim, no
// Swift), callable from the Swift benchmark so that both are timed in one process, interleaved.
#pragma once
#ifdef __cplusplus
extern "C" {
#endif
// Best-of-5 nanoseconds per call of the named op's loop, or a negative value for an unknown name.
double bench_floor_ns(const char *op, int iterations);
#ifdef __cplusplus
}
#endif
