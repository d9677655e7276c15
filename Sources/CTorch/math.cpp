// Elementwise arithmetic, comparisons, reductions and linear algebra.
#include <ATen/ScalarOps.h>

#include "shim.h"

using namespace ctorch;

namespace {

at::Tensor unary(pt_unary_op op, const at::Tensor &a) {
  switch (op) {
    case PT_NEG: return at::neg(a);
    case PT_ABS: return at::abs(a);
    case PT_EXP: return at::exp(a);
    case PT_LOG: return at::log(a);
    case PT_SQRT: return at::sqrt(a);
    case PT_RSQRT: return at::rsqrt(a);
    case PT_SIN: return at::sin(a);
    case PT_COS: return at::cos(a);
    case PT_TANH: return at::tanh(a);
    case PT_SIGMOID: return at::sigmoid(a);
    case PT_RELU: return at::relu(a);
    case PT_MISH: return at::mish(a);
    case PT_SILU: return at::silu(a);
    case PT_GELU: return at::gelu(a);
    case PT_SIGN: return at::sign(a);
    case PT_FLOOR: return at::floor(a);
    case PT_CEIL: return at::ceil(a);
    case PT_ROUND: return at::round(a);
    case PT_RECIPROCAL: return at::reciprocal(a);
    case PT_SQUARE: return at::square(a);
    case PT_LOG1P: return at::log1p(a);
    case PT_EXPM1: return at::expm1(a);
    case PT_ERF: return at::erf(a);
    case PT_ISNAN: return at::isnan(a);
    case PT_ISINF: return at::isinf(a);
    case PT_ISFINITE: return at::isfinite(a);
    case PT_LOGICAL_NOT: return at::logical_not(a);
    case PT_ZERO: return at::zeros_like(a);
    case PT_HARDSWISH: return at::hardswish(a);
  }
  throw std::invalid_argument("unknown unary op " + std::to_string((int)op));
}

void unary_(pt_unary_op op, at::Tensor &a) {
  switch (op) {
    case PT_NEG: a.neg_(); return;
    case PT_ABS: a.abs_(); return;
    case PT_EXP: a.exp_(); return;
    case PT_LOG: a.log_(); return;
    case PT_SQRT: a.sqrt_(); return;
    case PT_RSQRT: a.rsqrt_(); return;
    case PT_SIGMOID: a.sigmoid_(); return;
    case PT_TANH: a.tanh_(); return;
    case PT_RELU: a.relu_(); return;
    case PT_MISH: at::mish_(a); return;
    case PT_SILU: at::silu_(a); return;
    case PT_FLOOR: a.floor_(); return;
    case PT_CEIL: a.ceil_(); return;
    case PT_ROUND: a.round_(); return;
    case PT_RECIPROCAL: a.reciprocal_(); return;
    case PT_SQUARE: a.square_(); return;
    case PT_ZERO: a.zero_(); return;
    case PT_HARDSWISH: at::hardswish_(a); return;
    default: break;
  }
  throw std::invalid_argument("unary op " + std::to_string((int)op) + " has no in-place form");
}

at::Tensor binary(pt_binary_op op, const at::Tensor &a, const at::Tensor &b, const at::Scalar &alpha) {
  switch (op) {
    case PT_ADD: return at::add(a, b, alpha);
    case PT_SUB: return at::sub(a, b, alpha);
    case PT_MUL: return at::mul(a, b);
    case PT_DIV: return at::div(a, b);
    case PT_POW: return at::pow(a, b);
    case PT_REMAINDER: return at::remainder(a, b);
    case PT_FLOOR_DIVIDE: return at::floor_divide(a, b);
    case PT_EQ: return at::eq(a, b);
    case PT_NE: return at::ne(a, b);
    case PT_LT: return at::lt(a, b);
    case PT_LE: return at::le(a, b);
    case PT_GT: return at::gt(a, b);
    case PT_GE: return at::ge(a, b);
    case PT_MAXIMUM: return at::maximum(a, b);
    case PT_MINIMUM: return at::minimum(a, b);
    case PT_LOGICAL_AND: return at::logical_and(a, b);
    case PT_LOGICAL_OR: return at::logical_or(a, b);
    case PT_ATAN2: return at::atan2(a, b);
  }
  throw std::invalid_argument("unknown binary op " + std::to_string((int)op));
}

void binary_(pt_binary_op op, at::Tensor &a, const at::Tensor &b, const at::Scalar &alpha) {
  switch (op) {
    case PT_ADD: a.add_(b, alpha); return;
    case PT_SUB: a.sub_(b, alpha); return;
    case PT_MUL: a.mul_(b); return;
    case PT_DIV: a.div_(b); return;
    case PT_POW: a.pow_(b); return;
    case PT_REMAINDER: a.remainder_(b); return;
    case PT_MAXIMUM: a.clamp_min_(b); return;
    case PT_MINIMUM: a.clamp_max_(b); return;
    default: break;
  }
  throw std::invalid_argument("binary op " + std::to_string((int)op) + " has no in-place form");
}

// A Python number as PyTorch's Python layer passes it: a CPU 0-d "wrapped number" tensor, which takes
// part in type promotion as a number does and costs one dispatch less than the Scalar overloads.
at::Tensor number(pt_scalar s) { return at::native::wrapped_scalar_tensor(scalar(s)); }

std::optional<at::Scalar> opt_scalar(const pt_scalar *s) {
  if (s == nullptr) return std::nullopt;
  return scalar(*s);
}

}  // namespace

