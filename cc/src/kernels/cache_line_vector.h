// std::vector whose data starts on a 64-byte cache line, for the kernels' working buffers
// (packed inputs and weights, GEMM results, codes), which they read and write a vector
// register at a time: from malloc's 16-byte alignment three of every four 64-byte AVX-512
// accesses straddle two lines. Measured: bench_conv's 1x1 28x28x256 W1A1 layer took 0.092 ms
// at one thread with its GEMM results where malloc put them, 0.084 ms aligned (its output
// epilogue 31 -> 22 us).
#ifndef BITLITE_SRC_KERNELS_CACHE_LINE_VECTOR_H_
#define BITLITE_SRC_KERNELS_CACHE_LINE_VECTOR_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

namespace bitlite {

// Over-allocates by a line with plain operator new and keeps the block's start in the word
// before the data: aligned operator new would add imports (posix_memalign, a newer
// libstdc++ symbol version) to the delegate on Android and old Linux systems.
template <class T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr size_t kLine = 64;

  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}  // NOLINT: rebinding is implicit

  T* allocate(size_t n) {
    if (n > (SIZE_MAX - kLine - sizeof(void*)) / sizeof(T)) throw std::bad_alloc();
    char* block = static_cast<char*>(::operator new(n * sizeof(T) + kLine + sizeof(void*)));
    const uintptr_t after = reinterpret_cast<uintptr_t>(block + sizeof(void*));
    char* data = block + sizeof(void*) + ((kLine - after % kLine) % kLine);
    std::memcpy(data - sizeof(void*), &block, sizeof(void*));
    return reinterpret_cast<T*>(data);
  }
  void deallocate(T* p, size_t) {
    void* block;
    std::memcpy(&block, reinterpret_cast<char*>(p) - sizeof(void*), sizeof(void*));
    ::operator delete(block);
  }

  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const { return true; }
  template <class U>
  bool operator!=(const CacheLineAllocator<U>&) const { return false; }
};

template <class T>
using CacheLineVector = std::vector<T, CacheLineAllocator<T>>;

}  // namespace bitlite

#endif  // BITLITE_SRC_KERNELS_CACHE_LINE_VECTOR_H_
