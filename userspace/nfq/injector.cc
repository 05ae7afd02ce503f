// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "nfq/injector.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

namespace svxlat::nfq {

namespace {

constexpr std::size_t kIpv4HeaderBytes = 20;
constexpr std::size_t kMaxIpv4Bytes = 65535;

[[noreturn]] void throw_errno(int err, const std::string& what) {
    throw std::system_error(err, std::generic_category(), "nfq: injector: " + what);
}

} // namespace

Injector::Injector(const InjectorOptions& options) : options_(options) {
    if (options_.batch_packets == 0)
        options_.batch_packets = 1;
    // IPPROTO_RAW implies IP_HDRINCL: the caller's header goes out as is.
    const int type = SOCK_RAW | SOCK_CLOEXEC | (options_.nonblocking ? SOCK_NONBLOCK : 0);
    fd_ = ::socket(AF_INET, type, IPPROTO_RAW);
    if (fd_ < 0)
        throw_errno(errno, "raw socket (needs CAP_NET_RAW)");
    try {
        if (options_.mark != 0 &&
            ::setsockopt(fd_, SOL_SOCKET, SO_MARK, &options_.mark, sizeof options_.mark) < 0)
            throw_errno(errno, "SO_MARK (needs CAP_NET_ADMIN)");
        int value = options_.sndbuf_bytes;
        if (::setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &value, sizeof value) < 0 &&
            ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &value, sizeof value) < 0)
            throw_errno(errno, "SO_SNDBUF");
    } catch (...) {
        ::close(fd_);
        throw;
    }
    bytes_.reserve(options_.batch_bytes);
    pending_.reserve(options_.batch_packets);
}

Injector::~Injector() {
    flush();
    ::close(fd_);
}

void Injector::add(std::span<const std::uint8_t> ip_packet) {
    if (ip_packet.size() > kMaxIpv4Bytes) {
        counters_.add(InjectorCounter::dropped_oversize);
        return;
    }
    if (ip_packet.size() < kIpv4HeaderBytes || (ip_packet[0] >> 4) != 4) {
        counters_.add(InjectorCounter::dropped_malformed);
        return;
    }
    if (pending_.size() >= options_.batch_packets ||
        (!pending_.empty() && bytes_.size() + ip_packet.size() > options_.batch_bytes))
        flush();

    PendingPacket packet{bytes_.size(), ip_packet.size(), {}};
    packet.destination.sin_family = AF_INET;
    std::memcpy(&packet.destination.sin_addr, ip_packet.data() + 16, 4); // daddr, network order
    bytes_.insert(bytes_.end(), ip_packet.begin(), ip_packet.end());
    pending_.push_back(packet);
}

void Injector::count_send_error(int err) {
    switch (err) {
    case EMSGSIZE:
        counters_.add(InjectorCounter::err_msgsize);
        break;
    case ENOBUFS:
    case EAGAIN:
        counters_.add(InjectorCounter::err_nobufs);
        break;
    case EPERM:
    case EACCES:
        counters_.add(InjectorCounter::err_perm);
        break;
    default:
        counters_.add(InjectorCounter::err_other);
        break;
    }
}

std::size_t Injector::flush() {
    const std::size_t n = pending_.size();
    if (n == 0)
        return 0;
    // Pointers into bytes_ are taken only now: add() may have reallocated it.
    headers_.resize(n);
    iovs_.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        PendingPacket& packet = pending_[i];
        iovs_[i] = {bytes_.data() + packet.offset, packet.length};
        headers_[i] = mmsghdr{};
        headers_[i].msg_hdr.msg_name = &packet.destination;
        headers_[i].msg_hdr.msg_namelen = sizeof packet.destination;
        headers_[i].msg_hdr.msg_iov = &iovs_[i];
        headers_[i].msg_hdr.msg_iovlen = 1;
    }

    std::size_t sent_total = 0;
    std::size_t next = 0;
    // Each round either sends at least one packet or gives up on one, so
    // the loop ends after at most n rounds.
    while (next < n) {
        const int sent =
            ::sendmmsg(fd_, headers_.data() + next, static_cast<unsigned>(n - next), 0);
        counters_.add(InjectorCounter::sendmmsg_calls);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            // sendmmsg reports the error of the first packet it could not
            // send; that packet is lost, the rest get another try.
            count_send_error(errno);
            ++next;
            continue;
        }
        for (int i = 0; i < sent; ++i)
            counters_.add(InjectorCounter::bytes,
                          pending_[next + static_cast<std::size_t>(i)].length);
        counters_.add(InjectorCounter::sent, static_cast<std::uint64_t>(sent));
        sent_total += static_cast<std::size_t>(sent);
        next += static_cast<std::size_t>(sent);
    }
    pending_.clear();
    bytes_.clear();
    return sent_total;
}

} // namespace svxlat::nfq
