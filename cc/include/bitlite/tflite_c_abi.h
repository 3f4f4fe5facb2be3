// The subset of the public TensorFlow Lite C ABI (tensorflow/lite/core/c/common.h) that the
// bitlite delegate uses, declared here because no reachable package ships the TFLite headers.
//
// Checked against (64-bit x86_64 Linux): TF 2.21 tf.lite, ai-edge-litert 2.3.0 and
// tflite-runtime 2.14.0; the same delegate binary ran unchanged on all three.
//
// Layout rules:
// - TfLiteTensor is indexed as an array (context->tensors), TfLiteRegistration is passed by
//   value and TfLiteDelegate is allocated by us: their full sizes must match the runtime's,
//   so they are pinned below for 64-bit targets and for 32-bit ARM (AAPCS: 8-byte aligned
//   64-bit fields).
// - TfLiteNode and TfLiteContext are only read through runtime-owned pointers: a correct
//   prefix is enough, and fields after the last one we read are left out on purpose.
#ifndef BITLITE_TFLITE_C_ABI_H_
#define BITLITE_TFLITE_C_ABI_H_

#include <stddef.h>
#include <stdint.h>
#ifndef __cplusplus
#include <stdbool.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum TfLiteStatus {
  kTfLiteOk = 0,
  kTfLiteError = 1,
  kTfLiteDelegateError = 2,
  kTfLiteApplicationError = 3,
  kTfLiteDelegateDataNotFound = 4,
  kTfLiteDelegateDataWriteError = 5,
  kTfLiteDelegateDataReadError = 6,
  kTfLiteUnresolvedOps = 7,
  kTfLiteCancelled = 8,
} TfLiteStatus;

typedef enum TfLiteType {
  kTfLiteNoType = 0,
  kTfLiteFloat32 = 1,
  kTfLiteInt32 = 2,
  kTfLiteUInt8 = 3,
  kTfLiteInt64 = 4,
  kTfLiteString = 5,
  kTfLiteBool = 6,
  kTfLiteInt16 = 7,
  kTfLiteComplex64 = 8,
  kTfLiteInt8 = 9,
  kTfLiteFloat16 = 10,
  kTfLiteFloat64 = 11,
  kTfLiteComplex128 = 12,
  kTfLiteUInt64 = 13,
  kTfLiteResource = 14,
  kTfLiteVariant = 15,
  kTfLiteUInt32 = 16,
  kTfLiteUInt16 = 17,
  kTfLiteInt4 = 18,
  kTfLiteBFloat16 = 19,
} TfLiteType;

// schema.fbs BuiltinOperator values the delegate compares against, claims or registers with.
enum {
  kTfLiteBuiltinAdd = 0,
  kTfLiteBuiltinAveragePool2d = 1,
  kTfLiteBuiltinConcatenation = 2,
  kTfLiteBuiltinMaxPool2d = 17,
  kTfLiteBuiltinMul = 18,
  kTfLiteBuiltinRelu = 19,
  kTfLiteBuiltinReluN1To1 = 20,
  kTfLiteBuiltinRelu6 = 21,
  kTfLiteBuiltinReshape = 22,
  kTfLiteBuiltinCustom = 32,
  kTfLiteBuiltinPad = 34,
  kTfLiteBuiltinMean = 40,
  kTfLiteBuiltinSub = 41,
  kTfLiteBuiltinDiv = 42,
  kTfLiteBuiltinStridedSlice = 45,
  kTfLiteBuiltinSplit = 49,
  kTfLiteBuiltinDelegate = 51,
  kTfLiteBuiltinMaximum = 55,
  kTfLiteBuiltinMinimum = 57,
  kTfLiteBuiltinUnpack = 88,
  kTfLiteBuiltinResizeNearestNeighbor = 97,
  kTfLiteBuiltinLeakyRelu = 98,
  kTfLiteBuiltinSplitV = 102,
  kTfLiteBuiltinRound = 116,
};

enum {
  kTfLiteDelegateFlagsNone = 0,
  kTfLiteDelegateFlagsAllowDynamicTensors = 1,
};

// Allocate with malloc(offsetof(TfLiteIntArray, data) + n * sizeof(int)): the runtime frees
// arrays handed to ResizeTensor with free().
typedef struct TfLiteIntArray {
  int size;
  int data[];
} TfLiteIntArray;

// Upstream master replaced this with a pointer form; the delegate never reads one (per-channel
// scales travel in the custom options), it is declared only to document the 2.14-2.21 ABI.
typedef struct TfLiteFloatArray {
  int size;
  float data[];
} TfLiteFloatArray;

typedef struct TfLiteQuantizationParams {
  float scale;
  int32_t zero_point;
} TfLiteQuantizationParams;

typedef enum TfLiteQuantizationType {
  kTfLiteNoQuantization = 0,
  kTfLiteAffineQuantization = 1,
} TfLiteQuantizationType;

