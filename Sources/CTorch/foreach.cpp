// Multi-tensor kernels for optimizers: libtorch's _foreach_ and _fused_ ops.
#include "shim.h"

using namespace ctorch;

namespace {
void store(const std::vector<at::Tensor> &results, pt_tensor *out) {
  for (size_t i = 0; i < results.size(); i++) out[i] = wrap(results[i]);
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
    if (decoupled)
      at::_fused_adamw_(list(params, n), list(grads, n), list(m, n), list(v, n), maxes, list(steps, n), lr, b1, b2,
                        wd, eps, amsgrad, maximize);
    else
      at::_fused_adam_(list(params, n), list(grads, n), list(m, n), list(v, n), maxes, list(steps, n), lr, b1, b2,
                       wd, eps, amsgrad, maximize);
  });
}
int pt_fused_sgd_(const pt_tensor *params, const pt_tensor *grads, const pt_tensor *bufs, intptr_t n, double wd,
                  double momentum, double lr, double dampening, bool nesterov, bool maximize, bool first) {
  return status_op([&] {
    auto b = bufs ? list(bufs, n) : std::vector<at::Tensor>{};
    at::_fused_sgd_(list(params, n), list(grads, n), b, wd, momentum, lr, dampening, nesterov, maximize, first);
  });
}

}  // extern "C"
