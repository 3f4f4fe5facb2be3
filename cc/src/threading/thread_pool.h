// A small pool of persistent worker threads for the kernels. ParallelFor hands out work units in
// contiguous runs of nearly equal length (kRunsPerThread per thread) through an atomic counter;
// each unit runs on exactly one thread and the caller passes per-thread scratch by worker index,
// so results never depend on the thread count. Runs, not single units: neighbouring units (rows
// of one image) share cache lines at their edges and their inputs, which units dealt out in turn
// would move between cores (a depthwise layer at 2 threads 1.2x one, in runs 1.8x).
// The caller works too and waits only for runs that were started: a worker that the OS
// schedules late (a busy machine) finds the job finished and does not hold the caller up.
//
// Between jobs a worker pauses briefly, then polls yielding its core, then sleeps on a
// condition variable (thread_pool.cc has the measurements behind each step), so an idle
// pool takes no CPU. A job that uses fewer threads than the pool wakes no sleeping worker
// it does not need; kernels pick their threads at Prepare with ThreadsForWork, and a layer
// too small to share runs on the caller alone, without waking anyone.
#ifndef BITLITE_SRC_THREADING_THREAD_POOL_H_
#define BITLITE_SRC_THREADING_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace bitlite {

// Work per thread below which another thread does not pay, in 64-bit word operations of
// the GEMM kernels (one AND + popcount of a plane pair, or 8 int8 multiply-adds): a layer
// takes a second thread from 2 * 2^17 words on. A word operation takes 0.06-0.12 ns on the
// project's AVX-512 cores (Xeon, and the AMD EPYC of 2026-12-05), so 2^17 is about 8-15 us
// of one thread. At 2^19, first measured on the Xeon under load ~2.5 (layers of 35-60 us
// gained at most 6% there, and 3-18 us ones lost up to 27%), layers of 40-150 us stayed on
// one thread that gain 1.3-1.45x from a free second core on the EPYC (bench_conv's 1x1
// 28x28x256 W1A1, depthwise 56x56x128); at 2^18, `bench/ab_delegates.py MODEL OLD.so NEW.so`
// (XNNPACK at 1 thread) gave 2 threads over 1: MobileNetV2 W1A1/W2A2/W4A4 1.04/1.09/1.11x ->
// 1.30/1.39/1.47x, CIFAR ResNet-18 W1A1 0.99x -> 1.30x, VGG-small W1A1 1.51x -> 1.60x, no
// network slower; 2^17 then added at most 6% more (CIFAR ResNet-18 W1A1). Once the glue
// ops shared their rows too, 2^17 against 2^18 (the same A/B, 2 threads): CIFAR ResNet-18
// W1A1 0.489 -> 0.460 ms, MobileNetV2 224 W2A2 3.38 -> 3.15 ms, ResNet-18 224 and VGG-small
// unchanged, ResNet-20 still on one thread (none of its layers reaches the bound). On slower
// cores (Cortex-A53) the same work takes several times longer, so the bound errs toward fewer
// threads there.
constexpr int64_t kMinWorkPerThread = int64_t{1} << 17;

// The threads worth using for a job of `work` word operations: one per
// `min_work_per_thread`, at least 1 and at most `threads`.
int ThreadsForWork(int64_t work, int threads, int64_t min_work_per_thread = kMinWorkPerThread);

class ThreadPool {
 public:
  ThreadPool() = default;
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Threads taking part in ParallelFor, the caller included (>= 1). Starts or stops
  // workers; call only while no ParallelFor runs.
  void Resize(int threads);
  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs task(unit, worker) for every unit in [0, units) on at most `max_threads` threads,
  // worker in [0, min(max_threads, threads())), and returns when all are done. The caller
  // is worker 0. Does not allocate.
  template <class Task>
  void ParallelFor(int64_t units, Task& task,
                   int max_threads = std::numeric_limits<int>::max()) {
    Run(units, max_threads, &task, [](void* context, int64_t unit, int worker) {
      (*static_cast<Task*>(context))(unit, worker);
    });
  }

 private:
  using Trampoline = void (*)(void* context, int64_t unit, int worker);
  struct Job {
    uint32_t id = 0;
    void* context = nullptr;
    Trampoline call = nullptr;
    int64_t units = 0;
    int64_t runs = 1;       // claims: run r is units [r * units / runs, (r + 1) * units / runs)
    int threads = 0;        // workers with a lower index take part
  };
  struct Worker {
    std::thread thread;
    std::condition_variable wake;  // where it sleeps, so that a job wakes only its workers
  };

  void Run(int64_t units, int max_threads, void* context, Trampoline call);
  // Claims and runs units of `job` until none is left or another job has started.
  void RunUnits(const Job& job, int worker);
  void WorkerLoop(int worker, Worker* self, uint32_t seen);
  void Stop();

  std::vector<std::unique_ptr<Worker>> workers_;  // worker index - 1
  std::mutex mutex_;
  std::condition_variable finished_;  // a sleeping caller waits here for started units
  Job job_;  // the current job, written under mutex_
  std::atomic<uint32_t> job_id_{0};  // job_.id, readable without the mutex for spinning
  // Job id (high 32 bits) and next unclaimed run (low 32 bits): a claim made for a job that
  // has been replaced fails instead of running units of the new one.
  std::atomic<uint64_t> claim_{0};
  std::atomic<int64_t> done_units_{0};
  // Set under mutex_: who sleeps, so that the hot path notifies only when someone does.
  std::atomic<int> sleeping_workers_{0};
  std::atomic<bool> caller_sleeping_{false};
  bool stopping_ = false;
};

}  // namespace bitlite

#endif  // BITLITE_SRC_THREADING_THREAD_POOL_H_
