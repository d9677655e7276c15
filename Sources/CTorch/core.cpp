// Errors, tensor metadata, creation, conversion, autograd, runtime and generators.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <ATen/cpu/Utils.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/GradMode.h>
#include <cstring>
#include <dlfcn.h>
#include <sstream>
#include <torch/headeronly/version.h>

#include "shim.h"

using namespace ctorch;

struct pt_generator_s {
  at::Generator g;
};

namespace ctorch {
static thread_local std::string last_error;
std::atomic<intptr_t> live_handles{0};
void set_error(const char *message) { last_error = message ? message : "unknown error"; }
std::optional<at::Generator> generator(pt_generator g) {
  if (g == nullptr) return std::nullopt;
  return g->g;
}
}  // namespace ctorch

extern "C" {

const char *pt_last_error(void) { return last_error.c_str(); }

// ---- metadata ----
void pt_free(pt_tensor t) {
  if (t == nullptr) return;
  live_handles.fetch_sub(1, std::memory_order_relaxed);
  delete t;
}
intptr_t pt_live_handles(void) { return live_handles.load(); }
intptr_t pt_dim(pt_tensor t) { return guard<intptr_t>(-1, [&] { return T(t).dim(); }); }
intptr_t pt_sizes(pt_tensor t, intptr_t *out, intptr_t cap) {
  return guard<intptr_t>(-1, [&] {
    auto s = T(t).sizes();
    for (intptr_t i = 0; i < cap && i < (intptr_t)s.size(); i++) out[i] = s[i];
    return (intptr_t)s.size();
  });
}
intptr_t pt_strides(pt_tensor t, intptr_t *out, intptr_t cap) {
  return guard<intptr_t>(-1, [&] {
    auto s = T(t).strides();
    for (intptr_t i = 0; i < cap && i < (intptr_t)s.size(); i++) out[i] = s[i];
    return (intptr_t)s.size();
  });
}
intptr_t pt_numel(pt_tensor t) { return guard<intptr_t>(-1, [&] { return T(t).numel(); }); }
int pt_dtype(pt_tensor t) { return guard<int>(-1, [&] { return (int)T(t).scalar_type(); }); }
int pt_device_type(pt_tensor t) { return guard<int>(-1, [&] { return (int)T(t).device().type(); }); }
int pt_device_index(pt_tensor t) { return guard<int>(-1, [&] { return (int)T(t).device().index(); }); }
int pt_is_contiguous(pt_tensor t, int fmt) {
  return guard<int>(-1, [&] { return (int)T(t).is_contiguous(memory_format(fmt)); });
}
intptr_t pt_element_size(pt_tensor t) { return guard<intptr_t>(-1, [&] { return T(t).element_size(); }); }
void *pt_data_ptr(pt_tensor t) { return guard<void *>(nullptr, [&] { return T(t).data_ptr(); }); }
char *pt_to_string(pt_tensor t) {
  return guard<char *>(nullptr, [&] {
    std::ostringstream os;
    os << T(t);
    return strdup(os.str().c_str());
  });
}

// ---- creation ----
pt_tensor pt_empty(const intptr_t *sizes, intptr_t n, int dt, int dev, int idx) {
  return tensor_op([&] { return at::empty(ints(sizes, n), options(dt, dev, idx)); });
}
pt_tensor pt_zeros(const intptr_t *sizes, intptr_t n, int dt, int dev, int idx) {
  return tensor_op([&] { return at::zeros(ints(sizes, n), options(dt, dev, idx)); });
}
pt_tensor pt_ones(const intptr_t *sizes, intptr_t n, int dt, int dev, int idx) {
  return tensor_op([&] { return at::ones(ints(sizes, n), options(dt, dev, idx)); });
}
pt_tensor pt_full(const intptr_t *sizes, intptr_t n, pt_scalar v, int dt, int dev, int idx) {
  return tensor_op([&] { return at::full(ints(sizes, n), scalar(v), options(dt, dev, idx)); });
}
pt_tensor pt_arange(pt_scalar start, pt_scalar end, pt_scalar step, int dt, int dev, int idx) {
  return tensor_op([&] { return at::arange(scalar(start), scalar(end), scalar(step), options(dt, dev, idx)); });
}
pt_tensor pt_linspace(double start, double end, intptr_t steps, int dt, int dev, int idx) {
  return tensor_op([&] { return at::linspace(start, end, steps, options(dt, dev, idx)); });
}
pt_tensor pt_rand(const intptr_t *sizes, intptr_t n, pt_generator g, int dt, int dev, int idx) {
  return tensor_op([&] { return at::rand(ints(sizes, n), generator(g), options(dt, dev, idx)); });
}
pt_tensor pt_randn(const intptr_t *sizes, intptr_t n, pt_generator g, int dt, int dev, int idx) {
  return tensor_op([&] { return at::randn(ints(sizes, n), generator(g), options(dt, dev, idx)); });
}
pt_tensor pt_randint(intptr_t low, intptr_t high, const intptr_t *sizes, intptr_t n, pt_generator g, int dt,
                     int dev, int idx) {
  return tensor_op([&] { return at::randint(low, high, ints(sizes, n), generator(g), options(dt, dev, idx)); });
}
pt_tensor pt_randperm(intptr_t n, pt_generator g, int dev, int idx) {
  return tensor_op([&] { return at::randperm(n, generator(g), options(PT_INT64, dev, idx)); });
}
int pt_uniform_(pt_tensor t, double from, double to, pt_generator g) {
  return status_op([&] { T(t).uniform_(from, to, generator(g)); });
}
int pt_normal_(pt_tensor t, double mean, double std, pt_generator g) {
  return status_op([&] { T(t).normal_(mean, std, generator(g)); });
}
pt_tensor pt_from_data(const void *data, const intptr_t *sizes, intptr_t n, int dt) {
  return tensor_op([&] {
    auto out = at::empty(ints(sizes, n), at::TensorOptions().dtype(dtype(dt)));
    if (out.nbytes() > 0) std::memcpy(out.data_ptr(), data, out.nbytes());
    return out;
  });
}
pt_tensor pt_from_blob(void *data, const intptr_t *sizes, intptr_t n, int dt, void (*deleter)(void *),
                       void *context) {
  bool handed_over = false;
  pt_tensor result = tensor_op([&] {
    auto opts = at::TensorOptions().dtype(dtype(dt));
    auto shape = ints(sizes, n);
    handed_over = true;  // from here on libtorch owns the deleter, even if from_blob throws
    return at::from_blob(data, shape, [deleter, context](void *) { if (deleter) deleter(context); }, opts);
  });
  if (result == nullptr && !handed_over && deleter) deleter(context);
  return result;
}
int pt_copy_to(pt_tensor t, void *dst, intptr_t nbytes) {
  return status_op([&] {
    auto c = T(t).to(at::kCPU).contiguous();
    if ((intptr_t)c.nbytes() != nbytes)
      throw std::invalid_argument("copy_to: destination holds " + std::to_string(nbytes) + " bytes, tensor " +
                                  std::to_string(c.nbytes()));
    if (nbytes > 0) std::memcpy(dst, c.data_ptr(), nbytes);
  });
}
int pt_item(pt_tensor t, pt_scalar *out) {
  return status_op([&] {
    at::Scalar s = T(t).item();
    if (s.isBoolean()) *out = pt_scalar{0, s.toBool() ? 1 : 0, 2};
    else if (s.isIntegral(false)) *out = pt_scalar{0, (intptr_t)s.toLong(), 1};
    else *out = pt_scalar{s.toDouble(), 0, 0};
  });
}

// ---- conversion ----
pt_tensor pt_to(pt_tensor t, int dt, int dev, int idx, bool non_blocking, bool copy) {
  return tensor_op([&] { return T(t).to(options(dt, dev, idx), non_blocking, copy); });
}
pt_tensor pt_contiguous(pt_tensor t, int fmt) {
  return tensor_op([&] { return T(t).contiguous(memory_format(fmt)); });
}
pt_tensor pt_clone(pt_tensor t, int fmt) { return tensor_op([&] { return T(t).clone(memory_format(fmt)); }); }

// ---- autograd ----
int pt_requires_grad(pt_tensor t) { return guard<int>(-1, [&] { return (int)T(t).requires_grad(); }); }
int pt_set_requires_grad(pt_tensor t, bool r) { return status_op([&] { T(t).requires_grad_(r); }); }
int pt_is_leaf(pt_tensor t) { return guard<int>(-1, [&] { return (int)T(t).is_leaf(); }); }
int pt_grad(pt_tensor t, pt_tensor *out) {
  return guard<int>(-1, [&] {
    const at::Tensor &g = T(t).grad();
    if (!g.defined()) return 0;
    *out = wrap(g);
    return 1;
  });
}
int pt_set_grad(pt_tensor t, pt_tensor grad) {
  return status_op([&] {
    if (grad == nullptr) T(t).mutable_grad().reset();
    else T(t).mutable_grad() = T(grad);
  });
}
int pt_zero_grad(pt_tensor t) {
  return status_op([&] {
    auto &g = T(t).mutable_grad();
    if (g.defined()) g.zero_();
  });
}
int pt_backward(pt_tensor t, pt_tensor grad, bool retain_graph, bool create_graph) {
  return status_op([&] { T(t).backward(grad ? T(grad) : at::Tensor(), retain_graph, create_graph); });
}
pt_tensor pt_detach(pt_tensor t) { return tensor_op([&] { return T(t).detach(); }); }
int pt_detach_(pt_tensor t) { return status_op([&] { T(t).detach_(); }); }
bool pt_grad_enabled(void) { return c10::GradMode::is_enabled(); }
void pt_set_grad_enabled(bool enabled) { c10::GradMode::set_enabled(enabled); }

// ---- autocast ----
// Token: bit 0 = was enabled, bits 8.. = the previous dtype code.
int pt_autocast_enter(int dev, int dt) {
  return guard<int>(-1, [&] {
    auto type = device(dev, 0).type();
    int token = (at::autocast::is_autocast_enabled(type) ? 1 : 0) | ((int)at::autocast::get_autocast_dtype(type) << 8);
    at::autocast::set_autocast_enabled(type, true);
    at::autocast::set_autocast_dtype(type, dtype(dt));
    at::autocast::increment_nesting();
    return token;
  });
}
int pt_autocast_exit(int dev, int token) {
  return status_op([&] {
    auto type = device(dev, 0).type();
    at::autocast::set_autocast_enabled(type, (token & 1) != 0);
    at::autocast::set_autocast_dtype(type, static_cast<at::ScalarType>(token >> 8));
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  });
}
bool pt_autocast_is_enabled(int dev) {
  return guard<bool>(false, [&] { return at::autocast::is_autocast_enabled(device(dev, 0).type()); });
}

// ---- runtime ----
void pt_manual_seed(uint64_t seed) {
  guard<int>(-1, [&] {
    {
      auto gen = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_current_seed(seed);
    }
    auto &hooks = at::detail::getCUDAHooks();
    if (hooks.hasCUDA()) {
      for (int i = 0; i < hooks.deviceCount(); i++) {
        auto gen = hooks.getDefaultGenerator(i);
        std::lock_guard<std::mutex> lock(gen.mutex());
        gen.set_current_seed(seed);
      }
    }
    return 0;
  });
}
void pt_set_num_threads(intptr_t n) { guard<int>(-1, [&] { at::set_num_threads((int)n); return 0; }); }
// OpenMP's thread count is per calling thread; ATen initialises it lazily from the global count on a thread's
// first parallel op, so that is done first and then overridden for this thread only. omp_set_num_threads is
// looked up in the process (libtorch's own libgomp), which the shim does not link itself.
intptr_t pt_set_num_threads_this_thread(intptr_t n) {
  return guard<intptr_t>(-1, [&] {
    at::internal::lazy_init_num_threads();
    intptr_t previous = at::get_num_threads();
    static auto set = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
    if (set) set((int)n);
    return previous;
  });
}
intptr_t pt_get_num_threads(void) { return at::get_num_threads(); }
bool pt_cuda_is_available(void) {
  return guard<bool>(false, [&] { return at::detail::getCUDAHooks().hasCUDA(); });
}
// Whether the current CUDA device computes bfloat16 convolutions natively (compute capability 8.0 or
// later with cuDNN 8: what torch.cuda.is_bf16_supported checks).
bool pt_cuda_supports_bfloat16(void) {
  return guard<bool>(false, [&] {
    auto &hooks = at::detail::getCUDAHooks();
    return hooks.hasCUDA() && hooks.supportsBFloat16ConvolutionWithCuDNNv8();
  });
}
intptr_t pt_cuda_device_count(void) {
  return guard<intptr_t>(0, [&] {
    auto &hooks = at::detail::getCUDAHooks();
    return hooks.hasCUDA() ? (intptr_t)hooks.deviceCount() : (intptr_t)0;
  });
}
int pt_cuda_synchronize(int idx) {
  return status_op([&] { at::detail::getCUDAHooks().deviceSynchronize((c10::DeviceIndex)idx); });
}
#define PT_STR2(x) #x
#define PT_STR(x) PT_STR2(x)
// The CPU's instruction-set features that libtorch's cpuinfo reports as present, space-separated (e.g.
// "avx2 avx512 avx512_bf16 amx_tile"); built once, kept for the process's life.
const char *pt_cpu_capabilities(void) {
  static const std::string names = [] {
    std::string out;
    try {
      for (auto &[key, value] : at::cpu::get_cpu_capabilities())
        if (value.isBool() && value.toBool()) out += (out.empty() ? "" : " ") + key;
    } catch (...) {
    }
    return out;
  }();
  return names.c_str();
}

const char *pt_version(void) {
  return PT_STR(TORCH_VERSION_MAJOR) "." PT_STR(TORCH_VERSION_MINOR) "." PT_STR(TORCH_VERSION_PATCH);
}

// ---- generators ----
pt_generator pt_generator_new(uint64_t seed, int dev, int idx) {
  return guard<pt_generator>(nullptr, [&] {
    at::Generator g;
    if (dev == PT_CPU) {
      g = at::make_generator<at::CPUGeneratorImpl>(seed);
    } else {
      // A fresh CUDA generator comes from the hooks, as libtorch's own torch.Generator('cuda') does.
      g = at::detail::getCUDAHooks().getNewGenerator((c10::DeviceIndex)idx);
      g.set_current_seed(seed);
    }
    return new pt_generator_s{g};
  });
}
pt_generator pt_generator_default(int dev, int idx) {
  return guard<pt_generator>(nullptr, [&] {
    if (dev == PT_CPU) return new pt_generator_s{at::detail::getDefaultCPUGenerator()};
    return new pt_generator_s{at::detail::getCUDAHooks().getDefaultGenerator((c10::DeviceIndex)idx)};
  });
}
void pt_generator_free(pt_generator g) { delete g; }
int pt_generator_set_seed(pt_generator g, uint64_t seed) {
  return status_op([&] {
    std::lock_guard<std::mutex> lock(g->g.mutex());
    g->g.set_current_seed(seed);
  });
}
uint64_t pt_generator_seed(pt_generator g) { return g->g.current_seed(); }
pt_tensor pt_generator_get_state(pt_generator g) {
  return tensor_op([&] {
    std::lock_guard<std::mutex> lock(g->g.mutex());
    return g->g.get_state();
  });
}
int pt_generator_set_state(pt_generator g, pt_tensor state) {
  return status_op([&] {
    std::lock_guard<std::mutex> lock(g->g.mutex());
    g->g.set_state(T(state));
  });
}

}  // extern "C"
