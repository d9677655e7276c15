// PyTorch's distributed engine (c10d) behind the C API: a TCPStore rendezvous as torch.distributed's env://
// does it, a process group with Gloo for CPU tensors and, where this libtorch has it, NCCL for CUDA tensors
// (init_process_group's "cpu:gloo,cuda:nccl"; the same store prefixes, so Python ranks could join),
// and the collectives data-parallel training needs. Every call waits for its work, bounded by the group's timeout;
// after an error the group is unusable (c10d's own rule) and the caller is expected to exit.
#include <ATen/ATen.h>

#include <atomic>
#include <string>

#include "cdistributed.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/csrc/distributed/c10d/logger.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>
#ifdef PRETEXT_WITH_NCCL
// Built only against a CUDA libtorch set up with its NVIDIA headers (PRETEXT_CUDA=1; Package.swift decides).
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <torch/csrc/autograd/custom_function.h>

#include <chrono>
#include <sys/prctl.h>
#include <unistd.h>

// The shim's tensor handle (as CTorch/shim.h defines it; that header pulls in ctorch.h, whose module cannot be imported here).
struct pt_tensor_s {
  at::Tensor t;
};
#include "../CTorch/guard.h"

namespace ctorch {
extern std::atomic<intptr_t> live_handles;
template <typename F>
inline pt_tensor tensor_op(F &&body) {
  return guard<pt_tensor>(nullptr, [&] {
    live_handles.fetch_add(1, std::memory_order_relaxed);
    return new pt_tensor_s{body()};
  });
}
}  // namespace ctorch

struct pt_dist_group_s {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  int rank, world;
};

namespace {
std::vector<at::Tensor> tensors(const pt_tensor *ts, int n) {
  std::vector<at::Tensor> v;
  v.reserve(n);
  for (int i = 0; i < n; i++) v.push_back(ts[i]->t);
  return v;
}
}  // namespace

extern "C" int pt_dist_has_nccl(void) {
#ifdef PRETEXT_WITH_NCCL
  return 1;
#else
  return 0;
#endif
}

extern "C" pt_dist_group pt_dist_init(const char *master_addr, int master_port, int rank, int world, int64_t timeout_ms,
                                      int store_is_external, int nccl_device) {
  return ctorch::guard<pt_dist_group>(nullptr, [&] {
#ifndef PRETEXT_WITH_NCCL
    if (nccl_device >= 0) {
      throw std::runtime_error("NCCL was asked for, but the shim was built without it (a CPU libtorch, or a CUDA one set up "
                               "without its NVIDIA headers: PRETEXT_CUDA=1 make setup)");
    }
#else
    // NCCL binds a communicator to the current device: each rank its own GPU (LOCAL_RANK's), set before the
    // rendezvous so that a rank without that GPU fails at once.
    if (nccl_device >= 0) c10::cuda::set_device(static_cast<c10::DeviceIndex>(nccl_device));
#endif
    auto timeout = std::chrono::milliseconds(timeout_ms);
    c10d::TCPStoreOptions o;
    o.port = (uint16_t)master_port;
    // torchrun's agent hosts the store itself (TORCHELASTIC_USE_AGENT_STORE=True): every rank is then a client.
    o.isServer = !store_is_external && rank == 0;
    o.numWorkers = (size_t)world;
    o.waitWorkers = true;
    o.timeout = timeout;
    o.multiTenant = true;
    auto store = c10::make_intrusive<c10d::TCPStore>(std::string(master_addr), o);
    auto root = c10::make_intrusive<c10d::PrefixStore>("default_pg", store);
    auto groupStore = c10::make_intrusive<c10d::PrefixStore>("0/", root);
    auto backendStore = c10::make_intrusive<c10d::PrefixStore>("cpu/", groupStore);
    // GLOO_SOCKET_IFNAME picks the interface; else what the host name resolves to, else loopback.
    auto opts = c10d::ProcessGroupGloo::Options::create_default(timeout);
    opts->group_name = "0";
    auto gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(backendStore, rank, world, opts);
    gloo->setSequenceNumberForGroup();
    auto pg = c10::make_intrusive<c10d::ProcessGroup>(groupStore, rank, world);
    pg->setDefaultBackend(c10d::ProcessGroup::BackendType::GLOO);
    pg->setBackend(c10::DeviceType::CPU, c10d::ProcessGroup::BackendType::GLOO, gloo);
#ifdef PRETEXT_WITH_NCCL
    if (nccl_device >= 0) {
      // Communicators are made lazily, at the first collective on CUDA tensors, on the device set above. Its
      // watchdog aborts the process when a collective outlives the timeout (a dead or hung rank), as under torchrun.
      auto ncclStore = c10::make_intrusive<c10d::PrefixStore>("cuda/", groupStore);
      auto nopts = c10d::ProcessGroupNCCL::Options::create();
      nopts->timeout = timeout;
      nopts->group_name = "0";
      auto nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(ncclStore, rank, world, nopts);
      nccl->setSequenceNumberForGroup();
      pg->setBackend(c10::DeviceType::CUDA, c10d::ProcessGroup::BackendType::NCCL, nccl);
      pg->setDefaultBackend(c10d::ProcessGroup::BackendType::NCCL);
    }
#endif
    pg->setGroupName("0");
    return new pt_dist_group_s{store, pg, rank, world};
  });
}

