// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "nfq/queue.h"

// glibc's <netinet/in.h> (via arpa/inet.h) must come before the kernel's
// <linux/in.h>, which <linux/netfilter.h> pulls in.
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>

namespace svxlat::nfq {

namespace {

// One datagram carries one queued packet: up to the 0xffff copy range plus
// the attributes around it (headers, ifindexes, timestamp, hw address ...).
constexpr std::size_t kReceiveSlotBytes = 65536 + 4096;
constexpr std::uint32_t kCopyRange = 0xffff; // the kernel clamps it to its maximum
constexpr std::size_t kMaxMangledBytes = 65535;
constexpr int kSetupTimeoutMs = 5000;
// Netlink header, nfgenmsg and the verdict attribute.
constexpr std::size_t kVerdictMessageBytes =
    MNL_ALIGN(sizeof(nlmsghdr)) + MNL_ALIGN(sizeof(nfgenmsg)) +
    MNL_ALIGN(sizeof(nlattr) + sizeof(nfqnl_msg_verdict_hdr));
// Above this many untracked packets (a caller that never gives some
// verdicts) batching is switched off instead of tracking forever.
constexpr std::size_t kMaxTrackedOutstanding = std::size_t{1} << 20;

// Packet ids are a wrapping 32-bit sequence.
bool id_before(std::uint32_t a, std::uint32_t b) {
    return static_cast<std::int32_t>(a - b) < 0;
}

std::string queue_label(std::uint16_t queue_num) {
    return "nfq: queue " + std::to_string(queue_num);
}

[[noreturn]] void throw_errno(int err, std::uint16_t queue_num, std::string_view what) {
    throw std::system_error(err, std::generic_category(),
                            queue_label(queue_num) + ": " + std::string(what));
}

std::uint32_t attr_be32(const nlattr* attr) {
    return ntohl(mnl_attr_get_u32(attr));
}

} // namespace

bool QueuedPacket::is_gso() const noexcept {
    return (skb_info & NFQA_SKB_GSO) != 0;
}
bool QueuedPacket::checksum_not_ready() const noexcept {
    return (skb_info & NFQA_SKB_CSUMNOTREADY) != 0;
}
bool QueuedPacket::checksum_not_verified() const noexcept {
    return (skb_info & NFQA_SKB_CSUM_NOTVERIFIED) != 0;
}

// ---------------------------------------------------------------------------
// /proc/net/netfilter/nfnetlink_queue

std::optional<KernelQueueStats> parse_kernel_queue_stats(std::string_view proc_text,
                                                         std::uint16_t queue_num) {
    // "%5u %6u %5u %1u %5u %5u %5u %8u %2d": queue, portid, total, copy mode,
    // copy range, queue dropped, user dropped, id sequence, 1.
    while (!proc_text.empty()) {
        const auto eol = proc_text.find('\n');
        std::string_view line = proc_text.substr(0, eol);
        proc_text = eol == std::string_view::npos ? std::string_view{} : proc_text.substr(eol + 1);

        std::array<std::uint32_t, 8> fields{};
        std::size_t n = 0;
        const char* p = line.data();
        const char* end = line.data() + line.size();
        while (n < fields.size()) {
            while (p < end && *p == ' ')
                ++p;
            if (p == end)
                break;
            auto [next, ec] = std::from_chars(p, end, fields[n]);
            if (ec != std::errc{})
                break;
            p = next;
            ++n;
        }
        if (n < fields.size() || fields[0] != queue_num)
            continue;
        KernelQueueStats stats;
        stats.queue_num = static_cast<std::uint16_t>(fields[0]);
        stats.portid = fields[1];
        stats.queue_total = fields[2];
        stats.copy_mode = fields[3];
        stats.copy_range = fields[4];
        stats.queue_dropped = fields[5];
        stats.user_dropped = fields[6];
        stats.id_sequence = fields[7];
        return stats;
    }
    return std::nullopt;
}

std::optional<KernelQueueStats> read_kernel_queue_stats(std::uint16_t queue_num) {
    // thread-self: the namespace of the calling thread, which is the one its
    // queue sockets were opened in.
    std::ifstream file("/proc/thread-self/net/netfilter/nfnetlink_queue");
    if (!file)
        return std::nullopt;
    std::ostringstream text;
    text << file.rdbuf();
    return parse_kernel_queue_stats(text.str(), queue_num);
}

// ---------------------------------------------------------------------------
// Setup

Queue::Queue(const QueueOptions& options)
    : options_(options), send_buffer_(std::make_unique<std::uint8_t[]>(kVerdictBufferBytes)) {
    if (options_.receive_batch == 0)
        options_.receive_batch = 1;
    if (options_.max_len == 0)
        throw std::invalid_argument(queue_label(options_.queue_num) + ": max_len must be > 0");

    fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd_ < 0)
        throw_errno(errno, options_.queue_num, "netlink socket");
    try {
        sockaddr_nl local{};
        local.nl_family = AF_NETLINK;
        if (::bind(fd_, reinterpret_cast<const sockaddr*>(&local), sizeof local) < 0)
            throw_errno(errno, options_.queue_num, "bind netlink socket");

        // A big receive buffer absorbs bursts of GSO packets (baselines:
        // the default overran ~100k times per run); FORCE needs CAP_NET_ADMIN,
        // which binding a queue needs anyway.
        int value = options_.rcvbuf_bytes;
        if (::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &value, sizeof value) < 0 &&
            ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &value, sizeof value) < 0)
            throw_errno(errno, options_.queue_num, "SO_RCVBUF");
        socklen_t len = sizeof rcvbuf_bytes_;
        ::getsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf_bytes_, &len);

        value = options_.sndbuf_bytes;
        if (::setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &value, sizeof value) < 0 &&
            ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &value, sizeof value) < 0)
            throw_errno(errno, options_.queue_num, "SO_SNDBUF");

        // Overruns must be reported (ENOBUFS on recv) so they can be counted.
        int off = 0;
        if (::setsockopt(fd_, SOL_NETLINK, NETLINK_NO_ENOBUFS, &off, sizeof off) < 0)
            throw_errno(errno, options_.queue_num, "NETLINK_NO_ENOBUFS");

        receive_buffer_.resize(options_.receive_batch * kReceiveSlotBytes);
        batch_.resize(options_.receive_batch);
        receive_headers_.resize(options_.receive_batch);
        receive_iovs_.resize(options_.receive_batch);
        for (std::size_t i = 0; i < options_.receive_batch; ++i)
            receive_iovs_[i] = {receive_buffer_.data() + i * kReceiveSlotBytes, kReceiveSlotBytes};

        configure();

        const int flags = ::fcntl(fd_, F_GETFL);
        if (flags < 0 || ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK) < 0)
            throw_errno(errno, options_.queue_num, "O_NONBLOCK");
    } catch (...) {
        ::close(fd_);
        fd_ = -1;
        throw;
    }
}

