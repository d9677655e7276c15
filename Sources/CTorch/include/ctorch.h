// CTorch: a thin C ABI over libtorch's ATen, for Swift.
//
// Conventions (the whole shim follows them):
// - `pt_tensor` is an owning, opaque handle to an at::Tensor; every handle a function returns is new and
//   must be released exactly once with pt_free. Input handles are borrowed.
// - Errors: C++ exceptions never cross this boundary. A function that fails returns NULL (handles),
//   -1 (counts and statuses) and leaves libtorch's message in a per-thread slot read by pt_last_error.
//   A function that succeeds does not clear the slot; callers read it only after a failure.
// - Integers are `intptr_t` (64-bit here, the same type as int64_t), so Swift passes [Int] as is.
// - Optional tensors are NULL.
#ifndef CTORCH_H
#define CTORCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pt_tensor_s *pt_tensor;
typedef struct pt_generator_s *pt_generator;

// at::ScalarType codes for the dtypes Pretext uses.
enum {
  PT_UINT8 = 0, PT_INT8 = 1, PT_INT16 = 2, PT_INT32 = 3, PT_INT64 = 4, PT_FLOAT16 = 5,
  PT_FLOAT32 = 6, PT_FLOAT64 = 7, PT_BOOL = 11, PT_BFLOAT16 = 15
};
// Device types (c10::DeviceType codes).
enum { PT_CPU = 0, PT_CUDA = 1 };
// Memory formats.
enum { PT_CONTIGUOUS = 0, PT_CHANNELS_LAST = 1, PT_PRESERVE = 2 };
// Loss reductions (at::Reduction codes).
enum { PT_REDUCTION_NONE = 0, PT_REDUCTION_MEAN = 1, PT_REDUCTION_SUM = 2 };

typedef struct {
  double f;
  intptr_t i;
  int kind;  // 0 floating (f), 1 integer (i), 2 boolean (i != 0)
} pt_scalar;

// ---- errors ----
const char *pt_last_error(void);

// ---- tensor lifetime and metadata ----
void pt_free(pt_tensor t);
// Handles made and not yet freed, process-wide (a leak check).
intptr_t pt_live_handles(void);
intptr_t pt_dim(pt_tensor t);
// Writes min(dim, cap) sizes/strides; returns dim.
intptr_t pt_sizes(pt_tensor t, intptr_t *out, intptr_t cap);
intptr_t pt_strides(pt_tensor t, intptr_t *out, intptr_t cap);
intptr_t pt_numel(pt_tensor t);
int pt_dtype(pt_tensor t);
int pt_device_type(pt_tensor t);
int pt_device_index(pt_tensor t);
int pt_is_contiguous(pt_tensor t, int memory_format);
intptr_t pt_element_size(pt_tensor t);
void *pt_data_ptr(pt_tensor t);
// Writes the printed form (libtorch's) into a malloc'd string the caller frees.
char *pt_to_string(pt_tensor t);

// ---- creation ----
pt_tensor pt_empty(const intptr_t *sizes, intptr_t n, int dtype, int device_type, int device_index);
pt_tensor pt_zeros(const intptr_t *sizes, intptr_t n, int dtype, int device_type, int device_index);
pt_tensor pt_ones(const intptr_t *sizes, intptr_t n, int dtype, int device_type, int device_index);
pt_tensor pt_full(const intptr_t *sizes, intptr_t n, pt_scalar value, int dtype, int device_type,
                  int device_index);
pt_tensor pt_arange(pt_scalar start, pt_scalar end, pt_scalar step, int dtype, int device_type,
                    int device_index);
pt_tensor pt_linspace(double start, double end, intptr_t steps, int dtype, int device_type, int device_index);
// Random creation draws from `gen` (NULL: the default generator of the device).
pt_tensor pt_rand(const intptr_t *sizes, intptr_t n, pt_generator gen, int dtype, int device_type,
                  int device_index);
pt_tensor pt_randn(const intptr_t *sizes, intptr_t n, pt_generator gen, int dtype, int device_type,
                   int device_index);
pt_tensor pt_randint(intptr_t low, intptr_t high, const intptr_t *sizes, intptr_t n, pt_generator gen,
                     int dtype, int device_type, int device_index);
