// SPDX-License-Identifier: GPL-2.0 OR MIT
// Root integration test of the NFQUEUE glue and the iptables steering, in
// two network namespaces this test creates and deletes:
//
//   ns A ("translator", 10.99.0.1, veth va) ── ns B ("client", 10.99.0.2, veth vb)
//
// The test thread lives in A; sockets for B are opened after a setns to B.
// Steering (queues 100 and 101) is installed in A with the real iptables
// backend. Every loop is bounded in time and in rounds.
#include "nfq/injector.h"
#include "nfq/queue.h"
#include "steer/command.h"
#include "steer/steering.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using svxlat::nfq::Hook;
using svxlat::nfq::Injector;
using svxlat::nfq::InjectorCounter;
using svxlat::nfq::Queue;
using svxlat::nfq::QueueCounter;
using svxlat::nfq::QueuedPacket;
using svxlat::steer::Backend;
using svxlat::steer::run_command;
using svxlat::steer::Steering;
using svxlat::steer::SteeringSpec;
using Bytes = std::vector<std::uint8_t>;

constexpr const char* kAddressA = "10.99.0.1";
constexpr const char* kAddressB = "10.99.0.2";
constexpr svxlat::steer::Ipv4Address kIpA{10, 99, 0, 1};
constexpr std::uint16_t kBase = 100;
constexpr std::uint32_t kMark = 0x5e;
constexpr std::uint32_t kBroadcastMark = 0x5f;
constexpr std::uint16_t kPublicPort = 8080;
constexpr std::uint16_t kServicePort = 9090;
constexpr int kSalProtocol = 144;

class UniqueFd {
public:
    explicit UniqueFd(int fd = -1) : fd_(fd) {}
    ~UniqueFd() {
        if (fd_ >= 0)
            ::close(fd_);
    }
    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        std::swap(fd_, other.fd_);
        return *this;
    }
    int get() const { return fd_; }

private:
    int fd_;
};

sockaddr_in socket_address(const char* address, std::uint16_t port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    ::inet_pton(AF_INET, address, &sa.sin_addr);
    return sa;
}