Queue::~Queue() {
    if (fd_ < 0)
        return;
    flush();
    // Closing the socket also unbinds; the explicit unbind makes it immediate.
    alignas(nlmsghdr) std::array<std::uint8_t, 128> message{};
    nlmsghdr* nlh = nfq_nlmsg_put(reinterpret_cast<char*>(message.data()), NFQNL_MSG_CONFIG,
                                  options_.queue_num);
    nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_UNBIND);
    (void)::send(fd_, nlh, nlh->nlmsg_len, 0);
    ::close(fd_);
}

void Queue::configure() {
    // Bind, copy mode, queue length and flags in one message: the kernel
    // applies them together, so hardly any packet is queued with the default
    // (metadata only) settings.
    alignas(nlmsghdr) std::array<std::uint8_t, 256> message{};
    nlmsghdr* nlh = nfq_nlmsg_put(reinterpret_cast<char*>(message.data()), NFQNL_MSG_CONFIG,
                                  options_.queue_num);
    nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
    nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, static_cast<int>(kCopyRange));
    nfq_nlmsg_cfg_put_qmaxlen(nlh, options_.max_len);
    const std::uint32_t mask = NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN;
    std::uint32_t flags = 0;
    if (options_.gso)
        flags |= NFQA_CFG_F_GSO;
    if (options_.fail_open)
        flags |= NFQA_CFG_F_FAIL_OPEN;
    mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(mask));
    mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
    nlh->nlmsg_flags |= NLM_F_ACK;
    nlh->nlmsg_seq = next_seq_++;
    send_config_and_wait_ack({message.data(), nlh->nlmsg_len}, nlh->nlmsg_seq,
                             "bind and configure");
}

