// Neural-network operators: convolution, normalisation, pooling, resampling, activations and losses.
#include <ATen/autocast_mode.h>

#include "shim.h"

using namespace ctorch;

namespace {
// libtorch 2.13's CPU bfloat16 convolution returns a weight gradient of garbage (inf, NaN, 1e37: memory it did
// not write) when a stride exceeds the input's side and there is padding — e.g. a stride-2 3×3 convolution on
// a 1×1 map, which small crops reach in xresnet's last stage. Measured with PyTorch itself on the pinned wheel
// (NOTES.md, "bfloat16"); fine in float32. Such a convolution (tiny by construction) runs in float32.
bool bf16_conv_is_broken(const at::Tensor &x, const at::Tensor &w, at::IntArrayRef stride,
                         at::IntArrayRef padding) {
  if (!x.device().is_cpu() || x.dim() != (int64_t)stride.size() + 2) return false;
  bool bf16 = x.scalar_type() == at::kBFloat16 || w.scalar_type() == at::kBFloat16 ||
              (at::autocast::is_autocast_enabled(at::kCPU) && at::autocast::get_autocast_dtype(at::kCPU) == at::kBFloat16);
  if (!bf16) return false;
  bool padded = false, strided_past = false;
  for (size_t i = 0; i < stride.size(); i++) {
    padded = padded || padding[i] > 0;
    strided_past = strided_past || stride[i] > x.size(2 + (int64_t)i);
  }
  return padded && strided_past;
}

// CPU autocast off for a scope (restored after).
struct CPUAutocastOff {
  bool was = at::autocast::is_autocast_enabled(at::kCPU);
  CPUAutocastOff() { at::autocast::set_autocast_enabled(at::kCPU, false); }
  ~CPUAutocastOff() { at::autocast::set_autocast_enabled(at::kCPU, was); }
};
}  // namespace

