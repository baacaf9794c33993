// zcnet/net/rx_queue.hpp - which NIC rx queue received a connection.
//
// A zcrx area fills from one rx queue, so a server with a ring and an area
// per queue serves each connection on the ring whose queue receives it
// (placement by receive queue). The kernel records in every socket the NAPI
// instance its last packet came through (SO_INCOMING_NAPI_ID); the netdev
// netlink family says which NAPI serves each rx queue. RxQueueMap::Read
// takes that table once; QueueOf(fd) answers per accepted socket (one
// getsockopt). Read it after binding the zcrx areas: binding restarts the
// queue, and a driver may give it a new NAPI instance.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>

namespace zcnet {

class RxQueueMap {
 public:
  // The rx queues of @ifname and their NAPI ids (no privilege needed).
  // NotFound ("no network interface of that name") for an unknown one.
  static absl::StatusOr<RxQueueMap> Read(absl::string_view ifname);

  const std::string& ifname() const { return ifname_; }
  size_t queues() const { return napi_ids_.size(); }
  // 0 for a queue served by no NAPI instance.
  uint32_t napi_id(uint32_t queue) const {
    return queue < napi_ids_.size() ? napi_ids_[queue] : 0;
  }

  // The rx queue of this device that received socket @fd's last packet.
  // NotFound ("... came through no NAPI of IF") for a socket on loopback,
  // on another device, or that has received nothing; the getsockopt errno
  // otherwise.
  absl::StatusOr<uint32_t> QueueOf(int fd) const;

 private:
  std::string ifname_;
  std::vector<uint32_t> napi_ids_;
};

}  // namespace zcnet
