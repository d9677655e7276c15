// Views, reshaping, joining and indexing.
#include "shim.h"

using namespace ctorch;

extern "C" {

pt_tensor pt_reshape(pt_tensor a, const intptr_t *s, intptr_t n) {
  return tensor_op([&] { return at::reshape(T(a), ints(s, n)); });
}
pt_tensor pt_view(pt_tensor a, const intptr_t *s, intptr_t n) { return tensor_op([&] { return T(a).view(ints(s, n)); }); }
pt_tensor pt_permute(pt_tensor a, const intptr_t *d, intptr_t n) {
  return tensor_op([&] { return at::permute(T(a), ints(d, n)); });
}
pt_tensor pt_transpose(pt_tensor a, intptr_t d0, intptr_t d1) { return tensor_op([&] { return at::transpose(T(a), d0, d1); }); }
pt_tensor pt_expand(pt_tensor a, const intptr_t *s, intptr_t n) { return tensor_op([&] { return T(a).expand(ints(s, n)); }); }
pt_tensor pt_repeat(pt_tensor a, const intptr_t *r, intptr_t n) { return tensor_op([&] { return T(a).repeat(ints(r, n)); }); }
pt_tensor pt_flip(pt_tensor a, const intptr_t *d, intptr_t n) { return tensor_op([&] { return at::flip(T(a), ints(d, n)); }); }
pt_tensor pt_squeeze(pt_tensor a, intptr_t dim) { return tensor_op([&] { return at::squeeze(T(a), dim); }); }
pt_tensor pt_unsqueeze(pt_tensor a, intptr_t dim) { return tensor_op([&] { return at::unsqueeze(T(a), dim); }); }
pt_tensor pt_flatten(pt_tensor a, intptr_t s, intptr_t e) { return tensor_op([&] { return at::flatten(T(a), s, e); }); }
pt_tensor pt_narrow(pt_tensor a, intptr_t dim, intptr_t start, intptr_t len) {
  return tensor_op([&] { return at::narrow(T(a), dim, start, len); });
}
pt_tensor pt_slice(pt_tensor a, intptr_t dim, intptr_t start, intptr_t end, intptr_t step) {
  return tensor_op([&] { return at::slice(T(a), dim, start, end, step); });
}
pt_tensor pt_select(pt_tensor a, intptr_t dim, intptr_t i) { return tensor_op([&] { return at::select(T(a), dim, i); }); }
pt_tensor pt_index_select(pt_tensor a, intptr_t dim, pt_tensor idx) {
  return tensor_op([&] { return at::index_select(T(a), dim, T(idx)); });
}
pt_tensor pt_gather(pt_tensor a, intptr_t dim, pt_tensor idx) { return tensor_op([&] { return at::gather(T(a), dim, T(idx)); }); }
pt_tensor pt_cat(const pt_tensor *ts, intptr_t n, intptr_t dim) { return tensor_op([&] { return at::cat(list(ts, n), dim); }); }
pt_tensor pt_stack(const pt_tensor *ts, intptr_t n, intptr_t dim) { return tensor_op([&] { return at::stack(list(ts, n), dim); }); }
intptr_t pt_chunk(pt_tensor a, intptr_t chunks, intptr_t dim, pt_tensor *out, intptr_t cap) {
  return guard<intptr_t>(-1, [&] {
    auto parts = at::chunk(T(a), chunks, dim);
    if ((intptr_t)parts.size() > cap) throw std::invalid_argument("chunk: more parts than room for them");
    for (size_t i = 0; i < parts.size(); i++) out[i] = wrap(parts[i]);
    return (intptr_t)parts.size();
  });
}
pt_tensor pt_pad(pt_tensor a, const intptr_t *pad, intptr_t n, int mode, double value) {
  return tensor_op([&] {
    switch (mode) {
      case 0: return at::constant_pad_nd(T(a), ints(pad, n), value);
      case 1: return at::pad(T(a), ints(pad, n), "reflect");
      case 2: return at::pad(T(a), ints(pad, n), "replicate");
    }
    throw std::invalid_argument("unknown padding mode " + std::to_string(mode));
  });
}
pt_tensor pt_one_hot(pt_tensor a, intptr_t k) { return tensor_op([&] { return at::one_hot(T(a), k); }); }

}  // extern "C"
