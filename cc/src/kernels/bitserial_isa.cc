#include "kernels/bitserial_isa.h"

namespace bitlite {

const char* IsaName(BitserialIsa isa) {
  switch (isa) {
    case BitserialIsa::kScalar:
      return "bitserial/scalar";
    case BitserialIsa::kAvx2:
      return "bitserial/avx2";
    case BitserialIsa::kAvx512:
      return "bitserial/avx512vpopcntdq";
    case BitserialIsa::kNeon:
      return "bitserial/neon";
    case BitserialIsa::kAvx512Vnni:
      return "int8/avx512vnni";
    case BitserialIsa::kNeonInt8:
      return "int8/neon";
    case BitserialIsa::kNeonDot:
      return "int8/neondot";
  }
  return "?";
}

bool IsIntIsa(BitserialIsa isa) {
  return isa == BitserialIsa::kAvx512Vnni || isa == BitserialIsa::kNeonInt8 ||
         isa == BitserialIsa::kNeonDot;
}

std::vector<BitserialIsa> SupportedIsas(const CpuFeatures& cpu) {
  std::vector<BitserialIsa> isas = {BitserialIsa::kScalar};
#if BITLITE_X86_KERNELS
  if (cpu.avx2) isas.push_back(BitserialIsa::kAvx2);
  if (cpu.avx512_vpopcntdq) isas.push_back(BitserialIsa::kAvx512);
  if (cpu.avx512_vnni) isas.push_back(BitserialIsa::kAvx512Vnni);
#endif
#if BITLITE_NEON_KERNELS
  if (cpu.neon) isas.push_back(BitserialIsa::kNeon);
  if (cpu.neon) isas.push_back(BitserialIsa::kNeonInt8);
#if defined(__aarch64__)
  if (cpu.dotprod) isas.push_back(BitserialIsa::kNeonDot);
#endif
#endif
  static_cast<void>(cpu);
  return isas;
}

BitserialIsa BestBitserialIsa(const CpuFeatures& cpu) {
  BitserialIsa best = BitserialIsa::kScalar;
  for (BitserialIsa isa : SupportedIsas(cpu)) {
    if (!IsIntIsa(isa)) best = isa;
  }
  return best;
}

BitserialIsa BestIntIsa(const CpuFeatures& cpu) {
  BitserialIsa best = BestBitserialIsa(cpu);
  for (BitserialIsa isa : SupportedIsas(cpu)) {
    if (IsIntIsa(isa)) best = isa;  // listed from the narrowest up
  }
  return best;
}

int IntMinBitProduct(BitserialIsa isa) {
  switch (isa) {
    case BitserialIsa::kAvx512Vnni:
      return 6;
    case BitserialIsa::kNeonInt8:
#if defined(__aarch64__)
      return 8;
#else
      return 9;
#endif
    case BitserialIsa::kNeonDot:
      return 4;
    default:
      return 17;  // not an int8 kernel: never (bit products are at most 16)
  }
}

BitserialIsa AutoIsa(const CpuFeatures& cpu, int weight_bits, int activation_bits) {
  const BitserialIsa int_isa = BestIntIsa(cpu);
  if (weight_bits * activation_bits >= IntMinBitProduct(int_isa)) return int_isa;
  return BestBitserialIsa(cpu);
}

BitserialFunctions BitserialFunctionsFor(BitserialIsa isa, int weight_bits, int activation_bits,
                                         bool activation_twos_complement) {
  BitserialFunctions functions;
  functions.bgemm = BgemmScalar(weight_bits, activation_bits, activation_twos_complement);
  functions.pack = PackActivationsScalar;
  functions.epilogue = OutputEpilogueScalar;
  switch (isa) {
    case BitserialIsa::kScalar:
      break;
#if BITLITE_X86_KERNELS
    case BitserialIsa::kAvx2:
      functions.bgemm = BgemmAvx2(weight_bits, activation_bits, activation_twos_complement);
      functions.pack = PackActivationsAvx2;
      functions.epilogue = OutputEpilogueAvx2;
      break;
    case BitserialIsa::kAvx512:
      functions.bgemm = BgemmAvx512(weight_bits, activation_bits, activation_twos_complement);
      functions.pack = PackActivationsAvx512;
      functions.epilogue = OutputEpilogueAvx512;
      break;
    case BitserialIsa::kAvx512Vnni:
      functions.bgemm = BgemmInt8Avx512Vnni();
      functions.pack = PackActivationBytesAvx512;
      functions.epilogue = OutputEpilogueAvx512;
      functions.bytes = true;
      break;
#endif
#if BITLITE_NEON_KERNELS
    // On armv7 activation packing and the output stage stay scalar: its NEON has no float
    // division and flushes denormals to zero, which FORMAT.md's arithmetic does not.
    case BitserialIsa::kNeon:
      functions.bgemm = BgemmNeon(weight_bits, activation_bits, activation_twos_complement);
#if defined(__aarch64__)
      functions.pack = PackActivationsNeon;
      functions.epilogue = OutputEpilogueNeon;
#endif
      break;
    case BitserialIsa::kNeonInt8:
      functions.bgemm = BgemmInt8Neon();
#if defined(__aarch64__)
      functions.pack = PackActivationBytesNeon;
      functions.epilogue = OutputEpilogueNeon;
#endif
      functions.bytes = true;
      break;
#if defined(__aarch64__)
    case BitserialIsa::kNeonDot:
      functions.bgemm = BgemmInt8NeonDot();
      functions.pack = PackActivationBytesNeon;
      functions.epilogue = OutputEpilogueNeon;
      functions.bytes = true;
      break;
#endif
#endif
    default:
      break;
  }
  return functions;
}

}  // namespace bitlite