void Queue::send_config_and_wait_ack(std::span<const std::uint8_t> message, std::uint32_t seq,
                                     std::string_view what) {
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd_, message.data(), message.size(), 0, reinterpret_cast<const sockaddr*>(&kernel),
                 sizeof kernel) < 0)
        throw_errno(errno, options_.queue_num, std::string(what) + ": send");

    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kSetupTimeoutMs);
    std::span<std::uint8_t> slot{receive_buffer_.data(), kReceiveSlotBytes};
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            throw std::runtime_error(queue_label(options_.queue_num) + ": " + std::string(what) +
                                     ": no answer from the kernel within 5 s");
        pollfd pfd{fd_, POLLIN, 0};
        const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno != EINTR)
            throw_errno(errno, options_.queue_num, std::string(what) + ": poll");
        if (ready <= 0)
            continue;
        const ssize_t got = ::recv(fd_, slot.data(), slot.size(), MSG_DONTWAIT);
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == ENOBUFS)
                continue;
            throw_errno(errno, options_.queue_num, std::string(what) + ": recv");
        }
        const auto* nlh = reinterpret_cast<const nlmsghdr*>(slot.data());
        int remaining = static_cast<int>(got);
        bool have_packets = false;
        for (; mnl_nlmsg_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
            if (nlh->nlmsg_type == NLMSG_ERROR && nlh->nlmsg_seq == seq) {
                const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
                if (err->error == 0)
                    return;
                const int code = -err->error;
                std::string hint;
                if (code == EPERM) // the kernel's answer to both
                    hint = " (another socket owns this queue, or CAP_NET_ADMIN is missing)";
                else if (code == EOPNOTSUPP)
                    hint = " (the kernel does not support a requested queue flag)";
                throw_errno(code, options_.queue_num, std::string(what) + hint);
            }
            if (nlh->nlmsg_type == ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET))
                have_packets = true;
        }
        if (have_packets)
            requeue_during_setup(slot.first(static_cast<std::size_t>(got)));
    }
}

// Packets queued between the bind and the settings arrive with metadata only;
// NF_REPEAT runs the queuing rule again, which queues them with the settings.
void Queue::requeue_during_setup(std::span<std::uint8_t> datagram) {
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(datagram.data());
    int remaining = static_cast<int>(datagram.size());
    for (; mnl_nlmsg_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
        if (nlh->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET))
            continue;
        nlattr* attrs[NFQA_MAX + 1] = {};
        if (nfq_nlmsg_parse(nlh, attrs) < 0 || attrs[NFQA_PACKET_HDR] == nullptr)
            continue;
        const auto* header =
            static_cast<const nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attrs[NFQA_PACKET_HDR]));
        alignas(nlmsghdr) std::array<std::uint8_t, kVerdictMessageBytes> message{};
        nlmsghdr* verdict = nfq_nlmsg_put(reinterpret_cast<char*>(message.data()),
                                          NFQNL_MSG_VERDICT, options_.queue_num);
        nfq_nlmsg_verdict_put(verdict, static_cast<int>(ntohl(header->packet_id)), NF_REPEAT);
        (void)::send(fd_, verdict, verdict->nlmsg_len, 0);
        counters_.add(QueueCounter::setup_requeued);
    }
}

// ---------------------------------------------------------------------------
// Receive

