// PyTorch's distributed engine (c10d: a TCPStore rendezvous, ProcessGroupGloo) as a C API over the shim's tensors.
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
// Joins the group (rank 0 hosts the store unless `store_is_external`, as under torchrun's agent); NULL on error.
pt_dist_group pt_dist_init(const char *master_addr, int master_port, int rank, int world, int64_t timeout_ms,
                           int store_is_external);
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

#ifdef __cplusplus
}
#endif
#endif
