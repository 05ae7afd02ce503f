// SPDX-License-Identifier: GPL-2.0 OR MIT
// One NFQUEUE queue on its own netlink socket: receive queued IPv4 packets,
// give verdicts in batches. The thin, fast glue between the kernel and the
// translation engine; docs/steering.md explains the settings.
//
// Threading: a Queue belongs to one thread (receive, verdicts, flush). Any
// thread may read counters() and kernel_stats().
//
// Include as "nfq/queue.h" (link svxlat_nfq).
#ifndef SVXLAT_NFQ_QUEUE_H
#define SVXLAT_NFQ_QUEUE_H

#include "nfq/counter.h"

#include <sys/socket.h> // mmsghdr
#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace svxlat::nfq {

struct QueueOptions {
    std::uint16_t queue_num = 0;
    // NFQA_CFG_F_GSO: GSO super-packets are queued whole instead of being
    // segmented first (~20x fewer round trips, see docs/steering.md). The
    // engine must then handle packets larger than the MTU.
    bool gso = true;
    // NFQA_CFG_F_FAIL_OPEN: when the queue is full (max_len) or the socket
    // overruns, the kernel accepts the packet instead of dropping it.
    bool fail_open = false;
    std::uint32_t max_len = 8192; // packets waiting for a verdict in the kernel
    int rcvbuf_bytes = 16 << 20;  // SO_RCVBUFFORCE (falls back to SO_RCVBUF without CAP_NET_ADMIN)
    int sndbuf_bytes = 2 << 20;   // must exceed the verdict buffer (kVerdictBufferBytes)
    // Datagrams read per receive() with one recvmmsg(). Netlink delivers one
    // queued packet per datagram, so this is the packets-per-syscall batch.
    std::size_t receive_batch = 32;
    // Coalesce runs of plain accepts into one NFQNL_MSG_VERDICT_BATCH message.
    bool batch_verdicts = true;
};

// Netfilter hook numbers as the kernel reports them (enum nf_inet_hooks).
enum class Hook : std::uint8_t {
    prerouting = 0,
    local_in = 1,
    forward = 2,
    local_out = 3,
    postrouting = 4,
};

// One queued packet. payload points into the Queue's receive buffer and is
// valid until the next receive() call; the engine may rewrite it in place and
// hand it back with accept_mangled().
struct QueuedPacket {
    std::uint32_t id = 0;
    Hook hook = Hook::prerouting;
    std::uint16_t hw_protocol = 0; // ethertype, host order (0x0800)
    std::uint32_t mark = 0;
    std::uint32_t in_ifindex = 0;  // 0: none (e.g. locally generated)
    std::uint32_t out_ifindex = 0; // 0: none (e.g. prerouting)
    std::uint32_t skb_info = 0;    // NFQA_SKB_* flags
    // Length of the packet in the kernel; larger than payload.size() when
    // the copy was cut at the copy range (never mangle such a packet).
    std::uint32_t original_length = 0;
    std::span<std::uint8_t> payload; // the IPv4 packet

    bool is_gso() const noexcept;                // NFQA_SKB_GSO: larger than the device MTU
    bool checksum_not_ready() const noexcept;    // NFQA_SKB_CSUMNOTREADY: partial checksum
    bool checksum_not_verified() const noexcept; // NFQA_SKB_CSUM_NOTVERIFIED
    bool truncated() const noexcept { return original_length > payload.size(); }
};

enum class QueueCounter : std::size_t {
    packets,
    bytes,
    gso_packets,
    truncated_packets,
    enobufs,
    recv_errors,
    truncated_datagrams,
    accepted,
    dropped,
    mangled,
    mangled_too_large,
    verdict_messages,
    verdict_batches,
    verdict_sends,
    verdict_send_errors,
    verdict_rejected,
    setup_requeued,
    count
};