extern "C" void pt_dist_free(pt_dist_group g) { delete g; }
extern "C" int pt_dist_rank(pt_dist_group g) { return g->rank; }
extern "C" int pt_dist_world(pt_dist_group g) { return g->world; }

// Sums each tensor across ranks, in place. One collective for the list (allreduce_coalesced: a plain
// allreduce of a list would also sum across the list).
extern "C" int pt_dist_allreduce_sum(pt_dist_group g, const pt_tensor *ts, int n) {
  return ctorch::status_op([&] {
    auto v = tensors(ts, n);
    if (v.size() == 1) {
      g->pg->allreduce(v)->wait();
    } else {
      g->pg->allreduce_coalesced(v)->wait();
    }
  });
}

// Rank `root`'s values into every rank's tensors, in place (coalesced into buffers of up to 64 MiB, as DDP's
// module-state sync does).
extern "C" int pt_dist_broadcast(pt_dist_group g, const pt_tensor *ts, int n, int root) {
  return ctorch::status_op([&] {
    auto v = tensors(ts, n);
    at::NoGradGuard ng;
    c10d::broadcast_coalesced(g->pg, v, 64 * 1024 * 1024, root);
  });
}

// Every rank's `t` (same shape everywhere), stacked along a new first dimension in rank order.
extern "C" pt_tensor pt_dist_allgather(pt_dist_group g, pt_tensor t) {
  return ctorch::tensor_op([&] {
    std::vector<std::vector<at::Tensor>> out(1);
    for (int r = 0; r < g->world; r++) out[0].push_back(at::empty_like(t->t));
    std::vector<at::Tensor> in{t->t};
    g->pg->allgather(out, in)->wait();
    return at::stack(out[0]);
  });
}

extern "C" int pt_dist_barrier(pt_dist_group g) {
  return ctorch::status_op([&] { g->pg->barrier()->wait(); });
}

namespace {
// A sum across ranks that autograd differentiates (SyncBatchNorm's statistics): every rank's output depends on
// every rank's input, so the gradient of the input is the sum of the output's gradients across ranks — the
// backward is the same all-reduce. All ranks must run the same graph, so their backward collectives pair up.
struct AllReduceSum : torch::autograd::Function<AllReduceSum> {
  static void sum(pt_dist_group g, at::Tensor &t) {
    std::vector<at::Tensor> v{t};
    g->pg->allreduce(v)->wait();
  }
  static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x, int64_t group) {
    ctx->saved_data["group"] = group;
    auto out = x.clone(at::MemoryFormat::Contiguous);
    sum(reinterpret_cast<pt_dist_group>(group), out);
    return out;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx, torch::autograd::variable_list grads) {
    auto g = reinterpret_cast<pt_dist_group>(ctx->saved_data["group"].toInt());
    auto out = grads[0].clone(at::MemoryFormat::Contiguous);
    sum(g, out);
    return {out, at::Tensor()};
  }
};
}  // namespace

