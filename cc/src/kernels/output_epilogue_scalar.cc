#include "kernels/output_epilogue.h"

#include "kernels/output_stage_reference.h"

namespace bitlite {

void OutputEpilogueScalar(const int32_t* core, int64_t channels, const EpilogueTerms& terms,
                          const float* multiplier, const float* offset, Activation activation,
                          int32_t* acc, float* y) {
  const uint32_t constant = static_cast<uint32_t>(terms.constant);
  for (int64_t c = 0; c < channels; ++c) {
    uint32_t value = (static_cast<uint32_t>(core[c]) << terms.scale_shift) + constant;
    if (terms.channel_terms != nullptr) value += static_cast<uint32_t>(terms.channel_terms[c]);
    acc[c] = static_cast<int32_t>(value);
  }
  OutputStageReference(acc, channels, multiplier, offset, activation, y);
}

void RunEpilogueWithScalarTail(const EpilogueVectorLoop (&loops)[3], const int32_t* core,
                               int64_t channels, const EpilogueTerms& terms,
                               const float* multiplier, const float* offset,
                               Activation activation, int32_t* acc, float* y) {
  const int64_t done =
      loops[static_cast<int>(activation)](core, channels, terms, multiplier, offset, y);
  if (done == channels) return;
  EpilogueTerms tail = terms;
  if (tail.channel_terms != nullptr) tail.channel_terms += done;
  OutputEpilogueScalar(core + done, channels - done, tail, multiplier + done, offset + done,
                       activation, acc + done, y + done);
}

}  // namespace bitlite
