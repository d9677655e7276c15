// Multi-tensor kernels for optimizers: libtorch's _foreach_ and _fused_ ops.
#include "shim.h"

using namespace ctorch;

namespace {
void store(const std::vector<at::Tensor> &results, pt_tensor *out) {
  for (size_t i = 0; i < results.size(); i++) out[i] = wrap(results[i]);
}

// libtorch's CPU fused optimizer kernels call contiguous() on every tensor: a channels-last convolution weight
// (its gradient and state alike) is cloned and copied back on every step — 3 % of a 1-thread xresnet34 step
// (perf). Where the i-th tensors of every list share sizes and strides and are dense, they are handed over as
// 1-D views of the same memory instead: the kernels are elementwise, so the result is the same.
void flatten_dense(std::initializer_list<std::vector<at::Tensor> *> lists) {
  auto &first = **lists.begin();
  for (size_t i = 0; i < first.size(); i++) {
    const at::Tensor &p = first[i];
    if (!p.defined() || p.is_contiguous() || !p.is_non_overlapping_and_dense()) continue;
    bool same = true;
    for (auto *l : lists)
      if (!l->empty()) {
        const at::Tensor &t = (*l)[i];
        same = same && t.defined() && t.sizes() == p.sizes() && t.strides() == p.strides() && t.is_non_overlapping_and_dense();
      }
    if (!same) continue;
    for (auto *l : lists)
      if (!l->empty()) (*l)[i] = (*l)[i].as_strided({(*l)[i].numel()}, {1}, (*l)[i].storage_offset());
  }
}
}  // namespace

extern "C" {

int pt_foreach_add_(const pt_tensor *a, const pt_tensor *b, intptr_t n, pt_scalar alpha) {
  return status_op([&] { at::_foreach_add_(list(a, n), list(b, n), scalar(alpha)); });
}
int pt_foreach_add_scalar_(const pt_tensor *a, intptr_t n, pt_scalar s) {
  return status_op([&] { at::_foreach_add_(list(a, n), scalar(s)); });
}
int pt_foreach_mul_scalar_(const pt_tensor *a, intptr_t n, pt_scalar s) {
  return status_op([&] { at::_foreach_mul_(list(a, n), scalar(s)); });
}
int pt_foreach_mul_(const pt_tensor *a, const pt_tensor *b, intptr_t n) {
  return status_op([&] { at::_foreach_mul_(list(a, n), list(b, n)); });
}
int pt_foreach_div_(const pt_tensor *a, const pt_tensor *b, intptr_t n) {
  return status_op([&] { at::_foreach_div_(list(a, n), list(b, n)); });
}
int pt_foreach_addcmul_(const pt_tensor *a, const pt_tensor *t1, const pt_tensor *t2, intptr_t n, pt_scalar v) {
  return status_op([&] { at::_foreach_addcmul_(list(a, n), list(t1, n), list(t2, n), scalar(v)); });
}
int pt_foreach_addcdiv_(const pt_tensor *a, const pt_tensor *t1, const pt_tensor *t2, intptr_t n, pt_scalar v) {
  return status_op([&] { at::_foreach_addcdiv_(list(a, n), list(t1, n), list(t2, n), scalar(v)); });
}
int pt_foreach_lerp_(const pt_tensor *a, const pt_tensor *end, intptr_t n, pt_scalar w) {
  return status_op([&] { at::_foreach_lerp_(list(a, n), list(end, n), scalar(w)); });
}
int pt_foreach_copy_(const pt_tensor *dst, const pt_tensor *src, intptr_t n) {
  return status_op([&] { at::_foreach_copy_(list(dst, n), list(src, n)); });
}
int pt_foreach_zero_(const pt_tensor *a, intptr_t n) { return status_op([&] { at::_foreach_zero_(list(a, n)); }); }
int pt_foreach_sqrt(const pt_tensor *a, intptr_t n, pt_tensor *out) {
  return status_op([&] { store(at::_foreach_sqrt(list(a, n)), out); });
}
int pt_foreach_norm(const pt_tensor *a, intptr_t n, double p, pt_tensor *out) {
  return status_op([&] { store(at::_foreach_norm(list(a, n), p), out); });
}
int pt_fused_adam_(const pt_tensor *params, const pt_tensor *grads, const pt_tensor *m, const pt_tensor *v,
                   const pt_tensor *vmax, const pt_tensor *steps, intptr_t n, double lr, double b1, double b2,
                   double wd, double eps, bool amsgrad, bool maximize, bool decoupled) {
  return status_op([&] {
    auto maxes = amsgrad ? list(vmax, n) : std::vector<at::Tensor>{};
    auto p = list(params, n), g = list(grads, n), ms = list(m, n), vs = list(v, n);
    flatten_dense({&p, &g, &ms, &vs, &maxes});
    if (decoupled)
      at::_fused_adamw_(p, g, ms, vs, maxes, list(steps, n), lr, b1, b2, wd, eps, amsgrad, maximize);
    else
      at::_fused_adam_(p, g, ms, vs, maxes, list(steps, n), lr, b1, b2, wd, eps, amsgrad, maximize);
  });
}
int pt_fused_sgd_(const pt_tensor *params, const pt_tensor *grads, const pt_tensor *bufs, intptr_t n, double wd,
                  double momentum, double lr, double dampening, bool nesterov, bool maximize, bool first) {
  return status_op([&] {
    auto b = bufs ? list(bufs, n) : std::vector<at::Tensor>{};
    auto p = list(params, n), g = list(grads, n);
    flatten_dense({&p, &g, &b});
    at::_fused_sgd_(p, g, b, wd, momentum, lr, dampening, nesterov, maximize, first);
  });
}

}  // extern "C"