extern "C" {

pt_tensor pt_conv(pt_tensor x, pt_tensor w, pt_tensor b, const intptr_t *stride, const intptr_t *padding,
                  const intptr_t *dilation, intptr_t nsp, intptr_t groups) {
  return tensor_op([&] {
    auto s = ints(stride, nsp), p = ints(padding, nsp), d = ints(dilation, nsp);
    auto conv = [&](const at::Tensor &xx, const at::Tensor &ww, const std::optional<at::Tensor> &bb) {
      switch (nsp) {
        case 1: return at::conv1d(xx, ww, bb, s, p, d, groups);
        case 2: return at::conv2d(xx, ww, bb, s, p, d, groups);
        case 3: return at::conv3d(xx, ww, bb, s, p, d, groups);
      }
      throw std::invalid_argument("convolution over " + std::to_string(nsp) + " spatial dims is not supported");
    };
    if (!bf16_conv_is_broken(T(x), T(w), s, p)) return conv(T(x), T(w), opt(b));
    // Under autocast the float32 result is what an op on autocast's float32 list gives; an explicit bfloat16
    // input gets its dtype back.
    bool autocast = at::autocast::is_autocast_enabled(at::kCPU);
    CPUAutocastOff off;
    auto b32 = b ? std::optional<at::Tensor>(T(b).to(at::kFloat)) : std::nullopt;
    auto y = conv(T(x).to(at::kFloat), T(w).to(at::kFloat), b32);
    return autocast ? y : y.to(T(x).scalar_type());
  });
}
pt_tensor pt_conv_transpose2d(pt_tensor x, pt_tensor w, pt_tensor b, const intptr_t *stride,
                              const intptr_t *padding, const intptr_t *output_padding, intptr_t groups,
                              const intptr_t *dilation) {
  return tensor_op([&] {
    return at::conv_transpose2d(T(x), T(w), opt(b), ints(stride, 2), ints(padding, 2), ints(output_padding, 2),
                                groups, ints(dilation, 2));
  });
}
pt_tensor pt_batch_norm(pt_tensor x, pt_tensor w, pt_tensor b, pt_tensor rm, pt_tensor rv, bool training,
                        double momentum, double eps) {
  return tensor_op([&] {
    return at::batch_norm(T(x), opt(w), opt(b), opt(rm), opt(rv), training, momentum, eps, /*cudnn*/ true);
  });
}
pt_tensor pt_layer_norm(pt_tensor x, const intptr_t *shape, intptr_t n, pt_tensor w, pt_tensor b, double eps) {
  return tensor_op([&] { return at::layer_norm(T(x), ints(shape, n), opt(w), opt(b), eps); });
}
pt_tensor pt_max_pool2d(pt_tensor x, const intptr_t *k, const intptr_t *s, const intptr_t *p, const intptr_t *d,
                        bool ceil_mode) {
  return tensor_op([&] { return at::max_pool2d(T(x), ints(k, 2), ints(s, 2), ints(p, 2), ints(d, 2), ceil_mode); });
}
pt_tensor pt_avg_pool2d(pt_tensor x, const intptr_t *k, const intptr_t *s, const intptr_t *p, bool ceil_mode,
                        bool count_include_pad) {
  return tensor_op([&] {
    return at::avg_pool2d(T(x), ints(k, 2), ints(s, 2), ints(p, 2), ceil_mode, count_include_pad);
  });
}
pt_tensor pt_adaptive_avg_pool2d(pt_tensor x, const intptr_t *o) {
  return tensor_op([&] { return at::adaptive_avg_pool2d(T(x), ints(o, 2)); });
}
pt_tensor pt_adaptive_max_pool2d(pt_tensor x, const intptr_t *o) {
  return tensor_op([&] { return std::get<0>(at::adaptive_max_pool2d(T(x), ints(o, 2))); });
}
pt_tensor pt_pixel_shuffle(pt_tensor x, intptr_t f) { return tensor_op([&] { return at::pixel_shuffle(T(x), f); }); }
pt_tensor pt_pixel_unshuffle(pt_tensor x, intptr_t f) { return tensor_op([&] { return at::pixel_unshuffle(T(x), f); }); }
pt_tensor pt_interpolate(pt_tensor x, const intptr_t *size, int mode, bool align_corners) {
  return tensor_op([&] {
    auto out = ints(size, 2);
    switch (mode) {
      case 0: return at::upsample_nearest2d(T(x), out);
      case 1: return at::upsample_bilinear2d(T(x), out, align_corners);
      case 2: return at::_upsample_bilinear2d_aa(T(x), out, align_corners);
    }
    throw std::invalid_argument("unknown interpolation mode " + std::to_string(mode));
  });
}
pt_tensor pt_dropout(pt_tensor x, double p, bool train) { return tensor_op([&] { return at::dropout(T(x), p, train); }); }
pt_tensor pt_softmax(pt_tensor x, intptr_t dim) { return tensor_op([&] { return at::softmax(T(x), dim); }); }
pt_tensor pt_log_softmax(pt_tensor x, intptr_t dim) { return tensor_op([&] { return at::log_softmax(T(x), dim); }); }
pt_tensor pt_mse_loss(pt_tensor x, pt_tensor t, int r) { return tensor_op([&] { return at::mse_loss(T(x), T(t), r); }); }
pt_tensor pt_l1_loss(pt_tensor x, pt_tensor t, int r) { return tensor_op([&] { return at::l1_loss(T(x), T(t), r); }); }
pt_tensor pt_cross_entropy(pt_tensor x, pt_tensor t, pt_tensor w, int r, intptr_t ignore, double smoothing) {
  return tensor_op([&] { return at::cross_entropy_loss(T(x), T(t), opt(w), r, ignore, smoothing); });
}
pt_tensor pt_nll_loss(pt_tensor x, pt_tensor t, pt_tensor w, int r, intptr_t ignore) {
  return tensor_op([&] { return at::nll_loss(T(x), T(t), opt(w), r, ignore); });
}
pt_tensor pt_bce_with_logits(pt_tensor x, pt_tensor t, int r) {
  return tensor_op([&] { return at::binary_cross_entropy_with_logits(T(x), T(t), std::nullopt, std::nullopt, r); });
}

}  // extern "C"
