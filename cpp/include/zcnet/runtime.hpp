// zcnet/runtime.hpp - many cores: a Ring per thread, work posted between
// rings through IORING_OP_MSG_RING.
//
// Runtime::Create(options) starts N threads; each creates and drives its own
// Ring (single issuer, deferred task running), optionally pinned to a CPU.
// Tasks run on the ring they were spawned on and stay there: a coroutine
// frame is only ever resumed by its ring's thread.
//
// Post(i, fn) runs fn on ring i's thread. From a ring thread the message is
// one IORING_OP_MSG_RING SQE in the caller's own submission queue, sent with
// its next io_uring_enter (no syscall of its own, no lock, no eventfd); from
// any other thread it is one IORING_REGISTER_SEND_MSG_RING call (Linux 6.13).
// The target sees a CQE and runs fn from its CQE loop. Posts from one ring
// to another run in the order they were posted.
//
// Spawn(i, make) posts make(ring) to ring i and runs the Task it returns in
// that ring's scope; Spawn(make) picks the ring with the fewest live tasks.
//
// Stopping: RequestStop() may be called from any thread. It reaches each
// ring as a posted message that requests that ring's stop_token() on its own
// thread (so stop callbacks cancel requests from the thread that owns them).
// After that a ring refuses new posts (FailedPrecondition), runs the posts it
// had accepted, waits for its tasks to return, and exits; ~Runtime stops and
// joins. Tasks must honour Runtime::StopToken() (pass it in OpOptions): a
// task that waits forever without it keeps its ring from exiting.
//
// Exceptions: an exception escaping a spawned task is kept (the first one
// per runtime) and rethrown by Join(); an exception escaping a posted
// function terminates, as one escaping a thread does.
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

#include <absl/functional/any_invocable.h>
#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "zcnet/ring.hpp"
#include "zcnet/scope.hpp"
#include "zcnet/task.hpp"

namespace zcnet {

class Runtime {
 public:
  struct Options {
    // Rings (one thread each); 0: one per CPU this process may run on.
    unsigned threads = 0;
    // Pins ring i's thread to the i-th CPU of the process's affinity mask.
    bool pin = false;
    Ring::Options ring = {};
  };

  using Fn = absl::AnyInvocable<void() &&>;
  using TaskFactory = absl::AnyInvocable<Task<void>(Ring&)>;

  // Starts the threads and their rings; fails (naming the ring and the
  // io_uring_setup flags or the CPU refused) if any of them cannot start.
  static absl::StatusOr<std::unique_ptr<Runtime>> Create(const Options& options);
  static absl::StatusOr<std::unique_ptr<Runtime>> Create() { return Create(Options{}); }

  // RequestStop(), then Join() (an exception Join() would rethrow is lost).
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  size_t size() const { return shards_.size(); }

  // Runs @fn on ring @ring's thread. Thread-safe. InvalidArgument for a ring
  // that does not exist, FailedPrecondition once that ring is stopping, the
  // errno of IORING_REGISTER_SEND_MSG_RING from a thread without a ring.
  absl::Status Post(size_t ring, Fn fn);
  // Runs @fn on ring @ring's thread and waits until it has returned: for
  // setting up per-ring state (pools, listeners) from main. Only from a
  // thread that is not a ring's (FailedPrecondition: a ring waiting for a
  // ring would stop its own loop); otherwise errors as for Post.
  absl::Status Call(size_t ring, Fn fn);

  // Calls @make with ring @ring on its thread and runs the returned Task
  // there until it finishes; @make is kept until then, so a coroutine
  // lambda's captures stay valid while it runs. Errors as for Post.
  absl::Status Spawn(size_t ring, TaskFactory make);
  // The same on the ring with the fewest live tasks (ties: the lowest index).
  absl::Status Spawn(TaskFactory make) { return Spawn(LeastLoaded(), std::move(make)); }
  size_t LeastLoaded() const;
  // Tasks spawned on @ring that have not finished.
  size_t load(size_t ring) const;

  // Asks every ring to stop (see above). Thread-safe, idempotent.
  void RequestStop();
  // Waits for every ring's thread to exit, then rethrows the first exception
  // a spawned task let escape. Call it from a thread that is not a ring's.
  void Join();

  // On a ring thread of any Runtime: that ring, its index, its stop token.
  // Elsewhere: nullptr, SIZE_MAX, and a token that is never requested.
  static Ring* CurrentRing();
  static size_t CurrentIndex();
  static const std::stop_token& StopToken();

  // Posts received by @ring through MSG_RING (for tests and benchmarks).
  uint64_t posts_received(size_t ring) const;

 private:
  struct Shard;
  struct PostNode;
  static thread_local Shard* current_shard;

  Runtime() = default;
  void ThreadMain(Shard& shard, const Options& options, int cpu,
                  std::promise<absl::Status>* started);
  // Sends @node's MSG_RING to @target: from the calling ring's SQ, or
  // without one.
  absl::Status Send(Shard& target, PostNode* node);
  absl::Status SendWithoutRing(Shard& target, PostNode* node);
  static Task<void> RunSpawned(Runtime* rt, Shard* shard, TaskFactory make);
  void KeepError(std::exception_ptr e);

  std::vector<std::unique_ptr<Shard>> shards_;
  std::mutex error_mu_;
  std::exception_ptr error_;
  std::atomic<bool> stop_requested_{false};
  // A thread without a ring sends through IORING_REGISTER_SEND_MSG_RING, or
  // on kernels before 6.13 through this small ring, under the mutex (never
  // on the ring-to-ring path).
  std::mutex sender_mu_;
  std::unique_ptr<struct io_uring> sender_;
  int sync_msg_ = 1;  // 1: try IORING_REGISTER_SEND_MSG_RING; 0: unsupported
};

}  // namespace zcnet