std::size_t Queue::receive_into_batch() {
    const std::size_t slots = options_.receive_batch;
    std::vector<mmsghdr>& headers = receive_headers_;
    for (std::size_t i = 0; i < slots; ++i) {
        headers[i] = mmsghdr{};
        headers[i].msg_hdr.msg_iov = &receive_iovs_[i];
        headers[i].msg_hdr.msg_iovlen = 1;
    }
    int got;
    do {
        got = ::recvmmsg(fd_, headers.data(), static_cast<unsigned>(slots), MSG_DONTWAIT, nullptr);
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
        if (errno == ENOBUFS)
            counters_.add(QueueCounter::enobufs);
        else if (errno != EAGAIN && errno != EWOULDBLOCK)
            counters_.add(QueueCounter::recv_errors);
        return 0;
    }

    std::size_t n_packets = 0;
    for (int i = 0; i < got; ++i) {
        if (headers[i].msg_hdr.msg_flags & MSG_TRUNC) {
            counters_.add(QueueCounter::truncated_datagrams);
            continue;
        }
        parse_datagram({receive_buffer_.data() + static_cast<std::size_t>(i) * kReceiveSlotBytes,
                        headers[i].msg_len},
                       n_packets);
    }
    return n_packets;
}

void Queue::parse_datagram(std::span<std::uint8_t> datagram, std::size_t& n_packets) {
    auto* nlh = reinterpret_cast<nlmsghdr*>(datagram.data());
    int remaining = static_cast<int>(datagram.size());
    for (; mnl_nlmsg_ok(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
        if (nlh->nlmsg_type == NLMSG_ERROR) {
            // Verdicts are sent without NLM_F_ACK: an error message here is a
            // verdict the kernel refused.
            const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
            if (err->error != 0)
                counters_.add(QueueCounter::verdict_rejected);
            continue;
        }
        if (nlh->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET))
            continue;
        nlattr* attrs[NFQA_MAX + 1] = {};
        if (nfq_nlmsg_parse(nlh, attrs) < 0 || attrs[NFQA_PACKET_HDR] == nullptr) {
            counters_.add(QueueCounter::recv_errors);
            continue;
        }
        if (n_packets >= batch_.size())
            batch_.resize(n_packets + 1); // more than one packet per datagram: not seen in practice
        QueuedPacket& packet = batch_[n_packets];
        packet = QueuedPacket{};
        const auto* header =
            static_cast<const nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attrs[NFQA_PACKET_HDR]));
        packet.id = ntohl(header->packet_id);
        packet.hw_protocol = ntohs(header->hw_protocol);
        packet.hook = static_cast<Hook>(header->hook);
        if (attrs[NFQA_MARK])
            packet.mark = attr_be32(attrs[NFQA_MARK]);
        if (attrs[NFQA_IFINDEX_INDEV])
            packet.in_ifindex = attr_be32(attrs[NFQA_IFINDEX_INDEV]);
        if (attrs[NFQA_IFINDEX_OUTDEV])
            packet.out_ifindex = attr_be32(attrs[NFQA_IFINDEX_OUTDEV]);
        if (attrs[NFQA_SKB_INFO])
            packet.skb_info = attr_be32(attrs[NFQA_SKB_INFO]);
        if (attrs[NFQA_PAYLOAD]) {
            packet.payload = {static_cast<std::uint8_t*>(mnl_attr_get_payload(attrs[NFQA_PAYLOAD])),
                              mnl_attr_get_payload_len(attrs[NFQA_PAYLOAD])};
        }
        packet.original_length = attrs[NFQA_CAP_LEN]
                                     ? attr_be32(attrs[NFQA_CAP_LEN])
                                     : static_cast<std::uint32_t>(packet.payload.size());

        counters_.add(QueueCounter::packets);
        counters_.add(QueueCounter::bytes, packet.payload.size());
        if (packet.is_gso())
            counters_.add(QueueCounter::gso_packets);
        if (packet.truncated())
            counters_.add(QueueCounter::truncated_packets);

        if (tracking_ && options_.batch_verdicts) {
            if (outstanding_.size() >= kMaxTrackedOutstanding) {
                tracking_ = false;
                outstanding_.clear();
            } else {
                outstanding_.push_back({packet.id, false});
            }
        }
        ++n_packets;
    }
}

// ---------------------------------------------------------------------------
// Verdicts

void Queue::accept(std::uint32_t id) {
    counters_.add(QueueCounter::accepted);
    verdict(id, NF_ACCEPT, {}, false);
}