inline constexpr std::array<CounterInfo, static_cast<std::size_t>(QueueCounter::count)>
    kQueueCounterInfo{{
        {"packets", "packets received from the kernel queue"},
        {"bytes", "bytes of those packets copied to user space"},
        {"gso_packets", "received packets that were GSO super-packets (larger than the MTU)"},
        {"truncated_packets", "packets cut at the copy range (cannot be mangled)"},
        {"enobufs", "receive overruns (ENOBUFS): the socket buffer was full, the kernel dropped or "
                    "(fail-open) accepted packets unseen"},
        {"recv_errors", "receive calls that failed with an error other than ENOBUFS/EAGAIN"},
        {"truncated_datagrams", "netlink datagrams larger than the receive slot, discarded"},
        {"accepted", "accept verdicts without payload"},
        {"dropped", "drop verdicts"},
        {"mangled", "accept verdicts carrying a rewritten packet"},
        {"mangled_too_large", "accept_mangled refused: packet over 65535 bytes, no verdict sent"},
        {"verdict_messages", "netlink verdict messages sent (single and batch)"},
        {"verdict_batches", "NFQNL_MSG_VERDICT_BATCH messages (one accept for a run of packets)"},
        {"verdict_sends", "sendmsg calls carrying verdicts"},
        {"verdict_send_errors",
         "sendmsg calls that failed; their verdicts were lost and the packets wait until "
         "the queue closes"},
        {"verdict_rejected",
         "verdicts the kernel answered with an error (unknown packet id, bad payload)"},
        {"setup_requeued",
         "packets seen before the queue was configured, sent back with NF_REPEAT"},
    }};

using QueueCounterSnapshot = CounterSet<QueueCounter>::Snapshot;

// The kernel's own line for a queue in /proc/net/netfilter/nfnetlink_queue
// (per network namespace).
struct KernelQueueStats {
    std::uint16_t queue_num = 0;
    std::uint32_t portid = 0;      // netlink port id of the bound socket
    std::uint32_t queue_total = 0; // packets waiting for a verdict now
    std::uint32_t copy_mode = 0;
    std::uint32_t copy_range = 0;
    std::uint32_t queue_dropped = 0; // dropped because the queue was full (max_len)
    std::uint32_t user_dropped = 0;  // dropped because the netlink socket overran
    std::uint32_t id_sequence = 0;   // last packet id handed out
};

inline constexpr std::array<CounterInfo, 4> kKernelQueueCounterInfo{{
    {"queue_total", "packets in the kernel queue waiting for a verdict"},
    {"queue_dropped", "packets the kernel dropped because the queue held max_len packets"},
    {"user_dropped",
     "packets the kernel dropped because the netlink socket buffer was full (rcvbuf)"},
    {"id_sequence", "last packet id the kernel assigned on this queue"},
}};

// Pure parser of the /proc text; nullopt when the queue has no line.
std::optional<KernelQueueStats> parse_kernel_queue_stats(std::string_view proc_text,
                                                         std::uint16_t queue_num);
// Reads the calling thread's network namespace's file; nullopt when the file
// or the queue's line is missing.
std::optional<KernelQueueStats> read_kernel_queue_stats(std::uint16_t queue_num);

class Queue {
public:
    // Binds the queue. Throws std::system_error (EPERM when another socket
    // owns the queue or without CAP_NET_ADMIN) or std::runtime_error (no
    // answer from the kernel), with the queue number in the message.
    explicit Queue(const QueueOptions& options);
    ~Queue(); // flushes pending verdicts, unbinds, closes
    Queue(const Queue&) = delete;
    Queue& operator=(const Queue&) = delete;

    int fd() const noexcept { return fd_; } // non-blocking; poll/epoll for EPOLLIN
    std::uint16_t queue_num() const noexcept { return options_.queue_num; }
    const QueueOptions& options() const noexcept { return options_; }
    int rcvbuf_bytes() const noexcept { return rcvbuf_bytes_; } // as the kernel reports it