std::uint16_t checksum(std::span<const std::uint8_t> bytes, std::uint32_t sum = 0) {
    for (std::size_t i = 0; i + 1 < bytes.size(); i += 2)
        sum += (std::uint32_t{bytes[i]} << 8) | bytes[i + 1];
    if (bytes.size() % 2)
        sum += std::uint32_t{bytes.back()} << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

void put16(Bytes& b, std::size_t at, std::uint16_t v) {
    b[at] = static_cast<std::uint8_t>(v >> 8);
    b[at + 1] = static_cast<std::uint8_t>(v);
}

// A complete IPv4 + TCP (ACK|PSH) packet with correct checksums.
Bytes tcp_packet(const char* source, std::uint16_t source_port, const char* destination,
                 std::uint16_t destination_port, std::string_view payload) {
    Bytes p(40 + payload.size(), 0);
    p[0] = 0x45;
    put16(p, 2, static_cast<std::uint16_t>(p.size()));
    p[8] = 64;
    p[9] = IPPROTO_TCP;
    ::inet_pton(AF_INET, source, &p[12]);
    ::inet_pton(AF_INET, destination, &p[16]);
    put16(p, 10, checksum({p.data(), 20}));
    put16(p, 20, source_port);
    put16(p, 22, destination_port);
    p[24 + 3] = 1; // seq 1
    p[32] = 0x50;
    p[33] = 0x18; // ACK|PSH
    put16(p, 34, 1024);
    std::memcpy(p.data() + 40, payload.data(), payload.size());
    // Pseudo-header: addresses, protocol, TCP length.
    std::uint32_t sum = 0;
    for (int i = 12; i < 20; i += 2)
        sum += (std::uint32_t{p[static_cast<std::size_t>(i)]} << 8) |
               p[static_cast<std::size_t>(i) + 1];
    sum += IPPROTO_TCP + static_cast<std::uint32_t>(p.size() - 20);
    put16(p, 36, checksum({p.data() + 20, p.size() - 20}, sum));
    return p;
}

// SAL base header start (flow IDs) and a tag, sent on a proto-144 raw socket.
Bytes sal_payload(std::uint32_t source_flow, std::uint32_t destination_flow, std::uint32_t tag) {
    Bytes b(12);
    for (int i = 0; i < 4; ++i) {
        b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(source_flow >> (24 - 8 * i));
        b[static_cast<std::size_t>(4 + i)] =
            static_cast<std::uint8_t>(destination_flow >> (24 - 8 * i));
        b[static_cast<std::size_t>(8 + i)] = static_cast<std::uint8_t>(tag >> (24 - 8 * i));
    }
    return b;
}

std::size_t ip_header_length(std::span<const std::uint8_t> p) {
    return (p[0] & 0x0f) * 4u;
}

std::uint32_t be32(std::span<const std::uint8_t> p, std::size_t at) {
    return (std::uint32_t{p[at]} << 24) | (std::uint32_t{p[at + 1]} << 16) |
           (std::uint32_t{p[at + 2]} << 8) | p[at + 3];
}

std::uint16_t be16(std::span<const std::uint8_t> p, std::size_t at) {
    return static_cast<std::uint16_t>((p[at] << 8) | p[at + 1]);
}

// SAL tag (bytes 8..11 after the IP header) or 0.
std::uint32_t sal_tag(std::span<const std::uint8_t> p) {
    if (p.size() < 20 || p[9] != kSalProtocol || p.size() < ip_header_length(p) + 12)
        return 0;
    return be32(p, ip_header_length(p) + 8);
}

std::string tcp_payload(std::span<const std::uint8_t> p) {
    if (p.size() < 40 || p[9] != IPPROTO_TCP)
        return {};
    const std::size_t data = ip_header_length(p) + ((p[ip_header_length(p) + 12] >> 4) * 4u);
    if (data > p.size())
        return {};
    return std::string(p.begin() + static_cast<std::ptrdiff_t>(data), p.end());
}

std::size_t count_svxlat_in_iptables_save() {
    const auto saved = run_command({"iptables-save"});
    std::size_t count = 0;
    for (auto at = saved.out.find("SVXLAT"); at != std::string::npos;
         at = saved.out.find("SVXLAT", at + 1))
        ++count;
    return count;
}

struct SeenPacket {
    int queue_index;
    Hook hook;
    std::uint32_t in_ifindex;
    std::uint32_t out_ifindex;
    Bytes bytes;
};

// Receives from the queues until done() or the time limit; decide() gives
// each packet its verdict. Verdicts are flushed after every receive.
template <class Decide, class Done>
void pump(std::vector<Queue*> queues, std::chrono::milliseconds limit, Decide decide, Done done) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (int round = 0; round < 100000 && !done() && std::chrono::steady_clock::now() < deadline;
         ++round) {
        std::vector<pollfd> fds;
        for (Queue* q : queues)
            fds.push_back({q->fd(), POLLIN, 0});
        ::poll(fds.data(), fds.size(), 20);
        for (std::size_t i = 0; i < queues.size(); ++i) {
            queues[i]->receive(
                [&](QueuedPacket& p) { decide(static_cast<int>(i), *queues[i], p); });
            queues[i]->flush();
        }
    }
}

// Datagrams read from a non-blocking socket until done() or the time limit.
template <class Done>
std::vector<Bytes> collect(int fd, std::chrono::milliseconds limit, Done done) {
    std::vector<Bytes> got;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (int round = 0; round < 100000 && !done(got) && std::chrono::steady_clock::now() < deadline;
         ++round) {
        pollfd pfd{fd, POLLIN, 0};
        if (::poll(&pfd, 1, 20) <= 0)
            continue;
        Bytes buffer(70000);
        const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (n > 0) {
            buffer.resize(static_cast<std::size_t>(n));
            got.push_back(std::move(buffer));
        }
    }
    return got;
}