pt_tensor pt_randperm(intptr_t n, pt_generator gen, int device_type, int device_index);
// In place: fills `t` from a distribution; returns 0 or -1.
int pt_uniform_(pt_tensor t, double from, double to, pt_generator gen);
int pt_normal_(pt_tensor t, double mean, double std, pt_generator gen);
// Copies `data` (contiguous, row-major) into a new CPU tensor.
pt_tensor pt_from_data(const void *data, const intptr_t *sizes, intptr_t n, int dtype);
// Wraps `data` without copying. `deleter(context)` runs exactly once when libtorch frees the storage,
// or before returning NULL on failure.
pt_tensor pt_from_blob(void *data, const intptr_t *sizes, intptr_t n, int dtype,
                       void (*deleter)(void *), void *context);
// Copies a tensor's elements (any device, any layout) into `dst` as contiguous row-major data.
int pt_copy_to(pt_tensor t, void *dst, intptr_t nbytes);
int pt_item(pt_tensor t, pt_scalar *out);

// ---- conversion ----
pt_tensor pt_to(pt_tensor t, int dtype, int device_type, int device_index, bool non_blocking, bool copy);
pt_tensor pt_contiguous(pt_tensor t, int memory_format);
pt_tensor pt_clone(pt_tensor t, int memory_format);

// ---- autograd ----
int pt_requires_grad(pt_tensor t);
int pt_set_requires_grad(pt_tensor t, bool requires_grad);
int pt_is_leaf(pt_tensor t);
// Returns 1 and sets *out when a gradient exists, 0 when none, -1 on error.
int pt_grad(pt_tensor t, pt_tensor *out);
int pt_set_grad(pt_tensor t, pt_tensor grad);  // grad NULL: clears it
int pt_zero_grad(pt_tensor t);                   // grad.zero_() if defined
int pt_backward(pt_tensor t, pt_tensor grad, bool retain_graph, bool create_graph);
pt_tensor pt_detach(pt_tensor t);
int pt_detach_(pt_tensor t);
bool pt_grad_enabled(void);
void pt_set_grad_enabled(bool enabled);

// ---- automatic mixed precision (torch.autocast) ----
// Enters autocast for a device type with a lower-precision dtype; returns a token for pt_autocast_exit
// (the previous state), or -1 on error.
int pt_autocast_enter(int device_type, int dtype);
// Restores the state before the matching enter; the cast cache is cleared when the outermost scope ends.
int pt_autocast_exit(int device_type, int token);
bool pt_autocast_is_enabled(int device_type);

// ---- runtime ----
void pt_manual_seed(uint64_t seed);  // every device's default generator
void pt_set_num_threads(intptr_t n);
// Intra-op threads for ops started on the calling thread only (data-loading workers run single-threaded
// ops so that N workers do not each start a team of N); returns the thread's previous count, -1 on failure.
intptr_t pt_set_num_threads_this_thread(intptr_t n);
intptr_t pt_get_num_threads(void);
bool pt_cuda_is_available(void);
bool pt_cuda_supports_bfloat16(void);
intptr_t pt_cuda_device_count(void);
int pt_cuda_synchronize(int device_index);
const char *pt_version(void);
const char *pt_cpu_capabilities(void);
// A fast 64-bit checksum of `size` bytes chained from `seed` (checksum.cpp): corruption detection for
// checkpoints, not a cryptographic hash.
uint64_t pt_checksum64(const void *data, size_t size, uint64_t seed);

// The caching CPU allocator (allocator.cpp): freed blocks of >= 1 MiB are kept and reused for requests of
// their size or up to a third smaller, within a sixteenth above the peak of live bytes; disabling unmaps
// the cached blocks and restores c10's allocator.
void pt_cpu_cache_enable(bool enabled);
bool pt_cpu_cache_is_enabled(void);
void pt_cpu_cache_empty(void);
// Large blocks only (those the cache manages): free ones held, ones in use; requests served from the cache
// or not.
void pt_cpu_cache_stats(uint64_t *cached_bytes, uint64_t *live_bytes, uint64_t *hits, uint64_t *misses);

