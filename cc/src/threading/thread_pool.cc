#include "threading/thread_pool.h"

#include <chrono>
#include <limits>

namespace bitlite {
namespace {

// Workers spin this long after a job before sleeping: a network invokes its layers back to
// back, and a condition-variable wake-up costs about as much as a small layer.
constexpr auto kSpin = std::chrono::microseconds(200);

}  // namespace

ThreadPool::~ThreadPool() { Stop(); }

void ThreadPool::Resize(int threads) {
  if (threads < 1) threads = 1;
  if (threads == this->threads()) return;
  Stop();
  stopping_ = false;
  const uint32_t current = job_id_.load();
  for (int worker = 1; worker < threads; ++worker) {
    workers_.emplace_back([this, worker, current] { WorkerLoop(worker, current); });
  }
}

void ThreadPool::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    job_id_.fetch_add(1);
  }
  wake_.notify_all();
  for (std::thread& thread : workers_) thread.join();
  workers_.clear();
}

void ThreadPool::Run(int64_t units, void* context, Trampoline call) {
  // Units are claimed in the low 32 bits of claim_.
  if (workers_.empty() || units <= 1 || units > std::numeric_limits<uint32_t>::max()) {
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
    job_ = job;
    done_units_.store(0);
    claim_.store(uint64_t{job.id} << 32);
    job_id_.store(job.id, std::memory_order_release);
  }
  wake_.notify_all();
  RunUnits(job, 0);
  while (done_units_.load(std::memory_order_acquire) != units) std::this_thread::yield();
}

void ThreadPool::RunUnits(const Job& job, int worker) {
  uint64_t claim = claim_.load();
  for (;;) {
    if ((claim >> 32) != job.id) return;
    const int64_t unit = static_cast<int64_t>(claim & 0xffffffffu);
    if (unit >= job.units) return;
    if (!claim_.compare_exchange_weak(claim, claim + 1)) continue;
    job.call(job.context, unit, worker);
    done_units_.fetch_add(1, std::memory_order_acq_rel);
    claim = claim_.load();
  }
}

void ThreadPool::WorkerLoop(int worker, uint32_t seen) {
  for (;;) {
    const auto spin_until = std::chrono::steady_clock::now() + kSpin;
    while (job_id_.load(std::memory_order_acquire) == seen &&
           std::chrono::steady_clock::now() < spin_until) {
      std::this_thread::yield();
    }
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return job_id_.load() != seen; });
      if (stopping_) return;
      job = job_;
      seen = job.id;
    }
    RunUnits(job, worker);
  }
}

}  // namespace bitlite