void Queue::drop(std::uint32_t id) {
    counters_.add(QueueCounter::dropped);
    verdict(id, NF_DROP, {}, false);
}

bool Queue::accept_mangled(std::uint32_t id, std::span<const std::uint8_t> packet) {
    if (packet.size() > kMaxMangledBytes) {
        counters_.add(QueueCounter::mangled_too_large);
        return false;
    }
    counters_.add(QueueCounter::mangled);
    verdict(id, NF_ACCEPT, packet, true);
    return true;
}

bool Queue::mark_done(std::uint32_t id) {
    if (outstanding_.empty())
        return false;
    if (outstanding_.front().id == id) {
        outstanding_.front().done = true;
        return true;
    }
    auto it =
        std::lower_bound(outstanding_.begin(), outstanding_.end(), id,
                         [](const Outstanding& e, std::uint32_t v) { return id_before(e.id, v); });
    if (it != outstanding_.end() && it->id == id)
        it->done = true;
    return false;
}

void Queue::pop_done_front() {
    while (!outstanding_.empty() && outstanding_.front().done)
        outstanding_.pop_front();
}

void Queue::verdict(std::uint32_t id, std::uint32_t nf_verdict,
                    std::span<const std::uint8_t> packet, bool with_packet) {
    const bool tracked = options_.batch_verdicts && tracking_;
    const bool oldest = tracked && mark_done(id);
    if (oldest && nf_verdict == NF_ACCEPT && !with_packet) {
        // Every older packet already has its verdict in the buffer (or sent):
        // a batch accept up to this id covers exactly the run.
        run_upto_ = id;
        ++run_length_;
    } else {
        append_single_verdict(id, nf_verdict, packet, with_packet);
    }
    if (oldest)
        pop_done_front();
}

void Queue::append_single_verdict(std::uint32_t id, std::uint32_t nf_verdict,
                                  std::span<const std::uint8_t> packet, bool with_packet) {
    const std::size_t bytes =
        kVerdictMessageBytes + (with_packet ? MNL_ALIGN(sizeof(nlattr) + packet.size()) : 0);
    // Keep room for the run's message that flush() appends.
    if (send_used_ + bytes + kVerdictMessageBytes > kVerdictBufferBytes)
        flush();
    write_verdict_message(NFQNL_MSG_VERDICT, id, nf_verdict, packet, with_packet);
}

void Queue::write_verdict_message(std::uint16_t type, std::uint32_t id, std::uint32_t nf_verdict,
                                  std::span<const std::uint8_t> packet, bool with_packet) {
    auto* nlh = nfq_nlmsg_put(reinterpret_cast<char*>(send_buffer_.get() + send_used_), type,
                              options_.queue_num);
    nfq_nlmsg_verdict_put(nlh, static_cast<int>(id), static_cast<int>(nf_verdict));
    if (with_packet)
        nfq_nlmsg_verdict_put_pkt(nlh, packet.data(), static_cast<std::uint32_t>(packet.size()));
    send_used_ += MNL_ALIGN(nlh->nlmsg_len);
    counters_.add(QueueCounter::verdict_messages);
    if (type == NFQNL_MSG_VERDICT_BATCH)
        counters_.add(QueueCounter::verdict_batches);
}

bool Queue::flush() {
    if (run_length_ > 0) {
        // Appended last (into the room append_single_verdict keeps free), so
        // the singles for older ids in this buffer are applied first.
        const std::uint16_t type = run_length_ == 1 ? NFQNL_MSG_VERDICT : NFQNL_MSG_VERDICT_BATCH;
        run_length_ = 0;
        write_verdict_message(type, run_upto_, NF_ACCEPT, {}, false);
    }
    if (send_used_ == 0)
        return true;

    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    ssize_t sent;
    do {
        sent = ::sendto(fd_, send_buffer_.get(), send_used_, 0,
                        reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel);
    } while (sent < 0 && errno == EINTR);
    send_used_ = 0;
    counters_.add(QueueCounter::verdict_sends);
    if (sent < 0) {
        counters_.add(QueueCounter::verdict_send_errors);
        return false;
    }
    return true;
}

} // namespace svxlat::nfq