class nfqNetns : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0)
            GTEST_SKIP() << "needs root: creates network namespaces and binds NFQUEUE queues";
        for (const char* program : {"ip", "iptables-restore", "iptables-save"})
            if (!svxlat::steer::find_program(program))
                GTEST_SKIP() << program << " is not installed";
        const std::string tag = "svxlat-nfqt-" + std::to_string(::getpid());
        name_a_ = tag + "-a";
        name_b_ = tag + "-b";
        const auto added = run_command({"ip", "netns", "add", name_a_});
        if (!added.ok())
            GTEST_SKIP() << "`ip netns` unavailable: " << added.describe("ip netns add");
        created_a_ = true;
        ASSERT_TRUE(ip({"netns", "add", name_b_}));
        created_b_ = true;
        ASSERT_TRUE(ip({"-n", name_a_, "link", "set", "lo", "up"}));
        ASSERT_TRUE(ip({"-n", name_b_, "link", "set", "lo", "up"}));
        ASSERT_TRUE(ip({"-n", name_a_, "link", "add", "va", "type", "veth", "peer", "name", "vb",
                        "netns", name_b_}));
        ASSERT_TRUE(
            ip({"-n", name_a_, "addr", "add", std::string(kAddressA) + "/24", "dev", "va"}));
        ASSERT_TRUE(
            ip({"-n", name_b_, "addr", "add", std::string(kAddressB) + "/24", "dev", "vb"}));
        ASSERT_TRUE(ip({"-n", name_a_, "link", "set", "va", "up"}));
        ASSERT_TRUE(ip({"-n", name_b_, "link", "set", "vb", "up"}));

        home_ = UniqueFd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
        ns_a_ = UniqueFd(::open(("/run/netns/" + name_a_).c_str(), O_RDONLY | O_CLOEXEC));
        ns_b_ = UniqueFd(::open(("/run/netns/" + name_b_).c_str(), O_RDONLY | O_CLOEXEC));
        ASSERT_GE(home_.get(), 0);
        ASSERT_GE(ns_a_.get(), 0);
        ASSERT_GE(ns_b_.get(), 0);
        ASSERT_EQ(::setns(ns_a_.get(), CLONE_NEWNET), 0) << std::strerror(errno);
        entered_ = true;
        va_index_ = ::if_nametoindex("va");
        ASSERT_NE(va_index_, 0u);
        warm_up_neighbours();
    }

    void TearDown() override {
        if (entered_)
            ::setns(home_.get(), CLONE_NEWNET);
        if (created_a_)
            run_command({"ip", "netns", "del", name_a_});
        if (created_b_)
            run_command({"ip", "netns", "del", name_b_});
    }

    static bool ip(std::vector<std::string> args) {
        args.insert(args.begin(), "ip");
        const auto result = run_command(args);
        if (!result.ok())
            ADD_FAILURE() << result.describe("ip");
        return result.ok();
    }

    // A socket in namespace B (the thread goes back to A at once).
    UniqueFd socket_in_b(int type, int protocol) {
        if (::setns(ns_b_.get(), CLONE_NEWNET) != 0)
            return UniqueFd();
        UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC, protocol));
        ::setns(ns_a_.get(), CLONE_NEWNET);
        return fd;
    }

    // One UDP datagram each way so ARP is resolved before bursts.
    void warm_up_neighbours() {
        UniqueFd from_a(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        UniqueFd from_b = socket_in_b(SOCK_DGRAM, 0);
        const auto to_b = socket_address(kAddressB, 9);
        const auto to_a = socket_address(kAddressA, 9);
        ::sendto(from_a.get(), "x", 1, 0, reinterpret_cast<const sockaddr*>(&to_b), sizeof to_b);
        ::sendto(from_b.get(), "x", 1, 0, reinterpret_cast<const sockaddr*>(&to_a), sizeof to_a);
        std::this_thread::sleep_for(200ms);
    }

    void send_sal_from_b(int fd, std::uint32_t source_flow, std::uint32_t destination_flow,
                         std::uint32_t tag) {
        const Bytes payload = sal_payload(source_flow, destination_flow, tag);
        const auto to = socket_address(kAddressA, 0);
        ASSERT_EQ(::sendto(fd, payload.data(), payload.size(), 0,
                           reinterpret_cast<const sockaddr*>(&to), sizeof to),
                  static_cast<ssize_t>(payload.size()))
            << std::strerror(errno);
    }

    SteeringSpec base_spec(std::uint16_t count) const {
        SteeringSpec spec;
        spec.queue_base = kBase;
        spec.queue_count = count;
        spec.skip_mark = kMark;
        spec.sal_inbound = {kIpA};
        return spec;
    }

    std::string name_a_, name_b_;
    bool created_a_ = false, created_b_ = false, entered_ = false;
    UniqueFd home_, ns_a_, ns_b_;
    unsigned va_index_ = 0;
};

} // namespace

