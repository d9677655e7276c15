// PyTorch's distributed engine (c10d: a TCPStore rendezvous, ProcessGroupGloo for CPU tensors, ProcessGroupNCCL for
// CUDA tensors where built with it) as a C API over the shim's tensors.
// Errors: NULL or -1, with the message in the shim's thread-local error (pt_last_error).
#ifndef CDISTRIBUTED_H
#define CDISTRIBUTED_H
#include <stdint.h>

// The shim's tensor handle (ctorch.h's typedef, repeated: a C header of another module cannot be included here).
typedef struct pt_tensor_s *pt_tensor;

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pt_dist_group_s *pt_dist_group;
// Whether the shim was built with NCCL (against a CUDA libtorch and its NVIDIA headers).
int pt_dist_has_nccl(void);
// Joins the group (rank 0 hosts the store unless `store_is_external`, as under torchrun's agent); NULL on error.
// Gloo carries CPU tensors; `nccl_device` ≥ 0 adds NCCL for CUDA tensors on that device (an error when the
// shim has no NCCL), -1 leaves CUDA tensors to Gloo.
pt_dist_group pt_dist_init(const char *master_addr, int master_port, int rank, int world, int64_t timeout_ms,
                           int store_is_external, int nccl_device);
void pt_dist_free(pt_dist_group g);
int pt_dist_rank(pt_dist_group g);
int pt_dist_world(pt_dist_group g);
// Each tensor summed across ranks, in place, in one collective.
int pt_dist_allreduce_sum(pt_dist_group g, const pt_tensor *tensors, int n);
// Rank `root`'s values into every rank's tensors, in place.
int pt_dist_broadcast(pt_dist_group g, const pt_tensor *tensors, int n, int root);
// Every rank's `t` stacked along a new first dimension, in rank order.
pt_tensor pt_dist_allgather(pt_dist_group g, pt_tensor t);
int pt_dist_barrier(pt_dist_group g);
// `t` summed across ranks into a new tensor, differentiably (the backward sums the gradients across ranks).
pt_tensor pt_dist_allreduce_sum_differentiable(pt_dist_group g, pt_tensor t);
// Every rank's `t` concatenated along dimension 0 in rank order, differentiably (lightly's GatherLayer: the
// backward sums the gathered gradient across ranks and keeps this rank's rows). `rows`: every rank's row count
// (world entries; they may differ).
pt_tensor pt_dist_allgather_differentiable(pt_dist_group g, pt_tensor t, const int64_t *rows);

// DDP's gradient Reducer (c10d::Reducer) over `params` (the parameters that train, in registration order):
// autograd hooks on their gradient accumulators launch bucketed all-reduces while the backward still runs,
// and the averaged gradients are in place when backward returns. Buckets as DistributedDataParallel makes
// them (`bucket_bytes`, DDP's 25 MiB by default; a 1 MiB first bucket; rebuilt in gradient-ready order after
// the first iteration). `find_unused`: parameters the loss does not reach are marked ready each iteration
// (DDP's find_unused_parameters) instead of the reduction waiting for them. The group must outlive it.
typedef struct pt_dist_reducer_s *pt_dist_reducer;
pt_dist_reducer pt_dist_reducer_new(pt_dist_group g, const pt_tensor *params, int n, int64_t bucket_bytes, int find_unused);
// Before each training forward (DDP's forward pre-hook: may rebuild the buckets).
int pt_dist_reducer_prepare_forward(pt_dist_reducer r);
// After the forward, before backward: `outputs` (the loss) are searched for unused parameters when find_unused.
int pt_dist_reducer_prepare_backward(pt_dist_reducer r, const pt_tensor *outputs, int n);
// The number of buckets in use (for tests and logs).
int pt_dist_reducer_bucket_count(pt_dist_reducer r);
void pt_dist_reducer_free(pt_dist_reducer r);

// A rank started by a local launcher (`--nproc`) ends with it: `sig` is sent to this process when its parent
// ends, however it ends (Linux's PR_SET_PDEATHSIG). Returns -1 when the parent is no longer `launcher` (it ended
// before the request took effect), 0 otherwise.
int pt_die_with_parent(int sig, int launcher);

#ifdef __cplusplus
}
#endif
#endif
