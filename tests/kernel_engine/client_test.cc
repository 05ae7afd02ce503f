// SPDX-License-Identifier: GPL-2.0 OR MIT
// The real socket: on a host without svxlat.ko the generic netlink
// controller is asked for the family and its absence is reported as such,
// distinct from any other failure. (With the module loaded, the VM tests
// exercise the rest.)
#include "kernel_engine/client.h"

#include <gtest/gtest.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <sys/stat.h>

#include <memory>
#include <optional>

namespace svxlat::kernel_engine {
namespace {

bool module_loaded() {
    struct stat st {};
    return ::stat("/sys/module/svxlat", &st) == 0;
}

TEST(KernelClient, MissingModuleIsReportedAsSuch) {
    if (module_loaded())
        GTEST_SKIP() << "svxlat.ko is loaded here";
    EXPECT_FALSE(KernelClient::available());
    try {
        KernelClient client;
        FAIL() << "resolved family " << client.family_id() << " without the module";
    } catch (const KernelError& e) {
        EXPECT_EQ(e.kind(), ErrorKind::family_missing) << e.what();
        EXPECT_STREQ(e.what(), "svxlat.ko is not loaded (no generic netlink family \"svxlat\")");
    }
}

// The family lookup and reply walk against the real controller, asking for
// a family that always exists: the controller itself.
TEST(KernelClient, ControllerAnswersTheFamilyLookup) {
    mnl_socket* raw = mnl_socket_open(NETLINK_GENERIC);
    ASSERT_NE(raw, nullptr);
    std::unique_ptr<mnl_socket, int (*)(mnl_socket*)> socket(raw, mnl_socket_close);
    ASSERT_EQ(mnl_socket_bind(socket.get(), 0, MNL_SOCKET_AUTOPID), 0);
    const std::uint32_t seq = 99;
    auto request = encode_get_family("nlctrl", seq);
    ASSERT_GT(mnl_socket_sendto(socket.get(), request.data(), request.size()), 0);
    std::vector<std::uint8_t> buffer(64 * 1024);
    std::optional<FamilyInfo> family;
    ReplyContext context{GENL_ID_CTRL, seq, mnl_socket_get_portid(socket.get()),
                         "the generic netlink controller", "GETFAMILY nlctrl"};
    bool done = false;
    while (!done) {
        ssize_t n = mnl_socket_recvfrom(socket.get(), buffer.data(), buffer.size());
        ASSERT_GT(n, 0);
        done = read_reply({buffer.data(), static_cast<std::size_t>(n)}, context,
                          [&](std::span<const std::uint8_t> m) { family = decode_family(m); });
    }
    ASSERT_TRUE(family);
    EXPECT_EQ(family->id, GENL_ID_CTRL);
    EXPECT_GE(family->version, 1u);
}

TEST(KernelClient, LoadedModuleAnswersInfo) {
    if (!module_loaded())
        GTEST_SKIP() << "svxlat.ko is not loaded here";
    KernelClient client;
    EXPECT_TRUE(KernelClient::available());
    auto info = client.info();
    EXPECT_FALSE(incompatibility(info).has_value()) << *incompatibility(info);
}

} // namespace
} // namespace svxlat::kernel_engine
