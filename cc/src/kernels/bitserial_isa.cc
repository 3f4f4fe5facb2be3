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
    case BitserialIsa::kLutScalar:
      return "lut/scalar";
    case BitserialIsa::kLutAvx2:
      return "lut/avx2";
    case BitserialIsa::kLutAvx512Bw:
      return "lut/avx512bw";
    case BitserialIsa::kLutAvx512Vbmi:
      return "lut/avx512vbmi";
    case BitserialIsa::kLutNeon:
      return "lut/neon";
  }
  return "?";
}

bool IsIntIsa(BitserialIsa isa) {
  return isa == BitserialIsa::kAvx512Vnni || isa == BitserialIsa::kNeonInt8 ||
         isa == BitserialIsa::kNeonDot;
}

bool IsLutIsa(BitserialIsa isa) {
  return isa == BitserialIsa::kLutScalar || isa == BitserialIsa::kLutAvx2 ||
         isa == BitserialIsa::kLutAvx512Bw || isa == BitserialIsa::kLutAvx512Vbmi ||
         isa == BitserialIsa::kLutNeon;
}

std::vector<BitserialIsa> SupportedIsas(const CpuFeatures& cpu) {
  std::vector<BitserialIsa> isas = {BitserialIsa::kScalar, BitserialIsa::kLutScalar};
#if BITLITE_X86_KERNELS
  if (cpu.avx2) isas.push_back(BitserialIsa::kAvx2);
  if (cpu.avx512_vpopcntdq) isas.push_back(BitserialIsa::kAvx512);
  if (cpu.avx512_vnni) isas.push_back(BitserialIsa::kAvx512Vnni);
  if (cpu.avx2) isas.push_back(BitserialIsa::kLutAvx2);
  if (cpu.avx512bw) isas.push_back(BitserialIsa::kLutAvx512Bw);
  if (cpu.avx512_vbmi) isas.push_back(BitserialIsa::kLutAvx512Vbmi);
#endif
#if BITLITE_NEON_KERNELS
  if (cpu.neon) isas.push_back(BitserialIsa::kNeon);
  if (cpu.neon) isas.push_back(BitserialIsa::kNeonInt8);
#if defined(__aarch64__)
  if (cpu.dotprod) isas.push_back(BitserialIsa::kNeonDot);
#endif
  if (cpu.neon) isas.push_back(BitserialIsa::kLutNeon);
#endif
  static_cast<void>(cpu);
  return isas;
}

BitserialIsa BestBitserialIsa(const CpuFeatures& cpu) {
  BitserialIsa best = BitserialIsa::kScalar;
  for (BitserialIsa isa : SupportedIsas(cpu)) {
    if (!IsIntIsa(isa) && !IsLutIsa(isa)) best = isa;
  }
  return best;
}

BitserialIsa BestLutIsa(const CpuFeatures& cpu, int activation_bits) {
  BitserialIsa best = BitserialIsa::kLutScalar;
  for (BitserialIsa isa : SupportedIsas(cpu)) {
    if (isa == BitserialIsa::kLutAvx512Vbmi && activation_bits <= 2) continue;
    if (IsLutIsa(isa)) best = isa;
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

int LutMinBitProduct(BitserialIsa best_bitserial) {
  return best_bitserial == BitserialIsa::kAvx2 ? 3 : 17;  // 17: never
}

BitserialIsa AutoIsa(const CpuFeatures& cpu, int weight_bits, int activation_bits) {
  const int product = weight_bits * activation_bits;
  const BitserialIsa int_isa = BestIntIsa(cpu);
  if (product >= IntMinBitProduct(int_isa)) return int_isa;
  const BitserialIsa bitserial = BestBitserialIsa(cpu);
  if (product >= LutMinBitProduct(bitserial)) return BestLutIsa(cpu, activation_bits);
  return bitserial;
}

BitserialFunctions BitserialFunctionsFor(BitserialIsa isa, int weight_bits, int activation_bits,
                                         bool activation_twos_complement) {
  BitserialFunctions functions;
  functions.bgemm = BgemmScalar(weight_bits, activation_bits, activation_twos_complement);
  functions.pack = PackActivationsScalar;
  functions.epilogue = OutputEpilogueScalar;
  // The LUT kernels read the bitserial weight planes after a relayout.
  auto use_lut = [&](LutGemmKernel lut) {
    functions.bgemm = lut.gemm;
    functions.relayout_weights = lut.relayout;
  };
  switch (isa) {
    case BitserialIsa::kScalar:
      break;
    case BitserialIsa::kLutScalar:
      use_lut(LutGemmScalar(weight_bits, activation_bits, activation_twos_complement));
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
    case BitserialIsa::kLutAvx2:
      use_lut(LutGemmAvx2(weight_bits, activation_bits, activation_twos_complement));
      functions.pack = PackActivationsAvx2;
      functions.epilogue = OutputEpilogueAvx2;
      break;
    case BitserialIsa::kLutAvx512Bw:
      use_lut(LutGemmAvx512Bw(weight_bits, activation_bits, activation_twos_complement));
      functions.pack = PackActivationsAvx512;
      functions.epilogue = OutputEpilogueAvx512;
      break;
    case BitserialIsa::kLutAvx512Vbmi:
      use_lut(LutGemmAvx512Vbmi(weight_bits, activation_bits, activation_twos_complement));
      functions.pack = PackActivationsAvx512;
      functions.epilogue = OutputEpilogueAvx512;
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
    case BitserialIsa::kLutNeon:
      use_lut(LutGemmNeon(weight_bits, activation_bits, activation_twos_complement));
#if defined(__aarch64__)
      functions.pack = PackActivationsNeon;
      functions.epilogue = OutputEpilogueNeon;
#endif
      break;
#endif
    default:
      break;
  }
  return functions;
}

}  // namespace bitlite
