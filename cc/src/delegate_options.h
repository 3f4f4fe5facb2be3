// Options of tflite_plugin_create_delegate (strings, as load_delegate passes them) and the
// object a bitlite TfLiteDelegate carries.
#ifndef BITLITE_SRC_DELEGATE_OPTIONS_H_
#define BITLITE_SRC_DELEGATE_OPTIONS_H_

#include <cstddef>
#include <string>

#include "bitlite/tflite_c_abi.h"

namespace bitlite {

struct DelegateOptions {
  // Threads for the kernels; -1 takes the interpreter's recommended_num_threads. Accepted
  // now so models and scripts keep working once kernels run on several threads.
  int num_threads = -1;
  // Print to stderr which nodes the delegate takes over, with shapes and bit widths.
  bool verbose = false;
};

// Returns false with a message in *error for an unknown key or a bad value.
bool ParseDelegateOptions(const char* const* keys, const char* const* values, size_t count,
                          DelegateOptions* options, std::string* error);

// What a bitlite TfLiteDelegate is: `delegate.data_` points to the whole object.
struct BitliteDelegate {
  TfLiteDelegate delegate;
  DelegateOptions options;
};

}  // namespace bitlite

#endif  // BITLITE_SRC_DELEGATE_OPTIONS_H_
