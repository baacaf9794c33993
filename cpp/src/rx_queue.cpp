// RxQueueMap: liburing-ext's steer helpers (netdev queue-get, SO_INCOMING_NAPI_ID).
#include "zcnet/net/rx_queue.hpp"

#include <uringx/uringx.h>

#include <absl/strings/str_cat.h>

#include "zcnet/status.hpp"

namespace zcnet {

absl::StatusOr<RxQueueMap> RxQueueMap::Read(absl::string_view ifname) {
  RxQueueMap map;
  map.ifname_ = std::string(ifname);
  uringx_reason why = URINGX_REASON_NONE;
  int n = uringx_rx_queues_napi(map.ifname_.c_str(), nullptr, 0, &why);
  std::vector<uringx_rx_queue_napi> q;
  // The count, then the table (a queue added in between is left out).
  if (n > 0) {
    q.resize(static_cast<size_t>(n));
    n = uringx_rx_queues_napi(map.ifname_.c_str(), q.data(), static_cast<unsigned>(q.size()), &why);
  }
  if (n < 0)
    return ReasonStatus(absl::StrCat("RxQueueMap::Read(", ifname, "): netdev queue-get"), n, why);
  q.resize(std::min(q.size(), static_cast<size_t>(n)));
  for (const auto& e : q) map.napi_ids_.push_back(e.napi_id);
  return map;
}

absl::StatusOr<uint32_t> RxQueueMap::QueueOf(int fd) const {
  std::vector<uringx_rx_queue_napi> q(napi_ids_.size());
  for (size_t i = 0; i < q.size(); i++) q[i] = {static_cast<uint32_t>(i), napi_ids_[i]};
  uringx_reason why = URINGX_REASON_NONE;
  int ret = uringx_socket_rx_queue(fd, q.data(), static_cast<unsigned>(q.size()), &why);
  if (ret == -ENOENT)
    return absl::NotFoundError(absl::StrCat("RxQueueMap::QueueOf(fd ", fd,
                                            "): the socket's packets came through no NAPI of ",
                                            ifname_, " (loopback, another device, or nothing "
                                            "received yet)"));
  if (ret < 0) return ErrnoStatus(absl::StrCat("RxQueueMap::QueueOf(fd ", fd, ")"), ret);
  return static_cast<uint32_t>(ret);
}

}  // namespace zcnet
