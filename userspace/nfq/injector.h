// SPDX-License-Identifier: GPL-2.0 OR MIT
// Sends IPv4 packets the engine originates (SAL FIN/ACK, resets, ICMP) on a
// raw socket, in batches with sendmmsg. The socket marks its packets with
// InjectorOptions::mark so the steering rules let them pass without queuing
// them again (and exempt them from conntrack).
//
// The caller hands over complete IPv4 packets that fit the egress MTU: the
// kernel neither fragments nor segments them (IP_HDRINCL); a packet over the
// route MTU fails with EMSGSIZE and is counted. The kernel fills in the IP
// header checksum, the total length, a zero id and a zero source address;
// transport checksums are the caller's.
//
// Threading: one owner thread; counters() may be read by any thread.
//
// Include as "nfq/injector.h" (link svxlat_nfq).
#ifndef SVXLAT_NFQ_INJECTOR_H
#define SVXLAT_NFQ_INJECTOR_H

#include "nfq/counter.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace svxlat::nfq {

struct InjectorOptions {
    // SO_MARK of every injected packet: the steering spec's skip_mark.
    // 0 leaves the mark unset.
    std::uint32_t mark = 0;
    int sndbuf_bytes = 4 << 20;           // SO_SNDBUFFORCE (falls back to SO_SNDBUF)
    std::size_t batch_packets = 64;       // add() flushes when this many wait
    std::size_t batch_bytes = 512 * 1024; // ... or when this many bytes wait
    // Non-blocking: a full send buffer drops the packet (counted in
    // err_nobufs) instead of stalling the packet loop.
    bool nonblocking = true;
};

enum class InjectorCounter : std::size_t {
    sent,
    bytes,
    dropped_oversize,
    dropped_malformed,
    err_msgsize,
    err_nobufs,
    err_perm,
    err_other,
    sendmmsg_calls,
    count
};

inline constexpr std::array<CounterInfo, static_cast<std::size_t>(InjectorCounter::count)>
    kInjectorCounterInfo{{
        {"sent", "packets the kernel accepted for sending"},
        {"bytes", "bytes of those packets"},
        {"dropped_oversize", "packets over 65535 bytes, never sent"},
        {"dropped_malformed", "packets shorter than an IPv4 header or not IPv4, never sent"},
        {"err_msgsize",
         "EMSGSIZE: larger than the route MTU (the caller must segment; nothing fragments "
         "injected packets)"},
        {"err_nobufs", "ENOBUFS/EAGAIN: socket send buffer or device queue full, packet lost"},
        {"err_perm", "EPERM/EACCES: a netfilter rule in OUTPUT dropped the packet"},
        {"err_other", "any other send error (no route, network down, ...)"},
        {"sendmmsg_calls", "sendmmsg system calls"},
    }};

using InjectorCounterSnapshot = CounterSet<InjectorCounter>::Snapshot;

class Injector {
public:
    // Throws std::system_error (socket needs CAP_NET_RAW, SO_MARK
    // CAP_NET_ADMIN) with a message naming the step.
    explicit Injector(const InjectorOptions& options = {});
    ~Injector(); // flushes, closes
    Injector(const Injector&) = delete;
    Injector& operator=(const Injector&) = delete;

    int fd() const noexcept { return fd_; }
    const InjectorOptions& options() const noexcept { return options_; }

    // Copies ip_packet into the batch (the destination is its daddr). Packets
    // that cannot be sent are counted and dropped here.
    void add(std::span<const std::uint8_t> ip_packet);
    // Sends the batch; returns the number of packets the kernel took.
    std::size_t flush();
    std::size_t pending() const noexcept { return pending_.size(); }

    InjectorCounterSnapshot counters() const noexcept { return counters_.snapshot(); }
    std::uint64_t counter(InjectorCounter which) const noexcept { return counters_.get(which); }

private:
    struct PendingPacket {
        std::size_t offset;
        std::size_t length;
        sockaddr_in destination;
    };

    void count_send_error(int err);

    InjectorOptions options_;
    int fd_ = -1;
    std::vector<std::uint8_t> bytes_; // the batch's packets back to back
    std::vector<PendingPacket> pending_;
    std::vector<mmsghdr> headers_;
    std::vector<iovec> iovs_;
    CounterSet<InjectorCounter> counters_;
};

} // namespace svxlat::nfq

#endif // SVXLAT_NFQ_INJECTOR_H
