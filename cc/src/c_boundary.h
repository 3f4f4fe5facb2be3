// Helpers for the functions the runtime calls through the C ABI: no exception may cross it,
// and every failure is reported through the context before returning an error status.
#ifndef BITLITE_SRC_C_BOUNDARY_H_
#define BITLITE_SRC_C_BOUNDARY_H_

#include <exception>
#include <new>

#include "bitlite/tflite_c_abi.h"

namespace bitlite {

// Takes a C string so reporting cannot itself throw. The message may quote model contents:
// it is never used as the format.
inline void ReportError(TfLiteContext* context, const char* message) {
  if (context->ReportError != nullptr) context->ReportError(context, "%s", message);
}

// Runs `body` (returning TfLiteStatus) and turns any exception into a reported error.
template <typename Body>
TfLiteStatus CatchAll(TfLiteContext* context, Body&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    ReportError(context, "bitlite: out of memory");
  } catch (const std::exception& error) {
    // Sizes are checked before anything is allocated, so this is a bug: say what threw.
    if (context->ReportError != nullptr) {
      context->ReportError(context, "bitlite: internal error: %s", error.what());
    }
  } catch (...) {
    ReportError(context, "bitlite: unexpected internal error");
  }
  return kTfLiteError;
}

}  // namespace bitlite

#endif  // BITLITE_SRC_C_BOUNDARY_H_