extern "C" pt_tensor pt_dist_allreduce_sum_differentiable(pt_dist_group g, pt_tensor t) {
  return ctorch::tensor_op([&] { return AllReduceSum::apply(t->t, reinterpret_cast<int64_t>(g)); });
}

namespace {
// All ranks' rows, concatenated in rank order; the backward gives each rank the cross-rank sum of the gradient
// of its own rows (every rank's loss may depend on every rank's rows), as lightly's GatherLayer does. Ranks may
// hold different row counts (`rows`, every rank's, known to all): each part is padded to the largest for
// Gloo's equal-sized all-gather and trimmed after.
struct AllGatherCat : torch::autograd::Function<AllGatherCat> {
  static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x, int64_t group, std::vector<int64_t> rows) {
    auto g = reinterpret_cast<pt_dist_group>(group);
    ctx->saved_data["group"] = group;
    ctx->saved_data["rows"] = rows;
    int64_t most = *std::max_element(rows.begin(), rows.end());
    at::Tensor padded = x.contiguous();
    if (x.size(0) != most) {
      auto shape = x.sizes().vec();
      shape[0] = most;
      padded = at::zeros(shape, x.options());
      padded.narrow(0, 0, x.size(0)).copy_(x);
    }
    std::vector<std::vector<at::Tensor>> out(1);
    for (int r = 0; r < g->world; r++) out[0].push_back(at::empty_like(padded));
    std::vector<at::Tensor> in{padded};
    g->pg->allgather(out, in)->wait();
    std::vector<at::Tensor> parts;
    for (int r = 0; r < g->world; r++) parts.push_back(out[0][r].narrow(0, 0, rows[r]));
    return at::cat(parts, 0);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx, torch::autograd::variable_list grads) {
    auto g = reinterpret_cast<pt_dist_group>(ctx->saved_data["group"].toInt());
    auto rows = ctx->saved_data["rows"].toIntVector();
    auto all = grads[0].clone(at::MemoryFormat::Contiguous);
    std::vector<at::Tensor> v{all};
    g->pg->allreduce(v)->wait();
    int64_t offset = 0;
    for (int r = 0; r < g->rank; r++) offset += rows[r];
    return {all.narrow(0, offset, rows[g->rank]).clone(), at::Tensor(), at::Tensor()};
  }
};
}  // namespace

extern "C" pt_tensor pt_dist_allgather_differentiable(pt_dist_group g, pt_tensor t, const int64_t *rows) {
  return ctorch::tensor_op([&] {
    std::vector<int64_t> r(rows, rows + g->world);
    TORCH_CHECK(r[g->rank] == t->t.size(0), "all-gather: this rank holds ", t->t.size(0), " rows, the row counts say ", r[g->rank]);
    return AllGatherCat::apply(t->t, reinterpret_cast<int64_t>(g), r);
  });
}

struct pt_dist_reducer_s {
  std::shared_ptr<c10d::Reducer> reducer;
  std::shared_ptr<c10d::Logger> logger;  // the Reducer reports its errors through it
  bool find_unused;
};