extern "C" {

pt_tensor pt_unary(pt_unary_op op, pt_tensor a) { return tensor_op([&] { return unary(op, T(a)); }); }
int pt_unary_(pt_unary_op op, pt_tensor a) {
  return status_op([&] { unary_(op, const_cast<at::Tensor &>(T(a))); });
}
pt_tensor pt_binary(pt_binary_op op, pt_tensor a, pt_tensor b, pt_scalar alpha) {
  return tensor_op([&] { return binary(op, T(a), T(b), scalar(alpha)); });
}
int pt_binary_(pt_binary_op op, pt_tensor a, pt_tensor b, pt_scalar alpha) {
  return status_op([&] { binary_(op, const_cast<at::Tensor &>(T(a)), T(b), scalar(alpha)); });
}
pt_tensor pt_binary_scalar(pt_binary_op op, pt_tensor a, pt_scalar s, bool reversed) {
  return tensor_op([&] { return reversed ? binary(op, number(s), T(a), 1) : binary(op, T(a), number(s), 1); });
}
int pt_binary_scalar_(pt_binary_op op, pt_tensor a, pt_scalar s) {
  return status_op([&] { binary_(op, const_cast<at::Tensor &>(T(a)), number(s), 1); });
}
pt_tensor pt_leaky_relu(pt_tensor a, double slope) { return tensor_op([&] { return at::leaky_relu(T(a), slope); }); }
pt_tensor pt_clamp(pt_tensor a, const pt_scalar *lo, const pt_scalar *hi) {
  return tensor_op([&] { return at::clamp(T(a), opt_scalar(lo), opt_scalar(hi)); });
}
int pt_clamp_(pt_tensor a, const pt_scalar *lo, const pt_scalar *hi) {
  return status_op([&] { at::clamp_(const_cast<at::Tensor &>(T(a)), opt_scalar(lo), opt_scalar(hi)); });
}
pt_tensor pt_where(pt_tensor c, pt_tensor a, pt_tensor b) {
  return tensor_op([&] { return at::where(T(c), T(a), T(b)); });
}
pt_tensor pt_masked_fill(pt_tensor a, pt_tensor mask, pt_scalar v) {
  return tensor_op([&] { return at::masked_fill(T(a), T(mask), scalar(v)); });
}
int pt_addcmul_(pt_tensor a, pt_tensor t1, pt_tensor t2, pt_scalar v) {
  return status_op([&] { T(a).addcmul_(T(t1), T(t2), scalar(v)); });
}
int pt_addcdiv_(pt_tensor a, pt_tensor t1, pt_tensor t2, pt_scalar v) {
  return status_op([&] { T(a).addcdiv_(T(t1), T(t2), scalar(v)); });
}
int pt_lerp_(pt_tensor a, pt_tensor end, pt_scalar w) { return status_op([&] { T(a).lerp_(T(end), scalar(w)); }); }
int pt_copy_(pt_tensor dst, pt_tensor src, bool nb) { return status_op([&] { T(dst).copy_(T(src), nb); }); }
int pt_fill_(pt_tensor a, pt_scalar v) { return status_op([&] { T(a).fill_(scalar(v)); }); }
int pt_allclose(pt_tensor a, pt_tensor b, double rtol, double atol, bool equal_nan) {
  return guard<int>(-1, [&] { return (int)at::allclose(T(a), T(b), rtol, atol, equal_nan); });
}
int pt_equal(pt_tensor a, pt_tensor b) { return guard<int>(-1, [&] { return (int)at::equal(T(a), T(b)); }); }

// ---- reductions ----
pt_tensor pt_reduce(pt_reduce_op op, pt_tensor h, const intptr_t *dims, intptr_t n, bool keepdim, double param) {
  return tensor_op([&] {
    const at::Tensor &a = T(h);
    at::OptionalIntArrayRef d = n > 0 ? at::OptionalIntArrayRef(ints(dims, n)) : at::OptionalIntArrayRef();
    auto all = [&] {
      std::vector<int64_t> v(a.dim());
      for (int64_t i = 0; i < a.dim(); i++) v[i] = i;
      return v;
    };
    std::vector<int64_t> every = n > 0 ? std::vector<int64_t>(dims, dims + n) : all();
    switch (op) {
      case PT_SUM: return at::sum(a, d, keepdim);
      case PT_MEAN: return at::mean(a, d, keepdim);
      case PT_AMAX: return at::amax(a, every, keepdim);
      case PT_AMIN: return at::amin(a, every, keepdim);
      case PT_PROD: {
        at::Tensor r = a;
        std::sort(every.rbegin(), every.rend());
        for (auto dim : every) r = at::prod(r, dim, keepdim);
        return r;
      }
      case PT_VAR: return at::var(a, d, at::Scalar(param), keepdim);
      case PT_STD: return at::std(a, d, at::Scalar(param), keepdim);
      case PT_NORM: return at::linalg_vector_norm(a, at::Scalar(param), d, keepdim);
      case PT_ANY: return n > 0 ? at::any(a, every, keepdim) : at::any(a);
      case PT_ALL: return n > 0 ? at::all(a, every, keepdim) : at::all(a);
      case PT_ARGMAX:
      case PT_ARGMIN: {
        if (n > 1) throw std::invalid_argument("argmax/argmin take at most one dim");
        std::optional<int64_t> dim = n == 1 ? std::optional<int64_t>(dims[0]) : std::nullopt;
        return op == PT_ARGMAX ? at::argmax(a, dim, keepdim) : at::argmin(a, dim, keepdim);
      }
      case PT_LOGSUMEXP: return at::logsumexp(a, every, keepdim);
    }
    throw std::invalid_argument("unknown reduction " + std::to_string((int)op));
  });
}
int pt_topk(pt_tensor a, intptr_t k, intptr_t dim, bool largest, bool sorted, pt_tensor *values,
            pt_tensor *indices) {
  return status_op([&] {
    auto [v, i] = at::topk(T(a), k, dim, largest, sorted);
    *values = wrap(v);
    *indices = wrap(i);
  });
}
int pt_max_dim(pt_tensor a, intptr_t dim, bool keepdim, pt_tensor *values, pt_tensor *indices) {
  return status_op([&] {
    auto [v, i] = at::max(T(a), dim, keepdim);
    *values = wrap(v);
    *indices = wrap(i);
  });
}
pt_tensor pt_cumsum(pt_tensor a, intptr_t dim) { return tensor_op([&] { return at::cumsum(T(a), dim); }); }

// ---- linear algebra ----
pt_tensor pt_matmul(pt_tensor a, pt_tensor b) { return tensor_op([&] { return at::matmul(T(a), T(b)); }); }
pt_tensor pt_svdvals(pt_tensor a) { return tensor_op([&] { return at::linalg_svdvals(T(a)); }); }
pt_tensor pt_bmm(pt_tensor a, pt_tensor b) { return tensor_op([&] { return at::bmm(T(a), T(b)); }); }
pt_tensor pt_linear(pt_tensor x, pt_tensor w, pt_tensor b) {
  return tensor_op([&] { return at::linear(T(x), T(w), opt(b)); });
}

}  // extern "C"
