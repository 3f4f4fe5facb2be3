#include "threading/thread_pool.h"

#include <algorithm>
#include <chrono>

namespace bitlite {
namespace {

// Waiting, measured on CIFAR ResNet-18 W1A1 / W2A2 at 2 threads (bench/whole_model.py,
// whole-model ms, medians of runs at different times; 1 thread: 0.77-0.82 / 2.24-2.52; the
// project's 2-core machine at load 3.5-6, other jobs and XNNPACK's own pool wanting the
// second core):
// - A worker that pause-spins holds its core against XNNPACK's pool and other processes, and
//   is then preempted in the middle of a unit the caller must wait for: 200 us of pause-spin
//   gave 1.39-2.03 / 2.72-3.21 ms, 1 ms gave 4.26 / 9.68 ms. One that sleeps after 50 us is
//   woken late and claims one of the last units: the bitlite ops' time per invoke (`bitlite
//   bench`) was 1.29 ms at W1A1 against 0.71 ms with 200 us (1 thread: 0.68 ms).
// - Pausing 20 us (the next job of the same op: packing, then the GEMM) and then yielding
//   the core while it polls up to 200 us after the last job: 0.83-1.01 / 2.17-2.57 ms, about
//   the old pool that only yielded (0.96-1.13 / 1.92-2.26 ms).
// - A caller whose last started units run long keeps its core: yielding or sleeping after
//   5-20 us gave 3.0-3.2 / 5.3-8.3 ms (another process takes the core for a time slice).
constexpr auto kWorkerPause = std::chrono::microseconds(20);
constexpr auto kWorkerPoll = std::chrono::microseconds(200);
constexpr auto kCallerPause = std::chrono::microseconds(200);
// Claims per thread and job: 2 keeps the runs long, and lets the caller take a late
// worker's second run. Runs differ by one unit at most: 13 units in runs of ceil(13 / 4)
// were 4, 4, 4 and 1, which kept one of 2 threads busy for 8 units while the other had 5
// (ResNet-18 224's 28x28 layers, 13 chunks, 1.52x at 2 threads on Zen 5; 3, 3, 3, 4: 1.9x).
constexpr int64_t kRunsPerThread = 2;

// One pause of a spin loop: frees the core's pipeline for its sibling hyperthread and saves
// power, without a system call.
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  asm volatile("yield" ::: "memory");
#endif
}

// Waits while busy(): pauses for `pause`, then yields the core until `poll` has passed in
// all. Returns true once busy() is false, false if still busy at the end.
template <class Busy>
bool SpinWhile(Busy busy, std::chrono::microseconds pause, std::chrono::microseconds poll) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    // Reading the clock costs about as much as 20 pauses: read it every 64.
    for (int i = 0; i < 64; ++i) {
      if (!busy()) return true;
      CpuRelax();
    }
    if (std::chrono::steady_clock::now() - start >= pause) break;
  }
  while (busy()) {
    if (std::chrono::steady_clock::now() - start >= poll) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace

int ThreadsForWork(int64_t work, int threads, int64_t min_work_per_thread) {
  const int64_t worth = std::max<int64_t>(work / std::max<int64_t>(min_work_per_thread, 1), 1);
  return static_cast<int>(std::min<int64_t>(worth, std::max(threads, 1)));
}

ThreadPool::~ThreadPool() { Stop(); }

void ThreadPool::Resize(int threads) {
  if (threads < 1) threads = 1;
  if (threads == this->threads()) return;
  Stop();
  stopping_ = false;
  const uint32_t current = job_id_.load();
  for (int worker = 1; worker < threads; ++worker) {
    workers_.push_back(std::make_unique<Worker>());
    // The thread gets its Worker, not workers_, which grows while it starts.
    Worker* self = workers_.back().get();
    self->thread =
        std::thread([this, worker, self, current] { WorkerLoop(worker, self, current); });
  }
}

void ThreadPool::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    job_id_.fetch_add(1);
  }
  for (auto& worker : workers_) worker->wake.notify_one();
  for (auto& worker : workers_) worker->thread.join();
  workers_.clear();
}

void ThreadPool::Run(int64_t units, int max_threads, void* context, Trampoline call) {
  const int threads = static_cast<int>(std::min<int64_t>({max_threads, this->threads(), units}));
  // Units are claimed in the low 32 bits of claim_.
  if (threads <= 1 || units > std::numeric_limits<uint32_t>::max()) {
    for (int64_t unit = 0; unit < units; ++unit) call(context, unit, 0);
    return;
  }
  Job job;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job.id = job_id_.load() + 1;
    job.context = context;
    job.call = call;
    job.units = units;
    job.runs = std::min<int64_t>(units, kRunsPerThread * threads);
    job.threads = threads;
    job_ = job;
    done_units_.store(0);
    claim_.store(uint64_t{job.id} << 32);
    job_id_.store(job.id, std::memory_order_release);
  }
  // A worker counts itself asleep under the mutex before it checks for a job, so one that
  // is not counted here has seen this job or will (no lost wake-up).
  if (sleeping_workers_.load() > 0) {
    for (int worker = 1; worker < threads; ++worker) workers_[worker - 1]->wake.notify_one();
  }
  RunUnits(job, 0);
  // Every unit is claimed: wait for those that workers started.
  auto all_done = [&] { return done_units_.load(std::memory_order_acquire) == units; };
  if (SpinWhile([&] { return !all_done(); }, kCallerPause, kCallerPause)) return;
  // A worker lost its core mid-unit (a busy machine): sleep, and leave the core to it.
  std::unique_lock<std::mutex> lock(mutex_);
  caller_sleeping_.store(true);
  finished_.wait(lock, all_done);
  caller_sleeping_.store(false);
}

void ThreadPool::RunUnits(const Job& job, int worker) {
  uint64_t claim = claim_.load();
  for (;;) {
    if ((claim >> 32) != job.id) return;
    const int64_t run = static_cast<int64_t>(claim & 0xffffffffu);
    if (run >= job.runs) return;
    if (!claim_.compare_exchange_weak(claim, claim + 1)) continue;
    const int64_t first = run * job.units / job.runs;
    const int64_t end = (run + 1) * job.units / job.runs;
    for (int64_t unit = first; unit < end; ++unit) job.call(job.context, unit, worker);
    // The caller sets caller_sleeping_ and checks done_units_ under the mutex, so read the
    // flag under it too: either the caller saw these units done, or it is inside wait() now.
    // (Read without the mutex, the caller's store and load had to be a seq_cst pair; under
    // qemu-user on x86 hosts that pair was reordered, and the Android tests hung in wait().)
    if (done_units_.fetch_add(end - first) + (end - first) == job.units) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (caller_sleeping_.load()) finished_.notify_one();
    }
    claim = claim_.load();
  }
}

void ThreadPool::WorkerLoop(int worker, Worker* self, uint32_t seen) {
  for (;;) {
    SpinWhile([&] { return job_id_.load(std::memory_order_acquire) == seen; }, kWorkerPause,
              kWorkerPoll);
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      // A job that needs fewer threads leaves this worker asleep (or puts it to sleep).
      auto wanted = [&] { return stopping_ || (job_id_.load() != seen && worker < job_.threads); };
      if (!wanted()) {
        sleeping_workers_.fetch_add(1);
        self->wake.wait(lock, wanted);
        sleeping_workers_.fetch_sub(1);
      }
      if (stopping_) return;
      job = job_;
      seen = job.id;
    }
    RunUnits(job, worker);
  }
}

}  // namespace bitlite