TEST_F(nfqNetns, SteersToQueuesAndAppliesVerdicts) {
    SteeringSpec spec = base_spec(2);
    spec.tcp_inbound = {{kIpA, kPublicPort}};
    spec.tcp_service_outbound = {{kIpA, kServicePort}};
    {
        Steering steering(spec, Backend::iptables);
        ASSERT_NO_THROW(steering.install());
        EXPECT_GT(count_svxlat_in_iptables_save(), 0u);

        Queue q0({.queue_num = kBase});
        Queue q1({.queue_num = static_cast<std::uint16_t>(kBase + 1)});
        // A queue has one owner: a second bind fails clearly.
        try {
            Queue again({.queue_num = kBase});
            ADD_FAILURE() << "second bind of queue 100 succeeded";
        } catch (const std::system_error& e) {
            EXPECT_EQ(e.code().value(), EPERM); // the kernel's code for "owned by another"
            EXPECT_NE(std::string(e.what()).find("queue 100"), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("another socket owns"), std::string::npos)
                << e.what();
        }

        std::vector<SeenPacket> seen;
        std::map<std::uint32_t, int> sal_queue; // tag -> queue index
        // The default policy of every phase: SAL by tag, client port 40000
        // dropped, everything else accepted.
        auto decide = [&](int queue_index, Queue& q, QueuedPacket& p) {
            seen.push_back({queue_index, p.hook, p.in_ifindex, p.out_ifindex,
                            Bytes(p.payload.begin(), p.payload.end())});
            const std::uint32_t tag = sal_tag(p.payload);
            if (tag != 0) {
                sal_queue[tag] = queue_index;
                if (tag == 2) {
                    q.drop(p.id);
                } else if (tag == 3) {
                    Bytes rewritten(p.payload.begin(), p.payload.end());
                    rewritten.back() = 0xa3; // the tag's last byte
                    EXPECT_TRUE(q.accept_mangled(p.id, rewritten));
                } else {
                    q.accept(p.id);
                }
                return;
            }
            if (p.payload.size() >= 40 && p.payload[9] == IPPROTO_TCP &&
                be16(p.payload, ip_header_length(p.payload)) == 40000)
                q.drop(p.id);
            else
                q.accept(p.id);
        };

        // --- 1. SAL: destination flow ID chooses, or the source when it is 0.
        UniqueFd sal_rx(::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, kSalProtocol));
        UniqueFd sal_tx = socket_in_b(SOCK_RAW, kSalProtocol);
        ASSERT_GE(sal_rx.get(), 0);
        ASSERT_GE(sal_tx.get(), 0);
        send_sal_from_b(sal_tx.get(), 1, 3, 1); // dst 3 -> queue 101
        send_sal_from_b(sal_tx.get(), 1, 4, 2); // dst 4 -> queue 100 (dropped)
        send_sal_from_b(sal_tx.get(), 7, 0, 3); // src 7 -> queue 101 (mangled)
        send_sal_from_b(sal_tx.get(), 2, 0, 4); // src 2 -> queue 100
        pump({&q0, &q1}, 5s, decide, [&] { return sal_queue.size() >= 4; });
        ASSERT_EQ(sal_queue.size(), 4u);
        EXPECT_EQ(sal_queue[1], 1);
        EXPECT_EQ(sal_queue[2], 0);
        EXPECT_EQ(sal_queue[3], 1);
        EXPECT_EQ(sal_queue[4], 0);
        for (const auto& s : seen) {
            if (sal_tag(s.bytes) == 0)
                continue;
            EXPECT_EQ(s.hook, Hook::prerouting);
            EXPECT_EQ(s.in_ifindex, va_index_);
            EXPECT_EQ(s.bytes.size(), 20u + 12u);
        }
        // Accepted (1, 4) and mangled (3 -> 0xa3) arrive; dropped (2) does not.
        auto delivered = collect(sal_rx.get(), 2s,
                                 [](const std::vector<Bytes>& got) { return got.size() >= 3; });
        std::set<std::uint32_t> delivered_tags;
        for (const auto& packet : delivered)
            delivered_tags.insert(sal_tag(packet));
        EXPECT_EQ(delivered_tags, (std::set<std::uint32_t>{1, 0xa3, 4}));

        // --- 2. TCP to the public pair: the client's source port bit chooses.
        UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        const int one = 1;
        ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        const auto public_pair = socket_address(kAddressA, kPublicPort);
        ASSERT_EQ(::bind(listener.get(), reinterpret_cast<const sockaddr*>(&public_pair),
                         sizeof public_pair),
                  0);
        ASSERT_EQ(::listen(listener.get(), 16), 0);
        UniqueFd client_odd = socket_in_b(SOCK_STREAM | SOCK_NONBLOCK, 0);
        UniqueFd client_even = socket_in_b(SOCK_STREAM | SOCK_NONBLOCK, 0);
        const auto odd = socket_address(kAddressB, 40001);
        const auto even = socket_address(kAddressB, 40000);
        ASSERT_EQ(::bind(client_odd.get(), reinterpret_cast<const sockaddr*>(&odd), sizeof odd), 0);
        ASSERT_EQ(::bind(client_even.get(), reinterpret_cast<const sockaddr*>(&even), sizeof even),
                  0);
        ::connect(client_odd.get(), reinterpret_cast<const sockaddr*>(&public_pair),
                  sizeof public_pair);
        ::connect(client_even.get(), reinterpret_cast<const sockaddr*>(&public_pair),
                  sizeof public_pair);
        std::vector<std::uint16_t> accepted_ports;
        bool even_syn_seen = false;
        std::vector<UniqueFd> server_sides;
        pump({&q0, &q1}, 5s, decide, [&] {
            sockaddr_in peer{};
            socklen_t len = sizeof peer;
            const int fd = ::accept4(listener.get(), reinterpret_cast<sockaddr*>(&peer), &len,
                                     SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd >= 0) {
                server_sides.emplace_back(fd);
                accepted_ports.push_back(ntohs(peer.sin_port));
            }
            even_syn_seen = std::any_of(seen.begin(), seen.end(), [](const SeenPacket& s) {
                return s.bytes.size() >= 40 && s.bytes[9] == IPPROTO_TCP &&
                       be16(s.bytes, ip_header_length(s.bytes)) == 40000;
            });
            return !accepted_ports.empty() && even_syn_seen;
        });
        EXPECT_EQ(accepted_ports, (std::vector<std::uint16_t>{40001}));
        EXPECT_TRUE(even_syn_seen);
        std::size_t tcp_queued = 0;
        for (const auto& s : seen) {
            if (s.bytes.size() < 40 || s.bytes[9] != IPPROTO_TCP)
                continue;
            const std::size_t ihl = ip_header_length(s.bytes);
            if (be16(s.bytes, ihl + 2) != kPublicPort)
                continue;
            ++tcp_queued;
            const std::uint16_t sport = be16(s.bytes, ihl);
            EXPECT_EQ(s.queue_index, sport & 1) << "source port " << sport;
            EXPECT_EQ(s.hook, Hook::prerouting);
            EXPECT_EQ(s.in_ifindex, va_index_);
        }
        EXPECT_GE(tcp_queued, 3u); // SYN 40000, SYN and ACK 40001
        // The dropped SYN never completed.
        pollfd even_poll{client_even.get(), POLLOUT, 0};
        EXPECT_EQ(::poll(&even_poll, 1, 0), 0) << "client on port 40000 connected";

        // --- 3. Output steering and the injector's mark.
        UniqueFd tcp_rx_b = socket_in_b(SOCK_RAW | SOCK_NONBLOCK, IPPROTO_TCP);
        ASSERT_GE(tcp_rx_b.get(), 0);
        Injector injector({.mark = kMark});
        UniqueFd unmarked(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
        ASSERT_GE(unmarked.get(), 0);
        const Bytes marked_packet = tcp_packet(kAddressA, kServicePort, kAddressB, 5555, "INJ1");
        injector.add(marked_packet);
        EXPECT_EQ(injector.flush(), 1u);
        const auto to_b = socket_address(kAddressB, 0);
        for (auto [port, text] :
             {std::pair{std::uint16_t{5555}, "INJ2"}, {std::uint16_t{5554}, "INJ3"}}) {
            const Bytes packet = tcp_packet(kAddressA, kServicePort, kAddressB, port, text);
            ASSERT_EQ(::sendto(unmarked.get(), packet.data(), packet.size(), 0,
                               reinterpret_cast<const sockaddr*>(&to_b), sizeof to_b),
                      static_cast<ssize_t>(packet.size()));
        }
        std::map<std::string, int> injected_queue;
        std::map<std::string, Hook> injected_hook;
        std::map<std::string, std::uint32_t> injected_out;
        pump(
            {&q0, &q1}, 3s,
            [&](int queue_index, Queue& q, QueuedPacket& p) {
                const std::string text = tcp_payload(p.payload);
                if (text.starts_with("INJ")) {
                    injected_queue[text] = queue_index;
                    injected_hook[text] = p.hook;
                    injected_out[text] = p.out_ifindex;
                }
                decide(queue_index, q, p);
            },
            [&] { return injected_queue.size() >= 2; });
        // Keep listening a little: a marked packet must never show up.
        pump({&q0, &q1}, 300ms, decide, [] { return false; });
        EXPECT_EQ(injected_queue.count("INJ1"), 0u) << "marked packet was queued";
        ASSERT_EQ(injected_queue.count("INJ2"), 1u);
        ASSERT_EQ(injected_queue.count("INJ3"), 1u);
        EXPECT_EQ(injected_queue["INJ2"], 1); // destination port 5555 is odd
        EXPECT_EQ(injected_queue["INJ3"], 0);
        EXPECT_EQ(injected_hook["INJ2"], Hook::local_out);
        EXPECT_EQ(injected_out["INJ2"], va_index_);
        auto arrived = collect(tcp_rx_b.get(), 3s, [](const std::vector<Bytes>& got) {
            std::set<std::string> texts;
            for (const auto& g : got)
                if (tcp_payload(g).starts_with("INJ"))
                    texts.insert(tcp_payload(g));
            return texts.size() >= 3;
        });
        std::set<std::string> arrived_texts;
        for (const auto& packet : arrived)
            if (tcp_payload(packet).starts_with("INJ"))
                arrived_texts.insert(tcp_payload(packet));
        EXPECT_EQ(arrived_texts, (std::set<std::string>{"INJ1", "INJ2", "INJ3"}));

        // --- 4. Counters.
        EXPECT_EQ(injector.counter(InjectorCounter::sent), 1u);
        EXPECT_EQ(injector.counter(InjectorCounter::bytes), marked_packet.size());
        EXPECT_EQ(injector.counter(InjectorCounter::err_other), 0u);
        std::size_t seen_q0 = 0, seen_q1 = 0;
        for (const auto& s : seen)
            (s.queue_index == 0 ? seen_q0 : seen_q1)++;
        EXPECT_EQ(q0.counter(QueueCounter::packets), seen_q0);
        EXPECT_EQ(q1.counter(QueueCounter::packets), seen_q1);
        EXPECT_GE(q0.counter(QueueCounter::dropped), 2u); // SAL tag 2, SYN from 40000
        EXPECT_EQ(q1.counter(QueueCounter::mangled), 1u);
        EXPECT_EQ(q0.counter(QueueCounter::mangled), 0u);
        for (Queue* q : {&q0, &q1}) {
            EXPECT_EQ(q->counter(QueueCounter::enobufs), 0u);
            EXPECT_EQ(q->counter(QueueCounter::recv_errors), 0u);
            EXPECT_EQ(q->counter(QueueCounter::verdict_send_errors), 0u);
            EXPECT_EQ(q->counter(QueueCounter::verdict_rejected), 0u);
            EXPECT_EQ(q->counter(QueueCounter::accepted) + q->counter(QueueCounter::dropped) +
                          q->counter(QueueCounter::mangled),
                      q->counter(QueueCounter::packets));
            const auto kernel = q->kernel_stats();
            ASSERT_TRUE(kernel) << "no /proc line for queue " << q->queue_num();
            EXPECT_NE(kernel->portid, 0u);
            EXPECT_EQ(kernel->copy_mode, 2u); // NFQNL_COPY_PACKET
            EXPECT_EQ(kernel->queue_dropped, 0u);
            EXPECT_EQ(kernel->user_dropped, 0u);
            EXPECT_EQ(kernel->queue_total, 0u); // every packet got its verdict
        }
        EXPECT_GE(q0.rcvbuf_bytes(), 16 << 20); // SO_RCVBUFFORCE took effect

        steering.remove();
        EXPECT_FALSE(steering.installed());
    }
    EXPECT_EQ(count_svxlat_in_iptables_save(), 0u);
}