    // Reads up to options().receive_batch datagrams with one recvmmsg and
    // calls handler(QueuedPacket&) for each packet, in queue order. Returns
    // the number of packets handled (0: nothing waiting, or an error that is
    // counted). Verdicts given inside the handler are buffered: call flush()
    // after the burst.
    template <class Handler> std::size_t receive(Handler&& handler) {
        const std::size_t n = receive_into_batch();
        for (std::size_t i = 0; i < n; ++i)
            handler(batch_[i]);
        return n;
    }

    // Verdicts are appended to a send buffer and leave together on flush();
    // a full buffer is flushed by itself.
    void accept(std::uint32_t id);
    void drop(std::uint32_t id);
    // packet replaces the queued one (at most 65535 bytes; the kernel sets
    // CHECKSUM_NONE, so every checksum in it must be complete). Returns false,
    // counts mangled_too_large and sends no verdict when it is larger.
    bool accept_mangled(std::uint32_t id, std::span<const std::uint8_t> packet);

    // Sends the buffered verdicts in one sendmsg. Returns false when the send
    // failed (counted in verdict_send_errors).
    bool flush();
    bool has_pending_verdicts() const noexcept { return send_used_ > 0 || run_length_ > 0; }

    QueueCounterSnapshot counters() const noexcept { return counters_.snapshot(); }
    std::uint64_t counter(QueueCounter which) const noexcept { return counters_.get(which); }
    std::optional<KernelQueueStats> kernel_stats() const {
        return read_kernel_queue_stats(options_.queue_num);
    }

    // Bytes of the verdict send buffer; one sendmsg carries at most this.
    static constexpr std::size_t kVerdictBufferBytes = 256 * 1024;

private:
    struct Outstanding {
        std::uint32_t id;
        bool done;
    };

    std::size_t receive_into_batch();
    void parse_datagram(std::span<std::uint8_t> datagram, std::size_t& n_packets);
    void configure();
    void send_config_and_wait_ack(std::span<const std::uint8_t> message, std::uint32_t seq,
                                  std::string_view what);
    void requeue_during_setup(std::span<std::uint8_t> datagram);
    void verdict(std::uint32_t id, std::uint32_t nf_verdict, std::span<const std::uint8_t> packet,
                 bool with_packet);
    void append_single_verdict(std::uint32_t id, std::uint32_t nf_verdict,
                               std::span<const std::uint8_t> packet, bool with_packet);
    void write_verdict_message(std::uint16_t type, std::uint32_t id, std::uint32_t nf_verdict,
                               std::span<const std::uint8_t> packet, bool with_packet);
    bool mark_done(std::uint32_t id); // true: id was the oldest outstanding packet
    void pop_done_front();

    QueueOptions options_;
    int fd_ = -1;
    int rcvbuf_bytes_ = 0;
    std::uint32_t next_seq_ = 1;

    // Receive side: receive_batch slots of kReceiveSlotBytes.
    std::vector<std::uint8_t> receive_buffer_;
    std::vector<QueuedPacket> batch_;
    std::vector<mmsghdr> receive_headers_;
    std::vector<iovec> receive_iovs_;

    // Send side.
    std::unique_ptr<std::uint8_t[]> send_buffer_;
    std::size_t send_used_ = 0;

    // Packets received and not yet given a verdict, oldest first. A batch
    // verdict accepts every queued id <= its id, so a run may only grow by
    // the oldest outstanding packet (everything older already has a verdict).
    std::deque<Outstanding> outstanding_;
    bool tracking_ = true;       // false after outstanding_ overflowed: no more batches
    std::uint32_t run_upto_ = 0; // last id of the pending accept run
    std::size_t run_length_ = 0; // 0: no run pending

    CounterSet<QueueCounter> counters_;
};

} // namespace svxlat::nfq

#endif // SVXLAT_NFQ_QUEUE_H