// ---- generators ----
pt_generator pt_generator_new(uint64_t seed, int device_type, int device_index);
// A new handle on the device's default generator (shared state; free the handle as any other).
pt_generator pt_generator_default(int device_type, int device_index);
void pt_generator_free(pt_generator g);
int pt_generator_set_seed(pt_generator g, uint64_t seed);
uint64_t pt_generator_seed(pt_generator g);
pt_tensor pt_generator_get_state(pt_generator g);  // uint8 tensor
int pt_generator_set_state(pt_generator g, pt_tensor state);

// ---- elementwise ----
typedef enum {
  PT_NEG, PT_ABS, PT_EXP, PT_LOG, PT_SQRT, PT_RSQRT, PT_SIN, PT_COS, PT_TANH, PT_SIGMOID, PT_RELU,
  PT_MISH, PT_SILU, PT_GELU, PT_SIGN, PT_FLOOR, PT_CEIL, PT_ROUND, PT_RECIPROCAL, PT_SQUARE, PT_LOG1P,
  PT_EXPM1, PT_ERF, PT_ISNAN, PT_ISINF, PT_ISFINITE, PT_LOGICAL_NOT, PT_ZERO, PT_HARDSWISH
} pt_unary_op;
typedef enum {
  PT_ADD, PT_SUB, PT_MUL, PT_DIV, PT_POW, PT_MAXIMUM, PT_MINIMUM, PT_REMAINDER, PT_FLOOR_DIVIDE,
  PT_EQ, PT_NE, PT_LT, PT_LE, PT_GT, PT_GE, PT_LOGICAL_AND, PT_LOGICAL_OR, PT_ATAN2
} pt_binary_op;

pt_tensor pt_unary(pt_unary_op op, pt_tensor a);
int pt_unary_(pt_unary_op op, pt_tensor a);
// alpha scales b for PT_ADD / PT_SUB (a + alpha*b) and is ignored otherwise.
pt_tensor pt_binary(pt_binary_op op, pt_tensor a, pt_tensor b, pt_scalar alpha);
int pt_binary_(pt_binary_op op, pt_tensor a, pt_tensor b, pt_scalar alpha);
// `reversed`: s OP a instead of a OP s.
pt_tensor pt_binary_scalar(pt_binary_op op, pt_tensor a, pt_scalar s, bool reversed);
int pt_binary_scalar_(pt_binary_op op, pt_tensor a, pt_scalar s);
pt_tensor pt_leaky_relu(pt_tensor a, double slope);
pt_tensor pt_clamp(pt_tensor a, const pt_scalar *min, const pt_scalar *max);
int pt_clamp_(pt_tensor a, const pt_scalar *min, const pt_scalar *max);
pt_tensor pt_where(pt_tensor cond, pt_tensor a, pt_tensor b);
pt_tensor pt_masked_fill(pt_tensor a, pt_tensor mask, pt_scalar value);
int pt_addcmul_(pt_tensor a, pt_tensor t1, pt_tensor t2, pt_scalar value);
int pt_addcdiv_(pt_tensor a, pt_tensor t1, pt_tensor t2, pt_scalar value);
int pt_lerp_(pt_tensor a, pt_tensor end, pt_scalar weight);
int pt_copy_(pt_tensor dst, pt_tensor src, bool non_blocking);
int pt_fill_(pt_tensor a, pt_scalar value);
// Elementwise equality of values (shapes must match) within tolerances, as torch.allclose.
int pt_allclose(pt_tensor a, pt_tensor b, double rtol, double atol, bool equal_nan);
int pt_equal(pt_tensor a, pt_tensor b);

// ---- reductions ----
typedef enum { PT_SUM, PT_MEAN, PT_AMAX, PT_AMIN, PT_PROD, PT_VAR, PT_STD, PT_NORM, PT_ANY, PT_ALL,
               PT_ARGMAX, PT_ARGMIN, PT_LOGSUMEXP } pt_reduce_op;
// Reduces over `dims` (n == 0: every dim). `param`: correction for var/std, p for norm.
// ARGMAX/ARGMIN take at most one dim.
pt_tensor pt_reduce(pt_reduce_op op, pt_tensor a, const intptr_t *dims, intptr_t n, bool keepdim,
                    double param);