TEST_F(nfqNetns, BatchedVerdictsNeverCoverUndecidedPackets) {
    Steering steering(base_spec(2), Backend::iptables);
    ASSERT_NO_THROW(steering.install());
    Queue q0({.queue_num = kBase});
    Queue q1({.queue_num = static_cast<std::uint16_t>(kBase + 1)});
    UniqueFd sal_rx(::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, kSalProtocol));
    UniqueFd sal_tx = socket_in_b(SOCK_RAW, kSalProtocol);
    ASSERT_GE(sal_tx.get(), 0);

    // All queued before the first receive, so receives return bursts.
    constexpr std::uint32_t kPackets = 200;
    for (std::uint32_t tag = 1; tag <= kPackets; ++tag)
        send_sal_from_b(sal_tx.get(), 5, 2 * tag, tag); // even destination: queue 100
    std::this_thread::sleep_for(100ms);

    auto deferred = [](std::uint32_t tag) { return tag == 50 || tag == 120; };
    auto dropped = [](std::uint32_t tag) { return tag % 10 == 3; };
    std::vector<std::uint32_t> deferred_ids;
    std::uint32_t received = 0;
    bool wrong_queue = false;
    pump(
        {&q0, &q1}, 5s,
        [&](int queue_index, Queue& q, QueuedPacket& p) {
            ++received;
            wrong_queue |= queue_index != 0;
            const std::uint32_t tag = sal_tag(p.payload);
            if (deferred(tag))
                deferred_ids.push_back(p.id);
            else if (dropped(tag))
                q.drop(p.id);
            else
                q.accept(p.id);
        },
        [&] { return received >= kPackets; });
    ASSERT_EQ(received, kPackets);
    EXPECT_FALSE(wrong_queue);
    // The deferred packets get their verdict last: a drop.
    for (std::uint32_t id : deferred_ids)
        q0.drop(id);
    EXPECT_TRUE(q0.flush());

    std::set<std::uint32_t> expected;
    for (std::uint32_t tag = 1; tag <= kPackets; ++tag)
        if (!deferred(tag) && !dropped(tag))
            expected.insert(tag);
    auto delivered = collect(sal_rx.get(), 3s, [&](const std::vector<Bytes>& got) {
        return got.size() >= expected.size();
    });
    // A stray batch verdict would deliver a deferred or dropped packet late.
    auto late = collect(sal_rx.get(), 200ms, [](const std::vector<Bytes>&) { return false; });
    delivered.insert(delivered.end(), late.begin(), late.end());
    std::set<std::uint32_t> delivered_tags;
    for (const auto& packet : delivered)
        delivered_tags.insert(sal_tag(packet));
    EXPECT_EQ(delivered_tags, expected);
    EXPECT_EQ(delivered.size(), expected.size());
    EXPECT_GE(q0.counter(QueueCounter::verdict_batches), 1u);
    EXPECT_LT(q0.counter(QueueCounter::verdict_messages), kPackets);
    EXPECT_EQ(q0.counter(QueueCounter::verdict_rejected), 0u);
    const auto kernel = q0.kernel_stats();
    ASSERT_TRUE(kernel);
    EXPECT_EQ(kernel->queue_total, 0u);
}

