// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "relay/alias.h"

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/route.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <vector>

namespace svxlat::relay::detail {

namespace {

struct MnlSocketClose {
    void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlSocketClose>;

// One RTM_NEWADDR/RTM_DELADDR request, waiting for the kernel's ACK.
int address_request(std::uint16_t type, std::uint16_t extra_flags, int ifindex,
                    const Ipv4Address& address) {
    MnlSocket nl(mnl_socket_open(NETLINK_ROUTE));
    if (!nl)
        return errno ? errno : EIO;
    if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0)
        return errno ? errno : EIO;
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | NLM_F_ACK | extra_flags);
    auto seq = static_cast<std::uint32_t>(std::time(nullptr));
    nlh->nlmsg_seq = seq;
    auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = 32;
    ifa->ifa_flags = 0;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = static_cast<unsigned>(ifindex);
    mnl_attr_put(nlh, IFA_LOCAL, address.size(), address.data());
    mnl_attr_put(nlh, IFA_ADDRESS, address.size(), address.data());
    if (mnl_socket_sendto(nl.get(), nlh, nlh->nlmsg_len) < 0)
        return errno ? errno : EIO;
    std::uint32_t portid = mnl_socket_get_portid(nl.get());
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl.get(), buf.data(), buf.size());
        if (n < 0)
            return errno ? errno : EIO;
        errno = 0;
        int r = mnl_cb_run(buf.data(), static_cast<std::size_t>(n), seq, portid, nullptr, nullptr);
        if (r == MNL_CB_ERROR)
            return errno ? errno : EIO;
        if (r == MNL_CB_STOP)
            return 0;
    }
}

bool interface_up_not_loopback(const char* name) {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    ifreq req{};
    std::strncpy(req.ifr_name, name, IFNAMSIZ - 1);
    bool ok = ::ioctl(fd, SIOCGIFFLAGS, &req) == 0 && (req.ifr_flags & IFF_UP) &&
              !(req.ifr_flags & IFF_LOOPBACK);
    ::close(fd);
    return ok;
}

} // namespace

std::optional<std::string> default_route_interface(std::string_view text) {
    std::istringstream in{std::string(text)};
    std::string line;
    std::getline(in, line); // header
    std::optional<std::string> best;
    unsigned long best_metric = std::numeric_limits<unsigned long>::max();
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string iface, destination, gateway, flags, refcnt, use, metric, mask;
        if (!(fields >> iface >> destination >> gateway >> flags >> refcnt >> use >> metric >>
              mask))
            continue;
        unsigned long flag_bits = std::strtoul(flags.c_str(), nullptr, 16);
        if (destination != "00000000" || mask != "00000000" || !(flag_bits & RTF_UP))
            continue;
        unsigned long m = std::strtoul(metric.c_str(), nullptr, 10);
        if (!best || m < best_metric) {
            best = iface;
            best_metric = m;
        }
    }
    return best;
}

std::optional<Interface> choose_alias_interface(std::string_view name, std::string& error) {
    if (!name.empty()) {
        std::string n(name);
        unsigned index = if_nametoindex(n.c_str());
        if (index == 0) {
            error = "no interface " + n + ": " + std::strerror(errno);
            return std::nullopt;
        }
        return Interface{static_cast<int>(index), n};
    }
    std::ifstream route("/proc/net/route");
    std::stringstream text;
    text << route.rdbuf();
    if (auto iface = default_route_interface(text.str())) {
        unsigned index = if_nametoindex(iface->c_str());
        if (index != 0)
            return Interface{static_cast<int>(index), *iface};
    }
    struct FreeNameIndex {
        void operator()(struct if_nameindex* p) const { if_freenameindex(p); }
    };
    std::unique_ptr<struct if_nameindex, FreeNameIndex> list(if_nameindex());
    if (list) {
        const struct if_nameindex* best = nullptr;
        for (const struct if_nameindex* i = list.get(); i->if_index != 0; ++i)
            if (interface_up_not_loopback(i->if_name) && (!best || i->if_index < best->if_index))
                best = i;
        if (best)
            return Interface{static_cast<int>(best->if_index), best->if_name};
    }
    error = "no interface for aliases: no default route and no non-loopback interface is up";
    return std::nullopt;
}

int add_alias(int ifindex, const Ipv4Address& address) {
    return address_request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, address);
}

int remove_alias(int ifindex, const Ipv4Address& address) {
    return address_request(RTM_DELADDR, 0, ifindex, address);
}

} // namespace svxlat::relay::detail
