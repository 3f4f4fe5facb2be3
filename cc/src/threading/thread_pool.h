// A small pool of persistent worker threads for the kernels. ParallelFor hands out work
// units through an atomic counter; each unit runs on exactly one thread and the caller
// passes per-thread scratch by worker index, so results never depend on the thread count.
// The caller works too and waits only for units that were started: a worker that the OS
// schedules late (a busy machine) finds the job finished and does not hold the caller up.
#ifndef BITLITE_SRC_THREADING_THREAD_POOL_H_
#define BITLITE_SRC_THREADING_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace bitlite {

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

  // Runs task(unit, worker) for every unit in [0, units), worker in [0, threads()), and
  // returns when all are done. The caller is worker 0. Does not allocate.
  template <class Task>
  void ParallelFor(int64_t units, Task& task) {
    Run(units, &task, [](void* context, int64_t unit, int worker) {
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
  };

  void Run(int64_t units, void* context, Trampoline call);
  // Claims and runs units of `job` until none is left or another job has started.
  void RunUnits(const Job& job, int worker);
  void WorkerLoop(int worker, uint32_t seen);
  void Stop();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  Job job_;  // the current job, written under mutex_
  std::atomic<uint32_t> job_id_{0};  // job_.id, readable without the mutex for spinning
  // Job id (high 32 bits) and next unclaimed unit (low 32 bits): a claim made for a job that
  // has been replaced fails instead of running a unit of the new one.
  std::atomic<uint64_t> claim_{0};
  std::atomic<int64_t> done_units_{0};
  bool stopping_ = false;
};

}  // namespace bitlite

#endif  // BITLITE_SRC_THREADING_THREAD_POOL_H_