// Section 12 step 1 over NFQUEUE: the packet type reaches the engine only as
// the mark the steering rules set before queueing.
TEST_F(nfqNetns, BroadcastAndMulticastFramesToTheRouterCarryTheBroadcastMark) {
    SteeringSpec spec = base_spec(1);
    spec.broadcast_mark = kBroadcastMark;
    spec.router_inbound = {kIpA};
    Steering steering(spec, Backend::iptables);
    ASSERT_NO_THROW(steering.install());
    Queue queue({.queue_num = kBase});
    UniqueFd sal_tx = socket_in_b(SOCK_RAW, kSalProtocol);
    ASSERT_GE(sal_tx.get(), 0);

    std::map<std::uint32_t, std::uint32_t> mark_of_tag;
    auto decide = [&](int, Queue& q, QueuedPacket& p) {
        if (const std::uint32_t tag = sal_tag(p.payload))
            mark_of_tag[tag] = p.mark;
        q.drop(p.id);
    };
    // B's neighbour entry for A decides how B addresses its frames to A.
    struct Frame {
        const char* lladdr; // nullptr: the entry removed, ARP resolves A's own
        std::uint32_t tag;
        std::uint32_t want_mark;
    };
    const Frame frames[] = {{"ff:ff:ff:ff:ff:ff", 1, kBroadcastMark},
                            {"01:00:5e:00:00:01", 2, kBroadcastMark},
                            {nullptr, 3, 0}};
    for (const Frame& frame : frames) {
        if (frame.lladdr)
            ASSERT_TRUE(ip({"-n", name_b_, "neigh", "replace", kAddressA, "lladdr", frame.lladdr,
                            "dev", "vb", "nud", "permanent"}));
        else
            ASSERT_TRUE(ip({"-n", name_b_, "neigh", "del", kAddressA, "dev", "vb"}));
        send_sal_from_b(sal_tx.get(), 1, 0, frame.tag);
        const std::string destination = frame.lladdr ? frame.lladdr : "A's own link address";
        pump({&queue}, 5s, decide, [&] { return mark_of_tag.contains(frame.tag); });
        ASSERT_TRUE(mark_of_tag.contains(frame.tag)) << "frame to " << destination;
        EXPECT_EQ(mark_of_tag[frame.tag], frame.want_mark) << "frame to " << destination;
    }
    steering.remove();
    EXPECT_EQ(count_svxlat_in_iptables_save(), 0u);
}

