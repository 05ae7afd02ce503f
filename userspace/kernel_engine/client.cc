// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "kernel_engine/client.h"

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace svxlat::kernel_engine {
namespace {

// Room for the largest dump message the kernel builds (32 KiB) and any
// capped error or ACK.
constexpr std::size_t kReceiveBufferBytes = 64 * 1024;

[[noreturn]] void socket_error(const std::string& what, int error_number) {
    throw KernelError(ErrorKind::io,
                      "svxlat.ko netlink socket: " + what + ": " + std::strerror(error_number),
                      error_number);
}

// setsockopt with the privileged variant first (root may exceed the
// net.core.*mem_max limits), then the ordinary one.
void set_buffer(mnl_socket* socket, int forced, int ordinary, int bytes) {
    int fd = mnl_socket_get_fd(socket);
    if (setsockopt(fd, SOL_SOCKET, forced, &bytes, sizeof(bytes)) == 0)
        return;
    setsockopt(fd, SOL_SOCKET, ordinary, &bytes, sizeof(bytes));
}

int get_int_option(mnl_socket* socket, int option) {
    int value = 0;
    socklen_t len = sizeof(value);
    getsockopt(mnl_socket_get_fd(socket), SOL_SOCKET, option, &value, &len);
    return value;
}

} // namespace

void KernelClient::SocketCloser::operator()(mnl_socket* socket) const noexcept {
    mnl_socket_close(socket);
}

KernelClient::KernelClient(ClientOptions options)
    : options_(options), receive_buffer_(kReceiveBufferBytes) {
    socket_.reset(mnl_socket_open(NETLINK_GENERIC));
    if (!socket_)
        socket_error("cannot open", errno);
    if (mnl_socket_bind(socket_.get(), 0, MNL_SOCKET_AUTOPID) < 0)
        socket_error("cannot bind", errno);
    portid_ = mnl_socket_get_portid(socket_.get());
    // A starting point that differs between runs, so a late reply to an
    // earlier process's request cannot pass for ours.
    seq_ = static_cast<std::uint32_t>(std::time(nullptr));

    int fd = mnl_socket_get_fd(socket_.get());
    // Errors are answered with their TLVs but without a copy of the request
    // (a SET_CONFIG can be megabytes).
    int on = 1;
    setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof(on));
    setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &on, sizeof(on));
    set_buffer(socket_.get(), SO_RCVBUFFORCE, SO_RCVBUF, options_.receive_buffer_bytes);
    auto ms = options_.reply_timeout.count();
    timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
        socket_error("cannot set the reply timeout", errno);

    const std::uint32_t seq = next_seq();
    auto request = encode_get_family(SVX_NL_FAMILY, seq);
    std::optional<FamilyInfo> family;
    try {
        exchange(request,
                 ReplyContext{GENL_ID_CTRL, seq, portid_, "the generic netlink controller",
                              "GETFAMILY " SVX_NL_FAMILY},
                 [&](std::span<const std::uint8_t> message) { family = decode_family(message); });
    } catch (const KernelError& e) {
        if (e.kind() == ErrorKind::refused && e.error_number() == ENOENT)
            throw KernelError(ErrorKind::family_missing,
                              "svxlat.ko is not loaded (no generic netlink family \"" SVX_NL_FAMILY
                              "\")",
                              ENOENT);
        throw;
    }
    if (!family)
        throw KernelError(ErrorKind::protocol, "the generic netlink controller acknowledged "
                                               "GETFAMILY " SVX_NL_FAMILY " without an answer");
    if (family->version != SVX_NL_VERSION)
        throw KernelError(ErrorKind::incompatible,
                          "svxlat.ko registered netlink protocol version " +
                              std::to_string(family->version) + ", this svxlatd speaks " +
                              std::to_string(SVX_NL_VERSION));
    if (family->header_size != sizeof(svx_nl_hdr))
        throw KernelError(ErrorKind::incompatible,
                          "svxlat.ko's netlink header is " + std::to_string(family->header_size) +
                              " bytes, this svxlatd's " + std::to_string(sizeof(svx_nl_hdr)));
    family_id_ = family->id;
}

KernelClient::~KernelClient() = default;
KernelClient::KernelClient(KernelClient&&) noexcept = default;
KernelClient& KernelClient::operator=(KernelClient&&) noexcept = default;

