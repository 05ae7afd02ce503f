#include "kernel_rig.h"

#include <svxlat/stats.h>
#include <svxlat/wire.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdexcept>
#include <string>
#include <sys/ioctl.h>
#include <thread>
#include <unistd.h>

namespace svxlat::test {
namespace {

constexpr const char* kTunName = "svxrig";

// struct virtio_net_hdr (linux/virtio_net.h is not valid C++: a member is
// named `class`); the layout is fixed uapi, native byte order on a TUN.
struct VnetHdr {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
};
static_assert(sizeof(VnetHdr) == 10);
constexpr uint8_t kVnetNeedsCsum = 1;

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("kernel rig: " + what + ": " + std::strerror(errno));
}

void run(const std::string& cmd) {
    if (std::system(cmd.c_str()) != 0)
        throw std::runtime_error("kernel rig: `" + cmd + "` failed");
}

// How long the module gets to emit everything for one injected packet once
// it has started on it (it emits synchronously; this only covers scheduling).
constexpr int kQuietMs = 40;

} // namespace

KernelRig::KernelRig(const kernel_engine::KernelConfig& config) {
    // A namespace per rig: a clean flow table and counters for every test.
    if (unshare(CLONE_NEWNET) != 0)
        fail("unshare(CLONE_NEWNET)");
    std::ofstream("/proc/sys/net/ipv6/conf/all/disable_ipv6") << "1\n";
    std::ofstream("/proc/sys/net/ipv6/conf/default/disable_ipv6") << "1\n";
    tun_fd_ = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (tun_fd_ < 0)
        fail("open /dev/net/tun");
    ifreq ifr{};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
    std::strncpy(ifr.ifr_name, kTunName, IFNAMSIZ - 1);
    if (ioctl(tun_fd_, TUNSETIFF, &ifr) != 0)
        fail("TUNSETIFF");
    run(std::string("ip link set lo up && ip link set ") + kTunName +
        " up && ip addr add 172.31.255.1/32 dev " + kTunName + " && ip route add default dev " +
        kTunName);
    client_ = std::make_unique<kernel_engine::KernelClient>();
    client_->apply(config);
}

KernelRig::~KernelRig() {
    if (tun_fd_ >= 0)
        close(tun_fd_);
}

void KernelRig::drain(std::vector<Bytes>& outputs) {
    std::vector<uint8_t> buf(sizeof(VnetHdr) + 70000);
    pollfd pfd{tun_fd_, POLLIN, 0};
    while (poll(&pfd, 1, kQuietMs) > 0) {
        ssize_t n = read(tun_fd_, buf.data(), buf.size());
        if (n < 0)
            fail("read tun");
        const auto hdr = sizeof(VnetHdr);
        if (static_cast<size_t>(n) <= hdr || buf[hdr] >> 4 != 4)
            continue; // not IPv4: nothing of ours
        outputs.emplace_back(buf.begin() + hdr, buf.begin() + n);
    }
}

bool KernelRig::process(const Bytes& pkt, bool partial, std::vector<Bytes>& outputs) {
    outputs.clear();
    const auto before = client_->stats();
    VnetHdr vh{};
    if (partial && pkt.size() >= SVX_IPV4_HDR_LEN) {
        // A checksum left for the device (CHECKSUM_PARTIAL), as for a
        // locally generated or offloaded segment.
        const unsigned ihl = (pkt[0] & 0xfu) * 4;
        vh.flags = kVnetNeedsCsum;
        vh.csum_start = static_cast<uint16_t>(ihl);
        vh.csum_offset = pkt[9] == SVX_IPPROTO_TCP ? 16 : 6;
    }
    std::vector<uint8_t> frame(sizeof(vh) + pkt.size());
    std::memcpy(frame.data(), &vh, sizeof(vh));
    std::memcpy(frame.data() + sizeof(vh), pkt.data(), pkt.size());
    if (write(tun_fd_, frame.data(), frame.size()) != static_cast<ssize_t>(frame.size()))
        fail("write tun");
    // Wait until the module has seen it, then collect what it emitted.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    kernel_engine::KernelStats after;
    for (;;) {
        after = client_->stats();
        if (after.stat(SVX_ST_PACKETS) > before.stat(SVX_ST_PACKETS))
            break;
        if (std::chrono::steady_clock::now() > deadline)
            throw std::runtime_error("kernel rig: the module never saw the packet");
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    drain(outputs);
    after = client_->stats();
    return after.stat(SVX_ST_NOT_OURS) > before.stat(SVX_ST_NOT_OURS);
}

void KernelRig::abort_all(std::vector<Bytes>& outputs) {
    outputs.clear();
    client_->clear();
    drain(outputs);
}

} // namespace svxlat::test