TEST_F(nfqNetns, FailOpenAndFailClosedWithoutAProgram) {
    UniqueFd sal_rx(::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, kSalProtocol));
    UniqueFd sal_tx = socket_in_b(SOCK_RAW, kSalProtocol);
    ASSERT_GE(sal_tx.get(), 0);
    for (bool fail_open : {false, true}) {
        SteeringSpec spec = base_spec(1);
        spec.fail_open = fail_open;
        Steering steering(spec, Backend::iptables);
        ASSERT_NO_THROW(steering.install());
        // No queue is bound: bypass accepts, otherwise the packet is dropped.
        send_sal_from_b(sal_tx.get(), 1, 1, fail_open ? 11 : 10);
        auto got = collect(sal_rx.get(), fail_open ? 2000ms : 500ms,
                           [](const std::vector<Bytes>& g) { return !g.empty(); });
        EXPECT_EQ(got.size(), fail_open ? 1u : 0u) << "fail_open=" << fail_open;
        steering.remove();
    }
    EXPECT_EQ(count_svxlat_in_iptables_save(), 0u);
}

TEST_F(nfqNetns, CleanupStaleRemovesOnlyLeftovers) {
    // Someone else's rule in the same table must survive.
    ASSERT_TRUE(run_command({"iptables-restore", "-w", "--noflush"},
                            "*raw\n-A PREROUTING -p udp --dport 7 -j ACCEPT\nCOMMIT\n")
                    .ok());
    SteeringSpec spec = base_spec(2);
    spec.tcp_inbound = {{kIpA, kPublicPort}};
    spec.icmp_inbound = true;
    {
        Steering crashed(spec, Backend::iptables);
        crashed.install();
        crashed.abandon(); // as if the process had died
    }
    EXPECT_GT(count_svxlat_in_iptables_save(), 0u);
    Steering second(spec, Backend::iptables);
    EXPECT_THROW(second.install(), svxlat::steer::SteeringError); // leftovers block it whole
    EXPECT_FALSE(second.installed());

    const std::string report = Steering::cleanup_stale();
    EXPECT_NE(report.find("SVXLAT-PRE"), std::string::npos) << report;
    EXPECT_EQ(count_svxlat_in_iptables_save(), 0u);
    EXPECT_EQ(Steering::cleanup_stale(), ""); // nothing left the second time

    ASSERT_NO_THROW(second.install());
    second.remove();
    EXPECT_EQ(count_svxlat_in_iptables_save(), 0u);
    const auto saved = run_command({"iptables-save", "-t", "raw"});
    EXPECT_NE(saved.out.find("-A PREROUTING -p udp -m udp --dport 7 -j ACCEPT"), std::string::npos)
        << saved.out;
}