typedef struct TfLiteQuantization {
  TfLiteQuantizationType type;
  void* params;
} TfLiteQuantization;

typedef enum TfLiteAllocationType {
  kTfLiteMemNone = 0,
  kTfLiteMmapRo,
  kTfLiteArenaRw,
  kTfLiteArenaRwPersistent,
  kTfLiteDynamic,
  kTfLitePersistentRo,
  kTfLiteCustom,
  kTfLiteVariantObject,
} TfLiteAllocationType;

// Every member is a pointer, so leaving out the ones of types we never touch (float16,
// complex) changes neither size nor alignment.
typedef union TfLitePtrUnion {
  int32_t* i32;
  uint32_t* u32;
  int64_t* i64;
  uint64_t* u64;
  float* f;
  double* f64;
  char* raw;
  const char* raw_const;
  uint8_t* uint8;
  bool* b;
  int16_t* i16;
  uint16_t* ui16;
  int8_t* int8;
  void* data;
} TfLitePtrUnion;

typedef int TfLiteBufferHandle;

struct TfLiteDelegate;
struct TfLiteSparsity;
struct TfLiteOpaqueDelegateBuilder;
struct TfLiteRegistrationExternal;
struct TfLiteAsyncKernel;

typedef struct TfLiteTensor {
  TfLiteType type;
  TfLitePtrUnion data;
  TfLiteIntArray* dims;
  TfLiteQuantizationParams params;
  TfLiteAllocationType allocation_type;
  size_t bytes;
  const void* allocation;
  const char* name;
  struct TfLiteDelegate* delegate;
  TfLiteBufferHandle buffer_handle;
  bool data_is_stale;
  bool is_variable;
  TfLiteQuantization quantization;
  struct TfLiteSparsity* sparsity;
  const TfLiteIntArray* dims_signature;
} TfLiteTensor;

// Prefix only (read through a pointer).
typedef struct TfLiteNode {
  TfLiteIntArray* inputs;
  TfLiteIntArray* outputs;
  TfLiteIntArray* intermediates;
  TfLiteIntArray* temporaries;
  void* user_data;
  void* builtin_data;
  const void* custom_initial_data;
  int custom_initial_data_size;
} TfLiteNode;

// What a delegate kernel's init() receives as its buffer (with length 0).
typedef struct TfLiteDelegateParams {
  struct TfLiteDelegate* delegate;
  TfLiteIntArray* nodes_to_replace;
  TfLiteIntArray* input_tensors;
  TfLiteIntArray* output_tensors;
} TfLiteDelegateParams;

struct TfLiteRegistration;

// Prefix only (read through a pointer), up to recommended_num_threads. GetTensor,
// ResizeTensorExplicit and AllocatePersistentBuffer sit further on and were NULL in all three
// runtimes anyway.
typedef struct TfLiteContext {
  size_t tensors_size;
  TfLiteStatus (*GetExecutionPlan)(struct TfLiteContext* context, TfLiteIntArray** execution_plan);
  TfLiteTensor* tensors;
  void* impl_;
  TfLiteStatus (*ResizeTensor)(struct TfLiteContext* context, TfLiteTensor* tensor,
                               TfLiteIntArray* new_size);
  void (*ReportError)(struct TfLiteContext* context, const char* format, ...);
  TfLiteStatus (*AddTensors)(struct TfLiteContext* context, int tensors_to_add,
                             int* first_new_tensor_index);
  TfLiteStatus (*GetNodeAndRegistration)(struct TfLiteContext* context, int node_index,
                                         TfLiteNode** node,
                                         struct TfLiteRegistration** registration);
  TfLiteStatus (*ReplaceNodeSubsetsWithDelegateKernels)(struct TfLiteContext* context,
                                                        struct TfLiteRegistration registration,
                                                        const TfLiteIntArray* nodes_to_replace,
                                                        struct TfLiteDelegate* delegate);
  int recommended_num_threads;
} TfLiteContext;

typedef struct TfLiteRegistration {
  void* (*init)(TfLiteContext* context, const char* buffer, size_t length);
  void (*free)(TfLiteContext* context, void* buffer);
  TfLiteStatus (*prepare)(TfLiteContext* context, TfLiteNode* node);
  TfLiteStatus (*invoke)(TfLiteContext* context, TfLiteNode* node);
  const char* (*profiling_string)(const TfLiteContext* context, const TfLiteNode* node);
  int32_t builtin_code;
  const char* custom_name;
  int version;
  struct TfLiteRegistrationExternal* registration_external;
  struct TfLiteAsyncKernel* (*async_kernel)(TfLiteContext* context, TfLiteNode* node);
  uint64_t inplace_operator;
} TfLiteRegistration;