bool KernelClient::available() {
    try {
        KernelClient probe;
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

void KernelClient::ensure_send_buffer(std::size_t message_bytes) {
    // netlink refuses a message longer than the send buffer less 32 bytes.
    const std::size_t needed = message_bytes + 64;
    if (static_cast<std::size_t>(get_int_option(socket_.get(), SO_SNDBUF)) >= needed)
        return;
    if (needed > static_cast<std::size_t>(INT32_MAX / 2))
        throw KernelError(ErrorKind::invalid_config,
                          "netlink message of " + std::to_string(message_bytes) + " bytes");
    set_buffer(socket_.get(), SO_SNDBUFFORCE, SO_SNDBUF, static_cast<int>(needed));
    const int granted = get_int_option(socket_.get(), SO_SNDBUF);
    if (static_cast<std::size_t>(granted) < needed)
        throw KernelError(ErrorKind::io,
                          "a netlink message of " + std::to_string(message_bytes) +
                              " bytes does not fit the socket's send buffer (" +
                              std::to_string(granted) +
                              " bytes): run svxlatd as root (CAP_NET_ADMIN) or raise "
                              "net.core.wmem_max",
                          EMSGSIZE);
}

void KernelClient::exchange(std::span<const std::uint8_t> request, const ReplyContext& context,
                            const std::function<void(std::span<const std::uint8_t>)>& on_message) {
    ensure_send_buffer(request.size());
    if (mnl_socket_sendto(socket_.get(), request.data(), request.size()) < 0)
        socket_error("cannot send " + std::string(context.request), errno);
    for (;;) {
        ssize_t n =
            mnl_socket_recvfrom(socket_.get(), receive_buffer_.data(), receive_buffer_.size());
        if (n < 0) {
            int e = errno;
            if (e == EINTR)
                continue;
            if (e == EAGAIN || e == EWOULDBLOCK)
                throw KernelError(ErrorKind::io,
                                  std::string(context.peer) + " did not answer " +
                                      std::string(context.request) + " within " +
                                      std::to_string(options_.reply_timeout.count()) + " ms",
                                  ETIMEDOUT);
            if (e == ENOSPC)
                throw KernelError(ErrorKind::protocol,
                                  std::string(context.peer) + " sent a reply to " +
                                      std::string(context.request) + " larger than " +
                                      std::to_string(receive_buffer_.size()) + " bytes",
                                  e);
            socket_error("cannot receive the reply to " + std::string(context.request), e);
        }
        if (read_reply({receive_buffer_.data(), static_cast<std::size_t>(n)}, context, on_message))
            return;
    }
}

std::vector<std::uint8_t> KernelClient::single_reply(std::uint8_t cmd) {
    const std::uint32_t seq = next_seq();
    const std::string name = command_name(cmd);
    std::vector<std::uint8_t> reply;
    bool extra = false;
    exchange(encode_request(cmd, {family_id_, seq, NLM_F_ACK}),
             ReplyContext{family_id_, seq, portid_, "svxlat.ko", name},
             [&](std::span<const std::uint8_t> message) {
                 if (!reply.empty())
                     extra = true;
                 else
                     reply.assign(message.begin(), message.end());
             });
    if (reply.empty())
        throw KernelError(ErrorKind::protocol,
                          "svxlat.ko acknowledged " + name + " without an answer");
    if (extra)
        throw KernelError(ErrorKind::protocol, "svxlat.ko answered " + name + " more than once");
    return reply;
}

KernelInfo KernelClient::info() {
    return decode_info(single_reply(SVX_NL_CMD_GET_INFO), family_id_);
}

KernelStats KernelClient::stats() {
    return decode_stats(single_reply(SVX_NL_CMD_GET_STATS), family_id_);
}

void KernelClient::apply(const KernelConfig& config) {
    const std::uint32_t seq = next_seq();
    auto request = encode_set_config(config, {family_id_, seq, NLM_F_ACK});
    exchange(request, ReplyContext{family_id_, seq, portid_, "svxlat.ko", "SET_CONFIG"},
             [](std::span<const std::uint8_t>) {});
}

void KernelClient::set_routes(std::span<const svx_route_entry> entries,
                              std::span<const svx_route_target> targets, std::uint64_t generation) {
    const std::uint32_t seq = next_seq();
    // Up to ~10 MB: exchange() grows the send buffer as for SET_CONFIG.
    auto request = encode_set_routes(entries, targets, generation, {family_id_, seq, NLM_F_ACK});
    exchange(request, ReplyContext{family_id_, seq, portid_, "svxlat.ko", "SET_ROUTES"},
             [](std::span<const std::uint8_t>) {});
}

void KernelClient::clear() {
    const std::uint32_t seq = next_seq();
    exchange(encode_request(SVX_NL_CMD_CLEAR_CONFIG, {family_id_, seq, NLM_F_ACK}),
             ReplyContext{family_id_, seq, portid_, "svxlat.ko", "CLEAR_CONFIG"},
             [](std::span<const std::uint8_t>) {});
}

std::vector<svx_flow> KernelClient::flows() {
    const std::uint32_t seq = next_seq();
    std::vector<svx_flow> flows;
    exchange(encode_request(SVX_NL_CMD_GET_FLOWS, {family_id_, seq, NLM_F_DUMP}),
             ReplyContext{family_id_, seq, portid_, "svxlat.ko", "GET_FLOWS"},
             [&](std::span<const std::uint8_t> message) {
                 if (flows.size() >= SVX_NL_MAX_FLOWS)
                     throw KernelError(ErrorKind::protocol, "svxlat.ko dumped more than " +
                                                                std::to_string(SVX_NL_MAX_FLOWS) +
                                                                " flows");
                 flows.push_back(decode_flow(message, family_id_));
             });
    return flows;
}

std::vector<KernelRoute> KernelClient::routes(std::uint8_t table) {
    const std::uint32_t seq = next_seq();
    RouteDump dump;
    exchange(encode_get_routes(table, {family_id_, seq, NLM_F_DUMP}),
             ReplyContext{family_id_, seq, portid_, "svxlat.ko", "GET_ROUTES"},
             [&](std::span<const std::uint8_t> message) {
                 dump.add(decode_route(message, family_id_));
             });
    return dump.take();
}

} // namespace svxlat::kernel_engine