TEST_F(nfqNetns, ReplaceSwapsRulesInOneCommit) {
    SteeringSpec first = base_spec(2);
    first.tcp_inbound = {{kIpA, kPublicPort}};
    Steering steering(first, Backend::iptables);
    ASSERT_NO_THROW(steering.install());
    SteeringSpec second = base_spec(4);
    second.tcp_service_outbound = {{kIpA, kServicePort}};
    second.icmp_inbound = true;
    ASSERT_NO_THROW(steering.replace(second));
    const auto saved = run_command({"iptables-save", "-t", "raw"}).out;
    EXPECT_NE(saved.find("SVXLAT-ICMP"), std::string::npos) << saved;
    EXPECT_NE(saved.find("--queue-num 103"), std::string::npos) << saved;
    EXPECT_EQ(saved.find("--dport 8080"), std::string::npos) << saved;
    // One jump per built-in chain, not two.
    EXPECT_EQ(saved.find("-j SVXLAT-PRE"), saved.rfind("-j SVXLAT-PRE")) << saved;
    // An invalid spec changes nothing.
    SteeringSpec invalid = second;
    invalid.queue_count = 3;
    EXPECT_THROW(steering.replace(invalid), std::invalid_argument);
    EXPECT_EQ(steering.spec().queue_count, 4);
    steering.remove();
    EXPECT_EQ(count_svxlat_in_iptables_save(), 0u);
}

TEST_F(nfqNetns, NftProbeLeavesNothingBehind) {
    const bool supported = svxlat::steer::nft_queue_supported();
    EXPECT_EQ(svxlat::steer::detect_backend(), supported ? Backend::nft : Backend::iptables);
    if (svxlat::steer::find_program("nft")) {
        const auto tables = run_command({"nft", "list", "tables"});
        EXPECT_EQ(tables.out.find("svxlat_probe"), std::string::npos) << tables.out;
    }
    if (!supported)
        GTEST_SKIP() << "this kernel refuses nft's queue statement (CONFIG_NFT_QUEUE unset): the "
                        "nft backend cannot be installed; iptables was chosen";
    SteeringSpec spec = base_spec(2);
    spec.tcp_inbound = {{kIpA, kPublicPort}};
    Steering steering(spec, Backend::nft);
    ASSERT_NO_THROW(steering.install());
    EXPECT_TRUE(run_command({"nft", "list", "table", "ip", "svxlat"}).ok());
    steering.remove();
    EXPECT_FALSE(run_command({"nft", "list", "table", "ip", "svxlat"}).ok());
}