namespace {
// A 1×1 convolution's weight [O, I, 1, 1] is contiguous in both layouts, so making a channels-last model leaves its
// strides (I, 1, 1, 1). Its gradient, though, comes from a channels-last convolution with strides (I, 1, I, I):
// the same bytes in the same order. The Reducer builds its bucket views with the parameter's strides, finds the two
// differ, prints PyTorch's "Grad strides do not match bucket view strides" warning (spurious here, as
// pytorch/pytorch#47163 and #157862 say) and copies those gradients instead of reducing them in place. When the
// model is channels-last (a 4-D parameter with a spatial extent is), such weights are given the channels-last
// strides of their own bytes before the Reducer sees them: no data moves, and every value stays where it was.
void restride_pointwise_weights_channels_last(std::vector<at::Tensor> &params) {
  bool channels_last = false;
  for (auto &p : params)
    if (p.dim() == 4 && p.size(2) * p.size(3) > 1 && !p.is_contiguous() && p.is_contiguous(at::MemoryFormat::ChannelsLast))
      channels_last = true;
  if (!channels_last) return;
  at::NoGradGuard no_grad;
  for (auto &p : params) {
    if (p.dim() != 4 || p.size(2) != 1 || p.size(3) != 1 || !p.is_contiguous()) continue;
    int64_t c = p.size(1);
    std::vector<int64_t> strides{c, 1, c, c};
    if (p.strides().vec() == strides) continue;
    p.set_(p.storage(), p.storage_offset(), p.sizes(), strides);
  }
}
}  // namespace

extern "C" pt_dist_reducer pt_dist_reducer_new(pt_dist_group g, const pt_tensor *ps, int n, int64_t bucket_bytes, int find_unused) {
  return ctorch::guard<pt_dist_reducer>(nullptr, [&] {
    auto params = tensors(ps, n);
    restride_pointwise_weights_channels_last(params);
    std::vector<bool> sparse(params.size(), false);
    std::unordered_map<size_t, std::string> names;
    // DistributedDataParallel's first assignment: a 1 MiB bucket (the cap itself when it is not the default),
    // then `bucket_bytes` ones, over the parameters in reverse (gradients arrive from the last layer first).
    int64_t first = bucket_bytes == c10d::kDefaultBucketBytesCap ? c10d::kDefaultFirstBucketBytes : bucket_bytes;
    auto [buckets, limits] = c10d::compute_bucket_assignment_by_size(params, {(size_t)first, (size_t)bucket_bytes}, sparse);
    std::reverse(buckets.begin(), buckets.end());
    auto reducer = std::make_shared<c10d::Reducer>(params, buckets, g->pg, sparse, bucket_bytes, find_unused != 0,
                                                   /*gradient_as_bucket_view=*/false, names,
                                                   first,
                                                   /*skip_all_reduce_unused_params=*/false, /*use_python_reducer=*/false,
                                                   std::vector<int64_t>{});
    auto logger = std::make_shared<c10d::Logger>(reducer);
    reducer->set_logger(logger);
    return new pt_dist_reducer_s{reducer, logger, find_unused != 0};
  });
}

extern "C" int pt_dist_reducer_prepare_forward(pt_dist_reducer r) {
  return ctorch::status_op([&] {
    r->reducer->prepare_for_forward();
    r->reducer->rebuild_buckets();
  });
}

extern "C" int pt_dist_reducer_prepare_backward(pt_dist_reducer r, const pt_tensor *outputs, int n) {
  return ctorch::status_op([&] {
    r->reducer->prepare_for_backward(r->find_unused ? tensors(outputs, n) : std::vector<at::Tensor>{});
  });
}

extern "C" int pt_dist_reducer_bucket_count(pt_dist_reducer r) {
  return ctorch::guard<int>(-1, [&] { return (int)r->reducer->get_grad_buckets().size(); });
}

extern "C" void pt_dist_reducer_free(pt_dist_reducer r) {
  // ~Reducer may throw (noexcept(false)); a destructor's error has nowhere to go but the log.
  try {
    delete r;
  } catch (const std::exception &e) {
    fprintf(stderr, "[pretext] c10d Reducer teardown: %s\n", e.what());
  }
}

int pt_die_with_parent(int sig, int launcher) {
  if (prctl(PR_SET_PDEATHSIG, sig) != 0) return -1;
  return getppid() == launcher ? 0 : -1;
}