int pt_topk(pt_tensor a, intptr_t k, intptr_t dim, bool largest, bool sorted, pt_tensor *values,
            pt_tensor *indices);
int pt_max_dim(pt_tensor a, intptr_t dim, bool keepdim, pt_tensor *values, pt_tensor *indices);
pt_tensor pt_cumsum(pt_tensor a, intptr_t dim);

// ---- linear algebra ----
pt_tensor pt_matmul(pt_tensor a, pt_tensor b);
/* Singular values of a matrix (or a batch of them), descending (torch.linalg.svdvals). */
pt_tensor pt_svdvals(pt_tensor a);
pt_tensor pt_bmm(pt_tensor a, pt_tensor b);
pt_tensor pt_linear(pt_tensor x, pt_tensor w, pt_tensor bias);

// ---- shape and indexing ----
pt_tensor pt_reshape(pt_tensor a, const intptr_t *sizes, intptr_t n);
pt_tensor pt_view(pt_tensor a, const intptr_t *sizes, intptr_t n);
pt_tensor pt_permute(pt_tensor a, const intptr_t *dims, intptr_t n);
pt_tensor pt_transpose(pt_tensor a, intptr_t d0, intptr_t d1);
pt_tensor pt_expand(pt_tensor a, const intptr_t *sizes, intptr_t n);
pt_tensor pt_repeat(pt_tensor a, const intptr_t *repeats, intptr_t n);
pt_tensor pt_flip(pt_tensor a, const intptr_t *dims, intptr_t n);
pt_tensor pt_squeeze(pt_tensor a, intptr_t dim);
pt_tensor pt_unsqueeze(pt_tensor a, intptr_t dim);
pt_tensor pt_flatten(pt_tensor a, intptr_t start, intptr_t end);
pt_tensor pt_narrow(pt_tensor a, intptr_t dim, intptr_t start, intptr_t length);
pt_tensor pt_slice(pt_tensor a, intptr_t dim, intptr_t start, intptr_t end, intptr_t step);
pt_tensor pt_select(pt_tensor a, intptr_t dim, intptr_t index);
pt_tensor pt_index_select(pt_tensor a, intptr_t dim, pt_tensor index);
pt_tensor pt_gather(pt_tensor a, intptr_t dim, pt_tensor index);
pt_tensor pt_cat(const pt_tensor *ts, intptr_t n, intptr_t dim);
pt_tensor pt_stack(const pt_tensor *ts, intptr_t n, intptr_t dim);
// Writes up to `cap` chunk handles into `out`; returns how many.
intptr_t pt_chunk(pt_tensor a, intptr_t chunks, intptr_t dim, pt_tensor *out, intptr_t cap);
// mode 0 constant (value), 1 reflect, 2 replicate; pad lists (before, after) pairs from the last dim.
pt_tensor pt_pad(pt_tensor a, const intptr_t *pad, intptr_t n, int mode, double value);
pt_tensor pt_one_hot(pt_tensor a, intptr_t num_classes);

// ---- neural network ops ----
// Convolution over 1, 2 or 3 spatial dims (from the weight's rank); stride/padding/dilation have one
// entry per spatial dim.
pt_tensor pt_conv(pt_tensor x, pt_tensor w, pt_tensor bias, const intptr_t *stride,
                  const intptr_t *padding, const intptr_t *dilation, intptr_t nspatial, intptr_t groups);
pt_tensor pt_conv_transpose2d(pt_tensor x, pt_tensor w, pt_tensor bias, const intptr_t *stride,
                              const intptr_t *padding, const intptr_t *output_padding, intptr_t groups,
                              const intptr_t *dilation);
// Training mode normalises with batch statistics and updates running_mean/var in place (when given).
pt_tensor pt_batch_norm(pt_tensor x, pt_tensor weight, pt_tensor bias, pt_tensor running_mean,
                        pt_tensor running_var, bool training, double momentum, double eps);
pt_tensor pt_layer_norm(pt_tensor x, const intptr_t *shape, intptr_t n, pt_tensor weight, pt_tensor bias,
                        double eps);
pt_tensor pt_max_pool2d(pt_tensor x, const intptr_t *kernel, const intptr_t *stride,
                        const intptr_t *padding, const intptr_t *dilation, bool ceil_mode);
