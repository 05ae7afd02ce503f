// libFuzzer target for the decoders of svxlat.ko's generic netlink replies
// (userspace/kernel_engine/messages.h): any bytes give decoded values or a
// KernelError that says why, never a read outside the input. The input is
// one received datagram; its first message's sequence number is taken as
// the request's, so the fuzzer reaches the decoders behind read_reply().
#include "kernel_engine/messages.h"

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace {

using svxlat::kernel_engine::KernelError;
namespace ke = svxlat::kernel_engine;

constexpr std::uint16_t kFamily = 0x1c;

void check_error(const KernelError& e) {
    if (std::string(e.what()).empty())
        __builtin_trap(); // a refusal always says why
}

// One dump per input, as KernelClient::routes() assembles it.
ke::RouteDump route_dump;

void decode_all(std::span<const std::uint8_t> message) {
    try {
        auto info = ke::decode_info(message, kFamily);
        (void)ke::incompatibility(info);
    } catch (const KernelError& e) {
        check_error(e);
    }
    try {
        auto stats = ke::decode_stats(message, kFamily);
        if (stats.stats.size() > 4096 || stats.drops.size() > 4096)
            __builtin_trap();
    } catch (const KernelError& e) {
        check_error(e);
    }
    try {
        svx_flow f = ke::decode_flow(message, kFamily);
        if ((f.role != SVX_ROLE_TRANSLATOR && f.role != SVX_ROLE_HOST) ||
            f.state >= SVX_FS__COUNT || f.n_source > SVX_FLOW_MAX_SOURCE)
            __builtin_trap(); // the decoder lets no impossible flow through
    } catch (const KernelError& e) {
        check_error(e);
    }
    try {
        ke::KernelRoute route = ke::decode_route(message, kFamily);
        if (route.bits > SVX_SID_BITS || route.targets.empty() ||
            route.targets.size() > SVX_NL_MAX_TARGETS_PER_ROUTE)
            __builtin_trap(); // the decoder lets no impossible route through
        for (const auto& t : route.targets)
            if (t.weight == 0)
                __builtin_trap();
        route_dump.add(std::move(route));
    } catch (const KernelError& e) {
        check_error(e);
    }
    try {
        (void)ke::decode_family(message);
    } catch (const KernelError& e) {
        check_error(e);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // A copy of exactly size bytes: reads past it are caught by ASan.
    std::vector<std::uint8_t> bytes(data, data + size);
    route_dump = {};
    decode_all(bytes);
    ke::ReplyContext context{kFamily, 0, 0, "svxlat.ko", "fuzz"};
    if (size >= sizeof(nlmsghdr)) {
        nlmsghdr h{};
        std::memcpy(&h, bytes.data(), sizeof(h));
        context.seq = h.nlmsg_seq;
        context.portid = h.nlmsg_pid;
    }
    try {
        ke::read_reply(bytes, context, [](std::span<const std::uint8_t> message) {
            // Within the datagram, and at least a header long.
            if (message.size() < NLMSG_HDRLEN)
                __builtin_trap();
            decode_all(message);
        });
    } catch (const KernelError& e) {
        check_error(e);
    }
    return 0;
}
