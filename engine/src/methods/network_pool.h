// Networks for the per-sample loops that run over the thread pool (Score-CAM's masks, SmoothGrad's
// samples, the perturbation curves' steps): a Network holds its activations, so each thread that
// runs a sample needs its own. The first is the caller's; more are planned from its model when two
// samples run at once, at most one per thread, and kept in the caller's network (Network::peers)
// for the next loop. Every network computes the same bits, so which one runs a sample never
// changes its result.
#pragma once
#include <memory>
#include <mutex>
#include <vector>

#include "gradcam/network.h"

namespace gradcam {

class NetworkPool {
 public:
  explicit NetworkPool(Network& first) : first_(first) {
    free_.push_back(&first);
    for (const auto& peer : first.peers()) free_.push_back(peer.get());
  }

  // A network no other sample is using, for as long as the Lease lives.
  class Lease {
   public:
    explicit Lease(NetworkPool& pool) : pool_(pool), net_(pool.acquire()) {}
    ~Lease() { pool_.release(net_); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Network& operator*() const { return *net_; }
    Network* operator->() const { return net_; }

   private:
    NetworkPool& pool_;
    Network* net_;
  };

 private:
  Network* acquire() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!free_.empty()) {
        Network* n = free_.back();
        free_.pop_back();
        return n;
      }
    }
    auto made = std::make_unique<Network>(first_.model());  // planned outside the lock: it takes a while
    std::lock_guard<std::mutex> lock(mutex_);
    first_.peers().push_back(std::move(made));
    return first_.peers().back().get();
  }
  void release(Network* n) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(n);
  }

  Network& first_;
  std::mutex mutex_;
  std::vector<Network*> free_;
};

}  // namespace gradcam
