// The shim's error convention (C++ only; no C API types, so a target whose module cannot import CTorch's
// headers — CDistributed — can include it): a C++ exception becomes the thread's error message.
#pragma once
#include <c10/util/Exception.h>

#include <exception>

namespace ctorch {

void set_error(const char *message);

// Runs `body`; a C++ exception becomes the thread's error message and `fail` is returned.
template <typename R, typename F>
inline R guard(R fail, F &&body) {
  try {
    return body();
  } catch (const c10::Error &e) {
    set_error(e.what_without_backtrace());
  } catch (const std::exception &e) {
    set_error(e.what());
  } catch (...) {
    set_error("unknown C++ exception");
  }
  return fail;
}

// Guarded call with no result: 0 on success, -1 on error.
template <typename F>
inline int status_op(F &&body) {
  return guard<int>(-1, [&] {
    body();
    return 0;
  });
}

}  // namespace ctorch
