// The kernel that replaces each subset of bitlite nodes the delegate takes over.
#ifndef BITLITE_SRC_DELEGATE_KERNEL_H_
#define BITLITE_SRC_DELEGATE_KERNEL_H_

#include "bitlite/tflite_c_abi.h"

namespace bitlite {

// Passed by value to ReplaceNodeSubsetsWithDelegateKernels.
TfLiteRegistration DelegateKernelRegistration();

}  // namespace bitlite

#endif  // BITLITE_SRC_DELEGATE_KERNEL_H_