typedef struct TfLiteDelegate {
  void* data_;
  TfLiteStatus (*Prepare)(TfLiteContext* context, struct TfLiteDelegate* delegate);
  TfLiteStatus (*CopyFromBufferHandle)(TfLiteContext* context, struct TfLiteDelegate* delegate,
                                       TfLiteBufferHandle buffer_handle, TfLiteTensor* tensor);
  TfLiteStatus (*CopyToBufferHandle)(TfLiteContext* context, struct TfLiteDelegate* delegate,
                                     TfLiteBufferHandle buffer_handle, TfLiteTensor* tensor);
  void (*FreeBufferHandle)(TfLiteContext* context, struct TfLiteDelegate* delegate,
                           TfLiteBufferHandle* handle);
  int64_t flags;
  struct TfLiteOpaqueDelegateBuilder* opaque_delegate_builder;
} TfLiteDelegate;

// builtin_data of the builtin ops the delegate claims (tensorflow/lite/core/c/builtin_op_data.h).
// Read through node->builtin_data, which the runtime allocates: like TfLiteNode, a correct
// prefix is enough (TfLiteAddParams and TfLiteSubParams end in a bool pot_scale_int16 that is
// left out, as it only concerns int16).
typedef enum TfLitePadding {
  kTfLitePaddingUnknown = 0,
  kTfLitePaddingSame = 1,
  kTfLitePaddingValid = 2,
} TfLitePadding;

typedef struct TfLitePaddingValues {
  int width;
  int height;
  int width_offset;
  int height_offset;
} TfLitePaddingValues;

typedef enum TfLiteFusedActivation {
  kTfLiteActNone = 0,
  kTfLiteActRelu = 1,
  kTfLiteActReluN1To1 = 2,
  kTfLiteActRelu6 = 3,
  kTfLiteActTanh = 4,
  kTfLiteActSignBit = 5,
  kTfLiteActSigmoid = 6,
} TfLiteFusedActivation;

// ADD, SUB, MUL and DIV: the fused activation first in each.
typedef struct TfLiteAddParams {
  TfLiteFusedActivation activation;
} TfLiteAddParams;

typedef struct TfLitePoolParams {
  TfLitePadding padding;
  int stride_width;
  int stride_height;
  int filter_width;
  int filter_height;
  TfLiteFusedActivation activation;
  struct {
    TfLitePaddingValues padding;
  } computed;
} TfLitePoolParams;

typedef struct TfLiteReshapeParams {
  int shape[8];
  int num_dimensions;
} TfLiteReshapeParams;

typedef struct TfLiteConcatenationParams {
  int axis;
  TfLiteFusedActivation activation;
} TfLiteConcatenationParams;

typedef struct TfLiteUnpackParams {
  int num;
  int axis;
} TfLiteUnpackParams;

typedef struct TfLiteStridedSliceParams {
  int begin_mask;
  int end_mask;
  int ellipsis_mask;
  int new_axis_mask;
  int shrink_axis_mask;
  bool offset;
} TfLiteStridedSliceParams;

// SPLIT and SPLIT_V.
typedef struct TfLiteSplitParams {
  int num_splits;
} TfLiteSplitParams;

typedef struct TfLiteResizeNearestNeighborParams {
  bool align_corners;
  bool half_pixel_centers;
} TfLiteResizeNearestNeighborParams;

typedef struct TfLiteLeakyReluParams {
  float alpha;
} TfLiteLeakyReluParams;

#ifdef __cplusplus
}  // extern "C"

static_assert(sizeof(TfLiteIntArray) == sizeof(int), "flexible array member expected");
static_assert(sizeof(TfLitePoolParams) == 40, "TfLitePoolParams layout");
static_assert(sizeof(TfLiteReshapeParams) == 36, "TfLiteReshapeParams layout");

#if UINTPTR_MAX == UINT64_MAX
static_assert(sizeof(TfLiteTensor) == 112, "TfLiteTensor layout (64-bit)");
static_assert(sizeof(TfLiteRegistration) == 88, "TfLiteRegistration layout (64-bit)");
static_assert(sizeof(TfLiteDelegate) == 56, "TfLiteDelegate layout (64-bit)");
#elif defined(__arm__)
// 32-bit ARM: the uint64_t/int64_t fields are 8-byte aligned, which pads TfLiteRegistration
// (inplace_operator at 40) and TfLiteDelegate (flags at 24, total rounded up to 40).
static_assert(sizeof(TfLiteTensor) == 64, "TfLiteTensor layout (32-bit ARM)");
static_assert(sizeof(TfLiteRegistration) == 48, "TfLiteRegistration layout (32-bit ARM)");
static_assert(sizeof(TfLiteDelegate) == 40, "TfLiteDelegate layout (32-bit ARM)");
#endif
#endif  // __cplusplus

#endif  // BITLITE_TFLITE_C_ABI_H_
