// The thread pool on its own (also built under ThreadSanitizer): threads per job, workers
// that sleep between jobs and wake for the next, a caller that sleeps while a worker
// finishes a long unit, and resizing an idle pool.
#include "threading/thread_pool.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "test_harness.h"

namespace bitlite {
namespace testing {
namespace {

// Longer than the pool's spin (200 us), so that its workers are asleep afterwards.
void LetWorkersSleep() { std::this_thread::sleep_for(std::chrono::milliseconds(2)); }

// Runs `units` units on at most `max_threads` threads; checks each ran once on a worker
// below the bound and returns how many distinct workers took part.
int RunAndCount(ThreadPool* pool, int64_t units, int max_threads) {
  std::vector<std::atomic<int>> runs(static_cast<size_t>(units));
  std::vector<std::atomic<int>> by_worker(static_cast<size_t>(pool->threads()));
  std::atomic<bool> workers_ok{true};
  auto task = [&](int64_t unit, int worker) {
    runs[static_cast<size_t>(unit)].fetch_add(1);
    if (worker < 0 || worker >= max_threads || worker >= pool->threads()) {
      workers_ok = false;
      return;
    }
    by_worker[static_cast<size_t>(worker)].fetch_add(1);
    // Long enough that a woken worker finds units left.
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  };
  pool->ParallelFor(units, task, max_threads);
  EXPECT_TRUE(workers_ok.load());
  for (const auto& count : runs) EXPECT_EQ(count.load(), 1);
  int distinct = 0;
  for (const auto& count : by_worker) distinct += count.load() > 0;
  return distinct;
}

BITLITE_TEST(ThreadsForWorkGivesSmallJobsOneThreadAndHeavyOnesAll) {
  EXPECT_EQ(ThreadsForWork(0, 4), 1);
  EXPECT_EQ(ThreadsForWork(kMinWorkPerThread - 1, 4), 1);
  EXPECT_EQ(ThreadsForWork(2 * kMinWorkPerThread, 4), 2);
  EXPECT_EQ(ThreadsForWork(3 * kMinWorkPerThread + 1, 4), 3);
  EXPECT_EQ(ThreadsForWork(int64_t{1} << 40, 4), 4);
  EXPECT_EQ(ThreadsForWork(int64_t{1} << 40, 0), 1);
  EXPECT_EQ(ThreadsForWork(5, 3, /*min_work_per_thread=*/1), 3);
}

BITLITE_TEST(JobsUseAtMostTheirThreadsAndWakeSleepingWorkers) {
  ThreadPool pool;
  pool.Resize(4);
  LetWorkersSleep();
  // The caller cannot run 200 units of 200 us (40 ms) before sleeping workers wake and join.
  EXPECT_TRUE(RunAndCount(&pool, 200, 4) > 1);
  LetWorkersSleep();
  EXPECT_TRUE(RunAndCount(&pool, 40, 2) <= 2);
  EXPECT_EQ(RunAndCount(&pool, 40, 1), 1);
  LetWorkersSleep();
  EXPECT_TRUE(RunAndCount(&pool, 200, 4) > 1);
  EXPECT_EQ(RunAndCount(&pool, 0, 4), 0);
}

BITLITE_TEST(ManyBackToBackSmallJobsAndJobsAfterSleep) {
  ThreadPool pool;
  pool.Resize(3);
  std::vector<int> sums(8, 0);
  int64_t total = 0;
  for (int job = 0; job < 20000; ++job) {
    // Units write their own slot: any thread count gives the same sums.
    auto task = [&](int64_t unit, int) { sums[static_cast<size_t>(unit)] += job % 7; };
    const int64_t units = 1 + job % 8;
    pool.ParallelFor(units, task, 1 + job % 3);
    for (int64_t unit = 0; unit < units; ++unit) total += job % 7;
    // Now and then long enough for the workers to fall asleep.
    if (job % 2000 == 0) LetWorkersSleep();
  }
  int64_t sum = 0;
  for (int value : sums) sum += value;
  EXPECT_EQ(sum, total);
}

BITLITE_TEST(CallerSleepsUntilAWorkerFinishesALongUnit) {
  ThreadPool pool;
  pool.Resize(2);
  for (int repeat = 0; repeat < 5; ++repeat) {
    std::atomic<int> done{0};
    // A worker's unit outlasts the caller's spin many times over: the caller must sleep and
    // be woken by it, and see every unit done.
    auto task = [&](int64_t, int worker) {
      if (worker != 0) std::this_thread::sleep_for(std::chrono::milliseconds(3));
      done.fetch_add(1);
    };
    pool.ParallelFor(64, task);
    EXPECT_EQ(done.load(), 64);
  }
}

BITLITE_TEST(ResizeWhileIdle) {
  ThreadPool pool;
  for (int threads : {3, 1, 4, 2, 2, 4}) {
    LetWorkersSleep();
    pool.Resize(threads);
    EXPECT_EQ(pool.threads(), threads);
    EXPECT_TRUE(RunAndCount(&pool, 16, threads) <= threads);
  }
}

BITLITE_TEST(PoolsOfSeveralCallersAtOnce) {
  // Each interpreter has its own pool; several run at the same time (tests/test_concurrency.py).
  std::vector<std::thread> callers;
  std::atomic<int> failures{0};
  for (int caller = 0; caller < 3; ++caller) {
    callers.emplace_back([&] {
      ThreadPool pool;
      pool.Resize(2);
      for (int job = 0; job < 2000; ++job) {
        std::vector<int> hits(5, 0);
        auto task = [&](int64_t unit, int) { ++hits[static_cast<size_t>(unit)]; };
        pool.ParallelFor(5, task);
        for (int hit : hits) failures += hit != 1;
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace testing
}  // namespace bitlite
