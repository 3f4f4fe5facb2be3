#include "kernels/epilogue/output_epilogue.h"

#include "kernels/reference/output_stage_reference.h"

namespace bitlite {
namespace {

// One pixel's integer step and output stage.
void EpiloguePixel(const int32_t* core, int64_t channels, int scale_shift, int32_t constant,
                   const int32_t* channel_terms, const float* multiplier, const float* offset,
                   Activation activation, int32_t* acc, float* y) {
  for (int64_t c = 0; c < channels; ++c) {
    uint32_t value = (static_cast<uint32_t>(core[c]) << scale_shift) +
                     static_cast<uint32_t>(constant);
    if (channel_terms != nullptr) value += static_cast<uint32_t>(channel_terms[c]);
    acc[c] = static_cast<int32_t>(value);
  }
  OutputStageReference(acc, channels, multiplier, offset, activation, y);
}

int32_t ConstantOf(const EpilogueTerms& terms, int64_t q) {
  return terms.constants != nullptr ? terms.constants[q] : 0;
}

const int32_t* ChannelTermsOf(const EpilogueTerms& terms, int64_t q) {
  return terms.channel_terms != nullptr ? terms.channel_terms[q] : nullptr;
}

}  // namespace

void OutputEpilogueScalar(const int32_t* core, int64_t core_stride, int64_t pixels,
                          int64_t channels, const EpilogueTerms& terms, const float* multiplier,
                          const float* offset, Activation activation, int32_t* acc, float* y,
                          int64_t y_stride) {
  for (int64_t q = 0; q < pixels; ++q) {
    EpiloguePixel(core + q * core_stride, channels, terms.scale_shift, ConstantOf(terms, q),
                  ChannelTermsOf(terms, q), multiplier, offset, activation, acc,
                  y + q * y_stride);
  }
}

void RunEpilogueWithScalarTail(const EpilogueVectorLoop (&loops)[4], const int32_t* core,
                               int64_t core_stride, int64_t pixels, int64_t channels,
                               const EpilogueTerms& terms, const float* multiplier,
                               const float* offset, Activation activation, int32_t* acc,
                               float* y, int64_t y_stride) {
  const EpilogueVectorLoop loop = loops[static_cast<int>(activation.kind)];
  for (int64_t q = 0; q < pixels; ++q, core += core_stride, y += y_stride) {
    const int32_t constant = ConstantOf(terms, q);
    const int32_t* channel_terms = ChannelTermsOf(terms, q);
    const int64_t done = loop(core, channels, terms.scale_shift, constant, channel_terms,
                              multiplier, offset, activation.alpha, y);
    if (done == channels) continue;
    EpiloguePixel(core + done, channels - done, terms.scale_shift, constant,
                  channel_terms != nullptr ? channel_terms + done : nullptr, multiplier + done,
                  offset + done, activation, acc + done, y + done);
  }
}

}  // namespace bitlite