pt_tensor pt_avg_pool2d(pt_tensor x, const intptr_t *kernel, const intptr_t *stride,
                        const intptr_t *padding, bool ceil_mode, bool count_include_pad);
pt_tensor pt_adaptive_avg_pool2d(pt_tensor x, const intptr_t *output_size);
pt_tensor pt_adaptive_max_pool2d(pt_tensor x, const intptr_t *output_size);
pt_tensor pt_pixel_shuffle(pt_tensor x, intptr_t factor);
pt_tensor pt_pixel_unshuffle(pt_tensor x, intptr_t factor);
// mode 0 nearest, 1 bilinear, 2 bilinear with antialiasing (PIL-like when shrinking; uint8 supported).
pt_tensor pt_interpolate(pt_tensor x, const intptr_t *size, int mode, bool align_corners);
pt_tensor pt_dropout(pt_tensor x, double p, bool train);
pt_tensor pt_softmax(pt_tensor x, intptr_t dim);
pt_tensor pt_log_softmax(pt_tensor x, intptr_t dim);
pt_tensor pt_mse_loss(pt_tensor x, pt_tensor target, int reduction);
pt_tensor pt_l1_loss(pt_tensor x, pt_tensor target, int reduction);
// weight NULL: unweighted. target holds class indices (int64).
pt_tensor pt_cross_entropy(pt_tensor logits, pt_tensor target, pt_tensor weight, int reduction,
                           intptr_t ignore_index, double label_smoothing);
pt_tensor pt_nll_loss(pt_tensor logp, pt_tensor target, pt_tensor weight, int reduction,
                      intptr_t ignore_index);
pt_tensor pt_bce_with_logits(pt_tensor x, pt_tensor target, int reduction);

// ---- multi-tensor (optimizer) kernels: libtorch's _foreach_ and _fused_ ops ----
int pt_foreach_add_(const pt_tensor *a, const pt_tensor *b, intptr_t n, pt_scalar alpha);
int pt_foreach_add_scalar_(const pt_tensor *a, intptr_t n, pt_scalar s);
int pt_foreach_mul_scalar_(const pt_tensor *a, intptr_t n, pt_scalar s);
int pt_foreach_mul_(const pt_tensor *a, const pt_tensor *b, intptr_t n);
int pt_foreach_div_(const pt_tensor *a, const pt_tensor *b, intptr_t n);
int pt_foreach_addcmul_(const pt_tensor *a, const pt_tensor *t1, const pt_tensor *t2, intptr_t n,
                        pt_scalar value);
int pt_foreach_addcdiv_(const pt_tensor *a, const pt_tensor *t1, const pt_tensor *t2, intptr_t n,
                        pt_scalar value);
int pt_foreach_lerp_(const pt_tensor *a, const pt_tensor *end, intptr_t n, pt_scalar weight);
int pt_foreach_copy_(const pt_tensor *dst, const pt_tensor *src, intptr_t n);
int pt_foreach_zero_(const pt_tensor *a, intptr_t n);
// Out-of-place results are written into `out` (n handles).
int pt_foreach_sqrt(const pt_tensor *a, intptr_t n, pt_tensor *out);
int pt_foreach_norm(const pt_tensor *a, intptr_t n, double p, pt_tensor *out);
// torch.optim's fused Adam/AdamW step (AdamW when `decoupled`), in place over the lists.
int pt_fused_adam_(const pt_tensor *params, const pt_tensor *grads, const pt_tensor *exp_avgs,
                   const pt_tensor *exp_avg_sqs, const pt_tensor *max_exp_avg_sqs, const pt_tensor *steps,
                   intptr_t n, double lr, double beta1, double beta2, double weight_decay, double eps,
                   bool amsgrad, bool maximize, bool decoupled);
// torch.optim's fused SGD step; momentum_buffers may be NULL when momentum == 0.
int pt_fused_sgd_(const pt_tensor *params, const pt_tensor *grads, const pt_tensor *momentum_buffers,
                  intptr_t n, double weight_decay, double momentum, double lr, double dampening,
                  bool nesterov, bool maximize, bool is_first_step);

#ifdef __cplusplus
}
#endif

#endif
