// Shared helpers of the shim's source files (C++ only; not part of the C API).
#pragma once

#ifdef PRETEXT_NO_LIBTORCH
#error "libtorch not found: run `make setup` (or set LIBTORCH=/path/to/libtorch or a torch package folder)"
#endif
#include <ATen/ATen.h>
#include <atomic>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "ctorch.h"
#include "guard.h"

static_assert(std::is_same<intptr_t, int64_t>::value, "the C API passes int64 lists as intptr_t");

struct pt_tensor_s {
  at::Tensor t;
};

namespace ctorch {

extern std::atomic<intptr_t> live_handles;
inline pt_tensor wrap(at::Tensor t) {
  live_handles.fetch_add(1, std::memory_order_relaxed);
  return new pt_tensor_s{std::move(t)};
}

// Guarded call returning a new tensor handle (NULL on error).
template <typename F>
inline pt_tensor tensor_op(F &&body) {
  return guard<pt_tensor>(nullptr, [&] { return wrap(body()); });
}


inline const at::Tensor &T(pt_tensor h) {
  if (h == nullptr) throw std::invalid_argument("null tensor handle");
  return h->t;
}
inline std::optional<at::Tensor> opt(pt_tensor h) {
  if (h == nullptr) return std::nullopt;
  return h->t;
}
inline at::IntArrayRef ints(const intptr_t *p, intptr_t n) {
  return at::IntArrayRef(reinterpret_cast<const int64_t *>(p), static_cast<size_t>(n));
}
inline std::vector<at::Tensor> list(const pt_tensor *hs, intptr_t n) {
  std::vector<at::Tensor> v;
  v.reserve(static_cast<size_t>(n));
  for (intptr_t i = 0; i < n; i++) v.push_back(T(hs[i]));
  return v;
}
inline at::Scalar scalar(pt_scalar s) {
  switch (s.kind) {
    case 1: return at::Scalar(static_cast<int64_t>(s.i));
    case 2: return at::Scalar(s.i != 0);
    default: return at::Scalar(s.f);
  }
}
inline at::ScalarType dtype(int code) {
  switch (code) {
    case PT_UINT8: case PT_INT8: case PT_INT16: case PT_INT32: case PT_INT64: case PT_FLOAT16:
    case PT_FLOAT32: case PT_FLOAT64: case PT_BOOL: case PT_BFLOAT16:
      return static_cast<at::ScalarType>(code);
    default: throw std::invalid_argument("unsupported dtype code " + std::to_string(code));
  }
}
inline at::Device device(int type, int index) {
  switch (type) {
    case PT_CPU: return at::Device(at::kCPU);
    case PT_CUDA: return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
    default: throw std::invalid_argument("unsupported device type " + std::to_string(type));
  }
}
inline at::TensorOptions options(int dtype_code, int device_type, int device_index) {
  return at::TensorOptions().dtype(dtype(dtype_code)).device(device(device_type, device_index));
}
inline at::MemoryFormat memory_format(int code) {
  switch (code) {
    case PT_CONTIGUOUS: return at::MemoryFormat::Contiguous;
    case PT_CHANNELS_LAST: return at::MemoryFormat::ChannelsLast;
    case PT_PRESERVE: return at::MemoryFormat::Preserve;
    default: throw std::invalid_argument("unsupported memory format " + std::to_string(code));
  }
}
std::optional<at::Generator> generator(pt_generator g);

}  // namespace ctorch
